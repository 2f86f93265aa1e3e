"""Embedders: the `Embedder` protocol and its backends."""

from cairn.embed.base import Embedder, Tokenizer
from cairn.embed.minilm import MiniLMEmbedder, export_onnx, minilm_model_dir

__all__ = ["Embedder", "MiniLMEmbedder", "Tokenizer", "export_onnx", "minilm_model_dir"]
