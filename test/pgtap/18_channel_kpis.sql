-- Channel KPI aggregates: channel_kpis, growth, achievement, weighted_score.
-- Small groups worked out by hand (in the comments), the zero and NULL cases,
-- exactness beyond int128, a tenant's real documents through channel_fact,
-- and a differential check against plain built-in aggregates over 200,000
-- rows in serial, partial-parallel, forced-parallel and spilling plans.
BEGIN;
SET search_path = public, rebate;
SELECT plan(44);

CREATE FUNCTION pg_temp.kpis_of(facts text) RETURNS rebate.kpis LANGUAGE plpgsql AS $$
DECLARE result rebate.kpis;
BEGIN
    EXECUTE 'SELECT (k).* FROM (SELECT rebate.channel_kpis(kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on) AS k
               FROM (VALUES ' || facts || ') AS f (kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on)) s'
       INTO result;
    RETURN result;
END $$;

-- ---- one group by hand ---------------------------------------------------------
-- order 1: product 10, 2 x 50 = 100.00, cost 60.00; product 11, 50.00 without a cost;
--          promised 01-05, delivered 01-04 (on time)
-- order 2: product 10, 150.00, cost 90.00; promised 01-05, delivered 01-09 (late)
-- return 3: product 10, -50.00, cost -30.00     credit note 4: -10.00, cost 0     payment 120.00
--   gross 300.00, returns 50.00, credit notes 10.00, net 240.00
--   margin over lines with a cost: (100 - 60) + (150 - 90) + (-50 + 30) + (-10) = 70.00 on a basis of
--     100 + 150 - 50 - 10 = 190.00: rate 70 / 190 = 0.368421.. -> 0.3684
--   quantity 2 + 1 + 3 - 1 + 0 = 5.0; 5 lines; orders 2; average order value 300 / 2 = 150.0000
--   return rate 50 / 300 = 0.1667; collected 120.00, collection rate 120 / 240 = 0.5000, 1 payment
--   promised and delivered 2, on time 1, rate 0.5000; products sold 10, 11: 2
CREATE TEMP TABLE one_group AS SELECT pg_temp.kpis_of($$
    ('order', 1, 10, 2.0, 100.00, 60.00, date '2026-01-05', date '2026-01-04'),
    ('order', 1, 11, 1.0, 50.00, NULL, date '2026-01-05', date '2026-01-04'),
    ('order', 2, 10, 3.0, 150.00, 90.00, date '2026-01-05', date '2026-01-09'),
    ('return', 3, 10, -1.0, -50.00, -30.00, NULL, NULL),
    ('credit_note', 4, 10, 0, -10.00, 0, NULL, NULL),
    ('payment', NULL, NULL, NULL, 120.00, NULL, NULL, NULL)$$) AS k;
SELECT is((SELECT (k).net_sales FROM one_group), 240.00, 'net sales = gross - returns - credit notes');
SELECT is((SELECT ((k).gross_sales, (k).returns, (k).credit_notes)::text FROM one_group), '(300.00,50.00,10.00)',
          'gross sales, returns and credit notes, the last two positive');
SELECT is((SELECT ((k).gross_margin, (k).margin_rate)::text FROM one_group), '(70.00,0.3684)',
          'margin over the lines with a cost, and its rate on their net sales');
SELECT is((SELECT ((k).quantity, (k).lines, (k).orders, (k).average_order_value)::text FROM one_group),
          '(5.0,5,2,150.0000)', 'net quantity, lines, distinct orders, average order value');
SELECT is((SELECT ((k).return_rate, (k).collected, (k).collection_rate, (k).payments)::text FROM one_group),
          '(0.1667,120.00,0.5000,1)', 'return rate, collected, collection rate (回款率), payments');
SELECT is((SELECT ((k).promised_deliveries, (k).on_time_deliveries, (k).on_time_rate, (k).products)::text FROM one_group),
          '(2,1,0.5000,2)', 'on-time delivery counted per order, distinct products sold');

