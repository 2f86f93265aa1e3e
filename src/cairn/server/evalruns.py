"""Evaluation runs over HTTP: the run files of `<workspace>/evals/runs/` (read-only), and
runs started in the background with `cairn.evals.runs` (as `cairn eval run` does).

`cairn eval run` writes to `evals/runs/ID.json` under the current directory unless told
otherwise (`--out`); runs started here are written to the workspace's `evals/runs/`, which
is the folder this module lists (run `cairn eval run --out <workspace>/evals/runs/ID.json`
to have a CLI run show up).

Where runs are kept is an `EvalRunStore`: those files (`FileEvalRunStore`; a run still going
is known to its own process only), or a table in Postgres shared by replicas
(`PostgresEvalRunStore`, when `store.url` is `postgresql://...`), where a run started on
one replica is listed, followed and read back on every other. Both pass
`cairn.testing.evalruns.EvalRunStoreConformance`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cairn.config import Settings
from cairn.conversation import Turn
from cairn.pipeline import Pipeline
from cairn.types import Answer, Filters, Hit

log = logging.getLogger("cairn.server.evals")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


class _Scoped:
    """The pipeline as an eval `Target`, with the caller's ACL filter on every query."""

    def __init__(self, pipeline: Pipeline, filters: Filters | None) -> None:
        self.pipeline = pipeline
        self.filters = filters

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        return self.pipeline.search(query, k, self.filters)

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        return self.pipeline.ask(question, k=k, filters=self.filters, history=history)

    def standalone(self, question: str, history: Sequence[Turn]) -> str:
        return self.pipeline.standalone(question, history)


@runtime_checkable
class EvalRunStore(Protocol):
    """Evaluation runs: the status of those going (or failed) and the record of those done.
    A status is `{"id", "status" ("running" or "failed"), "created", "cases", "error"}`; a
    done run is the JSON `cairn eval run` writes (`cairn.evals.runs.RunRecord`)."""

    def set_status(self, status: dict[str, Any]) -> None:
        """Record (or replace) the status of a run that is not done."""
        ...

    def finish(self, run_id: str, record: dict[str, Any]) -> None:
        """Keep a done run's record; its status is gone."""
        ...

    def runs(self) -> list[dict[str, Any]]:
        """Runs not done (running, failed), newest first, then summaries of the done ones,
        newest first (ids begin with their start time)."""
        ...

    def get(self, run_id: str) -> dict[str, Any] | None:
        """A run's status, or a done run's record with `"status": "done"`; None if unknown."""
        ...


