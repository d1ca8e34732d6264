#!/usr/bin/env bash
# Concurrency test: many clients place orders, returns, credit notes and
# payments for overlapping partners, move orders along their lifecycle,
# create and delete drafts, and allocate payments to orders (and take
# allocations back), while other clients read rebate.progress and a live BI
# view.  Afterwards, and several times during the load on one REPEATABLE
# READ snapshot:
#   - every partner's progress in every program equals an independent
#     recomputation in plain SQL;
#   - the rollups (rebate.sales_rollup, kept by the C statement triggers in
#     the writing transactions) equal rebate.verify_rollups' recomputation
#     from the documents: it returns no row;
#   - rebate.order_paid holds, for every order with allocations, the day its
#     allocations first covered it (NULL while they do not), by a
#     recomputation here, and NULL for an order whose allocations were all
#     taken back.
# Nothing may deadlock or fail.  Meanwhile the BI snapshots are refreshed
# (CONCURRENTLY) over and over; every refresh must succeed, and after a last
# one the snapshots must equal the live views.
#
#   test/concurrency.sh [--clients C] [--readers R] [--threads J] [--seconds T] [--keep]
#
# Defaults: 16 writer clients (2 threads) and 4 reader clients (1 thread),
# 30 seconds of load (about 40 s in all on 2 cores).
# Database rebate_conc and role rebate_t_conc_mgr_<pid> are created and
# dropped (--keep keeps both).  Uses the server the libpq variables
# name, or a throwaway one (scripts/common.sh).
#
# Data: one tenant, 4 areas x 2 provinces x 2 cities, 20 active partners
# (4 distributors with dealers below them, a dealer with a sub-dealer, an
# independent dealer) with territories, 6 products under a price policy with
# floor and ceiling, one product authorised in two areas only, and four
# active programs on the quarter of the fixed day 2026-11-20:
#   Q4-SALES    net sales, retroactive tiers, an override for parents
#   Q4-UNIT     per unit: 25 per full 10 units of two products
#   Q4-QTY      quantity, retroactive amounts per unit, returns not counted
#   Q4-COLLECT  payments collected, retroactive tiers, capped
# Order dates run from 2026-09-25 to 2026-11-30, so documents outside the
# quarter and after the day are there too and must not count.
#
# Writers, one pgbench run of C clients (script weights): order 5 (draft,
# 1-3 lines, submitted, 80% approved), return 2 (part of one line of a
# counted order of the partner, never more than is left of it, or one time
# in five a credit note of 10% on part of a line; 80% approved), payment 2,
# status 2 (moves an order or return one step: submitted -> approved (10%
# cancelled), approved -> shipped -> delivered -> closed), draft 2 (deletes
# one of the partner's drafts, lines and all; or creates a draft with 1-3
# lines, and some of those it deletes again in the same transaction),
# allocation 3 (one time in ten takes one of the partner's allocations
# back; otherwise locks one of its payments with something left and, four
# times in ten, allocates what is left to its oldest placed orders not paid
# in full, in turn, up to three of them, in one statement -- receivables are
# settled oldest first, so that allocations of different payments meet on
# the same orders -- or else allocates all or part of it to what is open of
# one such order, its oldest three times in four; a second allocation of a
# payment to an order adds to the first).  Readers, a second
# pgbench run of R clients at the same time: progress 2 (reads
# rebate.progress), bi 1 (reads rebate.v_partner_performance of a partner
# and grain).  Writers pick partners from an exponential distribution over
# the 20, so a few partners are written by many clients at once.
# Every client, and the checks, run as a tenant manager (a role bound with
# rebate.grant_access; pgbench connects as the libpq user and sets the role
# with PGOPTIONS=-c role=...), so row-level security, the policy triggers
# (territory, product authorisation, price floor and ceiling, credit, order
# state), the allocation check (never more than the payment), the rollup
# triggers and the audit trigger are all in the path.  The set-up runs as
# the libpq user (a superuser).
#
# Fails (exit 1) on any pgbench error or aborted client, any failed
# transaction (deadlock 40P01, serialization 40001), a deadlock counted by
# the server for the database (pg_stat_database.deadlocks, and on a
# throwaway server "deadlock detected" in its log, printed with the
# statements that collided), or any difference between progress and the
# recomputation, any row of rebate.verify_rollups or any wrong paid day, at
# the end or during the load.
# shellcheck source=../scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

DB=rebate_conc
MGR=rebate_t_conc_mgr_$$
AS_OF=2026-11-20
clients=16 readers=4 threads=2 seconds=30 keep=false
while [ $# -gt 0 ]; do
    case $1 in
        --clients) clients=${2:-}; shift ;;
        --readers) readers=${2:-}; shift ;;
        --threads) threads=${2:-}; shift ;;
        --seconds) seconds=${2:-}; shift ;;
        --keep) keep=true ;;
        -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
for n in "$clients" "$readers" "$threads" "$seconds"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "not a positive whole number: $n" >&2; exit 2; }
done
[ "$threads" -le "$clients" ] || { echo "--threads must not exceed --clients" >&2; exit 2; }

provide_server
TMP=$(mktemp -d /tmp/rebate-conc.XXXXXX)
bench_pid="" readers_pid=""
cleanup() {
    local pid
    for pid in $bench_pid $readers_pid; do
        kill "$pid" 2>/dev/null || true
    done
    if $keep; then
        echo "kept: database $DB and role $MGR (drop the database before the role)"
    else
        psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS $MGR" \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
    stop_throwaway_cluster
}
trap cleanup EXIT

started=$SECONDS
cpsql() { psql_quiet -d "$DB" "$@"; }
# the same, as the tenant manager
mpsql() { PGOPTIONS="${PGOPTIONS:-} -c role=$MGR" psql_quiet -d "$DB" "$@"; }

say "concurrency: database $DB, $clients writer clients ($threads threads) and $readers readers, $seconds s of load, progress as of $AS_OF"
fresh_database $DB
psql_quiet -d postgres -c "DROP ROLE IF EXISTS $MGR" -c "CREATE ROLE $MGR LOGIN"

# ---------------------------------------------------------------------------
# The channel, the policy and the programs (as the superuser running the test).
cpsql >/dev/null <<'SQL'
INSERT INTO rebate.tenant (id, code, name) VALUES (1, 'CONC', '并发测试品牌');
-- the tenant's policy stays as shipped: territory and product_region reject, credit review
INSERT INTO rebate.region (id, tenant_id, code, name, level) VALUES (100, 1, 'CN', '中国', 'country');
INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id)
SELECT 100 + a, 1, 'A' || a, '大区' || a, 'area', 100 FROM generate_series(1, 4) a;
INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id)
SELECT 110 + 2 * a + p, 1, format('A%sP%s', a, p), format('省%s-%s', a, p), 'province', 100 + a
  FROM generate_series(1, 4) a, generate_series(0, 1) p;
INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id)
SELECT 200 + 10 * a + 2 * p + c, 1, format('A%sP%sC%s', a, p, c), format('市%s-%s-%s', a, p, c), 'city', 110 + 2 * a + p
  FROM generate_series(1, 4) a, generate_series(0, 1) p, generate_series(0, 1) c;

-- 4 distributors (1001-1004, area 1-4); dealers 1005-1018 below them; 1019
-- independent; 1020 a sub-dealer of the dealer 1005
INSERT INTO rebate.partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit)
SELECT 1000 + d, 1, 'D' || d, '总代' || d, 'distributor', 110 + 2 * d, 'active', 1000000000
  FROM generate_series(1, 4) d;
INSERT INTO rebate.partner (id, tenant_id, code, name, home_region_id, state, credit_limit, parent_id)
SELECT 1000 + s, 1, 'S' || s, '二代' || s, CASE WHEN s = 20 THEN 113 ELSE 111 + 2 * (1 + (s - 5) % 4) END,
       'active', 1000000000,
       CASE WHEN s = 19 THEN NULL WHEN s = 20 THEN 1005 ELSE 1001 + (s - 5) % 4 END
  FROM generate_series(5, 20) s;
-- each partner's territory: the area of the distributor at the top of its tree (1019: area 3)
INSERT INTO rebate.partner_territory (tenant_id, partner_id, region_id, valid)
SELECT 1, p.id, 100 + 1 + (coalesce(p.path[1], p.id) - 1001) % 4, '[2026-01-01,2027-01-01)'
  FROM rebate.partner p WHERE p.tenant_id = 1;

INSERT INTO rebate.product_category (id, tenant_id, code, name) VALUES (300, 1, 'ALL', '全部');
INSERT INTO rebate.product_category (id, tenant_id, code, name, parent_id) VALUES
    (301, 1, 'AC', '空调', 300), (302, 1, 'FR', '冰箱', 300);
INSERT INTO rebate.product (id, tenant_id, sku, name, category_id, list_price, standard_cost) VALUES
    (2001, 1, 'AC-1', '空调1', 301, 1200, 720), (2002, 1, 'AC-2', '空调2', 301, 2500, 1500),
    (2003, 1, 'AC-3', '空调3', 301, 3999, 2400), (2004, 1, 'FR-1', '冰箱1', 302, 850, 500),
    (2005, 1, 'FR-2', '冰箱2', 302, 420, 260), (2006, 1, 'FR-3', '冰箱3', 302, 6800, 4100);
-- FR-3 may be sold in areas 1 and 2 only
INSERT INTO rebate.product_region (tenant_id, product_id, region_id) VALUES (1, 2006, 101), (1, 2006, 102);
-- every product: 95% of list, floor 85%, ceiling 100% (the order script prices within)
INSERT INTO rebate.price_policy (tenant_id, code, name, category_id, price_percent, floor_percent, ceiling_percent, valid)
VALUES (1, 'BASE', '基础价', 300, 95, 85, 100, '[2026-01-01,2027-01-01)');

INSERT INTO rebate.program (id, tenant_id, code, name) VALUES
    (1, 1, 'Q4-SALES', '季度销售阶梯'), (2, 1, 'Q4-UNIT', '单品返利'),
    (3, 1, 'Q4-QTY', '台量阶梯'), (4, 1, 'Q4-COLLECT', '回款返利');
INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, override_schedule)
VALUES (1, 1, '[2026-10-01,)', 'net_sales', 'tiered',
        'retroactive 0:1%, 100000:1.5%, 500000:2%, 1500000:2.5%, 3000000:3%', 'retroactive 0:0.5%, 1000000:0.8%');
INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, unit_amount, unit_size, product_ids)
VALUES (1, 2, '[2026-10-01,)', 'quantity', 'per_unit', 25, 10, '{2001,2002}');
INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, returns_reduce)
VALUES (1, 3, '[2026-10-01,)', 'quantity', 'tiered', 'retroactive 0:1 per unit, 300:1.5 per unit, 1000:2 per unit', false);
INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, cap)
VALUES (1, 4, '[2026-10-01,)', 'collected', 'tiered', 'retroactive 0:0.5%, 100000:1%, 300000:1.2%', 3000);
SELECT count(*) FROM rebate.program_version pv, rebate.activate_program_version(pv.id) a;
SQL

# ---------------------------------------------------------------------------
# The independent recomputation: what progress must say, from the documents
# and the programs' rules as written here (literal thresholds and rates, not
# the extension's calculation functions), and what progress says.
cpsql <<'SQL'
CREATE SCHEMA conc_check;

CREATE FUNCTION conc_check.expected(as_of date)
    RETURNS TABLE (partner_id bigint, program_code text, component text, basis numeric, tier integer,
                   rate numeric, earned numeric, rebate numeric, next_tier_gap numeric,
                   next_tier_rebate numeric, documents bigint)
    LANGUAGE sql STABLE
