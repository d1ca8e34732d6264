-- ---------------------------------------------------------------------------
-- The trust boundary (issue 13).  Every authorisation check goes through
-- role_is_admin, manages_tenant and may_manage, which answer strictly true
-- or false: deny by default, never NULL (IF NOT NULL does not raise).  A role
-- has a tenant only through a binding of its own: the group roles are never
-- bound, so a role acting through one (SET ROLE rebate_manager) has none.
-- Bindings follow rules a reviewer can state in one sentence each, and every
-- change to one is kept in access_binding_history.  BEFORE triggers that read
-- as the owner judge the writer first and read only inside the row's tenant,
-- so that no error quotes a row the writer cannot see.  Attestation columns
-- (who issued, answered, paid ...) are stamped by the server.
-- ---------------------------------------------------------------------------

-- A role's binding; the rebate group roles never have one (even if a row
-- named them), so that acting through a group role gives no tenant.
CREATE OR REPLACE FUNCTION @extschema@.binding_of(role_name name, OUT tenant_id bigint, OUT partner_id bigint)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT b.tenant_id, b.partner_id INTO tenant_id, partner_id
      FROM @extschema@.access_binding b
      JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) b.role::oid
     WHERE r.rolname OPERATOR(pg_catalog.=) role_name
       AND r.rolname OPERATOR(pg_catalog.<>) ALL (ARRAY['rebate_admin', 'rebate_manager', 'rebate_partner']::name[]);
END
$$;

CREATE FUNCTION @extschema@.role_is_admin(role_name name) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.pg_has_role(role_name, 'rebate_admin', 'MEMBER'), false)
$$;
COMMENT ON FUNCTION @extschema@.role_is_admin(name) IS
    'Whether a role is a group administrator (member of rebate_admin); strictly true or false';

CREATE OR REPLACE FUNCTION @extschema@.manages_tenant(role_name name, tenant bigint) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.pg_has_role(role_name, 'rebate_manager', 'MEMBER')
                    AND b.tenant_id OPERATOR(pg_catalog.=) tenant AND b.partner_id IS NULL, false)
      FROM @extschema@.binding_of(role_name) AS b
$$;
COMMENT ON FUNCTION @extschema@.manages_tenant(name, bigint) IS
    'Whether a role is a manager (rebate_manager) bound to the tenant by a binding of its own; strictly true or false';

CREATE FUNCTION @extschema@.may_manage(role_name name, tenant bigint) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.role_is_admin(role_name) OR @extschema@.manages_tenant(role_name, tenant)
$$;
COMMENT ON FUNCTION @extschema@.may_manage(name, bigint) IS
    'Whether a role may manage a tenant: a group administrator, or a manager bound to it; strictly true or false';

CREATE FUNCTION @extschema@.sees_tenant(role_name name, tenant bigint) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.role_is_admin(role_name)
        OR coalesce((@extschema@.binding_of(role_name)).tenant_id OPERATOR(pg_catalog.=) tenant, false)
$$;
COMMENT ON FUNCTION @extschema@.sees_tenant(name, bigint) IS
    'Whether a role sees a tenant: a group administrator, or bound to it (as manager or partner user); strictly true or false';

CREATE OR REPLACE FUNCTION @extschema@.is_group_admin() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.role_is_admin(current_user)
$$;

CREATE OR REPLACE FUNCTION @extschema@.is_tenant_manager() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.manages_tenant(current_user, (@extschema@.binding_of(current_user)).tenant_id)
$$;

-- ---- bindings: rules and history -------------------------------------------

