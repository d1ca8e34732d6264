-- tests: 79
-- The inventory module's callable functions (part 1 of the attack suite):
-- shipments are shipped by the holder of the sending warehouse and delivered
-- by a manager or the receiver, tracking events are recorded by a bound
-- manager, transfers are requested from one's own (a manager: a sharing
-- partner's) warehouse, shipped by the sender, received by the receiver,
-- cancelled by the sender or a manager; counts are booked by the warehouse's
-- holder (a manager: where the partner shares); balances are rebuilt by a
-- tenant's managers.  Whatever an attacker may not act on ends exactly like
-- what does not exist, and no refusal (RB100 above all) tells another
-- partner's stock.  The functions that read with the caller's rights count
-- what it may not see as nothing.
\ir inventory_fixture.sql

-- How many advisory locks a statement run by an actor holds when it ends (it is rolled back).
CREATE FUNCTION attack.inventory_advisory_locks(actor text, statement text) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    held integer;
BEGIN
    BEGIN
        EXECUTE format('SET SESSION AUTHORIZATION %I', actor);
        EXECUTE statement;
        SELECT count(*) INTO held FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
        RAISE SQLSTATE 'ZZ999';
    EXCEPTION WHEN SQLSTATE 'ZZ999' THEN NULL;
    END;
    RETURN held;
END
$$;

-- ---- shipments: ship_shipment, deliver_shipment, record_tracking_event ----------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.ship_shipment(bigint,date)',
                           $$SELECT rebate.ship_shipment(940261)$$, $$SELECT rebate.ship_shipment(940999999)$$,
                           'a manager shipping another brand''s shipment is refused as for one that does not exist');
SELECT attack.like_missing('atk_s1', 'rebate.ship_shipment(bigint,date)',
                           $$SELECT rebate.ship_shipment(940161)$$, $$SELECT rebate.ship_shipment(940999999)$$,
                           'so is a dealer shipping its sibling''s order from the brand''s warehouse');
SELECT attack.like_missing('atk_d1', 'rebate.ship_shipment(bigint,date)',
                           $$SELECT rebate.ship_shipment(940162)$$, $$SELECT rebate.ship_shipment(940999999)$$,
                           'and a distributor shipping anything of the brand''s');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.ship_shipment(bigint,date)',
                      $$SELECT rebate.ship_shipment(940161)$$, 'a role through rebate_manager ships none of its own brand''s', 'P0002');
SELECT attack.attempt('atk_loose', 'rebate.ship_shipment(bigint,date)',
                      $$SELECT rebate.ship_shipment(940161)$$, 'nor does a role without a binding', 'P0002');
SELECT attack.like_missing('atk_mgr_a', 'rebate.deliver_shipment(bigint,date)',
                           $$SELECT rebate.deliver_shipment(940260)$$, $$SELECT rebate.deliver_shipment(940999999)$$,
                           'a manager delivering another brand''s shipment is refused as for one that does not exist');
SELECT attack.like_missing('atk_s1', 'rebate.deliver_shipment(bigint,date)',
                           $$SELECT rebate.deliver_shipment(940163)$$, $$SELECT rebate.deliver_shipment(940999999)$$,
                           'so is a dealer taking delivery of its sibling''s shipment');
SELECT attack.like_missing('atk_d1', 'rebate.deliver_shipment(bigint,date)',
                           $$SELECT rebate.deliver_shipment(940163)$$, $$SELECT rebate.deliver_shipment(940999999)$$,
                           'and a distributor of its dealer''s (it is not the receiver)');
SELECT attack.like_missing('atk_b_user', 'rebate.deliver_shipment(bigint,date)',
                           $$SELECT rebate.deliver_shipment(940160)$$, $$SELECT rebate.deliver_shipment(940999999)$$,
                           'and another brand''s dealer of the attackers'' dealer''s');
SELECT attack.attempt('atk_s1>rebate_partner', 'rebate.deliver_shipment(bigint,date)',
                      $$SELECT rebate.deliver_shipment(940160)$$, 'a role through rebate_partner takes no delivery, not even its own', 'P0002');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.deliver_shipment(bigint,date)',
                      $$SELECT rebate.deliver_shipment(940163)$$, 'nor one through rebate_manager', 'P0002');
