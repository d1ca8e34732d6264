\echo Use "ALTER EXTENSION rebate UPDATE TO '0.8.0'" to load this file. \quit

-- rebate 0.7.0 -> 0.8.0

-- ---- issue 16: rollups kept by the C triggers (src/rollups.c), read by progress and closes
-- Returns and credit notes are looked up by the order they refer to: a change of
-- the order moves what they count.
CREATE INDEX sales_order_original ON @extschema@.sales_order (tenant_id, original_order_id)
    WHERE original_order_id IS NOT NULL;

-- The day each order with allocations was paid in full, kept by the rollup
-- triggers: the payment date basis of the rollups.
CREATE TABLE @extschema@.order_paid (
    tenant_id   bigint NOT NULL,
    order_id    bigint NOT NULL,
    partner_id  bigint NOT NULL,
    paid_on     date,
    PRIMARY KEY (tenant_id, order_id),
    FOREIGN KEY (tenant_id, order_id, partner_id) REFERENCES @extschema@.sales_order (tenant_id, id, partner_id)
        ON DELETE CASCADE
);
COMMENT ON TABLE @extschema@.order_paid IS
    'The day each order that has (or had) payments allocated to it was paid in full (rebate.order_paid_on), kept by the rollup triggers; paid_on NULL while the allocations do not cover it';

CREATE TABLE @extschema@.sales_rollup (
    tenant_id       bigint NOT NULL,
    partner_id      bigint NOT NULL,
    of_sub_partners boolean NOT NULL,
    date_basis      text NOT NULL CHECK (date_basis IN ('order', 'delivery', 'payment', 'document')),
    unit            text NOT NULL CHECK (unit IN ('day', 'month', 'quarter', 'year')),
    period_start    date NOT NULL,
    currency        text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('order', 'return', 'credit_note', 'payment')),
    product_id      bigint NOT NULL,
    region_id       bigint NOT NULL,
    writer_slot     integer NOT NULL,
    quantity        numeric NOT NULL,
    amount          numeric NOT NULL,
    cost            numeric NOT NULL,
    lines           bigint NOT NULL,
    costed_amount   numeric NOT NULL DEFAULT 0,
    costed_lines    bigint NOT NULL DEFAULT 0,
    orders          bigint NOT NULL DEFAULT 0,
    promised_deliveries bigint NOT NULL DEFAULT 0,
    on_time_deliveries  bigint NOT NULL DEFAULT 0,
    -- a partner's rows of a basis and currency by day, month, quarter or year: what one partner's progress reads
    PRIMARY KEY (tenant_id, partner_id, of_sub_partners, date_basis, currency, unit, period_start, kind,
                 product_id, region_id, writer_slot)
);
-- a tenant's whole period (a close, a report) is read by day, month, quarter or year
CREATE INDEX sales_rollup_period ON @extschema@.sales_rollup (tenant_id, date_basis, unit, period_start);
COMMENT ON TABLE @extschema@.sales_rollup IS
    'Rollups (kept by triggers in the writing transaction): per partner, date basis, day, month, quarter and year, currency, document kind, product and ship-to region, the signed quantity, amount and cost of the lines of documents that count, and payments received; per parent partner the same over its direct sub-partners. A key''s value is the sum over its writer slots';
COMMENT ON COLUMN @extschema@.sales_rollup.partner_id IS
    'The partner whose documents are summed, or (of_sub_partners) whose direct sub-partners'' documents are';
COMMENT ON COLUMN @extschema@.sales_rollup.of_sub_partners IS
    'false: the partner''s own documents; true: its direct sub-partners'' summed (product_id and region_id 0)';
COMMENT ON COLUMN @extschema@.sales_rollup.date_basis IS
    'The day a line is counted on: order (the order date), delivery (delivered_on), payment (the day the order was paid in full); a return or credit note that refers to an order counts on that order''s day (and only while that order counts), one that does not on its own date; payments by the day received (date_basis payment). document: returns and credit notes on their own date whatever their original, as channel KPIs count them (rebate.channel_fact; orders are on their own date under order), own rows only';
COMMENT ON COLUMN @extschema@.sales_rollup.unit IS 'day: the row sums one day; month, quarter, year: the whole month, quarter or year starting at period_start';
COMMENT ON COLUMN @extschema@.sales_rollup.period_start IS 'The day, or the first day of the month, quarter or year';
COMMENT ON COLUMN @extschema@.sales_rollup.kind IS 'order, return or credit_note (lines), or payment';
COMMENT ON COLUMN @extschema@.sales_rollup.product_id IS 'The product of the lines; 0 for payments, sub-partner rows and the per-order counts (orders)';
COMMENT ON COLUMN @extschema@.sales_rollup.region_id IS 'The ship-to region of the lines; 0 for payments and sub-partner rows';
COMMENT ON COLUMN @extschema@.sales_rollup.writer_slot IS
    'The backend that added to the row (0: folded by rebate.compact_rollups or written by rebate.rebuild_rollups): concurrent writers never share a row';
COMMENT ON COLUMN @extschema@.sales_rollup.quantity IS 'Quantity: negative for returns, 0 for credit notes and payments';
COMMENT ON COLUMN @extschema@.sales_rollup.amount IS 'Line amount (negative for returns and credit notes), or payment amount';
COMMENT ON COLUMN @extschema@.sales_rollup.cost IS 'Cost of the goods (quantity x unit cost at the time, signed like quantity; a line without a cost adds 0)';
COMMENT ON COLUMN @extschema@.sales_rollup.lines IS 'Order, return and credit-note lines, or payments, summed into the row';
COMMENT ON COLUMN @extschema@.sales_rollup.costed_amount IS
    'Amount of the lines with a cost, and of credit notes: the base of gross margin (gross margin = costed_amount - cost)';
COMMENT ON COLUMN @extschema@.sales_rollup.costed_lines IS 'Lines with a cost, and credit-note lines: without any, no margin';
COMMENT ON COLUMN @extschema@.sales_rollup.orders IS
    'Distinct counted orders (kind order) with lines in the row: per product in product rows, per order in the rows of product 0 (date basis order, own rows only; the other measures of product 0 rows are 0)';
COMMENT ON COLUMN @extschema@.sales_rollup.promised_deliveries IS 'Of those orders, the ones with a promised date that were delivered';
COMMENT ON COLUMN @extschema@.sales_rollup.on_time_deliveries IS 'Of those, the ones delivered on or before the promised date';

-- The rows a fact dated on a day counts in: that day's, and its month's,
-- quarter's and year's, so that a period reads one row per key for each
-- whole year, quarter and month in it (rebate.rollup_spans) and a report of
-- a quarter reads that quarter's rows.  Pure and inlined into the cell
-- functions below (no SET clause; every name qualified); nothing for NULL.
CREATE FUNCTION @extschema@.rollup_units(day date) RETURNS TABLE (unit text, period_start date)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT u.unit, pg_catalog.date_trunc(u.unit, rollup_units.day::pg_catalog.timestamp)::pg_catalog.date
      FROM (VALUES ('day'), ('month'), ('quarter'), ('year')) AS u (unit)
     WHERE rollup_units.day IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.rollup_units(date) IS
    'Internal, inlined into the rollup cell functions: the day, month, quarter and year rows a fact of the day counts in';

-- What one order line adds to the rollups, given its document, the order it
-- refers to (a return's or credit note's original: NULLs for none), the day
-- that sale was paid in full and the partner's parent: for each date basis
-- with a day, a day, month, quarter and year row of the partner (by product and ship-to
-- region) and, under a parent, of the parent's sub-partners.  Nothing for a
-- document (or original) that does not count.  Signed like
-- rebate.program_lines; sign -1 takes the contribution out.  Pure and
-- inlined into the triggers' queries (no SET clause; every name qualified).
CREATE FUNCTION @extschema@.line_rollup_cells(
    partner_id bigint, parent_id bigint, status text, kind text, order_date date, delivered_on date,
    currency text, region_id bigint, original_id bigint, original_status text, original_order_date date,
    original_delivered_on date, paid_on date, product_id bigint, quantity numeric, amount numeric,
    unit_cost numeric, sign integer)
    RETURNS TABLE (partner_id bigint, of_sub_partners boolean, date_basis text, unit text, period_start date,
                   currency text, kind text, product_id bigint, region_id bigint, quantity numeric, amount numeric,
                   cost numeric, lines integer, costed_amount numeric, costed_lines integer, orders integer,
                   promised_deliveries integer, on_time_deliveries integer)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT w.partner_id, w.of_sub_partners, b.date_basis, u.unit, u.period_start, line_rollup_cells.currency,
           line_rollup_cells.kind, w.product_id, w.region_id,
           line_rollup_cells.sign * d.goods * line_rollup_cells.quantity,
           line_rollup_cells.sign * d.signed_amount,
           line_rollup_cells.sign * d.goods * line_rollup_cells.quantity * coalesce(line_rollup_cells.unit_cost, 0),
           line_rollup_cells.sign,
           CASE WHEN d.costed THEN line_rollup_cells.sign * d.signed_amount ELSE 0 END,
           CASE WHEN d.costed THEN line_rollup_cells.sign ELSE 0 END,
           0, 0, 0
      FROM (SELECT CASE line_rollup_cells.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END AS goods,
                   CASE WHEN line_rollup_cells.kind OPERATOR(pg_catalog.=) 'order'
                        THEN line_rollup_cells.amount ELSE -line_rollup_cells.amount END AS signed_amount,
                   -- gross margin counts lines with a cost, and credit notes (a price reduction: all margin)
                   line_rollup_cells.unit_cost IS NOT NULL OR line_rollup_cells.kind OPERATOR(pg_catalog.=) 'credit_note'
                       AS costed,
                   -- a return or credit note without an original counts on its own date
                   line_rollup_cells.kind OPERATOR(pg_catalog.<>) 'order' AND line_rollup_cells.original_id IS NULL
                       AS own_date) d
     CROSS JOIN LATERAL (VALUES
            ('order', CASE WHEN d.own_date THEN line_rollup_cells.order_date
                           ELSE coalesce(line_rollup_cells.original_order_date, line_rollup_cells.order_date) END),
            ('delivery', CASE WHEN d.own_date THEN line_rollup_cells.order_date
                              WHEN line_rollup_cells.original_id IS NOT NULL THEN line_rollup_cells.original_delivered_on
                              ELSE line_rollup_cells.delivered_on END),
            ('payment', CASE WHEN d.own_date THEN line_rollup_cells.order_date ELSE line_rollup_cells.paid_on END),
            -- channel KPIs: returns and credit notes on their own date (orders are there under 'order')
            ('document', CASE WHEN line_rollup_cells.kind OPERATOR(pg_catalog.<>) 'order' THEN line_rollup_cells.order_date END)
        ) AS b (date_basis, day)
     CROSS JOIN LATERAL @extschema@.rollup_units(b.day) AS u
     CROSS JOIN LATERAL (VALUES (line_rollup_cells.partner_id, false, line_rollup_cells.product_id, line_rollup_cells.region_id),
                                (line_rollup_cells.parent_id, true, 0::pg_catalog.int8, 0::pg_catalog.int8)
        ) AS w (partner_id, of_sub_partners, product_id, region_id)
     WHERE @extschema@.order_counts(line_rollup_cells.status)
       AND b.day IS NOT NULL AND w.partner_id IS NOT NULL
       AND CASE WHEN b.date_basis OPERATOR(pg_catalog.=) 'document' THEN NOT w.of_sub_partners
                ELSE line_rollup_cells.original_id IS NULL OR @extschema@.order_counts(line_rollup_cells.original_status) END
$$;
COMMENT ON FUNCTION @extschema@.line_rollup_cells(bigint, bigint, text, text, date, date, text, bigint, bigint, text,
                                                  date, date, date, bigint, numeric, numeric, numeric, integer) IS
    'Internal, inlined into the rollup triggers: the rollup rows one order line adds (sign 1) or takes out (sign -1)';

-- What one payment adds to the rollups: a day, month, quarter and year row of the partner
-- and, under a parent, of the parent's sub-partners.
CREATE FUNCTION @extschema@.payment_rollup_cells(partner_id bigint, parent_id bigint, received_on date, currency text,
                                                 amount numeric, sign integer)
    RETURNS TABLE (partner_id bigint, of_sub_partners boolean, date_basis text, unit text, period_start date,
                   currency text, kind text, product_id bigint, region_id bigint, quantity numeric, amount numeric,
                   cost numeric, lines integer, costed_amount numeric, costed_lines integer, orders integer,
                   promised_deliveries integer, on_time_deliveries integer)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT w.partner_id, w.of_sub_partners, 'payment', u.unit, u.period_start, payment_rollup_cells.currency,
           'payment', 0::pg_catalog.int8, 0::pg_catalog.int8, 0::pg_catalog.numeric,
           payment_rollup_cells.sign * payment_rollup_cells.amount, 0::pg_catalog.numeric, payment_rollup_cells.sign,
           0::pg_catalog.numeric, 0, 0, 0, 0
      FROM @extschema@.rollup_units(payment_rollup_cells.received_on) AS u
     CROSS JOIN LATERAL (VALUES (payment_rollup_cells.partner_id, false), (payment_rollup_cells.parent_id, true)
        ) AS w (partner_id, of_sub_partners)
     WHERE w.partner_id IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.payment_rollup_cells(bigint, bigint, date, text, numeric, integer) IS
    'Internal, inlined into the rollup triggers: the rollup rows one payment adds (sign 1) or takes out (sign -1)';

-- What one counted order contributes to the distinct counts, once for each
-- product it has lines of and once for product 0 (the order as a whole):
-- one order, and whether it was delivered by the day promised, in a day,
-- month, quarter and year row of the partner on the order date.  Counts are not additive over
-- lines: the triggers take the counts of an order's whole set of lines, as
-- it was and as it is, and add the difference.
CREATE FUNCTION @extschema@.order_rollup_cells(partner_id bigint, status text, kind text, order_date date,
                                               promised_on date, delivered_on date, currency text, region_id bigint,
                                               product_id bigint, sign integer)
    RETURNS TABLE (partner_id bigint, of_sub_partners boolean, date_basis text, unit text, period_start date,
                   currency text, kind text, product_id bigint, region_id bigint, quantity numeric, amount numeric,
                   cost numeric, lines integer, costed_amount numeric, costed_lines integer, orders integer,
                   promised_deliveries integer, on_time_deliveries integer)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT order_rollup_cells.partner_id, false, 'order', u.unit, u.period_start, order_rollup_cells.currency, 'order',
           order_rollup_cells.product_id, order_rollup_cells.region_id, 0::pg_catalog.numeric, 0::pg_catalog.numeric,
           0::pg_catalog.numeric, 0, 0::pg_catalog.numeric, 0, order_rollup_cells.sign,
           CASE WHEN order_rollup_cells.promised_on IS NOT NULL AND order_rollup_cells.delivered_on IS NOT NULL
                THEN order_rollup_cells.sign ELSE 0 END,
           CASE WHEN order_rollup_cells.delivered_on OPERATOR(pg_catalog.<=) order_rollup_cells.promised_on
                THEN order_rollup_cells.sign ELSE 0 END
      FROM @extschema@.rollup_units(order_rollup_cells.order_date) AS u
     WHERE order_rollup_cells.kind OPERATOR(pg_catalog.=) 'order' AND @extschema@.order_counts(order_rollup_cells.status)
$$;
COMMENT ON FUNCTION @extschema@.order_rollup_cells(bigint, text, text, date, date, date, text, bigint, bigint, integer) IS
    'Internal, inlined into the rollup triggers: the distinct-order counts one counted order adds (sign 1) or takes out (sign -1) for one of its products (0: the order as a whole)';

-- The triggers (src/rollups.c).  Statement-level with transition tables, so
-- that a statement of 10,000 lines adds to the rollups in one grouped write,
-- and a statement that changes an order and its return together moves each
-- contribution once, from where it was to where it is.  The argument names
-- the table's role: triggers never depend on their table's name.
CREATE FUNCTION @extschema@.maintain_rollups() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rebate_maintain_rollups' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.maintain_rollups() IS
    'Trigger (src/rollups.c): keeps rebate.sales_rollup and rebate.order_paid as documents, payments, allocations and partners change; the argument names the table (order_line, sales_order, payment, payment_allocation, partner)';

-- (the statements on lines in progress: an order changed inside one, held
-- by the policy trigger, moves only the lines added before it)
CREATE TRIGGER rollup_begin BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.order_line
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('order_line');
CREATE TRIGGER rollup_insert AFTER INSERT ON @extschema@.order_line REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('order_line');
CREATE TRIGGER rollup_update AFTER UPDATE ON @extschema@.order_line REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('order_line');
CREATE TRIGGER rollup_delete AFTER DELETE ON @extschema@.order_line REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('order_line');
CREATE TRIGGER rollup_update AFTER UPDATE ON @extschema@.sales_order REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('sales_order');
-- A deleted order's lines go with it (ON DELETE CASCADE), after the order: its
-- contribution is taken out before, while its lines and state are there.
-- ("zz": the last BEFORE trigger, so that no later one can skip the delete.)
CREATE TRIGGER zz_rollup_delete BEFORE DELETE ON @extschema@.sales_order
    FOR EACH ROW EXECUTE FUNCTION @extschema@.maintain_rollups('sales_order');
CREATE TRIGGER rollup_insert AFTER INSERT ON @extschema@.payment REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('payment');
CREATE TRIGGER rollup_update AFTER UPDATE ON @extschema@.payment REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('payment');
CREATE TRIGGER rollup_delete AFTER DELETE ON @extschema@.payment REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('payment');
CREATE TRIGGER rollup_insert AFTER INSERT ON @extschema@.payment_allocation REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('payment_allocation');
CREATE TRIGGER rollup_update AFTER UPDATE ON @extschema@.payment_allocation REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('payment_allocation');
CREATE TRIGGER rollup_delete AFTER DELETE ON @extschema@.payment_allocation REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('payment_allocation');
CREATE TRIGGER rollup_update AFTER UPDATE ON @extschema@.partner REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('partner');
-- TRUNCATE empties a table of every tenant: every tenant's rollups are recomputed
CREATE TRIGGER rollup_truncate AFTER TRUNCATE ON @extschema@.order_line
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('order_line');
CREATE TRIGGER rollup_truncate AFTER TRUNCATE ON @extschema@.sales_order
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('sales_order');
CREATE TRIGGER rollup_truncate AFTER TRUNCATE ON @extschema@.payment
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('payment');
CREATE TRIGGER rollup_truncate AFTER TRUNCATE ON @extschema@.payment_allocation
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_rollups('payment_allocation');

-- The recomputation itself (src/rollups.c): a tenant's rollups and paid days
-- from its documents, in slot 0.  Internal: rebate.rebuild_rollups judges
-- the caller and locks the documents first.
CREATE FUNCTION @extschema@.recompute_rollups(tenant_id bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'rebate_recompute_rollups' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION @extschema@.recompute_rollups(bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.recompute_rollups(bigint) IS
    'Internal (rebate.rebuild_rollups): replaces a tenant''s rollups and paid days with a recomputation from its documents';

-- Compaction and rebuilds of a tenant wait for one another: each holds the
-- tenant's row.  A row lock, not an advisory lock, which any role could take
-- with the same key and so hold up another tenant's maintenance; the
-- foreign keys' FOR KEY SHARE on the row does not wait for it.
CREATE FUNCTION @extschema@.lock_rollups(tenant_id bigint) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM FROM @extschema@.tenant t WHERE t.id = lock_rollups.tenant_id FOR NO KEY UPDATE;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.lock_rollups(bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.lock_rollups(bigint) IS 'Internal: serialises compaction and rebuilds of a tenant''s rollups';

-- The one check every rollup maintenance function makes: the acting role may
-- manage the tenant (NULL: all tenants, group administrators only).
CREATE FUNCTION @extschema@.check_manages_rollups(tenant_id bigint, action text) RETURNS void
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    allowed boolean := CASE WHEN tenant_id IS NULL THEN @extschema@.role_is_admin(@extschema@.acting_role())
                            ELSE @extschema@.may_manage(@extschema@.acting_role(), tenant_id) END;
BEGIN
    IF NOT allowed THEN
        RAISE EXCEPTION 'permission denied to % the rollups of %', action,
                        CASE WHEN tenant_id IS NULL THEN 'every tenant' ELSE pg_catalog.format('tenant %s', tenant_id) END
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A manager of the tenant (or a group administrator, for every tenant) may.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.check_manages_rollups(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.check_manages_rollups(bigint, text) IS
    'Internal: refuses a role that may not manage the tenant (every tenant: group administrators only)';

-- Repair: a tenant's rollups recomputed from its documents (every tenant's
-- for NULL).  Writers of documents wait while it runs (the document tables
-- are locked in SHARE mode), so nothing is added twice or lost.
CREATE FUNCTION @extschema@.rebuild_rollups(tenant_id bigint DEFAULT NULL)
    RETURNS TABLE (tenant bigint, rows_before bigint, rows_after bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t bigint;
BEGIN
    PERFORM @extschema@.check_manages_rollups(rebuild_rollups.tenant_id, 'rebuild');
    LOCK TABLE @extschema@.partner, @extschema@.sales_order, @extschema@.order_line, @extschema@.payment,
               @extschema@.payment_allocation IN SHARE MODE;
    FOR t IN SELECT x.id FROM @extschema@.tenant x
              WHERE rebuild_rollups.tenant_id IS NULL OR x.id = rebuild_rollups.tenant_id ORDER BY x.id LOOP
        PERFORM @extschema@.lock_rollups(t);
        tenant := t;
        rows_before := (SELECT count(*) FROM @extschema@.sales_rollup r WHERE r.tenant_id = t);
        PERFORM @extschema@.recompute_rollups(t);
        rows_after := (SELECT count(*) FROM @extschema@.sales_rollup r WHERE r.tenant_id = t);
        RETURN NEXT;
    END LOOP;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant % does not exist or is not visible to you', rebuild_rollups.tenant_id
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.rebuild_rollups(bigint) IS
    'Repair: recomputes a tenant''s rollups (every tenant''s for NULL) from its documents, in one slot; document writers wait while it runs. Returns the rows before and after';

-- Folds every writer slot of a tenant's rollups into slot 0 (every tenant's
-- for NULL), skipping rows a transaction still holds; drops rows that sum
-- to nothing.  Readers see the same sums before and after.
CREATE FUNCTION @extschema@.compact_rollups(tenant_id bigint DEFAULT NULL)
    RETURNS TABLE (tenant bigint, rows_before bigint, rows_after bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t bigint;
BEGIN
    PERFORM @extschema@.check_manages_rollups(compact_rollups.tenant_id, 'compact');
    FOR t IN SELECT x.id FROM @extschema@.tenant x
              WHERE compact_rollups.tenant_id IS NULL OR x.id = compact_rollups.tenant_id ORDER BY x.id LOOP
        PERFORM @extschema@.lock_rollups(t);
        tenant := t;
        rows_before := (SELECT count(*) FROM @extschema@.sales_rollup r WHERE r.tenant_id = t);
        WITH moved AS (
            DELETE FROM @extschema@.sales_rollup r
             WHERE r.ctid = ANY (ARRAY(SELECT x.ctid FROM @extschema@.sales_rollup x
                                        WHERE x.tenant_id = t AND x.writer_slot <> 0
                                          FOR UPDATE SKIP LOCKED))
            RETURNING r.*
        )
        INSERT INTO @extschema@.sales_rollup AS r
              (tenant_id, partner_id, of_sub_partners, date_basis, unit, period_start, currency, kind, product_id,
               region_id, writer_slot, quantity, amount, cost, lines, costed_amount, costed_lines, orders,
               promised_deliveries, on_time_deliveries)
        SELECT m.tenant_id, m.partner_id, m.of_sub_partners, m.date_basis, m.unit, m.period_start, m.currency, m.kind,
               m.product_id, m.region_id, 0, sum(m.quantity), sum(m.amount), sum(m.cost), sum(m.lines),
               sum(m.costed_amount), sum(m.costed_lines), sum(m.orders), sum(m.promised_deliveries),
               sum(m.on_time_deliveries)
          FROM moved m
         GROUP BY m.tenant_id, m.partner_id, m.of_sub_partners, m.date_basis, m.unit, m.period_start, m.currency,
                  m.kind, m.product_id, m.region_id
        ON CONFLICT (tenant_id, partner_id, of_sub_partners, date_basis, currency, unit, period_start, kind,
                     product_id, region_id, writer_slot)
        DO UPDATE SET quantity = r.quantity + excluded.quantity, amount = r.amount + excluded.amount,
                      cost = r.cost + excluded.cost, lines = r.lines + excluded.lines,
                      costed_amount = r.costed_amount + excluded.costed_amount,
                      costed_lines = r.costed_lines + excluded.costed_lines, orders = r.orders + excluded.orders,
                      promised_deliveries = r.promised_deliveries + excluded.promised_deliveries,
                      on_time_deliveries = r.on_time_deliveries + excluded.on_time_deliveries;
        DELETE FROM @extschema@.sales_rollup r
         WHERE r.tenant_id = t AND r.writer_slot = 0
           AND r.lines = 0 AND r.quantity = 0 AND r.amount = 0 AND r.cost = 0 AND r.costed_amount = 0
           AND r.costed_lines = 0 AND r.orders = 0 AND r.promised_deliveries = 0 AND r.on_time_deliveries = 0;
        rows_after := (SELECT count(*) FROM @extschema@.sales_rollup r WHERE r.tenant_id = t);
        RETURN NEXT;
    END LOOP;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant % does not exist or is not visible to you', compact_rollups.tenant_id
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.compact_rollups(bigint) IS
    'Folds the writer slots of a tenant''s rollups (every tenant''s for NULL) into one row per key, skipping rows a transaction still holds, and drops rows that sum to nothing; the sums read are the same before and after. Returns the rows before and after';

-- dumped with the documents: a restore (triggers off, as documented) brings them back as they were
SELECT pg_catalog.pg_extension_config_dump('@extschema@.order_paid', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sales_rollup', '');
SELECT @extschema@.apply_tenant_rls('@extschema@.order_paid', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.sales_rollup', 'tenant_id', 'partner_id');
-- read-only for everyone: only the triggers and the maintenance functions write them
GRANT SELECT ON @extschema@.order_paid TO rebate_admin, rebate_manager, rebate_partner;
GRANT SELECT ON @extschema@.sales_rollup TO rebate_admin, rebate_manager;
-- partner users do not see costs (as on order_line)
GRANT SELECT (tenant_id, partner_id, of_sub_partners, date_basis, unit, period_start, currency, kind, product_id,
              region_id, writer_slot, quantity, amount, lines, orders, promised_deliveries, on_time_deliveries)
   ON @extschema@.sales_rollup TO rebate_partner;
GRANT EXECUTE ON FUNCTION @extschema@.rebuild_rollups(bigint), @extschema@.compact_rollups(bigint)
   TO rebate_admin, rebate_manager;
REVOKE ALL ON FUNCTION @extschema@.rebuild_rollups(bigint), @extschema@.compact_rollups(bigint) FROM PUBLIC;

-- metric_basis in C: every program's basis dispatches on it, several times per progress call
-- How a metric's value is computed (the catalog's basis column): the branch
-- rebate.program_basis and rebate.verify_basis take for it.
CREATE OR REPLACE FUNCTION @extschema@.metric_basis(metric text) RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_metric_basis' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.metric_basis(text) IS
    'How a metric''s value is computed: line_amount, line_margin, line_quantity, payments, customers, kpis or inventory; NULL for a name not in the catalog';


-- the basis reads the rollups: the queries over order lines go
DROP FUNCTION @extschema@.program_line_costs(@extschema@.program_version, date, date, bigint[]);
DROP FUNCTION @extschema@.program_lines(@extschema@.program_version, date, date, bigint[]);
DROP FUNCTION @extschema@.program_scope_lines(@extschema@.program_version, date, date);

-- A run of rollup rows: the day, month, quarter or year rows starting in [from_day, to_day).
CREATE TYPE @extschema@.rollup_span AS (unit text, from_day date, to_day date);
COMMENT ON TYPE @extschema@.rollup_span IS
    'Internal (rebate.rollup_rows): the day, month, quarter or year rows starting in [from_day, to_day)';

-- The rollup rows that make [first_day, end_day), fewest first: the year rows
-- of the whole years inside, then the quarter rows of the whole quarters
-- beside them, the month rows of the whole months beside those, and the day
-- rows of the days left at either end.  A quarter is one row per key.
CREATE FUNCTION @extschema@.rollup_spans(first_day date, end_day date) RETURNS @extschema@.rollup_span[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    spans @extschema@.rollup_span[] := '{}';
    unit text;
    step interval;
    inner_from date;
    inner_to date;
    -- [covered_from, covered_to): what the larger units cover; empty (end_day, end_day) until one does
    covered_from date := end_day;
    covered_to date := end_day;
BEGIN
    FOREACH unit IN ARRAY ARRAY['year', 'quarter', 'month'] LOOP
        step := @extschema@.period_step(unit);
        -- the first whole unit from first_day, and the end of the last whole unit before end_day
        inner_from := date_trunc(unit, first_day::timestamp)::date;
        IF inner_from < first_day THEN
            inner_from := (inner_from + step)::date;
        END IF;
        inner_to := date_trunc(unit, end_day::timestamp)::date;
        IF covered_from >= covered_to THEN
            IF inner_from < inner_to THEN
                spans := spans || ROW(unit, inner_from, inner_to)::@extschema@.rollup_span;
                covered_from := inner_from;
                covered_to := inner_to;
            END IF;
        ELSE
            IF inner_from < covered_from THEN
                spans := spans || ROW(unit, inner_from, covered_from)::@extschema@.rollup_span;
                covered_from := inner_from;
            END IF;
            IF covered_to < inner_to THEN
                spans := spans || ROW(unit, covered_to, inner_to)::@extschema@.rollup_span;
                covered_to := inner_to;
            END IF;
        END IF;
    END LOOP;
    IF covered_from >= covered_to THEN
        RETURN spans || ROW('day', first_day, end_day)::@extschema@.rollup_span;
    END IF;
    RETURN spans || ROW('day', first_day, covered_from)::@extschema@.rollup_span
                 || ROW('day', covered_to, end_day)::@extschema@.rollup_span;
END
$$;
COMMENT ON FUNCTION @extschema@.rollup_spans(date, date) IS
    'The rollup rows that make the days [first_day, end_day): year rows of the whole years inside, quarter and month rows of the whole quarters and months beside them, day rows of the days left at either end';

-- The products and the ship-to regions in a version's scope; NULL where it
-- has none (every product, every region).
CREATE FUNCTION @extschema@.scope_products(v @extschema@.program_version) RETURNS bigint[]
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF v.product_ids = '{}' AND v.category_ids = '{}' THEN
        RETURN NULL;
    END IF;
    RETURN ARRAY(SELECT pr.id FROM @extschema@.product pr
                   JOIN @extschema@.product_category pc ON pc.id = pr.category_id
                  WHERE pr.tenant_id = v.tenant_id
                    AND (v.product_ids = '{}' OR pr.id = ANY (v.product_ids))
                    AND (v.category_ids = '{}' OR pc.path && v.category_ids));
END
$$;
COMMENT ON FUNCTION @extschema@.scope_products(@extschema@.program_version) IS
    'The products in a version''s product and category scope; NULL without one';

CREATE FUNCTION @extschema@.scope_regions(v @extschema@.program_version) RETURNS bigint[]
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF v.region_ids = '{}' THEN
        RETURN NULL;
    END IF;
    RETURN ARRAY(SELECT rg.id FROM @extschema@.region rg WHERE rg.tenant_id = v.tenant_id AND rg.path && v.region_ids);
END
$$;
COMMENT ON FUNCTION @extschema@.scope_regions(@extschema@.program_version) IS
    'The regions in a version''s region scope (the regions named and those below them); NULL without one';

-- The rollup rows a version counts over [from_day, to_day) of days less its
-- grace days, from rebate.sales_rollup: month rows for the whole months
-- inside, day rows for the days before and after them; in the version's
-- currency, date basis (payments: the day received), product, category and
-- ship-to region scope (not for payments, whose region is the partner's),
-- and of the given kinds (order, return, credit_note; or payment).  A key's
-- writer slots come as separate rows; the callers sum.  partners NULL means
-- all of the tenant's; of_sub_partners reads the rows that sum each
-- partner's direct sub-partners (all products and regions).  Costs are read
-- only with with_costs (the reader needs the privilege to read them).
CREATE FUNCTION @extschema@.rollup_rows(v @extschema@.program_version, from_day date, to_day date, partners bigint[],
                                        kinds text[], with_costs boolean DEFAULT false,
                                        of_sub_partners boolean DEFAULT false)
    RETURNS TABLE (partner_id bigint, product_id bigint, quantity numeric, amount numeric, cost numeric, lines bigint)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    -- each query plans well for any values: plan them once per session
    SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    spans       @extschema@.rollup_span[] := @extschema@.rollup_spans(from_day + v.grace_days, to_day + v.grace_days);
    basis       text := CASE WHEN kinds = ARRAY['payment'] THEN 'payment' ELSE v.date_basis END;
    -- the products and ship-to regions in scope (NULL: all), looked up once
    products    bigint[] := @extschema@.scope_products(v);
    regions     bigint[] := @extschema@.scope_regions(v);
BEGIN
    -- four queries (all partners or some; with or without costs), so that a plan made once reads a
    -- few partners by their key, and a reader who may not see costs never names the column; each
    -- reads each span (whole years, quarters, months, days) as one index range: a lateral subquery
    -- kept apart (OFFSET 0) takes the span's unit and days as parameters of its index scan, where a
    -- join on them may be planned as one scan of every row of the tenant's date basis
    IF partners IS NULL AND NOT with_costs THEN
        RETURN QUERY
            SELECT r.partner_id, r.product_id, r.quantity, r.amount, 0::numeric, r.lines
              FROM pg_catalog.unnest(spans) AS sp
             CROSS JOIN LATERAL (
                SELECT x.partner_id, x.product_id, x.quantity, x.amount, x.lines
                  FROM @extschema@.sales_rollup x
                 WHERE x.tenant_id = v.tenant_id AND x.date_basis = basis AND x.unit = sp.unit
                   AND x.period_start >= sp.from_day AND x.period_start < sp.to_day
                   AND x.of_sub_partners = rollup_rows.of_sub_partners AND x.currency = v.currency
                   AND x.kind = ANY (kinds)
                   AND (products IS NULL OR x.kind = 'payment' OR x.product_id = ANY (products))
                   AND (regions IS NULL OR x.kind = 'payment' OR x.region_id = ANY (regions))
                OFFSET 0) r;
    ELSIF partners IS NULL THEN
        RETURN QUERY
            SELECT r.partner_id, r.product_id, r.quantity, r.amount, r.cost, r.lines
              FROM pg_catalog.unnest(spans) AS sp
             CROSS JOIN LATERAL (
                SELECT x.partner_id, x.product_id, x.quantity, x.amount, x.cost, x.lines
                  FROM @extschema@.sales_rollup x
                 WHERE x.tenant_id = v.tenant_id AND x.date_basis = basis AND x.unit = sp.unit
                   AND x.period_start >= sp.from_day AND x.period_start < sp.to_day
                   AND x.of_sub_partners = rollup_rows.of_sub_partners AND x.currency = v.currency
                   AND x.kind = ANY (kinds)
                   AND (products IS NULL OR x.kind = 'payment' OR x.product_id = ANY (products))
                   AND (regions IS NULL OR x.kind = 'payment' OR x.region_id = ANY (regions))
                OFFSET 0) r;
    ELSIF NOT with_costs THEN
        RETURN QUERY
            SELECT r.partner_id, r.product_id, r.quantity, r.amount, 0::numeric, r.lines
              FROM pg_catalog.unnest(partners) AS asked (id)
             CROSS JOIN pg_catalog.unnest(spans) AS sp
             CROSS JOIN LATERAL (
                SELECT x.partner_id, x.product_id, x.quantity, x.amount, x.lines
                  FROM @extschema@.sales_rollup x
                 WHERE x.tenant_id = v.tenant_id AND x.partner_id = asked.id
                   AND x.of_sub_partners = rollup_rows.of_sub_partners AND x.date_basis = basis
                   AND x.currency = v.currency AND x.unit = sp.unit
                   AND x.period_start >= sp.from_day AND x.period_start < sp.to_day
                   AND x.kind = ANY (kinds)
                   AND (products IS NULL OR x.kind = 'payment' OR x.product_id = ANY (products))
                   AND (regions IS NULL OR x.kind = 'payment' OR x.region_id = ANY (regions))
                OFFSET 0) r;
    ELSE
        RETURN QUERY
            SELECT r.partner_id, r.product_id, r.quantity, r.amount, r.cost, r.lines
              FROM pg_catalog.unnest(partners) AS asked (id)
             CROSS JOIN pg_catalog.unnest(spans) AS sp
             CROSS JOIN LATERAL (
                SELECT x.partner_id, x.product_id, x.quantity, x.amount, x.cost, x.lines
                  FROM @extschema@.sales_rollup x
                 WHERE x.tenant_id = v.tenant_id AND x.partner_id = asked.id
                   AND x.of_sub_partners = rollup_rows.of_sub_partners AND x.date_basis = basis
                   AND x.currency = v.currency AND x.unit = sp.unit
                   AND x.period_start >= sp.from_day AND x.period_start < sp.to_day
                   AND x.kind = ANY (kinds)
                   AND (products IS NULL OR x.kind = 'payment' OR x.product_id = ANY (products))
                   AND (regions IS NULL OR x.kind = 'payment' OR x.region_id = ANY (regions))
                OFFSET 0) r;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.rollup_rows(@extschema@.program_version, date, date, bigint[], text[], boolean, boolean) IS
    'The rollup rows (rebate.sales_rollup) a program version counts over days [from_day, to_day) less its grace days: whole months from month rows, the rest from day rows; in its currency, date basis and product and region scope, of the given kinds; partners NULL means all; costs only with with_costs';

-- Whether a version's override can be read from the rows that sum each
-- parent's sub-partners: nothing in it chooses among the sub-partners'
-- lines or partners, and its basis is counted from lines or payments.
CREATE FUNCTION @extschema@.override_from_sub_partner_rows(v @extschema@.program_version) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN v.partner_ids = '{}' AND v.grade_ids = '{}' AND v.product_ids = '{}' AND v.category_ids = '{}'
       AND v.region_ids = '{}'
       AND @extschema@.metric_basis(v.metric) IN ('line_amount', 'line_margin', 'line_quantity', 'payments');
END
$$;
COMMENT ON FUNCTION @extschema@.override_from_sub_partner_rows(@extschema@.program_version) IS
    'Whether a version''s override reads the rollup rows that sum each parent''s sub-partners (no partner, grade, product, category or region scope; a line or payment metric)';

-- One rated basis as a result row: the cap applied, exact amounts without
-- trailing zeros, the formula in words.  Set-returning so that it is inlined
-- into program_results' queries (no SET clause; every name qualified).
CREATE FUNCTION @extschema@.rated_result(v @extschema@.program_version, period daterange, counted_until date,
                                         partner_id bigint, component text, basis numeric, comparison numeric,
                                         documents bigint, payout numeric, tier integer, rate numeric,
                                         earned numeric, next_tier_gap numeric, next_tier_rebate numeric,
                                         status text, explanation text)
    RETURNS SETOF @extschema@.program_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT v.program_id, v.id, v.version, rated_result.partner_id, rated_result.component, rated_result.period,
           rated_result.counted_until, v.metric, v.kind, pg_catalog.trim_scale(rated_result.basis),
           pg_catalog.trim_scale(rated_result.comparison), rated_result.tier, rated_result.rate,
           pg_catalog.trim_scale(rated_result.earned), coalesce(c.capped, false),
           pg_catalog.trim_scale(CASE WHEN c.capped THEN v.cap ELSE rated_result.earned END),
           pg_catalog.trim_scale(rated_result.next_tier_gap), pg_catalog.trim_scale(rated_result.next_tier_rebate),
           rated_result.documents, rated_result.status,
           rated_result.explanation OPERATOR(pg_catalog.||)
               CASE WHEN c.capped THEN pg_catalog.format('; capped at %s', v.cap) ELSE '' END,
           v.group_id, NULL::pg_catalog.text,
           pg_catalog.trim_scale(CASE WHEN c.capped THEN v.cap ELSE rated_result.earned END),
           rated_result.payout, NULL::pg_catalog.numeric, NULL::pg_catalog.numeric
      FROM (SELECT rated_result.earned OPERATOR(pg_catalog.>) v.cap AS capped) c
$$;
COMMENT ON FUNCTION @extschema@.rated_result(@extschema@.program_version, daterange, date, bigint, text, numeric, numeric,
                                             bigint, numeric, integer, numeric, numeric, numeric, numeric, text, text) IS
    'Internal, inlined into rebate.program_results: one rated basis as a result row, the cap applied';

-- The basis of every partner in scope over [from_day, to_day) of document
-- dates (less grace days).  partners NULL means all of the tenant's.
CREATE OR REPLACE FUNCTION @extschema@.program_basis(v @extschema@.program_version, from_day date, to_day date,
                                          partners bigint[] DEFAULT NULL)
    RETURNS TABLE (partner_id bigint, parent_id bigint, basis numeric, unit_earned numeric, documents bigint,
                   payout numeric)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    -- how the metric's basis is counted (rebate.metric): each branch below runs only for its kind
    counted_from text := @extschema@.metric_basis(v.metric);
    -- and the measure the program pays on, where it is another (NULL: none)
    paid_from    text := @extschema@.metric_basis(v.payout_metric);
    -- costs are read only where the metric or the payout measure needs them
    with_costs   boolean := v.metric = ANY (@extschema@.metric_names('needs_cost'))
                            OR coalesce(v.payout_metric = ANY (@extschema@.metric_names('needs_cost')), false);
    -- returns and credit notes count unless the version ignores them (不计退)
    line_kinds   text[] := CASE WHEN v.returns_reduce THEN ARRAY['order', 'return', 'credit_note'] ELSE ARRAY['order'] END;
    -- one partner counted from lines or payments, without costs: one lean query over its rollup rows
    one_partner  boolean := pg_catalog.cardinality(partners) = 1 AND NOT with_costs
                            AND counted_from IN ('line_amount', 'line_quantity', 'payments');
    spans        @extschema@.rollup_span[];
    kinds        text[];
    products     bigint[];
    regions      bigint[];
BEGIN
    IF one_partner THEN
        -- the general query below gives the same (bench/programs.sh --check compares the two)
        spans := @extschema@.rollup_spans(from_day + v.grace_days, to_day + v.grace_days);
        IF counted_from = 'payments' THEN
            kinds := ARRAY['payment'];
        ELSE
            kinds := line_kinds;
            products := @extschema@.scope_products(v);
            regions := @extschema@.scope_regions(v);
        END IF;
        RETURN QUERY
            SELECT pa.id, pa.parent_id, pg_catalog.trim_scale(coalesce(f.basis, 0)), pg_catalog.trim_scale(f.unit_earned),
                   coalesce(f.documents, 0)::bigint,
                   CASE WHEN paid_from IS NOT NULL THEN pg_catalog.trim_scale(coalesce(f.payout, 0)) END
              FROM @extschema@.partner pa
              LEFT JOIN @extschema@.region home ON home.id = pa.home_region_id
              LEFT JOIN LATERAL (
                SELECT sum(CASE counted_from WHEN 'line_quantity' THEN p.quantity ELSE p.amount END) AS basis,
                       sum(CASE WHEN v.unit_amount IS NOT NULL THEN trunc(p.quantity / v.unit_size) * v.unit_amount
                                WHEN v.unit_percent IS NOT NULL THEN p.amount * v.unit_percent / 100 END) AS unit_earned,
                       sum(p.lines) AS documents,
                       sum(CASE paid_from WHEN 'line_quantity' THEN p.quantity WHEN 'line_amount' THEN p.amount END) AS payout
                  FROM (SELECT r.product_id, sum(r.quantity) AS quantity, sum(r.amount) AS amount, sum(r.lines) AS lines
                          FROM pg_catalog.unnest(spans) AS sp
                          JOIN @extschema@.sales_rollup r
                            ON r.tenant_id = v.tenant_id AND r.partner_id = pa.id AND NOT r.of_sub_partners
                           AND r.date_basis = CASE WHEN counted_from = 'payments' THEN 'payment' ELSE v.date_basis END
                           AND r.currency = v.currency AND r.unit = sp.unit
                           AND r.period_start >= sp.from_day AND r.period_start < sp.to_day
                         WHERE r.kind = ANY (kinds)
                           AND (products IS NULL OR r.product_id = ANY (products))
                           AND (regions IS NULL OR r.region_id = ANY (regions))
                         GROUP BY r.product_id
                        HAVING sum(r.lines) <> 0) p
                 -- payments count in the partner's home region
                 WHERE counted_from <> 'payments' OR v.region_ids = '{}' OR home.path && v.region_ids
                HAVING count(*) > 0) f ON true
             WHERE pa.id = partners[1] AND pa.tenant_id = v.tenant_id
               AND (v.partner_ids = '{}' OR pa.id = ANY (v.partner_ids))
               AND (v.grade_ids = '{}' OR pa.grade_id = ANY (v.grade_ids))
               AND (f.basis IS NOT NULL OR pa.state = 'active');
        RETURN;
    END IF;
    RETURN QUERY
        WITH scope AS (
            -- all the tenant's partners, or those asked for: two branches, so that a plan made once
            -- for any values reads a few partners by their key
            SELECT pa.id, pa.parent_id, pa.state, pa.home_region_id
              FROM @extschema@.partner pa
             WHERE partners IS NULL AND pa.tenant_id = v.tenant_id
               AND (v.partner_ids = '{}' OR pa.id = ANY (v.partner_ids))
               AND (v.grade_ids = '{}' OR pa.grade_id = ANY (v.grade_ids))
            UNION ALL
            SELECT pa.id, pa.parent_id, pa.state, pa.home_region_id
              FROM pg_catalog.unnest(partners) AS asked (id)
              JOIN @extschema@.partner pa ON pa.id = asked.id
             WHERE pa.tenant_id = v.tenant_id
               AND (v.partner_ids = '{}' OR pa.id = ANY (v.partner_ids))
               AND (v.grade_ids = '{}' OR pa.grade_id = ANY (v.grade_ids))
        ), per_product AS (
            -- read only for the metrics counted from lines
            SELECT r.partner_id, r.product_id, sum(r.quantity) AS quantity, sum(r.amount) AS amount,
                   sum(r.lines) AS documents, sum(r.cost) AS cost
              FROM @extschema@.rollup_rows(v, from_day, to_day, partners, line_kinds, with_costs) r
             WHERE counted_from IN ('line_amount', 'line_margin', 'line_quantity')
             GROUP BY r.partner_id, r.product_id
            -- a key whose lines have all left it (a cancelled order) keeps a row of zeros
            HAVING sum(r.lines) <> 0
        ), sales_basis AS (
            SELECT p.partner_id,
                   sum(CASE counted_from WHEN 'line_margin' THEN p.amount - p.cost
                                         WHEN 'line_quantity' THEN p.quantity
                                         ELSE p.amount END) AS basis,
                   -- per full unit_size units, rounded toward zero so that a return takes back what its sale paid
                   sum(CASE WHEN v.unit_amount IS NOT NULL THEN trunc(p.quantity / v.unit_size) * v.unit_amount
                            WHEN v.unit_percent IS NOT NULL THEN p.amount * v.unit_percent / 100 END) AS unit_earned,
                   sum(p.documents)::bigint AS documents,
                   sum(CASE paid_from WHEN 'line_margin' THEN p.amount - p.cost
                                      WHEN 'line_quantity' THEN p.quantity
                                      WHEN 'line_amount' THEN p.amount END) AS payout
              FROM per_product p
             GROUP BY p.partner_id
        ), collected AS (
            SELECT pay.partner_id, sum(pay.amount) AS basis, NULL::numeric AS unit_earned,
                   sum(pay.lines)::bigint AS documents, NULL::numeric AS payout
              FROM @extschema@.rollup_rows(v, from_day, to_day, partners, ARRAY['payment']) pay
              JOIN scope s ON s.id = pay.partner_id
              LEFT JOIN @extschema@.region r ON r.id = s.home_region_id
             WHERE counted_from = 'payments'
               AND (v.region_ids = '{}' OR r.path && v.region_ids)
             GROUP BY pay.partner_id
            HAVING sum(pay.lines) <> 0
        ), customers AS (
            SELECT c.partner_id, count(*)::numeric AS basis, NULL::numeric AS unit_earned, count(*) AS documents,
                   NULL::numeric AS payout
              FROM @extschema@.end_customer c
              JOIN scope s ON s.id = c.partner_id
              LEFT JOIN @extschema@.region r ON r.id = coalesce(c.region_id, s.home_region_id)
             WHERE counted_from = 'customers'
               AND c.tenant_id = v.tenant_id
               AND (v.region_ids = '{}' OR r.path && v.region_ids)
               AND c.registered_on - v.grace_days >= from_day AND c.registered_on - v.grace_days < to_day
               AND c.status IN ('protected', 'lapsed', 'released')
             GROUP BY c.partner_id
        ), found AS (
            SELECT * FROM sales_basis UNION ALL SELECT * FROM collected UNION ALL SELECT * FROM customers
        )
        SELECT s.id, s.parent_id, pg_catalog.trim_scale(coalesce(f.basis, 0)), pg_catalog.trim_scale(f.unit_earned),
               coalesce(f.documents, 0),
               CASE WHEN paid_from IS NOT NULL THEN pg_catalog.trim_scale(coalesce(f.payout, 0)) END
          FROM scope s
          LEFT JOIN found f ON f.partner_id = s.id
         WHERE f.partner_id IS NOT NULL OR s.state = 'active';
END
$$;
COMMENT ON FUNCTION @extschema@.program_basis(@extschema@.program_version, date, date, bigint[]) IS
    'The basis of each partner in the version''s scope over document dates [from_day, to_day) (less grace days): active partners, and any partner with documents; payout is the measure the program pays on where it is not the metric (payout_metric), else NULL';

CREATE OR REPLACE FUNCTION @extschema@.program_results(v @extschema@.program_version, period daterange,
                                            as_of date DEFAULT NULL, partner_id bigint DEFAULT NULL)
    RETURNS SETOF @extschema@.program_result
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    -- a parent's override is rated like a tiered program on its override schedule
    overriding @extschema@.program_version := v;
    -- one partner's override is looked for only where it has sub-partners
    has_children boolean := program_results.partner_id IS NOT NULL AND v.override_schedule IS NOT NULL
                            AND EXISTS (SELECT 1 FROM @extschema@.partner c
                                         WHERE c.tenant_id = v.tenant_id AND c.parent_id = program_results.partner_id);
    -- whose override reads the rows that sum its sub-partners
    by_sub_partner_rows boolean := has_children AND @extschema@.override_from_sub_partner_rows(v);
    counted_from text := @extschema@.metric_basis(v.metric);
    line_kinds   text[] := CASE WHEN v.returns_reduce THEN ARRAY['order', 'return', 'credit_note'] ELSE ARRAY['order'] END;
    -- the days counted: [from_day, to_day)
    to_day      date := CASE WHEN as_of IS NULL OR as_of + 1 >= upper(period) THEN upper(period) ELSE as_of + 1 END;
    -- a tier window: each partner's basis over it, looked up by partner id (computed here, before
    -- the query, only for the versions that have one: the query plans no more for the others)
    window_from date;
    windows     jsonb;
BEGIN
    IF v.guarantee IS NOT NULL THEN
        -- the rebates as earned, then the minimum, with what earlier periods carry in
        RETURN QUERY
            SELECT r.program_id, r.version_id, r.version, r.partner_id, r.component, r.period, r.counted_until,
                   r.metric, r.kind, r.basis, r.comparison, r.tier, r.rate, r.earned, r.cap_applied, r.rebate,
                   r.next_tier_gap, r.next_tier_rebate, r.documents, r.status,
                   r.explanation || CASE WHEN r.component = 'own' THEN pg_catalog.format('; guaranteed minimum %s%s: pays %s',
                       pg_catalog.trim_scale(v.guarantee),
                       CASE WHEN v.guarantee_carry <> 'none'
                            THEN pg_catalog.format(' (%s carried: %s in, %s on)', v.guarantee_carry,
                                                   coalesce(gp.carried, 0), g.carried_on) ELSE '' END,
                       g.paid) ELSE '' END,
                   r.group_id, r.stacking, coalesce(g.paid, r.paid), r.payout,
                   CASE WHEN r.component = 'own' THEN pg_catalog.trim_scale(v.guarantee) END, g.carried_on
              FROM @extschema@.program_results(@extschema@.without_guarantee(v), period, as_of, program_results.partner_id) r
              LEFT JOIN @extschema@.guarantee_position(v, period, program_results.partner_id) gp
                     ON gp.partner_id = r.partner_id
              LEFT JOIN LATERAL @extschema@.guarantee_step(v.guarantee_carry, v.guarantee, r.rebate, gp.carried) g
                     ON r.component = 'own';
        RETURN;
    END IF;
    overriding.kind := 'tiered';
    overriding.schedule := v.override_schedule;
    overriding.unit_amount := NULL;
    overriding.unit_percent := NULL;
    overriding.payout_metric := NULL;
    overriding.tier_window := 'period';
    IF v.metric = ANY (@extschema@.metric_names('last_year')) THEN
        overriding.metric := 'net_sales';    -- the override is on the sub-partners' sales, not on their growth
    END IF;
    IF v.tier_window <> 'period' THEN
        window_from := CASE v.tier_window
                            WHEN 'to_date' THEN pg_catalog.date_trunc('year', lower(period))::date
                            ELSE (lower(period) - (v.window_periods - 1)
                                  * CASE v.period_unit WHEN 'month' THEN '1 month'::interval
                                                       WHEN 'quarter' THEN '3 months'::interval
                                                       ELSE '1 year'::interval END)::date END;
        SELECT pg_catalog.jsonb_object_agg(wb.partner_id::text, wb.basis) INTO windows
          FROM @extschema@.program_basis(v, window_from, to_day,
                                         CASE WHEN program_results.partner_id IS NOT NULL
                                              THEN ARRAY[program_results.partner_id] END) wb;
    END IF;
    IF v.kind <> 'overachievement' AND NOT v.metric = ANY (@extschema@.metric_names('last_year'))
       AND (v.override_schedule IS NULL OR (program_results.partner_id IS NOT NULL AND NOT has_children)) THEN
        -- nothing to compare with and no override: each partner's own basis, rated (a plan a
        -- fifth the size of the one below, most of whose cost for one partner is starting it)
        RETURN QUERY
            SELECT x.*
              FROM @extschema@.program_basis(v, lower(period), to_day,
                                             CASE WHEN program_results.partner_id IS NOT NULL
                                                  THEN ARRAY[program_results.partner_id] END) b
             CROSS JOIN LATERAL @extschema@.rate_basis(v, b.basis, NULL, b.unit_earned, b.payout,
                                                       (windows ->> b.partner_id::text)::numeric) r
             CROSS JOIN LATERAL @extschema@.rated_result(v, period, to_day - 1, b.partner_id, 'own', b.basis, NULL,
                                                         b.documents, b.payout, r.tier, r.rate, r.earned,
                                                         r.next_tier_gap, r.next_tier_rebate, r.status,
                                                         r.explanation) x
             ORDER BY b.partner_id;
        RETURN;
    END IF;
    RETURN QUERY
        WITH win AS (
            SELECT lower(period) AS from_day, to_day
        ), asked AS (
            SELECT CASE WHEN program_results.partner_id IS NULL THEN NULL
                        ELSE ARRAY[program_results.partner_id] END AS partners
        ), comparisons AS (
            -- each runs only for the programs that need it
            SELECT t.partner_id, t.target AS comparison
              FROM asked a, @extschema@.program_targets(v, period, a.partners) t
             WHERE v.kind = 'overachievement'
            UNION ALL
            SELECT ly.partner_id, ly.basis
              FROM win w, asked a,
                   @extschema@.program_basis(v, (w.from_day - '1 year'::interval)::date,
                                             (w.to_day - '1 year'::interval)::date, a.partners) ly
             WHERE v.metric = ANY (@extschema@.metric_names('last_year'))
        ), own AS (
            SELECT b.*, 'own'::text AS component, c.comparison, (windows ->> b.partner_id::text)::numeric AS window_basis
              FROM win w, asked a, @extschema@.program_basis(v, w.from_day, w.to_day, a.partners) b
              LEFT JOIN comparisons c ON c.partner_id = b.partner_id
        ), children AS (
            -- one parent's override: from the rows that sum its sub-partners where nothing in the
            -- version chooses among them, else from each sub-partner's basis
            SELECT NULL::bigint AS partner_id, program_results.partner_id AS parent_id,
                   pg_catalog.trim_scale(coalesce(sum(CASE counted_from WHEN 'line_margin' THEN r.amount - r.cost
                                                                        WHEN 'line_quantity' THEN r.quantity
                                                                        ELSE r.amount END), 0)) AS basis,
                   NULL::numeric AS unit_earned, coalesce(sum(r.lines), 0)::bigint AS documents, NULL::numeric AS payout
              FROM win w, @extschema@.rollup_rows(v, w.from_day, w.to_day, ARRAY[program_results.partner_id],
                                                  CASE WHEN counted_from = 'payments' THEN ARRAY['payment'] ELSE line_kinds END,
                                                  counted_from = 'line_margin', true) r
             WHERE has_children AND by_sub_partner_rows
            -- like a basis: there while a sub-partner is active or has documents
            HAVING has_children AND by_sub_partner_rows
               AND (coalesce(sum(r.lines), 0) <> 0
                OR EXISTS (SELECT 1 FROM @extschema@.partner c WHERE c.tenant_id = v.tenant_id
                              AND c.parent_id = program_results.partner_id AND c.state = 'active'))
            UNION ALL
            SELECT b.*
              FROM win w, @extschema@.program_basis(v, w.from_day, w.to_day,
                              (SELECT coalesce(pg_catalog.array_agg(c.id), '{}') FROM @extschema@.partner c
                                WHERE c.tenant_id = v.tenant_id AND c.parent_id = program_results.partner_id)) b
             WHERE has_children AND NOT by_sub_partner_rows
            UNION ALL
            SELECT o.partner_id, o.parent_id, o.basis, o.unit_earned, o.documents, o.payout FROM own o
             WHERE v.override_schedule IS NOT NULL AND program_results.partner_id IS NULL
        ), override AS (
            SELECT c.parent_id AS partner_id, sum(c.basis) AS basis, sum(c.documents)::bigint AS documents
              FROM children c
             WHERE c.parent_id IS NOT NULL
               AND (program_results.partner_id IS NULL OR c.parent_id = program_results.partner_id)
             GROUP BY c.parent_id
        ), rated AS (
            SELECT o.partner_id, o.component, o.basis, o.comparison, o.documents, o.payout, r.*
              FROM own o, LATERAL @extschema@.rate_basis(v, o.basis, o.comparison, o.unit_earned, o.payout, o.window_basis) r
            UNION ALL
            SELECT ov.partner_id, 'override', ov.basis, NULL, ov.documents, NULL, r.tier, r.rate, r.earned,
                   r.next_tier_gap, r.next_tier_rebate, r.status,
                   'override on the sum of direct sub-partners: ' || r.explanation
              FROM override ov, LATERAL @extschema@.rate_basis(overriding, ov.basis, NULL, NULL, NULL, NULL) r
        )
        SELECT x.*
          FROM rated r, win w,
               LATERAL @extschema@.rated_result(v, period, w.to_day - 1, r.partner_id, r.component, r.basis,
                                                r.comparison, r.documents, r.payout, r.tier, r.rate, r.earned,
                                                r.next_tier_gap, r.next_tier_rebate, r.status, r.explanation) x
         ORDER BY r.partner_id, r.component DESC;
END
$$;
COMMENT ON FUNCTION @extschema@.program_results(@extschema@.program_version, daterange, date, bigint) IS
    'Every partner''s result under a program version for a period (documents up to as_of): basis, comparison, tier, rate, exact rebate before and after the cap, next tier, documents counted, status, explanation';

-- Stacking: programs in one group, for one partner and one period, combine
-- by the group's rule; the result is each row's paid amount and, in words,
-- why.  Override rows and programs outside groups are paid what they earn.
-- A row whose rebate is unknown (NULL: not shown to this reader) makes the
-- paid amounts of max, exclusive and cascade groups unknown too.
CREATE OR REPLACE FUNCTION @extschema@.apply_stacking(results @extschema@.program_result[])
    RETURNS SETOF @extschema@.program_result
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g           record;
    r           @extschema@.program_result;
    v           @extschema@.program_version;
    rerated     record;
    paid_before numeric;
    unknown     boolean;
    reduced     numeric;
    reduced_payout numeric;
    reduces_basis  boolean;
    reduces_payout boolean;
    i           integer;
BEGIN
    RETURN QUERY SELECT (u).* FROM pg_catalog.unnest(results) AS u WHERE u.group_id IS NULL OR u.component <> 'own';
    -- sum, max and exclusive groups in one pass: each member's place in priority order, and the one
    -- that pays (max: the largest rebate, on a tie the first in priority order; exclusive: the first
    -- in priority order that pays anything)
    RETURN QUERY
        WITH member AS (
            SELECT u, pg.rule, pg.code,
                   pg_catalog.row_number() OVER (PARTITION BY u.partner_id, u.period, pg.id
                                                 ORDER BY pv.priority, u.program_id) AS n,
                   pg_catalog.bool_or(u.rebate IS NULL) OVER (PARTITION BY u.partner_id, u.period, pg.id) AS unknown,
                   pg.id AS group_key
              FROM pg_catalog.unnest(results) AS u
              JOIN @extschema@.program_version pv ON pv.id = u.version_id
              JOIN @extschema@.program_group pg ON pg.id = u.group_id
             WHERE u.group_id IS NOT NULL AND u.component = 'own' AND pg.rule <> 'cascade'
        ), judged AS (
            SELECT m.*,
                   CASE WHEN m.unknown THEN NULL
                        WHEN m.rule = 'max'
                        THEN (pg_catalog.array_agg(m.n) OVER grp_by_rebate)[1]
                        WHEN m.rule = 'exclusive'
                        THEN pg_catalog.min(m.n) FILTER (WHERE (m.u).rebate > 0) OVER grp END AS winner,
                   CASE WHEN m.rule = 'max' THEN (pg_catalog.array_agg((m.u).program_id) OVER grp_by_rebate)[1]
                        ELSE (pg_catalog.array_agg((m.u).program_id) FILTER (WHERE (m.u).rebate > 0) OVER grp_in_order)[1]
                   END AS winner_program
              FROM member m
            WINDOW grp AS (PARTITION BY (m.u).partner_id, (m.u).period, m.group_key),
                   grp_in_order AS (PARTITION BY (m.u).partner_id, (m.u).period, m.group_key ORDER BY m.n
                                    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING),
                   grp_by_rebate AS (PARTITION BY (m.u).partner_id, (m.u).period, m.group_key
                                     ORDER BY (m.u).rebate DESC, m.n
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
        )
        SELECT (j.u).program_id, (j.u).version_id, (j.u).version, (j.u).partner_id, (j.u).component, (j.u).period,
               (j.u).counted_until, (j.u).metric, (j.u).kind, (j.u).basis, (j.u).comparison, (j.u).tier, (j.u).rate,
               (j.u).earned, (j.u).cap_applied, (j.u).rebate, (j.u).next_tier_gap, (j.u).next_tier_rebate,
               (j.u).documents, (j.u).status, (j.u).explanation, (j.u).group_id,
               CASE WHEN j.rule = 'sum' THEN pg_catalog.format('sum in group %s: adds to the others', j.code)
                    WHEN j.unknown
                    THEN pg_catalog.format('%s in group %s: not shown, a program of the group is not shown to you',
                                           j.rule, j.code)
                    WHEN j.n = j.winner AND j.rule = 'max' THEN pg_catalog.format('max in group %s: pays, the largest', j.code)
                    WHEN j.n = j.winner
                    THEN pg_catalog.format('exclusive in group %s: pays, the first that applies in priority order', j.code)
                    WHEN j.winner IS NULL THEN pg_catalog.format('%s in group %s: no program of the group pays', j.rule, j.code)
                    ELSE pg_catalog.format('%s in group %s: not paid, program %s pays instead', j.rule, j.code, p.code)
               END,
               CASE WHEN j.rule = 'sum' THEN (j.u).rebate WHEN j.unknown THEN NULL
                    WHEN j.n = j.winner THEN (j.u).rebate ELSE 0 END,
               (j.u).payout, (j.u).guarantee, (j.u).carry_forward
          FROM judged j
          LEFT JOIN @extschema@.program p ON p.id = j.winner_program
         ORDER BY (j.u).partner_id, (j.u).period, j.group_key, j.n;
    -- cascade groups: money measures (the basis, and the measure paid on where it is another) are
    -- reduced by what earlier programs of the group paid, then re-rated, member after member
    FOR g IN
        SELECT u.partner_id, u.period, pg.code,
               pg_catalog.array_agg(u ORDER BY pv.priority, u.program_id) AS members,
               -- each member's version, in the same order (the cascade reads its flags and re-rates by it)
               pg_catalog.array_agg(pv ORDER BY pv.priority, u.program_id) AS versions
          FROM pg_catalog.unnest(results) AS u
          JOIN @extschema@.program_version pv ON pv.id = u.version_id
          JOIN @extschema@.program_group pg ON pg.id = u.group_id
         WHERE u.group_id IS NOT NULL AND u.component = 'own' AND pg.rule = 'cascade'
         GROUP BY u.partner_id, u.period, pg.id, pg.code
    LOOP
        unknown := EXISTS (SELECT 1 FROM pg_catalog.unnest(g.members) m WHERE m.rebate IS NULL);
        paid_before := 0;
        FOR i IN 1 .. pg_catalog.array_length(g.members, 1) LOOP
            r := g.members[i];
            IF unknown THEN
                r.paid := NULL;
                r.stacking := pg_catalog.format('cascade in group %s: not shown, a program of the group is not shown to you',
                                                g.code);
            ELSE
                v := g.versions[i];
                reduces_basis := v.reduced_by_earlier AND r.metric = ANY (@extschema@.metric_names('money_basis'));
                reduces_payout := v.reduced_by_earlier AND r.payout IS NOT NULL
                                  AND v.payout_metric = ANY (@extschema@.metric_names('money_basis'));
                IF paid_before <> 0 AND (reduces_basis OR reduces_payout) AND r.status = 'ok' THEN
                    reduced := CASE WHEN reduces_basis THEN r.basis - paid_before ELSE r.basis END;
                    reduced_payout := CASE WHEN reduces_payout THEN r.payout - paid_before ELSE r.payout END;
                    SELECT * INTO rerated
                      FROM @extschema@.rate_basis(v, reduced, r.comparison, reduced * v.unit_percent / 100, reduced_payout, NULL);
                    r.tier := rerated.tier;
                    r.rate := rerated.rate;
                    r.earned := pg_catalog.trim_scale(rerated.earned);
                    r.cap_applied := coalesce(rerated.earned > v.cap, false);
                    r.rebate := pg_catalog.trim_scale(CASE WHEN rerated.earned > v.cap THEN v.cap ELSE rerated.earned END);
                    r.next_tier_gap := pg_catalog.trim_scale(rerated.next_tier_gap);
                    r.next_tier_rebate := pg_catalog.trim_scale(rerated.next_tier_rebate);
                    r.explanation := rerated.explanation
                                     || CASE WHEN r.cap_applied THEN pg_catalog.format('; capped at %s', v.cap) ELSE '' END;
                    r.stacking := pg_catalog.format('cascade in group %s: %s', g.code, CASE
                        WHEN NOT reduces_payout
                        THEN pg_catalog.format('rated on %s, the basis %s less %s paid by earlier programs',
                                               pg_catalog.trim_scale(reduced), r.basis, pg_catalog.trim_scale(paid_before))
                        WHEN NOT reduces_basis
                        THEN pg_catalog.format('paid on %s %s, the %s less %s paid by earlier programs', v.payout_metric,
                                               pg_catalog.trim_scale(reduced_payout), r.payout, pg_catalog.trim_scale(paid_before))
                        ELSE pg_catalog.format('rated on %s and paid on %s %s, the basis %s and the %s less %s paid by earlier programs',
                                               pg_catalog.trim_scale(reduced), v.payout_metric, pg_catalog.trim_scale(reduced_payout),
                                               r.basis, r.payout, pg_catalog.trim_scale(paid_before)) END);
                ELSE
                    r.stacking := pg_catalog.format('cascade in group %s: %s', g.code,
                                                    CASE WHEN i = 1 THEN 'first in priority order, on its whole basis'
                                                         WHEN NOT v.reduced_by_earlier THEN 'not reduced by earlier programs, on its whole basis'
                                                         WHEN NOT (reduces_basis OR reduces_payout) THEN 'basis not reduced (not an amount)'
                                                         WHEN r.status <> 'ok' THEN pg_catalog.format('nothing is rated (%s)', r.status)
                                                         ELSE 'on its whole basis, the earlier programs paid nothing' END);
                END IF;
                r.paid := r.rebate;
                IF v.reduces_later THEN
                    paid_before := paid_before + r.paid;
                ELSE
                    r.stacking := r.stacking || '; excluded from later programs'' reductions';
                END IF;
            END IF;
            RETURN NEXT r;
        END LOOP;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.apply_stacking(@extschema@.program_result[]) IS
    'Combines results of programs in one stacking group per partner and period by the group''s rule (sum, max, exclusive, cascade): sets paid and stacking (the outcome in words)';

-- verify_rollups' own formulation of the rows a day counts in: the day, and
-- the first days of its month, quarter (months 1, 4, 7, 10) and year.
-- Inlined into verify_rollups (no SET clause; every name qualified).
CREATE FUNCTION @extschema@.verify_units(day date) RETURNS TABLE (unit text, start date)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT u.unit, u.start
      FROM (VALUES ('day', verify_units.day),
                   ('month', pg_catalog.make_date(pg_catalog.date_part('year', verify_units.day)::integer,
                                                  pg_catalog.date_part('month', verify_units.day)::integer, 1)),
                   ('quarter', pg_catalog.make_date(pg_catalog.date_part('year', verify_units.day)::integer,
                                                    ((pg_catalog.date_part('month', verify_units.day)::integer - 1) / 3) * 3 + 1,
                                                    1)),
                   ('year', pg_catalog.make_date(pg_catalog.date_part('year', verify_units.day)::integer, 1, 1)))
           AS u (unit, start)
$$;
COMMENT ON FUNCTION @extschema@.verify_units(date) IS
    'Internal (rebate.verify_rollups): the day, month, quarter and year a day counts in, by verify''s own formulation';

-- The rollups, recomputed from the documents by their own formulation (none
-- of the triggers' queries or rebate.line_rollup_cells), against what is kept
-- (summed over writer slots): every key whose sums differ, with a day, month,
-- quarter or year starting in the period (every key for NULL).
CREATE FUNCTION @extschema@.verify_rollups(tenant_id bigint, period daterange DEFAULT NULL)
    RETURNS TABLE (partner_id bigint, of_sub_partners boolean, date_basis text, unit text, period_start date,
                   currency text, kind text, product_id bigint, region_id bigint,
                   kept_quantity numeric, kept_amount numeric, kept_cost numeric, kept_lines numeric,
                   kept_costed_amount numeric, kept_costed_lines numeric, kept_orders numeric,
                   kept_promised_deliveries numeric, kept_on_time_deliveries numeric,
                   quantity numeric, amount numeric, cost numeric, lines numeric, costed_amount numeric,
                   costed_lines numeric, orders numeric, promised_deliveries numeric, on_time_deliveries numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    SET jit = off
AS $$
    WITH days AS (
        -- the days whose facts make the keys asked for (those starting in the period): from its first day
        -- to the end of the last day, month, quarter or year that starts in it
        SELECT coalesce(lower(verify_rollups.period), '-infinity') AS from_day,
               coalesce((SELECT max(CASE u.unit WHEN 'day' THEN u.start + 1
                                                WHEN 'month' THEN (u.start + interval '1 month')::date
                                                WHEN 'quarter' THEN (u.start + interval '3 months')::date
                                                ELSE (u.start + interval '1 year')::date END)
                           FROM @extschema@.verify_units(upper(verify_rollups.period) - 1) u
                          WHERE u.start >= lower(verify_rollups.period)), 'infinity') AS to_day
    ), totals AS (
        SELECT ol.order_id, sum(ol.amount) AS amount FROM @extschema@.order_line ol
         WHERE ol.tenant_id = verify_rollups.tenant_id
           AND ol.order_id IN (SELECT a.order_id FROM @extschema@.payment_allocation a
                                WHERE a.tenant_id = verify_rollups.tenant_id)
         GROUP BY ol.order_id
    ), paid_in_full AS (
        -- the first payment day on which the allocations reach the order's amount
        SELECT a.order_id, min(p.received_on) AS day
          FROM @extschema@.payment_allocation a JOIN @extschema@.payment p ON p.id = a.payment_id
         WHERE a.tenant_id = verify_rollups.tenant_id
           AND (SELECT sum(a2.amount) FROM @extschema@.payment_allocation a2 JOIN @extschema@.payment p2 ON p2.id = a2.payment_id
                 WHERE a2.order_id = a.order_id AND (p2.received_on, p2.id) <= (p.received_on, p.id))
               >= (SELECT t.amount FROM totals t WHERE t.order_id = a.order_id)
         GROUP BY a.order_id
    ), documents AS (
        -- counted documents; a return or credit note is dated by the sale it refers to (bases order, delivery,
        -- payment: only while that sale counts) or by its own date (basis document, channel KPIs)
        SELECT o.id, o.partner_id, pa.parent_id, o.kind, o.currency, o.ship_to_region_id, o.order_date AS own_date,
               s.id AS sale_id, s.order_date, s.delivered_on, o.original_order_id,
               s.status = ANY (@extschema@.order_statuses('counted')) AS sale_counts
          FROM @extschema@.sales_order o
          JOIN @extschema@.partner pa ON pa.id = o.partner_id
          JOIN @extschema@.sales_order s ON s.id = coalesce(o.original_order_id, o.id)
         WHERE o.tenant_id = verify_rollups.tenant_id
           AND o.status = ANY (@extschema@.order_statuses('counted'))
    ), dated AS (
        SELECT d.*, b.date_basis,
               CASE WHEN b.date_basis = 'document' THEN CASE WHEN d.kind <> 'order' THEN d.own_date END
                    WHEN d.kind <> 'order' AND d.original_order_id IS NULL THEN d.order_date
                    WHEN b.date_basis = 'order' THEN d.order_date
                    WHEN b.date_basis = 'delivery' THEN d.delivered_on
                    ELSE (SELECT f.day FROM paid_in_full f WHERE f.order_id = d.sale_id) END AS day
          FROM documents d, unnest(ARRAY['order', 'delivery', 'payment', 'document']) AS b (date_basis)
         WHERE d.sale_counts OR b.date_basis = 'document'
    ), facts AS (
        SELECT d.partner_id, CASE WHEN d.date_basis <> 'document' THEN d.parent_id END AS parent_id, d.date_basis,
               d.day, d.currency, d.kind, ol.product_id, d.ship_to_region_id AS region_id,
               ol.quantity * CASE d.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END AS quantity,
               ol.amount * CASE d.kind WHEN 'order' THEN 1 ELSE -1 END AS amount,
               ol.quantity * CASE d.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END
                   * coalesce(ol.unit_cost, 0) AS cost,
               ol.unit_cost IS NOT NULL OR d.kind = 'credit_note' AS costed
          FROM dated d JOIN @extschema@.order_line ol ON ol.order_id = d.id
         CROSS JOIN days
         WHERE d.day IS NOT NULL
           AND (verify_rollups.period IS NULL OR (d.day >= days.from_day AND d.day < days.to_day))
        UNION ALL
        SELECT p.partner_id, pa.parent_id, 'payment', p.received_on, p.currency, 'payment', 0, 0, 0, p.amount, 0, false
          FROM @extschema@.payment p JOIN @extschema@.partner pa ON pa.id = p.partner_id
         CROSS JOIN days
         WHERE p.tenant_id = verify_rollups.tenant_id
           AND (verify_rollups.period IS NULL OR (p.received_on >= days.from_day AND p.received_on < days.to_day))
    ), summed AS (
        SELECT k.partner_id, k.of_sub_partners, f.date_basis, k.unit, k.period_start, f.currency, f.kind,
               k.product_id, k.region_id,
               sum(f.quantity) AS quantity, sum(f.amount) AS amount, sum(f.cost) AS cost, count(*)::numeric AS lines,
               coalesce(sum(f.amount) FILTER (WHERE f.costed), 0) AS costed_amount,
               count(*) FILTER (WHERE f.costed)::numeric AS costed_lines
          FROM facts f
         CROSS JOIN LATERAL @extschema@.verify_units(f.day) u
         CROSS JOIN LATERAL (
            SELECT f.partner_id, false, u.unit, u.start, f.product_id, f.region_id
            UNION ALL
            SELECT f.parent_id, true, u.unit, u.start, 0, 0 WHERE f.parent_id IS NOT NULL) k (partner_id, of_sub_partners, unit, period_start, product_id, region_id)
         WHERE verify_rollups.period IS NULL OR verify_rollups.period @> k.period_start
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    ), counted_orders AS (
        -- distinct counted orders with lines, per product and in all (product 0), on the order date
        SELECT o.partner_id, u.unit, u.start AS period_start, o.currency, p.product_id, o.ship_to_region_id AS region_id,
               count(DISTINCT o.id)::numeric AS orders,
               count(DISTINCT o.id) FILTER (WHERE o.promised_on IS NOT NULL AND o.delivered_on IS NOT NULL)::numeric
                   AS promised_deliveries,
               count(DISTINCT o.id) FILTER (WHERE o.delivered_on <= o.promised_on)::numeric AS on_time_deliveries
          FROM @extschema@.sales_order o
          JOIN @extschema@.order_line ol ON ol.order_id = o.id
         CROSS JOIN LATERAL (VALUES (ol.product_id), (0)) p (product_id)
         CROSS JOIN LATERAL @extschema@.verify_units(o.order_date) u
         WHERE o.tenant_id = verify_rollups.tenant_id AND o.kind = 'order'
           AND o.status = ANY (@extschema@.order_statuses('counted'))
           AND (verify_rollups.period IS NULL OR verify_rollups.period @> u.start)
         GROUP BY 1, 2, 3, 4, 5, 6
    ), recomputed AS (
        SELECT coalesce(s.partner_id, c.partner_id) AS partner_id, coalesce(s.of_sub_partners, false) AS of_sub_partners,
               coalesce(s.date_basis, 'order') AS date_basis, coalesce(s.unit, c.unit) AS unit,
               coalesce(s.period_start, c.period_start) AS period_start, coalesce(s.currency, c.currency) AS currency,
               coalesce(s.kind, 'order') AS kind, coalesce(s.product_id, c.product_id) AS product_id,
               coalesce(s.region_id, c.region_id) AS region_id,
               coalesce(s.quantity, 0) AS quantity, coalesce(s.amount, 0) AS amount, coalesce(s.cost, 0) AS cost,
               coalesce(s.lines, 0) AS lines, coalesce(s.costed_amount, 0) AS costed_amount,
               coalesce(s.costed_lines, 0) AS costed_lines, coalesce(c.orders, 0) AS orders,
               coalesce(c.promised_deliveries, 0) AS promised_deliveries,
               coalesce(c.on_time_deliveries, 0) AS on_time_deliveries
          FROM summed s
          FULL JOIN counted_orders c
            ON (c.partner_id, false, 'order', c.unit, c.period_start, c.currency, 'order', c.product_id, c.region_id)
             = (s.partner_id, s.of_sub_partners, s.date_basis, s.unit, s.period_start, s.currency, s.kind, s.product_id,
                s.region_id)
    ), kept AS (
        SELECT r.partner_id, r.of_sub_partners, r.date_basis, r.unit, r.period_start, r.currency, r.kind,
               r.product_id, r.region_id, sum(r.quantity) AS quantity, sum(r.amount) AS amount, sum(r.cost) AS cost,
               sum(r.lines) AS lines, sum(r.costed_amount) AS costed_amount, sum(r.costed_lines) AS costed_lines,
               sum(r.orders) AS orders, sum(r.promised_deliveries) AS promised_deliveries,
               sum(r.on_time_deliveries) AS on_time_deliveries
          FROM @extschema@.sales_rollup r
         WHERE r.tenant_id = verify_rollups.tenant_id
           AND (verify_rollups.period IS NULL OR verify_rollups.period @> r.period_start)
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    )
    SELECT coalesce(k.partner_id, c.partner_id), coalesce(k.of_sub_partners, c.of_sub_partners),
           coalesce(k.date_basis, c.date_basis), coalesce(k.unit, c.unit), coalesce(k.period_start, c.period_start),
           coalesce(k.currency, c.currency), coalesce(k.kind, c.kind), coalesce(k.product_id, c.product_id),
           coalesce(k.region_id, c.region_id),
           k.quantity, k.amount, k.cost, k.lines, k.costed_amount, k.costed_lines, k.orders, k.promised_deliveries,
           k.on_time_deliveries,
           coalesce(c.quantity, 0), coalesce(c.amount, 0), coalesce(c.cost, 0), coalesce(c.lines, 0),
           coalesce(c.costed_amount, 0), coalesce(c.costed_lines, 0), coalesce(c.orders, 0),
           coalesce(c.promised_deliveries, 0), coalesce(c.on_time_deliveries, 0)
      FROM kept k
      FULL JOIN recomputed c
        ON (c.partner_id, c.of_sub_partners, c.date_basis, c.unit, c.period_start, c.currency, c.kind, c.product_id,
            c.region_id)
         = (k.partner_id, k.of_sub_partners, k.date_basis, k.unit, k.period_start, k.currency, k.kind, k.product_id,
            k.region_id)
     WHERE (coalesce(k.quantity, 0), coalesce(k.amount, 0), coalesce(k.cost, 0), coalesce(k.lines, 0),
            coalesce(k.costed_amount, 0), coalesce(k.costed_lines, 0), coalesce(k.orders, 0),
            coalesce(k.promised_deliveries, 0), coalesce(k.on_time_deliveries, 0))
           IS DISTINCT FROM
           (coalesce(c.quantity, 0), coalesce(c.amount, 0), coalesce(c.cost, 0), coalesce(c.lines, 0),
            coalesce(c.costed_amount, 0), coalesce(c.costed_lines, 0), coalesce(c.orders, 0),
            coalesce(c.promised_deliveries, 0), coalesce(c.on_time_deliveries, 0))
     ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
$$;
COMMENT ON FUNCTION @extschema@.verify_rollups(bigint, daterange) IS
    'Cross-check of the rollups: recomputes rebate.sales_rollup from the documents by an independent formulation and returns every key (a day, month, quarter or year starting in the period; all for NULL) whose kept sums, over the writer slots, differ (none when all agree)';

CREATE OR REPLACE FUNCTION @extschema@.verify_period(tenant_id bigint, period daterange)
    RETURNS TABLE (statement_id bigint, partner_id bigint, line_no integer, line_kind text, program_id bigint,
                   component text, program_period daterange, stored_gross numeric, verified_gross numeric,
                   stored_net numeric, verified_net numeric, problem text)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    -- the plan is large and its row estimates pessimistic: compiling it would take longer than running it
    SET jit = off
AS $$
    WITH t AS (
        SELECT x.id, x.rounding FROM @extschema@.tenant x WHERE x.id = verify_period.tenant_id
    ), stmts AS (
        SELECT s.* FROM @extschema@.statement s
         WHERE s.tenant_id = verify_period.tenant_id AND s.period = verify_period.period
    ), stored AS (
        SELECT l.*, s.closed_at FROM @extschema@.statement_line l JOIN stmts s ON s.id = l.statement_id
         WHERE l.line_kind <> 'manual'
    ), jobs AS (
        -- every (version, program period, counted up to) the period's statements settle, as stored, and
        -- every program period of an active version ending inside the period
        SELECT DISTINCT st.version_id, st.program_period, st.counted_until FROM stored st
        UNION
        SELECT v.id, p.pp, upper(p.pp) - 1
          FROM @extschema@.program_version v
         CROSS JOIN LATERAL (
            SELECT CASE WHEN v.period_unit = 'range' THEN v.effective
                        ELSE daterange(date_trunc(v.period_unit, e::timestamp)::date,
                                       (date_trunc(v.period_unit, e::timestamp)
                                        + CASE v.period_unit WHEN 'quarter' THEN interval '3 months'
                                                                   ELSE ('1 ' || v.period_unit)::interval END)::date) END AS pp
              FROM (SELECT upper(verify_period.period) - 1 AS e
                    UNION SELECT d::date FROM generate_series(lower(verify_period.period), upper(verify_period.period) - 1,
                                                              interval '1 month') d) ends) p
         WHERE v.tenant_id = verify_period.tenant_id AND v.status = 'active' AND v.effective @> lower(p.pp)
           AND verify_period.period @> (upper(p.pp) - 1)
    ), all_jobs AS (
        -- stacking needs every program of a job's group for the same period
        SELECT j.* FROM jobs j
        UNION
        SELECT g.id, j.program_period, j.counted_until
          FROM jobs j JOIN @extschema@.program_version v ON v.id = j.version_id
          JOIN @extschema@.program_version g ON g.group_id = v.group_id AND g.status = 'active'
                                            AND g.effective @> lower(j.program_period)
    ), guaranteed AS (
        -- what programs with a guaranteed minimum pay, from their own recomputation of the run of periods
        SELECT j.version_id, j.program_period, j.counted_until, gq.partner_id, gq.paid
          FROM all_jobs j JOIN @extschema@.program_version v ON v.id = j.version_id,
               LATERAL @extschema@.verify_guaranteed(v, j.program_period, j.counted_until) gq
         WHERE v.guarantee IS NOT NULL
    ), earned AS (
        SELECT j.version_id, j.program_period, j.counted_until, v.program_id, v.group_id, v.priority, v.metric,
               v.currency, v.payout_metric, v.reduces_later, v.reduced_by_earlier,
               e.partner_id, e.component, e.basis, coalesce(gq.paid, e.earned) AS earned, e.rated, e.payout
          FROM all_jobs j JOIN @extschema@.program_version v ON v.id = j.version_id
         CROSS JOIN LATERAL @extschema@.verify_earned(v, j.program_period, j.counted_until) e
          LEFT JOIN guaranteed gq ON gq.version_id = j.version_id AND gq.program_period = j.program_period
                                 AND gq.counted_until = j.counted_until AND gq.partner_id = e.partner_id
                                 AND e.component = 'own'
    ), numbered AS (
        SELECT e.*, g.rule,
               row_number() OVER (PARTITION BY e.partner_id, e.group_id, e.program_period, e.component
                                  ORDER BY e.priority, e.program_id) AS n
          FROM earned e LEFT JOIN @extschema@.program_group g ON g.id = e.group_id
    ), ranked AS (
        -- the member max pays (most, then first in priority order) and the one exclusive pays (first that earns)
        SELECT x.*,
               first_value(x.n) OVER (PARTITION BY x.partner_id, x.group_id, x.program_period, x.component
                                      ORDER BY x.earned DESC, x.n) AS max_n,
               min(x.n) FILTER (WHERE x.earned > 0)
                   OVER (PARTITION BY x.partner_id, x.group_id, x.program_period, x.component) AS first_earning_n
          FROM numbered x
    ), cascaded AS (
        -- cascade: in priority order, an amount basis less what the earlier programs paid, rated again
        WITH RECURSIVE c AS (
            SELECT r.*, r.earned AS pays, CASE WHEN r.reduces_later THEN r.earned ELSE 0 END AS paid_so_far
              FROM ranked r WHERE r.rule = 'cascade' AND r.n = 1
            UNION ALL
            SELECT r.*, x.pays, c.paid_so_far + CASE WHEN r.reduces_later THEN x.pays ELSE 0 END
              FROM c JOIN ranked r ON r.partner_id = c.partner_id AND r.group_id = c.group_id
                                  AND r.program_period = c.program_period AND r.component = c.component AND r.n = c.n + 1
             -- the money measures reduced: the basis, and the measure paid on where the version names one
             CROSS JOIN LATERAL (
                SELECT CASE WHEN r.metric = ANY (@extschema@.metric_names('money_basis')) THEN r.basis - c.paid_so_far
                            ELSE r.basis END AS b,
                       CASE WHEN r.payout_metric = ANY (@extschema@.metric_names('money_basis')) THEN r.payout - c.paid_so_far
                            ELSE r.payout END AS p,
                       coalesce(r.metric = ANY (@extschema@.metric_names('money_basis'))
                                OR (r.payout IS NOT NULL AND r.payout_metric = ANY (@extschema@.metric_names('money_basis'))),
                                false) AS reducible) m
             CROSS JOIN LATERAL (
                SELECT CASE WHEN m.reducible AND r.reduced_by_earlier AND r.rated AND c.paid_so_far <> 0
                            THEN (SELECT ve.earned FROM @extschema@.program_version v2,
                                         LATERAL (SELECT CASE WHEN v2.kind = 'overachievement' OR v2.metric = ANY (@extschema@.metric_names('last_year'))
                                                         THEN coalesce((SELECT sum(tg.value) FROM @extschema@.target tg
                                                                    WHERE v2.kind = 'overachievement' AND tg.partner_id = r.partner_id
                                                                      AND tg.period <@ r.program_period
                                                                      AND tg.metric = v2.metric),
                                                                  (SELECT ly.basis FROM @extschema@.verify_basis(v2, (lower(r.program_period) - interval '1 year')::date,
                                                                                                                (r.counted_until + 1 - interval '1 year')::date) ly
                                                                    WHERE ly.partner_id = r.partner_id)) END AS against) cmp,
                                         LATERAL (SELECT CASE
                                             WHEN v2.kind = 'per_unit' THEN greatest(m.b * v2.unit_percent / 100, 0)
                                             WHEN v2.kind = 'fixed' THEN CASE WHEN m.b >= v2.fixed_minimum THEN v2.fixed_amount ELSE 0 END
                                             WHEN (v2.kind = 'overachievement' OR v2.metric = ANY (@extschema@.metric_names('last_year')))
                                                  AND v2.payout_metric IS NOT NULL
                                                 THEN @extschema@.verify_payout(m.b, m.p, v2.schedule, cmp.against)
                                             WHEN v2.kind = 'overachievement' OR v2.metric = ANY (@extschema@.metric_names('last_year'))
                                                 THEN @extschema@.verify_schedule(m.b, v2.schedule, cmp.against, v2.apply_to)
                                             WHEN v2.payout_metric IS NOT NULL THEN @extschema@.verify_payout(m.b, m.p, v2.schedule)
                                             ELSE @extschema@.verify_schedule(m.b, v2.schedule) END AS raw) x2,
                                         LATERAL (SELECT CASE WHEN v2.cap < x2.raw THEN v2.cap ELSE x2.raw END AS earned) ve
                                   WHERE v2.id = r.version_id)
                            ELSE r.earned END AS pays) x
        )
        SELECT c.version_id, c.program_period, c.partner_id, c.component, c.pays FROM c
    ), paid AS (
        SELECT r.version_id, r.program_period, r.counted_until, r.program_id, r.partner_id, r.component, r.currency,
               CASE
                 WHEN r.group_id IS NULL OR r.component <> 'own' OR r.rule = 'sum' THEN r.earned
                 WHEN r.rule = 'max' THEN CASE WHEN r.n = r.max_n THEN r.earned ELSE 0 END
                 WHEN r.rule = 'exclusive' THEN CASE WHEN r.n = r.first_earning_n THEN r.earned ELSE 0 END
                 ELSE c.pays
               END AS exact
          FROM ranked r
          LEFT JOIN cascaded c ON c.version_id = r.version_id AND c.program_period = r.program_period
                              AND c.partner_id = r.partner_id AND c.component = r.component
    ), verified AS (
        SELECT p.*, @extschema@.verify_round(p.exact, @extschema@.currency_minor_unit(p.currency), t.rounding) AS gross
          FROM paid p, t
    ), compared AS (
        SELECT coalesce(st.statement_id, s.id) AS statement_id, coalesce(st.partner_id, v.partner_id) AS partner_id, st.line_no, st.line_kind,
               coalesce(st.program_id, v.program_id) AS program_id, coalesce(st.component, v.component) AS component,
               coalesce(st.program_period, v.program_period) AS program_period,
               st.gross AS stored_gross, vg.gross AS verified_gross, st.net AS stored_net,
               v.partner_id IS NULL AS unrecomputed,
               vg.gross - coalesce((SELECT sum(l.net) FROM @extschema@.statement_line l
                                     JOIN @extschema@.statement s2 ON s2.id = l.statement_id
                                    WHERE l.tenant_id = verify_period.tenant_id
                                      AND l.partner_id = coalesce(st.partner_id, v.partner_id)
                                      AND l.program_id = coalesce(st.program_id, v.program_id)
                                      AND l.component = coalesce(st.component, v.component)
                                      AND l.program_period = coalesce(st.program_period, v.program_period)
                                      AND s2.status <> 'draft' AND s2.issued_at < coalesce(st.closed_at, s.closed_at, 'infinity')
                                      AND s2.id <> coalesce(st.statement_id, -1)), 0) AS verified_net
          FROM stored st
          FULL JOIN verified v ON v.partner_id = st.partner_id AND v.program_id = st.program_id
                              AND v.component = st.component AND v.program_period = st.program_period
                              AND v.counted_until = st.counted_until
          LEFT JOIN @extschema@.statement s ON s.tenant_id = verify_period.tenant_id AND s.partner_id = v.partner_id
                                           AND s.period = verify_period.period AND s.currency = v.currency
          -- a stored line the recomputation has no row for: the partner is no longer in the
          -- program's scope for that period, so it earns nothing
         CROSS JOIN LATERAL (SELECT CASE WHEN v.partner_id IS NULL THEN 0 ELSE v.gross END AS gross) vg
    )
    (SELECT c.statement_id, c.partner_id, c.line_no, c.line_kind, c.program_id, c.component, c.program_period,
           c.stored_gross, c.verified_gross, c.stored_net, c.verified_net,
           CASE WHEN c.stored_gross IS NULL THEN 'missing: the recomputation pays it, no statement line does'
                WHEN c.unrecomputed THEN 'differs: the partner is not in the program''s scope for this period, so it earns nothing'
                ELSE 'differs' END
      FROM compared c
     WHERE c.stored_gross IS DISTINCT FROM c.verified_gross
        OR c.stored_net IS DISTINCT FROM c.verified_net
    -- a missing line matters only where it would pay something or settle a period for the first time
    EXCEPT
    SELECT c.statement_id, c.partner_id, c.line_no, c.line_kind, c.program_id, c.component, c.program_period,
           c.stored_gross, c.verified_gross, c.stored_net, c.verified_net,
           'missing: the recomputation pays it, no statement line does'
      FROM compared c
     WHERE c.stored_gross IS NULL AND c.verified_net = 0
       -- a period that ended before this one is rechecked, where a line is written only if it changes;
       -- so is one settled finally before (an adjustment line follows a final settlement)
       AND (upper(c.program_period) <= lower(verify_period.period)
            OR EXISTS (SELECT 1 FROM @extschema@.statement_line l JOIN @extschema@.statement s2 ON s2.id = l.statement_id
                        WHERE l.tenant_id = verify_period.tenant_id
                          AND l.partner_id = c.partner_id AND l.program_id = c.program_id AND l.component = c.component
                          AND l.program_period = c.program_period AND s2.status <> 'draft'
                          AND l.line_kind IN ('final', 'adjustment'))))
    UNION ALL
    -- and the rollups the statements were computed from, for the days and months of the period
    SELECT NULL, r.partner_id, NULL, 'rollup', NULL, CASE WHEN r.of_sub_partners THEN 'sub_partners' ELSE 'own' END,
           daterange(r.period_start, CASE r.unit WHEN 'day' THEN r.period_start + 1
                                                ELSE (r.period_start + interval '1 month')::date END),
           r.kept_amount, r.amount, NULL, NULL,
           format('rollup differs: %s %s basis, %s %s, product %s, region %s: kept quantity %s, amount %s, cost %s, lines %s, orders %s; recomputed %s, %s, %s, %s, %s',
                  r.kind, r.date_basis, r.unit, r.currency, r.product_id, r.region_id,
                  coalesce(r.kept_quantity, 0), coalesce(r.kept_amount, 0), coalesce(r.kept_cost, 0),
                  coalesce(r.kept_lines, 0), coalesce(r.kept_orders, 0), r.quantity, r.amount, r.cost, r.lines, r.orders)
      FROM @extschema@.verify_rollups(verify_period.tenant_id, verify_period.period) r
     ORDER BY 2, 5, 6, 7
$$;
COMMENT ON FUNCTION @extschema@.verify_period(bigint, daterange) IS
    'Cross-check (交叉验证): recomputes the statement lines of a tenant''s period by an independent plain-SQL formulation and returns every line that differs (none when all agree)';

GRANT EXECUTE ON FUNCTION @extschema@.verify_rollups(bigint, daterange) TO rebate_admin, rebate_manager;
REVOKE ALL ON FUNCTION @extschema@.verify_rollups(bigint, daterange) FROM PUBLIC;

-- the rollups of the data already there
SELECT @extschema@.recompute_rollups(t.id) FROM @extschema@.tenant t ORDER BY t.id;

-- ---- the reports and scoring read the rollups
-- The tenants current_user may see: every tenant for a group administrator,
-- its bound tenant for a manager or partner user, none otherwise.  As an
-- array, for `tenant_id = ANY (...)`: unlike an OR of the cases, that
-- condition reaches a report's facts (below its windows) and their index.
CREATE FUNCTION @extschema@.visible_tenant_ids() RETURNS bigint[]
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN @extschema@.is_group_admin()
                THEN ARRAY(SELECT t.id FROM @extschema@.tenant t ORDER BY t.id)
                ELSE ARRAY(SELECT b.tenant_id FROM (SELECT @extschema@.current_tenant_id() AS tenant_id) b
                            WHERE b.tenant_id IS NOT NULL) END
$$;
COMMENT ON FUNCTION @extschema@.visible_tenant_ids() IS
    'The tenants current_user may see: all for a group administrator, its bound tenant for a manager or partner user, none otherwise';

-- The same KPIs from sums already made: the rollups' (reports, scoring).
CREATE FUNCTION @extschema@.kpis_of(gross_sales numeric, returns numeric, credit_notes numeric, costed_amount numeric,
                                    cost numeric, costed_lines bigint, quantity numeric, lines bigint, orders bigint,
                                    collected numeric, payments bigint, promised_deliveries bigint,
                                    on_time_deliveries bigint, products bigint)
    RETURNS @extschema@.kpis
    AS 'MODULE_PATHNAME', 'kpis_of' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.kpis_of(numeric, numeric, numeric, numeric, numeric, bigint, numeric, bigint, bigint,
                                        numeric, bigint, bigint, bigint, bigint) IS
    'rebate.kpis from sums (gross sales, returns and credit notes positive, the amount and cost of lines with a cost, their count, net quantity, lines, distinct orders, collected, payments, promised and on-time deliveries, distinct products), with the rates of rebate.channel_kpis; NULL sums count as 0';

-- The rollups as channel facts: the rows of rebate.sales_rollup that hold what
-- rebate.channel_fact_all holds (orders on their date, returns and credit
-- notes on their own date, payments in the partner's home region), by day
-- and by month.  A key has a row per writer slot: sum before counting (a
-- product whose lines net to nothing has no line).  No aggregation here, so
-- that a reader's conditions, and its joins, reach the index.  Internal (the
-- extension owner's): the reports and rebate.period_kpis read it and show each
-- user its part.
CREATE VIEW @extschema@.channel_rollup_all AS
SELECT r.tenant_id, r.partner_id, r.unit, r.period_start AS day, r.currency, r.kind, r.product_id,
       -- (looked up only for payments, and only by readers of the region)
       CASE WHEN r.kind = 'payment'
            THEN (SELECT pa.home_region_id FROM @extschema@.partner pa WHERE pa.id = r.partner_id AND pa.tenant_id = r.tenant_id)
            ELSE r.region_id END AS region_id,
       r.quantity, r.amount, r.cost, r.lines, r.costed_amount, r.costed_lines, r.orders, r.promised_deliveries,
       r.on_time_deliveries
  FROM @extschema@.sales_rollup r
 WHERE NOT r.of_sub_partners AND r.date_basis IN ('order', 'document', 'payment')
   -- orders on their date, returns and credit notes on theirs, payments (not the lines by paid day)
   AND CASE r.date_basis WHEN 'order' THEN r.kind = 'order' WHEN 'payment' THEN r.kind = 'payment' ELSE true END;
REVOKE ALL ON @extschema@.channel_rollup_all FROM PUBLIC;
COMMENT ON VIEW @extschema@.channel_rollup_all IS
    'Internal (the extension owner''s): the rollups as channel facts, per partner, day, month, quarter or year, currency, kind, product (0: the distinct-order counts of whole orders), region and writer slot, for every tenant';

-- What each user may see of it, as rebate.channel_fact shows the documents:
-- group admins all, managers their tenant, partner users their partner
-- subtree; costs only to roles that may read them (for the others only credit
-- notes carry margin, as in channel_fact).
CREATE VIEW @extschema@.channel_rollup WITH (security_barrier) AS
SELECT f.tenant_id, f.partner_id, f.unit, f.day, f.currency, f.kind, f.product_id, f.region_id, f.quantity, f.amount,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN f.cost ELSE 0 END AS cost, f.lines,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN f.costed_amount
            WHEN f.kind = 'credit_note' THEN f.amount ELSE 0 END AS costed_amount,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN f.costed_lines
            WHEN f.kind = 'credit_note' THEN f.lines ELSE 0 END AS costed_lines,
       f.orders, f.promised_deliveries, f.on_time_deliveries
  FROM @extschema@.channel_rollup_all f
 WHERE (SELECT @extschema@.is_group_admin())
    OR (f.tenant_id = (SELECT @extschema@.current_tenant_id())
        AND ((SELECT @extschema@.is_tenant_manager()) OR f.partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[])));
COMMENT ON VIEW @extschema@.channel_rollup IS
    'rebate.channel_fact summed (the rollups): per partner, day, month, quarter or year, currency, kind, product and region (a row per writer slot: sum them), as far as the user may see; rebate.kpis_of makes rebate.kpis of its sums (a report of a quarter reads its quarter rows: far fewer than the documents)';
GRANT SELECT ON @extschema@.channel_rollup TO rebate_admin, rebate_manager, rebate_partner;

-- Every partner's KPIs for a period, with last year's net sales (growth) and
-- its targets (achievement), in one pass over the rollups (rebate.channel_rollup:
-- the rows rebate.rollup_spans picks: a quarter's quarter rows), summed per partner;
-- products counted apart, per product (a key's writer slots netted: a product counts when it has lines).
CREATE OR REPLACE FUNCTION @extschema@.period_kpis(tenant_id bigint, period daterange)
    RETURNS TABLE (partner_id bigint, kpis @extschema@.kpis, growth numeric, achievement numeric, sales_target numeric,
                   collected_target numeric, quantity_target numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH spans AS (
        SELECT sp.unit, sp.from_day, sp.to_day, true AS is_current
          FROM unnest(@extschema@.rollup_spans(lower(period_kpis.period), upper(period_kpis.period))) sp
        UNION ALL
        SELECT sp.unit, sp.from_day, sp.to_day, false
          FROM unnest(@extschema@.rollup_spans((lower(period_kpis.period) - '1 year'::interval)::date,
                                               (upper(period_kpis.period) - '1 year'::interval)::date)) sp
    ), facts AS (
        SELECT s.is_current, f.*
          FROM spans s
          -- each span's rows by index: a lateral subquery (not pulled up: OFFSET 0) whose span columns are
          -- parameters, which enter the security-barrier view as a join condition would not
         CROSS JOIN LATERAL (SELECT x.* FROM @extschema@.channel_rollup x
                              WHERE x.tenant_id = period_kpis.tenant_id AND x.unit = s.unit
                                AND x.day >= s.from_day AND x.day < s.to_day
                             OFFSET 0) f
    ), products AS (
        -- the products sold: those whose order lines in the period net to more than none (a key's writer
        -- slots netted)
        SELECT n.partner_id, count(*) AS products
          FROM (SELECT f.partner_id FROM facts f
                 WHERE f.is_current AND f.kind = 'order' AND f.product_id <> 0
                 GROUP BY f.partner_id, f.product_id
                HAVING sum(f.lines) > 0) n
         GROUP BY n.partner_id
    ), targets AS (
        SELECT t.partner_id,
               sum(t.value) FILTER (WHERE t.metric = 'net_sales') AS sales_target,
               sum(t.value) FILTER (WHERE t.metric = 'collected') AS collected_target,
               sum(t.value) FILTER (WHERE t.metric = 'quantity') AS quantity_target
          FROM @extschema@.target t
         WHERE t.tenant_id = period_kpis.tenant_id AND t.partner_id IS NOT NULL
           AND lower(t.period) >= lower(period_kpis.period) AND upper(t.period) <= upper(period_kpis.period)
         GROUP BY t.partner_id
    ), per_partner AS (
        -- the sums in one step: they add up whatever the grouping
        SELECT f.partner_id,
               CASE WHEN sum(f.lines) FILTER (WHERE f.is_current) > 0 THEN
                   @extschema@.kpis_of(sum(f.amount) FILTER (WHERE f.is_current AND f.kind = 'order'),
                                       -sum(f.amount) FILTER (WHERE f.is_current AND f.kind = 'return'),
                                       -sum(f.amount) FILTER (WHERE f.is_current AND f.kind = 'credit_note'),
                                       sum(f.costed_amount) FILTER (WHERE f.is_current),
                                       sum(f.cost) FILTER (WHERE f.is_current),
                                       (sum(f.costed_lines) FILTER (WHERE f.is_current))::bigint,
                                       sum(f.quantity) FILTER (WHERE f.is_current),
                                       (sum(f.lines) FILTER (WHERE f.is_current AND f.kind <> 'payment'))::bigint,
                                       (sum(f.orders) FILTER (WHERE f.is_current AND f.product_id = 0))::bigint,
                                       sum(f.amount) FILTER (WHERE f.is_current AND f.kind = 'payment'),
                                       (sum(f.lines) FILTER (WHERE f.is_current AND f.kind = 'payment'))::bigint,
                                       (sum(f.promised_deliveries) FILTER (WHERE f.is_current AND f.product_id = 0))::bigint,
                                       (sum(f.on_time_deliveries) FILTER (WHERE f.is_current AND f.product_id = 0))::bigint,
                                       coalesce(min(pr.products), 0))
               END AS kpis,
               sum(f.amount) FILTER (WHERE f.is_current AND f.kind <> 'payment') AS net_sales,
               sum(f.amount) FILTER (WHERE NOT f.is_current AND f.kind <> 'payment') AS year_before_net_sales
          FROM facts f
          LEFT JOIN products pr ON pr.partner_id = f.partner_id
         GROUP BY f.partner_id
         -- a partner with documents in the period or the year before (writer slots that cancel out are nothing)
        HAVING sum(f.lines) FILTER (WHERE f.is_current) > 0
            OR sum(f.lines) FILTER (WHERE NOT f.is_current AND f.kind <> 'payment') > 0
    )
    SELECT coalesce(p.partner_id, t.partner_id), p.kpis,
           (SELECT @extschema@.growth(x.amount, x.is_current)
              FROM (VALUES (p.net_sales, true), (p.year_before_net_sales, false)) AS x (amount, is_current)),
           (SELECT @extschema@.achievement(x.actual, x.target)
              FROM (VALUES (p.net_sales, t.sales_target)) AS x (actual, target)),
           t.sales_target, t.collected_target, t.quantity_target
      FROM per_partner p
      FULL JOIN targets t ON t.partner_id = p.partner_id
$$;
COMMENT ON FUNCTION @extschema@.period_kpis(bigint, daterange) IS
    'Each partner''s KPIs (rebate.kpis) for a period, growth over the same period a year earlier, achievement of its sales target, and its targets';

-- ---- the report calendar ----------------------------------------------------
-- Every month, quarter and year from 1970 to 2199, each with the rollup rows
-- it reads (rows of its own unit: a quarter reads quarter rows): its own
-- (role current), and those of the period a year before and of the period
-- before (the growth they are compared with).  A table, not a function: a
-- condition on period_name picks a period's three starts first and the facts
-- are read by index for those alone, and a report over every period joins
-- the facts by unit and start, whatever the planner knows of the facts.
CREATE TABLE @extschema@.report_calendar (
    grain        text NOT NULL,
    period_start date NOT NULL,
    period_end   date NOT NULL,
    period_name  text NOT NULL,
    role         text NOT NULL,
    rows_start   date NOT NULL,
    PRIMARY KEY (grain, period_start, role)
);
INSERT INTO @extschema@.report_calendar
SELECT g.grain, p.period_start, p.period_end,
       @extschema@.period_label(pg_catalog.daterange(p.period_start, p.period_end), g.grain), w.role, w.rows_start
  FROM (VALUES ('month', '1 month'::pg_catalog.interval), ('quarter', '3 months'::pg_catalog.interval),
               ('year', '1 year'::pg_catalog.interval)) AS g (grain, step)
 CROSS JOIN LATERAL pg_catalog.generate_series('1970-01-01'::timestamp, '2199-12-01'::timestamp, g.step) AS s (day)
 CROSS JOIN LATERAL (SELECT s.day::date AS period_start, (s.day + g.step)::date AS period_end) AS p
 CROSS JOIN LATERAL (VALUES ('current', p.period_start), ('year_before', (p.period_start - '1 year'::pg_catalog.interval)::date),
                            ('period_before', (p.period_start - g.step)::date)) AS w (role, rows_start);
-- a report of every period joins the facts by their unit and start
CREATE INDEX report_calendar_rows ON @extschema@.report_calendar (grain, rows_start);
CREATE INDEX report_calendar_name ON @extschema@.report_calendar (period_name);
ANALYZE @extschema@.report_calendar;
REVOKE ALL ON @extschema@.report_calendar FROM PUBLIC;
COMMENT ON TABLE @extschema@.report_calendar IS
    'Internal (the reports read it as the extension owner): the reports'' calendar: every month, quarter and year from 1970 to 2199, with the start of the rollup rows (unit: the grain) that count for it (role current) and for the periods it is compared with (year_before, period_before)';

INSERT INTO @extschema@.report_query VALUES ('facts', $q$
SELECT p.grain, p.period_start, p.period_end, p.period_name, p.role, f.tenant_id, f.partner_id, f.currency, f.kind,
       f.product_id, f.region_id,
       CASE WHEN p.role = 'current' AND f.kind = 'order' THEN f.amount END AS gross_sales,
       CASE WHEN p.role = 'current' AND f.kind = 'return' THEN -f.amount END AS returns,
       CASE WHEN p.role = 'current' AND f.kind = 'credit_note' THEN -f.amount END AS credit_notes,
       CASE WHEN p.role = 'current' THEN f.costed_amount END AS costed_amount,
       CASE WHEN p.role = 'current' THEN f.cost END AS cost,
       CASE WHEN p.role = 'current' THEN f.costed_lines END AS costed_lines,
       CASE WHEN p.role = 'current' THEN f.quantity END AS quantity,
       CASE WHEN p.role = 'current' AND f.kind <> 'payment' THEN f.lines END AS lines,
       CASE WHEN p.role = 'current' AND f.kind = 'order' THEN f.lines END AS order_lines,
       CASE WHEN p.role = 'current' THEN f.lines END AS facts,
       CASE WHEN p.role = 'current' THEN f.orders END AS orders,
       CASE WHEN p.role = 'current' THEN f.promised_deliveries END AS promised_deliveries,
       CASE WHEN p.role = 'current' THEN f.on_time_deliveries END AS on_time_deliveries,
       CASE WHEN p.role = 'current' AND f.kind = 'payment' THEN f.amount END AS collected,
       CASE WHEN p.role = 'current' AND f.kind = 'payment' THEN f.lines END AS payments,
       CASE WHEN p.role = 'year_before' AND f.kind <> 'payment' THEN f.amount END AS year_before_net_sales,
       CASE WHEN p.role = 'period_before' AND f.kind <> 'payment' THEN f.amount END AS period_before_net_sales
  FROM @extschema@.report_calendar p
  JOIN %1$s f ON f.unit = p.grain AND f.day = p.rows_start
$q$);
-- the facts of the reports: every tenant's (the snapshots, the partner reports), and each user's own
SELECT @extschema@.create_report_view('@extschema@.report_facts_all', pg_catalog.format(query, '@extschema@.channel_rollup_all'))
  FROM @extschema@.report_query WHERE report = 'facts';
-- What rebate.channel_rollup shows the user, as a filter over report_facts_all, not over that security-barrier
-- view: a join condition does not enter a security-barrier view, so the period's start would not reach the
-- index.  Not itself a barrier: only the security-barrier reports over it are granted, and no user's
-- function runs inside them.  Costs only to roles that may read them (credit notes carry margin for all).
CREATE VIEW @extschema@.report_facts AS
SELECT f.grain, f.period_start, f.period_end, f.period_name, f.role, f.tenant_id, f.partner_id, f.currency, f.kind,
       f.product_id, f.region_id, f.gross_sales, f.returns, f.credit_notes,
       CASE WHEN (SELECT @extschema@.sees_costs()) OR f.kind = 'credit_note' THEN f.costed_amount ELSE 0 END
           AS costed_amount,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN f.cost ELSE 0 END AS cost,
       CASE WHEN (SELECT @extschema@.sees_costs()) OR f.kind = 'credit_note' THEN f.costed_lines ELSE 0 END
           AS costed_lines,
       f.quantity, f.lines, f.order_lines, f.facts, f.orders, f.promised_deliveries, f.on_time_deliveries,
       f.collected, f.payments, f.year_before_net_sales, f.period_before_net_sales
  FROM @extschema@.report_facts_all f
 WHERE f.tenant_id = ANY ((SELECT @extschema@.visible_tenant_ids())::bigint[])
   AND ((SELECT @extschema@.is_group_admin())
        OR (SELECT @extschema@.is_tenant_manager()) OR f.partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[]));
REVOKE ALL ON @extschema@.report_facts_all, @extschema@.report_facts FROM PUBLIC;
COMMENT ON VIEW @extschema@.report_facts_all IS
    'Internal (the extension owner''s): the rollup rows of every report period (rebate.report_calendar; of the period''s unit), of the period a year before and of the period before, for every tenant';
COMMENT ON VIEW @extschema@.report_facts IS
    'Internal (the extension owner''s): rebate.report_facts_all as far as the reading user may see it (what rebate.channel_rollup shows it): what the live region and product reports aggregate';

UPDATE @extschema@.report_query SET query = $q$
SELECT c.tenant_id, c.region_id, r.code AS region_code, r.name AS region_name, r.level AS region_level,
       r.parent_id AS parent_region_id, r.path AS region_path, c.grain,
       pg_catalog.daterange(c.period_start, c.period_end) AS period, c.period_name,
       c.currency, c.partners, (c.k).net_sales, (c.k).gross_sales, (c.k).returns, (c.k).credit_notes,
       -- margins only to roles that may read costs (a partner user's facts carry none)
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN (c.k).gross_margin END AS gross_margin,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN (c.k).margin_rate END AS margin_rate,
       (c.k).quantity, (c.k).orders, (c.k).average_order_value, (c.k).return_rate, (c.k).collected, (c.k).collection_rate,
       (c.k).on_time_rate, (c.k).products,
       tg.sales_target,
       (SELECT @extschema@.achievement(x.actual, x.target)
          FROM (VALUES ((c.k).net_sales, tg.sales_target)) AS x (actual, target)) AS achievement,
       (SELECT @extschema@.growth(x.amount, x.is_current)
          FROM (VALUES ((c.k).net_sales, true), (c.year_before, false)) AS x (amount, is_current)) AS yoy_growth,
       rank() OVER (PARTITION BY c.tenant_id, r.parent_id, c.grain, c.period_name, c.period_start, c.currency
                    ORDER BY (c.k).net_sales DESC) AS rank_among_siblings
  FROM (
    SELECT t.tenant_id, t.region_id, t.currency, t.grain, t.period_start, t.period_end, t.period_name,
           coalesce(d.partners, 0) AS partners,
           @extschema@.kpis_of(t.gross_sales, t.returns, t.credit_notes, t.costed_amount, t.cost, t.costed_lines::bigint,
                               t.quantity, t.lines::bigint, t.orders::bigint, t.collected, t.payments::bigint,
                               t.promised_deliveries::bigint, t.on_time_deliveries::bigint, coalesce(d.products, 0)) AS k,
           t.year_before
      -- the sums (they add up whatever the grouping): per leaf region, then up its path ...
      FROM (SELECT l.tenant_id, a.region_id, l.currency, l.grain, l.period_start, l.period_end, l.period_name,
                   sum(l.gross_sales) AS gross_sales, sum(l.returns) AS returns, sum(l.credit_notes) AS credit_notes,
                   sum(l.costed_amount) AS costed_amount, sum(l.cost) AS cost, sum(l.costed_lines) AS costed_lines,
                   sum(l.quantity) AS quantity, sum(l.lines) AS lines, sum(l.orders) AS orders,
                   sum(l.promised_deliveries) AS promised_deliveries, sum(l.on_time_deliveries) AS on_time_deliveries,
                   sum(l.collected) AS collected, sum(l.payments) AS payments, sum(l.year_before_net_sales) AS year_before
              FROM (SELECT f.tenant_id, f.region_id, f.currency, f.grain, f.period_start, f.period_end, f.period_name,
                           sum(f.gross_sales) AS gross_sales, sum(f.returns) AS returns, sum(f.credit_notes) AS credit_notes,
                           sum(f.costed_amount) AS costed_amount, sum(f.cost) AS cost, sum(f.costed_lines) AS costed_lines,
                           sum(f.quantity) AS quantity, sum(f.lines) AS lines, sum(f.facts) AS facts,
                           sum(f.orders) FILTER (WHERE f.product_id = 0) AS orders,
                           sum(f.promised_deliveries) FILTER (WHERE f.product_id = 0) AS promised_deliveries,
                           sum(f.on_time_deliveries) FILTER (WHERE f.product_id = 0) AS on_time_deliveries,
                           sum(f.collected) AS collected, sum(f.payments) AS payments,
                           sum(f.year_before_net_sales) AS year_before_net_sales
                      FROM %1$s f
                     WHERE f.role <> 'period_before'
                     GROUP BY f.tenant_id, f.region_id, f.currency, f.grain, f.period_start, f.period_end, f.period_name) l
              JOIN @extschema@.region lr ON lr.id = l.region_id
             CROSS JOIN LATERAL pg_catalog.unnest(lr.path) AS a (region_id)
             GROUP BY l.tenant_id, a.region_id, l.currency, l.grain, l.period_start, l.period_end, l.period_name
            HAVING sum(l.facts) > 0) t
      -- ... and the partners and products: those whose facts (order lines) in the period net to more than
      -- none (a key's writer slots netted per partner and product), each once per leaf region, then once
      -- per region up the path
      LEFT JOIN (SELECT e.tenant_id, e.region_id, e.currency, e.grain, e.period_start, e.period_name,
                        count(*) FILTER (WHERE e.what = 'partner') AS partners,
                        count(*) FILTER (WHERE e.what = 'product') AS products
                   FROM (SELECT DISTINCT u.tenant_id, a.region_id, u.currency, u.grain, u.period_start, u.period_name,
                                u.what, u.id
                           FROM (SELECT DISTINCT n.tenant_id, n.region_id, n.currency, n.grain, n.period_start,
                                        n.period_name, v.what, v.id
                                   FROM (SELECT f.tenant_id, f.region_id, f.currency, f.grain, f.period_start, f.period_name,
                                                f.partner_id, f.product_id, sum(f.facts) AS facts,
                                                sum(f.order_lines) AS order_lines
                                           FROM %1$s f
                                          WHERE f.role = 'current'
                                          GROUP BY f.tenant_id, f.region_id, f.currency, f.grain, f.period_start,
                                                   f.period_name, f.partner_id, f.product_id) n
                                  CROSS JOIN LATERAL (VALUES ('partner', n.partner_id, n.facts > 0),
                                                             ('product', n.product_id,
                                                              n.product_id <> 0 AND n.order_lines > 0)) AS v (what, id, counts)
                                  WHERE v.counts) u
                           JOIN @extschema@.region lr ON lr.id = u.region_id
                          CROSS JOIN LATERAL pg_catalog.unnest(lr.path) AS a (region_id)) e
                  GROUP BY e.tenant_id, e.region_id, e.currency, e.grain, e.period_start, e.period_name) d
        ON d.tenant_id = t.tenant_id AND d.region_id = t.region_id AND d.currency = t.currency AND d.grain = t.grain
       AND d.period_start = t.period_start AND d.period_name = t.period_name) c
  JOIN @extschema@.region r ON r.id = c.region_id
  -- region targets are the brand's: partner users, whom row-level security does not show them, get NULL
  LEFT JOIN LATERAL (SELECT sum(t.value) AS sales_target FROM @extschema@.target t
                      WHERE t.tenant_id = c.tenant_id AND t.region_id = c.region_id AND t.metric = 'net_sales'
                        AND lower(t.period) >= c.period_start AND upper(t.period) <= c.period_end
                        AND ((SELECT @extschema@.is_group_admin()) OR (SELECT @extschema@.is_tenant_manager()))) tg ON true
$q$ WHERE report = 'region';
UPDATE @extschema@.report_query SET query = $q$
SELECT c.tenant_id, c.product_id, pr.sku, pr.name AS product_name, pr.category_id, pc.path AS category_path, c.grain,
       pg_catalog.daterange(c.period_start, c.period_end) AS period, c.period_name,
       c.currency, c.partners, (c.k).net_sales, (c.k).gross_sales, (c.k).returns, (c.k).credit_notes,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN (c.k).gross_margin END AS gross_margin,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN (c.k).margin_rate END AS margin_rate,
       (c.k).quantity, (c.k).orders, (c.k).average_order_value, (c.k).return_rate, (c.k).on_time_rate, (c.k).products,
       (SELECT @extschema@.growth(x.amount, x.is_current)
          FROM (VALUES ((c.k).net_sales, true), (c.year_before, false)) AS x (amount, is_current)) AS yoy_growth,
       rank() OVER (PARTITION BY c.tenant_id, pr.category_id, c.grain, c.period_name, c.period_start, c.currency
                    ORDER BY (c.k).net_sales DESC) AS rank_in_category,
       rank() OVER (PARTITION BY c.tenant_id, c.grain, c.period_name, c.period_start, c.currency
                    ORDER BY (c.k).net_sales DESC) AS rank_overall
  FROM (
    SELECT l.tenant_id, l.product_id, l.currency, l.grain, l.period_start, l.period_end, l.period_name,
           count(*) FILTER (WHERE l.facts > 0) AS partners,
           @extschema@.kpis_of(sum(l.gross_sales), sum(l.returns), sum(l.credit_notes), sum(l.costed_amount), sum(l.cost),
                               sum(l.costed_lines)::bigint, sum(l.quantity), sum(l.lines)::bigint,
                               (sum(l.orders))::bigint, sum(l.collected), sum(l.payments)::bigint,
                               (sum(l.promised_deliveries))::bigint,
                               (sum(l.on_time_deliveries))::bigint, count(DISTINCT l.product_id) FILTER (WHERE l.order_lines > 0)) AS k,
           sum(l.year_before_net_sales) AS year_before
      FROM (SELECT f.tenant_id, f.product_id, f.currency, f.grain, f.period_start, f.period_end, f.period_name,
                   f.partner_id, sum(f.gross_sales) AS gross_sales, sum(f.returns) AS returns, sum(f.credit_notes) AS credit_notes,
                       sum(f.costed_amount) AS costed_amount, sum(f.cost) AS cost, sum(f.costed_lines) AS costed_lines,
                       sum(f.quantity) AS quantity, sum(f.lines) AS lines, sum(f.order_lines) AS order_lines,
                       sum(f.facts) AS facts, sum(f.orders) AS orders, sum(f.promised_deliveries) AS promised_deliveries,
                       sum(f.on_time_deliveries) AS on_time_deliveries, sum(f.collected) AS collected,
                       sum(f.payments) AS payments, sum(f.year_before_net_sales) AS year_before_net_sales
              FROM %1$s f
             WHERE f.role <> 'period_before' AND f.kind <> 'payment' AND f.product_id <> 0
             GROUP BY f.tenant_id, f.product_id, f.currency, f.grain, f.period_start, f.period_end, f.period_name,
                      f.partner_id) l
     GROUP BY l.tenant_id, l.product_id, l.currency, l.grain, l.period_start, l.period_end, l.period_name
    HAVING sum(l.facts) > 0) c
  JOIN @extschema@.product pr ON pr.id = c.product_id
  LEFT JOIN @extschema@.product_category pc ON pc.id = pr.category_id
$q$ WHERE report = 'product';
UPDATE @extschema@.report_query SET query = $q$
SELECT p.tenant_id, p.partner_id, p.partner_code, p.partner_name, p.home_region_id, p.ranking_region_id, p.grain,
       p.period, p.period_name, p.currency,
       (p.kpis).net_sales, (p.kpis).gross_sales, (p.kpis).returns, (p.kpis).credit_notes,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN (p.kpis).gross_margin END AS gross_margin,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN (p.kpis).margin_rate END AS margin_rate,
       (p.kpis).quantity, (p.kpis).orders, (p.kpis).average_order_value, (p.kpis).return_rate, (p.kpis).collected,
       (p.kpis).collection_rate, (p.kpis).on_time_rate, (p.kpis).products,
       p.sales_target, p.achievement, p.yoy_growth, p.previous_growth, p.rank_in_region, p.rank_overall,
       p.rebate_earned, p.rebate_to_sales
  FROM %1$s p
 -- (the tenant as an array: the condition reaches the facts' index below the windows)
 WHERE p.tenant_id = ANY ((SELECT @extschema@.visible_tenant_ids())::bigint[])
   AND ((SELECT @extschema@.is_group_admin()) OR (SELECT @extschema@.is_tenant_manager())
        OR p.partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[]))
$q$ WHERE report = 'partner';
UPDATE @extschema@.report_query SET query = $q$
WITH rebates AS (
    SELECT s.tenant_id, s.partner_id, s.currency, pg_catalog.date_trunc('quarter', lower(s.period))::date AS quarter_start,
           sl.program_id, sum(sl.net) AS program_rebate
      FROM @extschema@.statement s JOIN @extschema@.statement_line sl ON sl.statement_id = s.id
     WHERE s.status <> 'draft'
     GROUP BY 1, 2, 3, 4, 5
), per_partner AS (
    SELECT r.tenant_id, r.partner_id, r.currency, r.quarter_start, sum(r.program_rebate) AS partner_rebate
      FROM rebates r GROUP BY 1, 2, 3, 4
), judged AS (
    SELECT pp.*, q.partner_code, q.partner_name, q.period, q.period_name, coalesce((q.kpis).net_sales, 0) AS net_sales,
           coalesce(q.yoy_growth, q.previous_growth) AS growth,
           CASE WHEN q.yoy_growth IS NOT NULL THEN 'year' WHEN q.previous_growth IS NOT NULL THEN 'quarter' END AS growth_basis,
           CASE WHEN (q.kpis).net_sales > 0 THEN pg_catalog.round(pp.partner_rebate / (q.kpis).net_sales, 4) END AS rebate_rate
      FROM per_partner pp
      JOIN %1$s q ON q.tenant_id = pp.tenant_id AND q.partner_id = pp.partner_id AND q.currency = pp.currency
                 AND q.grain = 'quarter' AND lower(q.period) = pp.quarter_start
), shares AS (
    -- the share of the quarter's partners at or below each one (exact cume_dist); no rate or growth: no share
    -- (period_name, one per quarter, is in every partition, so that a condition on it reaches the facts)
    SELECT j.*,
           CASE WHEN j.rebate_rate IS NOT NULL THEN
                pg_catalog.round((count(*) OVER (PARTITION BY j.tenant_id, j.period_name, j.currency, j.quarter_start, j.rebate_rate IS NULL
                                                 ORDER BY j.rebate_rate))::numeric
                                 / count(*) OVER (PARTITION BY j.tenant_id, j.period_name, j.currency, j.quarter_start, j.rebate_rate IS NULL), 4)
           END AS rebate_rate_share,
           CASE WHEN j.growth IS NOT NULL THEN
                pg_catalog.round((count(*) OVER (PARTITION BY j.tenant_id, j.period_name, j.currency, j.quarter_start, j.growth IS NULL
                                                 ORDER BY j.growth))::numeric
                                 / count(*) OVER (PARTITION BY j.tenant_id, j.period_name, j.currency, j.quarter_start, j.growth IS NULL), 4)
           END AS growth_share
      FROM judged j
)
SELECT s.tenant_id, s.partner_id, s.partner_code, s.partner_name, s.period, s.period_name, s.currency, r.program_id,
       pg.code AS program_code, r.program_rebate, s.partner_rebate, s.net_sales, s.rebate_rate, s.growth, s.growth_basis,
       s.rebate_rate_share, s.growth_share,
       coalesce(s.rebate_rate_share >= cfg.high AND s.growth_share <= cfg.low, false) AS high_rebate_low_output,
       CASE WHEN s.rebate_rate_share >= cfg.high AND s.growth_share <= cfg.low
            THEN pg_catalog.format('rebate rate %%s in the top %%s%%%% and growth %%s in the bottom %%s%%%% of the quarter''s partners',
                                   s.rebate_rate, pg_catalog.trim_scale((1 - cfg.high) * 100), s.growth,
                                   pg_catalog.trim_scale(cfg.low * 100)) END AS reason
  FROM shares s
  JOIN rebates r ON r.tenant_id = s.tenant_id AND r.partner_id = s.partner_id AND r.currency = s.currency
                AND r.quarter_start = s.quarter_start
  LEFT JOIN @extschema@.program pg ON pg.id = r.program_id
  LEFT JOIN @extschema@.performance_setting ps ON ps.tenant_id = s.tenant_id
 CROSS JOIN LATERAL (SELECT coalesce(ps.high_rebate_share, 0.75) AS high, coalesce(ps.low_growth_share, 0.25) AS low) cfg
 WHERE s.tenant_id = ANY ((SELECT @extschema@.visible_tenant_ids())::bigint[])
   AND ((SELECT @extschema@.is_group_admin()) OR (SELECT @extschema@.is_tenant_manager()))
$q$ WHERE report = 'efficiency';
UPDATE @extschema@.report_query SET query = $q$
SELECT q.tenant_id, q.period, q.period_name, q.currency, q.rank_overall AS rank,
       CASE WHEN v.named THEN q.partner_id END AS partner_id,
       CASE WHEN v.named THEN q.partner_name ELSE pg_catalog.format('#%%s', q.rank_overall) END AS partner_label,
       v.own AS is_own,
       -- anonymous: no amounts of others (net sales and achievement together would give their hidden targets)
       CASE WHEN v.named THEN (q.kpis).net_sales END AS net_sales, q.achievement, q.yoy_growth
  FROM %1$s q
  LEFT JOIN @extschema@.performance_setting ps ON ps.tenant_id = q.tenant_id
 CROSS JOIN LATERAL (
       -- staff see every name; a partner user its own rows, and the others as the tenant set
       SELECT (SELECT @extschema@.current_partner_id()) IS NOT NULL
              AND q.partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[]) AS own,
              (SELECT @extschema@.is_group_admin()) OR (SELECT @extschema@.is_tenant_manager()) AS staff,
              coalesce(ps.leaderboard, 'anonymous') AS mode) AS v0
 CROSS JOIN LATERAL (SELECT v0.own, v0.staff OR v0.own OR v0.mode = 'named' AS named, v0.mode) AS v
 WHERE q.grain = 'quarter'
   AND q.tenant_id = ANY ((SELECT @extschema@.visible_tenant_ids())::bigint[])
   AND (v.named OR v.mode = 'anonymous')
$q$ WHERE report = 'leaderboard';
CREATE OR REPLACE VIEW @extschema@.partner_performance_all AS
SELECT w.tenant_id, w.partner_id, w.partner_code, w.partner_name, w.home_region_id, w.ranking_region_id, w.grain,
       pg_catalog.daterange(w.period_start, w.period_end) AS period, w.period_name, w.currency, w.k AS kpis,
       w.sales_target,
       (SELECT @extschema@.achievement(x.actual, x.target) FROM (VALUES (w.net_sales, w.sales_target)) AS x (actual, target))
           AS achievement,
       (SELECT @extschema@.growth(x.amount, x.is_current)
          FROM (VALUES (w.net_sales, true), (w.year_before, false)) AS x (amount, is_current)) AS yoy_growth,
       (SELECT @extschema@.growth(x.amount, x.is_current)
          FROM (VALUES (w.net_sales, true), (w.period_before, false)) AS x (amount, is_current)) AS previous_growth,
       w.rank_in_region, w.rank_overall,
       coalesce(w.rebate_earned, 0) AS rebate_earned,
       CASE WHEN w.net_sales > 0 THEN pg_catalog.round(coalesce(w.rebate_earned, 0) / w.net_sales, 4) END AS rebate_to_sales
  FROM (
    SELECT c.*,
           rank() OVER (PARTITION BY c.tenant_id, c.grain, c.period_name, c.period_start, c.currency, c.ranking_region_id
                        ORDER BY c.net_sales DESC) AS rank_in_region,
           rank() OVER (PARTITION BY c.tenant_id, c.grain, c.period_name, c.period_start, c.currency
                        ORDER BY c.net_sales DESC) AS rank_overall
      FROM (
        SELECT b.*, pa.code AS partner_code, pa.name AS partner_name, pa.home_region_id,
               @extschema@.ranking_region(hr.path) AS ranking_region_id,
               (SELECT sum(t.value) FROM @extschema@.target t
                 WHERE t.tenant_id = b.tenant_id AND t.partner_id = b.partner_id AND t.metric = 'net_sales'
                   AND lower(t.period) >= b.period_start AND upper(t.period) <= b.period_end) AS sales_target,
               (SELECT sum(sl.net) FROM @extschema@.statement s JOIN @extschema@.statement_line sl ON sl.statement_id = s.id
                 WHERE s.tenant_id = b.tenant_id AND s.partner_id = b.partner_id AND s.currency = b.currency
                   AND s.status <> 'draft' AND lower(s.period) >= b.period_start AND upper(s.period) <= b.period_end)
                   AS rebate_earned,
               (b.k).net_sales AS net_sales
          FROM (
            SELECT t.tenant_id, t.partner_id, t.currency, t.grain, t.period_start, t.period_end, t.period_name,
                   @extschema@.kpis_of(t.gross_sales, t.returns, t.credit_notes, t.costed_amount, t.cost,
                                       t.costed_lines::bigint, t.quantity, t.lines::bigint, t.orders::bigint, t.collected,
                                       t.payments::bigint, t.promised_deliveries::bigint, t.on_time_deliveries::bigint,
                                       coalesce(pr.products, 0)) AS k,
                   t.year_before, t.period_before
              -- the sums in one step (they add up whatever the grouping) ...
              FROM (SELECT f.tenant_id, f.partner_id, f.currency, f.grain, f.period_start, f.period_end, f.period_name,
                           sum(f.gross_sales) AS gross_sales, sum(f.returns) AS returns, sum(f.credit_notes) AS credit_notes,
                           sum(f.costed_amount) AS costed_amount, sum(f.cost) AS cost, sum(f.costed_lines) AS costed_lines,
                           sum(f.quantity) AS quantity, sum(f.lines) AS lines,
                           sum(f.orders) FILTER (WHERE f.product_id = 0) AS orders,
                           sum(f.promised_deliveries) FILTER (WHERE f.product_id = 0) AS promised_deliveries,
                           sum(f.on_time_deliveries) FILTER (WHERE f.product_id = 0) AS on_time_deliveries,
                           sum(f.collected) AS collected, sum(f.payments) AS payments,
                           sum(f.year_before_net_sales) AS year_before, sum(f.period_before_net_sales) AS period_before
                      FROM @extschema@.report_facts_all f
                     GROUP BY f.tenant_id, f.partner_id, f.currency, f.grain, f.period_start, f.period_end, f.period_name
                    HAVING sum(f.facts) > 0) t
              -- ... and the products sold: those whose order lines of the period net to more than none (a key's
              -- writer slots netted), from the period's order rows only
              LEFT JOIN (SELECT x.tenant_id, x.partner_id, x.currency, x.grain, x.period_start, x.period_name,
                                count(*) AS products
                           FROM (SELECT f.tenant_id, f.partner_id, f.currency, f.grain, f.period_start, f.period_name
                                   FROM @extschema@.report_facts_all f
                                  WHERE f.role = 'current' AND f.kind = 'order' AND f.product_id <> 0
                                  GROUP BY f.tenant_id, f.partner_id, f.currency, f.grain, f.period_start, f.period_name,
                                           f.product_id
                                 HAVING sum(f.lines) > 0) x
                          GROUP BY x.tenant_id, x.partner_id, x.currency, x.grain, x.period_start, x.period_name) pr
                ON pr.tenant_id = t.tenant_id AND pr.partner_id = t.partner_id AND pr.currency = t.currency
               AND pr.grain = t.grain AND pr.period_start = t.period_start AND pr.period_name = t.period_name) b
          JOIN @extschema@.partner pa ON pa.id = b.partner_id
          LEFT JOIN @extschema@.region hr ON hr.id = pa.home_region_id) c) w;
DO $$
BEGIN
    EXECUTE (SELECT pg_catalog.format('CREATE OR REPLACE VIEW @extschema@.v_region_performance AS %s',
                                      pg_catalog.format(query, '@extschema@.report_facts'))
               FROM @extschema@.report_query WHERE report = 'region');
    EXECUTE (SELECT pg_catalog.format('CREATE OR REPLACE VIEW @extschema@.v_product_performance AS %s',
                                      pg_catalog.format(query, '@extschema@.report_facts'))
               FROM @extschema@.report_query WHERE report = 'product');
    EXECUTE (SELECT pg_catalog.format('CREATE OR REPLACE VIEW @extschema@.v_partner_performance AS %s',
                                      pg_catalog.format(query, '@extschema@.partner_performance_all'))
               FROM @extschema@.report_query WHERE report = 'partner');
    EXECUTE (SELECT pg_catalog.format('CREATE OR REPLACE VIEW @extschema@.v_partner_performance_snapshot AS %s',
                                      pg_catalog.format(query, '@extschema@.partner_performance_snapshot'))
               FROM @extschema@.report_query WHERE report = 'partner');
    EXECUTE (SELECT pg_catalog.format('CREATE OR REPLACE VIEW @extschema@.v_rebate_efficiency AS %s',
                                      pg_catalog.format(query, '@extschema@.partner_performance_all'))
               FROM @extschema@.report_query WHERE report = 'efficiency');
    EXECUTE (SELECT pg_catalog.format('CREATE OR REPLACE VIEW @extschema@.v_rebate_efficiency_snapshot AS %s',
                                      pg_catalog.format(query, '@extschema@.partner_performance_snapshot'))
               FROM @extschema@.report_query WHERE report = 'efficiency');
    EXECUTE (SELECT pg_catalog.format('CREATE OR REPLACE VIEW @extschema@.v_leaderboard AS %s',
                                      pg_catalog.format(query, '@extschema@.partner_performance_all'))
               FROM @extschema@.report_query WHERE report = 'leaderboard');
    EXECUTE (SELECT pg_catalog.format('CREATE OR REPLACE VIEW @extschema@.v_leaderboard_snapshot AS %s',
                                      pg_catalog.format(query, '@extschema@.partner_performance_snapshot'))
               FROM @extschema@.report_query WHERE report = 'leaderboard');
END
$$;
ALTER VIEW @extschema@.v_region_performance SET (security_barrier);
ALTER VIEW @extschema@.v_product_performance SET (security_barrier);
ALTER VIEW @extschema@.v_partner_performance SET (security_barrier);
ALTER VIEW @extschema@.v_partner_performance_snapshot SET (security_barrier);
ALTER VIEW @extschema@.v_rebate_efficiency SET (security_barrier);
ALTER VIEW @extschema@.v_rebate_efficiency_snapshot SET (security_barrier);
ALTER VIEW @extschema@.v_leaderboard SET (security_barrier);
ALTER VIEW @extschema@.v_leaderboard_snapshot SET (security_barrier);
-- the region and product snapshots are made anew over the rollups (with their views), keeping the
-- privileges the installation granted on them
DO $upgrade$
DECLARE
    grants jsonb;
    g      record;
BEGIN
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('relname', c.relname, 'grantee', a.grantee,
                                                              'privilege_type', a.privilege_type,
                                                              'is_grantable', a.is_grantable))
      INTO grants
      FROM pg_catalog.pg_class c CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
     WHERE c.relnamespace = '@extschema@'::regnamespace
       AND c.relname IN ('region_performance_snapshot', 'product_performance_snapshot', 'v_region_performance_snapshot',
                         'v_product_performance_snapshot')
       AND a.grantee <> c.relowner;
    DROP VIEW @extschema@.v_region_performance_snapshot, @extschema@.v_product_performance_snapshot;
    DROP MATERIALIZED VIEW @extschema@.region_performance_snapshot, @extschema@.product_performance_snapshot;
    PERFORM @extschema@.create_report_view('@extschema@.region_performance_snapshot',
                                           pg_catalog.format(query, '@extschema@.report_facts_all'), 'materialized')
       FROM @extschema@.report_query WHERE report = 'region';
    PERFORM @extschema@.create_report_view('@extschema@.product_performance_snapshot',
                                           pg_catalog.format(query, '@extschema@.report_facts_all'), 'materialized')
       FROM @extschema@.report_query WHERE report = 'product';
    CREATE UNIQUE INDEX region_performance_snapshot_key
        ON @extschema@.region_performance_snapshot (tenant_id, region_id, grain, period, currency);
    CREATE UNIQUE INDEX product_performance_snapshot_key
        ON @extschema@.product_performance_snapshot (tenant_id, product_id, grain, period, currency);
    REVOKE ALL ON @extschema@.region_performance_snapshot, @extschema@.product_performance_snapshot FROM PUBLIC;
    CREATE VIEW @extschema@.v_region_performance_snapshot AS
    SELECT s.* FROM @extschema@.region_performance_snapshot s
     WHERE (SELECT @extschema@.is_group_admin())
        OR (s.tenant_id = (SELECT @extschema@.current_tenant_id()) AND (SELECT @extschema@.is_tenant_manager()));
    CREATE VIEW @extschema@.v_product_performance_snapshot AS
    SELECT s.* FROM @extschema@.product_performance_snapshot s
     WHERE (SELECT @extschema@.is_group_admin())
        OR (s.tenant_id = (SELECT @extschema@.current_tenant_id()) AND (SELECT @extschema@.is_tenant_manager()));
    ALTER VIEW @extschema@.v_region_performance_snapshot SET (security_barrier);
    ALTER VIEW @extschema@.v_product_performance_snapshot SET (security_barrier);
    GRANT SELECT ON @extschema@.v_region_performance_snapshot, @extschema@.v_product_performance_snapshot
       TO rebate_admin, rebate_manager, rebate_partner;
    FOR g IN SELECT * FROM pg_catalog.jsonb_to_recordset(coalesce(grants, '[]'))
                        AS x (relname text, grantee oid, privilege_type text, is_grantable boolean) LOOP
        EXECUTE pg_catalog.format('GRANT %s ON @extschema@.%I TO %s%s', g.privilege_type, g.relname,
                                  CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END,
                                  CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$upgrade$;
COMMENT ON VIEW @extschema@.v_region_performance_snapshot IS
    '区域绩效（快照） v_region_performance over every partner''s facts as of the last refresh; managers and admins';
COMMENT ON VIEW @extschema@.v_product_performance_snapshot IS
    '产品绩效（快照） v_product_performance over every partner''s facts as of the last refresh; managers and admins';
-- Every column of every view has a comment in Chinese and English (BI tools
-- show them as field descriptions): the columns no COMMENT ON COLUMN above
-- describes take the description of their name from this map, and the
-- install fails if one has neither.
-- Comments every column of the views given, from a dictionary by column
-- name (one wording per name across a module's views); a column the
-- dictionary lacks is an error, so no column goes undescribed.
CREATE FUNCTION @extschema@.comment_view_columns(views regclass[], comments jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col record;
    described text;
BEGIN
    FOR col IN
        SELECT a.attrelid::regclass AS view, a.attname
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = ANY (views) AND a.attnum > 0 AND NOT a.attisdropped
    LOOP
        described := comments ->> col.attname::text;
        IF described IS NULL THEN
            RAISE EXCEPTION 'view % column % has no comment', col.view, col.attname;
        END IF;
        EXECUTE pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L', col.view, col.attname, described);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.comment_view_columns(regclass[], jsonb) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.comment_view_columns(regclass[], jsonb) IS
    'Internal: comments every column of the views from a dictionary by column name; a column it lacks is an error';

DO $$
DECLARE
    col       record;
    described text;
    comments  jsonb;
BEGIN
    -- (in parts: a function takes at most 100 arguments)
    comments := pg_catalog.jsonb_build_object(
        'tenant_id', '租户 Tenant: the manufacturer or brand',
        'partner_id', '渠道商 Partner id (rebate.partner)',
        'partner_code', '渠道商编码 Partner code',
        'partner_name', '渠道商名称 Partner name',
        'home_region_id', '所在区域 The partner''s home region (rebate.region)',
        'ranking_region_id', '排名大区 The region the partner is ranked in: the second level of the region tree above its home region',
        'grain', '统计粒度 Grain: month, quarter or year',
        'period', '统计期间 The period: [first day, first day of the next period)',
        'period_name', '期间名称 The period by name: 2026-07, 2026-Q3, 2026',
        'currency', '币种 Currency of the amounts',
        'net_sales', '净销售额 Net sales: gross sales - returns - credit notes',
        'gross_sales', '销售额 Gross sales: the amounts of order lines',
        'returns', '退货额 Returns, positive',
        'credit_notes', '折让额 Credit notes, positive',
        'gross_margin', '毛利 Gross margin over lines with a cost; NULL for users who may not see costs',
        'margin_rate', '毛利率 Gross margin / net sales of the lines with a cost; NULL for users who may not see costs',
        'quantity', '净数量 Net quantity: ordered - returned',
        'orders', '订单数 Distinct orders',
        'average_order_value', '客单价 Average order value: gross sales / orders',
        'return_rate', '退货率 Return rate: returns / gross sales',
        'collected', '回款额 Payments received',
        'collection_rate', '回款率 Collection rate: collected / net sales',
        'on_time_rate', '准时交付率 On-time delivery rate: orders delivered by the promised date / delivered orders with one',
        'products', '动销品种数 Distinct products sold',
        'partners', '渠道商数 Partners with documents in the period',
        'sales_target', '销售目标 Sales target: the targets lying inside the period',
        'achievement', '目标达成率 Target achievement: net sales / sales target; NULL without a target',
        'yoy_growth', '同比增长率 Growth of net sales over the same period a year earlier; NULL without a base',
        'previous_growth', '环比增长率 Growth of net sales over the previous period of the same grain (MoM, QoQ, YoY for years); NULL without a base',
        'rank_in_region', '大区内排名 Rank by net sales among the partners of the same ranking region',
        'rank_overall', '总排名 Rank by net sales among the tenant''s partners (or products) in the period',
        'rebate_earned', '已结算返利 Rebate on issued statements of periods inside this one',
        'rebate_to_sales', '返利销售比 Rebate earned / net sales',
        'region_id', '区域 Region id (rebate.region); its figures include every region below it',
        'region_code', '区域编码 Region code',
        'region_name', '区域名称 Region name',
        'region_level', '区域层级 Region level: country, area, province, city, district',
        'parent_region_id', '上级区域 Parent region: drill up',
        'region_path', '区域路径 Region ids from the top down to this one: drill down and up',
        'rank_among_siblings', '同级排名 Rank by net sales among the regions with the same parent')
        || pg_catalog.jsonb_build_object(
        'product_id', '产品 Product id (rebate.product)',
        'sku', '产品编码 SKU',
        'product_name', '产品名称 Product name',
        'category_id', '产品类别 Product category',
        'category_path', '类别路径 Category ids from the top down to the product''s category: drill down and up',
        'rank_in_category', '类别内排名 Rank by net sales among the products of the same category',
        'program_id', '返利政策 Rebate program id',
        'program_code', '政策编码 Rebate program code',
        'program_rebate', '政策返利 Rebate of this program on the partner''s issued statements in the quarter',
        'partner_rebate', '渠道商返利合计 The partner''s rebate from all programs in the quarter',
        'rebate_rate', '返利率 Partner rebate / net sales',
        'growth', '增长率 Growth of net sales: over the same quarter a year earlier, else over the previous quarter',
        'growth_basis', '增长基准 What growth compares with: year (同比) or quarter (环比)',
        'rebate_rate_share', '返利率分位 Share of the quarter''s partners with a rebate rate at or below this one',
        'growth_share', '增长分位 Share of the quarter''s partners with growth at or below this one',
        'high_rebate_low_output', '高返利低产出 Rebate rate in the top and growth in the bottom share the tenant set (rebate.performance_setting)',
        'reason', '原因 Why the partner is flagged',
        'rank', '名次 Rank by net sales in the quarter',
        'partner_label', '渠道商 The partner''s name, or #rank where the tenant shows others anonymously',
        'is_own', '本渠道商 Whether the row is the viewing partner''s own')
        || pg_catalog.jsonb_build_object(
        'kpi_values', '指标值 The scoring model''s KPI values of the partner (JSON by KPI)',
        'scores', '指标得分 Each KPI''s score, 0 to its cap (JSON by KPI; NULL: not scored, its weight left out)',
        'total', '综合得分 Weighted total score',
        'rank_in_tenant', '总排名 Rank by total score in the tenant',
        'band_grade', '得分等级 The grade band the total falls in',
        'current_grade', '当前等级 The partner''s grade now',
        'suggested_grade', '建议等级 The grade the model suggests (upgrade, downgrade or first assignment)',
        'change', '等级变动 upgrade, downgrade, assign, or NULL')
        || pg_catalog.jsonb_build_object(
        -- the fact views (sales_fact, channel_fact and channel_fact_all) and the snapshots
        'kind', '单据类型 Document kind: order, return or credit_note (lines), or payment',
        'status', '订单状态 The order''s status (rebate.sales_order.status)',
        'order_date', '订单日期 The order''s date (returns and credit notes: their own date)',
        'day', '日期 The order date of lines, the day received of payments',
        'order_id', '订单 Order, return or credit note id (rebate.sales_order); NULL for payments',
        'order_line_id', '订单行 Order line id (rebate.order_line); NULL for payments',
        'payment_id', '回款 Payment id (rebate.payment); NULL for lines',
        'amount', '金额 Line amount (negative for returns and credit notes) or payment amount',
        'cost', '成本 Cost of the goods on the line, signed like quantity; NULL where the line has no cost or the user may not see costs',
        'promised_on', '承诺交期 The day delivery was promised by (rebate.sales_order.promised_on)',
        'delivered_on', '交付日期 The day the goods were delivered (rebate.sales_order.delivered_on)',
        'kpis', '渠道指标 All channel KPIs of the row (rebate.kpis, from rebate.channel_kpis)')
        || pg_catalog.jsonb_build_object(
        -- the rollup fact views (channel_rollup and channel_rollup_all)
        'unit', '汇总粒度 day: the row sums one day; month: the month starting at day',
        'lines', '行数 Order, return and credit-note lines, or payments, summed into the row',
        'costed_amount', '有成本金额 Amount of the lines with a cost, and of credit notes: gross margin = costed_amount - cost',
        'costed_lines', '有成本行数 Lines with a cost, and credit-note lines',
        'promised_deliveries', '承诺交付订单数 Orders with a promised date that were delivered',
        'on_time_deliveries', '准时交付订单数 Of those, orders delivered on or before the promised date',
        -- the report facts (report_facts, report_facts_all)
        'role', '角色 current: the period''s own rows; year_before, period_before: the rows it is compared with',
        'period_start', '期初 The first day of the period',
        'period_end', '期末 The first day after the period',
        'order_lines', '订单行数 Lines of orders (kind order) in the current period',
        'facts', '事实数 Lines and payments in the current period: whether there is anything',
        'year_before_net_sales', '去年同期净销售额 Net sales of the rows a year before',
        'period_before_net_sales', '上期净销售额 Net sales of the rows of the period before',
        'payments', '回款笔数 Payments counted');
    FOR col IN
        SELECT a.attrelid::regclass AS view, a.attname
          FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
         WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind IN ('v', 'm')
           AND a.attnum > 0 AND NOT a.attisdropped
           AND pg_catalog.col_description(a.attrelid, a.attnum) IS NULL
    LOOP
        described := comments ->> col.attname::text;
        IF described IS NULL THEN
            RAISE EXCEPTION 'view % column % has no comment', col.view, col.attname;
        END IF;
        EXECUTE pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L', col.view, col.attname, described);
    END LOOP;
END
$$;

-- ---- issue 17: the inbox (notifications.sql) and the approval engine (approvals.sql)
-- ---------------------------------------------------------------------------
-- Notifications: every event a partner or a manager must act on lands in
-- rebate.notification, an inbox row-level security shows to its audience,
-- and is announced with NOTIFY, which PostgreSQL delivers when the writing
-- transaction commits and never when it rolls back.  A listener anyone
-- could start would see every payload, so each audience has its own channel
-- whose name only that audience can learn (rebate.inbox_channel), and the
-- payload carries ids, never names or amounts.  docs/collaboration.md
-- documents the events, the channels and the payload.
-- ---------------------------------------------------------------------------

-- The events, one vocabulary for every module that notifies.
CREATE TABLE @extschema@.notification_event (
    event       text PRIMARY KEY CHECK (event ~ '^[a-z_]+$'),
    audience    text NOT NULL CHECK (audience IN ('partner', 'managers', 'approver', 'requester')),
    description text NOT NULL
);
COMMENT ON TABLE @extschema@.notification_event IS
    'The events that land in the inbox (rebate.notification), whom each is for, and what it means';
COMMENT ON COLUMN @extschema@.notification_event.audience IS
    'partner: the users of the partner concerned; managers: the tenant''s managers; approver: whoever must decide; requester: who asked';
INSERT INTO @extschema@.notification_event (event, audience, description) VALUES
    ('order_status_changed', 'partner', 'An order, return or credit note of the partner changed status'),
    ('statement_issued', 'partner', 'A rebate statement was issued to the partner: confirm or dispute it'),
    ('statement_disputed', 'managers', 'A partner disputed an issued statement: resolve it'),
    ('violation_recorded', 'managers', 'A price or territory policy violation was recorded for review'),
    ('approval_waiting', 'approver', 'An approval request waits for the recipient''s decision'),
    ('approval_escalated', 'approver', 'An approval step passed its time limit and now waits for the recipient'),
    ('approval_decided', 'requester', 'An approval request the recipient made was approved, rejected or ended'),
    ('registration_conflict', 'managers', 'A customer registration conflicted with another partner''s: it was refused or waits for arbitration'),
    ('registration_released', 'partner', 'A customer registration of the partner lost its protection: it lapsed without progress, or arbitration gave the customer to another partner'),
    ('lead_assigned', 'partner', 'A lead was assigned to the partner: accept or decline it before its deadline'),
    ('lead_returned', 'managers', 'A lead was declined, or not answered in time, and no partner could take it: assign it by hand'),
    ('announcement_published', 'partner', 'An announcement addressed to the partner was published: read it (and acknowledge it when it is mandatory)'),
    ('contract_expiring', 'managers', 'A partner''s contract ends soon and no contract follows it: renew it or let it lapse'),
    ('certificate_expiring', 'partner', 'A certificate of the partner expires soon: renew it before what it authorises lapses'),
    ('stock_alert', 'partner', 'A product in a warehouse of the partner (of the brand: the managers) ran out, fell below its safety stock or reorder point, or rose above its maximum'),
    ('transfer_shipped', 'partner', 'A transfer to a warehouse of the partner has shipped: receive it when it arrives');
GRANT SELECT ON @extschema@.notification_event TO rebate_admin, rebate_manager, rebate_partner;

CREATE TABLE @extschema@.notification (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL REFERENCES @extschema@.tenant ON DELETE CASCADE,
    partner_id    bigint,
    recipient     name,
    event         text NOT NULL REFERENCES @extschema@.notification_event,
    subject_type  text NOT NULL CHECK (subject_type ~ '^[a-z_]+$'),
    subject_id    bigint NOT NULL,
    title         text NOT NULL,
    detail        jsonb NOT NULL DEFAULT '{}',
    read_at       timestamptz,
    read_by       name,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE,
    CHECK ((read_at IS NULL) = (read_by IS NULL))
);
CREATE UNIQUE INDEX notification_by_id ON @extschema@.notification (id);
-- an inbox: the unread first, newest first
CREATE INDEX notification_inbox ON @extschema@.notification (tenant_id, partner_id, created_at DESC)
    WHERE read_at IS NULL;
CREATE INDEX notification_subject ON @extschema@.notification (tenant_id, subject_type, subject_id);
COMMENT ON TABLE @extschema@.notification IS
    'The inbox: events a partner or manager must act on, announced with NOTIFY on commit (rebate.inbox_channel); written only by the extension';
COMMENT ON COLUMN @extschema@.notification.partner_id IS 'For the users of this partner; NULL: for the tenant''s managers';
COMMENT ON COLUMN @extschema@.notification.recipient IS 'For this role only (within the audience); NULL: for every role of the audience';
COMMENT ON COLUMN @extschema@.notification.event IS 'What happened (rebate.notification_event)';
COMMENT ON COLUMN @extschema@.notification.subject_type IS 'The kind of row it is about: sales_order, statement, policy_violation, approval_request, end_customer, ...';
COMMENT ON COLUMN @extschema@.notification.subject_id IS 'The id of that row';
COMMENT ON COLUMN @extschema@.notification.title IS 'One line for a list, in English; detail has the values for a translated one';
COMMENT ON COLUMN @extschema@.notification.detail IS 'The event''s values (ids, codes, statuses) as JSON';
COMMENT ON COLUMN @extschema@.notification.read_at IS 'When it was marked read (rebate.mark_notifications_read); NULL: unread';
COMMENT ON COLUMN @extschema@.notification.read_by IS 'The role that marked it read';
SELECT @extschema@.apply_standard_triggers('@extschema@.notification');

-- Whether a role receives a notification (and so may mark it read): a
-- tenant's manager those for the managers, a partner user those of its own
-- partner, each addressed to all of them or to the role itself.  Managers
-- read every notification of their tenant (row-level security) but mark read
-- only their own: a partner's stays unread until one of its users reads it.
-- A group administrator reads them all and receives none.  Strictly true or
-- false.
CREATE FUNCTION @extschema@.receives(role_name name, tenant_id bigint, partner_id bigint, recipient name)
    RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(b.tenant_id OPERATOR(pg_catalog.=) receives.tenant_id
                    AND CASE WHEN b.partner_id IS NULL
                             THEN receives.partner_id IS NULL AND @extschema@.manages_tenant(role_name, receives.tenant_id)
                             ELSE b.partner_id OPERATOR(pg_catalog.=) receives.partner_id END
                    AND (receives.recipient IS NULL OR receives.recipient OPERATOR(pg_catalog.=) role_name),
                    false)
      FROM @extschema@.binding_of(role_name) b
$$;
COMMENT ON FUNCTION @extschema@.receives(name, bigint, bigint, name) IS
    'Whether a role receives a notification of this tenant, partner (NULL: the managers) and recipient (NULL: all of them): strictly true or false';

ALTER TABLE @extschema@.notification ENABLE ROW LEVEL SECURITY;
-- (a manager reads all of its tenant's; a partner user what it receives:
-- rebate.receives, with the session functions run once per query)
CREATE POLICY notification_read ON @extschema@.notification FOR SELECT
    USING ((SELECT @extschema@.is_group_admin())
           OR (tenant_id = (SELECT @extschema@.current_tenant_id())
               AND ((SELECT @extschema@.is_tenant_manager())
                    OR (partner_id = (SELECT @extschema@.current_partner_id())
                        AND (recipient IS NULL OR recipient = current_user)))));
-- read only: the extension writes it, rebate.mark_notifications_read marks it read
GRANT SELECT ON @extschema@.notification TO rebate_admin, rebate_manager, rebate_partner;

-- The secret each tenant's channel names are made from: nobody reads it, so
-- a channel's name can be learnt only from rebate.inbox_channel.
CREATE TABLE @extschema@.inbox_secret (
    tenant_id   bigint PRIMARY KEY REFERENCES @extschema@.tenant ON DELETE CASCADE,
    secret      uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid()
);
COMMENT ON TABLE @extschema@.inbox_secret IS
    'Internal: the random secret a tenant''s inbox channel names are made from (rebate.inbox_channel); readable by nobody';
REVOKE ALL ON @extschema@.inbox_secret FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.inbox_secret', '');

-- Every tenant has its secret from the start (so that announcing never
-- races to create one).
INSERT INTO @extschema@.inbox_secret (tenant_id) SELECT t.id FROM @extschema@.tenant t;
CREATE FUNCTION @extschema@.create_inbox_secret() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'create_inbox_secret only serves rebate.tenant' USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO @extschema@.inbox_secret (tenant_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.create_inbox_secret() IS
    'AFTER INSERT trigger on tenant: gives the new tenant the secret of its inbox channels';
CREATE TRIGGER inbox_secret AFTER INSERT ON @extschema@.tenant
    FOR EACH ROW EXECUTE FUNCTION @extschema@.create_inbox_secret();

-- The NOTIFY channel of an audience: rebate_inbox_ and 32 hex digits, made
-- from the tenant's secret.
CREATE FUNCTION @extschema@.channel_of(tenant_id bigint, partner_id bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'rebate_inbox_' || pg_catalog.md5(pg_catalog.format('%s:%s:%s', s.secret, s.tenant_id,
                                                               coalesce(channel_of.partner_id, 0)))
      FROM @extschema@.inbox_secret s WHERE s.tenant_id = channel_of.tenant_id
$$;
REVOKE ALL ON FUNCTION @extschema@.channel_of(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.channel_of(bigint, bigint) IS
    'Internal: the NOTIFY channel of a partner''s users (or, for NULL, of a tenant''s managers)';

-- The channel the caller listens on: its partner's, or (a manager) its
-- tenant's managers'.  Refused to a role without a binding of its own.
CREATE FUNCTION @extschema@.inbox_channel() RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    bound record := @extschema@.binding_of(actor);
BEGIN
    IF bound.tenant_id IS NULL
       OR (bound.partner_id IS NULL AND NOT @extschema@.manages_tenant(actor, bound.tenant_id)) THEN
        RAISE EXCEPTION 'role % has no inbox', actor USING ERRCODE = 'insufficient_privilege',
              HINT = 'Inboxes belong to the tenants'' managers and to partner users, each bound by rebate.grant_access.';
    END IF;
    RETURN @extschema@.channel_of(bound.tenant_id, bound.partner_id);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.inbox_channel() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.inbox_channel() TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.inbox_channel() IS
    'The NOTIFY channel of the caller''s inbox (its partner''s users, or its tenant''s managers): LISTEN on it to hear new notifications as their transactions commit';

-- Files a notification (the extension's own code only).
CREATE FUNCTION @extschema@.notify(tenant_id bigint, partner_id bigint, recipient name, event text,
                                   subject_type text, subject_id bigint, title text, detail jsonb DEFAULT '{}')
    RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO @extschema@.notification (tenant_id, partner_id, recipient, event, subject_type, subject_id, title, detail)
    VALUES (notify.tenant_id, notify.partner_id, notify.recipient, notify.event, notify.subject_type, notify.subject_id,
            notify.title, coalesce(notify.detail, '{}'))
$$;
REVOKE ALL ON FUNCTION @extschema@.notify(bigint, bigint, name, text, text, bigint, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.notify(bigint, bigint, name, text, text, bigint, text, jsonb) IS
    'Internal: files a notification for a partner''s users (or the managers, partner NULL), or one role of them';

-- Each new notification is announced on its audience's channel.  NOTIFY is
-- transactional: listeners hear it when the transaction commits, never if it
-- rolls back.  The payload: {"id", "tenant_id", "partner_id", "recipient", "event",
-- "subject_type", "subject_id"}.
CREATE FUNCTION @extschema@.announce_notifications() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n record;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'announce_notifications only serves rebate.notification' USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR n IN SELECT r.id, r.tenant_id, r.partner_id, r.recipient, r.event, r.subject_type, r.subject_id
               FROM new_rows r ORDER BY r.id LOOP
        PERFORM pg_catalog.pg_notify(@extschema@.channel_of(n.tenant_id, n.partner_id),
                                     pg_catalog.json_build_object('id', n.id, 'tenant_id', n.tenant_id,
                                                                  'partner_id', n.partner_id, 'recipient', n.recipient,
                                                                  'event', n.event, 'subject_type', n.subject_type,
                                                                  'subject_id', n.subject_id)::text);
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.announce_notifications() IS
    'AFTER INSERT statement trigger on notification: NOTIFY on each new notification''s channel, delivered on commit';
CREATE TRIGGER announce AFTER INSERT ON @extschema@.notification REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.announce_notifications();

-- Marks notifications read, those among the ids the caller receives and has
-- not read yet; the others (not its own, unknown, already read) are left as
-- they are.  Returns how many it marked.
CREATE FUNCTION @extschema@.mark_notifications_read(ids bigint[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    marked integer;
BEGIN
    UPDATE @extschema@.notification n SET read_at = pg_catalog.now(), read_by = actor
     WHERE n.id = ANY (ids) AND n.read_at IS NULL
       AND @extschema@.receives(actor, n.tenant_id, n.partner_id, n.recipient);
    GET DIAGNOSTICS marked = ROW_COUNT;
    RETURN marked;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.mark_notifications_read(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.mark_notifications_read(bigint[]) TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.mark_notifications_read(bigint[]) IS
    'Marks read the notifications among the ids that the caller receives and has not read; returns how many';

-- What the existing documents announce.  One statement trigger per table,
-- told which by its argument.
CREATE FUNCTION @extschema@.notify_changes() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'notify_changes only serves the tables of the rebate extension' USING ERRCODE = 'insufficient_privilege';
    END IF;
    CASE TG_ARGV[0]
    WHEN 'sales_order' THEN
        INSERT INTO @extschema@.notification (tenant_id, partner_id, event, subject_type, subject_id, title, detail)
        SELECT n.tenant_id, n.partner_id, 'order_status_changed', 'sales_order', n.id,
               pg_catalog.format('%s %s is now %s', pg_catalog.replace(n.kind, '_', ' '), n.code, n.status),
               pg_catalog.json_build_object('code', n.code, 'kind', n.kind, 'from', o.status, 'to', n.status)::jsonb
          FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE n.status IS DISTINCT FROM o.status
         ORDER BY n.id;
    WHEN 'statement' THEN
        INSERT INTO @extschema@.notification (tenant_id, partner_id, event, subject_type, subject_id, title, detail)
        SELECT n.tenant_id, CASE WHEN n.status = 'issued' THEN n.partner_id END,
               CASE n.status WHEN 'issued' THEN 'statement_issued' ELSE 'statement_disputed' END, 'statement', n.id,
               pg_catalog.format('statement %s for %s to %s, %s %s: %s', n.id, pg_catalog.lower(n.period),
                                 pg_catalog.upper(n.period) - 1, n.total, n.currency, n.status),
               pg_catalog.json_build_object('partner_id', n.partner_id, 'period', n.period, 'currency', n.currency,
                                            'total', n.total, 'status', n.status)::jsonb
          FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE n.status IS DISTINCT FROM o.status AND n.status IN ('issued', 'disputed')
         ORDER BY n.id;
    WHEN 'policy_violation' THEN
        INSERT INTO @extschema@.notification (tenant_id, partner_id, event, subject_type, subject_id, title, detail)
        SELECT n.tenant_id, NULL, 'violation_recorded', 'policy_violation', n.id,
               pg_catalog.format('%s violation %s recorded for review', pg_catalog.replace(n.kind, '_', ' '), n.id),
               pg_catalog.json_build_object('kind', n.kind, 'partner_id', n.partner_id, 'order_id', n.order_id)::jsonb
          FROM new_rows n
         WHERE n.status = 'open'
         ORDER BY n.id;
    ELSE
        RAISE EXCEPTION 'notify_changes does not serve "%"', TG_ARGV[0] USING ERRCODE = 'trigger_protocol_violated';
    END CASE;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.notify_changes() IS
    'AFTER statement trigger: files the notifications of order status changes, statements issued or disputed and violations recorded';
CREATE TRIGGER notify_changes AFTER UPDATE ON @extschema@.sales_order
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.notify_changes('sales_order');
CREATE TRIGGER notify_changes AFTER UPDATE ON @extschema@.statement
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.notify_changes('statement');
CREATE TRIGGER notify_changes AFTER INSERT ON @extschema@.policy_violation
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.notify_changes('policy_violation');
-- ---------------------------------------------------------------------------
-- Approvals: one engine for every request that needs a decision.  A tenant
-- keeps, per request type, one active flow: steps in sequence (step_no),
-- each with its approvers (the tenant's managers, named roles, or the users
-- of the requesting partner's parent) deciding together ('all', 会签) or
-- any one of them ('any', 或签), a condition on the request (amount range,
-- region subtree, partner grade, product) that decides whether the step
-- applies, and a time limit after which rebate.escalate_approvals hands the
-- task to another role.  A request follows the steps as they are when each
-- starts.  Requests, tasks and their history are written only by the
-- functions here (SECURITY DEFINER, each judging the acting role);
-- row-level security shows them to the tenant's managers, to the users of
-- the partner concerned and of the partners above it, and to the roles that
-- asked or must decide.  docs/collaboration.md describes it with examples.
-- ---------------------------------------------------------------------------

-- The kinds of request, one per module that asks for decisions.  A module's
-- on_decided function is called with the request when it ends (approved,
-- rejected or withdrawn), in the deciding transaction.
CREATE TABLE @extschema@.request_type (
    request_type text PRIMARY KEY CHECK (request_type ~ '^[a-z_]+$'),
    description  text NOT NULL,
    on_decided   regprocedure
);
COMMENT ON TABLE @extschema@.request_type IS
    'The kinds of approval request, and the function each module runs when one of its requests ends';
COMMENT ON COLUMN @extschema@.request_type.on_decided IS
    'Called with the rebate.approval_request row when a request of this type ends; NULL: nothing but the record';
INSERT INTO @extschema@.request_type (request_type, description) VALUES
    ('general', 'A request of any other kind, described in words: the decision is recorded and announced, nothing else changes');
GRANT SELECT ON @extschema@.request_type TO rebate_admin, rebate_manager, rebate_partner;

CREATE TABLE @extschema@.approval_flow (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant ON DELETE CASCADE,
    request_type  text NOT NULL REFERENCES @extschema@.request_type,
    name          text NOT NULL CHECK (btrim(name) <> ''),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX approval_flow_by_id ON @extschema@.approval_flow (id);
-- a request type has one active flow per tenant
CREATE UNIQUE INDEX approval_flow_active ON @extschema@.approval_flow (tenant_id, request_type) WHERE active;
COMMENT ON TABLE @extschema@.approval_flow IS
    'Approval flows: per tenant and request type one active flow, whose steps (rebate.approval_step) a request goes through';
COMMENT ON COLUMN @extschema@.approval_flow.active IS 'Whether new requests of its type follow it (one active flow per tenant and type)';

CREATE TABLE @extschema@.approval_step (
    id             bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id      bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant ON DELETE CASCADE,
    flow_id        bigint NOT NULL,
    step_no        integer NOT NULL CHECK (step_no > 0),
    name           text NOT NULL CHECK (btrim(name) <> ''),
    approver_kind  text NOT NULL CHECK (approver_kind IN ('manager', 'role', 'parent_partner')),
    approver_roles name[],
    decision_rule  text NOT NULL DEFAULT 'any' CHECK (decision_rule IN ('any', 'all')),
    min_amount     numeric,
    max_amount     numeric,
    region_id      bigint,
    grade_id       bigint,
    product_id     bigint,
    time_limit     interval CHECK (time_limit > '0'::interval),
    escalate_to    name,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, flow_id, step_no),
    FOREIGN KEY (tenant_id, flow_id) REFERENCES @extschema@.approval_flow (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    FOREIGN KEY (tenant_id, grade_id) REFERENCES @extschema@.partner_grade (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id),
    CONSTRAINT approval_step_roles CHECK ((approver_kind = 'role')
                                          = (approver_roles IS NOT NULL AND pg_catalog.cardinality(approver_roles) > 0)),
    CONSTRAINT approval_step_all_of_roles CHECK (decision_rule = 'any' OR approver_kind = 'role'),
    CONSTRAINT approval_step_amounts CHECK (min_amount IS NULL OR max_amount IS NULL OR min_amount < max_amount),
    CONSTRAINT approval_step_escalation CHECK (escalate_to IS NULL OR time_limit IS NOT NULL)
);
CREATE UNIQUE INDEX approval_step_by_id ON @extschema@.approval_step (id);
COMMENT ON TABLE @extschema@.approval_step IS
    'The steps of an approval flow, in step_no order: who decides, how, when the step applies and how long it may wait';
COMMENT ON COLUMN @extschema@.approval_step.approver_kind IS
    'manager: any manager of the tenant; role: the roles in approver_roles; parent_partner: any user of the requesting partner''s parent (the tenant''s managers when it has none)';
COMMENT ON COLUMN @extschema@.approval_step.approver_roles IS 'For approver_kind role: the login roles, each bound to the tenant';
COMMENT ON COLUMN @extschema@.approval_step.decision_rule IS 'any: one approval settles the step (或签); all: every listed role must approve (会签); one rejection rejects the request';
COMMENT ON COLUMN @extschema@.approval_step.min_amount IS 'The step applies to requests of at least this amount (NULL: no lower bound)';
COMMENT ON COLUMN @extschema@.approval_step.max_amount IS 'The step applies to requests below this amount (NULL: no upper bound)';
COMMENT ON COLUMN @extschema@.approval_step.region_id IS 'The step applies to requests in this region or below it (NULL: every region)';
COMMENT ON COLUMN @extschema@.approval_step.grade_id IS 'The step applies to requests of partners of this grade (NULL: every grade)';
COMMENT ON COLUMN @extschema@.approval_step.product_id IS 'The step applies to requests about this product (NULL: every product)';
COMMENT ON COLUMN @extschema@.approval_step.time_limit IS 'How long a task of the step may wait before rebate.escalate_approvals escalates or reminds (NULL: no limit)';
COMMENT ON COLUMN @extschema@.approval_step.escalate_to IS 'The role an overdue task passes to (NULL: its approvers are reminded once)';

-- A step names roles bound to its tenant, so that a typo or a stranger is
-- refused when the flow is written, not found when a request waits.  A
-- BEFORE trigger: it reads the bindings only for a writer who may manage
-- the row's tenant, and otherwise leaves the row to row-level security.
CREATE FUNCTION @extschema@.check_approval_step() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stranger name;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'check_approval_step only serves rebate.approval_step' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT @extschema@.may_manage(@extschema@.acting_role(), NEW.tenant_id) THEN
        RETURN NEW;
    END IF;
    SELECT r.role_name INTO stranger
      FROM unnest(coalesce(NEW.approver_roles, '{}') || ARRAY[NEW.escalate_to]) AS r (role_name)
     WHERE r.role_name IS NOT NULL
       AND (@extschema@.binding_of(r.role_name)).tenant_id IS DISTINCT FROM NEW.tenant_id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'role % is not bound to tenant %', stranger, NEW.tenant_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Approvers are login roles bound to the tenant by rebate.grant_access.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.check_approval_step() IS
    'BEFORE INSERT OR UPDATE trigger on approval_step: every approver and escalation role is bound to the step''s tenant';
CREATE TRIGGER check_roles BEFORE INSERT OR UPDATE ON @extschema@.approval_step
    FOR EACH ROW EXECUTE FUNCTION @extschema@.check_approval_step();

CREATE TABLE @extschema@.approval_request (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL REFERENCES @extschema@.tenant ON DELETE CASCADE,
    request_type  text NOT NULL REFERENCES @extschema@.request_type,
    flow_id       bigint NOT NULL,
    subject       text NOT NULL CHECK (btrim(subject) <> ''),
    subject_id    bigint,
    partner_id    bigint,
    amount        numeric,
    currency      text CHECK (currency ~ '^[A-Z]{3}$'),
    region_id     bigint,
    grade_id      bigint,
    product_id    bigint,
    detail        jsonb NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
    current_step  integer,
    requested_by  name NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    ended_at      timestamptz,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, flow_id) REFERENCES @extschema@.approval_flow (tenant_id, id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    FOREIGN KEY (tenant_id, grade_id) REFERENCES @extschema@.partner_grade (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id),
    CHECK ((status = 'pending') = (current_step IS NOT NULL) AND (status = 'pending') = (ended_at IS NULL))
);
CREATE UNIQUE INDEX approval_request_by_id ON @extschema@.approval_request (id);
CREATE INDEX approval_request_pending ON @extschema@.approval_request (tenant_id, request_type) WHERE status = 'pending';
COMMENT ON TABLE @extschema@.approval_request IS
    'Requests for a decision (rebate.submit_request), each following its flow step by step; written only by the approval functions';
COMMENT ON COLUMN @extschema@.approval_request.subject IS 'What is asked, in words';
COMMENT ON COLUMN @extschema@.approval_request.subject_id IS 'The row the request is about, in its module''s table (by request type); NULL for a general request';
COMMENT ON COLUMN @extschema@.approval_request.partner_id IS 'The partner concerned: its users, and those of the partners above it, see the request';
COMMENT ON COLUMN @extschema@.approval_request.amount IS 'The amount the steps'' conditions compare (NULL: none; a step with an amount bound then does not apply)';
COMMENT ON COLUMN @extschema@.approval_request.region_id IS 'The region the steps'' conditions compare (default: the partner''s home region)';
COMMENT ON COLUMN @extschema@.approval_request.grade_id IS 'The partner''s grade when the request was made';
COMMENT ON COLUMN @extschema@.approval_request.status IS 'pending, then approved, rejected or withdrawn';
COMMENT ON COLUMN @extschema@.approval_request.current_step IS 'The step waiting for decisions while pending';
COMMENT ON COLUMN @extschema@.approval_request.requested_by IS 'The role that made the request (it may not decide it)';
COMMENT ON COLUMN @extschema@.approval_request.ended_at IS 'When it was approved, rejected or withdrawn';

CREATE TABLE @extschema@.approval_task (
    id                   bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id            bigint NOT NULL REFERENCES @extschema@.tenant ON DELETE CASCADE,
    request_id           bigint NOT NULL,
    step_no              integer NOT NULL,
    partner_id           bigint,
    approver_kind        text NOT NULL CHECK (approver_kind IN ('manager', 'role', 'parent_partner')),
    approver_role        name,
    approver_partner_id  bigint,
    status               text NOT NULL DEFAULT 'waiting'
                         CHECK (status IN ('waiting', 'approved', 'rejected', 'cancelled', 'escalated')),
    due_at               timestamptz,
    reminded_at          timestamptz,
    escalated_from       bigint,
    decided_by           name,
    on_behalf_of         name,
    decided_at           timestamptz,
    comment              text,
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    updated_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, request_id) REFERENCES @extschema@.approval_request (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, approver_partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, escalated_from) REFERENCES @extschema@.approval_task (tenant_id, id),
    CHECK ((approver_kind = 'role') = (approver_role IS NOT NULL)),
    CHECK ((approver_kind = 'parent_partner') = (approver_partner_id IS NOT NULL)),
    CHECK ((status IN ('approved', 'rejected')) = (decided_by IS NOT NULL))
);
CREATE UNIQUE INDEX approval_task_by_id ON @extschema@.approval_task (id);
CREATE INDEX approval_task_request ON @extschema@.approval_task (tenant_id, request_id, step_no);
CREATE INDEX approval_task_waiting ON @extschema@.approval_task (tenant_id, due_at) WHERE status = 'waiting';
COMMENT ON TABLE @extschema@.approval_task IS
    'One approver''s part in a step of a request: waiting, then approved, rejected, cancelled (settled otherwise) or escalated (passed on when overdue)';
COMMENT ON COLUMN @extschema@.approval_task.partner_id IS 'The request''s partner (row-level security)';
COMMENT ON COLUMN @extschema@.approval_task.approver_kind IS 'manager: any manager of the tenant decides; role: approver_role (or its delegate); parent_partner: any user of approver_partner_id';
COMMENT ON COLUMN @extschema@.approval_task.due_at IS 'When it becomes overdue (the step''s time limit after it started)';
COMMENT ON COLUMN @extschema@.approval_task.reminded_at IS 'When its approvers were reminded that it is overdue';
COMMENT ON COLUMN @extschema@.approval_task.escalated_from IS 'The overdue task it took over';
COMMENT ON COLUMN @extschema@.approval_task.decided_by IS 'The role that approved or rejected';
COMMENT ON COLUMN @extschema@.approval_task.on_behalf_of IS 'The approver it decided for, by delegation';

CREATE TABLE @extschema@.approval_event (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL REFERENCES @extschema@.tenant ON DELETE CASCADE,
    request_id    bigint NOT NULL,
    partner_id    bigint,
    task_id       bigint,
    step_no       integer,
    event         text NOT NULL CHECK (event IN ('submitted', 'step_started', 'step_skipped', 'approved', 'rejected',
                                                 'escalated', 'reminded', 'withdrawn', 'ended')),
    actor         name NOT NULL,
    on_behalf_of  name,
    comment       text,
    at            timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, request_id) REFERENCES @extschema@.approval_request (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, task_id) REFERENCES @extschema@.approval_task (tenant_id, id)
);
CREATE UNIQUE INDEX approval_event_by_id ON @extschema@.approval_event (id);
CREATE INDEX approval_event_request ON @extschema@.approval_event (tenant_id, request_id, at);
COMMENT ON TABLE @extschema@.approval_event IS
    'The history of every request: submitted, each step started or skipped, each decision, escalation, reminder and withdrawal, and its end, with who acted';
COMMENT ON COLUMN @extschema@.approval_event.actor IS 'The acting role (the deciding role, the requester, or the role that ran the escalation)';
COMMENT ON COLUMN @extschema@.approval_event.comment IS 'The decision''s comment, a withdrawal''s reason, or what the engine did';

CREATE TABLE @extschema@.approval_delegation (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL REFERENCES @extschema@.tenant ON DELETE CASCADE,
    delegator     name NOT NULL,
    delegate      name NOT NULL,
    request_type  text REFERENCES @extschema@.request_type,
    valid         tstzrange NOT NULL CHECK (NOT isempty(valid) AND NOT lower_inf(valid)),
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    CHECK (delegator <> delegate)
);
CREATE UNIQUE INDEX approval_delegation_by_id ON @extschema@.approval_delegation (id);
CREATE INDEX approval_delegation_delegator ON @extschema@.approval_delegation (tenant_id, delegator);
COMMENT ON TABLE @extschema@.approval_delegation IS
    'Delegations (rebate.delegate_approvals): while valid, the delegate decides the delegator''s tasks (of one request type, or all) on its behalf';

SELECT @extschema@.apply_standard_triggers(t)
  FROM unnest(ARRAY['@extschema@.approval_flow', '@extschema@.approval_step', '@extschema@.approval_request',
                    '@extschema@.approval_task', '@extschema@.approval_event',
                    '@extschema@.approval_delegation']::regclass[]) AS t;
SELECT @extschema@.apply_tenant_rls('@extschema@.approval_flow', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.approval_step', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.approval_request', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.approval_task', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.approval_event', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.approval_delegation', 'tenant_id');
-- besides: a requester sees its own requests and their history, an approver its own tasks,
-- a delegator and its delegate their delegation (within their tenant)
CREATE POLICY requester_read ON @extschema@.approval_request FOR SELECT
    USING (requested_by = current_user AND tenant_id = (SELECT @extschema@.current_tenant_id()));
CREATE POLICY requester_read ON @extschema@.approval_event FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant_id())
           AND request_id IN (SELECT r.id FROM @extschema@.approval_request r
                               WHERE r.requested_by = current_user AND r.tenant_id = approval_event.tenant_id));
CREATE POLICY approver_read ON @extschema@.approval_task FOR SELECT
    USING (approver_role = current_user AND tenant_id = (SELECT @extschema@.current_tenant_id()));
CREATE POLICY party_read ON @extschema@.approval_delegation FOR SELECT
    USING (current_user IN (delegator, delegate) AND tenant_id = (SELECT @extschema@.current_tenant_id()));
-- flows and steps: the tenant's managers; requests, tasks, history and delegations: read only
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.approval_flow, @extschema@.approval_step TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.approval_request, @extschema@.approval_task, @extschema@.approval_event,
                @extschema@.approval_delegation TO rebate_admin, rebate_manager, rebate_partner;

-- ---- who may decide -----------------------------------------------------------

-- Whether a role may decide a task: strictly true or false.  The tenant's
-- managers decide manager tasks; a named approver its own task, and so does
-- its delegate while the delegation is valid (bound like the approver: a
-- manager's delegate is a manager of the tenant, a partner user's a user of
-- the same partner); a parent partner's users its tasks.  Nobody decides a
-- request it made.
CREATE FUNCTION @extschema@.may_decide(role_name name, task @extschema@.approval_task, requested_by name,
                                       request_type text, at timestamptz DEFAULT pg_catalog.now())
    RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bound record := @extschema@.binding_of(role_name);
BEGIN
    IF bound.tenant_id IS DISTINCT FROM task.tenant_id OR role_name = requested_by OR role_name IS NULL THEN
        RETURN false;
    END IF;
    RETURN coalesce(CASE task.approver_kind
        WHEN 'manager' THEN @extschema@.manages_tenant(role_name, task.tenant_id)
        WHEN 'parent_partner' THEN bound.partner_id = task.approver_partner_id
        WHEN 'role' THEN role_name = task.approver_role
                         OR @extschema@.delegate_of(role_name, task.approver_role, task.tenant_id, request_type, at)
        END, false);
END
$$;
COMMENT ON FUNCTION @extschema@.may_decide(name, @extschema@.approval_task, name, text, timestamptz) IS
    'Whether a role may decide an approval task (not of its own request): strictly true or false';

-- Whether a role decides for another by a valid delegation, both still bound
-- alike in the tenant.  Strictly true or false.
CREATE FUNCTION @extschema@.delegate_of(role_name name, approver name, tenant_id bigint, request_type text,
                                        at timestamptz)
    RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN coalesce(@extschema@.bound_alike(role_name, approver, tenant_id)
                    AND EXISTS (SELECT 1 FROM @extschema@.approval_delegation d
                                 WHERE d.tenant_id = delegate_of.tenant_id AND d.delegator = approver
                                   AND d.delegate = role_name AND d.valid @> delegate_of.at
                                   AND (d.request_type IS NULL OR d.request_type = delegate_of.request_type)),
                    false);
END
$$;
COMMENT ON FUNCTION @extschema@.delegate_of(name, name, bigint, text, timestamptz) IS
    'Whether a role decides for an approver by a delegation valid at that time (both bound alike in the tenant): strictly true or false';

-- Two roles bound to the same tenant in the same way: both its managers, or
-- both users of the same partner.
CREATE FUNCTION @extschema@.bound_alike(one name, other name, tenant_id bigint) RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record := @extschema@.binding_of(one);
    b record := @extschema@.binding_of(other);
BEGIN
    RETURN coalesce(a.tenant_id = bound_alike.tenant_id AND b.tenant_id = bound_alike.tenant_id
                    AND CASE WHEN a.partner_id IS NULL
                             THEN b.partner_id IS NULL AND @extschema@.manages_tenant(one, bound_alike.tenant_id)
                                  AND @extschema@.manages_tenant(other, bound_alike.tenant_id)
                             ELSE a.partner_id = b.partner_id END,
                    false);
END
$$;
COMMENT ON FUNCTION @extschema@.bound_alike(name, name, bigint) IS
    'Whether two roles are bound to the tenant alike (both its managers, or users of one partner): strictly true or false';

-- ---- the engine (internal) -----------------------------------------------------

-- Whether a step applies to a request: every condition it sets holds.
CREATE FUNCTION @extschema@.step_applies(step @extschema@.approval_step, request @extschema@.approval_request)
    RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((step.min_amount IS NULL OR request.amount >= step.min_amount)
                    AND (step.max_amount IS NULL OR request.amount < step.max_amount)
                    AND (step.grade_id IS NULL OR request.grade_id = step.grade_id)
                    AND (step.product_id IS NULL OR request.product_id = step.product_id)
                    AND (step.region_id IS NULL
                         OR EXISTS (SELECT 1 FROM @extschema@.region g
                                     WHERE g.tenant_id = request.tenant_id AND g.id = request.region_id
                                       AND g.path @> ARRAY[step.region_id])),
                    false)
$$;
COMMENT ON FUNCTION @extschema@.step_applies(@extschema@.approval_step, @extschema@.approval_request) IS
    'Internal: whether every condition of an approval step holds for a request (amount range, region subtree, grade, product)';

CREATE FUNCTION @extschema@.record_approval_event(request @extschema@.approval_request, event text, task_id bigint,
                                                  step_no integer, comment text, on_behalf_of name DEFAULT NULL)
    RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO @extschema@.approval_event (tenant_id, request_id, partner_id, task_id, step_no, event, actor,
                                            on_behalf_of, comment)
    VALUES (request.tenant_id, request.id, request.partner_id, record_approval_event.task_id,
            record_approval_event.step_no, record_approval_event.event, @extschema@.acting_role(),
            record_approval_event.on_behalf_of, record_approval_event.comment)
$$;
REVOKE ALL ON FUNCTION @extschema@.record_approval_event(@extschema@.approval_request, text, bigint, integer, text, name)
    FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.record_approval_event(@extschema@.approval_request, text, bigint, integer, text, name) IS
    'Internal: appends to a request''s history, with the acting role';

-- Tells a task's approvers that it waits for them.
CREATE FUNCTION @extschema@.announce_task(task @extschema@.approval_task, request @extschema@.approval_request,
                                          event text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    audience bigint := CASE task.approver_kind WHEN 'parent_partner' THEN task.approver_partner_id
                            WHEN 'role' THEN (@extschema@.binding_of(task.approver_role)).partner_id END;
BEGIN
    -- the approvers, and the delegates who decide for a named one (rebate.delegate_of)
    INSERT INTO @extschema@.notification (tenant_id, partner_id, recipient, event, subject_type, subject_id, title, detail)
    SELECT task.tenant_id, audience, w.recipient, event, 'approval_request', request.id,
           pg_catalog.format('%s request %s waits for your decision%s: %s', request.request_type, request.id,
                             coalesce(' on behalf of ' || w.on_behalf_of, ''), request.subject),
           pg_catalog.jsonb_build_object('task_id', task.id, 'step_no', task.step_no, 'request_type', request.request_type,
                                         'due_at', task.due_at)
               || CASE WHEN w.on_behalf_of IS NOT NULL
                       THEN pg_catalog.jsonb_build_object('on_behalf_of', w.on_behalf_of) ELSE '{}' END
      FROM (SELECT task.approver_role AS recipient, NULL::name AS on_behalf_of, 0 AS n
            UNION ALL
            SELECT d.delegate, d.delegator, 1
              FROM @extschema@.approval_delegation d
             WHERE task.approver_kind = 'role' AND d.tenant_id = task.tenant_id AND d.delegator = task.approver_role
               AND @extschema@.delegate_of(d.delegate, d.delegator, task.tenant_id, request.request_type,
                                           pg_catalog.now())) w
     ORDER BY w.n;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.announce_task(@extschema@.approval_task, @extschema@.approval_request, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.announce_task(@extschema@.approval_task, @extschema@.approval_request, text) IS
    'Internal: notifies a task''s approvers (and their delegates) that it waits for them';

-- Ends a request: its status, its open tasks cancelled, the history, the
-- requester told, and the module's on_decided run.
CREATE FUNCTION @extschema@.end_request(request @extschema@.approval_request, outcome text, comment text)
    RETURNS @extschema@.approval_request
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ended @extschema@.approval_request;
    handler regprocedure;
    requester record := @extschema@.binding_of(request.requested_by);
BEGIN
    UPDATE @extschema@.approval_task t SET status = 'cancelled'
     WHERE t.tenant_id = request.tenant_id AND t.request_id = request.id AND t.status = 'waiting';
    UPDATE @extschema@.approval_request r
       SET status = outcome, current_step = NULL, ended_at = pg_catalog.clock_timestamp()
     WHERE r.tenant_id = request.tenant_id AND r.id = request.id
    RETURNING r.* INTO ended;
    PERFORM @extschema@.record_approval_event(ended, 'ended', NULL, request.current_step,
                                              coalesce(comment, outcome));
    IF requester.tenant_id = request.tenant_id THEN
        PERFORM @extschema@.notify(request.tenant_id, requester.partner_id, request.requested_by, 'approval_decided',
                                   'approval_request', request.id,
                                   pg_catalog.format('%s request %s %s: %s', request.request_type, request.id, outcome,
                                                     request.subject),
                                   pg_catalog.jsonb_build_object('request_type', request.request_type, 'status', outcome));
    END IF;
    SELECT t.on_decided INTO handler FROM @extschema@.request_type t WHERE t.request_type = request.request_type;
    IF handler IS NOT NULL THEN
        EXECUTE pg_catalog.format('SELECT %s($1)', handler::regproc) USING ended;
    END IF;
    RETURN ended;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.end_request(@extschema@.approval_request, text, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.end_request(@extschema@.approval_request, text, text) IS
    'Internal: ends a request (approved, rejected or withdrawn), cancels its open tasks, tells the requester and runs its type''s on_decided';

-- Starts the first step after after_step that applies to the request (its
-- tasks, their notifications), skipping the others; a request no further
-- step applies to is approved.
CREATE FUNCTION @extschema@.start_next_step(request @extschema@.approval_request, after_step integer)
    RETURNS @extschema@.approval_request
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    step @extschema@.approval_step;
    parent bigint;
    task @extschema@.approval_task;
    started @extschema@.approval_request;
BEGIN
    FOR step IN SELECT s.* FROM @extschema@.approval_step s
                 WHERE s.tenant_id = request.tenant_id AND s.flow_id = request.flow_id AND s.step_no > after_step
                 ORDER BY s.step_no LOOP
        IF NOT @extschema@.step_applies(step, request) THEN
            PERFORM @extschema@.record_approval_event(request, 'step_skipped', NULL, step.step_no,
                                                      pg_catalog.format('%s: its conditions do not hold', step.name));
            CONTINUE;
        END IF;
        UPDATE @extschema@.approval_request r SET current_step = step.step_no
         WHERE r.tenant_id = request.tenant_id AND r.id = request.id
        RETURNING r.* INTO started;
        parent := (SELECT p.parent_id FROM @extschema@.partner p
                    WHERE p.tenant_id = request.tenant_id AND p.id = request.partner_id);
        PERFORM @extschema@.record_approval_event(started, 'step_started', NULL, step.step_no,
                                                  CASE WHEN step.approver_kind = 'parent_partner' AND parent IS NULL
                                                       THEN step.name || ': no parent partner, the managers decide'
                                                       ELSE step.name END);
        FOR task IN
            INSERT INTO @extschema@.approval_task (tenant_id, request_id, step_no, partner_id, approver_kind, approver_role,
                                                   approver_partner_id, due_at)
            SELECT request.tenant_id, request.id, step.step_no, request.partner_id,
                   CASE WHEN step.approver_kind = 'parent_partner' AND parent IS NULL THEN 'manager'
                        ELSE step.approver_kind END,
                   a.role_name, CASE WHEN step.approver_kind = 'parent_partner' THEN parent END,
                   pg_catalog.clock_timestamp() + step.time_limit
              FROM (SELECT NULL::name AS role_name WHERE step.approver_kind <> 'role'
                    UNION ALL SELECT DISTINCT r FROM unnest(step.approver_roles) AS r WHERE step.approver_kind = 'role') a
            RETURNING *
        LOOP
            PERFORM @extschema@.announce_task(task, started, 'approval_waiting');
        END LOOP;
        RETURN started;
    END LOOP;
    -- A module's request (one that changes what its subject row grants or
    -- takes away) no step applies to is never approved unseen: the
    -- tenant's managers decide it.
    IF after_step = 0
       AND (SELECT t.on_decided IS NOT NULL FROM @extschema@.request_type t WHERE t.request_type = request.request_type)
       AND NOT EXISTS (SELECT 1 FROM @extschema@.approval_task k WHERE k.tenant_id = request.tenant_id AND k.request_id = request.id) THEN
        UPDATE @extschema@.approval_request r SET current_step = 0
         WHERE r.tenant_id = request.tenant_id AND r.id = request.id
        RETURNING r.* INTO started;
        PERFORM @extschema@.record_approval_event(started, 'step_started', NULL, 0, 'no step applies: the managers decide');
        INSERT INTO @extschema@.approval_task (tenant_id, request_id, step_no, partner_id, approver_kind)
        VALUES (request.tenant_id, request.id, 0, request.partner_id, 'manager')
        RETURNING * INTO task;
        PERFORM @extschema@.announce_task(task, started, 'approval_waiting');
        RETURN started;
    END IF;
    RETURN @extschema@.end_request(request, 'approved',
                                   CASE WHEN after_step = 0 THEN 'no step applies' ELSE 'every step approved' END);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.start_next_step(@extschema@.approval_request, integer) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.start_next_step(@extschema@.approval_request, integer) IS
    'Internal: starts the next applicable step of a request (or approves it when none is left; a module''s request no step applies to goes to the managers)';

-- ---- what users call ------------------------------------------------------------

-- Opens a request for a decision, made by the acting role.  The caller's
-- tenant's active flow for the type decides who.  A partner user asks for
-- its own partner (or one below it); a manager for any partner of its
-- tenant, or for none.  Internal: rebate.submit_request opens general
-- requests; each module opens its own from the function or trigger that
-- judged the row the request is about.
CREATE FUNCTION @extschema@.open_request(request_type text, subject text, partner_id bigint DEFAULT NULL,
                                           amount numeric DEFAULT NULL, currency text DEFAULT NULL,
                                           region_id bigint DEFAULT NULL, product_id bigint DEFAULT NULL,
                                           subject_id bigint DEFAULT NULL, detail jsonb DEFAULT '{}')
    RETURNS @extschema@.approval_request
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    bound record := @extschema@.binding_of(actor);
    manager boolean := coalesce(@extschema@.manages_tenant(actor, bound.tenant_id), false);
    asker bigint := coalesce(open_request.partner_id, bound.partner_id);
    partner @extschema@.partner;
    flow bigint;
    request @extschema@.approval_request;
BEGIN
    IF bound.tenant_id IS NULL OR (bound.partner_id IS NULL AND NOT manager) THEN
        RAISE EXCEPTION 'permission denied to submit a request' USING ERRCODE = 'insufficient_privilege',
              HINT = 'Requests are made by a tenant''s managers and partner users, each bound by rebate.grant_access.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM @extschema@.request_type t WHERE t.request_type = open_request.request_type) THEN
        RAISE EXCEPTION 'unknown request type "%"', open_request.request_type USING ERRCODE = 'invalid_parameter_value',
              HINT = 'The types are in rebate.request_type.';
    END IF;
    IF asker IS NOT NULL THEN
        SELECT p.* INTO partner FROM @extschema@.partner p
         WHERE p.tenant_id = bound.tenant_id AND p.id = asker
           AND (manager OR p.path @> ARRAY[bound.partner_id]);
        IF partner.id IS NULL THEN
            RAISE EXCEPTION 'partner % does not exist or is not visible to you', asker USING ERRCODE = 'no_data_found';
        END IF;
    END IF;
    SELECT f.id INTO flow FROM @extschema@.approval_flow f
     WHERE f.tenant_id = bound.tenant_id AND f.request_type = open_request.request_type AND f.active;
    IF flow IS NULL THEN
        RAISE EXCEPTION 'no active approval flow for % requests', open_request.request_type USING ERRCODE = 'RB071',
              HINT = 'A manager of the tenant creates one in rebate.approval_flow with its steps in rebate.approval_step.';
    END IF;
    INSERT INTO @extschema@.approval_request (tenant_id, request_type, flow_id, subject, subject_id, partner_id, amount,
                                              currency, region_id, grade_id, product_id, detail, current_step,
                                              requested_by)
    VALUES (bound.tenant_id, open_request.request_type, flow, open_request.subject, open_request.subject_id,
            partner.id, open_request.amount, open_request.currency,
            coalesce(open_request.region_id, partner.home_region_id), partner.grade_id, open_request.product_id,
            coalesce(open_request.detail, '{}'), 0, actor)
    RETURNING * INTO request;
    PERFORM @extschema@.record_approval_event(request, 'submitted', NULL, NULL, open_request.subject);
    RETURN @extschema@.start_next_step(request, 0);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.open_request(text, text, bigint, numeric, text, bigint, bigint, bigint, jsonb)
    FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.open_request(text, text, bigint, numeric, text, bigint, bigint, bigint, jsonb) IS
    'Internal: opens a request of any type for the acting role (modules call it for their own request types)';

-- Asks for a decision of a general kind.  The request types of modules
-- (those with an on_decided function: a registration in arbitration, an
-- admission, an exit, ...) are opened only by their modules, which judge the
-- row a request is about: anyone could otherwise point a request at
-- another partner's row and withdraw it, or shape it so that no step applies.
CREATE FUNCTION @extschema@.submit_request(request_type text, subject text, partner_id bigint DEFAULT NULL,
                                           amount numeric DEFAULT NULL, currency text DEFAULT NULL,
                                           region_id bigint DEFAULT NULL, product_id bigint DEFAULT NULL,
                                           subject_id bigint DEFAULT NULL, detail jsonb DEFAULT '{}')
    RETURNS @extschema@.approval_request
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM @extschema@.request_type t
                WHERE t.request_type = submit_request.request_type AND t.on_decided IS NOT NULL) THEN
        RAISE EXCEPTION 'requests of type % are made through their module', submit_request.request_type
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'rebate.submit_request makes general requests; a customer registration, an application, an exit ... asks through its own function.';
    END IF;
    RETURN @extschema@.open_request(submit_request.request_type, submit_request.subject, submit_request.partner_id,
                                    submit_request.amount, submit_request.currency, submit_request.region_id,
                                    submit_request.product_id, submit_request.subject_id, submit_request.detail);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.submit_request(text, text, bigint, numeric, text, bigint, bigint, bigint, jsonb)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.submit_request(text, text, bigint, numeric, text, bigint, bigint, bigint, jsonb)
    TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.submit_request(text, text, bigint, numeric, text, bigint, bigint, bigint, jsonb) IS
    'Submits a general request for a decision to the active flow of its type in the caller''s tenant; returns it, waiting at its first applicable step (approved at once when none applies). The request types of modules are refused: their modules open them';

-- Approves or rejects a task the caller may decide (its own, its
-- delegator's, its tenant's as a manager, its partner's as a parent's user).
-- One rejection rejects the request; the step is settled by one approval
-- ('any') or by all of its tasks ('all'), and the next applicable step
-- starts.  A task the caller may not decide is reported like one that does
-- not exist.
CREATE FUNCTION @extschema@.decide_approval(task_id bigint, decision text, comment text DEFAULT NULL)
    RETURNS @extschema@.approval_request
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    found_task @extschema@.approval_task;
    task @extschema@.approval_task;
    request @extschema@.approval_request;
    step_rule text;
    behalf name;
BEGIN
    IF decision IS NULL OR decision NOT IN ('approve', 'reject') THEN
        RAISE EXCEPTION 'a decision is approve or reject, not "%"', decision USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- judged before anything is locked: another tenant's task is neither locked nor told apart from none
    SELECT t.* INTO found_task FROM @extschema@.approval_task t WHERE t.id = decide_approval.task_id;
    SELECT r.* INTO request FROM @extschema@.approval_request r
     WHERE r.tenant_id = found_task.tenant_id AND r.id = found_task.request_id;
    IF found_task.id IS NULL
       OR NOT @extschema@.may_decide(actor, found_task, request.requested_by, request.request_type) THEN
        RAISE EXCEPTION 'approval task % does not exist or is not yours to decide', decide_approval.task_id
            USING ERRCODE = 'no_data_found';
    END IF;
    -- the request first, then its task: the deciders of one request take turns
    SELECT r.* INTO request FROM @extschema@.approval_request r
     WHERE r.tenant_id = found_task.tenant_id AND r.id = found_task.request_id FOR UPDATE;
    SELECT t.* INTO task FROM @extschema@.approval_task t
     WHERE t.tenant_id = found_task.tenant_id AND t.id = found_task.id FOR UPDATE;
    IF task.status <> 'waiting' OR request.status <> 'pending' THEN
        RAISE EXCEPTION 'approval task % is already %', task.id,
                        CASE WHEN task.status = 'waiting' THEN 'ended: the request is ' || request.status ELSE task.status END
            USING ERRCODE = 'RB070';
    END IF;
    behalf := CASE WHEN task.approver_kind = 'role' AND task.approver_role <> actor THEN task.approver_role END;
    UPDATE @extschema@.approval_task t
       SET status = CASE decision WHEN 'approve' THEN 'approved' ELSE 'rejected' END, decided_by = actor,
           on_behalf_of = behalf, decided_at = pg_catalog.clock_timestamp(), comment = decide_approval.comment
     WHERE t.tenant_id = task.tenant_id AND t.id = task.id;
    PERFORM @extschema@.record_approval_event(request, CASE decision WHEN 'approve' THEN 'approved' ELSE 'rejected' END,
                                              task.id, task.step_no, decide_approval.comment, behalf);
    IF decision = 'reject' THEN
        RETURN @extschema@.end_request(request, 'rejected', decide_approval.comment);
    END IF;
    SELECT s.decision_rule INTO step_rule FROM @extschema@.approval_step s
     WHERE s.tenant_id = request.tenant_id AND s.flow_id = request.flow_id AND s.step_no = task.step_no;
    IF coalesce(step_rule, 'any') = 'any' THEN
        UPDATE @extschema@.approval_task t SET status = 'cancelled'
         WHERE t.tenant_id = request.tenant_id AND t.request_id = request.id AND t.step_no = task.step_no
           AND t.status = 'waiting';
    ELSIF EXISTS (SELECT 1 FROM @extschema@.approval_task t
                   WHERE t.tenant_id = request.tenant_id AND t.request_id = request.id AND t.step_no = task.step_no
                     AND t.status = 'waiting') THEN
        RETURN request;     -- the step waits for its other approvers
    END IF;
    RETURN @extschema@.start_next_step(request, task.step_no);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.decide_approval(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.decide_approval(bigint, text, text) TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.decide_approval(bigint, text, text) IS
    'Approves or rejects an approval task the caller may decide; returns the request as it then stands';

CREATE FUNCTION @extschema@.approve(task_id bigint, comment text DEFAULT NULL) RETURNS @extschema@.approval_request
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.decide_approval(task_id, 'approve', comment) $$;
COMMENT ON FUNCTION @extschema@.approve(bigint, text) IS 'Approves an approval task (rebate.decide_approval)';

CREATE FUNCTION @extschema@.reject(task_id bigint, comment text DEFAULT NULL) RETURNS @extschema@.approval_request
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.decide_approval(task_id, 'reject', comment) $$;
COMMENT ON FUNCTION @extschema@.reject(bigint, text) IS 'Rejects an approval task, and with it the request (rebate.decide_approval)';

-- The requester (or a manager of the tenant) withdraws a pending request.
CREATE FUNCTION @extschema@.withdraw_request(request_id bigint, reason text DEFAULT NULL)
    RETURNS @extschema@.approval_request
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    request @extschema@.approval_request;
BEGIN
    SELECT r.* INTO request FROM @extschema@.approval_request r WHERE r.id = withdraw_request.request_id;
    IF request.id IS NULL
       OR NOT coalesce((request.requested_by = actor
                        AND (@extschema@.binding_of(actor)).tenant_id = request.tenant_id)
                       OR @extschema@.manages_tenant(actor, request.tenant_id), false) THEN
        RAISE EXCEPTION 'approval request % does not exist or is not yours to withdraw', withdraw_request.request_id
            USING ERRCODE = 'no_data_found';
    END IF;
    SELECT r.* INTO request FROM @extschema@.approval_request r
     WHERE r.tenant_id = request.tenant_id AND r.id = request.id FOR UPDATE;
    IF request.status <> 'pending' THEN
        RAISE EXCEPTION 'approval request % is already %', request.id, request.status USING ERRCODE = 'RB070';
    END IF;
    PERFORM @extschema@.record_approval_event(request, 'withdrawn', NULL, request.current_step, reason);
    RETURN @extschema@.end_request(request, 'withdrawn', reason);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.withdraw_request(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.withdraw_request(bigint, text) TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.withdraw_request(bigint, text) IS
    'Withdraws a pending approval request (its requester, or a manager of the tenant)';

-- The tasks waiting for the caller's decision: its own, its delegators',
-- its tenant's manager tasks (a manager), its partner's (a parent's user).
CREATE FUNCTION @extschema@.my_approval_tasks()
    RETURNS TABLE (task_id bigint, request_id bigint, request_type text, subject text, partner_id bigint,
                   amount numeric, currency text, step_no integer, step_name text, due_at timestamptz,
                   on_behalf_of name, requested_by name, requested_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.id, r.id, r.request_type, r.subject, r.partner_id, r.amount, r.currency, t.step_no, s.name, t.due_at,
           CASE WHEN t.approver_kind = 'role' AND t.approver_role <> @extschema@.acting_role() THEN t.approver_role END,
           r.requested_by, r.requested_at
      FROM @extschema@.approval_task t
      JOIN @extschema@.approval_request r ON r.tenant_id = t.tenant_id AND r.id = t.request_id
      LEFT JOIN @extschema@.approval_step s ON s.tenant_id = r.tenant_id AND s.flow_id = r.flow_id AND s.step_no = t.step_no
     WHERE t.tenant_id = (@extschema@.binding_of(@extschema@.acting_role())).tenant_id
       AND t.status = 'waiting' AND r.status = 'pending'
       AND @extschema@.may_decide(@extschema@.acting_role(), t, r.requested_by, r.request_type)
     ORDER BY t.due_at NULLS LAST, t.id
$$;
REVOKE ALL ON FUNCTION @extschema@.my_approval_tasks() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.my_approval_tasks() TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.my_approval_tasks() IS
    'The approval tasks waiting for the caller''s decision (its own, its delegators'', its tenant''s or its partner''s), the most urgent first';

-- The caller hands its decisions to another role of its tenant, bound like it
-- (a manager to a manager, a partner user to a user of its partner), for a
-- time and optionally one request type.
CREATE FUNCTION @extschema@.delegate_approvals(delegate name, valid tstzrange, request_type text DEFAULT NULL)
    RETURNS @extschema@.approval_delegation
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    tenant bigint := (@extschema@.binding_of(actor)).tenant_id;
    made @extschema@.approval_delegation;
BEGIN
    IF tenant IS NULL OR NOT @extschema@.bound_alike(actor, delegate, tenant) THEN
        RAISE EXCEPTION 'permission denied to delegate approvals to %', delegate USING ERRCODE = 'insufficient_privilege',
              HINT = 'A manager delegates to another manager of its tenant, a partner user to another user of its partner.';
    END IF;
    IF valid IS NULL OR isempty(valid) OR lower_inf(valid) THEN
        RAISE EXCEPTION 'a delegation needs a time range with a start' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO @extschema@.approval_delegation (tenant_id, delegator, delegate, request_type, valid)
    VALUES (tenant, actor, delegate_approvals.delegate, delegate_approvals.request_type, delegate_approvals.valid)
    RETURNING * INTO made;
    RETURN made;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.delegate_approvals(name, tstzrange, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.delegate_approvals(name, tstzrange, text) TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.delegate_approvals(name, tstzrange, text) IS
    'Lets another role of the caller''s tenant, bound like it, decide the caller''s approval tasks for a time (one request type, or all)';

-- Ends one of the caller's delegations now.
CREATE FUNCTION @extschema@.end_delegation(delegation_id bigint) RETURNS @extschema@.approval_delegation
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    ended @extschema@.approval_delegation;
BEGIN
    SELECT d.* INTO ended FROM @extschema@.approval_delegation d
     WHERE d.id = end_delegation.delegation_id AND d.delegator = actor
       AND d.tenant_id = (@extschema@.binding_of(actor)).tenant_id
    FOR UPDATE;
    IF ended.id IS NOT NULL AND pg_catalog.lower(ended.valid) >= pg_catalog.now() THEN
        -- not begun yet: it never applies
        DELETE FROM @extschema@.approval_delegation d WHERE d.tenant_id = ended.tenant_id AND d.id = ended.id;
        ended.valid := 'empty';
    ELSIF ended.id IS NOT NULL THEN
        UPDATE @extschema@.approval_delegation d
           SET valid = pg_catalog.tstzrange(pg_catalog.lower(d.valid),
                                            least(coalesce(pg_catalog.upper(d.valid), 'infinity'), pg_catalog.now()))
         WHERE d.tenant_id = ended.tenant_id AND d.id = ended.id
        RETURNING d.* INTO ended;
    END IF;
    IF ended.id IS NULL THEN
        RAISE EXCEPTION 'delegation % does not exist or is not yours', end_delegation.delegation_id
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN ended;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.end_delegation(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.end_delegation(bigint) TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.end_delegation(bigint) IS
    'Ends one of the caller''s delegations now (one not begun yet is removed; returned with an empty range)';

-- Overdue tasks (past their step's time limit): passed to the step's
-- escalate_to role, or, when it names none, their approvers reminded once.
-- For a tenant's managers (every tenant: group administrators), from cron.
-- Returns per tenant how many were escalated and reminded.
CREATE FUNCTION @extschema@.escalate_approvals(tenant_id bigint DEFAULT NULL)
    RETURNS TABLE (tenant bigint, escalated integer, reminded integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t bigint;
    overdue record;
    successor @extschema@.approval_task;
    request @extschema@.approval_request;
BEGIN
    IF NOT (CASE WHEN escalate_approvals.tenant_id IS NULL THEN @extschema@.role_is_admin(@extschema@.acting_role())
                 ELSE @extschema@.may_manage(@extschema@.acting_role(), escalate_approvals.tenant_id) END) THEN
        RAISE EXCEPTION 'permission denied to escalate the approvals of %',
                        CASE WHEN escalate_approvals.tenant_id IS NULL THEN 'every tenant'
                             ELSE pg_catalog.format('tenant %s', escalate_approvals.tenant_id) END
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A manager of the tenant (or a group administrator, for every tenant) may.';
    END IF;
    FOR t IN SELECT x.id FROM @extschema@.tenant x
              WHERE escalate_approvals.tenant_id IS NULL OR x.id = escalate_approvals.tenant_id ORDER BY x.id LOOP
        tenant := t;
        escalated := 0;
        reminded := 0;
        FOR overdue IN
            SELECT k.id AS task_id, k.request_id, s.escalate_to, s.time_limit
              FROM @extschema@.approval_task k
              JOIN @extschema@.approval_request r ON r.tenant_id = k.tenant_id AND r.id = k.request_id
              LEFT JOIN @extschema@.approval_step s
                ON s.tenant_id = r.tenant_id AND s.flow_id = r.flow_id AND s.step_no = k.step_no
             WHERE k.tenant_id = t AND k.status = 'waiting' AND k.due_at < pg_catalog.now() AND r.status = 'pending'
               AND (s.escalate_to IS NOT NULL OR k.reminded_at IS NULL)
             ORDER BY k.request_id, k.id
        LOOP
            SELECT r.* INTO request FROM @extschema@.approval_request r
             WHERE r.tenant_id = t AND r.id = overdue.request_id FOR UPDATE;
            IF request.status <> 'pending' THEN
                CONTINUE;
            END IF;
            IF overdue.escalate_to IS NOT NULL
               AND (@extschema@.binding_of(overdue.escalate_to)).tenant_id = t THEN
                UPDATE @extschema@.approval_task k SET status = 'escalated'
                 WHERE k.tenant_id = t AND k.id = overdue.task_id AND k.status = 'waiting';
                IF NOT FOUND THEN
                    CONTINUE;
                END IF;
                INSERT INTO @extschema@.approval_task (tenant_id, request_id, step_no, partner_id, approver_kind,
                                                       approver_role, due_at, escalated_from)
                SELECT k.tenant_id, k.request_id, k.step_no, k.partner_id, 'role', overdue.escalate_to,
                       pg_catalog.clock_timestamp() + overdue.time_limit, k.id
                  FROM @extschema@.approval_task k WHERE k.tenant_id = t AND k.id = overdue.task_id
                RETURNING * INTO successor;
                PERFORM @extschema@.record_approval_event(request, 'escalated', successor.id, successor.step_no,
                                                          pg_catalog.format('task %s overdue: passed to %s',
                                                                            overdue.task_id, overdue.escalate_to));
                PERFORM @extschema@.announce_task(successor, request, 'approval_escalated');
                escalated := escalated + 1;
            ELSE
                UPDATE @extschema@.approval_task k SET reminded_at = pg_catalog.now()
                 WHERE k.tenant_id = t AND k.id = overdue.task_id AND k.reminded_at IS NULL
                RETURNING * INTO successor;
                IF NOT FOUND THEN
                    CONTINUE;
                END IF;
                PERFORM @extschema@.record_approval_event(request, 'reminded', successor.id, successor.step_no,
                                                          pg_catalog.format('task %s overdue since %s',
                                                                            successor.id, successor.due_at));
                PERFORM @extschema@.announce_task(successor, request, 'approval_waiting');
                reminded := reminded + 1;
            END IF;
        END LOOP;
        RETURN NEXT;
    END LOOP;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant % does not exist or is not visible to you', escalate_approvals.tenant_id
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.escalate_approvals(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.escalate_approvals(bigint) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.escalate_approvals(bigint) IS
    'Escalates the overdue approval tasks of a tenant (every tenant''s for NULL) to their step''s escalate_to role, or reminds their approvers once; returns the counts per tenant. Run it from cron';

-- ---- issue 17: customer registration (registrations.sql): end_customer's
-- protection, arbitration and follow-ups.  Registrations made before keep
-- their customer: protected, their protection running from the update day.
ALTER TABLE @extschema@.end_customer DROP CONSTRAINT end_customer_tenant_id_name_key_key;
ALTER TABLE @extschema@.end_customer
    ADD COLUMN tax_id             text CHECK (tax_id ~ '^[0-9A-Z]{15,20}$'),
    ADD COLUMN product_id         bigint,
    ADD COLUMN expected_amount    numeric(18,2) CHECK (expected_amount >= 0),
    ADD COLUMN expected_close_on  date,
    ADD COLUMN note               text,
    ADD COLUMN status             text NOT NULL DEFAULT 'protected'
                                  CHECK (status IN ('protected', 'in_arbitration', 'rejected', 'lapsed', 'released')),
    ADD COLUMN last_progress_on   date,
    ADD COLUMN protected_until    date,
    ADD FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id);
UPDATE @extschema@.end_customer SET last_progress_on = CURRENT_DATE, protected_until = CURRENT_DATE + 90;
ALTER TABLE @extschema@.end_customer ALTER COLUMN last_progress_on SET NOT NULL,
                                     ALTER COLUMN protected_until SET NOT NULL;
-- one protected registration per company: by its normalized name, and by its tax id where given
CREATE UNIQUE INDEX end_customer_protected_name ON @extschema@.end_customer (tenant_id, name_key)
    WHERE status = 'protected';
CREATE UNIQUE INDEX end_customer_protected_tax_id ON @extschema@.end_customer (tenant_id, tax_id)
    WHERE status = 'protected' AND tax_id IS NOT NULL;
CREATE INDEX end_customer_protection ON @extschema@.end_customer (tenant_id, protected_until) WHERE status = 'protected';
COMMENT ON TABLE @extschema@.end_customer IS
    'End customers registered by partners (客户报备): a company is protected for one partner at a time, so two partners never chase the same client (撞单); counted by the new_customers metric (docs/registrations.md)';
COMMENT ON COLUMN @extschema@.end_customer.name_key IS 'rebate.normalize_name(name), maintained: one protected registration per company and tenant';
COMMENT ON COLUMN @extschema@.end_customer.tax_id IS 'Unified social credit code (统一社会信用代码) where given: one protected registration per tax id and tenant';
COMMENT ON COLUMN @extschema@.end_customer.expected_amount IS 'The deal the partner expects, in the tenant''s currency (the amount an arbitration''s steps compare)';
COMMENT ON COLUMN @extschema@.end_customer.status IS
    'protected (the partner''s), in_arbitration (conflicting, waiting for the decision), rejected, lapsed (no progress in time), released (arbitration gave the customer to another partner)';
COMMENT ON COLUMN @extschema@.end_customer.last_progress_on IS
    'The day of the last progress (registration, follow-up, approved arbitration): protection runs from it; maintained';
COMMENT ON COLUMN @extschema@.end_customer.protected_until IS
    'The last day of protection: last_progress_on + the tenant''s registration_setting.protection_days; maintained';

GRANT INSERT (tax_id, product_id, expected_amount, expected_close_on, note, status, last_progress_on, protected_until),
      UPDATE (tax_id, product_id, expected_amount, expected_close_on, note, status, last_progress_on, protected_until)
   ON @extschema@.end_customer TO rebate_admin, rebate_manager;
GRANT INSERT (tax_id, product_id, expected_amount, expected_close_on, note) ON @extschema@.end_customer TO rebate_partner;
-- registrations in arbitration or rejected are no new customers
-- Each partner's basis (and per-unit amount) under a version over document
-- days [from_day, to_day), formulated anew from the documents.
CREATE OR REPLACE FUNCTION @extschema@.verify_basis(v @extschema@.program_version, from_day date, to_day date)
    RETURNS TABLE (partner_id bigint, parent_id bigint, basis numeric, unit_amount numeric, payout numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH partners AS (
        SELECT pa.id, pa.parent_id, pa.state, pa.home_region_id FROM @extschema@.partner pa
         WHERE pa.tenant_id = v.tenant_id
           AND (cardinality(v.partner_ids) = 0 OR pa.id IN (SELECT unnest(v.partner_ids)))
           AND (cardinality(v.grade_ids) = 0 OR pa.grade_id IN (SELECT unnest(v.grade_ids)))
    ), in_regions AS (
        SELECT r.id FROM @extschema@.region r
         WHERE r.tenant_id = v.tenant_id
           AND (cardinality(v.region_ids) = 0 OR EXISTS (SELECT 1 FROM unnest(r.path) p WHERE p IN (SELECT unnest(v.region_ids))))
    ), in_products AS (
        SELECT pr.id FROM @extschema@.product pr JOIN @extschema@.product_category c ON c.id = pr.category_id
         WHERE pr.tenant_id = v.tenant_id
           AND (cardinality(v.product_ids) = 0 OR pr.id IN (SELECT unnest(v.product_ids)))
           AND (cardinality(v.category_ids) = 0 OR EXISTS (SELECT 1 FROM unnest(c.path) p WHERE p IN (SELECT unnest(v.category_ids))))
    ), totals AS (
        SELECT ol.order_id, sum(ol.amount) AS amount FROM @extschema@.order_line ol
         WHERE ol.tenant_id = v.tenant_id GROUP BY ol.order_id
    ), paid_in_full AS (
        -- the first payment day on which the allocations reach the order's amount
        SELECT a.order_id, min(p.received_on) AS day
          FROM @extschema@.payment_allocation a JOIN @extschema@.payment p ON p.id = a.payment_id
         WHERE a.tenant_id = v.tenant_id
           AND (SELECT sum(a2.amount) FROM @extschema@.payment_allocation a2 JOIN @extschema@.payment p2 ON p2.id = a2.payment_id
                 WHERE a2.order_id = a.order_id AND (p2.received_on, p2.id) <= (p.received_on, p.id))
               >= (SELECT t.amount FROM totals t WHERE t.order_id = a.order_id)
         GROUP BY a.order_id
    ), documents AS (
        SELECT o.id, o.partner_id, o.kind,
               -- a return or credit note counts on its original sale's day
               CASE WHEN o.original_order_id IS NULL THEN o.id ELSE o.original_order_id END AS sale_id
          FROM @extschema@.sales_order o
         WHERE o.tenant_id = v.tenant_id AND o.currency = v.currency
           AND o.status = ANY (@extschema@.order_statuses('counted'))
           -- by order date, an order counts on its own date and a return never before its own date
           AND (v.date_basis <> 'order'
                OR (o.order_date >= from_day + v.grace_days
                    AND (o.kind <> 'order' OR o.order_date < to_day + v.grace_days)))
           AND (o.kind = 'order' OR v.returns_reduce)
           AND o.ship_to_region_id IN (SELECT id FROM in_regions)
    ), dated AS (
        SELECT d.*,
               CASE WHEN d.kind <> 'order' AND d.sale_id = d.id THEN s.order_date
                    WHEN v.date_basis = 'order' THEN s.order_date
                    WHEN v.date_basis = 'delivery' THEN s.delivered_on
                    ELSE (SELECT f.day FROM paid_in_full f WHERE f.order_id = s.id) END AS day
          FROM documents d JOIN @extschema@.sales_order s ON s.id = d.sale_id
         WHERE s.status = ANY (@extschema@.order_statuses('counted'))
    ), per_product AS (
        SELECT d.partner_id, ol.product_id,
               sum(ol.quantity * CASE d.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END) AS qty,
               sum(ol.amount * CASE d.kind WHEN 'order' THEN 1 ELSE -1 END) AS amount,
               sum(ol.quantity * CASE d.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END
                   * CASE WHEN v.metric = ANY (@extschema@.metric_names('needs_cost'))
                            OR v.payout_metric = ANY (@extschema@.metric_names('needs_cost')) THEN coalesce(ol.unit_cost, 0) ELSE 0 END) AS cost
          FROM dated d JOIN @extschema@.order_line ol ON ol.order_id = d.id
         WHERE d.day >= from_day + v.grace_days AND d.day < to_day + v.grace_days
           AND ol.product_id IN (SELECT id FROM in_products)
         GROUP BY d.partner_id, ol.product_id
    ), found AS (
        SELECT pp.partner_id,
               sum(CASE @extschema@.metric_basis(v.metric) WHEN 'line_quantity' THEN pp.qty
                        WHEN 'line_margin' THEN pp.amount - pp.cost ELSE pp.amount END) AS basis,
               sum(CASE WHEN v.unit_amount IS NOT NULL THEN trunc(pp.qty / v.unit_size) * v.unit_amount
                        ELSE pp.amount * v.unit_percent / 100 END) AS unit_amount,
               sum(CASE @extschema@.metric_basis(v.payout_metric) WHEN 'line_quantity' THEN pp.qty
                        WHEN 'line_margin' THEN pp.amount - pp.cost WHEN 'line_amount' THEN pp.amount END) AS payout
          FROM per_product pp WHERE v.metric = ANY (@extschema@.metric_names('product_scope'))
         GROUP BY pp.partner_id
        UNION ALL
        SELECT p.partner_id, sum(p.amount), NULL, NULL
          FROM @extschema@.payment p JOIN partners pa ON pa.id = p.partner_id
         WHERE @extschema@.metric_basis(v.metric) = 'payments' AND p.tenant_id = v.tenant_id AND p.currency = v.currency
           AND (cardinality(v.region_ids) = 0 OR pa.home_region_id IN (SELECT id FROM in_regions))
           AND p.received_on >= from_day + v.grace_days AND p.received_on < to_day + v.grace_days
         GROUP BY p.partner_id
        UNION ALL
        SELECT c.partner_id, count(*), NULL, NULL
          FROM @extschema@.end_customer c JOIN partners pa ON pa.id = c.partner_id
         WHERE @extschema@.metric_basis(v.metric) = 'customers' AND c.tenant_id = v.tenant_id
           AND (cardinality(v.region_ids) = 0 OR coalesce(c.region_id, pa.home_region_id) IN (SELECT id FROM in_regions))
           AND c.registered_on >= from_day + v.grace_days AND c.registered_on < to_day + v.grace_days
           AND c.status IN ('protected', 'lapsed', 'released')
         GROUP BY c.partner_id
    )
    SELECT pa.id, pa.parent_id, coalesce(f.basis, 0), f.unit_amount,
           CASE WHEN v.payout_metric IS NOT NULL THEN coalesce(f.payout, 0) END
      FROM partners pa LEFT JOIN found f ON f.partner_id = pa.id
     WHERE pa.state = 'active' OR f.partner_id IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.verify_basis(@extschema@.program_version, date, date) IS
    'rebate.verify_period''s own basis query: each partner''s basis under a version over document days [from_day, to_day)';

-- follow-ups change nothing a settled period counted
CREATE OR REPLACE FUNCTION @extschema@.changed_since(tenant_id bigint, since_xmin bigint) RETURNS date
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH changes AS (
        SELECT a.table_name, a.changed_columns, r.doc
          FROM @extschema@.audit_log a
         CROSS JOIN LATERAL (VALUES (a.old_row), (a.new_row)) AS r (doc)
         WHERE a.tenant_id = changed_since.tenant_id AND a.transaction_id >= since_xmin AND r.doc IS NOT NULL
           AND a.table_name IN ('sales_order', 'order_line', 'payment', 'payment_allocation', 'end_customer', 'target',
                                'partner', 'product', 'product_category', 'region')
           -- a registration's follow-ups and expected deal count for nothing
           AND NOT (a.table_name = 'end_customer' AND a.operation = 'UPDATE'
                    AND NOT a.changed_columns && ARRAY['tenant_id', 'partner_id', 'region_id', 'registered_on', 'status'])
    ), orders AS (
        -- orders changed themselves, or through their lines or payment allocations, and their originals
        SELECT (c.doc ->> 'id')::bigint AS id FROM changes c WHERE c.table_name = 'sales_order'
        UNION
        SELECT (c.doc ->> 'original_order_id')::bigint FROM changes c
         WHERE c.table_name = 'sales_order' AND c.doc ->> 'original_order_id' IS NOT NULL
        UNION
        SELECT (c.doc ->> 'order_id')::bigint FROM changes c WHERE c.table_name IN ('order_line', 'payment_allocation')
    ), days AS (
        SELECT least(o.order_date, orig.order_date) AS day
          FROM orders x JOIN @extschema@.sales_order o ON o.id = x.id
          LEFT JOIN @extschema@.sales_order orig ON orig.id = o.original_order_id
        UNION ALL
        -- an order paid in advance counts (by payment date) from the first payment allocated to it
        SELECT min(p.received_on)
          FROM @extschema@.payment_allocation a JOIN @extschema@.payment p ON p.id = a.payment_id
         WHERE a.tenant_id = changed_since.tenant_id AND a.order_id IN (SELECT x.id FROM orders x)
        UNION ALL
        SELECT (c.doc ->> CASE c.table_name WHEN 'sales_order' THEN 'order_date' WHEN 'payment' THEN 'received_on'
                                            ELSE 'registered_on' END)::date
          FROM changes c WHERE c.table_name IN ('sales_order', 'payment', 'end_customer')
        UNION ALL
        SELECT p.received_on FROM changes c JOIN @extschema@.payment p ON p.id = (c.doc ->> 'payment_id')::bigint
         WHERE c.table_name = 'payment_allocation'
        UNION ALL
        SELECT lower((c.doc ->> 'period')::daterange) FROM changes c WHERE c.table_name = 'target'
        UNION ALL
        -- a version activated (from its first day) or superseded (from the day it stops governing)
        SELECT CASE WHEN a.old_row ->> 'status' IS DISTINCT FROM 'active' THEN lower((a.new_row ->> 'effective')::daterange)
                    ELSE upper((a.new_row ->> 'effective')::daterange) END
          FROM @extschema@.audit_log a
         WHERE a.tenant_id = changed_since.tenant_id AND a.transaction_id >= since_xmin
           AND a.table_name = 'program_version' AND a.new_row ->> 'status' = 'active'
           AND (a.old_row ->> 'status' IS DISTINCT FROM 'active' OR a.old_row ->> 'effective' IS DISTINCT FROM a.new_row ->> 'effective')
        UNION ALL
        SELECT '-infinity'::date FROM changes c
         WHERE (c.table_name = 'partner' AND c.changed_columns && '{grade_id,parent_id,state,home_region_id}')
            OR (c.table_name = 'product' AND c.changed_columns && '{category_id}')
            OR (c.table_name IN ('product_category', 'region') AND c.changed_columns && '{parent_id}')
    )
    SELECT min(d.day) FROM days d
$$;
COMMENT ON FUNCTION @extschema@.changed_since(bigint, bigint) IS
    'The earliest day a document changed since transaction since_xmin (per the audit log) can count on; -infinity for changes of scope; NULL when nothing changed';

-- ---------------------------------------------------------------------------
-- Customer registration (客户报备): a partner registers the end customer it
-- is working on (rebate.end_customer, in programs.sql) and the customer is
-- protected for it, so that two partners of a brand do not chase the same
-- client (撞单).  A company is known by its normalized name (ICU,
-- rebate.normalize_name) and by its tax id where given; one registration of
-- it is protected at a time.  A registration of a company another partner
-- holds is refused, or (the tenant's choice) sent to arbitration through the
-- approval engine; the registering partner learns that a conflict exists,
-- never whose.  Protection lasts the tenant's protection_days from the last
-- progress (the registration, a follow-up, an approved arbitration) and then
-- lapses.  docs/registrations.md describes it with examples.
-- ---------------------------------------------------------------------------

-- How a tenant protects registrations (no row: the defaults).
CREATE TABLE @extschema@.registration_setting (
    id               bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id        bigint PRIMARY KEY DEFAULT @extschema@.current_tenant_id()
                     REFERENCES @extschema@.tenant ON DELETE CASCADE,
    protection_days  integer NOT NULL DEFAULT 90 CHECK (protection_days BETWEEN 1 AND 3650),
    on_conflict      text NOT NULL DEFAULT 'refuse' CHECK (on_conflict IN ('refuse', 'arbitrate')),
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE UNIQUE INDEX registration_setting_by_id ON @extschema@.registration_setting (id);
COMMENT ON TABLE @extschema@.registration_setting IS
    'How each tenant protects customer registrations (客户报备); a tenant without a row has the defaults';
COMMENT ON COLUMN @extschema@.registration_setting.protection_days IS
    'Days a registration stays protected after its last progress (default 90)';
COMMENT ON COLUMN @extschema@.registration_setting.on_conflict IS
    'A registration of a company another partner holds: refuse (the default, error RB080) or arbitrate (registered in_arbitration, decided through the customer_registration approval flow)';
SELECT @extschema@.apply_standard_triggers('@extschema@.registration_setting');
SELECT @extschema@.apply_tenant_rls('@extschema@.registration_setting', 'tenant_id');
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.registration_setting TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.registration_setting TO rebate_partner;

-- A tenant's setting, the defaults where it has none.
CREATE FUNCTION @extschema@.registration_setting_of(tenant_id bigint,
                                                    OUT protection_days integer, OUT on_conflict text)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(s.protection_days, 90), coalesce(s.on_conflict, 'refuse')
      FROM (SELECT 1) one
      LEFT JOIN @extschema@.registration_setting s ON s.tenant_id = registration_setting_of.tenant_id
$$;
REVOKE ALL ON FUNCTION @extschema@.registration_setting_of(bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.registration_setting_of(bigint) IS
    'Internal: a tenant''s registration setting, the defaults (90 days, refuse) where it has no row';

-- Follow-ups (跟进记录): the progress a partner reports on a registered
-- customer; each one renews the protection.
CREATE TABLE @extschema@.customer_followup (
    id               bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id        bigint NOT NULL REFERENCES @extschema@.tenant,
    end_customer_id  bigint NOT NULL,
    partner_id       bigint NOT NULL,
    note             text NOT NULL CHECK (btrim(note) <> ''),
    recorded_by      name NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, end_customer_id) REFERENCES @extschema@.end_customer (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id)
);
CREATE UNIQUE INDEX customer_followup_by_id ON @extschema@.customer_followup (id);
CREATE INDEX customer_followup_customer ON @extschema@.customer_followup (tenant_id, end_customer_id, created_at);
COMMENT ON TABLE @extschema@.customer_followup IS
    'Progress reported on registered customers (跟进记录), each renewing the protection; written by rebate.follow_up_registration';
COMMENT ON COLUMN @extschema@.customer_followup.partner_id IS 'The partner holding the registration';
COMMENT ON COLUMN @extschema@.customer_followup.recorded_by IS 'The role that reported it';
SELECT @extschema@.apply_standard_triggers('@extschema@.customer_followup');
SELECT @extschema@.apply_tenant_rls('@extschema@.customer_followup', 'tenant_id', 'partner_id');
-- read only: rebate.follow_up_registration writes it
GRANT SELECT ON @extschema@.customer_followup TO rebate_admin, rebate_manager, rebate_partner;

-- Protected registrations past their last day lapse: all of a tenant's, or
-- those of one company (by name key or tax id).  Each partner concerned is
-- told.  Returns how many lapsed.
CREATE FUNCTION @extschema@.lapse_due_registrations(tenant_id bigint, name_key text DEFAULT NULL,
                                                    tax_id text DEFAULT NULL)
    RETURNS integer
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH lapsed AS (
        UPDATE @extschema@.end_customer c SET status = 'lapsed'
         WHERE c.tenant_id = lapse_due_registrations.tenant_id AND c.status = 'protected'
           AND c.protected_until < CURRENT_DATE
           AND (lapse_due_registrations.name_key IS NULL OR c.name_key = lapse_due_registrations.name_key
                OR c.tax_id = lapse_due_registrations.tax_id)
        RETURNING c.tenant_id, c.id, c.partner_id, c.name, c.protected_until
    ), told AS (
        INSERT INTO @extschema@.notification (tenant_id, partner_id, event, subject_type, subject_id, title, detail)
        SELECT l.tenant_id, l.partner_id, 'registration_released', 'end_customer', l.id,
               pg_catalog.format('registration %s of %s lapsed: no progress after %s', l.id, l.name, l.protected_until),
               pg_catalog.jsonb_build_object('reason', 'lapsed', 'protected_until', l.protected_until)
          FROM lapsed l ORDER BY l.id
    )
    SELECT count(*)::integer FROM lapsed
$$;
REVOKE ALL ON FUNCTION @extschema@.lapse_due_registrations(bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.lapse_due_registrations(bigint, text, text) IS
    'Internal: lapses the protected registrations past their last day (of a tenant, or of one company), telling their partners';

-- ---- the rules, as the row is written -------------------------------------------

-- BEFORE INSERT OR UPDATE on end_customer.  Keeps the protection's dates,
-- and judges a new protected registration: a company another partner holds
-- is refused (RB080) or put in arbitration; one the same partner holds
-- already is refused (RB081).  Protections past their last day lapse first.
-- It reads what the writer may not see, so it speaks only to a writer who
-- may write the row (its tenant's manager, its partner's user); anyone else
-- is refused afterwards by row-level security, told nothing.
CREATE FUNCTION @extschema@.register_customer() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    bound record := @extschema@.binding_of(actor);
    setting record := @extschema@.registration_setting_of(NEW.tenant_id);
    holder record;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'register_customer only serves rebate.end_customer' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' THEN
        NEW.last_progress_on := coalesce(NEW.last_progress_on, NEW.registered_on);
    END IF;
    NEW.protected_until := NEW.last_progress_on + setting.protection_days;
    IF TG_OP <> 'INSERT' OR NEW.status <> 'protected'
       OR NOT (@extschema@.may_manage(actor, NEW.tenant_id)
               OR coalesce(bound.tenant_id = NEW.tenant_id AND bound.partner_id = NEW.partner_id, false)) THEN
        RETURN NEW;
    END IF;
    PERFORM @extschema@.lapse_due_registrations(NEW.tenant_id, NEW.name_key, NEW.tax_id);
    SELECT c.id, c.partner_id INTO holder FROM @extschema@.end_customer c
     WHERE c.tenant_id = NEW.tenant_id AND c.status = 'protected'
       AND (c.name_key = NEW.name_key OR c.tax_id = NEW.tax_id)
     ORDER BY c.partner_id = NEW.partner_id DESC, c.id
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN NEW;
    END IF;
    IF holder.partner_id = NEW.partner_id THEN
        RAISE EXCEPTION 'customer "%" is already registered by this partner', NEW.name USING ERRCODE = 'RB081',
              DETAIL = pg_catalog.format('Registration %s protects it.', holder.id),
              HINT = 'Report progress on that registration with rebate.follow_up_registration.';
    END IF;
    IF setting.on_conflict = 'refuse' THEN
        RAISE EXCEPTION 'customer "%" is already registered by another partner', NEW.name USING ERRCODE = 'RB080',
              DETAIL = 'A registered customer stays with its partner until the registration lapses or is released.',
              HINT = 'Ask the brand''s channel manager, who may send conflicting registrations to arbitration.';
    END IF;
    NEW.status := 'in_arbitration';
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.register_customer() IS
    'BEFORE trigger on end_customer: maintains the protection''s dates and refuses (RB080, RB081) or sends to arbitration a registration of a company already protected';
CREATE TRIGGER registration BEFORE INSERT OR UPDATE ON @extschema@.end_customer
    FOR EACH ROW EXECUTE FUNCTION @extschema@.register_customer();

-- Registrations move along their lifecycle (a manager may also release or
-- lapse one by hand).
CREATE TRIGGER lifecycle BEFORE UPDATE OF status ON @extschema@.end_customer
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition(
        'status', 'in_arbitration>protected', 'in_arbitration>rejected', 'protected>lapsed', 'protected>released');

-- A registration in arbitration becomes a customer_registration request
-- (its flow decides who arbitrates) and the managers are told of the
-- conflict, with both registrations named.
CREATE FUNCTION @extschema@.arbitrate_registration() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    holder record;
    request @extschema@.approval_request;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'arbitrate_registration only serves rebate.end_customer' USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT c.id, c.partner_id INTO holder FROM @extschema@.end_customer c
     WHERE c.tenant_id = NEW.tenant_id AND c.status = 'protected'
       AND (c.name_key = NEW.name_key OR c.tax_id = NEW.tax_id)
     ORDER BY c.id LIMIT 1;
    request := @extschema@.open_request('customer_registration',
                                          pg_catalog.format('customer registration %s: %s', NEW.id, NEW.name),
                                          partner_id => NEW.partner_id, amount => NEW.expected_amount,
                                          region_id => NEW.region_id, product_id => NEW.product_id,
                                          subject_id => NEW.id);
    PERFORM @extschema@.notify(NEW.tenant_id, NULL, NULL, 'registration_conflict', 'end_customer', NEW.id,
                               pg_catalog.format('registration %s of %s conflicts with registration %s: request %s arbitrates',
                                                 NEW.id, NEW.name, holder.id, request.id),
                               pg_catalog.jsonb_build_object('partner_id', NEW.partner_id, 'holder_registration_id', holder.id,
                                                             'holder_partner_id', holder.partner_id,
                                                             'request_id', request.id));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.arbitrate_registration() IS
    'AFTER INSERT trigger on end_customer: submits a registration in arbitration to the customer_registration flow and tells the managers';
CREATE TRIGGER arbitration AFTER INSERT ON @extschema@.end_customer
    FOR EACH ROW WHEN (NEW.status = 'in_arbitration') EXECUTE FUNCTION @extschema@.arbitrate_registration();

-- The arbitration's outcome (request_type.on_decided, in the deciding
-- transaction): approved, the registration is protected from today and the
-- registration it conflicted with is released (its partner told, not to
-- whom); rejected or withdrawn, it is rejected.  A registration a manager
-- settled by hand meanwhile is left as it is.
CREATE FUNCTION @extschema@.registration_decided(request @extschema@.approval_request) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    registration @extschema@.end_customer;
BEGIN
    SELECT c.* INTO registration FROM @extschema@.end_customer c
     WHERE c.tenant_id = request.tenant_id AND c.id = request.subject_id FOR UPDATE;
    IF registration.status IS DISTINCT FROM 'in_arbitration' THEN
        RETURN;
    END IF;
    IF request.status <> 'approved' THEN
        UPDATE @extschema@.end_customer c SET status = 'rejected'
         WHERE c.tenant_id = registration.tenant_id AND c.id = registration.id;
        RETURN;
    END IF;
    WITH released AS (
        UPDATE @extschema@.end_customer c SET status = 'released'
         WHERE c.tenant_id = registration.tenant_id AND c.status = 'protected'
           AND (c.name_key = registration.name_key OR c.tax_id = registration.tax_id)
        RETURNING c.tenant_id, c.id, c.partner_id, c.name
    )
    INSERT INTO @extschema@.notification (tenant_id, partner_id, event, subject_type, subject_id, title, detail)
    SELECT r.tenant_id, r.partner_id, 'registration_released', 'end_customer', r.id,
           pg_catalog.format('registration %s of %s was released by arbitration', r.id, r.name),
           pg_catalog.jsonb_build_object('reason', 'arbitration', 'request_id', request.id)
      FROM released r ORDER BY r.id;
    UPDATE @extschema@.end_customer c SET status = 'protected', last_progress_on = CURRENT_DATE
     WHERE c.tenant_id = registration.tenant_id AND c.id = registration.id;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.registration_decided(@extschema@.approval_request) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.registration_decided(@extschema@.approval_request) IS
    'Internal (on_decided of customer_registration): protects an approved registration and releases the one it conflicted with; rejects the others';
INSERT INTO @extschema@.request_type (request_type, description, on_decided) VALUES
    ('customer_registration',
     'A customer registration (客户报备) conflicting with another partner''s: approved, it takes the customer over; rejected, it lapses',
     '@extschema@.registration_decided(@extschema@.approval_request)');

-- ---- what users call ------------------------------------------------------------

-- Reports progress on a protected registration: a follow-up row, and the
-- protection runs again from today.  By a user of the registration's
-- partner or a manager of its tenant; any other registration is reported
-- like one that does not exist.
CREATE FUNCTION @extschema@.follow_up_registration(end_customer_id bigint, note text)
    RETURNS @extschema@.end_customer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    bound record := @extschema@.binding_of(actor);
    registration @extschema@.end_customer;
BEGIN
    SELECT c.* INTO registration FROM @extschema@.end_customer c
     WHERE c.id = follow_up_registration.end_customer_id AND c.tenant_id = bound.tenant_id
       AND (c.partner_id = bound.partner_id OR @extschema@.manages_tenant(actor, c.tenant_id))
       FOR UPDATE;
    IF registration.id IS NULL THEN
        RAISE EXCEPTION 'registration % does not exist or is not visible to you', follow_up_registration.end_customer_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF registration.status <> 'protected' OR registration.protected_until < CURRENT_DATE THEN
        RAISE EXCEPTION 'registration % is not protected', registration.id USING ERRCODE = 'RB082',
              DETAIL = CASE WHEN registration.status = 'protected'
                            THEN pg_catalog.format('Its protection ended on %s.', registration.protected_until)
                            ELSE pg_catalog.format('It is %s.', pg_catalog.replace(registration.status, '_', ' ')) END,
              HINT = 'Register the customer again if it is free.';
    END IF;
    IF note IS NULL OR pg_catalog.btrim(note) = '' THEN
        RAISE EXCEPTION 'a follow-up needs a note' USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Say what happened: a visit, a call, a quotation.';
    END IF;
    INSERT INTO @extschema@.customer_followup (tenant_id, end_customer_id, partner_id, note, recorded_by)
    VALUES (registration.tenant_id, registration.id, registration.partner_id, note, actor);
    UPDATE @extschema@.end_customer c SET last_progress_on = CURRENT_DATE
     WHERE c.tenant_id = registration.tenant_id AND c.id = registration.id
    RETURNING c.* INTO registration;
    RETURN registration;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.follow_up_registration(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.follow_up_registration(bigint, text) TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.follow_up_registration(bigint, text) IS
    'Reports progress on a protected registration (a follow-up) and renews its protection from today; returns the registration';

-- Whether a company is free to register, as the portal asks before a
-- partner user types the rest: available, registered_by_you (the caller's
-- partner holds it) or registered_by_another_partner, never whose.
CREATE FUNCTION @extschema@.check_registration(name text, tax_id text DEFAULT NULL) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    bound record := @extschema@.binding_of(actor);
    holder bigint;
    key text := @extschema@.normalize_name(check_registration.name);
BEGIN
    IF bound.tenant_id IS NULL OR (bound.partner_id IS NULL AND NOT @extschema@.manages_tenant(actor, bound.tenant_id)) THEN
        RAISE EXCEPTION 'permission denied to check registrations' USING ERRCODE = 'insufficient_privilege',
              HINT = 'Registrations are checked by a tenant''s managers and partner users, each bound by rebate.grant_access.';
    END IF;
    SELECT c.partner_id INTO holder FROM @extschema@.end_customer c
     WHERE c.tenant_id = bound.tenant_id AND c.status = 'protected' AND c.protected_until >= CURRENT_DATE
       AND (c.name_key = key OR c.tax_id = check_registration.tax_id)
     ORDER BY c.partner_id IS NOT DISTINCT FROM bound.partner_id DESC
     LIMIT 1;
    RETURN CASE WHEN NOT FOUND THEN 'available'
                WHEN holder = bound.partner_id THEN 'registered_by_you'
                ELSE 'registered_by_another_partner' END;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.check_registration(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.check_registration(text, text) TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.check_registration(text, text) IS
    'Whether a company (name, and tax id where given) is free to register in the caller''s tenant: available, registered_by_you or registered_by_another_partner';

-- The cron job: lapses every protection past its last day (of a tenant, or
-- of every tenant for a group administrator); returns how many per tenant.
CREATE FUNCTION @extschema@.lapse_registrations(tenant_id bigint DEFAULT NULL)
    RETURNS TABLE (tenant bigint, lapsed integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT (CASE WHEN lapse_registrations.tenant_id IS NULL THEN @extschema@.role_is_admin(@extschema@.acting_role())
                 ELSE @extschema@.may_manage(@extschema@.acting_role(), lapse_registrations.tenant_id) END) THEN
        RAISE EXCEPTION 'permission denied to lapse the registrations of %',
                        CASE WHEN lapse_registrations.tenant_id IS NULL THEN 'every tenant'
                             ELSE pg_catalog.format('tenant %s', lapse_registrations.tenant_id) END
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A manager of the tenant (or a group administrator, for every tenant) may.';
    END IF;
    RETURN QUERY
        SELECT t.id, @extschema@.lapse_due_registrations(t.id)
          FROM @extschema@.tenant t
         WHERE lapse_registrations.tenant_id IS NULL OR t.id = lapse_registrations.tenant_id
         ORDER BY t.id;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.lapse_registrations(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.lapse_registrations(bigint) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.lapse_registrations(bigint) IS
    'Cron: lapses the registrations whose protection ended (of a tenant, or of every tenant), telling their partners; returns how many per tenant';
-- ---------------------------------------------------------------------------
-- Announcements (通知公告): a tenant's managers write an announcement, target
-- it (region subtree, grade, partner kind, an explicit list of partners; all
-- of them together), and publish it.  Publication resolves the audience once,
-- into rebate.announcement_recipient (one row per active partner it reaches),
-- and files one announcement_published notification per partner.  Partner
-- users read the published announcements addressed to their own partner and
-- mark them read and acknowledged (a mandatory one must be acknowledged);
-- managers follow the reach (rebate.v_announcement_reach) and who has not
-- acknowledged a mandatory one (rebate.v_announcement_pending).  A tenant may
-- have price-policy changes and program activations announced automatically
-- (rebate.announcement_rule).  Status changes, recipients and the inbox are
-- written only by the functions and triggers here (SECURITY DEFINER, each
-- judging the acting role).  docs/announcements.md describes it with examples.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.announcement (
    id              bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id       bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    title           text NOT NULL CHECK (btrim(title) <> '' AND pg_catalog.length(title) <= 200),
    body            text NOT NULL DEFAULT '',
    mandatory       boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'withdrawn')),
    source          text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'price_policy', 'program')),
    detail          jsonb NOT NULL DEFAULT '{}',
    region_ids      bigint[] NOT NULL DEFAULT '{}' CHECK (pg_catalog.array_position(region_ids, NULL) IS NULL),
    grade_ids       bigint[] NOT NULL DEFAULT '{}' CHECK (pg_catalog.array_position(grade_ids, NULL) IS NULL),
    kinds           text[] NOT NULL DEFAULT '{}'
                    CHECK (kinds OPERATOR(pg_catalog.<@) ARRAY['distributor', 'dealer', 'agent', 'retailer']),
    partner_ids     bigint[] NOT NULL DEFAULT '{}' CHECK (pg_catalog.array_position(partner_ids, NULL) IS NULL),
    expires_on      date,
    created_by      name NOT NULL DEFAULT @extschema@.acting_role(),
    published_at    timestamptz,
    published_by    name,
    withdrawn_at    timestamptz,
    withdrawn_by    name,
    withdraw_reason text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT announcement_published_stamp CHECK ((status = 'draft') = (published_at IS NULL)
                                                    AND (published_at IS NULL) = (published_by IS NULL)),
    CONSTRAINT announcement_withdrawn_stamp CHECK ((status = 'withdrawn') = (withdrawn_at IS NOT NULL)
                                                    AND (withdrawn_at IS NULL) = (withdrawn_by IS NULL))
);
CREATE UNIQUE INDEX announcement_by_id ON @extschema@.announcement (id);
CREATE INDEX announcement_published ON @extschema@.announcement (tenant_id, published_at DESC) WHERE status = 'published';
COMMENT ON TABLE @extschema@.announcement IS
    'Announcements (通知公告) of a tenant to its partners: draft -> published (rebate.publish_announcement, which resolves its recipients once) -> withdrawn (rebate.withdraw_announcement)';
COMMENT ON COLUMN @extschema@.announcement.title IS 'One line for a list (at most 200 characters)';
COMMENT ON COLUMN @extschema@.announcement.body IS 'The text of the announcement';
COMMENT ON COLUMN @extschema@.announcement.mandatory IS
    'Whether each recipient partner must acknowledge it (rebate.acknowledge_announcement); the unacknowledged are listed in rebate.v_announcement_pending';
COMMENT ON COLUMN @extschema@.announcement.status IS
    'draft (editable, seen by managers only) -> published (content fixed; seen by its recipients) -> withdrawn (seen by managers only); changed only by rebate.publish_announcement and rebate.withdraw_announcement';
COMMENT ON COLUMN @extschema@.announcement.source IS
    'manual (written by a manager), price_policy or program (published automatically by an rebate.announcement_rule when a price policy changed or a program version became active); set by the server';
COMMENT ON COLUMN @extschema@.announcement.detail IS
    'What an automatic announcement is about, as JSON (price policy ids, program and version ids); set by the server';
COMMENT ON COLUMN @extschema@.announcement.region_ids IS
    'Target: partners whose home region lies in one of these regions or below it (empty: every region)';
COMMENT ON COLUMN @extschema@.announcement.grade_ids IS 'Target: partners of one of these grades (empty: every grade)';
COMMENT ON COLUMN @extschema@.announcement.kinds IS
    'Target: partners of these kinds: distributor, dealer, agent, retailer (empty: every kind)';
COMMENT ON COLUMN @extschema@.announcement.partner_ids IS
    'Target: these partners only (empty: no list); every target applies, and only active partners are reached';
COMMENT ON COLUMN @extschema@.announcement.expires_on IS
    'The last day it is current (NULL: it does not expire); it stays readable, and may be changed while published';
COMMENT ON COLUMN @extschema@.announcement.created_by IS 'The role that wrote it (stamped)';
COMMENT ON COLUMN @extschema@.announcement.published_at IS 'When it was published (stamped)';
COMMENT ON COLUMN @extschema@.announcement.published_by IS 'The role that published it, or whose price or program change published it (stamped)';
COMMENT ON COLUMN @extschema@.announcement.withdrawn_at IS 'When it was withdrawn (stamped)';
COMMENT ON COLUMN @extschema@.announcement.withdrawn_by IS 'The role that withdrew it (stamped)';
COMMENT ON COLUMN @extschema@.announcement.withdraw_reason IS 'Why it was withdrawn, in the words of the role that withdrew it';

CREATE TABLE @extschema@.announcement_recipient (
    id               bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id        bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    announcement_id  bigint NOT NULL,
    partner_id       bigint NOT NULL,
    read_at          timestamptz,
    read_by          name,
    acknowledged_at  timestamptz,
    acknowledged_by  name,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, announcement_id, partner_id),
    FOREIGN KEY (tenant_id, announcement_id) REFERENCES @extschema@.announcement (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE,
    CHECK ((read_at IS NULL) = (read_by IS NULL)),
    CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL)),
    CHECK (acknowledged_at IS NULL OR read_at IS NOT NULL)
);
CREATE UNIQUE INDEX announcement_recipient_by_id ON @extschema@.announcement_recipient (id);
CREATE INDEX announcement_recipient_partner ON @extschema@.announcement_recipient (tenant_id, partner_id, announcement_id);
COMMENT ON TABLE @extschema@.announcement_recipient IS
    'The partners an announcement reached, resolved once when it was published, with when (and by which of its users) each read and acknowledged it; written only by the extension';
COMMENT ON COLUMN @extschema@.announcement_recipient.read_at IS 'When a user of the partner first read it (rebate.read_announcement); NULL: unread';
COMMENT ON COLUMN @extschema@.announcement_recipient.read_by IS 'The role that first read it';
COMMENT ON COLUMN @extschema@.announcement_recipient.acknowledged_at IS
    'When a user of the partner acknowledged it (rebate.acknowledge_announcement; acknowledging also reads it); NULL: not acknowledged';
COMMENT ON COLUMN @extschema@.announcement_recipient.acknowledged_by IS 'The role that acknowledged it';

-- Automatic announcements, per tenant: opt-in, one rule per source.
CREATE TABLE @extschema@.announcement_rule (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    source        text NOT NULL CHECK (source IN ('price_policy', 'program')),
    active        boolean NOT NULL DEFAULT true,
    mandatory     boolean NOT NULL DEFAULT false,
    title_prefix  text NOT NULL DEFAULT '' CHECK (pg_catalog.length(title_prefix) <= 40),
    valid_days    integer CHECK (valid_days > 0),
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, source)
);
CREATE UNIQUE INDEX announcement_rule_by_id ON @extschema@.announcement_rule (id);
COMMENT ON TABLE @extschema@.announcement_rule IS
    'Per tenant, whether price-policy changes (source price_policy) and program versions becoming active (source program) publish an announcement to the partners concerned';
COMMENT ON COLUMN @extschema@.announcement_rule.active IS 'Whether the rule publishes (off: such changes publish nothing)';
COMMENT ON COLUMN @extschema@.announcement_rule.mandatory IS 'Whether its announcements must be acknowledged';
COMMENT ON COLUMN @extschema@.announcement_rule.title_prefix IS 'Put before each title, e.g. 【调价通知】';
COMMENT ON COLUMN @extschema@.announcement_rule.valid_days IS 'Its announcements expire this many days after they are published (NULL: never)';

-- ---- targeting ---------------------------------------------------------------------

-- The active partners of a tenant that targets reach: home region in one of
-- the regions' subtrees, grade, kind, and the explicit list, each only when
-- not empty.  With the caller's rights: a manager gets its tenant's partners,
-- the publishing functions (as the owner) every partner of the tenant.
CREATE FUNCTION @extschema@.audience_of(tenant_id bigint, region_ids bigint[], grade_ids bigint[], kinds text[],
                                        partner_ids bigint[])
    RETURNS SETOF bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.id
      FROM @extschema@.partner p
      LEFT JOIN @extschema@.region r ON r.tenant_id = p.tenant_id AND r.id = p.home_region_id
     WHERE p.tenant_id = audience_of.tenant_id AND p.state = 'active'
       AND (coalesce(pg_catalog.cardinality(audience_of.region_ids), 0) = 0 OR r.path && audience_of.region_ids)
       AND (coalesce(pg_catalog.cardinality(audience_of.grade_ids), 0) = 0 OR p.grade_id = ANY (audience_of.grade_ids))
       AND (coalesce(pg_catalog.cardinality(audience_of.kinds), 0) = 0 OR p.kind = ANY (audience_of.kinds))
       AND (coalesce(pg_catalog.cardinality(audience_of.partner_ids), 0) = 0 OR p.id = ANY (audience_of.partner_ids))
$$;
REVOKE ALL ON FUNCTION @extschema@.audience_of(bigint, bigint[], bigint[], text[], bigint[]) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.audience_of(bigint, bigint[], bigint[], text[], bigint[]) IS
    'Internal: the active partners of a tenant that announcement targets reach (region subtree of the home region, grade, kind, list; empty: any), among those the caller sees';

-- Whom a draft would reach if it were published now (a published one: whom
-- it reached).  With the caller's rights.
CREATE FUNCTION @extschema@.announcement_audience(announcement_id bigint)
    RETURNS TABLE (partner_id bigint, code text, name text, kind text, grade_id bigint, home_region_id bigint)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.id, p.code, p.name, p.kind, p.grade_id, p.home_region_id
      FROM @extschema@.announcement a
      JOIN @extschema@.partner p ON p.tenant_id = a.tenant_id
     WHERE a.id = announcement_audience.announcement_id
       AND CASE WHEN a.status = 'draft'
                THEN p.id IN (SELECT x FROM @extschema@.audience_of(a.tenant_id, a.region_ids, a.grade_ids, a.kinds,
                                                                    a.partner_ids) AS x)
                ELSE EXISTS (SELECT 1 FROM @extschema@.announcement_recipient r
                              WHERE r.tenant_id = a.tenant_id AND r.announcement_id = a.id AND r.partner_id = p.id) END
     ORDER BY p.code
$$;
REVOKE ALL ON FUNCTION @extschema@.announcement_audience(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.announcement_audience(bigint) TO rebate_admin, rebate_manager;
GRANT EXECUTE ON FUNCTION @extschema@.audience_of(bigint, bigint[], bigint[], text[], bigint[])
    TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.announcement_audience(bigint) IS
    'The partners an announcement reaches: for a draft, the active partners its targets reach now; once published, its recipients';

-- ---- the announcement's own rules -------------------------------------------------------

-- A published (or withdrawn) announcement's content is what its recipients
-- were sent: it does not change (only expires_on, while published); only a
-- draft is deleted.  Targets name the tenant's own regions, grades and
-- partners (checked only for a writer who may manage the row's tenant, under
-- its own rights, so that nothing of another tenant is read or quoted;
-- anyone else is refused by row-level security).
CREATE FUNCTION @extschema@.check_announcement() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fixed   text[] := ARRAY['status', 'expires_on', 'published_at', 'published_by', 'withdrawn_at', 'withdrawn_by',
                            'withdraw_reason', 'updated_at'];
    scope   record;
    missing bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'announcement % is %: it is withdrawn, not deleted', OLD.id, OLD.status
                USING ERRCODE = 'RB094',
                      DETAIL = 'Its recipients and their reads and acknowledgements are kept.',
                      HINT = 'Withdraw it with rebate.withdraw_announcement.';
        END IF;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status <> 'draft'
       AND ((pg_catalog.to_jsonb(NEW) - fixed) IS DISTINCT FROM (pg_catalog.to_jsonb(OLD) - fixed)
            OR (OLD.status = 'withdrawn' AND NEW.expires_on IS DISTINCT FROM OLD.expires_on)) THEN
        RAISE EXCEPTION 'announcement % is % and its content cannot change', OLD.id, OLD.status
            USING ERRCODE = 'RB090',
                  DETAIL = 'Its recipients were resolved, and notified, as it was when it was published.',
                  HINT = 'Withdraw it and publish a corrected one; only expires_on changes while it is published.';
    END IF;
    IF (TG_OP = 'INSERT' OR NEW.region_ids IS DISTINCT FROM OLD.region_ids OR NEW.grade_ids IS DISTINCT FROM OLD.grade_ids
        OR NEW.partner_ids IS DISTINCT FROM OLD.partner_ids OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id)
       AND @extschema@.may_manage(@extschema@.acting_role(), NEW.tenant_id) THEN
        FOR scope IN SELECT * FROM (VALUES ('region', 'region', NEW.region_ids), ('grade', 'partner_grade', NEW.grade_ids),
                                           ('partner', 'partner', NEW.partner_ids)) AS s (noun, tbl, ids)
                      WHERE s.ids <> '{}'
        LOOP
            EXECUTE pg_catalog.format('SELECT x FROM pg_catalog.unnest($1) AS x WHERE NOT EXISTS '
                                      '(SELECT 1 FROM @extschema@.%I t WHERE t.tenant_id = $2 AND t.id = x) LIMIT 1',
                                      scope.tbl)
                INTO missing USING scope.ids, NEW.tenant_id;
            IF missing IS NOT NULL THEN
                RAISE EXCEPTION 'an announcement names % %, which is not of its tenant', scope.noun, missing
                    USING ERRCODE = 'foreign_key_violation',
                          DETAIL = pg_catalog.format('%s %s does not exist in tenant %s.', scope.noun, missing, NEW.tenant_id),
                          HINT = 'An announcement targets its own tenant''s regions, grades and partners.';
            END IF;
        END LOOP;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.check_announcement() IS
    'BEFORE trigger on announcement: the content of a published or withdrawn one is fixed (RB090), only drafts are deleted (RB094), targets name the tenant''s own regions, grades and partners (23503)';
CREATE TRIGGER check_announcement BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.announcement
    FOR EACH ROW EXECUTE FUNCTION @extschema@.check_announcement();
CREATE TRIGGER lifecycle BEFORE UPDATE OF status ON @extschema@.announcement
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition('status', 'draft>published', 'published>withdrawn');
CREATE TRIGGER attest BEFORE INSERT OR UPDATE ON @extschema@.announcement
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_attestation(
        'status', 'insert:created_by:created_at', 'published:published_by:published_at',
        'withdrawn:withdrawn_by:withdrawn_at');

SELECT @extschema@.apply_standard_triggers(t)
  FROM unnest(ARRAY['@extschema@.announcement', '@extschema@.announcement_recipient',
                    '@extschema@.announcement_rule']::regclass[]) AS t;

-- ---- who sees what ------------------------------------------------------------------

-- Managers (and admins) read every announcement of their tenant; a partner
-- user only the published ones its own partner received (a distributor's
-- users not those of the partners below it: an announcement is addressed to
-- a partner, and its targets decide whether a distributor gets it too).
SELECT @extschema@.apply_tenant_rls('@extschema@.announcement', 'tenant_id');
CREATE POLICY partner_reads_received ON @extschema@.announcement AS RESTRICTIVE FOR SELECT
    USING ((SELECT @extschema@.current_partner_id()) IS NULL
           OR (status = 'published'
               AND EXISTS (SELECT 1 FROM @extschema@.announcement_recipient r
                            WHERE r.tenant_id = announcement.tenant_id AND r.announcement_id = announcement.id
                              AND r.partner_id = (SELECT @extschema@.current_partner_id()))));
-- recipients: the tenant's managers all, a partner user its own partner's rows
ALTER TABLE @extschema@.announcement_recipient ENABLE ROW LEVEL SECURITY;
CREATE POLICY recipient_read ON @extschema@.announcement_recipient FOR SELECT
    USING ((SELECT @extschema@.is_group_admin())
           OR (tenant_id = (SELECT @extschema@.current_tenant_id())
               AND ((SELECT @extschema@.is_tenant_manager())
                    OR partner_id = (SELECT @extschema@.current_partner_id()))));
SELECT @extschema@.apply_tenant_rls('@extschema@.announcement_rule', 'tenant_id');

-- Managers write drafts (content and targets, never the status, the source,
-- the stamps or an id) and the rules; partner users read.  Recipients are
-- written by the functions below only.
GRANT SELECT, DELETE ON @extschema@.announcement TO rebate_admin, rebate_manager;
GRANT INSERT (tenant_id, title, body, mandatory, region_ids, grade_ids, kinds, partner_ids, expires_on),
      UPDATE (title, body, mandatory, region_ids, grade_ids, kinds, partner_ids, expires_on)
   ON @extschema@.announcement TO rebate_admin, rebate_manager;
GRANT SELECT (id, tenant_id, title, body, mandatory, status, source, detail, expires_on, published_at, published_by,
              created_at, updated_at)
   ON @extschema@.announcement TO rebate_partner;
GRANT SELECT ON @extschema@.announcement_recipient TO rebate_admin, rebate_manager, rebate_partner;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.announcement_rule TO rebate_admin, rebate_manager;

-- ---- publishing (internal) -----------------------------------------------------------

-- Resolves a draft's audience into its recipients, publishes it and files
-- one notification per recipient partner, each in one statement.  Returns
-- how many partners it reached; reaching none, it leaves the draft as it was.
-- Called by the SECURITY DEFINER functions and triggers below only.
CREATE FUNCTION @extschema@.deliver_announcement(a @extschema@.announcement) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    reached integer;
    published @extschema@.announcement;
BEGIN
    INSERT INTO @extschema@.announcement_recipient (tenant_id, announcement_id, partner_id)
    SELECT a.tenant_id, a.id, x
      FROM @extschema@.audience_of(a.tenant_id, a.region_ids, a.grade_ids, a.kinds, a.partner_ids) AS x
     ORDER BY x;
    GET DIAGNOSTICS reached = ROW_COUNT;
    IF reached = 0 THEN
        RETURN 0;
    END IF;
    UPDATE @extschema@.announcement x SET status = 'published'
     WHERE x.tenant_id = a.tenant_id AND x.id = a.id
    RETURNING x.* INTO published;
    INSERT INTO @extschema@.notification (tenant_id, partner_id, event, subject_type, subject_id, title, detail)
    SELECT r.tenant_id, r.partner_id, 'announcement_published', 'announcement', r.announcement_id,
           pg_catalog.format('announcement %s%s: %s', published.id,
                             CASE WHEN published.mandatory THEN ' (acknowledge it)' ELSE '' END, published.title),
           pg_catalog.jsonb_build_object('announcement_id', published.id, 'mandatory', published.mandatory,
                                         'source', published.source, 'expires_on', published.expires_on)
      FROM @extschema@.announcement_recipient r
     WHERE r.tenant_id = a.tenant_id AND r.announcement_id = a.id
     ORDER BY r.partner_id;
    RETURN reached;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.deliver_announcement(@extschema@.announcement) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.deliver_announcement(@extschema@.announcement) IS
    'Internal: resolves a draft''s recipients, publishes it and notifies each recipient partner; returns how many it reached (0: nothing done)';

-- The announcement a manager of its tenant may act on, locked; anything else
-- (another tenant's, a missing id, a caller without a binding of its own) is
-- reported alike.
CREATE FUNCTION @extschema@.managed_announcement(announcement_id bigint) RETURNS @extschema@.announcement
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_row @extschema@.announcement;
BEGIN
    -- judged before anything is locked
    SELECT x.* INTO found_row FROM @extschema@.announcement x WHERE x.id = managed_announcement.announcement_id;
    IF found_row.id IS NULL OR NOT @extschema@.may_manage(@extschema@.acting_role(), found_row.tenant_id) THEN
        RAISE EXCEPTION 'announcement % does not exist or is not visible to you', managed_announcement.announcement_id
            USING ERRCODE = 'no_data_found';
    END IF;
    SELECT x.* INTO found_row FROM @extschema@.announcement x
     WHERE x.tenant_id = found_row.tenant_id AND x.id = found_row.id FOR UPDATE;
    RETURN found_row;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.managed_announcement(bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.managed_announcement(bigint) IS
    'Internal: an announcement the acting role may manage, locked; raises P0002 for any other id';

-- ---- what managers call ----------------------------------------------------------------

-- Publishes a draft: its recipients are resolved now, once (partners that
-- become active later do not receive it), and each is notified.  The only
-- way an announcement becomes published.
CREATE FUNCTION @extschema@.publish_announcement(announcement_id bigint) RETURNS @extschema@.announcement
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a @extschema@.announcement := @extschema@.managed_announcement(announcement_id);
BEGIN
    IF a.status <> 'draft' THEN
        RAISE EXCEPTION 'announcement % is already %', a.id, a.status USING ERRCODE = 'RB091',
              HINT = 'Only a draft is published; write a new announcement.';
    END IF;
    IF a.expires_on < CURRENT_DATE THEN
        RAISE EXCEPTION 'announcement % expired on %', a.id, a.expires_on USING ERRCODE = 'RB093',
              HINT = 'Set expires_on to today or later, or to NULL.';
    END IF;
    IF @extschema@.deliver_announcement(a) = 0 THEN
        RAISE EXCEPTION 'announcement % reaches no active partner', a.id USING ERRCODE = 'RB092',
              DETAIL = pg_catalog.format('Its targets: regions %s, grades %s, kinds %s, partners %s.',
                                         a.region_ids, a.grade_ids, a.kinds, a.partner_ids),
              HINT = 'Widen its targets (rebate.announcement_audience shows whom they reach).';
    END IF;
    SELECT x.* INTO a FROM @extschema@.announcement x WHERE x.tenant_id = a.tenant_id AND x.id = a.id;
    RETURN a;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.publish_announcement(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.publish_announcement(bigint) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.publish_announcement(bigint) IS
    'Publishes a draft announcement (a manager of its tenant): resolves its recipients once and notifies each partner; returns it';

-- Withdraws a published announcement: its recipients no longer see it, and
-- the notifications of it that are still unread leave their inboxes.
CREATE FUNCTION @extschema@.withdraw_announcement(announcement_id bigint, reason text DEFAULT NULL)
    RETURNS @extschema@.announcement
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a @extschema@.announcement := @extschema@.managed_announcement(announcement_id);
BEGIN
    IF a.status <> 'published' THEN
        RAISE EXCEPTION 'announcement % is %, not published', a.id, a.status USING ERRCODE = 'RB091',
              HINT = CASE WHEN a.status = 'draft' THEN 'A draft is deleted, not withdrawn.' ELSE '' END;
    END IF;
    UPDATE @extschema@.announcement x SET status = 'withdrawn', withdraw_reason = withdraw_announcement.reason
     WHERE x.tenant_id = a.tenant_id AND x.id = a.id
    RETURNING x.* INTO a;
    DELETE FROM @extschema@.notification n
     WHERE n.tenant_id = a.tenant_id AND n.subject_type = 'announcement' AND n.subject_id = a.id
       AND n.event = 'announcement_published' AND n.read_at IS NULL;
    RETURN a;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.withdraw_announcement(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.withdraw_announcement(bigint, text) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.withdraw_announcement(bigint, text) IS
    'Withdraws a published announcement (a manager of its tenant), with a reason: hidden from its recipients, its unread notifications removed; returns it';

-- Notifies again the recipients that have not done what the announcement
-- asks: acknowledged it (mandatory) or read it.  Returns how many.
CREATE FUNCTION @extschema@.remind_announcement(announcement_id bigint) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a @extschema@.announcement := @extschema@.managed_announcement(announcement_id);
    reminded integer;
BEGIN
    IF a.status <> 'published' THEN
        RAISE EXCEPTION 'announcement % is %, not published', a.id, a.status USING ERRCODE = 'RB091';
    END IF;
    INSERT INTO @extschema@.notification (tenant_id, partner_id, event, subject_type, subject_id, title, detail)
    SELECT r.tenant_id, r.partner_id, 'announcement_published', 'announcement', a.id,
           pg_catalog.format('reminder: announcement %s%s: %s', a.id,
                             CASE WHEN a.mandatory THEN ' (acknowledge it)' ELSE '' END, a.title),
           pg_catalog.jsonb_build_object('announcement_id', a.id, 'mandatory', a.mandatory, 'source', a.source,
                                         'expires_on', a.expires_on, 'reminder', true)
      FROM @extschema@.announcement_recipient r
     WHERE r.tenant_id = a.tenant_id AND r.announcement_id = a.id
       AND CASE WHEN a.mandatory THEN r.acknowledged_at IS NULL ELSE r.read_at IS NULL END
     ORDER BY r.partner_id;
    GET DIAGNOSTICS reminded = ROW_COUNT;
    RETURN reminded;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.remind_announcement(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.remind_announcement(bigint) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.remind_announcement(bigint) IS
    'Notifies again the recipient partners of a published announcement that have not acknowledged it (mandatory) or read it; returns how many';

-- ---- what partner users call ------------------------------------------------------------

-- Marks a published announcement addressed to the caller's own partner read
-- (and acknowledged), once: who did it first is kept, and a second call
-- changes nothing.  Also marks the caller's notifications of it read.  Only
-- partner users mark (managers do not mark for partners); an announcement not
-- addressed to the caller's partner, a draft and a withdrawn one are reported
-- like one that does not exist.
CREATE FUNCTION @extschema@.mark_announcement(announcement_id bigint, acknowledge boolean)
    RETURNS @extschema@.announcement_recipient
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    bound record := @extschema@.binding_of(actor);
    r @extschema@.announcement_recipient;
BEGIN
    IF bound.tenant_id IS NULL OR bound.partner_id IS NULL THEN
        RAISE EXCEPTION 'only a partner''s users read and acknowledge announcements' USING ERRCODE = 'insufficient_privilege',
              HINT = 'Managers follow them in rebate.v_announcement_reach and rebate.v_announcement_pending.';
    END IF;
    SELECT x.* INTO r FROM @extschema@.announcement_recipient x
      JOIN @extschema@.announcement a ON a.tenant_id = x.tenant_id AND a.id = x.announcement_id
     WHERE x.tenant_id = bound.tenant_id AND x.announcement_id = mark_announcement.announcement_id
       AND x.partner_id = bound.partner_id AND a.status = 'published'
       FOR UPDATE OF x;
    IF r.id IS NULL THEN
        RAISE EXCEPTION 'announcement % does not exist or is not visible to you', mark_announcement.announcement_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF r.read_at IS NULL OR (acknowledge AND r.acknowledged_at IS NULL) THEN
        UPDATE @extschema@.announcement_recipient x
           SET read_at = coalesce(x.read_at, pg_catalog.clock_timestamp()), read_by = coalesce(x.read_by, actor),
               acknowledged_at = CASE WHEN acknowledge THEN coalesce(x.acknowledged_at, pg_catalog.clock_timestamp())
                                      ELSE x.acknowledged_at END,
               acknowledged_by = CASE WHEN acknowledge THEN coalesce(x.acknowledged_by, actor) ELSE x.acknowledged_by END
         WHERE x.tenant_id = r.tenant_id AND x.id = r.id
        RETURNING x.* INTO r;
        UPDATE @extschema@.notification n SET read_at = pg_catalog.now(), read_by = actor
         WHERE n.tenant_id = r.tenant_id AND n.partner_id = r.partner_id AND n.subject_type = 'announcement'
           AND n.subject_id = r.announcement_id AND n.event = 'announcement_published' AND n.read_at IS NULL
           AND (n.recipient IS NULL OR n.recipient = actor);
    END IF;
    RETURN r;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.mark_announcement(bigint, boolean) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.mark_announcement(bigint, boolean) IS
    'Internal: marks an announcement addressed to the acting role''s partner read (and acknowledged); P0002 for any other';

CREATE FUNCTION @extschema@.read_announcement(announcement_id bigint) RETURNS @extschema@.announcement_recipient
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.mark_announcement(announcement_id, false) $$;
REVOKE ALL ON FUNCTION @extschema@.read_announcement(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.read_announcement(bigint) TO rebate_partner;
COMMENT ON FUNCTION @extschema@.read_announcement(bigint) IS
    'Marks a published announcement addressed to the caller''s partner read (once; idempotent); returns its recipient row';

CREATE FUNCTION @extschema@.acknowledge_announcement(announcement_id bigint) RETURNS @extschema@.announcement_recipient
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.mark_announcement(announcement_id, true) $$;
REVOKE ALL ON FUNCTION @extschema@.acknowledge_announcement(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.acknowledge_announcement(bigint) TO rebate_partner;
COMMENT ON FUNCTION @extschema@.acknowledge_announcement(bigint) IS
    'Acknowledges (and so reads) a published announcement addressed to the caller''s partner (once; idempotent); returns its recipient row';

-- ---- views ------------------------------------------------------------------------

-- A partner user's announcements: the published ones its partner received,
-- with its partner's read and acknowledgement.  The reader's own rights.
CREATE VIEW @extschema@.v_my_announcements WITH (security_invoker = true) AS
SELECT a.id AS announcement_id,
       a.tenant_id,
       r.partner_id,
       a.title,
       a.body,
       a.mandatory,
       a.source,
       a.published_at,
       a.expires_on,
       coalesce(a.expires_on < CURRENT_DATE, false) AS expired,
       r.read_at,
       r.acknowledged_at,
       CASE WHEN a.mandatory THEN r.acknowledged_at IS NULL ELSE r.read_at IS NULL END AS needs_action
  FROM @extschema@.announcement a
  JOIN @extschema@.announcement_recipient r ON r.tenant_id = a.tenant_id AND r.announcement_id = a.id
 WHERE a.status = 'published' AND r.partner_id = (SELECT @extschema@.current_partner_id());
COMMENT ON VIEW @extschema@.v_my_announcements IS
    'A partner user''s announcements (通知公告): the published ones its own partner received, with its read and acknowledgement; empty for managers';
COMMENT ON COLUMN @extschema@.v_my_announcements.announcement_id IS '公告 Announcement id (rebate.announcement)';
COMMENT ON COLUMN @extschema@.v_my_announcements.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.v_my_announcements.partner_id IS '渠道商 The reader''s partner';
COMMENT ON COLUMN @extschema@.v_my_announcements.title IS '标题 Title';
COMMENT ON COLUMN @extschema@.v_my_announcements.body IS '正文 Text';
COMMENT ON COLUMN @extschema@.v_my_announcements.mandatory IS '必须确认 Whether the partner must acknowledge it';
COMMENT ON COLUMN @extschema@.v_my_announcements.source IS '来源 manual, price_policy or program';
COMMENT ON COLUMN @extschema@.v_my_announcements.published_at IS '发布时间 When it was published';
COMMENT ON COLUMN @extschema@.v_my_announcements.expires_on IS '有效期至 The last day it is current (NULL: no end)';
COMMENT ON COLUMN @extschema@.v_my_announcements.expired IS '已过期 Whether expires_on has passed';
COMMENT ON COLUMN @extschema@.v_my_announcements.read_at IS '阅读时间 When a user of the partner first read it; NULL: unread';
COMMENT ON COLUMN @extschema@.v_my_announcements.acknowledged_at IS '确认时间 When a user of the partner acknowledged it; NULL: not yet';
COMMENT ON COLUMN @extschema@.v_my_announcements.needs_action IS
    '待处理 Whether the partner still has to act: acknowledge it (mandatory) or read it';

-- Per announcement: how many partners it reached, and how many read and
-- acknowledged it.  Aggregated as the owner; rows shown to the tenant's
-- managers and group administrators only (the condition of the tenant_read
-- policies for them, evaluated for the reader, in a security barrier).
CREATE VIEW @extschema@.v_announcement_reach WITH (security_barrier = true) AS
SELECT a.id AS announcement_id,
       a.tenant_id,
       a.title,
       a.status,
       a.source,
       a.mandatory,
       a.published_at,
       a.published_by,
       a.expires_on,
       count(r.id) AS recipients,
       count(r.read_at) AS read,
       count(r.acknowledged_at) AS acknowledged,
       count(r.id) - count(r.read_at) AS unread,
       CASE WHEN a.mandatory THEN count(r.id) - count(r.acknowledged_at) END AS unacknowledged,
       pg_catalog.round(100.0 * count(r.read_at) / nullif(count(r.id), 0), 1) AS read_percent
  FROM @extschema@.announcement a
  LEFT JOIN @extschema@.announcement_recipient r ON r.tenant_id = a.tenant_id AND r.announcement_id = a.id
 WHERE a.tenant_id = ANY ((SELECT @extschema@.visible_tenant_ids())::bigint[])
   AND ((SELECT @extschema@.is_group_admin()) OR (SELECT @extschema@.is_tenant_manager()))
 GROUP BY a.tenant_id, a.id;
COMMENT ON VIEW @extschema@.v_announcement_reach IS
    'Per announcement (通知公告触达): partners reached, read, acknowledged, unread; for the tenant''s managers and group administrators';
COMMENT ON COLUMN @extschema@.v_announcement_reach.announcement_id IS '公告 Announcement id (rebate.announcement)';
COMMENT ON COLUMN @extschema@.v_announcement_reach.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.v_announcement_reach.title IS '标题 Title';
COMMENT ON COLUMN @extschema@.v_announcement_reach.status IS '状态 draft, published or withdrawn';
COMMENT ON COLUMN @extschema@.v_announcement_reach.source IS '来源 manual, price_policy or program';
COMMENT ON COLUMN @extschema@.v_announcement_reach.mandatory IS '必须确认 Whether recipients must acknowledge it';
COMMENT ON COLUMN @extschema@.v_announcement_reach.published_at IS '发布时间 When it was published';
COMMENT ON COLUMN @extschema@.v_announcement_reach.published_by IS '发布人 The role that published it';
COMMENT ON COLUMN @extschema@.v_announcement_reach.expires_on IS '有效期至 The last day it is current';
COMMENT ON COLUMN @extschema@.v_announcement_reach.recipients IS '触达 Partners it reached (0 for a draft)';
COMMENT ON COLUMN @extschema@.v_announcement_reach.read IS '已读 Partners a user of which read it';
COMMENT ON COLUMN @extschema@.v_announcement_reach.acknowledged IS '已确认 Partners that acknowledged it';
COMMENT ON COLUMN @extschema@.v_announcement_reach.unread IS '未读 Partners that have not read it';
COMMENT ON COLUMN @extschema@.v_announcement_reach.unacknowledged IS '未确认 Partners that have not acknowledged it (mandatory ones; NULL otherwise)';
COMMENT ON COLUMN @extschema@.v_announcement_reach.read_percent IS '阅读率 Percentage of recipients that read it, one decimal';

-- Who has not acknowledged a published mandatory announcement, and for how
-- long.  As the owner, rows for the tenant's managers and administrators only.
CREATE VIEW @extschema@.v_announcement_pending WITH (security_barrier = true) AS
SELECT a.id AS announcement_id,
       a.tenant_id,
       a.title,
       a.published_at,
       a.expires_on,
       p.id AS partner_id,
       p.code AS partner_code,
       p.name AS partner_name,
       p.kind AS partner_kind,
       r.read_at IS NOT NULL AS read,
       r.read_at,
       CURRENT_DATE - a.published_at::date AS days_since_published
  FROM @extschema@.announcement a
  JOIN @extschema@.announcement_recipient r ON r.tenant_id = a.tenant_id AND r.announcement_id = a.id
  JOIN @extschema@.partner p ON p.tenant_id = r.tenant_id AND p.id = r.partner_id
 WHERE a.status = 'published' AND a.mandatory AND r.acknowledged_at IS NULL
   AND a.tenant_id = ANY ((SELECT @extschema@.visible_tenant_ids())::bigint[])
   AND ((SELECT @extschema@.is_group_admin()) OR (SELECT @extschema@.is_tenant_manager()));
COMMENT ON VIEW @extschema@.v_announcement_pending IS
    'Who has not acknowledged a published mandatory announcement (未确认名单), and how long it has been published; for the tenant''s managers and group administrators';
COMMENT ON COLUMN @extschema@.v_announcement_pending.announcement_id IS '公告 Announcement id (rebate.announcement)';
COMMENT ON COLUMN @extschema@.v_announcement_pending.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.v_announcement_pending.title IS '标题 Title';
COMMENT ON COLUMN @extschema@.v_announcement_pending.published_at IS '发布时间 When it was published';
COMMENT ON COLUMN @extschema@.v_announcement_pending.expires_on IS '有效期至 The last day it is current';
COMMENT ON COLUMN @extschema@.v_announcement_pending.partner_id IS '渠道商 The partner that has not acknowledged it';
COMMENT ON COLUMN @extschema@.v_announcement_pending.partner_code IS '渠道商编码 Its code';
COMMENT ON COLUMN @extschema@.v_announcement_pending.partner_name IS '渠道商名称 Its name';
COMMENT ON COLUMN @extschema@.v_announcement_pending.partner_kind IS '类型 distributor, dealer, agent or retailer';
COMMENT ON COLUMN @extschema@.v_announcement_pending.read IS '已读 Whether a user of the partner read it (without acknowledging)';
COMMENT ON COLUMN @extschema@.v_announcement_pending.read_at IS '阅读时间 When it was first read';
COMMENT ON COLUMN @extschema@.v_announcement_pending.days_since_published IS '已发布天数 Days since it was published';

GRANT SELECT ON @extschema@.v_my_announcements TO rebate_admin, rebate_manager, rebate_partner;
GRANT SELECT ON @extschema@.v_announcement_reach, @extschema@.v_announcement_pending TO rebate_admin, rebate_manager;

-- ---- automatic announcements ------------------------------------------------------

-- How a price reads in an announcement: the amount, or the percentage of
-- the list price.
CREATE FUNCTION @extschema@.price_words(amount numeric, percent numeric) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.trim_scale(amount)::text,
                    pg_catalog.trim_scale(percent)::text || '% of list price')
$$;
COMMENT ON FUNCTION @extschema@.price_words(numeric, numeric) IS
    'A price as an announcement words it: the amount, or the percentage of the list price (NULL when both are NULL)';

-- A price-policy change announced: per statement, one announcement per
-- tenant (with an active price_policy rule) and scope (grade, region) the
-- changed policies have, to the active partners of that grade and home
-- region subtree (everyone for a base policy).  New policies and changes of
-- price, floor, ceiling or validity count; policies that ended before today
-- do not.  SECURITY DEFINER: it writes what no user role writes (an
-- announcement's source, its recipients, their notifications); it acts only
-- for a writer who may manage the tenant, and reads only inside it.
CREATE FUNCTION @extschema@.announce_price_changes() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor   name := @extschema@.acting_role();
    changes jsonb;
    g       record;
    rule    @extschema@.announcement_rule;
    a       @extschema@.announcement;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'announce_price_changes only serves rebate.price_policy' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(n)) INTO changes FROM new_rows n;
    ELSE
        SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(n) || pg_catalog.jsonb_build_object('old_price', o.price,
                                        'old_price_percent', o.price_percent))
          INTO changes
          FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
         WHERE (n.price, n.price_percent, n.floor_price, n.floor_percent, n.ceiling_price, n.ceiling_percent, n.valid)
               IS DISTINCT FROM (o.price, o.price_percent, o.floor_price, o.floor_percent, o.ceiling_price,
                                 o.ceiling_percent, o.valid);
    END IF;
    IF changes IS NULL THEN
        RETURN NULL;
    END IF;
    FOR g IN
        SELECT c.tenant_id, c.grade_id, c.region_id, pg_catalog.array_agg(c.id ORDER BY c.id) AS ids, count(*) AS n,
               pg_catalog.string_agg(pg_catalog.format('%s: price %s%s%s%s, valid %s',
                   coalesce(pr.sku || ' ' || pr.name, 'category ' || cat.code || ' ' || cat.name),
                   CASE WHEN c.old_price IS NOT NULL OR c.old_price_percent IS NOT NULL THEN
                        @extschema@.price_words(c.old_price, c.old_price_percent) || ' -> ' ELSE '' END,
                   @extschema@.price_words(c.price, c.price_percent),
                   ', floor ' || @extschema@.price_words(c.floor_price, c.floor_percent),
                   ', ceiling ' || @extschema@.price_words(c.ceiling_price, c.ceiling_percent),
                   c.valid), E'\n' ORDER BY coalesce(pr.sku, cat.code), c.min_quantity, c.id) AS lines,
               pg_catalog.min(coalesce(pr.sku || ' ' || pr.name, 'category ' || cat.code || ' ' || cat.name)) AS first_target
          FROM pg_catalog.jsonb_to_recordset(changes) AS c (id bigint, tenant_id bigint, product_id bigint,
                   category_id bigint, grade_id bigint, region_id bigint, min_quantity numeric, price numeric,
                   price_percent numeric, floor_price numeric, floor_percent numeric, ceiling_price numeric,
                   ceiling_percent numeric, valid daterange, old_price numeric, old_price_percent numeric)
          LEFT JOIN @extschema@.product pr ON pr.tenant_id = c.tenant_id AND pr.id = c.product_id
          LEFT JOIN @extschema@.product_category cat ON cat.tenant_id = c.tenant_id AND cat.id = c.category_id
         WHERE pg_catalog.upper_inf(c.valid) OR pg_catalog.upper(c.valid) > CURRENT_DATE
         GROUP BY c.tenant_id, c.grade_id, c.region_id
         ORDER BY c.tenant_id, c.grade_id NULLS FIRST, c.region_id NULLS FIRST
    LOOP
        SELECT x.* INTO rule FROM @extschema@.announcement_rule x
         WHERE x.tenant_id = g.tenant_id AND x.source = 'price_policy' AND x.active;
        CONTINUE WHEN rule.id IS NULL OR NOT @extschema@.may_manage(actor, g.tenant_id);
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM @extschema@.audience_of(
                                           g.tenant_id, CASE WHEN g.region_id IS NULL THEN '{}' ELSE ARRAY[g.region_id] END,
                                           CASE WHEN g.grade_id IS NULL THEN '{}' ELSE ARRAY[g.grade_id] END, '{}', '{}'));
        INSERT INTO @extschema@.announcement (tenant_id, title, body, mandatory, source, detail, region_ids, grade_ids,
                                              expires_on)
        VALUES (g.tenant_id,
                pg_catalog.left(rule.title_prefix || CASE WHEN g.n = 1 THEN 'Price change: ' || g.first_target
                                                          ELSE pg_catalog.format('Price changes: %s policies', g.n) END, 200),
                g.lines, rule.mandatory, 'price_policy',
                pg_catalog.jsonb_build_object('price_policy_ids', g.ids, 'grade_id', g.grade_id, 'region_id', g.region_id),
                CASE WHEN g.region_id IS NULL THEN '{}' ELSE ARRAY[g.region_id] END,
                CASE WHEN g.grade_id IS NULL THEN '{}' ELSE ARRAY[g.grade_id] END,
                CURRENT_DATE + rule.valid_days)
        RETURNING * INTO a;
        PERFORM @extschema@.deliver_announcement(a);
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.announce_price_changes() IS
    'AFTER INSERT and AFTER UPDATE statement trigger on price_policy: publishes, where the tenant''s price_policy rule is active, one announcement per scope of the changed policies to the partners it concerns';

CREATE TRIGGER announce_inserted AFTER INSERT ON @extschema@.price_policy
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.announce_price_changes();
CREATE TRIGGER announce_updated AFTER UPDATE ON @extschema@.price_policy
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.announce_price_changes();

-- A program version becoming active announced: one announcement per version,
-- where the tenant's program rule is active, to the active partners of its
-- scope (its region_ids by home region, grade_ids, partner_ids).  SECURITY
-- DEFINER for the same reasons as announce_price_changes.
CREATE FUNCTION @extschema@.announce_program_activation() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    v     record;
    rule  @extschema@.announcement_rule;
    a     @extschema@.announcement;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'announce_program_activation only serves rebate.program_version'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR v IN
        SELECT n.id, n.tenant_id, n.program_id, n.version, n.effective, n.metric, n.kind, n.schedule::text AS schedule,
               n.period_unit, n.currency, n.note, n.region_ids, n.grade_ids, n.partner_ids, p.code, p.name
          FROM new_rows n
          JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
          JOIN @extschema@.program p ON p.tenant_id = n.tenant_id AND p.id = n.program_id
         WHERE n.status = 'active' AND o.status <> 'active'
         ORDER BY n.tenant_id, n.id
    LOOP
        SELECT x.* INTO rule FROM @extschema@.announcement_rule x
         WHERE x.tenant_id = v.tenant_id AND x.source = 'program' AND x.active;
        CONTINUE WHEN rule.id IS NULL OR NOT @extschema@.may_manage(actor, v.tenant_id);
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM @extschema@.audience_of(v.tenant_id, v.region_ids, v.grade_ids, '{}',
                                                                        v.partner_ids));
        INSERT INTO @extschema@.announcement (tenant_id, title, body, mandatory, source, detail, region_ids, grade_ids,
                                              partner_ids, expires_on)
        VALUES (v.tenant_id,
                pg_catalog.left(rule.title_prefix || pg_catalog.format('Rebate program %s version %s in force from %s',
                                                                       v.code, v.version, pg_catalog.lower(v.effective)), 200),
                pg_catalog.format(E'%s (%s), version %s, governs %s.\nBasis %s, %s%s, settled per %s in %s.%s',
                                  v.code, v.name, v.version, v.effective, v.metric, v.kind,
                                  coalesce(': ' || v.schedule, ''), v.period_unit, v.currency,
                                  coalesce(E'\n' || v.note, '')),
                rule.mandatory, 'program',
                pg_catalog.jsonb_build_object('program_id', v.program_id, 'program_version_id', v.id,
                                              'version', v.version, 'effective', v.effective),
                v.region_ids, v.grade_ids, v.partner_ids, CURRENT_DATE + rule.valid_days)
        RETURNING * INTO a;
        PERFORM @extschema@.deliver_announcement(a);
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.announce_program_activation() IS
    'AFTER UPDATE statement trigger on program_version: publishes, where the tenant''s program rule is active, one announcement per version that became active, to the partners of its scope';
CREATE TRIGGER announce_activation AFTER UPDATE ON @extschema@.program_version
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.announce_program_activation();
-- ---------------------------------------------------------------------------
-- Leads and opportunities (线索与商机).  The brand's managers collect leads
-- (prospects from the website, exhibitions, the hotline ...) and the
-- distribution rules (rebate.lead_rule, in priority order: region subtree,
-- product, partner grades and kind, capacity, response time, round robin or
-- least loaded) offer each one to a partner, which accepts or declines it
-- before the deadline; a declined or expired offer goes to the next eligible
-- partner, or back to the managers (lead_returned) when nobody can take it.
-- Managers also assign by hand.  Accepting opens an opportunity, which the
-- partner moves through its stages (初步接触, 需求分析, 方案报价, 商务谈判,
-- then won with the order it was won by, or lost with a reason); partners
-- open opportunities of their own as well.  Leads and offers are written
-- only by the functions here (SECURITY DEFINER, each judging the acting
-- role); opportunities by their partner's users and the managers, guarded
-- by triggers, every stage move kept.  The KPI views show conversion by
-- partner, region and source and the pipeline, each reader only over the
-- rows it may see.  docs/leads.md describes it with examples.
-- ---------------------------------------------------------------------------

-- ---- the stages and their weights -------------------------------------------------

-- The stages of an opportunity, in order, with the probability the pipeline
-- weights an open one by unless the tenant sets its own.
CREATE TABLE @extschema@.opportunity_stage (
    stage        text PRIMARY KEY,
    position     integer NOT NULL UNIQUE,
    label        text NOT NULL,
    is_open      boolean NOT NULL,
    probability  numeric(5,4) NOT NULL CHECK (probability BETWEEN 0 AND 1)
);
COMMENT ON TABLE @extschema@.opportunity_stage IS
    'The stages of an opportunity in order (the Chinese words are the codes), with an English label and the default probability the pipeline weights an open opportunity by (rebate.opportunity_stage_weight overrides it per tenant)';
COMMENT ON COLUMN @extschema@.opportunity_stage.position IS 'Order of the stages: an open opportunity moves forward any number of stages, or back one';
COMMENT ON COLUMN @extschema@.opportunity_stage.is_open IS 'false for won and lost, which are final';
COMMENT ON COLUMN @extschema@.opportunity_stage.probability IS 'Default probability of winning from this stage (0 to 1): weighted pipeline = amount x probability';
INSERT INTO @extschema@.opportunity_stage (stage, position, label, is_open, probability) VALUES
    ('初步接触', 1, 'first contact', true, 0.1),
    ('需求分析', 2, 'needs analysis', true, 0.25),
    ('方案报价', 3, 'proposal and quote', true, 0.5),
    ('商务谈判', 4, 'negotiation', true, 0.75),
    ('won', 5, 'won', false, 1),
    ('lost', 6, 'lost', false, 0);
GRANT SELECT ON @extschema@.opportunity_stage TO rebate_admin, rebate_manager, rebate_partner;

CREATE TABLE @extschema@.opportunity_stage_weight (
    id           bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant ON DELETE CASCADE,
    stage        text NOT NULL CHECK (stage IN ('初步接触', '需求分析', '方案报价', '商务谈判')),
    probability  numeric(5,4) NOT NULL CHECK (probability BETWEEN 0 AND 1),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, stage)
);
CREATE UNIQUE INDEX opportunity_stage_weight_by_id ON @extschema@.opportunity_stage_weight (id);
COMMENT ON TABLE @extschema@.opportunity_stage_weight IS
    'A tenant''s own probability per open stage for the weighted pipeline (rebate.v_opportunity_pipeline); stages without a row use rebate.opportunity_stage.probability';
COMMENT ON COLUMN @extschema@.opportunity_stage_weight.probability IS 'Probability of winning from this stage, 0 to 1';

-- ---- distribution rules -----------------------------------------------------------

CREATE TABLE @extschema@.lead_rule (
    id             bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id      bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant ON DELETE CASCADE,
    name           text NOT NULL CHECK (btrim(name) <> ''),
    priority       integer NOT NULL,
    active         boolean NOT NULL DEFAULT true,
    region_id      bigint,
    product_id     bigint,
    grade_ids      bigint[] NOT NULL DEFAULT '{}',
    partner_kind   text CHECK (partner_kind IN ('distributor', 'dealer', 'agent', 'retailer')),
    response_time  interval NOT NULL DEFAULT '48 hours' CHECK (response_time > '0'::interval),
    capacity       integer CHECK (capacity > 0),
    strategy       text NOT NULL DEFAULT 'round_robin' CHECK (strategy IN ('round_robin', 'least_loaded')),
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, priority),
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id),
    CHECK (pg_catalog.array_position(grade_ids, NULL) IS NULL)
);
CREATE UNIQUE INDEX lead_rule_by_id ON @extschema@.lead_rule (id);
COMMENT ON TABLE @extschema@.lead_rule IS
    'Lead distribution rules of a tenant, tried in priority order: the first rule whose conditions the lead meets and under which a partner is eligible makes the offer';
COMMENT ON COLUMN @extschema@.lead_rule.priority IS 'Order in which the rules are tried: the lowest first (unique per tenant)';
COMMENT ON COLUMN @extschema@.lead_rule.active IS 'Whether rebate.distribute_leads and the re-offers use the rule';
COMMENT ON COLUMN @extschema@.lead_rule.region_id IS 'The rule applies to leads in this region or below it (NULL: every region)';
COMMENT ON COLUMN @extschema@.lead_rule.product_id IS 'The rule applies to leads about this product (NULL: every lead)';
COMMENT ON COLUMN @extschema@.lead_rule.grade_ids IS 'Only partners of these grades are eligible (empty: every grade); each a grade of the tenant';
COMMENT ON COLUMN @extschema@.lead_rule.partner_kind IS 'Only partners of this kind are eligible (NULL: every kind)';
COMMENT ON COLUMN @extschema@.lead_rule.response_time IS 'How long the partner has to accept or decline an offer made by this rule';
COMMENT ON COLUMN @extschema@.lead_rule.capacity IS 'A partner whose open leads (offered, or accepted with the opportunity still open) reach this number gets no offer by this rule (NULL: no limit)';
COMMENT ON COLUMN @extschema@.lead_rule.strategy IS 'round_robin: the eligible partner whose last offer is the oldest (never offered first; ties by id); least_loaded: the one with the fewest open leads, then as round_robin';

-- The grades a rule names are the tenant's: a typo is refused when the rule
-- is written, not found when leads go unassigned.  It reads the grades with
-- the writer's rights, and only for a writer who manages the row's tenant.
CREATE FUNCTION @extschema@.check_lead_rule() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stranger bigint;
BEGIN
    IF NOT coalesce((SELECT @extschema@.is_group_admin())
                    OR (NEW.tenant_id = (SELECT @extschema@.current_tenant_id()) AND (SELECT @extschema@.is_tenant_manager())),
                    false) THEN
        RETURN NEW;     -- row-level security refuses it
    END IF;
    SELECT g.grade INTO stranger FROM pg_catalog.unnest(NEW.grade_ids) AS g (grade)
     WHERE NOT EXISTS (SELECT 1 FROM @extschema@.partner_grade pg
                        WHERE pg.tenant_id = NEW.tenant_id AND pg.id = g.grade)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'grade % is not a grade of tenant %', stranger, NEW.tenant_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A rule names grades of its own tenant (rebate.partner_grade).';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.check_lead_rule() IS
    'BEFORE INSERT OR UPDATE trigger on lead_rule: every grade the rule names is a grade of its tenant';
CREATE TRIGGER check_grades BEFORE INSERT OR UPDATE OF grade_ids, tenant_id ON @extschema@.lead_rule
    FOR EACH ROW EXECUTE FUNCTION @extschema@.check_lead_rule();

-- ---- leads and offers ---------------------------------------------------------------

CREATE TABLE @extschema@.lead (
    id                 bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id          bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant ON DELETE CASCADE,
    name               text NOT NULL CHECK (btrim(name) <> ''),
    name_key           text NOT NULL DEFAULT '',
    contact_name       text,
    contact_phone      text CHECK (contact_phone ~ '^[0-9+() -]{5,32}$'),
    contact_email      text CHECK (contact_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
    region_id          bigint NOT NULL,
    product_id         bigint,
    source             text NOT NULL DEFAULT 'other'
                       CHECK (source IN ('website', 'exhibition', 'hotline', 'referral', 'campaign', 'other')),
    expected_amount    numeric CHECK (expected_amount >= 0),
    currency           text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    note               text,
    received_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    status             text NOT NULL DEFAULT 'new'
                       CHECK (status IN ('new', 'offered', 'accepted', 'returned', 'cancelled')),
    partner_id         bigint,
    status_changed_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    cancel_reason      text,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    CHECK ((status IN ('offered', 'accepted')) = (partner_id IS NOT NULL))
);
CREATE UNIQUE INDEX lead_by_id ON @extschema@.lead (id);
CREATE INDEX lead_waiting ON @extschema@.lead (tenant_id, received_at) WHERE status IN ('new', 'returned');
CREATE INDEX lead_partner ON @extschema@.lead (tenant_id, partner_id, status);
CREATE INDEX lead_name_key ON @extschema@.lead (tenant_id, name_key);
COMMENT ON TABLE @extschema@.lead IS
    'Leads (销售线索): prospects the brand collects and offers to partners by rules (rebate.distribute_leads) or by hand (rebate.assign_lead); status and partner are written only by the lead functions';
COMMENT ON COLUMN @extschema@.lead.name IS 'The prospect''s company name';
COMMENT ON COLUMN @extschema@.lead.name_key IS 'rebate.normalize_name(name), maintained: leads with the same key are the same company (find duplicates by it)';
COMMENT ON COLUMN @extschema@.lead.region_id IS 'Where the prospect is: decides the rules that apply and the partners whose territory covers it';
COMMENT ON COLUMN @extschema@.lead.product_id IS 'The product it asks about (NULL: none in particular)';
COMMENT ON COLUMN @extschema@.lead.source IS 'Where it came from: website, exhibition, hotline, referral, campaign, other';
COMMENT ON COLUMN @extschema@.lead.expected_amount IS 'The expected deal size, in currency (the opportunity starts with it)';
COMMENT ON COLUMN @extschema@.lead.received_at IS 'When the brand received it (the conversion views group leads by its month)';
COMMENT ON COLUMN @extschema@.lead.status IS
    'new -> offered | cancelled; offered -> accepted | returned (declined or expired, and nobody else eligible) | cancelled, or offered again to the next partner; returned -> offered | cancelled. accepted and cancelled are final';
COMMENT ON COLUMN @extschema@.lead.partner_id IS 'The partner it is offered to (offered) or that accepted it (accepted): its users see the lead';
COMMENT ON COLUMN @extschema@.lead.cancel_reason IS 'Why a manager cancelled it (rebate.cancel_lead)';

-- name_key and status_changed_at follow name and status
CREATE FUNCTION @extschema@.prepare_lead() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.name_key := coalesce(@extschema@.normalize_name(NEW.name), '');
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        NEW.status_changed_at := pg_catalog.now();
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.prepare_lead() IS 'BEFORE INSERT OR UPDATE trigger on lead: sets name_key and status_changed_at';
CREATE TRIGGER prepare BEFORE INSERT OR UPDATE ON @extschema@.lead
    FOR EACH ROW EXECUTE FUNCTION @extschema@.prepare_lead();
CREATE TRIGGER lifecycle BEFORE INSERT OR UPDATE OF status ON @extschema@.lead
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition(
        'status', '>new', 'new>offered', 'returned>offered', 'offered>accepted', 'offered>returned',
        'new>cancelled', 'offered>cancelled', 'returned>cancelled');

CREATE TABLE @extschema@.lead_offer (
    id           bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id    bigint NOT NULL REFERENCES @extschema@.tenant ON DELETE CASCADE,
    lead_id      bigint NOT NULL,
    partner_id   bigint NOT NULL,
    rule_id      bigint,
    offered_by   name NOT NULL,
    offered_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    respond_by   timestamptz NOT NULL,
    answer       text CHECK (answer IN ('accepted', 'declined', 'expired', 'withdrawn')),
    answered_by  name,
    answered_at  timestamptz,
    reason       text,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES @extschema@.lead (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, rule_id) REFERENCES @extschema@.lead_rule (tenant_id, id),
    CHECK ((answer IS NULL) = (answered_at IS NULL) AND (answer IS NULL) = (answered_by IS NULL)),
    CHECK (respond_by > offered_at)
);
CREATE UNIQUE INDEX lead_offer_by_id ON @extschema@.lead_offer (id);
-- a lead has at most one open offer
CREATE UNIQUE INDEX lead_offer_open ON @extschema@.lead_offer (tenant_id, lead_id) WHERE answer IS NULL;
CREATE INDEX lead_offer_lead ON @extschema@.lead_offer (tenant_id, lead_id, id);
CREATE INDEX lead_offer_partner ON @extschema@.lead_offer (tenant_id, partner_id, id);
CREATE INDEX lead_offer_due ON @extschema@.lead_offer (tenant_id, respond_by) WHERE answer IS NULL;
COMMENT ON TABLE @extschema@.lead_offer IS
    'Every offer of a lead to a partner, by a rule or by hand, with its deadline and answer; written only by the lead functions';
COMMENT ON COLUMN @extschema@.lead_offer.rule_id IS 'The rule that made the offer (NULL: assigned by hand); a rule that made offers is deactivated, not deleted';
COMMENT ON COLUMN @extschema@.lead_offer.offered_by IS 'The acting role that made the offer: the manager, the cron role, or the partner user whose decline passed the lead on';
COMMENT ON COLUMN @extschema@.lead_offer.respond_by IS 'The deadline: an offer still open then is expired by rebate.expire_lead_offers';
COMMENT ON COLUMN @extschema@.lead_offer.answer IS 'NULL while open; accepted, declined, expired (no answer in time) or withdrawn (a manager reassigned or cancelled the lead)';
COMMENT ON COLUMN @extschema@.lead_offer.answered_by IS 'The acting role that answered (the partner user, the cron role for an expiry, the manager for a withdrawal)';
COMMENT ON COLUMN @extschema@.lead_offer.reason IS 'Why it was declined (the partner''s words), withdrawn or assigned by hand (the manager''s)';

-- ---- opportunities ---------------------------------------------------------------------

CREATE TABLE @extschema@.opportunity (
    id                 bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id          bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant ON DELETE CASCADE,
    partner_id         bigint NOT NULL DEFAULT @extschema@.current_partner_id(),
    lead_id            bigint,
    end_customer_id    bigint,
    region_id          bigint,
    name               text NOT NULL CHECK (btrim(name) <> ''),
    stage              text NOT NULL DEFAULT '初步接触'
                       CHECK (stage IN ('初步接触', '需求分析', '方案报价', '商务谈判', 'won', 'lost')),
    amount             numeric CHECK (amount >= 0),
    currency           text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    expected_close_on  date,
    order_id           bigint,
    lost_reason        text,
    note               text,
    stage_changed_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    closed_at          timestamptz,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, lead_id),
    UNIQUE (tenant_id, order_id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES @extschema@.lead (tenant_id, id),
    FOREIGN KEY (tenant_id, end_customer_id) REFERENCES @extschema@.end_customer (tenant_id, id),
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    -- the order it was won by is its partner's
    FOREIGN KEY (tenant_id, order_id, partner_id) REFERENCES @extschema@.sales_order (tenant_id, id, partner_id),
    CONSTRAINT opportunity_won_by_order CHECK ((stage = 'won') = (order_id IS NOT NULL)),
    CONSTRAINT opportunity_lost_reason CHECK (stage <> 'lost' OR coalesce(btrim(lost_reason), '') <> ''),
    CONSTRAINT opportunity_closed CHECK ((stage IN ('won', 'lost')) = (closed_at IS NOT NULL))
);
CREATE UNIQUE INDEX opportunity_by_id ON @extschema@.opportunity (id);
CREATE INDEX opportunity_partner ON @extschema@.opportunity (tenant_id, partner_id, stage);
COMMENT ON TABLE @extschema@.opportunity IS
    'Opportunities (商机): opened when a partner accepts a lead, or by a partner for a customer of its own; moved through the stages by the partner''s users (rebate.set_opportunity_stage), won with the order, or lost with a reason';
COMMENT ON COLUMN @extschema@.opportunity.partner_id IS 'The partner working it (default: the writing partner user''s): its users, and those of the partners above it, see it';
COMMENT ON COLUMN @extschema@.opportunity.lead_id IS 'The lead it was opened from (set by rebate.accept_lead only; NULL: opened by the partner)';
COMMENT ON COLUMN @extschema@.opportunity.end_customer_id IS 'The end customer (客户报备) it is for: one registered by the same partner';
COMMENT ON COLUMN @extschema@.opportunity.region_id IS 'Where the customer is (from the lead when accepted); the pipeline falls back to the end customer''s region, then the partner''s home region';
COMMENT ON COLUMN @extschema@.opportunity.stage IS
    '初步接触 (first contact), 需求分析 (needs analysis), 方案报价 (proposal), 商务谈判 (negotiation): forward any number of stages or back one; won (with its order) or lost (with a reason) from any of them, and final';
COMMENT ON COLUMN @extschema@.opportunity.amount IS 'The expected (when won: the won) deal amount, in currency';
COMMENT ON COLUMN @extschema@.opportunity.expected_close_on IS 'When the partner expects to close it';
COMMENT ON COLUMN @extschema@.opportunity.order_id IS 'The order it was won by: required when won, an order (not a return or credit note) of the same partner, placed (not a draft or cancelled); one opportunity per order';
COMMENT ON COLUMN @extschema@.opportunity.lost_reason IS 'Why it was lost (required when lost)';
COMMENT ON COLUMN @extschema@.opportunity.stage_changed_at IS 'When it last changed stage (maintained)';
COMMENT ON COLUMN @extschema@.opportunity.closed_at IS 'When it was won or lost (maintained)';

-- Guards an opportunity: a won or lost one changes no more; a won one names
-- a placed order of its partner; a lost one a reason; its end customer is
-- registered by the same partner.  Reads orders and customers with the
-- writer's rights, so one it may not see ends like one that does not exist,
-- and only for a writer bound to the row's tenant (or an administrator);
-- stamps stage_changed_at and closed_at.
CREATE FUNCTION @extschema@.guard_opportunity() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sold record;
    customer bigint;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.stage IN ('won', 'lost')
       AND (pg_catalog.to_jsonb(NEW) - 'updated_at') <> (pg_catalog.to_jsonb(OLD) - 'updated_at') THEN
        RAISE EXCEPTION 'opportunity % is already %', OLD.id, OLD.stage USING ERRCODE = 'RB088',
              HINT = 'A won or lost opportunity is final; open a new one for a new deal.';
    END IF;
    IF TG_OP = 'INSERT' OR NEW.stage IS DISTINCT FROM OLD.stage THEN
        NEW.stage_changed_at := pg_catalog.now();
        NEW.closed_at := CASE WHEN NEW.stage IN ('won', 'lost') THEN pg_catalog.now() END;
    ELSE
        NEW.closed_at := OLD.closed_at;
        NEW.stage_changed_at := OLD.stage_changed_at;
    END IF;
    IF NOT coalesce((SELECT @extschema@.is_group_admin()) OR NEW.tenant_id = (SELECT @extschema@.current_tenant_id()), false) THEN
        RETURN NEW;     -- row-level security refuses it
    END IF;
    IF NEW.stage = 'won' AND NEW.order_id IS NULL THEN
        RAISE EXCEPTION 'a won opportunity needs the order it was won by' USING ERRCODE = 'RB087',
              HINT = 'Name an order of the opportunity''s partner: rebate.set_opportunity_stage(id, ''won'', order_id).';
    END IF;
    IF NEW.order_id IS NOT NULL AND NEW.stage <> 'won' THEN
        RAISE EXCEPTION 'only a won opportunity links an order' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.stage = 'lost' AND coalesce(pg_catalog.btrim(NEW.lost_reason), '') = '' THEN
        RAISE EXCEPTION 'a lost opportunity needs a reason' USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Set lost_reason (rebate.set_opportunity_stage(id, ''lost'', reason => ...)).';
    END IF;
    IF NEW.order_id IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.order_id IS DISTINCT FROM OLD.order_id
                                     OR NEW.partner_id IS DISTINCT FROM OLD.partner_id) THEN
        SELECT o.partner_id, o.kind, o.status INTO sold FROM @extschema@.sales_order o
         WHERE o.tenant_id = NEW.tenant_id AND o.id = NEW.order_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'order % does not exist or is not visible to you', NEW.order_id USING ERRCODE = 'no_data_found';
        END IF;
        IF sold.partner_id <> NEW.partner_id THEN
            RAISE EXCEPTION 'order % is not an order of partner %', NEW.order_id, NEW.partner_id USING ERRCODE = 'RB087',
                  HINT = 'An opportunity is won by an order of its own partner.';
        END IF;
        IF sold.kind <> 'order' OR NOT sold.status = ANY (@extschema@.order_statuses('placed')) THEN
            RAISE EXCEPTION 'order % is not a placed order (kind %, status %)', NEW.order_id, sold.kind, sold.status
                USING ERRCODE = 'RB087',
                  HINT = 'An opportunity is won by an order (not a return or credit note) that is placed: not a draft, not cancelled.';
        END IF;
    END IF;
    IF NEW.end_customer_id IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.end_customer_id IS DISTINCT FROM OLD.end_customer_id
                                            OR NEW.partner_id IS DISTINCT FROM OLD.partner_id) THEN
        SELECT c.partner_id INTO customer FROM @extschema@.end_customer c
         WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.end_customer_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'end customer % does not exist or is not visible to you', NEW.end_customer_id
                USING ERRCODE = 'no_data_found';
        END IF;
        IF customer <> NEW.partner_id THEN
            RAISE EXCEPTION 'end customer % is registered to another partner', NEW.end_customer_id USING ERRCODE = 'RB089',
                  HINT = 'An opportunity is for a customer its own partner registered (客户报备).';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.guard_opportunity() IS
    'BEFORE INSERT OR UPDATE trigger on opportunity: won and lost are final, won needs a placed order of the partner, lost a reason, the end customer is the partner''s; stamps stage_changed_at and closed_at';
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON @extschema@.opportunity
    FOR EACH ROW EXECUTE FUNCTION @extschema@.guard_opportunity();
CREATE TRIGGER lifecycle BEFORE INSERT OR UPDATE OF stage ON @extschema@.opportunity
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition(
        'stage', '>初步接触', '>需求分析', '>方案报价', '>商务谈判',
        '初步接触>需求分析', '初步接触>方案报价', '初步接触>商务谈判', '需求分析>方案报价', '需求分析>商务谈判',
        '方案报价>商务谈判', '需求分析>初步接触', '方案报价>需求分析', '商务谈判>方案报价',
        '初步接触>won', '需求分析>won', '方案报价>won', '商务谈判>won',
        '初步接触>lost', '需求分析>lost', '方案报价>lost', '商务谈判>lost');

CREATE TABLE @extschema@.opportunity_stage_history (
    id              bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id       bigint NOT NULL REFERENCES @extschema@.tenant ON DELETE CASCADE,
    opportunity_id  bigint NOT NULL,
    partner_id      bigint NOT NULL,
    from_stage      text,
    to_stage        text NOT NULL,
    amount          numeric,
    reason          text,
    changed_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    session_role    name NOT NULL,
    acting_role     name NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES @extschema@.opportunity (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id)
);
CREATE UNIQUE INDEX opportunity_stage_history_by_id ON @extschema@.opportunity_stage_history (id);
CREATE INDEX opportunity_stage_history_opportunity
    ON @extschema@.opportunity_stage_history (tenant_id, opportunity_id, changed_at);
COMMENT ON TABLE @extschema@.opportunity_stage_history IS
    'Every stage of every opportunity: from, to, the amount then, why, who, when; written by a trigger only';
COMMENT ON COLUMN @extschema@.opportunity_stage_history.partner_id IS 'The opportunity''s partner then (row-level security)';
COMMENT ON COLUMN @extschema@.opportunity_stage_history.amount IS 'The opportunity''s amount at the move';
COMMENT ON COLUMN @extschema@.opportunity_stage_history.reason IS 'The reason given to rebate.set_opportunity_stage (a loss: the lost reason)';
COMMENT ON COLUMN @extschema@.opportunity_stage_history.session_role IS 'The login role (session_user)';
COMMENT ON COLUMN @extschema@.opportunity_stage_history.acting_role IS 'The role in effect (after SET ROLE)';

CREATE FUNCTION @extschema@.record_opportunity_history() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'record_opportunity_history only serves rebate.opportunity' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' OR NEW.stage IS DISTINCT FROM OLD.stage THEN
        INSERT INTO @extschema@.opportunity_stage_history
            (tenant_id, opportunity_id, partner_id, from_stage, to_stage, amount, reason, session_role, acting_role)
        VALUES (NEW.tenant_id, NEW.id, NEW.partner_id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.stage END, NEW.stage,
                NEW.amount, coalesce(nullif(pg_catalog.current_setting('rebate.change_reason', true), ''),
                                     CASE WHEN NEW.stage = 'lost' THEN NEW.lost_reason END),
                session_user, @extschema@.acting_role());
        -- a stage move is progress on the customer it is for: a follow-up that renews its protection (客户报备)
        IF NEW.end_customer_id IS NOT NULL THEN
            WITH renewed AS (
                UPDATE @extschema@.end_customer c SET last_progress_on = CURRENT_DATE
                 WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.end_customer_id AND c.partner_id = NEW.partner_id
                   AND c.status = 'protected' AND c.protected_until >= CURRENT_DATE
                RETURNING c.tenant_id, c.id, c.partner_id
            )
            INSERT INTO @extschema@.customer_followup (tenant_id, end_customer_id, partner_id, note, recorded_by)
            SELECT r.tenant_id, r.id, r.partner_id,
                   pg_catalog.format('opportunity %s: %s', NEW.id, NEW.stage), @extschema@.acting_role()
              FROM renewed r;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.record_opportunity_history() IS
    'AFTER trigger on opportunity: appends its stage moves to opportunity_stage_history, each a follow-up renewing the protection of its registered customer';
CREATE TRIGGER history AFTER INSERT OR UPDATE OF stage ON @extschema@.opportunity
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_opportunity_history();

-- Moves an opportunity to a stage (with the order when won, the reason when
-- lost), recording why.  With the caller's rights: row-level security and
-- the triggers decide.
CREATE FUNCTION @extschema@.set_opportunity_stage(opportunity_id bigint, stage text, order_id bigint DEFAULT NULL,
                                                  reason text DEFAULT NULL)
    RETURNS @extschema@.opportunity
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result @extschema@.opportunity;
BEGIN
    PERFORM pg_catalog.set_config('rebate.change_reason', coalesce(reason, ''), true);
    UPDATE @extschema@.opportunity y
       SET stage = set_opportunity_stage.stage,
           order_id = CASE WHEN set_opportunity_stage.stage = 'won'
                           THEN coalesce(set_opportunity_stage.order_id, y.order_id) END,
           lost_reason = CASE WHEN set_opportunity_stage.stage = 'lost' THEN coalesce(reason, y.lost_reason)
                              ELSE y.lost_reason END
     WHERE y.id = set_opportunity_stage.opportunity_id
    RETURNING y.* INTO result;
    PERFORM pg_catalog.set_config('rebate.change_reason', '', true);
    IF result.id IS NULL THEN
        RAISE EXCEPTION 'opportunity % does not exist or is not visible to you', set_opportunity_stage.opportunity_id
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.set_opportunity_stage(bigint, text, bigint, text) IS
    'Moves an opportunity to a stage (won: with the order it was won by; lost: reason is the lost reason), recording why; with the caller''s rights';

-- ---- row-level security, triggers, grants -------------------------------------------------

SELECT @extschema@.apply_standard_triggers(t)
  FROM unnest(ARRAY['@extschema@.opportunity_stage_weight', '@extschema@.lead_rule', '@extschema@.lead',
                    '@extschema@.lead_offer', '@extschema@.opportunity',
                    '@extschema@.opportunity_stage_history']::regclass[]) AS t;
SELECT @extschema@.apply_tenant_rls('@extschema@.opportunity_stage_weight', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.lead_rule', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.lead', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.lead_offer', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.opportunity', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.opportunity_stage_history', 'tenant_id', 'partner_id');
-- partner users open and work the opportunities of their own partner (a distributor reads its dealers', and
-- works its own)
CREATE POLICY partner_opens_opportunity ON @extschema@.opportunity FOR INSERT
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id()));
CREATE POLICY partner_works_opportunity ON @extschema@.opportunity FOR UPDATE
    USING (tenant_id = (SELECT @extschema@.current_tenant_id()) AND partner_id = (SELECT @extschema@.current_partner_id()))
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id()));

GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.lead_rule, @extschema@.opportunity_stage_weight
    TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.opportunity_stage_weight TO rebate_partner;
-- leads: managers write what the prospect is; status, partner and offers are the functions'
GRANT SELECT ON @extschema@.lead, @extschema@.lead_offer, @extschema@.opportunity, @extschema@.opportunity_stage_history
    TO rebate_admin, rebate_manager, rebate_partner;
GRANT INSERT (tenant_id, name, contact_name, contact_phone, contact_email, region_id, product_id, source, expected_amount,
              currency, note, received_at),
      UPDATE (name, contact_name, contact_phone, contact_email, region_id, product_id, source, expected_amount, currency,
              note, received_at)
    ON @extschema@.lead TO rebate_admin, rebate_manager;
GRANT DELETE ON @extschema@.lead TO rebate_admin, rebate_manager;
-- opportunities: lead_id is set by accept_lead, the stamps by the trigger
GRANT INSERT (tenant_id, partner_id, end_customer_id, region_id, name, stage, amount, currency, expected_close_on, order_id,
              lost_reason, note),
      UPDATE (partner_id, end_customer_id, region_id, name, stage, amount, currency, expected_close_on, order_id,
              lost_reason, note)
    ON @extschema@.opportunity TO rebate_admin, rebate_manager;
GRANT DELETE ON @extschema@.opportunity TO rebate_admin, rebate_manager;
GRANT INSERT (partner_id, end_customer_id, region_id, name, stage, amount, currency, expected_close_on, order_id,
              lost_reason, note),
      UPDATE (end_customer_id, region_id, name, stage, amount, currency, expected_close_on, order_id, lost_reason, note)
    ON @extschema@.opportunity TO rebate_partner;

-- ---- distribution (internal) ------------------------------------------------------------------

-- A partner's open leads: offered to it, or accepted by it with the
-- opportunity still open.  What a rule's capacity limits.
CREATE FUNCTION @extschema@.open_lead_count(tenant_id bigint, partner_id bigint) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*) FROM @extschema@.lead l
     WHERE l.tenant_id = open_lead_count.tenant_id AND l.partner_id = open_lead_count.partner_id
       AND (l.status = 'offered'
            OR (l.status = 'accepted'
                AND EXISTS (SELECT 1 FROM @extschema@.opportunity y
                             WHERE y.tenant_id = l.tenant_id AND y.lead_id = l.id AND y.stage NOT IN ('won', 'lost'))))
$$;
REVOKE ALL ON FUNCTION @extschema@.open_lead_count(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.open_lead_count(bigint, bigint) IS
    'Internal: how many leads a partner holds open (offered to it, or accepted with the opportunity still open): what lead_rule.capacity limits';

-- Offers a lead to a partner: the offer, the lead's status and partner, and
-- the partner's notification.
CREATE FUNCTION @extschema@.offer_lead(lead @extschema@.lead, partner_id bigint, rule_id bigint, respond_within interval,
                                       reason text DEFAULT NULL)
    RETURNS @extschema@.lead_offer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    made @extschema@.lead_offer;
    offered timestamptz := pg_catalog.clock_timestamp();
BEGIN
    INSERT INTO @extschema@.lead_offer (tenant_id, lead_id, partner_id, rule_id, offered_by, offered_at, respond_by, reason)
    VALUES (lead.tenant_id, lead.id, offer_lead.partner_id, offer_lead.rule_id, @extschema@.acting_role(), offered,
            offered + respond_within, offer_lead.reason)
    RETURNING * INTO made;
    UPDATE @extschema@.lead l SET status = 'offered', partner_id = offer_lead.partner_id
     WHERE l.tenant_id = lead.tenant_id AND l.id = lead.id;
    PERFORM @extschema@.notify(lead.tenant_id, offer_lead.partner_id, NULL, 'lead_assigned', 'lead', lead.id,
                               pg_catalog.format('Lead %s was assigned to you: accept or decline it by %s',
                                                 lead.id, made.respond_by),
                               pg_catalog.jsonb_build_object('lead_id', lead.id, 'offer_id', made.id,
                                                             'respond_by', made.respond_by, 'region_id', lead.region_id,
                                                             'product_id', lead.product_id, 'source', lead.source,
                                                             'expected_amount', lead.expected_amount,
                                                             'currency', lead.currency));
    RETURN made;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.offer_lead(@extschema@.lead, bigint, bigint, interval, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.offer_lead(@extschema@.lead, bigint, bigint, interval, text) IS
    'Internal: offers a lead to a partner (the offer with its deadline, the lead''s status, the partner''s lead_assigned notification)';

-- Offers a lead by the rules: the first active rule (by priority) that the
-- lead meets and under which a partner is eligible: active, of the rule's
-- grades and kind, holding a territory valid today that covers the lead's
-- region, that has not declined the lead or let an offer of it expire, and
-- under the rule's capacity; chosen by the rule's strategy.  Candidates
-- another transaction is offering to are skipped (their rows are locked),
-- and the capacity is counted again once the partner's row is locked, so
-- concurrent distributions never take a partner over its capacity.
-- Returns the offer, or NULL when nobody is eligible.
CREATE FUNCTION @extschema@.offer_by_rules(lead @extschema@.lead) RETURNS @extschema@.lead_offer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    region_path bigint[];
    rule @extschema@.lead_rule;
    candidate bigint;
BEGIN
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'leads are offered in READ COMMITTED transactions only' USING ERRCODE = 'invalid_transaction_state',
              DETAIL = 'A partner''s capacity is counted again after its row is locked, which needs a fresh snapshot.';
    END IF;
    SELECT r.path INTO region_path FROM @extschema@.region r WHERE r.tenant_id = lead.tenant_id AND r.id = lead.region_id;
    FOR rule IN SELECT r.* FROM @extschema@.lead_rule r
                 WHERE r.tenant_id = lead.tenant_id AND r.active
                   AND (r.region_id IS NULL OR r.region_id = ANY (region_path))
                   AND (r.product_id IS NULL OR r.product_id = lead.product_id)
                 ORDER BY r.priority, r.id LOOP
        FOR candidate IN
            SELECT c.id
              FROM (SELECT p.id,
                           CASE WHEN rule.strategy = 'least_loaded' OR rule.capacity IS NOT NULL
                                THEN @extschema@.open_lead_count(p.tenant_id, p.id) END AS open_leads,
                           (SELECT max(o.id) FROM @extschema@.lead_offer o
                             WHERE o.tenant_id = p.tenant_id AND o.partner_id = p.id) AS last_offer
                      FROM @extschema@.partner p
                     WHERE p.tenant_id = lead.tenant_id AND p.state = 'active'
                       AND (rule.grade_ids = '{}' OR p.grade_id = ANY (rule.grade_ids))
                       AND (rule.partner_kind IS NULL OR p.kind = rule.partner_kind)
                       AND EXISTS (SELECT 1 FROM @extschema@.partner_territory t
                                    WHERE t.tenant_id = p.tenant_id AND t.partner_id = p.id
                                      AND t.valid @> CURRENT_DATE AND t.region_id = ANY (region_path))
                       AND NOT EXISTS (SELECT 1 FROM @extschema@.lead_offer o
                                        WHERE o.tenant_id = lead.tenant_id AND o.lead_id = lead.id
                                          AND o.partner_id = p.id AND o.answer IN ('declined', 'expired'))) c
             WHERE rule.capacity IS NULL OR c.open_leads < rule.capacity
             ORDER BY CASE WHEN rule.strategy = 'least_loaded' THEN c.open_leads END, c.last_offer NULLS FIRST, c.id
        LOOP
            PERFORM 1 FROM @extschema@.partner p
             WHERE p.tenant_id = lead.tenant_id AND p.id = candidate FOR NO KEY UPDATE SKIP LOCKED;
            CONTINUE WHEN NOT FOUND;
            CONTINUE WHEN rule.capacity IS NOT NULL
                          AND @extschema@.open_lead_count(lead.tenant_id, candidate) >= rule.capacity;
            RETURN @extschema@.offer_lead(lead, candidate, rule.id, rule.response_time);
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.offer_by_rules(@extschema@.lead) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.offer_by_rules(@extschema@.lead) IS
    'Internal: offers a lead to the partner its tenant''s rules choose (first rule by priority with an eligible partner); NULL when nobody is eligible';

-- After an offer was declined or expired: the next eligible partner, or the
-- lead back to the managers (lead_returned).  Returns the new offer or NULL.
CREATE FUNCTION @extschema@.pass_lead_on(lead @extschema@.lead, ended @extschema@.lead_offer) RETURNS @extschema@.lead_offer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    next_offer @extschema@.lead_offer := @extschema@.offer_by_rules(lead);
BEGIN
    IF next_offer.id IS NULL THEN
        UPDATE @extschema@.lead l SET status = 'returned', partner_id = NULL
         WHERE l.tenant_id = lead.tenant_id AND l.id = lead.id;
        PERFORM @extschema@.notify(lead.tenant_id, NULL, NULL, 'lead_returned', 'lead', lead.id,
                                   pg_catalog.format('Lead %s was %s and no partner can take it: assign it by hand',
                                                     lead.id, ended.answer),
                                   pg_catalog.jsonb_build_object('lead_id', lead.id, 'offer_id', ended.id,
                                                                 'partner_id', ended.partner_id, 'answer', ended.answer,
                                                                 'region_id', lead.region_id,
                                                                 'product_id', lead.product_id, 'source', lead.source));
    END IF;
    RETURN next_offer;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.pass_lead_on(@extschema@.lead, @extschema@.lead_offer) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.pass_lead_on(@extschema@.lead, @extschema@.lead_offer) IS
    'Internal: after a declined or expired offer, offers the lead to the next eligible partner, or returns it to the managers with a lead_returned notification';

-- The tenants a call names: one the caller may manage, or (NULL) every
-- tenant for a group administrator and its own for a manager.
CREATE FUNCTION @extschema@.lead_tenants(tenant_id bigint, what text) RETURNS bigint[]
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    own bigint := (@extschema@.binding_of(actor)).tenant_id;
BEGIN
    IF lead_tenants.tenant_id IS NULL AND @extschema@.role_is_admin(actor) THEN
        RETURN ARRAY(SELECT t.id FROM @extschema@.tenant t ORDER BY t.id);
    END IF;
    IF @extschema@.may_manage(actor, coalesce(lead_tenants.tenant_id, own)) THEN
        RETURN ARRAY[coalesce(lead_tenants.tenant_id, own)];
    END IF;
    RAISE EXCEPTION 'permission denied to % the leads of %', what,
                    CASE WHEN lead_tenants.tenant_id IS NULL THEN 'every tenant'
                         ELSE pg_catalog.format('tenant %s', lead_tenants.tenant_id) END
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'A manager of the tenant may (NULL: its own tenant), and a group administrator (NULL: every tenant).';
END
$$;
REVOKE ALL ON FUNCTION @extschema@.lead_tenants(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.lead_tenants(bigint, text) IS
    'Internal: the tenants whose leads the acting role may distribute or expire (NULL: its own as a manager, every one as an administrator); refuses anything else';

-- ---- what users call --------------------------------------------------------------------------

-- Offers every new and returned lead by the rules (oldest first).  A lead
-- another transaction holds is skipped.  For a tenant's managers (NULL:
-- their own tenant) and group administrators (NULL: every tenant), from
-- cron.  Returns per tenant how many were offered and how many found nobody.
CREATE FUNCTION @extschema@.distribute_leads(tenant_id bigint DEFAULT NULL)
    RETURNS TABLE (tenant bigint, offered integer, unassigned integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t bigint;
    waiting @extschema@.lead;
    made @extschema@.lead_offer;
BEGIN
    FOREACH t IN ARRAY @extschema@.lead_tenants(distribute_leads.tenant_id, 'distribute') LOOP
        tenant := t;
        offered := 0;
        unassigned := 0;
        FOR waiting IN SELECT l.* FROM @extschema@.lead l
                        WHERE l.tenant_id = t AND l.status IN ('new', 'returned')
                        ORDER BY l.received_at, l.id
                          FOR UPDATE SKIP LOCKED LOOP
            made := @extschema@.offer_by_rules(waiting);
            IF made.id IS NULL THEN
                unassigned := unassigned + 1;
            ELSE
                offered := offered + 1;
            END IF;
        END LOOP;
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.distribute_leads(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.distribute_leads(bigint) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.distribute_leads(bigint) IS
    'Offers every new and returned lead of a tenant by its rules (NULL: a manager''s own tenant, an administrator''s every tenant); returns per tenant how many were offered and how many found no eligible partner. Run it from cron';

-- Expires the offers past their deadline: each lead goes to the next
-- eligible partner, or back to the managers.  Same callers as above.
CREATE FUNCTION @extschema@.expire_lead_offers(tenant_id bigint DEFAULT NULL)
    RETURNS TABLE (tenant bigint, expired integer, reoffered integer, returned integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t bigint;
    due record;
    held @extschema@.lead;
    ended @extschema@.lead_offer;
BEGIN
    FOREACH t IN ARRAY @extschema@.lead_tenants(expire_lead_offers.tenant_id, 'expire the offers of') LOOP
        tenant := t;
        expired := 0;
        reoffered := 0;
        returned := 0;
        FOR due IN SELECT o.id, o.lead_id FROM @extschema@.lead_offer o
                    WHERE o.tenant_id = t AND o.answer IS NULL AND o.respond_by < pg_catalog.now()
                    ORDER BY o.respond_by, o.id LOOP
            -- the lead first (as everyone who answers or assigns it): one another transaction holds is left for later
            SELECT l.* INTO held FROM @extschema@.lead l WHERE l.tenant_id = t AND l.id = due.lead_id
               FOR UPDATE SKIP LOCKED;
            CONTINUE WHEN held.id IS NULL;
            UPDATE @extschema@.lead_offer o
               SET answer = 'expired', answered_at = pg_catalog.now(), answered_by = @extschema@.acting_role()
             WHERE o.tenant_id = t AND o.id = due.id AND o.answer IS NULL AND o.respond_by < pg_catalog.now()
            RETURNING o.* INTO ended;
            CONTINUE WHEN ended.id IS NULL;
            expired := expired + 1;
            IF (@extschema@.pass_lead_on(held, ended)).id IS NULL THEN
                returned := returned + 1;
            ELSE
                reoffered := reoffered + 1;
            END IF;
            held := NULL;
            ended := NULL;
        END LOOP;
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.expire_lead_offers(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.expire_lead_offers(bigint) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.expire_lead_offers(bigint) IS
    'Expires the lead offers past their deadline (NULL: a manager''s own tenant, an administrator''s every tenant): each lead is offered to the next eligible partner or returned to the managers; returns the counts per tenant. Run it from cron';

-- A manager offers a lead by hand to a partner of its tenant (an offer still
-- open is withdrawn).  The rules' conditions do not apply: the manager
-- decides; the partner must be active.
CREATE FUNCTION @extschema@.assign_lead(lead_id bigint, partner_id bigint, respond_within interval DEFAULT '2 days',
                                        reason text DEFAULT NULL)
    RETURNS @extschema@.lead_offer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    seen @extschema@.lead;
    held @extschema@.lead;
    partner @extschema@.partner;
BEGIN
    -- judged before anything is locked: another tenant's lead is neither locked nor told apart from none
    SELECT l.* INTO seen FROM @extschema@.lead l WHERE l.id = assign_lead.lead_id;
    IF seen.id IS NULL OR NOT @extschema@.may_manage(actor, seen.tenant_id) THEN
        RAISE EXCEPTION 'lead % does not exist or is not visible to you', assign_lead.lead_id USING ERRCODE = 'no_data_found';
    END IF;
    IF respond_within IS NULL OR respond_within <= '0'::interval THEN
        RAISE EXCEPTION 'an offer needs a positive time to answer' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT p.* INTO partner FROM @extschema@.partner p WHERE p.tenant_id = seen.tenant_id AND p.id = assign_lead.partner_id;
    IF partner.id IS NULL THEN
        RAISE EXCEPTION 'partner % does not exist or is not visible to you', assign_lead.partner_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF partner.state <> 'active' THEN
        RAISE EXCEPTION 'partner % is %, not active', partner.id, partner.state USING ERRCODE = 'RB089',
              HINT = 'Leads go to active partners only.';
    END IF;
    SELECT l.* INTO held FROM @extschema@.lead l WHERE l.tenant_id = seen.tenant_id AND l.id = seen.id FOR UPDATE;
    IF held.status IN ('accepted', 'cancelled') THEN
        RAISE EXCEPTION 'lead % is already %', held.id, held.status USING ERRCODE = 'RB085';
    END IF;
    UPDATE @extschema@.lead_offer o
       SET answer = 'withdrawn', answered_at = pg_catalog.now(), answered_by = actor,
           reason = coalesce(assign_lead.reason, 'reassigned by hand')
     WHERE o.tenant_id = held.tenant_id AND o.lead_id = held.id AND o.answer IS NULL;
    RETURN @extschema@.offer_lead(held, partner.id, NULL, respond_within, assign_lead.reason);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.assign_lead(bigint, bigint, interval, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.assign_lead(bigint, bigint, interval, text) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.assign_lead(bigint, bigint, interval, text) IS
    'A manager offers a lead by hand to an active partner of its tenant, to answer within respond_within (an open offer is withdrawn); returns the offer';

-- A manager cancels a lead that is not accepted (an open offer is withdrawn).
CREATE FUNCTION @extschema@.cancel_lead(lead_id bigint, reason text) RETURNS @extschema@.lead
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    seen @extschema@.lead;
    held @extschema@.lead;
BEGIN
    SELECT l.* INTO seen FROM @extschema@.lead l WHERE l.id = cancel_lead.lead_id;
    IF seen.id IS NULL OR NOT @extschema@.may_manage(actor, seen.tenant_id) THEN
        RAISE EXCEPTION 'lead % does not exist or is not visible to you', cancel_lead.lead_id USING ERRCODE = 'no_data_found';
    END IF;
    IF coalesce(pg_catalog.btrim(reason), '') = '' THEN
        RAISE EXCEPTION 'cancelling a lead needs a reason' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT l.* INTO held FROM @extschema@.lead l WHERE l.tenant_id = seen.tenant_id AND l.id = seen.id FOR UPDATE;
    IF held.status IN ('accepted', 'cancelled') THEN
        RAISE EXCEPTION 'lead % is already %', held.id, held.status USING ERRCODE = 'RB085';
    END IF;
    UPDATE @extschema@.lead_offer o
       SET answer = 'withdrawn', answered_at = pg_catalog.now(), answered_by = actor, reason = cancel_lead.reason
     WHERE o.tenant_id = held.tenant_id AND o.lead_id = held.id AND o.answer IS NULL;
    UPDATE @extschema@.lead l SET status = 'cancelled', partner_id = NULL, cancel_reason = cancel_lead.reason
     WHERE l.tenant_id = held.tenant_id AND l.id = held.id
    RETURNING l.* INTO held;
    RETURN held;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.cancel_lead(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.cancel_lead(bigint, text) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.cancel_lead(bigint, text) IS
    'A manager cancels a lead that is not accepted (a duplicate, no real prospect), withdrawing an open offer; returns the lead';

-- The open offer of a lead to the caller's partner, locked with the lead,
-- or the refusal that a lead not offered to the caller ends with (the same
-- as for a lead that does not exist).
CREATE FUNCTION @extschema@.my_open_offer(lead_id bigint, OUT held @extschema@.lead, OUT offer @extschema@.lead_offer)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bound record := @extschema@.binding_of(@extschema@.acting_role());
    seen @extschema@.lead;
BEGIN
    -- judged before anything is locked
    SELECT l.* INTO seen FROM @extschema@.lead l WHERE l.id = my_open_offer.lead_id;
    IF seen.id IS NOT NULL AND bound.partner_id IS NOT NULL AND seen.tenant_id = bound.tenant_id
       AND seen.status = 'offered' AND seen.partner_id = bound.partner_id THEN
        SELECT l.* INTO held FROM @extschema@.lead l WHERE l.tenant_id = seen.tenant_id AND l.id = seen.id FOR UPDATE;
        SELECT o.* INTO offer FROM @extschema@.lead_offer o
         WHERE o.tenant_id = held.tenant_id AND o.lead_id = held.id AND o.answer IS NULL
           AND o.partner_id = bound.partner_id AND held.status = 'offered' AND held.partner_id = bound.partner_id
           FOR UPDATE;
    END IF;
    IF offer.id IS NULL THEN
        RAISE EXCEPTION 'lead % does not exist or is not offered to you', my_open_offer.lead_id
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.my_open_offer(bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.my_open_offer(bigint) IS
    'Internal: the lead and its open offer to the acting role''s partner, locked; refused like a lead that does not exist otherwise';

-- A user of the partner a lead is offered to accepts it before the deadline:
-- the opportunity opens (first contact, the lead's name, region, amount).
CREATE FUNCTION @extschema@.accept_lead(lead_id bigint) RETURNS @extschema@.opportunity
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mine record := @extschema@.my_open_offer(accept_lead.lead_id);
    opened @extschema@.opportunity;
BEGIN
    IF (mine.offer).respond_by < pg_catalog.now() THEN
        RAISE EXCEPTION 'the offer of lead % ran out at %', accept_lead.lead_id, (mine.offer).respond_by
            USING ERRCODE = 'RB086', HINT = 'An offer is accepted before its deadline; the brand offers an expired lead again.';
    END IF;
    UPDATE @extschema@.lead_offer o
       SET answer = 'accepted', answered_at = pg_catalog.now(), answered_by = @extschema@.acting_role()
     WHERE o.tenant_id = (mine.offer).tenant_id AND o.id = (mine.offer).id;
    UPDATE @extschema@.lead l SET status = 'accepted'
     WHERE l.tenant_id = (mine.held).tenant_id AND l.id = (mine.held).id;
    INSERT INTO @extschema@.opportunity (tenant_id, partner_id, lead_id, region_id, name, stage, amount, currency)
    VALUES ((mine.held).tenant_id, (mine.offer).partner_id, (mine.held).id, (mine.held).region_id, (mine.held).name,
            '初步接触', (mine.held).expected_amount, (mine.held).currency)
    RETURNING * INTO opened;
    RETURN opened;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.accept_lead(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.accept_lead(bigint) TO rebate_partner;
COMMENT ON FUNCTION @extschema@.accept_lead(bigint) IS
    'A user of the partner a lead is offered to accepts it before the deadline; returns the opportunity it opens (a lead not offered to the caller is refused like one that does not exist)';

-- A user of the partner a lead is offered to declines it, saying why; the
-- lead goes to the next eligible partner or back to the managers.  Returns
-- the declined offer (nothing of who gets the lead next).
CREATE FUNCTION @extschema@.decline_lead(lead_id bigint, reason text) RETURNS @extschema@.lead_offer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mine record;
    ended @extschema@.lead_offer;
BEGIN
    IF coalesce(pg_catalog.btrim(reason), '') = '' THEN
        RAISE EXCEPTION 'declining a lead needs a reason' USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Say why (out of our area, no capacity, not our product ...): the brand reads it.';
    END IF;
    mine := @extschema@.my_open_offer(decline_lead.lead_id);
    UPDATE @extschema@.lead_offer o
       SET answer = 'declined', answered_at = pg_catalog.now(), answered_by = @extschema@.acting_role(),
           reason = decline_lead.reason
     WHERE o.tenant_id = (mine.offer).tenant_id AND o.id = (mine.offer).id
    RETURNING o.* INTO ended;
    PERFORM @extschema@.pass_lead_on(mine.held, ended);
    RETURN ended;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.decline_lead(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.decline_lead(bigint, text) TO rebate_partner;
COMMENT ON FUNCTION @extschema@.decline_lead(bigint, text) IS
    'A user of the partner a lead is offered to declines it with a reason; the lead goes to the next eligible partner or back to the managers; returns the declined offer';

-- ---- KPI views ---------------------------------------------------------------------------------

-- Internal (the owner's): per lead and per partner it was offered to (one
-- row with partner NULL for a lead never offered): the offers and their
-- answers, and the opportunity of the partner that accepted it.
CREATE VIEW @extschema@.lead_facts_all AS
SELECT l.tenant_id, l.id AS lead_id, l.region_id, l.product_id, l.source, l.status AS lead_status, l.received_at,
       pg_catalog.date_trunc('month', l.received_at)::date AS month,
       coalesce(y.currency, l.currency) AS currency,
       o.partner_id, coalesce(o.offers, 0) AS offers, coalesce(o.accepted, 0) AS accepted,
       coalesce(o.declined, 0) AS declined, coalesce(o.expired, 0) AS expired, coalesce(o.withdrawn, 0) AS withdrawn,
       coalesce(o.open_offers, 0) AS open_offers, o.accepted_offered_at, o.accepted_at,
       y.id AS opportunity_id, y.stage, y.amount, y.created_at AS opened_at, y.closed_at
  FROM @extschema@.lead l
  LEFT JOIN LATERAL (
        SELECT f.partner_id, count(*) AS offers,
               count(*) FILTER (WHERE f.answer = 'accepted') AS accepted,
               count(*) FILTER (WHERE f.answer = 'declined') AS declined,
               count(*) FILTER (WHERE f.answer = 'expired') AS expired,
               count(*) FILTER (WHERE f.answer = 'withdrawn') AS withdrawn,
               count(*) FILTER (WHERE f.answer IS NULL) AS open_offers,
               max(f.offered_at) FILTER (WHERE f.answer = 'accepted') AS accepted_offered_at,
               max(f.answered_at) FILTER (WHERE f.answer = 'accepted') AS accepted_at
          FROM @extschema@.lead_offer f
         WHERE f.tenant_id = l.tenant_id AND f.lead_id = l.id
         GROUP BY f.partner_id) o ON true
  -- (the opportunity counts for the partner that accepted the lead only while it is still that partner's)
  LEFT JOIN @extschema@.opportunity y ON y.tenant_id = l.tenant_id AND y.lead_id = l.id AND o.accepted > 0
                                     AND y.partner_id = o.partner_id;
-- What the reading user may see of them (the tenant_read policies' condition, for the reader): its
-- tenant, and as a partner user the facts of its partner and those below it; a lead's own status
-- (which another partner's answer decides) only to managers and administrators.
CREATE VIEW @extschema@.lead_facts AS
SELECT f.tenant_id, f.lead_id, f.region_id, f.product_id, f.source,
       CASE WHEN (SELECT @extschema@.is_group_admin()) OR (SELECT @extschema@.is_tenant_manager()) THEN f.lead_status END
           AS lead_status,
       (SELECT @extschema@.is_group_admin()) OR (SELECT @extschema@.is_tenant_manager()) AS staff,
       f.received_at, f.month, f.currency, f.partner_id, f.offers, f.accepted, f.declined, f.expired, f.withdrawn,
       f.open_offers, f.accepted_offered_at, f.accepted_at, f.opportunity_id, f.stage, f.amount, f.opened_at, f.closed_at
  FROM @extschema@.lead_facts_all f
 WHERE f.tenant_id = ANY ((SELECT @extschema@.visible_tenant_ids())::bigint[])
   AND ((SELECT @extschema@.is_group_admin()) OR (SELECT @extschema@.is_tenant_manager())
        OR f.partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[]));
REVOKE ALL ON @extschema@.lead_facts_all, @extschema@.lead_facts FROM PUBLIC;
COMMENT ON VIEW @extschema@.lead_facts_all IS
    'Internal (the extension owner''s): per lead and partner offered it, the offers and answers and the accepting partner''s opportunity, for every tenant';
COMMENT ON VIEW @extschema@.lead_facts IS
    'Internal (the extension owner''s): rebate.lead_facts_all as far as the reading user may see it: what the conversion views aggregate';

-- days between two times, as numeric
CREATE FUNCTION @extschema@.days_between(from_time timestamptz, to_time timestamptz) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT EXTRACT(epoch FROM to_time - from_time) / 86400 $$;
COMMENT ON FUNCTION @extschema@.days_between(timestamptz, timestamptz) IS
    'The days from one time to another, as numeric (fractions of a day included)';

CREATE VIEW @extschema@.v_lead_conversion_by_partner WITH (security_barrier) AS
SELECT f.tenant_id, f.partner_id, p.code AS partner_code, p.name AS partner_name, f.month, f.currency,
       count(*) AS leads_offered, sum(f.offers) AS offers, sum(f.accepted) AS accepted, sum(f.declined) AS declined,
       sum(f.expired) AS expired, sum(f.withdrawn) AS withdrawn, sum(f.open_offers) AS open_offers,
       pg_catalog.round(sum(f.accepted) / nullif(sum(f.accepted + f.declined + f.expired), 0), 4) AS acceptance_rate,
       count(*) FILTER (WHERE f.stage IN ('初步接触', '需求分析', '方案报价', '商务谈判')) AS opportunities_open,
       count(*) FILTER (WHERE f.stage = 'won') AS won, count(*) FILTER (WHERE f.stage = 'lost') AS lost,
       pg_catalog.round(count(*) FILTER (WHERE f.stage = 'won')::numeric
                        / nullif(count(*) FILTER (WHERE f.stage IN ('won', 'lost')), 0), 4) AS win_rate,
       coalesce(sum(f.amount) FILTER (WHERE f.stage = 'won'), 0) AS won_amount,
       pg_catalog.round(avg(@extschema@.days_between(f.accepted_offered_at, f.accepted_at)), 2) AS avg_days_to_accept,
       pg_catalog.round(avg(@extschema@.days_between(f.opened_at, f.closed_at)) FILTER (WHERE f.stage = 'won'), 2)
           AS avg_days_to_win
  FROM @extschema@.lead_facts f
  JOIN @extschema@.partner p ON p.tenant_id = f.tenant_id AND p.id = f.partner_id
 GROUP BY f.tenant_id, f.partner_id, p.code, p.name, f.month, f.currency;

CREATE VIEW @extschema@.v_lead_conversion_by_region WITH (security_barrier) AS
SELECT f.tenant_id, a.region_id, r.code AS region_code, r.name AS region_name, r.level AS region_level,
       r.parent_id AS parent_region_id, f.month, f.currency,
       count(DISTINCT f.lead_id) AS leads,
       count(DISTINCT f.lead_id) FILTER (WHERE f.partner_id IS NOT NULL) AS leads_offered,
       count(DISTINCT f.lead_id) FILTER (WHERE f.accepted > 0) AS leads_accepted,
       CASE WHEN bool_or(f.staff) THEN count(DISTINCT f.lead_id) FILTER (WHERE f.lead_status IN ('new', 'returned')) END
           AS leads_waiting,
       sum(f.offers) AS offers, sum(f.declined) AS declined, sum(f.expired) AS expired,
       count(*) FILTER (WHERE f.stage IN ('初步接触', '需求分析', '方案报价', '商务谈判')) AS opportunities_open,
       count(*) FILTER (WHERE f.stage = 'won') AS won, count(*) FILTER (WHERE f.stage = 'lost') AS lost,
       pg_catalog.round(count(*) FILTER (WHERE f.stage = 'won')::numeric
                        / nullif(count(*) FILTER (WHERE f.stage IN ('won', 'lost')), 0), 4) AS win_rate,
       coalesce(sum(f.amount) FILTER (WHERE f.stage = 'won'), 0) AS won_amount,
       pg_catalog.round(avg(@extschema@.days_between(f.received_at, f.accepted_at)), 2) AS avg_days_to_accept,
       pg_catalog.round(avg(@extschema@.days_between(f.opened_at, f.closed_at)) FILTER (WHERE f.stage = 'won'), 2)
           AS avg_days_to_win
  FROM @extschema@.lead_facts f
  JOIN @extschema@.region lr ON lr.tenant_id = f.tenant_id AND lr.id = f.region_id
 CROSS JOIN LATERAL pg_catalog.unnest(lr.path) AS a (region_id)
  JOIN @extschema@.region r ON r.tenant_id = f.tenant_id AND r.id = a.region_id
 GROUP BY f.tenant_id, a.region_id, r.code, r.name, r.level, r.parent_id, f.month, f.currency;

CREATE VIEW @extschema@.v_lead_conversion_by_source WITH (security_barrier) AS
SELECT f.tenant_id, f.source, f.month, f.currency,
       count(DISTINCT f.lead_id) AS leads,
       count(DISTINCT f.lead_id) FILTER (WHERE f.partner_id IS NOT NULL) AS leads_offered,
       count(DISTINCT f.lead_id) FILTER (WHERE f.accepted > 0) AS leads_accepted,
       CASE WHEN bool_or(f.staff) THEN count(DISTINCT f.lead_id) FILTER (WHERE f.lead_status IN ('new', 'returned')) END
           AS leads_waiting,
       sum(f.offers) AS offers, sum(f.declined) AS declined, sum(f.expired) AS expired,
       count(*) FILTER (WHERE f.stage IN ('初步接触', '需求分析', '方案报价', '商务谈判')) AS opportunities_open,
       count(*) FILTER (WHERE f.stage = 'won') AS won, count(*) FILTER (WHERE f.stage = 'lost') AS lost,
       pg_catalog.round(count(*) FILTER (WHERE f.stage = 'won')::numeric
                        / nullif(count(*) FILTER (WHERE f.stage IN ('won', 'lost')), 0), 4) AS win_rate,
       coalesce(sum(f.amount) FILTER (WHERE f.stage = 'won'), 0) AS won_amount,
       pg_catalog.round(avg(@extschema@.days_between(f.received_at, f.accepted_at)), 2) AS avg_days_to_accept,
       pg_catalog.round(avg(@extschema@.days_between(f.opened_at, f.closed_at)) FILTER (WHERE f.stage = 'won'), 2)
           AS avg_days_to_win
  FROM @extschema@.lead_facts f
 GROUP BY f.tenant_id, f.source, f.month, f.currency;

-- The open pipeline: every open opportunity (from a lead or the partner's own), by partner, region and
-- stage, weighted by the tenant's probability of the stage.  Filtered for the reader before grouping.
CREATE VIEW @extschema@.v_opportunity_pipeline WITH (security_barrier) AS
SELECT y.tenant_id, y.partner_id, p.code AS partner_code, p.name AS partner_name,
       g.region_id, r.code AS region_code, r.name AS region_name,
       y.stage, s.label AS stage_label, s.position AS stage_position, y.currency,
       count(*) AS opportunities, coalesce(sum(y.amount), 0) AS amount,
       coalesce(w.probability, s.probability) AS probability,
       pg_catalog.round(coalesce(sum(y.amount), 0) * coalesce(w.probability, s.probability), 2) AS weighted_amount,
       min(y.expected_close_on) AS next_close_on,
       count(*) FILTER (WHERE y.expected_close_on < CURRENT_DATE) AS overdue
  FROM @extschema@.opportunity y
  JOIN @extschema@.partner p ON p.tenant_id = y.tenant_id AND p.id = y.partner_id
  JOIN @extschema@.opportunity_stage s ON s.stage = y.stage
  LEFT JOIN @extschema@.opportunity_stage_weight w ON w.tenant_id = y.tenant_id AND w.stage = y.stage
  LEFT JOIN @extschema@.end_customer c ON c.tenant_id = y.tenant_id AND c.id = y.end_customer_id
 CROSS JOIN LATERAL (SELECT coalesce(y.region_id, c.region_id, p.home_region_id) AS region_id) g
  LEFT JOIN @extschema@.region r ON r.tenant_id = y.tenant_id AND r.id = g.region_id
 WHERE s.is_open
   AND y.tenant_id = ANY ((SELECT @extschema@.visible_tenant_ids())::bigint[])
   AND ((SELECT @extschema@.is_group_admin()) OR (SELECT @extschema@.is_tenant_manager())
        OR y.partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[]))
 GROUP BY y.tenant_id, y.partner_id, p.code, p.name, g.region_id, r.code, r.name, y.stage, s.label, s.position,
          y.currency, w.probability, s.probability;

GRANT SELECT ON @extschema@.v_lead_conversion_by_partner, @extschema@.v_lead_conversion_by_region,
                @extschema@.v_lead_conversion_by_source, @extschema@.v_opportunity_pipeline
    TO rebate_admin, rebate_manager, rebate_partner;

COMMENT ON VIEW @extschema@.v_lead_conversion_by_partner IS
    '线索转化（渠道商） Per partner, month the leads were received and currency: leads offered, answers, acceptance rate, opportunities open, won and lost, win rate, won amount, days to accept and to win; each reader over the rows it may see';
COMMENT ON VIEW @extschema@.v_lead_conversion_by_region IS
    '线索转化（区域） Per region (a region includes everything below it), month received and currency: leads, offered, accepted, waiting, answers, opportunities, win rate, won amount, days to accept and to win; partner users over the leads offered to them';
COMMENT ON VIEW @extschema@.v_lead_conversion_by_source IS
    '线索转化（来源） Per lead source, month received and currency: as the region view';
COMMENT ON VIEW @extschema@.v_opportunity_pipeline IS
    '商机管道 The open opportunities per partner, region and stage: count, amount, the stage''s probability (the tenant''s, or the default) and the weighted amount, the next expected close and how many are overdue';

SELECT @extschema@.comment_view_columns(
    ARRAY['@extschema@.lead_facts_all', '@extschema@.lead_facts', '@extschema@.v_lead_conversion_by_partner',
          '@extschema@.v_lead_conversion_by_region', '@extschema@.v_lead_conversion_by_source',
          '@extschema@.v_opportunity_pipeline']::regclass[],
    pg_catalog.jsonb_build_object(
        -- (in parts: a function takes at most 100 arguments)
        'tenant_id', '租户 Tenant: the manufacturer or brand',
        'partner_id', '渠道商 Partner id (rebate.partner)',
        'partner_code', '渠道商编码 Partner code',
        'partner_name', '渠道商名称 Partner name',
        'region_id', '区域 Region id (rebate.region); a region''s row counts everything below it',
        'region_code', '区域编码 Region code',
        'region_name', '区域名称 Region name',
        'region_level', '区域层级 Region level (country, area, province, city ...)',
        'parent_region_id', '上级区域 The region above it',
        'source', '线索来源 Lead source: website, exhibition, hotline, referral, campaign, other',
        'month', '月份 The month the leads were received (first day)',
        'currency', '币种 Currency of the amounts (the opportunity''s, else the lead''s)',
        'leads', '线索数 Leads received (a partner user: offered to it)',
        'leads_offered', '已分配线索 Leads offered at least once (to the partner, in the partner view)',
        'leads_accepted', '已接受线索 Leads accepted',
        'leads_waiting', '待分配线索 Leads new or returned, waiting for a partner (managers only; NULL for partner users)',
        'offers', '分配次数 Offers made',
        'accepted', '接受 Offers accepted',
        'declined', '拒绝 Offers declined',
        'expired', '超时 Offers not answered in time',
        'withdrawn', '撤回 Offers withdrawn by a manager',
        'open_offers', '待答复 Offers waiting for an answer',
        'acceptance_rate', '接受率 Accepted / (accepted + declined + expired), 4 places; NULL before any answer',
        'opportunities_open', '进行中商机 Opportunities from these leads still open',
        'won', '赢单 Opportunities from these leads won',
        'lost', '丢单 Opportunities from these leads lost',
        'win_rate', '赢单率 Won / (won + lost), 4 places; NULL before any is closed',
        'won_amount', '赢单金额 Amount of the won opportunities',
        'avg_days_to_accept', '平均接受天数 Average days to acceptance: from the offer (partner view) or from receipt (region and source views), 2 places',
        'avg_days_to_win', '平均赢单天数 Average days from opening to winning an opportunity, 2 places',
        'stage', '阶段 Opportunity stage',
        'stage_label', '阶段名称 The stage in English',
        'stage_position', '阶段顺序 The stage''s position (1 = first contact)',
        'opportunities', '商机数 Open opportunities',
        'amount', '金额 Their amount',
        'probability', '赢单概率 The stage''s probability: the tenant''s (rebate.opportunity_stage_weight) or the default (rebate.opportunity_stage)',
        'weighted_amount', '加权金额 Amount x probability, 2 places',
        'next_close_on', '最近预计成交 The earliest expected close date',
        'overdue', '逾期 Opportunities whose expected close date has passed')
        || pg_catalog.jsonb_build_object(
        -- the internal facts (lead_facts_all, lead_facts)
        'lead_id', '线索 Lead id (rebate.lead)',
        'product_id', '产品 The product the lead asks about',
        'lead_status', '线索状态 The lead''s status (lead_facts: managers and administrators only)',
        'staff', '管理者 Whether the reader is a manager or administrator',
        'received_at', '收到时间 When the brand received the lead',
        'accepted_offered_at', '接受的分配时间 When the accepted offer was made',
        'accepted_at', '接受时间 When the partner accepted it',
        'opportunity_id', '商机 The opportunity the accepting partner opened',
        'opened_at', '商机创建 When the opportunity was opened',
        'closed_at', '商机关闭 When it was won or lost'));

-- ---------------------------------------------------------------------------
-- A partner's way in (准入) and out (退出).  In: an applicant partner keeps
-- its qualification records (licences and permits: number, issuer,
-- validity, a reference to the file and its checksum), applies for a grade
-- and territories, and the automatic checks (required qualifications
-- present and valid, no other partner with its name or tax id, the
-- territories free) gate the application before the partner_onboarding
-- approval flow decides; approval makes it active with its grade and
-- territories.  Out: an exit checklist the system verifies (each item a
-- function a module registers: partners below, open orders, receivables
-- settled or netted, statements paid, customers handed over, ...) gates the
-- partner_exit request, whose approval suspends and exits the partner and
-- ends its territories.  docs/onboarding.md describes it with examples.
-- ---------------------------------------------------------------------------

-- ---- qualifications ---------------------------------------------------------------

CREATE TABLE @extschema@.qualification_type (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code          text NOT NULL CHECK (btrim(code) <> ''),
    name          text NOT NULL CHECK (btrim(name) <> ''),
    required_for  text[] NOT NULL DEFAULT '{}'
                  CHECK (required_for <@ ARRAY['distributor', 'dealer', 'agent', 'retailer']),
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);
CREATE UNIQUE INDEX qualification_type_by_id ON @extschema@.qualification_type (id);
COMMENT ON TABLE @extschema@.qualification_type IS
    'The qualifications (资质: business licence, permits, brand authorisations) a tenant records for its partners';
COMMENT ON COLUMN @extschema@.qualification_type.required_for IS
    'The partner kinds that must hold a valid one to be admitted (empty: recorded, never required)';

CREATE TABLE @extschema@.partner_qualification (
    id           bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id   bigint NOT NULL,
    type_id      bigint NOT NULL,
    number       text NOT NULL CHECK (btrim(number) <> ''),
    issuer       text,
    valid_from   date NOT NULL,
    valid_until  date CHECK (valid_until >= valid_from),
    file_ref     text,
    file_sha256  text CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, type_id) REFERENCES @extschema@.qualification_type (tenant_id, id)
);
CREATE UNIQUE INDEX partner_qualification_by_id ON @extschema@.partner_qualification (id);
CREATE INDEX partner_qualification_partner ON @extschema@.partner_qualification (tenant_id, partner_id, type_id);
COMMENT ON TABLE @extschema@.partner_qualification IS
    'A partner''s qualification records: what, its number, who issued it, its validity; the file itself lives elsewhere';
COMMENT ON COLUMN @extschema@.partner_qualification.valid_until IS 'Last day of validity; NULL: it does not expire';
COMMENT ON COLUMN @extschema@.partner_qualification.file_ref IS 'Where the scanned document is kept (an object-store key, a URL)';
COMMENT ON COLUMN @extschema@.partner_qualification.file_sha256 IS 'SHA-256 of the file, lower-case hex: proves which file was reviewed';

-- ---- applications -------------------------------------------------------------------

CREATE TABLE @extschema@.partner_application (
    id                  bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id           bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id          bigint NOT NULL,
    requested_grade_id  bigint,
    region_ids          bigint[] NOT NULL DEFAULT '{}',
    exclusive           boolean NOT NULL DEFAULT false,
    note                text,
    status              text NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'submitted', 'approved', 'rejected', 'withdrawn')),
    checks              jsonb,
    request_id          bigint,
    submitted_by        name,
    submitted_at        timestamptz,
    decided_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, requested_grade_id) REFERENCES @extschema@.partner_grade (tenant_id, id),
    FOREIGN KEY (tenant_id, request_id) REFERENCES @extschema@.approval_request (tenant_id, id)
);
CREATE UNIQUE INDEX partner_application_by_id ON @extschema@.partner_application (id);
-- one application in progress per partner
CREATE UNIQUE INDEX partner_application_open ON @extschema@.partner_application (tenant_id, partner_id)
    WHERE status IN ('draft', 'submitted');
COMMENT ON TABLE @extschema@.partner_application IS
    'Applications for admission (准入): the grade and territories an applicant partner asks for, checked automatically and decided through the partner_onboarding approval flow';
COMMENT ON COLUMN @extschema@.partner_application.region_ids IS 'The territories asked for (each covers its subtree); checked to be free when submitted and granted on approval';
COMMENT ON COLUMN @extschema@.partner_application.exclusive IS 'Whether the territories are asked for exclusively (独家)';
COMMENT ON COLUMN @extschema@.partner_application.status IS
    'draft (written by the applicant or a manager), submitted (waiting for its request), approved, rejected, withdrawn';
COMMENT ON COLUMN @extschema@.partner_application.checks IS 'The automatic checks as they were when it was submitted (rebate.onboarding_checks)';
COMMENT ON COLUMN @extschema@.partner_application.request_id IS 'Its partner_onboarding approval request';
CREATE TRIGGER lifecycle BEFORE UPDATE OF status ON @extschema@.partner_application
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition(
        'status', 'draft>submitted', 'submitted>approved', 'submitted>rejected', 'submitted>withdrawn');

-- ---- row-level security: managers their tenant; partner users keep their own --------

SELECT @extschema@.apply_standard_triggers('@extschema@.qualification_type');
SELECT @extschema@.apply_standard_triggers('@extschema@.partner_qualification');
SELECT @extschema@.apply_standard_triggers('@extschema@.partner_application');
SELECT @extschema@.apply_tenant_rls('@extschema@.qualification_type', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_qualification', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_application', 'tenant_id', 'partner_id');
-- A partner user adds its own partner's qualification records (a renewal
-- is a new record: what was reviewed stays as it was reviewed), and, while
-- its partner is an applicant, drafts its application (the territory checks
-- say whether another partner holds a region: for applicants only).
CREATE POLICY partner_records_own ON @extschema@.partner_qualification FOR INSERT
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id()) AND partner_id = (SELECT @extschema@.current_partner_id()));
CREATE POLICY partner_drafts_own ON @extschema@.partner_application FOR ALL
    USING (tenant_id = (SELECT @extschema@.current_tenant_id()) AND partner_id = (SELECT @extschema@.current_partner_id()))
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id()) AND partner_id = (SELECT @extschema@.current_partner_id())
                AND EXISTS (SELECT 1 FROM @extschema@.partner p WHERE p.id = partner_id AND p.state = 'applicant'));
-- a submitted application is the approval's: nobody changes or deletes it but its functions
CREATE POLICY only_drafts_change ON @extschema@.partner_application AS RESTRICTIVE FOR UPDATE
    USING (status = 'draft') WITH CHECK (status = 'draft');
CREATE POLICY only_drafts_go ON @extschema@.partner_application AS RESTRICTIVE FOR DELETE USING (status = 'draft');
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.qualification_type TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.qualification_type TO rebate_partner;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.partner_qualification TO rebate_admin, rebate_manager;
GRANT SELECT, INSERT ON @extschema@.partner_qualification TO rebate_partner;
-- an application's status, checks and request are written by its functions only
GRANT SELECT, DELETE ON @extschema@.partner_application TO rebate_admin, rebate_manager, rebate_partner;
GRANT INSERT (tenant_id, partner_id, requested_grade_id, region_ids, exclusive, note),
      UPDATE (requested_grade_id, region_ids, exclusive, note)
   ON @extschema@.partner_application TO rebate_admin, rebate_manager, rebate_partner;

-- ---- the automatic checks -------------------------------------------------------------

-- The checks of a partner's admission as of a day: each required
-- qualification valid, no other partner with its name or tax id, each
-- territory asked for free (no other partner holds it, a region above or a
-- region below exclusively; none holds any of it when it is asked for
-- exclusively).  Other partners are never named.  Internal: callers judge
-- who may see the partner.
CREATE FUNCTION @extschema@.admission_checks(partner @extschema@.partner, region_ids bigint[], exclusive boolean,
                                             on_date date)
    RETURNS TABLE (item text, passed boolean, detail text)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'qualification ' || q.code, coalesce(best.valid, false),
           CASE WHEN best.valid THEN coalesce('valid until ' || best.valid_until, 'valid, without expiry')
                WHEN best.valid_from IS NULL THEN 'missing'
                WHEN best.valid_from > on_date THEN 'valid only from ' || best.valid_from
                ELSE 'expired on ' || best.valid_until END
      FROM @extschema@.qualification_type q
      LEFT JOIN LATERAL (
          SELECT pq.valid_from, pq.valid_until,
                 pq.valid_from <= on_date AND (pq.valid_until IS NULL OR pq.valid_until >= on_date) AS valid
            FROM @extschema@.partner_qualification pq
           WHERE pq.tenant_id = partner.tenant_id AND pq.partner_id = partner.id AND pq.type_id = q.id
           ORDER BY 3 DESC, pq.valid_until DESC NULLS FIRST
           LIMIT 1) best ON true
     WHERE q.tenant_id = partner.tenant_id AND partner.kind = ANY (q.required_for)
    UNION ALL
    SELECT 'unique name and tax id', NOT EXISTS (
               SELECT 1 FROM @extschema@.partner o
                WHERE o.tenant_id = partner.tenant_id AND o.id <> partner.id
                  AND (o.name_key = partner.name_key OR o.tax_id = partner.tax_id)),
           CASE WHEN EXISTS (SELECT 1 FROM @extschema@.partner o
                              WHERE o.tenant_id = partner.tenant_id AND o.id <> partner.id
                                AND (o.name_key = partner.name_key OR o.tax_id = partner.tax_id))
                THEN 'another partner of the brand has the same normalized name or tax id'
                ELSE 'no other partner has its name or tax id' END
    UNION ALL
    SELECT 'territory ' || coalesce(r.code, a.region_id::text), r.id IS NOT NULL AND taken.n = 0,
           CASE WHEN r.id IS NULL THEN 'no such region'
                WHEN taken.n > 0 AND admission_checks.exclusive THEN 'another partner holds territory there'
                WHEN taken.n > 0 THEN 'another partner holds it exclusively'
                ELSE 'free' END
      FROM unnest(admission_checks.region_ids) WITH ORDINALITY AS a (region_id, n)
      LEFT JOIN @extschema@.region r ON r.tenant_id = partner.tenant_id AND r.id = a.region_id
      CROSS JOIN LATERAL (
          SELECT count(*) AS n
            FROM @extschema@.partner_territory t
            JOIN @extschema@.region held ON held.tenant_id = t.tenant_id AND held.id = t.region_id
           WHERE t.tenant_id = partner.tenant_id AND t.partner_id <> partner.id AND t.valid @> on_date
             AND (t.exclusive OR admission_checks.exclusive)
             AND (held.id = ANY (r.path) OR r.id = ANY (held.path))) taken
$$;
REVOKE ALL ON FUNCTION @extschema@.admission_checks(@extschema@.partner, bigint[], boolean, date) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.admission_checks(@extschema@.partner, bigint[], boolean, date) IS
    'Internal: the automatic checks of an admission (qualifications, name and tax id, territories) as of a day';

-- The partner a role may act for in its way in or out: a user of the
-- partner itself, or a manager of its tenant (managers_only: a manager).
-- Anything else is reported like a partner that does not exist.
CREATE FUNCTION @extschema@.partner_for(partner_id bigint, managers_only boolean) RETURNS @extschema@.partner
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    bound record := @extschema@.binding_of(actor);
    found @extschema@.partner;
BEGIN
    SELECT p.* INTO found FROM @extschema@.partner p
     WHERE p.id = partner_for.partner_id AND p.tenant_id = bound.tenant_id
       AND (@extschema@.manages_tenant(actor, p.tenant_id)
            OR (NOT managers_only AND p.id = bound.partner_id));
    IF found.id IS NULL THEN
        RAISE EXCEPTION 'partner % does not exist or is not visible to you', partner_for.partner_id
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN found;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.partner_for(bigint, boolean) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.partner_for(bigint, boolean) IS
    'Internal: the partner the acting role may act for (its own, or any of its tenant''s as a manager), else the error of one that does not exist';

-- The checks of a partner's open application (or, without one, of its
-- qualifications and name) as of today, for its users and its managers.
CREATE FUNCTION @extschema@.onboarding_checks(partner_id bigint)
    RETURNS TABLE (item text, passed boolean, detail text)
    LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    partner @extschema@.partner := @extschema@.partner_for(onboarding_checks.partner_id, false);
    application @extschema@.partner_application;
BEGIN
    SELECT a.* INTO application FROM @extschema@.partner_application a
     WHERE a.tenant_id = partner.tenant_id AND a.partner_id = partner.id AND a.status IN ('draft', 'submitted');
    RETURN QUERY SELECT c.item, c.passed, c.detail
                   FROM @extschema@.admission_checks(partner, coalesce(application.region_ids, '{}'),
                                                     coalesce(application.exclusive, false), CURRENT_DATE) c;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.onboarding_checks(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.onboarding_checks(bigint) TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.onboarding_checks(bigint) IS
    'The automatic admission checks of a partner (its open application''s territories): each required qualification, its name and tax id, each territory; for its users and its managers';

-- ---- submitting and deciding ------------------------------------------------------------

-- Submits a draft application of an applicant partner: the checks must all
-- pass (RB002 names those that do not); the application keeps them and
-- goes to the partner_onboarding flow.
CREATE FUNCTION @extschema@.submit_application(application_id bigint) RETURNS @extschema@.partner_application
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    bound record := @extschema@.binding_of(actor);
    application @extschema@.partner_application;
    partner @extschema@.partner;
    check_results jsonb;
    failed text;
    request @extschema@.approval_request;
BEGIN
    SELECT a.* INTO application FROM @extschema@.partner_application a
     WHERE a.id = submit_application.application_id AND a.tenant_id = bound.tenant_id
       AND (a.partner_id = bound.partner_id OR @extschema@.manages_tenant(actor, a.tenant_id))
       FOR UPDATE;
    IF application.id IS NULL THEN
        RAISE EXCEPTION 'application % does not exist or is not visible to you', submit_application.application_id
            USING ERRCODE = 'no_data_found';
    END IF;
    SELECT p.* INTO partner FROM @extschema@.partner p WHERE p.tenant_id = application.tenant_id AND p.id = application.partner_id;
    IF application.status <> 'draft' OR partner.state <> 'applicant' THEN
        RAISE EXCEPTION 'application % cannot be submitted', application.id USING ERRCODE = 'RB002',
              DETAIL = pg_catalog.format('The application is %s and its partner %s; only a draft of an applicant is submitted.',
                                         application.status, partner.state);
    END IF;
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('item', c.item, 'passed', c.passed, 'detail', c.detail)),
           pg_catalog.string_agg(c.item || ': ' || c.detail, '; ') FILTER (WHERE NOT c.passed)
      INTO check_results, failed
      FROM @extschema@.admission_checks(partner, application.region_ids, application.exclusive, CURRENT_DATE) c;
    IF failed IS NOT NULL THEN
        RAISE EXCEPTION 'application % fails its checks', application.id USING ERRCODE = 'RB002',
              DETAIL = failed || '.',
              HINT = 'Record the missing qualifications (rebate.partner_qualification) or ask for other territories; rebate.onboarding_checks shows every check.';
    END IF;
    UPDATE @extschema@.partner_application a
       SET status = 'submitted', checks = check_results, submitted_by = actor,
           submitted_at = pg_catalog.clock_timestamp()
     WHERE a.tenant_id = application.tenant_id AND a.id = application.id;
    -- (a flow no step of which applies decides at once: the application is then settled already)
    request := @extschema@.open_request('partner_onboarding', pg_catalog.format('admission of %s %s', partner.code, partner.name),
                                          partner_id => partner.id,
                                          region_id => application.region_ids[1], subject_id => application.id,
                                          detail => pg_catalog.jsonb_build_object('checks', check_results));
    UPDATE @extschema@.partner_application a SET request_id = request.id
     WHERE a.tenant_id = application.tenant_id AND a.id = application.id
    RETURNING a.* INTO application;
    RETURN application;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.submit_application(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.submit_application(bigint) TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.submit_application(bigint) IS
    'Submits a draft admission application once its automatic checks pass (RB002 otherwise) to the partner_onboarding approval flow; returns it';

-- The decision (request_type.on_decided): approved, the partner becomes
-- active with the grade and territories asked for (from today, those it
-- holds already kept as they are); rejected,
-- the partner is rejected; withdrawn, the application is, and the partner
-- may apply again.
CREATE FUNCTION @extschema@.onboarding_decided(request @extschema@.approval_request) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    application @extschema@.partner_application;
    outcome text := CASE request.status WHEN 'approved' THEN 'approved' WHEN 'rejected' THEN 'rejected'
                                        ELSE 'withdrawn' END;
BEGIN
    UPDATE @extschema@.partner_application a
       SET status = outcome, decided_at = pg_catalog.clock_timestamp(), request_id = request.id
     WHERE a.tenant_id = request.tenant_id AND a.id = request.subject_id AND a.status = 'submitted'
    RETURNING a.* INTO application;
    IF application.id IS NULL OR outcome = 'withdrawn' THEN
        RETURN;
    END IF;
    PERFORM pg_catalog.set_config('rebate.change_reason',
                                  pg_catalog.format('admission %s: request %s %s', application.id, request.id, outcome), true);
    UPDATE @extschema@.partner p
       SET state = CASE outcome WHEN 'approved' THEN 'active' ELSE 'rejected' END,
           grade_id = CASE outcome WHEN 'approved' THEN coalesce(application.requested_grade_id, p.grade_id) ELSE p.grade_id END
     WHERE p.tenant_id = application.tenant_id AND p.id = application.partner_id;
    PERFORM pg_catalog.set_config('rebate.change_reason', '', true);
    IF outcome = 'approved' THEN
        -- (a territory the partner holds already, from today on, stays as it is)
        INSERT INTO @extschema@.partner_territory (tenant_id, partner_id, region_id, valid, exclusive)
        SELECT application.tenant_id, application.partner_id, r, pg_catalog.daterange(CURRENT_DATE, NULL), application.exclusive
          FROM unnest(application.region_ids) AS r
         WHERE NOT EXISTS (SELECT 1 FROM @extschema@.partner_territory t
                            WHERE t.tenant_id = application.tenant_id AND t.partner_id = application.partner_id
                              AND t.region_id = r AND t.valid && pg_catalog.daterange(CURRENT_DATE, NULL));
    END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.onboarding_decided(@extschema@.approval_request) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.onboarding_decided(@extschema@.approval_request) IS
    'Internal (on_decided of partner_onboarding): admits the applicant with its grade and territories, or rejects it';
INSERT INTO @extschema@.request_type (request_type, description, on_decided) VALUES
    ('partner_onboarding', 'An applicant partner''s admission (准入): approved, it becomes active with the grade and territories it asked for',
     '@extschema@.onboarding_decided(@extschema@.approval_request)');

-- ---- the way out ----------------------------------------------------------------------------

-- The exit checklist: one item per module, each a function
-- (tenant_id bigint, partner_id bigint) RETURNS text that returns NULL when
-- the partner may leave as far as it is concerned, else why not.
CREATE TABLE @extschema@.exit_check (
    item         text PRIMARY KEY CHECK (item ~ '^[a-z_]+$'),
    description  text NOT NULL,
    check_function regprocedure NOT NULL
);
COMMENT ON TABLE @extschema@.exit_check IS
    'The items of the exit checklist (退出): each module registers what must be settled before a partner leaves';
COMMENT ON COLUMN @extschema@.exit_check.check_function IS
    '(tenant_id bigint, partner_id bigint) RETURNS text: NULL when the item is settled, else what is left';
GRANT SELECT ON @extschema@.exit_check TO rebate_admin, rebate_manager, rebate_partner;

CREATE FUNCTION @extschema@.exit_check_partners_below(tenant_id bigint, partner_id bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('partners below it not exited: %s', count(*))
      FROM @extschema@.partner p
     WHERE p.tenant_id = exit_check_partners_below.tenant_id AND p.parent_id = exit_check_partners_below.partner_id
       AND p.state IN ('applicant', 'active', 'suspended')
    HAVING count(*) > 0
$$;
CREATE FUNCTION @extschema@.exit_check_open_orders(tenant_id bigint, partner_id bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('open orders: %s (%s)', count(*), pg_catalog.string_agg(DISTINCT o.status, ', '))
      FROM @extschema@.sales_order o
     WHERE o.tenant_id = exit_check_open_orders.tenant_id AND o.partner_id = exit_check_open_orders.partner_id
       AND o.status = ANY (@extschema@.order_statuses('open'))
    HAVING count(*) > 0
$$;
-- what the partner owes, net of the rebates the brand owes it
CREATE FUNCTION @extschema@.exit_check_receivables(tenant_id bigint, partner_id bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('receivable %s exceeds the rebates owed to it (%s) by %s', pg_catalog.trim_scale(e.receivable),
                             pg_catalog.trim_scale(owed.total), pg_catalog.trim_scale(e.receivable - owed.total))
      FROM @extschema@.credit_exposure(exit_check_receivables.partner_id) e
     CROSS JOIN (SELECT coalesce(sum(s.total), 0) AS total FROM @extschema@.statement s
                  WHERE s.tenant_id = exit_check_receivables.tenant_id AND s.partner_id = exit_check_receivables.partner_id
                    AND s.status IN ('issued', 'confirmed', 'resolved')) owed
     WHERE e.receivable > owed.total
$$;
CREATE FUNCTION @extschema@.exit_check_statements(tenant_id bigint, partner_id bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('statements not paid: %s (%s)', count(*), pg_catalog.string_agg(DISTINCT s.status, ', '))
      FROM @extschema@.statement s
     WHERE s.tenant_id = exit_check_statements.tenant_id AND s.partner_id = exit_check_statements.partner_id
       AND s.status <> 'paid' AND s.total <> 0
    HAVING count(*) > 0
$$;
CREATE FUNCTION @extschema@.exit_check_customers(tenant_id bigint, partner_id bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('registered customers not handed over: %s', count(*))
      FROM @extschema@.end_customer c
     WHERE c.tenant_id = exit_check_customers.tenant_id AND c.partner_id = exit_check_customers.partner_id
       AND c.status IN ('protected', 'in_arbitration')
    HAVING count(*) > 0
$$;
CREATE FUNCTION @extschema@.exit_check_leads(tenant_id bigint, partner_id bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('leads offered to it: %s, open opportunities: %s', l.offered, o.open)
      FROM (SELECT count(*) AS offered FROM @extschema@.lead l
             WHERE l.tenant_id = exit_check_leads.tenant_id AND l.partner_id = exit_check_leads.partner_id
               AND l.status = 'offered') l,
           (SELECT count(*) AS open FROM @extschema@.opportunity o
             WHERE o.tenant_id = exit_check_leads.tenant_id AND o.partner_id = exit_check_leads.partner_id
               AND o.stage NOT IN ('won', 'lost')) o
     WHERE l.offered + o.open > 0
$$;
REVOKE ALL ON FUNCTION @extschema@.exit_check_partners_below(bigint, bigint), @extschema@.exit_check_open_orders(bigint, bigint),
    @extschema@.exit_check_receivables(bigint, bigint), @extschema@.exit_check_statements(bigint, bigint),
    @extschema@.exit_check_customers(bigint, bigint), @extschema@.exit_check_leads(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.exit_check_leads(bigint, bigint) IS
    'Exit check: no lead is offered to it and none of its opportunities is open (won or lost, or reassigned by a manager)';
COMMENT ON FUNCTION @extschema@.exit_check_partners_below(bigint, bigint) IS 'Exit check: the partners below it (二代 of a 总代) have exited';
COMMENT ON FUNCTION @extschema@.exit_check_open_orders(bigint, bigint) IS 'Exit check: no order is still open (submitted, approved, on hold)';
COMMENT ON FUNCTION @extschema@.exit_check_receivables(bigint, bigint) IS
    'Exit check: the receivable is settled, or netted by the rebates owed to it on statements issued, confirmed or resolved';
COMMENT ON FUNCTION @extschema@.exit_check_statements(bigint, bigint) IS 'Exit check: every statement with an amount is paid';
COMMENT ON FUNCTION @extschema@.exit_check_customers(bigint, bigint) IS
    'Exit check: no registered customer is still protected for it or in arbitration (rebate.hand_over_registrations)';
INSERT INTO @extschema@.exit_check (item, description, check_function) VALUES
    ('partners_below', 'The partners below it have exited (or moved to another parent)',
     '@extschema@.exit_check_partners_below(bigint, bigint)'),
    ('open_orders', 'No order is still open', '@extschema@.exit_check_open_orders(bigint, bigint)'),
    ('receivables', 'The receivable is paid, or netted by the rebates owed to it',
     '@extschema@.exit_check_receivables(bigint, bigint)'),
    ('statements', 'Every rebate statement is paid', '@extschema@.exit_check_statements(bigint, bigint)'),
    ('customers', 'Its registered customers are handed over', '@extschema@.exit_check_customers(bigint, bigint)'),
    ('leads', 'No lead waits for its answer and its opportunities are closed', '@extschema@.exit_check_leads(bigint, bigint)');

-- Every item of the checklist for a partner, in item order.  Internal.
CREATE FUNCTION @extschema@.exit_items(partner @extschema@.partner)
    RETURNS TABLE (item text, passed boolean, detail text)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.exit_check;
BEGIN
    FOR c IN SELECT * FROM @extschema@.exit_check ORDER BY exit_check.item LOOP
        item := c.item;
        EXECUTE pg_catalog.format('SELECT %s($1, $2)', c.check_function::regproc) INTO detail USING partner.tenant_id, partner.id;
        passed := detail IS NULL;
        detail := coalesce(detail, 'settled');
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.exit_items(@extschema@.partner) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.exit_items(@extschema@.partner) IS 'Internal: runs every exit check for a partner';

CREATE FUNCTION @extschema@.exit_checklist(partner_id bigint)
    RETURNS TABLE (item text, passed boolean, detail text)
    LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.item, x.passed, x.detail FROM @extschema@.exit_items(@extschema@.partner_for(exit_checklist.partner_id, true)) x
$$;
REVOKE ALL ON FUNCTION @extschema@.exit_checklist(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.exit_checklist(bigint) TO rebate_manager;
COMMENT ON FUNCTION @extschema@.exit_checklist(bigint) IS
    'The exit checklist (退出) of a partner as it stands: every item, whether it is settled and what is left; for its tenant''s managers (it counts what its users may not read, draft statements among them)';

-- Hands a leaving partner's protected registrations over to another
-- partner of the tenant (a manager): each is released and registered anew
-- for the receiver from today; both partners are told.  Returns how many.
CREATE FUNCTION @extschema@.hand_over_registrations(from_partner_id bigint, to_partner_id bigint) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    giver @extschema@.partner := @extschema@.partner_for(from_partner_id, true);
    receiver @extschema@.partner := @extschema@.partner_for(to_partner_id, true);
    moved integer := 0;
    registration @extschema@.end_customer;
BEGIN
    IF receiver.tenant_id <> giver.tenant_id OR receiver.id = giver.id OR receiver.state <> 'active' THEN
        RAISE EXCEPTION 'partner % cannot take over registrations', receiver.id USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Hand them to another active partner of the tenant.';
    END IF;
    FOR registration IN
        UPDATE @extschema@.end_customer c SET status = 'released'
         WHERE c.tenant_id = giver.tenant_id AND c.partner_id = giver.id AND c.status = 'protected'
        RETURNING c.*
    LOOP
        INSERT INTO @extschema@.end_customer (tenant_id, partner_id, name, region_id, tax_id, product_id, expected_amount,
                                              expected_close_on, note)
        VALUES (registration.tenant_id, receiver.id, registration.name, registration.region_id, registration.tax_id,
                registration.product_id, registration.expected_amount, registration.expected_close_on,
                pg_catalog.format('handed over from %s (registration %s)', giver.code, registration.id));
        PERFORM @extschema@.notify(registration.tenant_id, giver.id, NULL, 'registration_released', 'end_customer',
                                   registration.id,
                                   pg_catalog.format('registration %s of %s was handed over', registration.id, registration.name),
                                   pg_catalog.jsonb_build_object('reason', 'handed_over'));
        moved := moved + 1;
    END LOOP;
    RETURN moved;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.hand_over_registrations(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.hand_over_registrations(bigint, bigint) TO rebate_manager;
COMMENT ON FUNCTION @extschema@.hand_over_registrations(bigint, bigint) IS
    'Hands a partner''s protected customer registrations over to another active partner of the tenant (manager); returns how many';

-- Asks for a partner's exit (a manager): every checklist item must be
-- settled (RB003 names those that are not); the partner_exit flow decides.
CREATE FUNCTION @extschema@.request_exit(partner_id bigint, reason text) RETURNS @extschema@.approval_request
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    partner @extschema@.partner := @extschema@.partner_for(request_exit.partner_id, true);
    open_items text;
BEGIN
    IF partner.state NOT IN ('active', 'suspended') THEN
        RAISE EXCEPTION 'partner % cannot exit: it is %', partner.id, partner.state USING ERRCODE = 'RB001';
    END IF;
    IF reason IS NULL OR pg_catalog.btrim(reason) = '' THEN
        RAISE EXCEPTION 'an exit needs a reason' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT pg_catalog.string_agg(x.item || ': ' || x.detail, '; ') INTO open_items
      FROM @extschema@.exit_items(partner) x WHERE NOT x.passed;
    IF open_items IS NOT NULL THEN
        RAISE EXCEPTION 'partner % cannot exit yet', partner.id USING ERRCODE = 'RB003', DETAIL = open_items || '.',
              HINT = 'Settle each item (rebate.exit_checklist shows them all), then ask again.';
    END IF;
    RETURN @extschema@.open_request('partner_exit', pg_catalog.format('exit of %s %s: %s', partner.code, partner.name, reason),
                                      partner_id => partner.id, subject_id => partner.id,
                                      detail => pg_catalog.jsonb_build_object('reason', reason));
END
$$;
REVOKE ALL ON FUNCTION @extschema@.request_exit(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.request_exit(bigint, text) TO rebate_manager;
COMMENT ON FUNCTION @extschema@.request_exit(bigint, text) IS
    'Asks for a partner''s exit (退出) once its checklist is settled (RB003 otherwise), through the partner_exit approval flow';

-- The exit's decision (on_decided): approved, the checklist is judged again
-- (RB003 refuses the approval if something reopened meanwhile), then the
-- partner is suspended and exited, its territories end today and its
-- credit limit goes to 0.
CREATE FUNCTION @extschema@.exit_decided(request @extschema@.approval_request) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    partner @extschema@.partner;
    open_items text;
BEGIN
    IF request.status <> 'approved' THEN
        RETURN;
    END IF;
    SELECT p.* INTO partner FROM @extschema@.partner p
     WHERE p.tenant_id = request.tenant_id AND p.id = request.subject_id FOR UPDATE;
    SELECT pg_catalog.string_agg(x.item || ': ' || x.detail, '; ') INTO open_items
      FROM @extschema@.exit_items(partner) x WHERE NOT x.passed;
    IF open_items IS NOT NULL THEN
        RAISE EXCEPTION 'partner % cannot exit yet', partner.id USING ERRCODE = 'RB003', DETAIL = open_items || '.',
              HINT = 'Settle each item again before approving the exit.';
    END IF;
    PERFORM pg_catalog.set_config('rebate.change_reason',
                                  pg_catalog.format('exit: request %s, %s', request.id, request.detail ->> 'reason'), true);
    UPDATE @extschema@.partner p SET state = 'suspended'
     WHERE p.tenant_id = partner.tenant_id AND p.id = partner.id AND p.state = 'active';
    UPDATE @extschema@.partner p SET state = 'exited', credit_limit = 0
     WHERE p.tenant_id = partner.tenant_id AND p.id = partner.id;
    PERFORM pg_catalog.set_config('rebate.change_reason', '', true);
    DELETE FROM @extschema@.partner_territory t
     WHERE t.tenant_id = partner.tenant_id AND t.partner_id = partner.id AND pg_catalog.lower(t.valid) >= CURRENT_DATE;
    UPDATE @extschema@.partner_territory t SET valid = pg_catalog.daterange(pg_catalog.lower(t.valid), CURRENT_DATE)
     WHERE t.tenant_id = partner.tenant_id AND t.partner_id = partner.id
       AND (pg_catalog.upper(t.valid) IS NULL OR pg_catalog.upper(t.valid) > CURRENT_DATE);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.exit_decided(@extschema@.approval_request) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.exit_decided(@extschema@.approval_request) IS
    'Internal (on_decided of partner_exit): judges the checklist again, then exits the partner and ends its territories and credit';
INSERT INTO @extschema@.request_type (request_type, description, on_decided) VALUES
    ('partner_exit', 'A partner''s exit (退出), asked for once its checklist is settled: approved, it is exited and its territories end',
     '@extschema@.exit_decided(@extschema@.approval_request)');
-- ---------------------------------------------------------------------------
-- Partner contracts (经销协议): a partner's agreement with the brand, for a
-- term, granting a grade, a credit limit, territories and rebate programs.
-- A contract is drafted by the tenant's managers, decided through the
-- approval engine (request type partner_contract), takes effect when its
-- term starts and lapses when it ends or is terminated: what it grants is
-- written into the partner (grade, credit_limit) and its territories
-- (partner_territory) when it takes effect, and taken back when it lapses
-- unless the contract that follows grants it again.  Contracts of one
-- partner never overlap while approved or active.  rebate.apply_contracts
-- (cron, daily) does the taking effect and lapsing, rebate.contract_alerts
-- (cron) tells the managers of contracts ending without a successor.  The
-- partner's users read their contracts (a distributor also its dealers').
-- docs/contracts.md describes it with examples.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.partner_contract (
    id                  bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id           bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id          bigint NOT NULL,
    code                text NOT NULL CHECK (btrim(code) <> ''),
    term                daterange NOT NULL CHECK (NOT isempty(term) AND NOT lower_inf(term) AND NOT upper_inf(term)),
    grade_id            bigint,
    credit_limit        numeric(18,2) CHECK (credit_limit >= 0),
    renewal_of          bigint,
    signed_on           date,
    signed_by           name,
    note                text,
    status              text NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'pending_approval', 'approved', 'active', 'expired', 'terminated')),
    request_id          bigint,
    terminated_on       date,
    termination_reason  text,
    terminated_by       name,
    activated_at        timestamptz,
    ended_at            timestamptz,
    expiry_notified_at  timestamptz,
    -- the days the contract holds: its term, cut short by a termination
    effective           daterange NOT NULL GENERATED ALWAYS AS (
                            CASE WHEN terminated_on IS NULL THEN term
                                 ELSE pg_catalog.daterange(pg_catalog.lower(term),
                                                           GREATEST(pg_catalog.lower(term),
                                                                    LEAST(pg_catalog.upper(term), terminated_on))) END) STORED,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- (last: added in 0.8.0 by the inventory module, where an upgrade appends it)
    shares_stock        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    -- (the key the parts and renewals refer to: they name the contract's partner too)
    CONSTRAINT partner_contract_partner_key UNIQUE (tenant_id, id, partner_id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, grade_id) REFERENCES @extschema@.partner_grade (tenant_id, id),
    -- a renewal is of a contract of the same partner
    CONSTRAINT partner_contract_renewal_of_fkey FOREIGN KEY (tenant_id, renewal_of, partner_id)
        REFERENCES @extschema@.partner_contract (tenant_id, id, partner_id),
    FOREIGN KEY (tenant_id, request_id) REFERENCES @extschema@.approval_request (tenant_id, id),
    CHECK (renewal_of <> id),
    CHECK ((terminated_on IS NULL) = (termination_reason IS NULL) AND (terminated_on IS NULL) = (terminated_by IS NULL)),
    CHECK ((signed_by IS NULL) OR (signed_on IS NOT NULL)),
    -- one contract of a partner holds at a time
    CONSTRAINT partner_contract_no_overlap EXCLUDE USING gist (
        tenant_id WITH =, partner_id WITH =, effective WITH &&) WHERE (status IN ('approved', 'active'))
);
CREATE UNIQUE INDEX partner_contract_by_id ON @extschema@.partner_contract (id);
CREATE INDEX partner_contract_partner ON @extschema@.partner_contract (tenant_id, partner_id, term);
CREATE INDEX partner_contract_due ON @extschema@.partner_contract (tenant_id, status)
    WHERE status IN ('approved', 'active');
COMMENT ON TABLE @extschema@.partner_contract IS
    'Partner contracts (经销协议): term, grade, credit limit, territories and programs granted; draft -> pending_approval -> approved -> active -> expired | terminated';
COMMENT ON COLUMN @extschema@.partner_contract.code IS 'The contract number, unique in the tenant';
COMMENT ON COLUMN @extschema@.partner_contract.term IS 'The agreed term [start, end): bounded, never empty';
COMMENT ON COLUMN @extschema@.partner_contract.grade_id IS 'The grade the contract grants while it holds (NULL: it grants none)';
COMMENT ON COLUMN @extschema@.partner_contract.credit_limit IS 'The credit limit the contract grants while it holds (NULL: it grants none)';
COMMENT ON COLUMN @extschema@.partner_contract.renewal_of IS 'The contract of the same partner it renews (rebate.renew_contract)';
COMMENT ON COLUMN @extschema@.partner_contract.signed_on IS 'When it was signed (a manager records a paper signature; rebate.sign_contract the partner''s)';
COMMENT ON COLUMN @extschema@.partner_contract.signed_by IS 'The partner user who signed it in the portal (rebate.sign_contract); NULL for a signature recorded by a manager';
COMMENT ON COLUMN @extschema@.partner_contract.status IS
    'draft (editable) -> pending_approval (rebate.submit_contract) -> approved (the partner_contract request approved; back to draft when rejected or withdrawn) -> active (its term started: rebate.apply_contracts) -> expired (its term ended) | terminated (rebate.terminate_contract)';
COMMENT ON COLUMN @extschema@.partner_contract.request_id IS 'The partner_contract approval request of its last submission';
COMMENT ON COLUMN @extschema@.partner_contract.terminated_on IS 'The first day it no longer holds, when terminated before its end (rebate.terminate_contract)';
COMMENT ON COLUMN @extschema@.partner_contract.termination_reason IS 'Why it was terminated, in the terminating role''s words';
COMMENT ON COLUMN @extschema@.partner_contract.terminated_by IS 'The role that terminated it';
COMMENT ON COLUMN @extschema@.partner_contract.activated_at IS 'When it took effect (rebate.apply_contracts)';
COMMENT ON COLUMN @extschema@.partner_contract.ended_at IS 'When it expired or its termination took effect';
COMMENT ON COLUMN @extschema@.partner_contract.expiry_notified_at IS
    'When the managers were told that it ends without a successor (rebate.contract_alerts: once per contract)';
COMMENT ON COLUMN @extschema@.partner_contract.shares_stock IS
    'Whether the partner shares its stock with the brand while the contract is active (库存共享: rebate.stock_shared_partners)';
COMMENT ON COLUMN @extschema@.partner_contract.effective IS
    'The days it holds: its term, cut short at terminated_on (maintained); no two approved or active contracts of a partner overlap in it';

-- Territories a contract grants: partner_territory rows valid for the days
-- it holds, made when it takes effect.
CREATE TABLE @extschema@.partner_contract_territory (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    contract_id   bigint NOT NULL,
    partner_id    bigint NOT NULL,
    region_id     bigint NOT NULL,
    exclusive     boolean NOT NULL DEFAULT false,
    territory_id  bigint,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, contract_id, region_id),
    FOREIGN KEY (tenant_id, contract_id, partner_id) REFERENCES @extschema@.partner_contract (tenant_id, id, partner_id)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id)
);
CREATE UNIQUE INDEX partner_contract_territory_by_id ON @extschema@.partner_contract_territory (id);
CREATE INDEX partner_contract_territory_granted ON @extschema@.partner_contract_territory (tenant_id, territory_id);
COMMENT ON TABLE @extschema@.partner_contract_territory IS
    'The territories (regions with their subtrees) a contract grants; written while the contract is a draft';
COMMENT ON COLUMN @extschema@.partner_contract_territory.partner_id IS 'The contract''s partner (maintained; row-level security)';
COMMENT ON COLUMN @extschema@.partner_contract_territory.exclusive IS 'Whether the territory is granted exclusively (独家)';
COMMENT ON COLUMN @extschema@.partner_contract_territory.territory_id IS
    'The rebate.partner_territory row the contract made when it took effect (maintained; no foreign key: a territory row ended and deleted later leaves the id behind)';

-- Programs a contract grants.
CREATE TABLE @extschema@.partner_contract_program (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    contract_id   bigint NOT NULL,
    partner_id    bigint NOT NULL,
    program_id    bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, contract_id, program_id),
    FOREIGN KEY (tenant_id, contract_id, partner_id) REFERENCES @extschema@.partner_contract (tenant_id, id, partner_id)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, program_id) REFERENCES @extschema@.program (tenant_id, id)
);
CREATE UNIQUE INDEX partner_contract_program_by_id ON @extschema@.partner_contract_program (id);
COMMENT ON TABLE @extschema@.partner_contract_program IS
    'The rebate programs a contract grants (the partner counts as granted them while the contract holds: rebate.v_contract_grants); written while the contract is a draft';
COMMENT ON COLUMN @extschema@.partner_contract_program.partner_id IS 'The contract''s partner (maintained; row-level security)';

SELECT @extschema@.apply_standard_triggers(t)
  FROM unnest(ARRAY['@extschema@.partner_contract', '@extschema@.partner_contract_territory',
                    '@extschema@.partner_contract_program']::regclass[]) AS t;
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_contract', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_contract_territory', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_contract_program', 'tenant_id', 'partner_id');
-- managers write the terms of their drafts; the status, the request, the
-- termination, the signature in the portal and the maintained columns are
-- written by the functions below only
GRANT SELECT, DELETE ON @extschema@.partner_contract, @extschema@.partner_contract_territory,
    @extschema@.partner_contract_program TO rebate_admin, rebate_manager;
GRANT INSERT (tenant_id, partner_id, code, term, grade_id, credit_limit, renewal_of, signed_on, note, shares_stock),
      UPDATE (partner_id, code, term, grade_id, credit_limit, renewal_of, signed_on, note, shares_stock)
    ON @extschema@.partner_contract TO rebate_admin, rebate_manager;
GRANT INSERT (tenant_id, contract_id, region_id, exclusive), UPDATE (contract_id, region_id, exclusive)
    ON @extschema@.partner_contract_territory TO rebate_admin, rebate_manager;
GRANT INSERT (tenant_id, contract_id, program_id), UPDATE (contract_id, program_id)
    ON @extschema@.partner_contract_program TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.partner_contract, @extschema@.partner_contract_territory,
    @extschema@.partner_contract_program TO rebate_partner;

-- ---- what a contract's lifecycle allows ------------------------------------------

CREATE TRIGGER lifecycle BEFORE INSERT OR UPDATE OF status ON @extschema@.partner_contract
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition(
        'status', '>draft', 'draft>pending_approval', 'pending_approval>draft', 'pending_approval>approved',
        'approved>active', 'approved>terminated', 'active>expired', 'active>terminated');

-- The terms of a contract are fixed once it is submitted: its partner,
-- code, term, grade, credit limit and renewal (a signature and the note may
-- still be recorded); only a draft is deleted.  Not SECURITY DEFINER: the
-- rows it judges are the writer's own (an update or delete reaches only rows
-- row-level security lets it write).
CREATE FUNCTION @extschema@.guard_contract() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.status = 'draft' THEN
        -- (its territories and programs carry its partner: keys that include the
        -- distribution column are not updated through a foreign key under Citus)
        IF TG_OP = 'UPDATE' AND NEW.partner_id IS DISTINCT FROM OLD.partner_id
           AND (EXISTS (SELECT 1 FROM @extschema@.partner_contract_territory t
                         WHERE t.tenant_id = OLD.tenant_id AND t.contract_id = OLD.id)
                OR EXISTS (SELECT 1 FROM @extschema@.partner_contract_program g
                            WHERE g.tenant_id = OLD.tenant_id AND g.contract_id = OLD.id)) THEN
            RAISE EXCEPTION 'contract % grants territories or programs: its partner changes only without them', OLD.code
                USING ERRCODE = 'RB005',
                      HINT = 'Delete its territories and programs, change its partner, then grant them again.';
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'contract % is %: only a draft is deleted', OLD.code, pg_catalog.replace(OLD.status, '_', ' ')
            USING ERRCODE = 'RB005', HINT = 'Terminate it (rebate.terminate_contract), or withdraw its approval request.';
    END IF;
    IF (NEW.tenant_id, NEW.partner_id, NEW.code, NEW.term, NEW.grade_id, NEW.credit_limit, NEW.renewal_of, NEW.shares_stock)
       IS DISTINCT FROM (OLD.tenant_id, OLD.partner_id, OLD.code, OLD.term, OLD.grade_id, OLD.credit_limit, OLD.renewal_of,
                         OLD.shares_stock) THEN
        RAISE EXCEPTION 'contract % is %: its terms are fixed', OLD.code, pg_catalog.replace(OLD.status, '_', ' ')
            USING ERRCODE = 'RB005',
                  DETAIL = 'Partner, code, term, grade, credit limit, stock sharing and renewal change only while the contract is a draft.',
                  HINT = 'Renew it (rebate.renew_contract) or terminate it and draft a new one.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.guard_contract() IS
    'BEFORE UPDATE OR DELETE trigger on partner_contract: a submitted contract''s terms are fixed and it is kept (RB005)';
CREATE TRIGGER guard BEFORE UPDATE OR DELETE ON @extschema@.partner_contract
    FOR EACH ROW EXECUTE FUNCTION @extschema@.guard_contract();

-- A contract's territories and programs: the contract's partner copied in,
-- and written only while the contract is a draft.  It reads the contract
-- under the writer's own row-level security: a contract the writer may not
-- see is left to row-level security and the foreign key to refuse, like one
-- that does not exist.  (The extension's functions record the territory
-- they made, territory_id, which no user role may write.)
CREATE FUNCTION @extschema@.guard_contract_part() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    contract record;
BEGIN
    IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'territory_id' - 'updated_at') = (to_jsonb(OLD) - 'territory_id' - 'updated_at') THEN
        RETURN NEW;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT c.code, c.status INTO contract FROM @extschema@.partner_contract c
         WHERE c.tenant_id = OLD.tenant_id AND c.id = OLD.contract_id;
        IF contract.status <> 'draft' THEN
            RAISE EXCEPTION 'contract % is %: what it grants is fixed', contract.code,
                            pg_catalog.replace(contract.status, '_', ' ')
                USING ERRCODE = 'RB005', HINT = 'Renew it (rebate.renew_contract) or terminate it and draft a new one.';
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
    END IF;
    contract := NULL;
    SELECT c.code, c.status, c.partner_id INTO contract FROM @extschema@.partner_contract c
     WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.contract_id;
    IF contract.partner_id IS NOT NULL THEN
        NEW.partner_id := contract.partner_id;
        IF contract.status <> 'draft' THEN
            RAISE EXCEPTION 'contract % is %: what it grants is fixed', contract.code,
                            pg_catalog.replace(contract.status, '_', ' ')
                USING ERRCODE = 'RB005', HINT = 'Renew it (rebate.renew_contract) or terminate it and draft a new one.';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.guard_contract_part() IS
    'BEFORE trigger on partner_contract_territory and partner_contract_program: copies the contract''s partner, and refuses changes once the contract is submitted (RB005)';
CREATE TRIGGER guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.partner_contract_territory
    FOR EACH ROW EXECUTE FUNCTION @extschema@.guard_contract_part();
CREATE TRIGGER guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.partner_contract_program
    FOR EACH ROW EXECUTE FUNCTION @extschema@.guard_contract_part();

-- ---- taking effect and lapsing (internal) -------------------------------------------

-- Gives a contract that takes effect its territories: a partner_territory
-- row per territory, valid for the days the contract holds.  A row of the
-- same partner and region that overlaps them gives way (the exclusion
-- constraint allows one at a time): one starting earlier ends where the
-- contract starts, one starting inside the contract keeps only what lies
-- after it (or goes).
CREATE FUNCTION @extschema@.grant_contract_territories(contract @extschema@.partner_contract) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part @extschema@.partner_contract_territory;
    made bigint;
BEGIN
    FOR part IN SELECT t.* FROM @extschema@.partner_contract_territory t
                 WHERE t.tenant_id = contract.tenant_id AND t.contract_id = contract.id ORDER BY t.id LOOP
        UPDATE @extschema@.partner_territory e
           SET valid = pg_catalog.daterange(pg_catalog.lower(e.valid), pg_catalog.lower(contract.effective))
         WHERE e.tenant_id = contract.tenant_id AND e.partner_id = contract.partner_id AND e.region_id = part.region_id
           AND e.valid && contract.effective AND pg_catalog.lower(e.valid) < pg_catalog.lower(contract.effective);
        DELETE FROM @extschema@.partner_territory e
         WHERE e.tenant_id = contract.tenant_id AND e.partner_id = contract.partner_id AND e.region_id = part.region_id
           AND e.valid <@ contract.effective;
        UPDATE @extschema@.partner_territory e
           SET valid = pg_catalog.daterange(pg_catalog.upper(contract.effective), pg_catalog.upper(e.valid))
         WHERE e.tenant_id = contract.tenant_id AND e.partner_id = contract.partner_id AND e.region_id = part.region_id
           AND e.valid && contract.effective;
        INSERT INTO @extschema@.partner_territory (tenant_id, partner_id, region_id, valid, exclusive)
        VALUES (contract.tenant_id, contract.partner_id, part.region_id, contract.effective, part.exclusive)
        RETURNING id INTO made;
        UPDATE @extschema@.partner_contract_territory t SET territory_id = made
         WHERE t.tenant_id = part.tenant_id AND t.id = part.id;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.grant_contract_territories(@extschema@.partner_contract) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.grant_contract_territories(@extschema@.partner_contract) IS
    'Internal: makes the partner_territory rows of a contract taking effect (overlapping rows of the same partner and region give way)';

-- Ends the territories a contract made at a day (a termination): rows from
-- that day on go, rows running past it end there.
CREATE FUNCTION @extschema@.end_contract_territories(contract @extschema@.partner_contract, ends_on date) RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH gone AS (
        DELETE FROM @extschema@.partner_territory e
         USING @extschema@.partner_contract_territory t
         WHERE t.tenant_id = contract.tenant_id AND t.contract_id = contract.id
           AND e.tenant_id = t.tenant_id AND e.id = t.territory_id AND pg_catalog.lower(e.valid) >= ends_on
        RETURNING e.tenant_id, e.id
    )
    UPDATE @extschema@.partner_contract_territory t SET territory_id = NULL
      FROM gone g WHERE t.tenant_id = g.tenant_id AND t.territory_id = g.id;
    UPDATE @extschema@.partner_territory e SET valid = pg_catalog.daterange(pg_catalog.lower(e.valid), ends_on)
      FROM @extschema@.partner_contract_territory t
     WHERE t.tenant_id = contract.tenant_id AND t.contract_id = contract.id
       AND e.tenant_id = t.tenant_id AND e.id = t.territory_id AND e.valid @> ends_on;
$$;
REVOKE ALL ON FUNCTION @extschema@.end_contract_territories(@extschema@.partner_contract, date) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.end_contract_territories(@extschema@.partner_contract, date) IS
    'Internal: ends the partner_territory rows a contract made at a day (rows starting then or later go, and the contract forgets them)';

-- Brings a partner's grade and credit limit in line with its contracts
-- after some of them took effect or ended: the contract holding today
-- gives what it grants; what an ended contract granted that none holding
-- today grants again lapses (the grade to none, the credit limit to 0).
-- Nothing else (a manager's own change of the grade meanwhile) is touched.
CREATE FUNCTION @extschema@.settle_contract_grants(tenant_id bigint, partner_id bigint, ended bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    holding @extschema@.partner_contract;
    lapsing record;
    partner @extschema@.partner;
    new_grade bigint;
    new_credit numeric;
    why text;
BEGIN
    SELECT c.* INTO holding FROM @extschema@.partner_contract c
     WHERE c.tenant_id = settle_contract_grants.tenant_id AND c.partner_id = settle_contract_grants.partner_id
       AND c.status = 'active' AND c.effective @> CURRENT_DATE;
    SELECT bool_or(c.grade_id IS NOT NULL) AS grade, bool_or(c.credit_limit IS NOT NULL) AS credit,
           string_agg(c.code, ', ' ORDER BY c.code) AS codes
      INTO lapsing
      FROM @extschema@.partner_contract c
     WHERE c.tenant_id = settle_contract_grants.tenant_id AND c.partner_id = settle_contract_grants.partner_id
       AND c.id = ANY (ended);
    SELECT p.* INTO partner FROM @extschema@.partner p
     WHERE p.tenant_id = settle_contract_grants.tenant_id AND p.id = settle_contract_grants.partner_id FOR UPDATE;
    new_grade := CASE WHEN holding.grade_id IS NOT NULL THEN holding.grade_id
                      WHEN coalesce(lapsing.grade, false) THEN NULL ELSE partner.grade_id END;
    new_credit := CASE WHEN holding.credit_limit IS NOT NULL THEN holding.credit_limit
                       WHEN coalesce(lapsing.credit, false) THEN 0 ELSE partner.credit_limit END;
    IF new_grade IS NOT DISTINCT FROM partner.grade_id AND new_credit = partner.credit_limit THEN
        RETURN;
    END IF;
    why := CASE WHEN holding.id IS NOT NULL AND holding.grade_id IS NOT NULL
                THEN pg_catalog.format('contract %s holds from %s', holding.code, pg_catalog.lower(holding.effective))
                ELSE pg_catalog.format('contract %s ended: what it granted lapsed', lapsing.codes) END;
    PERFORM pg_catalog.set_config('rebate.change_reason', why, true);
    UPDATE @extschema@.partner p SET grade_id = new_grade, credit_limit = new_credit
     WHERE p.tenant_id = partner.tenant_id AND p.id = partner.id;
    PERFORM pg_catalog.set_config('rebate.change_reason', '', true);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.settle_contract_grants(bigint, bigint, bigint[]) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.settle_contract_grants(bigint, bigint, bigint[]) IS
    'Internal: sets a partner''s grade and credit limit from the contract holding today, or lapses what the ended contracts granted (grade none, credit 0)';

-- Takes effect and lapses what is due today, for a tenant (or one partner
-- of it): approved contracts whose term started become active (their
-- territories made), active ones whose days ended become expired (or
-- terminated, when cut short); then each partner concerned is settled.
-- Each row changes once (its status is claimed by the update), so running
-- it twice, or twice at once, does the work once.
CREATE FUNCTION @extschema@.apply_due_contracts(tenant_id bigint, partner_id bigint DEFAULT NULL,
                                                OUT activated integer, OUT expired integer, OUT terminated integer)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    contract @extschema@.partner_contract;
    touched bigint[] := '{}';
    ended bigint[] := '{}';
    one bigint;
BEGIN
    activated := 0;
    expired := 0;
    terminated := 0;
    FOR contract IN
        UPDATE @extschema@.partner_contract c SET status = 'active', activated_at = pg_catalog.now()
         WHERE c.tenant_id = apply_due_contracts.tenant_id
           AND (apply_due_contracts.partner_id IS NULL OR c.partner_id = apply_due_contracts.partner_id)
           AND c.status = 'approved' AND NOT pg_catalog.isempty(c.effective)
           AND pg_catalog.lower(c.effective) <= CURRENT_DATE
        RETURNING c.*
    LOOP
        PERFORM @extschema@.grant_contract_territories(contract);
        touched := touched || contract.partner_id;
        activated := activated + 1;
    END LOOP;
    FOR contract IN
        UPDATE @extschema@.partner_contract c
           SET status = CASE WHEN c.terminated_on IS NULL THEN 'expired' ELSE 'terminated' END,
               ended_at = pg_catalog.now()
         WHERE c.tenant_id = apply_due_contracts.tenant_id
           AND (apply_due_contracts.partner_id IS NULL OR c.partner_id = apply_due_contracts.partner_id)
           AND c.status IN ('approved', 'active')
           AND (pg_catalog.isempty(c.effective) OR pg_catalog.upper(c.effective) <= CURRENT_DATE)
        RETURNING c.*
    LOOP
        touched := touched || contract.partner_id;
        ended := ended || contract.id;
        IF contract.status = 'expired' THEN
            expired := expired + 1;
        ELSE
            terminated := terminated + 1;
        END IF;
    END LOOP;
    FOR one IN SELECT DISTINCT x FROM unnest(touched) AS x ORDER BY x LOOP
        PERFORM @extschema@.settle_contract_grants(apply_due_contracts.tenant_id, one, ended);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.apply_due_contracts(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.apply_due_contracts(bigint, bigint) IS
    'Internal: activates the approved contracts whose term started and ends the active ones whose days ended (of a tenant, or one partner), then settles each partner''s grade and credit limit';

-- ---- the approval ------------------------------------------------------------------

-- The decision on a contract (request_type.on_decided, in the deciding
-- transaction): approved, the contract is approved and, when its term has
-- started, takes effect at once; rejected or withdrawn, it is a draft
-- again, to be amended and submitted anew.  A contract settled otherwise
-- meanwhile is left as it is.
CREATE FUNCTION @extschema@.contract_decided(request @extschema@.approval_request) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    contract @extschema@.partner_contract;
    other @extschema@.partner_contract;
BEGIN
    SELECT c.* INTO contract FROM @extschema@.partner_contract c
     WHERE c.tenant_id = request.tenant_id AND c.id = request.subject_id FOR UPDATE;
    IF contract.status IS DISTINCT FROM 'pending_approval' OR contract.request_id <> request.id THEN
        RETURN;
    END IF;
    IF request.status <> 'approved' THEN
        UPDATE @extschema@.partner_contract c SET status = 'draft', request_id = request.id
         WHERE c.tenant_id = contract.tenant_id AND c.id = contract.id;
        RETURN;
    END IF;
    SELECT c.* INTO other FROM @extschema@.partner_contract c
     WHERE c.tenant_id = contract.tenant_id AND c.partner_id = contract.partner_id AND c.id <> contract.id
       AND c.status IN ('approved', 'active') AND c.effective && contract.effective
     ORDER BY c.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'contract % overlaps contract % of the same partner', contract.code, other.code
            USING ERRCODE = 'RB004',
                  DETAIL = pg_catalog.format('%s holds %s, %s holds %s.', contract.code, contract.effective, other.code,
                                             other.effective),
                  HINT = 'Reject the request, or terminate the other contract where this one starts.';
    END IF;
    UPDATE @extschema@.partner_contract c SET status = 'approved', request_id = request.id
     WHERE c.tenant_id = contract.tenant_id AND c.id = contract.id;
    PERFORM @extschema@.apply_due_contracts(contract.tenant_id, contract.partner_id);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.contract_decided(@extschema@.approval_request) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.contract_decided(@extschema@.approval_request) IS
    'Internal (on_decided of partner_contract): approves the contract (taking effect at once when its term started) or returns it to draft';
INSERT INTO @extschema@.request_type (request_type, description, on_decided) VALUES
    ('partner_contract',
     'A partner contract (经销协议): approved, it takes effect for its term with the grade, credit limit, territories and programs it grants; rejected, it returns to draft',
     '@extschema@.contract_decided(@extschema@.approval_request)');

-- ---- what users call ------------------------------------------------------------------

-- A manager submits a draft to the tenant's partner_contract flow.  The
-- request's amount is the credit limit (so that a flow routes large limits
-- to a director: approval_step.min_amount), its region the first territory
-- (else the partner's home region).  A contract the caller does not manage
-- is reported like one that does not exist.
CREATE FUNCTION @extschema@.submit_contract(contract_id bigint) RETURNS @extschema@.partner_contract
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    contract @extschema@.partner_contract;
    other @extschema@.partner_contract;
    request @extschema@.approval_request;
    first_region bigint;
BEGIN
    -- judged before anything is locked
    SELECT c.* INTO contract FROM @extschema@.partner_contract c WHERE c.id = submit_contract.contract_id;
    IF contract.id IS NULL OR NOT @extschema@.manages_tenant(actor, contract.tenant_id) THEN
        RAISE EXCEPTION 'contract % does not exist or is not visible to you', submit_contract.contract_id
            USING ERRCODE = 'no_data_found';
    END IF;
    SELECT c.* INTO contract FROM @extschema@.partner_contract c
     WHERE c.tenant_id = contract.tenant_id AND c.id = contract.id FOR UPDATE;
    IF contract.status <> 'draft' THEN
        RAISE EXCEPTION 'contract % is %, not a draft', contract.code, pg_catalog.replace(contract.status, '_', ' ')
            USING ERRCODE = 'RB006', HINT = 'Only a draft is submitted for approval.';
    END IF;
    IF pg_catalog.upper(contract.term) <= CURRENT_DATE THEN
        RAISE EXCEPTION 'the term of contract % ended on %', contract.code, pg_catalog.upper(contract.term) - 1
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Give the contract a term that has not ended.';
    END IF;
    SELECT c.* INTO other FROM @extschema@.partner_contract c
     WHERE c.tenant_id = contract.tenant_id AND c.partner_id = contract.partner_id AND c.id <> contract.id
       AND c.status IN ('approved', 'active') AND c.effective && contract.term
     ORDER BY c.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'contract % overlaps contract % of the same partner', contract.code, other.code
            USING ERRCODE = 'RB004',
                  DETAIL = pg_catalog.format('%s is for %s, %s holds %s.', contract.code, contract.term, other.code,
                                             other.effective),
                  HINT = 'Start the term where the other contract ends, or terminate the other contract first.';
    END IF;
    UPDATE @extschema@.partner_contract c SET status = 'pending_approval', request_id = NULL
     WHERE c.tenant_id = contract.tenant_id AND c.id = contract.id;
    SELECT t.region_id INTO first_region FROM @extschema@.partner_contract_territory t
     WHERE t.tenant_id = contract.tenant_id AND t.contract_id = contract.id ORDER BY t.id LIMIT 1;
    request := @extschema@.open_request(
        'partner_contract',
        pg_catalog.format('contract %s: %s to %s', contract.code, pg_catalog.lower(contract.term),
                          pg_catalog.upper(contract.term) - 1),
        partner_id => contract.partner_id, amount => contract.credit_limit,
        currency => (SELECT t.currency FROM @extschema@.tenant t WHERE t.id = contract.tenant_id),
        region_id => first_region, subject_id => contract.id,
        detail => pg_catalog.jsonb_build_object(
            'code', contract.code, 'term', contract.term, 'grade_id', contract.grade_id,
            'credit_limit', contract.credit_limit, 'renewal_of', contract.renewal_of,
            'region_ids', (SELECT coalesce(pg_catalog.jsonb_agg(t.region_id ORDER BY t.id), '[]')
                             FROM @extschema@.partner_contract_territory t
                            WHERE t.tenant_id = contract.tenant_id AND t.contract_id = contract.id),
            'program_ids', (SELECT coalesce(pg_catalog.jsonb_agg(g.program_id ORDER BY g.id), '[]')
                              FROM @extschema@.partner_contract_program g
                             WHERE g.tenant_id = contract.tenant_id AND g.contract_id = contract.id)));
    -- (a decision taken at once, by contract_decided, has set it already)
    UPDATE @extschema@.partner_contract c SET request_id = request.id
     WHERE c.tenant_id = contract.tenant_id AND c.id = contract.id AND c.request_id IS NULL;
    RETURN (SELECT c FROM @extschema@.partner_contract c WHERE c.tenant_id = request.tenant_id AND c.id = request.subject_id);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.submit_contract(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.submit_contract(bigint) TO rebate_manager;
COMMENT ON FUNCTION @extschema@.submit_contract(bigint) IS
    'Submits a draft contract to the tenant''s partner_contract approval flow (amount: its credit limit; region: its first territory); returns it, pending or (no step applying) approved';

-- A manager (or a group administrator) terminates an approved or active
-- contract: from terminate_on it no longer holds.  Its territories end
-- that day; once the day has come its status is terminated and what it
-- granted lapses (at once for a day not after today, else by
-- rebate.apply_contracts on the day).
CREATE FUNCTION @extschema@.terminate_contract(contract_id bigint, terminate_on date, reason text)
    RETURNS @extschema@.partner_contract
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    contract @extschema@.partner_contract;
BEGIN
    SELECT c.* INTO contract FROM @extschema@.partner_contract c WHERE c.id = terminate_contract.contract_id;
    IF contract.id IS NULL OR NOT @extschema@.may_manage(actor, contract.tenant_id) THEN
        RAISE EXCEPTION 'contract % does not exist or is not visible to you', terminate_contract.contract_id
            USING ERRCODE = 'no_data_found';
    END IF;
    SELECT c.* INTO contract FROM @extschema@.partner_contract c
     WHERE c.tenant_id = contract.tenant_id AND c.id = contract.id FOR UPDATE;
    IF contract.status NOT IN ('approved', 'active') OR contract.terminated_on IS NOT NULL THEN
        RAISE EXCEPTION 'contract % is %', contract.code,
                        CASE WHEN contract.terminated_on IS NOT NULL
                             THEN pg_catalog.format('terminated already, from %s', contract.terminated_on)
                             ELSE pg_catalog.replace(contract.status, '_', ' ') END
            USING ERRCODE = 'RB006',
                  HINT = 'An approved or active contract is terminated; a draft is deleted, a pending one''s request withdrawn.';
    END IF;
    IF terminate_on IS NULL OR terminate_on >= pg_catalog.upper(contract.term) THEN
        RAISE EXCEPTION 'contract % cannot be terminated from %', contract.code, coalesce(terminate_on::text, 'no day')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Its term is %s; it ends on its own after %s.', contract.term,
                                             pg_catalog.upper(contract.term) - 1),
                  HINT = 'Name the first day the contract no longer holds, before the end of its term.';
    END IF;
    IF reason IS NULL OR pg_catalog.btrim(reason) = '' THEN
        RAISE EXCEPTION 'a termination needs a reason' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE @extschema@.partner_contract c
       SET terminated_on = terminate_contract.terminate_on, termination_reason = reason, terminated_by = actor
     WHERE c.tenant_id = contract.tenant_id AND c.id = contract.id
    RETURNING c.* INTO contract;
    PERFORM @extschema@.end_contract_territories(contract, terminate_contract.terminate_on);
    IF terminate_contract.terminate_on <= CURRENT_DATE THEN
        PERFORM @extschema@.apply_due_contracts(contract.tenant_id, contract.partner_id);
    END IF;
    RETURN (SELECT c FROM @extschema@.partner_contract c WHERE c.tenant_id = contract.tenant_id AND c.id = contract.id);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.terminate_contract(bigint, date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.terminate_contract(bigint, date, text) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.terminate_contract(bigint, date, text) IS
    'Terminates an approved or active contract from a day (the first it no longer holds), with a reason: its territories end that day, its grade and credit limit lapse when the day comes';

-- A user of the contract's own partner signs an approved or active
-- contract in the portal (a manager records a paper signature in signed_on).
CREATE FUNCTION @extschema@.sign_contract(contract_id bigint) RETURNS @extschema@.partner_contract
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    bound record := @extschema@.binding_of(actor);
    contract @extschema@.partner_contract;
BEGIN
    SELECT c.* INTO contract FROM @extschema@.partner_contract c
     WHERE c.id = sign_contract.contract_id AND c.tenant_id = bound.tenant_id AND c.partner_id = bound.partner_id
       FOR UPDATE;
    IF contract.id IS NULL THEN
        RAISE EXCEPTION 'contract % does not exist or is not visible to you', sign_contract.contract_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF contract.status NOT IN ('approved', 'active') OR contract.signed_on IS NOT NULL THEN
        RAISE EXCEPTION 'contract % is %', contract.code,
                        CASE WHEN contract.signed_on IS NOT NULL THEN pg_catalog.format('signed already, on %s', contract.signed_on)
                             ELSE pg_catalog.replace(contract.status, '_', ' ') END
            USING ERRCODE = 'RB006', HINT = 'An approved or active contract not yet signed is signed.';
    END IF;
    UPDATE @extschema@.partner_contract c SET signed_on = CURRENT_DATE, signed_by = actor
     WHERE c.tenant_id = contract.tenant_id AND c.id = contract.id
    RETURNING c.* INTO contract;
    RETURN contract;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.sign_contract(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sign_contract(bigint) TO rebate_partner;
COMMENT ON FUNCTION @extschema@.sign_contract(bigint) IS
    'A user of the contract''s partner signs its approved or active contract (signed today, by the caller); returns it';

-- A manager drafts the successor of an approved, active or expired contract:
-- the same partner, grade, credit limit, territories and programs, for a
-- term starting where the old one ends (an expired one's successor: today
-- at the earliest) of the same length (in months when the term is whole
-- months, else in days), or new_term; code: the old code with the start
-- date, or code.  Not SECURITY DEFINER: the caller writes the draft under
-- its own rights.
CREATE FUNCTION @extschema@.renew_contract(contract_id bigint, new_term daterange DEFAULT NULL, code text DEFAULT NULL)
    RETURNS @extschema@.partner_contract
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old @extschema@.partner_contract;
    made @extschema@.partner_contract;
    start date;
    months integer;
BEGIN
    SELECT c.* INTO old FROM @extschema@.partner_contract c WHERE c.id = renew_contract.contract_id;
    IF old.id IS NULL THEN
        RAISE EXCEPTION 'contract % does not exist or is not visible to you', renew_contract.contract_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF old.status NOT IN ('approved', 'active', 'expired') OR old.terminated_on IS NOT NULL THEN
        RAISE EXCEPTION 'contract % is %: it is not renewed', old.code,
                        CASE WHEN old.terminated_on IS NOT NULL THEN 'terminated' ELSE pg_catalog.replace(old.status, '_', ' ') END
            USING ERRCODE = 'RB006', HINT = 'An approved, active or expired contract is renewed; edit a draft instead.';
    END IF;
    IF new_term IS NULL THEN
        start := CASE WHEN old.status = 'expired' THEN GREATEST(pg_catalog.upper(old.term), CURRENT_DATE)
                      ELSE pg_catalog.upper(old.term) END;
        months := pg_catalog.date_part('year', pg_catalog.age(pg_catalog.upper(old.term), pg_catalog.lower(old.term)))::integer * 12
                  + pg_catalog.date_part('month', pg_catalog.age(pg_catalog.upper(old.term), pg_catalog.lower(old.term)))::integer;
        new_term := CASE WHEN months > 0
                              AND (pg_catalog.lower(old.term) + pg_catalog.make_interval(months => months))::date
                                  = pg_catalog.upper(old.term)
                         THEN pg_catalog.daterange(start, (start + pg_catalog.make_interval(months => months))::date)
                         ELSE pg_catalog.daterange(start, start + (pg_catalog.upper(old.term) - pg_catalog.lower(old.term))) END;
    END IF;
    INSERT INTO @extschema@.partner_contract (tenant_id, partner_id, code, term, grade_id, credit_limit, renewal_of,
                                              shares_stock)
    VALUES (old.tenant_id, old.partner_id,
            coalesce(renew_contract.code,
                     pg_catalog.regexp_replace(old.code, '/[0-9]{4}-[0-9]{2}-[0-9]{2}$', '') || '/' || pg_catalog.lower(new_term)),
            new_term, old.grade_id, old.credit_limit, old.id, old.shares_stock)
    RETURNING * INTO made;
    INSERT INTO @extschema@.partner_contract_territory (tenant_id, contract_id, region_id, exclusive)
    SELECT made.tenant_id, made.id, t.region_id, t.exclusive FROM @extschema@.partner_contract_territory t
     WHERE t.tenant_id = old.tenant_id AND t.contract_id = old.id ORDER BY t.id;
    INSERT INTO @extschema@.partner_contract_program (tenant_id, contract_id, program_id)
    SELECT made.tenant_id, made.id, g.program_id FROM @extschema@.partner_contract_program g
     WHERE g.tenant_id = old.tenant_id AND g.contract_id = old.id ORDER BY g.id;
    RETURN made;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.renew_contract(bigint, daterange, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.renew_contract(bigint, daterange, text) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.renew_contract(bigint, daterange, text) IS
    'Drafts the successor of an approved, active or expired contract: same grants, a term of the same length from where it ends (or new_term), code old/start (or code); returns the draft';

-- The cron job (daily): contracts take effect and lapse, for a tenant's
-- managers (every tenant: group administrators).  Returns per tenant how
-- many took effect, expired and were terminated.
CREATE FUNCTION @extschema@.apply_contracts(tenant_id bigint DEFAULT NULL)
    RETURNS TABLE (tenant bigint, activated integer, expired integer, terminated integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t bigint;
    done record;
BEGIN
    IF NOT (CASE WHEN apply_contracts.tenant_id IS NULL THEN @extschema@.role_is_admin(@extschema@.acting_role())
                 ELSE @extschema@.may_manage(@extschema@.acting_role(), apply_contracts.tenant_id) END) THEN
        RAISE EXCEPTION 'permission denied to apply the contracts of %',
                        CASE WHEN apply_contracts.tenant_id IS NULL THEN 'every tenant'
                             ELSE pg_catalog.format('tenant %s', apply_contracts.tenant_id) END
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A manager of the tenant (or a group administrator, for every tenant) may.';
    END IF;
    FOR t IN SELECT x.id FROM @extschema@.tenant x
              WHERE apply_contracts.tenant_id IS NULL OR x.id = apply_contracts.tenant_id ORDER BY x.id LOOP
        SELECT * INTO done FROM @extschema@.apply_due_contracts(t);
        tenant := t;
        activated := done.activated;
        expired := done.expired;
        terminated := done.terminated;
        RETURN NEXT;
    END LOOP;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant % does not exist or is not visible to you', apply_contracts.tenant_id
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.apply_contracts(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.apply_contracts(bigint) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.apply_contracts(bigint) IS
    'Cron (daily): approved contracts whose term started take effect, active ones whose days ended expire or end terminated, and each partner''s grade and credit limit follow; returns the counts per tenant';

-- The cron job for renewals: every active contract ending within days days
-- that no approved or active contract follows (its renewal, or any later
-- contract of the partner) is announced to the tenant's managers
-- (contract_expiring), once per contract.  Returns per tenant how many.
CREATE FUNCTION @extschema@.contract_alerts(tenant_id bigint DEFAULT NULL, days integer DEFAULT 30)
    RETURNS TABLE (tenant bigint, notified integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t bigint;
BEGIN
    IF NOT (CASE WHEN contract_alerts.tenant_id IS NULL THEN @extschema@.role_is_admin(@extschema@.acting_role())
                 ELSE @extschema@.may_manage(@extschema@.acting_role(), contract_alerts.tenant_id) END) THEN
        RAISE EXCEPTION 'permission denied to send the contract alerts of %',
                        CASE WHEN contract_alerts.tenant_id IS NULL THEN 'every tenant'
                             ELSE pg_catalog.format('tenant %s', contract_alerts.tenant_id) END
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A manager of the tenant (or a group administrator, for every tenant) may.';
    END IF;
    IF days IS NULL OR days NOT BETWEEN 0 AND 3660 THEN
        RAISE EXCEPTION 'days must lie between 0 and 3660, not %', coalesce(days::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR t IN SELECT x.id FROM @extschema@.tenant x
              WHERE contract_alerts.tenant_id IS NULL OR x.id = contract_alerts.tenant_id ORDER BY x.id LOOP
        tenant := t;
        WITH due AS (
            UPDATE @extschema@.partner_contract c SET expiry_notified_at = pg_catalog.now()
             WHERE c.tenant_id = t AND c.status = 'active' AND c.terminated_on IS NULL AND c.expiry_notified_at IS NULL
               AND pg_catalog.upper(c.term) <= CURRENT_DATE + contract_alerts.days
               AND NOT EXISTS (SELECT 1 FROM @extschema@.partner_contract s
                                WHERE s.tenant_id = c.tenant_id AND s.partner_id = c.partner_id AND s.id <> c.id
                                  AND s.status IN ('approved', 'active')
                                  AND (s.renewal_of = c.id OR pg_catalog.lower(s.term) > pg_catalog.lower(c.term)))
            RETURNING c.tenant_id, c.id, c.partner_id, c.code, c.term
        ), told AS (
            INSERT INTO @extschema@.notification (tenant_id, partner_id, event, subject_type, subject_id, title, detail)
            SELECT d.tenant_id, NULL, 'contract_expiring', 'partner_contract', d.id,
                   pg_catalog.format('contract %s of partner %s ends on %s and no contract follows it', d.code, p.code,
                                     pg_catalog.upper(d.term) - 1),
                   pg_catalog.jsonb_build_object(
                       'partner_id', d.partner_id, 'code', d.code, 'ends_on', pg_catalog.upper(d.term) - 1,
                       'days_left', pg_catalog.upper(d.term) - 1 - CURRENT_DATE,
                       'renewal_draft_id', (SELECT min(s.id) FROM @extschema@.partner_contract s
                                             WHERE s.tenant_id = d.tenant_id AND s.renewal_of = d.id
                                               AND s.status IN ('draft', 'pending_approval')))
              FROM due d JOIN @extschema@.partner p ON p.tenant_id = d.tenant_id AND p.id = d.partner_id
             ORDER BY d.id
            RETURNING 1
        )
        SELECT count(*)::integer INTO notified FROM told;
        RETURN NEXT;
    END LOOP;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant % does not exist or is not visible to you', contract_alerts.tenant_id
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.contract_alerts(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.contract_alerts(bigint, integer) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.contract_alerts(bigint, integer) IS
    'Cron: tells the managers (contract_expiring) of every active contract ending within days days that no approved or active contract follows, once per contract; returns how many per tenant';

-- ---- what a contract grants, and whether it holds ------------------------------------------

-- Per partner, what the contract holding today grants, one row per grant,
-- and whether the partner has it: the grade and the credit limit the
-- partner has now, the territory row the contract made valid today, and
-- for a program whether the program's version in effect today counts the
-- partner in its scope (grade_ids, partner_ids).  A row with in_effect
-- false is for the channel manager to look at.  Read with the reader's own
-- rights (security_invoker): each table's row-level security applies.
CREATE VIEW @extschema@.v_contract_grants WITH (security_invoker = true, security_barrier = true) AS
SELECT c.tenant_id, c.partner_id, p.code AS partner_code, c.id AS contract_id, c.code AS contract_code,
       c.effective AS holds, g.granted, g.grade_id, g.credit_limit, g.region_id, g.exclusive, g.program_id,
       g.object_code, g.in_effect, g.remark
  FROM @extschema@.partner_contract c
  JOIN @extschema@.partner p ON p.tenant_id = c.tenant_id AND p.id = c.partner_id
 CROSS JOIN LATERAL (
    SELECT 'grade'::text AS granted, c.grade_id, NULL::numeric(18,2) AS credit_limit, NULL::bigint AS region_id,
           NULL::boolean AS exclusive, NULL::bigint AS program_id,
           (SELECT r.code FROM @extschema@.partner_grade r WHERE r.tenant_id = c.tenant_id AND r.id = c.grade_id) AS object_code,
           p.grade_id IS NOT DISTINCT FROM c.grade_id AS in_effect,
           CASE WHEN p.grade_id IS DISTINCT FROM c.grade_id THEN 'the partner''s grade was changed since' END AS remark
     WHERE c.grade_id IS NOT NULL
    UNION ALL
    SELECT 'credit_limit', NULL, c.credit_limit, NULL, NULL, NULL, NULL, p.credit_limit = c.credit_limit,
           CASE WHEN p.credit_limit <> c.credit_limit THEN 'the partner''s credit limit was changed since' END
     WHERE c.credit_limit IS NOT NULL
    UNION ALL
    SELECT 'territory', NULL, NULL, t.region_id, t.exclusive, NULL, r.code,
           coalesce(e.valid @> CURRENT_DATE, false),
           CASE WHEN e.id IS NULL THEN 'its territory row was removed'
                WHEN NOT e.valid @> CURRENT_DATE THEN 'its territory row no longer holds today' END
      FROM @extschema@.partner_contract_territory t
      JOIN @extschema@.region r ON r.tenant_id = t.tenant_id AND r.id = t.region_id
      LEFT JOIN @extschema@.partner_territory e ON e.tenant_id = t.tenant_id AND e.id = t.territory_id
     WHERE t.tenant_id = c.tenant_id AND t.contract_id = c.id
    UNION ALL
    SELECT 'program', NULL, NULL, NULL, NULL, g.program_id, pr.code,
           coalesce(v.id IS NOT NULL AND (v.grade_ids = '{}' OR p.grade_id = ANY (v.grade_ids))
                    AND (v.partner_ids = '{}' OR p.id = ANY (v.partner_ids)), false),
           CASE WHEN v.id IS NULL THEN 'no version of the program is in effect today'
                WHEN NOT (v.grade_ids = '{}' OR coalesce(p.grade_id = ANY (v.grade_ids), false))
                THEN pg_catalog.format('the partner''s grade is not in the scope of version %s', v.version)
                WHEN NOT (v.partner_ids = '{}' OR p.id = ANY (v.partner_ids))
                THEN pg_catalog.format('the partner is not in the scope of version %s', v.version) END
      FROM @extschema@.partner_contract_program g
      LEFT JOIN @extschema@.program pr ON pr.tenant_id = g.tenant_id AND pr.id = g.program_id
      LEFT JOIN @extschema@.program_version v
        ON v.tenant_id = g.tenant_id AND v.program_id = g.program_id AND v.status = 'active'
       AND v.effective @> CURRENT_DATE
     WHERE g.tenant_id = c.tenant_id AND g.contract_id = c.id
 ) g
 WHERE c.status = 'active' AND c.effective @> CURRENT_DATE;
COMMENT ON VIEW @extschema@.v_contract_grants IS
    'Per partner, what the contract holding today grants (grade, credit limit, territories, programs), one row per grant, and whether the partner has it (in_effect; remark says why not); read with the reader''s rights';
COMMENT ON COLUMN @extschema@.v_contract_grants.tenant_id IS 'The tenant';
COMMENT ON COLUMN @extschema@.v_contract_grants.partner_id IS 'The partner the contract is with';
COMMENT ON COLUMN @extschema@.v_contract_grants.partner_code IS 'Its code';
COMMENT ON COLUMN @extschema@.v_contract_grants.contract_id IS 'The contract in force today';
COMMENT ON COLUMN @extschema@.v_contract_grants.contract_code IS 'Its code';
COMMENT ON COLUMN @extschema@.v_contract_grants.holds IS 'The days the contract holds';
COMMENT ON COLUMN @extschema@.v_contract_grants.grade_id IS 'The grade granted (granted = grade)';
COMMENT ON COLUMN @extschema@.v_contract_grants.credit_limit IS 'The credit limit granted (granted = credit_limit), in the tenant''s currency';
COMMENT ON COLUMN @extschema@.v_contract_grants.region_id IS 'The territory granted (granted = territory): the region and its subtree';
COMMENT ON COLUMN @extschema@.v_contract_grants.exclusive IS 'Whether the territory is granted exclusively (独家)';
COMMENT ON COLUMN @extschema@.v_contract_grants.program_id IS 'The rebate program granted (granted = program)';
COMMENT ON COLUMN @extschema@.v_contract_grants.granted IS 'What the row is: grade, credit_limit, territory or program';
COMMENT ON COLUMN @extschema@.v_contract_grants.object_code IS 'The code of the grade, region or program granted';
COMMENT ON COLUMN @extschema@.v_contract_grants.in_effect IS
    'Whether the partner has it today: its grade or credit limit is the contract''s, the territory row holds today, the program''s version in effect today has the partner in its scope';
COMMENT ON COLUMN @extschema@.v_contract_grants.remark IS 'Why not, when in_effect is false';
GRANT SELECT ON @extschema@.v_contract_grants TO rebate_admin, rebate_manager, rebate_partner;

-- ---- the exit checklist (onboarding.sql): no contract left to take effect --------------

CREATE FUNCTION @extschema@.exit_check_contracts(tenant_id bigint, partner_id bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('contracts not ended: %s (%s)', count(*), pg_catalog.string_agg(DISTINCT c.status, ', '))
      FROM @extschema@.partner_contract c
     WHERE c.tenant_id = exit_check_contracts.tenant_id AND c.partner_id = exit_check_contracts.partner_id
       AND c.status IN ('pending_approval', 'approved', 'active')
    HAVING count(*) > 0
$$;
REVOKE ALL ON FUNCTION @extschema@.exit_check_contracts(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.exit_check_contracts(bigint, bigint) IS
    'Exit check: no contract of the partner waits for approval, waits to take effect or is in force (rebate.terminate_contract)';
INSERT INTO @extschema@.exit_check (item, description, check_function) VALUES
    ('contracts', 'No contract of it is pending, approved or in force', '@extschema@.exit_check_contracts(bigint, bigint)');

-- ---- issue 17: the order-line policy honours product certification (src/region_policy.c)
ALTER TABLE @extschema@.enforcement_setting
    ADD COLUMN certification text NOT NULL DEFAULT 'reject' CHECK (certification IN ('reject', 'review', 'allow'));
COMMENT ON COLUMN @extschema@.enforcement_setting.certification IS
    'Order lines of a product the partner lacks the required valid certificates for on the order date (rebate.certification_requirement; default reject)';
GRANT UPDATE (certification) ON @extschema@.enforcement_setting TO rebate_admin, rebate_manager;
ALTER TABLE @extschema@.policy_violation DROP CONSTRAINT policy_violation_kind_check,
    ADD CONSTRAINT policy_violation_kind_check CHECK (kind IN ('price_floor', 'price_ceiling', 'no_price_policy',
                                                               'territory', 'product_region', 'credit_limit', 'certification'));
-- Resolving a violation.  approve: the breach is accepted; the order is
-- released from on_hold (back to where it was held from) once nothing else
-- holds it.  reject: a line-level breach deletes the line (then releases the
-- order likewise); an order-level one cancels the order and closes its other
-- open violations.  SECURITY DEFINER: partner users may not touch violations,
-- managers may not forge a resolution by writing the table; the caller must
-- manage the violation's tenant.
-- A violation is judged before it is locked.
CREATE OR REPLACE FUNCTION @extschema@.resolve_violation(violation_id bigint, decision text, note text DEFAULT NULL)
    RETURNS @extschema@.policy_violation
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting     name := @extschema@.acting_role();
    v          @extschema@.policy_violation;
    held_from  text;
    order_status text;
    line_level boolean;
BEGIN
    IF decision IS NULL OR decision NOT IN ('approve', 'reject') THEN
        RAISE EXCEPTION 'invalid decision "%"', decision
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Decide "approve" or "reject".';
    END IF;
    -- judged before it is locked: another tenant's violation is neither read nor locked
    SELECT * INTO v FROM @extschema@.policy_violation pv
     WHERE pv.id = violation_id AND @extschema@.may_manage(acting, pv.tenant_id) FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'violation % does not exist or is not yours to resolve', violation_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'Managers of the violation''s tenant (rebate_manager) and group administrators resolve violations.';
    END IF;
    IF v.status <> 'open' THEN
        RAISE EXCEPTION 'violation % was already resolved', violation_id
            USING ERRCODE = 'RB050',
                  DETAIL = pg_catalog.format('It was %s by %s at %s.', v.status, v.resolved_by, v.resolved_at);
    END IF;
    UPDATE @extschema@.policy_violation pv
       SET status = CASE decision WHEN 'approve' THEN 'approved' ELSE 'rejected' END,
           resolved_at = pg_catalog.now(), resolved_by = acting, resolution_note = note
     WHERE pv.id = violation_id
    RETURNING * INTO v;

    IF v.order_id IS NULL OR v.source_table NOT IN ('@extschema@.order_line'::regclass, '@extschema@.sales_order'::regclass) THEN
        RETURN v;                       -- an application's own table: recorded, nothing to release or cancel
    END IF;
    line_level := v.kind IN ('price_floor', 'price_ceiling', 'no_price_policy', 'product_region', 'certification')
                  AND v.source_table = '@extschema@.order_line'::regclass;
    IF decision = 'reject' AND NOT line_level THEN
        UPDATE @extschema@.policy_violation pv
           SET status = 'rejected', resolved_at = pg_catalog.now(), resolved_by = acting,
               resolution_note = pg_catalog.format('order cancelled with violation %s', violation_id)
         WHERE pv.order_id = v.order_id AND pv.status = 'open';
        PERFORM @extschema@.set_order_status(v.order_id, 'cancelled',
                                             pg_catalog.format('violation %s rejected: %s', violation_id, note));
        RETURN v;
    END IF;
    IF decision = 'reject' THEN
        DELETE FROM @extschema@.order_line l WHERE l.id = v.source_id AND l.order_id = v.order_id;
    END IF;
    -- release the order once nothing else holds it
    SELECT o.status INTO order_status FROM @extschema@.sales_order o WHERE o.id = v.order_id;
    IF order_status = 'on_hold' AND NOT EXISTS (SELECT 1 FROM @extschema@.policy_violation pv
                                                 WHERE pv.order_id = v.order_id AND pv.status = 'open') THEN
        SELECT h.from_status INTO held_from FROM @extschema@.order_status_history h
         WHERE h.order_id = v.order_id AND h.to_status = 'on_hold'
         ORDER BY h.changed_at DESC, h.id DESC LIMIT 1;
        PERFORM @extschema@.set_order_status(v.order_id,
                                             CASE WHEN held_from = 'approved' THEN 'approved' ELSE 'submitted' END,
                                             pg_catalog.format('violation %s %s: %s', violation_id, v.status, note));
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION @extschema@.resolve_violation(bigint, text, text) IS
    'A manager''s decision on a violation: approve (accept; release the order when nothing else holds it) or reject (delete the line, or cancel the order)';

-- ---------------------------------------------------------------------------
-- Certification (认证培训): a brand's courses and their exams, the
-- certifications it awards (earned by passing an exam, valid for a number of
-- months or for good), the exam results of its partners' staff, and the
-- certificates a passing result issues.  A grade, or the sale of a product
-- (or of any product in a category), can require valid certificates of a
-- certification, held by at least min_holders people of the partner.
-- Grades are honoured here: a partner is not given a grade whose
-- certifications it does not hold (RB025; a downgrade is never refused).
-- Order lines are judged by the C policy triggers on top of
-- rebate.missing_certifications (RB026).  A certificate that expires is not
-- acted on: rebate.v_certification_gaps shows every partner short of a
-- requirement, or about to be, and rebate.certificate_alerts (cron) tells a
-- partner once per certificate that it expires soon.  Managers write
-- everything; partner users read their own (and their dealers') results and
-- certificates, and the catalogue and requirements of their brand.
-- docs/certification.md describes it with examples.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.course (
    id           bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code         text NOT NULL CHECK (btrim(code) <> ''),
    name         text NOT NULL CHECK (btrim(name) <> ''),
    hours        numeric(6,1) CHECK (hours > 0),
    description  text,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);
CREATE UNIQUE INDEX course_by_id ON @extschema@.course (id);
COMMENT ON TABLE @extschema@.course IS
    'Training courses (培训课程) a brand offers its partners'' staff; each has exams (rebate.exam)';
COMMENT ON COLUMN @extschema@.course.hours IS 'Length of the course in hours (学时)';
COMMENT ON COLUMN @extschema@.course.active IS 'Whether the course is still offered (an inactive course keeps its exams and their results)';

CREATE TABLE @extschema@.exam (
    id           bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    course_id    bigint NOT NULL,
    code         text NOT NULL CHECK (btrim(code) <> ''),
    name         text,
    pass_score   numeric NOT NULL CHECK (pass_score >= 0),
    max_score    numeric NOT NULL DEFAULT 100 CHECK (max_score > 0),
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, course_id) REFERENCES @extschema@.course (tenant_id, id),
    CONSTRAINT exam_pass_within_max CHECK (pass_score <= max_score)
);
CREATE UNIQUE INDEX exam_by_id ON @extschema@.exam (id);
CREATE INDEX exam_course ON @extschema@.exam (tenant_id, course_id);
COMMENT ON TABLE @extschema@.exam IS 'Exams of a course (考试): a score of at least pass_score (out of max_score) passes';
COMMENT ON COLUMN @extschema@.exam.pass_score IS 'The lowest passing score';
COMMENT ON COLUMN @extschema@.exam.max_score IS 'The highest possible score (a result above it is refused)';

CREATE TABLE @extschema@.certification (
    id               bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id        bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code             text NOT NULL CHECK (btrim(code) <> ''),
    name             text NOT NULL CHECK (btrim(name) <> ''),
    exam_id          bigint,
    validity_months  integer CHECK (validity_months BETWEEN 1 AND 600),
    description      text,
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, exam_id) REFERENCES @extschema@.exam (tenant_id, id)
);
CREATE UNIQUE INDEX certification_by_id ON @extschema@.certification (id);
CREATE INDEX certification_exam ON @extschema@.certification (tenant_id, exam_id);
COMMENT ON TABLE @extschema@.certification IS
    'The kinds of certificate a brand awards (认证): earned by passing an exam (of a course), valid for validity_months or for good';
COMMENT ON COLUMN @extschema@.certification.exam_id IS
    'The exam whose passing result issues a certificate of this certification (its course is the exam''s); NULL: issued by hand only';
COMMENT ON COLUMN @extschema@.certification.validity_months IS
    'How long a certificate is valid from the day it is issued (the exam day); NULL: it never expires';
COMMENT ON COLUMN @extschema@.certification.active IS 'Whether passing its exam still issues certificates (those issued keep counting)';

CREATE TABLE @extschema@.exam_result (
    id           bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id   bigint NOT NULL,
    exam_id      bigint NOT NULL,
    person_name  text NOT NULL CHECK (btrim(person_name) <> ''),
    score        numeric NOT NULL CHECK (score >= 0),
    taken_on     date NOT NULL DEFAULT CURRENT_DATE,
    passed       boolean NOT NULL DEFAULT false,
    note         text,
    recorded_by  name,
    recorded_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, id, partner_id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, exam_id) REFERENCES @extschema@.exam (tenant_id, id)
);
CREATE UNIQUE INDEX exam_result_by_id ON @extschema@.exam_result (id);
CREATE INDEX exam_result_partner ON @extschema@.exam_result (tenant_id, partner_id, taken_on);
COMMENT ON TABLE @extschema@.exam_result IS
    'Exam results of partners'' staff, recorded by the brand''s managers (or a training system bound as one); a passing result issues the certificates its exam earns';
COMMENT ON COLUMN @extschema@.exam_result.person_name IS 'The partner''s staff member who took the exam';
COMMENT ON COLUMN @extschema@.exam_result.passed IS 'score >= the exam''s pass_score (maintained)';
COMMENT ON COLUMN @extschema@.exam_result.recorded_by IS 'The role that recorded it (stamped)';
COMMENT ON COLUMN @extschema@.exam_result.recorded_at IS 'When it was recorded (stamped)';

CREATE TABLE @extschema@.certificate (
    id                 bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id          bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id         bigint NOT NULL,
    certification_id   bigint NOT NULL,
    certificate_no     text CHECK (btrim(certificate_no) <> ''),
    holder_name        text NOT NULL CHECK (btrim(holder_name) <> ''),
    issued_on          date NOT NULL DEFAULT CURRENT_DATE,
    expires_on         date,
    status             text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),
    exam_result_id     bigint,
    revoke_reason      text,
    note               text,
    issued_by          name,
    recorded_at        timestamptz,
    revoked_by         name,
    revoked_at         timestamptz,
    expiry_alerted_at  timestamptz,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, certificate_no),
    UNIQUE (tenant_id, exam_result_id, certification_id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, certification_id) REFERENCES @extschema@.certification (tenant_id, id),
    FOREIGN KEY (tenant_id, exam_result_id, partner_id) REFERENCES @extschema@.exam_result (tenant_id, id, partner_id),
    CONSTRAINT certificate_expires_after_issue CHECK (expires_on >= issued_on),
    CONSTRAINT certificate_revocation CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE UNIQUE INDEX certificate_by_id ON @extschema@.certificate (id);
-- what a partner holds of a certification (rebate.missing_certifications, per order line)
CREATE INDEX certificate_holding ON @extschema@.certificate (partner_id, certification_id, expires_on)
    WHERE status = 'valid';
-- what expires soon and was not announced (rebate.certificate_alerts)
CREATE INDEX certificate_expiring ON @extschema@.certificate (tenant_id, expires_on)
    WHERE status = 'valid' AND expiry_alerted_at IS NULL;
COMMENT ON TABLE @extschema@.certificate IS
    'Certificates held by partners'' staff: issued by a passing exam result, or by hand by a manager (imported, granted); valid from issued_on through expires_on unless revoked';
COMMENT ON COLUMN @extschema@.certificate.certificate_no IS
    'The certificate''s number (证书编号), unique in the tenant; when left out, the certification''s code and the id';
COMMENT ON COLUMN @extschema@.certificate.holder_name IS
    'The partner''s staff member who holds it; requirements count distinct holders (case and surrounding spaces aside)';
COMMENT ON COLUMN @extschema@.certificate.issued_on IS 'The first day it is valid (for an exam, the day it was taken)';
COMMENT ON COLUMN @extschema@.certificate.expires_on IS
    'The last day it is valid (有效期至); when left out, issued_on plus the certification''s validity_months less a day; NULL: it never expires';
COMMENT ON COLUMN @extschema@.certificate.status IS 'valid, or revoked (for good: a new certificate replaces it)';
COMMENT ON COLUMN @extschema@.certificate.exam_result_id IS 'The passing result that issued it; NULL: issued by hand';
COMMENT ON COLUMN @extschema@.certificate.issued_by IS 'The role that issued it (stamped)';
COMMENT ON COLUMN @extschema@.certificate.recorded_at IS 'When it was issued (stamped)';
COMMENT ON COLUMN @extschema@.certificate.revoked_by IS 'The role that revoked it (stamped)';
COMMENT ON COLUMN @extschema@.certificate.revoked_at IS 'When it was revoked (stamped)';
COMMENT ON COLUMN @extschema@.certificate.expiry_alerted_at IS
    'When rebate.certificate_alerts told the partner it expires soon (once; a new expires_on clears it)';

CREATE TABLE @extschema@.certification_requirement (
    id                bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id         bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    certification_id  bigint NOT NULL,
    grade_id          bigint,
    product_id        bigint,
    category_id       bigint,
    min_holders       integer NOT NULL DEFAULT 1 CHECK (min_holders BETWEEN 1 AND 1000),
    valid             daterange NOT NULL DEFAULT pg_catalog.daterange(CURRENT_DATE, NULL) CHECK (NOT isempty(valid)),
    note              text,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, certification_id) REFERENCES @extschema@.certification (tenant_id, id),
    FOREIGN KEY (tenant_id, grade_id) REFERENCES @extschema@.partner_grade (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id),
    FOREIGN KEY (tenant_id, category_id) REFERENCES @extschema@.product_category (tenant_id, id),
    CONSTRAINT certification_requirement_one_subject CHECK (num_nonnulls(grade_id, product_id, category_id) = 1),
    -- one requirement per subject and certification at a time
    CONSTRAINT certification_requirement_no_overlap EXCLUDE USING gist (
        tenant_id WITH =, certification_id WITH =, (coalesce(grade_id, 0)) WITH =, (coalesce(product_id, 0)) WITH =,
        (coalesce(category_id, 0)) WITH =, valid WITH &&)
);
CREATE UNIQUE INDEX certification_requirement_by_id ON @extschema@.certification_requirement (id);
CREATE INDEX certification_requirement_grade ON @extschema@.certification_requirement (tenant_id, grade_id)
    WHERE grade_id IS NOT NULL;
CREATE INDEX certification_requirement_product ON @extschema@.certification_requirement (tenant_id, product_id)
    WHERE product_id IS NOT NULL;
CREATE INDEX certification_requirement_category ON @extschema@.certification_requirement (tenant_id, category_id)
    WHERE category_id IS NOT NULL;
COMMENT ON TABLE @extschema@.certification_requirement IS
    'What requires certificates: a grade (to be given it), a product or a category (to sell it, or any product below the category): at least min_holders people of the partner with a valid certificate of the certification';
COMMENT ON COLUMN @extschema@.certification_requirement.grade_id IS 'A partner is given this grade only if it meets the requirement (RB025)';
COMMENT ON COLUMN @extschema@.certification_requirement.product_id IS 'A partner sells this product only if it meets the requirement (the order-line policy, RB026)';
COMMENT ON COLUMN @extschema@.certification_requirement.category_id IS 'As product_id, for every product in this category or below it (product_category.path)';
COMMENT ON COLUMN @extschema@.certification_requirement.min_holders IS
    'How many distinct people of the partner must hold a valid certificate of the certification';
COMMENT ON COLUMN @extschema@.certification_requirement.valid IS
    'When the requirement is in force [from, to) (announce one ahead: v_certification_gaps shows it as upcoming); requirements of one subject and certification never overlap';

SELECT @extschema@.apply_standard_triggers(t)
  FROM unnest(ARRAY['@extschema@.course', '@extschema@.exam', '@extschema@.certification', '@extschema@.exam_result',
                    '@extschema@.certificate', '@extschema@.certification_requirement']::regclass[]) AS t;
SELECT @extschema@.apply_tenant_rls('@extschema@.course', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.exam', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.certification', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.certification_requirement', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.exam_result', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.certificate', 'tenant_id', 'partner_id');
-- the catalogue and the requirements: every role of the tenant reads them, its managers write them;
-- results and certificates: the managers write them, partner users read their own (and their dealers')
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.course, @extschema@.exam, @extschema@.certification,
      @extschema@.certification_requirement, @extschema@.exam_result TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.course, @extschema@.exam, @extschema@.certification, @extschema@.certification_requirement,
      @extschema@.exam_result TO rebate_partner;
GRANT SELECT, DELETE ON @extschema@.certificate TO rebate_admin, rebate_manager;
GRANT INSERT (tenant_id, partner_id, certification_id, certificate_no, holder_name, issued_on, expires_on, status,
              exam_result_id, revoke_reason, note),
      UPDATE (certificate_no, holder_name, issued_on, expires_on, status, revoke_reason, note)
   ON @extschema@.certificate TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.certificate TO rebate_partner;

-- ---- who holds what ---------------------------------------------------------------

-- These read with the caller's rights: a manager (and the policy triggers,
-- which run as the table owner) see every certificate of the tenant, a
-- partner user its own partner's and those below it, and so each answers
-- from what its caller may read.  A holder counts once, however many
-- certificates of the certification it holds (a renewal does not double).
-- PL/pgSQL rather than SQL: a SQL function with a SET clause is planned
-- again at every call from a trigger or a loop (about 0.6 ms for
-- missing_certifications), a PL/pgSQL one keeps its plans for the session
-- (about 0.05 ms), which matters when it runs once per order line.

-- Whether a partner holds a valid certificate of a certification on a day:
-- issued by then, not expired (expires_on is the last valid day), not
-- revoked.  Strictly true or false: NULLs and unknown ids hold nothing.
CREATE FUNCTION @extschema@.holds_certification(partner_id bigint, certification_id bigint,
                                                on_date date DEFAULT CURRENT_DATE)
    RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM @extschema@.certificate c
                    WHERE c.partner_id = holds_certification.partner_id
                      AND c.certification_id = holds_certification.certification_id
                      AND c.status = 'valid' AND c.issued_on <= holds_certification.on_date
                      AND (c.expires_on IS NULL OR c.expires_on >= holds_certification.on_date));
END
$$;
COMMENT ON FUNCTION @extschema@.holds_certification(bigint, bigint, date) IS
    'Whether the partner holds a valid (issued, unexpired, unrevoked) certificate of the certification on the day: strictly true or false';

-- How many distinct people of a partner hold a valid certificate of a
-- certification on a day (0 for NULLs and unknown ids).
CREATE FUNCTION @extschema@.certificate_holders(partner_id bigint, certification_id bigint,
                                                on_date date DEFAULT CURRENT_DATE)
    RETURNS integer
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT count(DISTINCT pg_catalog.lower(pg_catalog.btrim(c.holder_name)))::integer
              FROM @extschema@.certificate c
             WHERE c.partner_id = certificate_holders.partner_id AND c.certification_id = certificate_holders.certification_id
               AND c.status = 'valid' AND c.issued_on <= certificate_holders.on_date
               AND (c.expires_on IS NULL OR c.expires_on >= certificate_holders.on_date));
END
$$;
COMMENT ON FUNCTION @extschema@.certificate_holders(bigint, bigint, date) IS
    'How many distinct people of the partner hold a valid certificate of the certification on the day';

-- The certifications a sale of a product by a partner on a day needs and the
-- partner lacks: the requirements in force that day on the product and on
-- its category and every category above it, one row per certification (the
-- largest min_holders of them), with the holders the partner has.  No row:
-- the sale is authorised.  NULL on_date: today.  Called per order line by
-- the policy triggers: the product, its category and two index probes for
-- the requirements (the usual answer is none), one index probe per required
-- certification for the holders.
CREATE FUNCTION @extschema@.missing_certifications(partner_id bigint, product_id bigint,
                                                   on_date date DEFAULT CURRENT_DATE)
    RETURNS TABLE (certification_id bigint, certification_code text, min_holders integer, holders integer)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT n.certification_id, cf.code, n.min_holders, h.holders
          FROM (SELECT r.tenant_id, r.certification_id, max(r.min_holders) AS min_holders
                  FROM (SELECT r1.tenant_id, r1.certification_id, r1.min_holders
                          FROM @extschema@.product p
                          JOIN @extschema@.certification_requirement r1
                            ON r1.tenant_id = p.tenant_id AND r1.product_id = p.id
                         WHERE p.id = missing_certifications.product_id
                           AND r1.valid @> coalesce(missing_certifications.on_date, CURRENT_DATE)
                        UNION ALL
                        SELECT r2.tenant_id, r2.certification_id, r2.min_holders
                          FROM @extschema@.product p
                          JOIN @extschema@.product_category pc ON pc.tenant_id = p.tenant_id AND pc.id = p.category_id
                          JOIN @extschema@.certification_requirement r2
                            ON r2.tenant_id = p.tenant_id AND r2.category_id = ANY (pc.path)
                         WHERE p.id = missing_certifications.product_id
                           AND r2.valid @> coalesce(missing_certifications.on_date, CURRENT_DATE)) r
                 GROUP BY r.tenant_id, r.certification_id) n
          JOIN @extschema@.certification cf ON cf.tenant_id = n.tenant_id AND cf.id = n.certification_id
         CROSS JOIN LATERAL (
            SELECT count(DISTINCT pg_catalog.lower(pg_catalog.btrim(c.holder_name)))::integer AS holders
              FROM @extschema@.certificate c
             WHERE c.partner_id = missing_certifications.partner_id AND c.certification_id = n.certification_id
               AND c.tenant_id = n.tenant_id AND c.status = 'valid'
               AND c.issued_on <= coalesce(missing_certifications.on_date, CURRENT_DATE)
               AND (c.expires_on IS NULL OR c.expires_on >= coalesce(missing_certifications.on_date, CURRENT_DATE))) h
         WHERE h.holders < n.min_holders
         ORDER BY cf.code;
END
$$;
COMMENT ON FUNCTION @extschema@.missing_certifications(bigint, bigint, date) IS
    'The certifications a sale of the product by the partner on the day (NULL: today) requires (on the product, its category or a category above) and the partner lacks, with the holders required and held; no row: authorised';

-- The same for a grade: the certifications a partner must hold to be given
-- the grade on a day, and lacks.
CREATE FUNCTION @extschema@.grade_missing_certifications(partner_id bigint, grade_id bigint,
                                                         on_date date DEFAULT CURRENT_DATE)
    RETURNS TABLE (certification_id bigint, certification_code text, min_holders integer, holders integer)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT r.certification_id, cf.code, r.min_holders, h.holders
          FROM @extschema@.certification_requirement r
          JOIN @extschema@.certification cf ON cf.tenant_id = r.tenant_id AND cf.id = r.certification_id
         CROSS JOIN LATERAL (
            SELECT count(DISTINCT pg_catalog.lower(pg_catalog.btrim(c.holder_name)))::integer AS holders
              FROM @extschema@.certificate c
             WHERE c.partner_id = grade_missing_certifications.partner_id AND c.certification_id = r.certification_id
               AND c.tenant_id = r.tenant_id AND c.status = 'valid'
               AND c.issued_on <= coalesce(grade_missing_certifications.on_date, CURRENT_DATE)
               AND (c.expires_on IS NULL OR c.expires_on >= coalesce(grade_missing_certifications.on_date, CURRENT_DATE))) h
         WHERE r.tenant_id = (SELECT g.tenant_id FROM @extschema@.partner_grade g WHERE g.id = grade_missing_certifications.grade_id)
           AND r.grade_id = grade_missing_certifications.grade_id
           AND r.valid @> coalesce(grade_missing_certifications.on_date, CURRENT_DATE)
           AND h.holders < r.min_holders
         ORDER BY cf.code;
END
$$;
COMMENT ON FUNCTION @extschema@.grade_missing_certifications(bigint, bigint, date) IS
    'The certifications the grade requires on the day (NULL: today) that the partner lacks, with the holders required and held; no row: the partner may be given the grade';

REVOKE ALL ON FUNCTION @extschema@.holds_certification(bigint, bigint, date),
              @extschema@.certificate_holders(bigint, bigint, date),
              @extschema@.missing_certifications(bigint, bigint, date),
              @extschema@.grade_missing_certifications(bigint, bigint, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.holds_certification(bigint, bigint, date),
              @extschema@.certificate_holders(bigint, bigint, date),
              @extschema@.missing_certifications(bigint, bigint, date),
              @extschema@.grade_missing_certifications(bigint, bigint, date)
   TO rebate_admin, rebate_manager, rebate_partner;

-- ---- the rules, as rows are written -------------------------------------------------

-- BEFORE INSERT OR UPDATE on exam_result: passed follows the score and the
-- exam's pass score; a score above the exam's maximum is refused (22023);
-- a result that issued certificates keeps its partner, exam, person, score
-- and day (RB027: revoke the certificate and record a new result instead).
-- With the writer's rights, and only for a writer who may manage the row's
-- tenant: anyone else is refused by row-level security, told nothing, and
-- an exam it cannot see ends at the foreign key like one that does not exist.
CREATE FUNCTION @extschema@.prepare_exam_result() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e record;
BEGIN
    NEW.passed := false;
    IF NOT @extschema@.may_manage(@extschema@.acting_role(), NEW.tenant_id) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE'
       AND (NEW.tenant_id, NEW.partner_id, NEW.exam_id, NEW.person_name, NEW.score, NEW.taken_on)
           IS DISTINCT FROM (OLD.tenant_id, OLD.partner_id, OLD.exam_id, OLD.person_name, OLD.score, OLD.taken_on)
       AND EXISTS (SELECT 1 FROM @extschema@.certificate c
                    WHERE c.tenant_id = OLD.tenant_id AND c.exam_result_id = OLD.id) THEN
        RAISE EXCEPTION 'exam result % issued certificates and cannot change', OLD.id USING ERRCODE = 'RB027',
              DETAIL = 'Its partner, exam, person, score and day are what the certificates attest.',
              HINT = 'Revoke the certificates (status revoked, with a revoke_reason) and record a corrected result.';
    END IF;
    SELECT x.pass_score, x.max_score, x.code INTO e FROM @extschema@.exam x
     WHERE x.tenant_id = NEW.tenant_id AND x.id = NEW.exam_id;
    IF NOT FOUND THEN
        RETURN NEW;
    END IF;
    IF NEW.score > e.max_score THEN
        RAISE EXCEPTION 'score % is above the maximum % of exam %', NEW.score, e.max_score, e.code
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    NEW.passed := NEW.score >= e.pass_score;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.prepare_exam_result() IS
    'BEFORE INSERT OR UPDATE trigger on exam_result: maintains passed, refuses a score above the maximum (22023) and changes to a result that issued certificates (RB027)';
CREATE TRIGGER prepare BEFORE INSERT OR UPDATE ON @extschema@.exam_result
    FOR EACH ROW EXECUTE FUNCTION @extschema@.prepare_exam_result();
CREATE TRIGGER attest BEFORE INSERT OR UPDATE ON @extschema@.exam_result
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_attestation('', 'insert:recorded_by:recorded_at');

-- AFTER INSERT OR UPDATE on exam_result: a passing result issues a
-- certificate of every active certification its exam earns (once per result
-- and certification), to the person who took it, from the exam day.  With
-- the writer's rights: it is a manager of the tenant (nobody else writes a
-- result), who may issue certificates.
CREATE FUNCTION @extschema@.issue_certificates() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO @extschema@.certificate (tenant_id, partner_id, certification_id, holder_name, issued_on, exam_result_id)
    SELECT NEW.tenant_id, NEW.partner_id, cf.id, NEW.person_name, NEW.taken_on, NEW.id
      FROM @extschema@.certification cf
     WHERE cf.tenant_id = NEW.tenant_id AND cf.exam_id = NEW.exam_id AND cf.active
     ORDER BY cf.id
        ON CONFLICT (tenant_id, exam_result_id, certification_id) DO NOTHING;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.issue_certificates() IS
    'AFTER INSERT OR UPDATE trigger on exam_result: a passing result issues the certificates of the active certifications its exam earns';
CREATE TRIGGER issue_certificates AFTER INSERT OR UPDATE OF score, passed ON @extschema@.exam_result
    FOR EACH ROW WHEN (NEW.passed) EXECUTE FUNCTION @extschema@.issue_certificates();

-- BEFORE INSERT OR UPDATE on certificate: the number and the expiry when
-- left out (from the certification: its code and the id; issued_on plus its
-- validity, less a day), and a new expiry is announced again.  Reads the
-- certification with the writer's rights, for a writer who may manage the
-- row's tenant only.
CREATE FUNCTION @extschema@.prepare_certificate() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cf record;
BEGIN
    IF TG_OP = 'INSERT' OR NEW.expires_on IS DISTINCT FROM OLD.expires_on THEN
        NEW.expiry_alerted_at := NULL;
    END IF;
    IF NOT @extschema@.may_manage(@extschema@.acting_role(), NEW.tenant_id) THEN
        RETURN NEW;
    END IF;
    SELECT x.code, x.validity_months INTO cf FROM @extschema@.certification x
     WHERE x.tenant_id = NEW.tenant_id AND x.id = NEW.certification_id;
    IF NOT FOUND THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' AND NEW.expires_on IS NULL AND cf.validity_months IS NOT NULL THEN
        NEW.expires_on := (NEW.issued_on + pg_catalog.make_interval(months => cf.validity_months))::date - 1;
    END IF;
    IF NEW.certificate_no IS NULL THEN
        NEW.certificate_no := pg_catalog.format('%s-%s', cf.code, NEW.id);
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.prepare_certificate() IS
    'BEFORE INSERT OR UPDATE trigger on certificate: fills the number and the expiry from the certification when left out; a changed expiry is announced again';
CREATE TRIGGER prepare BEFORE INSERT OR UPDATE ON @extschema@.certificate
    FOR EACH ROW EXECUTE FUNCTION @extschema@.prepare_certificate();
CREATE TRIGGER attest BEFORE INSERT OR UPDATE ON @extschema@.certificate
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_attestation('status', 'insert:issued_by:recorded_at',
                                                                'revoked:revoked_by:revoked_at');
CREATE TRIGGER lifecycle BEFORE UPDATE OF status ON @extschema@.certificate
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition('status', 'valid>revoked');

-- BEFORE INSERT OR UPDATE OF grade_id on partner: a partner is not given a
-- grade whose certification requirements in force today it does not meet
-- (RB025, naming what it lacks).  A downgrade (to a grade of a larger rank
-- number) is never refused: it takes rights away.  With the writer's
-- rights, and only for a writer who may manage the row's tenant; anyone
-- else is refused by row-level security and told nothing.
CREATE FUNCTION @extschema@.check_grade_certification() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    grade record;
    lacking text;
BEGIN
    IF NEW.grade_id IS NULL
       OR (TG_OP = 'UPDATE' AND NEW.grade_id IS NOT DISTINCT FROM OLD.grade_id AND NEW.tenant_id = OLD.tenant_id)
       OR NOT @extschema@.may_manage(@extschema@.acting_role(), NEW.tenant_id) THEN
        RETURN NEW;
    END IF;
    SELECT g.code, g.rank, o.rank AS old_rank INTO grade
      FROM @extschema@.partner_grade g
      LEFT JOIN @extschema@.partner_grade o
        ON TG_OP = 'UPDATE' AND o.tenant_id = NEW.tenant_id AND o.id = OLD.grade_id AND OLD.tenant_id = NEW.tenant_id
     WHERE g.tenant_id = NEW.tenant_id AND g.id = NEW.grade_id;
    IF NOT FOUND OR grade.rank > grade.old_rank THEN
        RETURN NEW;
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.format('%s (%s of %s holders)', m.certification_code, m.holders, m.min_holders),
                                 ', ' ORDER BY m.certification_code)
      INTO lacking
      FROM @extschema@.grade_missing_certifications(NEW.id, NEW.grade_id, CURRENT_DATE) m;
    IF lacking IS NOT NULL THEN
        RAISE EXCEPTION 'partner % does not hold the certification grade % requires', NEW.code, grade.code
            USING ERRCODE = 'RB025',
                  DETAIL = pg_catalog.format('Missing valid certificates: %s.', lacking),
                  HINT = 'Record the passing exam results (rebate.record_exam_result) or issue the certificates, then give the grade; rebate.grade_missing_certifications lists what is missing.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.check_grade_certification() IS
    'BEFORE INSERT OR UPDATE trigger on partner: refuses a grade (not a downgrade) whose certification requirements the partner does not meet (RB025)';
CREATE TRIGGER grade_certification BEFORE INSERT OR UPDATE OF grade_id, tenant_id ON @extschema@.partner
    FOR EACH ROW EXECUTE FUNCTION @extschema@.check_grade_certification();

-- ---- what users call ------------------------------------------------------------

-- Records an exam result (a manager, or a training system bound as one) and
-- returns it with the certificates it issued: one row per certificate, or
-- one row without a certificate when it issued none.  The exam is named by
-- its code in the partner's tenant.  With the caller's rights.
CREATE FUNCTION @extschema@.record_exam_result(partner_id bigint, exam_code text, person_name text, score numeric,
                                               taken_on date DEFAULT CURRENT_DATE, note text DEFAULT NULL)
    RETURNS TABLE (exam_result_id bigint, passed boolean, certificate_id bigint, certification_code text,
                   certificate_no text, expires_on date)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    e record;
    r @extschema@.exam_result;
BEGIN
    SELECT x.tenant_id, x.id INTO e FROM @extschema@.exam x
      JOIN @extschema@.partner p ON p.tenant_id = x.tenant_id
     WHERE p.id = record_exam_result.partner_id AND x.code = record_exam_result.exam_code;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'partner % or exam "%" does not exist or is not visible to you',
                        record_exam_result.partner_id, record_exam_result.exam_code
            USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO @extschema@.exam_result (tenant_id, partner_id, exam_id, person_name, score, taken_on, note)
    VALUES (e.tenant_id, record_exam_result.partner_id, e.id, record_exam_result.person_name, record_exam_result.score,
            coalesce(record_exam_result.taken_on, CURRENT_DATE), record_exam_result.note)
    RETURNING * INTO r;
    RETURN QUERY
        SELECT r.id, r.passed, c.id, cf.code, c.certificate_no, c.expires_on
          FROM (SELECT 1) one
          LEFT JOIN @extschema@.certificate c ON c.tenant_id = r.tenant_id AND c.exam_result_id = r.id
          LEFT JOIN @extschema@.certification cf ON cf.tenant_id = c.tenant_id AND cf.id = c.certification_id
         ORDER BY cf.code;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.record_exam_result(bigint, text, text, numeric, date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.record_exam_result(bigint, text, text, numeric, date, text)
   TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.record_exam_result(bigint, text, text, numeric, date, text) IS
    'Records a partner''s staff member''s exam result (exam by code) and returns it with the certificates a pass issued (managers)';

-- The cron job: tells each partner, once per certificate, that a valid
-- certificate of its expires within the next days (from today on), unless
-- the holder already holds another certificate of the certification that
-- outlasts it (renewed).  For a tenant's managers (every tenant: group
-- administrators).  Returns per tenant how many it announced.
CREATE FUNCTION @extschema@.certificate_alerts(tenant_id bigint DEFAULT NULL, days integer DEFAULT 30)
    RETURNS TABLE (tenant bigint, alerted integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t bigint;
BEGIN
    IF NOT (CASE WHEN certificate_alerts.tenant_id IS NULL THEN @extschema@.role_is_admin(@extschema@.acting_role())
                 ELSE @extschema@.may_manage(@extschema@.acting_role(), certificate_alerts.tenant_id) END) THEN
        RAISE EXCEPTION 'permission denied to announce the expiring certificates of %',
                        CASE WHEN certificate_alerts.tenant_id IS NULL THEN 'every tenant'
                             ELSE pg_catalog.format('tenant %s', certificate_alerts.tenant_id) END
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A manager of the tenant (or a group administrator, for every tenant) may.';
    END IF;
    IF days IS NULL OR days NOT BETWEEN 0 AND 3650 THEN
        RAISE EXCEPTION 'days must lie between 0 and 3650, not %', coalesce(days::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR t IN SELECT x.id FROM @extschema@.tenant x
              WHERE certificate_alerts.tenant_id IS NULL OR x.id = certificate_alerts.tenant_id ORDER BY x.id LOOP
        tenant := t;
        -- marked first (a concurrent run waits for the row and then skips it), announced from what was marked
        WITH due AS (
            UPDATE @extschema@.certificate c SET expiry_alerted_at = pg_catalog.now()
             WHERE c.tenant_id = t AND c.status = 'valid' AND c.expiry_alerted_at IS NULL
               AND c.expires_on >= CURRENT_DATE AND c.expires_on <= CURRENT_DATE + certificate_alerts.days
               AND NOT EXISTS (SELECT 1 FROM @extschema@.certificate n
                                WHERE n.tenant_id = c.tenant_id AND n.partner_id = c.partner_id
                                  AND n.certification_id = c.certification_id AND n.id <> c.id AND n.status = 'valid'
                                  AND pg_catalog.lower(pg_catalog.btrim(n.holder_name))
                                      = pg_catalog.lower(pg_catalog.btrim(c.holder_name))
                                  AND n.issued_on <= c.expires_on + 1
                                  AND (n.expires_on IS NULL OR n.expires_on > c.expires_on))
            RETURNING c.*
        ), told AS (
            INSERT INTO @extschema@.notification (tenant_id, partner_id, event, subject_type, subject_id, title, detail)
            SELECT d.tenant_id, d.partner_id, 'certificate_expiring', 'certificate', d.id,
                   pg_catalog.format('certificate %s (%s) of %s expires on %s', d.certificate_no, cf.code, d.holder_name,
                                     d.expires_on),
                   pg_catalog.jsonb_build_object('certificate_no', d.certificate_no, 'certification_id', d.certification_id,
                                                 'certification_code', cf.code, 'holder_name', d.holder_name,
                                                 'expires_on', d.expires_on, 'days_left', d.expires_on - CURRENT_DATE,
                                                 'required_by_grade',
                                                 EXISTS (SELECT 1 FROM @extschema@.partner p
                                                           JOIN @extschema@.certification_requirement r
                                                             ON r.tenant_id = p.tenant_id AND r.grade_id = p.grade_id
                                                          WHERE p.tenant_id = d.tenant_id AND p.id = d.partner_id
                                                            AND r.certification_id = d.certification_id
                                                            AND r.valid @> (d.expires_on + 1)))
              FROM due d JOIN @extschema@.certification cf ON cf.tenant_id = d.tenant_id AND cf.id = d.certification_id
             ORDER BY d.expires_on, d.id
            RETURNING 1
        )
        SELECT count(*)::integer INTO alerted FROM told;
        RETURN NEXT;
    END LOOP;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant % does not exist or is not visible to you', certificate_alerts.tenant_id
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.certificate_alerts(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.certificate_alerts(bigint, integer) TO rebate_admin, rebate_manager;
COMMENT ON FUNCTION @extschema@.certificate_alerts(bigint, integer) IS
    'Cron: tells each partner, once per certificate, that a valid certificate of its expires within the days (not renewed yet); of a tenant, or of every tenant; returns how many per tenant';

-- ---- what is missing -----------------------------------------------------------------

-- Every partner short of a certification requirement, or about to be:
-- the requirements of the grade it holds, and those of the products (and
-- categories) it sold in the last 90 days (order date, from the rollups).
-- gap: missing (in force today, not met today), expiring (met today, not in
-- 30 days: certificates run out) or upcoming (in force within 30 days, not
-- met then).  Nothing is downgraded or blocked here: a grade stays until a
-- manager changes it; sales are judged by the order-line policy.  With the
-- reader's rights (security_invoker): a partner user sees its own partner
-- and those below it.
CREATE VIEW @extschema@.v_certification_gaps WITH (security_invoker = true, security_barrier = true) AS
WITH sold AS (
    SELECT s.tenant_id, s.partner_id, s.product_id, max(s.period_start) FILTER (WHERE s.lines > 0) AS last_sold_on
      FROM @extschema@.sales_rollup s
     WHERE s.date_basis = 'order' AND s.unit = 'day' AND s.kind = 'order' AND NOT s.of_sub_partners
       AND s.period_start > CURRENT_DATE - 90 AND s.period_start <= CURRENT_DATE
     GROUP BY s.tenant_id, s.partner_id, s.product_id
    HAVING sum(s.lines) > 0
), subjects AS (
    SELECT p.tenant_id, p.id AS partner_id, r.id AS requirement_id, NULL::date AS last_sold_on
      FROM @extschema@.partner p
      JOIN @extschema@.certification_requirement r ON r.tenant_id = p.tenant_id AND r.grade_id = p.grade_id
    UNION ALL
    SELECT s.tenant_id, s.partner_id, r.id, max(s.last_sold_on)
      FROM sold s
      JOIN @extschema@.product pr ON pr.tenant_id = s.tenant_id AND pr.id = s.product_id
      JOIN @extschema@.product_category pc ON pc.tenant_id = pr.tenant_id AND pc.id = pr.category_id
      JOIN @extschema@.certification_requirement r
        ON r.tenant_id = s.tenant_id AND (r.product_id = pr.id OR r.category_id = ANY (pc.path))
     GROUP BY s.tenant_id, s.partner_id, r.id
), judged AS (
    SELECT s.tenant_id, s.partner_id, s.requirement_id, s.last_sold_on, r.certification_id, r.grade_id, r.product_id,
           r.category_id, r.min_holders, r.valid, h.holders, h.holders_in_30_days, h.next_expiry,
           CASE WHEN r.valid @> CURRENT_DATE AND h.holders < r.min_holders THEN 'missing'
                WHEN r.valid @> CURRENT_DATE AND r.valid @> (CURRENT_DATE + 30) AND h.holders_in_30_days < r.min_holders
                     THEN 'expiring'
                WHEN NOT r.valid @> CURRENT_DATE AND r.valid @> (CURRENT_DATE + 30) AND h.holders_in_30_days < r.min_holders
                     THEN 'upcoming' END AS gap
      FROM subjects s
      JOIN @extschema@.certification_requirement r ON r.tenant_id = s.tenant_id AND r.id = s.requirement_id
     CROSS JOIN LATERAL (
        SELECT count(DISTINCT pg_catalog.lower(pg_catalog.btrim(c.holder_name)))
                   FILTER (WHERE c.issued_on <= CURRENT_DATE AND (c.expires_on IS NULL OR c.expires_on >= CURRENT_DATE))::integer
                   AS holders,
               count(DISTINCT pg_catalog.lower(pg_catalog.btrim(c.holder_name)))
                   FILTER (WHERE c.issued_on <= CURRENT_DATE + 30
                             AND (c.expires_on IS NULL OR c.expires_on >= CURRENT_DATE + 30))::integer AS holders_in_30_days,
               min(c.expires_on) FILTER (WHERE c.issued_on <= CURRENT_DATE AND c.expires_on >= CURRENT_DATE) AS next_expiry
          FROM @extschema@.certificate c
         WHERE c.tenant_id = s.tenant_id AND c.partner_id = s.partner_id AND c.certification_id = r.certification_id
           AND c.status = 'valid') h
     WHERE r.valid && pg_catalog.daterange(CURRENT_DATE, CURRENT_DATE + 31)
)
SELECT j.tenant_id, j.partner_id, p.code AS partner_code, p.name AS partner_name, j.gap, j.requirement_id,
       CASE WHEN j.grade_id IS NOT NULL THEN 'grade' WHEN j.product_id IS NOT NULL THEN 'product' ELSE 'category' END
           AS required_for,
       j.grade_id, g.code AS grade_code, j.product_id, pr.sku AS product_sku, j.category_id, pc.code AS category_code,
       j.certification_id, cf.code AS certification_code, j.min_holders, j.holders, j.holders_in_30_days, j.next_expiry,
       j.valid AS requirement_valid, j.last_sold_on
  FROM judged j
  JOIN @extschema@.partner p ON p.tenant_id = j.tenant_id AND p.id = j.partner_id
  JOIN @extschema@.certification cf ON cf.tenant_id = j.tenant_id AND cf.id = j.certification_id
  LEFT JOIN @extschema@.partner_grade g ON g.tenant_id = j.tenant_id AND g.id = j.grade_id
  LEFT JOIN @extschema@.product pr ON pr.tenant_id = j.tenant_id AND pr.id = j.product_id
  LEFT JOIN @extschema@.product_category pc ON pc.tenant_id = j.tenant_id AND pc.id = j.category_id
 WHERE j.gap IS NOT NULL AND p.state NOT IN ('exited', 'rejected');
COMMENT ON VIEW @extschema@.v_certification_gaps IS
    'Partners short of a certification requirement, or about to be: of the grade they hold, and of the products (categories) they sold in the last 90 days; rows the reader may see';
COMMENT ON COLUMN @extschema@.v_certification_gaps.tenant_id IS 'The tenant';
COMMENT ON COLUMN @extschema@.v_certification_gaps.partner_id IS 'The partner short of the requirement';
COMMENT ON COLUMN @extschema@.v_certification_gaps.partner_code IS 'Its code';
COMMENT ON COLUMN @extschema@.v_certification_gaps.partner_name IS 'Its name';
COMMENT ON COLUMN @extschema@.v_certification_gaps.requirement_id IS 'The requirement (rebate.certification_requirement)';
COMMENT ON COLUMN @extschema@.v_certification_gaps.grade_id IS 'For a grade requirement: the grade (the one the partner holds)';
COMMENT ON COLUMN @extschema@.v_certification_gaps.grade_code IS 'Its code';
COMMENT ON COLUMN @extschema@.v_certification_gaps.product_id IS 'For a product requirement: the product';
COMMENT ON COLUMN @extschema@.v_certification_gaps.category_id IS 'For a category requirement: the category';
COMMENT ON COLUMN @extschema@.v_certification_gaps.certification_id IS 'The certification required';
COMMENT ON COLUMN @extschema@.v_certification_gaps.certification_code IS 'Its code';
COMMENT ON COLUMN @extschema@.v_certification_gaps.gap IS
    'missing: in force and not met today; expiring: met today, not in 30 days (certificates expire); upcoming: in force within 30 days and not met then';
COMMENT ON COLUMN @extschema@.v_certification_gaps.required_for IS 'grade (the grade the partner holds), product or category (sold in the last 90 days)';
COMMENT ON COLUMN @extschema@.v_certification_gaps.product_sku IS 'For a product requirement: the product''s SKU';
COMMENT ON COLUMN @extschema@.v_certification_gaps.category_code IS 'For a category requirement: the category''s code (it covers the products below it)';
COMMENT ON COLUMN @extschema@.v_certification_gaps.min_holders IS 'How many people of the partner must hold a valid certificate';
COMMENT ON COLUMN @extschema@.v_certification_gaps.holders IS 'How many hold one today';
COMMENT ON COLUMN @extschema@.v_certification_gaps.holders_in_30_days IS 'How many will hold one in 30 days, as the certificates stand';
COMMENT ON COLUMN @extschema@.v_certification_gaps.next_expiry IS 'The earliest expiry among the partner''s valid certificates of the certification';
COMMENT ON COLUMN @extschema@.v_certification_gaps.requirement_valid IS 'When the requirement is in force';
COMMENT ON COLUMN @extschema@.v_certification_gaps.last_sold_on IS 'For product and category requirements: the last day (of the last 90) the partner sold a product it covers';
GRANT SELECT ON @extschema@.v_certification_gaps TO rebate_admin, rebate_manager, rebate_partner;

-- The order-line policy (src/region_policy.c) caches the requirements that
-- cover each product and each partner's certificates: a change to them tells
-- every session.
CREATE TRIGGER policy_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.certification_requirement
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_changed();
CREATE TRIGGER policy_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.certification
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_changed();
CREATE TRIGGER policy_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.certificate
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_changed();

-- scoring withholds an upgrade to a grade whose certification the partner lacks
-- Scores of a tenant's partners for one period of its active model, ranked,
-- graded, with the grade change the model suggests.  SECURITY DEFINER so that
-- a partner user sees its own position among all partners (ranks and the
-- distribution need everyone's numbers).  Inside it current_user is the
-- owner, so what the caller may see is decided for rebate.acting_role() (as
-- audit does): the rows the tenant_read policies would show that role, and
-- the margin KPIs only if it may read order_line.unit_cost.
CREATE OR REPLACE FUNCTION @extschema@.partner_scores(tenant_id bigint, period daterange)
    RETURNS TABLE (period_name text, partner_id bigint, partner_code text, partner_name text, ranking_region_id bigint,
                   kpis @extschema@.kpis, kpi_values jsonb, scores jsonb, total numeric, rank_in_tenant bigint,
                   rank_in_region bigint, band_grade text, current_grade text, suggested_grade text, change text,
                   reason text)
    LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    m        @extschema@.scoring_model;
    caller   name := @extschema@.acting_role();
    bound    record := @extschema@.binding_of(caller);
    admin    boolean := @extschema@.role_is_admin(caller);
    manager  boolean := @extschema@.manages_tenant(caller, partner_scores.tenant_id);
    user_of  bigint := CASE WHEN coalesce(bound.tenant_id = partner_scores.tenant_id, false) THEN bound.partner_id END;
    costs    boolean := pg_catalog.has_column_privilege(caller, '@extschema@.order_line'::regclass, 'unit_cost', 'SELECT');
    hidden   boolean;
    history  integer;
BEGIN
    -- another tenant's model is treated exactly like none
    SELECT * INTO m FROM @extschema@.scoring_model sm
     WHERE sm.tenant_id = partner_scores.tenant_id AND sm.active AND (admin OR manager OR user_of IS NOT NULL);
    IF m.id IS NULL THEN
        RAISE EXCEPTION 'tenant % has no active scoring model', partner_scores.tenant_id
            USING ERRCODE = 'no_data_found', HINT = 'Define one in rebate.scoring_model and set active = true.';
    END IF;
    IF lower_inf(partner_scores.period)
       OR partner_scores.period <> @extschema@.period_of(m.period_unit, lower(partner_scores.period)) THEN
        RAISE EXCEPTION 'period % is not one % of scoring model %', partner_scores.period, m.period_unit, pg_catalog.quote_ident(m.code)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = pg_catalog.format('Score a whole %s, e.g. %s.', m.period_unit,
                                           @extschema@.period_of(m.period_unit, coalesce(lower(partner_scores.period), CURRENT_DATE)));
    END IF;
    PERFORM @extschema@.check_scoring_model(m.id);
    -- a model that weights margins: its total, and all that follows from it (band,
    -- ranks, suggestion, the trail of totals), would give them away to a reader
    -- who may not read costs
    hidden := NOT costs AND EXISTS (SELECT 1 FROM @extschema@.scoring_kpi k
                                     WHERE k.model_id = m.id AND k.kpi = ANY (@extschema@.metric_names('needs_cost')));
    history := greatest(m.promote_after, m.demote_after);
    RETURN QUERY
        WITH scored AS (
            SELECT h.i, s.*, g.code AS band_code, g.rank AS band_rank
              FROM pg_catalog.generate_series(0, history - 1) AS h (i)
             CROSS JOIN LATERAL @extschema@.score_period(m, @extschema@.period_before(partner_scores.period, m.period_unit, h.i)) s
              LEFT JOIN @extschema@.partner_grade g ON g.id = s.band_grade_id
        ), now AS (
            SELECT s.*, pa.code, pa.name, @extschema@.ranking_region(hr.path) AS region_id,
                   cg.code AS current_code, cg.rank AS current_rank,
                   rank() OVER (ORDER BY s.total DESC NULLS LAST) AS rank_in_tenant,
                   rank() OVER (PARTITION BY @extschema@.ranking_region(hr.path)
                                ORDER BY s.total DESC NULLS LAST) AS rank_in_region
              FROM scored s
              JOIN @extschema@.partner pa ON pa.id = s.partner_id
              LEFT JOIN @extschema@.region hr ON hr.id = pa.home_region_id
              LEFT JOIN @extschema@.partner_grade cg ON cg.id = pa.grade_id
             WHERE s.i = 0
        ), runs AS (
            -- the last promote_after (demote_after) periods' bands against the current grade
            SELECT n.partner_id,
                   count(*) FILTER (WHERE s.i < m.promote_after AND s.band_rank < n.current_rank) = m.promote_after AS up,
                   count(*) FILTER (WHERE s.i < m.demote_after AND s.band_rank > n.current_rank) = m.demote_after AS down,
                   max(s.band_rank) FILTER (WHERE s.i < m.promote_after) AS up_to,
                   min(s.band_rank) FILTER (WHERE s.i < m.demote_after) AS down_to,
                   pg_catalog.string_agg(pg_catalog.format('%s %s (%s)',
                                             @extschema@.period_label(@extschema@.period_before(partner_scores.period, m.period_unit, s.i), m.period_unit),
                                             coalesce(pg_catalog.trim_scale(s.total)::text, 'no score'), coalesce(s.band_code, '-')),
                                         ', ' ORDER BY s.i DESC) AS trail
              FROM now n JOIN scored s ON s.partner_id = n.partner_id
             GROUP BY n.partner_id
        )
        SELECT @extschema@.period_label(partner_scores.period, m.period_unit), n.partner_id, n.code, n.name, n.region_id,
               CASE WHEN costs THEN n.kpis
                    ELSE ROW((n.kpis).net_sales, (n.kpis).gross_sales, (n.kpis).returns, (n.kpis).credit_notes, NULL, NULL,
                             (n.kpis).quantity, (n.kpis).lines, (n.kpis).orders, (n.kpis).average_order_value,
                             (n.kpis).return_rate, (n.kpis).collected, (n.kpis).collection_rate, (n.kpis).payments,
                             (n.kpis).promised_deliveries, (n.kpis).on_time_deliveries, (n.kpis).on_time_rate,
                             (n.kpis).products)::@extschema@.kpis END,
               CASE WHEN costs THEN n.kpi_values ELSE n.kpi_values - @extschema@.metric_names('needs_cost') END,
               CASE WHEN costs THEN n.scores ELSE n.scores - @extschema@.metric_names('needs_cost') END,
               CASE WHEN NOT hidden THEN pg_catalog.trim_scale(n.total) END,
               CASE WHEN NOT hidden THEN n.rank_in_tenant END, CASE WHEN NOT hidden THEN n.rank_in_region END,
               CASE WHEN NOT hidden THEN n.band_code END, n.current_code,
               CASE WHEN hidden OR w.lacking IS NOT NULL THEN NULL
                    WHEN n.current_rank IS NULL THEN n.band_code
                    WHEN r.up THEN (SELECT g.code FROM @extschema@.partner_grade g WHERE g.tenant_id = m.tenant_id AND g.rank = r.up_to)
                    WHEN r.down THEN (SELECT g.code FROM @extschema@.partner_grade g WHERE g.tenant_id = m.tenant_id AND g.rank = r.down_to)
               END,
               CASE WHEN hidden OR n.band_code IS NULL THEN NULL WHEN w.lacking IS NOT NULL THEN 'withheld'
                    WHEN n.current_rank IS NULL THEN 'assign' WHEN r.up THEN 'upgrade' WHEN r.down THEN 'downgrade' END,
               CASE WHEN hidden THEN 'scored with margins, which this role may not read'
                    WHEN n.band_code IS NULL THEN 'no KPI could be scored'
                    WHEN n.current_rank IS NULL THEN pg_catalog.format('no grade yet; band %s: %s', n.band_code, r.trail)
                    WHEN r.up THEN pg_catalog.format('in a better band than %s for %s consecutive %s(s): %s',
                                                     n.current_code, m.promote_after, m.period_unit, r.trail)
                    WHEN r.down THEN pg_catalog.format('in a worse band than %s for %s consecutive %s(s): %s',
                                                       n.current_code, m.demote_after, m.period_unit, r.trail)
                    ELSE pg_catalog.format('stays %s: %s', n.current_code, r.trail) END
               || CASE WHEN w.lacking IS NOT NULL
                       THEN pg_catalog.format('; %s %s withheld: certification not held: %s',
                                              CASE WHEN n.current_rank IS NULL THEN 'assigning' ELSE 'upgrade to' END,
                                              w.grade_code, w.lacking)
                       ELSE '' END
          FROM now n JOIN runs r ON r.partner_id = n.partner_id
          -- an assignment or upgrade to a grade whose certification requirements (rebate.certification_requirement)
          -- the partner does not meet today is withheld, with what it lacks: giving it would be refused (RB025)
          LEFT JOIN LATERAL (
              SELECT g.code AS grade_code,
                     (SELECT pg_catalog.string_agg(pg_catalog.format('%s (%s of %s holders)', mc.certification_code,
                                                                     mc.holders, mc.min_holders),
                                                   ', ' ORDER BY mc.certification_code)
                        FROM @extschema@.grade_missing_certifications(n.partner_id, g.id, CURRENT_DATE) mc) AS lacking
                FROM @extschema@.partner_grade g
               WHERE NOT hidden AND n.band_code IS NOT NULL AND g.tenant_id = m.tenant_id
                 AND g.rank = CASE WHEN n.current_rank IS NULL THEN n.band_rank WHEN r.up THEN r.up_to END) w ON true
         WHERE admin OR manager
            OR EXISTS (SELECT 1 FROM @extschema@.partner v
                        WHERE v.id = n.partner_id AND v.tenant_id = m.tenant_id AND v.path @> ARRAY[user_of])
         ORDER BY CASE WHEN NOT hidden THEN n.rank_in_tenant END, n.code;
END
$$;
COMMENT ON FUNCTION @extschema@.partner_scores(bigint, daterange) IS
    'Each partner''s KPIs, scores, weighted total, rank in the tenant and in its region, grade band, and the upgrade or downgrade the tenant''s active scoring model suggests for the period, with the reason (an upgrade the partner lacks certificates for is withheld); rows the caller may see';


-- ---- issue 18: inventory (inventory.sql, stock_age.sql, forecast.sql, inventory_flows.sql)
-- ---------------------------------------------------------------------------
-- Inventory (库存): the warehouses of the brand (central, regional) and of
-- its partners, an append-only stock ledger, and the balances kept from it.
--
-- Every unit that moves is one row of rebate.stock_movement: dated, signed
-- (in positive, out negative), linked to the document that moved it, and
-- never changed afterwards.  A count does not rewrite history: it adds the
-- difference as an adjustment (rebate.record_stock_count).  The ledger is
-- its own audit trail: who wrote each row and when are columns of the row.
--
-- rebate.stock_balance is the rollup read often: the quantity on hand of
-- each warehouse x product, kept by one statement-level trigger in the
-- writing transaction (one upsert per item a statement touches, in key
-- order, so concurrent writers never deadlock on it and a rollback leaves no
-- trace).  Stock at a past date is summed from the ledger through its
-- covering index.  Stock age (FIFO, rebate.stock_age, C), turnover and the
-- inventory KPIs are computed from the ledger.
--
-- Who sees what: a partner sees its own warehouses' stock; the brand's
-- managers see the brand's warehouses, and a partner's only while the
-- partner shares it (rebate.stock_sharing, or a contract in force that says
-- so: 企业也可查看渠道商的库存数据(需授权)).  A partner sharing its stock
-- shares it with the partners above it too.  docs/inventory.md describes it.
-- ---------------------------------------------------------------------------

-- Per-tenant choices; a tenant without a row has the defaults.
CREATE TABLE @extschema@.inventory_setting (
    id                 bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id          bigint PRIMARY KEY DEFAULT @extschema@.current_tenant_id()
                       REFERENCES @extschema@.tenant ON DELETE CASCADE,
    negative_stock     text NOT NULL DEFAULT 'reject' CHECK (negative_stock IN ('reject', 'allow')),
    slow_moving_days   integer NOT NULL DEFAULT 90 CHECK (slow_moving_days BETWEEN 1 AND 3650),
    overstock_days     integer NOT NULL DEFAULT 120 CHECK (overstock_days BETWEEN 1 AND 3650),
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE UNIQUE INDEX inventory_setting_by_id ON @extschema@.inventory_setting (id);
COMMENT ON TABLE @extschema@.inventory_setting IS
    'How a tenant runs its inventory; a tenant without a row has the defaults';
COMMENT ON COLUMN @extschema@.inventory_setting.negative_stock IS
    'reject (default): a movement that takes a warehouse''s stock of a product below zero is refused (RB100); allow: accepted';
COMMENT ON COLUMN @extschema@.inventory_setting.slow_moving_days IS
    'An item with stock and no sale (sell-out or shipment) for this many days is slow-moving (呆滞; default 90)';
COMMENT ON COLUMN @extschema@.inventory_setting.overstock_days IS
    'An item whose stock lasts longer than this many days at its recent rate of sale is overstocked (default 120)';

CREATE FUNCTION @extschema@.inventory_settings(tenant_id bigint, OUT negative_stock text, OUT slow_moving_days integer,
                                               OUT overstock_days integer)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(x.negative_stock, 'reject'), coalesce(x.slow_moving_days, 90), coalesce(x.overstock_days, 120)
      FROM (SELECT inventory_settings.tenant_id AS t) k
      LEFT JOIN @extschema@.inventory_setting x ON x.tenant_id = k.t
$$;
COMMENT ON FUNCTION @extschema@.inventory_settings(bigint) IS
    'A tenant''s inventory settings, the defaults where it has no row';

-- ---- warehouses ----

CREATE TABLE @extschema@.warehouse (
    id           bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code         text NOT NULL CHECK (btrim(code) <> ''),
    name         text NOT NULL CHECK (btrim(name) <> ''),
    kind         text NOT NULL DEFAULT 'partner' CHECK (kind IN ('central', 'regional', 'partner')),
    partner_id   bigint DEFAULT @extschema@.current_partner_id(),
    -- the owner as a key: 0 for the brand, so a movement's warehouse and owner are one foreign key
    owner_key    bigint NOT NULL GENERATED ALWAYS AS (coalesce(partner_id, 0)) STORED,
    region_id    bigint NOT NULL,
    address      text,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    CONSTRAINT warehouse_owner_key UNIQUE (tenant_id, id, owner_key),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    CONSTRAINT warehouse_owner_kind CHECK ((kind = 'partner') = (partner_id IS NOT NULL))
);
CREATE UNIQUE INDEX warehouse_by_id ON @extschema@.warehouse (id);
CREATE INDEX warehouse_partner ON @extschema@.warehouse (tenant_id, partner_id);
CREATE INDEX warehouse_region ON @extschema@.warehouse (tenant_id, region_id);
COMMENT ON TABLE @extschema@.warehouse IS
    'Warehouses (仓库): the brand''s central and regional ones (partner_id NULL) and each partner''s own, with the region they stand in';
COMMENT ON COLUMN @extschema@.warehouse.kind IS 'central or regional (the brand''s), partner (a partner''s own)';
COMMENT ON COLUMN @extschema@.warehouse.partner_id IS 'The partner owning the warehouse; NULL for the brand''s (defaults to the writer''s partner)';
COMMENT ON COLUMN @extschema@.warehouse.owner_key IS 'partner_id, or 0 for the brand (maintained; the key movements refer to)';
COMMENT ON COLUMN @extschema@.warehouse.region_id IS 'The region the warehouse stands in: stock by region is counted here, transfers are judged against it';
COMMENT ON COLUMN @extschema@.warehouse.active IS 'An inactive warehouse keeps its ledger but takes no new transfers or shipments';

-- ---- sharing ----

-- A partner's consent that the brand (and the partners above it) see its
-- stock.  The partner's users grant it (insert) and withdraw it (delete).
CREATE TABLE @extschema@.stock_sharing (
    id           bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id   bigint NOT NULL DEFAULT @extschema@.current_partner_id(),
    granted_by   name NOT NULL DEFAULT @extschema@.acting_role(),
    note         text,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, partner_id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id)
);
CREATE UNIQUE INDEX stock_sharing_by_id ON @extschema@.stock_sharing (id);
COMMENT ON TABLE @extschema@.stock_sharing IS
    'A partner''s consent that the brand''s managers and the partners above it see its stock (库存共享授权); deleting the row withdraws it';
COMMENT ON COLUMN @extschema@.stock_sharing.granted_by IS 'The role that gave the consent (the server''s to say)';

-- The partners of the caller's tenant whose stock the caller's tenant may
-- see: those that consented, and those whose contract in force today says
-- they share it.  (PL/pgSQL: partner_contract comes later in the install.)
-- Read as  partner_id IN (SELECT rebate.stock_shared_partners())  the set
-- is computed once per statement and probed by hash.
CREATE FUNCTION @extschema@.stock_shared_partners() RETURNS SETOF bigint
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
        SELECT s.partner_id FROM @extschema@.stock_sharing s
         WHERE s.tenant_id = (SELECT @extschema@.current_tenant_id())
        UNION
        SELECT c.partner_id FROM @extschema@.partner_contract c
         WHERE c.tenant_id = (SELECT @extschema@.current_tenant_id())
           AND c.shares_stock AND c.status = 'active' AND c.effective @> CURRENT_DATE;
END
$$;
COMMENT ON FUNCTION @extschema@.stock_shared_partners() IS
    'The partners of the caller''s tenant that share their stock: by consent (rebate.stock_sharing) or by a contract in force with shares_stock';

-- Whether a partner shares its stock, for code that runs as the owner (the
-- KPIs inside partner_scores, the definer functions): false for a tenant the
-- acting role does not see, so it tells nobody about another brand.
CREATE FUNCTION @extschema@.shares_stock(tenant_id bigint, partner_id bigint) RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN @extschema@.sees_tenant(@extschema@.acting_role(), shares_stock.tenant_id)
       AND (EXISTS (SELECT 1 FROM @extschema@.stock_sharing s
                     WHERE s.tenant_id = shares_stock.tenant_id AND s.partner_id = shares_stock.partner_id)
            OR EXISTS (SELECT 1 FROM @extschema@.partner_contract c
                        WHERE c.tenant_id = shares_stock.tenant_id AND c.partner_id = shares_stock.partner_id
                          AND c.shares_stock AND c.status = 'active' AND c.effective @> CURRENT_DATE));
END
$$;
COMMENT ON FUNCTION @extschema@.shares_stock(bigint, bigint) IS
    'Whether a partner shares its stock today (consent or a contract in force); false for a tenant the acting role does not see';

-- ---- the ledger ----

CREATE TABLE @extschema@.stock_movement (
    id           bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    warehouse_id bigint NOT NULL,
    partner_id   bigint DEFAULT @extschema@.current_partner_id(),
    owner_key    bigint NOT NULL GENERATED ALWAYS AS (coalesce(partner_id, 0)) STORED,
    product_id   bigint NOT NULL,
    moved_on     date NOT NULL DEFAULT CURRENT_DATE,
    kind         text NOT NULL CHECK (kind IN ('receipt', 'delivery', 'return_in', 'customer_return', 'transfer_in',
                                               'shipment', 'return_out', 'sell_out', 'transfer_out', 'scrap',
                                               'adjustment', 'count_adjustment')),
    quantity     numeric(18,4) NOT NULL CHECK (quantity <> 0),
    source       text NOT NULL DEFAULT 'entry' CHECK (source IN ('entry', 'report', 'shipment', 'transfer', 'count')),
    source_id    bigint,
    reference    text,
    recorded_by  name NOT NULL DEFAULT @extschema@.acting_role(),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, warehouse_id, owner_key) REFERENCES @extschema@.warehouse (tenant_id, id, owner_key),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id),
    CONSTRAINT stock_movement_direction CHECK (
        CASE WHEN kind IN ('receipt', 'delivery', 'return_in', 'customer_return', 'transfer_in') THEN quantity > 0
             WHEN kind IN ('shipment', 'return_out', 'sell_out', 'transfer_out', 'scrap') THEN quantity < 0
             ELSE true END),
    CONSTRAINT stock_movement_linked CHECK ((source IN ('entry', 'report')) = (source_id IS NULL))
);
CREATE UNIQUE INDEX stock_movement_by_id ON @extschema@.stock_movement (id);
-- one item's history in date order, quantities in the index: stock at a date is an index-only sum
CREATE INDEX stock_movement_item ON @extschema@.stock_movement (tenant_id, warehouse_id, product_id, moved_on)
    INCLUDE (quantity, kind);
CREATE INDEX stock_movement_source ON @extschema@.stock_movement (tenant_id, source, source_id) WHERE source_id IS NOT NULL;
COMMENT ON TABLE @extschema@.stock_movement IS
    'The stock ledger (库存台账): every movement of goods into (positive) or out of (negative) a warehouse, dated and linked to its document; append-only';
COMMENT ON COLUMN @extschema@.stock_movement.partner_id IS 'The warehouse''s owner (NULL: the brand); defaults to the writer''s partner';
COMMENT ON COLUMN @extschema@.stock_movement.owner_key IS 'partner_id or 0 (maintained): the movement''s warehouse belongs to its owner';
COMMENT ON COLUMN @extschema@.stock_movement.moved_on IS 'The day the goods moved (stock at a date counts the movements up to it)';
COMMENT ON COLUMN @extschema@.stock_movement.kind IS
    'In: receipt (入库), delivery (an order delivered), return_in (a return received by the brand), customer_return (退货 from an end customer), transfer_in (调入); out: shipment (an order shipped), return_out (goods sent back to the brand), sell_out (销售出库 to end customers), transfer_out (调出), scrap (报损); either: adjustment, count_adjustment (盘点差异)';
COMMENT ON COLUMN @extschema@.stock_movement.quantity IS 'Units moved: positive in, negative out (the kind says which)';
COMMENT ON COLUMN @extschema@.stock_movement.source IS
    'The document: entry (typed in), report (a partner system''s report), shipment, transfer, count (with source_id)';
COMMENT ON COLUMN @extschema@.stock_movement.source_id IS 'The rebate.shipment, rebate.stock_transfer or rebate.stock_count that moved the goods';
COMMENT ON COLUMN @extschema@.stock_movement.reference IS 'The external document number (delivery note, sell-out report line)';
COMMENT ON COLUMN @extschema@.stock_movement.recorded_by IS 'The role that wrote the movement';

-- The balances: the sum of the ledger per warehouse x product, kept by
-- rebate.maintain_stock_balance.  quantity = sum(stock_movement.quantity),
-- always (rebate.verify_stock proves it, rebate.rebuild_stock_balances
-- repairs it).
CREATE TABLE @extschema@.stock_balance (
    tenant_id        bigint NOT NULL REFERENCES @extschema@.tenant,
    warehouse_id     bigint NOT NULL,
    product_id       bigint NOT NULL,
    partner_id       bigint,
    quantity         numeric NOT NULL,
    movements        bigint NOT NULL,
    last_inbound_on  date,
    last_outbound_on date,
    last_sale_on     date,
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, warehouse_id, product_id)
);
CREATE INDEX stock_balance_partner ON @extschema@.stock_balance (tenant_id, partner_id, product_id);
COMMENT ON TABLE @extschema@.stock_balance IS
    'Stock on hand now (现有库存) per warehouse and product: the sum of the ledger, kept in the writing transaction';
COMMENT ON COLUMN @extschema@.stock_balance.partner_id IS 'The warehouse''s owner (NULL: the brand)';
COMMENT ON COLUMN @extschema@.stock_balance.quantity IS 'Units on hand: the sum of the item''s movements';
COMMENT ON COLUMN @extschema@.stock_balance.movements IS 'How many movements the item has';
COMMENT ON COLUMN @extschema@.stock_balance.last_inbound_on IS 'The latest day goods came in';
COMMENT ON COLUMN @extschema@.stock_balance.last_outbound_on IS 'The latest day goods went out';
COMMENT ON COLUMN @extschema@.stock_balance.last_sale_on IS 'The latest day of a sale: a sell-out, or a shipment from the brand';

-- Stock comes in (+) or goes out (-) by a movement's kind; sales are what
-- turnover and the forecast count.
CREATE FUNCTION @extschema@.stock_sale_kinds() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT '{sell_out,shipment}'::text[] $$;
COMMENT ON FUNCTION @extschema@.stock_sale_kinds() IS
    'The movement kinds that are sales out of a warehouse (turnover, sell-through and the demand forecast count them): sell_out, shipment';

-- AFTER INSERT ... FOR EACH STATEMENT on stock_movement.  One upsert adds
-- the statement's movements to the balances, one row per item in key order
-- (two writers lock the items they share in the same order: no deadlock;
-- the lock is held to commit, so the negative-stock check sees every
-- committed movement), and counts what needs more: items taken below zero
-- (refused where the tenant refuses negative stock: RB100) and items that
-- crossed zero.  Only then, or when a warehouse written has thresholds, are
-- the alerts judged: the common statement pays for the upsert alone.  SECURITY DEFINER: the writer may not write
-- balances, alerts or notifications.
CREATE FUNCTION @extschema@.maintain_stock_balance() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    negative bigint;
    crossed bigint;
    short record;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'maintain_stock_balance only serves rebate.stock_movement' USING ERRCODE = 'insufficient_privilege';
    END IF;
    WITH delta AS (
        SELECT m.tenant_id, m.warehouse_id, m.product_id, min(m.partner_id) AS partner_id,
               sum(m.quantity) AS quantity, count(*) AS movements,
               max(m.moved_on) FILTER (WHERE m.quantity > 0) AS last_in,
               max(m.moved_on) FILTER (WHERE m.quantity < 0) AS last_out,
               max(m.moved_on) FILTER (WHERE m.kind = ANY (@extschema@.stock_sale_kinds())) AS last_sale
          FROM moved m
         GROUP BY m.tenant_id, m.warehouse_id, m.product_id
         ORDER BY m.tenant_id, m.warehouse_id, m.product_id
    ), upserted AS (
        INSERT INTO @extschema@.stock_balance AS b
               (tenant_id, warehouse_id, product_id, partner_id, quantity, movements, last_inbound_on,
                last_outbound_on, last_sale_on)
        SELECT d.tenant_id, d.warehouse_id, d.product_id, d.partner_id, d.quantity, d.movements, d.last_in,
               d.last_out, d.last_sale
          FROM delta d
        ON CONFLICT (tenant_id, warehouse_id, product_id) DO UPDATE
           SET quantity = b.quantity + excluded.quantity,
               movements = b.movements + excluded.movements,
               last_inbound_on = GREATEST(b.last_inbound_on, excluded.last_inbound_on),
               last_outbound_on = GREATEST(b.last_outbound_on, excluded.last_outbound_on),
               last_sale_on = GREATEST(b.last_sale_on, excluded.last_sale_on),
               updated_at = pg_catalog.now()
        RETURNING b.tenant_id, b.warehouse_id, b.product_id, b.quantity
    )
    SELECT count(*) FILTER (WHERE u.quantity < 0 AND d.quantity < 0),
           count(*) FILTER (WHERE (u.quantity <= 0) <> (u.quantity - d.quantity <= 0))
      INTO negative, crossed
      FROM upserted u JOIN delta d USING (tenant_id, warehouse_id, product_id);

    IF negative > 0 THEN
        SELECT b.warehouse_id, b.product_id, b.quantity - d.quantity AS before, b.quantity AS after INTO short
          FROM (SELECT m.tenant_id, m.warehouse_id, m.product_id, sum(m.quantity) AS quantity FROM moved m
                 GROUP BY m.tenant_id, m.warehouse_id, m.product_id) d
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
    END IF;
    IF crossed > 0 OR EXISTS (SELECT 1 FROM @extschema@.stock_threshold t
                               WHERE (t.tenant_id, t.warehouse_id) IN (SELECT m.tenant_id, m.warehouse_id FROM moved m)) THEN
        -- the alerts: each level an item has, held before and after this statement; one open alert per
        -- item and kind, raised when a level is crossed into, cleared when it is left
        WITH changed AS (
            SELECT d.tenant_id, d.warehouse_id, d.product_id, b.partner_id, b.quantity - d.quantity AS before,
                   b.quantity AS after
              FROM (SELECT m.tenant_id, m.warehouse_id, m.product_id, sum(m.quantity) AS quantity FROM moved m
                     GROUP BY m.tenant_id, m.warehouse_id, m.product_id) d
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
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.maintain_stock_balance() IS
    'AFTER INSERT statement trigger on stock_movement: adds the movements to rebate.stock_balance, refuses negative stock (RB100) where the tenant does, and has the alerts judged where an item crossed zero or has thresholds';

-- The ledger is append-only: a movement is corrected by another movement.
CREATE FUNCTION @extschema@.refuse_ledger_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'stock movements are never changed or removed'
          USING ERRCODE = 'RB101',
                HINT = 'Correct a movement with another one: an adjustment, or a count (rebate.record_stock_count).';
END
$$;
COMMENT ON FUNCTION @extschema@.refuse_ledger_change() IS
    'BEFORE UPDATE, DELETE and TRUNCATE trigger of the stock ledger: refuses every change (RB101)';

CREATE TRIGGER maintain_balance AFTER INSERT ON @extschema@.stock_movement
    REFERENCING NEW TABLE AS moved FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.maintain_stock_balance();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON @extschema@.stock_movement
    FOR EACH ROW EXECUTE FUNCTION @extschema@.refuse_ledger_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON @extschema@.stock_movement
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.refuse_ledger_change();

-- ---- safety stock and alerts ----

-- A threshold for one product, or for every product of a category (and the
-- categories below it) in a warehouse: the product's own wins, then the
-- nearest category's.
CREATE TABLE @extschema@.stock_threshold (
    id             bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id      bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    warehouse_id   bigint NOT NULL,
    partner_id     bigint DEFAULT @extschema@.current_partner_id(),
    owner_key      bigint NOT NULL GENERATED ALWAYS AS (coalesce(partner_id, 0)) STORED,
    product_id     bigint,
    category_id    bigint,
    minimum        numeric(18,4) NOT NULL DEFAULT 0 CHECK (minimum >= 0),
    reorder_point  numeric(18,4) CHECK (reorder_point >= 0),
    maximum        numeric(18,4) CHECK (maximum > 0),
    cycle_days     integer NOT NULL DEFAULT 30 CHECK (cycle_days BETWEEN 1 AND 365),
    lead_days      integer NOT NULL DEFAULT 7 CHECK (lead_days BETWEEN 0 AND 365),
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, warehouse_id, owner_key) REFERENCES @extschema@.warehouse (tenant_id, id, owner_key),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id),
    FOREIGN KEY (tenant_id, category_id) REFERENCES @extschema@.product_category (tenant_id, id),
    CONSTRAINT stock_threshold_one_subject CHECK ((product_id IS NULL) <> (category_id IS NULL)),
    CONSTRAINT stock_threshold_order CHECK (reorder_point IS NULL OR reorder_point >= minimum),
    CONSTRAINT stock_threshold_maximum CHECK (maximum IS NULL OR maximum >= GREATEST(minimum, coalesce(reorder_point, 0)))
);
CREATE UNIQUE INDEX stock_threshold_by_id ON @extschema@.stock_threshold (id);
CREATE UNIQUE INDEX stock_threshold_product ON @extschema@.stock_threshold (tenant_id, warehouse_id, product_id)
    WHERE product_id IS NOT NULL;
CREATE UNIQUE INDEX stock_threshold_category ON @extschema@.stock_threshold (tenant_id, warehouse_id, category_id)
    WHERE category_id IS NOT NULL;
COMMENT ON TABLE @extschema@.stock_threshold IS
    'Safety stock (安全库存) of a warehouse for a product or a category: minimum, reorder point, maximum, replenishment cycle and lead time';
COMMENT ON COLUMN @extschema@.stock_threshold.minimum IS 'Safety stock: below it the item is short (alert below_minimum)';
COMMENT ON COLUMN @extschema@.stock_threshold.reorder_point IS 'Reorder point (再订货点): at or below it replenish (alert reorder)';
COMMENT ON COLUMN @extschema@.stock_threshold.maximum IS 'Most the warehouse should hold: above it the item is overstocked (alert above_maximum); suggestions fill up to it';
COMMENT ON COLUMN @extschema@.stock_threshold.cycle_days IS 'Days between replenishments: a suggestion covers the demand of lead_days + cycle_days';
COMMENT ON COLUMN @extschema@.stock_threshold.lead_days IS 'Days from ordering to receiving the goods';

-- The threshold that applies to each item of a warehouse: the product's own,
-- else the deepest category above the product that has one.
CREATE FUNCTION @extschema@.effective_threshold(tenant_id bigint, warehouse_id bigint, product_id bigint)
    RETURNS @extschema@.stock_threshold
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.*
      FROM @extschema@.stock_threshold t
      JOIN @extschema@.product p ON p.tenant_id = t.tenant_id AND p.id = effective_threshold.product_id
      LEFT JOIN @extschema@.product_category c ON c.tenant_id = p.tenant_id AND c.id = p.category_id
     WHERE t.tenant_id = effective_threshold.tenant_id AND t.warehouse_id = effective_threshold.warehouse_id
       AND (t.product_id = p.id OR t.category_id = ANY (c.path))
     ORDER BY t.product_id IS NULL, pg_catalog.array_position(c.path, t.category_id) DESC NULLS LAST
     LIMIT 1
$$;
COMMENT ON FUNCTION @extschema@.effective_threshold(bigint, bigint, bigint) IS
    'The safety-stock threshold of a warehouse x product: its own, else the nearest category''s; NULL when none';

CREATE TABLE @extschema@.stock_alert (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL REFERENCES @extschema@.tenant,
    warehouse_id  bigint NOT NULL,
    partner_id    bigint,
    owner_key     bigint NOT NULL GENERATED ALWAYS AS (coalesce(partner_id, 0)) STORED,
    product_id    bigint NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('out_of_stock', 'below_minimum', 'reorder', 'above_maximum')),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cleared')),
    quantity      numeric NOT NULL,
    threshold     numeric,
    raised_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    cleared_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, warehouse_id, owner_key) REFERENCES @extschema@.warehouse (tenant_id, id, owner_key),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id),
    CONSTRAINT stock_alert_cleared CHECK ((status = 'cleared') = (cleared_at IS NOT NULL))
);
CREATE UNIQUE INDEX stock_alert_by_id ON @extschema@.stock_alert (id);
-- one open alert of a kind per item
CREATE UNIQUE INDEX stock_alert_open ON @extschema@.stock_alert (tenant_id, warehouse_id, product_id, kind) WHERE status = 'open';
COMMENT ON TABLE @extschema@.stock_alert IS
    'Stock alerts (库存预警): an item ran out, fell below its safety stock or reorder point, or rose above its maximum; cleared when it no longer holds';
COMMENT ON COLUMN @extschema@.stock_alert.kind IS
    'out_of_stock (stock reached zero: every item), below_minimum, reorder (at or below the reorder point), above_maximum';
COMMENT ON COLUMN @extschema@.stock_alert.quantity IS 'Stock on hand when the alert was raised';
COMMENT ON COLUMN @extschema@.stock_alert.threshold IS 'The threshold crossed (NULL for out_of_stock)';

-- ---- reading stock ----

-- Stock on hand of items, now (from the balances) or at the end of a past
-- day (summed from the ledger), for a warehouse, a partner (and the partners
-- below it), a region (and the regions below it) and a product, each
-- optional.  Read with the caller's rights: what it may not see counts as
-- nothing.
CREATE FUNCTION @extschema@.stock_levels(on_date date DEFAULT NULL, warehouse_id bigint DEFAULT NULL,
                                         partner_id bigint DEFAULT NULL, region_id bigint DEFAULT NULL,
                                         product_id bigint DEFAULT NULL)
    RETURNS TABLE (warehouse_id bigint, partner_id bigint, region_id bigint, product_id bigint, on_hand numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH w AS (
        SELECT x.tenant_id, x.id, x.partner_id, x.region_id
          FROM @extschema@.warehouse x
         WHERE (stock_levels.warehouse_id IS NULL OR x.id = stock_levels.warehouse_id)
           AND (stock_levels.partner_id IS NULL
                OR x.partner_id IN (SELECT p.id FROM @extschema@.partner p WHERE p.path @> ARRAY[stock_levels.partner_id]))
           AND (stock_levels.region_id IS NULL
                OR x.region_id IN (SELECT r.id FROM @extschema@.region r WHERE r.path @> ARRAY[stock_levels.region_id]))
    )
    SELECT w.id, w.partner_id, w.region_id, b.product_id, b.quantity
      FROM w JOIN @extschema@.stock_balance b ON b.tenant_id = w.tenant_id AND b.warehouse_id = w.id
     WHERE stock_levels.on_date IS NULL
       AND (stock_levels.product_id IS NULL OR b.product_id = stock_levels.product_id)
    UNION ALL
    SELECT w.id, w.partner_id, w.region_id, m.product_id, sum(m.quantity)
      FROM w JOIN @extschema@.stock_movement m ON m.tenant_id = w.tenant_id AND m.warehouse_id = w.id
     WHERE stock_levels.on_date IS NOT NULL AND m.moved_on <= stock_levels.on_date
       AND (stock_levels.product_id IS NULL OR m.product_id = stock_levels.product_id)
     GROUP BY w.id, w.partner_id, w.region_id, m.product_id
$$;
COMMENT ON FUNCTION @extschema@.stock_levels(date, bigint, bigint, bigint, bigint) IS
    'Stock on hand per warehouse x product, now (on_date NULL) or at the end of a day, for a warehouse, partner subtree, region subtree and product (each optional); what the caller may not see counts as nothing';

-- Whether the acting role may see the stock of a warehouse owner (a partner,
-- or the brand: NULL) of a tenant, as the stock tables' row-level security
-- says: an administrator; the brand's managers for the brand's stock and
-- for partners sharing theirs; a partner's users for their own, and for the
-- partners below theirs that share.  Strictly true or false; a role acting
-- through a group role has no binding, so no stock.
CREATE FUNCTION @extschema@.may_see_stock(tenant_id bigint, owner_id bigint) RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    bound record := @extschema@.binding_of(@extschema@.acting_role());
BEGIN
    IF @extschema@.role_is_admin(actor) THEN
        RETURN true;
    ELSIF bound.tenant_id IS DISTINCT FROM may_see_stock.tenant_id THEN
        RETURN false;
    ELSIF coalesce(@extschema@.manages_tenant(actor, may_see_stock.tenant_id), false) THEN
        RETURN owner_id IS NULL OR @extschema@.shares_stock(may_see_stock.tenant_id, owner_id);
    ELSIF bound.partner_id IS NULL OR owner_id IS NULL THEN
        RETURN false;
    ELSIF owner_id = bound.partner_id THEN
        RETURN true;
    END IF;
    RETURN EXISTS (SELECT 1 FROM @extschema@.partner p
                    WHERE p.tenant_id = may_see_stock.tenant_id AND p.id = owner_id AND p.path @> ARRAY[bound.partner_id])
       AND @extschema@.shares_stock(may_see_stock.tenant_id, owner_id);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.may_see_stock(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.may_see_stock(bigint, bigint) IS
    'Internal: whether the acting role may see the stock of a partner (NULL: the brand) of a tenant, as the stock policies say; strictly true or false';

-- The stock of one item: the fast path for a portal or an ERP.  SECURITY
-- DEFINER with the stock policies' judgment made once (rebate.may_see_stock)
-- instead of row-level security's per statement: a few index lookups,
-- whatever the ledger's size and however many partners share.  What the
-- caller may not see counts as nothing, like what does not exist.
CREATE FUNCTION @extschema@.stock_on_hand(warehouse_id bigint, product_id bigint, on_date date DEFAULT NULL)
    RETURNS numeric
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w @extschema@.warehouse;
BEGIN
    SELECT x.* INTO w FROM @extschema@.warehouse x WHERE x.id = stock_on_hand.warehouse_id;
    IF w.id IS NULL OR NOT @extschema@.may_see_stock(w.tenant_id, w.partner_id) THEN
        RETURN 0;
    ELSIF stock_on_hand.on_date IS NULL THEN
        RETURN coalesce((SELECT b.quantity FROM @extschema@.stock_balance b
                          WHERE b.tenant_id = w.tenant_id AND b.warehouse_id = w.id
                            AND b.product_id = stock_on_hand.product_id), 0);
    END IF;
    RETURN coalesce((SELECT sum(m.quantity) FROM @extschema@.stock_movement m
                      WHERE m.tenant_id = w.tenant_id AND m.warehouse_id = w.id
                        AND m.product_id = stock_on_hand.product_id AND m.moved_on <= stock_on_hand.on_date), 0);
END
$$;
COMMENT ON FUNCTION @extschema@.stock_on_hand(bigint, bigint, date) IS
    'Units of a product in a warehouse now, or at the end of a day; 0 for a warehouse whose stock the caller may not see';

CREATE FUNCTION @extschema@.partner_stock(partner_id bigint, product_id bigint, on_date date DEFAULT NULL)
    RETURNS numeric
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant bigint := (SELECT p.tenant_id FROM @extschema@.partner p WHERE p.id = partner_stock.partner_id);
BEGIN
    IF tenant IS NULL OR NOT @extschema@.may_see_stock(tenant, partner_stock.partner_id) THEN
        RETURN 0;
    ELSIF partner_stock.on_date IS NULL THEN
        RETURN coalesce((SELECT sum(b.quantity) FROM @extschema@.stock_balance b
                          WHERE b.tenant_id = tenant AND b.partner_id = partner_stock.partner_id
                            AND b.product_id = partner_stock.product_id), 0);
    END IF;
    RETURN coalesce((SELECT sum(m.quantity) FROM @extschema@.warehouse w
                       JOIN @extschema@.stock_movement m ON m.tenant_id = w.tenant_id AND m.warehouse_id = w.id
                      WHERE w.tenant_id = tenant AND w.partner_id = partner_stock.partner_id
                        AND m.product_id = partner_stock.product_id AND m.moved_on <= partner_stock.on_date), 0);
END
$$;
COMMENT ON FUNCTION @extschema@.partner_stock(bigint, bigint, date) IS
    'Units of a product in all of a partner''s own warehouses, now or at the end of a day; 0 for a partner whose stock the caller may not see';

-- ---- counts (盘点) ----

CREATE TABLE @extschema@.stock_count (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    warehouse_id  bigint NOT NULL,
    partner_id    bigint,
    owner_key     bigint NOT NULL GENERATED ALWAYS AS (coalesce(partner_id, 0)) STORED,
    product_id    bigint NOT NULL,
    counted_on    date NOT NULL,
    counted       numeric(18,4) NOT NULL CHECK (counted >= 0),
    book          numeric NOT NULL,
    difference    numeric NOT NULL GENERATED ALWAYS AS (counted - book) STORED,
    counted_by    name NOT NULL DEFAULT @extschema@.acting_role(),
    note          text,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, warehouse_id, owner_key) REFERENCES @extschema@.warehouse (tenant_id, id, owner_key),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id)
);
CREATE UNIQUE INDEX stock_count_by_id ON @extschema@.stock_count (id);
CREATE INDEX stock_count_item ON @extschema@.stock_count (tenant_id, warehouse_id, product_id, counted_on);
COMMENT ON TABLE @extschema@.stock_count IS
    'Stock counts (盘点): what was counted against what the ledger said; the difference is booked as a count_adjustment movement';
COMMENT ON COLUMN @extschema@.stock_count.book IS 'Stock on hand by the ledger at the end of the count day, before the adjustment';
COMMENT ON COLUMN @extschema@.stock_count.difference IS 'counted - book: the adjustment booked (none when 0)';

-- Records a count of one item at the end of a day: the difference from the
-- ledger is booked as a count_adjustment dated that day.  Movements dated
-- after the count day are not touched: the count corrects the stock as of
-- its day, and later movements keep adding to it.  SECURITY DEFINER: the
-- item is locked (its balance row, which every writer of it locks too, made
-- empty for an item that has none) before its book is read, so no movement
-- slips between; whoever may book
-- the warehouse's movements counts it (its holder, or a manager where the
-- partner shares its stock; a group administrator), anyone else is told it
-- does not exist.
CREATE FUNCTION @extschema@.record_stock_count(warehouse_id bigint, product_id bigint, counted numeric,
                                               counted_on date DEFAULT CURRENT_DATE, note text DEFAULT NULL)
    RETURNS @extschema@.stock_count
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w @extschema@.warehouse;
    actor name := @extschema@.acting_role();
    bound record := @extschema@.binding_of(@extschema@.acting_role());
    result @extschema@.stock_count;
BEGIN
    SELECT x.* INTO w FROM @extschema@.warehouse x WHERE x.id = record_stock_count.warehouse_id;
    IF w.id IS NULL
       OR NOT (coalesce(bound.tenant_id = w.tenant_id AND bound.partner_id = w.partner_id, false)
               OR @extschema@.role_is_admin(actor)
               OR (coalesce(@extschema@.manages_tenant(actor, w.tenant_id), false)
                   AND (w.partner_id IS NULL OR @extschema@.shares_stock(w.tenant_id, w.partner_id)))) THEN
        RAISE EXCEPTION 'warehouse % does not exist or is not visible to you', record_stock_count.warehouse_id
              USING ERRCODE = 'no_data_found';
    END IF;
    -- the item's balance row, made (empty) for an item without one, is what every writer of the item locks
    INSERT INTO @extschema@.stock_balance (tenant_id, warehouse_id, product_id, partner_id, quantity, movements)
    VALUES (w.tenant_id, w.id, record_stock_count.product_id, w.partner_id, 0, 0)
    ON CONFLICT ON CONSTRAINT stock_balance_pkey DO NOTHING;
    PERFORM 1 FROM @extschema@.stock_balance b
      WHERE b.tenant_id = w.tenant_id AND b.warehouse_id = w.id AND b.product_id = record_stock_count.product_id
        FOR UPDATE;
    INSERT INTO @extschema@.stock_count (tenant_id, warehouse_id, partner_id, product_id, counted_on, counted, book, note,
                                         counted_by)
    VALUES (w.tenant_id, w.id, w.partner_id, record_stock_count.product_id, record_stock_count.counted_on,
            record_stock_count.counted,
            coalesce((SELECT sum(m.quantity) FROM @extschema@.stock_movement m
                       WHERE m.tenant_id = w.tenant_id AND m.warehouse_id = w.id
                         AND m.product_id = record_stock_count.product_id
                         AND m.moved_on <= record_stock_count.counted_on), 0),
            record_stock_count.note, actor)
    RETURNING * INTO result;
    IF result.difference <> 0 THEN
        INSERT INTO @extschema@.stock_movement (tenant_id, warehouse_id, partner_id, product_id, moved_on, kind, quantity,
                                                source, source_id)
        VALUES (w.tenant_id, w.id, w.partner_id, result.product_id, result.counted_on, 'count_adjustment',
                result.difference, 'count', result.id);
    ELSE
        -- nothing booked: an empty balance row made above goes again
        DELETE FROM @extschema@.stock_balance b
         WHERE b.tenant_id = w.tenant_id AND b.warehouse_id = w.id AND b.product_id = result.product_id
           AND b.movements = 0;
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.record_stock_count(bigint, bigint, numeric, date, text) IS
    'Records a stock count (盘点) of a warehouse x product at the end of a day and books the difference from the ledger as a count_adjustment dated that day (the warehouse''s holder, or a manager where the partner shares its stock)';

-- Proves balances == ledger for a tenant: the items where they differ (none).
CREATE FUNCTION @extschema@.verify_stock(tenant_id bigint)
    RETURNS TABLE (warehouse_id bigint, product_id bigint, balance numeric, ledger numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(b.warehouse_id, l.warehouse_id), coalesce(b.product_id, l.product_id), b.quantity, l.quantity
      FROM (SELECT x.warehouse_id, x.product_id, x.quantity FROM @extschema@.stock_balance x
             WHERE x.tenant_id = verify_stock.tenant_id) b
      FULL JOIN (SELECT m.warehouse_id, m.product_id, sum(m.quantity) AS quantity
                   FROM @extschema@.stock_movement m
                  WHERE m.tenant_id = verify_stock.tenant_id
                  GROUP BY m.warehouse_id, m.product_id) l
        ON l.warehouse_id = b.warehouse_id AND l.product_id = b.product_id
     WHERE coalesce(b.quantity, 0) <> coalesce(l.quantity, 0)
$$;
COMMENT ON FUNCTION @extschema@.verify_stock(bigint) IS
    'The items of a tenant whose balance differs from the sum of its ledger (none: balances are kept exactly); read with the caller''s rights';

-- Rebuilds a tenant's balances from its ledger (repair; an upgrade that
-- adds a balance column runs it), item by item: each item's balance row is
-- locked (made first where missing) before its ledger is summed, as every
-- writer of the item locks it, so a movement committed meanwhile is counted
-- once and no other item, and no other tenant, waits.
CREATE FUNCTION @extschema@.rebuild_stock_balances(tenant_id bigint) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    item record;
    rebuilt bigint := 0;
BEGIN
    IF NOT @extschema@.may_manage(@extschema@.acting_role(), rebuild_stock_balances.tenant_id) THEN
        RAISE EXCEPTION 'permission denied to rebuild the stock balances of tenant %', rebuild_stock_balances.tenant_id
              USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR item IN
        SELECT b.warehouse_id, b.product_id FROM @extschema@.stock_balance b WHERE b.tenant_id = rebuild_stock_balances.tenant_id
        UNION
        SELECT DISTINCT m.warehouse_id, m.product_id FROM @extschema@.stock_movement m
         WHERE m.tenant_id = rebuild_stock_balances.tenant_id
        ORDER BY 1, 2
    LOOP
        INSERT INTO @extschema@.stock_balance (tenant_id, warehouse_id, product_id, partner_id, quantity, movements)
        SELECT rebuild_stock_balances.tenant_id, w.id, item.product_id, w.partner_id, 0, 0
          FROM @extschema@.warehouse w WHERE w.tenant_id = rebuild_stock_balances.tenant_id AND w.id = item.warehouse_id
        ON CONFLICT ON CONSTRAINT stock_balance_pkey DO NOTHING;
        PERFORM 1 FROM @extschema@.stock_balance b
          WHERE b.tenant_id = rebuild_stock_balances.tenant_id AND b.warehouse_id = item.warehouse_id
            AND b.product_id = item.product_id
            FOR UPDATE;
        -- (a new statement: its snapshot sees every movement committed before the lock was had)
        UPDATE @extschema@.stock_balance b
           SET quantity = coalesce(l.quantity, 0), movements = coalesce(l.movements, 0), last_inbound_on = l.last_in,
               last_outbound_on = l.last_out, last_sale_on = l.last_sale, updated_at = pg_catalog.now()
          FROM (SELECT sum(m.quantity) AS quantity, count(*) AS movements,
                       max(m.moved_on) FILTER (WHERE m.quantity > 0) AS last_in,
                       max(m.moved_on) FILTER (WHERE m.quantity < 0) AS last_out,
                       max(m.moved_on) FILTER (WHERE m.kind = ANY (@extschema@.stock_sale_kinds())) AS last_sale
                  FROM @extschema@.stock_movement m
                 WHERE m.tenant_id = rebuild_stock_balances.tenant_id AND m.warehouse_id = item.warehouse_id
                   AND m.product_id = item.product_id) l
         WHERE b.tenant_id = rebuild_stock_balances.tenant_id AND b.warehouse_id = item.warehouse_id
           AND b.product_id = item.product_id;
        DELETE FROM @extschema@.stock_balance b
         WHERE b.tenant_id = rebuild_stock_balances.tenant_id AND b.warehouse_id = item.warehouse_id
           AND b.product_id = item.product_id AND b.movements = 0;
        rebuilt := rebuilt + 1;
    END LOOP;
    RETURN rebuilt;
END
$$;
COMMENT ON FUNCTION @extschema@.rebuild_stock_balances(bigint) IS
    'Rebuilds a tenant''s stock balances from its ledger, item by item under the item''s lock (a repair; a manager of the tenant or an administrator); returns the items looked at';

-- ---- measures over the ledger ----

-- Turnover of each item over a period [from_day, to_day]: the units sold,
-- the average stock (end-of-day stock averaged over the period's days:
-- opening + sum of each movement x the days it counts / days, exact) and
-- what they mean.  Read with the caller's rights.
CREATE FUNCTION @extschema@.stock_turnover(from_day date, to_day date, warehouse_id bigint DEFAULT NULL)
    RETURNS TABLE (warehouse_id bigint, partner_id bigint, product_id bigint, opening numeric, received numeric,
                   sold numeric, closing numeric, average_stock numeric, turnover numeric, days_of_inventory numeric,
                   sell_through numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH sums AS (
        SELECT m.warehouse_id, min(m.partner_id) AS partner_id, m.product_id,
               coalesce(sum(m.quantity) FILTER (WHERE m.moved_on < stock_turnover.from_day), 0) AS opening,
               coalesce(sum(m.quantity) FILTER (WHERE m.moved_on >= stock_turnover.from_day AND m.quantity > 0), 0) AS received,
               coalesce(-sum(m.quantity) FILTER (WHERE m.moved_on >= stock_turnover.from_day
                                                   AND m.kind = ANY (@extschema@.stock_sale_kinds())), 0) AS sold,
               sum(m.quantity) AS closing,
               coalesce(sum(m.quantity * (stock_turnover.to_day - m.moved_on + 1))
                            FILTER (WHERE m.moved_on >= stock_turnover.from_day), 0) AS weighted
          FROM @extschema@.stock_movement m
         WHERE m.moved_on <= stock_turnover.to_day
           AND (stock_turnover.warehouse_id IS NULL OR m.warehouse_id = stock_turnover.warehouse_id)
         GROUP BY m.warehouse_id, m.product_id
    ), measured AS (
        SELECT s.*, stock_turnover.to_day - stock_turnover.from_day + 1 AS days,
               s.opening + s.weighted / (stock_turnover.to_day - stock_turnover.from_day + 1) AS average_stock
          FROM sums s
    )
    SELECT m.warehouse_id, m.partner_id, m.product_id, m.opening, m.received, m.sold, m.closing,
           pg_catalog.round(m.average_stock, 4),
           CASE WHEN m.average_stock > 0 THEN pg_catalog.round(m.sold / m.average_stock, 4) END,
           CASE WHEN m.sold > 0 THEN pg_catalog.round(m.closing * m.days / m.sold, 1) END,
           CASE WHEN m.opening + m.received > 0 THEN pg_catalog.round(m.sold / (m.opening + m.received), 4) END
      FROM measured m
     WHERE stock_turnover.to_day >= stock_turnover.from_day
$$;
COMMENT ON FUNCTION @extschema@.stock_turnover(date, date, bigint) IS
    'Per warehouse x product over [from_day, to_day]: opening, received, sold, closing, time-weighted average stock, turnover (sold / average stock), days of inventory (closing at the period''s rate of sale) and sell-through (sold / (opening + received)); ratios rounded to 4 places, days to 1';

-- Inventory KPIs of each partner for a period, for scoring: only of partners
-- that share their stock (the brand judges what it may see).  Runs as the
-- caller (rebate.partner_scores calls it as the owner).
CREATE FUNCTION @extschema@.inventory_kpis(tenant_id bigint, period daterange)
    RETURNS TABLE (partner_id bigint, stock_turnover numeric, stock_outs bigint, sell_through numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH sharing AS (
        SELECT p.id FROM @extschema@.partner p
         WHERE p.tenant_id = inventory_kpis.tenant_id AND @extschema@.shares_stock(p.tenant_id, p.id)
    ), sums AS (
        SELECT m.partner_id,
               coalesce(sum(m.quantity) FILTER (WHERE m.moved_on < lower(inventory_kpis.period)), 0) AS opening,
               coalesce(sum(m.quantity) FILTER (WHERE m.moved_on >= lower(inventory_kpis.period) AND m.quantity > 0), 0) AS received,
               coalesce(-sum(m.quantity) FILTER (WHERE m.moved_on >= lower(inventory_kpis.period)
                                                   AND m.kind = ANY (@extschema@.stock_sale_kinds())), 0) AS sold,
               coalesce(sum(m.quantity * (upper(inventory_kpis.period) - m.moved_on))
                            FILTER (WHERE m.moved_on >= lower(inventory_kpis.period)), 0) AS weighted
          FROM @extschema@.stock_movement m
         WHERE m.tenant_id = inventory_kpis.tenant_id AND m.partner_id IN (SELECT s.id FROM sharing s)
           AND m.moved_on < upper(inventory_kpis.period)
         GROUP BY m.partner_id
    ), outs AS (
        SELECT a.partner_id, count(*) AS stock_outs
          FROM @extschema@.stock_alert a
         WHERE a.tenant_id = inventory_kpis.tenant_id AND a.kind = 'out_of_stock'
           AND a.partner_id IN (SELECT s.id FROM sharing s)
           AND inventory_kpis.period @> (a.raised_at AT TIME ZONE 'UTC')::date
         GROUP BY a.partner_id
    )
    SELECT s.id,
           CASE WHEN x.opening + x.weighted / (upper(inventory_kpis.period) - lower(inventory_kpis.period)) > 0 THEN
                pg_catalog.round(x.sold / (x.opening + x.weighted / (upper(inventory_kpis.period) - lower(inventory_kpis.period))), 4)
           END,
           coalesce(o.stock_outs, 0),
           CASE WHEN x.opening + x.received > 0 THEN pg_catalog.round(x.sold / (x.opening + x.received), 4) END
      FROM sharing s
      LEFT JOIN sums x ON x.partner_id = s.id
      LEFT JOIN outs o ON o.partner_id = s.id
     WHERE NOT isempty(inventory_kpis.period) AND NOT lower_inf(inventory_kpis.period) AND NOT upper_inf(inventory_kpis.period)
$$;
COMMENT ON FUNCTION @extschema@.inventory_kpis(bigint, daterange) IS
    'Inventory KPIs per partner for a period (scoring): stock_turnover (sold / time-weighted average stock), stock_outs (out-of-stock alerts raised), sell_through (sold / (opening + received)); only partners that share their stock, the others have none';

-- ---- row-level security and grants ----

SELECT @extschema@.apply_standard_triggers(t)
  FROM unnest(ARRAY['@extschema@.inventory_setting', '@extschema@.warehouse', '@extschema@.stock_sharing',
                    '@extschema@.stock_threshold', '@extschema@.stock_count']::regclass[]) t;
SELECT @extschema@.register_for_dump(t)
  FROM unnest(ARRAY['@extschema@.stock_movement', '@extschema@.stock_alert']::regclass[]) t;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.stock_balance', '');
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON @extschema@.stock_alert
    FOR EACH ROW EXECUTE FUNCTION @extschema@.touch_updated_at();

SELECT @extschema@.apply_tenant_rls('@extschema@.inventory_setting', 'tenant_id');
-- warehouses: the brand's are the managers'; a partner's are its own, seen by the partners above it too
SELECT @extschema@.apply_tenant_rls('@extschema@.warehouse', 'tenant_id', 'partner_id');
ALTER TABLE @extschema@.stock_sharing ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON @extschema@.stock_sharing FOR SELECT
    USING ((SELECT @extschema@.is_group_admin())
           OR (tenant_id = (SELECT @extschema@.current_tenant_id())
               AND ((SELECT @extschema@.is_tenant_manager())
                    OR partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[]))));
-- consent is the partner's own to give and withdraw
CREATE POLICY partner_consent ON @extschema@.stock_sharing FOR INSERT
    WITH CHECK ((SELECT @extschema@.is_group_admin())
                OR (tenant_id = (SELECT @extschema@.current_tenant_id())
                    AND partner_id = (SELECT @extschema@.current_partner_id())));
CREATE POLICY partner_withdraw ON @extschema@.stock_sharing FOR DELETE
    USING ((SELECT @extschema@.is_group_admin())
           OR (tenant_id = (SELECT @extschema@.current_tenant_id())
               AND partner_id = (SELECT @extschema@.current_partner_id())));

-- Stock rows (ledger, balances, alerts, counts, thresholds): a partner reads
-- its own, and those of partners below it that share theirs; a manager the
-- brand's and those of sharing partners.
CREATE FUNCTION @extschema@.apply_stock_rls(tbl regclass, partner_writes text, changeable boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    admin   text := '(SELECT @extschema@.is_group_admin())';
    bound   text := 'tenant_id = (SELECT @extschema@.current_tenant_id())';
    shared  text := 'partner_id IN (SELECT @extschema@.stock_shared_partners())';
    own     text := 'partner_id = (SELECT @extschema@.current_partner_id())';
    managed text := pg_catalog.format('(SELECT @extschema@.is_tenant_manager()) AND (partner_id IS NULL OR %s)', shared);
    readable text := pg_catalog.format(
        '%s OR (%s AND ((%s) OR %s OR (partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[]) AND %s)))',
        admin, bound, managed, own, shared);
    writable text := pg_catalog.format('%s OR (%s AND ((%s) OR %s))', admin, bound, managed, own);
BEGIN
    EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE pg_catalog.format('CREATE POLICY tenant_read ON %s FOR SELECT USING (%s)', tbl, readable);
    IF partner_writes IS NOT NULL THEN
        EXECUTE pg_catalog.format('CREATE POLICY tenant_insert ON %s FOR INSERT WITH CHECK (%s OR (%s AND ((%s) OR (%s AND %s))))',
                                  tbl, admin, bound, managed, own, partner_writes);
    END IF;
    IF changeable THEN
        EXECUTE pg_catalog.format('CREATE POLICY tenant_update ON %s FOR UPDATE USING (%s) WITH CHECK (%s)', tbl, writable, writable);
        EXECUTE pg_catalog.format('CREATE POLICY tenant_delete ON %s FOR DELETE USING (%s)', tbl, writable);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.apply_stock_rls(regclass, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.apply_stock_rls(regclass, text, boolean) IS
    'Internal: the stock policies: read own, shared and (managers) the brand''s; insert the same for managers and own rows meeting partner_writes for partners; with changeable, update and delete as insert';

-- a partner books what happens in its own warehouses (receipts, sales,
-- customer returns, scrap, adjustments); shipments, deliveries and returns to
-- the brand are the brand's; transfers and counts come from their functions
SELECT @extschema@.apply_stock_rls('@extschema@.stock_movement',
    $$kind IN ('receipt', 'sell_out', 'customer_return', 'scrap', 'adjustment') AND source IN ('entry', 'report')$$);
CREATE POLICY manager_kinds ON @extschema@.stock_movement AS RESTRICTIVE FOR INSERT
    WITH CHECK (kind NOT IN ('transfer_in', 'transfer_out', 'count_adjustment') AND source IN ('entry', 'report')
                OR (SELECT @extschema@.is_group_admin()));
SELECT @extschema@.apply_stock_rls('@extschema@.stock_balance', NULL);
SELECT @extschema@.apply_stock_rls('@extschema@.stock_alert', NULL);
SELECT @extschema@.apply_stock_rls('@extschema@.stock_count', NULL);
SELECT @extschema@.apply_stock_rls('@extschema@.stock_threshold', 'true', true);

GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.inventory_setting TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.inventory_setting TO rebate_partner;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.warehouse TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.warehouse TO rebate_partner;
GRANT SELECT ON @extschema@.stock_sharing TO rebate_admin, rebate_manager, rebate_partner;
GRANT INSERT (tenant_id, partner_id, note), DELETE ON @extschema@.stock_sharing TO rebate_admin, rebate_partner;
GRANT SELECT ON @extschema@.stock_movement TO rebate_admin, rebate_manager, rebate_partner;
-- (recorded_by is the server's to say)
GRANT INSERT (tenant_id, warehouse_id, partner_id, product_id, moved_on, kind, quantity, source, source_id, reference)
    ON @extschema@.stock_movement TO rebate_admin, rebate_manager, rebate_partner;
GRANT SELECT ON @extschema@.stock_balance, @extschema@.stock_alert, @extschema@.stock_count
    TO rebate_admin, rebate_manager, rebate_partner;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.stock_threshold TO rebate_admin, rebate_manager, rebate_partner;

GRANT EXECUTE ON FUNCTION @extschema@.stock_levels(date, bigint, bigint, bigint, bigint),
                          @extschema@.stock_on_hand(bigint, bigint, date),
                          @extschema@.partner_stock(bigint, bigint, date),
                          @extschema@.stock_turnover(date, date, bigint),
                          @extschema@.verify_stock(bigint),
                          @extschema@.effective_threshold(bigint, bigint, bigint),
                          @extschema@.inventory_settings(bigint),
                          @extschema@.stock_shared_partners(),
                          @extschema@.shares_stock(bigint, bigint),
                          @extschema@.stock_sale_kinds()
    TO rebate_admin, rebate_manager, rebate_partner;
REVOKE ALL ON FUNCTION @extschema@.rebuild_stock_balances(bigint), @extschema@.inventory_kpis(bigint, daterange),
                       @extschema@.record_stock_count(bigint, bigint, numeric, date, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.record_stock_count(bigint, bigint, numeric, date, text)
    TO rebate_admin, rebate_manager, rebate_partner;
GRANT EXECUTE ON FUNCTION @extschema@.rebuild_stock_balances(bigint) TO rebate_admin, rebate_manager;
GRANT EXECUTE ON FUNCTION @extschema@.inventory_kpis(bigint, daterange) TO rebate_admin, rebate_manager, rebate_partner;
-- ---------------------------------------------------------------------------
-- Inventory: stock age 库龄 under FIFO, the aggregate
-- rebate.stock_age(moved_on, quantity, as_of) over one item's stock ledger
-- (src/stock_age.c says exactly what it computes).  Its state is a real type
-- with lossless text and binary I/O (not internal), so PostgreSQL's parallel
-- aggregation and Citus's partial aggregation can both split it.
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.stock_age_state;

CREATE FUNCTION @extschema@.stock_age_state_in(pg_catalog.cstring) RETURNS @extschema@.stock_age_state
    AS 'MODULE_PATHNAME', 'stock_age_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.stock_age_state_out(@extschema@.stock_age_state) RETURNS pg_catalog.cstring
    AS 'MODULE_PATHNAME', 'stock_age_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.stock_age_state_recv(pg_catalog.internal) RETURNS @extschema@.stock_age_state
    AS 'MODULE_PATHNAME', 'stock_age_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.stock_age_state_send(@extschema@.stock_age_state) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'stock_age_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- plain storage and double alignment: the state holds int128s and is updated in place
CREATE TYPE @extschema@.stock_age_state (
    INPUT = @extschema@.stock_age_state_in,
    OUTPUT = @extschema@.stock_age_state_out,
    RECEIVE = @extschema@.stock_age_state_recv,
    SEND = @extschema@.stock_age_state_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.stock_age_state IS
    'Partial state of stock_age: as_of, the departures, and the arrivals per day; text form (as_of,departures,{day:quantity,...}), e.g. (2024-06-30,12.5,{2024-01-03:10,2024-02-01:5.25})';
COMMENT ON FUNCTION @extschema@.stock_age_state_in(pg_catalog.cstring) IS
    'Reads a stock_age_state from its text form (as_of,departures,{day:quantity,...}), days ascending';
COMMENT ON FUNCTION @extschema@.stock_age_state_out(@extschema@.stock_age_state) IS
    'Writes a stock_age_state in its canonical text form';
COMMENT ON FUNCTION @extschema@.stock_age_state_recv(pg_catalog.internal) IS
    'Reads a stock_age_state''s binary form (format version 1), validated like text input';
COMMENT ON FUNCTION @extschema@.stock_age_state_send(@extschema@.stock_age_state) IS
    'Writes a stock_age_state''s binary form (format version 1)';

CREATE TYPE @extschema@.stock_age AS (
    on_hand        numeric,
    average_age    numeric,
    oldest_arrival date,
    age_0_30       numeric,
    age_31_60      numeric,
    age_61_90      numeric,
    age_91_180     numeric,
    age_181_365    numeric,
    age_over_365   numeric
);
COMMENT ON TYPE @extschema@.stock_age IS
    'Stock age 库龄 of one item at a day under FIFO (rebate.stock_age): quantity on hand, its average age, its oldest arrival, and the quantity by age';
COMMENT ON COLUMN @extschema@.stock_age.on_hand IS 'Quantity on hand 库存: the sum of the movements up to as_of, exactly';
COMMENT ON COLUMN @extschema@.stock_age.average_age IS 'Average age 平均库龄 in days of the units on hand, weighted by quantity, rounded half up to 2 decimals; NULL when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.oldest_arrival IS 'Arrival day of the oldest unit still on hand (FIFO); NULL when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.age_0_30 IS 'On-hand quantity 0 to 30 days old; 0 when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.age_31_60 IS 'On-hand quantity 31 to 60 days old; 0 when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.age_61_90 IS 'On-hand quantity 61 to 90 days old; 0 when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.age_91_180 IS 'On-hand quantity 91 to 180 days old; 0 when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.age_181_365 IS 'On-hand quantity 181 to 365 days old; 0 when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.age_over_365 IS 'On-hand quantity more than 365 days old (呆滞); 0 when on_hand <= 0';

CREATE FUNCTION @extschema@.stock_age_trans(@extschema@.stock_age_state, date, numeric, date)
    RETURNS @extschema@.stock_age_state
    AS 'MODULE_PATHNAME', 'stock_age_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.stock_age_combine(@extschema@.stock_age_state, @extschema@.stock_age_state)
    RETURNS @extschema@.stock_age_state
    AS 'MODULE_PATHNAME', 'stock_age_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.stock_age_final(@extschema@.stock_age_state) RETURNS @extschema@.stock_age
    AS 'MODULE_PATHNAME', 'stock_age_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.stock_age_trans(@extschema@.stock_age_state, date, numeric, date) IS
    'Transition function of rebate.stock_age';
COMMENT ON FUNCTION @extschema@.stock_age_combine(@extschema@.stock_age_state, @extschema@.stock_age_state) IS
    'Combines two partial rebate.stock_age states (parallel and distributed aggregation)';
COMMENT ON FUNCTION @extschema@.stock_age_final(@extschema@.stock_age_state) IS
    'Final function of rebate.stock_age: the rebate.stock_age row of a state';

CREATE AGGREGATE @extschema@.stock_age(moved_on date, quantity numeric, as_of date) (
    SFUNC = @extschema@.stock_age_trans,
    STYPE = @extschema@.stock_age_state,
    COMBINEFUNC = @extschema@.stock_age_combine,
    FINALFUNC = @extschema@.stock_age_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.stock_age(date, numeric, date) IS
    'Stock age 库龄 under FIFO of one item''s stock ledger (movements: + arrivals, - departures) as of a day; rows after as_of ignored, null rows skipped, NULL for no rows, an error if as_of differs within the group';
-- ---------------------------------------------------------------------------
-- Demand forecasts for the inventory module's replenishment suggestions
-- (src/forecast.c): additive Holt-Winters on sell-out per period, its fitted
-- model, the naive last-year forecast it is measured against, and sMAPE.
-- Forecasts are statistical estimates of units (double precision inside the
-- C code, numeric at the boundary), never money: callers round them up to
-- whole units.
-- ---------------------------------------------------------------------------

-- Not STRICT: NULL smoothing parameters are fitted (NULL history, season
-- length or horizon give NULL).
CREATE FUNCTION @extschema@.forecast_demand(history numeric[], season_length integer, horizon integer,
                                            alpha numeric DEFAULT NULL, beta numeric DEFAULT NULL,
                                            gamma numeric DEFAULT NULL)
    RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'forecast_demand' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.forecast_demand(numeric[], integer, integer, numeric, numeric, numeric) IS
    'Forecast of the next horizon periods of sell-out (history oldest first): additive Holt-Winters with season_length periods a season, parameters left NULL fitted on the grid 0.05..0.95 by least one-step squared error; Holt''s linear trend with under two seasons, the value itself with one period; clipped at 0, rounded to 4 decimals';

CREATE FUNCTION @extschema@.forecast_demand_fit(history numeric[], season_length integer,
                                                alpha numeric DEFAULT NULL, beta numeric DEFAULT NULL,
                                                gamma numeric DEFAULT NULL,
                                                OUT method text, OUT alpha numeric, OUT beta numeric,
                                                OUT gamma numeric, OUT sse double precision)
    AS 'MODULE_PATHNAME', 'forecast_demand_fit' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.forecast_demand_fit(numeric[], integer, numeric, numeric, numeric) IS
    'The model forecast_demand uses on a history: method (holt_winters, holt or last_value), the smoothing parameters (given or fitted; NULL where the method has none) and the sum of squared one-step errors over the history';

CREATE FUNCTION @extschema@.forecast_naive_seasonal(history numeric[], season_length integer, horizon integer)
    RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'forecast_naive_seasonal' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.forecast_naive_seasonal(numeric[], integer, integer) IS
    'Naive last-year forecast: each of the next horizon periods takes the value one season (season_length periods) before it; the last value when the history is shorter than a season; exact';

-- sMAPE in percent, exactly: quotients carried to 40 decimals, the mean
-- rounded to 30 and then to 2, so that a result exactly on a half cent of a
-- percent is not pushed off it by the last digit of a quotient.
CREATE FUNCTION @extschema@.smape(actual numeric[], forecast numeric[]) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n     integer := pg_catalog.cardinality(actual);
    total numeric := 0;
    a     numeric;
    f     numeric;
BEGIN
    IF pg_catalog.array_ndims(actual) > 1 OR pg_catalog.array_ndims(forecast) > 1 THEN
        RAISE EXCEPTION 'smape arrays must be one-dimensional'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('The actual array has %s dimensions, the forecast %s.',
                                             pg_catalog.array_ndims(actual), pg_catalog.array_ndims(forecast));
    END IF;
    IF n <> pg_catalog.cardinality(forecast) THEN
        RAISE EXCEPTION 'smape arrays must have the same length'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('There are %s actual values and %s forecasts.', n, pg_catalog.cardinality(forecast)),
                  HINT = 'Compare each forecast with the actual value of the same period.';
    END IF;
    FOR i IN 0 .. n - 1 LOOP
        a := actual[pg_catalog.array_lower(actual, 1) + i];
        f := forecast[pg_catalog.array_lower(forecast, 1) + i];
        IF a IS NULL OR f IS NULL THEN
            RAISE EXCEPTION 'smape arrays must not contain nulls'
                USING ERRCODE = 'null_value_not_allowed',
                      DETAIL = pg_catalog.format('Element %s of the %s array is null.', i + 1,
                                                 CASE WHEN a IS NULL THEN 'actual' ELSE 'forecast' END),
                      HINT = 'Leave periods without an actual value or a forecast out of both arrays.';
        END IF;
        IF a::text IN ('NaN', 'Infinity', '-Infinity') OR f::text IN ('NaN', 'Infinity', '-Infinity') THEN
            RAISE EXCEPTION 'smape values must be finite numbers'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = pg_catalog.format('Element %s is %s (actual) and %s (forecast).', i + 1, a, f);
        END IF;
        -- a term with A = F (among them A = F = 0) counts 0; otherwise |A| + |F| > 0
        IF a <> f THEN
            total := total + pg_catalog.round(2 * pg_catalog.abs(f - a), 40) / (pg_catalog.abs(a) + pg_catalog.abs(f));
        END IF;
    END LOOP;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    RETURN pg_catalog.round(pg_catalog.round(100 * total / n, 30), 2);
END
$$;
COMMENT ON FUNCTION @extschema@.smape(numeric[], numeric[]) IS
    'Symmetric mean absolute percentage error in percent, 100/n * sum(|F - A| / ((|A| + |F|) / 2)), a period with A = F = 0 counting 0; exact, rounded to 2 decimals; NULL for empty arrays';
-- ---------------------------------------------------------------------------
-- Goods on the move and stock to come: shipments of orders with their
-- tracking, transfers between partners (调拨) decided through the approval
-- engine, replenishment suggestions from a forecast of sell-out, the BI
-- views of inventory, and the exit checklist's stock item.  The ledger and
-- the balances they write are rebate.stock_movement and rebate.stock_balance
-- (inventory.sql).  docs/inventory.md describes it.
--
-- Goods are moved by whoever holds them: the owner of the warehouse they
-- leave ships them (the brand's managers for the brand's warehouses, the
-- partner's users for a partner's), the owner of the warehouse they reach
-- (or a manager) receives them.  So a refusal for want of stock only ever
-- tells the caller about its own stock.
-- ---------------------------------------------------------------------------

-- Whether the acting role acts for a partner: one of its own users, bound
-- to it (a role acting through a group role has no binding: false).
CREATE FUNCTION @extschema@.acts_for_partner(tenant_id bigint, partner_id bigint) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bound record := @extschema@.binding_of(@extschema@.acting_role());
BEGIN
    RETURN coalesce(bound.tenant_id = acts_for_partner.tenant_id AND bound.partner_id = acts_for_partner.partner_id, false);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.acts_for_partner(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.acts_for_partner(bigint, bigint) IS
    'Internal: whether the acting role is a user of exactly this partner (strictly true or false)';

-- Whether the acting role holds a warehouse's goods: a manager of the tenant
-- (or a group administrator) for the brand's, the partner's own users for a
-- partner's.
CREATE FUNCTION @extschema@.holds_warehouse(w @extschema@.warehouse) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF w.id IS NULL THEN
        RETURN false;
    ELSIF w.partner_id IS NULL THEN
        RETURN @extschema@.may_manage(@extschema@.acting_role(), w.tenant_id);
    END IF;
    RETURN @extschema@.acts_for_partner(w.tenant_id, w.partner_id);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.holds_warehouse(@extschema@.warehouse) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.holds_warehouse(@extschema@.warehouse) IS
    'Internal: whether the acting role holds the warehouse''s goods (a manager for the brand''s, the partner''s own users for a partner''s)';

-- ---- shipments and tracking ----

CREATE TABLE @extschema@.shipment (
    id                   bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id            bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code                 text NOT NULL CHECK (btrim(code) <> ''),
    order_id             bigint NOT NULL,
    partner_id           bigint NOT NULL,
    from_warehouse_id    bigint NOT NULL,
    to_warehouse_id      bigint NOT NULL,
    carrier              text,
    waybill_no           text,
    planned_ship_on      date,
    planned_delivery_on  date,
    shipped_on           date,
    delivered_on         date,
    status               text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'in_transit', 'delivered', 'cancelled')),
    note                 text,
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, carrier, waybill_no),
    FOREIGN KEY (tenant_id, order_id, partner_id) REFERENCES @extschema@.sales_order (tenant_id, id, partner_id),
    FOREIGN KEY (tenant_id, from_warehouse_id) REFERENCES @extschema@.warehouse (tenant_id, id),
    FOREIGN KEY (tenant_id, to_warehouse_id) REFERENCES @extschema@.warehouse (tenant_id, id),
    CONSTRAINT shipment_planned_dates CHECK (planned_delivery_on >= planned_ship_on),
    CONSTRAINT shipment_dates CHECK (delivered_on >= shipped_on),
    CONSTRAINT shipment_moved CHECK ((status IN ('in_transit', 'delivered')) = (shipped_on IS NOT NULL)
                                     AND (status = 'delivered') = (delivered_on IS NOT NULL))
);
CREATE UNIQUE INDEX shipment_by_id ON @extschema@.shipment (id);
CREATE INDEX shipment_order ON @extschema@.shipment (tenant_id, order_id);
COMMENT ON TABLE @extschema@.shipment IS
    'Shipments (发货/物流): the goods of an order (from the brand''s warehouse to the partner''s) or of a return (back), with carrier, waybill and dates; planned -> in_transit -> delivered | cancelled';
COMMENT ON COLUMN @extschema@.shipment.partner_id IS 'The order''s partner';
COMMENT ON COLUMN @extschema@.shipment.from_warehouse_id IS 'Where the goods leave: the brand''s warehouse for an order, the partner''s for a return';
COMMENT ON COLUMN @extschema@.shipment.to_warehouse_id IS 'Where they arrive: the partner''s warehouse for an order, the brand''s for a return';
COMMENT ON COLUMN @extschema@.shipment.carrier IS 'The carrier (承运商)';
COMMENT ON COLUMN @extschema@.shipment.waybill_no IS 'The carrier''s waybill number (运单号): tracking events find the shipment by carrier and waybill';
COMMENT ON COLUMN @extschema@.shipment.planned_delivery_on IS 'The day delivery is planned for: on time means delivered on or before it';
COMMENT ON COLUMN @extschema@.shipment.shipped_on IS 'The day it left (rebate.ship_shipment): the goods leave the ledger of the sending warehouse';
COMMENT ON COLUMN @extschema@.shipment.delivered_on IS 'The day it arrived (rebate.deliver_shipment): the goods enter the receiving warehouse; the order''s delivered_on when it is the last';

CREATE TABLE @extschema@.shipment_line (
    id             bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id      bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    shipment_id    bigint NOT NULL,
    partner_id     bigint NOT NULL,
    order_line_id  bigint NOT NULL,
    quantity       numeric(18,4) NOT NULL CHECK (quantity > 0),
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, shipment_id, order_line_id),
    FOREIGN KEY (tenant_id, shipment_id) REFERENCES @extschema@.shipment (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, order_line_id) REFERENCES @extschema@.order_line (tenant_id, id)
);
CREATE UNIQUE INDEX shipment_line_by_id ON @extschema@.shipment_line (id);
CREATE INDEX shipment_line_order_line ON @extschema@.shipment_line (tenant_id, order_line_id);
COMMENT ON TABLE @extschema@.shipment_line IS 'What a shipment carries: a quantity of an order line (an order may ship in parts)';
COMMENT ON COLUMN @extschema@.shipment_line.partner_id IS 'The order''s partner (kept for row-level security)';

CREATE TABLE @extschema@.shipment_event (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL REFERENCES @extschema@.tenant,
    shipment_id   bigint NOT NULL,
    partner_id    bigint NOT NULL,
    event_at      timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('picked_up', 'in_transit', 'out_for_delivery', 'delivered', 'exception')),
    location      text,
    description   text,
    recorded_by   name NOT NULL DEFAULT @extschema@.acting_role(),
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, shipment_id) REFERENCES @extschema@.shipment (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX shipment_event_by_id ON @extschema@.shipment_event (id);
CREATE INDEX shipment_event_shipment ON @extschema@.shipment_event (tenant_id, shipment_id, event_at);
COMMENT ON TABLE @extschema@.shipment_event IS
    'Tracking events (物流轨迹) of a shipment, written by an integration job through rebate.record_tracking_event';
COMMENT ON COLUMN @extschema@.shipment_event.status IS
    'picked_up (ships a planned order shipment), in_transit, out_for_delivery, delivered (delivers it), exception';

SELECT @extschema@.apply_standard_triggers(t)
  FROM unnest(ARRAY['@extschema@.shipment', '@extschema@.shipment_line', '@extschema@.shipment_event']::regclass[]) t;
SELECT @extschema@.apply_tenant_rls(t, 'tenant_id', 'partner_id')
  FROM unnest(ARRAY['@extschema@.shipment', '@extschema@.shipment_line', '@extschema@.shipment_event']::regclass[]) t;
CREATE TRIGGER lifecycle BEFORE INSERT OR UPDATE OF status ON @extschema@.shipment
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition(
        'status', '>planned', 'planned>in_transit', 'in_transit>delivered', 'planned>cancelled');

-- A shipment's lines change only while it is planned.
CREATE FUNCTION @extschema@.guard_shipment_line() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    line_shipment bigint := CASE WHEN TG_OP = 'DELETE' THEN OLD.shipment_id ELSE NEW.shipment_id END;
    line_tenant bigint := CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END;
    state text;
BEGIN
    SELECT s.status INTO state FROM @extschema@.shipment s WHERE s.tenant_id = line_tenant AND s.id = line_shipment;
    IF state IS DISTINCT FROM 'planned' AND state IS NOT NULL THEN
        RAISE EXCEPTION 'shipment % is %: its lines are fixed', line_shipment, pg_catalog.replace(state, '_', ' ')
              USING ERRCODE = 'RB103', HINT = 'Only a planned shipment''s lines change.';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
COMMENT ON FUNCTION @extschema@.guard_shipment_line() IS
    'BEFORE trigger on shipment_line: lines change only while their shipment is planned (RB103)';
CREATE TRIGGER guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.shipment_line
    FOR EACH ROW EXECUTE FUNCTION @extschema@.guard_shipment_line();

-- The goods of a shipment, one row per product: the movements it books.
CREATE FUNCTION @extschema@.shipment_goods(s @extschema@.shipment)
    RETURNS TABLE (product_id bigint, quantity numeric)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ol.product_id, sum(sl.quantity)
      FROM @extschema@.shipment_line sl
      JOIN @extschema@.order_line ol ON ol.tenant_id = sl.tenant_id AND ol.id = sl.order_line_id
     WHERE sl.tenant_id = s.tenant_id AND sl.shipment_id = s.id
     GROUP BY ol.product_id
     ORDER BY ol.product_id
$$;
REVOKE ALL ON FUNCTION @extschema@.shipment_goods(@extschema@.shipment) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.shipment_goods(@extschema@.shipment) IS 'Internal: a shipment''s quantity per product';

-- Ships a planned shipment: its goods leave the sending warehouse (a
-- shipment movement for an order, return_out for a return) on shipped_on,
-- and an approved order becomes shipped.  The sending warehouse's holder
-- ships (rebate.holds_warehouse); what it may not act on is reported like
-- what does not exist.
CREATE FUNCTION @extschema@.ship_shipment(shipment_id bigint, shipped_on date DEFAULT CURRENT_DATE)
    RETURNS @extschema@.shipment
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s @extschema@.shipment;
    o @extschema@.sales_order;
    src @extschema@.warehouse;
    dst @extschema@.warehouse;
    over record;
BEGIN
    SELECT x.* INTO s FROM @extschema@.shipment x WHERE x.id = ship_shipment.shipment_id;
    SELECT w.* INTO src FROM @extschema@.warehouse w WHERE w.tenant_id = s.tenant_id AND w.id = s.from_warehouse_id;
    IF s.id IS NULL OR NOT @extschema@.holds_warehouse(src) THEN
        RAISE EXCEPTION 'shipment % does not exist or is not visible to you', ship_shipment.shipment_id
              USING ERRCODE = 'no_data_found';
    END IF;
    SELECT x.* INTO s FROM @extschema@.shipment x WHERE x.tenant_id = s.tenant_id AND x.id = s.id FOR UPDATE;
    IF s.status <> 'planned' THEN
        RAISE EXCEPTION 'shipment % is %, not planned', s.code, pg_catalog.replace(s.status, '_', ' ')
              USING ERRCODE = 'RB103';
    END IF;
    SELECT x.* INTO o FROM @extschema@.sales_order x WHERE x.tenant_id = s.tenant_id AND x.id = s.order_id FOR UPDATE;
    SELECT w.* INTO dst FROM @extschema@.warehouse w WHERE w.tenant_id = s.tenant_id AND w.id = s.to_warehouse_id;
    IF o.kind = 'credit_note'
       OR (o.kind = 'order' AND (src.partner_id IS NOT NULL OR dst.partner_id IS DISTINCT FROM o.partner_id))
       OR (o.kind = 'return' AND (src.partner_id IS DISTINCT FROM o.partner_id OR dst.partner_id IS NOT NULL)) THEN
        RAISE EXCEPTION 'shipment % does not go between the warehouses of its %', s.code, o.kind
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'An order ships from a warehouse of the brand to one of its partner; a return the other way.';
    END IF;
    IF NOT (src.active AND dst.active) THEN
        RAISE EXCEPTION 'shipment % names an inactive warehouse', s.code USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF o.status NOT IN ('approved', 'shipped') THEN
        RAISE EXCEPTION 'order % is %: only an approved order ships', o.code, pg_catalog.replace(o.status, '_', ' ')
              USING ERRCODE = 'RB103';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM @extschema@.shipment_line l WHERE l.tenant_id = s.tenant_id AND l.shipment_id = s.id) THEN
        RAISE EXCEPTION 'shipment % has no lines', s.code USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- nothing ships beyond what was ordered, over every shipment of the order that has not been cancelled
    SELECT ol.line_no, ol.quantity, sum(sl.quantity) AS shipped INTO over
      FROM @extschema@.shipment_line sl
      JOIN @extschema@.shipment x ON x.tenant_id = sl.tenant_id AND x.id = sl.shipment_id
      JOIN @extschema@.order_line ol ON ol.tenant_id = sl.tenant_id AND ol.id = sl.order_line_id
     WHERE sl.tenant_id = s.tenant_id AND x.order_id = o.id AND x.status <> 'cancelled'
       AND (x.status <> 'planned' OR x.id = s.id)
     GROUP BY ol.id, ol.line_no, ol.quantity
    HAVING sum(sl.quantity) > ol.quantity OR bool_or(ol.order_id <> o.id)
     ORDER BY ol.line_no LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'shipment % ships % of line % of order %, which has %', s.code, pg_catalog.trim_scale(over.shipped),
                        over.line_no, o.code, pg_catalog.trim_scale(over.quantity)
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'A shipment carries lines of its own order, no more than was ordered over all its shipments.';
    END IF;
    INSERT INTO @extschema@.stock_movement (tenant_id, warehouse_id, partner_id, product_id, moved_on, kind, quantity,
                                            source, source_id, reference)
    SELECT s.tenant_id, src.id, src.partner_id, g.product_id, ship_shipment.shipped_on,
           CASE o.kind WHEN 'order' THEN 'shipment' ELSE 'return_out' END, -g.quantity, 'shipment', s.id, s.code
      FROM @extschema@.shipment_goods(s) g;
    UPDATE @extschema@.shipment x SET status = 'in_transit', shipped_on = ship_shipment.shipped_on
     WHERE x.tenant_id = s.tenant_id AND x.id = s.id
    RETURNING x.* INTO s;
    IF o.status = 'approved' THEN
        PERFORM pg_catalog.set_config('rebate.change_reason', 'shipment ' || s.code, true);
        UPDATE @extschema@.sales_order x SET status = 'shipped' WHERE x.tenant_id = o.tenant_id AND x.id = o.id;
        PERFORM pg_catalog.set_config('rebate.change_reason', '', true);
    END IF;
    RETURN s;
END
$$;
COMMENT ON FUNCTION @extschema@.ship_shipment(bigint, date) IS
    'Ships a planned shipment (by the holder of the sending warehouse): its goods leave that warehouse''s ledger on shipped_on, an approved order becomes shipped';

-- Delivers a shipment in transit: its goods enter the receiving warehouse
-- on delivered_on; when every line of the order has shipped in full and
-- every shipment of it has arrived, the order is delivered that day (its
-- delivered_on is the last arrival, which the on-time KPIs read).  A
-- manager, an integration job bound as one, or the receiving partner's
-- users deliver.
CREATE FUNCTION @extschema@.deliver_shipment(shipment_id bigint, delivered_on date DEFAULT CURRENT_DATE)
    RETURNS @extschema@.shipment
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s @extschema@.shipment;
    o @extschema@.sales_order;
    dst @extschema@.warehouse;
BEGIN
    SELECT x.* INTO s FROM @extschema@.shipment x WHERE x.id = deliver_shipment.shipment_id;
    SELECT w.* INTO dst FROM @extschema@.warehouse w WHERE w.tenant_id = s.tenant_id AND w.id = s.to_warehouse_id;
    IF s.id IS NULL OR NOT (@extschema@.may_manage(@extschema@.acting_role(), s.tenant_id)
                            OR @extschema@.holds_warehouse(dst)) THEN
        RAISE EXCEPTION 'shipment % does not exist or is not visible to you', deliver_shipment.shipment_id
              USING ERRCODE = 'no_data_found';
    END IF;
    SELECT x.* INTO s FROM @extschema@.shipment x WHERE x.tenant_id = s.tenant_id AND x.id = s.id FOR UPDATE;
    IF s.status <> 'in_transit' THEN
        RAISE EXCEPTION 'shipment % is %, not in transit', s.code, pg_catalog.replace(s.status, '_', ' ')
              USING ERRCODE = 'RB103';
    END IF;
    IF deliver_shipment.delivered_on < s.shipped_on THEN
        RAISE EXCEPTION 'shipment % cannot arrive on %, before it left on %', s.code, deliver_shipment.delivered_on,
                        s.shipped_on
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT x.* INTO o FROM @extschema@.sales_order x WHERE x.tenant_id = s.tenant_id AND x.id = s.order_id FOR UPDATE;
    INSERT INTO @extschema@.stock_movement (tenant_id, warehouse_id, partner_id, product_id, moved_on, kind, quantity,
                                            source, source_id, reference)
    SELECT s.tenant_id, dst.id, dst.partner_id, g.product_id, deliver_shipment.delivered_on,
           CASE o.kind WHEN 'order' THEN 'delivery' ELSE 'return_in' END, g.quantity, 'shipment', s.id, s.code
      FROM @extschema@.shipment_goods(s) g;
    UPDATE @extschema@.shipment x SET status = 'delivered', delivered_on = deliver_shipment.delivered_on
     WHERE x.tenant_id = s.tenant_id AND x.id = s.id
    RETURNING x.* INTO s;
    IF o.status = 'shipped'
       AND NOT EXISTS (SELECT 1 FROM @extschema@.shipment x
                        WHERE x.tenant_id = o.tenant_id AND x.order_id = o.id AND x.status IN ('planned', 'in_transit'))
       AND NOT EXISTS (SELECT 1 FROM @extschema@.order_line ol
                        WHERE ol.tenant_id = o.tenant_id AND ol.order_id = o.id
                          AND ol.quantity > coalesce((SELECT sum(sl.quantity) FROM @extschema@.shipment_line sl
                                                        JOIN @extschema@.shipment x
                                                          ON x.tenant_id = sl.tenant_id AND x.id = sl.shipment_id
                                                       WHERE sl.tenant_id = ol.tenant_id AND sl.order_line_id = ol.id
                                                         AND x.status = 'delivered'), 0)) THEN
        PERFORM pg_catalog.set_config('rebate.change_reason', 'shipment ' || s.code || ' delivered', true);
        UPDATE @extschema@.sales_order x
           SET status = 'delivered',
               delivered_on = (SELECT max(y.delivered_on) FROM @extschema@.shipment y
                                WHERE y.tenant_id = o.tenant_id AND y.order_id = o.id AND y.status = 'delivered')
         WHERE x.tenant_id = o.tenant_id AND x.id = o.id;
        PERFORM pg_catalog.set_config('rebate.change_reason', '', true);
    END IF;
    RETURN s;
END
$$;
COMMENT ON FUNCTION @extschema@.deliver_shipment(bigint, date) IS
    'Delivers a shipment in transit (a manager or the receiving warehouse''s holder): its goods enter that warehouse on delivered_on; the order is delivered that day when all of it has arrived';

-- The integration job's entry: one tracking event of a carrier's waybill in
-- the caller's tenant.  picked_up ships a planned order shipment (from the
-- brand's warehouse); delivered delivers one in transit.
CREATE FUNCTION @extschema@.record_tracking_event(carrier text, waybill_no text, event_at timestamptz, status text,
                                                  location text DEFAULT NULL, description text DEFAULT NULL)
    RETURNS @extschema@.shipment_event
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bound record := @extschema@.binding_of(@extschema@.acting_role());
    s @extschema@.shipment;
    result @extschema@.shipment_event;
BEGIN
    IF bound.tenant_id IS NULL OR NOT coalesce(@extschema@.manages_tenant(@extschema@.acting_role(), bound.tenant_id), false) THEN
        RAISE EXCEPTION 'permission denied to record tracking events' USING ERRCODE = 'insufficient_privilege',
              HINT = 'The integration job logs in as a role bound to the tenant as a manager.';
    END IF;
    SELECT x.* INTO s FROM @extschema@.shipment x
     WHERE x.tenant_id = bound.tenant_id AND x.carrier = record_tracking_event.carrier
       AND x.waybill_no = record_tracking_event.waybill_no;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no shipment has waybill % of carrier %', record_tracking_event.waybill_no,
                        record_tracking_event.carrier
              USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO @extschema@.shipment_event (tenant_id, shipment_id, partner_id, event_at, status, location, description)
    VALUES (s.tenant_id, s.id, s.partner_id, record_tracking_event.event_at, record_tracking_event.status,
            record_tracking_event.location, record_tracking_event.description)
    RETURNING * INTO result;
    IF record_tracking_event.status = 'picked_up' AND s.status = 'planned'
       AND EXISTS (SELECT 1 FROM @extschema@.warehouse w
                    WHERE w.tenant_id = s.tenant_id AND w.id = s.from_warehouse_id AND w.partner_id IS NULL) THEN
        PERFORM @extschema@.ship_shipment(s.id, (record_tracking_event.event_at AT TIME ZONE 'UTC')::date);
    ELSIF record_tracking_event.status = 'delivered' AND s.status = 'in_transit' THEN
        PERFORM @extschema@.deliver_shipment(s.id, GREATEST(s.shipped_on, (record_tracking_event.event_at AT TIME ZONE 'UTC')::date));
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.record_tracking_event(text, text, timestamptz, text, text, text) IS
    'Records a carrier''s tracking event of a waybill (an integration job bound as a manager): picked_up ships a planned order shipment, delivered delivers one in transit (dates in UTC)';

-- ---- transfers between partners (调拨) ----

CREATE TABLE @extschema@.stock_transfer (
    id                 bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id          bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code               text NOT NULL CHECK (btrim(code) <> ''),
    from_partner_id    bigint NOT NULL,
    from_warehouse_id  bigint NOT NULL,
    to_partner_id      bigint NOT NULL,
    to_warehouse_id    bigint NOT NULL,
    status             text NOT NULL DEFAULT 'pending_approval'
                       CHECK (status IN ('pending_approval', 'approved', 'rejected', 'withdrawn', 'shipped', 'received',
                                         'cancelled')),
    reason             text,
    requested_by       name NOT NULL DEFAULT @extschema@.acting_role(),
    request_id         bigint,
    violations         integer NOT NULL DEFAULT 0,
    shipped_on         date,
    received_on        date,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, from_warehouse_id, from_partner_id) REFERENCES @extschema@.warehouse (tenant_id, id, owner_key),
    FOREIGN KEY (tenant_id, to_warehouse_id, to_partner_id) REFERENCES @extschema@.warehouse (tenant_id, id, owner_key),
    FOREIGN KEY (tenant_id, from_partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, to_partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, request_id) REFERENCES @extschema@.approval_request (tenant_id, id),
    CONSTRAINT stock_transfer_two_warehouses CHECK (from_warehouse_id <> to_warehouse_id),
    CONSTRAINT stock_transfer_dates CHECK (received_on >= shipped_on)
);
CREATE UNIQUE INDEX stock_transfer_by_id ON @extschema@.stock_transfer (id);
CREATE INDEX stock_transfer_from ON @extschema@.stock_transfer (tenant_id, from_partner_id);
CREATE INDEX stock_transfer_to ON @extschema@.stock_transfer (tenant_id, to_partner_id);
COMMENT ON TABLE @extschema@.stock_transfer IS
    'Transfers of stock between partners (调拨): pending_approval -> approved -> shipped -> received, or rejected | withdrawn | cancelled; stock moves on both sides only when shipped and received';
COMMENT ON COLUMN @extschema@.stock_transfer.status IS
    'pending_approval (the stock_transfer request waits) -> approved -> shipped (left the sender) -> received (reached the receiver); rejected or withdrawn (the request), cancelled (approved, not shipped)';
COMMENT ON COLUMN @extschema@.stock_transfer.violations IS
    'Policy violations recorded for review when it was requested (the destination outside the sender''s territory, a product not authorised there: 窜货)';
COMMENT ON COLUMN @extschema@.stock_transfer.request_id IS 'Its stock_transfer approval request';

CREATE TABLE @extschema@.stock_transfer_line (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id     bigint NOT NULL REFERENCES @extschema@.tenant,
    transfer_id   bigint NOT NULL,
    product_id    bigint NOT NULL,
    quantity      numeric(18,4) NOT NULL CHECK (quantity > 0),
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, transfer_id, product_id),
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES @extschema@.stock_transfer (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id)
);
CREATE UNIQUE INDEX stock_transfer_line_by_id ON @extschema@.stock_transfer_line (id);
COMMENT ON TABLE @extschema@.stock_transfer_line IS 'The products and quantities a transfer moves';

SELECT @extschema@.apply_standard_triggers(t)
  FROM unnest(ARRAY['@extschema@.stock_transfer', '@extschema@.stock_transfer_line']::regclass[]) t;
CREATE TRIGGER lifecycle BEFORE INSERT OR UPDATE OF status ON @extschema@.stock_transfer
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition(
        'status', '>pending_approval', 'pending_approval>approved', 'pending_approval>rejected',
        'pending_approval>withdrawn', 'approved>shipped', 'approved>cancelled', 'shipped>received');
-- both parties see a transfer (and the partners above them); the managers all; it is written through its functions
ALTER TABLE @extschema@.stock_transfer ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON @extschema@.stock_transfer FOR SELECT
    USING ((SELECT @extschema@.is_group_admin())
           OR (tenant_id = (SELECT @extschema@.current_tenant_id())
               AND ((SELECT @extschema@.is_tenant_manager())
                    OR from_partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[])
                    OR to_partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[]))));
ALTER TABLE @extschema@.stock_transfer_line ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON @extschema@.stock_transfer_line FOR SELECT
    USING ((SELECT @extschema@.is_group_admin())
           OR (tenant_id = (SELECT @extschema@.current_tenant_id())
               AND transfer_id IN (SELECT t.id FROM @extschema@.stock_transfer t)));

-- Requests a transfer from one of the caller's partner's warehouses (or, for
-- a manager, from the warehouse of a partner that shares its stock) to a
-- partner's warehouse, for approval.  The destination is judged like a sale
-- shipped there: outside every territory of the sender (窜货) and products
-- not authorised in its region are refused, recorded for review or allowed
-- as the tenant's enforcement_setting says (territory, product_region).  A
-- destination the caller may not name is reported like one that does not
-- exist, whatever the reason.
CREATE FUNCTION @extschema@.request_transfer(from_warehouse_id bigint, to_warehouse_id bigint, lines jsonb,
                                             reason text DEFAULT NULL, code text DEFAULT NULL)
    RETURNS @extschema@.stock_transfer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    src @extschema@.warehouse;
    dst @extschema@.warehouse;
    setting @extschema@.enforcement_setting;
    t @extschema@.stock_transfer;
    line record;
    request @extschema@.approval_request;
    found_violations integer := 0;
    on_hand numeric;
    new_id bigint;
BEGIN
    SELECT w.* INTO src FROM @extschema@.warehouse w WHERE w.id = request_transfer.from_warehouse_id;
    IF src.partner_id IS NULL
       OR NOT (@extschema@.acts_for_partner(src.tenant_id, src.partner_id)
               OR @extschema@.role_is_admin(actor)
               OR (coalesce(@extschema@.manages_tenant(actor, src.tenant_id), false)
                   AND @extschema@.shares_stock(src.tenant_id, src.partner_id))) THEN
        RAISE EXCEPTION 'warehouse % does not exist or is not visible to you', request_transfer.from_warehouse_id
              USING ERRCODE = 'no_data_found';
    END IF;
    SELECT w.* INTO dst FROM @extschema@.warehouse w
     WHERE w.tenant_id = src.tenant_id AND w.id = request_transfer.to_warehouse_id
       AND w.partner_id IS NOT NULL AND w.active AND w.id <> src.id;
    IF NOT FOUND OR NOT src.active THEN
        RAISE EXCEPTION 'warehouse % cannot take part in a transfer from warehouse %', request_transfer.to_warehouse_id,
                        src.id
              USING ERRCODE = 'no_data_found',
                    HINT = 'Both warehouses are active partner warehouses of the tenant, and they differ.';
    END IF;
    IF pg_catalog.jsonb_typeof(request_transfer.lines) IS DISTINCT FROM 'array' OR pg_catalog.jsonb_array_length(request_transfer.lines) = 0 THEN
        RAISE EXCEPTION 'a transfer needs lines' USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Give lines as [{"product_id": 1, "quantity": 10}, ...].';
    END IF;
    SELECT s.* INTO setting FROM @extschema@.enforcement_setting s WHERE s.tenant_id = src.tenant_id;

    new_id := pg_catalog.nextval(pg_catalog.pg_get_serial_sequence('@extschema@.stock_transfer', 'id'));
    INSERT INTO @extschema@.stock_transfer (id, tenant_id, code, from_partner_id, from_warehouse_id, to_partner_id,
                                            to_warehouse_id, reason)
    VALUES (new_id, src.tenant_id, coalesce(request_transfer.code, 'TR-' || new_id),
            src.partner_id, src.id, dst.partner_id, dst.id, request_transfer.reason)
    RETURNING * INTO t;
    FOR line IN
        SELECT (e ->> 'product_id')::bigint AS product_id, (e ->> 'quantity')::numeric AS quantity, n
          FROM pg_catalog.jsonb_array_elements(request_transfer.lines) WITH ORDINALITY AS x (e, n)
         ORDER BY n
    LOOP
        IF line.product_id IS NULL OR line.quantity IS NULL OR line.quantity <= 0
           OR line.quantity <> line.quantity::numeric(18,4)
           OR NOT EXISTS (SELECT 1 FROM @extschema@.product p WHERE p.tenant_id = src.tenant_id AND p.id = line.product_id) THEN
            RAISE EXCEPTION 'transfer line % is not a product of the tenant with a positive quantity', line.n
                  USING ERRCODE = 'invalid_parameter_value',
                        HINT = 'Each line is {"product_id": <a product id>, "quantity": <more than 0, at most 4 decimals>}.';
        END IF;
        INSERT INTO @extschema@.stock_transfer_line (tenant_id, transfer_id, product_id, quantity)
        VALUES (t.tenant_id, t.id, line.product_id, line.quantity);
        -- the sender's own stock: telling it is no leak
        on_hand := @extschema@.stock_on_hand_of(src, line.product_id);
        IF on_hand < line.quantity AND (@extschema@.inventory_settings(src.tenant_id)).negative_stock = 'reject' THEN
            RAISE EXCEPTION 'warehouse % holds % of product %, less than the % to transfer', src.code,
                            pg_catalog.trim_scale(on_hand), line.product_id, pg_catalog.trim_scale(line.quantity)
                  USING ERRCODE = 'RB100';
        END IF;
        IF setting.product_region <> 'allow' AND NOT @extschema@.product_authorised(line.product_id, dst.region_id) THEN
            IF setting.product_region = 'reject' THEN
                RAISE EXCEPTION 'product % is not authorised for sale in region %', line.product_id, dst.region_id
                      USING ERRCODE = 'RB021', DETAIL = 'The transfer''s destination lies in that region.',
                            HINT = 'Transfer it to a warehouse where the product may be sold.';
            END IF;
            INSERT INTO @extschema@.policy_violation (tenant_id, kind, source_table, source_id, partner_id, product_id,
                                                      region_id, order_date, quantity, message)
            VALUES (t.tenant_id, 'product_region', '@extschema@.stock_transfer'::regclass, t.id, src.partner_id,
                    line.product_id, dst.region_id, CURRENT_DATE, line.quantity,
                    pg_catalog.format('product %s is not authorised for sale in region %s', line.product_id, dst.region_id));
            found_violations := found_violations + 1;
        END IF;
    END LOOP;
    IF setting.territory <> 'allow' AND NOT @extschema@.in_territory(src.partner_id, dst.region_id, CURRENT_DATE) THEN
        IF setting.territory = 'reject' THEN
            RAISE EXCEPTION 'region % lies outside every territory of partner %', dst.region_id, src.partner_id
                  USING ERRCODE = 'RB020', DETAIL = 'A transfer into another territory is 窜货.',
                        HINT = 'Transfer within the sender''s territory, or ask the brand to record such transfers for review.';
        END IF;
        INSERT INTO @extschema@.policy_violation (tenant_id, kind, source_table, source_id, partner_id, region_id,
                                                  order_date, message)
        VALUES (t.tenant_id, 'territory', '@extschema@.stock_transfer'::regclass, t.id, src.partner_id, dst.region_id,
                CURRENT_DATE, pg_catalog.format('region %s lies outside every territory of partner %s', dst.region_id,
                                                src.partner_id));
        found_violations := found_violations + 1;
    END IF;
    UPDATE @extschema@.stock_transfer x SET violations = found_violations WHERE x.tenant_id = t.tenant_id AND x.id = t.id;
    request := @extschema@.open_request(
        -- ids, not codes: the requester may not read the other warehouse
        'stock_transfer', pg_catalog.format('transfer %s: warehouse %s to %s', t.code, src.id, dst.id),
        partner_id => src.partner_id, region_id => dst.region_id, subject_id => t.id,
        detail => pg_catalog.jsonb_build_object(
            'code', t.code, 'from_warehouse_id', src.id, 'to_warehouse_id', dst.id, 'to_partner_id', dst.partner_id,
            'violations', found_violations,
            'lines', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('product_id', l.product_id, 'quantity', l.quantity)
                                                  ORDER BY l.product_id)
                        FROM @extschema@.stock_transfer_line l WHERE l.tenant_id = t.tenant_id AND l.transfer_id = t.id)));
    -- (a decision taken at once, by transfer_decided, has set it already)
    UPDATE @extschema@.stock_transfer x SET request_id = request.id
     WHERE x.tenant_id = t.tenant_id AND x.id = t.id AND x.request_id IS NULL;
    RETURN (SELECT x FROM @extschema@.stock_transfer x WHERE x.tenant_id = t.tenant_id AND x.id = t.id);
END
$$;
COMMENT ON FUNCTION @extschema@.request_transfer(bigint, bigint, jsonb, text, text) IS
    'Requests a transfer (调拨) from the caller''s partner''s warehouse (or a sharing partner''s, for a manager) to another partner''s, for approval (stock_transfer); the destination judged for territory and product authorisation by the tenant''s modes';

-- Stock now of a warehouse the caller holds (no row-level security between).
CREATE FUNCTION @extschema@.stock_on_hand_of(w @extschema@.warehouse, product_id bigint) RETURNS numeric
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT b.quantity FROM @extschema@.stock_balance b
                      WHERE b.tenant_id = w.tenant_id AND b.warehouse_id = w.id
                        AND b.product_id = stock_on_hand_of.product_id), 0)
$$;
REVOKE ALL ON FUNCTION @extschema@.stock_on_hand_of(@extschema@.warehouse, bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.stock_on_hand_of(@extschema@.warehouse, bigint) IS
    'Internal: stock now of a warehouse x product, read as the owner (callers check who may know it)';

CREATE FUNCTION @extschema@.transfer_decided(request @extschema@.approval_request) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t @extschema@.stock_transfer;
BEGIN
    SELECT x.* INTO t FROM @extschema@.stock_transfer x
     WHERE x.tenant_id = request.tenant_id AND x.id = request.subject_id FOR UPDATE;
    IF t.status IS DISTINCT FROM 'pending_approval' OR t.request_id <> request.id THEN
        RETURN;
    END IF;
    UPDATE @extschema@.stock_transfer x
       SET status = CASE request.status WHEN 'approved' THEN 'approved' WHEN 'rejected' THEN 'rejected' ELSE 'withdrawn' END,
           request_id = request.id
     WHERE x.tenant_id = t.tenant_id AND x.id = t.id;
    -- the decision on the transfer is the decision on its violations
    UPDATE @extschema@.policy_violation v
       SET status = CASE request.status WHEN 'approved' THEN 'approved' ELSE 'rejected' END,
           resolved_at = pg_catalog.now(), resolved_by = @extschema@.acting_role(),
           resolution_note = pg_catalog.format('transfer %s %s', t.code, request.status)
     WHERE v.tenant_id = t.tenant_id AND v.source_table = '@extschema@.stock_transfer'::regclass AND v.source_id = t.id
       AND v.status = 'open';
END
$$;
REVOKE ALL ON FUNCTION @extschema@.transfer_decided(@extschema@.approval_request) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.transfer_decided(@extschema@.approval_request) IS
    'Internal (on_decided of stock_transfer): approves, rejects or withdraws the transfer, and resolves its violations alike';
INSERT INTO @extschema@.request_type (request_type, description, on_decided) VALUES
    ('stock_transfer',
     'A transfer of stock between partners (调拨): approved, the sender may ship it; rejected or withdrawn, it ends',
     '@extschema@.transfer_decided(@extschema@.approval_request)');


-- Moves a transfer's goods: out of the sender's warehouse when it ships
-- (approved -> shipped), into the receiver's when it arrives (shipped ->
-- received).  Only the party that holds the goods at that moment acts: the
-- sender's users ship, the receiver's users receive; a transfer the caller
-- is not that party to is reported like one that does not exist.
CREATE FUNCTION @extschema@.move_transfer(transfer_id bigint, leaving boolean, moved_on date)
    RETURNS @extschema@.stock_transfer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t @extschema@.stock_transfer;
    from_status text := CASE WHEN leaving THEN 'approved' ELSE 'shipped' END;
BEGIN
    SELECT x.* INTO t FROM @extschema@.stock_transfer x WHERE x.id = move_transfer.transfer_id;
    IF t.id IS NULL
       OR NOT @extschema@.acts_for_partner(t.tenant_id, CASE WHEN leaving THEN t.from_partner_id ELSE t.to_partner_id END) THEN
        RAISE EXCEPTION 'transfer % does not exist or is not visible to you', move_transfer.transfer_id
              USING ERRCODE = 'no_data_found';
    END IF;
    SELECT x.* INTO t FROM @extschema@.stock_transfer x WHERE x.tenant_id = t.tenant_id AND x.id = t.id FOR UPDATE;
    IF t.status <> from_status THEN
        RAISE EXCEPTION 'transfer % is %, not %', t.code, pg_catalog.replace(t.status, '_', ' '), from_status
              USING ERRCODE = 'RB104';
    END IF;
    IF NOT leaving AND move_transfer.moved_on < t.shipped_on THEN
        RAISE EXCEPTION 'transfer % cannot arrive on %, before it left on %', t.code, move_transfer.moved_on, t.shipped_on
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO @extschema@.stock_movement (tenant_id, warehouse_id, partner_id, product_id, moved_on, kind, quantity,
                                            source, source_id, reference)
    SELECT t.tenant_id, CASE WHEN leaving THEN t.from_warehouse_id ELSE t.to_warehouse_id END,
           CASE WHEN leaving THEN t.from_partner_id ELSE t.to_partner_id END, l.product_id, move_transfer.moved_on,
           CASE WHEN leaving THEN 'transfer_out' ELSE 'transfer_in' END,
           CASE WHEN leaving THEN -l.quantity ELSE l.quantity END, 'transfer', t.id, t.code
      FROM @extschema@.stock_transfer_line l WHERE l.tenant_id = t.tenant_id AND l.transfer_id = t.id
     ORDER BY l.product_id;
    UPDATE @extschema@.stock_transfer x
       SET status = CASE WHEN leaving THEN 'shipped' ELSE 'received' END,
           shipped_on = CASE WHEN leaving THEN move_transfer.moved_on ELSE x.shipped_on END,
           received_on = CASE WHEN leaving THEN x.received_on ELSE move_transfer.moved_on END
     WHERE x.tenant_id = t.tenant_id AND x.id = t.id
    RETURNING x.* INTO t;
    RETURN t;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.move_transfer(bigint, boolean, date) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.move_transfer(bigint, boolean, date) IS
    'Internal (ship_transfer, receive_transfer): books a transfer''s goods out of the sender''s or into the receiver''s warehouse, for that party only';

CREATE FUNCTION @extschema@.ship_transfer(transfer_id bigint, shipped_on date DEFAULT CURRENT_DATE)
    RETURNS @extschema@.stock_transfer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t @extschema@.stock_transfer := @extschema@.move_transfer(ship_transfer.transfer_id, true, ship_transfer.shipped_on);
BEGIN
    PERFORM @extschema@.notify(t.tenant_id, t.to_partner_id, NULL, 'transfer_shipped', 'stock_transfer', t.id,
                               pg_catalog.format('transfer %s shipped to warehouse %s', t.code, t.to_warehouse_id),
                               pg_catalog.jsonb_build_object('code', t.code, 'to_warehouse_id', t.to_warehouse_id,
                                                             'shipped_on', t.shipped_on));
    RETURN t;
END
$$;
COMMENT ON FUNCTION @extschema@.ship_transfer(bigint, date) IS
    'Ships an approved transfer (the sender''s users): its goods leave the sender''s warehouse on shipped_on; the receiver is told';

CREATE FUNCTION @extschema@.receive_transfer(transfer_id bigint, received_on date DEFAULT CURRENT_DATE)
    RETURNS @extschema@.stock_transfer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.move_transfer(receive_transfer.transfer_id, false, receive_transfer.received_on)
$$;
COMMENT ON FUNCTION @extschema@.receive_transfer(bigint, date) IS
    'Receives a shipped transfer (the receiver''s users): its goods enter the receiver''s warehouse on received_on';

-- Cancels an approved transfer before it ships (the sender's users or a manager).
CREATE FUNCTION @extschema@.cancel_transfer(transfer_id bigint) RETURNS @extschema@.stock_transfer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t @extschema@.stock_transfer;
BEGIN
    SELECT x.* INTO t FROM @extschema@.stock_transfer x WHERE x.id = cancel_transfer.transfer_id;
    IF t.id IS NULL OR NOT (@extschema@.acts_for_partner(t.tenant_id, t.from_partner_id)
                            OR @extschema@.may_manage(@extschema@.acting_role(), t.tenant_id)) THEN
        RAISE EXCEPTION 'transfer % does not exist or is not visible to you', cancel_transfer.transfer_id
              USING ERRCODE = 'no_data_found';
    END IF;
    SELECT x.* INTO t FROM @extschema@.stock_transfer x WHERE x.tenant_id = t.tenant_id AND x.id = t.id FOR UPDATE;
    IF t.status <> 'approved' THEN
        RAISE EXCEPTION 'transfer % is %, not approved', t.code, pg_catalog.replace(t.status, '_', ' ')
              USING ERRCODE = 'RB104', HINT = 'A pending transfer is withdrawn through its request (rebate.withdraw_request).';
    END IF;
    UPDATE @extschema@.stock_transfer x SET status = 'cancelled' WHERE x.tenant_id = t.tenant_id AND x.id = t.id
    RETURNING x.* INTO t;
    RETURN t;
END
$$;
COMMENT ON FUNCTION @extschema@.cancel_transfer(bigint) IS
    'Cancels an approved transfer that has not shipped (the sender''s users or a manager)';

-- ---- replenishment (补货建议) ----

CREATE TABLE @extschema@.replenishment_suggestion (
    id                 bigint GENERATED BY DEFAULT AS IDENTITY,
    tenant_id          bigint NOT NULL REFERENCES @extschema@.tenant,
    warehouse_id       bigint NOT NULL,
    partner_id         bigint,
    owner_key          bigint NOT NULL GENERATED ALWAYS AS (coalesce(partner_id, 0)) STORED,
    product_id         bigint NOT NULL,
    as_of              date NOT NULL,
    on_hand            numeric NOT NULL,
    in_transit         numeric NOT NULL,
    cover_days         integer NOT NULL,
    forecast_demand    numeric NOT NULL,
    safety_stock       numeric NOT NULL,
    reorder_point      numeric,
    maximum            numeric,
    quantity           numeric NOT NULL CHECK (quantity > 0),
    method             text NOT NULL CHECK (method IN ('holt_winters', 'moving_average')),
    history_months     integer NOT NULL,
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'ordered', 'dismissed', 'superseded')),
    order_id           bigint,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, warehouse_id, owner_key) REFERENCES @extschema@.warehouse (tenant_id, id, owner_key),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES @extschema@.sales_order (tenant_id, id),
    CONSTRAINT replenishment_ordered CHECK ((status = 'ordered') = (order_id IS NOT NULL))
);
CREATE UNIQUE INDEX replenishment_suggestion_by_id ON @extschema@.replenishment_suggestion (id);
SELECT @extschema@.apply_standard_triggers('@extschema@.replenishment_suggestion');
-- written by suggest_replenishment and order_suggestions with the caller's rights: who may see the stock
SELECT @extschema@.apply_stock_rls('@extschema@.replenishment_suggestion', 'true', true);
CREATE UNIQUE INDEX replenishment_suggestion_open ON @extschema@.replenishment_suggestion (tenant_id, warehouse_id, product_id)
    WHERE status = 'open';
COMMENT ON TABLE @extschema@.replenishment_suggestion IS
    'Replenishment suggestions (补货建议): what to order for a warehouse x product, from the forecast of its sales over lead time + cycle, its safety stock and what it holds and awaits';
COMMENT ON COLUMN @extschema@.replenishment_suggestion.as_of IS 'The day it was computed for: the forecast starts with the month after the last complete one';
COMMENT ON COLUMN @extschema@.replenishment_suggestion.on_hand IS 'Stock on hand that day';
COMMENT ON COLUMN @extschema@.replenishment_suggestion.in_transit IS 'Goods on their way in: shipments in transit and transfers shipped to the warehouse';
COMMENT ON COLUMN @extschema@.replenishment_suggestion.cover_days IS 'Days the suggestion covers: the threshold''s lead_days + cycle_days (7 + 30 without one)';
COMMENT ON COLUMN @extschema@.replenishment_suggestion.forecast_demand IS 'Forecast sales over cover_days (rebate.forecast_demand, pro rata by month of 30 days)';
COMMENT ON COLUMN @extschema@.replenishment_suggestion.safety_stock IS 'The threshold''s minimum (0 without one)';
COMMENT ON COLUMN @extschema@.replenishment_suggestion.quantity IS
    'Units to order: forecast_demand + safety_stock - on_hand - in_transit, capped at maximum - on_hand - in_transit, rounded up to whole units';
COMMENT ON COLUMN @extschema@.replenishment_suggestion.method IS
    'holt_winters (24 months of history or more: trend and a yearly season), moving_average (less: the mean of the last three months; none: 0)';
COMMENT ON COLUMN @extschema@.replenishment_suggestion.status IS
    'open -> ordered (rebate.order_suggestions made a draft order) | dismissed | superseded (a newer suggestion for the item)';

-- Monthly sales of an item, oldest first: the complete months before the
-- month of as_of, from the first month it had a movement, at most 36.
CREATE FUNCTION @extschema@.monthly_sales(tenant_id bigint, warehouse_id bigint, product_id bigint, as_of date)
    RETURNS numeric[]
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH bounds AS (
        -- (an item without movements has no months)
        SELECT CASE WHEN min(m.moved_on) IS NOT NULL THEN
                   GREATEST(pg_catalog.date_trunc('month', min(m.moved_on)),
                            pg_catalog.date_trunc('month', monthly_sales.as_of) - interval '36 months')::date
               END AS first_month,
               (pg_catalog.date_trunc('month', monthly_sales.as_of) - interval '1 month')::date AS last_month
          FROM @extschema@.stock_movement m
         WHERE m.tenant_id = monthly_sales.tenant_id AND m.warehouse_id = monthly_sales.warehouse_id
           AND m.product_id = monthly_sales.product_id
    ), sold AS (
        SELECT pg_catalog.date_trunc('month', m.moved_on)::date AS month, -sum(m.quantity) AS quantity
          FROM @extschema@.stock_movement m, bounds b
         WHERE m.tenant_id = monthly_sales.tenant_id AND m.warehouse_id = monthly_sales.warehouse_id
           AND m.product_id = monthly_sales.product_id AND m.kind = ANY (@extschema@.stock_sale_kinds())
           AND m.moved_on >= b.first_month AND m.moved_on < (b.last_month + interval '1 month')
         GROUP BY 1
    )
    SELECT coalesce(pg_catalog.array_agg(GREATEST(coalesce(s.quantity, 0), 0) ORDER BY g.month), '{}')
      FROM bounds b
     CROSS JOIN LATERAL pg_catalog.generate_series(b.first_month, b.last_month, interval '1 month') AS g (month)
      LEFT JOIN sold s ON s.month = g.month::date
$$;
COMMENT ON FUNCTION @extschema@.monthly_sales(bigint, bigint, bigint, date) IS
    'Units sold (sell-out, or shipments from the brand''s warehouses) per month of a warehouse x product: the complete months before as_of''s, from its first movement, at most 36, oldest first';

-- Computes the replenishment suggestions of a warehouse as of a day: every
-- product with its own threshold there, and every product it carries (has
-- stock movements of) with a category's threshold or a sale in the last year.  An item
-- is suggested when what it holds and awaits is at or below its reorder
-- point (or, without one, below what the cover period needs).  Runs with the
-- caller's rights: a warehouse it may not see has no suggestions.
CREATE FUNCTION @extschema@.suggest_replenishment(warehouse_id bigint, as_of date DEFAULT CURRENT_DATE)
    RETURNS SETOF @extschema@.replenishment_suggestion
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w @extschema@.warehouse;
    item record;
    history numeric[];
    months integer;
    horizon integer;
    forecast numeric[];
    demand numeric;
    position numeric;
    target numeric;
    amount numeric;
    made @extschema@.replenishment_suggestion;
BEGIN
    SELECT x.* INTO w FROM @extschema@.warehouse x WHERE x.id = suggest_replenishment.warehouse_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'warehouse % does not exist or is not visible to you', suggest_replenishment.warehouse_id
              USING ERRCODE = 'no_data_found';
    END IF;
    FOR item IN
        SELECT p.product_id, th.minimum, th.reorder_point, th.maximum,
               coalesce(th.lead_days, 7) + coalesce(th.cycle_days, 30) AS cover_days
          FROM (SELECT t.product_id FROM @extschema@.stock_threshold t
                 WHERE t.tenant_id = w.tenant_id AND t.warehouse_id = w.id AND t.product_id IS NOT NULL
                UNION
                -- the items the warehouse carries: a category's threshold applies to them
                SELECT b.product_id FROM @extschema@.stock_balance b
                 WHERE b.tenant_id = w.tenant_id AND b.warehouse_id = w.id
                   AND (b.last_sale_on > suggest_replenishment.as_of - 365
                        OR @extschema@.effective_threshold(w.tenant_id, w.id, b.product_id) IS NOT NULL)) p
          LEFT JOIN LATERAL @extschema@.effective_threshold(w.tenant_id, w.id, p.product_id) th ON true
         ORDER BY p.product_id
    LOOP
        history := @extschema@.monthly_sales(w.tenant_id, w.id, item.product_id, suggest_replenishment.as_of);
        months := coalesce(pg_catalog.array_length(history, 1), 0);
        horizon := (item.cover_days + 29) / 30;
        -- two years and more: Holt-Winters with a yearly season; less: the mean of the last three months
        -- (a trend fitted to a few months overshoots: 0, 55, 20 would be forecast 160, 215)
        forecast := CASE WHEN months >= 24 THEN @extschema@.forecast_demand(history, 12, horizon)
                         WHEN months > 0 THEN pg_catalog.array_fill(
                             (SELECT pg_catalog.round(avg(h), 4) FROM pg_catalog.unnest(history[GREATEST(1, months - 2):months]) h),
                             ARRAY[horizon]) END;
        -- the months' forecasts pro rata: whole months of 30 days, then the part of the last
        SELECT coalesce(sum(f.v * LEAST(30, item.cover_days - (f.n - 1) * 30) / 30), 0) INTO demand
          FROM pg_catalog.unnest(forecast) WITH ORDINALITY AS f (v, n);
        position := @extschema@.stock_on_hand(w.id, item.product_id, suggest_replenishment.as_of)
                    + @extschema@.stock_in_transit(w, item.product_id);
        target := demand + coalesce(item.minimum, 0);
        amount := target - position;
        IF item.maximum IS NOT NULL THEN
            amount := LEAST(amount, item.maximum - position);
        END IF;
        amount := pg_catalog.ceil(amount);
        IF amount > 0 AND (item.reorder_point IS NULL OR position <= item.reorder_point) THEN
            UPDATE @extschema@.replenishment_suggestion r SET status = 'superseded'
             WHERE r.tenant_id = w.tenant_id AND r.warehouse_id = w.id AND r.product_id = item.product_id
               AND r.status = 'open';
            INSERT INTO @extschema@.replenishment_suggestion
                   (tenant_id, warehouse_id, partner_id, product_id, as_of, on_hand, in_transit, cover_days,
                    forecast_demand, safety_stock, reorder_point, maximum, quantity, method, history_months)
            VALUES (w.tenant_id, w.id, w.partner_id, item.product_id, suggest_replenishment.as_of,
                    @extschema@.stock_on_hand(w.id, item.product_id, suggest_replenishment.as_of),
                    @extschema@.stock_in_transit(w, item.product_id), item.cover_days, pg_catalog.round(demand, 4),
                    coalesce(item.minimum, 0), item.reorder_point, item.maximum, amount,
                    CASE WHEN months >= 24 THEN 'holt_winters' ELSE 'moving_average' END, months)
            RETURNING * INTO made;
            RETURN NEXT made;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.suggest_replenishment(bigint, date) IS
    'Computes and records the replenishment suggestions of a warehouse as of a day (products with their own threshold there; products it carries with a category threshold or a sale in the last year): forecast sales over lead + cycle days plus safety stock, less stock and goods in transit, capped at the maximum; the caller''s rights';

-- Goods on their way into a warehouse: shipments in transit, transfers shipped.
CREATE FUNCTION @extschema@.stock_in_transit(w @extschema@.warehouse, product_id bigint) RETURNS numeric
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT sum(sl.quantity)
                       FROM @extschema@.shipment s
                       JOIN @extschema@.shipment_line sl ON sl.tenant_id = s.tenant_id AND sl.shipment_id = s.id
                       JOIN @extschema@.order_line ol ON ol.tenant_id = sl.tenant_id AND ol.id = sl.order_line_id
                      WHERE s.tenant_id = w.tenant_id AND s.to_warehouse_id = w.id AND s.status = 'in_transit'
                        AND ol.product_id = stock_in_transit.product_id), 0)
         + coalesce((SELECT sum(l.quantity)
                       FROM @extschema@.stock_transfer t
                       JOIN @extschema@.stock_transfer_line l ON l.tenant_id = t.tenant_id AND l.transfer_id = t.id
                      WHERE t.tenant_id = w.tenant_id AND t.to_warehouse_id = w.id AND t.status = 'shipped'
                        AND l.product_id = stock_in_transit.product_id), 0)
$$;
COMMENT ON FUNCTION @extschema@.stock_in_transit(@extschema@.warehouse, bigint) IS
    'Units of a product on their way into a warehouse: shipments in transit and transfers shipped to it (what the caller may see)';

-- Turns open suggestions of one partner warehouse into one draft order of
-- the partner, shipped to the warehouse's region, each line at the price its
-- price policy gives (the list price without one).  The partner submits it
-- as any order.  Runs with the caller's rights.
CREATE FUNCTION @extschema@.order_suggestions(suggestion_ids bigint[], code text DEFAULT NULL)
    RETURNS @extschema@.sales_order
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w @extschema@.warehouse;
    o @extschema@.sales_order;
    picked integer;
BEGIN
    SELECT x.* INTO w FROM @extschema@.warehouse x
     WHERE x.id = (SELECT min(r.warehouse_id) FROM @extschema@.replenishment_suggestion r
                    WHERE r.id = ANY (order_suggestions.suggestion_ids) AND r.status = 'open');
    SELECT count(*) INTO picked FROM @extschema@.replenishment_suggestion r
     WHERE r.id = ANY (order_suggestions.suggestion_ids) AND r.status = 'open' AND r.warehouse_id = w.id;
    IF w.id IS NULL OR picked <> coalesce(pg_catalog.cardinality(order_suggestions.suggestion_ids), 0)
       OR picked <> (SELECT count(DISTINCT s) FROM pg_catalog.unnest(order_suggestions.suggestion_ids) s) THEN
        RAISE EXCEPTION 'the suggestions are not open suggestions of one warehouse visible to you'
              USING ERRCODE = 'no_data_found', HINT = 'Order the open suggestions of one warehouse together.';
    END IF;
    IF w.partner_id IS NULL THEN
        RAISE EXCEPTION 'warehouse % is the brand''s: its suggestions are not ordered from the brand', w.code
              USING ERRCODE = 'invalid_parameter_value', HINT = 'Replenish the brand''s warehouses by its own purchasing.';
    END IF;
    INSERT INTO @extschema@.sales_order (tenant_id, code, partner_id, ship_to_region_id, status, note)
    VALUES (w.tenant_id, coalesce(order_suggestions.code,
                                  'RPL-' || w.code || '-' || (SELECT min(s) FROM pg_catalog.unnest(order_suggestions.suggestion_ids) s)),
            w.partner_id, w.region_id, 'draft', 'replenishment of warehouse ' || w.code)
    RETURNING * INTO o;
    INSERT INTO @extschema@.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price)
    SELECT o.tenant_id, o.id, o.partner_id, row_number() OVER (ORDER BY r.product_id), r.product_id, r.quantity,
           coalesce((@extschema@.policy_unit_price(
                        @extschema@.effective_price(r.product_id, w.partner_id, w.region_id, CURRENT_DATE, r.quantity),
                        r.product_id)).unit_price, p.list_price)
      FROM @extschema@.replenishment_suggestion r
      JOIN @extschema@.product p ON p.tenant_id = r.tenant_id AND p.id = r.product_id
     WHERE r.id = ANY (order_suggestions.suggestion_ids)
     ORDER BY r.product_id;
    UPDATE @extschema@.replenishment_suggestion r SET status = 'ordered', order_id = o.id
     WHERE r.id = ANY (order_suggestions.suggestion_ids);
    RETURN o;
END
$$;
COMMENT ON FUNCTION @extschema@.order_suggestions(bigint[], text) IS
    'Turns open suggestions of one partner warehouse into a draft order of the partner (priced by its price policies, else the list price); the caller''s rights';

-- How well the forecast would have done: for each item of a warehouse with
-- at least 36 complete months of sales before as_of, the last 12 months
-- forecast from the months before them, by Holt-Winters and by last year's
-- same month (the naive seasonal forecast), each scored by sMAPE.
CREATE FUNCTION @extschema@.forecast_backtest(warehouse_id bigint DEFAULT NULL, as_of date DEFAULT CURRENT_DATE)
    RETURNS TABLE (warehouse_id bigint, product_id bigint, months integer, holt_winters_smape numeric,
                   naive_smape numeric)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH items AS (
        SELECT b.tenant_id, b.warehouse_id, b.product_id,
               @extschema@.monthly_sales(b.tenant_id, b.warehouse_id, b.product_id, forecast_backtest.as_of) AS history
          FROM @extschema@.stock_balance b
         WHERE forecast_backtest.warehouse_id IS NULL OR b.warehouse_id = forecast_backtest.warehouse_id
    ), split AS (
        SELECT i.*, pg_catalog.array_length(i.history, 1) AS n FROM items i
         WHERE pg_catalog.array_length(i.history, 1) >= 36
    )
    SELECT s.warehouse_id, s.product_id, s.n,
           @extschema@.smape(s.history[s.n - 11 : s.n], @extschema@.forecast_demand(s.history[1 : s.n - 12], 12, 12)),
           @extschema@.smape(s.history[s.n - 11 : s.n], @extschema@.forecast_naive_seasonal(s.history[1 : s.n - 12], 12, 12))
      FROM split s
     ORDER BY s.warehouse_id, s.product_id
$$;
COMMENT ON FUNCTION @extschema@.forecast_backtest(bigint, date) IS
    'Forecast accuracy per item with 36+ months of sales: sMAPE (%) of the last 12 months forecast from the months before, by Holt-Winters and by the naive last-year forecast; the caller''s rights';

-- ---- exit checklist: stock ----

CREATE FUNCTION @extschema@.exit_check_stock(tenant_id bigint, partner_id bigint) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN items > 0 OR transfers > 0 THEN
                pg_catalog.concat_ws('; ',
                    CASE WHEN items > 0 THEN pg_catalog.format('%s items still in stock in its warehouses', items) END,
                    CASE WHEN transfers > 0 THEN pg_catalog.format('%s transfers not finished', transfers) END)
           END
      FROM (SELECT (SELECT count(*) FROM @extschema@.stock_balance b
                     WHERE b.tenant_id = exit_check_stock.tenant_id AND b.partner_id = exit_check_stock.partner_id
                       AND b.quantity <> 0) AS items,
                   (SELECT count(*) FROM @extschema@.stock_transfer t
                     WHERE t.tenant_id = exit_check_stock.tenant_id
                       AND exit_check_stock.partner_id IN (t.from_partner_id, t.to_partner_id)
                       AND t.status IN ('pending_approval', 'approved', 'shipped')) AS transfers) c
$$;
REVOKE ALL ON FUNCTION @extschema@.exit_check_stock(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.exit_check_stock(bigint, bigint) IS
    'Exit checklist item stock: its warehouses hold nothing and none of its transfers is pending, approved or on the way (NULL: settled)';
INSERT INTO @extschema@.exit_check (item, description, check_function) VALUES
    ('stock', 'Its warehouses hold no stock (returned, transferred or counted out) and no transfer of it is open',
     '@extschema@.exit_check_stock(bigint, bigint)');

-- ---- views for BI ----

CREATE VIEW @extschema@.v_stock WITH (security_invoker = true) AS
SELECT b.tenant_id, w.id AS warehouse_id, w.code AS warehouse_code, w.name AS warehouse_name, w.kind AS warehouse_kind,
       w.partner_id, pa.code AS partner_code, w.region_id, r.code AS region_code, r.path AS region_path,
       b.product_id, p.sku AS product_sku, p.category_id, b.quantity AS on_hand,
       pg_catalog.round(b.quantity * p.list_price, 2) AS list_value, b.last_inbound_on, b.last_sale_on,
       CURRENT_DATE - b.last_sale_on AS days_since_sale
  FROM @extschema@.stock_balance b
  JOIN @extschema@.warehouse w ON w.tenant_id = b.tenant_id AND w.id = b.warehouse_id
  JOIN @extschema@.product p ON p.tenant_id = b.tenant_id AND p.id = b.product_id
  JOIN @extschema@.region r ON r.tenant_id = w.tenant_id AND r.id = w.region_id
  LEFT JOIN @extschema@.partner pa ON pa.tenant_id = w.tenant_id AND pa.id = w.partner_id;
COMMENT ON VIEW @extschema@.v_stock IS
    '库存（节点） Stock on hand now per warehouse (node: the brand''s central and regional ones, each partner''s) and product, with its value at list price and its last sale';

CREATE VIEW @extschema@.v_stock_by_region WITH (security_invoker = true) AS
-- summed per region id and product first, then named: the region's text and path stay out of the grouping
SELECT s.tenant_id, s.region_id, r.code AS region_code, r.path AS region_path, s.product_id, s.warehouses,
       s.partner_warehouses, s.on_hand, s.brand_on_hand, s.partner_on_hand
  FROM (SELECT b.tenant_id, w.region_id, b.product_id, count(*) AS warehouses,
               count(*) FILTER (WHERE b.partner_id IS NOT NULL) AS partner_warehouses, sum(b.quantity) AS on_hand,
               sum(b.quantity) FILTER (WHERE b.partner_id IS NULL) AS brand_on_hand,
               sum(b.quantity) FILTER (WHERE b.partner_id IS NOT NULL) AS partner_on_hand
          FROM @extschema@.stock_balance b
          JOIN @extschema@.warehouse w ON w.tenant_id = b.tenant_id AND w.id = b.warehouse_id
         GROUP BY b.tenant_id, w.region_id, b.product_id) s
  JOIN @extschema@.region r ON r.tenant_id = s.tenant_id AND r.id = s.region_id;
COMMENT ON VIEW @extschema@.v_stock_by_region IS
    '区域库存 Stock on hand now per region (where the warehouses stand) and product, the brand''s and the partners'' apart; sum rows whose region_path contains a region for its subtree';

CREATE VIEW @extschema@.v_stock_age WITH (security_invoker = true) AS
SELECT x.tenant_id, x.warehouse_id, x.partner_id, x.product_id, (x.age).on_hand, (x.age).average_age,
       (x.age).oldest_arrival, (x.age).age_0_30, (x.age).age_31_60, (x.age).age_61_90, (x.age).age_91_180,
       (x.age).age_181_365, (x.age).age_over_365
  FROM (SELECT m.tenant_id, m.warehouse_id, min(m.partner_id) AS partner_id, m.product_id,
               @extschema@.stock_age(m.moved_on, m.quantity, CURRENT_DATE) AS age
          FROM @extschema@.stock_movement m
         WHERE m.moved_on <= CURRENT_DATE
         GROUP BY m.tenant_id, m.warehouse_id, m.product_id) x;
COMMENT ON VIEW @extschema@.v_stock_age IS
    '库龄结构 Stock age (FIFO: the units on hand are the latest arrivals) per warehouse and product today: average age, oldest arrival and quantity per age bucket';

CREATE VIEW @extschema@.v_stock_turnover WITH (security_invoker = true) AS
SELECT w.tenant_id, t.warehouse_id, t.partner_id, t.product_id, t.opening, t.received, t.sold, t.closing,
       t.average_stock, t.turnover, t.days_of_inventory, t.sell_through
  FROM @extschema@.stock_turnover(CURRENT_DATE - 89, CURRENT_DATE) t
  JOIN @extschema@.warehouse w ON w.id = t.warehouse_id;
COMMENT ON VIEW @extschema@.v_stock_turnover IS
    '库存周转 Turnover per warehouse and product over the last 90 days (today included): sold, average stock, turnover, days of inventory, sell-through (rebate.stock_turnover for any period)';

CREATE VIEW @extschema@.v_slow_movers WITH (security_invoker = true) AS
SELECT s.tenant_id, s.warehouse_id, s.partner_id, s.product_id, s.on_hand, s.last_sale_on, s.days_since_sale,
       t.sold AS sold_90_days, t.days_of_inventory,
       CASE WHEN s.days_since_sale IS NULL OR s.days_since_sale >= cfg.slow_moving_days THEN 'slow_moving'
            ELSE 'overstock' END AS flag
  FROM @extschema@.v_stock s
 CROSS JOIN LATERAL @extschema@.inventory_settings(s.tenant_id) cfg
  LEFT JOIN @extschema@.v_stock_turnover t ON t.warehouse_id = s.warehouse_id AND t.product_id = s.product_id
 WHERE s.on_hand > 0
   AND (s.days_since_sale IS NULL OR s.days_since_sale >= cfg.slow_moving_days
        OR coalesce(t.days_of_inventory, 0) > cfg.overstock_days);
COMMENT ON VIEW @extschema@.v_slow_movers IS
    '呆滞与积压 Items with stock that did not sell for the tenant''s slow_moving_days (slow_moving, 呆滞) or would last longer than overstock_days at the last 90 days'' rate (overstock, 积压)';

CREATE VIEW @extschema@.v_stock_alerts WITH (security_invoker = true) AS
SELECT a.tenant_id, a.id AS alert_id, a.warehouse_id, w.code AS warehouse_code, a.partner_id, a.product_id,
       a.kind AS alert_kind, a.quantity AS quantity_at_alert, a.threshold,
       coalesce(b.quantity, 0) AS on_hand, a.raised_at
  FROM @extschema@.stock_alert a
  JOIN @extschema@.warehouse w ON w.tenant_id = a.tenant_id AND w.id = a.warehouse_id
  LEFT JOIN @extschema@.stock_balance b
    ON b.tenant_id = a.tenant_id AND b.warehouse_id = a.warehouse_id AND b.product_id = a.product_id
 WHERE a.status = 'open';
COMMENT ON VIEW @extschema@.v_stock_alerts IS '库存预警 The open stock alerts with the stock now';

CREATE VIEW @extschema@.v_replenishment WITH (security_invoker = true) AS
SELECT r.tenant_id, r.id AS suggestion_id, r.warehouse_id, w.code AS warehouse_code, r.partner_id, r.product_id,
       r.as_of, r.on_hand, r.in_transit, r.cover_days, r.forecast_demand, r.safety_stock, r.quantity AS suggested_quantity,
       r.method, r.history_months
  FROM @extschema@.replenishment_suggestion r
  JOIN @extschema@.warehouse w ON w.tenant_id = r.tenant_id AND w.id = r.warehouse_id
 WHERE r.status = 'open';
COMMENT ON VIEW @extschema@.v_replenishment IS '补货建议 The open replenishment suggestions';

CREATE VIEW @extschema@.v_stock_transfers WITH (security_invoker = true) AS
SELECT t.tenant_id, t.id AS transfer_id, t.code AS transfer_code, t.status AS transfer_status, t.from_partner_id,
       t.from_warehouse_id, t.to_partner_id, t.to_warehouse_id, t.violations,
       (SELECT count(*) FROM @extschema@.stock_transfer_line l WHERE l.tenant_id = t.tenant_id AND l.transfer_id = t.id) AS lines,
       (SELECT sum(l.quantity) FROM @extschema@.stock_transfer_line l WHERE l.tenant_id = t.tenant_id AND l.transfer_id = t.id) AS units,
       t.created_at AS requested_at, t.shipped_on, t.received_on
  FROM @extschema@.stock_transfer t;
COMMENT ON VIEW @extschema@.v_stock_transfers IS '调拨 Transfers between partners: who, status, lines, units and dates';

CREATE VIEW @extschema@.v_delivery_performance WITH (security_invoker = true) AS
SELECT s.tenant_id, s.partner_id, s.carrier, pg_catalog.date_trunc('month', s.delivered_on)::date AS month,
       count(*) AS delivered, count(*) FILTER (WHERE s.planned_delivery_on IS NOT NULL) AS planned,
       count(*) FILTER (WHERE s.delivered_on <= s.planned_delivery_on) AS on_time,
       pg_catalog.round(count(*) FILTER (WHERE s.delivered_on <= s.planned_delivery_on)::numeric
                        / NULLIF(count(*) FILTER (WHERE s.planned_delivery_on IS NOT NULL), 0), 4) AS on_time_rate,
       pg_catalog.round(avg(s.delivered_on - s.shipped_on), 1) AS average_transit_days
  FROM @extschema@.shipment s
 WHERE s.status = 'delivered'
 GROUP BY s.tenant_id, s.partner_id, s.carrier, pg_catalog.date_trunc('month', s.delivered_on);
COMMENT ON VIEW @extschema@.v_delivery_performance IS
    '交付准时率 Delivered shipments per partner, carrier and month: how many had a planned day, how many arrived on or before it, the rate and the average days in transit';

SELECT @extschema@.comment_view_columns(
    ARRAY['@extschema@.v_stock', '@extschema@.v_stock_by_region', '@extschema@.v_stock_age', '@extschema@.v_stock_turnover',
          '@extschema@.v_slow_movers', '@extschema@.v_stock_alerts', '@extschema@.v_replenishment',
          '@extschema@.v_stock_transfers', '@extschema@.v_delivery_performance']::regclass[],
    pg_catalog.jsonb_build_object(
        'tenant_id', '租户 Tenant: the manufacturer or brand',
        'warehouse_id', '仓库 Warehouse id (rebate.warehouse)',
        'warehouse_code', '仓库编码 Warehouse code',
        'warehouse_name', '仓库名称 Warehouse name',
        'warehouse_kind', '仓库类型 central or regional (the brand''s), partner',
        'partner_id', '渠道商 The partner owning the warehouse (NULL: the brand''s), or the order''s partner',
        'partner_code', '渠道商编码 Partner code (NULL: the brand)',
        'region_id', '区域 The region the warehouse stands in',
        'region_code', '区域编码 Region code',
        'region_path', '区域路径 Region ids from the top down to the warehouse''s region: a region''s subtree is region_path @> ARRAY[id]',
        'product_id', '产品 Product id (rebate.product)',
        'product_sku', '产品SKU The product''s SKU',
        'category_id', '产品类别 The product''s category',
        'on_hand', '现有库存 Units on hand now',
        'list_value', '库存货值 Units on hand x list price',
        'last_inbound_on', '最近入库 The latest day goods came in',
        'last_sale_on', '最近销售 The latest day of a sale (sell-out, or a shipment from the brand)',
        'days_since_sale', '未动销天数 Days since the last sale (NULL: never sold)',
        'warehouses', '仓库数 Warehouses with the product',
        'partner_warehouses', '渠道仓库数 Of them, partners'' warehouses',
        'brand_on_hand', '品牌库存 Units in the brand''s warehouses',
        'partner_on_hand', '渠道库存 Units in partners'' warehouses',
        'average_age', '平均库龄 Mean age in days of the units on hand (FIFO)',
        'oldest_arrival', '最早入库 The arrival day of the oldest unit on hand',
        'age_0_30', '库龄0-30天 Units on hand 0 to 30 days old',
        'age_31_60', '库龄31-60天 Units 31 to 60 days old',
        'age_61_90', '库龄61-90天 Units 61 to 90 days old',
        'age_91_180', '库龄91-180天 Units 91 to 180 days old',
        'age_181_365', '库龄181-365天 Units 181 to 365 days old',
        'age_over_365', '库龄一年以上 Units more than 365 days old',
        'opening', '期初库存 Stock at the start of the period',
        'received', '入库 Units that came in during the period',
        'sold', '销售 Units sold during the period (sell-out, shipments from the brand)',
        'closing', '期末库存 Stock at the end of the period',
        'average_stock', '平均库存 End-of-day stock averaged over the period''s days')
    || pg_catalog.jsonb_build_object(
        'turnover', '周转次数 sold / average stock',
        'days_of_inventory', '库存天数 Days the closing stock lasts at the period''s rate of sale',
        'sell_through', '售罄率 sold / (opening + received)',
        'sold_90_days', '90天销量 Units sold in the last 90 days',
        'flag', '标记 slow_moving (呆滞: no sale for slow_moving_days) or overstock (积压: lasts beyond overstock_days)',
        'alert_id', '预警 Alert id (rebate.stock_alert)',
        'alert_kind', '预警类型 out_of_stock, below_minimum, reorder, above_maximum',
        'quantity_at_alert', '预警时库存 Units on hand when the alert was raised',
        'threshold', '阈值 The threshold crossed (NULL for out_of_stock)',
        'raised_at', '预警时间 When the alert was raised',
        'suggestion_id', '建议 Suggestion id (rebate.replenishment_suggestion)',
        'as_of', '计算日 The day the suggestion was computed for',
        'in_transit', '在途 Units on their way in',
        'cover_days', '覆盖天数 Lead time + cycle the suggestion covers',
        'forecast_demand', '预测需求 Forecast sales over the cover days',
        'safety_stock', '安全库存 The threshold''s minimum',
        'suggested_quantity', '建议补货量 Units to order (whole units)',
        'method', '预测方法 holt_winters (24+ months of history) or moving_average (the last three months)',
        'history_months', '历史月数 Months of sales the forecast learned from',
        'transfer_id', '调拨单 Transfer id (rebate.stock_transfer)',
        'transfer_code', '调拨单号 Transfer code',
        'transfer_status', '调拨状态 pending_approval, approved, rejected, withdrawn, shipped, received, cancelled',
        'from_partner_id', '调出方 The sending partner',
        'from_warehouse_id', '调出仓库 The sending warehouse',
        'to_partner_id', '调入方 The receiving partner',
        'to_warehouse_id', '调入仓库 The receiving warehouse',
        'violations', '违规数 Policy violations recorded when requested (窜货, unauthorised product)',
        'lines', '行数 Lines of the transfer',
        'units', '数量 Units transferred',
        'requested_at', '申请时间 When it was requested',
        'shipped_on', '发出日 The day it left',
        'received_on', '收到日 The day it arrived',
        'carrier', '承运商 The carrier',
        'month', '月份 The month of delivery (first day)',
        'delivered', '送达数 Shipments delivered',
        'planned', '有计划日 Of them, shipments with a planned delivery day',
        'on_time', '准时数 Of those, delivered on or before the planned day',
        'on_time_rate', '准时率 on_time / planned',
        'average_transit_days', '平均在途天数 Mean days from shipped to delivered'));

-- ---- grants ----

GRANT SELECT, INSERT, DELETE ON @extschema@.shipment, @extschema@.shipment_line TO rebate_admin, rebate_manager;
GRANT UPDATE (code, carrier, waybill_no, planned_ship_on, planned_delivery_on, note) ON @extschema@.shipment
    TO rebate_admin, rebate_manager;
GRANT UPDATE (quantity) ON @extschema@.shipment_line TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.shipment, @extschema@.shipment_line, @extschema@.shipment_event TO rebate_partner;
GRANT SELECT ON @extschema@.shipment_event TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.stock_transfer, @extschema@.stock_transfer_line TO rebate_admin, rebate_manager, rebate_partner;
GRANT SELECT ON @extschema@.replenishment_suggestion TO rebate_admin, rebate_manager, rebate_partner;
GRANT INSERT (tenant_id, warehouse_id, partner_id, product_id, as_of, on_hand, in_transit, cover_days, forecast_demand,
              safety_stock, reorder_point, maximum, quantity, method, history_months),
      UPDATE (status, order_id) ON @extschema@.replenishment_suggestion TO rebate_admin, rebate_manager, rebate_partner;
GRANT SELECT ON @extschema@.v_stock, @extschema@.v_stock_by_region, @extschema@.v_stock_age, @extschema@.v_stock_turnover,
                @extschema@.v_slow_movers, @extschema@.v_stock_alerts, @extschema@.v_replenishment,
                @extschema@.v_stock_transfers, @extschema@.v_delivery_performance
    TO rebate_admin, rebate_manager, rebate_partner;

REVOKE ALL ON FUNCTION @extschema@.ship_shipment(bigint, date), @extschema@.deliver_shipment(bigint, date),
                       @extschema@.record_tracking_event(text, text, timestamptz, text, text, text),
                       @extschema@.request_transfer(bigint, bigint, jsonb, text, text),
                       @extschema@.ship_transfer(bigint, date), @extschema@.receive_transfer(bigint, date),
                       @extschema@.cancel_transfer(bigint)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.ship_shipment(bigint, date), @extschema@.deliver_shipment(bigint, date),
                          @extschema@.request_transfer(bigint, bigint, jsonb, text, text),
                          @extschema@.ship_transfer(bigint, date), @extschema@.receive_transfer(bigint, date),
                          @extschema@.cancel_transfer(bigint),
                          @extschema@.suggest_replenishment(bigint, date),
                          @extschema@.order_suggestions(bigint[], text),
                          @extschema@.forecast_backtest(bigint, date),
                          @extschema@.monthly_sales(bigint, bigint, bigint, date),
                          @extschema@.stock_in_transit(@extschema@.warehouse, bigint)
    TO rebate_admin, rebate_manager, rebate_partner;
GRANT EXECUTE ON FUNCTION @extschema@.record_tracking_event(text, text, timestamptz, text, text, text)
    TO rebate_admin, rebate_manager;

-- scoring models score inventory KPIs
-- One period scored under a model: each partner's KPI values, scores, total
-- and grade band.  Partners: the tenant's active ones and any with documents.
CREATE OR REPLACE FUNCTION @extschema@.score_period(model @extschema@.scoring_model, period daterange)
    RETURNS TABLE (partner_id bigint, kpis @extschema@.kpis, kpi_values jsonb, scores jsonb, total numeric,
                   band_grade_id bigint)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH k AS (
        SELECT * FROM @extschema@.period_kpis(model.tenant_id, score_period.period)
    ), inv AS (
        -- read from the ledger only for a model that scores stock
        SELECT i.* FROM @extschema@.inventory_kpis(model.tenant_id, score_period.period) i
         WHERE EXISTS (SELECT 1 FROM @extschema@.scoring_kpi sk
                        WHERE sk.model_id = model.id AND @extschema@.metric_basis(sk.kpi) = 'inventory')
    ), partners AS (
        SELECT pa.id FROM @extschema@.partner pa
         WHERE pa.tenant_id = model.tenant_id AND (pa.state = 'active' OR pa.id IN (SELECT k.partner_id FROM k))
    ), valued AS (
        SELECT p.id AS partner_id, k.kpis, sk.kpi, sk.weight, sk.normalisation, sk.cap, sk.lower_is_better,
               sk.band_thresholds, sk.band_scores,
               -- amounts and counts of a partner without documents are 0; its rates are NULL
               CASE sk.kpi WHEN 'net_sales' THEN coalesce((k.kpis).net_sales, 0)
                           WHEN 'gross_margin' THEN (k.kpis).gross_margin
                           WHEN 'margin_rate' THEN (k.kpis).margin_rate
                           WHEN 'quantity' THEN coalesce((k.kpis).quantity, 0)
                           WHEN 'orders' THEN coalesce((k.kpis).orders, 0)
                           WHEN 'average_order_value' THEN (k.kpis).average_order_value
                           WHEN 'return_rate' THEN (k.kpis).return_rate
                           WHEN 'collected' THEN coalesce((k.kpis).collected, 0)
                           WHEN 'collection_rate' THEN (k.kpis).collection_rate
                           WHEN 'on_time_rate' THEN (k.kpis).on_time_rate
                           WHEN 'products' THEN coalesce((k.kpis).products, 0)
                           WHEN 'growth' THEN k.growth
                           WHEN 'achievement' THEN k.achievement
                           WHEN 'stock_turnover' THEN inv.stock_turnover
                           WHEN 'stock_outs' THEN inv.stock_outs
                           WHEN 'sell_through' THEN inv.sell_through END AS value,
               coalesce(sk.target, CASE sk.kpi WHEN 'net_sales' THEN k.sales_target WHEN 'collected' THEN k.collected_target
                                               WHEN 'quantity' THEN k.quantity_target END) AS target
          FROM partners p
          LEFT JOIN k ON k.partner_id = p.id
          LEFT JOIN inv ON inv.partner_id = p.id
         CROSS JOIN @extschema@.scoring_kpi sk
         WHERE sk.model_id = model.id
    ), ranked AS (
        -- the share of partners with a value as good or worse (cume_dist, exactly)
        SELECT v.*,
               count(*) OVER (PARTITION BY v.kpi, v.value IS NULL
                              ORDER BY CASE WHEN v.lower_is_better THEN -v.value ELSE v.value END) AS at_or_below,
               count(*) OVER (PARTITION BY v.kpi, v.value IS NULL) AS valued_partners
          FROM valued v
    ), scored AS (
        SELECT r.*,
               CASE WHEN r.value IS NULL THEN NULL
                    WHEN r.normalisation = 'distribution' THEN pg_catalog.round(r.at_or_below * 100.0 / r.valued_partners, 4)
                    WHEN r.normalisation = 'bands' AND NOT r.lower_is_better THEN
                         coalesce((SELECT r.band_scores[max(t.i)] FROM pg_catalog.unnest(r.band_thresholds) WITH ORDINALITY t (v, i)
                                    WHERE t.v <= r.value), 0)
                    WHEN r.normalisation = 'bands' THEN
                         coalesce((SELECT r.band_scores[min(t.i)] FROM pg_catalog.unnest(r.band_thresholds) WITH ORDINALITY t (v, i)
                                    WHERE t.v >= r.value), 0)
                    WHEN r.target IS NULL OR r.target <= 0 THEN NULL
                    WHEN r.lower_is_better THEN
                         CASE WHEN r.value <= 0 THEN r.cap ELSE least(r.cap, pg_catalog.round(r.target * 100 / r.value, 4)) END
                    ELSE greatest(0, least(r.cap, pg_catalog.round(r.value * 100 / r.target, 4)))
               END AS score
          FROM ranked r
    ), totals AS (
        SELECT s.partner_id, (pg_catalog.array_agg(s.kpis))[1] AS kpis,
               pg_catalog.jsonb_object_agg(s.kpi, s.value) AS kpi_values,
               pg_catalog.jsonb_object_agg(s.kpi, pg_catalog.trim_scale(s.score)) AS scores,
               @extschema@.weighted_score(s.score, s.weight) AS total
          FROM scored s
         GROUP BY s.partner_id
    )
    SELECT t.partner_id, t.kpis, t.kpi_values, t.scores, t.total,
           (SELECT b.grade_id FROM @extschema@.scoring_band b
             WHERE b.model_id = model.id AND b.min_score <= t.total ORDER BY b.min_score DESC LIMIT 1)
      FROM totals t
$$;
COMMENT ON FUNCTION @extschema@.score_period(@extschema@.scoring_model, daterange) IS
    'One period scored under a model: each partner''s KPI values and scores (jsonb by KPI), weighted total (KPIs without a score left out) and grade band';

COMMENT ON COLUMN @extschema@.metric.basis IS '计算口径 How its value is computed: line_amount, line_margin, line_quantity (order lines), payments, customers, kpis (a rebate.kpis field), or inventory (rebate.inventory_kpis)';

-- the privilege rules of privileges.sql, for the new tables and trigger functions (idempotent)
-- ---------------------------------------------------------------------------
-- Privilege rules that hold for every table and function of the extension,
-- applied once everything exists (each topic file grants its own objects;
-- these narrow the grants uniformly).  docs/security.md states them.
-- ---------------------------------------------------------------------------

-- A SECURITY DEFINER trigger function serves the extension's own tables, whose
-- triggers the install made: nobody may attach one to a table of its own
-- (EXECUTE is checked when a trigger is created, not when it fires).  Each
-- also refuses other tables before it touches the row, but a user's type in
-- the row could run the user's code (a cast) with the owner's rights.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = '@extschema@'::regnamespace AND p.prosecdef
                AND p.prorettype = 'pg_catalog.trigger'::regtype LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

-- ---- ids are the server's ----------------------------------------------------

-- Ids come from one sequence per table, shared by the tenants: a role that
-- chose its own ids could take the next ones of another tenant (whose inserts
-- would then fail) or probe which exist.  Nobody but the owner writes an id;
-- every other column keeps the privileges it had.  A partner user registers
-- an end customer as of today, never backdated (registered_on counts for the
-- new_customers metric), and protected by the rules (registrations.sql), not
-- by a status or a day of progress of its choosing.
DO $$
DECLARE
    grant_row record;
BEGIN
    FOR grant_row IN
        SELECT c.oid::regclass AS tbl, a.grantee::regrole AS grantee, a.privilege_type,
               (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(att.attname), ', ' ORDER BY att.attnum)
                  FROM pg_catalog.pg_attribute att
                 WHERE att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
                   AND att.attname <> 'id'
                   AND NOT (c.oid = '@extschema@.end_customer'::regclass
                            AND att.attname IN ('registered_on', 'status', 'last_progress_on', 'protected_until')
                            AND a.grantee = 'rebate_partner'::regrole)) AS columns
          FROM pg_catalog.pg_class c
          CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
         WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind = 'r'
           AND a.privilege_type IN ('INSERT', 'UPDATE')
           AND a.grantee IN ('rebate_admin'::regrole, 'rebate_manager'::regrole, 'rebate_partner'::regrole)
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute att
                        WHERE att.attrelid = c.oid AND att.attname = 'id' AND att.attidentity <> '')
         ORDER BY 1, 2, 3
    LOOP
        EXECUTE pg_catalog.format('REVOKE %s ON %s FROM %s', grant_row.privilege_type, grant_row.tbl, grant_row.grantee);
        EXECUTE pg_catalog.format('GRANT %s (%s) ON %s TO %s', grant_row.privilege_type, grant_row.columns,
                                  grant_row.tbl, grant_row.grantee);
    END LOOP;
END
$$;

-- ---- orders a partner user places are dated by the server ---------------------

-- The day an order counts in decides its period (and, once the period is
-- settled, whether it is paid as an adjustment): partner users do not choose
-- it, as they do not choose when they registered a customer.
REVOKE INSERT (order_date), UPDATE (order_date) ON @extschema@.sales_order FROM rebate_partner;

