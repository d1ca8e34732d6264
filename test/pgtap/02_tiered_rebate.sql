-- Semantics of tiered_rebate, tier_index, next_tier_gap and effective_rate:
-- worked examples, every boundary, zero, negatives, huge values, many tiers, caps.
BEGIN;
SET search_path = public, rebate;
SELECT plan(61);

-- worked examples (recomputed by hand: see ../shared/design.md and pitfalls.md)
SELECT is(tiered_rebate(2000, 'incremental 0:10%, 1000:25%'), 350::numeric, 'bands 10%/25% at 1000, 2000 incremental: 350');
SELECT is(tiered_rebate(2000, 'retroactive 0:10%, 1000:25%'), 500::numeric, 'same, retroactive: 500');
SELECT is(tiered_rebate(140, 'incremental 0:10 per unit, 5:12 per unit, 20:15 per unit, 100:20 per unit, 1000:30 per unit'),
          2230::numeric, 'interval scale, 140 pieces incremental: 2230');
SELECT is(tiered_rebate(140, 'retroactive 0:10 per unit, 5:12 per unit, 20:15 per unit, 100:20 per unit, 1000:30 per unit'),
          2800::numeric, 'interval scale, 140 pieces retroactive: 2800');
SELECT is(tiered_rebate(2700, 'incremental 0:5%, 500:10%, 2000:15%'), 280::numeric, 'tax-style 5/10/15% on 2700: 280');
SELECT is(tiered_rebate(3800, 'incremental 0:10%, 100:20%, 300:30%'), 1100::numeric,
          'pitfall 2: marginal bands on 3800 give 1100, not 1120');

-- retroactive percentages: at, one fen below and one fen above each threshold
SELECT is(tiered_rebate(-100, 'retroactive 0:1%, 100000:2%, 500000:3.5%'), 0::numeric, 'negative basis earns 0');
SELECT is(tiered_rebate(0, 'retroactive 0:1%, 100000:2%, 500000:3.5%'), 0::numeric, 'zero earns 0');
SELECT is(tiered_rebate(99999.99, 'retroactive 0:1%, 100000:2%, 500000:3.5%'), 999.9999, 'one fen below 100000: tier 1');
SELECT is(tiered_rebate(100000, 'retroactive 0:1%, 100000:2%, 500000:3.5%'), 2000::numeric, 'exactly 100000: tier 2');
SELECT is(tiered_rebate(100000.01, 'retroactive 0:1%, 100000:2%, 500000:3.5%'), 2000.0002, 'one fen above 100000');
SELECT is(tiered_rebate(499999.99, 'retroactive 0:1%, 100000:2%, 500000:3.5%'), 9999.9998, 'one fen below 500000');
SELECT is(tiered_rebate(500000, 'retroactive 0:1%, 100000:2%, 500000:3.5%'), 17500::numeric, 'exactly 500000: tier 3');
SELECT is(tiered_rebate(100000.005, 'retroactive 0:1%, 100000:2%'), 2000.0001, 'pitfall 1: 100000.005 is in a tier (no gaps)');

-- incremental percentages at the same points
SELECT is(tiered_rebate(99999.99, 'incremental 0:1%, 100000:2%, 500000:3.5%'), 999.9999, 'incremental below 100000');
SELECT is(tiered_rebate(100000, 'incremental 0:1%, 100000:2%, 500000:3.5%'), 1000::numeric, 'incremental at 100000');
SELECT is(tiered_rebate(100000.01, 'incremental 0:1%, 100000:2%, 500000:3.5%'), 1000.0002, 'incremental just above 100000');
SELECT is(tiered_rebate(500000, 'incremental 0:1%, 100000:2%, 500000:3.5%'), 9000::numeric, 'incremental at 500000');
SELECT is(tiered_rebate(600000, 'incremental 0:1%, 100000:2%, 500000:3.5%'), 12500::numeric, 'incremental in the open top band');
SELECT is(tiered_rebate(-5, 'incremental 0:1%, 100000:2%'), 0::numeric, 'incremental negative basis earns 0');

-- a first threshold above zero: nothing below it, in either mode
SELECT is(tiered_rebate(99999.99, 'retroactive 100000:2%'), 0::numeric, 'below a minimum threshold: 0');
SELECT is(tiered_rebate(100000, 'retroactive 100000:2%'), 2000::numeric, 'at the minimum: the whole basis earns');
SELECT is(tiered_rebate(150000, 'incremental 100000:2%'), 1000::numeric, 'incremental pays only above the minimum');

-- lump sums
SELECT is(tiered_rebate(99999.99, 'retroactive 100000:2000, 500000:12000'), 0::numeric, 'lump sum: below the first tier');
SELECT is(tiered_rebate(100000, 'retroactive 100000:2000, 500000:12000'), 2000::numeric, 'lump sum: at tier 1');
SELECT is(tiered_rebate(499999.99, 'retroactive 100000:2000, 500000:12000'), 2000::numeric, 'lump sum: below tier 2');
SELECT is(tiered_rebate(500000, 'retroactive 100000:2000, 500000:12000'), 12000::numeric, 'lump sum: at tier 2');
SELECT is(tiered_rebate(1e25, 'retroactive 100000:2000, 500000:12000'), 12000::numeric, 'lump sum: does not grow');
SELECT is(tiered_rebate(0, 'retroactive 0:50'), 50::numeric, 'a lump sum from 0 is paid at 0');

