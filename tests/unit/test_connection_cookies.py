"""Token Vault tokens in a stateless session: the ``__FC_<i>`` cookies beside ``__session``.

Covers the model (JSON names, masking), the cookie layout (one encrypted cookie per entry,
never inside the session cookie), the "plaintext" copies the middleware rebuilds sessions
from, and every way a cookie can go bad: tampering, a retired secret, expiry, a foreign
payload, too many cookies.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from auth0_web import ConnectionTokenSet, MemorySessionStore, SessionData
from auth0_web._config import CookieConfig, SessionConfig
from auth0_web._http import CookieOptions, Response
from auth0_web.session._codec import CookieCodec
from auth0_web.session._connection_cookies import MAX_CONNECTION_TOKEN_SETS
from auth0_web.session._model import SessionInternal, TokenSet
from auth0_web.session._stateful import StatefulSessionStore
from auth0_web.session._stateless import StatelessSessionStore

NOW = 1_700_000_000
SECRET = "unit-secret-0123456789abcdef0123456789abcdef"
OLD_SECRET = "unit-old-secret-0123456789abcdef0123456789ab"
OPTIONS = CookieOptions()


def entry(i: int, **changes: Any) -> ConnectionTokenSet:
    values: dict[str, Any] = {
        "access_token": f"provider-token-{i}",
        "expires_at": NOW + 3600,
        "connection": f"conn-{i}",
        "scope": "read",
        "login_hint": None,
    }
    values.update(changes)
    return ConnectionTokenSet(**values)


def session(entries: list[ConnectionTokenSet]) -> SessionData:
    return SessionData(
        user={"sub": "auth0|u1"},
        token_set=TokenSet(access_token="at", expires_at=NOW + 600, refresh_token="rt"),
        internal=SessionInternal(sid="sid-1", created_at=NOW),
        connection_token_sets=entries,
    )


def store(*secrets: str, transient: bool = False) -> StatelessSessionStore:
    config = SessionConfig(cookie=CookieConfig(transient=transient))
    return StatelessSessionStore(config, CookieCodec(list(secrets or (SECRET,))))


def written(response: Response) -> dict[str, tuple[str, dict[str, str]]]:
    """name -> (value, attributes) of each Set-Cookie, the last one for a name winning."""
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for name, header in response.cookies:
        first, *attrs = header.split("; ")
        value = first.split("=", 1)[1]
        out[name] = (value, {a.split("=", 1)[0].lower(): a.partition("=")[2] for a in attrs})
    return out


def jar(response: Response) -> dict[str, str]:
    """The browser's cookies after ``response`` (deleted ones dropped)."""
    return {n: v for n, (v, a) in written(response).items() if a.get("max-age") != "0"}


def write(
    s: StatelessSessionStore, data: SessionData, request: dict[str, str] | None = None
) -> Response:
    response = Response()
    s.write(response, data, request or {}, NOW, OPTIONS)
    return response


# --------------------------------------------------------------------------- the model


def test_model_uses_the_reference_json_names_and_masks_the_token() -> None:
    e = entry(0, login_hint="a@example.com")
    assert e.to_dict() == {
        "accessToken": "provider-token-0",
        "expiresAt": NOW + 3600,
        "connection": "conn-0",
        "scope": "read",
        "loginHint": "a@example.com",
    }
    assert ConnectionTokenSet.from_dict(e.to_dict()) == e
    assert "provider-token-0" not in repr(e)
    data = session([e])
    assert "provider-token-0" not in repr(data)
    assert data.to_dict()["connectionTokenSets"] == [e.to_dict()]
    assert SessionData.from_dict(json.loads(json.dumps(data.to_dict()))) == data
    assert "connectionTokenSets" not in session([]).to_dict()


@pytest.mark.parametrize(
    "raw",
    [
        {"connectionTokenSets": {"accessToken": "x"}},
        {"connectionTokenSets": ["x"]},
        {"connectionTokenSets": [{"accessToken": "x", "expiresAt": NOW}]},  # no connection
        {"connectionTokenSets": [{"connection": "c", "expiresAt": NOW}]},  # no token
        {"connectionTokenSets": [{"accessToken": 1, "connection": "c", "expiresAt": NOW}]},
    ],
)
def test_malformed_entries_in_a_record_are_refused(raw: dict[str, Any]) -> None:
    data = session([]).to_dict()
    data.update(raw)
    with pytest.raises(ValueError):
        SessionData.from_dict(data)


