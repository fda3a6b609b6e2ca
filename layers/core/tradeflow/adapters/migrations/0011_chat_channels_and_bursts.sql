-- tradeflow schema, version 11: chat channels and merged bursts.
-- Telegram, Discord and Slack are channels of their own, each with its own delivery row (a
-- failed Discord post is retried without re-sending the Telegram one).
ALTER TABLE notification_deliveries DROP CONSTRAINT notification_deliveries_channel_check;
ALTER TABLE notification_deliveries ADD CONSTRAINT notification_deliveries_channel_check
    CHECK (channel IN ('sms', 'email', 'telegram', 'discord', 'slack', 'digest'));
-- A routine or info message on a direct channel waits (status pending) until hold_until, the
-- end of its channel's burst window; every row of one channel with the same hold_until goes out
-- as one message. NULL: sent at once (urgent messages, a hold of 0 seconds).
ALTER TABLE notification_deliveries ADD COLUMN hold_until timestamptz;
-- The flush finds the bursts that are due.
CREATE INDEX notification_deliveries_due ON notification_deliveries (channel, hold_until)
    WHERE hold_until IS NOT NULL AND status IN ('pending', 'failed');
-- The rate limits now count a channel's messages across the whole account (every strategy).
CREATE INDEX notification_deliveries_channel_created ON notification_deliveries (channel, created_at);
