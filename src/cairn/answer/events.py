"""Events a streaming answerer yields: tokens, then citations as sentences complete, then done.

`TokenEvent.text` is the model's raw text as it arrives; `DoneEvent.draft` is the definitive
answer (markers normalised, unknown ones dropped, or the abstention text), and its citations
are the definitive list: a client renders tokens live and replaces them with the draft's text
on `done`. The pipeline adds its own `verified` and `error` events on top of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from cairn.answer.base import Draft
from cairn.types import Citation


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
    draft: Draft
    kind: Literal["done"] = "done"


AnswerEvent: TypeAlias = TokenEvent | CitationEvent | DoneEvent
