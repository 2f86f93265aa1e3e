"""The answer cache: reuse an answer for a request that would produce the same one.

    from cairn.cache import CacheRequest, config_fingerprint, open_answer_cache

    cache = open_answer_cache(workspace.root, embedder=workspace.embedder)   # cache.db
    request = CacheRequest.build(question, generation=store.generation(),
                                 config=config_fingerprint(settings),
                                 filters=filters, tenant=tenant, k=k)
    hit = cache.get(request)            # CacheHit | None
    if hit is None:
        answer = ...                    # retrieve, answer, verify
        cache.put(request, answer)

The key holds the normalised question, the caller's permission scope (tenant and
principals), the corpus generation and the configuration, so one tenant never receives an
answer built from another tenant's documents and re-ingesting retires every older answer.
The semantic cache (off by default) also reuses the answer of a rephrased question of the
same scope; see `cairn.cache.semantic` and docs/benchmarks.md ("Answer cache").
"""

from cairn.cache.base import AnswerCache, CacheHit, Vector, VectorAnswerCache
from cairn.cache.build import open_answer_cache
from cairn.cache.codec import CodecError, decode_answer, encode_answer
from cairn.cache.key import CacheRequest, config_fingerprint, normalise_question
from cairn.cache.memory import MemoryAnswerCache
from cairn.cache.semantic import DEFAULT_SEMANTIC_THRESHOLD, SemanticAnswerCache
from cairn.cache.signature import question_signature
from cairn.cache.sqlite import CACHE_FILE, SQLiteAnswerCache

__all__ = [
    "CACHE_FILE",
    "DEFAULT_SEMANTIC_THRESHOLD",
    "AnswerCache",
    "CacheHit",
    "CacheRequest",
    "CodecError",
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
