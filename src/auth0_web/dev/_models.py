"""Test users and registered applications, validated when they are declared.

A mistake in a fixture (a ``str`` where a list of URLs belongs, a custom claim that would
silently overwrite ``sub``) is reported at construction, not as a puzzling login failure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ._params import is_vschar

__all__ = ["DEFAULT_USERS", "TOKEN_ENDPOINT_AUTH_METHODS", "DevClient", "DevUser"]

#: Client authentication methods of RFC 6749 section 2.3.1 this provider implements.
TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_post", "client_secret_basic")

#: Claims the provider sets itself; a user's extra claims may not replace them.
_PROTOCOL_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "azp",
        "nonce",
        "auth_time",
        "sid",
        "at_hash",
        "c_hash",
        "acr",
        "amr",
        "scope",
        "client_id",
    }
)
#: Claims that have their own ``DevUser`` field.
_FIELD_CLAIMS = frozenset(
    {"name", "email", "email_verified", "nickname", "picture", "given_name", "family_name"}
)


def _json_copy(claims: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy that proves the claims can be put in a JWT (JSON, no NaN)."""
    try:
        copied = json.loads(json.dumps(dict(claims), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"DevUser claims must be JSON values: {exc}") from exc
    assert isinstance(copied, dict)
    return copied


@dataclass(frozen=True)
class DevUser:
    """A test user. Its fields are the claims the ID token and ``/userinfo`` carry.

    ``claims`` adds any other claim: standard OpenID Connect ones (``locale``,
    ``phone_number``, ...) are released with the scope that covers them, custom ones
    (``https://example.com/roles``) always, as an Auth0 Action would add them.
    """

    sub: str
    name: str
    email: str | None = None
    email_verified: bool = True
    nickname: str | None = None
    picture: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # OpenID Connect Core 1.0 section 2: sub is at most 255 ASCII characters.
        if not isinstance(self.sub, str) or not self.sub or len(self.sub) > 255:
            raise ValueError("DevUser.sub must be a non-empty string of at most 255 characters")
        if not is_vschar(self.sub):
            raise ValueError("DevUser.sub must be printable ASCII")
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("DevUser.name must be a non-empty string")
        for name in ("email", "nickname", "picture", "given_name", "family_name"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"DevUser.{name} must be a string or None")
        if not isinstance(self.email_verified, bool):
            raise ValueError("DevUser.email_verified must be a bool")
        if not isinstance(self.claims, Mapping):
            raise ValueError("DevUser.claims must be a mapping")
        for key in self.claims:
            if not isinstance(key, str) or not key:
                raise ValueError("DevUser.claims keys must be non-empty strings")
            if key in _PROTOCOL_CLAIMS:
                raise ValueError(f"DevUser.claims must not set {key!r}: the provider sets it")
            if key in _FIELD_CLAIMS:
                raise ValueError(f"DevUser.claims must not set {key!r}: use the DevUser field")
        object.__setattr__(self, "claims", MappingProxyType(_json_copy(self.claims)))


def _check_uri(owner: str, uri: object) -> None:
    """An absolute http(s) URI without a fragment (RFC 6749 section 3.1.2)."""
    if not isinstance(uri, str) or not is_vschar(uri) or " " in uri or "\\" in uri:
        raise ValueError(f"{owner}: {uri!r} is not a URL")
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{owner}: {uri!r} is not an absolute http(s) URL")
    if parts.fragment or "#" in uri:
        raise ValueError(f"{owner}: {uri!r} must not contain a fragment")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{owner}: {uri!r} must not contain credentials")


def _string_tuple(owner: str, value: object) -> tuple[str, ...]:
    # A lone string is a Sequence too; iterating it would register one URL per character.
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValueError(f"{owner} must be a list of strings, not {type(value).__name__}")
    return tuple(value)


@dataclass(frozen=True)
class DevClient:
    """A registered application, like an Auth0 "Regular Web Application".

    ``redirect_uris`` and ``logout_urls`` are Auth0's "Allowed Callback URLs" and "Allowed
    Logout URLs", matched exactly. ``allow_loopback_redirects`` also accepts any
    ``http://127.0.0.1:<port>/...``, ``http://localhost:<port>/...`` or
    ``http://[::1]:<port>/...`` URL (RFC 8252 section 7.3), for tests on random ports.
    """

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: Sequence[str] = ()
    logout_urls: Sequence[str] = ()
    allow_loopback_redirects: bool = False
    token_endpoint_auth_methods: Sequence[str] = TOKEN_ENDPOINT_AUTH_METHODS

    def __post_init__(self) -> None:
        # RFC 6749 appendix A.1 / A.2: client_id and client_secret are *VSCHAR.
        if not isinstance(self.client_id, str) or not self.client_id:
            raise ValueError("DevClient.client_id must be a non-empty string")
        if not is_vschar(self.client_id):
            raise ValueError("DevClient.client_id must be printable ASCII")
        if not isinstance(self.client_secret, str) or not self.client_secret:
            raise ValueError("DevClient.client_secret must be a non-empty string")
        if not is_vschar(self.client_secret):
            raise ValueError("DevClient.client_secret must be printable ASCII")
        redirect_uris = _string_tuple("DevClient.redirect_uris", self.redirect_uris)
        logout_urls = _string_tuple("DevClient.logout_urls", self.logout_urls)
        for uri in redirect_uris:
            _check_uri("DevClient.redirect_uris", uri)
        for uri in logout_urls:
            _check_uri("DevClient.logout_urls", uri)
        if not isinstance(self.allow_loopback_redirects, bool):
            raise ValueError("DevClient.allow_loopback_redirects must be a bool")
        methods = _string_tuple(
            "DevClient.token_endpoint_auth_methods", self.token_endpoint_auth_methods
        )
        if not methods:
            raise ValueError("DevClient.token_endpoint_auth_methods must not be empty")
        for method in methods:
            if method not in TOKEN_ENDPOINT_AUTH_METHODS:
                raise ValueError(
                    f"DevClient.token_endpoint_auth_methods: {method!r} is not one of "
                    f"{', '.join(TOKEN_ENDPOINT_AUTH_METHODS)}"
                )
        object.__setattr__(self, "redirect_uris", redirect_uris)
        object.__setattr__(self, "logout_urls", logout_urls)
        object.__setattr__(self, "token_endpoint_auth_methods", methods)


#: Two users, shaped like Auth0 database users; Alice has an admin role added the way an
#: Auth0 Action adds one (a namespaced custom claim).
DEFAULT_USERS: tuple[DevUser, ...] = (
    DevUser(
        sub="auth0|alice",
        name="Alice Example",
        email="alice@example.com",
        email_verified=True,
        nickname="alice",
        picture="https://example.com/alice.png",
        given_name="Alice",
        family_name="Example",
        claims={"https://example.com/roles": ["admin"]},
    ),
    DevUser(
        sub="auth0|bob",
        name="Bob Example",
        email="bob@example.com",
        email_verified=False,
        nickname="bob",
        picture="https://example.com/bob.png",
        given_name="Bob",
        family_name="Example",
    ),
)
