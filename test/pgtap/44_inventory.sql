-- Inventory: warehouses, the append-only ledger and the balances kept from
-- it, counts, alerts, sharing, shipments with tracking, transfers through
-- the approval engine, replenishment suggestions, the exit check and the
-- inventory KPIs.  Real login roles of tenant 971 (manager; distributor D
-- with dealers P1 and P2 below it) and of tenant 972 (its manager).  The
-- balances are checked against an independent model: the movements the
-- test generates, summed by the test itself.
BEGIN;
SET search_path = public, rebate;
SELECT plan(78);

INSERT INTO tenant (id, code, name) VALUES (971, 'INV', '库存品牌'), (972, 'INW', '另一品牌');
INSERT INTO region (id, tenant_id, code, name, level) VALUES (97101, 971, 'CN', '中国', 'country'),
                                                             (97201, 972, 'CN', '中国', 'country');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (97102, 971, 'E', '华东', 'area', 97101), (97103, 971, 'SH', '上海', 'city', 97102),
    (97104, 971, 'HZ', '杭州', 'city', 97102);
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state) VALUES
    (97110, 971, 'D', '华东总代', 'distributor', 97102, 'active');
INSERT INTO partner (id, tenant_id, code, name, parent_id, home_region_id, state) VALUES
    (97111, 971, 'P1', '上海一店', 97110, 97103, 'active'), (97112, 971, 'P2', '杭州二店', 97110, 97104, 'active');
INSERT INTO partner_territory (tenant_id, partner_id, region_id, valid) VALUES
    (971, 97111, 97103, daterange(CURRENT_DATE - 900, NULL)), (971, 97112, 97104, daterange(CURRENT_DATE - 900, NULL));
INSERT INTO product_category (id, tenant_id, code, name) VALUES (97120, 971, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES
    (97121, 971, 'A', '甲', 97120, 10), (97122, 971, 'B', '乙', 97120, 20);
INSERT INTO warehouse (id, tenant_id, code, name, kind, partner_id, region_id) VALUES
    (97130, 971, 'CW', '中央仓', 'central', NULL, 97101), (97131, 971, 'W1', 'P1仓', 'partner', 97111, 97103),
    (97132, 971, 'W2', 'P2仓', 'partner', 97112, 97104);
UPDATE enforcement_setting SET no_price_policy = 'allow', credit = 'allow' WHERE tenant_id = 971;

CREATE ROLE iv_mgr LOGIN; CREATE ROLE iv_d LOGIN; CREATE ROLE iv_p1 LOGIN; CREATE ROLE iv_p2 LOGIN; CREATE ROLE iv_mgr2 LOGIN;
SELECT grant_access('iv_mgr', 971), grant_access('iv_d', 971, 97110), grant_access('iv_p1', 971, 97111),
       grant_access('iv_p2', 971, 97112), grant_access('iv_mgr2', 972);

-- ---- the ledger and the balances: an independent model on random data ----
-- the model: the movements the test writes, kept apart, summed here
CREATE TEMP TABLE model (warehouse_id bigint, partner_id bigint, product_id bigint, moved_on date, kind text, quantity numeric,
                         batch integer DEFAULT floor(random() * 10));
GRANT SELECT ON model TO PUBLIC;
SELECT setseed(0.44);
INSERT INTO model
SELECT w.id, w.partner_id, p.id, CURRENT_DATE - 400 + (random() * 300)::int, 'receipt', 1 + (random() * 500)::int
  FROM warehouse w, product p, generate_series(1, 20) g WHERE w.tenant_id = 971 AND p.tenant_id = 971;
INSERT INTO model
SELECT w.id, w.partner_id, p.id, CURRENT_DATE - 99 + (random() * 90)::int,
       CASE WHEN w.partner_id IS NULL THEN 'scrap' ELSE 'sell_out' END, -(1 + (random() * 40)::int)
  FROM warehouse w, product p, generate_series(1, 30) g WHERE w.tenant_id = 971 AND p.tenant_id = 971;
-- fractional quantities and adjustments both ways
INSERT INTO model
SELECT w.id, w.partner_id, p.id, CURRENT_DATE - 5, 'adjustment', round((random() * 10 - 5)::numeric, 4) + 0.0001
  FROM warehouse w, product p WHERE w.tenant_id = 971 AND p.tenant_id = 971;
-- in ten statements, each a random tenth of the movements (the order they come in does not matter: negative
-- stock is allowed while they load)
INSERT INTO inventory_setting (tenant_id, negative_stock) VALUES (971, 'allow');
DO $$
DECLARE
    b integer;
BEGIN
    FOR b IN 0..9 LOOP
        INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, partner_id, product_id, moved_on, kind, quantity)
        SELECT 971, m.warehouse_id, m.partner_id, m.product_id, m.moved_on, m.kind, m.quantity
          FROM model m WHERE m.batch = b;
    END LOOP;