-- per unit (quantities)
SELECT is(tiered_rebate(4.5, 'incremental 0:10 per unit, 5:12 per unit, 20:15 per unit'), 45::numeric, 'per unit: fractional quantity');
SELECT is(tiered_rebate(5, 'incremental 0:10 per unit, 5:12 per unit, 20:15 per unit'), 50::numeric, 'per unit: at 5');
SELECT is(tiered_rebate(21, 'incremental 0:10 per unit, 5:12 per unit, 20:15 per unit'), 245::numeric, 'per unit: 50 + 180 + 15');
SELECT is(tiered_rebate(20, 'retroactive 0:10 per unit, 5:12 per unit, 20:15 per unit'), 300::numeric, 'per unit retroactive at 20');

-- caps
SELECT is(tiered_rebate(100000, 'retroactive 0:1%, 100000:2% cap 1500'), 1500::numeric, 'cap limits the rebate');
SELECT is(tiered_rebate(50000, 'retroactive 0:1%, 100000:2% cap 1500'), 500::numeric, 'under the cap: unchanged');
SELECT is(tiered_rebate(1e9, 'incremental 0:1%, 100000:2% cap 20000'), 20000::numeric, 'cap on incremental');
SELECT is(tiered_rebate(1e9, 'retroactive 100000:2000, 500000:12000 cap 5000'), 5000::numeric, 'cap on lump sums');
SELECT is(tiered_rebate(1e9, 'retroactive 0:1% cap 0'), 0::numeric, 'cap 0 pays nothing');

-- huge values (20+ digits) stay exact
SELECT is(tiered_rebate(123456789012345678901234.56, 'retroactive 0:1%'), 1234567890123456789012.3456, '24-digit basis');
SELECT is(tiered_rebate(20000000000000000000000, 'incremental 0:1%, 10000000000000000000000:2%'),
          300000000000000000000::numeric, '10^22-sized bands');
SELECT is(tiered_rebate(0.000000000000000000000001, 'retroactive 0:100%'), 0.000000000000000000000001, 'tiny basis exact');

-- results are exact and carry no trailing zeros: rounding is round_money's job
SELECT is(tiered_rebate(100.00, 'retroactive 0:10%')::text, '10', 'no trailing zeros');
SELECT is(tiered_rebate(0.01, 'retroactive 0:3.5%')::text, '0.00035', 'sub-fen results are not rounded');
SELECT ok(tiered_rebate(NULL, 'retroactive 0:1%') IS NULL AND tiered_rebate(1, NULL) IS NULL, 'STRICT: NULL in, NULL out');

-- many tiers: 1000 incremental bands of 1000 each at (i+1)/100 percent, against a SQL sum
CREATE TEMP TABLE many AS
SELECT rebate.tier_schedule('incremental', array_agg(i * 1000 ORDER BY i), array_agg((i + 1) / 100.0 ORDER BY i)) AS inc,
       rebate.tier_schedule('retroactive', array_agg(i * 1000 ORDER BY i), array_agg((i + 1) / 100.0 ORDER BY i)) AS ret
  FROM generate_series(0, 999) AS i;
SELECT is((SELECT tiered_rebate(500500.5, inc) FROM many),
          (SELECT sum((i + 1) / 10000.0 * (least(500500.5, (i + 1) * 1000) - i * 1000))
             FROM generate_series(0, 500) AS i),
          '1000 incremental tiers agree with a SQL band sum');
SELECT is((SELECT tiered_rebate(500500.5, ret) FROM many), 500500.5 * 5.01 / 100, '1000 retroactive tiers: tier 501');
SELECT is((SELECT tier_index(999000, ret) FROM many), 1000, 'tier_index at the last of 1000 tiers');
SELECT is((SELECT tier_index(998999.99, ret) FROM many), 999, 'tier_index one fen below it');

-- tier_index
SELECT is(tier_index(-1, 'retroactive 0:1%, 100000:2%'), 0, 'tier_index below the first tier');
SELECT is(tier_index(0, 'retroactive 0:1%, 100000:2%'), 1, 'tier_index at 0');
SELECT is(tier_index(99999.99, 'retroactive 0:1%, 100000:2%'), 1, 'tier_index one fen below');
SELECT is(tier_index(100000, 'retroactive 0:1%, 100000:2%'), 2, 'tier_index at the threshold');

-- next_tier_gap
SELECT is(next_tier_gap(99999.99, 'retroactive 0:1%, 100000:2%, 500000:3.5%'), 0.01, 'one fen to go');
SELECT is(next_tier_gap(100000, 'retroactive 0:1%, 100000:2%, 500000:3.5%'), 400000::numeric, 'gap from a threshold');
SELECT is(next_tier_gap(500000, 'retroactive 0:1%, 100000:2%, 500000:3.5%'), NULL, 'NULL in the top tier');
SELECT is(next_tier_gap(-5, 'retroactive 100:1%'), 105::numeric, 'gap from below the first tier');

-- effective_rate
SELECT is(effective_rate(2000, 'incremental 0:10%, 1000:25%'), 0.175, '350 / 2000');
SELECT is(effective_rate(300, 'incremental 0:1%, 100:2%'), 0.016666666667, 'rounded half up at 12 places');
SELECT is(effective_rate(0, 'incremental 0:10%'), NULL, 'NULL for a zero basis');
SELECT is(effective_rate(-10, 'incremental 0:10%'), 0::numeric, 'a negative basis earns 0, so rate 0');
SELECT is(effective_rate(100000, 'retroactive 0:1%, 100000:2% cap 1500'), 0.015, 'the cap shows in the rate');

SELECT * FROM finish();
ROLLBACK;
