-- The attack suite, part 1: every SECURITY DEFINER function a role can call,
-- attacked by another brand's manager, a sibling dealer, a distributor, a
-- role acting through each group role, a role granted a group role without a
-- binding, and an unbound role (test/attack/fixture.sql).  Each attempt must
-- change nothing outside the attacker's reach and quote nothing hidden from
-- it; the authorisation primitive answers strictly true or false; bindings
-- follow their rules and every change to one is kept.  The last test fails
-- when a SECURITY DEFINER function appears that this file does not attack.
BEGIN;
SELECT plan(304);
\ir ../attack/fixture.sql

-- ---- the primitive: strictly true or false, and no tenant through a group role --
SELECT is((SELECT count(*)::int FROM (VALUES ('atk_admin'), ('atk_mgr_a'), ('atk_mgr_b'), ('atk_d1'), ('atk_s1'),
                                             ('atk_loose'), ('atk_unbound'), ('atk_nologin'), ('rebate_admin'),
                                             ('rebate_manager'), ('rebate_partner'), (NULL)) r (role)
                 CROSS JOIN (VALUES (9401::bigint), (9402), (NULL)) t (tenant)
           WHERE rebate.role_is_admin(r.role) IS NULL OR rebate.manages_tenant(r.role, t.tenant) IS NULL
              OR rebate.may_manage(r.role, t.tenant) IS NULL),
          0, 'role_is_admin, manages_tenant and may_manage are never NULL: for group roles, unbound roles, NULL tenants');
SELECT is((SELECT array_agg(r ORDER BY r) FROM unnest(ARRAY['atk_mgr_a', 'atk_loose', 'rebate_manager', 'rebate_partner',
                                                           'atk_unbound', 'atk_d1']) r
            WHERE rebate.may_manage(r, 9401)),
          ARRAY['atk_mgr_a'], 'only the bound manager manages its tenant');
SELECT is((SELECT row(b.tenant_id, b.partner_id)::text FROM rebate.binding_of('rebate_manager') b), '(,)',
          'a group role has no binding');
SELECT is((attack.run('atk_mgr_a>rebate_manager',
                      $q$DO $d$ BEGIN IF rebate.current_tenant_id() IS NOT NULL OR rebate.is_tenant_manager()
                                      OR rebate.is_tenant_manager() IS NULL THEN RAISE 'has a tenant'; END IF; END $d$$q$)).sqlstate,
          '00000', 'a manager acting through rebate_manager has no tenant and manages nothing');
SELECT is((attack.run('atk_loose', $q$DO $d$ BEGIN IF rebate.current_tenant_id() IS NOT NULL OR rebate.is_tenant_manager()
                                          OR rebate.visible_partner_ids() <> '{}' THEN RAISE 'has a tenant'; END IF; END $d$$q$)).sqlstate,
          '00000', 'a role granted the group roles without a binding has no tenant and sees no partner');

-- the tenants the reports read: all for an administrator, the bound one, none through a group role
SELECT is((SELECT string_agg(w.role || ':' || (attack.run(w.role, format(
                      $q$DO $d$ BEGIN IF rebate.visible_tenant_ids() IS DISTINCT FROM %L::bigint[] THEN
                             RAISE 'sees %%', rebate.visible_tenant_ids(); END IF; END $d$$q$, w.tenants))).sqlstate,
                  ' ' ORDER BY w.role)
             FROM (VALUES ('atk_admin', (SELECT array_agg(id ORDER BY id) FROM rebate.tenant)), ('atk_mgr_a', '{9401}'),
                          ('atk_mgr_b', '{9402}'), ('atk_d1', '{9401}'), ('atk_s1', '{9401}'), ('atk_b_user', '{9402}'),
                          ('atk_loose', '{}'), ('atk_unbound', '{}'), ('atk_mgr_a>rebate_manager', '{}'),
                          ('atk_d1>rebate_partner', '{}')) w (role, tenants)),
          'atk_admin:00000 atk_b_user:00000 atk_d1:00000 atk_d1>rebate_partner:00000 atk_loose:00000 atk_mgr_a:00000 '
          'atk_mgr_a>rebate_manager:00000 atk_mgr_b:00000 atk_s1:00000 atk_unbound:42501',
          'visible_tenant_ids: every tenant for an administrator, the bound tenant for a manager or partner user, none '
          'without a binding or through a group role (an unbound role may not call it at all)');

