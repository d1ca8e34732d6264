-- Price policies and effective_price's resolution order; orders placed by
-- partner users and approved by managers; returns, payments, targets.
BEGIN;
SET search_path = public, rebate;
SELECT plan(31);

INSERT INTO tenant (id, code, name) VALUES (701, 'PX', '价格测试');
INSERT INTO region (id, tenant_id, code, name, level) VALUES (7100, 701, 'CN', '中国', 'country');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (7110, 701, 'EAST', '华东', 'area', 7100), (7111, 701, 'SH', '上海', 'province', 7110),
    (7120, 701, 'SOUTH', '华南', 'area', 7100), (7121, 701, 'GD', '广东', 'province', 7120);
INSERT INTO partner_grade (id, tenant_id, code, name, rank) VALUES (7001, 701, 'A', '金牌', 1), (7002, 701, 'B', '银牌', 2);
INSERT INTO partner (id, tenant_id, code, name, grade_id, home_region_id, state, credit_limit) VALUES
    (7201, 701, 'PA', '上海金牌经销', 7001, 7111, 'active', 100000), (7202, 701, 'PB', '广州银牌经销', 7002, 7121, 'active', 100000);
INSERT INTO partner_territory (tenant_id, partner_id, region_id, valid) VALUES
    (701, 7201, 7110, '[2026-01-01,2027-01-01)'), (701, 7202, 7120, '[2026-01-01,2027-01-01)');
INSERT INTO product_category (id, tenant_id, code, name) VALUES (7300, 701, 'HA', '家电');
INSERT INTO product_category (id, tenant_id, code, name, parent_id) VALUES (7310, 701, 'AC', '空调', 7300);
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price, standard_cost) VALUES
    (7401, 701, 'AC-X', '空调X', 7310, 1000, 700), (7402, 701, 'AC-Y', '空调Y', 7310, 2000, 1500);

INSERT INTO price_policy (tenant_id, code, category_id, price_percent, floor_percent, valid) VALUES
    (701, 'CAT-BASE', 7300, 90, 80, '[2026-01-01,2027-01-01)');
INSERT INTO price_policy (tenant_id, code, product_id, grade_id, region_id, min_quantity, price, floor_price, valid) VALUES
    (701, 'X-BASE',   7401, NULL, NULL,   0, 950, 850, '[2026-01-01,2027-01-01)'),
    (701, 'X-EAST',   7401, NULL, 7110,   0, 930, 850, '[2026-01-01,2027-01-01)'),
    (701, 'X-A',      7401, 7001, NULL,   0, 920, 850, '[2026-01-01,2027-01-01)'),
    (701, 'X-A-SH',   7401, 7001, 7111,   0, 900, 850, '[2026-01-01,2027-01-01)'),
    (701, 'X-Q100',   7401, NULL, NULL, 100, 940, 850, '[2026-01-01,2027-01-01)');
INSERT INTO price_policy (tenant_id, code, category_id, promotion, price_percent, valid) VALUES
    (701, 'AC-PROMO', 7310, true, 85, '[2026-07-01,2026-08-01)');

CREATE FUNCTION pg_temp.policy(product bigint, partner bigint, region bigint, on_date date, qty numeric) RETURNS text
LANGUAGE sql AS $$ SELECT (rebate.effective_price(product, partner, region, on_date, qty)).code $$;

