"""The ONNX MiniLM backend: same vectors as sentence-transformers, batching, truncation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cairn.config import load_settings
from cairn.embed import Embedder, MiniLMEmbedder
from cairn.errors import ModelError

pytestmark = pytest.mark.integration

TEXTS = [
    "How do I give a dataclass field a default list?",
    "asyncio.gather runs awaitables concurrently.",
    "x",
    "A much longer passage about context managers, the with statement, __enter__ and "
    "__exit__, and how exceptions raised inside the block are passed to __exit__. " * 3,
]


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder(load_settings().model_dir)


def test_is_an_embedder(embedder: MiniLMEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.dim == 384


def test_vectors_are_normalised_and_order_independent(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    reversed_ = embedder.embed(TEXTS[::-1])[::-1]
    np.testing.assert_allclose(vectors, reversed_, atol=1e-5)
    single = embedder.embed([TEXTS[1]])[0]
    np.testing.assert_allclose(vectors[1], single, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_semantics(embedder: MiniLMEmbedder) -> None:
    q, good, bad = embedder.embed(
        [
            "mutable default value in a dataclass",
            "Use default_factory=list for list fields.",
            "The weather in Paris is mild in spring.",
        ]
    )
    assert float(q @ good) > float(q @ bad) + 0.2


def test_matches_sentence_transformers(embedder: MiniLMEmbedder) -> None:
    st = pytest.importorskip("sentence_transformers")
    from cairn.embed.minilm import minilm_model_dir

    reference = st.SentenceTransformer(str(minilm_model_dir()), device="cpu")
    reference.max_seq_length = embedder.max_tokens
    expected = reference.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(embedder.embed(TEXTS), expected, atol=1e-5)


def test_truncates_at_max_tokens(tmp_path: Path) -> None:
    short = MiniLMEmbedder(load_settings().model_dir, max_tokens=16)
    base = "the same words again and again " * 6
    a, b = short.embed([base + "completely different ending one", base + "other tail text two"])
    np.testing.assert_allclose(a, b, atol=1e-6)  # both cut before their endings differ


def test_missing_export_without_auto_export_is_a_clear_error(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder(tmp_path, auto_export=False)
    with pytest.raises(ModelError, match="cairn models export"):
        embedder.embed(["x", "y"])


def test_tokenizer_counts_without_truncation(embedder: MiniLMEmbedder) -> None:
    long = "word " * 1000
    assert embedder.tokenizer.count(long) == 1000
    assert embedder.tokenizer.counts(["a b", "c"]) == [2, 1]
