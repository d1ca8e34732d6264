-- ---------------------------------------------------------------------------
-- Amounts in words, for statements and payment documents: Chinese financial
-- capitals (大写金额) and English (C, ICU rule-based number format).
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.amount_in_words(amount numeric, locale text DEFAULT 'zh_CN',
                                            currency text DEFAULT 'CNY') RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_amount_in_words' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.amount_in_words(numeric, text, text) IS
    'The amount in words, rounded half away from zero to two decimals: locale zh_CN/zh gives 大写金额 for CNY (人民币壹万贰仟叁佰肆拾伍元陆角柒分), en_US/en and en_GB give English for CNY, EUR, GBP, HKD, USD; amounts up to 9999999999999999.99';
