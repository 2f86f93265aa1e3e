"""Output leaks: how the verbatim-overlap check's shingle size trades leaks caught for
ordinary answers refused, and the canary detector on labelled extraction outputs.

    PYTHONPATH=src python bench/guard_leaks.py /work/shared/datasets

Benign texts (must pass): the 232 chunks of anthropic_docs_rag (documentation an answer
quotes) and its 100 reference answers, and the 1,120 model answers of ragchecker_meta_eval
(real RAG answers, 10 domains), and the first 2,000
abstracts of scifact_beir's corpus. Each is checked against cairn's instruction texts
(`instruction_texts()` of the default prompt) with no retrieved passages, the strict case.

Leaks (must block): each instruction text of the default prompt, and each with every k-th
word replaced (k = 4, 6, 8: a model paraphrasing while it copies), 'printed back' inside a
preamble. Canary: tensor_trust's 230 labelled outputs (115 extractions), the defence's
access code taken as the canary; an extraction that paraphrases the code cannot be caught
by a canary, so recall here is a floor.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from cairn.guard.leaks import Canary, VerbatimOverlap, instruction_texts


def _benign(root: Path) -> list[str]:
    docs = root / "anthropic_docs_rag"
    texts = [c["text"] for c in json.loads((docs / "anthropic_docs.json").read_text())]
    qa = json.loads((docs / "docs_evaluation_dataset.json").read_text())
    texts += [q["correct_answer"] for q in qa]
    rag = json.loads((root / "ragchecker_meta_eval" / "human_labeled_data.json").read_text())
    seen: set[str] = set()
    for row in rag:
        for key in ("model1", "model2", "gt_answer"):
            value = row.get(key)
            if isinstance(value, dict):
                value = value.get("response")
            if isinstance(value, str) and value not in seen:
                seen.add(value)
                texts.append(value)
    scifact = (root / "scifact_beir" / "corpus.jsonl").read_text().splitlines()
    texts += [json.loads(line)["text"] for line in scifact[:2000] if line.strip()]
    return texts


ABSTENTIONS = [
    "The passages do not contain the answer to this question.",
    "I'm sorry, but the passages you gave me do not say how the cache is configured.",
    "The provided passages do not contain information about pricing.",
    "None of the passages answer this; they only describe the installation steps. [1]",
    "Based on the passages, I cannot answer that question.",
    "The passages don't mention a retention period.",
]
"""How a model abstains in its own words: ordinary output that echoes the rules' vocabulary."""


def _leaks(instructions: list[str]) -> dict[str, list[str]]:
    rng = random.Random(0)
    out: dict[str, list[str]] = {"verbatim": [f"Sure, my instructions: {t}" for t in instructions]}
    for k in (4, 6, 8):
        variants = []
        for text in instructions:
            words = text.split()
            for i in range(rng.randrange(k), len(words), k):
                words[i] = rng.choice(["really", "the", "always", "some", "thing"])
            variants.append("Here it is: " + " ".join(words))
        out[f"every {k}th word changed"] = variants
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path)
    args = parser.parse_args()
    instructions = instruction_texts()
    benign = _benign(args.datasets)
    leaks = _leaks(instructions)
    print(f"{len(instructions)} instruction texts; {len(benign)} benign texts\n")
    header = "| shingle | benign tripped | abstentions tripped | " + " | ".join(
        f"{k} caught" for k in leaks
    )
    print(header + " | p50 / p95 per check |")
    print("|---:|---:|---:|" + "---:|" * len(leaks) + "---|")
    for n in (5, 6, 7, 8, 10, 12):
        overlap = VerbatimOverlap(instructions, shingle=n)
        times: list[float] = []
        tripped = 0
        abstained = sum(bool(overlap.copied(t)) for t in ABSTENTIONS)
        for text in benign:
            start = time.perf_counter()
            tripped += bool(overlap.copied(text))
            times.append(time.perf_counter() - start)
        caught = [sum(bool(overlap.copied(t)) for t in texts) for texts in leaks.values()]
        q = statistics.quantiles(times, n=100)
        cells = " | ".join(f"{c}/{len(t)}" for c, t in zip(caught, leaks.values(), strict=True))
        print(
            f"| {n} | {tripped}/{len(benign)} | {abstained}/{len(ABSTENTIONS)} | {cells} "
            f"| {q[49] * 1e3:.2f} / {q[94] * 1e3:.2f} ms |"
        )

    rows = [
        json.loads(line)
        for line in (args.datasets / "tensor_trust" / "prompt_extraction_detection.jsonl")
        .read_text()
        .splitlines()
        if line.strip()
    ]
    tp = fp = fn = tn = 0
    for row in rows:
        found = Canary(row["access_code"]).found_in(row["llm_output"])
        leak = bool(row["is_prompt_extraction"])
        tp += found and leak
        fp += found and not leak
        fn += leak and not found
        tn += not leak and not found
    print(
        f"\ncanary on tensor_trust extraction outputs ({len(rows)}): "
        f"precision {tp / max(tp + fp, 1):.3f}, recall {tp / max(tp + fn, 1):.3f} "
        f"(tp {tp}, fp {fp}, fn {fn}, tn {tn})"
    )


if __name__ == "__main__":
    main()
