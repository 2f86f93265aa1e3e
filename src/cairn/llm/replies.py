"""How the test doubles decide what to say: a queue of scripted replies, rules, then defaults.

Shared by `cairn.llm.scripted.ScriptedModel` (in-process) and `cairn.llm.fake_server` (over
HTTP), so a test can move between them without rewriting its script.

Order: the next queued reply; else the first rule that returns something; else the built-in
`default_reply`, which
- returns an example object for a requested JSON schema,
- calls the tool that `tool_choice` forces (string arguments get the user's message),
- answers a cairn RAG prompt by quoting the passages that share words with the question,
  each sentence followed by its `[n]` (or the abstention sentinel when none does),
- otherwise echoes the last user message.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cairn.llm.base import FinishReason, Message, ModelSettings, Tool, ToolCall
from cairn.llm.structured import schema_example
from cairn.types import Usage


@dataclass(frozen=True, kw_only=True, slots=True)
class Request:
    """What a test double was asked; kept in `history`."""

    messages: tuple[Message, ...]
    tools: tuple[Tool, ...] = ()
    settings: ModelSettings = field(default_factory=ModelSettings)
    model: str = ""
    stream: bool = False

    @property
    def last_user(self) -> str:
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")

    @property
    def system(self) -> str:
        return "\n\n".join(m.content for m in self.messages if m.role == "system")


@dataclass(frozen=True, kw_only=True, slots=True)
class Reply:
    """A scripted answer."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None
    """Reported as is; `None` lets the double count tokens itself."""

    @property
    def finish_reason(self) -> FinishReason:
        return "tool_calls" if self.tool_calls else "stop"

    @classmethod
    def call(cls, name: str, arguments: Mapping[str, Any] | None = None, id: str = "") -> Reply:
        """A reply that calls one tool."""
        call = ToolCall(id=id or f"call_{name}", name=name, arguments=dict(arguments or {}))
        return cls(tool_calls=(call,))


Rule = Callable[[Request], "Reply | str | None"]
"""Returns a reply for requests it recognises, `None` for the others."""
Scripted = Reply | str | BaseException


def when(
    pattern: str | re.Pattern[str], reply: Reply | str | Callable[[Request], Reply | str]
) -> Rule:
    """A rule answering `reply` when the last user message matches `pattern` (regex search)."""
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern

    def rule(request: Request) -> Reply | str | None:
        if not regex.search(request.last_user):
            return None
        return reply(request) if callable(reply) else reply

    return rule


class Responder:
    """Queue, rules and default; thread-safe (the fake server answers from several threads)."""

    def __init__(
        self,
        replies: Iterable[Scripted] = (),
        *,
        rules: Iterable[Rule] = (),
        default: Rule | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Scripted] = deque(replies)
        self.rules: list[Rule] = list(rules)
        self.default: Rule = default or default_reply
        self.history: list[Request] = []

    def enqueue(self, *replies: Scripted) -> None:
        """Replies (or exceptions to raise) used in order, before any rule."""
        with self._lock:
            self._queue.extend(replies)

    def add_rule(self, rule: Rule) -> None:
        with self._lock:
            self.rules.append(rule)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.rules.clear()
            self.history.clear()

    def record(self, request: Request) -> None:
        """Add `request` to `history` without answering it (a request that failed early)."""
        with self._lock:
            self.history.append(request)

    def reply(self, request: Request, *, consume: bool = True) -> Reply:
        """The reply to `request` (raising it when a queued item is an exception).

        With `consume=False` a queued reply stays queued: the fake server answers a request
        it is about to break that way, so the retry gets the same reply.
        """
        with self._lock:
            self.history.append(request)
            queued = self._queue[0] if self._queue else None
            if consume and self._queue:
                self._queue.popleft()
            rules = list(self.rules)
        if isinstance(queued, BaseException):
            raise queued
        if queued is not None:
            return _as_reply(queued)
        for rule in rules:
            found = rule(request)
            if found is not None:
                return _as_reply(found)
        return _as_reply(self.default(request) or "")


def _as_reply(value: Reply | str) -> Reply:
    return Reply(text=value) if isinstance(value, str) else value


# -- the built-in defaults --------------------------------------------------------------------


def default_reply(request: Request) -> Reply:
    schema = request.settings.json_schema
    if schema is not None:
        return Reply(text=json.dumps(schema_example(schema.schema)))
    forced = _forced_tool(request)
    if forced is not None:
        example = schema_example(forced.parameters, fill=request.last_user)
        return Reply.call(forced.name, example if isinstance(example, dict) else {})
    rag = rag_reply(request)
    if rag is not None:
        return rag
    return Reply(text=request.last_user)


def _forced_tool(request: Request) -> Tool | None:
    choice = request.settings.tool_choice
    if not request.tools or choice in (None, "auto", "none"):
        return None
    if choice == "required":
        return request.tools[0]
    return next((t for t in request.tools if t.name == choice), None)


@dataclass(frozen=True, kw_only=True, slots=True)
class RagReply:
    """Answers a cairn RAG prompt extractively: the best-matching prose sentences, each cited."""

    max_sentences: int = 2
    min_coverage: float = 0.25
    """Share of the question's content words a sentence must contain to be quoted."""

    def __call__(self, request: Request) -> Reply | None:
        from cairn.answer.prompt import SENTINEL, parse_prompt
        from cairn.answer.terms import content_terms
        from cairn.answer.units import chunk_units

        parsed = parse_prompt(request.last_user)
        if parsed is None:
            return None
        passages, question = parsed
        wanted = set(content_terms(question))
        scored: list[tuple[float, int, int, str]] = []
        for n, text in passages.items():
            prose = [(s, e) for s, e, code in chunk_units(text) if not code]
            for order, (start, end) in enumerate(prose):
                sentence = " ".join(text[start:end].split())
                shared = wanted & set(content_terms(sentence))
                coverage = len(shared) / len(wanted) if wanted else 0.0
                if coverage >= self.min_coverage and len(sentence.split()) >= 3:
                    scored.append((coverage, n, order, sentence))
        if not scored:
            return Reply(text=SENTINEL)
        best = sorted(scored, key=lambda s: (-s[0], s[1], s[2]))[: self.max_sentences]
        best.sort(key=lambda s: (s[1], s[2]))
        return Reply(text=" ".join(f"{_full_stop(s)} [{n}]" for _, n, _, s in best))


def _full_stop(sentence: str) -> str:
    return sentence if sentence[-1:] in ".!?:" else f"{sentence}."


rag_reply = RagReply()
