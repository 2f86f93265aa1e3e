"""What one app holds for its lifetime, built once at start-up (the lifespan).

The workspace (store, embedder, budget), the pipelines (one per retrieval mode, built on
first use and shared), the tracer and trace store, `server.db` (keys, jobs, feedback), the
metrics registry, the rate limiter and the thread limiter the pipeline runs under.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from anyio import CapacityLimiter

from cairn.answer.base import Answerer
from cairn.answer.extractive import ExtractiveAnswerer
from cairn.config import Settings
from cairn.conversation import ConversationStore
from cairn.pipeline import Pipeline
from cairn.server.auth import KeyCache
from cairn.server.catalog import DocumentCatalog
from cairn.server.evalruns import EvalRuns, EvalRunStore, PostgresEvalRunStore
from cairn.server.events import open_event_bus
from cairn.server.feedback import FeedbackStore
from cairn.server.jobs import IngestJobs
from cairn.server.llmhealth import LLMHealth
from cairn.server.metrics import Metrics, StageMetrics
from cairn.server.ratelimit import MEMORY_URL, RateLimiter, open_rate_limiter
from cairn.server.stores import open_server_stores, state_url
from cairn.store.base import LexicalIndexWarmup, Store
from cairn.trace import RecordingTracer, TraceStore, build_tracer
from cairn.workspace import Workspace

if TYPE_CHECKING:
    from cairn.budget.base import CostBudget

log = logging.getLogger("cairn.server")

PIPELINE_THREADS = 32
"""Pipeline calls at once. Extractive answers are CPU-bound (the query embedding and SQLite
release the GIL, so they use every core, but more threads than cores only queue); a
model-backed answer mostly waits on the provider's HTTP, so the limit is generous."""
STREAMS = 64
"""Streamed answers at once (each holds a thread for its whole length)."""


class AppState:
    def __init__(self, settings: Settings, *, metrics: Metrics | None = None) -> None:
        started = time.perf_counter()
        self.settings = settings
        self.ready = False
        self.metrics = metrics or Metrics()
        self.threads = CapacityLimiter(PIPELINE_THREADS)
        self.streams = CapacityLimiter(STREAMS)
        self.rate: RateLimiter = open_rate_limiter(
            settings.server.rate_limit_per_minute,
            settings.server.rate_limit_burst,
            url=settings.redis.url or MEMORY_URL,
        )
        self._pipelines: dict[str, Pipeline] = {}
        self._lock = threading.Lock()
        self._stack = ExitStack()  # closes in the reverse order of opening
        try:
            self._open(settings)
        except BaseException:
            self._stack.close()
            raise
        self.ready = True
        log.info("workspace %s ready in %.2f s", settings.workspace, time.perf_counter() - started)

    def _open(self, settings: Settings) -> None:
        self.workspace = Workspace(settings, create=True)
        self._stack.callback(self.workspace.close)
        stores = open_server_stores(settings.workspace, url=state_url(settings))
        self._stack.callback(stores.close)
        self.catalog = DocumentCatalog(self.workspace.store)
        self.llm = LLMHealth(settings, lambda: self.budget)
        self.tracer: RecordingTracer = build_tracer(
            settings, hooks=[StageMetrics(self.metrics), self.llm]
        )
        self._stack.callback(self.tracer.close)
        self.keys = KeyCache(stores.keys)
        self.feedback: FeedbackStore = stores.feedback
        self.conversations = ConversationStore.in_workspace(
            settings.workspace, url=state_url(settings)
        )
        self._stack.callback(self.conversations.close)
        self.events = open_event_bus(settings.redis.url or MEMORY_URL)
        self._stack.callback(self.events.close)
        self.jobs = IngestJobs(stores.jobs, self.workspace, self.metrics, events=self.events)
        self._stack.callback(self.jobs.close)
        shared = state_url(settings)
        eval_store: EvalRunStore | None = None
        if shared is not None:  # runs shared by replicas, in the store's database
            eval_store = PostgresEvalRunStore(shared)
            self._stack.callback(eval_store.close)
        self.evals = EvalRuns(
            settings.workspace / "evals" / "runs",
            self.pipeline,
            settings,
            self.workspace.store.generation,
            store=eval_store,
        )
        self._stack.callback(self.evals.wait, 5.0)  # a run still going then fails, logged
        self.metrics.watch_budget(lambda: self.budget)
        from cairn.budget.metrics import REGISTRY

        self.metrics.append(REGISTRY.render)
        self.warm_up()

    @property
    def store(self) -> Store:
        return self.workspace.store

    @property
    def budget(self) -> CostBudget:
        return self.workspace.budget

    @property
    def traces(self) -> TraceStore | None:
        return self.tracer.store

    @property
    def root(self) -> Path:
        return self.settings.workspace

    def pipeline(self, mode: str | None = None) -> Pipeline:
        """The shared pipeline for a retrieval mode (None: the configured default), with the
        workspace's answer cache (its keys hold the tenant and ACL filter)."""
        key = mode or self.settings.retrieve.mode
        with self._lock:
            pipeline = self._pipelines.get(key)
            if pipeline is None:
                pipeline = self.workspace.pipeline(key, cache=True)
                pipeline.tracer = self.tracer
                self._pipelines[key] = pipeline
            return pipeline

    def warm_up(self) -> None:
        """Load now what the first request would otherwise wait for: the embedding model
        and the vector index (in parallel: both are native code), the price table, then one
        pass of retrieval and of the local (extractive) answerer. The in-memory BM25 index
        builds in the background (FTS5 ranks the same until it is ready). No model is
        called, so a start costs nothing; with `server.check_llm_at_start` the endpoint is
        only asked for its model list (free), and its failure never stops the start."""
        pipeline = self.pipeline()
        if isinstance(self.store, LexicalIndexWarmup):
            self.store.keep_bm25_in_memory()
        if self.settings.server.check_llm_at_start:
            self.llm.check_endpoint()
        if not self.store.stats()["chunks"]:
            return
        embedder = self.workspace.embedder
        with ThreadPoolExecutor(2, thread_name_prefix="cairn-warm-up") as pool:
            model = pool.submit(embedder.warm_up)
            index = pool.submit(
                self.store.dense_search,
                np.zeros(embedder.dim, dtype=np.float32),
                1,
                model=embedder.name,
            )
            importlib.import_module("cairn.budget.price_table")  # the price map, loaded once
            model.result()
            index.result()
        hits = pipeline.retriever.retrieve("warm up", 3, None)
        local: Answerer | None = pipeline.fallback
        if isinstance(pipeline.answerer, ExtractiveAnswerer):
            local = pipeline.answerer  # the extractive answerer: local code, no model
        if hits and local is not None:  # a question its own chunk answers: every step runs
            question = hits[0].chunk.text[:300]
            local.answer(question, pipeline.retriever.retrieve(question, 3, None))

    def on_close(self, callback: Callable[[], object]) -> None:
        """Call `callback` when the app closes (before what was opened earlier)."""
        self._stack.callback(callback)

    def close(self) -> None:
        self.ready = False
        self._stack.close()
