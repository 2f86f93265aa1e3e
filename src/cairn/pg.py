"""Postgres for cairn's state, through psycopg 3 and its connection pool (`pip install
'cairn[postgres]'`, imported only when a `postgresql://` URL is configured).

`PgDatabase` gives a component (the cost ledger, ...) what `cairn.sqlite.SQLiteFile` gives
it on SQLite, so the same SQL serves both:

- versioned migrations in a `cairn_schema` table (one row per component), applied under a
  transaction-scoped advisory lock, so two replicas starting at once apply each step once;
- `transaction(lock=...)`: a write transaction that first takes an advisory lock for the
  component, serialising its writers across every replica the way SQLite's `BEGIN
  IMMEDIATE` serialises the processes sharing a file (a budget check and its reservation are
  one atomic step wherever the requests arrive);
- `reading()`: a connection for reads;
- connections that speak the subset of SQL cairn's portable statements use: `?`
  placeholders (rewritten to `%s`) and rows readable by position and by column name.

The pool never uses server-side prepared statements (`prepare_threshold=None`) and takes only
transaction-scoped advisory locks, so it works behind PgBouncer in transaction mode.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from cairn.errors import CairnError, ConfigError
from cairn.trace.redact import safe_url

SCHEMES = ("postgresql://", "postgres://")
_PLACEHOLDER = re.compile(r"\?")


def from_sqlite(ddl: str) -> str:
    """A migration step written for SQLite, in Postgres types: one schema for both backends.

    Covers the DDL cairn's components use: `INTEGER PRIMARY KEY AUTOINCREMENT` becomes
    `BIGSERIAL PRIMARY KEY`, `INTEGER` `BIGINT` (SQLite integers are 64-bit), `REAL`
    `DOUBLE PRECISION`, and `WITHOUT ROWID` (a SQLite storage option) is dropped.
    """
    ddl = re.sub(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", "BIGSERIAL PRIMARY KEY", ddl)
    ddl = re.sub(r"\bINTEGER\b", "BIGINT", ddl)
    ddl = re.sub(r"\bREAL\b", "DOUBLE PRECISION", ddl)
    return re.sub(r"\)\s*WITHOUT ROWID", ")", ddl)


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(SCHEMES)


def follows_store(store_url: str | None) -> str | None:
    """Where the workspace's own state (server state, traces, agent runs, conversations)
    lives when `store.url` is `store_url`: the store's Postgres database, shared by every
    replica, when it is one (as the cost ledger follows it); None (files in the workspace)
    otherwise."""
    return store_url if store_url is not None and is_postgres_url(store_url) else None


def _lock_id(name: str) -> str:
    return f"cairn:{name}"


class Row(tuple[Any, ...]):
    """A result row readable by position (`row[0]`) and by column name (`row["id"]`)."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._index[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._index)


class Cursor:
    """The part of a DB-API cursor cairn's SQL uses, over a psycopg cursor."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def _row(self, values: Sequence[Any] | None) -> Row | None:
        if values is None:
            return None
        names = [c.name for c in self._cursor.description or ()]
        return Row(values, {n: i for i, n in enumerate(names)})

    def fetchone(self) -> Row | None:
        return self._row(self._cursor.fetchone())

    def fetchall(self) -> list[Row]:
        names = [c.name for c in self._cursor.description or ()]
        index = {n: i for i, n in enumerate(names)}
        return [Row(values, index) for values in self._cursor.fetchall()]


class Connection:
    """A psycopg connection that runs cairn's portable SQL (`?` placeholders)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @property
    def raw(self) -> Any:
        """The psycopg connection, for SQL written for Postgres (`%s` placeholders)."""
        return self._conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor:
        cursor = self._conn.cursor()
        cursor.execute(_PLACEHOLDER.sub("%s", sql), tuple(params))
        return Cursor(cursor)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> Cursor:
        cursor = self._conn.cursor()
        cursor.executemany(_PLACEHOLDER.sub("%s", sql), [tuple(r) for r in rows])
        return Cursor(cursor)


class PgDatabase:
    """One component's tables in a Postgres database; `close()` it (it owns a pool)."""

    def __init__(
        self,
        url: str,
        migrations: Sequence[str],
        *,
        component: str,
        what: str,
        error: type[CairnError],
        min_size: int = 1,
        max_size: int = 10,
        timeout_s: float = 30.0,
    ) -> None:
        try:
            from psycopg_pool import ConnectionPool
        except ImportError:  # pragma: no cover - depends on the environment
            raise ConfigError(
                f"{what} at a postgresql:// URL needs psycopg 3: pip install 'cairn[postgres]'"
            ) from None
        self.url = url
        self.component = component
        self.what = what
        self._error = error
        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout_s,
            kwargs={"prepare_threshold": None, "autocommit": False},
            open=False,
            name=f"cairn-{component}",
        )
        try:
            self._pool.open(wait=True, timeout=timeout_s)
        except Exception as exc:
            self._pool.close()
            raise error(
                f"cannot reach Postgres for {what} at {safe_url(url)} ({exc}): start it "
                "(cairn services up) or check the URL"
            ) from None
        self._lock = threading.Lock()
        self._migrate(migrations)

    @property
    def location(self) -> str:
        return safe_url(self.url)

    def _migrate(self, migrations: Sequence[str]) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_lock_id("migrations"),))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS cairn_schema ("
                "component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            found = conn.execute(
                "SELECT version FROM cairn_schema WHERE component = %s", (self.component,)
            ).fetchone()
            version = int(found[0]) if found else 0
            if version > len(migrations):
                raise self._error(
                    f"{self.what} at {self.location} has schema version {version}, newer than "
                    f"this cairn knows ({len(migrations)}): upgrade cairn"
                )
            for step in migrations[version:]:
                conn.execute(step)
            conn.execute(
                "INSERT INTO cairn_schema (component, version) VALUES (%s, %s) "
                "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                (self.component, len(migrations)),
            )

    @contextmanager
    def transaction(self, lock: bool = True) -> Iterator[Connection]:
        """A write transaction; with `lock`, serialised with every other writer of this
        component (on any replica) from its first statement."""
        with self._pool.connection() as conn, conn.transaction():
            if lock:
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", (_lock_id(self.component),)
                )
            yield Connection(conn)

    @property
    def lock_id(self) -> str:
        """The key (`hashtext(lock_id)`) of the advisory lock `transaction(lock=True)` takes,
        for a `session` that takes it in its own transaction."""
        return _lock_id(self.component)

    @contextmanager
    def session(self) -> Iterator[Any]:
        """A pooled psycopg connection in autocommit mode, for a caller that sends its own
        `BEGIN`/`COMMIT` (several statements in one round trip); a transaction left open is
        rolled back."""
        with self._pool.connection() as conn:
            conn.autocommit = True
            try:
                yield conn
            finally:
                from psycopg.pq import TransactionStatus

                status = conn.info.transaction_status
                if status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
                    conn.execute("ROLLBACK")
                if status != TransactionStatus.UNKNOWN:  # a broken one is discarded
                    conn.autocommit = False

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads (each statement sees the data committed before it)."""
        with self._pool.connection() as conn, conn.transaction():
            yield Connection(conn)

    def close(self) -> None:
        self._pool.close()
