-- tests: 73
-- The inventory module's triggers and plain writes (part 2 of the attack
-- suite).  maintain_stock_balance (AFTER INSERT on the ledger, SECURITY
-- DEFINER) serves the ledger only, can be attached by nobody, and refuses
-- negative stock (RB100) only to a writer that may see the stock it quotes:
-- row-level security has refused every movement into a warehouse the writer
-- may not write to before it runs.  A partner books receipts, sell-out,
-- customer returns, scrap and adjustments into its own warehouses; a manager
-- into the brand's and sharing partners', never transfers or count
-- adjustments (their functions' alone).  The ledger is append-only (RB101);
-- balances and alerts are the trigger's.  A partner's consent to share its
-- stock is its own to give and withdraw.  Shipment lines change while their
-- shipment is planned (guard_shipment_line, reading with the writer's rights).
\ir inventory_fixture.sql

-- ---- maintain_stock_balance: the ledger only, attached by nobody ------------------------------
SELECT attack.attempt(actor, 'rebate.maintain_stock_balance()',
    $q$CREATE TEMP TABLE fake (tenant_id bigint, warehouse_id bigint, product_id bigint, partner_id bigint,
                               quantity numeric, moved_on date, kind text);
       CREATE TRIGGER x AFTER INSERT ON fake REFERENCING NEW TABLE AS moved
           FOR EACH STATEMENT EXECUTE FUNCTION rebate.maintain_stock_balance()$q$,
    'nobody attaches the balance trigger to a table of its own (it would write balances, alerts and notices as the owner)', '42501')
  FROM unnest(ARRAY['atk_mgr_a', 'atk_admin', 'atk_unbound']) actor;
CREATE TABLE attack.inventory_fake_ledger (tenant_id bigint, warehouse_id bigint, product_id bigint, partner_id bigint,
                                           quantity numeric, moved_on date, kind text);
CREATE TRIGGER x AFTER INSERT ON attack.inventory_fake_ledger REFERENCING NEW TABLE AS moved
    FOR EACH STATEMENT EXECUTE FUNCTION rebate.maintain_stock_balance();
SELECT throws_ok($$INSERT INTO attack.inventory_fake_ledger VALUES (9402, 940263, 940231, 940213, -1000, CURRENT_DATE, 'sell_out')$$,
                 '42501', 'maintain_stock_balance only serves rebate.stock_movement',
                 'attached (by its owner) to a table outside the extension''s schema, the balance trigger refuses to run');
DROP TABLE attack.inventory_fake_ledger;

-- ---- movements: who books what where; RB100 only about stock the writer may see --------------
SELECT attack.attempt('atk_s1', 'rebate.maintain_stock_balance()',
    $$INSERT INTO rebate.stock_movement (warehouse_id, partner_id, product_id, kind, quantity)
      VALUES (940163, 940113, 940131, 'sell_out', -100000)$$,
    'a dealer books nothing out of its sibling''s warehouse, and is told nothing of its stock', '42501');
SELECT attack.like_missing('atk_s1', 'rebate.stock_movement',
    $$INSERT INTO rebate.stock_movement (warehouse_id, product_id, kind, quantity) VALUES (940163, 940131, 'sell_out', -100000)$$,
    $$INSERT INTO rebate.stock_movement (warehouse_id, product_id, kind, quantity) VALUES (940999999, 940131, 'sell_out', -100000)$$,
    'in its own name, its sibling''s warehouse is one that does not exist');
SELECT attack.attempt('atk_d1', 'rebate.maintain_stock_balance()',
    $$INSERT INTO rebate.stock_movement (warehouse_id, partner_id, product_id, kind, quantity)
      VALUES (940163, 940113, 940131, 'sell_out', -100000)$$,
    'a distributor reads its sharing dealer''s stock but books nothing there', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.maintain_stock_balance()',
    $$INSERT INTO rebate.stock_movement (warehouse_id, partner_id, product_id, kind, quantity)
      VALUES (940164, 940114, 940131, 'sell_out', -100000)$$,
    'a manager books nothing out of a partner''s warehouse that does not share, and learns nothing of its stock', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.maintain_stock_balance()',
    $$INSERT INTO rebate.stock_movement (warehouse_id, partner_id, product_id, kind, quantity)
      VALUES (940163, 940113, 940131, 'sell_out', -100000)$$,
    'out of a sharing partner''s it is refused negative stock, told the stock it may read anyway', 'RB100');
SELECT attack.attempt('atk_mgr_a', 'rebate.maintain_stock_balance()',
    $$INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity)
      VALUES (9402, 940263, 940213, 940231, 'sell_out', -100000)$$,
    'a manager books nothing into another brand', '42501');
SELECT attack.like_missing('atk_mgr_a', 'rebate.stock_movement',
    $$INSERT INTO rebate.stock_movement (warehouse_id, partner_id, product_id, kind, quantity) VALUES (940260, NULL, 940131, 'receipt', 1)$$,
    $$INSERT INTO rebate.stock_movement (warehouse_id, partner_id, product_id, kind, quantity) VALUES (940999999, NULL, 940131, 'receipt', 1)$$,
    'in its own brand, another brand''s warehouse is one that does not exist');
SELECT attack.attempt('atk_s1', 'rebate.maintain_stock_balance()',
    $$INSERT INTO rebate.stock_movement (warehouse_id, product_id, kind, quantity) VALUES (940162, 940131, 'sell_out', -100000)$$,
    'a dealer selling more than it holds is told its own stock', 'RB100');
SELECT attack.attempt('atk_s1', 'rebate.stock_movement',
    format($$INSERT INTO rebate.stock_movement (warehouse_id, product_id, kind, quantity, source, source_id)
             VALUES (940162, 940131, %L, 5, 'transfer', 940164)$$, k),
    format('a dealer forges no %s', k), '42501')
  FROM unnest(ARRAY['transfer_in', 'delivery', 'count_adjustment']) k;
SELECT attack.attempt('atk_s1', 'rebate.stock_movement',
    $$INSERT INTO rebate.stock_movement (warehouse_id, product_id, kind, quantity) VALUES (940162, 940131, 'return_in', 5)$$,
    'nor books a brand''s kind of movement into its own warehouse', '42501');
SELECT attack.attempt('atk_s1', 'rebate.stock_movement',
    $$INSERT INTO rebate.stock_movement (warehouse_id, partner_id, product_id, kind, quantity) VALUES (940160, NULL, 940131, 'receipt', 5)$$,
    'nor anything into the brand''s warehouse', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.stock_movement',
    $$INSERT INTO rebate.stock_movement (warehouse_id, partner_id, product_id, kind, quantity, source, source_id)
      VALUES (940163, 940113, 940131, 'transfer_out', -1, 'transfer', 940160)$$,
    'a manager forges no transfer out of a sharing partner''s warehouse', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.stock_movement',
    $$INSERT INTO rebate.stock_movement (warehouse_id, partner_id, product_id, kind, quantity, source, source_id)
      VALUES (940160, NULL, 940131, 'count_adjustment', 5, 'count', 940162)$$,
    'nor a count adjustment in the brand''s', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.stock_movement',
    $$INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity)
      VALUES (9401, 940160, NULL, 940131, 'receipt', 5)$$,
    'a role through rebate_manager books nothing into its own brand''s', '42501');
