"""`POST /v1/chat/completions`: the OpenAI chat API, answered by cairn's pipeline.

The last user message is the question; the user and assistant turns before it are the
conversation's history, from which a follow-up ("and can it write them too?") is rewritten
into a standalone query before retrieval (`cairn.conversation`; the model's rewrite when one
is configured, else the term rewrite). System and tool messages are not history. `model` is
echoed. The reply's text carries `[n]` markers; the citations travel in an extension field,
`cairn`, on the completion (and on the final chunk of a stream):

    "cairn": {"citations": [...], "trace_id": "...", "abstained": false,
              "answer": "...", "usage_estimated": true,
              "query": "and can it write them too? (read, TOML, file)", "rewritten": true}

`query` is the standalone query answered (the question itself when there was no history or
it stood alone); it is on the trace too (`query`, and a `rewrite` span).

Conversations kept by the server: with `"cairn": {"conversation_id": "..."}` the stored turns
of that conversation (this tenant's, this user's) are the history instead of the messages',
and the question and its answer are added to them (`cairn.conversation.ConversationStore`,
`conversations.db`); the first request of a conversation may bring earlier turns in its
messages, which are stored as its start.

`usage` is always filled: the model's reported counts when a model answered, otherwise an
estimate of the question's and the answer's tokens (`usage_estimated: true`).

Degraded mode: when the model could not serve and the extractive answerer answered
(`answer.fallback`), the content starts with a visible note (`degraded_note`) and the
extension carries `degraded` {reason, detail, retry_after_s}.

Guardrails: the extension carries the guard stages' decisions (`guard` {input, context,
output}), `refused` (a guard blocked the request: the content is a refusal that reveals
nothing) and `reason`, the code of the guard that blocked or flagged, as `/v1/ask` does.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from anyio import CapacityLimiter
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from cairn.answer.events import AnswerDoneEvent, DegradedEvent, PipelineEvent, TokenEvent
from cairn.context import request_context
from cairn.conversation import ConversationStore, Turn
from cairn.errors import CairnError
from cairn.llm.tokens import estimate_tokens
from cairn.payloads import citation_json, degraded_json
from cairn.pipeline import Pipeline
from cairn.server.auth import Caller
from cairn.server.deps import AskCaller, StateDep, filters_for
from cairn.server.errors import ApiError, error_of
from cairn.server.routes.ask import model_failure
from cairn.server.schemas import Mode
from cairn.server.sse import SSE_HEADERS, sse_data
from cairn.server.threads import iterate_in_thread, run_sync
from cairn.types import Answer, Degraded

router = APIRouter(tags=["openai"])

CHAT_FEATURE = "chat"
"""The feature chat completions are recorded under in the cost ledger."""


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None


class ChatOptions(BaseModel):
    """cairn's own request options (an extension field, `cairn`)."""

    mode: Mode | None = None
    k: int | None = Field(None, ge=1, le=50)
    conversation_id: str | None = Field(
        None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
    )
    """Keep this conversation on the server (per tenant and user): its stored turns are the
    history, and this question and its answer are added to them."""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    cairn: ChatOptions | None = None


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatRequest, state: StateDep, caller: AskCaller) -> Response:
    """OpenAI-compatible chat completion (streaming with `stream: true`)."""
    question, sent = _conversation(body.messages)
    options = body.cairn or ChatOptions()
    pipeline = state.pipeline(options.mode)
    created = int(time.time())
    kept = _Kept(state.conversations, caller, options.conversation_id, sent)
    if body.stream:
        return StreamingResponse(
            _chunks(
                pipeline, question, kept, options.k, caller, body.model, created, state.streams
            ),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )

    def answer() -> Answer:
        with request_context(tenant=caller.tenant, user=caller.user, feature=CHAT_FEATURE):
            result = pipeline.ask(
                question,
                k=options.k,
                filters=filters_for(caller),
                user=caller.user,
                tenant=caller.tenant,
                history=kept.history(question),
            )
        kept.remember(question, result)
        return result

    try:
        result = await run_sync(answer, limiter=state.threads)
    except CairnError as exc:
        raise model_failure(exc) from exc
    content = result.text
    if result.degraded is not None:
        content = degraded_note(result.degraded) + content
    return JSONResponse(
        {
            "id": f"chatcmpl-{result.trace_id}",
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": _usage(question, result),
            "cairn": _extension(result, question, kept.conversation),
        }
    )


