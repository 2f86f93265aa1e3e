"""Which model variant embedded a workspace's documents.

The store keys vectors by embedder name, so vectors of two variants never mix; what is left
to guard is a workspace embedded with one variant and then used with another. Ingest re-embeds
such documents (`embedded_with`), and queries refuse with a clear message until it has
(`check_embedded_with`), instead of silently finding nothing by meaning.
"""

from __future__ import annotations

from collections.abc import Sequence

from cairn.errors import ModelError
from cairn.store.base import DocumentInfo, Store


def chunk_ids(info: DocumentInfo) -> list[str]:
    """The ids ingest gives a document's chunks."""
    return [f"{info.id}-{i}" for i in range(info.chunk_count)]


def embedded_with(store: Store, info: DocumentInfo, model: str) -> bool:
    """True when every chunk of the document has a vector from `model`."""
    hashes = {c.hash for c in store.get_chunks(chunk_ids(info))}
    return len(store.cached_embeddings(model, sorted(hashes))) == len(hashes)


def check_embedded_with(store: Store, model: str, others: Sequence[str]) -> None:
    """Raise when the workspace's documents were embedded by another variant than `model`.

    Looks at one document with chunks (ingest embeds a whole run with one variant)."""
    sample = next((d for d in store.documents() if d.chunk_count), None)
    if sample is None or embedded_with(store, sample, model):
        return
    found = [name for name in others if name != model and embedded_with(store, sample, name)]
    if found:
        raise ModelError(
            f"this workspace was embedded with {found[0]}, but the configured model is {model}: "
            "run 'cairn ingest' on its folders again to re-embed (unchanged files only get new "
            f"vectors), or set embed.precision back to the variant of {found[0]}"
        )
