"""Server-side sessions: ``StatefulSessionStore`` over ``MemorySessionStore`` (and a minimal
store without ``update``), plus ``MemorySessionStore`` itself."""

from __future__ import annotations

import re
from typing import Any

import pytest

from auth0_web import Auth0Client, InvalidConfigurationError, LogoutTokenClaims
from auth0_web._config import CookieConfig, SessionConfig
from auth0_web._http import CookieOptions, Response
from auth0_web.session._codec import CookieCodec
from auth0_web.session._model import SessionData, SessionInternal, TokenSet
from auth0_web.session._stateful import StatefulSessionStore
from auth0_web.session._store import MemorySessionStore, SupportsUpdate

pytestmark = pytest.mark.anyio

SECRET = "stateful-test-secret-0123456789abcdef0123456789"
OTHER_SECRET = "another-app-secret-0123456789abcdef012345678"
NOW = 1_700_000_000
HOUR = 3600
DAY = 24 * HOUR
OPTIONS = CookieOptions()
NAME = "__session"
HEX32 = re.compile(r"[0-9a-f]{32}")
ISS = "https://tenant.example.com/"


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def make_session(
    sub: str = "auth0|alice", sid: str = "sid-1", created_at: int = NOW, **extra: Any
) -> SessionData:
    return SessionData(
        user={"sub": sub, "name": sub.split("|")[-1]},
        token_set=TokenSet(access_token="at", expires_at=NOW + HOUR, id_token="idt"),
        internal=SessionInternal(sid=sid, created_at=created_at),
        extra=dict(extra),
    )


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class MinimalStore:
    """Exactly the required protocol: get, set, delete (no update)."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[int, dict[str, Any]]] = {}
        self.calls: list[tuple[str, str]] = []

    async def get(self, id: str) -> SessionData | None:
        self.calls.append(("get", id))
        record = self.records.get(id)
        return None if record is None else SessionData.from_dict(record[1])

    async def set(self, id: str, session: SessionData, *, expires_at: int) -> None:
        self.calls.append(("set", id))
        self.records[id] = (expires_at, session.to_dict())

    async def delete(self, id: str) -> None:
        self.calls.append(("delete", id))
        self.records.pop(id, None)


class RecordingMemoryStore(MemorySessionStore):
    """A MemorySessionStore that remembers the ``expires_at`` of every write."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writes: list[tuple[str, str, int]] = []

    async def set(self, id: str, session: SessionData, *, expires_at: int) -> None:
        self.writes.append(("set", id, expires_at))
        await super().set(id, session, expires_at=expires_at)

    async def update(self, id: str, session: SessionData, *, expires_at: int) -> bool:
        self.writes.append(("update", id, expires_at))
        return await super().update(id, session, expires_at=expires_at)


def memory_store() -> MemorySessionStore:
    # The store's clock is the test's NOW, so records written "at NOW" are live.
    return MemorySessionStore(clock=Clock())


ISSUER = "https://tenant.example.com/"


def make_stateful(
    store: Any | None = None, secrets: list[str] | None = None, **session_options: Any
) -> StatefulSessionStore:
    config = SessionConfig(**session_options)
    return StatefulSessionStore(
        config,
        CookieCodec(secrets or [SECRET]),
        store if store is not None else memory_store(),
        issuer=ISSUER,
    )


def set_cookie_values(response: Response) -> dict[str, str]:
    """name -> full Set-Cookie value (the last one per name)."""
    return dict(response.cookies)


def cookie_value(response: Response, name: str = NAME) -> str:
    header = set_cookie_values(response)[name]
    return header.split(";", 1)[0].split("=", 1)[1]


