"""The answering contract."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from cairn.types import Citation, Degraded, Hit, Usage

if TYPE_CHECKING:
    from cairn.answer.events import AnswerEvent


@dataclass(frozen=True, kw_only=True, slots=True)
class Draft:
    """An answer before verification: text with `[n]` markers and the citations they name."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    usage: Usage = field(default_factory=Usage)
    reason: str = ""
    """Why the answerer abstained, or how it chose its evidence."""
    degraded: Degraded | None = None
    """Set by the pipeline when the fallback answerer wrote this draft."""


@runtime_checkable
class Answerer(Protocol):
    def answer(self, question: str, hits: list[Hit]) -> Draft: ...


@runtime_checkable
class StreamingAnswerer(Protocol):
    """An answerer that streams: tokens and citations as they come, then `DoneEvent`."""

    def stream(self, question: str, hits: list[Hit]) -> Iterator[AnswerEvent]: ...


NOT_FOUND = "I could not find this in the indexed documents."
