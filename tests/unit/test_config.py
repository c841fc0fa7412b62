"""``Auth0Client`` construction: options, environment fallbacks and validation."""

from __future__ import annotations

import os
from typing import Any

import pytest

from auth0_web import Auth0Client, InvalidConfigurationError, SessionConfig

SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
OLD_SECRET = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
CLIENT_SECRET = "client-secret-value-that-must-not-leak"

REQUIRED: dict[str, Any] = {
    "domain": "tenant.auth0.com",
    "client_id": "cid",
    "client_secret": CLIENT_SECRET,
    "secret": SECRET,
    "app_base_url": "https://app.example.com",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AUTH0_") or name == "APP_BASE_URL":
            monkeypatch.delenv(name)


def build(**overrides: Any) -> Auth0Client:
    return Auth0Client(**{**REQUIRED, **overrides})


def problems_of(**kwargs: Any) -> list[str]:
    with pytest.raises(InvalidConfigurationError) as info:
        Auth0Client(**kwargs)
    return info.value.problems


def build_problems(**overrides: Any) -> list[str]:
    return problems_of(**{**REQUIRED, **overrides})


def mentions(problems: list[str], *words: str) -> bool:
    return any(all(word in problem for word in words) for problem in problems)


# -- required options ---------------------------------------------------------------------


def test_missing_everything_raises_one_error_naming_each_option() -> None:
    problems = problems_of()
    assert mentions(problems, "domain", "AUTH0_DOMAIN")
    assert mentions(problems, "client_id", "AUTH0_CLIENT_ID")
    assert mentions(problems, "client_secret", "AUTH0_CLIENT_SECRET")
    assert mentions(problems, "secret", "AUTH0_SECRET")
    assert len(problems) == 4


def test_error_message_lists_every_problem() -> None:
    with pytest.raises(InvalidConfigurationError) as info:
        Auth0Client()
    for problem in info.value.problems:
        assert problem in str(info.value)
    assert info.value.code == "invalid_configuration"


def test_minimal_explicit_configuration_is_accepted() -> None:
    config = build().config
    assert config.client_id == "cid"
    assert config.client_secret == CLIENT_SECRET
    assert config.secrets == (SECRET,)


def test_environment_fallbacks_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_DOMAIN", "env-tenant.auth0.com")
    monkeypatch.setenv("AUTH0_CLIENT_ID", "env-cid")
    monkeypatch.setenv("AUTH0_CLIENT_SECRET", "env-csecret")
    monkeypatch.setenv("AUTH0_SECRET", SECRET)
    monkeypatch.setenv("APP_BASE_URL", "https://env-app.example.com")
    config = Auth0Client().config
    assert config.issuer == "https://env-tenant.auth0.com/"
    assert config.client_id == "env-cid"
    assert config.client_secret == "env-csecret"
    assert config.secrets == (SECRET,)
    assert [b.origin for b in config.app_base_urls] == ["https://env-app.example.com"]


def test_environment_values_are_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_DOMAIN", "  env-tenant.auth0.com \n")
    monkeypatch.setenv("AUTH0_CLIENT_ID", " env-cid ")
    monkeypatch.setenv("AUTH0_CLIENT_SECRET", "env-csecret")
    monkeypatch.setenv("AUTH0_SECRET", f" {SECRET} ")
    config = Auth0Client().config
    assert config.issuer == "https://env-tenant.auth0.com/"
    assert config.client_id == "env-cid"
    assert config.secrets == (SECRET,)


def test_explicit_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_DOMAIN", "env-tenant.auth0.com")
    monkeypatch.setenv("AUTH0_CLIENT_ID", "env-cid")
    monkeypatch.setenv("AUTH0_CLIENT_SECRET", "env-csecret")
    monkeypatch.setenv("AUTH0_SECRET", OLD_SECRET)
    monkeypatch.setenv("APP_BASE_URL", "https://env-app.example.com")
    config = build().config
    assert config.issuer == "https://tenant.auth0.com/"
    assert config.client_id == "cid"
    assert config.client_secret == CLIENT_SECRET
    assert config.secrets == (SECRET,)
    assert [b.origin for b in config.app_base_urls] == ["https://app.example.com"]


def test_empty_environment_value_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_DOMAIN", "   ")
    problems = problems_of(client_id="cid", client_secret="x", secret=SECRET)
    assert mentions(problems, "domain", "AUTH0_DOMAIN")


# -- secrets ------------------------------------------------------------------------------


def test_short_env_secret_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_SECRET", "s" * 31)
    problems = problems_of(domain="tenant.auth0.com", client_id="cid", client_secret="x")
    assert mentions(problems, "secret", "32", "AUTH0_SECRET")


def test_secret_of_exactly_32_characters_is_accepted() -> None:
    assert build(secret="s" * 32).config.secrets == ("s" * 32,)


def test_short_explicit_secret_is_an_error() -> None:
    assert mentions(build_problems(secret="too-short"), "secret", "32")


def test_secret_list_is_accepted_in_order() -> None:
    assert build(secret=[SECRET, OLD_SECRET]).config.secrets == (SECRET, OLD_SECRET)


def test_secret_list_with_a_short_entry_names_its_index() -> None:
    assert mentions(build_problems(secret=[SECRET, "short"]), "secret[1]")


def test_empty_secret_list_is_an_error() -> None:
    assert mentions(build_problems(secret=[]), "secret")


def test_env_secret_comma_list_is_a_rotation_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_SECRET", f"{SECRET}, {OLD_SECRET}")
    config = Auth0Client(**{**REQUIRED, "secret": None}).config
    assert config.secrets == (SECRET, OLD_SECRET)


# -- application base URL -----------------------------------------------------------------


def test_app_base_url_comma_list_is_an_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_BASE_URL", "https://a.example.com, https://b.example.com:8443/,")
    config = Auth0Client(**{**REQUIRED, "app_base_url": None}).config
    assert [b.origin for b in config.app_base_urls] == [
        "https://a.example.com",
        "https://b.example.com:8443",
    ]


def test_app_base_url_list_argument_is_an_allow_list() -> None:
    config = build(app_base_url=["https://a.example.com", "http://localhost:3000"]).config
    assert [b.origin for b in config.app_base_urls] == [
        "https://a.example.com",
        "http://localhost:3000",
    ]


def test_missing_app_base_url_means_infer_from_request() -> None:
    assert build(app_base_url=None).config.app_base_urls == ()


def test_app_base_url_keeps_its_path_without_trailing_slash() -> None:
    (base,) = build(app_base_url="https://app.example.com/shop/").config.app_base_urls
    assert (base.origin, base.path) == ("https://app.example.com", "/shop")


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://app.example.com",
        "app.example.com",
        "javascript:alert(1)",
        "https://",
        "https://user:pw@app.example.com",
        "https://app.example.com/?x=1",
        "https://app.example.com/#x",
        "https://app.example.com:99999",
    ],
)
def test_invalid_base_url_is_named(bad: str) -> None:
    assert mentions(build_problems(app_base_url=bad), "app_base_url", repr(bad))


