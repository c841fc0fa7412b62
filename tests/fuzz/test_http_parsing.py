"""The two parsers every request goes through: the ``Cookie`` header and the query string.

``parse_cookie_header`` never raises and only yields RFC 6265 token names (HTTP-06);
``parse_query`` either parses or raises its own ``QueryError`` (which the routes answer with
400), agrees with a form encoder on well-formed input, and never lets ``;`` smuggle a
parameter (HTTP-05).
"""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from auth0_web._http import (
    MAX_QUERY_FIELDS,
    MAX_QUERY_LENGTH,
    QueryError,
    parse_cookie_header,
    parse_query,
)

from .harness import fuzz
from .strategies import LATIN1, cookie_headers, latin1_text, query_strings

TOKEN = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
token_names = st.text(st.sampled_from(TOKEN), min_size=1, max_size=12)
#: cookie-octet (RFC 6265 section 4.1.1): what a server writes into a cookie value.
cookie_octets = st.text(
    st.sampled_from([chr(c) for c in range(0x21, 0x7F) if chr(c) not in '";,\\']), max_size=30
)


@fuzz(1.0)
@given(st.one_of(cookie_headers(), st.text(LATIN1, max_size=200)))
def test_any_cookie_header_parses_to_token_names(header: str) -> None:
    cookies = parse_cookie_header(header)
    assert isinstance(cookies, dict)
    for name, value in cookies.items():
        assert name and set(name) <= set(TOKEN), repr(name)
        assert ";" not in value


@fuzz(1.0)
@given(
    st.dictionaries(token_names, cookie_octets, max_size=8),
    st.lists(latin1_text(10).filter(lambda s: "=" not in s and ";" not in s), max_size=3),
)
def test_written_cookies_read_back_among_junk(jar: dict[str, str], junk: list[str]) -> None:
    """Cookies a server wrote come back exactly, whatever bare junk sits between them."""
    pieces = [f"{name}={value}" for name, value in jar.items()]
    for index, piece in enumerate(junk):
        pieces.insert(index * 2 % (len(pieces) + 1), piece)
    parsed = parse_cookie_header("; ".join(pieces))
    for name, value in jar.items():
        assert parsed[name] == value


@fuzz(0.5)
@given(token_names, cookie_octets, cookie_octets)
def test_first_occurrence_of_a_name_wins(name: str, first: str, second: str) -> None:
    assert parse_cookie_header(f"{name}={first}; {name}={second}")[name] == first


@fuzz(1.0)
@given(st.one_of(query_strings(), st.binary(max_size=200)))
def test_any_query_string_parses_or_is_refused(raw: bytes) -> None:
    query = raw.decode("latin-1")
    try:
        parsed = parse_query(query)
    except QueryError:
        return
    assert len(query) <= MAX_QUERY_LENGTH
    assert len(parsed) <= MAX_QUERY_FIELDS
    for name, value in parsed.items():
        assert name, "an empty name was kept"
        assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in name), repr(name)
        assert isinstance(value, str)


@fuzz(1.0)
@given(
    st.dictionaries(
        st.text(st.characters(codec="utf-8", min_codepoint=0x20), min_size=1, max_size=10).filter(
            lambda s: "\x7f" not in s
        ),
        st.text(st.characters(codec="utf-8"), max_size=20),
        max_size=10,
    )
)
def test_form_encoded_parameters_round_trip(params: dict[str, str]) -> None:
    assert parse_query(urlencode(params)) == params


@fuzz(0.5)
@given(
    token_names.filter(lambda s: "&" not in s),
    latin1_text(10).filter(lambda s: ";" not in s and "&" not in s),
)
def test_a_semicolon_never_separates_parameters(name: str, value: str) -> None:
    """``a=1;state=x`` is one parameter ``a`` (CPython CVE-2021-23336 class)."""
    try:
        parsed = parse_query(f"a=1;{name}={value}")
    except QueryError:
        return
    assert list(parsed) == ["a"]
