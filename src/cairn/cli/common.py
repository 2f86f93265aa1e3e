"""Options and helpers shared by the commands."""

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

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


_JSON_ERRORS: ContextVar[bool] = ContextVar("cairn_json_errors", default=False)
"""Whether the running command was given `--json`: its failures are then printed as JSON."""


def error_json(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The API's error shape with `code` for its type: `{"error": {"code", "message", ...}}`."""
    return {"error": {"code": code, "message": message, **extra}}


def error_json_of(exc: CairnError) -> dict[str, Any]:
    """One of cairn's errors as the JSON object the API would send (same code, same status)."""
    from cairn.answer.degraded import failure_status

    status, code, headers, reason = failure_status(exc)
    extra: dict[str, Any] = {"status": status}
    if reason is not None:
        extra["reason"] = reason
    if "Retry-After" in headers:
        extra["retry_after_s"] = int(headers["Retry-After"])
    return error_json(code, str(exc), **extra)


def fail(message: str, code: int = 2, *, error: str = "bad_request") -> typer.Exit:
    """Report a failure (stderr; with `--json`, also one JSON object on stdout) and exit `code`.

    `error` is the API's error code for it (`bad_request`, `not_found`, ...)."""
    return _report(error_json(error, message, exit_code=code), code)


def _report(body: dict[str, Any], code: int) -> typer.Exit:
    typer.echo(f"error: {body['error']['message']}", err=True)
    if _JSON_ERRORS.get():
        body["error"].setdefault("exit_code", code)
        emit(body)
    return typer.Exit(code)


@contextmanager
def errors_reported() -> Iterator[None]:
    """Turn cairn's own errors into a one-line message (and JSON with `--json`), exit status 2."""
    try:
        yield
    except CairnError as exc:
        raise _report(error_json_of(exc), 2) from None


class JsonErrorsGroup(TyperGroup):
    """The root command: with `--json` anywhere on the line, every failure of the command (a
    usage error, one of cairn's errors, an unexpected exception) prints one JSON error object
    on stdout; exit statuses are those of the plain-text failures."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        as_json = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
        token = _JSON_ERRORS.set(as_json)
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except typer.TyperException as exc:
            _usage_error(exc)
            raise
        finally:
            _JSON_ERRORS.reset(token)
        ctx.meta["cairn.json_errors"] = as_json
        return ctx

    def invoke(self, ctx: Any) -> Any:
        token = _JSON_ERRORS.set(bool(ctx.meta.get("cairn.json_errors")))
        try:
            return super().invoke(ctx)
        except typer.TyperException as exc:
            _usage_error(exc)
            raise
        except CairnError as exc:  # one that escaped the command's own handling
            raise _report(error_json_of(exc), 2) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception:
            if _JSON_ERRORS.get():
                emit(
                    error_json(
                        "internal_error",
                        "internal error; the traceback on stderr has the details",
                        exit_code=1,
                    )
                )
            raise
        finally:
            _JSON_ERRORS.reset(token)


def _usage_error(exc: typer.TyperException) -> None:
    """A usage error (unknown option, bad value) as the API's `invalid_request`."""
    if _JSON_ERRORS.get():
        message = getattr(exc, "format_message", lambda: str(exc))()
        emit(error_json("invalid_request", message, exit_code=getattr(exc, "exit_code", 2)))


def open_workspace(workspace: Path | None, *, create: bool = False) -> Any:
    from cairn.config import load_settings
    from cairn.errors import WorkspaceNotFound
    from cairn.store.open import sqlite_path
    from cairn.workspace import Workspace

    settings = load_settings(workspace=workspace)
    ws = Workspace(settings, create=create)
    embedded = sqlite_path(settings) is not None  # a Postgres store has no file to look for
    if not create and embedded and not ws.db_path.exists():
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
    """Answer every line of a batch file; return how many lines failed.

    A failed line prints `{"id", "error": {"code", "message", ...}}` (the API's error shape) and
    the rest go on."""
    failed = 0
    for item_id, text, error in read_batch(path, keys):
        if error is None and text is not None:
            try:
                emit({"id": item_id, **handle(text)})
                continue
            except CairnError as exc:
                body = error_json_of(exc)
        else:
            body = error_json("invalid_request", error or "empty line")
        failed += 1
        emit({"id": item_id, **body})
    return failed
