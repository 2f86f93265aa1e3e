"""Every router cairn ships passes the `Router` conformance suite."""

from __future__ import annotations

import pytest

from cairn.answer.extractive import ExtractiveAnswerer
from cairn.answer.router import DifficultyRouter, FixedRouter, NoRouter, Router
from cairn.answer.verify import CitationVerifier
from cairn.config import AnswerSettings, RouterSettings
from cairn.embed.hashing import HashingEmbedder
from cairn.testing.routers import RouterConformance


class TestNoRouter(RouterConformance):
    @pytest.fixture
    def router(self) -> Router:
        return NoRouter()


class TestFixedRouter(RouterConformance):
    @pytest.fixture
    def router(self) -> Router:
        return FixedRouter("cheap")


class TestDifficultyRouter(RouterConformance):
    @pytest.fixture
    def router(self) -> Router:
        return DifficultyRouter(RouterSettings(mode="difficulty", extractive=False))


class TestDifficultyRouterWithExtractiveTry(RouterConformance):
    @pytest.fixture
    def router(self) -> Router:
        embedder = HashingEmbedder()
        return DifficultyRouter(
            RouterSettings(mode="difficulty", extractive_confidence=0.5),
            extractive=_Extractive(embedder),
            verifier=CitationVerifier(embedder),
        )


class _Extractive(ExtractiveAnswerer):
    """The extractive answerer over the hits' own text (no store: relevance from the hits)."""

    def __init__(self, embedder: HashingEmbedder) -> None:
        # no store: relevance comes from the hits (below)
        super().__init__(None, embedder, AnswerSettings(abstain_threshold=0.0))  # type: ignore[arg-type]

    def relevance(self, question, hits):  # type: ignore[no-untyped-def]
        return [h.score for h in hits]
