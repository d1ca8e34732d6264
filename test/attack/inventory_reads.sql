-- tests: 22
-- What the inventory module shows (part 3 of the attack suite; its
-- catalog-wide reads and writes cover these tables and views too): a partner
-- user its own warehouses' stock, and its dealers' where they share it; a
-- manager the brand's warehouses' stock, and partners' only where they share
-- it (consent, or a contract in force that says so); shipments and
-- transfers to both parties (and the partners above them); another brand's
-- roles, a role through a group role and one without a binding nothing.
\ir inventory_fixture.sql

CREATE FUNCTION attack.inventory_ids(rel regclass, col text) RETURNS text
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    ids text;
BEGIN
    EXECUTE format('SELECT coalesce(string_agg(DISTINCT %1$I::text, %2$L ORDER BY %1$I::text), %3$L) FROM %4$s', col, ',', '-', rel)
       INTO ids;
    RETURN ids;
END
$$;

-- the stock a role reads (ids of the warehouses whose stock shows, row ids elsewhere)
CREATE FUNCTION attack.inventory_stock_seen() RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT format('movements %s; balances %s; alerts %s; counts %s; thresholds %s; suggestions %s; '
                  'v_stock %s; v_stock_age %s; v_stock_turnover %s; v_slow_movers %s; v_stock_alerts %s; v_replenishment %s; '
                  'v_stock_by_region %s; stock_levels %s',
                  attack.inventory_ids('rebate.stock_movement', 'warehouse_id'),
                  attack.inventory_ids('rebate.stock_balance', 'warehouse_id'),
                  attack.inventory_ids('rebate.stock_alert', 'id'), attack.inventory_ids('rebate.stock_count', 'id'),
                  attack.inventory_ids('rebate.stock_threshold', 'id'),
                  attack.inventory_ids('rebate.replenishment_suggestion', 'id'),
                  attack.inventory_ids('rebate.v_stock', 'warehouse_id'), attack.inventory_ids('rebate.v_stock_age', 'warehouse_id'),
                  attack.inventory_ids('rebate.v_stock_turnover', 'warehouse_id'),
                  attack.inventory_ids('rebate.v_slow_movers', 'warehouse_id'),
                  attack.inventory_ids('rebate.v_stock_alerts', 'alert_id'),
                  attack.inventory_ids('rebate.v_replenishment', 'suggestion_id'),
                  (SELECT coalesce(string_agg(format('%s:%s:%s', region_id, product_id, trim_scale(on_hand)), ','
                                              ORDER BY region_id, product_id), '-') FROM rebate.v_stock_by_region),
                  (SELECT coalesce(string_agg(format('%s:%s:%s', warehouse_id, product_id, trim_scale(on_hand)), ','
                                              ORDER BY warehouse_id, product_id), '-') FROM rebate.stock_levels()))
$$;

-- what else of the module it reads: warehouses, consents, transfers, shipments and their events
CREATE FUNCTION attack.inventory_other_seen() RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT format('warehouses %s; sharing %s; transfers %s; transfer lines %s; v_stock_transfers %s; shipments %s; '
                  'shipment lines %s; events %s; v_delivery_performance %s',
                  attack.inventory_ids('rebate.warehouse', 'id'), attack.inventory_ids('rebate.stock_sharing', 'partner_id'),
                  attack.inventory_ids('rebate.stock_transfer', 'id'), attack.inventory_ids('rebate.stock_transfer_line', 'id'),
                  attack.inventory_ids('rebate.v_stock_transfers', 'transfer_id'), attack.inventory_ids('rebate.shipment', 'id'),
                  attack.inventory_ids('rebate.shipment_line', 'id'), attack.inventory_ids('rebate.shipment_event', 'id'),
                  attack.inventory_ids('rebate.v_delivery_performance', 'partner_id'))
$$;

-- The stock an actor reads once setup (run as the superuser) has changed who shares; all of it rolled back.
CREATE FUNCTION attack.inventory_stock_seen_after(setup text, actor text) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    seen text;
BEGIN
    BEGIN
        EXECUTE setup;
        EXECUTE format('SET SESSION AUTHORIZATION %I', actor);
        seen := attack.inventory_stock_seen();
        RAISE SQLSTATE 'ZZ999';
    EXCEPTION WHEN SQLSTATE 'ZZ999' THEN NULL;
    END;
    RETURN seen;
END
$$;

