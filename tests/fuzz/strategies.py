"""Hypothesis strategies for hostile input: header text, query strings, JSON, compact
JWS/JWE mutations, claim sets and URL-ish strings.

Each strategy mixes plausible values (so parsers get past their first checks) with the
classic traps: control characters, latin-1 digits such as ``²`` that ``str.isdigit``
accepts, percent escapes that decode to invalid UTF-8, ``NaN``/``1e400``, wrong JSON types,
values that contain the expected one as a substring, and nesting deep enough for
``RecursionError``.
"""

from __future__ import annotations

import base64
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import assume
from hypothesis import strategies as st

B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

#: Characters an ASGI server may hand over in a header or a query string (latin-1).
LATIN1 = st.characters(max_codepoint=0xFF)
#: Any character that can be UTF-8 encoded (no lone surrogates).
UNICODE = st.characters(codec="utf-8")
#: Characters that ``str.isdigit`` accepts but ``int``/``float`` may not.
TRICKY_DIGITS = ["²", "³", "¹", "٣", "０", "𝟙", "¼"]


def latin1_text(max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(LATIN1, max_size=max_size)


def unicode_text(max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(UNICODE, max_size=max_size)


# ------------------------------------------------------------------ JSON


@dataclass(frozen=True)
class Raw:
    """JSON text spliced verbatim into a document (``NaN``, ``1e400``, ``-0``, ...)."""

    text: str


RAW_NUMBERS = [
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    Raw("1e400"),
    Raw("-1e400"),
    Raw("1E999"),
    Raw("-0"),
    Raw("0.0000000001"),
    Raw("1" + "0" * 30),
    Raw("9" * 400),
]


def dump(value: Any) -> str:
    """JSON text for ``value``; :class:`Raw` is spliced in, lists of pairs become objects
    (so a key may repeat), floats may be ``NaN``/``Infinity``."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in value.items) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value, allow_nan=True)


@dataclass(frozen=True)
class Pairs:
    """A JSON object written member by member (duplicate keys survive)."""

    items: tuple[tuple[str, Any], ...]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    unicode_text(20),
    st.sampled_from(RAW_NUMBERS),
)

json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(unicode_text(8), children, max_size=4),
    ),
    max_leaves=10,
)

#: Values that JSON loading yields (no NaN/Infinity/Raw): for parsers fed parsed data.
plain_json: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        unicode_text(20),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(unicode_text(8), children, max_size=4),
    ),
    max_leaves=10,
)


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    depth = draw(st.sampled_from([50, 1_000, 30_000, 100_000]))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    return (opener * depth + "1" + closer * depth).encode()


def json_documents(shaped: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[bytes]:
    """Bytes a server might answer with: JSON of ``shaped`` (default: anything), raw JSON
    with non-standard numbers, a BOM, invalid UTF-8, deep nesting, or plain junk."""
    source = shaped if shaped is not None else json_values
    return st.one_of(
        source.map(lambda v: dump(v).encode()),
        source.map(lambda v: b"\xef\xbb\xbf" + dump(v).encode()),
        source.map(lambda v: dump(v).encode()[: max(0, len(dump(v)) // 2)]),
        deep_nesting(),
        st.binary(max_size=64),
        st.sampled_from(
            [b"", b"null", b"[]", b"{}", b'"x"', b"<html>error</html>", b"\xff\xfe{", b"{"]
        ),
    )


def members(
    known: dict[str, st.SearchStrategy[Any]], *, max_extra: int = 2
) -> st.SearchStrategy[dict[str, Any]]:
    """An object whose known members are each present or not (drawn from their strategy),
    plus a few unknown members."""
    return st.builds(
        lambda fixed, extra: {**extra, **fixed},
        st.fixed_dictionaries({}, optional=known),
        st.dictionaries(unicode_text(8), json_values, max_size=max_extra),
    )


def or_hostile(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``good``, sometimes any JSON value."""
    return st.one_of(good, good, json_values)


def nonempty_text(max_size: int = 30) -> st.SearchStrategy[str]:
    return unicode_text(max_size).filter(bool)


# ------------------------------------------------------------------ cookie headers

SDK_COOKIE_NAMES = [
    "__session",
    "__session__0",
    "__session__1",
    "__session__2",
    "__session__01",
    "__session__-1",
    "__session__999999999",
    "__session__x",
    "__session__²",
    "__session__٣",
    "__txn_",
    "__txn_" + "A" * 43,
    "__FC_0",
    "__FC_1",
    "__FC_9",
    "__FC_10",
    "__FC_00",
    "__FC_²",
    "a0:session",
]


def cookie_names() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(SDK_COOKIE_NAMES),
        st.text(st.sampled_from("abcXYZ_-.!#$%&'*+^`|~019"), min_size=1, max_size=12),
        latin1_text(12),
    )


def cookie_values() -> st.SearchStrategy[str]:
    return st.one_of(
        latin1_text(40),
        st.text(st.sampled_from(B64URL_ALPHABET + ".:"), max_size=80),
        st.sampled_from(["", '""', '"a;b"', "²:x", "¹²:" + "A" * 10, "9" * 13 + ":x"]),
    )


@st.composite
def cookie_headers(draw: st.DrawFn, keep: Sequence[tuple[str, str]] = ()) -> str:
    """A Cookie header: junk pairs, pairs without ``=``, odd spacing and quoting, with the
    ``keep`` pairs (real cookies) placed somewhere among them."""
    pieces: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["pair", "pair", "bare", "junk", "quoted"]))
        if kind == "pair":
            pieces.append(f"{draw(cookie_names())}={draw(cookie_values())}")
        elif kind == "quoted":
            pieces.append(f'{draw(cookie_names())}="{draw(cookie_values())}"')
        elif kind == "bare":
            pieces.append(draw(cookie_names()))
        else:
            pieces.append(draw(latin1_text(20)))
    for pair in keep:
        pieces.insert(draw(st.integers(0, len(pieces))), f"{pair[0]}={pair[1]}")
    separators = st.sampled_from(["; ", ";", " ; ", ";;", "; \t"])
    header = ""
    for index, piece in enumerate(pieces):
        header += (draw(separators) if index else "") + piece
    return header


