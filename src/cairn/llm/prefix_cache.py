"""A model of a provider's automatic prompt-prefix cache, for the fake server.

OpenAI caches the longest previously seen prefix of a prompt in 128-token steps once the
prompt is at least 1,024 tokens long, and reports those tokens as
`usage.prompt_tokens_details.cached_tokens` (billed at the cache-read price; there is no
separate write charge). `PrefixCache` reproduces that rule over cairn's heuristic token
count (`cairn.llm.tokens`), so the cached count never exceeds the reported prompt tokens and
a test or benchmark sees cache hits exactly when its prompts share a long enough prefix.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence

from cairn.llm.base import Message
from cairn.llm.tokens import _PIECE, MESSAGE_OVERHEAD

BLOCK_TOKENS = 128
MIN_PROMPT_TOKENS = 1024


def _units(messages: Sequence[Message]) -> Iterator[str]:
    """The prompt as one string per heuristic token, in order."""
    for message in messages:
        for i in range(MESSAGE_OVERHEAD):
            yield f"\x00{message.role}:{i}"
        text = message.content + "".join(
            c.name + json.dumps(dict(c.arguments)) for c in message.tool_calls
        )
        for piece in _PIECE.findall(text):
            weight = 1 + (len(piece) - 1) // 6 if piece[0].isalnum() or piece[0] == "_" else 1
            for part in range(weight):
                yield f"{piece}\x01{part}"


class PrefixCache:
    """Remembers the 128-token block prefixes of the prompts it has seen."""

    def __init__(self, *, block_tokens: int = BLOCK_TOKENS, min_tokens: int = MIN_PROMPT_TOKENS):
        self.block_tokens = block_tokens
        self.min_tokens = min_tokens
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()

    def cached_tokens(self, messages: Sequence[Message]) -> int:
        """How many leading tokens of this prompt were cached; then caches its prefixes."""
        digest = hashlib.sha256()
        prefixes: list[bytes] = []
        count = 0
        for unit in _units(messages):
            digest.update(unit.encode("utf-8", "surrogatepass") + b"\x02")
            count += 1
            if count % self.block_tokens == 0:
                prefixes.append(digest.copy().digest())
        with self._lock:
            hit = 0
            for key in prefixes:
                if key not in self._seen:
                    break
                hit += 1
            self._seen.update(prefixes)
        return hit * self.block_tokens if count >= self.min_tokens else 0

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
