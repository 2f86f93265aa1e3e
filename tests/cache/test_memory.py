"""`MemoryAnswerCache` passes the shared conformance suite."""

from __future__ import annotations

import pytest

from cairn.cache import MemoryAnswerCache, VectorAnswerCache
from cairn.testing.cache import AnswerCacheConformance, Clock, MakeCache


class TestMemoryAnswerCache(AnswerCacheConformance):
    @pytest.fixture
    def make_cache(self) -> MakeCache:
        def make(
            *, ttl_s: float | None = None, max_entries: int = 100, clock: Clock | None = None
        ) -> VectorAnswerCache:
            return MemoryAnswerCache(ttl_s=ttl_s, max_entries=max_entries, clock=clock or Clock())

        return make


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryAnswerCache(max_entries=0)
