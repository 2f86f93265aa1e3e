"""The request path as one explicit list of stages, run top to bottom.

    input guard -> [rewrite] -> cache -> retrieve -> rerank -> context guard -> route
      -> assemble -> answer -> attribute -> verify -> output guard -> settle -> [shadow]

`assemble` picks the passages the answerer is given (`cairn.answer.assembly`: a token
budget, merged and expanded chunks, for a model; every hit as retrieved by default);
`attribute` cites each sentence of a model's answer by the passage that supports it
(`cairn.answer.attribute`; a no-op by default), then the evidence check withholds a model's
answer whose cited passages do not answer the question (`cairn.answer.evidence`; a no-op by
default). `rerank` reorders `rerank_depth` candidates and keeps the first `k`
(`cairn.rerank`). The answer's `hits` stay the retrieved ones.

A question asked with `history` (earlier turns of a conversation) is checked by the input
guard as asked, then made standalone by the `rewriter` (`cairn.conversation`), the history
kept to `history_tokens`; every later stage sees the standalone query, recorded on the
trace (`query`) and the answer (`query`).

Every stage is injected (`cairn.stages` holds the pluggable ones and their no-op defaults);
tests swap any of them, and guardrails or a reranker plug in by supplying a stage.
`ask` and `ask_stream` share one run of the stages (`_run`).

Degraded mode: when the answerer's model cannot serve (`cairn.answer.degraded`: provider
down, circuit open, budget or rate limit refused) and a `fallback` answerer is set
(`answer.fallback = "extractive"`), the fallback answers, its draft verified as usual, and
the answer carries `degraded` (also on the trace, and as a `DegradedEvent` in a stream).
Without a fallback the error propagates. A degraded answer is never cached.

Routing (`cairn.answer.router`): the `router` picks the answerer of each request from
`answerers` by route name (`cheap`, `strong`); a confident, verified extractive answer it
made is answered as it is (route `extractive`, no model call). The decision is on the trace,
the answer (`route`) and the ledger line of every model call of the request.

Shadow (`cairn.shadow`): once the answer is complete, the `shadow` stage may queue the same
question and evidence for a candidate model, answered and scored on a background thread,
off the caller's path.
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from cairn.answer.assembly import ContextAssembler, KeepHits
from cairn.answer.attribute import Attributor, KeepCitations, PostHocAttributor
from cairn.answer.base import Answerer, Draft, StreamingAnswerer
from cairn.answer.degraded import degradation_of
from cairn.answer.events import (
    AnswerDoneEvent,
    AnswerEvent,
    CitationEvent,
    DegradedEvent,
    DoneEvent,
    PipelineEvent,
    TokenEvent,
    VerifiedEvent,
)
from cairn.answer.evidence import EvidenceCheck, KeepAnswer
from cairn.answer.router import DEFAULT_ROUTE, ESCALATED, NoRouter, RouteDecision, Router
from cairn.answer.verify import Verifier
from cairn.cache import AnswerCache, CacheHit, CacheRequest
from cairn.context import RequestContext, current_context, request_context
from cairn.conversation import KeepQuestion, QueryRewriter, Turn, fit_history
from cairn.rerank.base import ExplainingReranker, Reordering
from cairn.retrieve.base import Retriever
from cairn.shadow import ShadowStage
from cairn.stages import (
    OFF,
    ContextGuard,
    GuardVerdict,
    InputGuard,
    KeepOrder,
    LedgerSettler,
    NoContextGuard,
    NoInputGuard,
    NoOutputGuard,
    OutputGuard,
    Reranker,
    Screened,
    Settler,
    refusal_draft,
)
from cairn.trace.base import NullTracer, Span, Tracer
from cairn.types import Answer, Citation, Degraded, Filters, GuardDecisions, Hit

_PIECE = re.compile(r"\S+\s*|\s+")


@dataclass
class Pipeline:
    retriever: Retriever
    answerer: Answerer
    verifier: Verifier
    k: int = 5
    tracer: Tracer = field(default_factory=NullTracer)
    cache: AnswerCache | None = None
    """Answers reused across requests (`cairn.cache.open_answer_cache`); None = no cache."""
    generation: Callable[[], int] = field(default=lambda: 0)
    """The corpus generation (`store.generation`), read once per request for the cache key."""
    cache_config: str = ""
    """`cairn.cache.config_fingerprint(settings, mode=..., model=...)` of this pipeline."""
    input_guard: InputGuard = field(default_factory=NoInputGuard)
    reranker: Reranker = field(default_factory=KeepOrder)
    rerank_depth: int = 0
    """Candidates retrieved for the reranker (`rerank.depth`); the first `k` are kept after
    reranking. 0 (or at most `k`): `k` are retrieved and reordered."""
    context_guard: ContextGuard = field(default_factory=NoContextGuard)
    output_guard: OutputGuard = field(default_factory=NoOutputGuard)
    settler: Settler = field(default_factory=lambda: LedgerSettler(None))
    """Closes the request's books: `LedgerSettler(budget)` leaves a ledger line for every
    request (model calls are metered by the provider wrapper; a request that made none is
    recorded at $0 as `extractive`)."""
    fallback: Answerer | None = None
    """Answers when `answerer`'s model cannot serve (degraded mode); None = raise instead."""
    rewriter: QueryRewriter = field(default_factory=KeepQuestion)
    """Makes a question asked with history standalone (`cairn.conversation`)."""
    history_tokens: int = 1024
    """The history the rewriter reads is kept within this many tokens (`fit_history`)."""
    assembler: ContextAssembler = field(default_factory=KeepHits)
    """The passages the answerer is given (`cairn.answer.assembly.BudgetedContext` for a
    model)."""
    attributor: Attributor = field(default_factory=KeepCitations)
    """Cites a model's sentences by what supports them
    (`cairn.answer.attribute.PostHocAttributor`)."""
    evidence: EvidenceCheck = field(default_factory=KeepAnswer)
    """Withholds a model's answer whose cited passages do not answer the question
    (`cairn.answer.evidence.AnswerabilityCheck`), after attribution."""
    router: Router = field(default_factory=NoRouter)
    """Picks the route of each request (`cairn.answer.router`); `NoRouter`: `answerer`."""
    answerers: Mapping[str, Answerer] = field(default_factory=dict)
    """The answerer of each route the router may pick (`cheap`, `strong`); a route not
    here is answered by `answerer`."""
    shadow: ShadowStage | None = None
    """Queues a share of answered requests for a candidate model (`cairn.shadow`)."""

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        with self.tracer.trace("search", uuid.uuid4().hex, query=query):
            return self._retrieve(query, k or self.k, filters)

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        user: str | None = None,
        tenant: str | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Answer `question` through every stage. See `ask_stream` for the events.
        `history`: the conversation's earlier turns (the question is rewritten first)."""
        for event in self._run(question, k, filters, user, tenant, history, stream=False):
            if isinstance(event, AnswerDoneEvent):
                return event.answer
        raise AssertionError("the pipeline ended without an answer")  # pragma: no cover

    def ask_stream(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        user: str | None = None,
        tenant: str | None = None,
        history: Sequence[Turn] = (),
    ) -> Iterator[PipelineEvent]:
        """`ask`, as events. A `StreamingAnswerer` streams for real; other answerers are
        replayed word by word from their complete draft. With an output guard, the answer
        is checked whole before any of it is sent, so a withheld answer never leaks."""
        return self._run(question, k, filters, user, tenant, history, stream=True)

    def _run(
        self,
        question: str,
        k: int | None,
        filters: Filters | None,
        user: str | None,
        tenant: str | None,
        history: Sequence[Turn] = (),
        *,
        stream: bool,
    ) -> Iterator[PipelineEvent]:
        started = time.perf_counter()
        trace_id = uuid.uuid4().hex
        request: CacheRequest | None = None
        hits: list[Hit] = []
        fresh = False
        decision = DEFAULT_ROUTE
        with request_context(trace_id, user=user, tenant=tenant, filters=filters) as ctx:
            user, tenant = ctx.user, ctx.tenant  # the caller, also when set by an outer scope
            with self.tracer.trace(
                "ask", trace_id, question=question, stream=stream, user=user, tenant=tenant
            ) as root:
                refusal: Draft | None = None
                cached: Answer | None = None
                verdict = self._guarded("input", lambda: self.input_guard.check(question))  # 1
                root.set(guard_input=verdict.status)
                decisions = _decided(GuardDecisions(), "input", verdict)
                if verdict.question is not None:  # the legitimate part of a mixed question
                    question = verdict.question
                    root.set(guard_input_question=question)
                if verdict.blocked:
                    refusal = _refusal("input", verdict, root)
                else:
                    if history:
                        asked = question
                        question = self._rewrite(question, history, root)  # rewrite
                        if question != asked:  # the history is client text: guard it too
                            again = self._guarded("input", lambda: self.input_guard.check(question))
                            if again.status in ("blocked", "flagged"):
                                decisions = _decided(decisions, "input", again)
                                root.set(guard_input=again.status)
                            if again.blocked:
                                refusal = _refusal("input", again, root)
                            elif again.question is not None:  # its legitimate part only
                                question = again.question
                                root.set(guard_input_question=question)
                if refusal is None:
                    request = self._cache_request(question, filters, tenant, k)  # 2 cache
                    hit = self.cache.get(request) if request and self.cache else None
                    if hit is not None:
                        cached = self._serve_cached(hit, started, trace_id, root)
                    elif request is not None:
                        root.set(cache="miss")
                if refusal is None and cached is None:
                    keep = k or self.k
                    hits = self._retrieve(question, max(keep, self.rerank_depth), filters)  # 3
                    hits = self._rerank(question, hits)[:keep]  # 4 rerank
                    screened = self._screen(question, hits)  # 5 context guard
                    root.set(guard_context=screened.verdict.status)
                    decisions = _decided(decisions, "context", screened.verdict)
                    if screened.verdict.blocked:
                        refusal = _refusal("context", screened.verdict, root)
                    else:
                        hits = screened.hits
                        decision = self._route(question, hits, ctx, root)  # route
                        passages = self._assemble(question, hits)  # assemble
                        draft, refusal, output, decision = yield from self._answer_checked(
                            question, passages, stream, root, decision
                        )
                        decisions = _decided(decisions, "output", output)
                if cached is not None:
                    answer = dataclasses.replace(cached, guard=decisions)
                    yield from _replay(answer.text, answer.citations, stream)
                else:
                    if refusal is not None:
                        draft = refusal
                        yield from _replay(refusal.text, (), stream)
                    answer = self._finish(draft, hits, ctx, started, trace_id, root)
                    answer = dataclasses.replace(answer, guard=decisions, route=decision.record())
                    fresh = refusal is None and draft.degraded is None
                if history:
                    answer = dataclasses.replace(answer, query=question)
                self.settler.settle(ctx)  # 10 settle
        if fresh and request is not None and self.cache is not None:
            self.cache.put(request, answer)  # never a cached answer again, never a refusal
        if fresh and self.shadow is not None:  # 11 shadow: queued, compared off this path
            self.shadow.offer(question, hits, answer, user=user, tenant=tenant, filters=filters)
        yield AnswerDoneEvent(answer=answer)

    def _guarded(self, stage: str, check: Callable[[], GuardVerdict]) -> GuardVerdict:
        """A guard's decision, in a `guard.<stage>` span (`cairn_guard_decisions_total`);
        the no-op guards get no span."""
        guard = self.input_guard if stage == "input" else self.output_guard
        if isinstance(guard, NoInputGuard | NoOutputGuard):
            return check()
        with self.tracer.span(f"guard.{stage}", stage=stage) as span:
            verdict = check()
            span.set(decision=verdict.status, reason=verdict.code)
        return verdict

    def standalone(self, question: str, history: Sequence[Turn]) -> str:
        """`question` as the standalone query the rewrite stage would make of it."""
        if not history:
            return question
        return (
            self.rewriter.rewrite(question, fit_history(history, self.history_tokens)) or question
        )

    def _rewrite(self, question: str, history: Sequence[Turn], root: Span) -> str:
        with self.tracer.span("rewrite", rewriter=type(self.rewriter).__name__) as span:
            query = self.standalone(question, history)
            span.set(turns=len(history), query=query)
        root.set(query=query, rewritten=query != question)
        return query

    def _route(
        self, question: str, hits: list[Hit], ctx: RequestContext, root: Span
    ) -> RouteDecision:
        if isinstance(self.router, NoRouter):
            return DEFAULT_ROUTE
        with self.tracer.span("route", router=type(self.router).__name__) as span:
            decision = self.router.route(question, hits)
            span.set(route=decision.route, reason=decision.reason, **dict(decision.signals))
        root.set(route=decision.route, route_reason=decision.reason)
        ctx.route = decision.route or None
        return decision

    def _try(self, question: str, hits: list[Hit], route: str) -> tuple[Draft | None, str]:
        """`route`'s answer, or `(None, why)` when its model cannot serve (no fallback: the
        stronger route answers instead)."""
        answerer = self.answerers.get(route, self.answerer)
        with self.tracer.span("answer", answerer=type(answerer).__name__, route=route) as span:
            try:
                draft = answerer.answer(question, hits)
            except Exception as exc:
                degraded = degradation_of(exc)
                if degraded is None:
                    raise
                # not `degraded`: the stronger route answers, so nothing is degraded (metrics
                # and the model's health read that attribute of an `answer` span)
                span.set(try_failed=degraded.reason, try_failed_detail=degraded.detail)
                return None, f"failed ({degraded.reason})"
            span.set(
                abstained=draft.abstained,
                reason=draft.reason,
                citations=[c.chunk_id for c in draft.citations],
            )
        return draft, ""

    def _escalate(self, decision: RouteDecision, why: str, root: Span) -> RouteDecision:
        """The decision after the answer of `decision.route` was not kept (`why`)."""
        assert decision.escalate_to is not None
        reason = f"{decision.reason}; the {decision.route} answer {why}"
        with self.tracer.span("escalate", route=decision.route, to=decision.escalate_to) as span:
            span.set(why=why)
        root.set(route=ESCALATED, route_reason=reason)
        ctx = current_context()
        if ctx is not None:
            ctx.route = ESCALATED  # the strong call's ledger line
        return dataclasses.replace(
            decision, route=decision.escalate_to, reason=reason, escalate_to=None, label=ESCALATED
        )

    def _answer_checked(
        self,
        question: str,
        hits: list[Hit],
        stream: bool,
        root: Span,
        decision: RouteDecision = DEFAULT_ROUTE,
    ) -> Generator[PipelineEvent, None, tuple[Draft, Draft | None, GuardVerdict, RouteDecision]]:
        """Answer, verify, output guard: `(draft, refusal, verdict, decision)`. Without an
        output guard the answer streams as it is written; with one, it is checked whole
        before any of it is sent, so a withheld answer never reaches the client. A route
        that escalates (`decision.escalate_to`) is also checked whole: its answer, when it
        abstains or has no verified citation, is replaced by the next route's, and
        `decision` says so."""
        # checked whole before any of it is sent when a guard or attribution may withhold it
        withholds = isinstance(self.attributor, PostHocAttributor) and self.attributor.withhold
        withholds = withholds or not isinstance(self.evidence, KeepAnswer)
        guarded = not isinstance(self.output_guard, NoOutputGuard) or withholds
        written: Draft
        if decision.draft is not None:  # the router's verified extractive answer
            draft = written = decision.draft
            if stream and not guarded:
                yield from _pieces(draft.text, draft.citations)
        elif decision.escalate_to and decision.escalate_to != decision.route:
            # checked whole before any of it is sent: a failed try goes to the stronger route
            tried, why = self._try(question, hits, decision.route)  # answer
            if tried is not None:
                written = tried
                tried = self._verify(self._attribute(question, tried, hits), hits)
                why = "" if _verified(tried) else _unkept(tried)
            if why:
                decision = self._escalate(decision, why, root)
                written = yield from self._answer(
                    question, hits, False, self.answerers.get(decision.route, self.answerer)
                )
                draft = self._verify(self._attribute(question, written, hits), hits)
            else:
                assert tried is not None
                draft = tried
            if stream and not guarded:
                yield from _pieces(draft.text, draft.citations)
        else:
            answerer = self.answerers.get(decision.route, self.answerer)
            written = yield from self._answer(  # answer
                question, hits, stream and not guarded, answerer
            )
            draft = self._attribute(question, written, hits)  # attribute, evidence
            draft = self._verify(draft, hits)  # verify
        draft = _with_risk(draft, hits)
        checked = OFF
        if draft.abstained and not written.abstained:  # withheld as unsupported: a leak too?
            checked = self._guarded("output", lambda: self.output_guard.check(written, hits))
        if not checked.blocked:
            checked = self._guarded("output", lambda: self.output_guard.check(draft, hits))
        root.set(guard_output=checked.status)
        if checked.blocked:
            return draft, _refusal("output", checked, root), checked, decision
        if checked.draft is not None:  # the guard masked secrets or neutralised links
            draft = checked.draft
        if guarded:
            yield from _replay(draft.text, draft.citations, stream)
        else:
            yield VerifiedEvent(citations=draft.citations)
        return draft, None, checked, decision

    def _finish(
        self,
        draft: Draft,
        hits: list[Hit],
        ctx: RequestContext,
        started: float,
        trace_id: str,
        root: Span,
    ) -> Answer:
        latency_ms = (time.perf_counter() - started) * 1000
        if draft.degraded is not None:
            root.set(
                degraded=draft.degraded.reason,
                degraded_detail=draft.degraded.detail,
                degraded_caller_only=draft.degraded.caller_only,
            )
        root.set(
            abstained=draft.abstained,
            latency_ms=round(latency_ms, 2),
            cost_usd=float(ctx.cost_usd),
        )
        return Answer(
            text=draft.text,
            citations=draft.citations,
            abstained=draft.abstained,
            usage=draft.usage,
            cost_usd=float(ctx.cost_usd),
            latency_ms=latency_ms,
            trace_id=trace_id,
            hits=tuple(hits),
            degraded=draft.degraded,
        )

    def _cache_request(
        self, question: str, filters: Filters | None, tenant: str | None, k: int | None
    ) -> CacheRequest | None:
        if self.cache is None:
            return None
        return CacheRequest.build(
            question,
            generation=self.generation(),
            config=self.cache_config,
            filters=filters,
            tenant=tenant,
            k=k or self.k,
        )

    def _serve_cached(self, hit: CacheHit, started: float, trace_id: str, root: Span) -> Answer:
        """A cache hit: the stored answer under this request's trace, at $0."""
        latency_ms = (time.perf_counter() - started) * 1000
        answer = dataclasses.replace(
            hit.served(trace_id=trace_id, latency_ms=latency_ms), cached=True
        )
        root.set(
            cache=hit.kind,
            cache_similarity=round(hit.similarity, 4),
            cache_question=hit.question,
            cache_source_trace_id=hit.answer.trace_id,
            abstained=answer.abstained,
            latency_ms=round(latency_ms, 2),
            cost_usd=0.0,
        )
        return answer

    def _answer(
        self, question: str, hits: list[Hit], stream: bool, answerer: Answerer | None = None
    ) -> Generator[PipelineEvent, None, Draft]:
        answerer = answerer or self.answerer
        with self.tracer.span("answer", answerer=type(answerer).__name__) as span:
            draft = None
            sent = False
            try:
                for event in self._answer_events(answerer, question, hits, stream):
                    if isinstance(event, DoneEvent):
                        draft = event.draft
                    else:
                        sent = True
                        yield event
            except Exception as exc:
                # once text has reached the client, an answer cannot be swapped for another
                degraded = None if sent or self.fallback is None else degradation_of(exc)
                if degraded is None:
                    raise
                span.set(
                    degraded=degraded.reason,
                    degraded_detail=degraded.detail,
                    degraded_caller_only=degraded.caller_only,
                )
                draft = yield from self._fall_back(question, hits, stream, degraded)
            assert draft is not None, "an answerer stream must end with a done event"
            span.set(
                abstained=draft.abstained,
                reason=draft.reason,
                citations=[c.chunk_id for c in draft.citations],
            )
        return draft

    def _fall_back(
        self, question: str, hits: list[Hit], stream: bool, degraded: Degraded
    ) -> Generator[PipelineEvent, None, Draft]:
        """The fallback answerer's draft, marked `degraded`; no model is called, so it
        spends nothing and waits on nothing."""
        assert self.fallback is not None
        fallback = self.fallback
        with self.tracer.span("fallback", answerer=type(fallback).__name__, reason=degraded.reason):
            yield DegradedEvent(degraded=degraded)
            draft = None
            for event in self._answer_events(fallback, question, hits, stream):
                if isinstance(event, DoneEvent):
                    draft = event.draft
                else:
                    yield event
            assert draft is not None, "an answerer stream must end with a done event"
        return dataclasses.replace(draft, degraded=degraded)

    def _answer_events(
        self, answerer: Answerer, question: str, hits: list[Hit], stream: bool
    ) -> Iterator[AnswerEvent]:
        if stream and isinstance(answerer, StreamingAnswerer):
            yield from answerer.stream(question, hits)
            return
        draft = answerer.answer(question, hits)
        if stream:
            yield from _pieces(draft.text, draft.citations)
        yield DoneEvent(draft=draft)

    def _assemble(self, question: str, hits: list[Hit]) -> list[Hit]:
        if isinstance(self.assembler, KeepHits):
            return hits
        with self.tracer.span("assemble", assembler=type(self.assembler).__name__) as span:
            passages = self.assembler.assemble(question, hits)
            span.set(
                chunk_ids=[p.chunk.id for p in passages],
                tokens=[p.chunk.token_count for p in passages],
            )
        return passages

    def _attribute(self, question: str, draft: Draft, hits: list[Hit]) -> Draft:
        """The attribute stage, then the evidence check (both skip an abstention and a
        degraded answer)."""
        if draft.abstained or draft.degraded:
            return draft
        if not isinstance(self.attributor, KeepCitations):
            name = type(self.attributor).__name__
            with self.tracer.span("attribute", attributor=name) as span:
                attributed = self.attributor.attribute(draft, hits)
                span.set(
                    changed=attributed.text != draft.text,
                    withheld=attributed.abstained,
                    reason=attributed.reason,
                )
            draft = attributed
        if isinstance(self.evidence, KeepAnswer) or draft.abstained:
            return draft
        with self.tracer.span("evidence", check=type(self.evidence).__name__) as span:
            checked = self.evidence.check(question, draft, hits)
            span.set(withheld=checked.abstained, reason=checked.reason)
        return checked

    def _verify(self, draft: Draft, hits: list[Hit]) -> Draft:
        with self.tracer.span("verify") as span:
            draft = self.verifier.verify(draft, hits)
            span.set(
                verified=[c.verified for c in draft.citations],
                support=[c.support for c in draft.citations],
            )
        return draft

    def _screen(self, question: str, hits: list[Hit]) -> Screened:
        """The context guard's screening, as a `guard.context` span like the other guards'
        (`cairn_guard_decisions_total`; none without a guard)."""
        if isinstance(self.context_guard, NoContextGuard):
            return self.context_guard.screen(question, hits)
        guard = type(self.context_guard).__name__
        with self.tracer.span("guard.context", stage="context", guard=guard) as span:
            screened = self.context_guard.screen(question, hits)
            kept = {h.chunk.id for h in screened.hits}
            span.set(
                decision=screened.verdict.status,
                reason=screened.verdict.code,
                detail=screened.verdict.reason,
                flagged=[h.chunk.id for h in screened.hits if h.risk and h.risk.flagged],
                dropped=[h.chunk.id for h in hits if h.chunk.id not in kept],
                risk=[h.risk.score if h.risk else None for h in screened.hits],
            )
        return screened

    def _rerank(self, question: str, hits: list[Hit]) -> list[Hit]:
        """The reranker's order, in a `rerank` span (none for `KeepOrder`); a backend that
        kept the incoming order because its model failed says why (`fallback`)."""
        if isinstance(self.reranker, KeepOrder):
            return hits
        name = type(self.reranker).__name__
        with self.tracer.span("rerank", reranker=name, candidates=len(hits)) as span:
            if isinstance(self.reranker, ExplainingReranker):
                reordering = self.reranker.reorder(question, hits)
            else:
                reordering = Reordering(hits=self.reranker.rerank(question, hits))
            span.set(
                chunk_ids=[h.chunk.id for h in reordering.hits],
                fallback=reordering.fallback,
                **{f"rerank_{key}": value for key, value in reordering.notes.items()},
            )
        return reordering.hits

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        with self.tracer.span("retrieve", k=k, retriever=type(self.retriever).__name__) as span:
            hits = self.retriever.retrieve(query, k, filters)
            span.set(chunk_ids=[h.chunk.id for h in hits], scores=[round(h.score, 4) for h in hits])
        return hits


