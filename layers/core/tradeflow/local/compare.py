"""``tradeflow compare``: TradingView's Strategy Tester against tradeflow, trade by trade.

Inputs, both exported from the same chart (symbol and timeframe):

* the Strategy Tester's **List of trades** (``Export data`` in the List of trades tab): one row
  per entry and one per exit of each trade, newest trade first, the exit row before the entry
  row. Header layouts read (:data:`COLUMNS`): the older one (``Trade #, Type, Signal,
  Date/Time, Price USD, Contracts, Profit USD, Cum. Profit USD, ...``), the one from late 2024
  on (``Position size (qty)``, ``Position size (value)``, ``Net P&L USD``, ``Cumulative P&L
  USD``, ...) and the same headers in the interface languages of :data:`COLUMNS`. Money columns
  carry the currency as a suffix (price and P&L may differ: ``Price USDT``, ``Net P&L USD``);
  percent columns and columns not needed here are ignored. A still-open trade is an exit row
  whose signal is ``Open``; trades sharing an entry (partial exits) repeat its entry row.
* the chart's **Export chart data…** file: ``time`` (UNIX seconds, or ISO 8601 with the chart's
  offset), ``open, high, low, close``, then plot columns (names may repeat; values may be empty
  or ``NaN``; rows without prices, such as plots shifted into the future, are skipped).

The trade list's times are in the chart's time zone: ``--timezone`` names it, otherwise it is
the zone in which every trade time falls on a bar (the chart's own offsets when its times are
ISO 8601; else the first zone of :data:`LIKELY_ZONES`, then any IANA zone, that fits best).

The trades become the alerts the strategy sent (TradersPost style, docs/alerts.md), each fired
at the open of the bar TradingView filled it in (= the previous bar's close): an entry with its
contracts and target position; an exit at a bar's open (``strategy.close``, a signal, a gap) as
an exit alert; an exit inside a bar (``strategy.exit``'s stop or limit) as the stop-loss (below
a long's entry) or take-profit (above) carried by its entry's alert — for an entry closed by one
trade; partial exits inside a bar are sent as exit alerts and fill at the open. They replay
through the whole local stack (``tradeflow replay``) under the strategy's settings (bar fill
model by default, as TradingView's broker emulator fills a market order at the next bar's
open), and every fill TradingView shows is matched with tradeflow's, with the reason when they
differ: a refused alert, buying power, slippage, a gap, an intrabar order, a limit not reached,
the quantity or the commission.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from tradeflow.domain import fills as fill_rules
from tradeflow.domain.strategy import StrategyConfig

CENT = Decimal("0.01")
#: TradingView's default initial capital (Strategy properties), currency.
TRADINGVIEW_CAPITAL = Decimal(1_000_000)
#: Header names of the List of trades, lower-cased, without the currency suffix, per field:
#: English (older and late-2024 layouts), German, French, Spanish, Italian, Portuguese, Russian.
COLUMNS: dict[str, tuple[str, ...]] = {
    "trade": ("trade #", "trade nr.", "trade-nr.", "trade no.", "n° de trade", "nº de trade", "n.º de operación",
              "operación #", "trade n.", "negociação #", "сделка #", "№ сделки"),
    "type": ("type", "typ", "tipo", "тип"),
    "signal": ("signal", "señal", "segnale", "sinal", "сигнал"),
    "time": ("date/time", "date and time", "datum/uhrzeit", "datum/zeit", "date/heure", "fecha/hora", "data/ora",
             "data/hora", "дата/время"),
    "price": ("price", "preis", "prix", "precio", "prezzo", "preço", "цена"),
    "quantity": ("contracts", "position size (qty)", "quantity", "qty", "kontrakte", "positionsgröße (menge)",
                 "contrats", "taille de la position (qté)", "contratos", "tamaño de la posición (cant.)",
                 "contratti", "dimensione posizione (qtà)", "tamanho da posição (qtd)", "контракты",
                 "размер позиции (кол-во)"),
    "pnl": ("profit", "net p&l", "gewinn", "netto-g&v", "g&v netto", "profit net", "p&l net", "beneficio",
            "p&l neto", "beneficio neto", "profitto", "p&l netto", "lucro", "p&l líquido", "lucro líquido",
            "прибыль", "чистая прибыль"),
}
REQUIRED = ("trade", "type", "time", "price", "quantity")
_ENTRY_WORDS = ("entry", "einstieg", "entrée", "entrada", "ingresso", "вход")
_EXIT_WORDS = ("exit", "ausstieg", "sortie", "salida", "saída", "uscita", "выход")
_LONG_WORDS = ("long", "лонг", "largo", "длин")
_SHORT_WORDS = ("short", "шорт", "corto", "curto", "корот")
_OPEN_SIGNALS = ("open", "offen", "ouvert", "ouverte", "abierta", "abierto", "aperto", "aperta", "aberta",
                 "открыта", "открытая")
_CURRENCY = re.compile(r"^(?P<name>.*?)[\s,]*\(?(?P<currency>[A-Z]{2,6}|%)\)?$")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d",
                 "%b %d, %Y, %H:%M", "%b %d, %Y %H:%M", "%b %d, %Y", "%d.%m.%Y %H:%M", "%d.%m.%Y",
                 "%d/%m/%Y %H:%M", "%d/%m/%Y")
#: Chart time zones tried first when none is given (TradingView's most used), then every IANA zone.
LIKELY_ZONES = ("UTC", "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Toronto",
                "America/Sao_Paulo", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Moscow",
                "Asia/Tokyo", "Asia/Hong_Kong", "Asia/Shanghai", "Asia/Singapore", "Asia/Kolkata", "Asia/Dubai",
                "Australia/Sydney")


class CompareFileError(ValueError):
    """A file ``tradeflow compare`` cannot read; ``str()`` is one line naming the file, the line
    and the column, and what was expected."""

    def __init__(self, path: Path, line: int | None, column: str | None, problem: str) -> None:
        where = f"{path.name}" + (f" line {line}" if line else "") + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class ChartBar:
    """One bar of the chart export: its open time (UTC), the same time on the chart's clock if
    the file gave its offset, and its prices (quote currency)."""

    time: datetime
    local: datetime | None
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


@dataclass
class Trade:
    """One row pair of the List of trades. Times are on the chart's clock (naive); ``dated``:
    the export gave dates without a time of day. ``pnl`` is TradingView's net P&L (currency)."""

    number: int
    side: str
    quantity: Decimal
    entry_time: datetime
    entry_price: Decimal
    entry_signal: str
    entry_line: int
    exit_time: datetime | None = None
    exit_price: Decimal | None = None
    exit_signal: str = ""
    exit_line: int = 0
    open: bool = False
    pnl: Decimal | None = None
    dated: bool = False
    #: resolved by :func:`compare`: bar indexes of the entry and exit fills
    entry_bar: int | None = None
    exit_bar: int | None = None


