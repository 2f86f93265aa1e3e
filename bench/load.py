"""Load on a running cairn server over loopback: bounded concurrency, a fixed number of
requests or seconds, then p50/p95/p99 and errors for `/v1/search` and `/v1/ask`.

    # against a server you started (cairn serve -w WS --no-access-log)
    .venv/bin/python bench/load.py --url http://127.0.0.1:8321 --concurrency 50 --requests 2000

    # or let it start one on a throw-away copy of a workspace (the original is not written)
    .venv/bin/python bench/load.py --serve /tmp/pydocs --concurrency 50 --duration 30

Closed loop by default: each of the `--concurrency` clients sends its next request as soon
as the previous one is answered (the hardest case: the server is never idle), or after a
pause of `--think` seconds on average (exponential; people reading their answers). With
`--rate R` the requests arrive open-loop at R per second instead, at most `--concurrency`
in flight; latency is then counted from each request's scheduled time, so a server that
falls behind is not flattered (no coordinated omission).

Questions: the golden cases' questions (evals/golden/*.yaml) plus questions phrased from
API names in the workspace, `--pool` distinct ones in all, shuffled with a fixed seed; with
a pool larger than the embedder's query cache (256) most requests embed their query anew.
Only loopback addresses are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = (
    "How do I use {name}?",
    "What does {name} return?",
    "What arguments does {name} take?",
    "Example of {name}",
    "{name} default value",
)


def golden_questions() -> list[str]:
    import yaml

    out: list[str] = []
    for path in sorted((ROOT / "evals" / "golden").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            if isinstance(case, dict) and isinstance(case.get("question"), str):
                out.append(case["question"])
    return out


def api_questions(db: Path, n: int) -> list[str]:
    if n <= 0 or not db.is_file():
        return []
    with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT anchor FROM chunks WHERE anchor LIKE '%.%' "
                "AND anchor NOT LIKE '%-%' ORDER BY anchor"
            )
        ]
    rng = random.Random(7)
    return [rng.choice(TEMPLATES).format(name=x) for x in rng.sample(names, min(n, len(names)))]


@dataclass
class Result:
    endpoint: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        ms = sorted(self.latencies_ms)
        q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
        done = len(ms) + sum(self.errors.values())
        return {
            "endpoint": self.endpoint,
            "requests": done,
            "ok": len(ms),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "throughput_rps": round(done / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(q[49], 1) if ms else None,
            "p95_ms": round(q[94], 1) if ms else None,
            "p99_ms": round(q[98], 1) if ms else None,
            "max_ms": round(ms[-1], 1) if ms else None,
            "seconds": round(self.seconds, 2),
        }


async def run_endpoint(
    client: httpx.AsyncClient,
    endpoint: str,
    questions: list[str],
    *,
    concurrency: int,
    requests: int | None,
    duration: float | None,
    rate: float | None,
    extra: dict[str, Any],
    think: float = 0.0,
) -> Result:
    result = Result(endpoint)
    key = "query" if endpoint == "search" else "question"
    path = f"/v1/{endpoint}"
    counter = 0
    started = time.perf_counter()
    deadline = started + duration if duration else None

    def next_index() -> int | None:
        nonlocal counter
        if requests is not None and counter >= requests:
            return None
        if deadline is not None and time.perf_counter() >= deadline:
            return None
        counter += 1
        return counter - 1

    async def one(index: int, scheduled: float) -> None:
        body = {key: questions[index % len(questions)], **extra}
        try:
            r = await client.post(path, json=body)
        except httpx.HTTPError as exc:
            result.errors[type(exc).__name__] += 1
            return
        if r.status_code != 200:
            result.errors[f"HTTP {r.status_code}"] += 1
            return
        result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)

    if rate is None:

        async def worker(seed: int) -> None:
            pauses = random.Random(seed)
            while (index := next_index()) is not None:
                await one(index, time.perf_counter())
                if think > 0:  # a person reading the answer before asking again
                    await asyncio.sleep(pauses.expovariate(1 / think))

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    else:
        gate = asyncio.Semaphore(concurrency)
        tasks = []
        while (index := next_index()) is not None:
            scheduled = started + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)

            async def bounded(i: int = index, at: float = scheduled) -> None:
                async with gate:
                    await one(i, at)

            tasks.append(asyncio.ensure_future(bounded()))
        await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - started
    return result


async def run(args: argparse.Namespace, url: str, questions: list[str]) -> list[Result]:
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    extra: dict[str, Any] = {}
    if args.mode:
        extra["mode"] = args.mode
    if args.k:
        extra["k"] = args.k
    results = []
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=args.timeout
    ) as client:
        for endpoint in args.endpoints.split(","):
            if args.warmup:
                await run_endpoint(
                    client,
                    endpoint,
                    questions[::-1],
                    concurrency=min(args.concurrency, 8),
                    requests=args.warmup,
                    duration=None,
                    rate=None,
                    extra=extra,
                )
            results.append(
                await run_endpoint(
                    client,
                    endpoint,
                    questions,
                    concurrency=args.concurrency,
                    requests=args.requests,
                    duration=args.duration,
                    rate=args.rate,
                    extra=extra,
                    think=args.think,
                )
            )
    return results


def loopback_only(url: str) -> None:
    host = urlparse(url).hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        sys.exit(f"error: {url} is not a loopback address; this benchmark only runs locally")


class Served:
    """`cairn serve` on a temporary copy of a workspace (only its cairn.db is copied)."""

    def __init__(self, workspace: Path, threads: int | None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="cairn-load-"))
        shutil.copy(workspace / "cairn.db", self.tmp / "cairn.db")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "cairn", "serve", "-w", str(self.tmp)]
        command += ["--port", str(self.port), "--no-access-log", "--log-level", "warning"]
        env = {**os.environ, "CAIRN_WORKSPACE": str(self.tmp)}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, env=env)
        self.ready_s: float | None = None
        self.ready_s = self._wait()

    def _wait(self) -> float:
        while time.perf_counter() - self.started < 120:
            if self.process.poll() is not None:
                sys.exit("error: the server exited during start-up")
            try:
                r = httpx.get(self.url + "/readyz", timeout=1)
                if r.status_code == 200:
                    if self.ready_s is None:
                        self.ready_s = time.perf_counter() - self.started
                    # measure once the in-memory BM25 index is built (built in the
                    # background after start; FTS5 ranks identically meanwhile)
                    if r.json().get("lexical_index", "memory") == "memory":
                        return self.ready_s
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        sys.exit("error: the server did not become ready in 120 s")

    def close(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="A running server, e.g. http://127.0.0.1:8321.")
    where.add_argument("--serve", type=Path, help="Serve a copy of this workspace.")
    parser.add_argument("--endpoints", default="search,ask")
    parser.add_argument("--concurrency", type=int, default=50)
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--requests", type=int, help="Requests per endpoint (default 2000).")
    amount.add_argument("--duration", type=float, help="Seconds per endpoint.")
    parser.add_argument("--rate", type=float, help="Open loop: requests per second.")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="Closed loop: mean seconds each client pauses between requests (exponential).",
    )
    parser.add_argument("--pool", type=int, default=1000, help="Distinct questions.")
    parser.add_argument("--warmup", type=int, default=50, help="Requests before measuring.")
    parser.add_argument("--mode", choices=("lexical", "dense", "hybrid"))
    parser.add_argument("--k", type=int)
    parser.add_argument("--key", default=os.environ.get("CAIRN_API_KEY"))
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--workspace-db", type=Path, help="cairn.db for API-name questions.")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if args.requests is None and args.duration is None:
        args.requests = 2000

    served = Served(args.serve, None) if args.serve else None
    url = served.url if served else args.url
    loopback_only(url)
    db = args.workspace_db or (args.serve / "cairn.db" if args.serve else Path("/nonexistent"))
    golden = golden_questions()
    questions = golden + api_questions(db, args.pool - len(golden))
    random.Random(11).shuffle(questions)
    try:
        results = asyncio.run(run(args, url, questions))
    finally:
        if served:
            served.close()

    rows = [r.summary() for r in results]
    print(
        f"{'endpoint':8} {'requests':>8} {'errors':>6} {'rps':>7} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    )
    for row in rows:
        print(
            f"{row['endpoint']:8} {row['requests']:>8} {row['errors']:>6} "
            f"{row['throughput_rps']:>7} {row['p50_ms']:>7} {row['p95_ms']:>7} "
            f"{row['p99_ms']:>7} {row['max_ms']:>7}"
        )
        if row["error_kinds"]:
            print(f"  errors: {row['error_kinds']}")
    report = {
        "run_at_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "concurrency": args.concurrency,
        "rate": args.rate,
        "think_s": args.think,
        "questions": len(questions),
        "cpus": os.cpu_count(),
        "server_ready_s": round(served.ready_s, 2) if served else None,
        "results": rows,
    }
    if served:
        print(f"server ready {served.ready_s:.2f} s after start")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
