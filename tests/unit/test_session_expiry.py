"""Session lifetime: the max-age arithmetic and the server-side checks on every read."""

from __future__ import annotations

import pytest

from auth0_web._config import CookieConfig, SessionConfig
from auth0_web._http import CookieOptions, Response
from auth0_web.session._codec import CookieCodec
from auth0_web.session._model import SessionData, SessionInternal, TokenSet
from auth0_web.session._stateless import StatelessSessionStore, session_max_age

SECRET = "session-expiry-test-secret-0123456789abcdef"
NOW = 1_700_000_000
HOUR = 3600
DAY = 24 * HOUR
OPTIONS = CookieOptions()
NO_STORE = {
    "cache-control": "private, no-cache, no-store, must-revalidate, max-age=0",
    "pragma": "no-cache",
    "expires": "0",
}


def make_session(created_at: int = NOW, session_expires_at: int | None = None) -> SessionData:
    return SessionData(
        user={"sub": "auth0|123", "name": "Ada"},
        token_set=TokenSet(access_token="at", expires_at=NOW + HOUR, id_token="idt"),
        internal=SessionInternal(
            sid="sid-1", created_at=created_at, session_expires_at=session_expires_at
        ),
    )


def make_store(**overrides: object) -> StatelessSessionStore:
    config = SessionConfig(**overrides)  # type: ignore[arg-type]
    return StatelessSessionStore(config, CookieCodec([SECRET]))


def cookie_jar(store: StatelessSessionStore, session: SessionData, exp: int) -> dict[str, str]:
    return {store.name: store.codec.encrypt(session.to_dict(), exp=exp)}


def set_cookie_attrs(response: Response, name: str) -> tuple[str, dict[str, str]]:
    header = next(h for n, h in response.cookies if n == name)
    first, *attrs = header.split("; ")
    values = dict(a.split("=", 1) if "=" in a else (a, "") for a in attrs)
    return first.split("=", 1)[1], values


# -- session_max_age ----------------------------------------------------------------------


def test_rolling_max_age_is_inactivity_for_a_new_session() -> None:
    config = SessionConfig(rolling=True, absolute_duration=3 * DAY, inactivity_duration=DAY)
    assert session_max_age(config, created_at=NOW, now=NOW) == DAY


def test_rolling_max_age_is_capped_by_the_absolute_deadline() -> None:
    config = SessionConfig(rolling=True, absolute_duration=3 * DAY, inactivity_duration=DAY)
    created = NOW - 3 * DAY + HOUR
    assert session_max_age(config, created_at=created, now=NOW) == HOUR


def test_rolling_max_age_is_zero_after_the_absolute_deadline() -> None:
    config = SessionConfig(rolling=True, absolute_duration=3 * DAY, inactivity_duration=DAY)
    assert session_max_age(config, created_at=NOW - 4 * DAY, now=NOW) == 0


def test_non_rolling_max_age_counts_from_creation_not_from_now() -> None:
    config = SessionConfig(rolling=False, absolute_duration=3 * DAY, inactivity_duration=DAY)
    created = NOW - 2 * DAY
    assert session_max_age(config, created_at=created, now=NOW) == DAY
    assert session_max_age(config, created_at=created, now=NOW) != 3 * DAY


def test_non_rolling_max_age_ignores_inactivity() -> None:
    config = SessionConfig(rolling=False, absolute_duration=3 * DAY, inactivity_duration=HOUR)
    assert session_max_age(config, created_at=NOW, now=NOW) == 3 * DAY


def test_non_rolling_max_age_is_zero_when_past() -> None:
    config = SessionConfig(rolling=False, absolute_duration=3 * DAY, inactivity_duration=DAY)
    assert session_max_age(config, created_at=NOW - 3 * DAY - 1, now=NOW) == 0


