-- ---------------------------------------------------------------------------
-- Periods: months, quarters and years as half-open date ranges
-- [first day, first day of the next).  Programs settle, targets count, KPIs
-- and scores compare, and reports group by these; a unit is one of 'month',
-- 'quarter', 'year' ('range' programs use their whole effective range).
-- ---------------------------------------------------------------------------


-- The first day of the period of the given unit that contains the date.
CREATE FUNCTION @extschema@.period_start(unit text, day date) RETURNS date
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL, not SQL: progress calls these once per program, and a SQL
    -- function with a SET clause is planned again on every such call
    RETURN pg_catalog.date_trunc(unit, day::timestamp)::date;
END
$$;
COMMENT ON FUNCTION @extschema@.period_start(text, date) IS 'The first day of the month, quarter or year containing the date';

-- The length of a month, quarter or year.
CREATE FUNCTION @extschema@.period_step(unit text) RETURNS interval
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE unit WHEN 'month' THEN '1 month'::interval WHEN 'quarter' THEN '3 months'::interval
                     ELSE '1 year'::interval END;
END
$$;
COMMENT ON FUNCTION @extschema@.period_step(text) IS 'The interval of one month, quarter or year';

-- The month, quarter or year containing a day.
CREATE FUNCTION @extschema@.period_of(unit text, day date) RETURNS daterange
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    first date := @extschema@.period_start(unit, day);
BEGIN
    RETURN pg_catalog.daterange(first, (first + @extschema@.period_step(unit))::date);
END
$$;
COMMENT ON FUNCTION @extschema@.period_of(text, date) IS 'The month, quarter or year containing the day, as [first day, first day of the next)';

-- The period n units of the model before the given one.
CREATE FUNCTION @extschema@.period_before(period daterange, unit text, n integer) RETURNS daterange
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    step interval := @extschema@.period_step(unit);
BEGIN
    RETURN pg_catalog.daterange((lower(period) - n * step)::date, (upper(period) - n * step)::date);
END
$$;
COMMENT ON FUNCTION @extschema@.period_before(daterange, text, integer) IS
    'The period n months, quarters or years before the given one';

CREATE FUNCTION @extschema@.period_label(period daterange, unit text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN pg_catalog.to_char(lower(period), CASE unit WHEN 'month' THEN 'YYYY-MM' WHEN 'quarter' THEN 'YYYY-"Q"Q' ELSE 'YYYY' END);
END
$$;
COMMENT ON FUNCTION @extschema@.period_label(daterange, text) IS 'A period''s name: 2026-07, 2026-Q3 or 2026';
