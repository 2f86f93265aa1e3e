"""Incremental, crash-safe ingestion: files -> parsed documents -> chunks -> embeddings -> store.

Each document is written in one store transaction. A re-run skips files whose content hash
is unchanged, re-embeds only chunks whose hash is new (the embedding cache is keyed by chunk
hash), and with `prune` removes documents whose files are gone.

Reading, parsing, embedding and scanning run on the caller's thread; the near-duplicate
lookup and the write of each document on one writer thread, in file order, a few files
behind. A run is one bulk load for the store (`Store.loading`: Postgres builds a new vector
index once, at its end).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath

from cairn.config import DEFAULT_EXCLUDES, Settings
from cairn.embed.base import Embedder
from cairn.errors import EmptyDocument, IngestError
from cairn.ingest.chunking import chunk_document, content_hash, embedding_text
from cairn.ingest.discover import Skipped, SourceFile, discover
from cairn.ingest.embedded import embedded_with
from cairn.ingest.near_duplicates import NearDuplicateFinder
from cairn.store.base import Store, Vector, WriteResult
from cairn.types import Chunk, Document, Risk

ChunkScanner = Callable[[str], Risk]
"""Scores a chunk's text for planted instructions (`InjectionDetector.scan(text, "chunk")`)."""


@dataclass(kw_only=True)
class IngestReport:
    files: int = 0
    ingested: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    duplicates: int = 0
    flagged: int = 0
    """Chunks the injection scan flagged (`guard.ingest`), quarantined ones included."""
    quarantined: int = 0
    """Flagged chunks kept out of search under `guard.ingest = "quarantine"`."""
    embedded: int = 0
    """Chunks embedded by the model in this run."""
    reused: int = 0
    """Chunks whose embedding came from the cache."""
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    """(path, what) for the parts of ingested files that could not be read (a damaged PDF
    page, an e-mail attachment): the rest of the file is indexed."""
    skipped: list[Skipped] = field(default_factory=list)
    """Every file (or unwalked folder) not ingested, with its rule and reason."""
    seconds: float = 0.0
    embed_seconds: float = 0.0
    parse_seconds: float = 0.0
    generation: int = 0

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def left_out(self) -> list[Skipped]:
        """Skipped files left out against the user's wish (an unsupported type), not by a
        rule such as an exclude pattern or `.gitignore`."""
        return [s for s in self.skipped if s.left_out]

    def skipped_by_reason(self) -> dict[str, list[str]]:
        """Skipped paths grouped by reason, the most frequent reason first."""
        groups: dict[str, list[str]] = {}
        for skip in self.skipped:
            groups.setdefault(skip.reason, []).append(skip.path)
        return dict(sorted(groups.items(), key=lambda item: -len(item[1])))

    def as_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "ingested": self.ingested,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": self.failed,
            "chunks": self.chunks,
            "duplicates": self.duplicates,
            "flagged": self.flagged,
            "quarantined": self.quarantined,
            "embedded": self.embedded,
            "reused": self.reused,
            "failures": [{"path": p, "reason": r} for p, r in self.failures],
            "warnings": [{"path": p, "message": m} for p, m in self.warnings],
            "skipped": [
                {"path": s.path, "rule": s.rule, "reason": s.reason, "left_out": s.left_out}
                for s in self.skipped
            ],
            "left_out": len(self.left_out),
            "seconds": round(self.seconds, 3),
            "embed_seconds": round(self.embed_seconds, 3),
            "parse_seconds": round(self.parse_seconds, 3),
            "generation": self.generation,
        }


WRITES_QUEUED = 4
"""Prepared files waiting for (or in) the writer thread before ingest stops to wait."""

Progress = Callable[[str, IngestReport], None]
"""Called as `(source, report)` after each file (and with `""` once the files are counted)."""


def document_id(root: PurePath, source: str) -> str:
    """Stable id of a document: its location (root + relative path), not its content."""
    return hashlib.sha256(f"{root.as_posix()}::{source}".encode()).hexdigest()[:16]


