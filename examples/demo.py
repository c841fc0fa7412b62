"""auth0-web demo: a FastAPI app with login, a profile page, a protected API and logout.

Run it with ``make demo`` (or ``auth0-web demo``) and open http://127.0.0.1:3000.

With no ``AUTH0_DOMAIN`` in the environment it starts auth0-web's development identity
provider (``auth0_web.dev``, a local stand-in for an Auth0 tenant) with two test users, so it
works with no Auth0 tenant and no network. To use your own tenant instead, set
``AUTH0_DOMAIN``, ``AUTH0_CLIENT_ID``, ``AUTH0_CLIENT_SECRET``, ``AUTH0_SECRET`` and
``APP_BASE_URL=http://127.0.0.1:3000``, and in the Auth0 dashboard add
``http://127.0.0.1:3000/auth/callback`` to the application's Allowed Callback URLs and
``http://127.0.0.1:3000/`` to its Allowed Logout URLs.
"""

from __future__ import annotations

import contextlib
import html
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from auth0_web import Auth0Client, SessionData

PORT = int(os.environ.get("PORT", "3000"))
BASE_URL = f"http://127.0.0.1:{PORT}"


# --- 1. Configure the SDK -------------------------------------------------------------------
# Everything can come from the environment; the local provider only fills in what is missing.


@contextlib.contextmanager
def identity_provider() -> Iterator[dict[str, Any]]:
    """Your Auth0 tenant when AUTH0_DOMAIN is set, else a local development provider."""
    if os.environ.get("AUTH0_DOMAIN"):
        yield {}
        return
    from auth0_web.dev import DEFAULT_USERS, DevClient, DevProvider

    client = DevClient(
        client_id="demo-app",
        client_secret=secrets.token_hex(16),
        redirect_uris=[f"{BASE_URL}/auth/callback"],  # like "Allowed Callback URLs"
        logout_urls=[f"{BASE_URL}/"],  # like "Allowed Logout URLs"
    )
    with DevProvider(clients=[client], users=DEFAULT_USERS) as provider:
        print(f"Development identity provider: {provider.issuer}")
        yield {
            "domain": provider.domain,
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "secret": secrets.token_hex(32),
            "app_base_url": BASE_URL,
            "allow_insecure_requests": True,  # the local provider speaks http
        }


# --- 2. The app -----------------------------------------------------------------------------


def build_app(auth0: Auth0Client) -> Any:
    app = FastAPI(title="auth0-web demo")

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        session = await auth0.get_session()  # no request argument needed inside the middleware
        if session is None:
            body = """
              <p>You are not logged in.</p>
              <p><a class="button" href="/auth/login">Log in</a></p>
              <p><a href="/api/private">Call the protected API</a> (answers 401 for now)</p>"""
        else:
            user = session.user
            expires_in = session.token_set.expires_at - int(time.time())
            name = html.escape(str(user.get("name", user["sub"])))
            rows = "".join(
                f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                for k, v in user.items()
            )
            body = f"""
              <p>Logged in as <strong>{name}</strong>.</p>
              <table>{rows}</table>
              <p>Access token expires in {expires_in // 60} minutes
                 ({"with" if session.token_set.refresh_token else "without"} a refresh token).</p>
              <p><a href="/api/private">Call the protected API</a> ·
                 <a href="/auth/profile">/auth/profile</a> ·
                 <a class="button" href="/auth/logout">Log out</a></p>"""
        return PAGE.format(body=body)

    @app.get("/api/private")
    async def private_api(session: SessionData = Depends(auth0.require_session)) -> JSONResponse:  # noqa: B008
        return JSONResponse({"message": f"Hello {session.user['sub']}, this API is protected."})

    return auth0.middleware(app)  # mounts /auth/login, /auth/callback, /auth/logout, /auth/profile


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>auth0-web demo</title>
<style>
 body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 3rem auto;
        padding: 0 1rem; }}
 table {{ border-collapse: collapse; }} th, td {{ text-align: left; padding: .2rem .8rem .2rem 0; }}
 th {{ color: #555; font-weight: normal; }}
 .button {{ background: #635dff; color: #fff; padding: .4rem 1rem; border-radius: .3rem;
           text-decoration: none; }}
</style></head>
<body><h1>auth0-web demo</h1>{body}</body></html>"""


def main() -> None:
    with identity_provider() as options:
        auth0 = Auth0Client(**options)
        print(f"auth0-web demo: open {BASE_URL}  (Ctrl+C to stop)", flush=True)
        uvicorn.run(build_app(auth0), host="127.0.0.1", port=PORT, log_level="warning")


if __name__ == "__main__":
    main()
