-- tradeflow schema, version 1. Money and quantities NUMERIC, times timestamptz (UTC).

CREATE TABLE strategies (
    strategy_id   text PRIMARY KEY CHECK (strategy_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    settings      jsonb NOT NULL,           -- a copy of the SSM settings; the webhook secret stays in SSM
    paused        boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL
);

-- Global risk switches: a single row.
CREATE TABLE risk_state (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    kill_switch boolean NOT NULL DEFAULT false,
    reason      text,
    updated_at  timestamptz
);
INSERT INTO risk_state DEFAULT VALUES;

-- One paper account per strategy.
CREATE TABLE accounts (
    strategy_id   text PRIMARY KEY REFERENCES strategies,
    starting_cash numeric NOT NULL CHECK (starting_cash > 0),
    cash          numeric NOT NULL,
    realised_pnl  numeric NOT NULL DEFAULT 0,
    fees          numeric NOT NULL DEFAULT 0 CHECK (fees >= 0),
    updated_at    timestamptz NOT NULL
);

CREATE TABLE signals (
    signal_id   uuid PRIMARY KEY,
    dedupe_key  text NOT NULL UNIQUE,
    strategy_id text NOT NULL REFERENCES strategies,
    symbol      text NOT NULL,
    exchange    text,
    action      text NOT NULL,
    alert       jsonb NOT NULL,           -- the normalised alert, never the secret
    alert_time  timestamptz,
    received_at timestamptz NOT NULL
);
CREATE INDEX signals_strategy_symbol ON signals (strategy_id, symbol, received_at);

CREATE TABLE decisions (
    signal_id   uuid PRIMARY KEY REFERENCES signals,
    approved    boolean NOT NULL,
    intent      text NOT NULL CHECK (intent IN ('enter_long', 'enter_short', 'exit')),
    legs        text[] NOT NULL,
    reasons     jsonb NOT NULL,
    inputs      jsonb NOT NULL,
    config_hash text NOT NULL,
    decided_at  timestamptz NOT NULL
);

CREATE TABLE positions (
    position_id     bigserial PRIMARY KEY,
    strategy_id     text NOT NULL REFERENCES strategies,
    symbol          text NOT NULL,
    side            text NOT NULL CHECK (side IN ('long', 'short')),
    quantity        numeric NOT NULL CHECK (quantity >= 0),
    cost_basis      numeric NOT NULL CHECK (cost_basis >= 0),    -- quantity x average price
    avg_entry_price numeric NOT NULL CHECK (avg_entry_price > 0), -- kept after close, for the record
    status          text NOT NULL CHECK (status IN ('open', 'closed')),
    opened_at       timestamptz NOT NULL,
    closed_at       timestamptz,
    exit_price      numeric,
    exit_reason     text,
    realised_pnl    numeric NOT NULL DEFAULT 0,
    fees            numeric NOT NULL DEFAULT 0,
    CHECK ((status = 'open') = (closed_at IS NULL))
);
CREATE UNIQUE INDEX positions_one_open ON positions (strategy_id, symbol) WHERE status = 'open';

CREATE TABLE order_statuses (status text PRIMARY KEY);
INSERT INTO order_statuses VALUES
    ('pending'), ('accepted'), ('partially_filled'), ('filled'), ('cancelled'), ('rejected'), ('expired');

-- The order state machine; tradeflow.domain.orders.TRANSITIONS holds the same table.
CREATE TABLE order_transitions (
    from_status text REFERENCES order_statuses,
    to_status   text REFERENCES order_statuses,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO order_transitions VALUES
    ('pending', 'accepted'), ('pending', 'rejected'), ('pending', 'cancelled'),
    ('accepted', 'partially_filled'), ('accepted', 'filled'), ('accepted', 'cancelled'), ('accepted', 'expired'),
    ('partially_filled', 'partially_filled'), ('partially_filled', 'filled'), ('partially_filled', 'cancelled');

CREATE TABLE orders (
    order_id        bigserial PRIMARY KEY,
    client_order_id text NOT NULL UNIQUE,
    strategy_id     text NOT NULL REFERENCES strategies,
    signal_id       uuid REFERENCES signals,
    symbol          text NOT NULL,
    side            text NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity        numeric NOT NULL CHECK (quantity > 0),
    order_type      text NOT NULL CHECK (order_type IN ('market', 'limit', 'stop')),
    purpose         text NOT NULL CHECK (purpose IN ('entry', 'exit', 'stop_loss', 'take_profit')),
    stop_price      numeric CHECK (stop_price > 0),
    limit_price     numeric CHECK (limit_price > 0),
    time_in_force   text NOT NULL DEFAULT 'gtc' CHECK (time_in_force IN ('day', 'gtc', 'ioc')),
    oco_group       text,
    parent_client_order_id text REFERENCES orders (client_order_id),
    position_id     bigint REFERENCES positions,
    status          text NOT NULL DEFAULT 'pending' REFERENCES order_statuses,
    reason          text,
    created_at      timestamptz NOT NULL,
    CHECK (order_type <> 'stop' OR stop_price IS NOT NULL),
    CHECK (order_type <> 'limit' OR limit_price IS NOT NULL)
);
CREATE INDEX orders_position ON orders (position_id) WHERE position_id IS NOT NULL;
CREATE INDEX orders_parent ON orders (parent_client_order_id) WHERE parent_client_order_id IS NOT NULL;

-- Append-only log of order status changes. Inserting an event is the only way to change
-- an order's status; the trigger refuses a transition outside order_transitions.
CREATE TABLE order_events (
    event_id    bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders,
    from_status text NOT NULL,
    to_status   text NOT NULL,
    reason      text,
    at          timestamptz NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, event_id);

CREATE FUNCTION order_event_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    current text;
BEGIN
    SELECT status INTO current FROM orders WHERE order_id = NEW.order_id FOR UPDATE;
    IF current IS DISTINCT FROM NEW.from_status THEN
        RAISE EXCEPTION 'order % is %, not %', NEW.order_id, current, NEW.from_status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM order_transitions
                   WHERE from_status = NEW.from_status AND to_status = NEW.to_status) THEN
        RAISE EXCEPTION 'an order cannot go from % to %', NEW.from_status, NEW.to_status
            USING ERRCODE = 'check_violation';
    END IF;
    UPDATE orders SET status = NEW.to_status, reason = COALESCE(NEW.reason, reason)
        WHERE order_id = NEW.order_id;
    RETURN NEW;
END $$;
CREATE TRIGGER order_events_apply BEFORE INSERT ON order_events
    FOR EACH ROW EXECUTE FUNCTION order_event_apply();

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER order_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON order_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- orders.status changes only through order_events (the trigger above runs at depth 2).
CREATE FUNCTION order_status_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'change an order''s status by inserting into order_events'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER orders_status_guard BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION order_status_guard();

CREATE TABLE fills (
    fill_id      bigserial PRIMARY KEY,
    order_id     bigint NOT NULL REFERENCES orders,
    seq          integer NOT NULL CHECK (seq >= 1),
    quantity     numeric NOT NULL CHECK (quantity > 0),
    price        numeric NOT NULL CHECK (price > 0),
    quote_price  numeric NOT NULL CHECK (quote_price > 0),
    slippage_bps numeric NOT NULL,
    commission   numeric NOT NULL CHECK (commission >= 0),
    realised_pnl numeric NOT NULL DEFAULT 0,
    filled_at    timestamptz NOT NULL,
    UNIQUE (order_id, seq)
);
CREATE TRIGGER fills_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON fills
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- The price feed: last trade (and bid/ask when known) per symbol and time.
CREATE TABLE quotes (
    symbol text NOT NULL,
    ts     timestamptz NOT NULL,
    price  numeric NOT NULL CHECK (price > 0),
    bid    numeric CHECK (bid > 0),
    ask    numeric CHECK (ask > 0),
    source text NOT NULL,
    PRIMARY KEY (symbol, ts)
);

CREATE TABLE equity_snapshots (
    strategy_id  text NOT NULL REFERENCES strategies,
    ts           timestamptz NOT NULL,
    cash         numeric NOT NULL,
    market_value numeric NOT NULL,
    equity       numeric NOT NULL,
    PRIMARY KEY (strategy_id, ts)
);

CREATE TABLE notifications (
    notification_key text PRIMARY KEY,
    kind        text NOT NULL,
    strategy_id text NOT NULL,
    subject     text NOT NULL,
    message     text NOT NULL,
    channels    text[] NOT NULL DEFAULT '{}',
    status      text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    error       text,
    created_at  timestamptz NOT NULL,
    sent_at     timestamptz
);