-- ---- grant_access: nobody binds across the boundary ---------------------------
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_spare', 9402, 940212)$$,
                      'acting through rebate_manager binds nobody into another brand', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_spare', 9401, 940112)$$,
                      'nor into its own brand', '42501');
SELECT attack.attempt('atk_loose', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_loose', 9402, 940212)$$,
                      'a member of rebate_manager without a binding binds nobody, itself included', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_spare', 9402, 940212)$$,
                      'a manager binds nobody into another brand', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_mgr_b', 9401, 940112)$$,
                      'a manager cannot take over another brand''s manager', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_b_user', 9401, 940112)$$,
                      'nor another brand''s partner user', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_admin', 9401, 940112)$$,
                      'nor a group administrator (never bound at all)', '22023');
SELECT attack.attempt('atk_mgr_a', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_loose', 9401, 940112)$$,
                      'nor a member of rebate_manager', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_mgr_a', 9401, 940112)$$,
                      'nor itself', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_spare', 9401)$$,
                      'a manager makes no manager', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_nologin', 9401, 940112)$$,
                      'a manager binds login roles only (a group would lend the binding to its members)', '42501');
SELECT attack.attempt('atk_s1', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_spare', 9401, 940112)$$,
                      'a partner user may not call grant_access', '42501');
SELECT attack.attempt('atk_unbound', 'rebate.grant_access(regrole,bigint,bigint)',
                      $$SELECT rebate.grant_access('atk_unbound', 9402)$$,
                      'nor may an unbound role', '42501');
SELECT attack.like_missing('atk_mgr_a', 'rebate.grant_access(regrole,bigint,bigint)',
                           $$SELECT rebate.grant_access('atk_spare', 9401, 940212)$$,
                           $$SELECT rebate.grant_access('atk_spare', 9401, 999999)$$,
                           'another brand''s partner is, to a manager, a partner that does not exist');

-- ---- revoke_access --------------------------------------------------------------
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.revoke_access(regrole)',
                      $$SELECT rebate.revoke_access('atk_b_user')$$, 'acting through rebate_manager revokes nothing', '42501');
SELECT attack.attempt('atk_loose', 'rebate.revoke_access(regrole)',
                      $$SELECT rebate.revoke_access('atk_s1')$$, 'an unbound member of rebate_manager revokes nothing', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.revoke_access(regrole)',
                      $$SELECT rebate.revoke_access('atk_b_user')$$, 'a manager revokes nobody of another brand', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.revoke_access(regrole)',
                      $$SELECT rebate.revoke_access('atk_mgr_b')$$, 'nor another brand''s manager', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.revoke_access(regrole)',
                      $$SELECT rebate.revoke_access('atk_admin')$$, 'nor an administrator', '42501');
SELECT attack.like_missing('atk_mgr_a', 'rebate.revoke_access(regrole)',
                           $$SELECT rebate.revoke_access('atk_b_user')$$, $$SELECT rebate.revoke_access('atk_unbound')$$,
                           'a role bound elsewhere is, to a manager, like an unbound one');

-- ---- bindings made by the rules, and every change kept ---------------------------
SET SESSION AUTHORIZATION atk_mgr_a;
SELECT lives_ok($$SELECT rebate.grant_access('atk_spare', 9401, 940112)$$, 'a manager binds an unbound login role to its partner');
SELECT lives_ok($$SELECT rebate.grant_access('atk_spare', 9401, 940111)$$, 'and rebinds it to another of its partners');
SELECT lives_ok($$SELECT rebate.revoke_access('atk_spare')$$, 'and revokes it');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_admin;
SET ROLE rebate_admin;
SELECT lives_ok($$SELECT rebate.grant_access('atk_spare', 9402)$$, 'an administrator, through rebate_admin, binds a manager');
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT is((SELECT string_agg(format('%s %s>%s/%s %s/%s', operation, coalesce(old_tenant_id::text, '-'),
                                    coalesce(new_tenant_id::text, '-'), coalesce(new_partner_id::text, '-'),
                                    session_role, acting_role), '; ' ORDER BY id)
             FROM rebate.access_binding_history WHERE role_name = 'atk_spare'),
          'grant ->9401/940112 atk_mgr_a/atk_mgr_a; rebind 9401>9401/940111 atk_mgr_a/atk_mgr_a; '
          'revoke 9401>-/- atk_mgr_a/atk_mgr_a; grant ->9402/- atk_admin/rebate_admin',
          'access_binding_history keeps grant, rebind and revoke with the old and new binding, the login and the acting role');
