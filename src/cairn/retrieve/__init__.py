"""Retrievers: lexical (BM25), dense, and their hybrid fusion."""

from cairn.retrieve.base import Retriever
from cairn.retrieve.hybrid import DenseRetriever, HybridRetriever, LexicalRetriever, build_retriever

__all__ = [
    "DenseRetriever",
    "HybridRetriever",
    "LexicalRetriever",
    "Retriever",
    "build_retriever",
]
