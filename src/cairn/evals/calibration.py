"""Calibrating a judge against human labels (RAGChecker's meta-evaluation set).

The data (`human_labeled_data.json`): 280 questions, each with a reference answer and the
answers of two RAG systems, labelled by two annotators (560 rows) on a -2..2 scale, positive
when the second answer is better (as RAGChecker's own `meta_eval.py` computes
`model2 - model1`). We grade both answers with the judge and turn the pair into a
preference: `sign(score2 - score1)`, a tie when the scores differ by less than `margin`
(default: half a rubric step, 0.125). Against each annotator's `sign(label)`:

- agreement: share of rows where the judge's preference equals the annotator's (3 classes:
  first better, tie, second better), with a bootstrap interval over questions;
- Cohen's kappa: agreement corrected for chance;
- decisive agreement: agreement on rows where neither the annotator nor the judge says tie.

The same numbers for annotator 1 vs annotator 2 (the human ceiling) and for RAGChecker's
own scores shipped with the data (`baseline_ragchecker.json`) put the judge in context.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cairn.errors import UserError
from cairn.evals.judge import Grader
from cairn.evals.stats import bootstrap_ci

Label = Literal["overall", "correctness", "completeness"]


@dataclass(frozen=True, slots=True)
class PairItem:
    instance_id: int
    query: str
    reference: str
    first: str
    second: str
    human: tuple[int, ...]
    """Each annotator's label, in file order (-2..2; positive = second is better)."""


@dataclass(frozen=True, slots=True)
class Agreement:
    name: str
    rows: int
    agreement: float
    low: float
    high: float
    kappa: float
    decisive_agreement: float
    decisive_rows: int
    confusion: dict[str, int]
    """`"judge/human"` preference pairs (-1, 0, 1) and their counts."""


def load_pairs(folder: Path, label: Label = "overall") -> list[PairItem]:
    path = folder / "human_labeled_data.json"
    if not path.is_file():
        raise UserError(
            f"no human_labeled_data.json in {folder}: pass --dataset "
            "../shared/datasets/ragchecker_meta_eval"
        )
    rows = json.loads(path.read_text(encoding="utf-8"))
    grouped: dict[int, list[dict[str, object]]] = {}
    for row in rows:
        grouped.setdefault(int(row["instance_id"]), []).append(row)
    items = []
    for instance_id, group in sorted(grouped.items()):
        first = group[0]
        m1, m2 = first["model1"], first["model2"]
        assert isinstance(m1, dict) and isinstance(m2, dict)
        items.append(
            PairItem(
                instance_id=instance_id,
                query=str(first["query"]),
                reference=str(first["gt_answer"]),
                first=str(m1["response"]),
                second=str(m2["response"]),
                human=tuple(int(str(r[f"{label}_label"])) for r in group),
            )
        )
    return items


def load_reference_scores(folder: Path, label: Label = "overall") -> dict[int, tuple[float, float]]:
    """RAGChecker's published scores per instance (first, second), if the file is there."""
    path = folder / "baseline_ragchecker.json"
    if not path.is_file():
        return {}
    out = {}
    for row in json.loads(path.read_text(encoding="utf-8")):
        a = row["model1"]["ragchecker"].get(f"{label}_label")
        b = row["model2"]["ragchecker"].get(f"{label}_label")
        if isinstance(a, int | float) and isinstance(b, int | float):
            out[int(row["instance_id"])] = (float(a), float(b))
    return out


def sign(value: float, margin: float = 0.0) -> int:
    if abs(value) < margin or value == 0:
        return 0
    return 1 if value > 0 else -1


def cohens_kappa(a: Sequence[int], b: Sequence[int]) -> float:
    n = len(a)
    if n == 0:
        return float("nan")
    observed = sum(1 for x, y in zip(a, b, strict=True) if x == y) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def agreement(
    name: str, predicted: Sequence[int], human: Sequence[int], groups: Sequence[int], seed: int = 0
) -> Agreement:
    """Agreement of `predicted` with `human` preferences (one row per annotator label)."""
    hits = [1.0 if p == h else 0.0 for p, h in zip(predicted, human, strict=True)]
    # bootstrap over questions: average the rows of each question first
    per_group: dict[int, list[float]] = {}
    for g, hit in zip(groups, hits, strict=True):
        per_group.setdefault(g, []).append(hit)
    ci = bootstrap_ci([sum(v) / len(v) for v in per_group.values()], seed=seed)
    decisive = [(p, h) for p, h in zip(predicted, human, strict=True) if p != 0 and h != 0]
    confusion = Counter(f"{p:+d}/{h:+d}" for p, h in zip(predicted, human, strict=True))
    return Agreement(
        name=name,
        rows=len(hits),
        agreement=sum(hits) / len(hits) if hits else float("nan"),
        low=ci.low,
        high=ci.high,
        kappa=cohens_kappa(predicted, human),
        decisive_agreement=(
            sum(1 for p, h in decisive if p == h) / len(decisive) if decisive else float("nan")
        ),
        decisive_rows=len(decisive),
        confusion=dict(sorted(confusion.items())),
    )


def calibrate(
    items: Sequence[PairItem],
    grader: Grader,
    *,
    margin: float = 0.125,
    reference_scores: dict[int, tuple[float, float]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Agreement]:
    """The judge's agreement with the annotators, plus the human and RAGChecker rows."""
    predicted: list[int] = []
    human: list[int] = []
    groups: list[int] = []
    ungraded = 0
    for index, item in enumerate(items, start=1):
        if progress:
            progress(index, len(items))
        a = grader.grade(item.query, item.reference, item.first)
        b = grader.grade(item.query, item.reference, item.second)
        if a.value is None or b.value is None:
            ungraded += 1
            continue
        preference = sign(b.value - a.value, margin)
        for label in item.human:
            predicted.append(preference)
            human.append(sign(label))
            groups.append(item.instance_id)
    results = [agreement(f"judge: {grader.description}", predicted, human, groups)]
    if ungraded:
        results[0] = _note(results[0], f" ({ungraded} pairs without a score left out)")
    pairs = [item for item in items if len(item.human) >= 2]
    if pairs:
        results.append(
            agreement(
                "annotator 1 vs annotator 2 (human ceiling)",
                [sign(i.human[0]) for i in pairs],
                [sign(i.human[1]) for i in pairs],
                [i.instance_id for i in pairs],
            )
        )
    if reference_scores:
        rp, rh, rg = [], [], []
        for item in items:
            if item.instance_id not in reference_scores:
                continue
            a_score, b_score = reference_scores[item.instance_id]
            for label in item.human:
                rp.append(sign(b_score - a_score, margin))
                rh.append(sign(label))
                rg.append(item.instance_id)
        results.append(agreement("RAGChecker's own scores, shipped with the data", rp, rh, rg))
    return results


def _note(result: Agreement, note: str) -> Agreement:
    return Agreement(
        name=result.name + note,
        rows=result.rows,
        agreement=result.agreement,
        low=result.low,
        high=result.high,
        kappa=result.kappa,
        decisive_agreement=result.decisive_agreement,
        decisive_rows=result.decisive_rows,
        confusion=result.confusion,
    )
