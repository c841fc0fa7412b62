"""Real servers for the framework tests: uvicorn for ASGI apps, Werkzeug for WSGI apps."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from werkzeug.serving import make_server

from tests.support.apps import free_port, serve

__all__ = ["load_example", "serve_asgi", "serve_wsgi"]

serve_asgi = serve


@contextlib.contextmanager
def serve_wsgi(app: Any, port: int | None = None) -> Iterator[str]:
    """Run a WSGI ``app`` under Werkzeug's threaded server on 127.0.0.1; yield its URL."""
    port = port or free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def load_example(name: str) -> Any:
    """Import ``examples/<name>.py`` as a module (the examples are scripts, not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
