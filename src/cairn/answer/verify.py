"""Citation verification: is each answer sentence supported by the chunk(s) it cites?

`CitationVerifier` is the one to use; `LexicalVerifier` is the older word-overlap check,
kept for callers that have no embedder. Both fill `Verifier`, the stage's one-method contract.

How `CitationVerifier` reads an answer:

1. Units. The text is cut at its `[n]` markers; the markers after a stretch of text cite
   every sentence (and list item, and code block) of its last paragraph. Sentences with no
   marker after them in their paragraph are *uncited*: flagged, never removed. Lead-ins
   ending in `:` and sentences without content words are not claims and are skipped.
2. Features, for each sentence against the union of the chunks it cites (with their titles
   and section headings, as they were embedded):
   `lexical`, the share of its stemmed content words found in them; `key`, whether all its
   key tokens (numbers, code identifiers, capitalised names) are found, which is what a
   wrong number or entity fails; `cosine`, the embedding similarity to the closest cited chunk
   (the chunk's stored embedding when the store has it, so only the sentences are embedded,
   in one batch). A verbatim quote scores 1.0 without further checks.
3. Support: a logistic model of the three features (`SupportModel`), fitted on a labelled
   set of supported, swapped-citation and altered claims; a sentence is supported when its
   support reaches the model's threshold. See `bench/verifier.py` and the section
   "Citation verification" of docs/benchmarks.md for the data, the fit and the error rates.
4. An optional `SupportJudge` (an NLI model, an LLM judge) decides the sentences whose
   support lies within `judge_band` of the threshold.
5. Policy: `flag` keeps every sentence and marks the citations; `remove` drops unsupported
   sentences and the citations no longer referenced (an answer left with no supported
   sentence becomes an abstention).

A citation is verified when every sentence citing it is supported; its `support` is the
lowest support among those sentences.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from cairn.answer.base import NOT_FOUND, Draft
from cairn.answer.segments import BULLET, MARKER, Unit, answer_units, cited_sentences
from cairn.answer.terms import content_terms
from cairn.embed.base import Embedder
from cairn.errors import UserError
from cairn.ingest.chunking import embedding_text
from cairn.store.base import Store, Vector
from cairn.store.fts import STOPWORDS
from cairn.types import Chunk, Citation, Hit

_TOKEN = re.compile(r"[^\W_][\w.]*[^\W_]|[^\W_]|\w+")
_SPACE = re.compile(r"\s+")

Policy = Literal["flag", "remove"]
MERGED = "+"
"""Joins the hashes of the chunks a passage was merged from (`cairn.answer.assembly`): such
a passage is compared by meaning with each stored chunk it holds, the closest one counting
(its own text, longer than the embedder reads, is not embedded)."""
_MEMO = 256


@runtime_checkable
class Verifier(Protocol):
    """The verify stage: the draft with each citation's `verified` and `support` set."""

    def verify(self, draft: Draft, hits: list[Hit]) -> Draft: ...


def key_tokens(text: str) -> list[str]:
    """Numbers, code identifiers and capitalised names in `text`, in order, deduplicated.

    These carry what an answer can get wrong while keeping its other words: a version, a
    limit, a function or product name. A capitalised first word ("Use", "Set") is left out
    unless it has digits, capitals inside, or `_` / `.` in it.
    """
    found: dict[str, None] = {}
    for i, token in enumerate(_TOKEN.findall(text)):
        token = token.strip(".")
        if (
            not token
            or token.lower() in STOPWORDS
            or (i == 0 and token.istitle() and token.isalpha())
        ):
            continue
        if (
            any(ch.isdigit() for ch in token)
            or "_" in token
            or "." in token
            or any(ch.isupper() for ch in token)
        ):
            found.setdefault(token, None)
    return list(found)


