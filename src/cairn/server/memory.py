"""Keys, jobs and feedback in this process's memory (`memory://`): for tests and a server
that keeps nothing between runs. Several stores may share one `MemoryTables`, as several
processes share one database."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cairn.server.jobstore import ABANDONED, LEASE_S, MAX_ATTEMPTS, UPDATABLE
from cairn.server.keys import KEY_PREFIX, ApiKey, hash_key, new_key


@dataclass(slots=True)
class MemoryTables:
    """The rows, shared by the stores built on them."""

    keys: dict[str, tuple[str, ApiKey]] = field(default_factory=dict)
    """key id -> (hash, key)."""
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    feedback: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    """(trace id, tenant, user or "") -> item (with its tenant)."""
    lock: threading.Lock = field(default_factory=threading.Lock)


class MemoryKeyStore:
    """`KeyStore` in memory."""

    def __init__(self, tables: MemoryTables | None = None) -> None:
        self.tables = tables or MemoryTables()

    def create(
        self, *, tenant: str, scopes: Sequence[str], name: str | None = None
    ) -> tuple[ApiKey, str]:
        key, secret = new_key(tenant=tenant, scopes=scopes, name=name)
        with self.tables.lock:
            self.tables.keys[key.id] = (hash_key(secret), key)
        return key, secret

    def verify(self, secret: str) -> ApiKey | None:
        if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        digest = hash_key(secret)
        with self.tables.lock:
            found = [k for h, k in self.tables.keys.values() if h == digest and k.active]
        return found[0] if found else None

    def keys(self) -> list[ApiKey]:
        with self.tables.lock:
            held = [k for _, k in self.tables.keys.values()]
        return sorted(held, key=lambda k: (k.created_at, k.id))

    def revoke(self, key_id: str) -> bool:
        with self.tables.lock:
            held = self.tables.keys.get(key_id)
            if held is None or not held[1].active:
                return False
            self.tables.keys[key_id] = (held[0], replace(held[1], revoked_at=_now()))
        return True


class MemoryJobStore:
    """`JobStore` in memory, with the same leases as `SQLiteJobStore`."""

    def __init__(
        self,
        tables: MemoryTables | None = None,
        *,
        owner: str | None = None,
        lease_s: float = LEASE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self.tables = tables or MemoryTables()
        self.owner = owner or f"proc_{uuid.uuid4().hex[:12]}"
        self.lease_s = lease_s
        self.clock = clock

    def create(
        self, tenant: str, files: list[str], inputs: Mapping[str, bytes] | None = None
    ) -> dict[str, Any]:
        job_id = "job_" + secrets.token_hex(8)
        row = {
            "id": job_id,
            "status": "queued",
            "files": list(files),
            "done": 0,
            "failed": 0,
            "chunks": 0,
            "flagged": 0,
            "quarantined": 0,
            "failures": [],
            "error": None,
            "tenant": tenant,
            "owner": self.owner,
            "lease_until": self.clock() + self.lease_s,
            "attempts": 1,
            "inputs": {name: bytes(data) for name, data in (inputs or {}).items()},
            "created": next(_ORDER),
        }
        with self.tables.lock:
            self.tables.jobs[job_id] = row
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        with self.tables.lock:
            row = self.tables.jobs.get(job_id)
            if row is None or (tenant is not None and row["tenant"] != tenant):
                return None
            return {k: copy.deepcopy(v) for k, v in row.items() if k in UPDATABLE | {"id"}}

    def update(self, job_id: str, **fields: Any) -> bool:
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot update job field(s) {sorted(unknown)}: use {UPDATABLE}")
        with self.tables.lock:
            row = self.tables.jobs.get(job_id)
            if row is None or row["owner"] != self.owner or not _live(row):
                return False
            row.update(copy.deepcopy(fields))
            if not _live(row):
                row["inputs"] = {}
            return True

    def inputs(self, job_id: str) -> dict[str, bytes]:
        with self.tables.lock:
            row = self.tables.jobs.get(job_id)
            return dict(sorted(row["inputs"].items())) if row is not None else {}

    def claim(self) -> dict[str, Any] | None:
        now = self.clock()
        with self.tables.lock:
            free = [
                r
                for r in self.tables.jobs.values()
                if self._abandoned(r, now) and r["inputs"] and r["attempts"] < MAX_ATTEMPTS
            ]
            if not free:
                return None
            row = min(free, key=lambda r: r["created"])
            row.update(owner=self.owner, lease_until=now + self.lease_s)
            row["attempts"] += 1
            job = {k: copy.deepcopy(v) for k, v in row.items() if k in UPDATABLE | {"id"}}
            return job | {"tenant": row["tenant"]}

    def release(self, job_id: str) -> bool:
        with self.tables.lock:
            row = self.tables.jobs.get(job_id)
            if row is None or row["owner"] != self.owner or not _live(row):
                return False
            row.update(owner=None, lease_until=0.0)
            row["attempts"] -= 1
            return True

    def _abandoned(self, row: dict[str, Any], now: float) -> bool:
        return bool(_live(row) and row["owner"] != self.owner and row["lease_until"] < now)

    def renew(self) -> int:
        until = self.clock() + self.lease_s
        with self.tables.lock:
            mine = [r for r in self.tables.jobs.values() if _live(r) and r["owner"] == self.owner]
            for row in mine:
                row["lease_until"] = until
        return len(mine)

    def fail_abandoned(self) -> int:
        now = self.clock()
        with self.tables.lock:
            gone = [
                r
                for r in self.tables.jobs.values()
                if self._abandoned(r, now) and (not r["inputs"] or r["attempts"] >= MAX_ATTEMPTS)
            ]
            for row in gone:
                row.update(status="failed", error=ABANDONED, inputs={})
        return len(gone)


class MemoryFeedbackStore:
    """`FeedbackStore` in memory."""

    def __init__(self, tables: MemoryTables | None = None) -> None:
        self.tables = tables or MemoryTables()

    def add(
        self, *, trace_id: str, tenant: str, user: str | None, rating: str, comment: str | None
    ) -> tuple[dict[str, Any], bool]:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        slot = (trace_id, tenant, user or "")
        with self.tables.lock:
            held = self.tables.feedback.get(slot)
            created = held is None
            item_id = "fb_" + secrets.token_hex(8) if held is None else held["id"]
            if held is not None and comment is None:
                comment = held["comment"]
            item = {
                "id": item_id,
                "trace_id": trace_id,
                "rating": rating,
                "comment": comment,
                "user": user,
                "created_at": now,
            }
            self.tables.feedback[slot] = item | {"tenant": tenant}
        return dict(item), created

    def recent(self, *, tenant: str | None, limit: int = 100) -> list[dict[str, Any]]:
        with self.tables.lock:
            held = [
                {k: v for k, v in item.items() if k != "tenant"}
                for item in self.tables.feedback.values()
                if tenant is None or item["tenant"] == tenant
            ]
        held.sort(key=lambda item: item["id"])
        held.sort(key=lambda item: item["created_at"], reverse=True)
        return held[:limit]


_ORDER = itertools.count()
"""Creation order of jobs, for claiming the oldest first."""


def _live(row: dict[str, Any]) -> bool:
    return row["status"] in ("queued", "running")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
