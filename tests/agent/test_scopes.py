"""Which key scope each tool needs (`cairn.agent.scopes`): the stricter of its side effect
and its own scopes; `admin` and no scopes (local mode) allow everything."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from cairn.agent import FunctionTool, SideEffect, ToolRegistry
from cairn.agent.scopes import allows, key_scope_needed, narrowed


class Empty(BaseModel):
    pass


def tool(name: str, side_effect: SideEffect, *scopes: str) -> FunctionTool:
    return FunctionTool(
        name=name, description=name, input_model=Empty, output_model=Empty,
        fn=lambda args, key, dry: Empty(), side_effect=side_effect, scopes=scopes,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("side_effect", "scopes", "needed"),
    [
        ("none", ("search",), "agent"),
        ("none", ("calendar:read",), "agent"),
        ("none", (), "agent"),
        ("write", ("notes:write",), "agent:write"),
        ("none", ("notes:write",), "agent:write"),  # its scope says it writes
        ("external", ("calendar:write",), "agent:send"),
        ("external", (), "agent:send"),  # an MCP tool not marked read-only
        ("none", ("mail:send",), "agent:send"),
        ("write", ("mail:send",), "agent:send"),
    ],
)
def test_the_stricter_of_side_effect_and_tool_scopes_decides(
    side_effect: SideEffect, scopes: tuple[str, ...], needed: str
) -> None:
    assert key_scope_needed(tool("t", side_effect, *scopes)) == needed


def test_narrowed_keeps_what_the_key_allows() -> None:
    registry = ToolRegistry.of(
        [tool("read", "none", "search"), tool("note", "write"), tool("mail", "external")]
    )
    assert narrowed(registry, ("agent",)).names == ["read"]
    assert narrowed(registry, ("agent", "agent:send")).names == ["mail", "read"]
    assert narrowed(registry, ("agent", "agent:write", "agent:send")).names == registry.names
    assert narrowed(registry, ("admin",)) is registry
    assert narrowed(registry, None) is registry
    assert not allows(tool("mail", "external"), ("agent", "agent:write"))
