-- Settlement: stacking, close_period, statements and their lifecycle by role,
-- interim and delta settlement, verify_period, amounts in words.  A small
-- tenant whose every statement line is worked out by hand in the comments.
BEGIN;
SET search_path = public, rebate;
SELECT plan(84);

-- ---- the tenant ------------------------------------------------------------
-- Distributor D1 (总代) with dealers S1 and S2 below it; P4 alone.
-- Product X (list 1,000, cost 600), Y (list 100, cost 60).  Rounding half_up, CNY.
INSERT INTO tenant (id, code, name) VALUES (951, 'STL', '结算测试');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 951;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9510, 951, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit) VALUES
    (9601, 951, 'D1', '总代', 'distributor', 9510, 'active', 10000000),
    (9604, 951, 'P4', '独立经销', 'dealer', 9510, 'active', 10000000);
INSERT INTO partner (id, tenant_id, code, name, home_region_id, state, credit_limit, parent_id) VALUES
    (9602, 951, 'S1', '二代一', 9510, 'active', 10000000, 9601),
    (9603, 951, 'S2', '二代二', 9510, 'active', 10000000, 9601);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9700, 951, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price, standard_cost) VALUES
    (9701, 951, 'X', '产品X', 9700, 1000, 600), (9702, 951, 'Y', '产品Y', 9700, 100, 60);

CREATE FUNCTION pg_temp.sale(code text, partner bigint, on_date date, product bigint, qty numeric, price numeric,
                             kind text DEFAULT 'order', original text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date, status, kind, original_order_id)
    VALUES (951, code, partner, 9510, on_date, 'approved', kind,
            (SELECT o.id FROM rebate.sales_order o WHERE o.code = original AND o.tenant_id = 951));
    INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
    SELECT 951, o.id, 1, product, qty, price FROM rebate.sales_order o WHERE o.code = sale.code AND o.tenant_id = 951;
$$;
CREATE FUNCTION pg_temp.stmt(partner bigint, period daterange) RETURNS bigint LANGUAGE sql AS $$
    SELECT id FROM rebate.statement WHERE partner_id = partner AND statement.period = stmt.period
$$;
-- a statement's lines as text: kind program[/override] program_period: gross - already = net
CREATE FUNCTION pg_temp.lines(partner bigint, period daterange) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(format('%s %s%s %s: %s-%s=%s', l.line_kind, coalesce(p.code, 'manual'),
                             CASE WHEN l.component = 'override' THEN '/override' ELSE '' END,
                             to_char(lower(l.program_period), 'MM') || '-' || to_char(upper(l.program_period) - 1, 'MM'),
                             l.gross, l.already_settled, l.net), '; ' ORDER BY l.line_no)
      FROM rebate.statement_line l LEFT JOIN rebate.program p ON p.id = l.program_id
     WHERE l.statement_id = pg_temp.stmt(partner, period)
$$;

-- Q4 2026 documents:
--   O1 S1 10-05 12 X @1,000 = 12,000 (cost 7,200)     O2 S1 11-10 5 X @1,000 = 5,000 (cost 3,000)
--   O3 S2 10-20 3 X @333.33 = 999.99 (cost 1,800)      O4 P4 10-12 12 X @1,000 = 12,000 (cost 7,200)
--   O5 P4 12-03 30 Y @100 = 3,000 (cost 1,800)
--   payments: P4 6,000 on 10-25, S1 8,000 on 11-15.   targets Q4 (sales): S1 10,000, P4 20,000.
SELECT pg_temp.sale('O1', 9602, '2026-10-05', 9701, 12, 1000);
SELECT pg_temp.sale('O2', 9602, '2026-11-10', 9701, 5, 1000);
SELECT pg_temp.sale('O3', 9603, '2026-10-20', 9701, 3, 333.33);
SELECT pg_temp.sale('O4', 9604, '2026-10-12', 9701, 12, 1000);
SELECT pg_temp.sale('O5', 9604, '2026-12-03', 9702, 30, 100);
INSERT INTO payment (tenant_id, code, partner_id, received_on, amount) VALUES
    (951, 'PAY-1', 9604, '2026-10-25', 6000), (951, 'PAY-2', 9602, '2026-11-15', 8000);
INSERT INTO target (tenant_id, partner_id, metric, period, value) VALUES
    (951, 9602, 'sales_amount', '[2026-10-01,2027-01-01)', 10000),
    (951, 9604, 'sales_amount', '[2026-10-01,2027-01-01)', 20000);

