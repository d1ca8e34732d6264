-- Policy enforcement by the C triggers: price floors and ceilings, territory
-- and product authorisation (窜货), credit, order state rules, violations and
-- their resolution, bring-your-own tables, multi-row statements, COPY, RLS
-- sessions and cache invalidation within a session.
BEGIN;
SET search_path = public, rebate;
SELECT plan(93);

INSERT INTO tenant (id, code, name) VALUES (801, 'PE', '政策测试');
INSERT INTO region (id, tenant_id, code, name, level) VALUES (8100, 801, 'CN', '中国', 'country');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (8110, 801, 'EAST', '华东', 'area', 8100), (8111, 801, 'SH', '上海', 'province', 8110),
    (8112, 801, 'PD', '浦东', 'district', 8111), (8113, 801, 'JS', '江苏', 'province', 8110),
    (8120, 801, 'SOUTH', '华南', 'area', 8100), (8121, 801, 'GD', '广东', 'province', 8120);
INSERT INTO partner_grade (id, tenant_id, code, name, rank) VALUES (8001, 801, 'A', '金牌', 1);
INSERT INTO partner (id, tenant_id, code, name, grade_id, home_region_id, state, credit_limit) VALUES
    (8201, 801, 'PA', '华东甲经销', 8001, 8111, 'active', 100000),
    (8202, 801, 'PB', '华南乙经销', 8001, 8121, 'active', 100000),
    (8203, 801, 'PC', '停用丙经销', 8001, 8111, 'suspended', 100000),
    (8204, 801, 'PD', '上海丁经销', 8001, 8111, 'active', 0),
    (8205, 801, 'PE', '江苏戊经销', 8001, 8113, 'active', 100000);
INSERT INTO partner_territory (tenant_id, partner_id, region_id, valid, exclusive) VALUES
    (801, 8201, 8110, '[2025-01-01,2027-01-01)', false),
    (801, 8202, 8120, '[2026-01-01,2027-01-01)', true),
    (801, 8204, 8111, '[2026-03-01,2026-04-01)', false),
    (801, 8205, 8113, '[2026-01-01,2027-01-01)', false);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (8300, 801, 'HA', '家电');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES
    (8401, 801, 'AC-X', '空调X', 8300, 1000), (8402, 801, 'AC-Y', '空调Y', 8300, 2000),
    (8403, 801, 'AC-Z', '空调Z', 8300, 3000);
INSERT INTO product_region (tenant_id, product_id, region_id) VALUES (801, 8402, 8120);
INSERT INTO price_policy (id, tenant_id, code, product_id, price, floor_price, ceiling_price, valid) VALUES
    (8501, 801, 'X-2026', 8401, 950, 800, 1100, '[2026-01-01,2027-01-01)');
INSERT INTO price_policy (id, tenant_id, code, category_id, price_percent, floor_percent, valid) VALUES
    (8502, 801, 'HA-2026', 8300, 90, 80, '[2026-01-01,2027-01-01)');

CREATE FUNCTION pg_temp.new_order(code text, partner bigint, region bigint, on_date date, status text DEFAULT 'draft')
RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date, status)
    VALUES (801, code, partner, region, on_date, status) RETURNING id
$$;
CREATE FUNCTION pg_temp.order_id(order_code text) RETURNS bigint LANGUAGE sql AS
$$ SELECT id FROM rebate.sales_order WHERE code = order_code $$;
CREATE FUNCTION pg_temp.status(order_code text) RETURNS text LANGUAGE sql AS
$$ SELECT status FROM rebate.sales_order WHERE code = order_code $$;
CREATE FUNCTION pg_temp.add_line(order_code text, line integer, product bigint, qty numeric, price numeric)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
    VALUES (801, pg_temp.order_id(order_code), line, product, qty, price)
$$;

