-- Demand forecast (src/forecast.c): rebate.forecast_demand against an
-- independent Holt-Winters written here in PL/pgSQL (float8) from the
-- documented equations (FPP §8.3 with the seasonal equation
-- s(t) = γ(y(t) - l(t)) + (1-γ)s(t-m); the initial states of Makridakis,
-- Wheelwright & Hyndman measured from the trend line; Holt's linear trend
-- below two seasons), on random seasonal series with trend and noise (setseed); the grid fit
-- really is the grid minimum; a clean series is continued; Holt-Winters beats
-- the naive last-year forecast on held-out seasons; naive and sMAPE exactly.
BEGIN;
SET search_path = public, rebate;
SELECT plan(33);

-- The model: forecasts (clipped at 0, not rounded) and the one-step SSE.
CREATE FUNCTION pg_temp.hw(y float8[], m integer, alpha float8, beta float8, gamma float8, horizon integer,
                           OUT forecast float8[], OUT sse float8)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := array_length(y, 1);
    l float8[];     -- l[t]: level after period t
    b float8[];     -- b[t]: trend after period t
    s float8[];     -- s[t]: seasonal index of period t (s[1..m] initial)
    e float8;
    a1 float8;
    a2 float8;
    d float8;
    k integer;
BEGIN
    forecast := '{}';
    IF n = 1 THEN
        FOR h IN 1 .. horizon LOOP
            forecast := forecast || greatest(y[1], 0);
        END LOOP;
        RETURN;
    END IF;
    sse := 0;
    IF m >= 2 AND n >= 2 * m THEN
        -- A1, A2: the means of seasons 1 and 2; b(m) = mean over i of (y(m+i) - y(i)) / m;
        -- l(m) = A1 + b(m)(m-1)/2; s(i) = mean of y(i) - A1 - d(i) and y(m+i) - A2 - d(i), d(i) = b(m)(i - (m+1)/2)
        a1 := 0;
        a2 := 0;
        b[m] := 0;
        FOR i IN 1 .. m LOOP
            a1 := a1 + y[i] / m;
            a2 := a2 + y[m + i] / m;
            b[m] := b[m] + ((y[m + i] - y[i]) / m) / m;
        END LOOP;
        l[m] := a1 + b[m] * (m - 1) / 2;
        FOR i IN 1 .. m LOOP
            d := b[m] * (i - (m + 1) / 2.0);
            s[i] := ((y[i] - a1 - d) + (y[m + i] - a2 - d)) / 2;
        END LOOP;
        FOR t IN m + 1 .. n LOOP
            e := y[t] - (l[t - 1] + b[t - 1] + s[t - m]);
            sse := sse + e * e;
            l[t] := alpha * (y[t] - s[t - m]) + (1 - alpha) * (l[t - 1] + b[t - 1]);
            b[t] := beta * (l[t] - l[t - 1]) + (1 - beta) * b[t - 1];
            s[t] := gamma * (y[t] - l[t]) + (1 - gamma) * s[t - m];
        END LOOP;
        FOR h IN 1 .. horizon LOOP
            k := (h - 1) / m;
            forecast := forecast || greatest(l[n] + h * b[n] + s[n + h - m * (k + 1)], 0);
        END LOOP;
    ELSE
        l[2] := y[2];
        b[2] := y[2] - y[1];
        FOR t IN 3 .. n LOOP
            e := y[t] - (l[t - 1] + b[t - 1]);
            sse := sse + e * e;
            l[t] := alpha * y[t] + (1 - alpha) * (l[t - 1] + b[t - 1]);
            b[t] := beta * (l[t] - l[t - 1]) + (1 - beta) * b[t - 1];
        END LOOP;
        FOR h IN 1 .. horizon LOOP
            forecast := forecast || greatest(l[n] + h * b[n], 0);
        END LOOP;
    END IF;
END $$;

-- A standard normal deviate (Box-Muller; random_normal() is PostgreSQL 16+).
CREATE FUNCTION pg_temp.normal() RETURNS float8 LANGUAGE sql AS $$
    SELECT sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
$$;

