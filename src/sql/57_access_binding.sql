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