-- ---- price floors and ceilings --------------------------------------------
SELECT pg_temp.new_order('P-1', 8201, 8111, '2026-03-10');
SELECT lives_ok($$SELECT pg_temp.add_line('P-1', 1, 8401, 1, 800)$$, 'a price exactly at the floor is accepted');
SELECT throws_ok($$SELECT pg_temp.add_line('P-1', 2, 8401, 1, 799.99)$$, 'RB010',
                 'unit price 799.99 of product "AC-X" (空调X) for partner "PA" (华东甲经销) is below the floor 800',
                 'one cent below the floor is refused, naming product, partner, price and floor');
SELECT lives_ok($$SELECT pg_temp.add_line('P-1', 3, 8401, 1, 1100)$$, 'a price exactly at the ceiling is accepted');
SELECT throws_ok($$SELECT pg_temp.add_line('P-1', 4, 8401, 1, 1100.01)$$, 'RB011', NULL, 'one cent above the ceiling is refused');
SELECT throws_ok($$SELECT pg_temp.add_line('P-1', 5, 8402, 1, 1599.99)$$, 'RB010', NULL,
                 'a category policy''s floor (80% of 2000) holds for its products');

CREATE FUNCTION pg_temp.error_parts(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text; h text;
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN d || ' | ' || h;
END $$;
SELECT is(pg_temp.error_parts($$SELECT pg_temp.add_line('P-1', 6, 8401, 2, 700)$$),
          'Price policy "X-2026" (id 8501) applies on 2026-03-10 in region "上海" (SH) for quantity 2. | '
          'Invoice at or above the floor, or have a manager change the price policy or set its enforcement to review.',
          'the detail names the policy row, the hint what to do');
SELECT is((SELECT count(*) FROM order_line WHERE order_id = pg_temp.order_id('P-1')), 2::bigint,
          'refused lines left nothing behind');

-- multi-row statements and COPY: one bad row fails the whole statement
SELECT throws_ok($$INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
                   VALUES (801, pg_temp.order_id('P-1'), 10, 8401, 1, 900), (801, pg_temp.order_id('P-1'), 11, 8401, 1, 500)$$,
                 'RB010', NULL, 'a multi-row insert with one line below the floor fails');
SELECT is((SELECT count(*) FROM order_line WHERE order_id = pg_temp.order_id('P-1')), 2::bigint, 'and inserts none of its rows');
SELECT lives_ok(format($$COPY rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
                         FROM PROGRAM 'printf "801,%s,20,8401,1,900\n801,%s,21,8401,2,950\n"' (FORMAT csv)$$,
                       pg_temp.order_id('P-1'), pg_temp.order_id('P-1')), 'COPY of good lines passes');
SELECT throws_ok(format($$COPY rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
                          FROM PROGRAM 'printf "801,%s,22,8401,1,900\n801,%s,23,8401,2,10\n"' (FORMAT csv)$$,
                        pg_temp.order_id('P-1'), pg_temp.order_id('P-1')), 'RB010', NULL, 'COPY with a line below the floor fails');
SELECT is((SELECT count(*) FROM order_line WHERE order_id = pg_temp.order_id('P-1')), 4::bigint, 'the good COPY landed, the bad one not at all');
SELECT throws_ok($$UPDATE rebate.order_line SET unit_price = 10 WHERE order_id = pg_temp.order_id('P-1') AND line_no = 20$$,
                 'RB010', NULL, 'an update of the price is judged too');

-- cache invalidation: change the policy and write again in the same session
UPDATE price_policy SET floor_price = 850 WHERE id = 8501;
SELECT throws_ok($$SELECT pg_temp.add_line('P-1', 30, 8401, 1, 820)$$, 'RB010', NULL,
                 'a raised floor holds for the very next line of the same session');
SELECT lives_ok($$UPDATE rebate.order_line SET quantity = quantity WHERE order_id = pg_temp.order_id('P-1') AND line_no = 1$$,
                'a line written at 800 before the floor rose is not re-judged by an update that leaves price and quantity');
UPDATE price_policy SET floor_price = 800 WHERE id = 8501;
SELECT lives_ok($$SELECT pg_temp.add_line('P-1', 30, 8401, 1, 820)$$, 'lowered again, 820 passes at once');

-- validity: a new policy from 2026-06-01 judges lines dated on or after its start
UPDATE price_policy SET valid = '[2026-01-01,2026-06-01)' WHERE id = 8501;
INSERT INTO price_policy (id, tenant_id, code, product_id, price, floor_price, valid) VALUES
    (8503, 801, 'X-H2', 8401, 990, 900, '[2026-06-01,2027-01-01)');
SELECT pg_temp.new_order('P-MAY31', 8201, 8111, '2026-05-31');
SELECT pg_temp.new_order('P-JUN1', 8201, 8111, '2026-06-01');
SELECT lives_ok($$SELECT pg_temp.add_line('P-MAY31', 1, 8401, 1, 850)$$, 'the day before the new policy: the old floor');
SELECT throws_ok($$SELECT pg_temp.add_line('P-JUN1', 1, 8401, 1, 850)$$, 'RB010', NULL, 'its first day: the new floor');
SELECT is((SELECT count(*) FROM order_line WHERE order_id = pg_temp.order_id('P-1') AND unit_price = 800), 1::bigint,
          'lines already written keep their price (never re-judged silently)');

-- no applicable policy: the tenant's default (allow, then reject, then review)
SELECT pg_temp.new_order('P-2026', 8201, 8111, '2025-12-20');
SELECT lives_ok($$SELECT pg_temp.add_line('P-2026', 1, 8401, 1, 1)$$, 'no policy in force: allowed by default');
UPDATE enforcement_setting SET no_price_policy = 'reject' WHERE tenant_id = 801;
SELECT throws_ok($$SELECT pg_temp.add_line('P-2026', 2, 8401, 1, 1)$$, 'RB012', NULL, 'no policy, tenant rejects');
UPDATE enforcement_setting SET no_price_policy = 'review' WHERE tenant_id = 801;
SELECT lives_ok($$SELECT pg_temp.add_line('P-2026', 2, 8401, 1, 1)$$, 'no policy, tenant reviews: accepted');
SELECT is((SELECT kind || ' ' || status FROM policy_violation WHERE order_id = pg_temp.order_id('P-2026')), 'no_price_policy open',
          'and recorded');
UPDATE enforcement_setting SET no_price_policy = 'allow' WHERE tenant_id = 801;

-- review mode: accepted, recorded, the order held
UPDATE price_policy SET enforcement = 'review' WHERE id = 8501;
SELECT pg_temp.new_order('P-REV', 8201, 8111, '2026-03-11', 'submitted');
SELECT lives_ok($$SELECT pg_temp.add_line('P-REV', 1, 8401, 3, 780)$$, 'review: a line below the floor is accepted');
SELECT is(pg_temp.status('P-REV'), 'on_hold', 'its submitted order goes on_hold');
SELECT is((SELECT format('%s %s %s %s %s', kind, expected, actual, quantity, policy_id) FROM policy_violation
            WHERE order_id = pg_temp.order_id('P-REV')),
          'price_floor 800.0000 780.0000 3.0000 8501', 'the violation: kind, floor, price, quantity, policy');
SELECT is((SELECT format('%s %s', price_gap, amount_gap) FROM v_price_violations WHERE order_code = 'P-REV'),
          '-20.0000 -60.00000000', 'v_price_violations: 20 below the floor on 3 units');
SELECT pg_temp.new_order('P-DRAFT', 8201, 8111, '2026-03-12');
SELECT pg_temp.add_line('P-DRAFT', 1, 8401, 1, 790);
SELECT is(pg_temp.status('P-DRAFT'), 'draft', 'a draft with a violation stays a draft');
SELECT lives_ok($$UPDATE rebate.sales_order SET status = 'submitted' WHERE code = 'P-DRAFT'$$, 'it can be submitted');
SELECT is(pg_temp.status('P-DRAFT'), 'on_hold', 'and is held at once, its violation open');
UPDATE price_policy SET enforcement = 'reject' WHERE id = 8501;

-- returns and credit notes keep the original sale's price
INSERT INTO sales_order (tenant_id, code, partner_id, kind, original_order_id, ship_to_region_id, order_date)
VALUES (801, 'P-RT', 8201, 'return', pg_temp.order_id('P-1'), 8111, '2026-03-20');
SELECT lives_ok($$SELECT pg_temp.add_line('P-RT', 1, 8401, 1, 10)$$, 'a return line is not judged against today''s floor');

-- ---- territory (窜货) and product authorisation ---------------------------------
SELECT lives_ok($$SELECT pg_temp.new_order('T-PD', 8201, 8112, '2026-03-10')$$,
                'a territory of 华东 covers 浦东, two levels down');
SELECT throws_ok($$SELECT pg_temp.new_order('T-GD', 8201, 8121, '2026-03-10')$$, 'RB020',
                 'partner "PA" (华东甲经销) may not sell into region "广东" (GD) on 2026-03-10: it lies outside the partner''s territories',
                 'shipping into 广东 is refused');
SELECT is(pg_temp.error_parts($$SELECT pg_temp.new_order('T-GD', 8201, 8121, '2026-03-10')$$),
          'Its territories: "华东" from 2025-01-01 until 2027-01-01. | Ship to a region inside the partner''s territory, or have a manager extend its territory (rebate.partner_territory).',
          'the detail lists the partner''s territories');
SELECT throws_ok($$SELECT pg_temp.new_order('T-0228', 8204, 8111, '2026-02-28')$$, 'RB020', NULL, 'the day before a territory starts: outside');
SELECT lives_ok($$SELECT pg_temp.new_order('T-0301', 8204, 8111, '2026-03-01')$$, 'its first day: inside');
SELECT lives_ok($$SELECT pg_temp.new_order('T-0331', 8204, 8111, '2026-03-31')$$, 'its last day: inside');
SELECT throws_ok($$SELECT pg_temp.new_order('T-0401', 8204, 8111, '2026-04-01')$$, 'RB020', NULL, 'the end of [from, to): outside');
SELECT throws_ok($$UPDATE rebate.sales_order SET ship_to_region_id = 8121 WHERE code = 'T-PD'$$, 'RB020', NULL,
                 'moving an order out of the territory is refused as well');

SELECT throws_ok($$SELECT pg_temp.add_line('T-PD', 1, 8402, 1, 1800)$$, 'RB021',
                 'product "AC-Y" (空调Y) is not authorised for sale in region "浦东" (PD)',
                 'a product authorised only in 华南 cannot be sold in 浦东');
SELECT lives_ok($$SELECT pg_temp.add_line('T-PD', 1, 8403, 1, 2700)$$, 'a product without product_region rows sells everywhere');
SELECT pg_temp.new_order('T-SOUTH', 8202, 8121, '2026-03-10');
SELECT lives_ok($$SELECT pg_temp.add_line('T-SOUTH', 1, 8402, 1, 1800)$$, 'AC-Y in 广东, under its 华南 authorisation');

UPDATE enforcement_setting SET territory = 'review' WHERE tenant_id = 801;
SELECT lives_ok($$SELECT pg_temp.new_order('T-REV', 8201, 8121, '2026-03-10', 'submitted')$$, 'territory in review: accepted');
SELECT is(pg_temp.status('T-REV'), 'on_hold', 'held at once');
SELECT is((SELECT kind || ' ' || region_id FROM policy_violation WHERE order_id = pg_temp.order_id('T-REV')), 'territory 8121',
          'a territory violation recorded');
UPDATE enforcement_setting SET territory = 'allow' WHERE tenant_id = 801;
SELECT pg_temp.new_order('T-ALLOW', 8201, 8121, '2026-03-10', 'approved');
SELECT pg_temp.add_line('T-ALLOW', 1, 8401, 2, 900);
SELECT is((SELECT format('%s %s %s', order_code, amount, intruded_partner_id) FROM v_cross_territory_sales WHERE order_code = 'T-ALLOW'),
          'T-ALLOW 1800.0000 8202', 'v_cross_territory_sales shows allowed 窜货 and whose exclusive territory it entered');
UPDATE enforcement_setting SET territory = 'reject' WHERE tenant_id = 801;

-- ---- order state rules --------------------------------------------------------
SELECT throws_ok($$SELECT pg_temp.new_order('S-1', 8203, 8111, '2026-03-10')$$, 'RB041',
                 'partner "PC" (停用丙经销) is suspended and cannot place orders', 'a suspended partner places no order');
SELECT pg_temp.new_order('S-2', 8201, 8111, '2026-03-10');
SELECT pg_temp.add_line('S-2', 1, 8401, 1, 900);
SELECT rebate.set_partner_state(8201, 'suspended', '测试');
SELECT throws_ok($$UPDATE rebate.sales_order SET status = 'submitted' WHERE code = 'S-2'$$, 'RB041', NULL,
                 'nor submits a draft it wrote while active');
SELECT rebate.set_partner_state(8201, 'active', '恢复');
UPDATE sales_order SET status = 'submitted' WHERE code = 'S-2';
UPDATE sales_order SET status = 'approved' WHERE code = 'S-2';
UPDATE sales_order SET status = 'shipped' WHERE code = 'S-2';
SELECT throws_ok($$SELECT pg_temp.add_line('S-2', 2, 8401, 1, 900)$$, 'RB040',
                 'the lines of order "S-2" cannot change: the order is shipped', 'no line is added to a shipped order');
SELECT throws_ok($$UPDATE rebate.order_line SET quantity = 5 WHERE order_id = pg_temp.order_id('S-2')$$, 'RB040', NULL,
                 'nor changed');
SELECT throws_ok($$DELETE FROM rebate.order_line WHERE order_id = pg_temp.order_id('S-2')$$, 'RB040', NULL, 'nor deleted');
SELECT throws_ok($$UPDATE rebate.sales_order SET order_date = '2026-03-11' WHERE code = 'S-2'$$, 'RB040', NULL,
                 'a shipped order''s date is locked');
SELECT lives_ok($$UPDATE rebate.sales_order SET note = '已发货' WHERE code = 'S-2'$$, 'its note is not');
-- a savepoint rolled back undoes the shipment: the lines are free again
SELECT pg_temp.new_order('S-3', 8201, 8111, '2026-03-10');
SELECT pg_temp.add_line('S-3', 1, 8401, 1, 900);
SAVEPOINT shipping;
UPDATE sales_order SET status = 'submitted' WHERE code = 'S-3';
UPDATE sales_order SET status = 'approved' WHERE code = 'S-3';
UPDATE sales_order SET status = 'shipped' WHERE code = 'S-3';
SELECT throws_ok($$DELETE FROM rebate.order_line WHERE order_id = pg_temp.order_id('S-3')$$, 'RB040', NULL,
                 'inside the savepoint the shipped order''s lines are locked');
ROLLBACK TO SAVEPOINT shipping;
SELECT lives_ok($$DELETE FROM rebate.order_line WHERE order_id = pg_temp.order_id('S-3')$$,
                'after ROLLBACK TO SAVEPOINT the draft''s lines can be deleted again');
SELECT is(pg_temp.status('S-3'), 'draft', 'and the order is a draft');
-- the same within one statement: a PL/pgSQL exception block undoes the
-- shipment without the command counter moving on
SELECT pg_temp.add_line('S-3', 1, 8401, 1, 900);
SELECT lives_ok($sql$DO $do$
DECLARE
    s3 bigint := pg_temp.order_id('S-3');
BEGIN
    BEGIN
        UPDATE rebate.sales_order SET status = 'submitted' WHERE id = s3;
        UPDATE rebate.sales_order SET status = 'approved' WHERE id = s3;
        UPDATE rebate.sales_order SET status = 'shipped' WHERE id = s3;
        DELETE FROM rebate.order_line WHERE order_id = s3;
    EXCEPTION WHEN SQLSTATE 'RB040' THEN
        NULL;
    END;
    DELETE FROM rebate.order_line WHERE order_id = s3;
END $do$$sql$, 'after an exception block rolls the shipment back, the lines can be deleted in the same statement');

-- ---- credit ---------------------------------------------------------------------
-- PD has no credit (limit 0): it trades on prepayment
SELECT pg_temp.new_order('C-1', 8204, 8111, '2026-03-15');
SELECT pg_temp.add_line('C-1', 1, 8401, 10, 900);
UPDATE sales_order SET status = 'submitted' WHERE code = 'C-1';
SELECT is(pg_temp.status('C-1'), 'on_hold', 'over the limit (9000 > 0) the order goes on_hold');
SELECT is((SELECT format('%s %s %s', kind, expected, actual) FROM policy_violation WHERE order_id = pg_temp.order_id('C-1')),
          'credit_limit 0 9000.0000', 'a credit_limit violation: limit and exposure');
SELECT is((SELECT format('%s %s %s %s', receivable, open_orders, this_order, exposure) FROM credit_exposure(8204, pg_temp.order_id('C-1'))),
          '0 0 9000.0000 9000.0000', 'credit_exposure shows the parts');
INSERT INTO payment (tenant_id, code, partner_id, amount) VALUES (801, 'PRE-1', 8204, 10000);
SELECT pg_temp.new_order('C-2', 8204, 8111, '2026-03-16');
SELECT pg_temp.add_line('C-2', 1, 8401, 1, 900);
UPDATE sales_order SET status = 'submitted' WHERE code = 'C-2';
SELECT is(pg_temp.status('C-2'), 'submitted', 'a prepayment of 10000 covers the held 9000 and this 900');
SELECT pg_temp.add_line('C-2', 2, 8401, 1, 900);
SELECT is(pg_temp.status('C-2'), 'on_hold', 'a line added to the submitted order that goes over the limit holds it');
UPDATE enforcement_setting SET credit = 'reject', credit_tolerance = 10 WHERE tenant_id = 801;
SELECT pg_temp.new_order('C-3', 8205, 8113, '2026-03-16');
SELECT pg_temp.add_line('C-3', 1, 8401, 100, 1000);
SELECT pg_temp.add_line('C-3', 2, 8401, 10, 1000);
SELECT lives_ok($$UPDATE rebate.sales_order SET status = 'submitted' WHERE code = 'C-3'$$,
                'reject mode with a 10% tolerance: 110000 on a 100000 limit passes');
SELECT throws_ok($$SELECT pg_temp.add_line('C-3', 3, 8401, 1, 900)$$, 'RB030', NULL, 'one more line goes over 110000: refused');
UPDATE enforcement_setting SET credit = 'review', credit_tolerance = 0 WHERE tenant_id = 801;

-- ---- resolving violations ------------------------------------------------------
CREATE ROLE t_pe_mgr; CREATE ROLE t_pe_pa; CREATE ROLE t_pe_other;
SELECT rebate.grant_access('t_pe_mgr', 801);
SELECT rebate.grant_access('t_pe_pa', 801, 8201);
INSERT INTO tenant (id, code, name) VALUES (802, 'PE2', '别的品牌');
SELECT rebate.grant_access('t_pe_other', 802);

SET ROLE t_pe_pa;
SELECT throws_ok($$SELECT pg_temp.add_line('P-1', 40, 8401, 1, 700)$$, 'RB010', NULL,
                 'a partner user below the floor is refused like a manager');
SELECT is((SELECT count(*) FROM rebate.policy_violation WHERE order_id = pg_temp.order_id('P-REV')), 1::bigint,
          'a partner user sees its own violations');
SELECT throws_ok($$SELECT rebate.resolve_violation((SELECT id FROM rebate.policy_violation WHERE order_id = pg_temp.order_id('P-REV')), 'approve')$$,
                 '42501', NULL, 'but cannot resolve them');
RESET ROLE;
UPDATE price_policy SET enforcement = 'review' WHERE id = 8501;
SET ROLE t_pe_pa;
SELECT lives_ok($$INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id)
                  VALUES ('RLS-1', 8201, 8112)$$, 'a partner user places a draft (dated today)');