# --------------------------------------------------------------------------- the layout


def test_each_entry_gets_its_own_encrypted_cookie_and_never_the_session_cookie() -> None:
    s = store()
    entries = [entry(0), entry(1, login_hint="work"), entry(2, scope=None)]
    cookies = written(write(s, session(entries)))
    assert sorted(cookies) == ["__FC_0", "__FC_1", "__FC_2", "__session"]
    main_payload = s.codec.decrypt(cookies["__session"][0], now=NOW)
    assert main_payload is not None and "connectionTokenSets" not in main_payload
    for i, e in enumerate(entries):
        value, attrs = cookies[f"__FC_{i}"]
        assert e.access_token not in value
        payload = s.codec.decrypt(value, now=NOW)
        assert payload is not None
        assert payload["exp"] == main_payload["exp"]
        assert ConnectionTokenSet.from_dict(payload) == e
        assert attrs == cookies["__session"][1]  # same Max-Age, Path, SameSite, HttpOnly
    loaded = s.read(jar(write(s, session(entries))), NOW)
    assert loaded is not None and loaded.connection_token_sets == entries


def test_a_transient_session_writes_transient_connection_cookies() -> None:
    cookies = written(write(store(transient=True), session([entry(0)])))
    assert "max-age" not in cookies["__FC_0"][1]
    assert "max-age" not in cookies["__session"][1]


def test_a_shorter_list_deletes_the_higher_indexes_the_browser_still_has() -> None:
    s = store()
    before = jar(write(s, session([entry(i) for i in range(5)])))
    before["__FC_07"] = "junk"  # any __FC_<digits> is ours to clean up
    before["__FCcustom"] = "someone-else"
    before["__FC_x"] = "someone-else"
    after = written(write(s, session([entry(0), entry(1)]), before))
    deleted = sorted(n for n, (_, a) in after.items() if a.get("max-age") == "0")
    assert deleted == ["__FC_07", "__FC_2", "__FC_3", "__FC_4"]
    assert "__FCcustom" not in after and "__FC_x" not in after


def test_logout_deletes_every_connection_cookie() -> None:
    s = store()
    browser = jar(write(s, session([entry(i) for i in range(3)])))
    response = Response()
    s.delete(response, browser, OPTIONS)
    cookies = written(response)
    assert sorted(cookies) == ["__FC_0", "__FC_1", "__FC_2", "__session"]
    assert all(a["max-age"] == "0" for _, a in cookies.values())


def test_an_expired_session_deletes_them_too() -> None:
    s = store()
    browser = jar(write(s, session([entry(0)])))
    old = session([entry(0)])
    old.internal.created_at = NOW - s.config.absolute_duration
    cookies = written(write(s, old, browser))
    assert cookies["__FC_0"][1]["max-age"] == "0"


# --------------------------------------------------------------------------- bad cookies


def test_a_tampered_cookie_is_ignored_and_the_others_kept() -> None:
    s = store()
    entries = [entry(i) for i in range(5)]
    browser = jar(write(s, session(entries)))
    value = browser["__FC_3"]
    browser["__FC_3"] = value[:-5] + ("AAAAA" if not value.endswith("AAAAA") else "BBBBB")
    loaded = s.read(browser, NOW)
    assert loaded is not None
    assert loaded.connection_token_sets == [entries[0], entries[1], entries[2], entries[4]]
    # The next write re-indexes them and drops the slot left over.
    after = written(write(s, loaded, browser))
    assert after["__FC_4"][1]["max-age"] == "0"
    rewritten = s.read(jar(write(s, loaded, browser)), NOW)
    assert rewritten is not None and rewritten.connection_token_sets == loaded.connection_token_sets


def test_cookies_of_a_retired_secret_are_ignored_quietly() -> None:
    old = store(OLD_SECRET)
    new = store(SECRET)
    browser = jar(write(old, session([entry(0), entry(1)])))
    browser["__session"] = jar(write(new, session([])))["__session"]
    loaded = new.read(browser, NOW)
    assert loaded is not None and loaded.user["sub"] == "auth0|u1"
    assert loaded.connection_token_sets == []
    # With the old secret still listed for decryption they are read, and re-written with
    # the new one.
    rotating = store(SECRET, OLD_SECRET)
    found = rotating.read(browser, NOW)
    assert found is not None and len(found.connection_token_sets) == 2
    rewritten = jar(write(rotating, found, browser))
    assert new.read(rewritten, NOW) == found


