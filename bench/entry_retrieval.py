"""Questions about a documented API: is its entry retrieved, and does the answer cite it?

Names the 3.11 documentation has, drawn from typeshed's standard-library stubs as in
`absent_names.py` (independently of cairn and of the golden set): 300 qualified names
(seed 0) defined before 3.12 whose entry heading (`math.isclose`, `pathlib.Path.glob`)
exists in the workspace. Each becomes one question from the same three templates, asked
through each workspace's real pipeline (cache off). Reported per workspace: the share of
questions whose top 5 hits hold the name's entry, and whose answer cites it, with Wilson
95% intervals; run with two workspaces (`--peer`) built from the same documents by two
versions of ingest to compare them in one run, or at two commits to compare two versions
of the answerer (`--half 0` to develop a change, `--half 1` to measure it held out).

    nice -n 5 .venv/bin/python bench/entry_retrieval.py --workspace .cairn --peer OTHER
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from absent_names import TEMPLATES, docs_names, stub_names, wilson
from cairn.config import load_settings
from cairn.workspace import Workspace


def _last(section: str) -> str:
    parts = json.loads(section)
    return str(parts[-1]).strip().lower() if parts else ""


def entries(workspace: Path) -> set[str]:
    """The last headings of every chunk of the workspace (lower-cased)."""
    with sqlite3.connect(workspace / "cairn.db") as db:
        return {_last(s) for (s,) in db.execute("SELECT section FROM chunks")}


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
        "--hidden-in",
        type=Path,
        help="also ask about the entries this workspace's near-duplicate policy hid",
    )
    args = parser.parse_args()
    try:
        import mypy
    except ImportError:
        sys.exit("needs mypy's bundled typeshed: pip install -e '.[dev]'")
    _, old = stub_names(Path(mypy.__file__).parent / "typeshed" / "stdlib")
    mentioned = docs_names(args.docs)
    workspaces = [args.workspace, *args.peer]
    headed = set.intersection(*(entries(w) for w in workspaces))

    # names whose entry heading every workspace has: the comparison is about finding it
    # every dotted tail of every heading: `pathlib.path.glob` gives `path.glob` too
    tails = {h.split(".", i)[-1] for h in headed for i in range(h.count(".") + 1)}
    pool = [n for n in sorted(old) if n.lower() in mentioned and n.lower() in tails]
    drawn = random.Random(args.seed).sample(pool, min(args.n, len(pool)))
    if args.half is not None:
        drawn = [n for n in drawn if zlib.crc32(n.encode()) % 2 == args.half]
    sets = {"documented names": drawn}
    if args.hidden_in is not None:
        sets["entries hidden as near-duplicates"] = hidden(args.hidden_in)
    print(f"{len(pool)} documented names with an entry heading")
    print(f"{'set':<36} {'workspace':<16} {'n':>4} {'entry in top 5':>22} {'answer cites it':>22}")
    pipelines = {}
    for workspace in workspaces:
        base = load_settings(workspace=workspace)
        base = base.model_copy(
            update={"cache": base.cache.model_copy(update={"exact": False, "semantic": False})}
        )
        pipelines[workspace] = Workspace(base).pipeline()
    for label, names in sets.items():
        for workspace, pipeline in pipelines.items():
            found = cited = 0
            for name in names:
                template = TEMPLATES[zlib.crc32(name.encode()) % len(TEMPLATES)]
                answer = pipeline.ask(template.format(name=name))
                rx = re.compile(rf"^(?:[\w.]+\.)?{re.escape(name.lower())}$")
                ids = {
                    h.chunk.id
                    for h in answer.hits
                    if h.chunk.section and rx.match(h.chunk.section[-1].strip().lower())
                }
                found += bool(ids)
                cited += any(c.chunk_id in ids for c in answer.citations)
            cells = []
            for k in (found, cited):
                lo, hi = wilson(k, len(names))
                cells.append(f"{k / len(names):.3f} [{lo:.3f}, {hi:.3f}]")
            print(f"{label:<36} {workspace.name:<16} {len(names):>4} {cells[0]:>22} {cells[1]:>22}")


if __name__ == "__main__":
    main()
