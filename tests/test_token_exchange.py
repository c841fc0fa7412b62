"""Custom Token Exchange (RFC 8693): input validation, the request, the answer."""

from __future__ import annotations

import json
import time

import pytest

from auth0_web import CustomTokenExchangeError
from auth0_web._token_exchange import validate_exchange_input
from tests.support.apps import make_client
from tests.support.scripted_op import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

pytestmark = pytest.mark.anyio
TYPE = "urn:acme:legacy-token"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"subject_token": ""}, "missing_subject_token"),
        ({"subject_token": "   "}, "missing_subject_token"),
        ({"subject_token_type": "urn:a:b"}, "invalid_subject_token_type"),  # < 10 chars
        ({"subject_token_type": "urn:acme:" + "x" * 100}, "invalid_subject_token_type"),
        ({"subject_token_type": "not a uri at all"}, "invalid_subject_token_type"),
        ({"subject_token_type": "ftp://acme.example/t"}, "invalid_subject_token_type"),
        (
            {"subject_token_type": "urn:ietf:params:oauth:token-type:access_token"},
            "invalid_subject_token_type",
        ),
        ({"subject_token_type": "urn:auth0:params:x-token"}, "invalid_subject_token_type"),
        ({"subject_token_type": "URN:IETF:params:oauth:x"}, "invalid_subject_token_type"),
        ({"subject_token_type": "https://auth0.com/token-x"}, "invalid_subject_token_type"),
        ({"subject_token_type": "https://t.okta.com/token"}, "invalid_subject_token_type"),
        ({"actor_token": "a"}, "missing_actor_token_type"),
        ({"actor_token": "a", "actor_token_type": "nope"}, "invalid_actor_token_type"),
    ],
)
def test_invalid_input_is_refused_before_any_call(kwargs: dict, code: str) -> None:
    args = {
        "subject_token": "legacy-123",
        "subject_token_type": TYPE,
        "actor_token": None,
        "actor_token_type": None,
    }
    args.update(kwargs)
    with pytest.raises(CustomTokenExchangeError) as info:
        validate_exchange_input(**args)
    assert info.value.code == code
    assert "legacy-123" not in str(info.value)


@pytest.mark.parametrize(
    "value", [TYPE, "https://acme.example/tokens/legacy", "urn:acme-corp:token:v2"]
)
def test_own_uris_are_accepted(value: str) -> None:
    validate_exchange_input("t", value, None, None)


def client_for(op, **options):
    return make_client(
        op, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET, **options
    )


def answer(body: dict, status: int = 200):
    return lambda _record: (status, {"content-type": "application/json"}, json.dumps(body).encode())


async def test_exchange_sends_the_grant_and_returns_verified_tokens(scripted_op) -> None:
    now = int(time.time())
    id_token = scripted_op.mint_id_token(
        {
            "iss": scripted_op.issuer,
            "aud": DEFAULT_CLIENT_ID,
            "sub": "auth0|legacy-user",
            "iat": now,
            "exp": now + 600,
            "act": {"sub": "service-a"},
        }
    )
    scripted_op.scenario.responses["/oauth/token"] = answer(
        {
            "access_token": "at-x",
            "token_type": "Bearer",
            "expires_in": 600,
            "id_token": id_token,
            "refresh_token": "rt-x",
            "scope": "openid profile",
        }
    )
    auth0 = client_for(scripted_op)
    result = await auth0.custom_token_exchange(
        subject_token="legacy-123",
        subject_token_type=TYPE,
        audience="https://api.example.com",
        scope="read:x",
        organization="org_1",
        actor_token="actor-1",
        actor_token_type="urn:acme:service-token",
        additional_parameters={
            "device": "kiosk-7",
            "grant_type": "password",  # reserved: ignored
            "subject_token": "other",  # reserved: ignored
            "skip": None,
        },
    )
    [call] = scripted_op.calls("/oauth/token")
    assert call.form["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert call.form["subject_token"] == "legacy-123"
    assert call.form["subject_token_type"] == TYPE
    assert call.form["scope"].split() == ["openid", "profile", "email", "offline_access", "read:x"]
    assert call.form["audience"] == "https://api.example.com"
    assert call.form["organization"] == "org_1"
    assert call.form["actor_token"] == "actor-1"
    assert call.form["actor_token_type"] == "urn:acme:service-token"
    assert call.form["device"] == "kiosk-7"
    assert "skip" not in call.form
    assert call.form["client_secret"] == DEFAULT_CLIENT_SECRET
    assert result.access_token == "at-x" and result.refresh_token == "rt-x"
    assert result.act == {"sub": "service-a"}
    assert "at-x" not in repr(result)


async def test_an_id_token_that_fails_validation_fails_the_exchange(scripted_op) -> None:
    now = int(time.time())
    forged = scripted_op.mint_id_token(
        {
            "iss": "https://evil.example/",
            "aud": DEFAULT_CLIENT_ID,
            "sub": "x",
            "iat": now,
            "exp": now + 600,
        }
    )
    scripted_op.scenario.responses["/oauth/token"] = answer(
        {"access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": forged}
    )
    with pytest.raises(CustomTokenExchangeError) as info:
        await client_for(scripted_op).custom_token_exchange(
            subject_token="t", subject_token_type=TYPE
        )
    assert info.value.code == "exchange_failed"


@pytest.mark.parametrize(
    "response",
    [
        answer({"error": "invalid_request", "error_description": "<b>nope</b>"}, 400),
        answer({"error": "access_denied"}, 403),
        answer({"token_type": "Bearer"}),  # no access_token
        lambda _r: (200, {"content-type": "text/html"}, b"<html>"),
        lambda _r: (500, {}, b"boom"),
    ],
)
async def test_refusals_and_bad_answers_are_exchange_failed(scripted_op, response) -> None:
    scripted_op.scenario.responses["/oauth/token"] = response
    with pytest.raises(CustomTokenExchangeError) as info:
        await client_for(scripted_op).custom_token_exchange(
            subject_token="secret-subject", subject_token_type=TYPE
        )
    assert info.value.code == "exchange_failed"
    assert "secret-subject" not in str(info.value) and "<b>" not in str(info.value)


async def test_invalid_input_makes_no_call(scripted_op) -> None:
    with pytest.raises(CustomTokenExchangeError):
        await client_for(scripted_op).custom_token_exchange(
            subject_token="t", subject_token_type="urn:ietf:params:oauth:token-type:id_token"
        )
    assert scripted_op.count("/oauth/token") == 0
    assert scripted_op.count("/.well-known/openid-configuration") == 0
