"""Paper fills: the price an order fills at, and its commission.

Quote fill model: a market order (and a triggered stop, which becomes a market order) fills
at the quote moved against the trader by ``slippage_bps``; a limit order fills at the quote
or better, never worse than its limit, with no slippage.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from tradeflow.domain.orders import OrderSide, OrderType

BPS = Decimal("0.0001")
PRICE_PLACES = Decimal("0.0001")
CENT = Decimal("0.01")


def fill_price(
    side: OrderSide, order_type: OrderType, quote: Decimal, slippage_bps: Decimal, limit_price: Decimal | None = None
) -> Decimal:
    """Fill price (currency per share, 4 decimals) for ``side`` against ``quote``."""
    if order_type == "limit":
        if limit_price is None:
            raise ValueError("a limit order needs a limit_price")
        price = min(quote, limit_price) if side == "buy" else max(quote, limit_price)
    else:
        direction = 1 if side == "buy" else -1
        price = quote * (1 + direction * slippage_bps * BPS)
    return price.quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)


def commission(notional: Decimal, commission_bps: Decimal) -> Decimal:
    """Commission in currency: ``commission_bps`` of ``notional``, rounded half-up to the cent."""
    return (abs(notional) * commission_bps * BPS).quantize(CENT, rounding=ROUND_HALF_UP)
