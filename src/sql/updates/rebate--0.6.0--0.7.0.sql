\echo Use "ALTER EXTENSION rebate UPDATE TO '0.7.0'" to load this file. \quit

-- rebate 0.6.0 -> 0.7.0 (issue 15): settlement bugs 1 (a per-unit program never pays a negative
-- rebate) and 2 (a recheck of one program of a stacking group rechecks the group); a reversal for a
-- partner that left a program's scope; thresholds in one measure, payout on another; scales mixing
-- lump sums and rates; reduction per program in cascade groups; a guaranteed minimum per period
-- carried forward; tier windows (the year so far, rolling); close_period on whole months that
-- have ended; errors that name the allowed values.  Each function below is its final definition.

-- ---- one vocabulary for a version's enumerated columns; the new definition columns
CREATE FUNCTION @extschema@.version_choices(field text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE field
        WHEN 'kind' THEN ARRAY['tiered', 'overachievement', 'per_unit', 'fixed']
        WHEN 'apply_to' THEN ARRAY['total', 'excess']
        WHEN 'period_unit' THEN ARRAY['month', 'quarter', 'year', 'range']
        WHEN 'date_basis' THEN ARRAY['order', 'delivery', 'payment']
        WHEN 'settlement' THEN ARRAY['credit_note', 'deduction', 'cash']
        -- what a program may pay on when its thresholds read another measure: a measure of the same
        -- order lines (net sales, gross margin or quantity)
        WHEN 'tier_window' THEN ARRAY['period', 'to_date', 'rolling']
        WHEN 'guarantee_carry' THEN ARRAY['none', 'shortfall', 'excess', 'both']
        WHEN 'payout_metric' THEN ARRAY(SELECT m FROM pg_catalog.unnest(@extschema@.metric_names('product_scope')) AS m
                                         WHERE NOT m = ANY (@extschema@.metric_names('last_year')))
    END
$$;
COMMENT ON FUNCTION @extschema@.version_choices(text) IS
    'The values an enumerated column of rebate.program_version takes (kind, apply_to, period_unit, date_basis, settlement, guarantee_carry, tier_window, payout_metric); metrics are rebate.metric_names(''program'')';
ALTER TABLE @extschema@.program_version
    DROP CONSTRAINT program_version_kind_check,
    DROP CONSTRAINT program_version_apply_to_check,
    DROP CONSTRAINT program_version_period_unit_check,
    DROP CONSTRAINT program_version_date_basis_check,
    DROP CONSTRAINT program_version_settlement_check;
ALTER TABLE @extschema@.program_version
    ADD CONSTRAINT program_version_kind_check CHECK (kind OPERATOR(pg_catalog.=) ANY (@extschema@.version_choices('kind'))),
    ADD CONSTRAINT program_version_apply_to_check CHECK (apply_to OPERATOR(pg_catalog.=) ANY (@extschema@.version_choices('apply_to'))),
    ADD CONSTRAINT program_version_period_unit_check CHECK (period_unit OPERATOR(pg_catalog.=) ANY (@extschema@.version_choices('period_unit'))),
    ADD CONSTRAINT program_version_date_basis_check CHECK (date_basis OPERATOR(pg_catalog.=) ANY (@extschema@.version_choices('date_basis'))),
    ADD CONSTRAINT program_version_settlement_check CHECK (settlement OPERATOR(pg_catalog.=) ANY (@extschema@.version_choices('settlement')));
ALTER TABLE @extschema@.program_version
    ADD COLUMN payout_metric text CHECK (payout_metric OPERATOR(pg_catalog.=) ANY (@extschema@.version_choices('payout_metric'))),
    ADD COLUMN reduces_later boolean NOT NULL DEFAULT true,
    ADD COLUMN reduced_by_earlier boolean NOT NULL DEFAULT true,
    ADD COLUMN guarantee numeric(18,2) CHECK (guarantee > 0),
    ADD COLUMN guarantee_carry text NOT NULL DEFAULT 'none'
               CHECK (guarantee_carry OPERATOR(pg_catalog.=) ANY (@extschema@.version_choices('guarantee_carry'))),
    ADD COLUMN tier_window text NOT NULL DEFAULT 'period'
               CHECK (tier_window OPERATOR(pg_catalog.=) ANY (@extschema@.version_choices('tier_window'))),
    ADD COLUMN window_periods integer CHECK (window_periods BETWEEN 2 AND 36);
COMMENT ON COLUMN @extschema@.program_version.payout_metric IS
    'tiered and overachievement programs: the measure the schedule''s rates pay on when it is not the metric (thresholds in quantity, 3% of net_sales; thresholds in net sales, 20 per unit of quantity); NULL: the metric';
COMMENT ON COLUMN @extschema@.program_version.reduces_later IS
    'Cascade groups: whether what the program pays reduces the basis of the group''s later programs (off: excluded from reduction)';
COMMENT ON COLUMN @extschema@.program_version.reduced_by_earlier IS
    'Cascade groups: whether the program''s basis is reduced by what the group''s earlier programs paid (off: rated on its whole basis)';
COMMENT ON COLUMN @extschema@.program_version.guarantee IS
    'A minimum paid to each partner in scope per period (保底): the own rebate is paid at least this much; NULL: none';
COMMENT ON COLUMN @extschema@.program_version.guarantee_carry IS
    'What a guarantee carries to the program''s later periods: none; shortfall (what the minimum paid beyond the rebate is recovered from later rebates above the minimum); excess (a rebate above the minimum counts toward later minimums); both (cumulatively, at least the minimums so far and at least the rebates so far)';
COMMENT ON COLUMN @extschema@.program_version.tier_window IS
    'tiered programs: which basis reaches the tiers: period (the period''s own), to_date (the year so far, 年度累计), rolling (this period and the window_periods - 1 before it, 滚动); the period is paid on its own basis placed on top of the window''s earlier basis';
COMMENT ON COLUMN @extschema@.program_version.window_periods IS
    'tier_window rolling: how many periods the window holds, this one included (2 to 36)';
GRANT INSERT (payout_metric, reduces_later, reduced_by_earlier, guarantee, guarantee_carry, tier_window, window_periods),
      UPDATE (payout_metric, reduces_later, reduced_by_earlier, guarantee, guarantee_carry, tier_window, window_periods)
    ON @extschema@.program_version TO rebate_admin, rebate_manager;
ALTER TABLE @extschema@.statement_line ADD COLUMN guarantee numeric, ADD COLUMN carry_forward numeric;
GRANT INSERT (guarantee, carry_forward), UPDATE (guarantee, carry_forward) ON @extschema@.statement_line
    TO rebate_admin, rebate_manager;
COMMENT ON COLUMN @extschema@.statement_line.guarantee IS 'The guaranteed minimum of the program period (own lines of guaranteed programs); NULL without one';
COMMENT ON COLUMN @extschema@.statement_line.carry_forward IS 'What the guaranteed minimum carries to the program''s next period after this one (see v_partner_progress.carry_forward); NULL when nothing is carried';

-- ---- the metric catalog's basis by name
CREATE FUNCTION @extschema@.metric_basis(metric text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.basis FROM @extschema@.metrics() m WHERE m.name = metric
$$;
COMMENT ON FUNCTION @extschema@.metric_basis(text) IS
    'How a metric''s value is computed: line_amount, line_margin, line_quantity, payments, customers or kpis; NULL for a name not in the catalog';

-- ---- scales mixing lump sums and rates; a schedule paying on another measure
CREATE FUNCTION @extschema@.tier_schedule(mode text, thresholds numeric[], "values" numeric[], kinds text[],
                                          cap numeric DEFAULT NULL)
    RETURNS @extschema@.tier_schedule
    AS 'MODULE_PATHNAME', 'tier_schedule_make_mixed' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_schedule(text, numeric[], numeric[], text[], numeric) IS
    'Builds a schedule from parallel arrays with each tier''s kind (percent, per_unit, lump_sum): lump sums may mix with rates of one kind';
CREATE FUNCTION @extschema@.schedule_tier_kinds(@extschema@.tier_schedule) RETURNS text[]
    AS 'MODULE_PATHNAME', 'tier_schedule_tier_kinds' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.schedule_tier_kinds(@extschema@.tier_schedule) IS 'Each tier''s kind of value: percent, per_unit or lump_sum';
COMMENT ON FUNCTION @extschema@.schedule_kind(@extschema@.tier_schedule) IS 'percent, per_unit or lump_sum; mixed for lump sums beside rates (rebate.schedule_tier_kinds says which tier is which)';
CREATE OR REPLACE FUNCTION @extschema@.tiers(schedule @extschema@.tier_schedule,
                                  OUT tier integer, OUT threshold numeric, OUT upper_bound numeric,
                                  OUT value numeric, OUT rate numeric)
    RETURNS SETOF record
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.n::integer,
           t.threshold,
           pg_catalog.lead(t.threshold) OVER (ORDER BY t.n),
           v.value,
           CASE k.kind
                WHEN 'percent' THEN pg_catalog.trim_scale(v.value * 0.01)
                WHEN 'per_unit' THEN v.value
           END
      FROM pg_catalog.unnest(@extschema@.schedule_thresholds(schedule)) WITH ORDINALITY AS t(threshold, n)
      JOIN pg_catalog.unnest(@extschema@.schedule_values(schedule)) WITH ORDINALITY AS v(value, n) USING (n)
      JOIN pg_catalog.unnest(@extschema@.schedule_tier_kinds(schedule)) WITH ORDINALITY AS k(kind, n) USING (n)
     ORDER BY t.n
$$;
COMMENT ON FUNCTION @extschema@.tiers(@extschema@.tier_schedule) IS
    'The tiers as rows: [threshold, upper_bound), the value as written, and the multiplier (NULL for lump sums)';
CREATE OR REPLACE FUNCTION @extschema@.schedule_to_jsonb(@extschema@.tier_schedule) RETURNS jsonb
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.jsonb_build_object(
               'mode', @extschema@.schedule_mode($1),
               'kind', @extschema@.schedule_kind($1),
               'cap', @extschema@.schedule_cap($1),
               'tiers', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('threshold', t.threshold, 'value', t.value)
                                                     || CASE WHEN @extschema@.schedule_kind($1) = 'mixed'
                                                             THEN pg_catalog.jsonb_build_object('kind', (@extschema@.schedule_tier_kinds($1))[t.tier])
                                                             ELSE '{}'::jsonb END
                                                     ORDER BY t.tier)
                           FROM @extschema@.tiers($1) AS t))
