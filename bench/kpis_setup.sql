-- bench/kpis_setup.sql — data and query pairs of bench/kpis.sh: each KPI
-- aggregate against the built-in aggregates that compute the same numbers
-- separately.  psql variables: rows, partners.
--
-- Data: :rows facts over :partners partners and 12 months, shaped like
-- rebate.channel_fact: orders of three consecutive lines over 60 products,
-- one line in 20 a return, one in 20 a credit note, one in 20 a payment,
-- one in 11 without a cost; delivery promised and mostly kept.  Deterministic
-- (no random()), so every run has the same data.

\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE SCHEMA kpi;

CREATE TABLE kpi.facts AS
SELECT 1 + (g / 3) % :partners AS partner,
       (DATE '2026-01-01' + ((g / 3 / :partners) % 12) * interval '1 month')::date AS month,
       k.kind,
       CASE WHEN k.kind <> 'payment' THEN g / 3 END::bigint AS order_id,
       CASE WHEN k.kind <> 'payment' THEN (g * 7) % 60 END::bigint AS product_id,
       CASE k.kind WHEN 'return' THEN -(g % 7 + 1) WHEN 'credit_note' THEN 0 WHEN 'order' THEN g % 7 + 1 END::numeric(18, 4) AS quantity,
       (CASE WHEN k.kind IN ('return', 'credit_note') THEN -1 ELSE 1 END * ((g * 7919) % 100000) / 100.0)::numeric(20, 4) AS amount,
       CASE WHEN g % 11 = 0 OR k.kind = 'payment' THEN NULL WHEN k.kind = 'credit_note' THEN 0
            ELSE (CASE WHEN k.kind = 'return' THEN -1 ELSE 1 END * ((g * 7919) % 100000) / 160.0) END::numeric(20, 4) AS cost,
       CASE WHEN k.kind = 'order' THEN DATE '2026-01-05' + ((g / 3) % 300)::int END AS promised_on,
       CASE WHEN k.kind = 'order' AND (g / 3) % 10 <> 0 THEN DATE '2026-01-03' + ((g / 3) % 300)::int + ((g / 3) % 7 = 0)::int * 5 END AS delivered_on,
       (g / 3 / :partners) % 12 >= 6 AS is_current,
       ((g * 31) % 5000 + 1000)::numeric(18, 2) AS target,
       CASE WHEN g % 13 <> 0 THEN ((g * 17) % 10000 / 100.0)::numeric(10, 2) END AS score,
       ((g % 5) / 10.0)::numeric(10, 2) AS weight
  FROM generate_series(1::bigint, :rows) AS g
 CROSS JOIN LATERAL (SELECT CASE g % 20 WHEN 0 THEN 'return' WHEN 1 THEN 'credit_note' WHEN 2 THEN 'payment'
                                         ELSE 'order' END AS kind) k;
VACUUM (FREEZE, ANALYZE) kpi.facts;

-- Each aggregate and its built-in equivalent give the same result per group
-- (as text); only the aggregation differs.
CREATE TABLE kpi.variant (ord int, aggregate text, side text, query text, PRIMARY KEY (aggregate, side));
INSERT INTO kpi.variant VALUES
(1, 'channel_kpis', 'rebate', $q$
SELECT partner, month, rebate.channel_kpis(kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on)::text AS result
  FROM kpi.facts GROUP BY partner, month$q$),
(2, 'channel_kpis', 'built-in', $q$
SELECT partner, month,
       ROW(s.gross - s.returns - s.credits, s.gross, s.returns, s.credits, s.margin,
           CASE WHEN s.margin_basis > 0 THEN round(s.margin / s.margin_basis, 4) END, s.quantity, s.lines, s.orders,
           CASE WHEN s.orders > 0 THEN round(s.gross / s.orders, 4) END,
           CASE WHEN s.gross > 0 THEN round(s.returns / s.gross, 4) END, s.collected,
           CASE WHEN s.gross - s.returns - s.credits > 0 THEN round(s.collected / (s.gross - s.returns - s.credits), 4) END,
           s.payments, s.promised, s.on_time, CASE WHEN s.promised > 0 THEN round(s.on_time::numeric / s.promised, 4) END,
           s.products)::rebate.kpis::text AS result
  FROM (SELECT partner, month,
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
               count(DISTINCT order_id) FILTER (WHERE kind = 'order' AND promised_on IS NOT NULL AND delivered_on IS NOT NULL) AS promised,
               count(DISTINCT order_id) FILTER (WHERE kind = 'order' AND delivered_on <= promised_on) AS on_time,
               count(DISTINCT product_id) FILTER (WHERE kind = 'order') AS products
          FROM kpi.facts GROUP BY partner, month) s$q$),
