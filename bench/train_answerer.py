"""Training the extractive answerer's sentence scorer and answerability model.

Training data, training splits only (the golden set and the held-out splits are never fitted
on; docs/benchmarks.md, "Extractive answers"):

- XQuAD questions on the first 24 articles (`tune`, the split fusion and the old abstention
  threshold were tuned on). Each question retrieves its top 5 paragraphs by dense
  similarity; a unit is positive when it contains a gold answer span. For answerability the
  same question is asked twice, SQuAD-2.0 style: over the whole corpus (answerable when a
  retrieved unit holds the answer) and over the corpus without its article (unanswerable).
- SciFact training claims (raw/scifact.zip, claims_train.csv) with rationale sentences: the
  cited abstracts are the candidates, the rationale sentences the positives (this teaches
  results over background).

The threshold is the highest one keeping false abstention on the training questions at or
below `--max-false-abstention` (3%). Held-out report: XQuAD's last 24 articles (gold span in
the answer when the gold paragraph is among the 5 read, token F1, false abstention, and
abstention with the article removed) and SciFact's dev claims (the best unit is a rationale
sentence).

Needs scikit-learn (the `dev` extra) at training time only.

    .venv/bin/python bench/train_answerer.py --datasets ../shared/datasets
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import pickle
import re
import string
import sys
import time
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn.answer.extractive import ExtractiveAnswerer
from cairn.answer.features import (
    ANSWERABILITY_FEATURES,
    MODEL_PATH,
    UNIT_FEATURES,
    answerability_row,
    parse_model,
    specific_terms,
    unit_matrix,
)
from cairn.answer.kinds import question_kind
from cairn.answer.units import candidate_units
from cairn.config import AnswerSettings, load_settings
from cairn.embed.minilm import MiniLMEmbedder
from cairn.types import Chunk, Hit

XQUAD_TUNE_ARTICLES = 24
K = 5


@dataclass
class Item:
    question: str
    hits: list[Hit]
    relevance: list[float]
    answers: list[str]
    positives: set[tuple[int, int]] | None = None
    """For SciFact: (hit index, unit index) of the rationale sentences."""
    gold_read: bool = True
    spans: list[tuple[int, int, int]] | None = None
    """For the Python docs FAQ: (hit index, start, end) of the answer in its chunk's text."""


class CachedEmbedder:
    """The real embedder with every text's vector kept (and saved) across calls and runs."""

    def __init__(self, inner: MiniLMEmbedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path.exists():
            with path.open("rb") as f:
                self.vectors = pickle.load(f)

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing), strict=True):
                self.vectors[text] = np.asarray(vector, dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts])

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("wb") as f:
            pickle.dump(self.vectors, f)


def _chunk(cid: str, title: str, text: str) -> Chunk:
    return Chunk(
        id=cid,
        doc_id=cid,
        ordinal=0,
        text=text,
        section=(),
        anchor=None,
        start=0,
        end=len(text),
        token_count=0,
        hash=cid,
        source=title,
        title=title,
    )