$$;
COMMENT ON FUNCTION @extschema@.schedule_to_jsonb(@extschema@.tier_schedule) IS
    'The schedule as jsonb: mode, kind, cap and tiers [{threshold, value}]; also the cast tier_schedule::jsonb';
CREATE OR REPLACE FUNCTION @extschema@.schedule_from_jsonb(jsonb) RETURNS @extschema@.tier_schedule
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH tiers AS (
        SELECT (t OPERATOR(pg_catalog.->>) 'threshold')::numeric AS threshold, (t OPERATOR(pg_catalog.->>) 'value')::numeric AS value,
               COALESCE(t OPERATOR(pg_catalog.->>) 'kind', $1 OPERATOR(pg_catalog.->>) 'kind', 'percent') AS kind, n
          FROM pg_catalog.jsonb_array_elements($1 OPERATOR(pg_catalog.->) 'tiers') WITH ORDINALITY AS e(t, n)
    )
    SELECT @extschema@.tier_schedule(
               COALESCE($1 OPERATOR(pg_catalog.->>) 'mode', ''),
               COALESCE((SELECT pg_catalog.array_agg(x.threshold ORDER BY x.n) FROM tiers x), '{}'),
               COALESCE((SELECT pg_catalog.array_agg(x.value ORDER BY x.n) FROM tiers x), '{}'),
               COALESCE((SELECT pg_catalog.array_agg(x.kind ORDER BY x.n) FROM tiers x), '{}'),
               ($1 OPERATOR(pg_catalog.->>) 'cap')::numeric)
$$;
COMMENT ON FUNCTION @extschema@.schedule_from_jsonb(jsonb) IS
    'Builds a schedule from the jsonb that schedule_to_jsonb produces; also the cast jsonb::tier_schedule';
CREATE FUNCTION @extschema@.tiered_payout(basis numeric, payout numeric, schedule @extschema@.tier_schedule,
                                          target numeric DEFAULT NULL) RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_tiered_payout' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tiered_payout(numeric, numeric, @extschema@.tier_schedule, numeric) IS
    'A schedule whose thresholds read the basis (achievement ratios of target where given) paying on another measure, payout: retroactive, the top tier reached pays its lump sum or its rate on the payout; incremental, the lump sums reached plus each rate band''s share of the payout pro rata to the basis (20 decimal places); the rates'' part never below 0 (lump sums reached are paid); capped; NULL when basis, payout or schedule is';
CREATE FUNCTION @extschema@.tiered_rebate_on_top(below numeric, basis numeric, schedule @extschema@.tier_schedule)
    RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_tiered_rebate_on_top' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tiered_rebate_on_top(numeric, numeric, @extschema@.tier_schedule) IS
    'The rebate of a basis placed on top of another (a period''s own basis above the earlier periods of its window): retroactive, the tier below + basis reaches pays its lump sum or its rate on basis; incremental, the rebate of below + basis less that of below; never below 0, capped';

