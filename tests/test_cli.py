"""The ``auth0-web`` command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from auth0_web._cli import main, mask_tokens
from auth0_web._http import parse_cookie_header
from auth0_web.testing import generate_session_cookie

SECRET = "cli-secret-0123456789abcdef0123456789abcdef"
AUTH0_ENV = (
    "AUTH0_DOMAIN",
    "AUTH0_CLIENT_ID",
    "AUTH0_CLIENT_SECRET",
    "AUTH0_SECRET",
    "APP_BASE_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AUTH0_ENV:
        monkeypatch.delenv(name, raising=False)


def test_secret_prints_64_hex_characters_each_time_new(capsys) -> None:
    assert main(["secret"]) == 0
    first = capsys.readouterr().out.strip()
    main(["secret"])
    second = capsys.readouterr().out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", first) and first != second


def test_help_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "auth0_web._cli", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for command in ("secret", "dev-provider", "demo", "decode-session", "check"):
        assert command in result.stdout


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def test_decode_session_masks_tokens(capsys) -> None:
    cookies = generate_session_cookie(
        {"sub": "auth0|cli", "name": "Cli"},
        secret=SECRET,
        access_token="A" * 40,
        refresh_token="R" * 40,
        id_token="I" * 40,
    )
    assert main(["decode-session", "--secret", SECRET, cookie_header(cookies)]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["user"] == {"sub": "auth0|cli", "name": "Cli"}
    for field in ("accessToken", "refreshToken", "idToken"):
        assert payload["tokenSet"][field].endswith("…(40 chars)")
    assert "A" * 12 not in captured.out and "R" * 12 not in captured.out
    assert "expires in" in captured.err


def test_decode_session_joins_chunks_and_reads_stdin(capsys, monkeypatch) -> None:
    big = {"sub": "auth0|big", "groups": [f"group-{i:05d}" for i in range(600)]}
    cookies = generate_session_cookie(big, secret=SECRET)
    assert len(cookies) > 1
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("Cookie: " + cookie_header(cookies)))
    monkeypatch.setenv("AUTH0_SECRET", SECRET)
    assert main(["decode-session"]) == 0
    assert json.loads(capsys.readouterr().out)["user"] == big


def test_decode_session_reports_an_expired_cookie(capsys) -> None:
    cookies = generate_session_cookie({"sub": "x"}, secret=SECRET, max_age=1)
    time.sleep(1.1)
    value = parse_cookie_header(cookie_header(cookies))["__session"]
    assert main(["decode-session", "--secret", SECRET, value]) == 0
    assert "EXPIRED" in capsys.readouterr().err


def test_decode_session_with_the_wrong_secret_fails_clearly(capsys) -> None:
    cookies = generate_session_cookie({"sub": "x"}, secret=SECRET)
    assert main(["decode-session", "--secret", "z" * 40, cookie_header(cookies)]) == 1
    captured = capsys.readouterr()
    assert "not a session cookie made with that secret" in captured.err
    assert captured.out == ""


def test_decode_session_needs_a_secret(capsys) -> None:
    assert main(["decode-session", "abc"]) == 2
    assert "AUTH0_SECRET" in capsys.readouterr().err


def test_mask_tokens_leaves_other_fields() -> None:
    data = {
        "tokenSet": {"accessToken": "short", "scope": "openid"},
        "accessTokens": [{"accessToken": "x" * 30, "audience": "https://api"}],
    }
    masked = mask_tokens(data)
    assert masked["tokenSet"] == {"accessToken": "***", "scope": "openid"}
    assert masked["accessTokens"][0]["audience"] == "https://api"
    assert "x" * 10 not in json.dumps(masked)


def test_check_names_every_missing_variable(capsys) -> None:
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    for name in ("AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET", "AUTH0_SECRET"):
        assert name in out


def test_check_reaches_discovery(capsys, monkeypatch, scripted_op) -> None:
    monkeypatch.setenv("AUTH0_DOMAIN", scripted_op.issuer.rstrip("/"))
    monkeypatch.setenv("AUTH0_CLIENT_ID", "attack-client")
    monkeypatch.setenv("AUTH0_CLIENT_SECRET", "attack-secret-0123456789abcdef")
    monkeypatch.setenv("AUTH0_SECRET", SECRET)
    assert main(["check", "--allow-insecure"]) == 0
    out = capsys.readouterr().out
    assert f"discovery: issuer {scripted_op.issuer}" in out
    assert "attack-secret" not in out and SECRET not in out

    scripted_op.scenario.status["/.well-known/openid-configuration"] = 500
    assert main(["check", "--allow-insecure"]) == 1
    out = capsys.readouterr().out
    assert "✗ discovery" in out and "Fix:" in out


def test_check_without_insecure_flag_explains_localhost(capsys, monkeypatch) -> None:
    monkeypatch.setenv("AUTH0_DOMAIN", "http://localhost:4000")
    monkeypatch.setenv("AUTH0_CLIENT_ID", "c")
    monkeypatch.setenv("AUTH0_CLIENT_SECRET", "s")
    monkeypatch.setenv("AUTH0_SECRET", SECRET)
    assert main(["check"]) == 1
    assert "allow_insecure_requests" in capsys.readouterr().out
