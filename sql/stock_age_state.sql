-- The stock_age aggregate and its state type: lossless text and binary I/O
-- (what Citus ships between nodes), combine, FIFO on small ledgers, and the
-- errors with their SQLSTATEs.
SET search_path = public, rebate;

-- text I/O: the canonical form reads back unchanged
SELECT '(2024-06-30,12.5,{2024-01-03:10,2024-02-01:5.25})'::rebate.stock_age_state;
SELECT '(2024-06-30,0,{})'::rebate.stock_age_state;
-- trailing zeros dropped; BC days; the largest quantity (int128 units of 10^-4)
SELECT '(2024-06-30,0.0100,{0044-03-15 BC:1.5000,2024-06-30:17014118346046923173168730371588410.5727})'::rebate.stock_age_state;
SELECT rebate.stock_age_final('(2024-06-30,12.5,{2024-01-03:10,2024-02-01:5.25})');

-- the aggregate's partial state (no final function) and the merge of partial states (combine)
CREATE AGGREGATE public.stock_age_partial(date, numeric, date) (
    SFUNC = rebate.stock_age_trans, STYPE = rebate.stock_age_state,
    COMBINEFUNC = rebate.stock_age_combine, PARALLEL = SAFE);
CREATE AGGREGATE public.stock_age_merge(rebate.stock_age_state) (
    SFUNC = rebate.stock_age_combine, STYPE = rebate.stock_age_state,
    FINALFUNC = rebate.stock_age_final);
CREATE TEMP TABLE ledger (id int, part int, moved_on date, quantity numeric(18,4));
INSERT INTO ledger VALUES
    (1, 1, '2024-03-05', 40), (2, 2, '2023-11-20', 100), (3, 1, '2024-03-05', 10.5),
    (4, 2, '2024-01-10', -70), (5, 1, '2024-06-01', 25), (6, 2, '2024-05-02', 30),
    (7, 1, '2024-06-01', -5.25), (8, 2, '2023-01-15', 12), (9, 1, '2024-07-01', 1000),
    (10, 2, '2024-06-30', 0.0001);
-- days merged and sorted whatever the row order; the movement after as_of is ignored
SELECT stock_age_partial(moved_on, quantity, '2024-06-30') FROM ledger;
SELECT part, stock_age_partial(moved_on, quantity, '2024-06-30') FROM ledger GROUP BY part ORDER BY part;
-- on hand 142.2501: the newest arrivals back to 2023-11-20, of which 36.75 remain
SELECT (stock_age(moved_on, quantity, '2024-06-30')).* FROM ledger;
-- partial states of two parts, through text, merged: the same result
SELECT (stock_age_merge(st::text::rebate.stock_age_state)).*
  FROM (SELECT stock_age_partial(moved_on, quantity, '2024-06-30') AS st FROM ledger GROUP BY part) AS p;

-- binary I/O: COPY out and back in, and send's bytes
CREATE TEMP TABLE states (id int, st rebate.stock_age_state);
INSERT INTO states VALUES
    (1, '(2024-06-30,12.5,{2024-01-03:10,2024-02-01:5.25})'),
    (2, '(2024-06-30,0,{})'),
    (3, '(2024-06-30,0.01,{0044-03-15 BC:1.5,2024-06-30:17014118346046923173168730371588410.5727})');
INSERT INTO states SELECT 4, stock_age_partial(moved_on, quantity, '2024-06-30') FROM ledger;
COPY states TO '/tmp/rebate_regress_stock_age.bin' (FORMAT binary);
CREATE TEMP TABLE states_back (id int, st rebate.stock_age_state);
COPY states_back FROM '/tmp/rebate_regress_stock_age.bin' (FORMAT binary);
SELECT b.id, b.st, b.st::text = s.st::text AS same FROM states_back b JOIN states s USING (id) ORDER BY id;
SELECT rebate.stock_age_state_send('(2024-06-30,12.5,{2024-01-03:10})');

