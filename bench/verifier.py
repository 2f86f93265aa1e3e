"""Citation verification: fit the support model and measure precision and recall.

A labelled set of (claim, cited chunk(s), supported?) is built from two datasets; every
item goes through `CitationVerifier.check` as a one-sentence answer, so the features are
exactly those computed at answer time (chunk vectors come from the benchmark stores).

XQuAD (SQuAD v1.1 paragraphs; split by article: the first 24 articles tune, the last 24 are
held out). For each question with answer A, a claim is written from the question:

- `Who|What|Which is|was|are|were X?` (X not ending in a preposition) -> "X is A.";
- `Who|What <verb> Y?` (the verb not an auxiliary) -> "A <verb> Y.";
- anything else -> "<question without ?>: A." (the question-to-answer form).

  supported: the claim cited to its gold paragraph;
  swapped:   the claim cited to the paragraph of the same article whose embedding is closest
             to the gold paragraph's, among those not containing A (they might support it);
  altered:   A replaced by another question's answer from the same article, of the same kind
             (number / capitalised / other), that the gold paragraph does not contain,
             cited to the gold paragraph;
  altered_in_chunk (diagnostic, not used to fit): A replaced by another answer that *is* in
             the gold paragraph: a wrong entity the chunk mentions, which word overlap and
             embeddings cannot see (an NLI model or judge could).

Anthropic docs-QA (all test): each sentence of the human-written `correct_answer` is a claim.

  supported: the sentence cited to all the question's gold chunks (`[1][2]`: judged against
             their union);
  swapped:   cited to the one non-gold chunk closest (embedding) to the gold chunks' mean,
             among chunks whose text differs from every gold chunk's;
  altered:   one key token of the sentence that the gold chunks contain (a number, code
             identifier or capitalised name, picked with a seeded RNG) replaced everywhere
             in it by a token of the same kind from elsewhere in the corpus that the gold
             chunks do not contain (numbers: same digit count when possible).

Fit: logistic regression of supported-vs-not on (lexical, key, cosine), class-balanced,
L2 1e-3, Newton steps, on XQuAD tune only. The threshold maximises balanced accuracy on
XQuAD tune. The same fit without the cosine is `WORDS_ONLY_MODEL`; both must equal the
constants in `cairn.answer.verify` (`shipped_matches_fit`, checked by a test). Then
precision/recall of detecting *unsupported* citations (and of *supported*) per set and per
kind, against simpler checks too; and the time `verify` adds per answer.

    .venv/bin/python bench/verifier.py --datasets ../shared/datasets
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora
from cairn.answer.base import Draft
from cairn.answer.terms import content_terms
from cairn.answer.verify import (
    DEFAULT_MODEL,
    WORDS_ONLY_MODEL,
    CitationVerifier,
    LexicalVerifier,
    SupportFeatures,
    SupportModel,
    key_tokens,
)
from cairn.config import load_settings
from cairn.embed.minilm import MiniLMEmbedder
from cairn.ingest.chunking import content_hash, embedding_text
from cairn.sentences import split_sentences
from cairn.store.sqlite import SQLiteStore
from cairn.types import Chunk, Citation, Hit
from retrieval import open_store

KINDS = ("supported", "swapped", "altered")
AUXILIARIES = {"do", "does", "did", "is", "was", "are", "were", "has", "have", "had", "can"}
AUXILIARIES |= {"could", "will", "would", "should", "may", "might", "must", "shall"}
PREPOSITIONS = {"of", "in", "on", "for", "to", "from", "by", "with", "as", "at", "about"}
NUMBER_WORDS = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}
NUMBER_WORDS |= {"twice", "once", "hundred", "thousand", "million", "billion"}


@dataclass(slots=True)
class Item:
    set: str
    """`xquad_tune`, `xquad_heldout` or `anthropic`."""
    kind: str
    """`supported`, `swapped`, `altered` or `altered_in_chunk`."""
    claim: str
    chunks: list[str]
    """Ids of the cited chunks."""
    features: SupportFeatures | None = None
    units: int = 0
    verbatim: bool = False
    lexical_verified: bool = False

    @property
    def supported(self) -> bool:
        return self.kind == "supported"


Decide = Callable[[Sequence[Item]], np.ndarray]
"""Predicts `supported` for each item."""


# -- the labelled set ------------------------------------------------------------------------


def claim_from(question: str, answer: str) -> str:
    q = " ".join(question.strip().rstrip("?").split())
    words = q.split(" ")
    answer = answer.strip().rstrip(".")
    if len(words) >= 3 and words[0] in ("Who", "What", "Which"):
        verb = words[1].lower()
        rest = " ".join(words[2:])
        if verb in ("is", "was", "are", "were") and words[-1].lower() not in PREPOSITIONS:
            return f"{rest[0].upper()}{rest[1:]} {verb} {answer}."
        if verb not in AUXILIARIES and words[0] != "Which":
            return f"{answer[0].upper()}{answer[1:]} {' '.join(words[1:])}."
    return f"{q}: {answer}."


def kind_of(answer: str) -> str:
    if any(ch.isdigit() for ch in answer) or answer.lower().split()[0] in NUMBER_WORDS:
        return "number"
    return "name" if answer[:1].isupper() else "other"


def xquad_items(root: Path, vectors: dict[str, np.ndarray]) -> list[Item]:
    data = json.loads((root / "xquad_en_squad11" / "xquad.en.json").read_text("utf-8"))["data"]
    items: list[Item] = []
    for a, article in enumerate(data):
        split = "xquad_tune" if a < corpora.XQUAD_TUNE_ARTICLES else "xquad_heldout"
        paragraphs = [p["context"] for p in article["paragraphs"]]
        qas = [
            (p, qa["question"], qa["answers"][0]["text"])
            for p, para in enumerate(article["paragraphs"])
            for qa in para["qas"]
        ]
        for p, question, answer in qas:
            pid = f"{a:02d}-{p}"
            rng = random.Random(f"{pid}|{question}")
            claim = claim_from(question, answer)
            items.append(Item(split, "supported", claim, [pid]))
            others = [
                o
                for o in range(len(paragraphs))
                if o != p and answer.lower() not in paragraphs[o].lower()
            ]
            if others:
                gold = vectors[pid]
                best = max(others, key=lambda o: float(np.dot(gold, vectors[f"{a:02d}-{o}"])))
                items.append(Item(split, "swapped", claim, [f"{a:02d}-{best}"]))
            context = paragraphs[p].lower()
            pool = sorted({ans for _, _, ans in qas if not _overlaps(ans, answer)})
            same = [x for x in pool if kind_of(x) == kind_of(answer)] or pool
            outside = [x for x in same if x.lower() not in context]
            inside = [x for x in pool if x.lower() in context]
            if outside:
                wrong = claim_from(question, rng.choice(outside))
                items.append(Item(split, "altered", wrong, [pid]))
            if inside:
                wrong = claim_from(question, rng.choice(inside))
                items.append(Item(split, "altered_in_chunk", wrong, [pid]))
    return items


def _overlaps(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return a in b or b in a


def token_kind(token: str) -> str:
    if any(ch.isdigit() for ch in token):
        return "number"
    if "_" in token or "." in token or re.search(r"[a-z][A-Z]", token):
        return "identifier"
    return "name"


def anthropic_items(
    dataset: corpora.Dataset, vectors: dict[str, np.ndarray], answers: dict[str, str]
) -> list[Item]:
    texts = {p.id: p.text for p in dataset.passages}
    pool: dict[str, set[str]] = {"number": set(), "identifier": set(), "name": set()}
    for text in texts.values():
        for token in key_tokens(text):
            pool[token_kind(token)].add(token)
    ordered = {k: sorted(v) for k, v in pool.items()}
    items: list[Item] = []
    for query in dataset.splits["test"]:
        gold = list(query.relevant)
        gold_terms = {t for g in gold for t in content_terms(texts[g])}
        gold_texts = {texts[g] for g in gold}
        centre = np.mean([vectors[g] for g in gold], axis=0)
        swap = max(
            (pid for pid in texts if pid not in query.relevant and texts[pid] not in gold_texts),
            key=lambda pid: float(np.dot(centre, vectors[pid])),
        )
        answer = answers[query.id]
        for s, e in split_sentences(answer):
            sentence = answer[s:e]
            rng = random.Random(f"{query.id}|{s}")
            items.append(Item("anthropic", "supported", sentence, gold))
            items.append(Item("anthropic", "swapped", sentence, [swap]))
            present = [k for k in key_tokens(sentence) if set(content_terms(k)) <= gold_terms]
            if not present:
                continue
            token = rng.choice(present)
            kind = token_kind(token)
            candidates = [
                c for c in ordered[kind] if not set(content_terms(c)) <= gold_terms and c != token
            ]
            if kind == "number":
                digits = len(re.sub(r"\D", "", token))
                candidates = [
                    c for c in candidates if len(re.sub(r"\D", "", c)) == digits
                ] or candidates
            if not candidates:
                continue
            pattern = re.compile(rf"(?<![\w.]){re.escape(token)}(?![\w])")
            altered = pattern.sub(rng.choice(candidates), sentence)
            if altered != sentence:
                items.append(Item("anthropic", "altered", altered, gold))
    return items


def reference_answers(root: Path) -> dict[str, str]:
    path = root / "anthropic_docs_rag" / "docs_evaluation_dataset.json"
    return {str(q["id"]): str(q["correct_answer"]) for q in json.loads(path.read_text("utf-8"))}


# -- features ---------------------------------------------------------------------------------


def chunk_for(p: corpora.Passage) -> Chunk:
    return Chunk(
        id=p.id,
        doc_id=p.id,
        ordinal=0,
        text=p.text,
        section=(),
        anchor=None,
        start=0,
        end=len(p.text),
        token_count=0,
        hash=content_hash(embedding_text(p.title, (), p.text)),
        source=p.id,
        uri=p.id,
        title=p.title,
    )


def draft_for(claim: str, chunks: Sequence[Chunk]) -> tuple[Draft, list[Hit]]:
    markers = "".join(f"[{n}]" for n in range(1, len(chunks) + 1))
    citations = tuple(
        Citation(n=n, chunk_id=c.id, source=c.source, uri=c.uri, section="", quote="")
        for n, c in enumerate(chunks, start=1)
    )
    hits = [Hit(chunk=c, score=1.0) for c in chunks]
    return Draft(text=f"{claim} {markers}", citations=citations, abstained=False), hits


def extract(items: list[Item], chunks: dict[str, Chunk], verifier: CitationVerifier) -> None:
    lexical = LexicalVerifier()
    for item in items:
        draft, hits = draft_for(item.claim, [chunks[c] for c in item.chunks])
        checks = [s for s in verifier.check(draft, hits).sentences if s.citations]
        item.units = len(checks)
        weakest = min(checks, key=lambda s: s.support or 0.0)
        item.features = weakest.features
        item.verbatim = weakest.reason == "verbatim quote"
        item.lexical_verified = all(c.verified for c in lexical.verify(draft, hits).citations)


def matrix(items: Sequence[Item]) -> np.ndarray:
    rows = []
    for i in items:
        assert i.features is not None
        rows.append([1.0, i.features.lexical, i.features.key, i.features.cosine])
    return np.array(rows)


# -- the fit ----------------------------------------------------------------------------------


def fit(items: Sequence[Item], l2: float = 1e-3, without: int | None = None) -> np.ndarray:
    """Class-balanced L2 logistic regression by Newton's method; returns (b, w1, w2, w3).
    `without`: the index of a feature (1-3) to leave out (its weight stays 0)."""
    keep = [c for c in range(4) if c != without]
    x = matrix(items)[:, keep]
    y = np.array([1.0 if i.supported else 0.0 for i in items])
    weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    beta = np.zeros(x.shape[1])
    penalty = l2 * np.diag([0.0] + [1.0] * (len(keep) - 1)) * len(y)
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ beta)))
        grad = x.T @ (weight * (p - y)) + penalty @ beta
        hess = (x.T * (weight * p * (1 - p))) @ x + penalty
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.abs(step).max()) < 1e-9:
            break
    full = np.zeros(4)
    full[keep] = beta
    return full


def model_from(beta: np.ndarray, tune: Sequence[Item]) -> SupportModel:
    """The fit rounded as shipped, with its threshold chosen on `tune`."""
    model = SupportModel(
        intercept=round(float(beta[0]), 2),
        lexical=round(float(beta[1]), 2),
        key=round(float(beta[2]), 2),
        cosine=round(float(beta[3]), 2),
        threshold=0.5,
    )
    labels = np.array([i.supported for i in tune])
    threshold = choose_threshold(supports(model, tune), labels)
    return replace(model, threshold=threshold)


def supports(model: SupportModel, items: Sequence[Item]) -> np.ndarray:
    out = []
    for item in items:
        assert item.features is not None
        out.append(1.0 if item.verbatim else model.support(item.features))
    return np.array(out)


def balanced_accuracy(scores: np.ndarray, labels: np.ndarray, t: float) -> float:
    predicted = scores >= t
    return float((predicted[labels].mean() + (~predicted[~labels]).mean()) / 2)


def choose_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    return float(grid[int(np.argmax([balanced_accuracy(scores, labels, t) for t in grid]))])


def rates(predicted_supported: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Precision/recall of flagging unsupported citations, and of accepting supported ones,
    each with a 95% bootstrap interval (1,000 resamples of the items)."""

    def metrics(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
        def pr(p: np.ndarray, t: np.ndarray) -> tuple[float, float]:
            tp = float((p & t).sum())
            return (tp / p.sum() if p.sum() else np.nan), (tp / t.sum() if t.sum() else np.nan)

        up, ur = pr(~pred, ~truth)
        sp, sr = pr(pred, truth)
        return np.array([up, ur, sp, sr, (ur + sr) / 2])

    names = [
        "unsupported_precision",
        "unsupported_recall",
        "supported_precision",
        "supported_recall",
        "balanced_accuracy",
    ]
    point = metrics(predicted_supported, labels)
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(1000):
        idx = rng.integers(0, len(labels), len(labels))
        samples.append(metrics(predicted_supported[idx], labels[idx]))
    low, high = np.nanpercentile(np.array(samples), [2.5, 97.5], axis=0)
    out: dict[str, Any] = {
        "n_supported": int(labels.sum()),
        "n_unsupported": int((~labels).sum()),
    }
    for i, name in enumerate(names):
        out[name] = round(float(point[i]), 3)
        out[f"{name}_ci95"] = [round(float(low[i]), 3), round(float(high[i]), 3)]
    return out


def report(items: list[Item], decide: Decide) -> dict[str, Any]:
    """Rates per set: all kinds together, then each unsupported kind against the supported."""
    out: dict[str, Any] = {}
    for name in ("xquad_tune", "xquad_heldout", "anthropic"):
        subset = [i for i in items if i.set == name]
        main = [i for i in subset if i.kind in KINDS]
        labels = np.array([i.supported for i in main])
        out[name] = {"all": rates(decide(main), labels)}
        for kind in ("swapped", "altered", "altered_in_chunk"):
            part = [i for i in subset if i.kind in ("supported", kind)]
            if any(i.kind == kind for i in part):
                labels = np.array([i.supported for i in part])
                out[name][kind] = rates(decide(part), labels)
    return out


# -- latency ----------------------------------------------------------------------------------


def latency(
    dataset: corpora.Dataset,
    chunks: dict[str, Chunk],
    store: SQLiteStore,
    model_dir: Path,
    vectors: dict[str, np.ndarray],
    answers: dict[str, str],
    repeat: int,
) -> dict[str, Any]:
    """Milliseconds `verify` takes per answer: the whole reference answer (each sentence
    followed by the gold chunks' markers), the five chunks closest to the gold as hits. The
    1-minute load average is recorded: the machine is shared and embedding slows with it."""
    embedder = MiniLMEmbedder(model_dir)
    embedder.warm_up()
    cases = []
    for query in dataset.splits["test"]:
        gold = list(query.relevant)
        centre = np.mean([vectors[g] for g in gold], axis=0)
        near = sorted(chunks, key=lambda pid: -float(np.dot(centre, vectors[pid])))
        hit_ids = (gold + [p for p in near if p not in gold])[:5]
        draft, hits = draft_for("", [chunks[p] for p in hit_ids])
        answer = answers[query.id]
        markers = "".join(f"[{n}]" for n in range(1, len(gold) + 1))
        text = " ".join(f"{answer[s:e]} {markers}" for s, e in split_sentences(answer))
        cases.append((replace(draft, text=text), hits))
    configs: dict[str, CitationVerifier | LexicalVerifier] = {
        "citation_verifier_stored_vectors": CitationVerifier(embedder, store=store),
        "citation_verifier_embedding_chunks": CitationVerifier(embedder),
        "citation_verifier_words_only": CitationVerifier(embedder, model=WORDS_ONLY_MODEL),
        "lexical_verifier": LexicalVerifier(),
    }
    sentences = [len(split_sentences(answers[q.id])) for q in dataset.splits["test"]]
    out: dict[str, Any] = {
        "load_average_before": round(os.getloadavg()[0], 2),
        "answers": len(cases),
        "passes": repeat,
        "sentences_per_answer": round(statistics.mean(sentences), 2),
    }
    times: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(repeat):  # interleaved, so that every verifier meets the same load
        for draft, hits in cases:
            for name, verifier in configs.items():
                embedder._recent.clear()  # every answer is new text in real use
                t0 = time.perf_counter()
                verifier.verify(draft, hits)
                times[name].append((time.perf_counter() - t0) * 1000)
    for name, values in times.items():
        values.sort()
        out[name] = {
            "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(values[int(0.95 * (len(values) - 1))], 2),
            "mean_ms": round(statistics.mean(values), 2),
        }
    out["load_average_after"] = round(os.getloadavg()[0], 2)
    return out


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=Path("bench/.cache"))
    parser.add_argument("--json-out", type=Path, default=Path("bench/results/verifier.json"))
    parser.add_argument("--repeat", type=int, default=5, help="latency passes over the answers")
    args = parser.parse_args()
    settings = load_settings()
    embedder = MiniLMEmbedder(settings.model_dir)

    xquad = corpora.load_xquad(args.datasets)
    anthropic = corpora.load_anthropic(args.datasets)
    answers = reference_answers(args.datasets)

    items: list[Item] = []
    stores = {}
    all_chunks: dict[str, dict[str, Chunk]] = {}
    all_vectors: dict[str, dict[str, np.ndarray]] = {}
    for dataset in (xquad, anthropic):
        store, _ = open_store(dataset, embedder, args.cache_dir, heading_weight=1.0)
        chunks = {p.id: chunk_for(p) for p in dataset.passages}
        cached = store.cached_embeddings(embedder.name, [c.hash for c in chunks.values()])
        vectors = {pid: cached[c.hash] for pid, c in chunks.items()}
        built = (
            xquad_items(args.datasets, vectors)
            if dataset is xquad
            else anthropic_items(dataset, vectors, answers)
        )
        t0 = time.perf_counter()
        extract(built, chunks, CitationVerifier(embedder, store=store))
        print(
            f"  [{dataset.name}] {len(built)} items, features in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )
        items += built
        stores[dataset.name] = store
        all_chunks[dataset.name] = chunks
        all_vectors[dataset.name] = vectors

    counts = Counter((i.set, i.kind) for i in items)
    tune = [i for i in items if i.set == "xquad_tune" and i.kind in KINDS]
    fitted = model_from(fit(tune), tune)
    without_cosine = model_from(fit(tune, without=3), tune)
    labels = np.array([i.supported for i in tune])

    def calibrated(model: SupportModel) -> Decide:
        return lambda part: supports(model, part) >= model.threshold

    def single(feature: str) -> Decide:
        """One feature alone, its threshold chosen the same way on XQuAD tune."""

        def value(part: Sequence[Item]) -> np.ndarray:
            return np.array([1.0 if i.verbatim else getattr(i.features, feature) for i in part])

        t = choose_threshold(value(tune), labels)
        return lambda part: value(part) >= t

    results: dict[str, Any] = {
        "date": "2026-11-21",
        "command": "python bench/verifier.py --datasets ../shared/datasets",
        "items": {f"{s}/{k}": n for (s, k), n in sorted(counts.items())},
        "multi_sentence_items": sum(1 for i in items if i.units != 1),
        "verbatim_items": sum(1 for i in items if i.verbatim),
        "fitted_model": asdict(fitted),
        "shipped_model": asdict(DEFAULT_MODEL),
        "shipped_matches_fit": fitted == DEFAULT_MODEL and without_cosine == WORDS_ONLY_MODEL,
        "threshold_rule": "maximise balanced accuracy on xquad_tune (grid 0.05..0.95)",
        "calibrated": report(items, calibrated(fitted)),
        "baselines": {
            "without_cosine": {
                "model": asdict(without_cosine),
                **report(items, calibrated(without_cosine)),
            },
            "lexical_verifier_0.6": report(
                items, lambda part: np.array([i.lexical_verified for i in part])
            ),
            **{f"{f}_only": report(items, single(f)) for f in ("lexical", "key", "cosine")},
        },
    }
    results["latency"] = latency(
        anthropic,
        all_chunks["anthropic"],
        stores["anthropic"],
        settings.model_dir,
        all_vectors["anthropic"],
        answers,
        args.repeat,
    )
    for store in stores.values():
        store.close()
    print(json.dumps({k: results[k] for k in ("items", "fitted_model")}, indent=1))
    for name, sets in [("calibrated", results["calibrated"]), *results["baselines"].items()]:
        print(f"== {name}")
        for set_name, kinds in sets.items():
            if set_name == "model":
                continue
            for kind, r in kinds.items():
                print(
                    f"  {set_name:>14} {kind:>17}: unsupported P {r['unsupported_precision']:.3f}"
                    f" R {r['unsupported_recall']:.3f} | supported P {r['supported_precision']:.3f}"
                    f" R {r['supported_recall']:.3f} | bal acc {r['balanced_accuracy']:.3f}"
                )
    print(json.dumps(results["latency"], indent=1))
    if not results["shipped_matches_fit"]:
        print("the constants in verify.py differ from this fit:", file=sys.stderr)
        print(f"verify.DEFAULT_MODEL: {fitted}", file=sys.stderr)
        print(f"verify.WORDS_ONLY_MODEL: {without_cosine}", file=sys.stderr)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
