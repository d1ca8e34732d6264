-- The BI views with real roles: partner, region and product performance,
-- rebate efficiency (高返利低产出), the leaderboard, their snapshots, and what
-- each role sees of them.  Every figure worked out by hand below.
BEGIN;
SET search_path = public, rebate;
SELECT plan(39);

-- ---- the tenant -------------------------------------------------------------
-- Regions CN > EAST > SH and CN > SOUTH > GD.  Categories ALL > AC.
-- D1 (总代, SH) with its dealer S1 (SH); P2 (GD).  X in AC: 100 (cost 60); Y in ALL: 50 (cost 40).
INSERT INTO tenant (id, code, name) VALUES (961, 'BIV', '报表测试');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 961;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9610, 961, 'CN', '中国', 'country');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (9611, 961, 'EAST', '华东', 'area', 9610), (9613, 961, 'SOUTH', '华南', 'area', 9610);
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (9612, 961, 'SH', '上海', 'province', 9611), (9614, 961, 'GD', '广东', 'province', 9613);
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit) VALUES
    (9631, 961, 'D1', '华东总代', 'distributor', 9612, 'active', 1e7), (9633, 961, 'P2', '广东经销', 'dealer', 9614, 'active', 1e7);
INSERT INTO partner (id, tenant_id, code, name, home_region_id, state, credit_limit, parent_id) VALUES
    (9632, 961, 'S1', '上海二代', 9612, 'active', 1e7, 9631);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9620, 961, 'ALL', '全部');
INSERT INTO product_category (id, tenant_id, code, name, parent_id) VALUES (9621, 961, 'AC', '空调', 9620);
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price, standard_cost) VALUES
    (9641, 961, 'X', '空调X', 9621, 100, 60), (9642, 961, 'Y', '配件Y', 9620, 50, 40);
CREATE FUNCTION pg_temp.doc(code text, partner bigint, region bigint, on_date date, product bigint, qty numeric, price numeric,
                            cost numeric, kind text DEFAULT 'order', original text DEFAULT NULL, promised date DEFAULT NULL,
                            delivered date DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date, status, kind, original_order_id,
                                    promised_on, delivered_on)
    VALUES (961, code, partner, region, on_date, 'approved', kind,
            (SELECT o.id FROM rebate.sales_order o WHERE o.code = original AND o.tenant_id = 961), promised, delivered);
    INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price, unit_cost)
    SELECT 961, o.id, 1, product, qty, price, cost FROM rebate.sales_order o WHERE o.code = doc.code AND o.tenant_id = 961;
$$;
-- 2025-Q2: P2 15 X = 1,500.   2026-Q1: D1 10 X = 1,000; S1 10 Y = 500.
-- 2026-Q2: D1 20 X = 2,000 (promised 05-10, delivered 05-08: on time); S1 20 Y = 1,000, returns 4 Y = 200;
--          P2 30 X = 3,000 (promised 04-12, delivered 04-15: late).
-- payments 2026-06: D1 1,500, S1 800, P2 3,000.  Q2 targets: D1 2,500, P2 2,000; region SOUTH 4,000.
SELECT pg_temp.doc('P2-2504', 9633, 9614, '2025-04-10', 9641, 15, 100, 60),
       pg_temp.doc('D1-2602', 9631, 9612, '2026-02-10', 9641, 10, 100, 60),
       pg_temp.doc('S1-2602', 9632, 9612, '2026-02-15', 9642, 10, 50, 40),
       pg_temp.doc('D1-2605', 9631, 9612, '2026-05-05', 9641, 20, 100, 60, 'order', NULL, '2026-05-10', '2026-05-08'),
       pg_temp.doc('S1-2605', 9632, 9612, '2026-05-06', 9642, 20, 50, 40),
       pg_temp.doc('P2-2604', 9633, 9614, '2026-04-10', 9641, 30, 100, 60, 'order', NULL, '2026-04-12', '2026-04-15');
SELECT pg_temp.doc('S1-R2605', 9632, 9612, '2026-05-20', 9642, 4, 50, 40, 'return', 'S1-2605');
INSERT INTO payment (tenant_id, code, partner_id, received_on, amount) VALUES
    (961, 'B-1', 9631, '2026-06-01', 1500), (961, 'B-2', 9632, '2026-06-02', 800), (961, 'B-3', 9633, '2026-06-03', 3000);
