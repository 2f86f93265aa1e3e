"""Reversible placeholders for personal data sent to a hosted model (`guard.pii_placeholders`).

With the setting on, every model the workspace builds is wrapped in `PlaceholderProvider`:
the messages of a call (system prompt, passages, question, history) go out with each value
found by `cairn.guard.pii.PIIDetector` swapped for a numbered placeholder (`<PERSON_1>`,
`<EMAIL_ADDRESS_1>`, one numbering over the whole call), and the model's reply, streamed or
not, comes back with the values restored, so the answer's checks (citations, attribution)
and the user see the original text while the model never saw it.

The rest of the request keeps the placeholders, not the values:

- traces and logs: every string attribute and log message is pseudonymised the same way
  (`pseudonymise_text`; with `guard.pii = mask` or `redact` that policy is applied instead);
- the answer cache (`PlaceholderAnswerCache`): an answer whose question or text holds
  personal data is not stored (its placeholder form could only be shown again with the
  values that restore it, and those are what must not be kept).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from cairn.guard.pii import PIIDetector, restore
from cairn.llm.base import (
    Capabilities,
    Completed,
    Message,
    ModelSettings,
    Provider,
    Response,
    StreamEvent,
    TextDelta,
    Tool,
    supports_streaming,
)

if TYPE_CHECKING:
    from cairn.cache import AnswerCache, CacheHit, CacheRequest
    from cairn.types import Answer

MAX_PLACEHOLDER = 48
"""The longest placeholder a streamed reply may hold back while it waits for the `>`."""


def pseudonymise_messages(
    detector: PIIDetector, messages: Sequence[Message]
) -> tuple[list[Message], dict[str, str]]:
    """`messages` with their personal data swapped for placeholders (one numbering over
    all of them), and the placeholder → value mapping."""
    mapping: dict[str, str] = {}
    out: list[Message] = []
    for message in messages:
        if not message.content:
            out.append(message)
            continue
        text, mapping = detector.pseudonymise(message.content, mapping)
        out.append(dataclasses.replace(message, content=text))
    return out, mapping


class Restorer:
    """Puts values back into a streamed reply: text that may be the start of a placeholder
    (from `<` on, up to `MAX_PLACEHOLDER` characters) is held until it is known."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping
        self._held = ""

    def feed(self, text: str) -> str:
        text = self._held + text
        self._held = ""
        cut = text.rfind("<")
        if cut != -1 and ">" not in text[cut:] and len(text) - cut < MAX_PLACEHOLDER:
            text, self._held = text[:cut], text[cut:]
        return restore(text, self.mapping)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return restore(held, self.mapping)


class PlaceholderProvider:
    """A provider whose model sees placeholders instead of personal data."""

    def __init__(self, inner: Provider, detector: PIIDetector) -> None:
        self.inner = inner
        self.detector = detector

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Response:
        sent, mapping = pseudonymise_messages(self.detector, messages)
        response = self.inner.generate(sent, tools=tools, settings=settings)
        return _restored(response, mapping)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Iterator[StreamEvent]:
        sent, mapping = pseudonymise_messages(self.detector, messages)
        if not supports_streaming(self.inner):
            response = self.inner.generate(sent, tools=tools, settings=settings)
            restored = _restored(response, mapping)
            if restored.text:
                yield TextDelta(text=restored.text)
            yield Completed(response=restored)
            return
        restorer = Restorer(mapping)
        for event in self.inner.stream(sent, tools=tools, settings=settings):
            if isinstance(event, TextDelta):
                text = restorer.feed(event.text)
                if text:
                    yield TextDelta(text=text)
            else:
                rest = restorer.flush()
                if rest:
                    yield TextDelta(text=rest)
                yield Completed(response=_restored(event.response, mapping))


def _restored(response: Response, mapping: dict[str, str]) -> Response:
    if not mapping:
        return response
    calls = tuple(
        dataclasses.replace(c, arguments=_restore_json(dict(c.arguments), mapping))
        for c in response.tool_calls
    )
    parsed = _restore_json(response.parsed, mapping) if response.parsed is not None else None
    return dataclasses.replace(
        response, text=restore(response.text, mapping), tool_calls=calls, parsed=parsed
    )


def _restore_json(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        return restore(value, mapping)
    if isinstance(value, dict):
        return {k: _restore_json(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_json(v, mapping) for v in value]
    return value


def pseudonymise_text(detector: PIIDetector) -> Callable[[str], str]:
    """A scrub for traces and logs: each value swapped for its placeholder (safe to call
    from a log record made by the detector itself)."""
    from cairn.guard.surfaces import reentry_safe

    detector.engine  # noqa: B018  (built now, not inside a log call)
    return reentry_safe(lambda text: detector.pseudonymise(text)[0])


def placeholder_detector() -> PIIDetector:
    """The detector `guard.pii_placeholders` needs; a clear error without the `pii` extra."""
    from cairn.errors import ConfigError
    from cairn.guard.pii import INSTALL_HINT

    try:
        import presidio_analyzer  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"guard.pii_placeholders needs PII detection. {INSTALL_HINT}; or turn it off "
            "(CAIRN_GUARD_PII_PLACEHOLDERS=false)"
        ) from exc
    return PIIDetector()


class PlaceholderAnswerCache:
    """An `AnswerCache` that stores no answer whose question or text holds personal data."""

    def __init__(self, inner: AnswerCache, detector: PIIDetector) -> None:
        self.inner = inner
        self.detector = detector

    def get(self, request: CacheRequest) -> CacheHit | None:
        if self.detector.find(request.question):
            return None
        return self.inner.get(request)

    def put(self, request: CacheRequest, answer: Answer) -> None:
        if self.detector.find(request.question) or self.detector.find(answer.text):
            return
        self.inner.put(request, answer)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # the rest of the backend's API (clear, stats)
        return getattr(self.inner, name)
