"""A TCP front for a local HTTP server that breaks on command, per request path.

``FaultGateway(upstream_port)`` listens on 127.0.0.1 (and ``::1`` when it can) and passes
every request on to the upstream server, one request per connection (``Connection:
close`` both ways), until a path is told to fail with :meth:`FaultGateway.fail`:

* ``reset``        the request is read, then the connection is dropped without an answer;
* ``hang``         the request is read and never answered (the client must time out);
* ``slow``         the upstream's real answer, its head at once and its body 40 bytes a
  second, slower than any sane timeout (the request *did* reach the upstream);
* ``truncated``    ``Content-Length: 4096``, 40 bytes of body, then the connection closes;
* ``huge``         a 200 JSON answer of :data:`HUGE_BYTES`, its length declared up front;
* ``huge-chunked`` the same, chunked, so its size is only known while reading it.

:meth:`down` stops listening (new connections are refused, as for a provider that is not
running); :meth:`up` listens again on the same port. Each gateway runs its own event loop
in a daemon thread, like the scripted OP's server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any, Literal, TypeAlias, TypeVar

__all__ = ["HUGE_BYTES", "TRANSPORT_FAULTS", "FaultGateway", "TransportFault"]

TransportFault: TypeAlias = Literal["reset", "hang", "slow", "truncated", "huge", "huge-chunked"]
TRANSPORT_FAULTS: tuple[TransportFault, ...] = (
    "reset",
    "hang",
    "slow",
    "truncated",
    "huge",
    "huge-chunked",
)

#: More than the SDK's 1 MiB cap on a response body.
HUGE_BYTES = 1024 * 1024 + 64 * 1024
#: No fault keeps a connection (or its handler) alive longer than this.
MAX_FAULT_SECONDS = 5.0
_HEAD_LIMIT = 64 * 1024
_T = TypeVar("_T")


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _closing(head: bytes) -> bytes:
    """``head`` with its ``Connection`` header replaced by ``Connection: close``."""
    lines = [
        line
        for line in head.rstrip(b"\r\n").split(b"\r\n")
        if line.partition(b":")[0].strip().lower() != b"connection"
    ]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"


def _abort(writer: asyncio.StreamWriter) -> None:
    """Drop the connection with a TCP reset (no FIN, no answer)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultGateway:
    """A transparent front for ``127.0.0.1:upstream_port`` that fails on command."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._port: int | None = None
        self._faults: dict[str, TransportFault] = {}
        #: ``(method, path)`` of every request that reached the gateway, oldest first.
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()

    # ---- lifecycle (called from the test's thread) -----------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the gateway is not started")
        return self._port

    def start(self) -> FaultGateway:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fault-gateway", daemon=True)
        self._thread.start()
        self.up()
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self.down()
        self._run(self._drop_connections())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
        self._loop = self._thread = None

    def up(self) -> None:
        """Listen (again, on the same port once it has one)."""
        self._run(self._listen())

    def down(self) -> None:
        """Stop listening: connections to the port are refused until :meth:`up`."""
        self._run(self._close_servers())

    def fail(self, path: str, fault: TransportFault) -> None:
        with self._lock:
            self._faults[path] = fault

    def clear(self) -> None:
        """Pass everything through again (and drop connections a fault still holds)."""
        with self._lock:
            self._faults.clear()
        self._run(self._drop_connections())

    def requests_to(self, path: str) -> int:
        with self._lock:
            return sum(1 for _, seen_path in self.seen if seen_path == path)

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        assert self._loop is not None, "the gateway is not started"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    # ---- inside the gateway's loop ---------------------------------------------------------

    async def _listen(self) -> None:
        if self._servers:
            return
        four = await asyncio.start_server(
            self._serve, "127.0.0.1", self._port or 0, reuse_address=True, limit=_HEAD_LIMIT
        )
        self._port = four.sockets[0].getsockname()[1]
        self._servers = [four]
        with contextlib.suppress(OSError):  # "localhost" may resolve to ::1 first
            six = await asyncio.start_server(
                self._serve, "::1", self._port, reuse_address=True, limit=_HEAD_LIMIT
            )
            self._servers.append(six)

    async def _close_servers(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for server in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)

    async def _drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            async with asyncio.timeout(MAX_FAULT_SECONDS):
                await self._handle(reader, writer)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.readexactly(_content_length(head))
        method, target = (head.split(b"\r\n", 1)[0].decode("latin-1").split(" ") + ["", ""])[:2]
        path = target.split("?", 1)[0]
        with self._lock:
            self.seen.append((method, path))
            fault = self._faults.get(path)
        if fault is None:
            writer.write(await self._upstream(head, body))
            await writer.drain()
        elif fault == "reset":
            _abort(writer)
        elif fault == "hang":
            await reader.read(1)  # until the client gives up (or the fault is cleared)
        elif fault == "slow":
            answer = await self._upstream(head, body)
            answer_head, _, answer_body = answer.partition(b"\r\n\r\n")
            writer.write(answer_head + b"\r\n\r\n")
            for start in range(0, len(answer_body), 2):  # 40 bytes a second
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(answer_body[start : start + 2])
            await writer.drain()
        elif fault == "truncated":
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 4096\r\nConnection: close\r\n\r\n"
                b'{"access_token": "partial-answer-then-'
            )
            await writer.drain()
        else:
            await self._huge(writer, chunked=fault == "huge-chunked")

    async def _upstream(self, head: bytes, body: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            writer.write(_closing(head) + body)
            await writer.drain()
            return await reader.read()  # the upstream closes after its answer
        finally:
            writer.close()

    async def _huge(self, writer: asyncio.StreamWriter, *, chunked: bool) -> None:
        framing = (
            b"Transfer-Encoding: chunked" if chunked else f"Content-Length: {HUGE_BYTES}".encode()
        )
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + framing
            + b"\r\nConnection: close\r\n\r\n"
        )
        piece = 64 * 1024
        sent = 0
        while sent < HUGE_BYTES and not writer.is_closing():
            size = min(piece, HUGE_BYTES - sent)
            data = (b'{"keys":[' if sent == 0 else b"") + b" " * size
            data = data[:size]
            writer.write(f"{size:x}\r\n".encode() + data + b"\r\n" if chunked else data)
            await writer.drain()
            sent += size
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
