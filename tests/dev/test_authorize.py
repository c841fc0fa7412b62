"""The authorization endpoint and the login page, against a provider served by uvicorn."""

from __future__ import annotations

import httpx
import pytest

from auth0_web.dev import DevClient, DevProvider, DevUser

from .helpers import (
    CLIENT_ID,
    LOOPBACK_ID,
    OTHER_REDIRECT,
    REDIRECT_URI,
    Clock,
    login,
    new_flow,
    parse_page,
    query_of,
    submit,
    without_query,
)

pytestmark = pytest.mark.anyio


def assert_error_page(response: httpx.Response, title: str) -> None:
    """An HTML error shown to the user: 400, and never a redirect."""
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert title in response.text


def assert_error_redirect(
    response: httpx.Response, provider: DevProvider, error: str, state: str | None
) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert without_query(location) == REDIRECT_URI
    query = query_of(location)
    assert query["error"] == error
    assert query["error_description"]
    assert query["iss"] == provider.issuer
    assert query.get("state") == state
    assert "code" not in query
    return query


# -- client and redirect_uri: errors on a page, never a redirect -----------------------------


async def test_unknown_client_is_an_error_page(browser: httpx.AsyncClient) -> None:
    flow = new_flow(client_id="no-such-client")
    assert_error_page(await browser.get("/authorize", params=flow.params), "Unknown client")


async def test_missing_client_id_is_an_error_page(browser: httpx.AsyncClient) -> None:
    flow = new_flow(client_id=None)
    assert_error_page(await browser.get("/authorize", params=flow.params), "Invalid request")


async def test_unregistered_redirect_uri_is_an_error_page(browser: httpx.AsyncClient) -> None:
    for uri in (
        "https://evil.example/callback",
        REDIRECT_URI + "/",  # exact match: no prefix matching
        REDIRECT_URI + "?x=1",
        REDIRECT_URI.replace("127.0.0.1", "localhost"),
        OTHER_REDIRECT,  # registered, but for another client
    ):
        response = await browser.get("/authorize", params=new_flow(redirect_uri=uri).params)
        assert_error_page(response, "Callback URL mismatch")
        assert uri.replace("&", "&amp;") in response.text  # shown (escaped) to help the developer


async def test_missing_redirect_uri_is_an_error_page(browser: httpx.AsyncClient) -> None:
    flow = new_flow(redirect_uri=None)
    assert_error_page(await browser.get("/authorize", params=flow.params), "Invalid request")


async def test_repeated_client_id_or_redirect_uri_is_an_error_page(
    browser: httpx.AsyncClient,
) -> None:
    for name in ("client_id", "redirect_uri"):
        flow = new_flow()
        params = [*flow.params.items(), (name, flow.params[name])]
        response = await browser.get("/authorize", params=params)
        assert_error_page(response, "Invalid request")
        assert "more than once" in response.text


async def test_loopback_client_accepts_any_loopback_port(
    browser: httpx.AsyncClient, provider: DevProvider
) -> None:
    for uri in (
        "http://127.0.0.1:41234/auth/callback",
        "http://localhost:8080/cb?tenant=a",
        "http://[::1]:9000/cb",
    ):
        flow = new_flow(client_id=LOOPBACK_ID, redirect_uri=uri)
        response = await browser.get("/authorize", params=flow.params)
        assert response.status_code == 200, (uri, response.text)
    for uri in (
        "https://127.0.0.1:41234/cb",  # not plain http
        "http://127.0.0.1.evil.example/cb",
        "http://localhost.evil.example:80/cb",
        "http://127.0.0.1:80@evil.example/cb",
        "http://evil.example#@127.0.0.1:80/cb",
        "http://127.0.0.1:80\\@evil.example/cb",
        "http://127.0.0.2:80/cb",
        "http://127.0.0.1:99999/cb",
        "http://127.0.0.1:5000/cb\r\nSet-Cookie: x=1",  # urlsplit drops CR/LF; we refuse them
        "http://127.0.0.1:5000/c b",
    ):
        flow = new_flow(client_id=LOOPBACK_ID, redirect_uri=uri)
        assert_error_page(await browser.get("/authorize", params=flow.params), "Callback URL")


# -- the rest: errors redirected to the client with state and iss --------------------------


async def test_missing_pkce_is_refused(browser: httpx.AsyncClient, provider: DevProvider) -> None:
    flow = new_flow(code_challenge=None, code_challenge_method=None)
    response = await browser.get("/authorize", params=flow.params)
    query = assert_error_redirect(response, provider, "invalid_request", flow.params["state"])
    assert "code_challenge" in query["error_description"]


async def test_plain_pkce_is_refused(browser: httpx.AsyncClient, provider: DevProvider) -> None:
    verifier = "v" * 43
    for method in ("plain", None):  # a missing method means plain (RFC 7636 section 4.3)
        flow = new_flow(code_challenge=verifier, code_challenge_method=method)
        response = await browser.get("/authorize", params=flow.params)
        query = assert_error_redirect(response, provider, "invalid_request", flow.params["state"])
        assert "S256" in query["error_description"]


