"""One evaluation run from start to file, shared by `cairn eval run|gate|baseline` and the
server's `/v1/evals/runs`: which cases run, the run itself (metered and traced as feature
`eval`), and the run file written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cairn.config import Settings
from cairn.context import request_context
from cairn.errors import UserError
from cairn.evals.cases import Case, filter_cases, load_cases
from cairn.evals.drafts import DRAFT_TAG
from cairn.evals.records import RunRecord
from cairn.evals.runner import Progress, Target, run_eval
from cairn.evals.scorers import Scorer


def select_cases(
    path: Path,
    *,
    tags: Sequence[str] = (),
    ids: Sequence[str] = (),
    include_drafts: bool = False,
) -> tuple[list[Case], int]:
    """The cases of `path` to run and how many drafts were left out; an empty selection is
    a `UserError` that says what to check."""
    cases = filter_cases(load_cases(path), tags=tags, ids=ids)
    drafts = sum(DRAFT_TAG in c.tags for c in cases)
    if not include_drafts:
        cases = [c for c in cases if DRAFT_TAG not in c.tags]
    if not cases:
        raise UserError(f"no cases to run in {path} (check the tags and ids, or include drafts)")
    return cases, drafts if not include_drafts else 0


def run_config(
    settings: Settings,
    *,
    cases_path: Path,
    mode: str | None,
    generation: int,
    judge: str = "none",
    source: str = "cli",
) -> dict[str, Any]:
    """What a run file records about how it was made (compared by `cairn eval compare`)."""
    return {
        "workspace": str(settings.workspace.resolve()),
        "cases_path": str(cases_path),
        "mode": mode or settings.retrieve.mode,
        "retrieve": settings.retrieve.model_dump(mode="json"),
        "answer": settings.answer.model_dump(mode="json"),
        "llm_provider": settings.llm.provider,
        "corpus_generation": generation,
        "judge": judge,
        "source": source,
    }


def evaluate(
    cases: Sequence[Case],
    target: Target,
    *,
    scorers: Sequence[Scorer],
    epochs: int = 1,
    k: int | None = None,
    config: dict[str, Any] | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    tenant: str | None = None,
    user: str | None = None,
) -> RunRecord:
    """`run_eval` inside a request context with feature `eval`, so every pipeline call and
    model call of the run is recorded in the ledger and the traces as evaluation spend."""
    with request_context(tenant=tenant, user=user, feature="eval"):
        return run_eval(
            cases,
            target,
            scorers=scorers,
            epochs=epochs,
            k=k,
            config=config,
            seed=seed,
            progress=progress,
        )


def save_run(run: RunRecord, path: Path) -> None:
    """Write `run` to `path` atomically: a crash never leaves a half-written run file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(run.model_dump_json(indent=1) + "\n", encoding="utf-8")
    partial.replace(path)