-- ---- each actor's stock and the rest of the module, as the fixture has it ----------------------
SET SESSION AUTHORIZATION atk_s1;
SELECT is(attack.inventory_stock_seen(),
          'movements 940162; balances 940162; alerts 940162; counts 940162; thresholds 940162; suggestions 940162; '
          'v_stock 940162; v_stock_age 940162; v_stock_turnover 940162; v_slow_movers 940162; v_stock_alerts 940162; '
          'v_replenishment 940162; v_stock_by_region 940103:940131:35,940103:940132:7; '
          'stock_levels 940162:940131:35,940162:940132:7',
          'a dealer reads its own warehouse''s stock only: not its sibling''s, which shares with the brand and the distributor [atk_s1]');
SELECT is(attack.inventory_other_seen(),
          'warehouses 940162,940165; sharing -; transfers 940160,940161,940164; transfer lines 940160,940161,940164; '
          'v_stock_transfers 940160,940161,940164; shipments 940160; shipment lines 940160; events -; v_delivery_performance -',
          'its own warehouses, the transfers it is a party to, its own shipments [atk_s1]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_d1;
SELECT is(attack.inventory_stock_seen(),
          'movements 940161,940163; balances 940161,940163; alerts 940163; counts 940163; thresholds 940163; suggestions 940163; '
          'v_stock 940161,940163; v_stock_age 940161,940163; v_stock_turnover 940161,940163; v_slow_movers 940161,940163; '
          'v_stock_alerts 940163; v_replenishment 940163; '
          'v_stock_by_region 940102:940131:40,940103:940131:23,940103:940132:12; '
          'stock_levels 940161:940131:40,940163:940131:23,940163:940132:12',
          'a distributor reads its own stock and its dealer''s that shares it, not the other dealer''s nor O''s [atk_d1]');
SELECT is(attack.inventory_other_seen(),
          'warehouses 940161,940162,940163,940165; sharing 940113; transfers 940160,940161,940162,940164; '
          'transfer lines 940160,940161,940162,940164; v_stock_transfers 940160,940161,940162,940164; '
          'shipments 940160,940161,940163; shipment lines 940160,940161,940163; events 940160; v_delivery_performance -',
          'its dealers'' warehouses, consents, transfers and shipments, nothing of O''s [atk_d1]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_a;
SELECT is(attack.inventory_stock_seen(),
          'movements 940160,940163; balances 940160,940163; alerts 940163; counts 940163; thresholds 940163; suggestions 940163; '
          'v_stock 940160,940163; v_stock_age 940160,940163; v_stock_turnover 940160,940163; v_slow_movers 940160,940163; '
          'v_stock_alerts 940163; v_replenishment 940163; '
          'v_stock_by_region 940102:940131:995,940103:940131:23,940103:940132:12; '
          'stock_levels 940160:940131:995,940163:940131:23,940163:940132:12',
          'a manager reads the brand''s stock and the sharing dealer''s, not the others'', nor another brand''s [atk_mgr_a]');
SELECT is(attack.inventory_other_seen(),
          'warehouses 940160,940161,940162,940163,940164,940165,940166; sharing 940113; '
          'transfers 940160,940161,940162,940163,940164; transfer lines 940160,940161,940162,940163,940164; '
          'v_stock_transfers 940160,940161,940162,940163,940164; shipments 940160,940161,940162,940163; '
          'shipment lines 940160,940161,940162,940163; events 940160; v_delivery_performance -',
          'and its brand''s warehouses, consents, transfers and shipments [atk_mgr_a]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_b_user;
SELECT is(attack.inventory_stock_seen() || ' / ' || attack.inventory_other_seen(),
          'movements 940262; balances 940262; alerts 940262; counts 940262; thresholds 940262; suggestions 940262; '
          'v_stock 940262; v_stock_age 940262; v_stock_turnover 940262; v_slow_movers 940262; v_stock_alerts 940262; '
          'v_replenishment 940262; v_stock_by_region 940203:940231:35,940203:940232:7; '
          'stock_levels 940262:940231:35,940262:940232:7 / '
          'warehouses 940262,940265; sharing -; transfers 940260,940261,940264; transfer lines 940260,940261,940264; '
          'v_stock_transfers 940260,940261,940264; shipments 940260; shipment lines 940260; events -; v_delivery_performance -',
          'the other brand''s dealer reads its own only [atk_b_user]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_b;
SELECT is((SELECT count(*)::int FROM rebate.warehouse WHERE tenant_id = 9401)
          + (SELECT count(*)::int FROM rebate.stock_movement WHERE tenant_id = 9401)
          + (SELECT count(*)::int FROM rebate.stock_balance WHERE tenant_id = 9401)
          + (SELECT count(*)::int FROM rebate.stock_transfer WHERE tenant_id = 9401)
          + (SELECT count(*)::int FROM rebate.shipment WHERE tenant_id = 9401)
          + (SELECT count(*)::int FROM rebate.v_stock WHERE tenant_id = 9401)
          + (SELECT count(*)::int FROM rebate.v_stock_by_region WHERE tenant_id = 9401)
          + (SELECT count(*)::int FROM rebate.stock_levels() WHERE warehouse_id / 100 = 9401), 0,
          'another brand''s manager reads nothing of brand A''s inventory [atk_mgr_b]');
RESET SESSION AUTHORIZATION;
SELECT attack.attempt(actor, 'rebate.v_stock',
                      $q$DO $d$ BEGIN
                             IF attack.inventory_stock_seen() || attack.inventory_other_seen()
                                <> 'movements -; balances -; alerts -; counts -; thresholds -; suggestions -; v_stock -; '
                                   'v_stock_age -; v_stock_turnover -; v_slow_movers -; v_stock_alerts -; v_replenishment -; '
                                   'v_stock_by_region -; stock_levels -'
                                   'warehouses -; sharing -; transfers -; transfer lines -; v_stock_transfers -; shipments -; '
                                   'shipment lines -; events -; v_delivery_performance -' THEN
                                 RAISE 'rows show';
                             END IF;
                         END $d$$q$,
                      'a role with a group role but no binding of its own reads no warehouse, stock, transfer or shipment', '00000')
  FROM unnest(ARRAY['atk_loose', 'atk_mgr_a>rebate_manager', 'atk_s1>rebate_partner']) actor;
-- a leaky function in a condition on each view sees the rows the reader may see only
SELECT attack.attempt(actor, 'rebate.v_stock_alerts',
                      $q$DO $d$ BEGIN
                             PERFORM count(*) FROM rebate.v_stock v WHERE attack.spy(v);
                             PERFORM count(*) FROM rebate.v_stock_by_region v WHERE attack.spy(v);
                             PERFORM count(*) FROM rebate.v_stock_age v WHERE attack.spy(v);
                             PERFORM count(*) FROM rebate.v_stock_turnover v WHERE attack.spy(v);
                             PERFORM count(*) FROM rebate.v_slow_movers v WHERE attack.spy(v);
                             PERFORM count(*) FROM rebate.v_stock_alerts v WHERE attack.spy(v);
                             PERFORM count(*) FROM rebate.v_replenishment v WHERE attack.spy(v);
                             PERFORM count(*) FROM rebate.v_stock_transfers v WHERE attack.spy(v);
                             PERFORM count(*) FROM rebate.stock_movement v WHERE attack.spy(v);
                             PERFORM count(*) FROM rebate.stock_count v WHERE attack.spy(v);
                             PERFORM count(*) FROM rebate.shipment v WHERE attack.spy(v);
                         END $d$$q$,
                      'a leaky function in its conditions on the inventory views and tables sees no hidden row')
  FROM unnest(ARRAY['atk_s1', 'atk_d1', 'atk_b_user']) actor;

-- ---- who shares: consent withdrawn or given, a contract that says so ----------------------------
SELECT is(attack.inventory_stock_seen_after($$DELETE FROM rebate.stock_sharing WHERE id = 940163$$, actor),
          format('movements %1$s; balances %1$s; alerts -; counts -; thresholds -; suggestions -; v_stock %1$s; v_stock_age %1$s; '
                 'v_stock_turnover %1$s; v_slow_movers %1$s; v_stock_alerts -; v_replenishment -; v_stock_by_region %2$s; '
                 'stock_levels %3$s', w, r, l),
          format('once the dealer withdraws its consent, its stock is hidden again [%s]', actor))
  FROM (VALUES ('atk_mgr_a', '940160', '940102:940131:995', '940160:940131:995'),
               ('atk_d1', '940161', '940102:940131:40', '940161:940131:40')) x (actor, w, r, l);
SELECT is(attack.inventory_stock_seen_after($$INSERT INTO rebate.stock_sharing (tenant_id, partner_id) VALUES (9401, 940114)$$, actor),
          seen, format('O consenting shows its stock to the managers, not to D above others [%s]', actor))
  FROM (VALUES ('atk_mgr_a',
                'movements 940160,940163,940164; balances 940160,940163,940164; alerts 940163,940164; counts 940163,940164; '
                'thresholds 940163,940164; suggestions 940163,940164; v_stock 940160,940163,940164; '
                'v_stock_age 940160,940163,940164; v_stock_turnover 940160,940163,940164; v_slow_movers 940160,940163,940164; '
                'v_stock_alerts 940163,940164; v_replenishment 940163,940164; '
                'v_stock_by_region 940102:940131:995,940103:940131:23,940103:940132:12,940104:940131:14.5; '
                'stock_levels 940160:940131:995,940163:940131:23,940163:940132:12,940164:940131:14.5'),
               ('atk_d1',
                'movements 940161,940163; balances 940161,940163; alerts 940163; counts 940163; thresholds 940163; suggestions 940163; '
                'v_stock 940161,940163; v_stock_age 940161,940163; v_stock_turnover 940161,940163; v_slow_movers 940161,940163; '
                'v_stock_alerts 940163; v_replenishment 940163; '
                'v_stock_by_region 940102:940131:40,940103:940131:23,940103:940132:12; '
                'stock_levels 940161:940131:40,940163:940131:23,940163:940132:12')) x (actor, seen);
SELECT is(attack.inventory_stock_seen_after($$INSERT INTO rebate.stock_sharing (tenant_id, partner_id) VALUES (9401, 940112)$$,
                                            'atk_mgr_a'),
          'movements 940160,940162,940163; balances 940160,940162,940163; alerts 940162,940163; counts 940162,940163; '
          'thresholds 940162,940163; suggestions 940162,940163; v_stock 940160,940162,940163; v_stock_age 940160,940162,940163; '
          'v_stock_turnover 940160,940162,940163; v_slow_movers 940160,940162,940163; v_stock_alerts 940162,940163; '
          'v_replenishment 940162,940163; v_stock_by_region 940102:940131:995,940103:940131:58,940103:940132:19; '
          'stock_levels 940160:940131:995,940162:940131:35,940162:940132:7,940163:940131:23,940163:940132:12',
          'S1 consenting shows its stock to the managers [atk_mgr_a]');
SELECT is(attack.inventory_stock_seen_after(
              $$INSERT INTO rebate.partner_contract (id, tenant_id, partner_id, code, term, shares_stock)
                VALUES (940147, 9401, 940111, 'ZQXA-K7', daterange(CURRENT_DATE - 10, CURRENT_DATE + 300), true);
                UPDATE rebate.partner_contract SET status = 'pending_approval' WHERE id = 940147;
                UPDATE rebate.partner_contract SET status = 'approved' WHERE id = 940147;
                UPDATE rebate.partner_contract SET status = 'active' WHERE id = 940147$$, 'atk_mgr_a'),
          'movements 940160,940161,940163; balances 940160,940161,940163; alerts 940163; counts 940163; thresholds 940163; '
          'suggestions 940163; v_stock 940160,940161,940163; v_stock_age 940160,940161,940163; '
          'v_stock_turnover 940160,940161,940163; v_slow_movers 940160,940161,940163; v_stock_alerts 940163; '
          'v_replenishment 940163; v_stock_by_region 940102:940131:1035,940103:940131:23,940103:940132:12; '
          'stock_levels 940160:940131:995,940161:940131:40,940163:940131:23,940163:940132:12',
          'a contract in force that shares the stock shows the distributor''s stock to the managers [atk_mgr_a]');
SELECT is(attack.inventory_stock_seen_after(
              format($$INSERT INTO rebate.partner_contract (id, tenant_id, partner_id, code, term, shares_stock)
                       VALUES (940147, 9401, 940111, 'ZQXA-K7', daterange(CURRENT_DATE - 10, CURRENT_DATE + 300), %L);
                       UPDATE rebate.partner_contract SET status = 'pending_approval' WHERE id = 940147;
                       UPDATE rebate.partner_contract SET status = 'approved' WHERE id = 940147;
                       %s$$, shares, activate), 'atk_mgr_a'),
          'movements 940160,940163; balances 940160,940163; alerts 940163; counts 940163; thresholds 940163; suggestions 940163; '
          'v_stock 940160,940163; v_stock_age 940160,940163; v_stock_turnover 940160,940163; v_slow_movers 940160,940163; '
          'v_stock_alerts 940163; v_replenishment 940163; '
          'v_stock_by_region 940102:940131:995,940103:940131:23,940103:940132:12; '
          'stock_levels 940160:940131:995,940163:940131:23,940163:940132:12',
          format('but not one %s [atk_mgr_a]', what))
  FROM (VALUES (true, 'SELECT 1', 'that is approved, not in force'),
               (false, $$UPDATE rebate.partner_contract SET status = 'active' WHERE id = 940147$$, 'in force that does not say so'))
       x (shares, activate, what);
