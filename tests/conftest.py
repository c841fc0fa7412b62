"""Shared fixtures: the scripted (misbehaving) OP, the real oidc-provider, app helpers."""

pytest_plugins = [
    "tests.support.scripted_op_fixtures",
]
