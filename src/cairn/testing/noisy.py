"""A non-deterministic fake system for the gate's noise tests.

`NoisyTarget(quality, seed)` answers the synthetic cases of `cairn.testing.evalcorpus`: on
each call, with probability `quality` the gold chunk is retrieved (at rank 1-3) and the
answer quotes it; otherwise the gold is missing and the answer quotes a distractor.
Different seeds are different runs of the same configuration, so they differ only by noise.
"""

from __future__ import annotations

import numpy as np

from cairn.answer.base import NOT_FOUND
from cairn.testing.evalcorpus import NAMES, paragraphs
from cairn.types import Answer, Chunk, Citation, Filters, Hit


def make_chunk(name: str, part: int) -> Chunk:
    i = NAMES.index(name)
    text = paragraphs(i, name)[part]
    return Chunk(
        id=f"{name}-{part}",
        doc_id=name,
        ordinal=part,
        text=text,
        section=("Intro", f"S{part}"),
        anchor=f"s{part}",
        start=0,
        end=len(text),
        token_count=len(text.split()),
        hash=f"{name}-{part}",
        source=f"guide/{name}.md",
        uri=f"file:///corpus/guide/{name}.md",
    )


class NoisyTarget:
    def __init__(self, quality: float, seed: int) -> None:
        self.quality = quality
        self.rng = np.random.default_rng(seed)

    def _hits(self, question: str, k: int) -> list[Hit]:
        names = [n for n in NAMES if n in question]
        others = [n for n in NAMES if n not in names]
        ranked = [make_chunk(n, 0) for n in others[:10]]
        for name in names:
            if self.rng.random() < self.quality:
                ranked.insert(int(self.rng.integers(0, 3)), make_chunk(name, 1))
        return [Hit(chunk=c, score=1.0 / (r + 1)) for r, c in enumerate(ranked[:k])]

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        return self._hits(query, k or 10)

    def ask(self, question: str, *, k: int | None = None, filters: Filters | None = None) -> Answer:
        hits = self._hits(question, k or 5)
        names = [n for n in NAMES if n in question]
        if not names:
            abstain = self.rng.random() < self.quality
            if abstain:
                return Answer(text=NOT_FOUND, citations=(), abstained=True, hits=tuple(hits))
        wanted = [h for h in hits if h.chunk.doc_id in names] or hits[:1]
        chosen = wanted[0].chunk
        citation = Citation(
            n=1,
            chunk_id=chosen.id,
            source=chosen.source,
            uri=chosen.anchored_uri,
            section=chosen.section_path,
            quote=chosen.text,
            verified=True,
            support=1.0,
        )
        return Answer(
            text=f"{chosen.text} [1]", citations=(citation,), abstained=False, hits=tuple(hits)
        )