-- ---- definitions: checked with the allowed values; revisions and trial runs name definition columns only
CREATE OR REPLACE FUNCTION @extschema@.check_program_version(v @extschema@.program_version) RETURNS void
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    what    text := pg_catalog.format('version %s of program %s', v.version,
                                      coalesce((SELECT pg_catalog.quote_ident(p.code) FROM @extschema@.program p
                                                 WHERE p.id = v.program_id), v.program_id::text));
    problem text;
    hint    text;
    missing bigint;
    scope   record;
    choice  record;
BEGIN
    -- a value outside a column's vocabulary, named with the values it takes (before the table's
    -- checks, whose error would only quote the whole row)
    FOR choice IN SELECT * FROM (VALUES ('metric', v.metric, @extschema@.metric_names('program')),
                                        ('kind', v.kind, @extschema@.version_choices('kind')),
                                        ('apply_to', v.apply_to, @extschema@.version_choices('apply_to')),
                                        ('period_unit', v.period_unit, @extschema@.version_choices('period_unit')),
                                        ('date_basis', v.date_basis, @extschema@.version_choices('date_basis')),
                                        ('settlement', v.settlement, @extschema@.version_choices('settlement')),
                                        ('payout_metric', v.payout_metric, @extschema@.version_choices('payout_metric')),
                                        ('guarantee_carry', v.guarantee_carry, @extschema@.version_choices('guarantee_carry')),
                                        ('tier_window', v.tier_window, @extschema@.version_choices('tier_window')))
                                 AS c (field, given, allowed)
                   WHERE NOT c.given = ANY (c.allowed)
    LOOP
        RAISE EXCEPTION '% is invalid: % is not a %', what, pg_catalog.quote_literal(choice.given), choice.field
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('The values of %s are %s.', choice.field,
                                             pg_catalog.array_to_string(choice.allowed, ', '));
    END LOOP;
    IF v.kind IN ('tiered', 'overachievement') AND v.schedule IS NULL THEN
        problem := pg_catalog.format('a %s program needs a schedule', v.kind);
        hint := 'Give the schedule, e.g. ''retroactive 0:1%, 100000:2%''.';
    ELSIF v.kind IN ('per_unit', 'fixed') AND v.schedule IS NOT NULL THEN
        problem := pg_catalog.format('a %s program has no schedule', v.kind);
        hint := 'Leave schedule empty: per_unit pays unit_amount or unit_percent, fixed pays fixed_amount.';
    ELSIF v.kind = 'overachievement' AND NOT v.metric = ANY (@extschema@.metric_names('target')) THEN
        problem := pg_catalog.format('targets are not kept for the metric %s', v.metric);
        hint := pg_catalog.format('Overachievement measures %s against rebate.target.',
                                  pg_catalog.array_to_string(@extschema@.metric_names('target'), ', '));
    ELSIF v.metric = ANY (@extschema@.metric_names('last_year')) AND v.kind <> 'tiered' THEN
        problem := 'the growth metric takes a tiered schedule of ratios to the same period a year earlier';
        hint := 'Use kind tiered with thresholds such as 1.1 for 10% growth.';
    ELSIF v.kind = 'per_unit' AND pg_catalog.num_nonnulls(v.unit_amount, v.unit_percent) <> 1 THEN
        problem := 'a per_unit program pays either unit_amount or unit_percent';
        hint := 'Give unit_amount (per full unit_size units) or unit_percent (of the line amount), not both.';
    ELSIF v.kind = 'per_unit' AND v.metric <> (CASE WHEN v.unit_amount IS NOT NULL THEN 'quantity' ELSE 'net_sales' END) THEN
        problem := pg_catalog.format('a per_unit program paying %s measures %s',
                                     CASE WHEN v.unit_amount IS NOT NULL THEN 'unit_amount' ELSE 'unit_percent' END,
                                     CASE WHEN v.unit_amount IS NOT NULL THEN 'quantity' ELSE 'net_sales' END);
        hint := 'Set the metric to match what the program pays on.';
    ELSIF v.kind <> 'per_unit' AND (v.unit_amount IS NOT NULL OR v.unit_percent IS NOT NULL) THEN
        problem := 'only per_unit programs pay unit_amount or unit_percent';
    ELSIF v.payout_metric IS NOT NULL AND v.kind NOT IN ('tiered', 'overachievement') THEN
        problem := pg_catalog.format('a %s program pays on no other measure than its own', v.kind);
        hint := 'Leave payout_metric empty: per_unit pays on quantity (unit_amount) or net sales (unit_percent), fixed pays fixed_amount.';
    ELSIF v.payout_metric IS NOT NULL AND (NOT v.metric = ANY (@extschema@.metric_names('product_scope'))
                                           OR v.metric = ANY (@extschema@.metric_names('last_year'))) THEN
        problem := pg_catalog.format('a program paying on %s counts its thresholds from the same order lines, and %s is not counted from them',
                                     v.payout_metric, v.metric);
        hint := pg_catalog.format('Use one of %s as the metric.',
                                  pg_catalog.array_to_string(@extschema@.version_choices('payout_metric'), ', '));
    ELSIF v.payout_metric IS NOT NULL AND v.apply_to = 'excess' THEN
        problem := 'the excess over the target is measured in the metric, so it cannot pay on another measure';
        hint := 'Use apply_to total, or leave payout_metric empty.';
    ELSIF NOT (v.reduces_later AND v.reduced_by_earlier)
          AND NOT coalesce((SELECT g.rule = 'cascade' FROM @extschema@.program_group g WHERE g.id = v.group_id), false) THEN
        problem := 'reduces_later and reduced_by_earlier say how a program takes part in a cascade group, and it is not in one';
        hint := 'Put the program in a group with rule cascade, or leave both true.';
    ELSIF v.tier_window <> 'period' AND (v.kind <> 'tiered' OR v.metric = ANY (@extschema@.metric_names('last_year'))) THEN
        problem := pg_catalog.format('a tier window (%s) is for tiered programs on a basis of their own', v.tier_window);
        hint := 'Overachievement, growth, per_unit and fixed programs read the period''s basis; use tier_window period.';
    ELSIF (v.tier_window = 'rolling') <> (v.window_periods IS NOT NULL) THEN
        problem := CASE WHEN v.window_periods IS NULL THEN 'a rolling tier window needs window_periods'
                        ELSE pg_catalog.format('window_periods is for a rolling tier window, and this one is %s', v.tier_window) END;
        hint := 'Give window_periods (this period and those before it, 2 to 36) with tier_window rolling only.';
    ELSIF v.tier_window = 'to_date' AND v.period_unit NOT IN ('month', 'quarter') THEN
        problem := pg_catalog.format('a year-to-date tier window needs monthly or quarterly periods, not %s', v.period_unit);
    ELSIF v.tier_window = 'rolling' AND v.period_unit = 'range' THEN
        problem := 'a rolling tier window needs periods that repeat (month, quarter, year)';
    ELSIF v.tier_window <> 'period' AND v.payout_metric IS NOT NULL THEN
        problem := 'a tier window pays the period''s own basis, so it cannot pay on another measure';
        hint := 'Leave payout_metric empty, or use tier_window period.';
    ELSIF v.tier_window <> 'period' AND coalesce((SELECT g.rule = 'cascade' FROM @extschema@.program_group g WHERE g.id = v.group_id), false) THEN
        problem := 'a program with a tier window cannot be reduced in a cascade group';
        hint := 'Put it in a sum, max or exclusive group, or in none.';
    ELSIF v.guarantee IS NULL AND v.guarantee_carry <> 'none' THEN
        problem := pg_catalog.format('guarantee_carry %s carries a guarantee, and there is none', v.guarantee_carry);
        hint := 'Give guarantee, the minimum paid per period, or leave guarantee_carry none.';
    ELSIF v.guarantee IS NOT NULL AND v.group_id IS NOT NULL THEN
        problem := 'a program with a guaranteed minimum stands alone: it cannot be stacked in a group';
        hint := 'Take it out of the group; a minimum in a group would make what the others pay depend on it.';
    ELSIF v.guarantee > least(v.cap, @extschema@.schedule_cap(v.schedule)) THEN
        problem := pg_catalog.format('the guaranteed minimum %s is above the cap %s', pg_catalog.trim_scale(v.guarantee),
                                     pg_catalog.trim_scale(least(v.cap, @extschema@.schedule_cap(v.schedule))));
    ELSIF v.kind = 'fixed' AND (v.fixed_amount IS NULL OR v.fixed_minimum IS NULL) THEN
        problem := 'a fixed program needs fixed_amount and fixed_minimum';
        hint := 'fixed_amount is paid once the metric reaches fixed_minimum in the period.';
    ELSIF v.kind <> 'fixed' AND (v.fixed_amount IS NOT NULL OR v.fixed_minimum IS NOT NULL) THEN
        problem := 'only fixed programs pay fixed_amount';
    ELSIF NOT v.metric = ANY (@extschema@.metric_names('product_scope')) AND (v.category_ids <> '{}' OR v.product_ids <> '{}') THEN
        problem := pg_catalog.format('the metric %s cannot be scoped by products or categories', v.metric);
        hint := 'Payments and end customers carry no products; scope them by region, grade or partner.';
    ELSIF v.period_unit = 'range' AND upper_inf(v.effective) THEN
        problem := 'a range program needs an end date';
        hint := 'Give effective an upper bound, e.g. ''[2026-06-01,2026-09-01)''.';
    ELSIF v.period_unit <> 'range'
          AND (lower(v.effective) <> @extschema@.period_start(v.period_unit, lower(v.effective))
               OR (NOT upper_inf(v.effective)
                   AND upper(v.effective) <> @extschema@.period_start(v.period_unit, upper(v.effective)))) THEN
        problem := pg_catalog.format('the effective dates %s do not lie on %s boundaries', v.effective, v.period_unit);
        hint := 'A version governs whole periods, so that each period has exactly one version.';
    ELSIF v.interim AND v.period_unit = 'month' THEN
        problem := 'a monthly program has no interim settlements';
    ELSIF v.group_id IS NOT NULL AND EXISTS (
              SELECT 1 FROM @extschema@.program_version o
               WHERE o.group_id = v.group_id AND o.program_id <> v.program_id AND o.status = 'active'
                 AND o.effective && v.effective
                 AND (o.period_unit <> v.period_unit OR (v.period_unit = 'range' AND o.effective <> v.effective))) THEN
        problem := 'the programs of a stacking group must settle over the same periods';
        hint := 'Give it the period of the group''s other programs, or put it in another group.';
    END IF;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '% is invalid: %', what, problem
            USING ERRCODE = 'invalid_parameter_value', HINT = coalesce(hint, '');
    END IF;

    -- the scope names only the tenant's own regions, categories, products, grades and partners
    FOR scope IN SELECT * FROM (VALUES ('region', 'region', v.region_ids), ('category', 'product_category', v.category_ids),
                                       ('product', 'product', v.product_ids), ('grade', 'partner_grade', v.grade_ids),
                                       ('partner', 'partner', v.partner_ids)) AS s (noun, tbl, ids)
                  WHERE s.ids <> '{}'
    LOOP
        EXECUTE pg_catalog.format('SELECT x FROM pg_catalog.unnest($1) AS x WHERE NOT EXISTS '
                                  '(SELECT 1 FROM @extschema@.%I t WHERE t.id = x AND t.tenant_id = $2) LIMIT 1', scope.tbl)
            INTO missing USING scope.ids, v.tenant_id;
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION '% names % %, which is not of its tenant', what, scope.noun, missing
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = pg_catalog.format('%s %s does not exist in tenant %s.', scope.noun, missing, v.tenant_id),
                      HINT = 'A program''s scope names its own tenant''s regions, categories, products, grades and partners.';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.check_program_version(@extschema@.program_version) IS
    'Refuses a program definition that cannot be computed: missing schedule, fields of another kind, scope outside the tenant, dates off period boundaries';