RESET ROLE;
UPDATE rebate.sales_order SET order_date = '2026-03-20' WHERE code = 'RLS-1';   -- a manager dates it
SET ROLE t_pe_pa;
SELECT lives_ok($$INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price)
                  VALUES (pg_temp.order_id('RLS-1'), 1, 8401, 2, 790)$$,
                'review mode: its line below the floor is accepted, the violation written for it');
SELECT lives_ok($$UPDATE rebate.sales_order SET status = 'submitted' WHERE code = 'RLS-1'$$,
                'it submits, and row-level security lets the held result through');
SELECT is((SELECT o.status || ' ' || v.kind || ' ' || v.detected_by FROM rebate.sales_order o
             JOIN rebate.policy_violation v ON v.order_id = o.id WHERE o.code = 'RLS-1'),
          'on_hold price_floor t_pe_pa', 'held, with the violation it can read, detected by the partner user');
RESET ROLE;
UPDATE price_policy SET enforcement = 'reject' WHERE id = 8501;
SET ROLE t_pe_other;
SELECT throws_ok($$SELECT rebate.resolve_violation((SELECT max(id) FROM rebate.policy_violation), 'approve')$$,
                 'P0002', NULL, 'a manager of another tenant cannot resolve them (nor learn they exist)');
RESET ROLE;

