"""Reserve, settle, release: the ledger entry of every request, each limit refusing with a
clear error, expiry of reservations a crashed process left behind, and the running totals
always equal to the ledger."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from cairn.budget import (
    Budget,
    BudgetExceeded,
    LedgerError,
    Limits,
    MetricsRegistry,
    PriceBook,
    ReservationClosed,
    UnknownModelPrice,
)
from cairn.budget.ledger import Ledger
from cairn.config import load_settings
from cairn.errors import RunError
from cairn.types import Usage
from tests.budget.conftest import BudgetFactory, Clock


def assert_totals_match_ledger(path: Path) -> None:
    """`totals` (used for the limit checks) equals the sums over `ledger` and `reservations`."""
    db = sqlite3.connect(path)
    try:
        totals = {
            (s, p): (spent, reserved)
            for s, p, spent, reserved in db.execute("SELECT * FROM totals")
        }
        expected: dict[tuple[str, str], list[int]] = {}
        rows = db.execute(
            "SELECT user_id, tenant_id, day, month, cost_nanos, 0 FROM ledger UNION ALL "
            "SELECT user_id, tenant_id, day, month, 0, reserved_nanos FROM reservations"
        ).fetchall()
        for user, tenant, day, month, cost, reserved in rows:
            scopes = ["global"]
            scopes += [f"user:{user}"] if user is not None else []
            scopes += [f"tenant:{tenant}"] if tenant is not None else []
            for scope in scopes:
                for period in (day, month):
                    sums = expected.setdefault((scope, period), [0, 0])
                    sums[0] += cost
                    sums[1] += reserved
        for key, (spent, reserved) in totals.items():
            assert expected.get(key, [0, 0]) == [spent, reserved], key
        for key, sums in expected.items():
            assert totals.get(key, (0, 0)) == tuple(sums), key
    finally:
        db.close()


def test_settle_writes_one_ledger_entry(make_budget: BudgetFactory) -> None:
    budget = make_budget(Limits.of(daily_usd=1))
    r = budget.reserve(
        model="test-model",
        input_tokens=1000,
        max_output_tokens=500,
        feature="ask",
        user="alice",
        tenant="acme",
        trace_id="trace-1",
    )
    assert r.worst_case_usd == Decimal("0.002")  # 1000 * $1/M + 500 * $2/M
    entry = budget.settle(r, Usage(input_tokens=1000, output_tokens=120, estimated=True))
    assert entry.cost_usd == Decimal("0.00124")
    assert entry.status == "settled" and entry.estimated
    [stored] = budget.ledger.entries()
    assert stored == entry
    assert (stored.trace_id, stored.feature, stored.user, stored.tenant, stored.model) == (
        "trace-1",
        "ask",
        "alice",
        "acme",
        "test-model",
    )
    assert (stored.input_tokens, stored.output_tokens) == (1000, 120)
    assert stored.ts == "2026-01-01T00:00:00.000000Z" and stored.day == "2026-01-01"
    [daily] = budget.usage()
    assert (daily.limit, daily.spent_usd, daily.reserved_usd) == ("daily", Decimal("0.00124"), 0)
    assert_totals_match_ledger(budget.path)


def test_settle_with_a_provider_reported_cost(make_budget: BudgetFactory) -> None:
    budget = make_budget()
    r = budget.reserve(model="test-model", input_tokens=10, max_output_tokens=10)
    entry = budget.settle(r, Usage(input_tokens=10, output_tokens=3), cost_usd="0.0000123")
    assert entry.cost_usd == Decimal("0.0000123")


def test_release_frees_the_reservation_and_is_recorded(make_budget: BudgetFactory) -> None:
    budget = make_budget(Limits.of(daily_usd="0.003"))
    r = budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=1000)
    with pytest.raises(BudgetExceeded):  # the first still holds $0.003
        budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=1000)
    entry = budget.release(r)
    assert entry is not None and entry.status == "released" and entry.cost_usd == 0
    budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=1000)
    assert budget.release(r) is None  # releasing twice (e.g. in a finally) does nothing
    statuses = sorted(e.status for e in budget.ledger.entries())
    assert statuses == ["refused", "released"]
    assert_totals_match_ledger(budget.path)


def test_release_charges_tokens_a_failed_call_consumed(make_budget: BudgetFactory) -> None:
    budget = make_budget()
    r = budget.reserve(model="test-model", input_tokens=100, max_output_tokens=100)
    entry = budget.release(r, Usage(input_tokens=100, output_tokens=40))
    assert entry is not None and entry.cost_usd == Decimal("0.00018")


def test_settling_twice_is_misuse(make_budget: BudgetFactory) -> None:
    budget = make_budget()
    r = budget.reserve(model="test-model", input_tokens=1, max_output_tokens=1)
    budget.settle(r, Usage(input_tokens=1, output_tokens=1))
    with pytest.raises(ReservationClosed, match="already settled"):
        budget.settle(r, Usage(input_tokens=1, output_tokens=1))
    with pytest.raises(TypeError):
        budget.settle(r)


def test_per_request_limit_names_itself(make_budget: BudgetFactory) -> None:
    budget = make_budget(Limits.of(request_usd="0.01"))
    with pytest.raises(BudgetExceeded) as info:
        budget.reserve(model="test-model", input_tokens=2000, max_output_tokens=5000)
    err = info.value
    assert isinstance(err, RunError)
    assert (err.limit, err.setting, err.limit_usd, err.request_usd) == (
        "request",
        "budget.request_usd",
        Decimal("0.01"),
        Decimal("0.012"),
    )
    assert "per-request limit is $0.01" in str(err) and "worst case is $0.012" in str(err)
    [entry] = budget.ledger.entries()
    assert (entry.status, entry.note, entry.cost_usd) == ("refused", "request", 0)


@pytest.mark.parametrize(
    ("limit", "who"),
    [
        ("user_daily", "alice"),
        ("user_monthly", "alice"),
        ("tenant_daily", "acme"),
        ("tenant_monthly", "acme"),
        ("daily", None),
        ("monthly", None),
    ],
)
def test_each_periodic_limit_refuses_and_names_itself(
    make_budget: BudgetFactory, limit: str, who: str | None
) -> None:
    budget = make_budget(Limits.of(**{f"{limit}_usd": "0.005"}))
    first = budget.reserve(
        model="test-model", input_tokens=1000, max_output_tokens=1000, user="alice", tenant="acme"
    )  # worst case $0.003
    budget.settle(first, Usage(input_tokens=1000, output_tokens=500))  # $0.002 spent
    held = budget.reserve(
        model="test-model", input_tokens=500, max_output_tokens=0, user="alice", tenant="acme"
    )  # $0.0005 reserved
    with pytest.raises(BudgetExceeded) as info:
        budget.reserve(
            model="test-model",
            input_tokens=1000,
            max_output_tokens=1000,
            user="alice",
            tenant="acme",
        )
    err = info.value
    assert err.limit == limit and err.setting == f"budget.{limit}_usd" and err.scope == who
    assert err.limit_usd == Decimal("0.005")
    assert (err.spent_usd, err.reserved_usd, err.request_usd) == (
        Decimal("0.002"),
        Decimal("0.0005"),
        Decimal("0.003"),
    )
    assert err.period == ("2026-01-01" if limit.endswith("daily") else "2026-01")
    message = str(err)
    assert limit.replace("_", " ") in message and "$0.005" in message
    assert "spent $0.002 + reserved $0.0005 + this request's worst case $0.003 = $0.0055" in message
    # Exactly up to the limit is allowed.
    budget.reserve(
        model="test-model", input_tokens=500, max_output_tokens=1000, user="alice", tenant="acme"
    )
    budget.release(held)


def test_user_and_tenant_limits_are_per_user_and_per_tenant(make_budget: BudgetFactory) -> None:
    budget = make_budget(Limits.of(user_daily_usd="0.003", tenant_daily_usd="0.006"))
    for user in ("alice", "bob"):
        budget.reserve(
            model="test-model", input_tokens=1000, max_output_tokens=1000, user=user, tenant="a"
        )
    with pytest.raises(BudgetExceeded, match="user daily limit for 'alice'"):
        budget.reserve(model="test-model", input_tokens=1, max_output_tokens=0, user="alice")
    with pytest.raises(BudgetExceeded, match="tenant daily limit for 'a'"):
        budget.reserve(
            model="test-model", input_tokens=1, max_output_tokens=0, user="c", tenant="a"
        )
    budget.reserve(model="test-model", input_tokens=1, max_output_tokens=0, user="c", tenant="b")
    budget.reserve(
        model="test-model", input_tokens=1, max_output_tokens=0
    )  # anonymous: global only


def test_daily_limit_resets_at_utc_midnight_but_monthly_does_not(
    make_budget: BudgetFactory, clock: Clock
) -> None:
    budget = make_budget(Limits.of(daily_usd="0.003", monthly_usd="0.005"))
    r = budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=1000)
    budget.settle(r, Usage(input_tokens=1000, output_tokens=1000))
    with pytest.raises(BudgetExceeded, match="daily"):
        budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=1000)
    clock.advance(86_400)
    r = budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=0)
    budget.settle(r, Usage(input_tokens=1000, output_tokens=0))  # day $0.001, month $0.004
    with pytest.raises(BudgetExceeded, match="monthly"):  # + $0.002: fits the day, not the month
        budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=500)
    clock.advance(31 * 86_400)  # February
    budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=1000)


def test_a_request_counts_in_the_day_it_reserved(make_budget: BudgetFactory, clock: Clock) -> None:
    budget = make_budget()
    clock.now -= 1  # 23:59:59 on Dec 31
    r = budget.reserve(model="test-model", input_tokens=10, max_output_tokens=10)
    clock.advance(2)
    entry = budget.settle(r, Usage(input_tokens=10, output_tokens=10))
    assert entry.day == "2025-12-31"
    assert_totals_match_ledger(budget.path)


def test_unknown_model_is_refused_before_anything_is_reserved(make_budget: BudgetFactory) -> None:
    budget = make_budget()
    with pytest.raises(UnknownModelPrice):
        budget.reserve(model="gpt-unknown", input_tokens=10, max_output_tokens=10)
    assert budget.ledger.entries() == []


def test_extractive_requests_are_free_and_recorded(
    tmp_path: Path, registry: MetricsRegistry
) -> None:
    with Budget(
        tmp_path / "l.db", prices=PriceBook(), limits=Limits.of(daily_usd=0), registry=registry
    ) as budget:
        r = budget.reserve(model="extractive", input_tokens=500, max_output_tokens=200)
        entry = budget.settle(r, Usage())
    assert entry.cost_usd == 0 and entry.model == "extractive"


def test_stale_reservation_expires_and_is_charged_its_worst_case(
    make_budget: BudgetFactory, clock: Clock
) -> None:
    budget = make_budget(Limits.of(daily_usd="0.004"), reservation_ttl_s=60)
    stale = budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=1000, user="u")
    with pytest.raises(BudgetExceeded):
        budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=1000)
    clock.advance(61)
    assert budget.expire_stale() == 1
    [expired] = [e for e in budget.ledger.entries() if e.status == "expired"]
    assert expired.id == stale.id and expired.estimated and expired.cost_usd == Decimal("0.003")
    assert [u.reserved_usd for u in budget.usage()] == [0]
    # The process was only slow: its late settle corrects the charge to the actual cost.
    entry = budget.settle(stale, Usage(input_tokens=1000, output_tokens=0))
    assert entry.cost_usd == Decimal("0.001") and entry.note == "settled after it expired"
    [usage] = budget.usage()
    assert usage.spent_usd == Decimal("0.001")
    assert_totals_match_ledger(budget.path)


def test_expired_reservations_can_be_freed_without_a_charge(
    make_budget: BudgetFactory, clock: Clock
) -> None:
    budget = make_budget(Limits.of(daily_usd="0.003"), reservation_ttl_s=60, charge_expired=False)
    budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=1000)
    clock.advance(61)
    budget.reserve(model="test-model", input_tokens=1000, max_output_tokens=1000)  # sweeps
    [expired] = [e for e in budget.ledger.entries() if e.status == "expired"]
    assert expired.cost_usd == 0
    assert_totals_match_ledger(budget.path)


def test_overrun_is_recorded_and_counted(
    make_budget: BudgetFactory, registry: MetricsRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    budget = make_budget()
    r = budget.reserve(model="test-model", input_tokens=100, max_output_tokens=10)
    entry = budget.settle(r, Usage(input_tokens=150, output_tokens=10))
    assert entry.cost_usd == Decimal("0.00017")
    assert registry.counter("cairn_budget_overruns_total", "").value() == 1
    assert "more than the" in caplog.text


def test_limits_from_settings_and_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, registry: MetricsRegistry
) -> None:
    monkeypatch.setenv("CAIRN_BUDGET_REQUEST_USD", "0.25")
    monkeypatch.setenv("CAIRN_BUDGET_DAILY_USD", "10")
    settings = load_settings(workspace=tmp_path)
    with Budget.from_settings(
        settings, extra_limits={"user_daily_usd": 1}, registry=registry
    ) as budget:
        assert budget.limits == Limits.of(request_usd="0.25", daily_usd=10, user_daily_usd=1)
        assert budget.path == tmp_path / "ledger.db"
        with pytest.raises(BudgetExceeded, match=r"per-request limit is \$0\.25"):
            budget.reserve(model="gpt-4o", input_tokens=10_000, max_output_tokens=30_000)


def test_invalid_limits_and_a_damaged_ledger_fail_clearly(tmp_path: Path) -> None:
    from cairn.errors import ConfigError

    with pytest.raises(ConfigError, match="daily_usd"):
        Limits.of(daily_usd=-1)
    bad = tmp_path / "ledger.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match="move it away"):
        Ledger(bad)
    with pytest.raises(LedgerError, match="nothing has been spent"):
        Ledger(tmp_path / "missing.db", create=False)


def test_settings_not_yet_in_config_are_picked_up_once_added(
    tmp_path: Path, registry: MetricsRegistry
) -> None:
    from types import SimpleNamespace

    future = SimpleNamespace(
        request_usd=None,
        daily_usd=1.0,
        user_daily_usd=0.5,
        tenant_monthly_usd="20",
        alert_webhook_url="http://127.0.0.1:9/hook",
        alert_webhook_timeout_s=2.0,
        alert_thresholds=(90,),
        reservation_ttl_s=60.0,
    )
    settings = load_settings(workspace=tmp_path).model_copy(update={"budget": future})
    with Budget.from_settings(settings, registry=registry) as budget:
        assert budget.limits == Limits.of(daily_usd=1, user_daily_usd="0.5", tenant_monthly_usd=20)
        assert budget.alert_thresholds == (90,)
        assert budget.reservation_ttl_s == 60
        assert (budget.alerts.webhook_url, budget.alerts.timeout_s) == (future.alert_webhook_url, 2)
    with Budget.from_settings(settings, registry=registry, reservation_ttl_s=5) as budget:
        assert budget.reservation_ttl_s == 5  # an explicit argument wins
