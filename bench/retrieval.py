"""Retrieval quality and latency of cairn's lexical, dense and hybrid retrievers.

What it measures, on public datasets read in place from `--datasets` (never copied):

- SciFact (BEIR test split, 300 claims): nDCG@10 and recall@100.
- XQuAD English (240 paragraphs, 1,190 questions): paragraph recall@1 and @5, on the held-out
  half of the articles and on all questions.
- Anthropic docs-QA (232 chunks, 100 questions): recall@5 and MRR@10 against the gold chunks.
- HotpotQA and MuSiQue (HippoRAG subsets): all-supporting-passages recall@5 and @10.
- Per-query latency p50/p95 of every mode, in the same warm process (k=10, the query
  embedding is computed afresh for every call).

Each passage is stored as one chunk (title in the heading column, no section) in a
SQLite store under `--cache-dir`, embedded with MiniLM on `embedding_text(title, (), text)`;
the store is reused while the corpus, model and build recipe are unchanged.

Hybrid fusion is chosen on tuning data only: a sweep of convex combination (alpha 0.0-1.0 in
0.1 steps) and RRF (k=60), each with several candidate depths, on the SciFact train claims
and the questions of the first 24 XQuAD articles; the configuration with the best mean
nDCG@10 over those two is then applied unchanged to every evaluation split.

Run (from the repository root):

    .venv/bin/python bench/retrieval.py --datasets ../shared/datasets \
        [--only scifact,xquad,anthropic,hotpotqa,musique] [--cache-dir bench/.cache] \
        [--json-out bench/results/retrieval.json] [--model-dir DIR] [--precision int8]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import corpora
import metrics
from cairn.config import load_settings
from cairn.embed.minilm import MiniLMEmbedder
from cairn.evals.benchmarks import passage_records
from cairn.ingest.chunking import content_hash, embedding_text
from cairn.retrieve import DenseRetriever, HybridRetriever, LexicalRetriever
from cairn.retrieve.fusion import convex, rrf
from cairn.store.base import Store
from cairn.store.open import DB_FILE, open_store_at
from cairn.types import Hit, Ranked

BUILD_RECIPE = 1
"""Bump when the way passages become chunks changes, so cached stores are rebuilt."""

EVAL_METRICS: dict[str, tuple[str, ...]] = {
    "scifact": ("ndcg@10", "recall@100"),
    "xquad": ("recall@1", "recall@5"),
    "anthropic": ("recall@5", "mrr@10"),
    "hotpotqa": ("all_recall@5", "all_recall@10"),
    "musique": ("all_recall@5", "all_recall@10"),
}
TUNE_METRIC = "ndcg@10"
ALPHAS = tuple(round(i / 10, 1) for i in range(11))
CANDIDATES = (20, 50, 100)
RRF_K = 60
LATENCY_K = 10

console = Console(width=150)


@dataclass(frozen=True, slots=True)
class Fusion:
    kind: str  # "convex" | "rrf"
    candidates: int
    alpha: float | None = None

    @property
    def label(self) -> str:
        if self.kind == "rrf":
            return f"rrf k={RRF_K} c={self.candidates}"
        return f"convex a={self.alpha:.1f} c={self.candidates}"

    def fuse(self, lexical: list[Ranked], dense: list[Ranked], k: int) -> list[Ranked]:
        n = max(k, self.candidates)  # what HybridRetriever.retrieve does
        if self.kind == "rrf":
            return rrf(lexical[:n], dense[:n], RRF_K, k)
        assert self.alpha is not None
        return convex(lexical[:n], dense[:n], self.alpha, k)

    def retriever(self, lexical: LexicalRetriever, dense: DenseRetriever) -> HybridRetriever:
        return HybridRetriever(
            lexical,
            dense,
            fusion=self.kind,
            alpha=self.alpha if self.alpha is not None else 0.0,
            candidates=self.candidates,
            rrf_k=RRF_K,
        )


@dataclass(slots=True)
class Prepared:
    """A dataset with its store and every query's lexical and dense candidate lists."""

    dataset: corpora.Dataset
    store: Store
    build: dict[str, Any]
    lexical: dict[str, list[Ranked]] = field(default_factory=dict)
    dense: dict[str, list[Ranked]] = field(default_factory=dict)
    query_seconds: float = 0.0

    def ranking(self, mode: str | Fusion, query: corpora.Query, k: int) -> list[str]:
        if mode == "lexical":
            hits = self.lexical[query.id][:k]
        elif mode == "dense":
            hits = self.dense[query.id][:k]
        else:
            assert isinstance(mode, Fusion)
            hits = mode.fuse(self.lexical[query.id], self.dense[query.id], k)
        return [h.chunk_id for h in hits]

    def evaluate(self, mode: str | Fusion, split: str, names: Sequence[str]) -> dict[str, float]:
        queries = self.dataset.splits[split]
        out: dict[str, float] = {}
        for name in names:
            _, k = metrics.parse(name)
            values = [metrics.score(name, self.ranking(mode, q, k), q.relevant) for q in queries]
            out[name] = sum(values) / len(values)
        return out


