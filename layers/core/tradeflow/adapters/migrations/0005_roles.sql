-- One login role per database function (tradeflow.names.DATABASE_ROLE); their privileges are
-- set by tradeflow.adapters.roles.sync_grants after every migration, their passwords by the
-- migrator from each role's secret. Roles belong to the server, so they may exist already.
DO $$
DECLARE
    fn text;
BEGIN
    FOREACH fn IN ARRAY ARRAY['signal_processor', 'order_creator', 'paper_executor', 'stop_monitor', 'notifier'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tradeflow_' || fn) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT', 'tradeflow_' || fn);
        END IF;
    END LOOP;
    -- Nothing but the owner (the migrator's master user) creates objects: no CREATE on the
    -- schema and no temporary tables for anyone else (PostgreSQL 15 already drops the first).
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$$;
