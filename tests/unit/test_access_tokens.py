"""Access-token selection (reference 7.3) and what a refresh persists (reference 7.4).

Pure functions over ``SessionData``: no I/O, no clock (``now`` is passed explicitly).
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from auth0_web import Auth0Client
from auth0_web._access_tokens import (
    MAX_ACCESS_TOKEN_ENTRIES,
    AccessToken,
    apply_refresh,
    contains_scopes,
    merge_scopes,
    select_candidate,
)
from auth0_web._config import Config
from auth0_web.oidc._token import TokenResponse
from auth0_web.session._model import AccessTokenSet, SessionData, SessionInternal, TokenSet

NOW = 1_700_000_000
DEFAULT_SCOPE = "openid profile email offline_access"
A = "https://a"
B = "https://b"


def make_config(**authorization_parameters: Any) -> Config:
    return Auth0Client(
        domain="t.example.com",
        client_id="c",
        client_secret="s",
        secret="x" * 40,
        authorization_parameters=authorization_parameters or None,
    ).config


def make_session(
    *,
    access_token: str = "at-primary",
    expires_at: int = NOW + 3600,
    refresh_token: str | None = "rt-old",
    id_token: str | None = "id-old",
    scope: str | None = DEFAULT_SCOPE,
    requested_scope: str | None = None,
    audience: str | None = None,
    token_type: str | None = "Bearer",
    entries: list[AccessTokenSet] | None = None,
) -> SessionData:
    return SessionData(
        user={"sub": "auth0|u1", "name": "U One"},
        token_set=TokenSet(
            access_token=access_token,
            expires_at=expires_at,
            id_token=id_token,
            refresh_token=refresh_token,
            scope=scope,
            requested_scope=requested_scope,
            audience=audience,
            token_type=token_type,
        ),
        internal=SessionInternal(sid="sid-1", created_at=NOW - 100),
        access_tokens=list(entries or []),
        extra={"theme": "dark"},
    )


def entry(
    audience: str,
    token: str,
    scope: str | None,
    requested: str | None = None,
    *,
    expires_at: int = NOW + 3600,
    token_type: str | None = "Bearer",
) -> AccessTokenSet:
    return AccessTokenSet(
        access_token=token,
        expires_at=expires_at,
        audience=audience,
        scope=scope,
        requested_scope=requested,
        token_type=token_type,
    )


def tokens(
    access_token: str = "at-new",
    *,
    refresh_token: str | None = None,
    id_token: str | None = None,
    scope: str | None = None,
    expires_in: int | None = 600,
    token_type: str = "Bearer",
) -> TokenResponse:
    return TokenResponse(
        access_token=access_token,
        token_type=token_type,
        expires_in=expires_in,
        id_token=id_token,
        refresh_token=refresh_token,
        scope=scope,
        raw={},
    )


# --------------------------------------------------------------------------------------
# merge_scopes / contains_scopes
# --------------------------------------------------------------------------------------


def test_merge_scopes_keeps_first_seen_order_and_drops_duplicates() -> None:
    assert merge_scopes("openid profile", "profile email", None, "", "openid  x") == (
        "openid profile email x"
    )


def test_merge_scopes_of_nothing_is_empty() -> None:
    assert merge_scopes() == ""
    assert merge_scopes(None, "", "   ") == ""


def test_merge_scopes_single_value_is_normalised() -> None:
    assert merge_scopes("  b a  b ") == "b a"


def test_contains_scopes_is_an_order_insensitive_superset() -> None:
    assert contains_scopes("openid profile email", "email openid")
    assert contains_scopes("a b", "b a")
    assert contains_scopes("a  b", "a a")
    assert not contains_scopes("openid profile", "profile email")
    assert not contains_scopes(None, "a")
    assert not contains_scopes("", "a")


def test_contains_scopes_with_empty_want_is_true() -> None:
    assert contains_scopes("a b", "")
    assert contains_scopes("a b", None)
    assert contains_scopes(None, None)
    assert contains_scopes("", "   ")


def test_contains_scopes_does_not_match_substrings() -> None:
    assert not contains_scopes("read:messages", "read")
    assert not contains_scopes("read", "read:messages")


# --------------------------------------------------------------------------------------
# AccessToken
# --------------------------------------------------------------------------------------


def test_access_token_repr_hides_the_token() -> None:
    token = AccessToken(
        token="secret-token-value", expires_at=NOW, scope="a", token_type="Bearer", audience=A
    )
    assert "secret-token-value" not in repr(token)
    assert "secret-token-value" not in str(token)
    assert token.to_dict() == {
        "token": "secret-token-value",
        "expires_at": NOW,
        "scope": "a",
        "token_type": "Bearer",
        "audience": A,
    }


# --------------------------------------------------------------------------------------
# 7.3 selection: the primary token set
# --------------------------------------------------------------------------------------


def test_primary_used_without_audience() -> None:
    config = make_config()
    candidate = select_candidate(make_session(), config, audience=None, scope=DEFAULT_SCOPE)
    assert candidate.primary
    assert candidate.access_token == "at-primary"
    assert candidate.refresh_token == "rt-old"
    assert candidate.expires_at == NOW + 3600
    assert candidate.token_type == "Bearer"
    assert candidate.audience is None


def test_primary_used_for_the_configured_audience() -> None:
    config = make_config(audience=A)
    session = make_session()
    for audience in (None, A):
        candidate = select_candidate(session, config, audience=audience, scope=DEFAULT_SCOPE)
        assert candidate.primary, audience
        assert candidate.access_token == "at-primary"
        assert candidate.audience == A


def test_primary_used_for_the_sessions_own_audience() -> None:
    config = make_config()  # no configured audience
    session = make_session(audience=A)
    candidate = select_candidate(session, config, audience=A, scope="openid")
    assert candidate.primary and candidate.audience == A


def test_primary_not_used_for_another_audience() -> None:
    config = make_config(audience=A)
    candidate = select_candidate(make_session(), config, audience=B, scope="openid")
    assert not candidate.primary
    assert candidate.access_token is None
    assert candidate.audience == B


def test_primary_not_used_for_an_audience_when_none_is_configured() -> None:
    config = make_config()
    candidate = select_candidate(make_session(), config, audience=A, scope="")
    assert not candidate.primary and candidate.access_token is None
    assert candidate.refresh_token == "rt-old"


def test_requested_scope_superset_rule() -> None:
    config = make_config()
    session = make_session(requested_scope="openid profile read:x")
    for scope in ("", "read:x", "read:x openid", "profile openid read:x"):
        assert select_candidate(session, config, audience=None, scope=scope).primary, scope
    for scope in ("write:x", "read:x write:x", "email"):
        candidate = select_candidate(session, config, audience=None, scope=scope)
        assert not candidate.primary, scope
        assert candidate.access_token is None


def test_requested_scope_falls_back_to_the_configured_scope() -> None:
    config = make_config(scope="openid profile email read:x")
    session = make_session(requested_scope=None)
    assert select_candidate(session, config, audience=None, scope="email read:x openid").primary
    assert not select_candidate(session, config, audience=None, scope="write:x").primary


def test_primary_is_matched_on_requested_not_granted_scope() -> None:
    """7.3 compares ``requestedScope`` (an OP may grant fewer scopes than requested)."""
    config = make_config()
    session = make_session(scope="openid", requested_scope="openid read:x")
    assert select_candidate(session, config, audience=None, scope="read:x").primary


def test_scope_map_per_audience() -> None:
    config = make_config(audience=A, scope={A: "openid read:a", B: "read:b"})
    session = make_session(requested_scope=None)
    # The default audience's mapped scope is the primary set's fallback requested scope.
    assert select_candidate(session, config, audience=A, scope="read:a").primary
    assert select_candidate(session, config, audience=None, scope="openid read:a").primary
    assert not select_candidate(session, config, audience=A, scope="read:b").primary
    other = select_candidate(session, config, audience=B, scope="read:b")
    assert not other.primary
    assert other.access_token is None
    assert other.audience == B
    assert other.requested_scope == "read:b"
    assert other.refresh_token == "rt-old"


def test_scope_map_scope_for_unmapped_audience_is_the_default() -> None:
    config = make_config(audience=A, scope={A: "openid read:a", B: "read:b"})
    assert config.scope_for(B) == "read:b"
    assert config.scope_for(A) == "openid read:a"
    assert config.scope_for(None) == "openid read:a"
    assert config.scope_for("https://c") == "openid read:a"


# --------------------------------------------------------------------------------------
# 7.3 selection: access_tokens entries
# --------------------------------------------------------------------------------------


def test_entry_matched_by_exact_audience() -> None:
    config = make_config()
    session = make_session(entries=[entry(B, "tb", "read:b", "read:b")])
    found = select_candidate(session, config, audience=B, scope="read:b")
    assert found.access_token == "tb" and not found.primary
    for near in (B + "/", B.upper(), "https://b.", " " + B, B + "?x"):
        missing = select_candidate(session, config, audience=near, scope="read:b")
        assert missing.access_token is None, near


def test_entry_matched_by_requested_scope_superset() -> None:
    config = make_config()
    session = make_session(entries=[entry(B, "tb", "read:b", "read:b write:b")])
    for scope in ("", "read:b", "write:b", "write:b read:b"):
        assert select_candidate(session, config, audience=B, scope=scope).access_token == "tb"
    for scope in ("admin:b", "read:b admin:b"):
        assert select_candidate(session, config, audience=B, scope=scope).access_token is None


def test_entry_with_requested_scope_is_not_matched_on_its_granted_scope() -> None:
    config = make_config()
    session = make_session(entries=[entry(B, "tb", "read:b write:b", "read:b")])
    assert select_candidate(session, config, audience=B, scope="write:b").access_token is None


def test_entry_without_requested_scope_falls_back_to_granted_scope() -> None:
    config = make_config()
    session = make_session(entries=[entry(B, "tb", "read:b write:b", None)])
    assert select_candidate(session, config, audience=B, scope="write:b").access_token == "tb"
    assert select_candidate(session, config, audience=B, scope="admin:b").access_token is None


def test_narrowest_entry_wins_regardless_of_order() -> None:
    config = make_config()
    wide = entry(B, "wide", "read:b write:b admin:b", "read:b write:b admin:b")
    narrow = entry(B, "narrow", "read:b", "read:b")
    middle = entry(B, "middle", "read:b write:b", "read:b write:b")
    for order in ([wide, narrow, middle], [narrow, middle, wide], [middle, wide, narrow]):
        session = make_session(entries=list(order))
        assert select_candidate(session, config, audience=B, scope="read:b").access_token == (
            "narrow"
        )
        assert select_candidate(session, config, audience=B, scope="write:b").access_token == (
            "middle"
        )
        assert select_candidate(session, config, audience=B, scope="admin:b").access_token == (
            "wide"
        )


def test_narrowest_is_counted_on_granted_scopes() -> None:
    config = make_config()
    many_requested = entry(B, "few-granted", "read:b", "read:b write:b x:b y:b")
    two_granted = entry(B, "two-granted", "read:b write:b", "read:b write:b")
    session = make_session(entries=[two_granted, many_requested])
    assert select_candidate(session, config, audience=B, scope="read:b").access_token == (
        "few-granted"
    )


def test_entry_candidate_borrows_the_primary_refresh_token() -> None:
    config = make_config()
    session = make_session(
        entries=[entry(B, "tb", "read:b", "read:b", expires_at=NOW + 50, token_type="DPoP")]
    )
    found = select_candidate(session, config, audience=B, scope="read:b")
    assert found.refresh_token == "rt-old"
    assert found.expires_at == NOW + 50
    assert found.token_type == "DPoP"
    assert found.scope == "read:b"
    assert found.requested_scope == "read:b"
    assert found.audience == B
    assert not found.primary


def test_entries_are_ignored_without_an_audience() -> None:
    config = make_config()
    session = make_session(
        requested_scope="openid", entries=[entry("", "blank", "read:x", "read:x")]
    )
    candidate = select_candidate(session, config, audience=None, scope="read:x")
    assert candidate.access_token is None


def test_no_match_gives_an_empty_candidate_with_the_shared_refresh_token() -> None:
    config = make_config(audience=A)
    session = make_session(entries=[entry(B, "tb", "read:b", "read:b")])
    candidate = select_candidate(session, config, audience=B, scope="write:b")
    assert candidate.access_token is None
    assert candidate.expires_at is None
    assert candidate.scope is None
    assert candidate.token_type is None
    assert candidate.requested_scope == "write:b"
    assert candidate.audience == B
    assert candidate.refresh_token == "rt-old"
    assert not candidate.primary


def test_no_match_without_refresh_token() -> None:
    config = make_config()
    session = make_session(refresh_token=None)
    candidate = select_candidate(session, config, audience=B, scope="")
    assert candidate.access_token is None and candidate.refresh_token is None


# --------------------------------------------------------------------------------------
# 7.4 persistence: the global token set
# --------------------------------------------------------------------------------------


def test_global_refresh_replaces_the_primary_set() -> None:
    config = make_config()
    session = make_session(requested_scope=DEFAULT_SCOPE)
    updated = apply_refresh(
        session,
        config,
        audience=None,
        requested_scope=DEFAULT_SCOPE,
        tokens=tokens(
            "at-new",
            refresh_token="rt-new",
            id_token="id-new",
            scope="openid profile",
            expires_in=600,
            token_type="DPoP",
        ),
        issued_at=NOW,
        now=NOW,
    )
    ts = updated.token_set
    assert ts.access_token == "at-new"
    assert ts.refresh_token == "rt-new"
    assert ts.id_token == "id-new"
    assert ts.scope == "openid profile"
    assert ts.requested_scope == DEFAULT_SCOPE
    assert ts.expires_at == NOW + 600
    assert ts.token_type == "DPoP"
    assert updated.access_tokens == []
    assert updated.user == session.user
    assert updated.internal == session.internal
    assert updated.extra == session.extra


def test_global_refresh_keeps_refresh_and_id_token_when_none_returned() -> None:
    config = make_config()
    session = make_session()
    updated = apply_refresh(
        session,
        config,
        audience=None,
        requested_scope=DEFAULT_SCOPE,
        tokens=tokens("at-new", refresh_token=None, id_token=None),
        issued_at=NOW,
        now=NOW,
    )
    assert updated.token_set.access_token == "at-new"
    assert updated.token_set.refresh_token == "rt-old"
    assert updated.token_set.id_token == "id-old"


def test_global_refresh_without_expires_in_defaults_to_an_hour() -> None:
    config = make_config()
    updated = apply_refresh(
        make_session(),
        config,
        audience=None,
        requested_scope="",
        tokens=tokens(expires_in=None),
        issued_at=NOW,
        now=NOW,
    )
    assert updated.token_set.expires_at == NOW + 3600


def test_global_refresh_keeps_previous_scope_when_none_granted() -> None:
    config = make_config()
    updated = apply_refresh(
        make_session(scope="openid profile"),
        config,
        audience=None,
        requested_scope="",
        tokens=tokens(scope=None),
        issued_at=NOW,
        now=NOW,
    )
    assert updated.token_set.scope == "openid profile"


def test_global_refresh_for_the_configured_audience_records_it() -> None:
    config = make_config(audience=A)
    updated = apply_refresh(
        make_session(audience=None),
        config,
        audience=A,
        requested_scope=DEFAULT_SCOPE,
        tokens=tokens("at-a"),
        issued_at=NOW,
        now=NOW,
    )
    assert updated.token_set.access_token == "at-a"
    assert updated.token_set.audience == A
    assert updated.access_tokens == []


def test_global_refresh_prunes_expired_entries() -> None:
    config = make_config()
    live = entry(B, "live", "read:b", expires_at=NOW + 10)
    dead = entry(A, "dead", "read:a", expires_at=NOW)
    updated = apply_refresh(
        make_session(entries=[dead, live]),
        config,
        audience=None,
        requested_scope="",
        tokens=tokens(),
        issued_at=NOW,
        now=NOW,
    )
    assert [e.access_token for e in updated.access_tokens] == ["live"]


# --------------------------------------------------------------------------------------
# 7.4 persistence: other audiences
# --------------------------------------------------------------------------------------


def test_non_global_refresh_appends_an_entry_and_updates_shared_tokens() -> None:
    config = make_config(audience=A)
    session = make_session()
    updated = apply_refresh(
        session,
        config,
        audience=B,
        requested_scope="openid read:b",
        tokens=tokens(
            "at-b",
            refresh_token="rt-new",
            id_token="id-new",
            scope="read:b",
            expires_in=120,
            token_type="DPoP",
        ),
        issued_at=NOW,
        now=NOW,
    )
    assert updated.access_tokens == [
        AccessTokenSet(
            access_token="at-b",
            expires_at=NOW + 120,
            audience=B,
            scope="read:b",
            requested_scope="openid read:b",
            token_type="DPoP",
        )
    ]
    ts = updated.token_set
    # The shared refresh token and ID token move to the primary set ...
    assert ts.refresh_token == "rt-new"
    assert ts.id_token == "id-new"
    # ... but the primary access token is untouched.
    assert ts.access_token == "at-primary"
    assert ts.expires_at == NOW + 3600
    assert ts.scope == DEFAULT_SCOPE
    assert ts.audience is None


def test_non_global_refresh_keeps_shared_tokens_when_none_returned() -> None:
    config = make_config(audience=A)
    updated = apply_refresh(
        make_session(),
        config,
        audience=B,
        requested_scope="read:b",
        tokens=tokens("at-b", scope="read:b"),
        issued_at=NOW,
        now=NOW,
    )
    assert updated.token_set.refresh_token == "rt-old"
    assert updated.token_set.id_token == "id-old"


def test_non_global_refresh_replaces_the_matching_entry() -> None:
    config = make_config()
    old = entry(B, "tb-old", "read:b", "openid read:b", expires_at=NOW - 5)
    other = entry("https://c", "tc", "read:c", "read:c")
    updated = apply_refresh(
        make_session(entries=[old, other]),
        config,
        audience=B,
        requested_scope="openid read:b",
        tokens=tokens("tb-new", scope="read:b", expires_in=300),
        issued_at=NOW,
        now=NOW,
    )
    by_audience = {e.audience: e for e in updated.access_tokens}
    assert len(updated.access_tokens) == 2
    assert by_audience[B].access_token == "tb-new"
    assert by_audience[B].expires_at == NOW + 300
    assert by_audience[B].requested_scope == "openid read:b"
    assert by_audience["https://c"] == other


def test_replacing_an_entry_records_what_was_requested_for_the_new_token() -> None:
    """An entry requested for ``read:b write:b`` is refreshed by a request for ``read:b``
    only (it matched: its requested scope is a superset). The new token was requested, and
    granted, ``read:b`` only, so the replacement must not keep claiming ``write:b``;
    otherwise a later request for ``read:b write:b`` is answered with a token that was never
    requested for ``write:b``."""
    config = make_config()
    old = entry(B, "tb-old", "read:b write:b", "read:b write:b", expires_at=NOW - 5)
    session = make_session(entries=[old])
    # The narrow request selects the (expired) wide entry and refreshes for read:b only.
    assert select_candidate(session, config, audience=B, scope="read:b").access_token == "tb-old"
    updated = apply_refresh(
        session,
        config,
        audience=B,
        requested_scope="read:b",
        tokens=tokens("tb-narrow", scope="read:b", expires_in=600),
        issued_at=NOW,
        now=NOW,
    )
    wide_request = select_candidate(updated, config, audience=B, scope="read:b write:b")
    assert wide_request.access_token != "tb-narrow", (
        "a token requested and granted for 'read:b' answers a request for 'read:b write:b'"
    )
    [stored] = [e for e in updated.access_tokens if e.access_token == "tb-narrow"]
    assert stored.requested_scope == "read:b"


def test_a_wider_no_audience_refresh_answers_the_same_request_and_the_default() -> None:
    """Without an audience, a token requested for more than the login's scope replaces the
    primary set, so both that request and the default one find it (no refresh loop)."""
    config = make_config()
    session = make_session(requested_scope=DEFAULT_SCOPE, expires_at=NOW - 1)
    requested = DEFAULT_SCOPE + " read:x"
    first = apply_refresh(
        session,
        config,
        audience=None,
        requested_scope=requested,
        tokens=tokens("at-first", scope=requested, expires_in=600),
        issued_at=NOW,
        now=NOW,
    )
    assert select_candidate(first, config, audience=None, scope=requested).access_token == (
        "at-first"
    )
    assert select_candidate(first, config, audience=None, scope=DEFAULT_SCOPE).access_token == (
        "at-first"
    )


def test_a_narrower_no_audience_result_never_narrows_the_primary_set() -> None:
    """A token requested for less than the login's scope, with no audience to file it
    under, only updates the shared refresh and ID tokens (the service refreshes the primary
    set for such requests instead, see ``get_access_token``)."""
    config = make_config()
    session = make_session(requested_scope=DEFAULT_SCOPE, expires_at=NOW - 1)
    updated = apply_refresh(
        session,
        config,
        audience=None,
        requested_scope="email",
        tokens=tokens("at-narrow", scope="email", expires_in=600, refresh_token="rt-2"),
        issued_at=NOW,
        now=NOW,
    )
    assert updated.token_set.requested_scope == DEFAULT_SCOPE
    assert updated.token_set.access_token == session.token_set.access_token
    assert updated.token_set.refresh_token == "rt-2"
    assert not [e for e in updated.access_tokens if e.access_token == "at-narrow"]


def test_non_global_refresh_appends_for_different_granted_scope() -> None:
    config = make_config()
    old = entry(B, "tb-read", "read:b", "read:b")
    updated = apply_refresh(
        make_session(entries=[old]),
        config,
        audience=B,
        requested_scope="write:b",
        tokens=tokens("tb-write", scope="write:b"),
        issued_at=NOW,
        now=NOW,
    )
    assert sorted(e.access_token for e in updated.access_tokens) == ["tb-read", "tb-write"]


def test_non_global_refresh_does_not_touch_entries_of_other_audiences() -> None:
    config = make_config()
    same_scope_other_aud = entry("https://c", "tc", "read:b", "read:b")
    updated = apply_refresh(
        make_session(entries=[same_scope_other_aud]),
        config,
        audience=B,
        requested_scope="read:b",
        tokens=tokens("tb", scope="read:b"),
        issued_at=NOW,
        now=NOW,
    )
    assert {e.access_token for e in updated.access_tokens} == {"tc", "tb"}
    assert same_scope_other_aud in updated.access_tokens


def test_apply_refresh_does_not_mutate_the_input_session() -> None:
    config = make_config(audience=A)
    entries = [
        entry(B, "tb", "read:b", "read:b", expires_at=NOW - 1),
        entry("https://c", "tc", "read:c", "read:c"),
    ]
    for audience in (None, A, B, "https://c"):
        session = make_session(entries=copy.deepcopy(entries))
        before = copy.deepcopy(session.to_dict())
        token_set_before = session.token_set
        list_before = session.access_tokens
        updated = apply_refresh(
            session,
            config,
            audience=audience,
            requested_scope="read:b" if audience == B else "",
            tokens=tokens("at-x", refresh_token="rt-x", id_token="id-x", scope="read:b"),
            issued_at=NOW,
            now=NOW,
        )
        assert updated is not session
        assert session.to_dict() == before, audience
        assert session.token_set is token_set_before
        assert session.access_tokens is list_before
        assert updated.access_tokens is not session.access_tokens
        assert updated.token_set is not session.token_set


def test_non_global_refresh_prunes_expired_and_caps_newest_by_expiry() -> None:
    config = make_config()
    live = [
        entry(f"https://api{i}", f"t{i}", "read", expires_at=NOW + 100 * (i + 1)) for i in range(12)
    ]
    dead = [entry("https://dead", "dead", "read", expires_at=NOW - i) for i in range(3)]
    updated = apply_refresh(
        make_session(entries=dead + live),
        config,
        audience=B,
        requested_scope="read:b",
        tokens=tokens("tb", scope="read:b", expires_in=5000),
        issued_at=NOW,
        now=NOW,
    )
    assert len(updated.access_tokens) == MAX_ACCESS_TOKEN_ENTRIES == 10
    assert all(e.expires_at > NOW for e in updated.access_tokens)
    kept = sorted((e.expires_at for e in updated.access_tokens), reverse=True)
    everything = sorted([e.expires_at for e in live] + [NOW + 5000], reverse=True)
    assert kept == everything[:10]
    assert "tb" in {e.access_token for e in updated.access_tokens}
    # Newest first.
    assert [e.expires_at for e in updated.access_tokens] == kept


def test_entry_expiring_exactly_now_is_pruned() -> None:
    config = make_config()
    updated = apply_refresh(
        make_session(entries=[entry("https://c", "tc", "r", expires_at=NOW)]),
        config,
        audience=B,
        requested_scope="read:b",
        tokens=tokens("tb", scope="read:b"),
        issued_at=NOW,
        now=NOW,
    )
    assert [e.access_token for e in updated.access_tokens] == ["tb"]


# --------------------------------------------------------------------------------------
# Property: the list stays bounded and never holds an expired entry
# --------------------------------------------------------------------------------------

AUDIENCES = [A, B, "https://c", "https://d"]
SCOPES = ["", "read", "write", "read write", "admin", "openid read"]

entry_strategy = st.builds(
    lambda aud, token, scope, requested, offset: entry(
        aud, token, scope or None, requested or None, expires_at=NOW + offset
    ),
    st.sampled_from([*AUDIENCES, "https://e", "https://f"]),
    st.text(alphabet="abcdef", min_size=1, max_size=6),
    st.sampled_from(SCOPES),
    st.sampled_from(SCOPES),
    st.integers(min_value=-5_000, max_value=5_000),
)


@settings(max_examples=200, deadline=None)
@given(
    entries=st.lists(entry_strategy, max_size=16),
    audience=st.sampled_from([None, *AUDIENCES]),
    requested=st.sampled_from(SCOPES),
    granted=st.sampled_from([None, *SCOPES[1:]]),
    expires_in=st.one_of(st.none(), st.integers(min_value=0, max_value=10_000)),
    configured_audience=st.sampled_from([None, A]),
)
def test_apply_refresh_bounded_and_never_keeps_expired(
    entries: list[AccessTokenSet],
    audience: str | None,
    requested: str,
    granted: str | None,
    expires_in: int | None,
    configured_audience: str | None,
) -> None:
    config = make_config(audience=configured_audience) if configured_audience else make_config()
    session = make_session(entries=entries)
    before = copy.deepcopy(session.to_dict())
    updated = apply_refresh(
        session,
        config,
        audience=audience,
        requested_scope=requested,
        tokens=tokens("new", refresh_token="rt-new", scope=granted, expires_in=expires_in),
        issued_at=NOW,
        now=NOW,
    )
    assert len(updated.access_tokens) <= MAX_ACCESS_TOKEN_ENTRIES
    assert all(e.expires_at > NOW for e in updated.access_tokens)
    assert updated.token_set.refresh_token == "rt-new"
    assert session.to_dict() == before