# ------------------------------------------------------------------ query strings

QUERY_NAMES = [
    "returnTo",
    "state",
    "code",
    "iss",
    "error",
    "error_description",
    "audience",
    "scope",
    "connection",
    "scopes",
    "max_age",
    "challengeMode",
    "federated",
    "mergeScopes",
    "organization",
    "prompt",
    "redirect_uri",
    "response_type",
    "client_id",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "request_uri",
    "dpop_jkt",
    "connect_code",
    "id_token",
    "access_token",
    "screen_hint",
    "login_hint",
    "state[]",
    "",
]

PERCENT_JUNK = [
    "%",
    "%Z",
    "%ZZ",
    "%00",
    "%0a",
    "%0d%0a",
    "%09",
    "%7f",
    "%C0%AF",
    "%ED%A0%80",
    "%FF",
    "%E2%80%AE",
    "%2F%2F",
    "%5C",
    "%2e%2e",
    "+",
    "%2B",
    "%20",
]


def query_values() -> st.SearchStrategy[str]:
    """Text already in query-string form (so ``%``/``&``/``=``/``;`` keep their meaning)."""
    return st.one_of(
        latin1_text(30),
        st.lists(st.sampled_from(PERCENT_JUNK), max_size=4).map("".join),
        url_like().map(lambda u: quote(u, safe="")),
        url_like().map(lambda u: quote(u, safe="/:@")),
        st.integers(-(10**12), 10**12).map(str),
        st.sampled_from(TRICKY_DIGITS),
        st.integers(1, 3).map(lambda n: "A" * (3000 * n)),
    )


@st.composite
def query_strings(draw: st.DrawFn, keep: Sequence[tuple[str, str]] = ()) -> bytes:
    """A raw query string (UTF-8 bytes): known and junk names, repeated keys, ``;``
    separators, empty names, control characters, huge values; ``keep`` pairs included."""
    pairs: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.one_of(st.sampled_from(QUERY_NAMES), latin1_text(8)))
        shape = draw(st.sampled_from(["pair", "pair", "pair", "bare", "eq"]))
        if shape == "pair":
            pairs.append(f"{name}={draw(query_values())}")
        elif shape == "bare":
            pairs.append(name)
        else:
            pairs.append(f"={draw(query_values())}")
    for name, value in keep:
        pairs.insert(draw(st.integers(0, len(pairs))), f"{name}={value}")
    if draw(st.integers(0, 19)) == 0:
        pairs.extend(["x=1"] * draw(st.sampled_from([150, 250])))
    separators = st.sampled_from(["&", "&", "&", ";", "&&"])
    query = ""
    for index, pair in enumerate(pairs):
        query += (draw(separators) if index else "") + pair
    return query.encode("utf-8")


