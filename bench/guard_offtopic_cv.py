"""Choose the chunk head's off-topic weight on train data, attack categories held out.

    nice -n 5 .venv/bin/python bench/guard_offtopic_cv.py --datasets ../shared/datasets

bipia's test attacks come from categories its train attacks do not have, so the weight is
chosen the same way: the train attack categories are split in two by a hash of their name;
for each fold the chunk head is trained as `train_injection_guard.py --units` trains it, but
with one half's attacks only, and judged on the other half's attacks planted (3 per context,
seeded) in the calibration contexts (bipia train, buckets 8-9), reflowed and cut into
900-character pieces as in the ingest bench. The threshold is calibrated per group on the same
clean calibration documents as the trainer's (bipia train buckets 8-9, scifact bucket 7,
training Python docs) at each false-positive rate. Printed: the share of injected pieces
flagged (rules or model) for each weight, fold and rate, and the mean over folds and rates.
Nothing from bipia's test split is read.

With `--semantic`, the same folds judge a semantic variant instead: each unit's logit plus W
times one minus the cosine between the unit's MiniLM embedding and its whole piece's (units of
under four words count as on topic). Embedding every unit takes a few minutes.
"""

from __future__ import annotations

import argparse
import random
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import guard_data as g
import train_injection_guard as t
from cairn.guard.classifier import Head, offtopic, units
from cairn.guard.normalise import normalise
from cairn.guard.rules import match_rules

WEIGHTS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
SEMANTIC_WEIGHTS = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
RATES = (0.025, 0.05)


class Cosines:
    """Cosine of each unit of a text to the whole text (MiniLM int8), vectors kept by text."""

    def __init__(self) -> None:
        from cairn.config import load_settings
        from cairn.embed.minilm import MiniLMEmbedder

        self.embedder = MiniLMEmbedder(load_settings().model_dir)
        self.vectors: dict[str, np.ndarray] = {}

    def prime(self, texts: list[str]) -> None:
        """Embed `texts` and their units in batches (one text at a time is far slower)."""
        wanted = [t_ for text in texts for t_ in (text, *units(text))]
        missing = list(dict.fromkeys(t_ for t_ in wanted if t_ not in self.vectors))
        for i in range(0, len(missing), 256):
            part = missing[i : i + 256]
            for t_, v in zip(part, self.embedder.embed(part), strict=True):
                self.vectors[t_] = np.asarray(v, dtype=np.float32)

    def __call__(self, text: str, found: list[str]) -> list[float]:
        self.prime([text])
        whole = self.vectors[text]
        return [float(self.vectors[u] @ whole) if len(u.split()) >= 4 else 1.0 for u in found]


def fold_scores(
    root: Path, pydocs: Path, fold: int, cosines: Cosines | None = None
) -> tuple[dict[str, list[np.ndarray]], dict[str, list[bool]], list[np.ndarray], list[bool]]:
    """Per-unit (logit, off-topic share) arrays of the calibration documents and of the pieces
    holding a held-out attack, with whether a rule flags each; with `cosines`, the second
    column is one minus the unit's cosine to its piece instead of the share."""
    categories = g.bipia_categories(root, "train")
    full = g.bipia_attacks(root, "train")

    def half(which: int) -> dict[str, list[str]]:
        return {
            kind: [a for a in texts if zlib.crc32(categories[a].encode()) % 2 == which]
            for kind, texts in full.items()
        }

    trained, held = half(fold), half(1 - fold)
    pos, neg, calib = t.unit_training_data(root, pydocs, trained)
    cw, cb = t.fit(pos, neg, 4.0, marked=True)
    head = Head(weights=cw, bias=cb, threshold=0.0, marked=True)

    def pairs(text: str) -> np.ndarray:
        normal = normalise(text).text
        found = units(normal)
        if cosines is not None:
            second = [1.0 - c for c in cosines(normal, found)]
        else:
            second = offtopic(found)
        return np.array([(head.logit(u), s) for u, s in zip(found, second, strict=True)])

    rng = random.Random(3)
    pieces = []
    for kind, context in g.bipia_contexts(root, "train"):
        if g.bucket(context) < 8:
            continue
        for attack in rng.sample(held["code" if kind == "code" else "text"], 3):
            for piece in g.pieces(g.reflow(g.plant(context, attack, rng).text)):
                if g.holds_attack(piece, attack) is True:
                    pieces.append(piece)
    if cosines is not None:
        texts = [x for v in calib.values() for x in v] + pieces
        cosines.prime([normalise(x).text for x in texts])
    calib_pairs = {k: [pairs(x) for x in v] for k, v in calib.items()}
    calib_ruled = {k: [bool(match_rules(normalise(x).views)) for x in v] for k, v in calib.items()}
    injected = [pairs(piece) for piece in pieces]
    ruled = [bool(match_rules(normalise(piece).views)) for piece in pieces]
    return calib_pairs, calib_ruled, injected, ruled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--pydocs", type=Path, default=Path("/usr/share/doc/python3.11/html"))
    parser.add_argument(
        "--semantic", action="store_true", help="judge the embedding variant (see above)"
    )
    args = parser.parse_args()
    cosines = Cosines() if args.semantic else None
    weights = SEMANTIC_WEIGHTS if args.semantic else WEIGHTS
    table: dict[tuple[float, int, float], float] = {}
    for fold in (0, 1):
        calib, calib_ruled, injected, ruled = fold_scores(args.datasets, args.pydocs, fold, cosines)
        print(f"fold {fold}: {len(injected)} pieces holding a held-out attack")
        for weight in weights:

            def score(rows: np.ndarray, w: float = weight) -> float:
                return float(np.max(rows[:, 0] + w * rows[:, 1]))

            for rate in RATES:
                threshold = max(
                    t.calibrate([score(r) for r in calib[k]], calib_ruled[k], rate) for k in calib
                )
                hits = [r or score(x) >= threshold for x, r in zip(injected, ruled, strict=True)]
                table[(weight, fold, rate)] = float(np.mean(hits))
    print()
    head = " | ".join(f"fold {f} @ {r:.1%}" for f in (0, 1) for r in RATES)
    print(f"| weight | {head} | mean |")
    print("|---" * (2 + 2 * len(RATES)) + "|")
    for weight in weights:
        cells = [table[(weight, f, r)] for f in (0, 1) for r in RATES]
        print(
            f"| {weight} | " + " | ".join(f"{c:.3f}" for c in cells) + f" | {np.mean(cells):.3f} |"
        )


if __name__ == "__main__":
    main()