-- Programs, all from 2026-10-01:
--   VOL    quarterly net sales, retroactive 1.5% / 3% from 10,000, cap 500, interim (settled monthly,
--          cumulative), 总代 override 0.5% on its dealers' sales
--   TGT    quarterly against target, 2% on the whole basis from 100%        } group MAXG: max
--   MARGIN quarterly gross margin, 4%                                        }
--   UNIT   monthly, 3 per full 10 units of X                                } group CASG: cascade
--   CASH   monthly collections, 1%, reduced by what UNIT paid               }
INSERT INTO program_group (id, tenant_id, code, name, rule) VALUES
    (9801, 951, 'MAXG', '取其优', 'max'), (9802, 951, 'CASG', '依次扣减', 'cascade'),
    (9803, 951, 'EXCG', '择一', 'exclusive'), (9804, 951, 'SUMG', '叠加', 'sum');
INSERT INTO program (id, tenant_id, code, name) VALUES
    (9901, 951, 'VOL', '季度阶梯'), (9902, 951, 'TGT', '季度超额'), (9903, 951, 'MARGIN', '季度毛利'),
    (9904, 951, 'UNIT', '月度单品'), (9905, 951, 'CASH', '月度回款'), (9906, 951, 'E1', '择一甲'), (9907, 951, 'E2', '择一乙');
INSERT INTO program_version (id, tenant_id, program_id, effective, metric, kind, schedule, cap, interim, override_schedule)
VALUES (99001, 951, 9901, '[2026-10-01,)', 'net_sales', 'tiered', 'retroactive 0:1.5%, 10000:3%', 500, true, 'retroactive 0:0.5%');
INSERT INTO program_version (id, tenant_id, program_id, effective, metric, kind, schedule, group_id, priority) VALUES
    (99002, 951, 9902, '[2026-10-01,)', 'net_sales', 'overachievement', 'retroactive 1.0:2%', 9801, 1),
    (99003, 951, 9903, '[2026-10-01,)', 'gross_margin', 'tiered', 'retroactive 0:4%', 9801, 2);
INSERT INTO program_version (id, tenant_id, program_id, effective, metric, kind, unit_amount, unit_size, product_ids,
                             period_unit, group_id, priority)
VALUES (99004, 951, 9904, '[2026-10-01,)', 'quantity', 'per_unit', 3, 10, '{9701}', 'month', 9802, 1);
INSERT INTO program_version (id, tenant_id, program_id, effective, metric, kind, schedule, period_unit, group_id, priority)
VALUES (99005, 951, 9905, '[2026-10-01,)', 'collected', 'tiered', 'retroactive 0:1%', 'month', 9802, 2);
SELECT activate_program_version(id) FROM program_version WHERE tenant_id = 951 ORDER BY id;
-- two drafts, only to give apply_stacking an exclusive and a sum group
INSERT INTO program_version (id, tenant_id, program_id, effective, metric, kind, schedule, group_id, priority) VALUES
    (99006, 951, 9906, '[2026-10-01,)', 'net_sales', 'tiered', 'retroactive 0:1%', 9803, 1),
    (99007, 951, 9907, '[2026-10-01,)', 'net_sales', 'tiered', 'retroactive 0:1%', 9803, 2);

CREATE ROLE t_st_mgr; CREATE ROLE t_st_s1; CREATE ROLE t_st_d1; CREATE ROLE t_st_p4;
SELECT grant_access('t_st_mgr', 951);
SELECT grant_access('t_st_s1', 951, 9602);
SELECT grant_access('t_st_d1', 951, 9601);
SELECT grant_access('t_st_p4', 951, 9604);

-- ---- stacking, one rule at a time --------------------------------------------
-- apply_stacking on given results: exclusive pays the first (in priority order) that pays anything.
CREATE FUNCTION pg_temp.r(version_id bigint, program_id bigint, rebate numeric, group_id bigint,
                          partner_id bigint DEFAULT 9604)
RETURNS rebate.program_result LANGUAGE sql AS $$
    SELECT ROW(program_id, version_id, 1, partner_id, 'own', '[2026-10-01,2027-01-01)'::daterange, '2026-12-31'::date,
               'net_sales', 'tiered', 1000, NULL, 1, 0.01, rebate, false, rebate, NULL, NULL, 1, 'ok', 'test',
               group_id, NULL, rebate, NULL, NULL, NULL)::rebate.program_result
$$;
SELECT is((SELECT string_agg(paid::text, ',' ORDER BY version_id)
             FROM apply_stacking(ARRAY[pg_temp.r(99006, 9906, 0, 9803), pg_temp.r(99007, 9907, 7, 9803)])),
          '0,7', 'exclusive: the first in priority order pays nothing, so the second, which does, is paid');
