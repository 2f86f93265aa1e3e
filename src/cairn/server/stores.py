"""The service's own state (API keys, ingest jobs, feedback), opened by URL.

    stores = open_server_stores(settings.workspace)            # server.db in the workspace
    stores = open_server_stores(root, url="sqlite:////srv/cairn/server.db")   # absolute
    stores = open_server_stores(root, url="memory://")   # tests, and embedding applications
    stores = open_server_stores(root, url="postgresql://cairn@db/cairn")   # shared by replicas
    stores = open_server_stores(root, url=state_url(settings))   # follows store.url

Callers hold the protocols (`KeyStore`, `JobStore`, `FeedbackStore`); a backend for another
database adds a branch for its URL scheme here and a module of its own, and runs the suites
in `cairn.testing.serverstate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cairn.config import Settings
from cairn.errors import ConfigError
from cairn.pg import follows_store, is_postgres_url
from cairn.server.db import SERVER_FILE, ServerDB
from cairn.server.feedback import FeedbackStore, SQLiteFeedbackStore
from cairn.server.jobstore import JobStore, SQLiteJobStore
from cairn.server.keys import KeyStore, SQLiteKeyStore
from cairn.sqlite import sqlite_url_path


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerStores:
    keys: KeyStore
    jobs: JobStore
    feedback: FeedbackStore
    close: Callable[[], None]
    """Release the connections (once every user of the stores has stopped)."""


def sqlite_path(url: str | None, root: Path, default: str) -> Path:
    """The file a `sqlite:///PATH` URL names (`None`: `root/default`)."""
    if not url:
        return root / default
    path = sqlite_url_path(url, root)
    if path is None:
        raise ConfigError(
            f"no backend for {url!r}: use sqlite:///PATH, postgresql://..., memory://, or "
            "leave the URL unset "
            f"for {root / default}"
        )
    return path


def state_url(settings: Settings) -> str | None:
    """Where the service's own state lives for these settings: the store's Postgres
    database when `store.url` is `postgresql://...` (as the cost ledger follows it), else
    None (files in the workspace)."""
    return follows_store(settings.store.url)


def open_server_stores(root: Path, *, url: str | None = None) -> ServerStores:
    """Keys, jobs and feedback in `server.db` under `root`, in the file `url` names
    (`sqlite:///PATH`), in a Postgres database shared by replicas (`postgresql://...`), or
    in this process's memory (`memory://`)."""
    if is_postgres_url(url):
        from cairn.server.pgstate import open_server_db

        assert url is not None
        pg = open_server_db(url)
        return ServerStores(
            keys=SQLiteKeyStore(pg),
            jobs=SQLiteJobStore(pg),
            feedback=SQLiteFeedbackStore(pg),
            close=pg.close,
        )
    if url == "memory://":
        from cairn.server.memory import (
            MemoryFeedbackStore,
            MemoryJobStore,
            MemoryKeyStore,
            MemoryTables,
        )

        tables = MemoryTables()
        return ServerStores(
            keys=MemoryKeyStore(tables),
            jobs=MemoryJobStore(tables),
            feedback=MemoryFeedbackStore(tables),
            close=lambda: None,
        )
    db = ServerDB(sqlite_path(url, root, SERVER_FILE))
    return ServerStores(
        keys=SQLiteKeyStore(db),
        jobs=SQLiteJobStore(db),
        feedback=SQLiteFeedbackStore(db),
        close=db.close,
    )
