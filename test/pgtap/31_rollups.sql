-- Rollups (issue 16): rebate.sales_rollup follows every change of the
-- documents it sums, exactly, in the writing transaction; after each step it
-- equals the independent recomputation (rebate.verify_rollups), and the sums
-- a reader sees are the ones worked out by hand here.
--   tenant 971: distributor D (children A and B), distributor E (no children);
--   products X (category C1) and Y (C2); regions CN > EAST.
BEGIN;
SET search_path = public, rebate;
SELECT plan(76);

INSERT INTO tenant (id, code, name) VALUES (971, 'ROLL', '汇总');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 971;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9710, 971, 'CN', '中国', 'country');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES (9711, 971, 'EAST', '华东', 'area', 9710);
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit) VALUES
    (9712, 971, 'D', '总代D', 'distributor', 9710, 'active', 100000000),
    (9713, 971, 'E', '总代E', 'distributor', 9710, 'active', 100000000);
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, parent_id, state, credit_limit) VALUES
    (9714, 971, 'A', '经销A', 'dealer', 9711, 9712, 'active', 100000000),
    (9715, 971, 'B', '经销B', 'dealer', 9711, 9712, 'active', 100000000);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9716, 971, 'C1', '一类'), (9717, 971, 'C2', '二类');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price, standard_cost) VALUES
    (9718, 971, 'X', '产品X', 9716, 100, 60), (9719, 971, 'Y', '产品Y', 9717, 50, 20);

-- what a key sums to, over the writer slots: 'quantity/amount/cost/lines', or 'none'
CREATE FUNCTION pg_temp.cell(partner bigint, sub boolean, basis text, unit text, start date, kind text,
                             product bigint DEFAULT NULL) RETURNS text
    LANGUAGE sql AS $$
    SELECT coalesce((
        SELECT format('%s/%s/%s/%s', trim_scale(sum(quantity)), trim_scale(sum(amount)), trim_scale(sum(cost)), sum(lines))
          FROM rebate.sales_rollup
         WHERE tenant_id = 971 AND partner_id = partner AND of_sub_partners = sub AND date_basis = basis
           AND cell.unit = sales_rollup.unit AND period_start = start AND cell.kind = sales_rollup.kind
           AND (product IS NULL OR product_id = product)
        HAVING sum(lines) <> 0 OR sum(amount) <> 0), 'none')
$$;
CREATE FUNCTION pg_temp.move(order_id bigint, status text) RETURNS void
    LANGUAGE sql AS $$ SELECT NULL FROM rebate.set_order_status(order_id, status) $$;
CREATE FUNCTION pg_temp.agrees() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM rebate.verify_rollups(971) $$;

-- ---- orders and their lines ---------------------------------------------------------------
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (97101, 971, 'O1', 9714, 9711, '2026-03-10', 'draft');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price, unit_cost) VALUES
    (971, 97101, 1, 9718, 10, 100, 60), (971, 97101, 2, 9719, 4, 50, 20);
SELECT is((SELECT count(*) FROM sales_rollup WHERE tenant_id = 971), 0::bigint, 'a draft''s lines add nothing');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (draft)');

SELECT pg_temp.move(97101, 'submitted');
SELECT is((SELECT count(*) FROM sales_rollup WHERE tenant_id = 971), 0::bigint, 'a submitted order adds nothing');
SELECT pg_temp.move(97101, 'approved');
SELECT is(pg_temp.cell(9714, false, 'order', 'day', '2026-03-10', 'order', 9718), '10/1000/600/1',
          'approved: A''s day row of X');
SELECT is(pg_temp.cell(9714, false, 'order', 'month', '2026-03-01', 'order'), '14/1200/680/2',
          'A''s month row (X and Y)');
SELECT is(pg_temp.cell(9712, true, 'order', 'month', '2026-03-01', 'order'), '14/1200/680/2',
          'D''s row of its sub-partners');
SELECT is(pg_temp.cell(9714, false, 'delivery', 'month', '2026-03-01', 'order'), 'none',
          'nothing on the delivery basis before delivery');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (approved)');

