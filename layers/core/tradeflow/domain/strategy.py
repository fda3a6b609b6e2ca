"""A strategy's settings: sizing, brackets, costs and risk limits, with a hash that every
decision records so it can be replayed and explained."""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tradeflow.domain.alerting import NotificationSettings
from tradeflow.domain.ports import DEFAULT_MAX_PRICE_AGE_SECONDS
from tradeflow.names import STRATEGY_ID

#: Default of :attr:`StrategyConfig.max_alert_age_seconds` (seconds); the webhook reads the
#: field from the settings JSON without building a StrategyConfig.
DEFAULT_MAX_ALERT_AGE_SECONDS = 300


class Instrument(BaseModel):
    """Trading rules of one symbol. ``tick_size``: the price increment (currency per share);
    ``lot_size``: the quantity increment (shares); ``fractional``: whether quantities below
    one share trade (then the default lot is 1e-8 share). None = the strategy's default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tick_size: Decimal | None = Field(default=None, gt=0)
    lot_size: Decimal | None = Field(default=None, gt=0)
    fractional: bool | None = None


class ConfidenceTier(BaseModel):
    """A sizing tier: an alert whose ``confidence`` is at or above ``min_confidence`` is sized
    ``multiplier`` times the base size; e.g. ``{"min_confidence": "0.8", "multiplier": "1.5"}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_confidence: Decimal
    multiplier: Decimal = Field(gt=0)


