"""`InjectionContextGuard`: the pipeline's context guard (`cairn.stages.ContextGuard`).

Every retrieved chunk is rescanned at query time with the current detector (`kind="chunk"`),
so a better detector protects data ingested before it; the fresh `Risk` replaces the stored
one on the hit (`Hit.risk`), which the prompt, the answer's citations and the API show.

Policies:

- `off`: no scan; the verdict is `off` and hits keep the risk stored at ingest;
- `flag`: every hit is kept and marked; a flagged one is datamarked and carries a warning in
  the LLM prompt (`cairn.answer.prompt`); the verdict is `flagged` with the ids;
- `block`: flagged hits are dropped before the answer stage (the LLM prompt and the
  extractive answer never see them); the rest is answered and the verdict is `flagged`
  with the dropped ids (the request itself is not refused: with nothing left, the answerer
  abstains). A chunk an admin released from quarantine (`released`) is kept and marked.

Scans are cached by chunk hash (`cache_size` entries), so a popular chunk costs one scan.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from typing import Literal, get_args

from cairn.errors import ConfigError
from cairn.guard.detector import InjectionDetector
from cairn.stages import OFF, GuardVerdict, Screened
from cairn.types import Hit, Risk

ContextPolicy = Literal["off", "flag", "block"]
REASON = "prompt-injection"


class InjectionContextGuard:
    """Rescans retrieved chunks for planted instructions under an `off|flag|block` policy."""

    def __init__(
        self,
        detector: InjectionDetector,
        policy: ContextPolicy = "flag",
        *,
        released: Callable[[], Collection[str]] = frozenset,
        cache_size: int = 4096,
    ) -> None:
        if policy not in get_args(ContextPolicy):
            raise ConfigError(
                f"unknown context guard policy {policy!r}: use one of "
                f"{', '.join(get_args(ContextPolicy))} (CAIRN_GUARD_CONTEXT)"
            )
        self.detector = detector
        self.policy: ContextPolicy = policy
        self.released = released
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Risk] = OrderedDict()
        self._lock = threading.Lock()

    def assess(self, text: str, key: str = "") -> Risk:
        """The risk of a chunk's text (cached by `key`, its hash, when given)."""
        if key:
            with self._lock:
                found = self._cache.get(key)
                if found is not None:
                    self._cache.move_to_end(key)
                    return found
        risk = self.detector.scan(text, kind="chunk")
        if key:
            with self._lock:
                self._cache[key] = risk
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return risk

    def screen(self, question: str, hits: list[Hit]) -> Screened:
        if self.policy == "off":
            return Screened(hits=hits, verdict=OFF)
        scanned = [
            dataclasses.replace(
                h, chunk=dataclasses.replace(h.chunk, risk=self.assess(h.chunk.text, h.chunk.hash))
            )
            for h in hits
        ]
        flagged = [h.chunk.id for h in scanned if h.risk is not None and h.risk.flagged]
        if not flagged:
            return Screened(hits=scanned, verdict=GuardVerdict(status="pass"))
        if self.policy == "flag":
            reason = f"{REASON}: {len(flagged)} passage(s) marked: {', '.join(flagged)}"
            return Screened(hits=scanned, verdict=GuardVerdict(status="flagged", reason=reason))
        trusted = set(self.released()) & set(flagged)
        dropped = [i for i in flagged if i not in trusted]
        kept = [h for h in scanned if h.chunk.id not in dropped]
        parts = []
        if dropped:
            parts.append(f"{len(dropped)} of {len(hits)} passage(s) dropped: {', '.join(dropped)}")
        if trusted:
            parts.append(f"released, kept marked: {', '.join(sorted(trusted))}")
        reason = f"{REASON}: {'; '.join(parts)}"
        return Screened(hits=kept, verdict=GuardVerdict(status="flagged", reason=reason))
