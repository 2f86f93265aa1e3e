"""Features of the extractive answerer's two learned models, shared by training and serving.

- Sentence scorer: one row per answerable unit (sentence, code block or table) of the
  retrieved chunks; a linear score over the row ranks the units (trained pairwise: the
  difference of two units' scores is the log-odds that the first holds the answer).
- Answerability: one row per question, from the scorer's output and the candidates' scores;
  a logistic model gives the probability that the retrieved chunks answer the question at
  all, and the answerer abstains below a threshold calibrated on training data.

Both are trained by `bench/train_answerer.py` on training splits only (XQuAD's first 24
articles, SciFact's training claims) and shipped as `answer_model.json`; serving reads the
weights with numpy (no scikit-learn at run time).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cairn.answer.kinds import QuestionKind
from cairn.answer.terms import content_terms
from cairn.store.fts import STOPWORDS

MODEL_PATH = Path(__file__).with_name("answer_model.json")

UNIT_FEATURES: tuple[str, ...] = (
    "coverage",
    "share",
    "rarest",
    "bigrams",
    "relevance_gap",
    "rank",
    "position",
    "first",
    "heading",
    "code",
    "code_howto",
    "signature_api",
    "aside",
    "log_words",
    "fragment",
    "long_code",
    "echo",
    "new_terms",
    "number_cue",
    "entity_cue",
    "version_cue",
    "polar_cue",
    "intro",
)

ANSWERABILITY_FEATURES: tuple[str, ...] = (
    "top_logit",
    "second_logit",
    "best_relevance",
    "top_coverage",
    "missing",
    "chunk_coverage",
    "log_terms",
    "missing_specific",
    "has_specific",
)

_ASIDE = re.compile(
    r"^\s*(?:see also|see |for (?:more|further) (?:details|information)|more information|"
    r"related|background|note:|notes?\b|\(see|this (?:page|section|document) (?:describes|"
    r"covers))|\bsee also\b|\bdocumentation for\b.*\bsee\b",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^\s*(?:class |async |def )?[A-Za-z_][\w.]*\s*\(.*\)")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_CAPITAL = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
_VERSION_TEXT = re.compile(r"\b(?:new|changed|added|deprecated|removed) in\b|\b\d\.\d{1,2}\b", re.I)
_NUMBER_Q = re.compile(r"\b(?:how (?:many|much|long|old|far)|when|what year|which year)\b", re.I)
_ENTITY_Q = re.compile(r"^\s*(?:who|whom|whose|where|which|what (?:country|city|company))\b", re.I)
_SPECIFIC = re.compile(
    r"`([^`]+)`|([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)|(\w+)\(\)|\b([a-z]+[A-Z]\w*|\w+_\w+)\b|"
    r"(?<!^)(?<![.?!] )\b([A-Z][A-Za-z]+)\b|\b(\d+(?:\.\d+)*)\b"
)
_POLAR = re.compile(r"\b(?:not|no|never|cannot|can't|only|always|must|may)\b", re.I)


@dataclass(frozen=True, slots=True)
class UnitView:
    """What the features read of one unit."""

    text: str
    code: bool
    hit: int
    """Index of its chunk among the candidates."""
    index: int
    """Position of the unit in its chunk (0 = first)."""
    count: int
    """Number of units in its chunk."""
    heading: str
    """The chunk's title and section path."""
    intro: bool = False
    """The unit introduces a code block that follows it (ends in ":")."""


def _idf(query: set[str], unit_terms: Sequence[set[str]]) -> dict[str, float]:
    n = len(unit_terms)
    return {
        t: math.log(1 + (n + 1) / (1 + sum(1 for terms in unit_terms if t in terms))) for t in query
    }


