"""Two `cairn serve` processes on two ports, each with a folder of its own, sharing one
Postgres and one Redis: started by the commands of docs/deploy.md ("N replicas behind a load
balancer"), run as written with their paths and ports substituted, and then used by every
test here (one pair of replicas for the module: they are heavy).

The model is the fake OpenAI-compatible server (cairn.llm.fake_server) in this process, with
a price, so asks cost money and a daily budget can run out."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cairn.budget.ledger import LedgerEntry
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.replies import Reply, Request, Responder, default_reply
from cairn.server.stores import open_server_stores
from cairn.testing.postgres import PostgresServer
from cairn.testing.redis import RedisServer
from cairn.testing.serve import ServeProcess, free_port
from cairn.types import Usage
from tests.conftest import PY_DOCS
from tests.server.conftest import bearer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (PostgresServer.available() and RedisServer.available()),
        reason="the bundled Postgres or redis-server is missing (make setup installs both)",
    ),
]

DEPLOY_MD = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
BLOCK = re.compile(r"^```sh (?P<tag>[\w-]+)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)

MAX_TOKENS = 10
"""Every model call reserves and is charged exactly this many output tokens."""
PRICE_OUTPUT_PER_MTOK = 100
CALL_USD = Decimal(PRICE_OUTPUT_PER_MTOK) * MAX_TOKENS / 1_000_000  # $0.001
CALLS_IN_BUDGET = 50
BURST = 60
"""Each key's burst; the refill is 1 a minute, so a burst sent within a minute is the limit."""


def blocks(tag: str) -> list[str]:
    found = [m["body"] for m in BLOCK.finditer(DEPLOY_MD.read_text()) if m["tag"] == tag]
    assert found, f"no ```sh {tag} block in {DEPLOY_MD}"
    return found


def substitute(text: str, values: Mapping[str, str]) -> str:
    for literal, value in values.items():
        text = re.sub(rf"(?<![\w/.]){re.escape(literal)}(?![\w])", value, text)
    return text


def run_block(block: str, env: dict[str, str], cwd: Path, log: Path) -> dict[str, str]:
    """Run a block's lines in bash as one script (`set -e`), with every variable it sets
    exported; the environment it leaves. Lines ending in `&` are not allowed here."""
    env_file = cwd / ".env-after"
    script = f"set -euo pipefail\nset -a\n{block}\nenv -0 > {env_file}\n"
    with log.open("ab") as out:
        out.write(f"$ {block}\n".encode())
        out.flush()
        done = subprocess.run(
            ["bash", "-c", script],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=900,
        )
    if done.returncode:
        raise RuntimeError(f"exit {done.returncode}:\n{block}\n{log.read_text()[-4000:]}")
    pairs = env_file.read_bytes().split(b"\0")
    env_file.unlink()
    return dict(p.decode().split("=", 1) for p in pairs if b"=" in p)


@dataclass
class Deployment:
    root: Path
    env: dict[str, str]
    """The environment after the documented commands ran (URLs, `KEY`)."""
    replicas: dict[str, ServeProcess]
    llm: FakeLLMServer
    keys: dict[str, str] = field(default_factory=dict)
    log: Path = Path()

    @property
    def a(self) -> str:
        return self.replicas["a"].url

    @property
    def b(self) -> str:
        return self.replicas["b"].url

    @property
    def urls(self) -> list[str]:
        return [self.a, self.b]


def cairn_on_path(bin_dir: Path) -> None:
    """A `cairn` command running this interpreter (and so this checkout's code)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "cairn"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cairn "$@"\n')
    shim.chmod(0o755)


def priced_reply(request: Request) -> Reply:
    """The fake model's usual answer, reporting exactly `MAX_TOKENS` output tokens."""
    reply = default_reply(request)
    return Reply(text=reply.text, usage=Usage(input_tokens=100, output_tokens=MAX_TOKENS))


def create_keys(url: str, root: Path) -> dict[str, str]:
    """The tests' keys, in the database every replica reads keys from."""
    stores = open_server_stores(root, url=url)
    try:
        return {
            name: stores.keys.create(tenant="acme", scopes=scopes, name=name)[1]
            for name, scopes in {
                "search": ("search", "documents"),
                "limited": ("documents",),
                "admin": ("admin",),
                **{f"asker{n}": ("ask",) for n in range(4)},
            }.items()
        }
    finally:
        stores.close()


