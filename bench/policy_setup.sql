-- bench/policy_setup.sql — the data of bench/policy.sh: what the order lines
-- of the benchmark go into.  Run by bench/policy.sh in a fresh database with
-- the extension and sample/sample_data.sql loaded; psql variables:
--     partners   the sample's partners per brand (rebate_sample.generate)
--     lines      order lines per timed load
--     per_order  lines per order (the batched load's)
--     order_status  the orders' status: draft (the default), or approved
--                   (bench/rollups.sh: lines of approved orders count, so
--                   the rollups follow them)
--
-- rebate_sample.generate makes two tenants with regions, partners (each
-- active one with its home region as territory), products and price
-- policies, and a year of orders.  Then :lines / :per_order draft orders of
-- active partners, shipped to the partner's home region, dated in 2026, and
-- bench_policy.line_src: the lines of the batched load, every one of which
-- passes every check: unit price 92% of list (the floors are 80%; no
-- ceilings), no product has product_region rows (authorised everywhere),
-- the orders are drafts (no credit check) inside the partner's territory.
-- The sample's own lines are removed: every load starts from an empty
-- rebate.order_line.

\set ON_ERROR_STOP on
SET client_min_messages = warning;
\if :{?order_status}
\else
    \set order_status draft
\endif

SELECT * FROM rebate_sample.generate(partners => :partners, lines => 30000) \g /dev/null

CREATE SCHEMA bench_policy;

-- Active partners with a territory covering their home region in 2026.
CREATE TABLE bench_policy.partner AS
SELECT row_number() OVER (ORDER BY p.id) AS n, p.tenant_id, p.id AS partner_id, p.home_region_id
  FROM rebate.partner p
 WHERE p.state = 'active'
   AND rebate.in_territory(p.id, p.home_region_id, date '2026-06-30');

-- The draft orders: partners round robin, dates over 2026.
CREATE TABLE bench_policy.draft (
    n          bigint PRIMARY KEY,
    order_id   bigint NOT NULL,
    tenant_id  bigint NOT NULL,
    partner_id bigint NOT NULL
);
INSERT INTO rebate.sales_order (tenant_id, code, partner_id, kind, ship_to_region_id, order_date, status)
SELECT p.tenant_id, 'BENCH-' || lpad(g::text, 8, '0'), p.partner_id, 'order', p.home_region_id,
       date '2026-01-01' + ((g * 37) % 365)::int, :'order_status'
  FROM generate_series(1, (:lines + :per_order - 1) / :per_order) AS g
  JOIN bench_policy.partner p ON p.n = 1 + (g - 1) % (SELECT count(*) FROM bench_policy.partner);
INSERT INTO bench_policy.draft (n, order_id, tenant_id, partner_id)
SELECT substr(o.code, 7)::bigint, o.id, o.tenant_id, o.partner_id
  FROM rebate.sales_order o WHERE o.code LIKE 'BENCH-%';

-- Products per tenant, numbered, with the price every line pays.
CREATE TABLE bench_policy.product AS
SELECT row_number() OVER (PARTITION BY p.tenant_id ORDER BY p.id) AS n, p.tenant_id, p.id AS product_id,
       round(p.list_price * 0.92, 2) AS unit_price, p.standard_cost AS unit_cost
  FROM rebate.product p;
ALTER TABLE bench_policy.product ADD PRIMARY KEY (tenant_id, n);
SELECT count(DISTINCT n) AS products_per_tenant FROM bench_policy.product \gset

-- The lines of the batched load, in order: n = 1 .. :lines, :per_order per
-- order.  Quantities 1-60, so the quantity breaks (from 50) apply to some.
CREATE TABLE bench_policy.line_src AS
SELECT (d.n - 1) * :per_order + l AS n, d.tenant_id, d.order_id, d.partner_id, l AS line_no,
       pr.product_id, (1 + (d.n * 7 + l * 13) % 60)::numeric AS quantity, pr.unit_price, pr.unit_cost
  FROM bench_policy.draft d
 CROSS JOIN generate_series(1, :per_order) AS l
  JOIN bench_policy.product pr ON pr.tenant_id = d.tenant_id
                              AND pr.n = 1 + (d.n * 31 + l * 7) % :products_per_tenant
 WHERE (d.n - 1) * :per_order + l <= :lines
 ORDER BY 1;
ALTER TABLE bench_policy.line_src ADD PRIMARY KEY (n);

-- pgbench: line numbers unique over all orders.
CREATE SEQUENCE bench_policy.line_no;

-- The sample's own lines and the audit of the set-up go: every load starts
-- from empty tables.
TRUNCATE rebate.order_line, rebate.shipment_line, rebate.audit_log;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM rebate.product_region) THEN
        RAISE EXCEPTION 'bench/policy_setup.sql expects no product_region rows';
    END IF;
END
$$;
VACUUM ANALYZE;
