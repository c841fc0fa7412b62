"""The demo, driven by a person's browser: real headless Chromium through Playwright.

``make demo`` runs ``examples/demo.py``; this starts the same file as a subprocess (with
the development identity provider, no network) and clicks through login, the profile,
the protected API and logout. A screenshot of the logged-in page is saved in the test's
tmp dir.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.apps import free_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH0_", "APP_BASE_URL"))}
    env["PORT"] = str(port)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    "the demo exited:\n" + (process.stdout.read() if process.stdout else "")
                )
            try:
                if httpx.get(url + "/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the demo did not start within 30 s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian chromium is required (make test installs it)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_log_in_see_profile_call_api_and_log_out(demo_url: str, page: Page, tmp_path: Path) -> None:
    page.goto(demo_url + "/")
    assert "You are not logged in." in page.content()

    page.get_by_role("link", name="Log in").click()
    # The development provider's sign-in page lists the test users.
    page.wait_for_url("http://localhost:*/**")
    assert "Sign in" in page.title()
    page.get_by_role("button", name="Continue as Alice Example").click()

    page.wait_for_url(demo_url + "/")
    body = page.locator("body").inner_text()
    assert "Logged in as Alice Example." in body
    assert "alice@example.com" in body
    assert "Access token expires in" in body and "with a refresh token" in body
    screenshot = tmp_path / "demo-logged-in.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 1000
    print(f"screenshot: {screenshot}")

    page.get_by_role("link", name="Call the protected API").click()
    assert json.loads(page.locator("body").inner_text()) == {
        "message": "Hello auth0|alice, this API is protected."
    }
    page.go_back()

    page.get_by_role("link", name="Log out").click()
    page.wait_for_url(demo_url + "/")
    assert "You are not logged in." in page.content()
    page.goto(demo_url + "/api/private")
    assert "not authenticated" in page.locator("body").inner_text().lower()


def test_logging_in_again_shows_the_chosen_user(demo_url: str, page: Page) -> None:
    page.goto(demo_url + "/auth/login")
    page.get_by_role("button", name="Continue as Bob Example").click()
    page.wait_for_url(demo_url + "/")
    assert "Logged in as Bob Example." in page.locator("body").inner_text()
