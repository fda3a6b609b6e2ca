"""Environment of each Lambda, as pydantic models checked at cold start.

Nothing else in tradeflow reads ``os.environ``. A missing or malformed variable fails the
cold start with a message naming it, rather than failing later inside a trade.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradeflow.names import CONTROL_API_TOKEN_PARAMETER
from tradeflow.webhook_env import WebhookEnv  # noqa: F401  (kept apart: the webhook skips pydantic-settings)


def in_session(market_calendar: str | None, at: datetime) -> bool:
    """Whether ``at`` (UTC) falls in the NYSE session ``market_calendar`` names (``NYSE``: the
    regular one, ``NYSE_EXTENDED``: 4:00-20:00 New York), holidays and half days included
    (:mod:`tradeflow.domain.calendar`); always True for None (around the clock)."""
    if market_calendar is None:
        return True
    from tradeflow.domain import calendar

    return calendar.is_open(at, extended=market_calendar == "NYSE_EXTENDED")


class _Env(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)


class DatabaseEnv(_Env):
    """How to reach PostgreSQL: ``DATABASE_URL`` (local, tests) or ``DATABASE_SECRET_ARN``
    (AWS: the Aurora secret in Secrets Manager, JSON with host, port, username, password, dbname)."""

    database_url: str | None = None
    database_secret_arn: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DatabaseEnv:
        if not (self.database_url or self.database_secret_arn):
            raise ValueError("set DATABASE_URL or DATABASE_SECRET_ARN so the function can reach PostgreSQL")
        return self


class SignalProcessorEnv(DatabaseEnv):
    orders_queue_url: str
    notifications_queue_url: str


class OrderCreatorEnv(DatabaseEnv):
    executions_queue_url: str
    notifications_queue_url: str


class PaperExecutorEnv(DatabaseEnv):
    """paper_executor; ``STATE_BUCKET`` (optional) holds the open-positions flag it keeps."""

    notifications_queue_url: str
    state_bucket: str | None = None


class StopMonitorEnv(DatabaseEnv):
    """stop_monitor: ``TICKS_PER_INVOCATION`` checks, ``TICK_SECONDS`` apart (seconds), in
    each scheduled invocation; 1 tick per invocation when driven by a replay clock. With
    ``STATE_BUCKET`` set, a tick is skipped while the open-positions flag there says 0. With
    ``MARKET_CALENDAR=NYSE`` (the deployed default) an invocation outside the NYSE regular
    session (holidays, half days' afternoons) does nothing; ``NYSE_EXTENDED`` (the deploy
    setting ``extended_hours``) widens it to the extended session, 4:00-20:00 New York (17:00
    on half days); unset, it runs around the clock."""

    executions_queue_url: str
    notifications_queue_url: str
    state_bucket: str | None = None
    ticks_per_invocation: int = Field(default=4, ge=1, le=12)
    tick_seconds: float = Field(default=15.0, ge=0)
    market_calendar: Literal["NYSE", "NYSE_EXTENDED"] | None = None

    def in_session(self, at: datetime) -> bool:
        """Whether ``at`` (UTC) is in the session MARKET_CALENDAR names (always, when unset)."""
        return in_session(self.market_calendar, at)

    def session_open(self, at: datetime) -> datetime | None:
        """The open of the session ``at`` is in, on MARKET_CALENDAR (None when unset or closed)."""
        if self.market_calendar is None:
            return None
        from tradeflow.domain import calendar

        return calendar.session_open(at, extended=self.market_calendar == "NYSE_EXTENDED")


class NotifierEnv(DatabaseEnv):
    """notifier: the trader-alerts topic (email subscriptions) and, when the trader has phones,
    the urgent topic (their SMS subscriptions) that each text is published to."""

    trader_alerts_topic_arn: str
    urgent_topic_arn: str | None = None
    #: The chat topic the chat sender (outside the VPC) posts from; unset = no chat channels.
    chat_topic_arn: str | None = None
    #: Its own queue, where a burst's timer waits (a delayed message); unset = no timer.
    notifications_queue_url: str | None = None


class ControlApiEnv(DatabaseEnv):
    """control (the cockpit's API function): where its bearer token is kept, and the queue the
    guardian's actions send urgent notifications to (:class:`ControlEnv`)."""

    api_token_parameter: str = CONTROL_API_TOKEN_PARAMETER
    notifications_queue_url: str | None = None


@lru_cache
def env(model: type[_Env]) -> _Env:
    """The environment parsed into ``model``, once per process (cold start)."""
    return model()


class ControlEnv(_Env):
    """The control actions (cockpit, CLI): where their urgent notifications go; unset = the
    events are returned but not sent (a laptop without the stack)."""

    notifications_queue_url: str | None = None

class MarketDataEnv(_Env):
    """market_data (outside the VPC, no database): the state bucket holding the watchlist,
    the stop monitor it hands bars to, ``TICKS_PER_INVOCATION`` fetches ``TICK_SECONDS``
    (seconds) apart in each scheduled invocation, and Alpaca's stock feed (``iex`` on the
    free plan, ``sip`` with a subscription). ``REPLAY_BARS_FILE`` (the local stack only) names
    recorded bars served as the ``replay`` source (:mod:`tradeflow.adapters.market_data.replay`).
    With ``MARKET_CALENDAR=NYSE`` an invocation outside the NYSE regular session fetches
    nothing; ``NYSE_EXTENDED`` widens it to the extended session (4:00-20:00 New York)."""

    state_bucket: str
    stop_monitor_function: str = "tradeflow-stop_monitor"
    ticks_per_invocation: int = Field(default=4, ge=1, le=12)
    tick_seconds: float = Field(default=15.0, ge=0)
    alpaca_feed: Literal["iex", "sip"] = "iex"
    replay_bars_file: str | None = None
    market_calendar: Literal["NYSE", "NYSE_EXTENDED"] | None = None

    def in_session(self, at: datetime) -> bool:
        """Whether ``at`` (UTC) is in the session MARKET_CALENDAR names (always, when unset)."""
        return in_session(self.market_calendar, at)
