"""`open_answer_cache` and the package's public surface."""

from __future__ import annotations

from pathlib import Path

import pytest

import cairn.cache
from cairn.cache import (
    MemoryAnswerCache,
    SemanticAnswerCache,
    SQLiteAnswerCache,
    open_answer_cache,
)
from cairn.embed.hashing import HashingEmbedder
from cairn.errors import ConfigError


def test_off(tmp_path: Path) -> None:
    assert open_answer_cache(tmp_path, exact=False, semantic=False) is None
    assert not (tmp_path / "cache.db").exists()


def test_exact_by_default(tmp_path: Path) -> None:
    cache = open_answer_cache(tmp_path, ttl_s=5.0, max_entries=7)
    assert isinstance(cache, SQLiteAnswerCache)
    assert (cache.path, cache.ttl_s, cache.max_entries) == (tmp_path / "cache.db", 5.0, 7)
    cache.close()


def test_semantic(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    cache = open_answer_cache(
        tmp_path, exact=False, semantic=True, semantic_threshold=0.8, embedder=embedder
    )
    assert isinstance(cache, SemanticAnswerCache)
    assert cache.threshold == 0.8 and cache.embedder is embedder
    cache.close()


def test_backend_by_url(tmp_path: Path) -> None:
    elsewhere = tmp_path / "other" / "answers.db"
    cache = open_answer_cache(tmp_path, url=f"sqlite:///{elsewhere}")
    assert isinstance(cache, SQLiteAnswerCache) and cache.path == elsewhere
    cache.close()
    memory = open_answer_cache(tmp_path, url="memory://", max_entries=3)
    assert isinstance(memory, MemoryAnswerCache) and memory.max_entries == 3
    assert not (tmp_path / "cache.db").exists()
    with pytest.raises(ConfigError, match="sqlite:///PATH"):
        open_answer_cache(tmp_path, url="postgresql://localhost/cache")


def test_semantic_needs_an_embedder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cache\.semantic"):
        open_answer_cache(tmp_path, semantic=True)


def test_public_names() -> None:
    assert sorted(cairn.cache.__all__) == [
        "AnswerCache",
        "CACHE_FILE",
        "CacheHit",
        "CacheRequest",
        "CodecError",
        "DEFAULT_SEMANTIC_THRESHOLD",
        "MemoryAnswerCache",
        "SQLiteAnswerCache",
        "SemanticAnswerCache",
        "Vector",
        "VectorAnswerCache",
        "config_fingerprint",
        "decode_answer",
        "encode_answer",
        "normalise_question",
        "open_answer_cache",
        "question_signature",
    ]
    for name in cairn.cache.__all__:
        assert hasattr(cairn.cache, name), name
