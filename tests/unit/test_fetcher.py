"""``Fetcher`` (``create_fetcher``): URL joining, the Authorization header, token options."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from auth0_web import Auth0Client
from auth0_web._access_tokens import AccessToken
from auth0_web._errors import AccessTokenError, InvalidConfigurationError
from auth0_web._fetcher import Fetcher

pytestmark = pytest.mark.anyio


class Recorder:
    """An ``httpx.MockTransport`` handler that records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"ok": True})

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


@pytest.fixture
async def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(recorder: Recorder) -> Any:
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as c:
        yield c


class TokenFactory:
    """Records the options it is called with; returns ``value``."""

    def __init__(self, value: Any = "tok") -> None:
        self.value = value
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **options: Any) -> Any:
        self.calls.append(options)
        return self.value


class AsyncTokenFactory(TokenFactory):
    async def __call__(self, **options: Any) -> Any:  # type: ignore[override]
        self.calls.append(options)
        return self.value


# --------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "url", "expected"),
    [
        ("https://api.example.com/", "/x", "https://api.example.com/x"),
        ("https://api.example.com", "x", "https://api.example.com/x"),
        ("https://api.example.com/", "x", "https://api.example.com/x"),
        ("https://api.example.com", "/x", "https://api.example.com/x"),
        ("https://api.example.com/v1/", "/items/1?q=a", "https://api.example.com/v1/items/1?q=a"),
        ("https://api.example.com/v1", "items", "https://api.example.com/v1/items"),
        ("https://api.example.com//", "//x", "https://api.example.com/x"),
    ],
)
def test_relative_url_joins_with_exactly_one_slash(base: str, url: str, expected: str) -> None:
    assert Fetcher(lambda **_: "t", base_url=base).resolve(url) == expected


def test_protocol_relative_url_stays_on_the_base_host() -> None:
    fetcher = Fetcher(lambda **_: "t", base_url="https://api.example.com")
    assert fetcher.resolve("//evil.example/x") == "https://api.example.com/evil.example/x"


@pytest.mark.parametrize(
    "url",
    ["https://other.example.com/a?b=c", "http://localhost:8080/x"],
)
def test_absolute_url_is_untouched(url: str) -> None:
    assert Fetcher(lambda **_: "t", base_url="https://api.example.com").resolve(url) == url
    assert Fetcher(lambda **_: "t").resolve(url) == url


def test_absolute_url_scheme_is_case_insensitive() -> None:
    """RFC 3986 section 3.1: schemes are case-insensitive; ``HTTPS://host/x`` is absolute."""
    url = "HTTPS://other.example.com/x"
    assert Fetcher(lambda **_: "t", base_url="https://api.example.com").resolve(url) == url
    assert Fetcher(lambda **_: "t").resolve(url) == url


@pytest.mark.parametrize("base", [None, ""])
def test_relative_url_without_base_is_a_value_error(base: str | None) -> None:
    with pytest.raises(ValueError):
        Fetcher(lambda **_: "t", base_url=base).resolve("/x")


async def test_relative_url_without_base_sends_nothing(client: Any, recorder: Recorder) -> None:
    fetcher = Fetcher(lambda **_: "t", client=client)
    with pytest.raises(ValueError):
        await fetcher.fetch_with_auth("/x")
    assert recorder.requests == []


# --------------------------------------------------------------------------------------
# The Authorization header
# --------------------------------------------------------------------------------------


async def test_bearer_from_a_string_factory(client: Any, recorder: Recorder) -> None:
    fetcher = Fetcher(lambda **_: "abc.def", base_url="https://api.example.com", client=client)
    response = await fetcher.fetch_with_auth("/me")
    assert response.status_code == 200
    assert str(recorder.last.url) == "https://api.example.com/me"
    assert recorder.last.method == "GET"
    assert recorder.last.headers.get_list("authorization") == ["Bearer abc.def"]


@pytest.mark.parametrize(
    ("token_type", "scheme"),
    [
        ("DPoP", "DPoP"),
        ("dpop", "DPoP"),
        ("Bearer", "Bearer"),
        ("bearer", "Bearer"),
        (None, "Bearer"),
    ],
)
async def test_scheme_from_an_access_token(
    client: Any, recorder: Recorder, token_type: str | None, scheme: str
) -> None:
    token = AccessToken(token="at-1", expires_at=0, token_type=token_type)
    fetcher = Fetcher(TokenFactory(token), client=client)
    await fetcher.fetch_with_auth("https://api.example.com/x")
    assert recorder.last.headers.get_list("authorization") == [f"{scheme} at-1"]