SELECT is((SELECT granted_by::text FROM rebate.access_binding WHERE role = 'atk_spare'::regrole), 'atk_admin',
          'granted_by is the login role, not the group role it acted through');
SELECT is((SELECT count(*)::int FROM rebate.access_binding_history WHERE role_name LIKE 'atk\_%' AND operation = 'grant'
              AND session_role = 'postgres'), 5, 'the fixture''s own grants are kept too');
SET SESSION AUTHORIZATION atk_mgr_a;
SELECT is((SELECT count(*)::int FROM rebate.access_binding_history WHERE 9402 IN (old_tenant_id, new_tenant_id)), 0,
          'a manager reads no binding history of another brand');
SELECT cmp_ok((SELECT count(*)::int FROM rebate.access_binding_history WHERE 9401 IN (old_tenant_id, new_tenant_id)), '>=', 6,
              'but its own brand''s');
RESET SESSION AUTHORIZATION;
SELECT rebate.grant_access('atk_spare', 9401, 940112);   -- an admin moves the role from brand B to A
SET SESSION AUTHORIZATION atk_mgr_a;
SELECT is((SELECT count(*)::int FROM rebate.access_binding_history WHERE role_name = 'atk_spare' AND 9402 IN (old_tenant_id, new_tenant_id)),
          0, 'nor a move between brands, which would show it the other brand''s side');
RESET SESSION AUTHORIZATION;
SELECT attack.attempt('atk_mgr_a', 'rebate.record_binding_change()',
                      $$DELETE FROM rebate.access_binding_history$$, 'nobody rewrites the binding history', '42501');
SELECT attack.attempt('atk_admin', 'rebate.record_binding_change()',
                      $$UPDATE rebate.access_binding_history SET acting_role = 'someone'$$, 'not even an administrator', '42501');

-- ---- resolve_violation --------------------------------------------------------------
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.resolve_violation(bigint,text,text)',
                      $$SELECT rebate.resolve_violation(940295, 'reject')$$,
                      'acting through rebate_manager rejects no violation of another brand (which would cancel its order)');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.resolve_violation(bigint,text,text)',
                      $$SELECT rebate.resolve_violation(940195, 'approve')$$, 'nor of its own brand', 'P0002');
SELECT attack.attempt('atk_loose', 'rebate.resolve_violation(bigint,text,text)',
                      $$SELECT rebate.resolve_violation(940295, 'reject')$$, 'nor does an unbound member of rebate_manager', 'P0002');
SELECT attack.like_missing('atk_mgr_a', 'rebate.resolve_violation(bigint,text,text)',
                           $$SELECT rebate.resolve_violation(940295, 'reject')$$,
                           $$SELECT rebate.resolve_violation(999999, 'reject')$$,
                           'another brand''s violation is, to a manager, one that does not exist');
SELECT is((SELECT xmax::text FROM rebate.policy_violation WHERE id = 940295), '0',
          'and none of these attempts locked the other brand''s violation (a second session would have waited on it)');
SELECT attack.attempt('atk_s1', 'rebate.resolve_violation(bigint,text,text)',
                      $$SELECT rebate.resolve_violation(940195, 'approve')$$, 'a partner user resolves nothing', '42501');