SELECT attack.like_missing('atk_mgr_a', 'rebate.record_tracking_event(text,text,timestamp with time zone,text,text,text)',
                           $$SELECT rebate.record_tracking_event('SF', '94020063', now(), 'delivered')$$,
                           $$SELECT rebate.record_tracking_event('SF', '94029999', now(), 'delivered')$$,
                           'another brand''s waybill is one that does not exist: not delivered, nothing recorded');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.record_tracking_event(text,text,timestamp with time zone,text,text,text)',
                      $$SELECT rebate.record_tracking_event('SF', '94010061', now(), 'picked_up')$$,
                      'a role through rebate_manager records no event of its own brand (and ships nothing)', '42501');
SELECT attack.attempt('atk_loose', 'rebate.record_tracking_event(text,text,timestamp with time zone,text,text,text)',
                      $$SELECT rebate.record_tracking_event('SF', '94010061', now(), 'picked_up')$$,
                      'nor does a role without a binding', '42501');
SELECT attack.attempt('atk_s1', 'rebate.record_tracking_event(text,text,timestamp with time zone,text,text,text)',
                      $$SELECT rebate.record_tracking_event('SF', '94010060', now(), 'delivered')$$,
                      'nor a dealer, not even for its own shipment', '42501');

-- ---- transfers: request_transfer -------------------------------------------------------------
SELECT attack.like_missing('atk_s1', 'rebate.request_transfer(bigint,bigint,jsonb,text,text)',
    $$SELECT rebate.request_transfer(940163, 940162, '[{"product_id": 940131, "quantity": 1000}]')$$,
    $$SELECT rebate.request_transfer(940999999, 940162, '[{"product_id": 940131, "quantity": 1000}]')$$,
    'a transfer out of its sibling''s warehouse is refused as from one that does not exist, nothing of its stock told');
SELECT attack.like_missing('atk_d1', 'rebate.request_transfer(bigint,bigint,jsonb,text,text)',
    $$SELECT rebate.request_transfer(940163, 940161, '[{"product_id": 940131, "quantity": 1000}]')$$,
    $$SELECT rebate.request_transfer(940999999, 940161, '[{"product_id": 940131, "quantity": 1000}]')$$,
    'so is a distributor''s out of its dealer''s, even one that shares its stock');
SELECT attack.like_missing('atk_mgr_a', 'rebate.request_transfer(bigint,bigint,jsonb,text,text)',
    $$SELECT rebate.request_transfer(940164, 940162, '[{"product_id": 940131, "quantity": 1000}]')$$,
    $$SELECT rebate.request_transfer(940999999, 940162, '[{"product_id": 940131, "quantity": 1000}]')$$,
    'and a manager''s out of a partner''s that does not share its stock');
SELECT attack.like_missing('atk_mgr_a', 'rebate.request_transfer(bigint,bigint,jsonb,text,text)',
    $$SELECT rebate.request_transfer(940263, 940262, '[{"product_id": 940231, "quantity": 1000}]')$$,
    $$SELECT rebate.request_transfer(940999999, 940262, '[{"product_id": 940231, "quantity": 1000}]')$$,
    'and out of another brand''s');
SELECT attack.like_missing('atk_s1', 'rebate.request_transfer(bigint,bigint,jsonb,text,text)',
    $$SELECT rebate.request_transfer(940162, 940263, '[{"product_id": 940131, "quantity": 1}]')$$,
    $$SELECT rebate.request_transfer(940162, 940999999, '[{"product_id": 940131, "quantity": 1}]')$$,
    'a transfer into another brand''s warehouse is refused as into one that does not exist');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.request_transfer(bigint,bigint,jsonb,text,text)',
    $$SELECT rebate.request_transfer(940163, 940162, '[{"product_id": 940131, "quantity": 1}]')$$,
    'a role through rebate_manager requests none out of a sharing partner''s warehouse', 'P0002');
SELECT attack.attempt('atk_s1>rebate_partner', 'rebate.request_transfer(bigint,bigint,jsonb,text,text)',
    $$SELECT rebate.request_transfer(940162, 940163, '[{"product_id": 940131, "quantity": 1}]')$$,
    'nor one through rebate_partner out of its own', 'P0002');
SELECT attack.attempt('atk_s1', 'rebate.request_transfer(bigint,bigint,jsonb,text,text)',
    $$SELECT rebate.request_transfer(940162, 940163, '[{"product_id": 940131, "quantity": 1000}]')$$,
    'a dealer asking for more than it holds is told its own stock only', 'RB100');
