"""Ask latency with a rerank stage against the same pipeline without one, in one warm process.

    .venv/bin/python bench/rerank_latency.py --workspace .cairn --n 100 [--depth 20]

Questions as in bench/latency.py. Each question is asked by every pipeline in turn
(alternating, answer cache off, extractive answers, the embedder's recent-query memory
cleared before each ask), so the machine's load falls on all alike; p50 / p95 wall and CPU
time, and each p95's ratio to the pipeline without reranking.

Pipelines:
- `off`: the retriever's top `k` (the default).
- `cross-encoder`: `rerank.depth` candidates scored by an ONNX cross-encoder of the size of
  MiniLM-L6 (a real ms-marco MiniLM-L6 cross-encoder has this architecture): the shipped
  MiniLM graph with a linear head (`minilm_head`), or `--model-path DIR` for a real one. With
  the stand-in the timing is a real cross-encoder's, its order is not.
- `llm`: the LLM listwise reranker against the fake OpenAI-compatible server on 127.0.0.1
  (no model time: cairn's own cost of the call, prompt, parsing and metering; a real model
  adds its own time to first token and output time).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn.config import load_settings
from cairn.pipeline import Pipeline
from cairn.workspace import Workspace
from latency import percentiles, questions


def minilm_head(folder: Path, model_dir: Path, precision: str = "int8") -> Path:
    """A cross-encoder-shaped ONNX model in `folder`: the MiniLM-L6 graph cairn exports for
    embeddings (`model_dir`), its pooled output through a random linear head, and MiniLM's
    tokenizer. Costs what a MiniLM-L6 cross-encoder costs; ranks nothing well."""
    import shutil

    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    from cairn.embed.minilm import export_model, minilm_model_dir

    source = export_model(model_dir, precision)  # type: ignore[arg-type]
    model = onnx.load(str(source))
    graph = model.graph
    pooled = graph.output[0].name
    weights = np.random.default_rng(0).standard_normal((384, 1)).astype(np.float32)
    graph.initializer.append(numpy_helper.from_array(weights, "rerank_head"))
    graph.node.append(helper.make_node("MatMul", [pooled, "rerank_head"], ["logits"]))
    out = helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", 1])
    del graph.output[:]
    graph.output.append(out)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    shutil.copy(minilm_model_dir() / "tokenizer.json", folder / "tokenizer.json")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--backends", default="off,cross-encoder,llm")
    parser.add_argument("--model-path", type=Path, help="a real cross-encoder folder")
    parser.add_argument("--max-tokens", type=int, default=256, help="cross-encoder truncation")
    args = parser.parse_args()
    qs = questions(args.workspace, args.n)
    settings = load_settings(workspace=args.workspace)
    settings = settings.model_copy(
        update={"cache": settings.cache.model_copy(update={"exact": False, "semantic": False})}
    )
    ws = Workspace(settings)
    pipelines: dict[str, Pipeline] = {}
    closers = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.backends.split(","):
            pipeline = ws.pipeline()
            if name == "cross-encoder":
                from cairn.rerank.cross_encoder import CrossEncoderReranker

                folder = args.model_path or minilm_head(
                    Path(tmp) / "ce", settings.model_dir, settings.embed.precision
                )
                pipeline.reranker = CrossEncoderReranker(
                    folder, max_tokens=args.max_tokens, threads=settings.embed.threads
                )
                pipeline.rerank_depth = args.depth
            elif name == "llm":
                from cairn.budget.providers import metered_provider
                from cairn.llm.fake_server import FakeLLMServer
                from cairn.rerank.llm import LLMReranker

                server = FakeLLMServer().start()
                closers.append(server.close)
                llm = settings.llm.model_copy(
                    update={
                        "provider": "openai",
                        "base_url": server.url,
                        "model": "fake",
                        "price_input_per_mtok": 0.0,
                        "price_output_per_mtok": 0.0,
                    }
                )
                provider = metered_provider(llm, "rerank", ws.budget, feature="rerank")
                assert provider is not None
                pipeline.reranker = LLMReranker(provider)
                pipeline.rerank_depth = args.depth
            pipeline.ask("How do I open a file?")  # warm
            pipelines[name] = pipeline
        wall: dict[str, list[float]] = {n: [] for n in pipelines}
        cpu: dict[str, list[float]] = {n: [] for n in pipelines}
        for q in qs:
            for name, pipeline in pipelines.items():
                ws.embedder._recent.clear()  # each ask embeds its question, as alone
                s, cs = time.perf_counter(), time.process_time()
                pipeline.ask(q)
                wall[name].append((time.perf_counter() - s) * 1000)
                cpu[name].append((time.process_time() - cs) * 1000)
    for close in closers:
        close()
    ws.close()
    base = percentiles(wall["off"])["p95"] if "off" in wall else None
    print(f"{len(qs)} questions, depth {args.depth}, keep {settings.retrieve.k}")
    print("| pipeline | ask wall p50 | ask wall p95 | p95 / off | ask CPU p50 | ask CPU p95 |")
    print("|---|---|---|---|---|---|")
    for name in pipelines:
        w, c = percentiles(wall[name]), percentiles(cpu[name])
        ratio = f"{w['p95'] / base:.2f}" if base else "-"
        print(f"| {name} | {w['p50']} | {w['p95']} | {ratio} | {c['p50']} | {c['p95']} |")


if __name__ == "__main__":
    main()
