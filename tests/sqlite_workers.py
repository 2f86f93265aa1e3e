"""Worker functions for the multi-process `SQLiteFile` tests (importable by spawned processes)."""

from __future__ import annotations

from pathlib import Path

from cairn.sqlite import SQLiteFile


def open_and_migrate(args: tuple[str, list[str]]) -> int:
    """Open (migrating) the file and return the schema version it ends at."""
    path, steps = args
    file = SQLiteFile(Path(path), steps, what="the test file")
    try:
        return file.schema_version
    finally:
        file.close()
