-- Bugs other rebate systems shipped (../shared/pitfalls.md), as far as the
-- calculation core is concerned; later layers (programs, statements) add theirs.
BEGIN;
SET search_path = public, rebate;
SELECT plan(9);

-- 1. boundaries: half-open tiers, no value between two tiers, a threshold belongs to the tier it starts
SELECT is(tier_index(100, 'retroactive 0:10%, 100:20%, 300:30%'), 2, '1: 100 starts tier 2 (from-scale)');
SELECT is(tiered_rebate(100.005, 'retroactive 0:10%, 100:20%, 300:30%'), 20.001, '1: 100.005 falls in tier 2, not in a gap');
SELECT is(tiered_rebate(299.99, 'retroactive 0:10%, 100:20%, 300:30%'), 59.998, '1: one cent below 300 stays in tier 2');

-- 2. incremental bands pay their width, not their cumulative upper bound
SELECT is(tiered_rebate(3800, 'incremental 0:10%, 100:20%, 300:30%'), 1100::numeric, '2: 10 + 40 + 1050 = 1100');

-- 3. a reversed invoice and its credit note cancel exactly; a period's net can go negative and earns 0
SELECT is((SELECT tiered_sum(x, 'retroactive 0:2%') FROM (VALUES (1234.56), (-1234.56)) AS t(x)), 0::numeric,
          '3: an invoice and its credit note net to 0');
SELECT is((SELECT tiered_sum(x, 'retroactive 0:2%') FROM (VALUES (100.00), (-500.00)) AS t(x)), 0::numeric,
          '3: a negative net period earns 0, not a negative rebate');

-- 4. netting: final = rate x whole volume - already settled (design.md's worked example)
SELECT is(tiered_rebate(7000, 'retroactive 5000:2%, 20000:4%'), 140::numeric, '4: interim, 7000 cumulative at 2% pays 140');
SELECT is(tiered_rebate(27000, 'retroactive 5000:2%, 20000:4%') - tiered_rebate(7000, 'retroactive 5000:2%, 20000:4%'),
          940::numeric, '4: final 27000 at 4% is 1080, of which 940 is still owed');

-- 5. rounding happens once, where asked: the calculation itself never rounds
SELECT is(tiered_rebate(0.29, 'retroactive 0:3.5%'), 0.01015, '5: 3.5% of 0.29 is 0.01015, unrounded');

SELECT * FROM finish();
ROLLBACK;
