"""The OpenAI chat-completions wire format, both ways.

The adapter encodes requests and decodes replies; the fake server decodes requests and encodes
replies. Keeping both directions here keeps them consistent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cairn.llm.base import (
    FinishReason,
    JsonSchema,
    Message,
    ModelSettings,
    Role,
    Tool,
    ToolCall,
)
from cairn.llm.http import decode_arguments
from cairn.types import Usage

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def finish_reason(value: Any) -> FinishReason:
    return _FINISH.get(str(value), "other")


def encode_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content})
        elif m.role == "assistant" and m.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": m.content or None,
                    "tool_calls": [encode_tool_call(c) for c in m.tool_calls],
                }
            )
        else:
            out.append({"role": m.role, "content": m.content})
    return out


def encode_tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": json.dumps(dict(call.arguments))},
    }


def encode_request(
    model: str,
    messages: Sequence[Message],
    tools: Sequence[Tool],
    settings: ModelSettings,
    *,
    stream: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": encode_messages(messages)}
    if tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": dict(t.parameters),
                },
            }
            for t in tools
        ]
    choice = settings.tool_choice
    if choice is not None and tools:
        named = choice not in ("auto", "none", "required")
        body["tool_choice"] = (
            {"type": "function", "function": {"name": choice}} if named else choice
        )
    if settings.json_schema is not None:
        schema = settings.json_schema
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": schema.name,
                "schema": dict(schema.schema),
                "strict": schema.strict,
            },
        }
    if settings.max_tokens is not None:
        body["max_tokens"] = settings.max_tokens
    if settings.temperature is not None:
        body["temperature"] = settings.temperature
    if settings.stop:
        body["stop"] = list(settings.stop)
    if settings.seed is not None:
        body["seed"] = settings.seed
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def decode_usage(payload: Any) -> Usage | None:
    if not isinstance(payload, Mapping):
        return None
    prompt, completion = payload.get("prompt_tokens"), payload.get("completion_tokens")
    if prompt is None and completion is None:
        return None
    # OpenAI counts cached prompt tokens inside prompt_tokens and names them in
    # prompt_tokens_details.cached_tokens; its prefix cache has no separate write charge.
    details = payload.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
    return Usage(
        input_tokens=int(prompt or 0),
        output_tokens=int(completion or 0),
        cache_read_tokens=int(cached or 0),
    )


def decode_tool_calls(wire: Any) -> tuple[ToolCall, ...]:
    calls = []
    for i, call in enumerate(wire or ()):
        function = call.get("function") or {}
        calls.append(
            ToolCall(
                id=str(call.get("id") or f"call_{i}"),
                name=str(function.get("name", "")),
                arguments=decode_arguments(function.get("arguments")),
            )
        )
    return tuple(calls)


@dataclass(kw_only=True, slots=True)
class Decoded:
    """A reply (or an assembled stream) in our terms."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason = "stop"
    usage: Usage | None = None
    model: str = ""


def decode_response(payload: Any) -> Decoded:
    """A non-streaming reply; raises `KeyError`/`TypeError`/`ValueError` when malformed."""
    choice = payload["choices"][0]
    message = choice["message"]
    content = message.get("content") or ""
    return Decoded(
        text=content if isinstance(content, str) else _join_parts(content),
        tool_calls=decode_tool_calls(message.get("tool_calls")),
        finish_reason=finish_reason(choice.get("finish_reason")),
        usage=decode_usage(payload.get("usage")),
        model=str(payload.get("model", "")),
    )


@dataclass(kw_only=True, slots=True)
class StreamAssembler:
    """Folds `chat.completion.chunk` payloads into one reply."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish: str | None = None
    usage: Usage | None = None
    model: str = ""

    def add(self, chunk: Mapping[str, Any]) -> str:
        """Fold one chunk in; return its text delta."""
        self.model = str(chunk.get("model") or self.model)
        self.usage = decode_usage(chunk.get("usage")) or self.usage
        delta_text = ""
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            piece = delta.get("content")
            if piece:
                delta_text += piece
            for call in delta.get("tool_calls") or ():
                slot = self.calls.setdefault(int(call.get("index", 0)), {"arguments": ""})
                if call.get("id"):
                    slot["id"] = call["id"]
                function = call.get("function") or {}
                if function.get("name"):
                    slot["name"] = function["name"]
                slot["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        self.text.append(delta_text)
        return delta_text

    def result(self) -> Decoded:
        calls = tuple(
            ToolCall(
                id=str(slot.get("id") or f"call_{i}"),
                name=str(slot.get("name", "")),
                arguments=decode_arguments(slot["arguments"]),
            )
            for i, slot in sorted(self.calls.items())
        )
        return Decoded(
            text="".join(self.text),
            tool_calls=calls,
            finish_reason=finish_reason(self.finish),
            usage=self.usage,
            model=self.model,
        )


# -- the server's side ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ChatRequest:
    """A decoded chat-completions request."""

    model: str
    messages: tuple[Message, ...]
    tools: tuple[Tool, ...] = ()
    settings: ModelSettings = field(default_factory=ModelSettings)
    stream: bool = False
    include_usage: bool = False


def _join_parts(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content or () if isinstance(p, Mapping))


def decode_request(body: Mapping[str, Any]) -> ChatRequest:
    """Raises `KeyError`/`TypeError`/`ValueError` when the body is not a chat request."""
    messages = []
    for m in body["messages"]:
        role: Role = m["role"] if m["role"] in ("system", "user", "assistant", "tool") else "user"
        if m["role"] == "developer":
            role = "system"
        messages.append(
            Message(
                role=role,
                content=_join_parts(m.get("content")),
                tool_calls=decode_tool_calls(m.get("tool_calls")),
                tool_call_id=m.get("tool_call_id"),
            )
        )
    tools = tuple(
        Tool(
            name=t["function"]["name"],
            description=t["function"].get("description", ""),
            parameters=t["function"].get("parameters") or {"type": "object", "properties": {}},
        )
        for t in body.get("tools") or ()
    )
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping):
        choice = (choice.get("function") or {}).get("name")
    fmt = body.get("response_format") or {}
    schema = None
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema") or {}
        schema = JsonSchema(name=spec.get("name", "output"), schema=spec.get("schema") or {})
    elif fmt.get("type") == "json_object":
        schema = JsonSchema(name="json_object", schema={"type": "object"}, strict=False)
    stop = body.get("stop") or ()
    settings = ModelSettings(
        max_tokens=body.get("max_tokens") or body.get("max_completion_tokens"),
        temperature=body.get("temperature"),
        stop=(stop,) if isinstance(stop, str) else tuple(stop),
        tool_choice=choice,
        json_schema=schema,
        seed=body.get("seed"),
    )
    return ChatRequest(
        model=str(body.get("model", "")),
        messages=tuple(messages),
        tools=tools,
        settings=settings,
        stream=bool(body.get("stream")),
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
    )


def usage_payload(usage: Usage) -> dict[str, Any]:
    """`usage` as OpenAI reports it (cached prompt tokens in `prompt_tokens_details`)."""
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
    }
