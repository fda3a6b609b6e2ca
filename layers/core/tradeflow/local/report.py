"""Results read back from PostgreSQL, a console summary and an HTML report with the equity curve."""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from tradeflow.adapters import db
from tradeflow.adapters.read_models import fifo_lots
from tradeflow.domain import metrics

if TYPE_CHECKING:
    from tradeflow.local.demo import DemoResult


def read_results(database_url: str, strategy_id: str) -> tuple[dict, list, list[dict], Counter]:
    """(summary, equity curve [(time, equity)], closed trades, notifications sent by kind).

    Each closed trade carries, besides its average-cost figures, ``lots``: its fills matched
    first-in, first-out (:func:`tradeflow.adapters.read_models.fifo_lots`), each with the quantity,
    open and close price and gross P&L of one lot closed; they add up to the trade's P&L."""
    with db.connect(database_url) as conn:
        account = conn.execute("SELECT * FROM accounts WHERE strategy_id = %s", (strategy_id,)).fetchone()
        curve = [(r["ts"], r["equity"]) for r in conn.execute(
            "SELECT ts, equity FROM equity_snapshots WHERE strategy_id = %s ORDER BY ts", (strategy_id,))]
        trades = conn.execute(
            "SELECT p.position_id, p.symbol, p.side, f.quantity, p.opened_at AS entry_time, p.avg_entry_price AS entry_price, "
            "p.closed_at AS exit_time, p.exit_price, p.realised_pnl AS pnl, p.fees, p.exit_reason "
            "FROM positions p JOIN LATERAL (SELECT sum(f.quantity) AS quantity FROM fills f JOIN orders o USING (order_id) "
            "WHERE o.position_id = p.position_id AND o.purpose = 'entry') f ON true "
            "WHERE p.strategy_id = %s AND p.status = 'closed' ORDER BY p.closed_at, p.position_id",
            (strategy_id,),
        ).fetchall()
        position_fills = defaultdict(list)
        for r in conn.execute(
            "SELECT o.position_id, o.side, f.quantity, f.price FROM fills f JOIN orders o USING (order_id) "
            "WHERE o.strategy_id = %s AND o.position_id IS NOT NULL ORDER BY f.fill_id", (strategy_id,)
        ):
            position_fills[r["position_id"]].append((r["side"], r["quantity"], r["price"]))
        trades = [{**t, "lots": fifo_lots(position_fills[t["position_id"]])} for t in trades]
        decisions = conn.execute(
            "SELECT approved, reasons FROM decisions d JOIN signals s USING (signal_id) WHERE s.strategy_id = %s",
            (strategy_id,),
        ).fetchall()
        orders = Counter(
            f"{r['purpose']} {r['status']}"
            for r in conn.execute("SELECT purpose, status FROM orders WHERE strategy_id = %s", (strategy_id,))
        )
        fills = conn.execute(
            "SELECT count(*) AS n FROM fills JOIN orders USING (order_id) WHERE strategy_id = %s", (strategy_id,)
        ).fetchone()["n"]
        notifications = Counter(
            r["kind"] for r in conn.execute(
                "SELECT kind FROM notifications WHERE strategy_id = %s AND status = 'sent'", (strategy_id,))
        )
        messages = [r["message"] for r in conn.execute(
            "(SELECT message, created_at FROM notifications WHERE strategy_id = %(s)s AND kind <> 'daily_summary' "
            " ORDER BY created_at DESC LIMIT 4) UNION ALL "
            "(SELECT message, created_at FROM notifications WHERE strategy_id = %(s)s AND kind = 'daily_summary' "
            " ORDER BY created_at DESC LIMIT 1) ORDER BY created_at", {"s": strategy_id})]
        trips = conn.execute(
            "SELECT breaker, symbol, tripped_at, until, reason FROM breaker_trips WHERE scope = %s ORDER BY trip_id",
            (strategy_id,)).fetchall()
        cash, value = _mark(conn, strategy_id)
    wins = sum(1 for t in trades if t["pnl"] - t["fees"] > 0)
    equity = cash + value
    summary = {
        "signals_approved": sum(d["approved"] for d in decisions),
        "signals_refused": Counter(r for d in decisions if not d["approved"] for r in d["reasons"]),
        "orders": orders,
        "fills": fills,
        "closed_trades": len(trades),
        "wins": wins,
        "win_rate": Decimal(wins) / len(trades) if trades else Decimal(0),
        "starting_cash": account["starting_cash"],
        "final_cash": account["cash"],
        "final_equity": equity,
        "realised_pnl": account["realised_pnl"],
        "fees": account["fees"],
        "total_return": equity / account["starting_cash"] - 1,
        "max_drawdown": max(metrics.drawdowns([e for _, e in curve]), default=0.0),
        # the cockpit's figures (tradeflow.domain.metrics, backtesting.py's conventions)
        "metrics": metrics.compute(curve, [metrics.TradeResult(
            t["entry_time"], t["exit_time"], t["pnl"] - t["fees"],
            float((t["pnl"] - t["fees"]) / (t["entry_price"] * t["quantity"]))) for t in trades]) if curve else None,
        "last_messages": messages,
        "trips": trips,
    }
    return summary, curve, trades, notifications


