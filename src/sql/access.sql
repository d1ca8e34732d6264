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
--
-- Every authorisation check goes through role_is_admin, manages_tenant and
-- may_manage, which answer strictly true or false: deny by default, never
-- NULL (IF NOT NULL does not raise).  A role has a tenant only through a
-- binding of its own: the group roles are never bound, so a role acting
-- through one (SET ROLE rebate_manager) has none.  BEFORE triggers that read
-- as the owner judge the writer first and read only inside the row's tenant,
-- so that no error quotes a row the writer cannot see.  docs/security.md.
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
-- that caller only; SECURITY DEFINER callers use it for the acting role.  The
-- rebate group roles never have one (even if a row named them), so that
-- acting through a group role gives no tenant.  (PL/pgSQL: the table is
-- created later in the script.)
CREATE FUNCTION @extschema@.binding_of(role_name name, OUT tenant_id bigint, OUT partner_id bigint)
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
COMMENT ON FUNCTION @extschema@.binding_of(name) IS
    'The tenant and partner a role is bound to (NULLs if none); a role may look up only its own binding';

CREATE FUNCTION @extschema@.role_is_admin(role_name name) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.pg_has_role(role_name, 'rebate_admin', 'MEMBER'), false)
$$;
COMMENT ON FUNCTION @extschema@.role_is_admin(name) IS
    'Whether a role is a group administrator (member of rebate_admin); strictly true or false';

CREATE FUNCTION @extschema@.manages_tenant(role_name name, tenant bigint) RETURNS boolean
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
    SELECT @extschema@.role_is_admin(current_user)
$$;
COMMENT ON FUNCTION @extschema@.is_group_admin() IS
    'Whether current_user is a group administrator (member of rebate_admin): sees every tenant';

CREATE FUNCTION @extschema@.is_tenant_manager() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.manages_tenant(current_user, (@extschema@.binding_of(current_user)).tenant_id)
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

-- The tenants current_user may see: every tenant for a group administrator,
-- its bound tenant for a manager or partner user, none otherwise.  As an
-- array, for `tenant_id = ANY (...)`: unlike an OR of the cases, that
-- condition reaches a report's facts (below its windows) and their index.
CREATE FUNCTION @extschema@.visible_tenant_ids() RETURNS bigint[]
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN @extschema@.is_group_admin()
                THEN ARRAY(SELECT t.id FROM @extschema@.tenant t ORDER BY t.id)
                ELSE ARRAY(SELECT b.tenant_id FROM (SELECT @extschema@.current_tenant_id() AS tenant_id) b
                            WHERE b.tenant_id IS NOT NULL) END
$$;
COMMENT ON FUNCTION @extschema@.visible_tenant_ids() IS
    'The tenants current_user may see: all for a group administrator, its bound tenant for a manager or partner user, none otherwise';

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