@dataclass
class TradeList:
    """The List of trades: its trades (oldest first), its layout and the currencies of its
    price and P&L columns."""

    trades: list[Trade]
    layout: str
    price_currency: str | None
    pnl_currency: str | None


# -- reading the files ----------------------------------------------------------------------

def _number(path: Path, line: int, column: str, text: str | None, decimal_comma: bool = False) -> Decimal | None:
    value = (text or "").strip().replace("\u2212", "-").replace("\u00a0", "").replace(" ", "")
    if not value or value.lower() in ("nan", "n/a", "-"):
        return None
    if decimal_comma:
        value = value.replace(".", "").replace(",", ".")
    elif "," in value:
        value = value.replace(",", "")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CompareFileError(path, line, column, f"{text!r} is not a number") from None
    if not number.is_finite():
        raise CompareFileError(path, line, column, f"{text!r} is not a finite number")
    return number


def _rows(path: Path) -> tuple[list[list[str]], str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CompareFileError(path, None, None, f"cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CompareFileError(path, None, None, "not a UTF-8 text (CSV) file") from None
    if not text.strip():
        raise CompareFileError(path, None, None, "the file is empty")
    first = text.splitlines()[0]
    delimiter = max(",;\t", key=first.count)
    return list(csv.reader(io.StringIO(text), delimiter=delimiter)), delimiter


def read_chart(path: Path) -> list[ChartBar]:
    """The bars of an "Export chart data…" file, in time order. Raises :class:`CompareFileError`
    naming the line and column of anything it cannot read."""
    rows, delimiter = _rows(path)
    header = [h.strip().lower() for h in rows[0]]
    where = {}
    for name in ("time", "open", "high", "low", "close"):
        if name not in header:
            raise CompareFileError(path, 1, name, f"missing; the header must start time,open,high,low,close "
                                                  f"(got {','.join(rows[0][:6])})")
        where[name] = header.index(name)
    bars: list[ChartBar] = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {k: row[i] if i < len(row) else "" for k, i in where.items()}
        prices = {k: _number(path, n, k, cells[k], delimiter == ";") for k in ("open", "high", "low", "close")}
        if all(v is None for v in prices.values()):
            continue  # a row for plots only (e.g. shifted into the future)
        missing = [k for k, v in prices.items() if v is None or v <= 0]
        if missing:
            raise CompareFileError(path, n, missing[0], f"needs a positive price, got {cells[missing[0]]!r}")
        o, h, lo, c = (prices[k] for k in ("open", "high", "low", "close"))
        if h < max(o, c, lo) or lo > min(o, c):
            raise CompareFileError(path, n, "high" if h < max(o, c, lo) else "low",
                                   f"inconsistent bar: open {o}, high {h}, low {lo}, close {c}")
        utc, local = _chart_time(path, n, cells["time"])
        bars.append(ChartBar(utc, local, o, h, lo, c))
    if len(bars) < 2:
        raise CompareFileError(path, None, None, "needs at least two bars with prices")
    bars.sort(key=lambda b: b.time)
    for a, b in zip(bars, bars[1:], strict=False):
        if a.time == b.time:
            raise CompareFileError(path, None, "time", f"the bar at {a.time.isoformat()} appears twice")
    return bars


def _chart_time(path: Path, line: int, text: str) -> tuple[datetime, datetime | None]:
    value = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        seconds = Decimal(value)
        if seconds > 10**11:  # milliseconds
            seconds /= 1000
        return datetime.fromtimestamp(float(seconds), UTC), None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CompareFileError(path, line, "time", f"{text!r} is neither UNIX seconds nor ISO 8601 "
                                                   "(e.g. 1709303400 or 2024-03-01T09:30:00-05:00)") from None
    if t.tzinfo is None:
        raise CompareFileError(path, line, "time", f"{text!r} has no offset; export the chart data again "
                                                   "(ISO times carry the chart's offset) or give UNIX seconds")
    return t.astimezone(UTC), t.replace(tzinfo=None)


def _header(cell: str) -> tuple[str, str | None]:
    text = cell.strip().replace("\ufeff", "")
    m = _CURRENCY.match(text)
    if m and m["name"] and (m["currency"] == "%" or m["currency"].isupper()):
        return m["name"].strip().lower(), m["currency"]
    return text.lower(), None


def read_trades(path: Path) -> TradeList:
    """The trades of a "List of trades" export, oldest first. Raises :class:`CompareFileError`
    naming the line and column of anything it cannot read."""
    rows, delimiter = _rows(path)
    columns: dict[str, int] = {}
    currencies: dict[str, str | None] = {}
    for i, cell in enumerate(rows[0]):
        name, currency = _header(cell)
        if currency == "%":
            continue
        for key, names in COLUMNS.items():
            if name in names and key not in columns:
                columns[key], currencies[key] = i, currency
    for key in REQUIRED:
        if key not in columns:
            raise CompareFileError(path, 1, COLUMNS[key][0].title() if key != "trade" else "Trade #",
                                   "missing: not a TradingView List of trades export (header: "
                                   f"{','.join(c.strip() for c in rows[0][:8])})")
    names = {_header(c)[0] for c in rows[0]}
    layout = ("late-2024" if "position size (qty)" in names else "older" if "contracts" in names
              else "translated")
    comma = delimiter == ";"
    trades: dict[int, Trade] = {}
    dated = True
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue

        def cell(key: str, row: list[str] = row) -> str:
            i = columns.get(key)
            return row[i].strip() if i is not None and i < len(row) else ""

        number = _number(path, n, rows[0][columns["trade"]].strip(), cell("trade"), comma)
        if number is None or number != number.to_integral_value():
            raise CompareFileError(path, n, rows[0][columns["trade"]].strip(), f"{cell('trade')!r} is not a trade number")
        kind = cell("type").lower()
        entry, exit_ = any(w in kind for w in _ENTRY_WORDS), any(w in kind for w in _EXIT_WORDS)
        long, short = any(w in kind for w in _LONG_WORDS), any(w in kind for w in _SHORT_WORDS)
        if entry == exit_ or long == short:
            raise CompareFileError(path, n, rows[0][columns["type"]].strip(),
                                   f"{cell('type')!r} is not an entry or exit of a long or short (e.g. Entry Long)")
        when, has_time = _trade_time(path, n, rows[0][columns["time"]].strip(), cell("time"))
        dated &= not has_time
        price = _number(path, n, rows[0][columns["price"]].strip(), cell("price"), comma)
        quantity = _number(path, n, rows[0][columns["quantity"]].strip(), cell("quantity"), comma)
        if price is None or price <= 0 or quantity is None or quantity <= 0:
            bad = "price" if price is None or price <= 0 else "quantity"
            raise CompareFileError(path, n, rows[0][columns[bad]].strip(), f"needs a positive number, got {cell(bad)!r}")
        side = "long" if long else "short"
        trade = trades.get(int(number))
        if entry:
            if trade is not None and trade.entry_line:
                raise CompareFileError(path, n, None, f"trade {number} has a second entry row (line {trade.entry_line})")
            if trade is None:
                trade = trades[int(number)] = Trade(int(number), side, quantity, when, price, cell("signal"), n)
            else:
                trade.entry_time, trade.entry_price, trade.entry_signal, trade.entry_line = when, price, cell("signal"), n
        else:
            if trade is not None and trade.exit_line:
                raise CompareFileError(path, n, None, f"trade {number} has a second exit row (line {trade.exit_line})")
            if trade is None:
                trade = trades[int(number)] = Trade(int(number), side, quantity, when, price, "", 0)
            signal = cell("signal")
            trade.exit_time, trade.exit_price, trade.exit_signal, trade.exit_line = when, price, signal, n
            trade.open = signal.strip().lower() in _OPEN_SIGNALS
            trade.pnl = _number(path, n, "pnl", cell("pnl"), comma)
        if trade.side != side or trade.quantity != quantity:
            raise CompareFileError(path, n, None, f"trade {number}'s rows disagree on its side or quantity")
    for trade in trades.values():
        if not trade.entry_line:
            raise CompareFileError(path, trade.exit_line, None, f"trade {trade.number} has an exit row but no entry row")
        if not trade.exit_line:
            trade.open = True
        trade.dated = dated
    if not trades:
        raise CompareFileError(path, None, None, "no trades after the header")
    ordered = sorted(trades.values(), key=lambda t: (t.entry_time, t.number))
    return TradeList(ordered, layout, currencies.get("price"), currencies.get("pnl"))


def _trade_time(path: Path, line: int, column: str, text: str) -> tuple[datetime, bool]:
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt), "%H" in fmt
        except ValueError:
            continue
    raise CompareFileError(path, line, column, f"{text!r} is not a date and time such as 2024-03-01 15:30")


# -- time zone and bars -----------------------------------------------------------------------

def _locals(bars: list[ChartBar], zone: ZoneInfo | None) -> list[datetime]:
    return [b.local if zone is None else b.time.astimezone(zone).replace(tzinfo=None) for b in bars]


def _fit(trades: list[Trade], local: list[datetime], dated: bool) -> tuple[int, dict]:
    index = {(t.date() if dated else t): i for i, t in reversed(list(enumerate(local)))}
    times = [t.entry_time for t in trades] + [t.exit_time for t in trades if t.exit_time and not t.open]
    return sum((t.date() if dated else t) in index for t in times), index


def resolve_zone(trades: list[Trade], bars: list[ChartBar], timezone: str | None) -> tuple[str, dict, int, int]:
    """(zone name, {chart-clock time (or date): bar index}, trade times on a bar, trade times):
    the zone given, or the one that puts the most trade times on bars (see module docstring).
    Raises ValueError for an unknown zone name."""
    dated = trades[0].dated
    total = len(trades) + sum(1 for t in trades if t.exit_time and not t.open)
    if timezone:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {timezone!r}; give an IANA name such as Europe/Berlin") from None
        hits, index = _fit(trades, _locals(bars, zone), dated)
        return timezone, index, hits, total
    best: tuple[int, str, dict] | None = None
    candidates: list[str | None] = [None] if all(b.local for b in bars) else []
    candidates += list(LIKELY_ZONES) + sorted(available_timezones() - set(LIKELY_ZONES))
    for name in candidates:
        hits, index = _fit(trades, _locals(bars, None if name is None else ZoneInfo(name)), dated)
        if best is None or hits > best[0]:
            best = (hits, name or "the chart's own offsets", index)
        if hits == total:
            break
    assert best is not None
    return best[1], best[2], best[0], total


# -- trades -> alerts -> replay -------------------------------------------------------------

@dataclass
class Expected:
    """One fill TradingView shows: ``kind`` entry, exit (an exit alert) or stop_loss /
    take_profit (a leg of the entry's alert); its bar, price and quantity, and its trades."""

    tag: str
    kind: str
    side: str
    bar: int | None
    price: Decimal
    quantity: Decimal
    trades: list[int]
    entry_tag: str = ""
    #: tradeflow's side of it, filled by :func:`_match`
    got_price: Decimal | None = None
    got_quantity: Decimal | None = None
    got_bar: int | None = None
    got_commission: Decimal = Decimal(0)
    why: list[str] = field(default_factory=list)


def plan_alerts(trades: list[Trade], bars: list[ChartBar], symbol: str) -> tuple[list[dict], list[Expected]]:
    """The alerts the strategy sent (ALERTS.jsonl lines) and the fills TradingView shows."""
    entries: dict[tuple, list[Trade]] = defaultdict(list)
    for t in trades:
        if t.entry_bar is not None:
            entries[(t.side, t.entry_bar, t.entry_price, t.entry_signal)].append(t)
    expected: list[Expected] = []
    events: list[tuple[int, int, Expected, dict]] = []  # (bar, 0 exit / 1 entry, ...)
    for k, ((side, bar, price, _signal), group) in enumerate(sorted(entries.items(), key=lambda e: (e[0][1], e[1][0].number))):
        tag = f"tv-entry-{k + 1}"
        entry = Expected(tag, "entry", "buy" if side == "long" else "sell", bar, price,
                         sum((t.quantity for t in group), Decimal(0)), [t.number for t in group])
        body: dict[str, Any] = {"ticker": symbol, "action": entry.side, "sentiment": side,
                                "quantity": str(entry.quantity), "price": str(price), "comment": tag}
        closed = [t for t in group if not t.open and t.exit_bar is not None]
        for t in closed:
            exit_side = "sell" if side == "long" else "buy"
            intrabar = t.exit_price != bars[t.exit_bar].open
            gain = (t.exit_price - price) * (1 if side == "long" else -1)
            if len(group) == 1 and intrabar and gain != 0:
                leg = "take_profit" if gain > 0 else "stop_loss"
                body[leg] = str(t.exit_price)
                expected.append(Expected(tag, leg, exit_side, t.exit_bar, t.exit_price, t.quantity, [t.number], tag))
            else:
                events.append((t.exit_bar, 0, Expected(f"tv-exit-{t.number}", "exit", exit_side, t.exit_bar,
                                                       t.exit_price, t.quantity, [t.number], tag), {}))
        events.append((bar, 1, entry, body))
        expected.append(entry)
    # exits of several trades on one bar at one price are one order
    merged: dict[tuple, Expected] = {}
    for bar, order, exp, _body in sorted(events, key=lambda e: (e[0], e[1])):
        if order == 0:
            key = (bar, exp.side, exp.price)
            if key in merged:
                merged[key].quantity += exp.quantity
                merged[key].trades += exp.trades
                continue
            merged[key] = exp
            expected.append(exp)
    alerts, position = [], Decimal(0)
    timeline = [(e.bar, 0, e) for e in merged.values()] + [(e[0], 1, e[2]) for e in events if e[1] == 1]
    timeline += [(e.bar, 2, e) for e in expected if e.kind in ("stop_loss", "take_profit")]
    bodies = {e[2].tag: e[3] for e in events if e[1] == 1}
    for bar, _, exp in sorted(timeline, key=lambda e: (e[0], e[1])):
        signed = exp.quantity if exp.side == "buy" else -exp.quantity
        position += signed
        if exp.kind in ("stop_loss", "take_profit"):
            continue
        body = bodies.get(exp.tag) or {"ticker": symbol, "action": exp.side, "quantity": str(exp.quantity),
                                       "comment": exp.tag}
        body["position_size"] = str(position)
        body["time"] = _iso(bars[bar].time)
        alerts.append({"time": _iso(bars[bar].time), "body": json.dumps(body)})
    return alerts, expected


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Comparison:
    """What :func:`compare` found: the fills matched, each TradingView trade with tradeflow's
    P&L for it, totals side by side, and how the inputs were read."""

    symbol: str
    trades: list[Trade]
    expected: list[Expected]
    rows: list[dict]
    totals: dict[str, tuple]
    zone: str
    zone_hits: tuple[int, int]
    layout: str
    currencies: tuple[str | None, str | None]
    settings: StrategyConfig
    replay: Any = None

    @property
    def differences(self) -> int:
        return sum(1 for r in self.rows if r["why"])


def compare(trades_file: Path, chart_file: Path, state_dir: Path, settings: StrategyConfig | None = None,
            symbol: str | None = None, timezone: str | None = None, database_url: str | None = None,
            progress: bool = False) -> Comparison:
    """Read both exports, replay the strategy's alerts through the local stack under ``settings``
    (default: :func:`default_settings`) and compare. Raises :class:`CompareFileError` for a file
    it cannot read and ValueError for a bad time zone."""
    from tradeflow.local.replay import run_replay
    from tradeflow.local.stack import fresh_database

    bars = read_chart(chart_file)
    listing = read_trades(trades_file)
    symbol = (symbol or symbol_of(chart_file)).upper()
    zone, index, hits, total = resolve_zone(listing.trades, bars, timezone)
    for t in listing.trades:
        t.entry_bar = index.get(t.entry_time.date() if t.dated else t.entry_time)
        if t.exit_time and not t.open:
            t.exit_bar = index.get(t.exit_time.date() if t.dated else t.exit_time)
    config = settings or default_settings()
    alerts, expected = plan_alerts(listing.trades, bars, symbol)
    if database_url is None:
        database_url = fresh_database(state_dir, "tradeflow_compare")
    with tempfile.TemporaryDirectory() as tmp:
        bars_file, alerts_file = Path(tmp) / "BARS.csv", Path(tmp) / "ALERTS.jsonl"
        with bars_file.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["symbol", "timestamp", "open", "high", "low", "close", "volume"])
            for b in bars:
                w.writerow([symbol, _iso(b.time), b.open, b.high, b.low, b.close, 0])
        alerts_file.write_text("".join(json.dumps(a) + "\n" for a in alerts))
        result = run_replay(bars_file, alerts_file, state_dir, config, "compare", progress=progress,
                            database_url=database_url)
    _match(database_url, expected, bars, config)
    rows = _trade_rows(listing.trades, expected, bars)
    totals = _totals(listing.trades, rows, config.starting_cash)
    return Comparison(symbol, listing.trades, expected, rows, totals, zone, (hits, total), listing.layout,
                      (listing.price_currency, listing.pnl_currency), config, result)