SELECT attack.attempt('atk_s1>rebate_partner', 'rebate.stock_movement',
    $$INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity)
      VALUES (9401, 940162, 940112, 940131, 'receipt', 5)$$,
    'nor one through rebate_partner into its own', '42501');
SELECT attack.attempt('atk_s1', 'rebate.stock_movement',
    $$INSERT INTO rebate.stock_movement (warehouse_id, product_id, kind, quantity, recorded_by) VALUES (940162, 940131, 'receipt', 5, 'atk_mgr_a')$$,
    'nobody names another role as the writer of a movement', '42501');

-- ---- the ledger is append-only; balances and alerts are the trigger's --------------------------
SELECT attack.attempt(actor, 'rebate.stock_movement',
                      $$UPDATE rebate.stock_movement SET quantity = 1000 WHERE tenant_id IN (9401, 9402)$$,
                      'nobody rewrites a movement', '42501')
  FROM unnest(ARRAY['atk_mgr_a', 'atk_s1', 'atk_admin']) actor;
SELECT attack.attempt(actor, 'rebate.stock_movement', $$DELETE FROM rebate.stock_movement WHERE tenant_id IN (9401, 9402)$$,
                      'nor removes one', '42501')
  FROM unnest(ARRAY['atk_mgr_a', 'atk_s1', 'atk_admin']) actor;