def test_invalid_entry_in_env_allow_list_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_BASE_URL", "https://ok.example.com,not-a-url")
    problems = problems_of(**{**REQUIRED, "app_base_url": None})
    assert mentions(problems, "'not-a-url'", "APP_BASE_URL")


def test_empty_allow_list_argument_is_an_error() -> None:
    assert mentions(build_problems(app_base_url=[]), "app_base_url")


# -- domain forms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "domain",
    [
        "tenant.auth0.com",
        "https://tenant.auth0.com",
        "https://tenant.auth0.com/",
        "TENANT.Auth0.com",
        " tenant.auth0.com ",
    ],
)
def test_domain_forms_give_the_auth0_issuer(domain: str) -> None:
    config = build(domain=domain).config
    assert config.issuer == "https://tenant.auth0.com/"
    assert config.domain == "https://tenant.auth0.com"


def test_path_based_issuer_is_kept_verbatim() -> None:
    config = build(domain="https://idp.example.com/oauth2/default").config
    assert config.issuer == "https://idp.example.com/oauth2/default"


def test_https_domain_with_port_keeps_it() -> None:
    assert build(domain="https://tenant.auth0.com:8443").config.issuer == (
        "https://tenant.auth0.com:8443/"
    )


def test_http_localhost_domain_requires_insecure_flag() -> None:
    assert mentions(build_problems(domain="http://localhost:3000"), "domain")


def test_http_localhost_domain_keeps_scheme_and_port_when_allowed() -> None:
    config = build(domain="http://localhost:3000", allow_insecure_requests=True).config
    assert config.issuer == "http://localhost:3000/"
    assert config.domain == "http://localhost:3000"


@pytest.mark.parametrize("domain", ["localhost", "https://localhost", "auth.localhost"])
def test_localhost_domain_requires_insecure_flag(domain: str) -> None:
    assert mentions(build_problems(domain=domain), "domain")


