-- Scoring and grading: a model's validation, each partner's KPI scores
-- (against target, by bands, against the tenant's distribution), the weighted
-- total, ranks in the tenant and in the region, grade bands, the suggested
-- upgrade / downgrade over consecutive quarters, and applying them through
-- the grade history.  Every number below is worked out by hand.
BEGIN;
SET search_path = public, rebate;
SELECT plan(36);

-- ---- the tenant -------------------------------------------------------------
-- Regions: CN > EAST > SH, CN > SOUTH > GD.  Grades A (rank 1), B, C.
-- P1 (SH, B), P2 (SH, B), P3 (GD, A), P4 (GD, C: pays, never orders), P5 (GD, no grade yet, new in Q3).
INSERT INTO tenant (id, code, name) VALUES (991, 'SCO', '考核测试');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 991;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9910, 991, 'CN', '中国', 'country');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (9911, 991, 'EAST', '华东', 'area', 9910), (9913, 991, 'SOUTH', '华南', 'area', 9910);
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (9912, 991, 'SH', '上海', 'province', 9911), (9914, 991, 'GD', '广东', 'province', 9913);
INSERT INTO partner_grade (id, tenant_id, code, name, rank) VALUES
    (9921, 991, 'A', '金牌', 1), (9922, 991, 'B', '银牌', 2), (9923, 991, 'C', '铜牌', 3);
INSERT INTO partner (id, tenant_id, code, name, grade_id, home_region_id, state, credit_limit) VALUES
    (9931, 991, 'P1', '上海一', 9922, 9912, 'active', 1e7), (9932, 991, 'P2', '上海二', 9922, 9912, 'active', 1e7),
    (9933, 991, 'P3', '广东三', 9921, 9914, 'active', 1e7), (9934, 991, 'P4', '广东四', 9923, 9914, 'active', 1e7),
    (9935, 991, 'P5', '广东五', NULL, 9914, 'active', 1e7);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9940, 991, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price, standard_cost) VALUES
    (9941, 991, 'X', '产品X', 9940, 100, 60);
CREATE FUNCTION pg_temp.sale(code text, partner bigint, on_date date, amount numeric) RETURNS void LANGUAGE sql AS $$
    INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date, status)
    VALUES (991, code, partner, 9910, on_date, 'approved');
    INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price, unit_cost)
    SELECT 991, o.id, 1, 9941, amount / 100, 100, 60 FROM rebate.sales_order o WHERE o.code = sale.code AND o.tenant_id = 991;
$$;
-- net sales (one order each unless split):     Q2 2025  Q3 2025  Q2 2026            Q3 2026
--   P1                                          10,000   10,000   11,000 (2 orders)  12,000 (2 orders)
--   P2                                          10,000   10,000    5,000              4,000
--   P3                                          20,000   20,000   20,000 (2 orders)  16,000 (2 orders)
--   P5                                               -        -        -              6,000
SELECT pg_temp.sale('P1-2505', 9931, '2025-05-10', 10000), pg_temp.sale('P1-2508', 9931, '2025-08-10', 10000),
       pg_temp.sale('P1-2605a', 9931, '2026-05-10', 5500), pg_temp.sale('P1-2605b', 9931, '2026-05-20', 5500),
       pg_temp.sale('P1-2608a', 9931, '2026-08-10', 6000), pg_temp.sale('P1-2608b', 9931, '2026-08-20', 6000),
       pg_temp.sale('P2-2505', 9932, '2025-05-10', 10000), pg_temp.sale('P2-2508', 9932, '2025-08-10', 10000),
       pg_temp.sale('P2-2605', 9932, '2026-05-10', 5000), pg_temp.sale('P2-2608', 9932, '2026-08-10', 4000),
       pg_temp.sale('P3-2505', 9933, '2025-05-10', 20000), pg_temp.sale('P3-2508', 9933, '2025-08-10', 20000),
       pg_temp.sale('P3-2605a', 9933, '2026-05-10', 10000), pg_temp.sale('P3-2605b', 9933, '2026-05-20', 10000),
       pg_temp.sale('P3-2608a', 9933, '2026-08-10', 8000), pg_temp.sale('P3-2608b', 9933, '2026-08-20', 8000),
       pg_temp.sale('P5-2608', 9935, '2026-08-10', 6000);
