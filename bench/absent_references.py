"""Questions about a PEP or an RFC the documents never cite: does the answer abstain?

Numbers of three digits or more (the rule judges no shorter one) from the workspace itself
(independently of the golden set): every PEP and RFC number its chunks cite ("PEP 634",
"RFC 2822", "rfc6555" in a URL), and as many numbers in the same range that no chunk cites
(seed 0; whether such a PEP exists does not matter: the documents say nothing about it, so
the right answer is that they do not mention it). Each becomes one question from three
fixed templates, asked through the workspace's real pipeline (cache off) with
`answer.absent_names` off and on, in the same run. Reported: the share of questions that
abstain, and the share whose answer says the documents do not mention the reference (on a
cited number that is a false decline), with Wilson 95% intervals.

    nice -n 5 .venv/bin/python bench/absent_references.py --workspace .cairn
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from absent_names import wilson
from cairn.config import load_settings
from cairn.workspace import Workspace

TEMPLATES = (
    "What did {ref} change?",
    "What does {ref} specify, in short?",
    "Is {ref} supported, and how do I use it?",
)
_CITED = re.compile(r"\b(PEP|RFC)[\s-]?0*(\d{1,5})\b", re.IGNORECASE)


def cited(workspace: Path) -> dict[str, set[int]]:
    """Series -> the numbers the workspace's chunks cite."""
    out: dict[str, set[int]] = {"PEP": set(), "RFC": set()}
    with sqlite3.connect(workspace / "cairn.db") as db:
        for (text,) in db.execute("SELECT text FROM chunks"):
            for m in _CITED.finditer(text):
                out[m.group(1).upper()].add(int(m.group(2)))
            for m in re.finditer(r"\b(pep|rfc)-?0*(\d{1,5})\b", text):  # URLs: rfc6555
                out[m.group(1).upper()].add(int(m.group(2)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--n", type=int, default=150, help="questions per set")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    numbers = cited(args.workspace)
    sets: dict[str, list[str]] = {}
    for series, have in numbers.items():
        have = {n for n in have if n >= 100}
        top = max(have)
        missing = sorted(set(range(100, top + 1)) - have)
        print(f"{series}: {len(have)} cited, {len(missing)} of 100..{top} not cited")
        sets[f"{series} the documents cite"] = [
            f"{series} {n}" for n in rng.sample(sorted(have), min(args.n, len(have)))
        ]
        sets[f"{series} they never cite"] = [
            f"{series} {n}" for n in rng.sample(missing, min(args.n, len(missing)))
        ]
    pipelines = {}
    for on in (False, True):
        base = load_settings(workspace=args.workspace)
        base = base.model_copy(
            update={
                "cache": base.cache.model_copy(update={"exact": False, "semantic": False}),
                "answer": base.answer.model_copy(update={"absent_names": on}),
            }
        )
        pipelines["rule on" if on else "rule off"] = Workspace(base).pipeline()
    print(f"{'set':<28} {'answerer':<9} {'n':>4} {'abstained':>22} {'says not mentioned':>22}")
    for label, refs in sets.items():
        for name, pipeline in pipelines.items():
            abstained = declined = 0
            for ref in refs:
                template = TEMPLATES[zlib.crc32(ref.encode()) % len(TEMPLATES)]
                answer = pipeline.ask(template.format(ref=ref))
                abstained += answer.abstained
                declined += f"do not mention {ref}" in answer.text
            n = len(refs)
            cells = []
            for k in (abstained, declined):
                lo, hi = wilson(k, n)
                cells.append(f"{k / n:.3f} [{lo:.3f}, {hi:.3f}]")
            print(f"{label:<28} {name:<9} {n:>4} {cells[0]:>22} {cells[1]:>22}")


if __name__ == "__main__":
    main()
