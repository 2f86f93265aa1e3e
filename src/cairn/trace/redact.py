"""What of a request's text may be kept in a span (`trace.prompts`).

- `full`: prompts, questions and answers are stored as they are;
- `redacted` (default): e-mail addresses, API keys and tokens, and long digit runs (card,
  account and phone numbers) are masked in every string attribute;
- `none`: the content attributes (question, query, prompt, answer, ...) are dropped.

Credentials are masked in every mode: a `cairn_...`, `sk-...` or `Bearer ...` string never
reaches a trace, whatever the policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

PromptPolicy = Literal["full", "redacted", "none"]

CONTENT_KEYS = frozenset(
    {
        "question",
        "query",
        "prompt",
        "prompts",
        "messages",
        "system",
        "answer",
        "completion",
        "text",
        "quote",
        "quotes",
        "comment",
    }
)
"""Attributes that carry what a user asked or what a model said."""

_CREDENTIAL = re.compile(
    r"\b(?:cairn|sk|pk|rk|ghp|gho|ghs|xox[abpr])[-_][A-Za-z0-9_\-]{12,}"
    r"|\bBearer\s+[A-Za-z0-9._~+/\-]+=*"
    r"|\b(?:api[_-]?key|authorization|token|password|secret)\s*[:=]\s*(?:Bearer\s+)?\S+",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_DIGITS = re.compile(r"(?<![\w.])\+?\d(?:[ \-]?\d){7,}(?![\w.])")
_TOKEN = re.compile(r"\b(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{32,}\b")


def mask_credentials(text: str) -> str:
    """Mask API keys, bearer tokens and `key=value` secrets (applied in every mode)."""
    return _CREDENTIAL.sub("[secret]", text)


def redact(text: str) -> str:
    """Mask credentials, e-mail addresses, long tokens and runs of 8 or more digits."""
    text = mask_credentials(text)
    text = _EMAIL.sub("[email]", text)
    text = _TOKEN.sub("[secret]", text)
    return _DIGITS.sub("[number]", text)


def apply_policy(attributes: Mapping[str, Any], policy: PromptPolicy) -> dict[str, Any]:
    """The attributes as they may be stored under `policy`."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        content = key.rsplit(".", 1)[-1] in CONTENT_KEYS
        if content and policy == "none":
            continue
        out[key] = _clean(value, redact if policy == "redacted" else mask_credentials)
    return out


def _clean(value: Any, scrub: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list | tuple):
        return [_clean(v, scrub) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v, scrub) for k, v in value.items()}
    return value
