"""`ScriptedModel`: an in-process `StreamingProvider` for tests and demos.

    model = ScriptedModel("Paris. [1]")            # replies used in order
    model.enqueue(Reply.call("search", {"q": "x"}))  # a tool call
    model.enqueue(RateLimited("slow down", retry_after=0))  # raised by the next call
    model.add_rule(when(r"capital", "Paris. [1]"))  # rule-based replies
    response = model.generate([Message.user("hi")])
    model.history[-1].messages                        # what it was asked

With nothing queued and no rule matching it answers cairn RAG prompts by quoting the passages
(see `cairn.llm.replies`). Usage is counted with the heuristic of `cairn.llm.tokens` and
reported like a real provider's (`estimated=False`), unless `report_usage=False`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from cairn.llm.base import (
    Capabilities,
    Completed,
    Message,
    ModelSettings,
    Response,
    StreamEvent,
    TextDelta,
    Tool,
)
from cairn.llm.errors import BadResponse
from cairn.llm.replies import Reply, Request, Responder, Rule, Scripted
from cairn.llm.structured import parse_json_output
from cairn.llm.tokens import estimate_usage
from cairn.types import Usage

_PIECE = re.compile(r"\S+\s*|\s+")


def pieces(text: str) -> list[str]:
    """`text` cut into word-sized stream deltas (joined, they give `text` back)."""
    return _PIECE.findall(text)


class ScriptedModel:
    """A provider whose replies come from a script, rules, or cairn's RAG default."""

    capabilities = Capabilities(streaming=True, tools=True, json_schema=True)

    def __init__(
        self,
        *replies: Scripted,
        rules: Iterable[Rule] = (),
        default: Rule | None = None,
        model: str = "scripted",
        name: str = "scripted",
        report_usage: bool = True,
    ) -> None:
        self._name = name
        self._model = model
        self.report_usage = report_usage
        self.responder = Responder(replies, rules=rules, default=default)

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return self._model

    @property
    def history(self) -> list[Request]:
        return self.responder.history

    def enqueue(self, *replies: Scripted) -> None:
        self.responder.enqueue(*replies)

    def add_rule(self, rule: Rule) -> None:
        self.responder.add_rule(rule)

    def close(self) -> None:
        """Nothing to release; present so callers can close any provider."""

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Response:
        settings = settings or ModelSettings()
        request = Request(
            messages=tuple(messages), tools=tuple(tools), settings=settings, model=self._model
        )
        return self._response(request, self.responder.reply(request))

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Iterator[StreamEvent]:
        response = self.generate(messages, tools=tools, settings=settings)
        for piece in pieces(response.text):
            yield TextDelta(text=piece)
        yield Completed(response=response)

    def _response(self, request: Request, reply: Reply) -> Response:
        parsed = None
        if request.settings.json_schema is not None and not reply.tool_calls:
            parsed = parse_json_output(reply.text, self._bad)
        return Response(
            text=reply.text,
            tool_calls=reply.tool_calls,
            finish_reason=reply.finish_reason,
            usage=reply.usage or self._usage(request, reply),
            model=self._model,
            provider=self._name,
            parsed=parsed,
        )

    def _usage(self, request: Request, reply: Reply) -> Usage:
        usage = estimate_usage(request.messages, reply.text, reply.tool_calls)
        return usage if not self.report_usage else replace(usage, estimated=False)

    def _bad(self, message: str) -> BadResponse:
        return BadResponse(message, provider=self._name, model=self._model)
