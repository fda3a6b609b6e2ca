-- tradeflow schema, version 13: a notifier run in one transaction, and rate limits that read
-- only the most recent sends.
--
-- A merged burst is sent and recorded in the transaction that commits once at the end of the
-- run, so a run that died between the send and the commit leaves no row behind. Each burst send
-- first takes a number from this sequence (sequences are not transactional: a number taken by a
-- run that rolled back stays taken) and records it on the burst's rows with the outcome; a
-- number taken but recorded nowhere means a burst may have gone out unrecorded, and the next
-- flush marks what it sends as a possible repeat. Owned by the column, so the notifier's role
-- gets USAGE on it with its INSERT on the table (adapters/roles.py).
ALTER TABLE notification_deliveries ADD COLUMN burst_send bigint;
CREATE SEQUENCE notification_burst_sends OWNED BY notification_deliveries.burst_send;
CREATE INDEX notification_deliveries_burst_send ON notification_deliveries (burst_send)
    WHERE burst_send IS NOT NULL;
-- A rate limit needs only the channel's most recent sends (as many as the limit), newest first:
-- each message sent on its own, and each merged burst once, through the row that opened it
-- (burst_opener), at the time it goes out (a waiting burst at its hold_until). The rows of a burst
-- keep one status together, so its opener counts for all of them.
ALTER TABLE notification_deliveries ADD COLUMN burst_opener boolean NOT NULL DEFAULT false;
UPDATE notification_deliveries d SET burst_opener = true
FROM (SELECT DISTINCT ON (channel, hold_until) notification_key, channel FROM notification_deliveries
      WHERE hold_until IS NOT NULL AND hold_until > now() - interval '2 hours'
      ORDER BY channel, hold_until, created_at, notification_key) AS first
WHERE d.notification_key = first.notification_key AND d.channel = first.channel;
CREATE INDEX notification_deliveries_goes_out ON notification_deliveries
    (channel, (coalesce(hold_until, created_at)), (CASE WHEN hold_until IS NULL THEN notification_key END))
    WHERE status IN ('pending', 'delivered', 'failed') AND (hold_until IS NULL OR burst_opener);