def default_settings(overrides: dict[str, Any] | None = None) -> StrategyConfig:
    """The settings that match TradingView's defaults: the bar fill model (a market order fills
    at the next bar's open), no commission or slippage, TradingView's 1,000,000 initial capital,
    the alert's quantity, pyramiding and shorts allowed, no limit on positions; ``overrides``
    (any StrategyConfig field) on top."""
    base: dict[str, Any] = {"fill_model": "bar", "commission_bps": 0, "slippage_bps": 0,
                            "starting_cash": TRADINGVIEW_CAPITAL, "allow_add": True, "allow_short": True,
                            "max_open_positions": 1_000_000, "commission_to_cent": False}
    return StrategyConfig.model_validate({**base, **(overrides or {})})


def symbol_of(chart_file: Path) -> str:
    """The symbol in an export's file name (``NASDAQ_AAPL, 1D.csv`` -> ``AAPL``), else ``SYMBOL``."""
    m = re.match(r"(?:[A-Z0-9]+_)?([A-Z0-9.!]+?)(?:,|\s|$)", chart_file.stem.upper())
    return m.group(1) if m else "SYMBOL"


def _match(database_url: str, expected: list[Expected], bars: list[ChartBar], config: StrategyConfig) -> None:
    """Fill in tradeflow's side of each expected fill, and why it differs."""
    from tradeflow.adapters import db

    opens = {b.time: i for i, b in enumerate(bars)}
    with db.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT s.alert->>'comment' AS tag, d.approved, d.reasons, o.purpose, o.status, o.reason, o.order_type, "
            "o.stop_price, o.limit_price, f.quantity, f.price, f.commission, f.filled_at "
            "FROM signals s JOIN decisions d USING (signal_id) LEFT JOIN orders o USING (signal_id) "
            "LEFT JOIN fills f USING (order_id) WHERE s.strategy_id = 'compare' ORDER BY o.order_id"
        ).fetchall()
    by_tag: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_tag[r["tag"]].append(r)
    tick = config.tick_size
    for exp in expected:
        found = by_tag.get(exp.tag, [])
        if not found:
            exp.why.append("the alert was not posted: its bar is the first of the export or outside it"
                           if exp.bar is None or exp.bar == 0 else "the alert was refused by the webhook")
            continue
        if not found[0]["approved"]:
            exp.why.append("refused alert: " + "; ".join(found[0]["reasons"]))
            continue
        purposes = {"entry": ("entry",), "exit": ("exit", "reduce")}.get(exp.kind, (exp.kind,))
        orders = [r for r in found if r["purpose"] in purposes]
        filled = [r for r in orders if r["price"] is not None]
        if not filled:
            why = next((r["reason"] for r in orders if r["reason"]), None)
            status = orders[0]["status"] if orders else "not created"
            if why and "buying power" in why:
                exp.why.append("buying power: " + why)
            elif status in ("accepted", "pending"):
                exp.why.append(f"a {'limit' if exp.kind == 'take_profit' else 'stop'} never reached in the exported bars")
            else:
                exp.why.append(f"tradeflow's order was {status}" + (f": {why}" if why else ""))
            continue
        got = filled[0]
        exp.got_price, exp.got_quantity = got["price"], sum(r["quantity"] for r in filled)
        exp.got_commission = sum(r["commission"] for r in filled)
        exp.got_bar = opens.get(got["filled_at"])
        _explain(exp, bars, config, tick)


