"""A model's answers judged on evidence: attribution alone against attribution + the
answerability check (`cairn.answer.evidence`), in the same run on the same hits.

    .venv/bin/python bench/llm_evidence.py --workspace WS [--cases evals/golden]

The golden set's single-turn questions: the answerable ones whose gold pages are in the
workspace, and the unanswerable ones. Scripted models answer them
(`cairn.llm.adversarial.miscited`): `honest` (cairn's RAG stand-in: quotes the passages'
best sentences, cited), `no markers`, `paraphrase` (the same facts in other words, no
markers), and `fluent` (a confident answer restating the first passage, whatever the
question: what a small model does when the passages do not hold the answer). Each runs
through the workspace's model stages (context assembly, post-hoc attribution, the
unsupported-answer policy) without the evidence check, and with it judging the passages
given to the model (`answer.evidence_scope = "given"`, the default) or only the cited ones.

Prints, per model and pipeline: answerable questions answered (kept), and of those citing a
gold page; unanswerable questions withheld; the evidence check's time (p50 / p95 ms).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

from cairn.answer.base import Draft
from cairn.answer.evidence import AnswerabilityCheck, EvidenceCheck, KeepAnswer
from cairn.answer.generative import GenerativeAnswerer
from cairn.answer.prompt import parse_prompt
from cairn.answer.verify import CitationVerifier
from cairn.config import Settings
from cairn.evals.cases import Case, load_cases
from cairn.llm.adversarial import miscited
from cairn.llm.replies import Request, Rule
from cairn.llm.scripted import ScriptedModel
from cairn.pipeline import Pipeline
from cairn.types import Hit
from cairn.workspace import Workspace


def fluent(request: Request) -> str:
    """The first passage's first sentence, as the answer, cited."""
    parsed = parse_prompt(request.last_user)
    if parsed is None:
        return "INSUFFICIENT_CONTEXT"
    passages, _ = parsed
    first = re.split(r"(?<=[.!?])\s+", " ".join(passages[min(passages)].split()))[0]
    return f"{first} [1]"


MODELS: tuple[tuple[str, Rule | None], ...] = (
    ("honest", None),
    ("no markers", miscited("none")),
    ("paraphrase", miscited("paraphrase")),
    ("fluent", fluent),
)


class Timed:
    def __init__(self, check: EvidenceCheck) -> None:
        self.check_ = check
        self.seconds: list[float] = []

    def check(self, question: str, draft: Draft, hits: list[Hit]) -> Draft:
        started = time.perf_counter()
        out = self.check_.check(question, draft, hits)
        self.seconds.append(time.perf_counter() - started)
        return out


def sources(case: Case) -> set[str]:
    return {s.source for s in case.gold.sources} if case.gold else set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--cases", type=Path, default=Path("evals/golden"))
    args = parser.parse_args()
    ws = Workspace(Settings(workspace=args.workspace))
    present = {d.source for d in ws.store.documents()}
    cases = [c for c in load_cases(args.cases) if not c.history]
    answerable = [c for c in cases if c.expect == "answer" and sources(c) and sources(c) <= present]
    unanswerable = [c for c in cases if c.expect == "abstain"]
    retriever = ws.retriever()
    asked = answerable + unanswerable
    hits_of = {c.question: retriever.retrieve(c.question, ws.settings.retrieve.k) for c in asked}

    class Cached:  # retrieval once per question: every pipeline sees the same hits
        def retrieve(self, query: str, k: int, filters: object = None) -> list[Hit]:
            return hits_of[query]

    print(f"{len(answerable)} answerable, {len(unanswerable)} unanswerable questions")
    print(
        "| model | pipeline | answerable kept | kept citing a gold page | unanswerable withheld "
        "| check p50 / p95 ms |"
    )
    print("|---|---|---|---|---|---|")
    for label, rule in MODELS:
        for name in ("attribution", "+ evidence (given)", "+ evidence (cited)"):
            verifier = CitationVerifier(ws.embedder, store=ws.store)
            assembler, attributor = ws.model_stages(True, verifier)
            built = ws.evidence_check(True)
            assert isinstance(built, AnswerabilityCheck)
            scope = "cited" if "cited" in name else "given"
            shipped = AnswerabilityCheck(built.answerability, built.threshold, scope=scope)
            check = Timed(shipped if name != "attribution" else KeepAnswer())
            model = ScriptedModel() if rule is None else ScriptedModel(default=rule)
            pipeline = Pipeline(
                Cached(),  # type: ignore[arg-type]
                GenerativeAnswerer(model, require_citations=False),
                verifier,
                k=ws.settings.retrieve.k,
                assembler=assembler,
                attributor=attributor,
                evidence=check if name != "attribution" else KeepAnswer(),
            )
            kept = gold = withheld = 0
            for c in answerable:
                answer = pipeline.ask(c.question)
                if not answer.abstained:
                    kept += 1
                    gold += bool(sources(c) & {cit.source for cit in answer.citations})
            for c in unanswerable:
                withheld += pipeline.ask(c.question).abstained
            times = sorted(s * 1000 for s in check.seconds) or [0.0]
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            print(
                f"| {label} | {name} | {kept}/{len(answerable)} | {gold}/{max(kept, 1)} "
                f"| {withheld}/{len(unanswerable)} | {statistics.median(times):.1f} / {p95:.1f} |"
            )
    ws.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