def attrs(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        out[key.lower()] = value
    return out


def is_deleted(response: Response, name: str) -> bool:
    header = set_cookie_values(response).get(name)
    return header is not None and attrs(header).get("max-age") == "0"


async def save_new(
    stateful: StatefulSessionStore,
    session: SessionData | None = None,
    cookies: dict[str, str] | None = None,
    now: int = NOW,
) -> tuple[Response, dict[str, str]]:
    """A login: save with ``is_new=True``; returns the response and the browser's jar."""
    response = Response()
    assert await stateful.save(
        response, session or make_session(), cookies or {}, now, OPTIONS, is_new=True
    )
    return response, {NAME: cookie_value(response)}


# --------------------------------------------------------------------------------------
# The cookie holds only an encrypted id
# --------------------------------------------------------------------------------------


async def test_cookie_decrypts_to_exactly_id_and_exp() -> None:
    stateful = make_stateful()
    response, jar = await save_new(stateful)
    payload = CookieCodec([SECRET]).decrypt(jar[NAME], now=NOW)
    assert payload is not None
    assert set(payload) == {"id", "exp"}
    assert HEX32.fullmatch(payload["id"])
    assert payload["exp"] == NOW + DAY  # rolling: the inactivity deadline
    # Nothing of the session is in the cookie, and it is never chunked.
    assert [name for name, _ in response.cookies] == [NAME]
    assert len(jar[NAME]) < 300
    for secret_bit in ("auth0|alice", "idt", "sid-1"):
        assert secret_bit not in jar[NAME]


async def test_cookie_attributes_and_no_store() -> None:
    stateful = make_stateful()
    response, _ = await save_new(stateful)
    cookie = attrs(set_cookie_values(response)[NAME])
    assert cookie["max-age"] == str(DAY)
    assert cookie["path"] == "/" and cookie["samesite"] == "Lax" and "httponly" in cookie
    assert ("cache-control", "private, no-cache, no-store, must-revalidate, max-age=0") in (
        response.headers
    )


async def test_transient_cookie_has_no_max_age() -> None:
    stateful = make_stateful(cookie=CookieConfig(transient=True))
    response, jar = await save_new(stateful)
    assert "max-age" not in attrs(set_cookie_values(response)[NAME])
    assert (await stateful.load(jar, NOW)) is not None


async def test_non_rolling_exp_is_the_absolute_deadline() -> None:
    stateful = make_stateful(rolling=False, absolute_duration=2 * DAY)
    _, jar = await save_new(stateful, make_session(created_at=NOW - HOUR))
    payload = CookieCodec([SECRET]).decrypt(jar[NAME], now=NOW)
    assert payload is not None and payload["exp"] == NOW - HOUR + 2 * DAY


async def test_store_expiry_matches_the_cookie() -> None:
    store = RecordingMemoryStore(clock=Clock())
    stateful = make_stateful(store)
    _, jar = await save_new(stateful)
    payload = CookieCodec([SECRET]).decrypt(jar[NAME], now=NOW)
    assert payload is not None
    assert store.writes == [("set", payload["id"], NOW + DAY)]
    # A later write of the same session rolls the record's expiry too.
    response = Response()
    assert await stateful.save(response, make_session(), jar, NOW + HOUR, OPTIONS)
    assert store.writes[-1] == ("update", payload["id"], NOW + HOUR + DAY)


async def test_load_returns_the_stored_session() -> None:
    stateful = make_stateful()
    session = make_session(theme="dark")
    _, jar = await save_new(stateful, session)
    found = await stateful.load(jar, NOW)
    assert found is not None
    loaded, plaintext, _ = found
    assert loaded.user == session.user and loaded.extra == {"theme": "dark"}
    assert stateful.from_plaintext(plaintext, NOW) == loaded


# --------------------------------------------------------------------------------------
# Ids: new on login, kept on update
# --------------------------------------------------------------------------------------


def id_of(jar: dict[str, str], now: int = NOW) -> str:
    payload = CookieCodec([SECRET]).decrypt(jar[NAME], now=now)
    assert payload is not None
    return str(payload["id"])


@pytest.mark.parametrize("kind", ["memory", "minimal"])
async def test_login_always_makes_a_new_id_and_deletes_the_old_record(kind: str) -> None:
    store: Any = memory_store() if kind == "memory" else MinimalStore()
    stateful = make_stateful(store)
    _, first = await save_new(stateful, make_session(sub="auth0|attacker"))
    old_id = id_of(first)
    _, second = await save_new(stateful, make_session(sub="auth0|victim"), cookies=first)
    new_id = id_of(second)
    assert new_id != old_id and HEX32.fullmatch(new_id)
    assert await store.get(old_id) is None
    record = await store.get(new_id)
    assert record is not None and record.user["sub"] == "auth0|victim"
    # The old cookie loads nothing.
    assert await stateful.load(first, NOW) is None


async def test_every_login_id_is_unique() -> None:
    stateful = make_stateful()
    ids = set()
    for _ in range(50):
        _, jar = await save_new(stateful)
        ids.add(id_of(jar))
    assert len(ids) == 50


@pytest.mark.parametrize("kind", ["memory", "minimal"])
async def test_update_keeps_the_id(kind: str) -> None:
    store: Any = memory_store() if kind == "memory" else MinimalStore()
    stateful = make_stateful(store)
    _, jar = await save_new(stateful)
    session_id = id_of(jar)
    response = Response()
    changed = make_session(theme="dark")
    assert await stateful.save(response, changed, jar, NOW + 60, OPTIONS, is_new=False)
    rolled = {NAME: cookie_value(response)}
    assert id_of(rolled, NOW + 60) == session_id
    assert rolled[NAME] != jar[NAME]  # re-encrypted with the new exp
    record = await store.get(session_id)
    assert record is not None and record.extra == {"theme": "dark"}


async def test_save_without_a_cookie_creates_a_session_even_if_not_new() -> None:
    stateful = make_stateful()
    response = Response()
    assert await stateful.save(response, make_session(), {}, NOW, OPTIONS, is_new=False)
    jar = {NAME: cookie_value(response)}
    assert await stateful.load(jar, NOW) is not None


@pytest.mark.parametrize("kind", ["memory", "minimal"])
async def test_save_for_a_deleted_record_writes_nothing(kind: str) -> None:
    store: Any = memory_store() if kind == "memory" else MinimalStore()
    stateful = make_stateful(store)
    _, jar = await save_new(stateful)
    session_id = id_of(jar)
    await store.delete(session_id)  # a logout (RP or back-channel) in the meantime

    response = Response()
    written = await stateful.save(response, make_session(theme="x"), jar, NOW + 5, OPTIONS)

    assert written is False
    assert response.cookies == []
    assert await store.get(session_id) is None
    if kind == "memory":
        assert len(store) == 0
    else:
        assert store.records == {}
        assert store.calls.count(("set", session_id)) == 1  # only the login's write


async def test_minimal_store_is_not_treated_as_supporting_update() -> None:
    assert not isinstance(MinimalStore(), SupportsUpdate)
    assert isinstance(MemorySessionStore(), SupportsUpdate)


async def test_save_after_absolute_duration_removes_instead() -> None:
    store = memory_store()
    stateful = make_stateful(store, absolute_duration=DAY)
    _, jar = await save_new(stateful)
    session_id = id_of(jar)
    response = Response()
    later = NOW + DAY
    assert await stateful.save(response, make_session(), jar, later, OPTIONS) is False
    assert is_deleted(response, NAME)
    assert await store.get(session_id) is None


# --------------------------------------------------------------------------------------
# Cookies that must not load a session
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_id",
    [
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef0",
        "0123456789abcdef0123456789abcdeg",
        "0123456789abcdef0123456789abcdef\n",
        " 0123456789abcdef0123456789abcdef",
        "../../0123456789abcdef0123456789",
        "",
        12345,
        None,
        ["0123456789abcdef0123456789abcdef"],
        {"id": "0123456789abcdef0123456789abcdef"},
    ],
)
async def test_ids_that_are_not_32_lowercase_hex_load_nothing(bad_id: Any) -> None:
    store = memory_store()
    stateful = make_stateful(store)
    if isinstance(bad_id, str) and bad_id:
        await store.set(bad_id, make_session(), expires_at=NOW + DAY)  # it would be found
    value = CookieCodec([SECRET]).encrypt({"id": bad_id}, exp=NOW + HOUR)
    assert stateful.session_id({NAME: value}, NOW) is None
    assert await stateful.load({NAME: value}, NOW) is None


