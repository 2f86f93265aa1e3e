"""The behaviour every answer-cache backend must have. A backend's test module subclasses
`AnswerCacheConformance` and provides the `make_cache` fixture; nothing else changes."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pytest

from cairn.cache import AnswerCache, CacheRequest, VectorAnswerCache
from cairn.testing.clock import Clock

__all__ = ["AnswerCacheConformance", "Clock", "MakeCache", "make_answer", "request", "unit"]
from cairn.types import Answer, Chunk, Citation, Filters, Hit, Usage

CONFIG = "config-a"


class MakeCache(Protocol):
    def __call__(
        self, *, ttl_s: float | None = None, max_entries: int = 100, clock: Clock | None = None
    ) -> VectorAnswerCache: ...


def make_answer(text: str = "Use field(default_factory=list). [1]", *, n: int = 1) -> Answer:
    chunk = Chunk(
        id=f"chunk-{n}",
        doc_id="doc-1",
        ordinal=0,
        text="Use field(default_factory=list) for mutable defaults.",
        section=("dataclasses", "Mutable default values"),
        anchor="mutable-default-values",
        start=10,
        end=62,
        token_count=9,
        hash="h1",
        page=None,
        source="library/dataclasses.html",
        uri="file:///docs/library/dataclasses.html",
        title="dataclasses",
    )
    return Answer(
        text=text,
        citations=(
            Citation(
                n=1,
                chunk_id=chunk.id,
                source=chunk.source,
                uri=chunk.anchored_uri,
                section=chunk.section_path,
                quote="Use field(default_factory=list)",
                verified=True,
                support=0.82,
            ),
        ),
        abstained=False,
        usage=Usage(input_tokens=812, output_tokens=40),
        cost_usd=0.0031,
        latency_ms=412.5,
        trace_id=f"trace-{n}",
        hits=(Hit(chunk=chunk, score=0.91, lexical=0.7, dense=0.8),),
    )


def request(
    question: str = "How do I give a dataclass field a default list?",
    *,
    generation: int = 1,
    config: str = CONFIG,
    principals: tuple[str, ...] | None = None,
    tenant: str | None = None,
    k: int | None = 5,
    corpus_id: str = "",
    filters: Filters | None = None,
) -> CacheRequest:
    return CacheRequest.build(
        question,
        generation=generation,
        config=config,
        filters=filters or Filters(principals=principals),
        tenant=tenant,
        k=k,
        corpus_id=corpus_id,
    )


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


class AnswerCacheConformance:
    @pytest.fixture
    def cache(self, make_cache: MakeCache) -> VectorAnswerCache:
        return make_cache()

    # -- exact entries --------------------------------------------------------------------

    def test_is_a_vector_answer_cache(self, cache: VectorAnswerCache) -> None:
        assert isinstance(cache, AnswerCache)
        assert isinstance(cache, VectorAnswerCache)

    def test_miss_then_hit_keeps_the_whole_answer(self, cache: VectorAnswerCache) -> None:
        assert cache.get(request()) is None
        answer = make_answer()
        cache.put(request(), answer)
        hit = cache.get(request())
        assert hit is not None
        assert hit.kind == "exact" and hit.similarity == 1.0
        assert hit.answer == answer  # citations, hits, usage, trace id: all of it
        assert hit.question == request().question
        assert len(cache) == 1

    def test_served_answer_is_a_new_request(self, cache: VectorAnswerCache) -> None:
        cache.put(request(), make_answer())
        hit = cache.get(request())
        assert hit is not None
        served = hit.served(trace_id="new-trace", latency_ms=1.5)
        assert served.trace_id == "new-trace" and served.latency_ms == 1.5
        assert served.usage == Usage() and served.cost_usd == 0.0
        assert served.citations == make_answer().citations
        assert hit.answer.trace_id == "trace-1"  # the original request, for the trace

    def test_normalised_question_hits(self, cache: VectorAnswerCache) -> None:
        cache.put(request("How do I give a dataclass field a default list?"), make_answer())
        for variant in (
            "how do i give a dataclass field a default list",
            "  HOW do I give a dataclass   field a default list??",
            "How do I give a “dataclass” field a default list?",
        ):
            assert cache.get(request(variant)) is not None, variant
        assert cache.get(request("How do I give a dataclass field a default dict?")) is None

    def test_put_replaces_the_entry(self, cache: VectorAnswerCache) -> None:
        cache.put(request(), make_answer("first"))
        cache.put(request("how do i give a dataclass field a default list"), make_answer("second"))
        hit = cache.get(request())
        assert hit is not None and hit.answer.text == "second"
        assert len(cache) == 1

    def test_clear(self, cache: VectorAnswerCache) -> None:
        cache.put(request(), make_answer())
        cache.clear()
        assert cache.get(request()) is None and len(cache) == 0

    # -- isolation: scope, corpus, configuration, options -----------------------------------

    def test_tenant_isolation_for_the_identical_question(self, cache: VectorAnswerCache) -> None:
        cache.put(request(tenant="acme", principals=("acme:staff",)), make_answer("acme secret"))
        assert cache.get(request(tenant="globex", principals=("acme:staff",))) is None
        assert cache.get(request(tenant="globex", principals=("globex:staff",))) is None
        assert cache.get(request(tenant=None, principals=None)) is None
        hit = cache.get(request(tenant="acme", principals=("acme:staff",)))
        assert hit is not None and hit.answer.text == "acme secret"

    def test_principals_are_a_scope(self, cache: VectorAnswerCache) -> None:
        cache.put(request(principals=("eng", "hr")), make_answer("eng and hr"))
        assert cache.get(request(principals=("eng",))) is None
        assert cache.get(request(principals=("eng", "hr", "legal"))) is None
        assert cache.get(request(principals=())) is None  # public documents only
        assert cache.get(request(principals=None)) is None  # no ACL check at all
        assert cache.get(request(principals=("hr", "eng", "hr"))) is not None  # same set

    def test_no_principals_and_no_acl_check_differ(self, cache: VectorAnswerCache) -> None:
        cache.put(request(principals=None), make_answer("sees everything"))
        assert cache.get(request(principals=())) is None

    def test_new_generation_invalidates(self, cache: VectorAnswerCache) -> None:
        cache.put(request(generation=7), make_answer("built from generation 7"))
        assert cache.get(request(generation=7)) is not None
        assert cache.get(request(generation=8)) is None
        cache.put(request(generation=8), make_answer("built from generation 8"))
        hit = cache.get(request(generation=8))
        assert hit is not None and hit.answer.text == "built from generation 8"

    def test_older_generations_are_swept_on_write(self, cache: VectorAnswerCache) -> None:
        cache.put(request("q1", generation=1), make_answer())
        cache.put(request("q2", generation=1), make_answer())
        cache.put(request("q3", generation=2), make_answer())
        assert len(cache) == 1
        assert cache.get(request("q1", generation=1)) is None

    def test_another_store_instance_never_matches(self, cache: VectorAnswerCache) -> None:
        cache.put(request(generation=3, corpus_id="store-a"), make_answer())
        assert cache.get(request(generation=3, corpus_id="store-b")) is None

    def test_config_isolation(self, cache: VectorAnswerCache) -> None:
        cache.put(request(config="hybrid-k5-extractive"), make_answer())
        assert cache.get(request(config="lexical-k5-extractive")) is None
        assert cache.get(request(config="hybrid-k5-extractive")) is not None

    def test_request_options_isolation(self, cache: VectorAnswerCache) -> None:
        cache.put(request(k=5), make_answer())
        assert cache.get(request(k=3)) is None
        docs_only = Filters(doc_types=("pdf",))
        assert cache.get(request(k=5, filters=docs_only)) is None
        cache.put(request(k=5, filters=Filters(tags=("b", "a"))), make_answer("tagged"))
        hit = cache.get(request(k=5, filters=Filters(tags=("a", "b"))))
        assert hit is not None and hit.answer.text == "tagged"

    # -- lifetime ---------------------------------------------------------------------------

    def test_ttl_expiry(self, make_cache: MakeCache) -> None:
        clock = Clock()
        cache = make_cache(ttl_s=60.0, clock=clock)
        cache.put(request(), make_answer())
        clock.advance(59.0)
        assert cache.get(request()) is not None
        clock.advance(1.0)
        assert cache.get(request()) is None

    def test_no_ttl_keeps_entries(self, make_cache: MakeCache) -> None:
        clock = Clock()
        cache = make_cache(ttl_s=None, clock=clock)
        cache.put(request(), make_answer())
        clock.advance(10 * 365 * 86_400)
        assert cache.get(request()) is not None

    def test_eviction_drops_the_least_recently_used(self, make_cache: MakeCache) -> None:
        clock = Clock()
        cache = make_cache(max_entries=3, clock=clock)
        for n in range(3):
            cache.put(request(f"question {n}"), make_answer(n=n))
            clock.advance(1.0)
        assert cache.get(request("question 0")) is not None  # now the most recently used
        clock.advance(1.0)
        cache.put(request("question 3"), make_answer(n=3))
        assert len(cache) == 3
        assert cache.get(request("question 1")) is None
        for n in (0, 2, 3):
            assert cache.get(request(f"question {n}")) is not None, n

    # -- similarity -------------------------------------------------------------------------

    def test_similar_ranks_within_the_partition(self, cache: VectorAnswerCache) -> None:
        cache.put(request("a"), make_answer("A"), vector=unit(1, 0, 0), model="m")
        cache.put(request("b"), make_answer("B"), vector=unit(1, 1, 0), model="m")
        cache.put(request("c"), make_answer("C"), vector=unit(0, 0, 1), model="m")
        found = cache.similar(request("q"), unit(1, 0.1, 0), model="m", min_similarity=0.5)
        assert [h.answer.text for h in found] == ["A", "B"]
        assert all(h.kind == "semantic" for h in found)
        assert found[0].similarity > found[1].similarity >= 0.5
        assert found[0].question == "a"
        assert cache.similar(request("q"), unit(1, 0, 0), model="m", min_similarity=0.5, limit=1)

    def test_similar_never_crosses_a_partition(self, cache: VectorAnswerCache) -> None:
        v = unit(1, 2, 3)
        cache.put(request("a", tenant="acme"), make_answer(), vector=v, model="m")
        for other in (
            request("q", tenant="globex"),
            request("q", tenant="acme", generation=2),
            request("q", tenant="acme", config="other"),
            request("q", tenant="acme", principals=("x",)),
            request("q", tenant="acme", k=9),
        ):
            assert cache.similar(other, v, model="m", min_similarity=0.0) == [], other
        assert cache.similar(request("q", tenant="acme"), v, model="m", min_similarity=0.99)

    def test_similar_needs_the_same_embedding_model(self, cache: VectorAnswerCache) -> None:
        v = unit(1, 2, 3)
        cache.put(request("a"), make_answer(), vector=v, model="model-a")
        cache.put(request("b"), make_answer(), vector=None)
        assert cache.similar(request("q"), v, model="model-b", min_similarity=0.0) == []
        assert len(cache.similar(request("q"), v, model="model-a", min_similarity=0.0)) == 1
        other_dim = unit(1, 2, 3, 4)
        assert cache.similar(request("q"), other_dim, model="model-a", min_similarity=0.0) == []

    def test_similar_skips_expired_entries(self, make_cache: MakeCache) -> None:
        clock = Clock()
        cache = make_cache(ttl_s=10.0, clock=clock)
        cache.put(request("a"), make_answer(), vector=unit(1, 0), model="m")
        clock.advance(10.0)
        assert cache.similar(request("q"), unit(1, 0), model="m", min_similarity=0.0) == []
