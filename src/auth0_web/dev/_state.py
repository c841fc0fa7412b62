"""What the provider remembers between requests, and the rules tying it together.

A *grant* is one successful code redemption: every access token and every refresh token
that descends from it (the refresh-token *family*) points back to it, so revoking the grant
is how a reused code (RFC 6749 section 10.5), a reused refresh token (reuse detection,
OAuth 2.0 Security BCP section 4.14) or a revoked refresh token (RFC 7009 section 2.1)
takes everything issued from it down at once.

All endpoints run their checks and updates under one lock, so "is this code unused?" and
"mark it used" are one step even if the app is served by several threads.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ._keys import SigningKey
from ._models import DevClient, DevUser
from ._store import BoundedStore

__all__ = [
    "CODE_TTL",
    "INTERACTION_TTL",
    "SESSION_TTL",
    "AccessTokenRecord",
    "AuthorizationCode",
    "AuthorizationRequest",
    "Grant",
    "Interaction",
    "ProviderSession",
    "ProviderState",
    "RefreshTokenRecord",
    "TokenLifetimes",
    "new_secret",
]

#: Authorization codes live 60 seconds (RFC 6749 section 4.1.2 recommends at most 10 min).
CODE_TTL = 60
#: A login page must be answered within 10 minutes.
INTERACTION_TTL = 600
#: The provider's own session (the one that lets a second login skip the login page).
SESSION_TTL = 3 * 86400


def new_secret() -> str:
    """An unguessable value: 256 random bits, base64url (43 characters)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class TokenLifetimes:
    access_token: int
    id_token: int
    refresh_token: int


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated ``/authorize`` request: everything the code will be bound to."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str
    audience: str | None
    max_age: int | None
    prompt: frozenset[str]
    login_hint: str | None


@dataclass(frozen=True, slots=True)
class Interaction:
    """A login page waiting for an answer, bound to the browser that was shown it."""

    request: AuthorizationRequest
    browser: str


@dataclass(frozen=True, slots=True)
class ProviderSession:
    """A browser signed in at the provider; ``sid`` is its public name (tokens carry it)."""

    sid: str
    sub: str
    auth_time: int


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    request: AuthorizationRequest
    sub: str
    auth_time: int
    sid: str


@dataclass(slots=True)
class Grant:
    id: str
    client_id: str
    sub: str
    scope: tuple[str, ...]
    audience: str | None
    auth_time: int
    sid: str
    revoked: bool = False


@dataclass(slots=True)
class RefreshTokenRecord:
    grant_id: str
    client_id: str
    #: Set when the token is exchanged; presenting it again is reuse.
    used: bool = False


@dataclass(slots=True)
class AccessTokenRecord:
    grant_id: str
    client_id: str
    revoked: bool = False


@dataclass(eq=False)
class ProviderState:
    """Configuration and memory shared by every endpoint of one provider."""

    clients: dict[str, DevClient]
    users: dict[str, DevUser]
    key: SigningKey
    lifetimes: TokenLifetimes
    clock: Callable[[], float]
    #: ``http://localhost:<port>``, known once the port is.
    origin: str | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.interactions: BoundedStore[Interaction] = BoundedStore(self.clock)
        self.codes: BoundedStore[AuthorizationCode] = BoundedStore(self.clock)
        #: Redeemed codes, remembered (code -> grant id) so that a replay can be punished.
        self.redeemed_codes: BoundedStore[str] = BoundedStore(self.clock)
        self.sessions: BoundedStore[ProviderSession] = BoundedStore(self.clock)
        self.grants: BoundedStore[Grant] = BoundedStore(self.clock)
        self.refresh_tokens: BoundedStore[RefreshTokenRecord] = BoundedStore(self.clock)
        self.access_tokens: BoundedStore[AccessTokenRecord] = BoundedStore(self.clock)

    @classmethod
    def create(
        cls,
        *,
        clients: Sequence[DevClient],
        users: Sequence[DevUser],
        key: SigningKey,
        lifetimes: TokenLifetimes,
        clock: Callable[[], float],
    ) -> ProviderState:
        client_map: dict[str, DevClient] = {}
        for client in clients:
            if not isinstance(client, DevClient):
                raise ValueError("clients must be DevClient values")
            if client.client_id in client_map:
                raise ValueError(f"client_id {client.client_id!r} is registered twice")
            client_map[client.client_id] = client
        if not client_map:
            raise ValueError("register at least one DevClient")
        user_map: dict[str, DevUser] = {}
        for user in users:
            if not isinstance(user, DevUser):
                raise ValueError("users must be DevUser values")
            if user.sub in user_map:
                raise ValueError(f"user sub {user.sub!r} is declared twice")
            user_map[user.sub] = user
        if not user_map:
            raise ValueError("declare at least one DevUser")
        return cls(clients=client_map, users=user_map, key=key, lifetimes=lifetimes, clock=clock)

    @property
    def issuer(self) -> str:
        """The issuer identifier, with the trailing slash Auth0 uses."""
        if self.origin is None:
            raise RuntimeError("the dev provider's port is not known yet: call start() first")
        return self.origin + "/"

    def now(self) -> int:
        return int(self.clock())

    def revoke_grant(self, grant_id: str) -> None:
        """Revoke a grant: its access tokens and refresh-token family stop working."""
        grant = self.grants.get(grant_id)
        if grant is not None:
            grant.revoked = True

    def live_grant(self, grant_id: str) -> Grant | None:
        grant = self.grants.get(grant_id)
        return None if grant is None or grant.revoked else grant
