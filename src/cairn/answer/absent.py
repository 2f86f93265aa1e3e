"""A question about an API the documents do not describe.

Asked "What arguments does pathlib's `Path.walk()` take?" over the Python 3.11 documentation
(`Path.walk` came in 3.12), the retriever finds `os.walk` and `Path.glob`, and their
sentences answer a question much like it: the answerability model, which judges how well the
best sentences match the question's terms, sees good evidence. A reader sees at once what it
cannot: the documents describe `pathlib.Path` at length and never name `Path.walk`.

The rule, with no parameter: a qualified name the question names (`Path.walk`,
`sys.monitoring`, `itertools.batched`; `kinds.named_apis`; or in words, "the @override
decorator from typing") is *absent* when

- its qualifier is documented: a hit's heading is an API entry of the qualifier
  (`Path.glob(pattern)`, `sys.settrace(tracefunc)`, `class pathlib.Path`) or its page is the
  qualifier's (`sys — System-specific parameters ...`), so the documents are the ones that
  would describe the name; and
- nothing names it: neither the text nor the headings of a hit hold the dotted name, and no
  heading is an entry for its last part (`walk(...)` alone, as methods are often titled, or
  `Path.walk`; `os.walk(top)` is another name's entry).

The same holds at every level of a longer name: `asyncio.tools.build_async_tree` is absent
when the hits document `asyncio` and never name `asyncio.tools`.

When the retrieved hits document the qualifier but do not name the name, a *look-up* (the
store's lexical search for the qualifier and the name together, `LOOKUP_K` chunks, under the
request's filters) reads the chunks most likely to name it: where retrieval missed the
name's entry, the look-up finds it and nothing abstains (of 300 names the 3.11 docs have, 5
were declined on the hits alone, none with the look-up). The look-up only clears a name,
never convicts one: its chunks were not retrieved for the question, and an entry among them
whose last part is the qualifier's name (`functools.partial.func` for the user's
`func.__name__`, `Connection.backup` for `backup.tgz`) documents something else.

A numbered reference works the same way (`absent_references`): "What did PEP 701 change
about f-strings?" over documents that cite PEPs (some hit, or a chunk of the look-up for
"PEP 701", names another PEP) but never "PEP 701" is about something they do not describe.
The series are PEP and RFC, and only numbers of three digits or more are judged: "5" or
"8" is too common a word for a lexical look-up to find "PEP 5". In the Python docs the
look-up's 10 best hold a chunk citing the number for none of the 7 shorter numbers they
cite, and for 375 of the 376 longer ones (`bench/absent_references.py`). The look-up may
convict here: any chunk citing another number of the series shows that these documents
cite the series by number, whatever it is about.

Names of the user's own code (`self.items`, `a.SomeClass`) have no documented qualifier and
file names (`random.py`) are not names, so neither abstains. Measured on names the standard
library added after 3.11 (typeshed's version guards) against names it already had:
`bench/absent_names.py`, docs/benchmarks.md "Names the documents do not have".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import pairwise

from cairn.answer.kinds import NOT_NAMES, named_apis
from cairn.answer.units import page_name
from cairn.types import Hit

LOOKUP_K = 10
"""Chunks the look-up reads: the lexical search's best for "qualifier name"."""

Lookup = Callable[[str], Sequence[Hit]]
"""A lexical search of the documents (`query` -> the best hits) under the request's filters."""

FILE_SUFFIXES = frozenset(
    "py pyi pyc pyw txt md rst json toml yaml yml cfg ini csv tsv html htm xml js ts css sh "  # noqa: SIM905
    "bat exe dll so log lock zip gz tar whl egg sql db sqlite png jpg gif svg pdf c h cpp".split()
)
"""A dotted name ending in one of these is a file (`random.py`, `setup.cfg`), not an API."""

_NOT_QUALIFIERS = frozenset({"self", "cls", "obj", "this", "super", "python", "cpython"})
_ENTRY_PREFIX = r"(?:(?:class|exception|method|classmethod|staticmethod|abstractmethod|async|"
_ENTRY_PREFIX += r"awaitable|coroutine|decorator|function|attribute|property|data)\s+)*"