AS $$
    WITH partners AS (
        SELECT p.id, p.parent_id FROM rebate.partner p WHERE p.tenant_id = 1
    ),
    -- every order, return and credit note line that counts up to as_of in the quarter of as_of:
    -- the document is approved, shipped, delivered or closed; a return counts on its
    -- original order's date, and only while that order counts
    -- (a credit note reduces the amount but moves no goods)
    line AS (
        SELECT o.partner_id, o.kind, l.product_id, l.quantity * l.unit_price AS amount,
               CASE o.kind WHEN 'order' THEN l.quantity WHEN 'return' THEN -l.quantity ELSE 0 END AS goods
          FROM rebate.sales_order o
          JOIN rebate.order_line l ON l.order_id = o.id
          LEFT JOIN rebate.sales_order orig ON orig.id = o.original_order_id
         WHERE o.tenant_id = 1
           AND o.status IN ('approved', 'shipped', 'delivered', 'closed')
           AND (orig.id IS NULL OR orig.status IN ('approved', 'shipped', 'delivered', 'closed'))
           AND coalesce(orig.order_date, o.order_date) >= date_trunc('quarter', as_of)::date
           AND coalesce(orig.order_date, o.order_date) <= as_of
    ),
    pay AS (
        SELECT y.partner_id, y.amount FROM rebate.payment y
         WHERE y.tenant_id = 1 AND y.received_on >= date_trunc('quarter', as_of)::date AND y.received_on <= as_of
    ),
    -- Q4-SALES: net sales, returns and credit notes subtracted
    sales AS (
        SELECT p.id AS partner_id, p.parent_id,
               coalesce(sum(CASE WHEN l.kind = 'order' THEN l.amount ELSE -l.amount END), 0) AS basis,
               count(l.partner_id) AS documents
          FROM partners p LEFT JOIN line l ON l.partner_id = p.id
         GROUP BY p.id, p.parent_id
    ),
    -- Q4-UNIT: 25 per full 10 units, per product (net of returns), products 2001 and 2002
    unit_product AS (
        SELECT l.partner_id, l.product_id,
               sum(l.goods) AS quantity, count(*) AS documents
          FROM line l WHERE l.product_id IN (2001, 2002)
         GROUP BY l.partner_id, l.product_id
    ),
    unit AS (
        SELECT p.id AS partner_id, coalesce(sum(u.quantity), 0) AS basis,
               coalesce(sum(trunc(u.quantity / 10) * 25), 0) AS earned,
               coalesce(sum(u.documents), 0)::bigint AS documents
          FROM partners p LEFT JOIN unit_product u ON u.partner_id = p.id
         GROUP BY p.id
    ),
    -- Q4-QTY: units ordered; returns and credit notes do not count
    qty AS (
        SELECT p.id AS partner_id, coalesce(sum(l.goods), 0) AS basis, count(l.partner_id) AS documents
          FROM partners p LEFT JOIN line l ON l.partner_id = p.id AND l.kind = 'order'
         GROUP BY p.id
    ),
    -- Q4-COLLECT: payments received
    collect AS (
        SELECT p.id AS partner_id, coalesce(sum(y.amount), 0) AS basis, count(y.partner_id) AS documents
          FROM partners p LEFT JOIN pay y ON y.partner_id = p.id
         GROUP BY p.id
    ),
    -- the override of Q4-SALES: parents on the summed net sales of their direct sub-partners
    override AS (
        SELECT s.parent_id AS partner_id, sum(s.basis) AS basis, sum(s.documents)::bigint AS documents
          FROM sales s WHERE s.parent_id IS NOT NULL
         GROUP BY s.parent_id
    ),
    -- the schedules, written out: retroactive, so the whole basis earns the rate of the highest threshold reached
    scale (schedule, threshold, rate) AS (
        VALUES ('sales', 0, 0.01), ('sales', 100000, 0.015), ('sales', 500000, 0.02), ('sales', 1500000, 0.025),
               ('sales', 3000000, 0.03),
               ('override', 0, 0.005), ('override', 1000000, 0.008),
               ('qty', 0, 1), ('qty', 300, 1.5), ('qty', 1000, 2),
               ('collect', 0, 0.005), ('collect', 100000, 0.01), ('collect', 300000, 0.012)
    ),
    tiered AS (
        SELECT s.partner_id, 'Q4-SALES' AS program_code, 'own' AS component, 'sales' AS schedule, s.basis, s.documents,
               NULL::numeric AS cap
          FROM sales s
        UNION ALL
        SELECT o.partner_id, 'Q4-SALES', 'override', 'override', o.basis, o.documents, NULL FROM override o
        UNION ALL
        SELECT q.partner_id, 'Q4-QTY', 'own', 'qty', q.basis, q.documents, NULL FROM qty q
        UNION ALL
        SELECT c.partner_id, 'Q4-COLLECT', 'own', 'collect', c.basis, c.documents, 3000 FROM collect c
    ),
    rated AS (
        SELECT t.*, reached.tier, reached.rate, t.basis * coalesce(reached.rate, 0) AS earned,
               nxt.threshold - t.basis AS next_tier_gap, nxt.threshold * nxt.rate AS next_tier_rebate
          FROM tiered t
          CROSS JOIN LATERAL (
              SELECT (SELECT count(*) FROM scale s WHERE s.schedule = t.schedule AND s.threshold <= t.basis)::integer AS tier,
                     (SELECT s.rate FROM scale s WHERE s.schedule = t.schedule AND s.threshold <= t.basis
                       ORDER BY s.threshold DESC LIMIT 1) AS rate) reached
          LEFT JOIN LATERAL (
              SELECT s.threshold, s.rate FROM scale s WHERE s.schedule = t.schedule AND s.threshold > t.basis
               ORDER BY s.threshold LIMIT 1) nxt ON true
    )
    SELECT r.partner_id, r.program_code, r.component, r.basis, r.tier, r.rate, r.earned,
           CASE WHEN r.earned > r.cap THEN r.cap ELSE r.earned END, r.next_tier_gap, r.next_tier_rebate, r.documents
      FROM rated r
    UNION ALL
    SELECT u.partner_id, 'Q4-UNIT', 'own', u.basis, NULL, 25, u.earned, u.earned, NULL, NULL, u.documents
      FROM unit u
$$;

CREATE FUNCTION conc_check.actual(as_of date)
    RETURNS TABLE (partner_id bigint, program_code text, component text, basis numeric, tier integer,
                   rate numeric, earned numeric, rebate numeric, next_tier_gap numeric,
                   next_tier_rebate numeric, documents bigint)
    LANGUAGE sql STABLE
AS $$
    SELECT pa.id, g.program_code, g.component, g.basis, g.tier, g.rate, g.earned, g.rebate, g.next_tier_gap,
           g.next_tier_rebate, g.documents
      FROM rebate.partner pa
     CROSS JOIN LATERAL rebate.progress(pa.id, as_of) g
     WHERE pa.tenant_id = 1
$$;

-- The day each order with allocations was paid in full, by this test's own
-- formulation: the received day of the first payment (by received_on, then
-- id) with which the allocations to the order reach its amount; NULL while
-- they do not.
CREATE FUNCTION conc_check.paid_days() RETURNS TABLE (order_id bigint, paid_on date)
    LANGUAGE sql STABLE
AS $$
    SELECT o.id,
           (SELECT p.received_on
              FROM rebate.payment_allocation a JOIN rebate.payment p ON p.id = a.payment_id
             WHERE a.order_id = o.id
               AND (SELECT sum(a2.amount)
                      FROM rebate.payment_allocation a2 JOIN rebate.payment p2 ON p2.id = a2.payment_id
                     WHERE a2.order_id = o.id AND (p2.received_on, p2.id) <= (p.received_on, p.id))
                   >= (SELECT sum(l.amount) FROM rebate.order_line l WHERE l.order_id = o.id)
             ORDER BY p.received_on, p.id LIMIT 1)
      FROM rebate.sales_order o
     WHERE o.tenant_id = 1 AND EXISTS (SELECT 1 FROM rebate.payment_allocation a WHERE a.order_id = o.id)
$$;

-- rebate.order_paid against it: an order with allocations has its row and
-- day there; an order whose allocations were all taken back may keep its
-- row, with no day.
CREATE FUNCTION conc_check.paid_differences()
    RETURNS TABLE (order_id bigint, kept_row boolean, kept_paid_on date, paid_on date)
    LANGUAGE sql STABLE
AS $$
    SELECT coalesce(k.order_id, e.order_id), k.order_id IS NOT NULL, k.paid_on, e.paid_on
      FROM (SELECT p.order_id, p.paid_on FROM rebate.order_paid p WHERE p.tenant_id = 1) k
      FULL JOIN conc_check.paid_days() e ON e.order_id = k.order_id
     WHERE k.order_id IS NULL OR k.paid_on IS DISTINCT FROM e.paid_on
