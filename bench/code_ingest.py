"""Source code ingest: parse time per file next to embedding time, and the text kept.

Parses every file of a source tree (default: CPython's standard library as installed,
without its test suite) twice, with the code reader (tree-sitter, chunked by definition)
and, as the peer, with the plain-text reader the same files went through when renamed to
`.txt`; reports parse+chunk time per file and the share of chunks that kept a newline. With
`--embed`, it then ingests the tree into a fresh workspace with the configured embedding
model and reports the pipeline's parse time next to the model's time.

    .venv/bin/python bench/code_ingest.py [--corpus /usr/lib/python3.11]
        [--exclude 'test/*' ...] [--embed --workspace /tmp/stdlib-ws]
        [--json-out bench/results/code_ingest.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from cairn.config import ChunkSettings, load_settings
from cairn.errors import IngestError
from cairn.ingest.chunking import chunk_document
from cairn.ingest.discover import Skipped, discover
from cairn.ingest.formats import plaintext
from cairn.ingest.pipeline import ingest
from cairn.ingest.readers import SUPPORTED_SUFFIXES, read_document
from cairn.workspace import Workspace

STDLIB_EXCLUDES = (
    "test/*",
    "idlelib/*",
    "lib2to3/*",
    "pydoc_data/*",
    "encodings/*",
    "ensurepip/*",
    "__phello__/*",
    "config-3.11-*/*",
    "distutils/*",
    "tkinter/*",
    "turtledemo/*",
    "**/tests/*",
)
"""The stdlib without its tests, IDLE, lib2to3, generated tables (encodings, pydoc topics),
bundled wheels, the deprecated distutils and Tk: the code people ask about."""


def parse_all(corpus: Path, excludes: tuple[str, ...], tokenizer: object) -> dict[str, object]:
    skipped: list[Skipped] = []
    files = list(
        discover([corpus], suffixes=SUPPORTED_SUFFIXES, excludes=excludes, skipped=skipped)
    )
    settings = ChunkSettings()
    rows: dict[str, dict[str, float]] = {}
    for name, reader in (("code (tree-sitter)", None), ("plain text (peer)", plaintext.read)):
        times: list[float] = []
        chunks = with_newline = 0
        for file in files:
            data = file.path.read_bytes()
            t0 = time.perf_counter()
            if reader is None:
                try:
                    document = read_document(file.path, data)
                except IngestError:
                    continue  # counted by the ingest run; the peer reads the same files
            else:
                document = reader(file.path, data.decode("utf-8", "replace"))
            _, drafts = chunk_document(document, tokenizer, settings)
            times.append(time.perf_counter() - t0)
            chunks += len(drafts)
            with_newline += sum("\n" in d.text for d in drafts)
        rows[name] = {
            "files": len(files),
            "chunks": chunks,
            "parse_s": round(sum(times), 2),
            "ms_per_file_mean": round(1000 * statistics.fmean(times), 2),
            "ms_per_file_median": round(1000 * statistics.median(times), 2),
            "chunks_without_newline": round(1 - with_newline / max(chunks, 1), 3),
        }
    return {"files": len(files), "skipped": len(skipped), "readers": rows}


def embed_all(corpus: Path, excludes: tuple[str, ...], workspace: Path) -> dict[str, object]:
    settings = load_settings(workspace=workspace)
    ws = Workspace(settings, create=True)
    ws.embedder.warm_up()
    report = ingest(
        [corpus],
        store=ws.store,
        embedder=ws.embedder,
        tokenizer=ws.embedder.tokenizer,
        settings=settings,
        excludes=excludes,
    )
    ws.close()
    files = max(report.ingested, 1)
    return {
        "files": report.files,
        "ingested": report.ingested,
        "failed": report.failures,
        "chunks": report.chunks,
        "duplicates": report.duplicates,
        "seconds": round(report.seconds, 1),
        "parse_chunk_s": round(report.parse_seconds, 1),
        "embed_s": round(report.embed_seconds, 1),
        "parse_ms_per_file": round(1000 * report.parse_seconds / files, 2),
        "embed_ms_per_file": round(1000 * report.embed_seconds / files, 1),
        "embed_over_parse": round(report.embed_seconds / max(report.parse_seconds, 1e-9), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("/usr/lib/python3.11"))
    parser.add_argument("--exclude", action="append", default=None)
    parser.add_argument("--embed", action="store_true")
    parser.add_argument("--workspace", type=Path, default=Path("bench/.cache/stdlib"))
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    excludes = tuple(args.exclude) if args.exclude is not None else STDLIB_EXCLUDES
    settings = load_settings(workspace=args.workspace)
    ws = Workspace(settings, create=True)
    tokenizer = ws.embedder.tokenizer
    result: dict[str, object] = {"corpus": str(args.corpus), "excludes": list(excludes)}
    result["parse"] = parse_all(args.corpus, excludes, tokenizer)
    ws.close()
    print(
        "| reader | files | chunks | parse+chunk s | ms/file mean | ms/file median |"
        " chunks without a newline |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, row in result["parse"]["readers"].items():  # type: ignore[index]
        print(
            f"| {name} | {row['files']} | {row['chunks']} | {row['parse_s']} | "
            f"{row['ms_per_file_mean']} | {row['ms_per_file_median']} | "
            f"{row['chunks_without_newline']:.1%} |"
        )
    if args.embed:
        embedded = embed_all(args.corpus, excludes, args.workspace)
        result["ingest"] = embedded
        print()
        print(
            "| files | chunks | total s | parse+chunk s | embed s | parse ms/file |"
            " embed ms/file | embed / parse |"
        )
        print("|---|---|---|---|---|---|---|---|")
        print(
            f"| {embedded['ingested']} | {embedded['chunks']} | {embedded['seconds']} | "
            f"{embedded['parse_chunk_s']} | {embedded['embed_s']} | "
            f"{embedded['parse_ms_per_file']} | {embedded['embed_ms_per_file']} | "
            f"{embedded['embed_over_parse']} |"
        )
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