class FileEvalRunStore:
    """Done runs as `ID.json` files in `runs_dir` (what `cairn eval run --out` writes);
    statuses in this process's memory."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir
        self._pending: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def set_status(self, status: dict[str, Any]) -> None:
        with self._lock:
            self._pending[str(status["id"])] = dict(status)

    def finish(self, run_id: str, record: dict[str, Any]) -> None:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        path = self.runs_dir / f"{run_id}.json"
        partial = path.with_name(path.name + ".partial")  # a crash leaves no half-written run
        partial.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        partial.replace(path)
        with self._lock:
            self._pending.pop(run_id, None)

    def runs(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.runs_dir.glob("*.json"), reverse=True):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and "cases" in data:
                out.append(_summary(path.stem, data))
        with self._lock:
            pending = sorted(self._pending.values(), key=lambda r: str(r["id"]), reverse=True)
        return [dict(r) for r in pending] + out

    def get(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            pending = self._pending.get(run_id)
        if pending is not None:
            return dict(pending)
        path = self.runs_dir / f"{run_id}.json"
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return data | {"status": "done"} if isinstance(data, dict) else None


_PG_MIGRATIONS = (
    """
    CREATE TABLE eval_runs (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        summary TEXT NOT NULL,
        record TEXT
    );
    """,
)


class PostgresEvalRunStore:
    """Runs in an `eval_runs` table of a Postgres database shared by replicas (component
    `evals` of `cairn_schema`); `close()` it."""

    def __init__(self, url: str) -> None:
        from cairn.errors import StoreError
        from cairn.pg import PgDatabase

        self.db = PgDatabase(
            url,
            _PG_MIGRATIONS,
            component="evals",
            what="the evaluation runs",
            error=StoreError,
            max_size=4,
        )

    def set_status(self, status: dict[str, Any]) -> None:
        self._put(str(status["id"]), str(status["status"]), status, None)

    def finish(self, run_id: str, record: dict[str, Any]) -> None:
        self._put(run_id, "done", _summary(run_id, record), record)

    def _put(
        self, run_id: str, status: str, summary: dict[str, Any], record: dict[str, Any] | None
    ) -> None:
        with self.db.transaction(lock=False) as db:
            db.execute(
                "INSERT INTO eval_runs (id, status, summary, record) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
                "summary = excluded.summary, record = excluded.record",
                (
                    run_id,
                    status,
                    json.dumps(summary),
                    None if record is None else json.dumps(record),
                ),
            )

    def runs(self) -> list[dict[str, Any]]:
        with self.db.reading() as db:
            rows = db.execute(
                "SELECT summary FROM eval_runs "
                "ORDER BY CASE WHEN status = 'done' THEN 1 ELSE 0 END, id DESC"
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def get(self, run_id: str) -> dict[str, Any] | None:
        with self.db.reading() as db:
            row = db.execute(
                "SELECT status, summary, record FROM eval_runs WHERE id = ?", (run_id,)
            ).fetchone()
        if row is None:
            return None
        if row[2] is None:
            return dict(json.loads(row[1]))
        return dict(json.loads(row[2])) | {"status": "done"}

    def close(self) -> None:
        self.db.close()


class EvalRuns:
    def __init__(
        self,
        runs_dir: Path,
        pipeline: Callable[[str | None], Pipeline],
        settings: Settings,
        generation: Callable[[], int],
        *,
        store: EvalRunStore | None = None,
    ) -> None:
        """`store`: where runs are kept (None: files in `runs_dir`)."""
        self.runs_dir = runs_dir
        self.pipeline = pipeline
        self.settings = settings
        self.generation = generation
        self.store: EvalRunStore = store or FileEvalRunStore(runs_dir)
        self._threads: list[threading.Thread] = []

    def runs(self) -> list[dict[str, Any]]:
        """Those still running (or failed), then summaries of the stored runs, newest
        first."""
        return self.store.runs()

    def get(self, run_id: str) -> dict[str, Any] | None:
        if not _RUN_ID.match(run_id):
            return None
        return self.store.get(run_id)

    def start(
        self,
        *,
        cases: Path,
        mode: str | None,
        k: int | None,
        epochs: int,
        tags: Sequence[str],
        include_drafts: bool,
        filters: Filters | None,
        tenant: str | None,
        user: str | None,
    ) -> dict[str, Any]:
        from cairn.evals.runs import evaluate, run_config, select_cases
        from cairn.evals.scorers import default_scorers

        selected, _ = select_cases(cases, tags=tags, include_drafts=include_drafts)
        created = datetime.now(UTC)
        run_id = f"{created:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        status: dict[str, Any] = {
            "id": run_id,
            "status": "running",
            "created": created.isoformat(timespec="seconds"),
            "cases": len(selected),
            "error": None,
        }
        # the serving pipeline without its shadow stage: an evaluation spends nothing on a
        # candidate model
        pipeline = dataclasses.replace(self.pipeline(mode), shadow=None)

        def work() -> None:
            try:
                run = evaluate(
                    selected,
                    _Scoped(pipeline, filters),
                    scorers=default_scorers(),
                    epochs=epochs,
                    k=k,
                    config=run_config(
                        self.settings,
                        cases_path=cases,
                        mode=mode,
                        generation=self.generation(),
                        source="api",
                    ),
                    tenant=tenant,
                    user=user,
                )
                record = run.model_copy(update={"id": run_id}).model_dump(mode="json")
                self.store.finish(run_id, record)
            except Exception as exc:
                log.exception("eval run %s failed", run_id)
                self.store.set_status(status | {"status": "failed", "error": str(exc)})

        self.store.set_status(status)
        thread = threading.Thread(target=work, name=f"cairn-eval-{run_id}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return dict(status)

    def wait(self, timeout_s: float | None = None) -> None:
        for thread in list(self._threads):
            thread.join(timeout_s)


def _summary(run_id: str, data: dict[str, Any]) -> dict[str, Any]:
    config = data.get("config") or {}
    aggregates = data.get("aggregates") or {}
    return {
        "id": data.get("id", run_id),
        "status": "done",
        "created": data.get("created"),
        "cases": len(data.get("cases") or []),
        "config": {
            k: config.get(k) for k in ("mode", "k", "llm_provider", "judge", "cases_path", "epochs")
        },
        "aggregates": {
            name: {"mean": m.get("mean"), "low": m.get("low"), "high": m.get("high")}
            for name, m in aggregates.items()
            if isinstance(m, dict)
        },
    }
