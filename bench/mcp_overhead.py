"""What MCP costs over the plain API, and what the agent's MCP bridge costs over the SDK.

    PYTHONPATH=src .venv/bin/python bench/mcp_overhead.py --serve /tmp/pydocs --rounds 100

1. Server side: `cairn serve` on a throw-away copy of a workspace's `cairn.db` (as
   `bench/load.py --serve`), then one request at a time, interleaved round by round:
   `POST /v1/search` and `/v1/ask` (httpx), the `search` and `ask` tools over streamable
   HTTP at `/mcp` as a bare JSON-RPC POST (httpx: the server's cost alone) and through the
   SDK's `ClientSession` (which also validates each result against the tool's output
   schema), and the same tools over stdio (`cairn mcp serve` in a subprocess, SDK client).
   Every request has its own question (distinct per mode and round), so the answer and
   query-embedding caches never favour one mode.
2. Client side: `mcp-server-time`'s `get_current_time`, called through the agent's
   `McpTool.call` (synchronous, through the background event loop) and directly with the
   SDK's async `ClientSession.call_tool`, interleaved.

Prints p50/p95 per mode and the ratio to the peer (REST for the server, the raw SDK call
for the bridge).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from load import Served, api_questions, golden_questions

ACCEPT = {"Accept": "application/json, text/event-stream"}


def quantiles(ms: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(sorted(ms), n=100, method="inclusive")
    return q[49], q[94], statistics.fmean(ms)


def table(title: str, rows: dict[str, list[float]], peers: dict[str, str]) -> None:
    print(f"\n{title}\n")
    print("| mode | n | p50 ms | p95 ms | mean ms | p50 / peer |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, ms in rows.items():
        p50, p95, mean = quantiles(ms)
        peer = peers.get(name)
        ratio = f"{p50 / quantiles(rows[peer])[0]:.2f}" if peer else "1.00 (peer)"
        print(f"| {name} | {len(ms)} | {p50:.1f} | {p95:.1f} | {mean:.1f} | {ratio} |")


async def server_side(url: str, workspace: Path, questions: list[str], rounds: int) -> None:
    modes = ["rest", "mcp_http_raw", "mcp_http", "mcp_stdio"]
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "cairn", "mcp", "serve", "--workspace", str(workspace)],
        env=dict(os.environ),
    )
    async with (
        httpx.AsyncClient(base_url=url, timeout=120) as rest,
        httpx.AsyncClient(timeout=120) as http,
        streamable_http_client(url + "/mcp", http_client=http) as (r1, w1, _),
        ClientSession(r1, w1) as over_http,
        stdio_client(params) as (r2, w2),
        ClientSession(r2, w2) as over_stdio,
    ):
        await over_http.initialize()
        await over_stdio.initialize()

        async def rest_call(tool: str, q: str) -> None:
            body = {"query": q} if tool == "search" else {"question": q}
            r = await rest.post(f"/v1/{tool}", json=body)
            r.raise_for_status()

        def mcp_call(session: ClientSession) -> Callable[[str, str], Awaitable[None]]:
            async def call(tool: str, q: str) -> None:
                args = {"query": q} if tool == "search" else {"question": q}
                result = await session.call_tool(tool, args)
                if result.isError:
                    raise RuntimeError(result.content)

            return call

        ids = iter(range(1, 1_000_000))

        async def raw_call(tool: str, q: str) -> None:
            args = {"query": q} if tool == "search" else {"question": q}
            body = {"jsonrpc": "2.0", "id": next(ids), "method": "tools/call"}
            body["params"] = {"name": tool, "arguments": args}
            r = await http.post(url + "/mcp", json=body, headers=ACCEPT)
            r.raise_for_status()
            if "error" in r.json() or r.json()["result"].get("isError"):
                raise RuntimeError(r.text[:300])

        callers = {"rest": rest_call, "mcp_http": mcp_call(over_http), "mcp_http_raw": raw_call}
        callers["mcp_stdio"] = mcp_call(over_stdio)
        for tool in ("search", "ask"):
            for warm in questions[-8:]:  # model, index and connections warm
                for mode in modes:
                    await callers[mode](tool, warm)
            times: dict[str, list[float]] = {f"{m}_{tool}": [] for m in modes}
            n = rounds * len(modes)
            pool = iter(questions[:n] if tool == "search" else questions[n : 2 * n])
            for i in range(rounds):
                order = modes[i % len(modes) :] + modes[: i % len(modes)]  # rotate the first
                for mode in order:
                    q = next(pool)
                    started = time.perf_counter()
                    await callers[mode](tool, q)
                    times[f"{mode}_{tool}"].append((time.perf_counter() - started) * 1000)
            peer = f"rest_{tool}"
            table(
                f"{tool}: one request at a time, {rounds} rounds",
                times,
                {k: peer for k in times if k != peer},
            )


def client_side(calls: int) -> None:
    from cairn.agent.mcp import McpConnection, tools_of
    from cairn.config import McpServerSettings

    command = shutil.which("mcp-server-time") or str(
        Path(sys.executable).parent / "mcp-server-time"
    )
    config = McpServerSettings(name="time", command=command, args=["--local-timezone", "UTC"])
    connection = McpConnection(config)
    try:
        [tool] = [t for t in tools_of(config, connection).tools if t.mcp_name == "get_current_time"]
        args = tool.input_model.model_validate({"timezone": "Europe/Paris"})
        session = connection.session
        assert session is not None
        times: dict[str, list[float]] = {
            "agent McpTool.call (sync bridge)": [],
            "SDK call_tool (async)": [],
        }

        async def raw() -> None:
            await session.call_tool("get_current_time", {"timezone": "Europe/Paris"})

        for i in range(calls + 10):
            for which in (0, 1) if i % 2 else (1, 0):
                started = time.perf_counter()
                if which == 0:
                    tool.call(args, idempotency_key=f"k{i}")
                else:
                    asyncio.run_coroutine_threadsafe(raw(), connection._loop).result(30)
                if i >= 10:
                    name = list(times)[which]
                    times[name].append((time.perf_counter() - started) * 1000)
        peer = "SDK call_tool (async)"
        table(
            f"agent side: mcp-server-time get_current_time over stdio, {calls} calls each",
            times,
            {k: peer for k in times if k != peer},
        )
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", type=Path, required=True, help="Workspace to copy and serve.")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    pool = [*golden_questions(), *api_questions(args.serve / "cairn.db", args.rounds * 8 + 50)]
    random.Random(11).shuffle(pool)
    if len(pool) < args.rounds * 8 + 8:
        sys.exit(f"error: only {len(pool)} questions for {args.rounds} rounds")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores")
    served = Served(args.serve, None)
    try:
        print(f"server ready in {served.ready_s:.2f} s")
        asyncio.run(server_side(served.url, served.tmp, pool, args.rounds))
    finally:
        served.close()
    client_side(args.calls)


if __name__ == "__main__":
    main()