# ------------------------------------------------------------------ URLs

HOSTS = [
    "127.0.0.1:3000",
    "127.0.0.1",
    "127.0.0.1:3001",
    "localhost:3000",
    "evil.example",
    "127.0.0.1:3000.evil.example",
    "127.0.0.1:3000@evil.example",
    "evil.example#@127.0.0.1:3000",
    "evil.example\\@127.0.0.1:3000",
    "[::1]:3000",
    "[::ffff:127.0.0.1]",
    "0x7f.1",
    "2130706433",
    "%65vil.example",
    "ｅvil.example",
    "xn--vil-8na.example",
    "",
]


@st.composite
def url_like(draw: st.DrawFn) -> str:
    """Strings built from URL pieces as attackers combine them (schemes, slashes and
    backslashes, credentials, dot segments, whitespace a browser strips)."""
    scheme = draw(
        st.sampled_from(
            [
                "",
                "",
                "http:",
                "https:",
                "HTTP:",
                "javascript:",
                "JaVaScRiPt:",
                "data:",
                "file:",
                "ftp:",
                "java\nscript:",
                "\thttp:",
            ]
        )
    )
    slashes = draw(st.sampled_from(["", "/", "//", "///", "/\\", "\\\\", "\\/", "/\t/", " //"]))
    host = draw(st.sampled_from(HOSTS)) if draw(st.booleans()) else ""
    segments = draw(
        st.lists(
            st.sampled_from(
                [
                    "",
                    ".",
                    "..",
                    "%2e",
                    "%2e%2e",
                    ".%2e",
                    "a",
                    "evil.example",
                    "\\",
                    "%2f",
                    "%5c",
                    "x y",
                    "é",
                ]
            ),
            max_size=4,
        )
    )
    path = "/".join(segments)
    if path and draw(st.booleans()):
        path = "/" + path
    query = draw(st.sampled_from(["", "?", "?a=1", "?returnTo=//evil.example", "?#"]))
    fragment = draw(st.sampled_from(["", "#", "#x", "#@evil.example", "#//evil.example"]))
    return f"{scheme}{slashes}{host}{path}{query}{fragment}"


# ------------------------------------------------------------------ compact JWS/JWE mutations


@st.composite
def mutations(draw: st.DrawFn, token: str) -> str:
    """``token`` (a compact JWS or JWE) changed in one or two ways; never ``token`` itself."""
    out = token
    for _ in range(draw(st.integers(1, 2))):
        out = draw(_one_mutation(out))
    assume(out != token)
    return out


