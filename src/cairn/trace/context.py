"""Who a request is for, for the traces it opens.

The HTTP server knows the caller (tenant, user) before the pipeline runs; the pipeline does
not always pass them to `Tracer.trace` (`Pipeline.search` does not). The server wraps the
call in `trace_scope(tenant=..., user=...)` and recording tracers read it when a root span
opens, so every stored trace carries its tenant. It is a context variable: concurrent
requests in threads or tasks never see each other's scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True, slots=True)
class TraceScope:
    tenant: str | None = None
    user: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    """Added to the root span of every trace opened in this scope."""


_scope: ContextVar[TraceScope | None] = ContextVar("cairn_trace_scope", default=None)


@contextmanager
def trace_scope(
    *, tenant: str | None = None, user: str | None = None, **attributes: Any
) -> Iterator[TraceScope]:
    scope = TraceScope(tenant=tenant, user=user, attributes=attributes)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def current_scope() -> TraceScope | None:
    return _scope.get()
