\echo Use "ALTER EXTENSION rebate UPDATE TO '0.8.0'" to load this file. \quit

-- rebate 0.7.0 -> 0.8.0

-- ---- apply_stacking reads each cascade member's version from its group's query (one lookup per
-- group, not one per member)
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
    winner      integer;
    paid_before numeric;
    unknown     boolean;
    reduced     numeric;
    reduced_payout numeric;
    reduces_basis  boolean;
    reduces_payout boolean;
    i           integer;
BEGIN
    RETURN QUERY SELECT (u).* FROM pg_catalog.unnest(results) AS u WHERE u.group_id IS NULL OR u.component <> 'own';
    FOR g IN
        SELECT u.partner_id, u.period, pg.rule, pg.code,
               pg_catalog.array_agg(u ORDER BY pv.priority, u.program_id) AS members,
               -- each member's version, in the same order (the cascade reads its flags and re-rates by it)
               pg_catalog.array_agg(pv ORDER BY pv.priority, u.program_id) AS versions
          FROM pg_catalog.unnest(results) AS u
          JOIN @extschema@.program_version pv ON pv.id = u.version_id
          JOIN @extschema@.program_group pg ON pg.id = u.group_id
         WHERE u.group_id IS NOT NULL AND u.component = 'own'
         GROUP BY u.partner_id, u.period, pg.id, pg.rule, pg.code
    LOOP
        unknown := EXISTS (SELECT 1 FROM pg_catalog.unnest(g.members) m WHERE m.rebate IS NULL);
        winner := NULL;
        IF g.rule = 'max' AND NOT unknown THEN
            -- the largest rebate; on a tie, the first in priority order
            SELECT n INTO winner FROM pg_catalog.generate_subscripts(g.members, 1) AS n
             ORDER BY (g.members[n]).rebate DESC, n LIMIT 1;
        ELSIF g.rule = 'exclusive' AND NOT unknown THEN
            SELECT n INTO winner FROM pg_catalog.generate_subscripts(g.members, 1) AS n
             WHERE (g.members[n]).rebate > 0 ORDER BY n LIMIT 1;
        END IF;
        paid_before := 0;
        FOR i IN 1 .. pg_catalog.array_length(g.members, 1) LOOP
            r := g.members[i];
            IF g.rule = 'sum' THEN
                r.paid := r.rebate;
                r.stacking := pg_catalog.format('sum in group %s: adds to the others', g.code);
            ELSIF unknown THEN
                r.paid := NULL;
                r.stacking := pg_catalog.format('%s in group %s: not shown, a program of the group is not shown to you',
                                                g.rule, g.code);
            ELSIF g.rule IN ('max', 'exclusive') THEN
                r.paid := CASE WHEN i = winner THEN r.rebate ELSE 0 END;
                r.stacking := CASE
                    WHEN i = winner AND g.rule = 'max' THEN pg_catalog.format('max in group %s: pays, the largest', g.code)
                    WHEN i = winner THEN pg_catalog.format('exclusive in group %s: pays, the first that applies in priority order', g.code)
                    WHEN winner IS NULL THEN pg_catalog.format('%s in group %s: no program of the group pays', g.rule, g.code)
                    ELSE pg_catalog.format('%s in group %s: not paid, program %s pays instead', g.rule, g.code,
                                           (SELECT p.code FROM @extschema@.program p WHERE p.id = (g.members[winner]).program_id))
                END;
            ELSE
                -- cascade: money measures (the basis, and the measure paid on where it is another) are
                -- reduced by what earlier programs of the group paid, then re-rated
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
    date_basis      text NOT NULL CHECK (date_basis IN ('order', 'delivery', 'payment')),
    unit            text NOT NULL CHECK (unit IN ('day', 'month')),
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
    -- a partner's rows of a basis and currency by day or month: what one partner's progress reads
    PRIMARY KEY (tenant_id, partner_id, of_sub_partners, date_basis, currency, unit, period_start, kind,
                 product_id, region_id, writer_slot)
);
-- a tenant's whole period (a close, a report) is read by day or month
CREATE INDEX sales_rollup_period ON @extschema@.sales_rollup (tenant_id, date_basis, unit, period_start);
COMMENT ON TABLE @extschema@.sales_rollup IS
    'Rollups (kept by triggers in the writing transaction): per partner, date basis, day and month, currency, document kind, product and ship-to region, the signed quantity, amount and cost of the lines of documents that count, and payments received; per parent partner the same over its direct sub-partners. A key''s value is the sum over its writer slots';
