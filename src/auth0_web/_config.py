"""Options, their environment-variable fallbacks, defaults and validation.

:func:`build_config` turns the keyword arguments of :class:`~auth0_web.Auth0Client` into one
frozen :class:`Config`. Every problem is collected and raised together as an
:class:`~auth0_web.InvalidConfigurationError` naming the option and its environment
variable, so a misconfigured app fails at start-up, not on its first login.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

from ._errors import InvalidConfigurationError

if TYPE_CHECKING:
    from ._http import Response
    from .oidc._client_auth import AssertionKey
    from .oidc._dpop import DpopKey
    from .session._model import SessionData
    from .session._store import SessionDataStore

__all__ = [
    "DEFAULT_SCOPE",
    "Config",
    "CookieConfig",
    "Routes",
    "SessionConfig",
    "TransactionCookieConfig",
    "build_config",
]

DEFAULT_SCOPE = "openid profile email offline_access"
MIN_SECRET_LENGTH = 32

LogoutStrategy = Literal["auto", "oidc", "v2"]
ClientAuthMethod = Literal["client_secret_post", "client_secret_basic"]

BeforeSessionSaved = Callable[["SessionData", "str | None"], "SessionData | Awaitable[SessionData]"]
OnCallback = Callable[..., "Response | Awaitable[Response] | Any"]


@dataclass(frozen=True)
class CookieConfig:
    """``session.cookie``: attributes of the session cookie."""

    name: str = "__session"
    secure: bool | None = None
    same_site: str = "lax"
    path: str = "/"
    domain: str | None = None
    transient: bool = False


@dataclass(frozen=True)
class SessionConfig:
    """``session``: lifetime of the session (durations in seconds)."""

    rolling: bool = True
    absolute_duration: int = 3 * 24 * 60 * 60
    inactivity_duration: int = 24 * 60 * 60
    cookie: CookieConfig = field(default_factory=CookieConfig)
    #: A rolling session's cookie is re-issued only when that moves its expiry by at least
    #: this many seconds (capped at a tenth of ``inactivity_duration``); 0 re-issues it on
    #: every response, as the reference does. Writes made by the app are never delayed.
    rolling_write_interval: int = 60


@dataclass(frozen=True)
class TransactionCookieConfig:
    """``transaction_cookie``: the short-lived cookie that carries a login in flight."""

    prefix: str = "__txn_"
    secure: bool | None = None
    same_site: str = "lax"
    path: str = "/"
    domain: str | None = None
    max_age: int = 3600


@dataclass(frozen=True)
class DpopRetry:
    """``dpop_options['retry']``: the wait before the one retry on a DPoP nonce challenge."""

    delay: int = 100  # milliseconds (AUTH0_RETRY_DELAY)
    jitter: bool = True  # multiply the delay by 0.5-1.0 (AUTH0_RETRY_JITTER)


@dataclass(frozen=True)
class DpopOptions:
    """``dpop_options``: DPoP timing (seconds) and retry."""

    clock_skew: int = 0  # added to proofs' iat (AUTH0_DPOP_CLOCK_SKEW)
    clock_tolerance: int = 30  # AUTH0_DPOP_CLOCK_TOLERANCE
    retry: DpopRetry = field(default_factory=DpopRetry)


@dataclass(frozen=True)
class Routes:
    """Paths of the mounted routes."""

    login: str = "/auth/login"
    logout: str = "/auth/logout"
    callback: str = "/auth/callback"
    profile: str = "/auth/profile"
    access_token: str = "/auth/access-token"
    backchannel_logout: str = "/auth/backchannel-logout"
    connect_account: str = "/auth/connect"
    mfa_authenticators: str = "/auth/mfa/authenticators"
    mfa_challenge: str = "/auth/mfa/challenge"
    mfa_associate: str = "/auth/mfa/associate"
    mfa_verify: str = "/auth/mfa/verify"


@dataclass(frozen=True)
class AppBaseUrl:
    """A validated application base URL: origin plus an optional path prefix."""

    origin: str
    path: str  # "" or "/prefix" (no trailing slash)
    secure: bool

    def url_for(self, route: str) -> str:
        return self.origin + self.path + route

    @property
    def url(self) -> str:
        return self.origin + (self.path or "/")


@dataclass(frozen=True)
class Config:
    """The validated, normalized configuration every part of the SDK reads."""

    domain: str
    issuer: str
    client_id: str
    client_secret: str
    secrets: tuple[str, ...]
    app_base_urls: tuple[AppBaseUrl, ...]  # empty: infer from each request
    sign_in_return_to_path: str
    authorization_parameters: Mapping[str, str]
    #: Scopes by audience ("" = no audience) when ``scope`` was configured as a map.
    scope_map: Mapping[str, str]
    session: SessionConfig
    transaction_cookie: TransactionCookieConfig
    enable_parallel_transactions: bool
    routes: Routes
    logout_strategy: LogoutStrategy
    include_id_token_hint_in_oidc_logout_url: bool
    allow_insecure_requests: bool
    http_timeout: float
    enable_telemetry: bool
    enable_access_token_endpoint: bool
    no_content_profile_response_when_unauthenticated: bool
    token_refresh_buffer: int
    token_endpoint_auth_method: ClientAuthMethod
    id_token_signing_alg: str
    clock_tolerance: int
    before_session_saved: BeforeSessionSaved | None
    on_callback: OnCallback | None
    discovery_ttl: int
    session_store: SessionDataStore | None = None
    pushed_authorization_requests: bool = False
    #: The loaded private key for private_key_jwt (None: client secret authentication).
    client_assertion_key: AssertionKey | None = None
    client_assertion_signing_alg: str = "RS256"
    #: The DPoP key when ``use_dpop`` (None: no DPoP).
    dpop_key: DpopKey | None = None
    dpop_options: DpopOptions = field(default_factory=lambda: DpopOptions())
    #: Mount ``GET routes.connect_account`` (connected accounts, My Account API).
    enable_connect_account_endpoint: bool = False
    #: Seconds a sealed MFA token (``MfaRequiredError.mfa_token``) stays usable.
    mfa_token_ttl: int = 300

    @property
    def audience(self) -> str | None:
        """The default audience (``authorization_parameters['audience']``), if any."""
        return self.authorization_parameters.get("audience") or None

    def scope_for(self, audience: str | None) -> str:
        """The configured scope for ``audience`` (the default scope when not mapped)."""
        mapped = self.scope_map.get(audience or "")
        return mapped if mapped is not None else self.authorization_parameters["scope"]

    def __repr__(self) -> str:
        return (
            f"Config(domain={self.domain!r}, client_id={self.client_id!r}, "
            f"client_secret='***', secrets=['***' x{len(self.secrets)}], "
            f"app_base_urls={[b.url for b in self.app_base_urls]!r})"
        )


_T = TypeVar("_T")


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _env_bool(name: str) -> bool | None:
    value = _env(name)
    if value is None:
        return None
    return value.lower() == "true"


def _coerce(cls: type[_T], value: object, option: str, problems: list[str]) -> _T:
    """Accept a dataclass instance or a plain dict of its fields."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(value) - names)
        if unknown:
            problems.append(f"{option}: unknown key(s) {', '.join(map(str, unknown))}")
        kwargs = {k: v for k, v in value.items() if k in names}
        try:
            return cls(**kwargs)
        except TypeError as exc:  # pragma: no cover - defensive
            problems.append(f"{option}: {exc}")
            return cls()
    problems.append(f"{option}: must be a {cls.__name__} or a dict")
    return cls()


