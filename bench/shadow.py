"""Shadow A/B on the golden set: every request answered by the strong model is also sent
to a candidate (the cheap model) off the request path, and `cairn eval shadow`'s paired
comparison is printed, with what each side cost.

Same models and workspace as bench/routing.py: scripted models answering cairn's prompt
from the passages, priced at gpt-4o (answering) and gpt-4o-mini (candidate) list prices by
the real budget, the candidate with each modelled quality gap (`mild`, `harsh`). Both
answers are scored by the pipeline's verifier and graded against the evidence by the
deterministic overlap grader (`OverlapJudge`; a model judge is `shadow.judge = true`).

    .venv/bin/python bench/shadow.py --workspace WS
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn.answer.generative import GenerativeAnswerer
from cairn.answer.verify import CitationVerifier
from cairn.budget.metered import MeteredProvider
from cairn.budget.reservations import Budget
from cairn.config import load_settings
from cairn.evals.cases import load_cases
from cairn.evals.judge import OverlapJudge
from cairn.llm.replies import RagReply
from cairn.llm.scripted import ScriptedModel
from cairn.pipeline import Pipeline
from cairn.shadow import FEATURE, ShadowStage, ShadowStore, compare
from cairn.workspace import Workspace
from routing import CHEAP, GAPS, STRONG


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--cases", type=Path, default=Path("evals/golden"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    questions = [c.question for c in load_cases(args.cases) if "adversarial" not in c.tags]
    out: dict[str, object] = {}
    print(f"{len(questions)} golden questions (adversarial left out), {dt.date.today()}")
    with tempfile.TemporaryDirectory(prefix="cairn-shadow-") as tmp:
        root = Path(tmp) / "ws"
        shutil.copytree(args.workspace, root)
        settings = load_settings(workspace=root)
        ws = Workspace(settings)
        budget = Budget(root / "bench-ledger.db", prices=ws.budget.prices)
        verifier = CitationVerifier(ws.embedder, store=ws.store)
        retriever = ws.retriever()
        strong = GenerativeAnswerer(
            MeteredProvider(ScriptedModel(default=RagReply(max_sentences=3), model=STRONG), budget)
        )
        for gap, reply in GAPS.items():
            store = ShadowStore(root / f"shadow-{gap}.db")
            candidate = MeteredProvider(
                ScriptedModel(default=reply, model=CHEAP), budget, feature=FEATURE
            )
            stage = ShadowStage(
                GenerativeAnswerer(candidate),
                verifier,
                store,
                fraction=1.0,
                candidate_model=CHEAP,
                primary_model=STRONG,
                grader=OverlapJudge(),
                max_pending=len(questions) + 1,
            )
            pipeline = Pipeline(retriever, strong, verifier, k=settings.retrieve.k, shadow=stage)
            for q in questions:
                pipeline.ask(q)
            stage.close()
            report = compare(store.pairs())
            store.close()
            print()
            print(f"candidate {CHEAP} ({gap} gap) vs answering {STRONG}: {report.pairs} pairs")
            print()
            print("| metric | n | answering | candidate | diff | 95% CI | p |")
            print("|---|---:|---:|---:|---:|---|---:|")
            for m in report.metrics:
                print(
                    f"| {m.name} | {m.n} | {m.primary:.3f} | {m.candidate:.3f} | {m.diff:+.3f} | "
                    f"[{m.low:+.3f}, {m.high:+.3f}] | {m.p:.4f} |"
                )
            data = report.as_json()
            per = data["cost_per_request_usd"]
            print()
            print(
                f"cost per request: answering ${per['primary']:.6f}, "
                f"candidate ${per['candidate']:.6f}"
            )
            out[gap] = data
        budget.close()
        ws.close()
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