CREATE TABLE @extschema@.access_binding_history (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role            oid NOT NULL,
    role_name       name NOT NULL,
    operation       text NOT NULL CHECK (operation IN ('grant', 'rebind', 'revoke')),
    old_tenant_id   bigint,
    old_partner_id  bigint,
    new_tenant_id   bigint,
    new_partner_id  bigint,
    session_role    name NOT NULL,
    acting_role     name NOT NULL,
    changed_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX access_binding_history_role ON @extschema@.access_binding_history (role, changed_at);
CREATE INDEX access_binding_history_old_tenant ON @extschema@.access_binding_history (old_tenant_id);
CREATE INDEX access_binding_history_new_tenant ON @extschema@.access_binding_history (new_tenant_id);
COMMENT ON TABLE @extschema@.access_binding_history IS
    'Every grant, rebind and revoke of a binding (also by a cascade when a tenant or partner is deleted): the role, the old and the new binding, who and when. Append-only; kept after a revoke';
COMMENT ON COLUMN @extschema@.access_binding_history.role IS 'The bound role''s oid (the name is kept too: the role may be dropped later)';
COMMENT ON COLUMN @extschema@.access_binding_history.session_role IS 'The login role (session_user) that made the change';
COMMENT ON COLUMN @extschema@.access_binding_history.acting_role IS 'The role in effect (after SET ROLE) that made the change';
REVOKE ALL ON @extschema@.access_binding_history FROM PUBLIC;
SELECT @extschema@.register_for_dump('@extschema@.access_binding_history');
ALTER TABLE @extschema@.access_binding_history ENABLE ROW LEVEL SECURITY;
-- a manager reads the changes that stay inside its tenant (a grant into it, a
-- rebind within it, a revoke from it); a move between tenants, which only an
-- admin makes, would show each side the other's tenant and partner
CREATE POLICY binding_history_read ON @extschema@.access_binding_history FOR SELECT
    USING ((SELECT @extschema@.is_group_admin())
           OR ((SELECT @extschema@.is_tenant_manager())
               AND coalesce(old_tenant_id, new_tenant_id) = (SELECT @extschema@.current_tenant_id())
               AND coalesce(new_tenant_id, old_tenant_id) = (SELECT @extschema@.current_tenant_id())));
GRANT SELECT ON @extschema@.access_binding_history TO rebate_admin, rebate_manager;

-- SECURITY DEFINER: it writes the history, which nobody else may; it serves
-- access_binding only.
CREATE FUNCTION @extschema@.record_binding_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r regrole;
BEGIN
    IF TG_RELID <> '@extschema@.access_binding'::regclass THEN
        RAISE EXCEPTION 'record_binding_change only serves rebate.access_binding' USING ERRCODE = 'insufficient_privilege';
    END IF;
    r := CASE TG_OP WHEN 'DELETE' THEN OLD.role ELSE NEW.role END;
    IF TG_OP = 'UPDATE' AND (NEW.tenant_id, NEW.partner_id) IS NOT DISTINCT FROM (OLD.tenant_id, OLD.partner_id)
       AND NEW.role = OLD.role THEN
        RETURN NULL;
    END IF;
    INSERT INTO @extschema@.access_binding_history
        (role, role_name, operation, old_tenant_id, old_partner_id, new_tenant_id, new_partner_id, session_role, acting_role)
    VALUES (r::oid, coalesce((SELECT rr.rolname FROM pg_catalog.pg_roles rr WHERE rr.oid = r::oid), r::oid::text),
            CASE TG_OP WHEN 'INSERT' THEN 'grant' WHEN 'UPDATE' THEN 'rebind' ELSE 'revoke' END,
            CASE WHEN TG_OP <> 'INSERT' THEN OLD.tenant_id END, CASE WHEN TG_OP <> 'INSERT' THEN OLD.partner_id END,
            CASE WHEN TG_OP <> 'DELETE' THEN NEW.tenant_id END, CASE WHEN TG_OP <> 'DELETE' THEN NEW.partner_id END,
            session_user, @extschema@.acting_role());
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.record_binding_change() IS
    'AFTER trigger on access_binding: appends every grant, rebind and revoke to access_binding_history';
CREATE TRIGGER history AFTER INSERT OR UPDATE OR DELETE ON @extschema@.access_binding
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_binding_change();

-- The existing bindings enter the history as they stand.
INSERT INTO @extschema@.access_binding_history
    (role, role_name, operation, new_tenant_id, new_partner_id, session_role, acting_role, changed_at)
SELECT b.role::oid, r.rolname, 'grant', b.tenant_id, b.partner_id, b.granted_by, b.granted_by, b.granted_at
  FROM @extschema@.access_binding b JOIN pg_catalog.pg_roles r ON r.oid = b.role::oid;

COMMENT ON COLUMN @extschema@.access_binding.granted_by IS
    'The login role (session_user) that made the binding: SET ROLE does not change it';

-- Group admins bind anyone who may be bound.  A tenant's manager binds, as
-- users of its own tenant's partners, only login roles that are unbound or
-- already partner users of that tenant; never itself, a manager or an admin.
-- Every check is strict; what is not allowed is refused.
CREATE OR REPLACE FUNCTION @extschema@.grant_access(role regrole, tenant_id bigint, partner_id bigint DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting     name := @extschema@.acting_role();
    target     pg_catalog.pg_roles%ROWTYPE;
    bound      @extschema@.access_binding%ROWTYPE;
    allowed    boolean;
    group_role text := CASE WHEN partner_id IS NULL THEN 'rebate_manager' ELSE 'rebate_partner' END;
BEGIN
    SELECT * INTO target FROM pg_catalog.pg_roles r WHERE r.oid = role;
    SELECT * INTO bound FROM @extschema@.access_binding b WHERE b.role = grant_access.role;
    allowed := @extschema@.role_is_admin(acting)
               OR coalesce(grant_access.partner_id IS NOT NULL
                           AND @extschema@.manages_tenant(acting, grant_access.tenant_id)
                           AND target.rolcanlogin
                           AND NOT pg_catalog.pg_has_role(target.oid, 'rebate_manager', 'MEMBER')
                           AND (bound.role IS NULL
                                OR (bound.tenant_id = grant_access.tenant_id AND bound.partner_id IS NOT NULL)), false);
    IF NOT allowed THEN
        RAISE EXCEPTION 'permission denied to bind role % to tenant %', role, tenant_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Group administrators (rebate_admin) bind managers and partner users; a tenant''s managers bind login roles that are unbound or partner users of their own tenant, as partner users of that tenant.';
    END IF;
    IF target.oid IS NULL OR target.rolsuper OR target.rolcreaterole OR target.rolbypassrls OR target.rolreplication
       OR target.rolname IN ('rebate_admin', 'rebate_manager', 'rebate_partner') OR target.rolname LIKE 'pg\_%'
       OR target.rolname IN (acting, session_user) OR @extschema@.role_is_admin(target.rolname) THEN
        RAISE EXCEPTION 'role % cannot be bound to a tenant', role
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Superusers, roles that create roles or bypass row-level security, built-in roles, the rebate group roles, group administrators and the caller itself are never bound.';
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
    VALUES (role, tenant_id, partner_id, session_user)
    ON CONFLICT ON CONSTRAINT access_binding_pkey DO UPDATE
        SET tenant_id = excluded.tenant_id, partner_id = excluded.partner_id,
            granted_by = excluded.granted_by, granted_at = pg_catalog.now();
    PERFORM @extschema@.drop_group_memberships(target.oid);
    EXECUTE pg_catalog.format('GRANT %I TO %I', group_role, target.rolname);
END
$$;

-- Group admins revoke any binding; a tenant's manager only its own tenant's
-- partner users.  Anything else, an unbound role included, is refused the
-- same way.  The binding's end is kept in access_binding_history.
CREATE OR REPLACE FUNCTION @extschema@.revoke_access(role regrole) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting  name := @extschema@.acting_role();
    bound   @extschema@.access_binding%ROWTYPE;
    allowed boolean;
BEGIN
    SELECT * INTO bound FROM @extschema@.access_binding b WHERE b.role = revoke_access.role;
    allowed := @extschema@.role_is_admin(acting)
               OR coalesce(bound.partner_id IS NOT NULL
                           AND @extschema@.manages_tenant(acting, bound.tenant_id)
                           AND NOT pg_catalog.pg_has_role(role::oid, 'rebate_manager', 'MEMBER')
                           AND NOT @extschema@.role_is_admin((SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = role::oid)), false);
    IF NOT allowed THEN
        RAISE EXCEPTION 'permission denied to revoke access of role %', role
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Group administrators revoke any binding; a tenant''s managers revoke the partner users of their own tenant.';
    END IF;
    IF bound.role IS NULL THEN
        RETURN;
    END IF;
    DELETE FROM @extschema@.access_binding b WHERE b.role = revoke_access.role;
    PERFORM @extschema@.drop_group_memberships(role);
END
$$;

-- ---- BEFORE triggers that read as the owner: judge the writer first --------

-- The parent is read only inside the row's tenant, and only for a writer who
-- may manage that tenant: for anyone else the row is left to row-level
-- security, so the cycle error never prints another tenant's path.
CREATE OR REPLACE FUNCTION @extschema@.maintain_tree_path() RETURNS trigger
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
        IF NOT @extschema@.may_manage(@extschema@.acting_role(), NEW.tenant_id) THEN
            RETURN NEW;                 -- row-level security refuses the row
        END IF;
        EXECUTE format('SELECT path FROM %I.%I WHERE id = $1 AND tenant_id = $2', TG_TABLE_SCHEMA, TG_TABLE_NAME)
            INTO parent_path USING NEW.parent_id, NEW.tenant_id;
        IF parent_path IS NULL THEN
            RETURN NEW;                 -- no such parent in the tenant: the foreign key reports it
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
        EXECUTE format('UPDATE %I.%I SET parent_id = parent_id WHERE parent_id = $1 AND tenant_id = $2',
                       TG_TABLE_SCHEMA, TG_TABLE_NAME)
            USING NEW.id, NEW.tenant_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.partner_name_key() RETURNS trigger
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
    -- name the existing partner only to those who manage the tenant; anyone
    -- else is refused by row-level security before the unique index is reached
    IF NOT @extschema@.may_manage(@extschema@.acting_role(), NEW.tenant_id) THEN
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

-- The order's partner and the product's cost are read only for a writer who
-- sees the row's tenant: for anyone else the row is left to row-level
-- security untouched.
CREATE OR REPLACE FUNCTION @extschema@.fill_order_line() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'order_line' THEN
        RAISE EXCEPTION 'fill_order_line only serves rebate.order_line' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT @extschema@.sees_tenant(@extschema@.acting_role(), NEW.tenant_id) THEN
        RETURN NEW;                     -- row-level security refuses the row
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

-- The payment is read only inside the row's tenant and only for a writer who
-- may manage it; another tenant's payment id is left to the foreign key,
-- exactly like an id that does not exist.
CREATE OR REPLACE FUNCTION @extschema@.check_payment_allocation() RETURNS trigger
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
    IF NOT @extschema@.may_manage(@extschema@.acting_role(), NEW.tenant_id) THEN
        RETURN NEW;                     -- row-level security refuses the row
    END IF;
    -- lock the payment so that concurrent allocations are checked one after the other
    SELECT p.amount INTO paid FROM @extschema@.payment p
     WHERE p.id = NEW.payment_id AND p.tenant_id = NEW.tenant_id AND p.partner_id = NEW.partner_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NEW;                     -- the foreign key reports it
    END IF;
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
            RAISE EXCEPTION 'column "%" of table "%" is set by the server', forged, TG_TABLE_NAME
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

CREATE TRIGGER attest BEFORE INSERT OR UPDATE ON @extschema@.statement
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_attestation(
        'status', 'insert:closed_by:closed_at', 'issued:issued_by:issued_at',
        'confirmed|disputed:answered_by:answered_at', 'resolved:resolved_by:resolved_at', 'paid:paid_by:paid_at');
CREATE TRIGGER attest BEFORE INSERT OR UPDATE ON @extschema@.statement_adjustment
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_attestation('', 'insert:created_by:created_at');
CREATE TRIGGER attest BEFORE INSERT OR UPDATE ON @extschema@.program_version
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_attestation(
        'status', 'insert:created_by:created_at', 'active::activated_at');
CREATE TRIGGER attest BEFORE INSERT OR UPDATE ON @extschema@.policy_violation
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_attestation(
        'status', 'insert:detected_by:detected_at', 'approved|rejected:resolved_by:resolved_at');

REVOKE ALL ON FUNCTION @extschema@.record_binding_change() FROM PUBLIC;

-- A SECURITY DEFINER trigger function serves the extension's own tables, whose
-- triggers the install made: nobody may attach one to a table of its own
-- (EXECUTE is checked when a trigger is created, not when it fires).  Each
-- also refuses other tables before it touches the row, but a user's type in
-- the row could run the user's code (a cast) with the owner's rights.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = '@extschema@'::regnamespace AND p.prosecdef
                AND p.prorettype = 'pg_catalog.trigger'::regtype LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

-- ---- issued statements: a document the partner holds -----------------------

-- Drafts are written (and rewritten) by close_period.  An issued statement
-- changes only by a status step, and each step writes only its own columns
-- (the attestation columns are stamped by the attest trigger); its lines
-- never change, and no line moves into or out of it.
CREATE OR REPLACE FUNCTION @extschema@.guard_statement() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    step_columns text[];
    frozen       text;
    lines        bigint;
    lines_total  numeric;
    st           @extschema@.statement;
BEGIN
    IF TG_TABLE_NAME = 'statement' THEN
        IF TG_OP = 'INSERT' THEN
            IF NEW.status <> 'draft' THEN
                RAISE EXCEPTION 'a statement starts as a draft'
                    USING ERRCODE = 'invalid_parameter_value', HINT = 'rebate.close_period writes statements.';
            END IF;
            -- the changes a later close rechecks start from here: never from a transaction to come
            IF NEW.closed_xmin > pg_catalog.txid_snapshot_xmin(pg_catalog.txid_current_snapshot()) THEN
                RAISE EXCEPTION 'column "closed_xmin" of a statement is set by rebate.close_period'
                    USING ERRCODE = 'insufficient_privilege',
                          DETAIL = 'It may not lie past the transactions the closing snapshot saw.',
                          HINT = 'Leave it out of INSERT.';
            END IF;
            RETURN NEW;
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.closed_xmin IS DISTINCT FROM OLD.closed_xmin THEN
            RAISE EXCEPTION 'column "closed_xmin" of statement % is set by rebate.close_period', OLD.id
                USING ERRCODE = 'insufficient_privilege', HINT = 'Leave it out of UPDATE.';
        END IF;
        IF OLD.status = 'draft' AND TG_OP = 'UPDATE' AND NEW.status <> 'draft' THEN
            -- what is issued is what its lines add up to
            SELECT count(*), coalesce(sum(l.net), 0) INTO lines, lines_total
              FROM @extschema@.statement_line l WHERE l.statement_id = OLD.id;
            IF (NEW.line_count, NEW.total) IS DISTINCT FROM (lines, lines_total) THEN
                RAISE EXCEPTION 'statement % does not add up to its lines', OLD.id
                    USING ERRCODE = 'RB061',
                          DETAIL = pg_catalog.format('It says %s line(s) totalling %s; its lines are %s, totalling %s.',
                                                     NEW.line_count, NEW.total, lines, lines_total),
                          HINT = 'Close the period again (rebate.close_period) to recompute the draft.';
            END IF;
        END IF;
        IF OLD.status = 'draft' THEN
            RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
        END IF;
        step_columns := ARRAY['status', 'updated_at', 'issued_at', 'issued_by', 'answered_at', 'answered_by',
                              'resolved_at', 'resolved_by', 'paid_at', 'paid_by']
                        || CASE WHEN TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN
                                CASE NEW.status WHEN 'disputed' THEN ARRAY['dispute_reason']
                                                WHEN 'resolved' THEN ARRAY['resolution_note']
                                                WHEN 'paid' THEN ARRAY['payment_reference'] END END;
        IF TG_OP = 'UPDATE' THEN
            SELECT n.key INTO frozen FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(NEW) - step_columns) n
             WHERE n.value IS DISTINCT FROM pg_catalog.to_jsonb(OLD) -> n.key
             ORDER BY n.key LIMIT 1;
        END IF;
        IF TG_OP = 'DELETE' OR frozen IS NOT NULL THEN
            RAISE EXCEPTION 'statement % is % and cannot change', OLD.id, OLD.status
                USING ERRCODE = 'RB061',
                      DETAIL = CASE WHEN frozen IS NOT NULL
                                    THEN pg_catalog.format('Column "%s" was to change; an issued statement is a document the partner holds.', frozen)
                                    ELSE 'An issued statement is a document the partner holds.' END,
                      HINT = 'Later changes are settled as adjustment lines on the next statement.';
        END IF;
        RETURN NEW;
    END IF;
    -- statement_line: the statement it leaves and the one it joins must be drafts
    FOR st IN SELECT * FROM @extschema@.statement s
               WHERE s.id IN (CASE WHEN TG_OP <> 'INSERT' THEN OLD.statement_id END,
                              CASE WHEN TG_OP <> 'DELETE' THEN NEW.statement_id END)
                 AND s.status <> 'draft'
               ORDER BY s.id LIMIT 1 LOOP
        RAISE EXCEPTION 'statement % is % and its lines cannot change', st.id, st.status
            USING ERRCODE = 'RB061',
                  HINT = 'Later changes are settled as adjustment lines on the next statement.';
    END LOOP;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- ---- uniqueness inside a tenant ----------------------------------------------

-- A unique or exclusion constraint without tenant_id answers, for another
-- tenant's ids, before the foreign key does: 23505 / 23P01 instead of 23503
-- tells that the row exists (and, bisected, its dates or counts).  With
-- tenant_id in every one, another tenant's id meets the foreign key, exactly
-- like an id that does not exist.
ALTER TABLE @extschema@.partner_territory
    DROP CONSTRAINT partner_territory_int8range_int8range1_valid_excl,
    ADD CONSTRAINT partner_territory_no_overlap EXCLUDE USING gist (
        int8range(tenant_id, tenant_id, '[]') WITH =, int8range(partner_id, partner_id, '[]') WITH =,
        int8range(region_id, region_id, '[]') WITH =, valid WITH &&);
ALTER TABLE @extschema@.program_version
    DROP CONSTRAINT program_version_program_id_version_key,
    ADD CONSTRAINT program_version_version_key UNIQUE (tenant_id, program_id, version),
    DROP CONSTRAINT program_version_no_overlap,
    ADD CONSTRAINT program_version_no_overlap EXCLUDE USING gist (
        int8range(tenant_id, tenant_id, '[]') WITH =, int8range(program_id, program_id, '[]') WITH =,
        effective WITH &&) WHERE (status = 'active');
ALTER TABLE @extschema@.statement_line
    DROP CONSTRAINT statement_line_statement_id_line_no_key,
    ADD CONSTRAINT statement_line_line_no_key UNIQUE (tenant_id, statement_id, line_no),
    DROP CONSTRAINT statement_line_adjustment_id_key,
    ADD CONSTRAINT statement_line_adjustment_key UNIQUE (tenant_id, adjustment_id);

-- ---- ids are the server's ----------------------------------------------------

-- Ids come from one sequence per table, shared by the tenants: a role that
-- chose its own ids could take the next ones of another tenant (whose inserts
-- would then fail) or probe which exist.  Nobody but the owner writes an id;
-- every other column keeps the privileges it had.  A partner user registers
-- an end customer as of today, never backdated (registered_on counts for the
-- new_customers metric).
DO $$
DECLARE
    grant_row record;
BEGIN
    FOR grant_row IN
        SELECT c.oid::regclass AS tbl, a.grantee::regrole AS grantee, a.privilege_type,
               (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(att.attname), ', ' ORDER BY att.attnum)
                  FROM pg_catalog.pg_attribute att
                 WHERE att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
                   AND att.attname <> 'id'
                   AND NOT (c.oid = '@extschema@.end_customer'::regclass AND att.attname = 'registered_on'
                            AND a.grantee = 'rebate_partner'::regrole)) AS columns
          FROM pg_catalog.pg_class c
          CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
         WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind = 'r'
           AND a.privilege_type IN ('INSERT', 'UPDATE')
           AND a.grantee IN ('rebate_admin'::regrole, 'rebate_manager'::regrole, 'rebate_partner'::regrole)
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute att
                        WHERE att.attrelid = c.oid AND att.attname = 'id' AND att.attidentity <> '')
         ORDER BY 1, 2, 3
    LOOP
        EXECUTE pg_catalog.format('REVOKE %s ON %s FROM %s', grant_row.privilege_type, grant_row.tbl, grant_row.grantee);
        EXECUTE pg_catalog.format('GRANT %s (%s) ON %s TO %s', grant_row.privilege_type, grant_row.columns,
                                  grant_row.tbl, grant_row.grantee);
    END LOOP;
