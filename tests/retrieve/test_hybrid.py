from __future__ import annotations

from pathlib import Path

from cairn.config import RetrieveSettings
from cairn.embed.hashing import HashingEmbedder
from cairn.retrieve.hybrid import DenseRetriever, HybridRetriever, LexicalRetriever
from cairn.store.open import open_store_at


def test_hybrid_defaults_are_the_configured_defaults(tmp_path: Path) -> None:
    store = open_store_at(tmp_path / "cairn.db")
    try:
        hybrid = HybridRetriever(
            LexicalRetriever(store), DenseRetriever(store, HashingEmbedder(dim=8))
        )
        defaults = RetrieveSettings()
        assert (hybrid.fusion, hybrid.alpha, hybrid.candidates, hybrid.rrf_k) == (
            defaults.fusion,
            defaults.alpha,
            defaults.candidates,
            defaults.rrf_k,
        )
    finally:
        store.close()
