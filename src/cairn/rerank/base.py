"""What a reranker reports besides its order: `Reordering`, and the protocol of a backend
that says why it kept the incoming order (`ExplainingReranker`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from cairn.types import Hit


@dataclass(frozen=True, kw_only=True, slots=True)
class Reordering:
    """A reranker's order of the candidates, and what it has to say about it."""

    hits: list[Hit]
    fallback: str = ""
    """Why the incoming order was kept (the model failed, its reply named no candidate);
    empty when the backend decided the order. Recorded on the `rerank` span."""
    notes: dict[str, object] = field(default_factory=dict)
    """Details for the trace (for the LLM backend: the ids the reply named, ignored, missed)."""


@runtime_checkable
class ExplainingReranker(Protocol):
    """A `Reranker` that also reports how it ordered (`Reordering`); the pipeline records it
    on the trace."""

    def rerank(self, question: str, hits: list[Hit]) -> list[Hit]: ...

    def reorder(self, question: str, hits: list[Hit]) -> Reordering: ...


def apply_order(hits: Sequence[Hit], order: Sequence[int]) -> list[Hit]:
    """`hits` in `order` (indices into `hits`); indices missing from `order` follow, in their
    incoming order. Repeated and out-of-range indices are ignored."""
    seen: set[int] = set()
    out: list[Hit] = []
    for i in order:
        if 0 <= i < len(hits) and i not in seen:
            seen.add(i)
            out.append(hits[i])
    out.extend(h for i, h in enumerate(hits) if i not in seen)
    return out
