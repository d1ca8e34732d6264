-- bench/report.sql — the Markdown tables of bench/run.sh: medians of the
-- timed runs (bench.timing, phase 'run'), ratios to sum() and to tiered_sum
-- measured in the same session, the goals, and every run.  Run with psql -At;
-- psql variable: rows (for the per-row figures).

\set ON_ERROR_STOP on

CREATE TEMP TABLE med AS
SELECT t.workers, v.ord, v.name, v.label, v.per_row,
       count(*) AS runs,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms) AS ms,
       min(t.workers_launched) AS launched_min, max(t.workers_launched) AS launched_max,
       string_agg(to_char(t.ms, 'FM999,999,990'), ', ' ORDER BY t.run) AS all_runs
FROM bench.timing t JOIN bench.variant v ON v.name = t.variant
WHERE t.phase = 'run'
GROUP BY t.workers, v.ord, v.name, v.label, v.per_row;

CREATE TEMP TABLE ratio AS
SELECT m.*,
       m.ms / s.ms AS x_sum,
       m.ms / c.ms AS x_c,
       (m.ms - s.ms) * 1e6 / :rows AS ns_over_sum
FROM med m
JOIN med s ON s.workers = m.workers AND s.name = 'sum'
JOIN med c ON c.workers = m.workers AND c.name = 'tiered_sum';

CREATE FUNCTION pg_temp.ms(x float8) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN to_char(x, 'FM999,999,990') || ' ms';
CREATE FUNCTION pg_temp.x(x float8) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN to_char(x, 'FM9,990.00') || '×';

-- the main table: one line per variant, parallel off and on side by side
SELECT format('| Variant | per-row work | parallel off: median | × sum | × tiered_sum | parallel on (%s workers): median | × sum | × tiered_sum |',
              (SELECT max(workers) FROM med));
SELECT '|---|---|--:|--:|--:|--:|--:|--:|';
SELECT format('| %s | %s | %s | %s | %s | %s | %s | %s |',
              off.label, off.per_row,
              pg_temp.ms(off.ms), pg_temp.x(off.x_sum), pg_temp.x(off.x_c),
              pg_temp.ms(par.ms), pg_temp.x(par.x_sum), pg_temp.x(par.x_c))
FROM ratio off JOIN ratio par ON par.name = off.name AND par.workers > 0
WHERE off.workers = 0
ORDER BY off.ord;
\echo
\echo '× sum: the median divided by the median of `sum(amount)` in the same session; × tiered_sum: divided by the median of `rebate.tiered_sum`.'
\echo

-- the goals
CREATE TEMP TABLE goal AS
SELECT r.workers,
       (SELECT x_sum FROM ratio WHERE workers = r.workers AND name = 'tiered_sum') AS c_vs_sum,
       (SELECT x_c FROM ratio WHERE workers = r.workers AND name = 'plpgsql_aggregate') AS port_vs_c,
       (SELECT x_c FROM ratio WHERE workers = r.workers AND name = 'plpgsql_sum') AS lean_vs_c
FROM (SELECT DISTINCT workers FROM ratio) r;

SELECT '| Goal | parallel off | parallel on |';
SELECT '|---|---|---|';
SELECT format('| `tiered_sum` within 1.15× of `sum` | %s — %s | %s — %s |',
              pg_temp.x(off.c_vs_sum), CASE WHEN off.c_vs_sum <= 1.15 THEN 'met' ELSE 'missed' END,
              pg_temp.x(par.c_vs_sum), CASE WHEN par.c_vs_sum <= 1.15 THEN 'met' ELSE 'missed' END)
FROM goal off, goal par WHERE off.workers = 0 AND par.workers > 0;
SELECT format('| `tiered_sum` at least 10× faster than the PL/pgSQL aggregate (the port) | %s faster — %s | %s faster — %s |',
              pg_temp.x(off.port_vs_c), CASE WHEN off.port_vs_c >= 10 THEN 'met' ELSE 'missed' END,
              pg_temp.x(par.port_vs_c), CASE WHEN par.port_vs_c >= 10 THEN 'met' ELSE 'missed' END)
