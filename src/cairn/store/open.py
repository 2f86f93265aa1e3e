"""Opening the configured store: the backend is chosen by URL (`store.url`, or
`CAIRN_STORE_URL`), SQLite in the workspace folder by default.

    sqlite:///cairn.db          a path relative to the workspace folder
    sqlite:////srv/cairn.db     an absolute path
    postgresql://host/db        Postgres with pgvector, shared by every replica
                                (`pip install 'cairn[postgres]'`)
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from cairn.config import Settings
from cairn.errors import ConfigError, StoreError
from cairn.sqlite import sqlite_url_path
from cairn.store.base import Store
from cairn.trace.redact import safe_url

DB_FILE = "cairn.db"
"""The SQLite database's name in a workspace folder when no URL is configured."""

SCHEMES = ("sqlite", "postgresql", "postgres")
"""The URL schemes a store can be opened with."""
_POSTGRES = ("postgresql", "postgres")


def store_url(settings: Settings) -> str:
    """The configured store URL, or the default (SQLite in the workspace folder)."""
    return settings.store.url or f"sqlite:///{DB_FILE}"


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file the settings name, or None when the store is not SQLite."""
    return sqlite_url_path(store_url(settings), settings.workspace)


def open_store(settings: Settings, *, create: bool = True) -> Store:
    """The store the settings name. `create=False` refuses to create an empty one (a
    `StoreError` saying to run `cairn ingest`); an unknown scheme is a `ConfigError`."""
    url = store_url(settings)
    scheme = urlsplit(url).scheme
    if scheme in _POSTGRES:
        return open_postgres_store(url, create=create)
    path = sqlite_path(settings)
    if path is None:
        raise ConfigError(
            f"unknown store.url scheme {scheme!r}: use one of {', '.join(SCHEMES)} "
            f"(for example 'sqlite:///{DB_FILE}'), or leave store.url unset"
        )
    return open_store_at(path, create=create, ann_threshold=settings.store.ann_threshold)


def open_store_at(
    path: Path,
    *,
    create: bool = True,
    heading_weight: float = 1.0,
    ann_threshold: int | None = None,
) -> Store:
    """The SQLite store in the file `path` (benchmarks and tests that build their own);
    `ann_threshold` None: the default."""
    from cairn.store.sqlite import SQLiteStore
    from cairn.store.sqlite.store import ANN_THRESHOLD

    return SQLiteStore(
        path,
        create=create,
        heading_weight=heading_weight,
        ann_threshold=ANN_THRESHOLD if ann_threshold is None else ann_threshold,
    )


def open_postgres_store(url: str, *, create: bool = True) -> Store:
    """The Postgres store at `url`; `create=False` refuses a database without one (a
    `StoreError` saying to run `cairn ingest` or `cairn migrate`)."""
    from cairn.store.postgres import PostgresStore

    if not create and not postgres_store_exists(url):
        raise StoreError(
            f"no cairn store in the Postgres database at {safe_url(url)}: run 'cairn ingest "
            "PATH' with this store.url, or copy a workspace with 'cairn migrate --to URL'"
        )
    return PostgresStore(url)


def postgres_store_exists(url: str) -> bool:
    """Whether the database at `url` holds a cairn store (an unreachable one is a
    `StoreError`)."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "store.url is a postgresql:// URL: install psycopg 3 with pip install 'cairn[postgres]'"
        ) from None
    try:
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
            row = conn.execute(
                "SELECT to_regclass('cairn_schema') IS NOT NULL AND EXISTS "
                "(SELECT 1 FROM pg_tables WHERE tablename = 'store_meta')"
            ).fetchone()
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot reach Postgres at {safe_url(url)} ({' '.join(str(exc).split())}): start it "
            "(cairn services up) "
            "or check store.url"
        ) from None
    return bool(row and row[0])
