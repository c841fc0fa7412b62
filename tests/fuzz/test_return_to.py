"""``returnTo`` validation, judged the way a browser reads URLs (WHATWG parsing by ada-url).

Whatever the input (schemes, slash and backslash runs, credentials, dot segments, percent
escapes, whitespace a browser strips, non-ASCII), the validated path is ``None`` or resolves
to the application's own origin, both on its own and joined to the trusted origin as the
SDK builds the final URL (RED-01 to RED-06, RED-10).
"""

from __future__ import annotations

import ada_url
from hypothesis import given
from hypothesis import strategies as st

from auth0_web._config import AppBaseUrl, parse_app_base_url
from auth0_web._urls import (
    MAX_RETURN_TO_BYTES,
    absolute,
    safe_logout_return_to,
    safe_return_to,
)

from .harness import fuzz
from .strategies import UNICODE, url_like

BASES = [
    parse_app_base_url("http://127.0.0.1:3000"),
    parse_app_base_url("https://app.example.com/portal"),
    parse_app_base_url("http://[::1]:8080"),
]
bases = st.sampled_from(BASES)
inputs = st.one_of(
    url_like(),
    url_like().map(lambda u: u.replace("/", "%2F")),
    st.text(UNICODE, max_size=60),
    st.text(st.sampled_from("/\\.:@?#%2e5cF \t\nahttps"), max_size=30),
    st.builds(lambda a, b: a + b, url_like(), st.text(UNICODE, max_size=10)),
)


def same_origin(url: str, origin: str, base: str | None = None) -> bool:
    return ada_url.URL(url, base).origin == origin if base else ada_url.URL(url).origin == origin


@fuzz(2.0)
@given(inputs, bases)
def test_a_validated_return_to_stays_on_the_app_origin(value: str, base: AppBaseUrl) -> None:
    result = safe_return_to(value, base)
    if result is None:
        return
    origin = base.origin
    assert result.startswith("/") and not result.startswith(("//", "/\\")), result
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in result), repr(result)
    assert len(result.encode("utf-8", "surrogatepass")) <= MAX_RETURN_TO_BYTES + 8
    # As a browser resolves the stored path against the app, and as the SDK joins it.
    assert same_origin(result, origin, origin + "/"), (value, result)
    final = absolute(base, result)
    assert same_origin(final, origin), (value, final)
    assert final.startswith(origin + "/") and not final[len(origin) :].startswith("//")


@fuzz(1.0)
@given(inputs, bases)
def test_the_post_logout_url_is_always_on_the_app_origin(value: str, base: AppBaseUrl) -> None:
    url = safe_logout_return_to(value, base)
    assert same_origin(url, base.origin), (value, url)


plain_paths = st.lists(
    st.text(st.sampled_from("abcxyz019-_~"), min_size=1, max_size=8), min_size=1, max_size=4
).map(lambda parts: "/" + "/".join(parts))


@fuzz(0.5)
@given(
    plain_paths,
    st.sampled_from(["", "?tab=1", "?a=b&c=d"]),
    st.sampled_from(["", "#top"]),
    bases,
)
def test_an_ordinary_path_is_kept_as_given(
    path: str, query: str, frag: str, base: AppBaseUrl
) -> None:
    value = path + query + frag
    assert safe_return_to(value, base) == value
    absolute_form = base.origin + value
    assert safe_return_to(absolute_form, base) == value