async def test_malformed_s256_challenge_is_refused(
    browser: httpx.AsyncClient, provider: DevProvider
) -> None:
    flow = new_flow(code_challenge="too-short")
    response = await browser.get("/authorize", params=flow.params)
    assert_error_redirect(response, provider, "invalid_request", flow.params["state"])


async def test_scope_without_openid_is_refused(
    browser: httpx.AsyncClient, provider: DevProvider
) -> None:
    flow = new_flow(scope="profile email")
    response = await browser.get("/authorize", params=flow.params)
    assert_error_redirect(response, provider, "invalid_scope", flow.params["state"])


async def test_missing_scope_is_refused(browser: httpx.AsyncClient, provider: DevProvider) -> None:
    flow = new_flow(scope=None)
    response = await browser.get("/authorize", params=flow.params)
    assert_error_redirect(response, provider, "invalid_request", flow.params["state"])


async def test_response_type_must_be_code(
    browser: httpx.AsyncClient, provider: DevProvider
) -> None:
    flow = new_flow(response_type="id_token token")
    response = await browser.get("/authorize", params=flow.params)
    assert_error_redirect(response, provider, "unsupported_response_type", flow.params["state"])
    flow = new_flow(response_type=None)
    response = await browser.get("/authorize", params=flow.params)
    assert_error_redirect(response, provider, "invalid_request", flow.params["state"])


async def test_repeated_parameter_is_refused(
    browser: httpx.AsyncClient, provider: DevProvider
) -> None:
    flow = new_flow()
    params = [*flow.params.items(), ("scope", "openid")]
    response = await browser.get("/authorize", params=params)
    query = assert_error_redirect(response, provider, "invalid_request", flow.params["state"])
    assert "scope" in query["error_description"]


