"""An in-memory BM25 index kept current in the background, for long-running processes.

Both stores keep one the same way (the SQLite store built from FTS5, the Postgres store from
its `postings` table): wanted once, it is built in a background thread, and built again
whenever a query finds the corpus generation moved past it (any writer's change); until then
the store's own ranking (FTS5, SQL) answers, with the same formula and statistics.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from cairn.store.bm25 import BM25Index

log = logging.getLogger(__name__)


class KeptIndex:
    """The newest `BM25Index` of one store's corpus, rebuilt in the background.

    `build(previous)` reads the corpus in one snapshot (it may reuse what the previous index
    holds); `generation()` is the store's current corpus generation. A build failing with one
    of `errors` is logged (the store's own ranking, `fallback`, goes on answering) and ends
    the thread; the next query that finds no current index starts another."""

    def __init__(
        self,
        build: Callable[[BM25Index | None], BM25Index],
        generation: Callable[[], int],
        *,
        errors: tuple[type[Exception], ...],
        fallback: str,
        name: str,
    ) -> None:
        self._build = build
        self._generation = generation
        self._errors = errors
        self._fallback = fallback
        self._name = name
        self._lock = threading.Lock()  # one thread starts a build
        self._thread: threading.Thread | None = None
        self._wanted = False
        self._closed = False
        self.index: BM25Index | None = None
        """The newest index built (maybe of an older generation)."""

    @property
    def wanted(self) -> bool:
        return self._wanted

    def keep(self, *, wait: bool = False) -> None:
        """Build now, and again after every change to the corpus; `wait` blocks until the
        first build ends."""
        self._wanted = True
        self._start()
        if wait:
            self.wait()

    def covers(self, generation: int) -> bool:
        index = self.index
        return index is not None and index.generation == generation

    def at(self, generation: int) -> BM25Index | None:
        """The index of corpus `generation`, or None (a build starts if one is wanted)."""
        index = self.index
        if index is not None and index.generation == generation:
            return index
        if self._wanted and not self._closed:
            self._start()
        return None

    def wait(self) -> None:
        """Until the build under way (if any) ends."""
        thread = self._thread
        if thread is not None:
            thread.join()

    def close(self) -> None:
        """No build starts after this (one under way runs to its end or its error)."""
        self._closed = True

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            try:
                index = self._build(self.index)
            except self._errors as exc:
                if not self._closed:  # (closing the store ends a build this way)
                    log.warning(
                        "in-memory BM25 index not built (%s); lexical search %s",
                        exc,
                        self._fallback,
                    )
                return
            self.index = index
            try:
                if self._generation() == index.generation:
                    return
            except self._errors:
                return
