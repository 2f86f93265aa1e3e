from __future__ import annotations

from cairn.llm.base import Message, ToolCall
from cairn.llm.sse import format_sse, iter_sse
from cairn.llm.tokens import MESSAGE_OVERHEAD, estimate_tokens, estimate_usage


def test_estimate_counts_words_subwords_and_punctuation() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("hello world") == 2
    assert estimate_tokens("hello, world!") == 4
    # a long identifier is several sub-word tokens
    assert estimate_tokens("internationalization") == 4
    assert estimate_tokens("a " * 100) == 100


def test_estimated_usage_is_marked() -> None:
    call = ToolCall(id="c", name="search", arguments={"q": "x"})
    usage = estimate_usage([Message.user("one two three")], "four five", [call])
    assert usage.estimated
    assert usage.input_tokens == MESSAGE_OVERHEAD + 3
    assert usage.output_tokens > 2


def test_sse_round_trip() -> None:
    wire = format_sse('{"a": 1}') + format_sse("two\nlines", event="x") + b": comment\n\n"
    lines = wire.decode().split("\n")
    events = list(iter_sse(lines))
    assert [(e.event, e.data) for e in events] == [("message", '{"a": 1}'), ("x", "two\nlines")]
    # an event not ended by a blank line still counts at the end of the stream
    assert [e.data for e in iter_sse(["data: tail"])] == ["tail"]