-- lines of an approved order change: a quantity, a product, a line more, a line less
UPDATE order_line SET quantity = 12 WHERE order_id = 97101 AND line_no = 1;
SELECT is(pg_temp.cell(9714, false, 'order', 'day', '2026-03-10', 'order', 9718), '12/1200/720/1', 'a quantity changes');
UPDATE order_line SET product_id = 9718, unit_cost = 60 WHERE order_id = 97101 AND line_no = 2;
SELECT is(pg_temp.cell(9714, false, 'order', 'day', '2026-03-10', 'order', 9719), 'none', 'a line leaves product Y');
SELECT is(pg_temp.cell(9714, false, 'order', 'day', '2026-03-10', 'order', 9718), '16/1400/960/2', '... for X');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price, unit_cost) VALUES
    (971, 97101, 3, 9719, 2, 50, 20);
DELETE FROM order_line WHERE order_id = 97101 AND line_no = 2;
SELECT is(pg_temp.cell(9714, false, 'order', 'month', '2026-03-01', 'order'), '14/1300/760/2', 'a line added, one deleted');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (lines changed)');

-- the order's date moves to April: day and month rows move, the sub-partner rows with them
UPDATE sales_order SET order_date = '2026-04-02' WHERE id = 97101;
SELECT is(pg_temp.cell(9714, false, 'order', 'month', '2026-03-01', 'order'), 'none', 'March is empty');
SELECT is(pg_temp.cell(9714, false, 'order', 'day', '2026-04-02', 'order'), '14/1300/760/2', 'April 2 has it');
SELECT is(pg_temp.cell(9712, true, 'order', 'month', '2026-04-01', 'order'), '14/1300/760/2', 'and D''s April');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (date moved)');

-- ---- returns and credit notes ----------------------------------------------------------------
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status, kind, original_order_id)
VALUES (97102, 971, 'R1', 9714, 9711, '2026-05-20', 'approved', 'return', 97101),
       (97103, 971, 'C1', 9714, 9711, '2026-05-21', 'approved', 'credit_note', NULL);
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price, unit_cost) VALUES
    (971, 97102, 1, 9718, 3, 100, 60), (971, 97103, 1, 9719, 1, 30, 20);
SELECT is(pg_temp.cell(9714, false, 'order', 'day', '2026-04-02', 'return'), '-3/-300/-180/1',
          'a return counts on its original''s day, negative');
SELECT is(pg_temp.cell(9714, false, 'order', 'day', '2026-05-21', 'credit_note'), '0/-30/0/1',
          'a credit note without an original on its own date: amount only');
UPDATE sales_order SET order_date = '2026-04-03' WHERE id = 97101;
SELECT is(pg_temp.cell(9714, false, 'order', 'day', '2026-04-03', 'return'), '-3/-300/-180/1',
          'the original moves: its return moves with it');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (returns)');
-- one statement changes the original and its return together: each moves once
UPDATE sales_order SET order_date = CASE id WHEN 97101 THEN date '2026-04-04' ELSE date '2026-05-22' END
 WHERE id IN (97101, 97102);
SELECT is(pg_temp.cell(9714, false, 'order', 'month', '2026-04-01', 'return'), '-3/-300/-180/1',
          'original and return in one statement: counted once');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (one statement)');
UPDATE sales_order SET status = 'cancelled' WHERE id = 97101;
SELECT is(pg_temp.cell(9714, false, 'order', 'month', '2026-04-01', 'return'), 'none',
          'the original cancelled: its return no longer counts');
SELECT is(pg_temp.cell(9714, false, 'order', 'month', '2026-04-01', 'order'), 'none', 'nor the order');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (cancelled)');

-- ---- delivery --------------------------------------------------------------------------------
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (97104, 971, 'O2', 9715, 9711, '2026-06-28', 'approved');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price, unit_cost) VALUES
    (971, 97104, 1, 9718, 5, 100, 60);
SELECT pg_temp.move(97104, 'shipped');
UPDATE sales_order SET status = 'delivered', delivered_on = '2026-07-02' WHERE id = 97104;
SELECT is(pg_temp.cell(9715, false, 'delivery', 'month', '2026-07-01', 'order'), '5/500/300/1',
          'delivered: on the delivery basis in July');
SELECT is(pg_temp.cell(9715, false, 'order', 'month', '2026-06-01', 'order'), '5/500/300/1', '... and by order date in June');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (delivery)');

-- ---- payments and allocations: the payment date basis ------------------------------------------
INSERT INTO payment (id, tenant_id, code, partner_id, received_on, amount) VALUES
    (97105, 971, 'PAY1', 9715, '2026-07-10', 300);