def _explain(exp: Expected, bars: list[ChartBar], config: StrategyConfig, tick: Decimal) -> None:
    if exp.got_quantity != exp.quantity:
        exp.why.append(f"quantity: tradeflow {exp.got_quantity.normalize():f}, TradingView {exp.quantity.normalize():f}")
    if exp.got_bar != exp.bar:
        when = bars[exp.got_bar].time.strftime("%Y-%m-%d %H:%M") if exp.got_bar is not None else "another time"
        exp.why.append(f"filled on another bar: tradeflow {when} UTC, TradingView "
                       f"{bars[exp.bar].time:%Y-%m-%d %H:%M} UTC")
        return
    if exp.got_price == exp.price:
        return
    bar = bars[exp.bar]
    if exp.kind in ("entry", "exit"):
        if exp.price != bar.open:
            exp.why.append(f"TradingView filled inside the bar at {exp.price} (a stop or limit order, or a partial "
                           f"exit); its alert fills at the bar's open {bar.open} here")
        elif config.slippage_bps and exp.got_price == fill_rules.slipped(bar.open, exp.side, config.slippage_bps, tick):
            exp.why.append(f"slippage: {config.slippage_bps} bps on market fills ({exp.got_price} vs {exp.price})")
        else:
            exp.why.append(f"price: tradeflow {exp.got_price}, TradingView {exp.price}")
    elif exp.kind == "stop_loss" and exp.got_price == bar.open:
        exp.why.append(f"a gap: the bar opened at {bar.open}, beyond the stop {exp.price}; a gapped stop fills at "
                       "the open")
    elif config.slippage_bps and exp.kind == "stop_loss":
        exp.why.append(f"slippage: {config.slippage_bps} bps on a triggered stop ({exp.got_price} vs {exp.price})")
    else:
        exp.why.append(f"price: tradeflow {exp.got_price}, TradingView {exp.price}")


