-- ---------------------------------------------------------------------------
-- Demand forecasts for the inventory module's replenishment suggestions
-- (src/forecast.c): additive Holt-Winters on sell-out per period, its fitted
-- model, the naive last-year forecast it is measured against, and sMAPE.
-- Forecasts are statistical estimates of units (double precision inside the
-- C code, numeric at the boundary), never money: callers round them up to
-- whole units.
-- ---------------------------------------------------------------------------

-- Not STRICT: NULL smoothing parameters are fitted (NULL history, season
-- length or horizon give NULL).
CREATE FUNCTION @extschema@.forecast_demand(history numeric[], season_length integer, horizon integer,
                                            alpha numeric DEFAULT NULL, beta numeric DEFAULT NULL,
                                            gamma numeric DEFAULT NULL)
    RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'forecast_demand' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.forecast_demand(numeric[], integer, integer, numeric, numeric, numeric) IS
    'Forecast of the next horizon periods of sell-out (history oldest first): additive Holt-Winters with season_length periods a season, parameters left NULL fitted on the grid 0.05..0.95 by least one-step squared error; Holt''s linear trend with under two seasons, the value itself with one period; clipped at 0, rounded to 4 decimals';

CREATE FUNCTION @extschema@.forecast_demand_fit(history numeric[], season_length integer,
                                                alpha numeric DEFAULT NULL, beta numeric DEFAULT NULL,
                                                gamma numeric DEFAULT NULL,
                                                OUT method text, OUT alpha numeric, OUT beta numeric,
                                                OUT gamma numeric, OUT sse double precision)
    AS 'MODULE_PATHNAME', 'forecast_demand_fit' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.forecast_demand_fit(numeric[], integer, numeric, numeric, numeric) IS
    'The model forecast_demand uses on a history: method (holt_winters, holt or last_value), the smoothing parameters (given or fitted; NULL where the method has none) and the sum of squared one-step errors over the history';

CREATE FUNCTION @extschema@.forecast_naive_seasonal(history numeric[], season_length integer, horizon integer)
    RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'forecast_naive_seasonal' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.forecast_naive_seasonal(numeric[], integer, integer) IS
    'Naive last-year forecast: each of the next horizon periods takes the value one season (season_length periods) before it; the last value when the history is shorter than a season; exact';

-- sMAPE in percent, exactly: quotients carried to 40 decimals, the mean
-- rounded to 30 and then to 2, so that a result exactly on a half cent of a
-- percent is not pushed off it by the last digit of a quotient.
CREATE FUNCTION @extschema@.smape(actual numeric[], forecast numeric[]) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n     integer := pg_catalog.cardinality(actual);
    total numeric := 0;
    a     numeric;
    f     numeric;
BEGIN
    IF pg_catalog.array_ndims(actual) > 1 OR pg_catalog.array_ndims(forecast) > 1 THEN
        RAISE EXCEPTION 'smape arrays must be one-dimensional'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('The actual array has %s dimensions, the forecast %s.',
                                             pg_catalog.array_ndims(actual), pg_catalog.array_ndims(forecast));
    END IF;
    IF n <> pg_catalog.cardinality(forecast) THEN
        RAISE EXCEPTION 'smape arrays must have the same length'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('There are %s actual values and %s forecasts.', n, pg_catalog.cardinality(forecast)),
                  HINT = 'Compare each forecast with the actual value of the same period.';
    END IF;
    FOR i IN 0 .. n - 1 LOOP
        a := actual[pg_catalog.array_lower(actual, 1) + i];
        f := forecast[pg_catalog.array_lower(forecast, 1) + i];
        IF a IS NULL OR f IS NULL THEN
            RAISE EXCEPTION 'smape arrays must not contain nulls'
                USING ERRCODE = 'null_value_not_allowed',
                      DETAIL = pg_catalog.format('Element %s of the %s array is null.', i + 1,
                                                 CASE WHEN a IS NULL THEN 'actual' ELSE 'forecast' END),
                      HINT = 'Leave periods without an actual value or a forecast out of both arrays.';
        END IF;
        IF a::text IN ('NaN', 'Infinity', '-Infinity') OR f::text IN ('NaN', 'Infinity', '-Infinity') THEN
            RAISE EXCEPTION 'smape values must be finite numbers'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = pg_catalog.format('Element %s is %s (actual) and %s (forecast).', i + 1, a, f);
        END IF;
        -- a term with A = F (among them A = F = 0) counts 0; otherwise |A| + |F| > 0
        IF a <> f THEN
            total := total + pg_catalog.round(2 * pg_catalog.abs(f - a), 40) / (pg_catalog.abs(a) + pg_catalog.abs(f));
        END IF;
    END LOOP;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    RETURN pg_catalog.round(pg_catalog.round(100 * total / n, 30), 2);
END
$$;
COMMENT ON FUNCTION @extschema@.smape(numeric[], numeric[]) IS
    'Symmetric mean absolute percentage error in percent, 100/n * sum(|F - A| / ((|A| + |F|) / 2)), a period with A = F = 0 counting 0; exact, rounded to 2 decimals; NULL for empty arrays';
