"""The NYSE trading calendar: the one place that knows when the US equity market is open.

- Time zone: America/New_York (daylight saving time included).
- Trading day: a weekday that is not an NYSE holiday. Holidays come from the ``holidays``
  package's NYSE calendar (``holidays.financial_holidays("NYSE")``, which follows the NYSE's
  published holiday list and the one-off closures, such as national days of mourning).
- Regular session: 9:30 to 16:00 New York time (NYSE Rule 7.34, "Trading Sessions").
- Extended hours (``extended=True``): 4:00 to 20:00 New York time, the early (pre-market) and
  late (post-market) sessions around the regular one (NYSE Arca Rule 7.34-E, "Trading
  Sessions"); on a half day the late session ends at 17:00.
- Early closes: 13:00 New York time on the NYSE half days, which ``holidays`` does not list:
  the day before Independence Day (3 July) when it is a weekday, the day after Thanksgiving,
  and Christmas Eve (24 December) when it is a weekday, each only if it is a trading day
  (NYSE, "Holidays and Trading Hours": "each market will close early at 1:00 p.m." on those days).

All functions are pure; datetimes must be timezone-aware (naive ones raise ``ValueError``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

MARKET_ZONE = ZoneInfo("America/New_York")
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
EARLY_CLOSE = time(13, 0)
EXTENDED_OPEN = time(4, 0)
EXTENDED_CLOSE = time(20, 0)
EXTENDED_EARLY_CLOSE = time(17, 0)
THANKSGIVING_MONTH = 11


@lru_cache(maxsize=1)
def _nyse_holidays():
    """The NYSE holiday calendar (the ``holidays`` package; built once, years added on use)."""
    import holidays

    return holidays.financial_holidays("NYSE")


def is_holiday(day: date) -> bool:
    """Whether the NYSE is closed all day on ``day`` for a holiday (weekends are not holidays)."""
    return day in _nyse_holidays()


def is_trading_day(day: date) -> bool:
    """A weekday that is not an NYSE holiday."""
    return day.weekday() < 5 and not is_holiday(day)


def _thanksgiving(year: int) -> date:
    """The fourth Thursday of November."""
    first = date(year, THANKSGIVING_MONTH, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def is_half_day(day: date) -> bool:
    """Whether ``day`` is an NYSE early close (13:00): 3 July or 24 December when a weekday, or
    the day after Thanksgiving; always a trading day."""
    if not is_trading_day(day):
        return False
    return (
        (day.month, day.day) in ((7, 3), (12, 24))
        or day == _thanksgiving(day.year) + timedelta(days=1)
    )


def session(day: date, extended: bool = False) -> tuple[datetime, datetime] | None:
    """The regular session of ``day`` as (open, close) in UTC, or None when the NYSE is shut.
    Close is 16:00 New York time, 13:00 on a half day. ``extended``: the extended-hours day
    instead, 4:00 to 20:00 (17:00 on a half day)."""
    if not is_trading_day(day):
        return None
    if extended:
        close = EXTENDED_EARLY_CLOSE if is_half_day(day) else EXTENDED_CLOSE
        opening = EXTENDED_OPEN
    else:
        close = EARLY_CLOSE if is_half_day(day) else REGULAR_CLOSE
        opening = REGULAR_OPEN
    return (
        datetime.combine(day, opening, MARKET_ZONE).astimezone(UTC),
        datetime.combine(day, close, MARKET_ZONE).astimezone(UTC),
    )


def _local(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"need a timezone-aware time, got {at!r} (e.g. 2024-03-01T15:30:00Z)")
    return at.astimezone(MARKET_ZONE)


def is_open(at: datetime, extended: bool = False) -> bool:
    """Whether ``at`` falls in a regular session (``extended``: in the extended-hours day),
    open and close included (a run at the close still sees the session's last prices)."""
    hours = session(_local(at).date(), extended)
    return hours is not None and hours[0] <= at <= hours[1]


def session_open(at: datetime, extended: bool = False) -> datetime | None:
    """The open (UTC) of the session ``at`` falls in, or None when the market is shut at ``at``."""
    hours = session(_local(at).date(), extended)
    return hours[0] if hours is not None and hours[0] <= at <= hours[1] else None


def trading_day(at: datetime) -> date:
    """The exchange's calendar date of ``at`` (New York), trading day or not."""
    return _local(at).date()


def last_session_open(at: datetime) -> datetime:
    """When the session that ``at`` belongs to opened (UTC): today's open if today is a trading
    day and ``at`` is at or after it, else the open of the last trading day before (a daily loss
    counts from there until the next open)."""
    day = trading_day(at)
    while True:
        hours = session(day)
        if hours is not None and hours[0] <= at:
            return hours[0]
        day -= timedelta(days=1)


def next_session_open(at: datetime) -> datetime:
    """The open (UTC) of the first session that opens after ``at``."""
    day = trading_day(at)
    while True:
        hours = session(day)
        if hours is not None and hours[0] > at:
            return hours[0]
        day += timedelta(days=1)


def next_close(at: datetime) -> datetime:
    """The close (UTC) of the first session that has not closed at ``at``: today's when ``at`` is
    before or at today's close, else the next trading day's. A half day closes at 13:00."""
    day = _local(at).date()
    while True:
        hours = session(day)
        if hours is not None and hours[1] >= at:
            return hours[1]
        day += timedelta(days=1)
