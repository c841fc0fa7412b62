"""The transaction cookie: naming, format, load checks, eviction and bulk deletion."""

from __future__ import annotations

import re

import pytest

from auth0_web._config import TransactionCookieConfig
from auth0_web._http import CookieOptions, Response
from auth0_web.oidc._authorize import random_token
from auth0_web.session._codec import CookieCodec
from auth0_web.session._transaction import (
    MAX_TXN_BYTES,
    TransactionState,
    TransactionStore,
    is_valid_state,
)

SECRET = "transaction-test-secret-0123456789abcdef0123"
NOW = 1_700_000_000
OPTIONS = CookieOptions()
STATE_A = "A" * 43
STATE_B = "B" * 43


def make_store(*, parallel: bool = True, **config: object) -> TransactionStore:
    cfg = TransactionCookieConfig(**config)  # type: ignore[arg-type]
    return TransactionStore(cfg, CookieCodec([SECRET]), parallel=parallel)


def make_txn(state: str = STATE_A, **fields: object) -> TransactionState:
    return TransactionState(
        state=state,
        nonce="nonce-" + state[:8],
        code_verifier="verifier-" + state[:8],
        return_to="/dashboard",
        **fields,  # type: ignore[arg-type]
    )


def saved_cookies(
    store: TransactionStore,
    txn: TransactionState,
    request_cookies: dict[str, str] | None = None,
    now: int = NOW,
) -> tuple[Response, dict[str, str]]:
    response = Response()
    store.save(response, txn, request_cookies or {}, now, OPTIONS)
    jar = {
        name: header.split(";", 1)[0].split("=", 1)[1]
        for name, header in response.cookies
        if "Max-Age=0" not in header
    }
    return response, jar


def deleted(response: Response) -> list[str]:
    return [name for name, header in response.cookies if "Max-Age=0" in header.split("; ")]


# -- naming and format --------------------------------------------------------------------


def test_parallel_cookie_is_named_after_the_state() -> None:
    _, jar = saved_cookies(make_store(), make_txn(STATE_A))
    assert list(jar) == [f"__txn_{STATE_A}"]


def test_non_parallel_cookie_uses_the_bare_prefix() -> None:
    _, jar = saved_cookies(make_store(parallel=False), make_txn(STATE_A))
    assert list(jar) == ["__txn_"]


def test_custom_prefix_is_used() -> None:
    _, jar = saved_cookies(make_store(prefix="__login_"), make_txn(STATE_A))
    assert list(jar) == [f"__login_{STATE_A}"]


def test_value_is_unix_seconds_colon_jwe() -> None:
    store = make_store()
    _, jar = saved_cookies(store, make_txn(), now=NOW)
    stamp, jwe = jar[f"__txn_{STATE_A}"].split(":", 1)
    assert stamp == str(NOW)
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+", jwe)
    claims = store.codec.decrypt(jwe, now=NOW)
    assert claims is not None
    assert claims["state"] == STATE_A
    assert claims["codeVerifier"] == "verifier-AAAAAAAA"
    assert claims["exp"] == NOW + 3600


def test_cookie_max_age_is_the_configured_lifetime() -> None:
    response, _ = saved_cookies(make_store(max_age=900), make_txn())
    assert "Max-Age=900" in response.cookies[-1][1].split("; ")


def test_payload_uses_the_reference_field_names() -> None:
    store = make_store()
    txn = make_txn(max_age=60, scope="openid", audience="https://api", organization="org_1")
    _, jar = saved_cookies(store, txn)
    claims = store.codec.decrypt(jar[f"__txn_{STATE_A}"].split(":", 1)[1], now=NOW)
    assert claims is not None
    assert {k: v for k, v in claims.items() if k != "exp"} == {
        "state": STATE_A,
        "nonce": "nonce-AAAAAAAA",
        "codeVerifier": "verifier-AAAAAAAA",
        "responseType": "code",
        "returnTo": "/dashboard",
        "maxAge": 60,
        "scope": "openid",
        "audience": "https://api",
        "organization": "org_1",
    }


def test_oversized_request_fields_are_dropped_from_the_payload() -> None:
    store = make_store()
    _, jar = saved_cookies(store, make_txn(scope="s" * 3000, audience="https://api"))
    claims = store.codec.decrypt(jar[f"__txn_{STATE_A}"].split(":", 1)[1], now=NOW)
    assert claims is not None
    assert "scope" not in claims
    assert claims["audience"] == "https://api"


# -- load ---------------------------------------------------------------------------------


def test_load_round_trips_the_transaction() -> None:
    store = make_store()
    txn = make_txn(max_age=120, organization="org_1")
    _, jar = saved_cookies(store, txn)
    assert store.load(jar, STATE_A, now=NOW + 10) == txn


