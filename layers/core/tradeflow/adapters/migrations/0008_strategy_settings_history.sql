-- Strategy settings are recorded, not overwritten: every distinct settings a strategy was
-- registered with, in order, append-only. strategies.settings stays the current copy.
CREATE TABLE strategy_settings_history (
    change_id   bigserial UNIQUE,         -- the order of the changes (times may tie on a replay clock)
    strategy_id text NOT NULL REFERENCES strategies,
    config_hash text NOT NULL,
    settings    jsonb NOT NULL,
    changed_at  timestamptz NOT NULL,
    PRIMARY KEY (strategy_id, changed_at, config_hash)
);
CREATE TRIGGER strategy_settings_history_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON strategy_settings_history FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

INSERT INTO strategy_settings_history (strategy_id, config_hash, settings, changed_at)
    SELECT strategy_id, 'before-history', settings, created_at FROM strategies;

-- The cockpit's API (the control function) logs in as its own role, like the pipeline's
-- functions (0005); its grants are set with theirs after every migration.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tradeflow_control') THEN
        CREATE ROLE tradeflow_control LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END
$$;