-- what a dealer reads of the transfer it requested (its request, the request's events) says
-- nothing of the destination it may not read: its sibling's and O's warehouses are hidden from it,
-- codes included (all of it rolled back, what it read handed to the spy)
SELECT attack.attempt('atk_s1', 'rebate.request_transfer(bigint,bigint,jsonb,text,text)',
    $q$DO $d$ DECLARE
           t rebate.stock_transfer;
           seen text;
       BEGIN
           BEGIN
               t := rebate.request_transfer(940162, 940163, '[{"product_id": 940131, "quantity": 1}]');
               SELECT concat_ws('|', t, (SELECT string_agg(a::text, '|') FROM rebate.approval_request a WHERE a.subject_id = t.id),
                                (SELECT string_agg(e::text, '|') FROM rebate.approval_event e
                                   JOIN rebate.approval_request a ON a.id = e.request_id WHERE a.subject_id = t.id))
                 INTO seen;
               t := rebate.request_transfer(940162, 940164, '[{"product_id": 940131, "quantity": 1}]');
               SELECT concat_ws('|', seen, t, (SELECT string_agg(a::text, '|') FROM rebate.approval_request a WHERE a.subject_id = t.id))
                 INTO seen;
               RAISE SQLSTATE 'ZZ998';
           EXCEPTION WHEN SQLSTATE 'ZZ998' THEN NULL;
           WHEN OTHERS THEN seen := concat_ws('|', seen, SQLSTATE, SQLERRM);  -- (refusing such a transfer is no leak either)
           END;
           PERFORM attack.spy(seen);
       END $d$$q$,
    'a dealer''s transfer request to its sibling''s or O''s warehouse quotes no code of theirs back to it', '00000');

-- ---- transfers: ship_transfer, receive_transfer, cancel_transfer -----------------------------
SELECT attack.like_missing('atk_s1', 'rebate.ship_transfer(bigint,date)',
                           $$SELECT rebate.ship_transfer(940161)$$, $$SELECT rebate.ship_transfer(940999999)$$,
                           'a dealer shipping its sibling''s transfer to it (more than the sibling holds) is refused as for none, nothing of that stock told');
SELECT attack.like_missing('atk_s1', 'rebate.ship_transfer(bigint,date)',
                           $$SELECT rebate.ship_transfer(940162)$$, $$SELECT rebate.ship_transfer(940999999)$$,
                           'so is one shipping its sibling''s transfer to O');
SELECT attack.like_missing('atk_d1', 'rebate.ship_transfer(bigint,date)',
                           $$SELECT rebate.ship_transfer(940161)$$, $$SELECT rebate.ship_transfer(940999999)$$,
                           'and a distributor shipping its dealer''s');
SELECT attack.like_missing('atk_mgr_a', 'rebate.ship_transfer(bigint,date)',
                           $$SELECT rebate.ship_transfer(940161)$$, $$SELECT rebate.ship_transfer(940999999)$$,
                           'and a manager (the partner holds the goods)');
SELECT attack.like_missing('atk_b_user', 'rebate.ship_transfer(bigint,date)',
                           $$SELECT rebate.ship_transfer(940160)$$, $$SELECT rebate.ship_transfer(940999999)$$,
                           'and another brand''s dealer');
SELECT attack.attempt('atk_s1>rebate_partner', 'rebate.ship_transfer(bigint,date)',
                      $$SELECT rebate.ship_transfer(940160)$$, 'a role through rebate_partner ships not even its own', 'P0002');
SELECT attack.like_missing('atk_s1', 'rebate.receive_transfer(bigint,date)',
                           $$SELECT rebate.receive_transfer(940163)$$, $$SELECT rebate.receive_transfer(940999999)$$,
                           'a dealer receiving O''s transfer is refused as for none');
SELECT attack.like_missing('atk_d1', 'rebate.receive_transfer(bigint,date)',
                           $$SELECT rebate.receive_transfer(940164)$$, $$SELECT rebate.receive_transfer(940999999)$$,
                           'so is a distributor receiving its dealer''s');
SELECT attack.like_missing('atk_mgr_a', 'rebate.receive_transfer(bigint,date)',
                           $$SELECT rebate.receive_transfer(940264)$$, $$SELECT rebate.receive_transfer(940999999)$$,
                           'and a manager receiving another brand''s');
SELECT attack.attempt('atk_s1>rebate_partner', 'rebate.receive_transfer(bigint,date)',
                      $$SELECT rebate.receive_transfer(940164)$$, 'a role through rebate_partner receives not even its own', 'P0002');
SELECT attack.like_missing('atk_s1', 'rebate.cancel_transfer(bigint)',
                           $$SELECT rebate.cancel_transfer(940161)$$, $$SELECT rebate.cancel_transfer(940999999)$$,
                           'a dealer cancelling its sibling''s transfer to it is refused as for none');
SELECT attack.like_missing('atk_d1', 'rebate.cancel_transfer(bigint)',
                           $$SELECT rebate.cancel_transfer(940162)$$, $$SELECT rebate.cancel_transfer(940999999)$$,
                           'so is a distributor cancelling its dealer''s');
SELECT attack.like_missing('atk_mgr_a', 'rebate.cancel_transfer(bigint)',
                           $$SELECT rebate.cancel_transfer(940260)$$, $$SELECT rebate.cancel_transfer(940999999)$$,
                           'and a manager cancelling another brand''s');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.cancel_transfer(bigint)',
                      $$SELECT rebate.cancel_transfer(940160)$$, 'a role through rebate_manager cancels none of its own brand''s', 'P0002');

