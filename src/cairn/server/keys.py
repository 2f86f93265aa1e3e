"""API keys: random, shown once, stored as SHA-256 hashes, bound to a tenant and scopes.

A key is `cairn_` followed by 43 URL-safe characters (32 random bytes). Only its SHA-256 is
stored (a key with 256 bits of entropy needs no slow hash: there is nothing to brute-force),
with an id for listing and revoking and the first characters for recognising it.

Scopes: `ask` (ask, chat completions, feedback), `search` (search, chunks), `documents`
(upload, list, delete, jobs), `traces` (traces and feedback, read), `costs`, `evals`
(read runs), `metrics` (`/metrics`, for a Prometheus scraper), `admin` (everything,
and starting eval runs).

This module needs no FastAPI: `cairn keys` uses it directly.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cairn.errors import UserError
from cairn.server.db import StateDB, writing

KEY_PREFIX = "cairn_"
SCOPES: tuple[str, ...] = (
    "ask",
    "search",
    "documents",
    "traces",
    "costs",
    "evals",
    "metrics",
    "agent",
    "agent:write",
    "agent:send",
    "admin",
)
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


@dataclass(frozen=True, kw_only=True, slots=True)
class ApiKey:
    id: str
    prefix: str
    """The key's first characters, to recognise it (`cairn_AbCd…`); not enough to use it."""
    tenant: str
    name: str | None
    scopes: tuple[str, ...]
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "prefix": self.prefix,
            "tenant": self.tenant,
            "name": self.name,
            "scopes": list(self.scopes),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_tenant(tenant: str) -> str:
    if not _TENANT.match(tenant):
        raise UserError(
            f"invalid tenant {tenant!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return tenant


@runtime_checkable
class KeyStore(Protocol):
    """API keys, kept as hashes: create one, verify a secret, list, revoke."""

    def create(
        self, *, tenant: str, scopes: Sequence[str], name: str | None = None
    ) -> tuple[ApiKey, str]:
        """A new key and its secret (returned once; only the hash is kept)."""
        ...

    def verify(self, secret: str) -> ApiKey | None:
        """The active key with this secret, or None."""
        ...

    def keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        ...

    def revoke(self, key_id: str) -> bool:
        """Revoke a key; False when no active key has this id."""
        ...


def new_key(*, tenant: str, scopes: Sequence[str], name: str | None) -> tuple[ApiKey, str]:
    """A checked new key and its secret, for any `KeyStore` to keep."""
    check_tenant(tenant)
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise UserError(
            f"unknown scope(s) {', '.join(unknown)}: choose from {', '.join(SCOPES)}"
            if unknown
            else f"give at least one --scope ({', '.join(SCOPES)})"
        )
    secret = KEY_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    key = ApiKey(
        id="key_" + secrets.token_hex(6),
        prefix=secret[:10],
        tenant=tenant,
        name=name,
        scopes=tuple(dict.fromkeys(scopes)),
        created_at=_now(),
    )
    return key, secret


class SQLiteKeyStore:
    """`KeyStore` on the `keys` table of `server.db`, or of Postgres (`StateDB`)."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    def create(
        self, *, tenant: str, scopes: Sequence[str], name: str | None = None
    ) -> tuple[ApiKey, str]:
        key, secret = new_key(tenant=tenant, scopes=scopes, name=name)
        with writing(self.db, serial=False) as db:
            db.execute(
                "INSERT INTO keys (id, hash, prefix, tenant, name, scopes, created_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    key.id,
                    hash_key(secret),
                    key.prefix,
                    key.tenant,
                    key.name,
                    json.dumps(list(key.scopes)),
                    key.created_at,
                ),
            )
        return key, secret

    def verify(self, secret: str) -> ApiKey | None:
        if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        with self.db.reading() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM keys WHERE hash = ? AND revoked_at IS NULL",
                (hash_key(secret),),
            ).fetchone()
        return _key(row) if row else None

    def keys(self) -> list[ApiKey]:
        with self.db.reading() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM keys ORDER BY created_at, id").fetchall()
        return [_key(r) for r in rows]

    def revoke(self, key_id: str) -> bool:
        with writing(self.db, serial=False) as db:
            cur = db.execute(
                "UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (_now(), key_id),
            )
        return cur.rowcount > 0


_COLUMNS = "id, prefix, tenant, name, scopes, created_at, revoked_at"


def _key(row: Any) -> ApiKey:
    r = tuple(row)
    return ApiKey(
        id=str(r[0]),
        prefix=str(r[1]),
        tenant=str(r[2]),
        name=None if r[3] is None else str(r[3]),
        scopes=tuple(json.loads(str(r[4]))),
        created_at=str(r[5]),
        revoked_at=None if r[6] is None else str(r[6]),
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
