-- bench/setup.sql — the benchmark's data, its PL/pgSQL and plain-SQL
-- competitors, and the list of query variants (bench.variant) that
-- bench/run.sh times.  Run by bench/run.sh in a fresh database that has the
-- extension; psql variables: rows, partners, seed (a number in [-1, 1]).
--
-- The schedule of every variant is the same retroactive schedule
--     retroactive 0:1%, 100000:2%, 500000:3.5%
-- written once as a rebate.tier_schedule constant (C variants), once as
-- threshold and rate arrays (PL/pgSQL variants) and once as a hand-written
-- CASE (plain SQL).  All variants must agree, per partner, to the last digit.

\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE SCHEMA bench;

-- ---------------------------------------------------------------------------
-- Data: :rows sales rows over :partners partners, generated here and seeded.
-- Each partner gets a target yearly volume between 10,000 and 1,000,000
-- (a fixed permutation of the partner number, so partners land in all three
-- tiers: below 100,000, from 100,000, from 500,000); each row's amount is
-- uniform on [0, 2 * target / rows-per-partner], so a partner's sum lands
-- near its target whatever the scale.  Partners are drawn at random per row,
-- so the rows of one partner are scattered over the whole table.
-- ---------------------------------------------------------------------------
SET max_parallel_workers_per_gather = 0;	-- one process, so the seed fixes the data
SELECT setseed(:seed) \g /dev/null
CREATE TABLE bench.sales AS
SELECT partner,
       round((u * 2 * (10000 + ((partner::bigint * 7919) % 9901) * 100.0)
                  / (:rows::numeric / :partners))::numeric, 2)::numeric(12,2) AS amount
FROM (SELECT 1 + floor(random() * :partners)::int AS partner, random() AS u
      FROM generate_series(1, :rows)) AS r;
RESET max_parallel_workers_per_gather;
-- set hint bits and the visibility map now, so no timed run pays for them
VACUUM (FREEZE, ANALYZE) bench.sales;

-- ---------------------------------------------------------------------------
-- The calculation in PL/pgSQL (retroactive: the rate of the highest tier the
-- basis reaches, times the whole basis).  Tiers as arrays: thresholds
-- ascending, rates as fractions.
-- ---------------------------------------------------------------------------
CREATE FUNCTION bench.plpgsql_tiered_rebate(basis numeric, thresholds numeric[], rates numeric[])
RETURNS numeric LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    rate numeric := 0;
BEGIN
    FOR i IN 1 .. coalesce(array_length(thresholds, 1), 0) LOOP
        EXIT WHEN basis < thresholds[i];
        rate := rates[i];
    END LOOP;
    RETURN basis * rate;
END
$$;

-- The port of tiered_sum: an aggregate whose state carries the running total
-- and the tiers; transition, combine and final functions all in PL/pgSQL.
CREATE TYPE bench.plpgsql_tiered_sum_state AS (total numeric, thresholds numeric[], rates numeric[]);

CREATE FUNCTION bench.plpgsql_tiered_sum_trans(state bench.plpgsql_tiered_sum_state, amount numeric,
                                               thresholds numeric[], rates numeric[])
RETURNS bench.plpgsql_tiered_sum_state LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF amount IS NULL THEN
        RETURN state;
    END IF;
    IF state IS NULL THEN
        RETURN ROW(amount, thresholds, rates)::bench.plpgsql_tiered_sum_state;
    END IF;
    state.total := state.total + amount;
    RETURN state;
END
$$;

CREATE FUNCTION bench.plpgsql_tiered_sum_combine(a bench.plpgsql_tiered_sum_state, b bench.plpgsql_tiered_sum_state)
RETURNS bench.plpgsql_tiered_sum_state LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF a IS NULL THEN
        RETURN b;
    END IF;
    IF b IS NULL THEN
        RETURN a;
    END IF;
    a.total := a.total + b.total;
    RETURN a;
END
$$;

CREATE FUNCTION bench.plpgsql_tiered_sum_final(state bench.plpgsql_tiered_sum_state)
RETURNS numeric LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF state IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN bench.plpgsql_tiered_rebate(state.total, state.thresholds, state.rates);
END
$$;

CREATE AGGREGATE bench.plpgsql_tiered_sum(amount numeric, thresholds numeric[], rates numeric[]) (
    SFUNC = bench.plpgsql_tiered_sum_trans,
    STYPE = bench.plpgsql_tiered_sum_state,
    COMBINEFUNC = bench.plpgsql_tiered_sum_combine,
    FINALFUNC = bench.plpgsql_tiered_sum_final,
    PARALLEL = SAFE
);

