-- ---------------------------------------------------------------------------
-- Money: the one explicit rounding step.
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.round_money(amount numeric, currency text DEFAULT 'CNY',
                                        mode text DEFAULT 'half_up') RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_round_money' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.round_money(numeric, text, text) IS
    'Rounds an amount to the currency''s minor unit (ISO 4217); mode half_up (away from zero), half_even, down (toward zero) or up (away from zero)';

CREATE FUNCTION @extschema@.currency_minor_unit(currency text) RETURNS integer
    AS 'MODULE_PATHNAME', 'rebate_currency_minor_unit' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.currency_minor_unit(text) IS
    'Decimal places of the currency''s minor unit: 2 for CNY, 0 for JPY, 3 for KWD';
