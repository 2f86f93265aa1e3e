"""Regenerate `prices.json` (package data) from LiteLLM's bundled model price map, offline.

    python -m cairn.budget.regenerate_prices [PATH_TO_JSON] [--version LITELLM_VERSION]

Without a path it reads `model_prices_and_context_window_backup.json` from an installed
`litellm` package (found without importing it). To refresh without installing litellm:
`pip download litellm --no-deps -d /tmp/l && unzip /tmp/l/*.whl
'litellm/model_prices_and_context_window_backup.json' -d /tmp/l`, then pass that file and the
wheel's version. Only text models (chat, completion, responses, embedding) with a per-token
input and output price are kept, with their prompt-cache read and write prices;
long-context tiers (`..._above_200k_tokens`) are kept too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

SOURCE_FILE = "model_prices_and_context_window_backup.json"
TEXT_MODES = frozenset({"chat", "completion", "responses", "embedding"})
_TIER = re.compile(r"^input_cost_per_token_above_(\d+)k_tokens$")
TARGET = Path(__file__).with_name("prices.json")


def per_mtok(per_token: float | int) -> str:
    """LiteLLM's dollars per token as an exact decimal string of dollars per million tokens."""
    value = (Decimal(repr(per_token)) * 1_000_000).normalize()
    return f"{value:f}"


def _cost(spec: dict[str, Any], key: str) -> str | None:
    value = spec.get(key)
    return per_mtok(value) if isinstance(value, int | float) else None


def entries(price_map: dict[str, Any]) -> dict[str, list[Any]]:
    """Model name -> `[input, output]` or `[input, output, extras]` (dollars per Mtok), with
    the prompt cache's read and write prices and the long-context tiers in `extras`."""
    out: dict[str, list[Any]] = {}
    for name, spec in sorted(price_map.items()):
        if not isinstance(spec, dict) or spec.get("mode") not in TEXT_MODES:
            continue
        inp, outp = spec.get("input_cost_per_token"), spec.get("output_cost_per_token")
        if outp is None and spec.get("mode") == "embedding":
            outp = 0
        if not isinstance(inp, int | float) or not isinstance(outp, int | float):
            continue
        tiers = []
        for key, value in spec.items():
            match = _TIER.match(key)
            if match is None or not isinstance(value, int | float):
                continue
            above = int(match.group(1)) * 1000
            suffix = f"_above_{match.group(1)}k_tokens"
            tier_out = spec.get(f"output_cost_per_token{suffix}", outp)
            tiers.append(
                [
                    above,
                    per_mtok(value),
                    per_mtok(tier_out),
                    _cost(spec, f"cache_read_input_token_cost{suffix}"),
                    _cost(spec, f"cache_creation_input_token_cost{suffix}"),
                ]
            )
        extras: dict[str, Any] = {}
        for field, key in (
            ("cache_read", "cache_read_input_token_cost"),
            ("cache_write", "cache_creation_input_token_cost"),
        ):
            if (price := _cost(spec, key)) is not None:
                extras[field] = price
        if tiers:
            extras["tiers"] = sorted(tiers)
        row: list[Any] = [per_mtok(inp), per_mtok(outp)]
        if extras:
            row.append(extras)
        out[name] = row
    return out


def render(rows: dict[str, list[Any]], source: str, generated: str | None = None) -> str:
    """The price file: one model per line, so a refresh reads as a short diff."""
    today = generated or dt.datetime.now(dt.UTC).date().isoformat()
    head = {
        "source": source,
        "generated": today,
        "licence": "MIT (https://github.com/BerriAI/litellm)",
        "units": "US dollars per million tokens: [input, output] or [input, output, extras]; "
        "extras: cache_read, cache_write (prompt-cache prices) and tiers [[above_input_tokens, "
        "input, output, cache_read, cache_write], ...] (a tier applies to the whole request "
        "once the prompt is longer)",
    }
    lines = ["{"]
    lines += [f"  {json.dumps(key)}: {json.dumps(value)}," for key, value in head.items()]
    lines.append('  "prices": {')
    body = [f"    {json.dumps(name)}: {json.dumps(row)}" for name, row in rows.items()]
    lines.append(",\n".join(body))
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def _installed_source() -> tuple[Path, str]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("litellm is not installed: pass the path of " + SOURCE_FILE)
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder / SOURCE_FILE, importlib.metadata.version("litellm")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", nargs="?", type=Path, help=SOURCE_FILE)
    parser.add_argument("--version", help="litellm version the file came from")
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    path, version = (args.source, args.version) if args.source else _installed_source()
    rows = entries(json.loads(path.read_text(encoding="utf-8")))
    label = f"litellm {version or '(unknown version)'} {SOURCE_FILE}"
    args.output.write_text(render(rows, label), encoding="utf-8")
    sys.stdout.write(f"wrote {len(rows)} model prices to {args.output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
