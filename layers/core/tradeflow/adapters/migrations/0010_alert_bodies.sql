-- tradeflow schema, version 10: what an alert was. Each signal's raw webhook body as received,
-- with every secret in it replaced by the placeholder {{passphrase}} (the literal tradeflow
-- replay substitutes with its own credential), and the URL path token it was posted to, redacted
-- the same way; the receive time is the signal's received_at. tradeflow export writes them as a
-- replay's ALERTS.jsonl (reading signals through 0004's signals_strategy_received). Kept apart from signals so that the rows the risk gates read stay narrow.
CREATE TABLE alert_bodies (
    signal_id uuid PRIMARY KEY REFERENCES signals,
    body      text NOT NULL CHECK (body <> ''),
    path      text                -- NULL: a signed alert (the signature cannot be replayed)
);
CREATE TRIGGER alert_bodies_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON alert_bodies
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