COMMENT ON COLUMN @extschema@.sales_rollup.partner_id IS
    'The partner whose documents are summed, or (of_sub_partners) whose direct sub-partners'' documents are';
COMMENT ON COLUMN @extschema@.sales_rollup.of_sub_partners IS
    'false: the partner''s own documents; true: its direct sub-partners'' summed (product_id and region_id 0)';
COMMENT ON COLUMN @extschema@.sales_rollup.date_basis IS
    'The day a line is counted on: order (the order date), delivery (delivered_on), payment (the day the order was paid in full); a return or credit note that refers to an order counts on that order''s day, one that does not on its own date; payments by the day received (date_basis payment)';
COMMENT ON COLUMN @extschema@.sales_rollup.unit IS 'day: the row sums one day; month: the whole month starting at period_start';
COMMENT ON COLUMN @extschema@.sales_rollup.period_start IS 'The day, or the first day of the month';
COMMENT ON COLUMN @extschema@.sales_rollup.kind IS 'order, return or credit_note (lines), or payment';
COMMENT ON COLUMN @extschema@.sales_rollup.product_id IS 'The product of the lines; 0 for payments and sub-partner rows';
COMMENT ON COLUMN @extschema@.sales_rollup.region_id IS 'The ship-to region of the lines; 0 for payments and sub-partner rows';
COMMENT ON COLUMN @extschema@.sales_rollup.writer_slot IS
    'The backend that added to the row (0: folded by rebate.compact_rollups or written by rebate.rebuild_rollups): concurrent writers never share a row';
COMMENT ON COLUMN @extschema@.sales_rollup.quantity IS 'Quantity: negative for returns, 0 for credit notes and payments';
COMMENT ON COLUMN @extschema@.sales_rollup.amount IS 'Line amount (negative for returns and credit notes), or payment amount';
COMMENT ON COLUMN @extschema@.sales_rollup.cost IS 'Cost of the goods (quantity x unit cost at the time, signed like quantity; a line without a cost adds 0)';
COMMENT ON COLUMN @extschema@.sales_rollup.lines IS 'Order, return and credit-note lines, or payments, summed into the row';

