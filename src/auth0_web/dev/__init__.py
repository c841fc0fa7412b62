"""A development identity provider: a local stand-in for an Auth0 tenant.

Log in with test users, with no Auth0 tenant and no network, against a provider that
validates what a tenant validates (exact callback URLs, PKCE S256, single-use codes,
refresh-token rotation, allowed logout URLs), so mistakes surface locally.

.. code-block:: python

    from auth0_web import Auth0Client
    from auth0_web.dev import DevClient, DevProvider

    app = DevClient(
        "my-app",
        "my-secret",
        redirect_uris=["http://localhost:3000/auth/callback"],
        logout_urls=["http://localhost:3000/"],
    )
    provider = DevProvider(clients=[app]).start()
    auth0 = Auth0Client(domain=provider.domain, allow_insecure_requests=True,
                        client_id="my-app", client_secret="my-secret", ...)

Needs the ``[dev]`` extra (Starlette, and uvicorn to serve).
"""

from ._models import DEFAULT_USERS, DevClient, DevUser
from ._server import DevProvider

__all__ = ["DEFAULT_USERS", "DevClient", "DevProvider", "DevUser"]
