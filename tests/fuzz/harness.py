"""What every fuzz module shares: the example budget, the example counter, an in-process
provider for answer parsers, a raw ASGI driver and the per-response invariants.

``fuzz(weight)`` goes above ``@given``: it gives the property ``weight`` times the active
profile's ``max_examples`` (profiles are registered in ``conftest.py``; the environment
variable ``HYPOTHESIS_PROFILE`` picks one) and counts every example the property body
actually runs, so the run can report how much fuzzing it did.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import ada_url
import httpx
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import settings

from auth0_web import Auth0Client
from auth0_web._runtime import Runtime
from auth0_web.oidc._http_client import HttpClient, HttpResponse
from auth0_web.session._codec import derive_key
from tests.support.apps import parse_set_cookie

#: Examples run, by property (``module::function``).
COUNTS: Counter[str] = Counter()

DEFAULT_PROFILE = "fuzz"


def active_profile() -> str:
    name = os.environ.get("HYPOTHESIS_PROFILE", DEFAULT_PROFILE)
    try:
        settings.get_profile(name)
    except Exception:
        return DEFAULT_PROFILE
    return name


def fuzz(weight: float = 1.0) -> Callable[[Any], Any]:
    """Budget and count a ``@given`` property (apply above ``@given``)."""

    def apply(test: Any) -> Any:
        try:
            profile = settings.get_profile(active_profile())
        except Exception:  # imported outside pytest: conftest.py registers the profiles
            profile = settings.default
        name = f"{test.__module__.rsplit('.', 1)[-1]}::{test.__name__}"
        inner = test.hypothesis.inner_test

        @functools.wraps(inner)
        def counted(*args: Any, **kwargs: Any) -> Any:
            COUNTS[name] += 1
            return inner(*args, **kwargs)

        test.hypothesis.inner_test = counted
        examples = max(1, round(profile.max_examples * weight))
        return settings(profile, max_examples=examples)(test)

    return apply


class Aio:
    """One event loop for all examples of a module (the SDK's HTTP pool is per loop)."""

    def __init__(self) -> None:
        self._runner = asyncio.Runner()

    def run(self, coro: Any) -> Any:
        return self._runner.run(coro)

    def close(self) -> None:
        self._runner.close()


# ------------------------------------------------------------------ an in-process provider

#: ``(status, headers, body)``; headers as raw byte pairs so any byte can be sent.
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]

ISSUER = "https://tenant.fuzz.example/"
DOMAIN = "https://tenant.fuzz.example"
APP = "https://app.fuzz.example"
CLIENT_ID = "fuzz-client"
CLIENT_SECRET = "fuzz-client-secret-0123456789abcdef"
SECRET = "fuzz-cookie-secret-0123456789abcdef-0123456789"


def json_answer(body: Any, status: int = 200, **headers: str) -> Answer:
    raw = [(b"content-type", b"application/json")]
    raw += [(k.replace("_", "-").encode(), v.encode("latin-1")) for k, v in headers.items()]
    return status, raw, json.dumps(body).encode()


def http_response(answer: Answer) -> HttpResponse:
    status, headers, body = answer
    return HttpResponse(status, httpx.Headers(headers), body)


@dataclass
class MockProvider:
    """Answers every outbound call of a :class:`Runtime` in-process.

    ``scripts[path]`` is a list of answers given in order (the last one repeats); paths
    without a script get a 404. Discovery and the JWKS are served from ``discovery`` and
    ``jwks`` unless scripted. Every call is recorded in ``calls``.
    """

    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    calls: list[httpx.Request] = field(default_factory=list)
    discovery_extra: dict[str, Any] = field(default_factory=dict)

    def discovery(self) -> dict[str, Any]:
        doc = {
            "issuer": ISSUER,
            "authorization_endpoint": ISSUER + "authorize",
            "token_endpoint": ISSUER + "oauth/token",
            "jwks_uri": ISSUER + ".well-known/jwks.json",
            "end_session_endpoint": ISSUER + "oidc/logout",
            "revocation_endpoint": ISSUER + "oauth/revoke",
            "backchannel_authentication_endpoint": ISSUER + "bc-authorize",
        }
        doc.update(self.discovery_extra)
        return doc

    def script(self, path: str, *answers: Answer) -> None:
        self.scripts[path] = list(answers)

    def reset(self) -> None:
        self.scripts.clear()
        self.calls.clear()

    def count(self, path: str) -> int:
        return sum(1 for c in self.calls if c.url.path == path)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        path = request.url.path
        queue = self.scripts.get(path)
        if queue:
            status, headers, body = queue.pop(0) if len(queue) > 1 else queue[0]
            return httpx.Response(status, headers=headers, content=body)
        if path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=self.discovery())
        if path == "/.well-known/jwks.json":
            return httpx.Response(200, json=self.jwks)
        return httpx.Response(404, json={"error": "not_found"})

    def http_client(self) -> HttpClient:
        return HttpClient(timeout=5.0, telemetry=False, transport=httpx.MockTransport(self.handle))