@pytest.mark.parametrize(
    "domain",
    [
        "127.0.0.1",
        "https://127.0.0.1",
        "https://10.0.0.1:8443/",
        "::1",
        "[::1]",
        "https://[::1]/",
        "tenant.auth0.com:443",
        "x.local",
        "https://x.local",
        "https://tenant.auth0.com?x=1",
        "https://tenant.auth0.com/#frag",
        "https://user:pw@tenant.auth0.com",
        "tenant.auth0.com/path",
        "ftp://tenant.auth0.com",
        "https://",
    ],
)
@pytest.mark.parametrize("insecure", [False, True])
def test_invalid_domain_forms_are_errors(domain: str, insecure: bool) -> None:
    problems = build_problems(domain=domain, allow_insecure_requests=insecure)
    assert mentions(problems, "domain", "AUTH0_DOMAIN")


def test_invalid_env_domain_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_DOMAIN", "x.local")
    problems = problems_of(**{**REQUIRED, "domain": None})
    assert mentions(problems, "domain", "AUTH0_DOMAIN")


# -- cookies ------------------------------------------------------------------------------


def test_cookie_environment_variables_reach_the_session_cookie(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH0_COOKIE_SECURE", "true")
    monkeypatch.setenv("AUTH0_COOKIE_SAME_SITE", "strict")
    monkeypatch.setenv("AUTH0_COOKIE_PATH", "/app")
    monkeypatch.setenv("AUTH0_COOKIE_DOMAIN", "example.com")
    monkeypatch.setenv("AUTH0_COOKIE_TRANSIENT", "true")
    cookie = build(app_base_url="http://localhost:3000").config.session.cookie
    assert cookie.secure is True
    assert cookie.same_site == "strict"
    assert cookie.path == "/app"
    assert cookie.domain == "example.com"
    assert cookie.transient is True


def test_cookie_secure_env_other_than_true_is_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_COOKIE_SECURE", "yes")
    cookie = build(app_base_url="http://localhost:3000").config.session.cookie
    assert cookie.secure is False


def test_cookie_defaults_without_environment() -> None:
    cookie = build(app_base_url="http://localhost:3000").config.session.cookie
    assert cookie.name == "__session"
    assert cookie.secure in (None, False)
    assert cookie.same_site == "lax"
    assert cookie.path == "/"
    assert cookie.domain is None
    assert cookie.transient is False


def test_cookie_domain_env_also_applies_to_transaction_cookie(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH0_COOKIE_DOMAIN", "example.com")
    assert build().config.transaction_cookie.domain == "example.com"


def test_explicit_cookie_option_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_COOKIE_SAME_SITE", "strict")
    monkeypatch.setenv("AUTH0_COOKIE_DOMAIN", "env.example.com")
    session = {"cookie": {"same_site": "none", "domain": "arg.example.com"}}
    cookie = build(session=session).config.session.cookie
    assert cookie.same_site == "none"
    assert cookie.domain == "arg.example.com"


def test_https_base_url_forces_secure_cookies() -> None:
    config = build(
        session={"cookie": {"secure": False}},
        transaction_cookie={"secure": False},
    ).config
    assert config.session.cookie.secure is True
    assert config.transaction_cookie.secure is True


def test_https_base_url_overrides_insecure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_COOKIE_SECURE", "false")
    assert build().config.session.cookie.secure is True


def test_mixed_base_urls_do_not_force_secure() -> None:
    config = build(app_base_url=["https://a.example.com", "http://localhost:3000"]).config
    assert config.session.cookie.secure is not True


def test_same_site_none_without_secure_is_an_error() -> None:
    problems = build_problems(
        app_base_url="http://localhost:3000",
        session={"cookie": {"same_site": "none", "secure": False}},
    )
    assert mentions(problems, "same_site")


def test_same_site_none_with_insecure_env_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_COOKIE_SAME_SITE", "none")
    monkeypatch.setenv("AUTH0_COOKIE_SECURE", "false")
    problems = build_problems(app_base_url="http://localhost:3000")
    assert mentions(problems, "same_site")


def test_same_site_none_on_https_base_is_accepted() -> None:
    cookie = build(session={"cookie": {"same_site": "none"}}).config.session.cookie
    assert (cookie.same_site, cookie.secure) == ("none", True)


def test_unknown_same_site_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_COOKIE_SAME_SITE", "sometimes")
    assert mentions(build_problems(), "same_site", "AUTH0_COOKIE_SAME_SITE")


def test_cookie_path_without_leading_slash_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_COOKIE_PATH", "app")
    assert mentions(build_problems(), "path", "AUTH0_COOKIE_PATH")


def test_invalid_cookie_name_is_an_error() -> None:
    assert mentions(build_problems(session={"cookie": {"name": "bad name;"}}), "name")


# -- session, routes and other options ----------------------------------------------------


def test_session_dict_is_accepted() -> None:
    session = build(session={"rolling": False, "absolute_duration": 7 * 86400}).config.session
    assert session.rolling is False
    assert session.absolute_duration == 7 * 86400
    assert session.inactivity_duration == 86400


def test_session_dataclass_is_accepted() -> None:
    session = build(session=SessionConfig(rolling=False)).config.session
    assert session.rolling is False


def test_unknown_session_keys_are_reported() -> None:
    problems = build_problems(session={"rolling": False, "absoluteDuration": 5, "bogus": 1})
    assert mentions(problems, "session", "absoluteDuration")
    assert mentions(problems, "session", "bogus")


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "3600", True])
def test_invalid_session_duration_is_an_error(value: object) -> None:
    assert mentions(build_problems(session={"absolute_duration": value}), "absolute_duration")


