"""A pipeline with fake retrieval and a fake metered "model", for tracing tests: real
`Pipeline`, real verifier, real budget context, no embedding model."""

from __future__ import annotations

from decimal import Decimal

from cairn.answer.base import Draft
from cairn.answer.verify import CitationVerifier
from cairn.context import current_request
from cairn.embed.hashing import HashingEmbedder
from cairn.pipeline import Pipeline
from cairn.trace.base import Tracer
from cairn.types import Chunk, Citation, Filters, Hit, Usage

TEXT = "Dataclasses get a default list with field(default_factory=list)."


def chunk(n: int = 0) -> Chunk:
    return Chunk(
        id=f"doc-{n}",
        doc_id="doc",
        ordinal=n,
        text=TEXT,
        section=("Fields",),
        anchor="fields",
        start=0,
        end=len(TEXT),
        token_count=12,
        hash=f"h{n}",
        source="library/dataclasses.html",
        uri="file:///docs/library/dataclasses.html",
        title="dataclasses",
    )


class FakeRetriever:
    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        return [Hit(chunk=chunk(i), score=1.0 - i / 10) for i in range(min(k, 2))]


class MeteredAnswerer:
    """Quotes the first hit and records a model call's usage and cost, as a metered
    provider would."""

    def __init__(self, usage: Usage | None = None) -> None:
        self.usage = usage or Usage(input_tokens=120, output_tokens=30)

    def answer(self, question: str, hits: list[Hit]) -> Draft:
        current_request().add(Decimal("0.00042"), self.usage)
        c = hits[0].chunk
        citation = Citation(
            n=1, chunk_id=c.id, source=c.source, uri=c.anchored_uri, section="Fields", quote=TEXT
        )
        return Draft(text=f"{TEXT} [1]", citations=(citation,), abstained=False, usage=self.usage)


class FailingAnswerer:
    def answer(self, question: str, hits: list[Hit]) -> Draft:
        raise RuntimeError("model exploded; token sk-abcdefghijklmnopqrstuvwx")


def pipeline(tracer: Tracer, answerer: object | None = None) -> Pipeline:
    return Pipeline(
        FakeRetriever(),
        answerer or MeteredAnswerer(),  # type: ignore[arg-type]
        CitationVerifier(HashingEmbedder()),
        tracer=tracer,
    )