async def test_unknown_token_type_is_sent_as_bearer(client: Any, recorder: Recorder) -> None:
    token = AccessToken(token="at-1", expires_at=0, token_type="mac")
    fetcher = Fetcher(TokenFactory(token), client=client)
    await fetcher.fetch_with_auth("https://api.example.com/x")
    assert recorder.last.headers["authorization"] == "Bearer at-1"


async def test_caller_headers_are_kept_and_authorization_is_the_sdks(
    client: Any, recorder: Recorder
) -> None:
    fetcher = Fetcher(lambda **_: "mine", client=client)
    await fetcher.fetch_with_auth(
        "https://api.example.com/x",
        headers={"X-Trace": "1", "Authorization": "Basic Zm9vOmJhcg=="},
    )
    assert recorder.last.headers["x-trace"] == "1"
    assert recorder.last.headers.get_list("authorization") == ["Bearer mine"]


async def test_a_lowercase_caller_authorization_header_is_not_sent_too(
    client: Any, recorder: Recorder
) -> None:
    """Header names are case-insensitive: a caller's ``authorization`` must be replaced,
    not sent next to the SDK's (two Authorization headers reach the API)."""
    fetcher = Fetcher(lambda **_: "mine", client=client)
    await fetcher.fetch_with_auth(
        "https://api.example.com/x", headers={"authorization": "Basic Zm9vOmJhcg=="}
    )
    assert recorder.last.headers.get_list("authorization") == ["Bearer mine"]


async def test_method_and_httpx_keywords_pass_through(client: Any, recorder: Recorder) -> None:
    fetcher = Fetcher(lambda **_: "t", base_url="https://api.example.com", client=client)
    await fetcher.fetch_with_auth("items", "POST", json={"a": 1}, params={"q": "x y"})
    sent = recorder.last
    assert sent.method == "POST"
    assert sent.url.params["q"] == "x y"
    assert json.loads(sent.content) == {"a": 1}
    assert sent.headers["authorization"] == "Bearer t"


# --------------------------------------------------------------------------------------
# Token factory options
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("factory_type", [TokenFactory, AsyncTokenFactory])
async def test_options_are_passed_only_when_given(
    client: Any, recorder: Recorder, factory_type: type[TokenFactory]
) -> None:
    factory = factory_type("t")
    fetcher = Fetcher(factory, base_url="https://api.example.com", client=client)
    await fetcher.fetch_with_auth("/a")
    await fetcher.fetch_with_auth("/b", audience="https://aud")
    await fetcher.fetch_with_auth("/c", scope="read:x")
    await fetcher.fetch_with_auth("/d", refresh=True)
    await fetcher.fetch_with_auth("/e", refresh=False)
    await fetcher.fetch_with_auth("/f", audience="https://aud", scope="read:x", refresh=True)
    assert factory.calls == [
        {},
        {"audience": "https://aud"},
        {"scope": "read:x"},
        {"refresh": True},
        {},
        {"audience": "https://aud", "scope": "read:x", "refresh": True},
    ]
    assert len(recorder.requests) == 6
    assert all(r.headers["authorization"] == "Bearer t" for r in recorder.requests)


async def test_async_factory_returning_an_access_token(client: Any, recorder: Recorder) -> None:
    factory = AsyncTokenFactory(AccessToken(token="at-2", expires_at=0, token_type="DPoP"))
    fetcher = Fetcher(factory, client=client)
    await fetcher.fetch_with_auth("https://api.example.com/x", scope="s")
    assert factory.calls == [{"scope": "s"}]
    assert recorder.last.headers["authorization"] == "DPoP at-2"


async def test_a_fresh_token_is_asked_for_each_request(client: Any, recorder: Recorder) -> None:
    tokens = iter(["one", "two"])
    fetcher = Fetcher(lambda **_: next(tokens), client=client)
    await fetcher.fetch_with_auth("https://api.example.com/x")
    await fetcher.fetch_with_auth("https://api.example.com/x")
    assert [r.headers["authorization"] for r in recorder.requests] == ["Bearer one", "Bearer two"]


