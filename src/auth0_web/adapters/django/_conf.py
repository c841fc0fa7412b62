"""The project's one :class:`~auth0_web.Auth0Client`, configured from Django settings.

Two settings, one of which may be used:

* ``AUTH0``: a dict of :class:`~auth0_web.Auth0Client` keyword arguments. Anything it leaves
  out falls back to the environment (``AUTH0_DOMAIN``, ``AUTH0_SECRET``, ...), exactly as
  ``Auth0Client()`` does, so secrets need not live in ``settings.py``. No ``AUTH0`` setting at
  all means "everything from the environment".
* ``AUTH0_CLIENT``: the dotted path of an ``Auth0Client`` the project builds itself (or of a
  callable returning one), for options a dict cannot express well, such as hooks and a
  database-backed ``session_store``; the same convention as ``AUTH_USER_MODEL`` or
  ``SESSION_ENGINE``.

The client is built lazily, once per process, on first use (the first request, or the first
import of the URLconf), because building it reads the environment and validates every
option; a misconfiguration surfaces as Django's ``ImproperlyConfigured`` naming each
problem. :func:`set_client` replaces it explicitly (application factories and tests); a
change of either setting through ``override_settings`` drops the cached one.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from ..._client import Auth0Client
from ..._errors import InvalidConfigurationError
from .._sync import SyncAuth0

__all__ = ["Integration", "get_client", "integration", "set_client"]


class Integration:
    """The client and what every request needs from it, built once per client."""

    __slots__ = ("client", "router", "sync")

    def __init__(self, client: Auth0Client) -> None:
        self.client = client
        self.router = client._router
        #: For requests served by a WSGI server: the process-wide portal loop.
        self.sync = SyncAuth0(client)


_lock = threading.Lock()
_current: Integration | None = None


def integration() -> Integration:
    """The cached integration, built from the settings on first use."""
    current = _current
    if current is not None:
        return current
    return _build()


def _build() -> Integration:
    global _current
    with _lock:
        if _current is None:
            _current = Integration(_client_from_settings())
        return _current


def get_client() -> Auth0Client:
    """The project's :class:`~auth0_web.Auth0Client` (built from settings on first use).

    Use it for everything that is not bound to a request: ``custom_token_exchange``,
    ``get_token_by_backchannel_auth``, or the async API inside your own code.
    """
    return integration().client


def set_client(client: Auth0Client | None) -> None:
    """Use ``client`` from now on; ``None`` drops it so the settings are read again.

    For application factories and tests that build clients themselves. The client's
    outbound connection pool belongs to the event loop that first used it: set a new
    client rather than reusing one across event loops (for example across async tests).
    """
    global _current
    if client is not None and not isinstance(client, Auth0Client):
        raise TypeError("set_client() takes an Auth0Client or None")
    with _lock:
        _current = Integration(client) if client is not None else None


@receiver(setting_changed)
def _settings_changed(*, setting: str, **_: Any) -> None:
    if setting in ("AUTH0", "AUTH0_CLIENT"):
        set_client(None)


def _client_from_settings() -> Auth0Client:
    dotted = getattr(settings, "AUTH0_CLIENT", None)
    options = getattr(settings, "AUTH0", None)
    if dotted is not None:
        if options is not None:
            raise ImproperlyConfigured(
                "Set either settings.AUTH0 (Auth0Client options) or settings.AUTH0_CLIENT "
                "(the dotted path of an Auth0Client), not both."
            )
        return _client_from_path(dotted)
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise ImproperlyConfigured(
            "settings.AUTH0 must be a dict of Auth0Client keyword arguments, "
            f"not {type(options).__name__}."
        )
    unknown = sorted(str(k) for k in options if k not in _OPTION_NAMES)
    if unknown:
        raise ImproperlyConfigured(
            f"settings.AUTH0 has unknown option(s): {', '.join(unknown)}. "
            "Its keys are Auth0Client keyword arguments (domain, client_id, ...)."
        )
    try:
        return Auth0Client(**options)
    except InvalidConfigurationError as exc:
        # The SDK's message names each missing or invalid option and its environment
        # variable, never a value.
        raise ImproperlyConfigured(
            f"settings.AUTH0 (with the AUTH0_* environment): {exc.message}"
        ) from exc


def _client_from_path(dotted: object) -> Auth0Client:
    if not isinstance(dotted, str):
        raise ImproperlyConfigured(
            "settings.AUTH0_CLIENT must be a dotted path such as 'myproject.auth.auth0'."
        )
    try:
        found = import_string(dotted)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"settings.AUTH0_CLIENT: {dotted!r} cannot be imported ({exc})."
        ) from exc
    except InvalidConfigurationError as exc:  # the module builds its client at import
        raise ImproperlyConfigured(f"settings.AUTH0_CLIENT {dotted!r}: {exc.message}") from exc
    if not isinstance(found, Auth0Client) and callable(found):
        try:
            found = found()
        except InvalidConfigurationError as exc:
            raise ImproperlyConfigured(f"settings.AUTH0_CLIENT {dotted!r}: {exc.message}") from exc
    if not isinstance(found, Auth0Client):
        raise ImproperlyConfigured(
            f"settings.AUTH0_CLIENT {dotted!r} is a {type(found).__name__}, not an "
            "Auth0Client (or a callable returning one)."
        )
    return found


_OPTION_NAMES = frozenset(
    name
    for name, parameter in inspect.signature(Auth0Client.__init__).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
)
