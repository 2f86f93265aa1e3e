"""Incremental ingest, pruning, filters on paths, and bad input (fast: hashing embedder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.config import Settings
from cairn.embed.hashing import HashingEmbedder, WhitespaceTokenizer
from cairn.ingest.pipeline import IngestReport, ingest
from cairn.store.sqlite import SQLiteStore


def page(title: str, *sections: str) -> str:
    body = [f"# {title}", ""]
    for i, text in enumerate(sections):
        body += [f"## Part {i}", "", text, ""]
    return "\n".join(body)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "guide").mkdir(parents=True)
    (root / "guide" / "a.md").write_text(
        page("Alpha", "Alpha explains the first idea in some detail.", "Second alpha part.")
    )
    (root / "guide" / "b.md").write_text(page("Beta", "Beta covers another topic entirely."))
    (root / "notes.txt").write_text("Plain notes about gamma.\n\nAnd a second paragraph.")
    return root


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "ws" / "cairn.db")
    yield s
    s.close()


def run(
    paths: list[Path], store: SQLiteStore, embedder: HashingEmbedder, **kw: object
) -> IngestReport:
    settings = kw.pop("settings", None) or Settings(workspace=Path("unused"))
    assert isinstance(settings, Settings)
    return ingest(
        paths,
        store=store,
        embedder=embedder,
        tokenizer=WhitespaceTokenizer(),
        settings=settings,
        **kw,
    )  # type: ignore[arg-type]


def test_first_run_ingests_everything(corpus: Path, store: SQLiteStore) -> None:
    report = run([corpus], store, HashingEmbedder())
    assert (report.files, report.ingested, report.failed) == (3, 3, 0)
    assert report.chunks > 3
    sources = {d.source for d in store.documents()}
    assert sources == {"guide/a.md", "guide/b.md", "notes.txt"}
    hit = store.lexical_search("alpha first idea", 1)[0]
    assert hit.chunk.source == "guide/a.md"
    assert hit.chunk.section == ("Part 0",) and hit.chunk.anchor == "part-0"
    assert hit.chunk.uri == (corpus / "guide" / "a.md").as_uri()


def test_rerun_skips_unchanged_and_reembeds_only_changed_chunks(
    corpus: Path, store: SQLiteStore
) -> None:
    run([corpus], store, HashingEmbedder())
    embedder = HashingEmbedder()
    again = run([corpus], store, embedder)
    assert (again.unchanged, again.ingested, again.embedded) == (3, 0, 0)
    assert embedder.calls == []

    (corpus / "guide" / "a.md").write_text(
        page("Alpha", "Alpha explains the first idea in some detail.", "Changed second part.")
    )
    changed = run([corpus], store, embedder)
    assert (changed.ingested, changed.unchanged) == (1, 2)
    assert changed.embedded == 1 and changed.reused >= 1
    assert [t for call in embedder.calls for t in call] == ["Alpha > Part 1\nChanged second part."]
    assert store.lexical_search("changed", 5)[0].chunk.source == "guide/a.md"
    assert store.lexical_search("second alpha", 5) == [] or all(
        "Second alpha" not in h.chunk.text for h in store.lexical_search("second alpha", 5)
    )


def test_prune_removes_documents_whose_files_are_gone(corpus: Path, store: SQLiteStore) -> None:
    run([corpus], store, HashingEmbedder())
    (corpus / "guide" / "b.md").unlink()
    kept = run([corpus], store, HashingEmbedder())
    assert kept.removed == 0 and len(store.documents()) == 3  # without --prune nothing goes
    pruned = run([corpus], store, HashingEmbedder(), prune=True)
    assert pruned.removed == 1
    assert {d.source for d in store.documents()} == {"guide/a.md", "notes.txt"}
    assert store.lexical_search("beta", 5) == []
    assert store.check_integrity() == []


def test_include_and_exclude_globs(corpus: Path, store: SQLiteStore) -> None:
    report = run([corpus], store, HashingEmbedder(), excludes=["guide/*"])
    assert {d.source for d in store.documents()} == {"notes.txt"}
    assert report.files == 1
    report = run([corpus], store, HashingEmbedder(), includes=["*.md"])
    assert report.files == 2


def test_default_excludes_skip_generated_sphinx_pages(tmp_path: Path, store: SQLiteStore) -> None:
    root = tmp_path / "html"
    for name in (
        "index.html",
        "genindex-A.html",
        "search.html",
        "py-modindex.html",
        "_sources/index.rst.txt",
        "_static/basic.html",
        "library/os.html",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("<html><body><main><p>Some text here.</p></main></body></html>")
    report = run([root], store, HashingEmbedder())
    assert {d.source for d in store.documents()} == {"index.html", "library/os.html"}
    assert report.files == 2


def test_bad_input_is_reported_and_the_rest_continues(tmp_path: Path, store: SQLiteStore) -> None:
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "good.md").write_text(page("Good", "Good content that must be indexed."))
    (root / "empty.txt").write_text("")
    (root / "junk.txt").write_bytes(bytes(range(256)) * 40)
    (root / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    (root / "huge.txt").write_text("word " * 400_000)  # ~2 MB, over the 1 MB limit below
    (root / "latin1.txt").write_bytes("Café crème brûlée, naïve façade.".encode("latin-1"))
    settings = Settings(workspace=Path("unused"), ingest={"max_file_mb": 1.0})
    report = run([root], store, HashingEmbedder(), settings=settings)
    reasons = {Path(p).name: r for p, r in report.failures}
    assert set(reasons) == {"junk.txt", "broken.pdf", "huge.txt"}
    assert [(s.path, s.reason) for s in report.skipped] == [("empty.txt", "empty file")]
    assert "binary" in reasons["junk.txt"]
    assert "limit" in reasons["huge.txt"] and "max_file_mb" in reasons["huge.txt"]
    assert report.ingested == 2 and report.failed == 3
    assert {d.source for d in store.documents()} == {"good.md", "latin1.txt"}
    assert "Café" in store.lexical_search("creme brulee", 1)[0].chunk.text
    assert store.check_integrity() == []


def test_a_failing_file_keeps_its_previous_version(corpus: Path, store: SQLiteStore) -> None:
    run([corpus], store, HashingEmbedder())
    (corpus / "notes.txt").write_bytes(b"\x00\x01\x02" * 100)
    report = run([corpus], store, HashingEmbedder())
    assert report.failed == 1
    assert store.lexical_search("gamma", 1)[0].chunk.source == "notes.txt"


def test_a_page_with_nothing_to_index_is_skipped_not_failed_and_its_old_version_removed(
    tmp_path: Path, store: SQLiteStore
) -> None:
    root = tmp_path / "site"
    root.mkdir()
    nav_only = (
        "<html><head><title>Contents</title></head><body><nav><ul>{}</ul></nav></body></html>"
    )
    (root / "contents.html").write_text(nav_only.format('<li><a href="a.html">A</a></li>'))
    (root / "guide.md").write_text(page("Guide", "How to configure the frobnicator."))
    report = run([root], store, HashingEmbedder())
    assert report.failures == []
    assert [(s.path, s.rule, s.reason) for s in report.skipped] == [
        ("contents.html", "empty", "no text content found")
    ]
    assert {d.source for d in store.documents()} == {"guide.md"}

    # A page that had text and now holds navigation only: its stored version goes (the file
    # is still there, so --prune would not remove it), and search cannot find it.
    (root / "guide.md").unlink()
    (root / "guide.html").write_text(
        "<html><body><main><p>How to configure the frobnicator.</p></main></body></html>"
    )
    run([root], store, HashingEmbedder())
    assert store.lexical_search("frobnicator", 5) != []
    (root / "guide.html").write_text(nav_only.format(""))
    report = run([root], store, HashingEmbedder())
    assert report.failures == [] and report.removed == 1
    assert {s.path for s in report.skipped} == {"contents.html", "guide.html"}
    assert {d.source for d in store.documents()} == {"guide.md"}  # deleted: --prune removes it
    assert "guide.html" not in {h.chunk.source for h in store.lexical_search("frobnicator", 5)}


def test_an_id_root_gives_files_from_different_folders_one_document(
    tmp_path: Path, store: SQLiteStore
) -> None:
    # Two replicas keep uploads under their own workspace folders (or one takes over the
    # other's job): the same upload must be one document, found unchanged the second time.
    first, second = tmp_path / "replica-a" / "uploads", tmp_path / "replica-b" / "uploads"
    for folder in (first, second):
        folder.mkdir(parents=True)
        (folder / "guide.md").write_text(page("Guide", "The guide explains uploads."))
    embedder = HashingEmbedder()
    a = run([first / "guide.md"], store, embedder, id_root="uploads/t1")
    b = run([second / "guide.md"], store, embedder, id_root="uploads/t1")
    assert (a.ingested, b.ingested, b.unchanged) == (1, 0, 1)
    assert len(store.documents()) == 1


def test_an_id_root_replaces_the_version_stored_under_the_folder_path(
    tmp_path: Path, store: SQLiteStore
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "guide.md").write_text(page("Guide", "The guide explains uploads."))
    embedder = HashingEmbedder()
    run([folder / "guide.md"], store, embedder)  # stored before ids had an id_root
    report = run([folder / "guide.md"], store, embedder, id_root="uploads/t1")
    assert (report.ingested, report.removed) == (1, 1)
    assert len(store.documents()) == 1
    assert store.lexical_search("guide explains uploads", 5)[0].chunk.doc_id == (
        store.documents()[0].id
    )
