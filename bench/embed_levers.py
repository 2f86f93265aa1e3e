"""The levers on ingest speed, measured against the fp32 baseline in one run.

On a fixed sample of real chunk texts from the demo corpus (every `--stride`-th HTML page of
the Python docs, chunked with cairn's own chunker and MiniLM tokenizer), each variant embeds
the same texts and reports throughput relative to the baseline (fp32, batches sorted by
characters, batch 32, as ingest ran before), plus the agreement of its vectors with the
baseline: mean cosine and top-10 neighbour overlap within the sample. Neighbour overlap is a
quick signal only: quantisation is judged by retrieval metrics (`bench/retrieval.py
--precision int8`) and the golden evaluation gate.

Variants: transformer fusion (onnxruntime.transformers optimizer), int8 dynamic quantisation
(QInt8 / QUInt8, per-tensor / per-channel, MatMul only / all ops, of the plain and the fused
graph), token-count bucketing instead of characters, thread spinning, batch sizes, intra-op
threads. Timing is interleaved (every variant embeds each slice in turn), so ratios hold on a
busy machine. Also prints the chunk
token-count distribution of the sample (are near-empty chunks common?).

    .venv/bin/python bench/embed_levers.py [--corpus /usr/share/doc/python3.11/html]
        [--stride 4] [--n 800] [--slice 50] [--json-out bench/results/embed_levers.json]
"""

from __future__ import annotations

import argparse
import atexit
import json
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from cairn.config import DEFAULT_EXCLUDES, ChunkSettings, load_settings
from cairn.embed.minilm import ONNX_FILE, MiniLMTokenizer, minilm_model_dir
from cairn.embed.variants import quantize_int8
from cairn.ingest.chunking import chunk_document, embedding_text
from cairn.ingest.discover import discover
from cairn.ingest.readers import SUPPORTED_SUFFIXES, read_document


def sample_texts(corpus: Path, stride: int, n: int) -> tuple[list[str], list[int]]:
    """Embedding inputs of every `stride`-th page, then `n` of them spread evenly."""
    tok = MiniLMTokenizer(minilm_model_dir())
    files = list(discover([corpus], suffixes=SUPPORTED_SUFFIXES, excludes=DEFAULT_EXCLUDES))
    inputs: list[str] = []
    counts: list[int] = []
    for file in files[::stride]:
        parsed = read_document(file.path, file.path.read_bytes())
        if not parsed.blocks:
            continue
        _, drafts = chunk_document(parsed, tok, ChunkSettings())
        inputs += [embedding_text(parsed.title, d.section, d.text) for d in drafts]
        counts += [d.token_count for d in drafts]
    step = max(1, len(inputs) // n)
    return inputs[::step][:n], counts


class Runner:
    """One onnxruntime session with a batching policy."""

    def __init__(
        self, model: Path, *, batch: int, by_tokens: bool, threads: int, spin: bool = True
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        if not spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(str(minilm_model_dir() / "tokenizer.json"))
        self.tok.no_padding()  # tokenizer.json pads to 128; batches are padded below
        self.tok.enable_truncation(256)
        self.batch = batch
        self.by_tokens = by_tokens

    def embed(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        encs = self.tok.encode_batch(list(texts))
        if self.by_tokens:
            order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        else:
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), self.batch):
            idx = order[start : start + self.batch]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : len(encs[i].ids)] = encs[i].ids
                mask[row, : len(encs[i].ids)] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[idx] = self.session.run(None, feed)[0]
        return out


def fuse(source: Path, target: Path) -> Path:
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(str(source), model_type="bert", num_heads=12, hidden_size=384)
    model.save_model_to_file(str(target))
    return target


