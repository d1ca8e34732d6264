\echo Use "ALTER EXTENSION rebate UPDATE" to load this file. \quit
-- ---------------------------------------------------------------------------
-- Building blocks of the data model: ICU name normalization and the
-- state-machine trigger (both C).
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.normalize_name(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_normalize_name' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.normalize_name(text) IS
    'The key under which two spellings of a company name are the same: ICU NFKC with case folding (full-width to ASCII, case folded), CJK brackets/quotes/commas folded to ASCII, all white space removed';

CREATE FUNCTION @extschema@.enforce_transition() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rebate_enforce_transition' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.enforce_transition() IS
    'BEFORE ROW trigger: arguments are a state column and its allowed transitions "from>to" (">to" for initial states); anything else is refused with SQLSTATE RB001';
-- ---------------------------------------------------------------------------
-- Who sees what.  Three group roles (created if missing; roles are cluster
-- wide and outlive the extension):
--   rebate_admin    group (集团) level: every tenant
--   rebate_manager  one tenant: full read/write of that tenant's data
--   rebate_partner  a partner's portal users: their partner and its sub-partners
-- A login role is bound to a tenant (and a partner) in rebate.access_binding,
-- written only through rebate.grant_access / rebate.revoke_access.  The
-- binding of current_user, never a setting the client controls, decides what
-- row-level security lets a session see.
-- ---------------------------------------------------------------------------

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['rebate_admin', 'rebate_manager', 'rebate_partner'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

-- A role's binding: the one lookup of rebate.access_binding that the
-- session functions, the binding functions and the name check share.  Each
-- role may read only its own binding row (see the policy on
-- rebate.access_binding), so called with the caller's rights it answers for
-- that caller only; SECURITY DEFINER callers use it for the acting role.
-- (PL/pgSQL: the table is created later in the script.)
CREATE FUNCTION @extschema@.binding_of(role_name name, OUT tenant_id bigint, OUT partner_id bigint)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT b.tenant_id, b.partner_id INTO tenant_id, partner_id
      FROM @extschema@.access_binding b
      JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) b.role::oid
     WHERE r.rolname OPERATOR(pg_catalog.=) role_name;
END
$$;
COMMENT ON FUNCTION @extschema@.binding_of(name) IS
    'The tenant and partner a role is bound to (NULLs if none); a role may look up only its own binding';

CREATE FUNCTION @extschema@.current_tenant_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (@extschema@.binding_of(current_user)).tenant_id
$$;
COMMENT ON FUNCTION @extschema@.current_tenant_id() IS
    'The tenant current_user is bound to by rebate.grant_access, or NULL';

CREATE FUNCTION @extschema@.current_partner_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (@extschema@.binding_of(current_user)).partner_id
$$;
COMMENT ON FUNCTION @extschema@.current_partner_id() IS
    'The partner current_user is bound to (partner portal users), or NULL';

CREATE FUNCTION @extschema@.current_role_oid() RETURNS regrole
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.oid::regrole FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user
$$;
COMMENT ON FUNCTION @extschema@.current_role_oid() IS 'current_user as a regrole';

-- The role a change is made by: the session's SET ROLE, else the login
-- role.  Unlike current_user it does not turn into the owner inside a
-- SECURITY DEFINER function, so audit and history record who really acted.
CREATE FUNCTION @extschema@.acting_role() RETURNS name
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE pg_catalog.current_setting('role') WHEN 'none' THEN session_user
                ELSE pg_catalog.current_setting('role')::name END
$$;
COMMENT ON FUNCTION @extschema@.acting_role() IS
    'The role acting in this session (after SET ROLE), also inside SECURITY DEFINER functions';

CREATE FUNCTION @extschema@.is_group_admin() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.pg_has_role(current_user, 'rebate_admin', 'MEMBER')
$$;
COMMENT ON FUNCTION @extschema@.is_group_admin() IS
    'Whether current_user is a group administrator (member of rebate_admin): sees every tenant';

CREATE FUNCTION @extschema@.is_tenant_manager() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.pg_has_role(current_user, 'rebate_manager', 'MEMBER')
       AND b.tenant_id IS NOT NULL AND b.partner_id IS NULL
      FROM @extschema@.binding_of(current_user) AS b
$$;
COMMENT ON FUNCTION @extschema@.is_tenant_manager() IS
    'Whether current_user manages its bound tenant (member of rebate_manager, bound without a partner)';

-- A partner user sees its partner and every partner below it (二代 under 总代):
-- exactly the partner rows row-level security shows it.
CREATE FUNCTION @extschema@.visible_partner_ids() RETURNS bigint[]
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN coalesce((SELECT pg_catalog.array_agg(p.id) FROM @extschema@.partner p), '{}');
END
$$;
COMMENT ON FUNCTION @extschema@.visible_partner_ids() IS
    'The partners current_user may see: for a partner user its partner and all partners below it';

-- Row-level security for a tenant-scoped table, the same everywhere: rows are
-- readable by group admins and by roles bound to the row's tenant (partner
-- users only for their partner subtree when the table has a partner column),
-- and writable by group admins and the tenant's managers.  The session
-- functions sit in scalar subqueries, so they run once per query.  Used by
-- the install and upgrade scripts only.
CREATE FUNCTION @extschema@.apply_tenant_rls(tbl regclass, tenant_column name, partner_column name DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    admin   text := '(SELECT @extschema@.is_group_admin())';
    bound   text := pg_catalog.format('%I = (SELECT @extschema@.current_tenant_id())', tenant_column);
    manager text := '(SELECT @extschema@.is_tenant_manager())';
    readable text;
    writable text;
BEGIN
    IF partner_column IS NULL THEN
        readable := pg_catalog.format('%s OR %s', admin, bound);
    ELSIF tbl = '@extschema@.partner'::regclass THEN
        -- the partner table itself: its own path says who is above a row
        readable := pg_catalog.format('%s OR (%s AND (%s OR path @> ARRAY[(SELECT @extschema@.current_partner_id())]))',
                                      admin, bound, manager);
    ELSE
        readable := pg_catalog.format('%s OR (%s AND (%s OR %I = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[])))',
                                      admin, bound, manager, partner_column);
    END IF;
    writable := pg_catalog.format('%s OR (%s AND %s)', admin, bound, manager);
    EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE pg_catalog.format('CREATE POLICY tenant_read ON %s FOR SELECT USING (%s)', tbl, readable);
    EXECUTE pg_catalog.format('CREATE POLICY tenant_insert ON %s FOR INSERT WITH CHECK (%s)', tbl, writable);
    EXECUTE pg_catalog.format('CREATE POLICY tenant_update ON %s FOR UPDATE USING (%s) WITH CHECK (%s)', tbl, writable, writable);
    EXECUTE pg_catalog.format('CREATE POLICY tenant_delete ON %s FOR DELETE USING (%s)', tbl, writable);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.apply_tenant_rls(regclass, name, name) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.apply_tenant_rls(regclass, name, name) IS
    'Internal: creates the standard tenant (and partner) row-level security policies on a table';

-- Maintained columns shared by every business table.
CREATE FUNCTION @extschema@.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.touch_updated_at() IS 'BEFORE UPDATE trigger: sets updated_at';
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
-- ---------------------------------------------------------------------------
-- Tenants (brands) and the region tree.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.tenant (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,32}$'),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    currency    text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.tenant IS 'Brands (品牌): each tenant''s data is isolated from the others''';
COMMENT ON COLUMN @extschema@.tenant.currency IS 'Default currency of the brand (ISO 4217), for regions that set none';

-- Trees (regions, partners, product categories) keep, in each row, the path
-- of ids from the root down to the row itself, so "everything under X" is
-- the one GIN-indexed predicate  path @> ARRAY[X].  This trigger computes the
-- path from the parent's, refuses cycles, and carries a move down to the
-- descendants.  SECURITY DEFINER: it reads the parent and rewrites
-- descendants' paths whatever the caller may see; the tables' foreign keys
-- keep parent and child in one tenant.
CREATE FUNCTION @extschema@.maintain_tree_path() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parent_path bigint[];
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'maintain_tree_path only serves tables of the rebate extension'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_WHEN = 'BEFORE' THEN
        IF NEW.parent_id IS NULL THEN
            NEW.path := ARRAY[NEW.id];
            RETURN NEW;
        END IF;
        EXECUTE format('SELECT path FROM %I.%I WHERE id = $1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
            INTO parent_path USING NEW.parent_id;
        IF parent_path IS NULL THEN
            RETURN NEW;                 -- no such parent: the foreign key reports it
        END IF;
        IF NEW.id = ANY (parent_path) THEN
            RAISE EXCEPTION '% % cannot be placed under %: that would make a cycle', TG_TABLE_NAME, NEW.id, NEW.parent_id
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('%s %s is itself below %s %s (path %s).',
                                      TG_TABLE_NAME, NEW.parent_id, TG_TABLE_NAME, NEW.id, parent_path),
                      HINT = 'Move the descendant elsewhere first, or choose a parent outside this subtree.';
        END IF;
        NEW.path := parent_path || NEW.id;
        RETURN NEW;
    END IF;
    -- AFTER UPDATE with a changed path: the children recompute theirs (and so on down)
    IF NEW.path IS DISTINCT FROM OLD.path THEN
        EXECUTE format('UPDATE %I.%I SET parent_id = parent_id WHERE parent_id = $1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
            USING NEW.id;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.maintain_tree_path() IS
    'Trigger for tree tables (region, partner, product_category): keeps path = ancestors'' ids down to the row, refuses cycles';

CREATE FUNCTION @extschema@.apply_tree_triggers(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format('CREATE TRIGGER tree_path BEFORE INSERT OR UPDATE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.maintain_tree_path()', tbl);
    EXECUTE pg_catalog.format('CREATE TRIGGER tree_path_descendants AFTER UPDATE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.maintain_tree_path()', tbl);
    EXECUTE pg_catalog.format('CREATE INDEX ON %s USING gin (path)', tbl);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.apply_tree_triggers(regclass) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.apply_tree_triggers(regclass) IS
    'Internal: path maintenance triggers and the GIN index for a tree table';

CREATE TABLE @extschema@.region (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code        text NOT NULL CHECK (btrim(code) <> ''),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    level       text NOT NULL CHECK (level IN ('country', 'area', 'province', 'city', 'district', 'custom')),
    parent_id   bigint,
    path        bigint[] NOT NULL DEFAULT '{}',
    vat_rate    numeric(7,4) CHECK (vat_rate >= 0 AND vat_rate < 1),
    currency    text CHECK (currency ~ '^[A-Z]{3}$'),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES @extschema@.region (tenant_id, id),
    CHECK (parent_id IS DISTINCT FROM id)
);
COMMENT ON TABLE @extschema@.region IS
    'Sales regions as a tree (country > 大区 > province > city > district, or custom groupings); everything under region X is  path @> ARRAY[X]';
COMMENT ON COLUMN @extschema@.region.path IS 'Ids from the root down to this region (maintained); GIN-indexed';
COMMENT ON COLUMN @extschema@.region.vat_rate IS 'VAT rate as a fraction (0.13 = 13%); NULL inherits from the parent';
COMMENT ON COLUMN @extschema@.region.currency IS 'Currency (ISO 4217); NULL inherits from the parent, then the tenant';
SELECT @extschema@.apply_tree_triggers('@extschema@.region');

-- Each region with the VAT rate and currency it ends up with: its own, else
-- the nearest ancestor's, else (currency) the tenant's.
CREATE VIEW @extschema@.region_settings WITH (security_invoker = true) AS
SELECT r.id AS region_id,
       r.tenant_id,
       r.code,
       r.name,
       (SELECT a.vat_rate FROM @extschema@.region a
         WHERE a.id = ANY (r.path) AND a.vat_rate IS NOT NULL
         ORDER BY pg_catalog.array_position(r.path, a.id) DESC LIMIT 1) AS vat_rate,
       coalesce((SELECT a.currency FROM @extschema@.region a
                  WHERE a.id = ANY (r.path) AND a.currency IS NOT NULL
                  ORDER BY pg_catalog.array_position(r.path, a.id) DESC LIMIT 1),
                t.currency) AS currency
  FROM @extschema@.region r
  JOIN @extschema@.tenant t ON t.id = r.tenant_id;
COMMENT ON VIEW @extschema@.region_settings IS 'Each region''s effective VAT rate and currency, inherited down the tree';
COMMENT ON COLUMN @extschema@.region_settings.vat_rate IS 'The region''s own VAT rate, else its nearest ancestor''s; NULL if none is set';
COMMENT ON COLUMN @extschema@.region_settings.currency IS 'The region''s own currency, else its nearest ancestor''s, else the tenant''s';
-- ---------------------------------------------------------------------------
-- Partners (渠道商: distributors, dealers, agents), their grades, lifecycle,
-- hierarchy (总代 > 二代 > ...), history, and authorised territories.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.partner_grade (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code        text NOT NULL CHECK (btrim(code) <> ''),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    rank        integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, rank),
    UNIQUE (tenant_id, id)
);
COMMENT ON TABLE @extschema@.partner_grade IS 'Partner grades (A/B/C, 金牌/银牌...), defined per tenant';
COMMENT ON COLUMN @extschema@.partner_grade.rank IS 'Order of the grades: 1 is the highest';

CREATE TABLE @extschema@.partner (
    id                 bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id          bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code               text NOT NULL CHECK (btrim(code) <> ''),
    name               text NOT NULL CHECK (btrim(name) <> ''),
    name_key           text NOT NULL DEFAULT '',
    kind               text NOT NULL DEFAULT 'dealer'
                       CHECK (kind IN ('distributor', 'dealer', 'agent', 'retailer')),
    grade_id           bigint,
    home_region_id     bigint,
    parent_id          bigint,
    path               bigint[] NOT NULL DEFAULT '{}',
    credit_limit       numeric(18,2) NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    contact_name       text,
    contact_phone      text CHECK (contact_phone ~ '^[0-9+() -]{5,32}$'),
    contact_email      text CHECK (contact_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
    address            text,
    tax_id             text CHECK (tax_id ~ '^[0-9A-Z]{15,20}$'),
    business_license   text,
    license_expires_on date,
    state              text NOT NULL DEFAULT 'applicant'
                       CHECK (state IN ('applicant', 'active', 'suspended', 'exited', 'rejected')),
    state_changed_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, name_key),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, grade_id) REFERENCES @extschema@.partner_grade (tenant_id, id),
    FOREIGN KEY (tenant_id, home_region_id) REFERENCES @extschema@.region (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES @extschema@.partner (tenant_id, id),
    CHECK (parent_id IS DISTINCT FROM id)
);
CREATE INDEX partner_parent ON @extschema@.partner (tenant_id, parent_id);
COMMENT ON TABLE @extschema@.partner IS
    'Channel partners: distributors (总代), dealers (二代/经销商), agents, retailers; a hierarchy through parent_id';
COMMENT ON COLUMN @extschema@.partner.name_key IS
    'rebate.normalize_name(name), maintained: two names with the same key are the same company, refused within a tenant';
COMMENT ON COLUMN @extschema@.partner.path IS 'Ids from the top partner down to this one (maintained); GIN-indexed';
COMMENT ON COLUMN @extschema@.partner.state IS
    'Lifecycle: applicant -> active | rejected; active -> suspended; suspended -> active | exited';
COMMENT ON COLUMN @extschema@.partner.tax_id IS 'Unified social credit code (统一社会信用代码) or other tax id';
SELECT @extschema@.apply_tree_triggers('@extschema@.partner');

-- The name key, and a refusal that names the partner already registered.
CREATE FUNCTION @extschema@.partner_name_key() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    existing record;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'partner' THEN
        RAISE EXCEPTION 'partner_name_key only serves rebate.partner' USING ERRCODE = 'insufficient_privilege';
    END IF;
    NEW.name_key := @extschema@.normalize_name(NEW.name);
    -- name the existing partner only to those who may see the tenant; anyone
    -- else is refused by row-level security before the unique index is reached
    IF NOT pg_has_role(@extschema@.acting_role(), 'rebate_admin', 'MEMBER')
       AND NEW.tenant_id IS DISTINCT FROM (@extschema@.binding_of(@extschema@.acting_role())).tenant_id THEN
        RETURN NEW;
    END IF;
    SELECT p.code, p.name INTO existing FROM @extschema@.partner p
     WHERE p.tenant_id = NEW.tenant_id AND p.name_key = NEW.name_key AND p.id <> NEW.id;
    IF FOUND THEN
        RAISE EXCEPTION 'partner "%" is already registered as % "%"', NEW.name, existing.code, existing.name
            USING ERRCODE = 'unique_violation',
                  DETAIL = format('Both names normalize to "%s" (full-width, case, spaces and punctuation aside).', NEW.name_key),
                  HINT = 'Use the existing partner, or tell the two companies apart by their registered names.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.partner_name_key() IS
    'BEFORE trigger on partner: sets name_key and refuses a second partner with the same normalized name in the tenant';
CREATE TRIGGER name_key BEFORE INSERT OR UPDATE OF name, tenant_id ON @extschema@.partner
    FOR EACH ROW EXECUTE FUNCTION @extschema@.partner_name_key();

-- New rows may start in any state (existing partners are imported as they
-- are); changes follow the lifecycle.
CREATE TRIGGER lifecycle BEFORE UPDATE OF state ON @extschema@.partner
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition(
        'state', 'applicant>active', 'applicant>rejected',
        'active>suspended', 'suspended>active', 'suspended>exited');

-- History of state and grade: who, when, why.  The why comes from
-- rebate.set_partner_state / set_partner_grade (or the transaction-local
-- setting rebate.change_reason they set).
CREATE TABLE @extschema@.partner_state_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL REFERENCES @extschema@.tenant,
    partner_id   bigint NOT NULL,
    from_state   text,
    to_state     text NOT NULL,
    reason       text,
    changed_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    session_role name NOT NULL,
    acting_role  name NOT NULL,
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX partner_state_history_partner ON @extschema@.partner_state_history (tenant_id, partner_id, changed_at);
COMMENT ON TABLE @extschema@.partner_state_history IS 'Every lifecycle change of every partner: from, to, why, who, when';

CREATE TABLE @extschema@.partner_grade_history (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      bigint NOT NULL REFERENCES @extschema@.tenant,
    partner_id     bigint NOT NULL,
    from_grade_id  bigint,
    to_grade_id    bigint,
    reason         text,
    changed_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    session_role   name NOT NULL,
    acting_role    name NOT NULL,
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX partner_grade_history_partner ON @extschema@.partner_grade_history (tenant_id, partner_id, changed_at);
COMMENT ON TABLE @extschema@.partner_grade_history IS 'Every grade change (升级/降级) of every partner: from, to, why, who, when';

CREATE FUNCTION @extschema@.record_partner_history() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    why    text := nullif(current_setting('rebate.change_reason', true), '');
    acting name := @extschema@.acting_role();
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'partner' THEN
        RAISE EXCEPTION 'record_partner_history only serves rebate.partner' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state THEN
        INSERT INTO @extschema@.partner_state_history
            (tenant_id, partner_id, from_state, to_state, reason, session_role, acting_role)
        VALUES (NEW.tenant_id, NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END, NEW.state, why, session_user, acting);
    END IF;
    IF (TG_OP = 'INSERT' AND NEW.grade_id IS NOT NULL)
       OR (TG_OP = 'UPDATE' AND NEW.grade_id IS DISTINCT FROM OLD.grade_id) THEN
        INSERT INTO @extschema@.partner_grade_history
            (tenant_id, partner_id, from_grade_id, to_grade_id, reason, session_role, acting_role)
        VALUES (NEW.tenant_id, NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.grade_id END, NEW.grade_id, why, session_user, acting);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.record_partner_history() IS
    'AFTER trigger on partner: appends state and grade changes to their history tables';
CREATE TRIGGER history AFTER INSERT OR UPDATE OF state, grade_id ON @extschema@.partner
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_partner_history();

-- state_changed_at follows the state
CREATE FUNCTION @extschema@.stamp_state_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        NEW.state_changed_at := pg_catalog.now();
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.stamp_state_change() IS 'BEFORE UPDATE trigger: sets state_changed_at when state changes';
CREATE TRIGGER stamp_state_change BEFORE UPDATE OF state ON @extschema@.partner
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_state_change();

CREATE FUNCTION @extschema@.set_partner_state(partner_id bigint, new_state text, reason text)
    RETURNS @extschema@.partner
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result @extschema@.partner;
BEGIN
    PERFORM pg_catalog.set_config('rebate.change_reason', coalesce(reason, ''), true);
    UPDATE @extschema@.partner p SET state = new_state WHERE p.id = partner_id RETURNING p.* INTO result;
    PERFORM pg_catalog.set_config('rebate.change_reason', '', true);
    IF result.id IS NULL THEN
        RAISE EXCEPTION 'partner % does not exist or is not visible to you', partner_id
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.set_partner_state(bigint, text, text) IS
    'Moves a partner along its lifecycle, recording why (the history keeps who and when)';

CREATE FUNCTION @extschema@.set_partner_grade(partner_id bigint, grade_code text, reason text)
    RETURNS @extschema@.partner
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result @extschema@.partner;
    grade  bigint;
BEGIN
    SELECT g.id INTO grade FROM @extschema@.partner_grade g JOIN @extschema@.partner p ON p.tenant_id = g.tenant_id
     WHERE p.id = partner_id AND g.code = grade_code;
    IF grade IS NULL THEN
        RAISE EXCEPTION 'grade "%" is not defined for the tenant of partner %', grade_code, partner_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.set_config('rebate.change_reason', coalesce(reason, ''), true);
    UPDATE @extschema@.partner p SET grade_id = grade WHERE p.id = partner_id RETURNING p.* INTO result;
    PERFORM pg_catalog.set_config('rebate.change_reason', '', true);
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.set_partner_grade(bigint, text, text) IS
    'Upgrades or downgrades a partner to the grade with this code, recording why';

CREATE TABLE @extschema@.partner_territory (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id  bigint NOT NULL,
    region_id   bigint NOT NULL,
    valid       daterange NOT NULL DEFAULT daterange(CURRENT_DATE, NULL) CHECK (NOT isempty(valid)),
    exclusive   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    -- one authorisation per partner and region at a time (ids as one-point ranges: no btree_gist needed)
    EXCLUDE USING gist (int8range(partner_id, partner_id, '[]') WITH =,
                        int8range(region_id, region_id, '[]') WITH =,
                        valid WITH &&)
);
COMMENT ON TABLE @extschema@.partner_territory IS
    'Regions a partner is authorised to sell into (the region and everything under it), for a validity period';
COMMENT ON COLUMN @extschema@.partner_territory.valid IS 'Validity period [from, to); periods of one partner and region never overlap';
COMMENT ON COLUMN @extschema@.partner_territory.exclusive IS 'Whether the partner is the only one authorised there (独家)';
-- ---------------------------------------------------------------------------
-- Products, their categories and sales regions, and price policies.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.product_category (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code        text NOT NULL CHECK (btrim(code) <> ''),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    parent_id   bigint,
    path        bigint[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES @extschema@.product_category (tenant_id, id),
    CHECK (parent_id IS DISTINCT FROM id)
);
COMMENT ON TABLE @extschema@.product_category IS 'Product categories as a tree; everything under category X is  path @> ARRAY[X]';
COMMENT ON COLUMN @extschema@.product_category.path IS 'Ids from the root category down to this one (maintained); GIN-indexed';
SELECT @extschema@.apply_tree_triggers('@extschema@.product_category');

CREATE TABLE @extschema@.product (
    id             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id      bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    sku            text NOT NULL CHECK (btrim(sku) <> ''),
    name           text NOT NULL CHECK (btrim(name) <> ''),
    category_id    bigint NOT NULL,
    unit           text NOT NULL DEFAULT '件' CHECK (btrim(unit) <> ''),
    list_price     numeric(18,4) NOT NULL CHECK (list_price >= 0),
    standard_cost  numeric(18,4) CHECK (standard_cost >= 0),
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, sku),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, category_id) REFERENCES @extschema@.product_category (tenant_id, id)
);
CREATE INDEX product_category_idx ON @extschema@.product (tenant_id, category_id);
COMMENT ON TABLE @extschema@.product IS 'Products (SKUs) with list price and standard cost; partner users do not see the cost';
COMMENT ON COLUMN @extschema@.product.sku IS 'The SKU: the product''s business code, unique per tenant';
COMMENT ON COLUMN @extschema@.product.list_price IS 'List price (指导价) per unit, before any price policy';
COMMENT ON COLUMN @extschema@.product.standard_cost IS 'Standard cost per unit (for margins); hidden from partner users';

CREATE TABLE @extschema@.product_region (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    product_id  bigint NOT NULL,
    region_id   bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, product_id, region_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id)
);
COMMENT ON TABLE @extschema@.product_region IS
    'Where a product may be sold: the region and everything under it. A product without rows may be sold everywhere';

-- Price policies (价格政策): what a partner pays, and the floor it may not go
-- below, for a product or a whole category, a partner grade (or any), a
-- region subtree (or everywhere), a validity period, from a quantity on.
CREATE TABLE @extschema@.price_policy (
    id             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id      bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code           text NOT NULL CHECK (btrim(code) <> ''),
    name           text,
    product_id     bigint,
    category_id    bigint,
    grade_id       bigint,
    region_id      bigint,
    promotion      boolean NOT NULL DEFAULT false,
    min_quantity   numeric(18,4) NOT NULL DEFAULT 0 CHECK (min_quantity >= 0),
    price          numeric(18,4) CHECK (price >= 0),
    price_percent  numeric(7,4) CHECK (price_percent > 0 AND price_percent <= 100),
    floor_price    numeric(18,4) CHECK (floor_price >= 0),
    floor_percent  numeric(7,4) CHECK (floor_percent > 0 AND floor_percent <= 100),
    valid          daterange NOT NULL CHECK (NOT isempty(valid)),
    kind           text GENERATED ALWAYS AS (
                       CASE WHEN promotion THEN 'promotion'
                            WHEN grade_id IS NOT NULL AND region_id IS NOT NULL THEN 'grade_regional'
                            WHEN grade_id IS NOT NULL THEN 'grade'
                            WHEN region_id IS NOT NULL THEN 'regional'
                            ELSE 'base' END) STORED,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id),
    FOREIGN KEY (tenant_id, category_id) REFERENCES @extschema@.product_category (tenant_id, id),
    FOREIGN KEY (tenant_id, grade_id) REFERENCES @extschema@.partner_grade (tenant_id, id),
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    CONSTRAINT price_policy_one_target CHECK (num_nonnulls(product_id, category_id) = 1),
    CONSTRAINT price_policy_one_price CHECK (num_nonnulls(price, price_percent) = 1),
    CONSTRAINT price_policy_at_most_one_floor CHECK (num_nonnulls(floor_price, floor_percent) <= 1),
    CONSTRAINT price_policy_floor_below_price CHECK (floor_price IS NULL OR price IS NULL OR floor_price <= price),
    -- one policy per scope at a time (ids as one-point ranges, 0 for "any": no btree_gist needed)
    CONSTRAINT price_policy_no_overlap EXCLUDE USING gist (
        int8range(tenant_id, tenant_id, '[]') WITH =,
        int8range(coalesce(product_id, 0), coalesce(product_id, 0), '[]') WITH =,
        int8range(coalesce(category_id, 0), coalesce(category_id, 0), '[]') WITH =,
        int8range(coalesce(grade_id, 0), coalesce(grade_id, 0), '[]') WITH =,
        int8range(coalesce(region_id, 0), coalesce(region_id, 0), '[]') WITH =,
        int4range(promotion::int, promotion::int, '[]') WITH =,
        numrange(min_quantity, min_quantity, '[]') WITH =,
        valid WITH &&)
);
COMMENT ON TABLE @extschema@.price_policy IS
    'Prices partners pay and floors they may not undercut, by product or category, grade, region subtree, period and quantity break; rebate.effective_price picks the one that applies';
COMMENT ON COLUMN @extschema@.price_policy.price IS 'Unit price; or else price_percent of the list price';
COMMENT ON COLUMN @extschema@.price_policy.price_percent IS 'Unit price as a percentage of the product''s list price (for category policies)';
COMMENT ON COLUMN @extschema@.price_policy.floor_price IS 'Lowest unit price a partner may sell or be invoiced at (价格底线); or floor_percent of list price';
COMMENT ON COLUMN @extschema@.price_policy.min_quantity IS 'Quantity break: applies to order lines of at least this quantity';
COMMENT ON COLUMN @extschema@.price_policy.kind IS 'base, grade, regional, grade_regional or promotion (derived)';
COMMENT ON COLUMN @extschema@.price_policy.valid IS 'Validity period [from, to); policies of one scope never overlap';

-- The policy that applies.  Candidates: the product's own policies and those
-- of its category and every category above it; for the partner's grade or
-- any grade; for a region containing the sale's region, or everywhere; valid
-- on the date; for a quantity break the quantity reaches.  The most specific
-- wins, in this order: a promotion over a regular price; a product over a
-- category, a deeper category over a shallower one; a deeper region over a
-- shallower one (everywhere is shallowest); a grade-specific policy over one
-- for any grade; the higher quantity break; then the later start, the higher id.
CREATE FUNCTION @extschema@.effective_price(product_id bigint, partner_id bigint, region_id bigint,
                                            on_date date DEFAULT CURRENT_DATE, quantity numeric DEFAULT 1)
    RETURNS @extschema@.price_policy
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pp.*
      FROM @extschema@.product p
      JOIN @extschema@.product_category c ON c.id = p.category_id
      JOIN @extschema@.partner pa ON pa.id = effective_price.partner_id AND pa.tenant_id = p.tenant_id
      LEFT JOIN @extschema@.region sale_region ON sale_region.id = effective_price.region_id
                                              AND sale_region.tenant_id = p.tenant_id
      JOIN @extschema@.price_policy pp
        ON pp.tenant_id = p.tenant_id
       AND (pp.product_id = p.id OR pp.category_id = ANY (c.path))
       AND (pp.grade_id IS NULL OR pp.grade_id = pa.grade_id)
       AND (pp.region_id IS NULL OR pp.region_id = ANY (sale_region.path))
       AND pp.valid @> effective_price.on_date
       AND pp.min_quantity <= effective_price.quantity
      LEFT JOIN @extschema@.region policy_region ON policy_region.id = pp.region_id
     WHERE p.id = effective_price.product_id
     ORDER BY pp.promotion DESC,
              (pp.product_id IS NOT NULL) DESC,
              coalesce(array_position(c.path, pp.category_id), 0) DESC,
              coalesce(cardinality(policy_region.path), 0) DESC,
              (pp.grade_id IS NOT NULL) DESC,
              pp.min_quantity DESC,
              lower(pp.valid) DESC NULLS LAST,
              pp.id DESC
     LIMIT 1
$$;
COMMENT ON FUNCTION @extschema@.effective_price(bigint, bigint, bigint, date, numeric) IS
    'The price policy that applies to a product sold to a partner in a region on a date in a quantity: promotion, then product over category (deeper first), deeper region, grade-specific, higher quantity break';

-- What a policy means for one product: its unit price and floor in money.
CREATE FUNCTION @extschema@.policy_unit_price(policy @extschema@.price_policy, product_id bigint,
                                              OUT unit_price numeric, OUT floor_price numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(policy.price, pg_catalog.round(p.list_price * policy.price_percent / 100, 4)),
           coalesce(policy.floor_price, pg_catalog.round(p.list_price * policy.floor_percent / 100, 4))
      FROM @extschema@.product p
     WHERE p.id = policy_unit_price.product_id
$$;
COMMENT ON FUNCTION @extschema@.policy_unit_price(@extschema@.price_policy, bigint) IS
    'The unit price and floor a policy gives a product: its price, or its percentage of the list price rounded to 4 places';
-- ---------------------------------------------------------------------------
-- Orders (and returns), their lines and status history; payments collected
-- (回款) and their allocation to orders; targets.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.sales_order (
    id                  bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id           bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code                text NOT NULL CHECK (btrim(code) <> ''),
    partner_id          bigint NOT NULL,
    kind                text NOT NULL DEFAULT 'order' CHECK (kind IN ('order', 'return', 'credit_note')),
    original_order_id   bigint,
    ship_to_region_id   bigint NOT NULL,
    order_date          date NOT NULL DEFAULT CURRENT_DATE,
    status              text NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'submitted', 'approved', 'shipped', 'delivered', 'closed',
                                          'cancelled', 'on_hold')),
    currency            text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    note                text,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, id, partner_id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, ship_to_region_id) REFERENCES @extschema@.region (tenant_id, id),
    FOREIGN KEY (tenant_id, original_order_id, partner_id) REFERENCES @extschema@.sales_order (tenant_id, id, partner_id),
    CONSTRAINT sales_order_only_returns_refer CHECK (kind <> 'order' OR original_order_id IS NULL)
);
CREATE INDEX sales_order_partner_date ON @extschema@.sales_order (tenant_id, partner_id, order_date);
COMMENT ON TABLE @extschema@.sales_order IS
    'Orders placed by partners; returns (kind = return: goods come back) and credit notes (kind = credit_note: a price reduction, no goods), usually referring to the original order, whose lines reduce the rebate basis';
COMMENT ON COLUMN @extschema@.sales_order.status IS
    'draft -> submitted -> approved -> shipped -> delivered -> closed; cancelled before shipping; on_hold for review from submitted or approved';
COMMENT ON COLUMN @extschema@.sales_order.original_order_id IS 'For a return or credit note: the order it corrects (same partner)';

-- New orders may start in any status (history is imported as it is; partner
-- users may only create drafts and submitted orders, see the policies).
CREATE TRIGGER lifecycle BEFORE UPDATE OF status ON @extschema@.sales_order
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition(
        'status', 'draft>submitted', 'submitted>approved', 'approved>shipped',
        'shipped>delivered', 'delivered>closed', 'draft>cancelled', 'submitted>cancelled', 'approved>cancelled',
        'submitted>on_hold', 'approved>on_hold', 'on_hold>submitted', 'on_hold>approved', 'on_hold>cancelled');

CREATE TABLE @extschema@.order_status_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL REFERENCES @extschema@.tenant,
    order_id     bigint NOT NULL,
    partner_id   bigint NOT NULL,
    from_status  text,
    to_status    text NOT NULL,
    reason       text,
    changed_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    session_role name NOT NULL,
    acting_role  name NOT NULL,
    FOREIGN KEY (tenant_id, order_id, partner_id) REFERENCES @extschema@.sales_order (tenant_id, id, partner_id) ON DELETE CASCADE
);
CREATE INDEX order_status_history_order ON @extschema@.order_status_history (tenant_id, order_id, changed_at);
COMMENT ON TABLE @extschema@.order_status_history IS 'Every status change of every order: from, to, why, who, when';

CREATE FUNCTION @extschema@.record_order_history() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'sales_order' THEN
        RAISE EXCEPTION 'record_order_history only serves rebate.sales_order' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO @extschema@.order_status_history
            (tenant_id, order_id, partner_id, from_status, to_status, reason, session_role, acting_role)
        VALUES (NEW.tenant_id, NEW.id, NEW.partner_id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status,
                nullif(current_setting('rebate.change_reason', true), ''), session_user,
                @extschema@.acting_role());
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.record_order_history() IS 'AFTER trigger on sales_order: appends status changes to order_status_history';
CREATE TRIGGER history AFTER INSERT OR UPDATE OF status ON @extschema@.sales_order
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_order_history();

CREATE FUNCTION @extschema@.set_order_status(order_id bigint, new_status text, reason text DEFAULT NULL)
    RETURNS @extschema@.sales_order
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result @extschema@.sales_order;
BEGIN
    PERFORM pg_catalog.set_config('rebate.change_reason', coalesce(reason, ''), true);
    UPDATE @extschema@.sales_order o SET status = new_status WHERE o.id = order_id RETURNING o.* INTO result;
    PERFORM pg_catalog.set_config('rebate.change_reason', '', true);
    IF result.id IS NULL THEN
        RAISE EXCEPTION 'order % does not exist or is not visible to you', order_id USING ERRCODE = 'no_data_found';
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.set_order_status(bigint, text, text) IS 'Moves an order along its lifecycle, recording why';

CREATE TABLE @extschema@.order_line (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    order_id     bigint NOT NULL,
    partner_id   bigint NOT NULL,
    line_no      integer NOT NULL CHECK (line_no > 0),
    product_id   bigint NOT NULL,
    quantity     numeric(18,4) NOT NULL CHECK (quantity > 0),
    unit_price   numeric(18,4) NOT NULL CHECK (unit_price >= 0),
    unit_cost    numeric(18,4) CHECK (unit_cost >= 0),
    amount       numeric(20,4) GENERATED ALWAYS AS (quantity * unit_price) STORED,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, order_id, line_no),
    FOREIGN KEY (tenant_id, order_id, partner_id) REFERENCES @extschema@.sales_order (tenant_id, id, partner_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id)
);
CREATE INDEX order_line_product ON @extschema@.order_line (tenant_id, product_id);
COMMENT ON TABLE @extschema@.order_line IS
    'Order lines: quantity, unit price and unit cost at the time; amount = quantity x unit price. Lines of returns are positive and count negative in rebate.sales_fact';
COMMENT ON COLUMN @extschema@.order_line.partner_id IS 'The order''s partner (filled in from the order; kept for row-level security)';
COMMENT ON COLUMN @extschema@.order_line.unit_cost IS 'Cost per unit when the order was placed (defaults to the product''s standard cost)';

-- partner_id and unit_cost come from the order and the product when not given
CREATE FUNCTION @extschema@.fill_order_line() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'order_line' THEN
        RAISE EXCEPTION 'fill_order_line only serves rebate.order_line' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.partner_id IS NULL THEN
        SELECT o.partner_id INTO NEW.partner_id FROM @extschema@.sales_order o
         WHERE o.id = NEW.order_id AND o.tenant_id = NEW.tenant_id;
    END IF;
    IF NEW.unit_cost IS NULL THEN
        SELECT p.standard_cost INTO NEW.unit_cost FROM @extschema@.product p
         WHERE p.id = NEW.product_id AND p.tenant_id = NEW.tenant_id;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.fill_order_line() IS
    'BEFORE INSERT trigger on order_line: takes partner_id from the order and unit_cost from the product when not given';
CREATE TRIGGER fill BEFORE INSERT ON @extschema@.order_line
    FOR EACH ROW EXECUTE FUNCTION @extschema@.fill_order_line();

-- Sales as facts, signed: returns count negative.  The rebate basis of later versions reads this.
CREATE VIEW @extschema@.sales_fact WITH (security_invoker = true) AS
SELECT l.tenant_id,
       o.partner_id,
       o.id AS order_id,
       l.id AS order_line_id,
       o.kind,
       o.status,
       o.order_date,
       o.ship_to_region_id AS region_id,
       l.product_id,
       CASE o.kind WHEN 'return' THEN -l.quantity WHEN 'credit_note' THEN 0 ELSE l.quantity END AS quantity,
       CASE WHEN o.kind = 'order' THEN l.amount ELSE -l.amount END AS amount,
       CASE o.kind WHEN 'return' THEN -l.quantity WHEN 'credit_note' THEN 0 ELSE l.quantity END * l.unit_cost AS cost
  FROM @extschema@.order_line l
  JOIN @extschema@.sales_order o ON o.id = l.order_id AND o.tenant_id = l.tenant_id
 WHERE o.status NOT IN ('cancelled', 'draft');
COMMENT ON VIEW @extschema@.sales_fact IS
    'One row per order line of a non-draft, non-cancelled order; returns and credit notes negative';
COMMENT ON COLUMN @extschema@.sales_fact.quantity IS 'Quantity; negative for returns, 0 for credit notes (no goods move)';
COMMENT ON COLUMN @extschema@.sales_fact.amount IS 'quantity x unit price; negative for returns and credit notes';
COMMENT ON COLUMN @extschema@.sales_fact.cost IS 'quantity x unit cost at the time; negative for returns, 0 for credit notes';

CREATE TABLE @extschema@.payment (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code         text NOT NULL CHECK (btrim(code) <> ''),
    partner_id   bigint NOT NULL,
    received_on  date NOT NULL DEFAULT CURRENT_DATE,
    amount       numeric(18,2) NOT NULL CHECK (amount > 0),
    currency     text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    method       text NOT NULL DEFAULT 'bank_transfer'
                 CHECK (method IN ('bank_transfer', 'acceptance_bill', 'cash', 'offset', 'other')),
    reference    text,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, id, partner_id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id)
);
CREATE INDEX payment_partner_date ON @extschema@.payment (tenant_id, partner_id, received_on);
COMMENT ON TABLE @extschema@.payment IS 'Money collected from partners (回款); acceptance_bill is a bank acceptance (承兑汇票), offset a rebate offset';

CREATE TABLE @extschema@.payment_allocation (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    payment_id   bigint NOT NULL,
    order_id     bigint NOT NULL,
    partner_id   bigint NOT NULL,
    amount       numeric(18,2) NOT NULL CHECK (amount > 0),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, payment_id, order_id),
    FOREIGN KEY (tenant_id, payment_id, partner_id) REFERENCES @extschema@.payment (tenant_id, id, partner_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, order_id, partner_id) REFERENCES @extschema@.sales_order (tenant_id, id, partner_id)
);
COMMENT ON TABLE @extschema@.payment_allocation IS
    'Which orders a payment pays for (same partner); allocations of a payment never exceed it';

CREATE FUNCTION @extschema@.check_payment_allocation() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    paid      numeric;
    allocated numeric;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'payment_allocation' THEN
        RAISE EXCEPTION 'check_payment_allocation only serves rebate.payment_allocation' USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- lock the payment so that concurrent allocations are checked one after the other
    SELECT p.amount INTO paid FROM @extschema@.payment p WHERE p.id = NEW.payment_id FOR UPDATE;
    SELECT coalesce(sum(a.amount), 0) INTO allocated FROM @extschema@.payment_allocation a
     WHERE a.payment_id = NEW.payment_id AND a.id <> NEW.id;
    IF allocated + NEW.amount > paid THEN
        RAISE EXCEPTION 'allocations of payment % would exceed it', NEW.payment_id
            USING ERRCODE = 'check_violation',
                  DETAIL = format('The payment is %s; %s is allocated already and %s more was asked.', paid, allocated, NEW.amount);
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.check_payment_allocation() IS
    'BEFORE trigger on payment_allocation: the allocations of a payment never exceed its amount';
CREATE TRIGGER within_payment BEFORE INSERT OR UPDATE ON @extschema@.payment_allocation
    FOR EACH ROW EXECUTE FUNCTION @extschema@.check_payment_allocation();

CREATE TABLE @extschema@.target (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id   bigint,
    region_id    bigint,
    metric       text NOT NULL CHECK (metric IN ('sales_amount', 'quantity', 'collected_amount', 'new_customers')),
    period       daterange NOT NULL CHECK (NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period)),
    value        numeric(20,4) NOT NULL CHECK (value >= 0),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    CONSTRAINT target_one_subject CHECK (num_nonnulls(partner_id, region_id) = 1),
    CONSTRAINT target_no_overlap EXCLUDE USING gist (
        int8range(tenant_id, tenant_id, '[]') WITH =,
        int8range(coalesce(partner_id, 0), coalesce(partner_id, 0), '[]') WITH =,
        int8range(coalesce(region_id, 0), coalesce(region_id, 0), '[]') WITH =,
        int4range(CASE metric WHEN 'sales_amount' THEN 1 WHEN 'quantity' THEN 2
                              WHEN 'collected_amount' THEN 3 ELSE 4 END,
                  CASE metric WHEN 'sales_amount' THEN 1 WHEN 'quantity' THEN 2
                              WHEN 'collected_amount' THEN 3 ELSE 4 END, '[]') WITH =,
        period WITH &&)
);
COMMENT ON TABLE @extschema@.target IS
    'Targets per partner (or region), metric and period, which overachievement rebates and scoring measure against; periods of one subject and metric never overlap';
COMMENT ON COLUMN @extschema@.target.period IS 'The period [from, to), e.g. [2026-01-01, 2026-04-01) for Q1';
-- ---------------------------------------------------------------------------
-- Bindings of login roles to tenants and partners, and what each group role
-- may do.  Keep this file after every table it grants on.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.access_binding (
    role        regrole PRIMARY KEY,
    tenant_id   bigint NOT NULL REFERENCES @extschema@.tenant ON DELETE CASCADE,
    partner_id  bigint,
    granted_by  name NOT NULL DEFAULT session_user,
    granted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE @extschema@.access_binding IS
    'Which tenant (and partner) each login role acts for; written only by rebate.grant_access and rebate.revoke_access';
REVOKE ALL ON @extschema@.access_binding FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.access_binding', '');
-- every role reads its own binding (the session functions need it), group admins all of them
ALTER TABLE @extschema@.access_binding ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_binding ON @extschema@.access_binding FOR SELECT
    USING (role = @extschema@.current_role_oid() OR (SELECT @extschema@.is_group_admin()));

-- Revoke a role's direct memberships in rebate_manager / rebate_partner.
CREATE FUNCTION @extschema@.drop_group_memberships(member oid) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g name;
BEGIN
    FOR g IN SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
              WHERE m.member = drop_group_memberships.member
                AND r.rolname IN ('rebate_manager', 'rebate_partner') LOOP
        EXECUTE format('REVOKE %I FROM %I', g, (SELECT r.rolname FROM pg_roles r WHERE r.oid = drop_group_memberships.member));
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.drop_group_memberships(oid) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.drop_group_memberships(oid) IS
    'Internal: revokes a role''s direct memberships in rebate_manager and rebate_partner (used by grant_access and revoke_access)';

-- Whether a role is a manager bound to this tenant (for the binding functions).
CREATE FUNCTION @extschema@.manages_tenant(role_name name, tenant bigint) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.pg_has_role(role_name, 'rebate_manager', 'MEMBER')
       AND b.tenant_id OPERATOR(pg_catalog.=) tenant AND b.partner_id IS NULL
      FROM @extschema@.binding_of(role_name) AS b
$$;
COMMENT ON FUNCTION @extschema@.manages_tenant(name, bigint) IS
    'Whether a role is a manager (rebate_manager) bound to the tenant, without a partner';

-- Group admins bind anyone; a tenant's manager binds partner users of its own
-- tenant.  The role also becomes a member of the matching group role
-- (rebate_manager or rebate_partner).  SECURITY DEFINER because ordinary
-- roles cannot write the binding table or grant group roles; every argument
-- is checked so that nothing here lends more than the caller already has.
CREATE FUNCTION @extschema@.grant_access(role regrole, tenant_id bigint, partner_id bigint DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting   name := @extschema@.acting_role();
    target   pg_catalog.pg_roles%ROWTYPE;
    as_admin boolean;
    group_role text := CASE WHEN partner_id IS NULL THEN 'rebate_manager' ELSE 'rebate_partner' END;
BEGIN
    as_admin := pg_has_role(acting, 'rebate_admin', 'MEMBER');
    IF NOT as_admin THEN
        IF partner_id IS NULL
           OR NOT @extschema@.manages_tenant(acting, grant_access.tenant_id) THEN
            RAISE EXCEPTION 'permission denied to grant access to tenant %', tenant_id
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Group administrators (rebate_admin) bind managers and partner users; a tenant''s managers bind partner users of their own tenant.';
        END IF;
    END IF;
    SELECT * INTO target FROM pg_roles r WHERE r.oid = role;
    IF target.rolsuper OR target.rolcreaterole OR target.rolbypassrls OR target.rolreplication
       OR target.rolname IN ('rebate_admin', 'rebate_manager', 'rebate_partner')
       OR target.rolname = acting OR target.rolname LIKE 'pg\_%' THEN
        RAISE EXCEPTION 'role % cannot be bound to a tenant', role
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Superusers, roles that create roles or bypass row-level security, built-in roles, the rebate group roles and the caller itself are never bound.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM @extschema@.tenant t WHERE t.id = grant_access.tenant_id) THEN
        RAISE EXCEPTION 'tenant % does not exist', tenant_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF partner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM @extschema@.partner p
                                               WHERE p.id = partner_id AND p.tenant_id = grant_access.tenant_id) THEN
        RAISE EXCEPTION 'partner % does not belong to tenant %', partner_id, tenant_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    INSERT INTO @extschema@.access_binding AS b (role, tenant_id, partner_id, granted_by)
    VALUES (role, tenant_id, partner_id, acting)
    ON CONFLICT ON CONSTRAINT access_binding_pkey DO UPDATE
        SET tenant_id = excluded.tenant_id, partner_id = excluded.partner_id,
            granted_by = excluded.granted_by, granted_at = pg_catalog.now();
    PERFORM @extschema@.drop_group_memberships(target.oid);
    EXECUTE format('GRANT %I TO %I', group_role, target.rolname);
END
$$;
COMMENT ON FUNCTION @extschema@.grant_access(regrole, bigint, bigint) IS
    'Binds a login role to a tenant (as its manager) or to a partner of it (as a partner user), and grants the matching group role';
REVOKE ALL ON FUNCTION @extschema@.grant_access(regrole, bigint, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.revoke_access(role regrole) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting  name := @extschema@.acting_role();
    binding @extschema@.access_binding%ROWTYPE;
BEGIN
    SELECT * INTO binding FROM @extschema@.access_binding b WHERE b.role = revoke_access.role;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF NOT pg_has_role(acting, 'rebate_admin', 'MEMBER')
       AND NOT (binding.partner_id IS NOT NULL AND @extschema@.manages_tenant(acting, binding.tenant_id)) THEN
        RAISE EXCEPTION 'permission denied to revoke access of role %', role
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM @extschema@.access_binding b WHERE b.role = revoke_access.role;
    PERFORM @extschema@.drop_group_memberships(role);
END
$$;
COMMENT ON FUNCTION @extschema@.revoke_access(regrole) IS
    'Removes a login role''s binding and its rebate group role membership';
REVOKE ALL ON FUNCTION @extschema@.revoke_access(regrole) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION @extschema@.grant_access(regrole, bigint, bigint),
                          @extschema@.revoke_access(regrole)
    TO rebate_admin, rebate_manager;

-- Standard triggers, pg_dump registration and row-level security, table by table.
-- (one statement each: pg_extension_config_dump updates the same catalog row every time)
SELECT @extschema@.apply_standard_triggers('@extschema@.tenant');
SELECT @extschema@.apply_standard_triggers('@extschema@.region');
SELECT @extschema@.apply_standard_triggers('@extschema@.partner_grade');
SELECT @extschema@.apply_standard_triggers('@extschema@.partner');
SELECT @extschema@.apply_standard_triggers('@extschema@.partner_territory');
SELECT @extschema@.apply_standard_triggers('@extschema@.product_category');
SELECT @extschema@.apply_standard_triggers('@extschema@.product');
SELECT @extschema@.apply_standard_triggers('@extschema@.product_region');
SELECT @extschema@.apply_standard_triggers('@extschema@.price_policy');
SELECT @extschema@.apply_standard_triggers('@extschema@.sales_order');
SELECT @extschema@.apply_standard_triggers('@extschema@.order_line');
SELECT @extschema@.apply_standard_triggers('@extschema@.payment');
SELECT @extschema@.apply_standard_triggers('@extschema@.payment_allocation');
SELECT @extschema@.apply_standard_triggers('@extschema@.target');
SELECT @extschema@.register_for_dump('@extschema@.partner_state_history');
SELECT @extschema@.register_for_dump('@extschema@.partner_grade_history');
SELECT @extschema@.register_for_dump('@extschema@.order_status_history');

SELECT @extschema@.apply_tenant_rls('@extschema@.tenant', 'id');
SELECT @extschema@.apply_tenant_rls('@extschema@.region', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_grade', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner', 'tenant_id', 'id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_territory', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_state_history', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_grade_history', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.product_category', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.product', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.product_region', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.price_policy', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.sales_order', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.order_line', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.order_status_history', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.payment', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.payment_allocation', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.target', 'tenant_id', 'partner_id');

-- Partner users place orders for themselves: new orders (draft or submitted)
-- and their lines, and changes to their own drafts.
CREATE POLICY partner_places_order ON @extschema@.sales_order FOR INSERT
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id())
                AND status IN ('draft', 'submitted'));
CREATE POLICY partner_edits_draft ON @extschema@.sales_order FOR UPDATE
    USING (tenant_id = (SELECT @extschema@.current_tenant_id())
           AND partner_id = (SELECT @extschema@.current_partner_id()) AND status = 'draft')
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id()) AND status IN ('draft', 'submitted'));
CREATE POLICY partner_adds_lines ON @extschema@.order_line FOR INSERT
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id())
                AND EXISTS (SELECT 1 FROM @extschema@.sales_order o
                             WHERE o.id = order_id AND o.status IN ('draft', 'submitted')));

-- Table privileges.  Row-level security then narrows them to the bound tenant/partner.
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.tenant TO rebate_admin;
GRANT SELECT ON @extschema@.tenant TO rebate_manager, rebate_partner;
GRANT SELECT, INSERT, UPDATE, DELETE
   ON @extschema@.region, @extschema@.partner_grade, @extschema@.partner, @extschema@.partner_territory
   TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.region, @extschema@.partner_grade, @extschema@.partner, @extschema@.partner_territory,
                @extschema@.partner_state_history, @extschema@.partner_grade_history, @extschema@.region_settings
   TO rebate_admin, rebate_manager, rebate_partner;
GRANT SELECT, INSERT, UPDATE, DELETE
   ON @extschema@.product_category, @extschema@.product, @extschema@.product_region, @extschema@.price_policy,
      @extschema@.sales_order, @extschema@.order_line, @extschema@.payment, @extschema@.payment_allocation,
      @extschema@.target
   TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.product_category, @extschema@.product_region, @extschema@.price_policy,
                @extschema@.sales_order, @extschema@.order_status_history,
                @extschema@.payment, @extschema@.payment_allocation, @extschema@.target
   TO rebate_admin, rebate_manager, rebate_partner;
GRANT SELECT ON @extschema@.order_line, @extschema@.sales_fact TO rebate_admin, rebate_manager;
-- partner users see their lines, but not the cost at the time (nor, so, sales_fact's cost)
GRANT SELECT (id, tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, amount,
              created_at, updated_at)
   ON @extschema@.order_line TO rebate_partner;
-- partner users see products but not their cost
GRANT SELECT (id, tenant_id, sku, name, category_id, unit, list_price, active, created_at, updated_at)
   ON @extschema@.product TO rebate_partner;
GRANT INSERT (tenant_id, code, partner_id, kind, original_order_id, ship_to_region_id, order_date, status, currency, note),
      UPDATE (ship_to_region_id, order_date, status, currency, note)
   ON @extschema@.sales_order TO rebate_partner;
GRANT INSERT (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price)
   ON @extschema@.order_line TO rebate_partner;
GRANT SELECT ON @extschema@.audit_log TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.access_binding TO rebate_admin, rebate_manager, rebate_partner;
