from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from cairn.evals.calibration import calibrate, cohens_kappa, load_pairs, sign
from cairn.evals.records import Score

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "ragchecker_meta_eval"


def test_cohens_kappa_by_hand() -> None:
    # observed 0.75; chance 0.5*0.25 + 0.5*0.75 = 0.5; kappa = 0.25 / 0.5
    assert cohens_kappa([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.5)
    assert cohens_kappa([1, 0, -1], [1, 0, -1]) == pytest.approx(1.0)
    assert cohens_kappa([1, 1], [1, 1]) == 1.0


def test_sign_with_a_tie_margin() -> None:
    assert [sign(v, 0.125) for v in (-0.5, -0.1, 0.0, 0.1, 0.25)] == [-1, 0, 0, 0, 1]


class LengthGrader:
    """Prefers longer answers: a stand-in judge with known behaviour."""

    description = "length grader (test)"

    def grade(
        self, question: str, reference: str, answer: str, key_points: Sequence[str] = ()
    ) -> Score:
        return Score(value=min(1.0, len(answer) / 100), explanation="length")


def write_dataset(folder: Path) -> None:
    rows = []
    # (first answer, second answer, annotator labels): positive = second is better
    for i, (a, b, labels) in enumerate(
        [("x" * 10, "x" * 90, (2, 1)), ("x" * 90, "x" * 10, (-1, 0)), ("x" * 50, "x" * 52, (0, 0))]
    ):
        for label in labels:
            rows.append(
                {
                    "instance_id": i,
                    "query": f"q{i}",
                    "gt_answer": "ref",
                    "model1": {"response": a},
                    "model2": {"response": b},
                    "overall_label": label,
                    "correctness_label": label,
                    "completeness_label": label,
                }
            )
    (folder / "human_labeled_data.json").write_text(json.dumps(rows))


def test_calibrate_by_hand(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    items = load_pairs(tmp_path)
    assert [i.human for i in items] == [(2, 1), (-1, 0), (0, 0)]
    judge, humans = calibrate(items, LengthGrader())
    # judge prefers: second, first, tie (0.02 < margin); humans: +,+ / -,0 / 0,0
    assert judge.rows == 6 and judge.agreement == pytest.approx(5 / 6)
    assert judge.decisive_rows == 3 and judge.decisive_agreement == 1.0
    assert judge.confusion == {"+0/+0": 2, "+1/+1": 2, "-1/+0": 1, "-1/-1": 1}
    assert humans.name.startswith("annotator 1 vs annotator 2") and humans.rows == 3
    assert humans.agreement == pytest.approx(2 / 3)


def test_the_shared_meta_eval_loads() -> None:
    if not (SHARED / "human_labeled_data.json").is_file():
        pytest.skip("shared datasets not available")
    items = load_pairs(SHARED)
    assert len(items) == 280 and all(len(i.human) == 2 for i in items)
