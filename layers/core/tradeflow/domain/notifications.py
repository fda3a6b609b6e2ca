"""The words a trader reads: short messages for fills, exits, refusals (of a signal by the
risk gates, or of an alert by the webhook), the daily summary and the weekly digest. The
message is the email body; the SMS is that text made to fit one GSM-7 segment
(:func:`tradeflow.domain.alerting.to_sms`)."""

from __future__ import annotations

from tradeflow.domain.messages import NotificationEvent


def render(event: NotificationEvent) -> tuple[str, str]:
    """(subject, message) for ``event``. Raises KeyError if a fact the kind needs is missing."""
    f = event.facts
    s = event.strategy_id
    if event.kind == "fill":
        what = {"entry": "Entry", "exit": "Exit", "reduce": "Reduce", "stop_loss": "Stop-loss",
                "take_profit": "Take-profit"}[f["purpose"]]
        text = f"[{s}] {what} {f['side'].upper()} {f['quantity']} {f['symbol']} @ {f['price']}"
        if f.get("realised_pnl") is not None:
            text += f", P&L {f['realised_pnl']}"
        return f"tradeflow: {what.lower()} {f['symbol']}", text
    if event.kind == "signal_refused":
        return (
            f"tradeflow: alert refused for {f['symbol']}",
            f"[{s}] {f['action']} {f['symbol']} refused: {f['reason']}",
        )
    if event.kind == "alert_refused":
        # facts: status (HTTP), field (or None), reason, excerpt (the body, secret removed)
        where = f", field {f['field']}" if f.get("field") else ""
        return (
            f"tradeflow: alert refused ({f['status']}{where})",
            f"[{s}] alert refused ({f['status']}{where}): {f['reason']} | alert: {f['excerpt']}",
        )
    if event.kind == "order_rejected":
        return (
            f"tradeflow: order rejected for {f['symbol']}",
            f"[{s}] order {f['client_order_id']} {f['symbol']} rejected: {f['reason']}",
        )
    if event.kind == "message_rejected":
        # facts: queue (the step's queue name), reason, symbol (or None)
        step = f["queue"].removeprefix("tradeflow-").removesuffix(".fifo")
        what = f" for {f['symbol']}" if f.get("symbol") else ""
        return (
            f"tradeflow: {step} message rejected{what}",
            f"[{s}] set aside a message on the {step} queue{what} that cannot be processed: {f['reason']}",
        )
    if event.kind == "stale_price":
        # facts: symbol, side, quantity, price / source / age_seconds (None without any price),
        # max_age_seconds, closing
        if f.get("price") is None:
            why = "has no price at all"
        else:
            why = f"last price {f['price']} ({f['source']}) is {f['age_seconds']} s old"
        then = "closing it at the last price" if f.get("closing") else "stops and targets cannot fire"
        return (
            f"tradeflow: stale price for {f['symbol']}",
            f"[{s}] {f['side']} {f['quantity']} {f['symbol']} open but its {why} "
            f"(limit {f['max_age_seconds']} s): {then}",
        )
    if event.kind == "daily_summary":
        # the account's day, one message: facts date, fills, realised_pnl (the day's, net of fees),
        # unrealised_pnl, total_realised_pnl, equity, trades (closed today), wins, open_positions (the
        # totals), refusals {kind: n}, held (messages), strategies (each: strategy, fills, realised_pnl,
        # unrealised_pnl, total_realised_pnl, equity, trades, wins, open_positions, positions (lines))
        parts = f.get("strategies", [])
        text = (f"[{s}] {f['date']}: {f['fills']} fills, net P&L {f['realised_pnl']}, "
                f"equity {f['equity']}, {f['open_positions']} open")
        text += (f"\nclosed trades {f['trades']}, won {f['wins']}{_rate(f['wins'], f['trades'])}; "
                 f"unrealised P&L {f['unrealised_pnl']}, realised to date {f['total_realised_pnl']}")
        if len(parts) > 1:
            text += f"\nacross {len(parts)} strategies:"
        for p in parts:
            text += (f"\n[{p['strategy']}] {p['fills']} fills, net P&L {p['realised_pnl']}, equity {p['equity']}, "
                     f"{p['open_positions']} open; closed {p['trades']}, won {p['wins']}{_rate(p['wins'], p['trades'])}, "
                     f"unrealised {p['unrealised_pnl']}")
            text += "".join(f"\n  {line}" for line in p.get("positions", []))
        text += _refusals(f.get("refusals", {})) + _lines("held back", f.get("held", []))
        return f"tradeflow: daily summary {f['date']}", text
    if event.kind == "weekly_digest":
        # facts: week (its Monday), fills, trades, wins, realised_pnl, best, worst, equity, sparkline,
        # refusals {kind: n}, held (messages)
        text = (f"[{s}] week of {f['week']}: {f['fills']} fills, {f['trades']} closed trades, won {f['wins']}"
                f"{_rate(f['wins'], f['trades'])}, net P&L {f['realised_pnl']}")
        if f.get("best"):
            text += f"\nbest {f['best']}, worst {f['worst']}"
        if f.get("equity"):
            text += f"\nequity {f['equity']} {f['sparkline']}"
        text += _refusals(f.get("refusals", {})) + _lines("held back", f.get("held", []))
        return f"tradeflow: weekly digest {f['week']}", text
    if event.kind == "notify_test":
        # facts: channel list (text)
        return "tradeflow: test message", f"[{s}] test message from tradeflow notify test ({f['sent_at']})"
    if event.kind == "breaker_tripped":
        # facts: breaker, symbol (or None), state, until (ISO-8601 UTC or None), reason
        until = f" until {f['until'][:16].replace('T', ' ')}Z" if f.get("until") else " until reset"
        what = f"{f['breaker']}" + (f" {f['symbol']}" if f.get("symbol") else "")
        return (f"URGENT tradeflow: {what} tripped",
                _sms(f"URGENT [{s}] {what} tripped: {f['state']}{until}. {f['reason']}"))
    if event.kind == "breaker_reset":
        return (f"URGENT tradeflow: {f['breaker']} reset",
                _sms(f"URGENT [{s}] {f['breaker']} reset by {f['who']}: {f['why']}"))
    if event.kind == "trading_state":
        return (f"URGENT tradeflow: {f['scope']} {f['state']}",
                _sms(f"URGENT [{f['scope']}] {f['previous']} -> {f['state']} by {f['who']}: {f['why']}"))
    raise ValueError(f"unknown notification kind {event.kind!r}")


def _rate(wins: int, trades: int) -> str:
    return f" ({wins / trades:.0%})" if trades else ""


def _lines(title: str, lines: list[str]) -> str:
    return f"\n{title} ({len(lines)}):" + "".join(f"\n  {line}" for line in lines) if lines else ""


def _refusals(by_kind: dict[str, int]) -> str:
    if not by_kind:
        return ""
    return "\nrefused: " + ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(by_kind.items()))


def _sms(text: str) -> str:
    """``text`` cut to one 160-character SMS segment (the end replaced by "...", GSM-7 like the rest)."""
    return text if len(text) <= SMS_LIMIT else text[:SMS_LIMIT - 3] + "..."


#: One SMS segment (GSM-7), characters.
SMS_LIMIT = 160
