-- The aggregate stock_age (库龄, FIFO): equal, exactly, to an independent
-- FIFO model that moves a queue of lots movement by movement, on 400 random
-- ledgers at three dates each; its partial states survive text and combine
-- (what Citus does); and every plan shape (serial, parallel, spilling hash
-- aggregate, window) gives the same result.
BEGIN;
SET search_path = public, rebate;
SELECT plan(18);

-- ---------------------------------------------------------------------------
-- The model, from the textbook definition: walk the ledger in date order;
-- an arrival first fills any shortfall (stock sold before it arrived), the
-- rest joins the back of the queue; a departure takes from the front of the
-- queue (oldest lot first), and what the queue cannot give becomes a
-- shortfall.  What is left in the queue at as_of is the stock on hand.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE ledger (id serial, item int, moved_on date, quantity numeric(18,4));

CREATE FUNCTION pg_temp.fifo_model(p_item int, p_as_of date, p_ledger regclass DEFAULT 'ledger')
RETURNS rebate.stock_age LANGUAGE plpgsql AS $$
DECLARE
    mv record;
    lot_day date[] := '{}';
    lot_qty numeric[] := '{}';
    front int := 1;                 -- first lot not yet used up
    shortfall numeric := 0;
    need numeric;
    take numeric;
    remaining numeric := 0;
    weighted numeric := 0;
    age int;
    empty boolean;
    r rebate.stock_age;