def _trade_rows(trades: list[Trade], expected: list[Expected], bars: list[ChartBar]) -> list[dict]:
    """Each TradingView trade with tradeflow's fills and P&L for it (the share of each fill's
    commission that is its quantity's) and the reasons of any difference."""
    entry_of, exit_of = {}, {}
    for exp in expected:
        for n in exp.trades:
            (entry_of if exp.kind == "entry" else exit_of)[n] = exp
    rows = []
    for t in trades:
        entry, exit_ = entry_of.get(t.number), exit_of.get(t.number)
        why = list(entry.why) if entry else ["its entry is not on a bar of the chart export"]
        if not t.open:
            why += exit_.why if exit_ else ["its exit is not on a bar of the chart export"]
        pnl = None
        if entry and entry.got_price is not None and (t.open or (exit_ and exit_.got_price is not None)):
            if not t.open:
                sign = 1 if t.side == "long" else -1
                fees = (entry.got_commission * t.quantity / entry.got_quantity
                        + exit_.got_commission * t.quantity / exit_.got_quantity)
                pnl = sign * (exit_.got_price - entry.got_price) * t.quantity - fees
                if not why and t.pnl is not None and abs(pnl - t.pnl) >= CENT:
                    gross = sign * (t.exit_price - t.entry_price) * t.quantity
                    why.append(f"commission: TradingView's net P&L implies fees of {gross - t.pnl:.2f}, tradeflow "
                               f"charged {fees:.2f} (set the strategy's commission as in its Properties)")
        rows.append({"trade": t, "entry": entry, "exit": exit_, "pnl": pnl, "why": why})
    return rows


