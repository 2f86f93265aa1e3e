"""Shadow A/B: a share of real requests also goes to a candidate model, off the user's path.

    stage = ShadowStage(candidate, verifier, ShadowStore(path), fraction=0.1)
    pipeline = Pipeline(..., shadow=stage)

After the pipeline has its answer, `offer()` draws whether this request is shadowed and, if
so, queues the question, its evidence and the answer for a background worker; the request
returns at once (queueing is the only work on its path). The worker asks the candidate
answerer on the same evidence (its model calls are metered under the feature `shadow`, for
the same user and tenant, so the candidate spends against the budget on its own line),
verifies the candidate's draft with the same verifier as the answer, and, when a `Grader`
is given, grades both answers against the evidence. Each pair is stored in `shadow.db`;
`cairn eval shadow` reports the paired comparison with confidence intervals and what each
side cost.

A full queue (`max_pending`) drops the offer rather than hold the request; a candidate that
fails is recorded as failed. Nothing a shadow does ever reaches the caller.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import random
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.context import request_context
from cairn.errors import StoreError
from cairn.sqlite import SQLiteFile


class _Withheld(Exception):
    """A candidate's answer the output guard blocked: recorded as the pair's error."""


if TYPE_CHECKING:
    from cairn.answer.base import Answerer
    from cairn.answer.verify import Verifier
    from cairn.evals.judge import Grader
    from cairn.stages import OutputGuard
    from cairn.types import Answer, Citation, Filters, Hit

log = logging.getLogger(__name__)

SHADOW_FILE = "shadow.db"
FEATURE = "shadow"

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE pairs (
        id TEXT PRIMARY KEY,
        ts TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        user_id TEXT,
        tenant_id TEXT,
        question TEXT NOT NULL,
        primary_model TEXT NOT NULL,
        candidate_model TEXT NOT NULL,
        primary_answer TEXT NOT NULL,
        candidate_answer TEXT NOT NULL,
        primary_abstained INTEGER NOT NULL,
        candidate_abstained INTEGER NOT NULL,
        primary_verified REAL NOT NULL,
        candidate_verified REAL NOT NULL,
        primary_judge REAL,
        candidate_judge REAL,
        primary_cost_nanos INTEGER NOT NULL,
        candidate_cost_nanos INTEGER NOT NULL,
        error TEXT
    );
    CREATE INDEX pairs_ts ON pairs (ts);
    """,
)


class ShadowError(StoreError):
    """The shadow store cannot be read or written."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ShadowPair:
    """One shadowed request: the answer the caller got and the candidate's, both scored."""

    id: str
    ts: str
    trace_id: str
    question: str
    primary_model: str
    candidate_model: str
    primary_answer: str
    candidate_answer: str
    primary_abstained: bool
    candidate_abstained: bool
    primary_verified: float
    """Share of the answer's citations the verifier confirmed (0 for an abstention)."""
    candidate_verified: float
    primary_judge: float | None
    candidate_judge: float | None
    primary_cost_nanos: int
    candidate_cost_nanos: int
    user: str | None = None
    tenant: str | None = None
    error: str | None = None
    """Why the candidate produced no answer (the pair is left out of comparisons)."""


def verified_share(citations: Sequence[Citation], abstained: bool) -> float:
    """The verifier's score of an answer: the share of its citations verified."""
    if abstained or not citations:
        return 0.0
    return sum(1 for c in citations if c.verified) / len(citations)