-- payments: P1 11,000 (Q2) 12,000 (Q3); P2 2,500 / 2,000; P3 18,000 / 16,000; P4 3,000 (Q3); P5 6,000 (Q3)
INSERT INTO payment (tenant_id, code, partner_id, received_on, amount) VALUES
    (991, 'S-1', 9931, '2026-06-01', 11000), (991, 'S-2', 9931, '2026-09-01', 12000),
    (991, 'S-3', 9932, '2026-06-01', 2500), (991, 'S-4', 9932, '2026-09-01', 2000),
    (991, 'S-5', 9933, '2026-06-01', 18000), (991, 'S-6', 9933, '2026-09-01', 16000),
    (991, 'S-7', 9934, '2026-09-01', 3000), (991, 'S-8', 9935, '2026-09-01', 6000);
-- sales targets: P1 10,000, P2 10,000, P3 20,000 each quarter; P5 5,000 in Q3; P4 none
INSERT INTO target (tenant_id, partner_id, metric, period, value) VALUES
    (991, 9931, 'sales_amount', '[2026-04-01,2026-07-01)', 10000), (991, 9931, 'sales_amount', '[2026-07-01,2026-10-01)', 10000),
    (991, 9932, 'sales_amount', '[2026-04-01,2026-07-01)', 10000), (991, 9932, 'sales_amount', '[2026-07-01,2026-10-01)', 10000),
    (991, 9933, 'sales_amount', '[2026-04-01,2026-07-01)', 20000), (991, 9933, 'sales_amount', '[2026-07-01,2026-10-01)', 20000),
    (991, 9935, 'sales_amount', '[2026-07-01,2026-10-01)', 5000);

-- ---- the model: quarterly, promote / demote after 2 quarters ------------------
--   net_sales        40  against the partner's target, cap 120
--   collection_rate  20  against 0.9
--   growth           20  bands: from 0 -> 50, from 0.1 -> 80, from 0.3 -> 100 (below 0 -> 0)
--   orders           20  distribution: the share of partners with as many orders or fewer, x 100
--   bands: A from 80, B from 60, C from 0
INSERT INTO scoring_model (id, tenant_id, code, name, period_unit) VALUES (9951, 991, 'M1', '季度考核', 'quarter');
INSERT INTO scoring_kpi (tenant_id, model_id, kpi, weight, normalisation, target, cap, band_thresholds, band_scores) VALUES
    (991, 9951, 'net_sales', 40, 'target', NULL, 120, NULL, NULL),
    (991, 9951, 'collection_rate', 20, 'target', 0.9, 100, NULL, NULL),
    (991, 9951, 'growth', 20, 'bands', NULL, 100, '{0,0.1,0.3}', '{50,80,100}'),
    (991, 9951, 'orders', 20, 'distribution', NULL, 100, NULL, NULL);
INSERT INTO scoring_band (tenant_id, model_id, grade_id, min_score) VALUES
    (991, 9951, 9921, 80), (991, 9951, 9922, 60), (991, 9951, 9923, 0);
SELECT throws_ok($$SELECT * FROM partner_scores(991, '[2026-07-01,2026-10-01)')$$, 'P0002',
                 'tenant 991 has no active scoring model', 'no active model: P0002');
UPDATE scoring_model SET active = true WHERE id = 9951;
SET CONSTRAINTS ALL IMMEDIATE;

