"""Position sizing and buying power: how many shares or contracts an entry buys or sells, and
whether the account can pay for it at the price it fills at.

Which field sets an entry's quantity, first that applies:

1. the alert's quantity, when ``use_alert_quantity`` is on (the default): ``quantity``,
   ``contracts``, ``order_contracts`` (``{{strategy.order.contracts}}``), ``size`` or ``qty``,
   or the contracts of TradingView's default order-fill sentence; with a non-zero target
   position (``{{strategy.position_size}}``) at most its size, so the closing part of a
   reversal's contracts is not opened again;
2. otherwise the strategy's ``position_sizing``: ``fixed_notional / reference`` or
   ``equity x percent_of_equity / 100 / reference`` (Pine's ``strategy.fixed`` cash and
   ``strategy.percent_of_equity``, which size at the signal bar's close);

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
    config: StrategyConfig, alert_quantity: Decimal | None, price: Decimal, equity: Decimal, symbol: str = ""
) -> Decimal:
    """Quantity (shares) for an entry at reference ``price`` (currency per share) given account
    ``equity`` (currency), by the precedence of the module docstring; rounded down to the
    ``symbol``'s lot size (whole shares unless the strategy or instrument trades fractional
    quantities, then 1e-8). Raises :class:`SizingError` when that comes to nothing.
    """
    if alert_quantity is not None and config.use_alert_quantity:
        quantity = alert_quantity
    elif config.position_sizing == "fixed_notional":
        quantity = config.fixed_notional / price
    else:
        quantity = equity * config.percent_of_equity / Decimal(100) / price
    lot = config.instrument(symbol).lot_size
    quantity = (quantity / lot).quantize(Decimal(1), rounding=ROUND_DOWN) * lot
    if quantity <= 0:
        raise SizingError(f"position size at {price} rounds to zero shares; raise the order size or allow fractional")
    return quantity


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
