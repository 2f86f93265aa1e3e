"""Orchestration overhead: the time cairn adds around a model call, beyond the provider's own.

For each question the hits are retrieved once up front (retrieval has its own benchmark,
bench/latency.py), then `Pipeline.ask` runs with a generative answerer whose model is:

- `scripted`: the in-process scripted model (provider time ~0): everything measured is
  cairn's own work (prompt, budget reserve + settle in SQLite, marker parsing, quoting,
  citation verification, tracing hooks, ledger);
- `fake-http`: the fake OpenAI-compatible server on 127.0.0.1 with no injected latency;
  overhead = total - the provider call's own latency as the HTTP client measured it.

    .venv/bin/python bench/overhead.py --workspace bench/.cache/pydocs-ingest [--n 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn.answer.generative import GenerativeAnswerer
from cairn.answer.verify import LexicalVerifier
from cairn.budget import Budget, Limits, PriceBook
from cairn.budget.metered import MeteredProvider
from cairn.config import load_settings
from cairn.llm.base import Provider
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.openai import OpenAIProvider
from cairn.llm.scripted import ScriptedModel
from cairn.pipeline import Pipeline
from cairn.stages import LedgerSettler
from cairn.types import Filters, Hit
from cairn.workspace import Workspace
from latency import questions


class Replay:
    """A retriever returning hits computed before the timed loop."""

    def __init__(self, hits: dict[str, list[Hit]]) -> None:
        self.hits = hits

    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        return self.hits[query][:k]


class Timed:
    """Records how long each provider call took, as seen right around it."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.seconds: list[float] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def capabilities(self):  # type: ignore[no-untyped-def]
        return self.inner.capabilities

    def generate(self, messages, *, tools=(), settings=None):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return self.inner.generate(messages, tools=tools, settings=settings)
        finally:
            self.seconds.append(time.perf_counter() - t0)


def pct(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(q[49], 2), "p95": round(q[94], 2), "p99": round(q[98], 2)}


def run(name: str, inner: Provider, hits: dict[str, list[Hit]], ledger: Path) -> dict[str, object]:
    timed = Timed(inner)
    prices = PriceBook.fixed({inner.model: ("1", "2")})
    with Budget(ledger, prices=prices, limits=Limits.of(daily_usd=1000)) as budget:
        answerer = GenerativeAnswerer(MeteredProvider(timed, budget, max_output_tokens=256))
        pipeline = Pipeline(
            Replay(hits), answerer, LexicalVerifier(), k=5, settler=LedgerSettler(budget)
        )
        overhead_ms: list[float] = []
        for q in hits:
            timed.seconds.clear()
            t0 = time.perf_counter()
            pipeline.ask(q)
            total = time.perf_counter() - t0
            overhead_ms.append((total - sum(timed.seconds)) * 1000)
    return {"model": name, "requests": len(overhead_ms), "overhead_ms": pct(overhead_ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("bench/.cache/pydocs-ingest"))
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--json-out", type=Path, default=Path("bench/results/overhead.json"))
    args = parser.parse_args()
    ws = Workspace(load_settings(workspace=args.workspace))
    retriever = ws.retriever()
    hits = {q: retriever.retrieve(q, 5) for q in questions(args.workspace, args.n)}
    ws.close()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run("scripted", ScriptedModel(), hits, Path(tmp) / "a.db"))
        with FakeLLMServer() as fake:
            client = OpenAIProvider("fake", base_url=fake.url, api_key="k")
            with client:
                results.append(run("fake-http", client, hits, Path(tmp) / "b.db"))
    for row in results:
        print(f"{row['model']:>10}: {row['requests']} requests, overhead ms {row['overhead_ms']}")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