CREATE TEMP TABLE q3 AS SELECT * FROM partner_scores(991, '[2026-07-01,2026-10-01)');
CREATE TEMP TABLE q2 AS SELECT * FROM partner_scores(991, '[2026-04-01,2026-07-01)');
CREATE FUNCTION pg_temp.row_of(t text, code text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    EXECUTE format('SELECT format(''%%s %%s #%%s/%%s %%s>%%s %%s'', total, band_grade, rank_in_tenant, rank_in_region,
                                  current_grade, suggested_grade, change) FROM %I WHERE partner_code = $1', t) INTO r USING code;
    RETURN r;
END $$;

-- P1 Q3: net 12,000 / 10,000 -> 120 (cap); collected 12,000 / 12,000 = 1 -> 111.1 capped 100; growth 0.2 -> 80;
--        2 orders: 5 of 5 partners have 2 or fewer -> 100.  (120x40 + 100x20 + 80x20 + 100x20) / 100 = 104 -> A
--     Q2: 110, 100, growth 0.1 -> 80, 100: (4,400 + 2,000 + 1,600 + 2,000) / 100 = 100 -> A.  B for two quarters in A: upgrade
SELECT is((SELECT scores::text FROM q3 WHERE partner_code = 'P1'),
          '{"growth": 80, "orders": 100, "net_sales": 120, "collection_rate": 100}', 'P1 Q3: a score per KPI');
SELECT is((SELECT kpi_values::text FROM q3 WHERE partner_code = 'P1'),
          '{"growth": 0.2000, "orders": 2, "net_sales": 12000.0000, "collection_rate": 1.0000}', 'P1 Q3: the KPI values');
SELECT is(pg_temp.row_of('q3', 'P1'), '104 A #1/1 B>A upgrade', 'P1: 104, band A, first in tenant and in 华东; upgrade B -> A');
SELECT is(pg_temp.row_of('q2', 'P1'), '100 A #1/1 B>A upgrade', 'P1 Q2: 100, band A');
SELECT is((SELECT reason FROM q3 WHERE partner_code = 'P1'),
          'in a better band than B for 2 consecutive quarter(s): 2026-Q2 100 (A), 2026-Q3 104 (A)', 'P1: the reason names both quarters');
-- P2 Q3: 4,000 / 10,000 -> 40; 2,000 / 4,000 = 0.5 -> 55.5556; growth -0.6 -> 0; 1 order: 3 of 5 have 1 or fewer -> 60
--        (1,600 + 1,111.112 + 0 + 1,200) / 100 = 39.11112 -> 39.1111, C
--     Q2: 50; 0.5 -> 55.5556; -0.5 -> 0; 60: 43.1111, C.  B for two quarters in C: downgrade
SELECT is(pg_temp.row_of('q3', 'P2'), '39.1111 C #4/2 B>C downgrade', 'P2: 39.1111, band C, 4th, 2nd in 华东; downgrade B -> C');
-- (Q1 2026 has no documents: every partner has 0 orders, all share the top of the distribution, 100 -> A;
--  so as of Q2, P2 had been in C for one quarter only)
SELECT is(pg_temp.row_of('q2', 'P2'), '43.1111 C #3/2 B> ', 'P2 Q2: 43.1111, band C, 3rd; in C for one quarter only');
-- P3 Q3: 16,000 / 20,000 -> 80; 1 -> 100; growth -0.2 -> 0; 2 orders -> 100: (3,200 + 2,000 + 0 + 2,000) / 100 = 72, B
--     Q2: 100; 0.9 -> 100; growth 0 -> 50; 100: 90, A.  One quarter in B only: stays A
SELECT is(pg_temp.row_of('q3', 'P3'), '72 B #3/2 A> ', 'P3: 72, band B, but only one quarter below A: no change');
SELECT is((SELECT reason FROM q3 WHERE partner_code = 'P3'), 'stays A: 2026-Q2 90 (A), 2026-Q3 72 (B)', 'P3: why it stays');
-- P4: no sales, no target: net_sales and collection rate unscored, growth has no base; 0 orders: 1 of 5 -> 20.
--     Only orders scores: 20 x 20 / 20 = 20, C: it is C already
SELECT is(pg_temp.row_of('q3', 'P4'), '20 C #5/3 C> ', 'P4: payments but no orders: only the orders KPI scores, 20, stays C');
SELECT is((SELECT scores::text FROM q3 WHERE partner_code = 'P4'),
          '{"growth": null, "orders": 20, "net_sales": null, "collection_rate": null}',
          'P4: KPIs without a target or a base are left out, not scored 0');
-- P5 (new in Q3): 6,000 / 5,000 -> 120; 1 -> 100; no base last year: growth left out; 1 order -> 60
--     (4,800 + 2,000 + 1,200) / 80 = 100, A; it has no grade yet: assign A
SELECT is(pg_temp.row_of('q3', 'P5'), '100 A #2/1 >A assign', 'P5: new this year, no growth base: 100 over the other weights, A; assign A');
SELECT is((SELECT kpi_values ->> 'growth' FROM q3 WHERE partner_code = 'P5'), NULL, 'P5: growth NULL without a base');
SELECT is((SELECT ((kpis).net_sales, (kpis).collected, (kpis).orders)::text FROM q3 WHERE partner_code = 'P5'),
          '(6000.0000,6000.00,1)', 'P5: its KPIs as rebate.kpis');
SELECT is((SELECT ranking_region_id FROM q3 WHERE partner_code = 'P5'), 9913::bigint, 'ranked in 华南, the area above 广东');
SELECT is((SELECT period_name FROM q3 LIMIT 1), '2026-Q3', 'the period by name');

-- ---- roles: a partner user sees its own row, margins only with cost privileges --
CREATE ROLE t_sc_mgr; CREATE ROLE t_sc_p1; CREATE ROLE t_sc_other;
SELECT grant_access('t_sc_mgr', 991);
SELECT grant_access('t_sc_p1', 991, 9931);
INSERT INTO tenant (id, code, name) VALUES (992, 'SCO2', '别的品牌');
SELECT grant_access('t_sc_other', 992);
SET LOCAL ROLE t_sc_p1;
SELECT is((SELECT string_agg(format('%s #%s', partner_code, rank_in_tenant), ',') FROM partner_scores(991, '[2026-07-01,2026-10-01)')),
          'P1 #1', 'a partner user sees only its own row, with its real rank among all partners');
SELECT is((SELECT ((kpis).gross_margin, (kpis).net_sales)::text FROM partner_scores(991, '[2026-07-01,2026-10-01)')),
          '(,12000.0000)', 'and no margin (it may not read costs)');
SELECT throws_ok($$SELECT * FROM apply_grade_suggestions(991, '[2026-07-01,2026-10-01)')$$, '42501', NULL,
                 'a partner user may not apply grade changes');
RESET ROLE;
SET LOCAL ROLE t_sc_other;
SELECT throws_ok($$SELECT count(*) FROM partner_scores(991, '[2026-07-01,2026-10-01)')$$, 'P0002',
                 'tenant 991 has no active scoring model',
                 'to a manager of another tenant, its model is exactly like none');
RESET ROLE;
SET LOCAL ROLE t_sc_mgr;
SELECT is((SELECT count(*) FROM partner_scores(991, '[2026-07-01,2026-10-01)')), 5::bigint, 'the manager sees all five');
SELECT isnt((SELECT (kpis).gross_margin FROM partner_scores(991, '[2026-07-01,2026-10-01)') WHERE partner_code = 'P1'), NULL,
            'and their margins');

-- the view: the last complete quarter before today, whatever today is
SELECT is((SELECT count(*) FROM ((SELECT partner_id, total, rank_in_tenant, suggested_grade FROM v_partner_scores WHERE tenant_id = 991
                                  EXCEPT
                                  SELECT partner_id, total, rank_in_tenant, suggested_grade
                                    FROM partner_scores(991, period_before(period_of('quarter', CURRENT_DATE), 'quarter', 1)))
                                 UNION ALL
                                 (SELECT partner_id, total, rank_in_tenant, suggested_grade
                                    FROM partner_scores(991, period_before(period_of('quarter', CURRENT_DATE), 'quarter', 1))
                                  EXCEPT
                                  SELECT partner_id, total, rank_in_tenant, suggested_grade FROM v_partner_scores WHERE tenant_id = 991)) d),
          0::bigint, 'v_partner_scores: partner_scores of the last complete quarter, for the manager');

-- ---- applying the suggestions: through set_partner_grade and its history ------
SELECT is((SELECT string_agg(format('%s %s>%s', partner_id, coalesce(from_grade, '-'), to_grade), ', ' ORDER BY partner_id)
             FROM apply_grade_suggestions(991, '[2026-07-01,2026-10-01)')),
          '9931 B>A, 9932 B>C, 9935 ->A', 'the manager applies three changes');
RESET ROLE;
SELECT is((SELECT string_agg(format('%s %s', p.code, g.code), ', ' ORDER BY p.code) FROM partner p JOIN partner_grade g ON g.id = p.grade_id
            WHERE p.tenant_id = 991), 'P1 A, P2 C, P3 A, P4 C, P5 A', 'the grades changed');
SELECT is((SELECT count(*) FROM partner_grade_history WHERE tenant_id = 991 AND reason LIKE 'scoring 2026-Q3 %'), 3::bigint,
          'each change is in the grade history with the scoring reason');
SELECT is((SELECT acting_role FROM partner_grade_history WHERE tenant_id = 991 AND partner_id = 9932 ORDER BY id DESC LIMIT 1),
          't_sc_mgr'::name, 'recorded as done by the manager');
SELECT is((SELECT count(*) FROM partner_scores(991, '[2026-07-01,2026-10-01)') WHERE change IS NOT NULL), 0::bigint,
          'applied: nothing more to suggest');

-- ---- validation ---------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM partner_scores(991, '[2026-07-15,2026-10-01)')$$, '22023',
                 'period [2026-07-15,2026-10-01) is not one quarter of scoring model "M1"', 'a period that is not a quarter');