def test_non_rolling_writes_do_not_extend_the_session() -> None:
    config = SessionConfig(rolling=False, absolute_duration=DAY, inactivity_duration=HOUR)
    deadlines = {t + session_max_age(config, created_at=NOW, now=t) for t in (NOW, NOW + HOUR)}
    assert deadlines == {NOW + DAY}


# -- read: server-side expiry checks ------------------------------------------------------


def test_read_returns_a_live_session() -> None:
    store = make_store()
    session = store.read(cookie_jar(store, make_session(), exp=NOW + HOUR), now=NOW)
    assert session is not None
    assert session.user["sub"] == "auth0|123"
    assert session.internal.sid == "sid-1"


def test_read_without_cookie_is_none() -> None:
    assert make_store().read({}, now=NOW) is None


def test_read_of_garbage_cookie_is_none() -> None:
    store = make_store()
    assert store.read({store.name: "not-a-jwe"}, now=NOW) is None


def test_read_of_cookie_whose_jwe_exp_passed_is_none() -> None:
    store = make_store()
    cookies = cookie_jar(store, make_session(created_at=NOW - HOUR), exp=NOW - 60)
    assert store.read(cookies, now=NOW) is None


def test_read_past_absolute_duration_is_none_even_with_valid_exp() -> None:
    store = make_store(absolute_duration=3 * DAY)
    stale = make_session(created_at=NOW - 3 * DAY - 1)
    assert store.read(cookie_jar(store, stale, exp=NOW + DAY), now=NOW) is None


def test_read_at_exactly_the_absolute_deadline_is_none() -> None:
    store = make_store(absolute_duration=3 * DAY)
    stale = make_session(created_at=NOW - 3 * DAY)
    assert store.read(cookie_jar(store, stale, exp=NOW + DAY), now=NOW) is None


def test_read_just_before_the_absolute_deadline_is_live() -> None:
    store = make_store(absolute_duration=3 * DAY)
    session = make_session(created_at=NOW - 3 * DAY + 10)
    assert store.read(cookie_jar(store, session, exp=NOW + DAY), now=NOW) is not None


@pytest.mark.parametrize("margin", [30, 29, 0, -100])
def test_read_near_or_past_the_upstream_ceiling_is_none(margin: int) -> None:
    store = make_store()
    session = make_session(session_expires_at=NOW + margin)
    assert store.read(cookie_jar(store, session, exp=NOW + HOUR), now=NOW) is None


def test_read_well_before_the_upstream_ceiling_is_live() -> None:
    store = make_store()
    session = make_session(session_expires_at=NOW + 31)
    assert store.read(cookie_jar(store, session, exp=NOW + HOUR), now=NOW) is not None


@pytest.mark.parametrize(
    "payload",
    [
        {"user": {"sub": "x"}, "tokenSet": {"accessToken": "a"}},
        {"user": {"sub": "x"}, "tokenSet": {"accessToken": "a"}, "internal": {"sid": "s"}},
        {"user": "x", "tokenSet": {}, "internal": {"createdAt": NOW}},
        {"user": {}, "tokenSet": {}, "internal": {"createdAt": "now"}},
        {"user": {}, "tokenSet": {}, "internal": {"createdAt": True}},
        {"user": {}, "tokenSet": {}, "internal": {"createdAt": NOW}, "accessTokens": {"a": 1}},
    ],
    ids=["no-internal", "no-created-at", "user-string", "created-string", "created-bool", "at"],
)
def test_read_of_malformed_session_payload_is_none(payload: dict[str, object]) -> None:
    store = make_store()
    cookies = {store.name: store.codec.encrypt(payload, exp=NOW + HOUR)}
    assert store.read(cookies, now=NOW) is None


# -- write --------------------------------------------------------------------------------


def test_written_max_age_equals_the_computed_max_age() -> None:
    store = make_store(absolute_duration=3 * DAY, inactivity_duration=DAY)
    session = make_session(created_at=NOW - 3 * DAY + 5 * HOUR)
    response = Response()
    store.write(response, session, {}, NOW, OPTIONS)
    _, attrs = set_cookie_attrs(response, store.name)
    expected = session_max_age(store.config, session.internal.created_at, NOW)
    assert expected == 5 * HOUR
    assert attrs["Max-Age"] == str(expected)


