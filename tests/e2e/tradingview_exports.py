"""Build TradingView exports for ``tradeflow compare`` tests: a TradingView-like strategy run on
the bundled daily bars by a small broker emulator written here (independently of tradeflow),
and its trades written as a Strategy Tester "List of trades" in each header layout, with the
chart's "Export chart data…" file beside it.

The broker emulator follows TradingView's documented defaults: an order placed at a bar's close
fills at the next bar's open (``process_orders_on_close=false``); a ``strategy.exit`` stop fills
at its price, or at the open when the bar gaps through it, and a limit at its price or a better
open; the stop is checked first when one bar touches both; commission is a percent of each
fill's value, charged on entry and exit (``commission_type=strategy.commission.percent``).

The strategy: SMA(10)/SMA(30) of closes. Crossing above: go long (reversing a short), with a
bracket 4 % below and 8 % above the signal close (``strategy.exit``, on the cent). Crossing
below: go short (reversing a long), no bracket; a short scales out half at the next open once a
close is 3 % below its entry (``strategy.close(qty_percent=50)``). Quantity: $10,000 at the
signal close, in whole shares.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.conftest import repo

NEW_YORK = ZoneInfo("America/New_York")
CENT = Decimal("0.01")


@dataclass
class Bar:
    day: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal

    @property
    def opens(self) -> datetime:  # the chart's bar time: the session open, New York
        return datetime.combine(self.day, time(9, 30), NEW_YORK)


@dataclass
class Fill:
    bar: int
    price: Decimal
    signal: str


@dataclass
class Trade:
    number: int
    side: str
    quantity: Decimal
    entry: Fill
    exit: Fill | None = None
    pnl: Decimal | None = None


def bundled_bars(symbol: str = "AAPL", first: int = 0, count: int = 260) -> list[Bar]:
    with (repo() / "examples/data/daily_2010_2013.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["symbol"] == symbol]
    return [Bar(date.fromisoformat(r["date"]), *(Decimal(r[k]) for k in ("open", "high", "low", "close")))
            for r in rows[first:first + count]]


def run_strategy(bars: list[Bar], commission_pct: Decimal = Decimal("0.1")) -> list[Trade]:
    """The strategy's trades, TradingView's way (module docstring), oldest first; the last one
    may be open (no exit)."""
    rate = commission_pct / 100
    closes: list[Decimal] = []
    open_trades: list[Trade] = []
    done: list[Trade] = []
    pending: list[tuple] = []  # orders placed at a close, filled at the next open
    bracket: tuple[Decimal, Decimal] | None = None
    scaled = False
    number = 0

    def close_trade(t: Trade, bar: int, price: Decimal, signal: str) -> None:
        sign = 1 if t.side == "long" else -1
        fees = (t.entry.price + price) * t.quantity * rate
        t.exit, t.pnl = Fill(bar, price, signal), sign * (price - t.entry.price) * t.quantity - fees
        open_trades.remove(t)
        done.append(t)

    for i, b in enumerate(bars):
        for order in pending:  # market orders at this open
            kind = order[0]
            if kind == "enter":
                _, side, quantity, signal, levels = order
                for t in list(open_trades):
                    close_trade(t, i, b.open, signal)  # a reversal closes the other side first
                number += 1
                open_trades.append(Trade(number, side, quantity, Fill(i, b.open, signal)))
                bracket, scaled = levels, False
            elif kind == "scale" and open_trades:
                t = open_trades[0]
                half = (t.quantity / 2).to_integral_value(ROUND_DOWN)
                number += 1
                rest = Trade(number, t.side, t.quantity - half, t.entry)
                t.quantity = half
                open_trades.append(rest)
                close_trade(t, i, b.open, "Scale out")
                scaled = True
        pending = []
        if open_trades and open_trades[0].side == "long" and bracket:  # strategy.exit: stop first
            stop, limit = bracket
            t = open_trades[0]
            if b.low <= stop:
                close_trade(t, i, min(b.open, stop), "Bracket")
            elif b.high >= limit:
                close_trade(t, i, max(b.open, limit), "Bracket")
        closes.append(b.close)
        if len(closes) <= 30:
            continue
        fast, slow = sum(closes[-10:]) / 10, sum(closes[-30:]) / 30
        fast0, slow0 = sum(closes[-11:-1]) / 10, sum(closes[-31:-1]) / 30
        quantity = (Decimal(10000) / b.close).to_integral_value(ROUND_DOWN)
        side = open_trades[0].side if open_trades else None
        if fast0 <= slow0 and fast > slow and side != "long":
            stop = (b.close * Decimal("0.96") / CENT).to_integral_value(ROUND_CEILING) * CENT
            limit = (b.close * Decimal("1.08") / CENT).to_integral_value(ROUND_FLOOR) * CENT
            pending.append(("enter", "long", quantity, "Long", (stop, limit)))
        elif fast0 >= slow0 and fast < slow and side != "short":
            pending.append(("enter", "short", quantity, "Short", None))
        elif side == "short" and not scaled and len(open_trades) == 1 \
                and b.close <= open_trades[0].entry.price * Decimal("0.97"):
            pending.append(("scale",))
    return sorted(done + open_trades, key=lambda t: t.number)


# -- writers ------------------------------------------------------------------------------------

LAYOUTS = {
    "older": ["Trade #", "Type", "Signal", "Date/Time", "Price USD", "Contracts", "Profit USD", "Profit %",
              "Cum. Profit USD", "Cum. Profit %", "Run-up USD", "Run-up %", "Drawdown USD", "Drawdown %"],
    "late-2024": ["Trade #", "Type", "Date/Time", "Signal", "Price USDT", "Position size (qty)",
                  "Position size (value)", "Net P&L USD", "Net P&L %", "Run-up USD", "Run-up %", "Drawdown USD",
                  "Drawdown %", "Cumulative P&L USD", "Cumulative P&L %"],
    "german": ["Trade-Nr.", "Typ", "Signal", "Datum/Uhrzeit", "Preis EUR", "Kontrakte", "Gewinn EUR", "Gewinn %",
               "Kum. Gewinn EUR", "Kum. Gewinn %"],
}
_WORDS = {"german": {"Entry": "Einstieg", "Exit": "Ausstieg", "Open": "Offen"}}


def write_trades(trades: list[Trade], bars: list[Bar], path: Path, layout: str, zone: ZoneInfo = NEW_YORK,
                 dated: bool = False) -> Path:
    """The trades as TradingView exports them: newest first, each trade's exit row before its
    entry row, an open trade's exit row signalled ``Open`` at the last close, times on the chart's
    clock (``zone``; dates only with ``dated``)."""
    header = LAYOUTS[layout]
    words = _WORDS.get(layout, {})
    cum = Decimal(0)
    cumulative = {}
    for t in trades:
        if t.exit is not None:
            cum += t.pnl
            cumulative[t.number] = cum

    def when(bar: int) -> str:
        local = bars[bar].opens.astimezone(zone)
        return f"{local:%Y-%m-%d}" if dated else f"{local:%Y-%m-%d %H:%M}"

    def row(t: Trade, kind: str, fill: Fill, signal: str, pnl: Decimal | None) -> list[str]:
        side = "Long" if t.side == "long" else "Short"
        kind_text = f"{words.get(kind, kind)} {side}"
        pnl_text = "" if pnl is None else f"{pnl:.2f}"
        cum_text = f"{cumulative.get(t.number, cum):.2f}" if kind == "Exit" else ""
        values = {
            "trade": str(t.number), "type": kind_text, "signal": signal, "time": when(fill.bar),
            "price": f"{fill.price}", "qty": f"{t.quantity}", "value": f"{fill.price * t.quantity:.2f}",
            "pnl": pnl_text if kind == "Exit" else "", "pct": "0.00" if kind == "Exit" else "",
            "cum": cum_text, "other": "0.00" if kind == "Exit" else "",
        }
        out = []
        for name in header:
            low = name.lower()
            key = ("trade" if low.startswith("trade") else "type" if low.startswith("typ") else
                   "signal" if low == "signal" else "time" if "/" in low else
                   "pct" if low.endswith("%") else "price" if low.startswith(("price", "preis")) else
                   "value" if "(value)" in low else "qty" if low.startswith(("contracts", "position size", "kontrakte"))
                   else "cum" if low.startswith(("cum", "kum")) else
                   "pnl" if low.startswith(("profit", "net p&l", "gewinn")) else "other")
            out.append(values[key])
        return out

    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for t in sorted(trades, key=lambda t: -t.number):
            if t.exit is None:
                last = len(bars) - 1
                unrealised = (bars[last].close - t.entry.price) * t.quantity * (1 if t.side == "long" else -1)
                w.writerow(row(t, "Exit", Fill(last, bars[last].close, words.get("Open", "Open")),
                               words.get("Open", "Open"), unrealised))
            else:
                w.writerow(row(t, "Exit", t.exit, t.exit.signal, t.pnl))
            w.writerow(row(t, "Entry", t.entry, t.entry.signal, None))
    return path


def write_chart(bars: list[Bar], path: Path, iso: bool = False, zone: ZoneInfo = NEW_YORK) -> Path:
    """An "Export chart data…" file: time (UNIX seconds, or ISO 8601 with the chart's offset),
    OHLC, two plots named alike (one empty where undefined, as NaN in places) and a last row of
    plots only, shifted into the future."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time", "open", "high", "low", "close", "Plot", "Plot", "Volume"])
        for i, b in enumerate(bars):
            t = b.opens.astimezone(zone).isoformat() if iso else str(int(b.opens.timestamp()))
            w.writerow([t, b.open, b.high, b.low, b.close, "" if i < 10 else b.close, "NaN" if i % 7 == 0 else "1",
                        "1000"])
        future = bars[-1].opens + timedelta(days=1)
        w.writerow([future.astimezone(zone).isoformat() if iso else str(int(future.timestamp())),
                    "", "", "", "NaN", "NaN", "2", ""])
    return path
