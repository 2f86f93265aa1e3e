"""`Answer` to JSON and back, for the SQLite cache.

Decoding checks every field's type: a row that does not decode (a damaged file, a row written
by a future cairn) raises `CodecError`, which the cache treats as a miss.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cairn.types import Answer, Chunk, Citation, Hit, Usage

CODEC_VERSION = 1

STORED_FIELDS = frozenset(
    {"text", "citations", "abstained", "usage", "cost_usd", "latency_ms", "trace_id", "hits"}
)
"""The `Answer` fields kept in the cache."""
NOT_STORED = frozenset({"cached"})
"""`Answer` fields that describe one serving of an answer, not the answer itself."""


class CodecError(ValueError):
    """A stored answer that cannot be read back."""


def encode_answer(answer: Answer) -> str:
    data = {
        "v": CODEC_VERSION,
        "text": answer.text,
        "citations": [_citation(c) for c in answer.citations],
        "abstained": answer.abstained,
        "usage": {
            "input_tokens": answer.usage.input_tokens,
            "output_tokens": answer.usage.output_tokens,
            "estimated": answer.usage.estimated,
        },
        "cost_usd": answer.cost_usd,
        "latency_ms": answer.latency_ms,
        "trace_id": answer.trace_id,
        "hits": [_hit(h) for h in answer.hits],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def decode_answer(blob: str | bytes) -> Answer:
    try:
        data = _object(json.loads(blob))
        if data.get("v") != CODEC_VERSION:
            raise CodecError(f"stored with codec version {data.get('v')!r}")
        usage = _object(data["usage"])
        return Answer(
            text=_str(data["text"]),
            citations=tuple(_read_citation(c) for c in _list(data["citations"])),
            abstained=_bool(data["abstained"]),
            usage=Usage(
                input_tokens=_int(usage["input_tokens"]),
                output_tokens=_int(usage["output_tokens"]),
                estimated=_bool(usage["estimated"]),
            ),
            cost_usd=_float(data["cost_usd"]),
            latency_ms=_float(data["latency_ms"]),
            trace_id=_str(data["trace_id"]),
            hits=tuple(_read_hit(h) for h in _list(data["hits"])),
        )
    except CodecError:
        raise
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CodecError(f"unreadable stored answer: {exc!r}") from exc


def _citation(c: Citation) -> dict[str, Any]:
    return {
        "n": c.n,
        "chunk_id": c.chunk_id,
        "source": c.source,
        "uri": c.uri,
        "section": c.section,
        "quote": c.quote,
        "verified": c.verified,
        "support": c.support,
    }


def _read_citation(raw: object) -> Citation:
    d = _object(raw)
    return Citation(
        n=_int(d["n"]),
        chunk_id=_str(d["chunk_id"]),
        source=_str(d["source"]),
        uri=_str(d["uri"]),
        section=_str(d["section"]),
        quote=_str(d["quote"]),
        verified=None if d["verified"] is None else _bool(d["verified"]),
        support=None if d["support"] is None else _float(d["support"]),
    )


def _hit(h: Hit) -> dict[str, Any]:
    c = h.chunk
    return {
        "score": h.score,
        "lexical": h.lexical,
        "dense": h.dense,
        "chunk": {
            "id": c.id,
            "doc_id": c.doc_id,
            "ordinal": c.ordinal,
            "text": c.text,
            "section": list(c.section),
            "anchor": c.anchor,
            "start": c.start,
            "end": c.end,
            "token_count": c.token_count,
            "hash": c.hash,
            "page": c.page,
            "source": c.source,
            "uri": c.uri,
            "title": c.title,
        },
    }


def _read_hit(raw: object) -> Hit:
    d = _object(raw)
    c = _object(d["chunk"])
    chunk = Chunk(
        id=_str(c["id"]),
        doc_id=_str(c["doc_id"]),
        ordinal=_int(c["ordinal"]),
        text=_str(c["text"]),
        section=tuple(_str(s) for s in _list(c["section"])),
        anchor=None if c["anchor"] is None else _str(c["anchor"]),
        start=_int(c["start"]),
        end=_int(c["end"]),
        token_count=_int(c["token_count"]),
        hash=_str(c["hash"]),
        page=None if c["page"] is None else _int(c["page"]),
        source=_str(c["source"]),
        uri=_str(c["uri"]),
        title=_str(c["title"]),
    )
    return Hit(
        chunk=chunk,
        score=_float(d["score"]),
        lexical=None if d["lexical"] is None else _float(d["lexical"]),
        dense=None if d["dense"] is None else _float(d["dense"]),
    )


def _object(value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise CodecError(f"expected an object, got {type(value).__name__}")
    return value


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise CodecError(f"expected a list, got {type(value).__name__}")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise CodecError(f"expected a string, got {type(value).__name__}")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise CodecError(f"expected a boolean, got {type(value).__name__}")
    return value


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodecError(f"expected an integer, got {type(value).__name__}")
    return value


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"expected a number, got {type(value).__name__}")
    return float(value)
