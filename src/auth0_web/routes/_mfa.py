"""The MFA step-up routes, for browser code that received a 403 ``mfa_required``.

``GET /auth/mfa/authenticators``, ``POST /auth/mfa/challenge``, ``POST /auth/mfa/associate``
and ``POST /auth/mfa/verify`` (paths in ``Routes``). The sealed MFA token travels as
``Authorization: Bearer <mfa_token>`` (``challenge`` also accepts it as ``mfa_token`` in
its body); bodies are JSON objects with snake_case members.

Every answer is JSON with ``Cache-Control: no-store``. Errors are
``{"error", "error_description"}``: 401 for an expired or invalid MFA token, 400 for bad
input and for the server's refusals (``error`` is the server's code, the description a
fixed sentence, never the server's text), 403 for a cross-origin request or another
``mfa_required``, 500 for anything unexpected (without details). The state-changing POST
routes accept only ``Content-Type: application/json`` and, when the browser sends an
``Origin``, only the application's own: a cross-site form or ``text/plain`` request
cannot drive them (EXT-08). ``verify`` never returns tokens: they go into the session.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .._config import parse_app_base_url
from .._errors import Auth0Error, InvalidConfigurationError, InvalidRequestError, MfaRequiredError
from .._http import Request, Response
from .._mfa import (
    MfaContext,
    MfaError,
    MfaTokenExpiredError,
    MfaTokenInvalidError,
    MfaVerifyError,
    check_binding,
    enroll_authenticator,
    list_authenticators,
    start_challenge,
    unseal_context,
    validate_challenge,
    validate_credential,
    validate_enrollment,
    verify_credential,
)
from .._runtime import Runtime
from ..session._codec import loads_strict

__all__ = [
    "handle_mfa_associate",
    "handle_mfa_authenticators",
    "handle_mfa_challenge",
    "handle_mfa_verify",
]

logger = logging.getLogger("auth0_web")


class _Forbidden(Exception):
    """A cross-origin request to a state-changing route."""


def _json(data: Any, status: int = 200) -> Response:
    response = Response.json(data, status)
    response.no_store()
    return response


def _error(status: int, code: str, description: str) -> Response:
    return _json({"error": code, "error_description": description}, status)


def _check_origin(rt: Runtime, request: Request) -> None:
    """Refuse requests a browser marks as coming from another site (EXT-08)."""
    if (request.header("sec-fetch-site") or "").lower() == "cross-site":
        raise _Forbidden()
    origin = request.header("origin")
    if origin is None:
        return  # not a browser's cross-origin request; the Content-Type check still applies
    expected = rt.base_url(request).origin
    try:
        given = parse_app_base_url(origin).origin
    except ValueError:
        raise _Forbidden() from None  # "null" (sandboxed or privacy-sensitive contexts) too
    if given != expected:
        raise _Forbidden()


def _json_body(request: Request) -> dict[str, Any]:
    content_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise InvalidRequestError("The request body must be application/json.")
    try:
        body = loads_strict(request.body)
    except (ValueError, RecursionError):
        raise InvalidRequestError("Invalid JSON in request body.") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    return body


def _bearer(request: Request) -> str:
    scheme, _, value = (request.header("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise InvalidRequestError("Missing or invalid Authorization header.")
    return value.strip()


async def _context(rt: Runtime, sealed: str, request: Request) -> MfaContext:
    context = unseal_context(rt, sealed)
    if context.binding is not None:
        check_binding(context, await rt.read_session(request))
    return context


async def _guard(
    rt: Runtime, request: Request, handler: Callable[[], Awaitable[Response]], *, post: bool
) -> Response:
    """Run a route: origin check for POSTs, then map every error to its JSON answer."""
    try:
        if post:
            _check_origin(rt, request)
        return await handler()
    except _Forbidden:
        return _error(403, "invalid_origin", "Cross-origin requests are not allowed.")
    except MfaRequiredError as exc:
        return _json(exc.to_json(), 403)
    except (MfaTokenExpiredError, MfaTokenInvalidError) as exc:
        return _error(401, exc.code, exc.message)
    except MfaError as exc:
        return _json(exc.to_json(), exc.status)
    except InvalidConfigurationError:
        # The request's origin is not an allowed application base URL.
        return _error(400, "invalid_request", "The request's origin is not an allowed base URL.")
    except Auth0Error as exc:
        if exc.status >= 500:
            logger.warning("MFA route failed: %s", exc.code)
            return _error(500, "server_error", "An unexpected error occurred.")
        return _error(exc.status, exc.code, exc.message)
    except Exception as exc:
        logger.error("MFA route failed unexpectedly: %s", type(exc).__name__)
        return _error(500, "server_error", "An unexpected error occurred.")


async def handle_mfa_authenticators(rt: Runtime, request: Request) -> Response:
    """``GET``: the user's authenticators that can satisfy the requirement (JSON array)."""

    async def run() -> Response:
        context = await _context(rt, _bearer(request), request)
        authenticators = await list_authenticators(rt, context)
        return _json([a.to_dict() for a in authenticators])

    return await _guard(rt, request, run, post=False)


