-- Demand forecast (src/forecast.c, src/sql/forecast.sql): every error with its
-- SQLSTATE, detail and hint, then exact forecasts of fixed series.
SET search_path = public, rebate;
\x on

-- the history
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{5,NULL,7}', 12, 3)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{{1,2},{3,4}}', 12, 3)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{}', 12, 3)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_demand(array_fill(1::numeric, ARRAY[10001]), 12, 3)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{5,NaN,7}', 12, 3)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{5,6,-Infinity}', 12, 3)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{5,-0.5,7}', 12, 3)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{5,1000000000000000.01}', 12, 3)$$);
-- season length and horizon
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{5,6,7}', 0, 3)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{5,6,7}', 12, 0)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{5,6,7}', 12, 1001)$$);
-- smoothing parameters, checked even when the history is too short to use them
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{5,6,7}', 12, 3, alpha => -0.1)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{5}', 12, 3, beta => 1.5)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_demand('{5,6,7}', 12, 3, gamma => 'NaN')$$);
SELECT * FROM error_of($$SELECT rebate.forecast_demand_fit('{5,6,7}', 12, 0.5, 0.5, 2)$$);
-- given parameters that make the model diverge (the fit skips grid points that overflow)
SELECT * FROM error_of($$SELECT rebate.forecast_demand(ARRAY(SELECT (100 + g * 7919 % 101)::numeric
                                                                FROM generate_series(1, 10000) g), 12, 3, 0.2, 1, 0.9)$$);
-- the naive forecast validates alike
SELECT * FROM error_of($$SELECT rebate.forecast_naive_seasonal('{5,NULL}', 12, 3)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_naive_seasonal('{5,-1}', 12, 3)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_naive_seasonal('{5,6}', -1, 3)$$);
SELECT * FROM error_of($$SELECT rebate.forecast_naive_seasonal('{5,6}', 12, 1001)$$);
-- sMAPE
SELECT * FROM error_of($$SELECT rebate.smape('{1,2,3}', '{1,2}')$$);
SELECT * FROM error_of($$SELECT rebate.smape('{1,NULL}', '{1,2}')$$);
SELECT * FROM error_of($$SELECT rebate.smape('{1,2}', '{1,NaN}')$$);
SELECT * FROM error_of($$SELECT rebate.smape('{{1,2}}', '{{1,2}}')$$);
\x off

-- NULL arguments give NULL; NULL smoothing parameters are fitted
SELECT rebate.forecast_demand(NULL, 12, 3) IS NULL AS no_history,
       rebate.forecast_demand('{1,2}', NULL, 3) IS NULL AS no_season,
       rebate.forecast_demand('{1,2}', 12, NULL) IS NULL AS no_horizon,
       rebate.forecast_demand('{1,2,3,4,5}', 12, 2, NULL, NULL, NULL) AS fitted,
       rebate.forecast_naive_seasonal(NULL, 12, 3) IS NULL AS naive_strict,
       rebate.smape(NULL, '{1}') IS NULL AS smape_strict;

-- a quarterly series, four years: level 100, trend +2 a quarter, season -10/+5/+15/-10, a little noise
SELECT rebate.forecast_demand('{92,109,121,98,99,114,130,106,105,122,137,113,113,130,143,121}', 4, 8);
SELECT method, alpha, beta, gamma, round(sse::numeric, 6) AS sse
  FROM rebate.forecast_demand_fit('{92,109,121,98,99,114,130,106,105,122,137,113,113,130,143,121}', 4);
SELECT rebate.forecast_demand('{92,109,121,98,99,114,130,106,105,122,137,113,113,130,143,121}', 4, 4, 0.3, 0.1, 0.2);
SELECT rebate.forecast_naive_seasonal('{92,109,121,98,99,114,130,106,105,122,137,113,113,130,143,121}', 4, 6);
-- its last year held out: sMAPE of Holt-Winters and of the naive last-year forecast
SELECT rebate.smape('{113,130,143,121}', rebate.forecast_demand('{92,109,121,98,99,114,130,106,105,122,137,113}', 4, 4)) AS holt_winters,
       rebate.smape('{113,130,143,121}', rebate.forecast_naive_seasonal('{92,109,121,98,99,114,130,106,105,122,137,113}', 4, 4)) AS naive;
-- an exact line plus season is continued exactly (any parameters)
SELECT rebate.forecast_demand('{10,20,30,40,14,24,34,44}', 4, 5, 0.5, 0.5, 0.5);
-- under two seasons: Holt's linear trend; one period: that value; below zero: 0
SELECT method, alpha, beta, gamma, round(sse::numeric, 6) AS sse FROM rebate.forecast_demand_fit('{40,44,47,52,55,61}', 12);
SELECT rebate.forecast_demand('{40,44,47,52,55,61}', 12, 3);
SELECT * FROM rebate.forecast_demand_fit('{8.5}', 12);
SELECT rebate.forecast_demand('{8.5}', 12, 2);
SELECT rebate.forecast_demand('{90,60,40,20}', 1, 3, 0.5, 0.5);
-- sMAPE: 25 * (2/21 + 2/19 + 0 + 2) = 55.0125...
SELECT rebate.smape('{100,200,0,50}', '{110,180,0,0}');