SELECT attack.attempt('atk_admin', 'rebate.stock_movement', $$TRUNCATE rebate.stock_movement$$, 'nor empties the ledger', '42501');
SELECT throws_ok($$UPDATE rebate.stock_movement SET quantity = 1000 WHERE id = 940263$$, 'RB101',
                 'stock movements are never changed or removed', 'not even the owner changes a movement (RB101)');
SELECT throws_ok($$DELETE FROM rebate.stock_movement WHERE id = 940263$$, 'RB101',
                 'stock movements are never changed or removed', 'nor deletes one');
SELECT throws_ok($$TRUNCATE rebate.stock_movement$$, 'RB101', 'stock movements are never changed or removed', 'nor truncates the ledger');
SELECT attack.attempt(actor, 'rebate.stock_balance',
    $$INSERT INTO rebate.stock_balance (tenant_id, warehouse_id, product_id, partner_id, quantity, movements)
      VALUES (9401, 940162, 940132, 940112, 1000, 1)$$,
    'nobody writes a balance', '42501')
  FROM unnest(ARRAY['atk_mgr_a', 'atk_s1']) actor;
SELECT attack.attempt('atk_mgr_a', 'rebate.stock_balance',
                      $$UPDATE rebate.stock_balance SET quantity = 0 WHERE tenant_id IN (9401, 9402)$$, 'nor changes one', '42501');
SELECT attack.attempt('atk_s1', 'rebate.stock_alert',
                      $$UPDATE rebate.stock_alert SET status = 'cleared', cleared_at = now() WHERE id IN (940162, 940163)$$,
                      'nobody clears an alert by hand', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.stock_alert',
    $$INSERT INTO rebate.stock_alert (tenant_id, warehouse_id, partner_id, product_id, kind, quantity)
      VALUES (9401, 940162, 940112, 940131, 'out_of_stock', 0)$$,
    'nor raises one', '42501');
SELECT attack.attempt('atk_s1', 'rebate.stock_count',
    $$INSERT INTO rebate.stock_count (warehouse_id, partner_id, product_id, counted_on, counted, book)
      VALUES (940162, 940112, 940131, CURRENT_DATE, 1, 1000)$$,
    'a count is recorded through record_stock_count only (its book is the ledger''s)', '42501');

-- ---- consent to share stock: the partner's own --------------------------------------------
SELECT attack.attempt('atk_d1', 'rebate.stock_sharing',
                      $$INSERT INTO rebate.stock_sharing (partner_id) VALUES (940112)$$,
                      'a distributor consents for no dealer of its', '42501');
SELECT attack.attempt('atk_s1', 'rebate.stock_sharing',
                      $$INSERT INTO rebate.stock_sharing (partner_id) VALUES (940111)$$,
                      'a dealer consents for nobody above it', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.stock_sharing',
                      $$INSERT INTO rebate.stock_sharing (partner_id) VALUES (940114)$$,
                      'nor does a manager for a partner', '42501');
SELECT attack.attempt('atk_s1', 'rebate.stock_sharing',
                      $$INSERT INTO rebate.stock_sharing (tenant_id, partner_id) VALUES (9402, 940212)$$,
                      'a dealer consents for nobody of another brand', '42501');
SELECT attack.attempt('atk_s1', 'rebate.stock_sharing',
                      $$INSERT INTO rebate.stock_sharing (partner_id, granted_by) VALUES (940112, 'atk_mgr_a')$$,
                      'nor names another role as the one that consented', '42501');
SELECT attack.attempt('atk_s1>rebate_partner', 'rebate.stock_sharing',
                      $$INSERT INTO rebate.stock_sharing (tenant_id, partner_id) VALUES (9401, 940112)$$,
                      'a role through rebate_partner consents not even for its own partner', '42501');
