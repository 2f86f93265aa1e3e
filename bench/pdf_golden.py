"""The golden set over PDFs: the Python docs printed by Chromium, next to the same HTML files.

Prints every gold document of the golden set plus `--extra` other pages (a fixed, sorted
sample; 0 = none, -1 = all) to PDF with headless Chromium (Playwright's `page.pdf`, with
Chromium's running header and footer and the document outline), ingests the PDFs and the
same HTML files into two fresh workspaces, and runs the golden set on both with `cairn eval
run` (cases rewritten from `x.html` to `x.pdf`, section anchors dropped: this measures
document hits). Prints document hit@5 for both, the share of PDF chunks whose URI carries
`#page=N`, and the print, parse and ingest times.

    nice -n 10 .venv/bin/python bench/pdf_golden.py [--extra 60] [--work bench/.cache/pdfgold]

`--names a,b` (or `--names @file.json`, a JSON list) takes only those pages (`library/functions`)
and only the cases whose gold documents are all among them: a paired check of a few cases
and the documents that compete with them, in minutes instead of the whole corpus's half hour.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

CORPUS = Path("/usr/share/doc/python3.11/html")
SKIP = ("_static/", "_sources/", "_images/", "_downloads/", "genindex", "search.html")


def gold_sources(cases_dir: Path) -> set[str]:
    found: set[str] = set()
    for path in sorted(cases_dir.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()) or []:
            for source in (case.get("gold") or {}).get("sources", []):
                found.add(source["source"])
    return found


def rewrite_cases(cases_dir: Path, out: Path, suffix: str, only: set[str] | None = None) -> None:
    """Cases with gold sources renamed to `suffix`; with `only`, the cases whose gold sources
    are all among those pages (stems), and nothing without gold sources."""
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(cases_dir.glob("*.yaml")):
        cases = yaml.safe_load(path.read_text()) or []
        if only is not None:
            cases = [c for c in cases if _gold_stems(c) and _gold_stems(c) <= only]
        for case in cases:
            for source in (case.get("gold") or {}).get("sources", []):
                source["source"] = str(Path(source["source"]).with_suffix(suffix))
                source.pop("anchor", None)
        (out / path.name).write_text(yaml.safe_dump(cases, sort_keys=False))


def _gold_stems(case: dict[str, Any]) -> set[str]:
    sources = (case.get("gold") or {}).get("sources", [])
    return {str(Path(source["source"]).with_suffix("")) for source in sources}


def named(value: str) -> list[str]:
    """`--names`: page stems, comma-separated or `@file.json` (a JSON list)."""
    if value.startswith("@"):
        names = json.loads(Path(value[1:]).read_text())
    else:
        names = [n.strip() for n in value.split(",") if n.strip()]
    return sorted(f"{n}.html" for n in names)


def select(corpus: Path, gold: set[str], extra: int) -> list[str]:
    pages = sorted(
        str(p.relative_to(corpus))
        for p in corpus.rglob("*.html")
        if not any(s in str(p.relative_to(corpus)) for s in SKIP)
    )
    others = [p for p in pages if p not in gold]
    if extra >= 0:
        step = max(1, len(others) // max(extra, 1))
        others = others[::step][:extra] if extra else []
    return sorted(set(gold) & set(pages)) + others


def print_pdfs(corpus: Path, names: list[str], out: Path) -> tuple[float, int]:
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page()
        for name in names:
            target = (out / name).with_suffix(".pdf")
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            page.goto((corpus / name).as_uri(), wait_until="load")
            page.pdf(path=str(target), format="A4", display_header_footer=True, outline=True)
        browser.close()
    return time.perf_counter() - t0, len(names)


def cairn(*args: str) -> dict[str, object]:
    cmd = [sys.executable, "-m", "cairn", *args, "--json"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
    text = result.stdout
    return dict(json.loads(text[text.index("{") :]))


def doc_hit5(run_file: Path) -> tuple[float, int, float]:
    """Document hit@5, its case count, and the share of citations anchored `#page=N`."""
    data = json.loads(run_file.read_text())
    agg = data["aggregates"]["doc.hit@5"]
    anchors = [
        citation.get("anchor") or ""
        for case in data["cases"]
        for citation in ((case["output"].get("answer") or {}).get("citations") or [])
    ]
    paged = sum(a.startswith("page=") for a in anchors) / len(anchors) if anchors else 0.0
    return float(agg["mean"]), int(agg["n"]), paged


def hits_by_case(run_file: Path) -> dict[str, float]:
    """Each case's document hit@5 (cases with gold sources only)."""
    data = json.loads(run_file.read_text())
    return {
        case["id"]: float(case["scores"]["doc.hit@5"]["value"])
        for case in data["cases"]
        if case["scores"]["doc.hit@5"]["value"] is not None
    }


