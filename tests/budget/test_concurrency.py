"""200 concurrent requests against a small budget, in threads and in processes sharing the
ledger: settled spend never exceeds any ceiling, and the ledger sums exactly."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from cairn.budget import Budget, MetricsRegistry, to_nanos
from cairn.types import Usage
from tests.budget.test_reservations import assert_totals_match_ledger
from tests.budget.workers import (
    LIMITS,
    PRICES,
    Outcome,
    crash_main,
    process_main,
    run_threads,
)

pytestmark = pytest.mark.integration


def check_ledger(path: Path, outcomes: list[Outcome]) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute(
            "SELECT status, user_id, tenant_id, cost_nanos FROM ledger ORDER BY seq"
        ).fetchall()
        in_flight = db.execute("SELECT COUNT(*) FROM reservations").fetchone()[0]
    finally:
        db.close()
    assert in_flight == 0
    assert len(rows) == len(outcomes)  # every request wrote exactly one entry
    by_status: dict[str, int] = defaultdict(int)
    for status, *_ in rows:
        by_status[status] += 1
    assert dict(by_status) == {
        s: sum(o.status == s for o in outcomes) for s in {o.status for o in outcomes}
    }
    # Exact to the nano-dollar: what the callers were told equals what the ledger holds.
    assert sum(r[3] for r in rows) == sum(o.cost_nanos for o in outcomes)
    assert LIMITS.daily_usd is not None and LIMITS.user_daily_usd is not None
    assert LIMITS.tenant_daily_usd is not None
    assert sum(r[3] for r in rows) <= to_nanos(LIMITS.daily_usd)
    for index, limit in ((1, LIMITS.user_daily_usd), (2, LIMITS.tenant_daily_usd)):
        spent: dict[str, int] = defaultdict(int)
        for row in rows:
            spent[row[index]] += row[3]
        assert max(spent.values()) <= to_nanos(limit)
    assert_totals_match_ledger(path)
    return dict(by_status) | {"spent_nanos": sum(r[3] for r in rows)}


@pytest.mark.parametrize("replicas", [1, 4])
def test_200_threads_never_overshoot(tmp_path: Path, replicas: int) -> None:
    path = tmp_path / "ledger.db"
    budgets = [
        Budget(path, prices=PRICES, limits=LIMITS, registry=MetricsRegistry())
        for _ in range(replicas)
    ]
    try:
        outcomes = run_threads(budgets, 200, seed=replicas)
    finally:
        for b in budgets:
            b.close()
    counts = check_ledger(path, outcomes)
    assert counts["refused"] > 100 and counts["settled"] >= 10
    print(f"threads x{replicas}: {counts}")


def test_200_requests_in_4_processes_never_overshoot(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ctx = multiprocessing.get_context("spawn")
    processes_n, per_process = 4, 50
    ready, go = ctx.Barrier(processes_n + 1), ctx.Event()
    results = ctx.Queue()
    procs = [
        ctx.Process(target=process_main, args=(str(path), per_process, seed, ready, go, results))
        for seed in range(processes_n)
    ]
    for p in procs:
        p.start()
    try:
        ready.wait(timeout=60)
        go.set()
        raw = [results.get(timeout=60) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
        results.close()
        results.join_thread()
    assert [p.exitcode for p in procs] == [0] * processes_n
    outcomes = [Outcome(*o) for batch in raw for o in batch]
    assert len(outcomes) == 200
    counts = check_ledger(path, outcomes)
    assert counts["refused"] > 100 and counts["settled"] >= 10
    print(f"processes x{processes_n}: {counts}")


def test_a_crashed_process_reservation_expires(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    # a fixed midday, so the 15 minutes below stay in one UTC day whenever the test runs
    # (with the real time, a run in the last quarter hour of a day read the next day's totals)
    reserved_at = 1_767_268_800.0  # 2026-01-01T12:00:00Z
    crash = multiprocessing.get_context("spawn").Process(
        target=crash_main, args=(str(path), reserved_at)
    )
    crash.start()
    crash.join(timeout=60)
    assert crash.exitcode == 3
    later = reserved_at + 901  # past the default 15-minute reservation timeout
    with Budget(
        path, prices=PRICES, limits=LIMITS, registry=MetricsRegistry(), clock=lambda: later
    ) as budget:
        [held] = budget.usage(user="crash")[:1]
        assert held.reserved_usd > 0
        r = budget.reserve(model="test-model", input_tokens=1, max_output_tokens=1, user="crash")
        budget.settle(r, Usage(input_tokens=1, output_tokens=1))
        statuses = sorted((e.status, e.user or "") for e in budget.ledger.entries())
        [held] = budget.usage(user="crash")[:1]
    assert statuses == [("expired", "crash"), ("settled", "crash")]
    # The crashed call is charged its worst case ($0.003), flagged estimated.
    assert (held.limit, held.reserved_usd, held.spent_usd) == (
        "user_daily",
        0,
        Decimal("0.003") + Decimal("0.000003"),
    )
    assert_totals_match_ledger(path)
