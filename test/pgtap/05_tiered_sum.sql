-- The aggregate tiered_sum: equal to tiered_rebate(sum(basis), schedule) in
-- every shape of plan — serial, parallel (Partial Aggregate), hash aggregate
-- spilling to disk, window — and exact beyond int128 (the numeric spill path).
BEGIN;
SET search_path = public, rebate;
SELECT plan(15);

-- deterministic sales: 60 partners, 120000 lines, some returns (negative), some NULLs
CREATE TABLE sales AS
SELECT g AS id,
       g % 60 AS partner,
       CASE WHEN g % 997 = 0 THEN NULL
            ELSE round(((g * 7919) % 100000) / 100.0 - CASE WHEN g % 13 = 0 THEN 900 ELSE 0 END, 2) END AS amount
  FROM generate_series(1, 120000) AS g;
CREATE TABLE program (partner int PRIMARY KEY, schedule rebate.tier_schedule NOT NULL);
INSERT INTO program
SELECT p, CASE p % 3 WHEN 0 THEN 'retroactive 0:1%, 40000:2%, 60000:3.5%'
                     WHEN 1 THEN 'incremental 0:1%, 40000:2%, 60000:3.5% cap 1500'
                     ELSE 'retroactive 50000:800, 60000:1500' END::rebate.tier_schedule
  FROM generate_series(0, 59) AS p;
ANALYZE sales;
ANALYZE program;

CREATE FUNCTION pg_temp.serial_vs_direct() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (
        SELECT s.partner, rebate.tiered_sum(s.amount, p.schedule)::text AS agg,
               rebate.tiered_rebate(sum(s.amount), p.schedule)::text AS direct
          FROM sales s JOIN program p USING (partner)
         GROUP BY s.partner, p.schedule) r
     WHERE agg IS DISTINCT FROM direct
$$;

SET LOCAL max_parallel_workers_per_gather = 0;
SELECT is(pg_temp.serial_vs_direct(), 0::bigint, 'serial: tiered_sum = tiered_rebate(sum()) for all 60 partners, text-identical');
CREATE TEMP TABLE serial_result AS
SELECT partner, rebate.tiered_sum(amount, 'incremental 0:1%, 40000:2%, 60000:3.5%') AS r FROM sales GROUP BY partner;

-- force a parallel plan and prove it is one
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL enable_hashagg = off;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; result text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        result := result || line || E'\n';
    END LOOP;
    RETURN result;
END $$;
SELECT matches(pg_temp.plan_of($$SELECT partner, rebate.tiered_sum(amount, 'incremental 0:1%, 40000:2%, 60000:3.5%') FROM sales GROUP BY partner$$),
               'Partial (Group)?Aggregate', 'the plan has a Partial Aggregate');
SELECT matches(pg_temp.plan_of($$SELECT partner, rebate.tiered_sum(amount, 'incremental 0:1%, 40000:2%, 60000:3.5%') FROM sales GROUP BY partner$$),
               'Workers Launched: [12]', 'and parallel workers really ran');
SELECT is(
    (SELECT count(*)::int FROM (
        SELECT partner, rebate.tiered_sum(amount, 'incremental 0:1%, 40000:2%, 60000:3.5%') AS r FROM sales GROUP BY partner
        EXCEPT SELECT partner, r FROM serial_result) d),
    0, 'parallel result = serial result');
SELECT is(
    (SELECT rebate.tiered_sum(amount, 'retroactive 0:100%') FROM sales),
    (SELECT sum(amount) FROM sales), 'parallel, one group: 100% of the sum is the exact sum');
SELECT is(pg_temp.serial_vs_direct(), 0::bigint, 'parallel with a schedule from a join: equal to direct');

-- hash aggregate that spills to disk: states are written and read back as the real type
SET LOCAL max_parallel_workers_per_gather = 0;
SET LOCAL enable_hashagg = on;
SET LOCAL enable_sort = off;
SET LOCAL work_mem = '64kB';
SELECT matches(pg_temp.plan_of($$SELECT id % 20000, rebate.tiered_sum(amount, 'retroactive 0:1%, 10:2%') FROM sales GROUP BY 1$$),
               'Batches: ([2-9]|[1-9][0-9]+)', 'hash aggregate spilled to disk');
SELECT is(
    (SELECT count(*)::int FROM (
        SELECT id % 20000 AS k, rebate.tiered_sum(amount, 'retroactive 0:1%, 10:2%') AS r FROM sales GROUP BY 1
        EXCEPT
        SELECT id % 20000, rebate.tiered_rebate(sum(amount), 'retroactive 0:1%, 10:2%') FROM sales GROUP BY 1) d),
    0, 'spilled hash aggregate = direct, 20000 groups');
RESET enable_sort;
RESET work_mem;

-- window: a running rebate per partner
SELECT is(
    (SELECT count(*)::int FROM (
        SELECT rebate.tiered_sum(amount, 'incremental 0:1%, 40000:2%') OVER w AS a,
               rebate.tiered_rebate(sum(amount) OVER w, 'incremental 0:1%, 40000:2%') AS b
          FROM sales WHERE partner < 3 WINDOW w AS (PARTITION BY partner ORDER BY id)) r
      WHERE a IS DISTINCT FROM b),
    0, 'as a window function: running tiered_sum = tiered_rebate(running sum)');

-- beyond the int128 fast path: huge values overflow it, tiny ones exceed its scale
SELECT is((SELECT rebate.tiered_sum(x, 'retroactive 0:100%') FROM (SELECT 1e37::numeric FROM generate_series(1, 100)) AS t(x)),
          1e39, 'sum past int128 overflows into the exact numeric spill');
SELECT is((SELECT rebate.tiered_sum(x, 'retroactive 0:100%')
             FROM (VALUES (1e37), (1.5), (1e-40), (99999999999999999999999999999999999999.99), (-1e37)) AS t(x)),
          (SELECT sum(x) FROM (VALUES (1e37), (1.5), (1e-40), (99999999999999999999999999999999999999.99), (-1e37)) AS t(x)),
          'mixed magnitudes and scales are summed exactly');
SELECT is((SELECT rebate.tiered_sum(x, 'retroactive 0:100%')::text FROM (VALUES (1.5), (2.25), (0.125)) AS t(x)),
          '3.875', 'mixed scales on the fast path');
SELECT is((SELECT rebate.tiered_sum(x, 'retroactive 0:1%, 1000:2%') FROM (VALUES (600::numeric), (-100), (600)) AS t(x)),
          rebate.tiered_rebate(1100, 'retroactive 0:1%, 1000:2%'), 'returns reduce the basis before the tier is chosen');
SELECT is((SELECT rebate.tiered_sum(x, 'retroactive 0:1%') FROM (VALUES (-600::numeric), (100)) AS t(x)),
          0::numeric, 'a negative net basis earns 0');

SELECT throws_ok($$SELECT rebate.tiered_sum(amount, p.schedule) FROM sales s JOIN program p USING (partner)$$,
                 '22023', 'tiered_sum cannot mix schedules within one group',
                 'one group, many schedules: refused');

SELECT * FROM finish();
ROLLBACK;
