-- ---------------------------------------------------------------------------
-- Computing programs: the basis of each partner from the documents already
-- in the tables, rated by the C calculation core (tiered_rebate,
-- overachievement_rebate, tier_index, next_tier_gap).  Nothing is kept
-- incrementally: every answer is a recomputation from the documents, so a
-- committed order, return or payment shows in the next query, concurrent
-- writers share no row, and nothing can drift.
-- ---------------------------------------------------------------------------

-- Orders count for rebates once approved (and while shipped, delivered, closed).
CREATE FUNCTION @extschema@.order_counts(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT status IN ('approved', 'shipped', 'delivered', 'closed')
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

-- The basis of every partner in scope over [from_day, to_day) of document
-- dates (less grace days).  partners NULL means all of the tenant's.  Returns
-- and credit notes that refer to an order count where that order counted, so
-- they are judged with the period (and version) of the original sale.
CREATE FUNCTION @extschema@.program_basis(v @extschema@.program_version, from_day date, to_day date,
                                          partners bigint[] DEFAULT NULL)
    RETURNS TABLE (partner_id bigint, parent_id bigint, basis numeric, unit_earned numeric, documents bigint)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH scope AS (
        SELECT pa.id, pa.parent_id, pa.state, pa.home_region_id
          FROM @extschema@.partner pa
         WHERE pa.tenant_id = v.tenant_id
           AND (partners IS NULL OR pa.id = ANY (partners))
           AND (v.partner_ids = '{}' OR pa.id = ANY (v.partner_ids))
           AND (v.grade_ids = '{}' OR pa.grade_id = ANY (v.grade_ids))
    ), sales AS (
        SELECT o.partner_id, l.product_id,
               counted.goods * l.quantity AS quantity,
               CASE o.kind WHEN 'order' THEN l.amount ELSE -l.amount END AS amount,
               counted.goods * l.quantity * coalesce(l.unit_cost, 0) AS cost
          FROM @extschema@.sales_order o
          JOIN scope s ON s.id = o.partner_id
          LEFT JOIN @extschema@.sales_order orig ON orig.id = o.original_order_id AND orig.tenant_id = o.tenant_id
          JOIN @extschema@.order_line l ON l.order_id = o.id AND l.tenant_id = o.tenant_id
          JOIN @extschema@.region r ON r.id = o.ship_to_region_id AND r.tenant_id = o.tenant_id
          JOIN @extschema@.product pr ON pr.id = l.product_id AND pr.tenant_id = l.tenant_id
          JOIN @extschema@.product_category pc ON pc.id = pr.category_id AND pc.tenant_id = pr.tenant_id
          -- the day the document counts on (less the grace days), and which way goods move
         CROSS JOIN LATERAL (
            SELECT CASE WHEN o.kind <> 'order' AND orig.id IS NULL THEN o.order_date
                        WHEN v.date_basis = 'order' THEN coalesce(orig.order_date, o.order_date)
                        WHEN v.date_basis = 'delivery' THEN coalesce(orig.delivered_on, o.delivered_on)
                        ELSE @extschema@.order_paid_on(coalesce(orig.id, o.id))
                   END - v.grace_days AS day,
                   CASE o.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END AS goods) counted
         WHERE v.metric NOT IN ('collected', 'new_customers')
           AND o.tenant_id = v.tenant_id
           AND o.currency = v.currency
           AND @extschema@.order_counts(o.status)
           AND (o.kind = 'order' OR v.returns_reduce)
           AND (orig.id IS NULL OR @extschema@.order_counts(orig.status))
           AND (v.region_ids = '{}' OR r.path && v.region_ids)
           AND (v.product_ids = '{}' OR l.product_id = ANY (v.product_ids))
           AND (v.category_ids = '{}' OR pc.path && v.category_ids)
           AND counted.day >= from_day AND counted.day < to_day
    ), per_product AS (
        SELECT s.partner_id, sum(s.quantity) AS quantity, sum(s.amount) AS amount, sum(s.cost) AS cost,
               count(*) AS documents
          FROM sales s
         GROUP BY s.partner_id, s.product_id
    ), sales_basis AS (
        SELECT p.partner_id,
               sum(CASE v.metric WHEN 'gross_margin' THEN p.amount - p.cost
                                 WHEN 'quantity' THEN p.quantity
                                 ELSE p.amount END) AS basis,
               -- per full unit_size units, rounded toward zero so that a return takes back what its sale paid
               sum(CASE WHEN v.unit_amount IS NOT NULL THEN trunc(p.quantity / v.unit_size) * v.unit_amount
                        WHEN v.unit_percent IS NOT NULL THEN p.amount * v.unit_percent / 100 END) AS unit_earned,
               sum(p.documents) AS documents
          FROM per_product p
         GROUP BY p.partner_id
    ), collected AS (
        SELECT pay.partner_id, sum(pay.amount) AS basis, NULL::numeric AS unit_earned, count(*) AS documents
          FROM @extschema@.payment pay
          JOIN scope s ON s.id = pay.partner_id
          LEFT JOIN @extschema@.region r ON r.id = s.home_region_id
         WHERE v.metric = 'collected'
           AND pay.tenant_id = v.tenant_id AND pay.currency = v.currency
           AND (v.region_ids = '{}' OR r.path && v.region_ids)
           AND pay.received_on - v.grace_days >= from_day AND pay.received_on - v.grace_days < to_day
         GROUP BY pay.partner_id
    ), customers AS (
        SELECT c.partner_id, count(*)::numeric AS basis, NULL::numeric AS unit_earned, count(*) AS documents
          FROM @extschema@.end_customer c
          JOIN scope s ON s.id = c.partner_id
          LEFT JOIN @extschema@.region r ON r.id = coalesce(c.region_id, s.home_region_id)
         WHERE v.metric = 'new_customers'
           AND c.tenant_id = v.tenant_id
           AND (v.region_ids = '{}' OR r.path && v.region_ids)
           AND c.registered_on - v.grace_days >= from_day AND c.registered_on - v.grace_days < to_day
         GROUP BY c.partner_id
    ), found AS (
        SELECT * FROM sales_basis UNION ALL SELECT * FROM collected UNION ALL SELECT * FROM customers
    )
    SELECT s.id, s.parent_id, pg_catalog.trim_scale(coalesce(f.basis, 0)), pg_catalog.trim_scale(f.unit_earned),
           coalesce(f.documents, 0)
      FROM scope s
      LEFT JOIN found f ON f.partner_id = s.id
     WHERE f.partner_id IS NOT NULL OR s.state = 'active'
$$;
COMMENT ON FUNCTION @extschema@.program_basis(@extschema@.program_version, date, date, bigint[]) IS
    'The basis of each partner in the version''s scope over document dates [from_day, to_day) (less grace days): active partners, and any partner with documents';

-- Rating one basis under a version: the tier, rate, what it earns, how far the
-- next tier is and what it would pay, and the reason where nothing can be paid.
-- comparison is the target (overachievement) or last year's basis (growth).
CREATE FUNCTION @extschema@.rate_basis(v @extschema@.program_version, basis numeric, comparison numeric,
                                       unit_earned numeric,
                                       OUT tier integer, OUT rate numeric, OUT earned numeric,
                                       OUT next_tier_gap numeric, OUT next_tier_rebate numeric,
                                       OUT status text, OUT explanation text)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    against_target boolean := v.kind = 'overachievement' OR v.metric = 'growth';
    tiers   record;
    above   numeric;
BEGIN
    status := 'ok';
    IF against_target AND (comparison IS NULL OR comparison <= 0) THEN
        status := CASE WHEN v.metric = 'growth' THEN 'no_comparison_base' ELSE 'no_target' END;
        earned := 0;
        explanation := CASE WHEN v.metric = 'growth'
                            THEN pg_catalog.format('no net sales in the same period a year earlier to grow from (%s): nothing is paid', coalesce(comparison, 0))
                            ELSE 'no target is set for the partner in this period: nothing is paid' END;
        RETURN;
    END IF;
    CASE
    WHEN v.kind = 'per_unit' THEN
        earned := coalesce(unit_earned, 0);
        rate := coalesce(v.unit_amount, v.unit_percent / 100);
        explanation := CASE WHEN v.unit_amount IS NOT NULL
                            THEN pg_catalog.format('%s per full %s units of each product, %s units in all: %s',
                                                   v.unit_amount, v.unit_size, basis, earned)
                            ELSE pg_catalog.format('%s%% of %s net sales: %s', v.unit_percent, basis, earned) END;
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
          INTO tiers FROM @extschema@.tiers(v.schedule) t;
        tier := tiers.reached;
        earned := @extschema@.overachievement_rebate(basis, comparison, v.schedule, v.apply_to);
        IF tiers.next_start IS NOT NULL THEN
            next_tier_gap := tiers.next_start - basis;
            next_tier_rebate := @extschema@.overachievement_rebate(tiers.next_start, comparison, v.schedule, v.apply_to);
        END IF;
        SELECT t.rate INTO rate FROM @extschema@.tiers(v.schedule) t WHERE t.tier = rate_basis.tier;
        above := basis - comparison;
        explanation := pg_catalog.format('%s %s against %s %s (%s%%): tier %s%s, %s',
                                         v.metric, basis, CASE WHEN v.metric = 'growth' THEN 'last year''s' ELSE 'target' END,
                                         comparison, pg_catalog.round(basis * 100 / comparison, 2), tier,
                                         CASE WHEN rate IS NULL THEN '' ELSE pg_catalog.format(' at %s on the %s', rate,
                                              CASE WHEN v.apply_to = 'excess' THEN pg_catalog.format('excess %s', above)
                                                   ELSE 'whole basis' END) END,
                                         earned);
    ELSE
        tier := @extschema@.tier_index(basis, v.schedule);
        earned := @extschema@.tiered_rebate(basis, v.schedule);
        next_tier_gap := @extschema@.next_tier_gap(basis, v.schedule);
        IF next_tier_gap IS NOT NULL THEN
            next_tier_rebate := @extschema@.tiered_rebate(basis + next_tier_gap, v.schedule);
        END IF;
        SELECT t.rate INTO rate FROM @extschema@.tiers(v.schedule) t WHERE t.tier = rate_basis.tier;
        explanation := pg_catalog.format('%s %s: tier %s of %s (%s, %s)%s: %s', v.metric, basis, tier,
                                         @extschema@.schedule_thresholds(v.schedule)::text,
                                         @extschema@.schedule_mode(v.schedule), @extschema@.schedule_kind(v.schedule),
                                         CASE WHEN rate IS NULL THEN '' ELSE pg_catalog.format(' at %s', rate) END, earned);
    END CASE;
END
$$;
COMMENT ON FUNCTION @extschema@.rate_basis(@extschema@.program_version, numeric, numeric, numeric) IS
    'Rates one basis under a program version: tier, rate, exact rebate (before the cap), gap to the next tier and what it would pay, status and the formula in words';

-- The target of a partner for a program period: the targets of the metric
-- whose periods lie inside it, summed (monthly targets make a quarter's).
CREATE FUNCTION @extschema@.program_target(v @extschema@.program_version, partner_id bigint, period daterange)
    RETURNS numeric
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT sum(t.value)
      FROM @extschema@.target t
     WHERE t.tenant_id = v.tenant_id AND t.partner_id = program_target.partner_id
       AND t.period <@ program_target.period
       AND t.metric = CASE v.metric WHEN 'net_sales' THEN 'sales_amount' WHEN 'collected' THEN 'collected_amount'
                                    ELSE v.metric END
$$;
COMMENT ON FUNCTION @extschema@.program_target(@extschema@.program_version, bigint, daterange) IS
    'A partner''s target for the program''s metric over a period: the sum of its targets lying inside the period';

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
    explanation      text
);
COMMENT ON TYPE @extschema@.program_result IS
    'One partner''s result under a program version: component own or override; comparison is the target (overachievement) or last year''s basis (growth); earned before and rebate after the cap, exact; status ok, no_target or no_comparison_base';

CREATE FUNCTION @extschema@.program_results(v @extschema@.program_version, period daterange,
                                            as_of date DEFAULT NULL, partner_id bigint DEFAULT NULL)
    RETURNS SETOF @extschema@.program_result
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH win AS (
        SELECT lower(period) AS from_day,
               CASE WHEN as_of IS NULL OR as_of + 1 >= upper(period) THEN upper(period) ELSE as_of + 1 END AS to_day
    ), own AS (
        SELECT b.*, 'own'::text AS component,
               CASE WHEN v.kind = 'overachievement' THEN @extschema@.program_target(v, b.partner_id, period)
                    WHEN v.metric = 'growth' THEN
                        (SELECT ly.basis FROM win w2,
                                LATERAL @extschema@.program_basis(v, (w2.from_day - '1 year'::interval)::date,
                                                                  (w2.to_day - '1 year'::interval)::date,
                                                                  ARRAY[b.partner_id]) ly)
               END AS comparison
          FROM win w, @extschema@.program_basis(v, w.from_day, w.to_day,
                                                 CASE WHEN program_results.partner_id IS NULL THEN NULL
                                                      ELSE ARRAY[program_results.partner_id] END) b
    ), children AS (
        SELECT b.*
          FROM win w, @extschema@.program_basis(v, w.from_day, w.to_day,
                          (SELECT pg_catalog.array_agg(c.id) FROM @extschema@.partner c
                            WHERE c.parent_id = program_results.partner_id)) b
         WHERE v.override_schedule IS NOT NULL AND program_results.partner_id IS NOT NULL
        UNION ALL
        SELECT o.partner_id, o.parent_id, o.basis, o.unit_earned, o.documents FROM own o
         WHERE v.override_schedule IS NOT NULL AND program_results.partner_id IS NULL
    ), override AS (
        SELECT c.parent_id AS partner_id, sum(c.basis) AS basis, sum(c.documents) AS documents
          FROM children c
         WHERE c.parent_id IS NOT NULL
           AND (program_results.partner_id IS NULL OR c.parent_id = program_results.partner_id)
         GROUP BY c.parent_id
    ), rated AS (
        SELECT o.partner_id, o.component, o.basis, o.comparison, o.documents, r.*
          FROM own o, LATERAL @extschema@.rate_basis(v, o.basis, o.comparison, o.unit_earned) r
        UNION ALL
        SELECT ov.partner_id, 'override', ov.basis, NULL, ov.documents,
               @extschema@.tier_index(ov.basis, v.override_schedule),
               (SELECT t.rate FROM @extschema@.tiers(v.override_schedule) t
                 WHERE t.tier = @extschema@.tier_index(ov.basis, v.override_schedule)),
               @extschema@.tiered_rebate(ov.basis, v.override_schedule),
               @extschema@.next_tier_gap(ov.basis, v.override_schedule),
               @extschema@.tiered_rebate(ov.basis + @extschema@.next_tier_gap(ov.basis, v.override_schedule),
                                         v.override_schedule),
               'ok',
               pg_catalog.format('override on the %s %s of direct sub-partners: %s', v.metric, ov.basis,
                                 @extschema@.tiered_rebate(ov.basis, v.override_schedule))
          FROM override ov
    )
    SELECT v.program_id, v.id, v.version, r.partner_id, r.component, period, (w.to_day - 1), v.metric, v.kind,
           pg_catalog.trim_scale(r.basis), pg_catalog.trim_scale(r.comparison), r.tier, r.rate,
           pg_catalog.trim_scale(r.earned),
           coalesce(r.earned > v.cap, false),
           pg_catalog.trim_scale(CASE WHEN r.earned > v.cap THEN v.cap ELSE r.earned END),
           pg_catalog.trim_scale(r.next_tier_gap), pg_catalog.trim_scale(r.next_tier_rebate), r.documents, r.status,
           r.explanation || CASE WHEN r.earned > v.cap THEN pg_catalog.format('; capped at %s', v.cap) ELSE '' END
      FROM rated r, win w
     ORDER BY r.partner_id, r.component DESC
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

-- Real-time progress of one partner in every program that governs as_of.
CREATE FUNCTION @extschema@.progress(partner_id bigint, as_of date DEFAULT CURRENT_DATE)
    RETURNS TABLE (program_id bigint, program_code text, program_name text, version integer, component text,
                   period daterange, counted_until date, metric text, kind text, basis numeric, target numeric,
                   achievement numeric, tier integer, rate numeric, earned numeric, cap_applied boolean, rebate numeric,
                   next_tier_gap numeric, next_tier_rebate numeric, documents bigint, status text, explanation text)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.id, p.code, p.name, r.version, r.component, r.period, r.counted_until, r.metric, r.kind, r.basis,
           r.comparison,
           CASE WHEN r.comparison > 0 THEN pg_catalog.round(r.basis / r.comparison, 4) END,
           r.tier, r.rate, r.earned, r.cap_applied, r.rebate, r.next_tier_gap, r.next_tier_rebate, r.documents,
           r.status, r.explanation
      FROM @extschema@.partner pa
      JOIN @extschema@.program p ON p.tenant_id = pa.tenant_id
      JOIN @extschema@.program_version v ON v.program_id = p.id AND v.status = 'active' AND v.effective @> as_of
     CROSS JOIN LATERAL @extschema@.program_results(v, @extschema@.program_period(v, as_of), as_of, pa.id) r
     WHERE pa.id = progress.partner_id
     ORDER BY p.code, r.component DESC
$$;
COMMENT ON FUNCTION @extschema@.progress(bigint, date) IS
    'A partner''s progress in every program governing as_of: basis so far, target and achievement, tier, rate, rebate earned so far, gap to the next tier and what it would pay';

CREATE VIEW @extschema@.v_partner_progress WITH (security_invoker = true) AS
SELECT pa.tenant_id, pa.id AS partner_id, pa.code AS partner_code, pa.name AS partner_name, g.*
  FROM @extschema@.partner pa
 CROSS JOIN LATERAL @extschema@.progress(pa.id, CURRENT_DATE) g;
COMMENT ON VIEW @extschema@.v_partner_progress IS
    'Every visible partner''s progress in the programs governing today (rebate.progress); a partner user sees its own rows';

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
        v := pg_catalog.jsonb_populate_record(v, overrides - ARRAY['id', 'tenant_id', 'program_id', 'version', 'status']);
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
