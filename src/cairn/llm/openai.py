"""OpenAI-compatible chat completions: OpenAI, vLLM, Ollama, llama.cpp server, LiteLLM proxy.

`base_url` is the API root that `/chat/completions` hangs off (`https://api.openai.com/v1`,
`http://127.0.0.1:11434/v1` for Ollama, `http://127.0.0.1:8000/v1` for vLLM).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from cairn.llm.base import (
    Capabilities,
    Completed,
    Message,
    ModelSettings,
    Response,
    StreamEvent,
    TextDelta,
    Tool,
)
from cairn.llm.errors import BadResponse, LLMError, ProviderUnavailable
from cairn.llm.http import HTTPProvider, Timeouts
from cairn.llm.openai_wire import Decoded, StreamAssembler, decode_response, encode_request
from cairn.llm.structured import parse_json_output
from cairn.llm.tokens import estimate_usage

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIProvider(HTTPProvider):
    """A `StreamingProvider` for any server speaking the chat-completions protocol."""

    key_env_var = "OPENAI_API_KEY"
    capabilities = Capabilities(streaming=True, tools=True, json_schema=True)

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeouts: Timeouts | None = None,
        defaults: ModelSettings | None = None,
        transport: httpx.BaseTransport | None = None,
        name: str = "openai",
    ) -> None:
        key = self.api_key(api_key)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        super().__init__(
            model,
            name=name,
            base_url=base_url or DEFAULT_BASE_URL,
            headers=headers,
            timeouts=timeouts,
            defaults=defaults,
            transport=transport,
        )

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Response:
        merged = (settings or ModelSettings()).over(self.defaults)
        body = encode_request(self._model, messages, tools, merged)
        started = time.monotonic()
        payload = self._http.post(
            "/chat/completions", body, timeout=merged.timeout, headers=merged.extra_headers
        )
        self._raise_embedded_error(payload)
        try:
            decoded = decode_response(payload)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise self._bad(f"unexpected reply shape ({exc!r})") from exc
        return self._response(decoded, messages, merged, started)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool] = (),
        settings: ModelSettings | None = None,
    ) -> Iterator[StreamEvent]:
        merged = (settings or ModelSettings()).over(self.defaults)
        body = encode_request(self._model, messages, tools, merged, stream=True)
        started = time.monotonic()
        assembler = StreamAssembler()
        done = False
        with self._http.stream(
            "/chat/completions", body, timeout=merged.timeout, headers=merged.extra_headers
        ) as events:
            for event in events:
                if event.data.strip() == "[DONE]":
                    done = True
                    break
                try:
                    chunk = json.loads(event.data)
                except ValueError as exc:
                    raise self._bad(f"malformed JSON in a stream chunk ({exc})") from exc
                self._raise_embedded_error(chunk)
                try:
                    text = assembler.add(chunk)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise self._bad(f"unexpected chunk shape ({exc!r})") from exc
                if text:
                    yield TextDelta(text=text)
        if not done and assembler.finish is None:
            raise self._bad("the stream ended before its last chunk ([DONE])")
        try:
            decoded = assembler.result()
        except ValueError as exc:
            raise self._bad(f"malformed tool-call arguments ({exc})") from exc
        yield Completed(response=self._response(decoded, messages, merged, started))

    def _response(
        self,
        decoded: Decoded,
        messages: Sequence[Message],
        settings: ModelSettings,
        started: float,
    ) -> Response:
        parsed = None
        if settings.json_schema is not None and not decoded.tool_calls:
            parsed = parse_json_output(decoded.text, self._bad)
        return Response(
            text=decoded.text,
            tool_calls=decoded.tool_calls,
            finish_reason=decoded.finish_reason,
            usage=decoded.usage or estimate_usage(messages, decoded.text, decoded.tool_calls),
            model=decoded.model or self._model,
            provider=self._name,
            parsed=parsed,
            latency_ms=(time.monotonic() - started) * 1000,
        )

    def _raise_embedded_error(self, payload: Any) -> None:
        if isinstance(payload, Mapping) and payload.get("error"):
            error = payload["error"]
            detail = error.get("message", error) if isinstance(error, Mapping) else error
            raise ProviderUnavailable(
                f"the server reported an error: {detail}",
                provider=self._name,
                model=self._model,
                hint="check the server's logs",
            )

    def _bad(self, message: str) -> LLMError:
        return BadResponse(
            message,
            provider=self._name,
            model=self._model,
            hint="the server does not speak the chat-completions protocol correctly; "
            "check CAIRN_LLM_BASE_URL",
        )