def test_expired_or_foreign_payloads_are_ignored() -> None:
    s = store()
    browser = jar(write(s, session([])))
    browser["__FC_0"] = s.codec.encrypt(entry(0).to_dict(), exp=NOW - 3600)  # expired JWE
    browser["__FC_1"] = s.codec.encrypt({"hello": "world"}, exp=NOW + 3600)
    browser["__FC_2"] = s.codec.encrypt(entry(2).to_dict(), exp=NOW + 3600)
    browser["__FC_3"] = "not-a-jwe"
    loaded = s.read(browser, NOW)
    assert loaded is not None and loaded.connection_token_sets == [entry(2)]


def test_a_list_inside_the_session_cookie_is_never_trusted() -> None:
    s = store()
    payload = session([]).to_dict()
    payload["connectionTokenSets"] = [entry(0).to_dict()]
    browser = {"__session": s.codec.encrypt(payload, exp=NOW + 600)}
    found = s.read_with_plaintext(browser, NOW)
    assert found is not None
    assert found[0].connection_token_sets == []
    assert s.from_plaintext(found[1], NOW) == found[0]


def test_at_most_the_cap_is_read_or_written() -> None:
    s = store()
    many = [entry(i) for i in range(MAX_CONNECTION_TOKEN_SETS + 2)]
    cookies = written(write(s, session(many)))
    assert len([n for n in cookies if n.startswith("__FC_")]) == MAX_CONNECTION_TOKEN_SETS
    browser = jar(write(s, session(many)))
    for i in range(MAX_CONNECTION_TOKEN_SETS, MAX_CONNECTION_TOKEN_SETS + 3):
        browser[f"__FC_{i}"] = s.codec.encrypt(entry(i).to_dict(), exp=NOW + 3600)
    loaded = s.read(browser, NOW)
    assert loaded is not None
    assert loaded.connection_token_sets == many[:MAX_CONNECTION_TOKEN_SETS]
    after = written(write(s, loaded, browser))
    for i in range(MAX_CONNECTION_TOKEN_SETS, MAX_CONNECTION_TOKEN_SETS + 3):
        assert after[f"__FC_{i}"][1]["max-age"] == "0"


# --------------------------------------------------------------------------- pristine copies


def test_the_plaintext_rebuilds_the_session_with_its_connection_tokens() -> None:
    """The middleware rebuilds the session to roll from these bytes: they must carry the
    ``__FC_*`` entries, or a rolling write would delete them."""
    s = store()
    entries = [entry(0), entry(1, login_hint="h")]
    browser = jar(write(s, session(entries)))
    found = s.read_with_plaintext(browser, NOW)
    assert found is not None
    loaded, plaintext, _ = found
    rebuilt = s.from_plaintext(plaintext, NOW)
    assert rebuilt == loaded
    assert rebuilt is not None and rebuilt.connection_token_sets == entries
    rolled = jar(write(s, rebuilt, browser))
    assert rolled["__FC_0"] != browser["__FC_0"]  # a fresh encryption ...
    again = s.read(rolled, NOW)
    assert again is not None and again.connection_token_sets == entries  # ... of the same


def test_without_connection_cookies_the_plaintext_is_the_cookie_payload() -> None:
    s = store()
    browser = jar(write(s, session([])))
    found = s.read_with_plaintext(browser, NOW)
    assert found is not None
    assert found[1] == s.codec.open(browser["__session"])


# --------------------------------------------------------------------------- stateful


@pytest.mark.anyio
async def test_a_stateful_session_keeps_them_in_the_record_and_writes_no_cookie() -> None:
    records = MemorySessionStore(clock=lambda: NOW)
    stateful = StatefulSessionStore(
        SessionConfig(), CookieCodec([SECRET]), records, issuer="https://tenant.example/"
    )
    response = Response()
    entries = [entry(0), entry(1)]
    assert await stateful.save(response, session(entries), {}, NOW, OPTIONS)
    assert [n for n, _ in response.cookies] == ["__session"]
    [(_, raw)] = records._records.values()
    assert [e["connection"] for e in json.loads(raw)["connectionTokenSets"]] == ["conn-0", "conn-1"]
    found = await stateful.load(jar(response), NOW)
    assert found is not None
    assert found[0].connection_token_sets == entries
    assert stateful.from_plaintext(found[1], NOW) == found[0]
