"""The ``auth0-web`` command: small tools for setting up and debugging an app.

auth0-web secret          print a new AUTH0_SECRET
auth0-web dev-provider    run the development identity provider
auth0-web demo            run the demo app against it
auth0-web decode-session  decrypt a session cookie (tokens masked)
auth0-web check           validate the AUTH0_* environment and reach the tenant
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import runpy
import secrets
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._http import parse_cookie_header
from ._version import __version__
from .session._chunks import read_chunked
from .session._codec import CookieCodec

_TOKEN_FIELDS = frozenset({"accessToken", "idToken", "refreshToken"})


def _mask(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 12:
        return f"{value[:6]}…({len(value)} chars)"
    return "***" if isinstance(value, str) else value


def mask_tokens(data: Any) -> Any:
    """A copy of a session payload with every token value shortened to a recognisable stub."""
    if isinstance(data, dict):
        return {k: _mask(v) if k in _TOKEN_FIELDS else mask_tokens(v) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_tokens(item) for item in data]
    return data


# -- secret ------------------------------------------------------------------------------------


def cmd_secret(_: argparse.Namespace) -> int:
    print(secrets.token_hex(32))
    return 0


# -- decode-session ----------------------------------------------------------------------------


def decode_session(cookie: str, secrets_: Sequence[str], cookie_name: str) -> dict[str, Any] | None:
    """Decrypt a session from a raw JWE or a Cookie header (chunks joined); no expiry check."""
    cookie = cookie.strip()
    if cookie.lower().startswith("cookie:"):
        cookie = cookie[7:].strip()
    value: str | None = cookie
    if "=" in cookie.split(".", 1)[0]:
        value = read_chunked(cookie_name, parse_cookie_header(cookie))
    if not value:
        return None
    return CookieCodec(list(secrets_)).decrypt(value, now=0)


def cmd_decode_session(args: argparse.Namespace) -> int:
    secret = args.secret or os.environ.get("AUTH0_SECRET")
    if not secret:
        print("error: pass --secret or set AUTH0_SECRET", file=sys.stderr)
        return 2
    cookie = args.cookie if args.cookie is not None else sys.stdin.read()
    payload = decode_session(cookie, [s for s in secret.split(",") if s], args.cookie_name)
    if payload is None:
        print(
            "error: this is not a session cookie made with that secret (or it is truncated, "
            "or a chunk is missing)",
            file=sys.stderr,
        )
        return 1
    exp = payload.get("exp")
    if isinstance(exp, int | float):
        remaining = int(exp - time.time())
        state = f"expires in {remaining} s" if remaining > 0 else f"EXPIRED {-remaining} s ago"
        print(f"# exp {int(exp)} ({state})", file=sys.stderr)
    print(json.dumps(payload if args.show_tokens else mask_tokens(payload), indent=2))
    return 0


# -- check -------------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    from ._client import Auth0Client
    from ._errors import Auth0Error, InvalidConfigurationError

    try:
        client = Auth0Client(allow_insecure_requests=args.allow_insecure)
    except InvalidConfigurationError as exc:
        print("Configuration problems:")
        for problem in exc.problems:
            print(f"  ✗ {problem}")
        return 1
    config = client.config
    print(f"  ✓ configuration: domain {config.domain}, client {config.client_id}")
    bases = ", ".join(b.url for b in config.app_base_urls) or "(inferred from each request)"
    print(f"  ✓ app base URL: {bases}")

    async def discover() -> int:
        try:
            metadata = await client._rt.discovery.get()
        except Auth0Error as exc:
            print(f"  ✗ discovery at {client._rt.discovery.url}: {exc.message}")
            cause = exc.cause
            if cause is not None:
                print(f"    ({cause})")
            print(
                "    Fix: check AUTH0_DOMAIN (your tenant's domain, e.g. tenant.us.auth0.com or "
                "a custom domain) and that this machine can reach it."
            )
            return 1
        finally:
            await client.aclose()
        print(f"  ✓ discovery: issuer {metadata.issuer}")
        if metadata.end_session_endpoint is None and config.logout_strategy == "oidc":
            print(
                "  ✗ the tenant does not advertise RP-Initiated Logout but logout_strategy is oidc"
            )
            return 1
        return 0

    return asyncio.run(discover())


# -- dev-provider and demo ---------------------------------------------------------------------


def cmd_dev_provider(args: argparse.Namespace) -> int:
    from .dev import DEFAULT_USERS, DevClient, DevProvider

    client_secret = args.client_secret or secrets.token_hex(16)
    client = DevClient(
        client_id=args.client_id,
        client_secret=client_secret,
        redirect_uris=tuple(args.redirect_uri or ()),
        logout_urls=tuple(args.logout_url or ()),
        allow_loopback_redirects=not args.strict_redirects,
    )
    port = args.port
    if port == 0:  # the issuer (printed below) must name the real port
        with socket.socket() as probe:
            probe.bind((args.host, 0))
            port = probe.getsockname()[1]
    provider = DevProvider(
        clients=[client],
        users=DEFAULT_USERS,
        host=args.host,
        port=port,
        allow_non_loopback=args.allow_non_loopback,
    )
    print("auth0-web development identity provider (not for production)")
    print("Configure your app with:")
    print(f"  AUTH0_DOMAIN={provider.domain}")
    print(f"  AUTH0_CLIENT_ID={client.client_id}")
    print(f"  AUTH0_CLIENT_SECRET={client_secret}")
    print("  and pass allow_insecure_requests=True to Auth0Client (the provider speaks http)")
    print(f"Users: {', '.join(u.name + ' (' + u.sub + ')' for u in DEFAULT_USERS)}", flush=True)
    provider.serve()
    return 0


def _demo_path() -> Path:
    packaged = Path(__file__).resolve().parent / "dev" / "demo.py"
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[2] / "examples" / "demo.py"


def cmd_demo(args: argparse.Namespace) -> int:
    path = _demo_path()
    if not path.exists():
        print("error: the demo app is not part of this installation", file=sys.stderr)
        return 1
    os.environ["PORT"] = str(args.port)
    runpy.run_path(str(path), run_name="__main__")
    return 0


# -- main --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auth0-web", description="Tools for apps using auth0-web."
    )
    parser.add_argument("--version", action="version", version=f"auth0-web {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    secret = commands.add_parser("secret", help="print a new random AUTH0_SECRET")
    secret.set_defaults(func=cmd_secret)

    dev = commands.add_parser(
        "dev-provider", help="run the development identity provider (a local Auth0 stand-in)"
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=4000)
    dev.add_argument("--client-id", default="dev-client")
    dev.add_argument("--client-secret", help="default: a new random secret, printed at start")
    dev.add_argument("--redirect-uri", action="append", help="an allowed callback URL (repeat)")
    dev.add_argument("--logout-url", action="append", help="an allowed logout URL (repeat)")
    dev.add_argument(
        "--strict-redirects",
        action="store_true",
        help="accept only the listed URLs (default: also any loopback http URL)",
    )
    dev.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow binding to a non-loopback address (exposes test logins to the network)",
    )
    dev.set_defaults(func=cmd_dev_provider)

    demo = commands.add_parser("demo", help="run the demo app with the development provider")
    demo.add_argument("--port", type=int, default=3000)
    demo.set_defaults(func=cmd_demo)

    decode = commands.add_parser(
        "decode-session", help="decrypt a session cookie and print its JSON (tokens masked)"
    )
    decode.add_argument(
        "cookie",
        nargs="?",
        help="the cookie value, or a whole Cookie header (chunks are joined); default: stdin",
    )
    decode.add_argument("--secret", help="default: AUTH0_SECRET (comma-separated for several)")
    decode.add_argument("--cookie-name", default="__session")
    decode.add_argument("--show-tokens", action="store_true", help="print tokens unmasked")
    decode.set_defaults(func=cmd_decode_session)

    check = commands.add_parser(
        "check", help="validate the AUTH0_* environment and reach the tenant's discovery document"
    )
    check.add_argument(
        "--allow-insecure", action="store_true", help="allow an http:// or localhost provider"
    )
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
