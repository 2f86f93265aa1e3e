"""Agents that act: typed tools, durable runs, human approvals, exactly-once side effects and
a hash-chained audit log (docs/agents.md)."""

from cairn.agent.audit import AuditRecord, Verification
from cairn.agent.loop import Agent, Limits, RunView, default_policy
from cairn.agent.store import (
    AGENT_DB,
    AgentStore,
    ApprovalError,
    CallRecord,
    Policy,
    RunNotFound,
    RunRecord,
)
from cairn.agent.tools import (
    FunctionTool,
    SideEffect,
    Tool,
    ToolError,
    ToolRegistry,
    UnknownTool,
    canonical_json,
    digest,
    spec,
    validate_call,
)

__all__ = [
    "AGENT_DB",
    "Agent",
    "AgentStore",
    "ApprovalError",
    "AuditRecord",
    "CallRecord",
    "FunctionTool",
    "Limits",
    "Policy",
    "RunNotFound",
    "RunRecord",
    "RunView",
    "SideEffect",
    "Tool",
    "ToolError",
    "ToolRegistry",
    "UnknownTool",
    "Verification",
    "canonical_json",
    "default_policy",
    "digest",
    "spec",
    "validate_call",
]
