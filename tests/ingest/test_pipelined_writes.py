"""Ingest writes file N on a writer thread while file N+1 is read, parsed and embedded:
order, counts, failures and the embedding cache are as if the files were taken one by one."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from cairn.config import Settings
from cairn.embed.hashing import HashingEmbedder, WhitespaceTokenizer
from cairn.errors import IngestError
from cairn.ingest.pipeline import IngestReport, ingest
from cairn.store.base import WriteResult
from cairn.store.sqlite import SQLiteStore
from cairn.types import Chunk, Document

SHARED = "This paragraph is the same in every file of the corpus and is embedded once."


class Store(SQLiteStore):
    """The SQLite store, with a hook run at the start of each document's write."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.before_write: Any = None
        self.writes: list[tuple[str, str]] = []  # (source, thread name)

    def write_document(
        self, document: Document, chunks: Sequence[Chunk], embeddings: Mapping[str, Any], **kw: Any
    ) -> WriteResult:
        self.writes.append((document.source, threading.current_thread().name))
        if self.before_write is not None:
            self.before_write(document)
        return super().write_document(document, chunks, embeddings, **kw)


class CountingEmbedder(HashingEmbedder):
    """Records its calls (`calls`, as the hashing embedder does) and runs a hook after each."""

    def __init__(self) -> None:
        super().__init__()
        self.on_embed: Any = None

    def embed(self, texts: Sequence[str]) -> Any:
        vectors = super().embed(texts)
        if self.on_embed is not None:
            self.on_embed()
        return vectors

    @property
    def texts(self) -> list[str]:
        return [t for call in self.calls for t in call]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    for i in range(5):
        (root / f"{i}.md").write_text(
            f"# Guide\n\nPage {i} has words of its own, number {i}.\n\n## Shared\n\n{SHARED}\n"
        )
    return root


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "ws" / "cairn.db")
    yield s
    s.close()


def run(root: Path, store: Store, embedder: HashingEmbedder, **kw: Any) -> IngestReport:
    return ingest(
        [root],
        store=store,
        embedder=embedder,
        tokenizer=WhitespaceTokenizer(),
        settings=Settings(workspace=Path("unused")),
        **kw,
    )


def test_the_next_file_is_embedded_while_a_write_is_in_flight(corpus: Path, store: Store) -> None:
    embedder = CountingEmbedder()
    next_embedded = threading.Event()
    embedder.on_embed = lambda: len(embedder.calls) == 2 and next_embedded.set()
    overlapped: list[bool] = []

    def hold_first_write(document: Document) -> None:
        if document.source == "0.md":
            # Without a pipeline this would wait out the whole timeout and record False.
            overlapped.append(next_embedded.wait(timeout=60))

    store.before_write = hold_first_write
    report = run(corpus, store, embedder)
    assert overlapped == [True]
    assert report.ingested == 5 and report.failed == 0
    assert {name for _, name in store.writes} != {threading.current_thread().name}
    assert [source for source, _ in store.writes] == [f"{i}.md" for i in range(5)]


def test_progress_comes_in_file_order_after_each_write(corpus: Path, store: Store) -> None:
    seen: list[tuple[str, int, int]] = []

    def progress(source: str, report: IngestReport) -> None:
        if source:
            stored = len(store.documents())
            seen.append((source, report.ingested, stored))

    run(corpus, store, CountingEmbedder(), progress=progress)
    # Each call names the next file once its document is counted and stored (later files'
    # writes may have run by then).
    assert [(source, ingested) for source, ingested, _ in seen] == [
        (f"{i}.md", i + 1) for i in range(5)
    ]
    assert all(stored >= ingested for _, ingested, stored in seen)


def test_a_chunk_shared_with_the_write_in_flight_is_not_embedded_again(
    corpus: Path, store: Store
) -> None:
    embedder = CountingEmbedder()
    second = threading.Event()
    embedder.on_embed = lambda: len(embedder.calls) == 2 and second.set()
    # The first write is held until the second file has been embedded: its vectors are not
    # in the store's cache when the second file looks them up.
    store.before_write = lambda d: d.source == "0.md" and second.wait(timeout=60)
    report = run(corpus, store, embedder)
    shared = [t for t in embedder.texts if SHARED in t]
    assert len(shared) == 1, "the shared paragraph is embedded by the first file only"
    assert (report.embedded, report.reused) == (6, 4)
    for hit in store.lexical_search("embedded once corpus", 10):
        assert hit.chunk.source.endswith(".md")
    assert store.check_integrity() == []


def test_a_write_that_fails_is_reported_for_its_file_and_the_rest_go_on(
    corpus: Path, store: Store
) -> None:
    def fail_on_two(document: Document) -> None:
        if document.source == "2.md":
            raise IngestError(document.source, "the store refused it")

    store.before_write = fail_on_two
    seen: list[tuple[str, int]] = []
    report = run(
        corpus, store, CountingEmbedder(), progress=lambda s, r: seen.append((s, r.failed))
    )
    assert report.failures == [("2.md", "the store refused it")]
    assert report.ingested == 4
    assert ("2.md", 1) in seen and ("1.md", 0) in seen
    assert {d.source for d in store.documents()} == {"0.md", "1.md", "3.md", "4.md"}
    assert store.check_integrity() == []


def test_an_unexpected_error_in_a_write_stops_ingest_after_the_write_ends(
    corpus: Path, store: Store
) -> None:
    def crash_on_one(document: Document) -> None:
        if document.source == "1.md":
            raise RuntimeError("disk on fire")

    store.before_write = crash_on_one
    with pytest.raises(RuntimeError, match="disk on fire"):
        run(corpus, store, CountingEmbedder())
    assert {d.source for d in store.documents()} == {"0.md"}
    assert store.check_integrity() == []
