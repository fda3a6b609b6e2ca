-- Trading states (ACTIVE / REDUCING / HALTED) per strategy and for the account, the
-- append-only log of their changes, and the breakers' trips and resets.
-- The kill switch becomes the account's state (HALTED when it was on), a pause the
-- strategy's (HALTED when paused); the old columns go.

CREATE TABLE trading_states (
    scope      text PRIMARY KEY CHECK (scope = 'account' OR scope ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    state      text NOT NULL CHECK (state IN ('ACTIVE', 'REDUCING', 'HALTED')),
    reason     text,
    changed_by text,
    changed_at timestamptz
);
INSERT INTO trading_states (scope, state, reason, changed_by, changed_at)
    SELECT 'account', CASE WHEN kill_switch THEN 'HALTED' ELSE 'ACTIVE' END, reason, 'migration', updated_at
    FROM risk_state;
INSERT INTO trading_states (scope, state, reason, changed_by, changed_at)
    SELECT strategy_id, 'HALTED', 'paused', 'migration', now() FROM strategies WHERE paused;
DROP TABLE risk_state;
ALTER TABLE strategies DROP COLUMN paused;

-- Append-only: who changed which scope's state, why and when.
CREATE TABLE trading_state_changes (
    change_id  bigserial PRIMARY KEY,
    scope      text NOT NULL,
    from_state text NOT NULL,
    to_state   text NOT NULL CHECK (to_state IN ('ACTIVE', 'REDUCING', 'HALTED')),
    who        text NOT NULL,
    why        text NOT NULL,
    at         timestamptz NOT NULL
);
CREATE INDEX trading_state_changes_scope ON trading_state_changes (scope, change_id);
CREATE TRIGGER trading_state_changes_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON trading_state_changes
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- A breaker trip: one per scope and trigger key (a redelivered tick trips once). It holds
-- until ``until`` (NULL = until reset) unless a reset names it.
CREATE TABLE breaker_trips (
    trip_id    bigserial PRIMARY KEY,
    scope      text NOT NULL,
    breaker    text NOT NULL CHECK (breaker IN ('daily_loss', 'max_drawdown', 'stop_loss_guard', 'position_loss')),
    trip_key   text NOT NULL,
    symbol     text,
    state      text NOT NULL CHECK (state IN ('REDUCING', 'HALTED')),
    reason     text NOT NULL,
    tripped_at timestamptz NOT NULL,
    until      timestamptz,
    UNIQUE (scope, trip_key)
);
CREATE INDEX breaker_trips_scope ON breaker_trips (scope, tripped_at);
CREATE TRIGGER breaker_trips_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON breaker_trips
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

CREATE TABLE breaker_resets (
    reset_id bigserial PRIMARY KEY,
    trip_id  bigint NOT NULL UNIQUE REFERENCES breaker_trips,
    who      text NOT NULL,
    why      text NOT NULL CHECK (why <> ''),
    at       timestamptz NOT NULL
);
CREATE TRIGGER breaker_resets_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON breaker_resets
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- The risk snapshot's reads: a symbol's last (losing) exit, walked backwards from the newest,
-- and the orders a strategy created in the last minute.
CREATE INDEX positions_closed ON positions (strategy_id, symbol, closed_at) WHERE status = 'closed';
CREATE INDEX orders_strategy_created ON orders (strategy_id, created_at) WHERE parent_client_order_id IS NULL;
