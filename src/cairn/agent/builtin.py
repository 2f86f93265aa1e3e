"""The built-in tools: `search_docs`, `read_chunk` and `ask_docs` over the caller's own
documents (the ACL applied: `principals`), each returning chunk ids the final answer cites
(`cairn.agent.answers` checks it with the same verifier as `cairn ask`), and `write_note`, a
side-effecting tool that writes a Markdown note under `<workspace>/notes/`.

`write_note` is idempotent: the note starts with a comment holding the idempotency key, and a
second call with the same key finds it and writes nothing. It supports dry runs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from cairn.agent.tools import FunctionTool, ToolError, ToolRegistry
from cairn.types import Filters

if TYPE_CHECKING:
    from cairn.pipeline import Pipeline
    from cairn.retrieve.base import Retriever
    from cairn.store.base import Store

NOTES_DIR = "notes"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


class SearchIn(BaseModel):
    query: str = Field(min_length=1, description="What to look for in the documents.")
    k: int = Field(default=5, ge=1, le=20, description="How many passages to return.")


class Passage(BaseModel):
    chunk_id: str
    source: str
    title: str
    section: str
    text: str
    score: float


class SearchOut(BaseModel):
    passages: list[Passage]


class NoteIn(BaseModel):
    name: str = Field(description="File name of the note (letters, digits, . _ -).")
    text: str = Field(min_length=1, description="The note's Markdown text.")


class NoteOut(BaseModel):
    path: str
    written: bool
    """False on a dry run, or when a call with the same idempotency key already wrote it."""
    dry_run: bool = False


class ReadChunkIn(BaseModel):
    chunk_id: str = Field(min_length=1, description="A chunk id returned by search_docs.")


class ChunkOut(BaseModel):
    chunk_id: str
    doc_id: str
    source: str
    title: str
    section: str
    uri: str
    text: str


class AskIn(BaseModel):
    question: str = Field(min_length=1, description="A question about the documents.")


class CitedChunk(BaseModel):
    n: int
    chunk_id: str
    source: str
    verified: bool | None


class AskOut(BaseModel):
    answer: str
    """With `[n]` markers; `citations` maps each to its chunk id."""
    citations: list[CitedChunk]
    abstained: bool


def _filters(principals: tuple[str, ...] | None) -> Filters | None:
    return None if principals is None else Filters(principals=principals)


def search_docs(retriever: Retriever, principals: tuple[str, ...] | None = None) -> FunctionTool:
    """`principals`: the caller's (None: local mode, no ACL check)."""
    filters = _filters(principals)

    def run(args: SearchIn, key: str, dry_run: bool) -> SearchOut:
        hits = retriever.retrieve(args.query, args.k, filters)
        return SearchOut(
            passages=[
                Passage(
                    chunk_id=h.chunk.id,
                    source=h.chunk.source,
                    title=h.chunk.title,
                    section=h.chunk.section_path,
                    text=h.chunk.text,
                    score=h.score,
                )
                for h in hits
            ]
        )

    return FunctionTool(
        name="search_docs",
        description="Search the workspace's documents; returns passages with chunk ids to cite.",
        input_model=SearchIn,
        output_model=SearchOut,
        fn=run,
        scopes=("search",),
    )


def read_chunk(store: Store, principals: tuple[str, ...] | None = None) -> FunctionTool:
    """One chunk's full text by id, if the caller may read its document."""

    def run(args: ReadChunkIn, key: str, dry_run: bool) -> ChunkOut:
        from cairn.guard.quarantine import is_quarantined

        found = store.get_chunks([args.chunk_id])
        info = store.document_info(found[0].doc_id) if found else None
        if (
            not found
            or info is None
            or not info.readable_by(principals)
            or is_quarantined(store, args.chunk_id)  # kept out of every model's reach
        ):
            # the same words whether it is missing or not readable: nothing leaks
            raise ToolError(f"no chunk {args.chunk_id!r}: use a chunk_id that search_docs returned")
        c = found[0]
        return ChunkOut(
            chunk_id=c.id, doc_id=c.doc_id, source=c.source, title=c.title,
            section=c.section_path, uri=c.anchored_uri, text=c.text,
        )  # fmt: skip

    return FunctionTool(
        name="read_chunk",
        description="Read one passage in full by its chunk_id (from search_docs).",
        input_model=ReadChunkIn,
        output_model=ChunkOut,
        fn=run,
        scopes=("search",),
    )


def ask_docs(
    pipeline: Pipeline,
    principals: tuple[str, ...] | None = None,
    *,
    tenant: str | None = None,
    user: str | None = None,
) -> FunctionTool:
    """A cited, verified answer from the documents (the whole `cairn ask` pipeline)."""
    filters = _filters(principals)

    def run(args: AskIn, key: str, dry_run: bool) -> AskOut:
        answer = pipeline.ask(args.question, filters=filters, tenant=tenant, user=user)
        return AskOut(
            answer=answer.text,
            citations=[
                CitedChunk(n=c.n, chunk_id=c.chunk_id, source=c.source, verified=c.verified)
                for c in answer.citations
            ],
            abstained=answer.abstained,
        )

    return FunctionTool(
        name="ask_docs",
        description="Ask a question of the documents; returns an answer whose [n] markers "
        "cite chunk ids (already checked against the chunks).",
        input_model=AskIn,
        output_model=AskOut,
        fn=run,
        scopes=("ask",),
    )


def write_note(root: Path) -> FunctionTool:
    folder = root / NOTES_DIR

    def run(args: NoteIn, key: str, dry_run: bool) -> NoteOut:
        name = args.name if args.name.endswith(".md") else args.name + ".md"
        if not _NAME.match(name):
            raise ToolError(
                f"{args.name!r} is not a valid note name: use letters, digits, '.', '_' or '-'"
            )
        path = folder / name
        marker = f"<!-- cairn-agent key={key} -->\n"
        if dry_run:
            return NoteOut(path=str(path), written=False, dry_run=True)
        if path.exists():
            if path.read_text().startswith(marker):
                return NoteOut(path=str(path), written=False)  # this call already wrote it
            raise ToolError(f"a note named {name} already exists: choose another name")
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{key[:8]}.tmp")
        tmp.write_text(marker + args.text + "\n")
        try:
            os.link(tmp, path)  # never replaces a note another call wrote in the meantime
        except FileExistsError:
            if path.read_text().startswith(marker):
                return NoteOut(path=str(path), written=False)
            raise ToolError(f"a note named {name} already exists: choose another name") from None
        finally:
            tmp.unlink(missing_ok=True)
        return NoteOut(path=str(path), written=True)

    return FunctionTool(
        name="write_note",
        description="Write a Markdown note into the workspace's notes folder.",
        input_model=NoteIn,
        output_model=NoteOut,
        fn=run,
        side_effect="write",
        idempotent=True,
        supports_dry_run=True,
        scopes=("notes:write",),
    )


def builtin_tools(
    root: Path,
    retriever: Retriever,
    *,
    store: Store | None = None,
    pipeline: Pipeline | None = None,
    principals: tuple[str, ...] | None = None,
    tenant: str | None = None,
    user: str | None = None,
) -> ToolRegistry:
    """`search_docs` and `write_note`, with `read_chunk` given a store and `ask_docs` given a
    pipeline, all reading only what `principals` may read."""
    tools = [search_docs(retriever, principals), write_note(root)]
    if store is not None:
        tools.append(read_chunk(store, principals))
    if pipeline is not None:
        tools.append(ask_docs(pipeline, principals, tenant=tenant, user=user))
    return ToolRegistry.of(tools)
