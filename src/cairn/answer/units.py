"""The units an extractive answer is made of: a chunk's sentences, code blocks, tables and
list items, and the facts about them composition needs (an API entry's title, a signature).

`chunk_units` splits a chunk's text (the attribution stage and the model replies use the
same split); `candidate_units` gathers the units of the most relevant hits with the feature
views the sentence scorer reads (`cairn.answer.features`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from cairn.answer.features import UnitView
from cairn.sentences import split_sentences
from cairn.types import Chunk, Hit

_CODE_HINT = re.compile(r"^(>>>|\$ |\s{2,}|\.\.\. )|[{};]\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Unit:
    """One quotable piece of a candidate chunk: a sentence, a code block, a table, or a
    sentence of a list item, with where it sits."""

    hit: int
    """Index of the hit (in rank order) the unit comes from."""
    start: int
    end: int
    text: str
    code: bool
    index: int
    """Position of the unit in its chunk."""
    paragraph: int = 0
    """Index of the paragraph (text between blank lines) the unit sits in."""
    entry: bool = False
    """The title of an API entry: the chunk's first unit, its last section heading or a
    signature of it (`entry_title`: an attribute, a constant, an operator such as
    `d | other`, a command-line option, `Unpacker.unpack_farray(n, unpack_item)`), which
    names what the entry's description describes."""


def chunk_units(text: str, *, commands: bool = False) -> list[tuple[int, int, bool]]:
    """`(start, end, is_code)` of the answerable units of a chunk text.

    Prose paragraphs and list items are split into sentences; code blocks and tables stay
    whole (they are quoted as they are, never cut). With `commands`, a one-line paragraph
    after an introduction ending in ":" that reads as no sentence is code too (the
    extractive answerer's units; quoting and attribution keep the plain split).
    """
    units: list[tuple[int, int, bool]] = []
    offset = 0
    introduced = False  # the previous paragraph ended in ":"
    for para in text.split("\n\n"):
        start = offset
        offset += len(para) + 2
        if not para.strip():
            continue
        after_intro, introduced = introduced, para.rstrip().endswith(":")
        if commands and after_intro and _is_command(para):
            # "run the venv module ...:" then "python3 -m venv tutorial-env": one line of
            # code whose block markers the text lost; quoted whole, like any code block.
            lead = len(para) - len(para.lstrip())
            units.append((start + lead, start + len(para.rstrip()), True))
            continue
        if _is_list(para):
            for item_start, item_end in _list_items(para):
                item = para[item_start:item_end]
                units.extend(
                    (start + item_start + s, start + item_start + e, False)
                    for s, e in split_sentences(item)
                )
            continue
        lead = len(para) - len(para.lstrip())
        if "\n" in para.strip() or _CODE_HINT.search(para):
            units.append((start + lead, start + len(para.rstrip()), True))
            continue
        units.extend((start + s, start + e, False) for s, e in split_sentences(para))
    return units


def _is_command(para: str) -> bool:
    """A single short line that reads as no sentence: no punctuation at its end and no run of
    four lowercase words (a shell command, a call, a path)."""
    line = para.strip()
    return (
        "\n" not in line
        and 0 < len(line) <= 160
        and not line.endswith((".", "!", "?", ":", ";", ","))
        and not re.search(r"[a-z]{3,} [a-z]{3,} [a-z]{3,} [a-z]{3,}", line)
    )


def _is_list(para: str) -> bool:
    lines = [line for line in para.split("\n") if line.strip()]
    return bool(lines) and all(
        line.startswith("- ") or (line.startswith("  ") and not line.startswith("    "))
        for line in lines
    )


