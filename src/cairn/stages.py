"""The pipeline's pluggable stages: one-method protocols and their no-op defaults.

`cairn.pipeline.Pipeline` runs, top to bottom: input guard, cache, retrieve, rerank, context
guard, answer, verify, output guard, settle. Retrieval (`Retriever`), answering
(`Answerer`), verification (`Verifier`) and the cache (`AnswerCache`) have their own
modules; the stages below are the ones a deployment adds to (guardrails, a reranker, a
ledger). Each default does nothing and says so: guards pass everything and report `off`,
the reranker keeps the retriever's order, settling without a budget records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from cairn.answer.base import Draft
from cairn.budget.base import CostBudget
from cairn.budget.errors import BudgetExceeded
from cairn.context import RequestContext
from cairn.types import Hit

GuardStatus = Literal["off", "pass", "flagged", "blocked"]


@dataclass(frozen=True, kw_only=True, slots=True)
class GuardVerdict:
    """What a guard decided: `off` (no guard ran), `pass`, `flagged` (let through, marked),
    or `blocked` with a refusal."""

    status: GuardStatus = "off"
    reason: str = ""
    """Why it blocked (recorded on the trace and in the draft's `reason`)."""
    refusal: str = ""
    """The text answered instead, when blocked."""
    draft: Draft | None = None
    """An output guard's rewrite of the draft it let through (secrets masked, links
    neutralised), answered instead of the original."""
    question: str | None = None
    """An input guard's rewrite of the question it let through: the legitimate part of a
    question that also carried an injection, answered instead of the whole."""

    @property
    def blocked(self) -> bool:
        return self.status == "blocked"

    @property
    def code(self) -> str:
        """The reason as a short code fit for a metric label: its first word
        (`prompt-injection`, `output_leak:canary`, `sanitised:link`), or `none`."""
        first = self.reason.split(maxsplit=1)[0].rstrip(":;,") if self.reason.strip() else ""
        return first[:64] or "none"


OFF = GuardVerdict()


@dataclass(frozen=True, kw_only=True, slots=True)
class Screened:
    """The evidence a context guard lets through, and its verdict."""

    hits: list[Hit] = field(default_factory=list)
    verdict: GuardVerdict = OFF


class InputGuard(Protocol):
    def check(self, question: str) -> GuardVerdict: ...


class Reranker(Protocol):
    def rerank(self, question: str, hits: list[Hit]) -> list[Hit]: ...


class ContextGuard(Protocol):
    def screen(self, question: str, hits: list[Hit]) -> Screened: ...


class OutputGuard(Protocol):
    def check(self, draft: Draft, hits: list[Hit]) -> GuardVerdict: ...


class Settler(Protocol):
    def settle(self, ctx: RequestContext) -> None: ...


class NoInputGuard:
    def check(self, question: str) -> GuardVerdict:
        return OFF


class KeepOrder:
    """The no-op reranker: the retriever's order stands."""

    def rerank(self, question: str, hits: list[Hit]) -> list[Hit]:
        return hits


class NoContextGuard:
    def screen(self, question: str, hits: list[Hit]) -> Screened:
        return Screened(hits=hits)


class NoOutputGuard:
    def check(self, draft: Draft, hits: list[Hit]) -> GuardVerdict:
        return OFF


class LedgerSettler:
    """A request that called no model still leaves its ($0) line in the ledger, as
    `extractive`; model calls were settled by `MeteredProvider` as they happened. A degraded
    answer (the model refused or down) is such a request: it is charged nothing."""

    def __init__(self, budget: CostBudget | None) -> None:
        self.budget = budget

    def settle(self, ctx: RequestContext) -> None:
        if self.budget is None or ctx.calls:
            return
        try:
            reservation = self.budget.reserve(
                model="extractive",
                input_tokens=0,
                max_output_tokens=0,
                feature=ctx.feature,
                user=ctx.user,
                tenant=ctx.tenant,
                trace_id=ctx.trace_id,
                route=ctx.route,
            )
        except BudgetExceeded:
            return  # a period already over its limit (lowered since): a $0 line adds nothing
        self.budget.settle(reservation, ctx.usage)


def refusal_draft(verdict: GuardVerdict) -> Draft:
    """The abstention answered when a guard blocks."""
    return Draft(
        text=verdict.refusal or "I can't help with this request.",
        citations=(),
        abstained=True,
        reason=f"blocked: {verdict.reason}" if verdict.reason else "blocked",
    )
