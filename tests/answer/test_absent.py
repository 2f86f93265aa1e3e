"""A question about a name the documents do not describe (`cairn.answer.absent`), and the
extractive answerer abstaining on it with the real embedding model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cairn.answer.absent import absent_names, absent_references
from cairn.answer.base import Draft
from cairn.answer.evidence import AnswerabilityCheck
from cairn.answer.extractive import ExtractiveAnswerer
from cairn.config import AnswerSettings, load_settings
from cairn.context import request_context
from cairn.embed.minilm import MiniLMEmbedder
from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import make_doc, write
from cairn.types import Citation, Filters, Hit


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
UNITTEST = page(
    "unittest — Unit testing framework",
    (
        "unittest.TestCase.assertIs",
        "assertIs(first, second, msg=None)\nassertIsNot(first, second, msg=None)\n\n"
        "Test that first and second are (or are not) the same object.",
    ),
)
TUTORIAL = page(
    "An Informal Introduction",
    ("Lists", "a.append(x) adds an item; a.sort() sorts the list in place."),
)


@pytest.mark.parametrize(
    ("question", "hits", "absent"),
    [
        # The qualifier is documented (entries of Path, the sys page), the name is not.
        ("What arguments does pathlib's Path.walk() take?", PATHLIB + OS, ["pathlib.path.walk"]),
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
        # A second signature in an entry of the qualifier names it; its text alone does not.
        ("How do I use TestCase.assertIsNot?", UNITTEST, []),
        ("How do I use TestCase.assertNotSame?", UNITTEST, ["testcase.assertnotsame"]),
        ("How do I use TestCase.first?", UNITTEST, ["testcase.first"]),
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


WALK = page(
    "pathlib — Object-oriented filesystem paths",
    ("pathlib.Path.walk", "Path.walk(top_down=True)\n\nGenerate the file names in a tree."),
)
ITERTOOLS = page(
    "itertools — Functions creating iterators for efficient looping",
    ("itertools.islice", "itertools.islice(iterable, stop)\n\nMake an iterator."),
)


def test_a_name_the_hits_miss_is_looked_up_before_it_is_declared_absent() -> None:
    """Retrieval missed the entry of a name the documents have: the look-up (a lexical
    search for qualifier and name) finds it, and nothing abstains."""
    queries: list[str] = []

    def lookup(query: str) -> list[Hit]:
        queries.append(query)
        return WALK if query == "path walk" else []

    question = "What arguments does pathlib's Path.walk() take?"
    assert absent_names(question, PATHLIB + OS, lookup) == []
    assert queries == ["path walk"]
    assert absent_names(question, PATHLIB + OS, lambda query: OS) == ["pathlib.path.walk"]


def test_the_look_up_only_clears_a_name_and_runs_only_when_needed() -> None:
    def unused(query: str) -> list[Hit]:
        raise AssertionError(f"looked up {query!r}")

    # The hits name it: no look-up.
    assert absent_names("What does Path.glob() return?", PATHLIB, unused) == []
    # The hits do not document the qualifier: an `itertools` entry the look-up finds, not
    # retrieved for the question, convicts nothing.
    assert absent_names("How do I use itertools.batched?", PATHLIB, lambda q: ITERTOOLS) == []


def test_the_look_up_reads_only_what_the_request_may(tmp_path: Path) -> None:
    """A document only team-b may read names `Path.walk`: a team-a request is told the
    documents do not mention it (it learns nothing of team-b's pages); a team-b one is not."""
    store = SQLiteStore(tmp_path / "cairn.db")
    doc, chunks = make_doc(
        "walk",
        "walk.md",
        ["Path.walk(top_down=True) generates the file names in a directory tree."],
        acl=("team-b",),
    )
    write(store, doc, chunks)
    answerer = ExtractiveAnswerer(
        store, MiniLMEmbedder(load_settings().model_dir), AnswerSettings()
    )
    question = "What arguments does pathlib's Path.walk() take?"
    with request_context(filters=Filters(principals=("team-a",))):
        assert answerer.absent(question, PATHLIB + OS) == ["pathlib.path.walk"]
    with request_context(filters=Filters(principals=("team-b",))):
        assert answerer.absent(question, PATHLIB + OS) == []
    assert answerer.absent(question, PATHLIB + OS) == []  # no request: the whole store
    store.close()


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
    assert "`pathlib.Path.walk`" in draft.reason
    assert draft.text == "The indexed documents do not mention `pathlib.Path.walk`."
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
    assert answerer.absent(question, PATHLIB + OS) == ["pathlib.path.walk"]


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


WHATSNEW = page(
    "What’s New In Python 3.10",
    ("PEP 634: Structural Pattern Matching", "Pattern matching was added (see PEP 636)."),
)
FSTRINGS = page(
    "Lexical analysis",
    ("Formatted string literals", "A formatted string literal or f-string is prefixed with f."),
)


def test_a_pep_or_rfc_the_documents_never_cite_is_absent() -> None:
    queries: list[str] = []

    def lookup(query: str) -> list[Hit]:
        queries.append(query)
        return WHATSNEW

    question = "What did PEP 701 change about f-strings?"
    assert absent_references(question, FSTRINGS, lookup) == ["PEP 701"]
    # Looked up as written, run together and zero-padded, as URLs cite it.
    assert queries == ["PEP 701 PEP701 0701"]
    # Cited by a hit, by a heading, or found by the look-up: not absent.
    assert absent_references("What did pep-0634 add?", WHATSNEW, lookup) == []
    assert absent_references("Is PEP 636 a tutorial?", FSTRINGS, lookup) == []
    assert absent_references("What did PEP 701 change?", FSTRINGS, lambda q: []) == []


def test_a_reference_is_judged_only_in_documents_that_cite_its_series() -> None:
    # Documents that cite no RFC at all say nothing of what citing one would mean.
    assert absent_references("Does it follow RFC 9110?", FSTRINGS, lambda q: FSTRINGS) == []
    assert absent_references("Does it follow RFC 9110?", WHATSNEW, lambda q: WHATSNEW) == []
    rfc = page("email — An email package", ("email", "Parses messages as in RFC 5322."))
    assert absent_references("Does it follow RFC 9110?", rfc, lambda q: rfc) == ["RFC 9110"]
    # One or two digits are too common a word for the look-up: never judged.
    assert absent_references("What does PEP 8 say about names?", FSTRINGS, lambda q: []) == []
    assert absent_references("What does PEP 8 say?", WHATSNEW, lambda q: WHATSNEW) == []


def test_the_answerer_abstains_on_an_absent_reference(answerer: ExtractiveAnswerer) -> None:
    draft = answerer.answer("What did PEP 701 change about f-strings?", FSTRINGS + WHATSNEW)
    assert draft.abstained
    assert draft.text == "The indexed documents do not mention PEP 701."


PUREPATH = page(
    "pathlib — Object-oriented filesystem paths",
    ("pathlib.PurePath.parent", "The logical parent of the path."),
)
CONCRETE = page(
    "pathlib — Object-oriented filesystem paths",
    ("pathlib.Path.glob", "Glob the given relative pattern in the directory."),
    ("pathlib.Path.cwd", "Return a new path object representing the current directory."),
)


def test_a_qualified_parent_the_look_up_documents_convicts_a_missing_name() -> None:
    """The hits document neither `Path` nor `walk`; the look-up finds entries of exactly
    `pathlib.Path`, none of them `walk`: the name is missing."""
    queries: list[str] = []

    def lookup(query: str) -> list[Hit]:
        queries.append(query)
        return CONCRETE

    question = "What arguments does pathlib.Path.walk() take?"
    assert "pathlib.path.walk" in absent_names(question, PUREPATH + OS, lookup)
    assert "pathlib path walk" in queries
    # Written in the possessive, the same name.
    assert "pathlib.path.walk" in absent_names(
        "What arguments does pathlib's Path.walk() take?", PUREPATH + OS, lookup
    )
    # A look-up that names it clears it; entries of another class convict nothing.
    named = page("pathlib", ("pathlib.Path.walk", "Generate the file names in a tree."))
    assert absent_names(question, PUREPATH + OS, lambda q: named) == []
    other_class = {"pathlib path": CONCRETE, "pathlib path walk": PUREPATH}
    assert absent_names(question, PUREPATH + OS, other_class.__getitem__) == []


def test_a_bare_parent_is_never_convicted_by_the_look_up() -> None:
    """`func.__name__`: an entry `functools.partial.func` found by the look-up is another
    thing of the same name, not the user's `func`."""
    partial = page("functools", ("functools.partial.func", "A callable object or function."))
    hits = page("Built-in Types", ("definition.__name__", "The name of the class or function."))
    assert absent_names("Why is func.__name__ wrong?", hits, lambda q: partial) == []


def test_a_possessive_is_read_as_a_qualifier() -> None:
    from cairn.answer.absent import _worded, as_written

    question = "What arguments does pathlib's Path.walk() take, like shutil's `rmtree()`?"
    assert _worded(question) >= {"pathlib.path.walk", "shutil.rmtree"}
    assert as_written("pathlib.path.walk", question) == "pathlib.Path.walk"
    # A possessive of something that is no name, or of a plain word, qualifies nothing.
    assert _worded("What is the module's docstring for?") == set()
    assert _worded("my script's main function crashes") == set()