-- ---- zero and NULL cases ------------------------------------------------------------
SELECT is((SELECT rebate.channel_kpis(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) FROM generate_series(1, 0)), NULL,
          'no rows: NULL, as sum() gives');
SELECT is((SELECT rebate.channel_kpis(NULL, 1, 1, 1, 1, NULL, NULL, NULL) FROM generate_series(1, 3)), NULL,
          'only rows without a kind: NULL too');
-- only payments (a partner that pays but did not order): sales 0, no rates that divide by them
SELECT is(pg_temp.kpis_of($$('payment', NULL::bigint, NULL::bigint, NULL::numeric, 500.00, NULL::numeric, NULL::date, NULL::date),
                             ('payment', NULL, NULL, NULL, 250.50, NULL, NULL, NULL)$$)::text,
          '(0,0,0,0,,,0,0,0,,,750.50,,2,0,0,,0)',
          'payments without orders: collected 750.50, no margin, every rate over sales NULL');
-- all returns: net -80.00; margin basis -80 (no rate of a negative basis); no orders
SELECT is(pg_temp.kpis_of($$('return', 7::bigint, 10::bigint, -2.0, -80.00, -50.00, NULL::date, NULL::date)$$)::text,
          '(-80.00,0,80.00,0,-30.00,,-2.0,1,0,,,0,,0,0,0,,0)',
          'only a return: net sales and margin negative, rates NULL');
-- lines of one order apart (not consecutive) still make one order; a NULL kind is skipped
SELECT is((pg_temp.kpis_of($$('order', 1::bigint, 10::bigint, 1.0, 10.00, NULL::numeric, NULL::date, NULL::date),
                              ('order', 2, 11, 1.0, 10.00, NULL, NULL, NULL), ('order', 1, 10, 1.0, 10.00, NULL, NULL, NULL),
                              (NULL, 9, 9, 9, 9, NULL, NULL, NULL)$$)).orders,
          2::bigint, 'an order''s lines apart count one order; a row without a kind is skipped');
SELECT is((SELECT ((k).gross_margin, (k).margin_rate)::text
             FROM pg_temp.kpis_of($$('order', 1::bigint, 10::bigint, 1.0, 10.00, NULL::numeric, NULL::date, NULL::date)$$) k),
          '(,)', 'no line with a cost: no margin and no margin rate (not a margin of 0)');
SELECT throws_ok($$SELECT pg_temp.kpis_of($q$('sale', 1::bigint, 1::bigint, 1.0, 1.00, NULL::numeric, NULL::date, NULL::date)$q$)$$,
                 '22023', 'unknown kind of channel fact: "sale"', 'an unknown kind is refused (22023)');
SELECT throws_ok($$SELECT pg_temp.kpis_of($q$('order', 1::bigint, 1::bigint, 1.0, 'NaN'::numeric, NULL::numeric, NULL::date, NULL::date)$q$)$$,
                 '22023', 'amounts must be finite numbers', 'NaN is refused (22023)');

-- growth(amount, is_current): current 10 + 20 = 30 against 20 -> 0.5000
SELECT is((SELECT growth(a, c) FROM (VALUES (10, true), (20, true), (20, false), (NULL, false), (5, NULL)) v (a, c)),
          0.5000, 'growth: (30 - 20) / 20; NULL amounts and flags skipped');
SELECT is((SELECT growth(a, c) FROM (VALUES (10, true), (0, false)) v (a, c)), NULL, 'growth over a zero base: NULL');
SELECT is((SELECT growth(a, c) FROM (VALUES (10, true)) v (a, c)), NULL, 'growth without a comparison period: NULL');
SELECT is((SELECT growth(a, c) FROM (VALUES (0, true), (40, false)) v (a, c)), -1.0000, 'growth to nothing: -1');
SELECT is((SELECT growth(a, c) FROM (VALUES (50, true), (-100, false)) v (a, c)), 1.5000,
          'growth from a negative base divides by its size: (50 + 100) / 100');