def parse_domain(value: str, *, allow_insecure: bool) -> tuple[str, str]:
    """Validate ``domain`` (bare host or URL) and return ``(domain, issuer)``.

    Raises ``ValueError`` with a reason. The issuer of a host-only domain always ends with
    ``/``, the form Auth0 uses; a URL with a path (a path-based issuer) is kept verbatim.
    """
    raw = value.strip()
    if not raw:
        raise ValueError("must not be empty")
    if "://" in raw:
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https"):
            raise ValueError("URL must use https")
        if parts.scheme == "http" and not allow_insecure:
            raise ValueError("http:// requires allow_insecure_requests=True")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must not contain credentials, a query or a fragment")
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError("has an invalid port") from exc
        path = parts.path
    else:
        if "/" in raw or "?" in raw or "#" in raw or "@" in raw:
            raise ValueError("must be a host name (like tenant.us.auth0.com) or a URL")
        if ":" in raw:
            raise ValueError("a bare host must not contain a port; use a URL")
        host, port, path = raw.lower(), None, ""
    _check_host(host, allow_insecure=allow_insecure)
    scheme = urlsplit(raw).scheme if "://" in raw else "https"
    netloc = host if port is None else f"{host}:{port}"
    origin = f"{scheme}://{netloc}"
    issuer = origin + "/" if path in ("", "/") else origin + path
    return origin, issuer


