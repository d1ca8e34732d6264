-- ---------------------------------------------------------------------------
-- Cross-check (交叉验证): rebate.verify_period recomputes a closed period's
-- statement lines by a second, independent formulation in plain SQL (its own
-- basis query, tier arithmetic, stacking, cap and rounding; none of
-- program_lines, rate_basis, tiered_rebate, overachievement_rebate,
-- apply_stacking or round_money) and reports every line that differs.
-- Reading a schedule's thresholds and values is shared; nothing else is.
-- ---------------------------------------------------------------------------

-- A schedule's tiers in SQL: [lo, hi) in basis units (thresholds scaled by
-- `scale`), each tier's kind and its multiplier (a percentage / 100, an
-- amount per unit, or the lump sum itself).
CREATE FUNCTION @extschema@.verify_tiers(schedule @extschema@.tier_schedule, scale numeric DEFAULT 1)
    RETURNS TABLE (n bigint, lo numeric, hi numeric, kind text, val numeric)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.n, x.th * scale, lead(x.th * scale) OVER (ORDER BY x.n), x.kind,
           CASE x.kind WHEN 'percent' THEN x.val / 100 ELSE x.val END
      FROM unnest(@extschema@.schedule_thresholds(schedule), @extschema@.schedule_values(schedule),
                  @extschema@.schedule_tier_kinds(schedule)) WITH ORDINALITY AS x(th, val, kind, n)
$$;
COMMENT ON FUNCTION @extschema@.verify_tiers(@extschema@.tier_schedule, numeric) IS
    'rebate.verify_period''s own reading of a schedule: each tier''s [lo, hi) scaled, its kind and its multiplier or lump sum';

