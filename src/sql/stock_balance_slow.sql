-- The slow path of the stock ledger's balance trigger: what the C trigger
-- rebate.maintain_stock_balance (src/stock_balance.c) hands on after it has
-- upserted a statement's items into rebate.stock_balance, when an item went
-- below zero on a withdrawal, crossed zero, or has thresholds in its
-- warehouse.  It gets every item of the statement (tenant, warehouse,
-- product and the quantity the statement added), in key order, and reads
-- the new balances back: the negative-stock refusal (RB100) for the first
-- item in key order taken below zero where the tenant refuses it, then the
-- alerts of every item.  Called by the trigger only, as the extension's
-- owner (the trigger is SECURITY DEFINER); nobody else may call it.
CREATE FUNCTION @extschema@.stock_written(tenant_ids bigint[], warehouse_ids bigint[], product_ids bigint[],
                                          deltas numeric[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    short record;
BEGIN
    SELECT b.warehouse_id, b.product_id, b.quantity - d.quantity AS before, b.quantity AS after INTO short
      FROM unnest(tenant_ids, warehouse_ids, product_ids, deltas) AS d (tenant_id, warehouse_id, product_id, quantity)
      JOIN @extschema@.stock_balance b USING (tenant_id, warehouse_id, product_id)
     WHERE b.quantity < 0 AND d.quantity < 0
       AND (@extschema@.inventory_settings(d.tenant_id)).negative_stock = 'reject'
     ORDER BY d.tenant_id, d.warehouse_id, d.product_id
     LIMIT 1;
    IF FOUND THEN
        -- the writer's own warehouse (or one shared with it, or a document's it acts on): nothing another partner hides
        RAISE EXCEPTION 'stock of product % in warehouse % would fall to %', short.product_id, short.warehouse_id,
                        pg_catalog.trim_scale(short.after)
              USING ERRCODE = 'RB100',
                    DETAIL = pg_catalog.format('%s on hand before this statement.', pg_catalog.trim_scale(short.before)),
                    HINT = 'Record the receipt first, move less, or let the tenant allow negative stock (rebate.inventory_setting).';
    END IF;

    -- the alerts: each level an item has, held before and after this statement; one open alert per
    -- item and kind, raised when a level is crossed into, cleared when it is left
    WITH changed AS (
        SELECT d.tenant_id, d.warehouse_id, d.product_id, b.partner_id, b.quantity - d.quantity AS before,
               b.quantity AS after
          FROM unnest(tenant_ids, warehouse_ids, product_ids, deltas) AS d (tenant_id, warehouse_id, product_id, quantity)
          JOIN @extschema@.stock_balance b USING (tenant_id, warehouse_id, product_id)
    ), thresholds AS (
        -- each item's threshold: its product's own, else the nearest category's
        SELECT DISTINCT ON (c.tenant_id, c.warehouse_id, c.product_id)
               c.tenant_id, c.warehouse_id, c.product_id, t.minimum, t.reorder_point, t.maximum
          FROM changed c
          JOIN @extschema@.stock_threshold t ON t.tenant_id = c.tenant_id AND t.warehouse_id = c.warehouse_id
          JOIN @extschema@.product p ON p.tenant_id = c.tenant_id AND p.id = c.product_id
          LEFT JOIN @extschema@.product_category pc ON pc.tenant_id = p.tenant_id AND pc.id = p.category_id
         WHERE t.product_id = c.product_id OR t.category_id = ANY (pc.path)
         ORDER BY c.tenant_id, c.warehouse_id, c.product_id, t.product_id IS NULL,
                  pg_catalog.array_position(pc.path, t.category_id) DESC NULLS LAST
    ), judged AS (
        SELECT c.*, k.kind, k.threshold, k.held, k.holds
          FROM changed c
          LEFT JOIN thresholds th USING (tenant_id, warehouse_id, product_id)
         CROSS JOIN LATERAL (VALUES
                ('out_of_stock', NULL::numeric, c.before <= 0, c.after <= 0),
                ('below_minimum', th.minimum, th.minimum > 0 AND c.before < th.minimum,
                                              th.minimum > 0 AND c.after < th.minimum),
                ('reorder', th.reorder_point, c.before <= th.reorder_point, c.after <= th.reorder_point),
                ('above_maximum', th.maximum, c.before > th.maximum, c.after > th.maximum)) AS k (kind, threshold, held, holds)
         WHERE coalesce(k.held, false) <> coalesce(k.holds, false)
    ), cleared AS (
        UPDATE @extschema@.stock_alert a
           SET status = 'cleared', cleared_at = pg_catalog.now()
          FROM judged j
         WHERE a.tenant_id = j.tenant_id AND a.warehouse_id = j.warehouse_id AND a.product_id = j.product_id
           AND a.kind = j.kind AND a.status = 'open' AND NOT coalesce(j.holds, false)
        RETURNING a.id
    ), raised AS (
        INSERT INTO @extschema@.stock_alert (tenant_id, warehouse_id, partner_id, product_id, kind, quantity, threshold)
        SELECT j.tenant_id, j.warehouse_id, j.partner_id, j.product_id, j.kind, j.after, j.threshold
          FROM judged j
         WHERE coalesce(j.holds, false)
        ON CONFLICT (tenant_id, warehouse_id, product_id, kind) WHERE status = 'open' DO NOTHING
        RETURNING *
    )
    INSERT INTO @extschema@.notification (tenant_id, partner_id, event, subject_type, subject_id, title, detail)
    SELECT r.tenant_id, r.partner_id, 'stock_alert', 'stock_alert', r.id,
           pg_catalog.format('stock alert %s: product %s in warehouse %s at %s', r.kind, r.product_id,
                             r.warehouse_id, pg_catalog.trim_scale(r.quantity)),
           pg_catalog.jsonb_build_object('kind', r.kind, 'warehouse_id', r.warehouse_id, 'product_id', r.product_id,
                                         'quantity', r.quantity, 'threshold', r.threshold)
      FROM raised r;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.stock_written(bigint[], bigint[], bigint[], numeric[]) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.stock_written(bigint[], bigint[], bigint[], numeric[]) IS
    'The slow path of rebate.maintain_stock_balance (its caller alone): refuses negative stock (RB100) where the tenant does and judges the stock alerts of a statement''s items, given with the quantities it added';