END
$$;

-- A revision is a new row with an id of its own (it took the base's id
-- column from the sequence, which only the owner may call).
CREATE OR REPLACE FUNCTION @extschema@.revise_program(program_id bigint, changes jsonb, effective_from date DEFAULT NULL,
                                                      note text DEFAULT NULL)
    RETURNS @extschema@.program_version
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    base    @extschema@.program_version;
    fresh   @extschema@.program_version;
    unknown text;
    columns text;
BEGIN
    SELECT * INTO base FROM @extschema@.program_version pv
     WHERE pv.program_id = revise_program.program_id ORDER BY pv.version DESC LIMIT 1;
    IF base.id IS NULL THEN
        RAISE EXCEPTION 'program % has no version to revise', program_id USING ERRCODE = 'no_data_found',
              HINT = 'Insert its first version into rebate.program_version.';
    END IF;
    SELECT k INTO unknown FROM pg_catalog.jsonb_object_keys(coalesce(changes, '{}')) AS k
     WHERE k IN ('id', 'tenant_id', 'program_id', 'version', 'status', 'created_by', 'activated_at', 'created_at', 'updated_at')
        OR k NOT IN (SELECT a.attname FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid = '@extschema@.program_version'::regclass AND a.attnum > 0 AND NOT a.attisdropped)
     LIMIT 1;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'a revision cannot set "%"', unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Change the definition columns of rebate.program_version (metric, kind, schedule, scope, ...).';
    END IF;
    fresh := pg_catalog.jsonb_populate_record(base, coalesce(changes, '{}'));
    fresh.note := note;
    IF effective_from IS NOT NULL THEN
        fresh.effective := pg_catalog.daterange(effective_from, upper(fresh.effective));
    END IF;
    -- the definition columns; id, version, status and the stamps start afresh
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = '@extschema@.program_version'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname NOT IN ('id', 'version', 'status', 'created_by', 'activated_at', 'created_at', 'updated_at');
    EXECUTE pg_catalog.format('INSERT INTO @extschema@.program_version (%1$s) SELECT %1$s FROM pg_catalog.jsonb_populate_record(NULL::@extschema@.program_version, $1) RETURNING *', columns)
       INTO fresh USING pg_catalog.to_jsonb(fresh);
    RETURN fresh;