-- A schedule applied to a basis, in SQL: thresholds scaled by `scale` (the
-- target or last year's basis for ratio schedules), paying on the whole basis
-- or (apply_to excess) only on what lies above `scale`.
CREATE FUNCTION @extschema@.verify_schedule(basis numeric, schedule @extschema@.tier_schedule,
                                            scale numeric DEFAULT 1, apply_to text DEFAULT 'total',
                                            capped boolean DEFAULT true)
    RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH t AS (
        SELECT * FROM @extschema@.verify_tiers(schedule, scale)
    ), reached AS (
        SELECT * FROM t WHERE lo <= basis ORDER BY n DESC LIMIT 1
    ), raw AS (
        SELECT CASE
            WHEN NOT EXISTS (SELECT 1 FROM reached) THEN 0
            WHEN @extschema@.schedule_mode(schedule) = 'retroactive' THEN
                (SELECT CASE WHEN kind = 'lump_sum' THEN val
                             ELSE val * CASE WHEN apply_to = 'excess' THEN greatest(basis - scale, 0) ELSE basis END END
                   FROM reached)
            -- incremental: each rate on its band, each lump sum reached once
            ELSE (SELECT sum(CASE WHEN kind = 'lump_sum' THEN val
                                  ELSE val * greatest(least(basis, coalesce(hi, basis))
                                                      - CASE WHEN apply_to = 'excess' THEN greatest(lo, scale) ELSE lo END, 0) END)
                    FROM t WHERE lo <= basis)
        END AS amount
    )
    SELECT CASE WHEN capped AND @extschema@.schedule_cap(schedule) < amount THEN @extschema@.schedule_cap(schedule) ELSE amount END
      FROM raw
$$;
COMMENT ON FUNCTION @extschema@.verify_schedule(numeric, @extschema@.tier_schedule, numeric, text, boolean) IS
    'rebate.verify_period''s own tier arithmetic: a schedule on a basis, thresholds scaled, on the whole basis or the excess, capped unless capped is false';

-- A schedule whose thresholds read the basis paying on another measure, in
-- SQL: retroactive, the reached tier's value on the payout measure;
-- incremental, each band's value on its share of the payout measure, pro
-- rata to the basis, to 20 decimal places; lump sums as they are; never
-- below 0; capped.
CREATE FUNCTION @extschema@.verify_payout(basis numeric, payout numeric, schedule @extschema@.tier_schedule,
                                          scale numeric DEFAULT 1)
    RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH t AS (
        SELECT * FROM @extschema@.verify_tiers(schedule, scale)
    ), reached AS (
        SELECT * FROM t WHERE lo <= basis ORDER BY n DESC LIMIT 1
    ), bands AS (
        SELECT coalesce(sum(val) FILTER (WHERE kind = 'lump_sum'), 0) AS lumps,
               coalesce(sum(val * greatest(least(basis, coalesce(hi, basis)) - lo, 0)) FILTER (WHERE kind <> 'lump_sum'), 0)
                   * payout AS rated_times_payout
          FROM t WHERE lo <= basis
    ), raw AS (
        SELECT greatest(CASE
            WHEN NOT EXISTS (SELECT 1 FROM reached) THEN 0
            WHEN @extschema@.schedule_mode(schedule) = 'retroactive' THEN
                (SELECT CASE WHEN kind = 'lump_sum' THEN val ELSE val * payout END FROM reached)
            WHEN basis <= 0 THEN (SELECT lumps FROM bands)
            -- the rates' share: rated x payout / basis, rounded half away from zero to 20 places
            -- by integer division (one rounding)
            ELSE (SELECT lumps + greatest(sign(rated_times_payout)
                                          * div(div(abs(rated_times_payout) * 1e21, basis) + 5, 10) * 1e-20, 0)
                    FROM bands)
        END, 0) AS amount
    )
    SELECT CASE WHEN @extschema@.schedule_cap(schedule) < amount THEN @extschema@.schedule_cap(schedule) ELSE amount END
      FROM raw
$$;
COMMENT ON FUNCTION @extschema@.verify_payout(numeric, numeric, @extschema@.tier_schedule, numeric) IS
    'rebate.verify_period''s own arithmetic for a schedule paying on another measure than its thresholds read';

-- A period's basis on top of the earlier basis of its tier window, in SQL:
-- retroactive, the rate of the tier the whole window reaches on the period's
-- basis, plus what the lump sum of that tier adds to the lump sum reached
-- before (paid once); incremental, the schedule on the whole window less the
-- schedule on what came before; never below 0; capped.
CREATE FUNCTION @extschema@.verify_on_top(below numeric, basis numeric, schedule @extschema@.tier_schedule)
    RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH t AS (
        SELECT * FROM @extschema@.verify_tiers(schedule)
    ), whole AS (
        SELECT * FROM t WHERE lo <= below + basis ORDER BY n DESC LIMIT 1
    ), before AS (
        SELECT * FROM t WHERE lo <= below ORDER BY n DESC LIMIT 1
    ), raw AS (
        SELECT greatest(CASE
            WHEN @extschema@.schedule_mode(schedule) = 'retroactive' THEN
                coalesce((SELECT val * basis FROM whole WHERE kind <> 'lump_sum'), 0)
                + greatest(coalesce((SELECT val FROM whole WHERE kind = 'lump_sum'), 0)
                           - coalesce((SELECT val FROM before WHERE kind = 'lump_sum'), 0), 0)
            ELSE @extschema@.verify_schedule(below + basis, schedule, 1, 'total', false)
                 - @extschema@.verify_schedule(below, schedule, 1, 'total', false)
        END, 0) AS amount
    )
    SELECT CASE WHEN @extschema@.schedule_cap(schedule) < amount THEN @extschema@.schedule_cap(schedule) ELSE amount END
      FROM raw
$$;
COMMENT ON FUNCTION @extschema@.verify_on_top(numeric, numeric, @extschema@.tier_schedule) IS
    'rebate.verify_period''s own arithmetic for a tier window: a period''s basis on top of the window''s earlier basis';

-- Rounding in SQL, by the tenant's mode, to the currency's minor unit.
CREATE FUNCTION @extschema@.verify_round(amount numeric, places integer, mode text) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH x AS (SELECT abs(amount) * power(10::numeric, places) AS scaled, power(10::numeric, places) AS unit)
    SELECT round(sign(amount) * CASE mode
               WHEN 'down' THEN trunc(x.scaled)
               WHEN 'up' THEN ceil(x.scaled)
               WHEN 'half_even' THEN CASE WHEN x.scaled - trunc(x.scaled) = 0.5
                                          THEN trunc(x.scaled) + mod(trunc(x.scaled), 2)
                                          ELSE floor(x.scaled + 0.5) END
               ELSE floor(x.scaled + 0.5)
           END / x.unit, places)
      FROM x
$$;
COMMENT ON FUNCTION @extschema@.verify_round(numeric, integer, text) IS
    'rebate.verify_period''s own rounding: half_up, half_even, down or up to the given decimal places';

-- Each partner's basis (and per-unit amount) under a version over document
-- days [from_day, to_day), formulated anew from the documents.
CREATE FUNCTION @extschema@.verify_basis(v @extschema@.program_version, from_day date, to_day date)
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

-- What each partner is paid under one version for one program period counted
-- up to as_of, before stacking: own and override components.
CREATE FUNCTION @extschema@.verify_earned(v @extschema@.program_version, program_period daterange, as_of date)
    RETURNS TABLE (partner_id bigint, component text, basis numeric, earned numeric, rated boolean, payout numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH now_ AS (
        SELECT * FROM @extschema@.verify_basis(v, lower(program_period), as_of + 1)
    ), window_ AS (
        -- a tier window: the year so far, or this period and the window_periods - 1 before it
        SELECT * FROM @extschema@.verify_basis(v,
                   CASE WHEN v.tier_window = 'to_date' THEN make_date(extract(year FROM lower(program_period))::integer, 1, 1)
                        ELSE (lower(program_period) - make_interval(months => (v.window_periods - 1)
                                 * CASE v.period_unit WHEN 'month' THEN 1 WHEN 'quarter' THEN 3 ELSE 12 END))::date END,
                   as_of + 1)
         WHERE v.tier_window <> 'period'
    ), last_year AS (
        SELECT * FROM @extschema@.verify_basis(v, (lower(program_period) - interval '1 year')::date,
                                               (as_of + 1 - interval '1 year')::date)
         WHERE v.metric = ANY (@extschema@.metric_names('last_year'))
    ), targets AS (
        SELECT t.partner_id, sum(t.value) AS value FROM @extschema@.target t
         WHERE v.kind = 'overachievement' AND t.tenant_id = v.tenant_id AND t.period <@ program_period
           AND t.metric = v.metric
         GROUP BY t.partner_id
    ), own AS (
        SELECT n.partner_id, n.basis,
               CASE WHEN v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year')) THEN coalesce(t.value, ly.basis) END AS against,
               n.unit_amount, n.payout, wd.basis AS window_basis
          FROM now_ n
          LEFT JOIN window_ wd ON wd.partner_id = n.partner_id
          LEFT JOIN targets t ON t.partner_id = n.partner_id
          LEFT JOIN last_year ly ON ly.partner_id = n.partner_id
    ), rated AS (
        SELECT o.partner_id, 'own'::text AS component, o.basis,
               CASE
                 WHEN (v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year'))) AND NOT coalesce(o.against > 0, false) THEN 0
                 WHEN v.kind = 'per_unit' THEN greatest(coalesce(o.unit_amount, 0), 0)
                 WHEN v.kind = 'fixed' THEN CASE WHEN o.basis >= v.fixed_minimum THEN v.fixed_amount ELSE 0 END
                 WHEN v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year'))
                     THEN CASE WHEN v.payout_metric IS NOT NULL THEN @extschema@.verify_payout(o.basis, o.payout, v.schedule, o.against)
                               ELSE @extschema@.verify_schedule(o.basis, v.schedule, o.against, v.apply_to) END
                 WHEN v.payout_metric IS NOT NULL THEN @extschema@.verify_payout(o.basis, o.payout, v.schedule)
                 -- the period's basis on top of the window's earlier basis
                 WHEN v.tier_window <> 'period'
                     THEN @extschema@.verify_on_top(o.window_basis - o.basis, o.basis, v.schedule)
                 ELSE @extschema@.verify_schedule(o.basis, v.schedule)
               END AS earned,
               NOT ((v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year'))) AND NOT coalesce(o.against > 0, false)) AS rated,
               o.payout
          FROM own o
        UNION ALL
        SELECT n.parent_id, 'override', sum(n.basis), @extschema@.verify_schedule(sum(n.basis), v.override_schedule), true, NULL
          FROM now_ n
         WHERE v.override_schedule IS NOT NULL AND n.parent_id IS NOT NULL
         GROUP BY n.parent_id
    )
    SELECT r.partner_id, r.component, r.basis, CASE WHEN v.cap < r.earned THEN v.cap ELSE r.earned END, r.rated, r.payout
      FROM rated r
$$;
COMMENT ON FUNCTION @extschema@.verify_earned(@extschema@.program_version, daterange, date) IS
    'rebate.verify_period''s own rating: each partner''s rebate under a version for a program period counted up to as_of, capped, before stacking';

-- What a program with a guaranteed minimum pays each partner for a period
-- counted up to as_of, formulated anew: the rebates of the run of earlier
-- periods whose versions carry the minimum the same way (by verify_earned),
-- folded forward partner by partner.
CREATE FUNCTION @extschema@.verify_guaranteed(v @extschema@.program_version, program_period daterange, as_of date)
    RETURNS TABLE (partner_id bigint, paid numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE back AS (
        SELECT 0 AS k, v.id AS version_id, program_period AS pp, as_of AS upto
        UNION ALL
        SELECT b.k + 1, g.id, daterange(date_trunc(v.period_unit, (lower(b.pp) - 1)::timestamp)::date, lower(b.pp)),
               lower(b.pp) - 1
          FROM back b JOIN @extschema@.program_version g
            ON g.program_id = v.program_id AND g.status = 'active' AND g.effective @> (lower(b.pp) - 1)
         WHERE v.guarantee_carry <> 'none' AND v.period_unit <> 'range' AND g.guarantee IS NOT NULL
           AND g.guarantee_carry = v.guarantee_carry AND g.period_unit = v.period_unit
    ), earned AS (
        SELECT b.k, g.guarantee, g.guarantee_carry AS carry, e.partner_id, e.earned
          FROM back b JOIN @extschema@.program_version g ON g.id = b.version_id,
               LATERAL @extschema@.verify_earned(g, b.pp, b.upto) e
         WHERE e.component = 'own'
    ), fold AS (
        -- from before the oldest period to this one (k = 0); a period without the partner carries on as it was
        SELECT p.partner_id, (SELECT max(b.k) FROM back b) + 1 AS k, 0::numeric AS pos, NULL::numeric AS paid
          FROM (SELECT DISTINCT e.partner_id FROM earned e) p
        UNION ALL
        SELECT f.partner_id, f.k - 1,
               CASE WHEN e.partner_id IS NULL THEN f.pos
                    WHEN e.carry = 'shortfall' THEN f.pos + e.earned - greatest(e.earned + f.pos, e.guarantee)
                    WHEN e.carry = 'excess' THEN CASE WHEN f.pos + e.earned > e.guarantee THEN f.pos + e.earned - e.guarantee ELSE 0 END
                    ELSE f.pos + e.earned - e.guarantee END,
               CASE WHEN e.partner_id IS NULL THEN NULL
                    WHEN e.carry = 'shortfall' THEN CASE WHEN e.earned + f.pos >= e.guarantee THEN e.earned + f.pos ELSE e.guarantee END
                    WHEN e.carry = 'excess' THEN CASE WHEN e.earned >= e.guarantee - f.pos THEN e.earned ELSE e.guarantee - f.pos END
                    WHEN e.carry = 'both'
                        -- all paid so far is the larger of the rebates so far and the minimums so far
                        THEN e.guarantee + greatest(f.pos + e.earned - e.guarantee, 0) - greatest(f.pos, 0)
                    ELSE greatest(e.earned, e.guarantee) END
          FROM fold f LEFT JOIN earned e ON e.partner_id = f.partner_id AND e.k = f.k - 1
         WHERE f.k > 0
    )
    SELECT f.partner_id, f.paid FROM fold f WHERE f.k = 0 AND f.paid IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.verify_guaranteed(@extschema@.program_version, daterange, date) IS
    'rebate.verify_period''s own formulation of a guaranteed minimum with what it carries: what each partner is paid for a period counted up to as_of';

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

CREATE FUNCTION @extschema@.verify_period(tenant_id bigint, period daterange)
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

GRANT EXECUTE ON FUNCTION @extschema@.verify_period(bigint, daterange), @extschema@.verify_rollups(bigint, daterange)
   TO rebate_admin, rebate_manager;
REVOKE ALL ON FUNCTION @extschema@.verify_rollups(bigint, daterange) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.verify_period(bigint, daterange) FROM PUBLIC;