SELECT is((SELECT string_agg(paid::text, ',' ORDER BY version_id)
             FROM apply_stacking(ARRAY[pg_temp.r(99006, 9906, 5, 9803), pg_temp.r(99007, 9907, 7, 9803)])),
          '5,0', 'exclusive: the first that pays is the only one paid, even when a later one would pay more');
UPDATE program_version SET group_id = 9804 WHERE id IN (99006, 99007);
SELECT is((SELECT string_agg(paid::text, ',' ORDER BY version_id)
             FROM apply_stacking(ARRAY[pg_temp.r(99006, 9906, 5, 9804), pg_temp.r(99007, 9907, 7, 9804)])),
          '5,7', 'sum: both are paid');
UPDATE program_version SET group_id = 9801 WHERE id IN (99006, 99007);
SELECT is((SELECT string_agg(paid::text, ',' ORDER BY version_id)
             FROM apply_stacking(ARRAY[pg_temp.r(99006, 9906, 7, 9801), pg_temp.r(99007, 9907, 7, 9801)])),
          '7,0', 'max: on a tie the first in priority order is paid');
SELECT is((SELECT stacking FROM apply_stacking(ARRAY[pg_temp.r(99006, 9906, 5, 9801), pg_temp.r(99007, 9907, 7, 9801)])
            WHERE version_id = 99006),
          'max in group MAXG: not paid, program E2 pays instead', 'the outcome is said in words');
SELECT is((SELECT string_agg(paid::text || ' ' || stacking, ' | ' ORDER BY version_id)
             FROM apply_stacking(ARRAY[pg_temp.r(99006, 9906, 0, 9801), pg_temp.r(99007, 9907, 0, 9801)])),
          '0 max in group MAXG: pays, the largest | 0 max in group MAXG: not paid, program E1 pays instead',
          'max: when none earns anything, the first in priority order is the one that pays (nothing)');
SELECT is((SELECT string_agg(coalesce(paid::text, '-') || ' ' || stacking, ' | ' ORDER BY version_id)
             FROM apply_stacking(ARRAY[pg_temp.r(99006, 9906, NULL, 9801), pg_temp.r(99007, 9907, 7, 9801)])),
          '- max in group MAXG: not shown, a program of the group is not shown to you | - max in group MAXG: not shown, a program of the group is not shown to you',
          'max: a member not shown (rebate NULL) makes what every member of the group pays unknown');
UPDATE program_version SET group_id = 9803 WHERE id IN (99006, 99007);
SELECT is((SELECT string_agg(paid::text || ' ' || stacking, ' | ' ORDER BY version_id)
             FROM apply_stacking(ARRAY[pg_temp.r(99006, 9906, 0, 9803), pg_temp.r(99007, 9907, 0, 9803)])),
          '0 exclusive in group EXCG: no program of the group pays | 0 exclusive in group EXCG: no program of the group pays',
          'exclusive: when none pays anything, none is the one that pays');
-- two partners, and groups of every rule in one call: each group judged on its own
UPDATE program_version SET group_id = 9804 WHERE id = 99007;
SELECT is((SELECT string_agg(x.partner_id || ':' || x.version_id || '=' || coalesce(x.paid::text, '-'), ' '
                             ORDER BY x.partner_id, x.version_id)
             FROM apply_stacking(ARRAY[pg_temp.r(99006, 9906, 5, 9803), pg_temp.r(99007, 9907, 7, 9804),
                                       pg_temp.r(99006, 9906, 4, 9803, 9601), pg_temp.r(99007, 9907, NULL, 9804, 9601),
                                       pg_temp.r(99004, 9904, 3, NULL)]) x),
          '9601:99006=4 9601:99007=- 9604:99004=3 9604:99006=5 9604:99007=7',
          'results outside groups are paid what they earn; each group is stacked by its own rule');
DELETE FROM program_version WHERE id IN (99006, 99007);

-- ---- real-time progress with stacking, as the partner sees it ------------------
-- P4 on 2026-10-31: VOL 12,000 -> 3% = 360; UNIT Oct 12 X -> 1 x 3 = 3; CASH Oct 6,000 less UNIT's 3 = 5,997 x 1% = 59.97.
SET ROLE t_st_p4;
SELECT is((SELECT string_agg(program_code || '=' || coalesce(paid::text, '-'), ' ' ORDER BY program_code)
             FROM progress(9604, '2026-10-31') WHERE component = 'own' AND status <> 'not_shown'),
          'CASH=59.97 TGT=- UNIT=3 VOL=360', 'a partner user sees its progress, cascade applied');