@dataclass(frozen=True, slots=True)
class SupportFeatures:
    """How much of a sentence its cited chunks contain, three ways."""

    lexical: float
    """Share of the sentence's stemmed content words found in the chunks."""
    key: float
    """1.0 when every key token of the sentence (see `key_tokens`) is found, else 0.0: one
    wrong number or name is enough to doubt it, however many others are right."""
    cosine: float
    """Embedding cosine between the sentence and the closest cited chunk."""
    missing: tuple[str, ...] = ()
    """The key tokens not found (for the reason)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SupportModel:
    """`support = sigmoid(intercept + lexical·x1 + key·x2 + cosine·x3)`; supported at `threshold`.

    The coefficients belong to one embedder (the cosine's scale depends on it); refit them
    with `bench/verifier.py` for another.
    """

    intercept: float
    lexical: float
    key: float
    cosine: float
    threshold: float

    def support(self, f: SupportFeatures) -> float:
        z = self.intercept + self.lexical * f.lexical + self.key * f.key + self.cosine * f.cosine
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


# Fitted by `bench/verifier.py` (2026-11-21) with all-MiniLM-L6-v2 on the XQuAD tuning half
# (first 24 articles: supported vs swapped-citation vs altered claims, class-balanced
# logistic regression); the threshold maximises balanced accuracy there. Held-out precision
# and recall: docs/benchmarks.md, "Citation verification"; raw numbers in
# bench/results/verifier.json.
DEFAULT_MODEL = SupportModel(intercept=-6.84, lexical=6.45, key=2.55, cosine=1.93, threshold=0.52)
WORDS_ONLY_MODEL = SupportModel(intercept=-6.01, lexical=6.79, key=2.57, cosine=0.0, threshold=0.49)
"""The same fit without the cosine: nothing is embedded (about 6 ms less per answer) and, on
the benchmark, balanced accuracy within a point or two of `DEFAULT_MODEL`."""


@dataclass(frozen=True, slots=True)
class Judgement:
    supported: bool
    reason: str


@runtime_checkable
class SupportJudge(Protocol):
    """A second opinion (an NLI model, an LLM judge) on sentences close to the threshold."""

    def judge(self, claim: str, evidence: Sequence[str]) -> Judgement: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class SentenceCheck:
    """The verdict on one answer sentence."""

    text: str
    citations: tuple[int, ...]
    """The `[n]` numbers citing it; empty for an uncited sentence."""
    support: float | None
    """Calibrated support in [0, 1] (1.0 for a verbatim quote); `None` when uncited."""
    supported: bool
    reason: str
    features: SupportFeatures | None = None
    start: int = 0
    end: int = 0
    """Span of the sentence in the draft's text."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Verification:
    """What `CitationVerifier.check` found, with the draft after the policy was applied."""

    draft: Draft
    sentences: tuple[SentenceCheck, ...]

    @property
    def unsupported(self) -> tuple[str, ...]:
        """Cited sentences their chunks do not support (removed under `remove`)."""
        return tuple(s.text for s in self.sentences if s.citations and not s.supported)

    @property
    def uncited(self) -> tuple[str, ...]:
        """Sentences with no `[n]` marker (flagged, never removed)."""
        return tuple(s.text for s in self.sentences if not s.citations)


class CitationVerifier:
    """Checks every sentence against the chunks it cites (lexical, key-token and embedding
    support, calibrated); marks each citation `verified` and `support`; applies `policy`."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        store: Store | None = None,
        policy: Policy = "flag",
        model: SupportModel = DEFAULT_MODEL,
        judge: SupportJudge | None = None,
        judge_band: float = 0.15,
    ) -> None:
        if policy not in ("flag", "remove"):
            raise UserError(f"unknown verification policy {policy!r}: use 'flag' or 'remove'")
        self.embedder = embedder
        self.store = store
        self.policy = policy
        self.model = model
        self.judge = judge
        self.judge_band = judge_band
        self._memo: dict[str | tuple[str, str], Vector] = {}
        self._lock = threading.Lock()
        """Vectors embedded here lately (sentences, chunks the store has none for: a merged
        passage), so the attribute and verify stages of one answer embed each once."""

    def verify(self, draft: Draft, hits: list[Hit]) -> Draft:
        return self.check(draft, hits).draft

    def check(self, draft: Draft, hits: list[Hit]) -> Verification:
        """Every sentence's verdict, and the draft with citations marked (and, under
        `remove`, unsupported sentences dropped)."""
        if draft.abstained:
            return Verification(draft=draft, sentences=())
        chunks = {h.chunk.id: h.chunk for h in hits}
        cited = {c.n: chunks[c.chunk_id] for c in draft.citations if c.chunk_id in chunks}
        units = [u for u in answer_units(draft.text) if is_claim(draft.text[u.start : u.end])]
        checks = self._check_units(draft.text, units, cited)
        if self.policy == "remove" and any(c.citations and not c.supported for c in checks):
            return Verification(draft=_remove(draft, units, checks), sentences=tuple(checks))
        return Verification(
            draft=replace(draft, citations=_marked(draft.citations, checks)),
            sentences=tuple(checks),
        )

    def _check_units(
        self, text: str, units: list[Unit], cited: dict[int, Chunk]
    ) -> list[SentenceCheck]:
        claims = [_clean(text[u.start : u.end]) for u in units]
        sources = [[cited[n] for n in u.numbers if n in cited] for u in units]
        verbatim = [
            any(_contains(c.text, claim) for c in src)
            for claim, src in zip(claims, sources, strict=True)
        ]
        todo = [i for i in range(len(units)) if sources[i] and not verbatim[i]]
        if not self.model.cosine:
            todo = []  # the model ignores similarity: embed nothing
        sentence_vectors, chunk_vectors = self._vectors(
            [claims[i] for i in todo], {c.hash: c for i in todo for c in sources[i]}
        )
        vector_of = dict(zip(todo, sentence_vectors, strict=True))
        checks = []
        for i, unit in enumerate(units):
            check = SentenceCheck(
                text=claims[i],
                citations=unit.numbers,
                support=None,
                supported=False,
                reason="uncited",
                start=unit.start,
                end=unit.end,
            )
            if not unit.numbers:
                checks.append(check)
            elif not sources[i]:
                checks.append(replace(check, support=0.0, reason="cites no retrieved chunk"))
            elif verbatim[i]:
                full = SupportFeatures(lexical=1.0, key=1.0, cosine=1.0)
                checks.append(
                    replace(
                        check, support=1.0, supported=True, reason="verbatim quote", features=full
                    )
                )
            else:
                cosine = max(
                    (_cosine(vector_of[i], chunk_vectors[c.hash]) for c in sources[i])
                    if i in vector_of
                    else [0.0]
                )
                texts = [embedding_text(c.title, c.section, c.text) for c in sources[i]]
                features = support_features(claims[i], texts, cosine)
                checks.append(self._decide(check, sources[i], features))
        return checks

    def _decide(
        self, check: SentenceCheck, sources: list[Chunk], features: SupportFeatures
    ) -> SentenceCheck:
        support = self.model.support(features)
        supported = support >= self.model.threshold
        reason = _explain(support, self.model, features)
        if self.judge is not None and abs(support - self.model.threshold) <= self.judge_band:
            verdict = self.judge.judge(check.text, [c.text for c in sources])
            supported = verdict.supported
            reason = f"{reason}; judge: {verdict.reason}"
        return replace(
            check, support=round(support, 3), supported=supported, reason=reason, features=features
        )

    def supports(self, claims: Sequence[str], chunks: Sequence[Chunk]) -> list[list[float]]:
        """The support of each claim by each chunk alone (a row per claim), from the same
        calibrated model the verdicts use: what post-hoc attribution
        (`cairn.answer.attribute`) ranks passages by. A verbatim quote scores 1.0.

        Only pairs that could reach the threshold are embedded: a pair whose support stays
        below it even at similarity 1.0 keeps its words-only score (below the threshold
        either way), so the verdicts are the same as embedding everything."""
        claims = [_clean(c) for c in claims]
        texts = [embedding_text(c.title, c.section, c.text) for c in chunks]
        rows = [[0.0] * len(chunks) for _ in claims]
        todo: list[tuple[int, int, SupportFeatures]] = []
        for i, claim in enumerate(claims):
            for j, chunk in enumerate(chunks):
                if _contains(chunk.text, claim):
                    rows[i][j] = 1.0
                    continue
                words = support_features(claim, [texts[j]], 0.0)
                rows[i][j] = self.model.support(words)
                best = self.model.support(replace(words, cosine=1.0))
                if self.model.cosine and best >= self.model.threshold:
                    todo.append((i, j, words))
        if not todo:
            return rows
        wanted = sorted({i for i, _, _ in todo})
        sentence_vectors, chunk_vectors = self._vectors(
            [claims[i] for i in wanted], {chunks[j].hash: chunks[j] for _, j, _ in todo}
        )
        vector_of = dict(zip(wanted, sentence_vectors, strict=True))
        for i, j, words in todo:
            cosine = _cosine(vector_of[i], chunk_vectors[chunks[j].hash])
            rows[i][j] = self.model.support(replace(words, cosine=cosine))
        return rows

    def _vectors(
        self, sentences: list[str], chunks: dict[str, Chunk]
    ) -> tuple[list[Vector], dict[str, Vector]]:
        """The sentences' embeddings and the chunks' (stored ones reused), in one batch."""
        if not sentences:
            return [], {}
        memo = self._memo
        with self._lock:
            vectors = {h: memo[h] for h in chunks if h in memo}
            said = {s: memo[("s", s)] for s in sentences if ("s", s) in memo}
        unknown = [h for h in chunks if h not in vectors]
        if unknown and self.store is not None:
            parts = [p for h in unknown for p in h.split(MERGED)]
            stored = self.store.cached_embeddings(self.embedder.name, parts)
            for h in unknown:
                if all(p in stored for p in h.split(MERGED)):
                    found = [stored[p] for p in h.split(MERGED)]
                    vectors[h] = found[0] if len(found) == 1 else np.stack(found)
        missing = [h for h in chunks if h not in vectors]
        new_sentences = list(dict.fromkeys(s for s in sentences if s not in said))
        inputs = new_sentences + [
            embedding_text(chunks[h].title, chunks[h].section, chunks[h].text) for h in missing
        ]
        if inputs:
            matrix = self.embedder.embed(inputs)
            said.update(zip(new_sentences, matrix, strict=False))
            vectors.update(zip(missing, matrix[len(new_sentences) :], strict=True))
            with self._lock:
                memo.update((("s", s), said[s]) for s in new_sentences)
                memo.update((h, vectors[h]) for h in missing)
                while len(memo) > _MEMO:
                    del memo[next(iter(memo))]  # the oldest first
        return [said[s] for s in sentences], vectors


def _cosine(sentence: Vector, chunk: Vector) -> float:
    """The similarity of a sentence to a chunk; to a merged passage (its parts' vectors
    stacked), the similarity to the closest part."""
    return float(np.max(chunk @ sentence))


def support_features(claim: str, sources: Sequence[str], cosine: float) -> SupportFeatures:
    """The lexical and key-token features of `claim` against the union of `sources`."""
    source_terms: set[str] = set()
    for text in sources:
        source_terms.update(content_terms(text))
    terms = set(content_terms(claim))
    lexical = len(terms & source_terms) / len(terms) if terms else 1.0
    keys = key_tokens(claim)
    missing = tuple(k for k in keys if not set(content_terms(k)) <= source_terms)
    key = 0.0 if missing else 1.0
    return SupportFeatures(lexical=lexical, key=key, cosine=cosine, missing=missing)


def _explain(support: float, model: SupportModel, f: SupportFeatures) -> str:
    verdict = "supported" if support >= model.threshold else "unsupported"
    parts = [f"{verdict}: support {support:.2f} (threshold {model.threshold:.2f})"]
    parts.append(f"{f.lexical:.0%} of its words in the source")
    if f.missing:
        parts.append("not in the source: " + ", ".join(f.missing[:5]))
    if model.cosine:
        parts.append(f"similarity {f.cosine:.2f}")
    return "; ".join(parts)


def _clean(unit: str) -> str:
    return _SPACE.sub(" ", unit.replace("```", " ").replace("**", "").strip(" `\n\t"))


def _contains(source: str, claim: str) -> bool:
    return bool(claim) and claim in _SPACE.sub(" ", source)


def is_claim(unit: str) -> bool:
    unit = unit.strip()
    return bool(content_terms(unit)) and not (unit.endswith(":") and "```" not in unit)


def _citation_support(checks: Sequence[SentenceCheck]) -> dict[int, SentenceCheck]:
    """For each citation number, the weakest sentence citing it."""
    weakest: dict[int, SentenceCheck] = {}
    for check in checks:
        for n in check.citations:
            seen = weakest.get(n)
            if seen is None or (check.supported, check.support or 0.0) < (
                seen.supported,
                seen.support or 0.0,
            ):
                weakest[n] = check
    return weakest


def _marked(citations: Sequence[Citation], checks: Sequence[SentenceCheck]) -> tuple[Citation, ...]:
    weakest = _citation_support(checks)
    return tuple(
        replace(c, support=weakest[c.n].support, verified=weakest[c.n].supported)
        if c.n in weakest
        else replace(c, support=0.0, verified=False)
        for c in citations
    )


def _remove(draft: Draft, units: Sequence[Unit], checks: Sequence[SentenceCheck]) -> Draft:
    """The draft without its unsupported sentences (and markers that cite nothing left)."""
    dropped = [i for i, c in enumerate(checks) if c.citations and not c.supported]
    kept = [c for c in checks if c.supported or not c.citations]
    if not any(c.citations for c in kept):
        return Draft(
            text=NOT_FOUND,
            citations=(),
            abstained=True,
            usage=draft.usage,
            reason=f"verification removed all {len(dropped)} cited sentences",
        )
    still_cited = {units[i].marker for i, c in enumerate(checks) if c.citations and c.supported}
    cuts = {(units[i].start, units[i].end) for i in dropped}
    cuts |= {m for i in dropped if (m := units[i].marker) is not None and m not in still_cited}
    text = draft.text
    for start, end in sorted(cuts, reverse=True):
        text = text[:start] + text[end:]
    text = _tidy(text)
    referenced = {int(n) for n in MARKER.findall(text)}
    citations = _marked([c for c in draft.citations if c.n in referenced], kept)
    note = f"verification removed {len(dropped)} unsupported sentence(s)"
    return replace(
        draft,
        text=text,
        citations=citations,
        reason=f"{draft.reason}; {note}" if draft.reason else note,
    )


def _tidy(text: str) -> str:
    """Spaces and empty list items left behind by removed sentences, cleaned up."""
    lines = []
    for line in text.split("\n"):
        body = re.sub(r"[ \t]{2,}", " ", line.strip())
        if BULLET.fullmatch(body + " "):
            continue  # a list item left empty
        indent = line[: len(line) - len(line.lstrip())] if BULLET.match(line) else ""
        lines.append(indent + body)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class LexicalVerifier:
    """Marks each citation verified when every sentence citing it is supported.

    Support here is only the share of the sentence's content words found in the chunk; prefer
    `CitationVerifier`, which also checks key tokens and meaning and is calibrated on data.
    """

    def __init__(self, threshold: float = 0.6) -> None:
        self.threshold = threshold

    def verify(self, draft: Draft, hits: list[Hit]) -> Draft:
        if draft.abstained or not draft.citations:
            return draft
        texts = {h.chunk.id: h.chunk.text for h in hits}
        support: dict[int, float] = {}
        for sentence, numbers in cited_sentences(draft.text):
            terms = set(content_terms(sentence))
            for n in numbers:
                citation = next((c for c in draft.citations if c.n == n), None)
                if citation is None:
                    continue
                source = texts.get(citation.chunk_id, "")
                if sentence in source:
                    score = 1.0
                else:
                    chunk_terms = set(content_terms(source))
                    score = len(terms & chunk_terms) / len(terms) if terms else 0.0
                support[n] = min(support.get(n, 1.0), score)
        citations = tuple(
            replace(
                c,
                support=round(support.get(c.n, 0.0), 3),
                verified=support.get(c.n, 0.0) >= self.threshold,
            )
            for c in draft.citations
        )
        return replace(draft, citations=citations)