CREATE FUNCTION @extschema@.check_definition_changes(changes jsonb, what text) RETURNS void
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unknown text;
BEGIN
    IF changes IS NOT NULL AND pg_catalog.jsonb_typeof(changes) <> 'object' THEN
        RAISE EXCEPTION '% takes its changes as a jsonb object', what
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('The changes given are a jsonb %s.', pg_catalog.jsonb_typeof(changes)),
                  HINT = 'Give the columns to change as keys, e.g. ''{"schedule": "retroactive 0:3%"}''.';
    END IF;
    SELECT k INTO unknown FROM pg_catalog.jsonb_object_keys(coalesce(changes, '{}')) AS k
     WHERE k IN ('id', 'tenant_id', 'program_id', 'version', 'status', 'created_by', 'activated_at', 'created_at', 'updated_at')
        OR k NOT IN (SELECT a.attname FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid = '@extschema@.program_version'::regclass AND a.attnum > 0 AND NOT a.attisdropped)
     ORDER BY k LIMIT 1;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION '% cannot set "%"', what, unknown
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN unknown IN (SELECT a.attname FROM pg_catalog.pg_attribute a
                                                  WHERE a.attrelid = '@extschema@.program_version'::regclass)
                                THEN 'It is not part of the definition.'
                                ELSE 'rebate.program_version has no such column.' END,
                  HINT = 'Change the definition columns of rebate.program_version (metric, kind, schedule, scope, ...).';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_definition_changes(jsonb, text) IS
    'Refuses changes to a program definition (jsonb) that name anything but its definition columns: a misspelt key is an error, not ignored';
