from __future__ import annotations

import math

import numpy as np
import pytest

from cairn.evals.stats import bootstrap_ci, cohens_dz, holm, paired_compare, sign_flip_p


def test_bootstrap_ci_is_seeded_and_contains_the_mean() -> None:
    values = [0, 1, 1, 0, 1, 1, 1, 0, 1, 1] * 3
    a = bootstrap_ci(values, seed=7)
    b = bootstrap_ci(values, seed=7)
    assert a == b
    assert a.mean == pytest.approx(0.7) and a.n == 30
    assert a.low < 0.7 < a.high
    # the normal approximation: 0.7 +- 1.96 * sqrt(0.21 / 30) = [0.536, 0.864]
    assert a.low == pytest.approx(0.536, abs=0.05) and a.high == pytest.approx(0.864, abs=0.05)


def test_bootstrap_degenerate_cases() -> None:
    assert bootstrap_ci([]).n == 0 and math.isnan(bootstrap_ci([]).mean)
    one = bootstrap_ci([0.4])
    assert (one.mean, one.low, one.high) == (0.4, 0.4, 0.4)
    same = bootstrap_ci([1.0] * 10)
    assert (same.low, same.high) == (1.0, 1.0)


def test_exact_sign_flip_by_hand() -> None:
    # three negative differences: of the 8 sign patterns only all-negative is as extreme
    assert sign_flip_p([-1, -1, -1], alternative="less") == pytest.approx(1 / 8)
    assert sign_flip_p([-1, -1, -1], alternative="greater") == pytest.approx(1.0)
    assert sign_flip_p([-1, -1, -1], alternative="two-sided") == pytest.approx(2 / 8)
    # zeros carry no sign information and are dropped
    assert sign_flip_p([0, 0, -1, -1, -1], alternative="less") == pytest.approx(1 / 8)
    # [-2, 1]: sums -1 (observed), 3, -3, 1 -> two of four are <= -1
    assert sign_flip_p([-2, 1], alternative="less") == pytest.approx(2 / 4)


def test_sign_flip_without_differences() -> None:
    assert sign_flip_p([0, 0, 0]) == 1.0
    assert sign_flip_p([]) == 1.0


def test_monte_carlo_sign_flip_is_seeded_and_never_zero() -> None:
    diffs = [-1.0] * 40
    p = sign_flip_p(diffs, alternative="less", permutations=2000, seed=3)
    assert p == pytest.approx(1 / 2001)
    rng = np.random.default_rng(0)
    noise = list(rng.normal(0, 1, 60))
    p1 = sign_flip_p(noise, alternative="two-sided", seed=1)
    assert p1 == sign_flip_p(noise, alternative="two-sided", seed=1)
    assert p1 > 0.05  # pure noise is not significant (for this seed)


def test_cohens_dz() -> None:
    assert cohens_dz([1, 2, 3]) == pytest.approx(2.0)  # mean 2, sd 1
    assert cohens_dz([0, 0]) == 0.0
    assert cohens_dz([1, 1]) is None
    assert cohens_dz([1]) is None


def test_paired_compare() -> None:
    base = [1.0] * 20
    run = [1.0] * 10 + [0.0] * 10
    c = paired_compare(run, base, seed=0)
    assert c.n == 20 and c.diff == pytest.approx(-0.5)
    assert c.mean_a == 0.5 and c.mean_b == 1.0
    assert c.low <= -0.5 <= c.high and c.high < 0
    assert c.p_less == pytest.approx(1 / 1024)  # ten -1 differences: exact test
    assert c.p_greater == 1.0
    assert (c.worse, c.better, c.ties) == (10, 0, 10)
    with pytest.raises(ValueError, match="differ in length"):
        paired_compare([1.0], [1.0, 2.0])


def test_holm_by_hand() -> None:
    # sorted: 0.01*3=0.03, 0.02*2=0.04, 0.04*1=0.04 (monotone)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
