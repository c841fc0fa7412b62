"""Session cookies: chunk sets, the JWE codec, the cookie-only store and its decoded-session
cache, Token Vault cookies and ``SessionData.from_dict``.

Invariants: nothing here raises on any input; a modified JWE never opens (SES-01); a chunk
set is read only when it is whole and contiguous (SES-06); a mutated cookie is never served
from the decoded-session cache; whatever authenticated plaintext a cookie holds (another app
sharing the secret may have written it), a session is either refused or one the SDK can
write back.
"""

from __future__ import annotations

import json
import time

from hypothesis import assume, given
from hypothesis import strategies as st

from auth0_web._config import SessionConfig
from auth0_web._http import CookieOptions, Response, parse_cookie_header
from auth0_web.session._chunks import MAX_CHUNKS, read_chunked, write_chunked
from auth0_web.session._codec import MAX_JWE_LENGTH, CookieCodec, loads_strict
from auth0_web.session._connection_cookies import (
    MAX_CONNECTION_TOKEN_SETS,
    read_connection_cookies,
)
from auth0_web.session._model import ConnectionTokenSet, SessionData, SessionInternal, TokenSet
from auth0_web.session._stateless import StatelessSessionStore
from tests.support.apps import parse_set_cookie

from .harness import fuzz, seal
from .strategies import (
    B64URL_ALPHABET,
    TRICKY_DIGITS,
    compact_junk,
    cookie_headers,
    dump,
    hostile_numbers,
    json_documents,
    json_values,
    latin1_text,
    members,
    mutations,
    nonempty_text,
    numeric_dates,
    optional,
    or_hostile,
    unicode_text,
)

SECRET = "fuzz-cookie-secret-0123456789abcdef-0123456789"
OTHER_SECRET = "another-apps-secret-0123456789abcdef-01234567"
NOW = int(time.time())
NAME = "__session"
CODEC = CookieCodec([SECRET])


def make_session(sub: str = "auth0|fuzz", size: int = 0) -> SessionData:
    return SessionData(
        user={"sub": sub, "name": "x" * size},
        token_set=TokenSet(access_token="at-" + sub, expires_at=NOW + 3600, token_type="Bearer"),
        internal=SessionInternal(sid="sid-" + sub, created_at=NOW),
    )


def written_cookies(session: SessionData, store: StatelessSessionStore) -> dict[str, str]:
    response = Response()
    store.write(response, session, {}, NOW, CookieOptions())
    return {n: h.split(";", 1)[0].split("=", 1)[1] for n, h in response.cookies}


def new_store() -> StatelessSessionStore:
    return StatelessSessionStore(SessionConfig(), CookieCodec([SECRET]))


# ------------------------------------------------------------------ chunk sets

chunk_suffixes = st.one_of(
    st.integers(0, 25).map(str),
    st.sampled_from(["01", "000", "-1", "x", " 1", "1 ", "999999999", "1e3", "", *TRICKY_DIGITS]),
)


@st.composite
def chunk_sets(draw: st.DrawFn) -> dict[str, str]:
    cookies: dict[str, str] = {}
    if draw(st.booleans()):
        cookies[NAME] = draw(st.sampled_from(["", "whole"]))
    for suffix in draw(st.lists(chunk_suffixes, max_size=8)):
        cookies[f"{NAME}__{suffix}"] = draw(st.text(st.sampled_from("abc.-_"), max_size=4))
    if draw(st.booleans()):  # a contiguous run, as a browser holding a real session sends it
        for index in range(draw(st.integers(1, 24))):
            cookies.setdefault(f"{NAME}__{index}", f"<{index}>")
    cookies.update(draw(st.dictionaries(latin1_text(8), latin1_text(8), max_size=2)))
    return cookies


@fuzz(1.0)
@given(chunk_sets())
def test_a_chunk_set_is_read_whole_or_not_at_all(cookies: dict[str, str]) -> None:
    value = read_chunked(NAME, cookies)
    if value is None:
        return
    if cookies.get(NAME):
        assert value == cookies[NAME]
        return
    chunk_names = [
        k
        for k in cookies
        if k.startswith(NAME + "__")
        and k[len(NAME) + 2 :].isascii()
        and k[len(NAME) + 2 :].isdigit()
    ]
    count = len(chunk_names)
    assert 0 < count <= MAX_CHUNKS
    assert sorted(chunk_names) == sorted(f"{NAME}__{i}" for i in range(count)), chunk_names
    assert value == "".join(cookies[f"{NAME}__{i}"] for i in range(count))