SELECT is(pg_temp.policy(7401, 7201, 7111, '2026-07-15', 1), 'AC-PROMO', 'a promotion wins while it runs, even from a category');
SELECT is(pg_temp.policy(7401, 7201, 7111, '2026-03-01', 1), 'X-A-SH', 'then the deepest region, with the partner''s grade');
SELECT is(pg_temp.policy(7401, 7202, 7111, '2026-03-01', 1), 'X-EAST', 'another grade: the regional price');
SELECT is(pg_temp.policy(7401, 7202, 7121, '2026-03-01', 1), 'X-BASE', 'outside 华东: the product''s base price');
SELECT is(pg_temp.policy(7401, 7202, 7121, '2026-03-01', 100), 'X-Q100', 'a quantity break once the quantity reaches it');
SELECT is(pg_temp.policy(7401, 7202, 7121, '2026-03-01', 99.9999), 'X-BASE', 'and not one unit before');
SELECT is(pg_temp.policy(7401, 7201, 7121, '2026-03-01', 1), 'X-A', 'grade-specific over any grade');
SELECT is(pg_temp.policy(7402, 7202, 7121, '2026-03-01', 1), 'CAT-BASE', 'a product without policies: its category''s');
SELECT is(pg_temp.policy(7402, 7202, 7121, '2025-12-31', 1), NULL, 'no policy outside every validity period');
SELECT is((SELECT format('%s/%s', unit_price, floor_price) FROM rebate.policy_unit_price(rebate.effective_price(7402, 7202, 7121, '2026-03-01', 1), 7402)),
          '1800.0000/1600.0000', 'a category policy''s percentages in money');
SELECT is((SELECT format('%s/%s', unit_price, floor_price) FROM rebate.policy_unit_price(rebate.effective_price(7401, 7201, 7111, '2026-03-01', 1), 7401)),
          '900.0000/850.0000', 'a product policy''s own price and floor');

SELECT throws_ok($$INSERT INTO rebate.price_policy (tenant_id, code, product_id, price, valid)
                   VALUES (701, 'X-BASE2', 7401, 960, '[2026-06-01,2026-07-01)')$$,
                 '23P01', NULL, 'an overlapping policy for the same scope is refused');
SELECT lives_ok($$INSERT INTO rebate.price_policy (tenant_id, code, product_id, price, valid)
                  VALUES (701, 'X-BASE27', 7401, 960, '[2027-01-01,2028-01-01)')$$, 'the next period is fine');
SELECT throws_ok($$INSERT INTO rebate.price_policy (tenant_id, code, product_id, category_id, price, valid)
                   VALUES (701, 'BOTH', 7401, 7310, 1, '[2030-01-01,2031-01-01)')$$,
                 '23514', NULL, 'a policy is for a product or a category, not both');
SELECT throws_ok($$INSERT INTO rebate.price_policy (tenant_id, code, product_id, price, floor_price, valid)
                   VALUES (701, 'FLOOR', 7401, 100, 200, '[2030-01-01,2031-01-01)')$$,
                 '23514', NULL, 'a floor above the price is refused');

-- orders: the partner user places, the manager approves
CREATE FUNCTION public.rows_affected(statement text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    EXECUTE statement;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
CREATE ROLE t_po_mgr; CREATE ROLE t_po_pa;
SELECT rebate.grant_access('t_po_mgr', 701);
SELECT rebate.grant_access('t_po_pa', 701, 7201);

SET ROLE t_po_pa;
SELECT lives_ok($$INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id)
                  VALUES ('SO-1', 7201, 7111)$$, 'a partner user places an order for itself (dated today)');
SELECT lives_ok($$INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price)
                  SELECT o.id, l.*
                    FROM rebate.sales_order o, (VALUES (1, 7401, 10, 900), (2, 7402, 2, 1800)) AS l
                   WHERE o.code = 'SO-1'$$, 'and adds lines');
SELECT throws_ok($$INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id) VALUES ('SO-X', 7202, 7121)$$,
                 '42501', NULL, 'but not for another partner');
SELECT lives_ok($$UPDATE rebate.sales_order SET status = 'submitted' WHERE code = 'SO-1'$$, 'it submits its draft');
SELECT is(rows_affected($$UPDATE rebate.sales_order SET status = 'approved' WHERE code = 'SO-1'$$), 0,
          'it cannot approve its own order (a submitted order is no longer its to change)');
