"""Test your own app's protected pages without an Auth0 tenant.

``generate_session_cookie`` makes the cookies a logged-in browser would send;
``logged_in_client`` wraps your ASGI app in an ``httpx.AsyncClient`` that carries them. The
pytest plugin (loaded automatically) adds fixtures around both and around a running
development identity provider for full login flows: see ``docs/testing.md``.
"""

from ._cookies import generate_session_cookie, logged_in_client, session_cookies_for
from ._login import dev_login

__all__ = ["dev_login", "generate_session_cookie", "logged_in_client", "session_cookies_for"]
