"""The ONNX cross-encoder reranker, for a model the user supplies.

A cross-encoder reads the question and one passage together and scores how well the passage
answers it; the candidates are reordered by that score. No package on PyPI ships one (the
usual ones, such as the MS MARCO MiniLM cross-encoders, are published on a model hub that
cairn never downloads from), so the model is a folder you export yourself
(`rerank.model_path`):

- `model.onnx`: a sequence-classification graph with inputs `input_ids` and
  `attention_mask` (and `token_type_ids` when it has one), int64 `[batch, tokens]`, whose
  first output is the relevance logits `[batch]`, `[batch, 1]` (the score) or
  `[batch, 2]` (the second column is the score);
- `tokenizer.json`: its Hugging Face `tokenizers` file; each pair is encoded as
  `(question, passage)` and truncated to `max_tokens`.

For example, with `optimum` installed: `optimum-cli export onnx --model
cross-encoder/ms-marco-MiniLM-L-6-v2 --task text-classification DIR`.

Pairs are scored in batches of `batch_size`, sorted by length so a batch pads little; ties
keep the incoming order.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cairn.errors import ConfigError, ModelError
from cairn.rerank.base import Reordering, apply_order
from cairn.types import Hit

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


class CrossEncoderReranker:
    """`Reranker` scoring (question, passage) pairs with an ONNX cross-encoder."""

    def __init__(
        self,
        model_path: Path,
        *,
        max_tokens: int = 256,
        batch_size: int = 16,
        threads: int = 0,
    ) -> None:
        self.model_path = Path(model_path)
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.threads = threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tok: Any = None
        self._inputs: set[str] = set()
        missing = [f for f in (MODEL_FILE, TOKENIZER_FILE) if not (self.model_path / f).is_file()]
        if missing:
            raise ConfigError(
                f"rerank.model_path {self.model_path} lacks {' and '.join(missing)}: export a "
                "cross-encoder to ONNX there (model.onnx, tokenizer.json; see docs/rerank.md)"
            )

    def warm_up(self) -> None:
        """Load the session and the tokenizer (once)."""
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            options = ort.SessionOptions()
            options.log_severity_level = 3
            if self.threads:
                options.intra_op_num_threads = self.threads
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            path = self.model_path / MODEL_FILE
            try:
                session = ort.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"]
                )
                tok = Tokenizer.from_file(str(self.model_path / TOKENIZER_FILE))
            except Exception as exc:  # onnxruntime and tokenizers raise their own errors
                raise ModelError(
                    f"cannot load the cross-encoder in {self.model_path}: {exc}"
                ) from exc
            inputs = {i.name for i in session.get_inputs()}
            if not {"input_ids", "attention_mask"} <= inputs:
                raise ModelError(
                    f"{path} takes inputs {sorted(inputs)}; a cross-encoder needs input_ids "
                    "and attention_mask (export it as a text-classification model)"
                )
            tok.no_padding()
            tok.enable_truncation(self.max_tokens)
            self._tok, self._inputs, self._session = tok, inputs, session

    def scores(self, question: str, passages: Sequence[str]) -> npt.NDArray[np.float32]:
        """The model's score of each (question, passage) pair."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        self.warm_up()
        encs = self._tok.encode_batch([(question, p) for p in passages])
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        out = np.empty(len(encs), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._infer([encs[i] for i in idx])
        return out

    def rerank(self, question: str, hits: list[Hit]) -> list[Hit]:
        return self.reorder(question, hits).hits

    def reorder(self, question: str, hits: list[Hit]) -> Reordering:
        if len(hits) < 2:
            return Reordering(hits=hits)
        scores = self.scores(question, [h.chunk.text for h in hits])
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        return Reordering(
            hits=apply_order(hits, order), notes={"scores": [round(float(s), 4) for s in scores]}
        )

    def _infer(self, encs: Sequence[Any]) -> npt.NDArray[np.float32]:
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        types = np.zeros((len(encs), width), dtype=np.int64)
        for row, e in enumerate(encs):
            n = len(e.ids)
            ids[row, :n] = e.ids
            mask[row, :n] = 1
            types[row, :n] = e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = types
        logits = np.asarray(self._session.run(None, feed)[0], dtype=np.float32)
        if logits.ndim == 2:
            logits = logits[:, -1]
        return logits.reshape(len(encs))
