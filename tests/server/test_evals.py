"""Evaluation runs over HTTP: a run started in the background (admin), then listed and read
back from `<workspace>/evals/runs/`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.server.conftest import app_client, bearer, copy_workspace, create_key, settings_for

pytestmark = pytest.mark.integration

CASES = """
- id: dataclass-default-list
  question: "How do I give a dataclass field a default list?"
  expect: answer
  gold:
    match: any
    sources:
      - source: library/dataclasses.html
  reference: "Use field(default_factory=list)."
  checkpoints: ["default_factory"]
  tags: [how-to]
- id: json-indent
  question: "How do I pretty-print JSON with indentation?"
  expect: answer
  gold:
    match: any
    sources:
      - source: library/json.html
  tags: [how-to]
"""


def test_start_list_and_read_an_eval_run(
    base_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cases.yaml").write_text(CASES, encoding="utf-8")
    admin = bearer(create_key(ws, "acme", "admin"))
    reader = bearer(create_key(ws, "acme", "evals"))
    with app_client(settings_for(ws, server={"auth": "keys"})) as c:
        assert c.get("/v1/evals/runs", headers=reader).json() == []
        forbidden = c.post("/v1/evals/runs", headers=reader, json={"cases": "cases.yaml"})
        assert forbidden.status_code == 403
        outside = c.post("/v1/evals/runs", headers=admin, json={"cases": "../../etc"})
        assert outside.status_code == 400
        missing = c.post("/v1/evals/runs", headers=admin, json={"cases": "nope.yaml"})
        assert missing.status_code == 400
        started = c.post("/v1/evals/runs", headers=admin, json={"cases": "cases.yaml", "k": 3})
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        assert started.json()["status"] == "running" and started.json()["cases"] == 2
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run = c.get(f"/v1/evals/runs/{run_id}", headers=reader).json()
            if run["status"] != "running":
                break
            time.sleep(0.2)
        assert run["status"] == "done", run
        assert run["id"] == run_id and len(run["cases"]) == 2 and run["aggregates"]
        [summary] = c.get("/v1/evals/runs", headers=reader).json()
        assert summary["id"] == run_id and summary["cases"] == 2
        assert summary["aggregates"]
        # the same run description as `cairn eval run` writes (cairn.evals.runs.run_config)
        assert summary["config"]["llm_provider"] == "extractive"
        assert run["config"]["source"] == "api" and run["config"]["corpus_generation"] >= 1
        assert c.get("/v1/evals/runs/nope", headers=reader).status_code == 404
    assert (ws / "evals" / "runs" / f"{run_id}.json").is_file()
