-- ---------------------------------------------------------------------------
-- The audit log: every change to every business table, append-only.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     bigint,
    table_name    text NOT NULL,
    row_id        bigint,
    operation     text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    old_row       jsonb,
    new_row       jsonb,
    changed_columns text[],
    session_role  name NOT NULL,
    acting_role   name NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    transaction_id bigint NOT NULL DEFAULT pg_catalog.txid_current()
);
CREATE INDEX audit_log_tenant_table_row ON @extschema@.audit_log (tenant_id, table_name, row_id);
COMMENT ON TABLE @extschema@.audit_log IS
    'Every change to every business table: who (session and acting role), when, which row, old and new values. Append-only: no role but its owner may change it';
COMMENT ON COLUMN @extschema@.audit_log.session_role IS 'The login role (session_user)';
COMMENT ON COLUMN @extschema@.audit_log.acting_role IS 'The role in effect when the change was made (after SET ROLE)';
COMMENT ON COLUMN @extschema@.audit_log.changed_columns IS 'For updates: the columns whose values changed';

-- SECURITY DEFINER so that it can write the log while nobody else can; it
-- refuses to run for tables outside the extension's schema, so attaching it
-- to a table of one's own cannot forge entries.  The acting role is read from
-- the session's role setting, which a definer function does not change.
CREATE FUNCTION @extschema@.audit_row() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_json jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    new_json jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    row_json jsonb := coalesce(new_json, old_json);
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'audit_row can only audit tables of the rebate extension'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO @extschema@.audit_log
        (tenant_id, table_name, row_id, operation, old_row, new_row, changed_columns, session_role, acting_role)
    VALUES ((row_json ->> CASE WHEN TG_TABLE_NAME = 'tenant' THEN 'id' ELSE 'tenant_id' END)::bigint,
            TG_TABLE_NAME,
            (row_json ->> 'id')::bigint,
            TG_OP,
            old_json,
            new_json,
            CASE WHEN TG_OP = 'UPDATE' THEN
                (SELECT array_agg(n.key ORDER BY n.key) FROM jsonb_each(new_json) n
                  WHERE n.value IS DISTINCT FROM old_json -> n.key)
            END,
            session_user,
            @extschema@.acting_role());
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.audit_row() IS
    'AFTER ROW trigger on every business table: appends the change to rebate.audit_log';

-- pg_dump dumps the rows of these tables (and where their id sequences stand,
-- so that a restored database goes on numbering after the restored rows).
CREATE FUNCTION @extschema@.register_for_dump(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seq text := pg_catalog.pg_get_serial_sequence(tbl::text, 'id');
BEGIN
    PERFORM pg_catalog.pg_extension_config_dump(tbl, '');
    IF seq IS NOT NULL THEN
        PERFORM pg_catalog.pg_extension_config_dump(seq::regclass, '');
    END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.register_for_dump(regclass) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.register_for_dump(regclass) IS
    'Internal: registers a table and its id sequence with pg_extension_config_dump';

-- Attach the audit trigger and updated_at maintenance to a business table (install/upgrade scripts only).
CREATE FUNCTION @extschema@.apply_standard_triggers(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_row()', tbl);
    EXECUTE pg_catalog.format('CREATE TRIGGER touch_updated_at BEFORE UPDATE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.touch_updated_at()', tbl);
    PERFORM @extschema@.register_for_dump(tbl);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.apply_standard_triggers(regclass) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.apply_standard_triggers(regclass) IS
    'Internal: audit trigger, updated_at trigger and pg_dump registration for a business table';

ALTER TABLE @extschema@.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_read ON @extschema@.audit_log FOR SELECT
    USING ((SELECT @extschema@.is_group_admin())
           OR (tenant_id = (SELECT @extschema@.current_tenant_id()) AND (SELECT @extschema@.is_tenant_manager())));
SELECT @extschema@.register_for_dump('@extschema@.audit_log');