def test_routes_override_keeps_other_defaults() -> None:
    routes = build(routes={"login": "/signin", "callback": "/oauth/cb"}).config.routes
    assert routes.login == "/signin"
    assert routes.callback == "/oauth/cb"
    assert routes.logout == "/auth/logout"


@pytest.mark.parametrize("path", ["signin", "//evil.example/login", ""])
def test_invalid_route_path_is_an_error(path: str) -> None:
    assert mentions(build_problems(routes={"login": path}), "routes", "login")


def test_unknown_route_key_is_reported() -> None:
    assert mentions(build_problems(routes={"signin": "/x"}), "routes", "signin")


def test_invalid_logout_strategy_is_an_error() -> None:
    assert mentions(build_problems(logout_strategy="federated"), "logout_strategy")


@pytest.mark.parametrize("strategy", ["auto", "oidc", "v2"])
def test_valid_logout_strategies_are_accepted(strategy: str) -> None:
    assert build(logout_strategy=strategy).config.logout_strategy == strategy


@pytest.mark.parametrize("scope", ["profile email", "openidprofile", "OPENID", ""])
def test_scope_without_openid_is_an_error(scope: str) -> None:
    problems = build_problems(authorization_parameters={"scope": scope})
    assert mentions(problems, "scope", "openid")


def test_default_scope_includes_openid_and_offline_access() -> None:
    scope = build().config.authorization_parameters["scope"].split()
    assert "openid" in scope
    assert "offline_access" in scope


def test_custom_scope_with_openid_is_accepted() -> None:
    params = build(authorization_parameters={"scope": "openid read:x", "audience": "api"})
    assert params.config.authorization_parameters["scope"] == "openid read:x"
    assert params.config.authorization_parameters["audience"] == "api"


@pytest.mark.parametrize("value", ["/", "/home"])
def test_sign_in_return_to_path_accepts_paths(value: str) -> None:
    assert build(sign_in_return_to_path=value).config.sign_in_return_to_path == value


@pytest.mark.parametrize("value", ["home", "//evil.example", "/\\evil.example"])
def test_sign_in_return_to_path_rejects_non_paths(value: str) -> None:
    assert mentions(build_problems(sign_in_return_to_path=value), "sign_in_return_to_path")


def test_several_problems_are_reported_together() -> None:
    problems = build_problems(logout_strategy="x", secret="short", http_timeout=0)
    assert mentions(problems, "logout_strategy")
    assert mentions(problems, "secret")
    assert mentions(problems, "http_timeout")


# -- secrets never leak -------------------------------------------------------------------


def test_config_repr_contains_no_secret_value() -> None:
    client = build(secret=[SECRET, OLD_SECRET])
    text = repr(client.config) + repr(client) + str(client.config)
    assert SECRET not in text
    assert OLD_SECRET not in text
    assert CLIENT_SECRET not in text


def test_configuration_error_contains_no_secret_value() -> None:
    with pytest.raises(InvalidConfigurationError) as info:
        Auth0Client(**{**REQUIRED, "secret": "tiny-secret-value", "logout_strategy": "x"})
    text = str(info.value) + repr(info.value) + "".join(info.value.problems)
    assert "tiny-secret-value" not in text
    assert CLIENT_SECRET not in text
