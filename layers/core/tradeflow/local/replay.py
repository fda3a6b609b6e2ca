"""``tradeflow replay``: any bar history and any recorded alerts, through the whole local stack.

Inputs (docs/replay.md):

* BARS.csv, columns ``symbol,timestamp,open,high,low,close,volume``; ``timestamp`` is the bar's
  OPEN time, ISO-8601 (UTC when it has no offset); several symbols may share one file. A bar
  closes when the next bar of its symbol opens; the last bar of a symbol closes one median bar
  interval (of that symbol) after it opens.
* ALERTS.jsonl, one ``{"time": ISO-8601, "body": "<raw webhook body>"}`` per line, optionally
  ``"path"``: the URL path token to post to (``/webhook/<path>``; ``""`` posts to ``/webhook``).

Authentication: the replay registers one strategy (``--strategy``, default ``replay``) with a
fresh random secret. An alert without ``"path"`` is posted to ``/webhook/<strategy>.<secret>``,
so recorded alerts replay verbatim whatever passphrase they carry (the webhook reads the URL
token first); the literal text ``{{passphrase}}`` in a body or a path is replaced by
``<strategy>.<secret>``, so a file can also exercise the passphrase field or a wrong token.

The loop (the contract of the local stack): the bars are served by the market_data function's
``replay`` source (:mod:`tradeflow.adapters.market_data.replay`); for each bar close, in time
order, the replay clock moves to the close and one minute of the deployed schedule runs
(:meth:`~tradeflow.local.stack.LocalStack.market_tick`: the watchlist's new bars are fetched
and handed to the stop monitor, which records them while anything is open and ticks), and
the queues are drained; then every alert whose ``time`` is at or before that
close, not yet posted, is posted to the webhook (clock at the close) and the queues drained.
An alert after the last close is not posted (counted in ``alerts_after_last_bar``).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import secrets
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tradeflow.adapters import db
from tradeflow.clock import ReplayClock
from tradeflow.domain.ports import Bar
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.local.report import Progress
from tradeflow.local.stack import LocalStack, fresh_database

BAR_COLUMNS = ("symbol", "timestamp", "open", "high", "low", "close", "volume")
#: The replay's own database on the embedded server, made afresh for each run.
REPLAY_DATABASE = "tradeflow_replay"
#: The literal a file writes where the replay's credential goes.
PASSPHRASE_PLACEHOLDER = "{{passphrase}}"


class ReplayFileError(ValueError):
    """A bad BARS.csv or ALERTS.jsonl; ``str()`` is one line: file, line, field and the fix."""

    def __init__(self, path: Path, line: int | None, field: str | None, problem: str) -> None:
        where = f"{path}" + (f" line {line}" if line else "") + (f", field {field}" if field else "")
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class ReplayBar:
    """One OHLCV bar: prices in the instrument's quote currency, volume in shares/contracts,
    times UTC (open = the file's timestamp, close = the next bar's open)."""

    symbol: str
    open_time: datetime
    close_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class ReplayAlert:
    """One recorded alert: fired at ``time`` (UTC), raw webhook ``body``, optional URL ``path``
    token; ``line`` is its line in the file (for messages)."""

    line: int
    time: datetime
    body: str
    path: str | None


def _time(path: Path, line: int, field: str, value: Any) -> datetime:
    try:
        t = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ReplayFileError(path, line, field,
                              f"{value!r} is not an ISO-8601 time such as 2024-03-01T14:30:00Z") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def _price(path: Path, line: int, field: str, value: str | None, allow_zero: bool = False) -> Decimal:
    try:
        number = Decimal((value or "").strip())
    except InvalidOperation:
        raise ReplayFileError(path, line, field, f"{value!r} is not a number such as 179.98") from None
    if not number.is_finite() or number < 0 or (number == 0 and not allow_zero):
        raise ReplayFileError(path, line, field, f"must be a {'non-negative' if allow_zero else 'positive'} finite "
                                                 f"number, got {value}")
    return number


def load_bars(path: Path) -> list[ReplayBar]:
    """The bars of ``path`` in close-time order (then symbol). Raises :class:`ReplayFileError`
    for a missing column, an unreadable or inconsistent value (high below open/close, low
    above them), a repeated symbol and timestamp, or a symbol with a single bar."""
    opened: dict[str, list[tuple[datetime, int, dict[str, Any]]]] = defaultdict(list)
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in BAR_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ReplayFileError(path, 1, missing[0],
                                      f"missing column; the header must be {','.join(BAR_COLUMNS)}")
            for r in reader:
                line = reader.line_num
                symbol = (r["symbol"] or "").strip().upper()
                if not symbol:
                    raise ReplayFileError(path, line, "symbol", "empty; give the ticker, e.g. AAPL")
                ts = _time(path, line, "timestamp", r["timestamp"])
                o, h, low, c = (_price(path, line, k, r[k]) for k in ("open", "high", "low", "close"))
                if h < max(o, c, low) or low > min(o, c):
                    raise ReplayFileError(path, line, "high" if h < max(o, c, low) else "low",
                                          f"inconsistent bar: open {o}, high {h}, low {low}, close {c}")
                volume = _price(path, line, "volume", r["volume"] or "0", allow_zero=True)
                opened[symbol].append((ts, line, {"open": o, "high": h, "low": low, "close": c, "volume": volume}))
    except OSError as exc:
        raise ReplayFileError(path, None, None, f"cannot read the bars file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReplayFileError(path, None, None, "not a text (UTF-8) CSV file") from None
    if not opened:
        raise ReplayFileError(path, None, None, "no bars; expected a header and one line per bar")
    bars = []
    for symbol, rows in opened.items():
        rows.sort(key=lambda r: r[0])
        if len(rows) < 2:
            raise ReplayFileError(path, rows[0][1], "symbol", f"{symbol} has one bar: its close time cannot be known")
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(rows)]
        if min(gaps) == timedelta(0):
            a, b = next((a, b) for a, b in itertools.pairwise(rows) if a[0] == b[0])
            raise ReplayFileError(path, b[1], "timestamp", f"{symbol} {a[0].isoformat()} repeats line {a[1]}")
        last_gap = statistics.median_low(gaps)
        for n, (ts, _, v) in enumerate(rows):
            close_time = rows[n + 1][0] if n + 1 < len(rows) else ts + last_gap
            bars.append(ReplayBar(symbol, ts, close_time, **v))
    bars.sort(key=lambda b: (b.close_time, b.symbol))
    return bars


def load_alerts(path: Path) -> list[ReplayAlert]:
    """The alerts of ``path`` in time order (ties keep file order). ``body`` may also be a
    JSON object, posted as its JSON text. Raises :class:`ReplayFileError`."""
    alerts = []
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ReplayFileError(path, None, None, f"cannot read the alerts file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReplayFileError(path, None, None, "not a text (UTF-8) JSON Lines file") from None
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReplayFileError(path, n, None, f"not valid JSON ({exc.msg} at column {exc.colno}); each line is "
                                                 '{"time": "...", "body": "..."}') from None
        if not isinstance(record, dict):
            raise ReplayFileError(path, n, None, 'each line must be a JSON object {"time": "...", "body": "..."}')
        if "time" not in record:
            raise ReplayFileError(path, n, "time", "missing; give when the alert fired, e.g. 2024-03-01T14:30:00Z")
        body = record.get("body")
        if isinstance(body, dict):
            body = json.dumps(body)
        if not isinstance(body, str) or not body.strip():
            raise ReplayFileError(path, n, "body", "missing or empty; give the raw webhook body as a string")
        token = record.get("path")
        if token is not None and not isinstance(token, str):
            raise ReplayFileError(path, n, "path", "must be a string: the URL path token after /webhook/")
        alerts.append(ReplayAlert(n, _time(path, n, "time", record["time"]), body, token))
    alerts.sort(key=lambda a: a.time)
    return alerts


def replay_config(fill_model: str = "bar", commission_bps: Decimal = Decimal(0), cash: Decimal = Decimal("100000"),
                  settings: dict[str, Any] | None = None) -> StrategyConfig:
    """The replay's strategy settings: the flags, over ``settings`` (any StrategyConfig field),
    over replay defaults: no default bracket (only the alerts' stop-loss and take-profit
    apply), no slippage, the alert's quantity, no limit on open positions, no maximum alert
    age (an alert is posted at the close of its bar, which may be hours after its time)."""
    base: dict[str, Any] = {"stop_loss_pct": None, "take_profit_pct": None, "slippage_bps": 0,
                            "max_open_positions": 1_000_000, "max_alert_age_seconds": 0}
    return StrategyConfig.model_validate({**base, **(settings or {}), "fill_model": fill_model,
                                          "commission_bps": commission_bps, "starting_cash": cash})


@dataclass
class ReplayResult:
    """What the replay did: counts from the webhook's answers, results read from PostgreSQL
    (summary, equity curve [(time, equity)], closed trades), the wall time in seconds (the
    local stack's start, registering the strategy and the loop) and ``loop_seconds``, the
    loop alone (the first bar close to the last delivery)."""

    bars: int
    closes: int
    alerts_posted: int
    alerts_after_last_bar: int
    responses: Counter
    refusals: Counter
    wall_seconds: float
    summary: dict
    equity_curve: list[tuple[datetime, Decimal]]
    trades: list[dict]
    dead_letters: dict[str, int]
    loop_seconds: float = 0.0

    @property
    def bars_per_second(self) -> float:
        return self.bars / self.wall_seconds if self.wall_seconds else math.inf

    def to_json(self) -> dict[str, Any]:
        """OUT.json: trades, final_cash, final_equity, equity_curve and counts; money and
        prices as decimal strings (exact), times ISO-8601 UTC; ``metrics`` as the cockpit shows them."""
        from tradeflow.pipeline.cockpit import plain

        def iso(t: datetime | None) -> str | None:
            return t.astimezone(UTC).isoformat().replace("+00:00", "Z") if t else None

        keys = ("symbol", "side", "quantity", "entry_time", "entry_price", "exit_time", "exit_price", "pnl", "fees",
                "exit_reason")
        s = self.summary
        return {
            "trades": [{**{k: iso(t[k]) if k.endswith("_time") else str(t[k]) if isinstance(t[k], Decimal) else t[k]
                           for k in keys},
                        "lots": [{"quantity": str(lot.quantity), "entry_price": str(lot.open_price),
                                  "exit_price": str(lot.close_price), "pnl": str(lot.pnl)} for lot in t["lots"]]}
                       for t in self.trades],
            "final_cash": str(s["final_cash"]),
            "final_equity": str(s["final_equity"]),
            "starting_cash": str(s["starting_cash"]),
            "realised_pnl": str(s["realised_pnl"]),
            "fees": str(s["fees"]),
            "equity_curve": [{"time": iso(t), "equity": str(e)} for t, e in self.equity_curve],
            "bars": self.bars,
            "alerts_posted": self.alerts_posted,
            "alerts_accepted": self.responses.get(202, 0),
            "alerts_refused": dict(self.refusals),
            "alerts_after_last_bar": self.alerts_after_last_bar,
            "signals_refused": dict(s["signals_refused"]),
            "metrics": plain(s["metrics"]),
        }


def run_replay(bars_file: Path, alerts_file: Path, state_dir: Path, config: StrategyConfig,
               strategy_id: str = "replay", progress: bool = True, database_url: str | None = None) -> ReplayResult:
    """Replay ``bars_file`` and ``alerts_file`` through a fresh ``tradeflow_replay`` database
    (or ``database_url``) with one strategy ``strategy_id`` on ``config``. Raises
    :class:`ReplayFileError` for bad files before anything runs. The fresh database runs with
    ``synchronous_commit = off`` (a commit returns before its WAL reaches the disk): a crash
    could lose the last commits of a replay, which is thrown away and recomputed anyway; a
    ``database_url`` given is left as it is."""
    bars, alerts = load_bars(bars_file), load_alerts(alerts_file)
    closes: dict[datetime, list[ReplayBar]] = defaultdict(list)
    for bar in bars:
        closes[bar.close_time].append(bar)
    if database_url is None:
        database_url = fresh_database(state_dir, REPLAY_DATABASE)
        with db.connect(database_url) as conn:  # throwaway and recomputable: commits need not wait for the disk
            conn.execute(f'ALTER DATABASE "{REPLAY_DATABASE}" SET synchronous_commit = off')
    first = min(closes)
    replay = ReplayClock(min(first, alerts[0].time if alerts else first) - timedelta(seconds=1))
    responses: Counter = Counter()
    refusals: Counter = Counter()
    began = time.perf_counter()
    with LocalStack(state_dir, database_url, replay) as stack:
        credential = f"{strategy_id}.{secrets.token_urlsafe(24)}"
        stack.add_strategy(strategy_id, config, credential.split(".", 1)[1])
        stack.serve_bars(Bar(b.symbol, b.open_time, b.close_time, b.open, b.high, b.low, b.close, "replay", b.volume)
                         for b in bars)
        pending = iter(alerts)
        alert = next(pending, None)
        looping = time.perf_counter()
        with Progress(progress, len(bars), "replaying bars") as advance:
            for close_time, closing in closes.items():
                replay.set(close_time)
                stack.market_tick(skip_idle=True)
                stack.drain()
                while alert is not None and alert.time <= close_time:
                    body = alert.body.replace(PASSPHRASE_PLACEHOLDER, credential)
                    token = credential if alert.path is None else alert.path.replace(PASSPHRASE_PLACEHOLDER, credential)
                    response = stack.post_webhook(body, token or None)
                    responses[response["statusCode"]] += 1
                    if response["statusCode"] != 202:
                        refusals[json.loads(response["body"]).get("error", "refused")] += 1
                    alert = next(pending, None)
                stack.drain()
                advance(len(closing))
        done = time.perf_counter()
        wall, loop = done - began, done - looping
        from tradeflow.local.report import read_results

        summary, curve, trades, _ = read_results(database_url, strategy_id)
        late = (alert is not None) + sum(1 for _ in pending)
        return ReplayResult(len(bars), len(closes), sum(responses.values()), late, responses, refusals, wall,
                            summary, curve, trades, stack.dead_letters(), loop)
