"""Questions about a documented API: is its entry retrieved, and does the answer cite it?

Names the 3.11 documentation has, drawn from typeshed's standard-library stubs as in
`absent_names.py` (independently of cairn and of the golden set): 300 qualified names
(seed 0) defined before 3.12 whose entry heading (`math.isclose`, `pathlib.Path.glob`)
exists in the workspace. Each becomes one question from the same three templates, asked
through each workspace's real pipeline (cache off). Reported per workspace: the share of
questions whose top 5 hits hold the name's entry, and whose answer cites it, with Wilson
95% intervals; run with two workspaces (`--peer`) built from the same documents by two
versions of ingest to compare them in one run, or at two commits to compare two versions
of the answerer (`--half 0` to develop a change, `--half 1` to measure it held out). The
last column is the asks' wall-clock latency (p50/p95), for a comparison in one run only.

With `--modules`, the questions are about modules instead ("What is the pwd module for?",
"When should I use glob?"), one per module whose page opens with a title such as
"pwd — The password database", and what counts is the page's opening chunk; the ranks the
fused ranking alone gives those chunks follow.

    nice -n 5 .venv/bin/python bench/entry_retrieval.py --workspace .cairn --peer OTHER
    nice -n 5 .venv/bin/python bench/entry_retrieval.py --workspace .cairn --modules --half 1
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from absent_names import TEMPLATES, docs_names, rate, stub_names, uncached_pipeline
from cairn.answer.units import page_name
from cairn.config import load_settings
from cairn.retrieve.hybrid import HybridRetriever
from cairn.store.base import hits_of
from cairn.types import Chunk
from cairn.workspace import Workspace


def _last(section: str) -> str:
    parts = json.loads(section)
    return str(parts[-1]).strip().lower() if parts else ""


def entries(workspace: Path) -> set[str]:
    """The last headings of every chunk of the workspace (lower-cased)."""
    with sqlite3.connect(workspace / "cairn.db") as db:
        return {_last(s) for (s,) in db.execute("SELECT section FROM chunks")}


MODULE_TEMPLATES = (
    "What is the {name} module for?",
    "What does the {name} module do?",
    "When should I use {name}?",
)
"""Questions about a module (`--modules`); the third names it without saying "module"."""


def module_pages(workspace: Path) -> dict[str, str]:
    """Module name -> the id of the chunk opening its page ("pwd — The password database",
    "email.utils: Miscellaneous utilities", before any heading)."""
    query = (
        "SELECT c.id, d.title FROM chunks c JOIN documents d ON c.doc_id = d.id "
        "WHERE c.section = '[]' AND c.dup_of IS NULL ORDER BY c.doc_id, c.ordinal"
    )
    out: dict[str, str] = {}
    with sqlite3.connect(workspace / "cairn.db") as db:
        for chunk_id, title in db.execute(query):
            if name := page_name(title or ""):
                out.setdefault(name, chunk_id)
    return out


def hidden(workspace: Path) -> list[str]:
    """API entries (dotted last headings) of chunks stored as the near-duplicate of a chunk
    under another heading in `workspace`: what its near-duplicate policy kept out of search."""
    query = (
        "SELECT c.section, d.section FROM chunks c JOIN chunks d ON c.dup_of = d.rowid "
        "WHERE c.hash != d.hash"
    )
    with sqlite3.connect(workspace / "cairn.db") as db:
        pairs = [(_last(a), _last(b)) for a, b in db.execute(query)]
    return sorted({a for a, b in pairs if a != b and re.fullmatch(r"[\w]+(?:\.[\w]+)+", a)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--peer", type=Path, action="append", default=[])
    parser.add_argument("--docs", type=Path, default=Path("/usr/share/doc/python3.11/html"))
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--half",
        type=int,
        choices=(0, 1),
        help="only the documented names whose CRC-32 is even (0) or odd (1)",
    )
    parser.add_argument(
        "--modules",
        action="store_true",
        help="ask about modules instead: is the opening of the module's page cited?",
    )
    parser.add_argument(
        "--hidden-in",
        type=Path,
        help="also ask about the entries this workspace's near-duplicate policy hid",
    )
    args = parser.parse_args()
    workspaces = [args.workspace, *args.peer]
    pipelines = {workspace: uncached_pipeline(workspace) for workspace in workspaces}
    # each set: label -> (question, the ids of the chunks that answer it, by workspace)
    sets = module_sets(args, workspaces) if args.modules else name_sets(args, workspaces)
    print(
        f"{'set':<36} {'workspace':<16} {'n':>4} {'in the 5 hits':>22} {'answer cites it':>22} "
        f"{'ask p50/p95 ms':>15}"
    )
    for label, questions in sets.items():
        for workspace, pipeline in pipelines.items():
            found = cited = 0
            latencies = []
            for question, wanted in questions:
                answer = pipeline.ask(question)
                latencies.append(answer.latency_ms)
                ids = {h.chunk.id for h in answer.hits if wanted(h.chunk)}
                found += bool(ids)
                cited += any(c.chunk_id in ids for c in answer.citations)
            n = len(questions)
            cells = [rate(found, n), rate(cited, n)]
            p50, p95 = np.percentile(latencies, [50, 95])
            print(
                f"{label:<36} {workspace.name:<16} {n:>4} {cells[0]:>22} {cells[1]:>22} "
                f"{p50:>7.1f}/{p95:<7.1f}"
            )
    if args.modules:
        for workspace in workspaces:
            print(f"{workspace.name}: {ranks(workspace, sets['modules'])}")


def ranks(workspace: Path, questions: list[tuple[str, Callable[[Chunk], bool]]]) -> str:
    """Where the fused ranking alone (`retrieve.named_pages` off) puts the chunk that
    answers each question: what `cairn.retrieve.pages.WINDOW` reads down to."""
    plain = load_settings(workspace=workspace)
    plain = plain.model_copy(
        update={"retrieve": plain.retrieve.model_copy(update={"named_pages": False})}
    )
    ws = Workspace(plain)
    retriever = ws.retriever()
    assert isinstance(retriever, HybridRetriever)
    where = {"first 5": 0, "6-20": 0, "21-100": 0, "not in the first 100": 0}
    for question, wanted in questions:
        hits = hits_of(ws.store, retriever.rank(question, 100))
        rank = next((r for r, h in enumerate(hits, 1) if wanted(h.chunk)), None)
        if rank is None:
            where["not in the first 100"] += 1
        else:
            where["first 5" if rank <= 5 else "6-20" if rank <= 20 else "21-100"] += 1
    return "answering chunk in the fused ranking: " + ", ".join(
        f"{k} {v}" for k, v in where.items()
    )


Questions = dict[str, list[tuple[str, Callable[[Chunk], bool]]]]


def _half(names: list[str], half: int | None) -> list[str]:
    return [n for n in names if half is None or zlib.crc32(n.encode()) % 2 == half]


def name_sets(args: argparse.Namespace, workspaces: list[Path]) -> Questions:
    """Questions about documented names (and the entries `--hidden-in` hid)."""
    try:
        import mypy
    except ImportError:
        sys.exit("needs mypy's bundled typeshed: pip install -e '.[dev]'")
    _, old = stub_names(Path(mypy.__file__).parent / "typeshed" / "stdlib")
    mentioned = docs_names(args.docs)
    headed = set.intersection(*(entries(w) for w in workspaces))
    # names whose entry heading every workspace has: the comparison is about finding it;
    # every dotted tail of every heading: `pathlib.path.glob` gives `path.glob` too
    tails = {h.split(".", i)[-1] for h in headed for i in range(h.count(".") + 1)}
    pool = [n for n in sorted(old) if n.lower() in mentioned and n.lower() in tails]
    print(f"{len(pool)} documented names with an entry heading")
    drawn = random.Random(args.seed).sample(pool, min(args.n, len(pool)))
    sets = {"documented names": _half(drawn, args.half)}
    if args.hidden_in is not None:
        sets["entries hidden as near-duplicates"] = hidden(args.hidden_in)

    def question(name: str) -> tuple[str, Callable[[Chunk], bool]]:
        template = TEMPLATES[zlib.crc32(name.encode()) % len(TEMPLATES)]
        rx = re.compile(rf"^(?:[\w.]+\.)?{re.escape(name.lower())}$")
        return template.format(name=name), lambda c: bool(
            c.section and rx.match(c.section[-1].strip().lower())
        )

    return {label: [question(n) for n in names] for label, names in sets.items()}


def module_sets(args: argparse.Namespace, workspaces: list[Path]) -> Questions:
    """Questions about the modules whose page every workspace opens with a title."""
    pages = [module_pages(w) for w in workspaces]
    pool = sorted(set.intersection(*(set(p) for p in pages)))
    print(f"{len(pool)} module pages")
    drawn = _half(random.Random(args.seed).sample(pool, min(args.n, len(pool))), args.half)

    def question(name: str) -> tuple[str, Callable[[Chunk], bool]]:
        template = MODULE_TEMPLATES[zlib.crc32(name.encode()) % len(MODULE_TEMPLATES)]
        opening = {p[name] for p in pages}
        return template.format(name=name), lambda c: c.id in opening

    return {"modules": [question(n) for n in drawn]}


if __name__ == "__main__":
    main()