def _embed_cached(embedder: MiniLMEmbedder, texts: list[str], path: Path) -> np.ndarray:
    if path.exists():
        data = np.load(path)
        if data.shape[0] == len(texts):
            return data
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def xquad_items(
    root: Path, embedder: MiniLMEmbedder, cache: Path
) -> tuple[dict[str, list[tuple[Item, Item]]], dict[str, list[Item]]]:
    """Per split (`tune`, `heldout`): (answerable, article removed) item pairs; and the
    questions with a swapped name (unanswerable, over the whole corpus)."""
    data = json.loads((root / "xquad_en_squad11" / "xquad.en.json").read_text())["data"]
    chunks: list[Chunk] = []
    article: list[int] = []
    questions: list[tuple[int, int, str, list[str]]] = []
    for a, art in enumerate(data):
        title = art["title"].replace("_", " ")
        for para in art["paragraphs"]:
            p = len(chunks)
            chunks.append(_chunk(f"{a}-{p}", title, para["context"]))
            article.append(a)
            for qa in para["qas"]:
                questions.append((a, p, qa["question"], [x["text"] for x in qa["answers"]]))
    passages = _embed_cached(
        embedder, [f"{c.title}\n{c.text}" for c in chunks], cache / "answer_xquad_p.npy"
    )
    qvec = _embed_cached(embedder, [q[2] for q in questions], cache / "answer_xquad_q.npy")
    sims = qvec @ passages.T
    arts = np.array(article)
    out: dict[str, list[tuple[Item, Item]]] = {"tune": [], "heldout": []}
    for row, (a, p, question, answers) in zip(sims, questions, strict=True):
        full = np.argsort(-row)[:K]
        masked = np.where(arts == a, -np.inf, row)
        removed = np.argsort(-masked)[:K]
        pair = (
            Item(
                question,
                [Hit(chunk=chunks[i], score=float(row[i])) for i in full],
                [float(row[i]) for i in full],
                answers,
                gold_read=p in set(full.tolist()),
            ),
            Item(
                question,
                [Hit(chunk=chunks[i], score=float(row[i])) for i in removed],
                [float(row[i]) for i in removed],
                [],
            ),
        )
        out["tune" if a < XQUAD_TUNE_ARTICLES else "heldout"].append(pair)
    swapped = _swapped_questions(questions, chunks)
    svec = _embed_cached(embedder, [q for _, q in swapped], cache / "answer_xquad_swap.npy")
    swaps: dict[str, list[Item]] = {"tune": [], "heldout": []}
    for row, (a, question) in zip(svec @ passages.T, swapped, strict=True):
        top = np.argsort(-row)[:K]
        item = Item(
            question,
            [Hit(chunk=chunks[i], score=float(row[i])) for i in top],
            [float(row[i]) for i in top],
            [],
        )
        swaps["tune" if a < XQUAD_TUNE_ARTICLES else "heldout"].append(item)
    return out, swaps


def _swapped_questions(
    questions: list[tuple[int, int, str, list[str]]], chunks: list[Chunk]
) -> list[tuple[int, str]]:
    """SQuAD-2.0-style unanswerable questions: one specific term of the question (a name, a
    number) that its paragraph contains is replaced by a specific term of a question on
    another article, which the paragraph does not contain. Deterministic (seed 0)."""
    rng = np.random.default_rng(0)
    pool: list[tuple[int, str]] = []
    for a, _, question, _ in questions:
        for term in sorted(specific_terms(question)):
            found = re.search(re.escape(term), question, re.IGNORECASE)
            if found and len(term) > 2:
                pool.append((a, found.group(0)))
    out = []
    for a, p, question, _ in questions:
        text = chunks[p].text.lower()
        present = sorted(t for t in specific_terms(question) if t in text and len(t) > 2)
        if not present:
            continue
        term = present[int(rng.integers(len(present)))]
        for _ in range(20):
            other_article, other = pool[int(rng.integers(len(pool)))]
            if other_article != a and other.lower() not in text:
                swapped = re.sub(re.escape(term), other, question, count=1, flags=re.I)
                out.append((a, swapped))
                break
    return out


