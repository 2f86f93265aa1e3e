"""The rerank stage's backends: candidates reordered between retrieve and the context guard.

    reranker = build_reranker(settings.rerank, provider=workspace_rerank_model)
    hits = reranker.rerank(question, hits)

- `KeepOrder` (`rerank.backend = "off"`, the default): the retriever's order stands.
- `LLMReranker` (`"llm"`): one listwise call to the configured model; its reply is parsed
  robustly and a failed call or an unusable reply keeps the incoming order (recorded on the
  trace).
- `CrossEncoderReranker` (`"cross-encoder"`): an ONNX cross-encoder from `rerank.model_path`.

The pipeline retrieves `rerank.depth` candidates when a reranker is set and keeps the first
`retrieve.k` after reranking. Every backend passes `cairn.testing.rerankers`'s conformance
suite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cairn.errors import ConfigError
from cairn.rerank.base import ExplainingReranker, Reordering, apply_order
from cairn.stages import KeepOrder, Reranker

if TYPE_CHECKING:
    from cairn.config import RerankSettings
    from cairn.llm.base import Provider

__all__ = [
    "ExplainingReranker",
    "KeepOrder",
    "Reordering",
    "Reranker",
    "apply_order",
    "build_reranker",
]


def build_reranker(
    settings: RerankSettings, *, provider: Provider | None = None, spotlight: str = "delimit"
) -> Reranker:
    """The reranker `settings.backend` asks for. `provider`: the metered model of the
    `rerank` task (needed by `llm`); `spotlight`: `guard.spotlight`."""
    if settings.backend == "llm":
        if provider is None:
            raise ConfigError(
                "rerank.backend = 'llm' needs a model: set llm.provider (and llm.model), or "
                "set rerank.backend = 'off'"
            )
        from cairn.rerank.llm import LLMReranker

        return LLMReranker(provider, passage_tokens=settings.passage_tokens, spotlight=spotlight)
    if settings.backend == "cross-encoder":
        assert settings.model_path is not None  # the settings' validator requires it
        from cairn.rerank.cross_encoder import CrossEncoderReranker

        return CrossEncoderReranker(
            settings.model_path.expanduser(),
            max_tokens=settings.max_tokens,
            batch_size=settings.batch_size,
            threads=settings.threads,
        )
    return KeepOrder()