async def handle_mfa_challenge(rt: Runtime, request: Request) -> Response:
    """``POST {challenge_type, authenticator_id?, mfa_token?}`` -> ``{challenge_type,
    oob_code?, binding_method?}``."""

    async def run() -> Response:
        body = _json_body(request)
        sealed = body.get("mfa_token")
        header = request.header("authorization")
        if header is not None:
            from_header = _bearer(request)
            if sealed is not None and sealed != from_header:
                raise InvalidRequestError("Two different MFA tokens were sent.")
            sealed = from_header
        if not isinstance(sealed, str) or not sealed:
            raise InvalidRequestError("Missing or invalid mfa_token.")
        kind = validate_challenge(body.get("challenge_type"), body.get("authenticator_id"))
        context = await _context(rt, sealed, request)
        challenge = await start_challenge(rt, context, kind, body.get("authenticator_id"))
        return _json(challenge.to_dict())

    return await _guard(rt, request, run, post=True)


def _factor_of(body: dict[str, Any]) -> tuple[str, Any, Any]:
    """``factor_type`` (or Auth0's ``authenticator_types``/``oob_channels``) of a body."""
    factor = body.get("factor_type")
    if factor is None:
        types = body.get("authenticator_types")
        channels = body.get("oob_channels")
        if types == ["otp"] and channels is None:
            factor = "otp"
        elif types == ["oob"] and isinstance(channels, list) and len(channels) == 1:
            factor = {"sms": "sms", "voice": "voice", "email": "email", "auth0": "push"}.get(
                channels[0] if isinstance(channels[0], str) else ""
            )
        if factor is None:
            raise InvalidRequestError(
                "Missing or invalid authenticator_types (['otp'], or ['oob'] with one of "
                "the oob_channels 'sms', 'voice', 'email', 'auth0')."
            )
    return factor, body.get("phone_number"), body.get("email")


async def handle_mfa_associate(rt: Runtime, request: Request) -> Response:
    """``POST {authenticator_types, oob_channels?, phone_number?, email?}`` -> the new
    factor (``secret``/``barcode_uri`` for OTP, ``oob_code`` for OOB, ``recovery_codes``)."""

    async def run() -> Response:
        body = _json_body(request)
        associate = validate_enrollment(*_factor_of(body))
        context = await _context(rt, _bearer(request), request)
        enrollment = await enroll_authenticator(rt, context, associate)
        return _json(enrollment.to_dict())

    return await _guard(rt, request, run, post=True)


async def handle_mfa_verify(rt: Runtime, request: Request) -> Response:
    """``POST {otp} | {oob_code, binding_code?} | {recovery_code}`` -> ``{"success": true,
    "recovery_code"?}``; the tokens go into the session cookie, never into the body."""

    async def run() -> Response:
        body = _json_body(request)
        credential = validate_credential(
            otp=body.get("otp"),
            oob_code=body.get("oob_code"),
            binding_code=body.get("binding_code"),
            recovery_code=body.get("recovery_code"),
        )
        sealed = _bearer(request)
        base = rt.base_url(request)
        session = await rt.read_session(request)
        context = unseal_context(rt, sealed)
        check_binding(context, session)
        if session is None:
            raise MfaVerifyError(
                MfaVerifyError.MISSING_SESSION, "The user does not have an active session."
            )
        updated, result = await verify_credential(rt, context, credential, session)
        response = _json(result.to_dict())
        saved = await rt.sessions.save(
            response, updated, request.cookies, rt.now(), rt.session_cookie_options(base)
        )
        if not saved:  # a database session deleted meanwhile (a logout)
            raise MfaVerifyError(
                MfaVerifyError.MISSING_SESSION, "The user does not have an active session."
            )
        response.no_store()
        return response

    return await _guard(rt, request, run, post=True)
