"""Transaction cookies (``__txn_<state>``): loading one for a callback's ``state``, reading
a transaction's fields, and evicting old ones when a new login starts.

Invariants: a load yields nothing or the transaction of exactly that ``state`` (TXN-04),
never from a modified cookie (TXN-12); ``TransactionState.from_dict`` refuses or builds a
well-typed transaction; a new login never fails on whatever transaction cookies the browser
already holds (DOS-01).
"""

from __future__ import annotations

import json
import os
import time

from hypothesis import given
from hypothesis import strategies as st

from auth0_web._config import TransactionCookieConfig
from auth0_web._http import CookieOptions, Response
from auth0_web.session._codec import CookieCodec
from auth0_web.session._transaction import (
    MAX_DELETIONS,
    TransactionState,
    TransactionStore,
    is_valid_state,
)
from tests.support.apps import parse_set_cookie

from .harness import fuzz, seal
from .strategies import (
    B64URL_ALPHABET,
    TRICKY_DIGITS,
    compact_junk,
    cookie_values,
    dump,
    latin1_text,
    mutations,
    optional,
    or_hostile,
    unicode_text,
)

SECRET = "fuzz-cookie-secret-0123456789abcdef-0123456789"
NOW = int(time.time())
CODEC = CookieCodec([SECRET])
STORE = TransactionStore(TransactionCookieConfig(), CODEC, parallel=True)
SINGLE = TransactionStore(TransactionCookieConfig(), CODEC, parallel=False)
STATE = "S" * 43
TXN = TransactionState(
    state=STATE, nonce="n" * 43, code_verifier="v" * 43, return_to="/back", max_age=60
)


def saved_value(store: TransactionStore, txn: TransactionState) -> str:
    response = Response()
    store.save(response, txn, {}, NOW, CookieOptions())
    return response.cookies[-1][1].split(";", 1)[0].split("=", 1)[1]


VALUE = saved_value(STORE, TXN)

states = st.one_of(
    st.just(STATE),
    st.text(st.sampled_from(B64URL_ALPHABET), min_size=0, max_size=130),
    latin1_text(50),
)


@fuzz(1.0)
@given(
    states,
    st.dictionaries(
        st.one_of(st.just("__txn_" + STATE), st.just("__txn_"), latin1_text(10)),
        st.one_of(
            st.just(VALUE),
            mutations(VALUE),
            st.just(VALUE.partition(":")[2]),
            cookie_values(),
            compact_junk(),
        ),
        max_size=4,
    ),
    st.booleans(),
)
def test_a_load_yields_that_states_transaction_or_nothing(
    state: str, cookies: dict[str, str], parallel: bool
) -> None:
    store = STORE if parallel else SINGLE
    txn = store.load(cookies, state, NOW)
    if txn is None:
        return
    assert txn.state == state
    # The "<seconds>:" prefix only orders evictions; the JWE itself must be the one sealed.
    raw = cookies[store.cookie_name(state)]
    stamp, sep, jwe = raw.partition(":")
    assert (jwe if sep else stamp) == VALUE.partition(":")[2], "a modified JWE loaded"
    assert txn == TXN


@fuzz(1.0)
@given(mutations(VALUE.partition(":")[2]))
def test_a_modified_transaction_never_loads(jwe: str) -> None:
    for prefix in ("", f"{NOW}:"):
        assert STORE.load({"__txn_" + STATE: prefix + jwe}, STATE, NOW) is None


text_or_hostile = or_hostile(unicode_text(20))
transaction_docs = optional(
    {
        "state": or_hostile(st.just(STATE)),
        "nonce": text_or_hostile,
        "codeVerifier": text_or_hostile,
        "returnTo": text_or_hostile,
        "responseType": or_hostile(st.sampled_from(["code", "connect_code"])),
        "maxAge": or_hostile(st.integers(-5, 10**6)),
        "scope": text_or_hostile,
        "audience": text_or_hostile,
        "organization": text_or_hostile,
        "authSession": text_or_hostile,
        "sub": text_or_hostile,
        "sid": text_or_hostile,
        "exp": or_hostile(st.integers(NOW - 100, NOW + 3600)),
    },
    required=["state", "nonce", "codeVerifier", "exp"],
)


@fuzz(1.0)
@given(transaction_docs)
def test_from_dict_builds_a_well_typed_transaction_or_refuses(data: dict[str, object]) -> None:
    txn = TransactionState.from_dict(data)
    if txn is None:
        return
    for name in ("state", "nonce", "code_verifier", "return_to", "response_type"):
        assert isinstance(getattr(txn, name), str), name
    assert txn.state and txn.code_verifier
    assert txn.nonce or txn.response_type == "connect_code"
    assert txn.max_age is None or (type(txn.max_age) is int and txn.max_age >= 0)
    # What the SDK stores it back as is JSON and reads back the same.
    again = TransactionState.from_dict(json.loads(json.dumps(txn.to_dict(), allow_nan=False)))
    assert again is not None and again.state == txn.state


@fuzz(0.7)
@given(transaction_docs.map(dump))
def test_any_authenticated_transaction_payload_loads_safely(text: str) -> None:
    """Payloads sealed with the secret but not written by this SDK (another version, an
    app sharing the secret): a transaction for that state, or nothing."""
    cookies = {"__txn_" + STATE: f"{NOW}:" + seal(text.encode())}
    txn = STORE.load(cookies, STATE, NOW)
    assert txn is None or txn.state == STATE


stamps = st.one_of(
    st.integers(0, 10**12).map(str),
    st.sampled_from([*TRICKY_DIGITS, "", "-1", "1e3", " 12", "9" * 13, "¹²³"]),
    latin1_text(6),
)


@st.composite
def held_transactions(draw: st.DrawFn) -> dict[str, str]:
    """The transaction cookies a browser may hold: many, large, with any timestamp (a few
    drawn shapes repeated, so that a hundred cookies cost a handful of draws)."""
    shapes = draw(
        st.lists(st.tuples(stamps, st.sampled_from([0, 10, 200, 1500])), min_size=1, max_size=5)
    )
    odd_names = draw(st.lists(latin1_text(8), max_size=3))
    cookies: dict[str, str] = {}
    for index in range(draw(st.integers(0, 100))):
        stamp, size = shapes[index % len(shapes)]
        suffix = odd_names[index] if index < len(odd_names) else str(index)
        cookies["__txn_" + suffix] = f"{stamp}:" + "x" * size
    return cookies


@fuzz(0.7)
@given(held_transactions(), st.booleans())
def test_a_new_login_never_fails_on_the_transactions_already_held(
    held: dict[str, str], parallel: bool
) -> None:
    store = STORE if parallel else SINGLE
    response = Response()
    txn = TransactionState(state=os.urandom(16).hex(), nonce="n", code_verifier="v", return_to="/")
    store.save(response, txn, held, NOW, CookieOptions())
    written = [(name, parse_set_cookie(header)) for name, header in response.cookies]
    deletions = [name for name, (_, _, attrs) in written if attrs.get("max-age") == "0"]
    assert len(deletions) <= MAX_DELETIONS
    assert set(deletions) <= set(held)
    name, (_, value, _) = written[-1]
    assert name == store.cookie_name(txn.state)
    assert store.load({name: value}, txn.state, NOW) == txn


@fuzz(0.3)
@given(states)
def test_only_states_we_could_have_issued_are_valid(state: str) -> None:
    if is_valid_state(state):
        assert 16 <= len(state) <= 128 and set(state) <= set(B64URL_ALPHABET)
