"""The behaviour every backend of the evaluation runs (`cairn.server.evalruns.EvalRunStore`)
must have. A backend's test module subclasses `EvalRunStoreConformance` and provides
`make_eval_runs` (a fresh, empty store)."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.server.evalruns import EvalRunStore

__all__ = ["EvalRunStoreConformance", "run_record"]


def run_record(run_id: str, *, cases: int = 2, mean: float = 0.5) -> dict[str, Any]:
    """A done run as `cairn eval run` writes it (the fields the summaries read)."""
    return {
        "id": run_id,
        "created": f"2026-12-06T{run_id[9:11]}:00:00+00:00",
        "config": {"mode": "hybrid", "k": 3, "llm_provider": "extractive", "epochs": 1},
        "cases": [{"id": f"case{n}", "scores": {"recall": mean}} for n in range(cases)],
        "aggregates": {"recall": {"mean": mean, "low": mean - 0.1, "high": mean + 0.1, "n": 2}},
    }


def _status(run_id: str, status: str = "running", error: str | None = None) -> dict[str, Any]:
    return {"id": run_id, "status": status, "created": "x", "cases": 2, "error": error}


class EvalRunStoreConformance:
    @pytest.fixture
    def runs(self, make_eval_runs: EvalRunStore) -> EvalRunStore:
        return make_eval_runs

    def test_a_run_goes_from_running_to_done(self, runs: EvalRunStore) -> None:
        runs.set_status(_status("20261206-100000-aaaaaa"))
        assert runs.get("20261206-100000-aaaaaa") == _status("20261206-100000-aaaaaa")
        assert [r["status"] for r in runs.runs()] == ["running"]
        record = run_record("20261206-100000-aaaaaa")
        runs.finish("20261206-100000-aaaaaa", record)
        got = runs.get("20261206-100000-aaaaaa")
        assert got == record | {"status": "done"}
        (summary,) = runs.runs()
        assert (summary["id"], summary["status"], summary["cases"]) == (
            "20261206-100000-aaaaaa",
            "done",
            2,
        )
        assert summary["config"]["llm_provider"] == "extractive"
        assert summary["aggregates"]["recall"] == {"mean": 0.5, "low": 0.4, "high": 0.6}
        assert "n" not in summary["aggregates"]["recall"] and "cases" not in summary["config"]

    def test_a_failed_run_keeps_its_error(self, runs: EvalRunStore) -> None:
        runs.set_status(_status("20261206-110000-bbbbbb"))
        runs.set_status(_status("20261206-110000-bbbbbb", "failed", "the model is down"))
        got = runs.get("20261206-110000-bbbbbb")
        assert got is not None and (got["status"], got["error"]) == ("failed", "the model is down")

    def test_runs_not_done_come_first_then_newest_first(self, runs: EvalRunStore) -> None:
        for hour in ("08", "12", "10"):
            runs.finish(f"20261206-{hour}0000-cccccc", run_record(f"20261206-{hour}0000-cccccc"))
        runs.set_status(_status("20261206-070000-dddddd"))
        runs.set_status(_status("20261206-090000-eeeeee", "failed", "x"))
        assert [r["id"] for r in runs.runs()] == [
            "20261206-090000-eeeeee",
            "20261206-070000-dddddd",
            "20261206-120000-cccccc",
            "20261206-100000-cccccc",
            "20261206-080000-cccccc",
        ]

    def test_unknown_runs_are_none(self, runs: EvalRunStore) -> None:
        assert runs.get("20261206-100000-ffffff") is None
        assert runs.runs() == []