def scifact_items(root: Path, split: str) -> list[Item]:
    """Claims with rationale sentences; candidates = their cited abstracts, one unit a
    sentence (relevance constant: no retrieval here)."""
    base = root / "scifact_beir"
    corpus: dict[str, dict[str, Any]] = {}
    csv.field_size_limit(1 << 30)
    with zipfile.ZipFile(base / "raw" / "scifact.zip") as z:
        for doc in csv.DictReader(io.TextIOWrapper(z.open("corpus_train.csv"))):
            # The abstract is a printed array of sentence strings: ['s1'\n 's2' ...].
            parts = _QUOTED.findall(doc["abstract"])
            sentences = [" ".join((a or b).split()) for a, b in parts]
            corpus[doc["doc_id"]] = {"title": doc["title"], "sentences": sentences}
            _SENTENCES[doc["doc_id"]] = sentences
    with zipfile.ZipFile(base / "raw" / "scifact.zip") as z:
        rows = list(csv.DictReader(io.TextIOWrapper(z.open(f"claims_{split}.csv"))))
    by_claim: dict[str, dict[str, Any]] = {}
    for r in rows:
        if not r["evidence_doc_id"] or r["evidence_doc_id"] not in corpus:
            continue
        entry = by_claim.setdefault(r["id"], {"claim": r["claim"], "cited": [], "evidence": {}})
        cited = [d for d in re.findall(r"\d+", r["cited_doc_ids"]) if d in corpus]
        entry["cited"] = list(dict.fromkeys(entry["cited"] + cited))
        sentences = [int(x) for x in re.findall(r"\d+", r["evidence_sentences"])]
        entry["evidence"].setdefault(r["evidence_doc_id"], set()).update(sentences)
    items = []
    for entry in by_claim.values():
        docs = list(dict.fromkeys([*entry["evidence"], *entry["cited"]]))[:K]
        hits = []
        positives: set[tuple[int, int]] = set()
        for h, d in enumerate(docs):
            sentences = corpus[d]["sentences"]
            text = " ".join(sentences)
            hits.append(Hit(chunk=_chunk(d, corpus[d]["title"], text), score=0.5))
            positives.update((h, s) for s in entry["evidence"].get(d, ()))
        items.append(Item(entry["claim"], hits, [0.5] * len(hits), [], positives))
    return items


def unit_rows(item: Item) -> tuple[np.ndarray, np.ndarray, list[float], Any]:
    units, views, keep = candidate_units(item.hits, item.relevance, 2 * 3)
    rows, coverage = unit_matrix(item.question, question_kind(item.question), views, item.relevance)
    if item.spans is not None:
        # FAQ: a unit is positive when it lies in the answer's span of its chunk.
        labels = np.array(
            [any(u.hit == h and s <= u.start < e for h, s, e in item.spans) for u in units],
            dtype=float,
        )
    elif item.positives is not None:
        # SciFact: a unit is positive when its text holds a rationale sentence of its hit.
        labels = np.array([_scifact_positive(item, u) for u in units], dtype=float)
    else:
        labels = np.array([any(a in u.text for a in item.answers) for u in units], dtype=float)
    return rows, labels, coverage, (units, keep)


def _scifact_positive(item: Item, unit: Any) -> bool:
    assert item.positives is not None
    doc = item.hits[unit.hit].chunk
    # Units of an abstract are its sentences re-split; match by text containment.
    return any(h == unit.hit and _sentence_of(doc.id, s) in unit.text for h, s in item.positives)


_SENTENCES: dict[str, list[str]] = {}
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


def _sentence_of(doc_id: str, index: int) -> str:
    sentences = _SENTENCES.get(doc_id, [])
    if index < len(sentences):
        return " ".join(sentences[index].split())[:60]
    return "\0"


