"""Model variants of MiniLM: the fp32 export and its int8 dynamic quantisation.

Each variant has its own file and its own embedder name, so vectors of two variants never
mix in one index: the store keys embeddings by that name, and ingest re-embeds documents
whose chunks have no vector for the workspace's current variant.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

Precision = Literal["fp32", "int8"]

MODEL_NAME = "all-MiniLM-L6-v2"
INT8_RECIPE = "int8pc"
"""The int8 recipe (QInt8, per-channel, matrix products only), part of the variant's file
and embedder name. Change it whenever `quantize_int8`'s defaults change: a model file or
stored vectors made by another recipe are then never used, but exported and re-embedded."""
FILES: dict[Precision, str] = {
    "fp32": f"{MODEL_NAME}.onnx",
    "int8": f"{MODEL_NAME}.{INT8_RECIPE}.onnx",
}
NAMES: dict[Precision, str] = {
    "fp32": MODEL_NAME,  # the name workspaces embedded before variants existed carry
    "int8": f"{MODEL_NAME}-{INT8_RECIPE}",
}


def partial_path(target: Path) -> Path:
    """A temporary file beside `target`, unique to this writer: two processes exporting at
    once never write into the same file (the finished one then replaces `target`)."""
    import tempfile

    fd, name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".partial")
    os.close(fd)
    return Path(name)


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

    partial = partial_path(target)
    try:
        quantize_dynamic(
            str(source),
            str(partial),
            weight_type=QuantType.QInt8 if signed else QuantType.QUInt8,
            per_channel=per_channel,
            op_types_to_quantize=list(ops) if ops else None,
            # fused graphs hold contrib ops whose output types shape inference cannot see
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return target
