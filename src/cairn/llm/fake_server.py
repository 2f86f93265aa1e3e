"""A fake OpenAI-compatible server on 127.0.0.1, speaking the real protocol over HTTP (and
Anthropic's Messages API at `/v1/messages`: `AnthropicProvider(base_url=server.anthropic_url)`,
text and tool calls, complete or streamed).

    with FakeLLMServer() as server:                  # port 0: the OS picks one
        provider = OpenAIProvider("fake", base_url=server.url)
        server.push_faults("429:0.1", "500")           # the next two chat requests fail
        server.enqueue("Scripted answer. [1]")         # then this reply
        ...

Or from a shell: `cairn fake-llm --port 8001`, then `CAIRN_LLM_PROVIDER=openai
CAIRN_LLM_BASE_URL=http://127.0.0.1:8001/v1 CAIRN_LLM_MODEL=fake`.

Replies come from a `cairn.llm.replies.Responder` (queue, rules, RAG default). Streaming
sends `data: {chunk}` events and `data: [DONE]`, with a final usage chunk when the request
sets `stream_options.include_usage`.

Faults, one per chat request, from the `X-Fake-Fault` header or else the fault queue
(`push_faults(...)`, or `POST /_fake/faults {"faults": [...]}`):

| spec          | what happens                                                    |
|---------------|-----------------------------------------------------------------|
| `429[:s]`     | HTTP 429 with `Retry-After: s` (default 1)                      |
| `500`, `503`… | that HTTP status with an OpenAI-style error body                |
| `hang`        | reads the request, never answers (until `hang_limit` or close)  |
| `stall`       | streams half the reply, then goes silent                        |
| `cut`         | sends half the reply, then closes the connection                |
| `malformed`   | a 200 whose JSON (or one stream chunk) is invalid               |
| `disconnect`  | closes the connection without any response                      |
| `ok`          | no fault (useful in a queue)                                    |

Latency: `ttft` seconds before the first token, `tps` tokens per second after it (server
options, or `X-Fake-TTFT` / `X-Fake-TPS` headers per request). `X-Fake-No-Usage: 1` leaves
usage out so clients must estimate. With `prompt_cache=True` (`cairn fake-llm --prompt-cache`)
prompts that share a long prefix report `prompt_tokens_details.cached_tokens` the way OpenAI's
automatic prompt cache does (`cairn.llm.prefix_cache`), and Messages requests report
`cache_read_input_tokens` / `cache_creation_input_tokens` for the prefixes they mark with
`cache_control`, the way Anthropic's does. `prefill_tps` (`--prefill-tps`) adds one second
per `prefill_tps` uncached prompt tokens to the time to the first token, so caching shows in
the latency too.

Control endpoints: `GET /_fake/requests` (what was asked), `GET /_fake/stats` (request and
token counts), `POST /_fake/replies {"replies": ["text" | {"text", "tool_calls"}]}`,
`POST /_fake/reset`, `GET /v1/models`, `GET /health`.

Built on the standard library's threading HTTP server: no extra dependency, SSE is plain
chunked transfer encoding, and it starts in milliseconds inside a test.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from cairn.llm.base import Message, Tool, ToolCall
from cairn.llm.openai_wire import ChatRequest, decode_request, encode_tool_call, usage_payload
from cairn.llm.prefix_cache import BreakpointCache, PrefixCache, messages_units
from cairn.llm.replies import Reply, Request, Responder, Scripted
from cairn.llm.scripted import pieces
from cairn.llm.sse import format_sse
from cairn.llm.tokens import estimate_output_tokens, estimate_prompt_tokens
from cairn.types import Usage

log = logging.getLogger(__name__)

FaultKind = Literal["status", "hang", "stall", "cut", "malformed", "disconnect", "ok"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Fault:
    kind: FaultKind
    status: int = 500
    retry_after: float | None = None

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """`429`, `429:0.5`, `500`, `hang`, `stall`, `cut`, `malformed`, `disconnect`, `ok`."""
        head, _, arg = spec.strip().lower().partition(":")
        if head.isdigit():
            status = int(head)
            retry = float(arg) if arg else (1.0 if status == 429 else None)
            return cls(kind="status", status=status, retry_after=retry)
        if head in ("hang", "stall", "cut", "malformed", "disconnect", "ok"):
            return cls(kind=head)  # type: ignore[arg-type]
        raise ValueError(
            f"unknown fault {spec!r}: use a status (429[:seconds], 500, ...), hang, stall, "
            "cut, malformed, disconnect or ok"
        )


@dataclass(kw_only=True, slots=True)
class Stats:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    faults: dict[str, int] = field(default_factory=dict)


class FakeLLMServer:
    """The server; `start()` runs it in a thread, `serve_forever()` in the foreground."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str = "fake-model",
        responder: Responder | None = None,
        ttft: float = 0.0,
        tps: float | None = None,
        api_key: str | None = None,
        hang_limit: float = 30.0,
        faults: Iterable[str] = (),
        prompt_cache: bool = False,
        prefill_tps: float | None = None,
    ) -> None:
        self.host = host
        self.model = model
        self.responder = responder or Responder()
        self.ttft = ttft
        self.tps = tps
        self.api_key = api_key
        self.hang_limit = hang_limit
        """Longest a `hang`/`stall` lasts, so a forgotten client cannot pin a thread forever."""
        self.stats = Stats()
        self.prefill_tps = prefill_tps
        """Prompt tokens processed per second before the first token (None: no prefill
        time): each uncached prompt token adds `1 / prefill_tps` to the time to first token,
        cached ones nothing, so prompt caching shows in the latency as it does at a provider."""
        self.breakpoint_cache = BreakpointCache() if prompt_cache else None
        """The same for Anthropic's `/v1/messages`: prefixes marked with `cache_control`
        (`cairn.llm.prefix_cache.BreakpointCache`)."""
        self.prefix_cache = PrefixCache() if prompt_cache else None
        """With `prompt_cache`, prompts sharing a long prefix report cached tokens the way
        OpenAI's automatic prompt cache does (`cairn.llm.prefix_cache`)."""
        self._faults: deque[Fault] = deque(Fault.parse(f) for f in faults)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self._httpd = _HTTPServer((host, port), _Handler, self)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL clients use (ends in `/v1`)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        """The base URL an Anthropic client uses (it adds `/v1/messages`)."""
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[Request]:
        return self.responder.history

    def enqueue(self, *replies: Scripted) -> None:
        self.responder.enqueue(*replies)

    def push_faults(self, *specs: str) -> None:
        """Faults for the next chat requests, one each, in order."""
        parsed = [Fault.parse(s) for s in specs]
        with self._lock:
            self._faults.extend(parsed)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.stats = Stats()
        if self.prefix_cache is not None:
            self.prefix_cache.clear()
        if self.breakpoint_cache is not None:
            self.breakpoint_cache.clear()
        self.responder.reset()

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._release()

    def close(self) -> None:
        """Stop serving, wake hanging handlers, close every connection and the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._release()

    def _release(self) -> None:
        self._stopping.set()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()  # joins the handler threads

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- used by the handler -------------------------------------------------------------------

    def next_fault(self, header: str | None) -> Fault | None:
        if header:
            return Fault.parse(header)
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def count(self, usage: Usage | None, fault: Fault | None) -> None:
        with self._lock:
            self.stats.requests += 1
            if usage is not None:
                self.stats.prompt_tokens += usage.input_tokens
                self.stats.completion_tokens += usage.output_tokens
                self.stats.cached_tokens += usage.cache_read_tokens
            if fault is not None:
                name = str(fault.status) if fault.kind == "status" else fault.kind
                self.stats.faults[name] = self.stats.faults.get(name, 0) + 1

    def prefill(self, usage: Usage, uncached: int) -> float:
        """Seconds of modelled prefill for `uncached` prompt tokens."""
        return uncached / self.prefill_tps if self.prefill_tps else 0.0

    def wait(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; True when it is."""
        return (seconds > 0 and self._stopping.wait(seconds)) or self._stopping.is_set()

    def track(self, conn: socket.socket, active: bool) -> None:
        with self._lock:
            if active:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], fake: FakeLLMServer):
        self.fake = fake
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up on a kept-alive connection is not an error worth a trace."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake.track(self.connection, True)

    def finish(self) -> None:
        self.server.fake.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # -- routing ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        fake = self.server.fake
        if self.path in ("/v1/models", "/models"):
            self._json(200, {"object": "list", "data": [{"id": fake.model, "object": "model"}]})
        elif self.path == "/_fake/requests":
            self._json(200, {"requests": [_request_json(r) for r in fake.requests]})
        elif self.path == "/_fake/stats":
            s = fake.stats
            self._json(
                200,
                {
                    "requests": s.requests,
                    "prompt_tokens": s.prompt_tokens,
                    "completion_tokens": s.completion_tokens,
                    "faults": s.faults,
                },
            )
        elif self.path == "/health":
            self._json(200, {"status": "ok"})
        else:
            self._error(404, f"no route {self.path}", "not_found")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            self._error(400, "the body is not valid JSON", "invalid_request_error")
            return
        fake = self.server.fake
        if self.path in ("/v1/chat/completions", "/chat/completions"):
            self._chat(payload)
        elif self.path == "/v1/messages":
            self._messages(payload)
        elif self.path == "/_fake/faults":
            try:
                fake.push_faults(*payload.get("faults", ()))
            except ValueError as exc:
                self._error(400, str(exc), "invalid_request_error")
                return
            self._json(200, {"queued": len(payload.get("faults", ()))})
        elif self.path == "/_fake/replies":
            replies = [_reply_from_json(r) for r in payload.get("replies", ())]
            fake.enqueue(*replies)
            self._json(200, {"queued": len(replies)})
        elif self.path == "/_fake/reset":
            fake.reset()
            self._json(200, {"reset": True})
        else:
            self._error(404, f"no route {self.path}", "not_found")

    # -- chat completions ---------------------------------------------------------------------

    def _chat(self, payload: Any) -> None:
        fake = self.server.fake
        if fake.api_key and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
            fake.count(None, None)
            self._error(401, "Incorrect API key provided", "invalid_api_key")
            return
        try:
            chat = decode_request(payload)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self._error(400, f"not a chat completions request ({exc!r})", "invalid_request_error")
            return
        try:
            fault = fake.next_fault(self.headers.get("X-Fake-Fault"))
        except ValueError as exc:
            self._error(400, str(exc), "invalid_request_error")
            return
        request = Request(
            messages=chat.messages,
            tools=chat.tools,
            settings=chat.settings,
            model=chat.model,
            stream=chat.stream,
        )
        if fault is not None and fault.kind in ("status", "hang", "disconnect"):
            fake.responder.record(request)
            fake.count(None, fault)
            self._early_fault(fault)
            return
        broken = fault is not None and fault.kind != "ok"
        try:
            reply = fake.responder.reply(request, consume=not broken)
        except Exception as exc:  # a scripted exception becomes a server error
            fake.count(None, fault)
            self._error(500, f"scripted failure: {exc}", "server_error")
            return
        usage = reply.usage or Usage(
            input_tokens=estimate_prompt_tokens(chat.messages),
            output_tokens=estimate_output_tokens(reply.text, reply.tool_calls),
            cache_read_tokens=(
                fake.prefix_cache.cached_tokens(chat.messages) if fake.prefix_cache else 0
            ),
        )
        fake.count(usage, fault)
        ttft = float(self.headers.get("X-Fake-TTFT") or fake.ttft)
        ttft += fake.prefill(usage, usage.input_tokens - usage.cache_read_tokens)
        tps_header = self.headers.get("X-Fake-TPS")
        tps = float(tps_header) if tps_header else fake.tps
        report = not self.headers.get("X-Fake-No-Usage")
        if chat.stream:
            self._stream(chat, reply, usage if report else None, fault, ttft, tps)
        else:
            self._complete(chat, reply, usage if report else None, fault, ttft, tps)

    # -- Anthropic messages ---------------------------------------------------------------------

    def _messages(self, payload: Any) -> None:
        """Anthropic's Messages API, text and tool calls, complete or streamed; usage split
        into uncached, cache-read and cache-write tokens (`BreakpointCache`)."""
        fake = self.server.fake
        try:
            messages = _anthropic_messages(payload)
            stream = bool(payload.get("stream"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self._error(400, f"not a messages request ({exc!r})", "invalid_request_error")
            return
        tools = tuple(
            Tool(
                name=t["name"],
                description=t.get("description", ""),
                parameters=t.get("input_schema") or {},
            )
            for t in payload.get("tools") or ()
        )
        request = Request(
            messages=messages, tools=tools, model=str(payload.get("model", "")), stream=stream
        )
        try:
            reply = fake.responder.reply(request)
        except Exception as exc:
            fake.count(None, None)
            self._error(500, f"scripted failure: {exc}", "api_error")
            return
        units, breakpoints = messages_units(payload)
        read, written = (
            fake.breakpoint_cache.usage(units, breakpoints) if fake.breakpoint_cache else (0, 0)
        )
        usage = reply.usage or Usage(
            input_tokens=len(units),
            output_tokens=estimate_output_tokens(reply.text, reply.tool_calls),
            cache_read_tokens=read,
            cache_write_tokens=written,
        )
        fake.count(usage, None)
        wire = {
            "input_tokens": usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens,
            "cache_read_input_tokens": usage.cache_read_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens,
            "output_tokens": usage.output_tokens,
        }
        ttft = float(self.headers.get("X-Fake-TTFT") or fake.ttft)
        ttft += fake.prefill(usage, usage.input_tokens - usage.cache_read_tokens)
        stop = "tool_use" if reply.tool_calls else "end_turn"
        blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
        blocks += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": dict(c.arguments)}
            for c in reply.tool_calls
        ]
        message = {
            "id": f"msg_{uuid.uuid4().hex[:12]}",
            "type": "message",
            "role": "assistant",
            "model": payload.get("model") or fake.model,
            "stop_reason": stop,
        }
        if not stream:
            if fake.wait(ttft):
                self.close_connection = True
                return
            self._json(200, {**message, "content": blocks, "usage": wire})
            return
        events = [
            format_sse(
                json.dumps(
                    {
                        "type": "message_start",
                        "message": {
                            **message,
                            "content": [],
                            "usage": {**wire, "output_tokens": 0},
                        },
                    }
                ),
                "message_start",
            )
        ]
        for i, block in enumerate(blocks):
            start = {**block, "text": ""} if block["type"] == "text" else {**block, "input": {}}
            events.append(_event("content_block_start", index=i, content_block=start))
            if block["type"] == "text":
                events += [
                    _event("content_block_delta", index=i, delta={"type": "text_delta", "text": p})
                    for p in pieces(block["text"])
                ]
            else:
                partial = json.dumps(block["input"])
                delta = {"type": "input_json_delta", "partial_json": partial}
                events.append(_event("content_block_delta", index=i, delta=delta))
            events.append(_event("content_block_stop", index=i))
        events.append(
            _event(
                "message_delta",
                delta={"stop_reason": stop},
                usage={"output_tokens": usage.output_tokens},
            )
        )
        events.append(_event("message_stop"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for i, event in enumerate(events):
                wait = ttft if i == 1 else (1 / fake.tps if fake.tps and i > 1 else 0.0)
                if fake.wait(wait):
                    self.close_connection = True
                    return
                self._chunk(event)
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _early_fault(self, fault: Fault) -> None:
        """Faults that replace the response: a status, a hang, a dropped connection."""
        fake = self.server.fake
        if fault.kind == "status":
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            kind = "rate_limit_exceeded" if fault.status == 429 else "server_error"
            self._error(fault.status, f"injected fault: HTTP {fault.status}", kind, headers)
            return
        if fault.kind == "hang":
            fake.wait(fake.hang_limit)
        self.close_connection = True

    def _complete(
        self,
        chat: ChatRequest,
        reply: Reply,
        usage: Usage | None,
        fault: Fault | None,
        ttft: float,
        tps: float | None,
    ) -> None:
        fake = self.server.fake
        delay = ttft + (len(pieces(reply.text)) / tps if tps else 0.0)
        if fake.wait(delay):
            self.close_connection = True
            return
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [encode_tool_call(c) for c in reply.tool_calls]
        payload: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": chat.model or fake.model,
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
        }
        if usage is not None:
            payload["usage"] = usage_payload(usage)
        body = json.dumps(payload).encode()
        kind = fault.kind if fault else "ok"
        if kind == "malformed":
            body = body[: len(body) // 2]
        if kind in ("cut", "stall"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if kind == "stall":
                fake.wait(fake.hang_limit)
            self.close_connection = True
            return
        self._send(200, body, "application/json")

    def _stream(
        self,
        chat: ChatRequest,
        reply: Reply,
        usage: Usage | None,
        fault: Fault | None,
        ttft: float,
        tps: float | None,
    ) -> None:
        fake = self.server.fake
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": chat.model or fake.model,
        }

        def chunk(delta: Mapping[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": dict(delta), "finish_reason": finish}
            return format_sse(json.dumps({**base, "choices": [choice]}))

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": p}) for p in pieces(reply.text)]
        events += [chunk({"tool_calls": d}) for d in _tool_call_deltas(reply.tool_calls)]
        events.append(chunk({}, reply.finish_reason))
        if usage is not None and chat.include_usage:
            events.append(
                format_sse(json.dumps({**base, "choices": [], "usage": usage_payload(usage)}))
            )
        events.append(format_sse("[DONE]"))

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        kind = fault.kind if fault else "ok"
        half = max(1, len(events) // 2)
        try:
            for i, event in enumerate(events):
                if i == half and kind in ("cut", "stall"):
                    if kind == "stall":
                        fake.wait(fake.hang_limit)
                    self.close_connection = True
                    return  # no terminating chunk: the client sees a cut stream
                if i == half and kind == "malformed":
                    self._chunk(b'data: {"id": "chatcmpl-broken", "choices": [\n\n')
                wait = ttft if i == 1 else (1 / tps if tps and i > 1 else 0.0)
                if fake.wait(wait):
                    self.close_connection = True
                    return
                self._chunk(event)
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- writing ------------------------------------------------------------------------------

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _error(
        self, status: int, message: str, kind: str, headers: Mapping[str, str] | None = None
    ) -> None:
        body = {"error": {"message": message, "type": kind, "code": kind}}
        self._send(status, json.dumps(body).encode(), "application/json", headers)


def _event(kind: str, **fields: Any) -> bytes:
    return format_sse(json.dumps({"type": kind, **fields}), kind)


def _anthropic_messages(payload: Any) -> tuple[Message, ...]:
    """A Messages API body as cairn messages (what the responder reads)."""
    out: list[Message] = []
    system = payload.get("system")
    if system:
        text = system if isinstance(system, str) else "\n\n".join(b["text"] for b in system)
        out.append(Message.system(text))
    for turn in payload["messages"]:
        content = turn["content"]
        blocks: list[dict[str, Any]] = (
            [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        )
        texts = [b["text"] for b in blocks if b.get("type") == "text"]
        if turn["role"] == "assistant":
            calls = [
                ToolCall(id=b["id"], name=b["name"], arguments=dict(b.get("input") or {}))
                for b in blocks
                if b.get("type") == "tool_use"
            ]
            out.append(Message.assistant("".join(texts), calls))
            continue
        for b in blocks:
            if b.get("type") == "tool_result":
                result = b.get("content")
                if not isinstance(result, str):
                    result = "".join(x.get("text", "") for x in result or ())
                out.append(Message.tool(str(b.get("tool_use_id")), result))
        if texts:
            out.append(Message.user("\n\n".join(texts)))
    return tuple(out)


def _tool_call_deltas(calls: tuple[ToolCall, ...]) -> list[list[dict[str, Any]]]:
    """Each call as two deltas, the way OpenAI streams them: header, then the arguments."""
    deltas: list[list[dict[str, Any]]] = []
    for index, call in enumerate(calls):
        wire = encode_tool_call(call)
        head = {**wire, "index": index, "function": {"name": call.name, "arguments": ""}}
        deltas.append([head])
        deltas.append([{"index": index, "function": {"arguments": wire["function"]["arguments"]}}])
    return deltas


def _request_json(request: Request) -> dict[str, Any]:
    return {
        "model": request.model,
        "stream": request.stream,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "tools": [t.name for t in request.tools],
    }


def _reply_from_json(value: Any) -> Reply:
    if isinstance(value, str):
        return Reply(text=value)
    calls = tuple(
        ToolCall(
            id=str(c.get("id") or f"call_{i}"),
            name=str(c["name"]),
            arguments=dict(c.get("arguments") or {}),
        )
        for i, c in enumerate(value.get("tool_calls") or ())
    )
    return Reply(text=str(value.get("text", "")), tool_calls=calls)
