"""Structured output helpers: decode a model's JSON reply, build an example for a schema."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from cairn.llm.errors import LLMError


def parse_json_output(text: str, error: Callable[[str], LLMError]) -> Any:
    """Decode structured output, tolerating a Markdown code fence around it."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    try:
        return json.loads(body)
    except ValueError as exc:
        raise error(f"the model's structured output is not valid JSON ({exc})") from exc


def schema_example(schema: Mapping[str, Any], *, fill: str = "") -> Any:
    """A small value matching `schema` (strings get `fill`); enough for tests and demos."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return schema_example(schema[key][0], fill=fill)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {k: schema_example(v, fill=fill) for k, v in properties.items()}
    if kind == "array":
        count = int(schema.get("minItems", 0))
        return [schema_example(schema.get("items") or {}, fill=fill) for _ in range(count)]
    return {"string": fill, "integer": 0, "number": 0.0, "boolean": False}.get(kind)
