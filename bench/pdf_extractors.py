"""PDF extraction: exact recovery on fixtures with known truth, and speed, old reader vs new.

"old" is the pypdf reader cairn shipped before (text per page, a short line ends a
paragraph, no tables), loaded from git (`--old-rev`); "new" is `cairn.ingest.formats.pdf`
(pdfplumber, layout paragraphs, ruled tables). Both read the same PDFs in one run.

- Recovery: per fixture of tests/ingest/pdf_truth.py, the share of true paragraphs found
  exactly as one block, the share of table body cells found under their column header in
  their row (Markdown tables) and how many tables came out for how many true ones, and the
  share of code blocks found exactly (lines, blank lines, indentation).
- Speed: a 100-page PDF (fpdf2, paragraphs plus a table on every page): parse ms per page
  for both readers, next to the embedding time per page of the new reader's chunks with the
  workspace's embedding model.

    nice -n 10 .venv/bin/python bench/pdf_extractors.py [--pages 100] [--old-rev HEAD~3]

`--recovery-only` prints the fixture table alone; run it with `PYTHONPATH=OTHER/src` to score
another checkout's reader as "new" on this checkout's fixtures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "ingest"))

import pdf_truth as truth  # noqa: E402

from cairn.ingest.formats import pdf as new_reader  # noqa: E402


def old_reader(rev: str) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{rev}:src/cairn/ingest/formats/pdf.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_pdf.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_pdf", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Pdfium:
    """pypdfium2's text per page, cut into paragraphs by the old reader's line-width rule."""

    def __init__(self, old: ModuleType) -> None:
        self._paragraphs = old.paragraphs

    def read(self, path: Path, data: bytes) -> Any:
        import pypdfium2

        from cairn.types import Block, ParsedDocument

        pdf = pypdfium2.PdfDocument(data, password="")
        found = []
        for number in range(len(pdf)):
            text = pdf[number].get_textpage().get_text_range().replace("\r\n", "\n")
            found.extend(
                Block(kind="text", text=p, page=number + 1) for p in self._paragraphs(text)
            )
        pdf.close()
        return ParsedDocument(title=path.stem, blocks=tuple(found), doc_type="pdf")


def blocks(reader: Any, data: bytes) -> list[str] | str:
    try:
        doc = reader.read(Path("fixture.pdf"), data)
    except Exception as exc:  # reported in the table: the reader failed on this fixture
        return f"error: {exc}"[:60]
    return [b.text for b in doc.blocks]


def long_pdf(pages: int) -> bytes:
    import fpdf

    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=10)
    for _ in range(pages):
        pdf.add_page()
        for text in truth.PARAGRAPHS[:3]:
            pdf.multi_cell(0, 4.5, text)
            pdf.ln(3)
        with pdf.table(col_widths=(50, 25, 25, 50)) as table:
            for row in truth.TABLE:
                r = table.row()
                for cell in row:
                    r.cell(cell)
    return bytes(pdf.output())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--old-rev", default="d37c2d2")
    parser.add_argument("--json-out", type=Path, default=ROOT / "bench/results/pdf_extract.json")
    parser.add_argument(
        "--recovery-only", action="store_true", help="fixtures only: no speed run, no JSON"
    )
    args = parser.parse_args()
    old = old_reader(args.old_rev)
    readers: dict[str, Any] = {
        "old (pypdf)": old,
        "pypdfium2 + old paragraphs": Pdfium(old),
        "new (pdfplumber)": new_reader,
    }
    rows = []
    for make in truth.FIXTURES:
        fixture = make()
        row: dict[str, object] = {"fixture": fixture.name}
        for name, reader in readers.items():
            got = blocks(reader, fixture.data)
            if isinstance(got, str):
                row[name] = got
                continue
            para = truth.paragraph_recall(fixture.paragraphs, got)
            text = f"{para:.2f}"
            if fixture.tables:
                cells = truth.cell_recall(fixture.tables, got)
                found = len(truth.markdown_tables(got))
                text += f" / cells {cells:.2f} / tables {found} of {len(fixture.tables)}"
            if fixture.code:
                text += f" / code {truth.code_recall(fixture.code, got):.2f}"
            row[name] = text
        rows.append(row)
    print("Exact recovery (paragraphs; table cells with their row and column header):\n")
    print("| fixture | " + " | ".join(readers) + " |")
    print("|---" * (len(readers) + 1) + "|")
    for row in rows:
        print(f"| {row['fixture']} | " + " | ".join(str(row[n]) for n in readers) + " |")

    if args.recovery_only:
        return
    data = long_pdf(args.pages)
    speed: dict[str, float] = {}
    for name, reader in readers.items():
        t0 = time.perf_counter()
        doc = reader.read(Path("long.pdf"), data)
        speed[name] = (time.perf_counter() - t0) / args.pages * 1000
        if reader is new_reader:
            new_doc = doc
    from cairn.config import load_settings
    from cairn.ingest.chunking import chunk_document
    from cairn.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(load_settings(workspace=Path(tmp)), create=True)
        embedder = ws.embedder
        embedder.warm_up()
        t0 = time.perf_counter()
        _text, drafts = chunk_document(new_doc, embedder.tokenizer, ws.settings.chunk)
        chunk_ms = (time.perf_counter() - t0) / args.pages * 1000
        t0 = time.perf_counter()
        embedder.embed([d.text for d in drafts])
        embed_ms = (time.perf_counter() - t0) / args.pages * 1000
    print(
        f"\n{args.pages}-page PDF ({len(data) // 1024} KiB, {len(drafts)} chunks), ms per page:\n"
    )
    print("| step | ms/page |")
    print("|---|---|")
    for name, ms in speed.items():
        print(f"| parse, {name} | {ms:.1f} |")
    print(f"| chunk (new) | {chunk_ms:.1f} |")
    print(f"| embed (new's chunks) | {embed_ms:.1f} |")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(
        json.dumps(
            {
                "recovery": rows,
                "parse_ms_per_page": speed,
                "chunk_ms": chunk_ms,
                "embed_ms": embed_ms,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