def _totals(trades: list[Trade], rows: list[dict], cash: Decimal) -> dict[str, tuple]:
    """Net P&L, closed trades, win rate and maximum drawdown of closed-trade equity (from the
    starting cash, in exit order), for TradingView and for tradeflow, computed the same way."""
    closed = [r for r in rows if not r["trade"].open]
    tv = [(r["trade"].exit_time, r["trade"].pnl or Decimal(0)) for r in closed]
    tf = [(r["trade"].exit_time, r["pnl"]) for r in closed if r["pnl"] is not None]

    def figures(pnls: list[tuple]) -> tuple:
        values = [p for _, p in sorted(pnls, key=lambda x: x[0])]
        equity, peak, worst, worst_pct = cash, cash, Decimal(0), Decimal(0)
        for p in values:
            equity += p
            peak = max(peak, equity)
            if peak - equity > worst:
                worst, worst_pct = peak - equity, (peak - equity) / peak
        wins = sum(1 for p in values if p > 0)
        return (sum(values, Decimal(0)), len(values), Decimal(wins) / len(values) if values else Decimal(0),
                worst, worst_pct)

    a, b = figures(tv), figures(tf)
    names = ("net P&L", "closed trades", "win rate", "max drawdown", "max drawdown %")
    totals = {name: (a[i], b[i]) for i, name in enumerate(names)}
    totals["open trades"] = (sum(1 for t in trades if t.open), sum(1 for r in rows if r["trade"].open
                                                                   and r["entry"] and r["entry"].got_price))
    return totals


