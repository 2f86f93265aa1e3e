"""Which model variant embedded a workspace's documents.

The store keys vectors by embedder name, so vectors of two variants never mix; what is left
to guard is a workspace embedded with one variant and then used with another. Ingest re-embeds
such documents (`embedded_with`), and queries refuse with a clear message until it has
(`check_embedded_with`, which counts every chunk without a vector of the configured variant),
instead of silently finding nothing by meaning.
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
    """Raise when some indexed chunks have no vector from `model` (the workspace, or part
    of it after an interrupted re-embed, was embedded by another variant)."""
    missing = store.missing_embeddings(model)
    if not missing:
        return
    found = [name for name in others if name != model and store.missing_embeddings(name) == 0]
    by = f"with {found[0]}" if found else "with another model"
    raise ModelError(
        f"{missing} chunk(s) of this workspace were embedded {by}, but the configured model is "
        f"{model}: run 'cairn ingest' on its folders again to re-embed (unchanged files only "
        "get new vectors), or set embed.precision back to the variant the workspace has"
    )
