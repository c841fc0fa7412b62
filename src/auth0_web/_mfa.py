"""Multi-factor step-up: Auth0's MFA API behind ``auth0.mfa`` and the ``/auth/mfa/*`` routes.

When a refresh for an API answers ``mfa_required``, :meth:`Auth0Client.get_access_token`
raises :class:`~auth0_web.MfaRequiredError`. Its ``mfa_token`` is not Auth0's token but an
*MFA context* sealed with the app's secret (the session cookie's format and key): the raw
``mfa_token``, the audience and scope that were asked for, what the server said may
satisfy the requirement, and a fingerprint of the session it was made for. The browser may
carry it; it cannot read or forge it, it expires after ``mfa_token_ttl`` seconds, and only
the session it was made for can use it (another user, or another login of the same user,
gets ``mfa_token_invalid``). The raw token never leaves the server.

With the sealed context the app lists the user's authenticators, starts a challenge,
enrolls a first factor and finally verifies a one-time password, an out-of-band code or a
recovery code. A successful verification stores the new access token in the *current*
session, where :meth:`~auth0_web.Auth0Client.get_access_token` finds it for the same
audience and scope without another refresh.

Everything received is checked: the sealed context (size, authenticity, shape, expiry,
session), the caller's arguments (before any network call), and every answer of the
authorization server (its error text is kept in ``cause``, never in a message).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from ._access_tokens import MAX_ACCESS_TOKEN_ENTRIES, contains_scopes, select_candidate
from ._config import DEFAULT_MFA_TOKEN_TTL, MAX_MFA_TOKEN_TTL, Config
from ._errors import Auth0Error, DiscoveryError, HttpError, MfaRequiredError, OAuth2Error
from ._runtime import Runtime
from .oidc._client_auth import ClientSecret
from .oidc._http_client import HttpResponse
from .oidc._id_token import IdTokenError
from .oidc._token import TokenResponse, TokenResponseError, parse_token_response, token_request
from .session._codec import loads_strict
from .session._model import AccessTokenSet, SessionData

if TYPE_CHECKING:
    from ._client import Auth0Client

__all__ = [
    "DEFAULT_MFA_TOKEN_TTL",
    "MAX_MFA_TOKEN_LENGTH",
    "MAX_MFA_TOKEN_TTL",
    "MFA_OOB_GRANT",
    "MFA_OTP_GRANT",
    "MFA_RECOVERY_CODE_GRANT",
    "Authenticator",
    "Credential",
    "MfaChallenge",
    "MfaChallengeError",
    "MfaClient",
    "MfaContext",
    "MfaEnrollment",
    "MfaEnrollmentError",
    "MfaError",
    "MfaGetAuthenticatorsError",
    "MfaNoAvailableFactorsError",
    "MfaTokenExpiredError",
    "MfaTokenInvalidError",
    "MfaVerifyError",
    "MfaVerifyResult",
    "apply_verified_tokens",
    "check_binding",
    "enroll_authenticator",
    "list_authenticators",
    "mfa_required_error",
    "seal_context",
    "start_challenge",
    "unseal_context",
    "validate_challenge",
    "validate_credential",
    "validate_enrollment",
    "verify_credential",
]

logger = logging.getLogger("auth0_web")

MFA_OTP_GRANT = "http://auth0.com/oauth/grant-type/mfa-otp"
MFA_OOB_GRANT = "http://auth0.com/oauth/grant-type/mfa-oob"
MFA_RECOVERY_CODE_GRANT = "http://auth0.com/oauth/grant-type/mfa-recovery-code"

#: Sealed contexts are a few hundred bytes; anything longer is refused unopened.
MAX_MFA_TOKEN_LENGTH = 8 * 1024
#: Auth0's ``mfa_token`` is well under 1 KB; a longer one is not sealed (nor sent back).
_MAX_RAW_TOKEN = 4096
_MAX_SCOPE = 4096
_MAX_AUDIENCE = 2048
#: Marks a sealed payload as an MFA context: a session or transaction cookie (same key)
#: can never be passed off as one.
_KIND = "auth0_web.mfa"
_MAX_AUTHENTICATORS = 100
_MAX_REQUIREMENTS = 20

_OTP_RE = re.compile(r"[0-9]{4,10}")
_RECOVERY_CODE_RE = re.compile(r"[A-Za-z0-9-]{1,64}")
_BINDING_CODE_RE = re.compile(r"[A-Za-z0-9-]{1,64}")
#: oob_codes and authenticator ids: printable ASCII without spaces.
_OPAQUE_RE = re.compile(r"[!-~]{1,512}")
_FACTOR_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_E164_RE = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}")

ChallengeType = Literal["otp", "oob"]
FactorType = Literal["otp", "sms", "voice", "email", "push"]

#: ``enroll(factor_type=...)`` -> ``/mfa/associate`` body (Auth0's factor names).
_ENROLLMENT: dict[str, tuple[str, str | None]] = {
    "otp": ("otp", None),
    "sms": ("oob", "sms"),
    "voice": ("oob", "voice"),
    "email": ("oob", "email"),
    "push": ("oob", "auth0"),
}

#: Factor types in ``mfa_requirements`` that an ``oob`` challenge can satisfy.
_OOB_FACTORS = frozenset({"oob", "phone", "sms", "voice", "email", "push-notification", "push"})


# --------------------------------------------------------------------------- errors


class MfaError(Auth0Error):
    """Base class of the MFA errors.

    ``code`` is the authorization server's ``error`` when it refused (its description is
    in ``cause``, an :class:`~auth0_web.OAuth2Error`), or one of the SDK's own codes;
    ``message`` is a fixed sentence that never holds a token or the server's text.
    """

    INVALID_REQUEST = "invalid_request"
    UNEXPECTED_ERROR = "unexpected_error"
    DISCOVERY_ERROR = "discovery_error"

    status = 400
    default_message = "The multi-factor authentication request failed."
    #: Codes that are the SDK's or the server's fault, not the caller's: HTTP 500.
    _SERVER_SIDE = frozenset({UNEXPECTED_ERROR, DISCOVERY_ERROR})

    def __init__(
        self, code: str, message: str | None = None, *, cause: BaseException | None = None
    ) -> None:
        super().__init__(message, cause=cause)
        self.code = code
        self.status = 500 if code in self._SERVER_SIDE else type(self).status

    def to_json(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.message}


class MfaTokenExpiredError(Auth0Error):
    """The sealed MFA token has expired (``mfa_token_ttl``): start the step-up again."""

    code = "mfa_token_expired"
    status = 401
    default_message = "MFA token has expired. Please restart the MFA flow."


class MfaTokenInvalidError(Auth0Error):
    """The MFA token was not sealed by this app, was altered, or is another session's."""

    code = "mfa_token_invalid"
    status = 401
    default_message = "MFA token is invalid."


