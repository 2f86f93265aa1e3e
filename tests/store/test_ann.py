"""The SQLite store's approximate vector index: saved next to the database and reused,
kept in step with changes from any connection, rebuilt when its file is not this store's or
is damaged, and filtered searches that return k rows."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from cairn.store.ann import ApproximateIndex, Identity
from cairn.store.sqlite import SQLiteStore
from cairn.store.sqlite.approximate import ann_folder
from cairn.testing.store import EMBEDDER, MODEL, WORDS, make_doc, write
from cairn.types import Filters

# not importorskip: importing usearch before onnxruntime crashes the process (see the last test)
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("usearch") is None,
    reason="the approximate index needs usearch (cairn[ann])",
)


def _docs(store: SQLiteStore, count: int, *, prefix: str = "d") -> None:
    for n in range(count):
        words = " ".join(WORDS[(n + i) % len(WORDS)] for i in range(5))
        doc, chunks = make_doc(
            f"{prefix}{n}",
            f"{prefix}{n}.md",
            [f"note {prefix} {n} {words} {n * 7919}", f"more about {words} number {n}"],
            acl=("staff",) if n % 10 == 0 else ("others",),
        )
        write(store, doc, chunks)


def _nearest(
    store: SQLiteStore, text: str, k: int = 3, filters: Filters | None = None
) -> list[str]:
    vector = EMBEDDER.embed([text])[0]
    return [r.chunk_id for r in store.dense_ranking(vector, k, filters, model=MODEL)]


def _scores(store: SQLiteStore, text: str) -> list[float]:
    vector = EMBEDDER.embed([text])[0]
    return [r.score for r in store.dense_ranking(vector, 5, model=MODEL)]


def _saved_file(db: Path) -> str:
    [meta] = ann_folder(db).glob("*.json")
    return str(json.loads(meta.read_text())["file"])


def test_below_the_threshold_the_exact_scan_answers(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cairn.db", ann_threshold=1000)
    _docs(store, 5)
    assert _nearest(store, "note d 3")
    assert not ann_folder(tmp_path / "cairn.db").exists()
    store.close()


def test_the_saved_index_is_reused_and_follows_other_connections(tmp_path: Path) -> None:
    db = tmp_path / "cairn.db"
    first = SQLiteStore(db, ann_threshold=0)
    _docs(first, 30)
    exact = SQLiteStore(db, ann_threshold=10**9)
    text = "note d 4 " + " ".join(WORDS)
    assert _scores(first, text) == pytest.approx(_scores(exact, text), abs=1e-6)
    saved = _saved_file(db)

    second = SQLiteStore(db, ann_threshold=0)  # another process: loads, does not rebuild
    doc, chunks = make_doc("new", "new.md", ["a kestrel over the tundra at dawn"])
    write(second, doc, chunks)
    second.delete_documents(["d4"])
    assert _saved_file(db) == saved
    for store in (first, second):
        assert _nearest(store, "a kestrel over the tundra at dawn", 1) == ["new-0"]
        assert not {"d4-0", "d4-1"} & set(_nearest(store, text, 60))
        assert _scores(store, text) == pytest.approx(_scores(exact, text), abs=1e-6)
    for store in (first, second, exact):
        store.close()


def test_a_reused_row_id_gets_the_new_chunks_vector(tmp_path: Path) -> None:
    """Deleting the newest chunks and writing others gives the new ones the same row ids."""
    db = tmp_path / "cairn.db"
    store = SQLiteStore(db, ann_threshold=0)
    _docs(store, 5)
    doc, chunks = make_doc("last", "last.md", ["marmalade quasar bellows"])
    write(store, doc, chunks)
    assert _nearest(store, "marmalade quasar bellows", 1) == ["last-0"]
    store.delete_documents(["last"])
    doc, chunks = make_doc("other", "other.md", ["tundra kestrel tundra"])
    write(store, doc, chunks)
    top = store.dense_ranking(EMBEDDER.embed(["tundra kestrel tundra"])[0], 1, model=MODEL)
    assert [r.chunk_id for r in top] == ["other-0"]
    assert top[0].score == pytest.approx(1.0, abs=1e-5)
    store.close()


def test_another_stores_index_or_a_damaged_file_is_rebuilt(tmp_path: Path) -> None:
    one, two = tmp_path / "one" / "cairn.db", tmp_path / "two" / "cairn.db"
    for db, prefix in ((one, "a"), (two, "b")):
        db.parent.mkdir()
        store = SQLiteStore(db, ann_threshold=0)
        _docs(store, 10, prefix=prefix)
        _nearest(store, "note")
        store.close()
    shutil.rmtree(ann_folder(two))
    shutil.copytree(ann_folder(one), ann_folder(two))  # same model, another store
    store = SQLiteStore(two, ann_threshold=0)
    assert all(cid.startswith("b") for cid in _nearest(store, "note a 3", 10))
    assert _saved_file(two) != _saved_file(one)
    store.close()

    (ann_folder(two) / _saved_file(two)).write_bytes(b"not an index")
    store = SQLiteStore(two, ann_threshold=0)
    assert _nearest(store, "note b 3 " + " ".join(WORDS[3:] + WORDS[:3]), 1)[0].startswith("b3")
    store.close()


def test_filtered_searches_return_k_rows() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3000, 24)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = ApproximateIndex.empty(Identity(model="m", ndim=24, store_id="s"), seq=0)
    index.add(np.arange(3000, dtype=np.int64), vectors)
    index.exact_rows = 50  # so that a 10% filter takes the oversampled path
    broad = frozenset(range(0, 3000, 10))
    narrow = frozenset(range(5, 3000, 100))
    for query in vectors[:20]:
        for allowed in (broad, narrow, frozenset({7})):
            found = index.search(query, 10, allowed)
            keys = sorted(allowed)
            truth = np.array(keys)[np.argsort(-(vectors[keys] @ query))[:10]]
            assert len(found) == min(10, len(allowed))
            assert {k for k, _ in found} <= allowed
            assert len({k for k, _ in found} & set(truth.tolist())) >= min(9, len(allowed))


def test_a_store_from_before_the_change_log_gets_an_index_that_follows_it(
    tmp_path: Path,
) -> None:
    """Schema 2 has no `vector_log`: the upgrade adds it, the first index is built from the
    rows, and changes after it are replayed."""
    from cairn.sqlite import SQLiteFile
    from cairn.store.migrations import MIGRATIONS

    db = tmp_path / "cairn.db"
    old = SQLiteFile(db, MIGRATIONS[:2], what="db", damaged_hint="", foreign_keys=True)
    old.close()
    store = SQLiteStore(db, ann_threshold=10**9)  # written while the exact scan answered
    _docs(store, 8)
    store.close()
    with closing(sqlite3.connect(db)) as conn, conn:  # as if written before the upgrade
        for trigger in ("insert", "delete", "update"):
            conn.execute(f"DROP TRIGGER vector_log_{trigger}")
        conn.execute("DROP TABLE vector_log")
        conn.execute("DELETE FROM sqlite_sequence")
        conn.execute("PRAGMA user_version = 2")
        conn.execute("DELETE FROM meta WHERE key = 'store_id'")
    store = SQLiteStore(db, ann_threshold=0)
    assert _nearest(store, "note d 3 " + " ".join(WORDS[3:] + WORDS[:3]), 1) == ["d3-0"]
    store.delete_documents(["d3"])
    doc, chunks = make_doc("late", "late.md", ["bellows and marmalade at dusk"])
    write(store, doc, chunks)
    again = SQLiteStore(db, ann_threshold=0)
    for s in (store, again):
        assert _nearest(s, "bellows and marmalade at dusk", 1) == ["late-0"]
        assert not {"d3-0", "d3-1"} & set(_nearest(s, "note d 3", 20))
        s.close()


def test_a_loaded_index_searches_as_wide_as_the_built_one(tmp_path: Path) -> None:
    """The search beam is not kept in the file: a loaded index must be given it again."""
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(4000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    identity = Identity(model="m", ndim=32, store_id="s")
    built = ApproximateIndex.empty(identity, seq=7)
    built.add(np.arange(4000, dtype=np.int64), vectors)
    built.save(tmp_path)
    loaded = ApproximateIndex.load(tmp_path, identity)
    assert loaded is not None and loaded.seq == 7 and len(loaded) == 4000
    queries = rng.normal(size=(100, 32)).astype(np.float32)
    assert [loaded.search(q, 10) for q in queries] == [built.search(q, 10) for q in queries]
    assert ApproximateIndex.load(tmp_path, Identity(model="m", ndim=32, store_id="t")) is None


def test_without_usearch_the_exact_scan_answers_and_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "usearch.index", None)  # import fails
    store = SQLiteStore(tmp_path / "cairn.db", ann_threshold=0)
    _docs(store, 5)
    with caplog.at_level(logging.WARNING, logger="cairn.store.sqlite.store"):
        assert _nearest(store, "note d 3 " + " ".join(WORDS[3:] + WORDS[:3]), 1) == ["d3-0"]
    assert "pip install 'cairn[ann]'" in caplog.text
    assert not ann_folder(tmp_path / "cairn.db").exists()
    store.close()


def test_the_index_library_never_crashes_the_embedding_runtime_loaded_after_it() -> None:
    # usearch imported before onnxruntime crashed the process at onnxruntime's import
    code = "from cairn.store.ann import _usearch\n_usearch()\nimport onnxruntime\nprint('ok')\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
