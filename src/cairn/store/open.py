"""Opening the configured store: the backend is chosen by URL (`store.url`, or
`CAIRN_STORE_URL`), SQLite in the workspace folder by default.

    sqlite:///cairn.db          a path relative to the workspace folder
    sqlite:////srv/cairn.db     an absolute path
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from cairn.config import Settings
from cairn.errors import ConfigError
from cairn.sqlite import sqlite_url_path
from cairn.store.base import Store

DB_FILE = "cairn.db"
"""The SQLite database's name in a workspace folder when no URL is configured."""

SCHEMES = ("sqlite",)
"""The URL schemes a store can be opened with."""
_PLANNED = ("postgresql", "postgres")


def store_url(settings: Settings) -> str:
    """The configured store URL, or the default (SQLite in the workspace folder)."""
    return settings.store.url or f"sqlite:///{DB_FILE}"


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file the settings name, or None when the store is not SQLite."""
    return sqlite_url_path(store_url(settings), settings.workspace)


def open_store(settings: Settings, *, create: bool = True) -> Store:
    """The store the settings name. `create=False` refuses to create an empty one (a
    `StoreError` saying to run `cairn ingest`); an unknown scheme is a `ConfigError`."""
    scheme = urlsplit(store_url(settings)).scheme
    if scheme in _PLANNED:
        raise ConfigError(
            f"store.url scheme {scheme!r} is not available yet in this version of cairn; "
            f"use one of: {', '.join(SCHEMES)} (or leave store.url unset for SQLite in the "
            "workspace)"
        )
    path = sqlite_path(settings)
    if path is None:
        raise ConfigError(
            f"unknown store.url scheme {scheme!r}: use one of {', '.join(SCHEMES)} "
            f"(for example 'sqlite:///{DB_FILE}'), or leave store.url unset"
        )
    return open_store_at(path, create=create)


def open_store_at(
    path: Path,
    *,
    create: bool = True,
    heading_weight: float = 1.0,
) -> Store:
    """The SQLite store in the file `path` (benchmarks and tests that build their own)."""
    from cairn.store.sqlite import SQLiteStore

    return SQLiteStore(
        path,
        create=create,
        heading_weight=heading_weight,
    )