def test_written_jwe_exp_is_now_plus_max_age() -> None:
    store = make_store(absolute_duration=3 * DAY, inactivity_duration=DAY)
    response = Response()
    store.write(response, make_session(), {}, NOW, OPTIONS)
    value, _ = set_cookie_attrs(response, store.name)
    claims = store.codec.decrypt(value, now=NOW)
    assert claims is not None
    assert claims["exp"] == NOW + DAY


def test_non_rolling_write_keeps_the_creation_deadline() -> None:
    store = make_store(rolling=False, absolute_duration=3 * DAY)
    response = Response()
    store.write(response, make_session(created_at=NOW - 2 * DAY), {}, NOW, OPTIONS)
    value, attrs = set_cookie_attrs(response, store.name)
    assert attrs["Max-Age"] == str(DAY)
    claims = store.codec.decrypt(value, now=NOW)
    assert claims is not None
    assert claims["exp"] == NOW + DAY


def test_written_session_reads_back() -> None:
    store = make_store()
    response = Response()
    store.write(response, make_session(), {}, NOW, OPTIONS)
    value, _ = set_cookie_attrs(response, store.name)
    session = store.read({store.name: value}, now=NOW + 60)
    assert session is not None
    assert session.user == {"sub": "auth0|123", "name": "Ada"}
    assert session.token_set.access_token == "at"


def test_transient_cookie_has_no_max_age_but_jwe_exp_is_set() -> None:
    store = make_store(cookie=CookieConfig(transient=True), inactivity_duration=DAY)
    response = Response()
    store.write(response, make_session(), {}, NOW, OPTIONS)
    value, attrs = set_cookie_attrs(response, store.name)
    assert "Max-Age" not in attrs
    assert "Expires" not in attrs
    claims = store.codec.decrypt(value, now=NOW)
    assert claims is not None
    assert claims["exp"] == NOW + DAY
    assert store.codec.decrypt(value, now=NOW + DAY + 60) is None


def test_write_sets_no_store_headers() -> None:
    store = make_store()
    response = Response(headers=[("cache-control", "public, max-age=600")])
    store.write(response, make_session(), {}, NOW, OPTIONS)
    headers = dict(response.headers)
    assert {k: headers.get(k) for k in NO_STORE} == NO_STORE
    assert [k for k, _ in response.headers].count("cache-control") == 1


def test_write_of_an_ended_session_deletes_the_cookie() -> None:
    store = make_store(absolute_duration=DAY)
    response = Response()
    request = {store.name: "old", f"{store.name}__0": "x"}
    store.write(response, make_session(created_at=NOW - 2 * DAY), request, NOW, OPTIONS)
    assert response.cookies
    assert all("Max-Age=0" in header for _, header in response.cookies)
    assert {k: dict(response.headers).get(k) for k in NO_STORE} == NO_STORE


def test_large_session_is_chunked_and_reads_back() -> None:
    store = make_store()
    session = make_session()
    session.user["bio"] = "".join(chr(ord("a") + i % 26) for i in range(9000))
    response = Response()
    store.write(response, session, {}, NOW, OPTIONS)
    jar = {name: header.split(";", 1)[0].split("=", 1)[1] for name, header in response.cookies}
    assert store.name not in jar
    assert f"{store.name}__0" in jar
    restored = store.read(jar, now=NOW)
    assert restored is not None
    assert restored.user["bio"] == session.user["bio"]


def test_delete_sets_no_store_headers() -> None:
    store = make_store()
    response = Response()
    store.delete(response, {store.name: "x"}, OPTIONS)
    assert [n for n, _ in response.cookies] == [store.name]
    assert {k: dict(response.headers).get(k) for k in NO_STORE} == NO_STORE