-- ---- guaranteed minimums and program results on a forged version ------------------------
-- A's own version (its users read it), rewritten to name B's tenant, program and version with a
-- carried minimum: what the functions compute from it is only what the caller may read, so
-- nothing of B's (no partner, no basis, no position) comes back.
SELECT attack.attempt('atk_s1', 'rebate.guarantee_position(rebate.program_version,daterange,bigint)',
                      $q$DO $d$ BEGIN IF EXISTS (
                          SELECT FROM rebate.program_version v,
                                 rebate.guarantee_position(
                                   jsonb_populate_record(v, '{"id": 940282, "tenant_id": 9402, "program_id": 940281,
                                                              "guarantee": 100, "guarantee_carry": "both"}'),
                                   '[2026-04-01,2026-05-01)') p
                           WHERE v.id = 940182 AND attack.spy(p)) THEN RAISE 'a position of another brand shows'; END IF; END $d$$q$,
                      'a forged version of another brand gives no guaranteed positions', '00000');
SELECT attack.attempt('atk_mgr_a', 'rebate.program_results(rebate.program_version,daterange,date,bigint)',
                      $q$DO $d$ BEGIN IF EXISTS (
                          SELECT FROM rebate.program_version v,
                                 rebate.program_results(jsonb_populate_record(v, '{"tenant_id": 9402, "guarantee": 100,
                                                                                   "guarantee_carry": "shortfall"}'),
                                                        '[2026-03-01,2026-04-01)') r
                           WHERE v.id = 940182 AND (r.partner_id / 100 = 9402 OR attack.spy(r))) THEN
                          RAISE 'another brand''s partners show'; END IF; END $d$$q$,
                      'nor results for another brand''s partners, to a manager', '00000');
-- a version with nothing to compare with and no override is rated by program_results' lean query
-- (rebate.rated_result): the same boundaries hold there
SELECT attack.attempt('atk_mgr_a', 'rebate.rated_result(rebate.program_version,daterange,date,bigint,text,numeric,numeric,bigint,numeric,integer,numeric,numeric,numeric,numeric,text,text)',
                      $q$DO $d$ BEGIN IF EXISTS (
                          SELECT FROM rebate.program_version v,
                                 rebate.program_results(jsonb_populate_record(v, '{"id": 940282, "tenant_id": 9402,
                                                                                   "program_id": 940281}'),
                                                        '[2026-03-01,2026-04-01)') r
                           WHERE v.id = 940182 AND (r.partner_id / 100 = 9402 OR attack.spy(r))) THEN
                          RAISE 'another brand''s partners show'; END IF; END $d$$q$,
                      'a forged plain version of another brand rates none of its partners, to a manager', '00000');
SELECT attack.attempt('atk_s1', 'rebate.rated_result(rebate.program_version,daterange,date,bigint,text,numeric,numeric,bigint,numeric,integer,numeric,numeric,numeric,numeric,text,text)',
                      $q$DO $d$ BEGIN IF EXISTS (
                          SELECT FROM rebate.program_version v,
                                 rebate.program_results(v, '[2026-03-01,2026-04-01)') r
                           WHERE v.id = 940182 AND attack.spy(r) AND r.partner_id <> 940112) THEN
                          RAISE 'a sibling''s result shows'; END IF;
                        IF NOT EXISTS (SELECT FROM rebate.program_version v, rebate.program_results(v, '[2026-03-01,2026-04-01)') r
                                        WHERE v.id = 940182 AND r.partner_id = 940112) THEN
                          RAISE 'its own result is missing'; END IF; END $d$$q$,
                      'a dealer rating every partner of its brand gets its own result only, not its sibling''s', '00000');

-- ---- partner_scores ------------------------------------------------------------------
SELECT attack.like_missing('atk_s1', 'rebate.partner_scores(bigint,daterange)',
                           $$SELECT * FROM rebate.partner_scores(9402, '[2026-01-01,2026-04-01)')$$,
                           $$SELECT * FROM rebate.partner_scores(9499, '[2026-01-01,2026-04-01)')$$,
                           'another brand''s scores are, to a partner user, those of a tenant without a model');
SELECT attack.like_missing('atk_mgr_a', 'rebate.partner_scores(bigint,daterange)',
                           $$SELECT * FROM rebate.partner_scores(9402, '[2026-01-01,2026-01-02)')$$,
                           $$SELECT * FROM rebate.partner_scores(9499, '[2026-01-01,2026-01-02)')$$,
                           'its model''s name and period do not show in a period error either');