SELECT is((SELECT status FROM progress(9604, '2026-10-31') WHERE program_code = 'MARGIN'), 'not_shown',
          'a gross-margin program is listed for the partner user, without the numbers that would reveal costs');
SELECT is((SELECT paid FROM progress(9604, '2026-10-31') WHERE program_code = 'TGT'), NULL,
          'and what the other program of its max group pays is not shown either: it depends on the margin');
SELECT is((SELECT count(*) FROM v_partner_progress), (SELECT count(*) FROM progress(9604, CURRENT_DATE)),
          'v_partner_progress shows a partner user only its own rows');
RESET ROLE;
SET ROLE t_st_mgr;
SELECT is((SELECT string_agg(program_code || '=' || paid, ' ' ORDER BY program_code) FROM progress(9604, '2026-10-31')
            WHERE component = 'own'),
          'CASH=59.97 MARGIN=192 TGT=0 UNIT=3 VOL=360',
          'a manager sees the margin too: 12,000 - 7,200 = 4,800 x 4% = 192, the max of MARGIN and TGT (0)');
RESET ROLE;

-- ---- closing October -------------------------------------------------------------
-- VOL interim (Q4 so far): S1 12,000 x 3% = 360; S2 999.99 x 1.5% = 14.99985 -> 15.00; P4 360; D1 0;
--   D1 override (12,000 + 999.99) x 0.5% = 64.99995 -> 65.00.
-- UNIT Oct: S1 12 X -> 3; S2 3 X -> 0; P4 12 X -> 3.  CASH Oct: P4 (6,000 - 3) x 1% = 59.97; S1 0 - 3 -> 0.
SET ROLE t_st_mgr;
SELECT is((SELECT format('%s statements, %s lines, %s', statements, lines, total) FROM close_period(951, '[2026-10-01,2026-11-01)')),
          '4 statements, 13 lines, 865.97', 'October closes: one statement per partner, one line per program and period');
SELECT is(pg_temp.lines(9602, '[2026-10-01,2026-11-01)'),
          'final CASH 10-10: 0.00-0.00=0.00; final UNIT 10-10: 3.00-0.00=3.00; interim VOL 10-12: 360.00-0.00=360.00',
          'S1: final lines for the monthly programs, an interim line for the quarter');
SELECT is(pg_temp.lines(9601, '[2026-10-01,2026-11-01)'),
          'final CASH 10-10: 0.00-0.00=0.00; final UNIT 10-10: 0.00-0.00=0.00; interim VOL 10-12: 0.00-0.00=0.00; interim VOL/override 10-12: 65.00-0.00=65.00',
          'D1: its override on S1 and S2, rounded once, half up');
SELECT is(pg_temp.lines(9604, '[2026-10-01,2026-11-01)'),
          'final CASH 10-10: 59.97-0.00=59.97; final UNIT 10-10: 3.00-0.00=3.00; interim VOL 10-12: 360.00-0.00=360.00',
          'P4: collections reduced by the per-unit rebate of the same cascade group');
SELECT is((SELECT stacking FROM statement_line WHERE statement_id = pg_temp.stmt(9604, '[2026-10-01,2026-11-01)')
            AND program_id = 9905),
          'cascade in group CASG: rated on 5997, the basis 6000 less 3 paid by earlier programs', 'the cascade, in words');
SELECT is((SELECT total FROM statement WHERE id = pg_temp.stmt(9603, '[2026-10-01,2026-11-01)')), 15.00,
          'S2: 999.99 x 1.5% = 14.99985, rounded once at the line: 15.00');
SELECT is((SELECT count(*) FROM statement s WHERE s.tenant_id = 951
             AND s.total <> (SELECT sum(l.net) FROM statement_line l WHERE l.statement_id = s.id)), 0::bigint,
          'every total is the sum of its lines');
SELECT is((SELECT format('%s statements, %s lines, %s', statements, lines, total) FROM close_period(951, '[2026-10-01,2026-11-01)')),
          '4 statements, 13 lines, 865.97', 'closing again recomputes the drafts');
SELECT is((SELECT count(*) FROM statement_line l JOIN statement s ON s.id = l.statement_id WHERE s.tenant_id = 951), 13::bigint,
          'and duplicates nothing');
SELECT is((SELECT count(*) FROM verify_period(951, '[2026-10-01,2026-11-01)')), 0::bigint,
          'verify_period: the independent recomputation agrees with every line');
RESET ROLE;

-- ---- who may do what with a statement --------------------------------------------
SET ROLE t_st_s1;
SELECT is((SELECT count(*) FROM statement), 0::bigint, 'a partner user does not see draft statements');
SELECT throws_ok($$SELECT issue_statement(pg_temp.stmt(9602, '[2026-10-01,2026-11-01)'))$$, '42501', NULL,
                 'a partner user cannot issue');