SELECT is(pg_temp.cell(9715, false, 'payment', 'day', '2026-07-10', 'payment'), '0/300/0/1', 'a payment received');
SELECT is(pg_temp.cell(9712, true, 'payment', 'month', '2026-07-01', 'payment'), '0/300/0/1', '... in D''s sub-partner rows');
INSERT INTO payment_allocation (tenant_id, payment_id, order_id, partner_id, amount) VALUES (971, 97105, 97104, 9715, 300);
SELECT is(pg_temp.cell(9715, false, 'payment', 'month', '2026-07-01', 'order'), 'none', 'paid in part: not on the payment basis');
INSERT INTO payment (id, tenant_id, code, partner_id, received_on, amount) VALUES
    (97106, 971, 'PAY2', 9715, '2026-08-05', 200);
INSERT INTO payment_allocation (tenant_id, payment_id, order_id, partner_id, amount) VALUES (971, 97106, 97104, 9715, 200);
SELECT is((SELECT paid_on FROM order_paid WHERE order_id = 97104), date '2026-08-05', 'paid in full on August 5');
SELECT is(pg_temp.cell(9715, false, 'payment', 'day', '2026-08-05', 'order'), '5/500/300/1', 'the order on its paid day');
UPDATE payment SET received_on = '2026-09-01' WHERE id = 97106;
SELECT is(pg_temp.cell(9715, false, 'payment', 'month', '2026-08-01', 'order'), 'none', 'the payment comes later: August empty');
SELECT is(pg_temp.cell(9715, false, 'payment', 'day', '2026-09-01', 'order'), '5/500/300/1', '... September has it');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (paid)');
DELETE FROM payment_allocation WHERE payment_id = 97105;
SELECT is(pg_temp.cell(9715, false, 'payment', 'month', '2026-09-01', 'order'), 'none', 'an allocation removed: not paid in full');
SELECT is((SELECT paid_on FROM order_paid WHERE order_id = 97104), NULL::date, 'no paid day');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (allocation removed)');

-- ---- a partner changes parent ----------------------------------------------------------------
UPDATE partner SET parent_id = 9713 WHERE id = 9715;
SELECT is(pg_temp.cell(9712, true, 'order', 'month', '2026-06-01', 'order'), 'none', 'B moves to E: D no longer sums it');
SELECT is(pg_temp.cell(9713, true, 'order', 'month', '2026-06-01', 'order'), '5/500/300/1', 'E does');
SELECT is(pg_temp.cell(9713, true, 'payment', 'month', '2026-09-01', 'payment'), '0/200/0/1', '... with its payments');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (new parent)');

-- ---- a deleted order, a failed statement, a rolled-back change ----------------------------------
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (97107, 971, 'O3', 9714, 9711, '2026-10-01', 'approved');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price, unit_cost) VALUES
    (971, 97107, 1, 9719, 7, 50, 20);
DELETE FROM sales_order WHERE id = 97107;
SELECT is(pg_temp.cell(9714, false, 'order', 'month', '2026-10-01', 'order'), 'none', 'an approved order deleted: its lines leave');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (deleted)');
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (97108, 971, 'O4', 9714, 9711, '2026-11-03', 'approved');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price, unit_cost) VALUES
    (971, 97108, 1, 9719, 2, 50, 20);
CREATE TEMP TABLE before_failure AS SELECT * FROM sales_rollup WHERE tenant_id = 971;
SELECT throws_ok($$INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
                   VALUES (971, 97108, 2, 9718, 1, 100), (971, 97108, 3, 9718, -1, 100)$$,
                 '23514', NULL, 'a statement failing on its second line...');
SELECT set_eq('SELECT * FROM sales_rollup WHERE tenant_id = 971', 'SELECT * FROM before_failure',
              '... leaves the rollups as they were');
SAVEPOINT s;
UPDATE sales_order SET order_date = '2026-11-20' WHERE id = 97108;
ROLLBACK TO SAVEPOINT s;
SELECT set_eq('SELECT * FROM sales_rollup WHERE tenant_id = 971', 'SELECT * FROM before_failure',
              'a rolled-back change leaves no trace');

-- ---- an order held halfway through a statement on its lines (credit, review mode) ------------
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, parent_id, state, credit_limit) VALUES
    (9720, 971, 'C', '经销C', 'dealer', 9711, 9712, 'active', 1000);
UPDATE enforcement_setting SET credit = 'review' WHERE tenant_id = 971;
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (97109, 971, 'O5', 9720, 9711, '2026-08-03', 'approved');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price, unit_cost) VALUES
    (971, 97109, 1, 9718, 5, 100, 60), (971, 97109, 2, 9718, 10, 100, 60);
