-- tradeflow schema, version 9: each notification delivered on each of its channels on its own.
-- One row per notification and channel (sms, email, digest): a failed SMS is retried without
-- re-sending the email; a message held back (rate_limited, suppressed by quiet hours, or routed
-- to the digest) waits with digest_key NULL until a digest carries it, then names that digest.
CREATE TABLE notification_deliveries (
    notification_key text NOT NULL REFERENCES notifications (notification_key),
    channel          text NOT NULL CHECK (channel IN ('sms', 'email', 'digest')),
    strategy_id      text NOT NULL,
    status           text NOT NULL
        CHECK (status IN ('pending', 'delivered', 'failed', 'rate_limited', 'suppressed')),
    attempts         integer NOT NULL DEFAULT 0,
    error            text,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz,
    digest_key       text,
    PRIMARY KEY (notification_key, channel),
    CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
);
-- The rate limits count a channel's messages of the last hour.
CREATE INDEX notification_deliveries_sent ON notification_deliveries (strategy_id, channel, delivered_at)
    WHERE status = 'delivered';
-- The next digest picks up what was held back.
CREATE INDEX notification_deliveries_held ON notification_deliveries (strategy_id, created_at)
    WHERE digest_key IS NULL;

-- The summaries' facts of a day or a week: refusals told in a time range (trades closed in
-- one are read through 0007's positions_closed).
CREATE INDEX notifications_strategy_created ON notifications (strategy_id, created_at);
