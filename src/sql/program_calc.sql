-- ---------------------------------------------------------------------------
-- Computing programs: the basis of each partner from the rollups the
-- triggers keep as documents are written (rollups.sql: rebate.sales_rollup),
-- rated by the C calculation core (tiered_rebate, overachievement_rebate,
-- tier_index, next_tier_gap).  A committed order, return or payment shows in
-- the next query; what a call reads grows with the programs, periods and
-- products, not with the documents.  verify.sql recomputes the same from the
-- documents themselves.
-- ---------------------------------------------------------------------------

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

-- The basis of every partner in scope over [from_day, to_day) of document
-- dates (less grace days).  partners NULL means all of the tenant's.
CREATE FUNCTION @extschema@.program_basis(v @extschema@.program_version, from_day date, to_day date,
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

-- The multiplier of a schedule's tier (NULL below the first tier and for lump sums).
-- (PL/pgSQL like the small helpers below: called once per program by
-- progress, where a SQL function with a SET clause would be planned each time)
CREATE FUNCTION @extschema@.tier_rate(schedule @extschema@.tier_schedule, tier integer) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE (@extschema@.schedule_tier_kinds(schedule))[tier]
                WHEN 'percent' THEN pg_catalog.trim_scale((@extschema@.schedule_values(schedule))[tier] / 100)
                WHEN 'per_unit' THEN (@extschema@.schedule_values(schedule))[tier]
           END;
END
$$;
COMMENT ON FUNCTION @extschema@.tier_rate(@extschema@.tier_schedule, integer) IS
    'The multiplier of tier n of a schedule (a percentage / 100, or the amount per unit); NULL for lump sums or outside the tiers';

-- Rating one basis under a version: the tier, rate, what it earns, how far the
-- next tier is and what it would pay (on the payout measure counted so far,
-- for programs paying on another measure), and the reason where nothing can
-- be paid.
-- comparison is the target (overachievement) or last year's basis (growth).
CREATE FUNCTION @extschema@.rate_basis(v @extschema@.program_version, basis numeric, comparison numeric,
                                       unit_earned numeric, payout numeric, window_basis numeric,
                                       OUT tier integer, OUT rate numeric, OUT earned numeric,
                                       OUT next_tier_gap numeric, OUT next_tier_rebate numeric,
                                       OUT status text, OUT explanation text)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    against_target boolean := v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year'));
    -- thresholds in the metric, paid on another measure (payout_metric)
    pays_on_payout boolean := v.payout_metric IS NOT NULL AND v.kind IN ('tiered', 'overachievement');
    -- the tiers reached by a window of periods, the period paid on its own basis on top
    windowed boolean := v.tier_window <> 'period' AND v.kind = 'tiered' AND window_basis IS NOT NULL;
    tiers   record;
    above   numeric;
BEGIN
    status := 'ok';
    IF against_target AND (comparison IS NULL OR comparison <= 0) THEN
        status := CASE WHEN v.metric = ANY (@extschema@.metric_names('last_year')) THEN 'no_comparison_base' ELSE 'no_target' END;
        earned := 0;
        explanation := CASE WHEN v.metric = ANY (@extschema@.metric_names('last_year'))
                            THEN pg_catalog.format('no net sales in the same period a year earlier to grow from (%s): nothing is paid', coalesce(comparison, 0))
                            ELSE 'no target is set for the partner in this period: nothing is paid' END;
        RETURN;
    END IF;
    CASE
    WHEN v.kind = 'per_unit' THEN
        -- a period whose returns outweigh its sales earns nothing: a rebate is never negative
        earned := greatest(coalesce(unit_earned, 0), 0);
        rate := pg_catalog.trim_scale(coalesce(v.unit_amount, v.unit_percent / 100));
        explanation := CASE WHEN v.unit_amount IS NOT NULL
                            THEN pg_catalog.format('%s per full %s units of each product, %s units in all: %s',
                                                   v.unit_amount, v.unit_size, basis, earned)
                            ELSE pg_catalog.format('%s%% of %s net sales: %s', v.unit_percent, basis, earned) END
                       || CASE WHEN unit_earned < 0 THEN ' (returns outweigh sales: nothing is paid)' ELSE '' END;
    WHEN v.kind = 'fixed' THEN
        earned := CASE WHEN basis >= v.fixed_minimum THEN v.fixed_amount ELSE 0 END;
        tier := CASE WHEN basis >= v.fixed_minimum THEN 1 ELSE 0 END;
        IF basis < v.fixed_minimum THEN
            next_tier_gap := v.fixed_minimum - basis;
            next_tier_rebate := v.fixed_amount;
        END IF;
        explanation := pg_catalog.format('%s %s %s the minimum %s: %s', v.metric, basis,
                                         CASE WHEN basis >= v.fixed_minimum THEN 'reaches' ELSE 'is below' END,
                                         v.fixed_minimum, earned);
    WHEN against_target THEN
        -- tiers start at threshold x comparison, compared exactly (no division)
        SELECT count(*) FILTER (WHERE t.threshold * comparison <= basis)::integer AS reached,
               min(t.threshold * comparison) FILTER (WHERE t.threshold * comparison > basis) AS next_start
          INTO tiers FROM pg_catalog.unnest(@extschema@.schedule_thresholds(v.schedule)) AS t (threshold);
        tier := tiers.reached;
        earned := CASE WHEN pays_on_payout THEN @extschema@.tiered_payout(basis, payout, v.schedule, comparison)
                       ELSE @extschema@.overachievement_rebate(basis, comparison, v.schedule, v.apply_to) END;
        IF tiers.next_start IS NOT NULL THEN
            next_tier_gap := tiers.next_start - basis;
            next_tier_rebate := CASE WHEN pays_on_payout
                                     THEN @extschema@.tiered_payout(tiers.next_start, payout, v.schedule, comparison)
                                     ELSE @extschema@.overachievement_rebate(tiers.next_start, comparison, v.schedule, v.apply_to) END;
        END IF;
        rate := @extschema@.tier_rate(v.schedule, tier);
        above := basis - comparison;
        explanation := pg_catalog.format('%s %s against %s %s (%s%%): tier %s%s, %s',
                                         v.metric, basis, CASE WHEN v.metric = ANY (@extschema@.metric_names('last_year')) THEN 'last year''s' ELSE 'target' END,
                                         comparison, pg_catalog.round(basis * 100 / comparison, 2), tier,
                                         CASE WHEN rate IS NULL THEN '' ELSE pg_catalog.format(' at %s on the %s', rate,
                                              CASE WHEN pays_on_payout THEN pg_catalog.format('%s %s', v.payout_metric, payout)
                                                   WHEN v.apply_to = 'excess' THEN pg_catalog.format('excess %s', above)
                                                   ELSE 'whole basis' END) END,
                                         earned);
    WHEN windowed THEN
        tier := @extschema@.tier_index(window_basis, v.schedule);
        earned := @extschema@.tiered_rebate_on_top(window_basis - basis, basis, v.schedule);
        next_tier_gap := @extschema@.next_tier_gap(window_basis, v.schedule);
        IF next_tier_gap IS NOT NULL THEN
            next_tier_rebate := @extschema@.tiered_rebate_on_top(window_basis - basis, basis + next_tier_gap, v.schedule);
        END IF;
        rate := @extschema@.tier_rate(v.schedule, tier);
        explanation := pg_catalog.format('%s %s on top of %s earlier in the %s, %s in all: tier %s of %s (%s, %s)%s: %s',
                                         v.metric, basis, window_basis - basis,
                                         CASE v.tier_window WHEN 'to_date' THEN 'year to date'
                                              ELSE pg_catalog.format('%s %ss rolling', v.window_periods, v.period_unit) END,
                                         window_basis, tier, @extschema@.schedule_thresholds(v.schedule)::text,
                                         @extschema@.schedule_mode(v.schedule), @extschema@.schedule_kind(v.schedule),
                                         CASE WHEN rate IS NULL THEN '' ELSE pg_catalog.format(' at %s', rate) END, earned);
    ELSE
        tier := @extschema@.tier_index(basis, v.schedule);
        earned := CASE WHEN pays_on_payout THEN @extschema@.tiered_payout(basis, payout, v.schedule)
                       ELSE @extschema@.tiered_rebate(basis, v.schedule) END;
        next_tier_gap := @extschema@.next_tier_gap(basis, v.schedule);
        IF next_tier_gap IS NOT NULL THEN
            next_tier_rebate := CASE WHEN pays_on_payout
                                     THEN @extschema@.tiered_payout(basis + next_tier_gap, payout, v.schedule)
                                     ELSE @extschema@.tiered_rebate(basis + next_tier_gap, v.schedule) END;
        END IF;
        rate := @extschema@.tier_rate(v.schedule, tier);
        explanation := pg_catalog.format('%s %s: tier %s of %s (%s, %s)%s: %s', v.metric, basis, tier,
                                         @extschema@.schedule_thresholds(v.schedule)::text,
                                         @extschema@.schedule_mode(v.schedule), @extschema@.schedule_kind(v.schedule),
                                         CASE WHEN rate IS NULL THEN ''
                                              WHEN pays_on_payout THEN pg_catalog.format(' at %s on %s %s', rate, v.payout_metric, payout)
                                              ELSE pg_catalog.format(' at %s', rate) END, earned);
    END CASE;
END
$$;
COMMENT ON FUNCTION @extschema@.rate_basis(@extschema@.program_version, numeric, numeric, numeric, numeric, numeric) IS
    'Rates one basis under a program version (payout: the measure it pays on, where payout_metric names one, rated by rebate.tiered_payout; window_basis: the basis of the tier window, where the version has one, rated by rebate.tiered_rebate_on_top): tier, rate, exact rebate (before the cap), gap to the next tier and what it would pay, status and the formula in words';

-- Targets are looked up per partner and metric by progress.
CREATE INDEX target_partner_metric ON @extschema@.target (tenant_id, partner_id, metric);

-- The targets of the partners for a program period: for each partner, the
-- targets of the metric whose periods lie inside it, summed (monthly targets
-- make a quarter's).  partners NULL means all.
CREATE FUNCTION @extschema@.program_targets(v @extschema@.program_version, period daterange,
                                            partners bigint[] DEFAULT NULL)
    RETURNS TABLE (partner_id bigint, target numeric)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    -- two queries, so that a plan made once reads one partner's targets by its index
    IF partners IS NULL THEN
        RETURN QUERY
            SELECT t.partner_id, sum(t.value)
              FROM @extschema@.target t
             WHERE t.tenant_id = v.tenant_id AND t.period <@ program_targets.period
               AND t.metric = v.metric
             GROUP BY t.partner_id;
    ELSE
        RETURN QUERY
            SELECT t.partner_id, sum(t.value)
              FROM @extschema@.target t
             WHERE t.tenant_id = v.tenant_id AND t.partner_id = ANY (partners)
               AND t.metric = v.metric
               -- "inside the period" by its bounds (both are bounded), not <@, which would also
               -- send the plan to the overlap index and through every target of the period
               AND lower(t.period) >= lower(program_targets.period) AND upper(t.period) <= upper(program_targets.period)
             GROUP BY t.partner_id;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.program_targets(@extschema@.program_version, daterange, bigint[]) IS
    'Each partner''s target for the program''s metric over a period: the sum of its targets lying inside the period';

-- Every partner's result under a version for a period, counting documents up
-- to as_of (the whole period when NULL); one partner, or all.  Rows with
-- component 'override' are what parent partners earn on their direct
-- sub-partners' basis.  Amounts are exact; rounding is the statement's.
CREATE TYPE @extschema@.program_result AS (
    program_id       bigint,
    version_id       bigint,
    version          integer,
    partner_id       bigint,
    component        text,
    period           daterange,
    counted_until    date,
    metric           text,
    kind             text,
    basis            numeric,
    comparison       numeric,
    tier             integer,
    rate             numeric,
    earned           numeric,
    cap_applied      boolean,
    rebate           numeric,
    next_tier_gap    numeric,
    next_tier_rebate numeric,
    documents        bigint,
    status           text,
    explanation      text,
    group_id         bigint,
    stacking         text,
    paid             numeric,
    payout           numeric,
    guarantee        numeric,
    carry_forward    numeric
);
COMMENT ON TYPE @extschema@.program_result IS
    'One partner''s result under a program version: component own or override; comparison is the target (overachievement) or last year''s basis (growth); earned before and rebate after the cap, paid after stacking, all exact; status ok, no_target, no_comparison_base or not_shown; payout is the measure paid on where the version names a payout_metric; guarantee the minimum paid (own rows of guaranteed programs) and carry_forward the position carried to the next period (shortfall: minus what is to be recovered; excess: what counts toward later minimums; both: rebates less minimums so far)';

-- A guaranteed minimum, one period: what is paid given the rebate earned and
-- the position carried in, and the position carried on.  The position is
-- signed: shortfall, minus what earlier minimums paid beyond the rebates (to
-- recover from rebates above later minimums); excess, what earlier rebates
-- paid above the minimums (counting toward later ones); both, the rebates so
-- far less the minimums so far (so that what is paid in all is the larger of
-- the two sums); none carries nothing.
CREATE FUNCTION @extschema@.guarantee_step(carry text, guarantee numeric, earned numeric, carried_in numeric,
                                           OUT paid numeric, OUT carried_on numeric)
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pos numeric := coalesce(carried_in, 0);
BEGIN
    CASE carry
    WHEN 'shortfall' THEN
        paid := greatest(guarantee, earned + pos);
        carried_on := pos + earned - paid;
    WHEN 'excess' THEN
        paid := greatest(earned, guarantee - pos);
        carried_on := greatest(pos + earned - guarantee, 0);
    WHEN 'both' THEN
        paid := guarantee + greatest(pos + earned - guarantee, 0) - greatest(pos, 0);
        carried_on := pos + earned - guarantee;
    ELSE
        paid := greatest(earned, guarantee);
    END CASE;
    paid := pg_catalog.trim_scale(paid);
    carried_on := pg_catalog.trim_scale(carried_on);
END
$$;
COMMENT ON FUNCTION @extschema@.guarantee_step(text, numeric, numeric, numeric) IS
    'One period of a guaranteed minimum: paid and the position carried on, from the rebate earned and the position carried in (shortfall, excess, both or none)';

-- The same version without its guarantee: what its periods earn.
CREATE FUNCTION @extschema@.without_guarantee(v @extschema@.program_version) RETURNS @extschema@.program_version
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    v.guarantee := NULL;
    v.guarantee_carry := 'none';
    RETURN v;
END
$$;
COMMENT ON FUNCTION @extschema@.without_guarantee(@extschema@.program_version) IS
    'Internal: a version with its guaranteed minimum taken away, to compute what its periods earn';

-- The position a guaranteed minimum carries into a period, per partner: the
-- program's earlier periods, back to the first of the run whose versions
-- carry a guarantee the same way over the same period unit, folded forward.
CREATE FUNCTION @extschema@.guarantee_position(v @extschema@.program_version, period daterange,
                                               for_partner bigint DEFAULT NULL)
    RETURNS TABLE (partner_id bigint, carried numeric)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    chain   @extschema@.program_version[] := '{}';
    periods daterange[] := '{}';
    earlier @extschema@.program_version;
    p       daterange := period;
    pos     jsonb := '{}';
    r       record;
    step    record;
BEGIN
    IF v.guarantee IS NULL OR v.guarantee_carry = 'none' THEN
        RETURN;
    END IF;
    LOOP
        earlier := @extschema@.governing_version(v.program_id, lower(p) - 1);
        EXIT WHEN earlier.id IS NULL OR earlier.guarantee IS NULL OR earlier.guarantee_carry <> v.guarantee_carry
                  OR earlier.period_unit <> v.period_unit OR earlier.period_unit = 'range';
        p := @extschema@.program_period(earlier, lower(p) - 1);
        chain := earlier || chain;
        periods := p || periods;
    END LOOP;
    FOR i IN 1 .. coalesce(pg_catalog.array_length(chain, 1), 0) LOOP
        FOR r IN SELECT x.partner_id, x.rebate
                   FROM @extschema@.program_results(@extschema@.without_guarantee(chain[i]), periods[i], NULL,
                                                    guarantee_position.for_partner) x
                  WHERE x.component = 'own' AND x.rebate IS NOT NULL
        LOOP
            step := @extschema@.guarantee_step(chain[i].guarantee_carry, chain[i].guarantee, r.rebate,
                                               (pos ->> r.partner_id::text)::numeric);
            pos := pos || pg_catalog.jsonb_build_object(r.partner_id::text, step.carried_on);
        END LOOP;
    END LOOP;
    RETURN QUERY SELECT e.key::bigint, (e.value #>> '{}')::numeric FROM pg_catalog.jsonb_each(pos) AS e;
END
$$;
COMMENT ON FUNCTION @extschema@.guarantee_position(@extschema@.program_version, daterange, bigint) IS
    'The position a guaranteed minimum carries into a period, per partner, from the program''s earlier periods that carry it';

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

CREATE FUNCTION @extschema@.program_results(v @extschema@.program_version, period daterange,
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

-- The version of a program that governs a date (active, effective that day).
CREATE FUNCTION @extschema@.governing_version(program_id bigint, day date) RETURNS @extschema@.program_version
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pv.* FROM @extschema@.program_version pv
     WHERE pv.program_id = governing_version.program_id AND pv.status = 'active' AND pv.effective @> day
$$;
COMMENT ON FUNCTION @extschema@.governing_version(bigint, date) IS 'The active version of the program effective on the date, if any';

-- Stacking: programs in one group, for one partner and one period, combine
-- by the group's rule; the result is each row's paid amount and, in words,
-- why.  Override rows and programs outside groups are paid what they earn.
-- A row whose rebate is unknown (NULL: not shown to this reader) makes the
-- paid amounts of max, exclusive and cascade groups unknown too.
CREATE FUNCTION @extschema@.apply_stacking(results @extschema@.program_result[])
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

-- Whether the caller may see what gross-margin programs are based on.
CREATE FUNCTION @extschema@.sees_costs() RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN pg_catalog.has_column_privilege('@extschema@.order_line'::regclass, 'unit_cost', 'SELECT');
END
$$;
COMMENT ON FUNCTION @extschema@.sees_costs() IS
    'Whether the current role may read order_line.unit_cost, which the basis of gross-margin programs needs';

-- Real-time progress of one partner in every program that governs as_of,
-- stacked as it will be settled.  A reader who may not see costs (a partner
-- user) gets gross-margin programs as status not_shown, without numbers.
CREATE FUNCTION @extschema@.progress(partner_id bigint, as_of date DEFAULT CURRENT_DATE)
    RETURNS TABLE (program_id bigint, program_code text, program_name text, version integer, component text,
                   period daterange, counted_until date, metric text, kind text, basis numeric, target numeric,
                   achievement numeric, tier integer, rate numeric, earned numeric, cap_applied boolean, rebate numeric,
                   next_tier_gap numeric, next_tier_rebate numeric, documents bigint, status text, explanation text,
                   stacking text, paid numeric, guarantee numeric, carry_forward numeric)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v       @extschema@.program_version;
    results @extschema@.program_result[] := '{}';
    costs   boolean := @extschema@.sees_costs();
BEGIN
    IF NOT EXISTS (SELECT 1 FROM @extschema@.partner pa WHERE pa.id = progress.partner_id) THEN
        RAISE EXCEPTION 'partner % does not exist or is not visible to you', partner_id USING ERRCODE = 'no_data_found';
    END IF;
    FOR v IN SELECT pv.* FROM @extschema@.partner pa
               JOIN @extschema@.program_version pv ON pv.tenant_id = pa.tenant_id
              WHERE pa.id = progress.partner_id AND pv.status = 'active' AND pv.effective @> as_of
    LOOP
        IF v.metric = ANY (@extschema@.metric_names('needs_cost')) AND NOT costs THEN
            results := results || ROW(v.program_id, v.id, v.version, progress.partner_id, 'own',
                                      @extschema@.program_period(v, as_of), as_of, v.metric, v.kind,
                                      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'not_shown',
                                      'the basis is the gross margin, which needs costs you may not see; the rebate is shown on the statement',
                                      v.group_id, NULL, NULL, NULL, NULL, NULL)::@extschema@.program_result;
        ELSE
            results := results || ARRAY(SELECT r FROM @extschema@.program_results(v, @extschema@.program_period(v, as_of),
                                                                                   as_of, progress.partner_id) r);
        END IF;
    END LOOP;
    RETURN QUERY
    SELECT p.id, p.code, p.name, r.version, r.component, r.period, r.counted_until, r.metric, r.kind, r.basis,
           r.comparison,
           CASE WHEN r.comparison > 0 THEN pg_catalog.round(r.basis / r.comparison, 4) END,
           r.tier, r.rate, r.earned, r.cap_applied, r.rebate, r.next_tier_gap, r.next_tier_rebate, r.documents,
           r.status, r.explanation, r.stacking, r.paid, r.guarantee, r.carry_forward
      FROM @extschema@.apply_stacking(results) r
      JOIN @extschema@.program p ON p.id = r.program_id
     ORDER BY p.code, r.component DESC;
END
$$;
COMMENT ON FUNCTION @extschema@.progress(bigint, date) IS
    'A partner''s progress in every program governing as_of: basis so far, target and achievement, tier, rate, rebate earned so far, gap to the next tier and what it would pay, stacking outcome, the amount paid, and a guaranteed minimum with what it carries';

CREATE VIEW @extschema@.v_partner_progress WITH (security_invoker = true) AS
SELECT pa.tenant_id, pa.id AS partner_id, pa.code AS partner_code, pa.name AS partner_name, g.*
  FROM @extschema@.partner pa
 CROSS JOIN LATERAL @extschema@.progress(pa.id, CURRENT_DATE) g;
COMMENT ON VIEW @extschema@.v_partner_progress IS
    'Every visible partner''s progress in the programs governing today (rebate.progress); a partner user sees its own rows';
COMMENT ON COLUMN @extschema@.v_partner_progress.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.v_partner_progress.partner_id IS '渠道商 Partner id (rebate.partner)';
COMMENT ON COLUMN @extschema@.v_partner_progress.partner_code IS '渠道商编码 Partner code';
COMMENT ON COLUMN @extschema@.v_partner_progress.partner_name IS '渠道商名称 Partner name';
COMMENT ON COLUMN @extschema@.v_partner_progress.program_id IS '返利政策 Rebate program id (rebate.program)';
COMMENT ON COLUMN @extschema@.v_partner_progress.program_code IS '政策编码 Rebate program code';
COMMENT ON COLUMN @extschema@.v_partner_progress.program_name IS '政策名称 Rebate program name';
COMMENT ON COLUMN @extschema@.v_partner_progress.version IS '政策版本 Number of the program version governing today (active, effective today)';
COMMENT ON COLUMN @extschema@.v_partner_progress.component IS '返利构成 own (on the partner''s own basis) or override (what a parent partner, 总代, earns on the summed basis of its direct sub-partners, 二代, by the override schedule)';
COMMENT ON COLUMN @extschema@.v_partner_progress.period IS '结算期间 The program period containing today: its month, quarter or year [first day, first day of the next period), or the version''s whole effective range for range programs';
COMMENT ON COLUMN @extschema@.v_partner_progress.counted_until IS '统计截至日 The last day counted: today. A document counts on its order, delivery or payment date (the version''s date_basis) less the grace days, from the period''s first day up to this day';
COMMENT ON COLUMN @extschema@.v_partner_progress.metric IS '考核指标 The basis: net_sales, gross_margin, collected, quantity, new_customers or growth';
COMMENT ON COLUMN @extschema@.v_partner_progress.kind IS '计算方式 tiered, overachievement (against a target), per_unit or fixed';
COMMENT ON COLUMN @extschema@.v_partner_progress.basis IS '累计基数 The basis so far, in the metric''s unit: net sales, gross margin or payments in the program''s currency (growth: net sales), quantity, or end customers registered; returns and credit notes subtract unless the version ignores them (不计退); override rows: the direct sub-partners'' bases summed; exact; NULL when not_shown';
COMMENT ON COLUMN @extschema@.v_partner_progress.target IS '目标 Overachievement programs: the partner''s targets for the metric lying inside the period, summed (NULL without one); growth programs: its basis over the same days a year earlier; NULL for other programs and override rows';
COMMENT ON COLUMN @extschema@.v_partner_progress.achievement IS '达成率 basis / target, rounded to 4 decimal places (1.0 = 100%; for growth, 1.1 = 10% growth); NULL when the target is NULL or not above 0';
COMMENT ON COLUMN @extschema@.v_partner_progress.tier IS '当前档位 The tier reached: 0 below the first threshold, else 1..n (fixed programs: 1 once the basis reaches the minimum); NULL for per_unit programs and where nothing is rated (no_target, no_comparison_base, not_shown)';
COMMENT ON COLUMN @extschema@.v_partner_progress.rate IS '返利比例 The multiplier of the tier reached: a percentage / 100 (0.03 = 3%) or an amount per unit; per_unit programs: the amount per full unit_size units, or unit_percent / 100; NULL for lump sums, fixed programs, below the first tier and where nothing is rated';
COMMENT ON COLUMN @extschema@.v_partner_progress.earned IS '应得返利 The rebate earned so far, exact, before the version''s cap (a schedule''s own cap applied); 0 for no_target and no_comparison_base; NULL when not_shown';
COMMENT ON COLUMN @extschema@.v_partner_progress.cap_applied IS '封顶 Whether earned exceeds the version''s cap, so that rebate is the cap; false without a cap; NULL when not_shown';
COMMENT ON COLUMN @extschema@.v_partner_progress.rebate IS '返利 The rebate so far after the version''s cap, exact, in the program''s currency (rounding is the statement''s); NULL when not_shown';
COMMENT ON COLUMN @extschema@.v_partner_progress.next_tier_gap IS '距下一档 How much more basis (in the metric''s unit) reaches the next tier (fixed programs: the minimum); NULL in the top tier, for per_unit programs and where nothing is rated';
COMMENT ON COLUMN @extschema@.v_partner_progress.next_tier_rebate IS '下一档返利 The whole rebate (exact, before the version''s cap) the basis would earn on reaching the next tier, not the increase; NULL when next_tier_gap is NULL';
COMMENT ON COLUMN @extschema@.v_partner_progress.documents IS '单据数 Documents counted: order, return and credit-note lines (payments for collected, end customers registered for new_customers); override rows: the sub-partners'' summed; NULL when not_shown';
COMMENT ON COLUMN @extschema@.v_partner_progress.status IS '状态 ok; no_target (overachievement without a target above 0: nothing is paid); no_comparison_base (growth without net sales a year earlier: nothing is paid); not_shown (a gross-margin program and the reader may not see costs: no numbers)';
COMMENT ON COLUMN @extschema@.v_partner_progress.explanation IS '计算说明 The calculation in words: basis, tier, rate and rebate, and the cap where it applied';
COMMENT ON COLUMN @extschema@.v_partner_progress.stacking IS '叠加说明 The outcome in the program''s stacking group, in words (sum, max, exclusive, cascade; in cascade groups tier, rate, earned, rebate and the next tier are re-rated on the basis less what earlier programs paid); NULL for programs in no group and for override rows';
COMMENT ON COLUMN @extschema@.v_partner_progress.guarantee IS '保底 The minimum the program pays the partner in the period (guarantee); NULL without one and for override rows';
COMMENT ON COLUMN @extschema@.v_partner_progress.carry_forward IS '结转 What a guaranteed minimum carries to the next period: shortfall, minus what the minimums paid beyond the rebates (recovered from rebates above later minimums); excess, what the rebates paid above the minimums (counting toward later ones); both, the rebates so far less the minimums so far; NULL when nothing is carried';
COMMENT ON COLUMN @extschema@.v_partner_progress.paid IS '实付返利 What the program pays after the cap and stacking, exact: the rebate outside groups, in sum groups and in cascade groups; in max and exclusive groups the winner''s rebate, 0 for the others; NULL when not_shown, or when a max, exclusive or cascade group has a program not shown to the reader';

-- Trial runs: a version (or the governing one, or a draft), optionally with
-- changes to its definition, over a past period; nothing is written.
CREATE FUNCTION @extschema@.simulate(program_id bigint, period daterange, version integer DEFAULT NULL,
                                     overrides jsonb DEFAULT NULL)
    RETURNS SETOF @extschema@.program_result
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v @extschema@.program_version;
BEGIN
    SELECT * INTO v FROM @extschema@.program_version pv
     WHERE pv.program_id = simulate.program_id
       AND (CASE WHEN simulate.version IS NOT NULL THEN pv.version = simulate.version
                 ELSE pv.status = 'active' AND pv.effective && simulate.period END)
     ORDER BY lower(pv.effective) DESC LIMIT 1;
    IF v.id IS NULL THEN
        RAISE EXCEPTION 'program % has no % to simulate', program_id,
                        CASE WHEN version IS NULL THEN pg_catalog.format('active version in %s', period)
                             ELSE pg_catalog.format('version %s', version) END
            USING ERRCODE = 'no_data_found', HINT = 'Name the version (a draft too) to try.';
    END IF;
    IF overrides IS NOT NULL THEN
        PERFORM @extschema@.check_definition_changes(overrides, 'a trial run');
        v := pg_catalog.jsonb_populate_record(v, overrides);
        PERFORM @extschema@.check_program_version(v);
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.program_results(v, period);
END
$$;
COMMENT ON FUNCTION @extschema@.simulate(bigint, daterange, integer, jsonb) IS
    'Trial run (试算): every partner''s result for a period under a version (default: the one governing it; a draft too), with optional changes to its definition as jsonb; writes nothing';

-- What a policy change would have cost: two versions over one period, per
-- partner and (partner_id NULL) in total.
CREATE FUNCTION @extschema@.compare(program_id bigint, version_a integer, version_b integer, period daterange)
    RETURNS TABLE (partner_id bigint, component text, basis_a numeric, rebate_a numeric, basis_b numeric,
                   rebate_b numeric, delta numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH a AS (SELECT * FROM @extschema@.simulate(program_id, period, version_a)),
         b AS (SELECT * FROM @extschema@.simulate(program_id, period, version_b)),
         paired AS (
        SELECT coalesce(a.partner_id, b.partner_id) AS partner_id, coalesce(a.component, b.component) AS component,
               a.basis AS basis_a, coalesce(a.rebate, 0) AS rebate_a, b.basis AS basis_b, coalesce(b.rebate, 0) AS rebate_b
          FROM a FULL JOIN b ON a.partner_id = b.partner_id AND a.component = b.component
    )
    SELECT p.partner_id, p.component, p.basis_a, p.rebate_a, p.basis_b, p.rebate_b, p.rebate_b - p.rebate_a
      FROM paired p
    UNION ALL
    SELECT NULL, 'total', sum(p.basis_a), sum(p.rebate_a), sum(p.basis_b), sum(p.rebate_b), sum(p.rebate_b - p.rebate_a)
      FROM paired p
     ORDER BY 1 NULLS LAST, 2 DESC
$$;
COMMENT ON FUNCTION @extschema@.compare(bigint, integer, integer, daterange) IS
    'Two versions of a program over one period: each partner''s basis and rebate under both, the delta, and a total row (partner_id NULL)';

GRANT SELECT ON @extschema@.v_partner_progress TO rebate_admin, rebate_manager, rebate_partner;
