-- Tenant and partner isolation with real roles (SET ROLE), both ways:
-- managers see and write only their tenant; partner users see only their
-- partner and the partners below it; the binding cannot be forged; settings
-- a client can change open nothing; the audit log records and cannot be altered.
BEGIN;
SELECT plan(44);

-- rows an UPDATE or DELETE touched, run with the caller's rights
CREATE FUNCTION public.rows_affected(statement text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    EXECUTE statement;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- roles (transactional: rolled back with the test)
CREATE ROLE t_admin;    GRANT rebate_admin TO t_admin;
CREATE ROLE t_mgr_a;
CREATE ROLE t_mgr_b;
CREATE ROLE t_user_a1;
CREATE ROLE t_user_a11;
CREATE ROLE t_user_a2;
CREATE ROLE t_user_b1;
CREATE ROLE t_nobody LOGIN;

-- data, as the extension owner
INSERT INTO rebate.tenant (id, code, name) VALUES (901, 'BRAND_A', '甲品牌'), (902, 'BRAND_B', '乙品牌');
INSERT INTO rebate.region (id, tenant_id, code, name, level) VALUES
    (9101, 901, 'CN', '中国', 'country'), (9201, 902, 'CN', '中国', 'country');
INSERT INTO rebate.partner (id, tenant_id, code, name, kind) VALUES
    (9111, 901, 'A1', '上海甲总代', 'distributor'),
    (9113, 901, 'A2', '杭州甲经销', 'dealer'),
    (9211, 902, 'B1', '南京乙总代', 'distributor');
INSERT INTO rebate.partner (id, tenant_id, code, name, kind, parent_id) VALUES
    (9112, 901, 'A11', '苏州甲二代', 'dealer', 9111);

SELECT rebate.grant_access('t_mgr_a', 901);
SELECT rebate.grant_access('t_mgr_b', 902);
SELECT rebate.grant_access('t_user_a1', 901, 9111);
SELECT rebate.grant_access('t_user_a11', 901, 9112);
SELECT rebate.grant_access('t_user_a2', 901, 9113);
SELECT rebate.grant_access('t_user_b1', 902, 9211);

SELECT ok(pg_has_role('t_mgr_a', 'rebate_manager', 'MEMBER') AND pg_has_role('t_user_a1', 'rebate_partner', 'MEMBER')
          AND NOT pg_has_role('t_user_a1', 'rebate_manager', 'MEMBER'),
          'grant_access made managers rebate_manager and partner users rebate_partner');

-- a manager of A
SET ROLE t_mgr_a;
SELECT is((SELECT array_agg(code ORDER BY code) FROM rebate.partner), ARRAY['A1', 'A11', 'A2'], 'manager A sees the partners of A');
SELECT is((SELECT count(*)::int FROM rebate.partner WHERE tenant_id = 902), 0, 'manager A sees nothing of B');
SELECT is((SELECT array_agg(code) FROM rebate.tenant), ARRAY['BRAND_A'], 'manager A sees only its tenant');
SELECT lives_ok($$INSERT INTO rebate.partner (code, name) VALUES ('A3', '宁波甲代理')$$,
                'manager A registers a partner (tenant_id defaults to its tenant)');
SELECT is((SELECT tenant_id FROM rebate.partner WHERE code = 'A3'), 901::bigint, 'in tenant A');
SELECT throws_ok($$INSERT INTO rebate.partner (tenant_id, code, name) VALUES (902, 'B9', '乙冒名')$$,
                 '42501', NULL, 'manager A cannot write into tenant B');
SELECT throws_ok($$INSERT INTO rebate.partner (tenant_id, code, name) VALUES (902, 'B8', '南京乙总代')$$,
                 '42501', NULL, 'nor learn from a duplicate-name refusal what B has registered');
SELECT is(rows_affected($$UPDATE rebate.partner SET credit_limit = 1 WHERE tenant_id = 902$$), 0, 'manager A updates nothing of B');
SELECT is(rows_affected($$DELETE FROM rebate.region WHERE tenant_id = 902$$), 0, 'manager A deletes nothing of B');
SELECT throws_ok($$UPDATE rebate.partner SET tenant_id = 902 WHERE code = 'A2'$$,
                 '42501', NULL, 'manager A cannot move a partner into tenant B');
SELECT is((SELECT array_agg(role::text) FROM rebate.access_binding), ARRAY['t_mgr_a'], 'manager A reads only its own binding');
SELECT throws_ok($$INSERT INTO rebate.access_binding (role, tenant_id) VALUES ('t_mgr_a', 902)$$,
                 '42501', NULL, 'manager A cannot forge a binding');
SELECT throws_ok($$SELECT rebate.grant_access('t_mgr_a', 902)$$, '42501', NULL,
                 'manager A cannot bind itself to tenant B');
SELECT throws_ok($$SELECT rebate.grant_access('t_nobody', 902, 9211)$$, '42501', NULL,
                 'manager A cannot bind a user to a partner of tenant B');
SELECT throws_ok($$SELECT rebate.grant_access('t_nobody', 901)$$, '42501', NULL,
                 'manager A cannot make another manager');
SELECT lives_ok($$SELECT rebate.grant_access('t_nobody', 901, 9113)$$, 'manager A binds a partner user of its own tenant');
SELECT lives_ok($$SELECT rebate.revoke_access('t_nobody')$$, 'and revokes it');
SELECT throws_ok($$SELECT rebate.revoke_access('t_user_b1')$$, '42501', NULL, 'manager A cannot revoke B''s users');
-- settings a client controls open nothing
SET rebate.tenant = '902';
SET rebate.tenant_id = '902';
SELECT is((SELECT count(*)::int FROM rebate.partner WHERE tenant_id = 902), 0, 'custom settings change nothing');
RESET rebate.tenant;
RESET rebate.tenant_id;
SELECT is((SELECT count(*)::int FROM rebate.audit_log WHERE tenant_id = 902), 0, 'manager A reads no audit entries of B');
SELECT cmp_ok((SELECT count(*)::int FROM rebate.audit_log WHERE tenant_id = 901), '>', 0, 'manager A reads the audit log of A');
SELECT throws_ok($$DELETE FROM rebate.audit_log$$, '42501', NULL, 'manager A cannot delete audit entries');
SELECT throws_ok($$UPDATE rebate.audit_log SET acting_role = 'someone'$$, '42501', NULL, 'manager A cannot alter audit entries');
SELECT throws_ok($$INSERT INTO rebate.audit_log (table_name, operation, session_role, acting_role) VALUES ('partner', 'DELETE', 'x', 'x')$$,
                 '42501', NULL, 'manager A cannot forge audit entries');
RESET ROLE;

-- the audit log recorded manager A's registration, with who
SELECT is((SELECT format('%s %s %s/%s', operation, new_row ->> 'code', session_role, acting_role)
             FROM rebate.audit_log WHERE table_name = 'partner' AND new_row ->> 'code' = 'A3'),
          format('INSERT A3 %s/t_mgr_a', session_user), 'audit: the insert, its session and acting role');

SET ROLE t_mgr_a;
UPDATE rebate.partner SET credit_limit = 300000 WHERE code = 'A2';
DELETE FROM rebate.partner WHERE code = 'A3';
RESET ROLE;
SELECT is((SELECT format('%s %s->%s %s', changed_columns, old_row ->> 'credit_limit', new_row ->> 'credit_limit', acting_role)
             FROM rebate.audit_log WHERE table_name = 'partner' AND operation = 'UPDATE' AND row_id = 9113),
          '{credit_limit} 0.00->300000.00 t_mgr_a', 'audit: an update with the columns it changed, old and new');
SELECT is((SELECT old_row ->> 'name' FROM rebate.audit_log WHERE table_name = 'partner' AND operation = 'DELETE'),
          '宁波甲代理', 'audit: a delete keeps the old row');

-- a manager of B sees none of A
SET ROLE t_mgr_b;
SELECT is((SELECT array_agg(code ORDER BY code) FROM rebate.partner), ARRAY['B1'], 'manager B sees only B');
SELECT is(rows_affected($$UPDATE rebate.partner SET credit_limit = 1 WHERE tenant_id = 901$$), 0, 'manager B updates nothing of A');
RESET ROLE;

-- partner users
SET ROLE t_user_a1;
SELECT is((SELECT array_agg(code ORDER BY code) FROM rebate.partner), ARRAY['A1', 'A11'],
          'the 总代 user sees its partner and its 二代');
SELECT is((SELECT array_agg(code) FROM rebate.tenant), ARRAY['BRAND_A'], 'and its own tenant');
SELECT throws_ok($$INSERT INTO rebate.partner (code, name) VALUES ('A12', '新二代')$$, '42501', NULL,
                 'a partner user cannot register partners');
SELECT throws_ok($$UPDATE rebate.partner SET credit_limit = 999999 WHERE code = 'A1'$$, '42501', NULL,
                 'nor raise its own credit limit');
SELECT throws_ok($$SELECT * FROM rebate.audit_log$$, '42501', NULL, 'nor read the audit log');
SELECT throws_ok($$SELECT rebate.grant_access('t_user_a1', 901)$$, '42501', NULL, 'nor call grant_access');
RESET ROLE;
SET ROLE t_user_a11;
SELECT is((SELECT array_agg(code ORDER BY code) FROM rebate.partner), ARRAY['A11'], 'the 二代 user sees only itself, not its parent');
RESET ROLE;
SET ROLE t_user_a2;
SELECT is((SELECT array_agg(code ORDER BY code) FROM rebate.partner), ARRAY['A2'], 'a sibling sees only itself');
RESET ROLE;
SET ROLE t_user_b1;
SELECT is((SELECT count(*)::int FROM rebate.partner WHERE tenant_id = 901), 0, 'a partner of B sees nothing of A');
SELECT is((SELECT count(*)::int FROM rebate.region WHERE tenant_id = 901), 0, 'not even A''s regions');
RESET ROLE;

-- a role without a binding sees nothing; a group admin sees everything
SET ROLE t_nobody;
SELECT throws_ok($$SELECT count(*) FROM rebate.partner$$, '42501', NULL, 'an unbound role has no table privileges');
RESET ROLE;
SET ROLE t_admin;
SELECT is((SELECT count(*)::int FROM rebate.partner WHERE tenant_id IN (901, 902)), 4, 'the group admin sees both tenants');
RESET ROLE;

-- bindings are refused for roles that could bypass them
SELECT throws_ok($$SELECT rebate.grant_access('rebate_admin', 901)$$, '22023', NULL, 'a rebate group role is never bound');
SELECT throws_ok($$SELECT rebate.grant_access(session_user::regrole, 901)$$, '22023', NULL, 'a superuser is never bound');

SELECT * FROM finish();
ROLLBACK;
