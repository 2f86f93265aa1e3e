"""`SQLiteAnswerCache`: the conformance suite, plus what only a file brings: persistence,
threads and processes, and damage (rows and whole files) that must read as misses."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from cairn.cache import CACHE_FILE, SQLiteAnswerCache, VectorAnswerCache
from cairn.testing.cache import (
    AnswerCacheConformance,
    Clock,
    MakeCache,
    make_answer,
    request,
    unit,
)
from tests.cache import workers


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / CACHE_FILE


@pytest.fixture
def opened(path: Path) -> Iterator[list[SQLiteAnswerCache]]:
    caches: list[SQLiteAnswerCache] = []
    yield caches
    for cache in caches:
        cache.close()


@pytest.fixture
def make_cache(path: Path, opened: list[SQLiteAnswerCache]) -> MakeCache:
    def make(
        *, ttl_s: float | None = None, max_entries: int = 100, clock: Clock | None = None
    ) -> VectorAnswerCache:
        cache = SQLiteAnswerCache(
            path, ttl_s=ttl_s, max_entries=max_entries, clock=clock or Clock()
        )
        opened.append(cache)
        return cache

    return make


class TestSQLiteAnswerCache(AnswerCacheConformance):
    pass


def _sql(path: Path, statement: str, *params: object) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(statement, params)


# -- the file ---------------------------------------------------------------------------


def test_entries_persist_across_processes_and_reopening(path: Path) -> None:
    with SQLiteAnswerCache(path) as cache:
        cache.put(request(), make_answer())
    with SQLiteAnswerCache(path) as cache:
        hit = cache.get(request())
    assert hit is not None and hit.answer == make_answer()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        scope = db.execute("SELECT scope FROM answers").fetchone()[0]
    assert scope == '{"principals": null, "tenant": null}'


def test_closed_cache_misses_and_skips_writes(path: Path) -> None:
    cache = SQLiteAnswerCache(path)
    cache.close()
    cache.close()  # twice is fine
    cache.put(request(), make_answer())
    assert cache.get(request()) is None
    assert len(cache) == 0


def test_max_entries_must_be_positive(path: Path) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        SQLiteAnswerCache(path, max_entries=0)


# -- concurrency ------------------------------------------------------------------------


def test_threads_hammering_one_cache(path: Path) -> None:
    """Eight threads put and get overlapping questions for four tenants, with eviction
    running all the time: no errors, and no thread ever sees another tenant's answer."""
    errors: list[BaseException] = []
    leaks: list[str] = []
    start = threading.Barrier(8)

    with SQLiteAnswerCache(path, max_entries=40) as cache:

        def work(worker: int) -> None:
            tenant = f"tenant-{worker % 4}"
            try:
                start.wait()
                for n in range(150):
                    question = f"question {n % 25}"
                    if n % 3 == 0:
                        cache.put(request(question, tenant=tenant), make_answer(tenant))
                    hit = cache.get(request(question, tenant=tenant))
                    if hit is not None and hit.answer.text != tenant:
                        leaks.append(f"{tenant} got {hit.answer.text}")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and leaks == []
        assert 0 < len(cache) <= 40


def test_threads_sharing_separate_connections(path: Path) -> None:
    """Several cache objects on one file (as several workers of a server would have)."""
    caches = [SQLiteAnswerCache(path) for _ in range(4)]
    try:
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                for n in range(60):
                    caches[worker].put(request(f"w{worker} q{n}"), make_answer(f"{worker}/{n}"))
                    hit = caches[(worker + 1) % 4].get(request(f"w{worker} q{n}"))
                    assert hit is not None and hit.answer.text == f"{worker}/{n}"
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(caches[0]) == 240
    finally:
        for cache in caches:
            cache.close()


@pytest.mark.integration
def test_processes_writing_one_file(path: Path) -> None:
    SQLiteAnswerCache(path).close()  # create the schema once, as a workspace would
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        wrong = pool.starmap(workers.hammer, [(str(path), w, 80) for w in range(3)])
    assert wrong == [0, 0, 0]
    with SQLiteAnswerCache(path) as cache:
        assert len(cache) == 240
        hit = cache.get(request("question 5", tenant="tenant-2"))
        assert hit is not None and hit.answer.text == "tenant-2/5"


