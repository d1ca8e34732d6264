-- Inventory rows of both fixture tenants (test/attack/fixture.sql first;
-- included by inventory_calls.sql, _triggers.sql and _reads.sql), alike,
-- written as the superuser with ids b + 6x..9x:
--   warehouses: b+60 the brand's central one, b+61 D's, b+62 and b+65 S1's,
--   b+63 S2's (text ZQXS), b+64 and b+66 O's (text ZQXO); thresholds b+62,
--   b+63, b+64 of product b+31 in S1's, S2's and O's warehouse;
--   sharing: S2 consents (b+63); D, S1 and O share nothing (no contract of the
--   fixture says shares_stock either), so the managers see the brand's and
--   S2's stock, D its own and S2's, S1 its own only;
--   a ledger (ids b+60..b+79, references marked like the warehouse's owner)
--   whose balances the trigger keeps: on hand of b+31: brand 995, D 40, S1 35,
--   S2 23, O 14.5; of b+32: S1 7, S2 12; goods in transit to S1 (shipment b+60,
--   transfer b+64) left their senders already;
--   open alerts b+62 (S1), b+63 (S2), b+64 (O); counts b+62, b+63, b+64;
--   open replenishment suggestions b+62 (S1), b+63 (S2), b+64 (O);
--   shipments: b+60 of S1's order b+54 in transit (brand -> S1), b+61 of S2's
--   order b+52 planned and b+63 in transit (brand -> S2), b+62 of O's order b+53
--   planned; carriers and waybills plain (an attack names them), codes and
--   notes marked; a tracking event b+60 of b+63;
--   transfers: b+60 S1 -> S2 approved, b+61 S2 -> S1 approved (more than S2
--   holds: shipping it would tell its stock), b+64 S2 -> S1 shipped (both
--   parties' text unmarked), b+62 S2 -> O approved (ZQXS), b+63 O -> O shipped
--   (ZQXO); an approval flow b+80 of stock_transfer requests (one manager step).
-- In tenant B every text carries ZQXB.
CREATE FUNCTION attack.make_inventory(t bigint, m text, sibling text, outside text) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    b bigint := t * 100;
    d date := CURRENT_DATE;
BEGIN
    INSERT INTO rebate.warehouse (id, tenant_id, code, name, kind, partner_id, region_id, address) VALUES
        (b + 60, t, m || '-WC', m || '中央仓', 'central', NULL, b + 2, m || '仓库地址'),
        (b + 61, t, m || '-WD', m || '总代仓', 'partner', b + 11, b + 2, NULL),
        (b + 62, t, m || '-W1', m || '一店仓', 'partner', b + 12, b + 3, NULL),
        (b + 63, t, sibling || '-W2', sibling || '二店仓', 'partner', b + 13, b + 3, sibling || '地址'),
        (b + 64, t, outside || '-WO', outside || '外店仓', 'partner', b + 14, b + 4, outside || '地址'),
        (b + 65, t, m || '-W1B', m || '一店二仓', 'partner', b + 12, b + 3, NULL),
        (b + 66, t, outside || '-WOB', outside || '外店二仓', 'partner', b + 14, b + 4, NULL);
    INSERT INTO rebate.stock_sharing (id, tenant_id, partner_id, granted_by, note) VALUES
        (b + 63, t, b + 13, 'atk_spare', sibling || '同意共享');
    INSERT INTO rebate.stock_threshold (id, tenant_id, warehouse_id, partner_id, product_id, minimum, reorder_point, maximum) VALUES
        (b + 62, t, b + 62, b + 12, b + 31, 50, 60, 300),
        (b + 63, t, b + 63, b + 13, b + 31, 50, 60, 300),
        (b + 64, t, b + 64, b + 14, b + 31, 50, 60, 300);
    INSERT INTO rebate.stock_movement (id, tenant_id, warehouse_id, partner_id, product_id, moved_on, kind, quantity,
                                       source, source_id, reference) VALUES
        (b + 60, t, b + 60, NULL, b + 31, d - 120, 'receipt', 1000, 'entry', NULL, m || '-R60'),
        (b + 61, t, b + 61, b + 11, b + 31, d - 100, 'receipt', 50, 'entry', NULL, m || '-R61'),
        (b + 62, t, b + 61, b + 11, b + 31, d - 10, 'sell_out', -10, 'report', NULL, m || '-S61'),
        (b + 63, t, b + 62, b + 12, b + 31, d - 100, 'receipt', 40, 'entry', NULL, m || '-R62'),
        (b + 64, t, b + 62, b + 12, b + 31, d - 30, 'sell_out', -5, 'report', NULL, m || '-S62'),
        (b + 65, t, b + 62, b + 12, b + 32, d - 60, 'receipt', 7, 'entry', NULL, m || '-R62B'),
        (b + 66, t, b + 63, b + 13, b + 31, d - 100, 'receipt', 30, 'entry', NULL, sibling || '-R63'),
        (b + 67, t, b + 63, b + 13, b + 31, d - 20, 'sell_out', -3, 'report', NULL, sibling || '-S63'),
        (b + 68, t, b + 63, b + 13, b + 32, d - 50, 'receipt', 12, 'entry', NULL, sibling || '-R63B'),
        (b + 69, t, b + 64, b + 14, b + 31, d - 100, 'receipt', 20, 'entry', NULL, outside || '-R64'),
        (b + 70, t, b + 64, b + 14, b + 31, d - 15, 'sell_out', -2, 'report', NULL, outside || '-S64'),
        -- shipment b+60 left the brand's warehouse (3 of S1's order b+54)
        (b + 71, t, b + 60, NULL, b + 31, d - 2, 'shipment', -3, 'shipment', b + 60, m || '-SH60'),
        -- shipment b+63 left it too (2 of S2's order b+52)
        (b + 72, t, b + 60, NULL, b + 31, d - 2, 'shipment', -2, 'shipment', b + 63, m || '-SH63'),
        -- transfer b+64 left S2's warehouse, transfer b+63 O's
        (b + 73, t, b + 63, b + 13, b + 31, d - 1, 'transfer_out', -4, 'transfer', b + 64, m || '-TR64'),
        (b + 74, t, b + 64, b + 14, b + 31, d - 1, 'transfer_out', -4, 'transfer', b + 63, outside || '-TR63'),
        -- the counts' differences
        (b + 75, t, b + 62, b + 12, b + 31, d - 5, 'count_adjustment', 0.5, 'count', b + 62, NULL),
        (b + 76, t, b + 63, b + 13, b + 31, d - 5, 'count_adjustment', 0.5, 'count', b + 63, NULL),
        (b + 77, t, b + 64, b + 14, b + 31, d - 5, 'count_adjustment', 0.5, 'count', b + 64, NULL),
        (b + 78, t, b + 62, b + 12, b + 31, d - 4, 'adjustment', -0.5, 'entry', NULL, m || '-A62'),
        (b + 79, t, b + 63, b + 13, b + 31, d - 4, 'adjustment', -0.5, 'entry', NULL, sibling || '-A63');
    INSERT INTO rebate.stock_count (id, tenant_id, warehouse_id, partner_id, product_id, counted_on, counted, book, counted_by, note) VALUES
        (b + 62, t, b + 62, b + 12, b + 31, d - 5, 35.5, 35, 'atk_s1', m || '盘点'),
        (b + 63, t, b + 63, b + 13, b + 31, d - 5, 27.5, 27, 'atk_spare', sibling || '盘点'),
        (b + 64, t, b + 64, b + 14, b + 31, d - 5, 18.5, 18, 'atk_spare', outside || '盘点');
    INSERT INTO rebate.stock_alert (id, tenant_id, warehouse_id, partner_id, product_id, kind, quantity, threshold) VALUES
        (b + 62, t, b + 62, b + 12, b + 31, 'below_minimum', 35, 50),
        (b + 63, t, b + 63, b + 13, b + 31, 'below_minimum', 27, 50),
        (b + 64, t, b + 64, b + 14, b + 31, 'below_minimum', 18, 50);
    INSERT INTO rebate.replenishment_suggestion (id, tenant_id, warehouse_id, partner_id, product_id, as_of, on_hand,
                                                 in_transit, cover_days, forecast_demand, safety_stock, reorder_point,
                                                 maximum, quantity, method, history_months) VALUES
        (b + 62, t, b + 62, b + 12, b + 31, d, 35, 7, 37, 6, 50, 60, 300, 14, 'moving_average', 1),
        (b + 63, t, b + 63, b + 13, b + 31, d, 27, 2, 37, 4, 50, 60, 300, 25, 'moving_average', 1),
        (b + 64, t, b + 64, b + 14, b + 31, d, 18, 0, 37, 3, 50, 60, 300, 35, 'moving_average', 1);
    INSERT INTO rebate.shipment (id, tenant_id, code, order_id, partner_id, from_warehouse_id, to_warehouse_id, carrier,
                                 waybill_no, planned_ship_on, planned_delivery_on, note) VALUES
        (b + 60, t, m || '-SH60', b + 54, b + 12, b + 60, b + 62, 'SF', t || '0060', d - 2, d + 3, m || '发货'),
        (b + 61, t, sibling || '-SH61', b + 52, b + 13, b + 60, b + 63, 'SF', t || '0061', d, d + 3, sibling || '发货'),
        (b + 62, t, outside || '-SH62', b + 53, b + 14, b + 60, b + 64, 'SF', t || '0062', d, d + 3, outside || '发货'),
        (b + 63, t, sibling || '-SH63', b + 52, b + 13, b + 60, b + 63, 'SF', t || '0063', d - 2, d + 3, sibling || '发货');
    INSERT INTO rebate.shipment_line (id, tenant_id, shipment_id, partner_id, order_line_id, quantity) VALUES
        (b + 60, t, b + 60, b + 12, b + 54, 3), (b + 61, t, b + 61, b + 13, b + 52, 3),
        (b + 62, t, b + 62, b + 14, b + 53, 7), (b + 63, t, b + 63, b + 13, b + 52, 2);
    UPDATE rebate.shipment SET status = 'in_transit', shipped_on = d - 2 WHERE id IN (b + 60, b + 63);
    INSERT INTO rebate.shipment_event (id, tenant_id, shipment_id, partner_id, event_at, status, location, description, recorded_by)
    VALUES (b + 60, t, b + 63, b + 13, now() - interval '1 day', 'in_transit', sibling || '上海', sibling || '运输中', 'atk_spare');
    INSERT INTO rebate.stock_transfer (id, tenant_id, code, from_partner_id, from_warehouse_id, to_partner_id, to_warehouse_id,
                                       reason, requested_by) VALUES
        (b + 60, t, m || '-TR60', b + 12, b + 62, b + 13, b + 63, m || '调拨', 'atk_s1'),
        (b + 61, t, m || '-TR61', b + 13, b + 63, b + 12, b + 62, m || '调拨', 'atk_spare'),
        (b + 62, t, sibling || '-TR62', b + 13, b + 63, b + 14, b + 64, sibling || '调拨', 'atk_spare'),
        (b + 63, t, outside || '-TR63', b + 14, b + 64, b + 14, b + 66, outside || '调拨', 'atk_spare'),
        (b + 64, t, m || '-TR64', b + 13, b + 63, b + 12, b + 62, m || '调拨', 'atk_spare');
    INSERT INTO rebate.stock_transfer_line (id, tenant_id, transfer_id, product_id, quantity) VALUES
        (b + 60, t, b + 60, b + 31, 1), (b + 61, t, b + 61, b + 31, 99), (b + 62, t, b + 62, b + 31, 1),
        (b + 63, t, b + 63, b + 31, 4), (b + 64, t, b + 64, b + 31, 4);
    UPDATE rebate.stock_transfer SET status = 'approved' WHERE id BETWEEN b + 60 AND b + 64;
    UPDATE rebate.stock_transfer SET status = 'shipped', shipped_on = d - 1 WHERE id IN (b + 63, b + 64);
    -- transfers are requested for approval by the managers
    INSERT INTO rebate.approval_flow (id, tenant_id, request_type, name) VALUES (b + 80, t, 'stock_transfer', m || '调拨审批');
    INSERT INTO rebate.approval_step (tenant_id, flow_id, step_no, name, approver_kind) VALUES (t, b + 80, 1, m || '经理', 'manager');
END
$$;
SELECT attack.make_inventory(9401, 'ZQXA', 'ZQXS', 'ZQXO');
SELECT attack.make_inventory(9402, 'ZQXB', 'ZQXB', 'ZQXB');
