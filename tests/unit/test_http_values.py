"""The core's request/response values: cookie header parsing, query parsing, Set-Cookie."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auth0_web._http import (
    CookieOptions,
    QueryError,
    Response,
    parse_cookie_header,
    parse_query,
)

PROPERTY = settings(max_examples=400, deadline=None, database=None, derandomize=True)
TOKEN_CHARS = set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
EPOCH = "Expires=Thu, 01 Jan 1970 00:00:00 GMT"


def attrs(header: str) -> list[str]:
    return header.split("; ")


# -- parse_cookie_header ------------------------------------------------------------------


def test_cookie_header_is_parsed_into_pairs() -> None:
    assert parse_cookie_header("a=1; b=two; __session=x.y.z") == {
        "a": "1",
        "b": "two",
        "__session": "x.y.z",
    }


def test_empty_cookie_header_gives_no_cookies() -> None:
    assert parse_cookie_header("") == {}


def test_first_occurrence_of_a_name_wins() -> None:
    assert parse_cookie_header("a=first; b=1; a=second") == {"a": "first", "b": "1"}


def test_quoted_value_is_unquoted() -> None:
    assert parse_cookie_header('a="quoted value"; b=""') == {"a": "quoted value", "b": ""}


def test_lone_quote_is_kept() -> None:
    assert parse_cookie_header('a="; b=x"') == {"a": '"', "b": 'x"'}


def test_value_may_contain_equals_signs() -> None:
    assert parse_cookie_header("a=b=c==") == {"a": "b=c=="}


def test_whitespace_around_names_and_values_is_trimmed() -> None:
    assert parse_cookie_header("  a = 1 ;b=2  ;  ") == {"a": "1", "b": "2"}


def test_pairs_without_equals_are_ignored() -> None:
    assert parse_cookie_header("flag; a=1; =orphan") == {"a": "1"}


@pytest.mark.parametrize(
    "name",
    ["a b", "a,b", "a/b", "a(b)", "a@b", "a:b", "a[0]", 'a"b', "a\\b", "é", "a\x00b", "{a}"],
)
def test_names_with_invalid_characters_are_ignored(name: str) -> None:
    assert parse_cookie_header(f"{name}=1; ok=2") == {"ok": "2"}


def test_invalid_name_does_not_shadow_a_later_valid_one() -> None:
    assert parse_cookie_header("a b=1; a=2") == {"a": "2"}


@PROPERTY
@given(st.text(max_size=300))
def test_cookie_header_parsing_never_raises(header: str) -> None:
    cookies = parse_cookie_header(header)
    assert isinstance(cookies, dict)
    for name, value in cookies.items():
        assert name
        assert set(name) <= TOKEN_CHARS
        assert isinstance(value, str)
        assert ";" not in value


@PROPERTY
@given(
    st.dictionaries(
        st.text(alphabet=sorted(TOKEN_CHARS), min_size=1, max_size=10),
        st.text(alphabet="abcXYZ019-_.~%", max_size=20),
        max_size=8,
    )
)
def test_serialized_cookie_pairs_parse_back(pairs: dict[str, str]) -> None:
    header = "; ".join(f"{k}={v}" for k, v in pairs.items())
    assert parse_cookie_header(header) == pairs


# -- parse_query --------------------------------------------------------------------------


def test_query_is_parsed_and_decoded() -> None:
    assert parse_query("a=1&b=x%20y&c=%2F&d=+") == {"a": "1", "b": "x y", "c": "/", "d": " "}


def test_last_value_of_a_name_wins() -> None:
    assert parse_query("a=1&a=2") == {"a": "2"}


def test_blank_values_are_kept() -> None:
    assert parse_query("a=&b") == {"a": "", "b": ""}


def test_semicolon_is_not_a_separator() -> None:
    assert parse_query("a=1;b=2") == {"a": "1;b=2"}


@pytest.mark.parametrize("query", ["a=%ZZ", "a=%", "a=%2", "a=100%"])
def test_bad_percent_escape_stays_literal_or_is_a_query_error(query: str) -> None:
    try:
        result = parse_query(query)
    except QueryError:
        return
    assert result == {"a": query[2:]}


@pytest.mark.parametrize("query", ["a=%C0%AF", "a=%ED%A0%80", "a=%FF", "%C0%AF=1", "a=%E2%82"])
def test_invalid_utf8_is_a_query_error(query: str) -> None:
    with pytest.raises(QueryError):
        parse_query(query)


def test_two_hundred_fields_are_accepted() -> None:
    assert len(parse_query("&".join(f"k{i}=v" for i in range(200)))) == 200


def test_more_than_two_hundred_fields_is_a_query_error() -> None:
    with pytest.raises(QueryError):
        parse_query("&".join(f"k{i}=v" for i in range(201)))


def test_oversized_query_is_a_query_error() -> None:
    with pytest.raises(QueryError):
        parse_query("a=" + "x" * 17_000)


@pytest.mark.parametrize("query", ["a%00=1", "a%0A=1", "a%7F=1", "%0D%0A=1"])
def test_control_character_in_name_is_a_query_error(query: str) -> None:
    with pytest.raises(QueryError):
        parse_query(query)


def test_query_error_is_a_value_error() -> None:
    assert issubclass(QueryError, ValueError)


@PROPERTY
@given(st.one_of(st.text(max_size=300), st.text(alphabet="%&=;+aZ09CFEDA8", max_size=300)))
def test_query_parsing_raises_nothing_but_query_error(query: str) -> None:
    try:
        result = parse_query(query)
    except QueryError:
        return
    assert all(isinstance(k, str) and k for k in result)
    assert all(isinstance(v, str) for v in result.values())


# -- CookieOptions.serialize / Response cookies ------------------------------------------


def test_default_cookie_is_httponly_lax_on_root_path() -> None:
    header = CookieOptions().serialize("__session", "v", 60)
    assert attrs(header) == ["__session=v", "Path=/", "Max-Age=60", "HttpOnly", "SameSite=Lax"]


def test_secure_and_domain_are_written_when_set() -> None:
    options = CookieOptions(path="/app", secure=True, same_site="strict", domain="example.com")
    header = options.serialize("n", "v", 10)
    assert attrs(header) == [
        "n=v",
        "Path=/app",
        "Max-Age=10",
        "Domain=example.com",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
    ]


@pytest.mark.parametrize(
    ("same_site", "expected"),
    [("lax", "SameSite=Lax"), ("LAX", "SameSite=Lax"), ("none", "SameSite=None")],
)
def test_same_site_is_capitalised(same_site: str, expected: str) -> None:
    assert expected in attrs(CookieOptions(same_site=same_site, secure=True).serialize("n", "v", 1))


@pytest.mark.parametrize("domain", [None, ""])
def test_domain_is_absent_unless_configured(domain: str | None) -> None:
    header = CookieOptions(domain=domain).serialize("n", "v", 1)
    assert not any(a.startswith("Domain") for a in attrs(header))


def test_secure_is_absent_unless_configured() -> None:
    assert "Secure" not in attrs(CookieOptions().serialize("n", "v", 1))


def test_no_max_age_means_a_browser_session_cookie() -> None:
    header = CookieOptions().serialize("n", "v", None)
    assert not any(a.startswith(("Max-Age", "Expires")) for a in attrs(header))


def test_positive_max_age_has_no_epoch_expires() -> None:
    assert EPOCH not in attrs(CookieOptions().serialize("n", "v", 5))


def test_deletion_has_max_age_zero_and_epoch_expires() -> None:
    response = Response()
    response.delete_cookie("n", CookieOptions())
    name, header = response.cookies[0]
    assert name == "n"
    parts = attrs(header)
    assert parts[0] == "n="
    assert "Max-Age=0" in parts
    assert EPOCH in parts


def test_deletion_repeats_path_domain_secure_and_same_site() -> None:
    options = CookieOptions(path="/app", secure=True, same_site="none", domain="example.com")
    response = Response()
    response.delete_cookie("__session", options)
    parts = attrs(response.cookies[0][1])
    for expected in ("Path=/app", "Domain=example.com", "Secure", "SameSite=None", "HttpOnly"):
        assert expected in parts


def test_set_cookie_records_name_and_header_in_order() -> None:
    response = Response()
    response.set_cookie("a", "1", CookieOptions(), 5)
    response.delete_cookie("b", CookieOptions())
    assert [name for name, _ in response.cookies] == ["a", "b"]
    assert [v for k, v in response.header_items() if k == "set-cookie"] == [
        h for _, h in response.cookies
    ]


def test_no_store_replaces_existing_cache_headers() -> None:
    response = Response(headers=[("cache-control", "public"), ("pragma", "x"), ("x-a", "1")])
    response.no_store()
    assert response.headers == [
        ("x-a", "1"),
        ("cache-control", "private, no-cache, no-store, must-revalidate, max-age=0"),
        ("pragma", "no-cache"),
        ("expires", "0"),
    ]