@st.composite
def _one_mutation(draw: st.DrawFn, token: str) -> str:
    kind = draw(
        st.sampled_from(
            [
                "flip",
                "flip",
                "bitflip",
                "bitflip",
                "flip-last",
                "truncate",
                "delete",
                "insert",
                "swap",
                "duplicate",
                "drop",
                "append",
                "case",
                "pad",
                "whitespace",
            ]
        )
    )
    parts = token.split(".")
    if not token:
        return draw(st.text(st.sampled_from(B64URL_ALPHABET + "."), min_size=1, max_size=10))
    index = draw(st.integers(0, len(token) - 1))
    if kind == "bitflip":
        # One bit of one segment's decoded bytes, re-encoded canonically.
        i = draw(st.integers(0, len(parts) - 1))
        raw = _b64url_bytes(parts[i])
        if raw:
            bit = draw(st.integers(0, len(raw) * 8 - 1))
            flipped = bytearray(raw)
            flipped[bit // 8] ^= 1 << (bit % 8)
            parts[i] = _b64url(bytes(flipped))
            return ".".join(parts)
    if kind == "flip":
        return token[:index] + draw(st.sampled_from(B64URL_ALPHABET + ".=+/ ")) + token[index + 1 :]
    if kind == "flip-last":
        # The last character of a segment: where unused low-order bits hide.
        ends = [i - 1 for i, c in enumerate(token) if c == "."] + [len(token) - 1]
        at = draw(st.sampled_from([e for e in ends if e >= 0] or [0]))
        return token[:at] + draw(st.sampled_from(B64URL_ALPHABET)) + token[at + 1 :]
    if kind == "truncate":
        return token[:index]
    if kind == "delete":
        return token[:index] + token[index + 1 :]
    if kind == "insert":
        return token[:index] + draw(st.sampled_from(B64URL_ALPHABET + ".")) + token[index:]
    if kind == "swap" and len(parts) > 1:
        i, j = draw(st.integers(0, len(parts) - 1)), draw(st.integers(0, len(parts) - 1))
        parts[i], parts[j] = parts[j], parts[i]
        return ".".join(parts)
    if kind == "duplicate":
        i = draw(st.integers(0, len(parts) - 1))
        return ".".join([*parts[: i + 1], parts[i], *parts[i + 1 :]])
    if kind == "drop" and len(parts) > 1:
        i = draw(st.integers(0, len(parts) - 1))
        return ".".join(parts[:i] + parts[i + 1 :])
    if kind == "append":
        return token + draw(st.sampled_from([".", ".x", "..", "A", "=", "." + parts[0]]))
    if kind == "case":
        return token.swapcase()
    if kind == "pad":
        i = draw(st.integers(0, len(parts) - 1))
        parts[i] += "=" * draw(st.integers(1, 2))
        return ".".join(parts)
    if kind == "whitespace":
        return draw(st.sampled_from([" ", "\t", "\n"])) + token
    return token[:index] + "A" + token[index + 1 :]


def _b64url_bytes(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except ValueError:
        return b""


def compact_junk() -> st.SearchStrategy[str]:
    """Strings shaped like compact JWS/JWE (dots, base64url) or not at all."""
    segment = st.text(st.sampled_from(B64URL_ALPHABET), max_size=40)
    return st.one_of(
        unicode_text(60),
        st.lists(segment, min_size=1, max_size=7).map(".".join),
        st.lists(st.one_of(segment, unicode_text(8)), min_size=1, max_size=7).map(".".join),
    )


# ------------------------------------------------------------------ claims


def near_misses(value: str) -> list[Any]:
    """Values that a sloppy comparison with ``value`` would accept."""
    return [
        value + "/",
        value.rstrip("/"),
        value.upper(),
        " " + value,
        value + "\x00",
        "x" + value + "y",
        value[:-1],
        [value],
        {value: 1},
        [value, "other"],
        "",
        None,
    ]


def hostile_numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(RAW_NUMBERS),
        st.sampled_from(RAW_NUMBERS),
        st.sampled_from([True, False, None, "9999999999", "1", [1], {"n": 1}, 10**30, -1, 1e11]),
        st.floats(allow_nan=True, allow_infinity=True),
    )


def numeric_dates(now: int) -> st.SearchStrategy[Any]:
    """Mostly realistic epoch seconds around ``now``; sometimes anything numeric-looking."""
    near = st.integers(now - 7200, now + 7200)
    return st.one_of(near, near, near.map(float), hostile_numbers())


def claim(good: Any, wild: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """Usually ``good``; else one of its near misses or an arbitrary value."""
    misses = near_misses(good) if isinstance(good, str) else [None]
    others = [st.sampled_from(misses), json_values]
    if wild is not None:
        others.append(wild)
    return st.one_of(st.just(good), st.just(good), st.just(good), *others)


def optional(
    strategies: dict[str, st.SearchStrategy[Any]], required: Sequence[str]
) -> st.SearchStrategy[dict[str, Any]]:
    """``required`` keys present most of the time, the others sometimes."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, strategy in strategies.items():
            present = draw(st.integers(0, 9)) > 0 if key in required else draw(st.booleans())
            if present:
                out[key] = draw(strategy)
        for key, value in draw(st.dictionaries(unicode_text(6), json_values, max_size=2)).items():
            out.setdefault(key, value)
        return out

    return build()


MISSING: Any = object()


@st.composite
def corrupted(
    draw: st.DrawFn,
    good: dict[str, Any],
    changes: dict[str, st.SearchStrategy[Any]],
    max_changes: int = 3,
) -> dict[str, Any]:
    """``good`` with up to ``max_changes`` members replaced by a draw from ``changes``
    (:data:`MISSING` removes the member), plus occasionally an unknown member: so that
    an unchanged, valid object is a common case and each trap is tried on its own."""
    out = dict(good)
    count = min(len(changes), draw(st.sampled_from([0, 0, 1, 1, 2, max_changes])))
    keys = draw(
        st.lists(st.sampled_from(sorted(changes)), min_size=count, max_size=count, unique=True)
    )
    for key in keys:
        value = draw(changes[key])
        if value is MISSING:
            out.pop(key, None)
        else:
            out[key] = value
    if draw(st.integers(0, 3)) == 0:
        out.update(draw(st.dictionaries(unicode_text(6), plain_json, min_size=1, max_size=1)))
    return out


def is_numeric_date(value: Any) -> bool:
    """NumericDate as RFC 7519 and this project define it (finite, 0 <= x < 1e11)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 <= value < 1e11
        and math.isfinite(value)
    )


def strict_json(data: bytes) -> tuple[bool, Any]:
    """``(True, value)`` if ``data`` is RFC 8259 JSON with finite numbers, else ``(False, None)``
    (the reference reading every parser here must agree with)."""

    def reject(_: str) -> Any:
        raise ValueError("non-finite")

    def finite(text: str) -> float:
        number = float(text)
        if not math.isfinite(number):
            raise ValueError("non-finite")
        return number

    def finite_int(text: str) -> int:
        number = int(text)
        if abs(number) > sys.float_info.max:
            raise ValueError("out of range")
        return number

    try:
        value = json.loads(
            data.decode("utf-8"), parse_constant=reject, parse_float=finite, parse_int=finite_int
        )
        return True, value
    except (ValueError, RecursionError):
        return False, None


# ------------------------------------------------------------------ provider answers

#: ``(status, headers, body)`` with raw header bytes (the harness's ``Answer``).
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]

