"""`cairn eval ...` in-process, on the synthetic corpus (the workspace is swapped for it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cairn.cli import app
from cairn.config import Settings
from cairn.store.sqlite import SQLiteStore
from cairn.testing.evalcorpus import build_store, case_dicts, pipeline
from tests.evals.test_gate import REPO

runner = CliRunner()


class FakeWorkspace:
    def __init__(self, store: SQLiteStore, root: Path) -> None:
        self.store = store
        self.root = root
        self.settings = Settings(workspace=root)
        self.budget = None  # no model is configured: nothing to spend

    def pipeline(
        self, mode: str | None = None, *, fallback: bool = True, shadow: bool = True
    ) -> Any:
        return pipeline(self.store, mode)

    def close(self) -> None:
        pass


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with cases, the committed gate config, and the synthetic workspace."""
    store = build_store(tmp_path / "ws" / "cairn.db")
    for module in ("cairn.cli.eval.run", "cairn.cli.eval.cases"):
        monkeypatch.setattr(
            f"{module}.open_workspace", lambda workspace, **_: FakeWorkspace(store, tmp_path)
        )
    (tmp_path / "evals" / "golden").mkdir(parents=True)
    (tmp_path / "evals" / "golden" / "synthetic.yaml").write_text(yaml.safe_dump(case_dicts()))
    shutil.copy(REPO / "evals" / "gate.toml", tmp_path / "evals" / "gate.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["eval", *args])
    assert result.exit_code == code, result.output
    return result.stdout


def test_run_baseline_gate_compare_report(project: Path) -> None:
    out = invoke("run", "--out", "run.json", "--html", "report.html")
    assert "doc.recall@5" in out and "30/30" in out
    run = json.loads((project / "run.json").read_text())
    assert run["format"] == "cairn.eval.run/1" and len(run["cases"]) == 30
    assert run["aggregates"]["doc.hit@5"]["n"] == 28
    assert (project / "report.html").read_text().startswith("<!doctype html>")

    invoke("baseline", "run.json")
    assert (project / "evals" / "baseline.json").is_file()

    # unchanged configuration: passes, ten times
    for _ in range(10):
        out = invoke("gate", "--json")
        assert json.loads(out)["passed"] is True

    # degraded configuration: fails, and says why
    result = runner.invoke(app, ["eval", "gate", "--k", "1", "--out", "degraded.json"])
    assert result.exit_code == 1, result.output
    assert "REGRESSION" in result.stdout and "gate failed" in result.stdout

    out = invoke("compare", "degraded.json", "evals/baseline.json", "--json")
    rows = {r["metric"]: r for r in json.loads(out)["metrics"]}
    assert rows["doc.recall@5"]["diff"] < 0 and rows["doc.recall@5"]["p_worse"] < 0.05
    out = invoke("compare", "degraded.json", "evals/baseline.json")
    assert "95% CI of Δ" in out and "doc.recall@5" in out

    invoke("gate", "--run", "degraded.json", "--html", "gate.html", code=1)
    assert "Against baseline" in (project / "gate.html").read_text()
    invoke("report", "degraded.json", "--baseline", "evals/baseline.json", "--html", "r.html")


def test_run_filters_and_json(project: Path) -> None:
    out = invoke("run", "--tag", "multi-hop", "--json", "--out", "mh.json")
    data = json.loads(out)
    assert {c["id"] for c in data["cases"]} == {
        c["id"] for c in case_dicts() if "multi-hop" in c["tags"]
    }  # type: ignore[operator]
    out = invoke("run", "--case", "everest", "--json", "--out", "one.json", "--epochs", "2")
    assert json.loads(out)["config"]["epochs"] == 2


def test_add_case_drafts_a_case_and_run_skips_drafts(project: Path) -> None:
    out = invoke("add-case", "How do I change the garnet timeout?", "--tag", "how-to")
    assert "guide/garnet.md" in out
    drafts = project / "evals" / "golden" / "drafts.yaml"
    data = yaml.safe_load(drafts.read_text())
    assert data[0]["id"] == "change-garnet-timeout"
    assert data[0]["gold"]["sources"][0] == {"source": "guide/garnet.md", "anchor": "s1"}
    assert data[0]["tags"] == ["draft", "how-to"]
    assert "GARNET_TIMEOUT" in data[0]["reference"]
    invoke("add-case", "How do I change the garnet timeout?")  # a second draft, new id
    assert [c["id"] for c in yaml.safe_load(drafts.read_text())] == [
        "change-garnet-timeout",
        "change-garnet-timeout-2",
    ]
    result = runner.invoke(app, ["eval", "run", "--out", "r.json"])
    assert result.exit_code == 0 and "skipped 2 draft case(s)" in result.stderr
    assert len(json.loads((project / "r.json").read_text())["cases"]) == 30


def test_errors_are_one_line_with_a_fix(project: Path) -> None:
    (project / "evals" / "golden" / "broken.yaml").write_text("- {id: x, question: q}\n")
    result = runner.invoke(app, ["eval", "run"])
    assert result.exit_code == 2
    assert "broken.yaml: case 'x': expect: answer needs gold.sources" in result.stderr
    result = runner.invoke(app, ["eval", "gate", "--run", "nope.json"])
    assert result.exit_code == 2 and "no gate config" not in result.stderr
    assert "no run file at evals/baseline.json" in result.stderr or "nope.json" in result.stderr
    result = runner.invoke(app, ["eval", "run", "--mode", "fuzzy"])
    assert result.exit_code == 2 and "unknown --mode" in result.stderr


def test_run_with_a_judge(project: Path) -> None:
    out = invoke(
        "run", "--judge", "baseline", "--json", "--out", "j.json", "--case", "aurora-timeout"
    )
    data = json.loads(out)
    assert data["config"]["judge"].startswith("deterministic overlap judge")
    assert "judge" in data["cases"][0]["scores"]
