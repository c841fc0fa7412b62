"""``returnTo`` validation: only paths on the app's own origin ever come out.

Every accepted result is checked with a WHATWG URL parser (``ada-url``, the parser Node.js
uses), both joined to the origin as the SDK does and resolved as a browser would resolve a
relative ``Location``.
"""

from __future__ import annotations

import pytest
from ada_url import URL
from hypothesis import given, settings
from hypothesis import strategies as st

from auth0_web import Auth0Client, InvalidConfigurationError
from auth0_web._config import parse_app_base_url
from auth0_web._http import Request
from auth0_web._urls import resolve_app_base_url, safe_logout_return_to, safe_return_to

BASE = parse_app_base_url("https://app.example.com")
ORIGIN = "https://app.example.com"
PROPERTY = settings(max_examples=400, deadline=None, database=None, derandomize=True)


def assert_safe_path(result: str | None) -> None:
    """``None``, or a path that keeps a browser on the app's origin however it is used."""
    if result is None:
        return
    assert result.startswith("/")
    assert not result.startswith("//")
    assert not result.startswith("/\\")
    assert URL(BASE.origin + result).origin == ORIGIN
    assert URL(result, BASE.url).origin == ORIGIN


def test_base_url_fixture_is_the_plain_origin() -> None:
    assert BASE.origin == ORIGIN
    assert BASE.url == ORIGIN + "/"


# -- accepted values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/", "/"),
        ("/dashboard", "/dashboard"),
        ("/dashboard?tab=1&x=%2F", "/dashboard?tab=1&x=%2F"),
        ("/dashboard#section", "/dashboard#section"),
        ("/a/b?c=d#e", "/a/b?c=d#e"),
        ("/a#frag?not-a-query", "/a#frag?not-a-query"),
        ("https://app.example.com", "/"),
        ("https://app.example.com/a/b?c=d#e", "/a/b?c=d#e"),
        ("HTTPS://APP.EXAMPLE.COM/x", "/x"),
        ("https://app.example.com:443/x", "/x"),
        ("https://app.example.com./x", "/x"),
        ("https://app.example.com///evil.example", "/evil.example"),
        ("dashboard", "/dashboard"),
        ("?tab=1", "/?tab=1"),
    ],
)
def test_same_origin_values_are_kept_as_paths(value: str, expected: str) -> None:
    result = safe_return_to(value, BASE)
    assert result == expected
    assert_safe_path(result)


def test_leading_control_characters_and_spaces_are_stripped() -> None:
    result = safe_return_to("\x00\x01\x1f /x?y=1", BASE)
    assert result == "/x?y=1"
    assert_safe_path(result)


@pytest.mark.parametrize("value", [None, ""])
def test_missing_value_is_none(value: str | None) -> None:
    assert safe_return_to(value, BASE) is None


# -- hostile values -----------------------------------------------------------------------

OFF_ORIGIN = [
    "https://evil.example",
    "https://evil.example/",
    "//evil.example",
    "///evil.example",
    "////evil.example",
    "https:evil.example",
    "https:/evil.example",
    "http://app.example.com",
    "http://app.example.com/x",
    "https://app.example.com:8443",
    "https://app.example.com:8443/x",
    "https://app.example.com.evil.example",
    "https://app.example.com@evil.example",
    "https://user:pass@app.example.com/x",
    "https://evil.example#@app.example.com",
    "https://evil.example?@app.example.com",
    "https://evil.example\\@app.example.com",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\nscript:alert(1)",
    "java\tscript:alert(1)",
    "\njavascript:alert(1)",
    "data:text/html,x",
    "vbscript:x",
    "file:///etc/passwd",
    "ftp://app.example.com/x",
    "/x\ny",
    "/x\ry",
    "/x\ty",
    "/\t/evil.example",
    "/" + "a" * 8192,
    "https://app.example.com/" + "a" * 8192,
    "https://app.example.com:99999/",
]


@pytest.mark.parametrize("value", OFF_ORIGIN)
def test_hostile_value_is_none(value: str) -> None:
    assert safe_return_to(value, BASE) is None


