-- ---------------------------------------------------------------------------
-- The type rebate.tier_schedule: a rebate scale.
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.tier_schedule;

CREATE FUNCTION @extschema@.tier_schedule_in(pg_catalog.cstring) RETURNS @extschema@.tier_schedule
    AS 'MODULE_PATHNAME', 'tier_schedule_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_out(@extschema@.tier_schedule) RETURNS pg_catalog.cstring
    AS 'MODULE_PATHNAME', 'tier_schedule_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_recv(pg_catalog.internal) RETURNS @extschema@.tier_schedule
    AS 'MODULE_PATHNAME', 'tier_schedule_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_send(@extschema@.tier_schedule) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'tier_schedule_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.tier_schedule (
    INPUT = @extschema@.tier_schedule_in,
    OUTPUT = @extschema@.tier_schedule_out,
    RECEIVE = @extschema@.tier_schedule_recv,
    SEND = @extschema@.tier_schedule_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE @extschema@.tier_schedule IS
    'A rebate scale: retroactive or incremental tiers of percentages, amounts per unit or lump sums, with an optional cap';

-- Equality, hashing and a btree order.  The canonical form makes equal
-- schedules byte-identical, so these compare bytes; the order is arbitrary
-- but stable, and exists so schedules can be sorted, grouped, indexed and made unique.
CREATE FUNCTION @extschema@.tier_schedule_eq(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_schedule_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_ne(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_schedule_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_lt(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_schedule_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_le(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_schedule_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_gt(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_schedule_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_ge(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_schedule_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_cmp(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS integer
    AS 'MODULE_PATHNAME', 'tier_schedule_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_hash(@extschema@.tier_schedule) RETURNS integer
    AS 'MODULE_PATHNAME', 'tier_schedule_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_hash_extended(@extschema@.tier_schedule, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tier_schedule_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR @extschema@.= (
    LEFTARG = @extschema@.tier_schedule, RIGHTARG = @extschema@.tier_schedule,
    PROCEDURE = @extschema@.tier_schedule_eq, COMMUTATOR = OPERATOR(@extschema@.=),
    NEGATOR = OPERATOR(@extschema@.<>), RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel,
    HASHES, MERGES);
CREATE OPERATOR @extschema@.<> (
    LEFTARG = @extschema@.tier_schedule, RIGHTARG = @extschema@.tier_schedule,
    PROCEDURE = @extschema@.tier_schedule_ne, COMMUTATOR = OPERATOR(@extschema@.<>),
    NEGATOR = OPERATOR(@extschema@.=), RESTRICT = pg_catalog.neqsel, JOIN = pg_catalog.neqjoinsel);
CREATE OPERATOR @extschema@.< (
    LEFTARG = @extschema@.tier_schedule, RIGHTARG = @extschema@.tier_schedule,
    PROCEDURE = @extschema@.tier_schedule_lt, COMMUTATOR = OPERATOR(@extschema@.>),
    NEGATOR = OPERATOR(@extschema@.>=), RESTRICT = pg_catalog.scalarltsel, JOIN = pg_catalog.scalarltjoinsel);
CREATE OPERATOR @extschema@.<= (
    LEFTARG = @extschema@.tier_schedule, RIGHTARG = @extschema@.tier_schedule,
    PROCEDURE = @extschema@.tier_schedule_le, COMMUTATOR = OPERATOR(@extschema@.>=),
    NEGATOR = OPERATOR(@extschema@.>), RESTRICT = pg_catalog.scalarlesel, JOIN = pg_catalog.scalarlejoinsel);
CREATE OPERATOR @extschema@.> (
    LEFTARG = @extschema@.tier_schedule, RIGHTARG = @extschema@.tier_schedule,
    PROCEDURE = @extschema@.tier_schedule_gt, COMMUTATOR = OPERATOR(@extschema@.<),
    NEGATOR = OPERATOR(@extschema@.<=), RESTRICT = pg_catalog.scalargtsel, JOIN = pg_catalog.scalargtjoinsel);
CREATE OPERATOR @extschema@.>= (
    LEFTARG = @extschema@.tier_schedule, RIGHTARG = @extschema@.tier_schedule,
    PROCEDURE = @extschema@.tier_schedule_ge, COMMUTATOR = OPERATOR(@extschema@.<=),
    NEGATOR = OPERATOR(@extschema@.<), RESTRICT = pg_catalog.scalargesel, JOIN = pg_catalog.scalargejoinsel);

CREATE OPERATOR CLASS @extschema@.tier_schedule_ops
    DEFAULT FOR TYPE @extschema@.tier_schedule USING btree AS
        OPERATOR 1 @extschema@.<,
        OPERATOR 2 @extschema@.<=,
        OPERATOR 3 @extschema@.=,
        OPERATOR 4 @extschema@.>=,
        OPERATOR 5 @extschema@.>,
        FUNCTION 1 @extschema@.tier_schedule_cmp(@extschema@.tier_schedule, @extschema@.tier_schedule);
CREATE OPERATOR CLASS @extschema@.tier_schedule_hash_ops
    DEFAULT FOR TYPE @extschema@.tier_schedule USING hash AS
        OPERATOR 1 @extschema@.=,
        FUNCTION 1 @extschema@.tier_schedule_hash(@extschema@.tier_schedule),
        FUNCTION 2 @extschema@.tier_schedule_hash_extended(@extschema@.tier_schedule, bigint);

-- Constructor and accessors, for applications that hold schedules as data.
CREATE FUNCTION @extschema@.tier_schedule(mode text, thresholds numeric[], "values" numeric[],
                                          kind text DEFAULT 'percent', cap numeric DEFAULT NULL)
    RETURNS @extschema@.tier_schedule
    AS 'MODULE_PATHNAME', 'tier_schedule_make' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_schedule(text, numeric[], numeric[], text, numeric) IS
    'Builds a schedule from parallel arrays; kind is percent (values are percentages), per_unit or lump_sum';
CREATE FUNCTION @extschema@.tier_schedule(mode text, thresholds numeric[], "values" numeric[], kinds text[],
                                          cap numeric DEFAULT NULL)
    RETURNS @extschema@.tier_schedule
    AS 'MODULE_PATHNAME', 'tier_schedule_make_mixed' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_schedule(text, numeric[], numeric[], text[], numeric) IS
    'Builds a schedule from parallel arrays with each tier''s kind (percent, per_unit, lump_sum): lump sums may mix with rates of one kind';

CREATE FUNCTION @extschema@.schedule_mode(@extschema@.tier_schedule) RETURNS text
    AS 'MODULE_PATHNAME', 'tier_schedule_mode' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.schedule_mode(@extschema@.tier_schedule) IS 'retroactive or incremental';
CREATE FUNCTION @extschema@.schedule_kind(@extschema@.tier_schedule) RETURNS text
    AS 'MODULE_PATHNAME', 'tier_schedule_kind' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.schedule_kind(@extschema@.tier_schedule) IS 'percent, per_unit or lump_sum; mixed for lump sums beside rates (rebate.schedule_tier_kinds says which tier is which)';
CREATE FUNCTION @extschema@.schedule_tier_kinds(@extschema@.tier_schedule) RETURNS text[]
    AS 'MODULE_PATHNAME', 'tier_schedule_tier_kinds' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.schedule_tier_kinds(@extschema@.tier_schedule) IS 'Each tier''s kind of value: percent, per_unit or lump_sum';
CREATE FUNCTION @extschema@.schedule_cap(@extschema@.tier_schedule) RETURNS numeric
    AS 'MODULE_PATHNAME', 'tier_schedule_cap' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.schedule_cap(@extschema@.tier_schedule) IS 'The cap on the rebate, or NULL for none';
CREATE FUNCTION @extschema@.schedule_thresholds(@extschema@.tier_schedule) RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'tier_schedule_thresholds' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.schedule_thresholds(@extschema@.tier_schedule) IS 'The tier thresholds, ascending';
CREATE FUNCTION @extschema@.schedule_values(@extschema@.tier_schedule) RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'tier_schedule_values' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.schedule_values(@extschema@.tier_schedule) IS
    'The tier values as written: percentages for percent, amounts for per_unit and lump_sum';

CREATE FUNCTION @extschema@.tiers(schedule @extschema@.tier_schedule,
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

-- JSON, for applications: {"mode", "kind", "cap", "tiers": [{"threshold", "value"}]}; a mixed
-- scale (kind "mixed") names each tier's kind too: {"threshold", "value", "kind"}.
CREATE FUNCTION @extschema@.schedule_to_jsonb(@extschema@.tier_schedule) RETURNS jsonb
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

CREATE FUNCTION @extschema@.schedule_from_jsonb(jsonb) RETURNS @extschema@.tier_schedule
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

CREATE CAST (@extschema@.tier_schedule AS jsonb) WITH FUNCTION @extschema@.schedule_to_jsonb(@extschema@.tier_schedule);
CREATE CAST (jsonb AS @extschema@.tier_schedule) WITH FUNCTION @extschema@.schedule_from_jsonb(jsonb);
