"""Every fault the fake server can inject ends in an answer (retry, fallback) or a clear error,
never a hang. Timeouts are a few hundred milliseconds so the whole file runs in seconds."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from cairn.llm.base import Completed, Message, ModelSettings, Response, TextDelta
from cairn.llm.breaker import CircuitBreaker
from cairn.llm.errors import (
    AllProvidersFailed,
    BadResponse,
    CircuitOpen,
    LLMError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
)
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.openai import OpenAIProvider
from cairn.llm.reliable import FallbackChain, ReliableProvider
from cairn.llm.retry import RetryPolicy
from cairn.llm.scripted import ScriptedModel
from tests.llm.conftest import FAST, NEVER_A_HANG

QUICK = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=1.0)
FAULTS = ["429:0.05", "500", "503", "malformed", "cut", "disconnect", "hang", "stall"]
QUESTION = [Message.user("alpha beta gamma delta")]


def _reliable(
    provider: OpenAIProvider, breaker: CircuitBreaker, deadline: float = 3.0
) -> ReliableProvider:
    return ReliableProvider(
        provider, retry=QUICK, breaker=breaker, deadline=deadline, rng=random.Random(0)
    )


def _ask(provider: ReliableProvider | FallbackChain, stream: bool, **kw: object) -> Response:
    settings = ModelSettings(**kw)  # type: ignore[arg-type]
    if not stream:
        return provider.generate(QUESTION, settings=settings)
    events = list(provider.stream(QUESTION, settings=settings))
    final = events[-1]
    assert isinstance(final, Completed)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == final.response.text  # what was streamed is the answer, nothing repeated
    return final.response


@pytest.mark.parametrize("stream", [False, True], ids=["generate", "stream"])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_transient_fault_is_retried_into_an_answer(
    fault: str,
    stream: bool,
    server: FakeLLMServer,
    provider: OpenAIProvider,
    breaker: CircuitBreaker,
) -> None:
    server.push_faults(fault)
    started = time.monotonic()
    response = _ask(_reliable(provider, breaker), stream)
    assert response.text == "alpha beta gamma delta"
    assert server.stats.requests == 2
    assert time.monotonic() - started < NEVER_A_HANG


@pytest.mark.parametrize("stream", [False, True], ids=["generate", "stream"])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_persistent_fault_ends_in_a_clear_error(
    fault: str,
    stream: bool,
    server: FakeLLMServer,
    provider: OpenAIProvider,
    breaker: CircuitBreaker,
) -> None:
    started = time.monotonic()
    with pytest.raises(LLMError) as info:
        _ask(_reliable(provider, breaker), stream, extra_headers={"X-Fake-Fault": fault})
    elapsed = time.monotonic() - started
    error = info.value
    message = str(error)
    assert message.startswith("openai:fake-model: ")
    assert "(after 3 attempts)" in message
    assert error.hint and error.hint in message  # says what to check
    assert isinstance(error, ProviderTimeout | RateLimited | ProviderUnavailable | BadResponse)
    assert server.stats.requests == 3
    assert elapsed < NEVER_A_HANG  # bounded by the read timeout, never a hang


def test_retry_after_is_honoured(
    server: FakeLLMServer, provider: OpenAIProvider, breaker: CircuitBreaker
) -> None:
    slept: list[float] = []
    reliable = ReliableProvider(provider, retry=QUICK, breaker=breaker, sleep=slept.append)
    server.push_faults("429:0.4", "429:0.2")
    assert reliable.generate(QUESTION).text == "alpha beta gamma delta"
    assert len(slept) == 2
    assert 0.4 <= slept[0] <= 0.42
    assert 0.2 <= slept[1] <= 0.22


def test_a_retry_after_beyond_patience_fails_at_once(
    server: FakeLLMServer, provider: OpenAIProvider, breaker: CircuitBreaker
) -> None:
    server.push_faults("429:120")
    slept: list[float] = []
    reliable = ReliableProvider(provider, retry=QUICK, breaker=breaker, sleep=slept.append)
    with pytest.raises(RateLimited) as info:
        reliable.generate(QUESTION)
    assert info.value.retry_after == 120
    assert "HTTP 429" in str(info.value)
    assert slept == []  # no wait at all
    assert server.stats.requests == 1


def test_the_total_deadline_bounds_slow_servers(
    server: FakeLLMServer, provider: OpenAIProvider, breaker: CircuitBreaker
) -> None:
    # each token arrives within the read timeout, but the whole reply would take 2 s
    settings = {"extra_headers": {"X-Fake-TPS": "2"}}
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match="deadline"):
        _ask(_reliable(provider, breaker, deadline=0.8), True, **settings)
    assert time.monotonic() - started < NEVER_A_HANG


def test_client_errors_are_not_retried(breaker: CircuitBreaker) -> None:
    with FakeLLMServer(api_key="right") as server:
        inner = OpenAIProvider("m", base_url=server.url, api_key="wrong", timeouts=FAST)
        with inner, pytest.raises(RequestRejected, match="CAIRN_LLM_API_KEY"):
            _reliable(inner, breaker).generate(QUESTION)
        assert server.stats.requests == 1


def test_backoff_grows_with_jitter() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=4.0)
    rng = random.Random(1)
    error = ProviderUnavailable("down")
    for failures, step in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (6, 4.0)]:
        delays = {policy.delay(failures, error, rng) for _ in range(20)}
        assert all(d is not None and step / 2 <= d <= step for d in delays)
        assert len(delays) > 1  # jittered
    assert policy.delay(10, error, rng) is None
    assert policy.delay(1, RequestRejected("bad"), rng) is None


def test_breaker_opens_then_lets_one_trial_through() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, reset_after=10.0, clock=lambda: now[0])
    failure = ProviderUnavailable("HTTP 500: boom")
    breaker.record_failure(RequestRejected("bad request"))  # the caller's fault: not counted
    breaker.record_failure(failure)
    breaker.before_call("p", "m")
    breaker.record_failure(failure)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen, match=r"p:m: paused after 2 consecutive failures .*boom"):
        breaker.before_call("p", "m")
    now[0] = 10.0
    assert breaker.state == "half-open"
    breaker.before_call("p", "m")  # the trial
    with pytest.raises(CircuitOpen):
        breaker.before_call("p", "m")  # only one at a time
    breaker.record_failure(failure)
    assert breaker.state == "open"  # the trial failed
    now[0] = 20.0
    breaker.before_call("p", "m")
    breaker.record_success()
    assert breaker.state == "closed"


def test_open_breaker_fails_fast_and_fallback_answers(server: FakeLLMServer) -> None:
    breaker = CircuitBreaker(threshold=2, reset_after=60.0)
    dead = OpenAIProvider("primary", base_url=server.url, timeouts=FAST)
    backup = ScriptedModel(default=lambda request: "from the backup", model="backup")
    chain = FallbackChain([_reliable(dead, breaker), backup])
    with dead:
        server.push_faults("500", "500", "500")
        assert chain.generate(QUESTION).text == "from the backup"  # primary tried 2x, opened
        assert breaker.state == "open"
        requests = server.stats.requests
        assert chain.generate(QUESTION).text == "from the backup"
        assert server.stats.requests == requests  # the open circuit skipped the server


def test_fallback_chain_over_http_and_its_error(breaker: CircuitBreaker) -> None:
    with FakeLLMServer(hang_limit=5) as first, FakeLLMServer(model="second") as second:
        a = OpenAIProvider("first", base_url=first.url, timeouts=FAST)
        b = OpenAIProvider("second", base_url=second.url, timeouts=FAST)
        chain = FallbackChain([_reliable(a, CircuitBreaker(threshold=100)), _reliable(b, breaker)])
        with a, b:
            first.push_faults("hang", "hang", "hang")
            events = list(chain.stream(QUESTION))
            assert isinstance(events[-1], Completed)
            assert events[-1].response.model == "second"
            first.push_faults(*["500"] * 3)
            second.push_faults(*["disconnect"] * 3)
            with pytest.raises(AllProvidersFailed) as info:
                chain.generate(QUESTION)
    message = str(info.value)
    assert "every model failed" in message
    assert "openai:first: HTTP 500" in message
    assert "openai:second: connection closed" in message
    assert "CAIRN_LLM_BASE_URL" in message
    assert len(info.value.failures) == 2


def test_unreachable_server_is_a_clear_error(breaker: CircuitBreaker) -> None:
    with FakeLLMServer() as server:
        url = server.url
    started = time.monotonic()
    gone = OpenAIProvider("m", base_url=url, timeouts=FAST)
    with gone, pytest.raises(ProviderUnavailable) as info:
        _reliable(gone, breaker).generate(QUESTION)
    assert f"cannot connect to {url}" in str(info.value)
    assert "(after 3 attempts)" in str(info.value)
    assert time.monotonic() - started < NEVER_A_HANG


def test_a_diverging_retry_after_a_cut_stream_is_reported() -> None:
    class Flaky(ScriptedModel):
        """Streams half an answer then breaks; the retry says something else."""

        calls = 0

        def stream(self, messages, *, tools=(), settings=None) -> Iterator:  # type: ignore[no-untyped-def, override]
            self.calls += 1
            if self.calls == 1:
                yield TextDelta(text="The answer is ")
                raise BadResponse("connection closed mid-reply")
            yield from super().stream(messages, tools=tools, settings=settings)

    reliable = ReliableProvider(Flaky("Something else entirely."), retry=QUICK)
    received = []
    with pytest.raises(BadResponse, match="the answer so far is incomplete"):
        for event in reliable.stream(QUESTION):
            received.append(event)
    assert received == [TextDelta(text="The answer is ")]
