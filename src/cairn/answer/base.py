"""The answering contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from cairn.types import Citation, Hit, Usage


@dataclass(frozen=True, kw_only=True, slots=True)
class Draft:
    """An answer before verification: text with `[n]` markers and the citations they name."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    usage: Usage = field(default_factory=Usage)
    reason: str = ""
    """Why the answerer abstained, or how it chose its evidence."""


@runtime_checkable
class Answerer(Protocol):
    def answer(self, question: str, hits: list[Hit]) -> Draft: ...


NOT_FOUND = "I could not find this in the indexed documents."