SET ROLE t_pe_mgr;
SELECT throws_ok($$SELECT rebate.resolve_violation(1, 'maybe')$$, '22023', 'invalid decision "maybe"', 'decisions are approve or reject');
SELECT is((rebate.resolve_violation((SELECT id FROM rebate.policy_violation WHERE order_id = pg_temp.order_id('P-REV')), 'approve', '特价审批')).status,
          'approved', 'the manager approves the price violation');
SELECT is(pg_temp.status('P-REV'), 'submitted', 'nothing else holds the order: it is released to where it was held from');
SELECT throws_ok($$SELECT rebate.resolve_violation((SELECT id FROM rebate.policy_violation WHERE order_id = pg_temp.order_id('P-REV')), 'reject')$$,
                 'RB050', NULL, 'a resolved violation stays resolved');
SELECT is((rebate.resolve_violation((SELECT id FROM rebate.policy_violation WHERE order_id = pg_temp.order_id('P-DRAFT')), 'reject', '低于底价')).status,
          'rejected', 'rejecting a price violation');
SELECT is((SELECT count(*) FROM rebate.order_line WHERE order_id = pg_temp.order_id('P-DRAFT')), 0::bigint, 'deletes its line');
SELECT is(pg_temp.status('P-DRAFT'), 'submitted', 'and releases the order, submitted as it was meant to be');
SELECT lives_ok($$SELECT rebate.resolve_violation((SELECT id FROM rebate.policy_violation WHERE order_id = pg_temp.order_id('C-1')), 'approve', '总经理特批')$$,
                'approving a credit breach');
