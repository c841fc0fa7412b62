"""auth0-web with Flask: login, a protected page, a protected API and an access token.

    AUTH0_DOMAIN=... AUTH0_CLIENT_ID=... AUTH0_CLIENT_SECRET=... \\
    AUTH0_SECRET=$(auth0-web secret) APP_BASE_URL=http://127.0.0.1:3000 \\
    python examples/flask_app.py

Every option can also be passed to ``create_app()`` (the tests do that), or set in
``app.config`` (``AUTH0_DOMAIN``... and ``AUTH0_OPTIONS`` for the rest).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from flask import Response as FlaskResponse

from auth0_web import AccessTokenError, MfaRequiredError
from auth0_web.adapters.flask import Auth0


def create_app(**options: Any) -> Flask:
    options.setdefault("authorization_parameters", {"scope": "openid profile email offline_access"})
    app = Flask(__name__)
    # Mounts /auth/* and carries the session through every request; the rest of the
    # configuration comes from AUTH0_* / APP_BASE_URL (app.config or the environment).
    auth0 = Auth0(app, **options)

    @app.get("/")
    def home() -> FlaskResponse:
        session = auth0.get_session()
        return jsonify(user=session.user["sub"] if session else None)

    @app.get("/protected")
    @auth0.login_required
    def protected() -> tuple[str, dict[str, str]]:
        session = auth0.get_session()
        assert session is not None  # guaranteed by the decorator
        return f"hello {session.user['sub']}", {"content-type": "text/plain; charset=utf-8"}

    @app.get("/api/private")
    @auth0.api_auth_required
    def private() -> FlaskResponse:
        session = auth0.get_session()
        assert session is not None
        return jsonify(sub=session.user["sub"])

    @app.get("/api/token")
    def token() -> FlaskResponse:
        # Refreshed when expired (or when asked); the new tokens are saved in the cookie
        # on the way out.
        access = auth0.get_access_token(refresh=request.args.get("refresh") == "1")
        return jsonify(token=access.token, expires_at=access.expires_at)

    # No session, no refresh token, a failed refresh: a 401 naming the reason by its code.
    @app.errorhandler(AccessTokenError)
    def no_access_token(error: AccessTokenError) -> tuple[FlaskResponse, int]:
        return jsonify(error=error.code), 401

    @app.errorhandler(MfaRequiredError)
    def mfa_required(error: MfaRequiredError) -> tuple[FlaskResponse, int]:
        return jsonify(error=error.code), 403

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=3000)
