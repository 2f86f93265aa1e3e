"""Conversations: follow-up questions made standalone, and history kept to a token budget.

    history = [Turn.user("How do I parse JSON?"), Turn.assistant("Use json.loads ...")]
    TermRewriter().rewrite("and how do I write it back?", history)
    # 'and how do I write it back? (parse JSON)'

A `QueryRewriter` (one method, `rewrite(question, history) -> str`) is the pipeline's first
stage when a question arrives with history (`Pipeline.ask(..., history=...)`): retrieval,
the cache and the answerer then see the standalone query. `TermRewriter` needs no model;
`LLMRewriter` asks the configured model (metered, task `rewrite`) and falls back to the term
rewrite when the model fails. `fit_history` keeps a growing history within a token budget;
`ConversationStore` keeps a server's conversations per tenant and user.
"""

from cairn.conversation.history import Turn, fit_history
from cairn.conversation.rewrite import (
    KeepQuestion,
    LLMRewriter,
    QueryRewriter,
    TermRewriter,
    build_rewriter,
    is_follow_up,
)
from cairn.conversation.store import CONVERSATIONS_FILE, ConversationStore

__all__ = [
    "CONVERSATIONS_FILE",
    "ConversationStore",
    "KeepQuestion",
    "LLMRewriter",
    "QueryRewriter",
    "TermRewriter",
    "Turn",
    "build_rewriter",
    "fit_history",
    "is_follow_up",
]
