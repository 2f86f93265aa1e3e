"""Tool contracts: schemas from pydantic, validation before a call, errors worded for the
model, the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.agent import Tool, ToolRegistry, UnknownTool, canonical_json, digest, spec
from cairn.agent.tools import ToolFailure, ValidCall, validate_call
from cairn.errors import UserError
from tests.agent.tooling import append_line_tool, echo_tool


def test_tools_satisfy_the_protocol_and_expose_their_schema(tmp_path: Path) -> None:
    tool = append_line_tool(tmp_path / "log")
    assert isinstance(tool, Tool)
    s = spec(tool)
    assert s.name == "append_line" and s.description
    assert s.parameters["properties"]["text"]["type"] == "string"
    assert s.parameters["required"] == ["text"]
    assert tool.side_effect == "write" and tool.idempotent and tool.supports_dry_run


def test_valid_arguments_are_normalised_and_digested() -> None:
    registry = ToolRegistry.of([echo_tool()])
    a = validate_call(registry, "echo", {"q": "x"})
    b = validate_call(registry, "echo", {"k": 3, "q": "x"})
    assert isinstance(a, ValidCall) and isinstance(b, ValidCall)
    assert a.arguments == {"q": "x", "k": 3}  # defaults filled in
    assert a.args_digest == b.args_digest == digest({"k": 3, "q": "x"})
    c = validate_call(registry, "echo", {"q": "x", "k": 4})
    assert isinstance(c, ValidCall) and c.args_digest != a.args_digest
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


def test_invalid_arguments_and_unknown_tools_become_messages() -> None:
    registry = ToolRegistry.of([echo_tool()])
    bad = validate_call(registry, "echo", {"k": 99})
    assert isinstance(bad, ToolFailure) and bad.kind == "invalid_arguments"
    assert "q: Field required" in bad.message and "k:" in bad.message
    assert "call it again" in bad.message
    unknown = validate_call(registry, "mail", {})
    assert isinstance(unknown, ToolFailure) and unknown.kind == "unknown_tool"
    assert "echo" in unknown.message


def test_registry_refuses_duplicates_and_names_what_exists(tmp_path: Path) -> None:
    registry = ToolRegistry.of([echo_tool(), append_line_tool(tmp_path / "log")])
    assert registry.names == ["append_line", "echo"] and len(registry) == 2
    assert [s.name for s in registry.specs()] == ["append_line", "echo"]
    with pytest.raises(UserError, match="already registered"):
        registry.register(echo_tool())
    with pytest.raises(UnknownTool, match="append_line, echo"):
        registry.get("nope")
