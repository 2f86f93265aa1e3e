"""What an extractive answer is made of, whatever the question's kind: a described API's
signature, code whose block markers the text lost, never an introduction whose example the
chunk cut off. The real embedding model and a real SQLite store."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from cairn.answer.composition import release_labels, states_version
from cairn.answer.composition import release_version as release_of
from cairn.answer.extractive import ExtractiveAnswerer
from cairn.answer.kinds import named_modules, question_kind
from cairn.answer.units import chunk_units, entry_title, signature_parameters
from cairn.answer.verify import CitationVerifier, LexicalVerifier
from cairn.config import AnswerSettings, load_settings
from cairn.embed.minilm import MiniLMEmbedder
from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import make_doc
from cairn.types import Chunk, Hit

MATH = [
    "math.sqrt(x)\n\nReturn the square root of x.",
    "math.cbrt(x)\n\nReturn the cube root of x.\n\nNew in version 3.11.",
    "math.exp(x)\n\nReturn e raised to the power x, where e = 2.718281... is the base of "
    "natural logarithms.",
]
CSV = [
    "class csv.DictReader(f, fieldnames=None, restkey=None, restval=None)\n\nCreate an object "
    "that operates like a regular reader but maps the information in each row to a dict whose "
    "keys are given by the optional fieldnames parameter. If the fieldnames parameter is "
    "omitted, the values in the first row of file f will be used as the fieldnames.",
]
VENV = [
    "To create a virtual environment, decide upon a directory where you want to place it, and "
    "run the venv module as a script with the directory path:\n\npython3 -m venv tutorial-env"
    "\n\nThis will create the tutorial-env directory if it doesn't exist.",
]
PATHLIB = [
    "Importing the main class:\n\n>>> from pathlib import Path\n\nListing subdirectories:\n\n"
    ">>> p = Path('.')\n>>> [x for x in p.iterdir() if x.is_dir()]\n[PosixPath('docs')]\n\n"
    "Listing Python source files in this directory tree:",
]


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder(load_settings().model_dir)


@pytest.fixture
def store(tmp_path: Path, embedder: MiniLMEmbedder) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "cairn.db")
    for doc_id, source, paras in (
        ("m", "library/math.html", MATH),
        ("c", "library/csv.html", CSV),
        ("v", "tutorial/venv.html", VENV),
        ("p", "library/pathlib.html", PATHLIB),
    ):
        doc, chunks = make_doc(doc_id, source, paras)
        vectors = embedder.embed([c.text for c in chunks])
        s.write_document(
            doc,
            chunks,
            {c.hash: v for c, v in zip(chunks, vectors, strict=True)},
            model=embedder.name,
        )
    yield s
    s.close()


def answer(store: SQLiteStore, embedder: MiniLMEmbedder, question: str) -> str:
    hits: list[Hit] = store.dense_search(embedder.embed([question])[0], 5, model=embedder.name)
    draft = ExtractiveAnswerer(store, embedder, AnswerSettings()).answer(question, hits)
    assert not draft.abstained, draft.reason
    assert all(c.verified for c in LexicalVerifier().verify(draft, hits).citations)
    return draft.text


def test_a_one_line_command_after_an_introduction_is_code() -> None:
    text = VENV[0]
    units = [(text[s:e], code) for s, e, code in chunk_units(text, commands=True)]
    assert ("python3 -m venv tutorial-env", True) in units
    assert (
        ("python3 -m venv tutorial-env", False)
        in [  # quoting keeps the plain split
            (text[s:e], code) for s, e, code in chunk_units(text)
        ]
    )
    prose = "Use this:\n\nThe module is imported once and kept in sys.modules for every caller"
    assert all(not code for _, _, code in chunk_units(prose, commands=True))


@pytest.mark.parametrize(
    ("question", "signature", "note"),
    [
        ("is there a cube root function in math?", "math.cbrt(x)", "New in version 3.11"),
        (
            "I'd like each CSV row as a dict keyed by the column names",
            "class csv.DictReader(",
            None,
        ),
    ],
)
def test_a_quoted_description_brings_its_signature_whatever_the_kind(
    store: SQLiteStore, embedder: MiniLMEmbedder, question: str, signature: str, note: str | None
) -> None:
    assert question_kind(question) not in ("api", "how-to")
    text = answer(store, embedder, question)
    assert signature in text
    if note is not None:
        assert note in text


def test_an_introduction_brings_its_one_line_command(
    store: SQLiteStore, embedder: MiniLMEmbedder
) -> None:
    text = answer(store, embedder, "How do I create a virtual environment for my project?")
    assert "python3 -m venv tutorial-env" in text
    assert "```\npython3 -m venv tutorial-env\n```" in text


def test_an_introduction_cut_off_from_its_example_is_not_quoted(
    store: SQLiteStore, embedder: MiniLMEmbedder
) -> None:
    text = answer(store, embedder, "How do I list the Python source files in a directory tree?")
    assert "directory tree:" not in text  # the chunk ends before its example


# The rules below are about composition alone: a scorer with fixed scores per unit stands in
# for the trained one, so each test says which unit the scorer preferred.


class FixedScores(ExtractiveAnswerer):
    """The extractive answerer with each unit's score given by the test (-5 by default)."""

    def __init__(self, scores: dict[str, float]) -> None:
        super().__init__(
            None,  # type: ignore[arg-type]  # relevance is passed in; the store is not read
            None,  # type: ignore[arg-type]
            AnswerSettings(abstention="similarity", abstain_threshold=0.0),
        )
        self.scores = scores

    def rescore(self, question: str, units: Sequence[Any], logits: list[float]) -> list[float]:
        return [
            next((v for k, v in self.scores.items() if u.text.startswith(k)), -5.0) for u in units
        ]

    def quote(self, question: str, *chunks: Chunk) -> str:
        hits = [Hit(chunk=c, score=1.0) for c in chunks]
        draft = self.answer_with(question, hits, [0.8] * len(hits))
        assert not draft.abstained, draft.reason
        return draft.text