def unit_matrix(
    question: str,
    kind: QuestionKind,
    units: Sequence[UnitView],
    relevance: Sequence[float],
) -> tuple[npt.NDArray[np.float64], list[float]]:
    """`(features, coverage)`: one row of `UNIT_FEATURES` per unit, and its term coverage."""
    q_list = content_terms(question)
    query = set(q_list)
    bigrams = {(a, b) for a, b in pairwise(q_list) if a != b}
    unit_terms = [set(content_terms(u.text)) for u in units]
    weight = _idf(query, unit_terms)
    total = sum(weight.values()) or 1.0
    rarest = max(query, key=lambda t: (weight[t], t)) if query else ""
    best = max(relevance) if relevance else 0.0
    rank_of = {
        h: r for r, h in enumerate(sorted(range(len(relevance)), key=lambda i: -relevance[i]))
    }
    heading_terms = {u.hit: set(content_terms(u.heading)) for u in units}
    number_q = bool(_NUMBER_Q.search(question))
    entity_q = bool(_ENTITY_Q.search(question))
    q_numbers = set(_NUMBER.findall(question))
    q_words = {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
    rows = np.zeros((len(units), len(UNIT_FEATURES)))
    coverage_out: list[float] = []
    for r, (unit, terms) in enumerate(zip(units, unit_terms, strict=True)):
        coverage = sum(weight[t] for t in query & terms) / total
        coverage_out.append(coverage)
        words = len(unit.text.split())
        seq = content_terms(unit.text)
        pairs = set(pairwise(seq))
        new = len(terms - query) / (len(terms) or 1)
        heading = heading_terms[unit.hit]
        numbers = set(_NUMBER.findall(unit.text)) - q_numbers
        capitals = {w.lower() for w in _CAPITAL.findall(unit.text)} - q_words
        rows[r] = (
            coverage,
            len(query & terms) / (len(query) or 1),
            float(rarest in terms),
            len(bigrams & pairs) / (len(bigrams) or 1),
            relevance[unit.hit] - best,
            rank_of[unit.hit] / 5.0,
            unit.index / max(unit.count - 1, 1),
            float(unit.index == 0),
            len(query & heading) / (len(query) or 1),
            float(unit.code),
            float(unit.code and kind == "how-to"),
            float(kind == "api" and bool(_SIGNATURE.match(unit.text))),
            float(bool(_ASIDE.search(unit.text))),
            math.log1p(words),
            float(words < 4 and not unit.code),
            float(unit.code and words > 80),
            len(terms & query) / (len(terms) or 1),
            new,
            float(number_q and bool(numbers)),
            float(entity_q and bool(capitals)),
            float(kind == "version" and bool(_VERSION_TEXT.search(unit.text))),
            float(kind == "yes-no" and bool(_POLAR.search(unit.text))),
            float(unit.intro and kind == "how-to"),
        )
    return rows, coverage_out


def answerability_row(
    question: str,
    logits: Sequence[float],
    coverage: Sequence[float],
    relevance: Sequence[float],
    chunk_texts: Sequence[str],
) -> npt.NDArray[np.float64]:
    """One row of `ANSWERABILITY_FEATURES` for a question and its scored candidates."""
    query = set(content_terms(question))
    specific = specific_terms(question)
    haystack = " ".join(chunk_texts).lower()
    missing_specific = sum(1 for t in specific if t not in haystack) / (len(specific) or 1)
    ranked = sorted(logits, reverse=True)
    chunk_terms = [set(content_terms(t)) for t in chunk_texts]
    seen = set().union(*chunk_terms) if chunk_terms else set()
    top = int(np.argmax(logits)) if len(logits) else 0
    return np.array(
        [
            ranked[0] if ranked else -10.0,
            ranked[1] if len(ranked) > 1 else -10.0,
            max(relevance, default=0.0),
            coverage[top] if len(coverage) else 0.0,
            len(query - seen) / (len(query) or 1),
            max((len(query & t) / (len(query) or 1) for t in chunk_terms), default=0.0),
            math.log1p(len(query)),
            missing_specific,
            float(bool(specific)),
        ]
    )


def specific_terms(question: str) -> set[str]:
    """The question's specific tokens, lower-cased: code in backticks, dotted names, calls,
    camelCase or snake_case identifiers, capitalised names (not the first word) and
    numbers. The chunks of an answerable question usually contain them verbatim."""
    out: set[str] = set()
    for match in _SPECIFIC.finditer(question.strip()):
        token = next(g for g in match.groups() if g)
        low = token.lower().strip()
        if low and low not in STOPWORDS and len(low) > 1:
            out.add(low)
    return out


@dataclass(frozen=True, slots=True)
class Logistic:
    """A logistic model: standardised features, weights, intercept."""

    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    coef: npt.NDArray[np.float64]
    intercept: float

    def logits(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(((rows - self.mean) / self.scale) @ self.coef + self.intercept)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Logistic:
        return cls(
            mean=np.array(data["mean"], dtype=np.float64),
            scale=np.array(data["scale"], dtype=np.float64),
            coef=np.array(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
        )


@dataclass(frozen=True, slots=True)
class AnswerModel:
    """The shipped sentence scorer and answerability model, with its calibrated threshold."""

    sentences: Logistic
    answerable: Logistic
    threshold: float
    """Abstain when the answerability probability is below this."""
    meta: dict[str, Any]
    similarity_weight: float = 0.0
    """Second stage: the `similarity_top` best units are re-scored by their embedding's
    cosine to the question, `score + weight x (cosine - best cosine)`; the others get the
    lowest cosine of those. 0 = no second stage."""
    similarity_top: int = 4
    similarity_chars: int = 240
    """A unit's text is cut here before it is embedded (the cost grows with its length)."""


def parse_model(data: dict[str, Any]) -> AnswerModel:
    if (
        tuple(data["unit_features"]) != UNIT_FEATURES
        or tuple(data["answerability_features"]) != ANSWERABILITY_FEATURES
    ):
        raise ValueError(
            "answer_model.json was trained on other features; retrain it with "
            "bench/train_answerer.py"
        )
    return AnswerModel(
        sentences=Logistic.from_json(data["sentences"]),
        answerable=Logistic.from_json(data["answerable"]),
        threshold=float(data["threshold"]),
        meta=dict(data.get("meta", {})),
        similarity_weight=float(data.get("similarity", {}).get("weight", 0.0)),
        similarity_top=int(data.get("similarity", {}).get("top", 4)),
        similarity_chars=int(data.get("similarity", {}).get("chars", 240)),
    )


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> AnswerModel:
    """The trained models (cached); `path` defaults to the one shipped with cairn."""
    return parse_model(json.loads(path.read_text()))
