"""Rescanning a workspace's chunks with the current injection detector (`cairn guard scan`).

    report = rescan(store, lambda text: detector.scan(text, kind="chunk"), quarantine=False)

Every chunk of every document is scanned again and its stored risk updated, so a better
detector (new weights, new rules) is applied to data ingested before it. With `quarantine`
(`guard.ingest = "quarantine"`), flagged chunks are taken out of search, except those an admin
released.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cairn.store.base import Store
from cairn.types import Chunk, Risk


@dataclass(frozen=True, kw_only=True, slots=True)
class FlaggedChunk:
    """A chunk the scan flagged, where it lives, and whether search can return it."""

    chunk_id: str
    source: str
    section: str
    risk: Risk
    state: str
    """`retrievable` (flagged, marked), `quarantined`, or `released` (by an admin)."""
    preview: str

    def as_dict(self) -> dict[str, object]:
        return {
            "chunk_id": self.chunk_id,
            "source": self.source,
            "section": self.section,
            "risk": self.risk.to_dict(),
            "state": self.state,
            "preview": self.preview,
        }


@dataclass(kw_only=True)
class ScanReport:
    documents: int = 0
    chunks: int = 0
    flagged: int = 0
    changed: int = 0
    """Chunks whose stored risk the scan changed."""
    quarantined: int = 0
    """Chunks this scan quarantined (`quarantine=True`)."""
    held: int = 0
    """Chunks quarantined after the scan, all told."""
    found: list[FlaggedChunk] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "documents": self.documents,
            "chunks": self.chunks,
            "flagged": self.flagged,
            "changed": self.changed,
            "quarantined": self.quarantined,
            "held": self.held,
            "flagged_chunks": [f.as_dict() for f in self.found],
        }


def rescan(store: Store, scan: Callable[[str], Risk], *, quarantine: bool = False) -> ScanReport:
    """Scan every chunk of `store` with `scan`, store the risks, and report the flagged ones."""
    report = ScanReport()
    released = store.released()
    held = {c.id for c in store.quarantined()}
    flagged: list[tuple[Chunk, Risk]] = []
    for info in store.documents():
        report.documents += 1
        chunks = store.document_chunks(info.id)
        risks = {c.id: scan(c.text) for c in chunks}
        report.chunks += len(chunks)
        report.changed += store.set_risks(risks)
        flagged.extend((c, risks[c.id]) for c in chunks if risks[c.id].flagged)
    if quarantine:
        todo = [c.id for c, _ in flagged if c.id not in released and c.id not in held]
        newly = store.quarantine(todo)
        report.quarantined = len(newly)
        held = {c.id for c in store.quarantined()}
    report.held = len(held)
    report.flagged = len(flagged)
    for chunk, risk in flagged:
        state = (
            "quarantined"
            if chunk.id in held
            else "released"
            if chunk.id in released
            else "retrievable"
        )
        report.found.append(
            FlaggedChunk(
                chunk_id=chunk.id,
                source=chunk.source,
                section=chunk.section_path,
                risk=risk,
                state=state,
                preview=" ".join(chunk.text.split())[:160],
            )
        )
    return report
