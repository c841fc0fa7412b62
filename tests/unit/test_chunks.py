"""Splitting the session cookie over ``<name>__<n>`` chunks and joining it back."""

from __future__ import annotations

import pytest

from auth0_web._http import CookieOptions, Response
from auth0_web.session._chunks import (
    MAX_CHUNK_SIZE,
    delete_chunked,
    read_chunked,
    write_chunked,
)

NAME = "__session"
OPTIONS = CookieOptions()


def cookie_value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1]


def written(response: Response) -> dict[str, str]:
    """Cookies the response sets (name -> value), excluding deletions."""
    return {
        name: cookie_value(header)
        for name, header in response.cookies
        if "Max-Age=0" not in header.split("; ")
    }


def deleted(response: Response) -> list[str]:
    return [name for name, header in response.cookies if "Max-Age=0" in header.split("; ")]


def write(value: str, request_cookies: dict[str, str], max_age: int | None = 600) -> Response:
    response = Response()
    write_chunked(response, NAME, value, OPTIONS, max_age, request_cookies)
    return response


# -- writing ------------------------------------------------------------------------------


def test_small_value_is_written_under_the_base_name() -> None:
    response = write("small-value", {})
    assert written(response) == {NAME: "small-value"}
    assert deleted(response) == []


def test_value_of_exactly_the_limit_is_not_chunked() -> None:
    response = write("v" * MAX_CHUNK_SIZE, {})
    assert written(response) == {NAME: "v" * MAX_CHUNK_SIZE}


def test_small_value_deletes_chunks_present_in_the_request() -> None:
    request = {f"{NAME}__0": "a", f"{NAME}__1": "b", f"{NAME}__2": "c", "other": "x"}
    response = write("small", request)
    assert written(response) == {NAME: "small"}
    assert sorted(deleted(response)) == [f"{NAME}__0", f"{NAME}__1", f"{NAME}__2"]


def test_large_value_is_split_into_chunks_of_at_most_the_limit() -> None:
    value = "".join(chr(ord("a") + i % 26) for i in range(8000))
    response = write(value, {})
    chunks = written(response)
    assert sorted(chunks) == [f"{NAME}__0", f"{NAME}__1", f"{NAME}__2"]
    assert all(len(v) <= MAX_CHUNK_SIZE for v in chunks.values())
    assert chunks[f"{NAME}__0"] + chunks[f"{NAME}__1"] + chunks[f"{NAME}__2"] == value
    assert NAME not in chunks


def test_large_value_deletes_the_base_cookie_when_present() -> None:
    response = write("x" * 8000, {NAME: "old-unchunked"})
    assert NAME in deleted(response)
    assert NAME not in written(response)


def test_large_value_does_not_delete_an_absent_base_cookie() -> None:
    response = write("x" * 8000, {})
    assert NAME not in deleted(response)


def test_large_value_deletes_stale_higher_chunks_only() -> None:
    request = {f"{NAME}__{i}": "old" for i in range(6)}
    response = write("x" * 8000, request)
    assert sorted(deleted(response)) == [f"{NAME}__3", f"{NAME}__4", f"{NAME}__5"]
    assert sorted(written(response)) == [f"{NAME}__0", f"{NAME}__1", f"{NAME}__2"]


def test_chunks_carry_the_max_age() -> None:
    response = write("x" * 8000, {}, max_age=1234)
    assert all("Max-Age=1234" in header for _, header in response.cookies)


def test_transient_write_has_no_max_age() -> None:
    response = write("x" * 8000, {}, max_age=None)
    assert all("Max-Age" not in header for _, header in response.cookies)


def test_written_chunks_read_back_to_the_value() -> None:
    value = "".join(chr(ord("A") + i % 26) for i in range(12_345))
    assert read_chunked(NAME, written(write(value, {}))) == value


# -- reading ------------------------------------------------------------------------------


def test_read_returns_the_base_cookie() -> None:
    assert read_chunked(NAME, {NAME: "whole"}) == "whole"


