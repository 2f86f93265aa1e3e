"""Who is calling: a `Caller` from the API key (keys mode) or the local user (local mode).

- `server.auth = "keys"`: every `/v1` request carries `Authorization: Bearer cairn_...`; the
  key's tenant is the caller's ACL principal and the owner of what it creates (uploads,
  traces, feedback, ledger entries); requests are rate limited per key.
- `server.auth = "local"`: one user on a loopback address, no key, no ACL check, no rate
  limit. The server refuses to bind a non-loopback address in this mode unless forced.

Verified keys are cached for a few seconds, so a revoked key stops working within
`KEY_CACHE_S` seconds.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass

from cairn.errors import ConfigError
from cairn.server.keys import SCOPES, ApiKey, KeyStore, hash_key

LOCAL_TENANT = "local"
KEY_CACHE_S = 5.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Caller:
    tenant: str
    """Owner of the caller's uploads, traces, feedback and costs; its ACL principal."""
    user: str
    key_id: str | None
    scopes: tuple[str, ...]
    local: bool = False
    """Local single-user mode: no ACL filter, every tenant's data is the user's."""

    def allows(self, scope: str) -> bool:
        return self.local or "admin" in self.scopes or scope in self.scopes

    @property
    def principal(self) -> str | None:
        """The ACL principal for store queries (None in local mode: no ACL check)."""
        return None if self.local else self.tenant

    @property
    def owner(self) -> str | None:
        """Whose records this caller reads (None in local mode: all of them)."""
        return None if self.local else self.tenant


LOCAL_CALLER = Caller(
    tenant=LOCAL_TENANT, user=LOCAL_TENANT, key_id=None, scopes=SCOPES, local=True
)


def caller_of(key: ApiKey) -> Caller:
    return Caller(tenant=key.tenant, user=key.name or key.id, key_id=key.id, scopes=key.scopes)


class KeyCache:
    """Verified keys by hash, for `KEY_CACHE_S` seconds (misses are not cached)."""

    def __init__(self, keys: KeyStore, ttl_s: float = KEY_CACHE_S) -> None:
        self.keys = keys
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def cached(self, secret: str) -> Caller | None:
        digest = hash_key(secret)
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def verify(self, secret: str) -> Caller | None:
        """Look the key up in `server.db` (blocking: call it off the event loop)."""
        key = self.keys.verify(secret)
        if key is None:
            return None
        caller = caller_of(key)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[hash_key(secret)] = (time.monotonic() + self.ttl_s, caller)
        return caller


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, auth: str, *, force: bool = False) -> None:
    """Refuse local (keyless) mode on an address other machines can reach."""
    if auth == "local" and not is_loopback(host) and not force:
        raise ConfigError(
            f"server.auth is 'local' (no API keys) but the host {host!r} is not a loopback "
            "address: anyone who can reach it could use the server. Set server.auth = 'keys' "
            "(CAIRN_SERVER_AUTH=keys) and create keys with 'cairn keys create', bind to "
            "127.0.0.1, or pass --force if a proxy in front does the authentication"
        )
