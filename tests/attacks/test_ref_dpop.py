"""Group F, REF-05 with DPoP: a ``use_dpop_nonce`` retry stays with the session it began in.

Two users refresh at the same moment through one SDK instance with DPoP on, and the
provider answers the first attempt of every refresh with ``use_dpop_nonce`` (the shape of
CVE-2026-40155, where the retry could run with another session's refresh token). Each
retry must repeat its own request, and each user must get only their own tokens.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.support.apps import Browser
from tests.support.scripted_op import DEFAULT_USER, RawResponse, RecordedRequest, ScriptedOP

from .conftest import Harness
from .helpers import full_login
from .test_ext_dpp import dpop_client, parts, thumbprint
from .test_ref import ROUTES, TOKEN, Clock, refresh_calls, stored, token_app

pytestmark = pytest.mark.anyio

USERS = {"alice": DEFAULT_USER["sub"], "bob": "auth0|bob"}


def proof_of(record: RecordedRequest) -> dict[str, Any]:
    """The DPoP proof's claims, plus the thumbprint of the key in its header."""
    header, claims = parts(record.headers["dpop"])
    assert header["typ"] == "dpop+jwt" and claims["htm"] == "POST"
    return {**claims, "jkt": thumbprint(header["jwk"])}


def nonce_on_first_attempt(op: ScriptedOP) -> dict[str, str]:
    """Answer each refresh token's first attempt with ``use_dpop_nonce`` and a nonce of its
    own; returns the nonce handed out per refresh token."""
    nonces: dict[str, str] = {}

    def respond(record: RecordedRequest) -> RawResponse | None:
        if record.form.get("grant_type") != "refresh_token":
            return None
        refresh_token = record.form["refresh_token"]
        if refresh_token in nonces:
            return None  # the retry: served normally
        nonces[refresh_token] = f"nonce-{len(nonces) + 1}"
        headers = {"content-type": "application/json", "dpop-nonce": nonces[refresh_token]}
        return 400, headers, json.dumps({"error": "use_dpop_nonce"}).encode()

    op.scenario.responses[TOKEN] = respond
    return nonces


async def test_ref05_dpop_nonce_retry_stays_with_its_session(h: Harness, op: ScriptedOP) -> None:
    """REF-05 (DPoP): concurrent refreshes of two users, each challenged for a nonce, are
    retried with their own refresh token and give each user only their own tokens."""
    clock = Clock()
    op.scenario.access_token_ttl = 60
    op.scenario.token_body = lambda body: {**body, "token_type": "DPoP"}
    client, jkt = dpop_client(h, clock=clock)
    app = token_app(client)
    browsers: dict[str, Browser] = {}
    for name, sub in USERS.items():
        op.scenario.user = {**DEFAULT_USER, "sub": sub, "name": name}
        browsers[name] = h.browser(app)
        assert (await full_login(browsers[name], op)).status_code == 307
    before = {
        name: stored(browser)["tokenSet"]["refreshToken"] for name, browser in browsers.items()
    }

    nonces = nonce_on_first_attempt(op)
    op.scenario.delay[TOKEN] = 0.15  # both refreshes (and their retries) overlap
    clock.offset += 120
    jobs: list[tuple[str, Any]] = []
    for i in range(6):
        for name, browser in browsers.items():
            jobs.append((name, browser.get(ROUTES[i % 2])))
    answers = await asyncio.gather(*(job for _, job in jobs))

    seen: dict[str, set[str]] = {name: set() for name in USERS}
    for (name, _), answer in zip(jobs, answers, strict=True):
        assert answer.status_code == 200, (name, answer.text)
        token = answer.json()["token"]
        assert op.access_tokens[token]["sub"] == USERS[name], name
        seen[name].add(token)
    assert all(len(tokens) == 1 for tokens in seen.values()), seen
    assert not (seen["alice"] & seen["bob"])

    # One refresh per user, each a challenge and a retry with the same refresh token.
    calls = refresh_calls(op)
    assert len(calls) == 4
    assert set(nonces) == set(before.values())
    for refresh_token in before.values():
        attempts = [r for r in calls if r.form["refresh_token"] == refresh_token]
        assert len(attempts) == 2
        first, retry = (proof_of(r) for r in attempts)
        # The nonce is the server's, not the request's (RFC 9449 section 8): the retry may
        # carry the newest one the server gave, whichever challenge it came with.
        assert "nonce" not in first and retry["nonce"] in set(nonces.values())
        assert first["jkt"] == retry["jkt"] == jkt and first["jti"] != retry["jti"]
    for name, browser in browsers.items():
        session = stored(browser)
        assert session["user"]["sub"] == USERS[name]
        assert session["tokenSet"]["token_type"] == "DPoP"
        assert (
            op.refresh_tokens[session["tokenSet"]["refreshToken"]].grant.user["sub"]
            == (USERS[name])
        )
    assert not op.revoked_families
