"""Stored answers read back exactly, and anything else is refused with `CodecError`."""

from __future__ import annotations

import dataclasses
import json

import pytest

from cairn.cache import CodecError, decode_answer, encode_answer
from cairn.cache.codec import NOT_STORED, STORED_FIELDS
from cairn.testing.cache import make_answer
from cairn.types import Answer


def test_round_trip() -> None:
    answer = make_answer()
    assert decode_answer(encode_answer(answer)) == answer
    abstained = Answer(text="I could not find this.", citations=(), abstained=True)
    assert decode_answer(encode_answer(abstained)) == abstained


def test_every_answer_field_is_stored_or_declared_per_serving() -> None:
    """Adding a field to `Answer`? Store it in `cairn.cache.codec` (or list it in NOT_STORED
    when it describes one serving, like `cached`)."""
    fields = {f.name for f in dataclasses.fields(Answer)}
    assert fields - NOT_STORED == STORED_FIELDS


def test_unicode_and_odd_numbers_survive() -> None:
    answer = dataclasses.replace(make_answer("Grüße — 日本語 [1]"), cost_usd=0, latency_ms=1e-9)
    assert decode_answer(encode_answer(answer)) == answer


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("text"),
        lambda d: d.update(v=2),
        lambda d: d.update(abstained="no"),
        lambda d: d.update(cost_usd="0.1"),
        lambda d: d.update(citations={}),
        lambda d: d["citations"][0].update(n=True),
        lambda d: d["citations"][0].update(verified="yes"),
        lambda d: d["usage"].pop("input_tokens"),
        lambda d: d["hits"][0]["chunk"].update(section="a > b"),
        lambda d: d["hits"][0]["chunk"].update(page="1"),
        lambda d: d["hits"][0].update(score=None),
    ],
)
def test_malformed_answers_are_refused(mutate: object) -> None:
    data = json.loads(encode_answer(make_answer()))
    mutate(data)  # type: ignore[operator]
    with pytest.raises(CodecError):
        decode_answer(json.dumps(data))


@pytest.mark.parametrize("blob", ["", "{", "null", "[]", '"text"', b"\xff\xfe", "[" * 5000])
def test_garbage_is_refused(blob: str | bytes) -> None:
    with pytest.raises(CodecError):
        decode_answer(blob)
