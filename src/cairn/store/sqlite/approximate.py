"""The approximate vector index of a SQLite store: built from the database, saved next to it
(`cairn.db.ann/`), and kept in step through the `vector_log` table, which triggers fill with
every chunk entering or leaving the indexed set (any write path, any process).

Keeping in step replays the log past the index's position: every chunk named there is taken
out and, when it is indexed now, put back with its current vector, so replaying twice or
replaying a change already seen is harmless, and a row id reused for another chunk gets the
new chunk's vector. A saved index is used only for the same store (`store_id`), model and
dimensions, at a log position the database has reached, and when its size matches the
database's count; anything else is rebuilt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cairn.sqlite import SQLiteFile
from cairn.store.ann import ApproximateIndex, Identity

log = logging.getLogger(__name__)

SAVE_EVERY = 1000
"""Changes replayed before the index is saved again (or 1% of its size, the larger)."""
REBUILD_REMOVED = 0.25
"""Rebuild once the removed vectors (HNSW tombstones) exceed this share of the live ones."""
_BATCH = 20_000
_INDEXED = "c.dup_of IS NULL AND c.quarantine != 1"


def ann_folder(db_path: Path) -> Path:
    """Where the indexes of the database `db_path` are saved."""
    return db_path.with_name(db_path.name + ".ann")


def indexed_estimate(file: SQLiteFile) -> int:
    """Chunks not stored as duplicates (an upper bound on any model's indexed vectors; cheap:
    it reads an index, not the table)."""
    with file.reading() as db:
        return int(db.execute("SELECT COUNT(*) FROM chunks WHERE dup_of IS NULL").fetchone()[0])


def open_index(file: SQLiteFile, folder: Path, model: str) -> ApproximateIndex | None:
    """The model's index, loaded and brought up to date, or built (and saved); None when the
    model has no vectors."""
    identity = _identity(file, model)
    if identity is None:
        return None
    loaded = ApproximateIndex.load(folder, identity)
    if loaded is not None and loaded.seq <= _head(file):
        sync(file, folder, loaded)
        if len(loaded) == _count(file, model):
            return loaded
        log.warning("the saved vector index of %s does not match the database: rebuilding", model)
    return build(file, folder, identity)


def build(file: SQLiteFile, folder: Path, identity: Identity) -> ApproximateIndex:
    """The index of every indexed chunk's vector, built from the database and saved."""
    started = time.perf_counter()
    seq = _head(file)
    index = ApproximateIndex.empty(identity, seq=seq)
    with file.reading() as db:
        cursor = db.execute(
            "SELECT c.rowid, e.vector FROM chunks c JOIN embeddings e "
            f"ON e.hash = c.hash AND e.model = ? WHERE {_INDEXED}",
            (identity.model,),
        )
        while rows := cursor.fetchmany(_BATCH):
            keys, vectors = _arrays(rows, identity.ndim)
            index.add(keys, vectors)
    log.info(
        "built the vector index of %s: %d vectors in %.1f s",
        identity.model,
        len(index),
        time.perf_counter() - started,
    )
    index.removed = 0
    index.save(folder)
    return index


def sync(file: SQLiteFile, folder: Path, index: ApproximateIndex) -> ApproximateIndex:
    """Replay the log past the index's position; save when enough changed. Returns the index
    to use from now on (a rebuilt one when removals piled up)."""
    with file.reading() as db:
        rows = db.execute(
            "SELECT seq, chunk FROM vector_log WHERE seq > ? ORDER BY seq", (index.seq,)
        ).fetchall()
    if not rows:
        return index
    touched = np.unique(np.array([r[1] for r in rows], dtype=np.int64))
    index.remove(touched)
    for start in range(0, len(touched), 500):
        part = [int(t) for t in touched[start : start + 500]]
        with file.reading() as db:
            found = db.execute(
                "SELECT c.rowid, e.vector FROM chunks c CROSS JOIN embeddings e "
                f"ON e.hash = c.hash AND e.model = ? WHERE {_INDEXED} "
                f"AND c.rowid IN ({','.join('?' * len(part))})",
                (index.identity.model, *part),
            ).fetchall()
        keys, vectors = _arrays(found, index.identity.ndim)
        index.add(keys, vectors)
    index.seq = int(rows[-1][0])
    if index.removed > REBUILD_REMOVED * max(len(index), 1):
        return build(file, folder, index.identity)
    if index.unsaved >= max(SAVE_EVERY, len(index) // 100):
        index.save(folder)
    return index


def rescore(
    file: SQLiteFile, model: str, query: npt.NDArray[np.float32], rowids: Sequence[int]
) -> list[tuple[str, float]]:
    """(chunk id, inner product) of these rows from their stored float32 vectors, best
    first (rows gone since are left out)."""
    if not rowids:
        return []
    with file.reading() as db:  # CROSS JOIN: from the few rows, not from every vector
        rows = db.execute(
            "SELECT c.id, e.vector FROM chunks c CROSS JOIN embeddings e ON e.hash = c.hash "
            f"AND e.model = ? WHERE c.rowid IN ({','.join('?' * len(rowids))})",
            (model, *rowids),
        ).fetchall()
    if not rows:
        return []
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
    scores = matrix.reshape(len(rows), -1) @ query
    order = np.argsort(-scores, kind="stable")
    return [(str(rows[i][0]), float(scores[i])) for i in order]


def _identity(file: SQLiteFile, model: str) -> Identity | None:
    with file.reading() as db:
        store_id = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        row = db.execute(
            "SELECT length(vector) FROM embeddings WHERE model = ? LIMIT 1", (model,)
        ).fetchone()
    if row is None:
        return None
    return Identity(model=model, ndim=int(row[0]) // 4, store_id=str(store_id[0]))


def _head(file: SQLiteFile) -> int:
    with file.reading() as db:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'vector_log'").fetchone()
    return 0 if row is None else int(row[0])


def _count(file: SQLiteFile, model: str) -> int:
    with file.reading() as db:
        row = db.execute(
            "SELECT COUNT(*) FROM chunks c JOIN embeddings e ON e.hash = c.hash "
            f"AND e.model = ? WHERE {_INDEXED}",
            (model,),
        ).fetchone()
    return int(row[0])


def _arrays(
    rows: Sequence[Sequence[Any]], ndim: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    keys = np.array([int(r[0]) for r in rows], dtype=np.int64)
    if not rows:
        return keys, np.zeros((0, ndim), dtype=np.float32)
    blob = b"".join(r[1] for r in rows)
    return keys, np.frombuffer(blob, dtype=np.float32).reshape(len(rows), ndim)