# -- building the stores ----------------------------------------------------------------


def _fingerprint(dataset: corpora.Dataset, embedder: MiniLMEmbedder) -> str:
    digest = hashlib.sha256()
    header = {
        "recipe": BUILD_RECIPE,
        "model": embedder.name,
        "max_tokens": embedder.max_tokens,
        "onnx_bytes": embedder.onnx_path.stat().st_size,
        "near_duplicate_bits": 0,
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for p in dataset.passages:
        digest.update(json.dumps([p.id, p.title, p.text]).encode())
    return digest.hexdigest()[:16]


def open_store(
    dataset: corpora.Dataset, embedder: MiniLMEmbedder, cache_dir: Path, heading_weight: float
) -> tuple[Store, dict[str, Any]]:
    """The dataset's store from the cache, built first if the cached one is missing or stale."""
    folder = cache_dir / f"{dataset.name}-{_fingerprint(dataset, embedder)}"
    manifest = folder / "manifest.json"
    if manifest.is_file():
        build = json.loads(manifest.read_text())
        build["reused"] = True
        store = open_store_at(folder / DB_FILE, heading_weight=heading_weight, create=False)
        return store, build
    for stale in cache_dir.glob(f"{dataset.name}-*"):  # other corpus/model versions, or a
        shutil.rmtree(stale)  # build that was interrupted before its manifest was written
    store = open_store_at(folder / DB_FILE, heading_weight=heading_weight)
    build = build_store(dataset, store, embedder)
    manifest.write_text(json.dumps(build, indent=2))
    build["reused"] = False
    return store, build


def build_store(dataset: corpora.Dataset, store: Store, embedder: MiniLMEmbedder) -> dict[str, Any]:
    """One document and one chunk per passage; embeddings computed in batches up front."""
    passages = dataset.passages
    inputs = [embedding_text(p.title, (), p.text) for p in passages]
    hashes = [content_hash(text) for text in inputs]
    unique = dict(zip(hashes, inputs, strict=True))
    t0 = time.perf_counter()
    vectors: dict[str, Any] = {}
    todo = list(unique.items())
    step = 512
    for start in range(0, len(todo), step):
        part = todo[start : start + step]
        for (h, _), vec in zip(part, embedder.embed([t for _, t in part]), strict=True):
            vectors[h] = vec
        done = min(start + step, len(todo))
        print(f"  [{dataset.name}] embedded {done}/{len(todo)}", file=sys.stderr, flush=True)
    embed_seconds = time.perf_counter() - t0
    token_counts = embedder.tokenizer.counts([p.text for p in passages])
    t1 = time.perf_counter()
    indexed = duplicates = 0
    for p, h, tokens in zip(passages, hashes, token_counts, strict=True):
        source = f"{dataset.name}/{p.id}"
        uri = p.id if p.id.startswith("http") else f"bench://{source}"
        document, chunk = passage_records(
            p, source=source, uri=uri, content_hash=h, token_count=tokens
        )
        result = store.write_document(document, [chunk], {h: vectors[h]}, model=embedder.name)
        indexed += result.indexed
        duplicates += result.duplicates
    write_seconds = time.perf_counter() - t1
    texts = [p.text for p in passages]
    return {
        "passages": len(passages),
        "indexed": indexed,
        "duplicates_in_store": duplicates,
        "exact_duplicate_texts": len(texts) - len(set(texts)),
        "exact_duplicate_title_and_text": len(hashes) - len(unique),
        "embed_seconds": round(embed_seconds, 1),
        "write_seconds": round(write_seconds, 1),
        "passages_truncated_for_embedding": sum(
            1 for n in embedder.tokenizer.counts(inputs) if n > embedder.max_tokens - 2
        ),
    }


# -- running queries --------------------------------------------------------------------


def gather_candidates(prep: Prepared, embedder: MiniLMEmbedder, depth: int) -> None:
    """Top-`depth` lexical and dense hits of every query in every split, via the retrievers."""
    lexical = LexicalRetriever(prep.store)
    dense = DenseRetriever(prep.store, embedder)
    queries = {q.id: q for split in prep.dataset.splits.values() for q in split}
    t0 = time.perf_counter()
    for q in queries.values():
        prep.lexical[q.id] = lexical.rank(q.text, depth)
        prep.dense[q.id] = dense.rank(q.text, depth)
    prep.query_seconds = time.perf_counter() - t0


def measure_latency(
    prep: Prepared, embedder: MiniLMEmbedder, modes: dict[str, str | Fusion]
) -> tuple[dict[str, dict[str, float]], int]:
    """p50/p95 milliseconds per mode over the evaluation queries, modes interleaved per query.

    Also checks that the live `HybridRetriever` returns exactly what the offline fusion of the
    candidate lists returned (the number of disagreeing queries is returned).
    """
    lexical = LexicalRetriever(prep.store)
    dense = DenseRetriever(prep.store, embedder)
    retrievers: dict[str, Callable[[str, int], list[Hit]]] = {}
    for label, mode in modes.items():
        if mode == "lexical":
            retrievers[label] = lexical.retrieve
        elif mode == "dense":
            retrievers[label] = dense.retrieve
        else:
            assert isinstance(mode, Fusion)
            retrievers[label] = mode.retriever(lexical, dense).retrieve
    queries = list(
        {q.id: q for s in prep.dataset.eval_splits for q in prep.dataset.splits[s]}.values()
    )
    for q in queries[:5]:  # warm-up
        for run in retrievers.values():
            run(q.text, LATENCY_K)
    timings: dict[str, list[float]] = {label: [] for label in modes}
    mismatches = 0
    for q in queries:
        for label, run in retrievers.items():
            embedder._recent.clear()  # time the query embedding too, as a fresh query pays it
            t0 = time.perf_counter()
            hits = run(q.text, LATENCY_K)
            timings[label].append((time.perf_counter() - t0) * 1000)
            mode = modes[label]
            if isinstance(mode, Fusion) and [h.chunk.id for h in hits] != prep.ranking(
                mode, q, LATENCY_K
            ):
                mismatches += 1
    summary = {
        label: {
            "p50_ms": round(metrics.percentile(values, 50), 2),
            "p95_ms": round(metrics.percentile(values, 95), 2),
        }
        for label, values in timings.items()
    }
    return summary, mismatches


# -- fusion sweep -----------------------------------------------------------------------


def sweep_configs() -> list[Fusion]:
    configs = [Fusion("convex", c, a) for c in CANDIDATES for a in ALPHAS]
    configs += [Fusion("rrf", c) for c in CANDIDATES]
    return configs


def run_sweep(tuning: list[Prepared]) -> dict[str, Any]:
    """Mean TUNE_METRIC of every fusion config on each tuning split, and the chosen one."""
    rows = []
    for config in sweep_configs():
        per_set = {
            prep.dataset.name: prep.evaluate(config, prep.dataset.tune_split or "", [TUNE_METRIC])[
                TUNE_METRIC
            ]
            for prep in tuning
        }
        rows.append(
            {
                "fusion": config.kind,
                "alpha": config.alpha,
                "candidates": config.candidates,
                "scores": per_set,
                "mean": sum(per_set.values()) / len(per_set),
            }
        )
    baselines = {
        prep.dataset.name: {
            mode: prep.evaluate(mode, prep.dataset.tune_split or "", [TUNE_METRIC])[TUNE_METRIC]
            for mode in ("lexical", "dense")
        }
        for prep in tuning
    }
    # Highest mean; ties (to 4 decimals) go to fewer candidates, i.e. the cheaper query.
    best = max((_best(rows, "convex"), _best(rows, "rrf")), key=lambda r: round(r["mean"], 4))
    per_set_best = {
        name: max(rows, key=lambda r, n=name: (round(r["scores"][n], 4), -r["candidates"]))
        for name in baselines
    }
    return {
        "metric": TUNE_METRIC,
        "tuning_splits": {p.dataset.name: p.dataset.tune_split for p in tuning},
        "baselines": baselines,
        "rows": rows,
        "chosen": best,
        "best_per_set": per_set_best,
    }


def _best(rows: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return max(
        (r for r in rows if r["fusion"] == kind),
        key=lambda r: (round(r["mean"], 4), -r["candidates"]),
    )


def fusion_of(row: dict[str, Any]) -> Fusion:
    return Fusion(row["fusion"], row["candidates"], row["alpha"])


# -- output -----------------------------------------------------------------------------


def print_sweep(sweep: dict[str, Any]) -> None:
    names = list(sweep["baselines"])
    table = Table(title=f"Fusion sweep on tuning splits ({sweep['metric']})")
    table.add_column("fusion")
    for c in CANDIDATES:
        for name in [*names, "mean"]:
            table.add_column(f"c={c} {name}", justify="right")
    by_key = {(r["fusion"], r["alpha"], r["candidates"]): r for r in sweep["rows"]}
    labels: list[tuple[str, float | None]] = [("convex", a) for a in ALPHAS] + [("rrf", None)]
    for kind, alpha in labels:
        cells = []
        for c in CANDIDATES:
            row = by_key[(kind, alpha, c)]
            cells += [f"{row['scores'][n]:.4f}" for n in names] + [f"{row['mean']:.4f}"]
        table.add_row(f"convex a={alpha:.1f}" if kind == "convex" else f"rrf k={RRF_K}", *cells)
    console.print(table)
    for name, base in sweep["baselines"].items():
        console.print(
            f"  {name} tuning baselines: lexical {base['lexical']:.4f}, dense {base['dense']:.4f}"
        )
    chosen = sweep["chosen"]
    console.print(f"  chosen: {fusion_of(chosen).label} (mean {chosen['mean']:.4f})")
    for name, row in sweep["best_per_set"].items():
        console.print(f"  best on {name} alone: {fusion_of(row).label} ({row['scores'][name]:.4f})")


def print_dataset(name: str, result: dict[str, Any]) -> None:
    names = EVAL_METRICS[name]
    table = Table(title=f"{name}: {result['description']} ({result['passages']} passages)")
    table.add_column("mode")
    for split in result["splits"]:
        for metric in names:
            table.add_column(f"{split} {metric}\n(n={result['queries'][split]})", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    for label in result["modes"]:
        cells = [
            f"{result['splits'][split][label][metric]:.4f}"
            for split in result["splits"]
            for metric in names
        ]
        latency = result["latency"].get(label, {})
        cells += [
            f"{latency.get('p50_ms', float('nan')):.1f}",
            f"{latency.get('p95_ms', float('nan')):.1f}",
        ]
        table.add_row(label, *cells)
    console.print(table)
    build = result["build"]
    console.print(
        f"  store: {'reused' if build['reused'] else 'built'} ({build['passages']} passages, "
        f"{build['exact_duplicate_texts']} exact duplicate texts, "
        f"{build['duplicates_in_store']} chunks deduplicated by the store, "
        f"{build['passages_truncated_for_embedding']} truncated at the embedder's token limit); "
        f"queries {result['query_seconds']:.1f}s, latency run {result['latency_seconds']:.1f}s, "
        f"live/offline hybrid mismatches: {result['hybrid_mismatches']}"
    )
    for verdict in result["verdicts"]:
        console.print(f"  {verdict}")


def markdown(report: dict[str, Any]) -> str:
    """The result tables and the fusion sweep as Markdown (for docs/benchmarks.md)."""
    lines: list[str] = []
    for name, result in report["datasets"].items():
        names = EVAL_METRICS[name]
        cols = [f"{split} {m}" for split in result["splits"] for m in names]
        lines += [
            f"**{name}**: {result['description']}, {result['passages']} passages, "
            + ", ".join(f"{split} n={n}" for split, n in result["queries"].items()),
            "",
            "| mode | " + " | ".join(cols) + " | p50 ms | p95 ms |",
            "|---|" + "---:|" * (len(cols) + 2),
        ]
        for label in result["modes"]:
            values = [result["splits"][s][label][m] for s in result["splits"] for m in names]
            latency = result["latency"][label]
            lines.append(
                f"| {label} | "
                + " | ".join(f"{v:.4f}" for v in values)
                + f" | {latency['p50_ms']:.1f} | {latency['p95_ms']:.1f} |"
            )
        lines.append("")
    sweep = report["sweep"]
    if sweep:
        names = list(sweep["baselines"])
        header = [f"c={c} {n}" for c in CANDIDATES for n in [*names, "mean"]]
        lines += [
            f"Fusion sweep, {sweep['metric']} on the tuning splits "
            + ", ".join(f"{n} {s}" for n, s in sweep["tuning_splits"].items())
            + " (c = candidates per retriever):",
            "",
            "| fusion | " + " | ".join(header) + " |",
            "|---|" + "---:|" * len(header),
        ]
        by_key = {(r["fusion"], r["alpha"], r["candidates"]): r for r in sweep["rows"]}
        labels: list[tuple[str, float | None]] = [("convex", a) for a in ALPHAS]
        for kind, alpha in [*labels, ("rrf", None)]:
            cells = []
            for c in CANDIDATES:
                row = by_key[(kind, alpha, c)]
                cells += [f"{row['scores'][n]:.4f}" for n in names] + [f"{row['mean']:.4f}"]
            label = f"convex alpha={alpha:.1f}" if kind == "convex" else f"rrf k={RRF_K}"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        base = [
            f"| {mode} only | "
            + " | ".join(
                " | ".join(
                    [
                        *(f"{sweep['baselines'][n][mode]:.4f}" for n in names),
                        f"{sum(sweep['baselines'][n][mode] for n in names) / len(names):.4f}",
                    ]
                )
                for _ in CANDIDATES
            )
            + " |"
            for mode in ("lexical", "dense")
        ]
        lines += [*base, ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--datasets", type=Path, required=True, help="the shared datasets folder")
    parser.add_argument(
        "--only",
        default=",".join(corpora.LOADERS),
        help="comma-separated subset of " + ",".join(corpora.LOADERS),
    )
    parser.add_argument("--cache-dir", type=Path, default=Path("bench/.cache"))
    parser.add_argument("--json-out", type=Path, default=Path("bench/results/retrieval.json"))
    parser.add_argument(
        "--precision",
        choices=["fp32", "int8"],
        default=None,
        help="the embedding model variant (default: embed.precision)",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="folder of the exported ONNX model (default: cairn's settings)",
    )
    parser.add_argument(
        "--heading-weight",
        type=float,
        default=1.0,
        help="BM25 weight of the heading (title) column",
    )
    parser.add_argument(
        "--markdown-out",
        type=Path,
        default=None,
        help="also write the result and sweep tables as Markdown here",
    )
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in corpora.LOADERS]
    if unknown:
        parser.error(f"unknown dataset(s) {unknown}; choose from {list(corpora.LOADERS)}")
    settings = load_settings()
    embedder = MiniLMEmbedder(
        args.model_dir or settings.model_dir,
        max_tokens=settings.embed.max_tokens,
        batch_size=settings.embed.batch_size,
        threads=settings.embed.threads,
        precision=args.precision or settings.embed.precision,
    )
    embedder.warm_up()
    started = time.perf_counter()
    depth = max(max(CANDIDATES), *(metrics.parse(m)[1] for n in names for m in EVAL_METRICS[n]))

    prepared: dict[str, Prepared] = {}
    for name in names:
        t0 = time.perf_counter()
        dataset = corpora.LOADERS[name](args.datasets)
        store, build = open_store(dataset, embedder, args.cache_dir, args.heading_weight)
        build["open_seconds"] = round(time.perf_counter() - t0, 1)
        prep = Prepared(dataset=dataset, store=store, build=build)
        gather_candidates(prep, embedder, depth)
        prepared[name] = prep
        print(
            f"  [{name}] store ready in {build['open_seconds']}s, "
            f"{len(prep.lexical)} queries in "
            f"{prep.query_seconds:.1f}s",
            file=sys.stderr,
            flush=True,
        )

    tuning = [p for p in prepared.values() if p.dataset.tune_split]
    defaults = settings.retrieve
    current = Fusion(
        defaults.fusion,
        defaults.candidates,
        defaults.alpha if defaults.fusion == "convex" else None,
    )
    if tuning:
        sweep = run_sweep(tuning)
        print_sweep(sweep)
        chosen = fusion_of(sweep["chosen"])
        best_convex = fusion_of(_best(sweep["rows"], "convex"))
        best_rrf = fusion_of(_best(sweep["rows"], "rrf"))
    else:
        sweep = None
        chosen = current
        best_convex = Fusion("convex", defaults.candidates, defaults.alpha)
        best_rrf = Fusion("rrf", defaults.candidates)
        console.print(f"no tuning split selected: using the configured fusion {chosen.label}")
    modes: dict[str, str | Fusion] = {
        "lexical": "lexical",
        "dense": "dense",
        f"hybrid {best_convex.label}": best_convex,
        f"hybrid {best_rrf.label}": best_rrf,
    }
    if current not in modes.values():
        modes[f"hybrid {current.label} (current default)"] = current
    chosen_label = next(label for label, mode in modes.items() if mode == chosen)

    results: dict[str, Any] = {}
    for name, prep in prepared.items():
        names_m = EVAL_METRICS[name]
        splits = {
            split: {label: prep.evaluate(mode, split, names_m) for label, mode in modes.items()}
            for split in prep.dataset.eval_splits
        }
        t0 = time.perf_counter()
        latency, mismatches = measure_latency(prep, embedder, modes)
        verdicts = []
        for split, by_mode in splits.items():
            for metric in names_m:
                best_single = max(by_mode["lexical"][metric], by_mode["dense"][metric])
                value = by_mode[chosen_label][metric]
                word = (
                    "above"
                    if value > best_single
                    else ("equal to" if value == best_single else "BELOW")
                )
                verdicts.append(
                    f"{split} {metric}: chosen hybrid {value:.4f} is {word} the best single "
                    f"retriever ({best_single:.4f})"
                )
        results[name] = {
            "description": prep.dataset.description,
            "passages": len(prep.dataset.passages),
            "queries": {s: len(prep.dataset.splits[s]) for s in prep.dataset.eval_splits},
            "modes": list(modes),
            "splits": splits,
            "latency": latency,
            "latency_seconds": round(time.perf_counter() - t0, 1),
            "hybrid_mismatches": mismatches,
            "query_seconds": round(prep.query_seconds, 1),
            "build": prep.build,
            "notes": prep.dataset.notes,
            "verdicts": verdicts,
        }
        print_dataset(name, results[name])
        prep.store.close()

    total = time.perf_counter() - started
    console.print(f"total {total:.0f}s (after model load)")
    report = {
        "run_at_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", *sys.argv]),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "model": embedder.name,
        "heading_weight": args.heading_weight,
        "latency_k": LATENCY_K,
        "chosen": {
            "fusion": chosen.kind,
            "alpha": chosen.alpha,
            "candidates": chosen.candidates,
            "rrf_k": RRF_K,
        },
        "sweep": sweep,
        "datasets": results,
        "total_seconds": round(total, 1),
    }
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=1) + "\n")
    console.print(f"wrote {args.json_out}")
    if args.markdown_out:
        args.markdown_out.parent.mkdir(parents=True, exist_ok=True)
        args.markdown_out.write_text(markdown(report))
        console.print(f"wrote {args.markdown_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