-- malformed binary input: feed raw bytes to COPY FROM ... (FORMAT binary) as a one-column file
CREATE TEMP TABLE bin_in (s rebate.stock_age_state);
CREATE FUNCTION pg_temp.copy_in(payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    file bytea := '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea   -- signature, flags, no extension
                  || '\x0001'::bytea || int4send(length(payload)) || payload || '\xffff'::bytea;
    octal text;
    detail text;
BEGIN
    SELECT string_agg('\' || ((b >> 6) & 7) || ((b >> 3) & 7) || (b & 7), '' ORDER BY i) INTO octal
      FROM generate_series(0, length(file) - 1) AS i, LATERAL (SELECT get_byte(file, i) AS b) AS x;
    TRUNCATE bin_in;
    EXECUTE format('COPY bin_in FROM PROGRAM %L (FORMAT binary)', 'printf ''' || octal || '''');
    RETURN (SELECT s::text FROM bin_in);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM || coalesce(' (' || nullif(detail, '') || ')', '');
END $$;
-- bytes: format 1, as_of (int32 days from 2000-01-01), departures (int128), count, then day and int128 per arrival
SELECT pg_temp.copy_in('\x01 000022f3 0000000000000000 000000000001e848 00000001  00002240 0000000000000000 00000000000186a0');
-- unknown format, a short header, a count that does not match the bytes, infinite as_of
SELECT pg_temp.copy_in('\x02 000022f3 0000000000000000 000000000001e848 00000000');
SELECT pg_temp.copy_in('\x01 000022f3 0000000000000000');
SELECT pg_temp.copy_in('\x01 000022f3 0000000000000000 000000000001e848 00000002  00002240 0000000000000000 00000000000186a0');
SELECT pg_temp.copy_in('\x01 7fffffff 0000000000000000 0000000000000000 00000000');
-- negative departures, an arrival after as_of, days not ascending, a zero quantity
SELECT pg_temp.copy_in('\x01 000022f3 ffffffffffffffff ffffffffffffffff 00000000');
SELECT pg_temp.copy_in('\x01 000022f3 0000000000000000 0000000000000000 00000001  000022f4 0000000000000000 00000000000186a0');
SELECT pg_temp.copy_in('\x01 000022f3 0000000000000000 0000000000000000 00000002  00002240 0000000000000000 00000000000186a0
                                                                                     00002240 0000000000000000 00000000000186a0');
SELECT pg_temp.copy_in('\x01 000022f3 0000000000000000 0000000000000000 00000001  00002240 0000000000000000 0000000000000000');

-- FIFO on small ledgers
-- same-day arrivals and departures; departures consume the oldest first
SELECT (stock_age(d, q, '2024-06-30')).*
  FROM (VALUES ('2024-01-01'::date, 10::numeric), ('2024-06-30', 5), ('2024-06-30', -3), ('2024-04-01', 2)) AS t(d, q);
-- everything sold: on hand 0; oversold: negative on hand; both with NULL age and zero buckets
SELECT (stock_age(d, q, '2024-06-30')).* FROM (VALUES ('2024-01-01'::date, 10::numeric), ('2024-02-01', -10)) AS t(d, q);
SELECT (stock_age(d, q, '2024-06-30')).* FROM (VALUES ('2024-01-01'::date, 10::numeric), ('2024-02-01', -12.5)) AS t(d, q);
-- stock that went negative is refilled by the next arrival, which then is the oldest on hand
SELECT (stock_age(d, q, '2024-06-30')).*
  FROM (VALUES ('2024-01-01'::date, -4::numeric), ('2024-02-01', 10), ('2024-03-01', 1)) AS t(d, q);
-- bucket bounds: ages 30, 31, 60, 61, 90, 91, 180, 181, 365, 366 days
SELECT (stock_age('2024-12-31'::date - age, 1, '2024-12-31')).*
  FROM unnest(ARRAY[30, 31, 60, 61, 90, 91, 180, 181, 365, 366]) AS age;
-- average rounded half up: 7/8 = 0.875 -> 0.88; 1/3 -> 0.33
SELECT (stock_age(d, q, '2024-06-30')).average_age FROM (VALUES ('2024-06-30'::date, 1::numeric), ('2024-06-29', 7)) AS t(d, q);
SELECT (stock_age(d, q, '2024-06-30')).average_age FROM (VALUES ('2024-06-30'::date, 2::numeric), ('2024-06-29', 1)) AS t(d, q);
-- quantities too large for the int128 average: computed exactly in numeric
SELECT (stock_age(d, q, '2024-06-30')).*
  FROM (VALUES ('2024-06-30'::date, 1e30), ('2024-03-22', 1e30), ('2024-03-21', 0.0001)) AS t(d, q);
-- there too, exactly 0.875 rounds up, 0.87499999999999999999999999999999999844 down
SELECT (stock_age(d, q, '2024-06-30')).average_age AS half_up
  FROM (VALUES ('2024-06-30'::date, 1e30), ('2024-06-29', 6999999999999999999999999999970.7807), ('1924-06-30', 0.0001)) AS t(d, q);
SELECT (stock_age(d, q, '2024-06-30')).average_age AS just_below
  FROM (VALUES ('2024-06-30'::date, 1e30), ('2024-06-29', 6999999999999999999999999999970.7806), ('1924-06-30', 0.0001)) AS t(d, q);
-- trailing zeros are not decimals; zero quantities count as rows
SELECT (stock_age(d, q, '2024-06-30')).on_hand FROM (VALUES ('2024-06-30'::date, 1.500000::numeric)) AS t(d, q);
SELECT (stock_age(d, q, '2024-06-30')).* FROM (VALUES ('2024-06-30'::date, 0::numeric)) AS t(d, q);

-- nulls: skipped rows, NULL for no rows; rows only after as_of: nothing on hand
SELECT stock_age(d, q, '2024-06-30') AS no_rows FROM (SELECT '2024-01-01'::date, 1::numeric WHERE false) AS t(d, q);
SELECT stock_age(d, q, a) AS all_skipped
  FROM (VALUES (NULL::date, 1::numeric, '2024-06-30'::date), ('2024-01-01', NULL, '2024-06-30'), ('2024-01-01', 1, NULL)) AS t(d, q, a);
SELECT stock_age(d, q, a) AS null_as_of_skipped
  FROM (VALUES ('2024-01-01'::date, 1::numeric, '2024-06-30'::date), ('2024-01-01', 5, NULL)) AS t(d, q, a);
SELECT stock_age(d, q, '2024-06-30') AS after_as_of FROM (VALUES ('2024-07-01'::date, 1::numeric)) AS t(d, q);

\x on
-- text input errors
SELECT * FROM error_of($$SELECT '2024-06-30,0,{}'::rebate.stock_age_state$$);
SELECT * FROM error_of($$SELECT '(2024-06-30,0,{})x'::rebate.stock_age_state$$);
SELECT * FROM error_of($$SELECT '(2024-06-30, 0,{})'::rebate.stock_age_state$$);
SELECT * FROM error_of($$SELECT '(2024-6-30,0,{})'::rebate.stock_age_state$$);
SELECT * FROM error_of($$SELECT '(2023-02-29,0,{})'::rebate.stock_age_state$$);
SELECT * FROM error_of($$SELECT '(0000-01-01,0,{})'::rebate.stock_age_state$$);
SELECT * FROM error_of($$SELECT '(2024-06-30,-1,{})'::rebate.stock_age_state$$);
SELECT * FROM error_of($$SELECT '(2024-06-30,0.00001,{})'::rebate.stock_age_state$$);
SELECT * FROM error_of($$SELECT '(2024-06-30,0,{2024-01-01:1;2024-01-02:1})'::rebate.stock_age_state$$);
SELECT * FROM error_of($$SELECT '(2024-06-30,0,{2024-02-01:1,2024-01-01:1})'::rebate.stock_age_state$$);
SELECT * FROM error_of($$SELECT '(2024-06-30,0,{2024-07-01:1})'::rebate.stock_age_state$$);
SELECT * FROM error_of($$SELECT '(2024-06-30,0,{2024-01-01:0})'::rebate.stock_age_state$$);
SELECT * FROM error_of($$SELECT '(2024-06-30,17014118346046923173168730371588410.5728,{})'::rebate.stock_age_state$$);
-- aggregate errors
SELECT * FROM error_of($$SELECT stock_age(d, 1, a) FROM (VALUES ('2024-01-01'::date, '2024-06-30'::date), ('2024-01-02', '2024-07-31')) AS t(d, a)$$);
SELECT * FROM error_of($$SELECT stock_age_merge(st) FROM (VALUES ('(2024-06-30,0,{})'::rebate.stock_age_state), ('(2024-07-31,0,{})')) AS t(st)$$);
SELECT * FROM error_of($$SELECT stock_age('2024-01-01', 'NaN', '2024-06-30')$$);
SELECT * FROM error_of($$SELECT stock_age('2024-01-01', '-Infinity', '2024-06-30')$$);
SELECT * FROM error_of($$SELECT stock_age('2024-01-01', 1.00001, '2024-06-30')$$);
SELECT * FROM error_of($$SELECT stock_age('2024-01-01', 1e40, '2024-06-30')$$);
SELECT * FROM error_of($$SELECT stock_age(d, q, '2024-06-30') FROM (VALUES ('2024-01-01'::date, 1e34), ('2024-01-02', 1e34)) AS t(d, q)$$);
SELECT * FROM error_of($$SELECT stock_age('-infinity', 1, '2024-06-30')$$);
SELECT * FROM error_of($$SELECT stock_age('2024-01-01', 1, 'infinity')$$);
SELECT * FROM error_of($$SELECT rebate.stock_age_trans(NULL, '2024-01-01', 1, '2024-06-30')$$);
SELECT * FROM error_of($$SELECT rebate.stock_age_combine(NULL, '(2024-06-30,0,{})')$$);
\x off

DROP AGGREGATE public.stock_age_merge(rebate.stock_age_state);
DROP AGGREGATE public.stock_age_partial(date, numeric, date);
