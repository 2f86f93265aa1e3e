"""Importing `cairn.budget` stays cheap: the price map loads on first use."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_budget_does_not_load_the_price_map() -> None:
    code = (
        "import sys, cairn.budget; "
        "assert 'cairn.budget.price_table' not in sys.modules; "
        "assert 'litellm' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