# -- damage -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("answer", "not json at all {"),
        ("answer", '{"v": 1}'),
        ("answer", '{"v": 99, "text": "from the future"}'),
        ("answer", "[1, 2, 3]"),
        ("answer", b"\x00\xff binary"),
        ("expires_at", "tomorrow"),
        ("stored_at", "yesterday"),
    ],
)
def test_a_corrupted_row_is_a_miss_and_is_dropped(
    path: Path, column: str, value: object, caplog: pytest.LogCaptureFixture
) -> None:
    with SQLiteAnswerCache(path) as cache:
        cache.put(request(), make_answer())
        cache.put(request("another question"), make_answer("fine"))
        _sql(path, f"UPDATE answers SET {column} = ? WHERE question = ?", value, request().question)
        with caplog.at_level(logging.WARNING, logger="cairn.cache"):
            assert cache.get(request()) is None
        assert "unreadable" in caplog.text
        assert len(cache) == 1
        hit = cache.get(request("another question"))
        assert hit is not None and hit.answer.text == "fine"


def test_wrong_field_types_are_a_miss(path: Path) -> None:
    with SQLiteAnswerCache(path) as cache:
        cache.put(request(), make_answer())
        _sql(
            path,
            "UPDATE answers SET answer = json_set(answer, '$.citations[0].n', 'one')",
        )
        assert cache.get(request()) is None


def test_corrupted_rows_are_skipped_by_similar(path: Path) -> None:
    with SQLiteAnswerCache(path) as cache:
        cache.put(request("good"), make_answer("good"), vector=unit(1, 0, 0), model="m")
        cache.put(request("bad answer"), make_answer(), vector=unit(1, 0.01, 0), model="m")
        cache.put(request("bad vector"), make_answer(), vector=unit(1, 0.02, 0), model="m")
        cache.put(request("text vector"), make_answer(), vector=unit(1, 0.03, 0), model="m")
        _sql(path, "UPDATE answers SET answer = 'garbage' WHERE question = 'bad answer'")
        _sql(path, "UPDATE vectors SET vector = x'0102' WHERE key = ?", request("bad vector").key)
        _sql(path, "UPDATE vectors SET vector = 'abc' WHERE key = ?", request("text vector").key)
        found = cache.similar(request("q"), unit(1, 0, 0), model="m", min_similarity=0.5)
        assert [h.answer.text for h in found] == ["good"]
        assert cache.get(request("bad answer")) is None
        _sql(path, "DELETE FROM answers WHERE question = 'good'")  # its vector goes with it
        assert cache.similar(request("q"), unit(1, 0, 0), model="m", min_similarity=0.5) == []
        with closing(sqlite3.connect(path)) as db:
            keys = {row[0] for row in db.execute("SELECT key FROM vectors")}
        assert request("good").key not in keys


