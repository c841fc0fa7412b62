"""The decoded-session cache and the rolling write interval (the per-request fast path).

The cache may only make reads cheaper, never change what is accepted: every expiry rule is
checked on a hit, each caller gets an independent copy, tampered or retired-secret cookies
behave as before, and memory is bounded.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_web import Auth0Client, InvalidConfigurationError, SessionConfig
from auth0_web._http import CookieOptions, Response, parse_cookie_header
from auth0_web.session._cache import DecodedSessionCache, copy_session
from auth0_web.session._codec import CookieCodec
from auth0_web.session._model import (
    AccessTokenSet,
    ConnectionTokenSet,
    SessionData,
    SessionInternal,
    TokenSet,
)
from auth0_web.session._stateless import StatelessSessionStore

SECRET = "cache-secret-0123456789abcdef0123456789abcdef"
OLD_SECRET = "old-secret-0123456789abcdef0123456789abcdef01"
NOW = 1_800_000_000


def full_session(now: int = NOW) -> SessionData:
    return SessionData(
        user={"sub": "auth0|alice", "roles": ["reader"], "profile": {"langs": ["en"]}},
        token_set=TokenSet(
            access_token="at",
            expires_at=now + 3600,
            id_token="idt",
            refresh_token="rt",
            scope="openid",
            requested_scope="openid",
            audience="https://api",
            token_type="Bearer",
            extra={"nested": {"x": [1]}},
        ),
        internal=SessionInternal(sid="sid", created_at=now, extra={"iss": "https://i/"}),
        access_tokens=[AccessTokenSet("at2", now + 60, "https://other", "read", "read", "DPoP")],
        extra={"cart": [{"id": 1}]},
        connection_token_sets=[ConnectionTokenSet("ct", now + 60, "google", "s", "h")],
    )


def store(*secrets: str, **session: Any) -> StatelessSessionStore:
    return StatelessSessionStore(SessionConfig(**session), CookieCodec(list(secrets or [SECRET])))


def cookie_header(s: StatelessSessionStore, session: SessionData, now: int = NOW) -> str:
    response = Response()
    s.write(response, session, {}, now, CookieOptions())
    return "; ".join(v.split(";", 1)[0] for _, v in response.cookies)


def no_connections(session: SessionData) -> SessionData:
    return dataclasses.replace(session, connection_token_sets=[])


# -- copy_session -----------------------------------------------------------------------


def test_copy_session_knows_every_field() -> None:
    """A field added to the model must be added to copy_session too (this fails first)."""
    assert [f.name for f in dataclasses.fields(SessionData)] == [
        "user",
        "token_set",
        "internal",
        "access_tokens",
        "extra",
        "connection_token_sets",
    ]
    for cls, count in ((TokenSet, 9), (SessionInternal, 4), (AccessTokenSet, 6)):
        assert len(dataclasses.fields(cls)) == count, cls
    assert len(dataclasses.fields(ConnectionTokenSet)) == 5


def test_copy_session_is_equal_and_shares_nothing_mutable() -> None:
    original = full_session()
    copy = copy_session(original)
    assert copy == original and copy.to_dict() == original.to_dict()
    copy.user["roles"].append("admin")
    copy.user["profile"]["langs"].append("fr")
    copy.token_set.extra["nested"]["x"].append(2)
    copy.internal.extra["iss"] = "changed"
    copy.access_tokens[0].access_token = "changed"
    copy.extra["cart"][0]["id"] = 99
    copy.connection_token_sets[0].access_token = "changed"
    assert original == full_session()


# -- the cache --------------------------------------------------------------------------


def test_a_repeated_cookie_is_not_decrypted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    s = store()
    header = cookie_header(s, no_connections(full_session()))
    opened: list[str] = []
    real_open = CookieCodec.open_with_key

    def counting(codec: CookieCodec, value: str) -> Any:
        opened.append(value)
        return real_open(codec, value)

    monkeypatch.setattr(CookieCodec, "open_with_key", counting)
    first = s.read_header(header, NOW)
    second = s.read_header(header, NOW)
    third = s.read_with_plaintext(parse_cookie_header(header), NOW)  # the value-keyed cache
    assert first is not None and second is not None and third is not None
    assert len(opened) == 1
    assert first.session == second.session == third.session
    # Each caller owns its copy: mutating one is invisible to the next request.
    first.session.user["roles"].append("admin")
    assert s.read_header(header, NOW).session.user["roles"] == ["reader"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("later", "session_options"),
    [
        (3600 + 16, {"inactivity_duration": 3600}),  # the JWE exp (plus the codec's leeway)
        (7200, {"rolling": False, "absolute_duration": 7200}),  # created_at + absolute
    ],
)
def test_expiry_is_checked_on_every_hit(later: int, session_options: dict[str, Any]) -> None:
    s = store(**session_options)
    header = cookie_header(s, no_connections(full_session()))
    assert s.read_header(header, NOW) is not None
    assert s.read_header(header, NOW + later - 30) is not None
    assert s.read_header(header, NOW + later) is None
    assert s.read_with_plaintext(parse_cookie_header(header), NOW + later) is None


def test_the_upstream_ceiling_is_checked_on_a_hit() -> None:
    s = store()
    session = no_connections(full_session())
    session.internal.session_expires_at = NOW + 600
    header = cookie_header(s, session)
    assert s.read_header(header, NOW) is not None
    assert s.read_header(header, NOW + 600 - 30) is None  # reached 30 s early, as on a miss


def test_tampered_and_foreign_cookies_are_never_cached() -> None:
    s = store()
    header = cookie_header(s, no_connections(full_session()))
    name, value = header.split("; ")[0].split("=", 1)
    tampered = f"{name}={value[:-3]}AAA"
    assert s.read_header(tampered, NOW) is None
    foreign = cookie_header(store(OLD_SECRET + "x"), no_connections(full_session()))
    assert s.read_header(foreign, NOW) is None
    assert len(s.header_cache) == 0 and len(s.cache) == 0


def test_sessions_with_connection_cookies_bypass_the_cache() -> None:
    """The ``__FC_*`` cookies are separate JWEs with their own expiry: read them each time."""
    s = store()
    header = cookie_header(s, full_session())
    assert "__FC_0=" in header
    found = s.read_header(header, NOW)
    assert found is not None and len(found.session.connection_token_sets) == 1
    assert len(s.header_cache) == 0 and len(s.cache) == 0


def test_a_retired_secret_is_read_but_marked_for_re_issue() -> None:
    s = store(SECRET, OLD_SECRET)
    old = cookie_header(store(OLD_SECRET), no_connections(full_session()))
    new = cookie_header(s, no_connections(full_session()))
    for _ in range(2):  # a miss, then a hit
        old_read = s.read_header(old, NOW)
        new_read = s.read_header(new, NOW)
        assert old_read is not None and old_read.expires_at is None
        assert new_read is not None and new_read.expires_at is not None


def test_the_cache_is_bounded() -> None:
    cache = DecodedSessionCache(max_entries=3)
    s = store()
    s.header_cache = cache
    headers = []
    for i in range(10):
        session = no_connections(full_session())
        session.user["sub"] = f"user-{i}"
        headers.append(cookie_header(s, session))
        assert s.read_header(headers[-1], NOW) is not None
        assert len(cache) <= 3
    # The newest stay; an evicted one is simply decoded again.
    assert s.read_header(headers[0], NOW).session.user["sub"] == "user-0"  # type: ignore[union-attr]


# -- the rolling write interval ---------------------------------------------------------


def app_and_client(**session: Any) -> tuple[Any, Auth0Client, list[float]]:
    clock = [float(NOW)]
    auth0 = Auth0Client(
        domain="tenant.example.com",
        client_id="cache-app",
        client_secret="cache-app-secret",
        secret=[SECRET, OLD_SECRET],
        app_base_url="http://testserver",
        session=session,
        clock=lambda: clock[0],
    )

    async def home(request: Request) -> JSONResponse:
        found = await auth0.get_session()
        if found is not None and request.query_params.get("update"):
            found.extra["n"] = request.query_params["update"]
            await auth0.update_session(found)
        return JSONResponse({"user": found.user["sub"] if found else None})

    return auth0.middleware(Starlette(routes=[Route("/", home)])), auth0, clock


async def get(app: Any, header: str, path: str = "/") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers={"cookie": header})


def written_exp(response: httpx.Response) -> int | None:
    values = [v for v in response.headers.get_list("set-cookie") if v.startswith("__session=")]
    if not values:
        return None
    codec = CookieCodec([SECRET])
    payload = codec.decrypt(values[0].split(";", 1)[0].split("=", 1)[1], now=NOW)
    assert payload is not None
    return int(payload["exp"])


@pytest.mark.anyio
async def test_a_fresh_cookie_is_not_re_issued_until_the_interval_has_passed() -> None:
    app, auth0, clock = app_and_client(inactivity_duration=3600)
    header = cookie_header(auth0._rt.sessions, no_connections(full_session()))  # type: ignore[arg-type]
    response = await get(app, header)
    assert response.json() == {"user": "auth0|alice"}
    assert written_exp(response) is None
    assert "no-store" in response.headers["cache-control"]  # still kept out of caches
    clock[0] += 59
    assert written_exp(await get(app, header)) is None
    clock[0] += 1  # 60 s: the default interval
    assert written_exp(await get(app, header)) == NOW + 60 + 3600


@pytest.mark.anyio
async def test_the_interval_is_at_most_a_tenth_of_the_inactivity_duration() -> None:
    app, auth0, clock = app_and_client(inactivity_duration=100, rolling_write_interval=60)
    header = cookie_header(auth0._rt.sessions, no_connections(full_session()))  # type: ignore[arg-type]
    clock[0] += 9
    assert written_exp(await get(app, header)) is None
    clock[0] += 1
    assert written_exp(await get(app, header)) == NOW + 10 + 100


@pytest.mark.anyio
async def test_interval_zero_re_issues_on_every_response() -> None:
    app, auth0, _ = app_and_client(rolling_write_interval=0)
    header = cookie_header(auth0._rt.sessions, no_connections(full_session()))  # type: ignore[arg-type]
    assert written_exp(await get(app, header)) is not None


@pytest.mark.anyio
async def test_app_writes_and_retired_secrets_are_never_delayed() -> None:
    app, auth0, _ = app_and_client()
    header = cookie_header(auth0._rt.sessions, no_connections(full_session()))  # type: ignore[arg-type]
    assert written_exp(await get(app, header, "/?update=1")) is not None
    old = cookie_header(store(OLD_SECRET), no_connections(full_session()))
    response = await get(app, old)
    assert response.json() == {"user": "auth0|alice"}
    assert written_exp(response) is not None  # migrated to the current secret at once


@pytest.mark.parametrize("bad", [-1, 1.5, True, "60"])
def test_the_interval_is_validated(bad: object) -> None:
    with pytest.raises(InvalidConfigurationError, match="rolling_write_interval"):
        Auth0Client(
            domain="tenant.example.com",
            client_id="x",
            client_secret="y",
            secret=SECRET,
            app_base_url="http://testserver",
            session={"rolling_write_interval": bad},
        )


def test_time_is_not_used_by_the_cache() -> None:
    """The cache decides with the caller's ``now`` only (the SDK's clock), never time.time."""
    s = store()
    header = cookie_header(s, no_connections(full_session(int(time.time()) - 10**6)), NOW)
    assert s.read_header(header, NOW) is None  # created long ago: absolute duration over
