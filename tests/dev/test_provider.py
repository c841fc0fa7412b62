"""Constructing and serving the provider; discovery, JWKS; use in-process without a server."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from auth0_web.dev import DEFAULT_USERS, DevClient, DevProvider, DevUser
from auth0_web.dev._store import BoundedStore

from .helpers import (
    CLIENT_ID,
    CLIENTS,
    ROLES,
    exchange,
    login_code,
    new_flow,
    public_key,
    userinfo,
)

# -- construction --------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com", "10.0.0.1"])
def test_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="allow_non_loopback"):
        DevProvider(clients=CLIENTS, host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST"])
def test_loopback_hosts_are_accepted(host: str, signing_key: RSAKey) -> None:
    DevProvider(clients=CLIENTS, host=host, signing_key=signing_key)


def test_non_loopback_host_with_explicit_opt_in(signing_key: RSAKey) -> None:
    provider = DevProvider(
        clients=CLIENTS, host="0.0.0.0", allow_non_loopback=True, signing_key=signing_key
    )
    assert "0.0.0.0" in repr(provider)


@pytest.mark.filterwarnings("ignore:Key size")
def test_invalid_options_are_refused(signing_key: RSAKey) -> None:
    for options in (
        {"clients": []},
        {"clients": CLIENTS * 2},
        {"users": []},
        {"users": [DEFAULT_USERS[0], DEFAULT_USERS[0]]},
        {"port": 70000},
        {"port": -1},
        {"access_token_ttl": 0},
        {"refresh_token_ttl": -5},
        {"signing_key": RSAKey.generate_key(1024)},
        {"signing_key": RSAKey.import_key(signing_key.as_dict(private=False))},
        {"signing_key": ECKey.generate_key("P-256")},
    ):
        options.setdefault("clients", CLIENTS)
        with pytest.raises(ValueError):
            DevProvider(**options)  # type: ignore[arg-type]


def test_clients_and_users_are_validated() -> None:
    with pytest.raises(ValueError, match="list of strings"):
        DevClient("a", "b", redirect_uris="http://127.0.0.1/cb")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fragment"):
        DevClient("a", "b", redirect_uris=["http://127.0.0.1/cb#x"])
    with pytest.raises(ValueError, match="absolute"):
        DevClient("a", "b", logout_urls=["/relative"])
    with pytest.raises(ValueError, match="not one of"):
        DevClient("a", "b", token_endpoint_auth_methods=["none"])
    with pytest.raises(ValueError):
        DevClient("", "b")
    with pytest.raises(ValueError, match="provider sets it"):
        DevUser(sub="u", name="U", claims={"iss": "x"})
    with pytest.raises(ValueError, match="DevUser field"):
        DevUser(sub="u", name="U", claims={"email": "x"})
    with pytest.raises(ValueError, match="JSON"):
        DevUser(sub="u", name="U", claims={"x": object()})
    assert "s3cr3t" not in repr(DevClient("a", "s3cr3t"))  # the secret stays out of logs


def test_user_claims_are_copied() -> None:
    roles: dict[str, Any] = {ROLES: ["admin"]}
    user = DevUser(sub="u", name="U", claims=roles)
    roles[ROLES].append("root")
    assert user.claims[ROLES] == ["admin"]
    with pytest.raises(TypeError):
        user.claims["x"] = 1  # type: ignore[index]
    assert hash(user)


def test_default_users() -> None:
    alice, bob = DEFAULT_USERS
    assert (alice.sub, alice.name, alice.claims[ROLES]) == (
        "auth0|alice",
        "Alice Example",
        ["admin"],
    )
    assert (bob.sub, bob.name) == ("auth0|bob", "Bob Example")


# -- serving -------------------------------------------------------------------------------


def test_port_zero_picks_a_free_port_known_after_start(signing_key: RSAKey) -> None:
    provider = DevProvider(clients=CLIENTS, signing_key=signing_key)
    with pytest.raises(RuntimeError, match="start"):
        _ = provider.issuer
    with provider:
        assert provider.port > 0
        assert provider.domain == f"http://localhost:{provider.port}"
        assert provider.issuer == provider.domain + "/"
        assert provider.url("/authorize") == provider.domain + "/authorize"
        with socket.create_connection(("127.0.0.1", provider.port), timeout=2):
            pass
        response = httpx.get(provider.url("/.well-known/openid-configuration"))
        assert response.json()["issuer"] == provider.issuer
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", provider.port), timeout=0.5).close()
    # restarting keeps the port, so the issuer stays the same
    port = provider.port
    with provider:
        assert provider.port == port
        assert httpx.get(provider.url("/.well-known/jwks.json")).status_code == 200


@pytest.mark.anyio
async def test_not_started_app_answers_503(signing_key: RSAKey) -> None:
    """With port 0 and no start() the issuer is unknown, so nothing can be answered."""
    provider = DevProvider(clients=CLIENTS, signing_key=signing_key)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=provider.app), base_url="http://localhost"
    ) as client:
        response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 503 and "start()" in response.text


# -- discovery -----------------------------------------------------------------------------


def test_discovery_document(provider: DevProvider) -> None:
    doc = httpx.get(provider.url("/.well-known/openid-configuration")).json()
    issuer = provider.issuer
    assert issuer.startswith("http://localhost:") and issuer.endswith("/")
    assert doc["issuer"] == issuer
    assert doc["authorization_endpoint"] == issuer + "authorize"
    assert doc["token_endpoint"] == issuer + "oauth/token"
    assert doc["userinfo_endpoint"] == issuer + "userinfo"
    assert doc["jwks_uri"] == issuer + ".well-known/jwks.json"
    assert doc["end_session_endpoint"] == issuer + "oidc/logout"
    assert doc["revocation_endpoint"] == issuer + "oauth/revoke"
    assert doc["response_types_supported"] == ["code"]
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert doc["subject_types_supported"] == ["public"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_post",
        "client_secret_basic",
    }
    assert {"openid", "profile", "email", "offline_access"} <= set(doc["scopes_supported"])
    assert {"sub", "name", "email", "email_verified", "sid"} <= set(doc["claims_supported"])
    assert doc["authorization_response_iss_parameter_supported"] is True


def test_jwks_publishes_the_public_key_only(provider: DevProvider, signing_key: RSAKey) -> None:
    jwks = httpx.get(provider.url("/.well-known/jwks.json")).json()
    (key,) = jwks["keys"]
    assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}
    assert key["kid"] == signing_key.thumbprint()  # RFC 7638
    assert (key["alg"], key["use"], key["kty"]) == ("RS256", "sig", "RSA")


def test_each_provider_has_its_own_key() -> None:
    a = DevProvider(clients=CLIENTS, port=1)
    b = DevProvider(clients=CLIENTS, port=1)
    assert a._state.key.kid != b._state.key.kid


# -- in-process ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_in_process_login_with_asgi_transport(signing_key: RSAKey) -> None:
    """No server: the app is driven through httpx.ASGITransport on a fixed port number."""
    provider = DevProvider(clients=CLIENTS, port=8765, signing_key=signing_key)
    transport = httpx.ASGITransport(app=provider.app)
    async with (
        httpx.AsyncClient(transport=transport, base_url=provider.domain) as browser,
        httpx.AsyncClient(transport=transport, base_url=provider.domain) as backchannel,
    ):
        doc = (await backchannel.get("/.well-known/openid-configuration")).json()
        assert doc["issuer"] == "http://localhost:8765/"
        flow = new_flow()
        code = await login_code(browser, flow, "Bob Example")
        tokens = (await exchange(backchannel, flow, code)).json()
        key = public_key((await backchannel.get("/.well-known/jwks.json")).json())
        claims = jwt.decode(tokens["id_token"], key, algorithms=["RS256"]).claims
        assert claims["sub"] == "auth0|bob" and claims["aud"] == CLIENT_ID
        assert claims["iss"] == "http://localhost:8765/"
        assert (await userinfo(backchannel, tokens["access_token"])).json()["sub"] == "auth0|bob"


# -- bounded memory ------------------------------------------------------------------------


def test_store_evicts_oldest_and_forgets_expired() -> None:
    now = [1000.0]
    store: BoundedStore[int] = BoundedStore(lambda: now[0], capacity=3)
    for i in range(5):
        store.put(f"k{i}", i, expires_at=2000)
    assert len(store) == 3
    assert store.get("k0") is None and store.get("k1") is None and store.get("k4") == 4
    store.put("short", 9, expires_at=1001)
    assert store.get("short") == 9
    now[0] = 1001
    assert store.get("short") is None
    assert store.pop("k4") == 4 and store.get("k4") is None
    now[0] = 3000
    store.put("fresh", 1, expires_at=4000)
    assert len(store) == 1  # expired entries were pruned on write


def test_serve_runs_in_the_foreground_until_interrupted() -> None:
    script = (
        "from auth0_web.dev import DevClient, DevProvider\n"
        "DevProvider(clients=[DevClient('a', 'b')]).serve()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"issuer (http://localhost:\d+/)", line)
        assert match, line
        doc = httpx.get(match.group(1) + ".well-known/openid-configuration").json()
        assert doc["issuer"] == match.group(1)
        process.send_signal(signal.SIGINT)  # Ctrl+C
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None and "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
