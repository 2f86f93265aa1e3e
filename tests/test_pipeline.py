from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cairn.answer.base import Draft, StreamingAnswerer
from cairn.answer.events import AnswerDoneEvent, AnswerEvent, DoneEvent, TokenEvent, VerifiedEvent
from cairn.answer.verify import CitationVerifier
from cairn.embed.hashing import HashingEmbedder
from cairn.pipeline import Pipeline
from cairn.stages import GuardVerdict, Screened
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
    pipeline = Pipeline(retriever, QuotingAnswerer(), CitationVerifier(HashingEmbedder()), k=3)
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


class BlockWord:
    """A guard that blocks questions or answers containing one word."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.seen: list[str] = []

    def check(self, question: str) -> GuardVerdict:
        self.seen.append(question)
        if self.word in question:
            return GuardVerdict(status="blocked", reason="forbidden word", refusal="No.")
        return GuardVerdict(status="pass")


class BlockDraft:
    def check(self, draft: Draft, hits: list[Hit]) -> GuardVerdict:
        return GuardVerdict(status="blocked", reason="leaks", refusal="Withheld.")


class Reverse:
    def rerank(self, question: str, hits: list[Hit]) -> list[Hit]:
        return list(reversed(hits))


class DropAll:
    def screen(self, question: str, hits: list[Hit]) -> Screened:
        return Screened(hits=[], verdict=GuardVerdict(status="pass"))


class StreamingQuoter(QuotingAnswerer):
    def stream(self, question: str, hits: list[Hit]) -> Iterator[AnswerEvent]:
        draft = self.answer(question, hits)
        yield TokenEvent(text="live ")
        yield DoneEvent(draft=draft)


def test_default_stages_are_off_and_reported_on_the_trace() -> None:
    tracer = RecordingTracer()
    make(tracer).ask("lists in dataclasses?")
    root = tracer.spans[0][1]
    assert (root["guard_input"], root["guard_context"], root["guard_output"]) == ("off",) * 3


def test_a_blocking_input_guard_stops_before_retrieval() -> None:
    tracer = RecordingTracer()
    pipeline = make(tracer)
    guard = BlockWord("secret")
    pipeline.input_guard = guard
    answer = pipeline.ask("tell me the secret")
    assert answer.abstained and answer.text == "No." and not answer.citations
    names = [name for name, _ in tracer.spans]
    assert names == ["ask", "guard.input"]  # nothing retrieved or answered
    assert tracer.spans[0][1]["guard_input_reason"] == "forbidden word"
    assert tracer.spans[1][1] == {"stage": "input", "decision": "blocked", "reason": "forbidden"}
    assert not pipeline.ask("lists in dataclasses?").abstained
    assert guard.seen == ["tell me the secret", "lists in dataclasses?"]


def test_a_blocking_output_guard_replaces_the_answer_in_both_paths() -> None:
    pipeline = make()
    pipeline.output_guard = BlockDraft()
    assert pipeline.ask("lists?").text == "Withheld."
    done = list(pipeline.ask_stream("lists?"))[-1]
    assert isinstance(done, AnswerDoneEvent) and done.answer.text == "Withheld."
    assert done.answer.abstained


def test_reranker_and_context_guard_shape_the_evidence() -> None:
    hits = [_hit("first"), _hit("second")]
    seen: list[list[str]] = []

    class Recording(QuotingAnswerer):
        def answer(self, question: str, hits: list[Hit]) -> Draft:
            seen.append([h.chunk.text for h in hits])
            if not hits:
                return Draft(text="nothing", citations=(), abstained=True)
            return super().answer(question, hits)

    pipeline = Pipeline(FixedRetriever(hits), Recording(), CitationVerifier(HashingEmbedder()))
    pipeline.reranker = Reverse()
    pipeline.ask("q")
    pipeline.context_guard = DropAll()
    assert pipeline.ask("q").abstained
    assert seen == [["second", "first"], []]


def test_a_streaming_answerer_is_recognised_by_its_protocol() -> None:
    pipeline = make()
    pipeline.answerer = StreamingQuoter()
    assert isinstance(pipeline.answerer, StreamingAnswerer)
    assert not isinstance(QuotingAnswerer(), StreamingAnswerer)
    events = list(pipeline.ask_stream("lists?"))
    assert [e.kind for e in events] == ["token", "verified", "done"]
    assert events[0] == TokenEvent(text="live ")


class PassDraft:
    def check(self, draft: Draft, hits: list[Hit]) -> GuardVerdict:
        return GuardVerdict(status="pass")


class BlockContext:
    def screen(self, question: str, hits: list[Hit]) -> Screened:
        return Screened(hits=hits, verdict=GuardVerdict(status="blocked", reason="poisoned"))


class RecordingCache:
    """An answer cache that never hits and remembers what it was asked to keep."""

    def __init__(self) -> None:
        self.stored: list[str] = []

    def get(self, request: Any) -> None:
        return None

    def put(self, request: Any, answer: Any) -> None:
        self.stored.append(answer.text)


def test_a_withheld_answer_never_streams_and_is_never_cached() -> None:
    pipeline = make()
    cache = RecordingCache()
    pipeline.cache = cache  # type: ignore[assignment]
    pipeline.output_guard = BlockDraft()
    events = list(pipeline.ask_stream("lists?"))
    sent = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert sent == "Withheld."  # not a word of the withheld answer
    assert [e.kind for e in events if e.kind in ("citation", "verified")] == ["verified"]
    verdict = next(e for e in events if isinstance(e, VerifiedEvent))
    assert verdict.citations == ()
    assert cache.stored == []


def test_a_passing_output_guard_sends_the_checked_answer_whole() -> None:
    pipeline = make()
    pipeline.output_guard = PassDraft()
    events = list(pipeline.ask_stream("lists?"))
    done = events[-1]
    assert isinstance(done, AnswerDoneEvent) and not done.answer.abstained
    sent = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert sent == done.answer.text
    verdict = events[-2]
    assert isinstance(verdict, VerifiedEvent) and verdict.citations[0].verified is True


def test_a_blocking_context_guard_stops_before_the_answer() -> None:
    tracer = RecordingTracer()
    pipeline = make(tracer)
    pipeline.context_guard = BlockContext()
    answer = pipeline.ask("lists?")
    assert answer.abstained and not answer.citations
    names = [name for name, _ in tracer.spans]
    assert names == ["ask", "retrieve", "guard.context"]  # nothing answered
    assert tracer.spans[0][1]["guard_context_reason"] == "poisoned"
    decision = dict(tracer.spans[2][1])
    assert decision["decision"] == "blocked" and decision["reason"] == "poisoned"
    assert decision["guard"] == "BlockContext"


def test_the_caller_comes_from_an_enclosing_request_scope() -> None:
    from cairn.context import request_context

    tracer = RecordingTracer()
    with request_context(tenant="acme", user="ann", feature="chat"):
        make(tracer).ask("lists?")
    assert (tracer.spans[0][1]["tenant"], tracer.spans[0][1]["user"]) == ("acme", "ann")


def test_the_answerer_sees_the_request_filters_in_its_context() -> None:
    """What the request may read reaches a stage that queries the store itself (the
    extractive answerer's look-up of a name)."""
    from cairn.context import current_context

    seen: list[Filters | None] = []

    class Looking(QuotingAnswerer):
        def answer(self, question: str, hits: list[Hit]) -> Draft:
            ctx = current_context()
            seen.append(ctx.filters if ctx is not None else None)
            return super().answer(question, hits)

    pipeline = make()
    pipeline.answerer = Looking()
    mine = Filters(principals=("team-a",), source_globs=("guides/*",))
    pipeline.ask("lists?", filters=mine)
    pipeline.ask("lists?")
    assert seen == [mine, None]


class FailingAnswerer:
    """An answerer whose model cannot serve: raises `error` on every call."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def answer(self, question: str, hits: list[Hit]) -> Draft:
        self.calls += 1
        raise self.error


def _budget_refusal() -> Exception:
    from decimal import Decimal

    from cairn.budget.errors import BudgetExceeded

    return BudgetExceeded(
        limit="daily",
        setting="budget.daily_usd",
        limit_usd=Decimal("0.0000001"),
        spent_usd=Decimal(0),
        reserved_usd=Decimal(0),
        request_usd=Decimal("0.001"),
        period="2026-12-05",
    )


def degrading(error: Exception, tracer: RecordingTracer | None = None) -> Pipeline:
    pipeline = make(tracer)
    pipeline.answerer = FailingAnswerer(error)
    pipeline.fallback = QuotingAnswerer()
    return pipeline


def test_a_model_that_cannot_serve_falls_back_to_a_cited_degraded_answer() -> None:
    from cairn.llm.errors import ProviderUnavailable

    tracer = RecordingTracer()
    down = ProviderUnavailable("connection refused", provider="openai", model="m")
    answer = degrading(down, tracer).ask("lists in dataclasses?")
    assert answer.degraded is not None and answer.degraded.reason == "unavailable"
    assert "connection refused" in answer.degraded.detail
    assert not answer.abstained and answer.citations[0].verified is True  # verified as usual
    spans = dict(tracer.spans)
    assert spans["ask"]["degraded"] == "unavailable"  # the trace attribute
    assert spans["answer"]["degraded"] == "unavailable"
    assert spans["fallback"]["answerer"] == "QuotingAnswerer"


def test_each_refusal_reads_as_its_reason() -> None:
    from cairn.llm.errors import AllProvidersFailed, CircuitOpen, RateLimited

    cases: list[tuple[Exception, str, float | None]] = [
        (CircuitOpen("paused", provider="openai", model="m"), "circuit_open", None),
        (RateLimited("slow down", retry_after=7.0), "rate_limited", 7.0),
        (AllProvidersFailed([CircuitOpen("paused"), CircuitOpen("paused")]), "circuit_open", None),
    ]
    for error, reason, retry_after in cases:
        answer = degrading(error).ask("lists in dataclasses?")
        assert answer.degraded is not None, error
        assert (answer.degraded.reason, answer.degraded.retry_after) == (reason, retry_after)
    refused = degrading(_budget_refusal()).ask("lists in dataclasses?")
    assert refused.degraded is not None and refused.degraded.reason == "budget_exhausted"
    assert refused.degraded.retry_after is not None and refused.degraded.retry_after >= 1


def test_without_a_fallback_or_for_a_rejected_request_the_error_stands() -> None:
    import pytest

    from cairn.llm.errors import ProviderUnavailable, RequestRejected

    strict = make()
    strict.answerer = FailingAnswerer(ProviderUnavailable("down"))
    with pytest.raises(ProviderUnavailable):
        strict.ask("lists in dataclasses?")  # answer.fallback = "error"
    with pytest.raises(RequestRejected):  # a bad key is a configuration to fix, not hidden
        degrading(RequestRejected("401 invalid key", status=401)).ask("lists?")


def test_a_degraded_stream_says_so_before_its_first_token_and_is_never_cached() -> None:
    from cairn.cache.memory import MemoryAnswerCache
    from cairn.llm.errors import ProviderUnavailable

    pipeline = degrading(ProviderUnavailable("down"))
    events = list(pipeline.ask_stream("lists in dataclasses?"))
    assert events[0].kind == "degraded"
    done = events[-1]
    assert isinstance(done, AnswerDoneEvent) and done.answer.degraded is not None
    tokens = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert tokens == done.answer.text
    recording = RecordingCache()
    pipeline.cache = recording  # type: ignore[assignment]
    pipeline.ask("lists in dataclasses?")
    assert recording.stored == []  # the model's answer is wanted once it is back
    pipeline.cache = MemoryAnswerCache()
    first = pipeline.ask("lists in dataclasses?")
    again = pipeline.ask("lists in dataclasses?")
    assert first.degraded is not None and again.degraded is not None and not again.cached


def test_an_open_circuit_answers_from_the_fallback_without_waiting() -> None:
    """The fallback adds no wait once the breaker is open: no sleep, no call (injected
    clock and sleep, so nothing depends on this machine's speed)."""
    from cairn.answer.generative import GenerativeAnswerer
    from cairn.llm.breaker import CircuitBreaker
    from cairn.llm.errors import ProviderUnavailable
    from cairn.llm.reliable import ReliableProvider
    from cairn.llm.retry import RetryPolicy
    from cairn.llm.scripted import ScriptedModel

    now = [0.0]
    slept: list[float] = []
    down = [ProviderUnavailable("connection refused") for _ in range(3)]
    model = ScriptedModel(*down)
    provider = ReliableProvider(
        model,
        retry=RetryPolicy(attempts=3, base_delay=0.5),
        breaker=CircuitBreaker(threshold=3, reset_after=30.0, clock=lambda: now[0]),
        sleep=slept.append,
    )
    pipeline = make()
    pipeline.answerer = GenerativeAnswerer(provider)
    pipeline.fallback = QuotingAnswerer()

    first = pipeline.ask("lists in dataclasses?")  # retries, then the breaker opens
    assert first.degraded is not None and first.degraded.reason == "unavailable"
    assert len(model.history) == 3 and len(slept) == 2
    now[0] += 10.0  # within breaker_reset_s
    for stream in (False, True):
        if stream:
            events = list(pipeline.ask_stream("lists in dataclasses?"))
            done = events[-1]
            assert isinstance(done, AnswerDoneEvent)
            answer = done.answer
        else:
            answer = pipeline.ask("lists in dataclasses?")
        assert answer.degraded is not None and answer.degraded.reason == "circuit_open"
        assert answer.citations and answer.citations[0].verified is True
    assert len(model.history) == 3 and len(slept) == 2  # no call, no wait