-- What one order line adds to the rollups, given its document, the order it
-- refers to (a return's or credit note's original: NULLs for none), the day
-- that sale was paid in full and the partner's parent: for each date basis
-- with a day, a day and a month row of the partner (by product and ship-to
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
                   cost numeric, lines integer)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT w.partner_id, w.of_sub_partners, b.date_basis, u.unit, u.period_start, line_rollup_cells.currency,
           line_rollup_cells.kind, w.product_id, w.region_id,
           line_rollup_cells.sign * d.goods * line_rollup_cells.quantity,
           line_rollup_cells.sign * CASE WHEN line_rollup_cells.kind OPERATOR(pg_catalog.=) 'order'
                                         THEN line_rollup_cells.amount ELSE -line_rollup_cells.amount END,
           line_rollup_cells.sign * d.goods * line_rollup_cells.quantity * coalesce(line_rollup_cells.unit_cost, 0),
           line_rollup_cells.sign
      FROM (SELECT CASE line_rollup_cells.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END AS goods,
                   -- a return or credit note without an original counts on its own date
                   line_rollup_cells.kind OPERATOR(pg_catalog.<>) 'order' AND line_rollup_cells.original_id IS NULL
                       AS own_date) d
     CROSS JOIN LATERAL (VALUES
            ('order', CASE WHEN d.own_date THEN line_rollup_cells.order_date
                           ELSE coalesce(line_rollup_cells.original_order_date, line_rollup_cells.order_date) END),
            ('delivery', CASE WHEN d.own_date THEN line_rollup_cells.order_date
                              WHEN line_rollup_cells.original_id IS NOT NULL THEN line_rollup_cells.original_delivered_on
                              ELSE line_rollup_cells.delivered_on END),
            ('payment', CASE WHEN d.own_date THEN line_rollup_cells.order_date ELSE line_rollup_cells.paid_on END)
        ) AS b (date_basis, day)
     CROSS JOIN LATERAL (VALUES ('day', b.day),
                                ('month', pg_catalog.date_trunc('month', b.day::pg_catalog.timestamp)::pg_catalog.date)
        ) AS u (unit, period_start)
     CROSS JOIN LATERAL (VALUES (line_rollup_cells.partner_id, false, line_rollup_cells.product_id, line_rollup_cells.region_id),
                                (line_rollup_cells.parent_id, true, 0::pg_catalog.int8, 0::pg_catalog.int8)
        ) AS w (partner_id, of_sub_partners, product_id, region_id)
     WHERE @extschema@.order_counts(line_rollup_cells.status)
       AND (line_rollup_cells.original_id IS NULL OR @extschema@.order_counts(line_rollup_cells.original_status))
       AND b.day IS NOT NULL AND w.partner_id IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.line_rollup_cells(bigint, bigint, text, text, date, date, text, bigint, bigint, text,
                                                  date, date, date, bigint, numeric, numeric, numeric, integer) IS
    'Internal, inlined into the rollup triggers: the rollup rows one order line adds (sign 1) or takes out (sign -1)';

-- What one payment adds to the rollups: a day and a month row of the partner
-- and, under a parent, of the parent's sub-partners.
CREATE FUNCTION @extschema@.payment_rollup_cells(partner_id bigint, parent_id bigint, received_on date, currency text,
                                                 amount numeric, sign integer)
    RETURNS TABLE (partner_id bigint, of_sub_partners boolean, date_basis text, unit text, period_start date,
                   currency text, kind text, product_id bigint, region_id bigint, quantity numeric, amount numeric,
                   cost numeric, lines integer)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT w.partner_id, w.of_sub_partners, 'payment', u.unit, u.period_start, payment_rollup_cells.currency,
           'payment', 0::pg_catalog.int8, 0::pg_catalog.int8, 0::pg_catalog.numeric,
           payment_rollup_cells.sign * payment_rollup_cells.amount, 0::pg_catalog.numeric, payment_rollup_cells.sign
      FROM (VALUES ('day', payment_rollup_cells.received_on),
                   ('month', pg_catalog.date_trunc('month', payment_rollup_cells.received_on::pg_catalog.timestamp)::pg_catalog.date)
        ) AS u (unit, period_start)
     CROSS JOIN LATERAL (VALUES (payment_rollup_cells.partner_id, false), (payment_rollup_cells.parent_id, true)
        ) AS w (partner_id, of_sub_partners)
     WHERE w.partner_id IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.payment_rollup_cells(bigint, bigint, date, text, numeric, integer) IS
    'Internal, inlined into the rollup triggers: the rollup rows one payment adds (sign 1) or takes out (sign -1)';

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

