"""A workspace embedded with one model variant is re-embedded, never mixed or silently
searched with another variant's query vectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.config import Settings
from cairn.embed.hashing import HashingEmbedder, WhitespaceTokenizer
from cairn.errors import ModelError
from cairn.ingest.embedded import check_embedded_with
from cairn.ingest.pipeline import IngestReport, ingest
from cairn.store.sqlite import SQLiteStore


class NamedEmbedder(HashingEmbedder):
    """The same vectors under another model name, as the fp32 and int8 variants differ."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    for i in range(3):
        (root / f"page{i}.md").write_text(f"# Page {i}\n\nText about topic number {i}.\n")
    return root


def run(corpus: Path, store: SQLiteStore, embedder: HashingEmbedder, ws: Path) -> IngestReport:
    return ingest(
        [corpus],
        store=store,
        embedder=embedder,
        tokenizer=WhitespaceTokenizer(),
        settings=Settings(workspace=ws),
    )


def test_changing_the_model_variant_re_embeds_unchanged_files(corpus: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    store = SQLiteStore(ws / "cairn.db")
    try:
        first = run(corpus, store, NamedEmbedder("model-fp32"), ws)
        assert first.ingested == 3
        int8 = NamedEmbedder("model-int8")
        second = run(corpus, store, int8, ws)
        assert second.unchanged == 0 and second.ingested == 3
        assert second.embedded == first.embedded > 0 and int8.calls
        third = run(corpus, store, NamedEmbedder("model-int8"), ws)
        assert third.unchanged == 3 and third.embedded == 0
    finally:
        store.close()


def test_queries_refuse_a_workspace_of_another_variant_until_re_embedded(
    corpus: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    names = ["model-fp32", "model-int8"]
    store = SQLiteStore(ws / "cairn.db")
    try:
        run(corpus, store, NamedEmbedder("model-fp32"), ws)
        check_embedded_with(store, "model-fp32", names)
        with pytest.raises(ModelError, match=r"embedded with model-fp32.*run 'cairn ingest'"):
            check_embedded_with(store, "model-int8", names)
        run(corpus, store, NamedEmbedder("model-int8"), ws)
        check_embedded_with(store, "model-int8", names)
    finally:
        store.close()


def test_an_empty_workspace_passes_the_check(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "ws" / "cairn.db")
    try:
        check_embedded_with(store, "model-int8", ["model-fp32", "model-int8"])
    finally:
        store.close()


def test_a_partly_re_embedded_workspace_is_refused(tmp_path: Path) -> None:
    """An interrupted re-embed leaves some documents with the old variant only: queries
    are refused until every chunk has a vector of the configured one."""
    from cairn.testing.store import make_doc, write

    store = SQLiteStore(tmp_path / "cairn.db")
    try:
        for doc_id, model in (("d1", "variant-b"), ("d2", "variant-a")):
            doc, chunks = make_doc(doc_id, f"{doc_id}.md", [f"text of {doc_id}"])
            write(store, doc, chunks, model=model)
        with pytest.raises(ModelError, match="1 chunk"):
            check_embedded_with(store, "variant-b", ["variant-a", "variant-b"])
    finally:
        store.close()
