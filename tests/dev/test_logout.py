"""RP-Initiated Logout (``/oidc/logout``) and Auth0's ``/v2/logout``."""

from __future__ import annotations

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from auth0_web.dev import DevProvider

from .helpers import (
    CLIENT_ID,
    LOGOUT_URL,
    LOOPBACK_ID,
    OTHER_ID,
    jwt_parts,
    login,
    new_flow,
    query_of,
    tokens_for,
)

pytestmark = pytest.mark.anyio


async def signed_in(browser: httpx.AsyncClient) -> bool:
    """Does the provider still know this browser (no login page for the next request)?"""
    response = await browser.get("/authorize", params=new_flow().params)
    return response.status_code == 302


def assert_logout_refused(response: httpx.Response) -> None:
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "Invalid logout request" in response.text


def session_cookie_cleared(response: httpx.Response) -> bool:
    return any(
        h.startswith("auth0_web_dev_session=") and "Max-Age=0" in h
        for h in response.headers.get_list("set-cookie")
    )


# -- /oidc/logout --------------------------------------------------------------------------


async def test_oidc_logout_redirects_with_state_and_ends_the_session(
    browser: httpx.AsyncClient,
) -> None:
    await login(browser, new_flow())
    assert await signed_in(browser)
    response = await browser.get(
        "/oidc/logout",
        params={"client_id": CLIENT_ID, "post_logout_redirect_uri": LOGOUT_URL, "state": "s1"},
    )
    assert response.status_code == 302
    assert response.headers["location"] == LOGOUT_URL + "?state=s1"
    assert session_cookie_cleared(response)
    assert not await signed_in(browser)


async def test_oidc_logout_ends_the_session_server_side(
    browser: httpx.AsyncClient, provider: DevProvider
) -> None:
    """The session is gone from the provider, not just from this browser's cookie jar."""
    await login(browser, new_flow())
    cookie = browser.cookies.get("auth0_web_dev_session")
    assert cookie
    await browser.get("/oidc/logout")
    async with httpx.AsyncClient(base_url=provider.domain) as replay:
        replay.cookies.set("auth0_web_dev_session", cookie)
        assert not await signed_in(replay)


