"""The scripted OP behind fault gateways, and the faults a provider's answers can have.

:class:`FaultOP` is :class:`~tests.support.scripted_op.ScriptedOP` reached only through two
:class:`~tests.faults.gateway.FaultGateway` fronts: ``front`` is the issuer's host (every
endpoint but the keys) and ``keys_front`` serves the JWKS (``jwks_uri`` points there), so
the key host can be down while the token endpoint works, as during a partial outage.

*Answer faults* (:data:`ANSWER_FAULTS`) are complete HTTP answers that are not what the
endpoint promises: 5xx with and without JSON, HTML pages with 200 and error statuses,
invalid JSON, JSON of the wrong types. They replace the endpoint's answer through the
scenario's ``responses`` overrides, so the request never reaches the real route.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from tests.support.scripted_op import RawResponse, RecordedRequest, ScriptedOP

from .gateway import FaultGateway

__all__ = [
    "ANSWER_FAULTS",
    "BCL_EVENT",
    "FaultOP",
    "answer_fault",
]

BCL_EVENT = "http://schemas.openid.net/event/backchannel-logout"

_JSON = {"content-type": "application/json"}
_HTML = {"content-type": "text/html; charset=utf-8"}
_LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
    b'<form method="post" action="/login"><input name="username"></form></body></html>'
)

#: A JSON document of the wrong shape for each endpoint (any other path gets a list).
_WRONG_TYPES: dict[str, tuple[int, Any]] = {
    "/.well-known/openid-configuration": (
        200,
        {"issuer": ["x"], "authorization_endpoint": 42, "token_endpoint": None, "jwks_uri": {}},
    ),
    "/.well-known/jwks.json": (200, {"keys": {"kty": "RSA", "n": 1, "e": 2}}),
    "/oauth/token": (
        200,
        {"access_token": 12345, "token_type": ["Bearer"], "expires_in": "3600", "id_token": False},
    ),
    "/oauth/par": (201, {"request_uri": 7, "expires_in": "60"}),
    "/mfa/authenticators": (200, {"authenticators": "otp"}),
    "/bc-authorize": (200, {"auth_req_id": 12, "expires_in": "soon", "interval": []}),
    "/me/v1/connected-accounts/accounts": (200, {"accounts": {"id": 1}}),
}


def _wrong_types(path: str) -> RawResponse:
    status, document = _WRONG_TYPES.get(path, (200, [1, "two", None]))
    return status, _JSON, json.dumps(document).encode()


#: name -> the answer for a path.
ANSWER_FAULTS: dict[str, Callable[[str], RawResponse]] = {
    "500-json": lambda path: (
        500,
        _JSON,
        b'{"error":"server_error","error_description":"scripted outage"}',
    ),
    "500-text": lambda path: (500, {"content-type": "text/plain"}, b"Internal Server Error"),
    "502-html": lambda path: (502, _HTML, b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "503-json": lambda path: (
        503,
        {**_JSON, "retry-after": "1"},
        b'{"error":"temporarily_unavailable","error_description":"try later"}',
    ),
    "503-empty": lambda path: (503, {}, b""),
    "html-200": lambda path: (200, _HTML, _LOGIN_PAGE),
    "html-404": lambda path: (404, _HTML, b"<html><body>Not Found</body></html>"),
    "invalid-json": lambda path: (200, _JSON, b'{"access_token": "abc", "token_type": '),
    "wrong-types": _wrong_types,
}


def answer_fault(name: str, path: str) -> Callable[[RecordedRequest], RawResponse]:
    answer = ANSWER_FAULTS[name](path)
    return lambda request: answer


class FaultOP(ScriptedOP):
    """The scripted OP, reachable only through its gateways (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._front: FaultGateway | None = None
        self._keys_front: FaultGateway | None = None

    def start(self) -> FaultOP:
        super().start()
        if self._front is None:
            self._front = FaultGateway(self.port).start()
            self._keys_front = FaultGateway(self.port).start()
        return self

    def stop(self) -> None:
        for gateway in (self._front, self._keys_front):
            if gateway is not None:
                gateway.stop()
        self._front = self._keys_front = None
        super().stop()

    @property
    def front(self) -> FaultGateway:
        assert self._front is not None, "FaultOP not started"
        return self._front

    @property
    def keys_front(self) -> FaultGateway:
        assert self._keys_front is not None, "FaultOP not started"
        return self._keys_front

    def gateway_for(self, path: str) -> FaultGateway:
        return self.keys_front if path == "/.well-known/jwks.json" else self.front

    @property
    def base_url(self) -> str:
        """The issuer's host is the front gateway (the OP's own port is never used)."""
        return f"http://localhost:{self.front.port}"

    def discovery_document(self) -> dict[str, Any]:
        document = super().discovery_document()
        document["jwks_uri"] = f"http://localhost:{self.keys_front.port}/.well-known/jwks.json"
        return document

    def heal(self) -> None:
        """Both gateways listening and passing everything through (answer overrides are the
        scenario's business: see ``Env.install_normal`` in the tests)."""
        for gateway in (self.front, self.keys_front):
            gateway.up()
            gateway.clear()

    # ---- tokens the provider would send ---------------------------------------------------

    def logout_token(self, *, sid: str, sub: str, client_id: str | None = None) -> str:
        """A back-channel logout token signed with the current key."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": client_id or self.client_id,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(16),
            "sid": sid,
            "sub": sub,
            "events": {BCL_EVENT: {}},
        }
        return self.mint_id_token(claims)

    def id_token_for(self, sub: str, *, client_id: str | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": client_id or self.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + 600,
        }
        return self.mint_id_token(claims)