INSERT INTO target (tenant_id, partner_id, region_id, metric, period, value) VALUES
    (961, 9631, NULL, 'sales_amount', '[2026-04-01,2026-07-01)', 2500), (961, 9633, NULL, 'sales_amount', '[2026-04-01,2026-07-01)', 2000),
    (961, NULL, 9613, 'sales_amount', '[2026-04-01,2026-07-01)', 4000);
-- a quarterly 2% program, closed and issued for Q2: D1 40, S1 16, P2 60
INSERT INTO program (id, tenant_id, code, name) VALUES (9651, 961, 'VOL', '季度返利');
INSERT INTO program_version (id, tenant_id, program_id, effective, metric, kind, schedule)
VALUES (96511, 961, 9651, '[2026-01-01,)', 'net_sales', 'tiered', 'retroactive 0:2%');
SELECT activate_program_version(96511);
SELECT close_period(961, '[2026-04-01,2026-07-01)');
SELECT issue_statements(961, '[2026-04-01,2026-07-01)');

CREATE ROLE t_bi_admin; GRANT rebate_admin TO t_bi_admin;
CREATE ROLE t_bi_mgr; CREATE ROLE t_bi_d1; CREATE ROLE t_bi_s1; CREATE ROLE t_bi_other;
SELECT grant_access('t_bi_mgr', 961);
SELECT grant_access('t_bi_d1', 961, 9631);
SELECT grant_access('t_bi_s1', 961, 9632);
INSERT INTO tenant (id, code, name) VALUES (962, 'BIV2', '别的品牌');
SELECT grant_access('t_bi_other', 962);

CREATE FUNCTION pg_temp.perf(code text) RETURNS text LANGUAGE sql AS $$
    SELECT format('%s net %s margin %s/%s coll %s on-time %s target %s ach %s yoy %s prev %s rank %s/%s rebate %s %s',
                  partner_code, net_sales, gross_margin, margin_rate, collection_rate, on_time_rate, sales_target, achievement,
                  yoy_growth, previous_growth, rank_in_region, rank_overall, rebate_earned, rebate_to_sales)
      FROM rebate.v_partner_performance WHERE tenant_id = 961 AND grain = 'quarter' AND period_name = '2026-Q2' AND partner_code = code
$$;

-- ---- v_partner_performance as the manager ---------------------------------------
SET LOCAL ROLE t_bi_mgr;
-- D1: net 2,000; margin 2,000 - 1,200 = 800, 0.4; collected 1,500 / 2,000 = 0.75; on time 1 of 1; target 2,500: 0.8;
--     no 2025-Q2; Q1 1,000: +1.0; 2nd of 2 in 华东... no: 2,000 > 800, first in 华东; 2nd overall; rebate 40: 0.02
SELECT is(pg_temp.perf('D1'), 'D1 net 2000.0000 margin 800.00000000/0.4000 coll 0.7500 on-time 1.0000 target 2500.0000 ach 0.8000 yoy  prev 1.0000 rank 1/2 rebate 40.00 0.0200',
          'D1 in 2026-Q2');
-- S1: 1,000 - 200 = 800; margin (1,000 - 800) - (200 - 160) = 160, 0.2; 800 / 800 = 1; no promise; no target;
--     Q1 500: +0.6; 2nd in 华东, 3rd overall; rebate 16
SELECT is(pg_temp.perf('S1'), 'S1 net 800.0000 margin 160.00000000/0.2000 coll 1.0000 on-time  target  ach  yoy  prev 0.6000 rank 2/3 rebate 16.00 0.0200',
          'S1 in 2026-Q2: a return, no target, no promised dates');
-- P2: 3,000; margin 1,200, 0.4; 3,000 / 3,000 = 1; late: 0; target 2,000: 1.5; 2025-Q2 1,500: +1.0; no Q1; first in 华南 and overall
SELECT is(pg_temp.perf('P2'), 'P2 net 3000.0000 margin 1200.00000000/0.4000 coll 1.0000 on-time 0.0000 target 2000.0000 ach 1.5000 yoy 1.0000 prev  rank 1/1 rebate 60.00 0.0200',
          'P2 in 2026-Q2: year-over-year growth, late delivery');
SELECT is((SELECT string_agg(format('%s %s', period_name, net_sales), ', ' ORDER BY period)
             FROM v_partner_performance WHERE partner_code = 'D1' AND grain = 'month'),
          '2026-02 1000.0000, 2026-05 2000.0000, 2026-06 0', 'D1 by month (June: a payment only)');
