"""Build the provider for a task from the configuration: adapter, reliability, fallbacks.

    provider = build_provider(settings.llm, task="answer")   # None when provider=extractive

`cairn.toml` may route tasks to other models (a cheap one for query rewriting and judging, a
strong one for answers); a route overrides any of `provider`, `base_url`, `model`, `api_key`
and `fallback_models` of the `[llm]` section:

    [llm]
    provider = "openai"
    model = "gpt-4o"
    fallback_models = ["gpt-4o-mini", "anthropic:claude-3-5-haiku-latest"]

    [llm.routes.rewrite]
    model = "gpt-4o-mini"

    [llm.routes.judge]
    provider = "anthropic"
    model = "claude-3-5-haiku-latest"

Task names in use: `answer`, `rewrite`, `judge`, `agent`. A fallback is a model on the same
server, or `provider:model` for another provider at its default URL with its key from
`OPENAI_API_KEY` / `ANTHROPIC_API_KEY`.

Settings read (with these defaults until `LLMSettings` declares them): `timeout_s` 60
(deadline per model, retries included), `connect_timeout_s` 5, `read_timeout_s` 30, `retries`
2, `retry_base_delay_s` 0.5, `max_retry_after_s` 30, `breaker_threshold` 5,
`breaker_reset_s` 30, `max_tokens` None, `temperature` None, `fallback_models` [], `routes` {},
`prompt_cache` "auto" (Anthropic `cache_control` breakpoints; "all", "off").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from cairn.llm.base import ModelSettings, Provider
from cairn.llm.breaker import BREAKERS, BreakerRegistry
from cairn.llm.errors import ProviderConfigError
from cairn.llm.http import Timeouts
from cairn.llm.reliable import FallbackChain, ReliableProvider
from cairn.llm.retry import RetryPolicy

PROVIDERS = ("openai", "anthropic")
_CACHE_MODES: dict[str, Literal["auto", "all", "off"]] = {
    "auto": "auto",
    "all": "all",
    "off": "off",
}
_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
_PUBLIC = {"openai": "https://api.openai.com", "anthropic": "https://api.anthropic.com"}


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelRoute:
    """One model to call: which adapter, where, with which key."""

    provider: str
    model: str
    base_url: str | None = None
    api_key: str | None = None

    @property
    def key(self) -> str:
        """Identifies the circuit breaker: one per endpoint and model."""
        return f"{self.provider}|{self.base_url or 'default'}|{self.model}"


def _get(source: Any, name: str, default: Any = None) -> Any:
    if isinstance(source, Mapping):
        value = source.get(name, default)
    else:
        value = getattr(source, name, default)
    return default if value is None else value


def resolve_routes(llm: Any, task: str = "answer") -> list[ModelRoute]:
    """The models to try for `task`, first choice first; empty for the extractive answerer."""
    routes = _get(llm, "routes", {})
    route = routes.get(task) if isinstance(routes, Mapping) else getattr(routes, task, None)
    provider = str(_get(route, "provider", None) or _get(llm, "provider", "extractive"))
    if provider == "extractive":
        return []
    if provider not in PROVIDERS:
        raise ProviderConfigError(
            f"unknown LLM provider {provider!r}: use one of extractive, {', '.join(PROVIDERS)}"
        )
    same = route is None or _get(route, "provider", provider) == _get(llm, "provider", None)
    base_url = _get(route, "base_url", None) or (_get(llm, "base_url", None) if same else None)
    api_key = _get(route, "api_key", None) or (_get(llm, "api_key", None) if same else None)
    model = _get(route, "model", None) or (_get(llm, "model", None) if same else None)
    if not model:
        where = f"llm.routes.{task}.model" if route is not None else "CAIRN_LLM_MODEL"
        raise ProviderConfigError(
            f"CAIRN_LLM_PROVIDER={provider} needs a model: set {where} (e.g. gpt-4o-mini), "
            "or use CAIRN_LLM_PROVIDER=extractive"
        )
    first = ModelRoute(provider=provider, model=str(model), base_url=base_url, api_key=api_key)
    chain = [first]
    fallbacks = _get(route, "fallback_models", None)
    if fallbacks is None:
        fallbacks = _get(llm, "fallback_models", []) if same else []
    for spec in fallbacks:
        head, sep, rest = str(spec).partition(":")
        if sep and head in PROVIDERS and head != provider:
            chain.append(ModelRoute(provider=head, model=rest))
        else:
            name = rest if sep and head == provider else str(spec)
            chain.append(
                ModelRoute(provider=provider, model=name, base_url=base_url, api_key=api_key)
            )
    return chain


def build_provider(
    llm: Any,
    task: str = "answer",
    *,
    transport: httpx.BaseTransport | None = None,
    breakers: BreakerRegistry = BREAKERS,
    wrap: Callable[[Provider], Provider] | None = None,
) -> Provider | None:
    """The reliable provider (or fallback chain) for `task`; `None` for the extractive mode.

    `llm` is the `[llm]` settings section (an `LLMSettings`, a mapping, or any object with
    those attributes). `transport` is handed to every adapter (tests pass a mock). `wrap`
    is applied to each model's reliable provider (the budget meters each model separately).
    """
    routes = resolve_routes(llm, task)
    if not routes:
        return None
    timeouts = Timeouts(
        connect=float(_get(llm, "connect_timeout_s", 5.0)),
        read=float(_get(llm, "read_timeout_s", 30.0)),
        total=float(_get(llm, "timeout_s", 60.0)),
    )
    retry = RetryPolicy(
        attempts=1 + int(_get(llm, "retries", 2)),
        base_delay=float(_get(llm, "retry_base_delay_s", 0.5)),
        max_retry_after=float(_get(llm, "max_retry_after_s", 30.0)),
    )
    defaults = ModelSettings(
        max_tokens=_get(llm, "max_tokens", None), temperature=_get(llm, "temperature", None)
    )
    providers: list[Provider] = []
    for route in routes:
        adapter = _adapter(
            route, timeouts, defaults, transport, str(_get(llm, "prompt_cache", "auto"))
        )
        breaker = breakers.get(
            route.key,
            threshold=int(_get(llm, "breaker_threshold", 5)),
            reset_after=float(_get(llm, "breaker_reset_s", 30.0)),
        )
        reliable: Provider = ReliableProvider(
            adapter, retry=retry, breaker=breaker, deadline=timeouts.total
        )
        providers.append(wrap(reliable) if wrap is not None else reliable)
    return providers[0] if len(providers) == 1 else FallbackChain(providers)


def _adapter(
    route: ModelRoute,
    timeouts: Timeouts,
    defaults: ModelSettings,
    transport: httpx.BaseTransport | None,
    prompt_cache: str = "auto",
) -> Provider:
    key = route.api_key or os.environ.get(_KEY_ENV[route.provider])
    if not key and (route.base_url is None or route.base_url.startswith(_PUBLIC[route.provider])):
        raise ProviderConfigError(
            f"{route.provider}:{route.model} needs an API key: set CAIRN_LLM_API_KEY or "
            f"{_KEY_ENV[route.provider]} (or point CAIRN_LLM_BASE_URL at a local server)"
        )
    if route.provider == "anthropic":
        from cairn.llm.anthropic import AnthropicProvider

        return AnthropicProvider(
            route.model,
            base_url=route.base_url,
            api_key=key,
            timeouts=timeouts,
            defaults=defaults,
            transport=transport,
            prompt_cache="all"
            if prompt_cache == "all"
            else "off"
            if prompt_cache == "off"
            else "auto",
        )
    from cairn.llm.openai import OpenAIProvider

    return OpenAIProvider(
        route.model,
        base_url=route.base_url,
        api_key=key,
        timeouts=timeouts,
        defaults=defaults,
        transport=transport,
    )
