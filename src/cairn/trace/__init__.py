"""Tracing: every request is a trace of spans (see `cairn.trace.base`)."""

from cairn.trace.base import NullTracer, Span, Tracer

__all__ = ["NullTracer", "Span", "Tracer"]
