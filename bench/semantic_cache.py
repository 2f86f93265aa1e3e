"""Calibrating the semantic answer cache: how similar must two questions be to share an answer?

A semantic hit needs cosine(question, stored question) >= threshold (all-MiniLM-L6-v2) AND
equal lexical signatures (`cairn.cache.signature`). This script measures both conditions on:

near misses (must NOT hit):
  - XQuAD, different questions about the same paragraph whose gold answers differ (the
    hardest natural negatives: same topic, same entities, often the same words);
  - Anthropic docs-QA, different questions sharing a gold chunk (technical documentation);
  - synthetic interrogative swaps of every XQuAD question ("When did X?" -> "Where did X?").
rephrasings (should hit), built from every question by rule, so their labels are certain but
their variety is limited: a courtesy prefix (two in the guard's list, two not), articles
dropped, a contraction, a keyword form (the guard's stop words dropped), one transposed letter,
an echo question ("X was who?"); plus XQuAD pairs on one paragraph with the same gold answer
(human-written, the only natural paraphrases available, and only some are true paraphrases).

Threshold rule, on the XQuAD tuning half (first 24 articles) only: the lowest cosine on a
0.005 grid at which at most 1% of near-miss pairs pass on similarity ALONE, so each condition
is a guard by itself. Reported on the held-out half (last 24 articles) and Anthropic docs-QA.

    .venv/bin/python bench/semantic_cache.py --datasets ../shared/datasets \
        [--model-dir ~/.cache/cairn/models] [--json-out bench/results/semantic_cache.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import platform
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from cairn.cache import (
    CacheRequest,
    MemoryAnswerCache,
    SemanticAnswerCache,
    SQLiteAnswerCache,
    normalise_question,
    question_signature,
)
from cairn.cache.signature import STOPWORDS
from cairn.config import load_settings
from cairn.embed.base import Vectors
from cairn.embed.minilm import MiniLMEmbedder
from cairn.evals.datasets import XQUAD_TUNE_ARTICLES
from cairn.types import Answer, Chunk, Citation, Hit

MAX_FALSE_HIT_RATE = 0.01
"""The bound the threshold rule holds similarity alone to, on the tuning near misses."""
GRID = [round(x, 3) for x in np.arange(0.80, 0.9951, 0.005)]
SWEEP = (0.80, 0.85, 0.88, 0.90, 0.92, 0.95, 0.97, 0.99)


@dataclass
class Question:
    text: str
    article: int
    group: str
    """Paragraph (XQuAD) or question id (Anthropic)."""
    answers: frozenset[str]
    chunks: frozenset[str] = frozenset()


@dataclass
class Pairs:
    """Labelled (a, b) text pairs: b is asked after a was cached."""

    name: str
    label: str
    """`negative` (must not hit) or `positive` (should hit)."""
    pairs: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""


# -- data ---------------------------------------------------------------------------------


def load_xquad(root: Path) -> list[Question]:
    data = json.loads((root / "xquad_en_squad11" / "xquad.en.json").read_text())
    out = []
    for a, article in enumerate(data["data"]):
        for p, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                answers = frozenset(_answer(x["text"]) for x in qa["answers"])
                out.append(Question(qa["question"].strip(), a, f"{a:02d}-{p}", answers))
    return out


def load_anthropic(root: Path) -> list[Question]:
    data = json.loads((root / "anthropic_docs_rag" / "docs_evaluation_dataset.json").read_text())
    return [
        Question(
            q["question"].strip(),
            0,
            q["id"],
            frozenset({_answer(q["correct_answer"])}),
            frozenset(q["correct_chunks"]),
        )
        for q in data
    ]


def _answer(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def same_paragraph_pairs(questions: list[Question]) -> tuple[Pairs, Pairs, int]:
    """(near misses, same-answer pairs, identical-question pairs left out)."""
    near = Pairs("xquad_same_paragraph", "negative", note="different gold answers")
    same = Pairs("xquad_same_answer", "positive", note="same paragraph, same gold answer")
    identical = 0
    by_paragraph: dict[str, list[Question]] = {}
    for q in questions:
        by_paragraph.setdefault(q.group, []).append(q)
    for group in by_paragraph.values():
        for a, b in itertools.combinations(group, 2):
            if normalise_question(a.text) == normalise_question(b.text):
                identical += 1  # SQuAD repeats a few questions with other answer spans
            elif a.answers & b.answers:
                same.pairs.append((a.text, b.text))
            else:
                near.pairs.append((a.text, b.text))
    return near, same, identical


def anthropic_pairs(questions: list[Question]) -> Pairs:
    near = Pairs("anthropic_shared_chunk", "negative", note="different questions, one gold chunk")
    for a, b in itertools.combinations(questions, 2):
        if a.chunks & b.chunks and normalise_question(a.text) != normalise_question(b.text):
            near.pairs.append((a.text, b.text))
    return near


_SWAP = {
    "when": "where",
    "where": "when",
    "who": "when",
    "why": "how",
    "how": "why",
    "what": "where",
    "which": "who",
}


def wh_swaps(questions: list[Question]) -> Pairs:
    swaps = Pairs("interrogative_swap", "negative", note="synthetic: first wh-word replaced")
    for q in questions:
        m = re.match(r"^(\w+)\b(.*)$", q.text)
        if m and m.group(1).lower() in _SWAP:
            new = _SWAP[m.group(1).lower()]
            swaps.pairs.append((q.text, new.capitalize() + m.group(2)))
    return swaps


_FILLERS = ("Can you tell me", "Please tell me:", "Do you happen to know", "Quick question:")


def rephrasings(questions: list[Question]) -> list[Pairs]:
    kinds = {
        "filler_known": Pairs("filler_known", "positive", note="'Can you tell me' / 'Please..'"),
        "filler_unknown": Pairs("filler_unknown", "positive", note="prefixes not in the guard"),
        "articles": Pairs("articles_dropped", "positive"),
        "contraction": Pairs("contraction", "positive"),
        "keywords": Pairs("keyword_form", "positive", note="the guard's stop words dropped"),
        "typo": Pairs("one_transposition", "positive", note="refused by the guard by design"),
        "echo": Pairs("echo_word_order", "positive", note="refused by the guard by design"),
        "surface": Pairs("case_punctuation", "positive", note="the exact key already matches"),
    }
    for i, q in enumerate(questions):
        t = q.text
        lower_first = t[0].lower() + t[1:]
        filler = _FILLERS[i % 4]
        kind = "filler_known" if i % 4 < 2 else "filler_unknown"
        kinds[kind].pairs.append((t, f"{filler} {lower_first}"))
        kinds["surface"].pairs.append((t, "  " + t.upper().rstrip("?") + " ?!"))
        dropped = re.sub(r"^(The|A|An) ", "", re.sub(r"\b(the|a|an) ", "", t))
        if dropped != t:
            kinds["articles"].pairs.append((t, dropped))
        contracted = re.sub(r"\b(What|Who|Where|How|When|It|That) is\b", r"\1's", t)
        contracted = re.sub(r"\b(did|does|do|is|was|were|are) not\b", r"\1n't", contracted)
        if contracted != t:
            kinds["contraction"].pairs.append((t, contracted))
        words = re.findall(r"[\w'-]+", t)
        keywords = " ".join(w for w in words if w.lower() not in STOPWORDS)
        if keywords and normalise_question(keywords) != normalise_question(t):
            kinds["keywords"].pairs.append((t, keywords))
        long_words = [w for w in re.findall(r"[A-Za-z]+", t) if len(w) >= 6]
        if long_words:
            w = max(long_words, key=len)
            k = len(w) // 2
            kinds["typo"].pairs.append(
                (t, t.replace(w, w[: k - 1] + w[k] + w[k - 1] + w[k + 1 :], 1))
            )
        m = re.match(r"^(What|Who) (is|was|are|were) (.+?)\??$", t)
        if m:
            kinds["echo"].pairs.append((t, f"{m.group(3)} {m.group(2)} {m.group(1).lower()}?"))
    return list(kinds.values())


# -- scoring ------------------------------------------------------------------------------


class Embeddings:
    """Every text embedded once (MiniLM), shared by all pair sets."""

    def __init__(self, embedder: MiniLMEmbedder, texts: Sequence[str]) -> None:
        unique = list(dict.fromkeys(texts))
        vectors = embedder.embed(unique)
        self.index = {t: i for i, t in enumerate(unique)}
        self.vectors = vectors

    def cosines(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        a = self.vectors[[self.index[x] for x, _ in pairs]]
        b = self.vectors[[self.index[y] for _, y in pairs]]
        return np.asarray(np.einsum("ij,ij->i", a, b))


class LookupEmbedder:
    """An `Embedder` answering from precomputed vectors (for the end-to-end check)."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, embeddings: Embeddings) -> None:
        self.e = embeddings

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self.e.vectors[[self.e.index[t] for t in texts]]


