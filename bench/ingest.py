"""Ingestion throughput on a real corpus (default: the Python 3.11 docs).

Measures a cold ingest into a fresh workspace (files/s, chunks/s, and the share of time
spent inside the embedding model versus everything else), then a re-run with no changes.

    .venv/bin/python bench/ingest.py [--corpus /usr/share/doc/python3.11/html]
        [--workspace bench/.cache/pydocs] [--json-out bench/results/ingest.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from cairn.config import load_settings
from cairn.ingest.pipeline import ingest
from cairn.workspace import Workspace


def run(corpus: Path, workspace: Path) -> dict[str, object]:
    settings = load_settings(workspace=workspace)
    ws = Workspace(settings, create=True)
    t0 = time.perf_counter()
    ws.embedder.warm_up()
    startup = time.perf_counter() - t0
    report = ingest(
        [corpus],
        store=ws.store,
        embedder=ws.embedder,
        tokenizer=ws.embedder.tokenizer,
        settings=settings,
    )
    model = report.embed_seconds
    total = report.seconds
    rerun = ingest(
        [corpus],
        store=ws.store,
        embedder=ws.embedder,
        tokenizer=ws.embedder.tokenizer,
        settings=settings,
    )
    stats = ws.store.stats()
    ws.close()
    return {
        "corpus": str(corpus),
        "files": report.files,
        "ingested": report.ingested,
        "failed": report.failed,
        "failures": report.failures,
        "chunks_indexed": report.chunks,
        "duplicates": report.duplicates,
        "model_startup_s": round(startup, 3),
        "seconds": round(total, 1),
        "files_per_s": round(report.files / total, 2),
        "chunks_per_s": round((report.chunks + report.duplicates) / total, 1),
        "model_seconds": round(model, 1),
        "parse_chunk_seconds": round(report.parse_seconds, 1),
        "overhead_vs_model": round((total - model) / model, 3) if model else None,
        "rerun_seconds": round(rerun.seconds, 2),
        "rerun_unchanged": rerun.unchanged,
        "store": stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("/usr/share/doc/python3.11/html"))
    parser.add_argument("--workspace", type=Path, default=Path("bench/.cache/pydocs-ingest"))
    parser.add_argument("--keep", action="store_true", help="Reuse the workspace if present.")
    parser.add_argument("--json-out", type=Path, default=Path("bench/results/ingest.json"))
    args = parser.parse_args()
    if args.workspace.exists() and not args.keep:
        shutil.rmtree(args.workspace)
    result = run(args.corpus, args.workspace)
    for key, value in result.items():
        if key not in ("failures", "store"):
            print(f"{key:>22}: {value}")
    print(f"{'store':>22}: {result['store']}")
    for path, reason in result["failures"]:  # type: ignore[union-attr]
        print(f"{'failed':>22}: {path}: {reason}")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