def browser_apply(jar: dict[str, str], response: Response) -> dict[str, str]:
    """What a browser holds after a response: last Set-Cookie per name wins."""
    jar = dict(jar)
    for _, header in response.cookies:
        name, value, attrs = parse_set_cookie(header)
        if attrs.get("max-age") is not None and int(attrs["max-age"]) <= 0:
            jar.pop(name, None)
        else:
            jar[name] = value
    return jar


@fuzz(0.5)
@given(
    st.one_of(
        st.text(st.sampled_from(B64URL_ALPHABET + "."), min_size=1, max_size=200),
        st.integers(1, 16).map(lambda n: "Q" * (n * 1700 + 3)),
    ),
    chunk_sets(),
)
def test_written_chunks_read_back_over_whatever_the_browser_held(
    value: str, held: dict[str, str]
) -> None:
    response = Response()
    write_chunked(response, NAME, value, CookieOptions(), 3600, held)
    assert read_chunked(NAME, browser_apply(held, response)) == value


# ------------------------------------------------------------------ the JWE codec


@fuzz(1.0)
@given(st.one_of(compact_junk(), latin1_text(300)))
def test_arbitrary_strings_never_open(value: str) -> None:
    assert CODEC.open(value) is None
    assert CODEC.open_with_key(value) is None
    assert CODEC.decrypt(value, now=NOW) is None


VALID = CODEC.encrypt({"sub": "auth0|fuzz", "n": 1}, exp=NOW + 3600)
VALID_LONG = CODEC.encrypt({"sub": "auth0|fuzz", "pad": "p" * 301}, exp=NOW + 3600)


@fuzz(2.0)
@given(st.one_of(mutations(VALID), mutations(VALID_LONG)))
def test_a_modified_jwe_never_opens(value: str) -> None:
    assert CODEC.open(value) is None, value
    assert CODEC.decrypt(value, now=NOW) is None


@fuzz(1.0)
@given(json_documents())
def test_authenticated_plaintext_of_any_shape_gives_claims_or_none(plaintext: bytes) -> None:
    sealed = seal(plaintext)
    if len(sealed) > MAX_JWE_LENGTH:
        assert CODEC.open(sealed) is None  # refused unopened, whatever it holds
        return
    assert CODEC.open(sealed) == plaintext
    claims = CODEC.decrypt(sealed, now=NOW)
    if claims is None:
        return
    assert isinstance(claims, dict)
    exp = claims["exp"]
    assert isinstance(exp, int | float) and not isinstance(exp, bool)
    assert NOW - CODEC.clock_tolerance < exp < 1e11
    json.dumps(claims, allow_nan=False)  # what the SDK writes back must be JSON


@fuzz(0.3)
@given(json_documents())
def test_another_apps_secret_never_opens(plaintext: bytes) -> None:
    assert CODEC.decrypt(seal(plaintext, OTHER_SECRET), now=NOW) is None


# ------------------------------------------------------------------ SessionData.from_dict

text_or_hostile = or_hostile(unicode_text(20))
token_set_docs = members(
    {
        "accessToken": text_or_hostile,
        "expiresAt": numeric_dates(NOW + 3600),
        "idToken": text_or_hostile,
        "refreshToken": text_or_hostile,
        "scope": text_or_hostile,
        "requestedScope": text_or_hostile,
        "audience": text_or_hostile,
        "token_type": or_hostile(st.sampled_from(["Bearer", "DPoP"])),
    }
)
access_token_docs = members(
    {
        "accessToken": text_or_hostile,
        "expiresAt": numeric_dates(NOW + 3600),
        "audience": text_or_hostile,
        "scope": text_or_hostile,
    }
)
connection_docs = members(
    {
        "accessToken": text_or_hostile,
        "expiresAt": numeric_dates(NOW + 3600),
        "connection": text_or_hostile,
        "loginHint": text_or_hostile,
    }
)
session_docs = optional(
    {
        "user": or_hostile(
            st.builds(
                lambda sub, extra: {**extra, "sub": sub},
                or_hostile(nonempty_text()),
                st.dictionaries(unicode_text(8), json_values, max_size=3),
            )
        ),
        "tokenSet": or_hostile(token_set_docs),
        "internal": or_hostile(
            members(
                {
                    "sid": text_or_hostile,
                    "createdAt": numeric_dates(NOW - 60),
                    "sessionExpiresAt": or_hostile(st.integers(NOW - 100, NOW + 10**6)),
                }
            )
        ),
        "accessTokens": or_hostile(st.lists(or_hostile(access_token_docs), max_size=3)),
        "connectionTokenSets": or_hostile(st.lists(or_hostile(connection_docs), max_size=3)),
        "exp": st.one_of(st.integers(NOW - 100, NOW + 10**5), hostile_numbers()),
    },
    required=["user", "tokenSet", "internal", "exp"],
)