END
$$;
UPDATE inventory_setting SET negative_stock = 'reject' WHERE tenant_id = 971;
SELECT is((SELECT count(*) FROM stock_balance WHERE tenant_id = 971), 6::bigint, 'one balance per warehouse x product');
SELECT is((SELECT count(*) FROM (SELECT b.warehouse_id, b.product_id, b.quantity FROM stock_balance b WHERE tenant_id = 971
                                 EXCEPT SELECT warehouse_id, product_id, sum(quantity) FROM model GROUP BY 1, 2) x),
          0::bigint, 'every balance equals the model''s sum of its movements');
SELECT is((SELECT count(*) FROM verify_stock(971)), 0::bigint, 'verify_stock finds no difference');
SELECT is((SELECT count(*) FROM (SELECT w.id, p.id, d FROM warehouse w, product p, generate_series(0, 400, 37) d
                                  WHERE w.tenant_id = 971 AND p.tenant_id = 971
                                    AND stock_on_hand(w.id, p.id, CURRENT_DATE - d)
                                        <> coalesce((SELECT sum(m.quantity) FROM model m WHERE m.warehouse_id = w.id
                                                       AND m.product_id = p.id AND m.moved_on <= CURRENT_DATE - d), 0)) x),
          0::bigint, 'stock at 11 past dates of every item equals the model');
SELECT is(partner_stock(97111, 97121), (SELECT sum(quantity) FROM model WHERE partner_id = 97111 AND product_id = 97121),
          'partner_stock sums the partner''s warehouses');
SELECT is((SELECT sum(on_hand) FROM stock_levels(region_id => 97102)),
          (SELECT sum(quantity) FROM model WHERE warehouse_id IN (97131, 97132)), 'stock_levels of a region subtree');
SELECT is((SELECT sum(on_hand) FROM stock_levels(CURRENT_DATE - 200, partner_id => 97110)),
          (SELECT sum(quantity) FROM model WHERE partner_id IS NOT NULL AND moved_on <= CURRENT_DATE - 200),
          'stock_levels of a partner subtree at a past date');
SELECT is((SELECT last_sale_on FROM stock_balance WHERE warehouse_id = 97131 AND product_id = 97121),
          (SELECT max(moved_on) FROM model WHERE warehouse_id = 97131 AND product_id = 97121 AND kind = 'sell_out'),
          'last_sale_on is the latest sell-out');

-- turnover, exactly from its definition
SELECT is((SELECT (t.sold, t.average_stock) FROM stock_turnover(CURRENT_DATE - 89, CURRENT_DATE, 97131) t WHERE t.product_id = 97122),
          (SELECT (-sum(quantity) FILTER (WHERE kind = 'sell_out' AND moved_on >= CURRENT_DATE - 89),
                   round((SELECT avg(s) FROM (SELECT (SELECT sum(m2.quantity) FROM model m2 WHERE m2.warehouse_id = 97131
                                                        AND m2.product_id = 97122 AND m2.moved_on <= d) s
                                                 FROM generate_series(CURRENT_DATE - 89, CURRENT_DATE, '1 day') d) x), 4))
             FROM model WHERE warehouse_id = 97131 AND product_id = 97122),
          'turnover: units sold and the mean of the end-of-day stock over 90 days');

-- ---- append-only, negative stock ----
SELECT throws_ok($$UPDATE stock_movement SET quantity = 1 WHERE tenant_id = 971$$, 'RB101', NULL, 'a movement is never changed');
SELECT throws_ok($$DELETE FROM stock_movement WHERE tenant_id = 971$$, 'RB101', NULL, 'nor removed');
SELECT throws_ok($$TRUNCATE stock_movement$$, 'RB101', NULL, 'nor truncated');
SELECT throws_ok(format($$INSERT INTO stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity)
                          VALUES (971, 97131, 97111, 97121, 'sell_out', %s)$$, -(partner_stock(97111, 97121) + 1)),
                 'RB100', NULL, 'stock below zero is refused');
