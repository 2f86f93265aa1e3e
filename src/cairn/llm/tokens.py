"""Token counts when the provider reports none.

tiktoken downloads its encodings on first use, which these machines cannot do, so counts are
estimated with a heuristic instead and the resulting `Usage` is marked `estimated=True`:
each word costs one token plus one per further 6 characters (long words split into
sub-words), each punctuation mark one token, and each message 4 tokens of framing. It is a
rough estimate (a real tokenizer is not available offline): good enough for budgets and
reports, and marked so that nobody mistakes it for a billed count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from cairn.llm.base import Message, ToolCall
from cairn.types import Usage

_PIECE = re.compile(r"\w+|[^\w\s]")
MESSAGE_OVERHEAD = 4
"""Tokens of role and separator framing counted per message."""


def estimate_tokens(text: str) -> int:
    """A heuristic token count of `text` (see the module docstring)."""
    total = 0
    for piece in _PIECE.findall(text):
        total += 1 + (len(piece) - 1) // 6 if piece[0].isalnum() or piece[0] == "_" else 1
    return total


def estimate_output_tokens(text: str, tool_calls: Sequence[ToolCall] = ()) -> int:
    """Tokens of a reply: its text and its tool calls' names and JSON arguments."""
    calls = sum(
        estimate_tokens(c.name) + estimate_tokens(json.dumps(dict(c.arguments))) for c in tool_calls
    )
    return estimate_tokens(text) + calls


def estimate_prompt_tokens(messages: Sequence[Message]) -> int:
    return sum(MESSAGE_OVERHEAD + estimate_output_tokens(m.content, m.tool_calls) for m in messages)


def estimate_usage(
    messages: Sequence[Message], output: str, tool_calls: Sequence[ToolCall] = ()
) -> Usage:
    """Usage for a request whose provider reported no token counts."""
    return Usage(
        input_tokens=estimate_prompt_tokens(messages),
        output_tokens=estimate_output_tokens(output, tool_calls),
        estimated=True,
    )
