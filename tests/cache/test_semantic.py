"""`SemanticAnswerCache` with the hashing test embedder, on both backends: rephrased
questions hit, but never across a tenant, a corpus generation or a configuration."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from cairn.cache import (
    AnswerCache,
    MemoryAnswerCache,
    SemanticAnswerCache,
    SQLiteAnswerCache,
    VectorAnswerCache,
)
from cairn.embed.base import Vectors
from cairn.embed.hashing import HashingEmbedder
from cairn.errors import ModelError
from cairn.testing.cache import make_answer, request

QUESTION = "How do I give a dataclass field a default list?"
REPHRASED = "Can you tell me how to give the dataclass field a default list, please?"


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorAnswerCache]:
    cache: VectorAnswerCache
    if request.param == "memory":
        cache = MemoryAnswerCache()
    else:
        cache = SQLiteAnswerCache(tmp_path / "cache.db")
    yield cache
    cache.close()


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(dim=256)


@pytest.fixture
def cache(backend: VectorAnswerCache, embedder: HashingEmbedder) -> SemanticAnswerCache:
    return SemanticAnswerCache(backend, embedder, threshold=0.5)


def test_is_an_answer_cache(cache: SemanticAnswerCache) -> None:
    assert isinstance(cache, AnswerCache)


def test_rephrased_question_hits(cache: SemanticAnswerCache) -> None:
    cache.put(request(QUESTION), make_answer())
    hit = cache.get(request(REPHRASED))
    assert hit is not None and hit.kind == "semantic"
    assert hit.question == QUESTION and 0.5 <= hit.similarity < 1.0
    assert hit.answer.citations == make_answer().citations


def test_exact_hits_do_not_embed(cache: SemanticAnswerCache, embedder: HashingEmbedder) -> None:
    cache.put(request(QUESTION), make_answer())
    embedder.calls.clear()
    hit = cache.get(request(QUESTION.upper()))
    assert hit is not None and hit.kind == "exact"
    assert embedder.calls == []


def test_tenant_isolation(cache: SemanticAnswerCache) -> None:
    cache.put(request(QUESTION, tenant="acme", principals=("acme",)), make_answer("acme only"))
    for question in (QUESTION, REPHRASED):
        assert cache.get(request(question, tenant="globex", principals=("globex",))) is None
        assert cache.get(request(question, tenant="globex", principals=("acme",))) is None
        assert cache.get(request(question, tenant="acme", principals=("acme", "x"))) is None
        assert cache.get(request(question)) is None
        hit = cache.get(request(question, tenant="acme", principals=("acme",)))
        assert hit is not None and hit.answer.text == "acme only"


def test_generation_invalidates(cache: SemanticAnswerCache) -> None:
    cache.put(request(QUESTION, generation=4), make_answer())
    assert cache.get(request(REPHRASED, generation=4)) is not None
    assert cache.get(request(REPHRASED, generation=5)) is None
    assert cache.get(request(QUESTION, generation=5)) is None


def test_config_isolation(cache: SemanticAnswerCache) -> None:
    cache.put(request(QUESTION, config="dense"), make_answer())
    assert cache.get(request(REPHRASED, config="lexical")) is None
    assert cache.get(request(REPHRASED, config="dense")) is not None


def test_similar_but_different_question_is_refused(cache: SemanticAnswerCache) -> None:
    """The hashing embedder scores these two very close (one word differs); the lexical
    signature tells them apart."""
    cache.put(request("When did the United Methodist movement begin?"), make_answer())
    near_miss = request("Where did the United Methodist movement begin?")
    assert cache.get(near_miss) is None
    candidates = cache.backend.similar(
        near_miss,
        cache.embedder.embed([near_miss.question])[0],
        model=cache.embedder.name,
        min_similarity=0.5,
    )
    assert candidates, "the embedding alone would have hit"


def test_threshold_is_enforced(backend: VectorAnswerCache, embedder: HashingEmbedder) -> None:
    strict = SemanticAnswerCache(backend, embedder, threshold=0.999)
    strict.put(request(QUESTION), make_answer())
    assert strict.get(request(REPHRASED)) is None
    with pytest.raises(ValueError, match="threshold"):
        SemanticAnswerCache(backend, embedder, threshold=1.5)


def test_best_candidate_with_the_same_signature_wins(cache: SemanticAnswerCache) -> None:
    cache.put(request("What is the default port of the server?"), make_answer("port"))
    cache.put(request("What is the default host of the server?"), make_answer("host"))
    hit = cache.get(request("what's the default port of the server"))
    assert hit is not None and hit.answer.text == "port"


def test_question_of_stop_words_only_never_hits_semantically(cache: SemanticAnswerCache) -> None:
    cache.put(request("Can you?"), make_answer())
    assert cache.get(request("Could you?")) is None
    assert cache.get(request("can you")) is not None  # exact


class BrokenEmbedder:
    name = "broken"
    dim = 8

    def embed(self, texts: Sequence[str]) -> Vectors:
        raise ModelError("no exported model: run 'cairn models export'")


def test_embedding_failure_degrades_to_exact(backend: VectorAnswerCache) -> None:
    cache = SemanticAnswerCache(backend, BrokenEmbedder())
    cache.put(request(QUESTION), make_answer())
    assert cache.get(request(QUESTION)) is not None
    assert cache.get(request(REPHRASED)) is None


def test_vectors_are_stored_with_the_model_name(
    backend: VectorAnswerCache, embedder: HashingEmbedder
) -> None:
    SemanticAnswerCache(backend, embedder).put(request(QUESTION), make_answer())
    vector = np.asarray(embedder.embed([QUESTION])[0])
    assert backend.similar(request("q"), vector, model="hashing-test", min_similarity=0.99)
    assert not backend.similar(request("q"), vector, model="other", min_similarity=0.0)
