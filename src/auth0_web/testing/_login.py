"""A real login through the development identity provider, without a browser."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urljoin

if TYPE_CHECKING:
    import httpx

__all__ = ["dev_login"]


class _LoginForms(HTMLParser):
    """Collects the hidden fields of each user's sign-in form on the provider's page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form" and attributes.get("method", "").lower() == "post":
            self._current = {}
            self.forms.append((attributes.get("action", ""), self._current))
        elif tag == "input" and self._current is not None and attributes.get("name"):
            self._current[attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


async def dev_login(
    app_client: httpx.AsyncClient,
    sub: str,
    *,
    provider_client: httpx.AsyncClient | None = None,
    login_path: str = "/auth/login",
    return_to: str | None = None,
) -> httpx.Response:
    """Log ``app_client`` in as the dev provider's user ``sub``; the callback's response.

    ``app_client`` talks to your app (in-process or over HTTP); the provider is reached
    over HTTP with ``provider_client`` (a new one by default, i.e. a fresh provider session).
    """
    import httpx

    params = {"returnTo": return_to} if return_to else None
    start = await app_client.get(login_path, params=params, follow_redirects=False)
    if start.status_code != 307:
        raise AssertionError(f"login did not redirect to the provider ({start.status_code})")
    own = provider_client is None
    provider = provider_client or httpx.AsyncClient()
    try:
        page = await provider.get(start.headers["location"], follow_redirects=False)
        if page.status_code == 302:  # a provider session already exists
            callback = page.headers["location"]
        else:
            parser = _LoginForms()
            parser.feed(page.text)
            forms = [
                (action, fields) for action, fields in parser.forms if fields.get("sub") == sub
            ]
            if not forms:
                raise AssertionError(f"the provider's sign-in page has no user {sub!r}")
            action, fields = forms[0]
            done = await provider.post(
                urljoin(str(page.url), action), data=fields, follow_redirects=False
            )
            if done.status_code not in (302, 303):
                raise AssertionError(f"the provider refused the login ({done.status_code})")
            callback = done.headers["location"]
    finally:
        if own:
            await provider.aclose()
    return await app_client.get(callback, follow_redirects=False)
