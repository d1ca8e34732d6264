-- Reduction per program in a cascade group, and scales mixing lump sums with
-- rates (issue 15).  Worked by hand.
-- P1, January: net sales 1,000 (10 X at 100).  Cascade group R, four deals of 10% in the order
-- 3, 2, 1, 4 (priorities 1..4):
--   D3  first:                                              10% x 1,000           = 100
--   D2  reduced by D3:                                      10% x (1,000 - 100)   =  90
--   D1  not reduced by earlier deals, excluded from later reductions: 10% x 1,000 = 100
--   D4  reduced by D3 and D2 (not D1):                      10% x (1,000 - 190)   =  81
-- Mixed scales on P1 (no group):
--   M1  'retroactive 500:50, 900:8%':        1,000 reaches 8%: 80
--   M2  'incremental 0:1%, 500:30, 800:5%':  1% of 500 + 30 + 5% of 200 = 45
-- P2 (6,000 units for 60,000) and P3 (3,000 units for 30,000), "100 at 1,000 units, then 2% of net
-- sales from 5,000 units":
--   M3  quantity thresholds, payout net_sales, 'retroactive 1000:100, 5000:2%':
--       P2 2% x 60,000 = 1,200; P3 100, the next tier 2,000 units away paying 2% x 30,000 = 600.
BEGIN;
SET search_path = public, rebate;
SELECT plan(12);

INSERT INTO tenant (id, code, name) VALUES (964, 'RED', '扣减原则');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 964;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9640, 964, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit) VALUES
    (9641, 964, 'P1', '经销一', 'dealer', 9640, 'active', 100000000),
    (9642, 964, 'P2', '经销二', 'dealer', 9640, 'active', 100000000),
    (9643, 964, 'P3', '经销三', 'dealer', 9640, 'active', 100000000);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9644, 964, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES
    (9645, 964, 'X', '产品X', 9644, 100), (9646, 964, 'Y', '产品Y', 9644, 10);
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (9647, 964, 'O1', 9641, 9640, '2026-01-10', 'approved'),
    (9648, 964, 'O2', 9642, 9640, '2026-01-11', 'approved'),
    (9649, 964, 'O3', 9643, 9640, '2026-01-12', 'approved');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES
    (964, 9647, 1, 9645, 10, 100), (964, 9648, 1, 9646, 6000, 10), (964, 9649, 1, 9646, 3000, 10);

INSERT INTO program_group (id, tenant_id, code, name, rule) VALUES (9650, 964, 'R', '递减', 'cascade');
INSERT INTO program (id, tenant_id, code, name) VALUES
    (9651, 964, 'D1', '协议一'), (9652, 964, 'D2', '协议二'), (9653, 964, 'D3', '协议三'), (9654, 964, 'D4', '协议四'),
    (9655, 964, 'M1', '混合全额'), (9656, 964, 'M2', '混合超额'), (9657, 964, 'M3', '按量混合');
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, kind, schedule, partner_ids,
                             group_id, priority, reduced_by_earlier, reduces_later) VALUES
    (964, 9653, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:10%', '{9641}', 9650, 1, true, true),
    (964, 9652, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:10%', '{9641}', 9650, 2, true, true),
    (964, 9651, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:10%', '{9641}', 9650, 3, false, false),
    (964, 9654, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:10%', '{9641}', 9650, 4, true, true);
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, payout_metric, kind, schedule, partner_ids) VALUES
    (964, 9655, '[2026-01-01,)', 'month', 'net_sales', NULL, 'tiered', 'retroactive 500:50, 900:8%', '{9641}'),
    (964, 9656, '[2026-01-01,)', 'month', 'net_sales', NULL, 'tiered', 'incremental 0:1%, 500:30, 800:5%', '{9641}'),
    (964, 9657, '[2026-01-01,)', 'month', 'quantity', 'net_sales', 'tiered', 'retroactive 1000:100, 5000:2%', '{9642,9643}');
SELECT is((SELECT count(activate_program_version(id)) FROM program_version WHERE tenant_id = 964), 7::bigint,
          'the seven programs activate');

SELECT is((SELECT string_agg(format('%s %s', program_code, paid), ', ' ORDER BY program_code) FROM progress(9641, '2026-01-31')),
          'D1 100, D2 90, D3 100, D4 81, M1 80, M2 45', 'P1: the four deals in the order 3, 2, 1, 4, and the mixed scales');
SELECT is((SELECT stacking FROM progress(9641, '2026-01-31') WHERE program_code = 'D1'),
          'cascade in group R: not reduced by earlier programs, on its whole basis; excluded from later programs'' reductions',
          'D1 says it is computed on the gross and reduces nothing');
SELECT is((SELECT stacking FROM progress(9641, '2026-01-31') WHERE program_code = 'D4'),
          'cascade in group R: rated on 810, the basis 1000 less 190 paid by earlier programs',
          'D4 is reduced by D3 and D2 only');
SELECT is((SELECT format('%s %s %s', tier, rate, explanation) FROM progress(9641, '2026-01-31') WHERE program_code = 'M2'),
          '3 0.05 net_sales 1000: tier 3 of {0,500,800} (incremental, mixed) at 0.05: 45', 'M2 explains its mixed scale');
SELECT is((SELECT string_agg(format('%s %s %s %s', partner_id, paid, next_tier_gap, next_tier_rebate), '; ' ORDER BY partner_id)
             FROM program_results((SELECT v FROM program_version v WHERE program_id = 9657), '[2026-01-01,2026-02-01)')),
          '9642 1200  ; 9643 100 2000 600',
          'M3: P2 at 2% of its net sales, P3 at the lump sum with 2,000 units to go');

SELECT is((SELECT total FROM close_period(964, '[2026-01-01,2026-02-01)') WHERE currency = 'CNY'), 1796.00,
          'January settles 371 + 80 + 45 + 1,200 + 100');
SELECT is((SELECT count(*) FROM verify_period(964, '[2026-01-01,2026-02-01)')), 0::bigint, 'verify_period agrees');
UPDATE statement_line SET gross = 100.00, net = 100.00 WHERE tenant_id = 964 AND program_id = 9654;
SELECT is((SELECT format('%s %s', problem, verified_gross) FROM verify_period(964, '[2026-01-01,2026-02-01)')),
          'differs 81.00', 'and would catch D4 reduced by D1 as well (or by none)');
SELECT is((SELECT total FROM close_period(964, '[2026-01-01,2026-02-01)')), 1796.00, 'closing again recomputes the draft');

-- reduction flags belong to cascade groups
SELECT throws_ok($$INSERT INTO program_version (tenant_id, program_id, effective, metric, kind, schedule, reduces_later)
                   VALUES (964, 9655, '[2027-01-01,)', 'net_sales', 'tiered', 'retroactive 0:1%', false)$$,
                 '22023', NULL, 'a program in no cascade group has no reduction to be excluded from');
SELECT throws_ok($$SELECT 'retroactive 0:1%, 100:5 per unit'::tier_schedule$$, '22023', NULL,
                 'a scale''s rates are of one kind');
SELECT * FROM finish();
ROLLBACK;