END
$$;

REVOKE ALL ON FUNCTION @extschema@.verify_period(bigint, daterange) FROM PUBLIC;

-- ---- locks: never on another tenant's rows, nor on a key anyone can take ----

-- A violation is judged before it is locked.
CREATE OR REPLACE FUNCTION @extschema@.resolve_violation(violation_id bigint, decision text, note text DEFAULT NULL)
    RETURNS @extschema@.policy_violation
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting     name := @extschema@.acting_role();
    v          @extschema@.policy_violation;
    held_from  text;
    order_status text;
    line_level boolean;
BEGIN
    IF decision IS NULL OR decision NOT IN ('approve', 'reject') THEN
        RAISE EXCEPTION 'invalid decision "%"', decision
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Decide "approve" or "reject".';
    END IF;
    -- judged before it is locked: another tenant's violation is neither read nor locked
    SELECT * INTO v FROM @extschema@.policy_violation pv
     WHERE pv.id = violation_id AND @extschema@.may_manage(acting, pv.tenant_id) FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'violation % does not exist or is not yours to resolve', violation_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'Managers of the violation''s tenant (rebate_manager) and group administrators resolve violations.';
    END IF;
    IF v.status <> 'open' THEN
        RAISE EXCEPTION 'violation % was already resolved', violation_id
            USING ERRCODE = 'RB050',
                  DETAIL = pg_catalog.format('It was %s by %s at %s.', v.status, v.resolved_by, v.resolved_at);
    END IF;
    UPDATE @extschema@.policy_violation pv
       SET status = CASE decision WHEN 'approve' THEN 'approved' ELSE 'rejected' END,
           resolved_at = pg_catalog.now(), resolved_by = acting, resolution_note = note
     WHERE pv.id = violation_id
    RETURNING * INTO v;

    IF v.order_id IS NULL OR v.source_table NOT IN ('@extschema@.order_line'::regclass, '@extschema@.sales_order'::regclass) THEN
        RETURN v;                       -- an application's own table: recorded, nothing to release or cancel
    END IF;
    line_level := v.kind IN ('price_floor', 'price_ceiling', 'no_price_policy', 'product_region')
                  AND v.source_table = '@extschema@.order_line'::regclass;
    IF decision = 'reject' AND NOT line_level THEN
        UPDATE @extschema@.policy_violation pv
           SET status = 'rejected', resolved_at = pg_catalog.now(), resolved_by = acting,
               resolution_note = pg_catalog.format('order cancelled with violation %s', violation_id)
         WHERE pv.order_id = v.order_id AND pv.status = 'open';
        PERFORM @extschema@.set_order_status(v.order_id, 'cancelled',
                                             pg_catalog.format('violation %s rejected: %s', violation_id, note));
        RETURN v;
    END IF;
    IF decision = 'reject' THEN
        DELETE FROM @extschema@.order_line l WHERE l.id = v.source_id AND l.order_id = v.order_id;
    END IF;
    -- release the order once nothing else holds it
    SELECT o.status INTO order_status FROM @extschema@.sales_order o WHERE o.id = v.order_id;
    IF order_status = 'on_hold' AND NOT EXISTS (SELECT 1 FROM @extschema@.policy_violation pv
                                                 WHERE pv.order_id = v.order_id AND pv.status = 'open') THEN
        SELECT h.from_status INTO held_from FROM @extschema@.order_status_history h
         WHERE h.order_id = v.order_id AND h.to_status = 'on_hold'
         ORDER BY h.changed_at DESC, h.id DESC LIMIT 1;
        PERFORM @extschema@.set_order_status(v.order_id,
                                             CASE WHEN held_from = 'approved' THEN 'approved' ELSE 'submitted' END,
                                             pg_catalog.format('violation %s %s: %s', violation_id, v.status, note));
    END IF;
    RETURN v;
