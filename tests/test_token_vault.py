"""Token Vault (``get_access_token_for_connection``) against the scripted provider: the exact
request, input checks before any call, the cache rules, and the answers a real provider
would not give (HTML, missing members, a foreign ``issued_token_type``, absurd lifetimes).

The flows against a real provider are in ``tests/integration/test_token_vault.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from auth0_web import (
    AccessTokenForConnectionError,
    Auth0Client,
    ConnectionTokenSet,
    InvalidRequestError,
    OAuth2Error,
    Request,
    Response,
    SessionData,
)
from auth0_web._connection_tokens import MAX_CONNECTION_TOKEN_SETS, exchanges_for
from auth0_web.oidc._token import TokenResponseError
from auth0_web.session._model import SessionInternal, TokenSet
from auth0_web.testing import generate_session_cookie
from tests.support.apps import SECRET, make_client
from tests.support.scripted_op import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

pytestmark = pytest.mark.anyio

GRANT = "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token"
REFRESH_TYPE = "urn:ietf:params:oauth:token-type:refresh_token"
ACCESS_TYPE = "urn:ietf:params:oauth:token-type:access_token"
FEDERATED = "http://auth0.com/oauth/token-type/federated-connection-access-token"
GOOGLE = "google-oauth2"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client_for(op: Any, **options: Any) -> Auth0Client:
    return make_client(
        op, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET, **options
    )


def now() -> int:
    return int(time.time())


def a_session(
    entries: list[ConnectionTokenSet] | None = None,
    *,
    refresh_token: str | None = "rt-alice",
    access_token: str = "at-alice",
) -> SessionData:
    return SessionData(
        user={"sub": "auth0|alice"},
        token_set=TokenSet(
            access_token=access_token,
            expires_at=now() + 3600,
            refresh_token=refresh_token,
            token_type="Bearer",
        ),
        internal=SessionInternal(sid="sid-1", created_at=now()),
        connection_token_sets=list(entries or []),
    )


def request_for(session: SessionData | None) -> Request:
    cookies = {} if session is None else generate_session_cookie(session, secret=SECRET)
    return Request(method="GET", scheme="http", host="127.0.0.1:3000", path="/", cookies=cookies)


def answer(body: dict[str, Any] | str, status: int = 200, content_type: str = "application/json"):
    raw = body if isinstance(body, str) else json.dumps(body)
    return lambda _record: (status, {"content-type": content_type}, raw.encode())


def good_answer(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": "fed-token-1",
        "expires_in": 1800,
        "scope": "calendar.events",
        "token_type": "Bearer",
        "issued_token_type": FEDERATED,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def cookies_of(response: Response) -> dict[str, str]:
    """name -> Set-Cookie header of each cookie the response writes or deletes."""
    return dict(response.cookies)


def connection_cookies(response: Response) -> dict[str, str]:
    return {n: h for n, h in response.cookies if n.startswith("__FC_")}


# --------------------------------------------------------------------------- the request


async def test_the_exchange_request_and_a_valid_answer(scripted_op: Any) -> None:
    scripted_op.scenario.responses["/oauth/token"] = answer(good_answer())
    auth0 = client_for(scripted_op)
    response = Response()
    token = await auth0.get_access_token_for_connection(
        request_for(a_session()), response, connection=GOOGLE, login_hint="alice@gmail.com"
    )
    [call] = scripted_op.calls("/oauth/token")
    assert call.form == {
        "grant_type": GRANT,
        "connection": GOOGLE,
        "subject_token_type": REFRESH_TYPE,
        "subject_token": "rt-alice",
        "requested_token_type": FEDERATED,
        "login_hint": "alice@gmail.com",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }
    assert token.token == "fed-token-1"
    assert token.scope == "calendar.events"
    assert token.connection == GOOGLE
    assert abs(token.expires_at - (now() + 1800)) <= 2
    assert "fed-token-1" not in repr(token)
    # Saved to the response passed in, as its own cookie, with no-store.
    assert list(connection_cookies(response)) == ["__FC_0"]
    assert ("cache-control", "private, no-cache, no-store, must-revalidate, max-age=0") in (
        response.headers
    )
    browser = {n: h.split(";", 1)[0].split("=", 1)[1] for n, h in response.cookies}
    saved = await auth0.get_session(
        Request(method="GET", scheme="http", host="127.0.0.1:3000", path="/", cookies=browser)
    )
    assert saved is not None
    assert saved.connection_token_sets == [
        ConnectionTokenSet(
            access_token="fed-token-1",
            expires_at=token.expires_at,
            connection=GOOGLE,
            scope="calendar.events",
            login_hint="alice@gmail.com",
        )
    ]


async def test_an_answer_without_lifetime_or_issued_type_is_accepted(scripted_op: Any) -> None:
    scripted_op.scenario.responses["/oauth/token"] = answer(
        good_answer(expires_in=None, issued_token_type=None, scope=None)
    )
    token = await client_for(scripted_op).get_access_token_for_connection(
        request_for(a_session()), Response(), connection=GOOGLE
    )
    assert abs(token.expires_at - (now() + 3600)) <= 2
    assert token.scope is None
    assert "login_hint" not in scripted_op.last("/oauth/token").form


async def test_the_access_token_subject_sends_the_sessions_access_token(scripted_op: Any) -> None:
    scripted_op.scenario.responses["/oauth/token"] = answer(good_answer())
    await client_for(scripted_op).get_access_token_for_connection(
        request_for(a_session(access_token="at-live")),
        Response(),
        connection=GOOGLE,
        subject_token_type=ACCESS_TYPE,
    )
    form = scripted_op.last("/oauth/token").form
    assert form["subject_token_type"] == ACCESS_TYPE
    assert form["subject_token"] == "at-live"


# --------------------------------------------------------------------------- bad answers


@pytest.mark.parametrize(
    ("respond", "cause_type", "cause_code"),
    [
        (
            answer("<html><body>Sign in</body></html>", content_type="text/html"),
            TokenResponseError,
            None,
        ),
        (answer("<html>oops</html>", 502, "text/html"), TokenResponseError, None),
        (answer(good_answer(access_token=None)), TokenResponseError, None),
        (answer(good_answer(access_token="")), TokenResponseError, None),
        (answer(good_answer(issued_token_type=ACCESS_TYPE)), TokenResponseError, None),
        (answer(good_answer(expires_in=10**12)), TokenResponseError, None),
        (answer(good_answer(expires_in=-5)), TokenResponseError, None),
        (answer(good_answer(expires_in="3600")), TokenResponseError, None),
        (answer(good_answer(token_type="mac")), TokenResponseError, None),
        (answer(good_answer(), content_type="text/plain"), TokenResponseError, None),
        (answer("[1, 2]"), TokenResponseError, None),
        (
            answer(
                {
                    "error": "federated_connection_refresh_token_not_found",
                    "error_description": "Federated connection Refresh Token not found.",
                },
                401,
            ),
            OAuth2Error,
            "federated_connection_refresh_token_not_found",
        ),
        (
            answer({"error": "invalid_grant", "error_description": "rt-alice is bad"}, 400),
            OAuth2Error,
            "invalid_grant",
        ),
    ],
)
async def test_bad_answers_fail_the_exchange(
    scripted_op: Any, respond: Any, cause_type: type, cause_code: str | None
) -> None:
    scripted_op.scenario.responses["/oauth/token"] = respond
    response = Response()
    with pytest.raises(AccessTokenForConnectionError) as caught:
        await client_for(scripted_op).get_access_token_for_connection(
            request_for(a_session()), response, connection=GOOGLE
        )
    error = caught.value
    assert error.code == "failed_to_exchange_refresh_token"
    assert isinstance(error.cause, cause_type)
    if cause_code is not None:
        assert error.cause.code == cause_code
    for secret in ("rt-alice", "fed-token-1"):
        assert secret not in str(error) and secret not in repr(error)
    assert response.cookies == []  # nothing was cached, so nothing to save


async def test_a_failure_removes_the_stale_entry_and_saves_the_session(scripted_op: Any) -> None:
    scripted_op.scenario.responses["/oauth/token"] = answer({"error": "invalid_grant"}, 400)
    stale = ConnectionTokenSet("old-google", now() - 10, GOOGLE, "calendar")
    kept = ConnectionTokenSet("live-github", now() + 3600, "github", "repo")
    response = Response()
    with pytest.raises(AccessTokenForConnectionError):
        await client_for(scripted_op).get_access_token_for_connection(
            request_for(a_session([stale, kept])), response, connection=GOOGLE
        )
    written = connection_cookies(response)
    assert "Max-Age=0" in written["__FC_1"]
    assert "Max-Age=0" not in written["__FC_0"]
    auth0 = client_for(scripted_op)
    browser = {
        n: h.split(";", 1)[0].split("=", 1)[1] for n, h in response.cookies if "Max-Age=0" not in h
    }
    saved = await auth0.get_session(
        Request(method="GET", scheme="http", host="127.0.0.1:3000", path="/", cookies=browser)
    )
    assert saved is not None and saved.connection_token_sets == [kept]


async def test_a_failure_without_a_cached_entry_writes_nothing(scripted_op: Any) -> None:
    scripted_op.scenario.responses["/oauth/token"] = answer({"error": "access_denied"}, 403)
    response = Response()
    with pytest.raises(AccessTokenForConnectionError):
        await client_for(scripted_op).get_access_token_for_connection(
            request_for(a_session()), response, connection=GOOGLE
        )
    assert response.cookies == []


# --------------------------------------------------------------------------- input


@pytest.mark.parametrize(
    "options",
    [
        {"connection": None},
        {"connection": 7},
        {"connection": ""},
        {"connection": "-google"},
        {"connection": "google-"},
        {"connection": "google oauth2"},
        {"connection": "google&connection=github"},
        {"connection": "x" * 129},
        {"connection": "g\u00f6\u00f6gle"},
        {"connection": "google\n"},
        {"connection": GOOGLE, "login_hint": ""},
        {"connection": GOOGLE, "login_hint": " alice"},
        {"connection": GOOGLE, "login_hint": "alice\r\nx"},
        {"connection": GOOGLE, "login_hint": "a" * 321},
        {"connection": GOOGLE, "login_hint": 5},
        {"connection": GOOGLE, "subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        {"connection": GOOGLE, "subject_token_type": "refresh_token"},
        {"connection": GOOGLE, "subject_token_type": ""},
    ],
)
async def test_invalid_input_is_refused_before_any_call(scripted_op: Any, options: Any) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await client_for(scripted_op).get_access_token_for_connection(
            request_for(None), Response(), **options
        )
    assert caught.value.code == "invalid_request"
    assert scripted_op.requests == []  # not even discovery


@pytest.mark.parametrize(
    "connection", ["a", "x" * 128, "Username-Password-Authentication", "my_corp.saml", GOOGLE]
)
async def test_valid_connection_names_are_accepted(scripted_op: Any, connection: str) -> None:
    scripted_op.scenario.responses["/oauth/token"] = answer(good_answer())
    token = await client_for(scripted_op).get_access_token_for_connection(
        request_for(a_session()), Response(), connection=connection
    )
    assert token.connection == connection
    assert scripted_op.last("/oauth/token").form["connection"] == connection


# --------------------------------------------------------------------------- the cache


async def test_missing_session_and_missing_refresh_token(scripted_op: Any) -> None:
    auth0 = client_for(scripted_op, token_refresh_buffer=300)
    with pytest.raises(AccessTokenForConnectionError) as caught:
        await auth0.get_access_token_for_connection(request_for(None), connection=GOOGLE)
    assert caught.value.code == "missing_session"

    with pytest.raises(AccessTokenForConnectionError) as caught:
        await auth0.get_access_token_for_connection(
            request_for(a_session(refresh_token=None)), connection=GOOGLE
        )
    assert caught.value.code == "missing_refresh_token"

    # Inside the refresh buffer but still valid, and nothing to exchange with: served.
    soon = ConnectionTokenSet("soon", now() + 100, GOOGLE)
    token = await auth0.get_access_token_for_connection(
        request_for(a_session([soon], refresh_token=None)), connection=GOOGLE
    )
    assert token.token == "soon"

    expired = ConnectionTokenSet("gone", now() - 1, GOOGLE)
    with pytest.raises(AccessTokenForConnectionError) as caught:
        await auth0.get_access_token_for_connection(
            request_for(a_session([expired], refresh_token=None)), connection=GOOGLE
        )
    assert caught.value.code == "missing_refresh_token"
    assert scripted_op.count("/oauth/token") == 0


async def test_cache_lookup_respects_hint_and_buffer(scripted_op: Any) -> None:
    scripted_op.scenario.responses["/oauth/token"] = answer(good_answer())
    plain = ConnectionTokenSet("plain", now() + 1000, GOOGLE)
    hinted = ConnectionTokenSet("hinted", now() + 1000, GOOGLE, login_hint="work@x.com")
    session = a_session([hinted, plain])
    auth0 = client_for(scripted_op, token_refresh_buffer=300)
    assert (
        await auth0.get_access_token_for_connection(request_for(session), connection=GOOGLE)
    ).token == "plain"
    assert (
        await auth0.get_access_token_for_connection(
            request_for(session), connection=GOOGLE, login_hint="work@x.com"
        )
    ).token == "hinted"
    assert scripted_op.count("/oauth/token") == 0
    # Another hint, and another connection, are cache misses.
    await auth0.get_access_token_for_connection(
        request_for(session), Response(), connection=GOOGLE, login_hint="home@x.com"
    )
    await auth0.get_access_token_for_connection(
        request_for(session), Response(), connection="github"
    )
    assert scripted_op.count("/oauth/token") == 2
    # A buffer longer than the remaining lifetime means "exchange now".
    eager = client_for(scripted_op, token_refresh_buffer=2000)
    response = Response()
    token = await eager.get_access_token_for_connection(
        request_for(session), response, connection=GOOGLE
    )
    assert token.token == "fed-token-1"
    assert scripted_op.count("/oauth/token") == 3
    assert sorted(connection_cookies(response)) == ["__FC_0", "__FC_1"]  # replaced in place


async def test_the_number_of_cached_tokens_is_bounded(scripted_op: Any) -> None:
    scripted_op.scenario.responses["/oauth/token"] = answer(good_answer())
    t = now()
    entries = [
        ConnectionTokenSet(f"t{i}", t - 5 if i in (3, 7) else t + 3600 + i, f"conn-{i}")
        for i in range(MAX_CONNECTION_TOKEN_SETS)
    ]
    response = Response()
    await client_for(scripted_op).get_access_token_for_connection(
        request_for(a_session(entries)), response, connection="new-one"
    )
    browser = {
        n: h.split(";", 1)[0].split("=", 1)[1] for n, h in response.cookies if "Max-Age=0" not in h
    }
    saved = await client_for(scripted_op).get_session(
        Request(method="GET", scheme="http", host="127.0.0.1:3000", path="/", cookies=browser)
    )
    assert saved is not None
    # Over the cap: the expired entries go, and that is enough room.
    assert [e.connection for e in saved.connection_token_sets] == [
        *(f"conn-{i}" for i in range(MAX_CONNECTION_TOKEN_SETS) if i not in (3, 7)),
        "new-one",
    ]

    full = [
        ConnectionTokenSet(f"t{i}", t + 3600, f"c-{i}") for i in range(MAX_CONNECTION_TOKEN_SETS)
    ]
    response = Response()
    await client_for(scripted_op).get_access_token_for_connection(
        request_for(a_session(full)), response, connection="newest"
    )
    browser = {
        n: h.split(";", 1)[0].split("=", 1)[1] for n, h in response.cookies if "Max-Age=0" not in h
    }
    saved = await client_for(scripted_op).get_session(
        Request(method="GET", scheme="http", host="127.0.0.1:3000", path="/", cookies=browser)
    )
    assert saved is not None
    assert [e.connection for e in saved.connection_token_sets] == [
        *(f"c-{i}" for i in range(1, MAX_CONNECTION_TOKEN_SETS)),
        "newest",
    ]  # then the oldest


# --------------------------------------------------------------------------- concurrency


async def test_concurrent_calls_share_one_exchange_per_session_and_connection(
    scripted_op: Any,
) -> None:
    scripted_op.scenario.responses["/oauth/token"] = answer(good_answer())
    scripted_op.scenario.delay["/oauth/token"] = 0.3
    auth0 = client_for(scripted_op)
    alice, bob = a_session(refresh_token="rt-alice"), a_session(refresh_token="rt-bob")
    calls = [
        auth0.get_access_token_for_connection(request_for(alice), Response(), connection=GOOGLE)
        for _ in range(20)
    ]
    calls += [
        auth0.get_access_token_for_connection(request_for(alice), Response(), connection="github")
        for _ in range(5)
    ]
    calls += [
        auth0.get_access_token_for_connection(request_for(bob), Response(), connection=GOOGLE)
        for _ in range(5)
    ]
    tokens = await asyncio.gather(*calls)
    assert {t.token for t in tokens} == {"fed-token-1"}
    forms = [c.form for c in scripted_op.calls("/oauth/token")]
    assert sorted((f["subject_token"], f["connection"]) for f in forms) == [
        ("rt-alice", "github"),
        ("rt-alice", GOOGLE),
        ("rt-bob", GOOGLE),
    ]
    assert exchanges_for(auth0._rt).calls == 3


async def test_a_failed_shared_exchange_fails_every_waiter(scripted_op: Any) -> None:
    scripted_op.scenario.responses["/oauth/token"] = answer({"error": "invalid_grant"}, 400)
    scripted_op.scenario.delay["/oauth/token"] = 0.2
    auth0 = client_for(scripted_op)
    results = await asyncio.gather(
        *(
            auth0.get_access_token_for_connection(
                request_for(a_session()), Response(), connection=GOOGLE
            )
            for _ in range(5)
        ),
        return_exceptions=True,
    )
    assert all(isinstance(r, AccessTokenForConnectionError) for r in results)
    assert scripted_op.count("/oauth/token") == 1


async def test_a_refresh_token_rotated_by_a_concurrent_refresh_is_used_and_saved(
    scripted_op: Any,
) -> None:
    def token_endpoint(record: Any) -> Any:
        if record.form["grant_type"] == "refresh_token":
            body = {
                "access_token": "at-new",
                "refresh_token": "rt-rotated",
                "token_type": "Bearer",
                "expires_in": 600,
            }
        else:
            body = good_answer()
        return 200, {"content-type": "application/json"}, json.dumps(body).encode()

    scripted_op.scenario.responses["/oauth/token"] = token_endpoint
    auth0 = client_for(scripted_op)
    stale_cookie = request_for(a_session())
    # Another request refreshes (and so rotates) the session's refresh token ...
    await auth0.get_access_token(stale_cookie, Response(), refresh=True)
    # ... while this one still carries the old cookie.
    response = Response()
    await auth0.get_access_token_for_connection(stale_cookie, response, connection=GOOGLE)
    assert scripted_op.last("/oauth/token").form["subject_token"] == "rt-rotated"
    browser = {n: h.split(";", 1)[0].split("=", 1)[1] for n, h in response.cookies}
    saved = await auth0.get_session(
        Request(method="GET", scheme="http", host="127.0.0.1:3000", path="/", cookies=browser)
    )
    assert saved is not None and saved.token_set.refresh_token == "rt-rotated"