SELECT attack.like_missing('atk_mgr_a>rebate_manager', 'rebate.partner_scores(bigint,daterange)',
                           $$SELECT * FROM rebate.partner_scores(9401, '[2026-01-01,2026-04-01)')$$,
                           $$SELECT * FROM rebate.partner_scores(9499, '[2026-01-01,2026-04-01)')$$,
                           'acting through rebate_manager sees no brand''s scores');
SELECT attack.attempt('atk_s1', 'rebate.partner_scores(bigint,daterange)',
                      $$SELECT attack.spy(s) FROM rebate.partner_scores(9401, '[2026-01-01,2026-04-01)') s$$,
                      'a dealer sees its own score, nothing of its sibling or of costs', '00000');
SET SESSION AUTHORIZATION atk_s1;
SELECT is((SELECT string_agg(format('%s %s', partner_id,
                                    num_nulls(total, rank_in_tenant, rank_in_region, band_grade, suggested_grade, change)), ',')
                    || ': ' || string_agg(reason, ',')
             FROM rebate.partner_scores(9401, '[2026-01-01,2026-04-01)')),
          '940112 6: scored with margins, which this role may not read',
          'its row, without the total, ranks, band, suggestion or trail of totals: they weight the margin it may not read');
RESET SESSION AUTHORIZATION;
CREATE TEMP TABLE scores_a AS
SELECT string_agg(format('%s %s', partner_id, total), ', ' ORDER BY partner_id) AS totals
  FROM rebate.partner_scores(9401, '[2026-01-01,2026-04-01)');
GRANT SELECT ON scores_a TO PUBLIC;
SET SESSION AUTHORIZATION atk_mgr_a;
SELECT is((SELECT string_agg(format('%s %s', partner_id, total), ', ' ORDER BY partner_id)
             FROM rebate.partner_scores(9401, '[2026-01-01,2026-04-01)')), (SELECT totals FROM scores_a),
          'the manager sees every partner and every total');
RESET SESSION AUTHORIZATION;

-- ---- refresh_report_snapshots -----------------------------------------------------------
SELECT attack.attempt('atk_loose', 'rebate.refresh_report_snapshots()',
                      $$SELECT * FROM rebate.refresh_report_snapshots()$$,
                      'an unbound member of rebate_manager may not refresh the snapshots', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.refresh_report_snapshots()',
                      $$SELECT * FROM rebate.refresh_report_snapshots()$$,
                      'nor may a manager acting through rebate_manager', '42501');
SELECT attack.attempt('atk_s1', 'rebate.refresh_report_snapshots()',
                      $$SELECT * FROM rebate.refresh_report_snapshots()$$, 'nor a partner user', '42501');

-- ---- the functions a manager runs on its own brand, aimed at another -----------------
SELECT is((SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()), 0,
          'closing takes no advisory lock (whose key anyone could take, to hold a close up or watch for it)');
SELECT attack.attempt('atk_s1', 'rebate.close_period(bigint,daterange)',
                      $$SELECT 1 FROM rebate.enforcement_setting WHERE tenant_id = 9401 FOR NO KEY UPDATE$$,
                      'the row a close serialises on cannot be locked by a partner user', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.close_period(bigint,daterange)',
                      $q$DO $d$ BEGIN PERFORM 1 FROM rebate.enforcement_setting WHERE tenant_id = 9402 FOR NO KEY UPDATE;
                                     IF FOUND THEN RAISE 'locked'; END IF; END $d$$q$,
                      'nor by another brand''s manager', '00000');
SELECT attack.like_missing('atk_mgr_a', 'rebate.close_period(bigint,daterange)',
                           $$SELECT * FROM rebate.close_period(9402, '[2026-04-01,2026-05-01)')$$,
                           $$SELECT * FROM rebate.close_period(9499, '[2026-04-01,2026-05-01)')$$,
                           'close_period of another brand is like that of a tenant that does not exist');
SELECT attack.attempt('atk_mgr_a', 'rebate.issue_statements(bigint,daterange)',
                      $$SELECT rebate.issue_statements(9402, '[2026-03-01,2026-04-01)')$$,
                      'issue_statements of another brand does nothing');