-- Compaction and rebuilds of a tenant wait for one another.
CREATE FUNCTION @extschema@.lock_rollups(tenant_id bigint) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('rebate.sales_rollup', tenant_id));
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
               region_id, writer_slot, quantity, amount, cost, lines)
        SELECT m.tenant_id, m.partner_id, m.of_sub_partners, m.date_basis, m.unit, m.period_start, m.currency, m.kind,
               m.product_id, m.region_id, 0, sum(m.quantity), sum(m.amount), sum(m.cost), sum(m.lines)
          FROM moved m
         GROUP BY m.tenant_id, m.partner_id, m.of_sub_partners, m.date_basis, m.unit, m.period_start, m.currency,
                  m.kind, m.product_id, m.region_id
        ON CONFLICT (tenant_id, partner_id, of_sub_partners, date_basis, currency, unit, period_start, kind,
                     product_id, region_id, writer_slot)
        DO UPDATE SET quantity = r.quantity + excluded.quantity, amount = r.amount + excluded.amount,
                      cost = r.cost + excluded.cost, lines = r.lines + excluded.lines;
        DELETE FROM @extschema@.sales_rollup r
         WHERE r.tenant_id = t AND r.writer_slot = 0
           AND r.lines = 0 AND r.quantity = 0 AND r.amount = 0 AND r.cost = 0;
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
              region_id, writer_slot, quantity, amount, lines)
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

-- A run of rollup rows: day or month rows starting in [from_day, to_day).
CREATE TYPE @extschema@.rollup_span AS (unit text, from_day date, to_day date);
COMMENT ON TYPE @extschema@.rollup_span IS 'Internal (rebate.rollup_rows): the day or month rows starting in [from_day, to_day)';

