"""`--language` and `--date-from/--date-to` on `cairn search`, over ingested source files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli import app

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_language_filter_and_date_validation(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "parse.py").write_text('def parse_config(path):\n    """Parse the config file."""\n')
    (src / "parse.rs").write_text("/// Parse the config file.\nfn parse_config() {}\n")
    ws = str(tmp_path / "ws")
    ingested = runner.invoke(app, ["ingest", str(src), "--workspace", ws, "--json"])
    assert ingested.exit_code == 0, ingested.output

    def sources(*options: str) -> set[str]:
        result = runner.invoke(
            app, ["search", "parse config", "--json", "--workspace", ws, *options]
        )
        assert result.exit_code == 0, result.output
        return {Path(r["source"]).suffix for r in json.loads(result.stdout)["results"]}

    assert sources() == {".py", ".rs"}
    assert sources("--language", "python") == {".py"}
    assert sources("--language", "Rust") == {".rs"}
    assert sources("--date-from", "2020-01-01") == set()  # source files carry no date
    bad = runner.invoke(
        app, ["search", "x", "--date-to", "31/12/2021", "--json", "--workspace", ws]
    )
    assert bad.exit_code != 0
    assert "YYYY-MM-DD" in json.loads(bad.stdout)["error"]["message"]
