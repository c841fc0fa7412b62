"""``GET /auth/login``: start an interactive login (authorization code flow with PKCE)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from .._config import AppBaseUrl
from .._errors import DiscoveryError, HttpError, InvalidRequestError
from .._http import Request, Response
from .._runtime import Runtime
from .._urls import safe_return_to
from ..oidc._authorize import (
    RESERVED_PARAMETERS,
    authorization_url,
    generate_code_verifier,
    random_token,
)
from ..oidc._authorize import authorization_parameters as build_authorization_parameters
from ..oidc._par import ParError, pushed_authorization_url
from ..session._transaction import TransactionState

logger = logging.getLogger("auth0_web")
LOGIN_FAILED = "An error occurred while trying to initiate the login request."

__all__ = ["handle_login", "is_prefetch", "start_interactive_login"]

#: Login-query parameters that are neither forwarded nor reserved: ``returnTo`` is ours,
#: ``challengeMode`` selects the flow, and ``iss``/``target_link_uri`` (third-party
#: initiated login) must never steer the SDK towards another provider or origin.
_LOCAL_PARAMETERS = frozenset({"returnTo", "challengeMode", "iss", "target_link_uri"})


def is_prefetch(request: Request) -> bool:
    """Link prefetches must not start logins (each would leave a transaction cookie)."""
    router = (request.header("next-router-prefetch") or "").strip().lower()
    if router not in ("", "0", "false"):
        return True
    if (request.header("purpose") or "").lower() == "prefetch":
        return True
    sec_purpose = (request.header("sec-purpose") or "").lower()
    if "prefetch" in sec_purpose and "prerender" not in sec_purpose:
        return True
    return request.header("x-middleware-prefetch") == "1"


def prefetch_response() -> Response:
    response = Response(status=204)
    response.headers.append(("cache-control", "no-store"))
    return response


async def handle_login(rt: Runtime, request: Request) -> Response:
    if is_prefetch(request):
        return prefetch_response()
    query = request.query()
    mode = query.get("challengeMode")
    if mode is not None and mode != "redirect":
        raise InvalidRequestError("Invalid challengeMode query param. Expected 'redirect' or omit.")
    max_age = query.get("max_age")
    if max_age is not None and not (max_age.isascii() and max_age.isdigit() and len(max_age) <= 10):
        raise InvalidRequestError("Invalid max_age query param. Must be a non-negative integer.")
    params = {k: v for k, v in query.items() if k not in _LOCAL_PARAMETERS}
    return await start_interactive_login(
        rt, request, authorization_parameters=params, return_to=query.get("returnTo")
    )


def _merge_parameters(rt: Runtime, request_params: Mapping[str, str]) -> dict[str, str]:
    merged = dict(rt.config.authorization_parameters)
    merged.update(request_params)  # request values win, key by key; scope is replaced
    if "scope" not in request_params:
        merged["scope"] = rt.config.scope_for(merged.get("audience"))
    return {k: v for k, v in merged.items() if k not in RESERVED_PARAMETERS}


def default_return_to(rt: Runtime, base: AppBaseUrl) -> str:
    return base.path + rt.config.sign_in_return_to_path


async def start_interactive_login(
    rt: Runtime,
    request: Request,
    *,
    authorization_parameters: Mapping[str, str] | None = None,
    return_to: str | None = None,
) -> Response:
    """A redirect to the authorization endpoint, with the transaction cookie set."""
    base = rt.base_url(request)
    params = _merge_parameters(rt, authorization_parameters or {})
    max_age_value = params.get("max_age")
    max_age: int | None = None
    if max_age_value is not None:
        if not (max_age_value.isascii() and max_age_value.isdigit() and len(max_age_value) <= 10):
            raise InvalidRequestError("max_age must be a non-negative integer.")
        max_age = int(max_age_value)
    txn = TransactionState(
        state=random_token(),
        nonce=random_token(),
        code_verifier=generate_code_verifier(),
        return_to=safe_return_to(return_to, base) or default_return_to(rt, base),
        max_age=max_age,
        scope=params.get("scope"),
        audience=params.get("audience"),
        organization=params.get("organization") or None,
    )
    try:
        metadata = await rt.discovery.get()
    except DiscoveryError:
        return Response.text(LOGIN_FAILED, 500)
    authorize_params = build_authorization_parameters(
        client_id=rt.config.client_id,
        redirect_uri=base.url_for(rt.config.routes.callback),
        state=txn.state,
        nonce=txn.nonce,
        code_verifier=txn.code_verifier,
        extra=params,
    )
    if rt.dpop is not None:
        # RFC 9449 section 10: bind the authorization code to our DPoP key.
        authorize_params["dpop_jkt"] = rt.dpop.key.thumbprint
    if rt.config.pushed_authorization_requests:
        par_endpoint = metadata.par_endpoint
        if par_endpoint is None:
            logger.error(
                "pushed_authorization_requests is on but the authorization server does not "
                "advertise a pushed_authorization_request_endpoint"
            )
            return Response.text(LOGIN_FAILED, 500)
        try:
            url = await pushed_authorization_url(
                rt.http,
                par_endpoint=par_endpoint,
                authorization_endpoint=metadata.authorization_endpoint,
                client_id=rt.config.client_id,
                auth=rt.client_auth,
                params=authorize_params,
            )
        except (ParError, HttpError) as exc:
            logger.warning("pushed authorization request failed: %s", getattr(exc, "reason", exc))
            return Response.text(LOGIN_FAILED, 500)
    else:
        url = authorization_url(metadata.authorization_endpoint, authorize_params)
    response = Response.redirect(url)
    rt.transactions.save(
        response, txn, request.cookies, rt.now(), rt.transaction_cookie_options(base)
    )
    return response
