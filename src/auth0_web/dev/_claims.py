"""A user's claims as released for a set of scopes (OpenID Connect Core 1.0, section 5.4).

Releasing only what the scopes cover means an app that forgets to ask for ``email`` finds
out here, not in production. Custom claims (namespaced, as Auth0 Actions add them) are
always released, as a tenant's Action would add them regardless of scope.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ._models import DevUser

__all__ = ["SCOPE_CLAIMS", "STANDARD_CLAIMS", "user_claims"]

#: The standard claims each scope value requests (section 5.4).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name",
        "family_name",
        "given_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
}
STANDARD_CLAIMS = frozenset(claim for claims in SCOPE_CLAIMS.values() for claim in claims)


def _all_claims(user: DevUser) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "name": user.name,
        "nickname": user.nickname,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "picture": user.picture,
        "email": user.email,
    }
    if user.email is not None:
        claims["email_verified"] = user.email_verified
    claims.update(user.claims)
    return {name: value for name, value in claims.items() if value is not None}


def user_claims(user: DevUser, scopes: Collection[str]) -> dict[str, Any]:
    """``sub`` plus the claims ``scopes`` cover, plus the user's custom claims."""
    allowed = {claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())}
    released: dict[str, Any] = {"sub": user.sub}
    for name, value in _all_claims(user).items():
        if name in allowed or name not in STANDARD_CLAIMS:
            released[name] = value
    return released
