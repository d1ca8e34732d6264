-- bench/policy_probe.sql — does the PL/pgSQL trigger of bench/policy_plpgsql.sql
-- judge as the C triggers do?  bench/policy.sh runs every probe below with
-- each variant's triggers on (bench_policy.try: the probe's statements,
-- then a rollback) and requires the C and PL/pgSQL variants to give the
-- same outcome for every probe: the SQLSTATE of the refusal, or "ok" with
-- the violations recorded (kind, limit, value, amount, policy) and the
-- orders held.  The variant "off" accepts everything.  Run after
-- bench/policy_setup.sql.

\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- A line of draft order n (bench_policy.draft) of product n of its tenant,
-- priced price_factor x the benchmark's price (92% of list).
CREATE FUNCTION bench_policy.add_line(draft bigint, product integer, quantity numeric DEFAULT 1,
                                      price_factor numeric DEFAULT 1, line_no integer DEFAULT 1)
    RETURNS void
    LANGUAGE sql
AS $$
    INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost)
    SELECT d.tenant_id, d.order_id, d.partner_id, add_line.line_no, p.product_id, add_line.quantity,
           round(p.unit_price * add_line.price_factor, 2), p.unit_cost
      FROM bench_policy.draft d
      JOIN bench_policy.product p ON p.tenant_id = d.tenant_id AND p.n = add_line.product
     WHERE d.n = add_line.draft
$$;

-- Draft order n submitted with a credit limit of 1,000, then one unit of
-- product n priced to take the partner's exposure to 1,500 (no line of the
-- sample is left, so the exposure is what the payments make it, at most
-- zero; there are no ceilings).
CREATE FUNCTION bench_policy.credit_line(draft bigint, product integer) RETURNS void
    LANGUAGE sql
AS $$
    UPDATE rebate.partner pa SET credit_limit = 1000
      FROM bench_policy.draft d WHERE d.n = credit_line.draft AND pa.id = d.partner_id;
    SELECT rebate.set_order_status(d.order_id, 'submitted') FROM bench_policy.draft d WHERE d.n = credit_line.draft;
    INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost)
    SELECT d.tenant_id, d.order_id, d.partner_id, 1, p.product_id, 1, 1500 - e.exposure, p.unit_cost
      FROM bench_policy.draft d
      JOIN bench_policy.product p ON p.tenant_id = d.tenant_id AND p.n = credit_line.product
     CROSS JOIN LATERAL rebate.credit_exposure(d.partner_id, d.order_id) e
     WHERE d.n = credit_line.draft;
$$;

CREATE FUNCTION bench_policy.draft_order(n bigint) RETURNS bigint
    LANGUAGE sql STABLE
AS $$ SELECT d.order_id FROM bench_policy.draft d WHERE d.n = draft_order.n $$;

-- A closed order of the sample (its lines are gone; it is locked all the same)
-- of the same tenant as draft order 1.
CREATE FUNCTION bench_policy.closed_order() RETURNS rebate.sales_order
    LANGUAGE sql STABLE
AS $$
    SELECT o.* FROM rebate.sales_order o JOIN bench_policy.draft d ON d.n = 1 AND d.tenant_id = o.tenant_id
     WHERE o.kind = 'order' AND o.status = 'closed' ORDER BY o.id LIMIT 1
$$;

-- Runs the statements, reports the outcome and rolls them back.
CREATE FUNCTION bench_policy.try(statements text) RETURNS text
    LANGUAGE plpgsql
AS $$
DECLARE
    outcome text;
