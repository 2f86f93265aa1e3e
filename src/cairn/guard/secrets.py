"""Secrets in text: API-key shapes, private keys, URLs with credentials, configured keys.

    finder = SecretFinder(known=["my-deployment-key"])
    finder.find("use sk-abc...")   # [Secret(start=4, end=..., kind='openai_key')]
    finder.scrub("use sk-abc...")  # 'use [SECRET:openai_key]'

Shapes are matched on their documented prefixes (cairn's own `cairn_` keys, OpenAI `sk-`,
AWS `AKIA`/`ASIA`, GitHub `ghp_`/`gho_`/`ghs_`/`ghu_`/`ghr_`/`github_pat_`, Slack `xox?-`,
Google `AIza`, Stripe `sk_live_`/`rk_live_`, JSON Web Tokens, PEM private-key blocks); in a
URL only the password is the secret, and so is the value in `password=...`/`API_KEY: ...`
when it holds a digit. `known` values (keys the deployment holds) are matched verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_SHAPES: tuple[tuple[str, str], ...] = (
    (
        "private_key",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
    ),
    ("cairn_key", r"\bcairn_[A-Za-z0-9_\-]{40,}"),
    ("openai_key", r"\bsk-(?:proj-|ant-|or-v1-)?[A-Za-z0-9_\-]{20,}"),
    ("stripe_key", r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"),
    ("aws_access_key", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    ("slack_token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}"),
    ("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    ("bearer_token", r"(?<=\b[Bb]earer )[A-Za-z0-9_\-\.=]{20,}"),
)
_URL_PASSWORD = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]+:([^\s@/]+)@")
_ASSIGNED = re.compile(
    r"(?i)\b(?:api[_-]?key|access[_-]?key|secret(?:[_-]?key)?|password|passwd|token)"
    r"[\"']?\s*[:=]\s*[\"']?((?=[^\s\"']*\d)[^\s\"',;]{8,})"
)
"""`password=...`, `API_KEY: "..."`: the value (8 characters or more, holding a digit)."""


@dataclass(frozen=True, slots=True)
class Secret:
    """`text[start:end]` is a secret of `kind`."""

    start: int
    end: int
    kind: str


class SecretFinder:
    """Finds secrets by shape, in URLs, and the `known` values given (shorter than 8
    characters are ignored: they would match ordinary words)."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        self.known = tuple(sorted({k for k in known if len(k) >= 8}, key=len, reverse=True))
        patterns = [f"(?P<{kind}>{pattern})" for kind, pattern in _SHAPES]
        if self.known:
            patterns.insert(0, "(?P<configured_key>" + "|".join(map(re.escape, self.known)) + ")")
        self._pattern = re.compile("|".join(patterns))

    def find(self, text: str) -> list[Secret]:
        found = [
            Secret(m.start(), m.end(), m.lastgroup or "secret")
            for m in self._pattern.finditer(text)
        ]
        found += [
            Secret(m.start(1), m.end(1), "url_password") for m in _URL_PASSWORD.finditer(text)
        ]
        found += [Secret(m.start(1), m.end(1), "assigned") for m in _ASSIGNED.finditer(text)]
        chosen: list[Secret] = []
        for s in sorted(found, key=lambda s: (s.start, -(s.end - s.start))):
            if not chosen or s.start >= chosen[-1].end:
                chosen.append(s)
        return chosen

    def scrub(self, text: str) -> str:
        """`text` with each secret replaced by `[SECRET:kind]`."""
        out, last = [], 0
        for s in self.find(text):
            out += [text[last : s.start], f"[SECRET:{s.kind}]"]
            last = s.end
        return "".join(out) + text[last:]