SELECT is((SELECT format('%s %s %s', net_sales, rebate_earned, previous_growth) FROM v_partner_performance
            WHERE partner_code = 'D1' AND grain = 'year' AND period_name = '2026'),
          '3000.0000 40.00 ', 'D1 in 2026: the quarter''s rebate counts in the year; no 2025 to grow from');
SELECT is((SELECT count(*) FROM v_partner_performance WHERE tenant_id = 961 AND grain = 'quarter'), 6::bigint,
          'the manager sees every partner''s quarters');

-- ---- region and product ----------------------------------------------------------
-- 2026-Q2 net sales: CN 2,000 + 800 + 3,000 = 5,800 (3 partners); EAST = SH = 2,800 (2); SOUTH = GD = 3,000 (1),
-- target 4,000: 0.75; among CN's children SOUTH is 1st, EAST 2nd
SELECT is((SELECT string_agg(format('%s %s/%s #%s', region_code, net_sales, partners, rank_among_siblings), ', ' ORDER BY region_path)
             FROM v_region_performance WHERE tenant_id = 961 AND grain = 'quarter' AND period_name = '2026-Q2'),
          'CN 5800.0000/3 #1, EAST 2800.0000/2 #2, SH 2800.0000/2 #1, SOUTH 3000.0000/1 #1, GD 3000.0000/1 #1',
          'regions roll up their subtrees; ranks among siblings');
SELECT is((SELECT format('%s %s', sales_target, achievement) FROM v_region_performance
            WHERE region_code = 'SOUTH' AND grain = 'quarter' AND period_name = '2026-Q2'), '4000.0000 0.7500',
          'a region''s own target and achievement');
SELECT is((SELECT yoy_growth FROM v_region_performance WHERE region_code = 'GD' AND grain = 'quarter' AND period_name = '2026-Q2'),
          1.0000, '广东 grew from 1,500 to 3,000');
-- products 2026-Q2: X 2,000 + 3,000 = 5,000 (2 partners), Y 1,000 - 200 = 800 (1)
SELECT is((SELECT string_agg(format('%s %s/%s #%s #%s %s', sku, net_sales, partners, rank_in_category, rank_overall, category_path),
                             ', ' ORDER BY sku)
             FROM v_product_performance WHERE tenant_id = 961 AND grain = 'quarter' AND period_name = '2026-Q2'),
          'X 5000.0000/2 #1 #1 {9620,9621}, Y 800.0000/1 #1 #2 {9620}', 'products with their category path');

-- ---- rebate efficiency --------------------------------------------------------------
-- rates 40 / 2,000 = 16 / 800 = 60 / 3,000 = 0.02: all three at or below each: share 1;
-- growth: D1 +1.0 (over Q1), S1 +0.6 (over Q1), P2 +1.0 (year): S1 1/3 = 0.3333, the others 1
SELECT is((SELECT string_agg(format('%s %s %s %s %s %s %s', partner_code, program_rebate, rebate_rate, growth, growth_basis,
                                    rebate_rate_share, growth_share), ', ' ORDER BY partner_code)
             FROM v_rebate_efficiency WHERE tenant_id = 961),
          'D1 40.00 0.0200 1.0000 quarter 1.0000 1.0000, P2 60.00 0.0200 1.0000 year 1.0000 1.0000, S1 16.00 0.0200 0.6000 quarter 1.0000 0.3333',
          'rebate rate and growth per partner and program, with their shares');
SELECT is((SELECT count(*) FROM v_rebate_efficiency WHERE tenant_id = 961 AND high_rebate_low_output), 0::bigint,
          'defaults (top 25% rate, bottom 25% growth): nobody flagged');
RESET ROLE;
INSERT INTO performance_setting (tenant_id, low_growth_share) VALUES (961, 0.4);
SET LOCAL ROLE t_bi_mgr;
SELECT is((SELECT format('%s: %s', partner_code, reason) FROM v_rebate_efficiency WHERE tenant_id = 961 AND high_rebate_low_output),
          'S1: rebate rate 0.0200 in the top 25% and growth 0.6000 in the bottom 40% of the quarter''s partners',
          'the tenant''s own threshold flags S1 (高返利低产出)');

-- ---- the leaderboard -------------------------------------------------------------------
SELECT is((SELECT string_agg(format('%s %s', rank, partner_label), ', ' ORDER BY rank) FROM v_leaderboard
            WHERE tenant_id = 961 AND period_name = '2026-Q2'), '1 广东经销, 2 华东总代, 3 上海二代', 'the manager sees every name');
