"""Test-side helpers for the provider's MFA API (``tests/op/auth0_mfa.mjs``).

:func:`totp` computes the codes an authenticator app would show (RFC 6238: HMAC-SHA1,
6 digits, 30-second steps), written here from the RFC rather than taken from the SDK or
the provider, so the two are checked against an independent implementation.
:func:`sent_binding_code` plays the user's phone: it asks the provider's test-only route
for the binding code of an OOB challenge.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from typing import Any

import httpx

#: A fixed base32 TOTP secret (20 bytes) for test users.
OTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
STEP = 30


def totp(secret: str, at: float | None = None, *, step_offset: int = 0) -> str:
    """The 6-digit TOTP of ``secret`` at ``at`` (default: now), ``step_offset`` steps away."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // STEP) + step_offset
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def wrong_totp(secret: str) -> str:
    """A 6-digit code that is none of the codes the provider accepts right now."""
    accepted = {totp(secret, step_offset=d) for d in (-2, -1, 0, 1, 2)}
    candidate = 0
    while f"{candidate:06d}" in accepted:
        candidate += 1
    return f"{candidate:06d}"


async def sent_binding_code(op: Any, oob_code: str | None = None) -> dict[str, Any]:
    """What the provider "sent" for an OOB challenge: ``{oob_code, binding_code, channel,
    to, sub}`` (the latest challenge when ``oob_code`` is ``None``)."""
    params = {"oob_code": oob_code} if oob_code else {}
    async with httpx.AsyncClient() as client:
        response = await client.get(op.url("/test/mfa/oob"), params=params)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


# --------------------------------------------------------------------------- a provider with MFA

#: The API that needs a second factor, and its scope.
MFA_API = "https://api.mfa.example"
MFA_API_SCOPE = "read:secret"
MFA_GRANTS = [
    "http://auth0.com/oauth/grant-type/mfa-otp",
    "http://auth0.com/oauth/grant-type/mfa-oob",
    "http://auth0.com/oauth/grant-type/mfa-recovery-code",
]
MFA_CLIENT_ID = "mfa-app"
ALICE_PHONE = "+15555550100"
ALICE_RECOVERY_CODE = "ALICERECOVERY0000000000A"


def mfa_user(sub: str, name: str, **mfa: str) -> dict[str, Any]:
    """A test user; ``mfa`` lists the factors enrolled at start (none: must enroll)."""
    user: dict[str, Any] = {
        "sub": sub,
        "name": name,
        "email": f"{sub.split('|')[-1]}@example.com",
        "email_verified": True,
    }
    if mfa:
        user["mfa"] = dict(mfa)
    return user


def mfa_provider(users: list[dict[str, Any]], client_secret: str, **options: Any) -> Any:
    """An :class:`OidcProvider` (not started) with the MFA API on and ``MFA_API`` protected;
    its client ``MFA_CLIENT_ID`` may use the three MFA grants."""
    from .oidc_provider import OidcProvider
    from .op_fixtures import make_client

    client = make_client(
        MFA_CLIENT_ID,
        client_secret,
        "client_secret_post",
        grant_types=["authorization_code", "refresh_token", *MFA_GRANTS],
    )
    options.setdefault("resource_servers", [{"identifier": MFA_API, "scopes": [MFA_API_SCOPE]}])
    options.setdefault("mfa", {"required_audiences": [MFA_API]})
    return OidcProvider(clients=[client], users=users, **options)
