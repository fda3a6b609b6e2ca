"""A strategy's settings: sizing, brackets, costs and risk limits, with a hash that every
decision records so it can be replayed and explained."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

STRATEGY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class StrategyConfig(BaseModel):
    """Per-strategy settings. Money in the account currency, rates in percent or basis points
    (1 bp = 0.01 %), quantities in shares or contracts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    starting_cash: Decimal = Field(default=Decimal("100000"), gt=0)
    #: Use the alert's quantity when it has one; otherwise size by ``position_sizing``.
    use_alert_quantity: bool = True
    position_sizing: Literal["fixed_notional", "percent_of_equity"] = "fixed_notional"
    fixed_notional: Decimal = Field(default=Decimal("10000"), gt=0)
    percent_of_equity: Decimal = Field(default=Decimal("10"), gt=0, le=100)
    fractional: bool = False
    #: Default bracket distances from the entry's reference price, in percent; None = no leg.
    stop_loss_pct: Decimal | None = Field(default=Decimal("5"), gt=0, lt=100)
    take_profit_pct: Decimal | None = Field(default=Decimal("10"), gt=0)
    slippage_bps: Decimal = Field(default=Decimal("5"), ge=0, le=1000)
    commission_bps: Decimal = Field(default=Decimal("1"), ge=0, le=1000)
    max_open_positions: int = Field(default=5, ge=1)
    allow_add: bool = False
    allow_short: bool = False
    #: A second signal for the same symbol and intent within this many seconds is refused.
    dedupe_window_seconds: int = Field(default=0, ge=0)

    def config_hash(self) -> str:
        """SHA-256 (hex, first 16 chars) of the canonical JSON of these settings."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


def check_strategy_id(strategy_id: str) -> str:
    """Return ``strategy_id`` if it is 1-63 lower-case letters, digits or dashes; else ValueError."""
    if not STRATEGY_ID.match(strategy_id):
        raise ValueError(
            f"strategy name {strategy_id!r} must be 1-63 lower-case letters, digits or dashes, e.g. ma-cross"
        )
    return strategy_id

