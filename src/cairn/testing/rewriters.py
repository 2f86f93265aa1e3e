"""The behaviour every `QueryRewriter` backend must have. A backend's test module subclasses
`QueryRewriterConformance` and provides the `rewriter` fixture; nothing else changes.

A rewriter must leave a question without history as it is, return one non-empty line for a
follow-up, give the same answer to the same conversation (the caller may retry), and answer
from several threads at once (the server shares one rewriter)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from cairn.conversation import QueryRewriter, Turn

__all__ = ["HISTORY", "QueryRewriterConformance"]

HISTORY = (
    Turn.user("How do I read a TOML file?"),
    Turn.assistant("Use tomllib.load on a file opened in binary mode [1]."),
)


class QueryRewriterConformance:
    @pytest.fixture
    def rewriter(self) -> QueryRewriter:
        raise NotImplementedError("provide a `rewriter` fixture")

    def test_no_history_leaves_the_question_alone(self, rewriter: QueryRewriter) -> None:
        assert rewriter.rewrite("How do I read a TOML file?", []) == "How do I read a TOML file?"

    def test_a_follow_up_becomes_one_non_empty_line(self, rewriter: QueryRewriter) -> None:
        query = rewriter.rewrite("and can it write them too?", HISTORY)
        assert query.strip() and "\n" not in query and len(query) <= 500

    def test_the_same_conversation_gets_the_same_query(self, rewriter: QueryRewriter) -> None:
        first = rewriter.rewrite("and can it write them too?", HISTORY)
        assert rewriter.rewrite("and can it write them too?", HISTORY) == first

    def test_threads_share_one_rewriter(self, rewriter: QueryRewriter) -> None:
        expected = rewriter.rewrite("and can it write them too?", HISTORY)
        with ThreadPoolExecutor(8) as pool:
            queries = list(
                pool.map(
                    lambda _: rewriter.rewrite("and can it write them too?", HISTORY), range(32)
                )
            )
        assert set(queries) == {expected}