BEGIN
    BEGIN
        EXECUTE statements;
        SELECT 'ok' || coalesce(' ' || string_agg(format('%s(limit %s, value %s, amount %s, policy %s)', v.kind,
                                                         trim_scale(v.expected), trim_scale(v.actual),
                                                         trim_scale(v.amount), coalesce(pp.code, '-')),
                                                  ' ' ORDER BY v.id), '')
          INTO outcome
          FROM rebate.policy_violation v
          LEFT JOIN rebate.price_policy pp ON pp.id = v.policy_id
         WHERE v.order_id IN (SELECT order_id FROM bench_policy.draft);
        outcome := outcome
                   || coalesce((SELECT ' held: ' || string_agg(o.code, ',' ORDER BY o.code)
                                  FROM rebate.sales_order o WHERE o.status = 'on_hold' AND o.code LIKE 'BENCH-%'), '')
                   || ', lines ' || (SELECT count(*) FROM rebate.order_line);
        RAISE EXCEPTION USING ERRCODE = 'BP000', MESSAGE = outcome;
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE = 'BP000' THEN
            RETURN SQLERRM;
        END IF;
        RETURN SQLSTATE;
    END;
END
$$;

CREATE TABLE bench_policy.probe (ord integer PRIMARY KEY, name text NOT NULL, statements text NOT NULL);
INSERT INTO bench_policy.probe VALUES
(1, 'a line at 92% of list', $p$
    SELECT bench_policy.add_line(1, 1);
$p$),
(2, 'a line with a quantity break', $p$
    SELECT bench_policy.add_line(1, 1, 60);
$p$),
(3, 'below the floor', $p$
    SELECT bench_policy.add_line(1, 2, 1, 0.5);
$p$),
(4, 'below the floor, policy in review', $p$
    UPDATE rebate.price_policy SET enforcement = 'review';
    SELECT bench_policy.add_line(1, 2, 3, 0.5);
$p$),
(5, 'above the ceiling', $p$
    UPDATE rebate.price_policy SET ceiling_percent = 90;
    SELECT bench_policy.add_line(1, 2);
$p$),
(6, 'above the ceiling, policy in review', $p$
    UPDATE rebate.price_policy SET ceiling_percent = 90, enforcement = 'review';
    SELECT bench_policy.add_line(1, 2, 2);
$p$),
(7, 'no price policy (2025), tenant rejects', $p$
    UPDATE rebate.enforcement_setting SET no_price_policy = 'reject', territory = 'allow';
    UPDATE rebate.sales_order SET order_date = date '2025-06-01' WHERE id = bench_policy.draft_order(1);
    SELECT bench_policy.add_line(1, 2);
$p$),
(8, 'no price policy (2025), tenant reviews', $p$
    UPDATE rebate.enforcement_setting SET no_price_policy = 'review', territory = 'allow';
    UPDATE rebate.sales_order SET order_date = date '2025-06-01' WHERE id = bench_policy.draft_order(1);
    SELECT bench_policy.add_line(1, 2, 4);
$p$),
(9, 'no price policy (2025), tenant allows', $p$
    UPDATE rebate.enforcement_setting SET territory = 'allow';
    UPDATE rebate.sales_order SET order_date = date '2025-06-01' WHERE id = bench_policy.draft_order(1);
    SELECT bench_policy.add_line(1, 2);
$p$),
(10, 'product authorised elsewhere only', $p$
    INSERT INTO rebate.product_region (tenant_id, product_id, region_id)
    SELECT d.tenant_id, p.product_id, r.id
      FROM bench_policy.draft d
      JOIN bench_policy.product p ON p.tenant_id = d.tenant_id AND p.n = 2
      JOIN rebate.sales_order o ON o.id = d.order_id
      JOIN rebate.region home ON home.id = o.ship_to_region_id
      JOIN LATERAL (SELECT r.id FROM rebate.region r
                     WHERE r.tenant_id = d.tenant_id AND NOT r.id = ANY (home.path) AND NOT home.id = ANY (r.path)
                     ORDER BY r.id LIMIT 1) r ON true
     WHERE d.n = 1;
    SELECT bench_policy.add_line(1, 2);
$p$),
(11, 'product authorised elsewhere only, tenant reviews', $p$
    UPDATE rebate.enforcement_setting SET product_region = 'review';
    INSERT INTO rebate.product_region (tenant_id, product_id, region_id)
    SELECT d.tenant_id, p.product_id, r.id
      FROM bench_policy.draft d
      JOIN bench_policy.product p ON p.tenant_id = d.tenant_id AND p.n = 2
      JOIN rebate.sales_order o ON o.id = d.order_id
      JOIN rebate.region home ON home.id = o.ship_to_region_id
      JOIN LATERAL (SELECT r.id FROM rebate.region r
                     WHERE r.tenant_id = d.tenant_id AND NOT r.id = ANY (home.path) AND NOT home.id = ANY (r.path)
                     ORDER BY r.id LIMIT 1) r ON true
     WHERE d.n = 1;
    SELECT bench_policy.add_line(1, 2, 5);
$p$),
(12, 'product authorised in the whole country', $p$
    INSERT INTO rebate.product_region (tenant_id, product_id, region_id)
    SELECT d.tenant_id, p.product_id, home.path[1]
      FROM bench_policy.draft d
      JOIN bench_policy.product p ON p.tenant_id = d.tenant_id AND p.n = 2
      JOIN rebate.sales_order o ON o.id = d.order_id
      JOIN rebate.region home ON home.id = o.ship_to_region_id
     WHERE d.n = 1;
    SELECT bench_policy.add_line(1, 2);
$p$),
(13, 'a line added to a closed order', $p$
    INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost)
    SELECT o.tenant_id, o.id, o.partner_id, 99, p.product_id, 1, p.unit_price, p.unit_cost
      FROM bench_policy.closed_order() o JOIN bench_policy.product p ON p.tenant_id = o.tenant_id AND p.n = 1;
