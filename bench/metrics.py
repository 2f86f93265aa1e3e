"""Ranking metrics over one query's ranked passage ids and its relevance judgements.

Definitions follow BEIR / pytrec_eval: nDCG@k uses linear gains and a log2(rank + 1)
discount with the ideal ranking built from the judgements; recall@k is the share of relevant
passages in the top k; MRR@k is 1 / rank of the first relevant passage (0 beyond k);
all-recall@k is 1 when every relevant passage is in the top k (multi-hop retrieval).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    dcg = sum(relevant.get(pid, 0) / math.log2(rank + 2) for rank, pid in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant.keys()) / len(relevant)


def all_recall(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    return 1.0 if relevant and relevant.keys() <= set(ranked[:k]) else 0.0


def mrr(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    for rank, pid in enumerate(ranked[:k], start=1):
        if pid in relevant:
            return 1.0 / rank
    return 0.0


METRICS = {"ndcg": ndcg, "recall": recall, "all_recall": all_recall, "mrr": mrr}


def parse(name: str) -> tuple[str, int]:
    """`"ndcg@10"` -> `("ndcg", 10)`."""
    metric, _, k = name.partition("@")
    if metric not in METRICS or not k.isdigit():
        raise ValueError(f"unknown metric {name!r}")
    return metric, int(k)


def score(name: str, ranked: Sequence[str], relevant: Mapping[str, int]) -> float:
    metric, k = parse(name)
    return METRICS[metric](ranked, relevant, k)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), `q` in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
