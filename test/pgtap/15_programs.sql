-- Rebate programs: definitions and their checks, versions (activation,
-- immutability, revision, rollback, history), and every metric and kind
-- computed over a small tenant whose every number is worked out by hand below.
BEGIN;
SET search_path = public, rebate;
SELECT plan(68);

-- ---- the tenant ------------------------------------------------------------
-- 华东 (上海) and 华南 (广东); distributor D1 (总代) with dealers S1 (上海) and
-- S2 (广东) below it; P4 alone.  Product X (空调, cost 600) and Y (家电, cost 300).
INSERT INTO tenant (id, code, name) VALUES (901, 'RP', '返利测试'), (902, 'OTHER', '别家');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 901;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9100, 901, 'CN', '中国', 'country'), (9900, 902, 'CN', '中国', 'country');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (9110, 901, 'EAST', '华东', 'area', 9100), (9111, 901, 'SH', '上海', 'province', 9110),
    (9120, 901, 'SOUTH', '华南', 'area', 9100), (9121, 901, 'GD', '广东', 'province', 9120);
INSERT INTO partner_grade (id, tenant_id, code, name, rank) VALUES (9001, 901, 'A', '金牌', 1), (9002, 901, 'B', '银牌', 2);
INSERT INTO partner (id, tenant_id, code, name, kind, grade_id, home_region_id, state, credit_limit) VALUES
    (9201, 901, 'D1', '华东总代', 'distributor', 9001, 9111, 'active', 10000000),
    (9204, 901, 'P4', '独立经销', 'dealer', 9001, 9121, 'active', 10000000);
INSERT INTO partner (id, tenant_id, code, name, grade_id, home_region_id, state, credit_limit, parent_id) VALUES
    (9202, 901, 'S1', '上海二代', 9002, 9111, 'active', 10000000, 9201),
    (9203, 901, 'S2', '广东二代', 9002, 9121, 'active', 10000000, 9201);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9300, 901, 'HA', '家电');
INSERT INTO product_category (id, tenant_id, code, name, parent_id) VALUES (9301, 901, 'AC', '空调', 9300);
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price, standard_cost) VALUES
    (9401, 901, 'X', '空调X', 9301, 1000, 600), (9402, 901, 'Y', '风扇Y', 9300, 500, 300);

CREATE FUNCTION pg_temp.sale(code text, partner bigint, region bigint, on_date date, product bigint, qty numeric,
                             price numeric, kind text DEFAULT 'order', original text DEFAULT NULL,
                             status text DEFAULT 'approved')
RETURNS void LANGUAGE sql AS $$
    INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date, status, kind, original_order_id)
    VALUES (901, code, partner, region, on_date, status, kind,
            (SELECT o.id FROM rebate.sales_order o WHERE o.code = original AND o.tenant_id = 901));
    INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
    SELECT 901, o.id, 1, product, qty, price FROM rebate.sales_order o WHERE o.code = sale.code AND o.tenant_id = 901;
$$;
-- S1, Q1 2026: 10 X (10,000, cost 6,000), 20 Y (10,000, cost 6,000), 5 X (5,000, cost 3,000);
-- a return of 2 X from O1 dated in April counts where O1 counted: Q1 (-2,000, cost -1,200).
-- Net sales 23,000 (25,000 without returns); X units 13; gross margin 9,200 (10,000 without returns).
SELECT pg_temp.sale('O1', 9202, 9111, '2026-01-10', 9401, 10, 1000);
SELECT pg_temp.sale('O2', 9202, 9111, '2026-02-15', 9402, 20, 500);
SELECT pg_temp.sale('O3', 9202, 9111, '2026-03-31', 9401, 5, 1000);
SELECT pg_temp.sale('R1', 9202, 9111, '2026-04-05', 9401, 2, 1000, 'return', 'O1');
-- S2: 30 X at 900 (27,000) in Q1, shipped to 广东; one in Q2; a draft that does not count.
SELECT pg_temp.sale('O4', 9203, 9121, '2026-02-01', 9401, 30, 900);
SELECT pg_temp.sale('O5', 9203, 9121, '2026-04-01', 9401, 1, 1000);
SELECT pg_temp.sale('O6', 9203, 9121, '2026-03-01', 9401, 100, 1000, 'order', NULL, 'draft');
-- D1 itself: 4 Y (2,000, cost 1,200).  S1 a year earlier: 20 X (20,000).
SELECT pg_temp.sale('O7', 9201, 9111, '2026-03-15', 9402, 4, 500);
SELECT pg_temp.sale('L1', 9202, 9111, '2025-02-01', 9401, 20, 1000);
-- payments: S1 15,000 on 3-20; S2 5,000 on 4-03 (inside 5 grace days: Q1) and 1,000 on 4-10 (Q2)
INSERT INTO payment (tenant_id, code, partner_id, received_on, amount) VALUES
    (901, 'PAY1', 9202, '2026-03-20', 15000), (901, 'PAY2', 9203, '2026-04-03', 5000), (901, 'PAY3', 9203, '2026-04-10', 1000);
