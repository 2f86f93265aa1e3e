"""`ScriptedModel` and the reply rules it shares with the fake server."""

from __future__ import annotations

import pytest

from cairn.answer.prompt import SENTINEL, PromptParts
from cairn.llm import Completed, JsonSchema, Message, ModelSettings, Reply, TextDelta, Tool, when
from cairn.llm.errors import BadResponse, RateLimited
from cairn.llm.replies import schema_example
from cairn.llm.scripted import ScriptedModel, pieces
from cairn.types import Chunk, Hit


def test_queued_replies_then_rules_then_default() -> None:
    model = ScriptedModel("first", Reply(text="second"))
    model.add_rule(when(r"weather", "sunny"))
    assert model.generate([Message.user("anything")]).text == "first"
    assert model.generate([Message.user("weather?")]).text == "second"
    assert model.generate([Message.user("weather?")]).text == "sunny"
    assert model.generate([Message.user("echo me")]).text == "echo me"
    assert [r.last_user for r in model.history] == ["anything", "weather?", "weather?", "echo me"]


def test_queued_exceptions_are_raised_in_order() -> None:
    model = ScriptedModel(RateLimited("slow", retry_after=0.0), "ok")
    with pytest.raises(RateLimited):
        model.generate([Message.user("x")])
    assert model.generate([Message.user("x")]).text == "ok"


def test_history_records_tools_and_settings() -> None:
    model = ScriptedModel()
    tool = Tool(name="search")
    settings = ModelSettings(temperature=0.3)
    model.generate([Message.system("s"), Message.user("u")], tools=[tool], settings=settings)
    request = model.history[0]
    assert request.system == "s"
    assert request.tools == (tool,)
    assert request.settings == settings


def test_stream_yields_word_pieces_then_completed() -> None:
    model = ScriptedModel("one two  three")
    events = list(model.stream([Message.user("x")]))
    assert events[:-1] == [TextDelta(text=p) for p in ["one ", "two  ", "three"]]
    last = events[-1]
    assert isinstance(last, Completed)
    assert last.response.text == "one two  three"
    assert "".join(pieces("a  b\nc ")) == "a  b\nc "


def test_usage_reported_or_estimated() -> None:
    assert not ScriptedModel("a b").generate([Message.user("x")]).usage.estimated
    usage = ScriptedModel("a b", report_usage=False).generate([Message.user("x")]).usage
    assert usage.estimated
    assert usage.output_tokens == 2


def test_tool_calls_forced_and_scripted() -> None:
    tool = Tool(
        name="search",
        parameters={
            "type": "object",
            "properties": {"query": {"type": "string"}, "k": {"type": "integer"}},
        },
    )
    model = ScriptedModel()
    forced = model.generate(
        [Message.user("find json")], tools=[tool], settings=ModelSettings(tool_choice="required")
    )
    assert forced.finish_reason == "tool_calls"
    assert forced.tool_calls[0].name == "search"
    assert forced.tool_calls[0].arguments == {"query": "find json", "k": 0}
    model.enqueue(Reply.call("search", {"query": "q"}, id="c7"))
    scripted = model.generate([Message.user("x")], tools=[tool])
    assert scripted.tool_calls[0].id == "c7"
    assert model.generate([Message.user("no tool")], tools=[tool]).tool_calls == ()


def test_structured_output() -> None:
    schema = JsonSchema(
        name="verdict",
        schema={
            "type": "object",
            "properties": {
                "label": {"enum": ["good", "bad"]},
                "score": {"type": "number"},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "note": {"type": ["string", "null"]},
            },
        },
    )
    model = ScriptedModel()
    response = model.generate([Message.user("judge")], settings=ModelSettings(json_schema=schema))
    assert response.parsed == {"label": "good", "score": 0.0, "tags": [""], "note": ""}
    model.enqueue('{"label": "bad"}', "not json")
    settings = ModelSettings(json_schema=schema)
    assert model.generate([Message.user("j")], settings=settings).parsed == {"label": "bad"}
    with pytest.raises(BadResponse, match="not valid JSON"):
        model.generate([Message.user("j")], settings=settings)
    assert schema_example({"anyOf": [{"type": "boolean"}, {"type": "string"}]}) is False


def _hit(n: int, text: str) -> Hit:
    chunk = Chunk(
        id=f"c{n}",
        doc_id="d",
        ordinal=n,
        text=text,
        section=("S",),
        anchor=None,
        start=0,
        end=len(text),
        token_count=10,
        hash=f"h{n}",
        source="doc.md",
    )
    return Hit(chunk=chunk, score=1.0)


def test_default_rule_answers_rag_prompts_with_citations() -> None:
    hits = [
        _hit(1, "Lists are mutable sequences. They keep insertion order."),
        _hit(2, "Frozen dataclasses cannot be modified after creation. Use frozen=True."),
    ]
    model = ScriptedModel()
    answer = model.generate(PromptParts().messages("How do frozen dataclasses behave?", hits))
    assert answer.text == "Frozen dataclasses cannot be modified after creation. [2]"
    missing = model.generate(PromptParts().messages("What is the capital of France?", hits))
    assert missing.text == SENTINEL
