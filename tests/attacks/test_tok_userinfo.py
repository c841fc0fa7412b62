"""Group E: TOK-09 (userinfo and distributed claims) and the PAR/userinfo part of TOK-05.

The SDK builds the session from the verified ID token alone: it never calls the userinfo
endpoint, so a userinfo ``sub`` that differs from the ID token's can never be merged, and
claim sources named in a token (``_claim_sources``, OIDC Core 5.6.2) are data, never URLs
to fetch. These tests make the scripted OP lie at ``/userinfo``, advertise a userinfo
endpoint on the cloud metadata address, and put distributed and aggregated claims in the
ID token; then they drive every flow that talks to the provider (login, profile, refresh,
``get_session``, logout) and check which URLs the SDK contacted.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from auth0_web import SessionData
from tests.support.scripted_op import ScriptedOP

from .conftest import Harness
from .helpers import (
    MSG_LOGIN_FAIL,
    assert_error_response,
    assert_no_set_cookie,
    full_login,
)
from .test_lgo import record_outbound

pytestmark = pytest.mark.anyio

METADATA_URL = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
USERINFO_LIE = {
    "sub": "auth0|attacker",
    "name": "Attacker",
    "email": "attacker@evil.example",
    "email_verified": True,
}


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def distributed_claims(op: ScriptedOP, trap: str) -> dict[str, Any]:
    """OIDC Core 5.6.2 members: one distributed source on the OP, one on the metadata host,
    and an aggregated source whose JWT claims to be someone else."""
    aggregated = op.mint_id_token({"sub": "auth0|attacker", "email": "attacker@evil.example"})
    return {
        "_claim_names": {"email": "src1", "groups": "src2", "address": "src3"},
        "_claim_sources": {
            "src1": {"endpoint": op.url(trap), "access_token": "ksj3n283dke"},
            "src2": {"endpoint": METADATA_URL},
            "src3": {"JWT": aggregated},
        },
    }


def lying_provider(op: ScriptedOP, trap: str) -> None:
    op.scenario.access_token_ttl = 60
    op.scenario.userinfo = lambda claims: dict(USERINFO_LIE)
    op.scenario.id_token_claims = lambda claims: {**claims, **distributed_claims(op, trap)}
    op.scenario.discovery = lambda doc: {
        **doc,
        "userinfo_endpoint": METADATA_URL,
        "claims_parameter_supported": True,
        "claim_types_supported": ["normal", "aggregated", "distributed"],
    }


def assert_only_provider_calls(op: ScriptedOP, urls: list[str]) -> None:
    allowed = {
        op.url("/.well-known/openid-configuration"),
        op.url("/.well-known/jwks.json"),
        op.url("/oauth/token"),
        op.url("/oauth/revoke"),
    }
    strays = [url for url in urls if url.split("?")[0] not in allowed]
    assert not strays, f"outbound requests beyond discovery, keys, token and revocation: {strays}"


def keep_everything(session: SessionData, id_token: str | None) -> SessionData:
    """An app that keeps every ID-token claim (``_claim_sources`` included) in the session."""
    return session


@pytest.mark.parametrize("hook", [None, keep_everything], ids=["default-claims", "keep-all"])
async def test_tok09_userinfo_and_claim_sources_are_never_fetched(
    h: Harness, op: ScriptedOP, hook: Any
) -> None:
    """TOK-09: userinfo is never called (so its lying ``sub`` is never merged) and no
    distributed-claim endpoint is fetched, through login, reads, a refresh and logout."""
    trap = f"/distributed-{uuid.uuid4().hex}"
    lying_provider(op, trap)
    clock = Clock()
    client = h.client(clock=clock, before_session_saved=hook)
    transport = record_outbound(client)
    browser = h.browser(client)

    login = await full_login(browser, op)
    assert login.status_code == 307, login.text
    profile = await browser.get("/auth/profile")
    assert profile.status_code == 200
    user = profile.json()
    assert user["sub"] == op.scenario.user["sub"] != USERINFO_LIE["sub"]
    assert user["email"] == op.scenario.user["email"]
    assert "attacker" not in profile.text
    if hook is None:
        assert "_claim_sources" not in user and "_claim_names" not in user
    else:
        # Kept as the inert data the token carried: unresolved, so the source still names
        # its endpoint and no claim was filled in from it.
        assert user["_claim_sources"]["src2"] == {"endpoint": METADATA_URL}
        assert "groups" not in user and "address" not in user

    assert (await browser.get("/")).json()["user"]["sub"] == user["sub"]
    assert (await browser.get("/me")).status_code == 200
    clock.offset += 120  # the access token expired: a refresh (whose ID token has them too)
    refreshed = await browser.get("/auth/access-token")
    assert refreshed.status_code == 200, refreshed.text
    assert [r.form["grant_type"] for r in op.calls("/oauth/token")] == [
        "authorization_code",
        "refresh_token",
    ]
    assert (await browser.get("/auth/profile")).json()["sub"] == user["sub"]
    assert (await browser.get("/auth/logout")).status_code == 307

    assert op.count("/userinfo") == 0
    assert op.count(trap) == 0
    assert not any("169.254.169.254" in url for url in transport.urls)
    assert_only_provider_calls(op, transport.urls)


async def test_tok09_callback_never_fetches_even_when_the_id_token_lacks_claims(
    h: Harness, op: ScriptedOP
) -> None:
    """TOK-09: an ID token with only ``sub`` (the profile claims "left at userinfo") still
    makes a session from the ID token alone, without a userinfo call."""
    trap = f"/distributed-{uuid.uuid4().hex}"
    lying_provider(op, trap)
    keep = {"iss", "aud", "sub", "iat", "exp", "auth_time", "sid", "nonce"}
    op.scenario.id_token_claims = lambda claims: {
        **{k: v for k, v in claims.items() if k in keep},
        **distributed_claims(op, trap),
    }
    client = h.client()
    transport = record_outbound(client)
    browser = h.browser(client)
    assert (await full_login(browser, op)).status_code == 307
    assert (await browser.get("/auth/profile")).json() == {"sub": op.scenario.user["sub"]}
    assert op.count("/userinfo") == 0 and op.count(trap) == 0
    assert_only_provider_calls(op, transport.urls)


# --------------------------------------------------------------------------------------
# TOK-05  redirects from the PAR endpoint (307/308 would replay the client secret)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_tok05_par_redirect_is_not_followed(h: Harness, op: ScriptedOP, status: int) -> None:
    """TOK-05: a redirect from the PAR endpoint is an error; the client secret and the
    login's parameters never reach the redirect target."""
    trap = f"/par-elsewhere-{uuid.uuid4().hex}"
    op.scenario.responses["/oauth/par"] = lambda record: (status, {"location": op.url(trap)}, b"")
    browser = h.browser(h.client(pushed_authorization_requests=True))
    response = await browser.get("/auth/login")
    assert_error_response(response, 500, MSG_LOGIN_FAIL, no_store=False)
    assert_no_set_cookie(response)
    assert op.count("/oauth/par") == 1
    assert op.count(trap) == 0
    assert op.count("/authorize") == 0