$$;
SQL
cpsql -c "SELECT rebate.grant_access('$MGR', 1)" -c "GRANT USAGE ON SCHEMA conc_check TO $MGR" >/dev/null

# One comparison, as the manager: progress and the recomputation on one
# REPEATABLE READ snapshot, the second computed at least half a second after
# the first (writers commit in between), and on the same snapshot the rows of
# rebate.verify_rollups and the wrong paid days.  Prints "rows differences
# orders_seen rollup_rows paid_differences" and, after the snapshot,
# "orders_committed"; differing rows (at most 10 of each) go to stderr.
compare() {	# compare LABEL
    mpsql -At -F ' ' -v as_of="$AS_OF" -v label="$1" <<'SQL'
BEGIN ISOLATION LEVEL REPEATABLE READ;
CREATE TEMP TABLE actual ON COMMIT DROP AS SELECT * FROM conc_check.actual(:'as_of');
SELECT pg_sleep(0.5) \g /dev/null
CREATE TEMP TABLE expected ON COMMIT DROP AS SELECT * FROM conc_check.expected(:'as_of');
CREATE TEMP TABLE paired ON COMMIT DROP AS
SELECT coalesce(e.partner_id, a.partner_id) AS partner_id, coalesce(e.program_code, a.program_code) AS program_code,
       coalesce(e.component, a.component) AS component, e AS expected, a AS actual,
       e.partner_id IS NULL OR a.partner_id IS NULL
       OR (e.basis, e.tier, e.rate, e.earned, e.rebate, e.next_tier_gap, e.next_tier_rebate, e.documents)
          IS DISTINCT FROM (a.basis, a.tier, a.rate, a.earned, a.rebate, a.next_tier_gap, a.next_tier_rebate, a.documents)
          AS differs
  FROM expected e
  FULL JOIN actual a ON a.partner_id = e.partner_id AND a.program_code = e.program_code AND a.component = e.component;
SELECT format(E'%s: DIFFERENCE partner %s %s %s\n  recomputed %s\n  progress   %s', :'label', partner_id,
              program_code, component, expected, actual)
  FROM paired WHERE differs ORDER BY partner_id, program_code, component LIMIT 10 \g |cat 1>&2
CREATE TEMP TABLE rollup_rows ON COMMIT DROP AS SELECT * FROM rebate.verify_rollups(1);
SELECT format('%s: ROLLUP DIFFERENCE %s', :'label', r) FROM rollup_rows r LIMIT 10 \g |cat 1>&2
CREATE TEMP TABLE paid_rows ON COMMIT DROP AS SELECT * FROM conc_check.paid_differences();
SELECT format('%s: PAID DAY DIFFERENCE %s', :'label', d) FROM paid_rows d ORDER BY d.order_id LIMIT 10 \g |cat 1>&2
SELECT count(*), count(*) FILTER (WHERE differs), (SELECT count(*) FROM rebate.sales_order),
       (SELECT count(*) FROM rollup_rows), (SELECT count(*) FROM paid_rows)
  FROM paired;
COMMIT;
SELECT count(*) FROM rebate.sales_order;
SQL
}

# ---------------------------------------------------------------------------
# The pgbench scripts.  Partners for writers: 1001-1020, exponentially skewed
# toward the first ones; dates are days from 2026-10-01 (-6 .. 60).
cat >"$TMP/order.sql" <<'SQL'
\set pid 1000 + random_exponential(1, 20, 2.5)
\set day random(-6, 60)
\set nlines random(1, 3)
\set approve random(1, 10)
BEGIN;
SELECT r.id AS city FROM rebate.partner_territory t JOIN rebate.region r ON r.path @> ARRAY[t.region_id]
 WHERE t.partner_id = :pid AND r.level = 'city' ORDER BY random() LIMIT 1 \gset
INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id, order_date)
VALUES ('SO-' || txid_current(), :pid, :city, date '2026-10-01' + :day) RETURNING id AS oid \gset
INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price)
SELECT :oid, n, p.id, 1 + floor(random() * 40), round(p.list_price * (85 + floor(random() * 16))::numeric / 100, 2)
  FROM generate_series(1, :nlines) AS n
 CROSS JOIN LATERAL (SELECT p.id, p.list_price FROM rebate.product p
                      WHERE rebate.product_authorised(p.id, :city) AND n > 0 ORDER BY random() LIMIT 1) p;
UPDATE rebate.sales_order SET status = 'submitted' WHERE id = :oid;
\if :approve <= 8
UPDATE rebate.sales_order SET status = 'approved' WHERE id = :oid;
\endif
END;
SQL
cat >"$TMP/return.sql" <<'SQL'
\set pid 1000 + random_exponential(1, 20, 2.5)
\set delay random(0, 25)
\set pct random(10, 100)
\set approve random(1, 10)
\set credit random(1, 5)
BEGIN;
SELECT coalesce(max(s.id), 0) AS orig
  FROM (SELECT o.id FROM rebate.sales_order o
         WHERE o.partner_id = :pid AND o.kind = 'order' AND o.status IN ('approved', 'shipped', 'delivered', 'closed')
         ORDER BY random() LIMIT 1) s \gset
\if :orig > 0
-- the returns of one order one after the other, so that none returns more than is left
SELECT id FROM rebate.sales_order WHERE id = :orig FOR NO KEY UPDATE;
-- a return line carries the line_no of the original line it returns; one in five is a
-- credit note instead (10% off part of the line: no goods come back)
SELECT coalesce(max(x.line_no), 0) AS rline, coalesce(max(x.qty), 0) AS rqty
  FROM (SELECT l.line_no, greatest(1, floor((l.quantity - coalesce(back.qty, 0)) * :pct / 100))::integer AS qty
          FROM rebate.order_line l
          LEFT JOIN LATERAL (SELECT sum(rl.quantity) AS qty
                               FROM rebate.sales_order r JOIN rebate.order_line rl ON rl.order_id = r.id
                              WHERE r.original_order_id = l.order_id AND r.kind = 'return' AND r.status <> 'cancelled'
                                AND rl.line_no = l.line_no) back ON true
         WHERE l.order_id = :orig AND l.quantity > coalesce(back.qty, 0)
         ORDER BY random() LIMIT 1) x \gset
\if :rqty > 0
INSERT INTO rebate.sales_order (code, partner_id, kind, original_order_id, ship_to_region_id, order_date)
SELECT CASE WHEN :credit = 1 THEN 'CN-' ELSE 'RT-' END || txid_current(), o.partner_id,
       CASE WHEN :credit = 1 THEN 'credit_note' ELSE 'return' END, o.id, o.ship_to_region_id, o.order_date + :delay
  FROM rebate.sales_order o WHERE o.id = :orig RETURNING id AS rid \gset
INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price)
SELECT :rid, l.line_no, l.product_id, :rqty, CASE WHEN :credit = 1 THEN round(l.unit_price / 10, 2) ELSE l.unit_price END
  FROM rebate.order_line l
 WHERE l.order_id = :orig AND l.line_no = :rline;
UPDATE rebate.sales_order SET status = 'submitted' WHERE id = :rid;
\if :approve <= 8
UPDATE rebate.sales_order SET status = 'approved' WHERE id = :rid;
\endif
\endif
\endif
END;
SQL
cat >"$TMP/payment.sql" <<'SQL'
\set pid 1000 + random_exponential(1, 20, 2.5)
\set day random(-6, 60)
\set cents random(50000, 5000000)
INSERT INTO rebate.payment (code, partner_id, received_on, amount)
VALUES ('PAY-' || txid_current(), :pid, date '2026-10-01' + :day, :cents / 100.0);
SQL
cat >"$TMP/status.sql" <<'SQL'
\set pid 1000 + random_exponential(1, 20, 2.5)
\set cancel random(1, 10)
UPDATE rebate.sales_order o
   SET status = CASE o.status WHEN 'submitted' THEN CASE WHEN :cancel = 1 THEN 'cancelled' ELSE 'approved' END
                              WHEN 'approved' THEN 'shipped' WHEN 'shipped' THEN 'delivered' ELSE 'closed' END
 WHERE o.id = (SELECT s.id FROM rebate.sales_order s
                WHERE s.partner_id = :pid AND s.status IN ('submitted', 'approved', 'shipped', 'delivered')
                ORDER BY random() LIMIT 1)
   AND o.status IN ('submitted', 'approved', 'shipped', 'delivered');
SQL
cat >"$TMP/draft.sql" <<'SQL'
\set pid 1000 + random_exponential(1, 20, 2.5)
\set day random(-6, 60)
\set nlines random(1, 3)
\set act random(1, 4)
BEGIN;
SELECT coalesce(max(d.id), 0) AS did
  FROM (SELECT o.id FROM rebate.sales_order o WHERE o.partner_id = :pid AND o.status = 'draft'
         ORDER BY random() LIMIT 1) d \gset
\if :did > 0 AND :act <= 2
-- one of the partner's drafts deleted, its lines with it (ON DELETE CASCADE); a
-- client that deleted it first leaves nothing to delete
DELETE FROM rebate.sales_order WHERE id = :did AND status = 'draft';
\else
-- a new draft with lines, some of them (act 4) deleted again in the same transaction
SELECT r.id AS city FROM rebate.partner_territory t JOIN rebate.region r ON r.path @> ARRAY[t.region_id]
 WHERE t.partner_id = :pid AND r.level = 'city' ORDER BY random() LIMIT 1 \gset
INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id, order_date)
VALUES ('DR-' || txid_current(), :pid, :city, date '2026-10-01' + :day) RETURNING id AS oid \gset
INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price)
SELECT :oid, n, p.id, 1 + floor(random() * 40), round(p.list_price * (85 + floor(random() * 16))::numeric / 100, 2)
  FROM generate_series(1, :nlines) AS n
 CROSS JOIN LATERAL (SELECT p.id, p.list_price FROM rebate.product p
                      WHERE rebate.product_authorised(p.id, :city) AND n > 0 ORDER BY random() LIMIT 1) p;
\if :act = 4
DELETE FROM rebate.sales_order WHERE id = :oid;
\endif
\endif
END;
SQL
cat >"$TMP/allocation.sql" <<'SQL'
\set pid 1000 + random_exponential(1, 20, 2.5)
\set act random(1, 10)
\set oldest random(1, 4)
\set pct random(1, 100)
BEGIN;
\if :act = 1
-- one time in ten: one of the partner's allocations taken back
DELETE FROM rebate.payment_allocation a
 WHERE a.id = (SELECT x.id FROM rebate.payment_allocation x WHERE x.partner_id = :pid ORDER BY random() LIMIT 1);
\else
SELECT coalesce(max(y.id), 0) AS pay
  FROM (SELECT p.id FROM rebate.payment p
         WHERE p.partner_id = :pid
           AND p.amount > coalesce((SELECT sum(a.amount) FROM rebate.payment_allocation a WHERE a.payment_id = p.id), 0)
         ORDER BY random() LIMIT 1) y \gset
\if :pay > 0
-- the payment locked (as the allocation check locks it), so that what is left of
-- it, read after the lock, stays left: allocations never exceed the payment
SELECT p.id FROM rebate.payment p WHERE p.id = :pay FOR UPDATE;
SELECT p.amount - coalesce((SELECT sum(a.amount) FROM rebate.payment_allocation a WHERE a.payment_id = p.id), 0) AS rest
  FROM rebate.payment p WHERE p.id = :pay \gset