@fuzz(1.0)
@given(st.one_of(session_docs, session_docs, json_values).map(dump))
def test_from_dict_builds_a_writable_session_or_refuses(text: str) -> None:
    try:
        data = loads_strict(text)
    except (ValueError, RecursionError):
        return
    assume(isinstance(data, dict))
    try:
        session = SessionData.from_dict(data)
    except ValueError:
        return
    encoded = json.dumps(session.to_dict(), allow_nan=False)
    again = SessionData.from_dict(json.loads(encoded))
    assert again.to_dict() == session.to_dict()


@fuzz(1.0)
@given(session_docs.map(dump))
def test_the_store_refuses_or_round_trips_any_authenticated_session(text: str) -> None:
    """Whatever a cookie sealed with the secret holds: no session, or one that can be
    written back (a rolling write must never fail on it)."""
    store = new_store()
    cookies = {NAME: seal(text.encode())}
    loaded = store.read_with_plaintext(cookies, NOW)
    if loaded is None:
        assert store.read_header(f"{NAME}={cookies[NAME]}", NOW) is None
        return
    response = Response()
    store.write(response, loaded.session, cookies, NOW, CookieOptions())
    again = store.read(browser_apply(cookies, response), NOW)
    assert again is not None and again.to_dict() == loaded.session.to_dict()


# ------------------------------------------------------------------ the decoded-session cache

SMALL = written_cookies(make_session(), new_store())
LARGE = written_cookies(make_session(size=6000), new_store())
OTHER_LARGE = written_cookies(make_session("auth0|other", size=6000), new_store())
assert len(LARGE) > 1 and len(OTHER_LARGE) == len(LARGE)
CACHED_STORE = new_store()


@fuzz(1.0)
@given(mutations(SMALL[NAME]), cookie_headers())
def test_a_mutated_cookie_is_never_served_from_the_cache(mutated: str, junk: str) -> None:
    store = CACHED_STORE
    original = f"{NAME}={SMALL[NAME]}"
    first = store.read_header(original, NOW)
    assert first is not None  # and now cached, by value and by header
    assert store.read_with_plaintext({NAME: SMALL[NAME]}, NOW) is not None
    assert store.read_with_plaintext({NAME: mutated}, NOW) is None
    header = f"{NAME}={mutated}" + ("; " + junk if junk else "")
    found = store.read_header(header, NOW)
    if found is not None:
        # Only when the browser-style parse of the header yields the original cookie.
        assert read_chunked(NAME, parse_cookie_header(header)) == SMALL[NAME], header
        assert found.session.to_dict() == first.session.to_dict()


@fuzz(0.5)
@given(st.lists(st.booleans(), min_size=len(LARGE), max_size=len(LARGE)))
def test_chunks_spliced_from_two_sessions_never_read(pick_other: list[bool]) -> None:
    cookies = {
        name: (OTHER_LARGE if other else LARGE)[name]
        for name, other in zip(sorted(LARGE), pick_other, strict=True)
    }
    found = new_store().read(cookies, NOW)
    if all(pick_other) or not any(pick_other):
        assert found is not None
    else:
        assert found is None


# ------------------------------------------------------------------ Token Vault cookies

connection_entry = CODEC.encrypt(
    ConnectionTokenSet(access_token="ct", expires_at=NOW + 60, connection="github").to_dict(),
    exp=NOW + 3600,
)


@st.composite
def connection_cookie_sets(draw: st.DrawFn) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for _ in range(draw(st.integers(0, 12))):
        name = "__FC_" + draw(
            st.one_of(st.integers(0, 15).map(str), st.sampled_from(["00", "x", "²", "", "-1"]))
        )
        value = draw(
            st.one_of(
                st.just(connection_entry),
                mutations(connection_entry),
                connection_docs.map(lambda d: seal(dump({**d, "exp": NOW + 60}).encode())),
                compact_junk(),
            )
        )
        cookies[name] = value
    return cookies


@fuzz(0.4)
@given(connection_cookie_sets())
def test_token_vault_cookies_give_only_complete_entries(cookies: dict[str, str]) -> None:
    entries = read_connection_cookies(CODEC, cookies, NOW)
    assert len(entries) <= MAX_CONNECTION_TOKEN_SETS
    for entry in entries:
        assert isinstance(entry.access_token, str) and entry.access_token
        assert isinstance(entry.connection, str) and entry.connection
        assert isinstance(entry.expires_at, int)
        json.dumps(entry.to_dict(), allow_nan=False)
    store = new_store()
    with_session = {**cookies, NAME: SMALL[NAME]}
    loaded = store.read_with_plaintext(with_session, NOW)
    assert loaded is not None, "junk Token Vault cookies cost the user their session"
    assert len(loaded.session.connection_token_sets) == len(entries)
