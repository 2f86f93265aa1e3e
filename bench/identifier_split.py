"""Lexical retrieval of code with and without identifier parts in the full-text index.

    nice -n 10 .venv/bin/python bench/identifier_split.py [--corpus /usr/lib/python3.11]

Ingests the standard-library subset of `bench/code_ingest.py` twice into fresh SQLite
workspaces (same reader and chunker; a hashing embedder, since only BM25 is measured), once
indexing each chunk's text alone and once with its camelCase/PascalCase identifiers' parts
(`cairn.store.fts.indexed_body`, the shipped behaviour), and scores the 43 questions of
`evals/code/stdlib.yaml` with lexical search: gold document and gold definition hit@5 and
MRR@10. Prints a table; the two runs differ only in what the index holds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cairn.store.fts as fts
import cairn.store.sqlite.store as sqlite_store
from cairn.config import Settings
from cairn.embed.hashing import HashingEmbedder, WhitespaceTokenizer
from cairn.ingest.pipeline import ingest
from cairn.store.sqlite import SQLiteStore
from code_ingest import STDLIB_EXCLUDES

ROOT = Path(__file__).resolve().parents[1]


def score(store: SQLiteStore, cases: list[dict[str, object]]) -> dict[str, float]:
    doc_hit = def_hit = doc_rr = def_rr = 0.0
    for case in cases:
        gold = case["gold"]["sources"][0]  # type: ignore[index]
        hits = store.lexical_search(str(case["question"]), 10)
        docs = [h.chunk.source for h in hits]
        defs = [(h.chunk.source, h.chunk.anchor) for h in hits]
        want = (gold["source"], gold["anchor"])
        if gold["source"] in docs:
            rank = docs.index(gold["source"])
            doc_hit += rank < 5
            doc_rr += 1 / (rank + 1)
        if want in defs:
            rank = defs.index(want)
            def_hit += rank < 5
            def_rr += 1 / (rank + 1)
    n = len(cases)
    return {
        "doc_hit5": doc_hit / n,
        "doc_mrr10": doc_rr / n,
        "def_hit5": def_hit / n,
        "def_mrr10": def_rr / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("/usr/lib/python3.11"))
    args = parser.parse_args()
    cases = yaml.safe_load((ROOT / "evals/code/stdlib.yaml").read_text())
    shipped = fts.indexed_body
    rows = {}
    for name, body in (("text only", lambda text: text), ("text + identifier parts", shipped)):
        sqlite_store.indexed_body = body  # type: ignore[assignment]
        with tempfile.TemporaryDirectory() as tmp:
            ws = Path(tmp)
            store = SQLiteStore(ws / "cairn.db")
            try:
                report = ingest(
                    [args.corpus],
                    store=store,
                    embedder=HashingEmbedder(),
                    tokenizer=WhitespaceTokenizer(),
                    settings=Settings(workspace=ws),
                    excludes=STDLIB_EXCLUDES,
                )
                rows[name] = {"chunks": report.chunks, **score(store, cases)}
            finally:
                store.close()
    sqlite_store.indexed_body = shipped  # type: ignore[assignment]
    print(f"{len(cases)} questions, lexical search (BM25), {args.corpus}")
    print("| index | chunks | doc hit@5 | doc MRR@10 | definition hit@5 | definition MRR@10 |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['chunks']:,} | {r['doc_hit5']:.3f} | {r['doc_mrr10']:.3f} | "
            f"{r['def_hit5']:.3f} | {r['def_mrr10']:.3f} |"
        )


if __name__ == "__main__":
    main()
