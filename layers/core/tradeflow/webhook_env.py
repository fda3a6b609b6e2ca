"""The webhook's environment: a plain pydantic model, read like the others in
:mod:`tradeflow.settings` (which re-exports it) but without pydantic-settings, whose import
(asyncio, argparse, its source providers) would add ~60 ms to the webhook's cold start."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class WebhookEnv(BaseModel):
    """webhook: only SQS (signals, and notifications of refused alerts) and SSM.
    ``WebhookEnv()`` reads the environment (names case-insensitive, as pydantic-settings does);
    keyword arguments override it.

    * ``SIGNALS_QUEUE_URL``, ``NOTIFICATIONS_QUEUE_URL``: where alerts and refusals go.
    * ``ALLOWED_SOURCE_IPS``: optional comma-separated allowlist checked against API
      Gateway's ``requestContext.http.sourceIp`` (never ``X-Forwarded-For``).
    * ``ALERT_BURST`` alerts per ``ALERT_BURST_SECONDS`` seconds per strategy and symbol
      (default 15 per 180 s, TradingView's own cap for one strategy alert); 0 turns the
      limit off. The bucket lives in one warm Lambda container's memory, so N concurrent
      containers allow up to N times the burst; the API Gateway stage throttle is the
      account-wide guard.
    * ``STOP_MONITOR_FUNCTION``: optional; TradingView bar alerts are handed to it by an
      asynchronous invoke.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    signals_queue_url: str
    notifications_queue_url: str
    allowed_source_ips: str = ""
    alert_burst: int = Field(default=15, ge=0)
    alert_burst_seconds: float = Field(default=180.0, gt=0)
    #: The stop monitor that TradingView bar alerts are handed to (unset: they are checked
    #: and answered, not forwarded).
    stop_monitor_function: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {k.lower(): v for k, v in os.environ.items() if k.lower() in cls.model_fields} | data
