"""`SQLiteAnswerCache`: the answer cache in the workspace (`cache.db`, its own file).

The file is a `SQLiteFile` like the other workspace databases (WAL, versioned migrations safe
when several processes open it at once, `BEGIN IMMEDIATE` write transactions with a 30 s busy
timeout). The cache uses its writing connection for reads too, under one lock: a lookup
updates the entry's use time, and a semantic lookup compares that connection's
`PRAGMA data_version`. Every write also sweeps: entries of an
older corpus generation (unreachable), expired entries, and the least recently used ones
beyond `max_entries`. Question embeddings sit in their own table; a semantic lookup loads its
partition's embeddings once and keeps them (at most twice `max_entries` vectors in all),
applying this connection's writes and reloading after another connection's commit.

The cache is disposable, so it never fails a request: a file that is not a database is moved
aside (`cache.db.corrupt`) and started again; a row that does not decode is deleted and
counted as a miss; a database error logs a warning and reads as a miss or skips the write.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from cairn.cache.base import CacheHit, Vector
from cairn.cache.codec import CodecError, decode_answer, encode_answer
from cairn.cache.key import CacheRequest
from cairn.errors import StoreError
from cairn.sqlite import SQLiteFile
from cairn.types import Answer

CACHE_FILE = "cache.db"

log = logging.getLogger("cairn.cache")

_SCHEMA: tuple[tuple[str, ...], ...] = (
    # 1: answers; question embeddings in their own table, so a semantic lookup scans only
    # vectors (1.5 kB each) and not the answers (often 5-10 kB with their hits)
    (
        """CREATE TABLE answers (
            key TEXT PRIMARY KEY,
            partition TEXT NOT NULL,
            corpus_id TEXT NOT NULL,
            generation INTEGER NOT NULL,
            scope TEXT NOT NULL,
            question TEXT NOT NULL,
            stored_at REAL NOT NULL,
            used_at REAL NOT NULL,
            expires_at REAL,
            hits INTEGER NOT NULL DEFAULT 0,
            answer TEXT NOT NULL
        )""",
        "CREATE INDEX answers_used ON answers (used_at)",
        "CREATE INDEX answers_expires ON answers (expires_at)",
        "CREATE INDEX answers_corpus ON answers (corpus_id, generation)",
        """CREATE TABLE vectors (
            key TEXT PRIMARY KEY,
            partition TEXT NOT NULL,
            model TEXT NOT NULL,
            vector BLOB NOT NULL
        )""",
        "CREATE INDEX vectors_partition ON vectors (partition, model)",
        """CREATE TRIGGER answers_deleted AFTER DELETE ON answers BEGIN
            DELETE FROM vectors WHERE key = old.key;
        END""",
    ),
)
"""Schema steps, applied in order; `PRAGMA user_version` records the last one applied."""


class SQLiteAnswerCache:
    """`VectorAnswerCache` on SQLite; close it (or use it as a context manager)."""

    def __init__(
        self,
        path: Path,
        *,
        ttl_s: float | None = None,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.path = path
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        self._matrices: OrderedDict[tuple[str, str], _Matrix] = OrderedDict()
        """Embeddings of recently searched partitions, kept loaded between semantic lookups.
        This connection's writes are applied to them; another connection's commit (seen in
        `PRAGMA data_version`) reloads them. Rows deleted since loading may linger: harmless,
        as every candidate's answer is read back by key (and skipped when gone)."""
        self._file: SQLiteFile | None = self._open()

    # -- opening ------------------------------------------------------------------------

    def _open(self) -> SQLiteFile | None:
        try:
            return self._connect()
        except _CacheFileError as exc:
            if not _damaged(exc):
                log.warning("answer cache disabled for this process: %s", exc)
                return None
            aside = self.path.with_name(self.path.name + ".corrupt")
            log.warning("answer cache %s is unreadable (%s); moved to %s", self.path, exc, aside)
            try:
                self.path.replace(aside)
                for suffix in ("-wal", "-shm"):
                    extra = self.path.with_name(self.path.name + suffix)
                    with suppress(FileNotFoundError):
                        extra.unlink()
                return self._connect()
            except (OSError, _CacheFileError) as again:
                log.error(
                    "answer cache disabled: cannot create %s (%s); delete the file or fix "
                    "its permissions",
                    self.path,
                    again,
                )
                return None

    def _connect(self) -> SQLiteFile:
        return SQLiteFile(
            self.path,
            _SCHEMA,
            what="the answer cache",
            damaged_hint="delete it (the cache is rebuilt as questions are asked)",
            error=_CacheFileError,
        )

    # -- reads --------------------------------------------------------------------------

    def get(self, request: CacheRequest) -> CacheHit | None:
        hit: CacheHit | None = None
        with self._connection("read") as db:
            if db is not None:
                hit = self._get(db, request)
        return hit

    def _get(self, db: sqlite3.Connection, request: CacheRequest) -> CacheHit | None:
        key = request.key
        row = db.execute(
            "SELECT partition, question, answer, stored_at, expires_at FROM answers WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None or row[0] != request.partition:
            return None
        now = self.clock()
        try:
            if row[4] is not None and float(row[4]) <= now:
                db.execute("DELETE FROM answers WHERE key = ?", (key,))
                return None
            hit = CacheHit(
                answer=decode_answer(row[2]),
                kind="exact",
                question=str(row[1]),
                stored_at=float(row[3]),
            )
        except (CodecError, TypeError, ValueError) as exc:
            log.warning("answer cache: dropping an unreadable entry (%s)", exc)
            db.execute("DELETE FROM answers WHERE key = ?", (key,))
            return None
        db.execute("UPDATE answers SET used_at = ?, hits = hits + 1 WHERE key = ?", (now, key))
        return hit

    def similar(
        self,
        request: CacheRequest,
        vector: Vector,
        *,
        model: str,
        min_similarity: float,
        limit: int = 5,
    ) -> list[CacheHit]:
        found: list[CacheHit] = []
        with self._connection("semantic lookup") as db:
            if db is not None:
                found = self._similar(db, request, _unit(vector), model, min_similarity, limit)
        return found

    def _similar(
        self,
        db: sqlite3.Connection,
        request: CacheRequest,
        query: Vector,
        model: str,
        min_similarity: float,
        limit: int,
    ) -> list[CacheHit]:
        keys, matrix = self._matrix(db, request.partition, model, query.nbytes)
        if not keys:
            return []
        sims = matrix @ query
        above = np.flatnonzero(sims >= min_similarity)
        now = self.clock()
        found: list[CacheHit] = []
        seen: set[str] = set()
        for i in above[np.argsort(-sims[above], kind="stable")]:
            if len(found) == limit:
                break
            similarity = float(sims[i])
            key = keys[int(i)]
            if key in seen:  # replaced since loading: an older row of the same entry
                continue
            seen.add(key)
            row = db.execute(
                "SELECT question, answer, stored_at, expires_at FROM answers WHERE key = ?",
                (key,),
            ).fetchone()
            if row is None:  # removed since the matrix was loaded
                continue
            try:
                if row[3] is not None and float(row[3]) <= now:
                    continue
                hit = CacheHit(
                    answer=decode_answer(row[1]),
                    kind="semantic",
                    question=str(row[0]),
                    similarity=similarity,
                    stored_at=float(row[2]),
                )
            except (CodecError, TypeError, ValueError) as exc:
                log.warning("answer cache: dropping an unreadable entry (%s)", exc)
                db.execute("DELETE FROM answers WHERE key = ?", (key,))
                continue
            found.append(hit)
        return found

    def _matrix(
        self, db: sqlite3.Connection, partition: str, model: str, nbytes: int
    ) -> tuple[list[str], Vector]:
        """The partition's keys and embeddings (loaded once, then kept up to date)."""
        version = _data_version(db)
        cached = self._matrices.get((partition, model))
        if cached is not None and cached.version == version and cached.nbytes == nbytes:
            self._matrices.move_to_end((partition, model))
            return cached.keys, cached.rows
        rows = db.execute(
            "SELECT key, vector FROM vectors WHERE partition = ? AND model = ?",
            (partition, model),
        ).fetchall()
        usable = [r for r in rows if isinstance(r[1], bytes) and len(r[1]) == nbytes]
        flat = np.frombuffer(b"".join(r[1] for r in usable), dtype=np.float32)
        loaded = _Matrix(
            version=version,
            nbytes=nbytes,
            keys=[str(r[0]) for r in usable],
            buffer=flat.reshape(len(usable), nbytes // 4).copy(),
        )
        self._matrices[(partition, model)] = loaded
        self._matrices.move_to_end((partition, model))
        while sum(len(m.keys) for m in self._matrices.values()) > 2 * self.max_entries + 1:
            if len(self._matrices) == 1:
                break
            self._matrices.popitem(last=False)
        return loaded.keys, loaded.rows

    def _remember(
        self, db: sqlite3.Connection, request: CacheRequest, model: str, blob: bytes
    ) -> None:
        """Apply this connection's new embedding to a loaded matrix (or drop a stale one)."""
        cached = self._matrices.get((request.partition, model))
        if cached is None:
            return
        if (
            cached.version != _data_version(db)
            or cached.nbytes != len(blob)
            or len(cached.keys) >= 2 * self.max_entries
        ):
            del self._matrices[(request.partition, model)]
            return
        cached.append(request.key, np.frombuffer(blob, dtype=np.float32))

    def __len__(self) -> int:
        count = 0
        with self._connection("count") as db:
            if db is not None:
                count = int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
        return count

    # -- writes -------------------------------------------------------------------------

    def put(
        self,
        request: CacheRequest,
        answer: Answer,
        *,
        vector: Vector | None = None,
        model: str = "",
    ) -> None:
        now = self.clock()
        blob = None if vector is None else _unit(vector).tobytes()
        row = (
            request.key,
            request.partition,
            request.corpus_id,
            request.generation,
            request.scope,
            request.question,
            now,
            now,
            None if self.ttl_s is None else now + self.ttl_s,
            encode_answer(answer),
        )
        with self._connection("write") as db:
            if db is None or self._file is None:
                return
            with self._file.transaction():
                db.execute("DELETE FROM answers WHERE key = ?", (request.key,))
                db.execute(
                    "INSERT INTO answers (key, partition, corpus_id, generation, scope, "
                    "question, stored_at, used_at, expires_at, answer) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?)",
                    row,
                )
                if blob is not None:
                    db.execute(
                        "INSERT OR REPLACE INTO vectors (key, partition, model, vector) "
                        "VALUES (?,?,?,?)",
                        (request.key, request.partition, model, blob),
                    )
                self._sweep(db, request, now)
            if blob is not None:
                self._remember(db, request, model, blob)

    def _sweep(self, db: sqlite3.Connection, request: CacheRequest, now: float) -> None:
        db.execute(
            "DELETE FROM answers WHERE corpus_id = ? AND generation < ?",
            (request.corpus_id, request.generation),
        )
        db.execute("DELETE FROM answers WHERE expires_at <= ?", (now,))
        db.execute(
            "DELETE FROM answers WHERE key IN "
            "(SELECT key FROM answers ORDER BY used_at DESC LIMIT -1 OFFSET ?)",
            (self.max_entries,),
        )

    def clear(self) -> None:
        with self._connection("clear") as db:
            if db is not None:
                db.execute("DELETE FROM answers")
                db.execute("DELETE FROM vectors")
            self._matrices.clear()

    # -- lifetime -----------------------------------------------------------------------

    @contextmanager
    def _connection(self, what: str) -> Iterator[sqlite3.Connection | None]:
        """The file's writing connection under the cache's lock (a semantic lookup reads
        `PRAGMA data_version` of the connection that loaded its matrix); a database error
        becomes a logged miss."""
        with self._lock:
            if self._file is None:
                yield None
                return
            db = self._file.connection
            try:
                with self._file.lock:
                    yield db
            except (sqlite3.Error, _CacheFileError) as exc:
                log.warning("answer cache %s failed on %s: %s", what, self.path, exc)
                if db.in_transaction:
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self._matrices.clear()
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> SQLiteAnswerCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_DAMAGED = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})
"""Open errors that mean the file itself is bad (moved aside), not busy or unwritable."""


