-- Every error the type can raise: SQLSTATE, message, detail and hint.
SET search_path = public, rebate;
\x on

-- syntax (22P02)
SELECT * FROM error_of($$SELECT ''::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'garbage'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0 1%'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive :1%'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:1%,'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:1% 100:2%'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'incremental 0:3 per piece'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:1% cap'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:1% cap 5 extra'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:1e3%'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:NaN%'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0：1%'::rebate.tier_schedule$$);

-- bad values (22023)
SELECT * FROM error_of($$SELECT 'retroactive'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:1%, 100000:2%, 100000:3%'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 500:1%, 100:2%'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive -5:1%'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:-1%'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:-3 per unit'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:100.01%'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:1%, 100:5 per unit'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:100, 100:2%'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'incremental 0:100, 1000:500'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT 'retroactive 0:1% cap -1'::rebate.tier_schedule$$);

-- the constructor refuses the same things, and its own misuse
SELECT * FROM error_of($$SELECT rebate.tier_schedule('retroactive', '{}', '{}')$$);
SELECT * FROM error_of($$SELECT rebate.tier_schedule('retroactive', '{0,100}', '{1}')$$);
SELECT * FROM error_of($$SELECT rebate.tier_schedule('retroactive', '{0,NULL}', '{1,2}')$$);
SELECT * FROM error_of($$SELECT rebate.tier_schedule('retroactive', '{{0},{1}}', '{{1},{2}}')$$);
SELECT * FROM error_of($$SELECT rebate.tier_schedule('sideways', '{0}', '{1}')$$);
SELECT * FROM error_of($$SELECT rebate.tier_schedule('retroactive', '{0}', '{1}', 'percentage')$$);
SELECT * FROM error_of($$SELECT rebate.tier_schedule('incremental', '{0}', '{1}', 'lump_sum')$$);
SELECT * FROM error_of($$SELECT rebate.tier_schedule('retroactive', '{NaN}', '{1}')$$);
SELECT * FROM error_of($$SELECT rebate.tier_schedule('retroactive', '{0}', '{Infinity}')$$);
SELECT * FROM error_of($$SELECT rebate.tier_schedule('retroactive', '{0}', '{1}', cap => 'NaN')$$);
SELECT * FROM error_of($$SELECT rebate.tier_schedule('retroactive', '{0,1}', '{1,2}', cap => -0.01)$$);
SELECT * FROM error_of($$SELECT rebate.tier_schedule('retroactive', (SELECT array_agg(g) FROM generate_series(0, 10000) g), (SELECT array_agg(1) FROM generate_series(0, 10000) g))$$);
SELECT * FROM error_of($$SELECT '{"kind": "percent", "tiers": [{"threshold": 0, "value": 1}]}'::jsonb::rebate.tier_schedule$$);

-- nothing half-accepted: a failed INSERT leaves the table as it was
CREATE TEMP TABLE program (code text, s rebate.tier_schedule);
INSERT INTO program VALUES ('A', 'retroactive 0:1%');
SELECT * FROM error_of($$INSERT INTO program VALUES ('B', 'retroactive 0:2%'), ('C', 'retroactive 0:200%')$$);
SELECT * FROM program;
