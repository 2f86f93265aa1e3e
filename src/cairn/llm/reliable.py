"""Retries, a circuit breaker and a deadline around one provider; fallback across several.

`ReliableProvider(provider, ...)` and `FallbackChain([...])` are providers themselves, so the
request path stays `provider.generate(...)` whatever is wrapped underneath.

Streaming: a failure before the first text delta is retried like any other. After text has
reached the caller, the retry resumes: its text must start with what was already sent, and only
the rest is passed on (a deterministic server, or a model at temperature 0, continues
seamlessly); if it differs, a non-retryable `BadResponse` says the answer so far is incomplete.
A fallback to another model happens only before the first delta.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

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
from cairn.llm.breaker import CircuitBreaker
from cairn.llm.errors import AllProvidersFailed, BadResponse, LLMError, ProviderTimeout
from cairn.llm.retry import RetryPolicy


def stream_of(
    provider: Provider,
    messages: Sequence[Message],
    tools: Sequence[Tool],
    settings: ModelSettings | None,
) -> Iterator[StreamEvent]:
    """`provider.stream(...)`, or one delta and `Completed` for a provider that cannot stream."""
    if supports_streaming(provider):
        yield from provider.stream(messages, tools=tools, settings=settings)
        return
    response = provider.generate(messages, tools=tools, settings=settings)
    if response.text:
        yield TextDelta(text=response.text)
    yield Completed(response=response)


class ReliableProvider:
    """Retries with backoff, honours `Retry-After`, trips a breaker, enforces a deadline."""

    def __init__(
        self,
        provider: Provider,
        *,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        deadline: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = provider
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self.deadline = deadline
        """Seconds for the whole call, every try and wait included."""
        self._sleep = sleep
        self._rng = rng or random.Random()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def capabilities(self) -> Capabilities:
        return replace(self.inner.capabilities, streaming=True)

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
        for event in self._run(messages, tools, settings, streaming=False):
            if isinstance(event, Completed):
                return event.response
        raise AssertionError("unreachable: a run always ends with Completed")

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Iterator[StreamEvent]:
        return self._run(messages, tools, settings, streaming=True)

    def _run(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool],
        settings: ModelSettings | None,
        *,
        streaming: bool,
    ) -> Iterator[StreamEvent]:
        settings = settings or ModelSettings()
        total = settings.timeout or self.deadline
        end = time.monotonic() + total
        failures = 0
        sent = ""  # text already streamed to the caller
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise ProviderTimeout(
                    f"no reply within the {total:g}s deadline",
                    provider=self.name,
                    model=self.model,
                    hint="raise llm.timeout_s or check the server's load",
                )
            self.breaker.before_call(self.name, self.model)
            attempt = replace(settings, timeout=left)
            try:
                if streaming:
                    events = stream_of(self.inner, messages, tools, attempt)
                    for event in self._resume(events, sent):
                        if isinstance(event, TextDelta):
                            sent += event.text
                        yield event
                else:
                    response = self.inner.generate(messages, tools=tools, settings=attempt)
                    yield Completed(response=response)
            except LLMError as error:
                failures += 1
                error.attempts = failures
                self.breaker.record_failure(error)
                wait = self.retry.delay(failures, error, self._rng)
                if wait is None or wait >= end - time.monotonic():
                    raise
                self._sleep(wait)
                continue
            self.breaker.record_success()
            return

    def _resume(self, events: Iterator[StreamEvent], sent: str) -> Iterator[StreamEvent]:
        """`events`, less the first `len(sent)` characters of text, which must equal `sent`."""
        seen = ""
        for event in events:
            if not sent or not isinstance(event, TextDelta) or len(seen) >= len(sent):
                yield event
                continue
            seen += event.text
            if not (sent.startswith(seen) or seen.startswith(sent)):
                error = BadResponse(
                    f"the stream broke after {len(sent)} characters and the retry's text "
                    "differs; the answer so far is incomplete",
                    provider=self.name,
                    model=self.model,
                    hint="ask again, or use the non-streaming answer",
                )
                error.retryable = False
                raise error
            if len(seen) > len(sent):
                yield TextDelta(text=seen[len(sent) :])


class FallbackChain:
    """Tries each provider in order; the first reply wins. `AllProvidersFailed` lists them all."""

    def __init__(self, providers: Sequence[Provider]) -> None:
        if not providers:
            raise ValueError("a fallback chain needs at least one provider")
        self.providers = tuple(providers)

    @property
    def name(self) -> str:
        return self.providers[0].name

    @property
    def model(self) -> str:
        return self.providers[0].model

    @property
    def capabilities(self) -> Capabilities:
        caps = [p.capabilities for p in self.providers]
        return Capabilities(
            streaming=True,
            tools=all(c.tools for c in caps),
            json_schema=all(c.json_schema for c in caps),
        )

    def close(self) -> None:
        for provider in self.providers:
            close = getattr(provider, "close", None)
            if close is not None:
                close()

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Response:
        failures: list[LLMError] = []
        for provider in self.providers:
            try:
                return provider.generate(messages, tools=tools, settings=settings)
            except LLMError as error:
                failures.append(error)
        raise AllProvidersFailed(failures)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Iterator[StreamEvent]:
        failures: list[LLMError] = []
        for provider in self.providers:
            emitted = False
            try:
                for event in stream_of(provider, messages, tools, settings):
                    emitted = emitted or isinstance(event, TextDelta)
                    yield event
                return
            except LLMError as error:
                if emitted:
                    raise
                failures.append(error)
        raise AllProvidersFailed(failures)
