"""The lexical guard of the semantic cache: a question's content words, in order.

Embedding similarity alone cannot tell near-miss questions apart. On XQuAD, different
questions about the same paragraph reach cosine 0.99 with all-MiniLM-L6-v2 ("*When* did the
movement ... begin?" / "*Where* did the movement ... begin?" 0.987; "the name of *one*
algorithm" / "of *another* algorithm" 0.996; see docs/benchmarks.md, "Answer cache"). So
a semantic hit also needs equal signatures: the same content words (stemmed), in the same
order, after dropping what does not change the question:

- case, sentence punctuation, leading courtesy phrases ("can you tell me", "please");
- articles, auxiliaries and modals ("is", "did", "can"), "of", "to", subject pronouns;
- inflection (Snowball stems: "died" = "die") and contractions ("what's", "can't").

Interrogatives, negations, numbers, prepositions other than "of"/"to", and every other word
are kept, so "when"/"where", "start"/"end", "1990"/"1991", "not" all separate questions. Word
order is kept because it carries meaning ("Who did Tesla work for?" is not "Who worked for
Tesla?"), and misspellings are not forgiven because one letter also turns "insert" into
"invert".
"""

from __future__ import annotations

import re
from functools import lru_cache

from cairn.answer.terms import stem
from cairn.cache.key import normalise_question, strip_punctuation

_FILLERS = (
    "can you please tell me",
    "could you please tell me",
    "can you tell me",
    "could you tell me",
    "would you tell me",
    "please tell me",
    "tell me",
    "i would like to know",
    "i'd like to know",
    "i want to know",
    "i wonder",
    "do you know",
    "please",
    "hey",
    "hi",
    "hello",
)
"""Courtesy phrases dropped from the start of a question (repeatedly)."""
_TRAILING = ("please", "thanks", "thank you")

_CONTRACTIONS = (
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'(s|re|ll|ve|d|m)\b"), ""),
)

STOPWORDS = frozenset(
    """a an the is are was were be been being am do does did doing has have had having
    can could would will shall of to i you we""".split()  # noqa: SIM905
)
"""Words that do not change what a question asks (for the guard; not the FTS5 list)."""


@lru_cache(maxsize=4096)
def question_signature(question: str) -> tuple[str, ...]:
    """The content words of `question`, stemmed, in order.

    >>> question_signature("Can you tell me what's the name of the algorithm?")
    ('what', 'name', 'algorithm')
    """
    text = _strip_fillers(normalise_question(question))
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    words = (strip_punctuation(w) for w in text.split())
    return tuple(stem(w) for w in words if w and w not in STOPWORDS)


def _strip_fillers(text: str) -> str:
    changed = True
    while changed:
        changed = False
        for filler in _FILLERS:
            if text.startswith(filler + " "):
                text = text[len(filler) + 1 :].lstrip(" ,:;-")
                changed = True
                break
    for filler in _TRAILING:
        if text.endswith(" " + filler):
            text = text[: -len(filler) - 1].rstrip(" ,;-")
    return text