def _mark(conn, strategy_id: str) -> tuple[Decimal, Decimal]:
    from tradeflow import clock
    from tradeflow.adapters.store import mark_to_market

    return mark_to_market(conn, strategy_id, clock.now())


def print_summary(result: DemoResult, report: Path, console) -> None:
    """The end-of-demo summary, as a rich table."""
    from rich.table import Table

    s = result.summary
    t = Table(title="tradeflow demo — ma-cross on AAPL, GOOG, IBM, MSFT (daily bars)", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    accepted = result.responses.get(202, 0)
    t.add_row("trading days replayed", f"{result.days}")
    t.add_row("alerts received", f"{result.alerts_posted} ({result.alerts_posted / result.wall_seconds:.1f} per second)")
    t.add_row("alerts accepted (202)", f"{accepted}, of which {result.duplicates_collapsed} TradingView retries "
                                       "collapsed into the original signal")
    t.add_row("alerts refused by the webhook", f"{result.alerts_posted - accepted}"
              + "".join(f"\n  {n} x {reason}" for reason, n in result.refusals.most_common()))
    t.add_row("signals approved", f"{s['signals_approved']}")
    t.add_row("signals refused by risk", f"{sum(s['signals_refused'].values())}"
              + "".join(f"\n  {n} x {reason}" for reason, n in s["signals_refused"].most_common()))
    t.add_row("breaker trips", f"{len(s['trips'])}" + "".join(
        f"\n  {trip['tripped_at']:%Y-%m-%d} {trip['breaker']}"
        + (f", until {trip['until']:%Y-%m-%d %H:%M}Z" if trip["until"] else ", until reset")
        for trip in s["trips"][-5:]) + ("\n  ..." if len(s["trips"]) > 5 else ""))
    t.add_row("orders", ", ".join(f"{n} {k}" for k, n in sorted(s["orders"].items())))
    t.add_row("fills", f"{s['fills']}")
    t.add_row("closed trades", f"{s['closed_trades']} ({s['wins']} won, win rate {s['win_rate']:.1%})")
    t.add_row("final cash / equity", f"${s['final_cash']:,.2f} / ${s['final_equity']:,.2f}")
    t.add_row("total return", f"{s['total_return']:.2%} (realised P&L ${s['realised_pnl']:,.2f}, "
                              f"fees ${s['fees']:,.2f})")
    t.add_row("max drawdown", f"{s['max_drawdown']:.2%}")
    if s["metrics"] is not None:
        m = s["metrics"]

        def ratio(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.2f}"

        t.add_row("CAGR, Sharpe, Sortino, Calmar", f"{ratio(m.cagr and m.cagr * 100)} %, {ratio(m.sharpe)}, "
                  f"{ratio(m.sortino)}, {ratio(m.calmar)} (backtesting.py's conventions)")
        t.add_row("profit factor, expectancy, exposure", f"{ratio(m.profit_factor)}, "
                  f"{ratio(m.expectancy and m.expectancy * 100)} % a trade, {m.exposure_time:.1%} of the time")
    t.add_row("notifications sent", f"{sum(result.notifications.values())} ("
              + ", ".join(f"{n} {k}" for k, n in sorted(result.notifications.items())) + ")")
    t.add_row("powertools metrics", ", ".join(f"{k} {v:g}" for k, v in sorted(result.metrics.items())))
    t.add_row("dead-letter queues", ", ".join(f"{q}: {n}" for q, n in result.dead_letters.items()))
    t.add_row("wall time", f"{result.wall_seconds:.1f} s")
    t.add_row("HTML report", str(report))
    console.print(t)
    console.print("[bold]Last messages to the trader's email and phone:[/bold]")
    for message in s["last_messages"]:
        console.print(f"  {message}", markup=False)
    console.print("Open these results in the cockpit (positions, orders, trades, equity, metrics, audit trail): "
                  "[bold]tradeflow serve[/bold], then the URL it prints")


def _svg_curve(curve: list[tuple[datetime, Decimal]], width: int = 900, height: int = 300) -> str:
    if len(curve) < 2:
        return "<p>Not enough equity snapshots for a curve.</p>"
    values = [float(e) for _, e in curve]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    points = " ".join(
        f"{i * (width - 60) / (len(values) - 1) + 50:.1f},{height - 30 - (v - lo) * (height - 50) / span:.1f}"
        for i, v in enumerate(values)
    )
    first, last = curve[0][0].date(), curve[-1][0].date()
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="equity curve">'
        f'<line x1="50" y1="{height - 30}" x2="{width - 10}" y2="{height - 30}" stroke="#999"/>'
        f'<line x1="50" y1="20" x2="50" y2="{height - 30}" stroke="#999"/>'
        f'<text x="0" y="24" font-size="11">{hi:,.0f}</text>'
        f'<text x="0" y="{height - 32}" font-size="11">{lo:,.0f}</text>'
        f'<text x="50" y="{height - 10}" font-size="11">{first}</text>'
        f'<text x="{width - 80}" y="{height - 10}" font-size="11">{last}</text>'
        f'<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{points}"/></svg>'
    )