SELECT is((SELECT status FROM sales_order WHERE id = 97109), 'on_hold', 'the second line puts the order on hold');
SELECT is(pg_temp.cell(9720, false, 'order', 'month', '2026-08-01', 'order'), 'none',
          'the held order counts for nothing, its first line included');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (held halfway)');
SELECT is((SELECT count(resolve_violation(id, 'approve')) FROM policy_violation WHERE order_id = 97109 AND status = 'open'),
          1::bigint, 'the manager approves the credit breach...');
SELECT is(pg_temp.cell(9720, false, 'order', 'month', '2026-08-01', 'order'), '15/1500/900/2',
          '... the order is released: both lines count');
UPDATE partner SET credit_limit = 1600 WHERE id = 9720;
UPDATE order_line SET quantity = quantity + 5 WHERE order_id = 97109;
SELECT is((SELECT status FROM sales_order WHERE id = 97109), 'on_hold', 'an update of its lines holds it again');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (held by an update halfway)');
UPDATE enforcement_setting SET credit = 'allow' WHERE tenant_id = 971;

-- ---- distinct orders, deliveries on time, margins, returns on their own date ----------------
-- what a key counts, over the writer slots: 'orders/promised/on time'
CREATE FUNCTION pg_temp.counted(partner bigint, start date, product bigint) RETURNS text
    LANGUAGE sql AS $$
    SELECT coalesce((
        SELECT format('%s/%s/%s', sum(orders), sum(promised_deliveries), sum(on_time_deliveries))
          FROM rebate.sales_rollup
         WHERE tenant_id = 971 AND partner_id = partner AND NOT of_sub_partners AND date_basis = 'order'
           AND unit = 'month' AND period_start = start AND kind = 'order' AND product_id = product
        HAVING sum(orders) <> 0), 'none')
$$;
INSERT INTO sales_order (id, tenant_id, partner_id, code, ship_to_region_id, order_date, status, kind, promised_on)
VALUES (97130, 971, 9715, 'CNT-1', 9711, '2026-10-05', 'approved', 'order', '2026-10-20');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price, unit_cost) VALUES
    (971, 97130, 1, 9718, 1, 100, 60), (971, 97130, 2, 9718, 2, 100, 60);
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price, unit_cost) VALUES
    (971, 97130, 3, 9719, 1, 50, NULL);
SELECT is(pg_temp.counted(9715, '2026-10-01', 9718) || ' ' || pg_temp.counted(9715, '2026-10-01', 0), '1/0/0 1/0/0',
          'two lines of X in two statements and one of Y: one order of X, one order in all');
SELECT is((SELECT format('%s/%s', trim_scale(sum(costed_amount)), sum(costed_lines)) FROM sales_rollup
            WHERE tenant_id = 971 AND partner_id = 9715 AND NOT of_sub_partners AND date_basis = 'order'
              AND unit = 'month' AND period_start = '2026-10-01'), '350/3',
          'every line carries margin (a line without a cost takes the product''s standard cost)');
DELETE FROM order_line WHERE order_id = 97130 AND line_no = 1;
SELECT is(pg_temp.counted(9715, '2026-10-01', 9718), '1/0/0', 'one line of X left: still one order of X');
DELETE FROM order_line WHERE order_id = 97130 AND line_no = 2;
SELECT is(pg_temp.counted(9715, '2026-10-01', 9718) || ' ' || pg_temp.counted(9715, '2026-10-01', 0), 'none 1/0/0',
          'no line of X left: no order of X; the order still counts through Y');
UPDATE order_line SET product_id = 9718 WHERE order_id = 97130 AND line_no = 3;
SELECT is(pg_temp.counted(9715, '2026-10-01', 9718) || ' ' || pg_temp.counted(9715, '2026-10-01', 9719),
          '1/0/0 none', 'a line that changes product moves the order from Y to X');
UPDATE sales_order SET delivered_on = '2026-10-18' WHERE id = 97130;
SELECT is(pg_temp.counted(9715, '2026-10-01', 0), '1/1/1', 'delivered two days early: promised and on time');
UPDATE sales_order SET promised_on = '2026-10-15' WHERE id = 97130;
SELECT is(pg_temp.counted(9715, '2026-10-01', 0), '1/1/0', 'the promise moved before the delivery: late');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (distinct counts)');
INSERT INTO sales_order (id, tenant_id, partner_id, code, ship_to_region_id, order_date, status, kind)
VALUES (97131, 971, 9715, 'CNT-2', 9711, '2026-11-03', 'draft', 'order');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES
    (971, 97131, 1, 9718, 1, 100), (971, 97131, 2, 9718, 1, 100);
