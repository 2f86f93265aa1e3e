"""Metric functions: pure, per case, tested against hand-computed values.

Retrieval metrics take the ranked list of relevance *keys* (one per retrieved chunk, `None`
for a chunk that matches no gold item) and the set of relevant keys:

- hit@k: 1 when any relevant key is in the top k;
- recall@k: share of the relevant keys found in the top k;
- precision@k: share of the k top positions holding a relevant chunk (divided by k, as
  pytrec_eval does, even when fewer than k chunks came back);
- MRR@k: 1 / rank of the first relevant chunk, 0 beyond k;
- complete@k: 1 when every relevant key is in the top k (multi-hop);
- nDCG@k: gains (1, or graded) discounted by log2(rank + 1); only the first chunk of each
  relevant key earns its gain (five chunks of one gold page are not five gold pages), and the
  ideal ranking puts each relevant key once at the top. Bounded by [0, 1].

`relevance_keys` turns a case's gold sources into those keys, by document (`source`) or by
section (`source#anchor`; a gold source without an anchor accepts any section of it). With
`match: any` the gold sources are alternatives, so every one maps to the single key `"*"`:
recall equals hit and nDCG rewards the rank of the first gold chunk.

Answer metrics: checkpoint hits and sentence support (the share of a sentence's stemmed
content words found in the chunk it cites, as `cairn.answer.verify` measures it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Literal

from cairn.answer.terms import content_terms
from cairn.evals.cases import GoldSource, checkpoint_alternatives
from cairn.sentences import split_sentences

Level = Literal["doc", "section"]
Ranked = Sequence[str | None]
Relevant = Collection[str] | Mapping[str, float]

ANY = "*"
"""The one relevance key of a `match: any` case."""

SUPPORT_THRESHOLD = 0.6
"""A sentence is supported when this share of its content words is in a cited chunk (the
default of `LexicalVerifier`)."""


def _gains(relevant: Relevant) -> dict[str, float]:
    if isinstance(relevant, Mapping):
        return {k: float(v) for k, v in relevant.items() if v > 0}
    return dict.fromkeys(relevant, 1.0)


def hit_at_k(ranked: Ranked, relevant: Relevant, k: int) -> float:
    gains = _gains(relevant)
    return 1.0 if any(key in gains for key in ranked[:k] if key is not None) else 0.0


def recall_at_k(ranked: Ranked, relevant: Relevant, k: int) -> float:
    gains = _gains(relevant)
    if not gains:
        return 0.0
    return len({key for key in ranked[:k] if key is not None} & gains.keys()) / len(gains)


def precision_at_k(ranked: Ranked, relevant: Relevant, k: int) -> float:
    if k <= 0:
        return 0.0
    gains = _gains(relevant)
    return sum(1 for key in ranked[:k] if key is not None and key in gains) / k


def reciprocal_rank(ranked: Ranked, relevant: Relevant, k: int) -> float:
    gains = _gains(relevant)
    for rank, key in enumerate(ranked[:k], start=1):
        if key is not None and key in gains:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Ranked, relevant: Relevant, k: int) -> float:
    gains = _gains(relevant)
    seen: set[str] = set()
    dcg = 0.0
    for rank, key in enumerate(ranked[:k], start=1):
        if key is not None and key in gains and key not in seen:
            seen.add(key)
            dcg += gains[key] / math.log2(rank + 1)
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def complete_at_k(ranked: Ranked, relevant: Relevant, k: int) -> float:
    """1 when every relevant key is in the top k (multi-hop: all supporting passages)."""
    gains = _gains(relevant)
    return 1.0 if gains and gains.keys() <= {key for key in ranked[:k] if key is not None} else 0.0


RETRIEVAL_METRICS = {
    "hit": hit_at_k,
    "recall": recall_at_k,
    "precision": precision_at_k,
    "mrr": reciprocal_rank,
    "ndcg": ndcg_at_k,
    "complete": complete_at_k,
}


def relevance_keys(
    retrieved: Sequence[tuple[str, str | None]],
    gold: Sequence[GoldSource],
    *,
    level: Level,
    match: Literal["any", "all"],
) -> tuple[list[str | None], set[str]]:
    """The key of each retrieved `(source, anchor)` and the relevant keys, at `level`."""
    if level == "doc":
        relevant = {g.source for g in gold}
        keys: list[str | None] = [src if src in relevant else None for src, _ in retrieved]
    else:
        relevant = {g.key for g in gold}
        whole = {g.source for g in gold if g.anchor is None}
        keys = []
        for src, anchor in retrieved:
            key = f"{src}#{anchor}" if anchor else src
            keys.append(key if key in relevant else (src if src in whole else None))
    if match == "any":
        return [ANY if k is not None else None for k in keys], ({ANY} if relevant else set())
    return keys, relevant


def checkpoint_hits(text: str, checkpoints: Sequence[str]) -> list[bool]:
    """Whether each checkpoint (any of its ` | ` alternatives) occurs in `text`, ignoring case."""
    low = text.lower()
    return [any(alt in low for alt in checkpoint_alternatives(c)) for c in checkpoints]


def sentence_support(sentence: str, chunk_text: str) -> float:
    """1.0 for a verbatim quote, else the share of the sentence's content words in the chunk."""
    if sentence in chunk_text:
        return 1.0
    terms = set(content_terms(sentence))
    if not terms:
        return 1.0
    return len(terms & set(content_terms(chunk_text))) / len(terms)


_MARKERS = re.compile(r"(?:[ \t]*\[\d+\])+")
_MARKER_NUMBER = re.compile(r"\[(\d+)\]")


def answer_sentences(
    text: str, valid: Collection[int] | None = None
) -> list[tuple[str, list[int]]]:
    """Every claim of an answer with the `[n]` numbers it cites (empty for uncited text).

    A run of markers ends the claim before it. Unlike a subscript in code (`args[0]`,
    `sys.exc_info()[1]`), a marker follows whitespace, punctuation or the start of a line,
    and (when `valid` is given) names a real citation. Text after the last marker is split
    into sentences, each an uncited claim. Markdown code fences are ignored.
    """
    clean = text.replace("```", "\n")
    out: list[tuple[str, list[int]]] = []
    last = 0
    for match in _MARKERS.finditer(clean):
        before = clean[match.start() - 1] if match.start() > 0 else "\n"
        numbers = [int(n) for n in _MARKER_NUMBER.findall(match.group(0))]
        attached = match.group(0)[0] == "[" and (before.isalnum() or before in "_)]")
        if attached or (valid is not None and not all(n in valid for n in numbers)):
            continue
        segment = _strip_claim(clean[last : match.start()])
        if segment:
            out.append((segment, numbers))
        last = match.end()
    for start, end in split_sentences(clean[last:]):
        sentence = _strip_claim(clean[last:][start:end])
        if re.search(r"\w", sentence):
            out.append((sentence, []))
    return out


def _strip_claim(text: str) -> str:
    return text.strip().lstrip(".,;:!?").strip().strip("`").strip()


def grounded_sentences(
    text: str, cited_texts: Mapping[int, str], threshold: float = SUPPORT_THRESHOLD
) -> list[tuple[str, float, bool]]:
    """`(sentence, best support, supported)` for each claim of the answer."""
    out = []
    for sentence, numbers in answer_sentences(text, valid=cited_texts.keys()):
        support = max(
            (sentence_support(sentence, cited_texts[n]) for n in numbers if n in cited_texts),
            default=0.0,
        )
        out.append((sentence, support, support >= threshold))
    return out
