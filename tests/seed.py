"""A long trading history seeded with set-based SQL (INSERT ... SELECT generate_series), for
the query-plan test and the benchmarks: a large history in seconds rather than hours.

One *round trip* is what a buy alert and its sell alert leave behind when both trade: two
signals with approved decisions, an entry bracket (entry filled, stop-loss and take-profit
cancelled), an exit order (filled), two fills, a closed position, a quote at each alert and
the two fill notifications.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

#: Minutes between the two alerts of a round trip, and between round trips.
STEP_MINUTES = 2


def seed_round_trips(conn: psycopg.Connection, strategy_id: str, count: int, symbols: list[str],
                     end: datetime, batch: int = 200_000) -> None:
    """Add ``count`` closed round trips of ``strategy_id`` (registered already) over
    ``symbols`` in turn, the last one ending before ``end`` (UTC); then ANALYZE. Ids and keys
    are derived from ``strategy_id`` and the round trip's number, so two strategies can be
    seeded in one database (not the same one twice). Inserts in batches of ``batch`` round trips."""
    first = end - timedelta(minutes=STEP_MINUTES * count + 1)
    base = conn.execute(
        "SELECT coalesce(max(order_id), 0) AS o, (SELECT coalesce(max(position_id), 0) FROM positions) AS p "
        "FROM orders"
    ).fetchone()
    for start in range(0, count, batch):
        _seed_batch(conn, strategy_id, start, min(count, start + batch), symbols, first, base["o"], base["p"])
    conn.execute("SELECT setval('orders_order_id_seq', (SELECT max(order_id) FROM orders))")
    conn.execute("SELECT setval('positions_position_id_seq', (SELECT max(position_id) FROM positions))")
    conn.execute("SELECT setval('fills_fill_id_seq', (SELECT max(fill_id) FROM fills))")
    conn.execute("ANALYZE")


def _seed_batch(conn, strategy_id: str, lo: int, hi: int, symbols: list[str], first: datetime,
                order_base: int, position_base: int) -> None:
    p = {"s": strategy_id, "lo": lo, "hi": hi - 1, "syms": symbols, "first": first, "step": STEP_MINUTES,
         "ob": order_base, "pb": position_base}
    trips = (
        "WITH t AS (SELECT i, (%(syms)s::text[])[1 + i %% cardinality(%(syms)s::text[])] AS sym, "
        "  %(first)s::timestamptz + make_interval(mins => i * %(step)s) AS buy_at, "
        "  %(first)s::timestamptz + make_interval(mins => i * %(step)s + 1) AS sell_at, "
        "  md5(%(s)s || ':b:' || i)::uuid AS buy_id, md5(%(s)s || ':s:' || i)::uuid AS sell_id, "
        "  %(s)s || '-' || i AS coid, %(ob)s + 4 * i AS oid, %(pb)s + 1 + i AS pid "
        "  FROM generate_series(%(lo)s::int, %(hi)s::int) AS i) "
    )
    with conn.transaction():
        conn.execute(
            trips + "INSERT INTO signals (signal_id, dedupe_key, strategy_id, symbol, action, alert, alert_time, "
            "received_at) "
            "SELECT buy_id, 'seed:' || buy_id, %(s)s, sym, 'buy', jsonb_build_object('ticker', sym, 'action', 'buy'), "
            "buy_at, buy_at FROM t UNION ALL "
            "SELECT sell_id, 'seed:' || sell_id, %(s)s, sym, 'sell', "
            "jsonb_build_object('ticker', sym, 'action', 'sell'), sell_at, sell_at FROM t", p)
        conn.execute(
            trips + "INSERT INTO decisions (signal_id, approved, intent, legs, reasons, inputs, config_hash, decided_at) "
            "SELECT buy_id, true, 'enter_long', '{entry,stop_loss,take_profit}'::text[], '[]'::jsonb, '{}'::jsonb, 'seed', buy_at FROM t "
            "UNION ALL SELECT sell_id, true, 'exit', '{exit}'::text[], '[]'::jsonb, '{}'::jsonb, 'seed', sell_at FROM t", p)
        conn.execute(
            trips + "INSERT INTO positions (position_id, strategy_id, symbol, side, quantity, cost_basis, "
            "avg_entry_price, status, opened_at, closed_at, exit_price, exit_reason, realised_pnl) "
            "SELECT pid, %(s)s, sym, 'long', 0, 0, 100, 'closed', buy_at, sell_at, 101, 'exit', 10 FROM t", p)
        conn.execute(
            trips + "INSERT INTO orders (order_id, client_order_id, strategy_id, signal_id, symbol, side, quantity, "
            "order_type, purpose, stop_price, limit_price, oco_group, parent_client_order_id, position_id, status, "
            "working_since, created_at) "
            "SELECT oid, coid || '-entry', %(s)s, buy_id, sym, 'buy', 10, 'market', 'entry', NULL::numeric, "
            "  NULL::numeric, NULL, NULL, pid, 'filled', buy_at, buy_at FROM t UNION ALL "
            "SELECT oid + 1, coid || '-sl', %(s)s, buy_id, sym, 'sell', 10, 'stop', 'stop_loss', 95, NULL, "
            "  coid || '-oco', coid || '-entry', pid, 'cancelled', buy_at, buy_at FROM t UNION ALL "
            "SELECT oid + 2, coid || '-tp', %(s)s, buy_id, sym, 'sell', 10, 'limit', 'take_profit', NULL, 110, "
            "  coid || '-oco', coid || '-entry', pid, 'cancelled', buy_at, buy_at FROM t UNION ALL "
            "SELECT oid + 3, coid || '-exit', %(s)s, sell_id, sym, 'sell', 10, 'market', 'exit', NULL, NULL, "
            "  NULL, NULL, pid, 'filled', sell_at, sell_at FROM t", p)
        conn.execute(
            trips + "INSERT INTO fills (order_id, seq, quantity, price, quote_price, slippage_bps, commission, "
            "realised_pnl, filled_at) "
            "SELECT oid, 1, 10, 100, 100, 0, 0, 0, buy_at FROM t UNION ALL "
            "SELECT oid + 3, 1, 10, 101, 101, 0, 0, 10, sell_at FROM t", p)
        conn.execute(
            trips + "INSERT INTO quotes (symbol, ts, price, source) "
            "SELECT sym, buy_at, 100, 'seed' FROM t UNION ALL SELECT sym, sell_at, 101, 'seed' FROM t "
            "ON CONFLICT DO NOTHING", p)
        conn.execute(
            trips + "INSERT INTO notifications (notification_key, kind, strategy_id, subject, message, channels, "
            "status, created_at, sent_at) "
            "SELECT 'fill:' || coid || '-' || leg || ':1', 'fill', %(s)s, 'Fill', 'seeded', '{email}'::text[], 'sent', "
            "  at, at FROM t CROSS JOIN LATERAL (VALUES ('entry', buy_at), ('exit', sell_at)) AS l (leg, at)", p)
