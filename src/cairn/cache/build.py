"""Building the workspace's answer cache from the `[cache]` settings; the backend is picked
by URL (`None`: `cache.db` in the workspace). A backend on another server adds a module
implementing `VectorAnswerCache`, a branch here, and runs `cairn.testing.cache`'s suite."""

from __future__ import annotations

from pathlib import Path

from cairn.cache.base import AnswerCache, VectorAnswerCache
from cairn.cache.memory import MemoryAnswerCache
from cairn.cache.semantic import DEFAULT_SEMANTIC_THRESHOLD, SemanticAnswerCache
from cairn.cache.sqlite import CACHE_FILE, SQLiteAnswerCache
from cairn.embed.base import Embedder
from cairn.errors import ConfigError
from cairn.sqlite import sqlite_url_path


def open_answer_cache(
    root: Path,
    *,
    exact: bool = True,
    semantic: bool = False,
    semantic_threshold: float = DEFAULT_SEMANTIC_THRESHOLD,
    ttl_s: float | None = 86_400.0,
    max_entries: int = 10_000,
    embedder: Embedder | None = None,
    url: str | None = None,
) -> AnswerCache | None:
    """The cache in `root/cache.db` (or where `url` says: `sqlite:///PATH`, `redis://...`
    shared by every replica, or `memory://` for this process only), or `None` when both
    kinds are off.

    `semantic` includes exact hits (an identical question is the most similar one), so
    `exact=False, semantic=True` behaves as both on. The semantic cache needs `embedder`.

        cache = open_answer_cache(workspace.root, embedder=workspace.embedder,
                                  **settings.cache.model_dump())
    """
    if not (exact or semantic):
        return None
    backend = _backend(root, url, ttl_s=ttl_s, max_entries=max_entries)
    if not semantic:
        return backend
    if embedder is None:
        backend.close()
        raise ConfigError(
            "cache.semantic needs an embedder: pass embedder=... or set cache.semantic = false"
        )
    return SemanticAnswerCache(backend, embedder, threshold=semantic_threshold)


def _backend(
    root: Path, url: str | None, *, ttl_s: float | None, max_entries: int
) -> VectorAnswerCache:
    if url == "memory://":
        return MemoryAnswerCache(ttl_s=ttl_s, max_entries=max_entries)
    from cairn.redisdb import is_redis_url

    if is_redis_url(url):
        from cairn.cache.redis import RedisAnswerCache

        return RedisAnswerCache(str(url), ttl_s=ttl_s, max_entries=max_entries)
    path = root / CACHE_FILE if not url else sqlite_url_path(url, root)
    if path is None:
        raise ConfigError(
            f"no answer-cache backend for {url!r}: use sqlite:///PATH, redis://..., "
            f"memory://, or leave it unset for {root / CACHE_FILE}"
        )
    return SQLiteAnswerCache(path, ttl_s=ttl_s, max_entries=max_entries)
