"""The injectable clock. Every "now" in tradeflow comes from here, so a replay is deterministic.

In Lambda this is the system clock (UTC). The local stack installs a replay clock with
:func:`use_clock` and moves it bar by bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta


def system_now() -> datetime:
    """The wall-clock time, timezone-aware UTC."""
    return datetime.now(UTC)


_source: Callable[[], datetime] = system_now


def now() -> datetime:
    """The current time (timezone-aware UTC) from the installed clock."""
    return _source()


def sleep(seconds: float) -> None:
    """Wait ``seconds``: on the system clock really; on a replay clock by moving it forward
    (so a backoff in a replay takes no wall time and shows on the replay's time line)."""
    advance = getattr(_source, "advance", None)
    if advance is not None:
        advance(seconds)
    else:
        time.sleep(seconds)


@contextmanager
def use_clock(source: Callable[[], datetime]) -> Iterator[None]:
    """Install ``source`` as the clock inside the ``with`` block, then restore the previous one."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous


class ReplayClock:
    """A clock that stands still until told to move: ``clock.set(t)``; call it for the time."""

    def __init__(self, start: datetime) -> None:
        self.set(start)

    def set(self, t: datetime) -> None:
        """Move to ``t`` (must be timezone-aware; stored as UTC)."""
        if t.tzinfo is None:
            raise ValueError("the replay clock needs a timezone-aware time, e.g. 2024-03-01T15:30:00Z")
        self._now = t.astimezone(UTC)

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds``."""
        self._now += timedelta(seconds=seconds)

    def __call__(self) -> datetime:
        return self._now