$p$),
(14, 'a line deleted from a shipped order', $p$
    UPDATE rebate.enforcement_setting SET credit = 'allow';
    SELECT bench_policy.add_line(1, 1);
    SELECT rebate.set_order_status(bench_policy.draft_order(1), s)
      FROM unnest(ARRAY['submitted', 'approved', 'shipped']) s;
    DELETE FROM rebate.order_line WHERE order_id = bench_policy.draft_order(1);
$p$),
(15, 'a line deleted from a draft', $p$
    SELECT bench_policy.add_line(1, 1);
    DELETE FROM rebate.order_line WHERE order_id = bench_policy.draft_order(1);
$p$),
(16, 'a line repriced below the floor', $p$
    SELECT bench_policy.add_line(1, 2);
    UPDATE rebate.order_line SET unit_price = unit_price * 0.5 WHERE order_id = bench_policy.draft_order(1);
$p$),
(17, 'a line''s quantity changed', $p$
    SELECT bench_policy.add_line(1, 2);
    UPDATE rebate.order_line SET quantity = 2 WHERE order_id = bench_policy.draft_order(1);
$p$),
(18, 'a line moved to a closed order', $p$
    SELECT bench_policy.add_line(1, 2);
    UPDATE rebate.order_line l SET order_id = c.id, partner_id = c.partner_id
      FROM bench_policy.closed_order() c WHERE l.order_id = bench_policy.draft_order(1);
$p$),
(19, 'over the credit limit, tenant rejects', $p$
    UPDATE rebate.enforcement_setting SET credit = 'reject';
    SELECT bench_policy.credit_line(2, 3);
$p$),
(20, 'over the credit limit, tenant reviews', $p$
    UPDATE rebate.enforcement_setting SET credit = 'review';
    SELECT bench_policy.credit_line(2, 3);
    SELECT bench_policy.add_line(2, 4, 40, 1, 2);
$p$),
(21, 'over the credit limit within its tolerance', $p$
    UPDATE rebate.enforcement_setting SET credit = 'reject', credit_tolerance = 100;
    SELECT bench_policy.credit_line(2, 3);
$p$),
(22, 'an approved order grows within its credit', $p$
    UPDATE rebate.enforcement_setting SET credit = 'reject';
    SELECT bench_policy.add_line(2, 3);
    SELECT rebate.set_order_status(bench_policy.draft_order(2), s) FROM unnest(ARRAY['submitted', 'approved']) s;
    SELECT bench_policy.add_line(2, 4, 1, 1, 2);
    UPDATE rebate.order_line SET quantity = 3 WHERE order_id = bench_policy.draft_order(2) AND line_no = 2;
$p$);