SELECT is(pg_temp.status('C-1'), 'submitted', 'releases the order: the approval covers its amount, the re-check passes');
SELECT lives_ok($$SELECT rebate.resolve_violation((SELECT id FROM rebate.policy_violation WHERE order_id = pg_temp.order_id('T-REV')), 'reject', '窜货')$$,
                'rejecting a territory violation');
SELECT is(pg_temp.status('T-REV'), 'cancelled', 'cancels the order');
RESET ROLE;

-- ---- bring your own table --------------------------------------------------------
CREATE SCHEMA shop;
CREATE TABLE shop.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, dealer_id bigint, sku_id integer,
                          qty integer, price numeric(12,2), ship_region bigint, ordered_on timestamptz, state text DEFAULT 'new');
CREATE TRIGGER price BEFORE INSERT OR UPDATE ON shop.orders FOR EACH ROW EXECUTE FUNCTION rebate.enforce_price_policy(
    'partner_id=dealer_id', 'product_id=sku_id', 'unit_price=price', 'quantity=qty', 'region_id=ship_region',
    'order_date=ordered_on', 'status=state', 'key=id');
CREATE TRIGGER region BEFORE INSERT OR UPDATE ON shop.orders FOR EACH ROW EXECUTE FUNCTION rebate.enforce_region_policy(
    'partner_id=dealer_id', 'product_id=sku_id', 'region_id=ship_region', 'order_date=ordered_on', 'status=state', 'key=id');