async def test_cookie_without_id_loads_nothing() -> None:
    stateful = make_stateful()
    value = CookieCodec([SECRET]).encrypt({"sid": "x"}, exp=NOW + HOUR)
    assert await stateful.load({NAME: value}, NOW) is None


def flip(value: str, index: int) -> str:
    return value[:index] + ("A" if value[index] != "A" else "B") + value[index + 1 :]


async def test_tampered_cookies_load_nothing() -> None:
    stateful = make_stateful()
    _, jar = await save_new(stateful)
    value = jar[NAME]
    parts = value.split(".")
    variants = [
        flip(value, len(parts[0]) + 2 + 3),  # iv
        ".".join([*parts[:3], flip(parts[3], len(parts[3]) // 2), parts[4]]),  # ciphertext
        ".".join([*parts[:4], flip(parts[4], 3)]),  # tag
        value[:-5],
        value + "A",
        ".".join(parts[:4]),
        "",
        "0123456789abcdef0123456789abcdef",  # a bare id is not a cookie
    ]
    for variant in variants:
        assert await stateful.load({NAME: variant}, NOW) is None, variant[:30]


async def test_foreign_secret_loads_nothing_and_rotation_reads_old() -> None:
    store = memory_store()
    foreign = make_stateful(store, secrets=[OTHER_SECRET])
    _, jar = await save_new(foreign)
    assert await make_stateful(store).load(jar, NOW) is None
    rotated = make_stateful(store, secrets=[SECRET, OTHER_SECRET])
    assert await rotated.load(jar, NOW) is not None


async def test_expired_cookie_loads_nothing_even_if_the_record_lives() -> None:
    store = MemorySessionStore(clock=Clock(NOW))
    stateful = make_stateful(store)
    session_id = "0123456789abcdef0123456789abcdef"
    await store.set(session_id, make_session(), expires_at=NOW + 10 * DAY)
    value = CookieCodec([SECRET]).encrypt({"id": session_id}, exp=NOW - 60)
    assert await stateful.load({NAME: value}, NOW) is None
    fresh = CookieCodec([SECRET]).encrypt({"id": session_id}, exp=NOW + 60)
    assert await stateful.load({NAME: fresh}, NOW) is not None  # the control


async def test_record_past_absolute_duration_loads_nothing() -> None:
    store = MemorySessionStore(clock=Clock(NOW))
    stateful = make_stateful(store, absolute_duration=DAY)
    session_id = "fedcba9876543210fedcba9876543210"
    # The store keeps the record, and the cookie is still valid: only createdAt is old.
    await store.set(session_id, make_session(created_at=NOW - DAY), expires_at=NOW + DAY)
    value = CookieCodec([SECRET]).encrypt({"id": session_id}, exp=NOW + HOUR)
    assert await stateful.load({NAME: value}, NOW) is None
    young = make_session(created_at=NOW - DAY + 1)
    await store.set(session_id, young, expires_at=NOW + DAY)
    assert await stateful.load({NAME: value}, NOW) is not None  # the control


async def test_record_past_the_idp_session_ceiling_loads_nothing() -> None:
    store = memory_store()
    stateful = make_stateful(store)
    session = make_session()
    session.internal.session_expires_at = NOW + 10
    _, jar = await save_new(stateful, session)
    assert await stateful.load(jar, NOW) is None


async def test_unknown_id_loads_nothing() -> None:
    stateful = make_stateful()
    value = CookieCodec([SECRET]).encrypt({"id": "ab" * 16}, exp=NOW + HOUR)
    assert await stateful.load({NAME: value}, NOW) is None


async def test_other_cookie_name_is_ignored() -> None:
    stateful = make_stateful(cookie=CookieConfig(name="app_session"))
    response = Response()
    await stateful.save(response, make_session(), {}, NOW, OPTIONS, is_new=True)
    value = cookie_value(response, "app_session")
    assert await stateful.load({"app_session": value}, NOW) is not None
    assert await stateful.load({NAME: value}, NOW) is None


# --------------------------------------------------------------------------------------
# remove, stale chunks
# --------------------------------------------------------------------------------------


async def test_remove_deletes_cookie_and_record() -> None:
    store = memory_store()
    stateful = make_stateful(store)
    _, jar = await save_new(stateful)
    _, other = await save_new(stateful, make_session(sub="auth0|bob", sid="sid-2"))
    session_id = id_of(jar)
    response = Response()
    jar_with_chunks = {**jar, f"{NAME}__0": "a", f"{NAME}__1": "b"}
    await stateful.remove(response, jar_with_chunks, OPTIONS, now=NOW)
    assert is_deleted(response, NAME)
    assert is_deleted(response, f"{NAME}__0") and is_deleted(response, f"{NAME}__1")
    assert ("cache-control", "private, no-cache, no-store, must-revalidate, max-age=0") in (
        response.headers
    )
    assert await store.get(session_id) is None
    assert await store.get(id_of(other)) is not None
    assert len(store) == 1


@pytest.mark.parametrize("value", ["garbage", "", None])
async def test_remove_with_a_bad_cookie_deletes_the_cookie_only(value: str | None) -> None:
    store = memory_store()
    stateful = make_stateful(store)
    await save_new(stateful)
    response = Response()
    cookies = {} if value is None else {NAME: value}
    await stateful.remove(response, cookies, OPTIONS, now=NOW)
    assert is_deleted(response, NAME)
    assert len(store) == 1


async def test_stale_stateless_chunks_are_deleted_on_save() -> None:
    stateful = make_stateful()
    stale = {f"{NAME}__0": "x" * 100, f"{NAME}__1": "y" * 100, f"{NAME}__2": "z"}
    response = Response()
    assert await stateful.save(response, make_session(), stale, NOW, OPTIONS, is_new=True)
    for index in range(3):
        assert is_deleted(response, f"{NAME}__{index}")
    assert not is_deleted(response, NAME)
    # The base cookie is written first, the chunk deletions after it.
    assert response.cookies[0][0] == NAME
    # A non-canonical index is not ours: it is left alone, never "deleted" by guess.
    response = Response()
    await stateful.save(response, make_session(), {f"{NAME}__007": "x"}, NOW, OPTIONS)
    assert [name for name, _ in response.cookies] == [NAME]


async def test_stale_chunks_are_deleted_on_update_too() -> None:
    stateful = make_stateful()
    _, jar = await save_new(stateful)
    response = Response()
    cookies = {**jar, f"{NAME}__0": "old"}
    assert await stateful.save(response, make_session(), cookies, NOW, OPTIONS)
    assert is_deleted(response, f"{NAME}__0")
    assert id_of({NAME: cookie_value(response)}) == id_of(jar)


# --------------------------------------------------------------------------------------
# MemorySessionStore
# --------------------------------------------------------------------------------------


async def test_memory_store_returns_copies() -> None:
    store = memory_store()
    session = make_session(theme="light")
    await store.set("a" * 32, session, expires_at=NOW + HOUR)
    # Mutating the object that was stored changes nothing.
    session.user["name"] = "mallory"
    session.extra["theme"] = "dark"
    session.internal.sid = "hijacked"
    first = await store.get("a" * 32)
    assert first is not None
    assert first.user["name"] == "alice" and first.extra == {"theme": "light"}
    assert first.internal.sid == "sid-1"
    # Mutating a returned object changes nothing either.
    first.user["sub"] = "auth0|mallory"
    first.token_set.access_token = "stolen"
    first.extra["theme"] = "dark"
    second = await store.get("a" * 32)
    assert second is not None and second is not first
    assert second.user["sub"] == "auth0|alice"
    assert second.token_set.access_token == "at"
    assert second.extra == {"theme": "light"}


async def test_memory_store_update_also_copies() -> None:
    store = memory_store()
    await store.set("a" * 32, make_session(), expires_at=NOW + HOUR)
    session = make_session(theme="x")
    assert await store.update("a" * 32, session, expires_at=NOW + HOUR)
    session.extra["theme"] = "y"
    stored = await store.get("a" * 32)
    assert stored is not None and stored.extra == {"theme": "x"}


async def test_memory_store_expires_records_at_expires_at() -> None:
    clock = Clock(NOW)
    store = MemorySessionStore(clock=clock)
    await store.set("a" * 32, make_session(), expires_at=NOW + 10)
    await store.set("b" * 32, make_session(), expires_at=NOW + 100)
    clock.now = NOW + 9
    assert await store.get("a" * 32) is not None
    assert len(store) == 2
    clock.now = NOW + 10
    assert await store.get("a" * 32) is None
    assert await store.update("a" * 32, make_session(), expires_at=NOW + 1000) is False
    assert await store.get("a" * 32) is None  # update did not bring it back
    assert len(store) == 1
    assert await store.get("b" * 32) is not None


async def test_memory_store_update_only_if_present() -> None:
    store = memory_store()
    assert await store.update("c" * 32, make_session(), expires_at=NOW + HOUR) is False
    assert await store.get("c" * 32) is None
    assert len(store) == 0
    await store.set("c" * 32, make_session(), expires_at=NOW + HOUR)
    await store.delete("c" * 32)
    await store.delete("c" * 32)  # deleting twice is fine
    assert await store.update("c" * 32, make_session(), expires_at=NOW + HOUR) is False
    assert len(store) == 0


async def fill(store: MemorySessionStore) -> dict[str, str]:
    """Four sessions: alice twice (two sids), bob, and a session without a sid."""
    layout = {
        "1" * 32: ("auth0|alice", "sid-a1"),
        "2" * 32: ("auth0|alice", "sid-a2"),
        "3" * 32: ("auth0|bob", "sid-b"),
        "4" * 32: ("auth0|carol", ""),
    }
    for key, (sub, sid) in layout.items():
        await store.set(key, make_session(sub=sub, sid=sid), expires_at=NOW + HOUR)
    return {key: sub for key, (sub, _) in layout.items()}


async def remaining(store: MemorySessionStore, keys: dict[str, str]) -> set[str]:
    return {key for key in keys if await store.get(key) is not None}


async def test_delete_by_logout_token_by_sid() -> None:
    store = memory_store()
    keys = await fill(store)
    deleted = await store.delete_by_logout_token(LogoutTokenClaims(iss=ISS, sid="sid-a1"))
    assert deleted == 1
    assert await remaining(store, keys) == {"2" * 32, "3" * 32, "4" * 32}


async def test_delete_by_logout_token_by_sub() -> None:
    store = memory_store()
    keys = await fill(store)
    deleted = await store.delete_by_logout_token(LogoutTokenClaims(iss=ISS, sub="auth0|alice"))
    assert deleted == 2
    assert await remaining(store, keys) == {"3" * 32, "4" * 32}


async def test_delete_by_logout_token_sid_takes_precedence_over_sub() -> None:
    store = memory_store()
    keys = await fill(store)
    claims = LogoutTokenClaims(iss=ISS, sid="sid-a2", sub="auth0|alice")
    assert await store.delete_by_logout_token(claims) == 1
    assert await remaining(store, keys) == {"1" * 32, "3" * 32, "4" * 32}


async def test_delete_by_logout_token_matches_exactly() -> None:
    store = memory_store()
    keys = await fill(store)
    for claims in (
        LogoutTokenClaims(iss=ISS, sid="SID-A1"),
        LogoutTokenClaims(iss=ISS, sid="sid-a"),
        LogoutTokenClaims(iss=ISS, sub="auth0|ALICE"),
        LogoutTokenClaims(iss=ISS, sub="alice"),
        LogoutTokenClaims(iss=ISS),  # neither sid nor sub
    ):
        assert await store.delete_by_logout_token(claims) == 0
    assert await remaining(store, keys) == set(keys)


async def test_delete_by_logout_token_then_stateful_load_fails() -> None:
    store = memory_store()
    stateful = make_stateful(store)
    _, alice = await save_new(stateful, make_session(sub="auth0|alice", sid="sid-a"))
    _, bob = await save_new(stateful, make_session(sub="auth0|bob", sid="sid-b"))
    assert await store.delete_by_logout_token(LogoutTokenClaims(iss=ISS, sid="sid-a")) == 1
    assert await stateful.load(alice, NOW) is None
    assert await stateful.load(bob, NOW) is not None
    # A write racing the logout does not bring alice back.
    response = Response()
    assert await stateful.save(response, make_session(), alice, NOW, OPTIONS) is False
    assert response.cookies == [] and len(store) == 1


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------

CLIENT_OPTIONS: dict[str, Any] = {
    "domain": "tenant.example.com",
    "client_id": "client",
    "client_secret": "client-secret",
    "secret": SECRET,
    "app_base_url": "https://app.example.com",
}


@pytest.mark.parametrize("bad", [object(), "redis://localhost", {"get": 1}, 42])
def test_client_rejects_a_store_without_the_protocol(bad: Any) -> None:
    with pytest.raises(InvalidConfigurationError) as info:
        Auth0Client(**CLIENT_OPTIONS, session_store=bad)
    assert any(problem.startswith("session_store") for problem in info.value.problems)
    assert "session_store" in str(info.value)


def test_client_accepts_memory_and_minimal_stores() -> None:
    for store in (MemorySessionStore(), MinimalStore()):
        client = Auth0Client(**CLIENT_OPTIONS, session_store=store)
        assert isinstance(client._rt.sessions, StatefulSessionStore)
        assert client._rt.sessions.store is store
