-- tradeflow schema, version 2: bars in the price feed, more order types, time in force
-- expiry, trailing stops, price replacements through an append-only log, and the OCO rule.

-- A quote's ts is the bar's CLOSE time and price its close; open/high/low are NULL for a
-- plain last-trade quote. opened_at is the bar's open time (its label on a chart), when known.
ALTER TABLE quotes
    ADD COLUMN opened_at timestamptz,
    ADD CONSTRAINT quotes_bar_opens_before_close CHECK (opened_at < ts),
    ADD COLUMN open numeric CHECK (open > 0),
    ADD COLUMN high numeric CHECK (high > 0),
    ADD COLUMN low  numeric CHECK (low > 0),
    ADD CONSTRAINT quotes_bar_range CHECK (
        (open IS NULL AND high IS NULL AND low IS NULL)
        OR (open IS NOT NULL AND high IS NOT NULL AND low IS NOT NULL
            AND low <= open AND open <= high AND low <= price AND price <= high));

-- A target-position alert below the current position reduces it (a partial close); a cancel
-- alert cancels the entries not yet filled.
ALTER TABLE decisions DROP CONSTRAINT decisions_intent_check,
    ADD CONSTRAINT decisions_intent_check
        CHECK (intent IN ('enter_long', 'enter_short', 'exit', 'reduce', 'cancel'));
ALTER TABLE orders DROP CONSTRAINT orders_purpose_check,
    ADD CONSTRAINT orders_purpose_check
        CHECK (purpose IN ('entry', 'exit', 'reduce', 'stop_loss', 'take_profit'));

ALTER TABLE orders DROP CONSTRAINT orders_order_type_check,
    ADD CONSTRAINT orders_order_type_check
        CHECK (order_type IN ('market', 'limit', 'stop', 'stop_limit', 'trailing_stop'));
ALTER TABLE orders DROP CONSTRAINT orders_check,
    ADD CONSTRAINT orders_stop_price_needed
        CHECK (order_type NOT IN ('stop', 'stop_limit', 'trailing_stop') OR stop_price IS NOT NULL);
ALTER TABLE orders DROP CONSTRAINT orders_check1,
    ADD CONSTRAINT orders_limit_price_needed
        CHECK (order_type NOT IN ('limit', 'stop_limit') OR limit_price IS NOT NULL);

ALTER TABLE orders
    -- trailing stop distance: currency per share, or percent of the high-water mark
    ADD COLUMN trail_amount numeric CHECK (trail_amount > 0),
    ADD COLUMN trail_percent numeric CHECK (trail_percent > 0 AND trail_percent < 100),
    -- best price since the trailing stop became active (highest for a long, lowest for a short)
    ADD COLUMN high_water_mark numeric CHECK (high_water_mark > 0),
    -- time in force 'day': the session close after which a working order expires
    ADD COLUMN expires_at timestamptz,
    -- when the order began to work (created, or its entry filled): the bar model matches it
    -- against bars closing after this time
    ADD COLUMN working_since timestamptz,
    -- a stop-limit whose stop was touched works on as a limit order
    ADD COLUMN stop_triggered_at timestamptz,
    -- on a stop-loss leg: move the stop to the entry price once a take-profit of the position fills
    ADD COLUMN breakeven_after_target boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT orders_trailing_distance
        CHECK ((order_type = 'trailing_stop') = (trail_amount IS NOT NULL OR trail_percent IS NOT NULL));

-- One cancels the other: at most one order of an OCO group is ever filled.
CREATE UNIQUE INDEX orders_oco_fills_once ON orders (oco_group)
    WHERE oco_group IS NOT NULL AND status IN ('partially_filled', 'filled');
-- The stop monitor's working set.
CREATE INDEX orders_working ON orders (symbol) WHERE status IN ('pending', 'accepted', 'partially_filled');

-- Append-only log of price replacements (a trader's replace, a trailing stop tightening, the
-- move to breakeven). Inserting a row is the only way to change an order's stop or limit
-- price, and only while the order is open.
CREATE TABLE order_amendments (
    amendment_id bigserial PRIMARY KEY,
    order_id     bigint NOT NULL REFERENCES orders,
    field        text NOT NULL CHECK (field IN ('stop_price', 'limit_price')),
    old_value    numeric,
    new_value    numeric NOT NULL CHECK (new_value > 0),
    reason       text NOT NULL,
    at           timestamptz NOT NULL
);
CREATE INDEX order_amendments_order ON order_amendments (order_id, amendment_id);

CREATE FUNCTION order_amendment_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    o orders%ROWTYPE;
BEGIN
    SELECT * INTO o FROM orders WHERE order_id = NEW.order_id FOR UPDATE;
    IF o.status NOT IN ('pending', 'accepted', 'partially_filled') THEN
        RAISE EXCEPTION 'order % is %: only an open order can be replaced', NEW.order_id, o.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.field = 'stop_price' THEN
        NEW.old_value := o.stop_price;
        UPDATE orders SET stop_price = NEW.new_value WHERE order_id = NEW.order_id;
    ELSE
        NEW.old_value := o.limit_price;
        UPDATE orders SET limit_price = NEW.new_value WHERE order_id = NEW.order_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER order_amendments_apply BEFORE INSERT ON order_amendments
    FOR EACH ROW EXECUTE FUNCTION order_amendment_apply();
CREATE TRIGGER order_amendments_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON order_amendments
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- The guard of 0001 (orders_status_guard) now also keeps the stop and limit prices: they
-- change only through order_amendments, as the status only through order_events (both
-- inside those tables' triggers, at depth 2).
CREATE OR REPLACE FUNCTION order_status_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() >= 2 THEN
        RETURN NEW;
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'change an order''s status by inserting into order_events'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.stop_price IS DISTINCT FROM OLD.stop_price OR NEW.limit_price IS DISTINCT FROM OLD.limit_price THEN
        RAISE EXCEPTION 'change an order''s stop or limit price by inserting into order_amendments'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