def split_hit5(run_file: Path) -> dict[str, float | int]:
    """Document hit@5 of the single-turn cases and of the conversation turns apart."""
    data = json.loads(run_file.read_text())
    groups: dict[str, list[float]] = {"single_turn": [], "conversation": []}
    for case in data["cases"]:
        value = case["scores"]["doc.hit@5"]["value"]
        if value is not None:
            kind = "conversation" if case["file"].endswith("conversations.yaml") else "single_turn"
            groups[kind].append(float(value))
    return {
        **{f"{k}_doc_hit@5": round(sum(v) / len(v), 3) for k, v in groups.items() if v},
        **{f"{k}_cases": len(v) for k, v in groups.items()},
    }


def page_anchor_share(workspace: Path) -> tuple[float, int]:
    with sqlite3.connect(workspace / "cairn.db") as conn:
        rows = conn.execute("SELECT anchor FROM chunks").fetchall()
    with_page = sum(1 for (a,) in rows if a and a.startswith("page="))
    return with_page / len(rows) if rows else 0.0, len(rows)


def run_cases(
    cases_dir: Path, work: Path, kind: str, suffix: str, ws: Path, only: set[str] | None
) -> None:
    """The golden cases, rewritten to `suffix` sources, run over `ws` into run-KIND.json."""
    cases = work / f"cases-{kind}"
    shutil.rmtree(cases, ignore_errors=True)
    rewrite_cases(cases_dir, cases, suffix, only)
    run_file = work / f"run-{kind}.json"
    cairn(
        "eval",
        "run",
        "--cases",
        str(cases),
        "-w",
        str(ws),
        "--judge",
        "none",
        "--out",
        str(run_file),
    )


def scores(work: Path, kind: str, ws: Path) -> dict[str, object]:
    run_file = work / f"run-{kind}.json"
    hit, n, cited_pages = doc_hit5(run_file)
    anchors, chunks = page_anchor_share(ws)
    return {
        "workspace": str(ws),
        "doc_hit@5": round(hit, 3),
        **split_hit5(run_file),
        "cases": n,
        "chunks": chunks,
        "page_anchored": round(anchors, 3),
        "citations_with_page": round(cited_pages, 3),
    }