def ingest(
    paths: Sequence[Path],
    *,
    store: Store,
    embedder: Embedder,
    tokenizer: object,
    settings: Settings,
    includes: Sequence[str] = (),
    excludes: Sequence[str] = (),
    prune: bool = False,
    tags: Sequence[str] = (),
    acl: Sequence[str] = (),
    progress: Progress | None = None,
    scanner: ChunkScanner | None = None,
    id_root: str | None = None,
    force: bool = False,
) -> IngestReport:
    """Ingest `paths` into `store`. `id_root` names the place the files come from in their
    documents' ids instead of their folder's absolute path: uploads use it so that replicas
    with different workspace folders (or one taking over another's job) give a file the same
    id, and a version stored under the folder's path is replaced, not duplicated. Under
    `guard.ingest` (not `off`) every new chunk is scanned by `scanner` (default: the shipped
    injection detector) and stored with its risk; flagged ones are quarantined under
    `quarantine`. `force`: unchanged files are ingested again too, so that new chunking or
    ingest rules (the near-duplicate policy) apply to them; their embeddings are reused from
    the cache."""
    from cairn.ingest.readers import SUPPORTED_SUFFIXES, read_document

    if scanner is None and settings.guard.ingest != "off":
        scanner = _shipped_scanner()

    started = time.perf_counter()
    report = IngestReport()
    defaults = () if includes else tuple(settings.ingest.excludes or DEFAULT_EXCLUDES)
    skipped: list[Skipped] = []
    files = list(
        discover(
            paths,
            suffixes=SUPPORTED_SUFFIXES,
            excludes=(*defaults, *excludes),
            includes=includes,
            skipped=skipped,
        )
    )
    report.files = len(files)
    report.skipped = skipped
    if progress:
        progress("", report)
    known = {d.id: d for d in store.documents()}
    seen: set[str] = set()
    limit = int(settings.ingest.max_file_mb * 1024 * 1024)
    # Two stages in a pipeline: this thread reads, parses, chunks, embeds and scans files
    # while one writer thread runs each file's near-duplicate lookup and store write (a
    # Postgres write is mostly the server's work: index maintenance, WAL). Writes keep the
    # files' order; up to WRITES_QUEUED wait, so a long write does not hold up the next
    # files' parsing; each file's outcome (its counts, its progress call, an error) is
    # reported in order once its write has finished.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-ingest-write")
    queued: deque[_Write] = deque()
    broken = threading.Event()

    def finish(keep: int = 0) -> None:
        """Report finished writes in order; wait while more than `keep` are queued."""
        while queued and (len(queued) > keep or queued[0].future.done()):
            done = queued.popleft()
            _finish(done, store, known, report)
            if progress:
                progress(done.prepared.file.source, report)

    with store.loading():  # e.g. Postgres builds a new vector index once, at the end
        try:
            for file in files:
                doc_id = document_id(file.root, file.source)
                legacy = None
                if id_root is not None:
                    legacy, doc_id = doc_id, document_id(PurePosixPath(id_root), file.source)
                seen.add(doc_id)
                outcome: _Prepared | None = None
                try:
                    data = _read(file, limit)
                    digest = hashlib.sha256(data).hexdigest()
                    if (
                        not force
                        and doc_id in known
                        and known[doc_id].content_hash == digest
                        and embedded_with(store, known[doc_id], embedder.name)
                    ):
                        finish()
                        report.unchanged += 1
                        _drop_legacy(legacy, store, known, report)
                    else:
                        in_flight = {h: v for w in queued for h, v in w.prepared.fresh.items()}
                        outcome = _prepare(
                            file,
                            doc_id,
                            legacy,
                            data,
                            digest,
                            store,
                            embedder,
                            tokenizer,
                            settings,
                            tags,
                            acl,
                            report,
                            read_document,
                            scanner,
                            in_flight,
                        )
                        finish(keep=WRITES_QUEUED - 1)
                except EmptyDocument as exc:
                    # Nothing to index (a page of links only): skipped by the `empty` rule, and a
                    # version stored before the file was emptied is removed so search cannot
                    # find it.
                    finish()
                    report.skipped.append(Skipped(file.source, "empty", exc.reason))
                    if doc_id in known:
                        report.removed += len(store.delete_documents([doc_id]))
                except IngestError as exc:
                    finish()
                    report.failures.append((exc.path, exc.reason))
                if outcome is not None:
                    future = writer.submit(_write, outcome, store, settings, broken)
                    queued.append(_Write(outcome, future))
                elif progress:
                    progress(file.source, report)
            finish()
        finally:
            broken.set()  # after an error here, queued writes are not started
            writer.shutdown(wait=True)  # and the one running ends before ingest returns
    if prune:
        roots = {p.resolve().as_uri() for p in paths if p.is_dir()}
        gone = [doc_id for doc_id in known if doc_id not in seen and _under(store, doc_id, roots)]
        report.removed += len(store.delete_documents(gone))
    report.generation = store.generation()
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True)
class _Prepared:
    """A file read, parsed, chunked, embedded and scanned: what its store write needs."""

    file: SourceFile
    legacy: str | None
    """The id the document had before `id_root` was given, removed once this one is written."""
    document: Document
    chunks: list[Chunk]
    fresh: dict[str, Vector]
    """Vectors to store: the model's for this file, and those a write still in flight holds."""
    model: str
    embedded: int
    held: list[str]


@dataclass(frozen=True)
class _Write:
    prepared: _Prepared
    future: Future[WriteResult]


def _write(
    prepared: _Prepared, store: Store, settings: Settings, broken: threading.Event
) -> WriteResult:
    """The writer thread's stage: near-duplicates against what is stored (every earlier file
    written by now), then the document's transaction. After a write failed with anything
    but an `IngestError` (or ingest itself stopped), the queued ones are not started."""
    if broken.is_set():
        raise _NotWritten
    try:
        near = NearDuplicateFinder(settings.ingest.near_duplicate_bits)
        found = near.find(store, prepared.document, prepared.chunks)
        return store.write_document(
            prepared.document,
            prepared.chunks,
            prepared.fresh,
            model=prepared.model,
            near=found,
            quarantine=prepared.held,
        )
    except IngestError:
        raise
    except BaseException:
        broken.set()
        raise


