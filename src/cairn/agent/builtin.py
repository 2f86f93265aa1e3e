"""The built-in tools: `search_docs` over the workspace's documents and `write_note`, a
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

if TYPE_CHECKING:
    from cairn.retrieve.base import Retriever

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


def search_docs(retriever: Retriever) -> FunctionTool:
    def run(args: SearchIn, key: str, dry_run: bool) -> SearchOut:
        hits = retriever.retrieve(args.query, args.k)
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


def builtin_tools(root: Path, retriever: Retriever) -> ToolRegistry:
    return ToolRegistry.of([search_docs(retriever), write_note(root)])
