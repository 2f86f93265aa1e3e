"""Embedding backends compared in one run: sentence-transformers (torch) vs onnxruntime fp32
(cairn's default) vs onnxruntime int8 (dynamic quantisation).

Reports start-up time (import + load, in a fresh subprocess), throughput on real chunk texts
of a workspace, the largest difference to the torch vectors, and top-10 neighbour overlap
with the torch vectors over the workspace's chunks (1.0 = identical neighbours).

    .venv/bin/python bench/embed_backends.py --workspace bench/.cache/pydocs-ingest [--n 512]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import numpy as np

from cairn.config import load_settings
from cairn.embed.minilm import MiniLMEmbedder, minilm_model_dir

STARTUP = {
    "torch (sentence-transformers)": (
        "from sentence_transformers import SentenceTransformer;"
        "m = SentenceTransformer({model!r}, device='cpu'); m.encode(['hello'])"
    ),
    "onnxruntime fp32": (
        "from pathlib import Path; from cairn.embed.minilm import MiniLMEmbedder;"
        "MiniLMEmbedder(Path({onnx_dir!r})).embed(['hello'])"
    ),
}


def startup_seconds(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def sample_texts(workspace: Path, n: int) -> list[str]:
    with closing(sqlite3.connect(workspace / "cairn.db")) as db:
        rows = db.execute(
            "SELECT text FROM chunks WHERE dup_of IS NULL ORDER BY hash LIMIT ?", (n,)
        ).fetchall()
    return [r[0] for r in rows]


def overlap_at_10(reference: np.ndarray, other: np.ndarray) -> float:
    ref = np.argsort(-(reference @ reference.T), axis=1)[:, 1:11]
    oth = np.argsort(-(other @ other.T), axis=1)[:, 1:11]
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ref, oth, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("bench/.cache/pydocs-ingest"))
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--json-out", type=Path, default=Path("bench/results/embed.json"))
    args = parser.parse_args()
    texts = sample_texts(args.workspace, args.n)
    settings = load_settings()
    results: dict[str, dict[str, float]] = {}

    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(minilm_model_dir()), device="cpu")
    st.max_seq_length = 256
    st.encode(texts[:8])
    t0 = time.perf_counter()
    reference = st.encode(texts, batch_size=32, normalize_embeddings=True)
    results["torch (sentence-transformers)"] = {
        "texts_per_s": len(texts) / (time.perf_counter() - t0)
    }

    fp32 = MiniLMEmbedder(settings.model_dir)
    fp32.embed(texts[:8])
    t0 = time.perf_counter()
    v32 = fp32.embed(texts)
    results["onnxruntime fp32"] = {"texts_per_s": len(texts) / (time.perf_counter() - t0)}
    results["onnxruntime fp32"]["max_abs_diff"] = float(np.abs(v32 - reference).max())
    results["onnxruntime fp32"]["neighbour_overlap@10"] = overlap_at_10(reference, v32)

    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        int8_dir = Path(tmp)
        quantize_dynamic(
            str(fp32.onnx_path), str(int8_dir / fp32.onnx_path.name), weight_type=QuantType.QInt8
        )
        int8 = MiniLMEmbedder(int8_dir, auto_export=False)
        int8.embed(texts[:8])
        t0 = time.perf_counter()
        v8 = int8.embed(texts)
        results["onnxruntime int8"] = {"texts_per_s": len(texts) / (time.perf_counter() - t0)}
    results["onnxruntime int8"]["max_abs_diff"] = float(np.abs(v8 - reference).max())
    results["onnxruntime int8"]["neighbour_overlap@10"] = overlap_at_10(reference, v8)

    for name, code in STARTUP.items():
        results[name]["startup_s"] = startup_seconds(
            code.format(model=str(minilm_model_dir()), onnx_dir=str(settings.model_dir))
        )
    base = results["torch (sentence-transformers)"]["texts_per_s"]
    print(
        f"{'backend':<32}{'texts/s':>9}{'vs torch':>10}{'start s':>9}{'max diff':>10}{'nn@10':>7}"
    )
    for name, r in results.items():
        print(
            f"{name:<32}{r['texts_per_s']:>9.1f}{r['texts_per_s'] / base:>9.2f}x"
            f"{r.get('startup_s', float('nan')):>9.2f}{r.get('max_abs_diff', 0.0):>10.1e}"
            f"{r.get('neighbour_overlap@10', 1.0):>7.3f}"
        )
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps({"texts": len(texts), **results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
