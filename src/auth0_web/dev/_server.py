"""``DevProvider``: the development provider as an object you start, use and stop.

The socket is bound here, before uvicorn runs, so port 0 means "any free port" with no
window in which another process can take the port between choosing and binding it, and the
issuer knows its port before the first request. The issuer's host is always ``localhost``:
the SDK refuses IP literals as an Auth0 domain, as Auth0 tenants are never IP addresses.
So ``host`` must be an address ``localhost`` resolves to on the machines that call the
provider (``127.0.0.1``, the default, nearly everywhere; ``::1`` only where ``localhost``
resolves to it).

The provider accepts anyone who can reach it as any test user, so it refuses to listen on
anything but a loopback address unless told ``allow_non_loopback=True``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from joserfc.jwk import RSAKey
from starlette.applications import Starlette

from ._app import build_app
from ._keys import SigningKey
from ._models import DEFAULT_USERS, DevClient, DevUser
from ._state import ProviderState, TokenLifetimes

if TYPE_CHECKING:
    import uvicorn

__all__ = ["DevProvider", "is_loopback_host"]

_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 10.0


def is_loopback_host(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds")
    return value


class DevProvider:
    """A local stand-in for an Auth0 tenant: OpenID Connect with test users, no network.

    ``app`` is the ASGI application (usable in-process, e.g. with ``httpx.ASGITransport``);
    ``start()`` serves it with uvicorn from a background thread, ``serve()`` in the
    foreground. Configure the SDK with ``Auth0Client(domain=provider.domain,
    allow_insecure_requests=True, ...)``.
    """

    def __init__(
        self,
        *,
        clients: Sequence[DevClient],
        users: Sequence[DevUser] = DEFAULT_USERS,
        host: str = "127.0.0.1",
        port: int = 0,
        signing_key: RSAKey | None = None,
        access_token_ttl: int = 3600,
        id_token_ttl: int = 3600,
        refresh_token_ttl: int = 30 * 86400,
        allow_non_loopback: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(host, str) or not host:
            raise ValueError("host must be a host name or IP address")
        if not allow_non_loopback and not is_loopback_host(host):
            raise ValueError(
                f"refusing to listen on {host!r}: the dev provider signs anyone in as any test "
                "user and has no passwords, so it must only be reachable from this machine. "
                "Use a loopback address (127.0.0.1, ::1, localhost), or pass "
                "allow_non_loopback=True if you really mean to expose it."
            )
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise ValueError("port must be an integer from 0 to 65535")
        if isinstance(clients, DevClient) or isinstance(users, DevUser):
            raise ValueError("clients and users must be sequences")
        self._host = host
        self._port = port
        self._state = ProviderState.create(
            clients=list(clients),
            users=list(users),
            key=SigningKey(signing_key),
            lifetimes=TokenLifetimes(
                access_token=_positive_int("access_token_ttl", access_token_ttl),
                id_token=_positive_int("id_token_ttl", id_token_ttl),
                refresh_token=_positive_int("refresh_token_ttl", refresh_token_ttl),
            ),
            clock=clock,
        )
        if port:
            self._state.origin = f"http://localhost:{port}"
        self.app: Starlette = build_app(self._state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def __repr__(self) -> str:
        where = self._state.origin or f"{self._host}:<not started>"
        return f"DevProvider({where}, clients={sorted(self._state.clients)!r})"

    # -- addresses ------------------------------------------------------------------------

    @property
    def domain(self) -> str:
        """``http://localhost:<port>``, the value for ``Auth0Client(domain=...)``."""
        if self._state.origin is None:
            raise RuntimeError("the port is chosen by start(); read domain after starting")
        return self._state.origin

    @property
    def issuer(self) -> str:
        """``http://localhost:<port>/`` (with the trailing slash, as Auth0 issuers have)."""
        return self.domain + "/"

    @property
    def port(self) -> int:
        return self._port

    def url(self, path: str) -> str:
        """An absolute URL on the provider, e.g. ``url("/oauth/token")``."""
        return self.domain + ("" if path.startswith("/") else "/") + path

    # -- serving --------------------------------------------------------------------------

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        address = "127.0.0.1" if self._host.lower() == "localhost" else self._host.strip("[]")
        # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto
        # is IPPROTO_TCP, and without it every response waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, self._port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._port = int(sock.getsockname()[1])
        self._state.origin = f"http://localhost:{self._port}"
        return sock

    def _make_server(self) -> tuple[uvicorn.Server, socket.socket]:
        import uvicorn  # only serving needs it; in-process use does not

        sock = self._bind()
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            # Access logs would record id_token_hint (a token) from logout URLs.
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=2,
        )
        return uvicorn.Server(config), sock

    def start(self) -> DevProvider:
        """Serve from a background thread; returns once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("the dev provider is already running")
        server, sock = self._make_server()
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name="auth0-web-dev-provider",
            daemon=True,
        )
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the dev provider did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving (idempotent). The provider keeps its port and may be started again."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=_STOP_TIMEOUT)
        if sock is not None:
            sock.close()

    def serve(self) -> None:
        """Serve in the foreground until interrupted (Ctrl+C)."""
        if self._thread is not None:
            raise RuntimeError("the dev provider is already running")
        server, sock = self._make_server()
        print(f"auth0-web dev provider: issuer {self.issuer}", flush=True)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            # uvicorn shuts down gracefully, then re-raises the signal it caught.
            pass
        finally:
            sock.close()

    def __enter__(self) -> DevProvider:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
