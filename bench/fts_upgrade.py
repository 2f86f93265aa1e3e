"""What the SQLite store's schema step 4 (identifiers' parts added to the full-text body of
chunks indexed before they were split) costs when an old workspace is first opened.

Copies a store, resets every full-text body to the chunk's text alone and the schema to
step 3 (as a workspace indexed before the change), then times opening it with `SQLiteStore`
and counts the bodies the upgrade rewrote. The original store is not touched.

    .venv/bin/python bench/fts_upgrade.py .cairn/cairn.db
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from cairn.store.sqlite import SQLiteStore


def main() -> None:
    source = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "cairn.db"
        shutil.copyfile(source, copy)
        with closing(sqlite3.connect(copy)) as db, db:
            db.execute(
                "UPDATE chunks_fts SET body = "
                "(SELECT text FROM chunks c WHERE c.rowid = chunks_fts.rowid)"
            )
            db.execute("PRAGMA user_version = 3")
            indexed = db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
            before = dict(db.execute("SELECT rowid, body FROM chunks_fts").fetchall())
        started = time.perf_counter()
        SQLiteStore(copy).close()
        seconds = time.perf_counter() - started
        with closing(sqlite3.connect(copy)) as db:
            after = dict(db.execute("SELECT rowid, body FROM chunks_fts").fetchall())
        rewritten = sum(after[rowid] != body for rowid, body in before.items())
        print(
            f"{indexed:,} indexed chunks: opening upgraded the store in {seconds:.2f} s, "
            f"rewriting {rewritten:,} bodies (those with camelCase or PascalCase identifiers)"
        )


if __name__ == "__main__":
    main()
