"""A model of a provider's automatic prompt-prefix cache, for the fake server.

OpenAI caches the longest previously seen prefix of a prompt in 128-token steps once the
prompt is at least 1,024 tokens long, and reports those tokens as
`usage.prompt_tokens_details.cached_tokens` (billed at the cache-read price; there is no
separate write charge). `PrefixCache` reproduces that rule over cairn's heuristic token
count (`cairn.llm.tokens`), so the cached count never exceeds the reported prompt tokens and
a test or benchmark sees cache hits exactly when its prompts share a long enough prefix.

`BreakpointCache` models Anthropic's: nothing is cached unless the request marks it with a
`cache_control` breakpoint; a marked prefix of at least 1,024 tokens is written (billed at
the cache-write price) and later requests starting with it read it (the cache-read price).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

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


ANTHROPIC_MIN_TOKENS = 1024
"""Anthropic's shortest cacheable prefix (Sonnet and Opus models; Haiku models need 2,048)."""


def _text_units(text: str) -> Iterator[str]:
    for piece in _PIECE.findall(text):
        weight = 1 + (len(piece) - 1) // 6 if piece[0].isalnum() or piece[0] == "_" else 1
        for part in range(weight):
            yield f"{piece}\x01{part}"


def messages_units(body: Any) -> tuple[list[str], list[int]]:
    """An Anthropic Messages request as heuristic tokens, in the order the API caches them
    (tools, system, messages), and the token positions of its `cache_control` breakpoints."""
    units: list[str] = []
    breakpoints: list[int] = []

    def add(kind: str, block: Any) -> None:
        units.extend(f"\x00{kind}:{i}" for i in range(MESSAGE_OVERHEAD))
        if isinstance(block, str):
            units.extend(_text_units(block))
            return
        text = block.get("text")
        if text is None:
            text = json.dumps({k: v for k, v in block.items() if k != "cache_control"})
        units.extend(_text_units(str(text)))
        if block.get("cache_control"):
            breakpoints.append(len(units))

    for tool in body.get("tools") or ():
        add("tool", tool)
    system = body.get("system")
    for block in [system] if isinstance(system, str) else system or ():
        add("system", block)
    for turn in body.get("messages") or ():
        content = turn.get("content")
        for block in [content] if isinstance(content, str) else content or ():
            add(str(turn.get("role")), block)
    return units, breakpoints


class BreakpointCache:
    """Anthropic's prompt cache: only prefixes ending at a `cache_control` breakpoint are
    written (from `min_tokens` long); a request reads the longest written prefix it starts
    with, and writes the prefix up to its last breakpoint beyond what it read."""

    def __init__(self, *, min_tokens: int = ANTHROPIC_MIN_TOKENS) -> None:
        self.min_tokens = min_tokens
        self._written: dict[int, set[bytes]] = {}
        self._lock = threading.Lock()

    def usage(self, units: Sequence[str], breakpoints: Sequence[int]) -> tuple[int, int]:
        """`(read, written)` tokens of this request; then remembers what it wrote."""
        with self._lock:
            positions = set(self._written) | set(breakpoints)
            digest = hashlib.sha256()
            at: dict[int, bytes] = {}
            for count, unit in enumerate(units, start=1):
                digest.update(unit.encode("utf-8", "surrogatepass") + b"\x02")
                if count in positions:
                    at[count] = digest.copy().digest()
            last = max((b for b in breakpoints if b >= self.min_tokens), default=0)
            read = max(
                (p for p, keys in self._written.items() if p <= last and at.get(p) in keys),
                default=0,
            )
            written = last - read if last > read else 0
            for b in breakpoints:
                if b >= self.min_tokens:
                    self._written.setdefault(b, set()).add(at[b])
        return read, written

    def clear(self) -> None:
        with self._lock:
            self._written.clear()