def runtime(provider: MockProvider, **options: Any) -> Runtime:
    """An SDK runtime whose every outbound call is answered by ``provider``."""
    options.setdefault("secret", SECRET)
    options.setdefault("app_base_url", APP)
    client = Auth0Client(domain=DOMAIN, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **options)
    rt = client._rt
    rt.http = provider.http_client()
    rt.discovery.http = rt.http
    rt.jwks.http = rt.http
    return rt


def seal(plaintext: bytes, secret: str = SECRET) -> str:
    """A JWE in the cookie format around any plaintext (what an app sharing the secret, or
    another version of this SDK, could have written)."""
    header = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0"
    iv = os.urandom(12)
    sealed = AESGCM(derive_key(secret)).encrypt(iv, plaintext, header.encode())
    return ".".join((header, "", b64url(iv), b64url(sealed[:-16]), b64url(sealed[-16:])))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def form_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


# ------------------------------------------------------------------ a raw ASGI driver


async def asgi_request(
    app: Any,
    method: str,
    path: str,
    *,
    query: bytes = b"",
    headers: Iterable[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    host: bytes = b"127.0.0.1:3000",
) -> httpx.Response:
    """Send one request straight into an ASGI app and collect the answer.

    The same scope ``httpx.ASGITransport`` builds, but with the query string and headers
    passed through byte for byte: httpx refuses control characters and non-ASCII bytes in
    a URL, which lenient servers do hand to applications. An exception the app raises is
    not caught: it is the failure being looked for.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", host), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3000),
    }
    sent_body = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    status = 0
    raw_headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, raw_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            raw_headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    assert status, "the app sent no response"
    return httpx.Response(status, headers=raw_headers, content=b"".join(chunks))


# ------------------------------------------------------------------ response invariants


@dataclass(frozen=True)
class Expect:
    """What one route may answer."""

    statuses: frozenset[int]
    #: ``(origin, pathname)`` pairs off the app's origin a ``Location`` may name.
    targets: frozenset[tuple[str, str]] = frozenset()
    #: The route may delete the session cookie (logout).
    may_delete_session: bool = False
    #: Strings that must appear nowhere in the body or the headers other than Set-Cookie.
    secrets: tuple[str, ...] = ()
    #: Strings allowed in the body (documented outputs, e.g. the access-token route's token).
    body_allows: tuple[str, ...] = ()
    #: Strings allowed in the Location header (e.g. the ID token as ``id_token_hint``).
    location_allows: tuple[str, ...] = ()


def cookies_set(response: httpx.Response) -> list[tuple[str, str, dict[str, str]]]:
    return [parse_set_cookie(h) for h in response.headers.get_list("set-cookie")]


def is_deletion(attrs: Mapping[str, str]) -> bool:
    max_age = attrs.get("max-age")
    return max_age is not None and int(max_age) <= 0


def session_deleted(response: httpx.Response, name: str = "__session") -> bool:
    """The response ends the browser's session cookie: it deletes ``name`` and writes no
    new session (deleting stale ``name__<i>`` chunks beside a rewrite is housekeeping)."""
    written = [n for n, v, a in cookies_set(response) if n.startswith(name) and not is_deletion(a)]
    deleted = [n for n, _, a in cookies_set(response) if n == name and is_deletion(a)]
    return bool(deleted) and not written


def check_location(location: str, app_origin: str, targets: Iterable[tuple[str, str]]) -> None:
    """A ``Location`` is the app's origin (one leading slash) or a named provider endpoint,
    judged as a browser resolves it against the app."""
    assert location, "empty Location"
    assert not any(ord(c) < 0x21 or ord(c) == 0x7F for c in location), repr(location)
    url = ada_url.URL(location, app_origin + "/")
    if url.origin == app_origin:
        # Absolute on the app's origin, or a path with exactly one leading slash.
        rest = location[len(app_origin) :] if location.startswith(app_origin) else location
        assert rest.startswith("/") and not rest.startswith(("//", "/\\")), location
        return
    assert (url.origin, url.pathname) in set(targets), f"off-origin redirect: {location!r}"
    assert url.username == "" and url.password == "", location


def check_response(
    response: httpx.Response,
    expect: Expect,
    *,
    app_origin: str,
    had_session: bool,
) -> None:
    """The invariants every answer of every SDK route keeps, whatever was sent."""
    assert response.status_code in expect.statuses, (response.status_code, response.text[:300])
    body = response.text
    lowered = body.lower()
    assert "traceback" not in lowered and 'file "' not in lowered, body[:300]
    for secret in expect.secrets:
        if not secret:
            continue
        if secret not in expect.body_allows:
            assert secret not in body, f"secret in body: {secret[:10]}..."
        for name, value in response.headers.multi_items():
            if name == "set-cookie":
                continue
            if name == "location" and secret in expect.location_allows:
                continue
            assert secret not in value, f"secret in header {name}: {secret[:10]}..."
    location = response.headers.get("location")
    if location is not None:
        assert 300 <= response.status_code < 400, response.status_code
        check_location(location, app_origin, expect.targets)
    if had_session and not expect.may_delete_session:
        assert not session_deleted(response), [(n, a) for n, _, a in cookies_set(response)]


def header_pairs(
    headers: Mapping[str, str] | Sequence[tuple[str, str]],
) -> list[tuple[bytes, bytes]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in items]
