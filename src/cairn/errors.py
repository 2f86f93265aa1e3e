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


class ModelError(RunError):
    """The embedding model could not be loaded or run."""


class StoreError(RunError):
    """The workspace store failed (missing, locked, corrupt or from a newer cairn)."""
