"""The behaviour every `CostBudget` backend must have.

A backend's test module subclasses `BudgetConformance` and implements `make_budget`::

    class TestPostgresBudget(BudgetConformance):
        def make_budget(self, tmp_path, *, prices, limits, clock):
            return PostgresBudget(DSN, prices=prices, limits=limits, clock=clock)

The backend must price with `prices`, enforce `limits` and read time only from `clock`. The
suite closes every budget it makes.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cairn.budget.base import CostBudget
from cairn.budget.errors import BudgetExceeded, ReservationClosed
from cairn.budget.limits import Limits
from cairn.budget.prices import PriceBook
from cairn.budget.reservation import Reservation
from cairn.testing.clock import Clock
from cairn.types import Usage

PRICES = PriceBook.fixed({"test-model": ("1", "2")})
"""$1 per million prompt tokens, $2 per million output tokens."""
T0 = 1_767_225_600.0
"""2026-01-01T00:00:00Z"""
WORST = Decimal("0.003")
"""The worst case of `reserve_one`: 1,000 prompt + 1,000 max output tokens."""


class BudgetConformance:
    """Reserve, settle, release, limits and the ledger's sums."""

    def make_budget(
        self, tmp_path: Path, *, prices: PriceBook, limits: Limits, clock: Clock
    ) -> CostBudget:
        raise NotImplementedError("subclass BudgetConformance and implement make_budget")

    def process_opener(
        self, tmp_path: Path, *, prices: PriceBook, limits: Limits
    ) -> Callable[[], CostBudget] | None:
        """A picklable callable that opens this same budget in another process (reading the
        real time), or None for a backend that processes cannot share (the test is skipped)."""
        return None

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock(T0)

    @pytest.fixture
    def opened(self) -> Iterator[list[CostBudget]]:
        made: list[CostBudget] = []
        yield made
        for budget in made:
            budget.close()

    def budget(
        self, tmp_path: Path, opened: list[CostBudget], clock: Clock, limits: Limits | None = None
    ) -> CostBudget:
        made = self.make_budget(tmp_path, prices=PRICES, limits=limits or Limits(), clock=clock)
        opened.append(made)
        return made

    # -- the tests ----------------------------------------------------------------------

    def test_is_a_cost_budget(self, tmp_path: Path, opened: list[CostBudget], clock: Clock) -> None:
        assert isinstance(self.budget(tmp_path, opened, clock), CostBudget)

    def test_settle_charges_the_actual_cost_and_frees_the_rest(
        self, tmp_path: Path, opened: list[CostBudget], clock: Clock
    ) -> None:
        budget = self.budget(tmp_path, opened, clock, Limits.of(daily_usd=1))
        r = reserve_one(budget, user="alice", tenant="acme", feature="chat")
        assert r.worst_case_usd == WORST
        [during] = budget.usage()
        assert (during.spent_usd, during.reserved_usd) == (Decimal(0), WORST)
        entry = budget.settle(r, Usage(input_tokens=1000, output_tokens=120))
        assert (entry.status, entry.cost_usd, entry.feature) == (
            "settled",
            Decimal("0.00124"),
            "chat",
        )
        assert (entry.user, entry.tenant, entry.model) == ("alice", "acme", "test-model")
        [after] = budget.usage()
        assert (after.spent_usd, after.reserved_usd) == (Decimal("0.00124"), Decimal(0))
        assert budget.entries() == [entry]

    def test_settling_twice_raises_and_releasing_twice_does_nothing(
        self, tmp_path: Path, opened: list[CostBudget], clock: Clock
    ) -> None:
        budget = self.budget(tmp_path, opened, clock, Limits.of(daily_usd=1))
        settled = reserve_one(budget)
        budget.settle(settled, Usage(input_tokens=10, output_tokens=10))
        with pytest.raises(ReservationClosed):
            budget.settle(settled, Usage(input_tokens=10, output_tokens=10))
        assert budget.release(settled) is None
        released = reserve_one(budget)
        entry = budget.release(released)
        assert entry is not None and entry.status == "released" and entry.cost_usd == 0
        assert budget.release(released) is None
        [daily] = budget.usage()
        assert daily.spent_usd == Decimal("0.00003") and daily.reserved_usd == 0
        assert sorted(e.status for e in budget.entries()) == ["released", "settled"]

    def test_a_refusal_names_the_limit_and_is_recorded(
        self, tmp_path: Path, opened: list[CostBudget], clock: Clock
    ) -> None:
        budget = self.budget(tmp_path, opened, clock, Limits.of(user_daily_usd="0.005"))
        held = reserve_one(budget, user="alice")
        with pytest.raises(BudgetExceeded) as refused:
            reserve_one(budget, user="alice")
        assert refused.value.limit == "user_daily"
        reserve_one(budget, user="bob")  # a per-user limit: bob has his own
        budget.release(held)
        reserve_one(budget, user="alice")
        assert [e.status for e in budget.entries()] == ["refused", "released"]

    def test_the_daily_limit_resets_at_utc_midnight(
        self, tmp_path: Path, opened: list[CostBudget], clock: Clock
    ) -> None:
        budget = self.budget(tmp_path, opened, clock, Limits.of(daily_usd="0.003"))
        budget.settle(reserve_one(budget), Usage(input_tokens=1000, output_tokens=1000))
        with pytest.raises(BudgetExceeded):
            reserve_one(budget)
        clock.advance(86_400)
        budget.settle(reserve_one(budget), Usage(input_tokens=1, output_tokens=1))

    def test_concurrent_reservers_never_overshoot_the_ceiling(
        self, tmp_path: Path, opened: list[CostBudget], clock: Clock
    ) -> None:
        # $0.03 admits exactly 10 worst cases held at once; 8 threads try 40
        budget = self.budget(tmp_path, opened, clock, Limits.of(daily_usd="0.03"))
        held: list[Reservation] = []
        refused: list[BudgetExceeded] = []
        lock = threading.Lock()
        start = threading.Barrier(8)

        def reserve_many() -> None:
            start.wait(timeout=60)
            for _ in range(5):
                try:
                    r = reserve_one(budget)
                except BudgetExceeded as exc:
                    with lock:
                        refused.append(exc)
                else:
                    with lock:
                        held.append(r)

        threads = [threading.Thread(target=reserve_many) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert (len(held), len(refused)) == (10, 30)
        [daily] = budget.usage()
        assert daily.reserved_usd == 10 * WORST and daily.spent_usd == 0

    def test_reservers_in_processes_never_overshoot_the_ceiling(self, tmp_path: Path) -> None:
        opener = self.process_opener(tmp_path, prices=PRICES, limits=Limits.of(daily_usd="0.03"))
        if opener is None:
            pytest.skip("this backend is not shared between processes")
        with multiprocessing.get_context("spawn").Pool(4) as pool:
            held = pool.starmap(hold_reservations, [(opener, 5)] * 4)
        assert sum(held) == 10  # $0.03 holds exactly 10 worst cases of $0.003
        budget = opener()
        try:
            [daily] = budget.usage()
            assert daily.reserved_usd == 10 * WORST
        finally:
            budget.close()


def reserve_one(
    budget: CostBudget, *, user: str | None = None, tenant: str | None = None, feature: str = "ask"
) -> Reservation:
    """Reserve 1,000 prompt + 1,000 max output tokens of `test-model` ($0.003)."""
    return budget.reserve(
        model="test-model",
        input_tokens=1000,
        max_output_tokens=1000,
        feature=feature,
        user=user,
        tenant=tenant,
    )


def hold_reservations(opener: Callable[[], CostBudget], attempts: int) -> int:
    """In a spawned process: try `attempts` reservations, keep those admitted; how many."""
    budget = opener()
    held = 0
    try:
        for _ in range(attempts):
            try:
                reserve_one(budget)
            except BudgetExceeded:
                continue
            held += 1
    finally:
        budget.close()
    return held


def replicas_against_one_ceiling(
    replicas: list[CostBudget], *, threads: int, attempts: int
) -> tuple[int, list[Decimal]]:
    """`attempts` reservations of `test-model` (each settled at its worst case, $0.003) from
    `threads` threads spread over `replicas` (budgets on one shared ledger), all started at
    once: how many were admitted, and the costs of the settled entries the ledger holds."""
    admitted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        budget = replicas[n % len(replicas)]
        start.wait(timeout=60)
        while True:
            with lock:
                if len(admitted) >= attempts:
                    return
            try:
                r = reserve_one(budget)
            except BudgetExceeded:
                went = False
            else:
                budget.settle(r, Usage(input_tokens=1000, output_tokens=1000))
                went = True
            with lock:
                admitted.append(went)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    settled = [e.cost_usd for e in replicas[0].entries() if e.status == "settled"]
    return sum(admitted), settled
