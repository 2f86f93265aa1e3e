"""A question about a name the documents do not describe (`cairn.answer.absent`), and the
extractive answerer abstaining on it with the real embedding model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cairn.answer.absent import absent_names
from cairn.answer.base import Draft
from cairn.answer.evidence import AnswerabilityCheck
from cairn.answer.extractive import ExtractiveAnswerer
from cairn.config import AnswerSettings, load_settings
from cairn.embed.minilm import MiniLMEmbedder
from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import make_doc
from cairn.types import Citation, Hit


def page(title: str, *sections: tuple[str, str]) -> list[Hit]:
    """Hits whose chunks are `(heading, text)` of a page titled `title`."""
    _, chunks = make_doc(title, f"{title}.html", [text for _, text in sections])
    return [
        Hit(chunk=replace(c, title=title, section=(title, heading)), score=1.0)
        for c, (heading, _) in zip(chunks, sections, strict=True)
    ]


PATHLIB = page(
    "pathlib — Object-oriented filesystem paths",
    ("Path.glob(pattern)", "Glob the given relative pattern in the directory."),
    ("Path.iterdir()", "When the path points to a directory, yield path objects."),
)
OS = page(
    "os — Miscellaneous operating system interfaces",
    ("os.walk(top, topdown=True)", "Generate the file names in a directory tree by walking."),
)
DICT = page(
    "Built-in Types",
    ("class dict(**kwargs)", "Return a new dictionary initialized from an optional argument."),
    ("get(key[, default])", "Return the value for key if key is in the dictionary."),
)
SYS = page(
    "sys — System-specific parameters and functions",
    ("sys.settrace(tracefunc)", "Set the system's trace function."),
)
TYPING = page(
    "typing — Support for type hints",
    (
        "typing.final",
        "A decorator to indicate to type checkers that the method cannot be overridden.",
    ),
)
MATH = page(
    "math — Mathematical functions",
    ("math.sqrt", "Return the square root of x."),
    ("print", "print(*objects, sep=' ', end='\\n') prints objects separated by sep."),
)
# Headings as the HTML reader gives them: the entry's anchor, fully qualified.
ANCHORED = page(
    "pathlib — Object-oriented filesystem paths",
    ("pathlib.Path.glob", "Path.glob(pattern)\n\nGlob the given relative pattern."),
)
TUTORIAL = page(
    "An Informal Introduction",
    ("Lists", "a.append(x) adds an item; a.sort() sorts the list in place."),
)


@pytest.mark.parametrize(
    ("question", "hits", "absent"),
    [
        # The qualifier is documented (entries of Path, the sys page), the name is not.
        ("What arguments does pathlib's Path.walk() take?", PATHLIB + OS, ["path.walk"]),
        ("How do I register callbacks with sys.monitoring?", SYS, ["sys.monitoring"]),
        ("How do I use Path.walk()?", ANCHORED, ["path.walk"]),
        # A part missing under a documented parent: the module itself is not there.
        ("What does pathlib.tools.walk_tree() return?", ANCHORED, ["pathlib.tools.walk_tree"]),
        ("What does pathlib.Path.glob() return?", ANCHORED, []),
        ("What does Path.glob return?", ANCHORED, []),
        # Named in the text, or an entry for the last part (a method titled bare).
        ("What does Path.glob() return?", PATHLIB, []),
        ("what does dict.get return when the key is missing?", DICT, []),
        ("How do I use `os.walk`?", OS, []),
        # Qualified in words: a name written as code, or shaped like one, and what it is.
        ("how do I use the @override decorator from typing?", TYPING, ["typing.override"]),
        ("What does the `final` decorator in typing do?", TYPING, []),
        ("How do I use the assert_never function from typing?", TYPING, ["typing.assert_never"]),
        # English words before "function", and an argument, are no names.
        ("is there a cube root function in math?", MATH, []),
        ("What does the sep argument of print() do?", MATH, []),
        # The qualifier is not documented here: nothing to say about the name.
        ("How do I use itertools.batched?", PATHLIB, []),
        # The user's code and file names are not documentation names.
        ("Why does self.items stay empty after a.SomeClass() is built?", TUTORIAL, []),
        ("My random.py shadows the module; how do I fix the import?", SYS + OS, []),
    ],
)
def test_absent_names(question: str, hits: list[Hit], absent: list[str]) -> None:
    assert absent_names(question, hits) == absent


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory) -> ExtractiveAnswerer:
    embedder = MiniLMEmbedder(load_settings().model_dir)
    store = SQLiteStore(tmp_path_factory.mktemp("absent") / "cairn.db")
    return ExtractiveAnswerer(store, embedder, AnswerSettings())


def test_the_answerer_abstains_on_an_absent_name_and_says_which(
    answerer: ExtractiveAnswerer,
) -> None:
    question = "What arguments does pathlib's Path.walk() take, and is top-down the default?"
    hits = PATHLIB + OS
    draft = answerer.answer(question, hits)
    assert draft.abstained
    assert "`Path.walk`" in draft.reason
    assert draft.text == "The indexed documents do not mention `Path.walk`."
    assert answerer.answerability(question, hits) == 0.0
    # The same hits answer a question about a name they hold.
    kept = answerer.answer("What does Path.glob(pattern) do with the pattern?", hits)
    assert not kept.abstained
    assert "Glob the given relative pattern" in kept.text


def test_the_rule_can_be_turned_off(answerer: ExtractiveAnswerer) -> None:
    off = ExtractiveAnswerer(
        answerer.store, answerer.embedder, AnswerSettings(absent_names=False), answerer.model
    )
    question = "What arguments does pathlib's Path.walk() take?"
    assert off.absent(question, PATHLIB + OS) == []
    assert answerer.absent(question, PATHLIB + OS) == ["path.walk"]


def test_a_model_answer_about_an_absent_name_is_withheld(answerer: ExtractiveAnswerer) -> None:
    """The evidence check on a model's path: a fluent answer about `Path.walk` cited to the
    `os.walk` entry is withheld, since the passages do not describe the name asked about."""
    hits = PATHLIB + OS
    walk = hits[-1].chunk
    cite = Citation(n=1, chunk_id=walk.id, source=walk.source, uri="u", section="S", quote="q")
    draft = Draft(text="It takes top and topdown=True. [1]", citations=(cite,), abstained=False)
    check = AnswerabilityCheck.of(answerer)
    withheld = check.check("What arguments does Path.walk() take?", draft, hits)
    assert withheld.abstained
    assert "answerability of the given passages 0.00" in withheld.reason
