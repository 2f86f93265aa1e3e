"""Token counts when the provider reports none.

tiktoken downloads its encodings on first use, which these machines cannot do, so counts are
estimated with a heuristic instead and the resulting `Usage` is marked `estimated=True`:
each word costs one token plus one per further 6 characters (long words split into
sub-words), each punctuation mark one token, and each message 4 tokens of framing. It is a
rough estimate (a real tokenizer is not available offline): good enough for budgets and
reports, and marked so that nobody mistakes it for a billed count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cairn.llm.base import Message
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


def estimate_prompt_tokens(messages: Sequence[Message]) -> int:
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD + estimate_tokens(message.content)
        for call in message.tool_calls:
            total += estimate_tokens(call.name) + estimate_tokens(str(dict(call.arguments)))
    return total


def estimate_usage(messages: Sequence[Message], output: str) -> Usage:
    """Usage for a request whose provider reported no token counts."""
    return Usage(
        input_tokens=estimate_prompt_tokens(messages),
        output_tokens=estimate_tokens(output),
        estimated=True,
    )