SELECT attack.like_missing('atk_mgr_a', 'rebate.mark_statement_paid(bigint,text)',
                           format('SELECT rebate.mark_statement_paid(%s, %L)', (SELECT min(id) FROM rebate.statement WHERE tenant_id = 9402), 'x'),
                           $$SELECT rebate.mark_statement_paid(999999999, 'x')$$,
                           'marking another brand''s statement paid is like a statement that does not exist');
SELECT attack.like_missing('atk_s1', 'rebate.confirm_statement(bigint)',
                           format('SELECT rebate.confirm_statement(%s)', (SELECT id FROM rebate.statement WHERE partner_id = 940113)),
                           $$SELECT rebate.confirm_statement(999999999)$$,
                           'a dealer confirming its sibling''s statement is like a statement that does not exist');
SELECT attack.like_missing('atk_s1', 'rebate.progress(bigint,date)',
                           $$SELECT * FROM rebate.progress(940113, '2026-03-31')$$,
                           $$SELECT * FROM rebate.progress(940999999, '2026-03-31')$$,
                           'a sibling''s progress is refused as for a partner that does not exist');
SELECT attack.like_missing('atk_mgr_a', 'rebate.progress(bigint,date)',
                           $$SELECT * FROM rebate.progress(940212, '2026-03-31')$$,
                           $$SELECT * FROM rebate.progress(940999999, '2026-03-31')$$,
                           'so is another brand''s partner''s, to its manager');
SELECT attack.attempt('atk_mgr_a', 'rebate.apply_grade_suggestions(bigint,daterange)',
                      $$SELECT * FROM rebate.apply_grade_suggestions(9402, '[2026-01-01,2026-04-01)')$$,
                      'a manager changes no grade of another brand', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.apply_grade_suggestions(bigint,daterange)',
                      $$SELECT * FROM rebate.apply_grade_suggestions(9401, '[2026-01-01,2026-04-01)')$$,
                      'nor of its own, acting through rebate_manager', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.apply_grade_suggestions(bigint,daterange)',
                      $$SELECT * FROM rebate.apply_grade_suggestions(NULL, '[2026-01-01,2026-04-01)')$$,
                      'nor of no tenant at all (a NULL tenant is no way past the check)', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.set_partner_state(bigint,text,text)',
                      $$SELECT rebate.set_partner_state(940214, 'suspended', 'x')$$,
                      'another brand''s partner cannot be suspended', 'P0002');

-- ---- rebuild_rollups, compact_rollups: only a tenant's managers (every tenant: group admins) --
SELECT attack.like_missing('atk_mgr_b', 'rebate.rebuild_rollups(bigint)',
                           $$SELECT * FROM rebate.rebuild_rollups(9401)$$, $$SELECT * FROM rebate.rebuild_rollups(9499)$$,
                           'rebuilding another brand''s rollups is refused as for a tenant that does not exist');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.rebuild_rollups(bigint)',
                      $$SELECT * FROM rebate.rebuild_rollups(9401)$$, 'acting through rebate_manager rebuilds nothing', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.rebuild_rollups(bigint)',
                      $$SELECT * FROM rebate.rebuild_rollups(NULL)$$, 'a manager rebuilds no other tenant through NULL', '42501');
SELECT attack.attempt('atk_d1', 'rebate.rebuild_rollups(bigint)',
                      $$SELECT * FROM rebate.rebuild_rollups(9401)$$, 'a distributor rebuilds nothing', '42501');
SELECT attack.like_missing('atk_mgr_b', 'rebate.compact_rollups(bigint)',
                           $$SELECT * FROM rebate.compact_rollups(9401)$$, $$SELECT * FROM rebate.compact_rollups(9499)$$,
                           'compacting another brand''s rollups is refused as for a tenant that does not exist');
SELECT attack.attempt('atk_loose', 'rebate.compact_rollups(bigint)',
                      $$SELECT * FROM rebate.compact_rollups(9401)$$, 'an unbound member of rebate_manager compacts nothing', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.compact_rollups(bigint)',
                      $$SELECT * FROM rebate.compact_rollups(NULL)$$, 'a manager compacts no other tenant through NULL', '42501');
SELECT attack.attempt('atk_s1', 'rebate.compact_rollups(bigint)',
                      $$SELECT * FROM rebate.compact_rollups(9401)$$, 'a dealer compacts nothing', '42501');