SELECT throws_ok($$SELECT standard_cost FROM rebate.product$$, '42501', NULL, 'it does not see product costs');
SELECT is((SELECT sum(list_price) FROM rebate.product), 3000.0000, 'but sees list prices');
SELECT throws_ok($$SELECT unit_cost FROM rebate.order_line$$, '42501', NULL, 'nor the cost recorded on its own lines');
RESET ROLE;

SELECT is((SELECT format('%s %s %s', partner_id, unit_cost, amount) FROM order_line WHERE order_id = (SELECT id FROM rebate.sales_order WHERE code = 'SO-1') AND line_no = 1),
          '7201 700.0000 9000.0000', 'lines take the partner from the order and the cost from the product');

SET ROLE t_po_mgr;
SELECT lives_ok($$SELECT rebate.set_order_status((SELECT id FROM rebate.sales_order WHERE code = 'SO-1'), 'approved', '信用额度内')$$, 'the manager approves');
SELECT throws_ok($$SELECT rebate.set_order_status((SELECT id FROM rebate.sales_order WHERE code = 'SO-1'), 'closed')$$, 'RB001', 'sales_order cannot go from state "approved" to "closed"',
                 'orders cannot skip shipping and delivery');
RESET ROLE;
SELECT is((SELECT array_agg(coalesce(from_status, '-') || '>' || to_status ORDER BY id) FROM order_status_history WHERE order_id = (SELECT id FROM rebate.sales_order WHERE code = 'SO-1')),
          ARRAY['->draft', 'draft>submitted', 'submitted>approved'], 'the status history');

-- a return counts negative
INSERT INTO sales_order (id, tenant_id, code, partner_id, kind, original_order_id, ship_to_region_id, order_date, status)
VALUES (7502, 701, 'RT-1', 7201, 'return', (SELECT id FROM rebate.sales_order WHERE code = 'SO-1'), 7111, '2026-03-10', 'submitted');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES (701, 7502, 1, 7401, 1, 900);
SELECT is((SELECT sum(amount) FROM sales_fact WHERE partner_id = 7201), 11700.0000, 'sales_fact: 9000 + 3600 - 900');

INSERT INTO sales_order (id, tenant_id, code, partner_id, kind, original_order_id, ship_to_region_id, order_date, status)
VALUES (7503, 701, 'CN-1', 7201, 'credit_note', (SELECT id FROM rebate.sales_order WHERE code = 'SO-1'), 7111, '2026-03-12', 'submitted');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES (701, 7503, 1, 7401, 10, 20);
SELECT is((SELECT format('%s %s', sum(amount), sum(quantity)) FROM sales_fact WHERE partner_id = 7201),
          '11500.0000 11.0000', 'a credit note of 10 x 20 lowers the amount, not the quantity');

-- payments and allocations
INSERT INTO payment (id, tenant_id, code, partner_id, amount) VALUES (7601, 701, 'PAY-1', 7201, 5000);
INSERT INTO payment_allocation (tenant_id, payment_id, order_id, partner_id, amount)
SELECT 701, 7601, id, 7201, 4000 FROM sales_order WHERE code = 'SO-1';
SELECT throws_ok($$INSERT INTO rebate.payment_allocation (tenant_id, payment_id, order_id, partner_id, amount)
                   VALUES (701, 7601, 7502, 7201, 1000.01)$$, '23514', 'allocations of payment 7601 would exceed it',
                 'allocations never exceed the payment');

-- targets
INSERT INTO target (tenant_id, partner_id, metric, period, value) VALUES (701, 7201, 'sales_amount', '[2026-01-01,2026-04-01)', 500000);
SELECT throws_ok($$INSERT INTO rebate.target (tenant_id, partner_id, metric, period, value)
                   VALUES (701, 7201, 'sales_amount', '[2026-03-01,2026-06-01)', 1)$$, '23P01', NULL,
                 'overlapping targets for the same partner and metric are refused');

SELECT * FROM finish();
ROLLBACK;