END
$$;

-- One close per tenant at a time, serialised on the tenant's settings row.
CREATE OR REPLACE FUNCTION @extschema@.close_period(tenant_id bigint, period daterange)
    RETURNS TABLE (currency text, statements integer, lines integer, total numeric, kept integer, rechecked integer)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    -- its queries run once over large data with pessimistic estimates: JIT compiling them costs more than it saves
    SET jit = off
AS $$
DECLARE
    t        @extschema@.tenant;
    blocking @extschema@.statement;
    results  @extschema@.program_result[] := '{}';
    kept_ids bigint[];
    -- every transaction below this has ended: all later snapshots see what it wrote
    horizon  bigint := pg_catalog.txid_snapshot_xmin(pg_catalog.txid_current_snapshot());
    changed  date;
BEGIN
    -- only READ COMMITTED sees, once the close's lock is granted, what a close of
    -- the tenant it waited for committed
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'rebate.close_period runs in READ COMMITTED transactions only'
            USING ERRCODE = 'invalid_transaction_state',
                  DETAIL = pg_catalog.format('This transaction is %s: it would settle on a snapshot taken before a concurrent close of the tenant committed, and pay again what that close settled.',
                                             pg_catalog.upper(pg_catalog.current_setting('transaction_isolation'))),
                  HINT = 'Close in a READ COMMITTED transaction (the default).';
    END IF;
    SELECT * INTO t FROM @extschema@.tenant x WHERE x.id = close_period.tenant_id;
    IF t.id IS NULL THEN
        RAISE EXCEPTION 'tenant % does not exist or is not visible to you', tenant_id USING ERRCODE = 'no_data_found';
    END IF;
    IF period IS NULL OR isempty(period) OR lower_inf(period) OR upper_inf(period) THEN
        RAISE EXCEPTION 'the period to close must have a first and a last day'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = pg_catalog.format('The period given is %s.', period),
                  HINT = 'Give a range such as ''[2026-10-01,2027-01-01)''.';
    END IF;
    -- one close per tenant at a time: on the tenant's settings row, which only its
    -- managers and the admins may lock (an advisory lock's key anyone can take,
    -- to hold a tenant's close up or to watch for it)
    PERFORM 1 FROM @extschema@.enforcement_setting es WHERE es.tenant_id = t.id FOR NO KEY UPDATE;

    -- statements are settled in order: no draft of another period pending, nothing later closed
    SELECT * INTO blocking FROM @extschema@.statement s
     WHERE s.tenant_id = t.id
       AND ((s.status = 'draft' AND s.period <> close_period.period)
            OR (s.status <> 'draft' AND upper(s.period) > upper(close_period.period)))
     ORDER BY s.status = 'draft' DESC, upper(s.period) DESC LIMIT 1;
    IF blocking.id IS NOT NULL THEN
        RAISE EXCEPTION 'period % cannot be closed while period % has % statements', period, blocking.period,
                        CASE WHEN blocking.status = 'draft' THEN 'draft' ELSE 'issued' END
            USING ERRCODE = 'RB062',
                  DETAIL = CASE WHEN blocking.status = 'draft'
                                THEN 'What a statement settles depends on what the statements before it settled.'
                                ELSE 'A later period is already settled.' END,
                  HINT = CASE WHEN blocking.status = 'draft'
                              THEN pg_catalog.format('Issue the statements of %s (rebate.issue_statements), or close %s again.',
                                                     blocking.period, blocking.period)
                              ELSE 'Changes to earlier periods are settled as adjustments when the next period is closed.' END;
    END IF;

    -- closing again recomputes drafts; issued statements stay as they are
    DELETE FROM @extschema@.statement s
     WHERE s.tenant_id = t.id AND s.period = close_period.period AND s.status = 'draft';
    SELECT coalesce(pg_catalog.array_agg(s.partner_id), '{}') INTO kept_ids FROM @extschema@.statement s
     WHERE s.tenant_id = t.id AND s.period = close_period.period;

    -- scratch tables of this close, made afresh and dropped at its end.  Tables of
    -- those names this role did not make are never used: in a session shared by
    -- several users, another user's table (with a trigger on it) would run that
    -- user's code with this manager's rights.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                WHERE c.relnamespace = pg_catalog.pg_my_temp_schema()
                  AND c.relname IN ('rebate_closing_job', 'rebate_closing_line')
                  AND c.relowner <> (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)) THEN
        RAISE EXCEPTION 'temporary tables named rebate_closing_job or rebate_closing_line belong to another role'
            USING ERRCODE = 'duplicate_table',
                  DETAIL = 'rebate.close_period works in tables of those names that it makes itself.',
                  HINT = 'Close in a session that no other user shares (connection pools reset sessions between users with DISCARD ALL).';
    END IF;
    IF pg_catalog.to_regclass('pg_temp.rebate_closing_job') IS NOT NULL THEN
        DROP TABLE rebate_closing_job;          -- left by a close of this role that failed in a subtransaction
    END IF;
    IF pg_catalog.to_regclass('pg_temp.rebate_closing_line') IS NOT NULL THEN
        DROP TABLE rebate_closing_line;
    END IF;
    CREATE TEMP TABLE rebate_closing_job (version_id bigint, program_period daterange, as_of date, job text)
        ON COMMIT DROP;
    CREATE TEMP TABLE rebate_closing_line ON COMMIT DROP AS
        SELECT * FROM @extschema@.statement_line WITH NO DATA;
    INSERT INTO rebate_closing_job SELECT * FROM @extschema@.closing_jobs(t.id, period);
    -- program periods settled before and not settled again here are recomputed for adjustments
    -- where documents changed since the last close can count in them
    changed := @extschema@.changed_since(t.id, (SELECT s.closed_xmin FROM @extschema@.statement s
                                                 WHERE s.tenant_id = t.id AND s.status <> 'draft'
                                                 ORDER BY s.closed_at DESC LIMIT 1));
    INSERT INTO rebate_closing_job
    SELECT DISTINCT ON (so.version_id, so.program_period)
           so.version_id, so.program_period,
           least(upper(so.program_period), upper(close_period.period)) - 1, 'adjustment'
      FROM @extschema@.settled_so_far(t.id) so
      JOIN @extschema@.program_version pv ON pv.id = so.version_id
     WHERE upper(so.program_period) + pv.grace_days > changed
       AND NOT EXISTS (SELECT 1 FROM rebate_closing_job j
                        WHERE j.version_id = so.version_id AND j.program_period = so.program_period);

    -- one statement: every result from one snapshot
    results := ARRAY(SELECT r FROM rebate_closing_job j
                       JOIN @extschema@.program_version pv ON pv.id = j.version_id
                      CROSS JOIN LATERAL @extschema@.program_results(pv, j.program_period, j.as_of) r
                      WHERE r.partner_id <> ALL (kept_ids));

    INSERT INTO rebate_closing_line (partner_id, line_no, line_kind, program_id, version_id, version, component,
                                     program_period, counted_until, metric, kind, basis, comparison, tier, rate,
                                     documents, earned, cap_applied, rebate, stacking, paid, gross, already_settled,
                                     net, settlement, status, explanation, tenant_id, statement_id)
    SELECT r.partner_id, 0,
           CASE WHEN j.job = 'final' AND coalesce(so.has_final, false) THEN 'adjustment' ELSE j.job END,
           r.program_id, r.version_id, r.version, r.component, r.period, r.counted_until, r.metric, r.kind,
           r.basis, r.comparison, r.tier, r.rate, r.documents, r.earned, r.cap_applied, r.rebate, r.stacking, r.paid,
           g.gross, coalesce(so.settled, g.zero), g.gross - coalesce(so.settled, 0), pv.settlement, r.status,
           r.explanation, t.id, 0
      FROM @extschema@.apply_stacking(results) r
      JOIN rebate_closing_job j ON j.version_id = r.version_id AND j.program_period = r.period
      JOIN @extschema@.program_version pv ON pv.id = r.version_id
      LEFT JOIN @extschema@.settled_so_far(t.id) so
             ON so.partner_id = r.partner_id AND so.program_id = r.program_id AND so.component = r.component
            AND so.program_period = r.period
     CROSS JOIN LATERAL (SELECT @extschema@.round_money(r.paid, pv.currency, t.rounding) AS gross,
                               @extschema@.round_money(0, pv.currency) AS zero) g
     WHERE j.job IN ('final', 'interim') AND NOT coalesce(so.has_final, false)
        OR g.gross <> coalesce(so.settled, 0);
    -- amounts agreed on resolving disputes, not yet on a statement
    INSERT INTO rebate_closing_line (partner_id, line_no, line_kind, program_period, gross, already_settled, net,
                                     status, explanation, adjustment_id, tenant_id, statement_id, settlement)
    SELECT a.partner_id, 0, 'manual', ds.period, a.amount, @extschema@.round_money(0, a.currency), a.amount, 'ok',
           pg_catalog.format('agreed on resolving the dispute of statement %s (%s): %s', ds.id, ds.period, a.note),
           a.id, t.id, 0, NULL
      FROM @extschema@.statement_adjustment a
      JOIN @extschema@.statement ds ON ds.id = a.statement_id
     WHERE a.tenant_id = t.id AND a.partner_id <> ALL (kept_ids)
       AND NOT EXISTS (SELECT 1 FROM @extschema@.statement_line l WHERE l.adjustment_id = a.id);

    INSERT INTO @extschema@.statement (tenant_id, partner_id, period, currency, total, line_count, closed_xmin)
    SELECT t.id, c.partner_id, period, coalesce(pv.currency, a.currency), sum(c.net), count(*), horizon
      FROM rebate_closing_line c
      LEFT JOIN @extschema@.program_version pv ON pv.id = c.version_id
      LEFT JOIN @extschema@.statement_adjustment a ON a.id = c.adjustment_id
     GROUP BY c.partner_id, coalesce(pv.currency, a.currency);

    INSERT INTO @extschema@.statement_line
          (tenant_id, statement_id, partner_id, line_no, line_kind, program_id, version_id, version, component,
           program_period, counted_until, metric, kind, basis, comparison, tier, rate, documents, earned, cap_applied,
           rebate, stacking, paid, gross, already_settled, net, settlement, status, explanation, adjustment_id)
    SELECT t.id, s.id, c.partner_id,
           pg_catalog.row_number() OVER (PARTITION BY s.id
                                         ORDER BY CASE c.line_kind WHEN 'final' THEN 1 WHEN 'interim' THEN 2
                                                                   WHEN 'adjustment' THEN 3 ELSE 4 END,
                                                  p.code, c.component DESC, c.program_period, c.adjustment_id),
           c.line_kind, c.program_id, c.version_id, c.version, c.component, c.program_period, c.counted_until,
           c.metric, c.kind, c.basis, c.comparison, c.tier, c.rate, c.documents, c.earned, c.cap_applied, c.rebate,
           c.stacking, c.paid, c.gross, c.already_settled, c.net, c.settlement, c.status, c.explanation,
           c.adjustment_id
      FROM rebate_closing_line c
      LEFT JOIN @extschema@.program p ON p.id = c.program_id
      LEFT JOIN @extschema@.program_version pv ON pv.id = c.version_id
      LEFT JOIN @extschema@.statement_adjustment a ON a.id = c.adjustment_id
      JOIN @extschema@.statement s ON s.tenant_id = t.id AND s.partner_id = c.partner_id AND s.period = close_period.period
                                  AND s.currency = coalesce(pv.currency, a.currency) AND s.status = 'draft';

    RETURN QUERY
    SELECT s.currency, (count(*) FILTER (WHERE s.status = 'draft'))::integer,
           (sum(s.line_count) FILTER (WHERE s.status = 'draft'))::integer,
           sum(s.total) FILTER (WHERE s.status = 'draft'),
           (count(*) FILTER (WHERE s.status <> 'draft'))::integer,
           (SELECT count(*) FROM rebate_closing_job j WHERE j.job = 'adjustment')::integer
      FROM @extschema@.statement s
     WHERE s.tenant_id = t.id AND s.period = close_period.period
     GROUP BY s.currency ORDER BY s.currency;
    DROP TABLE rebate_closing_job, rebate_closing_line;
