"""The session: who the user is and which tokens the app holds for them.

Attributes are snake_case; :meth:`SessionData.to_dict` / :meth:`SessionData.from_dict` use
the reference SDK's JSON field names (``tokenSet``, ``accessToken``, ``createdAt``, ...) so a
cookie written here is read by ``@auth0/nextjs-auth0`` and the reverse. Fields this version
does not know (for example ones a hook or another SDK added) are kept in ``extra`` and
written back unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AccessTokenSet", "ConnectionTokenSet", "SessionData", "SessionInternal", "TokenSet"]


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _num(data: dict[str, Any], key: str, *, required: bool = False) -> int | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ValueError(f"{key} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key} must be a number")
    return int(value)


def _mask(value: str | None) -> str:
    return "None" if value is None else "'***'"


@dataclass(slots=True)
class TokenSet:
    """The tokens of the login (the default audience)."""

    access_token: str
    expires_at: int
    id_token: str | None = None
    refresh_token: str | None = None
    scope: str | None = None
    requested_scope: str | None = None
    audience: str | None = None
    token_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"TokenSet(access_token={_mask(self.access_token)}, expires_at={self.expires_at}, "
            f"id_token={_mask(self.id_token)}, refresh_token={_mask(self.refresh_token)}, "
            f"scope={self.scope!r}, audience={self.audience!r}, token_type={self.token_type!r})"
        )

    _KNOWN = frozenset(
        {
            "accessToken",
            "expiresAt",
            "idToken",
            "refreshToken",
            "scope",
            "requestedScope",
            "audience",
            "token_type",
        }
    )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenSet:
        access_token = _opt_str(data, "accessToken")
        return cls(
            access_token=access_token or "",
            expires_at=_num(data, "expiresAt") or 0,
            id_token=_opt_str(data, "idToken"),
            refresh_token=_opt_str(data, "refreshToken"),
            scope=_opt_str(data, "scope"),
            requested_scope=_opt_str(data, "requestedScope"),
            audience=_opt_str(data, "audience"),
            token_type=_opt_str(data, "token_type"),
            extra={k: v for k, v in data.items() if k not in cls._KNOWN},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out["accessToken"] = self.access_token
        out["expiresAt"] = self.expires_at
        for key, value in (
            ("idToken", self.id_token),
            ("refreshToken", self.refresh_token),
            ("scope", self.scope),
            ("requestedScope", self.requested_scope),
            ("audience", self.audience),
            ("token_type", self.token_type),
        ):
            if value is not None:
                out[key] = value
        return out


@dataclass(slots=True)
class AccessTokenSet:
    """An access token for another audience, kept beside the login's token set."""

    access_token: str
    expires_at: int
    audience: str
    scope: str | None = None
    requested_scope: str | None = None
    token_type: str | None = None

    def __repr__(self) -> str:
        return (
            f"AccessTokenSet(access_token='***', expires_at={self.expires_at}, "
            f"audience={self.audience!r}, scope={self.scope!r})"
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccessTokenSet:
        return cls(
            access_token=_opt_str(data, "accessToken") or "",
            expires_at=_num(data, "expiresAt") or 0,
            audience=_opt_str(data, "audience") or "",
            scope=_opt_str(data, "scope"),
            requested_scope=_opt_str(data, "requestedScope"),
            token_type=_opt_str(data, "token_type"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accessToken": self.access_token,
            "expiresAt": self.expires_at,
            "audience": self.audience,
        }
        for key, value in (
            ("scope", self.scope),
            ("requestedScope", self.requested_scope),
            ("token_type", self.token_type),
        ):
            if value is not None:
                out[key] = value
        return out


@dataclass(slots=True)
class ConnectionTokenSet:
    """An access token for a user's account at another provider (Token Vault).

    Obtained by :meth:`Auth0Client.get_access_token_for_connection`; ``login_hint`` is set
    when the token is for one specific account of a user with several on ``connection``.
    """

    access_token: str
    expires_at: int
    connection: str
    scope: str | None = None
    login_hint: str | None = None

    def __repr__(self) -> str:
        return (
            f"ConnectionTokenSet(access_token='***', expires_at={self.expires_at}, "
            f"connection={self.connection!r}, scope={self.scope!r}, "
            f"login_hint={self.login_hint!r})"
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConnectionTokenSet:
        """Raises ``ValueError`` unless there is a token and a connection to file it under."""
        access_token = _opt_str(data, "accessToken")
        connection = _opt_str(data, "connection")
        if not access_token or not connection:
            raise ValueError("a connection token set needs accessToken and connection")
        return cls(
            access_token=access_token,
            expires_at=_num(data, "expiresAt") or 0,
            connection=connection,
            scope=_opt_str(data, "scope"),
            login_hint=_opt_str(data, "loginHint"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accessToken": self.access_token,
            "expiresAt": self.expires_at,
            "connection": self.connection,
        }
        if self.scope is not None:
            out["scope"] = self.scope
        if self.login_hint is not None:
            out["loginHint"] = self.login_hint
        return out


@dataclass(slots=True)
class SessionInternal:
    """SDK bookkeeping; hooks and :meth:`Auth0Client.update_session` cannot change it."""

    sid: str
    created_at: int
    session_expires_at: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset({"sid", "createdAt", "sessionExpiresAt"})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionInternal:
        return cls(
            sid=_opt_str(data, "sid") or "",
            created_at=_num(data, "createdAt", required=True) or 0,
            session_expires_at=_num(data, "sessionExpiresAt"),
            extra={k: v for k, v in data.items() if k not in cls._KNOWN},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out["sid"] = self.sid
        out["createdAt"] = self.created_at
        if self.session_expires_at is not None:
            out["sessionExpiresAt"] = self.session_expires_at
        return out


@dataclass(slots=True)
class SessionData:
    """A logged-in user's session.

    ``user`` holds the ID-token claims kept at login (filtered by default, see
    :data:`DEFAULT_ID_TOKEN_CLAIMS`); ``extra`` holds any other top-level fields an
    application stores in the session.
    """

    user: dict[str, Any]
    token_set: TokenSet
    internal: SessionInternal
    access_tokens: list[AccessTokenSet] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: Token Vault tokens. A stateless session keeps each in its own ``__FC_<i>`` cookie,
    #: never in the session cookie; a stateful one keeps them in the store's record.
    connection_token_sets: list[ConnectionTokenSet] = field(default_factory=list)

    _KNOWN = frozenset(
        {"user", "tokenSet", "internal", "accessTokens", "connectionTokenSets", "exp"}
    )

    def __repr__(self) -> str:
        return (
            f"SessionData(user={{'sub': {self.user.get('sub')!r}, ...}}, "
            f"token_set={self.token_set!r}, internal=SessionInternal(sid='***', "
            f"created_at={self.internal.created_at}), access_tokens={len(self.access_tokens)}, "
            f"connection_token_sets={len(self.connection_token_sets)})"
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionData:
        """Build a session from its JSON form; raises ``ValueError`` on a malformed one."""
        user = data.get("user")
        token_set = data.get("tokenSet")
        internal = data.get("internal")
        if not isinstance(user, dict) or not isinstance(token_set, dict):
            raise ValueError("session must have user and tokenSet objects")
        if not isinstance(internal, dict):
            raise ValueError("session must have an internal object")
        raw_tokens = data.get("accessTokens") or []
        if not isinstance(raw_tokens, list) or not all(isinstance(t, dict) for t in raw_tokens):
            raise ValueError("accessTokens must be a list of objects")
        raw_connections = data.get("connectionTokenSets") or []
        if not isinstance(raw_connections, list) or not all(
            isinstance(t, dict) for t in raw_connections
        ):
            raise ValueError("connectionTokenSets must be a list of objects")
        return cls(
            user=user,
            token_set=TokenSet.from_dict(token_set),
            internal=SessionInternal.from_dict(internal),
            access_tokens=[AccessTokenSet.from_dict(t) for t in raw_tokens],
            extra={k: v for k, v in data.items() if k not in cls._KNOWN},
            connection_token_sets=[ConnectionTokenSet.from_dict(t) for t in raw_connections],
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out["user"] = self.user
        out["tokenSet"] = self.token_set.to_dict()
        out["internal"] = self.internal.to_dict()
        if self.access_tokens:
            out["accessTokens"] = [t.to_dict() for t in self.access_tokens]
        if self.connection_token_sets:
            out["connectionTokenSets"] = [t.to_dict() for t in self.connection_token_sets]
        return out