SELECT is((SELECT count(*) FROM verify_stock(971)), 0::bigint, 'the refused statement left the balances as they were');
SELECT throws_ok($$INSERT INTO stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity)
                   VALUES (971, 97131, 97111, 97121, 'sell_out', 5)$$, '23514', NULL, 'a sale is negative');
SELECT throws_ok($$INSERT INTO stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity)
                   VALUES (971, 97131, 97112, 97121, 'receipt', 5)$$, '23503', NULL, 'a movement names its warehouse''s owner');
UPDATE inventory_setting SET negative_stock = 'allow' WHERE tenant_id = 971;
SELECT lives_ok(format($$INSERT INTO stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity)
                         VALUES (971, 97131, 97111, 97121, 'sell_out', %s)$$, -(partner_stock(97111, 97121) + 3)),
                'a tenant that allows negative stock takes it');
SELECT is(partner_stock(97111, 97121), -3.0000, 'and the balance is negative');
SELECT is((SELECT kind FROM stock_alert WHERE warehouse_id = 97131 AND product_id = 97121 AND status = 'open'),
          'out_of_stock', 'running out raises an out_of_stock alert');
UPDATE inventory_setting SET negative_stock = 'reject' WHERE tenant_id = 971;

-- ---- counts ----
SELECT is((SELECT (book, difference) FROM record_stock_count(97131, 97121, 40, CURRENT_DATE, 'year-end')),
          (-3.0000::numeric, 43.0000::numeric), 'a count books the difference from the ledger');
SELECT is(partner_stock(97111, 97121), 40.0000, 'after the count the stock is what was counted');
SELECT is((SELECT (kind, quantity, source) FROM stock_movement WHERE source = 'count' ORDER BY id DESC LIMIT 1),
          ROW('count_adjustment'::text, 43.0000::numeric, 'count'::text), 'as a count_adjustment linked to the count');
SELECT is((SELECT status FROM stock_alert WHERE warehouse_id = 97131 AND product_id = 97121 AND kind = 'out_of_stock'),
          'cleared', 'and the out_of_stock alert is cleared');

-- ---- thresholds and alerts ----
INSERT INTO stock_threshold (tenant_id, warehouse_id, partner_id, category_id, minimum, reorder_point, maximum)
VALUES (971, 97131, 97111, 97120, 30, 35, 100);
INSERT INTO stock_threshold (tenant_id, warehouse_id, partner_id, product_id, minimum, reorder_point, maximum, lead_days, cycle_days)
VALUES (971, 97131, 97111, 97122, 0, 10, 1000, 10, 20);
SELECT is((effective_threshold(971, 97131, 97121)).reorder_point, 35.0000, 'a product without its own threshold takes its category''s');
SELECT is((effective_threshold(971, 97131, 97122)).reorder_point, 10.0000, 'a product''s own threshold wins');
SET ROLE iv_p1;
INSERT INTO stock_movement (tenant_id, warehouse_id, product_id, kind, quantity) VALUES (971, 97131, 97121, 'sell_out', -6);
SELECT is((SELECT array_agg(kind ORDER BY kind) FROM stock_alert WHERE product_id = 97121 AND status = 'open'),
          '{reorder}', 'falling to the reorder point raises reorder, not below_minimum');
INSERT INTO stock_movement (tenant_id, warehouse_id, product_id, kind, quantity) VALUES (971, 97131, 97121, 'sell_out', -6);
SELECT is((SELECT array_agg(kind ORDER BY kind) FROM stock_alert WHERE product_id = 97121 AND status = 'open'),
          '{below_minimum,reorder}', 'and below the minimum, below_minimum (reorder stays one alert)');
SELECT is((SELECT count(*) FROM notification WHERE event = 'stock_alert' AND partner_id = 97111
             AND detail ->> 'kind' IN ('reorder', 'below_minimum') AND subject_id IN (SELECT id FROM stock_alert WHERE status = 'open')),
          2::bigint, 'each alert is in P1''s inbox');
INSERT INTO stock_movement (tenant_id, warehouse_id, product_id, kind, quantity, reference) VALUES (971, 97131, 97121, 'receipt', 80, 'DN-1');
SELECT is((SELECT array_agg(kind ORDER BY kind) FROM stock_alert WHERE product_id = 97121 AND status = 'open'),
          '{above_maximum}', 'a receipt over the maximum clears the others and raises above_maximum');
SELECT throws_ok($$INSERT INTO stock_movement (tenant_id, warehouse_id, product_id, kind, quantity) VALUES (971, 97131, 97121, 'delivery', 5)$$,
                 '42501', NULL, 'a partner books no deliveries itself');