async def _chunks(
    pipeline: Pipeline,
    question: str,
    kept: _Kept,
    k: int | None,
    caller: Caller,
    model: str,
    created: int,
    limiter: CapacityLimiter,
) -> AsyncIterator[str]:
    chunk_id = f"chatcmpl-{int(time.time() * 1000):x}"

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return sse_data(
            {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for event in iterate_in_thread(
            lambda: _stream(pipeline, question, kept, k, caller), limiter=limiter
        ):
            if isinstance(event, DegradedEvent):
                yield chunk({"content": degraded_note(event.degraded)})
            elif isinstance(event, TokenEvent):
                yield chunk({"content": event.text})
            elif isinstance(event, AnswerDoneEvent):
                a = event.answer
                yield chunk(
                    {},
                    "stop",
                    usage=_usage(question, a),
                    cairn=_extension(a, question, kept.conversation),
                )
    except Exception as exc:
        failure = model_failure(exc) if isinstance(exc, CairnError) else exc
        _, error, _ = error_of(failure)
        yield sse_data(error)
        return
    yield sse_data("[DONE]")


class _Kept:
    """The request's history: the stored turns of a kept conversation, else the messages'
    (a kept conversation with nothing stored yet takes the messages' turns as its start)."""

    def __init__(
        self,
        store: ConversationStore,
        caller: Caller,
        conversation: str | None,
        sent: list[Turn],
    ) -> None:
        self.store = store
        self.caller = caller
        self.conversation = conversation
        self.sent = sent
        self.imported: list[Turn] = []
        self.retry = False

    def history(self, question: str) -> list[Turn]:
        if self.conversation is None:
            return self.sent
        stored = self.store.turns(self.caller.tenant, self.caller.user, self.conversation)
        if len(stored) >= 2 and stored[-2] == Turn.user(question):
            # the same question again right after its answer: a client's retry (the OpenAI
            # SDK retries timed-out requests), answered as the first try was, stored once
            self.retry = True
            stored = stored[:-2]
        self.imported = [] if stored else self.sent
        return stored or self.sent

    def remember(self, question: str, answer: Answer) -> None:
        if self.conversation is None or self.retry:
            return
        if answer.guard.refused:  # a refused question never joins the history it could steer
            return
        turns = [*self.imported, Turn.user(question), Turn.assistant(answer.text)]
        self.store.append(self.caller.tenant, self.caller.user, self.conversation, turns)


def _stream(
    pipeline: Pipeline, question: str, kept: _Kept, k: int | None, caller: Caller
) -> Iterator[PipelineEvent]:
    """`Pipeline.ask_stream` for this caller (run it in one thread: `iterate_in_thread`)."""
    with request_context(tenant=caller.tenant, user=caller.user, feature=CHAT_FEATURE):
        for event in pipeline.ask_stream(
            question,
            k=k,
            filters=filters_for(caller),
            user=caller.user,
            tenant=caller.tenant,
            history=kept.history(question),
        ):
            if isinstance(event, AnswerDoneEvent):
                kept.remember(question, event.answer)
            yield event


MAX_QUESTION_CHARS = 4000


def _text(message: ChatMessage) -> str:
    content = message.content
    if isinstance(content, list):
        content = " ".join(p.text for p in content if p.type == "text" and p.text)
    return (content or "").strip()


def _conversation(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    """The question (the last user message with text) and the user and assistant turns
    before it, oldest first (the pipeline keeps them to `answer.history_tokens`)."""
    for last in range(len(messages) - 1, -1, -1):
        question = _text(messages[last]) if messages[last].role == "user" else ""
        if question:
            break
    else:
        raise ApiError(400, "no user message with text in 'messages': the last one is the question")
    history = [
        Turn(role="user" if m.role == "user" else "assistant", text=text[:MAX_QUESTION_CHARS])
        for m in messages[:last]
        if m.role in ("user", "assistant") and (text := _text(m))
    ]
    return question[:MAX_QUESTION_CHARS], history


_NOTES = {
    "unavailable": "the language model is unavailable",
    "circuit_open": "the language model is unavailable (paused after repeated failures)",
    "budget_exhausted": "the model budget is spent",
    "rate_limited": "the language model is rate-limited",
}


def degraded_note(degraded: Degraded) -> str:
    """The line a degraded chat answer starts with, so a chat client's reader sees it."""
    why = _NOTES.get(degraded.reason, f"the language model could not answer ({degraded.reason})")
    return f"_Note: {why}; this answer is quoted from the documents without it._\n\n"


def _usage(question: str, answer: Answer) -> dict[str, int]:
    if answer.usage.input_tokens or answer.usage.output_tokens:
        prompt, completion = answer.usage.input_tokens, answer.usage.output_tokens
    else:
        prompt, completion = estimate_tokens(question), estimate_tokens(answer.text)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _extension(answer: Answer, question: str, conversation: str | None) -> dict[str, Any]:
    measured = bool(answer.usage.input_tokens or answer.usage.output_tokens)
    return {
        "citations": [citation_json(c) for c in answer.citations],
        "trace_id": answer.trace_id,
        "abstained": answer.abstained,
        "answer": answer.text,
        "cost_usd": answer.cost_usd,
        "usage_estimated": answer.usage.estimated or not measured,
        "degraded": degraded_json(answer.degraded) if answer.degraded else None,
        "refused": answer.guard.refused,
        "reason": answer.guard.reason or None,
        "guard": {
            "input": answer.guard.input,
            "context": answer.guard.context,
            "output": answer.guard.output,
        },
        "query": answer.query or question,
        "rewritten": (answer.query or question) != question,
        "conversation_id": conversation,
        "latency_ms": round(answer.latency_ms, 2),
    }
