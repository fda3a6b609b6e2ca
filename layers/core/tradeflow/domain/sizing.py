"""Position sizing: how many shares or contracts an entry buys or sells."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from tradeflow.domain.strategy import StrategyConfig


class SizingError(ValueError):
    """The order would be for zero or a negative quantity; the message says why."""


def order_quantity(
    config: StrategyConfig, alert_quantity: Decimal | None, price: Decimal, equity: Decimal, symbol: str = ""
) -> Decimal:
    """Quantity for an entry at ``price`` (currency per share) given account ``equity`` (currency).

    The alert's quantity when it has one and ``use_alert_quantity`` is on; otherwise
    ``fixed_notional / price`` or ``equity * percent_of_equity / 100 / price``. Rounded down
    to the ``symbol``'s lot size (whole shares unless the strategy or instrument trades
    fractional quantities, then 1e-8). Raises :class:`SizingError` when that comes to nothing.
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
