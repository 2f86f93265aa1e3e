"""Building providers from the configuration: routes per task, fallbacks, reliability."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cairn.config import LLMSettings
from cairn.llm.base import Message
from cairn.llm.breaker import BreakerRegistry
from cairn.llm.errors import ProviderConfigError
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.reliable import FallbackChain, ReliableProvider
from cairn.llm.routing import ModelRoute, build_provider, resolve_routes


def test_extractive_means_no_provider() -> None:
    assert build_provider(LLMSettings()) is None
    assert resolve_routes({"provider": "extractive", "model": "x"}) == []


def test_routes_override_the_llm_section_per_task() -> None:
    llm = {
        "provider": "openai",
        "base_url": "http://127.0.0.1:8001/v1",
        "model": "strong",
        "api_key": "k",
        "fallback_models": ["medium", "llama3:8b", "anthropic:claude-x"],
        "routes": {
            "rewrite": {"model": "cheap", "fallback_models": []},
            "judge": {"provider": "anthropic", "model": "claude-judge"},
        },
    }
    assert resolve_routes(llm, "answer") == [
        ModelRoute(
            provider="openai", model="strong", base_url="http://127.0.0.1:8001/v1", api_key="k"
        ),
        ModelRoute(
            provider="openai", model="medium", base_url="http://127.0.0.1:8001/v1", api_key="k"
        ),
        # an Ollama tag is a model name, not a provider prefix
        ModelRoute(
            provider="openai", model="llama3:8b", base_url="http://127.0.0.1:8001/v1", api_key="k"
        ),
        ModelRoute(provider="anthropic", model="claude-x"),
    ]
    assert [r.model for r in resolve_routes(llm, "rewrite")] == ["cheap"]
    # another provider does not inherit the openai server's URL or key
    assert resolve_routes(llm, "judge")[0] == ModelRoute(provider="anthropic", model="claude-judge")


def test_configuration_errors_say_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProviderConfigError, match="CAIRN_LLM_MODEL"):
        build_provider(LLMSettings(provider="openai"))
    with pytest.raises(ProviderConfigError, match=r"llm\.routes\.judge\.model"):
        resolve_routes(
            {"provider": "openai", "model": "m", "routes": {"judge": {"provider": "anthropic"}}},
            "judge",
        )
    with pytest.raises(ProviderConfigError, match="unknown LLM provider 'mistral'"):
        resolve_routes({"provider": "mistral", "model": "m"})
    with pytest.raises(ProviderConfigError, match="OPENAI_API_KEY"):
        build_provider(LLMSettings(provider="openai", model="gpt-4o-mini"))
    with pytest.raises(ProviderConfigError, match="ANTHROPIC_API_KEY"):
        build_provider(LLMSettings(provider="anthropic", model="claude"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "from-env")
    provider = build_provider(LLMSettings(provider="anthropic", model="claude"))
    assert isinstance(provider, ReliableProvider)
    provider.close()


def test_built_provider_answers_through_the_fake_server() -> None:
    with FakeLLMServer() as server:
        settings = LLMSettings(provider="openai", base_url=server.url, model="fake")
        provider = build_provider(settings, breakers=BreakerRegistry())
        assert isinstance(provider, ReliableProvider)
        try:
            server.push_faults("500")  # retried with the default policy
            assert provider.generate([Message.user("hi there")]).text == "hi there"
        finally:
            provider.close()
        assert server.stats.requests == 2


def test_fallbacks_build_a_chain_with_a_breaker_each() -> None:
    registry = BreakerRegistry()
    llm = SimpleNamespace(
        provider="openai",
        base_url="http://127.0.0.1:9/v1",
        model="a",
        api_key=None,
        fallback_models=["b"],
        retries=0,
        timeout_s=1.0,
        connect_timeout_s=0.2,
        read_timeout_s=0.2,
        breaker_threshold=1,
        breaker_reset_s=30.0,
        routes={},
    )
    chain = build_provider(llm, breakers=registry)
    assert isinstance(chain, FallbackChain)
    try:
        first, second = chain.providers
        assert isinstance(first, ReliableProvider)
        assert isinstance(second, ReliableProvider)
        assert first.breaker is not second.breaker
        assert first.retry.attempts == 1
        # a provider built again for the same endpoint and model shares the breaker
        again = build_provider(llm, breakers=registry)
        assert isinstance(again, FallbackChain)
        assert again.providers[0].breaker is first.breaker  # type: ignore[attr-defined]
        again.close()
    finally:
        chain.close()