CREATE OR REPLACE FUNCTION @extschema@.revise_program(program_id bigint, changes jsonb, effective_from date DEFAULT NULL,
                                                      note text DEFAULT NULL)
    RETURNS @extschema@.program_version
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    base    @extschema@.program_version;
    fresh   @extschema@.program_version;
    columns text;
BEGIN
    SELECT * INTO base FROM @extschema@.program_version pv
     WHERE pv.program_id = revise_program.program_id ORDER BY pv.version DESC LIMIT 1;
    IF base.id IS NULL THEN
        RAISE EXCEPTION 'program % has no version to revise', program_id USING ERRCODE = 'no_data_found',
              HINT = 'Insert its first version into rebate.program_version.';
    END IF;
    PERFORM @extschema@.check_definition_changes(changes, 'a revision');
    fresh := pg_catalog.jsonb_populate_record(base, coalesce(changes, '{}'));
    fresh.note := note;
    IF effective_from IS NOT NULL THEN
        fresh.effective := pg_catalog.daterange(effective_from, upper(fresh.effective));
    END IF;
    -- the definition columns; id, version, status and the stamps start afresh
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = '@extschema@.program_version'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname NOT IN ('id', 'version', 'status', 'created_by', 'activated_at', 'created_at', 'updated_at');
    EXECUTE pg_catalog.format('INSERT INTO @extschema@.program_version (%1$s) SELECT %1$s FROM pg_catalog.jsonb_populate_record(NULL::@extschema@.program_version, $1) RETURNING *', columns)
       INTO fresh USING pg_catalog.to_jsonb(fresh);
    RETURN fresh;
END
$$;
COMMENT ON FUNCTION @extschema@.revise_program(bigint, jsonb, date, text) IS
    'A new draft version of the program: its latest definition with the changes (jsonb of program_version columns), effective from the date';
