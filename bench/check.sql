-- bench/check.sql — do all variants agree?  Run by bench/run.sh after every
-- variant's output has been stored in bench.result, with parallel workers
-- off (workers = 0) and on.  The reference is plain SQL without parallel
-- workers (sum for the floor); values are compared with numeric equality.
-- Prints one line per variant and setting, then the tiers the partners
-- reached, and ends with an error (psql exits non-zero) on any disagreement,
-- or when a "check" run with workers (bench.timing) got no parallel plan.
-- With the psql variable tap set (bench/run.sh --check), each of these
-- checks prints an "ok - ..." or "not ok - ..." line instead, before the
-- same error.

\set ON_ERROR_STOP on

CREATE TEMP TABLE agreement AS
WITH ref AS (
    SELECT variant = 'sum' AS is_sum, partner, value
    FROM bench.result
    WHERE workers = 0 AND variant IN ('sum', 'sql_case')
),
runs AS (
    SELECT DISTINCT r.workers, v.ord, v.name, v.is_rebate
    FROM bench.result r JOIN bench.variant v ON v.name = r.variant
)
SELECT runs.workers, runs.ord, runs.name,
       (SELECT count(*) FROM bench.result r WHERE r.workers = runs.workers AND r.variant = runs.name) AS partners,
       (SELECT count(*)
          FROM (SELECT partner, value FROM bench.result r
                 WHERE r.workers = runs.workers AND r.variant = runs.name) AS mine
          FULL JOIN (SELECT partner, value FROM ref WHERE ref.is_sum = NOT runs.is_rebate) AS theirs
            USING (partner)
         WHERE mine.value IS DISTINCT FROM theirs.value
            OR mine.value IS NULL) AS disagreements
FROM runs;

\if :{?tap}
\pset format unaligned
\pset tuples_only on
SELECT format('%s - %s, workers %s: %s partners, %s disagreements with plain SQL',
              CASE WHEN disagreements = 0 AND partners > 0 THEN 'ok' ELSE 'not ok' END,
              name, workers, partners, disagreements)
FROM agreement ORDER BY workers, ord;
-- the conditions of the DO block below, one line each
SELECT format('%s - every variant stored its result with workers off and on (%s of %s runs)',
              CASE WHEN (SELECT count(DISTINCT workers) FROM agreement) >= 2
                        AND (SELECT count(*) FROM agreement) = 2 * (SELECT count(*) FROM bench.variant)
                   THEN 'ok' ELSE 'not ok' END,
              (SELECT count(*) FROM agreement), 2 * (SELECT count(*) FROM bench.variant));
SELECT format('%s - with workers, every variant got a parallel plan%s',
              CASE WHEN bad IS NULL THEN 'ok' ELSE 'not ok' END, ' (none for ' || bad || ')')
FROM (SELECT string_agg(DISTINCT variant, ', ') AS bad
        FROM bench.timing WHERE phase = 'check' AND workers > 0 AND workers_planned = 0) b;
SELECT format('# partners per tier (retroactive 0:1%%, 100000:2%%, 500000:3.5%%): %s',
              string_agg(format('tier %s: %s', tier, partners), ', ' ORDER BY tier))
FROM (SELECT rebate.tier_index(value, 'retroactive 0:1%, 100000:2%, 500000:3.5%') AS tier, count(*) AS partners
        FROM bench.result WHERE workers = 0 AND variant = 'sum' GROUP BY 1) t;
\else
\pset footer off
SELECT format('%-22s workers %s: %s partners, %s disagreements%s',
              name, workers, partners, disagreements,
              CASE WHEN disagreements > 0 THEN '   <-- WRONG' ELSE '' END) AS "agreement with plain SQL"
FROM agreement ORDER BY workers, ord;

SELECT rebate.tier_index(value, 'retroactive 0:1%, 100000:2%, 500000:3.5%') AS tier,
       count(*) AS partners, min(value) AS smallest_sum, max(value) AS largest_sum
FROM bench.result WHERE workers = 0 AND variant = 'sum'
GROUP BY 1 ORDER BY 1;
\endif

-- Fail (psql exits 3 under ON_ERROR_STOP) when anything disagrees or is missing.
DO $$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(format('%s (workers %s)', name, workers), ', ' ORDER BY workers, ord)
      INTO bad FROM agreement WHERE disagreements > 0;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'benchmark variants disagree with plain SQL: %', bad;
    END IF;
    IF (SELECT count(DISTINCT workers) FROM agreement) < 2
       OR (SELECT count(*) FROM agreement) <> 2 * (SELECT count(*) FROM bench.variant) THEN
        RAISE EXCEPTION 'benchmark check incomplete: % variant runs stored', (SELECT count(*) FROM agreement);
    END IF;
    IF (SELECT count(*) FROM bench.result WHERE workers = 0 AND variant = 'sum') = 0 THEN
        RAISE EXCEPTION 'benchmark check: no partners';
    END IF;
    IF (SELECT count(DISTINCT rebate.tier_index(value, 'retroactive 0:1%, 100000:2%, 500000:3.5%'))
          FROM bench.result WHERE workers = 0 AND variant = 'sum') < 3 THEN
        RAISE WARNING 'not every tier is reached: the check compares fewer cases (try more rows or partners)';
    END IF;
    -- with workers on, every variant must have been planned parallel, so the
    -- combine functions were exercised (bench/run.sh makes parallel plans cheap there)
    SELECT string_agg(variant, ', ' ORDER BY variant) INTO bad
      FROM bench.timing WHERE phase = 'check' AND workers > 0 AND workers_planned = 0;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'benchmark check: no parallel plan for %', bad;
    END IF;
END
$$;
