"""The ONNX cross-encoder reranker (`cairn.rerank.cross_encoder`) with real ONNX models built
here: a small cross-encoder graph (question and passage token bags, their dot product) over
the shipped MiniLM tokenizer. The order must be the model's own, computed independently."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cairn.config import RerankSettings
from cairn.embed.minilm import minilm_model_dir
from cairn.errors import ConfigError, ModelError
from cairn.rerank import build_reranker
from cairn.rerank.cross_encoder import CrossEncoderReranker
from cairn.stages import Reranker
from cairn.testing.rerankers import CANDIDATES, QUESTION, RerankerConformance

onnx = pytest.importorskip("onnx", reason="the onnx package builds the test model (extra: export)")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

DIM = 64


def embedding_table(vocab: int) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(7)
    return (rng.standard_normal((vocab, DIM)) / np.sqrt(DIM)).astype(np.float32)


def build_model(folder: Path, *, token_types: bool = True) -> npt.NDArray[np.float32]:
    """A cross-encoder in `folder` (model.onnx + the MiniLM tokenizer.json); its weights.

    With token types: score = <sum of the question's token vectors, sum of the passage's>
    ([batch, 1]). Without: score = the sum of a weight per token ([batch])."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(minilm_model_dir() / "tokenizer.json", folder / "tokenizer.json")
    vocab = 30522
    table = embedding_table(vocab)
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["B", "T"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["B", "T"])
    inputs = [ids, mask]
    if token_types:
        types = helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, ["B", "T"])
        inputs.append(types)
        nodes = [
            helper.make_node("Gather", ["table", "input_ids"], ["emb"]),
            helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
            helper.make_node("Cast", ["token_type_ids"], ["typef"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["maskf", "typef"], ["pmask"]),
            helper.make_node("Sub", ["maskf", "pmask"], ["qmask"]),
            helper.make_node("Unsqueeze", ["pmask", "axis2"], ["pmask3"]),
            helper.make_node("Unsqueeze", ["qmask", "axis2"], ["qmask3"]),
            helper.make_node("Mul", ["emb", "pmask3"], ["pemb"]),
            helper.make_node("Mul", ["emb", "qmask3"], ["qemb"]),
            helper.make_node("ReduceSum", ["pemb", "axis1"], ["pbag"], keepdims=0),
            helper.make_node("ReduceSum", ["qemb", "axis1"], ["qbag"], keepdims=0),
            helper.make_node("Mul", ["pbag", "qbag"], ["prod"]),
            helper.make_node("ReduceSum", ["prod", "axis1"], ["logits"], keepdims=1),
        ]
        init = [numpy_helper.from_array(table, "table")]
        out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["B", 1])
    else:
        nodes = [
            helper.make_node("Gather", ["weights", "input_ids"], ["w"]),
            helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["w", "maskf"], ["wm"]),
            helper.make_node("ReduceSum", ["wm", "axis1"], ["logits"], keepdims=0),
        ]
        init = [numpy_helper.from_array(table[:, 0].copy(), "weights")]
        out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["B"])
    init += [
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
    ]
    graph = helper.make_graph(nodes, "tiny-cross-encoder", inputs, [out], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "model.onnx"))
    return table


def expected_scores(
    table: npt.NDArray[np.float32], question: str, passages: list[str], token_types: bool
) -> npt.NDArray[np.float64]:
    """The test model's scores, computed with numpy from the tokenizer's ids."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(minilm_model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    out = []
    for passage in passages:
        enc = tok.encode(question, passage)
        ids, types = np.array(enc.ids), np.array(enc.type_ids)
        if token_types:
            q = table[ids[types == 0]].astype(np.float64).sum(axis=0)
            p = table[ids[types == 1]].astype(np.float64).sum(axis=0)
            out.append(float(q @ p))
        else:
            out.append(float(table[ids, 0].astype(np.float64).sum()))
    return np.array(out)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cross-encoder")
    build_model(folder)
    return folder


class TestCrossEncoderReranker(RerankerConformance):
    @pytest.fixture
    def reranker(self, model_dir: Path) -> Reranker:
        return CrossEncoderReranker(model_dir, batch_size=2)


@pytest.mark.parametrize("token_types", [True, False])
@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_the_order_is_the_models(tmp_path: Path, token_types: bool, batch_size: int) -> None:
    table = build_model(tmp_path, token_types=token_types)
    reranker = CrossEncoderReranker(tmp_path, batch_size=batch_size)
    texts = [h.chunk.text for h in CANDIDATES]
    scores = reranker.scores(QUESTION, texts)
    want = expected_scores(table, QUESTION, texts, token_types)
    np.testing.assert_allclose(scores, want, rtol=1e-4, atol=1e-4)
    order = [CANDIDATES[i].chunk.id for i in np.argsort(-want, kind="stable")]
    assert [h.chunk.id for h in reranker.rerank(QUESTION, list(CANDIDATES))] == order
    assert order != [h.chunk.id for h in CANDIDATES]  # the model does reorder them


def test_the_passage_sharing_the_questions_words_ranks_first(model_dir: Path) -> None:
    reranker = CrossEncoderReranker(model_dir)
    reordering = reranker.reorder(QUESTION, list(CANDIDATES))
    assert reordering.hits[0].chunk.id == "c3"  # "To rotate the relay keys, ..."
    assert len(reordering.notes["scores"]) == len(CANDIDATES)  # type: ignore[arg-type]


def test_the_settings_build_it(model_dir: Path) -> None:
    reranker = build_reranker(RerankSettings(backend="cross-encoder", model_path=model_dir))
    assert isinstance(reranker, CrossEncoderReranker) and reranker.model_path == model_dir


def test_a_folder_without_the_model_files_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"lacks model\.onnx and tokenizer\.json"):
        CrossEncoderReranker(tmp_path)


def test_a_model_that_is_no_cross_encoder_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copy(minilm_model_dir() / "tokenizer.json", tmp_path / "tokenizer.json")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B"])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "model.onnx"))
    with pytest.raises(ModelError, match="needs input_ids and attention_mask"):
        CrossEncoderReranker(tmp_path).rerank(QUESTION, list(CANDIDATES))
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load the cross-encoder"):
        CrossEncoderReranker(tmp_path).rerank(QUESTION, list(CANDIDATES))
