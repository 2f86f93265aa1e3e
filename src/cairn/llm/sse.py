"""Server-sent events: the framing both chat APIs use for streaming.

An event is a run of `field: value` lines ended by a blank line; `data` lines are joined with
newlines. Only `event` and `data` matter for the chat APIs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str
    """The `event:` field; `message` when absent (OpenAI sends none)."""
    data: str


def iter_sse(lines: Iterable[str]) -> Iterator[SSEEvent]:
    """Parse decoded lines (without line endings) into events."""
    event = ""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield SSEEvent(event or "message", "\n".join(data))
            event, data = "", []
        elif line.startswith(":"):
            continue  # comment / keep-alive
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
    if data:
        yield SSEEvent(event or "message", "\n".join(data))


def format_sse(data: str, event: str | None = None) -> bytes:
    """One event, encoded for the wire."""
    head = f"event: {event}\n" if event else ""
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"{head}{body}\n".encode()
