\echo Use "ALTER EXTENSION rebate UPDATE TO '0.7.0'" to load this file. \quit

-- rebate 0.6.0 -> 0.7.0

-- ---- a per-unit program never pays a negative rebate (issue 15, settlement bug 1) ----------
CREATE OR REPLACE FUNCTION @extschema@.rate_basis(v @extschema@.program_version, basis numeric, comparison numeric,
                                       unit_earned numeric,
                                       OUT tier integer, OUT rate numeric, OUT earned numeric,
                                       OUT next_tier_gap numeric, OUT next_tier_rebate numeric,
                                       OUT status text, OUT explanation text)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    against_target boolean := v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year'));
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
        earned := @extschema@.overachievement_rebate(basis, comparison, v.schedule, v.apply_to);
        IF tiers.next_start IS NOT NULL THEN
            next_tier_gap := tiers.next_start - basis;
            next_tier_rebate := @extschema@.overachievement_rebate(tiers.next_start, comparison, v.schedule, v.apply_to);
        END IF;
        rate := @extschema@.tier_rate(v.schedule, tier);
        above := basis - comparison;
        explanation := pg_catalog.format('%s %s against %s %s (%s%%): tier %s%s, %s',
                                         v.metric, basis, CASE WHEN v.metric = ANY (@extschema@.metric_names('last_year')) THEN 'last year''s' ELSE 'target' END,
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
        rate := @extschema@.tier_rate(v.schedule, tier);
        explanation := pg_catalog.format('%s %s: tier %s of %s (%s, %s)%s: %s', v.metric, basis, tier,
                                         @extschema@.schedule_thresholds(v.schedule)::text,
                                         @extschema@.schedule_mode(v.schedule), @extschema@.schedule_kind(v.schedule),
                                         CASE WHEN rate IS NULL THEN '' ELSE pg_catalog.format(' at %s', rate) END, earned);
    END CASE;
END
$$;
CREATE OR REPLACE FUNCTION @extschema@.verify_earned(v @extschema@.program_version, program_period daterange, as_of date)
    RETURNS TABLE (partner_id bigint, component text, basis numeric, earned numeric, rated boolean)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH now_ AS (
        SELECT * FROM @extschema@.verify_basis(v, lower(program_period), as_of + 1)
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
               n.unit_amount
          FROM now_ n
          LEFT JOIN targets t ON t.partner_id = n.partner_id
          LEFT JOIN last_year ly ON ly.partner_id = n.partner_id
    ), rated AS (
        SELECT o.partner_id, 'own'::text AS component, o.basis,
               CASE
                 WHEN (v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year'))) AND NOT coalesce(o.against > 0, false) THEN 0
                 WHEN v.kind = 'per_unit' THEN greatest(coalesce(o.unit_amount, 0), 0)
                 WHEN v.kind = 'fixed' THEN CASE WHEN o.basis >= v.fixed_minimum THEN v.fixed_amount ELSE 0 END
                 WHEN v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year'))
                     THEN @extschema@.verify_schedule(o.basis, v.schedule, o.against, v.apply_to)
                 ELSE @extschema@.verify_schedule(o.basis, v.schedule)
               END AS earned,
               NOT ((v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year'))) AND NOT coalesce(o.against > 0, false)) AS rated
          FROM own o
        UNION ALL
        SELECT n.parent_id, 'override', sum(n.basis), @extschema@.verify_schedule(sum(n.basis), v.override_schedule), true
          FROM now_ n
         WHERE v.override_schedule IS NOT NULL AND n.parent_id IS NOT NULL
         GROUP BY n.parent_id
    )
    SELECT r.partner_id, r.component, r.basis, CASE WHEN v.cap < r.earned THEN v.cap ELSE r.earned END, r.rated
      FROM rated r
$$;
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
    ), earned AS (
        SELECT j.version_id, j.program_period, j.counted_until, v.program_id, v.group_id, v.priority, v.metric,
               v.currency, e.*
          FROM all_jobs j JOIN @extschema@.program_version v ON v.id = j.version_id,
               LATERAL @extschema@.verify_earned(v, j.program_period, j.counted_until) e
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
            SELECT r.*, r.earned AS pays, r.earned AS paid_so_far FROM ranked r WHERE r.rule = 'cascade' AND r.n = 1
            UNION ALL
            SELECT r.*, x.pays, c.paid_so_far + x.pays
              FROM c JOIN ranked r ON r.partner_id = c.partner_id AND r.group_id = c.group_id
                                  AND r.program_period = c.program_period AND r.component = c.component AND r.n = c.n + 1
             CROSS JOIN LATERAL (
                SELECT CASE WHEN r.metric = ANY (@extschema@.metric_names('money_basis')) AND r.rated
                                 AND c.paid_so_far <> 0
                            THEN (SELECT ve.earned FROM @extschema@.program_version v2,
                                         LATERAL (SELECT CASE
                                             WHEN v2.kind = 'per_unit' THEN greatest((r.basis - c.paid_so_far) * v2.unit_percent / 100, 0)
                                             WHEN v2.kind = 'fixed' THEN CASE WHEN r.basis - c.paid_so_far >= v2.fixed_minimum THEN v2.fixed_amount ELSE 0 END
                                             WHEN v2.kind = 'overachievement' OR v2.metric = ANY (@extschema@.metric_names('last_year'))
                                                 THEN @extschema@.verify_schedule(r.basis - c.paid_so_far, v2.schedule,
                                                        coalesce((SELECT sum(tg.value) FROM @extschema@.target tg
                                                                   WHERE v2.kind = 'overachievement' AND tg.partner_id = r.partner_id
                                                                     AND tg.period <@ r.program_period
                                                                     AND tg.metric = v2.metric),
                                                                 (SELECT ly.basis FROM @extschema@.verify_basis(v2, (lower(r.program_period) - interval '1 year')::date,
                                                                                                               (r.counted_until + 1 - interval '1 year')::date) ly
                                                                   WHERE ly.partner_id = r.partner_id)),
                                                        v2.apply_to)
                                             ELSE @extschema@.verify_schedule(r.basis - c.paid_so_far, v2.schedule) END AS raw) x2,
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
               st.gross AS stored_gross, v.gross AS verified_gross, st.net AS stored_net,
               v.gross - coalesce((SELECT sum(l.net) FROM @extschema@.statement_line l
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
    )
    SELECT c.statement_id, c.partner_id, c.line_no, c.line_kind, c.program_id, c.component, c.program_period,
           c.stored_gross, c.verified_gross, c.stored_net, c.verified_net,
           CASE WHEN c.stored_gross IS NULL THEN 'missing: the recomputation pays it, no statement line does'
                WHEN c.verified_gross IS NULL THEN 'unexpected: no recomputation for this line'
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
       AND EXISTS (SELECT 1 FROM @extschema@.statement_line l JOIN @extschema@.statement s2 ON s2.id = l.statement_id
                    WHERE l.tenant_id = verify_period.tenant_id
                      AND l.partner_id = c.partner_id AND l.program_id = c.program_id AND l.component = c.component
                      AND l.program_period = c.program_period AND s2.status <> 'draft' AND l.line_kind = 'final')
     ORDER BY 2, 5, 6, 7
$$;
