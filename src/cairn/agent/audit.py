"""The audit log: append-only, hash-chained records of what a run did.

Every record holds the hash of the record before it (per run, `seq` 1, 2, ...), and its own
hash is sha256 over its canonical JSON (run, seq, kind, time, payload, previous hash). The run
row keeps the hash and number of its last record, so `verify` finds an edited record (its
hash no longer matches), a deleted one (the chain or the numbering breaks) and a deleted
tail (the head no longer matches). Records are written in the same transaction as the state
change they describe.

Kinds: `run_started`, `model_call` (model, tokens, cost), `tool_call` (tool, argument
digest, policy), `approval` / `rejection` / `edit` (who, when, which digest), `execution` /
`execution_done` / `execution_failed` (idempotency key, result digest), `run_finished`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cairn.agent.tools import canonical_json
from cairn.sql import SqlConnection

GENESIS = "0" * 64
"""The `prev` of a run's first record."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditRecord:
    run_id: str
    seq: int
    kind: str
    at: str
    payload: dict[str, Any]
    prev: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "kind": self.kind,
            "at": self.at,
            "payload": self.payload,
            "prev": self.prev,
            "hash": self.hash,
        }


def record_hash(run_id: str, seq: int, kind: str, at: str, payload: Any, prev: str) -> str:
    body = {"run_id": run_id, "seq": seq, "kind": kind, "at": at, "payload": payload, "prev": prev}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def append(
    db: SqlConnection, run_id: str, kind: str, payload: dict[str, Any], at: str
) -> AuditRecord:
    """Add one record to `run_id`'s chain (call inside the write transaction that makes the
    change it records)."""
    row = db.execute(
        "SELECT audit_seq, audit_head FROM agent_runs WHERE id = ?", (run_id,)
    ).fetchone()
    seq, prev = (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS)
    text = canonical_json(payload)
    h = record_hash(run_id, seq, kind, at, json.loads(text), prev)
    db.execute(
        "INSERT INTO agent_audit (run_id, seq, kind, at, payload, prev, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (run_id, seq, kind, at, text, prev, h),
    )
    db.execute("UPDATE agent_runs SET audit_seq = ?, audit_head = ? WHERE id = ?", (seq, h, run_id))
    return AuditRecord(
        run_id=run_id, seq=seq, kind=kind, at=at, payload=json.loads(text), prev=prev, hash=h
    )


def records(db: SqlConnection, run_id: str) -> list[AuditRecord]:
    rows = db.execute(
        "SELECT run_id, seq, kind, at, payload, prev, hash FROM agent_audit "
        "WHERE run_id = ? ORDER BY seq",
        (run_id,),
    ).fetchall()
    return [
        AuditRecord(
            run_id=r[0],
            seq=int(r[1]),
            kind=r[2],
            at=r[3],
            payload=json.loads(r[4]),
            prev=r[5],
            hash=r[6],
        )
        for r in rows
    ]


@dataclass(frozen=True, kw_only=True, slots=True)
class Verification:
    ok: bool
    records: int
    problems: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "problems": list(self.problems)}


def verify(chain: list[AuditRecord], head: str, count: int) -> Verification:
    """Check a run's chain against the head its run row holds."""
    problems: list[str] = []
    prev = GENESIS
    expected = 1
    for rec in chain:
        if rec.seq != expected:
            problems.append(f"record {expected} is missing (next found is {rec.seq})")
        expected = rec.seq + 1
        if rec.prev != prev:
            problems.append(f"record {rec.seq} does not follow the record before it")
        if record_hash(rec.run_id, rec.seq, rec.kind, rec.at, rec.payload, rec.prev) != rec.hash:
            problems.append(f"record {rec.seq} ({rec.kind}) was changed after it was written")
        prev = rec.hash
    if len(chain) != count or prev != (head if count else GENESIS):
        problems.append(
            f"the run's head says {count} records ending in {head[:12]}, the log holds "
            f"{len(chain)} ending in {prev[:12]}: records were deleted or added"
        )
    return Verification(ok=not problems, records=len(chain), problems=tuple(problems))
