"""A real OpenID Provider for the tests: ``oidc-provider`` (Node.js) set up like Auth0.

The Node side lives in ``tests/op`` (``server.mjs``); see the comment at its top for
what it changes to look like an Auth0 tenant. This module installs it, starts and stops
it, and drives its login and logout pages without a browser:

    with OidcProvider(clients=[...], users=[...]) as op:
        op.issuer          # "http://localhost:<port>/"  (trailing slash, as Auth0)
        op.domain          # "http://localhost:<port>"
        callback = complete_login(authorize_url, "auth0|alice", client=http_client)

The provider runs on 127.0.0.1 but must be addressed as ``localhost`` (its issuer);
its cookies are host-only, so mixing the two names breaks its login flow.

Needs Node.js and npm; ``ensure_installed()`` runs ``npm ci`` in ``tests/op`` once.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

OP_DIR = Path(__file__).resolve().parent.parent / "op"
SERVER = OP_DIR / "server.mjs"
STARTUP_TIMEOUT = 30.0
_MAX_STEPS = 20  # redirects + form posts one login or logout may take


class OidcProviderError(RuntimeError):
    """The provider could not be installed or started, or a flow went wrong."""


# --------------------------------------------------------------------------- install


def _installed() -> bool:
    """True when tests/op/node_modules holds exactly what package-lock.json pins."""
    hidden = OP_DIR / "node_modules" / ".package-lock.json"
    if not hidden.is_file():
        return False
    lock = OP_DIR / "package-lock.json"
    if hidden.stat().st_mtime < lock.stat().st_mtime:
        # node_modules is older than the lock: compare contents before reinstalling.
        try:
            wanted = json.loads(lock.read_text())["packages"]
            have = json.loads(hidden.read_text())["packages"]
        except (OSError, ValueError, KeyError):
            return False
        return bool({name: entry for name, entry in wanted.items() if name} == have)
    return True


def ensure_installed() -> None:
    """Run ``npm ci`` in tests/op unless its node_modules is already current.

    Safe to call from several pytest workers at once: an exclusive file lock
    serialises them and the check is repeated under the lock.
    """
    if _installed():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise OidcProviderError("Node.js and npm are required to run the test OpenID provider")
    with open(OP_DIR / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed():
            return
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=OP_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise OidcProviderError(f"npm ci failed in {OP_DIR}:\n{result.stdout}\n{result.stderr}")


# --------------------------------------------------------------------------- process


class OidcProvider:
    """One ``oidc-provider`` process, as a context manager.

    ``clients`` are oidc-provider client metadata objects (passed through; add
    ``"x_allow_any_loopback_redirect": True`` to accept any loopback redirect URI),
    ``users`` are ``{"sub": ..., <claims>}`` objects. With ``port=None`` the OS picks
    a free loopback port (no race: the Node process binds port 0 and reports it).

    Optional provider settings (``None`` keeps the server's defaults; see the top of
    ``tests/op/server.mjs``): ``client_auth_methods`` (e.g. add ``"private_key_jwt"``),
    ``par`` (``{"enabled": bool, "required": bool}``) and ``dpop``
    (``{"enabled": bool, "require_nonce": bool}``) and ``ciba`` (``True`` or
    ``{"interval": seconds}``: CIBA poll mode at ``/bc-authorize``, off by default; drive the
    user's device with :meth:`ciba_requests`, :meth:`ciba_approve` and :meth:`ciba_deny`).
    """

    def __init__(
        self,
        clients: list[dict[str, Any]],
        users: list[dict[str, Any]],
        port: int | None = None,
        *,
        access_token_ttl: int = 3600,
        id_token_ttl: int | None = None,
        refresh_token_ttl: int | None = None,
        resource_servers: list[dict[str, Any]] | None = None,
        client_auth_methods: list[str] | None = None,
        par: dict[str, bool] | None = None,
        dpop: dict[str, bool] | None = None,
        ciba: bool | dict[str, Any] = False,
        startup_timeout: float = STARTUP_TIMEOUT,
        **extra_config: Any,
    ) -> None:
        self.clients = clients
        self.users = users
        self.access_token_ttl = access_token_ttl
        self.id_token_ttl = id_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.resource_servers = resource_servers
        self.client_auth_methods = client_auth_methods
        self.par = par
        self.dpop = dpop
        self.ciba = ciba
        #: Any other server config key, passed through as is (e.g. ``token_vault``,
        #: ``custom_token_exchange``; see the top of ``tests/op/server.mjs``).
        self.extra_config = extra_config
        self.startup_timeout = startup_timeout
        self._requested_port = port
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._last_stderr = ""  # kept after stop() for error messages

    # ---- addresses

    @property
    def port(self) -> int:
        if self._port is None:
            raise OidcProviderError("the provider is not running")
        return self._port

    @property
    def domain(self) -> str:
        """``http://localhost:<port>``: what the SDK is configured with."""
        return f"http://localhost:{self.port}"

    @property
    def issuer(self) -> str:
        """``http://localhost:<port>/``: the ``iss`` of every token."""
        return f"{self.domain}/"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on the provider, e.g. ``url("/oauth/token")``."""
        return self.domain + "/" + path.lstrip("/")

    # ---- lifecycle

    def start(self) -> OidcProvider:
        if self._process is not None:
            raise OidcProviderError("the provider is already running")
        ensure_installed()
        node = shutil.which("node")
        if node is None:
            raise OidcProviderError("Node.js is required to run the test OpenID provider")

        self._workdir = tempfile.TemporaryDirectory(prefix="oidc-provider-")
        work = Path(self._workdir.name)
        config: dict[str, Any] = {
            "port": self._requested_port or 0,
            "clients": self.clients,
            "users": self.users,
            "access_token_ttl": self.access_token_ttl,
        }
        if self.id_token_ttl is not None:
            config["id_token_ttl"] = self.id_token_ttl
        if self.refresh_token_ttl is not None:
            config["refresh_token_ttl"] = self.refresh_token_ttl
        if self.resource_servers is not None:
            config["resource_servers"] = self.resource_servers
        if self.client_auth_methods is not None:
            config["client_auth_methods"] = self.client_auth_methods
        if self.par is not None:
            config["par"] = self.par
        if self.dpop is not None:
            config["dpop"] = self.dpop
        if self.ciba:
            config["ciba"] = self.ciba if isinstance(self.ciba, dict) else {}
        config.update(self.extra_config)
        config_path = work / "config.json"
        config_path.write_text(json.dumps(config))

        # Output goes to files, not pipes, so a chatty process can never block on
        # a full pipe nobody reads.
        self._stdout_path = work / "stdout.log"
        self._stderr_path = work / "stderr.log"
        with open(self._stdout_path, "wb") as out, open(self._stderr_path, "wb") as err:
            self._process = subprocess.Popen(
                [node, str(SERVER), str(config_path)],
                cwd=OP_DIR,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

        deadline = time.monotonic() + self.startup_timeout
        while True:
            for line in self._stdout_path.read_text(errors="replace").splitlines():
                if line.startswith("READY "):
                    self._port = int(line.split()[1])
                    return self
            if self._process.poll() is not None:
                message = f"oidc-provider exited with code {self._process.returncode}"
                self._cleanup()
                raise OidcProviderError(f"{message}:\n{self._last_stderr}")
            if time.monotonic() > deadline:
                self.stop()
                raise OidcProviderError(
                    f"oidc-provider did not print READY within {self.startup_timeout:.0f} s:\n"
                    f"{self._last_stderr}"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self._cleanup()

    def logs(self) -> str:
        """What the provider wrote to stderr so far (errors, one line each)."""
        if self._workdir is None:
            return self._last_stderr
        try:
            return self._stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def _cleanup(self) -> None:
        if self._workdir is not None:
            self._last_stderr = self.logs()
            self._workdir.cleanup()
            self._workdir = None
        self._port = None

    # ---- CIBA authentication device (only with ciba enabled)

    async def ciba_requests(self) -> list[dict[str, Any]]:
        """The pending backchannel requests, oldest first (``auth_req_id``, ``sub``,
        ``client_id``, ``binding_message``, ``scope``)."""
        async with httpx.AsyncClient() as client:
            response = await client.get(self.url("/test/ciba/requests"))
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    async def ciba_approve(self, auth_req_id: str | None = None) -> None:
        """Approve ``auth_req_id`` (default: the latest pending request) as the user would."""
        await self._ciba_answer("approve", auth_req_id)

    async def ciba_deny(self, auth_req_id: str | None = None) -> None:
        """Deny ``auth_req_id`` (default: the latest pending request): ``access_denied``."""
        await self._ciba_answer("deny", auth_req_id)

    async def _ciba_answer(self, action: str, auth_req_id: str | None) -> None:
        data = {"auth_req_id": auth_req_id} if auth_req_id else {}
        async with httpx.AsyncClient() as client:
            response = await client.post(self.url(f"/test/ciba/{action}"), data=data)
        if response.status_code != 204:
            raise OidcProviderError(f"CIBA {action} failed: {_describe(response)}")

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.issuer if self._port is not None else "stopped"
        return f"<OidcProvider {where}>"


# --------------------------------------------------------------------------- browser-less flows


@dataclass
class _Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    """Collects the <form>s of a page with their named <input> values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._current: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = _Form(attr.get("action", ""), attr.get("method", "get").upper())
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and attr.get("name"):
            kind = attr.get("type", "text").lower()
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in attr:
                return
            self._current.fields[attr["name"]] = attr.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _forms(html: str) -> list[_Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _describe(response: httpx.Response) -> str:
    text = response.text
    return f"{response.status_code} from {response.request.method} {response.url}: {text[:1500]}"


@dataclass
class _Request:
    method: str
    url: str
    data: dict[str, str] | None = None


# A flow is a generator: it yields the next request, is sent the response, and
# returns the URL where the browser would leave the provider. The sync and async
# drivers below only execute the requests, so both share one implementation.
_Flow = Generator[_Request, httpx.Response, str]
_FormChooser = Callable[[list[_Form], httpx.Response], _Form]


def _flow(start_url: str, choose: _FormChooser, *, final_page_ok: bool) -> _Flow:
    provider = _origin(start_url)
    request = _Request("GET", start_url)
    for _ in range(_MAX_STEPS):
        response = yield request
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if _origin(location) != provider:
                return location
            request = _Request("GET", location)
            continue
        if response.status_code == 200 and "html" in response.headers.get("content-type", ""):
            forms = _forms(response.text)
            if not forms:
                if final_page_ok:
                    return str(response.url)
                raise OidcProviderError(f"no form on the provider's page: {_describe(response)}")
            form = choose(forms, response)
            action = urljoin(str(response.url), form.action or str(response.url))
            if _origin(action) != provider:
                raise OidcProviderError(
                    "the provider answers with a form posting to the app "
                    f"({action}; response_mode=form_post?), which these helpers do not follow"
                )
            if form.method == "POST":
                request = _Request("POST", action, dict(form.fields))
            else:
                request = _Request("GET", str(httpx.URL(action, params=form.fields)))
            continue
        raise OidcProviderError(f"unexpected provider response: {_describe(response)}")
    raise OidcProviderError(f"gave up after {_MAX_STEPS} steps starting at {start_url}")


def _login_chooser(sub: str) -> _FormChooser:
    def choose(forms: list[_Form], response: httpx.Response) -> _Form:
        for form in forms:
            if form.fields.get("sub") == sub:
                return form
        offered = [form.fields["sub"] for form in forms if "sub" in form.fields]
        if not offered:
            # Not the login page but one of the provider's self-submitting pages,
            # e.g. the logout of the previous user when another one logs in.
            return forms[0]
        raise OidcProviderError(
            f"user {sub!r} is not offered on the login page (users: {offered}): "
            f"{_describe(response)}"
        )

    return choose


def _first_form(forms: list[_Form], response: httpx.Response) -> _Form:
    return forms[0]


def _run_sync(client: httpx.Client, flow: _Flow) -> str:
    request = next(flow)
    try:
        while True:
            response = client.request(
                request.method, request.url, data=request.data, follow_redirects=False
            )
            request = flow.send(response)
    except StopIteration as done:
        result: str = done.value
        return result


async def _run_async(client: httpx.AsyncClient, flow: _Flow) -> str:
    request = next(flow)
    try:
        while True:
            response = await client.request(
                request.method, request.url, data=request.data, follow_redirects=False
            )
            request = flow.send(response)
    except StopIteration as done:
        result: str = done.value
        return result


def complete_login(authorize_url: str, sub: str, *, client: httpx.Client | None = None) -> str:
    """Log ``sub`` in at the provider, as a browser would, and return the callback URL.

    Starts with ``GET authorize_url``, follows the provider's own redirects, submits
    the login form of ``sub`` and stops at the first redirect that leaves the
    provider's origin, returning that absolute URL (the app's ``redirect_uri`` with
    ``code``, ``state`` and ``iss``, or with ``error``). Provider cookies stay in
    ``client``, so a later login with the same client reuses the provider session: the
    login page is then skipped (and ``sub`` ignored) unless ``prompt=login`` is asked.
    """
    if client is None:
        with httpx.Client() as own:
            return _run_sync(own, _flow(authorize_url, _login_chooser(sub), final_page_ok=False))
    return _run_sync(client, _flow(authorize_url, _login_chooser(sub), final_page_ok=False))


async def complete_login_async(
    authorize_url: str, sub: str, *, client: httpx.AsyncClient | None = None
) -> str:
    """``complete_login`` with an ``httpx.AsyncClient``."""
    flow = _flow(authorize_url, _login_chooser(sub), final_page_ok=False)
    if client is None:
        async with httpx.AsyncClient() as own:
            return await _run_async(own, flow)
    return await _run_async(client, flow)


def complete_oidc_logout(logout_url: str, *, client: httpx.Client) -> str:
    """Follow an RP-initiated logout (``/oidc/logout?...``) to its end.

    Submits the provider's logout confirmation form and returns the first URL outside
    the provider (the ``post_logout_redirect_uri`` with ``state``), or, without a
    ``post_logout_redirect_uri``, the URL of the provider's "signed out" page.
    Also works for ``/v2/logout`` (a single redirect). ``client`` must be the one that
    holds the provider session cookie.
    """
    return _run_sync(client, _flow(logout_url, _first_form, final_page_ok=True))


async def complete_oidc_logout_async(logout_url: str, *, client: httpx.AsyncClient) -> str:
    """``complete_oidc_logout`` with an ``httpx.AsyncClient``."""
    return await _run_async(client, _flow(logout_url, _first_form, final_page_ok=True))
