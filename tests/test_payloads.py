"""The JSON contracts other tools rely on (docs: "Contracts other tools rely on"), checked on
the payload models every surface uses: the CLI's `--json` and batch lines, the API and its
OpenAPI schema."""

from __future__ import annotations

import dataclasses
from typing import Any

from cairn.payloads import AnswerOut, SearchOut, answer_json, citation_json, search_json
from cairn.types import Answer, Chunk, Citation, Degraded, Hit, Risk, Usage

ASK_KEYS = {"answer", "abstained", "citations", "usage", "cost_usd", "latency_ms", "trace_id"}
CITATION_KEYS = {"n", "chunk_id", "source", "uri", "section", "quote", "verified"}
SEARCH_RESULT_KEYS = {
    "rank",
    "chunk_id",
    "doc_id",
    "source",
    "uri",
    "title",
    "section",
    "score",
    "text",
    "risk",
}


def _chunk(i: int) -> Chunk:
    text = f"Chunk {i} says default_factory."
    return Chunk(
        id=f"c{i}",
        doc_id="d1",
        ordinal=i,
        text=text,
        section=("dataclasses", "Fields"),
        anchor="fields",
        start=0,
        end=len(text),
        token_count=5,
        hash=f"h{i}",
        source="library/dataclasses.html",
        uri="file:///docs/library/dataclasses.html",
        title="dataclasses",
    )


def _answer() -> Answer:
    c = _chunk(1)
    citation = Citation(
        n=1,
        chunk_id=c.id,
        source=c.source,
        uri=c.uri,
        section="Fields",
        quote=c.text,
        verified=True,
        support=0.93,
    )
    return Answer(
        text="Use default_factory [1].",
        citations=(citation,),
        abstained=False,
        usage=Usage(input_tokens=10, output_tokens=4, estimated=True),
        cost_usd=0.0,
        latency_ms=12.3456,
        trace_id="t" * 32,
        hits=(Hit(chunk=c, score=0.5),),
    )


def test_ask_json_carries_the_contract() -> None:
    data = answer_json(_answer())
    assert set(data) >= ASK_KEYS
    # documented additions: the cache, degraded mode, the guards' decisions, the route
    assert set(data) - ASK_KEYS == {"cached", "degraded", "refused", "reason", "guard", "route"}
    assert (data["refused"], data["reason"]) == (False, None)
    assert data["guard"] == {"input": "off", "context": "off", "output": "off"}
    assert data["degraded"] is None
    [citation] = data["citations"]
    assert set(citation) >= CITATION_KEYS and set(citation) - CITATION_KEYS == {"support", "risk"}
    assert citation["risk"] is None  # never scanned
    assert f"[{citation['n']}]" in data["answer"]
    assert citation["source"] == "library/dataclasses.html"
    assert data["usage"] == {"input_tokens": 10, "output_tokens": 4, "estimated": True}
    assert data["latency_ms"] == 12.35
    assert citation_json(_answer().citations[0]) == citation


def test_a_degraded_answer_says_why() -> None:
    degraded = Degraded(reason="budget_exhausted", detail="budget.daily_usd", retry_after=60.0)
    data = answer_json(dataclasses.replace(_answer(), degraded=degraded))
    assert data["degraded"] == {
        "reason": "budget_exhausted",
        "detail": "budget.daily_usd",
        "retry_after_s": 60.0,
    }


def test_search_json_is_exactly_the_contract() -> None:
    hits = [Hit(chunk=_chunk(i), score=1.0 / i) for i in (1, 2)]
    data = search_json("default list", hits)
    assert set(data) == {"query", "results"} and data["query"] == "default list"
    assert [set(r) for r in data["results"]] == [SEARCH_RESULT_KEYS] * 2
    assert [r["rank"] for r in data["results"]] == [1, 2]
    assert data["results"][0]["section"] == "dataclasses > Fields"
    assert data["results"][0]["uri"].endswith("#fields")


def test_hits_and_citations_carry_their_risk() -> None:
    risk = Risk(score=0.97, flagged=True, reasons=("rule:ignore-instructions",))
    hit = Hit(chunk=dataclasses.replace(_chunk(1), risk=risk), score=0.5)
    expected = {"score": 0.97, "flagged": True, "reasons": ["rule:ignore-instructions"]}
    assert search_json("q", [hit])["results"][0]["risk"] == expected
    answer = _answer()
    cited = dataclasses.replace(answer.citations[0], risk=risk)
    data = answer_json(dataclasses.replace(answer, citations=(cited,)))
    assert data["citations"][0]["risk"] == expected
    assert AnswerOut.model_validate(data).model_dump(mode="json") == data


def test_payloads_read_back_through_their_models() -> None:
    data: dict[str, Any] = answer_json(_answer())
    assert AnswerOut.model_validate(data).model_dump(mode="json") == data
    found = search_json("q", [Hit(chunk=_chunk(1), score=0.25)])
    assert SearchOut.model_validate(found).model_dump(mode="json") == found


def test_the_api_schema_is_the_payload_model() -> None:
    from cairn.config import Settings
    from cairn.server.app import create_app

    schema = create_app(Settings()).openapi()
    ask = schema["paths"]["/v1/ask"]["post"]["responses"]["200"]["content"]["application/json"]
    search = schema["paths"]["/v1/search"]["post"]["responses"]["200"]["content"]
    assert ask["schema"] == {"$ref": "#/components/schemas/AnswerOut"}
    assert search["application/json"]["schema"] == {"$ref": "#/components/schemas/SearchOut"}
    answer_schema = schema["components"]["schemas"]["AnswerOut"]
    assert set(answer_schema["properties"]) == set(AnswerOut.model_fields)
    assert set(answer_schema["required"]) == ASK_KEYS | {"citations"}