def test_read_prefers_a_non_empty_base_cookie_over_chunks() -> None:
    cookies = {NAME: "whole", f"{NAME}__0": "c0", f"{NAME}__1": "c1"}
    assert read_chunked(NAME, cookies) == "whole"


def test_read_falls_back_to_chunks_when_base_is_empty() -> None:
    cookies = {NAME: "", f"{NAME}__0": "c0", f"{NAME}__1": "c1"}
    assert read_chunked(NAME, cookies) == "c0c1"


def test_read_without_any_cookie_is_none() -> None:
    assert read_chunked(NAME, {"other": "x"}) is None


def test_chunks_are_joined_in_numeric_order() -> None:
    cookies = {f"{NAME}__{i}": f"<{i}>" for i in reversed(range(12))}
    assert read_chunked(NAME, cookies) == "".join(f"<{i}>" for i in range(12))


def test_chunk_ten_comes_after_chunk_nine() -> None:
    cookies = {f"{NAME}__{i}": str(i % 10) for i in range(11)}
    assert read_chunked(NAME, dict(sorted(cookies.items()))) == "01234567890"


def test_cookies_of_another_name_are_not_chunks() -> None:
    cookies = {"__session2__0": "x", "__sessio__0": "y"}
    assert read_chunked(NAME, cookies) is None


def test_twenty_chunks_are_accepted() -> None:
    cookies = {f"{NAME}__{i}": "x" for i in range(20)}
    assert read_chunked(NAME, cookies) == "x" * 20


@pytest.mark.parametrize(
    "cookies",
    [
        {f"{NAME}__0": "a", f"{NAME}__2": "c"},
        {f"{NAME}__1": "b", f"{NAME}__2": "c"},
        {f"{NAME}__1": "b"},
        {f"{NAME}__0": "a", f"{NAME}__1": "b", f"{NAME}__3": "d"},
    ],
    ids=["gap", "no-zero", "only-one", "gap-at-end"],
)
def test_non_contiguous_chunks_give_none(cookies: dict[str, str]) -> None:
    assert read_chunked(NAME, cookies) is None


@pytest.mark.parametrize(
    "suffix",
    ["x", "-1", "-0", "00", "+0", " 0", "0x0", "٠", "1e0"],
    ids=[
        "letter",
        "negative",
        "minus-zero",
        "leading-zero",
        "plus",
        "space",
        "hex",
        "arabic",
        "exp",
    ],
)
def test_non_canonical_index_is_not_a_chunk(suffix: str) -> None:
    assert read_chunked(NAME, {f"{NAME}__{suffix}": "a"}) is None


def test_leading_zero_indices_are_not_joined() -> None:
    assert read_chunked(NAME, {f"{NAME}__00": "a", f"{NAME}__01": "b"}) is None


def test_huge_index_alone_gives_none() -> None:
    assert read_chunked(NAME, {f"{NAME}__999999999": "a"}) is None


def test_huge_index_beside_chunk_zero_gives_none() -> None:
    # {0, 999999999} is a set with a gap: an inconsistent set is no session (SES-06).
    assert read_chunked(NAME, {f"{NAME}__0": "a", f"{NAME}__999999999": "b"}) is None


def test_more_than_twenty_chunks_give_none() -> None:
    cookies = {f"{NAME}__{i}": "x" for i in range(21)}
    assert read_chunked(NAME, cookies) is None


# -- deleting -----------------------------------------------------------------------------


def test_delete_removes_base_and_every_chunk_in_the_request() -> None:
    response = Response()
    request = {NAME: "x", f"{NAME}__0": "a", f"{NAME}__1": "b", "other": "y"}
    delete_chunked(response, NAME, OPTIONS, request)
    assert sorted(deleted(response)) == [NAME, f"{NAME}__0", f"{NAME}__1"]
    assert written(response) == {}


def test_delete_always_removes_the_base_cookie() -> None:
    response = Response()
    delete_chunked(response, NAME, OPTIONS, {})
    assert deleted(response) == [NAME]
