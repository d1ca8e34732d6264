-- Thresholds in one measure, payout on another (issue 15): payout_metric.
-- Worked by hand.  January, partner P1: 1,200 X at 100 and 300 Y at 50:
-- quantity 1,500, net sales 135,000.
--   A  quantity thresholds, 'retroactive 1000:3%' of net sales:      3% x 135,000 = 4,050
--   B  net sales thresholds, 'retroactive 500000:20 per unit':       135,000 < 500,000: 0;
--      the next tier is 365,000 away and pays 20 x 1,500 units counted so far = 30,000
--   C  quantity thresholds, 'incremental 0:1%, 1000:3%' of net sales: bands 1,000 x 1% + 500 x 3% = 25
--      of 1,500 units, so 25 / 1,500 of 135,000 = 2,250
--   D  overachievement on a quantity target of 1,000, 'retroactive 1.0:2%' of net sales: 2,700
--   E  cascade after VOL (net sales 'retroactive 0:10%' = 13,500): quantity 'retroactive 1000:3%'
--      paid on net sales less what VOL paid: 3% x (135,000 - 13,500) = 3,645
-- A credit note of 140,000 takes net sales below zero while quantity stays 1,500: A pays 0, not -150.
BEGIN;
SET search_path = public, rebate;
SELECT plan(14);

INSERT INTO tenant (id, code, name) VALUES (963, 'PAY', '异口径');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 963;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9630, 963, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit) VALUES
    (9631, 963, 'P1', '经销一', 'dealer', 9630, 'active', 100000000);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9632, 963, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES
    (9633, 963, 'X', '产品X', 9632, 100), (9634, 963, 'Y', '产品Y', 9632, 50);
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (9635, 963, 'O1', 9631, 9630, '2026-01-10', 'approved');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES
    (963, 9635, 1, 9633, 1200, 100), (963, 9635, 2, 9634, 300, 50);
INSERT INTO program (id, tenant_id, code, name) VALUES (9636, 963, 'A', '按量返额'), (9637, 963, 'B', '按额返件'), (9638, 963, 'C', '按量超额');
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, payout_metric, kind, schedule) VALUES
    (963, 9636, '[2026-01-01,)', 'month', 'quantity', 'net_sales', 'tiered', 'retroactive 1000:3%'),
    (963, 9637, '[2026-01-01,)', 'month', 'net_sales', 'quantity', 'tiered', 'retroactive 500000:20 per unit'),
    (963, 9638, '[2026-01-01,)', 'month', 'quantity', 'net_sales', 'tiered', 'incremental 0:1%, 1000:3%');
INSERT INTO target (tenant_id, partner_id, metric, period, value) VALUES (963, 9631, 'quantity', '[2026-01-01,2026-02-01)', 1000);
INSERT INTO program (id, tenant_id, code, name) VALUES (9639, 963, 'D', '数量达成返额'), (9640, 963, 'VOL', '销售阶梯'), (9641, 963, 'E', '递减按量返额');
INSERT INTO program_group (id, tenant_id, code, name, rule) VALUES (9642, 963, 'G', '递减', 'cascade');
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, payout_metric, kind, schedule, group_id, priority) VALUES
    (963, 9639, '[2026-01-01,)', 'month', 'quantity', 'net_sales', 'overachievement', 'retroactive 1.0:2%', NULL, 100),
    (963, 9640, '[2026-01-01,)', 'month', 'net_sales', NULL, 'tiered', 'retroactive 0:10%', 9642, 1),
    (963, 9641, '[2026-01-01,)', 'month', 'quantity', 'net_sales', 'tiered', 'retroactive 1000:3%', 9642, 2);
SELECT is((SELECT count(activate_program_version(id)) FROM program_version WHERE tenant_id = 963), 6::bigint, 'the six programs activate');