def _check_host(host: str, *, allow_insecure: bool) -> None:
    if not host:
        raise ValueError("has no host")
    if host.startswith("[") or ":" in host:
        raise ValueError("IPv6 addresses are not supported")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        pass
    else:
        raise ValueError("IP addresses are not supported; use a host name")
    if host.endswith(".local"):
        raise ValueError(".local host names are not supported")
    is_localhost = (
        host == "localhost" or host.startswith("localhost.") or host.endswith(".localhost")
    )
    if is_localhost and not allow_insecure:
        raise ValueError("localhost requires allow_insecure_requests=True")


def parse_app_base_url(value: str) -> AppBaseUrl:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"{value!r} must not contain credentials, a query or a fragment")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r} has an invalid port") from exc
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if parts.scheme == "https" else 80
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    return AppBaseUrl(
        origin=f"{parts.scheme}://{netloc}", path=path, secure=parts.scheme == "https"
    )


def _positive_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _non_negative_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def build_config(
    *,
    domain: str | None,
    client_id: str | None,
    client_secret: str | None,
    secret: str | Sequence[str] | None,
    app_base_url: str | Sequence[str] | None,
    sign_in_return_to_path: str,
    authorization_parameters: Mapping[str, Any] | None,
    session: SessionConfig | Mapping[str, Any] | None,
    transaction_cookie: TransactionCookieConfig | Mapping[str, Any] | None,
    enable_parallel_transactions: bool,
    routes: Routes | Mapping[str, Any] | None,
    logout_strategy: str,
    include_id_token_hint_in_oidc_logout_url: bool,
    allow_insecure_requests: bool,
    http_timeout: float,
    enable_telemetry: bool,
    enable_access_token_endpoint: bool,
    no_content_profile_response_when_unauthenticated: bool,
    token_refresh_buffer: int,
    token_endpoint_auth_method: str,
    id_token_signing_alg: str,
    clock_tolerance: int,
    before_session_saved: BeforeSessionSaved | None,
    on_callback: OnCallback | None,
    discovery_ttl: int,
    session_store: SessionDataStore | None = None,
    pushed_authorization_requests: bool = False,
    client_assertion_signing_key: object | None = None,
    client_assertion_signing_alg: str | None = None,
    use_dpop: bool = False,
    dpop_key_pair: object | None = None,
    dpop_options: DpopOptions | Mapping[str, Any] | None = None,
    enable_connect_account_endpoint: bool = False,
    mfa_token_ttl: int | None = None,
) -> Config:
    problems: list[str] = []

    # -- authorization server -------------------------------------------------------------
    domain = domain if domain is not None else _env("AUTH0_DOMAIN")
    origin = issuer = ""
    if not domain:
        problems.append("domain: missing (set AUTH0_DOMAIN or pass domain=)")
    else:
        try:
            origin, issuer = parse_domain(domain, allow_insecure=allow_insecure_requests)
        except ValueError as exc:
            problems.append(f"domain: {exc} (AUTH0_DOMAIN)")

    client_id = client_id if client_id is not None else _env("AUTH0_CLIENT_ID")
    if not client_id:
        problems.append("client_id: missing (set AUTH0_CLIENT_ID or pass client_id=)")
    client_secret = client_secret if client_secret is not None else _env("AUTH0_CLIENT_SECRET")
    assertion_raw = (
        client_assertion_signing_key
        if client_assertion_signing_key is not None
        else _env("AUTH0_CLIENT_ASSERTION_SIGNING_KEY")
    )
    if isinstance(assertion_raw, str):
        # PEMs in environment variables often arrive with literal "\n" sequences.
        assertion_raw = assertion_raw.replace("\\n", "\n")
    assertion_alg = (
        client_assertion_signing_alg or _env("AUTH0_CLIENT_ASSERTION_SIGNING_ALG") or "RS256"
    )
    assertion_key = None
    if assertion_raw:
        from .oidc._client_auth import load_assertion_key

        try:
            assertion_key = load_assertion_key(assertion_raw, assertion_alg)
        except ValueError as exc:
            problems.append(
                f"client_assertion_signing_key: {exc} (AUTH0_CLIENT_ASSERTION_SIGNING_KEY, "
                "AUTH0_CLIENT_ASSERTION_SIGNING_ALG)"
            )
    elif not client_secret:
        problems.append(
            "client_secret: missing, the client cannot authenticate (set AUTH0_CLIENT_SECRET "
            "or AUTH0_CLIENT_ASSERTION_SIGNING_KEY, or pass client_secret= or "
            "client_assertion_signing_key=)"
        )
    if token_endpoint_auth_method not in ("client_secret_post", "client_secret_basic"):
        problems.append(
            "token_endpoint_auth_method: must be 'client_secret_post' or 'client_secret_basic'"
        )

    # -- secrets ---------------------------------------------------------------------------
    if secret is None:
        env_secret = _env("AUTH0_SECRET")
        secrets = tuple(s.strip() for s in env_secret.split(",") if s.strip()) if env_secret else ()
    elif isinstance(secret, str):
        secrets = (secret,)
    else:
        secrets = tuple(secret)
    if not secrets:
        problems.append(
            "secret: missing (set AUTH0_SECRET or pass secret=; generate one with "
            "`openssl rand -hex 32`)"
        )
    for index, item in enumerate(secrets):
        if not isinstance(item, str) or len(item) < MIN_SECRET_LENGTH:
            problems.append(
                f"secret[{index}]: must be a string of at least {MIN_SECRET_LENGTH} characters "
                "(AUTH0_SECRET; generate one with `openssl rand -hex 32`)"
            )

    # -- application -----------------------------------------------------------------------
    if app_base_url is None:
        env_base = _env("APP_BASE_URL")
        raw_bases: list[str] = (
            [b.strip() for b in env_base.split(",") if b.strip()] if env_base else []
        )
        base_source = "APP_BASE_URL"
    elif isinstance(app_base_url, str):
        raw_bases = [b.strip() for b in app_base_url.split(",") if b.strip()]
        base_source = "app_base_url"
        if not raw_bases:
            problems.append("app_base_url: must not be empty")
    else:
        raw_bases = list(app_base_url)
        base_source = "app_base_url"
        if not raw_bases:
            problems.append("app_base_url: the allow-list must not be empty (APP_BASE_URL)")
    bases: list[AppBaseUrl] = []
    for raw in raw_bases:
        try:
            bases.append(parse_app_base_url(raw))
        except ValueError as exc:
            problems.append(f"app_base_url: {exc} ({base_source})")

    if not sign_in_return_to_path.startswith("/") or sign_in_return_to_path.startswith(
        ("//", "/\\")
    ):
        problems.append("sign_in_return_to_path: must be a path starting with a single '/'")

    auth_params: dict[str, str] = {"scope": DEFAULT_SCOPE}
    scope_map: dict[str, str] = {}
    for key, value in (authorization_parameters or {}).items():
        if value is None:
            continue
        if key == "scope" and isinstance(value, Mapping):
            # Per-audience scopes (multi-resource refresh tokens): {audience: scope}.
            for audience_key, audience_scope in value.items():
                if not isinstance(audience_key, str) or not isinstance(audience_scope, str):
                    problems.append(
                        "authorization_parameters['scope']: a scope map must map "
                        "audience strings to scope strings"
                    )
                    continue
                scope_map[audience_key] = audience_scope
            continue
        if not isinstance(value, str | int) or isinstance(value, bool):
            problems.append(f"authorization_parameters[{key!r}]: must be a string")
            continue
        auth_params[str(key)] = str(value)
    default_audience = auth_params.get("audience", "")
    if scope_map:
        if not default_audience:
            problems.append(
                "authorization_parameters['scope']: a scope map needs "
                "authorization_parameters['audience'] (the default audience)"
            )
        auth_params["scope"] = scope_map.setdefault(default_audience, DEFAULT_SCOPE)
    if "openid" not in auth_params["scope"].split():
        problems.append("authorization_parameters['scope']: must include 'openid'")
    if "max_age" in auth_params and not auth_params["max_age"].isdigit():
        problems.append("authorization_parameters['max_age']: must be a non-negative integer")

    # -- session and cookies ---------------------------------------------------------------
    session_cfg = _coerce(SessionConfig, session, "session", problems)
    cookie_in = session_cfg.cookie
    cookie_cfg = _coerce(CookieConfig, cookie_in, "session['cookie']", problems)
    env_secure = _env_bool("AUTH0_COOKIE_SECURE")
    env_transient = _env_bool("AUTH0_COOKIE_TRANSIENT")
    cookie_cfg = CookieConfig(
        name=cookie_cfg.name,
        secure=cookie_cfg.secure if cookie_cfg.secure is not None else env_secure,
        same_site=(
            cookie_cfg.same_site
            if cookie_cfg.same_site != "lax"
            else (_env("AUTH0_COOKIE_SAME_SITE") or "lax")
        ),
        path=cookie_cfg.path if cookie_cfg.path != "/" else (_env("AUTH0_COOKIE_PATH") or "/"),
        domain=cookie_cfg.domain or _env("AUTH0_COOKIE_DOMAIN"),
        transient=cookie_cfg.transient or bool(env_transient),
    )
    if bases and all(b.secure for b in bases):
        # An https-only app never sends its session over plain http, whatever was set.
        cookie_cfg = _replace(cookie_cfg, secure=True)
    session_cfg = SessionConfig(
        rolling=session_cfg.rolling,
        absolute_duration=session_cfg.absolute_duration,
        inactivity_duration=session_cfg.inactivity_duration,
        cookie=cookie_cfg,
        rolling_write_interval=session_cfg.rolling_write_interval,
    )
    for name in ("absolute_duration", "inactivity_duration"):
        if not _positive_number(getattr(session_cfg, name)):
            problems.append(f"session['{name}']: must be a positive number of seconds")
    interval = session_cfg.rolling_write_interval
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 0:
        problems.append("session['rolling_write_interval']: must be a whole number of seconds >= 0")
    _check_cookie_attrs(
        "session['cookie']",
        cookie_cfg.name,
        cookie_cfg.same_site,
        cookie_cfg.path,
        cookie_cfg.secure,
        problems,
    )

    txn_cfg = _coerce(TransactionCookieConfig, transaction_cookie, "transaction_cookie", problems)
    txn_cfg = TransactionCookieConfig(
        prefix=txn_cfg.prefix,
        secure=True if bases and all(b.secure for b in bases) else txn_cfg.secure,
        same_site=txn_cfg.same_site,
        path=txn_cfg.path,
        domain=txn_cfg.domain or _env("AUTH0_COOKIE_DOMAIN"),
        max_age=txn_cfg.max_age or 3600,
    )
    if not _positive_number(txn_cfg.max_age):
        problems.append("transaction_cookie['max_age']: must be a positive number of seconds")
    _check_cookie_attrs(
        "transaction_cookie",
        txn_cfg.prefix,
        txn_cfg.same_site,
        txn_cfg.path,
        txn_cfg.secure,
        problems,
    )
    if txn_cfg.prefix and cookie_cfg.name.startswith(txn_cfg.prefix):
        problems.append("session['cookie']['name']: must not start with the transaction prefix")

    routes_cfg = _coerce(Routes, routes, "routes", problems)
    for route in fields(routes_cfg):
        path = getattr(routes_cfg, route.name)
        if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
            problems.append(f"routes['{route.name}']: must be a path starting with '/'")

    if logout_strategy not in ("auto", "oidc", "v2"):
        problems.append("logout_strategy: must be 'auto', 'oidc' or 'v2'")
    if not _positive_number(http_timeout):
        problems.append("http_timeout: must be a positive number of seconds")
    if not _non_negative_int(token_refresh_buffer):
        problems.append("token_refresh_buffer: must be a non-negative integer number of seconds")
    if not _non_negative_int(clock_tolerance) or clock_tolerance > 300:
        problems.append("clock_tolerance: must be an integer between 0 and 300 seconds")
    if id_token_signing_alg not in _SIGNING_ALGS:
        problems.append(f"id_token_signing_alg: must be one of {', '.join(sorted(_SIGNING_ALGS))}")
    for hook_name, hook in (
        ("before_session_saved", before_session_saved),
        ("on_callback", on_callback),
    ):
        if hook is not None and not callable(hook):
            problems.append(f"{hook_name}: must be callable")

    dpop_key, dpop_cfg = _dpop_settings(use_dpop, dpop_key_pair, dpop_options, problems)
    mfa_ttl = _mfa_token_ttl(mfa_token_ttl, problems)
    if session_store is not None:
        from .session._store import SessionDataStore as _Store

        if not isinstance(session_store, _Store):
            problems.append(
                "session_store: must have async get(id), set(id, session, *, expires_at) and "
                "delete(id) methods (see auth0_web.SessionDataStore)"
            )
    if problems:
        raise InvalidConfigurationError(problems=problems)

    assert domain is not None and client_id is not None
    return Config(
        domain=origin,
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret or "",
        secrets=secrets,
        app_base_urls=tuple(bases),
        sign_in_return_to_path=sign_in_return_to_path,
        authorization_parameters=auth_params,
        scope_map=scope_map,
        session=session_cfg,
        transaction_cookie=txn_cfg,
        enable_parallel_transactions=enable_parallel_transactions,
        routes=routes_cfg,
        logout_strategy=logout_strategy,  # type: ignore[arg-type]
        include_id_token_hint_in_oidc_logout_url=include_id_token_hint_in_oidc_logout_url,
        allow_insecure_requests=allow_insecure_requests,
        http_timeout=float(http_timeout),
        enable_telemetry=enable_telemetry,
        enable_access_token_endpoint=enable_access_token_endpoint,
        no_content_profile_response_when_unauthenticated=(
            no_content_profile_response_when_unauthenticated
        ),
        token_refresh_buffer=token_refresh_buffer,
        token_endpoint_auth_method=token_endpoint_auth_method,  # type: ignore[arg-type]
        id_token_signing_alg=id_token_signing_alg,
        clock_tolerance=clock_tolerance,
        before_session_saved=before_session_saved,
        on_callback=on_callback,
        discovery_ttl=discovery_ttl,
        session_store=session_store,
        pushed_authorization_requests=pushed_authorization_requests,
        client_assertion_key=assertion_key,
        client_assertion_signing_alg=assertion_alg,
        dpop_key=dpop_key,
        dpop_options=dpop_cfg,
        enable_connect_account_endpoint=enable_connect_account_endpoint,
        mfa_token_ttl=mfa_ttl,
    )