FROM goal off, goal par WHERE off.workers = 0 AND par.workers > 0;
SELECT format('| `tiered_sum` at least 10× faster than the leanest per-row PL/pgSQL (sum aggregate) | %s faster — %s | %s faster — %s |',
              pg_temp.x(off.lean_vs_c), CASE WHEN off.lean_vs_c >= 10 THEN 'met' ELSE 'missed' END,
              pg_temp.x(par.lean_vs_c), CASE WHEN par.lean_vs_c >= 10 THEN 'met' ELSE 'missed' END)
FROM goal off, goal par WHERE off.workers = 0 AND par.workers > 0;
\echo

-- a reading of the numbers
SELECT format(
    '**Reading.** With parallel workers off, `tiered_sum` took %s the time of `sum` '
    '(the goal is at most 1.15×: %s); with %s workers, %s (%s). '
    'It was %s faster than the PL/pgSQL port of it without workers and %s with them '
    '(the goal is at least 10×: %s), and %s and %s faster than the leanest per-row PL/pgSQL. '
    'Applying the tiers once per partner costs next to nothing in any language: the C function, '
    'the `CASE` and the PL/pgSQL function over `sum` took %s–%s the time of `sum` without workers. '
    'What costs is work per row: a PL/pgSQL call for every row adds %s (numeric state) to %s '
    '(composite state) per row over `sum`, where `tiered_sum` adds %s. '
    'How much faster than PL/pgSQL the C aggregate can be is bounded by the floor: '
    '`sum` itself, which reads the rows and does nothing else per row, is only %s faster than '
    'the PL/pgSQL port without workers and %s with them.',
    pg_temp.x(off.c_vs_sum), CASE WHEN off.c_vs_sum <= 1.15 THEN 'met' ELSE 'missed' END,
    par.workers, pg_temp.x(par.c_vs_sum), CASE WHEN par.c_vs_sum <= 1.15 THEN 'met' ELSE 'missed' END,
    pg_temp.x(off.port_vs_c), pg_temp.x(par.port_vs_c),
    CASE WHEN least(off.port_vs_c, par.port_vs_c) >= 10 THEN 'met'
         WHEN greatest(off.port_vs_c, par.port_vs_c) >= 10 THEN 'met only ' || CASE WHEN off.port_vs_c >= 10 THEN 'without' ELSE 'with' END || ' workers'
         ELSE 'missed' END,
    pg_temp.x(off.lean_vs_c), pg_temp.x(par.lean_vs_c),
    (SELECT pg_temp.x(min(x_sum)) FROM ratio WHERE workers = 0 AND name IN ('tiered_rebate_of_sum', 'sql_case', 'plpgsql_of_sum')),
    (SELECT pg_temp.x(max(x_sum)) FROM ratio WHERE workers = 0 AND name IN ('tiered_rebate_of_sum', 'sql_case', 'plpgsql_of_sum')),
    (SELECT to_char(round(ns_over_sum::numeric), 'FM999,990') || ' ns' FROM ratio WHERE workers = 0 AND name = 'plpgsql_sum'),
    (SELECT to_char(round(ns_over_sum::numeric), 'FM999,990') || ' ns' FROM ratio WHERE workers = 0 AND name = 'plpgsql_aggregate'),
    (SELECT to_char(round(ns_over_sum::numeric), 'FM999,990') || ' ns' FROM ratio WHERE workers = 0 AND name = 'tiered_sum'),
    (SELECT pg_temp.x(x_sum) FROM ratio WHERE workers = 0 AND name = 'plpgsql_aggregate'),
    (SELECT pg_temp.x(x_sum) FROM ratio WHERE workers = par.workers AND name = 'plpgsql_aggregate'))
FROM goal off, goal par WHERE off.workers = 0 AND par.workers > 0;
\echo
\echo 'Every timed run:'
\echo

-- every timed run, and the per-row cost above the floor
SELECT '| Variant | workers | runs (ms, in order) | median | per row above `sum` | workers launched |';
SELECT '|---|--:|---|--:|--:|--:|';
SELECT format('| %s | %s | %s | %s | %s | %s |',
              label, workers, all_runs, pg_temp.ms(ms),
              CASE WHEN name = 'sum' THEN '—' ELSE to_char(round(ns_over_sum::numeric), 'FM999,990') || ' ns' END,
              CASE WHEN launched_min = launched_max THEN launched_min::text
                   ELSE launched_min || '–' || launched_max END)
FROM ratio ORDER BY workers, ord;
\echo
\echo 'Per row above `sum`: (median − median of `sum`) ÷ rows, in wall-clock time (with workers, the processes share it).'
