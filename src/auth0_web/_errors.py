"""The error hierarchy.

Every error the SDK raises derives from :class:`Auth0Error` and carries a stable ``code``
string (the reference SDK's codes), so applications switch on ``code`` rather than on
messages. Messages are fixed, generic sentences: they never contain a token, a secret, or
text the authorization server sent back (that lives in ``cause``, an :class:`OAuth2Error`,
which callers must escape before rendering).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Auth0Error(Exception):
    """Base class of every error raised by auth0-web."""

    code: str = "auth0_error"
    #: HTTP status the SDK's own routes answer with when this error ends a request.
    status: int = 500
    default_message: str = "An error occurred in the Auth0 SDK."

    def __init__(self, message: str | None = None, *, cause: BaseException | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.cause = cause
        if cause is not None:
            self.__cause__ = cause

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class OAuth2Error(Auth0Error):
    """An error answer from the authorization server (``error`` / ``error_description``).

    ``code`` is the server's ``error`` value, truncated and restricted to the characters
    RFC 6749 allows, so it is safe to log; ``description`` is the server's text and must be
    escaped before it is rendered anywhere.
    """

    default_message = "An error occurred while interacting with the authorization server."

    def __init__(
        self, code: str, description: str | None = None, *, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(self.default_message)
        self.code = _sanitize_error_code(code)
        self.description = description[:512] if description else None
        #: The rest of the error response (e.g. ``mfa_token``); may hold secrets: never log it.
        self.extra: dict[str, Any] = dict(extra or {})


def _sanitize_error_code(value: str) -> str:
    # RFC 6749 section 5.2: error codes are %x20-21 / %x23-5B / %x5D-7E; we keep the
    # conservative subset so the value can go to logs and JSON without escaping worries.
    cleaned = "".join(ch for ch in value[:64] if ch.isascii() and (ch.isalnum() or ch in "_-.:"))
    return cleaned or "unknown_error"


class InvalidConfigurationError(Auth0Error):
    """The client's configuration is missing something or holds an invalid value.

    Raised at construction with one line per problem (``problems``), each naming the
    option and its environment variable.
    """

    code = "invalid_configuration"
    default_message = "The configuration is invalid."

    def __init__(self, message: str | None = None, *, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        if message is None and self.problems:
            message = "Invalid auth0-web configuration:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(message)


class DomainValidationError(InvalidConfigurationError):
    code = "domain_validation_error"


class DiscoveryError(Auth0Error):
    code = "discovery_error"
    default_message = "Discovery failed for the OpenID Connect configuration."


class MissingStateError(Auth0Error):
    code = "missing_state"
    status = 400
    default_message = "The state parameter is missing."


class InvalidStateError(Auth0Error):
    code = "invalid_state"
    status = 400
    default_message = "The state parameter is invalid."


class AuthorizationError(Auth0Error):
    code = "authorization_error"
    status = 400
    default_message = "An error occurred during the authorization flow."


class AuthorizationCodeGrantRequestError(Auth0Error):
    """The token request could not be made (network failure, timeout, oversized answer)."""

    code = "authorization_code_grant_request_error"
    default_message = "An error occurred while trying to exchange the authorization code."


class AuthorizationCodeGrantError(Auth0Error):
    """The token endpoint refused the code, or its answer (ID token included) is invalid."""

    code = "authorization_code_grant_error"
    status = 400
    default_message = "An error occurred while trying to exchange the authorization code."


class InvalidRequestError(Auth0Error):
    code = "invalid_request"
    status = 400
    default_message = "The request is invalid."


class CodedError(Auth0Error):
    """An error class with several documented codes: ``code`` is chosen per instance."""

    def __init__(self, code: str, message: str, *, cause: BaseException | None = None) -> None:
        super().__init__(message, cause=cause)
        self.code = code


class AccessTokenError(CodedError):
    """Getting an access token failed; ``code`` says why."""

    MISSING_SESSION = "missing_session"
    MISSING_REFRESH_TOKEN = "missing_refresh_token"
    FAILED_TO_REFRESH_TOKEN = "failed_to_refresh_token"
    SESSION_EXPIRED = "session_expired"

    status = 401


class MfaRequiredError(Auth0Error):
    """The authorization server requires multi-factor authentication for this token.

    ``mfa_token`` is the server's MFA token encrypted with the app's secret (opaque to the
    browser, usable only by this app for ``mfa_token_ttl`` seconds); ``mfa_requirements`` is
    what the server said may satisfy it.
    """

    code = "mfa_required"
    status = 403
    default_message = "Multi-factor authentication is required."

    def __init__(
        self,
        message: str | None = None,
        *,
        mfa_token: str = "",
        mfa_requirements: object = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message, cause=cause)
        self.mfa_token = mfa_token
        self.mfa_requirements = mfa_requirements

    def to_json(self) -> dict[str, Any]:
        """The ``403`` body the SDK's routes answer (the reference's ``toJSON``)."""
        body: dict[str, Any] = {
            "error": self.code,
            "error_description": self.message,
            "mfa_token": self.mfa_token,
        }
        if self.mfa_requirements is not None:
            body["mfa_requirements"] = self.mfa_requirements
        return body

    def __repr__(self) -> str:
        return (
            f"MfaRequiredError(code='mfa_required', mfa_token={'***' if self.mfa_token else ''!r})"
        )


class SessionTooLargeError(Auth0Error):
    """The encrypted session is larger than a cookie-only session may be (64 KiB): it would
    be written but never read back, so it is refused instead of silently lost."""

    code = "session_too_large"
    default_message = "The session is too large to be stored in cookies."


class HttpError(Auth0Error):
    """An outbound call to the authorization server failed before an answer was read."""

    code = "http_error"
    default_message = "The request to the authorization server failed."


class SessionStoreUnavailableError(Auth0Error):
    """The server-side session store (``session_store=...``) failed or did not answer.

    Nothing was read, written or deleted: the user's session cookie and the stored record
    are left as they are, so the same session works again once the store is back. The SDK's
    routes answer 503; ``get_session()`` reads such a request as having no session.
    """

    code = "session_store_unavailable"
    status = 503
    default_message = "The session store is unavailable."