def _with_risk(draft: Draft, hits: Sequence[Hit]) -> Draft:
    """`draft` with each citation carrying its chunk's risk, as the context guard left it."""
    risks = {h.chunk.id: h.risk for h in hits if h.risk is not None}
    if not risks or not draft.citations:
        return draft
    cited = tuple(
        dataclasses.replace(c, risk=risks.get(c.chunk_id, c.risk)) for c in draft.citations
    )
    return dataclasses.replace(draft, citations=cited)


def _pieces(text: str, citations: Sequence[Citation]) -> Iterator[TokenEvent | CitationEvent]:
    """A complete text sent as a stream: word by word, then its citations."""
    for piece in _PIECE.findall(text):
        yield TokenEvent(text=piece)
    for citation in citations:
        yield CitationEvent(citation=citation)


def _replay(text: str, citations: Sequence[Citation], stream: bool) -> Iterator[PipelineEvent]:
    """An answer that was not streamed as it was written (cached, checked, refused)."""
    if stream:
        yield from _pieces(text, citations)
    yield VerifiedEvent(citations=tuple(citations))


def _verified(draft: Draft) -> bool:
    """An answer worth keeping: not an abstention, with at least one verified citation."""
    return not draft.abstained and any(c.verified for c in draft.citations)


def _unkept(draft: Draft) -> str:
    return "abstained" if draft.abstained else "no citation verified"


def _decided(decisions: GuardDecisions, stage: str, verdict: GuardVerdict) -> GuardDecisions:
    """`decisions` with `stage`'s verdict (and its reason, when it blocked or flagged)."""
    reason = decisions.reason
    if verdict.status in ("blocked", "flagged") and not reason:
        reason = f"{stage}:{verdict.reason}" if verdict.reason else stage
    if stage == "input":
        return dataclasses.replace(decisions, input=verdict.status, reason=reason)
    if stage == "context":
        return dataclasses.replace(decisions, context=verdict.status, reason=reason)
    return dataclasses.replace(decisions, output=verdict.status, reason=reason)


def _refusal(stage: str, verdict: GuardVerdict, root: Span) -> Draft:
    """The abstention answered when the guard of `stage` blocks; recorded on the trace."""
    root.set(**{f"guard_{stage}": verdict.status, f"guard_{stage}_reason": verdict.reason})
    return refusal_draft(verdict)
