"""Only `cairn.store` names a concrete store backend; everything else asks for a `Store`."""

from __future__ import annotations

import re
from pathlib import Path

import cairn

SRC = Path(cairn.__file__).parent
CONCRETE = re.compile(r"\bSQLiteStore\b|\bcairn\.store\.sqlite\b|from cairn\.store import sqlite")


def test_no_module_outside_the_store_package_names_a_concrete_store() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if path.relative_to(SRC).parts[0] != "store"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if CONCRETE.search(line)
    ]
    assert offenders == [], "open the store with cairn.store.open.open_store instead:\n" + (
        "\n".join(offenders)
    )


def test_the_scan_sees_the_store_package() -> None:
    """The check above reads the source it is meant to guard."""
    inside = [
        p for p in (SRC / "store").rglob("*.py") if CONCRETE.search(p.read_text(encoding="utf-8"))
    ]
    assert inside