-- A random monthly-style series: level + trend t + amplitude sin(2πt/m + phase) + noise, at least 0, 2 decimals.
CREATE FUNCTION pg_temp.series(n integer, m integer, level float8, trend float8, amplitude float8, noise float8)
    RETURNS numeric[]
LANGUAGE plpgsql AS $$
DECLARE
    phase float8 := 2 * pi() * random();
    out numeric[] := '{}';
BEGIN
    FOR t IN 1 .. n LOOP
        out := out || round(greatest(0, level + trend * t + amplitude * sin(2 * pi() * t / m + phase)
                                        + noise * pg_temp.normal())::numeric, 2);
    END LOOP;
    RETURN out;
END $$;

-- A level that walks at random (so fitted parameters land inside the grid) plus season and noise.
CREATE FUNCTION pg_temp.walk(n integer, m integer, step float8, amplitude float8, noise float8) RETURNS numeric[]
LANGUAGE plpgsql AS $$
DECLARE
    lvl float8 := 200;
    out numeric[] := '{}';
BEGIN
    FOR t IN 1 .. n LOOP
        lvl := lvl + step * pg_temp.normal();
        out := out || round(greatest(0, lvl + amplitude * sin(2 * pi() * t / m) + noise * pg_temp.normal())::numeric, 2);
    END LOOP;
    RETURN out;
END $$;

-- (a) Differential, fixed parameters: 100 random series (15 of them shorter than two seasons: Holt).
SELECT setseed(0.43);
CREATE TEMP TABLE diff_case AS
SELECT g, m, n, horizon, alpha, beta, gamma,
       pg_temp.series(n, m, 50 + 400 * random(), 6 * random() - 2, 5 + 60 * random(), 1 + 15 * random()) AS history
  FROM (SELECT g, m,
               CASE WHEN g <= 15 THEN 2 + floor(random() * (2 * m - 2))::int ELSE 2 * m + floor(random() * 4 * m)::int END AS n,
               1 + floor(random() * 2 * m)::int AS horizon,
               round(random()::numeric, 2) AS alpha, round(random()::numeric, 2) AS beta, round(random()::numeric, 2) AS gamma
          FROM (SELECT g, (ARRAY[4, 7, 12, 13])[1 + floor(random() * 4)::int] AS m FROM generate_series(1, 100) g) c) c;
-- and three that stress it: a long weekly series, parameters at 0 and 1, and one period
INSERT INTO diff_case VALUES
    (101, 52, 2000, 104, 0.3, 0.1, 0.2, pg_temp.series(2000, 52, 1000, 0.5, 300, 80)),
    (102, 12, 48, 24, 1, 0, 1, pg_temp.series(48, 12, 100, 1, 30, 10)),
    (103, 12, 48, 24, 0, 1, 0, pg_temp.series(48, 12, 100, -3, 30, 10)),
    (104, 12, 1, 3, 0.5, 0.5, 0.5, '{7.25}');
CREATE TEMP TABLE diff_value AS
SELECT d.g, h, c.v AS c_value, f.v AS model_value
  FROM diff_case d
 CROSS JOIN LATERAL (SELECT forecast FROM pg_temp.hw(d.history::float8[], d.m, d.alpha, d.beta, d.gamma, d.horizon)) mdl
 CROSS JOIN LATERAL unnest(rebate.forecast_demand(d.history, d.m, d.horizon, d.alpha, d.beta, d.gamma)) WITH ORDINALITY c(v, h)
  JOIN LATERAL unnest(mdl.forecast) WITH ORDINALITY f(v, h2) ON f.h2 = c.h;
SELECT is((SELECT count(*) FROM diff_value), (SELECT sum(horizon) FROM diff_case),
          'differential: every forecast period of the 104 series is compared');
SELECT is((SELECT count(*) FROM diff_value
            WHERE abs(c_value - round(model_value::numeric, 4)) > greatest(0.0001, 1e-6 * abs(model_value))),
          0::bigint, 'differential: C forecasts = the PL/pgSQL model, rounded to 4 decimals (0.0001 or 1e-6 relative)');
SELECT cmp_ok((SELECT count(*) FILTER (WHERE c_value = round(model_value::numeric, 4)) / count(*)::float8 FROM diff_value),
              '>=', 0.999::float8, 'differential: at least 99.9% of the rounded forecasts are identical');
