"""Questions about when something came to Python: does the answer say which version?

Two sets, built from the workspace's own structure (independently of the golden set):

- `entries`: API entries (a dotted last heading such as `enum.StrEnum`) whose chunks hold
  exactly one bare "New in version X.Y." note, the version the entry itself was added in;
  asked "Which Python version added enum.StrEnum?" and two other fixed templates.
- `release notes`: the "PEP NNN: Title" sections of the "What's New In Python 3.X" pages;
  asked "Which Python version introduced structural pattern matching?" (the PEP's title)
  and two other templates.

An answer counts when it states the version (`3.10` as a number of its own, not `3.10.1`
or `13.10`); abstaining counts as not stating it. The stricter column counts an answer only
when the first version it names (`X.Y` after "Python", "version" or a release-notes title)
is the right one. Each question is asked through the
workspace's real pipeline (cache off). `--half 0` develops a change, `--half 1` measures it
held out (by the CRC-32 of the name or title). Wilson 95% intervals.

    nice -n 5 .venv/bin/python bench/version_answers.py --workspace .cairn --half 1
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

from absent_names import rate, uncached_pipeline

ENTRY_TEMPLATES = (
    "Which Python version added {name}?",
    "When was {name} added to Python?",
    "Since which version of Python is {name} available?",
)
RELEASE_TEMPLATES = (
    "Which Python version introduced {title}?",
    "Since when does Python have {title}?",
    "In which release did {title} (PEP {pep}) arrive?",
)

_NEW_IN = re.compile(r"^New in version (\d+\.\d+)\.$", re.MULTILINE)
_PEP = re.compile(r"^PEP (\d+):\s*(.+)$")
_NAMED_VERSION = re.compile(r"(?:python|version)\s+(\d+\.\d+)(?![\d]|\.\d)", re.IGNORECASE)
_RELEASE = re.compile(r"What.s New In Python (3\.\d+)$", re.IGNORECASE)


def entry_versions(workspace: Path) -> dict[str, str]:
    """Dotted entry name -> the one version its "New in version X.Y." notes give."""
    seen: dict[str, set[str]] = {}
    with sqlite3.connect(workspace / "cairn.db") as db:
        for section, text in db.execute("SELECT section, text FROM chunks"):
            parts = json.loads(section)
            last = str(parts[-1]).strip() if parts else ""
            if not re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", last):
                continue
            seen.setdefault(last, set()).update(_NEW_IN.findall(text))
    return {name: next(iter(v)) for name, v in seen.items() if len(v) == 1}


def release_peps(workspace: Path) -> dict[tuple[str, str], str]:
    """(PEP number, title) -> the 3.X release whose What's New page has that section."""
    query = "SELECT DISTINCT d.title, c.section FROM chunks c JOIN documents d ON c.doc_id = d.id"
    out: dict[tuple[str, str], str] = {}
    with sqlite3.connect(workspace / "cairn.db") as db:
        for title, section in db.execute(query):
            release = _RELEASE.search(title or "")
            if not release:
                continue
            for heading in json.loads(section):
                if m := _PEP.match(str(heading).strip()):
                    out.setdefault((m.group(1), m.group(2).strip()), release.group(1))
    return out


def states(text: str, version: str) -> bool:
    """Whether `text` names `version` as a number of its own (`3.10`, not `3.10.1` or
    `13.10`). The bench's own reading, not cairn's, so that it runs at any commit."""
    return re.search(rf"(?<![\d.]){re.escape(version)}(?![\d]|\.\d)", text) is not None


def _half(key: str, half: int | None) -> bool:
    return half is None or zlib.crc32(key.encode()) % 2 == half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--half", type=int, choices=(0, 1))
    parser.add_argument("--show", action="store_true", help="print each failed answer")
    args = parser.parse_args()
    pipeline = uncached_pipeline(args.workspace)
    rng = random.Random(args.seed)

    entries = entry_versions(args.workspace)
    names = [n for n in sorted(entries) if _half(n, args.half)]
    names = rng.sample(names, min(args.n, len(names)))
    peps = release_peps(args.workspace)
    keys = [k for k in sorted(peps) if _half(k[1], args.half)]
    sets: dict[str, list[tuple[str, str]]] = {
        "entries (New in version)": [
            (ENTRY_TEMPLATES[zlib.crc32(n.encode()) % 3].format(name=n), entries[n]) for n in names
        ],
        "release notes (What's New PEPs)": [
            (
                RELEASE_TEMPLATES[zlib.crc32(t.encode()) % 3].format(title=t, pep=p),
                peps[(p, t)],
            )
            for p, t in keys
        ],
    }
    print(
        f"{'set':<34} {'n':>4} {'states the version':>24} {'names it first':>24} {'abstained':>10}"
    )
    for label, questions in sets.items():
        stated = first = abstained = 0
        for question, version in questions:
            answer = pipeline.ask(question)
            ok = not answer.abstained and states(answer.text, version)
            named = _NAMED_VERSION.search(answer.text)
            stated += ok
            first += ok and named is not None and named.group(1) == version
            abstained += answer.abstained
            if args.show and not ok:
                print(f"--- {question} [{version}]\n{answer.text[:600]}\n")
        n = len(questions)
        print(f"{label:<34} {n:>4} {rate(stated, n):>24} {rate(first, n):>24} {abstained:>10}")


if __name__ == "__main__":
    main()
