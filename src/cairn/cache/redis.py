"""`RedisAnswerCache`: the answer cache in Redis, shared by every replica.

Layout under `prefix` (default `cairn:cache:`):

- `e:<key>`: a hash per entry: partition, corpus id, generation, question, the answer (the
  codec's JSON), the question's embedding (float32 bytes) and its model, stored and expiry
  times;
- `p:<partition>`: the keys of a partition, so a semantic lookup reads only its own entries;
- `lru`: a sorted set of every key by last use, for the `max_entries` bound;
- `latest`: the newest corpus id and generation written, so a new generation sweeps the old
  ones (they can never be read again).

Times come from `clock` (wall time by default), so expiry and recency follow one clock in
tests and in production alike; entries with a TTL also get a Redis expiry a little past it,
so a cache nobody sweeps still empties. Semantic lookups compare the partition's vectors in
this process (numpy): Debian's Redis has no vector index, and a partition holds at most
`max_entries` questions.

The cache is disposable, so it never fails a request: a Redis error logs a warning and
reads as a miss or skips the write; an entry that does not decode is deleted and missed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from cairn.cache.base import CacheHit, Vector
from cairn.cache.codec import CodecError, decode_answer, encode_answer
from cairn.cache.key import CacheRequest
from cairn.redisdb import connect
from cairn.types import Answer

if TYPE_CHECKING:
    import redis

log = logging.getLogger("cairn.cache")

EXPIRY_SLACK_S = 60
"""How long past its TTL Redis keeps an entry (the clock check decides before that)."""


class RedisAnswerCache:
    """`VectorAnswerCache` in Redis."""

    def __init__(
        self,
        client: redis.Redis | str,
        *,
        ttl_s: float | None = None,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
        prefix: str = "cairn:cache:",
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        # Any: redis-py's replies are typed as unions of every reply shape; this module
        # knows which command answers what (bytes, since responses are not decoded).
        self.client: Any = connect(client) if isinstance(client, str) else client
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self.prefix = prefix

    # -- the protocol ------------------------------------------------------------------------

    def get(self, request: CacheRequest) -> CacheHit | None:
        key = request.key
        try:
            fields = self._fields(key)
            if fields is None or fields.get("partition") != request.partition:
                return None
            if self._expired(fields):
                self._remove([key])
                return None
            answer = decode_answer(fields["answer"])
            self.client.zadd(self._k("lru"), {key: self.clock()}, xx=True)
        except CodecError:
            self._remove([key])
            return None
        except Exception as exc:  # the cache never fails a request
            log.warning("answer cache: Redis read failed (%s); treating it as a miss", exc)
            return None
        return CacheHit(
            answer=answer,
            kind="exact",
            question=fields["question"],
            stored_at=float(fields["stored_at"]),
        )

    def put(
        self,
        request: CacheRequest,
        answer: Answer,
        *,
        vector: Vector | None = None,
        model: str = "",
    ) -> None:
        now = self.clock()
        key = request.key
        entry: dict[str, Any] = {
            "partition": request.partition,
            "corpus_id": request.corpus_id,
            "generation": request.generation,
            "question": request.question,
            "answer": encode_answer(answer),
            "stored_at": repr(now),
            "expires_at": "" if self.ttl_s is None else repr(now + self.ttl_s),
            "model": model if vector is not None else "",
            "vector": b"" if vector is None else _unit(vector).tobytes(),
        }
        try:
            self._sweep_generations(request.corpus_id, request.generation)
            old = self.client.hget(self._k(f"e:{key}"), "partition")
            pipe = self.client.pipeline(transaction=True)
            if old is not None and old.decode() != request.partition:
                pipe.srem(self._k(f"p:{old.decode()}"), key)
            pipe.delete(self._k(f"e:{key}"))
            pipe.hset(self._k(f"e:{key}"), mapping=entry)
            if self.ttl_s is not None:
                pipe.expire(self._k(f"e:{key}"), int(self.ttl_s) + EXPIRY_SLACK_S)
            pipe.sadd(self._k(f"p:{request.partition}"), key)
            pipe.zadd(self._k("lru"), {key: now})
            pipe.execute()
            self._evict()
        except Exception as exc:
            log.warning("answer cache: Redis write failed (%s); the answer is not cached", exc)

    def similar(
        self,
        request: CacheRequest,
        vector: Vector,
        *,
        model: str,
        min_similarity: float,
        limit: int = 5,
    ) -> list[CacheHit]:
        query = _unit(vector)
        try:
            keys = [k.decode() for k in self.client.smembers(self._k(f"p:{request.partition}"))]
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(self._k(f"e:{key}"), ["model", "vector", "expires_at", "partition"])
            rows = pipe.execute()
        except Exception as exc:
            log.warning("answer cache: Redis read failed (%s); treating it as a miss", exc)
            return []
        scored: list[tuple[float, str]] = []
        gone: list[str] = []
        for key, (m, blob, expires, partition) in zip(keys, rows, strict=True):
            if m is None:  # expired by Redis or evicted: tidy the partition set
                gone.append(key)
                continue
            if m.decode() != model or not blob or partition.decode() != request.partition:
                continue
            if expires and float(expires) <= self.clock():
                continue
            stored = np.frombuffer(blob, dtype=np.float32)
            if stored.shape != query.shape:
                continue
            score = float(np.dot(stored, query))
            if score >= min_similarity:
                scored.append((score, key))
        if gone:
            self._forget(request.partition, gone)
        scored.sort(key=lambda pair: pair[0], reverse=True)
        hits: list[CacheHit] = []
        for score, key in scored[:limit]:
            fields = self._fields(key)
            if fields is None:
                continue
            try:
                answer = decode_answer(fields["answer"])
            except CodecError:
                self._remove([key])
                continue
            hits.append(
                CacheHit(
                    answer=answer,
                    kind="semantic",
                    question=fields["question"],
                    similarity=score,
                    stored_at=float(fields["stored_at"]),
                )
            )
        return hits

    def clear(self) -> None:
        keys = list(self.client.scan_iter(match=self.prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            self.client.delete(*keys[start : start + 1000])

    def __len__(self) -> int:
        return int(self.client.zcard(self._k("lru")))

    def close(self) -> None:
        self.client.close()

    # -- helpers -----------------------------------------------------------------------------

    def _k(self, name: str) -> str:
        return self.prefix + name

    def _fields(self, key: str) -> dict[str, Any] | None:
        raw = self.client.hgetall(self._k(f"e:{key}"))
        if not raw:
            return None
        out: dict[str, Any] = {}
        for name, value in raw.items():
            field = name.decode()
            out[field] = value if field == "vector" else value.decode()
        return out

    def _expired(self, fields: dict[str, Any]) -> bool:
        expires = str(fields.get("expires_at") or "")
        return bool(expires) and float(expires) <= self.clock()

    def _remove(self, keys: list[str]) -> None:
        if not keys:
            return
        partitions = self.client.pipeline(transaction=False)
        for key in keys:
            partitions.hget(self._k(f"e:{key}"), "partition")
        found = partitions.execute()
        pipe = self.client.pipeline(transaction=True)
        for key, partition in zip(keys, found, strict=True):
            if partition is not None:
                pipe.srem(self._k(f"p:{partition.decode()}"), key)
            pipe.delete(self._k(f"e:{key}"))
            pipe.zrem(self._k("lru"), key)
        pipe.execute()

    def _forget(self, partition: str, keys: list[str]) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.srem(self._k(f"p:{partition}"), *keys)
        pipe.zrem(self._k("lru"), *keys)
        pipe.execute()

    def _evict(self) -> None:
        """Drop the least recently used entries beyond `max_entries`."""
        excess = int(self.client.zcard(self._k("lru"))) - self.max_entries
        if excess > 0:
            oldest = [k.decode() for k in self.client.zrange(self._k("lru"), 0, excess - 1)]
            self._remove(oldest)

    def _sweep_generations(self, corpus_id: str, generation: int) -> None:
        """A write for a newer corpus generation (or another corpus) drops every entry of
        the others: they can never be read again."""
        latest = self.client.get(self._k("latest"))
        if latest is not None:
            seen_corpus, seen_generation = json.loads(latest)
            if seen_corpus == corpus_id and seen_generation >= generation:
                return
        self.client.set(self._k("latest"), json.dumps([corpus_id, generation]))
        if latest is None:
            return
        keys = [k.decode() for k in self.client.zrange(self._k("lru"), 0, -1)]
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(self._k(f"e:{key}"), ["corpus_id", "generation"])
        stale = [
            key
            for key, (c, g) in zip(keys, pipe.execute(), strict=True)
            if c is None or c.decode() != corpus_id or int(g) < generation
        ]
        self._remove(stale)


def _unit(vector: Vector) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v