async def test_oidc_logout_with_id_token_hint(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    tokens = await tokens_for(browser, backchannel)
    hint = tokens["id_token"]
    # the hint's audience names the client
    response = await browser.get(
        "/oidc/logout", params={"id_token_hint": hint, "post_logout_redirect_uri": LOGOUT_URL}
    )
    assert response.status_code == 302 and response.headers["location"] == LOGOUT_URL
    # ... and must agree with client_id when both are sent (LOGOUT_URL is a loopback URL,
    # which the loopback client would accept on its own)
    response = await browser.get(
        "/oidc/logout",
        params={
            "id_token_hint": hint,
            "client_id": LOOPBACK_ID,
            "post_logout_redirect_uri": LOGOUT_URL,
        },
    )
    assert_logout_refused(response)
    assert "does not match" in response.text


async def test_oidc_logout_refuses_foreign_hints(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    tokens = await tokens_for(browser, backchannel)
    for hint in (tokens["access_token"], "not.a.jwt", tokens["id_token"][:-4] + "AAAA"):
        response = await browser.get(
            "/oidc/logout",
            params={"id_token_hint": hint, "post_logout_redirect_uri": LOGOUT_URL},
        )
        assert_logout_refused(response)
    assert await signed_in(browser)  # a refused logout ends nothing


async def test_oidc_logout_refuses_hints_with_wrong_issuer_or_type(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient, signing_key: RSAKey
) -> None:
    """Signed with the provider's own key, yet not an ID token this provider issued."""
    tokens = await tokens_for(browser, backchannel)
    header, claims = jwt_parts(tokens["id_token"])
    params = {"post_logout_redirect_uri": LOGOUT_URL}

    control = jwt.encode(header, claims, signing_key)
    response = await browser.get("/oidc/logout", params={**params, "id_token_hint": control})
    assert response.status_code == 302
    await login(browser, new_flow())

    other_issuer = jwt.encode(header, {**claims, "iss": "http://localhost:1/"}, signing_key)
    as_access_token = jwt.encode({**header, "typ": "at+jwt"}, claims, signing_key)
    for hint in (other_issuer, as_access_token):
        response = await browser.get("/oidc/logout", params={**params, "id_token_hint": hint})
        assert_logout_refused(response)
    assert await signed_in(browser)


async def test_oidc_logout_refuses_unregistered_redirects(browser: httpx.AsyncClient) -> None:
    await login(browser, new_flow())
    for params in (
        {"client_id": CLIENT_ID, "post_logout_redirect_uri": "https://evil.example/"},
        {"client_id": CLIENT_ID, "post_logout_redirect_uri": LOGOUT_URL + "extra"},
        {"client_id": OTHER_ID, "post_logout_redirect_uri": LOGOUT_URL},
        {"client_id": "nobody", "post_logout_redirect_uri": LOGOUT_URL},
        {"post_logout_redirect_uri": LOGOUT_URL},  # no client to check it against
    ):
        assert_logout_refused(await browser.get("/oidc/logout", params=params))
    assert await signed_in(browser)


async def test_oidc_logout_without_redirect_shows_a_page(browser: httpx.AsyncClient) -> None:
    await login(browser, new_flow())
    response = await browser.get("/oidc/logout", params={"client_id": CLIENT_ID})
    assert response.status_code == 200
    assert "You are signed out" in response.text
    assert session_cookie_cleared(response)
    assert not await signed_in(browser)


async def test_oidc_logout_accepts_post_and_loopback(browser: httpx.AsyncClient) -> None:
    await login(browser, new_flow())
    uri = "http://localhost:4321/after-logout"
    response = await browser.post(
        "/oidc/logout", data={"client_id": LOOPBACK_ID, "post_logout_redirect_uri": uri}
    )
    assert response.status_code == 302 and response.headers["location"] == uri
    assert not await signed_in(browser)


# -- /v2/logout ----------------------------------------------------------------------------


async def test_v2_logout_redirects_to_return_to(browser: httpx.AsyncClient) -> None:
    await login(browser, new_flow())
    response = await browser.get(
        "/v2/logout", params={"client_id": CLIENT_ID, "returnTo": LOGOUT_URL, "federated": ""}
    )
    assert response.status_code == 302
    assert response.headers["location"] == LOGOUT_URL
    assert session_cookie_cleared(response)
    assert not await signed_in(browser)


async def test_v2_logout_refuses_return_to_not_allowed(browser: httpx.AsyncClient) -> None:
    await login(browser, new_flow())
    for params in (
        {"client_id": CLIENT_ID, "returnTo": "https://evil.example/"},
        {"client_id": OTHER_ID, "returnTo": LOGOUT_URL},
        {"client_id": "nobody", "returnTo": LOGOUT_URL},
        {"returnTo": LOGOUT_URL},
    ):
        assert_logout_refused(await browser.get("/v2/logout", params=params))
    assert await signed_in(browser)


async def test_v2_logout_without_return_to_shows_a_page(browser: httpx.AsyncClient) -> None:
    await login(browser, new_flow())
    response = await browser.get("/v2/logout", params={"client_id": CLIENT_ID})
    assert response.status_code == 200 and "You are signed out" in response.text
    assert not await signed_in(browser)


async def test_logout_state_is_kept_out_of_the_page(browser: httpx.AsyncClient) -> None:
    response = await browser.get(
        "/oidc/logout",
        params={
            "client_id": CLIENT_ID,
            "post_logout_redirect_uri": LOGOUT_URL,
            "state": "a b&c",
        },
    )
    assert query_of(response.headers["location"]) == {"state": "a b&c"}
