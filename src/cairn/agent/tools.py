"""Tools with contracts: what a tool takes, returns, and what it does to the world.

A `Tool` names its pydantic input and output models, its side effect (`none`, `write`,
`external`), whether it is idempotent (a repeated call with the same idempotency key has the
effect of one), whether it can dry-run, and the scopes it needs. It has one main method:

    output = tool.call(args, idempotency_key="...", dry_run=False)

Arguments are validated against `input_model` before any call (`validate_call`); a validation
error, an unknown tool or a `ToolError` raised by the tool becomes a message the model can act
on (`ToolFailure.message`). The schema the model sees is the input model's JSON schema
(`spec`), handed to providers as a `cairn.llm.base.Tool`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError

from cairn.errors import RunError, UserError
from cairn.llm.base import Tool as ToolSpec

SideEffect = Literal["none", "write", "external"]
"""`none`: reads only. `write`: changes state cairn owns (a file, a row). `external`: acts on
the outside world (sends mail, books a room)."""


class ToolError(RunError):
    """A tool could not do what it was asked; the message goes back to the model, so say
    what was wrong and what to try instead."""


class UnknownTool(UserError):
    """No tool of that name is registered."""


@runtime_checkable
class Tool(Protocol):
    """A function the agent may call, with a typed contract."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str:
        """What it does and when to use it (shown to the model)."""
        ...

    @property
    def input_model(self) -> type[BaseModel]: ...

    @property
    def output_model(self) -> type[BaseModel]: ...

    @property
    def side_effect(self) -> SideEffect: ...

    @property
    def idempotent(self) -> bool:
        """True when calls with the same idempotency key have the effect of one: only such
        tools are re-invoked after a crash during their execution."""
        ...

    @property
    def supports_dry_run(self) -> bool:
        """True when `call(..., dry_run=True)` describes the effect without causing it."""
        ...

    @property
    def scopes(self) -> tuple[str, ...]:
        """What the caller must be allowed (`search`, `mail:send`, ...)."""
        ...

    def call(self, args: BaseModel, *, idempotency_key: str, dry_run: bool = False) -> BaseModel:
        """Do it; return an instance of `output_model` or raise `ToolError`."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class FunctionTool:
    """A `Tool` made from a function `fn(args, idempotency_key, dry_run) -> output`."""

    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    fn: Callable[[Any, str, bool], BaseModel]
    side_effect: SideEffect = "none"
    idempotent: bool = True
    supports_dry_run: bool = False
    scopes: tuple[str, ...] = ()

    def call(self, args: BaseModel, *, idempotency_key: str, dry_run: bool = False) -> BaseModel:
        return self.fn(args, idempotency_key, dry_run)


def canonical_json(value: Any) -> str:
    """The one JSON text of `value`: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any) -> str:
    """sha256 (hex) of `value`'s canonical JSON: what approvals and audit records bind to."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def spec(tool: Tool) -> ToolSpec:
    """What the model sees: name, description and the input model's JSON schema."""
    return ToolSpec(
        name=tool.name,
        description=tool.description,
        parameters=tool.input_model.model_json_schema(),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolFailure:
    """Why a call could not run, worded for the model."""

    kind: Literal["unknown_tool", "invalid_arguments", "tool_error"]
    message: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidCall:
    """A call whose arguments passed the tool's input model."""

    tool: Tool
    args: BaseModel
    arguments: dict[str, Any]
    """The validated arguments as JSON (defaults filled in): what is approved and digested."""
    args_digest: str


def validate_call(
    registry: ToolRegistry, name: str, arguments: Mapping[str, Any]
) -> ValidCall | ToolFailure:
    """Check a call before anything runs."""
    tool = registry.find(name)
    if tool is None:
        return ToolFailure(
            kind="unknown_tool",
            message=f"error: there is no tool named {name!r}; "
            f"available tools: {', '.join(registry.names) or 'none'}",
        )
    try:
        args = tool.input_model.model_validate(dict(arguments))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
            for e in exc.errors()
        )
        return ToolFailure(
            kind="invalid_arguments",
            message=f"error: invalid arguments for {name}: {problems}. "
            "Fix the arguments to match the tool's schema and call it again.",
        )
    as_json = args.model_dump(mode="json")
    return ValidCall(tool=tool, args=args, arguments=as_json, args_digest=digest(as_json))


def tool_error_message(name: str, exc: BaseException) -> str:
    """A failed call, worded for the model."""
    if isinstance(exc, ToolError):
        return f"error: {name} failed: {exc}"
    return f"error: {name} failed unexpectedly ({type(exc).__name__}: {exc})"


@dataclass
class ToolRegistry:
    """The tools an agent may use, by name."""

    _tools: dict[str, Tool] = field(default_factory=dict)
    _specs: list[ToolSpec] | None = None
    """What the model sees, built once (a JSON schema per tool costs ~0.1 ms each step)."""

    @classmethod
    def of(cls, tools: Iterable[Tool]) -> ToolRegistry:
        registry = cls()
        for tool in tools:
            registry.register(tool)
        return registry

    def register(self, tool: Tool) -> None:
        if not isinstance(tool, Tool):
            raise UserError(f"{tool!r} is not a Tool: see cairn.agent.tools.Tool for the contract")
        if tool.name in self._tools:
            raise UserError(f"a tool named {tool.name!r} is already registered: rename one")
        self._tools[tool.name] = tool
        self._specs = None

    def find(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def get(self, name: str) -> Tool:
        tool = self._tools.get(name)
        if tool is None:
            raise UnknownTool(
                f"no tool named {name!r}: registered tools are {', '.join(self.names) or 'none'}"
            )
        return tool

    @property
    def names(self) -> list[str]:
        return sorted(self._tools)

    def specs(self) -> list[ToolSpec]:
        if self._specs is None:
            self._specs = [spec(self._tools[n]) for n in self.names]
        return list(self._specs)

    def __len__(self) -> int:
        return len(self._tools)