END
$$;

-- ---- names resolved under the caller's search_path ------------------------------

-- These two are inlined into their callers (a SET clause would prevent it), so
-- they are planned under the caller's search_path, where a user's temporary
-- type could stand in for an unqualified type name: every type is qualified.
CREATE OR REPLACE FUNCTION @extschema@.order_counts(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT status OPERATOR(pg_catalog.=) ANY ('{approved,shipped,delivered,closed}'::pg_catalog.text[])
$$;

CREATE OR REPLACE FUNCTION @extschema@.program_scope_lines(v @extschema@.program_version, from_day date, to_day date)
    RETURNS TABLE (partner_id bigint, line_id bigint, product_id bigint, quantity numeric, amount numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT o.partner_id, l.id, l.product_id,
           counted.goods * l.quantity,
           CASE o.kind WHEN 'order' THEN l.amount ELSE -l.amount END
      FROM @extschema@.sales_order o
      JOIN @extschema@.order_line l ON l.order_id = o.id AND l.tenant_id = o.tenant_id
      LEFT JOIN @extschema@.sales_order orig ON orig.id = o.original_order_id AND orig.tenant_id = o.tenant_id
      -- the day the document counts on (less the grace days), and which way goods move
     CROSS JOIN LATERAL (
        SELECT CASE WHEN o.kind <> 'order' AND orig.id IS NULL THEN o.order_date
                    WHEN v.date_basis = 'order' THEN coalesce(orig.order_date, o.order_date)
                    WHEN v.date_basis = 'delivery' THEN coalesce(orig.delivered_on, o.delivered_on)
                    ELSE @extschema@.order_paid_on(coalesce(orig.id, o.id))
               END - v.grace_days AS day,
               CASE o.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END AS goods) counted
     WHERE v.metric NOT IN ('collected', 'new_customers')
       AND o.tenant_id = v.tenant_id
       -- by order date no document counts before its own date (the index skips earlier orders), and
       -- an order counts on its own date (returns and credit notes may come later than the window)
       AND o.order_date >= CASE WHEN v.date_basis = 'order' THEN from_day + v.grace_days ELSE '-infinity'::pg_catalog.date END
       AND (o.kind <> 'order' OR o.order_date < CASE WHEN v.date_basis = 'order' THEN to_day + v.grace_days
                                                     ELSE 'infinity'::pg_catalog.date END)
       AND (v.partner_ids = '{}' OR o.partner_id = ANY (v.partner_ids))
       -- the scope is looked up only where the version has one (OR stops at an empty list)
       AND (v.grade_ids = '{}' OR EXISTS (SELECT 1 FROM @extschema@.partner pa
                                           WHERE pa.id = o.partner_id AND pa.grade_id = ANY (v.grade_ids)))
       AND o.currency = v.currency
       AND @extschema@.order_counts(o.status)
       AND (o.kind = 'order' OR v.returns_reduce)
       AND (orig.id IS NULL OR @extschema@.order_counts(orig.status))
       AND (v.region_ids = '{}' OR EXISTS (SELECT 1 FROM @extschema@.region r
                                            WHERE r.id = o.ship_to_region_id AND r.path && v.region_ids))
       AND (v.product_ids = '{}' OR l.product_id = ANY (v.product_ids))
       AND (v.category_ids = '{}' OR EXISTS (SELECT 1 FROM @extschema@.product pr
                                               JOIN @extschema@.product_category pc ON pc.id = pr.category_id
                                              WHERE pr.id = l.product_id AND pc.path && v.category_ids))
       AND counted.day >= from_day AND counted.day < to_day
$$;

-- ---- the audit log: each tenant sees its own values only ---------------------
CREATE OR REPLACE FUNCTION @extschema@.audit_row() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_json jsonb;
    new_json jsonb;
    row_json jsonb;
    tenant_key text := CASE WHEN TG_TABLE_NAME = 'tenant' THEN 'id' ELSE 'tenant_id' END;
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
    -- a row an admin moves to another tenant leaves the one (a delete there) and
    -- arrives in the other (an insert): each tenant's log shows only its own
    -- values, and settlement sees the change on both sides
    IF TG_OP = 'UPDATE' AND (old_json ->> tenant_key) IS DISTINCT FROM (new_json ->> tenant_key) THEN
        INSERT INTO @extschema@.audit_log
            (tenant_id, table_name, row_id, operation, old_row, new_row, changed_columns, session_role, acting_role)
        VALUES ((old_json ->> tenant_key)::bigint, TG_TABLE_NAME, (old_json ->> 'id')::bigint, 'DELETE', old_json, NULL,
                NULL, session_user, @extschema@.acting_role()),
               ((new_json ->> tenant_key)::bigint, TG_TABLE_NAME, (new_json ->> 'id')::bigint, 'INSERT', NULL, new_json,
                NULL, session_user, @extschema@.acting_role());
        RETURN NULL;
    END IF;
    INSERT INTO @extschema@.audit_log
        (tenant_id, table_name, row_id, operation, old_row, new_row, changed_columns, session_role, acting_role)
    VALUES ((row_json ->> tenant_key)::bigint,
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

-- ---- programs: a partner user reads the terms that are its own -------------------

-- A version scoped to named partners is their terms: a sibling dealer does
-- not read which partners get special terms, nor what (a distributor reads
-- those of the partners below it).
CREATE POLICY partner_reads_own_terms ON @extschema@.program_version AS RESTRICTIVE FOR SELECT
    USING ((SELECT @extschema@.current_partner_id()) IS NULL OR partner_ids = '{}'
           OR partner_ids && (SELECT @extschema@.visible_partner_ids()));

-- A partner user sees a program only when it sees one of its versions.
CREATE POLICY partner_reads_own_programs ON @extschema@.program AS RESTRICTIVE FOR SELECT
    USING ((SELECT @extschema@.current_partner_id()) IS NULL
           OR EXISTS (SELECT 1 FROM @extschema@.program_version v WHERE v.program_id = program.id));

-- ---- orders a partner user places are dated by the server ---------------------

-- The day an order counts in decides its period (and, once the period is
-- settled, whether it is paid as an adjustment): partner users do not choose
-- it, as they do not choose when they registered a customer.
REVOKE INSERT (order_date), UPDATE (order_date) ON @extschema@.sales_order FROM rebate_partner;

-- A draft a partner user submits is dated the day it is submitted: an empty
-- draft opened before a period closed and filled after would otherwise date a
-- sale into the settled period.
CREATE FUNCTION @extschema@.date_partner_submission() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.status = 'draft' AND NEW.status <> 'draft' AND @extschema@.current_partner_id() IS NOT NULL THEN
        NEW.order_date := CURRENT_DATE;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.date_partner_submission() IS
    'BEFORE UPDATE trigger on sales_order: a draft a partner user submits is dated the day it is submitted';
-- (before the policy trigger, which judges the territory on the order's date)
CREATE TRIGGER date_submission BEFORE UPDATE OF status ON @extschema@.sales_order
    FOR EACH ROW EXECUTE FUNCTION @extschema@.date_partner_submission();