def differences(results: dict[str, object], work: Path) -> None:
    """The cases that hit over one corpus only, when both runs are in `work`."""
    if (work / "run-html.json").exists() and (work / "run-pdf.json").exists():
        html, pdf = hits_by_case(work / "run-html.json"), hits_by_case(work / "run-pdf.json")
        results["hit_over_html_only"] = sorted(c for c in html if html[c] > pdf.get(c, 0.0))
        results["hit_over_pdf_only"] = sorted(c for c in pdf if pdf[c] > html.get(c, 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--cases", type=Path, default=Path("evals/golden"))
    parser.add_argument("--extra", type=int, default=60)
    parser.add_argument("--work", type=Path, default=Path("bench/.cache/pdfgold"))
    parser.add_argument("--json-out", type=Path, default=Path("bench/results/pdf_golden.json"))
    parser.add_argument(
        "--rescore", action="store_true", help="re-read the runs in --work; ingest nothing"
    )
    parser.add_argument(
        "--pdf-only", action="store_true", help="keep the HTML result in --json-out; redo PDF"
    )
    parser.add_argument(
        "--names", default="", help="only these pages (a,b or @list.json) and their cases"
    )
    parser.add_argument(
        "--html-workspace",
        type=Path,
        help="evaluate the HTML side on this workspace of the same pages (e.g. the Quickstart's "
        ".cairn) instead of ingesting them again",
    )
    args = parser.parse_args()
    work: Path = args.work
    if args.rescore:
        results = json.loads(args.json_out.read_text())
        for kind in ("html", "pdf"):
            ws = work / f"ws-{kind}"
            if kind == "html" and args.html_workspace:
                ws = args.html_workspace
                run_cases(args.cases, work, kind, ".html", ws, None)
            results[kind].update(scores(work, kind, ws))
        differences(results, work)
        args.json_out.write_text(json.dumps(results, indent=2, default=str))
        print_table(results, 0)
        return
    if args.names:
        names = named(args.names)
        only: set[str] | None = {str(Path(n).with_suffix("")) for n in names}
    else:
        names = select(args.corpus, gold_sources(args.cases), args.extra)
        only = None
    html_dir, pdf_dir = work / "html", work / "pdf"
    for name in names:
        target = html_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.corpus / name, target)
    print_s, printed = print_pdfs(args.corpus, names, pdf_dir)
    pages = 0
    from pdfplumber import open as open_pdf

    for pdf in pdf_dir.rglob("*.pdf"):
        with open_pdf(pdf) as doc:
            pages += len(doc.pages)
    results: dict[str, object] = {"documents": len(names), "pdf_pages": pages, "print_s": print_s}
    kinds = [("html", html_dir, ".html"), ("pdf", pdf_dir, ".pdf")]
    if args.pdf_only:
        results["html"] = json.loads(args.json_out.read_text())["html"]
        kinds = kinds[1:]
    if args.html_workspace and not args.pdf_only:
        kinds[0] = ("html", None, ".html")
    for kind, folder, suffix in kinds:
        ingest_report: dict[str, object] | None = None
        ingest_s: float | None = None
        if folder is None:
            ws = args.html_workspace
        else:
            ws = work / f"ws-{kind}"
            shutil.rmtree(ws, ignore_errors=True)
            t0 = time.perf_counter()
            ingest_report = cairn("ingest", str(folder), "-w", str(ws))
            ingest_s = round(time.perf_counter() - t0, 1)
        run_cases(args.cases, work, kind, suffix, ws, only)
        results[kind] = {
            "ingest_s": ingest_s,
            "ingest_report": ingest_report,
            **scores(work, kind, ws),
        }
    differences(results, work)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2, default=str))
    print_table(results, printed)


def print_table(results: dict[str, Any], printed: int) -> None:
    print(
        f"documents {results['documents']} (printed now {printed}), "
        f"PDF pages {results['pdf_pages']}, print {results['print_s']:.0f} s"
    )
    print(
        "| corpus | doc hit@5 | single-turn | conversation turns | cases | chunks "
        "| chunks with #page= | cited URIs with #page= | ingest s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in ("html", "pdf"):
        r = results[kind]
        assert isinstance(r, dict)
        print(
            f"| {kind} | {r['doc_hit@5']} | {r.get('single_turn_doc_hit@5', '-')} "
            f"| {r.get('conversation_doc_hit@5', '-')} | {r['cases']} | {r['chunks']} "
            f"| {r['page_anchored']} | {r['citations_with_page']} | {r['ingest_s']} |"
        )
    for side in ("html", "pdf"):
        if f"hit_over_{side}_only" in results:
            print(f"hit over {side} only: {', '.join(results[f'hit_over_{side}_only']) or '-'}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