@pytest.mark.parametrize("bad", [None, "", 123, b"bytes", {"token": "x"}, ["x"]])
@pytest.mark.parametrize("factory_type", [TokenFactory, AsyncTokenFactory])
async def test_bad_factory_return_is_a_type_error(
    client: Any, recorder: Recorder, bad: Any, factory_type: type[TokenFactory]
) -> None:
    fetcher = Fetcher(factory_type(bad), client=client)
    with pytest.raises(TypeError):
        await fetcher.fetch_with_auth("https://api.example.com/x")
    assert recorder.requests == []


async def test_factory_errors_propagate_and_send_nothing(client: Any, recorder: Recorder) -> None:
    def failing(**_: Any) -> str:
        raise AccessTokenError(AccessTokenError.FAILED_TO_REFRESH_TOKEN, "failed")

    fetcher = Fetcher(failing, client=client)
    with pytest.raises(AccessTokenError):
        await fetcher.fetch_with_auth("https://api.example.com/x")
    assert recorder.requests == []


# --------------------------------------------------------------------------------------
# Client ownership
# --------------------------------------------------------------------------------------


async def test_a_passed_client_is_not_closed(client: Any, recorder: Recorder) -> None:
    async with Fetcher(lambda **_: "t", client=client) as fetcher:
        await fetcher.fetch_with_auth("https://api.example.com/x")
    assert not client.is_closed
    await fetcher.aclose()
    assert not client.is_closed
    await client.get("https://api.example.com/still-usable")
    assert len(recorder.requests) == 2


async def test_the_fetcher_closes_its_own_client(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder
) -> None:
    created: list[httpx.AsyncClient] = []
    real_client = httpx.AsyncClient

    def make(**kwargs: Any) -> httpx.AsyncClient:
        made = real_client(transport=httpx.MockTransport(recorder), **kwargs)
        created.append(made)
        return made

    monkeypatch.setattr(httpx, "AsyncClient", make)
    async with Fetcher(lambda **_: "t", timeout=3.0) as fetcher:
        await fetcher.fetch_with_auth("https://api.example.com/x")
        await fetcher.fetch_with_auth("https://api.example.com/y")
    assert len(created) == 1
    assert created[0].is_closed
    assert created[0].follow_redirects is False
    assert created[0].timeout.read == 3.0
    assert len(recorder.requests) == 2


async def test_aclose_without_any_request_is_harmless() -> None:
    fetcher = Fetcher(lambda **_: "t")
    await fetcher.aclose()
    await fetcher.aclose()


# --------------------------------------------------------------------------------------
# create_fetcher
# --------------------------------------------------------------------------------------


def make_auth0(**options: Any) -> Auth0Client:
    return Auth0Client(
        domain="t.example.com",
        client_id="c",
        client_secret="s",
        secret="x" * 40,
        app_base_url="https://app.example.com",
        **options,
    )


def anonymous_scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "path": "/",
        "query_string": b"",
        "headers": [(b"host", b"app.example.com")],
    }


async def test_create_fetcher_with_a_custom_factory(client: Any, recorder: Recorder) -> None:
    auth0 = make_auth0(http_timeout=7)
    factory = TokenFactory("custom")
    fetcher = await auth0.create_fetcher(
        base_url="https://api.example.com", get_access_token=factory, client=client
    )
    await fetcher.fetch_with_auth("/x", audience="https://aud")
    assert factory.calls == [{"audience": "https://aud"}]
    assert recorder.last.headers["authorization"] == "Bearer custom"
    assert str(recorder.last.url) == "https://api.example.com/x"


async def test_create_fetcher_without_a_session_is_missing_session() -> None:
    auth0 = make_auth0()
    with pytest.raises(AccessTokenError) as info:
        await auth0.create_fetcher(anonymous_scope())
    assert info.value.code == AccessTokenError.MISSING_SESSION


async def test_create_fetcher_refuses_dpop_it_cannot_do() -> None:
    auth0 = make_auth0()
    with pytest.raises(InvalidConfigurationError):
        await auth0.create_fetcher(anonymous_scope(), use_dpop=True, get_access_token=lambda: "t")