@pytest.fixture(scope="module")
def deployment(base_workspace: Path) -> Iterator[Deployment]:
    # Not under pytest's tmp_path: Postgres runs as another user when the tests run as root,
    # and must traverse the folders above its data (see tests/cli/test_services.py).
    root = Path(tempfile.mkdtemp(prefix="cairn-deploy-"))
    root.chmod(0o755)
    sqlite_ws = root / "sqlite"
    shutil.copytree(base_workspace, sqlite_ws)
    cairn_on_path(root / "bin")
    ports = {"a": free_port(), "b": free_port()}
    values = {
        "/srv/cairn": str(root),
        "~/.cairn": str(sqlite_ws),
        "8000": str(ports["a"]),
        "8001": str(ports["b"]),
    }
    responder = Responder()
    responder.add_rule(priced_reply)
    llm = FakeLLMServer(responder=responder).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env |= {
        "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "CAIRN_LLM_PROVIDER": "openai",
        "CAIRN_LLM_BASE_URL": llm.url,
        "CAIRN_LLM_MODEL": llm.model,
        "CAIRN_LLM_API_KEY": "test",
        "CAIRN_LLM_RETRIES": "0",
        "CAIRN_LLM_MAX_TOKENS": str(MAX_TOKENS),
        "CAIRN_LLM_PRICE_INPUT_PER_MTOK": "0",
        "CAIRN_LLM_PRICE_OUTPUT_PER_MTOK": str(PRICE_OUTPUT_PER_MTOK),
        "CAIRN_BUDGET_DAILY_USD": str(CALL_USD * CALLS_IN_BUDGET),
        "CAIRN_SERVER_RATE_LIMIT_PER_MINUTE": "1",
        "CAIRN_SERVER_RATE_LIMIT_BURST": str(BURST),
        "CAIRN_SERVER_REQUEST_TIMEOUT_S": "600",
        # a killed replica's job is taken over after this (60 s by default)
        "CAIRN_SERVER_JOB_LEASE_S": "20",
    }
    log = root / "commands.log"
    replicas: dict[str, ServeProcess] = {}
    deployment = Deployment(root=root, env=env, replicas=replicas, llm=llm, log=log)
    try:
        services, *setup = blocks("replicas")
        try:
            env = run_block(substitute(services, values), env, root, log)
        except RuntimeError as exc:
            pytest.skip(f"the servers could not start here: {exc}")
        deployment.keys = create_keys(env["CAIRN_STORE_URL"], root)
        for block in setup:
            block = substitute(block, values)
            lines = [line for line in block.splitlines() if line.strip()]
            background = [line for line in lines if line.rstrip().endswith("&")]
            if not background:
                env = run_block(block, env, root, log)
                continue
            assert len(background) == len(lines), "a block mixes background and other lines"
            for name, line in zip(("a", "b"), background, strict=True):
                port = ports[name]
                assert f"--port {port}" in line, line
                replicas[name] = ServeProcess(
                    line.rstrip().removesuffix("&"),
                    url=f"http://127.0.0.1:{port}",
                    env=env,
                    log=root / f"serve-{name}.log",
                    cwd=root,
                ).start()
        assert set(replicas) == {"a", "b"}
        deployment.env = env
        yield deployment
    finally:
        for replica in replicas.values():
            replica.stop()
        llm.close()
        try:  # whatever `up` started, even if it then failed
            for block in blocks("replicas-down"):
                run_block(substitute(block, values), deployment.env, root, log)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def test_every_shell_block_of_the_deploy_guide_is_run_here() -> None:
    """docs/deploy.md has usage synopses (`text`: their commands are run by the tests it
    names) and shell blocks, each one run by the fixture above (`sh replicas`, in order, and
    `sh replicas-down` at the end): no shell block escapes."""
    fences = re.findall(r"^```(\S.*)?$", DEPLOY_MD.read_text(), re.MULTILINE)
    opening = fences[::2]
    assert set(opening) <= {"text", "sh replicas", "sh replicas-down"}, opening
    assert len(blocks("replicas")) == 5 and len(blocks("replicas-down")) == 1


def test_the_documented_commands_start_two_ready_replicas(deployment: Deployment) -> None:
    env, log = deployment.env, deployment.log.read_text()
    assert env["CAIRN_STORE_URL"].startswith("postgresql://")
    assert env["CAIRN_REDIS_URL"].startswith("redis://127.0.0.1:")
    assert "all counts match" in log  # cairn migrate
    assert env["KEY"].startswith("cairn_")  # cairn keys create
    assert log.count('"status":"ready"') >= 2  # the readiness loops
    assert '"results":[' in log  # the search with $KEY on the second replica
    for replica in deployment.replicas.values():
        assert replica.alive(), replica.log_tail()
        status, body = replica.readyz()
        assert status == 200 and body["lexical_index"] in ("postgres", "memory")  # not fts5
        assert httpx.get(replica.url + "/healthz").json() == {"status": "ok"}
        found = httpx.post(
            replica.url + "/v1/search", headers=bearer(env["KEY"]), json={"query": "json dumps"}
        )
        assert found.status_code == 200 and found.json()["results"]  # the same key on both
    assert deployment.replicas["a"].pid != deployment.replicas["b"].pid


