"""Verifier-checked final answers: a run's answer cites the chunks its tools returned.

The model cites a passage by writing its chunk id in brackets, `[<chunk_id>]`, the id that
`search_docs`, `read_chunk` or `ask_docs` gave it. `CitedAnswers.check` keeps the markers whose
id is among the chunks the run's tools returned (an id the model made up is no evidence),
renumbers them `[1]`, `[2]`, ... as `cairn ask` does, and hands the draft to the same
`CitationVerifier` (or any `Verifier`): each citation comes back `verified` and with its
`support`, and under the verifier's `remove` policy unsupported sentences are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from cairn.agent.tools import FunctionTool
from cairn.answer.base import Draft
from cairn.answer.verify import Verifier
from cairn.store.base import Store
from cairn.types import Citation, Hit

_MARKER = re.compile(r"\[([A-Za-z0-9][A-Za-z0-9_:.\-]{3,})\]")


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckedAnswer:
    text: str
    """The answer with `[n]` markers."""
    citations: tuple[Citation, ...]

    def citations_json(self) -> list[dict[str, Any]]:
        return [
            {
                "n": c.n,
                "chunk_id": c.chunk_id,
                "source": c.source,
                "uri": c.uri,
                "verified": c.verified,
                "support": c.support,
            }
            for c in self.citations
        ]


def chunk_ids(value: Any) -> Iterator[str]:
    """Every `chunk_id` string inside a tool result (nested dicts and lists)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "chunk_id" and isinstance(v, str):
                yield v
            else:
                yield from chunk_ids(v)
    elif isinstance(value, list):
        for v in value:
            yield from chunk_ids(v)


class CitedAnswers:
    """Turns `[<chunk_id>]` markers into verified `[n]` citations."""

    def __init__(self, store: Store, verifier: Verifier) -> None:
        self.store = store
        self.verifier = verifier

    def check(self, text: str, seen: Iterable[str]) -> CheckedAnswer:
        """`seen`: the chunk ids the run's tools returned; other ids are left as text."""
        allowed = set(seen)
        numbers: dict[str, int] = {}

        def renumber(m: re.Match[str]) -> str:
            cid = m.group(1)
            if cid not in allowed:
                return m.group(0)
            n = numbers.setdefault(cid, len(numbers) + 1)
            return f"[{n}]"

        marked = _MARKER.sub(renumber, text)
        if not numbers:
            return CheckedAnswer(text=text, citations=())
        chunks = {c.id: c for c in self.store.get_chunks(list(numbers))}
        citations = tuple(
            Citation(
                n=n,
                chunk_id=cid,
                source=chunks[cid].source,
                uri=chunks[cid].anchored_uri,
                section=chunks[cid].section_path,
                quote="",
            )
            for cid, n in numbers.items()
            if cid in chunks
        )
        hits = [Hit(chunk=chunks[c.chunk_id], score=1.0) for c in citations]
        draft = self.verifier.verify(Draft(text=marked, citations=citations, abstained=False), hits)
        return CheckedAnswer(text=draft.text, citations=draft.citations)


class DraftIn(BaseModel):
    text: str = Field(
        min_length=1,
        max_length=20_000,
        description="The reply, citing each passage it uses as [chunk_id].",
    )


class DraftOut(BaseModel):
    text: str
    """The reply with `[n]` markers and a list of its sources at the end."""
    citations: list[dict[str, Any]]
    all_verified: bool
    """Every citation supported by its chunk (false also when nothing is cited)."""


def draft_reply(
    store: Store, verifier: Verifier, principals: tuple[str, ...] | None = None
) -> FunctionTool:
    """Check a reply's `[chunk_id]` citations before it is sent: only chunks the caller may
    read count, each is verified, and the sources are listed under the text."""
    answers = CitedAnswers(store, verifier)

    def run(args: DraftIn, key: str, dry_run: bool) -> DraftOut:
        wanted = [m.group(1) for m in _MARKER.finditer(args.text)]
        readable = set()
        for chunk in store.get_chunks(list(dict.fromkeys(wanted))):
            info = store.document_info(chunk.doc_id)
            if info is not None and info.readable_by(principals):
                readable.add(chunk.id)
        checked = answers.check(args.text, readable)
        text = checked.text
        if checked.citations:
            text += "\n\nSources:\n" + "\n".join(
                f"[{c.n}] {c.uri or c.source}" for c in checked.citations
            )
        return DraftOut(
            text=text,
            citations=checked.citations_json(),
            all_verified=bool(checked.citations) and all(c.verified for c in checked.citations),
        )

    return FunctionTool(
        name="draft_reply",
        description="Check a drafted reply's [chunk_id] citations against the chunks and "
        "return it with numbered citations and its sources; send that text.",
        input_model=DraftIn,
        output_model=DraftOut,
        fn=run,
        scopes=("search",),
    )
