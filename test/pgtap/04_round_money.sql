-- round_money: rounding once, at the statement line (pitfall 5).
BEGIN;
SET search_path = public, rebate;
SELECT plan(10);

SELECT is(round_money(0.125)::text, '0.13', 'default: CNY, half up');
SELECT is(round_money(0.125, 'CNY', 'half_even')::text, '0.12', 'half even down to even');
SELECT is(round_money(0.135, 'CNY', 'half_even')::text, '0.14', 'half even up to even');
SELECT is(round_money(-0.125, 'CNY', 'half_up')::text, '-0.13', 'half up is away from zero');
SELECT is(round_money(1234.5, 'JPY')::text, '1235', 'yen has no minor unit');
SELECT is(round_money(1.2345, 'KWD')::text, '1.235', 'dinar has three places');
SELECT is(round_money(10, 'USD')::text, '10.00', 'always the currency''s scale');
SELECT is(round_money(9.999, 'CNY', 'down')::text, '9.99', 'down truncates ("per full unit")');
SELECT is(round_money(-9.991, 'CNY', 'up')::text, '-10.00', 'up is away from zero');

-- statement lines are rounded once each and totals sum the rounded lines
SELECT is((SELECT sum(round_money(tiered_rebate(x, 'retroactive 0:3.5%')))
             FROM (VALUES (100.10), (100.10), (100.10)) AS l(x)),
          10.50, 'three lines of 3.5035 round to 3.50 each; their total is 10.50 (not round(10.5105) = 10.51)');

SELECT * FROM finish();
ROLLBACK;
