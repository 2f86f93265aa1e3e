"""Model variants of MiniLM: the fp32 export and its int8 dynamic quantisation.

Each variant has its own file and its own embedder name, so vectors of two variants never
mix in one index: the store keys embeddings by that name, and ingest re-embeds documents
whose chunks have no vector for the workspace's current variant.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

Precision = Literal["fp32", "int8"]

MODEL_NAME = "all-MiniLM-L6-v2"
FILES: dict[Precision, str] = {
    "fp32": f"{MODEL_NAME}.onnx",
    "int8": f"{MODEL_NAME}.int8.onnx",
}
NAMES: dict[Precision, str] = {
    "fp32": MODEL_NAME,  # the name workspaces embedded before variants existed carry
    "int8": f"{MODEL_NAME}-int8",
}


def quantize_int8(
    source: Path,
    target: Path,
    *,
    signed: bool = True,
    per_channel: bool = True,
    ops: Sequence[str] | None = ("MatMul",),
) -> Path:
    """Write the int8 dynamic quantisation of `source` to `target` atomically; return it.

    Per-channel weight scales and only the matrix products by default: per-tensor scales
    move the vectors far from fp32 (mean cosine 0.93 against 0.994 per-channel), and
    quantising the embedding lookup (`Gather`) gains no speed (bench/embed_levers.py)."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = target.with_name(target.name + ".partial")
    quantize_dynamic(
        str(source),
        str(partial),
        weight_type=QuantType.QInt8 if signed else QuantType.QUInt8,
        per_channel=per_channel,
        op_types_to_quantize=list(ops) if ops else None,
        # fused graphs hold contrib ops whose output types shape inference cannot see
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )
    partial.replace(target)
    return target
