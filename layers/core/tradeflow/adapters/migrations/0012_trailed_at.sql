-- tradeflow schema, version 12: the bar a trailing stop last trailed on.
-- The stop monitor matches a bar more than once (each scheduled tick reads the latest bar, and
-- every bar handed over by the market_data function ticks too). A trailing stop raised by a
-- bar's high must not then be hit by that same bar's low: nobody knows which came first. The
-- stop monitor keeps here the close time of the bar that last moved the high-water mark, and
-- under the bar fill model does not match the position's exits on that bar again.
ALTER TABLE orders ADD COLUMN trailed_at timestamptz;
