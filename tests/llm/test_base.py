from __future__ import annotations

from cairn.llm import (
    Capabilities,
    Message,
    ModelSettings,
    Provider,
    Response,
    ScriptedModel,
    StreamingProvider,
    ToolCall,
    supports_streaming,
)
from cairn.llm.base import JsonSchema
from cairn.llm.reliable import FallbackChain, ReliableProvider
from cairn.types import Usage


def test_message_constructors() -> None:
    call = ToolCall(id="c1", name="search", arguments={"q": "x"})
    assert Message.system("s").role == "system"
    assert Message.user("u").content == "u"
    assert Message.assistant(tool_calls=[call]).tool_calls == (call,)
    assert Message.tool("c1", "result") == Message(role="tool", content="result", tool_call_id="c1")
    response = Response(text="hi", tool_calls=(call,), usage=Usage(input_tokens=1))
    assert response.message() == Message.assistant("hi", [call])


def test_settings_fall_back_to_defaults_field_by_field() -> None:
    defaults = ModelSettings(max_tokens=100, temperature=0.0, extra_headers={"a": "1"})
    schema = JsonSchema(name="x", schema={"type": "object"})
    merged = ModelSettings(temperature=0.7, json_schema=schema, extra_headers={"b": "2"}).over(
        defaults
    )
    assert merged.max_tokens == 100
    assert merged.temperature == 0.7
    assert merged.json_schema is schema
    assert merged.extra_headers == {"a": "1", "b": "2"}


class _PlainProvider:
    name = "plain"
    model = "m"
    capabilities = Capabilities()

    def generate(
        self, messages: object, *, tools: object = (), settings: object = None
    ) -> Response:
        return Response(text="ok")


def test_protocols_and_capabilities() -> None:
    scripted = ScriptedModel()
    assert isinstance(scripted, Provider)
    assert isinstance(scripted, StreamingProvider)
    assert supports_streaming(scripted)
    plain = _PlainProvider()
    assert isinstance(plain, Provider)
    assert not supports_streaming(plain)  # type: ignore[arg-type]
    # the wrappers can always stream (a non-streaming provider yields one delta)
    wrapped = ReliableProvider(plain)  # type: ignore[arg-type]
    assert isinstance(wrapped, StreamingProvider)
    chain = FallbackChain([wrapped, scripted])
    assert chain.capabilities.streaming
    assert not chain.capabilities.tools
    assert [type(e).__name__ for e in wrapped.stream([Message.user("x")])] == [
        "TextDelta",
        "Completed",
    ]