def entry(cid: str, section: tuple[str, ...], text: str) -> Chunk:
    return Chunk(
        id=cid,
        doc_id=cid,
        ordinal=0,
        text=text,
        section=section,
        anchor=None,
        start=0,
        end=len(text),
        token_count=len(text.split()),
        hash=cid,
        source=f"library/{cid}.html",
        title=cid,
    )


PRINT = entry(
    "functions",
    ("Built-in Functions", "print"),
    "print(*objects, sep=' ', file=None, flush=False)\n\nWhether the output is buffered is "
    "usually determined by file, but if the flush keyword argument is true, the stream is "
    "forcibly flushed.\n\nChanged in version 3.3: Added the flush keyword argument.",
)
TIMEOUT = entry(
    "subprocess",
    ("subprocess", "subprocess.TimeoutExpired"),
    "exception subprocess.TimeoutExpired\n\nRaised when a timeout expires while waiting for a "
    "child process.\n\nChanged in version 3.5: stdout and stderr attributes added",
)


def test_a_version_note_does_not_lead_an_answer_to_another_kind_of_question() -> None:
    answerer = FixedScores({"Changed in version 3.3": 3.0, "Changed in version 3.5": 2.8})
    answerer.scores["Whether the output"] = 2.5
    question = "my print() output only reaches the file at the very end, how do I push it out?"
    assert question_kind(question) != "version"
    text = answerer.quote(question, PRINT, TIMEOUT)
    # The entry's description leads (after the signature it describes); its own note may
    # follow it; a note on an entry the answer does not quote is left out.
    assert text.index("forcibly flushed") < text.index("Changed in version 3.3")
    assert text.startswith("print(*objects")
    assert "Changed in version 3.5" not in text and "TimeoutExpired" not in text


def test_a_version_note_answers_a_version_question() -> None:
    answerer = FixedScores({"Changed in version 3.3": 3.0, "Whether the output": 0.0})
    question = "In which version was the flush argument added to print?"
    assert question_kind(question) == "version"
    text = answerer.quote(question, PRINT)
    assert "Changed in version 3.3: Added the flush keyword argument. [1]" in text
    assert "forcibly flushed" not in text


IDENTITY = entry(
    "programming",
    ("Objects", "When can I rely on identity tests with the is operator?"),
    "In most other circumstances, identity tests are inadvisable and equality tests are "
    "preferred. In particular, identity tests should not be used to check constants such as "
    "int and str which aren't guaranteed to be singletons:\n\n>>> a = 1000\n>>> b = 500\n"
    ">>> c = b + 500\n>>> a is c\nFalse",
)