-- ---- rebuild_stock_balances: a tenant's managers, every tenant's administrators ------------------
SELECT attack.attempt('atk_mgr_a', 'rebate.rebuild_stock_balances(bigint)',
                      $$SELECT rebate.rebuild_stock_balances(9402)$$, 'a manager rebuilds no balance of another brand', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.rebuild_stock_balances(bigint)',
                      $$SELECT rebate.rebuild_stock_balances(NULL)$$, 'nor of no tenant at all', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.rebuild_stock_balances(bigint)',
                      $$SELECT rebate.rebuild_stock_balances(9401)$$, 'a role through rebate_manager none of its own brand''s', '42501');
SELECT attack.attempt('atk_loose', 'rebate.rebuild_stock_balances(bigint)',
                      $$SELECT rebate.rebuild_stock_balances(9401)$$, 'nor a role without a binding', '42501');
SELECT attack.attempt('atk_d1', 'rebate.rebuild_stock_balances(bigint)',
                      $$SELECT rebate.rebuild_stock_balances(9401)$$, 'nor a partner user', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.rebuild_stock_balances(bigint)',
                      $$SELECT rebate.rebuild_stock_balances(9401)$$,
                      'its own brand''s balances rebuilt are what they were (kept exactly)', '00000');
-- a rebuild takes turns with the writers of its own tenant only: the table is not locked
-- against every tenant's writers (another brand's manager could hold up all stock)
SELECT attack.attempt('atk_mgr_a', 'rebate.rebuild_stock_balances(bigint)',
    $q$DO $d$ BEGIN
           PERFORM rebate.rebuild_stock_balances(9401);
           IF EXISTS (SELECT FROM pg_locks l WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation'
                         AND l.relation = 'rebate.stock_balance'::regclass
                         AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')) THEN
               RAISE 'every tenant''s stock writers wait for this transaction';
           END IF;
       END $d$$q$,
    'a manager''s rebuild does not hold up another brand''s stock movements', '00000');

-- ---- counts (record_stock_count) and replenishment (the caller's rights) ---------------------------
SELECT attack.like_missing('atk_s1', 'rebate.record_stock_count(bigint,bigint,numeric,date,text)',
                           $$SELECT rebate.record_stock_count(940163, 940131, 0)$$,
                           $$SELECT rebate.record_stock_count(940999999, 940131, 0)$$,
                           'a dealer counting its sibling''s warehouse is refused as one that does not exist');
SELECT attack.like_missing('atk_mgr_a', 'rebate.record_stock_count(bigint,bigint,numeric,date,text)',
                           $$SELECT rebate.record_stock_count(940263, 940231, 0)$$,
                           $$SELECT rebate.record_stock_count(940999999, 940231, 0)$$,
                           'so is a manager counting another brand''s');
SELECT attack.like_missing('atk_d1', 'rebate.record_stock_count(bigint,bigint,numeric,date,text)',
                           $$SELECT rebate.record_stock_count(940163, 940131, 0)$$,
                           $$SELECT rebate.record_stock_count(940999999, 940131, 0)$$,
                           'and a distributor counting its dealer''s, though the dealer shares its stock (reading is not booking)');
SELECT attack.like_missing('atk_mgr_a', 'rebate.record_stock_count(bigint,bigint,numeric,date,text)',
                           $$SELECT rebate.record_stock_count(940164, 940131, 0)$$,
                           $$SELECT rebate.record_stock_count(940999999, 940131, 0)$$,
                           'and a manager counting a partner''s that does not share its stock (its book not told)');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.record_stock_count(bigint,bigint,numeric,date,text)',
                      $$SELECT rebate.record_stock_count(940160, 940131, 0)$$,
                      'a role through rebate_manager counts nothing in its brand''s', 'P0002');
SELECT attack.attempt('atk_s1>rebate_partner', 'rebate.record_stock_count(bigint,bigint,numeric,date,text)',
                      $$SELECT rebate.record_stock_count(940162, 940131, 0)$$,
                      'nor one through rebate_partner in its own', 'P0002');
SELECT attack.attempt('atk_loose', 'rebate.record_stock_count(bigint,bigint,numeric,date,text)',
                      $$SELECT rebate.record_stock_count(940160, 940131, 0)$$, 'nor a role without a binding', 'P0002');
-- counts of one item take turns on something only the item's writers may lock, not on an advisory
-- lock any role could take (to hold another brand's counts up, or to see one running)
SELECT is(attack.inventory_advisory_locks('atk_s1', $$SELECT rebate.record_stock_count(940162, 940131, 35)$$), 0,
          'a dealer''s count of its own item takes no advisory lock');
SELECT attack.like_missing('atk_s1', 'rebate.suggest_replenishment(bigint,date)',
                           $$SELECT * FROM rebate.suggest_replenishment(940163)$$,
                           $$SELECT * FROM rebate.suggest_replenishment(940999999)$$,
                           'a dealer asking for its sibling''s suggestions is refused as for a warehouse that does not exist');
SELECT attack.like_missing('atk_mgr_a', 'rebate.suggest_replenishment(bigint,date)',
                           $$SELECT * FROM rebate.suggest_replenishment(940264)$$,
                           $$SELECT * FROM rebate.suggest_replenishment(940999999)$$,
                           'so is a manager asking for another brand''s');
SELECT attack.attempt('atk_mgr_a', 'rebate.suggest_replenishment(bigint,date)',
                      $$SELECT * FROM rebate.suggest_replenishment(940164)$$,
                      'a manager computes nothing for a partner that does not share (its stock and thresholds are hidden)', '00000');
SELECT attack.attempt('atk_d1', 'rebate.suggest_replenishment(bigint,date)',
                      $$SELECT * FROM rebate.suggest_replenishment(940162)$$,
                      'nor does a distributor for its dealer that does not share', '00000');
SELECT attack.attempt('atk_d1', 'rebate.suggest_replenishment(bigint,date)',
                      $$SELECT * FROM rebate.suggest_replenishment(940163)$$,
                      'and it records none for its dealer that shares (reading is not writing)');
SELECT attack.like_missing('atk_s1', 'rebate.order_suggestions(bigint[],text)',
                           $$SELECT rebate.order_suggestions(ARRAY[940163]::bigint[])$$,
                           $$SELECT rebate.order_suggestions(ARRAY[940999999]::bigint[])$$,
                           'a dealer ordering its sibling''s suggestion is refused as for one that does not exist');
SELECT attack.like_missing('atk_s1', 'rebate.order_suggestions(bigint[],text)',
                           $$SELECT rebate.order_suggestions(ARRAY[940162, 940163]::bigint[])$$,
                           $$SELECT rebate.order_suggestions(ARRAY[940162, 940999999]::bigint[])$$,
                           'or one along with its own');
SELECT attack.like_missing('atk_mgr_a', 'rebate.order_suggestions(bigint[],text)',
                           $$SELECT rebate.order_suggestions(ARRAY[940164]::bigint[])$$,
                           $$SELECT rebate.order_suggestions(ARRAY[940999999]::bigint[])$$,
                           'a manager ordering a suggestion of a partner that does not share is refused as for none');
SELECT attack.like_missing('atk_mgr_a', 'rebate.order_suggestions(bigint[],text)',
                           $$SELECT rebate.order_suggestions(ARRAY[940262]::bigint[])$$,
                           $$SELECT rebate.order_suggestions(ARRAY[940999999]::bigint[])$$,
                           'so is one of another brand''s');
SELECT attack.attempt('atk_d1', 'rebate.order_suggestions(bigint[],text)',
                      $$SELECT rebate.order_suggestions(ARRAY[940163]::bigint[])$$,
                      'a distributor orders nothing in its sharing dealer''s name', '42501');

-- ---- reading stock with the caller's rights: what it may not see is nothing ------------------------
SELECT attack.attempt('atk_s1', 'rebate.stock_on_hand(bigint,bigint,date)',
    $q$DO $d$ BEGIN
           IF rebate.stock_on_hand(940163, 940131) <> 0 OR rebate.stock_on_hand(940163, 940131, CURRENT_DATE) <> 0
              OR rebate.stock_on_hand(940164, 940131) <> 0 OR rebate.stock_on_hand(940263, 940231) <> 0
              OR rebate.partner_stock(940113, 940131) <> 0 OR rebate.partner_stock(940114, 940131, CURRENT_DATE) <> 0
              OR rebate.partner_stock(940111, 940131) <> 0
              OR rebate.stock_on_hand(940162, 940131) <> 35 OR rebate.partner_stock(940112, 940132) <> 7 THEN
               RAISE 'stock shows';
           END IF;
       END $d$$q$,
    'a dealer reads its own stock, and 0 for its sibling''s, O''s, its distributor''s and another brand''s', '00000');
SELECT attack.attempt('atk_d1', 'rebate.partner_stock(bigint,bigint,date)',
    $q$DO $d$ BEGIN
           IF rebate.partner_stock(940112, 940131) <> 0 OR rebate.stock_on_hand(940162, 940131, CURRENT_DATE) <> 0
              OR rebate.partner_stock(940114, 940131) <> 0 OR rebate.partner_stock(940113, 940131) <> 23
              OR rebate.partner_stock(940111, 940131) <> 40 THEN
               RAISE 'stock shows';
           END IF;
       END $d$$q$,
    'a distributor reads its own and its sharing dealer''s stock, 0 for the dealer that does not share and for O', '00000');
SELECT attack.attempt('atk_mgr_a', 'rebate.stock_levels(date,bigint,bigint,bigint,bigint)',
    $q$DO $d$ BEGIN
           IF (SELECT string_agg(format('%s:%s:%s', warehouse_id, product_id, trim_scale(on_hand)), ',' ORDER BY warehouse_id, product_id)
                 FROM rebate.stock_levels()) IS DISTINCT FROM '940160:940131:995,940163:940131:23,940163:940132:12'
              OR EXISTS (SELECT FROM rebate.stock_levels(CURRENT_DATE) WHERE warehouse_id NOT IN (940160, 940163))
              OR EXISTS (SELECT FROM rebate.stock_levels(partner_id => 940212))
              OR rebate.stock_on_hand(940164, 940131) <> 0 OR rebate.partner_stock(940112, 940131) <> 0
              OR rebate.stock_on_hand(940263, 940231) <> 0 THEN
               RAISE 'stock shows';
           END IF;
       END $d$$q$,
    'a manager reads the brand''s and the sharing dealer''s stock, nothing of the others or of another brand', '00000');
SELECT attack.attempt('atk_s1', 'rebate.stock_levels(date,bigint,bigint,bigint,bigint)',
    $q$DO $d$ BEGIN
           IF EXISTS (SELECT FROM rebate.stock_levels(partner_id => 940111) WHERE warehouse_id <> 940162)
              OR EXISTS (SELECT FROM rebate.stock_levels(CURRENT_DATE, region_id => 940101) WHERE warehouse_id <> 940162)
              OR EXISTS (SELECT FROM rebate.stock_levels(warehouse_id => 940163)) THEN
               RAISE 'stock shows';
           END IF;
       END $d$$q$,
    'a dealer''s stock levels of its distributor''s subtree or of the whole country are its own', '00000');
SELECT attack.attempt(actor, 'rebate.stock_levels(date,bigint,bigint,bigint,bigint)',
    $q$DO $d$ BEGIN
           IF EXISTS (SELECT FROM rebate.stock_levels()) OR EXISTS (SELECT FROM rebate.stock_levels(CURRENT_DATE))
              OR rebate.stock_on_hand(940160, 940131) <> 0 OR rebate.partner_stock(940112, 940131) <> 0 THEN
               RAISE 'stock shows';
           END IF;
       END $d$$q$,
    'a role with a group role but no binding of its own reads no stock', '00000')
  FROM unnest(ARRAY['atk_loose', 'atk_mgr_a>rebate_manager', 'atk_s1>rebate_partner']) actor;
SELECT attack.attempt('atk_s1', 'rebate.stock_in_transit(rebate.warehouse,bigint)',
    $q$DO $d$ BEGIN
           IF rebate.stock_in_transit((SELECT w FROM rebate.warehouse w WHERE w.id = 940162), 940131) <> 7
              OR rebate.stock_in_transit(ROW(940163, 9401, 'x', 'x', 'partner', 940113, 940113, 940103, NULL, true,
                                             now(), now())::rebate.warehouse, 940131) <> 0
              OR EXISTS (SELECT FROM unnest(rebate.monthly_sales(9401, 940163, 940131, CURRENT_DATE)) v WHERE v <> 0)
              OR (rebate.effective_threshold(9401, 940163, 940131)).id IS NOT NULL
              OR (rebate.effective_threshold(9401, 940162, 940131)).id IS DISTINCT FROM 940162 THEN
               RAISE 'stock shows';
           END IF;
       END $d$$q$,
    'a dealer reads what comes to it, nothing coming to its sibling (a warehouse row forged), nor its sibling''s sales or thresholds', '00000');
SELECT attack.attempt('atk_mgr_a', 'rebate.verify_stock(bigint)',
                      $$SELECT count(*) FROM rebate.verify_stock(9402) v WHERE attack.spy(v)$$,
                      'a manager verifies nothing of another brand''s stock, and sees none of it');
SELECT attack.attempt(actor, 'rebate.verify_stock(bigint)',
    $q$DO $d$ BEGIN IF EXISTS (SELECT FROM rebate.verify_stock(9401)) THEN RAISE 'differs'; END IF; END $d$$q$,
    'the balances a role reads and the ledger it reads agree (both hide the same items)', '00000')
  FROM unnest(ARRAY['atk_s1', 'atk_d1', 'atk_mgr_a']) actor;
SELECT attack.attempt('atk_s1', 'rebate.stock_turnover(date,date,bigint)',
    $q$DO $d$ BEGIN
           IF (SELECT string_agg(DISTINCT warehouse_id::text, ',') FROM rebate.stock_turnover(CURRENT_DATE - 365, CURRENT_DATE))
                  IS DISTINCT FROM '940162'
              OR EXISTS (SELECT FROM rebate.stock_turnover(CURRENT_DATE - 365, CURRENT_DATE, 940163))
              OR EXISTS (SELECT FROM rebate.forecast_backtest(NULL, CURRENT_DATE + 1200) WHERE warehouse_id <> 940162) THEN
               RAISE 'stock shows';
           END IF;
       END $d$$q$,
    'a dealer''s turnover and forecast backtest are of its own warehouse only', '00000');
SELECT attack.attempt('atk_mgr_a', 'rebate.stock_turnover(date,date,bigint)',
    $q$DO $d$ BEGIN
           IF (SELECT string_agg(DISTINCT warehouse_id::text, ',') FROM rebate.stock_turnover(CURRENT_DATE - 365, CURRENT_DATE))
                  IS DISTINCT FROM '940160,940163'
              OR EXISTS (SELECT FROM rebate.stock_turnover(CURRENT_DATE - 365, CURRENT_DATE, 940264))
              OR EXISTS (SELECT FROM rebate.forecast_backtest(940164, CURRENT_DATE + 1200)) THEN
               RAISE 'stock shows';
           END IF;
       END $d$$q$,
    'a manager''s are of the brand''s and the sharing partner''s warehouses only', '00000');
-- inventory KPIs (scoring): only of partners sharing their stock, and only in the caller's own tenant
SELECT ok((attack.run('atk_mgr_a', $q$DO $d$ BEGIN
              IF EXISTS (SELECT FROM rebate.inventory_kpis(9402, daterange(CURRENT_DATE - 90, CURRENT_DATE + 1))) THEN
                  RAISE 'KPIs show';
              END IF; END $d$$q$)).sqlstate IN ('00000', '42501'),
          'a manager reads no inventory KPI of another brand [atk_mgr_a]');
SELECT ok((attack.run('atk_s1', $q$DO $d$ BEGIN
              IF EXISTS (SELECT FROM rebate.inventory_kpis(9401, daterange(CURRENT_DATE - 90, CURRENT_DATE + 1))
                          WHERE partner_id <> 940112) THEN
                  RAISE 'KPIs show';
              END IF; END $d$$q$)).sqlstate IN ('00000', '42501'),
          'a dealer none of its sibling''s (which shares with the brand, not with it) [atk_s1]');