(3, 'channel_kpis sums only', 'rebate', $q$
SELECT partner, month, ((k).net_sales, (k).gross_sales, (k).returns, (k).credit_notes, (k).quantity, (k).lines, (k).collected,
                        (k).payments)::text AS result
  FROM (SELECT partner, month,
               rebate.channel_kpis(kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on) AS k
          FROM kpi.facts GROUP BY partner, month) s$q$),
(4, 'channel_kpis sums only', 'built-in', $q$
SELECT partner, month, (gross - returns - credits, gross, returns, credits, quantity, lines, collected, payments)::text AS result
  FROM (SELECT partner, month,
               coalesce(sum(amount) FILTER (WHERE kind = 'order'), 0) AS gross,
               coalesce(-sum(amount) FILTER (WHERE kind = 'return'), 0) AS returns,
               coalesce(-sum(amount) FILTER (WHERE kind = 'credit_note'), 0) AS credits,
               coalesce(sum(quantity) FILTER (WHERE kind <> 'payment'), 0) AS quantity,
               count(*) FILTER (WHERE kind <> 'payment') AS lines,
               coalesce(sum(amount) FILTER (WHERE kind = 'payment'), 0) AS collected,
               count(*) FILTER (WHERE kind = 'payment') AS payments
          FROM kpi.facts GROUP BY partner, month) s$q$),
(5, 'growth', 'rebate', $q$
SELECT partner, NULL::date AS month, rebate.growth(amount, is_current)::text AS result FROM kpi.facts GROUP BY partner$q$),
(6, 'growth', 'built-in', $q$
SELECT partner, NULL::date AS month,
       CASE WHEN coalesce(prior, 0) <> 0 THEN round((coalesce(current, 0) - prior) / abs(prior), 4) END::text AS result
  FROM (SELECT partner, sum(amount) FILTER (WHERE is_current) AS current, sum(amount) FILTER (WHERE NOT is_current) AS prior
          FROM kpi.facts GROUP BY partner) s$q$),
(7, 'achievement', 'rebate', $q$
SELECT partner, NULL::date AS month, rebate.achievement(amount, target)::text AS result FROM kpi.facts GROUP BY partner$q$),
(8, 'achievement', 'built-in', $q$
SELECT partner, NULL::date AS month, CASE WHEN t > 0 THEN round(coalesce(a, 0) / t, 4) END::text AS result
  FROM (SELECT partner, sum(amount) AS a, sum(target) AS t FROM kpi.facts GROUP BY partner) s$q$),
(9, 'weighted_score', 'rebate', $q$
SELECT partner, NULL::date AS month, rebate.weighted_score(score, weight)::text AS result FROM kpi.facts GROUP BY partner$q$),
(10, 'weighted_score', 'built-in', $q$
SELECT partner, NULL::date AS month, CASE WHEN w > 0 THEN round(sw / w, 4) END::text AS result
  FROM (SELECT partner, sum(score * weight) AS sw, sum(weight) FILTER (WHERE score IS NOT NULL) AS w
          FROM kpi.facts GROUP BY partner) s$q$);

-- A query's executor time (EXPLAIN ANALYZE without per-node timing) and the
-- parallel workers it launched.
CREATE TABLE kpi.timing (workers int, aggregate text, side text, run int, ms float8, launched int);
CREATE FUNCTION kpi.time_query(query text, OUT ms float8, OUT launched int) LANGUAGE plpgsql AS $$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) ' || query INTO plan;
    ms := (plan -> 0 ->> 'Execution Time')::float8;
    launched := coalesce((SELECT sum(w::int) FROM jsonb_path_query(plan, 'strict $.**."Workers Launched"') AS w), 0);
END $$;

-- The groups where an aggregate and its built-in equivalent differ (must be 0).
CREATE FUNCTION kpi.differences(agg text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    mine text := (SELECT query FROM kpi.variant WHERE aggregate = agg AND side = 'rebate');
    theirs text := (SELECT query FROM kpi.variant WHERE aggregate = agg AND side = 'built-in');
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((%s EXCEPT %s) UNION ALL (%s EXCEPT %s)) d', mine, theirs, theirs, mine) INTO n;
    RETURN n;
END $$;
