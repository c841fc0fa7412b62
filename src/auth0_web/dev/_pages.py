"""The provider's HTML: the login page, error pages and the signed-out page.

Plain server-rendered forms, so they work with no JavaScript and can be driven by a test
that parses the form and posts it. Every value from outside (user names, emails, URLs from
the query) passes through :func:`html.escape`. The stylesheet is inline and allowed by its
hash in the Content-Security-Policy, which otherwise allows nothing (no scripts at all).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape

from ._models import DevUser

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "LOGIN_TITLE",
    "error_page",
    "login_page",
    "signed_out_page",
]

LOGIN_TITLE = "Sign in — auth0-web dev provider"

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;
color:#1d1f23;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.15);padding:2rem;
width:100%;max-width:26rem;box-sizing:border-box}
h1{font-size:1.4rem;margin:0 0 .5rem}
p.note{color:#4a4f57;font-size:.9rem;margin:0 0 1.5rem}
form{margin:0 0 .75rem}
button{width:100%;text-align:left;padding:.75rem 1rem;border:1px solid #c4c8cf;
border-radius:6px;background:#fff;font:inherit;cursor:pointer}
button:hover,button:focus{border-color:#3f59e4;outline:2px solid #3f59e4;outline-offset:1px}
button .email{display:block;color:#4a4f57;font-size:.85rem}
button.cancel{text-align:center;color:#4a4f57;margin-top:.75rem}
code{word-break:break-all}
""".strip()

_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode("ascii")

#: No scripts, no external resources, no framing (clickjacking a login page is an attack).
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; frame-ancestors 'none'"
)


def _document(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def login_page(
    *,
    interaction: str,
    client_id: str,
    users: Sequence[DevUser],
    preselected: str | None,
) -> str:
    """One form per user; the ``preselected`` user (from ``login_hint``) comes first."""
    ordered = sorted(users, key=lambda user: user.sub != preselected)
    forms = []
    for user in ordered:
        autofocus = " autofocus" if user.sub == preselected else ""
        email = f' <span class="email">{escape(user.email)}</span>' if user.email else ""
        forms.append(
            '<form method="post" action="/authorize/login">\n'
            f"{_hidden('interaction', interaction)}\n{_hidden('sub', user.sub)}\n"
            f'<button type="submit"{autofocus}>Continue as {escape(user.name)}{email}</button>\n'
            "</form>\n"
        )
    cancel = (
        '<form method="post" action="/authorize/cancel">\n'
        f"{_hidden('interaction', interaction)}\n"
        '<button type="submit" class="cancel">Cancel</button>\n</form>\n'
    )
    body = (
        "<h1>Sign in</h1>\n"
        '<p class="note">This is the auth0-web <strong>local development provider</strong>, '
        "a stand-in for an Auth0 tenant: no passwords, test users only. "
        f"Signing in to <code>{escape(client_id)}</code>.</p>\n"
        '<section aria-label="Test users">\n' + "".join(forms) + "</section>\n" + cancel
    )
    return _document(LOGIN_TITLE, body)


def error_page(title: str, message: str, detail: str | None = None) -> str:
    """An error the browser user must see (never a redirect to an unverified URL)."""
    extra = f"<p><code>{escape(detail)}</code></p>\n" if detail else ""
    body = f"<h1>{escape(title)}</h1>\n<p>{escape(message)}</p>\n{extra}"
    return _document(f"{title} — auth0-web dev provider", body)


def signed_out_page() -> str:
    body = (
        "<h1>You are signed out</h1>\n"
        '<p class="note">Your session at the auth0-web local development provider has ended.'
        "</p>\n"
    )
    return _document("Signed out — auth0-web dev provider", body)