RESET ROLE;
SET LOCAL ROLE t_bi_d1;
SELECT is((SELECT string_agg(format('%s %s %s %s', rank, partner_label, coalesce(partner_id::text, '-'), is_own), ', ' ORDER BY rank)
             FROM v_leaderboard WHERE period_name = '2026-Q2'),
          '1 #1 - f, 2 华东总代 9631 t, 3 上海二代 9632 t', 'the 总代 sees itself and its dealer by name, the other anonymously');
RESET ROLE;
SET LOCAL ROLE t_bi_s1;
SELECT is((SELECT string_agg(format('%s %s', rank, partner_label), ', ' ORDER BY rank) FROM v_leaderboard WHERE period_name = '2026-Q2'),
          '1 #1, 2 #2, 3 上海二代', 'a dealer sees its own name only');
RESET ROLE;
UPDATE performance_setting SET leaderboard = 'own_only' WHERE tenant_id = 961;
SET LOCAL ROLE t_bi_s1;
SELECT is((SELECT string_agg(format('%s %s', rank, partner_label), ', ' ORDER BY rank) FROM v_leaderboard WHERE period_name = '2026-Q2'),
          '3 上海二代', 'own_only: just its own position');
RESET ROLE;
UPDATE performance_setting SET leaderboard = 'named' WHERE tenant_id = 961;
SET LOCAL ROLE t_bi_s1;
SELECT is((SELECT string_agg(format('%s %s', rank, partner_label), ', ' ORDER BY rank) FROM v_leaderboard WHERE period_name = '2026-Q2'),
          '1 广东经销, 2 华东总代, 3 上海二代', 'named: every name');

-- ---- what partner users see ---------------------------------------------------------------
SELECT is((SELECT string_agg(format('%s #%s %s', partner_code, rank_overall, coalesce(gross_margin::text, 'no margin')), ', ')
             FROM v_partner_performance WHERE grain = 'quarter' AND period_name = '2026-Q2'),
          'S1 #3 no margin', 'a dealer sees its own row, its true rank, and no margin');
SELECT is((SELECT string_agg(region_code || ' ' || net_sales, ', ' ORDER BY region_path) FROM v_region_performance
            WHERE grain = 'quarter' AND period_name = '2026-Q2'),
          'CN 800.0000, EAST 800.0000, SH 800.0000', 'regions over its own documents only');
SELECT is((SELECT count(*) FROM v_rebate_efficiency), 0::bigint, 'no rebate efficiency for partner users');
SELECT is((SELECT string_agg(DISTINCT partner_id::text, ',') || ' ' || count(*) FILTER (WHERE cost IS NOT NULL) FROM channel_fact),
          '9632 0', 'channel_fact: its own facts, without costs');
RESET ROLE;
SET LOCAL ROLE t_bi_d1;
SELECT is((SELECT string_agg(partner_code, ',' ORDER BY partner_code) FROM v_partner_performance
            WHERE grain = 'quarter' AND period_name = '2026-Q2'), 'D1,S1', 'the 总代 sees itself and its dealer');
SELECT is((SELECT net_sales FROM v_region_performance WHERE region_code = 'CN' AND grain = 'quarter' AND period_name = '2026-Q2'),
          2800.0000, 'and regions over their documents');
RESET ROLE;
SET LOCAL ROLE t_bi_other;
SELECT is((SELECT count(*) FROM v_partner_performance) + (SELECT count(*) FROM v_region_performance)
          + (SELECT count(*) FROM v_product_performance) + (SELECT count(*) FROM v_leaderboard)
          + (SELECT count(*) FROM v_rebate_efficiency), 0::bigint, 'another tenant''s manager sees none of it');
RESET ROLE;
SET LOCAL ROLE t_bi_admin;
SELECT cmp_ok((SELECT count(DISTINCT tenant_id) FROM v_partner_performance), '>=', 1::bigint, 'an admin sees every tenant');
SELECT isnt((SELECT gross_margin FROM v_partner_performance WHERE partner_code = 'P2' AND grain = 'year' AND period_name = '2026' AND tenant_id = 961),
            NULL, 'and margins');
RESET ROLE;

