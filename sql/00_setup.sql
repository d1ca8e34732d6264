-- Installs the extension and a helper that shows an error's SQLSTATE, message,
-- detail and hint as a row, so expected/ pins all four exactly.
CREATE EXTENSION rebate CASCADE;
SET search_path = public, rebate;

CREATE FUNCTION public.error_of(statement text,
                                OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    message := 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END
$$;

SELECT extname, extversion, nspname AS schema, extrelocatable
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'rebate';