SELECT is((SELECT count(*) FROM diff_value WHERE c_value < 0 OR scale(c_value) <> 4), 0::bigint,
          'forecasts are never negative and carry 4 decimals');
SELECT ok((SELECT count(*) FROM diff_value WHERE c_value = 0) > 0, 'some forecasts were clipped to 0 (the test reaches the clip)');
SELECT is((SELECT array_agg(DISTINCT method ORDER BY method)
             FROM diff_case d, rebate.forecast_demand_fit(d.history, d.m, d.alpha, d.beta, d.gamma) f),
          ARRAY['holt', 'holt_winters', 'last_value'], 'the differential reaches all three methods');
SELECT is((SELECT count(*) FROM diff_case d, rebate.forecast_demand_fit(d.history, d.m, d.alpha, d.beta, d.gamma) f
            WHERE f.method <> 'last_value'
              AND abs(f.sse - (pg_temp.hw(d.history::float8[], d.m, d.alpha, d.beta, d.gamma, 1)).sse)
                  > 1e-9 * greatest(1, f.sse)),
          0::bigint, 'the one-step SSE reported = the model''s at the given parameters');

-- (b) The fit: the parameters it picks have the least model SSE on the grid.
CREATE TEMP TABLE fit_case AS
SELECT g, m, h.history, f.*
  FROM (VALUES (1, 12, pg_temp.series(60, 12, 200, 2, 40, 12)),
               (2, 4, pg_temp.series(24, 4, 80, -1, 20, 6)),
               (3, 7, pg_temp.series(35, 7, 500, 0, 100, 40)),
               (4, 12, pg_temp.series(40, 12, 300, 5, 60, 30)),
               (5, 12, pg_temp.series(18, 12, 50, 1, 10, 5)),     -- Holt: under two seasons
               (6, 1, pg_temp.series(30, 1, 50, 1, 0, 5)),
               (7, 4, pg_temp.walk(32, 4, 9, 20, 3)),
               (8, 4, pg_temp.walk(48, 4, 6, 20, 3)),
               (9, 12, pg_temp.walk(60, 12, 8, 40, 5)),
               (10, 7, pg_temp.walk(42, 7, 10, 30, 4))) AS h(g, m, history)
 CROSS JOIN LATERAL rebate.forecast_demand_fit(h.history, h.m) f;
SELECT is((SELECT array_agg(method ORDER BY g) FROM fit_case),
          ARRAY['holt_winters', 'holt_winters', 'holt_winters', 'holt_winters', 'holt', 'holt',
                'holt_winters', 'holt_winters', 'holt_winters', 'holt_winters'], 'fit: the methods by length');
SELECT cmp_ok((SELECT count(DISTINCT alpha) FROM fit_case), '>=', 4::bigint, 'fit: the fitted alphas differ from series to series');
SELECT is((SELECT count(*) FROM fit_case
            WHERE alpha NOT IN (SELECT k * 0.05 FROM generate_series(1, 19) k)
               OR beta NOT IN (SELECT k * 0.05 FROM generate_series(1, 19) k)
               OR (gamma IS NULL) <> (method = 'holt')
               OR gamma NOT IN (SELECT k * 0.05 FROM generate_series(1, 19) k)),
          0::bigint, 'fit: fitted parameters are grid points 0.05 .. 0.95 (no gamma for Holt)');
SELECT is((SELECT count(*) FROM fit_case
            WHERE rebate.forecast_demand(history, m, 12) <> rebate.forecast_demand(history, m, 12, alpha, beta, gamma)),
          0::bigint, 'fit: forecast_demand with NULL parameters = with the fitted ones given');
SELECT is((SELECT count(*) FROM fit_case
            WHERE abs(sse - (pg_temp.hw(history::float8[], m, alpha, beta, coalesce(gamma, 0), 1)).sse) > 1e-9 * greatest(1, sse)),
          0::bigint, 'fit: the reported SSE = the model''s at the fitted parameters');
