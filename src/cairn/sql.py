"""What cairn's portable SQL needs from a database connection: SQLite's `sqlite3.Connection`
(`cairn.sqlite.SQLiteFile`) and Postgres's (`cairn.pg.PgDatabase`) both provide it.

Portable statements use `?` placeholders, `INSERT ... ON CONFLICT`, `CASE` rather than
boolean arithmetic, and column references qualified where an upsert could make them
ambiguous; rows are read by position or by column name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class SqlCursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class SqlConnection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> SqlCursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> SqlCursor: ...