def test_a_quoted_example_brings_the_sentence_that_introduces_it() -> None:
    text = FixedScores({">>> a = 1000": 3.0}).quote("why is `a is c` False for 1000?", IDENTITY)
    assert "aren't guaranteed to be singletons:" in text
    assert text.index("singletons:") < text.index(">>> a = 1000")
    assert "In most other circumstances" not in text  # the introduction only


DICT_OR = entry(
    "stdtypes",
    ("Mapping Types — dict", "d | other"),
    "d | other\n\nCreate a new dictionary with the merged keys and values of d and other, "
    "which must both be dictionaries. The values of other take priority when d and other "
    "share keys.\n\nNew in version 3.9.",
)
MERGING = entry(
    "tutorial",
    ("Data Structures", "Merging"),
    "Merging\n\nThe values of the right operand win when both dictionaries share keys.",
)


def test_an_entry_without_a_signature_is_named_by_its_title() -> None:
    scores = {"The values of other": 3.0, "Create a new": 2.0}
    text = FixedScores(scores).quote(
        "if two dicts share a key, whose value wins in a merge?", DICT_OR
    )
    assert text.startswith("d | other [1]")
    assert "New in version 3.9." in text
    # A first paragraph that is not the chunk's own (last) heading names no entry.
    plain = dataclasses.replace(MERGING, section=("Data Structures", "Dictionaries"))
    text = FixedScores({"The values of the right": 3.0}).quote("whose value wins?", plain)
    assert not text.startswith("Merging")


CACHED = entry(
    "functools",
    ("functools", "functools.cached_property"),
    "The cached_property decorator only runs on lookups. Subsequent attribute reads and "
    "writes take precedence over the cached_property method.\n\nThe cached value can be "
    "cleared by deleting the attribute. This allows the cached_property method to run "
    "again.\n\nIt is possible to stack it with other decorators. It is recommended to use "
    "it on immutable instances.",
)


def test_a_sentence_that_points_back_brings_the_one_it_points_to() -> None:
    question = "how do I make a cached_property recompute?"
    text = FixedScores({"This allows": 3.0}).quote(question, CACHED)
    assert text.startswith("The cached value can be cleared by deleting the attribute. [1]")
    assert "This allows the cached_property method to run again. [1]" in text
    # Only within its paragraph: the sentence before the blank line is not brought.
    assert "Subsequent attribute reads" not in text


def test_it_is_possible_points_at_nothing() -> None:
    text = FixedScores({"It is recommended": 3.0}).quote("should I use it?", CACHED)
    assert "It is possible" not in text


DICT = entry(
    "stdtypes",
    ("Mapping Types — dict", "dict"),
    "Dictionaries compare equal if and only if they have the same (key, value) pairs.\n\n"
    "Dictionaries preserve insertion order. Note that updating a key does not affect the "
    "order. Keys added after deletion are inserted at the end.",
)


def test_a_sentence_opening_with_a_connective_brings_the_one_it_leans_on() -> None:
    text = FixedScores({"Note that": 3.0}).quote("does updating a key move it?", DICT)
    assert "Dictionaries preserve insertion order. [1] Note that updating a key" in text
    assert "compare equal" not in text


def release(version: str, text: str) -> Chunk:
    chunk = entry(f"whatsnew-{version}", ("Other Language Changes",), text)
    return dataclasses.replace(chunk, title=f"What’s New in Python {version}")


def test_a_version_question_is_not_answered_from_another_versions_release_notes() -> None:
    old = release("2.7", "The regrtest.py script now takes a --randseed= switch.")
    new = release(
        "3.11", "The -P option and PYTHONSAFEPATH stop the script's directory being added."
    )
    answerer = FixedScores({"The regrtest": 3.0, "The -P option": 2.0})
    text = answerer.quote(
        "did 3.11 add a switch to keep my script's folder off sys.path?", old, new
    )
    assert text.startswith("The -P option") and "regrtest" not in text
    # Without a version in the question, every release's notes are evidence.
    text = answerer.quote("is there a switch to keep my script's folder off sys.path?", old, new)
    assert "regrtest" in text


