"""A hand-wound clock, for code that takes `clock=`."""

from __future__ import annotations


class Clock:
    """Returns `now` until advanced; pass it wherever a `Callable[[], float]` clock goes."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