-- The day and month rows that make [first_day, end_day): the month rows of
-- the whole months inside, the day rows of the days before and after them.
CREATE FUNCTION @extschema@.rollup_spans(first_day date, end_day date) RETURNS @extschema@.rollup_span[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- the whole months inside: [months_from, months_to)
    months_from date := CASE WHEN pg_catalog.date_part('day', first_day) = 1 THEN first_day
                             ELSE (pg_catalog.date_trunc('month', first_day::timestamp) + '1 month'::interval)::date END;
    months_to   date := pg_catalog.date_trunc('month', end_day::timestamp)::date;
BEGIN
    IF months_from >= months_to THEN
        months_from := end_day;         -- no whole month: the days of [first_day, end_day)
        months_to := end_day;
    END IF;
    RETURN ARRAY[ROW('month', months_from, months_to), ROW('day', first_day, months_from),
                 ROW('day', months_to, end_day)]::@extschema@.rollup_span[];
END
$$;
COMMENT ON FUNCTION @extschema@.rollup_spans(date, date) IS
    'The rollup rows that make the days [first_day, end_day): month rows of the whole months inside, day rows of the days before and after them';

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
    -- reads the three spans (months, the days before, the days after) as three index ranges
    IF partners IS NULL AND NOT with_costs THEN
        RETURN QUERY
            SELECT r.partner_id, r.product_id, r.quantity, r.amount, 0::numeric, r.lines
              FROM pg_catalog.unnest(spans) AS sp
              JOIN @extschema@.sales_rollup r
                ON r.tenant_id = v.tenant_id AND r.date_basis = basis AND r.unit = sp.unit
               AND r.period_start >= sp.from_day AND r.period_start < sp.to_day
             WHERE r.of_sub_partners = rollup_rows.of_sub_partners AND r.currency = v.currency AND r.kind = ANY (kinds)
               AND (products IS NULL OR r.kind = 'payment' OR r.product_id = ANY (products))
               AND (regions IS NULL OR r.kind = 'payment' OR r.region_id = ANY (regions));
    ELSIF partners IS NULL THEN
        RETURN QUERY
            SELECT r.partner_id, r.product_id, r.quantity, r.amount, r.cost, r.lines
              FROM pg_catalog.unnest(spans) AS sp
              JOIN @extschema@.sales_rollup r
                ON r.tenant_id = v.tenant_id AND r.date_basis = basis AND r.unit = sp.unit
               AND r.period_start >= sp.from_day AND r.period_start < sp.to_day
             WHERE r.of_sub_partners = rollup_rows.of_sub_partners AND r.currency = v.currency AND r.kind = ANY (kinds)
               AND (products IS NULL OR r.kind = 'payment' OR r.product_id = ANY (products))
               AND (regions IS NULL OR r.kind = 'payment' OR r.region_id = ANY (regions));
    ELSIF NOT with_costs THEN
        RETURN QUERY
            SELECT r.partner_id, r.product_id, r.quantity, r.amount, 0::numeric, r.lines
              FROM pg_catalog.unnest(partners) AS asked (id)
             CROSS JOIN pg_catalog.unnest(spans) AS sp
              JOIN @extschema@.sales_rollup r
                ON r.tenant_id = v.tenant_id AND r.partner_id = asked.id
               AND r.of_sub_partners = rollup_rows.of_sub_partners AND r.date_basis = basis
               AND r.currency = v.currency AND r.unit = sp.unit
               AND r.period_start >= sp.from_day AND r.period_start < sp.to_day
             WHERE r.kind = ANY (kinds)
               AND (products IS NULL OR r.kind = 'payment' OR r.product_id = ANY (products))
               AND (regions IS NULL OR r.kind = 'payment' OR r.region_id = ANY (regions));
    ELSE
        RETURN QUERY
            SELECT r.partner_id, r.product_id, r.quantity, r.amount, r.cost, r.lines
              FROM pg_catalog.unnest(partners) AS asked (id)
             CROSS JOIN pg_catalog.unnest(spans) AS sp
              JOIN @extschema@.sales_rollup r
                ON r.tenant_id = v.tenant_id AND r.partner_id = asked.id
               AND r.of_sub_partners = rollup_rows.of_sub_partners AND r.date_basis = basis
               AND r.currency = v.currency AND r.unit = sp.unit
               AND r.period_start >= sp.from_day AND r.period_start < sp.to_day
             WHERE r.kind = ANY (kinds)
               AND (products IS NULL OR r.kind = 'payment' OR r.product_id = ANY (products))
               AND (regions IS NULL OR r.kind = 'payment' OR r.region_id = ANY (regions));
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
        SELECT v.program_id, v.id, v.version, r.partner_id, r.component, period, (w.to_day - 1), v.metric, v.kind,
               pg_catalog.trim_scale(r.basis), pg_catalog.trim_scale(r.comparison), r.tier, r.rate,
               pg_catalog.trim_scale(r.earned),
               coalesce(r.earned > v.cap, false),
               pg_catalog.trim_scale(CASE WHEN r.earned > v.cap THEN v.cap ELSE r.earned END),
               pg_catalog.trim_scale(r.next_tier_gap), pg_catalog.trim_scale(r.next_tier_rebate), r.documents, r.status,
               r.explanation || CASE WHEN r.earned > v.cap THEN pg_catalog.format('; capped at %s', v.cap) ELSE '' END,
               v.group_id, NULL::text,
               pg_catalog.trim_scale(CASE WHEN r.earned > v.cap THEN v.cap ELSE r.earned END),
               r.payout, NULL::numeric, NULL::numeric
          FROM rated r, win w
         ORDER BY r.partner_id, r.component DESC;
END
$$;
COMMENT ON FUNCTION @extschema@.program_results(@extschema@.program_version, daterange, date, bigint) IS
    'Every partner''s result under a program version for a period (documents up to as_of): basis, comparison, tier, rate, exact rebate before and after the cap, next tier, documents counted, status, explanation';

-- The rollups, recomputed from the documents by their own formulation (none
-- of the triggers' queries or rebate.line_rollup_cells), against what is kept
-- (summed over writer slots): every key whose sums differ, with a day or
-- month starting in the period (every key for NULL).
CREATE FUNCTION @extschema@.verify_rollups(tenant_id bigint, period daterange DEFAULT NULL)
    RETURNS TABLE (partner_id bigint, of_sub_partners boolean, date_basis text, unit text, period_start date,
                   currency text, kind text, product_id bigint, region_id bigint,
                   kept_quantity numeric, kept_amount numeric, kept_cost numeric, kept_lines numeric,
                   quantity numeric, amount numeric, cost numeric, lines numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    SET jit = off
AS $$
    WITH days AS (
        -- the days whose facts make the keys asked for: whole months around the period
        SELECT make_date(extract(year FROM lower(verify_rollups.period))::integer,
                         extract(month FROM lower(verify_rollups.period))::integer, 1) AS from_day,
               (make_date(extract(year FROM upper(verify_rollups.period) - 1)::integer,
                          extract(month FROM upper(verify_rollups.period) - 1)::integer, 1) + interval '1 month')::date
                   AS to_day
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
        -- counted documents; a return or credit note is dated by the sale it refers to
        SELECT o.id, o.partner_id, pa.parent_id, o.kind, o.currency, o.ship_to_region_id,
               s.id AS sale_id, s.order_date, s.delivered_on, o.original_order_id
          FROM @extschema@.sales_order o
          JOIN @extschema@.partner pa ON pa.id = o.partner_id
          JOIN @extschema@.sales_order s ON s.id = coalesce(o.original_order_id, o.id)
         WHERE o.tenant_id = verify_rollups.tenant_id
           AND o.status = ANY (@extschema@.order_statuses('counted'))
           AND s.status = ANY (@extschema@.order_statuses('counted'))
    ), dated AS (
        SELECT d.*, b.date_basis,
               CASE WHEN d.kind <> 'order' AND d.original_order_id IS NULL THEN d.order_date
                    WHEN b.date_basis = 'order' THEN d.order_date
                    WHEN b.date_basis = 'delivery' THEN d.delivered_on
                    ELSE (SELECT f.day FROM paid_in_full f WHERE f.order_id = d.sale_id) END AS day
          FROM documents d, unnest(ARRAY['order', 'delivery', 'payment']) AS b (date_basis)
    ), facts AS (
        SELECT d.partner_id, d.parent_id, d.date_basis, d.day, d.currency, d.kind, ol.product_id,
               d.ship_to_region_id AS region_id,
               ol.quantity * CASE d.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END AS quantity,
               ol.amount * CASE d.kind WHEN 'order' THEN 1 ELSE -1 END AS amount,
               ol.quantity * CASE d.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END
                   * coalesce(ol.unit_cost, 0) AS cost
          FROM dated d JOIN @extschema@.order_line ol ON ol.order_id = d.id
         CROSS JOIN days
         WHERE d.day IS NOT NULL
           AND (verify_rollups.period IS NULL OR (d.day >= days.from_day AND d.day < days.to_day))
        UNION ALL
        SELECT p.partner_id, pa.parent_id, 'payment', p.received_on, p.currency, 'payment', 0, 0, 0, p.amount, 0
          FROM @extschema@.payment p JOIN @extschema@.partner pa ON pa.id = p.partner_id
         CROSS JOIN days
         WHERE p.tenant_id = verify_rollups.tenant_id
           AND (verify_rollups.period IS NULL OR (p.received_on >= days.from_day AND p.received_on < days.to_day))
    ), recomputed AS (
        SELECT k.partner_id, k.of_sub_partners, f.date_basis, k.unit, k.period_start, f.currency, f.kind,
               k.product_id, k.region_id,
               sum(f.quantity) AS quantity, sum(f.amount) AS amount, sum(f.cost) AS cost, count(*)::numeric AS lines
          FROM facts f
         CROSS JOIN LATERAL (
            SELECT f.partner_id, false, u.unit, u.start, f.product_id, f.region_id
              FROM (VALUES ('day', f.day), ('month', make_date(extract(year FROM f.day)::integer, extract(month FROM f.day)::integer, 1))) u (unit, start)
            UNION ALL
            SELECT f.parent_id, true, u.unit, u.start, 0, 0
              FROM (VALUES ('day', f.day), ('month', make_date(extract(year FROM f.day)::integer, extract(month FROM f.day)::integer, 1))) u (unit, start)
             WHERE f.parent_id IS NOT NULL) k (partner_id, of_sub_partners, unit, period_start, product_id, region_id)
         WHERE verify_rollups.period IS NULL OR verify_rollups.period @> k.period_start
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    ), kept AS (
        SELECT r.partner_id, r.of_sub_partners, r.date_basis, r.unit, r.period_start, r.currency, r.kind,
               r.product_id, r.region_id, sum(r.quantity) AS quantity, sum(r.amount) AS amount, sum(r.cost) AS cost,
               sum(r.lines) AS lines
          FROM @extschema@.sales_rollup r
         WHERE r.tenant_id = verify_rollups.tenant_id
           AND (verify_rollups.period IS NULL OR verify_rollups.period @> r.period_start)
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    )
    SELECT coalesce(k.partner_id, c.partner_id), coalesce(k.of_sub_partners, c.of_sub_partners),
           coalesce(k.date_basis, c.date_basis), coalesce(k.unit, c.unit), coalesce(k.period_start, c.period_start),
           coalesce(k.currency, c.currency), coalesce(k.kind, c.kind), coalesce(k.product_id, c.product_id),
           coalesce(k.region_id, c.region_id),
           k.quantity, k.amount, k.cost, k.lines, coalesce(c.quantity, 0), coalesce(c.amount, 0), coalesce(c.cost, 0),
           coalesce(c.lines, 0)
      FROM kept k
      FULL JOIN recomputed c
        ON (c.partner_id, c.of_sub_partners, c.date_basis, c.unit, c.period_start, c.currency, c.kind, c.product_id,
            c.region_id)
         = (k.partner_id, k.of_sub_partners, k.date_basis, k.unit, k.period_start, k.currency, k.kind, k.product_id,
            k.region_id)
     WHERE (coalesce(k.quantity, 0), coalesce(k.amount, 0), coalesce(k.cost, 0), coalesce(k.lines, 0))
           IS DISTINCT FROM (coalesce(c.quantity, 0), coalesce(c.amount, 0), coalesce(c.cost, 0), coalesce(c.lines, 0))
     ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
$$;
COMMENT ON FUNCTION @extschema@.verify_rollups(bigint, daterange) IS
    'Cross-check of the rollups: recomputes rebate.sales_rollup from the documents by an independent formulation and returns every key (a day or month starting in the period; all for NULL) whose kept sums, over the writer slots, differ (none when all agree)';

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
           format('rollup differs: %s %s basis, %s %s, product %s, region %s: kept quantity %s, amount %s, cost %s, lines %s; recomputed %s, %s, %s, %s',
                  r.kind, r.date_basis, r.unit, r.currency, r.product_id, r.region_id,
                  coalesce(r.kept_quantity, 0), coalesce(r.kept_amount, 0), coalesce(r.kept_cost, 0),
                  coalesce(r.kept_lines, 0), r.quantity, r.amount, r.cost, r.lines)
      FROM @extschema@.verify_rollups(verify_period.tenant_id, verify_period.period) r
     ORDER BY 2, 5, 6, 7
$$;
COMMENT ON FUNCTION @extschema@.verify_period(bigint, daterange) IS
    'Cross-check (交叉验证): recomputes the statement lines of a tenant''s period by an independent plain-SQL formulation and returns every line that differs (none when all agree)';

GRANT EXECUTE ON FUNCTION @extschema@.verify_rollups(bigint, daterange) TO rebate_admin, rebate_manager;
REVOKE ALL ON FUNCTION @extschema@.verify_rollups(bigint, daterange) FROM PUBLIC;

-- the rollups of the data already there
SELECT @extschema@.recompute_rollups(t.id) FROM @extschema@.tenant t ORDER BY t.id;
