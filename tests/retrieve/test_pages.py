"""The opening of the page of a module the query names, brought into the hits
(`cairn.retrieve.pages`), over a real SQLite store and the real lexical ranking."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.config import RetrieveSettings
from cairn.embed.hashing import HashingEmbedder
from cairn.retrieve.hybrid import LexicalRetriever, build_retriever
from cairn.retrieve.pages import NamedPages
from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import make_doc, write
from cairn.types import Chunk, Document, Filters


def page(
    doc_id: str, title: str, paragraphs: list[str], acl: tuple[str, ...] = ()
) -> tuple[Document, list[Chunk]]:
    doc, chunks = make_doc(doc_id, f"{doc_id}.html", paragraphs, acl=acl)
    doc = dataclasses.replace(doc, title=title)
    # the first chunk opens the page, before any heading
    chunks[0] = dataclasses.replace(chunks[0], section=())
    return doc, chunks


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "cairn.db")
    for doc, chunks in (
        page(
            "pwd",
            "pwd — The password database",
            [
                "This module provides access to the Unix user account database.",
                "pwd.getpwnam(name) returns the entry for name.",
            ],
        ),
        page(
            "grp",
            "grp — The group database",
            [
                "Group entries; see the pwd module. The pwd module and grp go together.",
                "See also: Module pwd, an interface to the pwd user database, like pwd.",
                "grp.getgrnam(name): pwd module users often need this pwd companion.",
            ],
        ),
        page(
            "spwd",
            "spwd — The shadow password database",
            ["Like the pwd module, for the shadow pwd database: pwd, pwd, pwd."],
            acl=("admins",),
        ),
    ):
        write(store, doc, chunks)
    yield store
    store.close()


def test_the_named_modules_page_opening_joins_the_hits(store: SQLiteStore) -> None:
    lexical = LexicalRetriever(store)
    question = "What is the pwd module for?"
    plain = [h.chunk.id for h in lexical.retrieve(question, 2)]
    assert "pwd-0" not in plain  # the pages that mention pwd most rank first
    hits = NamedPages(lexical, store).retrieve(question, 2)
    assert [h.chunk.id for h in hits] == [plain[0], "pwd-0"]  # in place of the last


def test_a_query_naming_no_module_gets_the_ranking_unchanged(store: SQLiteStore) -> None:
    lexical = LexicalRetriever(store)
    for question in ("What does getpwnam return?", "When should I use pwd?"):
        expected = [h.chunk.id for h in lexical.retrieve(question, 2)]
        assert [h.chunk.id for h in NamedPages(lexical, store).retrieve(question, 2)] == expected


def test_only_what_the_ranking_found_under_the_filters(store: SQLiteStore) -> None:
    lexical = LexicalRetriever(store)
    named = NamedPages(lexical, store)
    # The shadow page is for admins only: a request by others never sees its opening.
    others = Filters(principals=("staff",))
    ids = [h.chunk.id for h in named.retrieve("What is the spwd module for?", 2, others)]
    assert "spwd-0" not in ids
    admins = Filters(principals=("admins",))
    ids = [h.chunk.id for h in named.retrieve("What is the spwd module for?", 2, admins)]
    assert "spwd-0" in ids
    # Beyond the window, nothing is brought in.
    narrow = NamedPages(lexical, store, window=2)
    assert "pwd-0" not in [h.chunk.id for h in narrow.retrieve("What is the pwd module for?", 2)]


def test_the_setting_wraps_every_retrieval_mode(store: SQLiteStore) -> None:
    embedder = HashingEmbedder(dim=8)
    for mode in ("lexical", "dense", "hybrid"):
        assert isinstance(build_retriever(store, embedder, RetrieveSettings(), mode), NamedPages)
        off = build_retriever(store, embedder, RetrieveSettings(named_pages=False), mode)
        assert not isinstance(off, NamedPages)
