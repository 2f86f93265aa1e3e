"""Routing by difficulty: which model answers this request, decided from the question and the
retrieval signals, before any model is called.

The router stage runs after the context guard and before the answer stage. It returns a
`RouteDecision`:

- `extractive`: the evidence is confident and comes from one source, and the extractive
  answer (no model) is verified sentence by sentence: it is answered as it is, for $0;
- `cheap`: a single-source lookup: the cheap model (`router.cheap_route`, an `[llm.routes]`
  entry) answers;
- `escalated`: with `router.escalate` (the default), a cheap answer that abstains or has no
  verified citation is not sent, and a cheap model that cannot serve is not fallen back
  from: the strong model answers instead (both calls are paid);
- `strong`: a multi-hop question (several sources hold the evidence, or the question asks
  to compare or combine) or low retrieval confidence: the strong model (the `answer` route).

Every decision carries its reason and the signals it was made from; the pipeline records
them on the trace (`route`, `route_reason`, `route_signals`), in the answer's JSON (`route`)
and on the ledger line of every model call the request makes (`cairn costs` by route).

    router = DifficultyRouter(RouterSettings(mode="difficulty"), extractive=..., verifier=...)
    decision = router.route(question, hits)

The signals are computed from what retrieval already returned (scores of the fused ranking,
the dense cosine, the sources of the top hits) and a few words of the question, so deciding
costs microseconds; only the `extractive` candidate runs the extractive answerer and the
verifier (both local, no model call).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cairn.answer.base import Answerer, Draft
from cairn.answer.verify import Verifier
from cairn.config import RouterSettings
from cairn.types import Hit, Route

ROUTES = ("extractive", "cheap", "strong")
ESCALATED = "escalated"
"""The route recorded when the cheap model's answer was not kept and the strong model
answered instead (`router.escalate`)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RouteDecision:
    """Which route answers, why, and from which signals; `draft` is the verified
    extractive answer when the route is `extractive`."""

    route: str = ""
    """`extractive`, `cheap` or `strong`; empty: no router (the pipeline's answerer)."""
    reason: str = ""
    signals: Mapping[str, float] = field(default_factory=dict)
    draft: Draft | None = None
    escalate_to: str | None = None
    """When the answer of `route` abstains or has no verified citation, answer with this
    route instead (the answer is then checked whole before it is sent)."""
    label: str | None = None
    """The name recorded instead of `route` (`escalated`)."""

    def record(self) -> Route | None:
        """What the answer carries (`Answer.route`); None without a router."""
        if not self.route:
            return None
        name = self.label or self.route
        return Route(route=name, reason=self.reason, signals=dict(self.signals))


DEFAULT_ROUTE = RouteDecision()
"""No router: the pipeline's own answerer answers (recorded as no route)."""

_MULTI_HOP = re.compile(
    r"\b(compare|comparison|compared|differences?|differ|versus|vs\.?|both|each of|"
    r"relationship|relate|combine|combined|together with|as well as|while|whereas|"
    r"and (?:then|also|how|what|when|why|which)|which (?:one|is better)|pros and cons)\b",
    re.IGNORECASE,
)


class Router(Protocol):
    """Picks the route (the model tier) of one request from its question and evidence."""

    def route(self, question: str, hits: Sequence[Hit]) -> RouteDecision: ...


class NoRouter:
    """The default: no routing, the pipeline's answerer answers every request."""

    def route(self, question: str, hits: Sequence[Hit]) -> RouteDecision:
        return DEFAULT_ROUTE


class FixedRouter:
    """Every request to one route (`cheap` or `strong`): the baselines routing is measured
    against, and a way to pin a deployment to one tier."""

    def __init__(self, route: str) -> None:
        self.decision = RouteDecision(route=route, reason="fixed")

    def route(self, question: str, hits: Sequence[Hit]) -> RouteDecision:
        return self.decision


def signals(question: str, hits: Sequence[Hit], near: float) -> dict[str, float]:
    """What the policy reads: `top` (the best fused score), `dense` (the best dense cosine,
    -1 when retrieval gave none), `sources` (distinct sources among the hits scoring at least
    `near` x top), `multi_hop` (1 when the question asks to compare or combine), `hits`."""
    if not hits:
        return {"hits": 0.0, "top": 0.0, "dense": -1.0, "sources": 0.0, "multi_hop": 0.0}
    top = max(h.score for h in hits)
    dense = max((h.dense for h in hits if h.dense is not None), default=-1.0)
    close = {h.chunk.source for h in hits if h.score >= near * top}
    return {
        "hits": float(len(hits)),
        "top": round(top, 4),
        "dense": round(dense, 4),
        "sources": float(len(close)),
        "multi_hop": 1.0 if _MULTI_HOP.search(question) else 0.0,
    }


class DifficultyRouter:
    """The policy of `[router]` in `cairn.toml` (see the module docstring)."""

    def __init__(
        self,
        settings: RouterSettings,
        *,
        extractive: Answerer | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        self.settings = settings
        self.extractive = extractive if settings.extractive else None
        self.verifier = verifier

    def route(self, question: str, hits: Sequence[Hit]) -> RouteDecision:
        s = self.settings
        found = signals(question, hits, s.near_share)
        if not hits:  # nothing to answer from: no model is called whichever route
            return RouteDecision(route="cheap", reason="no evidence", signals=found)
        if found["multi_hop"]:
            return RouteDecision(route="strong", reason="multi-hop question", signals=found)
        if found["sources"] > s.max_sources_cheap:
            return RouteDecision(
                route="strong", reason="evidence spread over several sources", signals=found
            )
        confidence = found["dense"] if found["dense"] >= 0 else found["top"]
        if confidence < s.min_confidence:
            return RouteDecision(route="strong", reason="low retrieval confidence", signals=found)
        if self.extractive is not None and confidence >= s.extractive_confidence:
            draft = self.extractive.answer(question, list(hits))
            if self.verifier is not None and not draft.abstained:
                draft = self.verifier.verify(draft, list(hits))
            if not draft.abstained and draft.citations and all(c.verified for c in draft.citations):
                return RouteDecision(
                    route="extractive",
                    reason="confident, verified extractive answer",
                    signals=found,
                    draft=draft,
                )
        return RouteDecision(
            route="cheap",
            reason="single-source lookup",
            signals=found,
            escalate_to="strong" if s.escalate else None,
        )
