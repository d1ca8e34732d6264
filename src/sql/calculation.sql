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

CREATE FUNCTION @extschema@.overachievement_rebate(actual numeric, target numeric,
                                                   schedule @extschema@.tier_schedule,
                                                   apply_to text DEFAULT 'total') RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_overachievement_rebate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.overachievement_rebate(numeric, numeric, @extschema@.tier_schedule, text) IS
    'Rebate against a target: thresholds are achievement ratios (1.0 = 100%); apply_to total pays on the whole actual amount, excess only on what lies above the target';

-- ---------------------------------------------------------------------------
-- Money: the one explicit rounding step.
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.round_money(amount numeric, currency text DEFAULT 'CNY',
                                        mode text DEFAULT 'half_up') RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_round_money' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.round_money(numeric, text, text) IS
    'Rounds an amount to the currency''s minor unit (ISO 4217); mode half_up (away from zero), half_even, down (toward zero) or up (away from zero)';

CREATE FUNCTION @extschema@.currency_minor_unit(currency text) RETURNS integer
    AS 'MODULE_PATHNAME', 'rebate_currency_minor_unit' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.currency_minor_unit(text) IS
    'Decimal places of the currency''s minor unit: 2 for CNY, 0 for JPY, 3 for KWD';

-- ---------------------------------------------------------------------------
-- The aggregate rebate.tiered_sum(basis, schedule) = tiered_rebate(sum(basis), schedule).
-- Its state is a real type with lossless text and binary I/O (not internal),
-- so PostgreSQL's parallel aggregation and Citus's partial aggregation can
-- both split it.
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.tiered_sum_state;

CREATE FUNCTION @extschema@.tiered_sum_state_in(pg_catalog.cstring) RETURNS @extschema@.tiered_sum_state
    AS 'MODULE_PATHNAME', 'tiered_sum_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tiered_sum_state_out(@extschema@.tiered_sum_state) RETURNS pg_catalog.cstring
    AS 'MODULE_PATHNAME', 'tiered_sum_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tiered_sum_state_recv(pg_catalog.internal) RETURNS @extschema@.tiered_sum_state
    AS 'MODULE_PATHNAME', 'tiered_sum_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tiered_sum_state_send(@extschema@.tiered_sum_state) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'tiered_sum_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- plain storage and double alignment: the state holds an int128 and is read in place
CREATE TYPE @extschema@.tiered_sum_state (
    INPUT = @extschema@.tiered_sum_state_in,
    OUTPUT = @extschema@.tiered_sum_state_out,
    RECEIVE = @extschema@.tiered_sum_state_recv,
    SEND = @extschema@.tiered_sum_state_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.tiered_sum_state IS
    'Partial state of tiered_sum: the exact sum so far and the schedule; text form (sum,"schedule")';

CREATE FUNCTION @extschema@.tiered_sum_state_sum(@extschema@.tiered_sum_state) RETURNS numeric
    AS 'MODULE_PATHNAME', 'tiered_sum_state_sum' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tiered_sum_state_sum(@extschema@.tiered_sum_state) IS
    'The exact basis a tiered_sum state has accumulated';

CREATE FUNCTION @extschema@.tiered_sum_trans(@extschema@.tiered_sum_state, numeric, @extschema@.tier_schedule)
    RETURNS @extschema@.tiered_sum_state
    AS 'MODULE_PATHNAME', 'tiered_sum_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tiered_sum_combine(@extschema@.tiered_sum_state, @extschema@.tiered_sum_state)
    RETURNS @extschema@.tiered_sum_state
    AS 'MODULE_PATHNAME', 'tiered_sum_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tiered_sum_final(@extschema@.tiered_sum_state) RETURNS numeric
    AS 'MODULE_PATHNAME', 'tiered_sum_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE @extschema@.tiered_sum(basis numeric, schedule @extschema@.tier_schedule) (
    SFUNC = @extschema@.tiered_sum_trans,
    STYPE = @extschema@.tiered_sum_state,
    COMBINEFUNC = @extschema@.tiered_sum_combine,
    FINALFUNC = @extschema@.tiered_sum_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.tiered_sum(numeric, @extschema@.tier_schedule) IS
    'tiered_rebate(sum(basis), schedule) over the group; null rows skipped, NULL for no rows, an error if the schedule differs within the group';

-- ---------------------------------------------------------------------------
-- Building blocks of the data model: ICU name normalization and the
-- state-machine trigger (both C).
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.normalize_name(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_normalize_name' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.normalize_name(text) IS
    'The key under which two spellings of a company name are the same: ICU NFKC with case folding (full-width to ASCII, case folded), CJK brackets/quotes/commas folded to ASCII, all white space removed';

CREATE FUNCTION @extschema@.enforce_transition() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rebate_enforce_transition' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.enforce_transition() IS
    'BEFORE ROW trigger: arguments are a state column and its allowed transitions "from>to" (">to" for initial states); anything else is refused with SQLSTATE RB001';

-- ---------------------------------------------------------------------------
-- Amounts in words, for statements and payment documents: Chinese financial
-- capitals (大写金额) and English (C, ICU rule-based number format).
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.amount_in_words(amount numeric, locale text DEFAULT 'zh_CN',
                                            currency text DEFAULT 'CNY') RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_amount_in_words' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.amount_in_words(numeric, text, text) IS
    'The amount in words, rounded half away from zero to two decimals: locale zh_CN/zh gives 大写金额 for CNY (人民币壹万贰仟叁佰肆拾伍元陆角柒分), en_US/en and en_GB give English for CNY, EUR, GBP, HKD, USD; amounts up to 9999999999999999.99';
