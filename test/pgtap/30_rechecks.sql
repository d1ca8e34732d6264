-- Which settled periods a close rechecks, and under which version (found in
-- review, issue 15).  Worked by hand: P1 sells 10,000 in January 2026 and
-- 10,000 in February; program A pays 1% a month.
--   1. Program B (2%, from January) is activated after January was settled: the February close
--      settles B's January (+200) although no document changed.
--   2. A's version 2 (2% from February) is activated after February was settled, and a late order
--      of 5,000 comes on 02-15: March's close adjusts February once, under version 2:
--      2% x 15,000 - 100 = +200 (not a second line under version 1).
--   3. A year-to-date program 'retroactive 0:0%, 10000:500': January reaches 10,000 and pays the
--      lump sum once; February (basis 10,000 more) pays nothing more.
--   4. A partner with a guaranteed minimum that becomes inactive keeps the minimums it was paid.
BEGIN;
SET search_path = public, rebate;
SELECT plan(13);

INSERT INTO tenant (id, code, name) VALUES (967, 'RCK', '复核');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 967;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9670, 967, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit) VALUES
    (9671, 967, 'P1', '经销一', 'dealer', 9670, 'active', 100000000),
    (9672, 967, 'P2', '经销二', 'dealer', 9670, 'active', 100000000);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9673, 967, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES (9674, 967, 'X', '产品X', 9673, 1000);
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (9675, 967, 'O1', 9671, 9670, '2026-01-10', 'approved'), (9676, 967, 'O2', 9671, 9670, '2026-02-10', 'approved');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES
    (967, 9675, 1, 9674, 10, 1000), (967, 9676, 1, 9674, 10, 1000);
INSERT INTO program (id, tenant_id, code, name) VALUES
    (9681, 967, 'A', '月度'), (9682, 967, 'B', '补发'), (9683, 967, 'LUMP', '年度达量奖'), (9684, 967, 'GUAR', '保底');
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, kind, schedule, partner_ids, tier_window,
                             guarantee, guarantee_carry) VALUES
    (967, 9681, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:1%', '{9671}', 'period', NULL, 'none'),
    (967, 9683, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:0%, 10000:500', '{9671}', 'to_date', NULL, 'none'),
    (967, 9684, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:1%', '{9672}', 'period', 50, 'shortfall');
SELECT is((SELECT count(activate_program_version(id)) FROM program_version WHERE tenant_id = 967), 3::bigint, 'A, LUMP and GUAR activate');

SELECT is((SELECT total FROM close_period(967, '[2026-01-01,2026-02-01)')), 650.00, 'January: A 100, LUMP 500, GUAR 50 (P2 has no sales)');
SELECT is(issue_statements(967, '[2026-01-01,2026-02-01)'), 2, 'January is issued');

-- 1. a program activated from a settled date
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, kind, schedule, partner_ids)
VALUES (967, 9682, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:2%', '{9671}');
SELECT is((SELECT (activate_program_version(id)).status FROM program_version WHERE program_id = 9682), 'active',
          'B is activated from January, which is settled');
-- 4. P2 becomes inactive: it keeps January's minimum
UPDATE partner SET state = 'suspended' WHERE id = 9672;
SELECT is((SELECT total FROM close_period(967, '[2026-02-01,2026-03-01)')), 500.00,
          'February: A 100, B 200 and B''s January 200 (settled anew: the activation counts as a change), LUMP nothing more, nothing taken back from P2');
SELECT is((SELECT string_agg(format('%s %s %s %s', p.code, l.line_kind, lower(l.program_period), l.net), '; ' ORDER BY p.code, l.program_period)
             FROM statement_line l JOIN statement s ON s.id = l.statement_id JOIN program p ON p.id = l.program_id
            WHERE s.tenant_id = 967 AND s.period = '[2026-02-01,2026-03-01)' AND l.net <> 0),
          'A final 2026-02-01 100.00; B adjustment 2026-01-01 200.00; B final 2026-02-01 200.00',
          'the lines');
SELECT is(issue_statements(967, '[2026-02-01,2026-03-01)'), 1, 'February is issued');

-- 2. a revision from a settled date, and a late order in the period
SELECT is((revise_program(9681, '{"schedule": "retroactive 0:2%"}', '2026-02-01')).version, 2, 'A is revised from February');
SELECT is((SELECT (activate_program_version(id)).status FROM program_version WHERE program_id = 9681 AND version = 2), 'active',
          'and the revision activated, February being settled');
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (9677, 967, 'O3', 9671, 9670, '2026-02-15', 'approved');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES (967, 9677, 1, 9674, 5, 1000);
SELECT is((SELECT total FROM close_period(967, '[2026-03-01,2026-04-01)')), 300.00, 'March: the two adjustments, nothing for March');
SELECT is((SELECT string_agg(format('%s v%s %s %s', p.code, l.version, lower(l.program_period), l.net), '; ' ORDER BY p.code, l.program_period)
             FROM statement_line l JOIN statement s ON s.id = l.statement_id JOIN program p ON p.id = l.program_id
            WHERE s.tenant_id = 967 AND s.period = '[2026-03-01,2026-04-01)' AND l.line_kind = 'adjustment'),
          'A v2 2026-02-01 200.00; B v1 2026-02-01 100.00',
          'February adjusted once per program: A under version 2 (2% of 15,000 less 100), B for the late order');
SELECT is((SELECT count(*) FROM verify_period(967, '[2026-03-01,2026-04-01)')), 0::bigint, 'verify_period agrees');
SELECT is(rebate.tiered_rebate_on_top(12000, 0, 'retroactive 0:0%, 10000:500'), 0::numeric,
          'a period that adds nothing to a window past a lump-sum tier pays no lump sum again');
SELECT * FROM finish();
ROLLBACK;
