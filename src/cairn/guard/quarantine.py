"""What a model may read of quarantined chunks: nothing.

Quarantine (`guard.ingest = "quarantine"`, `cairn guard quarantine`) keeps a chunk out of
search; these helpers keep it out of the other ways a model reads stored text: a chunk read by
id (the agent's and the MCP server's `read_chunk`) and a whole document (the MCP resource).
"""

from __future__ import annotations

from cairn.store.base import Store

WITHHELD = "[a quarantined passage is withheld here]"


def is_quarantined(store: Store, chunk_id: str) -> bool:
    """Whether the chunk is quarantined (not released)."""
    return any(c.id == chunk_id for c in store.quarantined())


def readable_text(store: Store, doc_id: str, text: str) -> str:
    """`text` (the document's) with each quarantined chunk's span replaced by `WITHHELD`."""
    held = sorted(
        (c for c in store.quarantined() if c.doc_id == doc_id), key=lambda c: c.start, reverse=True
    )
    for chunk in held:
        if 0 <= chunk.start <= chunk.end <= len(text):
            text = f"{text[: chunk.start]}{WITHHELD}{text[chunk.end :]}"
    return text
