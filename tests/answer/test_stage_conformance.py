"""Every context assembler and attributor cairn ships passes its conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.answer.assembly import BudgetedContext, ContextAssembler, KeepHits
from cairn.answer.attribute import Attributor, KeepCitations, PostHocAttributor
from cairn.answer.verify import WORDS_ONLY_MODEL, CitationVerifier
from cairn.embed.hashing import HashingEmbedder
from cairn.store.open import open_store_at
from cairn.testing.answerstages import AttributorConformance, ContextAssemblerConformance


class TestKeepHits(ContextAssemblerConformance):
    @pytest.fixture
    def assembler(self) -> ContextAssembler:
        return KeepHits()


class TestBudgetedContext(ContextAssemblerConformance):
    @pytest.fixture
    def assembler(self, tmp_path: Path) -> ContextAssembler:
        return BudgetedContext(open_store_at(tmp_path / "cairn.db"), max_tokens=30)


class TestBudgetedContextWithoutAStore(ContextAssemblerConformance):
    @pytest.fixture
    def assembler(self) -> ContextAssembler:
        return BudgetedContext(None, max_tokens=1)


class TestKeepCitations(AttributorConformance):
    @pytest.fixture
    def attributor(self) -> Attributor:
        return KeepCitations()


class TestPostHocAttributor(AttributorConformance):
    @pytest.fixture
    def attributor(self) -> Attributor:
        return PostHocAttributor(CitationVerifier(HashingEmbedder()))


class TestPostHocAttributorWordsOnly(AttributorConformance):
    @pytest.fixture
    def attributor(self) -> Attributor:
        verifier = CitationVerifier(HashingEmbedder(), model=WORDS_ONLY_MODEL)
        return PostHocAttributor(verifier, withhold=False)
