"""Group C, RED-11: the ``returnTo`` of ``/auth/connect`` gets the login's redirect rules.

Every unsafe value of RED-01 to RED-04 (and RED-02's slash runs and dot segments) is sent
to ``/auth/connect?connection=github&returnTo=...`` by a logged-in user; the scripted OP
plays the My Account API (``/connect`` and ``/complete``). After the connect callback the
browser must land on the app's own origin, judged as a browser reads the ``Location``.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.support.scripted_op import ScriptedOP

from .conftest import Harness
from .helpers import (
    APP_ORIGIN,
    TXN_PREFIX,
    assert_no_session_written,
    assert_safe_redirect,
    assert_txn_deleted,
    decrypt,
    txn_set_cookies,
)
from .test_ext_connect import ACCOUNT, COMPLETE, CONNECT, answer, session_of, setup, started
from .test_red import CROSS_ORIGIN, DANGEROUS_SCHEMES, DOT_SEGMENT_PAYLOADS, SAME_ORIGIN_ODDITIES

pytestmark = pytest.mark.anyio

DEFAULT = APP_ORIGIN + "/"

#: RED-02: same-origin prefixes whose path would turn scheme-relative if mishandled.
SLASH_RUNS = [
    APP_ORIGIN + "///evil.example",
    APP_ORIGIN + "////evil.example",
    APP_ORIGIN + "//evil.example",
    APP_ORIGIN + "/\\evil.example",
    APP_ORIGIN + "\\\\evil.example",
    "/\\/evil.example",
    *DOT_SEGMENT_PAYLOADS,
]


async def connect_with_return_to(h: Harness, op: ScriptedOP, return_to: str) -> tuple[str, str]:
    """Start a connect flow with ``returnTo``, finish it; ``(stored returnTo, Location)``."""
    op.scenario.responses[CONNECT] = answer(started(op))
    op.scenario.responses[COMPLETE] = answer(ACCOUNT)
    s = setup(h, op, session_of(op))
    start = await s.browser.get(
        "/auth/connect?" + urlencode({"connection": "github", "returnTo": return_to})
    )
    assert start.status_code == 307, (start.status_code, start.text)
    [(name, value, _)] = txn_set_cookies(start)
    state = op.last(CONNECT).json()["state"]
    assert name == TXN_PREFIX + state
    txn = decrypt(value)
    assert txn is not None and txn["responseType"] == "connect_code"
    stored = txn["returnTo"]
    done = await s.browser.get(f"/auth/callback?state={state}&connect_code=cc1")
    assert done.status_code == 307, (done.status_code, done.text)
    assert_txn_deleted(done, state)
    assert_no_session_written(done)  # a valid My Account token: nothing to refresh or store
    assert len(op.calls(COMPLETE)) == 1
    return stored, done.headers["location"]


def assert_stored_path(stored: str) -> None:
    """The transaction keeps a path with exactly one leading ``/`` (never a URL)."""
    assert stored.startswith("/") and not stored.startswith(("//", "/\\")), stored
    assert "\\" not in stored and not any(ord(c) < 0x20 for c in stored), stored


@pytest.mark.parametrize("value", CROSS_ORIGIN)
async def test_red11_cross_origin_return_to_falls_back(
    h: Harness, op: ScriptedOP, value: str
) -> None:
    """RED-11 (RED-01 payloads): a cross-origin ``returnTo`` ends on the app's default page."""
    stored, location = await connect_with_return_to(h, op, value)
    assert_stored_path(stored)
    assert_safe_redirect(location)
    assert location == DEFAULT


@pytest.mark.parametrize("value", SLASH_RUNS)
async def test_red11_slash_runs_and_dot_segments_stay_on_the_app(
    h: Harness, op: ScriptedOP, value: str
) -> None:
    """RED-11 (RED-02 payloads): runs of ``/`` and ``\\`` and dot segments never make the
    final ``Location`` scheme-relative."""
    stored, location = await connect_with_return_to(h, op, value)
    assert_stored_path(stored)
    url = assert_safe_redirect(location)
    assert url.host == "127.0.0.1:3000"
    assert url.pathname in ("/", "/evil.example"), url.pathname


@pytest.mark.parametrize("value", DANGEROUS_SCHEMES)
async def test_red11_dangerous_schemes_fall_back(h: Harness, op: ScriptedOP, value: str) -> None:
    """RED-11 (RED-04 payloads): script, data, file and blob URLs never reach ``Location``."""
    stored, location = await connect_with_return_to(h, op, value)
    assert stored == "/"
    assert location == DEFAULT
    for fragment in ("script", "alert", "data:", "file:", "vbscript", "blob:"):
        assert fragment not in location.lower()


@pytest.mark.parametrize("value", SAME_ORIGIN_ODDITIES)
async def test_red11_same_origin_oddities_are_safe(h: Harness, op: ScriptedOP, value: str) -> None:
    """RED-11 (RED-01 same-origin oddities): whatever is kept is a path on the app."""
    stored, location = await connect_with_return_to(h, op, value)
    assert_stored_path(stored)
    assert_safe_redirect(location)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "/settings/accounts?tab=linked#github",
            APP_ORIGIN + "/settings/accounts?tab=linked#github",
        ),
        (APP_ORIGIN + "/settings", APP_ORIGIN + "/settings"),
        ("/" + "a" * 3000, DEFAULT),  # over the 2048-byte cap: the default, not an error
    ],
)
async def test_red11_control_same_origin_return_to_is_kept(
    h: Harness, op: ScriptedOP, value: str, expected: str
) -> None:
    """RED-11 control: a same-origin ``returnTo`` is honoured, so the cases above are real."""
    _, location = await connect_with_return_to(h, op, value)
    assert location == expected
    assert_safe_redirect(location)
