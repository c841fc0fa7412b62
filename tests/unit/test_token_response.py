"""Token endpoint answers: every member is type-checked, errors are sanitised."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from auth0_web import OAuth2Error
from auth0_web.oidc._http_client import HttpResponse
from auth0_web.oidc._token import TokenResponseError, parse_token_response

VALID: dict[str, Any] = {
    "access_token": "at-123",
    "token_type": "Bearer",
    "expires_in": 86400,
    "id_token": "h.p.s",
    "refresh_token": "rt-123",
    "scope": "openid profile",
}


def response(
    body: bytes | str | dict[str, Any],
    status: int = 200,
    content_type: str = "application/json; charset=utf-8",
) -> HttpResponse:
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = httpx.Headers({"content-type": content_type} if content_type else {})
    return HttpResponse(status=status, headers=headers, body=body)


def parse(body: bytes | str | dict[str, Any], status: int = 200, *, require_id: bool = True):
    return parse_token_response(response(body, status), require_id_token=require_id)


def with_(**changes: Any) -> dict[str, Any]:
    body = dict(VALID)
    for key, value in changes.items():
        if value is ...:
            body.pop(key, None)
        else:
            body[key] = value
    return body


# -- accepted -----------------------------------------------------------------------------


def test_valid_response_is_parsed() -> None:
    parsed = parse(VALID)
    assert parsed.access_token == "at-123"
    assert parsed.token_type == "Bearer"
    assert parsed.expires_in == 86400
    assert parsed.id_token == "h.p.s"
    assert parsed.refresh_token == "rt-123"
    assert parsed.scope == "openid profile"


@pytest.mark.parametrize(
    ("token_type", "normalised"),
    [
        ("Bearer", "Bearer"),
        ("bearer", "Bearer"),
        ("bEARER", "Bearer"),
        ("DPoP", "DPoP"),
        ("dPoP", "DPoP"),
        ("dpop", "DPoP"),
    ],
)
def test_token_type_is_case_insensitive_and_normalised(token_type: str, normalised: str) -> None:
    assert parse(with_(token_type=token_type)).token_type == normalised


def test_optional_members_may_be_absent() -> None:
    parsed = parse(
        with_(refresh_token=..., scope=..., expires_in=..., id_token=...), require_id=False
    )
    assert parsed.refresh_token is None
    assert parsed.scope is None
    assert parsed.expires_in is None
    assert parsed.id_token is None


def test_float_expires_in_is_truncated_to_int() -> None:
    assert parse(with_(expires_in=3600.9)).expires_in == 3600


def test_zero_expires_in_is_accepted() -> None:
    assert parse(with_(expires_in=0)).expires_in == 0


def test_unknown_members_are_kept_in_raw() -> None:
    assert parse(with_(custom="x")).raw["custom"] == "x"


def test_repr_hides_tokens() -> None:
    text = repr(parse(VALID))
    assert "at-123" not in text
    assert "rt-123" not in text


# -- rejected -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        with_(access_token=...),
        with_(access_token=""),
        with_(access_token=123),
        with_(access_token=None),
        with_(access_token=["at"]),
        with_(token_type=...),
        with_(token_type="mac"),
        with_(token_type="PoP"),
        with_(token_type="Bearer "),
        with_(token_type=1),
        with_(scope=["openid", "profile"]),
        with_(scope=""),
        with_(refresh_token=123),
        with_(refresh_token={"t": 1}),
        with_(refresh_token=""),
        with_(id_token={"h": 1}),
        with_(id_token=5),
        with_(expires_in=-1),
        with_(expires_in=True),
        with_(expires_in="3600"),
        with_(expires_in=10**12),
        with_(expires_in=1e300),
        with_(id_token=...),
    ],
    ids=[
        "at-missing",
        "at-empty",
        "at-number",
        "at-null",
        "at-list",
        "type-missing",
        "type-mac",
        "type-pop",
        "type-space",
        "type-number",
        "scope-list",
        "scope-empty",
        "rt-number",
        "rt-object",
        "rt-empty",
        "idt-object",
        "idt-number",
        "exp-negative",
        "exp-bool",
        "exp-string",
        "exp-huge",
        "exp-huge-float",
        "idt-missing",
    ],
)
def test_malformed_member_is_a_token_response_error(body: dict[str, Any]) -> None:
    with pytest.raises(TokenResponseError):
        parse(body)


@pytest.mark.parametrize(
    "body",
    [
        '{"access_token":"a","token_type":"Bearer","id_token":"x","expires_in":NaN}',
        '{"access_token":"a","token_type":"Bearer","id_token":"x","expires_in":Infinity}',
        '{"access_token":"a","token_type":"Bearer","id_token":"x","expires_in":1e400}',
        "<html><body>Bad gateway</body></html>",
        "null",
        "[]",
        '"string"',
        "42",
        "",
        '{"access_token":"a"',
        b"\xef\xbb\xbf" + json.dumps(VALID).encode(),
        b"\xff\xfe",
        "[" * 100_000,
    ],
    ids=[
        "nan",
        "infinity",
        "1e400",
        "html",
        "null",
        "array",
        "string",
        "number",
        "empty",
        "truncated",
        "bom",
        "bad-utf8",
        "deep",
    ],
)
def test_body_that_is_not_a_token_object_is_a_token_response_error(body: str | bytes) -> None:
    with pytest.raises(TokenResponseError):
        parse(body)


def test_error_member_with_status_200_is_a_token_response_error() -> None:
    with pytest.raises(TokenResponseError):
        parse({"error": "invalid_grant"})


def test_error_member_beside_tokens_with_status_200_is_rejected() -> None:
    with pytest.raises(TokenResponseError):
        parse(with_(error="invalid_grant"))


@pytest.mark.parametrize("status", [201, 204, 302, 500, 502])
def test_non_200_without_error_member_is_a_token_response_error(status: int) -> None:
    with pytest.raises(TokenResponseError):
        parse(VALID if status != 500 else "<html>oops</html>", status=status)


# -- error answers ------------------------------------------------------------------------


def test_error_answer_is_an_oauth2_error_with_safe_message() -> None:
    body = {"error": "invalid_grant", "error_description": "<script>alert(1)</script>"}
    with pytest.raises(OAuth2Error) as info:
        parse(body, status=400)
    error = info.value
    assert error.code == "invalid_grant"
    assert "<script>" not in error.message
    assert "<script>" not in str(error)
    assert "alert" not in error.message
    assert error.description == "<script>alert(1)</script>"


@pytest.mark.parametrize(
    "code",
    [
        "invalid<script>grant",
        "invalid_grant\r\nX-Injected: 1",
        "bad\"code'",
        "ünïcode_error",
        "x" * 500,
    ],
)
def test_error_code_is_sanitised(code: str) -> None:
    with pytest.raises(OAuth2Error) as info:
        parse({"error": code}, status=400)
    sanitised = info.value.code
    assert sanitised
    assert len(sanitised) <= 64
    assert all(c.isascii() and (c.isalnum() or c in "_-.:") for c in sanitised)


def test_error_code_made_only_of_bad_characters_becomes_a_placeholder() -> None:
    with pytest.raises(OAuth2Error) as info:
        parse({"error": "<>\"'"}, status=400)
    assert info.value.code == "unknown_error"


def test_error_description_is_truncated() -> None:
    with pytest.raises(OAuth2Error) as info:
        parse({"error": "invalid_grant", "error_description": "d" * 10_000}, status=400)
    assert info.value.description is not None
    assert len(info.value.description) <= 512


def test_non_string_error_description_is_dropped() -> None:
    with pytest.raises(OAuth2Error) as info:
        parse({"error": "invalid_grant", "error_description": {"html": 1}}, status=400)
    assert info.value.description is None


@pytest.mark.parametrize("body", [{"error": 1}, {"error": None}, {"nope": "x"}, "<html/>"])
def test_error_status_without_string_error_is_a_token_response_error(body: object) -> None:
    with pytest.raises(TokenResponseError):
        parse(body, status=400)  # type: ignore[arg-type]


@pytest.mark.parametrize("content_type", ["text/html", "text/plain", "", "application/jsonx"])
def test_success_body_must_be_declared_json(content_type: str) -> None:
    with pytest.raises(TokenResponseError):
        parse_token_response(response(VALID, content_type=content_type), require_id_token=False)


@pytest.mark.parametrize("content_type", ["application/json", "APPLICATION/JSON; charset=UTF-8"])
def test_json_media_type_is_case_insensitive(content_type: str) -> None:
    parsed = parse_token_response(
        response(VALID, content_type=content_type), require_id_token=False
    )
    assert parsed.access_token == VALID["access_token"]
