"""The errors cairn raises. Every message says what to do next.

    CairnError
    ├── UserError                     misuse: bad configuration, bad arguments
    │   ├── ConfigError               the configuration is invalid or incomplete
    │   │   └── UnknownModelPrice     (cairn.budget) a model with no known price, never $0
    │   ├── WorkspaceNotFound         no workspace where one was expected
    │   ├── ProviderConfigError       (cairn.llm) a provider that cannot work as configured
    │   └── ReservationClosed         (cairn.budget) a reservation settled or released twice
    └── RunError                      something failed at run time
        ├── IngestError               one input could not be ingested (path and reason)
        ├── ModelError                the embedding model could not be loaded or run
        ├── StoreError                the workspace database is missing, locked or corrupt
        │   └── LedgerError           (cairn.budget) the cost ledger failed
        ├── BudgetExceeded            (cairn.budget) a limit would be crossed; names it
        └── LLMError                  (cairn.llm) timeouts, 429s, 5xx, bad responses,
                                      open circuits, and AllProvidersFailed

The subclasses marked with a package live next to the code that raises them.
"""

from __future__ import annotations

import math


class CairnError(Exception):
    """Base of every error cairn raises on purpose."""


class UserError(CairnError):
    """The caller asked for something that cannot work; the message says how to fix it."""


class ConfigError(UserError):
    """The configuration is invalid or incomplete."""


class WorkspaceNotFound(UserError):
    """No workspace at the given path."""


class RunError(CairnError):
    """A failure while doing the work."""


class IngestError(RunError):
    """One input could not be ingested. Carries the path and a short reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class EmptyDocument(IngestError):
    """The file was read but holds nothing to index (an empty file, a page of navigation
    only): listed as skipped by the `empty` rule, not as a failure."""


class ModelError(RunError):
    """The embedding model could not be loaded or run."""


class StoreError(RunError):
    """The workspace store failed (missing, locked, corrupt or from a newer cairn)."""


def status_of(exc: CairnError) -> tuple[int, str, dict[str, str]]:
    """The HTTP status, error code and extra headers for one of cairn's errors.

    One mapping for the API's error bodies and the command line's `--json` failures.
    """
    from cairn.budget.errors import BudgetExceeded
    from cairn.llm.errors import LLMError, ProviderTimeout, RateLimited

    if isinstance(exc, BudgetExceeded):
        return 402, "budget_exceeded", {}
    if isinstance(exc, ProviderTimeout):
        return 504, "upstream_timeout", {}
    if isinstance(exc, RateLimited):
        after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": retry_after_header(after)} if after else {}
        return 503, "upstream_rate_limited", headers
    if isinstance(exc, LLMError):
        return 502, "upstream_error", {}
    if isinstance(exc, WorkspaceNotFound):
        return 503, "workspace_unavailable", {}
    if isinstance(exc, ConfigError):
        return 500, "configuration_error", {}
    if isinstance(exc, IngestError):
        return 422, "ingest_error", {}
    if isinstance(exc, UserError):
        return 400, "bad_request", {}
    return 503, "unavailable", {}  # RunError: store, model, ledger


def retry_after_header(seconds: float) -> str:
    """`Retry-After` in whole seconds, rounded up (never telling a client to come back early)."""
    return str(max(1, math.ceil(seconds)))
