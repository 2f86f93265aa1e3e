"""Reversible PII placeholders (`guard.pii_placeholders`): the time they add to a model call.

    PYTHONPATH=src python bench/guard_placeholders.py /work/shared/datasets [--prompts 100]

Each prompt is the shipped system prompt and a user turn of 5 passages and a question, as
`PromptParts.messages` lays them out: the 100 questions of anthropic_docs_rag with 5 of its
documentation chunks (little personal data), and 100 prompts of 5 presidio_synth_pii
`generated_large` sentences (dense personal data). Per prompt, in the same process:

- `placeholders`: `pseudonymise_messages` (what goes out) + `restore` of a reply that echoes
  the user turn (what comes back), the work `PlaceholderProvider` adds to a call;
- `redact` (peer): `PIIDetector.redact` over the same messages, the detection `guard.pii =
  redact` does on a text of that size.

Times are CPU-bound wall times per prompt after a warm-up (the detector's load is not counted).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from cairn.answer.prompt import PromptParts
from cairn.guard.pii import PIIDetector, restore
from cairn.guard.placeholders import pseudonymise_messages
from cairn.llm.base import Message


def prompts(root: Path, n: int) -> dict[str, list[list[Message]]]:
    system = PromptParts().system_prompt()
    rng = random.Random(0)

    def messages(passages: list[str], question: str) -> list[Message]:
        body = "\n".join(f'<passage n="{i}">{p}</passage>' for i, p in enumerate(passages, 1))
        return [Message.system(system), Message.user(f"{body}\n\nQuestion: {question}")]

    docs = json.loads((root / "anthropic_docs_rag" / "anthropic_docs.json").read_text())
    questions = json.loads(
        (root / "anthropic_docs_rag" / "docs_evaluation_dataset.json").read_text()
    )
    chunks = [str(d["text"])[:1500] for d in docs]
    synth = json.loads((root / "presidio_synth_pii" / "generated_large.json").read_text())
    sentences = [str(s["full_text"]) for s in synth]
    return {
        "anthropic_docs_rag (5 chunks)": [
            messages(rng.sample(chunks, 5), str(q["question"])) for q in questions[:n]
        ],
        "presidio synth (5 sentences)": [
            messages(rng.sample(sentences, 5), "Who do I contact?") for _ in range(n)
        ],
    }


def timed(fn: object, runs: list[list[Message]]) -> list[float]:
    out = []
    for msgs in runs:
        start = time.perf_counter()
        fn(msgs)  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1e3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path)
    parser.add_argument("--prompts", type=int, default=100)
    args = parser.parse_args()
    detector = PIIDetector()
    detector.find("warm up: jo@example.com, +1 415 555 0134")

    def placeholders(msgs: list[Message]) -> None:
        sent, mapping = pseudonymise_messages(detector, msgs)
        restore(sent[-1].content, mapping)

    def redact(msgs: list[Message]) -> None:
        for m in msgs:
            detector.redact(m.content)

    print("| prompts | n | placeholders p50 / p95 ms | redact (peer) p50 / p95 ms | ratio p50 |")
    print("|---|---:|---|---|---:|")
    for name, runs in prompts(args.datasets, args.prompts).items():
        placeholders(runs[0])  # warm
        a, b = timed(placeholders, runs), timed(redact, runs)
        qa, qb = statistics.quantiles(a, n=100), statistics.quantiles(b, n=100)
        sent = [pseudonymise_messages(detector, r)[1] for r in runs]
        held = statistics.mean(len(m) for m in sent)
        print(
            f"| {name}, {held:.1f} values per prompt | {len(runs)} | {qa[49]:.1f} / {qa[94]:.1f} "
            f"| {qb[49]:.1f} / {qb[94]:.1f} | {qa[49] / qb[49]:.2f} |"
        )


if __name__ == "__main__":
    main()
