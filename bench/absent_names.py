"""Questions about names the documents do not have: the `absent_names` rule, measured.

The golden corpus is the Python 3.11 documentation. typeshed's standard-library stubs (the
copy bundled with mypy, in the `dev` extra) mark what each Python version added with
`if sys.version_info >= (3, N):` guards, which gives, independently of cairn and of the
golden set, two sets of qualified names (`itertools.batched`, `Path.walk`):

- **new**: every definition of the name sits under a guard for 3.12 or later, and the name
  (as written in the question) appears nowhere in the 3.11 HTML docs' text: the documents
  cannot answer a question about it;
- **old**: defined outside any such guard, and the name appears in the 3.11 docs: they can.

Each name becomes one question from three fixed templates ("What arguments does `X` take?",
"How do I use X?", "What does X() return?", chosen by the name's CRC so a name always gets
the same one; with `--worded`, three that qualify it in words: "How do I use the batched
function from itertools?"; with `--possessive`, three that qualify it by its module in the
possessive: "What arguments does pathlib's Path.walk() take?"), asked through the
workspace's real pipeline (hybrid retrieval, rerank, the extractive answerer; cache off)
twice: with `answer.absent_names` off and on. Reported: the share of each set abstained,
with Wilson 95% intervals. Nothing here is tuned: the rule has no parameter.

    nice -n 5 .venv/bin/python bench/absent_names.py --workspace .cairn [--n 300] [--worded]
        [--possessive]
"""

from __future__ import annotations

import argparse
import ast
import html
import random
import re
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn.answer.absent import absent_names
from cairn.config import load_settings
from cairn.pipeline import Pipeline
from cairn.workspace import Workspace

TEMPLATES = (
    "What arguments does `{name}` take?",
    "How do I use {name}?",
    "What does {name}() return?",
)
WORDED = (
    "How do I use the {last} function from {qualifier}?",
    "What does the `{last}` function in {qualifier} return?",
    "What arguments does {last}() of {qualifier} take?",
)
"""The same names qualified in words (`--worded`)."""
POSSESSIVE = (
    "What arguments does {module}'s {rest}() take?",
    "How do I use {module}'s {rest}()?",
    "What does {module}'s {rest}() return?",
)
"""The same names qualified by their module in the possessive (`--possessive`): "What
arguments does pathlib's Path.walk() take?"."""


