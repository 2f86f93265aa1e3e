"""Loads run by the concurrency tests in spawned processes (importable, not a test file)."""

from __future__ import annotations

from pathlib import Path

from cairn.cache import SQLiteAnswerCache
from cairn.testing.cache import make_answer, request


def hammer(path: str, worker: int, rounds: int) -> int:
    """Write and read back `rounds` entries of one tenant; return how many read back wrong."""
    wrong = 0
    with SQLiteAnswerCache(Path(path), max_entries=10_000) as cache:
        for n in range(rounds):
            tenant = f"tenant-{worker}"
            cache.put(request(f"question {n}", tenant=tenant), make_answer(f"{tenant}/{n}"))
            hit = cache.get(request(f"question {n}", tenant=tenant))
            if hit is None or hit.answer.text != f"{tenant}/{n}":
                wrong += 1
    return wrong
