"""Property-based fuzzing of every parser that sees outside bytes.

Cookie headers and chunk sets, session and transaction JWEs, query strings of every route,
``returnTo``, the provider's JSON and JWTs, logout tokens, and the answers of the MFA, CIBA,
My Account and Token Vault endpoints. The invariant throughout: a documented error (a 4xx,
"no session", or the parser's own exception type), never an unhandled exception, never a
redirect off the application's origin (or the provider's authorize/logout endpoint).

The default run is modest (a profile named ``fuzz``). ``HYPOTHESIS_PROFILE=deep`` (which
``make test-all`` sets) selects a much larger, randomized run::

    HYPOTHESIS_PROFILE=deep python -m pytest -q tests/fuzz

Either way the run ends with one line counting the examples actually executed.
"""
