"""What kind of question was asked: it decides what a good extractive answer is made of.

| kind         | example                               | the answer quotes                     |
|--------------|---------------------------------------|---------------------------------------|
| `how-to`     | "How do I read a TOML file?"          | the code example and its introduction |
| `api`        | "What does `math.isclose` return?"    | the signature and first description   |
| `yes-no`     | "Is `dict` ordered?"                  | the supporting sentence, Yes/No if so |
| `list`       | "Which logging levels are there?"     | the sentences that enumerate          |
| `version`    | "What changed in 3.11 for asyncio?"   | sentences naming versions and changes |
| `definition` | "What is a coroutine?"                | the defining sentence                 |
| `other`      | anything else                         | the best-scored sentences             |

Rules, not a model: the cues are few, fixed English phrasings, and the first rule that
matches wins (in the table's order but with `version` first, so "how do I use the 3.11
feature" is about a version).
"""

from __future__ import annotations

import re
from typing import Literal

from cairn.answer.terms import content_terms

QuestionKind = Literal["how-to", "api", "yes-no", "list", "version", "definition", "other"]

KINDS: tuple[QuestionKind, ...] = (
    "how-to",
    "api",
    "yes-no",
    "list",
    "version",
    "definition",
    "other",
)

_VERSION = re.compile(
    r"\b(?:python\s*)?3\.\d{1,2}\b|\bversion\b|\bwhat'?s new\b|\bnew in\b|\bchanged in\b|"
    r"\bdeprecated\b|\bwhen was\b|\bwhich release\b|\badded in\b|\bremoved in\b",
    re.IGNORECASE,
)
_HOW_TO = re.compile(
    r"\bhow (?:do|can|should|would|could|to|does one)\b|\bwhat(?:'s| is) the (?:best |right |"
    r"correct |proper |recommended |idiomatic )?way\b|\bis there a way\b|\bi (?:want|need) to\b|"
    r"\bhow (?:i|we|you) (?:can|should)\b",
    re.IGNORECASE,
)
_IDENTIFIER = re.compile(r"`[^`]+`|\b[a-z_]\w*\.[a-z_]\w*|\b\w+\(\)|\b[a-z]+_[a-z_]+\b")
_API = re.compile(
    r"\bwhat does\b.*\b(?:do|return|raise|take|accept)\b|\b(?:arguments?|parameters?|"
    r"signature|returns?|keyword|kwargs?|raises?|attribute|method|function)\b",
    re.IGNORECASE,
)
_YES_NO = re.compile(
    r"^\s*(?:is|are|can|does|do|did|should|will|was|were|has|have|could|would|may|must|isn'?t|"
    r"doesn'?t|don'?t|aren'?t)\b",
    re.IGNORECASE,
)
_LIST = re.compile(
    r"\b(?:which|what) (?:are|were) (?:the|all)\b|\blist (?:of|the|all)\b|\b(?:kinds|types|"
    r"ways|options|levels|modes|differences) (?:of|are|between)\b|\bname (?:the|all)\b",
    re.IGNORECASE,
)
_DEFINITION = re.compile(
    r"^\s*(?:what(?:'s| is| are)|define|explain|why)\b|\bmeaning of\b|\bwhat does .* mean\b",
    re.IGNORECASE,
)


def question_kind(question: str) -> QuestionKind:
    """The kind of `question` (first matching rule; `other` when none does)."""
    text = " ".join(question.split())
    if _VERSION.search(text):
        return "version"
    if _HOW_TO.search(text):
        return "how-to"
    if _YES_NO.search(text):
        return "yes-no"
    if _IDENTIFIER.search(text) and _API.search(text):
        return "api"
    if _LIST.search(text):
        return "list"
    if _IDENTIFIER.search(text) and re.match(r"^\s*what (?:does|is)\b", text, re.IGNORECASE):
        return "api"
    if _DEFINITION.search(text):
        return "definition"
    return "other"


_PART_BREAK = re.compile(
    r"(?<=[?!])\s+|(?<=[.;])\s+(?=[A-Z])|,?\s+(?:and|but)\s+(?=(?:how|what|why|when|which|"
    r"where|whether|is|are|can|could|do|does|should|will)\b)|,?\s+also,?\s+",
    re.IGNORECASE,
)


_ASKS = re.compile(
    r"^\W*(?:\w+\s+)?(?:how|what|why|when|which|where|whether|who|is|are|can|could|do|does|"
    r"did|should|will|would|any)\b",
    re.IGNORECASE,
)


def question_parts(question: str) -> list[str]:
    """The questions asked in one message ("How do I reverse a list in place, and how do I
    loop over it backwards?" asks two): split at question marks, sentence ends and "and how
    / and what / also ..." joins, keeping the parts that ask (a question mark, or a question
    word near their start) and hold two content words or more; one part (the message itself)
    when it asks one thing. Statements around a question ("My dataclass has a list field
    ...") and requests ("ignore your previous rules ...") are not parts. Three at most."""
    parts = [p.strip(" ,;") for p in _PART_BREAK.split(" ".join(question.split()))]
    asked = [
        p for p in parts if len(set(content_terms(p))) >= 2 and (p.endswith("?") or _ASKS.match(p))
    ]
    return asked[:3] if len(asked) > 1 else [question]


_NAMED = re.compile(
    r"`([^`]+)`|\b([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\b|\b(\w+)\(|\b([a-z]+_[a-z_]+)\b"
)


def named_apis(question: str) -> set[str]:
    """The identifiers a question names, lower-cased: in backticks, dotted (`math.isclose`),
    called (`zip()`, `print(...)`) or with an underscore (`lru_cache`); arguments and
    brackets dropped."""
    return _named(question, kinds=range(4))


def _named(question: str, kinds: range | tuple[int, ...]) -> set[str]:
    """The names `_NAMED` finds written in the ways `kinds` lists (its groups: 0 backticks,
    1 dotted, 2 called, 3 with an underscore)."""
    out: set[str] = set()
    for groups in _NAMED.findall(question):
        kind, name = next((k, g) for k, g in enumerate(groups) if g)
        if kind not in kinds:
            continue
        name = re.split(r"[(\[\s=]", name.strip(), maxsplit=1)[0].rstrip(".:,")
        if re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*", name) and len(name) > 2:
            out.add(name.lower())
    return out


_MODULE = re.compile(
    r"\b(?:the\s+)?`?([a-z_][\w.]*[a-z0-9_])`?\s+(?:module|package|library)\b"
    r"|\b(?:module|package)\s+`?([a-z_][\w.]*[a-z0-9_])`?",
    re.IGNORECASE,
)
NOT_NAMES = frozenset(
    "a an the this that which what whose each every any some one new same other my your our "  # noqa: SIM905
    "their its own standard built builtin python third party external separate custom main "
    "first last whole entire given following previous next for to in of on at with from by "
    "as is are was be named called and or but if when where how why do does can should would"
    "".split()
)
"""English words where a question's wording puts a name ("the same module", "the first
function from"): none of them names a module or an API."""


def named_modules(question: str) -> set[str]:
    """The modules or packages a question names, lower-cased: by saying so ("the pwd
    module", "module shutil"), in backticks (`` `glob` ``) or dotted (`email.utils`). A call
    (`.copy()`, `zip()`) names a function, not a module."""
    out = _named(question, kinds=(0, 1))
    for m in _MODULE.finditer(question):
        name = (m.group(1) or m.group(2)).lower()
        if name not in NOT_NAMES:
            out.add(name)
    return out
