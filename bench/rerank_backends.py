"""Do the rerank backends help? Hybrid order against the reranked one, in the same run.

    .venv/bin/python bench/rerank_backends.py --datasets ../shared/datasets \\
        --cache-dir bench/.cache --backend llm --base-url http://127.0.0.1:8001/v1 --model M
    .venv/bin/python bench/rerank_backends.py ... --backend cross-encoder --model-path DIR
    .venv/bin/python bench/rerank_backends.py ... --backend fake-llm   # the path, no model

The stores of `bench/retrieval.py` (same cache folder, reused), the default hybrid fusion
(convex, alpha 0.5, 100 candidates per side). For every query of each dataset's evaluation
split, the top `--depth` fused candidates go through the backend as the pipeline's rerank
stage does (`cairn.rerank`), and the dataset's metrics are computed on the hybrid order and
on the reranked order (positions past `--depth` keep the hybrid order). Also: the rerank
stage's time per query (p50 / p95) and, for the LLM backends, how many replies fell back to
the incoming order.

Backends: `llm`, an OpenAI-compatible server (`--base-url`, `--model`, `--api-key`);
`cross-encoder`, a model folder (`--model-path`: model.onnx + tokenizer.json);
`fake-llm`, the fake OpenAI-compatible server, whose default reply to the ranking prompt
is its RAG stand-in's (the passage with the sentence sharing most of the question's words
first): it runs the whole path (prompt, HTTP, parsing) and says nothing of a model's quality.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import corpora
import metrics
import retrieval
from cairn.config import load_settings
from cairn.embed.minilm import MiniLMEmbedder
from cairn.retrieve.fusion import convex
from cairn.retrieve.hybrid import DenseRetriever, LexicalRetriever
from cairn.stages import Reranker
from cairn.types import Hit


def build_backend(args: argparse.Namespace) -> tuple[Reranker, list[object]]:
    """The reranker the arguments ask for, and what to close after."""
    if args.backend == "cross-encoder":
        from cairn.rerank.cross_encoder import CrossEncoderReranker

        if args.model_path is None:
            raise SystemExit("--backend cross-encoder needs --model-path DIR")
        return CrossEncoderReranker(args.model_path, max_tokens=args.max_tokens), []
    from cairn.llm.openai import OpenAIProvider
    from cairn.rerank.llm import LLMReranker

    closers: list[object] = []
    base_url, model, key = args.base_url, args.model, args.api_key
    if args.backend == "fake-llm":
        from cairn.llm.fake_server import FakeLLMServer

        server = FakeLLMServer().start()
        closers.append(server)
        base_url, model, key = server.url, "fake", None
    if base_url is None or model is None:
        raise SystemExit("--backend llm needs --base-url and --model")
    provider = OpenAIProvider(model, base_url=base_url, api_key=key)
    closers.append(provider)
    return LLMReranker(provider, passage_tokens=args.passage_tokens), closers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=Path("bench/.cache"))
    parser.add_argument("--only", default="scifact,anthropic,hotpotqa")
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--limit", type=int, default=0, help="queries per dataset (0: all)")
    parser.add_argument("--backend", choices=("llm", "cross-encoder", "fake-llm"), required=True)
    parser.add_argument("--base-url")
    parser.add_argument("--model")
    parser.add_argument("--api-key")
    parser.add_argument("--model-path", type=Path)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--passage-tokens", type=int, default=128)
    args = parser.parse_args()

    settings = load_settings()
    embedder = MiniLMEmbedder(
        settings.model_dir,
        max_tokens=settings.embed.max_tokens,
        batch_size=settings.embed.batch_size,
        threads=settings.embed.threads,
        precision=settings.embed.precision,
    )
    reranker, closers = build_backend(args)
    explain = getattr(reranker, "reorder", None)
    print(f"backend {args.backend}, depth {args.depth}")
    print("| dataset | split | queries | metric | hybrid | reranked | rerank ms p50 / p95 |")
    print("|---|---|---|---|---|---|---|")
    for name in args.only.split(","):
        dataset = corpora.LOADERS[name](args.datasets)
        folder = args.cache_dir / f"{name}-{retrieval._fingerprint(dataset, embedder)}"
        if not (folder / "manifest.json").is_file():
            parser.error(f"no store for {name} in {args.cache_dir}: run bench/retrieval.py first")
        store, _ = retrieval.open_store(dataset, embedder, args.cache_dir, 1.0)
        lexical, dense = LexicalRetriever(store), DenseRetriever(store, embedder)
        split = dataset.eval_splits[0]
        queries = dataset.splits[split][: args.limit or None]
        names = retrieval.EVAL_METRICS[name]
        base: dict[str, list[float]] = {m: [] for m in names}
        rer: dict[str, list[float]] = {m: [] for m in names}
        times: list[float] = []
        fallbacks = 0
        for query in queries:
            fused = convex(lexical.rank(query.text, 100), dense.rank(query.text, 100), 0.5, 100)
            top = fused[: args.depth]
            chunks = {c.id: c for c in store.get_chunks([r.chunk_id for r in top])}
            hits = [
                Hit(chunk=chunks[r.chunk_id], score=r.score, lexical=r.lexical, dense=r.dense)
                for r in top
                if r.chunk_id in chunks
            ]
            started = time.perf_counter()
            if explain is not None:
                reordering = explain(query.text, hits)
                ranked_hits, fallbacks = reordering.hits, fallbacks + bool(reordering.fallback)
            else:
                ranked_hits = reranker.rerank(query.text, hits)
            times.append((time.perf_counter() - started) * 1000)
            hybrid = [r.chunk_id for r in fused]
            ranked = [h.chunk.id for h in ranked_hits] + hybrid[args.depth :]
            for metric in names:
                base[metric].append(metrics.score(metric, hybrid, query.relevant))
                rer[metric].append(metrics.score(metric, ranked, query.relevant))
        q = statistics.quantiles(times, n=20, method="inclusive") if len(times) > 1 else [0] * 19
        for metric in names:
            print(
                f"| {name} | {split} | {len(queries)} | {metric} "
                f"| {statistics.fmean(base[metric]):.4f} | {statistics.fmean(rer[metric]):.4f} "
                f"| {statistics.median(times):.1f} / {q[18]:.1f} |"
            )
        if explain is not None and args.backend != "cross-encoder":
            print(f"<!-- {name}: {fallbacks} of {len(queries)} replies fell back -->")
        store.close()
    for closer in closers:
        getattr(closer, "close", lambda: None)()
    return 0


if __name__ == "__main__":
    sys.exit(main())
