"""Loaders for the retrieval benchmark datasets: a re-export of `cairn.evals.datasets`.

The loaders moved into the package (typed, and shared with `cairn eval dataset`); this module
keeps `import corpora` working for the scripts in `bench/`.
"""

from cairn.evals.datasets import (
    LOADERS,
    XQUAD_TUNE_ARTICLES,
    Dataset,
    Passage,
    Query,
    load_anthropic,
    load_hotpotqa,
    load_musique,
    load_scifact,
    load_xquad,
)

__all__ = [
    "LOADERS",
    "XQUAD_TUNE_ARTICLES",
    "Dataset",
    "Passage",
    "Query",
    "load_anthropic",
    "load_hotpotqa",
    "load_musique",
    "load_scifact",
    "load_xquad",
]
