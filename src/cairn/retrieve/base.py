"""The retrieval contract."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cairn.types import Filters, Hit


@runtime_checkable
class Retriever(Protocol):
    """Returns the `k` best chunks for a query, best first."""

    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]: ...
