# auth0-web: two commands on a fresh machine.
#   make demo   run the example app against a local OpenID provider (no Auth0 tenant needed)
#   make test   install everything the tests need, then lint, type-check and test
#   make test-all   the same, plus the long `slow` runs (load test)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all lint typecheck unit bench clean install node system

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e . --group dev
	touch $(STAMP)

install: $(STAMP)

node:
	cd tests/op && (test -d node_modules || npm ci --no-audit --no-fund --loglevel=error)
	cd tests/interop && (test -d node_modules || npm ci --no-audit --no-fund --loglevel=error)

# Debian packages the tests use: Chromium for the browser test (Playwright drives it; no
# browser download) and redis-server for the Redis store (the tests start their own).
system:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

lint: install
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples

typecheck: install
	$(VENV)/bin/mypy

test: install node system lint typecheck
	$(PY) -m pytest -q

# Everything, the `slow` runs too (the 1,000-user load test, a few minutes), with the
# property-based fuzzing at its large `deep` profile (tests/fuzz; another 10-25 minutes).
test-all: install node system lint typecheck
	HYPOTHESIS_PROFILE=deep $(PY) -m pytest -q -m "slow or not slow"

demo: install
	$(PY) examples/demo.py

# Throughput side by side (wrk, Debian package), micro-benchmarks, memory under load.
bench: install system
	command -v wrk >/dev/null 2>&1 || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	$(PY) -m pip install --quiet --group bench
	$(PY) bench/throughput.py
	$(PY) bench/session_codec.py
	$(PY) bench/access_token.py
	$(PY) bench/callback_cpu.py
	$(PY) bench/redis_session.py
	$(PY) bench/memory.py
	$(PY) bench/asgi_overhead.py
	$(PY) bench/flask_overhead.py
	$(PY) bench/django_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/op/node_modules tests/interop/node_modules
