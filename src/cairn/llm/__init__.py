"""LLM providers: the `Provider` contract, adapters, reliability, and shipped test doubles.

Importing `cairn.llm` is light (no HTTP client); the adapters live in their own modules:

- `cairn.llm.base`: `Provider`, `StreamingProvider`, messages, tools, settings, responses
- `cairn.llm.errors`: the `LLMError` tree
- `cairn.llm.openai.OpenAIProvider`: OpenAI-compatible chat completions (OpenAI, vLLM,
  Ollama, llama.cpp server, LiteLLM proxy)
- `cairn.llm.anthropic.AnthropicProvider`: Anthropic Messages
- `cairn.llm.reliable`: `ReliableProvider` (retries, breaker, deadline), `FallbackChain`
- `cairn.llm.routing.build_provider`: all of the above from the configuration, per task
- `cairn.llm.scripted.ScriptedModel`: an in-process scripted model
- `cairn.llm.fake_server.FakeLLMServer`: a fake OpenAI-compatible HTTP server (`cairn fake-llm`)
"""

from cairn.llm.base import (
    Capabilities,
    Completed,
    JsonSchema,
    Message,
    ModelSettings,
    Provider,
    Response,
    StreamEvent,
    StreamingProvider,
    TextDelta,
    Tool,
    ToolCall,
    supports_streaming,
)
from cairn.llm.errors import (
    AllProvidersFailed,
    BadResponse,
    CircuitOpen,
    LLMError,
    ProviderConfigError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
)
from cairn.llm.replies import Reply, when
from cairn.llm.scripted import ScriptedModel

__all__ = [
    "AllProvidersFailed",
    "BadResponse",
    "Capabilities",
    "CircuitOpen",
    "Completed",
    "JsonSchema",
    "LLMError",
    "Message",
    "ModelSettings",
    "Provider",
    "ProviderConfigError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "Reply",
    "RequestRejected",
    "Response",
    "ScriptedModel",
    "StreamEvent",
    "StreamingProvider",
    "TextDelta",
    "Tool",
    "ToolCall",
    "supports_streaming",
    "when",
]