def wait_for_job(url: str, job_id: str, key: str, timeout_s: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = httpx.get(f"{url}/v1/jobs/{job_id}", headers=bearer(key)).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)  # polling the job's state, which is what is tested


def test_a_document_uploaded_to_a_is_found_by_a_search_on_b(deployment: Deployment) -> None:
    key = deployment.keys["search"]
    note = b"# Quillwort survey\n\nThe quillwort survey counts plants along the lake shore.\n"
    started = httpx.post(
        deployment.a + "/v1/documents",
        headers=bearer(key),
        files={"files": ("quillwort.md", note, "text/markdown")},
    )
    assert started.status_code == 202, started.text
    job = wait_for_job(deployment.a, started.json()["id"], key)
    assert job["status"] == "done" and job["done"] == 1, job
    found = httpx.post(
        deployment.b + "/v1/search", headers=bearer(key), json={"query": "quillwort survey"}
    ).json()["results"]
    assert found and found[0]["source"].endswith("quillwort.md")
    listed = httpx.get(deployment.b + "/v1/documents", headers=bearer(key)).json()
    assert any(d["source"].endswith("quillwort.md") for d in listed)


def test_one_rate_limit_across_both_replicas(deployment: Deployment) -> None:
    """Twice the burst of one key, alternating between the replicas, at once: exactly the
    burst is admitted (alone, each replica would have admitted a burst of its own)."""
    key = bearer(deployment.keys["limited"])

    async def send() -> list[int]:
        async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=200)) as c:
            calls = [
                c.get(f"{deployment.urls[n % 2]}/v1/jobs/none", headers=key)
                for n in range(2 * BURST)
            ]
            return [r.status_code for r in await asyncio.gather(*calls)]

    began = time.monotonic()
    codes = asyncio.run(send())
    elapsed = time.monotonic() - began
    assert set(codes) <= {404, 429}  # 404: admitted (the job does not exist)
    refills = int(elapsed // 60)  # one token a minute: none unless the machine crawled
    assert BURST <= codes.count(404) <= BURST + refills, (codes.count(404), elapsed)
    limited = httpx.get(deployment.b + "/v1/jobs/none", headers=key)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_an_answer_cached_by_a_is_served_by_b(deployment: Deployment) -> None:
    """The answer cache is in Redis: B answers A's question without calling the model (the
    replicas' canary tokens differ, which does not change the cache's key)."""
    key = bearer(deployment.keys["asker0"])
    question = {"question": "How do I read a JSON file?", "mode": "lexical"}
    calls = deployment.llm.stats.requests
    first = httpx.post(deployment.a + "/v1/ask", headers=key, json=question, timeout=300).json()
    second = httpx.post(deployment.b + "/v1/ask", headers=key, json=question, timeout=300).json()
    assert first["cached"] is False and first["degraded"] is None
    assert second["cached"] is True and second["answer"] == first["answer"]
    assert deployment.llm.stats.requests == calls + 1


def test_a_trace_recorded_on_a_is_read_and_rated_on_b(deployment: Deployment) -> None:
    admin = bearer(deployment.keys["admin"])
    question = {"question": "What does json.dumps indent do?", "mode": "lexical"}
    answer = httpx.post(deployment.a + "/v1/ask", headers=admin, json=question, timeout=300)
    trace_id = answer.json()["trace_id"]
    trace = httpx.get(f"{deployment.b}/v1/traces/{trace_id}", headers=admin)
    assert trace.status_code == 200, trace.text
    rated = httpx.post(
        deployment.b + "/v1/feedback", headers=admin, json={"trace_id": trace_id, "rating": "up"}
    )
    assert rated.status_code == 201, rated.text
    listed = httpx.get(deployment.a + "/v1/feedback", headers=admin).json()
    assert [f["trace_id"] for f in listed if f["trace_id"] == trace_id] == [trace_id]


def ledger_rows(url: str) -> list[LedgerEntry]:
    from cairn.budget import Budget, MetricsRegistry, PriceBook

    ledger = Budget(url, prices=PriceBook.fixed({}), registry=MetricsRegistry())
    try:
        return ledger.entries()
    finally:
        ledger.close()


def test_concurrent_asks_on_both_replicas_never_exceed_the_daily_budget(
    deployment: Deployment,
) -> None:
    """200 asks at once over both replicas (four keys of one tenant), against a daily
    budget that fits 50 model calls: each call reserves its worst case and is charged exactly
    that (the model reports `MAX_TOKENS`), so exactly 50 reach the model; the others are
    answered from the documents (degraded: budget_exhausted) and charged nothing. The
    ledger's rows sum to the spend the summary reports, which is the ceiling."""
    keys = [deployment.keys[f"asker{n}"] for n in range(4)]
    before = deployment.llm.stats.requests
    url = deployment.env["CAIRN_STORE_URL"]
    earlier = ledger_rows(url)  # what other tests here spent today (the cache test: 1 call)
    spent_before = sum((e.cost_usd for e in earlier), Decimal(0))
    fits = int((CALL_USD * CALLS_IN_BUDGET - spent_before) / CALL_USD)
    assert fits > 0

    async def ask_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=900, limits=httpx.Limits(max_connections=200)) as c:
            calls = [
                c.post(
                    f"{deployment.urls[n % 2]}/v1/ask",
                    headers=bearer(keys[n % 4]),
                    json={"question": f"How do I pretty-print JSON? (case {n})", "mode": "lexical"},
                )
                for n in range(200)
            ]
            return list(await asyncio.gather(*calls))

    responses = asyncio.run(ask_all())
    assert [r.status_code for r in responses] == [200] * 200, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    answers = [r.json() for r in responses]
    admitted = [a for a in answers if a["degraded"] is None]
    refused = [a for a in answers if a["degraded"] is not None]
    assert len(admitted) == fits
    assert {a["degraded"]["reason"] for a in refused} == {"budget_exhausted"}
    assert all(Decimal(str(a["cost_usd"])) == CALL_USD for a in admitted)
    assert all(a["cost_usd"] == 0 for a in refused)
    assert deployment.llm.stats.requests - before == fits  # no refused call was sent

    seen = {e.id for e in earlier}
    rows = [e for e in ledger_rows(url) if e.id not in seen]
    charged = [e for e in rows if e.cost_usd]
    assert len(charged) == fits and {e.status for e in charged} == {"settled"}
    assert all(e.cost_usd == e.reserved_usd == CALL_USD for e in charged)
    assert sum((e.cost_usd for e in rows), Decimal(0)) == CALL_USD * fits
    spent = spent_before + CALL_USD * fits
    assert spent == CALL_USD * CALLS_IN_BUDGET  # the ceiling, to the nano-dollar
    for url in deployment.urls:  # each replica reports the same spend
        summary = httpx.get(
            url + "/v1/costs/summary", headers=bearer(deployment.keys["admin"])
        ).json()
        assert Decimal(summary["total"]["cost_nanousd"]) / 10**9 == spent
        assert summary["total"]["refused"] == len(refused)


