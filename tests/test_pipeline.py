from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cairn.answer.base import Draft
from cairn.answer.events import AnswerDoneEvent, VerifiedEvent
from cairn.answer.verify import LexicalVerifier
from cairn.pipeline import Pipeline
from cairn.types import Chunk, Citation, Filters, Hit


def _hit(text: str) -> Hit:
    chunk = Chunk(
        id="c1",
        doc_id="d",
        ordinal=0,
        text=text,
        section=("S",),
        anchor="s",
        start=0,
        end=len(text),
        token_count=5,
        hash="h",
        source="a.md",
        uri="file:///a.md",
    )
    return Hit(chunk=chunk, score=1.0)


class FixedRetriever:
    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.calls: list[tuple[str, int, Filters | None]] = []

    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        self.calls.append((query, k, filters))
        return self.hits[:k]


class QuotingAnswerer:
    def answer(self, question: str, hits: list[Hit]) -> Draft:
        c = hits[0].chunk
        return Draft(
            text=f"{c.text} [1]",
            citations=(
                Citation(n=1, chunk_id=c.id, source=c.source, uri=c.uri, section="S", quote=c.text),
            ),
            abstained=False,
        )


class RecordingTracer:
    def __init__(self) -> None:
        self.spans: list[tuple[str, dict[str, Any]]] = []

    @contextmanager
    def _open(self, name: str, attributes: dict[str, Any]) -> Iterator[Any]:
        record: dict[str, Any] = dict(attributes)
        self.spans.append((name, record))

        class _Span:
            def set(self, **more: Any) -> None:
                record.update(more)

            def error(self, exc: BaseException) -> None:
                record["error"] = repr(exc)

        yield _Span()

    def trace(self, name: str, trace_id: str, **attributes: Any) -> Any:
        return self._open(name, {"trace_id": trace_id, **attributes})

    def span(self, name: str, **attributes: Any) -> Any:
        return self._open(name, attributes)


def make(tracer: RecordingTracer | None = None) -> Pipeline:
    retriever = FixedRetriever([_hit("Dataclasses use default_factory for lists.")])
    pipeline = Pipeline(retriever, QuotingAnswerer(), LexicalVerifier(), k=3)
    if tracer is not None:
        pipeline.tracer = tracer
    return pipeline


def test_ask_runs_every_stage_and_traces_it() -> None:
    tracer = RecordingTracer()
    answer = make(tracer).ask("lists in dataclasses?")
    assert answer.text.endswith("[1]") and answer.citations[0].verified is True
    assert len(answer.trace_id) == 32 and answer.latency_ms > 0
    names = [name for name, _ in tracer.spans]
    assert names == ["ask", "retrieve", "answer", "verify"]
    assert tracer.spans[0][1]["trace_id"] == answer.trace_id
    assert tracer.spans[1][1]["chunk_ids"] == ["c1"]


def test_stream_yields_tokens_citations_verdict_then_answer() -> None:
    events = list(make().ask_stream("lists in dataclasses?"))
    kinds = [e.kind for e in events]
    assert kinds[-2:] == ["verified", "done"]
    assert kinds.count("citation") == 1
    tokens = "".join(e.text for e in events if e.kind == "token")  # type: ignore[union-attr]
    done = events[-1]
    assert isinstance(done, AnswerDoneEvent) and tokens == done.answer.text
    verdict = events[-2]
    assert isinstance(verdict, VerifiedEvent) and verdict.citations[0].verified is True