STATUSES = st.sampled_from([200] * 6 + [201, 204, 302, 400, 401, 403, 404, 429, 500, 503])
CONTENT_TYPES = st.sampled_from(
    ["application/json"] * 4 + ["application/problem+json", "text/html", "", "application/jwt"]
)
RETRY_AFTER = st.one_of(
    st.integers(0, 10**6).map(str),
    st.sampled_from(["²", "¹", "³", "1.5", "-1", "", " 5", "Wed, 21 Oct 2015 07:28:00 GMT"]),
    latin1_text(6),
)


@st.composite
def answers(draw: st.DrawFn, body: st.SearchStrategy[Any], status: int | None = None) -> Answer:
    """One HTTP answer: mostly a JSON body drawn from ``body``, sometimes any bytes, with
    any status (or ``status``), content type and ``Retry-After``."""
    headers: list[tuple[bytes, bytes]] = []
    content_type = draw(CONTENT_TYPES)
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    if draw(st.integers(0, 3)) == 0:
        headers.append((b"retry-after", draw(RETRY_AFTER).encode("latin-1")))
    raw = draw(
        st.one_of(
            body.map(lambda v: dump(v).encode()),
            body.map(lambda v: dump(v).encode()),
            json_documents(),
        )
    )
    return (draw(STATUSES) if status is None else status), headers, raw


def errors_of(*codes: str) -> st.SearchStrategy[dict[str, Any]]:
    """An OAuth error answer body (mostly one of ``codes``)."""
    return st.builds(
        lambda code, description: {"error": code, "error_description": description},
        or_hostile(st.sampled_from(list(codes))),
        or_hostile(unicode_text(30)),
    )


def text_or_missing(max_size: int = 20) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(MISSING), or_hostile(unicode_text(max_size)))


# ------------------------------------------------------------------ requests to the routes


@st.composite
def cookie_jars(
    draw: st.DrawFn, session: Sequence[tuple[str, str]], txn: tuple[str, str] | None = None
) -> tuple[str, bool]:
    """A Cookie header of junk around (usually) the real ``session`` cookies and, when
    given, the real transaction cookie; and whether the session cookies are in it."""
    keep: list[tuple[str, str]] = []
    has_session = draw(st.integers(0, 3)) > 0
    if has_session:
        keep += list(session)
    if txn is not None and draw(st.integers(0, 3)) > 0:
        keep.append(txn)
    junk = draw(st.one_of(st.just(""), cookie_headers()))
    pieces = [f"{n}={v}" for n, v in keep]
    if junk:
        pieces.insert(draw(st.integers(0, len(pieces))), junk)
    return "; ".join(pieces), has_session


MFA_FIELDS = {
    "challenge_type": or_hostile(st.sampled_from(["otp", "oob"])),
    "authenticator_id": or_hostile(st.just("totp|1")),
    "mfa_token": or_hostile(unicode_text(20)),
    "otp": or_hostile(st.sampled_from(["123456", "12", "１２３４５６"])),
    "oob_code": or_hostile(st.just("oob-1")),
    "binding_code": or_hostile(st.just("1234")),
    "recovery_code": or_hostile(st.just("ABCDEF")),
    "factor_type": or_hostile(st.sampled_from(["otp", "sms", "email", "push", "voice"])),
    "authenticator_types": or_hostile(st.sampled_from([["otp"], ["oob"]])),
    "oob_channels": or_hostile(st.sampled_from([["sms"], ["auth0"], [5], []])),
    "phone_number": or_hostile(st.just("+15555550100")),
    "email": or_hostile(st.just("a@example.com")),
}


