"""What an extractive answer is made of, whatever the question's kind: a described API's
signature, code whose block markers the text lost, never an introduction whose example the
chunk cut off. The real embedding model and a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.answer.extractive import ExtractiveAnswerer, chunk_units
from cairn.answer.kinds import question_kind
from cairn.answer.verify import LexicalVerifier
from cairn.config import AnswerSettings, load_settings
from cairn.embed.minilm import MiniLMEmbedder
from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import make_doc
from cairn.types import Hit

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
