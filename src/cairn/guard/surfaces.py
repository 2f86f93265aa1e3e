"""The PII policy (`guard.pii`: `off`, `mask`, `redact`; `CAIRN_GUARD_PII`) on every surface.

With `mask` or `redact`, personal data found by `cairn.guard.pii.PIIDetector` is masked
(`j***@e***.com`) or redacted (`[EMAIL_ADDRESS]`):

- answers: the answer text and each citation's quote (`PIIOutputGuard`, after the leak guard);
- traces: every string attribute of every span (`cairn.trace.redact.register_scrubber`);
- logs: every log record's message, whatever the logger (`install_log_scrubber`);
- the answer cache (`PIIAnswerCache`): a question holding personal data is neither looked up
  nor stored (its text would be kept, and two questions differing only in the person must
  not share an answer); other answers are stored as shown, their hits' chunk text scrubbed;
- the ledger holds no request text (ids, model, tokens, cost, the name of a refused limit);
  user and tenant ids are what the deployment passes, so pass opaque ids.

Presidio is the `pii` extra; a policy other than `off` without it is a `ConfigError` that
says how to install it (there is no regex-only fallback: the trace redaction's regexes,
`trace.prompts = "redacted"`, stay on in every case).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cairn.errors import ConfigError
from cairn.stages import GuardVerdict, OutputGuard

if TYPE_CHECKING:
    from cairn.answer.base import Draft
    from cairn.cache import AnswerCache, CacheHit, CacheRequest
    from cairn.guard.pii import PIIDetector
    from cairn.types import Answer, Hit

Scrub = Callable[[str], str]


def pii_detector(policy: str) -> PIIDetector | None:
    """The detector `policy` needs (`None` for `off`); a clear error without the extra."""
    if policy == "off":
        return None
    from cairn.guard.pii import INSTALL_HINT, PIIDetector, PIIPolicy

    PIIPolicy(policy)
    try:
        import presidio_analyzer  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"guard.pii = {policy!r} needs PII detection. {INSTALL_HINT}; or set guard.pii "
            "to off (CAIRN_GUARD_PII=off)"
        ) from exc
    return PIIDetector()


def make_scrub(detector: PIIDetector, policy: str) -> Scrub:
    """`detector.apply(text, policy)`, with the engine built now (not inside a log call) and
    re-entry skipped: Presidio logs while it works, and a log scrubber must not call back
    into it from the same thread."""
    detector.engine  # noqa: B018  (built here, once)
    return reentry_safe(lambda text: detector.apply(text, policy))


def reentry_safe(scrub: Scrub) -> Scrub:
    """`scrub`, returning the text as it is when called from inside a scrub on the same
    thread (the detector logging while it works)."""

    def safe(text: str) -> str:
        if getattr(_busy, "on", False):
            return text
        _busy.on = True
        try:
            return scrub(text)
        finally:
            _busy.on = False

    return safe


class PIIOutputGuard:
    """An output guard that masks or redacts personal data in what `inner` lets through."""

    def __init__(self, inner: OutputGuard, scrub: Scrub) -> None:
        self.inner = inner
        self.scrub = scrub

    def check(self, draft: Draft, hits: list[Hit]) -> GuardVerdict:
        verdict = self.inner.check(draft, hits)
        if verdict.blocked:
            return verdict
        shown = verdict.draft or draft
        scrubbed = scrub_draft(shown, self.scrub)
        if scrubbed == shown:
            return verdict
        status = verdict.status if verdict.status == "flagged" else "flagged"
        reason = f"{verdict.reason}; pii" if verdict.reason else "pii"
        return GuardVerdict(status=status, reason=reason, draft=scrubbed)


def scrub_draft(draft: Draft, scrub: Scrub) -> Draft:
    """`draft` with its text and citation quotes scrubbed."""
    citations = tuple(dataclasses.replace(c, quote=scrub(c.quote)) for c in draft.citations)
    return dataclasses.replace(draft, text=scrub(draft.text), citations=citations)


class PIIAnswerCache:
    """An `AnswerCache` that never stores raw personal data (see the module docstring)."""

    def __init__(self, inner: AnswerCache, detector: PIIDetector, scrub: Scrub) -> None:
        self.inner = inner
        self.detector = detector
        self.scrub = scrub

    def get(self, request: CacheRequest) -> CacheHit | None:
        if self.detector.find(request.question):
            return None
        return self.inner.get(request)

    def put(self, request: CacheRequest, answer: Answer) -> None:
        if self.detector.find(request.question):
            return
        self.inner.put(request, scrub_answer(answer, self.scrub))

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # the rest of the backend's API (clear, stats)
        return getattr(self.inner, name)


def scrub_answer(answer: Answer, scrub: Scrub) -> Answer:
    citations = tuple(dataclasses.replace(c, quote=scrub(c.quote)) for c in answer.citations)
    hits = tuple(
        dataclasses.replace(h, chunk=dataclasses.replace(h.chunk, text=scrub(h.chunk.text)))
        for h in answer.hits
    )
    return dataclasses.replace(answer, text=scrub(answer.text), citations=citations, hits=hits)


_installed: list[Scrub] = []
_busy = threading.local()
_previous: list[Callable[..., logging.LogRecord]] = []


def install_log_scrubber(scrub: Scrub) -> None:
    """Scrub the message of every log record made from now on in this process (the record
    factory, so every logger and handler sees the scrubbed text). Installed once."""
    if _installed:
        _installed[0] = scrub
        return
    _installed.append(scrub)
    previous = logging.getLogRecordFactory()
    _previous.append(previous)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if getattr(_busy, "on", False):  # logged by the detector itself while it scrubs
            return record
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logged as it is
            return record
        record.msg, record.args = _installed[0](message), ()
        return record

    logging.setLogRecordFactory(factory)


def remove_scrubbers() -> None:
    """Undo `install_log_scrubber` and the trace scrubber (a workspace closing in a process
    that goes on, such as a test run)."""
    from cairn.trace.redact import register_scrubber

    register_scrubber(None)
    if _previous:
        logging.setLogRecordFactory(_previous.pop())
    _installed.clear()
