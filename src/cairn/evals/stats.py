"""Statistics for evaluation runs: bootstrap intervals and paired comparisons.

- `bootstrap_ci`: percentile bootstrap of the mean over cases (seeded, so the same values
  always give the same interval).
- `paired_compare`: two runs on the same cases. The mean difference gets a paired
  bootstrap interval (cases resampled together), and a paired sign-flip permutation test
  gives the p-value: under "no difference" each case's difference is as likely to have
  either sign. With at most `EXACT_MAX` non-zero differences every sign pattern is
  enumerated (an exact test); beyond that, `permutations` random patterns are drawn and
  p = (1 + count) / (1 + permutations), never 0. The effect size is Cohen's d_z, the mean
  difference over the standard deviation of the differences.
- `holm`: Holm-Bonferroni adjusted p-values, for a gate that tests many metrics at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Alternative = Literal["less", "greater", "two-sided"]

EXACT_MAX = 16
"""Up to this many non-zero paired differences, the sign-flip test enumerates all patterns."""


@dataclass(frozen=True, slots=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int


def _array(values: Sequence[float]) -> npt.NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def bootstrap_ci(
    values: Sequence[float], *, resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """The mean of `values` and its percentile bootstrap interval."""
    data = _array(values)
    n = len(data)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(data.mean())
    if n == 1 or float(data.min()) == float(data.max()):
        return Interval(mean, mean, mean, n)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(mean, min(float(low), mean), max(float(high), mean), n)


def sign_flip_p(
    diffs: Sequence[float],
    *,
    alternative: Alternative = "two-sided",
    permutations: int = 10000,
    seed: int = 0,
) -> float:
    """Paired permutation (sign-flip) test of mean(diffs) = 0.

    `less`: the alternative is that the differences are negative; `greater`: positive.
    """
    d = _array(diffs)
    d = d[d != 0]
    m = len(d)
    if m == 0:
        return 1.0
    observed = float(d.sum())
    if m <= EXACT_MAX:
        patterns = ((np.arange(2**m)[:, None] >> np.arange(m)) & 1) * 2 - 1
        totals = patterns @ d
        extra, count = 0, len(totals)
    else:
        rng = np.random.default_rng(seed)
        signs = rng.integers(0, 2, size=(permutations, m)) * 2 - 1
        totals = signs @ d
        extra, count = 1, permutations + 1
    eps = 1e-9 * max(1.0, float(np.abs(d).sum()))
    if alternative == "less":
        hits = int((totals <= observed + eps).sum())
    elif alternative == "greater":
        hits = int((totals >= observed - eps).sum())
    else:
        hits = int((np.abs(totals) >= abs(observed) - eps).sum())
    return min(1.0, (hits + extra) / count)


def cohens_dz(diffs: Sequence[float]) -> float | None:
    """Mean difference / standard deviation of the differences; None when undefined."""
    d = _array(diffs)
    if len(d) < 2:
        return None
    sd = float(d.std(ddof=1))
    mean = float(d.mean())
    if sd == 0:
        return 0.0 if mean == 0 else None
    return mean / sd


@dataclass(frozen=True, slots=True)
class PairedComparison:
    """Run `a` against run `b` on the same cases; `diff` is mean(a - b)."""

    n: int
    mean_a: float
    mean_b: float
    diff: float
    low: float
    high: float
    """Paired bootstrap interval of `diff`."""
    p_less: float
    """One-sided sign-flip p-value for 'a is lower than b'."""
    p_greater: float
    p_two_sided: float
    effect_size: float | None
    """Cohen's d_z of the differences."""
    worse: int
    better: int
    ties: int


def paired_compare(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = 2000,
    permutations: int = 10000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Compare paired values (same cases, same order)."""
    if len(a) != len(b):
        raise ValueError(f"paired values differ in length: {len(a)} != {len(b)}")
    x, y = _array(a), _array(b)
    diffs = x - y
    n = len(diffs)
    if n == 0:
        nan = math.nan
        return PairedComparison(0, nan, nan, nan, nan, nan, 1.0, 1.0, 1.0, None, 0, 0, 0)
    interval = bootstrap_ci(list(diffs), resamples=resamples, confidence=confidence, seed=seed)
    options = {"permutations": permutations, "seed": seed}
    return PairedComparison(
        n=n,
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        diff=interval.mean,
        low=interval.low,
        high=interval.high,
        p_less=sign_flip_p(list(diffs), alternative="less", **options),
        p_greater=sign_flip_p(list(diffs), alternative="greater", **options),
        p_two_sided=sign_flip_p(list(diffs), alternative="two-sided", **options),
        effect_size=cohens_dz(list(diffs)),
        worse=int((diffs < 0).sum()),
        better=int((diffs > 0).sum()),
        ties=int((diffs == 0).sum()),
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