-- achievement(actual, target): (90 + 60) / (100 + 80) = 0.8333..; NULLs skipped per argument
SELECT is((SELECT achievement(a, t) FROM (VALUES (90, 100), (60, 80), (NULL, 20), (30, NULL)) v (a, t)),
          ((90 + 60 + 30) / 200.0)::numeric(10, 4), 'achievement: sum(actual) / sum(target) = 180 / 200');
SELECT is((SELECT achievement(a, t) FROM (VALUES (90, 0), (10, 0)) v (a, t)), NULL, 'a zero target: NULL');
SELECT is((SELECT achievement(a, t) FROM (VALUES (0.00005, 1), (0, 0)) v (a, t)), 0.0001, 'rounded half away from zero');
SELECT is((SELECT achievement(a, t) FROM (VALUES (-0.00005, 1)) v (a, t)), -0.0001, 'negative halves away from zero too');
SELECT is((SELECT achievement(a, t) FROM (VALUES (2, 3)) v (a, t)), 0.6667, '2 / 3 -> 0.6667');
-- weighted_score(value, weight): (80 x 3 + 60 x 1) / (3 + 1) = 75; the NULL value does not count its weight
SELECT is((SELECT weighted_score(s, w) FROM (VALUES (80, 3), (60, 1), (NULL, 5), (100, NULL)) v (s, w)), 75.0000,
          'weighted score: rows with both');
SELECT is((SELECT weighted_score(s, w) FROM (VALUES (80, 0)) v (s, w)), NULL, 'weights adding up to 0: NULL');
SELECT throws_ok($$SELECT weighted_score(s, w) FROM (VALUES (80, -1)) v (s, w)$$, '22023',
                 'weights of weighted_score must not be negative', 'a negative weight is refused (22023)');
SELECT is((SELECT weighted_score(s, w) FROM (VALUES (0.333, 0.5), (0.1, 0.25)) v (s, w)), 0.2553,
          'fractional weights: (0.1665 + 0.025) / 0.75 = 0.25533..');

-- exact beyond int128 and at 35 decimal places (the numeric spill)
SELECT is((SELECT (rebate.channel_kpis('order', 1, 1, 1, a, NULL, NULL, NULL)).net_sales FROM
             (VALUES (99999999999999999999999999999999999999.5), (99999999999999999999999999999999999999.5),
                     (0.00000000000000000000000000000000001)) v (a)),
          199999999999999999999999999999999999999.00000000000000000000000000000000001,
          'sums stay exact past int128 and 30 decimal places');
SELECT is((SELECT achievement(a, t) FROM (VALUES (1e40, 3e40), (1e40, 0)) v (a, t)), 0.6667, 'ratios of huge sums');

-- ---- a tenant's documents through channel_fact ---------------------------------
-- P1: O1 03-02 order 10 x 100 = 1,000 (cost 700), promised 03-10, delivered 03-08 (on time);
--     O2 03-15 order 5 x 100 = 500 (cost 350), promised 03-16, delivered 03-20 (late);
--     R1 03-20 return of O1, 2 x 100 = 200 (cost 140); O3 03-25 draft 999 (does not count);
--     payment 600 on 03-28, payment 400 on 04-02 (April)
-- P2: payment 300 on 03-05 only
--   P1 March: gross 1,500, returns 200, net 1,300, margin (1000-700) + (500-350) - (200-140) = 390, rate 0.3000,
--             quantity 13, orders 2, aov 750.0000, return rate 0.1333, collected 600, collection 0.4615,
--             on time 1 of 2; P1 April: collected 400 only.  P2 March: collected 300.
INSERT INTO tenant (id, code, name) VALUES (981, 'KPI', '绩效测试');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 981;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9810, 981, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, home_region_id, state, credit_limit) VALUES
    (9811, 981, 'P1', '经销一', 9810, 'active', 1000000), (9812, 981, 'P2', '经销二', 9810, 'active', 1000000);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9820, 981, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price, standard_cost) VALUES
    (9821, 981, 'X', '产品X', 9820, 100, 70);
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status, promised_on) VALUES
    (98101, 981, 'O1', 9811, 9810, '2026-03-02', 'approved', '2026-03-10'),
    (98102, 981, 'O2', 9811, 9810, '2026-03-15', 'approved', '2026-03-16'),
    (98104, 981, 'O3', 9811, 9810, '2026-03-25', 'draft', NULL);
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status, kind, original_order_id)
VALUES (98103, 981, 'R1', 9811, 9810, '2026-03-20', 'approved', 'return', 98101);
INSERT INTO order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost) VALUES
    (981, 98101, 9811, 1, 9821, 10, 100, 70), (981, 98102, 9811, 1, 9821, 5, 100, 70),
    (981, 98103, 9811, 1, 9821, 2, 100, 70), (981, 98104, 9811, 1, 9821, 9.99, 100, 70);
