-- ---------------------------------------------------------------------------
-- Inventory: stock age 库龄 under FIFO, the aggregate
-- rebate.stock_age(moved_on, quantity, as_of) over one item's stock ledger
-- (src/stock_age.c says exactly what it computes).  Its state is a real type
-- with lossless text and binary I/O (not internal), so PostgreSQL's parallel
-- aggregation and Citus's partial aggregation can both split it.
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.stock_age_state;

CREATE FUNCTION @extschema@.stock_age_state_in(pg_catalog.cstring) RETURNS @extschema@.stock_age_state
    AS 'MODULE_PATHNAME', 'stock_age_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.stock_age_state_out(@extschema@.stock_age_state) RETURNS pg_catalog.cstring
    AS 'MODULE_PATHNAME', 'stock_age_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.stock_age_state_recv(pg_catalog.internal) RETURNS @extschema@.stock_age_state
    AS 'MODULE_PATHNAME', 'stock_age_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.stock_age_state_send(@extschema@.stock_age_state) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'stock_age_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- plain storage and double alignment: the state holds int128s and is updated in place
CREATE TYPE @extschema@.stock_age_state (
    INPUT = @extschema@.stock_age_state_in,
    OUTPUT = @extschema@.stock_age_state_out,
    RECEIVE = @extschema@.stock_age_state_recv,
    SEND = @extschema@.stock_age_state_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.stock_age_state IS
    'Partial state of stock_age: as_of, the departures, and the arrivals per day; text form (as_of,departures,{day:quantity,...}), e.g. (2024-06-30,12.5,{2024-01-03:10,2024-02-01:5.25})';
COMMENT ON FUNCTION @extschema@.stock_age_state_in(pg_catalog.cstring) IS
    'Reads a stock_age_state from its text form (as_of,departures,{day:quantity,...}), days ascending';
COMMENT ON FUNCTION @extschema@.stock_age_state_out(@extschema@.stock_age_state) IS
    'Writes a stock_age_state in its canonical text form';
COMMENT ON FUNCTION @extschema@.stock_age_state_recv(pg_catalog.internal) IS
    'Reads a stock_age_state''s binary form (format version 1), validated like text input';
COMMENT ON FUNCTION @extschema@.stock_age_state_send(@extschema@.stock_age_state) IS
    'Writes a stock_age_state''s binary form (format version 1)';

CREATE TYPE @extschema@.stock_age AS (
    on_hand        numeric,
    average_age    numeric,
    oldest_arrival date,
    age_0_30       numeric,
    age_31_60      numeric,
    age_61_90      numeric,
    age_91_180     numeric,
    age_181_365    numeric,
    age_over_365   numeric
);
COMMENT ON TYPE @extschema@.stock_age IS
    'Stock age 库龄 of one item at a day under FIFO (rebate.stock_age): quantity on hand, its average age, its oldest arrival, and the quantity by age';
COMMENT ON COLUMN @extschema@.stock_age.on_hand IS 'Quantity on hand 库存: the sum of the movements up to as_of, exactly';
COMMENT ON COLUMN @extschema@.stock_age.average_age IS 'Average age 平均库龄 in days of the units on hand, weighted by quantity, rounded half up to 2 decimals; NULL when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.oldest_arrival IS 'Arrival day of the oldest unit still on hand (FIFO); NULL when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.age_0_30 IS 'On-hand quantity 0 to 30 days old; 0 when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.age_31_60 IS 'On-hand quantity 31 to 60 days old; 0 when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.age_61_90 IS 'On-hand quantity 61 to 90 days old; 0 when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.age_91_180 IS 'On-hand quantity 91 to 180 days old; 0 when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.age_181_365 IS 'On-hand quantity 181 to 365 days old; 0 when on_hand <= 0';
COMMENT ON COLUMN @extschema@.stock_age.age_over_365 IS 'On-hand quantity more than 365 days old (呆滞); 0 when on_hand <= 0';

CREATE FUNCTION @extschema@.stock_age_trans(@extschema@.stock_age_state, date, numeric, date)
    RETURNS @extschema@.stock_age_state
    AS 'MODULE_PATHNAME', 'stock_age_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.stock_age_combine(@extschema@.stock_age_state, @extschema@.stock_age_state)
    RETURNS @extschema@.stock_age_state
    AS 'MODULE_PATHNAME', 'stock_age_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.stock_age_final(@extschema@.stock_age_state) RETURNS @extschema@.stock_age
    AS 'MODULE_PATHNAME', 'stock_age_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.stock_age_trans(@extschema@.stock_age_state, date, numeric, date) IS
    'Transition function of rebate.stock_age';
COMMENT ON FUNCTION @extschema@.stock_age_combine(@extschema@.stock_age_state, @extschema@.stock_age_state) IS
    'Combines two partial rebate.stock_age states (parallel and distributed aggregation)';
COMMENT ON FUNCTION @extschema@.stock_age_final(@extschema@.stock_age_state) IS
    'Final function of rebate.stock_age: the rebate.stock_age row of a state';

CREATE AGGREGATE @extschema@.stock_age(moved_on date, quantity numeric, as_of date) (
    SFUNC = @extschema@.stock_age_trans,
    STYPE = @extschema@.stock_age_state,
    COMBINEFUNC = @extschema@.stock_age_combine,
    FINALFUNC = @extschema@.stock_age_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.stock_age(date, numeric, date) IS
    'Stock age 库龄 under FIFO of one item''s stock ledger (movements: + arrivals, - departures) as of a day; rows after as_of ignored, null rows skipped, NULL for no rows, an error if as_of differs within the group';