BEGIN
    -- no rows (nulls skipped): no result
    EXECUTE format('SELECT count(*) = 0 FROM %s WHERE item = $1 AND moved_on IS NOT NULL AND quantity IS NOT NULL',
                   p_ledger) INTO empty USING p_item;
    IF empty THEN
        RETURN NULL;
    END IF;
    FOR mv IN EXECUTE format('SELECT moved_on, quantity FROM %s
                               WHERE item = $1 AND moved_on IS NOT NULL AND quantity IS NOT NULL AND moved_on <= $2
                               ORDER BY moved_on, id', p_ledger) USING p_item, p_as_of LOOP
        IF mv.quantity > 0 THEN
            take := least(shortfall, mv.quantity);
            shortfall := shortfall - take;
            IF mv.quantity - take > 0 THEN
                lot_day := lot_day || mv.moved_on;
                lot_qty := lot_qty || (mv.quantity - take);
            END IF;
        ELSIF mv.quantity < 0 THEN
            need := -mv.quantity;
            WHILE need > 0 AND front <= coalesce(array_length(lot_qty, 1), 0) LOOP
                take := least(need, lot_qty[front]);
                lot_qty[front] := lot_qty[front] - take;
                need := need - take;
                IF lot_qty[front] = 0 THEN
                    front := front + 1;
                END IF;
            END LOOP;
            shortfall := shortfall + need;
        END IF;
    END LOOP;

    r := ROW(0, NULL, NULL, 0, 0, 0, 0, 0, 0);
    FOR i IN front .. coalesce(array_length(lot_qty, 1), 0) LOOP
        age := p_as_of - lot_day[i];
        remaining := remaining + lot_qty[i];
        weighted := weighted + lot_qty[i] * age;
        r.oldest_arrival := coalesce(r.oldest_arrival, lot_day[i]);
        CASE
            WHEN age <= 30 THEN r.age_0_30 := r.age_0_30 + lot_qty[i];
            WHEN age <= 60 THEN r.age_31_60 := r.age_31_60 + lot_qty[i];
            WHEN age <= 90 THEN r.age_61_90 := r.age_61_90 + lot_qty[i];
            WHEN age <= 180 THEN r.age_91_180 := r.age_91_180 + lot_qty[i];
            WHEN age <= 365 THEN r.age_181_365 := r.age_181_365 + lot_qty[i];
            ELSE r.age_over_365 := r.age_over_365 + lot_qty[i];
        END CASE;
    END LOOP;
    r.on_hand := remaining - shortfall;
    IF r.on_hand > 0 THEN
        -- round() is half away from zero (= half up here); numeric's division keeps
        -- far more digits than these quotients (denominator < 10^8) need to round right
        r.average_age := round(weighted / r.on_hand, 2);
    END IF;
    RETURN r;
END
$$;

-- ---------------------------------------------------------------------------
-- 400 random ledgers: some on a few days only (same-day arrivals and
-- departures), quantities with 0 to 4 decimals, movements after as_of, some
-- NULL rows; every tenth sold out exactly at as_of.
-- ---------------------------------------------------------------------------
SELECT setseed(0.42);
CREATE TEMP TABLE items AS
SELECT i AS item, date '2024-06-30' + (i % 5) * 31 AS as_of, 1 + floor(random() * 30)::int AS n,
       random() < 0.3 AS few_days, 0.15 + random() * 0.6 AS p_out
  FROM generate_series(1, 400) AS i;
INSERT INTO ledger (item, moved_on, quantity)
SELECT item,
       CASE WHEN random() < 0.02 THEN NULL
            WHEN few_days THEN as_of - 45 * floor(random() * 4)::int
            ELSE as_of + 25 - floor(random() * 800)::int END,
       CASE WHEN random() < 0.02 THEN NULL
            ELSE round((random() * 100)::numeric, floor(random() * 5)::int)
                 * CASE WHEN random() < p_out THEN -1 ELSE 1 END END
  FROM items, LATERAL generate_series(1, n) AS k
 ORDER BY item, k;
INSERT INTO ledger (item, moved_on, quantity)
SELECT item, i.as_of, -sum(quantity)
  FROM ledger l JOIN items i USING (item)
 WHERE item % 10 = 0 AND moved_on <= i.as_of
 GROUP BY item, i.as_of HAVING sum(quantity) <> 0;
ANALYZE ledger;

-- each item at its as_of, 100 days before and 400 days before
CREATE TEMP TABLE cases AS
SELECT item, as_of - back AS as_of FROM items, unnest(ARRAY[0, 100, 400]) AS back;
CREATE TEMP TABLE model AS
SELECT item, as_of, pg_temp.fifo_model(item, as_of) AS r FROM cases;
CREATE TEMP TABLE agg AS
SELECT c.item, c.as_of, rebate.stock_age(l.moved_on, l.quantity, c.as_of) AS r
  FROM cases c JOIN ledger l USING (item) GROUP BY c.item, c.as_of;

SELECT ok((SELECT count(*) FILTER (WHERE (r).on_hand = 0) >= 40 AND count(*) FILTER (WHERE (r).on_hand < 0) >= 20
              AND count(*) FILTER (WHERE (r).on_hand > 0) >= 300 FROM model)
          AND (SELECT count(*) >= 50 FROM (SELECT item, moved_on FROM ledger GROUP BY 1, 2
                                          HAVING bool_or(quantity > 0) AND bool_or(quantity < 0)) s)
          AND (SELECT count(*) >= 100 FROM ledger JOIN items USING (item) WHERE moved_on > as_of)
          AND (SELECT count(*) >= 100 FROM model m
                WHERE (r).on_hand > 0 AND (r).on_hand < (SELECT sum(quantity) FROM ledger l
                                                         WHERE l.item = m.item AND l.moved_on <= m.as_of AND quantity > 0)),
          'the random ledgers cover sold out, oversold, in stock, same-day in and out, movements after as_of, partly consumed lots');
SELECT is((SELECT count(*) FROM model), (SELECT count(*) FROM agg), 'one result per item and date');
SELECT is((SELECT count(*) FROM model m JOIN agg a USING (item, as_of) WHERE m.r IS DISTINCT FROM a.r), 0::bigint,
          'stock_age = the FIFO model on 1200 ledger x date cases, every column exactly');
SELECT is((SELECT count(*) FROM agg WHERE scale((r).on_hand) <> 4 OR scale((r).age_0_30) <> 4 OR scale((r).age_over_365) <> 4
                                       OR ((r).on_hand > 0) <> (scale((r).average_age) = 2)), 0::bigint,
          'quantities have scale 4, average ages scale 2 (NULL when nothing is on hand)');
SELECT is((SELECT count(*) FROM agg WHERE (r).on_hand > 0 AND (r).on_hand IS DISTINCT FROM
              (r).age_0_30 + (r).age_31_60 + (r).age_61_90 + (r).age_91_180 + (r).age_181_365 + (r).age_over_365), 0::bigint,
          'the buckets add up to on_hand');

-- the order of the rows does not matter
SELECT is((SELECT count(*) FROM agg a JOIN (
              SELECT c.item, c.as_of, rebate.stock_age(l.moved_on, l.quantity, c.as_of ORDER BY l.moved_on DESC, l.id DESC) AS r
                FROM cases c JOIN ledger l USING (item) GROUP BY c.item, c.as_of) d USING (item, as_of)
            WHERE a.r IS DISTINCT FROM d.r), 0::bigint, 'rows in reverse date order give the same results');

-- ---------------------------------------------------------------------------
-- Partial states, as Citus ships them: each ledger cut into three random
-- parts, each part's state through text, merged with the combine function.
-- ---------------------------------------------------------------------------
CREATE AGGREGATE pg_temp.stock_age_partial(date, numeric, date) (
    SFUNC = rebate.stock_age_trans, STYPE = rebate.stock_age_state, COMBINEFUNC = rebate.stock_age_combine);
CREATE AGGREGATE pg_temp.stock_age_merge(rebate.stock_age_state) (
    SFUNC = rebate.stock_age_combine, STYPE = rebate.stock_age_state, FINALFUNC = rebate.stock_age_final);
CREATE TEMP TABLE parts AS
SELECT c.item, c.as_of, floor(random() * 3)::int AS part,
       pg_temp.stock_age_partial(l.moved_on, l.quantity, c.as_of)::text AS st
  FROM cases c JOIN ledger l USING (item) GROUP BY 1, 2, 3;
SELECT is((SELECT count(*) FROM parts WHERE st::rebate.stock_age_state::text <> st), 0::bigint,
          'every partial state reads back from its text unchanged');
SELECT is((SELECT count(*) FROM agg a JOIN (
              SELECT item, as_of, pg_temp.stock_age_merge(st::rebate.stock_age_state ORDER BY part) AS r
                FROM parts GROUP BY 1, 2) m USING (item, as_of)
            WHERE a.r IS DISTINCT FROM m.r), 0::bigint,
          'partial states of random parts, through text, combined: the same results');
SELECT is((SELECT count(*) FROM agg a JOIN (
              SELECT item, as_of, rebate.stock_age_final(st::rebate.stock_age_state) AS r
                FROM (SELECT c.item, c.as_of, pg_temp.stock_age_partial(l.moved_on, l.quantity, c.as_of)::text AS st
                        FROM cases c JOIN ledger l USING (item) GROUP BY 1, 2) s) f USING (item, as_of)
            WHERE a.r IS DISTINCT FROM f.r), 0::bigint, 'final of a whole state read back from text: the same results');

-- ---------------------------------------------------------------------------
-- Plans: a table big enough for a parallel scan, 40 items x 5000 movements.
-- ---------------------------------------------------------------------------
CREATE TABLE stock_move AS
SELECT g AS id, g % 40 AS item,
       date '2022-01-01' + floor(random() * 900)::int AS moved_on,
       round((random() * 50)::numeric, floor(random() * 5)::int) * CASE WHEN random() < 0.45 THEN -1 ELSE 1 END AS quantity
  FROM generate_series(1, 200000) AS g;
ANALYZE stock_move;
SET LOCAL max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_result AS
SELECT item, rebate.stock_age(moved_on, quantity, '2024-06-30') AS r FROM stock_move GROUP BY item;
CREATE TEMP TABLE serial_one AS SELECT rebate.stock_age(moved_on, quantity, '2024-06-30') AS r FROM stock_move;

SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL enable_hashagg = off;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; result text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        result := result || line || E'\n';
    END LOOP;
    RETURN result;
END $$;
SELECT matches(pg_temp.plan_of($$SELECT item, rebate.stock_age(moved_on, quantity, '2024-06-30') FROM stock_move GROUP BY item$$),
               'Partial (Group)?Aggregate', 'the plan has a Partial Aggregate');
SELECT matches(pg_temp.plan_of($$SELECT rebate.stock_age(moved_on, quantity, '2024-06-30') FROM stock_move$$),
               'Workers Launched: [12]', 'and parallel workers really ran');
SELECT is((SELECT count(*) FROM serial_result s FULL JOIN (
              SELECT item, rebate.stock_age(moved_on, quantity, '2024-06-30') AS r FROM stock_move GROUP BY item) p USING (item)
            WHERE s.r IS DISTINCT FROM p.r), 0::bigint, 'parallel result = serial result, 40 items');
SELECT is((SELECT rebate.stock_age(moved_on, quantity, '2024-06-30') FROM stock_move), (SELECT r FROM serial_one),
          'parallel, one group of 200000 movements: = serial');
SELECT is((SELECT count(*) FROM serial_result s
            WHERE s.item < 8 AND s.r IS DISTINCT FROM pg_temp.fifo_model(s.item, '2024-06-30', 'stock_move')),
          0::bigint, 'and = the FIFO model on 8 of the big ledgers (5000 movements each)');

-- hash aggregate spilling to disk: states written out and read back as the real type
SET LOCAL max_parallel_workers_per_gather = 0;
SET LOCAL enable_hashagg = on;
SET LOCAL enable_sort = off;
SET LOCAL work_mem = '64kB';
SELECT matches(pg_temp.plan_of($$SELECT id % 5000, rebate.stock_age(moved_on, quantity, '2024-06-30') FROM stock_move GROUP BY 1$$),
               'Batches: ([2-9]|[1-9][0-9]+)', 'hash aggregate spilled to disk');
SELECT is((SELECT count(*) FROM (
              SELECT id % 5000 AS k, rebate.stock_age(moved_on, quantity, '2024-06-30') AS r FROM stock_move GROUP BY 1
              EXCEPT
              SELECT k, r FROM (SELECT id % 5000 AS k, rebate.stock_age(moved_on, quantity, '2024-06-30' ORDER BY id) AS r
                                  FROM stock_move GROUP BY 1) s) d), 0::bigint,
          'spilled hash aggregate = sorted aggregate, 5000 groups');
RESET enable_sort;
RESET work_mem;

-- a window over the whole partition gives the group's result; as_of must not vary in a group
SELECT is((SELECT count(*) FROM (
              SELECT DISTINCT item, rebate.stock_age(moved_on, quantity, '2024-06-30') OVER (PARTITION BY item) AS r FROM stock_move) w
              JOIN serial_result s USING (item) WHERE w.r IS DISTINCT FROM s.r), 0::bigint,
          'as a window function over the partition: the group result');
SELECT throws_ok($$SELECT rebate.stock_age(moved_on, quantity, as_of) FROM ledger JOIN items USING (item)$$,
                 '22023', 'stock_age cannot mix as_of dates within one group', 'one group, many as_of dates: refused');

SELECT * FROM finish();
ROLLBACK;
