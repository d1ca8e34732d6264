-- Errors of the calculation functions and the aggregate.
SET search_path = public, rebate;
\x on

SELECT * FROM error_of($$SELECT rebate.tiered_rebate('NaN', 'retroactive 0:1%')$$);
SELECT * FROM error_of($$SELECT rebate.tiered_rebate('Infinity', 'retroactive 0:1%')$$);
SELECT * FROM error_of($$SELECT rebate.tier_index('-Infinity', 'retroactive 0:1%')$$);
SELECT * FROM error_of($$SELECT rebate.next_tier_gap('NaN', 'retroactive 0:1%')$$);
SELECT * FROM error_of($$SELECT rebate.effective_rate('NaN', 'retroactive 0:1%')$$);
SELECT * FROM error_of($$SELECT rebate.overachievement_rebate(100, 0, 'retroactive 1:1%')$$);
SELECT * FROM error_of($$SELECT rebate.overachievement_rebate(100, -5, 'retroactive 1:1%')$$);
SELECT * FROM error_of($$SELECT rebate.overachievement_rebate(100, 'NaN', 'retroactive 1:1%')$$);
SELECT * FROM error_of($$SELECT rebate.overachievement_rebate('NaN', 100, 'retroactive 1:1%')$$);
SELECT * FROM error_of($$SELECT rebate.overachievement_rebate(100, 100, 'retroactive 1:1%', 'surplus')$$);
SELECT * FROM error_of($$SELECT rebate.tiered_sum(x, s) FROM (VALUES (1::numeric, 'retroactive 0:1%'::rebate.tier_schedule), (2, 'retroactive 0:2%')) AS t(x, s)$$);
SELECT * FROM error_of($$SELECT rebate.tiered_sum(x, 'retroactive 0:1%') FROM (VALUES (1::numeric), ('NaN')) AS t(x)$$);
SELECT * FROM error_of($$SELECT rebate.tiered_sum_trans(NULL, 1, 'retroactive 0:1%')$$);
SELECT * FROM error_of($$SELECT rebate.tiered_rebate(9e131071, 'retroactive 0:100 per unit')$$);