SELECT throws_ok($$INSERT INTO stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity) VALUES (971, 97132, 97112, 97121, 'receipt', 5)$$,
                 '42501', NULL, 'nor anything in a sibling''s warehouse');
SELECT is((SELECT count(*) FROM stock_balance WHERE partner_id IS DISTINCT FROM 97111), 0::bigint, 'P1 sees only its own stock');
RESET ROLE;

-- ---- sharing ----
SET ROLE iv_mgr;
SELECT is((SELECT array_agg(DISTINCT warehouse_id) FROM v_stock), '{97130}', 'the brand sees its own warehouses only');
RESET ROLE; SET ROLE iv_d;
SELECT is((SELECT count(*) FROM stock_balance), 0::bigint, 'the distributor sees no dealer''s stock unshared');
RESET ROLE; SET ROLE iv_p1;
INSERT INTO stock_sharing (tenant_id, note) VALUES (971, 'shared for replenishment');
SELECT throws_ok($$INSERT INTO stock_sharing (tenant_id, partner_id) VALUES (971, 97112)$$, '42501', NULL,
                 'a partner consents only for itself');
RESET ROLE; SET ROLE iv_mgr;
SELECT is((SELECT array_agg(DISTINCT warehouse_id ORDER BY warehouse_id) FROM v_stock), '{97130,97131}',
          'once P1 shares, the brand sees its stock');
SELECT throws_ok($$INSERT INTO stock_sharing (tenant_id, partner_id) VALUES (971, 97112)$$, '42501', NULL,
                 'a manager cannot consent for a partner');
RESET ROLE; SET ROLE iv_d;
SELECT is((SELECT array_agg(DISTINCT partner_id) FROM stock_balance), '{97111}', 'and so does the distributor above it');
RESET ROLE; SET ROLE iv_mgr2;
SELECT is((SELECT count(*) FROM stock_balance), 0::bigint, 'another tenant''s manager sees nothing');
RESET ROLE;

-- ---- shipments and tracking ----
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, status, promised_on) VALUES
    (97150, 971, 'SO1', 97112, 97104, 'draft', CURRENT_DATE + 3);
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES
    (971, 97150, 1, 97121, 40, 10), (971, 97150, 2, 97122, 5, 20);
SELECT set_order_status(97150, 'submitted'), set_order_status(97150, 'approved');
INSERT INTO shipment (id, tenant_id, code, order_id, partner_id, from_warehouse_id, to_warehouse_id, carrier, waybill_no, planned_delivery_on)
VALUES (97160, 971, 'SH1', 97150, 97112, 97130, 97132, 'SF', 'SF001', CURRENT_DATE + 2),
       (97161, 971, 'SH2', 97150, 97112, 97130, 97132, 'SF', 'SF002', CURRENT_DATE + 2);
INSERT INTO shipment_line (tenant_id, shipment_id, partner_id, order_line_id, quantity)
SELECT 971, 97160, 97112, id, CASE line_no WHEN 1 THEN 30 ELSE 5 END FROM order_line WHERE order_id = 97150;
INSERT INTO shipment_line (tenant_id, shipment_id, partner_id, order_line_id, quantity)
SELECT 971, 97161, 97112, id, 15 FROM order_line WHERE order_id = 97150 AND line_no = 1;
SET ROLE iv_p2;
SELECT throws_ok($$SELECT ship_shipment(97160)$$, 'P0002', 'shipment 97160 does not exist or is not visible to you',
                 'the receiving partner does not ship from the brand''s warehouse');
RESET ROLE; SET ROLE iv_mgr;
SELECT lives_ok($$SELECT record_tracking_event('SF', 'SF001', now(), 'picked_up', '上海')$$, 'the carrier picks it up');
SELECT throws_ok($$SELECT ship_shipment(97161)$$, '22023', NULL,
                 'nothing ships beyond what was ordered');
SELECT is((SELECT (s.status, o.status) FROM shipment s JOIN sales_order o ON o.id = s.order_id WHERE s.id = 97160),
          ROW('in_transit'::text, 'shipped'::text), 'the shipment is in transit and the order shipped');
SELECT is(stock_on_hand(97130, 97122), (SELECT sum(quantity) FROM model WHERE warehouse_id = 97130 AND product_id = 97122) - 5,
          'the goods left the brand''s warehouse');
