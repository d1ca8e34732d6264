-- ---------------------------------------------------------------------------
-- The audit log: every change to every business table, append-only.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id     bigint NOT NULL,
    table_name    text NOT NULL,
    row_id        bigint,
    operation     text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    old_row       jsonb,
    new_row       jsonb,
    changed_columns text[],
    session_role  name NOT NULL,
    acting_role   name NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    transaction_id bigint NOT NULL DEFAULT pg_catalog.txid_current(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX audit_log_by_id ON @extschema@.audit_log (id);
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
    old_json jsonb;
    new_json jsonb;
    row_json jsonb;
    audited    text := TG_ARGV[0];   -- the table, as the install named it
    tenant_key text;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'audit_row can only audit tables of the rebate extension'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- the row is touched only now: on a table of its own a user's type could run
    -- its code (a cast to json) with this function's rights
    old_json := CASE WHEN TG_OP <> 'INSERT' THEN pg_catalog.to_jsonb(OLD) END;
    new_json := CASE WHEN TG_OP <> 'DELETE' THEN pg_catalog.to_jsonb(NEW) END;
    row_json := coalesce(new_json, old_json);
    -- a tenant's own row is keyed by id, every other row by tenant_id
    tenant_key := CASE WHEN row_json ? 'tenant_id' THEN 'tenant_id' ELSE 'id' END;
    -- a row an admin moves to another tenant leaves the one (a delete there) and
    -- arrives in the other (an insert): each tenant's log shows only its own
    -- values, and settlement sees the change on both sides
    IF TG_OP = 'UPDATE' AND (old_json ->> tenant_key) IS DISTINCT FROM (new_json ->> tenant_key) THEN
        INSERT INTO @extschema@.audit_log
            (tenant_id, table_name, row_id, operation, old_row, new_row, changed_columns, session_role, acting_role)
        VALUES ((old_json ->> tenant_key)::bigint, audited, (old_json ->> 'id')::bigint, 'DELETE', old_json, NULL,
                NULL, session_user, @extschema@.acting_role()),
               ((new_json ->> tenant_key)::bigint, audited, (new_json ->> 'id')::bigint, 'INSERT', NULL, new_json,
                NULL, session_user, @extschema@.acting_role());
        RETURN NULL;
    END IF;
    INSERT INTO @extschema@.audit_log
        (tenant_id, table_name, row_id, operation, old_row, new_row, changed_columns, session_role, acting_role)
    VALUES ((row_json ->> tenant_key)::bigint,
            audited,
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
    'AFTER ROW trigger on every business table: appends the change to rebate.audit_log (argument: the table''s name, as audit_log.table_name records it)';

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
-- A trigger function that serves several tables is told which by an
-- argument the install writes, never by TG_TABLE_NAME: in a sharded
-- deployment the table that fires is a shard with a name of its own.
CREATE FUNCTION @extschema@.apply_standard_triggers(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_row(%L)',
                              tbl, (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = tbl));
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

-- ---- attestation: who issued, answered, paid ... is the server's to say ----

-- BEFORE INSERT OR UPDATE trigger.  TG_ARGV[0] names the status column ('' for
-- none); each further argument is 'when:by_column:at_column', where when is
-- 'insert' or the statuses (separated by |) whose reaching is attested, and
-- by_column may be empty.  When that happens the columns are stamped with
-- rebate.acting_role() and the time.  A write may leave a by_column as it was
-- or name the acting role in it (as the extension's functions do); naming
-- anyone else is refused, and so is any change at any other time.
CREATE FUNCTION @extschema@.stamp_attestation() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor      name := @extschema@.acting_role();
    new_row    jsonb := pg_catalog.to_jsonb(NEW);
    old_row    jsonb := CASE WHEN TG_OP = 'UPDATE' THEN pg_catalog.to_jsonb(OLD) END;
    new_status text := CASE WHEN TG_ARGV[0] <> '' THEN new_row ->> TG_ARGV[0] END;
    old_status text := CASE WHEN TG_ARGV[0] <> '' THEN old_row ->> TG_ARGV[0] END;
    stamp      jsonb := '{}';
    spec       text[];
    stamping   boolean;
    forged     text;
BEGIN
    FOR i IN 1 .. TG_NARGS - 1 LOOP
        spec := pg_catalog.string_to_array(TG_ARGV[i], ':');
        stamping := CASE WHEN spec[1] = 'insert' THEN TG_OP = 'INSERT'
                         ELSE new_status IS DISTINCT FROM old_status
                              AND new_status = ANY (pg_catalog.string_to_array(spec[1], '|')) END;
        forged := CASE
            WHEN spec[2] <> '' AND (new_row ->> spec[2]) IS DISTINCT FROM (old_row ->> spec[2])
                 AND (NOT stamping OR (new_row ->> spec[2]) IS DISTINCT FROM actor::text) THEN spec[2]
            WHEN NOT stamping AND (new_row -> spec[3]) IS DISTINCT FROM coalesce(old_row -> spec[3], 'null') THEN spec[3] END;
        IF forged IS NOT NULL THEN
            RAISE EXCEPTION 'column "%" is set by the server', forged
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = pg_catalog.format('It records who and when %s, as the acting role and the time.',
                                                 CASE spec[1] WHEN 'insert' THEN 'the row was created'
                                                      ELSE 'the status became ' || pg_catalog.replace(spec[1], '|', ' or ') END),
                      HINT = 'Leave it out of INSERT and UPDATE.';
        END IF;
        IF stamping THEN
            IF spec[2] <> '' THEN
                stamp := stamp || pg_catalog.jsonb_build_object(spec[2], actor);
            END IF;
            stamp := stamp || pg_catalog.jsonb_build_object(spec[3], pg_catalog.clock_timestamp());
        END IF;
    END LOOP;
    IF stamp <> '{}' THEN
        NEW := pg_catalog.jsonb_populate_record(NEW, stamp);
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.stamp_attestation() IS
    'BEFORE trigger: stamps attestation columns (who and when a status was reached) with the acting role and the time, and refuses any other write to them';