def test_each_replica_keeps_only_what_is_not_shared_yet_in_its_folder(
    deployment: Deployment,
) -> None:
    """The store, the ledger, keys, jobs, traces, feedback, conversations and evaluation runs
    are on Postgres, the answer cache on Redis: no replica writes them to its folder. What a
    folder still holds is listed in docs/deploy.md."""
    for name in ("a", "b"):
        kept = {p.name for p in (deployment.root / name).rglob("*")}
        assert kept <= {"guard-canary", "uploads", "acme", "quillwort.md"}, kept


def test_two_replicas_starting_at_once_on_an_empty_database(deployment: Deployment) -> None:
    """Two more replicas, started at the same moment on a new, empty database of the same
    server: each creates the schemas it needs (the store, the ledger, the service's state)
    under advisory locks, both become ready, and each sees what the other writes."""
    import psycopg

    server_url = deployment.env["CAIRN_STORE_URL"]
    name = "fresh_start"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = re.sub(r"/postgres(?=\?|$)", f"/{name}", server_url, count=1)
    assert url != server_url
    env = deployment.env | {"CAIRN_STORE_URL": url, "CAIRN_LLM_PROVIDER": "extractive"}
    pair = []
    for label in ("c", "d"):
        port = free_port()
        pair.append(
            ServeProcess(
                f"cairn serve --workspace {deployment.root / label} --port {port} --auth keys",
                url=f"http://127.0.0.1:{port}",
                env=env,
                log=deployment.root / f"serve-{label}.log",
                cwd=deployment.root,
            )
        )
    try:
        for replica in pair:
            replica.start()
        for replica in pair:
            assert replica.wait_ready()["store"] == "ok"
        stores = open_server_stores(deployment.root, url=url)
        try:
            _, secret = stores.keys.create(tenant="acme", scopes=("search", "documents"))
        finally:
            stores.close()
        note = b"# Sedge census\n\nThe sedge census walks the fen every June.\n"
        started = httpx.post(
            pair[0].url + "/v1/documents",
            headers=bearer(secret),
            files={"files": ("sedge.md", note, "text/markdown")},
        )
        assert started.status_code == 202, started.text
        job = wait_for_job(pair[1].url, started.json()["id"], secret)
        assert job["status"] == "done", job
        found = httpx.post(
            pair[1].url + "/v1/search", headers=bearer(secret), json={"query": "sedge census"}
        ).json()["results"]
        assert found and found[0]["source"].endswith("sedge.md")
    finally:
        for replica in pair:
            replica.stop()