class MfaNoAvailableFactorsError(Auth0Error):
    """The server's ``mfa_requirements`` rule out the requested kind of challenge."""

    code = "mfa_no_available_factors"
    status = 400
    default_message = "No authenticator of the requested type can satisfy this MFA requirement."


class MfaGetAuthenticatorsError(MfaError):
    default_message = "Failed to retrieve the MFA authenticators."


class MfaChallengeError(MfaError):
    default_message = "Failed to start the MFA challenge."


class MfaEnrollmentError(MfaError):
    default_message = "Failed to enroll the MFA authenticator."


class MfaVerifyError(MfaError):
    """Verification failed; nothing was stored.

    ``missing_session``: there is no session to store the tokens in (this SDK never
    creates one here). ``invalid_id_token``: the server's ID token failed validation or is
    about another user than the session's.
    """

    MISSING_SESSION = "missing_session"
    INVALID_ID_TOKEN = "invalid_id_token"

    default_message = "Failed to verify the MFA challenge."

    def __init__(
        self, code: str, message: str | None = None, *, cause: BaseException | None = None
    ) -> None:
        super().__init__(code, message, cause=cause)
        if code == self.MISSING_SESSION:
            self.status = 401


# --------------------------------------------------------------------------- results


def _mask(value: object) -> str:
    return "None" if value is None else "'***'"


