"""OpenID Connect Discovery 1.0 and the JWKS, each cached with a TTL.

The discovered ``issuer`` must equal the configured issuer exactly (Discovery section 4.3),
every endpoint must be https unless insecure requests were allowed, and a failed fetch is
never cached. Concurrent first requests share one in-flight fetch (single flight), so a
cold start under load makes one discovery call, not hundreds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from joserfc.jwk import ECKey, OKPKey, RSAKey

from .._errors import DiscoveryError, HttpError
from ._http_client import HttpClient

__all__ = ["DiscoveryCache", "JwksCache", "ProviderMetadata", "PublicKey"]

PublicKey = RSAKey | ECKey | OKPKey
_T = TypeVar("_T")

#: Minimum seconds between two JWKS refetches caused by an unknown ``kid``.
JWKS_REFETCH_COOLDOWN = 30.0
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document the SDK uses, validated."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    revocation_endpoint: str | None
    userinfo_endpoint: str | None
    par_endpoint: str | None
    iss_parameter_supported: bool
    raw: dict[str, Any]


class _SingleFlight:
    """One in-flight fetch per key and event loop; callers await the same task.

    The fetch runs as its own task, so a caller that is cancelled (its client went away)
    does not cancel the fetch the others are waiting for.
    """

    def __init__(self) -> None:
        self._inflight: dict[tuple[int, str], asyncio.Task[Any]] = {}

    async def run(self, key: str, factory: Callable[[], Awaitable[_T]]) -> _T:
        loop = asyncio.get_running_loop()
        slot = (id(loop), key)
        task = self._inflight.get(slot)
        if task is None:

            async def call() -> _T:
                return await factory()

            task = loop.create_task(call())
            self._inflight[slot] = task
            task.add_done_callback(lambda done: self._finished(slot, done))
        result: _T = await asyncio.shield(task)
        return result

    def _finished(self, slot: tuple[int, str], task: asyncio.Task[Any]) -> None:
        self._inflight.pop(slot, None)
        if not task.cancelled():
            task.exception()  # retrieved: every caller may have gone away


def _endpoint(doc: dict[str, Any], name: str, *, insecure: bool, required: bool) -> str | None:
    value = doc.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise DiscoveryError()
    if not (value.startswith("https://") or (insecure and value.startswith("http://"))):
        raise DiscoveryError()
    return value


def parse_metadata(doc: object, *, issuer: str, insecure: bool) -> ProviderMetadata:
    if not isinstance(doc, dict) or doc.get("issuer") != issuer:
        raise DiscoveryError()
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=_endpoint(
            doc, "authorization_endpoint", insecure=insecure, required=True
        )
        or "",
        token_endpoint=_endpoint(doc, "token_endpoint", insecure=insecure, required=True) or "",
        jwks_uri=_endpoint(doc, "jwks_uri", insecure=insecure, required=True) or "",
        end_session_endpoint=_endpoint(
            doc, "end_session_endpoint", insecure=insecure, required=False
        ),
        revocation_endpoint=_endpoint(
            doc, "revocation_endpoint", insecure=insecure, required=False
        ),
        userinfo_endpoint=_endpoint(doc, "userinfo_endpoint", insecure=insecure, required=False),
        par_endpoint=_endpoint(
            doc, "pushed_authorization_request_endpoint", insecure=insecure, required=False
        ),
        iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported") is True,
        raw=doc,
    )


class DiscoveryCache:
    def __init__(self, http: HttpClient, *, issuer: str, insecure: bool, ttl: float) -> None:
        self.http = http
        self.issuer = issuer
        self.insecure = insecure
        self.ttl = ttl
        self._value: ProviderMetadata | None = None
        self._fetched_at = 0.0
        self._flight = _SingleFlight()

    @property
    def url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    async def get(self) -> ProviderMetadata:
        value = self._value
        if value is not None and time.monotonic() - self._fetched_at < self.ttl:
            return value
        return await self._flight.run("discovery", self._fetch)

    async def _fetch(self) -> ProviderMetadata:
        try:
            response = await self.http.get(self.url)
        except HttpError as exc:
            raise DiscoveryError(cause=exc) from exc
        if response.status != 200:
            raise DiscoveryError()
        metadata = parse_metadata(
            response.json_object(), issuer=self.issuer, insecure=self.insecure
        )
        self._value = metadata
        self._fetched_at = time.monotonic()
        return metadata


def parse_jwks(doc: object) -> dict[str | None, list[PublicKey]]:
    """Public signing keys by ``kid``; unusable entries are skipped, not fatal."""
    keys: dict[str | None, list[PublicKey]] = {}
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        return keys
    for entry in doc["keys"][:100]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if kid is not None and not isinstance(kid, str):
            continue
        if "d" in entry or "k" in entry:  # private or symmetric material: never a verifier
            continue
        key: PublicKey
        try:
            kty = entry.get("kty")
            if kty == "RSA":
                key = RSAKey.import_key(entry)
                if key.raw_value.key_size < MIN_RSA_BITS:
                    continue
            elif kty == "EC":
                key = ECKey.import_key(entry)
            elif kty == "OKP":
                key = OKPKey.import_key(entry)
            else:
                continue
        except Exception:  # noqa: S112 - a malformed key is skipped; others may be fine
            continue
        keys.setdefault(kid, []).append(key)
    return keys


class JwksCache:
    """The provider's signing keys; an unknown ``kid`` triggers one rate-limited refetch."""

    def __init__(self, http: HttpClient, *, ttl: float) -> None:
        self.http = http
        self.ttl = ttl
        self._keys: dict[str | None, list[PublicKey]] | None = None
        self._uri: str | None = None
        self._fetched_at = 0.0
        #: When an unknown ``kid`` last forced a refetch (the cooldown is measured from it,
        #: so the first unknown ``kid`` after a routine fetch always refetches).
        self._refetched_at = -JWKS_REFETCH_COOLDOWN
        self._flight = _SingleFlight()

    async def _load(self, uri: str) -> dict[str | None, list[PublicKey]]:
        response = await self.http.get(uri)
        if response.status != 200:
            raise HttpError("The JWKS could not be fetched.")
        keys = parse_jwks(response.json_object())
        if not keys:
            # An HTML page, a broken document, or no usable key: a failed fetch, never
            # cached (remembering it would refuse every token until the TTL ran out).
            raise HttpError("The JWKS could not be fetched.")
        self._keys, self._uri, self._fetched_at = keys, uri, time.monotonic()
        return keys

    async def _current(self, uri: str) -> dict[str | None, list[PublicKey]]:
        keys = self._keys
        if keys is not None and self._uri == uri and time.monotonic() - self._fetched_at < self.ttl:
            return keys
        return await self._flight.run(uri, lambda: self._load(uri))

    async def candidates(self, uri: str, kid: str | None) -> list[PublicKey]:
        """Keys that may have signed a token with this ``kid`` (refetching once if unknown)."""
        keys = await self._current(uri)
        found = _select(keys, kid)
        if found:
            return found
        if time.monotonic() - self._refetched_at < JWKS_REFETCH_COOLDOWN:
            return []
        previous, self._refetched_at = self._refetched_at, time.monotonic()
        try:
            keys = await self._flight.run(uri, lambda: self._load(uri))
        except HttpError:
            # The keys are still unknown: the next token may try again (a failed refetch
            # must not lock out a rotated key for the cooldown once the provider is back).
            self._refetched_at = previous
            raise
        return _select(keys, kid)


def _select(keys: dict[str | None, list[PublicKey]], kid: str | None) -> list[PublicKey]:
    if kid is not None:
        return list(keys.get(kid, []))
    return [key for group in keys.values() for key in group]