RESET ROLE;
SET ROLE t_st_mgr;
SELECT is(issue_statements(951, '[2026-10-01,2026-11-01)'), 4, 'the manager issues the four statements');
SELECT throws_ok($$SELECT mark_statement_paid(pg_temp.stmt(9602, '[2026-10-01,2026-11-01)'))$$, 'RB001', NULL,
                 'an issued statement is not paid before the partner confirms it');
SELECT throws_ok($$UPDATE statement SET total = 0 WHERE id = pg_temp.stmt(9602, '[2026-10-01,2026-11-01)')$$, 'RB061', NULL,
                 'an issued statement''s amounts cannot change');
SELECT throws_ok($$DELETE FROM statement_line WHERE statement_id = pg_temp.stmt(9602, '[2026-10-01,2026-11-01)')$$, 'RB061', NULL,
                 'nor its lines');
RESET ROLE;
SET ROLE t_st_s1;
SELECT is((SELECT count(*) FROM statement), 1::bigint, 'once issued, the partner user sees its own statement, and only it');
SELECT is((confirm_statement(pg_temp.stmt(9602, '[2026-10-01,2026-11-01)'))).status, 'confirmed', 'S1 confirms its statement');
SELECT throws_ok($$SELECT confirm_statement((SELECT max(id) FROM rebate.statement WHERE partner_id = 9603))$$, 'P0002', NULL,
                 'S1 cannot confirm S2''s statement, nor learn it exists');
RESET ROLE;
SET ROLE t_st_d1;
SELECT is((SELECT count(*) FROM statement), 3::bigint, 'the 总代 user sees its own and its dealers'' statements');
SELECT throws_ok($$SELECT confirm_statement(pg_temp.stmt(9603, '[2026-10-01,2026-11-01)'))$$, '42501', NULL,
                 'but confirms only its own');
SELECT is((confirm_statement(pg_temp.stmt(9601, '[2026-10-01,2026-11-01)'))).status, 'confirmed', 'which it does');
RESET ROLE;
SET ROLE t_st_p4;
SELECT throws_ok($$SELECT dispute_statement(pg_temp.stmt(9604, '[2026-10-01,2026-11-01)'), '  ')$$, '22023', NULL,
                 'a dispute needs a reason');
SELECT is((dispute_statement(pg_temp.stmt(9604, '[2026-10-01,2026-11-01)'), '回款应按到账日计算')).status, 'disputed',
          'P4 disputes its statement, with a reason');
SELECT throws_ok($$SELECT resolve_statement(pg_temp.stmt(9604, '[2026-10-01,2026-11-01)'), 20, '同意补差')$$, '42501', NULL,
                 'a partner user cannot resolve');
RESET ROLE;
SET ROLE t_st_mgr;
SELECT is((resolve_statement(pg_temp.stmt(9604, '[2026-10-01,2026-11-01)'), 20, '同意补差 20 元')).status, 'resolved',
          'the manager resolves the dispute with an adjustment of 20 on the next statement');
SELECT is((mark_statement_paid(pg_temp.stmt(9602, '[2026-10-01,2026-11-01)'), 'CN-20261120-01')).payment_reference,
          'CN-20261120-01', 'the manager marks the confirmed statement paid');
SELECT is((SELECT string_agg(new_row ->> 'status', ',' ORDER BY id) FROM audit_log
            WHERE table_name = 'statement' AND row_id = pg_temp.stmt(9602, '[2026-10-01,2026-11-01)')),
          'draft,issued,confirmed,paid', 'every step of the lifecycle is in the audit log');
SELECT is((SELECT string_agg(acting_role::text, ',' ORDER BY id) FROM audit_log
            WHERE table_name = 'statement' AND row_id = pg_temp.stmt(9604, '[2026-10-01,2026-11-01)')),
          't_st_mgr,t_st_mgr,t_st_p4,t_st_mgr', 'with who took it');
SELECT throws_ok($$SELECT close_period(951, '[2026-09-01,2026-10-01)')$$, 'RB062', NULL,
                 'an earlier period cannot be closed once a later one is settled');
SELECT throws_ok($$SELECT close_period(951, NULL)$$, '22023', NULL,
                 'a period without bounds is refused');
SELECT throws_ok(format('SELECT close_period(951, %L)', daterange(date_trunc('month', current_date)::date,
                                                                     (date_trunc('month', current_date) + interval '1 month')::date)),
                 'RB062', format('period %s has not ended', daterange(date_trunc('month', current_date)::date,
                                                                     (date_trunc('month', current_date) + interval '1 month')::date)),
                 'the month still running is not closed unless asked to close early');
