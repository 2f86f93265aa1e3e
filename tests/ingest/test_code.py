"""Source code and notebooks: chunked by definition, qualified names as sections, text kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairn.config import ChunkSettings
from cairn.embed.hashing import WhitespaceTokenizer
from cairn.ingest.chunking import chunk_document
from cairn.ingest.formats.code import identifier_parts, module_name
from cairn.ingest.readers import read_document

PYTHON = '''"""Tools for widgets."""
import os


class WidgetStore:
    """Keeps widgets."""

    limit = 3

    # Load one widget by name.
    @staticmethod
    def load(name):
        """Return the widget called `name`."""
        if not name:
            return None
        return os.path.join("w", name)

    def save(self, widget):
        pass


def make_widget(size):
    # comment kept
    return {"size": size}
'''


def _read(tmp_path: Path, name: str, text: str) -> object:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return read_document(path, text.encode())


def test_python_chunks_are_definitions_with_qualified_names(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    document = _read(tmp_path, "shop/widgets.py", PYTHON)
    assert document.doc_type == "code" and document.metadata == {"language": "python"}
    assert document.title == "shop.widgets"
    by_section = {b.section[-1]: b for b in document.blocks}
    assert set(by_section) == {
        "shop.widgets",
        "shop.widgets.WidgetStore",
        "shop.widgets.WidgetStore.load",
        "shop.widgets.WidgetStore.save",
        "shop.widgets.make_widget",
    }
    load = by_section["shop.widgets.WidgetStore.load"]
    # the comment and decorator above belong to the method; indentation and newlines kept
    assert load.text.startswith("    # Load one widget by name.\n    @staticmethod\n    def load")
    assert '        """Return the widget called `name`."""\n        if not name:' in load.text
    assert load.anchor == "L10" and load.kind == "code"
    assert "# comment kept" in by_section["shop.widgets.make_widget"].text
    # the source is all there, in order
    assert "\n".join(b.text for b in document.blocks).replace("\n", "") == "".join(
        line for line in PYTHON.split("\n")
    )


def test_a_long_function_is_cut_into_pieces_the_chunker_keeps_together(tmp_path: Path) -> None:
    body = "\n\n".join(f"    x{i} = compute({i})\n    total += x{i}" for i in range(80))
    document = _read(tmp_path, "long.py", f"def long_one():\n    total = 0\n{body}\n")
    assert len(document.blocks) > 1
    assert {b.section for b in document.blocks} == {("long.long_one",)}
    _, drafts = chunk_document(document, WhitespaceTokenizer(), ChunkSettings())
    assert all(d.section == ("long.long_one",) for d in drafts)
    assert all("\n" in d.text for d in drafts)


@pytest.mark.parametrize(
    ("name", "source", "language", "sections"),
    [
        (
            "app.ts",
            "export class Cart {\n  add(item: string): void {\n    this.items.push(item);\n  }\n}\n"
            "export const total = (c: Cart) => 0;\ninterface Item { id: number }\n",
            "typescript",
            {"app.Cart", "app.Cart.add", "app.total", "app.Item"},
        ),
        (
            "view.js",
            "function render(node) {\n  return node;\n}\nclass View {\n  draw() {}\n}\n",
            "javascript",
            {"view.render", "view.View", "view.View.draw"},
        ),
        (
            "server.go",
            "package server\n\ntype Server struct{}\n\nfunc (s *Server) Run() error {\n"
            "\treturn nil\n}\n\nfunc New() *Server { return &Server{} }\n",
            "go",
            {"server", "server.Server", "server.Server.Run", "server.New"},
        ),
        (
            "lib.rs",
            "struct Point { x: i32 }\nimpl Point {\n    fn norm(&self) -> i32 { self.x }\n}\n",
            "rust",
            {"lib.Point", "lib.Point.norm"},
        ),
        (
            "Main.java",
            "class Main {\n  Main() {}\n  int run(int x) { return x; }\n}\n",
            "java",
            {"Main.Main", "Main.Main.Main", "Main.Main.run"},
        ),
        (
            "util.c",
            "struct node { int v; };\nint add(int a, int b) { return a + b; }\n",
            "c",
            {"util.node", "util.add"},
        ),
        (
            "geo.cpp",
            "namespace geo {\nclass Shape {\n public:\n  double area() { return 0; }\n};\n"
            "double Shape::scale(double f) { return f; }\n}\n",
            "cpp",
            {"geo.geo", "geo.geo.Shape", "geo.geo.Shape.area", "geo.geo.Shape::scale"},
        ),
        (
            "Repo.cs",
            "namespace Shop {\n  public class Repo {\n"
            "    public int Count() { return 0; }\n  }\n}\n",
            "csharp",
            {"Repo.Shop", "Repo.Shop.Repo", "Repo.Shop.Repo.Count"},
        ),
        (
            "cart.rb",
            "module Shop\n  class Cart\n    def add(item)\n      @items << item\n    end\n"
            "  end\nend\n",
            "ruby",
            {"cart.Shop", "cart.Shop.Cart", "cart.Shop.Cart.add"},
        ),
        (
            "deploy.sh",
            "#!/bin/sh\nset -e\n\nbuild() {\n  make all\n}\nbuild\n",
            "shell",
            {"deploy", "deploy.build"},
        ),
        (
            "schema.sql",
            "CREATE TABLE users (id int);\n\n"
            "SELECT id, name, email FROM users WHERE created > now() - interval '1 day'"
            " ORDER BY id;"
            "\n\n"
            "CREATE VIEW active AS SELECT * FROM users;\n",
            "sql",
            {"schema", "schema.table users", "schema.view active"},
        ),
    ],
)
def test_languages(
    tmp_path: Path, name: str, source: str, language: str, sections: set[str]
) -> None:
    document = _read(tmp_path, name, source)
    assert document.metadata["language"] == language
    assert {b.section[-1] for b in document.blocks} == sections
    assert all(b.kind == "code" for b in document.blocks)


def test_a_tiny_run_joins_the_definition_after_it(tmp_path: Path) -> None:
    source = (
        "import sys\n\nif sys.platform == 'win32':\n    def path_sep():\n        return '\\\\'\n"
        "else:\n    def path_sep():\n        return '/'\n"
    )
    document = _read(tmp_path, "seps.py", source)
    texts = [b.text for b in document.blocks]
    assert "else:\n    def path_sep():\n        return '/'" in texts
    assert all(len(t) > 10 for t in texts)
    assert "\n\n".join(texts).replace("\n\n", "\n") == source.strip("\n").replace("\n\n", "\n")


def test_module_name_follows_python_packages(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        (folder / "__init__.py").write_text("")
    assert module_name(tmp_path / "a" / "b" / "c.py") == "a.b.c"
    assert module_name(tmp_path / "a" / "b" / "__init__.py") == "a.b"
    assert module_name(tmp_path / "loose.py") == "loose"


def test_identifier_parts_split_camel_and_snake_case() -> None:
    assert identifier_parts("getHTTPResponse(raw_decode, x, plain)") == [
        "get",
        "HTTP",
        "Response",
        "raw",
        "decode",
    ]


def test_notebook_cells_keep_code_and_headings(tmp_path: Path) -> None:
    notebook = {
        "nbformat": 4,
        "metadata": {"kernelspec": {"language": "python"}},
        "cells": [
            {"cell_type": "markdown", "source": ["# Sales study\n", "\n", "Intro text."]},
            {"cell_type": "markdown", "source": "## Load"},
            {
                "cell_type": "code",
                "source": ["import pandas as pd\n", "df = pd.read_csv('x')\n", "df.head()"],
                "outputs": [{"output_type": "stream", "name": "stdout", "text": ["3 rows\n"]}],
            },
        ],
    }
    document = _read(tmp_path, "study.ipynb", json.dumps(notebook))
    assert document.doc_type == "notebook" and document.metadata["language"] == "python"
    assert document.title == "Sales study"
    code = [b for b in document.blocks if b.kind == "code"]
    assert code[0].text == "import pandas as pd\ndf = pd.read_csv('x')\ndf.head()"
    assert code[0].section == ("Load",)
    assert code[1].text == "3 rows"


def test_a_broken_notebook_is_reported(tmp_path: Path) -> None:
    from cairn.errors import IngestError

    with pytest.raises(IngestError, match="not a Jupyter notebook"):
        _read(tmp_path, "bad.ipynb", "{not json")


def test_a_code_folder_is_ingested_and_found_by_qualified_name(tmp_path: Path) -> None:
    from cairn.config import Settings
    from cairn.embed.hashing import HashingEmbedder
    from cairn.ingest.pipeline import ingest
    from cairn.store.sqlite import SQLiteStore
    from cairn.types import Filters

    root = tmp_path / "repo"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "widgets.py").write_text(PYTHON)
    (root / "README.md").write_text("# Shop\n\nSells widgets of every size.\n")
    store = SQLiteStore(tmp_path / "ws" / "cairn.db")
    try:
        report = ingest(
            [root],
            store=store,
            embedder=HashingEmbedder(),
            tokenizer=WhitespaceTokenizer(),
            settings=Settings(workspace=tmp_path / "ws"),
        )
        assert report.ingested == 2 and report.failures == []
        hits = store.lexical_search("WidgetStore load", 3, Filters(doc_types=("code",)))
        assert hits and hits[0].chunk.section == ("shop.widgets.WidgetStore.load",)
        assert hits[0].chunk.uri.endswith("shop/widgets.py") and hits[0].chunk.anchor == "L10"
        assert all(h.chunk.source.endswith(".py") for h in hits)
        document = store.get_document(hits[0].chunk.doc_id)
        assert document is not None and document.metadata == {"language": "python"}
    finally:
        store.close()