-- targets: S1 20,000 for Q1; S2 10,000 a month
INSERT INTO target (tenant_id, partner_id, metric, period, value) VALUES
    (901, 9202, 'sales_amount', '[2026-01-01,2026-04-01)', 20000),
    (901, 9203, 'sales_amount', '[2026-01-01,2026-02-01)', 10000),
    (901, 9203, 'sales_amount', '[2026-02-01,2026-03-01)', 10000),
    (901, 9203, 'sales_amount', '[2026-03-01,2026-04-01)', 10000);

INSERT INTO program (id, tenant_id, code, name) VALUES
    (9501, 901, 'A', '季度销售阶梯'), (9502, 901, 'B', '银牌超额'), (9503, 901, 'C', '空调单品'),
    (9504, 901, 'D', '华东毛利奖'), (9505, 901, 'E', '回款阶梯'), (9506, 901, 'F', '同比增长');
INSERT INTO program_version (tenant_id, program_id, effective, metric, kind, schedule, override_schedule, cap)
VALUES (901, 9501, '[2026-01-01,)', 'net_sales', 'tiered', 'retroactive 5000:2%, 20000:4%', 'retroactive 0:0.5%', 1000);
INSERT INTO program_version (tenant_id, program_id, effective, metric, kind, schedule, grade_ids)
VALUES (901, 9502, '[2026-01-01,)', 'net_sales', 'overachievement', 'retroactive 1:1%, 1.2:2%', '{9002}');
INSERT INTO program_version (tenant_id, program_id, effective, metric, kind, unit_amount, unit_size, product_ids)
VALUES (901, 9503, '[2026-01-01,)', 'quantity', 'per_unit', 30, 10, '{9401}');
INSERT INTO program_version (tenant_id, program_id, effective, metric, kind, fixed_amount, fixed_minimum, returns_reduce, region_ids)
VALUES (901, 9504, '[2026-01-01,)', 'gross_margin', 'fixed', 500, 9500, false, '{9110}');
INSERT INTO program_version (tenant_id, program_id, effective, metric, kind, schedule, grace_days)
VALUES (901, 9505, '[2026-01-01,)', 'collected', 'tiered', 'incremental 0:1%, 10000:2%', 5);
INSERT INTO program_version (tenant_id, program_id, effective, metric, kind, schedule)
VALUES (901, 9506, '[2026-01-01,)', 'growth', 'tiered', 'retroactive 1.1:2%');
SELECT is((SELECT string_agg(version::text || status, ',') FROM program_version WHERE tenant_id = 901), '1draft,1draft,1draft,1draft,1draft,1draft',
          'versions are numbered from 1 and start as drafts');
SELECT activate_program_version(id) FROM program_version WHERE tenant_id = 901;

CREATE FUNCTION pg_temp.result(program text, partner text, component text DEFAULT 'own')
RETURNS rebate.program_result LANGUAGE sql AS $$
    SELECT r.* FROM rebate.program p, rebate.governing_version(p.id, '2026-01-01') v,
                    rebate.program_results(v, '[2026-01-01,2026-04-01)') r
     WHERE p.code = program AND p.tenant_id = 901 AND r.component = result.component
       AND r.partner_id = (SELECT pa.id FROM rebate.partner pa WHERE pa.code = partner AND pa.tenant_id = 901)
$$;