UPDATE sales_order SET status = 'shipped' WHERE id IN (98101, 98102);
UPDATE sales_order SET status = 'delivered', delivered_on = '2026-03-08' WHERE id = 98101;
UPDATE sales_order SET status = 'delivered', delivered_on = '2026-03-20' WHERE id = 98102;
INSERT INTO payment (tenant_id, code, partner_id, received_on, amount) VALUES
    (981, 'K-1', 9811, '2026-03-28', 600), (981, 'K-2', 9811, '2026-04-02', 400), (981, 'K-3', 9812, '2026-03-05', 300);
CREATE TEMP TABLE tenant_kpis AS
SELECT partner_id, date_trunc('month', day)::date AS month,
       channel_kpis(kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on) AS k
  FROM channel_fact WHERE tenant_id = 981 GROUP BY 1, 2;
SELECT is((SELECT ((k).gross_sales, (k).returns, (k).net_sales, (k).gross_margin, (k).margin_rate)::text
             FROM tenant_kpis WHERE partner_id = 9811 AND month = '2026-03-01'),
          '(1500.0000,200.0000,1300.0000,390.00000000,0.3000)', 'P1 March: sales, returns, net, margin and its rate');
SELECT is((SELECT ((k).quantity, (k).orders, (k).average_order_value, (k).return_rate, (k).collected, (k).collection_rate)::text
             FROM tenant_kpis WHERE partner_id = 9811 AND month = '2026-03-01'),
          '(13.0000,2,750.0000,0.1333,600.00,0.4615)', 'P1 March: quantity, orders, order value, return and collection rates');
SELECT is((SELECT ((k).promised_deliveries, (k).on_time_deliveries, (k).on_time_rate)::text
             FROM tenant_kpis WHERE partner_id = 9811 AND month = '2026-03-01'),
          '(2,1,0.5000)', 'P1 March: one of two orders delivered by its promised date');
SELECT is((SELECT ((k).collected, (k).net_sales, (k).collection_rate)::text FROM tenant_kpis WHERE partner_id = 9811 AND month = '2026-04-01'),
          '(400.00,0,)', 'P1 April: a payment and no sales: no collection rate');
SELECT is((SELECT (k).collected FROM tenant_kpis WHERE partner_id = 9812), 300.00, 'P2: payments only');
SELECT throws_ok($$UPDATE sales_order SET promised_on = '2026-03-01' WHERE id = 98101$$, '23514', NULL,
                 'a delivery cannot be promised before the order date');

