"""Loaders for the external retrieval datasets in `../shared/datasets` (read in place).

Every loader returns a `Dataset`: a list of passages (one passage = one retrievable unit) and
named query splits, each query carrying its graded relevance judgements (passage id -> gain).
Which splits exist, and which one is for tuning, is documented per loader; nothing is copied
into the repository. `bench/` and `cairn eval dataset` both read them from here.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.errors import UserError


@dataclass(frozen=True, slots=True)
class Passage:
    id: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Query:
    id: str
    text: str
    relevant: dict[str, int]
    """Relevant passage ids and their gains (1 unless the qrels grade them)."""


@dataclass(slots=True)
class Dataset:
    name: str
    description: str
    passages: list[Passage]
    splits: dict[str, list[Query]]
    """Query splits by name; `tune_split` (if any) is the only one fusion may be tuned on."""
    eval_splits: tuple[str, ...]
    tune_split: str | None = None
    notes: list[str] = field(default_factory=list)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"missing dataset file {path}: pass --path to the shared datasets folder "
            "(e.g. ../shared/datasets)"
        ) from None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        raise UserError(
            f"missing dataset file {path}: pass --path to the shared datasets folder"
        ) from None


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader)
        if header[0] != "query-id":
            raise UserError(f"{path}: expected a BEIR qrels header, got {header}")
        for qid, pid, score in reader:
            if int(score) > 0:
                qrels.setdefault(qid, {})[pid] = int(score)
    return qrels


def load_scifact(root: Path) -> Dataset:
    """BEIR SciFact: 5,183 abstracts; `test` = the 300 BEIR test claims (qrels/test.tsv),
    `train` = the 809 training claims (qrels/train.tsv), used for tuning."""
    base = root / "scifact_beir"
    passages = [
        Passage(id=str(d["_id"]), title=str(d["title"]), text=str(d["text"]))
        for d in _read_jsonl(base / "corpus.jsonl")
    ]
    texts = {str(q["_id"]): str(q["text"]) for q in _read_jsonl(base / "queries.jsonl")}
    splits = {}
    for split in ("train", "test"):
        qrels = _read_qrels(base / "qrels" / f"{split}.tsv")
        splits[split] = [
            Query(id=qid, text=texts[qid], relevant=rel)
            for qid, rel in sorted(qrels.items(), key=lambda item: int(item[0]))
        ]
    return Dataset(
        name="scifact",
        description="BEIR SciFact (abstracts; claims as queries)",
        passages=passages,
        splits=splits,
        eval_splits=("test",),
        tune_split="train",
    )


XQUAD_TUNE_ARTICLES = 24
"""XQuAD has no training split: its first 24 articles (in file order) are the tuning half,
the last 24 the held-out half."""


def load_xquad(root: Path) -> Dataset:
    """XQuAD English (SQuAD v1.1 dev subset): 240 paragraphs of 48 articles, 1,190 questions.

    Passage title = the article title (underscores as spaces). Splits: `tune` = questions on
    the first 24 articles, `heldout` = the last 24, `all` = every question.
    """
    data = _read_json(root / "xquad_en_squad11" / "xquad.en.json")
    passages: list[Passage] = []
    tune: list[Query] = []
    heldout: list[Query] = []
    for a, article in enumerate(data["data"]):
        title = str(article["title"]).replace("_", " ")
        for p, paragraph in enumerate(article["paragraphs"]):
            pid = f"{a:02d}-{p}"
            passages.append(Passage(id=pid, title=title, text=str(paragraph["context"])))
            for qa in paragraph["qas"]:
                query = Query(id=str(qa["id"]), text=str(qa["question"]), relevant={pid: 1})
                (tune if a < XQUAD_TUNE_ARTICLES else heldout).append(query)
    return Dataset(
        name="xquad",
        description="XQuAD en (SQuAD v1.1 paragraphs)",
        passages=passages,
        splits={"tune": tune, "heldout": heldout, "all": tune + heldout},
        eval_splits=("heldout", "all"),
        tune_split="tune",
    )


def load_anthropic(root: Path) -> Dataset:
    """Anthropic docs-QA (cookbook RAG data): 232 doc chunks, 100 questions with 1-3 gold
    chunks each. Passage id = chunk link, title = chunk heading. Evaluation only."""
    base = root / "anthropic_docs_rag"
    docs = _read_json(base / "anthropic_docs.json")
    passages = [
        Passage(id=str(d["chunk_link"]), title=str(d["chunk_heading"]), text=str(d["text"]))
        for d in docs
    ]
    questions = _read_json(base / "docs_evaluation_dataset.json")
    queries = [
        Query(
            id=str(q["id"]),
            text=str(q["question"]),
            relevant={str(c): 1 for c in q["correct_chunks"]},
        )
        for q in questions
    ]
    return Dataset(
        name="anthropic",
        description="Anthropic docs-QA (cookbook)",
        passages=passages,
        splits={"test": queries},
        eval_splits=("test",),
        notes=["chunk texts begin with their heading, so the heading is seen twice"],
    )


def load_hotpotqa(root: Path) -> Dataset:
    """HotpotQA (HippoRAG subset): 994 Wikipedia paragraphs (id = title), 100 questions with
    two supporting paragraphs each. Evaluation only."""
    base = root / "hipporag_multihop_subsets"
    corpus = _read_json(base / "hotpotqa_train_corpus.json")
    passages = [
        Passage(id=str(title), title=str(title), text="".join(sentences).strip())
        for title, sentences in corpus.items()
    ]
    questions = _read_json(base / "hotpotqa_train.json")
    queries = [
        Query(
            id=str(q["_id"]),
            text=str(q["question"]),
            relevant={str(t): 1 for t, _ in q["supporting_facts"]},
        )
        for q in questions
    ]
    return Dataset(
        name="hotpotqa",
        description="HotpotQA multi-hop (HippoRAG subset)",
        passages=passages,
        splits={"test": queries},
        eval_splits=("test",),
    )


def load_musique(root: Path) -> Dataset:
    """MuSiQue (HippoRAG subset): 1,890 paragraphs (id = position; titles repeat), 100
    questions with 2-4 supporting paragraphs, matched to the corpus by (title, text)."""
    base = root / "hipporag_multihop_subsets"
    corpus = _read_json(base / "musique_train_corpus.json")
    passages = [
        Passage(id=f"m{i:04d}", title=str(d["title"]), text=str(d["text"]))
        for i, d in enumerate(corpus)
    ]
    by_content = {(p.title, p.text): p.id for p in passages}
    questions = _read_json(base / "musique_train.json")
    queries = [
        Query(
            id=str(q["id"]),
            text=str(q["question"]),
            relevant={
                by_content[(str(p["title"]), str(p["paragraph_text"]))]: 1
                for p in q["paragraphs"]
                if p["is_supporting"]
            },
        )
        for q in questions
    ]
    return Dataset(
        name="musique",
        description="MuSiQue multi-hop (HippoRAG subset)",
        passages=passages,
        splits={"test": queries},
        eval_splits=("test",),
    )


LOADERS: dict[str, Callable[[Path], Dataset]] = {
    "scifact": load_scifact,
    "xquad": load_xquad,
    "anthropic": load_anthropic,
    "hotpotqa": load_hotpotqa,
    "musique": load_musique,
}


def load_dataset(name: str, root: Path) -> Dataset:
    if name not in LOADERS:
        raise UserError(f"unknown dataset {name!r}: use one of {', '.join(LOADERS)}")
    return LOADERS[name](root)
