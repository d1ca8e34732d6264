-- ---------------------------------------------------------------------------
-- Facts about this installation, for DBAs.
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.icu_version() RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_icu_version' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.icu_version() IS 'The ICU version the rebate module runs with';