SELECT lives_ok($$SELECT record_tracking_event('SF', 'SF001', now() + interval '1 day', 'delivered', '杭州')$$, 'and delivers it');
SELECT is((SELECT (s.status, o.status) FROM shipment s JOIN sales_order o ON o.id = s.order_id WHERE s.id = 97160),
          ROW('delivered'::text, 'shipped'::text), 'a partial delivery leaves the order shipped');
SELECT throws_ok($$SELECT record_tracking_event('SF', 'NOPE', now(), 'delivered')$$, 'P0002', NULL, 'an unknown waybill');
DELETE FROM shipment_line WHERE shipment_id = 97161;
INSERT INTO shipment_line (tenant_id, shipment_id, partner_id, order_line_id, quantity)
SELECT 971, 97161, 97112, id, 10 FROM order_line WHERE order_id = 97150 AND line_no = 1;
SELECT lives_ok($$SELECT ship_shipment(97161, CURRENT_DATE)$$, 'the rest ships');
RESET ROLE; SET ROLE iv_p2;
SELECT is((deliver_shipment(97161, CURRENT_DATE + 4)).status, 'delivered', 'the receiving partner confirms delivery');
RESET ROLE;
SELECT is((SELECT (status, delivered_on) FROM sales_order WHERE id = 97150), ROW('delivered'::text, CURRENT_DATE + 4),
          'the last delivery delivers the order, dated by the last arrival');
SELECT is(stock_on_hand(97132, 97121), (SELECT sum(quantity) FROM model WHERE warehouse_id = 97132 AND product_id = 97121) + 40,
          'the goods entered the partner''s warehouse');
SELECT is((SELECT (delivered, on_time) FROM v_delivery_performance WHERE partner_id = 97112), ROW(2::bigint, 1::bigint),
          'one shipment on time, one late');

-- ---- transfers ----
INSERT INTO approval_flow (tenant_id, request_type, name) VALUES (971, 'stock_transfer', '调拨审批');
SET ROLE iv_p1;
SELECT throws_ok($$SELECT request_transfer(97131, 97132, '[{"product_id": 97121, "quantity": 5}]')$$, 'RB020', NULL,
                 'a transfer into another territory is refused in reject mode (窜货)');
SELECT throws_ok($$SELECT request_transfer(97132, 97131, '[{"product_id": 97121, "quantity": 5}]')$$, 'P0002',
                 'warehouse 97132 does not exist or is not visible to you', 'nor from a sibling''s warehouse');
RESET ROLE;
UPDATE enforcement_setting SET territory = 'review' WHERE tenant_id = 971;
SET ROLE iv_p1;
SELECT throws_ok(format($$SELECT request_transfer(97131, 97132, '[{"product_id": 97121, "quantity": %s}]')$$, partner_stock(97111, 97121) + 1),
                 'RB100', NULL, 'not more than the sender holds');
SELECT is((SELECT (status, violations) FROM request_transfer(97131, 97132, '[{"product_id": 97121, "quantity": 25}]', 'overstock', 'TR-T1')),
          ROW('pending_approval'::text, 1), 'in review mode it waits for approval with its violation');
SELECT throws_ok($$SELECT ship_transfer((SELECT id FROM stock_transfer WHERE code = 'TR-T1'))$$, 'RB104', NULL, 'it does not ship unapproved');
RESET ROLE; SET ROLE iv_mgr;
SELECT is((decide_approval((SELECT t.id FROM approval_task t JOIN stock_transfer x ON x.request_id = t.request_id
                             WHERE x.code = 'TR-T1' AND t.status = 'waiting'), 'approve', 'ok')).status,
          'approved', 'the manager approves it');
RESET ROLE;
SELECT is((SELECT array_agg(v.status) FROM policy_violation v JOIN stock_transfer t ON v.source_id = t.id
            WHERE v.source_table = 'rebate.stock_transfer'::regclass AND t.code = 'TR-T1'), '{approved}',
          'approving the transfer approves its violation');
SET ROLE iv_p2;
SELECT throws_ok($$SELECT ship_transfer((SELECT id FROM stock_transfer WHERE code = 'TR-T1'))$$, 'P0002', NULL,
                 'the receiver does not ship');
