"""Building the workspace's answer cache from the `[cache]` settings."""

from __future__ import annotations

from pathlib import Path

from cairn.cache.base import AnswerCache
from cairn.cache.semantic import DEFAULT_SEMANTIC_THRESHOLD, SemanticAnswerCache
from cairn.cache.sqlite import CACHE_FILE, SQLiteAnswerCache
from cairn.embed.base import Embedder
from cairn.errors import ConfigError


def open_answer_cache(
    root: Path,
    *,
    exact: bool = True,
    semantic: bool = False,
    semantic_threshold: float = DEFAULT_SEMANTIC_THRESHOLD,
    ttl_s: float | None = 86_400.0,
    max_entries: int = 10_000,
    embedder: Embedder | None = None,
) -> AnswerCache | None:
    """The cache in `root/cache.db`, or `None` when both kinds are off.

    `semantic` includes exact hits (an identical question is the most similar one), so
    `exact=False, semantic=True` behaves as both on. The semantic cache needs `embedder`.

        cache = open_answer_cache(workspace.root, embedder=workspace.embedder,
                                  **settings.cache.model_dump())
    """
    if not (exact or semantic):
        return None
    backend = SQLiteAnswerCache(root / CACHE_FILE, ttl_s=ttl_s, max_entries=max_entries)
    if not semantic:
        return backend
    if embedder is None:
        backend.close()
        raise ConfigError(
            "cache.semantic needs an embedder: pass embedder=... or set cache.semantic = false"
        )
    return SemanticAnswerCache(backend, embedder, threshold=semantic_threshold)
