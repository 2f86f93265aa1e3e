"""The page of a module the query names, brought into the hits.

Asked "What is the pwd module for?", the fused ranking puts the chunks that mention `pwd`
most (the `grp` page, the `spwd` page, `os.getlogin`) above the opening of pwd's own page,
which says what the module is for: every chunk of a page shares its title, so the title
does not single the opening out. `NamedPages` reads a little further down the ranking
(`window` candidates) and, for each module the query names (`cairn.answer.kinds.
named_modules`: "the pwd module", `` `glob` ``, `email.utils`), brings the chunk that opens
its page (`cairn.answer.units.opens_page_of`) into the `k` hits, in place of the last ones.
It only reorders what the retriever found under the request's filters; a query naming no
module gets the inner retriever's hits unchanged.

Measured on questions about the Python docs' module pages (`bench/entry_retrieval.py
--modules`, docs/benchmarks.md "Module pages").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cairn.answer.kinds import named_modules
from cairn.answer.units import opens_page_of
from cairn.store.base import Store, hits_of
from cairn.types import Filters, Hit, Ranked

WINDOW = 20
"""Candidates read for a named module's page opening: in the Python docs, the opening of
the page of a module a question names ranks in the fused top 20 for 111 of 126 questions
(the development half of `bench/entry_retrieval.py --modules`, which prints these
ranks), in the top 5 for 63."""


class Ranking(Protocol):
    """A retriever that ranks chunk ids before reading them."""

    def rank(self, query: str, k: int, filters: Filters | None = None) -> list[Ranked]: ...


@dataclass
class NamedPages:
    """`Retriever` over `inner`'s ranking that brings the opening of the page of each module
    the query names into the `k` hits (at most half of them)."""

    inner: Ranking
    store: Store
    window: int = WINDOW

    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        modules = named_modules(query)
        if not modules:
            return hits_of(self.store, self.inner.rank(query, k, filters))
        ranked = self.inner.rank(query, max(k, self.window), filters)
        hits = hits_of(self.store, ranked)
        top, rest = hits[:k], hits[k:]
        opened = {h.chunk.title for h in top if opens_page_of(h.chunk, modules)}
        found = []
        for hit in rest:
            if opens_page_of(hit.chunk, modules) and hit.chunk.title not in opened:
                opened.add(hit.chunk.title)
                found.append(hit)
        found = found[: k // 2]
        if not found:
            return top
        return top[: k - len(found)] + found