def test_a_credit_line_is_not_quoted_when_something_answers() -> None:
    notes = release(
        "3.11",
        "PEP 594 led to the deprecations of modules slated for removal in Python 3.13.\n\n"
        "(Contributed by Brett Cannon in bpo-47061.)",
    )
    text = FixedScores({"(Contributed": 3.0, "PEP 594": 2.5}).quote("are cgi going away?", notes)
    assert "PEP 594 led" in text and "Contributed by" not in text


class WordScores(FixedScores):
    """Each unit scored by how many of the question's words (four letters or more) it holds."""

    def rescore(self, question: str, units: Sequence[Any], logits: list[float]) -> list[float]:
        words = {w for w in question.lower().replace("?", " ").split() if len(w) >= 4}
        return [float(sum(w in u.text.lower() for w in words)) for u in units]


LISTS = entry(
    "datastructures",
    ("More on Lists", "list.reverse"),
    "Reverse the elements of the list in place, inside the list object.",
)
REVERSED = entry(
    "functions",
    ("Built-in Functions", "reversed"),
    "To loop over a sequence backwards, first specify the sequence, then call reversed().",
)


def test_each_part_of_a_question_that_asks_several_things_is_answered() -> None:
    answerer = WordScores({})
    answerer.settings = AnswerSettings(
        abstention="similarity", abstain_threshold=0.0, sentence_margin=0.5
    )
    one = "How do I reverse the elements of a list in place, inside the list?"
    assert "backwards" not in answerer.quote(one, LISTS, REVERSED)
    both = f"{one} And how do I loop over a sequence backwards?"
    text = answerer.quote(both, LISTS, REVERSED)
    assert "Reverse the elements of the list in place" in text
    assert "To loop over a sequence backwards" in text


DESCRIPTOR = entry(
    "descriptor",
    ("Technical Tutorial", "Definition and introduction"),
    "In general, a descriptor is an attribute value that has one of the methods in the "
    "descriptor protocol. Those methods are __get__(), __set__(), and __delete__(). If any of "
    "those methods are defined for an attribute, it is said to be a descriptor.",
)
LOGGING = entry(
    "logging",
    ("Basic Logging Tutorial", "Changing the format of displayed messages"),
    "To change the format which is used to display messages, you need to specify the format "
    "you want to use:\n\nimport logging\nlogging.basicConfig(format='%(message)s', "
    "level=logging.DEBUG)\nlogging.debug('This message should appear on the console')\n\n"
    "which would print:\n\nThis message should appear on the console",
)


def test_a_sentence_left_out_between_two_quoted_ones_is_quoted() -> None:
    answerer = FixedScores({"In general": 3.0, "If any of": 2.5})
    text = answerer.quote("what is a descriptor?", DESCRIPTOR)
    assert "Those methods are __get__(), __set__(), and __delete__()." in text


def test_a_continuation_after_code_brings_the_code_and_its_introduction() -> None:
    text = FixedScores({"which would print": 3.0}).quote("how do I log debug messages?", LOGGING)
    assert "To change the format" in text
    assert "logging.basicConfig(format='%(message)s', level=logging.DEBUG)" in text
    assert text.index("To change") < text.index("basicConfig") < text.index("which would")


CACHE = entry(
    "functools-cache",
    ("functools", "functools.cache"),
    "@functools.cache(user_function)\n\nSimple lightweight unbounded function cache. Sometimes "
    "called memoize.\n\nReturns the same as lru_cache(maxsize=None).",
)
LRU = entry(
    "functools-lru",
    ("functools", "functools.lru_cache"),
    "The cache's size limit assures that the cache does not grow without bound on "
    "long-running processes such as web servers.",
)
FIXER = entry(
    "2to3",
    ("2to3", "Fixers", "print"),
    "print\n\nConverts the print statement to the print() function.",
)


def test_an_entry_the_question_names_is_quoted_with_its_signature() -> None:
    answerer = FixedScores({"The cache's size limit": 3.0})
    text = answerer.quote("is functools.cache just lru_cache without the size limit?", LRU, CACHE)
    assert (
        "@functools.cache(user_function) [2] Simple lightweight unbounded function cache." in text
    )
    assert "Returns the same" not in text  # the first description sentence only
    # A bare name (`print()`) picks entries with a call signature, not a fixer named "print".
    text = FixedScores({"The cache's size": 3.0}).quote("what does print() do?", LRU, FIXER)
    assert "Converts the print statement" not in text