@dataclass
class Scored:
    pairs: Pairs
    cosine: np.ndarray
    guard: np.ndarray
    exact: np.ndarray

    def rates(self, t: float) -> dict[str, object]:
        n = len(self.cosine)
        cos_only = int((self.cosine >= t).sum())
        both = int(((self.cosine >= t) & self.guard).sum())
        exact = int(self.exact.sum())
        out: dict[str, object] = {
            "pairs": n,
            "exact_key_equal": round(exact / n, 4) if n else None,
            "similarity_alone": round(cos_only / n, 4) if n else None,
            "signature_alone": round(int(self.guard.sum()) / n, 4) if n else None,
            "similarity_and_guard": round(both / n, 4) if n else None,
            "similarity_and_guard_count": both,
        }
        if self.pairs.label == "negative":
            out["similarity_and_guard_wilson95_upper"] = round(wilson_upper(both, n), 4)
        return out


def score(pairs: Pairs, emb: Embeddings) -> Scored:
    cos = emb.cosines(pairs.pairs) if pairs.pairs else np.zeros(0)
    guard = np.array(
        [
            bool(question_signature(a)) and question_signature(a) == question_signature(b)
            for a, b in pairs.pairs
        ],
        dtype=bool,
    )
    exact = np.array(
        [normalise_question(a) == normalise_question(b) for a, b in pairs.pairs], dtype=bool
    )
    return Scored(pairs, cos, guard, exact)


