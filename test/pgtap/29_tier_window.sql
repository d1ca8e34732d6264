-- Tier windows (issue 15, "rolling / total forms as one definition"): the
-- tiers are reached by the year so far, or by a rolling window of periods,
-- and each period is paid on its own basis placed on top.  Worked by hand:
-- P1's net sales 60,000, 50,000 and 30,000 in January, February, March;
-- the scale is 1%, 2% from 100,000.
--   YTD-R  to_date, retroactive:  600 (60k), 2% x 50k = 1,000 (110k), 2% x 30k = 600 (140k)
--   YTD-I  to_date, incremental:  600, (1,000 + 200) - 600 = 600, (1,000 + 800) - 1,200 = 600
--   ROLL2  2 months rolling, retroactive: 600 (60k), 1,000 (110k), 1% x 30k = 300 (80k)
-- A return of 40,000 of February's order arrives in April: February is 10,000, YTD 70,000:
--   YTD-R February 1% x 10k = 100 (-900), March (100k) 2% x 30k = 600 as before;
--   YTD-I February 700 - 600 = 100 (-500), March (1,000) - 700 = 300 (-300);
--   ROLL2 February (70k) 100 (-900), March (40k) 300 as before.
BEGIN;
SET search_path = public, rebate;
SELECT plan(15);

INSERT INTO tenant (id, code, name) VALUES (966, 'WIN', '累计档位');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 966;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9660, 966, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit) VALUES
    (9661, 966, 'P1', '经销一', 'dealer', 9660, 'active', 100000000);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9662, 966, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES (9663, 966, 'X', '产品X', 9662, 1000);
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (9664, 966, 'O1', 9661, 9660, '2026-01-10', 'approved'),
    (9665, 966, 'O2', 9661, 9660, '2026-02-10', 'approved'),
    (9666, 966, 'O3', 9661, 9660, '2026-03-10', 'approved');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES
    (966, 9664, 1, 9663, 60, 1000), (966, 9665, 1, 9663, 50, 1000), (966, 9666, 1, 9663, 30, 1000);
INSERT INTO program (id, tenant_id, code, name) VALUES
    (9671, 966, 'YTD-R', '年度累计全额'), (9672, 966, 'YTD-I', '年度累计超额'), (9673, 966, 'ROLL2', '滚动两月');
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, kind, schedule, tier_window, window_periods) VALUES
    (966, 9671, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:1%, 100000:2%', 'to_date', NULL),
    (966, 9672, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'incremental 0:1%, 100000:2%', 'to_date', NULL),
    (966, 9673, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:1%, 100000:2%', 'rolling', 2);
SELECT is((SELECT count(activate_program_version(id)) FROM program_version WHERE tenant_id = 966), 3::bigint, 'the three programs activate');

CREATE FUNCTION pg_temp.month_of(as_of date) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(format('%s %s', program_code, paid), ', ' ORDER BY program_code) FROM rebate.progress(9661, as_of)
$$;
SELECT is(pg_temp.month_of('2026-01-31'), 'ROLL2 600, YTD-I 600, YTD-R 600', 'January');
SELECT is(pg_temp.month_of('2026-02-28'), 'ROLL2 1000, YTD-I 600, YTD-R 1000', 'February');
SELECT is(pg_temp.month_of('2026-03-31'), 'ROLL2 300, YTD-I 600, YTD-R 600', 'March');
SELECT is((SELECT format('%s %s %s %s', basis, tier, next_tier_gap, explanation) FROM progress(9661, '2026-03-31') WHERE program_code = 'ROLL2'),
          '30000 1 20000 net_sales 30000 on top of 50000 earlier in the 2 months rolling, 80000 in all: tier 1 of {0,100000} (retroactive, percent) at 0.01: 300',
          'the explanation says what the window holds; the next tier is 20,000 away');

SELECT is((SELECT total FROM close_period(966, '[2026-01-01,2026-02-01)')), 1800.00, 'January');
SELECT is(issue_statements(966, '[2026-01-01,2026-02-01)'), 1, 'January is issued');
SELECT is((SELECT total FROM close_period(966, '[2026-02-01,2026-03-01)')), 2600.00, 'February: 1,000 + 600 + 1,000');
SELECT is(issue_statements(966, '[2026-02-01,2026-03-01)'), 1, 'February is issued');
SELECT is((SELECT total FROM close_period(966, '[2026-03-01,2026-04-01)')), 1500.00, 'March: 300 + 600 + 600');
SELECT is(issue_statements(966, '[2026-03-01,2026-04-01)'), 1, 'March is issued');

INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status, kind, original_order_id) VALUES
    (9667, 966, 'R1', 9661, 9660, '2026-04-08', 'approved', 'return', 9665);
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES (966, 9667, 1, 9663, 40, 1000);
SELECT is((SELECT total FROM close_period(966, '[2026-04-01,2026-05-01)')), -2600.00, 'April takes back 2,600');
SELECT is((SELECT string_agg(format('%s %s %s', p.code, lower(l.program_period), l.net), '; ' ORDER BY p.code, l.program_period)
             FROM statement_line l JOIN statement s ON s.id = l.statement_id JOIN program p ON p.id = l.program_id
            WHERE s.tenant_id = 966 AND s.period = '[2026-04-01,2026-05-01)' AND l.line_kind = 'adjustment'),
          'ROLL2 2026-02-01 -900.00; YTD-I 2026-02-01 -500.00; YTD-I 2026-03-01 -300.00; YTD-R 2026-02-01 -900.00',
          'a late return reaches the later periods of the window');
SELECT is((SELECT count(*) FROM verify_period(966, '[2026-04-01,2026-05-01)')), 0::bigint, 'verify_period agrees');
SELECT throws_ok($$INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, kind, schedule, tier_window)
                   VALUES (966, 9673, '[2027-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:1%', 'rolling')$$,
                 '22023', 'version 2 of program "ROLL2" is invalid: a rolling tier window needs window_periods',
                 'a rolling window says how many periods it holds');
SELECT * FROM finish();
ROLLBACK;
