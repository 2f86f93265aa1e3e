"""The provider contract: messages in, one response out.

A `Provider` is an authenticated client for one model. It has one main method,
`generate(messages, tools=..., settings=...) -> Response`; providers that can stream also
implement `stream(...)`, yielding `TextDelta` events and a final `Completed` carrying the same
`Response` `generate` would have returned. What a provider supports is declared in
`capabilities` and checked before use (`supports_streaming(provider)`).

Every type here is a frozen dataclass so tests (and other stages) can build them by hand.
Tool calls and structured output are normalised across the OpenAI-compatible and Anthropic
adapters: a `Response` always has `text`, `tool_calls` (parsed arguments) and, when a
`JsonSchema` was asked for, `parsed` (the decoded JSON object).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, TypeGuard, TypeVar, runtime_checkable

from cairn.types import Usage

Role = Literal["system", "user", "assistant", "tool"]
_T = TypeVar("_T")
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "other"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolCall:
    """One function call the model asked for."""

    id: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    """The decoded JSON arguments (an empty mapping when the model sent none)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Message:
    """One turn of a conversation."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    """Calls made by an `assistant` turn."""
    tool_call_id: str | None = None
    """For a `tool` turn: the id of the call this result answers."""

    @classmethod
    def system(cls, content: str) -> Message:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str = "", tool_calls: Sequence[ToolCall] = ()) -> Message:
        return cls(role="assistant", content=content, tool_calls=tuple(tool_calls))

    @classmethod
    def tool(cls, tool_call_id: str, content: str) -> Message:
        return cls(role="tool", content=content, tool_call_id=tool_call_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class Tool:
    """A function the model may call, described by a JSON schema of its parameters."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class JsonSchema:
    """Ask for structured output: the reply must be one JSON object matching `schema`."""

    name: str
    schema: Mapping[str, Any]
    strict: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelSettings:
    """Per-request settings. `None` means the provider's (or the model's) default."""

    max_tokens: int | None = None
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    tool_choice: Literal["auto", "none", "required"] | str | None = None
    """`auto`, `none`, `required`, or the name of one tool the model must call."""
    json_schema: JsonSchema | None = None
    seed: int | None = None
    timeout: float | None = None
    """Total deadline for this request in seconds (overrides the provider's)."""
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    """Sent with the HTTP request (the fake server reads `X-Fake-*` headers from here)."""

    def over(self, defaults: ModelSettings) -> ModelSettings:
        """These settings, with anything left unset taken from `defaults`."""
        return ModelSettings(
            max_tokens=_first(self.max_tokens, defaults.max_tokens),
            temperature=_first(self.temperature, defaults.temperature),
            stop=self.stop or defaults.stop,
            tool_choice=_first(self.tool_choice, defaults.tool_choice),
            json_schema=_first(self.json_schema, defaults.json_schema),
            seed=_first(self.seed, defaults.seed),
            timeout=_first(self.timeout, defaults.timeout),
            extra_headers={**defaults.extra_headers, **self.extra_headers},
        )


def _first(value: _T | None, default: _T | None) -> _T | None:
    return default if value is None else value


@dataclass(frozen=True, kw_only=True, slots=True)
class Response:
    """What the model returned, normalised across providers."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason = "stop"
    usage: Usage = field(default_factory=Usage)
    """Token counts as reported by the provider, else counted locally (`estimated=True`)."""
    model: str = ""
    """The model that answered (as the provider names it)."""
    provider: str = ""
    """The provider's name (`openai`, `anthropic`, `scripted`, ...)."""
    parsed: Any = None
    """The decoded JSON object when `ModelSettings.json_schema` was set."""
    latency_ms: float = 0.0

    def message(self) -> Message:
        """The assistant turn to append to the conversation."""
        return Message.assistant(self.text, self.tool_calls)


@dataclass(frozen=True, kw_only=True, slots=True)
class TextDelta:
    """A piece of streamed text."""

    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Completed:
    """The last stream event: the full response, with tool calls and usage."""

    response: Response


StreamEvent: TypeAlias = TextDelta | Completed


@dataclass(frozen=True, kw_only=True, slots=True)
class Capabilities:
    """What a provider can do; check before relying on it."""

    streaming: bool = False
    tools: bool = False
    json_schema: bool = False


@runtime_checkable
class Provider(Protocol):
    """An authenticated client for one model. One method: `generate`."""

    @property
    def name(self) -> str:
        """Provider name used in errors, traces and pricing (`openai`, `anthropic`, ...)."""
        ...

    @property
    def model(self) -> str:
        """The model requests go to."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Response:
        """Send the conversation; return the model's reply or raise an `LLMError`."""
        ...


@runtime_checkable
class StreamingProvider(Provider, Protocol):
    """A provider that can also stream: `TextDelta`s, then exactly one `Completed`."""

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Iterator[StreamEvent]: ...


def supports_streaming(provider: Provider) -> TypeGuard[StreamingProvider]:
    """True when `provider` declares streaming and implements `stream`."""
    return provider.capabilities.streaming and isinstance(provider, StreamingProvider)