def test_a_file_that_is_not_a_database_is_moved_aside(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path.write_bytes(b"this is not an SQLite database" * 200)
    with caplog.at_level(logging.WARNING, logger="cairn.cache"):
        cache = SQLiteAnswerCache(path)
    with cache:
        assert cache.get(request()) is None
        cache.put(request(), make_answer())
        assert cache.get(request()) is not None
    assert path.with_name(CACHE_FILE + ".corrupt").read_bytes().startswith(b"this is not")
    assert "moved to" in caplog.text


def test_a_cache_from_a_newer_cairn_is_left_alone(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    SQLiteAnswerCache(path).close()
    _sql(path, "PRAGMA user_version = 99")
    with caplog.at_level(logging.WARNING, logger="cairn.cache"):
        cache = SQLiteAnswerCache(path)
    with cache:
        cache.put(request(), make_answer())
        assert cache.get(request()) is None
    assert "newer cairn" in caplog.text
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 99
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0


def test_database_errors_read_as_misses(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with SQLiteAnswerCache(path) as cache:
        cache.put(request(), make_answer())
        _sql(path, "DROP TABLE answers")
        with caplog.at_level(logging.WARNING, logger="cairn.cache"):
            assert cache.get(request()) is None
            cache.put(request(), make_answer())  # logged, not raised
            assert cache.similar(request(), unit(1, 0), model="m", min_similarity=0.0) == []
            assert len(cache) == 0
        assert "failed on" in caplog.text


def test_vectors_follow_their_answers(path: Path) -> None:
    """Eviction, sweeps and replacement remove an entry's embedding with it."""

    def vectors() -> int:
        with closing(sqlite3.connect(path)) as db:
            return int(db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    clock = Clock()
    with SQLiteAnswerCache(path, max_entries=2, clock=clock) as cache:
        for n in range(3):
            cache.put(request(f"q{n}"), make_answer(), vector=unit(1, n), model="m")
            clock.advance(1)
        assert len(cache) == 2 and vectors() == 2
        cache.put(request("q2"), make_answer())  # replaced without an embedding
        assert vectors() == 1
        cache.put(request("q9", generation=2), make_answer(), vector=unit(1, 0), model="m")
        assert len(cache) == 1 and vectors() == 1
        cache.clear()
        assert vectors() == 0


def test_semantic_lookups_see_other_connections_writes(path: Path) -> None:
    """Embeddings are kept loaded between lookups; another writer's commit reloads them."""
    with SQLiteAnswerCache(path) as reader, SQLiteAnswerCache(path) as writer:
        reader.put(request("a"), make_answer("A"), vector=unit(1, 0, 0), model="m")
        assert [
            h.answer.text
            for h in reader.similar(request("q"), unit(1, 0, 0), model="m", min_similarity=0.9)
        ] == ["A"]
        writer.put(request("b"), make_answer("B"), vector=unit(0, 1, 0), model="m")
        found = reader.similar(request("q"), unit(0, 1, 0), model="m", min_similarity=0.9)
        assert [h.answer.text for h in found] == ["B"]
        writer.clear()
        assert reader.similar(request("q"), unit(0, 1, 0), model="m", min_similarity=0.0) == []
        reader.put(request("c"), make_answer("C"), vector=unit(0, 0, 1), model="m")
        found = reader.similar(request("q"), unit(0, 0, 1), model="m", min_similarity=0.9)
        assert [h.answer.text for h in found] == ["C"]


def test_loaded_embeddings_follow_this_connections_writes(path: Path) -> None:
    clock = Clock()
    with SQLiteAnswerCache(path, max_entries=2, clock=clock) as cache:

        def texts(vector: np.ndarray) -> list[str]:
            found = cache.similar(request("q"), vector, model="m", min_similarity=0.5)
            return [h.answer.text for h in found]

        cache.put(request("a"), make_answer("A"), vector=unit(1, 0, 0), model="m")
        assert texts(unit(1, 0, 0)) == ["A"]  # loads the partition's matrix
        clock.advance(1)
        cache.put(request("b"), make_answer("B"), vector=unit(0, 1, 0), model="m")
        assert texts(unit(0, 1, 0)) == ["B"]  # appended, not reloaded
        clock.advance(1)
        cache.put(request("a"), make_answer("A2"), vector=unit(0.9, 0.1, 0), model="m")
        assert texts(unit(1, 0, 0)) == ["A2"]  # replaced: one hit, the new answer
        clock.advance(1)
        cache.put(request("c"), make_answer("C"), vector=unit(0, 0, 1), model="m")
        assert texts(unit(0, 1, 0)) == []  # "b" was evicted (least recently used)
        assert texts(unit(0, 0, 1)) == ["C"]
        for n in range(10):  # growth beyond twice max_entries drops and reloads the matrix
            cache.put(request(f"x{n}"), make_answer(f"X{n}"), vector=unit(1, 1, n), model="m")
        assert texts(unit(1, 1, 9)) == ["X9", "X8"]


def test_a_cache_that_cannot_be_opened_is_disabled_not_moved(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path.mkdir()  # a folder where the file should be: SQLite cannot open it
    with caplog.at_level(logging.WARNING, logger="cairn.cache"):
        cache = SQLiteAnswerCache(path)
    with cache:
        cache.put(request(), make_answer())
        assert cache.get(request()) is None
    assert path.is_dir() and not path.with_name(CACHE_FILE + ".corrupt").exists()
    assert "disabled" in caplog.text