def test_load_without_cookie_is_none() -> None:
    assert make_store().load({}, STATE_A, now=NOW) is None


def test_load_accepts_a_legacy_value_without_timestamp() -> None:
    store = make_store()
    _, jar = saved_cookies(store, make_txn())
    name = f"__txn_{STATE_A}"
    jar[name] = jar[name].split(":", 1)[1]
    assert store.load(jar, STATE_A, now=NOW) is not None


def test_load_rejects_a_cookie_whose_inner_state_differs() -> None:
    store = make_store()
    _, other = saved_cookies(store, make_txn(STATE_B))
    tossed = {f"__txn_{STATE_A}": other[f"__txn_{STATE_B}"]}
    assert store.load(tossed, STATE_A, now=NOW) is None


def test_non_parallel_load_rejects_a_different_state() -> None:
    store = make_store(parallel=False)
    _, jar = saved_cookies(store, make_txn(STATE_B))
    assert store.load(jar, STATE_A, now=NOW) is None
    assert store.load(jar, STATE_B, now=NOW) is not None


def test_load_after_expiry_plus_tolerance_is_none() -> None:
    store = make_store(max_age=3600)
    _, jar = saved_cookies(store, make_txn(), now=NOW)
    assert store.load(jar, STATE_A, now=NOW + 3600 + 16) is None


def test_load_within_expiry_tolerance_is_accepted() -> None:
    store = make_store(max_age=3600)
    _, jar = saved_cookies(store, make_txn(), now=NOW)
    assert store.load(jar, STATE_A, now=NOW + 3600 + 14) is not None


def test_load_of_a_session_cookie_value_is_none() -> None:
    store = make_store()
    session = {
        "user": {"sub": "auth0|1"},
        "tokenSet": {"accessToken": "at", "expiresAt": NOW + 60},
        "internal": {"sid": "s", "createdAt": NOW},
    }
    value = store.codec.encrypt(session, exp=NOW + 3600)
    name = f"__txn_{STATE_A}"
    assert store.load({name: value}, STATE_A, now=NOW) is None
    assert store.load({name: f"{NOW}:{value}"}, STATE_A, now=NOW) is None


def test_load_of_a_cookie_from_another_secret_is_none() -> None:
    foreign = TransactionStore(
        TransactionCookieConfig(), CookieCodec(["another-secret-" + "x" * 32]), parallel=True
    )
    _, jar = saved_cookies(foreign, make_txn())
    assert make_store().load(jar, STATE_A, now=NOW) is None


@pytest.mark.parametrize("value", ["", ":", "123:", "123:garbage", "garbage", "1:2:3"])
def test_load_of_garbage_is_none(value: str) -> None:
    assert make_store().load({f"__txn_{STATE_A}": value}, STATE_A, now=NOW) is None


@pytest.mark.parametrize(
    "payload",
    [
        {"nonce": "n", "codeVerifier": "v"},
        {"state": STATE_A, "codeVerifier": "v"},
        {"state": STATE_A, "nonce": "n"},
        {"state": STATE_A, "nonce": "n", "codeVerifier": "v", "maxAge": -1},
        {"state": STATE_A, "nonce": "n", "codeVerifier": "v", "maxAge": "60"},
        {"state": STATE_A, "nonce": "n", "codeVerifier": "v", "maxAge": True},
        {"state": [STATE_A], "nonce": "n", "codeVerifier": "v"},
    ],
    ids=["no-state", "no-nonce", "no-verifier", "neg-max-age", "str-max-age", "bool", "list"],
)
def test_load_of_malformed_transaction_is_none(payload: dict[str, object]) -> None:
    store = make_store()
    value = store.codec.encrypt(payload, exp=NOW + 60)
    assert store.load({f"__txn_{STATE_A}": value}, STATE_A, now=NOW) is None


# -- eviction -----------------------------------------------------------------------------


def filler(stamp: int | None, size: int) -> str:
    prefix = "" if stamp is None else f"{stamp}:"
    return prefix + "x" * (size - len(prefix))


def test_no_eviction_below_the_limit() -> None:
    request = {f"__txn_{'C' * 43}": filler(NOW - 10, 500), f"__txn_{'D' * 43}": filler(NOW, 500)}
    response, _ = saved_cookies(make_store(), make_txn(), request)
    assert deleted(response) == []


def test_eviction_deletes_the_oldest_first() -> None:
    old, mid, new = "O" * 43, "M" * 43, "N" * 43
    request = {
        f"__txn_{mid}": filler(NOW - 200, 1000),
        f"__txn_{new}": filler(NOW - 100, 1000),
        f"__txn_{old}": filler(NOW - 300, 1000),
    }
    response, jar = saved_cookies(make_store(), make_txn(), request)
    assert deleted(response) == [f"__txn_{old}"]
    assert f"__txn_{STATE_A}" in jar


