"""Shared fixtures: the scripted (misbehaving) OP and the real oidc-provider."""

pytest_plugins = [
    "tests.support.scripted_op_fixtures",
    "tests.support.op_fixtures",
    "tests.support.redis_server",
]
