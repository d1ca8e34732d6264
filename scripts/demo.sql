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

\echo
\echo 'Channel policy at work (C triggers on every write). A 华光 dealer orders air conditioners for December 2026:'
SELECT p.id AS dealer, p.code AS dealer_code, p.home_region_id AS home, pr.id AS product, pr.sku, pr.list_price,
       (SELECT r.id FROM rebate.region r WHERE r.tenant_id = p.tenant_id AND r.level = 'area'
           AND NOT rebate.in_territory(p.id, r.id, date '2026-12-10') ORDER BY r.id LIMIT 1) AS elsewhere
  FROM rebate.partner p
  JOIN rebate.product pr ON pr.tenant_id = p.tenant_id AND pr.sku = 'HU-C1-02'
 WHERE p.code = 'HUAGUANG-P00001' \gset
INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date)
SELECT tenant_id, 'DEMO-1', id, home_region_id, date '2026-12-10' FROM rebate.partner WHERE id = :dealer;
\set ON_ERROR_STOP off
\echo
\echo '1. A line at 60% of the list price, below the 80% floor of the base policy: refused.'
INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
SELECT o.tenant_id, o.id, 1, :product, 5, :list_price * 0.6 FROM rebate.sales_order o WHERE o.code = 'DEMO-1';
\echo
\echo '2. An order shipped into another 大区, outside the dealer''s territory (窜货): refused.'
INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date)
SELECT tenant_id, 'DEMO-2', id, :elsewhere, date '2026-12-10' FROM rebate.partner WHERE id = :dealer;
\set ON_ERROR_STOP on
\echo
\echo '3. The brand puts its base policy under review: the same line is accepted, recorded, and the order held once submitted.'
UPDATE rebate.price_policy SET enforcement = 'review'
 WHERE code = 'BASE' AND tenant_id = (SELECT tenant_id FROM rebate.partner WHERE id = :dealer);
INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
SELECT o.tenant_id, o.id, 1, :product, 5, :list_price * 0.6 FROM rebate.sales_order o WHERE o.code = 'DEMO-1';
UPDATE rebate.sales_order SET status = 'submitted' WHERE code = 'DEMO-1';
SELECT v.order_code, o.status, v.kind, v.sku, v.unit_price, v.limit_price AS floor, v.amount_gap, v.policy_code
  FROM rebate.v_price_violations v JOIN rebate.sales_order o ON o.id = v.order_id
 WHERE v.order_code = 'DEMO-1';
\echo
\echo 'Credit exposure of the dealer (receivable = shipped − returns − payments; negative = paid in advance):'
SELECT * FROM rebate.credit_exposure(:dealer, (SELECT id FROM rebate.sales_order WHERE code = 'DEMO-1'));
