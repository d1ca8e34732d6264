-- round_money: modes, currencies, negative amounts, and its errors.
SET search_path = public, rebate;

SELECT amount, mode,
       rebate.round_money(amount, 'CNY', mode) AS cny,
       rebate.round_money(amount, 'JPY', mode) AS jpy,
       rebate.round_money(amount, 'KWD', mode) AS kwd
  FROM (VALUES (0.125), (0.135), (-0.125), (2.5), (3.5), (-2.5), (1.0049), (1.0051), (0), (-0.001), (12345678901234567890.125))
       AS a(amount),
       (VALUES ('half_up'), ('half_even'), ('down'), ('up')) AS m(mode)
 ORDER BY mode, amount;

SELECT rebate.round_money(1234.565) AS default_cny_half_up,
       rebate.round_money(1234.565, 'usd') AS lower_case_code,
       rebate.round_money(1234.565, 'EUR', 'HALF_EVEN') AS upper_case_mode,
       rebate.round_money(1234.565, 'HKD') AS hkd;

SELECT code, rebate.currency_minor_unit(code)
  FROM (VALUES ('CNY'), ('USD'), ('EUR'), ('JPY'), ('HKD'), ('KRW'), ('KWD'), ('TWD')) AS c(code);

\x on
SELECT * FROM error_of($$SELECT rebate.round_money(1, 'XYZ')$$);
SELECT * FROM error_of($$SELECT rebate.round_money(1, 'CNY', 'bankers')$$);
SELECT * FROM error_of($$SELECT rebate.round_money('NaN', 'CNY')$$);
SELECT * FROM error_of($$SELECT rebate.currency_minor_unit('RMB')$$);
