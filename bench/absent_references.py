"""Questions about a PEP or an RFC the documents never cite: does the answer abstain?

Numbers of three digits or more (the rule judges no shorter one) from the workspace itself
(independently of the golden set): every PEP and RFC number its chunks cite ("PEP 634",
"RFC 2822", "rfc6555" in a URL), and as many numbers in the same range that no chunk cites
(seed 0; whether such a PEP exists does not matter: the documents say nothing about it, so
the right answer is that they do not mention it). Each becomes one question from three
fixed templates, asked through the workspace's real pipeline (cache off) with
`answer.absent_names` off and on, in the same run. Reported: the share of questions that
abstain, and the share whose answer says the documents do not mention the reference (on a
cited number that is a false decline), with Wilson 95% intervals. First, for every cited
number, whether the rule's look-up finds a chunk citing it (why shorter numbers are not
judged).

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

from absent_names import rate, uncached_pipeline
from cairn.answer.absent import LOOKUP_K, cites, reference_query
from cairn.answer.extractive import ExtractiveAnswerer

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


def lookup_coverage(answerer: object, numbers: dict[str, set[int]]) -> None:
    """For every number the documents cite: is a chunk citing it among the look-up's
    `LOOKUP_K` best (the store's lexical search for `reference_query`)? Numbers of one or
    two digits, which the rule never judges, against three or more."""
    assert isinstance(answerer, ExtractiveAnswerer)
    counts: dict[bool, list[int]] = {False: [0, 0], True: [0, 0]}
    for series, have in numbers.items():
        for n in sorted(have):
            found = answerer.store.lexical_search(reference_query(series, str(n)), LOOKUP_K)
            counts[n >= 100][0] += cites(series, str(n), found)
            counts[n >= 100][1] += 1
    for long, (k, n) in counts.items():
        digits = "three digits or more" if long else "one or two digits"
        print(f"look-up ({LOOKUP_K} best) finds a chunk citing it: {digits}: {k} of {n}")


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
    pipelines = {
        "rule on" if on else "rule off": uncached_pipeline(args.workspace, absent_names=on)
        for on in (False, True)
    }
    lookup_coverage(pipelines["rule on"].answerer, numbers)
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
            print(f"{label:<28} {name:<9} {n:>4} {rate(abstained, n):>22} {rate(declined, n):>22}")


if __name__ == "__main__":
    main()