-- ---- A: tiered net sales, retroactive 2% from 5,000, 4% from 20,000, cap 1,000, override 0.5% ----
-- S1 23,000 -> 4% = 920.  S2 27,000 -> 4% = 1,080, capped at 1,000.  D1 2,000 -> below the
-- first tier: 0, 3,000 to go, which would pay 5,000 x 2% = 100.  P4 nothing: 0.
-- D1's override: 0.5% x (23,000 + 27,000) = 250.
SELECT is((pg_temp.result('A', 'S1')).basis, 23000::numeric, 'A: S1''s net sales, the April return of a January sale deducted in Q1');
SELECT is((pg_temp.result('A', 'S1')).rebate, 920::numeric, 'A: S1 4% of 23,000');
SELECT is((pg_temp.result('A', 'S1')).documents, 4::bigint, 'A: S1 four lines counted');
SELECT is((pg_temp.result('A', 'S2')).earned, 1080::numeric, 'A: S2 earns 4% of 27,000 (the draft and the April order left out)');
SELECT is((pg_temp.result('A', 'S2')).rebate, 1000::numeric, 'A: S2 is paid the cap');
SELECT ok((pg_temp.result('A', 'S2')).cap_applied, 'A: S2 cap applied');
SELECT is((pg_temp.result('A', 'D1')).rebate, 0::numeric, 'A: D1 below the first tier');
SELECT is((pg_temp.result('A', 'D1')).next_tier_gap, 3000::numeric, 'A: D1 3,000 to the next tier');
SELECT is((pg_temp.result('A', 'D1')).next_tier_rebate, 100::numeric, 'A: which would pay 100');
SELECT is((pg_temp.result('A', 'P4')).basis, 0::numeric, 'A: an active partner without sales is listed with basis 0');
SELECT is((pg_temp.result('A', 'D1', 'override')).basis, 50000::numeric, 'A: D1''s override basis is S1 + S2');
SELECT is((pg_temp.result('A', 'D1', 'override')).rebate, 250::numeric, 'A: D1''s override 0.5% = 250');
SELECT is((SELECT count(*) FROM program_results(governing_version(9501, '2026-01-01'), '[2026-01-01,2026-04-01)')),
          5::bigint, 'A: four partners and one override');

-- ---- B: overachievement for grade B, 1% from 100% of target, 2% from 120% ----------
-- S1 23,000 of 20,000 = 115%: 1% x 23,000 = 230; 120% is 24,000: 1,000 to go, paying 480.
-- S2 27,000 of 30,000 (three monthly targets) = 90%: 0; 3,000 to go, paying 300.
SELECT is((pg_temp.result('B', 'S1')).rebate, 230::numeric, 'B: S1 115% of target, 1%');
SELECT is((pg_temp.result('B', 'S1')).next_tier_gap, 1000::numeric, 'B: S1 1,000 to 120%');
SELECT is((pg_temp.result('B', 'S1')).next_tier_rebate, 480::numeric, 'B: 2% of 24,000');
SELECT is((pg_temp.result('B', 'S2')).comparison, 30000::numeric, 'B: S2''s monthly targets summed for the quarter');
SELECT is((pg_temp.result('B', 'S2')).rebate, 0::numeric, 'B: S2 at 90% earns nothing');
SELECT is((pg_temp.result('B', 'S2')).next_tier_rebate, 300::numeric, 'B: S2 would earn 300 at 100%');
SELECT is((SELECT count(*) FROM program_results(governing_version(9502, '2026-01-01'), '[2026-01-01,2026-04-01)')),
          2::bigint, 'B: only grade B partners');
DELETE FROM target WHERE partner_id = 9202;
SELECT is((pg_temp.result('B', 'S1')).status, 'no_target', 'B: a partner without a target is reported, not silently paid 0');
SELECT is((pg_temp.result('B', 'S1')).rebate, 0::numeric, 'B: ... and paid nothing');
INSERT INTO target (tenant_id, partner_id, metric, period, value) VALUES (901, 9202, 'sales_amount', '[2026-01-01,2026-04-01)', 20000);

-- ---- C: 30 per full 10 units of X ------------------------------------------------
-- S1 10 + 5 - 2 = 13 units: 1 x 30 = 30.  S2 30 units: 90.  D1 no X: 0.
SELECT is((pg_temp.result('C', 'S1')).rebate, 30::numeric, 'C: 13 units make one full 10: 30');
SELECT is((pg_temp.result('C', 'S1')).basis, 13::numeric, 'C: only X counted, the return deducted');
SELECT is((pg_temp.result('C', 'S2')).rebate, 90::numeric, 'C: 30 units: 90');
SELECT is((pg_temp.result('C', 'D1')).rebate, 0::numeric, 'C: D1 sold no X');

-- ---- D: 500 once gross margin reaches 9,500 in 华东, returns not deducted (不计退) ---
-- S1 margin 4,000 + 4,000 + 2,000 = 10,000 (the return would make it 9,200): 500.
-- S2 ships to 广东, outside the scope: 0.  D1 margin 800: 8,700 to go.
SELECT is((pg_temp.result('D', 'S1')).basis, 10000::numeric, 'D: S1''s margin without the return');
SELECT is((pg_temp.result('D', 'S1')).rebate, 500::numeric, 'D: reaches 9,500: 500');
SELECT is((pg_temp.result('D', 'S2')).basis, 0::numeric, 'D: S2''s sales lie outside 华东');
SELECT is((pg_temp.result('D', 'D1')).next_tier_gap, 8700::numeric, 'D: D1 8,700 short');
UPDATE program_version SET status = 'retired' WHERE program_id = 9504;
SELECT is((SELECT count(*) FROM progress(9202, '2026-03-31') WHERE program_code = 'D'), 0::bigint,
          'a retired version governs nothing');

