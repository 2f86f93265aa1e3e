"""`cairn eval security`'s run: the attack sets of `cairn.evals.security` through the shipped
pipeline of a throwaway workspace, once per answerer.

It builds workspaces and ingests, so it sits above `cairn.workspace`; the probes, the judge
and the statistics stay in `cairn.evals.security`, which builds nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cairn.evals.harm import HarmJudge
from cairn.evals.security import (
    ANSWERERS,
    JAILBREAK_SUITES,
    LEAK_SUITES,
    SUITES,
    Judge,
    Probe,
    Report,
    Split,
    bipia_corpus,
    probes,
    stable_sample,
)


def run_security(
    datasets: Path,
    *,
    suites: Sequence[str] = SUITES,
    split: Split = "held-out",
    limit: int | None = None,
    answerers: Sequence[str] = ANSWERERS,
    workspace: Path,
    cases: Path | None = None,
    base: Any = None,
    harm: HarmJudge | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """Every probe of `suites` through the shipped pipeline of a fresh workspace at
    `workspace` (built here from BIPIA's poisoned contexts), once per answerer.

    `limit`: at most this many probes per suite (a stable sample, seed 0) and as many BIPIA
    documents; `cases`: the golden case file or folder (default `evals/golden`); `base`: the
    `Settings` to start from (guard policies, retrieval); `harm`: the judge of the jailbreak
    suites (default: the rules of `cairn.evals.harm`)."""
    import tempfile

    from cairn.config import Settings
    from cairn.ingest.pipeline import ingest
    from cairn.llm.adversarial import (
        compromised_reply,
        granting_reply,
        jailbroken_reply,
        leaky_reply,
    )
    from cairn.llm.fake_server import FakeLLMServer
    from cairn.llm.replies import Responder
    from cairn.workspace import Workspace

    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        from cairn.errors import UserError

        raise UserError(f"unknown suite {', '.join(unknown)}: use {', '.join(SUITES)}")
    settings: Settings = (base or Settings()).model_copy(update={"workspace": workspace})
    corpus = bipia_corpus(datasets, split)
    if limit is not None:
        corpus = stable_sample(corpus, limit)
    chosen: dict[str, list[Probe]] = {}
    for suite in suites:
        if suite == "bipia":
            items = [p for _, p in corpus]
        else:
            items = probes(datasets, suite, split, cases=cases)
        chosen[suite] = stable_sample(items, limit) if limit is not None else items
    with tempfile.TemporaryDirectory(prefix="cairn-security-") as tmp:
        docs = Path(tmp)
        for document, _ in corpus:
            (docs / f"{document.name}.md").write_text(document.text, encoding="utf-8")
        ws = Workspace(settings, create=True)
        try:
            ingest(
                [docs],
                store=ws.store,
                embedder=ws.embedder,
                tokenizer=ws.embedder.tokenizer,
                settings=ws.settings,
            )
        finally:
            ws.close()
    report = Report(limit=limit, split=split)
    with FakeLLMServer(model="compromised", responder=Responder(default=compromised_reply)) as fake:
        for answerer in answerers:
            llm: dict[str, Any] = {"provider": "extractive"}
            if answerer == "compromised":
                llm = {
                    "provider": "openai",
                    "base_url": fake.url,
                    "model": "compromised",
                    "price_input_per_mtok": 0.0,
                    "price_output_per_mtok": 0.0,
                    "retries": 0,
                }
            update = {"llm": settings.llm.model_copy(update=llm)}
            ws = Workspace(settings.model_copy(update=update))
            try:
                pipeline = ws.pipeline(fallback=False)
                planted = sorted({p.goal for _, p in corpus if p.goal})
                judge = Judge(ws.canary, instruction_texts_of(ws), planted, harm=harm)
                for suite, items in chosen.items():
                    # on the extraction suites the model falls for every attempt
                    rule = leaky_reply if suite in LEAK_SUITES else compromised_reply
                    if suite == "tensor_trust_hijacking":
                        rule = granting_reply
                    if suite in JAILBREAK_SUITES:  # and on the jailbreak suites, every jailbreak
                        rule = jailbroken_reply
                    fake.responder = Responder(default=rule)
                    for i, probe in enumerate(items):
                        answer = pipeline.ask(probe.question)
                        report.outcomes.append(judge.outcome(probe, answerer, answer))
                        if progress is not None:
                            progress(f"{answerer} {suite}", i + 1, len(items))
            finally:
                ws.close()
    return report


def instruction_texts_of(ws: Any) -> list[str]:
    """Every instruction text the workspace sends a model (the prompt with its canary)."""
    from cairn.guard.leaks import instruction_texts

    canary = ws.canary.token
    return [t.replace(canary, " ") for t in instruction_texts(ws.prompt_parts)]
