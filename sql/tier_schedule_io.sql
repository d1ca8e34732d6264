-- tier_schedule: text input, canonical output, round trips, binary I/O,
-- equality, hashing, constructor, accessors, jsonb.
SET search_path = public, rebate;

-- the issue's examples, and messy spellings of them
SELECT s::rebate.tier_schedule AS canonical FROM (VALUES
    ('retroactive 0:1%, 100000:2%, 500000:3.5%'),
    ('incremental 0:1%, 100000:2% cap 20000'),
    ('retroactive 100000:2000, 500000:12000'),
    ('incremental 0:10 per unit, 5:12 per unit, 20:15 per unit'),
    ('  RETROACTIVE 0 : 1.500 % ,100000.00:2.0%,500000:3.50%   '),
    ('Incremental 0:10 PER UNIT,5:12 Per   Unit cap 1000.000'),
    (E'retroactive\t0:0%'),
    ('retroactive 0.5:100%'),
    ('incremental +0:1%, 00100:2%'),
    ('retroactive .5:1%, 1.:2%'),
    ('retroactive 0:1% cap 0'),
    ('retroactive 123456789012345678901234567890:0.000001%')
) AS t(s);

-- output re-reads to an equal value, byte for byte
SELECT s::rebate.tier_schedule::text::rebate.tier_schedule = s::rebate.tier_schedule AS round_trip,
       rebate.tier_schedule_send(s::rebate.tier_schedule::text::rebate.tier_schedule)
           = rebate.tier_schedule_send(s::rebate.tier_schedule) AS same_bytes
  FROM (VALUES ('retroactive 0:1.50%, 100000:2%'), ('incremental 0:10 per unit cap 5.0')) AS t(s);

-- equality ignores spelling; <> and ordering work; grouping and DISTINCT work
SELECT 'incremental 0:1%, 100000:2% cap 20000'::rebate.tier_schedule
     = 'INCREMENTAL 0:1.0%,100000.00:2%   cap 20000.0'::rebate.tier_schedule AS equal,
       'incremental 0:1%'::rebate.tier_schedule
    <> 'retroactive 0:1%'::rebate.tier_schedule AS not_equal,
       'incremental 0:1%'::rebate.tier_schedule
    <> 'incremental 0:1 per unit'::rebate.tier_schedule AS kind_matters;
SELECT s, count(*) FROM (VALUES ('retroactive 0:1%'::rebate.tier_schedule),
                                ('retroactive 0:1.0%'), ('retroactive  0:1.00 %'),
                                ('incremental 0:1%')) AS t(s)
 GROUP BY s ORDER BY s::text;
SELECT count(DISTINCT s) FROM (VALUES ('retroactive 0:1%'::rebate.tier_schedule), ('retroactive 0:1.0%')) AS t(s);
SELECT rebate.tier_schedule_hash('retroactive 0:1%') = rebate.tier_schedule_hash('retroactive 0:1.000%') AS same_hash;

-- binary form: format byte 1, mode, kind, flags, tier count, then numerics
SELECT rebate.tier_schedule_send('retroactive 0:1% cap 5');
CREATE TEMP TABLE schedules (id int, s rebate.tier_schedule);
INSERT INTO schedules VALUES
    (1, 'retroactive 0:1%, 100000:2%, 500000:3.5%'),
    (2, 'incremental 0:1%, 100000:2% cap 20000'),
    (3, 'retroactive 100000:2000, 500000:12000'),
    (4, 'incremental 0:10 per unit, 5:12 per unit, 20:15 per unit'),
    (5, 'incremental 0:1%, 500:30, 800:5% cap 900');
COPY schedules TO '/tmp/rebate_regress_schedules.bin' (FORMAT binary);
CREATE TEMP TABLE schedules_back (id int, s rebate.tier_schedule);
COPY schedules_back FROM '/tmp/rebate_regress_schedules.bin' (FORMAT binary);
SELECT a.id, a.s = b.s AS equal_after_binary_round_trip, b.s
  FROM schedules a JOIN schedules_back b USING (id) ORDER BY id;

-- constructor from arrays, and accessors
SELECT rebate.tier_schedule('retroactive', '{0,100000,500000}', '{1,2,3.5}');
SELECT rebate.tier_schedule('incremental', ARRAY[0,100000], ARRAY[1,2.5], cap => 20000);
SELECT rebate.tier_schedule('incremental', '{0,5,20}', '{10,12,15}', 'per_unit');
SELECT rebate.tier_schedule('RETROACTIVE', '{100000,500000}', '{2000,12000}', kind => 'lump_sum');
SELECT rebate.tier_schedule(NULL, '{0}', '{1}') IS NULL AS null_mode_gives_null;
SELECT rebate.schedule_mode(s), rebate.schedule_kind(s), rebate.schedule_cap(s),
       rebate.schedule_thresholds(s), rebate.schedule_values(s)
  FROM schedules ORDER BY id;
SELECT * FROM rebate.tiers('incremental 0:1%, 100000:2%, 500000:3.5% cap 20000');
SELECT * FROM rebate.tiers('retroactive 100000:2000, 500000:12000');
SELECT * FROM rebate.tiers('incremental 0:10 per unit, 5:12 per unit');

-- jsonb, both ways
SELECT s::jsonb FROM schedules ORDER BY id;
SELECT (s::jsonb)::rebate.tier_schedule = s AS jsonb_round_trip FROM schedules ORDER BY id;
SELECT '{"mode": "incremental", "kind": "per_unit", "tiers": [{"threshold": 0, "value": 3}]}'::jsonb::rebate.tier_schedule;

-- Scales mixing lump sums with rates: canonical text, kinds, binary and jsonb round trips,
-- and what they pay (retroactive: the top tier alone; incremental: each lump sum reached once,
-- each rate on its band).
SELECT s::text AS canonical, rebate.schedule_kind(s) AS kind, rebate.schedule_tier_kinds(s) AS tier_kinds
  FROM (VALUES (' RETROACTIVE 1000:100.00 ,5000:2.0% cap 900'::rebate.tier_schedule),
               ('incremental 0:1%, 500:30, 800:5%'),
               ('retroactive 0:5 per unit, 10:40')) AS x(s);
SELECT s::jsonb AS json, s::jsonb::rebate.tier_schedule OPERATOR(rebate.=) s AS jsonb_round_trip
  FROM (VALUES ('incremental 0:1%, 500:30, 800:5%'::rebate.tier_schedule)) AS x(s);
SELECT rebate.tier_schedule('incremental', '{0,500,800}', '{1,30,5}', ARRAY['percent', 'lump_sum', 'percent'])
       OPERATOR(rebate.=) 'incremental 0:1%, 500:30, 800:5%' AS constructor_equal;
SELECT b, rebate.tiered_rebate(b, 'retroactive 500:50, 900:8%') AS retroactive,
       rebate.tiered_rebate(b, 'incremental 0:1%, 500:30, 800:5%') AS incremental,
       rebate.tier_index(b, 'incremental 0:1%, 500:30, 800:5%') AS tier
  FROM unnest('{0,499,500,800,1000}'::numeric[]) AS b;
SELECT * FROM rebate.tiers('incremental 0:1%, 500:30, 800:5%');
SELECT * FROM error_of($$SELECT 'retroactive 0:1%, 100:5 per unit'::rebate.tier_schedule$$);
SELECT * FROM error_of($$SELECT rebate.tier_schedule('retroactive', '{0,100}', '{1,5}', ARRAY['percent'])$$);
