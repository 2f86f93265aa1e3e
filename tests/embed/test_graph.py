"""The torch-free export: the ONNX graph built from the package's weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cairn.embed import MiniLMEmbedder
from cairn.embed.graph import write_minilm_onnx
from cairn.embed.minilm import ONNX_FILE, minilm_model_dir
from cairn.errors import ModelError

pytestmark = pytest.mark.integration

TEXTS = [
    "How do I give a dataclass field a default list?",
    "x",
    "A longer passage about context managers and the with statement. " * 12,
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("graph")
    write_minilm_onnx(minilm_model_dir(), folder / ONNX_FILE)
    return folder


def test_export_is_atomic_and_leaves_only_the_model(exported: Path) -> None:
    assert sorted(p.name for p in exported.iterdir()) == [ONNX_FILE]


def test_matches_sentence_transformers(exported: Path) -> None:
    st = pytest.importorskip("sentence_transformers")
    embedder = MiniLMEmbedder(exported, precision="fp32", auto_export=False)
    reference = st.SentenceTransformer(str(minilm_model_dir()), device="cpu")
    reference.max_seq_length = embedder.max_tokens
    expected = reference.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(embedder.embed(TEXTS), expected, atol=1e-5)


def test_padding_does_not_change_a_text_s_vector(exported: Path) -> None:
    embedder = MiniLMEmbedder(exported, precision="fp32", auto_export=False)
    alone = np.vstack([embedder.embed([t]) for t in TEXTS])
    np.testing.assert_allclose(embedder.embed(TEXTS), alone, atol=1e-5)


def test_each_vector_is_the_model_run_on_that_text_alone(exported: Path) -> None:
    """Independent of the embedder's tokenizer set-up: tokenizer.json pads to a fixed
    length unless told not to, and a mask that covered those pads moved short texts'
    vectors by up to 0.43 while every vector still agreed with the batch."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    embedder = MiniLMEmbedder(exported, precision="fp32", auto_export=False)
    tokenizer = Tokenizer.from_file(str(minilm_model_dir() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(embedder.max_tokens)
    session = ort.InferenceSession(str(exported / ONNX_FILE), providers=["CPUExecutionProvider"])
    for text, vector in zip(TEXTS, embedder.embed(TEXTS), strict=True):
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        feeds["token_type_ids"] = np.zeros_like(ids)
        [expected] = session.run(None, feeds)[0]
        np.testing.assert_allclose(vector, expected, atol=1e-5)


def test_refuses_a_model_it_cannot_build(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "t5", "hidden_act": "relu"}')
    with pytest.raises(ModelError, match="only BERT with GELU"):
        write_minilm_onnx(tmp_path, tmp_path / ONNX_FILE)