CREATE OR REPLACE FUNCTION @extschema@.simulate(program_id bigint, period daterange, version integer DEFAULT NULL,
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

-- ---- computing programs: the payout measure, mixed scales, reduction per program, a partner not there
ALTER TYPE @extschema@.program_result ADD ATTRIBUTE payout numeric, ADD ATTRIBUTE guarantee numeric,
    ADD ATTRIBUTE carry_forward numeric;
COMMENT ON TYPE @extschema@.program_result IS
    'One partner''s result under a program version: component own or override; comparison is the target (overachievement) or last year''s basis (growth); earned before and rebate after the cap, paid after stacking, all exact; status ok, no_target, no_comparison_base or not_shown; payout is the measure paid on where the version names a payout_metric; guarantee the minimum paid (own rows of guaranteed programs) and carry_forward the position carried to the next period (shortfall: minus what is to be recovered; excess: what counts toward later minimums; both: rebates less minimums so far)';
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
DROP FUNCTION @extschema@.program_basis(@extschema@.program_version, date, date, bigint[]);
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
BEGIN
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
            -- each runs only for the programs that need it: costs only for gross margin
            SELECT pl.partner_id, pl.product_id, sum(pl.quantity) AS quantity, sum(pl.amount) AS amount,
                   count(*) AS documents, 0 AS cost
              FROM @extschema@.program_lines(v, from_day, to_day, partners) pl
             WHERE NOT with_costs
             GROUP BY pl.partner_id, pl.product_id
            UNION ALL
            SELECT c.partner_id, c.product_id, c.quantity, c.amount, c.documents, c.cost
              FROM @extschema@.program_line_costs(v, from_day, to_day, partners) c
             WHERE with_costs
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
            SELECT pay.partner_id, sum(pay.amount) AS basis, NULL::numeric AS unit_earned, count(*) AS documents,
                   NULL::numeric AS payout
              FROM @extschema@.payment pay
              JOIN scope s ON s.id = pay.partner_id
              LEFT JOIN @extschema@.region r ON r.id = s.home_region_id
             WHERE counted_from = 'payments'
               AND pay.tenant_id = v.tenant_id AND pay.currency = v.currency
               AND (v.region_ids = '{}' OR r.path && v.region_ids)
               AND pay.received_on - v.grace_days >= from_day AND pay.received_on - v.grace_days < to_day
             GROUP BY pay.partner_id
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
CREATE OR REPLACE FUNCTION @extschema@.tier_rate(schedule @extschema@.tier_schedule, tier integer) RETURNS numeric
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
DROP FUNCTION @extschema@.rate_basis(@extschema@.program_version, numeric, numeric, numeric);
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
            SELECT b.*
              FROM win w, @extschema@.program_basis(v, w.from_day, w.to_day,
                              (SELECT coalesce(pg_catalog.array_agg(c.id), '{}') FROM @extschema@.partner c
                                WHERE c.tenant_id = v.tenant_id AND c.parent_id = program_results.partner_id)) b
             WHERE v.override_schedule IS NOT NULL AND program_results.partner_id IS NOT NULL
               AND has_children
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
               pg_catalog.array_agg(u ORDER BY pv.priority, u.program_id) AS members
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
                SELECT * INTO v FROM @extschema@.program_version pv WHERE pv.id = r.version_id;
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
DROP VIEW @extschema@.v_partner_progress;
DROP FUNCTION @extschema@.progress(bigint, date);
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
GRANT SELECT ON @extschema@.v_partner_progress TO rebate_admin, rebate_manager, rebate_partner;

-- ---- closing: whole months once ended (early => true before); the whole stacking group rechecked;
-- a reversal where a partner left the scope; what overlaps, said
DROP FUNCTION @extschema@.close_period(bigint, daterange);
CREATE FUNCTION @extschema@.close_period(tenant_id bigint, period daterange, early boolean DEFAULT false)
    RETURNS TABLE (currency text, statements integer, lines integer, total numeric, kept integer, rechecked integer)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    -- its queries run once over large data with pessimistic estimates: JIT compiling them costs more than it saves
    SET jit = off
AS $$
DECLARE
    t        @extschema@.tenant;
    blocking @extschema@.statement;
    results  @extschema@.program_result[] := '{}';
    kept_ids bigint[];
    -- every transaction below this has ended: all later snapshots see what it wrote
    horizon  bigint := pg_catalog.txid_snapshot_xmin(pg_catalog.txid_current_snapshot());
    changed  date;
BEGIN
    -- only READ COMMITTED sees, once the close's lock is granted, what a close of
    -- the tenant it waited for committed
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'rebate.close_period runs in READ COMMITTED transactions only'
            USING ERRCODE = 'invalid_transaction_state',
                  DETAIL = pg_catalog.format('This transaction is %s: it would settle on a snapshot taken before a concurrent close of the tenant committed, and pay again what that close settled.',
                                             pg_catalog.upper(pg_catalog.current_setting('transaction_isolation'))),
                  HINT = 'Close in a READ COMMITTED transaction (the default).';
    END IF;
    SELECT * INTO t FROM @extschema@.tenant x WHERE x.id = close_period.tenant_id;
    IF t.id IS NULL THEN
        RAISE EXCEPTION 'tenant % does not exist or is not visible to you', tenant_id USING ERRCODE = 'no_data_found';
    END IF;
    IF period IS NULL OR isempty(period) OR lower_inf(period) OR upper_inf(period) THEN
        RAISE EXCEPTION 'the period to close must have a first and a last day'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = pg_catalog.format('The period given is %s.', period),
                  HINT = 'Give a range such as ''[2026-10-01,2027-01-01)''.';
    END IF;
    -- statements settle whole months, the smallest program period
    IF lower(period) <> @extschema@.period_start('month', lower(period))
       OR upper(period) <> @extschema@.period_start('month', upper(period)) THEN
        RAISE EXCEPTION 'the period to close must start on the first day of a month and end on the last day of one'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = pg_catalog.format('The period given is %s.', period),
                  HINT = pg_catalog.format('Close whole months, e.g. ''[%s,%s)''.', @extschema@.period_start('month', lower(period)),
                                           (@extschema@.period_start('month', lower(period)) + '1 month'::interval)::date);
    END IF;
    -- a period is settled once it has ended: closing one still running pays it as final
    -- while documents may still come; that is a choice, not a default
    IF lower(period) > CURRENT_DATE OR (upper(period) > CURRENT_DATE AND NOT coalesce(early, false)) THEN
        RAISE EXCEPTION 'period % has not ended', period
            USING ERRCODE = 'RB062',
                  DETAIL = CASE WHEN lower(period) > CURRENT_DATE
                                THEN 'It starts after today.'
                                ELSE pg_catalog.format('Its last day is %s; today is %s.', upper(period) - 1, CURRENT_DATE) END,
                  HINT = CASE WHEN lower(period) > CURRENT_DATE THEN 'Close a period once it has ended.'
                              ELSE 'Close it once it has ended, or settle it early with early => true (documents that come later are settled as adjustments).' END;
    END IF;
    -- one close per tenant at a time: on the tenant's settings row, which only its
    -- managers and the admins may lock (an advisory lock's key anyone can take,
    -- to hold a tenant's close up or to watch for it)
    PERFORM 1 FROM @extschema@.enforcement_setting es WHERE es.tenant_id = t.id FOR NO KEY UPDATE;

    -- statements are settled in order: no draft of another period pending, nothing later closed
    SELECT * INTO blocking FROM @extschema@.statement s
     WHERE s.tenant_id = t.id
       AND ((s.status = 'draft' AND s.period <> close_period.period)
            OR (s.status <> 'draft' AND upper(s.period) > upper(close_period.period)))
     ORDER BY s.status = 'draft' DESC, upper(s.period) DESC LIMIT 1;
    IF blocking.id IS NOT NULL THEN
        RAISE EXCEPTION 'period % cannot be closed while period % has % statements', period, blocking.period,
                        CASE WHEN blocking.status = 'draft' THEN 'draft' ELSE 'issued' END
            USING ERRCODE = 'RB062',
                  DETAIL = CASE WHEN blocking.status = 'draft'
                                THEN 'What a statement settles depends on what the statements before it settled.'
                                WHEN blocking.period && period
                                THEN pg_catalog.format('Period %s overlaps it and ends after it; its statements are issued.', blocking.period)
                                ELSE pg_catalog.format('Period %s, which comes after it, is already settled.', blocking.period) END,
                  HINT = CASE WHEN blocking.status = 'draft'
                              THEN pg_catalog.format('Issue the statements of %s (rebate.issue_statements), or close %s again.',
                                                     blocking.period, blocking.period)
                              ELSE 'Changes to earlier periods are settled as adjustments when the next period is closed.' END;
    END IF;

    -- closing again recomputes drafts; issued statements stay as they are
    DELETE FROM @extschema@.statement s
     WHERE s.tenant_id = t.id AND s.period = close_period.period AND s.status = 'draft';
    SELECT coalesce(pg_catalog.array_agg(s.partner_id), '{}') INTO kept_ids FROM @extschema@.statement s
     WHERE s.tenant_id = t.id AND s.period = close_period.period;

    -- scratch tables of this close, made afresh and dropped at its end.  Tables of
    -- those names this role did not make are never used: in a session shared by
    -- several users, another user's table (with a trigger on it) would run that
    -- user's code with this manager's rights.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                WHERE c.relnamespace = pg_catalog.pg_my_temp_schema()
                  AND c.relname IN ('rebate_closing_job', 'rebate_closing_line')
                  AND c.relowner <> (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)) THEN
        RAISE EXCEPTION 'temporary tables named rebate_closing_job or rebate_closing_line belong to another role'
            USING ERRCODE = 'duplicate_table',
                  DETAIL = 'rebate.close_period works in tables of those names that it makes itself.',
                  HINT = 'Close in a session that no other user shares (connection pools reset sessions between users with DISCARD ALL).';
    END IF;
    IF pg_catalog.to_regclass('pg_temp.rebate_closing_job') IS NOT NULL THEN
        DROP TABLE rebate_closing_job;          -- left by a close of this role that failed in a subtransaction
    END IF;
    IF pg_catalog.to_regclass('pg_temp.rebate_closing_line') IS NOT NULL THEN
        DROP TABLE rebate_closing_line;
    END IF;
    CREATE TEMP TABLE rebate_closing_job (version_id bigint, program_period daterange, as_of date, job text)
        ON COMMIT DROP;
    CREATE TEMP TABLE rebate_closing_line ON COMMIT DROP AS
        SELECT * FROM @extschema@.statement_line WITH NO DATA;
    INSERT INTO rebate_closing_job SELECT * FROM @extschema@.closing_jobs(t.id, period);
    -- program periods settled before and not settled again here are recomputed for adjustments
    -- where documents changed since the last close can count in them
    changed := @extschema@.changed_since(t.id, (SELECT s.closed_xmin FROM @extschema@.statement s
                                                 WHERE s.tenant_id = t.id AND s.status <> 'draft'
                                                 ORDER BY s.closed_at DESC LIMIT 1));
    -- Each once, under the version that governs it now (a version activated from a settled date
    -- settles those periods anew; a retired one keeps what it settled): the periods statement
    -- lines settled, and the periods of the settled span no line settled (nobody earned anything
    -- then; a change of scope can bring a partner in).  The span runs from the first period whose
    -- statements were issued to the last: the program periods ending inside it are those the
    -- closes of issued periods settled finally.
    INSERT INTO rebate_closing_job
    SELECT DISTINCT ON (c.program_id, c.program_period)
           c.version_id, c.program_period, least(upper(c.program_period), upper(close_period.period)) - 1, 'adjustment'
      FROM (SELECT so.program_id, so.program_period, coalesce(gv.id, so.version_id) AS version_id
              FROM @extschema@.settled_so_far(t.id) so
              LEFT JOIN @extschema@.program_version gv
                     ON gv.program_id = so.program_id AND gv.status = 'active' AND gv.effective @> lower(so.program_period)
            UNION
            SELECT pv.program_id, pp.p, pv.id
              FROM (SELECT min(lower(s.period)) AS first_day, max(upper(s.period)) AS end_day
                      FROM @extschema@.statement s WHERE s.tenant_id = t.id AND s.status <> 'draft') span
              JOIN @extschema@.program_version pv ON pv.tenant_id = t.id AND pv.status = 'active'
             CROSS JOIN LATERAL pg_catalog.generate_series(greatest(lower(pv.effective), span.first_day),
                                                           least(coalesce(upper(pv.effective), span.end_day), span.end_day) - 1,
                                                           '1 month'::interval) AS d
             CROSS JOIN LATERAL (SELECT @extschema@.program_period(pv, d::date) AS p) pp
             WHERE changed IS NOT NULL
               AND upper(pp.p) > span.first_day AND upper(pp.p) <= span.end_day AND pv.effective @> lower(pp.p)) c
      JOIN @extschema@.program_version v ON v.id = c.version_id
     WHERE upper(c.program_period) + v.grace_days > changed
       AND NOT EXISTS (SELECT 1 FROM rebate_closing_job j JOIN @extschema@.program_version x ON x.id = j.version_id
                        WHERE x.program_id = c.program_id AND j.program_period = c.program_period)
     ORDER BY c.program_id, c.program_period, c.version_id;
    -- a program is stacked with the whole of its group: a recheck of one member rechecks all
    -- (a member that did not change gives the amount already settled, so no line)
    INSERT INTO rebate_closing_job
    SELECT DISTINCT sibling.id, j.program_period, j.as_of, 'adjustment'
      FROM rebate_closing_job j
      JOIN @extschema@.program_version pv ON pv.id = j.version_id
      JOIN @extschema@.program_version sibling
        ON sibling.tenant_id = pv.tenant_id AND sibling.group_id = pv.group_id AND sibling.status = 'active'
       AND sibling.effective @> lower(j.program_period)
     WHERE j.job = 'adjustment'
       AND NOT EXISTS (SELECT 1 FROM rebate_closing_job k JOIN @extschema@.program_version x ON x.id = k.version_id
                        WHERE x.program_id = sibling.program_id AND k.program_period = j.program_period);

    -- one statement: every result from one snapshot
    results := ARRAY(SELECT r FROM rebate_closing_job j
                       JOIN @extschema@.program_version pv ON pv.id = j.version_id
                      CROSS JOIN LATERAL @extschema@.program_results(pv, j.program_period, j.as_of) r
                      WHERE r.partner_id <> ALL (kept_ids));

    INSERT INTO rebate_closing_line (partner_id, line_no, line_kind, program_id, version_id, version, component,
                                     program_period, counted_until, metric, kind, basis, comparison, tier, rate,
                                     documents, earned, cap_applied, rebate, stacking, paid, gross, already_settled,
                                     net, settlement, status, explanation, tenant_id, statement_id, guarantee, carry_forward)
    SELECT r.partner_id, 0,
           CASE WHEN j.job = 'final' AND coalesce(so.has_final, false) THEN 'adjustment' ELSE j.job END,
           r.program_id, r.version_id, r.version, r.component, r.period, r.counted_until, r.metric, r.kind,
           r.basis, r.comparison, r.tier, r.rate, r.documents, r.earned, r.cap_applied, r.rebate, r.stacking, r.paid,
           g.gross, coalesce(so.settled, g.zero), g.gross - coalesce(so.settled, 0), pv.settlement, r.status,
           r.explanation, t.id, 0, r.guarantee, r.carry_forward
      FROM @extschema@.apply_stacking(results) r
      JOIN rebate_closing_job j ON j.version_id = r.version_id AND j.program_period = r.period
      JOIN @extschema@.program_version pv ON pv.id = r.version_id
      LEFT JOIN @extschema@.settled_so_far(t.id) so
             ON so.partner_id = r.partner_id AND so.program_id = r.program_id AND so.component = r.component
            AND so.program_period = r.period
     CROSS JOIN LATERAL (SELECT @extschema@.round_money(r.paid, pv.currency, t.rounding) AS gross,
                               @extschema@.round_money(0, pv.currency) AS zero) g
     WHERE j.job IN ('final', 'interim') AND NOT coalesce(so.has_final, false)
        OR g.gross <> coalesce(so.settled, 0);
    -- a partner paid for a program period it is no longer in the scope of (the partners or grades
    -- the version names), or a parent's override for sub-partners it no longer has, has what it was
    -- paid taken back (a partner that only became inactive keeps what it was paid)
    INSERT INTO rebate_closing_line (partner_id, line_no, line_kind, program_id, version_id, version, component,
                                     program_period, counted_until, metric, kind, documents, earned, cap_applied,
                                     rebate, paid, gross, already_settled, net, settlement, status, explanation,
                                     tenant_id, statement_id)
    SELECT so.partner_id, 0, CASE WHEN j.job = 'adjustment' OR so.has_final THEN 'adjustment' ELSE j.job END,
           so.program_id, pv.id, pv.version, so.component, so.program_period, j.as_of, pv.metric, pv.kind, 0, 0,
           false, 0, 0, g.zero, so.settled, g.zero - so.settled, pv.settlement, 'out_of_scope',
           'no longer in the program''s scope for this period (the partners or grades it names, or the sub-partners of an override, changed): what was paid is taken back',
           t.id, 0
      FROM rebate_closing_job j
      JOIN @extschema@.program_version pv ON pv.id = j.version_id
      JOIN @extschema@.settled_so_far(t.id) so ON so.program_id = pv.program_id AND so.program_period = j.program_period
     CROSS JOIN LATERAL (SELECT @extschema@.round_money(0, pv.currency) AS zero) g
     WHERE so.settled <> 0 AND so.partner_id <> ALL (kept_ids)
       AND (so.component = 'override'
            OR NOT EXISTS (SELECT 1 FROM @extschema@.partner pa
                            WHERE pa.id = so.partner_id
                              AND (pv.partner_ids = '{}' OR pa.id = ANY (pv.partner_ids))
                              AND (pv.grade_ids = '{}' OR pa.grade_id = ANY (pv.grade_ids))))
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(results) AS r
                        WHERE r.partner_id = so.partner_id AND r.program_id = so.program_id
                          AND r.component = so.component AND r.period = so.program_period);
    -- amounts agreed on resolving disputes, not yet on a statement
    INSERT INTO rebate_closing_line (partner_id, line_no, line_kind, program_period, gross, already_settled, net,
                                     status, explanation, adjustment_id, tenant_id, statement_id, settlement)
    SELECT a.partner_id, 0, 'manual', ds.period, a.amount, @extschema@.round_money(0, a.currency), a.amount, 'ok',
           pg_catalog.format('agreed on resolving the dispute of statement %s (%s): %s', ds.id, ds.period, a.note),
           a.id, t.id, 0, NULL
      FROM @extschema@.statement_adjustment a
      JOIN @extschema@.statement ds ON ds.id = a.statement_id
     WHERE a.tenant_id = t.id AND a.partner_id <> ALL (kept_ids)
       AND NOT EXISTS (SELECT 1 FROM @extschema@.statement_line l WHERE l.adjustment_id = a.id);

    INSERT INTO @extschema@.statement (tenant_id, partner_id, period, currency, total, line_count, closed_xmin)
    SELECT t.id, c.partner_id, period, coalesce(pv.currency, a.currency), sum(c.net), count(*), horizon
      FROM rebate_closing_line c
      LEFT JOIN @extschema@.program_version pv ON pv.id = c.version_id
      LEFT JOIN @extschema@.statement_adjustment a ON a.id = c.adjustment_id
     GROUP BY c.partner_id, coalesce(pv.currency, a.currency);

    INSERT INTO @extschema@.statement_line
          (tenant_id, statement_id, partner_id, line_no, line_kind, program_id, version_id, version, component,
           program_period, counted_until, metric, kind, basis, comparison, tier, rate, documents, earned, cap_applied,
           rebate, stacking, paid, gross, already_settled, net, settlement, status, explanation, adjustment_id,
           guarantee, carry_forward)
    SELECT t.id, s.id, c.partner_id,
           pg_catalog.row_number() OVER (PARTITION BY s.id
                                         ORDER BY CASE c.line_kind WHEN 'final' THEN 1 WHEN 'interim' THEN 2
                                                                   WHEN 'adjustment' THEN 3 ELSE 4 END,
                                                  p.code, c.component DESC, c.program_period, c.adjustment_id),
           c.line_kind, c.program_id, c.version_id, c.version, c.component, c.program_period, c.counted_until,
           c.metric, c.kind, c.basis, c.comparison, c.tier, c.rate, c.documents, c.earned, c.cap_applied, c.rebate,
           c.stacking, c.paid, c.gross, c.already_settled, c.net, c.settlement, c.status, c.explanation,
           c.adjustment_id, c.guarantee, c.carry_forward
      FROM rebate_closing_line c
      LEFT JOIN @extschema@.program p ON p.id = c.program_id
      LEFT JOIN @extschema@.program_version pv ON pv.id = c.version_id
      LEFT JOIN @extschema@.statement_adjustment a ON a.id = c.adjustment_id
      JOIN @extschema@.statement s ON s.tenant_id = t.id AND s.partner_id = c.partner_id AND s.period = close_period.period
                                  AND s.currency = coalesce(pv.currency, a.currency) AND s.status = 'draft';

    RETURN QUERY
    SELECT s.currency, (count(*) FILTER (WHERE s.status = 'draft'))::integer,
           (sum(s.line_count) FILTER (WHERE s.status = 'draft'))::integer,
           sum(s.total) FILTER (WHERE s.status = 'draft'),
           (count(*) FILTER (WHERE s.status <> 'draft'))::integer,
           (SELECT count(*) FROM rebate_closing_job j WHERE j.job = 'adjustment')::integer
      FROM @extschema@.statement s
     WHERE s.tenant_id = t.id AND s.period = close_period.period
     GROUP BY s.currency ORDER BY s.currency;
    DROP TABLE rebate_closing_job, rebate_closing_line;