SELECT lives_ok($$INSERT INTO shop.orders (dealer_id, sku_id, qty, price, ship_region, ordered_on)
                  VALUES (8201, 8401, 2, 900, 8111, '2026-03-10 10:00+08')$$, 'an application''s own table: a good row passes');
SELECT throws_ok($$INSERT INTO shop.orders (dealer_id, sku_id, qty, price, ship_region, ordered_on)
                   VALUES (8201, 8401, 2, 700, 8111, '2026-03-10 10:00+08')$$, 'RB010', NULL, 'below the floor is refused');
SELECT throws_ok($$INSERT INTO shop.orders (dealer_id, sku_id, qty, price, ship_region, ordered_on)
                   VALUES (8201, 8401, 2, 900, 8121, '2026-03-10 10:00+08')$$, 'RB020', NULL, 'outside the territory is refused');
UPDATE price_policy SET enforcement = 'review' WHERE id = 8501;
INSERT INTO shop.orders (dealer_id, sku_id, qty, price, ship_region, ordered_on) VALUES (8201, 8401, 1, 700, 8111, '2026-03-10');
SELECT is((SELECT state FROM shop.orders WHERE price = 700), 'on_hold', 'review: the row is accepted and its status column held');
SELECT is((SELECT format('%s %s %s', kind, source_table, source_id = (SELECT id FROM shop.orders WHERE price = 700))
             FROM policy_violation WHERE source_table = 'shop.orders'::regclass),
          'price_floor shop.orders t', 'the violation names the application''s table and row');
