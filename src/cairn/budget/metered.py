"""Budgets on the request path: every model call reserves its worst case first.

`MeteredProvider` wraps one model's provider. Before a call it reserves the priced worst
case (the prompt's token estimate times a safety margin, plus the output limit it then
enforces on the call) and raises `BudgetExceeded` before any request is sent when a limit
would be crossed; after the call it settles to the reported usage, or releases on failure.
Wrapping each model of a fallback chain separately prices every attempt at its own model.

Each reservation is attributed to the request in `cairn.context` (trace id, user, tenant
and feature), and what the call cost is added to that request's running total. A provider
built for one feature (the evaluation judge) records that feature whatever the request.
Build providers with `cairn.budget.providers.metered_provider`, which wraps every model.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import replace

from cairn.budget.base import CostBudget
from cairn.budget.reservation import Reservation
from cairn.context import RequestContext, current_request
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
)
from cairn.llm.reliable import stream_of
from cairn.llm.tokens import estimate_output_tokens, estimate_prompt_tokens
from cairn.types import Usage

DEFAULT_MAX_OUTPUT_TOKENS = 1024
"""Output limit enforced (and reserved for) when `llm.max_tokens` is not set."""
PROMPT_MARGIN = 1.5
"""The prompt estimate is a heuristic (no offline tokenizer for hosted models), so the
reservation assumes up to 50% more prompt tokens than estimated."""


class MeteredProvider:
    """A `Provider` (streaming when the inner one streams) that never spends unreserved."""

    def __init__(
        self,
        inner: Provider,
        budget: CostBudget,
        *,
        max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
        price_model: str | None = None,
        feature: str | None = None,
    ) -> None:
        self.inner = inner
        self.feature = feature
        """Recorded on every call instead of the request's feature (e.g. `eval-judge`)."""
        self.budget = budget
        self.max_output_tokens = max_output_tokens
        self.price_model = price_model or inner.model
        """The name prices are looked up by (e.g. `gpt-4o-mini`, or `openai/gpt-4o-mini`)."""

    @property
    def name(self) -> str:
        return self.inner.name

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def _limited(self, settings: ModelSettings | None) -> ModelSettings:
        settings = settings or ModelSettings()
        limit = min(settings.max_tokens or self.max_output_tokens, self.max_output_tokens)
        return replace(settings, max_tokens=limit)

    def _reserve(
        self, messages: Sequence[Message], settings: ModelSettings
    ) -> tuple[RequestContext, Reservation]:
        ctx = current_request()
        prompt = math.ceil(estimate_prompt_tokens(messages) * PROMPT_MARGIN)
        assert settings.max_tokens is not None
        reservation = self.budget.reserve(
            model=self.price_model,
            input_tokens=prompt,
            max_output_tokens=settings.max_tokens,
            feature=self.feature or ctx.feature,
            user=ctx.user,
            tenant=ctx.tenant,
            trace_id=ctx.trace_id,
            route=ctx.route,
        )
        return ctx, reservation

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Response:
        limited = self._limited(settings)
        ctx, reservation = self._reserve(messages, limited)
        try:
            response = self.inner.generate(messages, tools=tools, settings=limited)
        except BaseException:
            self.budget.release(reservation)
            raise
        entry = self.budget.settle(reservation, response.usage)
        ctx.add(entry.cost_usd, response.usage)
        return response

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Iterator[StreamEvent]:
        limited = self._limited(settings)
        ctx, reservation = self._reserve(messages, limited)
        received = ""
        try:
            for event in stream_of(self.inner, messages, tools, limited):
                if isinstance(event, TextDelta):
                    received += event.text
                elif isinstance(event, Completed):
                    entry = self.budget.settle(reservation, event.response.usage)
                    ctx.add(entry.cost_usd, event.response.usage)
                yield event
        except BaseException:
            # a stream cut mid-way was still generated: charge what arrived (estimated)
            partial = Usage(
                input_tokens=estimate_prompt_tokens(messages),
                output_tokens=estimate_output_tokens(received),
                estimated=True,
            )
            self.budget.release(reservation, partial if received else None)
            raise
