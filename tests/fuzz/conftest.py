"""Hypothesis profiles for the fuzz suite, its shared fixtures and the example count.

Two profiles, selected with the environment variable ``HYPOTHESIS_PROFILE``:

``fuzz`` (default)
    ``max_examples=200``, scaled per property by the weight given to ``harness.fuzz`` (cheap
    parsers run more, whole requests fewer), derandomized so every CI run replays the same
    examples; the whole package stays within the default suite's time budget.
``deep``
    Twenty-five times as many examples, with a fresh random seed each run: for a long,
    occasional hunt (``make test-all`` selects it; by hand:
    ``HYPOTHESIS_PROFILE=deep python -m pytest -q tests/fuzz``).

Only the fuzz properties read these profiles (through ``harness.fuzz``); the rest of the
suite keeps its own settings. The run ends with a line saying how many examples ran.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.fuzz.harness import COUNTS, Aio, active_profile

settings.register_profile(
    "fuzz",
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
settings.register_profile(
    "deep", parent=settings.get_profile("fuzz"), max_examples=5_000, derandomize=False
)

_seconds: dict[str, float] = {}


@pytest.fixture(scope="module")
def aio() -> Iterator[Aio]:
    runner = Aio()
    try:
        yield runner
    finally:
        runner.close()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "tests/fuzz/" in report.nodeid.replace("\\", "/"):
        _seconds[report.nodeid] = report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not COUNTS:
        return
    terminalreporter.write_line(
        f"fuzz: {sum(COUNTS.values())} examples run by {len(COUNTS)} properties "
        f"in {sum(_seconds.values()):.1f}s (hypothesis profile '{active_profile()}')"
    )
