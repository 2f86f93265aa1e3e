"""The one place model providers are built: every model of a route is metered.

    provider = metered_provider(settings.llm, "judge", budget, feature="eval-judge")

Each model of the task's route (first choice and fallbacks) is wrapped in a
`MeteredProvider`, so no call reaches a model without a reservation in the budget, and the
ledger records the feature the call served: the given `feature`, or else the feature of the
request context it runs in (`ask`, `chat`, `agent`, ...).
"""

from __future__ import annotations

from typing import Any

import httpx

from cairn.budget.base import CostBudget
from cairn.budget.metered import DEFAULT_MAX_OUTPUT_TOKENS, MeteredProvider
from cairn.llm.base import Provider
from cairn.llm.routing import build_provider


def metered_provider(
    llm: Any,
    task: str,
    budget: CostBudget,
    *,
    feature: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Provider | None:
    """The metered provider (or fallback chain) for `task`; `None` in extractive mode.

    `llm` is the `[llm]` settings section; `transport` is handed to every adapter (tests
    pass a mock)."""
    limit = getattr(llm, "max_tokens", None) or DEFAULT_MAX_OUTPUT_TOKENS

    def meter(provider: Provider) -> Provider:
        return MeteredProvider(provider, budget, max_output_tokens=limit, feature=feature)

    return build_provider(llm, task, transport=transport, wrap=meter)
