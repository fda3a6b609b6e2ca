-- tradeflow schema, version 4: indexes for every query on a hot path (webhook -> signal ->
-- decision -> order -> fill, and the stop monitor), so that the work per alert and per tick
-- stays the same however long the history grows. tests/integration/test_query_plans.py
-- checks the plans of the queries the steps issue against a large seeded history.

-- The orders of a signal (the order creator's idempotency check, the risk snapshot's
-- "approved but not yet an order" anti-join).
CREATE INDEX orders_signal ON orders (signal_id) WHERE signal_id IS NOT NULL;

-- The risk snapshot's working entries of one strategy (and of one symbol: an exit or cancel
-- alert cancels them): pending or accepted entries only, a handful at any time.
CREATE INDEX orders_working_entries ON orders (strategy_id, symbol)
    WHERE purpose = 'entry' AND status IN ('pending', 'accepted');

-- A strategy's recent signals (the risk snapshot's bounded look-back, whatever the symbol);
-- signals_strategy_symbol (0001) serves the per-symbol "last same signal" lookup.
CREATE INDEX signals_strategy_received ON signals (strategy_id, received_at);

-- Recent decisions (a look-back by decision time rather than by arrival).
CREATE INDEX decisions_decided ON decisions (decided_at);

-- Fills in a time window (the daily summary).
CREATE INDEX fills_filled ON fills (filled_at);