SAFE_EITHER_WAY = [
    "https://app.example.com///evil.example",
    "https://app.example.com//evil.example",
    "https://app.example.com/\\evil.example",
    "https://app.example.com\\evil.example",
    "/.//evil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "/..//evil.example",
    "./evil.example",
    ".//evil.example",
    "\u3000//evil.example",
    "\uff0f\uff0fevil.example",
    "/x?next=//evil.example",
    "https://app.example.com#@evil.example",
    "https://app.example.com?@evil.example",
    "https://app.example.com/@evil.example",
    "https://app.example.com\\@evil.example",
]


@pytest.mark.parametrize("value", OFF_ORIGIN + SAFE_EITHER_WAY)
def test_result_is_none_or_a_single_slash_path(value: str) -> None:
    assert_safe_path(safe_return_to(value, BASE))


@pytest.mark.parametrize(
    "value",
    ["https://[evil", "//[evil.example", "https://[::1", "https://app.example.com\u2100x/"],
    ids=["bracket", "scheme-relative-bracket", "open-ipv6", "nfkc-netloc"],
)
def test_unparseable_authority_is_none_not_an_exception(value: str) -> None:
    assert safe_return_to(value, BASE) is None


def test_base_with_path_keeps_results_on_origin() -> None:
    base = parse_app_base_url("https://app.example.com/shop/")
    assert base.path == "/shop"
    assert safe_return_to("https://app.example.com/shop/cart", base) == "/shop/cart"
    assert safe_return_to("https://evil.example/shop/cart", base) is None


def test_http_base_rejects_https_of_same_host() -> None:
    base = parse_app_base_url("http://localhost:3000")
    assert safe_return_to("http://localhost:3000/x", base) == "/x"
    assert safe_return_to("https://localhost:3000/x", base) is None
    assert safe_return_to("http://localhost:3001/x", base) is None
    assert safe_return_to("//localhost:3000/x", base) == "/x"


# -- logout -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [*OFF_ORIGIN, None, ""])
def test_logout_falls_back_to_the_base_url_for_unsafe_values(value: str | None) -> None:
    assert safe_logout_return_to(value, BASE) == BASE.url


def test_logout_keeps_a_same_origin_target_as_absolute_url() -> None:
    assert safe_logout_return_to("/bye?x=1#y", BASE) == "https://app.example.com/bye?x=1#y"
    assert (
        safe_logout_return_to("https://app.example.com/bye", BASE) == "https://app.example.com/bye"
    )


@pytest.mark.parametrize("value", SAFE_EITHER_WAY)
def test_logout_target_is_always_on_origin(value: str) -> None:
    url = safe_logout_return_to(value, BASE)
    assert url.startswith(ORIGIN + "/")
    assert not url.startswith(ORIGIN + "//")
    assert URL(url).origin == ORIGIN


# -- property -----------------------------------------------------------------------------

TOKENS = [
    "/",
    "\\",
    "//",
    "https:",
    "http:",
    "javascript:",
    "app.example.com",
    "evil.example",
    "@",
    ":",
    ":443",
    ":8443",
    "#",
    "?",
    ".",
    "..",
    "%2F",
    "%",
    "[",
    "]",
    " ",
    "\t",
    "\n",
    "\x00",
    "\u3000",
    "\uff0f",
    "x",
]
URLISH = st.lists(st.sampled_from(TOKENS), max_size=12).map("".join)


@PROPERTY
@given(st.one_of(st.text(max_size=200), URLISH))
def test_any_input_gives_none_or_an_on_origin_path(value: str) -> None:
    assert_safe_path(safe_return_to(value, BASE))


@PROPERTY
@given(st.one_of(st.text(max_size=200), URLISH))
def test_any_logout_input_gives_an_on_origin_url(value: str) -> None:
    assert URL(safe_logout_return_to(value, BASE)).origin == ORIGIN


# -- base URL resolution from the request -------------------------------------------------


def test_inferred_base_url_rejects_a_host_with_a_trailing_newline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("APP_BASE_URL", raising=False)
    client = Auth0Client(
        domain="tenant.auth0.com",
        client_id="cid",
        client_secret="csecret",
        secret="s" * 32,
    )
    assert client.config.app_base_urls == ()
    good = Request(method="GET", scheme="https", host="app.example.com", path="/")
    assert resolve_app_base_url(client.config, good).origin == ORIGIN
    bad = Request(method="GET", scheme="https", host="app.example.com\n", path="/")
    with pytest.raises(InvalidConfigurationError):
        resolve_app_base_url(client.config, bad)
