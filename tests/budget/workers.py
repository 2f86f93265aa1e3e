"""Request loads run by the concurrency tests, in threads and in spawned processes (so they
live in an importable module, not in a test file)."""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.budget import Budget, BudgetExceeded, Limits, MetricsRegistry, PriceBook
from cairn.types import Usage

PRICES = PriceBook.fixed({"test-model": ("1", "2")})
LIMITS = Limits.of(
    daily_usd="0.05", user_daily_usd="0.012", tenant_daily_usd="0.03", request_usd="0.004"
)
"""Worst case per request is $0.003 (1000 prompt + 1000 max output tokens): the global
ceiling admits at most 16 at a time, each user 4, each tenant 10."""
USERS = 10
TENANTS = 2


@dataclass(frozen=True)
class Outcome:
    """What one simulated request did; `cost_nanos` is what the test expects in the ledger."""

    status: str
    user: str
    tenant: str
    cost_nanos: int


def one_request(budget: Budget, n: int, rng: random.Random) -> Outcome:
    user, tenant = f"u{n % USERS}", f"t{n % TENANTS}"
    try:
        r = budget.reserve(
            model="test-model",
            input_tokens=1000,
            max_output_tokens=1000,
            feature=rng.choice(["ask", "agent"]),
            user=user,
            tenant=tenant,
            trace_id=f"trace-{os.getpid()}-{n}",
        )
    except BudgetExceeded:
        return Outcome("refused", user, tenant, 0)
    time.sleep(rng.uniform(0, 0.01))  # the model call
    roll = rng.random()
    if roll < 0.1:  # the call failed
        budget.release(r)
        return Outcome("released", user, tenant, 0)
    usage = Usage(input_tokens=1000, output_tokens=rng.randint(0, 1000))
    entry = budget.settle(r, usage)
    return Outcome("settled", user, tenant, int(entry.cost_usd * 1_000_000_000))


def run_threads(budgets: list[Budget], count: int, seed: int) -> list[Outcome]:
    """`count` requests on `count` threads released together, spread over `budgets`."""
    barrier = threading.Barrier(count)
    outcomes: list[Outcome | None] = [None] * count

    def work(i: int) -> None:
        rng = random.Random(seed * 10_000 + i)
        barrier.wait()
        outcomes[i] = one_request(budgets[i % len(budgets)], seed * 10_000 + i, rng)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


def process_main(path: str, count: int, seed: int, ready: Any, go: Any, results: Any) -> None:
    """One API replica: its own Budget (own connection) on the shared ledger."""
    budget = Budget(Path(path), prices=PRICES, limits=LIMITS, registry=MetricsRegistry())
    try:
        ready.wait()
        go.wait()
        outcomes = run_threads([budget], count, seed)
    finally:
        budget.close()
    results.put([(o.status, o.user, o.tenant, o.cost_nanos) for o in outcomes])


def crash_main(path: str, now: float) -> None:
    """Reserve (at the time `now`) and die without settling, as a crashed process would."""
    budget = Budget(
        Path(path), prices=PRICES, limits=LIMITS, registry=MetricsRegistry(), clock=lambda: now
    )
    budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=1000, user="crash")
    os._exit(3)
