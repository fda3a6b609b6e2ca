-- tradeflow schema, version 4: indexes for every query on a hot path (webhook -> signal ->
-- decision -> order -> fill, and the stop monitor), so that the work per alert and per tick
-- stays the same however long the history grows. tests/integration/test_query_plans.py
-- checks the plans of the queries the steps issue against a large seeded history.

-- The orders of a signal (orders_signal), the working entries of one strategy
-- (orders_strategy_entries) and the recent approved entry decisions (decisions_approved_entries)
-- come with 0003.

-- A strategy's recent signals (the risk snapshot's bounded look-back, whatever the symbol);
-- signals_strategy_symbol (0001) serves the per-symbol "last same signal" lookup.
CREATE INDEX signals_strategy_received ON signals (strategy_id, received_at);

-- Fills in a time window (the daily summary).
CREATE INDEX fills_filled ON fills (filled_at);

-- The stop monitor's pruned read: an exit leg resting at a plain stop or limit is read only
-- once the latest price range reaches it, an index range per symbol, side and type; the other
-- working orders (entries, exits, trailing stops, stop-limits, ioc) and the day orders due
-- are read whole. So a tick reads the orders near the market, not every open bracket.
CREATE INDEX orders_resting_stops ON orders (symbol, side, stop_price)
    WHERE status IN ('accepted', 'partially_filled') AND purpose IN ('stop_loss', 'take_profit')
    AND order_type = 'stop';
CREATE INDEX orders_resting_limits ON orders (symbol, side, limit_price)
    WHERE status IN ('accepted', 'partially_filled') AND purpose IN ('stop_loss', 'take_profit')
    AND order_type = 'limit';
CREATE INDEX orders_working_expiring ON orders (expires_at)
    WHERE status IN ('accepted', 'partially_filled') AND expires_at IS NOT NULL;
