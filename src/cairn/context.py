"""Who a request is for and what it has spent: one context for budgets and traces.

`request_context()` opens a scope carrying the trace id, tenant, user and feature of the
request being served (`ask`, `chat`, `eval`, `eval-judge`, `agent`, ...), plus attributes
added to the root span of every trace opened inside it. Fields left out are inherited from
the enclosing scope, so the server can name the caller and the feature, and the pipeline,
inside it, the trace id:

    with request_context(tenant="acme", user="alice", feature="chat"):
        pipeline.ask(question)        # opens request_context(trace_id) of its own

Each scope adds up what it spent (`cost_usd`, `usage`, `calls`) for `Answer.cost_usd`; the
budget's `MeteredProvider` adds to the innermost one. It is a context variable, so
concurrent requests in threads or tasks never see each other's scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cairn.types import Filters, Usage

DEFAULT_FEATURE = "ask"


@dataclass(kw_only=True)
class RequestContext:
    trace_id: str
    feature: str = DEFAULT_FEATURE
    user: str | None = None
    tenant: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    """Added to the root span of every trace opened in this scope."""
    cost_usd: Decimal = Decimal(0)
    usage: Usage = field(default_factory=Usage)
    calls: int = 0
    """Model calls settled in this scope."""
    route: str | None = None
    """The router's decision for this request (`extractive`, `cheap`, `strong`), recorded
    on the ledger line of each model call; None without a router."""
    filters: Filters | None = None
    """What the request may read (its principals and metadata filters), for a stage that
    queries the store beyond the retrieved hits (the answerer's look-up of a name,
    `cairn.answer.absent`); None: everything."""

    def add(self, cost: Decimal, usage: Usage) -> None:
        self.calls += 1
        self.cost_usd += cost
        self.usage = Usage(
            input_tokens=self.usage.input_tokens + usage.input_tokens,
            output_tokens=self.usage.output_tokens + usage.output_tokens,
            estimated=self.usage.estimated or usage.estimated,
            cache_read_tokens=self.usage.cache_read_tokens + usage.cache_read_tokens,
            cache_write_tokens=self.usage.cache_write_tokens + usage.cache_write_tokens,
        )


_current: ContextVar[RequestContext | None] = ContextVar("cairn_request", default=None)


@contextmanager
def request_context(
    trace_id: str | None = None,
    *,
    feature: str | None = None,
    user: str | None = None,
    tenant: str | None = None,
    filters: Filters | None = None,
    **attributes: Any,
) -> Iterator[RequestContext]:
    """A scope for one request; what is not given comes from the enclosing scope."""
    outer = _current.get()
    ctx = RequestContext(
        trace_id=trace_id or (outer.trace_id if outer else uuid.uuid4().hex),
        feature=feature or (outer.feature if outer else DEFAULT_FEATURE),
        user=user if user is not None else (outer.user if outer else None),
        tenant=tenant if tenant is not None else (outer.tenant if outer else None),
        filters=filters if filters is not None else (outer.filters if outer else None),
        attributes={**(outer.attributes if outer else {}), **attributes},
    )
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def current_context() -> RequestContext | None:
    """The innermost open scope, or None outside any request."""
    return _current.get()


def current_request() -> RequestContext:
    """The innermost open scope, or a fresh one (feature `ask`) outside any request."""
    ctx = _current.get()
    return ctx if ctx is not None else RequestContext(trace_id=uuid.uuid4().hex)