SELECT throws_ok($$UPDATE scoring_kpi SET weight = 30 WHERE model_id = 9951 AND kpi = 'net_sales'$$, '22023',
                 'scoring model "M1" cannot score: its weights add up to 90, not 100', 'weights must add up to 100');
SELECT throws_ok($$UPDATE scoring_kpi SET target = NULL WHERE model_id = 9951 AND kpi = 'collection_rate'$$, '22023',
                 'scoring model "M1" cannot score: KPI collection_rate is scored against a target but has none',
                 'a rate scored against a target needs one');
SELECT throws_ok($$UPDATE scoring_kpi SET band_thresholds = '{0,0.3,0.1}' WHERE model_id = 9951 AND kpi = 'growth'$$, '22023',
                 'scoring model "M1" cannot score: KPI growth has band thresholds {0,0.3,0.1}, not strictly ascending',
                 'band thresholds must ascend');
SELECT throws_ok($$UPDATE scoring_kpi SET band_scores = '{50,80}' WHERE model_id = 9951 AND kpi = 'growth'$$, '22023',
                 'scoring model "M1" cannot score: KPI growth is scored by bands but its thresholds and scores do not pair up',
                 'thresholds and scores pair up');
SELECT throws_ok($$DELETE FROM scoring_band WHERE model_id = 9951 AND min_score = 0$$, '22023',
                 'scoring model "M1" cannot score: no grade band starts at 0', 'a band must start at 0');
SELECT throws_ok($$UPDATE scoring_band SET min_score = 90 WHERE model_id = 9951 AND grade_id = 9922$$, '22023',
                 'scoring model "M1" cannot score: its grade bands do not follow the grades'' ranks (a higher score must give a better grade)',
                 'a better grade needs a higher band');

SELECT * FROM finish();
ROLLBACK;