-- ---- differential: the aggregate against built-in aggregates, every plan shape ----
-- 200,000 facts in 40 groups (some without orders): orders of 3 or 4 lines, returns, credit notes, payments,
-- NULL costs, 37 products
CREATE TABLE facts AS
SELECT g % 40 AS grp,
       CASE WHEN g % 20 = 0 THEN 'return' WHEN g % 20 = 1 THEN 'credit_note' WHEN g % 20 = 2 THEN 'payment' ELSE 'order' END AS kind,
       -- an order's lines lie 60,000 rows apart: parallel workers see parts of the same order
       CASE WHEN g % 20 <> 2 THEN g % 60000 END AS order_id,
       CASE WHEN g % 20 <> 2 THEN g % 37 END AS product_id,
       CASE WHEN g % 20 = 0 THEN -(g % 7 + 1) WHEN g % 20 = 1 THEN 0 WHEN g % 20 = 2 THEN NULL ELSE g % 7 + 1 END::numeric AS quantity,
       (CASE WHEN g % 20 IN (0, 1) THEN -1 ELSE 1 END * ((g * 7919) % 100000) / 100.0)::numeric(20, 4) AS amount,
       CASE WHEN g % 11 = 0 OR g % 20 = 2 THEN NULL WHEN g % 20 = 1 THEN 0
            ELSE (CASE WHEN g % 20 = 0 THEN -1 ELSE 1 END * ((g * 7919) % 100000) / 160.0)::numeric(20, 4) END AS cost,
       DATE '2026-01-01' + (g % 60000) % 30 AS promised_on,
       CASE WHEN (g % 60000) % 5 = 0 THEN NULL ELSE DATE '2026-01-01' + (g % 60000) % 31 - (g % 60000) % 3 + 1 END AS delivered_on
  FROM generate_series(1, 200000) AS g;
UPDATE facts SET promised_on = NULL, delivered_on = NULL WHERE kind <> 'order';
ANALYZE facts;

