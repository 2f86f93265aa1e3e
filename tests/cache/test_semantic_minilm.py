"""The semantic cache with the real model and the calibrated default threshold."""

from __future__ import annotations

import pytest

from cairn.cache import DEFAULT_SEMANTIC_THRESHOLD, MemoryAnswerCache, SemanticAnswerCache
from cairn.config import load_settings
from cairn.embed import MiniLMEmbedder
from cairn.testing.cache import make_answer, request

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder(load_settings().model_dir)


@pytest.fixture
def cache(embedder: MiniLMEmbedder) -> SemanticAnswerCache:
    return SemanticAnswerCache(MemoryAnswerCache(), embedder)


def test_default_threshold(cache: SemanticAnswerCache) -> None:
    assert cache.threshold == DEFAULT_SEMANTIC_THRESHOLD == 0.89


@pytest.mark.parametrize(
    "rephrased",
    [
        "Can you tell me how to give a dataclass field a default list?",
        "How can I give dataclass field default list",
        "how do you give a dataclass field a default list, please",
    ],
)
def test_rephrasings_hit(cache: SemanticAnswerCache, rephrased: str) -> None:
    cache.put(request("How do I give a dataclass field a default list?"), make_answer())
    hit = cache.get(request(rephrased))
    assert hit is not None and hit.kind == "semantic"
    assert hit.similarity >= DEFAULT_SEMANTIC_THRESHOLD


@pytest.mark.parametrize(
    ("cached", "asked"),
    [
        (
            "When did the movement that would become The United Methodist Church begin?",
            "Where did the movement that would become The United Methodist Church begin?",
        ),
        (
            "What is the name of one algorithm useful for testing the primality of large numbers?",
            "What is the name of another algorithm useful for testing the primality of large "
            "numbers?",
        ),
        (
            "How do I give a dataclass field a default list?",
            "How do I give a dataclass field a default dict?",
        ),
        ("Who did Tesla work for?", "Who worked for Tesla?"),
    ],
)
def test_near_misses_do_not_hit(cache: SemanticAnswerCache, cached: str, asked: str) -> None:
    cache.put(request(cached), make_answer())
    assert cache.get(request(asked)) is None


def test_tenants_never_share_with_the_real_model(cache: SemanticAnswerCache) -> None:
    cache.put(request("How do I rotate the API keys?", tenant="acme"), make_answer("acme"))
    assert cache.get(request("How do I rotate the API keys?", tenant="globex")) is None
    assert cache.get(request("how can I rotate API keys", tenant="globex")) is None
    hit = cache.get(request("how can I rotate API keys", tenant="acme"))
    assert hit is not None and hit.answer.text == "acme"