class _NotWritten(Exception):
    """A queued write not started because an earlier one failed: never reported, since the
    earlier failure is raised first."""


def _read(file: SourceFile, limit: int) -> bytes:
    try:
        size = file.path.stat().st_size
        if size > limit:
            raise IngestError(
                str(file.path),
                f"file is {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit "
                "(raise ingest.max_file_mb to ingest it)",
            )
        return file.path.read_bytes()
    except PermissionError as exc:
        raise IngestError(str(file.path), "permission denied (cannot read the file)") from exc
    except OSError as exc:
        raise IngestError(str(file.path), f"cannot read: {exc.strerror or exc}") from exc


def _prepare(
    file: SourceFile,
    doc_id: str,
    legacy: str | None,
    data: bytes,
    digest: str,
    store: Store,
    embedder: Embedder,
    tokenizer: object,
    settings: Settings,
    tags: Sequence[str],
    acl: Sequence[str],
    report: IngestReport,
    read_document: Callable[[Path, bytes], object],
    scanner: ChunkScanner | None,
    in_flight: Mapping[str, Vector],
) -> _Prepared:
    from cairn.types import ParsedDocument

    t0 = time.perf_counter()
    parsed = read_document(file.path, data)
    assert isinstance(parsed, ParsedDocument)
    if not parsed.blocks:
        raise EmptyDocument(str(file.path), "no text content found")
    report.warnings.extend((str(file.path), warning) for warning in parsed.warnings)
    text, drafts = chunk_document(parsed, tokenizer, settings.chunk)
    report.parse_seconds += time.perf_counter() - t0
    document = Document(
        id=doc_id,
        source=file.source,
        uri=file.path.as_uri(),
        title=parsed.title,
        doc_type=parsed.doc_type,
        content_hash=digest,
        text=text,
        metadata=dict(parsed.metadata),
        tags=tuple(tags),
        acl=tuple(acl),
    )
    inputs = [embedding_text(parsed.title, d.section, d.text) for d in drafts]
    chunks = [
        Chunk(
            id=f"{doc_id}-{i}",
            doc_id=doc_id,
            ordinal=i,
            text=d.text,
            section=d.section,
            anchor=d.anchor,
            start=d.start,
            end=d.end,
            token_count=d.token_count,
            hash=content_hash(inp),
            page=d.page,
            source=file.source,
            uri=document.uri,
            title=parsed.title,
        )
        for i, (d, inp) in enumerate(zip(drafts, inputs, strict=True))
    ]
    cached = store.cached_embeddings(embedder.name, [c.hash for c in chunks])
    # Vectors of the write still in flight are not in the store's cache yet: they are
    # passed on with this file's, so a chunk shared with the previous file is not embedded
    # again (and is stored even if that write fails).
    borrowed = {c.hash: in_flight[c.hash] for c in chunks if c.hash in in_flight}
    todo = {
        c.hash: inp
        for c, inp in zip(chunks, inputs, strict=True)
        if c.hash not in cached and c.hash not in borrowed
    }
    t1 = time.perf_counter()
    vectors = embedder.embed(list(todo.values())) if todo else None
    report.embed_seconds += time.perf_counter() - t1
    fresh = dict(zip(todo, vectors, strict=True)) if vectors is not None else {}
    held: list[str] = []
    if scanner is not None and settings.guard.ingest != "off":
        chunks = [dataclasses.replace(c, risk=scanner(c.text)) for c in chunks]
        if settings.guard.ingest == "quarantine":
            held = [c.id for c in chunks if c.risk is not None and c.risk.flagged]
    return _Prepared(
        file=file,
        legacy=legacy,
        document=document,
        chunks=chunks,
        fresh={**borrowed, **fresh},
        model=embedder.name,
        embedded=len(todo),
        held=held,
    )


def _finish(write: _Write, store: Store, known: Mapping[str, object], report: IngestReport) -> None:
    """Wait for a file's write and count it (or its failure) in the report."""
    prepared = write.prepared
    try:
        result = write.future.result()
    except IngestError as exc:
        report.failures.append((exc.path, exc.reason))
        return
    chunks = prepared.chunks
    report.ingested += 1
    report.flagged += sum(1 for c in chunks if c.risk is not None and c.risk.flagged)
    report.chunks += result.indexed
    report.duplicates += result.duplicates
    report.quarantined += result.quarantined
    report.embedded += prepared.embedded
    report.reused += len(chunks) - prepared.embedded
    _drop_legacy(prepared.legacy, store, known, report)


def _drop_legacy(
    legacy: str | None, store: Store, known: Mapping[str, object], report: IngestReport
) -> None:
    if legacy is not None and legacy in known:
        report.removed += len(store.delete_documents([legacy]))


def _under(store: Store, doc_id: str, roots: set[str]) -> bool:
    document = store.get_document(doc_id)
    return document is not None and any(document.uri.startswith(r + "/") for r in roots)


def _shipped_scanner() -> ChunkScanner:
    from cairn.guard.detector import InjectionDetector

    detector = InjectionDetector.load()
    return lambda text: detector.scan(text, kind="chunk")