SELECT is(pg_temp.counted(9715, '2026-11-01', 9718), 'none', 'a draft counts no order');
SELECT pg_temp.move(97131, 'submitted');
SELECT pg_temp.move(97131, 'approved');
SELECT is(pg_temp.counted(9715, '2026-11-01', 9718) || ' ' || pg_temp.counted(9715, '2026-11-01', 0), '1/0/0 1/0/0',
          'approved: one order of X, however many lines');
-- a return of the order of October, dated in November, after the order stops counting
INSERT INTO sales_order (id, tenant_id, partner_id, code, ship_to_region_id, order_date, status, kind, original_order_id)
VALUES (97132, 971, 9715, 'CNT-R', 9711, '2026-11-09', 'approved', 'return', 97130);
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES (971, 97132, 1, 9718, 1, 100);
SELECT is(pg_temp.cell(9715, false, 'document', 'month', '2026-11-01', 'return') || ' '
          || pg_temp.cell(9715, false, 'order', 'month', '2026-10-01', 'return'), '-1/-100/-60/1 -1/-100/-60/1',
          'a return counts on its own date under basis document, on its order''s under basis order');
SELECT pg_temp.move(97130, 'cancelled');
SELECT is(pg_temp.cell(9715, false, 'document', 'month', '2026-11-01', 'return') || ' '
          || pg_temp.cell(9715, false, 'order', 'month', '2026-10-01', 'return') || ' '
          || pg_temp.counted(9715, '2026-10-01', 0), '-1/-100/-60/1 none none',
          'its order cancelled: the return leaves the rebate bases, stays a channel fact; the order no longer counts');
SELECT is(pg_temp.agrees(), 0::bigint, 'the recomputation agrees (returns on their own date)');

-- ---- the writer slot, compaction and the rebuild ---------------------------------------------
SELECT ok((SELECT bool_and(writer_slot > 0) FROM sales_rollup WHERE tenant_id = 971),
          'the triggers write to this backend''s slot, never slot 0');
CREATE TEMP TABLE sums AS
SELECT partner_id, of_sub_partners, date_basis, unit, period_start, currency, kind, product_id, region_id,
       sum(quantity) AS q, sum(amount) AS a, sum(cost) AS c, sum(lines) AS n, sum(costed_amount) AS ca,
       sum(costed_lines) AS cn, sum(orders) AS o, sum(promised_deliveries) AS pd, sum(on_time_deliveries) AS od
  FROM sales_rollup WHERE tenant_id = 971 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 HAVING sum(lines) <> 0 OR sum(orders) <> 0;
SELECT ok((SELECT rows_after <= rows_before FROM compact_rollups(971)), 'compaction folds the slots (and drops empty rows)');
SELECT set_eq('SELECT partner_id, of_sub_partners, date_basis, unit, period_start, currency, kind, product_id, region_id,
                      sum(quantity) AS q, sum(amount) AS a, sum(cost) AS c, sum(lines) AS n, sum(costed_amount) AS ca,
                      sum(costed_lines) AS cn, sum(orders) AS o, sum(promised_deliveries) AS pd, sum(on_time_deliveries) AS od
                 FROM sales_rollup WHERE tenant_id = 971
                GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 HAVING sum(lines) <> 0 OR sum(orders) <> 0', 'SELECT * FROM sums',
              'compaction keeps every sum');
UPDATE sales_rollup SET amount = amount + 1 WHERE tenant_id = 971 AND partner_id = 9714 AND unit = 'day'
   AND kind = 'credit_note' AND date_basis = 'order';
SELECT is(pg_temp.agrees(), 1::bigint, 'a damaged row is reported by verify_rollups');
SELECT is((SELECT rows_after FROM rebuild_rollups(971)), (SELECT count(*) FROM sums), 'the rebuild writes one row per key');
SELECT is(pg_temp.agrees(), 0::bigint, '... and repairs it');
SELECT ok((SELECT bool_and(writer_slot = 0) FROM sales_rollup WHERE tenant_id = 971), 'in slot 0');

SELECT * FROM finish();
ROLLBACK;