-- ---- E: collected, incremental 1% to 10,000 and 2% above, 5 grace days ---------------
-- S1 15,000: 100 + 100 = 200.  S2 5,000 received 4-03 counts in Q1 (4-03 less 5 days): 50.
SELECT is((pg_temp.result('E', 'S1')).rebate, 200::numeric, 'E: incremental bands on 15,000');
SELECT is((pg_temp.result('E', 'S2')).basis, 5000::numeric, 'E: a payment within the grace days counts for the quarter, the later one not');
SELECT is((pg_temp.result('E', 'S2')).rebate, 50::numeric, 'E: 1% of 5,000');

-- ---- F: growth, 2% of net sales from 110% of the same quarter a year earlier ------------
-- S1 23,000 against 20,000 = 115%: 2% x 23,000 = 460.  S2 had nothing a year earlier.
SELECT is((pg_temp.result('F', 'S1')).comparison, 20000::numeric, 'F: last year''s Q1');
SELECT is((pg_temp.result('F', 'S1')).rebate, 460::numeric, 'F: 115% of last year: 2% of 23,000');
SELECT is((pg_temp.result('F', 'S2')).status, 'no_comparison_base', 'F: no base a year earlier is reported');

-- ---- progress: real time, per partner --------------------------------------------------
SELECT is((SELECT string_agg(program_code || '=' || rebate, ' ' ORDER BY program_code, component DESC)
             FROM progress(9202, '2026-03-31')),
          'A=920 B=230 C=30 E=200 F=460', 'progress of S1 at the end of Q1');
SELECT is((SELECT string_agg(program_code || ':' || component || '=' || rebate, ' ' ORDER BY program_code, component DESC)
             FROM progress(9201, '2026-03-31')),
          'A:own=0 A:override=250 C:own=0 E:own=0 F:own=0', 'progress of D1: its own rebate and its override');
SELECT is((SELECT basis FROM progress(9202, '2026-02-20') WHERE program_code = 'A'), 18000::numeric,
          'as of 2-20 only what was dated by then: O1 - R1 + O2');
SELECT pg_temp.sale('O8', 9202, 9111, '2026-03-30', 9402, 10, 500);
SELECT is((SELECT rebate FROM progress(9202, '2026-03-31') WHERE program_code = 'A'), 1000::numeric,
          'a new approved order shows in the next query: 28,000 x 4% = 1,120, capped at 1,000');
UPDATE sales_order SET status = 'cancelled' WHERE code = 'O8';
SELECT is((SELECT basis FROM progress(9202, '2026-03-31') WHERE program_code = 'A'), 23000::numeric,
          'and a cancelled one leaves it');

-- ---- definitions refused ------------------------------------------------------------------
SELECT throws_ok($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind)
                   VALUES (901, 9501, '[2027-01-01,)', 'net_sales', 'tiered')$$,
                 '22023', 'version 2 of program "A" is invalid: a tiered program needs a schedule', 'a tiered program without a schedule');
SELECT throws_ok($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, region_ids)
                   VALUES (901, 9501, '[2027-01-01,)', 'net_sales', 'tiered', 'retroactive 0:1%', '{9900}')$$,
                 '23503', 'version 2 of program "A" names region 9900, which is not of its tenant', 'a scope naming another tenant''s region');
SELECT throws_ok($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule)
                   VALUES (901, 9501, '[2027-02-01,)', 'net_sales', 'tiered', 'retroactive 0:1%')$$,
                 '22023', NULL, 'a quarterly version starting mid-quarter');
SELECT throws_ok($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, unit_amount, unit_percent)
                   VALUES (901, 9503, '[2027-01-01,)', 'quantity', 'per_unit', 1, 1)$$,
                 '22023', NULL, 'a per_unit program paying both per unit and a percentage');
SELECT throws_ok($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule)
                   VALUES (901, 9502, '[2027-01-01,)', 'gross_margin', 'overachievement', 'retroactive 1:1%')$$,
                 '22023', NULL, 'overachievement on a metric without targets');
SELECT throws_ok($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, product_ids)
                   VALUES (901, 9505, '[2027-01-01,)', 'collected', 'tiered', 'retroactive 0:1%', '{9401}')$$,
                 '22023', NULL, 'payments cannot be scoped by product');