def fit(rows: np.ndarray, labels: np.ndarray, c: float = 1.0) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((rows - mean) / scale, labels)
    return {
        "mean": [round(float(x), 6) for x in mean],
        "scale": [round(float(x), 6) for x in scale],
        "coef": [round(float(x), 6) for x in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
    }


def fit_pairwise(groups: list[tuple[np.ndarray, np.ndarray]], c: float = 1.0) -> dict[str, Any]:
    """A linear ranking model from (positive - negative) feature differences (no intercept:
    only differences within a question matter)."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([r for r, _ in groups])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    diffs = []
    for rows, labels in groups:
        z = (rows - mean) / scale
        pos, neg = z[labels == 1], z[labels == 0]
        diffs.append((pos[:, None, :] - neg[None, :, :]).reshape(-1, z.shape[1]))
    d = np.vstack(diffs)
    model = LogisticRegression(C=c, max_iter=2000, fit_intercept=False)
    model.fit(np.vstack([d, -d]), np.r_[np.ones(len(d)), np.zeros(len(d))])
    return {
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "coef": [round(float(v), 6) for v in model.coef_[0]],
        "intercept": 0.0,
    }


def _normalise(text: str) -> list[str]:
    text = re.sub(r"\[\d+\]|```", " ", text.lower())
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return text.split()


def token_f1(prediction: str, gold: str) -> float:
    p, g = _normalise(prediction), _normalise(gold)
    common = sum((Counter(p) & Counter(g)).values())
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def peers(rows: np.ndarray, model: Any) -> dict[str, np.ndarray]:
    """Unit scores of the trained scorer and of two peers on the same rows: the rule it
    replaces (IDF coverage + 0.5 x relevance gap + 0.08 for a chunk's first unit, minus 0.3
    for a fragment) and the lead (the first unit of the most relevant chunk)."""
    col = {name: i for i, name in enumerate(UNIT_FEATURES)}
    old = (
        rows[:, col["coverage"]]
        + 0.5 * rows[:, col["relevance_gap"]]
        + 0.08 * rows[:, col["first"]]
        - 0.3 * rows[:, col["fragment"]]
    )
    lead = -rows[:, col["rank"]] * 10 - rows[:, col["position"]]
    return {"trained": model.sentences.logits(rows), "previous_rule": old, "lead": lead}


GOLDEN = Path(__file__).resolve().parent.parent / "evals" / "golden"


def faq_items(workspace: Path) -> dict[str, list[Item]]:
    """Questions and answers written by the Python docs' authors: each FAQ section whose
    heading is a question ("How do I copy an object in Python?") asked of the workspace (hybrid
    top 5, as `cairn ask` reads), the answer being the first paragraph of the section's first
    chunk. Sections that a golden case cites are left out (evaluation only), as are answers
    shorter than six words ("See the next question."). Headings are blanked from every hit,
    since here the question is its section's heading and the heading feature would learn
    that. Split by a hash of the heading: `train` (70%) and `heldout`."""
    import yaml

    from cairn.workspace import Workspace

    cited = {
        (s["source"], s.get("anchor"))
        for f in sorted(GOLDEN.glob("*.yaml"))
        for case in yaml.safe_load(f.read_text()) or []
        for s in (case.get("gold") or {}).get("sources", [])
    }
    ws = Workspace(load_settings(workspace=workspace))
    pipeline = ws.pipeline()
    answerer = pipeline.answerer
    assert isinstance(answerer, ExtractiveAnswerer)
    sections: dict[tuple[str, str | None, str], Chunk] = {}
    for doc in ws.store.documents():
        if not doc.source.startswith("faq/"):
            continue
        for chunk in ws.store.document_chunks(doc.id):
            heading = chunk.section[-1] if chunk.section else ""
            key = (doc.source, chunk.anchor, heading)
            if heading.endswith("?") and (doc.source, chunk.anchor) not in cited:
                sections.setdefault(key, chunk)
    out: dict[str, list[Item]] = {"train": [], "heldout": []}
    for (_source, _anchor, heading), gold in sorted(sections.items()):
        answer_end = gold.text.find("\n\n")
        answer_end = len(gold.text) if answer_end < 0 else answer_end
        if len(gold.text[:answer_end].split()) < 6:
            continue
        hits = pipeline.search(heading, K)
        relevance = answerer.relevance(heading, hits)
        spans = [(i, 0, answer_end) for i, h in enumerate(hits) if h.chunk.id == gold.id]
        blank = [
            Hit(chunk=dataclasses.replace(h.chunk, section=(), title=""), score=h.score)
            for h in hits
        ]
        split = "train" if zlib.crc32(heading.encode()) % 10 < 7 else "heldout"
        out[split].append(Item(heading, blank, relevance, [], gold_read=bool(spans), spans=spans))
    ws.close()
    return out


def pydocs_abstention(workspace: Path) -> dict[str, Any]:
    """False abstention and abstention recall on the hand-written Python docs questions
    (bench/data/abstention_pydocs.jsonl, evaluation only), under both rules."""
    from cairn.workspace import Workspace

    ws = Workspace(load_settings(workspace=workspace))
    pipeline = ws.pipeline()
    answerer = pipeline.answerer
    assert isinstance(answerer, ExtractiveAnswerer)
    similarity = ExtractiveAnswerer(
        answerer.store, answerer.embedder, AnswerSettings(abstention="similarity")
    )
    path = Path(__file__).parent / "data" / "abstention_pydocs.jsonl"
    out: dict[str, Any] = {}
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for name, rule in (("evidence", answerer), ("similarity_0.41", similarity)):
        answerable, unanswerable = [], []
        for item in rows:
            hits = pipeline.search(item["question"], 5)
            abstained = rule.answer(item["question"], hits).abstained
            (answerable if item["answerable"] else unanswerable).append(abstained)
        out[name] = {
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "false_abstention": round(float(np.mean(answerable)), 3),
            "abstention_recall": round(float(np.mean(unanswerable)), 3),
        }
    ws.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=Path("bench/.cache"))
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--max-false-abstention", type=float, default=0.03)
    parser.add_argument(
        "--pydocs-workspace",
        type=Path,
        default=None,
        help="a workspace of the Python docs: report bench/data/abstention_pydocs.jsonl",
    )
    parser.add_argument(
        "--faq",
        action="store_true",
        help="also train the sentence scorer on the Python docs FAQ (needs --pydocs-workspace)",
    )
    parser.add_argument(
        "--similarity",
        action="store_true",
        help="train the second stage (sentence-embedding similarity; off: see docs)",
    )
    parser.add_argument(
        "--no-scifact",
        dest="scifact",
        action="store_false",
        help="train the sentence scorer on XQuAD alone",
    )
    parser.add_argument(
        "--swap-negatives",
        action="store_true",
        help="also train answerability on questions with a swapped name (off: see docs)",
    )
    parser.add_argument("--json-out", type=Path, default=Path("bench/results/answerer.json"))
    args = parser.parse_args()
    settings = load_settings()
    embedder = MiniLMEmbedder(settings.model_dir)
    t0 = time.perf_counter()

    xquad, swaps = xquad_items(args.datasets, embedder, args.cache_dir)
    sci_train = scifact_items(args.datasets, "train")
    sci_dev = scifact_items(args.datasets, "validation")
    if args.faq and args.pydocs_workspace is None:
        parser.error("--faq needs --pydocs-workspace")
    faq = faq_items(args.pydocs_workspace) if args.faq else {"train": [], "heldout": []}
    if args.faq:
        print(f"faq train {len(faq['train'])}, heldout {len(faq['heldout'])}")
    print(
        f"xquad tune {len(xquad['tune'])}, heldout {len(xquad['heldout'])}; "
        f"scifact train {len(sci_train)}, dev {len(sci_dev)} ({time.perf_counter() - t0:.0f} s)"
    )

    # 1. The sentence scorer: pairwise (a positive unit against a negative one of the same
    # question), so it learns to rank a question's units rather than to classify them.
    groups = []
    scorer_items = [a for a, _ in xquad["tune"]] + (sci_train if args.scifact else [])
    scorer_items += faq["train"]
    for item in scorer_items:
        r, y, _, _ = unit_rows(item)
        if y.any() and not y.all():
            groups.append((r, y))
    sentences = fit_pairwise(groups)
    print(f"sentence groups {len(groups)}, units {sum(len(y) for _, y in groups)}")

    # 1b. The second stage: the best units re-scored by sentence similarity. Its weight is
    # the ratio of the similarity's to the first-stage score's coefficient in a pairwise
    # model over the top units of each training question.
    n_a = len(ANSWERABILITY_FEATURES)
    dummy = {"mean": [0.0] * n_a, "scale": [1.0] * n_a}
    dummy |= {"coef": [0.0] * n_a, "intercept": 0.0}
    model: dict[str, Any] = {
        "unit_features": list(UNIT_FEATURES),
        "answerability_features": list(ANSWERABILITY_FEATURES),
        "sentences": sentences,
        "answerable": dummy,
        "threshold": 0.5,
    }
    scorer = parse_model(model).sentences
    cached = CachedEmbedder(embedder, args.cache_dir / "answer_sentences.pkl")
    top_n, chars = parse_model(model).similarity_top, parse_model(model).similarity_chars
    weight = 0.0
    if args.similarity:
        diffs = []
        for item in scorer_items:
            r, y, _, (units, _) = unit_rows(item)
            if not y.any() or y.all():
                continue
            logits = scorer.logits(r)
            top = np.argsort(-logits)[:top_n]
            if not y[top].any() or y[top].all():
                continue
            vectors = cached.embed([item.question, *(units[i].text[:chars] for i in top)])
            sims = vectors[1:] @ vectors[0]
            feats = np.c_[logits[top], sims]
            pos, neg = feats[y[top] == 1], feats[y[top] == 0]
            diffs.append((pos[:, None, :] - neg[None, :, :]).reshape(-1, 2))
        cached.save()
        from sklearn.linear_model import LogisticRegression

        d = np.vstack(diffs)
        pairwise = LogisticRegression(C=100.0, max_iter=2000, fit_intercept=False)
        pairwise.fit(np.vstack([d, -d]), np.r_[np.ones(len(d)), np.zeros(len(d))])
        a, b = pairwise.coef_[0]
        weight = round(float(b / a), 4)
        print(f"second stage: {len(diffs)} questions, similarity weight {weight}")
    model["similarity"] = {"weight": weight, "top": top_n, "chars": chars}
    stage = ExtractiveAnswerer(None, cached, AnswerSettings(), model=parse_model(model))  # type: ignore[arg-type]

    # 2. Answerability, from the two stages' scores.
    def answer_row(item: Item) -> tuple[np.ndarray, bool]:
        r, y, coverage, (units, keep) = unit_rows(item)
        logits = stage.rescore(item.question, units, [float(x) for x in scorer.logits(r)])
        row = answerability_row(
            item.question,
            logits,
            coverage,
            [item.relevance[i] for i in keep],
            [item.hits[i].chunk.text for i in keep],
        )
        return row, bool(y.any())

    arows, alabels = [], []
    for answerable, removed in xquad["tune"]:
        row, has = answer_row(answerable)
        arows.append(row)
        alabels.append(1.0 if has else 0.0)
        row, _ = answer_row(removed)
        arows.append(row)
        alabels.append(0.0)
    for swapped in swaps["tune"] if args.swap_negatives else []:
        row, _ = answer_row(swapped)
        arows.append(row)
        alabels.append(0.0)
    cached.save()
    ax, ay = np.vstack(arows), np.array(alabels)
    answerable = fit(ax, ay)
    model["answerable"] = answerable
    fitted = parse_model(model)
    p = 1 / (1 + np.exp(-fitted.answerable.logits(ax)))
    pos = np.sort(p[ay == 1])
    threshold = float(pos[int(np.floor(args.max_false_abstention * len(pos)))])
    threshold = float(np.floor(threshold * 1000) / 1000)
    model["threshold"] = threshold
    model["meta"] = {
        "trained_on": [
            "xquad_en_squad11: questions on articles 0-23 (tune split); unanswerable: the "
            "same questions without their article"
            + (", and with a name swapped" if args.swap_negatives else ""),
            "scifact_beir: raw/scifact.zip claims_train.csv rationale sentences",
            *(
                [
                    "python docs FAQ: question headings of 70% of the sections (a hash of the "
                    "heading) not cited by the golden set, their first paragraph the answer"
                ]
                if args.faq
                else []
            ),
        ],
        "threshold_rule": f"false abstention <= {args.max_false_abstention} on training",
        "date": "2026-12-06",
    }
    args.out.write_text(json.dumps(model, indent=1) + "\n")
    print(f"wrote {args.out}; threshold {threshold:.3f}")
    print("sentence weights:", dict(zip(UNIT_FEATURES, sentences["coef"], strict=True)))
    print(
        "answerability weights:", dict(zip(ANSWERABILITY_FEATURES, answerable["coef"], strict=True))
    )

    # 3. Held-out report, through the answerer itself.
    fitted = parse_model(model)
    answerer = ExtractiveAnswerer(None, cached, AnswerSettings(), model=fitted)  # type: ignore[arg-type]
    results: dict[str, Any] = {"threshold": threshold}
    for split in ("tune", "heldout"):
        contains, f1, f1_top, read, abstained_ok, false_abstain = [], [], [], 0, [], []
        top1: dict[str, list[bool]] = {}
        for item, removed in xquad[split]:
            draft = answerer.answer_with(item.question, item.hits, item.relevance)
            false_abstain.append(draft.abstained)
            drop = answerer.answer_with(removed.question, removed.hits, removed.relevance)
            abstained_ok.append(drop.abstained)
            if not item.gold_read:
                continue
            read += 1
            loose = ExtractiveAnswerer(
                None,  # type: ignore[arg-type]
                cached,  # type: ignore[arg-type]
                AnswerSettings(abstention="similarity", abstain_threshold=0.0),
                model=fitted,
            ).answer_with(item.question, item.hits, item.relevance)
            contains.append(any(a in loose.text for a in item.answers))
            f1.append(max(token_f1(loose.text, a) for a in item.answers))
            a = answerer.assess(item.question, item.hits, item.relevance)
            top = a.units[int(np.argmax(a.logits))].text
            f1_top.append(max(token_f1(top, g) for g in item.answers))
            r, y, _, _ = unit_rows(item)
            for peer, scores in peers(r, fitted).items():
                top1.setdefault(peer, []).append(bool(y[int(np.argmax(scores))]))
            top1.setdefault("two_stage", []).append(bool(y[int(np.argmax(a.logits))]))
        results[f"xquad_{split}"] = {
            "questions": len(xquad[split]),
            "gold_read": read,
            "answer_contains_gold": round(float(np.mean(contains)), 3),
            "token_f1_answer": round(float(np.mean(f1)), 3),
            "token_f1_top_sentence": round(float(np.mean(f1_top)), 3),
            "best_unit_holds_gold": {k: round(float(np.mean(v)), 3) for k, v in top1.items()},
            "false_abstention": round(float(np.mean(false_abstain)), 3),
            "abstained_article_removed": round(float(np.mean(abstained_ok)), 3),
            "abstained_name_swapped": round(
                float(
                    np.mean(
                        [
                            answerer.answer_with(s.question, s.hits, s.relevance).abstained
                            for s in swaps[split]
                        ]
                    )
                ),
                3,
            ),
        }
    sets = [("scifact_train", sci_train), ("scifact_dev", sci_dev)]
    sets += [(f"faq_{k}", v) for k, v in faq.items() if v]
    for name, items in sets:
        top_ok = []
        by_peer: dict[str, list[bool]] = {}
        for item in items:
            r, y, _, _ = unit_rows(item)
            if not y.any():
                continue
            top_ok.append(bool(y[int(np.argmax(fitted.sentences.logits(r)))]))
            for peer, scores in peers(r, fitted).items():
                by_peer.setdefault(peer, []).append(bool(y[int(np.argmax(scores))]))
            both = answerer.assess(item.question, item.hits, item.relevance).logits
            by_peer.setdefault("two_stage", []).append(bool(y[int(np.argmax(both))]))
        results[name] = {
            "claims": len(top_ok),
            "best_unit_is_rationale": {k: round(float(np.mean(v)), 3) for k, v in by_peer.items()},
        }
    cached.save()
    if args.pydocs_workspace:
        results["python_docs_handwritten"] = pydocs_abstention(args.pydocs_workspace)
    for name, value in results.items():
        print(f"{name:>16}: {value}")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
