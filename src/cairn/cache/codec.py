"""`Answer` to JSON and back, for the SQLite cache, by pydantic over the `cairn.types`
dataclasses (every field, nested chunks included, with no hand-written copy to keep in step).

Decoding is strict (no coercion: `"0.1"` is not a number, `true` is not an int; every field
present, none unknown): a row that does not decode (a damaged file, a row written by a
future cairn) raises `CodecError`, which the cache treats as a miss.
"""

from __future__ import annotations

import json

from pydantic import TypeAdapter, ValidationError

from cairn.types import Answer

CODEC_VERSION = 1

STORED_FIELDS = frozenset(
    {"text", "citations", "abstained", "usage", "cost_usd", "latency_ms", "trace_id", "hits"}
)
"""The `Answer` fields kept in the cache."""
NOT_STORED = frozenset({"cached", "degraded", "guard", "query", "route"})
"""`Answer` fields that describe one serving of an answer, not the answer itself (a
degraded answer is never cached: `Pipeline` stores only the model's own answers; the guards'
decisions are those of the request that is served; `query`, the standalone query a
conversation's question was rewritten into, is the cache key's own text and is set again on
each serving; `route`, the router's decision, is that of the request that called a model: a
cached answer calls none)."""

_ANSWER: TypeAdapter[Answer] = TypeAdapter(Answer)


class CodecError(ValueError):
    """A stored answer that cannot be read back."""


def encode_answer(answer: Answer) -> str:
    data = _ANSWER.dump_python(answer, mode="json", exclude=set(NOT_STORED))
    return json.dumps({"v": CODEC_VERSION, **data}, ensure_ascii=False, separators=(",", ":"))


def decode_answer(blob: str | bytes) -> Answer:
    try:
        data = json.loads(blob)
        if not isinstance(data, dict):
            raise CodecError(f"a stored answer is a JSON object, not {type(data).__name__}")
        if data.get("v") != CODEC_VERSION:
            raise CodecError(f"stored with codec version {data.get('v')!r}")
        answer = _ANSWER.validate_json(blob, strict=True)
        data.pop("v")
        if _ANSWER.dump_python(answer, mode="json", exclude=set(NOT_STORED)) != data:
            # a field left out (a default filled in) or one this version does not know
            raise CodecError("stored answer does not read back exactly")
        return answer
    except CodecError:
        raise
    except (ValidationError, ValueError, TypeError, RecursionError) as exc:
        raise CodecError(f"unreadable stored answer: {exc!r}") from exc
