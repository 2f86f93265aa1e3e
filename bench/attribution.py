"""Model answers that cite badly, with and without post-hoc attribution and context assembly.

    .venv/bin/python bench/attribution.py --workspace WS [--cases evals/golden] [--limit N]

The golden set's answerable single-turn questions whose gold pages are in the workspace,
answered by scripted models (`cairn.llm.adversarial.miscited`) that reproduce what real
open-weight models do: cite honestly, write no markers, lump them at the end, cite numbers
they were not given, copy the prompt's example sentence, or answer in other words without
markers. Each model runs through three pipelines in the same run, on the same retrieved hits
and a fresh verifier each (nothing embedded by one row is reused by another):

- `before`: the generative answerer as it was (every hit given to the model; an answer
  with no usable marker abstains), no attribution;
- `attribute only`: post-hoc attribution with the unsupported-answer policy, every hit given;
- `after`: the workspace's model stages (`Workspace.model_stages`): context assembly within
  `answer.context_tokens`, post-hoc attribution with the unsupported-answer policy.

Prints, per model and pipeline: answers kept (not abstained), kept answers with every
sentence cited, citations verified, kept answers citing a gold page, and the attribute and
assemble stages' own time (p50/p95 ms). Then, for context assembly alone: the share of the
questions' checkpoints (the facts a right answer states) found in the passages the model is
given, and their size, for the retrieved hits as they are and assembled. The copied prompt
example should be withheld, the others kept. No output guard runs (it would also withhold
the prompt example).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from cairn.answer.assembly import ContextAssembler, KeepHits
from cairn.answer.attribute import Attributor, KeepCitations
from cairn.answer.base import Draft
from cairn.answer.generative import GenerativeAnswerer
from cairn.answer.segments import answer_units
from cairn.answer.verify import CitationVerifier, is_claim
from cairn.config import Settings
from cairn.evals.cases import Case, load_cases
from cairn.evals.metrics import checkpoint_hits
from cairn.llm.adversarial import CitationStyle, miscited
from cairn.llm.replies import Rule
from cairn.llm.scripted import ScriptedModel
from cairn.llm.tokens import estimate_tokens
from cairn.pipeline import Pipeline
from cairn.types import Answer, Hit
from cairn.workspace import Workspace

MODELS: list[tuple[str, CitationStyle | None]] = [
    ("honest", None),
    ("no markers", "none"),
    ("lumped markers", "lumped"),
    ("out-of-range numbers", "out_of_range"),
    ("other words, no markers", "paraphrase"),
    ("copied prompt example", "prompt_example"),
]


@dataclass
class Timed:
    """Wraps a stage's one method and records its time."""

    inner: object
    seconds: list[float] = field(default_factory=list)

    def attribute(self, draft: Draft, hits: list[Hit]) -> Draft:
        started = time.perf_counter()
        out: Draft = self.inner.attribute(draft, hits)  # type: ignore[attr-defined]
        self.seconds.append(time.perf_counter() - started)
        return out

    def assemble(self, question: str, hits: list[Hit]) -> list[Hit]:
        started = time.perf_counter()
        out: list[Hit] = self.inner.assemble(question, hits)  # type: ignore[attr-defined]
        self.seconds.append(time.perf_counter() - started)
        return out


def fully_cited(answer: Answer) -> bool:
    text = answer.text
    claims = [u for u in answer_units(text) if is_claim(text[u.start : u.end])]
    return bool(claims) and all(u.numbers for u in claims)


def gold_sources(case: Case) -> set[str]:
    return {s.source for s in case.gold.sources} if case.gold is not None else set()


def ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--cases", type=Path, default=Path("evals/golden"))
    parser.add_argument("--limit", type=int, default=0, help="at most this many questions")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    ws = Workspace(Settings(workspace=args.workspace))
    present = {d.source for d in ws.store.documents()}
    cases = [
        c
        for c in load_cases(args.cases)
        if c.expect == "answer" and not c.history and gold_sources(c) and gold_sources(c) <= present
    ]
    if args.limit:
        cases = cases[: args.limit]
    retriever = ws.retriever()
    hits_of = {c.id: retriever.retrieve(c.question, ws.settings.retrieve.k) for c in cases}

    class Cached:  # retrieval once per question: both pipelines see the same hits
        def retrieve(self, query: str, k: int, filters: object = None) -> list[Hit]:
            return next(hits_of[c.id] for c in cases if c.question == query)

    print(f"{len(cases)} answerable questions with gold pages in the workspace")
    print(
        "| model | pipeline | kept | every sentence cited | citations verified "
        "| cites a gold page | attribute p50/p95 ms | assemble p50/p95 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    results: list[dict[str, object]] = []
    for label, style in MODELS:
        for name in ("before", "attribute only", "after"):
            rule: Rule | None = None if style is None else miscited(style)
            model = ScriptedModel() if rule is None else ScriptedModel(default=rule)
            assembler: ContextAssembler = KeepHits()
            attributor: Attributor = KeepCitations()
            verifier = CitationVerifier(ws.embedder, store=ws.store)  # nothing remembered
            if name != "before":
                assembler, attributor = ws.model_stages(True, verifier)
            if name == "attribute only":
                assembler = KeepHits()
            timed_attr, timed_asm = Timed(attributor), Timed(assembler)
            pipeline = Pipeline(
                Cached(),  # type: ignore[arg-type]
                GenerativeAnswerer(model, require_citations=name == "before"),
                verifier,
                k=ws.settings.retrieve.k,
                assembler=timed_asm if name == "after" else assembler,
                attributor=timed_attr if name != "before" else attributor,
            )
            answers = [(c, pipeline.ask(c.question)) for c in cases]
            kept = [(c, a) for c, a in answers if not a.abstained]
            citations = [cit for _, a in kept for cit in a.citations]
            row = {
                "model": label,
                "pipeline": name,
                "questions": len(cases),
                "kept": len(kept) / len(cases),
                "fully_cited": sum(fully_cited(a) for _, a in kept) / max(1, len(kept)),
                "verified": sum(bool(c.verified) for c in citations) / max(1, len(citations)),
                "gold_cited": sum(
                    bool(gold_sources(c) & {cit.source for cit in a.citations}) for c, a in kept
                )
                / max(1, len(kept)),
                "attribute_ms": (ms(timed_attr.seconds, 0.5), ms(timed_attr.seconds, 0.95)),
                "assemble_ms": (ms(timed_asm.seconds, 0.5), ms(timed_asm.seconds, 0.95)),
            }
            results.append(row)
            print(
                f"| {label} | {name} | {len(kept)}/{len(cases)} | {row['fully_cited']:.3f} "
                f"| {row['verified']:.3f} | {row['gold_cited']:.3f} "
                f"| {fmt(timed_attr.seconds)} | {fmt(timed_asm.seconds)} |"
            )
    results.append(context_table(ws, cases, hits_of))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    ws.close()
    return 0


def context_table(
    ws: Workspace, cases: list[Case], hits_of: dict[str, list[Hit]]
) -> dict[str, object]:
    """What the model is given: the retrieved hits as they are, or assembled."""
    assembler, _ = ws.model_stages(True)
    print()
    print("| passages given | checkpoints in the passages | tokens p50 | passages p50 |")
    print("|---|---|---|---|")
    out: dict[str, object] = {}
    for label, assemble in (
        ("retrieved hits as they are", lambda c: hits_of[c.id]),
        (
            f"assembled ({ws.settings.answer.context_tokens} tokens)",
            lambda c: assembler.assemble(c.question, hits_of[c.id]),
        ),
    ):
        found, tokens, counts = [], [], []
        for case in cases:
            passages = assemble(case)
            text = "\n".join(h.chunk.text for h in passages)
            found.extend(checkpoint_hits(text, case.checkpoints))
            tokens.append(sum(estimate_tokens(h.chunk.text) for h in passages))
            counts.append(len(passages))
        share = sum(found) / max(1, len(found))
        print(
            f"| {label} | {share:.3f} ({sum(found)}/{len(found)}) "
            f"| {statistics.median(tokens):.0f} | {statistics.median(counts):.0f} |"
        )
        out[label] = {"checkpoints": share, "tokens_p50": statistics.median(tokens)}
    return out


def fmt(seconds: list[float]) -> str:
    if not seconds:
        return "-"
    return f"{ms(seconds, 0.5):.1f} / {ms(seconds, 0.95):.1f}"


if __name__ == "__main__":
    raise SystemExit(main())
