"""Position sizing and buying power: how many shares or contracts an entry buys or sells, and
whether the account can pay for it at the price it fills at.

Which field sets an entry's quantity, first that applies:

1. the alert's quantity, when ``use_alert_quantity`` is on (the default): ``quantity``,
   ``contracts``, ``order_contracts`` (``{{strategy.order.contracts}}``), ``size`` or ``qty``,
   or the contracts of TradingView's default order-fill sentence; with a non-zero target
   position (``{{strategy.position_size}}``) at most its size, so the closing part of a
   reversal's contracts is not opened again; times ``alert_quantity_multiplier`` (default 1);
2. otherwise the strategy's ``position_sizing`` (TradersPost's sizing modes):

   - ``fixed_notional``: an amount per position, ``fixed_notional / reference`` (Pine's
     ``strategy.cash``);
   - ``fixed_quantity``: ``fixed_quantity`` shares (Pine's ``strategy.fixed``);
   - ``percent_of_equity``: ``equity x percent_of_equity / 100 / reference`` (Pine's
     ``strategy.percent_of_equity``, which sizes at the signal bar's close);
   - ``risk_per_position``: ``risk / |reference - stop|`` with ``risk`` = ``risk_amount``, or
     ``equity x risk_pct / 100``: the stop-loss, if hit, loses about ``risk``; needs a stop;
   - ``alert_quantity``: only the alert's quantity (x the multiplier); refused without one;

3. ``confidence_tiers``: the size times the multiplier of the highest tier the alert's
   ``confidence`` reaches; refused below the lowest tier or without a confidence;

the ``reference`` price being the entry's limit (limit and stop-limit entries) or stop (stop
entries), else the alert's ``price`` (``{{close}}``), else the latest quote. The bar's volume
(``{{volume}}``) never sets a quantity. The result is rounded down to the symbol's lot.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from tradeflow.domain.strategy import StrategyConfig


class SizingError(ValueError):
    """The order would be for zero or a negative quantity; the message says why."""


def order_quantity(
    config: StrategyConfig, alert_quantity: Decimal | None, price: Decimal, equity: Decimal, symbol: str = "",
    stop: Decimal | None = None, confidence: Decimal | None = None,
) -> Decimal:
    """Quantity (shares) for an entry at reference ``price`` (currency per share) given account
    ``equity`` (currency), the entry's stop-loss price ``stop`` (currency per share, for
    ``risk_per_position``) and the alert's ``confidence``, by the precedence of the module
    docstring; rounded down to the ``symbol``'s lot size (whole shares unless the strategy or
    instrument trades fractional quantities, then 1e-8). Raises :class:`SizingError` naming
    the reason when that comes to nothing or a mode's input is missing.
    """
    mode = config.position_sizing
    if alert_quantity is not None and (config.use_alert_quantity or mode == "alert_quantity"):
        quantity = alert_quantity * config.alert_quantity_multiplier
    elif mode == "alert_quantity":
        raise SizingError("position_sizing is alert_quantity but the alert has no quantity: add "
                          "\"quantity\": \"{{strategy.order.contracts}}\" to the alert")
    elif mode == "fixed_notional":
        quantity = config.fixed_notional / price
    elif mode == "fixed_quantity":
        quantity = config.fixed_quantity
    elif mode == "risk_per_position":
        if stop is None or stop == price:
            raise SizingError("risk_per_position needs a stop-loss away from the entry price: send stop_loss in the "
                              "alert or set stop_loss_pct")
        risk = config.risk_amount or (equity * config.risk_pct / 100 if config.risk_pct else None)
        if risk is None:
            raise SizingError("risk_per_position needs risk_amount (currency) or risk_pct (percent of equity)")
        quantity = risk / abs(price - stop)
    else:
        quantity = equity * config.percent_of_equity / Decimal(100) / price
    if config.confidence_tiers:
        reached = [t for t in config.confidence_tiers if confidence is not None and confidence >= t.min_confidence]
        if not reached:
            lowest = min(t.min_confidence for t in config.confidence_tiers)
            raise SizingError(f"confidence {confidence if confidence is not None else 'missing'} is below the lowest "
                              f"tier ({lowest}): no entry")
        quantity *= max(reached, key=lambda t: t.min_confidence).multiplier
    lot = config.instrument(symbol).lot_size
    quantity = round_to_lot(quantity, lot)
    if quantity <= 0:
        raise SizingError(f"position size at {price} rounds to zero shares; raise the order size or allow fractional")
    return quantity


def round_to_lot(quantity: Decimal, lot: Decimal) -> Decimal:
    """``quantity`` rounded down to a whole number of ``lot`` (shares)."""
    return (quantity / lot).quantize(Decimal(1), rounding=ROUND_DOWN) * lot


def cap_exposure(config: StrategyConfig, quantity: Decimal, price: Decimal, stop: Decimal | None, equity: Decimal,
                 gross: Decimal, heat: Decimal, lot: Decimal, symbol: str) -> tuple[Decimal, str | None]:
    """(quantity, note) of an entry under the exposure caps: ``max_position_notional``
    (currency), ``max_gross_exposure_pct`` (the open positions' gross value ``gross`` plus this
    entry, percent of ``equity``) and ``max_heat_pct`` (``heat``, the open positions' quantity
    x distance to their stop, plus this entry's, percent of equity; an entry without a stop
    risks its whole value). ``exposure_action`` ``shrink`` reduces the quantity to fit (the
    note says so), ``refuse`` raises :class:`SizingError` with the numbers, as does a shrink to zero."""
    room: list[tuple[Decimal, str]] = []
    if config.max_position_notional is not None:
        room.append((config.max_position_notional / price, f"max_position_notional {config.max_position_notional}"))
    if config.max_gross_exposure_pct is not None:
        left = equity * config.max_gross_exposure_pct / 100 - gross
        room.append((max(left, Decimal(0)) / price, f"max_gross_exposure_pct {config.max_gross_exposure_pct} % "
                                                    f"(open {gross:.2f} of equity {equity:.2f})"))
    if config.max_heat_pct is not None:
        per_share = abs(price - stop) if stop is not None else price
        left = equity * config.max_heat_pct / 100 - heat
        room.append((max(left, Decimal(0)) / per_share, f"max_heat_pct {config.max_heat_pct} % (heat {heat:.2f})"))
    fits = [(q, why) for q, why in room if q < quantity]
    if not fits:
        return quantity, None
    allowed, why = min(fits)
    allowed = round_to_lot(allowed, lot)
    if config.exposure_action == "refuse" or allowed <= 0:
        raise SizingError(f"{symbol} entry of {quantity.normalize():f} refused by {why}: at most "
                          f"{allowed.normalize():f} fits" + (" (set exposure_action shrink to trade the smaller size)"
                                                              if allowed > 0 else ""))
    return allowed, f"shrunk from {quantity.normalize():f} to {allowed.normalize():f} by {why}"


def buying_power(equity: Decimal, gross_exposure: Decimal, multiplier: Decimal = Decimal(1)) -> Decimal:
    """What the account may still open (currency): ``multiplier x equity - gross_exposure``,
    never below 0. ``equity`` = cash + the signed market value of open positions;
    ``gross_exposure`` = the sum of their absolute market values. With multiplier 1 and only
    longs this is the cash. The rule of backtesting.py's ``margin_available x leverage``
    (``_Broker``); 2 is a Reg T margin account, 4 a pattern day trader's intraday power."""
    return max(Decimal(0), multiplier * equity - gross_exposure)


def entry_refusal(quantity: Decimal, price: Decimal, fee: Decimal, power: Decimal, symbol: str) -> str | None:
    """Why an entry of ``quantity`` shares filling at ``price`` (currency per share) with
    commission ``fee`` cannot be paid from buying power ``power`` (currency), with the numbers;
    None when ``quantity x price + fee <= power``. A broker (and backtesting.py, and
    TradingView's broker emulator) refuses an order the account cannot pay for."""
    cost = quantity * price + fee
    if cost <= power:
        return None
    return (f"insufficient buying power for {symbol}: {quantity.normalize():f} x {price} + commission {fee:.2f} "
            f"= {cost:.2f} exceeds buying power {power:.2f} at the fill; size by a smaller percent_of_equity, "
            "or set buying_power_multiplier for a margin account")