SELECT is((SELECT count(*)::int FROM rebate.compact_rollups(9401)) + (SELECT count(*)::int FROM rebate.rebuild_rollups(9401))
          + (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()), 2,
          'compaction and rebuilds take no advisory lock: they take turns on the tenant''s row');
SELECT attack.attempt('atk_s1', 'rebate.compact_rollups(bigint)',
                      $$SELECT 1 FROM rebate.tenant WHERE id = 9401 FOR NO KEY UPDATE$$,
                      'the row they take turns on cannot be locked by a partner user', '42501');
SELECT attack.attempt('atk_mgr_b', 'rebate.rebuild_rollups(bigint)',
                      $q$DO $d$ BEGIN PERFORM 1 FROM rebate.tenant WHERE id = 9401 FOR NO KEY UPDATE;
                                     IF FOUND THEN RAISE 'locked'; END IF; END $d$$q$,
                      'nor by a manager (who may not update the tenant row at all)', '42501');

-- ---- the approval engine: nothing of another partner or brand is decided, withdrawn or seen --
SELECT attack.like_missing('atk_s1', 'rebate.submit_request(text,text,bigint,numeric,text,bigint,bigint,bigint,jsonb)',
                           $$SELECT rebate.submit_request('general', 'x', partner_id => 940113)$$,
                           $$SELECT rebate.submit_request('general', 'x', partner_id => 940999999)$$,
                           'a dealer asking for its sibling is refused as for a partner that does not exist');
SELECT attack.like_missing('atk_mgr_b', 'rebate.submit_request(text,text,bigint,numeric,text,bigint,bigint,bigint,jsonb)',
                           $$SELECT rebate.submit_request('general', 'x', partner_id => 940112)$$,
                           $$SELECT rebate.submit_request('general', 'x', partner_id => 940999999)$$,
                           'so is a manager asking for another brand''s partner');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.submit_request(text,text,bigint,numeric,text,bigint,bigint,bigint,jsonb)',
                      $$SELECT rebate.submit_request('general', 'x')$$, 'acting through rebate_manager asks nothing', '42501');
SELECT attack.attempt('atk_loose', 'rebate.submit_request(text,text,bigint,numeric,text,bigint,bigint,bigint,jsonb)',
                      $$SELECT rebate.submit_request('general', 'x')$$, 'nor does a role without a binding', '42501');
SELECT attack.like_missing('atk_s1', 'rebate.decide_approval(bigint,text,text)',
                           $$SELECT rebate.approve(940175)$$, $$SELECT rebate.approve(940999999)$$,
                           'a dealer deciding its sibling''s request is refused as for a task that does not exist');
SELECT attack.like_missing('atk_d1', 'rebate.decide_approval(bigint,text,text)',
                           $$SELECT rebate.reject(940175)$$, $$SELECT rebate.reject(940999999)$$,
                           'so is the distributor above it, for a manager''s task');
SELECT attack.like_missing('atk_mgr_b', 'rebate.decide_approval(bigint,text,text)',
                           $$SELECT rebate.approve(940175)$$, $$SELECT rebate.approve(940999999)$$,
                           'and another brand''s manager');
SELECT attack.like_missing('atk_mgr_a>rebate_manager', 'rebate.decide_approval(bigint,text,text)',
                           $$SELECT rebate.approve(940175)$$, $$SELECT rebate.approve(940999999)$$,
                           'and its own manager acting through rebate_manager');
SELECT attack.like_missing('atk_s1', 'rebate.withdraw_request(bigint,text)',
                           $$SELECT rebate.withdraw_request(940174)$$, $$SELECT rebate.withdraw_request(940999999)$$,
                           'a dealer cannot withdraw its sibling''s request');
SELECT attack.like_missing('atk_mgr_b', 'rebate.withdraw_request(bigint,text)',
                           $$SELECT rebate.withdraw_request(940174)$$, $$SELECT rebate.withdraw_request(940999999)$$,
                           'nor another brand''s manager');
SELECT attack.attempt('atk_s1', 'rebate.my_approval_tasks()',
                      $$SELECT attack.spy(t.*) FROM rebate.my_approval_tasks() t$$,
                      'a dealer''s task list shows nothing of its sibling''s requests');
