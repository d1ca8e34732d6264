-- ---------------------------------------------------------------------------
-- Rebate calculation.  Exact numeric throughout; results are never rounded
-- (trailing fractional zeros are dropped) — rounding is round_money's job.
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.tiered_rebate(basis numeric, schedule @extschema@.tier_schedule) RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_tiered_rebate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tiered_rebate(numeric, @extschema@.tier_schedule) IS
    'The rebate a basis (amount, quantity, ratio) earns under a schedule, exact and capped, not rounded';

CREATE FUNCTION @extschema@.tier_index(basis numeric, schedule @extschema@.tier_schedule) RETURNS integer
    AS 'MODULE_PATHNAME', 'rebate_tier_index' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_index(numeric, @extschema@.tier_schedule) IS
    'The tier a basis reaches: 0 below the first threshold, 1..n otherwise (a basis on a threshold is in the higher tier)';

CREATE FUNCTION @extschema@.next_tier_gap(basis numeric, schedule @extschema@.tier_schedule) RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_next_tier_gap' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.next_tier_gap(numeric, @extschema@.tier_schedule) IS
    'How much more basis reaches the next tier; NULL in the top tier';

CREATE FUNCTION @extschema@.effective_rate(basis numeric, schedule @extschema@.tier_schedule) RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_effective_rate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.effective_rate(numeric, @extschema@.tier_schedule) IS
    'rebate / basis, rounded half up to 12 decimal places; NULL for a zero basis';

CREATE FUNCTION @extschema@.overachievement_rebate(actual numeric, target numeric,
                                                   schedule @extschema@.tier_schedule,
                                                   apply_to text DEFAULT 'total') RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_overachievement_rebate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.overachievement_rebate(numeric, numeric, @extschema@.tier_schedule, text) IS
    'Rebate against a target: thresholds are achievement ratios (1.0 = 100%); apply_to total pays on the whole actual amount, excess only on what lies above the target';