def wilson_upper(k: int, n: int, z: float = 1.96) -> float:
    if n == 0:
        return 1.0
    p = k / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre + margin) / (1 + z * z / n)


def choose_threshold(near_misses: Scored) -> float:
    for t in GRID:
        if (near_misses.cosine >= t).mean() <= MAX_FALSE_HIT_RATE:
            return t
    return GRID[-1]


def end_to_end(scored: Scored, embedder: LookupEmbedder, threshold: float) -> float:
    """Share of pairs the real `SemanticAnswerCache` serves: a cached, b asked (one
    partition per pair, as if a were the only entry)."""
    served = 0
    answer = Answer(text="cached", citations=(), abstained=False)
    for n, (a, b) in enumerate(scored.pairs.pairs):
        cache = SemanticAnswerCache(MemoryAnswerCache(), embedder, threshold=threshold)
        cache.put(CacheRequest(question=a, generation=n, config="bench"), answer)
        served += cache.get(CacheRequest(question=b, generation=n, config="bench")) is not None
    return served / len(scored.pairs.pairs) if scored.pairs.pairs else 0.0


def realistic_answer() -> Answer:
    """About the size of a real entry: 3 citations and 5 hits of ~1,000-character chunks."""
    chunk_text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 18
    hits = tuple(
        Hit(
            chunk=Chunk(
                id=f"c{i}",
                doc_id=f"d{i}",
                ordinal=i,
                text=chunk_text,
                section=("Guide", "Section"),
                anchor="section",
                start=0,
                end=len(chunk_text),
                token_count=200,
                hash=f"h{i}",
                source=f"guide/page{i}.html",
                uri=f"file:///docs/guide/page{i}.html",
                title="Guide",
            ),
            score=0.5,
        )
        for i in range(5)
    )
    citations = tuple(
        Citation(
            n=i + 1,
            chunk_id=f"c{i}",
            source=f"guide/page{i}.html",
            uri=f"file:///docs/guide/page{i}.html#section",
            section="Guide > Section",
            quote=chunk_text[:120],
            verified=True,
        )
        for i in range(3)
    )
    return Answer(
        text="An answer sentence. [1] " * 4, citations=citations, abstained=False, hits=hits
    )


