"""`cairn costs`: the ledger summarised by day, feature, user, tenant and model, as a table
and as JSON, over a time range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.budget import Budget, BudgetExceeded, Limits, MetricsRegistry, PriceBook
from cairn.budget.summary import parse_bound
from cairn.cli import app
from cairn.errors import UserError
from cairn.types import Usage
from tests.budget.conftest import T0, Clock

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """Three days of requests: two users, two features, two models, one refusal."""
    clock = Clock(T0 + 3600)
    prices = PriceBook.fixed({"test-model": ("1", "2"), "cheap": ("0.075", "0.3")})
    with Budget(
        tmp_path / "ledger.db",
        prices=prices,
        limits=Limits.of(request_usd="0.01"),
        clock=clock,
        registry=MetricsRegistry(),
    ) as budget:
        calls = [
            ("test-model", "ask", "alice", 1000, 500),  # $0.002
            ("cheap", "ask", "bob", 1000, 1000),  # $0.000375
            ("test-model", "agent", "alice", 2000, 1000),  # $0.004
        ]
        for day in range(3):
            for model, feature, user, inp, out in calls:
                r = budget.reserve(
                    model=model,
                    input_tokens=inp,
                    max_output_tokens=out,
                    feature=feature,
                    user=user,
                    tenant="acme",
                )
                cached = 400 if model == "cheap" else 0  # read from the prompt cache
                usage = Usage(
                    input_tokens=inp,
                    output_tokens=out,
                    estimated=day == 2,
                    cache_read_tokens=cached,
                )
                budget.settle(r, usage)
            clock.advance(86_400)
        with pytest.raises(BudgetExceeded):
            budget.reserve(model="test-model", input_tokens=0, max_output_tokens=10_000)
        budget.reserve(model="cheap", input_tokens=10, max_output_tokens=10)  # in flight
    return tmp_path


def costs(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["costs", *args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_json_summary_by_day_feature_user_and_model(workspace: Path) -> None:
    data = costs("--workspace", str(workspace))
    total = data["total"]
    assert total == {
        "requests": 9,
        "refused": 1,
        "input_tokens": 12_000,
        "output_tokens": 7500,
        "cache_read_tokens": 1200,
        "cache_write_tokens": 0,
        "cached_share": 0.1,
        "cost_usd": 0.019125,
        "cost_nanousd": 19_125_000,
        "estimated": 3,
    }
    assert [(d["day"], d["cost_nanousd"]) for d in data["by_day"]] == [  # type: ignore[union-attr]
        ("2026-01-01", 6_375_000),
        ("2026-01-02", 6_375_000),
        ("2026-01-03", 6_375_000),
        ("2026-01-04", 0),
    ]
    by_feature = {r["feature"]: r["cost_nanousd"] for r in data["by_feature"]}  # type: ignore[union-attr]
    assert by_feature == {"agent": 12_000_000, "ask": 7_125_000}
    by_user = {r["user"]: (r["requests"], r["cost_nanousd"]) for r in data["by_user"]}  # type: ignore[union-attr]
    assert by_user == {"alice": (6, 18_000_000), "bob": (3, 1_125_000), None: (0, 0)}
    by_model = [r["model"] for r in data["by_model"]]  # type: ignore[union-attr]
    assert by_model == ["test-model", "cheap"]  # most expensive first
    cached = {r["model"]: r["cached_share"] for r in data["by_model"]}  # type: ignore[union-attr]
    assert cached == {"test-model": 0.0, "cheap": 0.4}
    assert data["by_tenant"][0]["tenant"] == "acme"  # type: ignore[index]
    assert data["in_flight"] == {"requests": 1, "reserved_usd": 0.00000375}


def test_since_and_until_select_days(workspace: Path) -> None:
    data = costs("--workspace", str(workspace), "--since", "2026-01-02", "--until", "2026-01-02")
    assert data["since"] == "2026-01-02T00:00:00.000000Z"
    assert data["until"] == "2026-01-03T00:00:00.000000Z"  # the --until day is included
    assert [d["day"] for d in data["by_day"]] == ["2026-01-02"]  # type: ignore[union-attr]
    assert data["total"]["cost_nanousd"] == 6_375_000  # type: ignore[index]
    later = costs("--workspace", str(workspace), "--since", "2026-01-03T00:30:00+00:00")
    assert later["total"]["requests"] == 3  # type: ignore[index]


def test_table_output(workspace: Path) -> None:
    result = runner.invoke(app, ["costs", "--workspace", str(workspace)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "$0.019125 over 9 requests (1 refused)" in out
    for title in ("By day", "By feature", "By user", "By tenant", "By model"):
        assert title in out
    assert "alice" in out and "test-model" in out and "$0.018" in out
    assert "1 in flight" in out
    assert "cached" in out and "40%" in out  # the cheap model's share of cached prompt tokens


def test_workspace_from_the_environment_and_empty_ledgers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_WORKSPACE", str(tmp_path))
    data = costs()
    assert data["total"]["requests"] == 0  # type: ignore[index]
    assert not (tmp_path / "ledger.db").exists()  # reading never creates a ledger
    result = runner.invoke(app, ["costs"])
    assert result.exit_code == 0 and "No model calls recorded" in result.stdout


def test_errors_say_what_to_do(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["costs", "--workspace", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no workspace at" in missing.output
    bad = runner.invoke(app, ["costs", "--workspace", str(tmp_path), "--since", "last tuesday"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_relative_bounds() -> None:
    import datetime as dt

    now = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
    assert parse_bound("7d", end=False, now=now) == "2026-03-03T12:00:00.000000Z"
    assert parse_bound("12h", end=True, now=now) == "2026-03-10T00:00:00.000000Z"
    assert parse_bound("2026-03-01T05:00:00", end=False) == "2026-03-01T05:00:00.000000Z"
    with pytest.raises(UserError):
        parse_bound("2026-02-30", end=False)
