"""Building the pieces of a workspace (store, embedder, retriever, answerer) from settings."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from cairn.config import Settings
from cairn.embed.minilm import MiniLMEmbedder
from cairn.pipeline import Pipeline
from cairn.store.sqlite import DB_FILE, SQLiteStore


class Workspace:
    """One workspace folder: `cairn.db` (SQLite) plus configuration. Components load lazily."""

    def __init__(self, settings: Settings, *, create: bool = False) -> None:
        self.settings = settings
        self.create = create

    @property
    def root(self) -> Path:
        return self.settings.workspace

    @property
    def db_path(self) -> Path:
        return self.root / DB_FILE

    @cached_property
    def store(self) -> SQLiteStore:
        return SQLiteStore(
            self.db_path,
            near_duplicate_bits=self.settings.ingest.near_duplicate_bits,
            create=self.create,
        )

    @cached_property
    def embedder(self) -> MiniLMEmbedder:
        e = self.settings.embed
        return MiniLMEmbedder(
            self.settings.model_dir,
            max_tokens=e.max_tokens,
            batch_size=e.batch_size,
            threads=e.threads,
        )

    def pipeline(self, mode: str | None = None) -> Pipeline:
        from cairn.answer.extractive import ExtractiveAnswerer
        from cairn.answer.verify import LexicalVerifier
        from cairn.retrieve.hybrid import build_retriever

        retriever = build_retriever(self.store, self.embedder, self.settings.retrieve, mode)
        answerer = ExtractiveAnswerer(self.store, self.embedder, self.settings.answer)
        return Pipeline(retriever, answerer, LexicalVerifier(), k=self.settings.retrieve.k)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
