"""Guardrails: checks on what comes into and goes out of cairn.

Prompt-injection and jailbreak detection for questions and document chunks:
`InjectionDetector` combines normalisation (`normalise`), the rule layer (`match_rules`) and
the shipped classifier (`InjectionClassifier`) into a `Risk(score, flagged, reasons)`;
`InjectionInputGuard` puts it behind the pipeline's `InputGuard` protocol; `ToolCallGuard`
(default `TaintGuard`) holds the agent's tool calls steered by untrusted text for approval.
PII detection (`cairn.guard.pii`, the `pii` extra) and output leak checks (`cairn.guard.leaks`,
`cairn.guard.secrets`, `cairn.guard.links`) are imported from their modules. See docs/guard.md.
"""

from cairn.guard.classifier import InjectionClassifier
from cairn.guard.detector import NO_RISK, InjectionDetector, Risk, Separated
from cairn.guard.input import InjectionInputGuard, InputPolicy
from cairn.guard.normalise import Normalised, normalise
from cairn.guard.rules import RULES, match_rules
from cairn.guard.tools import AllowToolCalls, TaintGuard, ToolCall, ToolCallGuard, ToolDecision

__all__ = [
    "NO_RISK",
    "RULES",
    "AllowToolCalls",
    "InjectionClassifier",
    "InjectionDetector",
    "InjectionInputGuard",
    "InputPolicy",
    "Normalised",
    "Risk",
    "Separated",
    "TaintGuard",
    "ToolCall",
    "ToolCallGuard",
    "ToolDecision",
    "match_rules",
    "normalise",
]
