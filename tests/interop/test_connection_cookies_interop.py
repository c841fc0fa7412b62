"""Token Vault cookies (``__FC_<i>``) cross between auth0-web and the real
``@auth0/nextjs-auth0`` v4 store, in both directions (same driver as
``test_nextjs_interop.py``).

Needs Node.js and npm: without them these tests fail rather than skip.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

# This directory is not a package: pytest puts it on sys.path, so the neighbouring module
# (and its session-scoped Node runner fixture) is imported by its plain name.
from test_nextjs_interop import (
    SECRET,
    NodeRunner,
    make_session,
    node,  # noqa: F401
    node_encrypt,
    node_read,
    without_exp,
)

from auth0_web import ConnectionTokenSet, SessionData
from auth0_web._config import SessionConfig
from auth0_web._http import CookieOptions, Response, parse_cookie_header
from auth0_web.session._codec import CookieCodec
from auth0_web.session._stateless import StatelessSessionStore

pytestmark = pytest.mark.integration

ENTRIES: list[dict[str, Any]] = [
    {
        "accessToken": "ya29.google-token",
        "expiresAt": 1900000000,
        "connection": "google-oauth2",
        "scope": "https://www.googleapis.com/auth/calendar.events",
    },
    {
        "accessToken": "gho_github-token",
        "expiresAt": 1900000100,
        "connection": "github",
        "loginHint": "ada-gh",
    },
]


def python_store(secret: str = SECRET) -> StatelessSessionStore:
    return StatelessSessionStore(SessionConfig(), CookieCodec([secret]))


def test_nextjs_connection_cookies_are_read_by_python(node: NodeRunner) -> None:  # noqa: F811
    session = make_session()
    answer = node_encrypt(node, {**session, "connectionTokenSets": ENTRIES})
    cookies = answer["cookies"]
    assert sorted(cookies) == ["__FC_0", "__FC_1", "__session"]
    read = python_store().read(cookies, time.time())
    assert read is not None
    assert read.connection_token_sets == [ConnectionTokenSet.from_dict(e) for e in ENTRIES]
    assert read.to_dict() == {**session, "connectionTokenSets": ENTRIES}


def test_python_connection_cookies_are_read_by_nextjs(node: NodeRunner) -> None:  # noqa: F811
    session = SessionData.from_dict({**make_session(), "connectionTokenSets": ENTRIES})
    response = Response()
    python_store().write(response, session, {}, int(time.time()), CookieOptions())
    cookies = parse_cookie_header("; ".join(v.split(";", 1)[0] for _, v in response.cookies))
    assert sorted(cookies) == ["__FC_0", "__FC_1", "__session"]
    read = node_read(node, cookies)
    assert read is not None
    assert [without_exp(e) for e in read.pop("connectionTokenSets")] == ENTRIES
    assert without_exp(read) == make_session() | {"internal": read["internal"]}
    assert read["internal"] == session.internal.to_dict()
