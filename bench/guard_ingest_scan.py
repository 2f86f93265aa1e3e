"""Poisoned documents through the real ingest: bipia test contexts ingested as files, every
chunk scanned at ingest (`guard.ingest = flag`), the stored flags read back from the store.

    nice -n 10 .venv/bin/python bench/guard_ingest_scan.py --datasets ../shared/datasets

Each bipia test context (email, table, code: 200) is written once clean and `--per-context`
times with a held-out bipia test attack planted at its start, end or a line break (seeded);
all are ingested by `cairn.ingest.pipeline.ingest` with cairn's chunker (MiniLM tokenizer,
default `chunk.*`). Embeddings do not enter the scan, so a hashing embedder stands in for
MiniLM to keep the run short. A chunk is *injected* when it
holds at least 8 consecutive words of the planted attack (all of it, if shorter), *clean*
when it belongs to a clean document; chunks holding only a shorter fragment of the attack
are counted apart. Printed:
the share flagged as stored at ingest, for the rules-only detector, the full one (rules + the
classifier), and with `--peer` the full one with other weights (the previous ones), all in
the same run, by context kind and attack category; the same for chunks of benign corpora; the
ingest time with and without the scan; and the scan's milliseconds per chunk against MiniLM
(int8) embedding the same chunks in batches, as ingest does.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import guard_data as g
from cairn.config import Settings
from cairn.embed.hashing import HashingEmbedder
from cairn.embed.minilm import MiniLMEmbedder, MiniLMTokenizer, minilm_model_dir
from cairn.guard.context import InjectionContextGuard
from cairn.guard.detector import InjectionDetector
from cairn.ingest.chunking import content_hash
from cairn.ingest.pipeline import ingest
from cairn.store.open import open_store_at
from cairn.types import Chunk, Hit, Risk
from guard_injection import fmt, timings
from metrics import percentile

SEED = 7
holds_attack = g.holds_attack


def write_corpus(
    root: Path, datasets: Path, per_context: int, split: str = "test"
) -> dict[str, tuple[str, str, str]]:
    """Files under `root`; returns {file name: (context kind, attack category, attack)} for
    poisoned files (clean files are named `clean-*`)."""
    rng = random.Random(SEED)
    attacks = g.bipia_attacks(datasets, split)
    categories = g.bipia_categories(datasets, split)
    planted: dict[str, tuple[str, str, str]] = {}
    contexts = g.bipia_contexts(datasets, split)
    if split == "train":  # the calibration buckets only: 0-7 are the chunk head's negatives
        contexts = [(k, c) for k, c in contexts if g.bucket(c) >= 8]
    for i, (kind, context) in enumerate(contexts):
        (root / f"clean-{kind}-{i:03d}.txt").write_text(context, encoding="utf-8")
        pool = attacks["code" if kind == "code" else "text"]
        for j, attack in enumerate(rng.sample(pool, per_context)):
            name = f"poisoned-{kind}-{i:03d}-{j}.txt"
            (root / name).write_text(g.plant(context, attack, rng).text, encoding="utf-8")
            planted[name] = (kind, categories[attack], attack)
    return planted


def run(
    corpus: Path, work: Path, scanner: Callable[[str], Risk] | None, policy: str
) -> tuple[list[tuple[str, str, bool]], float]:
    """Ingest `corpus` into a fresh store under `guard.ingest = policy`; (file, chunk text,
    stored flag) per chunk, and the seconds ingest took."""
    settings = Settings(workspace=work, guard={"ingest": policy})
    store = open_store_at(work / "cairn.db")
    started = time.perf_counter()
    ingest(
        [corpus],
        store=store,
        embedder=HashingEmbedder(dim=64),
        tokenizer=MiniLMTokenizer(minilm_model_dir()),
        settings=settings,
        scanner=scanner,
    )
    seconds = time.perf_counter() - started
    rows = []
    for info in store.documents():
        for chunk in store.document_chunks(info.id):
            flagged = chunk.risk is not None and chunk.risk.flagged
            rows.append((info.source, chunk.text, flagged))
    store.close()
    return rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--per-context", type=int, default=3)
    parser.add_argument("--model", type=Path, default=None, help="weights (default: shipped)")
    parser.add_argument(
        "--split", default="test", help="bipia split: test (held out) or train (for tuning)"
    )
    parser.add_argument(
        "--peer", type=Path, default=None, help="other weights to compare in the same run"
    )
    parser.add_argument(
        "--pydocs",
        type=Path,
        default=Path("/usr/share/doc/python3.11/html"),
        help="the Python HTML docs (the golden corpus); skipped if absent",
    )
    parser.add_argument(
        "--onnx-dir", type=Path, default=Path.home() / ".cache" / "cairn" / "models"
    )
    args = parser.parse_args()
    minilm = MiniLMEmbedder(args.onnx_dir, precision="int8")
    full = InjectionDetector.load(args.model)
    rules = InjectionDetector(classifier=None)
    scanners = {"rules only": rules, FULL: full}
    if args.peer is not None:
        scanners[PEER] = InjectionDetector.load(args.peer)
    names = tuple(scanners)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        planted = write_corpus(corpus, args.datasets, args.per_context, args.split)
        results = {}
        runs: list[tuple[str, Callable[[str], Risk] | None, str]] = [("no scan", None, "off")]
        runs.extend(
            (name, lambda t, d=d: d.scan(t, "chunk"), "flag") for name, d in scanners.items()
        )
        for name, scanner, policy in runs:
            work = Path(tmp) / name.replace(" ", "-")
            work.mkdir()
            results[name] = run(corpus, work, scanner, policy)
    base = results[FULL][0]
    labels: list[tuple[str, bool | None]] = []
    for source, text, _ in base:
        if source in planted:
            kind, category, attack = planted[source]
            labels.append((f"{kind}|{category}", holds_attack(text, attack)))
        else:
            labels.append(("clean", False))
    clean_files = sum(1 for name in planted if name.endswith("-0.txt"))
    print(f"bipia {args.split}: {len(planted)} poisoned + {clean_files} clean files")
    print()
    print(f"| chunks | n | {' | '.join(names)} |")
    print("|---|---|" + "---|" * len(names))
    for title, want in (
        ("injected (holds the attack): flagged", lambda key, lab: lab is True),
        ("clean documents: flagged", lambda key, lab: key == "clean"),
        (
            "poisoned documents, attack-free chunks: flagged",
            lambda key, lab: lab is False and key != "clean",
        ),
        ("holding a fragment only: flagged", lambda key, lab: lab is None),
    ):
        cells = []
        n = 0
        for name in names:
            flags = [
                row[2]
                for row, (key, lab) in zip(results[name][0], labels, strict=True)
                if want(key, lab)
            ]
            n = len(flags)
            cells.append(fmt(flags) if flags else "-")
        print(f"| {title} | {n} | {' | '.join(cells)} |")
    print()
    print(f"| injected chunks by group | n | flagged ({FULL}) |")
    print("|---|---|---|")
    groups: dict[str, list[bool]] = {}
    for row, (key, lab) in zip(base, labels, strict=True):
        if lab is True:
            kind, category = key.split("|")
            groups.setdefault(f"context: {kind}", []).append(row[2])
            groups.setdefault(f"attack: {category}", []).append(row[2])
    for name, flags in sorted(groups.items()):
        print(f"| {name} | {len(flags)} | {fmt(flags)} |")
    print()
    print("| ingest | chunks | seconds | ratio to no scan |")
    print("|---|---|---|---|")
    plain = results["no scan"][1]
    for name, (rows, seconds) in results.items():
        print(f"| {name} | {len(rows)} | {seconds:.1f} | {seconds / plain:.2f}x |")
    benign_corpora(args, scanners)
    texts = [t for _, t, _ in base]
    per_chunk(texts, scanners, minilm)
    context_overhead(texts, full, rules)


BENIGN_SAMPLE = 600


def benign_corpora(args: argparse.Namespace, scanners: dict[str, InjectionDetector]) -> None:
    """The share of chunks of benign corpora flagged: held-out Python docs (the golden
    corpus; files in hash buckets 7-9, a seeded sample), scifact held-out abstracts, and the
    Anthropic docs (documentation about prompting a model, full of example instructions)."""
    rng = random.Random(SEED)
    corpora: dict[str, list[str]] = {}
    if args.pydocs.is_dir():
        py = g.pydocs(args.pydocs, "heldout")
        corpora["python docs, held-out files"] = rng.sample(py, min(BENIGN_SAMPLE, len(py)))
    sci = g.scifact(args.datasets, "heldout")
    corpora["scifact, held-out abstracts"] = rng.sample(sci, min(BENIGN_SAMPLE, len(sci)))
    corpora["anthropic docs (prompting docs)"] = g.anthropic_docs(args.datasets)
    print()
    print(f"| benign chunks: flagged | n | {' | '.join(scanners)} |")
    print("|---|---|" + "---|" * len(scanners))
    for name, texts in corpora.items():
        cells = [fmt([d.scan(t, "chunk").flagged for t in texts]) for d in scanners.values()]
        print(f"| {name} | {len(texts)} | {' | '.join(cells)} |")


def per_chunk(
    texts: list[str], scanners: dict[str, InjectionDetector], minilm: MiniLMEmbedder
) -> None:
    """Wall-clock milliseconds per chunk: each scan (one call per chunk, as ingest makes), and
    MiniLM (int8) embedding the same chunks in batches (as ingest does), measured in turn."""
    minilm.warm_up()
    sample = texts[:400]
    rows = []
    for name, detector in scanners.items():
        started = time.perf_counter()
        for t in sample:
            detector.scan(t, "chunk")
        rows.append((f"scan: {name}", (time.perf_counter() - started) * 1000 / len(sample)))
    started = time.perf_counter()
    minilm.embed(sample)
    embed_ms = (time.perf_counter() - started) * 1000 / len(sample)
    rows.append(("MiniLM int8 embedding (ingest's own, batched)", embed_ms))
    print()
    print(f"| per chunk ({len(sample)} chunks) | ms | ratio to embedding |")
    print("|---|---|---|")
    for name, ms in rows:
        print(f"| {name} | {ms:.2f} | {ms / embed_ms:.2f}x |")


def context_overhead(
    texts: list[str], full: InjectionDetector, rules: InjectionDetector, k: int = 5
) -> None:
    """The context guard's time per request of `k` retrieved chunks: every chunk rescanned
    (a cold cache), and again with the scans cached by chunk hash."""
    rng = random.Random(SEED)
    requests = [[hit(i, t) for i, t in enumerate(rng.sample(texts, k))] for _ in range(REQUESTS)]
    print()
    print(f"| context guard per request of {k} chunks (ms) | p50 | p95 | p95 CPU |")
    print("|---|---|---|---|")
    for name, detector, cache in (
        ("rules only, cold", rules, 0),
        (f"{FULL}, cold", full, 0),
        (f"{FULL}, cached", full, 10_000),
    ):
        guard = InjectionContextGuard(detector, "flag", cache_size=cache)
        if cache:
            for request in requests:
                guard.screen("q", request)
        wall, cpu = timings(lambda request, g=guard: g.screen("q", request), requests)
        print(
            f"| {name} | {percentile(wall, 50):.2f} | {percentile(wall, 95):.2f} "
            f"| {percentile(cpu, 95):.2f} |"
        )


REQUESTS = 300
FULL = "rules + classifier"
PEER = "rules + classifier (--peer weights)"


def hit(i: int, text: str) -> Hit:
    chunk = Chunk(
        id=f"c{i}",
        doc_id="d",
        ordinal=i,
        text=text,
        section=(),
        anchor=None,
        start=0,
        end=len(text),
        token_count=0,
        hash=content_hash(text),
    )
    return Hit(chunk=chunk, score=1.0)


if __name__ == "__main__":
    main()