-- ---- versions: immutable once active, revised, compared, rolled back ---------------------
SELECT throws_ok($$UPDATE rebate.program_version SET schedule = 'retroactive 0:9%' WHERE program_id = 9501$$,
                 'RB060', 'version 1 of program A is active and cannot change', 'an active version''s definition is fixed');
SELECT lives_ok($$UPDATE rebate.program_version SET note = '说明' WHERE program_id = 9501$$, 'its note is not');
SELECT is((revise_program(9501, '{"schedule": "retroactive 5000:2%, 20000:5%"}', '2026-04-01', '提高顶档')).version, 2,
          'revise_program makes version 2, a draft');
SELECT lives_ok($$UPDATE rebate.program_version SET cap = 2000 WHERE program_id = 9501 AND version = 2$$, 'a draft may change');
SELECT is((activate_program_version((SELECT id FROM program_version WHERE program_id = 9501 AND version = 2))).status, 'active',
          'version 2 activated');
SELECT is((SELECT effective FROM program_version WHERE program_id = 9501 AND version = 1), '[2026-01-01,2026-04-01)'::daterange,
          'version 1 now ends where version 2 begins');
SELECT is((governing_version(9501, '2026-05-01')).version, 2, 'Q2 is governed by version 2');
-- version 2 on Q1: S1 5% x 23,000 = 1,150 (+230); S2 5% x 27,000 = 1,350 under the cap 2,000 (+350); override the same
CREATE TEMP TABLE before_trials AS SELECT count(*) AS audited FROM audit_log;
SELECT is((SELECT delta FROM compare(9501, 1, 2, '[2026-01-01,2026-04-01)') WHERE partner_id = 9202), 230::numeric,
          'compare: S1 would have earned 230 more');
SELECT is((SELECT delta FROM compare(9501, 1, 2, '[2026-01-01,2026-04-01)') WHERE partner_id IS NULL), 580::numeric,
          'compare: version 2 would have cost 580 more in Q1');
SELECT is((SELECT sum(rebate) FROM simulate(9501, '[2026-01-01,2026-04-01)', 1, '{"schedule": "retroactive 0:10%", "cap": null}')
            WHERE component = 'own'), 5200::numeric, 'simulate with a changed schedule: 10% of 52,000');
SELECT throws_ok($$SELECT * FROM rebate.simulate(9501, '[2026-01-01,2026-04-01)', 1, '{"kind": "overachievement", "metric": "gross_margin"}')$$,
                 '22023', NULL, 'simulate checks a changed definition like a stored one');
SELECT is((SELECT count(*) FROM audit_log) - (SELECT audited FROM pg_temp.before_trials), 0::bigint,
          'the trial runs above wrote nothing (no audit_log row)');
SELECT is((rollback_program(9501, 1, '2026-07-01')).version, 3, 'rollback makes version 3 from version 1, active from Q3');
SELECT is((SELECT effective FROM program_version WHERE program_id = 9501 AND version = 2), '[2026-04-01,2026-07-01)'::daterange,
          'version 2 ends where the rollback begins');
SELECT is((governing_version(9501, '2026-08-01')).schedule, 'retroactive 5000:2%, 20000:4%'::tier_schedule,
          'Q3 is governed by version 1''s schedule again');
SELECT is((SELECT changed FROM program_history(9501) WHERE version = 2),
          '{"cap": 2000, "schedule": "retroactive 5000:2%, 20000:5%"}'::jsonb, 'the history says what version 2 changed');
SELECT throws_ok($$SELECT rebate.activate_program_version(id) FROM rebate.program_version WHERE program_id = 9501 AND version = 3$$,
                 'RB001', NULL, 'an active version is not activated again');

-- ---- row-level security -------------------------------------------------------------------
CREATE ROLE t_rp_s1; CREATE ROLE t_rp_s2; CREATE ROLE t_rp_mgr;
SELECT rebate.grant_access('t_rp_s1', 901, 9202);
SELECT rebate.grant_access('t_rp_s2', 901, 9203);
SELECT rebate.grant_access('t_rp_mgr', 901);
SET ROLE t_rp_s1;
SELECT throws_ok($$UPDATE rebate.program_version SET note = 'x' WHERE program_id = 9501$$, '42501', NULL,
                 'a partner user cannot change programs');
RESET ROLE;
SET ROLE t_rp_mgr;
SELECT is((SELECT count(DISTINCT partner_id) FROM rebate.v_partner_progress), 4::bigint,
          'a manager sees every partner of the tenant');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
