"""The errors cairn raises. Every message says what to do next.

CairnError
├── UserError                 misuse: bad configuration, bad arguments
│   └── ConfigError           the configuration is invalid or incomplete
├── RunError                  something failed at run time
│   ├── IngestError           one input could not be read (path and reason)
│   ├── ModelError            the embedding model could not be loaded or run
│   └── StoreError            the workspace database is missing, locked or corrupt
└── WorkspaceNotFound         (a UserError) no workspace where one was expected
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
