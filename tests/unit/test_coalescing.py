"""``RefreshCoalescer``: single flight per key plus a short memory of successes."""

from __future__ import annotations

import asyncio
import re

import pytest

from auth0_web._coalescing import RefreshCoalescer, RefreshResult
from auth0_web.oidc._token import TokenResponse

pytestmark = pytest.mark.anyio


def result(token: str = "at") -> RefreshResult:
    return RefreshResult(
        tokens=TokenResponse(
            access_token=token,
            token_type="Bearer",
            expires_in=60,
            id_token=None,
            refresh_token=None,
            scope=None,
            raw={},
        ),
        claims=None,
        issued_at=0,
    )


def presenting(factory):
    """Adapt a no-argument factory to ``run``'s refresh(presented_token) callback."""
    return lambda _presented: factory()


class Factory:
    """Counts calls; each call sleeps ``delay`` then returns a fresh result (or raises)."""

    def __init__(self, delay: float = 0.05, error: BaseException | None = None) -> None:
        self.delay = delay
        self.error = error
        self.calls = 0
        self.started = asyncio.Event()

    async def __call__(self) -> RefreshResult:
        self.calls += 1
        self.started.set()
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return result(f"at-{self.calls}")


async def test_concurrent_runs_with_one_key_share_one_call() -> None:
    coalescer = RefreshCoalescer()
    factory = Factory()
    results = await asyncio.gather(
        *(coalescer.run("k", None, "", presenting(factory)) for _ in range(50))
    )
    assert factory.calls == 1
    assert coalescer.calls == 1
    assert all(r is results[0] for r in results)
    assert results[0].tokens.access_token == "at-1"


async def test_different_keys_run_separately() -> None:
    coalescer = RefreshCoalescer()
    one, two = Factory(), Factory()
    results = await asyncio.gather(
        *(coalescer.run("k1", None, "", presenting(one)) for _ in range(10)),
        *(coalescer.run("k2", None, "", presenting(two)) for _ in range(10)),
    )
    assert one.calls == 1 and two.calls == 1
    assert coalescer.calls == 2
    assert results[0] is not results[10]
    assert {id(r) for r in results[:10]} == {id(results[0])}
    assert {id(r) for r in results[10:]} == {id(results[10])}


async def test_failure_reaches_every_waiter_and_is_not_remembered() -> None:
    coalescer = RefreshCoalescer()
    boom = RuntimeError("token endpoint down")
    factory = Factory(error=boom)
    outcomes = await asyncio.gather(
        *(coalescer.run("k", None, "", presenting(factory)) for _ in range(20)),
        return_exceptions=True,
    )
    assert factory.calls == 1
    assert all(o is boom for o in outcomes), outcomes
    # Not remembered: the next call tries again.
    factory.error = None
    again = await coalescer.run("k", None, "", presenting(factory))
    assert factory.calls == 2
    assert again.tokens.access_token == "at-2"


async def test_failure_then_failure_each_call_runs_the_factory() -> None:
    coalescer = RefreshCoalescer()
    factory = Factory(delay=0, error=ValueError("nope"))
    for expected in (1, 2, 3):
        with pytest.raises(ValueError):
            await coalescer.run("k", None, "", presenting(factory))
        assert factory.calls == expected


async def test_success_is_remembered_then_forgotten() -> None:
    coalescer = RefreshCoalescer(remember_for=0.2)
    factory = Factory(delay=0)
    first = await coalescer.run("k", None, "", presenting(factory))
    second = await coalescer.run("k", None, "", presenting(factory))
    assert factory.calls == 1
    assert second is first
    await asyncio.sleep(0.3)
    third = await coalescer.run("k", None, "", presenting(factory))
    assert factory.calls == 2
    assert third is not first
    assert third.tokens.access_token == "at-2"