def overlap(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any], k: int = 10) -> float:
    ta = np.argsort(-(a @ a.T), axis=1)[:, 1 : k + 1]
    tb = np.argsort(-(b @ b.T), axis=1)[:, 1 : k + 1]
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(ta, tb, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("/usr/share/doc/python3.11/html"))
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--n", type=int, default=800)
    parser.add_argument("--slice", type=int, default=50, help="texts per interleaved round")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    console = Console()

    texts, counts = sample_texts(args.corpus, args.stride, args.n)
    c = np.array(counts)
    console.print(
        f"sample: {len(texts)} texts from {len(counts)} chunks; chunk tokens p5/p25/p50/p95 = "
        f"{np.percentile(c, [5, 25, 50, 95]).round().tolist()}, under 32 tokens: "
        f"{(c < 32).mean():.1%}, under 64: {(c < 64).mean():.1%}"
    )
    fp32 = load_settings().model_dir / ONNX_FILE
    tmp = Path(tempfile.mkdtemp(prefix="cairn-levers-"))
    atexit.register(shutil.rmtree, tmp, True)  # ~400 MB of model variants
    fused = fuse(fp32, tmp / "fused.onnx")
    models = {
        "fp32": fp32,
        "fp32 fused": fused,
        "int8 QInt8 per-tensor": quantize_int8(fp32, tmp / "q8.onnx", per_channel=False),
        "int8 QUInt8 per-channel": quantize_int8(fp32, tmp / "qu8.onnx", signed=False),
        "int8 QInt8 per-channel": quantize_int8(fp32, tmp / "q8pc.onnx"),
        "int8 QInt8 per-channel, all ops": quantize_int8(fp32, tmp / "q8pca.onnx", ops=None),
        "int8 QInt8 per-channel of fused": quantize_int8(fused, tmp / "q8f.onnx"),
    }
    pc = models["int8 QInt8 per-channel"]
    Setup = tuple[str, Path, int, bool, int, bool]
    setups: list[Setup] = [(name, path, 32, False, 0, True) for name, path in models.items()]
    setups += [
        ("fp32, token buckets", fp32, 32, True, 0, True),
        ("int8 pc, token buckets", pc, 32, True, 0, True),
        ("int8 pc, token buckets, no spinning", pc, 32, True, 0, False),
        ("int8 pc, token buckets, no spinning, batch 8", pc, 8, True, 0, False),
        ("int8 pc, token buckets, no spinning, batch 16", pc, 16, True, 0, False),
        ("int8 pc, token buckets, no spinning, batch 128", pc, 128, True, 0, False),
        ("int8 pc, token buckets, 1 thread", pc, 32, True, 1, True),
    ]
    runners = [
        Runner(path, batch=batch, by_tokens=by_tokens, threads=threads, spin=spin)
        for _, path, batch, by_tokens, threads, spin in setups
    ]
    timer: Callable[[], float] = time.perf_counter
    seconds = [0.0] * len(runners)
    parts: list[list[np.ndarray[Any, Any]]] = [[] for _ in runners]
    for runner in runners:
        runner.embed(texts[:16])  # warm-up
    # Interleaved slices: every variant embeds slice i before any embeds slice i+1, so a
    # change in the machine's load during the run hits all variants alike.
    for start in range(0, len(texts), args.slice):
        part = texts[start : start + args.slice]
        for i, runner in enumerate(runners):
            t0 = timer()
            parts[i].append(runner.embed(part))
            seconds[i] += timer() - t0
    base_vec = np.vstack(parts[0])
    rows: list[dict[str, Any]] = []
    for (name, path, *_), secs, vec_parts in zip(setups, seconds, parts, strict=True):
        vectors = np.vstack(vec_parts)
        rows.append(
            {
                "variant": name,
                "texts_per_s": round(len(texts) / secs, 1),
                "speedup": round(seconds[0] / secs, 2),
                "mean_cosine": round(float(np.mean(np.sum(vectors * base_vec, axis=1))), 4),
                "top10_overlap": round(overlap(vectors, base_vec), 3),
                "size_mb": round(path.stat().st_size / 1e6, 1),
            }
        )
    table = Table(title=f"embedding levers, {len(texts)} real chunk texts")
    for key in rows[0]:
        table.add_column(key)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    if args.json_out:
        args.json_out.write_text(
            json.dumps(
                {
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "machine": platform.processor() or platform.machine(),
                    "texts": len(texts),
                    "rows": rows,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