-- the reference: plain sum / count, rates by round(a / b, 4) (numeric's division, then one rounding)
CREATE TEMP TABLE reference AS
WITH per_order AS (
    SELECT grp, order_id, bool_or(delivered_on IS NOT NULL AND promised_on IS NOT NULL) AS promised,
           bool_or(delivered_on <= promised_on) AS on_time
      FROM facts WHERE kind = 'order' GROUP BY grp, order_id
), sums AS (
    SELECT grp,
           coalesce(sum(amount) FILTER (WHERE kind = 'order'), 0) AS gross,
           coalesce(-sum(amount) FILTER (WHERE kind = 'return'), 0) AS returns,
           coalesce(-sum(amount) FILTER (WHERE kind = 'credit_note'), 0) AS credits,
           sum(amount - coalesce(cost, 0)) FILTER (WHERE kind <> 'payment' AND (cost IS NOT NULL OR kind = 'credit_note')) AS margin,
           coalesce(sum(amount) FILTER (WHERE kind <> 'payment' AND (cost IS NOT NULL OR kind = 'credit_note')), 0) AS margin_basis,
           coalesce(sum(quantity) FILTER (WHERE kind <> 'payment'), 0) AS quantity,
           count(*) FILTER (WHERE kind <> 'payment') AS lines,
           count(DISTINCT order_id) FILTER (WHERE kind = 'order') AS orders,
           coalesce(sum(amount) FILTER (WHERE kind = 'payment'), 0) AS collected,
           count(*) FILTER (WHERE kind = 'payment') AS payments,
           count(DISTINCT product_id) FILTER (WHERE kind = 'order') AS products
      FROM facts GROUP BY grp
)
SELECT s.grp, ROW(s.gross - s.returns - s.credits, s.gross, s.returns, s.credits, s.margin,
           CASE WHEN s.margin_basis > 0 THEN round(s.margin / s.margin_basis, 4) END, s.quantity, s.lines, s.orders,
           CASE WHEN s.orders > 0 THEN round(s.gross / s.orders, 4) END,
           CASE WHEN s.gross > 0 THEN round(s.returns / s.gross, 4) END, s.collected,
           CASE WHEN s.gross - s.returns - s.credits > 0 THEN round(s.collected / (s.gross - s.returns - s.credits), 4) END,
           s.payments, coalesce(o.promised, 0), coalesce(o.on_time, 0),
           CASE WHEN o.promised > 0 THEN round(o.on_time::numeric / o.promised, 4) END,
           s.products)::rebate.kpis::text AS k
  FROM sums s
  LEFT JOIN (SELECT grp, count(*) FILTER (WHERE promised) AS promised, count(*) FILTER (WHERE on_time) AS on_time
          FROM per_order GROUP BY grp) o USING (grp);

CREATE FUNCTION pg_temp.differences() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (
        SELECT grp, channel_kpis(kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on)::text AS k
          FROM facts GROUP BY grp
        EXCEPT SELECT grp, k FROM reference) d
$$;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; result text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        result := result || line || E'\n';
    END LOOP;
    RETURN result;
END $$;
CREATE FUNCTION pg_temp.ratios_differences() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (
        SELECT grp, growth(amount, kind = 'order'), achievement(amount, abs(cost)), weighted_score(quantity, abs(cost))
          FROM facts GROUP BY grp
        EXCEPT
        SELECT grp,
               CASE WHEN coalesce(sum(amount) FILTER (WHERE kind <> 'order'), 0) <> 0
                    THEN round((coalesce(sum(amount) FILTER (WHERE kind = 'order'), 0) - sum(amount) FILTER (WHERE kind <> 'order'))
                               / abs(sum(amount) FILTER (WHERE kind <> 'order')), 4) END,
               CASE WHEN sum(abs(cost)) > 0 THEN round(sum(amount) / sum(abs(cost)), 4) END,
               CASE WHEN sum(abs(cost)) FILTER (WHERE quantity IS NOT NULL) > 0
                    THEN round(sum(quantity * abs(cost)) / sum(abs(cost)) FILTER (WHERE quantity IS NOT NULL), 4) END
          FROM facts GROUP BY grp) d
$$;

SET LOCAL max_parallel_workers_per_gather = 0;
SELECT is(pg_temp.differences(), 0::bigint, 'serial: channel_kpis = the built-in aggregates, 40 groups, every field');
SELECT is(pg_temp.ratios_differences(), 0::bigint, 'serial: growth, achievement, weighted_score = sums divided and rounded');

SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SELECT matches(pg_temp.plan_of($$SELECT grp, channel_kpis(kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on) FROM facts GROUP BY grp$$),
               'Workers Launched: [12].*Partial (Hash|Group)?Aggregate',
               'a partial aggregate in parallel workers (states serialized and combined)');
SELECT is(pg_temp.differences(), 0::bigint, 'parallel: the same 40 rows (orders split across workers count once)');
SELECT is(pg_temp.ratios_differences(), 0::bigint, 'parallel: the ratio aggregates the same');

-- the version's switch that runs the whole plan in a worker
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'debug_parallel_query'
                       ELSE 'force_parallel_mode' END, 'on', true) IS NOT NULL AS forced \gset
SELECT is(pg_temp.differences(), 0::bigint, 'forced parallel mode: the same');
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'debug_parallel_query'
                       ELSE 'force_parallel_mode' END, 'off', true) IS NOT NULL AS unforced \gset

-- a hash aggregate over many groups spilling to disk
SET LOCAL max_parallel_workers_per_gather = 0;
SET LOCAL enable_sort = off;
SET LOCAL work_mem = '64kB';
SELECT matches(pg_temp.plan_of($$SELECT order_id % 5000, channel_kpis(kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on) FROM facts GROUP BY 1$$),
               'Batches: ([2-9]|[1-9][0-9]+)', 'hash aggregate spilled to disk');
SELECT is((SELECT sum((k).net_sales) FROM (
              SELECT order_id % 5000, channel_kpis(kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on) AS k
                FROM facts GROUP BY 1) s),
          (SELECT sum(amount) FROM facts WHERE kind <> 'payment'), 'spilled: net sales of 5,000 groups add up to the total');

SELECT * FROM finish();
ROLLBACK;