UPDATE price_policy SET enforcement = 'reject' WHERE id = 8501;

CREATE TABLE shop.bad (id bigint, dealer bigint, sku bigint, price text);
CREATE TRIGGER t1 BEFORE INSERT ON shop.bad FOR EACH ROW EXECUTE FUNCTION rebate.enforce_price_policy(
    'partner_id=dealer_id', 'product_id=sku', 'unit_price=price');
SELECT throws_ok($$INSERT INTO shop.bad VALUES (1, 8201, 8401, '1')$$, '42703',
                 'column "dealer_id" named by trigger "t1" does not exist in table "bad"', 'a missing column is named when the trigger fires');
DROP TRIGGER t1 ON shop.bad;
CREATE TRIGGER t2 BEFORE INSERT ON shop.bad FOR EACH ROW EXECUTE FUNCTION rebate.enforce_price_policy(
    'partner_id=dealer', 'product_id=sku');
SELECT throws_ok($$INSERT INTO shop.bad VALUES (1, 8201, 8401, '1')$$, '22023',
                 'trigger "t2" on table "bad" does not map the field "unit_price"', 'a missing field is named');
DROP TRIGGER t2 ON shop.bad;
CREATE TRIGGER t3 BEFORE INSERT ON shop.bad FOR EACH ROW EXECUTE FUNCTION rebate.enforce_price_policy(
    'partner_id=dealer', 'product_id=sku', 'unit_price=price');
SELECT throws_ok($$INSERT INTO shop.bad VALUES (1, 8201, 8401, '1')$$, '42804', NULL, 'a text price column is refused');
DROP TRIGGER t3 ON shop.bad;
CREATE TRIGGER t4 BEFORE INSERT ON shop.bad FOR EACH ROW EXECUTE FUNCTION rebate.enforce_price_policy('dealer');
SELECT throws_ok($$INSERT INTO shop.bad VALUES (1, 8201, 8401, '1')$$, '22023', NULL, 'an argument without "=" is refused');
DROP TRIGGER t4 ON shop.bad;
CREATE TRIGGER t5 BEFORE INSERT ON shop.bad FOR EACH ROW EXECUTE FUNCTION rebate.enforce_price_policy();
SELECT throws_ok($$INSERT INTO shop.bad VALUES (1, 8201, 8401, '1')$$, '22023', NULL, 'no arguments: only rebate.order_line');

SELECT * FROM finish();
ROLLBACK;