RESET ROLE;

-- ---- closing November ------------------------------------------------------------
-- VOL interim: S1 17,000 x 3% = 510, capped at 500: 500 - 360 = 140.  D1 override (17,000 + 999.99) x 0.5%
--   = 89.99995 -> 90.00 - 65 = 25.  S2 and P4 unchanged: 0 net.  UNIT Nov: nobody reaches 10 X.
--   CASH Nov: S1 8,000 x 1% = 80 (UNIT paid nothing to reduce it by).
--   P4's next statement carries the 20 agreed on its dispute, as a manual line.
SET ROLE t_st_mgr;
SELECT is((SELECT total FROM close_period(951, '[2026-11-01,2026-12-01)')), 265.00, 'November: 140 + 80 + 25 + 20 = 265');
SELECT is(pg_temp.lines(9604, '[2026-11-01,2026-12-01)'),
          'final CASH 11-11: 0.00-0.00=0.00; final UNIT 11-11: 0.00-0.00=0.00; interim VOL 10-12: 360.00-360.00=0.00; manual manual 10-10: 20.00-0.00=20.00',
          'P4: the agreed 20 comes as a manual line referring to the disputed October statement');
SELECT is(pg_temp.lines(9602, '[2026-11-01,2026-12-01)'),
          'final CASH 11-11: 80.00-0.00=80.00; final UNIT 11-11: 0.00-0.00=0.00; interim VOL 10-12: 500.00-360.00=140.00',
          'S1: the interim line re-rates the quarter so far and pays the difference (gross, already settled, net)');
SELECT is((SELECT cap_applied FROM statement_line WHERE statement_id = pg_temp.stmt(9602, '[2026-11-01,2026-12-01)')
            AND program_id = 9901), true, 'the cap is marked on the line');
SELECT is(pg_temp.lines(9601, '[2026-11-01,2026-12-01)'),
          'final CASH 11-11: 0.00-0.00=0.00; final UNIT 11-11: 0.00-0.00=0.00; interim VOL 10-12: 0.00-0.00=0.00; interim VOL/override 10-12: 90.00-65.00=25.00',
          'D1: the override, cumulative, less what October paid');
SELECT throws_ok($$SELECT close_period(951, '[2026-12-01,2027-01-01)', early => true)$$, 'RB062', NULL,
                 'December cannot be closed while November''s statements are drafts');
SELECT is(issue_statements(951, '[2026-11-01,2026-12-01)'), 4, 'November is issued');
SELECT is((SELECT count(*) FROM verify_period(951, '[2026-11-01,2026-12-01)')), 0::bigint, 'and verifies');
RESET ROLE;

-- ---- a late return into a closed period, and closing December ---------------------
-- R1: S1 returns 3 X of O1 on 12-05.  It counts where O1 counted: October.
-- December closes the quarter (VOL final, TGT and MARGIN final), the month (UNIT, CASH Dec), and
-- corrects October: S1's UNIT Oct is now 9 X -> 0, settled 3: an adjustment of -3.
--   VOL final: S1 14,000 x 3% = 420 - (360 + 140) = -80; P4 15,000 x 3% = 450 - 360 = 90;
--              D1 override (14,000 + 999.99) x 0.5% = 74.99995 -> 75.00 - 90 = -15; S2 15 - 15 = 0.
--   TGT: S1 14,000 / 10,000 = 140% -> 2% x 14,000 = 280; P4 15,000 / 20,000 = 75% -> 0; D1, S2 no target.
--   MARGIN: S1 14,000 - (7,200 - 1,800 + 3,000) = 5,600 x 4% = 224; P4 15,000 - 9,000 = 6,000 x 4% = 240;
--           S2 999.99 - 1,800 < 0 -> 0.  Max per partner: S1 TGT 280 (MARGIN 0), P4 MARGIN 240 (TGT 0).
SELECT pg_temp.sale('R1', 9602, '2026-12-05', 9701, 3, 1000, 'return', 'O1');
SET ROLE t_st_mgr;
SELECT is((SELECT sum(total) FROM close_period(951, '[2026-12-01,2027-01-01)', early => true)), 512.00,
          'December: D1 -15, S1 280 - 80 - 3 = 197, S2 0, P4 240 + 90 = 330; 512 in all');