async def test_max_entries_evicts_the_oldest() -> None:
    coalescer = RefreshCoalescer(max_entries=3)
    factory = Factory(delay=0)
    for i in range(5):
        await coalescer.run(f"k{i}", None, "", presenting(factory))
    assert factory.calls == 5
    for key in ("k2", "k3", "k4"):  # still remembered
        await coalescer.run(key, None, "", presenting(factory))
    assert factory.calls == 5
    await coalescer.run("k0", None, "", presenting(factory))  # evicted: runs again
    assert factory.calls == 6
    await coalescer.run("k1", None, "", presenting(factory))
    assert factory.calls == 7


async def test_a_cancelled_waiter_does_not_cancel_the_refresh() -> None:
    coalescer = RefreshCoalescer()
    factory = Factory(delay=0.1)
    leader = asyncio.create_task(coalescer.run("k", None, "", presenting(factory)))
    await factory.started.wait()
    quitter = asyncio.create_task(coalescer.run("k", None, "", presenting(factory)))
    stayer = asyncio.create_task(coalescer.run("k", None, "", presenting(factory)))
    await asyncio.sleep(0.01)
    quitter.cancel()
    done = await asyncio.gather(leader, stayer)
    assert quitter.cancelled()
    assert done[0] is done[1]
    assert factory.calls == 1


async def test_a_cancelled_leader_does_not_cancel_other_waiters() -> None:
    """The request that started the refresh goes away (client disconnect). Another request
    of the same session, waiting on that refresh, was not cancelled: it must not end with
    ``CancelledError`` (which cancels its own task); it should get a result or an
    ordinary error."""
    coalescer = RefreshCoalescer()
    factory = Factory(delay=0.2)
    leader = asyncio.create_task(coalescer.run("k", None, "", presenting(factory)))
    await factory.started.wait()
    waiter = asyncio.create_task(coalescer.run("k", None, "", presenting(factory)))
    await asyncio.sleep(0.01)
    leader.cancel()
    outcome: object
    try:
        outcome = await asyncio.wait_for(waiter, timeout=2)
    except asyncio.CancelledError as exc:
        outcome = exc
    except Exception as exc:  # an ordinary error is acceptable
        outcome = exc
    assert not isinstance(outcome, asyncio.CancelledError), (
        "a waiter was cancelled because another request sharing its refresh was cancelled"
    )
    assert not waiter.cancelled()


async def test_a_new_run_after_completion_is_not_in_flight() -> None:
    coalescer = RefreshCoalescer(remember_for=0)
    factory = Factory(delay=0)
    await coalescer.run("k", None, "", presenting(factory))
    await coalescer.run("k", None, "", presenting(factory))
    assert factory.calls == 2


def test_key_depends_on_refresh_token_audience_and_scope() -> None:
    base = RefreshCoalescer.key("rt-1", "https://a", "openid read")
    assert base == RefreshCoalescer.key("rt-1", "https://a", "openid read")
    variants = {
        RefreshCoalescer.key("rt-2", "https://a", "openid read"),
        RefreshCoalescer.key("rt-1", "https://b", "openid read"),
        RefreshCoalescer.key("rt-1", None, "openid read"),
        RefreshCoalescer.key("rt-1", "https://a", "openid"),
        RefreshCoalescer.key("rt-1", "https://a", ""),
    }
    assert base not in variants
    assert len(variants) == 5


def test_key_fields_do_not_run_into_each_other() -> None:
    assert RefreshCoalescer.key("rt", "https://a", "b") != RefreshCoalescer.key(
        "rt", "https://", "ab"
    )
    assert RefreshCoalescer.key("rt-a", "", "x") != RefreshCoalescer.key("rt-", "a", "x")


def test_key_is_a_hex_hash_without_the_refresh_token() -> None:
    refresh_token = "v1.MRrefreshTOKENvalue_0123456789abcdef"
    key = RefreshCoalescer.key(refresh_token, "https://a", "openid")
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert refresh_token not in key
    assert refresh_token.lower() not in key
    assert "0123456789abcdef" not in key
