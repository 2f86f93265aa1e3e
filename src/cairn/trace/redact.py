"""What of a request's text may be kept in a span (`trace.prompts`).

- `full`: prompts, questions and answers are stored as they are;
- `redacted` (default): e-mail addresses, API keys and tokens, and long digit runs (card,
  account and phone numbers) are masked in every string attribute;
- `none`: the content attributes (question, query, prompt, answer, ...) are dropped.

Credentials are masked in every mode: a `cairn_...`, `sk-...`, `AKIA...`, JWT or `Bearer ...`
string, a private key, the password of a `scheme://user:password@host` URL or a configured
key (`register_secret`) never reaches a trace, whatever the policy. cairn's own ids (trace,
document, chunk, key and job ids) are not secrets and are kept, so a cached answer's
`cache_source_trace_id` still leads to the trace that produced it.

The shapes are precise patterns rather than a scanner such as detect-secrets: that library
is built for source code (its entropy plugins flag cairn's trace and chunk ids as secrets),
reports findings rather than the spans to mask, and is many times slower per string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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
    # prefixed API keys: cairn's own, OpenAI/Anthropic/Stripe-like, GitHub, GitLab, Slack
    r"\b(?:cairn|sk|pk|rk|ghp|gho|ghs|ghu|ghr|github_pat|glpat|xox[abpr])[-_][A-Za-z0-9_\-]{12,}"
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bAIza[0-9A-Za-z_\-]{35}"  # Google API key
    r"|\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"  # JSON Web Token
    r"|-----BEGIN[A-Z ]*PRIVATE KEY-----(?:.*?-----END[A-Z ]*PRIVATE KEY-----)?"
    r"|\bBearer\s+[A-Za-z0-9._~+/\-]+=*"
    r"|\b(?:api[_-]?key|authorization|token|password|passwd|secret)\s*[:=]\s*(?:Bearer\s+)?\S+",
    re.IGNORECASE | re.DOTALL,
)
_URL_USERINFO = re.compile(r"(?<=://)[^\s/@:]+:[^\s/@]+@")
"""`scheme://user:password@host`: the user and password go, the host stays."""


def safe_url(url: str) -> str:
    """`url` fit for a message or a log: without its user and password."""
    return _URL_USERINFO.sub("***@", url)


_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_DIGITS = re.compile(r"(?<![\w.])\+?\d(?:[ \-]?\d){7,}(?![\w.])")
_TOKEN = re.compile(r"\b(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{32,}\b")
_CAIRN_ID = re.compile(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}")
"""cairn's long ids: trace ids (and budget reservation ids) are `uuid4().hex`, 32 lowercase
hex digits with the version nibble 4 and the variant in 8-b. Its other ids are shorter than
the long-token rule: documents are 16 hex digits, chunks `DOC-N`, API keys `key_` + 12 hex,
jobs `job_` + 16 hex, feedback `fb_` + 16 hex; none of them is masked."""

_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this exact string (a configured API key, a password) wherever it appears, in
    every mode. Values shorter than 8 characters are ignored (they would mask words)."""
    if value and len(value) >= 8:
        _known_secrets.add(value)


_SECRET_SETTING = re.compile(r"(?:^|_)(?:api_key|key|password|secret|token)$")


def register_configured_secrets(config: Mapping[str, Any]) -> None:
    """Register every configured credential (`llm.api_key`, a `password`, ...) of a settings
    dump, at any depth, with `register_secret`."""
    for key, value in config.items():
        if isinstance(value, Mapping):
            register_configured_secrets(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    register_configured_secrets(item)
        elif isinstance(value, str) and _SECRET_SETTING.search(str(key)):
            register_secret(value)


def mask_credentials(text: str) -> str:
    """Mask API keys, bearer tokens, `key=value` secrets, passwords in URLs and configured
    secrets (applied in every mode)."""
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "[secret]")
    text = _URL_USERINFO.sub("[secret]@", text)
    return _CREDENTIAL.sub("[secret]", text)


def _token(match: re.Match[str]) -> str:
    token = match.group()
    return token if _CAIRN_ID.fullmatch(token) else "[secret]"


def redact(text: str) -> str:
    """Mask credentials, e-mail addresses, long tokens other than cairn's own ids, and runs
    of 8 or more digits."""
    text = mask_credentials(text)
    text = _EMAIL.sub("[email]", text)
    text = _TOKEN.sub(_token, text)
    return _DIGITS.sub("[number]", text)


_scrubbers: list[Callable[[str], str]] = []


def register_scrubber(scrub: Callable[[str], str] | None) -> None:
    """Also pass every string attribute (ids excepted) through `scrub`, in every mode: the
    PII policy (`guard.pii`, `cairn.guard.surfaces`) registers its masking here. `None`
    removes it."""
    _scrubbers.clear()
    if scrub is not None:
        _scrubbers.append(scrub)


def apply_policy(attributes: Mapping[str, Any], policy: PromptPolicy) -> dict[str, Any]:
    """The attributes as they may be stored under `policy`."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        content = key.rsplit(".", 1)[-1] in CONTENT_KEYS
        if content and policy == "none":
            continue
        scrub: Callable[[str], str] = redact if policy == "redacted" else mask_credentials
        if _scrubbers and not key.endswith(("id", "ids")):
            extra = _scrubbers[0]
            scrub = _chained(scrub, extra)
        out[key] = _clean(value, scrub)
    return out


def _chained(first: Callable[[str], str], then: Callable[[str], str]) -> Callable[[str], str]:
    return lambda text: then(first(text)) if len(text) >= 6 else first(text)


def _clean(value: Any, scrub: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list | tuple):
        return [_clean(v, scrub) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v, scrub) for k, v in value.items()}
    return value