SELECT is(pg_temp.lines(9602, '[2026-12-01,2027-01-01)'),
          'final CASH 12-12: 0.00-0.00=0.00; final MARGIN 10-12: 0.00-0.00=0.00; final TGT 10-12: 280.00-0.00=280.00; final UNIT 12-12: 0.00-0.00=0.00; final VOL 10-12: 420.00-500.00=-80.00; adjustment UNIT 10-10: 0.00-3.00=-3.00',
          'S1: the final settlement of the quarter pays the difference, the late return corrects October as an adjustment');
SELECT is(pg_temp.lines(9604, '[2026-12-01,2027-01-01)'),
          'final CASH 12-12: 0.00-0.00=0.00; final MARGIN 10-12: 240.00-0.00=240.00; final TGT 10-12: 0.00-0.00=0.00; final UNIT 12-12: 0.00-0.00=0.00; final VOL 10-12: 450.00-360.00=90.00',
          'P4: max pays the margin program');
SELECT is(pg_temp.lines(9601, '[2026-12-01,2027-01-01)'),
          'final CASH 12-12: 0.00-0.00=0.00; final MARGIN 10-12: 0.00-0.00=0.00; final TGT 10-12: 0.00-0.00=0.00; final UNIT 12-12: 0.00-0.00=0.00; final VOL 10-12: 0.00-0.00=0.00; final VOL/override 10-12: 75.00-90.00=-15.00',
          'D1: the override falls with its dealer''s return: the statement takes 15 back');
SELECT is((SELECT status FROM statement_line WHERE statement_id = pg_temp.stmt(9603, '[2026-12-01,2027-01-01)')
            AND program_id = 9902), 'no_target', 'S2 has no target: paid nothing, and the line says why');
SELECT is((SELECT total FROM statement WHERE id = pg_temp.stmt(9602, '[2026-10-01,2026-11-01)')), 363.00,
          'the October statement the return corrects is unchanged');
SELECT is((SELECT count(*) FROM verify_period(951, '[2026-12-01,2027-01-01)')), 0::bigint,
          'verify_period agrees with December, adjustments and manual lines included');
SELECT is((SELECT string_agg(format('%s %s %s->%s', p.code, v.component, v.stored_gross, v.verified_gross), '; '
                              ORDER BY p.code, v.component)
             FROM verify_period(951, '[2026-10-01,2026-11-01)') v JOIN program p ON p.id = v.program_id),
          'UNIT own 3.00->0.00; VOL override 65.00->50.00; VOL own 360.00->135.00',
          'for October it reports the lines the late return changed since (S1 9,000 x 1.5%; D1 (9,000 + 999.99) x 0.5% = 49.99995), which December settled');
UPDATE statement_line SET gross = gross + 0.01, net = net + 0.01
 WHERE statement_id = pg_temp.stmt(9604, '[2026-12-01,2027-01-01)') AND program_id = 9903;
SELECT is((SELECT problem || ' ' || stored_gross || ' ' || verified_gross FROM verify_period(951, '[2026-12-01,2027-01-01)')),
          'differs 240.01 240.00', 'a line that was tampered with is reported');
UPDATE statement_line SET gross = gross - 0.01, net = net - 0.01
 WHERE statement_id = pg_temp.stmt(9604, '[2026-12-01,2027-01-01)') AND program_id = 9903;
SELECT is((SELECT sum(total) FROM close_period(951, '[2026-12-01,2027-01-01)', early => true)), 512.00, 'closing December again changes nothing');
SELECT is((SELECT count(*) FROM statement_line WHERE adjustment_id IS NOT NULL), 1::bigint,
          'the manual adjustment is on one statement only');
SELECT is(issue_statements(951, '[2026-12-01,2027-01-01)'), 4, 'December is issued');
-- the settled program version is fixed: editing it makes a new version
SELECT throws_ok($$UPDATE program_version SET schedule = 'retroactive 0:2%' WHERE id = 99001$$, 'RB060', NULL,
                 'a version used in issued statements cannot change');
SELECT throws_ok($$DELETE FROM program_version WHERE id = 99003$$, '23503', NULL, 'nor be deleted');
RESET ROLE;

-- ---- amounts in words on the statement ---------------------------------------------
SELECT is((SELECT total_in_words_zh || ' / ' || total_in_words_en FROM v_statement
            WHERE id = pg_temp.stmt(9602, '[2026-12-01,2027-01-01)')),
          '人民币壹佰玖拾柒元整 / one hundred ninety-seven yuan', 'S1''s December total, 197.00, in words');
SELECT is((SELECT total_in_words_zh FROM v_statement WHERE id = pg_temp.stmt(9601, '[2026-12-01,2027-01-01)')),
          '人民币负壹拾伍元整', 'a negative total (the partner owes it back)');