TOML = entry(
    "tomllib",
    ("tomllib", "Examples"),
    "Parsing a TOML file:\n\nimport tomllib\n\nwith open('pyproject.toml', 'rb') as f:\n"
    "    data = tomllib.load(f)\n\nParsing a TOML string:\n\ntoml_str = 'a = 1'",
)


def test_an_example_of_several_code_blocks_is_quoted_whole_with_its_introduction() -> None:
    text = FixedScores({"with open": 3.0}).quote("how do I read pyproject.toml?", TOML)
    assert text.index("Parsing a TOML file:") < text.index("import tomllib") < text.index("with")
    assert "Parsing a TOML string" not in text
    text = FixedScores({"Parsing a TOML file": 3.0}).quote("how do I read a TOML file?", TOML)
    assert "import tomllib" in text and "tomllib.load(f)" in text


@pytest.mark.parametrize(
    ("text", "heading", "titled"),
    [
        ("math.sqrt(x)", "math.sqrt", True),
        ("awaitable asyncio.gather(*aws, return_exceptions=False)", "asyncio.gather", True),
        # A method titled by its class, or by its name alone, under a qualified heading.
        ("Unpacker.unpack_farray(n, unpack_item)", "xdrlib.Unpacker.unpack_farray", True),
        ("decode(s)", "json.JSONDecoder.decode", True),
        ("maxDiff", "unittest.TestCase.maxDiff", True),
        # Another name's signature, a sentence, or a mere mention is no title.
        ("Unpacker.unpack_array(unpack_item)", "xdrlib.Unpacker.unpack_farray", False),
        ("raw_decode(s)", "json.JSONDecoder.decode", False),
        ("Call decode(s) to parse it.", "json.JSONDecoder.decode", False),
        (">>> list(zip(range(3), ['fee', 'fi']))\n[(0, 'fee'), (1, 'fi')]", "zip", False),
        ("Dictionaries", "Data Structures", False),
    ],
)
def test_an_entry_is_titled_by_any_qualified_tail_of_its_heading(
    text: str, heading: str, titled: bool
) -> None:
    assert entry_title(text, heading) is titled


FARRAY = entry(
    "farray",
    ("Unpacker Objects", "xdrlib.Unpacker.unpack_farray"),
    "Unpacker.unpack_farray(n, unpack_item)\n\nUnpacks and returns (as a list) a fixed length "
    "array of homogeneous items.",
)
ARRAY = entry(
    "array",
    ("Unpacker Objects", "xdrlib.Unpacker.unpack_array"),
    "Unpacker.unpack_array(unpack_item)\n\nUnpacks and returns a variable length list of "
    "homogeneous items.",
)


def test_the_entry_a_question_names_is_quoted_though_a_sibling_scores_higher() -> None:
    """The documentation titles methods `Class.method(...)` under fully qualified headings:
    the entry asked about is recognised, and its signature and description are quoted."""
    answerer = FixedScores({"Unpacks and returns a variable": 3.0, "Unpacker.unpack_array": 2.9})
    text = answerer.quote("What does Unpacker.unpack_farray() return?", ARRAY, FARRAY)
    assert "Unpacker.unpack_farray(n, unpack_item)" in text
    assert "fixed length array" in text


def page_opening(cid: str, title: str, text: str) -> Chunk:
    return dataclasses.replace(entry(cid, (), text), title=title)


PWD = page_opening(
    "pwd",
    "pwd — The password database",
    "Source code: Lib/pwd.py\n\nThis module provides access to the Unix user account and "
    "password database. It is available on all Unix versions.\n\nPassword database entries "
    "are reported as a tuple-like object.",
)
GRP_SEE_ALSO = entry(
    "grp",
    ("grp", "See also"),
    "See also: Module pwd: An interface to the user database, similar to this.",
)


PWD_SEE_ALSO = dataclasses.replace(
    page_opening(
        "pwd-end",
        "pwd — The password database",
        "See also: Module grp: An interface to the group database.\n\nModule spwd: An "
        "interface to the shadow password database, similar to this.",
    ),
    ordinal=3,
)


