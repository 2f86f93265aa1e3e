"""Files of an unsupported type are reported by extension, never skipped silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli import app
from cairn.config import Settings
from cairn.embed.hashing import HashingEmbedder, WhitespaceTokenizer
from cairn.ingest.pipeline import SKIP_REASON, ingest
from cairn.store.sqlite import SQLiteStore

SOURCES = {
    "pkg/a.py": "print('a')\n",
    "pkg/b.py": "print('b')\n",
    "src/lib.rs": "fn main() {}\n",
    "src/Main.java": "class Main {}\n",
    "src/x.cpp": "int main() {}\n",
    "data/blob.XYZ": "???\n",
    "Makefile": "all:\n",
}


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    for name, text in SOURCES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_report_counts_skipped_files_by_extension(sources: Path, tmp_path: Path) -> None:
    (sources / "README.md").write_text("# Readme\n\nThe only supported file here.\n")
    store = SQLiteStore(tmp_path / "ws" / "cairn.db")
    try:
        report = ingest(
            [sources],
            store=store,
            embedder=HashingEmbedder(),
            tokenizer=WhitespaceTokenizer(),
            settings=Settings(workspace=tmp_path / "ws"),
        )
    finally:
        store.close()
    assert report.files == 1 and report.ingested == 1
    assert report.skipped == {".py": 2, ".rs": 1, ".java": 1, ".cpp": 1, ".xyz": 1, "": 1}
    assert report.skipped_files == 7
    listed = {row["extension"]: row for row in report.as_dict()["skipped"]}  # type: ignore[union-attr]
    assert listed[".py"] == {"extension": ".py", "files": 2, "reason": SKIP_REASON}


def test_excluded_files_are_not_reported_as_skipped(sources: Path, tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "ws" / "cairn.db")
    try:
        report = ingest(
            [sources],
            store=store,
            embedder=HashingEmbedder(),
            tokenizer=WhitespaceTokenizer(),
            settings=Settings(workspace=tmp_path / "ws"),
            excludes=["src/*", "Makefile", "data/*"],
        )
    finally:
        store.close()
    assert report.skipped == {".py": 2}


def test_cli_says_what_it_skipped_and_fails_when_nothing_was_ingestible(
    sources: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    ws = tmp_path / "ws"
    result = runner.invoke(app, ["ingest", str(sources), "--workspace", str(ws), "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["files"] == 0
    by_ext = {row["extension"]: row["files"] for row in data["skipped"]}
    assert by_ext == {".py": 2, ".rs": 1, ".java": 1, ".cpp": 1, ".xyz": 1, "": 1}

    text = runner.invoke(app, ["ingest", str(sources), "--workspace", str(ws)])
    assert text.exit_code == 1
    assert "skipped 7 files of an unsupported type" in text.stderr
    assert ".py 2" in text.stderr and "nothing to ingest" in text.stderr
