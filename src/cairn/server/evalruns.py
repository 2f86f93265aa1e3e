"""Evaluation runs over HTTP: the run files of `<workspace>/evals/runs/` (read-only), and
runs started in the background with `cairn.evals.runs` (as `cairn eval run` does).

`cairn eval run` writes to `evals/runs/ID.json` under the current directory unless told
otherwise (`--out`); runs started here are written to the workspace's `evals/runs/`, which
is the folder this module lists (run `cairn eval run --out <workspace>/evals/runs/ID.json`
to have a CLI run show up).
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
from typing import Any

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


class EvalRuns:
    def __init__(
        self,
        runs_dir: Path,
        pipeline: Callable[[str | None], Pipeline],
        settings: Settings,
        generation: Callable[[], int],
    ) -> None:
        self.runs_dir = runs_dir
        self.pipeline = pipeline
        self.settings = settings
        self.generation = generation
        self._running: dict[str, dict[str, Any]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def runs(self) -> list[dict[str, Any]]:
        """Summaries of the stored runs (newest first), then those still running."""
        out = []
        for path in sorted(self.runs_dir.glob("*.json"), reverse=True):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and "cases" in data:
                out.append(_summary(path.stem, data))
        with self._lock:
            pending = [dict(r) for r in self._running.values()]
        return pending + out

    def get(self, run_id: str) -> dict[str, Any] | None:
        if not _RUN_ID.match(run_id):
            return None
        with self._lock:
            pending = self._running.get(run_id)
        if pending is not None:
            return dict(pending)
        path = self.runs_dir / f"{run_id}.json"
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return data | {"status": "done"} if isinstance(data, dict) else None

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
        from cairn.evals.runs import evaluate, run_config, save_run, select_cases
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
                save_run(run.model_copy(update={"id": run_id}), self.runs_dir / f"{run_id}.json")
                with self._lock:
                    del self._running[run_id]
            except Exception as exc:
                log.exception("eval run %s failed", run_id)
                with self._lock:
                    self._running[run_id] |= {"status": "failed", "error": str(exc)}

        with self._lock:
            self._running[run_id] = status
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