class ShadowStore:
    """`shadow.db`: the stored pairs (SQLite, next to the ledger)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = SQLiteFile(
            path,
            _MIGRATIONS,
            what="the shadow comparisons",
            damaged_hint="move it away (the stored comparisons are lost)",
            error=ShadowError,
            rows=True,
        )

    def add(self, pair: ShadowPair) -> None:
        with self._file.transaction() as db:
            db.execute(
                "INSERT INTO pairs (id, ts, trace_id, user_id, tenant_id, question, "
                "primary_model, candidate_model, primary_answer, candidate_answer, "
                "primary_abstained, candidate_abstained, primary_verified, candidate_verified, "
                "primary_judge, candidate_judge, primary_cost_nanos, candidate_cost_nanos, "
                "error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    pair.id,
                    pair.ts,
                    pair.trace_id,
                    pair.user,
                    pair.tenant,
                    pair.question,
                    pair.primary_model,
                    pair.candidate_model,
                    pair.primary_answer,
                    pair.candidate_answer,
                    int(pair.primary_abstained),
                    int(pair.candidate_abstained),
                    pair.primary_verified,
                    pair.candidate_verified,
                    pair.primary_judge,
                    pair.candidate_judge,
                    pair.primary_cost_nanos,
                    pair.candidate_cost_nanos,
                    pair.error,
                ),
            )

    def pairs(self, *, since: str | None = None) -> list[ShadowPair]:
        where, params = ("WHERE ts >= ?", [since]) if since else ("", [])
        with self._file.reading() as db:
            rows = db.execute(f"SELECT * FROM pairs {where} ORDER BY ts, id", params).fetchall()
        return [_pair(r) for r in rows]

    def close(self) -> None:
        self._file.close()


def _pair(row: Any) -> ShadowPair:
    return ShadowPair(
        id=row["id"],
        ts=row["ts"],
        trace_id=row["trace_id"],
        user=row["user_id"],
        tenant=row["tenant_id"],
        question=row["question"],
        primary_model=row["primary_model"],
        candidate_model=row["candidate_model"],
        primary_answer=row["primary_answer"],
        candidate_answer=row["candidate_answer"],
        primary_abstained=bool(row["primary_abstained"]),
        candidate_abstained=bool(row["candidate_abstained"]),
        primary_verified=float(row["primary_verified"]),
        candidate_verified=float(row["candidate_verified"]),
        primary_judge=row["primary_judge"],
        candidate_judge=row["candidate_judge"],
        primary_cost_nanos=int(row["primary_cost_nanos"]),
        candidate_cost_nanos=int(row["candidate_cost_nanos"]),
        error=row["error"],
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class _Job:
    question: str
    hits: tuple[Hit, ...]
    answer: Answer
    user: str | None
    tenant: str | None
    ts: str
    filters: Filters | None = None


class ShadowStage:
    """The `shadow` stage of the pipeline: samples, queues, and scores in the background."""

    def __init__(
        self,
        candidate: Answerer,
        verifier: Verifier,
        store: ShadowStore,
        *,
        fraction: float,
        candidate_model: str,
        primary_model: str,
        grader: Grader | None = None,
        seed: int | None = None,
        max_pending: int = 64,
        output_guard: OutputGuard | None = None,
    ) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"shadow fraction must be in [0, 1], got {fraction}")
        self.candidate = candidate
        self.verifier = verifier
        self.store = store
        self.fraction = fraction
        self.candidate_model = candidate_model
        self.primary_model = primary_model
        self.grader = grader
        self.output_guard = output_guard
        """The pipeline's output guard: a candidate's answer that leaks (the canary, the
        prompt, a secret) is never stored or sent to the judge; masked text is stored masked."""
        self._random = random.Random(seed)
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max_pending)
        self.dropped = 0
        """Offers dropped because the queue was full."""
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def offer(
        self,
        question: str,
        hits: Sequence[Hit],
        answer: Answer,
        *,
        user: str | None = None,
        tenant: str | None = None,
        filters: Filters | None = None,
    ) -> bool:
        """Queue this request for the candidate when it is drawn; True when queued. Never
        raises and never waits. `filters`: what the request may read, for a candidate that
        looks beyond the hits (the extractive answerer's look-up of a name)."""
        if self.fraction <= 0.0 or answer.cached or not hits:
            return False
        if answer.route is not None and answer.route.route != "strong":
            return False  # only the primary model's answers are compared with the candidate's
        with self._lock:
            if self._random.random() >= self.fraction:
                return False
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="cairn-shadow", daemon=True)
                self._worker.start()
        ts = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        job = _Job(
            question=question,
            hits=tuple(hits),
            answer=answer,
            user=user,
            tenant=tenant,
            ts=ts,
            filters=filters,
        )
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def drain(self) -> None:
        """Wait until every queued request has been compared and stored."""
        self._queue.join()

    def close(self) -> None:
        """Finish the queued comparisons, then stop the worker."""
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = None

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._compare(job)
            except Exception:  # never let one comparison stop the worker
                log.exception("shadow: comparing a request failed")
            finally:
                self._queue.task_done()

    def _compare(self, job: _Job) -> None:
        from cairn.budget.money import to_nanos

        answer = job.answer
        hits = list(job.hits)
        error = None
        text, abstained, verified, cost = "", True, 0.0, 0
        with request_context(
            feature=FEATURE,
            user=job.user,
            tenant=job.tenant,
            filters=job.filters,
            shadow_of=answer.trace_id,
        ) as ctx:
            try:
                draft = self.verifier.verify(self.candidate.answer(job.question, hits), hits)
                checked = (
                    None if self.output_guard is None else self.output_guard.check(draft, hits)
                )
                if checked is not None and checked.blocked:
                    raise _Withheld(f"the output guard blocked the answer ({checked.code})")
                if checked is not None and checked.draft is not None:
                    draft = checked.draft
                text, abstained = draft.text, draft.abstained
                verified = verified_share(draft.citations, draft.abstained)
            except Exception as exc:  # a failing candidate is a finding, not a crash
                error = f"{type(exc).__name__}: {exc}"
            primary_judge = candidate_judge = None
            if self.grader is not None and error is None:
                primary_judge = self._grade(job.question, hits, answer.text)
                candidate_judge = self._grade(job.question, hits, text)
            cost = to_nanos(ctx.cost_usd)
        self.store.add(
            ShadowPair(
                id=uuid.uuid4().hex,
                ts=job.ts,
                trace_id=answer.trace_id,
                user=job.user,
                tenant=job.tenant,
                question=job.question,
                primary_model=self.primary_model,
                candidate_model=self.candidate_model,
                primary_answer=answer.text,
                candidate_answer=text,
                primary_abstained=answer.abstained,
                candidate_abstained=abstained,
                primary_verified=verified_share(answer.citations, answer.abstained),
                candidate_verified=verified,
                primary_judge=primary_judge,
                candidate_judge=candidate_judge,
                primary_cost_nanos=to_nanos(answer.cost_usd),
                candidate_cost_nanos=cost,
                error=error,
            )
        )

    def _grade(self, question: str, hits: Sequence[Hit], text: str) -> float | None:
        assert self.grader is not None
        evidence = "\n\n".join(h.chunk.text for h in hits[:3])
        try:
            return self.grader.grade(question, evidence, text, ()).value
        except Exception:
            log.exception("shadow: grading failed")
            return None