SELECT attack.attempt('atk_s1', 'rebate.stock_sharing', $$DELETE FROM rebate.stock_sharing WHERE partner_id = 940113$$,
                      'a dealer withdraws no consent of its sibling''s');
SELECT attack.attempt('atk_d1', 'rebate.stock_sharing', $$DELETE FROM rebate.stock_sharing WHERE tenant_id = 9401$$,
                      'nor does a distributor withdraw its dealer''s');
SELECT attack.attempt('atk_mgr_a', 'rebate.stock_sharing', $$DELETE FROM rebate.stock_sharing WHERE tenant_id = 9401$$,
                      'nor a manager a partner''s', '42501');
SELECT attack.attempt('atk_b_user', 'rebate.stock_sharing', $$DELETE FROM rebate.stock_sharing$$,
                      'nor another brand''s dealer anything of the attackers''');
SELECT is((attack.run('atk_s1', $q$DO $d$ DECLARE s rebate.stock_sharing;
              BEGIN
                  INSERT INTO rebate.stock_sharing (note) VALUES ('x') RETURNING * INTO s;
                  IF (s.tenant_id, s.partner_id, s.granted_by) IS DISTINCT FROM (9401::bigint, 940112::bigint, 'atk_s1'::name) THEN
                      RAISE 'consented as %', to_jsonb(s);
                  END IF;
              END $d$$q$)).sqlstate,
          '00000', 'a dealer consents for its own partner, stamped with its own name [atk_s1]');

-- ---- thresholds, suggestions, warehouses, transfers, shipments: plain writes ---------------------
SELECT attack.attempt('atk_s1', 'rebate.stock_threshold',
                      $$UPDATE rebate.stock_threshold SET minimum = 0, reorder_point = 0 WHERE id IN (940163, 940164, 940263)$$,
                      'a dealer changes no threshold of its sibling''s, O''s or another brand''s');
SELECT attack.attempt('atk_d1', 'rebate.stock_threshold',
                      $$UPDATE rebate.stock_threshold SET maximum = 1000000 WHERE id = 940163$$,
                      'a distributor reads its sharing dealer''s threshold but changes none');
SELECT attack.attempt('atk_s1', 'rebate.stock_threshold',
                      $$INSERT INTO rebate.stock_threshold (warehouse_id, partner_id, product_id, minimum) VALUES (940163, 940113, 940132, 1)$$,
                      'a dealer sets no threshold in its sibling''s warehouse', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.stock_threshold',
                      $$INSERT INTO rebate.stock_threshold (warehouse_id, partner_id, product_id, minimum) VALUES (940164, 940114, 940132, 1)$$,
                      'nor a manager in a partner''s that does not share', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.stock_threshold', $$DELETE FROM rebate.stock_threshold WHERE id IN (940162, 940164, 940263)$$,
                      'nor removes one there or in another brand');
SELECT attack.attempt('atk_s1', 'rebate.replenishment_suggestion',
                      $$UPDATE rebate.replenishment_suggestion SET status = 'dismissed' WHERE id IN (940163, 940164, 940263)$$,
                      'a dealer dismisses no suggestion of its sibling''s, O''s or another brand''s');
SELECT attack.attempt('atk_mgr_a', 'rebate.replenishment_suggestion',
                      $$UPDATE rebate.replenishment_suggestion SET status = 'dismissed' WHERE id IN (940162, 940164, 940262)$$,
                      'nor does a manager one of a partner that does not share');
SELECT attack.attempt('atk_s1', 'rebate.replenishment_suggestion',
    $$INSERT INTO rebate.replenishment_suggestion (tenant_id, warehouse_id, partner_id, product_id, as_of, on_hand, in_transit,
                                                  cover_days, forecast_demand, safety_stock, quantity, method, history_months)
      VALUES (9401, 940163, 940113, 940132, CURRENT_DATE, 0, 0, 37, 1, 0, 1, 'average', 0)$$,
    'a dealer writes no suggestion for its sibling', '42501');
SELECT attack.attempt('atk_s1', 'rebate.warehouse',
                      $$INSERT INTO rebate.warehouse (code, name, region_id) VALUES ('X1', 'x', 940103)$$,
                      'a dealer opens no warehouse (the brand registers them)', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.warehouse',
                      $$UPDATE rebate.warehouse SET partner_id = NULL, kind = 'central' WHERE id = 940164$$,
                      'a manager cannot make a partner''s warehouse the brand''s (and so read its stock)', '23503');
