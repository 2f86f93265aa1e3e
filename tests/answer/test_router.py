"""Routing by difficulty: the router's decisions, and the pipeline answering each route with
its own model, the decision on the answer, the trace and every ledger line.

Real SQLite store and retrieval (the synthetic evaluation corpus), real budget ledger,
scripted models at two price levels."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cairn.answer.extractive import ExtractiveAnswerer
from cairn.answer.generative import GenerativeAnswerer
from cairn.answer.prompt import SENTINEL
from cairn.answer.router import DifficultyRouter, FixedRouter, signals
from cairn.answer.verify import CitationVerifier
from cairn.budget import Budget, PriceBook
from cairn.budget.metered import MeteredProvider
from cairn.budget.summary import summarise
from cairn.config import AnswerSettings, RetrieveSettings, RouterSettings
from cairn.llm.scripted import ScriptedModel
from cairn.payloads import answer_json
from cairn.pipeline import Pipeline
from cairn.retrieve.hybrid import build_retriever
from cairn.stages import LedgerSettler
from cairn.store.base import Store
from cairn.testing.evalcorpus import EMBEDDER, build_store
from cairn.testing.pipelines import chunk
from cairn.trace import RecordingTracer
from cairn.trace.records import TraceRecord
from cairn.types import Chunk, Hit

PRICES = PriceBook.fixed({"strong": ("2.5", "10"), "cheap": ("0.15", "0.6")})
SINGLE = "How do I change the aurora timeout?"
MULTI = "Compare the caches of the aurora service and the basalt service."


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = build_store(tmp_path_factory.mktemp("router") / "cairn.db")
    yield s
    s.close()


@pytest.fixture
def budget(tmp_path: Path) -> Iterator[Budget]:
    b = Budget(tmp_path / "ledger.db", prices=PRICES)
    yield b
    b.close()


class _Sink:
    def __init__(self) -> None:
        self.traces: list[TraceRecord] = []

    def write(self, trace: TraceRecord) -> None:
        self.traces.append(trace)

    def close(self) -> None:
        pass


def _hit(source: str, score: float, dense: float | None = None) -> Hit:
    base = chunk(0)
    c = Chunk(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, "source": source})
    return Hit(chunk=c, score=score, dense=dense)


def test_signals_read_scores_sources_and_the_question() -> None:
    hits = [_hit("a.html", 0.9, 0.8), _hit("b.html", 0.85, 0.7), _hit("c.html", 0.2, 0.1)]
    found = signals("Compare a and b", hits, near=0.9)
    assert found == {"hits": 3.0, "top": 0.9, "dense": 0.8, "sources": 2.0, "multi_hop": 1.0}
    assert signals("What is a?", [], near=0.9)["hits"] == 0.0


def test_the_policy_sends_each_kind_of_question_to_its_route() -> None:
    router = DifficultyRouter(RouterSettings(mode="difficulty", extractive=False))
    one = [_hit("a.html", 0.9, 0.8), _hit("a.html", 0.5, 0.4)]
    two = [_hit("a.html", 0.9, 0.8), _hit("b.html", 0.88, 0.79)]
    weak = [_hit("a.html", 0.3, 0.2)]
    lookup = router.route("What is the default timeout?", one)
    assert (lookup.route, lookup.reason, lookup.escalate_to) == (
        "cheap",
        "single-source lookup",
        "strong",
    )
    assert router.route("What is the difference between a and b?", one).route == "strong"
    spread = router.route("What is the default timeout?", two)
    assert (spread.route, spread.reason) == ("strong", "evidence spread over several sources")
    low = router.route("What is the default timeout?", weak)
    assert (low.route, low.reason) == ("strong", "low retrieval confidence")
    assert router.route("anything", []).reason == "no evidence"
    no_escalation = DifficultyRouter(RouterSettings(extractive=False, escalate=False))
    assert no_escalation.route("What is the default timeout?", one).escalate_to is None


class _Models:
    def __init__(self, budget: Budget, cheap_reply: str | None = None) -> None:
        self.strong_model = ScriptedModel(model="strong")
        self.cheap_model = ScriptedModel(*(() if cheap_reply is None else (cheap_reply,)))
        self.cheap_model._model = "cheap"
        self.strong = GenerativeAnswerer(MeteredProvider(self.strong_model, budget))
        self.cheap = GenerativeAnswerer(MeteredProvider(self.cheap_model, budget))


def _pipeline(
    store: Store, budget: Budget, models: _Models, router: object, **kw: object
) -> Pipeline:
    retriever = build_retriever(store, EMBEDDER, RetrieveSettings(), None)
    return Pipeline(
        retriever,
        models.strong,
        CitationVerifier(EMBEDDER, store=store),
        k=3,
        settler=LedgerSettler(budget),
        router=router,  # type: ignore[arg-type]
        answerers={"cheap": models.cheap},
        **kw,  # type: ignore[arg-type]
    )


def _policy(**changes: object) -> RouterSettings:
    """Thresholds for the hashing embedder of the synthetic corpus."""
    policy: dict[str, object] = {"extractive": False, "min_confidence": 0.0, **changes}
    return RouterSettings(mode="difficulty", **policy)  # type: ignore[arg-type]


def test_a_lookup_goes_to_the_cheap_model_and_the_ledger_says_so(
    store: Store, budget: Budget
) -> None:
    models = _Models(budget)
    sink = _Sink()
    tracer = RecordingTracer([sink])
    pipeline = _pipeline(
        store, budget, models, DifficultyRouter(_policy(max_sources_cheap=5)), tracer=tracer
    )
    answer = pipeline.ask(SINGLE)
    assert answer.route is not None and answer.route.route == "cheap"
    assert not answer.abstained
    assert len(models.cheap_model.history) == 1 and not models.strong_model.history
    entries = budget.entries()
    assert [(e.model, e.route, e.feature) for e in entries] == [("cheap", "cheap", "ask")]
    assert answer.cost_usd == float(entries[0].cost_usd) > 0
    tracer.close()
    root = sink.traces[-1].root
    assert root.attributes["route"] == "cheap"
    assert root.attributes["route_reason"] == "single-source lookup"
    route_span = next(s for s in sink.traces[-1].spans if s.name == "route")
    assert route_span.attributes["top"] > 0
    assert answer_json(answer)["route"]["route"] == "cheap"


def test_a_multi_hop_question_goes_to_the_strong_model(store: Store, budget: Budget) -> None:
    models = _Models(budget)
    pipeline = _pipeline(store, budget, models, DifficultyRouter(_policy()))
    answer = pipeline.ask(MULTI)
    assert answer.route is not None
    assert (answer.route.route, answer.route.reason) == ("strong", "multi-hop question")
    assert models.strong_model.history and not models.cheap_model.history
    assert {(e.model, e.route) for e in budget.entries()} == {("strong", "strong")}


def test_a_cheap_abstention_escalates_to_the_strong_model_both_paid(
    store: Store, budget: Budget
) -> None:
    models = _Models(budget, cheap_reply=SENTINEL)
    pipeline = _pipeline(store, budget, models, DifficultyRouter(_policy(max_sources_cheap=5)))
    events = list(pipeline.ask_stream(SINGLE))
    answer = events[-1].answer  # type: ignore[attr-defined]
    assert answer.route.route == "escalated"
    assert "the cheap answer abstained" in answer.route.reason
    assert not answer.abstained  # the strong model's answer, not the cheap abstention
    streamed = "".join(getattr(e, "text", "") for e in events if type(e).__name__ == "TokenEvent")
    assert streamed == answer.text  # nothing of the cheap try reached the stream
    lines = [(e.model, e.route) for e in budget.entries()]
    assert lines == [("cheap", "cheap"), ("strong", "escalated")]
    by_route = {r.key: r for r in summarise(budget.ledger).groups["route"]}
    assert set(by_route) == {"cheap", "escalated"}
    total = sum((e.cost_usd for e in budget.entries()), Decimal(0))
    assert Decimal(str(answer.cost_usd)) == total


def test_a_confident_verified_extractive_answer_calls_no_model(
    store: Store, budget: Budget
) -> None:
    models = _Models(budget)
    verifier = CitationVerifier(EMBEDDER, store=store)
    extractive = ExtractiveAnswerer(store, EMBEDDER, AnswerSettings(abstain_threshold=0.0))
    router = DifficultyRouter(
        _policy(extractive=True, extractive_confidence=0.0, max_sources_cheap=5),
        extractive=extractive,
        verifier=verifier,
    )
    answer = _pipeline(store, budget, models, router).ask(SINGLE)
    assert answer.route is not None and answer.route.route == "extractive"
    assert answer.citations and all(c.verified for c in answer.citations)
    assert not models.strong_model.history and not models.cheap_model.history
    assert [(e.model, e.route, e.cost_usd) for e in budget.entries()] == [
        ("extractive", "extractive", Decimal(0))
    ]


def test_fixed_and_no_router_leave_the_pipeline_as_it_was(store: Store, budget: Budget) -> None:
    models = _Models(budget)
    fixed = _pipeline(store, budget, models, FixedRouter("cheap")).ask(SINGLE)
    assert fixed.route is not None and fixed.route.route == "cheap"
    plain = Pipeline(
        build_retriever(store, EMBEDDER, RetrieveSettings(), None),
        models.strong,
        CitationVerifier(EMBEDDER, store=store),
        settler=LedgerSettler(budget),
    ).ask(SINGLE)
    assert plain.route is None and answer_json(plain)["route"] is None
    assert budget.entries()[-1].route is None


def test_a_cheap_model_that_cannot_serve_escalates_instead_of_degrading(
    store: Store, budget: Budget
) -> None:
    from cairn.llm.errors import ProviderUnavailable

    models = _Models(budget)
    models.cheap_model.enqueue(ProviderUnavailable("cheap model down", provider="scripted"))
    extractive = ExtractiveAnswerer(store, EMBEDDER, AnswerSettings(abstain_threshold=0.0))
    pipeline = _pipeline(
        store,
        budget,
        models,
        DifficultyRouter(_policy(max_sources_cheap=5)),
        fallback=extractive,
    )
    from tests.test_pipeline import RecordingTracer

    tracer = RecordingTracer()
    pipeline.tracer = tracer  # type: ignore[assignment]
    answer = pipeline.ask(SINGLE)
    assert answer.route is not None and answer.route.route == "escalated"
    assert "the cheap answer failed (unavailable)" in answer.route.reason
    assert answer.degraded is None and not answer.abstained
    # the strong model answered: no `answer` span says degraded (metrics and /readyz read it)
    answers = [attrs for name, attrs in tracer.spans if name == "answer"]
    assert answers and not [a for a in answers if "degraded" in a]
    assert [a.get("try_failed") for a in answers] == ["unavailable", None]
    assert models.strong_model.history
    lines = [(e.model, e.route, e.status) for e in budget.entries()]
    assert lines == [("cheap", "cheap", "released"), ("strong", "escalated", "settled")]
