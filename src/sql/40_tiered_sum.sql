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
