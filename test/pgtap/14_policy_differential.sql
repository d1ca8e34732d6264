-- Differential: the C price trigger (per-backend caches, its own filter over
-- each product's cached policies) against the SQL definition
-- (rebate.effective_price + rebate.policy_price_limits), over the sample
-- channel: thousands of random sales, each tried one unit of 0.0001 below the
-- floor, at the floor, at the ceiling and just above it, with policies
-- changed midway in the same session.
BEGIN;
SELECT plan(3);
\ir ../../sample/sample_data.sql
SELECT lives_ok($$SELECT rebate_sample.generate(lines => 300)$$, 'the sample channel loads');
UPDATE rebate.enforcement_setting SET territory = 'allow', product_region = 'allow', no_price_policy = 'allow';
UPDATE rebate.price_policy SET ceiling_percent = 110 WHERE code = 'BASE';

CREATE FUNCTION pg_temp.accepted(order_id bigint, line integer, product bigint, qty numeric, price numeric) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
    SELECT o.tenant_id, o.id, line, product, qty, price FROM rebate.sales_order o WHERE o.id = accepted.order_id;
    RETURN true;
EXCEPTION WHEN SQLSTATE 'RB010' OR SQLSTATE 'RB011' THEN
    RETURN false;
END $$;

CREATE FUNCTION pg_temp.mismatches(cases integer, seed double precision) RETURNS TABLE (tried bigint, floors bigint, ceilings bigint, wrong bigint)
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    o bigint;
    lim record;
    n bigint := 0;
    bad bigint := 0;
    floors bigint := 0;
    ceilings bigint := 0;
BEGIN
    PERFORM setseed(seed);
    FOR c IN
        SELECT pa.id AS partner, pa.tenant_id, pr.id AS product, r.id AS region,
               date '2025-12-15' + (random() * 400)::int AS on_date,
               (ARRAY[1, 49.9999, 50, 120])[1 + floor(random() * 4)::int] AS qty
          FROM generate_series(1, cases) g
          CROSS JOIN LATERAL (SELECT p.* FROM rebate.partner p WHERE p.state = 'active' AND g > 0
                               ORDER BY random() LIMIT 1) pa
          CROSS JOIN LATERAL (SELECT p.id FROM rebate.product p WHERE p.tenant_id = pa.tenant_id AND g > 0
                               ORDER BY random() LIMIT 1) pr
          CROSS JOIN LATERAL (SELECT x.id FROM rebate.region x WHERE x.tenant_id = pa.tenant_id AND g > 0
                               ORDER BY random() LIMIT 1) r
    LOOP
        INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date)
        VALUES (c.tenant_id, 'DIFF-' || seed || '-' || n, c.partner, c.region, c.on_date) RETURNING id INTO o;
        SELECT l.* INTO lim FROM rebate.policy_price_limits(
            rebate.effective_price(c.product, c.partner, c.region, c.on_date, c.qty), c.product) l;
        n := n + 1;
        floors := floors + (lim.floor_price IS NOT NULL)::int;
        ceilings := ceilings + (lim.ceiling_price IS NOT NULL)::int;
        IF pg_temp.accepted(o, 1, c.product, c.qty, coalesce(lim.floor_price, 1) - 0.0001) <> (lim.floor_price IS NULL)
           OR (lim.floor_price IS NOT NULL AND NOT pg_temp.accepted(o, 2, c.product, c.qty, lim.floor_price))
           OR (lim.ceiling_price IS NOT NULL AND NOT pg_temp.accepted(o, 3, c.product, c.qty, lim.ceiling_price))
           OR (lim.ceiling_price IS NOT NULL AND pg_temp.accepted(o, 4, c.product, c.qty, lim.ceiling_price + 0.0001)) THEN
            bad := bad + 1;
            RAISE NOTICE 'mismatch: partner % product % region % date % qty % limits %', c.partner, c.product, c.region, c.on_date, c.qty, lim;
        END IF;
    END LOOP;
    RAISE NOTICE 'tried %, with a floor %, with a ceiling %, wrong %', n, floors, ceilings, bad;
    RETURN QUERY SELECT n, floors, ceilings, bad;
END $$;

SELECT is((SELECT format('%s tried, %s wrong, all kinds met: %s', tried, wrong,
                          floors > 300 AND ceilings > 100 AND tried - floors > 100) FROM pg_temp.mismatches(1500, 0.11)),
          '1500 tried, 0 wrong, all kinds met: t', 'C trigger and SQL agree on floor and ceiling of 1,500 random sales');
-- change policies in the same session: raise floors, end a promotion early, add a grade-A ceiling
UPDATE rebate.price_policy SET floor_percent = 85 WHERE code = 'BASE';
UPDATE rebate.price_policy SET valid = daterange(lower(valid), '2026-07-15') WHERE code = 'PROMO-SOUTH-SUMMER';
UPDATE rebate.price_policy SET ceiling_percent = 95 WHERE code = 'GRADE-A';
SELECT is((SELECT format('%s tried, %s wrong, all kinds met: %s', tried, wrong,
                          floors > 300 AND ceilings > 100 AND tried - floors > 100) FROM pg_temp.mismatches(1500, 0.22)),
          '1500 tried, 0 wrong, all kinds met: t', 'and still agree after the policies changed in the same session');
SELECT * FROM finish();
ROLLBACK;