_SIGNING_ALGS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


def _replace(cfg: CookieConfig, **changes: Any) -> CookieConfig:
    from dataclasses import replace

    return replace(cfg, **changes)


def _check_cookie_attrs(
    option: str, name: str, same_site: str, path: str, secure: bool | None, problems: list[str]
) -> None:
    from ._http import _is_token

    if not name or not _is_token(name):
        problems.append(f"{option}: name/prefix must be a valid cookie name")
    if same_site.lower() not in ("lax", "strict", "none"):
        problems.append(
            f"{option}: same_site must be 'lax', 'strict' or 'none' (AUTH0_COOKIE_SAME_SITE)"
        )
    elif same_site.lower() == "none" and secure is False:
        problems.append(f"{option}: same_site='none' requires secure=True (AUTH0_COOKIE_SECURE)")
    if not path.startswith("/") or any(c in path for c in ";\r\n"):
        problems.append(f"{option}: path must start with '/' (AUTH0_COOKIE_PATH)")


#: ``mfa_token_ttl`` default and upper bound (seconds). Auth0's own ``mfa_token`` lives
#: 10 minutes, so a longer seal only gives a stolen one more time.
DEFAULT_MFA_TOKEN_TTL = 300
MAX_MFA_TOKEN_TTL = 3600


