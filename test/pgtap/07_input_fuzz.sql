-- Seeded random input built from the grammar's own tokens and some strangers:
-- every string either reads as a schedule that round-trips, or is refused with
-- one of the documented SQLSTATEs.  Nothing crashes, nothing is half-accepted.
BEGIN;
SET search_path = public, rebate;
SELECT plan(4);

SELECT setseed(0.2026);
CREATE TEMP TABLE token (n int, t text);
INSERT INTO token
SELECT row_number() OVER (), t
  FROM unnest(ARRAY['retroactive', 'incremental', 'RETROACTIVE', ' ', '  ', E'\t', '0', '1', '5', '100000',
                    '3.5', '.', ':', '%', ',', 'per', 'unit', 'per unit', 'cap', '-', '+', '999999999999999999999',
                    'x', '：', 'é', 'NaN', '1e3', '"', '(', ')', '0:1%', ', 100:2%', ' cap 5']) AS t;

-- half the strings start with a mode, so that some of them are valid
CREATE TEMP TABLE fuzz AS
SELECT g AS id,
       CASE WHEN g % 2 = 0 THEN 'retroactive ' ELSE '' END || string_agg(t.t, '' ORDER BY p.k) AS input
  FROM generate_series(1, 20000) AS g
 CROSS JOIN LATERAL (SELECT k, 1 + floor(random() * 33)::int AS pick
                       FROM generate_series(1, 1 + (random() * 8)::int + 0 * g) AS k) AS p
  JOIN token t ON t.n = p.pick
 GROUP BY g;

CREATE FUNCTION pg_temp.outcome(input text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s rebate.tier_schedule;
BEGIN
    s := input::rebate.tier_schedule;
    IF s::text::rebate.tier_schedule OPERATOR(rebate.=) s THEN
        RETURN 'ok';
    END IF;
    RETURN 'no round trip';
EXCEPTION
    WHEN invalid_text_representation THEN RETURN '22P02';
    WHEN invalid_parameter_value THEN RETURN '22023';
    WHEN program_limit_exceeded THEN RETURN '54000';
END $$;

CREATE TEMP TABLE outcome AS SELECT id, input, pg_temp.outcome(input) AS outcome FROM fuzz;

SELECT is((SELECT count(*)::int FROM outcome WHERE outcome NOT IN ('ok', '22P02', '22023')), 0,
          'every random input is a valid schedule or a 22P02/22023 refusal');
SELECT cmp_ok((SELECT count(*)::int FROM outcome WHERE outcome = 'ok'), '>', 20,
              'the generator also produces valid schedules (and they round-trip)');
SELECT cmp_ok((SELECT count(DISTINCT outcome)::int FROM outcome), '=', 3, 'all three outcomes occur');

-- the aggregate state's input, likewise: (sum,"schedule") around the same strings
CREATE FUNCTION pg_temp.state_outcome(input text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM input::rebate.tiered_sum_state;
    RETURN 'ok';
EXCEPTION
    WHEN invalid_text_representation THEN RETURN '22P02';
    WHEN invalid_parameter_value THEN RETURN '22023';
END $$;
SELECT is((SELECT count(*)::int FROM fuzz
            WHERE pg_temp.state_outcome(format('(%s,"%s")', id % 7 - 3, input)) NOT IN ('ok', '22P02', '22023')),
          0, 'tiered_sum_state input: valid or a 22P02/22023 refusal');

SELECT * FROM finish();
ROLLBACK;