SELECT is((SELECT string_agg(format('%s %s', program_code, paid), ', ' ORDER BY program_code) FROM progress(9631, '2026-01-31')),
          'A 4050, B 0, C 2250, D 2700, E 3645, VOL 13500', 'progress pays each on its payout measure');
SELECT is((SELECT format('%s %s %s', tier, next_tier_gap, next_tier_rebate) FROM progress(9631, '2026-01-31') WHERE program_code = 'B'),
          '0 365000 30000', 'B: 365,000 of net sales to go; the next tier pays 20 on each of the 1,500 units so far');
SELECT is((SELECT explanation FROM progress(9631, '2026-01-31') WHERE program_code = 'A'),
          'quantity 1500: tier 1 of {1000} (retroactive, percent) at 0.03 on net_sales 135000: 4050', 'A explains what it is paid on');
SELECT is((SELECT stacking FROM progress(9631, '2026-01-31') WHERE program_code = 'E'),
          'cascade in group G: paid on net_sales 121500, the 135000 less 13500 paid by earlier programs',
          'E: the cascade reduces the measure paid on, not the quantity');

SELECT is((SELECT total FROM close_period(963, '[2026-01-01,2026-02-01)')), 26145.00, 'January settles 4,050 + 2,250 + 2,700 + 13,500 + 3,645');
SELECT is((SELECT count(*) FROM verify_period(963, '[2026-01-01,2026-02-01)')), 0::bigint, 'verify_period agrees');
UPDATE statement_line SET gross = 2250.01, net = 2250.01
 WHERE tenant_id = 963 AND program_id = 9638;
SELECT is((SELECT format('%s %s', problem, verified_gross) FROM verify_period(963, '[2026-01-01,2026-02-01)')),
          'differs 2250.00', 'and would catch a wrong incremental payout');
SELECT is((SELECT total FROM close_period(963, '[2026-01-01,2026-02-01)')), 26145.00, 'closing again recomputes the draft');

INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status, kind) VALUES
    (9643, 963, 'CN1', 9631, 9630, '2026-01-20', 'approved', 'credit_note');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES (963, 9643, 1, 9633, 1400, 100);
SELECT is((SELECT format('%s %s %s', basis, rebate, explanation) FROM progress(9631, '2026-01-31') WHERE program_code = 'A'),
          '1500 0 quantity 1500: tier 1 of {1000} (retroactive, percent) at 0.03 on net_sales -5000: 0',
          'a credit note that takes net sales below zero: A pays nothing, not a negative rebate');

-- definitions that cannot be computed
SELECT throws_ok($$INSERT INTO program_version (tenant_id, program_id, effective, metric, payout_metric, kind, unit_amount)
                   VALUES (963, 9636, '[2027-01-01,)', 'quantity', 'net_sales', 'per_unit', 5)$$,
                 '22023', NULL, 'a per_unit program pays on no other measure');
SELECT throws_ok($$INSERT INTO program_version (tenant_id, program_id, effective, metric, payout_metric, kind, schedule)
                   VALUES (963, 9636, '[2027-01-01,)', 'collected', 'net_sales', 'tiered', 'retroactive 0:1%')$$,
                 '22023', NULL, 'thresholds on payments cannot pay on order lines');
SELECT throws_ok($$INSERT INTO program_version (tenant_id, program_id, effective, metric, payout_metric, kind, schedule)
                   VALUES (963, 9636, '[2027-01-01,)', 'quantity', 'collected', 'tiered', 'retroactive 0:1%')$$,
                 '22023', NULL, 'nor pay on payments');
SELECT throws_ok($$INSERT INTO program_version (tenant_id, program_id, effective, metric, payout_metric, kind, schedule, apply_to)
                   VALUES (963, 9639, '[2027-01-01,)', 'quantity', 'net_sales', 'overachievement', 'retroactive 1.0:2%', 'excess')$$,
                 '22023', NULL, 'an excess over a quantity target cannot be paid in net sales');
SELECT * FROM finish();
ROLLBACK;