def write_html(result, path: Path, title: str = "tradeflow demo report", lead: str | None = None) -> Path:
    """Write the report (summary, equity curve, trade list) as one self-contained HTML file.

    ``result`` is a DemoResult or a ReplayResult (``summary``, ``equity_curve``, ``trades``);
    ``lead`` is the opening paragraph (HTML), by default the demo's counts."""
    s = result.summary
    esc = html.escape
    times = [t[k] for t in result.trades for k in ("entry_time", "exit_time")]
    stamp = "%Y-%m-%d" if len({(t.hour, t.minute) for t in times}) <= 1 else "%Y-%m-%d %H:%M"
    rows = "".join(
        f"<tr><td>{esc(t['symbol'])}</td><td>{t['side']}</td><td>{t['quantity']:f}</td>"
        f"<td>{t['entry_time']:{stamp}}</td><td>{_price(t['entry_price'])}</td><td>{t['exit_time']:{stamp}}</td>"
        f"<td>{_price(t['exit_price'])}</td><td>{t['pnl'] - t['fees']:.2f}</td><td>{esc(t['exit_reason'])}</td></tr>"
        for t in result.trades
    )
    if lead is None:
        lead = (f"{result.days} trading days; {result.alerts_posted} alerts received, "
                f"{result.responses.get(202, 0)} accepted;")
    refused = "".join(f"<li>{n} × {esc(r)}</li>" for r, n in s["signals_refused"].most_common())
    tripped = "".join(f"<li>{t['tripped_at']:%Y-%m-%d %H:%M}Z {esc(t['breaker'])}: {esc(t['reason'])}</li>"
                      for t in s.get("trips", ()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:960px}}td,th{{padding:2px 8px;text-align:right}}
table{{border-collapse:collapse}}tr:nth-child(even){{background:#f4f4f4}}</style></head><body>
<h1>{esc(title)}</h1>
<p>{lead}
{s['signals_approved']} signals approved; {s['fills']} fills; {s['closed_trades']} closed trades,
win rate {s['win_rate']:.1%}.</p>
<p>Starting cash ${s['starting_cash']:,.2f}; final equity ${s['final_equity']:,.2f}
(total return {s['total_return']:.2%}); max drawdown {s['max_drawdown']:.2%};
fees ${s['fees']:,.2f}.</p>
<h2>Equity curve</h2>{_svg_curve(result.equity_curve)}
<h2>Signals refused by risk gates</h2><ul>{refused or '<li>none</li>'}</ul>
<h2>Breaker trips</h2><ul>{tripped or '<li>none</li>'}</ul>
<h2>Closed trades</h2><table><tr><th>symbol</th><th>side</th><th>qty</th><th>entry</th><th>price</th>
<th>exit</th><th>price</th><th>net P&amp;L</th><th>exit reason</th></tr>{rows}</table>
</body></html>""")
    return path


def _price(price: Decimal) -> str:
    """A price with at least 2 decimals and no trailing zeros beyond (1.23456, 179.90)."""
    text = f"{price.normalize():f}"
    decimals = len(text.partition(".")[2])
    return f"{price:.{max(2, decimals)}f}"


class Progress:
    """A rich progress bar (or nothing): ``with Progress(on, total, label) as advance: advance(n)``."""

    def __init__(self, on: bool, total: int, label: str) -> None:
        self.on, self.total, self.label = on, total, label

    def __enter__(self):
        if not self.on:
            return lambda n=1: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda n=1: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.on:
            self.bar.stop()