def test_eviction_deletes_as_few_as_needed_in_age_order() -> None:
    names = {stamp: f"__txn_{chr(ord('C') + i) * 43}" for i, stamp in enumerate([50, 10, 30, 40])}
    request = {name: filler(NOW - 1000 + stamp, 1500) for stamp, name in names.items()}
    response, jar = saved_cookies(make_store(), make_txn(), request)
    gone = deleted(response)
    by_age = [names[stamp] for stamp in sorted(names)]
    assert len(gone) >= 2
    assert gone == by_age[: len(gone)]

    def size(items: dict[str, str]) -> int:
        return sum(len(n) + len(v) + 1 for n, v in items.items())

    kept = {n: v for n, v in request.items() if n not in gone} | jar
    assert size(kept) < MAX_TXN_BYTES
    last = gone[-1]
    assert size(kept) + len(last) + len(request[last]) + 1 >= MAX_TXN_BYTES


def test_eviction_keeps_the_total_under_the_limit() -> None:
    request = {f"__txn_{chr(ord('C') + i) * 43}": filler(NOW - i, 900) for i in range(6)}
    response, jar = saved_cookies(make_store(), make_txn(), request)
    gone = set(deleted(response))
    kept = {n: v for n, v in request.items() if n not in gone}
    kept.update(jar)
    assert sum(len(n) + len(v) + 1 for n, v in kept.items()) < MAX_TXN_BYTES


def test_eviction_treats_values_without_timestamp_as_oldest() -> None:
    legacy, dated = "L" * 43, "D" * 43
    request = {f"__txn_{dated}": filler(1, 1700), f"__txn_{legacy}": filler(None, 1700)}
    response, _ = saved_cookies(make_store(), make_txn(), request)
    assert deleted(response)[0] == f"__txn_{legacy}"


def test_eviction_never_deletes_the_cookie_being_written() -> None:
    own = f"__txn_{STATE_A}"
    request = {own: filler(1, 3000), f"__txn_{'C' * 43}": filler(NOW, 1500)}
    response, jar = saved_cookies(make_store(), make_txn(), request)
    assert own not in deleted(response)
    assert own in jar
    assert response.cookies[-1][0] == own


def test_eviction_ignores_cookies_outside_the_prefix() -> None:
    request = {"__session": "x" * 3400, "other": "y" * 3000}
    response, _ = saved_cookies(make_store(), make_txn(), request)
    assert deleted(response) == []


# -- delete / delete_all ------------------------------------------------------------------


def test_delete_removes_the_states_cookie() -> None:
    response = Response()
    make_store().delete(response, STATE_A, OPTIONS)
    assert deleted(response) == [f"__txn_{STATE_A}"]


def test_delete_all_removes_only_transaction_cookies() -> None:
    request = {f"__txn_{STATE_A}": "1:x", "__txn_": "2:y", "__session": "z", "pref": "a"}
    response = Response()
    make_store().delete_all(response, request, OPTIONS)
    assert sorted(deleted(response)) == ["__txn_", f"__txn_{STATE_A}"]


def test_delete_all_caps_deletions_at_64() -> None:
    request = {f"__txn_{i:043d}": "1:x" for i in range(500)}
    response = Response()
    make_store().delete_all(response, request, OPTIONS)
    assert len(response.cookies) == 64
    assert len(set(deleted(response))) == 64


# -- is_valid_state -----------------------------------------------------------------------


def test_generated_state_is_valid() -> None:
    assert is_valid_state(random_token())


@pytest.mark.parametrize("state", ["a" * 16, "a" * 128, "Az09-_" * 8])
def test_base64url_states_of_allowed_length_are_valid(state: str) -> None:
    assert is_valid_state(state)


@pytest.mark.parametrize(
    "state",
    [
        "",
        "short",
        "a" * 15,
        "a" * 129,
        "a" * 10_000,
        "a" * 42 + "+",
        "a" * 42 + "/",
        "a" * 42 + "=",
        "a" * 42 + ".",
        "a" * 20 + " " + "a" * 20,
        "a" * 20 + ";" + "a" * 20,
        "a" * 43 + "\n",
        "a" * 43 + "\r\n",
        "\n" + "a" * 43,
        "a" * 20 + "\x00" + "a" * 20,
        "a" * 42 + "é",
        "a" * 42 + "٣",
    ],
    ids=[
        "empty",
        "short",
        "15",
        "129",
        "huge",
        "plus",
        "slash",
        "equals",
        "dot",
        "space",
        "semicolon",
        "trailing-lf",
        "trailing-crlf",
        "leading-lf",
        "nul",
        "non-ascii",
        "non-ascii-digit",
    ],
)
def test_invalid_states_are_rejected(state: str) -> None:
    assert not is_valid_state(state)
