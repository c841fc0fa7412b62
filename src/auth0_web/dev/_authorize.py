"""The authorization endpoint (``GET /authorize``).

RFC 6749 section 4.1.1, OpenID Connect Core 1.0 section 3.1.2.1, RFC 7636 (PKCE, S256
only) and RFC 9207 (``iss`` on every response). The order of checks is the one section
4.1.2.1 prescribes: until the client and its redirect URI are known to be genuine, errors
are shown to the user on a page and the browser is never redirected (an unverified
``redirect_uri`` would make the provider an open redirector); after that, errors travel
back to the client on its redirect URI.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from ._authorization_response import code_response, error_response
from ._cookies import current_session
from ._errors import OAuthError
from ._login import show_login_page
from ._models import DevClient
from ._params import ParameterError, Parameters, is_vschar, parse_scope, query_parameters
from ._redirects import is_allowed_redirect_uri
from ._responses import html_error
from ._state import AuthorizationRequest, ProviderSession, ProviderState

__all__ = ["PROMPT_VALUES", "authorize"]

#: OpenID Connect Core 1.0 section 3.1.2.1.
PROMPT_VALUES = frozenset({"none", "login", "consent", "select_account"})
#: RFC 7636 section 4.2: BASE64URL(SHA256(verifier)) is always 43 characters.
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


class _PageError(Exception):
    """An error shown to the user because the client cannot be trusted with it."""

    def __init__(self, title: str, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.title, self.message, self.detail = title, message, detail


def _client_and_redirect_uri(params: Parameters, state: ProviderState) -> tuple[DevClient, str]:
    for name in ("client_id", "redirect_uri"):
        if name in params.repeated:
            raise _PageError("Invalid request", f"The {name} parameter was sent more than once.")
    client_id = params.get("client_id")
    if client_id is None:
        raise _PageError("Invalid request", "The client_id parameter is missing.")
    client = state.clients.get(client_id)
    if client is None:
        raise _PageError("Unknown client", "No application is registered with this client_id.")
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is None:
        raise _PageError("Invalid request", "The redirect_uri parameter is missing.")
    if not is_allowed_redirect_uri(client, redirect_uri):
        raise _PageError(
            "Callback URL mismatch",
            "The redirect_uri is not in this application's allowed callback URLs "
            "(they are matched exactly).",
            redirect_uri,
        )
    return client, redirect_uri


def _vschar_parameter(params: Parameters, name: str) -> str | None:
    value = params.get(name)
    if value is not None and not is_vschar(value):
        raise OAuthError("invalid_request", f"{name} must be printable ASCII")
    return value


def _prompt(params: Parameters) -> frozenset[str]:
    value = params.get("prompt")
    if value is None:
        return frozenset()
    prompt = frozenset(value.split(" "))
    if not prompt <= PROMPT_VALUES:
        raise OAuthError("invalid_request", "prompt has an unsupported value")
    if "none" in prompt and len(prompt) > 1:
        raise OAuthError("invalid_request", "prompt=none cannot be combined with other values")
    return prompt


def _max_age(params: Parameters) -> int | None:
    value = params.get("max_age")
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise OAuthError("invalid_request", "max_age must be a non-negative integer")
    return int(value)


def _code_challenge(params: Parameters) -> str:
    challenge = params.get("code_challenge")
    if challenge is None:
        raise OAuthError("invalid_request", "code_challenge is required (PKCE, RFC 7636)")
    method = params.get("code_challenge_method")
    if method != "S256":
        # RFC 7636 section 4.4.1: an unsupported transformation is invalid_request. A missing
        # method means "plain", which is refused as well.
        raise OAuthError("invalid_request", "code_challenge_method must be S256")
    if not _S256_CHALLENGE.fullmatch(challenge):
        raise OAuthError("invalid_request", "code_challenge is not a base64url SHA-256 digest")
    return challenge


def _validate(params: Parameters, client: DevClient, redirect_uri: str) -> AuthorizationRequest:
    """Everything after the client and redirect URI; errors go back to the client."""
    if params.repeated:
        name = sorted(params.repeated)[0]
        raise OAuthError("invalid_request", f"{name} was sent more than once")
    if "request" in params:
        raise OAuthError("request_not_supported", "request objects are not supported")
    if "request_uri" in params:
        raise OAuthError("request_uri_not_supported", "request_uri is not supported")
    response_type = params.get("response_type")
    if response_type is None:
        raise OAuthError("invalid_request", "response_type is required")
    if response_type != "code":
        raise OAuthError("unsupported_response_type", "only response_type=code is supported")
    response_mode = params.get("response_mode")
    if response_mode not in (None, "query"):
        raise OAuthError("invalid_request", "only response_mode=query is supported")
    scope_value = params.get("scope")
    if scope_value is None:
        raise OAuthError("invalid_request", "scope is required")
    scope = parse_scope(scope_value)
    if "openid" not in scope:
        raise OAuthError("invalid_scope", "scope must include openid")
    audience = _vschar_parameter(params, "audience")
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=_vschar_parameter(params, "state"),
        nonce=_vschar_parameter(params, "nonce"),
        code_challenge=_code_challenge(params),
        audience=audience,
        max_age=_max_age(params),
        prompt=_prompt(params),
        login_hint=params.get("login_hint"),
    )


def _reusable(
    auth: AuthorizationRequest, session: ProviderSession | None, now: int
) -> ProviderSession | None:
    """The provider session, if it may answer this request without a login page."""
    if session is None or auth.prompt & {"login", "select_account"}:
        return None
    if auth.max_age is not None and now - session.auth_time >= auth.max_age:
        return None
    return session


async def authorize(request: Request, state: ProviderState) -> Response:
    """``GET /authorize``."""
    try:
        params = query_parameters(request)
    except ParameterError as exc:
        return html_error("Invalid request", str(exc))
    with state.lock:
        try:
            client, redirect_uri = _client_and_redirect_uri(params, state)
        except _PageError as exc:
            return html_error(exc.title, exc.message, exc.detail)
        client_state = params.get("state")
        if client_state is not None and (not is_vschar(client_state) or "state" in params.repeated):
            client_state = None
        try:
            auth = _validate(params, client, redirect_uri)
            session = current_session(request, state)
            if session is not None and session.sub not in state.users:
                session = None
            reusable = _reusable(auth, session, state.now())
            if reusable is not None:
                return code_response(state, auth, reusable)
            if "none" in auth.prompt:
                raise OAuthError("login_required", "the user is not signed in at the provider")
        except OAuthError as exc:
            return error_response(state, redirect_uri, exc, client_state)
        return show_login_page(request, state, auth)
