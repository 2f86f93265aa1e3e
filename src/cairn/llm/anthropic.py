"""Anthropic Messages API (`POST /v1/messages`), streaming included.

Normalisation: system turns become the `system` field; tool results become `tool_result`
blocks in a user turn; consecutive turns of one role are merged. Structured output is asked
for by forcing a tool whose input schema is the requested schema: `Response.parsed` is that
tool's input and `Response.text` its JSON.

Prompt caching (`prompt_cache="auto"`, `llm.prompt_cache = "auto"`, the default): the request
is laid out tools, system, messages, and the stable part is marked with `cache_control`
breakpoints: one at the end of the system instructions (or of the tools when there is no
system prompt), and, when the conversation goes on (it already holds an assistant turn: an
agent loop, a chain of calls), one on its last turn, so the next call reads everything
before it from the cache. `"all"` marks the last turn of every request (each pays the
write premium on its whole prompt; worth it when requests extend one another: a judge that
continues the answer's conversation, a chain of calls on the same passages). `"off"`: no
breakpoints. Anthropic caches a marked prefix only from 1,024 tokens (2,048
for Haiku models); a shorter one is sent and billed as usual. Reads cost a tenth of the
input price, writes 1.25 times it (`cairn.budget.prices`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import httpx

from cairn.llm.base import (
    Capabilities,
    Completed,
    FinishReason,
    Message,
    ModelSettings,
    Response,
    StreamEvent,
    TextDelta,
    Tool,
    ToolCall,
)
from cairn.llm.errors import BadResponse, LLMError, ProviderUnavailable
from cairn.llm.http import HTTPProvider, Timeouts, decode_arguments
from cairn.llm.tokens import estimate_usage
from cairn.types import Usage

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
"""The API requires `max_tokens`; used when the settings leave it unset."""

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


class AnthropicProvider(HTTPProvider):
    """A `StreamingProvider` for Anthropic's Messages API."""

    key_env_var = "ANTHROPIC_API_KEY"
    capabilities = Capabilities(streaming=True, tools=True, json_schema=True)

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeouts: Timeouts | None = None,
        defaults: ModelSettings | None = None,
        transport: httpx.BaseTransport | None = None,
        name: str = "anthropic",
        prompt_cache: Literal["auto", "all", "off"] = "auto",
    ) -> None:
        self.prompt_cache = prompt_cache
        """Mark the stable prefix with `cache_control` breakpoints (module docstring)."""
        key = self.api_key(api_key)
        headers = {"anthropic-version": API_VERSION}
        if key:
            headers["x-api-key"] = key
        super().__init__(
            model,
            name=name,
            base_url=base_url or DEFAULT_BASE_URL,
            headers=headers,
            timeouts=timeouts,
            defaults=defaults,
            transport=transport,
        )

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Response:
        merged = (settings or ModelSettings()).over(self.defaults)
        body = self._request(messages, tools, merged)
        started = time.monotonic()
        payload = self._http.post(
            "/v1/messages", body, timeout=merged.timeout, headers=merged.extra_headers
        )
        try:
            blocks = list(payload["content"])
            stop = payload.get("stop_reason")
            usage = _usage(payload.get("usage"))
        except (KeyError, TypeError) as exc:
            raise self._bad(f"unexpected reply shape ({exc!r})") from exc
        return self._response(blocks, stop, usage, messages, merged, started)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Iterator[StreamEvent]:
        merged = (settings or ModelSettings()).over(self.defaults)
        body = {**self._request(messages, tools, merged), "stream": True}
        forced = merged.json_schema is not None
        started = time.monotonic()
        blocks: dict[int, dict[str, Any]] = {}
        stop: str | None = None
        input_tokens = output_tokens = None
        cache_read = cache_write = 0
        finished = False
        with self._http.stream(
            "/v1/messages", body, timeout=merged.timeout, headers=merged.extra_headers
        ) as events:
            for event in events:
                try:
                    data = json.loads(event.data)
                except ValueError as exc:
                    raise self._bad(f"malformed JSON in a stream event ({exc})") from exc
                kind = data.get("type", event.event)
                if kind == "error":
                    detail = (data.get("error") or {}).get("message", data)
                    raise ProviderUnavailable(
                        f"the server reported an error mid-stream: {detail}",
                        provider=self._name,
                        model=self._model,
                        hint="retry later, or configure llm.fallback_models",
                    )
                if kind == "message_start":
                    start_usage = _usage((data.get("message") or {}).get("usage"))
                    if start_usage is not None:
                        input_tokens = start_usage.input_tokens
                        cache_read = start_usage.cache_read_tokens
                        cache_write = start_usage.cache_write_tokens
                    output_tokens = ((data.get("message") or {}).get("usage") or {}).get(
                        "output_tokens", output_tokens
                    )
                elif kind == "content_block_start":
                    block = dict(data.get("content_block") or {})
                    block.setdefault("text", "")
                    block["partial_json"] = ""
                    blocks[int(data.get("index", len(blocks)))] = block
                elif kind == "content_block_delta":
                    block = blocks.setdefault(
                        int(data.get("index", 0)), {"type": "text", "text": "", "partial_json": ""}
                    )
                    delta = data.get("delta") or {}
                    if delta.get("type") == "text_delta":
                        block["text"] += delta.get("text", "")
                        if not forced and delta.get("text"):
                            yield TextDelta(text=delta["text"])
                    elif delta.get("type") == "input_json_delta":
                        block["partial_json"] += delta.get("partial_json", "")
                elif kind == "message_delta":
                    stop = (data.get("delta") or {}).get("stop_reason") or stop
                    output_tokens = (data.get("usage") or {}).get("output_tokens", output_tokens)
                elif kind == "message_stop":
                    finished = True
                    break
        if not finished:
            raise self._bad("the stream ended before message_stop")
        content = []
        for _, block in sorted(blocks.items()):
            if block.get("type") == "tool_use":
                try:
                    block["input"] = decode_arguments(block["partial_json"]) or block.get(
                        "input", {}
                    )
                except ValueError as exc:
                    raise self._bad(f"malformed tool input ({exc})") from exc
            content.append(block)
        usage = None
        if input_tokens is not None or output_tokens is not None:
            usage = Usage(
                input_tokens=int(input_tokens or 0),
                output_tokens=int(output_tokens or 0),
                cache_read_tokens=cache_read,
                cache_write_tokens=cache_write,
            )
        response = self._response(content, stop, usage, messages, merged, started)
        if forced and response.text:
            yield TextDelta(text=response.text)
        yield Completed(response=response)

    def _request(
        self, messages: Sequence[Message], tools: Sequence[Tool], settings: ModelSettings
    ) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        body: dict[str, Any] = {
            "model": self._model,
            "max_tokens": settings.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": encode_messages(messages),
        }
        if system:
            body["system"] = system
        wire_tools: list[dict[str, Any]] = [
            {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
            for t in tools
        ]
        choice = settings.tool_choice
        if settings.json_schema is not None:
            schema = settings.json_schema
            wire_tools.append(
                {
                    "name": schema.name,
                    "description": "Return the answer as this tool's input.",
                    "input_schema": dict(schema.schema),
                }
            )
            choice = schema.name
        if wire_tools:
            body["tools"] = wire_tools
            if choice is not None:
                body["tool_choice"] = _tool_choice(choice)
        if settings.temperature is not None:
            body["temperature"] = settings.temperature
        if settings.stop:
            body["stop_sequences"] = list(settings.stop)
        if self.prompt_cache != "off":
            going_on = any(m.role in ("assistant", "tool") for m in messages)
            mark_cache_breakpoints(body, going_on=going_on or self.prompt_cache == "all")
        return body

    def _response(
        self,
        blocks: list[Any],
        stop: Any,
        usage: Usage | None,
        messages: Sequence[Message],
        settings: ModelSettings,
        started: float,
    ) -> Response:
        texts: list[str] = []
        calls: list[ToolCall] = []
        try:
            for block in blocks:
                if block.get("type") == "text":
                    texts.append(str(block.get("text", "")))
                elif block.get("type") == "tool_use":
                    calls.append(
                        ToolCall(
                            id=str(block["id"]),
                            name=str(block["name"]),
                            arguments=dict(block.get("input") or {}),
                        )
                    )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise self._bad(f"unexpected content block ({exc!r})") from exc
        text = "".join(texts)
        finish = _STOP.get(str(stop), "other")
        parsed = None
        schema = settings.json_schema
        if schema is not None:
            forced = next((c for c in calls if c.name == schema.name), None)
            if forced is None:
                raise self._bad(f"the model did not return the {schema.name!r} structured output")
            calls.remove(forced)
            parsed = dict(forced.arguments)
            text = json.dumps(parsed)
            finish = "stop" if finish == "tool_calls" and not calls else finish
        return Response(
            text=text,
            tool_calls=tuple(calls),
            finish_reason=finish,
            usage=usage or estimate_usage(messages, text, calls),
            model=self._model,
            provider=self._name,
            parsed=parsed,
            latency_ms=(time.monotonic() - started) * 1000,
        )

    def _bad(self, message: str) -> LLMError:
        return BadResponse(
            message,
            provider=self._name,
            model=self._model,
            hint="check CAIRN_LLM_BASE_URL points at an Anthropic Messages API",
        )


def _tool_choice(choice: str) -> dict[str, str]:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "none":
        return {"type": "none"}
    if choice == "required":
        return {"type": "any"}
    return {"type": "tool", "name": choice}


def _usage(payload: Any) -> Usage | None:
    """Anthropic's usage, normalised: its `input_tokens` leaves out the prompt tokens read
    from or written to the prompt cache, cairn's counts every prompt token."""
    if not isinstance(payload, Mapping) or "input_tokens" not in payload:
        return None
    read = int(payload.get("cache_read_input_tokens") or 0)
    write = int(payload.get("cache_creation_input_tokens") or 0)
    return Usage(
        input_tokens=int(payload.get("input_tokens") or 0) + read + write,
        output_tokens=int(payload.get("output_tokens") or 0),
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


EPHEMERAL = {"type": "ephemeral"}


def mark_cache_breakpoints(body: dict[str, Any], *, going_on: bool) -> None:
    """Add `cache_control` breakpoints to a Messages API body (at most two of the four
    allowed): the end of the system prompt (else of the tools), and the last block of the
    last turn when `going_on` (the conversation already has an assistant or tool turn)."""
    system = body.get("system")
    if isinstance(system, str) and system:
        body["system"] = [{"type": "text", "text": system, "cache_control": EPHEMERAL}]
    elif body.get("tools"):
        body["tools"][-1] = {**body["tools"][-1], "cache_control": EPHEMERAL}
    turns = body.get("messages") or []
    if going_on and turns and turns[-1]["content"]:
        blocks = turns[-1]["content"]
        blocks[-1] = {**blocks[-1], "cache_control": EPHEMERAL}


def encode_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages API turns: no system turns, tool results as user blocks, roles alternating."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        blocks: list[dict[str, Any]] = []
        if m.role == "tool":
            role = "user"
            blocks.append(
                {"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content}
            )
        else:
            role = m.role
            if m.content:
                blocks.append({"type": "text", "text": m.content})
            blocks.extend(
                {"type": "tool_use", "id": c.id, "name": c.name, "input": dict(c.arguments)}
                for c in m.tool_calls
            )
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out
