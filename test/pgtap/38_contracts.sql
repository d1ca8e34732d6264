-- Partner contracts (经销协议): real login roles of tenant 988 (managers mgr
-- and dir; distributor D with dealers P1 and P2 below it, dealer P3 outside,
-- each with a user) and of tenant 989 (its manager) draft, submit, approve
-- through the engine, take effect, expire, renew and terminate contracts.
-- Time passes by moving a partner's contracts and territories back by days
-- (pg_temp.travel, as the superuser, triggers off).
BEGIN;
SET search_path = public, rebate;
SELECT plan(87);

INSERT INTO tenant (id, code, name) VALUES (988, 'CTR', '协议品牌'), (989, 'CTS', '另一品牌');
INSERT INTO region (id, tenant_id, code, name, level) VALUES (98801, 988, 'CN', '中国', 'country'),
                                                             (98901, 989, 'CN', '中国', 'country');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (98802, 988, 'E', '华东', 'area', 98801), (98803, 988, 'SH', '上海', 'city', 98802),
    (98804, 988, 'HZ', '杭州', 'city', 98802), (98807, 988, 'PD', '浦东', 'district', 98803);
INSERT INTO partner_grade (id, tenant_id, code, name, rank) VALUES (98805, 988, 'A', '金牌', 1), (98806, 988, 'B', '银牌', 2);
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id) VALUES (98810, 988, 'D', '华东总代', 'distributor', 98802);
INSERT INTO partner (id, tenant_id, code, name, parent_id, home_region_id) VALUES
    (98811, 988, 'P1', '上海一店', 98810, 98803), (98812, 988, 'P2', '杭州二店', 98810, 98804),
    (98813, 988, 'P3', '独立店', NULL, 98804);
INSERT INTO partner (id, tenant_id, code, name, home_region_id) VALUES (98910, 989, 'Q', '别家一店', 98901);
-- P1 was authorised for 上海 by hand, open-ended; P2 for 杭州
INSERT INTO partner_territory (tenant_id, partner_id, region_id, valid) VALUES
    (988, 98811, 98803, daterange(CURRENT_DATE - 200, NULL)), (988, 98812, 98804, daterange(CURRENT_DATE - 200, NULL));
-- programs: VOL for grade A, ONLY2 for P2 alone
INSERT INTO program (id, tenant_id, code, name) VALUES (98821, 988, 'VOL', '年度阶梯'), (98822, 988, 'ONLY2', '专项');
INSERT INTO program_version (tenant_id, program_id, effective, metric, kind, schedule, period_unit, grade_ids, partner_ids) VALUES
    (988, 98821, daterange(date_trunc('month', CURRENT_DATE - 365)::date, NULL), 'net_sales', 'tiered', 'retroactive 0:2%', 'month', '{98805}', '{}'),
    (988, 98822, daterange(date_trunc('month', CURRENT_DATE - 365)::date, NULL), 'net_sales', 'tiered', 'retroactive 0:1%', 'month', '{}', '{98812}');
SELECT activate_program_version(v.id) FROM program_version v WHERE v.tenant_id = 988 ORDER BY v.id;

CREATE ROLE ct_mgr LOGIN; CREATE ROLE ct_dir LOGIN; CREATE ROLE ct_d LOGIN; CREATE ROLE ct_p1 LOGIN;
CREATE ROLE ct_p2 LOGIN; CREATE ROLE ct_p3 LOGIN; CREATE ROLE ct_mgr2 LOGIN;
SELECT grant_access('ct_mgr', 988), grant_access('ct_dir', 988), grant_access('ct_d', 988, 98810),
       grant_access('ct_p1', 988, 98811), grant_access('ct_p2', 988, 98812), grant_access('ct_p3', 988, 98813),
       grant_access('ct_mgr2', 989);