@dataclass(frozen=True, kw_only=True, slots=True)
class ShadowMetric:
    """One score compared on the paired requests: candidate minus primary, with its 95%
    bootstrap interval and the two-sided paired sign-flip p-value."""

    name: str
    n: int
    primary: float
    candidate: float
    diff: float
    low: float
    high: float
    p: float


@dataclass(frozen=True, kw_only=True, slots=True)
class ShadowReport:
    pairs: int
    failed: int
    """Shadowed requests whose candidate produced no answer (left out of the metrics)."""
    primary_models: tuple[str, ...]
    candidate_models: tuple[str, ...]
    metrics: tuple[ShadowMetric, ...]
    primary_cost_usd: float
    candidate_cost_usd: float

    def as_json(self) -> dict[str, Any]:
        n = max(1, self.pairs - self.failed)
        return {
            "pairs": self.pairs,
            "failed": self.failed,
            "primary_models": list(self.primary_models),
            "candidate_models": list(self.candidate_models),
            "metrics": [
                {
                    "metric": m.name,
                    "n": m.n,
                    "primary": m.primary,
                    "candidate": m.candidate,
                    "diff": m.diff,
                    "ci95": [m.low, m.high],
                    "p_two_sided": m.p,
                }
                for m in self.metrics
            ],
            "cost_usd": {"primary": self.primary_cost_usd, "candidate": self.candidate_cost_usd},
            "cost_per_request_usd": {
                "primary": self.primary_cost_usd / n,
                "candidate": self.candidate_cost_usd / n,
            },
        }


def compare(pairs: Sequence[ShadowPair], *, resamples: int = 2000, seed: int = 0) -> ShadowReport:
    """The paired comparison of the stored pairs: verified share, answered (not abstained),
    and the judge's score where both sides have one."""
    from cairn.budget.money import from_nanos
    from cairn.evals.stats import paired_compare

    ok = [p for p in pairs if p.error is None]
    series: dict[str, tuple[list[float], list[float]]] = {
        "verified": (
            [p.candidate_verified for p in ok],
            [p.primary_verified for p in ok],
        ),
        "answered": (
            [0.0 if p.candidate_abstained else 1.0 for p in ok],
            [0.0 if p.primary_abstained else 1.0 for p in ok],
        ),
    }
    judged = [p for p in ok if p.primary_judge is not None and p.candidate_judge is not None]
    if judged:
        series["judge"] = (
            [float(p.candidate_judge or 0.0) for p in judged],
            [float(p.primary_judge or 0.0) for p in judged],
        )
    metrics = []
    for name, (cand, prim) in series.items():
        if not cand:
            continue
        c = paired_compare(cand, prim, resamples=resamples, permutations=resamples, seed=seed)
        metrics.append(
            ShadowMetric(
                name=name,
                n=c.n,
                primary=c.mean_b,
                candidate=c.mean_a,
                diff=c.diff,
                low=c.low,
                high=c.high,
                p=c.p_two_sided,
            )
        )
    return ShadowReport(
        pairs=len(pairs),
        failed=len(pairs) - len(ok),
        primary_models=tuple(sorted({p.primary_model for p in pairs})),
        candidate_models=tuple(sorted({p.candidate_model for p in pairs})),
        metrics=tuple(metrics),
        primary_cost_usd=float(from_nanos(sum(p.primary_cost_nanos for p in ok))),
        candidate_cost_usd=float(from_nanos(sum(p.candidate_cost_nanos for p in ok))),
    )