-- each fit against 30 random grid points and its 6 grid neighbours (1e-12 relative for float noise)
CREATE TEMP TABLE fit_rival AS
SELECT c.g, c.sse AS fitted, (pg_temp.hw(c.history::float8[], c.m, r.a, r.b, r.c, 1)).sse AS rival, r.a, r.b, r.c
  FROM fit_case c
 CROSS JOIN LATERAL (
        SELECT (1 + floor(random() * 19)) * 0.05 AS a, (1 + floor(random() * 19)) * 0.05 AS b,
               (1 + floor(random() * 19)) * 0.05 AS c
          FROM generate_series(1, 30) k WHERE c.g > 0
        UNION ALL
        SELECT c.alpha + da, c.beta + db, coalesce(c.gamma, 0.5) + dc
          FROM (VALUES (-0.05, 0, 0), (0.05, 0, 0), (0, -0.05, 0), (0, 0.05, 0), (0, 0, -0.05), (0, 0, 0.05)) d(da, db, dc)
         WHERE c.alpha + da BETWEEN 0.05 AND 0.95 AND c.beta + db BETWEEN 0.05 AND 0.95
           AND coalesce(c.gamma, 0.5) + dc BETWEEN 0.05 AND 0.95) r;
SELECT cmp_ok((SELECT count(*) FROM fit_rival), '>=', 200::bigint, 'fit: over 200 rival grid points are tried');
SELECT is((SELECT count(*) FROM fit_rival WHERE rival < fitted * (1 - 1e-12)), 0::bigint,
          'fit: no rival grid point has a smaller one-step SSE');
-- a short series with a walking level against the whole grid, searched here
CREATE FUNCTION pg_temp.grid_min(y float8[], m integer) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    best float8 := 'Infinity';
BEGIN
    FOR a IN 1 .. 19 LOOP
        FOR b IN 1 .. 19 LOOP
            FOR c IN 1 .. 19 LOOP
                best := least(best, (pg_temp.hw(y, m, a / 20.0, b / 20.0, c / 20.0, 1)).sse);
            END LOOP;
        END LOOP;
    END LOOP;
    RETURN best;
END $$;
SELECT ok(abs(c.sse - pg_temp.grid_min(c.history::float8[], c.m)) <= 1e-9 * c.sse,
          'fit: the SSE = the minimum over the whole 19x19x19 grid, searched independently')
  FROM fit_case c WHERE g = 7;
SELECT is((SELECT row(method, alpha)::text FROM rebate.forecast_demand_fit((SELECT history FROM fit_case WHERE g = 1), 12, alpha => 0.333)),
          '(holt_winters,0.333)', 'fit: a given parameter is kept exactly, the others fitted');

-- (c) A clean series, 200 + 3t + an exact season (no noise): the continuation within 1%.
CREATE TEMP TABLE clean AS
SELECT m, n, array_agg(v ORDER BY t) FILTER (WHERE t <= n) AS history, array_agg(v ORDER BY t) FILTER (WHERE t > n) AS future
  FROM (VALUES (12, 60, ARRAY[-30, -10, 5, 20, 25, 10, -5, -15, -20, 0, 10, 10]),
               (4, 20, ARRAY[-40, 15, 35, -10])) AS s(m, n, shape)
 CROSS JOIN LATERAL (SELECT t, (200 + 3 * t + shape[1 + (t - 1) % m])::numeric AS v FROM generate_series(1, n + 2 * m) t) p
 GROUP BY m, n;
SELECT is((SELECT count(*) FROM clean c,
                  unnest(rebate.forecast_demand(c.history, c.m, 2 * c.m), c.future) AS f(forecast, actual)
            WHERE abs(forecast - actual) > 0.01 * actual),
          0::bigint, 'clean trend + season: two seasons ahead within 1% (months and quarters)');
SELECT is((SELECT max(abs(forecast - actual)) FROM clean c,
                  unnest(rebate.forecast_demand(c.history, c.m, 2 * c.m), c.future) AS f(forecast, actual)),
          0.0000, 'clean trend + season: in fact exact (the initial states carry no error)');