SELECT attack.attempt('atk_mgr_a', 'rebate.warehouse',
                      $$UPDATE rebate.warehouse SET partner_id = 940111 WHERE id = 940163$$,
                      'nor give a dealer''s warehouse, with its ledger, to its distributor', '23503');
SELECT attack.attempt('atk_mgr_a', 'rebate.warehouse', $$UPDATE rebate.warehouse SET active = false WHERE tenant_id = 9402$$,
                      'nor touch another brand''s');
SELECT attack.attempt('atk_s1', 'rebate.stock_transfer',
                      $$UPDATE rebate.stock_transfer SET status = 'received' WHERE id = 940164$$,
                      'a transfer moves through its functions only', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.stock_transfer',
    $$INSERT INTO rebate.stock_transfer (code, from_partner_id, from_warehouse_id, to_partner_id, to_warehouse_id, status)
      VALUES ('X2', 940113, 940163, 940112, 940162, 'approved')$$,
    'nobody writes one approved', '42501');
SELECT attack.attempt('atk_s1', 'rebate.stock_transfer_line',
                      $$INSERT INTO rebate.stock_transfer_line (tenant_id, transfer_id, product_id, quantity) VALUES (9401, 940160, 940132, 1)$$,
                      'nor adds a line to one', '42501');
SELECT attack.like_missing('atk_mgr_a', 'rebate.shipment_line',
    $$INSERT INTO rebate.shipment_line (shipment_id, partner_id, order_line_id, quantity) VALUES (940261, 940112, 940151, 1)$$,
    $$INSERT INTO rebate.shipment_line (shipment_id, partner_id, order_line_id, quantity) VALUES (940999999, 940112, 940151, 1)$$,
    'a line for another brand''s shipment is one for a shipment that does not exist (its status not told)');
SELECT attack.like_missing('atk_mgr_a', 'rebate.shipment_line',
    $$INSERT INTO rebate.shipment_line (tenant_id, shipment_id, partner_id, order_line_id, quantity) VALUES (9402, 940260, 940212, 940254, 1)$$,
    $$INSERT INTO rebate.shipment_line (tenant_id, shipment_id, partner_id, order_line_id, quantity) VALUES (9402, 940999999, 940212, 940254, 1)$$,
    'nor does a line written into another brand');
SELECT attack.attempt('atk_mgr_a', 'rebate.guard_shipment_line()',
                      $$UPDATE rebate.shipment_line SET quantity = 1 WHERE id = 940160$$,
                      'a shipment in transit carries what it carried', 'RB103');
SELECT attack.attempt('atk_mgr_a', 'rebate.shipment_line',
                      $$UPDATE rebate.shipment_line SET quantity = 1 WHERE tenant_id = 9402$$, 'nor is another brand''s line reached');
SELECT attack.attempt('atk_s1', 'rebate.shipment_line',
                      $$DELETE FROM rebate.shipment_line WHERE id = 940160$$, 'a dealer removes no line of its own delivery', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.shipment',
                      $$UPDATE rebate.shipment SET status = 'delivered', delivered_on = CURRENT_DATE WHERE id = 940160$$,
                      'a shipment is delivered through deliver_shipment only (the goods enter the ledger)', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.shipment',
                      $$UPDATE rebate.shipment SET waybill_no = 'x' WHERE tenant_id = 9402$$, 'no waybill of another brand is changed');
SELECT attack.attempt('atk_d1', 'rebate.shipment',
    $$INSERT INTO rebate.shipment (code, order_id, partner_id, from_warehouse_id, to_warehouse_id) VALUES ('X3', 940152, 940113, 940163, 940162)$$,
    'a distributor plans no shipment', '42501');
SELECT attack.attempt('atk_s1', 'rebate.shipment_event',
    $$INSERT INTO rebate.shipment_event (tenant_id, shipment_id, partner_id, event_at, status) VALUES (9401, 940160, 940112, now(), 'delivered')$$,
    'a dealer writes no tracking event', '42501');