_KIND_WORD = r"(?:decorator|function|class|method|constant|exception|attribute)"
_FROM = re.compile(
    rf"(?:@|`)?\b([A-Za-z_]\w*)`?(?:\(\))?\s+(?:{_KIND_WORD}\s+)?(?:from|in|of)\s+(?:the\s+)?"
    rf"`?([a-z_][\w.]*[a-z0-9_])`?(?:\s+module|\s+package)?\b"
)
"""A name qualified in words: "the @override decorator from typing", "the `batched` function
in itertools". Only a name written as code (`@`, backticks, `()`), or shaped like one
(`standalone_month_abbr`, `assertNotEndsWith`) and followed by what it is, counts: "read data
from json", "a cube root function in math" and "the sep argument of print()" name nothing
(an argument is no qualified name)."""


_POSSESSIVE = re.compile(
    r"\b([a-z_][\w.]*[a-z0-9_])['’]s\s+`?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|[A-Za-z_]\w*\(\))"
)
"""A name qualified by a possessive: "pathlib's Path.walk()", "shutil's `rmtree()`"."""


def _worded(question: str) -> set[str]:
    out = {
        f"{m.group(1)}.{m.group(2).removesuffix('()')}".lower()
        for m in _POSSESSIVE.finditer(question)
    }
    for m in _FROM.finditer(question):
        written = question[m.start() : m.end(1) + 3]  # the match opens with its `@` or backtick
        as_code = "@" in written or "`" in written or "()" in written
        kind = re.match(rf"\s+{_KIND_WORD}\b", question[m.end(1) :].lstrip("`()"))
        shaped = re.search(r"_|\d|[a-z][A-Z]", m.group(1)) is not None
        if as_code or (kind and shaped and m.group(1).lower() not in NOT_NAMES):
            out.add(f"{m.group(2)}.{m.group(1)}".lower())
    return out


def _qualified(question: str) -> list[tuple[str, list[str]]]:
    """(name, its parts) for each qualified name asked."""
    out = []
    for name in sorted(named_apis(question) | _worded(question)):
        parts = name.split(".")
        if len(parts) < 2 or parts[-1] in FILE_SUFFIXES or parts[0] in _NOT_QUALIFIERS:
            continue
        if all(len(p) >= 2 for p in parts):  # "e.g", "U.S." are no names
            out.append((name, parts))
    return out


def _headings(hit: Hit) -> list[str]:
    return [h.strip().lower() for h in hit.chunk.section if h.strip()]


def _entry_of(qualifier: str, *, exactly: bool = False) -> re.Pattern[str]:
    """A heading that is an API entry of `qualifier` (`path`: `Path.glob(pattern)`, `class
    pathlib.Path`); `exactly`, only as written (`pathlib.path`: not `x.pathlib.Path.glob`)."""
    within = "" if exactly else r"(?:[\w.]+\.)?"
    return re.compile(rf"^{_ENTRY_PREFIX}{within}{re.escape(qualifier)}(?:\.\w|\s*\(|\s*$)")


def _documents(qualifier: str, hits: Sequence[Hit]) -> bool:
    """Whether a hit is an API entry of `qualifier`, or its page is the qualifier's."""
    entry = _entry_of(qualifier)
    for hit in hits:
        heads = _headings(hit)
        if any(entry.match(h) for h in heads):
            return True
        pages = (page_name(t) for t in (hit.chunk.title, *heads))
        if any(p == qualifier or p.endswith(f".{qualifier}") for p in pages):
            return True
    return False


def _names(qualifier: str, last: str, hits: Sequence[Hit]) -> bool:
    """Whether a hit names `qualifier.last` (in its text or headings), is an entry for
    `last`, or is an entry of `qualifier` with a signature line of `last` (an entry may
    hold several: `assertIs(first, second)` and `assertIsNot(first, second)` under
    `unittest.TestCase.assertIs`)."""
    tail = re.escape(f"{qualifier}.{last}")
    mention = re.compile(rf"(?<![\w]){tail}(?!\w)")
    entry = re.compile(rf"^{_ENTRY_PREFIX}(?:[\w.]*\b{re.escape(qualifier)}\.)?{re.escape(last)}\b")
    signature = re.compile(rf"^\s*{_ENTRY_PREFIX}{re.escape(last)}\(", re.MULTILINE)
    for hit in hits:
        heads = _headings(hit)
        text = hit.chunk.text.lower()
        if mention.search(text) or any(mention.search(h) for h in heads):
            return True
        if any(entry.match(h) for h in heads):
            return True
        if signature.search(text) and _documents(qualifier, [hit]):
            return True
    return False


