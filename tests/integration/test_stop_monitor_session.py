"""The deployed stop monitor (MARKET_CALENDAR=NYSE) does nothing outside the NYSE session."""

from datetime import UTC, datetime

import pytest
from tradeflow.settings import env


@pytest.fixture
def nyse(monkeypatch):
    monkeypatch.setenv("MARKET_CALENDAR", "NYSE")
    env.cache_clear()
    yield
    env.cache_clear()


@pytest.mark.parametrize("at", [
    datetime(2024, 12, 25, 15, tzinfo=UTC),   # Christmas, 10:00 New York
    datetime(2024, 11, 29, 19, tzinfo=UTC),   # day after Thanksgiving, 14:00: closed at 13:00
    datetime(2024, 3, 2, 15, tzinfo=UTC),     # Saturday
    datetime(2024, 3, 1, 14, 15, tzinfo=UTC),  # 9:15, before the open
])
def test_outside_the_session_it_touches_nothing(stack, strategy, replay_clock, nyse, monkeypatch, at):
    def refuse(settings):
        raise AssertionError("the stop monitor opened the database outside the session")

    monkeypatch.setattr(stack.handler("stop_monitor"), "get_connection", refuse)
    replay_clock.set(at)
    assert stack.run_schedule("stop_monitor") == {"ticks": 0, "exits": 0, "idle": "outside the NYSE session"}


def test_inside_the_session_it_ticks(stack, strategy, replay_clock, nyse):
    replay_clock.set(datetime(2024, 11, 29, 17, tzinfo=UTC))  # 12:00 on a half day: still open
    result = stack.run_schedule("stop_monitor")
    assert "idle" not in result and result["ticks"] >= 1