def _mfa_token_ttl(value: int | None, problems: list[str]) -> int:
    """``mfa_token_ttl`` (or ``AUTH0_MFA_TOKEN_TTL``): 1-3600 seconds, default 300. An
    invalid value is an error, not the reference's silent fallback to the default."""
    problem = (
        f"mfa_token_ttl: must be an integer between 1 and {MAX_MFA_TOKEN_TTL} seconds "
        "(AUTH0_MFA_TOKEN_TTL)"
    )
    if value is None:
        raw = _env("AUTH0_MFA_TOKEN_TTL")
        if raw is None:
            return DEFAULT_MFA_TOKEN_TTL
        if not raw.isdigit():
            problems.append(problem)
            return DEFAULT_MFA_TOKEN_TTL
        value = int(raw)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MFA_TOKEN_TTL:
        problems.append(problem)
        return DEFAULT_MFA_TOKEN_TTL
    return value


def _env_int(name: str, problems: list[str]) -> int | None:
    value = _env(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        problems.append(f"{name}: must be an integer")
        return None


def _dpop_settings(
    use_dpop: bool,
    key_pair: object | None,
    options: DpopOptions | Mapping[str, Any] | None,
    problems: list[str],
) -> tuple[DpopKey | None, DpopOptions]:
    """The DPoP key and options; DPoP asked for without a usable key is an error, never a
    silent fallback to Bearer tokens."""
    from .oidc._dpop import DpopKey

    if isinstance(options, Mapping) and isinstance(options.get("retry"), Mapping):
        options = {
            **options,
            "retry": _coerce(DpopRetry, options["retry"], "dpop_options['retry']", problems),
        }
    cfg = _coerce(DpopOptions, options, "dpop_options", problems)
    skew = _env_int("AUTH0_DPOP_CLOCK_SKEW", problems)
    tolerance = _env_int("AUTH0_DPOP_CLOCK_TOLERANCE", problems)
    delay = _env_int("AUTH0_RETRY_DELAY", problems)
    jitter = _env_bool("AUTH0_RETRY_JITTER")
    cfg = DpopOptions(
        clock_skew=cfg.clock_skew if options is not None or skew is None else skew,
        clock_tolerance=cfg.clock_tolerance
        if options is not None or tolerance is None
        else tolerance,
        retry=DpopRetry(
            delay=cfg.retry.delay if options is not None or delay is None else delay,
            jitter=cfg.retry.jitter if options is not None or jitter is None else jitter,
        ),
    )
    if cfg.retry.delay < 0:
        problems.append("dpop_options['retry']['delay']: must not be negative (AUTH0_RETRY_DELAY)")
    if not 0 <= cfg.clock_tolerance <= 300:
        problems.append("dpop_options['clock_tolerance']: must be 0-300 seconds")
    if not use_dpop:
        return None, cfg
    source = key_pair
    if source is None:
        private_pem = _env("AUTH0_DPOP_PRIVATE_KEY")
        public_pem = _env("AUTH0_DPOP_PUBLIC_KEY")
        if private_pem:
            source = (
                private_pem.replace("\\n", "\n"),
                public_pem.replace("\\n", "\n") if public_pem else None,
            )
    if source is None:
        problems.append(
            "dpop_key_pair: use_dpop=True needs an ES256 key pair (pass dpop_key_pair= or set "
            "AUTH0_DPOP_PRIVATE_KEY and AUTH0_DPOP_PUBLIC_KEY; auth0_web.generate_dpop_key_pair() "
            "makes one)"
        )
        return None, cfg
    try:
        if isinstance(source, DpopKey):
            key = source
        elif isinstance(source, tuple) and len(source) == 2:
            key = DpopKey.from_pem(source[0], source[1])
        else:
            key = DpopKey.from_key(source)
    except ValueError as exc:
        problems.append(f"dpop_key_pair: {exc} (AUTH0_DPOP_PRIVATE_KEY, AUTH0_DPOP_PUBLIC_KEY)")
        return None, cfg
    return key, cfg