class StopLossGuard(BaseModel):
    """freqtrade's StoplossGuard: ``stop_outs`` stop-loss exits within ``window_minutes`` halt
    entries for ``cooldown_minutes``; e.g. 3 within 30 minutes, 60 minutes of cooldown."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stop_outs: int = Field(ge=1)
    window_minutes: int = Field(ge=1)
    cooldown_minutes: int = Field(ge=1)


#: A trading window "HH:MM-HH:MM" in the exchange's time zone (America/New_York), start
#: included, end excluded; e.g. "09:45-15:45".
WINDOW = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class StrategyConfig(BaseModel):
    """Per-strategy settings. Money in the account currency, rates in percent or basis points
    (1 bp = 0.01 %), quantities in shares or contracts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    starting_cash: Decimal = Field(default=Decimal("100000"), gt=0)
    #: Use the alert's quantity when it has one; otherwise size by ``position_sizing``.
    use_alert_quantity: bool = True
    #: How an entry is sized when the alert's quantity does not set it (domain/sizing.py):
    #: ``fixed_notional`` (amount per position, currency), ``fixed_quantity`` (shares),
    #: ``percent_of_equity``, ``risk_per_position`` (risk / |entry - stop|; needs a stop) or
    #: ``alert_quantity`` (the alert's quantity x ``alert_quantity_multiplier``).
    position_sizing: Literal["fixed_notional", "fixed_quantity", "percent_of_equity", "risk_per_position",
                             "alert_quantity"] = "fixed_notional"
    fixed_notional: Decimal = Field(default=Decimal("10000"), gt=0)
    #: Shares per entry under ``fixed_quantity``; e.g. 100.
    fixed_quantity: Decimal = Field(default=Decimal(1), gt=0)
    percent_of_equity: Decimal = Field(default=Decimal("10"), gt=0, le=100)
    #: Under ``risk_per_position``: the currency lost if the stop is hit (e.g. 500), or a percent
    #: of equity (e.g. 1 = 1 %); the amount wins when both are set.
    risk_amount: Decimal | None = Field(default=None, gt=0)
    risk_pct: Decimal | None = Field(default=None, gt=0, le=100)
    #: Under ``alert_quantity``: the alert's quantity times this (e.g. 0.5 = half).
    alert_quantity_multiplier: Decimal = Field(default=Decimal(1), gt=0)
    #: Confidence tiers (the alert's ``confidence`` field): the highest tier it reaches scales
    #: the size; below the lowest tier, or without a confidence, the entry is refused. Empty = off.
    confidence_tiers: tuple[ConfidenceTier, ...] = ()
    fractional: bool = False
    #: Default bracket distances from the entry's reference price, in percent; None (the
    #: default) = no leg: an entry gets a stop-loss or a take-profit only when the alert or
    #: these settings ask for one, as a Pine strategy's orders get exits only from strategy.exit.
    stop_loss_pct: Decimal | None = Field(default=None, gt=0, lt=100)
    take_profit_pct: Decimal | None = Field(default=None, gt=0)
    slippage_bps: Decimal = Field(default=Decimal("5"), ge=0, le=1000)
    #: Commission per fill = max(commission_minimum, commission_bps of notional
    #: + commission_per_share x shares + commission_per_order), in currency.
    commission_bps: Decimal = Field(default=Decimal("1"), ge=0, le=1000)
    commission_per_share: Decimal = Field(default=Decimal(0), ge=0)
    commission_per_order: Decimal = Field(default=Decimal(0), ge=0)
    commission_minimum: Decimal = Field(default=Decimal(0), ge=0)
    #: Round each commission half-up to the cent (as brokers bill); off keeps it exact, as
    #: backtesting.py does, so that a comparison can agree to the cent over many fills.
    commission_to_cent: bool = True
    #: How paper orders fill (README "Fill models"): ``quote`` = the latest price when the
    #: order arrives; ``bar`` = the next bar's open, stops and limits on the bar's high/low.
    fill_model: Literal["quote", "bar"] = "quote"
    #: Which exit fills when a stop-loss and a take-profit are both touched in one bar.
    same_bar_exit: Literal["stop_loss", "take_profit"] = "stop_loss"
    #: Default price increment (currency per share; SEC Rule 612: $0.01 at $1.00 or more)
    #: and quantity increment (shares; None = 1, or 1e-8 when ``fractional``).
    tick_size: Decimal = Field(default=Decimal("0.01"), gt=0)
    lot_size: Decimal | None = Field(default=None, gt=0)
    #: Per-symbol overrides of tick_size, lot_size and fractional.
    instruments: dict[str, Instrument] = Field(default_factory=dict)
    max_open_positions: int = Field(default=5, ge=1)
    allow_add: bool = False
    #: Short entries. None (the default): follow the alert — a sell goes short when the alert
    #: says the strategy is short (a negative target position, market position or sentiment
    #: ``short``), a bare sell only exits; True: a bare sell goes short too; False: never short.
    allow_short: bool | None = None
    #: Buying power = multiplier x equity - the gross value of open positions (currency):
    #: 1 = a cash account (an entry's cost plus commission must fit in the cash it frees),
    #: 2 = a Reg T margin account (50 % initial margin, FINRA/Federal Reserve Regulation T),
    #: 4 = a pattern day trader's intraday buying power (FINRA Rule 4210). The leverage of
    #: backtesting.py's ``margin`` (1 / margin) and TradingView's ``margin_long`` (100 / margin_long).
    buying_power_multiplier: Decimal = Field(default=Decimal(1), ge=1, le=20)
    #: A second signal for the same symbol and intent within this many seconds is refused.
    dedupe_window_seconds: int = Field(default=0, ge=0)
    #: An alert whose own ``time`` is older than this many seconds when it arrives is refused
    #: (TradingView delivers within seconds to a minute); 0 = no limit.
    max_alert_age_seconds: int = Field(default=DEFAULT_MAX_ALERT_AGE_SECONDS, ge=0)
    #: An approved entry whose orders are not created and executed within this many seconds
    #: (its message dead-lettered, say) expires with a reason and stops counting as a position.
    order_deadline_seconds: int = Field(default=900, ge=60)
    #: Who hears about what, where and when: urgency routing, rate limits, quiet hours,
    #: digests (docs/notifications.md).
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    #: A price older than this many seconds fills no order under the quote model (a market
    #: order arriving is rejected naming the price's age and source, a working one waits); an
    #: open position whose symbol has no price this fresh is reported once (``stale_price``).
    max_price_age_seconds: int = Field(default=DEFAULT_MAX_PRICE_AGE_SECONDS, ge=1)
    #: Close such a position at its last price (an exit market order) instead of only telling.
    close_on_stale_price: bool = False

    # --- limits and breakers (domain/risk): each off (None or 0) by default ---------------
    #: Daily loss: realised plus unrealised P&L since the session opened (equity now minus the
    #: equity at the session's open), in currency (e.g. 1000) or percent of the start-of-day
    #: equity (e.g. 2 = 2 %); past it the strategy goes REDUCING until the next session.
    daily_loss_limit: Decimal | None = Field(default=None, gt=0)
    daily_loss_limit_pct: Decimal | None = Field(default=None, gt=0, le=100)
    #: Maximum drawdown from the equity peak, percent (freqtrade's MaxDrawdown); e.g. 10.
    #: Past it the strategy goes REDUCING until reset with a reason.
    max_drawdown_pct: Decimal | None = Field(default=None, gt=0, le=100)
    #: N stop-outs within a window halt entries for a cooldown (freqtrade's StoplossGuard).
    stop_loss_guard: StopLossGuard | None = None
    #: Minutes a symbol takes no entry after any exit of it (e.g. 30), and after a losing one.
    cooldown_after_exit_minutes: int = Field(default=0, ge=0)
    cooldown_after_loss_minutes: int = Field(default=0, ge=0)
    #: A single position's maximum loss (currency, unrealised, e.g. 500): the stop monitor
    #: closes it at market and the symbol cools down for ``cooldown_after_loss_minutes``.
    max_position_loss: Decimal | None = Field(default=None, gt=0)
    #: Trading windows per weekday (mon..sun) in New York time, e.g. {"mon": ["09:45-15:45"]}:
    #: entries outside every window of their day are refused (TradersPost semantics); exits and
    #: cancels pass unless ``windows_apply_to_exits``. None = no window.
    trading_windows: dict[str, tuple[str, ...]] | None = None
    windows_apply_to_exits: bool = False
    #: Entries outside the exchange's regular session (NYSE calendar): ``allow`` (the default),
    #: ``refuse`` them, or ``hold`` them: accepted and filled at the next session's open.
    market_hours: Literal["allow", "refuse", "hold"] = "allow"
    #: End-of-day flatten, New York time "HH:MM" (e.g. "15:45"): every position is closed at
    #: market; on a half day it moves earlier by the same distance to the close (12:45).
    flatten_at: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    #: Exposure caps: notional per position (currency, e.g. 20000), gross exposure in percent
    #: of equity (e.g. 150), portfolio heat (the sum of quantity x |price - stop| over open
    #: positions, percent of equity, e.g. 6). ``exposure_action``: refuse the entry or shrink it to fit.
    max_position_notional: Decimal | None = Field(default=None, gt=0)
    max_gross_exposure_pct: Decimal | None = Field(default=None, gt=0)
    max_heat_pct: Decimal | None = Field(default=None, gt=0, le=100)
    exposure_action: Literal["refuse", "shrink"] = "refuse"
    #: At most this many entries per session (trading day), and orders per minute (e.g. 10).
    max_entries_per_session: int | None = Field(default=None, ge=1)
    max_orders_per_minute: int | None = Field(default=None, ge=1)

    @field_validator("trading_windows")
    @classmethod
    def _windows(cls, value: dict[str, tuple[str, ...]] | None) -> dict[str, tuple[str, ...]] | None:
        for day, windows in (value or {}).items():
            if day not in WEEKDAYS:
                raise ValueError(f"trading_windows: {day!r} is not a weekday; use mon, tue, wed, thu, fri, sat, sun")
            for w in windows:
                if not re.match(WINDOW, w) or w[:5] >= w[6:]:
                    raise ValueError(f"trading_windows: {w!r} must be HH:MM-HH:MM with start before end, "
                                     "e.g. 09:45-15:45")
        return value

    def instrument(self, symbol: str) -> Instrument:
        """The rules for ``symbol``, every field resolved (overrides, then the defaults)."""
        own = self.instruments.get(symbol, Instrument())
        fractional = self.fractional if own.fractional is None else own.fractional
        lot = own.lot_size or self.lot_size or (Decimal("1e-8") if fractional else Decimal(1))
        return Instrument(tick_size=own.tick_size or self.tick_size, lot_size=lot, fractional=fractional)

    def config_hash(self) -> str:
        """SHA-256 (hex, first 16 chars) of the canonical JSON of these settings: keys sorted at
        every level, so settings read back from PostgreSQL's jsonb (which reorders keys) hash
        the same as the ones written."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def check_strategy_id(strategy_id: str) -> str:
    """Return ``strategy_id`` if it is 1-63 lower-case letters, digits or dashes; else ValueError."""
    if not STRATEGY_ID.match(strategy_id):
        raise ValueError(
            f"strategy name {strategy_id!r} must be 1-63 lower-case letters, digits or dashes, e.g. ma-cross"
        )
    return strategy_id

