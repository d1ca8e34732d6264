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
    'How a metric''s value is computed: line_amount, line_margin, line_quantity, payments, customers or kpis; NULL for a name not in the catalog';


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
    ('announcement_published', 'partner', 'An announcement addressed to the partner was published: read it (and acknowledge it when it is mandatory)');
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
    RETURN @extschema@.end_request(request, 'approved',
                                   CASE WHEN after_step = 0 THEN 'no step applies' ELSE 'every step approved' END);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.start_next_step(@extschema@.approval_request, integer) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.start_next_step(@extschema@.approval_request, integer) IS
    'Internal: starts the next applicable step of a request (or approves it when none is left)';

-- ---- what users call ------------------------------------------------------------

-- Asks for a decision.  The caller's tenant's active flow for the type
-- decides who.  A partner user asks for its own partner (or one below it);
-- a manager for any partner of its tenant, or for none.
CREATE FUNCTION @extschema@.submit_request(request_type text, subject text, partner_id bigint DEFAULT NULL,
                                           amount numeric DEFAULT NULL, currency text DEFAULT NULL,
                                           region_id bigint DEFAULT NULL, product_id bigint DEFAULT NULL,
                                           subject_id bigint DEFAULT NULL, detail jsonb DEFAULT '{}')
    RETURNS @extschema@.approval_request
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor name := @extschema@.acting_role();
    bound record := @extschema@.binding_of(actor);
    manager boolean := coalesce(@extschema@.manages_tenant(actor, bound.tenant_id), false);
    asker bigint := coalesce(submit_request.partner_id, bound.partner_id);
    partner @extschema@.partner;
    flow bigint;
    request @extschema@.approval_request;
BEGIN
    IF bound.tenant_id IS NULL OR (bound.partner_id IS NULL AND NOT manager) THEN
        RAISE EXCEPTION 'permission denied to submit a request' USING ERRCODE = 'insufficient_privilege',
              HINT = 'Requests are made by a tenant''s managers and partner users, each bound by rebate.grant_access.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM @extschema@.request_type t WHERE t.request_type = submit_request.request_type) THEN
        RAISE EXCEPTION 'unknown request type "%"', submit_request.request_type USING ERRCODE = 'invalid_parameter_value',
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
     WHERE f.tenant_id = bound.tenant_id AND f.request_type = submit_request.request_type AND f.active;
    IF flow IS NULL THEN
        RAISE EXCEPTION 'no active approval flow for % requests', submit_request.request_type USING ERRCODE = 'RB071',
              HINT = 'A manager of the tenant creates one in rebate.approval_flow with its steps in rebate.approval_step.';
    END IF;
    INSERT INTO @extschema@.approval_request (tenant_id, request_type, flow_id, subject, subject_id, partner_id, amount,
                                              currency, region_id, grade_id, product_id, detail, current_step,
                                              requested_by)
    VALUES (bound.tenant_id, submit_request.request_type, flow, submit_request.subject, submit_request.subject_id,
            partner.id, submit_request.amount, submit_request.currency,
            coalesce(submit_request.region_id, partner.home_region_id), partner.grade_id, submit_request.product_id,
            coalesce(submit_request.detail, '{}'), 0, actor)
    RETURNING * INTO request;
    PERFORM @extschema@.record_approval_event(request, 'submitted', NULL, NULL, submit_request.subject);
    RETURN @extschema@.start_next_step(request, 0);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.submit_request(text, text, bigint, numeric, text, bigint, bigint, bigint, jsonb)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.submit_request(text, text, bigint, numeric, text, bigint, bigint, bigint, jsonb)
    TO rebate_manager, rebate_partner;
COMMENT ON FUNCTION @extschema@.submit_request(text, text, bigint, numeric, text, bigint, bigint, bigint, jsonb) IS
    'Submits a request for a decision to the active flow of its type in the caller''s tenant; returns it, waiting at its first applicable step (approved at once when none applies)';

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
    request := @extschema@.submit_request('customer_registration',
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

