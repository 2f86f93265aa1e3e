"""Every rewriter cairn ships passes the `QueryRewriter` conformance suite."""

from __future__ import annotations

import pytest

from cairn.conversation import KeepQuestion, LLMRewriter, QueryRewriter, TermRewriter
from cairn.llm.errors import ProviderUnavailable
from cairn.llm.replies import when
from cairn.llm.scripted import ScriptedModel
from cairn.testing.rewriters import QueryRewriterConformance


class TestKeepQuestion(QueryRewriterConformance):
    @pytest.fixture
    def rewriter(self) -> QueryRewriter:
        return KeepQuestion()


class TestTermRewriter(QueryRewriterConformance):
    @pytest.fixture
    def rewriter(self) -> QueryRewriter:
        return TermRewriter()


class TestLLMRewriter(QueryRewriterConformance):
    @pytest.fixture
    def rewriter(self) -> QueryRewriter:
        model = ScriptedModel(rules=[when(r"<conversation>", "Can tomllib write TOML files?")])
        return LLMRewriter(model)


class TestLLMRewriterWithAFailingModel(QueryRewriterConformance):
    @pytest.fixture
    def rewriter(self) -> QueryRewriter:
        def down(_: object) -> str:
            raise ProviderUnavailable("the endpoint is down")

        return LLMRewriter(ScriptedModel(rules=[when(r"<conversation>", down)]))