# -- the report ---------------------------------------------------------------------------------

def _money(x: Decimal | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def _total_cells(name: str, pair: tuple) -> tuple[str, str]:
    if name == "win rate":
        return f"{pair[0]:.1%}", f"{pair[1]:.1%}"
    if name == "max drawdown %":
        return f"{pair[0]:.2%}", f"{pair[1]:.2%}"
    if name in ("closed trades", "open trades"):
        return str(pair[0]), str(pair[1])
    return _money(pair[0]), _money(pair[1])


def text_report(c: Comparison, every_trade: bool = False) -> str:
    """The comparison as text: how the files were read, the totals side by side, and each trade
    that differs (every trade with ``every_trade``), with the reasons."""
    price_cur, pnl_cur = c.currencies
    lines = [
        f"{c.symbol}: {len(c.trades)} TradingView trades ({c.layout} List of trades layout; prices in "
        f"{price_cur or 'the quote currency'}, P&L in {pnl_cur or 'the account currency'}); times read in {c.zone} "
        f"({c.zone_hits[0]} of {c.zone_hits[1]} trade times on a bar of the chart export)",
        f"replayed under fill model {c.settings.fill_model}, commission {c.settings.commission_bps} bps "
        f"+ {c.settings.commission_per_order} per order, slippage {c.settings.slippage_bps} bps, "
        f"starting cash {c.settings.starting_cash:,.2f}, buying power x{c.settings.buying_power_multiplier}",
        "",
        f"{'':16}{'TradingView':>16}{'tradeflow':>16}",
    ]
    for name, pair in c.totals.items():
        a, b = _total_cells(name, pair)
        lines.append(f"{name:16}{a:>16}{b:>16}")
    lines.append("")
    shown = [r for r in c.rows if every_trade or r["why"]]
    lines.append(f"{c.differences} of {len(c.rows)} trades differ"
                 + ("; each trade as TradingView / tradeflow:" if shown else ""))
    for r in shown:
        t, e, x = r["trade"], r["entry"], r["exit"]
        stamp = "%Y-%m-%d" if t.dated else "%Y-%m-%d %H:%M"
        lines.append(
            f"  #{t.number} {t.side} {t.quantity.normalize():f}: entry {t.entry_time:{stamp}} "
            f"{t.entry_price} / {_p(e)}, exit "
            + ("open" if t.open else f"{t.exit_time:{stamp}} {t.exit_price} / {_p(x)}")
            + f", P&L {_money(t.pnl)} / {_money(r['pnl'])}"
            + ("" if not r["why"] else " — " + "; ".join(r["why"])))
    return "\n".join(lines)


def _p(exp: Expected | None) -> str:
    return "-" if exp is None or exp.got_price is None else str(exp.got_price)


def write_html(c: Comparison, path: Path) -> Path:
    """The comparison as one self-contained HTML page: the totals side by side, tradeflow's
    equity curve and every trade, differences first."""
    from tradeflow.local.report import _svg_curve

    esc = html.escape
    totals = "".join(f"<tr><th>{esc(n)}</th><td>{a}</td><td>{b}</td></tr>"
                     for n, p in c.totals.items() for a, b in [_total_cells(n, p)])
    rows = "".join(_html_row(r) for r in sorted(c.rows, key=lambda r: (not r["why"], r["trade"].number)))
    curve = _svg_curve(c.replay.equity_curve) if c.replay is not None else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8">
<title>tradeflow compare: {esc(c.symbol)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}td,th{{padding:2px 8px;text-align:right}}
table{{border-collapse:collapse}}tr.diff{{background:#fde8e8}}tr.same:nth-child(even){{background:#f4f4f4}}</style>
</head><body><h1>TradingView's Strategy Tester vs tradeflow: {esc(c.symbol)}</h1>
<p>{len(c.trades)} trades ({esc(c.layout)} layout), times read in {esc(c.zone)}; {c.differences} differ.</p>
<table><tr><th></th><th>TradingView</th><th>tradeflow</th></tr>{totals}</table>
<h2>tradeflow's equity</h2>{curve}
<h2>Trades</h2><table><tr><th>#</th><th>side</th><th>qty</th><th>entry</th><th>TradingView</th><th>tradeflow</th>
<th>exit</th><th>TradingView</th><th>tradeflow</th><th>P&amp;L TradingView</th><th>P&amp;L tradeflow</th>
<th>why they differ</th></tr>{rows}</table></body></html>""")
    return path


def _html_row(r: dict) -> str:
    t = r["trade"]
    exit_time = "open" if t.open else f"{t.exit_time:%Y-%m-%d %H:%M}"
    exit_price = "-" if t.open else str(t.exit_price)
    why = html.escape("; ".join(r["why"])) or "same"
    return (f'<tr class="{"diff" if r["why"] else "same"}"><td>{t.number}</td><td>{t.side}</td>'
            f"<td>{t.quantity.normalize():f}</td><td>{t.entry_time:%Y-%m-%d %H:%M}</td><td>{t.entry_price}</td>"
            f"<td>{_p(r['entry'])}</td><td>{exit_time}</td><td>{exit_price}</td><td>{_p(r['exit'])}</td>"
            f"<td>{_money(t.pnl)}</td><td>{_money(r['pnl'])}</td><td style=\"text-align:left\">{why}</td></tr>")


def to_json(c: Comparison) -> dict[str, Any]:
    """The comparison as JSON: totals and each trade with both sides' prices and the reasons."""
    def s(x: Any) -> Any:
        return None if x is None else str(x)

    return {
        "symbol": c.symbol, "layout": c.layout, "timezone": c.zone, "differences": c.differences,
        "totals": {k: {"tradingview": s(a), "tradeflow": s(b)} for k, (a, b) in c.totals.items()},
        "trades": [{"number": r["trade"].number, "side": r["trade"].side, "quantity": s(r["trade"].quantity),
                    "entry": {"tradingview": s(r["trade"].entry_price), "tradeflow": _p(r["entry"])},
                    "exit": None if r["trade"].open else {"tradingview": s(r["trade"].exit_price),
                                                          "tradeflow": _p(r["exit"])},
                    "pnl": {"tradingview": s(r["trade"].pnl), "tradeflow": s(r["pnl"])}, "why": r["why"]}
                   for r in c.rows],
    }