def _list_items(para: str) -> list[tuple[int, int]]:
    """Spans of the items' text (without the `- ` marker); continuation lines included."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in para.split("\n"):
        body = 2 if line.startswith("- ") else 0
        if body or not spans:
            spans.append((offset + body, offset + len(line)))
        else:
            spans[-1] = (spans[-1][0], offset + len(line))
        offset += len(line) + 1
    return spans


def candidate_units(
    hits: Sequence[Hit], relevance: Sequence[float], limit: int
) -> tuple[list[Unit], list[UnitView], list[int]]:
    """The units of the `limit` most relevant hits (in rank order), their feature views, and
    the indices of those hits."""
    order = sorted(range(len(hits)), key=lambda i: -relevance[i])
    keep = order[:limit]
    units: list[Unit] = []
    views: list[UnitView] = []
    for i in sorted(keep):
        chunk = hits[i].chunk
        spans = chunk_units(chunk.text, commands=True)
        heading = " ".join([chunk.title, *chunk.section])
        for n, (s, e, code) in enumerate(spans):
            text = chunk.text[s:e]
            intro = text.rstrip().endswith(":") and n + 1 < len(spans) and spans[n + 1][2]
            entry = n == 0 and entry_title(text, chunk.section[-1] if chunk.section else "")
            paragraph = chunk.text.count("\n\n", 0, s)
            units.append(Unit(i, s, e, text, code, n, paragraph, entry))
            views.append(UnitView(text, code, i, n, len(spans), heading, intro))
    return units, views, keep


def entry_title(text: str, heading: str) -> bool:
    """Whether a chunk's first unit names the API entry its heading is: the heading itself
    (`d | other`, an attribute), or a short signature, no sentence, of the heading or any
    dotted tail of it (`@functools.cache(user_function)`, `awaitable asyncio.gather(*aws,
    ...)`; the documentation titles a method by its class or by its name alone under a
    fully qualified heading: `Unpacker.unpack_farray(n, unpack_item)` and `decode(s)` are
    the titles of the entries `xdrlib.Unpacker.unpack_farray` and `json.JSONDecoder.decode`)."""
    heading, text = heading.strip(), text.strip()
    if not heading:
        return False
    parts = heading.split(".")
    tails = [".".join(parts[i:]) for i in range(len(parts))]
    if text == heading or (len(parts) > 1 and text in tails):
        return True
    if len(text) >= 300 or text.endswith((".", ":")):
        return False
    return any(re.search(rf"(?:^|[\s@]){re.escape(tail)}\(", text) for tail in tails)


_PAGE_TITLE = re.compile(r"^`?([A-Za-z_][\w.]*)`?(?:\s+[—–-]|:)\s+\S")


def page_name(title: str) -> str:
    """The module or API a page is about, from its title ("pwd — The password database",
    "email.utils: Miscellaneous utilities"), lower-cased; "" for any other title."""
    found = _PAGE_TITLE.match(title.strip())
    return found.group(1).lower() if found else ""


def opens_page_of(chunk: Chunk, modules: Collection[str]) -> bool:
    """Whether `chunk` opens the page of one of `modules` (lower-cased): the page's first
    chunk, before any heading, on a page titled "pwd — The password database" (a "See
    also" closing the page has no heading either)."""
    return (
        chunk.ordinal == 0
        and not chunk.section
        and bool(modules)
        and page_name(chunk.title or "") in modules
    )


_SIGNATURE = re.compile(r"^\s*(?:class |async |def )?[A-Za-z_][\w.]*\s*\(.*\)\s*$", re.S)


_PARAMETER = re.compile(r"^\*{0,2}([A-Za-z_]\w*)")
_NO_PARAMETERS = frozenset({"self", "cls"})


def signature_parameters(text: str) -> list[str]:
    """The parameter names of a one-line signature, in order (`dumps(obj, *, indent=None)`
    -> `obj`, `indent`; `print(*objects, sep=' ')` -> `objects`, `sep`), without `self`,
    `cls` and one-letter names; none for text that is no signature."""
    if not looks_like_signature(text) or "\n" in text.strip():
        return []
    inside = text[text.index("(") + 1 : text.rindex(")")]
    out: list[str] = []
    for part in re.split(r"[,\[\]]", inside):
        found = _PARAMETER.match(part.strip())
        if found and len(found.group(1)) > 1 and found.group(1) not in _NO_PARAMETERS:
            out.append(found.group(1))
    return list(dict.fromkeys(out))


def names_entry(unit: Unit) -> bool:
    """A signature, or the title of an API entry that has none (`d | other`)."""
    return unit.entry or looks_like_signature(unit.text)


def looks_like_signature(text: str) -> bool:
    return bool(_SIGNATURE.match(text)) and len(text) < 300
