"""auth0-web: Auth0 login, sessions and tokens for Python web apps.

.. code-block:: python

    from auth0_web import Auth0Client

    auth0 = Auth0Client()        # reads AUTH0_DOMAIN, AUTH0_CLIENT_ID, ... from the environment
    app = auth0.middleware(app)  # mounts /auth/login, /auth/callback, /auth/logout, /auth/profile
"""

from ._access_tokens import AccessToken
from ._ciba import (
    BackchannelAuthenticationError,
    BackchannelAuthenticationNotSupportedError,
    BackchannelAuthenticationResult,
)
from ._client import Auth0Client, MissingSessionError
from ._config import CookieConfig, Routes, SessionConfig, TransactionCookieConfig
from ._connect import (
    ConnectAccountError,
    ConnectedAccount,
    ConnectedAccountsError,
    MyAccountApiError,
)
from ._connection_tokens import AccessTokenForConnectionError, ConnectionAccessToken
from ._errors import (
    AccessTokenError,
    Auth0Error,
    AuthorizationCodeGrantError,
    AuthorizationCodeGrantRequestError,
    AuthorizationError,
    DiscoveryError,
    DomainValidationError,
    HttpError,
    InvalidConfigurationError,
    InvalidRequestError,
    InvalidStateError,
    MfaRequiredError,
    MissingStateError,
    OAuth2Error,
    SessionStoreUnavailableError,
    SessionTooLargeError,
)
from ._fetcher import Fetcher
from ._http import CookieOptions, Request, Response
from ._mfa import (
    Authenticator,
    MfaChallenge,
    MfaChallengeError,
    MfaClient,
    MfaEnrollment,
    MfaEnrollmentError,
    MfaError,
    MfaGetAuthenticatorsError,
    MfaNoAvailableFactorsError,
    MfaTokenExpiredError,
    MfaTokenInvalidError,
    MfaVerifyError,
    MfaVerifyResult,
)
from ._runtime import DEFAULT_ID_TOKEN_CLAIMS, filter_default_id_token_claims
from ._token_exchange import CustomTokenExchangeError, CustomTokenExchangeResult
from ._version import __version__
from .adapters.asgi import Auth0Middleware
from .oidc._dpop import DpopKey, DpopKeyPair, generate_dpop_key_pair
from .routes import CallbackContext
from .session import (
    AccessTokenSet,
    ConnectionTokenSet,
    SessionData,
    SessionInternal,
    TokenSet,
)
from .session._store import LogoutTokenClaims, MemorySessionStore, SessionDataStore

__all__ = [
    "DEFAULT_ID_TOKEN_CLAIMS",
    "AccessToken",
    "AccessTokenError",
    "AccessTokenForConnectionError",
    "AccessTokenSet",
    "Auth0Client",
    "Auth0Error",
    "Auth0Middleware",
    "Authenticator",
    "AuthorizationCodeGrantError",
    "AuthorizationCodeGrantRequestError",
    "AuthorizationError",
    "BackchannelAuthenticationError",
    "BackchannelAuthenticationNotSupportedError",
    "BackchannelAuthenticationResult",
    "CallbackContext",
    "ConnectAccountError",
    "ConnectedAccount",
    "ConnectedAccountsError",
    "ConnectionAccessToken",
    "ConnectionTokenSet",
    "CookieConfig",
    "CookieOptions",
    "CustomTokenExchangeError",
    "CustomTokenExchangeResult",
    "DiscoveryError",
    "DomainValidationError",
    "DpopKey",
    "DpopKeyPair",
    "Fetcher",
    "HttpError",
    "InvalidConfigurationError",
    "InvalidRequestError",
    "InvalidStateError",
    "LogoutTokenClaims",
    "MemorySessionStore",
    "MfaChallenge",
    "MfaChallengeError",
    "MfaClient",
    "MfaEnrollment",
    "MfaEnrollmentError",
    "MfaError",
    "MfaGetAuthenticatorsError",
    "MfaNoAvailableFactorsError",
    "MfaRequiredError",
    "MfaTokenExpiredError",
    "MfaTokenInvalidError",
    "MfaVerifyError",
    "MfaVerifyResult",
    "MissingSessionError",
    "MissingStateError",
    "MyAccountApiError",
    "OAuth2Error",
    "Request",
    "Response",
    "Routes",
    "SessionConfig",
    "SessionData",
    "SessionDataStore",
    "SessionInternal",
    "SessionStoreUnavailableError",
    "SessionTooLargeError",
    "TokenSet",
    "TransactionCookieConfig",
    "__version__",
    "filter_default_id_token_claims",
    "generate_dpop_key_pair",
]
