from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from cairn.evals.gate import compare_runs, evaluate_gate, load_gate_config
from cairn.evals.records import RunRecord
from cairn.evals.report_html import render_html
from cairn.evals.report_terminal import print_comparison, print_gate, print_run
from cairn.evals.runner import run_eval
from cairn.store.sqlite import SQLiteStore
from cairn.testing.evalcorpus import build_store, cases, pipeline
from tests.evals.test_gate import REPO


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunRecord, RunRecord]:
    store: SQLiteStore = build_store(tmp_path_factory.mktemp("ws") / "cairn.db")
    baseline = run_eval(cases(), pipeline(store), config={"workspace": "synthetic"})
    degraded = run_eval(cases(), pipeline(store), k=1, config={"workspace": "synthetic"})
    return degraded, baseline


def render(fn: object, *args: object) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=160, color_system=None)
    fn(*args, console)  # type: ignore[operator]
    return buffer.getvalue()


def test_terminal_tables(runs: tuple[RunRecord, RunRecord]) -> None:
    run, baseline = runs
    text = render(print_run, run)
    assert "doc.recall@5" in text and "95% CI" in text and "by tag" in text
    assert "false_abstention ↓" in text
    comparisons = compare_runs(run, baseline)
    text = render(print_comparison, comparisons, run, baseline)
    assert "doc.recall@5" in text and "p (worse)" in text
    result = evaluate_gate(run, baseline, load_gate_config(REPO / "evals" / "gate.toml"))
    text = render(print_gate, result)
    assert "gate failed" in text and "REGRESSION" in text


def test_html_report_is_self_contained(runs: tuple[RunRecord, RunRecord]) -> None:
    run, baseline = runs
    comparisons = compare_runs(run, baseline)
    gate = evaluate_gate(run, baseline, load_gate_config(REPO / "evals" / "gate.toml"))
    html = render_html(run, baseline=baseline, comparisons=comparisons, gate=gate)
    assert html.startswith("<!doctype html>") and html.endswith("</html>")
    assert "<script" not in html and "<link" not in html
    urls = set(re.findall(r"(?:src|href)=['\"]([^'\"]+)", html))
    assert not urls, urls  # nothing to fetch
    assert html.count("<svg") >= 4  # metrics, tags, diff, failures
    assert "Against baseline" in html and "Gate <span class='reg'>failed" in html
    assert all(case.id in html for case in run.cases)
    assert "AURORA_TIMEOUT" in html  # the answer text is in the drill-down
    assert "✓ AURORA_TIMEOUT" in html  # checkpoint chips


def test_html_escapes_case_text(runs: tuple[RunRecord, RunRecord]) -> None:
    run, _ = runs
    case = run.cases[0].model_copy(update={"question": "<b>bold</b> & <script>x</script>"})
    html = render_html(run.model_copy(update={"cases": [case]}))
    assert "<script>x" not in html and "&lt;script&gt;x" in html
