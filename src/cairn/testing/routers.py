"""The behaviour every `Router` backend must have. A backend's test module subclasses
`RouterConformance` and provides the `router` fixture; nothing else changes.

A router must name a known route (or none), say why, decide the same way for the same
request (the trace and the ledger must agree with a retry), carry a draft only with the
`extractive` route, and decide from several threads at once (the server shares one)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from cairn.answer.router import ROUTES, RouteDecision, Router
from cairn.testing.pipelines import chunk
from cairn.types import Hit

__all__ = ["REQUESTS", "RouterConformance"]


def _hits(*scores: float) -> list[Hit]:
    return [Hit(chunk=chunk(i), score=s, dense=s) for i, s in enumerate(scores)]


REQUESTS: tuple[tuple[str, list[Hit]], ...] = (
    ("How do I give a dataclass field a default list?", _hits(0.92, 0.6)),
    ("Compare dataclasses and named tuples.", _hits(0.8, 0.79)),
    ("What is the boiling point of water on Everest?", _hits(0.1)),
    ("Anything at all?", []),
)


class RouterConformance:
    @pytest.fixture
    def router(self) -> Router:
        raise NotImplementedError("provide a `router` fixture")

    def test_every_decision_names_a_known_route_and_why(self, router: Router) -> None:
        for question, hits in REQUESTS:
            decision = router.route(question, hits)
            assert isinstance(decision, RouteDecision)
            assert decision.route in (*ROUTES, "")
            assert decision.reason or not decision.route
            assert decision.escalate_to in (None, *ROUTES)

    def test_only_the_extractive_route_carries_a_draft(self, router: Router) -> None:
        for question, hits in REQUESTS:
            decision = router.route(question, hits)
            assert (decision.draft is not None) == (decision.route == "extractive")

    def test_the_same_request_gets_the_same_decision(self, router: Router) -> None:
        for question, hits in REQUESTS:
            first = router.route(question, hits)
            again = router.route(question, hits)
            assert (again.route, again.reason, dict(again.signals)) == (
                first.route,
                first.reason,
                dict(first.signals),
            )

    def test_threads_share_one_router(self, router: Router) -> None:
        expected = [router.route(q, h).route for q, h in REQUESTS]
        with ThreadPoolExecutor(max_workers=4) as pool:
            got = list(pool.map(lambda r: router.route(*r).route, REQUESTS * 8))
        assert got == expected * 8