END
$$;
COMMENT ON FUNCTION @extschema@.close_period(bigint, daterange, boolean) IS
    'Settles a period of whole months once it has ended (early => true: before): draft statements per partner with a line per program period (final, interim, adjustment, manual), rounded once per line; closing again recomputes drafts and leaves issued statements alone. Returns per currency the drafts written, their lines and total, the statements kept (issued before) and how many settled program periods were rechecked for adjustments';
REVOKE ALL ON FUNCTION @extschema@.close_period(bigint, daterange, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.close_period(bigint, daterange, boolean) TO rebate_admin, rebate_manager;

-- ---- the cross-check: all of the above, formulated anew
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
DROP FUNCTION @extschema@.verify_schedule(numeric, @extschema@.tier_schedule, numeric, text);
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
DROP FUNCTION @extschema@.verify_basis(@extschema@.program_version, date, date);
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
         GROUP BY c.partner_id
    )
    SELECT pa.id, pa.parent_id, coalesce(f.basis, 0), f.unit_amount,
           CASE WHEN v.payout_metric IS NOT NULL THEN coalesce(f.payout, 0) END
      FROM partners pa LEFT JOIN found f ON f.partner_id = pa.id
     WHERE pa.state = 'active' OR f.partner_id IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.verify_basis(@extschema@.program_version, date, date) IS
    'rebate.verify_period''s own basis query: each partner''s basis under a version over document days [from_day, to_day)';
DROP FUNCTION @extschema@.verify_earned(@extschema@.program_version, daterange, date);
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
    SELECT c.statement_id, c.partner_id, c.line_no, c.line_kind, c.program_id, c.component, c.program_period,
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
                          AND l.line_kind IN ('final', 'adjustment')))
     ORDER BY 2, 5, 6, 7
$$;
COMMENT ON FUNCTION @extschema@.verify_period(bigint, daterange) IS
    'Cross-check (交叉验证): recomputes the statement lines of a tenant''s period by an independent plain-SQL formulation and returns every line that differs (none when all agree)';