def lookup_latency(dim: int = 384) -> dict[str, dict[str, float]]:
    """Milliseconds per SQLite operation with one partition of `size` embedded entries.

    `similar_cold`: the first semantic lookup of a process (loads the partition's vectors);
    `similar_warm`: the next ones, each right after this process stored a new answer (the
    pattern of a miss followed by `put`)."""
    rng = np.random.default_rng(0)
    answer = realistic_answer()
    results: dict[str, dict[str, float]] = {}

    def req(i: int) -> CacheRequest:
        return CacheRequest(question=f"q{i}", generation=1, config="c")

    def vec() -> np.ndarray:
        return rng.standard_normal(dim).astype(np.float32)

    def ms(samples: list[float]) -> float:
        return round(float(np.median(samples)) * 1000, 3)

    for size in (100, 1_000, 10_000):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "cache.db"
            puts, gets, cold, warm = [], [], [], []
            with SQLiteAnswerCache(path, max_entries=size) as cache:
                for i in range(size):
                    v = vec()
                    started = time.perf_counter()
                    cache.put(req(i), answer, vector=v, model="m")
                    puts.append(time.perf_counter() - started)
            for _ in range(5):
                with SQLiteAnswerCache(path, max_entries=size) as cache:
                    started = time.perf_counter()
                    cache.similar(req(0), vec(), model="m", min_similarity=0.9)
                    cold.append(time.perf_counter() - started)
            with SQLiteAnswerCache(path, max_entries=size) as cache:
                cache.similar(req(0), vec(), model="m", min_similarity=0.9)
                for i in range(50):
                    started = time.perf_counter()
                    cache.get(req(i * 7 % size))
                    gets.append(time.perf_counter() - started)
                    cache.put(req(size + i), answer, vector=vec(), model="m")
                    started = time.perf_counter()
                    cache.similar(req(0), vec(), model="m", min_similarity=0.9)
                    warm.append(time.perf_counter() - started)
        results[str(size)] = {
            "put_p50_ms": ms(puts[-200:]),
            "get_p50_ms": ms(gets),
            "similar_cold_p50_ms": ms(cold),
            "similar_warm_p50_ms": ms(warm),
        }
        print(f"  latency with {size:>6} entries: {results[str(size)]}", flush=True)
    return results


# -- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--json-out", type=Path, default=Path("bench/results/semantic_cache.json"))
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    embedder = MiniLMEmbedder(args.model_dir or load_settings().model_dir)

    xquad = load_xquad(args.datasets)
    halves = {
        "xquad_tune": [q for q in xquad if q.article < XQUAD_TUNE_ARTICLES],
        "xquad_heldout": [q for q in xquad if q.article >= XQUAD_TUNE_ARTICLES],
    }
    anthropic = load_anthropic(args.datasets)
    sets: dict[str, list[Pairs]] = {}
    identical: dict[str, int] = {}
    for name, questions in halves.items():
        near, same, identical[name] = same_paragraph_pairs(questions)
        sets[name] = [near, wh_swaps(questions), same, *rephrasings(questions)]
    sets["anthropic_docs"] = [
        anthropic_pairs(anthropic),
        wh_swaps(anthropic),
        *rephrasings(anthropic),
    ]
    texts = [t for group in sets.values() for p in group for pair in p.pairs for t in pair]
    print(f"embedding {len(set(texts))} texts ...", flush=True)
    emb = Embeddings(embedder, texts)
    scored = {name: [score(p, emb) for p in group] for name, group in sets.items()}

    tune_near = scored["xquad_tune"][0]
    threshold = choose_threshold(tune_near)
    print(f"chosen threshold: {threshold}")

    lookup = LookupEmbedder(emb)
    tables: dict[str, dict[str, object]] = {}
    for name, group in scored.items():
        tables[name] = {}
        for s in group:
            row = {"label": s.pairs.label, "note": s.pairs.note, **s.rates(threshold)}
            row["served_by_SemanticAnswerCache"] = round(end_to_end(s, lookup, threshold), 4)
            if s.pairs.label == "negative" and len(s.cosine):
                row["cosine_p50_p99_max"] = [
                    round(float(x), 3) for x in np.percentile(s.cosine, [50, 99, 100])
                ]
            tables[name][s.pairs.name] = row
            print(f"{name:>15} {s.pairs.name:<22} {row}")

    sweep = {}
    for t in SWEEP:
        sweep[str(t)] = {
            f"{name}/{s.pairs.name}": {
                "similarity_alone": s.rates(t)["similarity_alone"],
                "similarity_and_guard": s.rates(t)["similarity_and_guard"],
            }
            for name, group in scored.items()
            for s in group
        }
    worst = sorted(
        zip(tune_near.cosine.tolist(), tune_near.pairs.pairs, strict=True), reverse=True
    )[:8]
    results = {
        "run_at_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "model": embedder.name,
        "threshold_rule": (
            f"lowest cosine on a 0.005 grid in [0.80, 0.995] at which at most "
            f"{MAX_FALSE_HIT_RATE:.0%} of XQuAD tuning near-miss pairs pass on similarity alone"
        ),
        "chosen_threshold": threshold,
        "identical_question_pairs_left_out": identical,
        "tables": tables,
        "sweep": sweep,
        "closest_tuning_near_misses": [
            {"cosine": round(c, 3), "a": a, "b": b} for c, (a, b) in worst
        ],
    }
    if not args.skip_latency:
        results["sqlite_latency_ms"] = lookup_latency()
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.json_out}")


if __name__ == "__main__":
    main()