def absent_names(question: str, hits: Sequence[Hit], lookup: Lookup | None = None) -> list[str]:
    """The qualified names `question` asks about that the documents, as `hits` (and where
    they do not name it, `lookup`) show them, do not describe although they document the
    names' qualifiers (lower-cased, sorted; a name also asked with its qualifier, as
    `path.walk` and `pathlib.path.walk` in "pathlib's Path.walk()", once, qualified)."""
    if lookup is not None:
        lookup = _once(lookup)  # `path.walk` and `pathlib.path.walk` look up "path walk" once
    missing = [name for name, parts in _qualified(question) if _missing(parts, hits, lookup)]
    return [n for n in missing if not any(m.endswith(f".{n}") for m in missing)]


def _once(lookup: Lookup) -> Lookup:
    """`lookup`, each query run once."""
    seen: dict[str, Sequence[Hit]] = {}

    def cached(query: str) -> Sequence[Hit]:
        if query not in seen:
            seen[query] = lookup(query)
        return seen[query]

    return cached


def _missing(parts: Sequence[str], hits: Sequence[Hit], lookup: Lookup | None) -> bool:
    """Whether some part of a dotted name is missing under a documented parent: `walk` of
    `Path.walk`, or `tools` of `asyncio.tools.build_async_tree` (a module the documents'
    asyncio never names, so none of its members can be there).

    A parent the hits do not document, but written with its own qualifier (`pathlib.Path`
    of `pathlib.Path.walk`), is looked up too: when the look-up finds entries of exactly
    that qualified parent (`pathlib.Path.glob`) and none names the child, it is missing. A
    bare parent (`func` of `func.__name__`) never convicts this way: an entry whose last
    part merely shares its name (`functools.partial.func`) documents something else."""
    for depth, (parent, child) in enumerate(pairwise(parts)):
        if _names(parent, child, hits):
            continue
        if _documents(parent, hits):
            if lookup is None or not _names(parent, child, lookup(f"{parent} {child}")):
                return True
            continue
        if depth == 0 or lookup is None:
            continue
        qualified = ".".join(parts[: depth + 1])
        found = lookup(" ".join(parts[: depth + 2]))
        if _entries_of(qualified, found) and not _names(parent, child, found):
            return True
    return False


def _entries_of(qualified: str, hits: Sequence[Hit]) -> bool:
    """Whether a hit's heading is an API entry of exactly `qualified` (`pathlib.path`:
    `pathlib.Path.glob`, `class pathlib.Path`; not `pathlib.PurePath.name`)."""
    entry = _entry_of(qualified, exactly=True)
    return any(entry.match(h) for hit in hits for h in _headings(hit))


def as_written(name: str, question: str) -> str:
    """`name` (lower-cased by `absent_names`) spelt as the question wrote it, when it did."""
    found = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", question, re.IGNORECASE)
    if found:
        return found.group(0)
    for m in _POSSESSIVE.finditer(question):  # "pathlib's Path.walk()" -> pathlib.Path.walk
        written = f"{m.group(1)}.{m.group(2).removesuffix('()')}"
        if written.lower() == name:
            return written
    return name


_REFERENCE = re.compile(r"\b(PEP|RFC)[\s-]?0*(\d{1,5})\b", re.IGNORECASE)
"""A numbered reference: "PEP 701", "pep-0701", "RFC 9110"."""


def cites(series: str, number: str | None, hits: Sequence[Hit]) -> bool:
    """Whether a hit's text or headings cite `series` `number` (any number when None)."""
    for hit in hits:
        for text in (hit.chunk.text, *hit.chunk.section):
            for m in _REFERENCE.finditer(text):
                if m.group(1).upper() == series and number in (None, m.group(2)):
                    return True
    return False


def reference_query(series: str, number: str) -> str:
    """The look-up for a reference: as written, run together ("rfc2087") and zero-padded as
    URLs write it ("pep-0634"): "PEP 634 PEP634 0634"."""
    return f"{series} {number} {series}{number} {number:0>4}"


def absent_references(
    question: str, hits: Sequence[Hit], lookup: Lookup | None = None
) -> list[str]:
    """The numbered references ("PEP 701", "RFC 9110"; three digits or more) `question`
    names that neither `hits` nor a look-up of the reference cite, in documents that cite
    others of its series (as "PEP 701", in order of appearance)."""
    out = []
    asked = dict.fromkeys((m.group(1).upper(), m.group(2)) for m in _REFERENCE.finditer(question))
    for series, number in asked:
        if len(number) < 3 or cites(series, number, hits):
            continue
        found = lookup(reference_query(series, number)) if lookup is not None else []
        if cites(series, number, found):
            continue
        if cites(series, None, [*hits, *found]):
            out.append(f"{series} {number}")
    return out
