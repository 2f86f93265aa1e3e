"""What a quoted unit brings with it, and what is no evidence, for the extractive answer.

The rules hold for any text with code and API entries and fit no parameter
(docs/benchmarks.md, "Extractive answers"): an example brings its introduction and the
introduction its example, a sentence that leans on the one before brings it (`in_context`);
an introduction with nothing after it (`dangling`), an aside such as "See also ..." or a
credit line (`aside`) and another version's release notes (`other_releases`) are not
answers when something else is; near-duplicate units are quoted once (`similar`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cairn.answer.kinds import QuestionKind
from cairn.answer.terms import content_terms
from cairn.answer.units import Unit
from cairn.types import Hit

_VERSION_NUMBER = re.compile(r"(?<![\w.])\d+\.\d+(?:\.\d+)?(?![\w.]*\d)")


_RELEASE_NOTES = re.compile(r"what[’']?s new|release notes?|changelog|\bchanges in\b", re.I)


_ANAPHOR = re.compile(
    r"^\s*(?:(?:this|these|that|those|it|its|they|their|them|such)\b(?!\s+(?:is|are)\s+"
    r"(?:possible|recommended|important|necessary|also)\b)|(?:however|also|otherwise|instead|"
    r"therefore|thus|hence|likewise|similarly|moreover|furthermore|consequently|in addition|"
    r"note that|for example|for instance|in (?:this|that|such|these|those) cases?|which|and|"
    r"but|or|so|whereas)\b)",
    re.IGNORECASE,
)
"""A sentence opening with a pronoun, a demonstrative, a connective or a conjunction
("However", "Note that", "In this case", "which would print:") leans on what precedes it.
"It is possible ..." and the like point at nothing."""


_ASIDE = re.compile(
    r"^\s*(?:see also\b|see\s|\(?(?:contributed|patch|written) by\b)|\bsee also\b",
    re.IGNORECASE,
)
"""A pointer elsewhere ("See also ...") or a credit ("(Contributed by ... in bpo-47061.)")."""


def similar(a: str, b: str) -> bool:
    ta, tb = set(content_terms(a)), set(content_terms(b))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) > 0.7


def dangling(units: Sequence[Unit], i: int) -> bool:
    """An introduction ending in ":" with nothing after it in its chunk."""
    nxt = i + 1
    return units[i].text.rstrip().endswith(":") and (
        nxt >= len(units) or units[nxt].hit != units[i].hit
    )


def in_same_chunk(units: Sequence[Unit], i: int, j: int) -> bool:
    """Whether unit `j` exists and comes from the same chunk as unit `i`."""
    return 0 <= j < len(units) and units[j].hit == units[i].hit


def in_context(units: Sequence[Unit], quoted: Sequence[int]) -> list[int]:
    """The units that the `quoted` ones need around them to be understood, in their chunks:

    - an introduction ending in ":" brings the code blocks that follow it (three at most),
      and a code block the sentence ending in ":" that introduces it, with the code blocks
      between them (an example says nothing on its own: "identity tests should not be used
      to check constants such as int ...:" before `a is c` -> False);
    - a sentence that opens by leaning on what precedes it (a pronoun, a demonstrative, a
      connective or a conjunction: "This allows the cached_property method to run again.",
      "Note that ...", "which would print:") brings the unit before it, a sentence of its
      paragraph or the code block just above; two steps at most;
    - one sentence left out between two quoted ones of a paragraph is quoted too.
    """

    def same_chunk(i: int, j: int) -> bool:
        return in_same_chunk(units, i, j)

    out = set(quoted)
    work = [(i, 0) for i in quoted]
    while work:
        i, steps = work.pop()
        found: list[tuple[int, int]] = []
        nxt, prev = i + 1, i - 1
        text = units[i].text.rstrip()
        if not units[i].code and text.endswith(":"):
            # The example an introduction announces: the code blocks right after it.
            j = nxt
            while j < nxt + 3 and same_chunk(i, j) and units[j].code:
                found.append((j, steps))
                j += 1
        if units[i].code:
            # The introduction of an example made of one or more code blocks.
            j = prev
            while j > prev - 3 and same_chunk(i, j) and units[j].code:
                j -= 1
            if same_chunk(i, j) and not units[j].code and units[j].text.rstrip().endswith(":"):
                found.extend((k, steps) for k in range(j, i))
        elif (
            steps < 2
            and _ANAPHOR.match(units[i].text)
            and same_chunk(i, prev)
            and (units[prev].code or units[prev].paragraph == units[i].paragraph)
        ):
            found.append((prev, steps + 1))
        for j, depth in found:
            if j not in out:
                out.add(j)
                work.append((j, depth))
    for i in sorted(out):
        gap = i + 1
        if (
            gap + 1 in out
            and gap not in out
            and same_chunk(i, gap + 1)
            and not any(units[k].code for k in (i, gap, gap + 1))
            and units[i].paragraph == units[gap + 1].paragraph
        ):
            out.add(gap)
    return sorted(out - set(quoted))


def other_releases(question: str, kind: QuestionKind, hits: Sequence[Hit]) -> frozenset[int]:
    """Indices of the `hits` from release notes ("What's New in Python 2.6", "Release notes
    4.2", "Changelog 1.3") of versions other than those a version question names."""
    asked = _VERSION_NUMBER.findall(question) if kind == "version" else []
    if not asked:
        return frozenset()

    def same(v: str, w: str) -> bool:
        return v == w or w.startswith(f"{v}.") or v.startswith(f"{w}.")

    out = set()
    for i, hit in enumerate(hits):
        release = release_version(hit.chunk.title or "")
        if release is not None and not any(same(v, release) for v in asked):
            out.add(i)
    return frozenset(out)


def release_version(title: str) -> str | None:
    """The version whose release notes a page titled `title` holds ("What's New In Python
    3.10" -> "3.10", "Changelog 1.3" -> "1.3"); None for any other page."""
    named = _VERSION_NUMBER.findall(title) if _RELEASE_NOTES.search(title) else []
    return named[0] if len(named) == 1 else None


def states_version(text: str, version: str) -> bool:
    """Whether `text` names `version` as a number of its own (`3.10`, not `3.10.1` or
    `13.10`)."""
    return re.search(rf"(?<![\d.]){re.escape(version)}(?![\d]|\.\d)", text) is not None


def release_labels(
    question: str, kind: QuestionKind, quoted: Sequence[tuple[int, str]], hits: Sequence[Hit]
) -> dict[int, str]:
    """For a version question, the release-notes pages the answer quotes without stating
    their version: hit index -> the page's title, to lead its first quote.

    A sentence from "What's New In Python 3.6" ("PEP 487 extends the descriptor protocol
    ...") answers "which version introduced it?" only with the page it is on; `quoted` holds
    (hit index, text) of each quoted unit. A version the question or the quotes already
    name needs no label ("what did 3.11 add to asyncio?")."""
    if kind != "version":
        return {}
    said = " ".join([question, *(text for _, text in quoted)])
    out: dict[int, str] = {}
    for i, _ in quoted:
        title = " ".join((hits[i].chunk.title or "").split())
        version = release_version(title)
        if version is not None and not states_version(said, version):
            out[i] = title
            said = f"{said} {title}"  # one label per release, however many of its chunks
    return out


def aside(text: str) -> bool:
    return bool(_ASIDE.search(text))
