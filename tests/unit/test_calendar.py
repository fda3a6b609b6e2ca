"""The NYSE calendar: trading days, sessions, half days and the next close, checked against
the NYSE's published 2024-2026 calendars and by properties over any time."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradeflow.domain import calendar

NEW_YORK = ZoneInfo("America/New_York")

#: NYSE "Holidays and Trading Hours" (published lists), typed in by hand.
HOLIDAYS = {
    2024: ["01-01", "01-15", "02-19", "03-29", "05-27", "06-19", "07-04", "09-02", "11-28", "12-25"],
    2025: ["01-01", "01-09", "01-20", "02-17", "04-18", "05-26", "06-19", "07-04", "09-01", "11-27", "12-25"],
    2026: ["01-01", "01-19", "02-16", "04-03", "05-25", "06-19", "07-03", "09-07", "11-26", "12-25"],
}
HALF_DAYS = {2024: ["07-03", "11-29", "12-24"], 2025: ["07-03", "11-28", "12-24"], 2026: ["11-27", "12-24"]}


def days(year: int, listed: dict) -> set[date]:
    return {date.fromisoformat(f"{year}-{md}") for md in listed[year]}


@pytest.mark.parametrize("year", sorted(HOLIDAYS))
def test_holidays_and_half_days_match_the_nyse_calendar(year):
    every_day = [date(year, 1, 1) + timedelta(days=n) for n in range(366) if (date(year, 1, 1) + timedelta(days=n)).year == year]
    assert {d for d in every_day if d.weekday() < 5 and not calendar.is_trading_day(d)} == days(year, HOLIDAYS)
    assert {d for d in every_day if calendar.is_half_day(d)} == days(year, HALF_DAYS)


def test_sessions_follow_new_york_time_through_daylight_saving():
    assert calendar.session(date(2024, 3, 1)) == (datetime(2024, 3, 1, 14, 30, tzinfo=UTC),
                                                   datetime(2024, 3, 1, 21, tzinfo=UTC))  # EST
    assert calendar.session(date(2024, 7, 1)) == (datetime(2024, 7, 1, 13, 30, tzinfo=UTC),
                                                   datetime(2024, 7, 1, 20, tzinfo=UTC))  # EDT
    assert calendar.session(date(2024, 12, 24))[1] == datetime(2024, 12, 24, 18, tzinfo=UTC)  # 13:00 EST
    assert calendar.session(date(2024, 12, 25)) is None and calendar.session(date(2024, 3, 2)) is None


def test_open_includes_the_close_and_not_a_half_days_afternoon():
    assert calendar.is_open(datetime(2024, 3, 1, 21, tzinfo=UTC))  # 16:00 EST, the close itself
    assert not calendar.is_open(datetime(2024, 3, 1, 21, 1, tzinfo=UTC))
    assert not calendar.is_open(datetime(2024, 3, 1, 14, 29, tzinfo=UTC))
    assert not calendar.is_open(datetime(2024, 11, 29, 19, tzinfo=UTC))  # 14:00 on the day after Thanksgiving
    assert not calendar.is_open(datetime(2024, 12, 25, 16, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.is_open(datetime(2024, 3, 1, 15))


moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC))


@given(moments)
def test_next_close_is_the_first_session_close_not_before_now(at):
    close = calendar.next_close(at)
    local = close.astimezone(NEW_YORK)
    # a close, not before now, of a trading day, at 16:00 or (a half day) at 13:00
    assert close >= at and calendar.is_trading_day(local.date())
    assert local.time() == (time(13) if calendar.is_half_day(local.date()) else time(16))
    # no other close lies between now and it (recomputed day by day, independently)
    day = at.astimezone(NEW_YORK).date()
    while day < local.date():
        hours = calendar.session(day)
        assert hours is None or hours[1] < at
        day += timedelta(days=1)
    # at most a long weekend away (4 holidays-and-weekend days at most, e.g. Christmas on a Thursday)
    assert close - at < timedelta(days=5)


@given(moments)
def test_open_means_inside_todays_session_and_the_next_close_is_today(at):
    if calendar.is_open(at):
        local = at.astimezone(NEW_YORK)
        assert calendar.is_trading_day(local.date())
        assert time(9, 30) <= local.time() <= time(16)
        assert calendar.next_close(at).astimezone(NEW_YORK).date() == local.date()
        assert calendar.next_close(at) - at <= timedelta(hours=6, minutes=30)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)))
def test_a_session_lasts_six_and_a_half_hours_or_three_and_a_half_on_a_half_day(day):
    hours = calendar.session(day)
    if hours is None:
        assert day.weekday() >= 5 or calendar.is_holiday(day)
        return
    assert hours[1] - hours[0] == (timedelta(hours=3, minutes=30) if calendar.is_half_day(day)
                                   else timedelta(hours=6, minutes=30))


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)))
def test_extended_hours_run_4_to_20_new_york_on_trading_days_and_contain_the_session(at):
    local = at.astimezone(NEW_YORK)
    close = time(17) if calendar.is_half_day(local.date()) else time(20)
    expected = calendar.is_trading_day(local.date()) and time(4) <= local.time() <= close
    assert calendar.is_open(at, extended=True) == expected
    assert not calendar.is_open(at) or calendar.is_open(at, extended=True)
    opened = calendar.session_open(at, extended=True)
    assert (opened is not None) == expected
    if opened:
        assert opened.astimezone(NEW_YORK).time() == time(4) and opened.date() <= at.date()