SELECT attack.attempt('atk_mgr_b', 'rebate.my_approval_tasks()',
                      $$SELECT attack.spy(t.*) FROM rebate.my_approval_tasks() t WHERE t.request_id = 940174$$,
                      'nor another brand''s manager''s');
SELECT attack.attempt('atk_s1', 'rebate.delegate_approvals(name,tstzrange,text)',
                      $$SELECT rebate.delegate_approvals('atk_d1', tstzrange(now(), NULL))$$,
                      'a dealer hands its decisions to no user of another partner', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.delegate_approvals(name,tstzrange,text)',
                      $$SELECT rebate.delegate_approvals('atk_mgr_b', tstzrange(now(), NULL))$$,
                      'a manager hands its decisions to no manager of another brand', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.delegate_approvals(name,tstzrange,text)',
                      $$SELECT rebate.delegate_approvals('atk_spare', tstzrange(now(), NULL))$$,
                      'acting through rebate_manager delegates nothing', '42501');
SELECT attack.like_missing('atk_mgr_a', 'rebate.end_delegation(bigint)',
                           $$SELECT rebate.end_delegation(940277)$$, $$SELECT rebate.end_delegation(940999999)$$,
                           'another brand''s delegation cannot be ended, as if it did not exist');
SELECT attack.like_missing('atk_spare', 'rebate.end_delegation(bigint)',
                           $$SELECT rebate.end_delegation(940177)$$, $$SELECT rebate.end_delegation(940999999)$$,
                           'nor by its delegate, who has no binding');
SELECT attack.attempt('atk_s1', 'rebate.escalate_approvals(bigint)',
                      $$SELECT * FROM rebate.escalate_approvals(9401)$$, 'a dealer escalates nothing', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.escalate_approvals(bigint)',
                      $$SELECT * FROM rebate.escalate_approvals(9402)$$, 'a manager escalates nothing of another brand', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.escalate_approvals(bigint)',
                      $$SELECT * FROM rebate.escalate_approvals(NULL)$$, 'nor of every brand through NULL', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.escalate_approvals(bigint)',
                      $$SELECT * FROM rebate.escalate_approvals(9401)$$, 'nor of its own through rebate_manager', '42501');

-- ---- the inbox: no channel without a binding, nothing marked read that is not one's own --
SELECT attack.attempt('atk_loose', 'rebate.inbox_channel()', $$SELECT rebate.inbox_channel()$$,
                      'a role without a binding learns no channel', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.inbox_channel()', $$SELECT rebate.inbox_channel()$$,
                      'nor one acting through rebate_manager', '42501');
SELECT attack.attempt('atk_s1', 'rebate.mark_notifications_read(bigint[])',
                      $$SELECT rebate.mark_notifications_read(ARRAY[940178, 940179, 940278, 940279])$$,
                      'a dealer marks read none of its sibling''s, the managers'' or another brand''s notifications');
SELECT attack.attempt('atk_mgr_a', 'rebate.mark_notifications_read(bigint[])',
                      $$SELECT rebate.mark_notifications_read(ARRAY[940278, 940279])$$,
                      'a manager none of another brand''s');
SELECT is((SELECT rebate.channel_of(9401, 940112) <> rebate.channel_of(9401, 940113)
                  AND rebate.channel_of(9401, NULL) <> rebate.channel_of(9402, NULL)), true,
          'every audience has a channel of its own');

-- ---- each module's callable functions (test/attack/MODULE_calls.sql, each with its fixture) --
\ir ../attack/registrations_calls.sql
\ir ../attack/announcements_calls.sql
\ir ../attack/leads_calls.sql
\ir ../attack/onboarding_calls.sql
\ir ../attack/contracts_calls.sql
\ir ../attack/certification_calls.sql
\ir ../attack/inventory_calls.sql

-- ---- every SECURITY DEFINER function that is called (not a trigger) was attacked above --
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'rebate'::regnamespace AND p.prosecdef AND p.prorettype <> 'trigger'::regtype
              AND p.oid::regprocedure::text NOT IN (SELECT object FROM attack.covered)),
          NULL, 'every callable SECURITY DEFINER function is attacked by this file');

SELECT * FROM finish();
ROLLBACK;
