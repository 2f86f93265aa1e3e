"""kill -9 at random points of a real `cairn ingest` leaves a consistent workspace, and the
next run completes it with no lost or duplicated chunks."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from cairn.store.sqlite import SQLiteStore

pytestmark = pytest.mark.integration


def make_corpus(root: Path, files: int) -> None:
    rng = random.Random(7)
    vocab = [f"term{i}" for i in range(400)]
    for i in range(files):
        sections = []
        for s in range(6):
            para = " ".join(rng.choice(vocab) for _ in range(60)) + "."
            sections.append(f"## Section {s}\n\n{para}\n\n{para.upper()}\n")
        (root / f"doc{i:03}.md").write_text(f"# Document {i}\n\n" + "\n".join(sections))


def cairn(ws: Path, corpus: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cairn", "ingest", str(corpus), "--workspace", str(ws), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def doc_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def snapshot(db: Path) -> tuple[list[tuple[str, str]], int, list[str]]:
    store = SQLiteStore(db, create=False)
    assert store.check_integrity() == []
    with closing(sqlite3.connect(db)) as conn:
        chunks = sorted(conn.execute("SELECT id, hash FROM chunks"))
        fts = conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
        docs = [r[0] for r in conn.execute("SELECT source FROM documents ORDER BY source")]
    store.close()
    return chunks, fts, docs


def test_kill_minus_nine_then_resume(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_corpus(corpus, 40)
    ws = tmp_path / "ws"
    db = ws / "cairn.db"
    kills = 0
    for target in (3, 12, 25):  # kill once the store holds this many documents
        proc = cairn(ws, corpus)
        deadline = time.monotonic() + 120
        while proc.poll() is None and doc_count(db) < target and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            time.sleep(random.Random(target).uniform(0, 0.2))  # land somewhere mid-document
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        snapshot(db)  # consistent after every kill
    assert kills >= 2
    final = cairn(ws, corpus)
    assert final.wait() == 0
    resumed = snapshot(db)

    clean_ws = tmp_path / "clean"
    clean = cairn(clean_ws, corpus)
    assert clean.wait() == 0
    reference = snapshot(clean_ws / "cairn.db")
    assert resumed[2] == reference[2] and len(resumed[2]) == 40
    # same chunk ids and hashes, none lost, none twice
    assert resumed[0] == reference[0]
    assert len({c for c, _ in resumed[0]}) == len(resumed[0])
    assert resumed[1] == reference[1]
