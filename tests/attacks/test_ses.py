"""Group D (SES): session cookie tampering, expiry, secrets, chunks, attributes, exposure."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse

from auth0_web import Auth0Client, InvalidConfigurationError, SessionData
from auth0_web.session._model import SessionInternal
from tests.support.apps import SECRET, Browser, make_client
from tests.support.scripted_op import ScriptedOP, b64url, b64url_decode

from .conftest import Harness
from .helpers import (
    SESSION_NAME,
    assert_no_session_written,
    decrypt,
    flip_char,
    full_login,
    is_deletion,
    session_cookie_header,
    session_set_cookies,
    set_cookies,
    txn_set_cookies,
)

pytestmark = pytest.mark.anyio

OTHER_SECRET = "other-app-secret-0123456789abcdef0123456789"
NEW_SECRET = "rotated-secret-0123456789abcdef0123456789ab"
NO_STORE = "private, no-cache, no-store, must-revalidate, max-age=0"
DEFAULT_CLAIMS = {
    "sub",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
    "email",
    "email_verified",
    "org_id",
    "act",
    "urn:auth0:my_org_current_user_permissions",
}


async def logged_in(h: Harness, op: ScriptedOP, client: Auth0Client | None = None):
    browser = h.browser(client or h.client())
    response = await full_login(browser, op)
    assert response.status_code == 307, response.text
    return browser


async def assert_anonymous_everywhere(browser: Browser) -> None:
    """NO-SESSION on every surface: SDK route, app routes, helpers; never 500."""
    profile = await browser.get("/auth/profile")
    assert profile.status_code == 401 and profile.content == b""
    assert_no_session_written(profile)
    home = await browser.get("/")
    assert home.status_code == 200 and home.json() == {"user": None}
    assert_no_session_written(home)
    api = await browser.get("/api/private")
    assert api.status_code == 401
    me = await browser.get("/me")
    assert me.status_code == 401
    maybe = await browser.get("/maybe")
    assert maybe.json() == {"logged_in": False}
    page = await browser.get("/protected")
    assert page.status_code == 307 and page.headers["location"].startswith("/auth/login")
    for response in (profile, home, api, me, maybe, page):
        assert response.status_code != 500
        for word in ("decrypt", "invalidtag", "traceback", "jwe", "cipher"):
            assert word not in response.text.lower()


# --------------------------------------------------------------------------------------
# SES-01  tampered session cookie
# --------------------------------------------------------------------------------------


def _tamper_jwe(value: str, how: str) -> str:
    parts = value.split(".")
    if how == "flip-header":
        parts[0] = flip_char(parts[0], 10)
    elif how == "flip-iv":
        parts[2] = flip_char(parts[2], 4)
    elif how == "flip-ciphertext":
        parts[3] = flip_char(parts[3])
    elif how == "flip-tag":
        parts[4] = flip_char(parts[4], 4)
    elif how == "truncate":
        return value[: len(value) - 40]
    elif how == "drop-tag":
        parts = parts[:4]
    elif how == "empty-tag":
        parts[4] = ""
    elif how == "sixth-part":
        parts.append("AAAA")
    elif how == "empty-parts":
        return "...."
    elif how == "random-base64":
        return b64url(b"\x01" * 600)
    elif how == "non-base64":
        parts[3] = parts[3][:10] + "!*~" + parts[3][13:]
    elif how == "encrypted-key-set":
        parts[1] = "AAAA"
    elif how == "huge":
        parts[3] = "A" * 200_000
    return ".".join(parts)


@pytest.mark.parametrize(
    "how",
    [
        "flip-header",
        "flip-iv",
        "flip-ciphertext",
        "flip-tag",
        "truncate",
        "drop-tag",
        "empty-tag",
        "sixth-part",
        "empty-parts",
        "random-base64",
        "non-base64",
        "encrypted-key-set",
        "huge",
    ],
)
async def test_ses01_tampered_session_cookie(h: Harness, op: ScriptedOP, how: str) -> None:
    browser = await logged_in(h, op)
    browser.cookies[SESSION_NAME] = _tamper_jwe(browser.cookies[SESSION_NAME], how)
    await assert_anonymous_everywhere(browser)


# --------------------------------------------------------------------------------------
# SES-02  JWE header substitution, compression and size
# --------------------------------------------------------------------------------------

SES02_HEADERS: dict[str, dict[str, Any]] = {
    "alg-none": {"alg": "none", "enc": "A256GCM"},
    "alg-rsa-oaep": {"alg": "RSA-OAEP", "enc": "A256GCM"},
    "alg-a256kw": {"alg": "A256KW", "enc": "A256GCM"},
    "alg-pbes2-huge-p2c": {
        "alg": "PBES2-HS512+A256KW",
        "enc": "A256GCM",
        "p2c": 2147483647,
        "p2s": "AAAAAAAAAAAAAAAAAAAAAA",
    },
    "enc-cbc": {"alg": "dir", "enc": "A128CBC-HS256"},
    "zip-def": {"alg": "dir", "enc": "A256GCM", "zip": "DEF"},
    "crit": {"alg": "dir", "enc": "A256GCM", "crit": ["x"], "x": 1},
    "extra-member": {"alg": "dir", "enc": "A256GCM", "kid": "k"},
    "dup-alg-text": '{"alg":"A256KW","alg":"dir","enc":"A256GCM"}',  # type: ignore[dict-item]
}


@pytest.mark.parametrize("variant", [*SES02_HEADERS, "1MB-ciphertext", "1MB-header"])
async def test_ses02_jwe_header_substitution(h: Harness, op: ScriptedOP, variant: str) -> None:
    """SES-02: refused before any cryptography: no AES-GCM attempt (so no key wrap, PBKDF2
    or inflate either), except for a header that really reads ``{alg: dir, enc: A256GCM}``
    (duplicate members, last one wins), whose changed bytes then fail the GCM tag."""
    client = h.client()
    browser = await logged_in(h, op, client)
    attempts: list[int] = []

    class CountingAead:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def decrypt(self, *args: Any) -> Any:
            attempts.append(1)
            return self.inner.decrypt(*args)

    codec = client._rt.codec
    codec._aesgcm_decrypt = tuple(CountingAead(a) for a in codec._aesgcm_decrypt)
    parts = browser.cookies[SESSION_NAME].split(".")
    if variant == "1MB-ciphertext":
        parts[3] = "A" * (1024 * 1024)
    elif variant == "1MB-header":
        parts[0] = b64url(json.dumps({"alg": "dir", "enc": "A256GCM", "p": "x" * 800_000}))
    else:
        header = SES02_HEADERS[variant]
        text = header if isinstance(header, str) else json.dumps(header)
        parts[0] = b64url(text)
        if variant.startswith("alg-") and variant != "alg-none":
            parts[1] = b64url(b"\x00" * 40)
    browser.cookies[SESSION_NAME] = ".".join(parts)
    profile = await browser.get("/auth/profile")
    assert profile.status_code == 401
    assert len(attempts) == (1 if variant == "dup-alg-text" else 0), (variant, attempts)
    await assert_anonymous_everywhere(browser)


# --------------------------------------------------------------------------------------
# SES-03  replaying an expired session cookie
# --------------------------------------------------------------------------------------


async def test_ses03_replay_after_inactivity(h: Harness, op: ScriptedOP) -> None:
    fake_now = [time.time()]
    client = h.client(
        clock=lambda: fake_now[0],
        session={"inactivity_duration": 600, "absolute_duration": 3600},
    )
    browser = await logged_in(h, op, client)
    saved = dict(browser.cookies)
    fake_now[0] += 600 + 16  # past inactivity (and the codec's 15 s tolerance)
    browser.cookies.clear()
    browser.cookies.update(saved)
    await assert_anonymous_everywhere(browser)


async def test_ses03_replay_after_default_inactivity(h: Harness, op: ScriptedOP) -> None:
    fake_now = [time.time()]
    browser = await logged_in(h, op, h.client(clock=lambda: fake_now[0]))
    fake_now[0] += 24 * 3600 + 60
    await assert_anonymous_everywhere(browser)


async def test_ses03_absolute_duration_while_rolling(h: Harness, op: ScriptedOP) -> None:
    t0 = time.time()
    fake_now = [t0]
    client = h.client(
        clock=lambda: fake_now[0],
        session={"inactivity_duration": 600, "absolute_duration": 3600},
    )
    browser = await logged_in(h, op, client)
    first_cookie = browser.cookies[SESSION_NAME]
    step = 300
    while fake_now[0] + step < t0 + 3600:
        fake_now[0] += step
        response = await browser.get("/")
        assert response.json()["user"] is not None, fake_now[0] - t0
        written = session_set_cookies(response)
        if not written:
            # Not re-issued: only allowed when re-issuing could not move the expiry, because
            # the cookie already ends at the absolute deadline.
            current = decrypt(browser.cookies[SESSION_NAME])
            assert current is not None and current["exp"] >= t0 + 3600 - 1, fake_now[0] - t0
            continue
        [(_, value, attrs)] = written
        assert value and int(attrs["max-age"]) <= t0 + 3600 - int(fake_now[0]) + 1
        payload = decrypt(value)
        assert payload is not None and payload["exp"] <= t0 + 3600 + 1

    # The first cookie was rolled long ago: replaying it now gives nothing.
    replay = h.browser(client)
    replay.cookies[SESSION_NAME] = first_cookie
    await assert_anonymous_everywhere(replay)

    fake_now[0] = t0 + 3600 + 1  # busy all along, but the absolute duration is over
    await assert_anonymous_everywhere(browser)
    fake_now[0] = t0 + 3600 + 120
    await assert_anonymous_everywhere(browser)


# --------------------------------------------------------------------------------------
# SES-05  secret handling
# --------------------------------------------------------------------------------------


async def test_ses05_foreign_secret_rejected(h: Harness, op: ScriptedOP) -> None:
    foreign = await logged_in(h, op, h.client(secret=OTHER_SECRET))
    ours = h.browser(h.client())
    ours.cookies.update(foreign.cookies)
    await assert_anonymous_everywhere(ours)


async def test_ses05_rotation_accepts_old_and_reencrypts(h: Harness, op: ScriptedOP) -> None:
    old = await logged_in(h, op, h.client(secret=SECRET))
    old_value = old.cookies[SESSION_NAME]

    rotated = h.browser(h.client(secret=[NEW_SECRET, SECRET]))
    rotated.cookies[SESSION_NAME] = old_value
    assert (await rotated.get("/auth/profile")).status_code == 200
    rolled = await rotated.get("/")
    assert rolled.json()["user"] is not None
    [(_, new_value, _)] = session_set_cookies(rolled)
    assert new_value != old_value
    assert decrypt(new_value, [NEW_SECRET]) is not None
    assert decrypt(new_value, [SECRET]) is None  # written with the new secret only

    retired = h.browser(h.client(secret=NEW_SECRET))
    retired.cookies[SESSION_NAME] = old_value
    await assert_anonymous_everywhere(retired)
    retired.cookies[SESSION_NAME] = new_value
    assert (await retired.get("/auth/profile")).status_code == 200


@pytest.mark.parametrize(
    "secret",
    ["", "short", "x" * 31, [], ["y" * 40, "short"], ["y" * 40, ""]],
    ids=["empty", "short", "31-chars", "empty-list", "list-with-short", "list-with-empty"],
)
def test_ses05_weak_secret_is_startup_error(op: ScriptedOP, secret: Any) -> None:
    with pytest.raises(InvalidConfigurationError):
        make_client(op, client_id=op.client_id, client_secret=op.client_secret, secret=secret)


# --------------------------------------------------------------------------------------
# SES-06  chunked-cookie abuse
# --------------------------------------------------------------------------------------


def _bloat(size: int = 1500) -> Any:
    def hook(session: SessionData, id_token: str | None) -> SessionData:
        session.extra["blob"] = b64url(bytes(range(256)) * (size // 256 + 1))[:size]
        return session

    return hook


async def chunked_login(h: Harness, op: ScriptedOP) -> tuple[Auth0Client, dict[str, str]]:
    client = h.client(before_session_saved=_bloat())
    browser = await logged_in(h, op, client)
    chunks = {k: v for k, v in browser.cookies.items() if k.startswith(SESSION_NAME)}
    assert sorted(chunks) == ["__session__0", "__session__1"], sorted(chunks)
    return client, chunks


async def _profile_with(client: Auth0Client, h: Harness, cookie_header: str) -> Any:
    browser = h.browser(client)
    profile = await browser.get("/auth/profile", headers={"cookie": cookie_header})
    assert profile.status_code != 500
    home = await browser.get("/", headers={"cookie": cookie_header})
    assert home.status_code == 200
    return profile, home


@pytest.mark.parametrize(
    "variant",
    [
        "gap",
        "index-x",
        "index-huge",
        "index-negative",
        "index-leading-zero",
        "missing-zero",
        "swapped",
        "truncated-chunk",
        "too-many",
        "duplicate-first-garbage",
        "spliced",
    ],
)
async def test_ses06_inconsistent_chunks_no_session(
    h: Harness, op: ScriptedOP, variant: str
) -> None:
    client, chunks = await chunked_login(h, op)
    c0, c1 = chunks["__session__0"], chunks["__session__1"]
    pairs: list[tuple[str, str]]
    if variant == "gap":
        pairs = [("__session__0", c0), ("__session__2", c1)]
    elif variant == "index-x":
        pairs = [("__session__0", c0), ("__session__x", c1)]
    elif variant == "index-huge":
        pairs = [("__session__0", c0), ("__session__999999999", c1)]
    elif variant == "index-negative":
        pairs = [("__session__0", c0), ("__session__-1", c1)]
    elif variant == "index-leading-zero":
        pairs = [("__session__0", c0), ("__session__01", c1)]
    elif variant == "missing-zero":
        pairs = [("__session__1", c1)]
    elif variant == "swapped":
        pairs = [("__session__0", c1), ("__session__1", c0)]
    elif variant == "truncated-chunk":
        pairs = [("__session__0", c0), ("__session__1", c1[:-5])]
    elif variant == "too-many":
        pairs = [(f"__session__{i}", c1 if i else c0) for i in range(25)]
    elif variant == "duplicate-first-garbage":
        pairs = [("__session__0", "garbage"), ("__session__0", c0), ("__session__1", c1)]
    else:  # two sessions of two users, spliced
        op.scenario.user = {"sub": "auth0|second-user", "name": "Second"}
        _, other = await chunked_login(h, op)
        pairs = [("__session__0", c0), ("__session__1", other["__session__1"])]
    profile, home = await _profile_with(client, h, "; ".join(f"{k}={v}" for k, v in pairs))
    assert profile.status_code == 401
    assert home.json() == {"user": None}
    assert_no_session_written(home)


async def test_ses06_control_valid_chunks_accepted(h: Harness, op: ScriptedOP) -> None:
    client, chunks = await chunked_login(h, op)
    header = "; ".join(f"{k}={v}" for k, v in chunks.items())
    profile, _ = await _profile_with(client, h, header)
    assert profile.status_code == 200


async def test_ses06_base_cookie_wins_over_chunks(h: Harness, op: ScriptedOP) -> None:
    """Documented rule: a non-empty ``__session`` wins over ``__session__N`` chunks."""
    client, chunks = await chunked_login(h, op)
    op.scenario.user = {"sub": "auth0|base-cookie-user", "name": "Base"}
    plain = await logged_in(h, op, h.client())
    base = plain.cookies[SESSION_NAME]
    header = f"__session={base}; " + "; ".join(f"{k}={v}" for k, v in chunks.items())
    profile, _ = await _profile_with(client, h, header)
    assert profile.json()["sub"] == "auth0|base-cookie-user"
    # A garbage base does not fall back to the chunks either.
    header = "__session=garbage; " + "; ".join(f"{k}={v}" for k, v in chunks.items())
    profile, _ = await _profile_with(client, h, header)
    assert profile.status_code == 401


# --------------------------------------------------------------------------------------
# SES-10  cookie attributes and deletion
# --------------------------------------------------------------------------------------


def _assert_attrs(
    attrs: dict[str, str], *, secure: bool, same_site: str = "Lax", domain: str | None = None
) -> None:
    assert "httponly" in attrs
    assert attrs.get("path") == "/"
    assert attrs.get("samesite") == same_site
    assert ("secure" in attrs) is secure
    assert attrs.get("domain") == domain


async def _attribute_walk(
    browser: Browser,
    op: ScriptedOP,
    *,
    secure: bool,
    same_site: str = "Lax",
    domain: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    headers = headers or {}
    login = await browser.get("/auth/login", headers=headers)
    [(name, _, attrs)] = txn_set_cookies(login)
    _assert_attrs(attrs, secure=secure)
    assert 0 < int(attrs["max-age"]) <= 3600

    callback = await browser.get(await op.alogin(login.headers["location"]), headers=headers)
    assert callback.status_code == 307
    for cookie_name, _, attrs in set_cookies(callback):
        if cookie_name.startswith("__txn_"):
            assert cookie_name == name and is_deletion(attrs)
            assert attrs["expires"].endswith("1970 00:00:00 GMT")
            _assert_attrs(attrs, secure=secure)
        else:
            assert cookie_name == SESSION_NAME and not is_deletion(attrs)
            assert 0 < int(attrs["max-age"]) <= 86400
            _assert_attrs(attrs, secure=secure, same_site=same_site, domain=domain)

    rolled = await browser.get("/", headers=headers)
    for _, _, attrs in session_set_cookies(rolled):
        _assert_attrs(attrs, secure=secure, same_site=same_site, domain=domain)

    browser.cookies["__txn_leftover-abcdefghijklmnop"] = "1:x"
    logout = await browser.get("/auth/logout", headers=headers)
    deleted = set_cookies(logout)
    assert {n for n, _, _ in deleted} == {SESSION_NAME, "__txn_leftover-abcdefghijklmnop"}
    for cookie_name, value, attrs in deleted:
        assert value == "" and is_deletion(attrs)
        if cookie_name == SESSION_NAME:
            _assert_attrs(attrs, secure=secure, same_site=same_site, domain=domain)
        else:
            _assert_attrs(attrs, secure=secure)


async def test_ses10_cookie_attributes_http_base(h: Harness, op: ScriptedOP) -> None:
    await _attribute_walk(h.browser(), op, secure=False)


@pytest.mark.parametrize("scheme", ["https", "http"], ids=["tls-to-app", "tls-terminated"])
@pytest.mark.parametrize("bases", ["static", "allow-list"])
async def test_ses10_https_base_always_secure(
    h: Harness, op: ScriptedOP, scheme: str, bases: str
) -> None:
    app_base: Any = "https://127.0.0.1:3000"
    if bases == "allow-list":
        app_base = ["https://127.0.0.1:3000", "https://localhost:3000"]
        scheme = "https"  # an allow-list matches the request's own origin
    client = h.client(app_base_url=app_base)
    browser = h.browser(client, base_url=f"{scheme}://127.0.0.1:3000")
    spoof = {"x-forwarded-proto": "http", "forwarded": "proto=http"}
    await _attribute_walk(browser, op, secure=True, headers=spoof)


async def test_ses10_configured_domain_and_same_site(h: Harness, op: ScriptedOP) -> None:
    client = h.client(
        app_base_url="https://127.0.0.1:3000",
        session={"cookie": {"domain": "127.0.0.1", "same_site": "strict"}},
    )
    browser = h.browser(client, base_url="https://127.0.0.1:3000")
    await _attribute_walk(browser, op, secure=True, same_site="Strict", domain="127.0.0.1")


def test_ses10_same_site_none_requires_secure(op: ScriptedOP) -> None:
    with pytest.raises(InvalidConfigurationError):
        make_client(
            op,
            client_id=op.client_id,
            client_secret=op.client_secret,
            session={"cookie": {"same_site": "none", "secure": False}},
        )


# --------------------------------------------------------------------------------------
# SES-11  caching and CORS
# --------------------------------------------------------------------------------------


def _cached_app(auth0: Auth0Client) -> Any:
    app = FastAPI()

    @app.get("/cached")
    async def cached() -> PlainTextResponse:
        return PlainTextResponse("hi", headers={"cache-control": "public, max-age=3600"})

    return auth0.middleware(app)


def _assert_no_store(response: Any) -> None:
    assert response.headers.get_list("cache-control") == [NO_STORE], response.headers
    assert response.headers.get("pragma") == "no-cache"
    assert response.headers.get("expires") == "0"


def _assert_no_cors(response: Any) -> None:
    for name in response.headers:
        assert not name.lower().startswith("access-control-"), name


async def test_ses11_no_store_and_no_cors(h: Harness, op: ScriptedOP) -> None:
    client = h.client()
    browser = h.browser(client)
    evil = {"origin": "https://evil.example"}

    anonymous = await browser.get("/auth/profile", headers=evil)
    assert anonymous.status_code == 401
    _assert_no_store(anonymous)
    _assert_no_cors(anonymous)

    failed = await browser.get("/auth/callback?state=x", headers=evil)
    assert "no-store" in failed.headers["cache-control"]
    _assert_no_cors(failed)

    callback = await full_login(browser, op, headers=evil)
    assert callback.status_code == 307
    _assert_no_store(callback)
    _assert_no_cors(callback)

    profile = await browser.get("/auth/profile", headers=evil)
    assert profile.status_code == 200
    _assert_no_store(profile)
    _assert_no_cors(profile)

    # A fresh cookie is not re-issued (rolling_write_interval), yet the response was made
    # for a logged-in user and is kept out of shared caches all the same.
    rolled = await browser.get("/", headers=evil)
    assert not session_set_cookies(rolled)
    _assert_no_store(rolled)
    _assert_no_cors(rolled)

    preflight = await browser.request(
        "OPTIONS",
        "/auth/profile",
        headers={**evil, "access-control-request-method": "GET"},
    )
    _assert_no_cors(preflight)
    assert preflight.status_code in (404, 405)  # not an SDK route: no permissive preflight

    cached_browser = h.browser(_cached_app(client))
    cached_browser.cookies.update(browser.cookies)
    cached = await cached_browser.get("/cached", headers=evil)
    # The app's "public" must not survive on a response made for a logged-in user, whether
    # or not the cookie is re-issued on it.
    _assert_no_store(cached)
    every_time = h.client(session={"rolling_write_interval": 0})
    rolling_browser = h.browser(_cached_app(every_time))
    rolling_browser.cookies.update(browser.cookies)
    cached = await rolling_browser.get("/cached", headers=evil)
    assert session_set_cookies(cached)  # rolled
    _assert_no_store(cached)

    logout = await browser.get("/auth/logout", headers=evil)
    assert logout.status_code == 307
    _assert_no_store(logout)
    _assert_no_cors(logout)


# --------------------------------------------------------------------------------------
# SES-12  what is exposed to the browser
# --------------------------------------------------------------------------------------


def _id_token_claims(op: ScriptedOP) -> dict[str, Any]:
    token = op.token_responses[-1]["id_token"]
    return json.loads(b64url_decode(token.split(".")[1]))


async def test_ses12_profile_exposes_only_user_claims(h: Harness, op: ScriptedOP) -> None:
    op.scenario.always_refresh_token = True
    browser = await logged_in(h, op)
    profile = await browser.get("/auth/profile")
    body = profile.json()
    assert set(body) <= DEFAULT_CLAIMS
    for forbidden in ("tokenSet", "internal", "sid", "nonce", "exp", "iat", "aud", "iss"):
        assert forbidden not in body
    tokens = op.token_responses[-1]
    for key in ("access_token", "id_token", "refresh_token"):
        assert tokens[key] not in profile.text
    assert _id_token_claims(op)["sid"] not in profile.text
    assert op.client_secret not in profile.text


def _tamper_app(auth0: Auth0Client) -> Any:
    app = FastAPI()

    @app.post("/tamper/{how}")
    async def tamper(how: str, request: Request) -> JSONResponse:
        session = await auth0.get_session()
        assert session is not None
        if how in ("in-place", "in-place-no-update"):
            session.internal.sid = "attacker-sid"
            session.internal.created_at += 10**6
            session.internal.session_expires_at = None
            if how == "in-place-no-update":  # only the rolling write sees it
                return JSONResponse({"ok": True})
        elif how == "replace":
            session.internal = SessionInternal(sid="attacker-sid", created_at=10**10)
        elif how == "extra-key":
            session.extra["internal"] = {"sid": "attacker-sid", "createdAt": 10**10}
        elif how == "new-object":
            session = SessionData(
                user=session.user,
                token_set=session.token_set,
                internal=SessionInternal(sid="attacker-sid", created_at=10**10),
            )
        elif how == "mutate-after-update":
            session.extra["theme"] = "dark"
            await auth0.update_session(session)
            pending = await auth0.get_session()  # the object that will be written
            assert pending is not None
            pending.internal.sid = "attacker-sid"
            pending.internal.created_at += 10**6
            return JSONResponse({"ok": True})
        await auth0.update_session(session)
        return JSONResponse({"ok": True})

    return auth0.middleware(app)


def _internal_of(browser: Browser) -> dict[str, Any]:
    payload = decrypt(session_cookie_header(browser).split("=", 1)[1])
    assert payload is not None
    return payload["internal"]


@pytest.mark.parametrize(
    "how",
    ["in-place", "replace", "extra-key", "new-object", "in-place-no-update", "mutate-after-update"],
)
async def test_ses12_update_session_cannot_change_internal(
    h: Harness, op: ScriptedOP, how: str
) -> None:
    client = h.client()
    browser = await logged_in(h, op, client)
    before = _internal_of(browser)
    assert before["sid"] == _id_token_claims(op)["sid"]

    tamper = h.browser(_tamper_app(client))
    tamper.cookies.update(browser.cookies)
    response = await tamper.post(f"/tamper/{how}")
    assert response.status_code == 200
    after = _internal_of(tamper)
    assert after == before


@pytest.mark.parametrize("how", ["in-place", "new-object"])
async def test_ses12_hook_cannot_change_internal(h: Harness, op: ScriptedOP, how: str) -> None:
    def hook(session: SessionData, id_token: str | None) -> SessionData:
        if how == "in-place":
            session.internal.sid = "attacker-sid"
            session.internal.created_at = 10**10
            session.internal.extra["injected"] = True
            return session
        return SessionData(
            user={"sub": session.user["sub"]},
            token_set=session.token_set,
            internal=SessionInternal(sid="attacker-sid", created_at=10**10),
        )

    browser = await logged_in(h, op, h.client(before_session_saved=hook))
    internal = _internal_of(browser)
    assert internal["sid"] == _id_token_claims(op)["sid"]
    assert abs(internal["createdAt"] - time.time()) < 60
    assert "injected" not in internal