PAGES = (
    "turtle", "socket", "sqlite3", "functions", "curses", "optparse",
    "importlib", "urllib.request", "re", "asyncio-eventloop", "sys", "subprocess",
)  # fmt: skip
"""Twelve real pages of the Python docs (~3 MB): a job that runs long enough to restart one
replica and kill the other while it goes on."""


def job_events(url: str, job_id: str, key: str, into: queue.Queue[dict[str, Any] | None]) -> None:
    """Follow `GET /v1/jobs/{id}/events` on `url`, putting each job event into `into` (and
    None when the stream ends)."""
    try:
        with httpx.stream(
            "GET", f"{url}/v1/jobs/{job_id}/events", headers=bearer(key), timeout=600
        ) as response:
            response.raise_for_status()
            name = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name == "job":
                    into.put(json.loads(line.removeprefix("data: ")))
    finally:
        into.put(None)


def next_event(events: queue.Queue[dict[str, Any] | None]) -> dict[str, Any]:
    event = events.get(timeout=600)
    assert event is not None, "the stream ended before the job did"
    return event


def test_a_job_survives_the_other_replica_starting_and_its_own_replica_dying(
    deployment: Deployment,
) -> None:
    """A job uploaded to A keeps running while B restarts (B's start leaves A's live job
    alone); an SSE client on the new B sees A's progress (Redis pub/sub; the job is in
    Postgres); A is killed (SIGKILL) mid-job, and B takes the job over once A's lease runs
    out, from the files stored with the job, and finishes it: every page is then searchable.
    Last in the module: A stays dead."""
    if not all((PY_DOCS / "library" / f"{page}.html").is_file() for page in PAGES):
        pytest.skip("the Python docs are missing: apt-get install -y python3.11-doc")
    key = deployment.keys["search"]
    files = [
        ("files", (f"{page}.html", (PY_DOCS / "library" / f"{page}.html").read_bytes()))
        for page in PAGES
    ]
    started = httpx.post(deployment.a + "/v1/documents", headers=bearer(key), files=files)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]

    old_b = deployment.replicas["b"]
    assert old_b.stop() == -signal.SIGTERM  # uvicorn re-raises the signal once it has shut down
    assert "Application shutdown complete" in old_b.log_tail()  # a graceful stop
    new_b = ServeProcess(old_b.command, url=old_b.url, env=old_b.env, log=old_b.log, cwd=old_b.cwd)
    deployment.replicas["b"] = new_b.start()
    new_b.wait_ready()
    job = httpx.get(f"{deployment.b}/v1/jobs/{job_id}", headers=bearer(key)).json()
    assert job["status"] in ("queued", "running"), job  # not failed by B's start, not done

    events: queue.Queue[dict[str, Any] | None] = queue.Queue()
    threading.Thread(
        target=job_events, args=(deployment.b, job_id, key, events), daemon=True
    ).start()
    first = next_event(events)  # the job as it stands
    while True:  # A's progress, seen on B
        event = next_event(events)
        if event["done"] > first["done"] or event["status"] in ("done", "failed"):
            break
    assert event["status"] == "running" and event["done"] < len(PAGES), event
    deployment.replicas["a"].kill()  # mid-job: its lease is never renewed again
    assert not deployment.replicas["a"].alive()  # from here on only B can finish the job
    while event["status"] not in ("done", "failed"):
        event = next_event(events)
    assert event["status"] == "done", event
    assert event["done"] == len(PAGES) and not event["failures"] and event["error"] is None
    assert events.get(timeout=60) is None  # the stream closed
    listed = httpx.get(deployment.b + "/v1/documents", headers=bearer(key)).json()
    assert {f"{page}.html" for page in PAGES} <= {Path(d["source"]).name for d in listed}
    taken_over = {p.name for p in (deployment.root / "b" / "uploads" / "acme").iterdir()}
    assert {f"{page}.html" for page in PAGES} <= taken_over  # B wrote the stored files