-- The leanest per-row PL/pgSQL: a sum aggregate with a plain numeric state
-- (the same PL/pgSQL function adds a row and combines two partial sums);
-- the tiers are applied once per group by bench.plpgsql_tiered_rebate.
CREATE FUNCTION bench.plpgsql_add(state numeric, amount numeric)
RETURNS numeric LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF amount IS NULL THEN
        RETURN state;
    END IF;
    IF state IS NULL THEN
        RETURN amount;
    END IF;
    RETURN state + amount;
END
$$;

CREATE AGGREGATE bench.plpgsql_sum(amount numeric) (
    SFUNC = bench.plpgsql_add,
    STYPE = numeric,
    COMBINEFUNC = bench.plpgsql_add,
    PARALLEL = SAFE
);

-- ---------------------------------------------------------------------------
-- The variants.  Each query returns (partner, value); `rebate` variants must
-- all give the same value per partner, the `sum` variant is the floor.
-- ---------------------------------------------------------------------------
CREATE TABLE bench.variant (
    ord       int PRIMARY KEY,
    name      text NOT NULL UNIQUE,
    label     text NOT NULL,	-- Markdown
    per_row   text NOT NULL,	-- what runs for every row
    is_rebate boolean NOT NULL,
    query     text NOT NULL
);

INSERT INTO bench.variant VALUES
(1, 'sum', '`sum(amount)` — the floor', 'built-in numeric sum', false,
 $q$SELECT partner, sum(amount) AS value FROM bench.sales GROUP BY partner$q$),
(2, 'tiered_sum', '`rebate.tiered_sum(amount, s)` — C aggregate', 'C (rebate)', true,
 $q$SELECT partner, rebate.tiered_sum(amount, 'retroactive 0:1%, 100000:2%, 500000:3.5%'::rebate.tier_schedule) AS value FROM bench.sales GROUP BY partner$q$),
(3, 'tiered_rebate_of_sum', '`rebate.tiered_rebate(sum(amount), s)` — C function over `sum`', 'built-in numeric sum', true,
 $q$SELECT partner, rebate.tiered_rebate(sum(amount), 'retroactive 0:1%, 100000:2%, 500000:3.5%'::rebate.tier_schedule) AS value FROM bench.sales GROUP BY partner$q$),
(4, 'sql_case', 'plain SQL: `CASE` over `sum(amount)`', 'built-in numeric sum', true,
 $q$SELECT partner, CASE WHEN sum(amount) >= 500000 THEN sum(amount) * 0.035 WHEN sum(amount) >= 100000 THEN sum(amount) * 0.02 WHEN sum(amount) >= 0 THEN sum(amount) * 0.01 ELSE 0 END AS value FROM bench.sales GROUP BY partner$q$),
(5, 'plpgsql_of_sum', 'PL/pgSQL tiers over `sum(amount)`', 'built-in numeric sum', true,
 $q$SELECT partner, bench.plpgsql_tiered_rebate(sum(amount), '{0,100000,500000}'::numeric[], '{0.01,0.02,0.035}'::numeric[]) AS value FROM bench.sales GROUP BY partner$q$),
(6, 'plpgsql_sum', 'PL/pgSQL sum aggregate, then PL/pgSQL tiers', 'PL/pgSQL (numeric state)', true,
 $q$SELECT partner, bench.plpgsql_tiered_rebate(bench.plpgsql_sum(amount), '{0,100000,500000}'::numeric[], '{0.01,0.02,0.035}'::numeric[]) AS value FROM bench.sales GROUP BY partner$q$),
(7, 'plpgsql_aggregate', 'PL/pgSQL aggregate — the port of `tiered_sum`', 'PL/pgSQL (composite state)', true,
 $q$SELECT partner, bench.plpgsql_tiered_sum(amount, '{0,100000,500000}'::numeric[], '{0.01,0.02,0.035}'::numeric[]) AS value FROM bench.sales GROUP BY partner$q$);

-- What bench/run.sh collects.
CREATE TABLE bench.result (		-- each variant's output, per parallel setting
    workers  int NOT NULL,		-- max_parallel_workers_per_gather of the run
    variant  text NOT NULL,
    partner  int NOT NULL,
    value    numeric
);
CREATE TABLE bench.timing (		-- one row per EXPLAIN ANALYZE
    phase            text NOT NULL,	-- check, warmup or run
    workers          int NOT NULL,	-- max_parallel_workers_per_gather of the run
    variant          text NOT NULL,
    run              int NOT NULL,
    ms               numeric NOT NULL,	-- Execution Time
    workers_planned  int NOT NULL,
    workers_launched int NOT NULL
);
