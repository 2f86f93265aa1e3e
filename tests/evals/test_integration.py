"""End to end on the real stack: `cairn ingest` with the real embedding model into a real
workspace, then `cairn eval run / baseline / gate` as CI would call them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cairn.cli import app
from cairn.testing.evalcorpus import NAMES, paragraphs
from tests.evals.test_gate import REPO

pytestmark = pytest.mark.integration
runner = CliRunner()


def write_corpus(root: Path) -> None:
    for i, name in enumerate(NAMES):
        storage, timeout, cli = paragraphs(i, name)
        (root / f"{name}.md").write_text(
            f"# The {name} service\n\n## Storage\n\n{storage}\n\n## Timeouts\n\n{timeout}\n\n"
            f"## Command line\n\n{cli}\n",
            encoding="utf-8",
        )


def cases() -> list[dict[str, object]]:
    out: list[dict[str, object]] = [
        {
            "id": f"{name}-timeout",
            "question": f"How do I change the {name} timeout?",
            "gold": {"sources": [{"source": f"{name}.md"}]},
            "checkpoints": [f"{name.upper()}_TIMEOUT"],
            "tags": ["how-to"],
        }
        for name in NAMES
    ]
    out += [
        {
            "id": f"{a}-{b}",
            "question": f"Which cache do the {a} service and the {b} service use for ledger "
            "records?",
            "gold": {"match": "all", "sources": [{"source": f"{a}.md"}, {"source": f"{b}.md"}]},
            "tags": ["multi-hop"],
        }
        for a, b in zip(NAMES[:10], NAMES[10:], strict=True)
    ]
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    corpus = root / "corpus"
    corpus.mkdir()
    write_corpus(corpus)
    result = runner.invoke(app, ["ingest", str(corpus), "--workspace", str(root / "ws"), "--json"])
    assert result.exit_code == 0, result.output
    (root / "evals" / "golden").mkdir(parents=True)
    (root / "evals" / "golden" / "synthetic.yaml").write_text(yaml.safe_dump(cases()))
    shutil.copy(REPO / "evals" / "gate.toml", root / "evals" / "gate.toml")
    return root


def test_gate_on_the_real_stack(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv("COLUMNS", "200")
    ws = ["--workspace", "ws"]
    result = runner.invoke(app, ["eval", "baseline", *ws])
    assert result.exit_code == 0, result.output
    baseline = json.loads((project / "evals" / "baseline.json").read_text())
    assert baseline["aggregates"]["doc.hit@5"]["mean"] > 0.9
    for _ in range(3):  # reruns of the unchanged configuration pass
        result = runner.invoke(app, ["eval", "gate", *ws])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["eval", "gate", "--k", "1", *ws])
    assert result.exit_code == 1, result.output
    assert "REGRESSION" in result.stdout and "doc.recall@5" in result.stdout