def _guard(test: ast.expr) -> tuple[str, int] | None:
    """(">=" or "<", minor) for `sys.version_info >= (3, minor)` and `<`; else None."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    if ast.unparse(test.left) != "sys.version_info":
        return None
    right = test.comparators[0]
    if not isinstance(right, ast.Tuple) or len(right.elts) < 2:
        return None
    major, minor = (e.value if isinstance(e, ast.Constant) else None for e in right.elts[:2])
    if major != 3 or not isinstance(minor, int):
        return None
    op = test.ops[0]
    if isinstance(op, ast.GtE):
        return ">=", minor
    if isinstance(op, ast.Lt):
        return "<", minor
    return None


def _defined(body: list[ast.stmt], prefix: str, added: int) -> Iterator[tuple[str, int]]:
    """(qualified name, the version that added it: 0 when no guard for 3.12+) per definition."""
    for node in body:
        if isinstance(node, ast.If):
            guard = _guard(node.test)
            if guard and guard[0] == ">=":
                yield from _defined(node.body, prefix, max(added, guard[1]))
                yield from _defined(node.orelse, prefix, added)
            else:
                yield from _defined(node.body, prefix, added)
                yield from _defined(node.orelse, prefix, added)
        elif isinstance(node, ast.ClassDef):
            yield f"{prefix}{node.name}", added
            yield from _defined(node.body, f"{node.name}.", added)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{prefix}{node.name}", added
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            yield f"{prefix}{node.target.id}", added


def stub_names(stdlib: Path) -> tuple[set[str], set[str]]:
    """(names added in 3.12 or later, names defined without such a guard)."""
    versions: dict[str, int] = {}
    for name, when in _versions(stdlib / "VERSIONS"):
        versions[name] = when
    first: dict[str, int] = {}
    for path in sorted(stdlib.rglob("*.pyi")):
        rel = path.relative_to(stdlib).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        module = ".".join(parts)
        if any(p.startswith("_") for p in parts) or not module:
            continue
        since = versions.get(module, versions.get(parts[0], 0))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for qualified, added in _defined(tree.body, f"{module}.", since if since >= 12 else 0):
            if any(p.startswith("_") for p in qualified.split(".")):
                continue  # private classes, members and dunders
            first[qualified] = min(first.get(qualified, 99), added)
    new = {n for n, v in first.items() if v >= 12}
    old = {n for n, v in first.items() if v == 0}
    return new, old


def _versions(path: Path) -> Iterator[tuple[str, int]]:
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        name, span = (s.strip() for s in line.split(":", 1))
        low = span.split("-", 1)[0]
        yield name, int(low.split(".")[1])


def docs_names(root: Path) -> set[str]:
    """Every dotted run of identifier characters in the visible text of the HTML pages under
    `root`, lower-cased, with each of its prefixes at a dot (`os.path.join` gives `os`,
    `os.path` and `os.path.join`): a name is mentioned when it is one of them."""
    out: set[str] = set()
    for page in root.rglob("*.html"):
        text = re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8", errors="replace"))
        for token in set(re.findall(r"[\w.]+", html.unescape(text).lower())):
            parts = token.strip(".").split(".")
            out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / d
    return max(0.0, c - h), min(1.0, c + h)


def rate(k: int, n: int) -> str:
    """`k` of `n` as a share with its Wilson 95% interval: "0.730 [0.677, 0.777]"."""
    lo, hi = wilson(k, n)
    return f"{k / n if n else 0.0:.3f} [{lo:.3f}, {hi:.3f}]"


def uncached_pipeline(workspace: Path, **answer: object) -> Pipeline:
    """The workspace's real pipeline with the answer cache off (every question is answered
    afresh), `answer` overriding `answer.*` settings (`absent_names=False`)."""
    base = load_settings(workspace=workspace)
    settings = base.model_copy(
        update={
            "cache": base.cache.model_copy(update={"exact": False, "semantic": False}),
            "answer": base.answer.model_copy(update=answer),
        }
    )
    return Workspace(settings).pipeline()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--docs", type=Path, default=Path("/usr/share/doc/python3.11/html"))
    parser.add_argument("--n", type=int, default=300, help="questions per set at most")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--worded",
        action="store_true",
        help="qualify in words: 'the batched function from itertools'",
    )
    parser.add_argument(
        "--possessive",
        action="store_true",
        help="qualify by the module in the possessive: 'pathlib's Path.walk()'",
    )
    parser.add_argument("--show", type=int, default=0, help="print this many examples per set")
    args = parser.parse_args()
    try:
        import mypy
    except ImportError:
        sys.exit("needs mypy's bundled typeshed: pip install -e '.[dev]'")
    stdlib = Path(mypy.__file__).parent / "typeshed" / "stdlib"
    new, old = stub_names(stdlib)
    mentioned = docs_names(args.docs)

    # names are asked as written: a module's function or class with its module
    # (`itertools.batched`), a class's member with its class (`Path.walk`)
    new_asked = [n for n in sorted(new) if n.lower() not in mentioned]
    old_asked = [n for n in sorted(old) if n.lower() in mentioned]
    rng = random.Random(args.seed)
    sets = {
        "new (3.12+, not in the 3.11 docs)": rng.sample(new_asked, min(args.n, len(new_asked))),
        "old (in the 3.11 docs)": rng.sample(old_asked, min(args.n, len(old_asked))),
    }
    print(f"typeshed: {stdlib} ({len(new_asked)} new names, {len(old_asked)} old names)")

    pipelines = {on: uncached_pipeline(args.workspace, absent_names=on) for on in (False, True)}
    print(f"{'set':<36} {'n':>4} {'abstained, rule off':>22} {'abstained, rule on':>22}")
    asks: list[float] = []
    checks: list[float] = []
    for label, names in sets.items():
        counts = {False: 0, True: 0}
        shown = 0
        for name in names:
            templates = POSSESSIVE if args.possessive else WORDED if args.worded else TEMPLATES
            qualifier, last = name.rsplit(".", 1)
            module, rest = name.split(".", 1)
            template = templates[zlib.crc32(name.encode()) % len(templates)]
            question = template.format(
                name=name, qualifier=qualifier, last=last, module=module, rest=rest
            )
            for on, pipeline in pipelines.items():
                answer = pipeline.ask(question)
                counts[on] += answer.abstained
                if on:
                    asks.append(answer.latency_ms)
                    started = time.perf_counter()
                    getattr(pipeline.answerer, "absent", absent_names)(question, answer.hits)
                    checks.append((time.perf_counter() - started) * 1000)
                if on and answer.abstained and shown < args.show:
                    shown += 1
                    absent = getattr(pipeline.answerer, "absent", absent_names)
                    print(f"  {question!r}: absent {absent(question, answer.hits)}")
        n = len(names)
        cells = []
        for on in (False, True):
            lo, hi = wilson(counts[on], n)
            cells.append(f"{counts[on] / n:.3f} [{lo:.3f}, {hi:.3f}]")
        print(f"{label:<36} {n:>4} {cells[0]:>22} {cells[1]:>22}")
    # the check alone (its look-ups included) against the whole request, rule on
    ask50, ask95 = np.percentile(asks, [50, 95])
    check50, check95 = np.percentile(checks, [50, 95])
    print(
        f"rule on, ms per question: ask p50 {ask50:.1f} p95 {ask95:.1f}; "
        f"absent-name check (with its look-ups) p50 {check50:.2f} p95 {check95:.2f}"
    )


if __name__ == "__main__":
    main()