def test_the_module_a_question_names_is_described_first_by_its_page() -> None:
    answerer = FixedScores({"See also: Module pwd": 3.0, "Password database entries": 2.5})
    text = answerer.quote("What is the pwd module for?", GRP_SEE_ALSO, PWD)
    assert text.startswith("This module provides access to the Unix user account")
    # The page's closing "See also", also before any heading, is not its opening.
    entries = entry(
        "pwd-entries",
        ("pwd", "Password database entries"),
        "Password database entries are reported as a tuple-like object.",
    )
    text = answerer.quote("What is the pwd module for?", entries, PWD_SEE_ALSO)
    assert text.startswith("Password database entries") and "Module spwd" not in text
    # Not named as a module: the page's opening is not brought in.
    text = answerer.quote("What are password database entries like?", GRP_SEE_ALSO, PWD)
    assert "This module provides access" not in text


@pytest.mark.parametrize(
    ("question", "modules"),
    [
        ("What is the pwd module for?", {"pwd"}),
        ("When should I use `glob`?", {"glob"}),
        ("What does the email.utils module do?", {"email.utils"}),
        ("the json module vs the pickle module", {"json", "pickle"}),
        ("Is the standard library module threading safe?", {"threading"}),
        # A call names a function; "a module for" names nothing.
        ("I copied a list with .copy(): why is it shallow?", set()),
        ("Is there a module for this?", set()),
    ],
)
def test_named_modules(question: str, modules: set[str]) -> None:
    assert named_modules(question) == modules


def test_release_notes_name_their_version() -> None:
    assert release_of("What’s New In Python 3.10") == "3.10"
    assert release_of("Changelog 1.3") == "1.3"
    assert release_of("pwd — The password database") is None
    assert release_of("What’s New in Python") is None  # the index of every release
    assert states_version("Changed in version 3.10: ...", "3.10")
    assert not states_version("Python 3.10.1 fixed it", "3.10")
    assert not states_version("version 13.10", "3.10")


def test_a_version_question_answered_from_release_notes_says_which_release() -> None:
    pep = release("3.6", "PEP 487 extends the descriptor protocol to include __set_name__().")
    more = dataclasses.replace(
        release("3.6", "The new method is called on every descriptor of a new class."),
        id="whatsnew-3.6-b",
        hash="whatsnew-3.6-b",
    )
    answerer = FixedScores({"PEP 487": 3.0, "The new method": 2.9})
    question = "Which Python version introduced __set_name__ for descriptors?"
    assert question_kind(question) == "version"
    text = answerer.quote(question, pep, more)
    # The first quote from the release's notes names the release; once is enough.
    assert text.startswith("What’s New in Python 3.6: PEP 487 extends")
    assert text.count("What’s New in Python 3.6") == 1
    assert "The new method is called" in text
    # Not for another kind of question, nor when the question or a quote names the version.
    assert "What’s New" not in answerer.quote("What does __set_name__ do?", pep, more)
    assert "What’s New" not in answerer.quote("Did 3.6 add __set_name__ to Python?", pep, more)
    noted = release("3.6", "PEP 487: __set_name__ is new in version 3.6 of Python.")
    assert "What’s New" not in answerer.quote(question, noted)


def test_a_labelled_quote_is_verified_as_quoted(embedder: MiniLMEmbedder) -> None:
    pep = release("3.6", "PEP 487 extends the descriptor protocol to include __set_name__().")
    hits = [Hit(chunk=pep, score=1.0)]
    question = "Which Python version introduced __set_name__ for descriptors?"
    assert release_labels(question, "version", [(0, pep.text)], hits) == {
        0: "What’s New in Python 3.6"
    }
    draft = FixedScores({"PEP 487": 3.0}).answer_with(question, hits, [0.8])
    assert draft.text.startswith("What’s New in Python 3.6: PEP 487")
    checked = CitationVerifier(embedder).verify(draft, hits)
    assert [c.verified for c in checked.citations] == [True]


