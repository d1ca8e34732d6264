-- ---------------------------------------------------------------------------
-- Rollups: exact running sums of the documents, kept in the writing
-- transaction by the C triggers of src/rollups.c, so that progress, closes,
-- KPIs and views read sums instead of order lines.
--
-- rebate.sales_rollup holds, per partner, date basis, day, month, quarter and year,
-- currency, document kind, product and ship-to region, the signed quantity,
-- amount and cost of the lines of documents that count (rebate.order_counts)
-- and the payments received; and per parent partner the same summed over its
-- direct sub-partners (all products, all regions), which a distributor's
-- override reads.  Each backend adds to rows of its own writer_slot, so two
-- transactions never wait for one another on a rollup row, whatever they
-- write; a key's value is the sum over its slots.  rebate.compact_rollups
-- folds the slots into slot 0; rebate.rebuild_rollups recomputes a tenant's
-- rollups from its documents; rebate.verify_rollups (verify.sql) proves them
-- equal to an independent recomputation.  docs/performance.md says how they
-- work and what they cost.
-- ---------------------------------------------------------------------------

-- Whether an order (or return, credit note) in this status counts for rebates.
-- Inlined into its callers (a SET clause would prevent it), so it is planned
-- under the caller's search_path, where a user's temporary type could stand
-- in for an unqualified type name: every type is qualified.
CREATE FUNCTION @extschema@.order_counts(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT status OPERATOR(pg_catalog.=) ANY (@extschema@.order_statuses('counted'))
$$;
COMMENT ON FUNCTION @extschema@.order_counts(text) IS
    'Whether an order (or return, credit note) in this status counts for rebates: approved, shipped, delivered, closed';

-- The day an order was paid in full: the received_on of the payment whose
-- allocation brought the allocations up to the order's amount.
CREATE FUNCTION @extschema@.order_paid_on(order_id bigint) RETURNS date
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT min(c.received_on)
      FROM (SELECT p.received_on,
                   sum(a.amount) OVER (ORDER BY p.received_on, p.id ROWS UNBOUNDED PRECEDING) AS covered
              FROM @extschema@.payment_allocation a
              JOIN @extschema@.payment p ON p.id = a.payment_id AND p.tenant_id = a.tenant_id
             WHERE a.order_id = order_paid_on.order_id) c
     WHERE c.covered >= (SELECT sum(l.amount) FROM @extschema@.order_line l WHERE l.order_id = order_paid_on.order_id)
$$;
COMMENT ON FUNCTION @extschema@.order_paid_on(bigint) IS
    'The day the payments allocated to the order first covered its amount; NULL while it is not paid in full';

-- Allocations are looked up by order: an order's paid day, and which orders a payment pays.
CREATE INDEX payment_allocation_order ON @extschema@.payment_allocation (tenant_id, order_id);
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