@dataclass(frozen=True, slots=True)
class Authenticator:
    """One of the user's enrolled factors, as ``GET /mfa/authenticators`` lists it."""

    id: str
    authenticator_type: str
    active: bool
    type: str | None = None
    name: str | None = None
    phone_number: str | None = None
    oob_channel: str | None = None
    created_at: str | None = None
    last_authenticated_at: str | None = None

    @property
    def factor_type(self) -> str:
        """``type`` as Auth0 names factors in ``mfa_requirements`` (derived when absent)."""
        if self.type:
            return self.type.lower()
        if self.authenticator_type == "oob":
            return {"sms": "phone", "voice": "phone", "email": "email"}.get(
                self.oob_channel or "", "push-notification"
            )
        return self.authenticator_type.lower()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "authenticator_type": self.authenticator_type,
            "active": self.active,
        }
        for key in (
            "type",
            "name",
            "phone_number",
            "oob_channel",
            "created_at",
            "last_authenticated_at",
        ):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class MfaChallenge:
    """A started challenge: for ``oob``, pass ``oob_code`` (and the binding code the user
    received, when ``binding_method`` is ``prompt``) to :meth:`MfaClient.verify`."""

    challenge_type: str
    oob_code: str | None = None
    binding_method: str | None = None

    def __repr__(self) -> str:
        return (
            f"MfaChallenge(challenge_type={self.challenge_type!r}, "
            f"oob_code={_mask(self.oob_code)}, binding_method={self.binding_method!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"challenge_type": self.challenge_type}
        if self.oob_code is not None:
            out["oob_code"] = self.oob_code
        if self.binding_method is not None:
            out["binding_method"] = self.binding_method
        return out


@dataclass(frozen=True, slots=True)
class MfaEnrollment:
    """A new (not yet confirmed) factor. Show ``barcode_uri``/``secret`` (OTP) and the
    ``recovery_codes`` to the user; the first successful :meth:`MfaClient.verify` with the
    new factor confirms it."""

    authenticator_type: str
    secret: str | None = None
    barcode_uri: str | None = None
    recovery_codes: tuple[str, ...] = ()
    oob_code: str | None = None
    binding_method: str | None = None
    oob_channel: str | None = None
    id: str | None = None

    def __repr__(self) -> str:
        return (
            f"MfaEnrollment(authenticator_type={self.authenticator_type!r}, "
            f"secret={_mask(self.secret)}, barcode_uri={_mask(self.barcode_uri)}, "
            f"recovery_codes=[{len(self.recovery_codes)} hidden], "
            f"oob_code={_mask(self.oob_code)}, binding_method={self.binding_method!r}, "
            f"oob_channel={self.oob_channel!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"authenticator_type": self.authenticator_type}
        for key in ("secret", "barcode_uri", "oob_code", "binding_method", "oob_channel", "id"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.recovery_codes:
            out["recovery_codes"] = list(self.recovery_codes)
        return out


@dataclass(frozen=True, slots=True)
class MfaVerifyResult:
    """A successful verification. ``recovery_code`` is the replacement the server issued
    when a recovery code was used (the old one no longer works): show it to the user."""

    recovery_code: str | None = None
    success: bool = True

    def __repr__(self) -> str:
        return f"MfaVerifyResult(success={self.success}, recovery_code={_mask(self.recovery_code)})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"success": self.success}
        if self.recovery_code is not None:
            out["recovery_code"] = self.recovery_code
        return out


# --------------------------------------------------------------------------- the sealed context


@dataclass(frozen=True, slots=True)
class MfaContext:
    """An opened MFA token: what the step-up is for (never shown to the browser)."""

    raw_token: str = field(repr=False)
    #: The API the step-up is for ("" = the login's default audience).
    audience: str
    #: The ``scope`` the refresh sent (forwarded with the MFA grant), "" if none.
    scope: str
    #: The scope the token is stored under, so ``get_access_token`` finds it again.
    requested_scope: str
    requirements: dict[str, list[dict[str, str]]] | None
    #: Fingerprint of the session it was made for (``None``: made without a session).
    binding: str | None

    def __repr__(self) -> str:
        return (
            f"MfaContext(raw_token='***', audience={self.audience!r}, scope={self.scope!r}, "
            f"bound={self.binding is not None})"
        )

    def challenge_types(self) -> set[str] | None:
        """Lower-cased factor types of ``mfa_requirements.challenge`` (``None``: no list)."""
        if self.requirements is None or "challenge" not in self.requirements:
            return None
        return {entry["type"].lower() for entry in self.requirements["challenge"]}


def session_binding(session: SessionData) -> str:
    """A fingerprint of one login: the user, the provider session and the login's time.

    ``internal`` cannot be changed by hooks or ``update_session``, so the fingerprint is
    stable for the life of the session and differs for every other login.
    """
    sub = session.user.get("sub")
    material = json.dumps(
        [sub if isinstance(sub, str) else "", session.internal.sid, session.internal.created_at]
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def sanitize_requirements(value: object) -> dict[str, list[dict[str, str]]] | None:
    """Keep the documented shape of ``mfa_requirements`` (``challenge``/``enroll`` lists of
    ``{"type": ...}``), nothing else: it is echoed to the browser and sealed."""
    if not isinstance(value, Mapping):
        return None
    out: dict[str, list[dict[str, str]]] = {}
    for key in ("challenge", "enroll"):
        entries = value.get(key)
        if not isinstance(entries, list):
            continue
        kept = []
        for entry in entries[:_MAX_REQUIREMENTS]:
            kind = entry.get("type") if isinstance(entry, Mapping) else None
            if isinstance(kind, str) and _FACTOR_TYPE_RE.fullmatch(kind.lower()):
                kept.append({"type": kind})
        out[key] = kept
    return out or None


def seal_context(
    rt: Runtime,
    *,
    raw_token: str,
    audience: str | None,
    scope: str | None,
    requested_scope: str | None,
    requirements: dict[str, list[dict[str, str]]] | None,
    session: SessionData | None,
) -> str:
    """Encrypt an MFA context for ``rt.config.mfa_token_ttl`` seconds."""
    now = rt.now()
    payload: dict[str, Any] = {
        "kind": _KIND,
        "mfa_token": raw_token,
        "audience": audience or "",
        "scope": scope or "",
        "requested_scope": requested_scope or "",
        "iat": now,
    }
    if requirements is not None:
        payload["mfa_requirements"] = requirements
    if session is not None:
        payload["bnd"] = session_binding(session)
    return rt.codec.encrypt(payload, exp=now + rt.config.mfa_token_ttl)


def _text(payload: Mapping[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = payload.get(key, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value):
        raise MfaTokenInvalidError()
    return value


def unseal_context(rt: Runtime, value: object) -> MfaContext:
    """Open a sealed MFA token; :class:`MfaTokenExpiredError` when its time is up,
    :class:`MfaTokenInvalidError` for anything else (wrong type, oversized, altered,
    truncated, sealed with another secret, not an MFA context)."""
    if not isinstance(value, str) or not value or len(value) > MAX_MFA_TOKEN_LENGTH:
        raise MfaTokenInvalidError()
    plaintext = rt.codec.open(value)
    if plaintext is None:
        raise MfaTokenInvalidError()
    try:
        payload = loads_strict(plaintext)
    except (ValueError, RecursionError):
        raise MfaTokenInvalidError() from None
    if not isinstance(payload, dict) or payload.get("kind") != _KIND:
        raise MfaTokenInvalidError()
    exp = payload.get("exp")
    if (
        isinstance(exp, bool)
        or not isinstance(exp, int | float)
        or not math.isfinite(exp)
        or not 0 < exp < 1e11
    ):
        raise MfaTokenInvalidError()
    raw_token = _text(payload, "mfa_token", _MAX_RAW_TOKEN, required=True)
    binding = payload.get("bnd")
    if binding is not None and not isinstance(binding, str):
        raise MfaTokenInvalidError()
    context = MfaContext(
        raw_token=raw_token,
        audience=_text(payload, "audience", _MAX_AUDIENCE),
        scope=_text(payload, "scope", _MAX_SCOPE),
        requested_scope=_text(payload, "requested_scope", _MAX_SCOPE),
        requirements=sanitize_requirements(payload.get("mfa_requirements")),
        binding=binding,
    )
    if exp <= rt.clock():
        raise MfaTokenExpiredError()
    return context


def check_binding(context: MfaContext, session: SessionData | None) -> None:
    """A context made for a session works only with that session (EXT-06)."""
    if context.binding is None:
        return
    if session is None or not hmac.compare_digest(context.binding, session_binding(session)):
        raise MfaTokenInvalidError()


def mfa_required_error(
    rt: Runtime,
    error: OAuth2Error,
    *,
    session: SessionData | None,
    audience: str | None,
    scope: str | None,
    requested_scope: str | None,
) -> MfaRequiredError:
    """The :class:`MfaRequiredError` for a server's ``mfa_required`` answer.

    Without a usable ``mfa_token`` in the answer the error carries an empty token: the
    step-up cannot be done through the MFA API and the user must log in again.
    """
    raw = error.extra.get("mfa_token")
    requirements = sanitize_requirements(error.extra.get("mfa_requirements"))
    sealed = ""
    if isinstance(raw, str) and 0 < len(raw) <= _MAX_RAW_TOKEN:
        sealed = seal_context(
            rt,
            raw_token=raw,
            audience=audience,
            scope=scope,
            requested_scope=requested_scope,
            requirements=requirements,
            session=session,
        )
    return MfaRequiredError(mfa_token=sealed, mfa_requirements=requirements, cause=error)


# --------------------------------------------------------------------------- input checks


def _opaque(value: object, what: str, error: type[MfaError]) -> str:
    if not isinstance(value, str) or not _OPAQUE_RE.fullmatch(value):
        raise error(MfaError.INVALID_REQUEST, f"Missing or invalid {what}.")
    return value


def validate_challenge(challenge_type: object, authenticator_id: object) -> ChallengeType:
    if challenge_type not in ("otp", "oob"):
        raise MfaChallengeError(
            MfaError.INVALID_REQUEST, "Missing or invalid challenge_type ('otp' or 'oob')."
        )
    if authenticator_id is not None:
        _opaque(authenticator_id, "authenticator_id", MfaChallengeError)
    return "otp" if challenge_type == "otp" else "oob"


def validate_enrollment(factor_type: object, phone_number: object, email: object) -> dict[str, Any]:
    """The ``/mfa/associate`` body for a factor; local errors for bad arguments."""
    if not isinstance(factor_type, str) or factor_type not in _ENROLLMENT:
        raise MfaEnrollmentError(
            MfaError.INVALID_REQUEST,
            "Missing or invalid factor_type ('otp', 'sms', 'voice', 'email' or 'push').",
        )
    authenticator_type, channel = _ENROLLMENT[factor_type]
    body: dict[str, Any] = {"authenticator_types": [authenticator_type]}
    if channel is not None:
        body["oob_channels"] = [channel]
    if factor_type in ("sms", "voice"):
        if not isinstance(phone_number, str) or not _E164_RE.fullmatch(phone_number):
            raise MfaEnrollmentError(
                MfaError.INVALID_REQUEST,
                "Missing or invalid phone_number (E.164, e.g. +15551234567).",
            )
        body["phone_number"] = phone_number
    elif phone_number is not None:
        raise MfaEnrollmentError(
            MfaError.INVALID_REQUEST, "phone_number is only used with 'sms' and 'voice'."
        )
    if factor_type == "email":
        if not isinstance(email, str) or not _EMAIL_RE.fullmatch(email):
            raise MfaEnrollmentError(MfaError.INVALID_REQUEST, "Missing or invalid email.")
        body["email"] = email
    elif email is not None:
        raise MfaEnrollmentError(MfaError.INVALID_REQUEST, "email is only used with 'email'.")
    return body


@dataclass(frozen=True, slots=True)
class Credential:
    """What the user proved: the grant type and its parameters (never logged)."""

    grant_type: str
    params: dict[str, str] = field(repr=False)


def validate_credential(
    otp: object = None,
    oob_code: object = None,
    binding_code: object = None,
    recovery_code: object = None,
) -> Credential:
    """Exactly one kind of credential, well-formed, or a local :class:`MfaVerifyError`."""
    kinds = [
        name
        for name, value in (("otp", otp), ("oob_code", oob_code), ("recovery_code", recovery_code))
        if value is not None
    ]
    if len(kinds) != 1:
        raise MfaVerifyError(
            MfaError.INVALID_REQUEST,
            "Provide exactly one of otp, oob_code (with binding_code) or recovery_code.",
        )
    if binding_code is not None and kinds != ["oob_code"]:
        raise MfaVerifyError(MfaError.INVALID_REQUEST, "binding_code goes with oob_code.")
    if otp is not None:
        if not isinstance(otp, str) or not _OTP_RE.fullmatch(otp):
            raise MfaVerifyError(MfaError.INVALID_REQUEST, "Missing or invalid otp.")
        return Credential(MFA_OTP_GRANT, {"otp": otp})
    if recovery_code is not None:
        if not isinstance(recovery_code, str) or not _RECOVERY_CODE_RE.fullmatch(recovery_code):
            raise MfaVerifyError(MfaError.INVALID_REQUEST, "Missing or invalid recovery_code.")
        return Credential(MFA_RECOVERY_CODE_GRANT, {"recovery_code": recovery_code})
    params = {"oob_code": _opaque(oob_code, "oob_code", MfaVerifyError)}
    if binding_code is not None:
        if not isinstance(binding_code, str) or not _BINDING_CODE_RE.fullmatch(binding_code):
            raise MfaVerifyError(MfaError.INVALID_REQUEST, "Missing or invalid binding_code.")
        params["binding_code"] = binding_code
    return Credential(MFA_OOB_GRANT, params)


# --------------------------------------------------------------------------- the MFA API


class _MalformedAnswer(Exception):
    """The server's answer has not the documented shape; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _mfa_url(rt: Runtime, path: str) -> str:
    # Auth0 serves the MFA API on the tenant's domain, next to /oauth/token.
    return f"{rt.config.domain}/mfa/{path}"


async def _mfa_call(
    rt: Runtime, method: str, path: str, *, bearer: str | None, body: dict[str, Any] | None
) -> HttpResponse:
    headers = {"Accept": "application/json"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    content = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        content = json.dumps(body, separators=(",", ":")).encode("utf-8")
    return await rt.http.request(method, _mfa_url(rt, path), headers=headers, content=content)


def _answer(response: HttpResponse) -> Any:
    """The JSON of a 200 answer; :class:`OAuth2Error` for an error answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status != 200:
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            description = body.get("error_description")
            raise OAuth2Error(
                body["error"], description if isinstance(description, str) else None, extra=body
            )
        raise _MalformedAnswer(f"unexpected status {response.status}")
    if body is None:
        raise _MalformedAnswer("body is not JSON")
    return body


def _optional(body: Mapping[str, Any], key: str, limit: int = 4096) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise _MalformedAnswer(f"{key} is not a string")
    return value


def _required(body: Mapping[str, Any], key: str, limit: int = 512) -> str:
    value = _optional(body, key, limit)
    if not value:
        raise _MalformedAnswer(f"{key} missing")
    return value


def _parse_authenticator(item: object) -> Authenticator:
    if not isinstance(item, dict):
        raise _MalformedAnswer("authenticator is not an object")
    active = item.get("active", True)
    if not isinstance(active, bool):
        raise _MalformedAnswer("active is not a boolean")
    return Authenticator(
        id=_required(item, "id"),
        authenticator_type=_required(item, "authenticator_type", 64),
        active=active,
        type=_optional(item, "type", 64),
        name=_optional(item, "name", 512),
        phone_number=_optional(item, "phone_number", 64),
        oob_channel=_optional(item, "oob_channel", 64),
        created_at=_optional(item, "created_at", 64),
        last_authenticated_at=_optional(item, "last_authenticated_at", 64),
    )


def _failure(error: type[MfaError], exc: BaseException) -> MfaError:
    if isinstance(exc, OAuth2Error):
        return error(exc.code, cause=exc)
    if isinstance(exc, DiscoveryError):
        return error(MfaError.DISCOVERY_ERROR, cause=exc)
    reason = getattr(exc, "reason", type(exc).__name__)
    logger.warning("MFA API call failed: %s", reason)
    return error(MfaError.UNEXPECTED_ERROR, cause=exc)


async def list_authenticators(rt: Runtime, context: MfaContext) -> list[Authenticator]:
    """The user's authenticators, narrowed to the factor types ``mfa_requirements.challenge``
    names (compared case-insensitively) when the server gave that list."""
    try:
        response = await _mfa_call(rt, "GET", "authenticators", bearer=context.raw_token, body=None)
        body = _answer(response)
        if not isinstance(body, list) or len(body) > _MAX_AUTHENTICATORS:
            raise _MalformedAnswer("authenticators is not a list")
        authenticators = [_parse_authenticator(item) for item in body]
    except (OAuth2Error, HttpError, _MalformedAnswer) as exc:
        raise _failure(MfaGetAuthenticatorsError, exc) from exc
    allowed = context.challenge_types()
    if not allowed:
        return authenticators
    return [a for a in authenticators if a.factor_type in allowed]


def _client_credentials(rt: Runtime, body: dict[str, Any]) -> None:
    """Client authentication inside a JSON body (the MFA API reads it there)."""
    auth = rt.client_auth
    if isinstance(auth, ClientSecret):
        body["client_id"] = auth.client_id
        body["client_secret"] = auth.client_secret
    else:
        form: dict[str, str] = {}
        auth.apply(form)
        body.update(form)


async def start_challenge(
    rt: Runtime, context: MfaContext, challenge_type: ChallengeType, authenticator_id: str | None
) -> MfaChallenge:
    allowed = context.challenge_types()
    if allowed is not None:
        usable = "otp" in allowed if challenge_type == "otp" else bool(allowed & _OOB_FACTORS)
        if not usable:
            raise MfaNoAvailableFactorsError()
    body: dict[str, Any] = {"mfa_token": context.raw_token, "challenge_type": challenge_type}
    if authenticator_id is not None:
        body["authenticator_id"] = authenticator_id
    _client_credentials(rt, body)
    try:
        answer = _answer(await _mfa_call(rt, "POST", "challenge", bearer=None, body=body))
        if not isinstance(answer, dict):
            raise _MalformedAnswer("challenge answer is not an object")
        kind = _required(answer, "challenge_type", 64)
        if kind not in ("otp", "oob"):
            raise _MalformedAnswer("unknown challenge_type")
        oob_code = _optional(answer, "oob_code", 512)
        if kind == "oob" and not oob_code:
            raise _MalformedAnswer("oob challenge without oob_code")
        return MfaChallenge(
            challenge_type=kind,
            oob_code=oob_code,
            binding_method=_optional(answer, "binding_method", 64),
        )
    except (OAuth2Error, HttpError, _MalformedAnswer) as exc:
        raise _failure(MfaChallengeError, exc) from exc


async def enroll_authenticator(
    rt: Runtime, context: MfaContext, body: dict[str, Any]
) -> MfaEnrollment:
    """``POST /mfa/associate`` with ``body`` from :func:`validate_enrollment`."""
    try:
        answer = _answer(
            await _mfa_call(rt, "POST", "associate", bearer=context.raw_token, body=body)
        )
        if not isinstance(answer, dict):
            raise _MalformedAnswer("associate answer is not an object")
        codes = answer.get("recovery_codes", [])
        if not isinstance(codes, list) or not all(
            isinstance(c, str) and 0 < len(c) <= 128 for c in codes
        ):
            raise _MalformedAnswer("recovery_codes is not a list of strings")
        return MfaEnrollment(
            authenticator_type=_required(answer, "authenticator_type", 64),
            secret=_optional(answer, "secret", 512),
            barcode_uri=_optional(answer, "barcode_uri", 2048),
            recovery_codes=tuple(codes[:20]),
            oob_code=_optional(answer, "oob_code", 512),
            binding_method=_optional(answer, "binding_method", 64),
            oob_channel=_optional(answer, "oob_channel", 64),
            id=_optional(answer, "id", 512),
        )
    except (OAuth2Error, HttpError, _MalformedAnswer) as exc:
        raise _failure(MfaEnrollmentError, exc) from exc


async def verify_credential(
    rt: Runtime, context: MfaContext, credential: Credential, session: SessionData
) -> tuple[SessionData, MfaVerifyResult]:
    """Exchange the credential for tokens and return the session that holds them.

    The caller persists the session. Raises :class:`MfaVerifyError` (nothing to store),
    or :class:`~auth0_web.MfaRequiredError` when the server asks for yet another factor.
    """
    form = {"grant_type": credential.grant_type, "mfa_token": context.raw_token}
    form.update(credential.params)
    if context.audience:
        form["audience"] = context.audience
    if context.scope:
        form["scope"] = context.scope
    try:
        metadata = await rt.discovery.get()
        response = await token_request(
            rt.http, metadata.token_endpoint, rt.client_auth, form, rt.dpop
        )
        tokens = parse_token_response(response, require_id_token=False)
        recovery_code = _optional(tokens.raw, "recovery_code", 128)
    except OAuth2Error as exc:
        if exc.code == "mfa_required":
            raise mfa_required_error(
                rt,
                exc,
                session=session,
                audience=context.audience,
                scope=context.scope,
                requested_scope=context.requested_scope,
            ) from exc
        raise MfaVerifyError(exc.code, cause=exc) from exc
    except (DiscoveryError, HttpError, TokenResponseError, _MalformedAnswer) as exc:
        raise _failure(MfaVerifyError, exc) from exc
    issued_at = rt.now()
    if tokens.id_token is not None:
        try:
            claims = await rt.verify_id_token(tokens.id_token, metadata)
        except (IdTokenError, HttpError) as exc:
            logger.warning("MFA verify: ID token rejected: %s", getattr(exc, "reason", exc))
            raise MfaVerifyError(MfaVerifyError.INVALID_ID_TOKEN, cause=exc) from exc
        if claims.get("sub") != session.user.get("sub"):
            # Tokens for someone else never go into this user's session.
            logger.warning("MFA verify: the ID token is for another user; nothing stored")
            raise MfaVerifyError(
                MfaVerifyError.INVALID_ID_TOKEN, cause=IdTokenError("sub mismatch")
            )
    updated = apply_verified_tokens(
        session, rt.config, context, tokens, issued_at=issued_at, now=rt.now()
    )
    return updated, MfaVerifyResult(recovery_code=recovery_code)


def apply_verified_tokens(
    session: SessionData,
    config: Config,
    context: MfaContext,
    tokens: TokenResponse,
    *,
    issued_at: int,
    now: int,
) -> SessionData:
    """The session with the stepped-up access token (a new object).

    The token goes where :func:`~auth0_web._access_tokens.select_candidate` will look for
    the context's audience and scope: into the login's token set when that set answers
    them (the default audience), else into ``access_tokens``, replacing the entries of
    that audience requested for (at least) the same scopes, which would otherwise be
    picked instead of it. A rotated refresh token replaces the session's; the login's ID
    token and ``user`` stay (the MFA grant's ID token was only checked to be the same
    user's).
    """
    expires_at = issued_at + (tokens.expires_in if tokens.expires_in is not None else 3600)
    primary = session.token_set
    refresh_token = tokens.refresh_token or primary.refresh_token
    audience = context.audience or None
    requested = context.requested_scope
    effective = audience or config.audience
    candidate = select_candidate(session, config, audience=audience, scope=requested)
    stands_in = candidate.primary or (
        not effective
        and contains_scopes(requested, primary.requested_scope or config.scope_for(None))
    )
    entries = list(session.access_tokens)
    if stands_in:
        token_set = replace(
            primary,
            access_token=tokens.access_token,
            expires_at=expires_at,
            refresh_token=refresh_token,
            scope=tokens.scope or primary.scope,
            requested_scope=primary.requested_scope if candidate.primary else requested,
            audience=primary.audience or effective,
            token_type=tokens.token_type,
        )
    else:
        token_set = replace(primary, refresh_token=refresh_token)
        if effective:
            entries = [
                e
                for e in entries
                if not (
                    e.audience == effective
                    and contains_scopes(e.requested_scope or e.scope, requested)
                )
            ]
            entries.append(
                AccessTokenSet(
                    access_token=tokens.access_token,
                    expires_at=expires_at,
                    audience=effective,
                    scope=tokens.scope,
                    requested_scope=requested or None,
                    token_type=tokens.token_type,
                )
            )
    live = sorted((e for e in entries if e.expires_at > now), key=lambda e: -e.expires_at)
    return replace(session, token_set=token_set, access_tokens=live[:MAX_ACCESS_TOKEN_ENTRIES])


# --------------------------------------------------------------------------- auth0.mfa


class MfaClient:
    """``auth0.mfa``: the step-up API for server code.

    Every method takes the sealed ``mfa_token`` from :class:`~auth0_web.MfaRequiredError`.
    A token is bound to the session it was made for, so the methods read the current
    session: inside the middleware from the request context, elsewhere from ``request=``
    (a Starlette/FastAPI request, an ASGI scope or an :class:`auth0_web.Request`).
    """

    def __init__(self, client: Auth0Client) -> None:
        self._client = client
        self._rt = client._rt

    def __repr__(self) -> str:
        return f"MfaClient({self._client!r})"

    async def _open(self, mfa_token: object, request: object | None) -> MfaContext:
        context = unseal_context(self._rt, mfa_token)
        if context.binding is not None:
            check_binding(context, await self._client.get_session(request))
        return context

    async def get_authenticators(
        self, mfa_token: str, *, request: object | None = None
    ) -> list[Authenticator]:
        """The user's enrolled authenticators that can satisfy the requirement.

        Raises :class:`MfaTokenExpiredError`, :class:`MfaTokenInvalidError` or
        :class:`MfaGetAuthenticatorsError`.
        """
        context = await self._open(mfa_token, request)
        return await list_authenticators(self._rt, context)

    async def challenge(
        self,
        mfa_token: str,
        challenge_type: ChallengeType,
        authenticator_id: str | None = None,
        *,
        request: object | None = None,
    ) -> MfaChallenge:
        """Start a challenge: ``otp`` (the user reads their app) or ``oob`` (the server
        sends a code by SMS, voice or email, or a push).

        Raises :class:`MfaChallengeError` (``invalid_request`` for bad arguments, before
        any call; else the server's code), :class:`MfaNoAvailableFactorsError` when the
        requirement rules the type out, or an MFA token error.
        """
        kind = validate_challenge(challenge_type, authenticator_id)
        context = await self._open(mfa_token, request)
        return await start_challenge(self._rt, context, kind, authenticator_id)

    async def enroll(
        self,
        mfa_token: str,
        factor_type: FactorType,
        phone_number: str | None = None,
        email: str | None = None,
        *,
        request: object | None = None,
    ) -> MfaEnrollment:
        """Enroll the user's first factor: ``otp``, ``sms``/``voice`` (``phone_number``
        in E.164 form), ``email`` (``email``) or ``push``.

        Raises :class:`MfaEnrollmentError` (``invalid_request`` for bad arguments, before
        any call; ``access_denied`` when the user already has a factor) or an MFA token
        error.
        """
        body = validate_enrollment(factor_type, phone_number, email)
        context = await self._open(mfa_token, request)
        return await enroll_authenticator(self._rt, context, body)

    async def verify(
        self,
        mfa_token: str,
        *,
        otp: str | None = None,
        oob_code: str | None = None,
        binding_code: str | None = None,
        recovery_code: str | None = None,
        request: object | None = None,
        response: object | None = None,
    ) -> MfaVerifyResult:
        """Prove the factor and store the stepped-up access token in the current session.

        Give exactly one of ``otp``, ``oob_code`` (with ``binding_code`` when the
        challenge's ``binding_method`` is ``prompt``) or ``recovery_code``. Inside the
        middleware the session is written on the way out; elsewhere pass ``response=``.
        Afterwards :meth:`~auth0_web.Auth0Client.get_access_token` with the same audience
        and scope returns the new token without a refresh.

        Raises :class:`MfaVerifyError` (``invalid_request`` before any call;
        ``missing_session``; the server's code such as ``invalid_grant``;
        ``invalid_id_token``), :class:`~auth0_web.MfaRequiredError` when another factor is
        needed, or an MFA token error. Nothing is stored on failure.
        """
        credential = validate_credential(otp, oob_code, binding_code, recovery_code)
        client = self._client
        state, core = client._state_for(request)
        if state is None and response is None:
            raise Auth0Error(
                "mfa.verify() outside the middleware needs response= to write the session to."
            )
        if state is not None and state.response_started and response is None:
            raise Auth0Error("The response has already started; the session cannot be updated.")
        session = (
            await client._session_for_state(state)
            if state is not None
            else await self._rt.read_session(core)
        )
        context = unseal_context(self._rt, mfa_token)
        check_binding(context, session)
        if session is None:
            raise MfaVerifyError(
                MfaVerifyError.MISSING_SESSION, "The user does not have an active session."
            )
        updated, result = await verify_credential(self._rt, context, credential, session)
        await client._persist(state, core, updated, response)
        return result