-- Time passes for a partner: its contracts and territory rows move back by days (earliest first,
-- so that no two meet on the way), as the superuser with triggers off.
CREATE FUNCTION pg_temp.travel(partner bigint, days integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SET LOCAL session_replication_role = replica;
    FOR r IN SELECT id FROM rebate.partner_territory WHERE partner_id = partner ORDER BY lower(valid) LOOP
        UPDATE rebate.partner_territory SET valid = daterange(lower(valid) - days, upper(valid) - days) WHERE id = r.id;
    END LOOP;
    FOR r IN SELECT id FROM rebate.partner_contract WHERE partner_id = partner ORDER BY lower(term) LOOP
        UPDATE rebate.partner_contract SET term = daterange(lower(term) - days, upper(term) - days),
                                           terminated_on = terminated_on - days WHERE id = r.id;
    END LOOP;
    SET LOCAL session_replication_role = origin;
END
$$;

-- ---- the flow: a manager, then from 1,000,000 of credit the director ---------------
SET ROLE ct_mgr;
INSERT INTO approval_flow (request_type, name) VALUES ('partner_contract', '经销协议审批') RETURNING id AS flow \gset
INSERT INTO approval_step (flow_id, step_no, name, approver_kind) VALUES (:flow, 1, '渠道经理', 'manager');
INSERT INTO approval_step (flow_id, step_no, name, approver_kind, approver_roles, min_amount)
VALUES (:flow, 2, '总监', 'role', ARRAY['ct_dir'], 1000000);

-- ---- a draft --------------------------------------------------------------------------
INSERT INTO partner_contract (partner_id, code, term, grade_id, credit_limit, note)
VALUES (98811, 'C-P1', daterange(CURRENT_DATE - 30, CURRENT_DATE + 20), 98805, 500000, '首签')
RETURNING id AS c1, status \gset
INSERT INTO partner_contract_territory (contract_id, region_id, exclusive) VALUES (:c1, 98803, true), (:c1, 98804, false);
INSERT INTO partner_contract_program (contract_id, program_id) VALUES (:c1, 98821), (:c1, 98822);
SELECT is(:'status'::text, 'draft', 'a contract starts as a draft');
SELECT is((SELECT string_agg(DISTINCT partner_id::text, ',') FROM partner_contract_territory WHERE contract_id = :c1)
          || ' ' || (SELECT string_agg(DISTINCT partner_id::text, ',') FROM partner_contract_program WHERE contract_id = :c1),
          '98811 98811', 'its territories and programs carry its partner');
SELECT throws_ok($$INSERT INTO partner_contract (partner_id, code, term, status) VALUES (98811, 'X', '[2027-01-01,2028-01-01)', 'active')$$,
                 '42501', NULL, 'a manager does not choose a contract''s status');
SELECT throws_ok(format($$UPDATE partner_contract SET status = 'approved' WHERE id = %s$$, :c1), '42501', NULL,
                 'nor approves it by hand');
SELECT throws_ok($$INSERT INTO partner_contract (partner_id, code, term) VALUES (98811, 'X', '[2027-01-01,)')$$,
                 '23514', NULL, 'a term is bounded');
SELECT throws_ok($$INSERT INTO partner_contract (partner_id, code, term, renewal_of) VALUES (98812, 'X', '[2027-01-01,2028-01-01)', $$ || :c1 || ')',
                 '23503', NULL, 'a renewal is of a contract of the same partner');
SELECT throws_ok($$INSERT INTO partner_contract (partner_id, code, term) VALUES (98910, 'X', '[2027-01-01,2028-01-01)')$$,
                 '23503', NULL, 'another brand''s partner is not found');
RESET ROLE;
SET ROLE ct_p1;
SELECT throws_ok($$INSERT INTO partner_contract (partner_id, code, term) VALUES (98811, 'X', '[2027-01-01,2028-01-01)')$$,
                 '42501', NULL, 'a partner user writes no contract, not even its own');
RESET ROLE;

-- ---- submitted: fixed, and decided through the engine ------------------------------------
SET ROLE ct_mgr;
SELECT is((SELECT status FROM submit_contract(:c1)), 'pending_approval', 'a manager submits a draft');
SELECT is((SELECT format('%s %s %s %s %s', r.request_type, r.amount, r.region_id, r.partner_id, r.current_step)
             FROM approval_request r JOIN partner_contract c ON c.request_id = r.id WHERE c.id = :c1),
          'partner_contract 500000.00 98803 98811 1',
          'its request: the credit limit as amount, the first territory as region, at the manager step');
SELECT throws_ok(format($$UPDATE partner_contract SET credit_limit = 900000 WHERE id = %s$$, :c1), 'RB005',
                 'contract C-P1 is pending approval: its terms are fixed', 'a submitted contract''s terms are fixed');
SELECT throws_ok(format($$INSERT INTO partner_contract_territory (contract_id, region_id) VALUES (%s, 98802)$$, :c1), 'RB005',
                 'contract C-P1 is pending approval: what it grants is fixed', 'so are its territories');
SELECT throws_ok(format($$DELETE FROM partner_contract_program WHERE contract_id = %s$$, :c1), 'RB005', NULL,
                 'and its programs');
SELECT throws_ok(format($$DELETE FROM partner_contract WHERE id = %s$$, :c1), 'RB005',
                 'contract C-P1 is pending approval: only a draft is deleted', 'and it is kept');
SELECT lives_ok(format($$UPDATE partner_contract SET note = '首签, 待盖章' WHERE id = %s$$, :c1), 'its note may still change');
SELECT throws_ok(format('SELECT submit_contract(%s)', :c1), 'RB006', 'contract C-P1 is pending approval, not a draft',
                 'a pending contract is not submitted again');
SELECT is((SELECT count(*)::int FROM my_approval_tasks()), 0, 'the submitting manager does not decide it');
RESET ROLE;
SELECT throws_ok(format($$UPDATE partner_contract SET status = 'active' WHERE id = %s$$, :c1), 'RB001', NULL,
                 'even the owner moves a contract only along its lifecycle');
SET ROLE ct_dir;
SELECT status AS decided FROM approve((SELECT task_id FROM my_approval_tasks() WHERE subject LIKE 'contract C-P1:%'), '同意') \gset
SELECT is(:'decided' || '/' || (SELECT status FROM partner_contract WHERE id = :c1),
          'approved/active', 'approved by another manager, a contract whose term started takes effect at once');
RESET ROLE;

-- ---- what it granted ------------------------------------------------------------------------
SELECT is((SELECT format('%s %s', grade_id, credit_limit) FROM partner WHERE id = 98811), '98805 500000.00',
          'the partner has the contract''s grade and credit limit');
SELECT is((SELECT reason || ' / ' || acting_role FROM partner_grade_history WHERE partner_id = 98811 ORDER BY id DESC LIMIT 1),
          format('contract C-P1 holds from %s / ct_dir', CURRENT_DATE - 30), 'the grade change says why, and who');
SELECT ok(in_territory(98811, 98807, CURRENT_DATE) AND in_territory(98811, 98804, CURRENT_DATE)
          AND in_territory(98811, 98807, CURRENT_DATE + 19) AND NOT in_territory(98811, 98804, CURRENT_DATE + 20),
          'its territories hold for its term (浦东 lies in 上海), as the territory check sees them');
SELECT is((SELECT string_agg(format('%s %s %s', region_id, valid, exclusive), '; ' ORDER BY lower(valid))
             FROM partner_territory WHERE partner_id = 98811 AND region_id = 98803),
          format('98803 [%s,%s) f; 98803 [%s,%s) t', CURRENT_DATE - 200, CURRENT_DATE - 30, CURRENT_DATE - 30, CURRENT_DATE + 20),
          'the open-ended 上海 authorisation ends where the contract starts');
SELECT is((SELECT string_agg(format('%s:%s:%s', granted, object_code, in_effect), ' ' ORDER BY granted, object_code)
             FROM v_contract_grants WHERE partner_id = 98811),
          'credit_limit::t grade:A:t program:ONLY2:f program:VOL:t territory:HZ:t territory:SH:t',
          'v_contract_grants lists what the contract grants and whether the partner has it');
SELECT is((SELECT remark FROM v_contract_grants WHERE partner_id = 98811 AND object_code = 'ONLY2'),
          'the partner is not in the scope of version 1', 'and flags a program whose scope leaves the partner out');

-- ---- overlap, large credit, rejection, withdrawal -------------------------------------------
SET ROLE ct_mgr;
INSERT INTO partner_contract (partner_id, code, term, credit_limit)
VALUES (98811, 'C-P1-BIS', daterange(CURRENT_DATE + 10, CURRENT_DATE + 100), 1000) RETURNING id AS cbis \gset
SELECT throws_ok(format('SELECT submit_contract(%s)', :cbis), 'RB004', 'contract C-P1-BIS overlaps contract C-P1 of the same partner',
                 'a contract overlapping an active one of the partner is refused');
SELECT is((SELECT status FROM partner_contract WHERE id = :cbis), 'draft', 'and stays a draft');
INSERT INTO partner_contract (partner_id, code, term, grade_id, credit_limit)
VALUES (98813, 'C-P3', daterange((date_trunc('month', CURRENT_DATE) + interval '1 month')::date,
                                  (date_trunc('month', CURRENT_DATE) + interval '13 months')::date), 98806, 2000000)
RETURNING id AS c3, lower(term) - CURRENT_DATE AS c3_starts_in \gset
INSERT INTO partner_contract_territory (contract_id, region_id) VALUES (:c3, 98804);
SELECT submit_contract(:c3) \gset
RESET ROLE;
SET ROLE ct_dir;
SELECT is((SELECT format('%s/%s', status, current_step) FROM approve((SELECT task_id FROM my_approval_tasks() WHERE subject LIKE 'contract C-P3:%'))),
          'pending/2', 'a credit limit of 2,000,000 goes on to the director''s step');
SELECT status AS decided FROM approve((SELECT task_id FROM my_approval_tasks() WHERE subject LIKE 'contract C-P3:%')) \gset
SELECT is(:'decided' || '/' || (SELECT status FROM partner_contract WHERE id = :c3),
          'approved/approved', 'approved, a contract whose term has not started waits');
RESET ROLE;
SELECT is((SELECT format('%s %s', coalesce(grade_id::text, 'none'), credit_limit) FROM partner WHERE id = 98813), 'none 0.00',
          'and grants nothing yet');
SET ROLE ct_mgr;
SELECT is((SELECT format('%s %s %s %s', tenant, activated, expired, terminated) FROM apply_contracts(988)), '988 0 0 0',
          'apply_contracts finds nothing due');
INSERT INTO partner_contract (partner_id, code, term, grade_id, credit_limit)
VALUES (98812, 'C-P2', daterange(CURRENT_DATE, CURRENT_DATE + 365), 98806, 100) RETURNING id AS c4 \gset
INSERT INTO partner_contract_territory (contract_id, region_id) VALUES (:c4, 98804);
SELECT submit_contract(:c4) \gset
RESET ROLE;
SET ROLE ct_dir;
SELECT reject((SELECT task_id FROM my_approval_tasks() WHERE subject LIKE 'contract C-P2:%'), '额度太低') \gset
RESET ROLE;
SET ROLE ct_mgr;
SELECT is((SELECT status FROM partner_contract WHERE id = :c4), 'draft', 'rejected, a contract is a draft again');
UPDATE partner_contract SET credit_limit = 300000 WHERE id = :c4;
SELECT is((SELECT credit_limit FROM partner_contract WHERE id = :c4), 300000.00, 'and may be amended');
SELECT withdraw_request((SELECT request_id FROM submit_contract(:c4)), '再议') \gset
SELECT is((SELECT status FROM partner_contract WHERE id = :c4), 'draft', 'withdrawn, too');
SELECT submit_contract(:c4) \gset
RESET ROLE;
SET ROLE ct_dir;
SELECT approve((SELECT task_id FROM my_approval_tasks() WHERE subject LIKE 'contract C-P2:%')) \gset
RESET ROLE;
SELECT is((SELECT status FROM partner_contract WHERE id = :c4) || ' ' || (SELECT credit_limit FROM partner WHERE id = 98812),
          'active 300000.00', 'the amended contract is approved and takes effect');

-- ---- who sees what -------------------------------------------------------------------------
SET ROLE ct_p1;
SELECT is((SELECT string_agg(code, ',' ORDER BY code) FROM partner_contract), 'C-P1,C-P1-BIS', 'a dealer reads its own contracts');
SELECT is((SELECT count(*)::int FROM partner_contract_territory) || ' ' || (SELECT count(DISTINCT partner_id)::int FROM v_contract_grants),
          '2 1', 'and their territories and grants only');
SELECT throws_ok(format('SELECT submit_contract(%s)', :cbis), '42501', NULL, 'it submits none');
SELECT throws_ok(format($$UPDATE partner_contract SET note = 'x' WHERE id = %s$$, :c1), '42501', NULL, 'nor changes one');
RESET ROLE;
SET ROLE ct_p2;
SELECT is((SELECT string_agg(code, ',' ORDER BY code) FROM partner_contract), 'C-P2', 'its sibling reads only its own');
SELECT is((SELECT count(*)::int FROM partner_contract_program), 0, 'and none of P1''s programs');
RESET ROLE;
SET ROLE ct_d;
SELECT is((SELECT string_agg(code, ',' ORDER BY code) FROM partner_contract), 'C-P1,C-P1-BIS,C-P2',
          'their distributor reads its dealers'' contracts, not the outside dealer''s');
RESET ROLE;
SET ROLE ct_mgr2;
SELECT is((SELECT count(*)::int FROM partner_contract) + (SELECT count(*)::int FROM v_contract_grants), 0,
          'another brand''s manager reads none');
SELECT throws_ok(format('SELECT submit_contract(%s)', :c1), 'P0002', format('contract %s does not exist or is not visible to you', :c1),
                 'submits none');
SELECT throws_ok(format($$SELECT terminate_contract(%s, CURRENT_DATE, 'x')$$, :c1), 'P0002', NULL, 'terminates none');
SELECT throws_ok(format('SELECT renew_contract(%s)', :c1), 'P0002', NULL, 'renews none');
SELECT throws_ok('SELECT renew_contract(-1)', 'P0002', 'contract -1 does not exist or is not visible to you',
                 'exactly as for a contract that does not exist');
SELECT throws_ok(format('INSERT INTO partner_contract_territory (tenant_id, contract_id, region_id) VALUES (988, %s, 98804)', :cbis),
                 '42501', NULL, 'and adds no territory to one');
SELECT throws_ok('SELECT apply_contracts(988)', '42501', 'permission denied to apply the contracts of tenant 988',
                 'nor applies another brand''s contracts');
RESET ROLE;
SET ROLE ct_mgr;
SET ROLE rebate_manager;
SELECT is((SELECT count(*)::int FROM partner_contract), 0, 'through rebate_manager, a manager reads no contract');
SELECT throws_ok(format('SELECT submit_contract(%s)', :cbis), 'P0002', NULL, 'submits none');
SELECT throws_ok('SELECT apply_contracts(988)', '42501', NULL, 'applies none');
SELECT throws_ok('SELECT contract_alerts(988)', '42501', NULL, 'sends no alert');
RESET ROLE;

-- ---- alerts and renewal ---------------------------------------------------------------------
SET ROLE ct_mgr;
SELECT is((SELECT notified FROM contract_alerts(988, 30)), 1, 'C-P1 ends within 30 days with nothing after it: the managers are told');
SELECT is((SELECT notified FROM contract_alerts(988, 30)), 0, 'once');
SELECT is((SELECT format('%s %s %s %s', event, coalesce(partner_id::text, 'managers'), detail ->> 'days_left', title)
             FROM notification WHERE subject_type = 'partner_contract'),
          format('contract_expiring managers 19 contract C-P1 of partner P1 ends on %s and no contract follows it', CURRENT_DATE + 19),
          'a contract_expiring notice for the managers, with the days left');
SELECT renew_contract(:c1) AS renewal \gset
SELECT is((SELECT format('%s %s %s %s %s', code, term, grade_id, credit_limit, status) FROM partner_contract WHERE renewal_of = :c1),
          format('C-P1/%s [%s,%s) 98805 500000.00 draft', CURRENT_DATE + 20, CURRENT_DATE + 20, CURRENT_DATE + 70),
          'renew_contract drafts the successor: same grants, a term as long from where the old one ends');
SELECT is((SELECT string_agg(t.region_id || ':' || t.exclusive, ',' ORDER BY t.region_id) FROM partner_contract_territory t
             JOIN partner_contract c ON c.id = t.contract_id WHERE c.renewal_of = :c1)
          || ' ' || (SELECT string_agg(g.program_id::text, ',' ORDER BY g.program_id) FROM partner_contract_program g
                       JOIN partner_contract c ON c.id = g.contract_id WHERE c.renewal_of = :c1),
          '98803:true,98804:false 98821,98822', 'with its territories and programs');
SELECT is((SELECT term::text FROM renew_contract(:c3, code => 'C-P3-R')),
          format('[%s,%s)', (date_trunc('month', CURRENT_DATE) + interval '13 months')::date,
                 (date_trunc('month', CURRENT_DATE) + interval '25 months')::date),
          'a term of whole months is renewed by as many months');
SELECT submit_contract(c.id) FROM partner_contract c WHERE c.renewal_of = :c1 \gset
RESET ROLE;
SET ROLE ct_dir;
SELECT approve((SELECT task_id FROM my_approval_tasks() WHERE subject LIKE 'contract C-P1/%')) \gset
RESET ROLE;
SET ROLE ct_p1;
SELECT is((SELECT format('%s %s', signed_on = CURRENT_DATE, signed_by) FROM sign_contract((SELECT id FROM partner_contract WHERE renewal_of = :c1))),
          't ct_p1', 'the dealer signs its approved renewal in the portal');
SELECT throws_ok(format('SELECT sign_contract(%s)', :cbis), 'RB006', 'contract C-P1-BIS is draft', 'not a draft');
RESET ROLE;
SET ROLE ct_d;
SELECT throws_ok(format('SELECT sign_contract(%s)', :c1), 'P0002', NULL, 'its distributor signs nothing for it');
RESET ROLE;

-- ---- 20 days later: C-P1 expires, its renewal takes over -----------------------------------------
SELECT pg_temp.travel(98811, 20);
SET ROLE ct_mgr;
SELECT is((SELECT format('%s %s %s', activated, expired, terminated) FROM apply_contracts(988)), '1 1 0',
          'the renewal takes effect and C-P1 expires');
SELECT is((SELECT format('%s %s', activated, expired) FROM apply_contracts(988)), '0 0', 'run again, nothing more happens');
RESET ROLE;
SELECT is((SELECT format('%s %s %s', p.grade_id, p.credit_limit, (SELECT count(*) FROM partner_grade_history h WHERE h.partner_id = p.id))
             FROM partner p WHERE p.id = 98811),
          '98805 500000.00 1', 'the successor keeps grade and credit limit: no lapse in between');
SELECT ok(in_territory(98811, 98807, CURRENT_DATE - 1) AND in_territory(98811, 98807, CURRENT_DATE)
          AND in_territory(98811, 98807, CURRENT_DATE + 49) AND NOT in_territory(98811, 98807, CURRENT_DATE + 50),
          'the territories run on through the renewal''s term');
SELECT is((SELECT string_agg(status, ',' ORDER BY id) FROM partner_contract WHERE partner_id = 98811), 'expired,draft,active',
          'C-P1 expired, its renewal active');

-- ---- C-P3 takes effect, then lapses without a successor ---------------------------------------
SELECT pg_temp.travel(98813, :c3_starts_in);
SELECT is((SELECT activated FROM apply_contracts(988)), 1, 'C-P3 takes effect once its term starts');
SELECT is((SELECT format('%s %s', grade_id, credit_limit) FROM partner WHERE id = 98813), '98806 2000000.00', 'granting its grade and credit');
SELECT pg_temp.travel(98813, 400);
SELECT is((SELECT sum(expired)::int FROM apply_contracts()), 1, 'a group administrator''s run for every tenant expires it');
SELECT is((SELECT format('%s %s', coalesce(grade_id::text, 'none'), credit_limit) FROM partner WHERE id = 98813), 'none 0.00',
          'with no successor, its grade and credit limit lapse');
SELECT is((SELECT reason FROM partner_grade_history WHERE partner_id = 98813 ORDER BY id DESC LIMIT 1),
          'contract C-P3 ended: what it granted lapsed', 'the lapse is in the grade history');
SELECT ok(NOT in_territory(98813, 98804, CURRENT_DATE) AND in_territory(98813, 98804, CURRENT_DATE - 36),
          'its territory lapsed by its own dates');
SELECT is((SELECT count(*)::int FROM v_contract_grants WHERE partner_id = 98813), 0, 'and it grants nothing any more');

-- ---- termination -----------------------------------------------------------------------------------
SET ROLE ct_p2;
SELECT throws_ok(format($$SELECT terminate_contract(%s, CURRENT_DATE, 'x')$$, :c4), '42501', NULL, 'a partner user terminates nothing');
RESET ROLE;
SET ROLE ct_mgr;
SELECT throws_ok(format($$SELECT terminate_contract(%s, CURRENT_DATE + 400, '违约')$$, :c4), '22023', NULL,
                 'a termination lies within the term');
SELECT throws_ok(format($$SELECT terminate_contract(%s, CURRENT_DATE, '过期')$$, :c1), 'RB006', 'contract C-P1 is expired',
                 'an expired contract is not terminated');
SELECT is((SELECT format('%s %s %s', status, effective, terminated_by) FROM terminate_contract(:c4, CURRENT_DATE + 30, '窜货违约')),
          format('active [%s,%s) ct_mgr', CURRENT_DATE, CURRENT_DATE + 30),
          'terminated from a later day, a contract holds until then');
SELECT ok(in_territory(98812, 98804, CURRENT_DATE + 29) AND NOT in_territory(98812, 98804, CURRENT_DATE + 30),
          'its territory ends that day');
SELECT throws_ok(format($$SELECT terminate_contract(%s, CURRENT_DATE + 10, '再次')$$, :c4), 'RB006',
                 format('contract C-P2 is terminated already, from %s', CURRENT_DATE + 30), 'once');
RESET ROLE;
SELECT pg_temp.travel(98812, 30);
SET ROLE ct_mgr;
SELECT is((SELECT terminated FROM apply_contracts(988)), 1, 'when the day comes it ends terminated');
RESET ROLE;
SELECT is((SELECT format('%s %s', coalesce(grade_id::text, 'none'), credit_limit) FROM partner WHERE id = 98812), 'none 0.00',
          'and what it granted lapses');
SELECT is((SELECT string_agg(format('%s', valid), '; ' ORDER BY lower(valid)) FROM partner_territory WHERE partner_id = 98812),
          format('[%s,%s); [%s,%s)', CURRENT_DATE - 230, CURRENT_DATE - 30, CURRENT_DATE - 30, CURRENT_DATE),
          'P2''s own authorisation gave way to the contract''s, which ended with it');
SET ROLE ct_mgr;
SELECT is((SELECT status FROM terminate_contract((SELECT id FROM partner_contract WHERE renewal_of = :c1), CURRENT_DATE, '经营不善')),
          'terminated', 'terminated from today, a contract ends at once');
RESET ROLE;
SELECT is((SELECT format('%s %s', coalesce(grade_id::text, 'none'), credit_limit) FROM partner WHERE id = 98811), 'none 0.00',
          'what it granted lapses at once');
SELECT ok(NOT in_territory(98811, 98807, CURRENT_DATE) AND in_territory(98811, 98807, CURRENT_DATE - 1)
          AND (SELECT bool_and(t.territory_id IS NULL) FROM partner_contract_territory t
                 JOIN partner_contract c ON c.id = t.contract_id WHERE c.renewal_of = :c1),
          'its territory rows, begun today, are gone; the days before stay authorised by C-P1');
SELECT is((SELECT count(*)::int FROM audit_log WHERE table_name = 'partner_contract' AND tenant_id = 988) > 0, true,
          'contracts are audited');

SELECT * FROM finish();
ROLLBACK;