\if :act <= 5
-- four times in ten the payment settles the partner's oldest placed orders not
-- paid in full, in turn, up to three of them, in one statement (receivables are
-- settled oldest first, so allocations of different payments meet on the same
-- orders); a second allocation of the payment to an order adds to the first
INSERT INTO rebate.payment_allocation AS a (payment_id, order_id, partner_id, amount)
SELECT :pay, f.id, :pid, least(f.open, :rest - f.before)
  FROM (SELECT x.id, x.open,
               coalesce(sum(x.open) OVER (ORDER BY x.order_date, x.id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                   AS before
          FROM (SELECT o.id, o.order_date, t.amount - t.allocated AS open
                  FROM rebate.sales_order o
                 CROSS JOIN LATERAL (
                       SELECT (SELECT sum(l.amount) FROM rebate.order_line l WHERE l.order_id = o.id) AS amount,
                              (SELECT coalesce(sum(a.amount), 0) FROM rebate.payment_allocation a WHERE a.order_id = o.id)
                                  AS allocated) t
                 WHERE o.partner_id = :pid AND o.kind = 'order'
                   AND o.status IN ('submitted', 'approved', 'shipped', 'delivered', 'closed')
                   AND t.amount > t.allocated
                 ORDER BY o.order_date, o.id LIMIT 3) x) f
 WHERE f.before < :rest
    ON CONFLICT (tenant_id, payment_id, order_id) DO UPDATE SET amount = a.amount + excluded.amount;
\else
-- otherwise one placed order of the partner not paid in full (its oldest three
-- times in four) gets all of what is open of it and left of the payment, or one
-- time in two a part of that; none if others took the rest of the payment
SELECT coalesce(max(x.id), 0) AS oid, coalesce(max(x.open), 0) AS open
  FROM (SELECT o.id, t.amount - t.allocated AS open
          FROM rebate.sales_order o
         CROSS JOIN LATERAL (
               SELECT (SELECT sum(l.amount) FROM rebate.order_line l WHERE l.order_id = o.id) AS amount,
                      (SELECT coalesce(sum(a.amount), 0) FROM rebate.payment_allocation a WHERE a.order_id = o.id)
                          AS allocated) t
         WHERE o.partner_id = :pid AND o.kind = 'order'
           AND o.status IN ('submitted', 'approved', 'shipped', 'delivered', 'closed')
           AND t.amount > t.allocated AND :rest > 0
         ORDER BY CASE WHEN :oldest < 4 THEN o.order_date END, CASE WHEN :oldest < 4 THEN o.id END, random()
         LIMIT 1) x \gset
\if :oid > 0
INSERT INTO rebate.payment_allocation AS a (payment_id, order_id, partner_id, amount)
SELECT :pay, :oid, :pid, CASE WHEN :pct > 50 THEN least(:rest, :open)
                              ELSE greatest(0.01, round(least(:rest, :open) * :pct / 50, 2)) END
    ON CONFLICT (tenant_id, payment_id, order_id) DO UPDATE SET amount = a.amount + excluded.amount;
\endif
\endif
\endif
\endif
END;
SQL
cat >"$TMP/progress.sql" <<SQL
\\set pid random(1001, 1020)
SELECT * FROM rebate.progress(:pid, '$AS_OF');
SQL
cat >"$TMP/bi.sql" <<'SQL'
\set pid random(1001, 1020)
\set grain random(1, 3)
SELECT * FROM rebate.v_partner_performance
 WHERE partner_id = :pid AND grain = (ARRAY['month', 'quarter', 'year'])[:grain];
SQL
# writers and readers (script@weight): two pgbench runs at once, so that all the writer clients write
WRITER_MIX=(order@5 return@2 payment@2 status@2 draft@2 allocation@3)
READER_MIX=(progress@2 bi@1)

deadlocks() {
    psql_quiet -d postgres -At -c "SELECT deadlocks FROM pg_stat_database WHERE datname = '$DB'"
}
# wait (up to 10 s) until no session but ours is connected to the database
wait_for_sessions() {
    local _
    for _ in $(seq 1 50); do
        [ "$(psql_quiet -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB'")" = 0 ] && return 0
        sleep 0.2
    done
    return 1
}
deadlocks_before=$(deadlocks)
echo "set up in $((SECONDS - started)) s"

# ---------------------------------------------------------------------------
say "load: $clients writer clients (pgbench -j $threads) and $readers readers (-j 1), -T $seconds, as $MGR, with checks on one snapshot during it"
# what a throwaway server logs during the load (deadlocks, with the statements that collided)
server_log=${THROWAWAY_DIR:+$THROWAWAY_DIR/server.log}
log_start=0
if [ -n "$server_log" ] && [ -r "$server_log" ]; then
    log_start=$(stat -c %s "$server_log")
fi
bench_args() {	# bench_args CLIENTS THREADS SCRIPT@WEIGHT...: pgbench's arguments into args
    local s
    args=(-n -c "$1" -j "$2" -T "$seconds" --failures-detailed)
    shift 2
    for s in "$@"; do
        args+=(-f "$TMP/${s%@*}.sql@${s#*@}")
    done
}
bench_args "$clients" "$threads" "${WRITER_MIX[@]}"
PGOPTIONS="${PGOPTIONS:-} -c role=$MGR" "$PG_BIN/pgbench" "${args[@]}" "$DB" \
    >"$TMP/writers.out" 2>"$TMP/writers.err" &
bench_pid=$!
bench_args "$readers" 1 "${READER_MIX[@]}"
PGOPTIONS="${PGOPTIONS:-} -c role=$MGR" "$PG_BIN/pgbench" "${args[@]}" "$DB" \
    >"$TMP/readers.out" 2>"$TMP/readers.err" &
readers_pid=$!
load_started=$SECONDS

# checks during the load: one after the other from a fifth of it on, each
# begun while pgbench runs and at least two fifths of it remain
mid_checks() {
    local k=0 out
    sleep "$(awk -v s="$seconds" 'BEGIN { printf "%.1f", s / 5 }')"
    while kill -0 "$bench_pid" 2>/dev/null && { [ $k -eq 0 ] || [ $((SECONDS - load_started)) -le $((seconds * 3 / 5)) ]; }; do
        k=$((k + 1))
        out=$(compare "during load, check $k") || { echo "check $k during the load failed" >&2; return 1; }
        # k rows differences orders_seen rollup_rows paid_differences orders_committed
        echo "$k $(echo "$out" | tr '\n' ' ')" >>"$TMP/mid.txt"
        echo "  during load, check $k: $(echo "$out" | awk 'NR == 1 { printf "%s rows compared, %s differences, %s orders in the snapshot, %s rows from verify_rollups, %s wrong paid days", $1, $2, $3, $4, $5 } NR == 2 { printf "; %s committed by its end", $1 }')"
        sleep 1
    done
}
: >"$TMP/mid.txt"
# the BI snapshots refreshed (concurrently, after the first) over and over while the writers write
refresher() {
    local n=0
    while kill -0 "$bench_pid" 2>/dev/null; do
        if mpsql -At -c "SELECT count(*) FROM rebate.refresh_report_snapshots()" >/dev/null 2>>"$TMP/refresh.err"; then
            n=$((n + 1))
        fi
        echo "$n" >"$TMP/refresh.count"
        sleep 0.5
    done
}
: >"$TMP/refresh.err"
echo 0 >"$TMP/refresh.count"
refresher &
refresher_pid=$!
mid_status=0
mid_checks || mid_status=$?
bench_status=0 readers_status=0
wait "$bench_pid" || bench_status=$?
bench_pid=""
wait "$readers_pid" || readers_status=$?
readers_pid=""
wait "$refresher_pid" || true
wait_for_sessions || echo "warning: sessions still connected to $DB after the load" >&2

failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

# One pgbench run's outcome (writers or readers): any error, aborted client or
# failed transaction fails the test.  Sets <run>_processed, _failed, _serial,
# _deadlock, _tps and _per_script (transactions per script, in the order given).
bench_outcome() {	# bench_outcome RUN EXIT_STATUS
    local run=$1 status=$2 out=$TMP/$1.out err=$TMP/$1.err processed failed_tx serial deadlock
    if [ "$status" -ne 0 ] || [ -s "$err" ] || grep -q 'failures: [1-9]' "$out"; then
        sed "s/^/  $run: /" "$out"
        sed "s/^/  $run pgbench: /" "$err" >&2
    fi
    [ "$status" -eq 0 ] || fail "pgbench ($run) exited with status $status"
    if grep -q 'aborted' "$err"; then fail "pgbench clients ($run) aborted"; fi
    processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
    failed_tx=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
    serial=$(sed -n 's/^number of serialization failures: \([0-9]*\).*/\1/p' "$out")
    deadlock=$(sed -n 's/^number of deadlock failures: \([0-9]*\).*/\1/p' "$out")
    if [ -z "$processed" ] || [ "$processed" -eq 0 ]; then fail "pgbench ($run) processed no transactions"; fi
    [ "${failed_tx:-x}" = 0 ] || fail "failed transactions ($run): ${failed_tx:-unknown}"
    [ "${serial:-0}" = 0 ] || fail "serialization failures ($run): $serial"
    [ "${deadlock:-0}" = 0 ] || fail "deadlock failures ($run): $deadlock"
    printf -v "${run}_processed" %s "${processed:-0}"
    printf -v "${run}_failed" %s "${failed_tx:-?}"
    printf -v "${run}_serial" %s "${serial:-?}"
    printf -v "${run}_deadlock" %s "${deadlock:-?}"
    printf -v "${run}_tps" %s "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out")"
    printf -v "${run}_per_script" %s "$(awk '/^SQL script [0-9]+:/ { n = $NF; sub(/.*\//, "", n); sub(/\.sql$/, "", n) }
                                            /^ - [0-9]+ transactions/ { printf "%s%s %s", sep, n, $2; sep = ", " }' "$out")"
}
writers_processed=0 writers_failed="?" writers_serial="?" writers_deadlock="?" writers_tps="" writers_per_script=""
readers_processed=0 readers_failed="?" readers_serial="?" readers_deadlock="?" readers_tps="" readers_per_script=""
bench_outcome writers "$bench_status"
bench_outcome readers "$readers_status"
script_tx() {	# script_tx RUN SCRIPT: its transactions
    awk -v s="$2" '/^SQL script [0-9]+:/ { n = $NF; sub(/.*\//, "", n); sub(/\.sql$/, "", n); p = (n == s); next }
                   p && /^ - [0-9]+ transactions/ { print $2; exit }' "$TMP/$1.out"
}
progress_tx=$(script_tx readers progress)
bi_tx=$(script_tx readers bi)

deadlocks_after=$(deadlocks)
[ "$deadlocks_after" = "$deadlocks_before" ] || fail "the server counted $((deadlocks_after - deadlocks_before)) deadlocks in $DB"
log_deadlocks="not read (not a throwaway server)"
if [ -n "$server_log" ] && [ -r "$server_log" ]; then
    tail -c +"$((log_start + 1))" "$server_log" >"$TMP/server.log"
    log_deadlocks=$(grep -c 'deadlock detected' "$TMP/server.log" || true)
    if [ "$log_deadlocks" -ne 0 ]; then
        # each deadlock as logged: who waited for whom, and the statements (at most 200 lines)
        awk '/deadlock detected/ { p = 1 } p { print "  log: " $0 } p && /STATEMENT:/ { p = 0 }' "$TMP/server.log" \
            | head -n 200 >&2
        fail "the server log reports $log_deadlocks deadlocks during the load"
    fi
fi

mid_done=$(wc -l <"$TMP/mid.txt")
[ "$mid_status" -eq 0 ] || fail "a check during the load failed"
[ "$mid_done" -ge 1 ] || fail "no check ran during the load (is --seconds too short?)"
mid_diffs=$(awk '{ s += $3 } END { print s + 0 }' "$TMP/mid.txt")
mid_rows=$(awk '{ s += $2 } END { print s + 0 }' "$TMP/mid.txt")
mid_rollup_rows=$(awk '{ s += $5 } END { print s + 0 }' "$TMP/mid.txt")
mid_paid_diffs=$(awk '{ s += $6 } END { print s + 0 }' "$TMP/mid.txt")
[ "$mid_diffs" = 0 ] || fail "$mid_diffs differences between progress and the recomputation during the load"
[ "$mid_rollup_rows" = 0 ] || fail "$mid_rollup_rows rows from rebate.verify_rollups during the load"
[ "$mid_paid_diffs" = 0 ] || fail "$mid_paid_diffs wrong paid days in rebate.order_paid during the load"

# ---------------------------------------------------------------------------
say "after the load: progress against the recomputation"
out=$(compare "after the load") || { fail "the final comparison failed to run"; out="0 0 0 0 0"; }
read -r rows diffs _ _ paid_diffs <<<"$(echo "$out" | head -n 1)"
expected_rows=$(cpsql -At -c "SELECT 4 * count(*) + count(*) FILTER (WHERE EXISTS (SELECT 1 FROM rebate.partner c WHERE c.parent_id = p.id))
                               FROM rebate.partner p WHERE p.tenant_id = 1")
echo "  $rows rows compared (20 partners x 4 programs + the override rows of parents), $diffs differences"
[ "$diffs" = 0 ] || fail "$diffs differences between progress and the recomputation after the load"
[ "$rows" = "$expected_rows" ] || fail "$rows rows compared, $expected_rows expected"

say "after the load: the rollups against rebate.verify_rollups, the paid days against the recomputation"
verify_rows=$(mpsql -At -c "SELECT count(*) FROM rebate.verify_rollups(1)") || verify_rows="(failed to run)"
read -r rollup_keys rollup_rows rollup_slots <<<"$(mpsql -At -F ' ' -c "
    SELECT count(DISTINCT (partner_id, of_sub_partners, date_basis, unit, period_start, currency, kind, product_id, region_id)),
           count(*), count(DISTINCT writer_slot)
      FROM rebate.sales_rollup WHERE tenant_id = 1")"
echo "  SELECT count(*) FROM rebate.verify_rollups(1): $verify_rows (of $rollup_keys keys kept in $rollup_rows rows by $rollup_slots writer slots)"
if [ "$verify_rows" != 0 ]; then
    mpsql -c "SELECT * FROM rebate.verify_rollups(1)" | sed 's/^/  /' >&2 || true
    fail "rebate.verify_rollups returned $verify_rows rows after the load"
fi
read -r paid_orders paid_full <<<"$(mpsql -At -F ' ' -c "SELECT count(*), count(paid_on) FROM rebate.order_paid WHERE tenant_id = 1")"
echo "  rebate.order_paid: $paid_orders orders, $paid_full paid in full; $paid_diffs wrong paid days"
[ "$paid_diffs" = 0 ] || fail "$paid_diffs wrong paid days in rebate.order_paid after the load"

say "after the load: the BI snapshots, refreshed during it, against the live views"
refreshes=$(cat "$TMP/refresh.count")
echo "  $refreshes refreshes of the snapshots ran during the load"
[ -s "$TMP/refresh.err" ] && { sed 's/^/  refresh: /' "$TMP/refresh.err" >&2; fail "a snapshot refresh failed during the load"; }
[ "$refreshes" -ge 2 ] || fail "fewer than two snapshot refreshes ran during the load"
snapshot_diffs=$(mpsql -At <<'SQL'
SELECT count(*) FROM rebate.refresh_report_snapshots();
SELECT (SELECT count(*) FROM ((SELECT * FROM rebate.v_partner_performance EXCEPT SELECT * FROM rebate.v_partner_performance_snapshot)
                              UNION ALL (SELECT * FROM rebate.v_partner_performance_snapshot EXCEPT SELECT * FROM rebate.v_partner_performance)) d)
     + (SELECT count(*) FROM ((SELECT * FROM rebate.v_region_performance EXCEPT SELECT * FROM rebate.v_region_performance_snapshot)
                              UNION ALL (SELECT * FROM rebate.v_region_performance_snapshot EXCEPT SELECT * FROM rebate.v_region_performance)) d);
SQL
)
snapshot_diffs=$(tail -n 1 <<<"$snapshot_diffs")
echo "  after a last refresh: $snapshot_diffs rows differ between the snapshots and the live views"
[ "$snapshot_diffs" = 0 ] || fail "$snapshot_diffs rows differ between the snapshots and the live views"

cpsql -At -F $'\t' >"$TMP/facts.tsv" <<SQL
SELECT k.kind, count(o.id), NULL,
       (SELECT string_agg(format('%s %s', status, n), ', ' ORDER BY status)
          FROM (SELECT status, count(*) AS n FROM rebate.sales_order WHERE kind = k.kind GROUP BY status) s)
  FROM (VALUES ('order'), ('return'), ('credit_note')) k (kind)
  LEFT JOIN rebate.sales_order o ON o.kind = k.kind
 GROUP BY k.kind
UNION ALL
SELECT 'lines', count(*), NULL, NULL FROM rebate.order_line
UNION ALL
SELECT 'payments', count(*), NULL, NULL FROM rebate.payment
UNION ALL
SELECT 'outside', count(*), NULL, NULL FROM rebate.sales_order
 WHERE kind = 'order' AND (order_date < '2026-10-01' OR order_date > '$AS_OF')
UNION ALL
SELECT 'busiest', max(n), NULL, min(n)::text FROM (SELECT count(*) AS n FROM rebate.sales_order GROUP BY partner_id) s
UNION ALL
SELECT 'tiers', NULL, NULL, string_agg(format('%s %s', tier, n), ', ' ORDER BY tier)
  FROM (SELECT e.tier, count(*) AS n FROM conc_check.expected('$AS_OF') e
         WHERE e.program_code = 'Q4-SALES' AND e.component = 'own' GROUP BY e.tier) s
UNION ALL
SELECT 'capped', count(*) FILTER (WHERE e.rebate < e.earned), NULL, NULL
  FROM conc_check.expected('$AS_OF') e WHERE e.program_code = 'Q4-COLLECT'
UNION ALL
SELECT 'deleted', count(*) FILTER (WHERE table_name = 'sales_order'), NULL,
       (count(*) FILTER (WHERE table_name = 'order_line'))::text
  FROM rebate.audit_log WHERE operation = 'DELETE' AND table_name IN ('sales_order', 'order_line')
UNION ALL
SELECT 'allocations', count(*), sum(amount)::text, count(DISTINCT order_id)::text FROM rebate.payment_allocation
UNION ALL
SELECT 'allocation changes', count(*) FILTER (WHERE operation = 'INSERT'),
       (count(*) FILTER (WHERE operation = 'UPDATE'))::text, (count(*) FILTER (WHERE operation = 'DELETE'))::text
  FROM rebate.audit_log WHERE table_name = 'payment_allocation'
UNION ALL
-- the most writing transactions of one partner in flight at once, from first to last row each wrote
-- (the audit log's clock times; time spent waiting before a first write is not seen)
SELECT 'overlap', max(inflight), NULL, NULL
  FROM (SELECT sum(e.delta) OVER (PARTITION BY e.partner_id ORDER BY e.at, e.delta DESC) AS inflight
          FROM (SELECT t.partner_id, x.at, x.delta
                  FROM (SELECT coalesce(new_row, old_row) ->> 'partner_id' AS partner_id, transaction_id,
                               min(changed_at) AS first, max(changed_at) AS last
                          FROM rebate.audit_log
                         WHERE table_name IN ('sales_order', 'order_line', 'payment', 'payment_allocation')
                         GROUP BY 1, 2) t
                 CROSS JOIN LATERAL (VALUES (t.first, 1), (t.last, -1)) x (at, delta)) e) s
SQL
fact() { awk -F'\t' -v k="$1" -v f="$2" '$1 == k { print $f }' "$TMP/facts.tsv"; }

say "summary"
echo "writers: $writers_processed transactions in $seconds s ($writers_tps tps), $clients clients as $MGR (a tenant manager)"
echo "  per script: $writers_per_script"
echo "  failed transactions: $writers_failed (serialization $writers_serial, deadlock $writers_deadlock)"
echo "readers: $readers_processed transactions ($readers_tps tps), $readers clients; per script: $readers_per_script"
echo "  failed transactions: $readers_failed (serialization $readers_serial, deadlock $readers_deadlock)"
echo "deadlocks: $((deadlocks_after - deadlocks_before)) counted by the server for $DB; in its log: $log_deadlocks"
echo "  at most $(fact overlap 2) writing transactions of one partner were in flight at once"
echo "documents: $(fact order 2) orders ($(fact order 4))"
echo "  $(fact return 2) returns ($(fact return 4)), $(fact credit_note 2) credit notes ($(fact credit_note 4))"
echo "  $(fact lines 2) lines, $(fact payments 2) payments"
echo "  $(fact deleted 2) drafts deleted with $(fact deleted 4) lines"
echo "  $(fact 'allocation changes' 2) allocations made, $(fact 'allocation changes' 3) added to, $(fact 'allocation changes' 4) taken back;" \
     "$(fact allocations 2) left ($(fact allocations 3)) on $(fact allocations 4) orders, $paid_full of $paid_orders orders in rebate.order_paid paid in full"
echo "  $(fact outside 2) orders dated outside [2026-10-01, $AS_OF]; orders, returns and credit notes per partner: $(fact busiest 4) to $(fact busiest 2)"
echo "  partners per Q4-SALES tier: $(fact tiers 4); Q4-COLLECT capped for $(fact capped 2) of 20"
echo "progress reads: ${progress_tx:-0} by pgbench clients, $(( (mid_done + 1) * 20 )) by the $((mid_done + 1)) checks; ${bi_tx:-0} reads of v_partner_performance"
echo "compared: $mid_rows rows in $mid_done checks during the load, $mid_diffs differences; $rows rows after it, $diffs differences"
echo "rollups: $mid_rollup_rows rows from verify_rollups in $mid_done checks during the load, $verify_rows after it;" \
     "wrong paid days: $mid_paid_diffs during, $paid_diffs after"
echo "time: $((SECONDS - started)) s"
if [ $failed -ne 0 ]; then
    echo "concurrency: FAILED"
    exit 1
fi
echo "concurrency: passed"