@st.composite
def mfa_requests(
    draw: st.DrawFn, valid: dict[str, Any], sealed: str, raw_token: str, origin: str
) -> tuple[list[tuple[str, str]], bytes]:
    """A well-formed MFA route request (the ``valid`` body, the real ``sealed`` token) with
    one part made hostile: the body's members, the body itself, the content type, the
    token (mutated, junk, or the provider's ``raw_token``), the Authorization scheme, or the
    browser's Origin/Sec-Fetch-Site."""
    hostile = draw(st.sampled_from(["none", "members", "body", "type", "token", "scheme", "site"]))
    body = dump(valid).encode()
    if hostile == "members":
        body = dump(draw(corrupted(valid, MFA_FIELDS))).encode()
    elif hostile == "body":
        body = draw(
            st.one_of(
                st.binary(max_size=60),
                st.just(b"{" * 5000),
                st.just(b'{"otp":"' + b"1" * (65 * 1024) + b'"}'),
                json_values.map(lambda v: dump(v).encode()),
            )
        )
    content_type = "application/json"
    if hostile == "type":
        content_type = draw(st.sampled_from(["text/plain", "application/json; x", "", "form"]))
    bearer = sealed
    if hostile == "token":
        bearer = draw(st.one_of(mutations(sealed), compact_junk(), st.just(raw_token)))
    scheme: str | None = "Bearer "
    if hostile == "scheme":
        scheme = draw(st.sampled_from(["bearer ", "Basic ", "", "Bearer  ", None]))
    headers = [("content-type", content_type)] if content_type else []
    if scheme is not None:
        headers.append(("authorization", scheme + bearer))
    if hostile == "site":
        headers.append(
            ("origin", draw(st.sampled_from([origin, "http://evil.example", "null", "http://x"])))
        )
        if draw(st.booleans()):
            headers.append(("sec-fetch-site", draw(st.sampled_from(["cross-site", "same-site"]))))
    headers = [(k, v.encode("latin-1", "replace").decode("latin-1")) for k, v in headers]
    return headers, body


LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@st.composite
def logout_bodies(draw: st.DrawFn, issuer: str, client_id: str, now: int) -> bytes:
    """A form body around a logout token that is well formed but unsigned (a caller
    without the provider's key cannot make a valid one), with one part made hostile: its
    claims (numbers above all: they are checked before any key is fetched), its header,
    the token's bytes, the form, or the whole body."""
    hostile = draw(
        st.sampled_from(["claims", "claims", "claims", "header", "token", "form", "body"])
    )
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + 60,
        "jti": "j-1",
        "events": {LOGOUT_EVENT: {}},
        "sid": "sid-alice",
    }
    if hostile == "claims":
        claims = draw(
            corrupted(
                claims,
                {
                    "iat": hostile_numbers(),
                    "exp": hostile_numbers(),
                    "events": json_values,
                    "sid": json_values,
                    "aud": json_values,
                    "iss": st.sampled_from([MISSING, "http://169.254.169.254/"]),
                },
            )
        )
    header = '{"alg":"RS256","kid":"k1"}'
    if hostile == "header":
        header = draw(
            st.one_of(
                st.sampled_from(['{"alg":"none"}', '{"alg":"HS256"}', '{"alg":"RS256","crit":[]}']),
                json_values.map(dump),
            )
        )
    signature = _b64url(draw(st.binary(max_size=40)))
    token = f"{_b64url(header.encode())}.{_b64url(dump(claims).encode())}.{signature}"
    if hostile == "token":
        token = draw(st.one_of(mutations(token), compact_junk()))
    form = "logout_token={}"
    if hostile == "form":
        form = draw(
            st.sampled_from(
                ["logout_token={}&logout_token={}", "x=1&logout_token={}", "logout_token=", "{}"]
            )
        )
    raw = form.replace("{}", token).encode()
    if hostile == "body":
        raw = draw(
            st.one_of(
                st.binary(max_size=80),
                st.just(b"logout_token=" + b"A" * (70 * 1024)),
                latin1_text(40).map(lambda t: t.encode("latin-1")),
            )
        )
    return raw


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
