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
COMMENT ON COLUMN @extschema@.access_binding.granted_by IS
    'The login role (session_user) that made the binding: SET ROLE does not change it';
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

-- Group admins bind anyone who may be bound.  A tenant's manager binds, as
-- users of its own tenant's partners, only login roles that are unbound or
-- already partner users of that tenant; never itself, a manager or an admin.
-- Every check is strict; what is not allowed is refused.
CREATE FUNCTION @extschema@.grant_access(role regrole, tenant_id bigint, partner_id bigint DEFAULT NULL)
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
COMMENT ON FUNCTION @extschema@.grant_access(regrole, bigint, bigint) IS
    'Binds a login role to a tenant (as its manager) or to a partner of it (as a partner user), and grants the matching group role';
REVOKE ALL ON FUNCTION @extschema@.grant_access(regrole, bigint, bigint) FROM PUBLIC;

-- Group admins revoke any binding; a tenant's manager only its own tenant's
-- partner users.  Anything else, an unbound role included, is refused the
-- same way.  The binding's end is kept in access_binding_history.
CREATE FUNCTION @extschema@.revoke_access(role regrole) RETURNS void
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
-- and their lines, and changes to their own drafts.  They may see a
-- submission held on the spot (on_hold) as the result of their own insert or
-- submit.
CREATE POLICY partner_places_order ON @extschema@.sales_order FOR INSERT
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id())
                AND status IN ('draft', 'submitted', 'on_hold'));
CREATE POLICY partner_edits_draft ON @extschema@.sales_order FOR UPDATE
    USING (tenant_id = (SELECT @extschema@.current_tenant_id())
           AND partner_id = (SELECT @extschema@.current_partner_id()) AND status = 'draft')
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id()) AND status IN ('draft', 'submitted', 'on_hold'));
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

REVOKE ALL ON FUNCTION @extschema@.record_binding_change() FROM PUBLIC;
CREATE TRIGGER history AFTER INSERT OR UPDATE OR DELETE ON @extschema@.access_binding
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_binding_change();