RESET ROLE; SET ROLE iv_p1;
SELECT is((ship_transfer((SELECT id FROM stock_transfer WHERE code = 'TR-T1'))).status, 'shipped', 'the sender ships it');
RESET ROLE; SET ROLE iv_p2;
SELECT is((SELECT count(*) FROM notification WHERE event = 'transfer_shipped'), 1::bigint, 'the receiver is told');
SELECT is((receive_transfer((SELECT id FROM stock_transfer WHERE code = 'TR-T1'))).status, 'received', 'and receives it');
RESET ROLE;
SELECT is((SELECT sum(quantity) FROM stock_movement WHERE source = 'transfer'), 0.0000, 'out on one side, in on the other');
SELECT is((SELECT count(*) FROM verify_stock(971)), 0::bigint, 'the balances still equal the ledger');

-- ---- replenishment, exit check, KPIs ----
SET ROLE iv_p1;
INSERT INTO stock_movement (tenant_id, warehouse_id, product_id, kind, quantity) VALUES (971, 97131, 97121, 'sell_out', -50);
SELECT is((SELECT array_agg(product_id ORDER BY product_id) FROM suggest_replenishment(97131)), '{97121}',
          'a suggestion for the item at its reorder point, none for the one above');
SELECT is((SELECT quantity FROM replenishment_suggestion WHERE status = 'open'),
          (SELECT ceil(LEAST(r.forecast_demand + 30 - r.on_hand - r.in_transit, 100 - r.on_hand - r.in_transit))
             FROM replenishment_suggestion r WHERE r.status = 'open'),
          'demand over the cover plus safety stock, less what it holds, capped at the maximum, whole units');
SELECT is((order_suggestions(ARRAY(SELECT id FROM replenishment_suggestion WHERE status = 'open'))).status, 'draft',
          'the suggestion becomes a draft order of the partner');
RESET ROLE;
SELECT is(exit_check_stock(971, 97111), '2 items still in stock in its warehouses'::text, 'a partner with stock has not settled its exit');
SELECT is((SELECT count(*) FROM inventory_kpis(971, daterange(CURRENT_DATE - 89, CURRENT_DATE + 1)) WHERE partner_id = 97112),
          0::bigint, 'a partner that does not share its stock has no inventory KPIs');
SELECT ok((SELECT stock_turnover > 0 AND sell_through > 0 FROM inventory_kpis(971, daterange(CURRENT_DATE - 89, CURRENT_DATE + 1))
            WHERE partner_id = 97111), 'a sharing partner has them');

-- repair: a damaged balance is rebuilt from the ledger; a count of an item never moved books nothing and leaves no row
UPDATE stock_balance SET quantity = quantity + 7, movements = 0 WHERE warehouse_id = 97132 AND product_id = 97121;
DELETE FROM stock_balance WHERE warehouse_id = 97130 AND product_id = 97122;
SELECT is((SELECT count(*) FROM verify_stock(971)), 2::bigint, 'verify_stock names the two damaged items');
SELECT is(rebuild_stock_balances(971) >= 6, true, 'rebuild_stock_balances looks at every item');
SELECT is((SELECT count(*) FROM verify_stock(971)), 0::bigint, 'and the balances equal the ledger again');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES (97123, 971, 'C', '丙', 97120, 5);
SELECT is((record_stock_count(97130, 97123, 0)).difference, 0::numeric, 'a count of an item never moved finds nothing');
SELECT is((SELECT count(*) FROM stock_balance WHERE product_id = 97123), 0::bigint, 'and leaves no balance behind');

-- a scoring model weighs stock turnover: the sharing partner is scored on it, the other has no value
INSERT INTO scoring_model (id, tenant_id, code, name, period_unit) VALUES (97170, 971, 'INV', '库存考核', 'quarter');
INSERT INTO scoring_kpi (tenant_id, model_id, kpi, weight, normalisation) VALUES (971, 97170, 'stock_turnover', 1, 'distribution');
SELECT is((SELECT (kpi_values ->> 'stock_turnover')::numeric FROM score_period((SELECT m FROM scoring_model m WHERE id = 97170),
                                                                               daterange(CURRENT_DATE - 89, CURRENT_DATE + 1))
            WHERE partner_id = 97111),
          (SELECT stock_turnover FROM inventory_kpis(971, daterange(CURRENT_DATE - 89, CURRENT_DATE + 1)) WHERE partner_id = 97111),
          'a scoring model scores the stock turnover of a sharing partner');
SELECT is((SELECT kpi_values ->> 'stock_turnover' FROM score_period((SELECT m FROM scoring_model m WHERE id = 97170),
                                                                     daterange(CURRENT_DATE - 89, CURRENT_DATE + 1))
            WHERE partner_id = 97112), NULL, 'and leaves a partner that does not share without a value');

SELECT * FROM finish();
ROLLBACK;