SELECT is((SELECT array_agg(f.sse < 1e-18 ORDER BY c.m) FROM clean c, rebate.forecast_demand_fit(c.history, c.m) f),
          ARRAY[true, true], 'clean trend + season: one-step SSE 0');
SELECT is(rebate.forecast_demand('{10, 12.5, 15, 17.5, 20}', 12, 3), '{22.5000,25.0000,27.5000}'::numeric[],
          'Holt (under two seasons) continues an exact line exactly');
SELECT is(rebate.forecast_demand('{30, 20, 10}', 1, 4), '{0.0000,0.0000,0.0000,0.0000}'::numeric[],
          'a falling line is clipped at 0');
SELECT is(rebate.forecast_demand('{7}', 12, 2), '{7.0000,7.0000}'::numeric[], 'one period: that value');
SELECT is(rebate.forecast_demand(ARRAY[4, 8], 1, 2), '{12.0000,16.0000}'::numeric[], 'two periods: the line through them');

-- (d) Holt-Winters against the naive last-year forecast, sMAPE over a held-out season, 50 random
--     monthly series of five years plus the sixth held out (trend -2 .. +4 a month, season 10-30%, noise 3-8%).
SELECT setseed(0.2026);
CREATE TEMP TABLE holdout AS
SELECT g, s[1:60] AS history, s[61:72] AS actual
  FROM (SELECT g, pg_temp.series(72, 12, lvl, trend, lvl * (0.1 + 0.2 * random()), lvl * (0.03 + 0.05 * random())) AS s
          FROM (SELECT g, 150 + 250 * random() AS lvl, 6 * random() - 2 AS trend FROM generate_series(1, 50) g) p) q;
CREATE TEMP TABLE holdout_score AS
SELECT g, rebate.smape(actual, rebate.forecast_demand(history, 12, 12)) AS hw,
          rebate.smape(actual, rebate.forecast_naive_seasonal(history, 12, 12)) AS naive
  FROM holdout;
SELECT diag(format('held-out sMAPE over 50 series: Holt-Winters %s%%, naive last-year %s%%; Holt-Winters better on %s of 50',
                   round(avg(hw), 2), round(avg(naive), 2), count(*) FILTER (WHERE hw < naive)))
  FROM holdout_score;
SELECT cmp_ok((SELECT avg(hw) FROM holdout_score), '<', (SELECT avg(naive) FROM holdout_score),
              'held-out season: Holt-Winters'' mean sMAPE beats the naive last-year forecast''s');
SELECT cmp_ok((SELECT count(*) FROM holdout_score WHERE hw < naive), '>=', 30::bigint,
              'held-out season: Holt-Winters is better on most series');

-- (e) The naive forecast and sMAPE, exactly.
SELECT is(rebate.forecast_naive_seasonal('{1,2,3,4,5,6,7}', 3, 5), '{5,6,7,5,6}'::numeric[],
          'naive: each period takes the value one season before it');
SELECT is(rebate.forecast_naive_seasonal('{1.50,2.25}', 3, 2)::text, '{2.25,2.25}',
          'naive: under one season, the last value, exactly as given');
SELECT is(rebate.forecast_naive_seasonal('{4,0.100,9}', 1, 2)::text, '{9,9}', 'naive: season length 1 is the last value');
SELECT is(rebate.smape('{100,200,0,50}', '{110,180,0,0}'), 55.01,
          'smape: 25 * (2/21 + 2/19 + 0 + 2) = 55.0125..., the 0/0 term counting 0');
SELECT is(rebate.smape(ARRAY[5,5,5]::numeric[] || array_fill(1::numeric, ARRAY[29]),
                       ARRAY[7,7,7]::numeric[] || array_fill(1::numeric, ARRAY[29])), 3.13,
          'smape: 100/32 * (3 * 1/3) = 3.125 exactly rounds half up to 3.13 (quotients carried far enough)');
SELECT is(rebate.smape('{0,0}', '{0,0}'), 0.00, 'smape: all zero is 0');
SELECT is(rebate.smape('{0}', '{3}'), 200.00, 'smape: a forecast for no demand costs 200%');
SELECT is(rebate.smape('{}', '{}'), NULL, 'smape: no periods, no value');

SELECT * FROM finish();
ROLLBACK;
