"""Degrade, don't die: `cairn serve` starts without calling the model, gets ready with the
model down or the budget spent, and answers from the documents (`degraded`) meanwhile.

The subprocess tests run the real `cairn serve` against an unreachable endpoint
(127.0.0.1:9, the discard port: connection refused), a spent budget and the fake
OpenAI-compatible server; the in-process ones check each surface of degraded mode."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cairn.config import AnswerSettings, LLMSettings, Settings
from cairn.llm.fake_server import FakeLLMServer
from tests.server.conftest import app_client, copy_workspace, settings_for, state_of

UNREACHABLE = "http://127.0.0.1:9/v1"
QUESTION = "How do I give a dataclass field a mutable default?"
START_S = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONWARNINGS="ignore")
    env.update(extra)
    return env


def _llm_env(base_url: str, **extra: str) -> dict[str, str]:
    return _env(
        CAIRN_LLM_PROVIDER="openai",
        CAIRN_LLM_BASE_URL=base_url,
        CAIRN_LLM_MODEL="fake-model",
        CAIRN_LLM_API_KEY="test-key",
        CAIRN_LLM_PRICE_INPUT_PER_MTOK="1.0",
        CAIRN_LLM_PRICE_OUTPUT_PER_MTOK="2.0",
        CAIRN_LLM_RETRY_BASE_DELAY_S="0.05",
        **extra,
    )


@contextmanager
def serve(workspace: Path, env: dict[str, str]) -> Iterator[httpx.Client]:
    """The real `cairn serve` on a free port; yields a client once `/readyz` says 200."""
    port = _free_port()
    command = [sys.executable, "-m", "cairn", "serve", "-w", str(workspace), "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--no-access-log", "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            deadline = time.monotonic() + START_S
            while True:
                if process.poll() is not None:
                    _, err = process.communicate(timeout=30)
                    raise AssertionError(f"cairn serve exited {process.returncode}:\n{err}")
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "cairn serve not ready in time"
                time.sleep(0.1)
            yield http
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=30)


def _degraded_cited_answer(http: httpx.Client, reason: str) -> dict[str, Any]:
    r = http.post("/v1/ask", json={"question": QUESTION})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["degraded"]["reason"] == reason, answer
    assert answer["degraded"]["detail"]
    assert not answer["abstained"] and answer["citations"]
    assert all(c["verified"] is not None for c in answer["citations"])  # verified as usual
    assert answer["cost_usd"] == 0.0
    return answer


@pytest.mark.integration
def test_serve_with_the_model_unreachable_is_ready_searches_and_answers_degraded(
    base_workspace: Path, tmp_path: Path
) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    env = _llm_env(UNREACHABLE, CAIRN_SERVER_CHECK_LLM_AT_START="true")
    with serve(ws, env) as http:
        ready = http.get("/readyz").json()
        assert ready["status"] == "ready" and ready["store"] == "ok"
        assert ready["lexical_index"] in ("memory", "fts5")
        assert ready["llm"] == "unavailable"  # from the free start-up check
        hits = http.post("/v1/search", json={"query": "dataclass default_factory"}).json()
        assert hits["results"]
        _degraded_cited_answer(http, "unavailable")
        metrics = http.get("/metrics").text
        assert 'cairn_degraded_answers_total{reason="unavailable"} 1.0' in metrics


@pytest.mark.integration
def test_serve_with_the_budget_spent_is_ready_searches_and_answers_degraded(
    base_workspace: Path, tmp_path: Path
) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    with FakeLLMServer() as fake:
        env = _llm_env(fake.url, CAIRN_BUDGET_DAILY_USD="0.0000001")
        with serve(ws, env) as http:
            assert http.get("/readyz").json()["llm"] == "ok"  # nothing is known to fail yet
            assert http.post("/v1/search", json={"query": "json dumps"}).json()["results"]
            _degraded_cited_answer(http, "budget_exhausted")
            ready = http.get("/readyz").json()
            assert ready["status"] == "ready" and ready["llm"] == "budget_exhausted"
        assert fake.stats.requests == 0  # the budget refused before any call


@pytest.mark.integration
def test_serve_makes_no_model_call_at_start(base_workspace: Path, tmp_path: Path) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    fake = FakeLLMServer()
    env = _llm_env(fake.url, CAIRN_SERVER_CHECK_LLM_AT_START="true")
    with fake, serve(ws, env) as http:
        assert http.get("/readyz").json()["llm"] == "ok"  # the free check reached it
        assert fake.stats.requests == 0 and fake.requests == []  # no paid call at start
        r = http.post("/v1/ask", json={"question": QUESTION})
        assert r.status_code == 200 and r.json()["degraded"] is None
        assert fake.stats.requests == 1  # the model answers requests as before


# -- in process: each surface of degraded mode -------------------------------------------------


def _settings(
    workspace: Path, base_url: str, model: str, server: dict[str, Any] | None = None, **answer: Any
) -> Settings:
    llm = LLMSettings(
        provider="openai",
        base_url=base_url,
        model=model,  # its own circuit breaker: breakers are shared per endpoint and model
        api_key="test-key",
        price_input_per_mtok=1.0,
        price_output_per_mtok=2.0,
        retries=0,
    )
    return settings_for(workspace, llm=llm, answer=AnswerSettings(**answer), server=server or {})


def _with_daily_limit(settings: Settings, usd: str) -> Settings:
    budget = settings.budget.model_copy(update={"daily_usd": Decimal(usd)})
    return settings.model_copy(update={"budget": budget})


def _sse(body: str) -> list[tuple[str, Any]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_every_surface_marks_a_degraded_answer(workspace: Path) -> None:
    with app_client(_settings(workspace, UNREACHABLE, "down-everywhere")) as client:
        r = client.post("/v1/ask", json={"question": QUESTION})
        assert r.status_code == 200 and r.json()["degraded"]["reason"] == "unavailable"
        trace = client.get(f"/v1/traces/{r.json()['trace_id']}").json()
        assert trace["spans"][0]["attributes"]["degraded"] == "unavailable"

        with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as s:
            events = _sse(s.read().decode())
        assert events[0][0] == "degraded" and events[0][1]["reason"] == "unavailable"
        assert events[-1][0] == "done" and events[-1][1]["degraded"]["reason"] == "unavailable"

        body = {"model": "cairn", "messages": [{"role": "user", "content": QUESTION}]}
        chat = client.post("/v1/chat/completions", json=body).json()
        content = chat["choices"][0]["message"]["content"]
        assert content.startswith("_Note: the language model is unavailable")
        assert chat["cairn"]["degraded"]["reason"] == "unavailable"
        with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as s:
            streamed = s.read().decode()
        assert "_Note: the language model is unavailable" in streamed

        metrics = client.get("/metrics").text
        assert 'cairn_degraded_answers_total{reason="unavailable"} 4.0' in metrics
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["llm"] == "unavailable"


def test_fallback_error_answers_503_with_retry_after(workspace: Path) -> None:
    with FakeLLMServer() as fake:
        settings = _settings(workspace, fake.url, "rate-limited", fallback="error")
        with app_client(settings) as client:
            fake.push_faults("429:7")
            r = client.post("/v1/ask", json={"question": QUESTION})
            assert r.status_code == 503 and r.headers["retry-after"] == "7"
            assert r.json()["error"]["detail"] == {"reason": "rate_limited"}
            fake.push_faults("503")
            r = client.post("/v1/ask", json={"question": QUESTION})
            assert r.status_code == 503 and r.json()["error"]["detail"]["reason"] == "unavailable"


def test_fallback_error_answers_the_budgets_own_status(workspace: Path) -> None:
    with FakeLLMServer() as fake:
        settings = _settings(workspace, fake.url, "budgeted", fallback="error")
        settings = settings.model_copy(
            update={
                "budget": settings.budget.model_copy(update={"daily_usd": Decimal("0.0000001")})
            }
        )
        with app_client(settings) as client:
            r = client.post("/v1/ask", json={"question": QUESTION})
            assert r.status_code == 402 and r.json()["error"]["type"] == "budget_exceeded"
            assert int(r.headers["retry-after"]) >= 1  # until the day's end (UTC)
        assert fake.stats.requests == 0


def test_a_degraded_answer_spends_nothing_and_leaves_the_ceiling_untouched(
    workspace: Path,
) -> None:
    settings = _with_daily_limit(_settings(workspace, UNREACHABLE, "down-ledger"), "1")
    with app_client(settings) as client:
        for _ in range(3):
            answer = client.post("/v1/ask", json={"question": QUESTION}).json()
            assert answer["degraded"] is not None and answer["cost_usd"] == 0.0
        budget = state_of(client).budget
        entries, [daily] = budget.entries(), budget.usage()
    assert entries and all(e.cost_usd == 0 for e in entries)
    assert daily.spent_usd == 0 and daily.reserved_usd == 0  # nothing held, nothing spent
    assert daily.limit_usd == Decimal("1")


def test_readiness_names_a_missing_model(workspace: Path) -> None:
    with app_client(settings_for(workspace)) as client:
        ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["llm"] == "not_configured"
    assert ready["store"] == "ok"


def test_start_calls_no_model_in_process(workspace: Path) -> None:
    """The warm-up loads the local models and indexes only (before: one paid answer)."""
    with FakeLLMServer() as fake, app_client(_settings(workspace, fake.url, "warm")) as client:
        assert client.get("/readyz").status_code == 200
        assert fake.stats.requests == 0
        assert state_of(client).budget.entries() == []  # no ledger row per start


def test_readiness_follows_the_model_down_and_back(workspace: Path) -> None:
    with FakeLLMServer() as fake, app_client(_settings(workspace, fake.url, "flaky")) as client:
        assert client.get("/readyz").json()["llm"] == "ok"
        fake.push_faults("503")
        r = client.post("/v1/ask", json={"question": QUESTION})
        assert r.json()["degraded"]["reason"] == "unavailable"
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["llm"] == "unavailable"
        assert "503" in ready["llm_detail"]
        r = client.post("/v1/ask", json={"question": QUESTION})
        assert r.json()["degraded"] is None  # the model answers again
        assert client.get("/readyz").json()["llm"] == "ok"


def test_evaluations_measure_the_model_never_the_fallback(workspace: Path) -> None:
    from cairn.answer.extractive import ExtractiveAnswerer
    from cairn.workspace import Workspace

    ws = Workspace(_settings(workspace, UNREACHABLE, "eval-model"))
    try:
        assert isinstance(ws.pipeline().fallback, ExtractiveAnswerer)  # serve, ask
        assert ws.pipeline(fallback=False).fallback is None  # cairn eval run
        strict = Workspace(_settings(workspace, UNREACHABLE, "eval-model", fallback="error"))
        try:
            assert strict.pipeline().fallback is None
        finally:
            strict.close()
    finally:
        ws.close()


@pytest.mark.parametrize("auth", ["local", "keys"])
def test_the_start_up_check_is_reported_and_never_fatal(workspace: Path, auth: str) -> None:
    server = {"auth": auth, "check_llm_at_start": True}
    with app_client(_settings(workspace, UNREACHABLE, f"checked-{auth}", server)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["llm"] == "unavailable"
    if auth == "local":
        assert "GET http://127.0.0.1:9/v1/models" in ready.json()["llm_detail"]
    else:  # /readyz needs no key: it names no endpoint
        assert ready.json()["llm_detail"] == "" and "127.0.0.1:9" not in ready.text
