"""Running the async core from synchronous code (WSGI: Flask, Django under WSGI).

The core is written once, as coroutines. A synchronous caller reaches it in one of two ways:

* :func:`run_inline` drives a coroutine to completion without an event loop. That is only
  valid when the coroutine cannot wait on I/O — true of everything the cookie-only session
  store does (decrypting, encrypting, cookie headers) — and it costs nothing beyond the
  work itself. A coroutine that does try to wait is closed and reported, never half-run.
* :class:`Portal` hands the coroutine to one long-lived event loop on a background thread
  and blocks until it finishes. Everything loop-bound (the pooled HTTP client, the Redis
  connection pool, the refresh coalescer's locks) therefore lives on a single loop for the
  life of the process, exactly as under an ASGI server. The caller's context variables are
  copied to the task, so the request context of the calling thread is visible to the core.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["Portal", "SuspendedError", "portal", "run_inline"]

_T = TypeVar("_T")


class SuspendedError(RuntimeError):
    """A coroutine run inline tried to wait on I/O; it needs :class:`Portal` instead."""


def run_inline(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion synchronously; it must not wait on anything."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise SuspendedError("the coroutine waited on I/O and cannot be run inline")


class Portal:
    """One event loop on a daemon thread, shared by every synchronous caller of a process.

    Created lazily and again after a fork (a pre-forking server such as gunicorn with
    ``--preload`` must not inherit a loop whose thread did not survive the fork).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid():
            return loop
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                ready = threading.Event()
                new_loop = asyncio.new_event_loop()

                def serve() -> None:
                    asyncio.set_event_loop(new_loop)
                    new_loop.call_soon(ready.set)
                    new_loop.run_forever()

                thread = threading.Thread(target=serve, name="auth0-web-portal", daemon=True)
                thread.start()
                ready.wait()
                self._loop = new_loop
                self._pid = os.getpid()
            return self._loop

    def call(self, func: Callable[..., Awaitable[_T]], /, *args: Any, **kwargs: Any) -> _T:
        """Run ``func(*args, **kwargs)`` on the portal's loop and return its result."""
        loop = self._ensure_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError(
                "a synchronous auth0-web call was made on the portal's own event loop; "
                "await the async method instead"
            )
        context = contextvars.copy_context()
        result: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def start() -> None:
            task = loop.create_task(_as_coroutine(func(*args, **kwargs)), context=context)

            def finished(done: asyncio.Task[_T]) -> None:
                if done.cancelled():
                    result.cancel()
                elif (error := done.exception()) is not None:
                    result.set_exception(error)
                else:
                    result.set_result(done.result())

            task.add_done_callback(finished)

        loop.call_soon_threadsafe(start)
        return result.result()


async def _as_coroutine(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


#: The process-wide portal.
portal = Portal()
