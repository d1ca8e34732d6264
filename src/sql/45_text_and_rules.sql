-- ---------------------------------------------------------------------------
-- Building blocks of the data model: ICU name normalization and the
-- state-machine trigger (both C).
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.normalize_name(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_normalize_name' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.normalize_name(text) IS
    'The key under which two spellings of a company name are the same: ICU NFKC with case folding (full-width to ASCII, case folded), CJK brackets/quotes/commas folded to ASCII, all white space removed';

CREATE FUNCTION @extschema@.enforce_transition() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rebate_enforce_transition' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.enforce_transition() IS
    'BEFORE ROW trigger: arguments are a state column and its allowed transitions "from>to" (">to" for initial states); anything else is refused with SQLSTATE RB001';