SELECT is(amount_in_words(0), '人民币零元整', 'zero');
SELECT is(amount_in_words(0.05), '人民币伍分', '分 only');
SELECT is(amount_in_words(0.5), '人民币伍角整', '角 only');
SELECT is(amount_in_words(10000), '人民币壹万元整', '10000');
SELECT is(amount_in_words(100000000), '人民币壹亿元整', '100000000');
SELECT is(amount_in_words(1001), '人民币壹仟零壹元整', '1001: one 零 for the zeros inside');
SELECT is(amount_in_words(12345.67), '人民币壹万贰仟叁佰肆拾伍元陆角柒分', 'the example of the issue');
SELECT is(amount_in_words(1.05), '人民币壹元零伍分', '零 between 元 and 分 when 角 is 0');
SELECT is(amount_in_words(-1234.5), '人民币负壹仟贰佰叁拾肆元伍角整', 'negative');
SELECT throws_ok($$SELECT rebate.amount_in_words(1e16)$$, '22003', NULL, 'huge amounts are refused');
SELECT is(amount_in_words(1234.5, 'en', 'USD'), 'one thousand two hundred thirty-four dollars and fifty cents', 'English');

-- ---- the interim example of the issue ------------------------------------------------
-- A quarterly retroactive scale, 2% from 5,000 and 4% from 20,000, settled monthly: October 3,000
-- (below the minimum: 0), November cumulative 7,000 at 2% = 140, December cumulative 27,000 at 4% =
-- 1,080, of which 140 was paid: 940.
INSERT INTO tenant (id, code, name) VALUES (952, 'STI', '期中结算');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 952;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9520, 952, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, home_region_id, state, credit_limit) VALUES
    (9621, 952, 'A', '经销商甲', 9520, 'active', 10000000);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9720, 952, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES (9721, 952, 'X', '产品X', 9720, 1000);
INSERT INTO program (id, tenant_id, code, name) VALUES (9921, 952, 'Q', '季度阶梯');
INSERT INTO program_version (id, tenant_id, program_id, effective, metric, kind, schedule, interim)
VALUES (99021, 952, 9921, '[2026-10-01,)', 'net_sales', 'tiered', 'retroactive 5000:2%, 20000:4%', true);
SELECT activate_program_version(99021);
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (96201, 952, 'I1', 9621, 9520, '2026-10-10', 'approved'), (96202, 952, 'I2', 9621, 9520, '2026-11-20', 'approved'),
    (96203, 952, 'I3', 9621, 9520, '2026-12-05', 'approved');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES
    (952, 96201, 1, 9721, 3, 1000), (952, 96202, 1, 9721, 4, 1000), (952, 96203, 1, 9721, 20, 1000);
SELECT close_period(952, '[2026-10-01,2026-11-01)'); SELECT issue_statements(952, '[2026-10-01,2026-11-01)');
SELECT close_period(952, '[2026-11-01,2026-12-01)'); SELECT issue_statements(952, '[2026-11-01,2026-12-01)');
SELECT close_period(952, '[2026-12-01,2027-01-01)', early => true);
SELECT is((SELECT string_agg(format('%s %s-%s=%s', l.line_kind, l.gross, l.already_settled, l.net), '; ' ORDER BY s.period)
             FROM statement s JOIN statement_line l ON l.statement_id = s.id WHERE s.tenant_id = 952),
          'interim 0.00-0.00=0.00; interim 140.00-0.00=140.00; final 1080.00-140.00=940.00',
          'interim settlements pay the cumulative result so far; the final one re-rates the quarter and pays the difference');

-- ---- trial runs write nothing ---------------------------------------------------------
SELECT is((SELECT string_agg(proname || ':' || provolatile::text, ',' ORDER BY proname) FROM pg_proc
            WHERE pronamespace = 'rebate'::regnamespace AND proname IN ('simulate', 'compare', 'progress', 'verify_period')),
          'compare:s,progress:s,simulate:s,verify_period:s', 'trial runs, progress and the cross-check are STABLE: PostgreSQL refuses any write in them');
CREATE TEMP TABLE writes_before AS
SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) AS n FROM pg_stat_xact_user_tables WHERE schemaname = 'rebate';
SELECT count(*) FROM simulate(9901, '[2026-10-01,2027-01-01)', NULL, '{"schedule": "retroactive 0:9%"}');
SELECT count(*) FROM compare(9901, 1, 1, '[2026-10-01,2027-01-01)');
SELECT is((SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_xact_user_tables WHERE schemaname = 'rebate'),
          (SELECT n FROM writes_before), 'simulate and compare wrote no row');

SELECT * FROM finish();
ROLLBACK;
