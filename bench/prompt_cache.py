"""Prompt caching, modelled: what the golden questions and a three-step chain cost with and
without the providers' prompt caches, at list prices, and the chain's time to first token.

Everything goes over HTTP to cairn's fake server (`FakeLLMServer(prompt_cache=True)`),
which reports cache usage the way each provider does: OpenAI's automatic prefix cache
(`prompt_tokens_details.cached_tokens`, 128-token steps from 1,024 tokens; reads at the
model's cache-read price, no write charge) and Anthropic's `cache_control` breakpoints
(`cache_read_input_tokens` / `cache_creation_input_tokens`, from 1,024 tokens; reads at a
tenth of the input price, writes at 1.25 times it). The real adapters send the requests
and the real budget prices what comes back (gpt-4o and claude-sonnet-4-5 list prices).
Each variant starts with an empty cache. The fake server models prefill: the time to the
first token is `ttft` plus one second per `--prefill-tps` uncached prompt tokens (cached
ones are free), so the latency column is a model of the provider, not a measurement of it.

Traffic:
- golden: each golden question answered once (cairn's answer prompt: instructions in the
  system turn, then the retrieved passages, then the question); Anthropic with the default
  `llm.prompt_cache = "auto"` (a breakpoint after the instructions) against `off`;
- epochs: each golden question answered three times in a row, the prompts repeated exactly
  (what `cairn eval run --epochs 3` sends with the answer cache off); Anthropic with
  `prompt_cache = "all"`;
- chain: per golden question, rewrite -> answer -> judge, the judge continuing the answer's
  conversation (the answer prompt, the answer, then the rubric), so its prompt starts with
  the answer's; Anthropic with `prompt_cache = "all"` (every last turn marked) against `off`;
- agent: per golden question, a run of cairn's agent (`cairn.agent.Agent`, its system prompt
  and built-in tools) that searches twice and then answers: three model calls, each
  resending the conversation so far; Anthropic with the default `auto` against `off`.

    .venv/bin/python bench/prompt_cache.py --workspace WS [--prefill-tps 20000]

Target (issue 15): prompt caching cuts modelled input cost by >= 50% on repeated-prefix
traffic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from cairn.answer.generative import GenerativeAnswerer
from cairn.budget.metered import MeteredProvider
from cairn.budget.prices import PriceBook
from cairn.budget.reservations import Budget
from cairn.config import load_settings
from cairn.conversation.rewrite import INSTRUCTIONS, render
from cairn.evals.cases import load_cases
from cairn.evals.judge import JUDGE_FORMAT, JUDGE_RUBRIC
from cairn.llm.anthropic import AnthropicProvider
from cairn.llm.base import Message, ModelSettings, Provider, StreamingProvider, TextDelta
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.openai import OpenAIProvider
from cairn.llm.replies import Reply, Request, Responder
from cairn.types import Hit, Usage
from cairn.workspace import Workspace

MODELS = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-5"}
EPOCHS = 3
JUDGE_ASK = (
    f"{JUDGE_RUBRIC}\n\nGrade the answer you just wrote to the question above, against the "
    f"passages above as the reference.\n\n{JUDGE_FORMAT}"
)


def _rules(request: Request) -> Reply | str | None:
    if request.tools:  # the agent: two searches, then the answer
        done = sum(1 for m in request.messages if m.role == "tool")
        task = next(m.content for m in request.messages if m.role == "user")
        if done < 2:
            query = task if done == 0 else f"{task} example"
            return Reply.call("search_docs", {"query": query[:200], "k": 5}, id=f"call{done}")
        return "The passages answer it."
    if request.system.startswith(INSTRUCTIONS[:40]):
        return request.last_user.rsplit("\n", 2)[-1][:200] or "query"
    if request.last_user.startswith(JUDGE_RUBRIC[:40]):
        return '{"score": 3, "reason": "supported by the passages"}'
    return None


@dataclass
class Tally:
    usage: list[Usage] = field(default_factory=list)
    ttft: dict[str, list[float]] = field(default_factory=dict)

    def input_cost(self, price_book: PriceBook, model: str, cached: bool) -> Decimal:
        p = price_book.price(model)
        total = Decimal(0)
        for u in self.usage:
            if not cached:
                total += u.input_tokens * p.input_per_mtok
                continue
            uncached = u.input_tokens - u.cache_read_tokens - u.cache_write_tokens
            total += uncached * p.input_per_mtok
            total += u.cache_read_tokens * (p.cache_read_per_mtok or p.input_per_mtok)
            total += u.cache_write_tokens * (p.cache_write_per_mtok or p.input_per_mtok)
        return total / Decimal(1_000_000)


def _stream(
    provider: Provider, messages: list[Message], settings: ModelSettings
) -> tuple[str, float]:
    assert isinstance(provider, StreamingProvider)
    started = time.perf_counter()
    first = None
    text = ""
    for event in provider.stream(messages, settings=settings):
        if isinstance(event, TextDelta):
            if first is None:
                first = time.perf_counter() - started
            text += event.text
    return text, (first if first is not None else time.perf_counter() - started) * 1000


def run_variant(
    kind: str,
    caching: bool,
    traffic: str,
    questions: Sequence[tuple[str, list[Hit]]],
    budget: Budget,
    prefill_tps: float,
    ws: Workspace,
) -> tuple[Tally, Decimal]:
    model = MODELS[kind]
    tally = Tally()
    responder = Responder(rules=[_rules])
    with FakeLLMServer(
        model=model, prompt_cache=caching, ttft=0.005, prefill_tps=prefill_tps, responder=responder
    ) as server:
        raw: Provider
        if kind == "openai":
            raw = OpenAIProvider(model, base_url=server.url, api_key="")
        else:
            mode = ("all" if traffic in ("chain", "epochs") else "auto") if caching else "off"
            raw = AnthropicProvider(
                model,
                base_url=server.anthropic_url,
                api_key="k",
                prompt_cache=mode,  # type: ignore[arg-type]
            )
        metered = MeteredProvider(raw, budget, max_output_tokens=400)
        feature = f"{kind}-{traffic}-{'on' if caching else 'off'}"
        answerer = GenerativeAnswerer(metered)
        before = len(budget.entries())
        from cairn.context import request_context

        with request_context(feature=feature):
            if traffic == "agent":
                from cairn.agent.builtin import builtin_tools
                from cairn.agent.loop import Agent
                from cairn.agent.store import AgentStore

                with AgentStore(ws.root / f"agent-{feature}.db", durable=False) as runs:
                    agent = Agent(metered, builtin_tools(ws.root, ws.retriever()), runs)
                    for question, _ in questions:
                        agent.start(question)
            for question, hits in questions if traffic != "agent" else ():
                if traffic in ("golden", "epochs"):
                    for _ in range(EPOCHS if traffic == "epochs" else 1):
                        answerer.answer(question, hits)
                    continue
                _, ms = _stream(
                    metered,
                    [Message.system(INSTRUCTIONS), Message.user(render(question, []))],
                    ModelSettings(max_tokens=96, temperature=0.0),
                )
                tally.ttft.setdefault("rewrite", []).append(ms)
                prompt = answerer.messages(question, hits)
                answer, ms = _stream(metered, prompt, ModelSettings())
                tally.ttft.setdefault("answer", []).append(ms)
                judge = [*prompt, Message.assistant(answer), Message.user(JUDGE_ASK)]
                _, ms = _stream(metered, judge, ModelSettings(max_tokens=100))
                tally.ttft.setdefault("judge", []).append(ms)
        entries = budget.entries()[before:]
        close = getattr(raw, "close", None)
        if callable(close):
            close()
    tally.usage = [
        Usage(
            input_tokens=e.input_tokens,
            output_tokens=e.output_tokens,
            cache_read_tokens=e.cache_read_tokens,
            cache_write_tokens=e.cache_write_tokens,
        )
        for e in entries
    ]
    return tally, sum((e.cost_usd for e in entries), Decimal(0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--cases", type=Path, default=Path("evals/golden"))
    parser.add_argument("--prefill-tps", type=float, default=20_000.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=3, help="repeats of the epochs traffic")
    parser.add_argument(
        "--traffic", nargs="+", default=["golden", "epochs", "chain", "agent"], help="which"
    )
    parser.add_argument("--providers", nargs="+", default=list(MODELS), help="which")
    args = parser.parse_args()

    cases = [c for c in load_cases(args.cases) if "adversarial" not in c.tags]
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="cairn-prompt-cache-") as tmp:
        root = Path(tmp) / "ws"
        shutil.copytree(args.workspace, root)
        ws = Workspace(load_settings(workspace=root))
        retriever = ws.retriever()
        questions = [(c.question, retriever.retrieve(c.question, 5)) for c in cases]
        questions = [(q, h) for q, h in questions if h]
        prices = PriceBook()
        budget = Budget(root / "bench-ledger.db", prices=prices)
        print(
            f"{len(questions)} golden questions with evidence ({args.cases}, adversarial left "
            f"out), k=5, prefill {args.prefill_tps:,.0f} uncached tokens/s, {dt.date.today()}"
        )
        print()
        print(
            "| provider (model) | traffic | requests | cost / 1,000 (off -> on) | "
            "input cost saved | cached share of input | TTFT p50 ms rewrite / answer / judge "
            "(off -> on) |"
        )
        print("|---|---|---:|---|---:|---:|---|")
        global EPOCHS
        EPOCHS = args.epochs
        for kind in args.providers:
            for traffic in args.traffic:
                tps = args.prefill_tps
                off, off_cost = run_variant(kind, False, traffic, questions, budget, tps, ws)
                on, on_cost = run_variant(kind, True, traffic, questions, budget, tps, ws)
                model = MODELS[kind]
                in_off = off.input_cost(prices, model, cached=False)
                in_on = on.input_cost(prices, model, cached=True)
                saved = 1 - in_on / in_off if in_off else Decimal(0)
                tokens = sum(u.input_tokens for u in on.usage)
                share = sum(u.cache_read_tokens for u in on.usage) / tokens if tokens else 0.0
                n = len(questions)
                ttft = ""
                if traffic == "chain":
                    medians = [
                        (statistics.median(off.ttft[s]), statistics.median(on.ttft[s]))
                        for s in ("rewrite", "answer", "judge")
                    ]
                    ttft = " / ".join(f"{a:.0f} -> {b:.0f}" for a, b in medians)
                print(
                    f"| {kind} ({model}) | {traffic} | {len(on.usage)} | "
                    f"${off_cost / n * 1000:.4f} -> ${on_cost / n * 1000:.4f} | {saved:.1%} | "
                    f"{share:.1%} | {ttft or '-'} |"
                )
                results[f"{kind}-{traffic}"] = {
                    "model": model,
                    "requests": len(on.usage),
                    "per_1000_questions_usd": {
                        "off": float(off_cost / n * 1000),
                        "on": float(on_cost / n * 1000),
                    },
                    "input_cost_saved": float(saved),
                    "cached_share": share,
                    "ttft_p50_ms": {
                        s: {
                            "off": statistics.median(off.ttft[s]),
                            "on": statistics.median(on.ttft[s]),
                        }
                        for s in off.ttft
                    },
                }
        budget.close()
        ws.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
