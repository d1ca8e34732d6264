-- The demo: load the sample channel (two brands, real regions, ~50 partners,
-- 30 products, a year of orders) and run a quarter's rebates on it.
\pset null '-'
\set ON_ERROR_STOP on
\i sample/sample_data.sql
\echo
\echo 'Sample data loaded (rebate_sample.generate, seed 0.2026):'
SELECT * FROM rebate_sample.generate();

\echo
\echo 'Q3 2026 volume rebates of 华光电器 (HUAGUANG), retroactive 1% / 2% from 1,000,000 / 3% from 1,500,000, capped at 50,000;'
\echo 'returns reduce the basis; each rebate is rounded once, to the fen:'
SELECT p.code AS partner,
       p.name,
       g.code AS grade,
       sum(f.amount)                                                       AS net_sales,
       rebate.tier_index(sum(f.amount), s.schedule)                        AS tier,
       rebate.next_tier_gap(sum(f.amount), s.schedule)                     AS to_next_tier,
       rebate.round_money(rebate.tiered_sum(f.amount, s.schedule), 'CNY')  AS rebate_cny,
       round(rebate.effective_rate(sum(f.amount), s.schedule) * 100, 2)    AS "rate_%"
  FROM rebate.sales_fact f
  JOIN rebate.partner p ON p.id = f.partner_id
  JOIN rebate.tenant t ON t.id = f.tenant_id AND t.code = 'HUAGUANG'
  LEFT JOIN rebate.partner_grade g ON g.id = p.grade_id
 CROSS JOIN (SELECT 'retroactive 0:1%, 1000000:2%, 1500000:3% cap 50000'::rebate.tier_schedule AS schedule) s
 WHERE f.order_date >= date '2026-07-01' AND f.order_date < date '2026-10-01'
 GROUP BY p.code, p.name, g.code, s.schedule
 ORDER BY net_sales DESC
 LIMIT 12;

\echo
\echo 'Q3 2026 overachievement bonus against each 总代''s quarterly target (above 100% pays 3%, above 120% pays 5%, on the excess):'
SELECT p.code AS partner,
       tg.value AS target,
       sum(f.amount) AS actual,
       round(sum(f.amount) / tg.value * 100, 1) AS "achieved_%",
       rebate.round_money(rebate.overachievement_rebate(sum(f.amount), tg.value,
                          'incremental 1.0:3%, 1.2:5%', apply_to => 'excess')) AS bonus_cny
  FROM rebate.sales_fact f
  JOIN rebate.partner p ON p.id = f.partner_id AND p.kind = 'distributor'
  JOIN rebate.target tg ON tg.partner_id = p.id AND tg.metric = 'sales_amount' AND tg.period @> date '2026-07-01'
 WHERE f.order_date >= date '2026-07-01' AND f.order_date < date '2026-10-01'
 GROUP BY p.code, tg.value
 ORDER BY p.code;
