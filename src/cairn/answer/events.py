"""Every event of the request path, in one place.

A streaming answerer (`cairn.answer.base.StreamingAnswerer`) yields `AnswerEvent`s: tokens,
then citations as sentences complete, then `DoneEvent`. `TokenEvent.text` is the model's raw
text as it arrives; `DoneEvent.draft` is the definitive answer (markers normalised, unknown
ones dropped, or the abstention text), and its citations are the definitive list: a client
renders tokens live and replaces them with the draft's text on `done`.

`Pipeline.ask_stream` yields `PipelineEvent`s: the answerer's tokens and citations (preceded
by `DegradedEvent` when the model could not serve and the fallback answered), then
`VerifiedEvent` (the verifier's verdict), then `AnswerDoneEvent` (the final `Answer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from cairn.answer.base import Draft
from cairn.types import Answer, Citation, Degraded


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenEvent:
    text: str
    kind: Literal["token"] = "token"


@dataclass(frozen=True, kw_only=True, slots=True)
class CitationEvent:
    """A `[n]` marker resolved once the sentence carrying it is complete."""

    citation: Citation
    kind: Literal["citation"] = "citation"


@dataclass(frozen=True, kw_only=True, slots=True)
class DoneEvent:
    """The answerer's last event: its complete draft, before verification."""

    draft: Draft
    kind: Literal["done"] = "done"


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifiedEvent:
    """The verifier's verdict on every citation, sent once the answer is complete."""

    citations: tuple[Citation, ...]
    kind: Literal["verified"] = "verified"


@dataclass(frozen=True, kw_only=True, slots=True)
class DegradedEvent:
    """The model could not serve: the fallback answerer's answer follows (sent before its
    first token)."""

    degraded: Degraded
    kind: Literal["degraded"] = "degraded"


@dataclass(frozen=True, kw_only=True, slots=True)
class AnswerDoneEvent:
    """The pipeline's last event: the final answer (its text and citations are definitive)."""

    answer: Answer
    kind: Literal["done"] = "done"


AnswerEvent: TypeAlias = TokenEvent | CitationEvent | DoneEvent
"""What a streaming answerer yields."""

PipelineEvent: TypeAlias = (
    TokenEvent | CitationEvent | DegradedEvent | VerifiedEvent | AnswerDoneEvent
)
"""What `Pipeline.ask_stream` yields: tokens and citations as they come (after a
`DegradedEvent` when the fallback answers), then the verdict, then the final answer."""
