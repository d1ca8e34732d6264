-- overachievement_rebate: thresholds as achievement ratios, apply_to total
-- and excess, lump sums, caps (not scaled), per-unit targets.
BEGIN;
SET search_path = public, rebate;
SELECT plan(24);

-- 'total' is tiered_rebate against the schedule scaled by the target
SELECT is(overachievement_rebate(79999.99, 100000, 'retroactive 0.8:1%, 1.0:2%, 1.2:3%'), 0::numeric, 'below 80% of target');
SELECT is(overachievement_rebate(80000, 100000, 'retroactive 0.8:1%, 1.0:2%, 1.2:3%'), 800::numeric, 'exactly 80%');
SELECT is(overachievement_rebate(100000, 100000, 'retroactive 0.8:1%, 1.0:2%, 1.2:3%'), 2000::numeric, 'exactly 100%');
SELECT is(overachievement_rebate(119999.99, 100000, 'retroactive 0.8:1%, 1.0:2%, 1.2:3%'), 2399.9998, 'one fen below 120%');
SELECT is(overachievement_rebate(120000, 100000, 'retroactive 0.8:1%, 1.0:2%, 1.2:3%'), 3600::numeric, 'exactly 120%');
SELECT is(
    (SELECT count(*)::int FROM generate_series(0, 2000) AS g, LATERAL (SELECT g * 97.31 AS actual) a
      WHERE overachievement_rebate(actual, 100000, 'incremental 0.8:1%, 1.0:2%, 1.2:3% cap 4000')
            IS DISTINCT FROM tiered_rebate(actual, 'incremental 80000:1%, 100000:2%, 120000:3% cap 4000')),
    0, 'total = tiered_rebate with thresholds times target, 2001 points');
SELECT is(overachievement_rebate(130000, 100000, 'incremental 0.8:1%, 1.0:2%, 1.2:3%'), 900::numeric,
          'incremental total: 200 + 400 + 300');
SELECT is(overachievement_rebate(130000, 100000, 'incremental 0.8:1%, 1.0:2%, 1.2:3%', 'total'), 900::numeric,
          'apply_to defaults to total');

-- 'excess' pays only on what lies above the target
SELECT is(overachievement_rebate(130000, 100000, 'retroactive 0.8:1%, 1.0:2%, 1.2:3%', 'excess'), 900::numeric,
          'retroactive excess: 3% of 30000');
SELECT is(overachievement_rebate(90000, 100000, 'retroactive 0.8:1%, 1.0:2%, 1.2:3%', 'excess'), 0::numeric,
          'retroactive excess: a tier reached below target pays nothing');
SELECT is(overachievement_rebate(100000, 100000, 'retroactive 1.0:2%', 'excess'), 0::numeric, 'exactly on target: no excess');
SELECT is(overachievement_rebate(100000.01, 100000, 'retroactive 1.0:2%', 'excess'), 0.0002, 'one fen over target');
SELECT is(overachievement_rebate(130000, 100000, 'incremental 0.8:1%, 1.0:2%, 1.2:3%', 'excess'), 700::numeric,
          'incremental excess: 2% of 20000 + 3% of 10000');
SELECT is(overachievement_rebate(110000, 100000, 'incremental 0.8:1%, 1.0:2%, 1.2:3%', 'excess'), 200::numeric,
          'incremental excess inside a band');
SELECT is(overachievement_rebate(130000, 100000, 'incremental 1.1:5%', 'excess'), 1000::numeric,
          'incremental excess: band above the target counts from its own start');
SELECT is(overachievement_rebate(130000, 100000, 'retroactive 0.8:1%', 'EXCESS'), 300::numeric, 'apply_to is case-insensitive');

-- lump sums: apply_to makes no difference
SELECT is(overachievement_rebate(250, 200, 'retroactive 1.0:1000, 1.5:5000', 'total'), 1000::numeric, 'lump sum, total');
SELECT is(overachievement_rebate(250, 200, 'retroactive 1.0:1000, 1.5:5000', 'excess'), 1000::numeric, 'lump sum, excess');
SELECT is(overachievement_rebate(300, 200, 'retroactive 1.0:1000, 1.5:5000', 'excess'), 5000::numeric, 'lump sum, top tier');

-- the cap applies to the result and is not scaled by the target
SELECT is(overachievement_rebate(2000, 1000, 'retroactive 1.0:10% cap 50'), 50::numeric, 'cap on total');
SELECT is(overachievement_rebate(2000, 1000, 'retroactive 1.0:10% cap 50', 'excess'), 50::numeric, 'cap on excess');
SELECT is(overachievement_rebate(2000, 1000, 'retroactive 1.0:10% cap 500'), 200::numeric, 'cap not reached');

-- quantities against a quantity target, and a fractional target
SELECT is(overachievement_rebate(150, 100, 'incremental 1.0:2 per unit', 'excess'), 100::numeric, '2 per unit over 100 pieces');
SELECT is(overachievement_rebate(1, 0.5, 'retroactive 1.5:10%'), 0.1, 'fractional target');

SELECT * FROM finish();
ROLLBACK;
