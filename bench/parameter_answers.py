"""Questions about one parameter of a documented function: does the answer say what the
documentation says about it?

Built from the workspace's own structure (independently of the golden set): API entries
(a dotted last heading such as `json.dumps`) whose chunk opens with the signature, and for
each, one parameter of that signature (`indent`, `strict`; not `self`, `*args` or a
one-letter name) that the entry's description mentions in a sentence of its own. One
parameter per entry (seed 0), asked from three fixed templates ("What does the indent
argument of json.dumps do?"), through the workspace's real pipeline (cache off). An answer
counts when it quotes a sentence of the entry's chunk, other than the signature, that
mentions the parameter. Split by
CRC-32 of the entry: `--half 0` to develop a change, `--half 1` to measure it held out.
Wilson 95% intervals.

    nice -n 5 .venv/bin/python bench/parameter_answers.py --workspace .cairn --half 1
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
from cairn.answer.units import chunk_units, looks_like_signature

TEMPLATES = (
    "What does the {param} argument of {name}() do?",
    "What is the {param} parameter of {name} for?",
    "How does {name}() use {param}?",
)
_SIGNATURE = re.compile(r"^(?:[\w.]+\.)?(\w+)\((.*)\)\s*$")
_PARAM = re.compile(r"^\*{0,2}([A-Za-z_]\w*)")
_SKIP = frozenset({"self", "cls", "args", "kwargs", "kwds", "kw", "obj", "object", "args_"})


def parameters(signature: str) -> list[str]:
    """The parameter names of a one-line signature (`dumps(obj, *, indent=None)`). Read
    here, not with `cairn.answer.units.signature_parameters`, so that a parameter the
    rule's own reading misses is still asked about."""
    found = _SIGNATURE.match(signature.strip())
    if not found:
        return []
    out = []
    for part in re.split(r"[,\[\]]", found.group(2)):
        m = _PARAM.match(part.strip())
        if m and len(m.group(1)) > 1 and m.group(1).lower() not in _SKIP:
            out.append(m.group(1))
    return list(dict.fromkeys(out))


def mentions(text: str, param: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(param)}(?!\w)", text) is not None


def questions(workspace: Path, n: int, seed: int, half: int | None) -> list[tuple[str, str, str]]:
    """(question, chunk id, parameter) for entries with a parameter their text describes."""
    pool: list[tuple[str, str, str]] = []
    with sqlite3.connect(workspace / "cairn.db") as db:
        rows = db.execute(
            "SELECT id, section, text FROM chunks WHERE dup_of IS NULL ORDER BY rowid"
        ).fetchall()
    seen: set[str] = set()
    rng = random.Random(seed)
    for chunk_id, section, text in rows:
        heads = json.loads(section)
        name = str(heads[-1]).strip() if heads else ""
        if not re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", name) or name in seen:
            continue
        first, _, rest = text.partition("\n")
        described = [
            p
            for p in parameters(first)
            if any(mentions(rest[s:e], p) for s, e, code in chunk_units(rest) if not code)
        ]
        if not described:
            continue
        seen.add(name)
        if half is not None and zlib.crc32(name.encode()) % 2 != half:
            continue
        param = rng.choice(described)
        template = TEMPLATES[zlib.crc32(name.encode()) % len(TEMPLATES)]
        pool.append((template.format(param=param, name=name), chunk_id, param))
    return random.Random(seed).sample(pool, min(n, len(pool)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--half", type=int, choices=(0, 1))
    parser.add_argument("--show", action="store_true", help="print each failed answer")
    args = parser.parse_args()
    pipeline = uncached_pipeline(args.workspace)
    asked = questions(args.workspace, args.n, args.seed, args.half)
    found = quoted = 0
    for question, chunk_id, param in asked:
        answer = pipeline.ask(question)
        hit = next((h for h in answer.hits if h.chunk.id == chunk_id), None)
        found += hit is not None
        said = hit is not None and any(
            c.chunk_id == chunk_id
            and any(
                mentions(q, param) and not looks_like_signature(q) for q in c.quote.split(" … ")
            )
            for c in answer.citations
        )
        quoted += said
        if args.show and hit is not None and not said:
            print(f"--- {question}\n{answer.text[:500]}\n")
    n = len(asked)
    print(f"{'questions':<28} {'n':>4} {'entry in the 5 hits':>22} {'quotes what it says':>22}")
    print(f"{'one parameter of an entry':<28} {n:>4} {rate(found, n):>22} {rate(quoted, n):>22}")


if __name__ == "__main__":
    main()
