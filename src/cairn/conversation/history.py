"""Conversation turns and the history budget.

A history grows by two turns per question; what a rewriter or a model reads of it is kept to
a token budget (`answer.history_tokens`) by `fit_history`: the newest turns are kept whole
while they fit, and every older turn is folded into one deterministic summary turn that
lists the key terms of the questions it replaces (oldest dropped first when even the summary
would not fit). The token count is cairn's heuristic estimate (`cairn.llm.tokens`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cairn.llm.tokens import MESSAGE_OVERHEAD, estimate_tokens

TurnRole = Literal["user", "assistant", "summary"]

SUMMARY_PREFIX = "Earlier questions were about: "


@dataclass(frozen=True, kw_only=True, slots=True)
class Turn:
    """One turn of a conversation: who spoke, and what."""

    role: TurnRole
    text: str

    @classmethod
    def user(cls, text: str) -> Turn:
        return cls(role="user", text=text)

    @classmethod
    def assistant(cls, text: str) -> Turn:
        return cls(role="assistant", text=text)

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text) + MESSAGE_OVERHEAD


def history_tokens(turns: Sequence[Turn]) -> int:
    """The estimated tokens of `turns`."""
    return sum(t.tokens for t in turns)


def fit_history(turns: Sequence[Turn], budget: int) -> list[Turn]:
    """`turns`, kept within `budget` tokens: the newest whole turns that fit, preceded by a
    summary turn of the key terms of the user questions left out (when it fits too)."""
    from cairn.conversation.rewrite import key_terms

    kept: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        if used + turn.tokens > budget:
            break
        kept.append(turn)
        used += turn.tokens
    kept.reverse()
    dropped = turns[: len(turns) - len(kept)]
    if not dropped:
        return kept
    terms: list[str] = []
    for turn in dropped:
        if turn.role == "summary":
            terms.extend(turn.text.removeprefix(SUMMARY_PREFIX).split(", "))
        elif turn.role == "user":
            terms.extend(key_terms(turn.text))
    terms = list(dict.fromkeys(t for t in terms if t))
    while terms:
        summary = Turn(role="summary", text=SUMMARY_PREFIX + ", ".join(terms))
        if used + summary.tokens <= budget:
            return [summary, *kept]
        terms = terms[1:]  # the oldest terms go first
    return kept