-- ---- snapshots -------------------------------------------------------------------------------
SET LOCAL ROLE t_bi_s1;
SELECT throws_ok($$SELECT * FROM refresh_report_snapshots()$$, '42501', NULL, 'partner users do not refresh snapshots');
RESET ROLE;
SET LOCAL ROLE t_bi_mgr;
SELECT is((SELECT string_agg(format('%s %s', snapshot, concurrent), ', ' ORDER BY snapshot::text) FROM refresh_report_snapshots()),
          'partner_performance_snapshot t, product_performance_snapshot t, region_performance_snapshot t',
          'the snapshots exist from the install on: refreshes run concurrently');
SELECT is((SELECT string_agg(format('%s', concurrent), ',') FROM refresh_report_snapshots()), 't,t,t',
          'and again');
SELECT is((SELECT count(*) FROM ((SELECT * FROM v_partner_performance EXCEPT SELECT * FROM v_partner_performance_snapshot)
                                 UNION ALL (SELECT * FROM v_partner_performance_snapshot EXCEPT SELECT * FROM v_partner_performance)) d),
          0::bigint, 'the partner snapshot equals the live view');
SELECT is((SELECT count(*) FROM ((SELECT * FROM v_region_performance EXCEPT SELECT * FROM v_region_performance_snapshot)
                                 UNION ALL (SELECT * FROM v_region_performance_snapshot EXCEPT SELECT * FROM v_region_performance)) d),
          0::bigint, 'the region snapshot equals the live view for the manager');
SELECT is((SELECT count(*) FROM ((SELECT * FROM v_product_performance EXCEPT SELECT * FROM v_product_performance_snapshot)
                                 UNION ALL (SELECT * FROM v_product_performance_snapshot EXCEPT SELECT * FROM v_product_performance)) d),
          0::bigint, 'the product snapshot too');
SELECT is((SELECT count(*) FROM (SELECT * FROM v_leaderboard EXCEPT SELECT * FROM v_leaderboard_snapshot) d)
          + (SELECT count(*) FROM (SELECT * FROM v_rebate_efficiency EXCEPT SELECT * FROM v_rebate_efficiency_snapshot) d),
          0::bigint, 'leaderboard and efficiency over the snapshot too');
-- a document after the refresh: live at once, the snapshot at its next refresh
RESET ROLE;
SELECT pg_temp.doc('P2-2606', 9633, 9614, '2026-06-20', 9641, 1, 100, 60);
SET LOCAL ROLE t_bi_mgr;
SELECT is((SELECT format('%s %s', l.net_sales, s.net_sales) FROM v_partner_performance l
             JOIN v_partner_performance_snapshot s USING (partner_id, grain, period)
            WHERE l.partner_code = 'P2' AND l.grain = 'quarter' AND l.period_name = '2026-Q2'),
          '3100.0000 3000.0000', 'a new order shows live at once, in the snapshot after the next refresh');
RESET ROLE;
SET LOCAL ROLE t_bi_s1;
SELECT is((SELECT count(*) FROM v_region_performance_snapshot) + (SELECT count(*) FROM v_product_performance_snapshot), 0::bigint,
          'region and product snapshots hold every partner''s facts: not for partner users');
SELECT is((SELECT string_agg(partner_code, ',') FROM v_partner_performance_snapshot WHERE grain = 'quarter' AND period_name = '2026-Q2'),
          'S1', 'the partner snapshot: its own row');
RESET ROLE;

-- ---- the columns are described for BI tools, in Chinese and English -------------------------------
SELECT is((SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = 'rebate'::regnamespace AND c.relname IN
                  ('v_partner_performance', 'v_partner_performance_snapshot', 'v_region_performance', 'v_region_performance_snapshot',
                   'v_product_performance', 'v_product_performance_snapshot', 'v_rebate_efficiency', 'v_rebate_efficiency_snapshot',
                   'v_leaderboard', 'v_leaderboard_snapshot')
              AND a.attnum > 0
              AND NOT coalesce(col_description(c.oid, a.attnum) ~ '[\u4e00-\u9fff]' AND col_description(c.oid, a.attnum) ~ '[A-Za-z]{3}', false)),
          0::bigint, 'every column of every BI view has a comment in Chinese and English');
SELECT is((SELECT string_agg(c.relname || '.' || a.attname, ', ' ORDER BY c.relname, a.attnum)
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = 'rebate'::regnamespace AND c.relkind IN ('v', 'm') AND a.attnum > 0
              AND coalesce(btrim(col_description(c.oid, a.attnum)), '') = ''),
          NULL, 'every column of every view and materialized view of the extension has a comment');

SELECT * FROM finish();
ROLLBACK;