async def test_request_objects_and_other_response_modes_are_refused(
    browser: httpx.AsyncClient, provider: DevProvider
) -> None:
    for extra, error in (
        ({"request": "eyJ.e30."}, "request_not_supported"),
        ({"request_uri": "urn:x"}, "request_uri_not_supported"),
        ({"response_mode": "form_post"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "bogus"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
    ):
        flow = new_flow(**extra)
        response = await browser.get("/authorize", params=flow.params)
        assert_error_redirect(response, provider, error, flow.params["state"])


async def test_redirect_keeps_the_registered_query(signing_key: object) -> None:
    uri = "http://127.0.0.1:5000/cb?tenant=acme"
    client = DevClient("q-app", "q-secret", redirect_uris=[uri])
    with DevProvider(clients=[client], signing_key=signing_key) as provider:  # type: ignore[arg-type]
        async with httpx.AsyncClient(base_url=provider.domain) as browser:
            flow = new_flow(client_id="q-app", redirect_uri=uri, scope="email")
            response = await browser.get("/authorize", params=flow.params)
            assert response.status_code == 302
            location = response.headers["location"]
            assert location.startswith(uri + "&")
            assert query_of(location)["error"] == "invalid_scope"


# -- prompt, max_age and the provider session ------------------------------------------------


async def test_prompt_none_without_session_is_login_required(
    browser: httpx.AsyncClient, provider: DevProvider
) -> None:
    flow = new_flow(prompt="none")
    response = await browser.get("/authorize", params=flow.params)
    assert_error_redirect(response, provider, "login_required", flow.params["state"])


async def test_provider_session_skips_the_login_page(
    browser: httpx.AsyncClient, provider: DevProvider
) -> None:
    first = await login(browser, new_flow())
    cookie = next(h for h in first.headers.get_list("set-cookie") if "dev_session" in h)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie

    for prompt in (None, "none"):
        flow = new_flow(prompt=prompt)
        response = await browser.get("/authorize", params=flow.params)
        assert response.status_code == 302
        query = query_of(response.headers["location"])
        assert query["code"] and query["state"] == flow.params["state"]
        assert query["iss"] == provider.issuer

    # prompt=login and select_account always ask again.
    for prompt in ("login", "select_account"):
        response = await browser.get("/authorize", params=new_flow(prompt=prompt).params)
        assert response.status_code == 200
        assert parse_page(response.text).login_form("Bob Example")


async def test_max_age_forces_a_new_login(
    browser: httpx.AsyncClient, provider: DevProvider, clock: Clock
) -> None:
    await login(browser, new_flow())
    response = await browser.get("/authorize", params=new_flow(max_age="300").params)
    assert response.status_code == 302 and "code" in query_of(response.headers["location"])

    clock.advance(301)
    response = await browser.get("/authorize", params=new_flow(max_age="300").params)
    assert response.status_code == 200  # the login page again
    flow = new_flow(max_age="300", prompt="none")
    response = await browser.get("/authorize", params=flow.params)
    assert_error_redirect(response, provider, "login_required", flow.params["state"])
    response = await browser.get("/authorize", params=new_flow(max_age="0").params)
    assert response.status_code == 200


# -- the login page ------------------------------------------------------------------------


async def test_login_page_shape(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/authorize", params=new_flow().params)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    page = parse_page(response.text)
    assert page.title == "Sign in — auth0-web dev provider"
    assert "local development provider" in response.text
    logins = [f for f in page.forms if f.action == "/authorize/login"]
    assert len(logins) == 2
    alice = page.login_form("Alice Example")
    assert alice.method == "post"
    assert set(alice.fields) == {"interaction", "sub"}
    assert alice.fields["sub"] == "auth0|alice"
    assert "alice@example.com" in alice.button
    assert page.cancel_form.action == "/authorize/cancel"
    assert "<script" not in response.text


async def test_login_page_escapes_user_data(signing_key: object) -> None:
    evil = DevUser(
        sub='auth0|"><script>alert(1)</script>',
        name="<script>alert('name')</script>",
        email='"><img src=x onerror=alert(2)>@example.com',
    )
    provider = DevProvider(
        clients=[DevClient(CLIENT_ID, "s", redirect_uris=[REDIRECT_URI])],
        users=[evil],
        signing_key=signing_key,
    )  # type: ignore[arg-type]
    with provider:
        async with httpx.AsyncClient(base_url=provider.domain) as browser:
            response = await browser.get("/authorize", params=new_flow(login_hint="<b>").params)
            assert response.status_code == 200
            assert "<script" not in response.text and "<img" not in response.text
            assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in response.text
            form = parse_page(response.text).login_form("<script>alert('name')</script>")
            assert form.fields["sub"] == evil.sub  # round-trips through the escaping
            final = await submit(browser, form)
            assert final.status_code == 302 and "code" in query_of(final.headers["location"])


async def test_login_hint_preselects_a_user(browser: httpx.AsyncClient) -> None:
    for hint in ("bob@example.com", "auth0|bob"):
        response = await browser.get("/authorize", params=new_flow(login_hint=hint).params)
        page = parse_page(response.text)
        assert page.forms[0].fields["sub"] == "auth0|bob"
        assert "autofocus" in response.text.split("auth0|bob", 1)[1].split("</form>", 1)[0]
    response = await browser.get("/authorize", params=new_flow().params)
    assert parse_page(response.text).forms[0].fields["sub"] == "auth0|alice"


async def test_login_completes_with_code_state_and_iss(
    browser: httpx.AsyncClient, provider: DevProvider
) -> None:
    flow = new_flow()
    response = await login(browser, flow, "Bob Example")
    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    location = response.headers["location"]
    assert without_query(location) == REDIRECT_URI
    query = query_of(location)
    assert set(query) == {"code", "state", "iss"}
    assert query["state"] == flow.params["state"]
    assert query["iss"] == provider.issuer


async def test_interaction_is_single_use(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/authorize", params=new_flow().params)
    form = parse_page(page.text).login_form("Alice Example")
    assert (await submit(browser, form)).status_code == 302
    again = await submit(browser, form)
    assert_error_page(again, "Sign-in expired")


async def test_interaction_expires_after_ten_minutes(
    browser: httpx.AsyncClient, clock: Clock
) -> None:
    page = await browser.get("/authorize", params=new_flow().params)
    form = parse_page(page.text).login_form("Alice Example")
    clock.advance(601)
    assert_error_page(await submit(browser, form), "Sign-in expired")


async def test_interaction_is_bound_to_the_browser(
    browser: httpx.AsyncClient, provider: DevProvider
) -> None:
    """A login page answered from another browser (login CSRF) is refused."""
    page = await browser.get("/authorize", params=new_flow().params)
    form = parse_page(page.text).login_form("Alice Example")
    async with httpx.AsyncClient(base_url=provider.domain) as attacker:
        assert_error_page(await submit(attacker, form), "Sign-in refused")
    # still usable by the right browser
    assert (await submit(browser, form)).status_code == 302


async def test_unknown_user_is_refused(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/authorize", params=new_flow().params)
    form = parse_page(page.text).login_form("Alice Example")
    form.fields["sub"] = "auth0|mallory"
    assert_error_page(await submit(browser, form), "Unknown user")


async def test_cancel_redirects_access_denied(
    browser: httpx.AsyncClient, provider: DevProvider
) -> None:
    flow = new_flow()
    page = await browser.get("/authorize", params=flow.params)
    cancel = parse_page(page.text).cancel_form
    response = await submit(browser, cancel)
    assert_error_redirect(response, provider, "access_denied", flow.params["state"])
    # the interaction is spent
    login_form = parse_page(page.text).login_form("Alice Example")
    assert_error_page(await submit(browser, login_form), "Sign-in expired")


async def test_login_form_requires_form_encoding(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/authorize", params=new_flow().params)
    form = parse_page(page.text).login_form("Alice Example")
    response = await browser.post("/authorize/login", json=form.fields)
    assert_error_page(response, "Invalid request")
