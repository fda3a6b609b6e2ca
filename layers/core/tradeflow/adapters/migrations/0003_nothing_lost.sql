-- tradeflow schema, version 3: nothing lost, nothing stuck. Messages that can never succeed
-- are recorded; approved decisions whose orders never materialised expire; the exit legs of
-- an entry that will never fill end with it; a notification is claimed before it is sent.

-- A queue message that can never be processed (malformed, or naming a strategy, signal or
-- order that does not exist): recorded once per queue and message key, then acknowledged.
CREATE TABLE rejected_messages (
    queue        text NOT NULL,
    message_key  text NOT NULL,          -- the deduplication id, else the SQS message id
    strategy_id  text,                   -- when the body names one
    body         text NOT NULL,          -- as received, NUL and lone surrogates removed
    reason       text NOT NULL,
    rejected_at  timestamptz NOT NULL,
    PRIMARY KEY (queue, message_key)
);
CREATE INDEX rejected_messages_strategy ON rejected_messages (strategy_id, rejected_at);

-- An approved decision whose orders were never created expires after a bounded time, so it
-- no longer counts as a position.
ALTER TABLE decisions
    ADD COLUMN expired_at timestamptz,
    ADD COLUMN expiry_reason text,
    ADD CONSTRAINT decisions_expiry_reason CHECK ((expired_at IS NULL) = (expiry_reason IS NULL));
-- The risk gates' bounded look-back: a strategy's approved entry decisions by time.
CREATE INDEX decisions_approved_entries ON decisions (decided_at)
    WHERE approved AND expired_at IS NULL;
CREATE INDEX orders_signal ON orders (signal_id, purpose);
CREATE INDEX orders_strategy_entries ON orders (strategy_id, symbol)
    WHERE purpose = 'entry' AND status IN ('pending', 'accepted', 'partially_filled');

-- Notifications: 'sending' between the claim and the publish's confirmation; a redelivery
-- that finds 'sending' cannot rule out that it went out, so it sends once more marked as a
-- possible repeat and records that.
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check,
    ADD CONSTRAINT notifications_status_check CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    ADD COLUMN possibly_duplicated boolean NOT NULL DEFAULT false,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0;

-- The exit legs of an entry that ends without a fill (cancelled, rejected, expired) end with
-- it: cancelled, through the order_events log, with the entry's reason.
CREATE FUNCTION entry_ended_cancel_legs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_events (order_id, from_status, to_status, reason, at)
    SELECT leg.order_id, leg.status, 'cancelled',
           'entry ' || NEW.to_status || coalesce(': ' || NEW.reason, ''), NEW.at
    FROM orders entry JOIN orders leg ON leg.parent_client_order_id = entry.client_order_id
    WHERE entry.order_id = NEW.order_id AND entry.purpose = 'entry' AND leg.status IN ('pending', 'accepted')
    ORDER BY leg.order_id;
    RETURN NULL;
END $$;
CREATE TRIGGER order_events_entry_ended AFTER INSERT ON order_events
    FOR EACH ROW WHEN (NEW.to_status IN ('cancelled', 'rejected', 'expired'))
    EXECUTE FUNCTION entry_ended_cancel_legs();

-- Orphans left by earlier versions: pending legs of entries that ended without a fill.
INSERT INTO order_events (order_id, from_status, to_status, reason, at)
SELECT leg.order_id, leg.status, 'cancelled', 'entry ' || entry.status || coalesce(': ' || entry.reason, ''), now()
FROM orders leg JOIN orders entry ON entry.client_order_id = leg.parent_client_order_id
WHERE entry.status IN ('cancelled', 'rejected', 'expired') AND leg.status IN ('pending', 'accepted')
ORDER BY leg.order_id;
