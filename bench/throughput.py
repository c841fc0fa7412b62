"""Throughput side by side: a bare Starlette app and the same app behind auth0-web.

Run with ``make bench`` (or ``python bench/throughput.py [--rounds N] [--duration S]``).

Each app runs in its own uvicorn process (1 worker, uvloop + httptools, access log off)
pinned to CPU 0; ``wrk`` (1 thread, 32 connections, loopback) is pinned to CPU 1. Rounds are
interleaved — every round measures every scenario once, in a rotating order — and the table
reports the median of the rounds, so drift on the machine hits all scenarios alike.

Scenarios (ratios are to the bare app receiving the same request headers):
  anonymous               no cookie, through the middleware
  session-readonly        a realistic 3.5 KB session (2 cookie chunks), get_session(), rolling off
  session-rolling         the same with rolling sessions on, as configured by default: a
                          cookie issued moments ago (as a browser holds it) is not re-issued
  rolling-every-response  for comparison: rolling_write_interval=0, the cookie re-encrypted
                          and re-set on every response (the reference's behaviour)
  login-redirect          GET /auth/login against a cached discovery document (absolute req/s)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
CONNECTIONS = 32

TARGETS = {  # scenario -> (kind, minimum)
    "anonymous": ("ratio", 0.95),
    "session-readonly": ("ratio", 0.85),
    "session-rolling": ("ratio", 0.70),
    "login-redirect": ("rps", 3000.0),
}


# --------------------------------------------------------------------------- the apps


def bare_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def home(request: Request) -> JSONResponse:
        return JSONResponse({"user": None})

    return Starlette(routes=[Route("/", home)])


def auth0_app(rolling: bool, domain: str, write_interval: int | None = None) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from auth0_web import Auth0Client

    auth0 = Auth0Client(
        domain=domain,
        client_id="bench-app",
        client_secret="bench-app-secret-0123456789abcdef",
        secret=SECRET,
        app_base_url="http://127.0.0.1:8000",
        allow_insecure_requests=True,
        session={"rolling": rolling}
        if write_interval is None
        else {"rolling": rolling, "rolling_write_interval": write_interval},
    )

    async def home(request: Request) -> JSONResponse:
        session = await auth0.get_session()
        return JSONResponse({"user": session.user["sub"] if session else None})

    return auth0.middleware(Starlette(routes=[Route("/", home)]))


def serve(kind: str, port: int, domain: str) -> None:
    import uvicorn

    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    if kind == "bare":
        app = bare_app()
    elif kind == "devprovider":
        from auth0_web.dev import DevClient, DevProvider

        app = DevProvider(
            port=port,
            clients=[
                DevClient(
                    "bench-app",
                    "bench-app-secret-0123456789abcdef",
                    redirect_uris=["http://127.0.0.1:8000/auth/callback"],
                )
            ],
        ).app
    elif kind == "auth0-rolling-always":
        app = auth0_app(rolling=True, domain=domain, write_interval=0)
    else:
        app = auth0_app(rolling=kind == "auth0-rolling", domain=domain)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="error",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="off",
    )


# --------------------------------------------------------------------------- the driver


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(kind: str, domain: str = "http://localhost:1") -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "serve", kind, str(port), domain],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{kind} server did not start")


def session_cookie_header() -> str:
    from session_codec import realistic_session

    from auth0_web import SessionConfig
    from auth0_web._http import CookieOptions, Response
    from auth0_web.session._codec import CookieCodec
    from auth0_web.session._stateless import StatelessSessionStore

    now = int(time.time())
    store = StatelessSessionStore(SessionConfig(), CookieCodec([SECRET]))
    written = Response()
    store.write(written, realistic_session(now), {}, now, CookieOptions())
    return "; ".join(value.split(";", 1)[0] for _, value in written.cookies)


def wrk(url: str, duration: float, headers: dict[str, str]) -> float:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(duration))}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        command = ["taskset", "-c", "1", *command]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if match is None or non2xx is not None:
        raise RuntimeError(f"wrk failed for {url}:\n{output}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--chart", type=Path, default=HERE.parent / "docs" / "performance.png")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is required (Debian package 'wrk'; `make bench` installs it)")

    cookie = session_cookie_header()
    provider, provider_url = start("devprovider")
    domain = provider_url.replace("127.0.0.1", "localhost")
    servers = {
        "bare": start("bare"),
        "auth0-readonly": start("auth0-readonly", domain),
        "auth0-rolling": start("auth0-rolling", domain),
        "auth0-rolling-always": start("auth0-rolling-always", domain),
    }
    try:
        # (scenario, server, path, headers)
        runs = [
            ("bare", "bare", "/", {}),
            ("bare+cookie", "bare", "/", {"cookie": cookie}),
            ("anonymous", "auth0-rolling", "/", {}),
            ("session-readonly", "auth0-readonly", "/", {"cookie": cookie}),
            ("session-rolling", "auth0-rolling", "/", {"cookie": cookie}),
            ("rolling-every-response", "auth0-rolling-always", "/", {"cookie": cookie}),
            ("login-redirect", "auth0-rolling", "/auth/login", {}),
        ]
        for _, server, path, headers in runs:  # warm up (and cache discovery)
            wrk(servers[server][1] + path, 1, headers)
        results: dict[str, list[float]] = {name: [] for name, *_ in runs}
        for round_no in range(args.rounds):
            shift = round_no % len(runs)
            for name, server, path, headers in runs[shift:] + runs[:shift]:
                if "cookie" in headers:
                    # As a browser holds it: a cookie issued moments ago (wrk replays one
                    # fixed header, so it is made fresh for every run).
                    headers = {"cookie": session_cookie_header()}
                results[name].append(wrk(servers[server][1] + path, args.duration, headers))
            print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        for process, _ in [*servers.values(), (provider, "")]:
            process.terminate()
            process.wait()

    medians = {name: statistics.median(values) for name, values in results.items()}
    baseline = {
        "anonymous": medians["bare"],
        "session-readonly": medians["bare+cookie"],
        "session-rolling": medians["bare+cookie"],
        "rolling-every-response": medians["bare+cookie"],
    }
    print(
        f"\nmedian req/s of {args.rounds} interleaved rounds x {args.duration:g} s, "
        f"wrk -t1 -c{CONNECTIONS}, 1 uvicorn worker\n"
    )
    print(f"{'scenario':<22} {'req/s':>9} {'bare req/s':>11} {'ratio':>7} {'target':>9}  met")
    all_met = True
    rows = []
    for name in (
        "bare",
        "bare+cookie",
        "anonymous",
        "session-readonly",
        "session-rolling",
        "rolling-every-response",
        "login-redirect",
    ):
        rps = medians[name]
        if name in ("bare", "bare+cookie"):
            print(f"{name:<22} {rps:>9.0f}")
            continue
        if name not in TARGETS:  # shown for comparison: rolling_write_interval=0
            ratio = rps / baseline[name]
            print(f"{name:<22} {rps:>9.0f} {baseline[name]:>11.0f} {ratio:>6.2f}x {'-':>9}")
            rows.append((name, baseline[name], rps))
            continue
        kind, minimum = TARGETS[name]
        if kind == "ratio":
            ratio = rps / baseline[name]
            met = ratio >= minimum
            verdict = "yes" if met else "NO"
            print(
                f"{name:<22} {rps:>9.0f} {baseline[name]:>11.0f} {ratio:>6.2f}x "
                f"{minimum:>8.2f}x  {verdict}"
            )
            rows.append((name, baseline[name], rps))
        else:
            met = rps >= minimum
            verdict = "yes" if met else "NO"
            print(f"{name:<22} {rps:>9.0f} {'':>11} {'':>7} {minimum:>6.0f}/s  {verdict}")
        all_met &= met
    strict = medians["session-rolling"] / medians["bare"]
    print(f"\n(session-rolling against bare without the cookie header: {strict:.2f}x)")
    if args.json:
        args.json.write_text(json.dumps({"rounds": results, "medians": medians}, indent=2))
    draw_chart(rows, args.chart)
    print(f"chart: {args.chart}")
    print("all throughput targets met" if all_met else "SOME THROUGHPUT TARGETS NOT MET")


def draw_chart(rows: list[tuple[str, float, float]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no chart)", file=sys.stderr)
        return
    names = [name for name, *_ in rows]
    bare = [b for _, b, _ in rows]
    ours = [o for *_, o in rows]
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], bare, width=0.4, label="bare Starlette", color="#9aa5b1")
    ax.bar([i + 0.2 for i in x], ours, width=0.4, label="with auth0-web", color="#eb5424")
    for i, (b, o) in enumerate(zip(bare, ours, strict=True)):
        ax.text(i + 0.2, o, f"{o / b:.2f}x", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(list(x), names)
    ax.set_ylabel("requests / second")
    ax.set_title("uvicorn, 1 worker, wrk -c32 (median of interleaved rounds)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