def test_a_version_question_gets_the_named_entrys_new_in_version_note() -> None:
    first = entry(
        "os-direntry",
        ("Files and Directories", "os.DirEntry"),
        "class os.DirEntry\n\nObject yielded by scandir() to expose the file path and other "
        "file attributes of a directory entry.\n\nChanged in version 3.6: Added support for "
        "the PathLike interface.",
    )
    later = entry(
        "os-direntry-2",
        ("Files and Directories", "os.DirEntry"),
        "Note that there is a nice correspondence between several attributes and methods of "
        "os.DirEntry and of pathlib.Path.\n\nNew in version 3.5.",
    )
    answerer = FixedScores({"Changed in version 3.6": 3.0, "class os.DirEntry": 2.0})
    question = "Which Python version added os.DirEntry?"
    assert question_kind(question) == "version"
    text = answerer.quote(question, first, later)
    # Another note scores higher; the one saying when the entry came is quoted too, first.
    assert "Changed in version 3.6" in text and text.startswith("New in version 3.5. [1]")
    # Asked about a change rather than when it came, the note is quoted in its place.
    text = answerer.quote("What changed for os.DirEntry in version 3.6?", first, later)
    assert "New in version 3.5." in text and not text.startswith("New in version")
    # Not for an entry the question does not name, nor for another kind of question.
    assert "New in version 3.5" not in answerer.quote(
        "Which version added `scandir` to os?", first, later
    )
    assert "New in version 3.5" not in answerer.quote("What is os.DirEntry?", first, later)


def test_the_lead_margin_quotes_more_of_the_best_chunk_only() -> None:
    first = entry(
        "lead",
        ("Files", "Reading"),
        "Files are read with open(). The mode 'rb' reads bytes. A text file decodes them.",
    )
    other = entry("other", ("Files", "Writing"), "Files are written with write().")
    answerer = FixedScores({"Files are read": 3.0, "The mode": 0.5, "Files are written": 0.5})
    question = "How are files read and written?"
    assert "The mode" not in answerer.quote(question, first, other)
    answerer.settings = answerer.settings.model_copy(update={"lead_margin": 4.0})
    text = answerer.quote(question, first, other)
    # The best sentence's own chunk is quoted within the wider margin; others are not.
    assert "The mode 'rb' reads bytes." in text and "written" not in text


def test_signature_parameters() -> None:
    assert signature_parameters("json.dumps(obj, *, skipkeys=False, indent=None, **kw)") == [
        "obj",
        "skipkeys",
        "indent",
        "kw",
    ]
    assert signature_parameters("print(*objects, sep=' ', end='\\n')") == ["objects", "sep", "end"]
    assert signature_parameters("Condition([lock])") == ["lock"]
    assert signature_parameters("method(self, x, key=None)") == ["key"]  # no self, no x
    assert signature_parameters("Return the cube root of x.") == []


DUMPS = entry(
    "json",
    ("Basic Usage", "json.dumps"),
    "json.dumps(obj, *, skipkeys=False, indent=None, sort_keys=False)\n\nSerialize obj to a "
    "JSON formatted str.\n\nIf skipkeys is true, dict keys that are not of a basic type are "
    "skipped.\n\nIf indent is a non-negative integer or string, then JSON array elements and "
    "object members will be pretty-printed with that indent level.",
)


def test_a_parameter_the_question_names_brings_the_sentence_about_it() -> None:
    answerer = FixedScores({"json.dumps(": 3.0, "Serialize obj": 2.9, "If skipkeys": 2.8})
    text = answerer.quote("What does the indent argument of json.dumps do?", DUMPS)
    assert "pretty-printed with that indent level. [1]" in text
    # A parameter the question does not name is not brought; a word that is no parameter
    # of the entry ("level") brings nothing.
    text = answerer.quote("What does json.dumps do with a level?", DUMPS)
    assert "pretty-printed" not in text


def test_a_release_label_before_code_stands_on_its_own_line() -> None:
    notes = release("3.10", "Pattern matching:\n\n>>> match command.split():\n...     case [x]:")
    answerer = FixedScores({">>> match": 3.0, "Pattern matching": 2.9})
    text = answerer.quote("Which version added match statements?", notes)
    assert text.startswith("What’s New in Python 3.10: Pattern matching: [1]")
    code_first = release("3.10", ">>> match command.split():\n...     case [x]:")
    text = answerer.quote("Which version added match statements?", code_first)
    assert text.startswith("What’s New in Python 3.10:\n```\n>>> match")
