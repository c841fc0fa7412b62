"""Pushed Authorization Requests (RFC 9126).

The authorization parameters go to the server over the back channel, authenticated as the
client; the browser is sent only ``client_id`` and the returned ``request_uri``. The answer
is validated like any other (201, a non-empty ``request_uri`` string, a positive
``expires_in``): an invalid one fails the login rather than falling back to the front channel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from urllib.parse import urlencode

from ._client_auth import ClientAuthentication
from ._http_client import HttpClient

__all__ = ["ParError", "pushed_authorization_url"]

MAX_REQUEST_URI_LENGTH = 2048


class ParError(Exception):
    """The pushed authorization request failed; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def pushed_authorization_url(
    http: HttpClient,
    *,
    par_endpoint: str,
    authorization_endpoint: str,
    client_id: str,
    auth: ClientAuthentication,
    params: Mapping[str, str],
) -> str:
    """Push ``params`` (RFC 9126 section 2.1) and build the front-channel URL (section 4)."""
    form = dict(params)
    headers = auth.apply(form)
    response = await http.post_form(par_endpoint, form, headers)
    body = response.json_object()
    if response.status != 201:
        code = body.get("error") if body is not None else None
        raise ParError(
            f"status {response.status}" + (f" ({code})" if isinstance(code, str) else "")
        )
    if body is None:
        raise ParError("response is not a JSON object")
    request_uri = body.get("request_uri")
    if (
        not isinstance(request_uri, str)
        or not request_uri
        or len(request_uri) > (MAX_REQUEST_URI_LENGTH)
    ):
        raise ParError("request_uri missing or invalid")
    expires_in = body.get("expires_in")
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int | float)
        or not math.isfinite(expires_in)
        or expires_in <= 0
    ):
        raise ParError("expires_in missing or invalid")
    separator = "&" if "?" in authorization_endpoint else "?"
    # urlencode percent-encodes the value: a request_uri like "urn:x&redirect_uri=..." cannot
    # smuggle parameters into the front channel.
    return (
        authorization_endpoint
        + separator
        + urlencode({"client_id": client_id, "request_uri": request_uri})
    )
