-- The aggregate state type: lossless text and binary I/O (what Citus ships
-- between nodes), combine, and the aggregate's null handling.
SET search_path = public, rebate;

SELECT '(1234.50,"retroactive 0:1%, 1000:2%")'::rebate.tiered_sum_state;
SELECT '(-0.001,"incremental 0:10 per unit")'::rebate.tiered_sum_state;
SELECT '(123456789012345678901234567890123456789012.5,"retroactive 0:1%")'::rebate.tiered_sum_state;
SELECT rebate.tiered_sum_state_sum('(1234.50,"retroactive 0:1%")');

-- a partial state printed and read back gives the same final result
SELECT rebate.tiered_sum_final(rebate.tiered_sum_state_out(st)::text::rebate.tiered_sum_state) AS from_text,
       rebate.tiered_rebate(1234.50, 'retroactive 0:1%, 1000:2%') AS direct
  FROM (SELECT '(1234.50,"retroactive 0:1%, 1000:2%")'::rebate.tiered_sum_state AS st) s;

CREATE TEMP TABLE states (id int, st rebate.tiered_sum_state);
INSERT INTO states VALUES
    (1, '(1234.50,"retroactive 0:1%, 1000:2%")'),
    (2, '(99999999999999999999999999999999999999999.99,"incremental 0:1%")'),
    (3, '(0.000000000000000000000000000000001,"retroactive 0:3 per unit")');
COPY states TO '/tmp/rebate_regress_states.bin' (FORMAT binary);
CREATE TEMP TABLE states_back (id int, st rebate.tiered_sum_state);
COPY states_back FROM '/tmp/rebate_regress_states.bin' (FORMAT binary);
SELECT id, st FROM states_back ORDER BY id;
SELECT rebate.tiered_sum_state_send('(1.5,"retroactive 0:1%")');

-- nulls: skipped rows, NULL for no rows
SELECT rebate.tiered_sum(x, 'retroactive 0:10%') AS no_rows FROM (SELECT 1::numeric WHERE false) AS t(x);
SELECT rebate.tiered_sum(x, 'retroactive 0:10%') AS all_null FROM (VALUES (NULL::numeric), (NULL)) AS t(x);
SELECT rebate.tiered_sum(x, s) AS null_schedule_rows_skipped
  FROM (VALUES (10::numeric, 'retroactive 0:10%'::rebate.tier_schedule), (20, NULL), (NULL, 'retroactive 0:10%')) AS t(x, s);

\x on
SELECT * FROM error_of($$SELECT '1234.50'::rebate.tiered_sum_state$$);
SELECT * FROM error_of($$SELECT '(1234.50,retroactive 0:1%)'::rebate.tiered_sum_state$$);
SELECT * FROM error_of($$SELECT '(1234.50,"retroactive 0:1%"'::rebate.tiered_sum_state$$);
SELECT * FROM error_of($$SELECT '(1,"retroactive 0:1%)'::rebate.tiered_sum_state$$);
SELECT * FROM error_of($$SELECT '(abc,"retroactive 0:1%")'::rebate.tiered_sum_state$$);
SELECT * FROM error_of($$SELECT '(NaN,"retroactive 0:1%")'::rebate.tiered_sum_state$$);
SELECT * FROM error_of($$SELECT '(1,"retroactive 0:1%, 0:2%")'::rebate.tiered_sum_state$$);
