"""Options and helpers shared by the commands."""

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from cairn.errors import CairnError

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="CAIRN_WORKSPACE",
        help="Workspace folder (default .cairn).",
        show_envvar=True,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

T = TypeVar("T")


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def errors_reported() -> Iterator[None]:
    """Turn cairn's own errors into a one-line message and exit status 2."""
    try:
        yield
    except CairnError as exc:
        raise fail(str(exc)) from None


def open_workspace(workspace: Path | None, *, create: bool = False) -> Any:
    from cairn.config import load_settings
    from cairn.errors import WorkspaceNotFound
    from cairn.workspace import Workspace

    settings = load_settings(workspace=workspace)
    ws = Workspace(settings, create=create)
    if not create and not ws.db_path.exists():
        raise WorkspaceNotFound(
            f"no workspace at {settings.workspace}: run 'cairn ingest PATH' to create one, "
            "or pass --workspace DIR / set CAIRN_WORKSPACE"
        )
    return ws


def read_batch(path: Path, keys: tuple[str, ...]) -> Iterator[tuple[Any, str | None, str | None]]:
    """Yield `(id, text, error)` for each JSON line of `path` (`-` is standard input)."""
    stream = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, None, f"line {number}: invalid JSON ({exc.msg})"
                continue
            if not isinstance(item, dict):
                yield number, None, f"line {number}: expected a JSON object"
                continue
            text = next((item[k] for k in keys if isinstance(item.get(k), str)), None)
            if text is None:
                yield item.get("id", number), None, f"line {number}: no {' or '.join(keys)} field"
                continue
            yield item.get("id", number), text, None


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def run_batch(path: Path, keys: tuple[str, ...], handle: Callable[[str], dict[str, Any]]) -> int:
    """Answer every line of a batch file; return how many lines failed."""
    failed = 0
    for item_id, text, error in read_batch(path, keys):
        if error is None and text is not None:
            try:
                emit({"id": item_id, **handle(text)})
                continue
            except CairnError as exc:
                error = str(exc)
        failed += 1
        emit({"id": item_id, "error": error})
    return failed