@dataclass(slots=True)
class _Matrix:
    """One partition's embeddings in a growable buffer."""

    version: int
    """`PRAGMA data_version` when loaded."""
    nbytes: int
    keys: list[str]
    buffer: Vector

    @property
    def rows(self) -> Vector:
        return self.buffer[: len(self.keys)]

    def append(self, key: str, vector: Vector) -> None:
        if len(self.keys) == len(self.buffer):
            grown = np.empty((max(16, 2 * len(self.buffer)), self.nbytes // 4), np.float32)
            grown[: len(self.keys)] = self.rows
            self.buffer = grown
        self.buffer[len(self.keys)] = vector
        self.keys.append(key)


def _data_version(db: sqlite3.Connection) -> int:
    """Changes when another connection commits (this connection's commits leave it alone)."""
    return int(db.execute("PRAGMA data_version").fetchone()[0])


class _CacheFileError(StoreError):
    """`cache.db` cannot be opened or written (never reaches a caller: a miss)."""


def _damaged(exc: BaseException) -> bool:
    """Whether opening failed because the file itself is bad (not busy or unwritable)."""
    cause = exc.__cause__
    return isinstance(cause, sqlite3.DatabaseError) and (
        getattr(cause, "sqlite_errorname", "") in _DAMAGED
    )


def _unit(vector: Vector) -> Vector:
    v = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v
