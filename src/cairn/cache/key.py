"""What a cached answer is keyed on.

An answer may be reused only for a request that would have produced it, so the key holds
everything that decides the answer:

- the question, normalised (case, Unicode form, whitespace, sentence punctuation);
- the caller's permission scope: tenant and principals. Principals decide which documents
  retrieval may see (`Filters.principals`), so two callers share an entry only when they
  can see exactly the same documents. `None` principals (local single-user mode, no ACL
  check) and `()` (a caller with no principals: public documents only) are different scopes;
- the corpus: `generation` grows with every ingest write, so re-ingesting makes every older
  entry unreachable; `corpus_id` names the store instance, so a database deleted and built
  again never meets entries from its predecessor that carry the same generation number;
- the configuration that shapes answers (`config_fingerprint`) and the per-request options
  (`k`, the non-ACL filters).

Everything but the question forms the *partition*: the semantic cache only compares
questions inside one partition, so a similar question never crosses a tenant, a corpus
version or a configuration.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import astuple, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from cairn.types import Filters

if TYPE_CHECKING:
    from cairn.config import Settings

KEY_VERSION = 1
"""Part of every key: bump it when normalisation or the stored format changes meaning."""

_LEADING = "\"'([{<`¿¡«–—"
_TRAILING = "\"')]}>`?!.,;:…»–—"
"""Sentence punctuation is stripped from the ends of words, never from inside one, and
nothing that can belong to a term is (`3.11`, `os.path`, `C++`, `C#`, `.5`, `-1`, `.env`), so
`What is C#?` and `What is C?` stay different questions."""
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "})


def normalise_question(question: str) -> str:
    """The exact cache's view of a question: NFKC, casefolded, curly quotes made straight,
    sentence punctuation removed from word edges, whitespace collapsed.

    >>> normalise_question("  What is a  *dataclass*?? ")
    'what is a *dataclass*'
    """
    text = unicodedata.normalize("NFKC", question).translate(_QUOTES).casefold()
    words = (strip_punctuation(word) for word in text.split())
    return " ".join(word for word in words if word)


def strip_punctuation(word: str) -> str:
    """`word` without the sentence punctuation around it."""
    return word.lstrip(_LEADING).rstrip(_TRAILING)


def _digest(*parts: object) -> str:
    blob = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class CacheRequest:
    """One `ask`, seen by the cache. Build it once per request (`CacheRequest.build`) and use
    the same object for `get` and `put`, so an ingest that lands while the answer is being
    made files the answer under the generation it was built from."""

    question: str
    """As asked; the semantic cache embeds this text."""
    generation: int
    """The store's corpus generation (`Store.generation()`), read when the request began."""
    config: str
    """`config_fingerprint(settings)`: retrieval, answering and model settings."""
    principals: tuple[str, ...] | None = None
    """The caller's principals, as in `Filters.principals` (sorted and deduplicated here)."""
    tenant: str | None = None
    corpus_id: str = ""
    """Identifies the store instance (empty when the store has no id)."""
    options: str = ""
    """Per-request options that change the answer (`k`, the non-ACL filters); see `build`."""

    def __post_init__(self) -> None:
        if self.principals is not None:
            object.__setattr__(self, "principals", tuple(sorted(set(self.principals))))

    @classmethod
    def build(
        cls,
        question: str,
        *,
        generation: int,
        config: str,
        filters: Filters | None = None,
        tenant: str | None = None,
        k: int | None = None,
        corpus_id: str = "",
    ) -> CacheRequest:
        """The request for `Pipeline.ask(question, k=k, filters=filters, tenant=tenant)`."""
        filters = filters or Filters()
        options = {
            "k": k,
            "source_globs": sorted(filters.source_globs),
            "doc_types": sorted(filters.doc_types),
            "tags": sorted(filters.tags),
            "languages": sorted(filters.languages),
            "dates": [filters.date_from, filters.date_to],
        }
        return cls(
            question=question,
            generation=generation,
            config=config,
            principals=filters.principals,
            tenant=tenant,
            corpus_id=corpus_id,
            options=_digest(options)[:32],
        )

    @property
    def normalised(self) -> str:
        return normalise_question(self.question)

    @property
    def scope(self) -> str:
        """The permission scope as canonical text (kept in the cache for inspection)."""
        principals = None if self.principals is None else list(self.principals)
        return json.dumps({"tenant": self.tenant, "principals": principals}, sort_keys=True)

    @property
    def partition(self) -> str:
        """Everything that must match besides the question."""
        return _digest(
            KEY_VERSION,
            self.scope,
            self.corpus_id,
            self.generation,
            self.config,
            self.options,
        )

    @property
    def key(self) -> str:
        """The exact cache key: the partition and the normalised question."""
        return _digest(self.partition, self.normalised)


def config_fingerprint(
    settings: Settings,
    *,
    mode: str | None = None,
    model: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> str:
    """A hash of the settings that shape an answer; entries made under other settings are
    never returned.

    Covered: the cairn version, `retrieve.*`, `answer.*`, the extractive answerer's trained
    weights, `guard.context`, `guard.spotlight`, `guard.output`, `router.*`, the embedding
    backend and its
    truncation, and the answering model (`llm.provider`, `base_url`, `model`, `temperature`,
    `max_tokens`, `fallback_models`, `routes.answer`; never keys). `mode` and `model` are the
    overrides given to `Workspace.pipeline(mode, model=...)`. Pass anything else that changes
    answers (custom prompt parts, guard policies) in `extra` (JSON-serialisable values).
    """
    llm = settings.llm
    route = llm.routes.get("answer")
    answer_model = {
        "provider": llm.provider,
        "base_url": llm.base_url,
        "model": model or llm.model,
        "temperature": llm.temperature,
        "max_tokens": llm.max_tokens,
        "fallback_models": list(llm.fallback_models),
        "route": None if route is None else route.model_dump(mode="json", exclude={"api_key"}),
    }
    cheap = llm.routes.get(settings.router.cheap_route)  # the router's other model
    if settings.router.mode != "off" and cheap is not None:
        answer_model["cheap_route"] = cheap.model_dump(mode="json", exclude={"api_key"})
    retrieve = settings.retrieve.model_dump(mode="json")
    if mode is not None:
        retrieve["mode"] = mode
    prompt = None
    if llm.provider != "extractive":
        from cairn.answer.prompt import PromptParts

        prompt = _digest(*astuple(PromptParts()))
    parts = {
        "cairn": _cairn_version(),
        "retrieve": retrieve,
        "answer": settings.answer.model_dump(mode="json"),
        "embed": {"backend": settings.embed.backend, "max_tokens": settings.embed.max_tokens},
        "llm": answer_model,
        "prompt": prompt,
        "guard": {  # what the context guard lets into the prompt, and how it is set off
            "context": settings.guard.context,
            "spotlight": settings.guard.spotlight,
            "output": settings.guard.output,
            "allow_hosts": sorted(settings.guard.allow_hosts),  # links a cached answer keeps
        },
        "extractive": _extractive_model_digest(),
        "router": settings.router.model_dump(mode="json"),  # which model answers what
        "extra": dict(extra or {}),
    }
    return _digest(parts)[:32]


@lru_cache(maxsize=1)
def _extractive_model_digest() -> str:
    """The shipped sentence scorer and answerability weights: a retrained model answers
    (and abstains) differently, so its answers are not those cached before."""
    from cairn.answer.features import MODEL_PATH

    return hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()[:16]


def _cairn_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cairn")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"
