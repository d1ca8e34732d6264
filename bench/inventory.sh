#!/usr/bin/env bash
# bench/inventory.sh — the inventory module at the size of the issue's goals:
# 10M ledger movements (rebate.stock_movement), 10k partners, 300 products.
#   (a) stock on hand of one partner x product now: rebate.partner_stock(p, product)
#   (b) the same at a past date: rebate.partner_stock(p, product, day)
#       goal for both: under 5 ms a call
#   (c) a brand's whole stock by region: SELECT count(*), sum(on_hand)
#       FROM rebate.v_stock_by_region, as the brand's manager (a login role
#       bound by rebate.grant_access; every partner shares its stock through
#       rebate.stock_sharing, so the view shows everything) and as the
#       superuser (no row-level security); goal: under 1 s
#   (d) writing movements with the balances maintained (the statement
#       trigger maintain_balance on) against the bare insert (the trigger
#       disabled; the same indexes, checks and foreign keys): a batched load
#       of 1,000-row INSERTs, and single-row INSERT transactions under
#       pgbench; goal: at most 1.3x the bare insert
#
#   bench/inventory.sh                  full scale (10M movements, 10k partners); 5 rounds; about 25 min
#   bench/inventory.sh --scale small    100k movements, 200 partners; 5 rounds of shorter writes (a quick try)
#   bench/inventory.sh --check          the small data set and the correctness checks only, "ok - ..." or
#                                       "not ok - ...": balances == ledger (rebate.verify_stock) after the
#                                       load and after writes with the trigger on (batched and pgbench);
#                                       partner_stock now and at a past date == the ledger's sum for the
#                                       sampled pairs, as superuser, manager and the partners' own users;
#                                       the view as manager == as superuser == the ledger total; a sell-out
#                                       beyond the stock is refused (RB100) and leaves no trace.
#                                       No timing is taken or judged.
#
# Options: --runs R (timed runs of every measurement, 5), --pairs N (partner x
# product pairs of (a) and (b), 200), --write-rows N (rows of a batched load,
# 100,000; small 20,000), --batch N (rows per INSERT, 1,000), --seconds T (each
# pgbench run, 30; small 10), --clients C and --threads J (pgbench, 8 and 2),
# --partners P and --movements M (the data set), --explain (also print the
# plan of the trigger's statement for a 1-row and a 1,000-row INSERT, through
# auto_explain with log_nested_statements), --keep (keep database
# bench_inventory).
#
# The data (built in the database, seeded): a tenant with a region tree
# (7 areas, 31 provinces, 310 cities), 300 products, P partners (one
# distributor per 100, the others dealers under them), one warehouse each
# in its home city, and the brand's central and 7 regional warehouses.  Each
# partner stocks about 50 random products, each brand warehouse all 300.  An
# item's movements (a share of M in proportion: ~95% in partners'
# warehouses, at least 4 an item) are spread over the last 3 years: a
# receipt (40-80 units, x10 at the brand), then three sell-outs (3% scrap;
# shipments at the brand) of 1-10 units each, and so on, so that stock never
# goes negative.  The ledger is loaded in 36 month-long INSERT ... SELECT
# batches in date order (two sessions), with the balance trigger off; the
# balances are then built by rebate.rebuild_stock_balances (what the trigger
# does row by row is measured in (d)), and VACUUM (FREEZE, ANALYZE).
#
# How it is measured:
#   (a)(b) a PL/pgSQL loop calls, for each pair, EXECUTE 'SELECT
#       rebate.partner_stock($1, $2, $3)' (a statement parsed, planned and run
#       like a client's query, without the network) between two
#       clock_timestamp() readings: per-call server time (each session
#       makes one untimed call first, so that no timed call finds the
#       session's caches cold).  The 200 random
#       pairs are called as the superuser and as the manager; 10 random
#       partners x 20 of their products by each partner's own user (a login
#       role bound to it).  A warm-up run, then --runs runs; each run's median
#       and p99 (nearest rank), and the median of those over the runs.
#       Every result is compared with the ledger's sum computed directly.
#   (c) EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON): planning + execution time;
#       a warm-up, then --runs runs of each caller, alternating.
#   (d) each round runs both variants (trigger on, off; the first
#       alternating) of the batched load (--write-rows rows of receipt and
#       sell-out pairs of random partner items, --batch rows per statement
#       and transaction, one session: the time of the whole load) and of
#       pgbench (-M prepared, --clients clients, --seconds s, one random
#       receipt or sell-out per transaction: tps).  Before every run VACUUM
#       (ANALYZE) of the ledger and the balances, and CHECKPOINT.  After a run
#       with the trigger on, the balances of the items it touched equal the
#       ledger's sums; after one with it off, the balances are brought up to
#       date from the run's movements (so every run starts consistent).
#       Ratios on / off of the medians (time; for pgbench tps off / tps on).
#   Timings are never judged; a failed correctness check stops the benchmark
#   (exit 1).  The results go to stdout as markdown tables.
#
# Needs the extension installed.  Uses the server the libpq variables name
# (as a superuser), or a throwaway one (scripts/common.sh) started with
# REBATE_SERVER_OPTS (default below for the full scale).
# shellcheck source=../scripts/common.sh
source "$(dirname "$0")/../scripts/common.sh"
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"

DB=bench_inventory

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

scale=full runs=5 pairs=200 opt_write_rows="" batch=1000 opt_seconds="" clients=8 threads=2
opt_partners="" opt_movements="" keep=false explain=false
while [ $# -gt 0 ]; do
    case $1 in
        --scale) scale=${2:-}; shift ;;
        --check) check_mode=true ;;
        --runs) runs=${2:-}; shift ;;
        --pairs) pairs=${2:-}; shift ;;
        --write-rows) opt_write_rows=${2:-}; shift ;;
        --batch) batch=${2:-}; shift ;;
        --seconds) opt_seconds=${2:-}; shift ;;
        --clients) clients=${2:-}; shift ;;
        --threads) threads=${2:-}; shift ;;
        --partners) opt_partners=${2:-}; shift ;;
        --movements) opt_movements=${2:-}; shift ;;
        --explain) explain=true ;;
        --keep) keep=true ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
    shift
done
$check_mode && scale=small
case $scale in
    full) partners=10000 movements=10000000 write_rows=100000 seconds=30 ;;
    small) partners=200 movements=100000 write_rows=20000 seconds=10 ;;
    *) echo "--scale is full or small, not $scale" >&2; usage ;;
esac
partners=${opt_partners:-$partners} movements=${opt_movements:-$movements}
write_rows=${opt_write_rows:-$write_rows} seconds=${opt_seconds:-$seconds}
if $check_mode; then write_rows=${opt_write_rows:-5000}; fi
for n in "$runs" "$pairs" "$write_rows" "$batch" "$seconds" "$clients" "$threads" "$partners" "$movements"; do
    is_count "$n" || { echo "not a positive whole number: $n" >&2; usage; }
done
[ "$threads" -le "$clients" ] || { echo "--threads must not exceed --clients" >&2; exit 2; }
(( write_rows % 2 == 0 )) || { echo "--write-rows must be even (receipt and sell-out pairs)" >&2; exit 2; }
USERS=10		# partners whose own users call partner_stock
PER_USER=20		# products each of them asks about
BATCHES=36		# month-long load batches over 3 years

if [ "$scale" = full ]; then
    : "${REBATE_SERVER_OPTS=-c shared_buffers=4GB -c work_mem=64MB -c maintenance_work_mem=1GB -c max_wal_size=16GB -c checkpoint_timeout=30min}"
fi
export REBATE_SERVER_OPTS
server_kind="the server the libpq variables name"
[ -n "${PGHOST:-}${PGPORT:-}${PGDATABASE:-}" ] \
    || server_kind="a throwaway cluster started by bench/inventory.sh (fsync=off; REBATE_SERVER_OPTS: ${REBATE_SERVER_OPTS:-none})"
provide_server
PGBENCH=$PG_BIN/pgbench
TMP=$(mktemp -d /tmp/rebate-inventory-bench.XXXXXX)
chmod 755 "$TMP"
MGR=inv_bench_mgr_$$
user_role() { echo "inv_bench_u$1_$$"; }
all_roles() { local i; echo "$MGR"; for ((i = 1; i <= USERS; i++)); do user_role "$i"; done; }
cleanup() {
    local r
    $keep || psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    if ! $keep; then
        for r in $(all_roles); do psql_quiet -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true; done
    fi
    rm -rf "$TMP"
    stop_throwaway_cluster
}
trap cleanup EXIT
export PGOPTIONS="${PGOPTIONS:-} -c synchronous_commit=off -c jit=off"
bpsql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
as_role() { local role=$1; shift; PGOPTIONS="$PGOPTIONS -c role=$role" bpsql "$@"; }
now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
started_all=$(now_ns)

# ---------------------------------------------------------------------------
say "database $DB: $(thousands "$partners") partners, 300 products, about $(thousands "$movements") movements"
fresh_database $DB
for r in $(all_roles); do
    psql_quiet -d postgres -c "DROP ROLE IF EXISTS $r" -c "CREATE ROLE $r LOGIN"
done
t0=$(now_ns)
bpsql -v partners="$partners" -v movements="$movements" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE SCHEMA bench_inv;
SELECT setseed(0.42);
INSERT INTO rebate.tenant (id, code, name) VALUES (1, 'INVB', '库存基准品牌');
-- regions: the country, 7 areas, 31 provinces, 10 cities each
INSERT INTO rebate.region (id, tenant_id, code, name, level) VALUES (10, 1, 'CN', '中国', 'country');
INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id)
SELECT 10 + a, 1, 'A' || a, '大区' || a, 'area', 10 FROM generate_series(1, 7) a;
INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id)
SELECT 100 + p, 1, 'P' || p, '省' || p, 'province', 10 + 1 + (p - 1) % 7 FROM generate_series(1, 31) p;
INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id)
SELECT 1000 + c, 1, 'C' || c, '市' || c, 'city', 100 + 1 + (c - 1) / 10 FROM generate_series(1, 310) c;
INSERT INTO rebate.product_category (id, tenant_id, code, name) VALUES (20, 1, 'ALL', '全部');
INSERT INTO rebate.product_category (id, tenant_id, code, name, parent_id)
SELECT 20 + k, 1, 'CAT' || k, '类别' || k, 20 FROM generate_series(1, 10) k;
INSERT INTO rebate.product (id, tenant_id, sku, name, category_id, list_price)
SELECT 5000 + k, 1, 'SKU' || k, '产品' || k, 20 + 1 + (k - 1) % 10, 100 + k FROM generate_series(1, 300) k;
-- partners: one distributor per 100, the others dealers under them, in the 310 cities
CREATE TABLE bench_inv.partner AS
SELECT n, 100000 + n AS id,
       CASE WHEN n <= greatest(1, :partners / 100) THEN NULL ELSE 100000 + 1 + (n - 1) % greatest(1, :partners / 100) END AS parent_id,
       1000 + 1 + (n * 7919) % 310 AS city
  FROM generate_series(1, :partners) n;
INSERT INTO rebate.partner (id, tenant_id, code, name, kind, home_region_id, state, parent_id)
SELECT id, 1, 'D' || n, '渠道商' || n, CASE WHEN parent_id IS NULL THEN 'distributor' ELSE 'dealer' END, city, 'active', parent_id
  FROM bench_inv.partner ORDER BY parent_id NULLS FIRST, n;
-- warehouses: the brand's central one and one per area; one per partner in its city
INSERT INTO rebate.warehouse (id, tenant_id, code, name, kind, partner_id, region_id)
VALUES (1, 1, 'WH-CENTRAL', '中央仓', 'central', NULL, 1001);
INSERT INTO rebate.warehouse (id, tenant_id, code, name, kind, partner_id, region_id)
SELECT 1 + a, 1, 'WH-A' || a, '区域仓' || a, 'regional', NULL,
       (SELECT min(c.id) FROM rebate.region c JOIN rebate.region p ON p.id = c.parent_id WHERE p.parent_id = 10 + a)
  FROM generate_series(1, 7) a;
INSERT INTO rebate.warehouse (id, tenant_id, code, name, kind, partner_id, region_id)
SELECT 100 + n, 1, 'WH-D' || n, '渠道仓' || n, 'partner', id, city FROM bench_inv.partner;
-- every partner shares its stock with the brand
INSERT INTO rebate.stock_sharing (tenant_id, partner_id, granted_by, note)
SELECT 1, id, 'bench', 'bench' FROM bench_inv.partner;
-- items: every brand warehouse x every product; each partner ~50 of the 300 products
CREATE TABLE bench_inv.item AS
SELECT row_number() OVER (ORDER BY warehouse_id, product_id)::int AS n, x.* FROM (
    SELECT w.id AS warehouse_id, NULL::bigint AS partner_id, p.id AS product_id, true AS brand
      FROM rebate.warehouse w CROSS JOIN rebate.product p WHERE w.partner_id IS NULL
    UNION ALL
    SELECT w.id, w.partner_id, p.id, false
      FROM rebate.warehouse w CROSS JOIN rebate.product p
     WHERE w.partner_id IS NOT NULL AND random() < 50.0 / 300) x;
SELECT count(*) FILTER (WHERE brand) AS brand_items, count(*) FILTER (WHERE NOT brand) AS partner_items
  FROM bench_inv.item \gset
-- movements per item: 5% of them in the brand's warehouses, at least 4 an item; a phase staggers the days
ALTER TABLE bench_inv.item ADD nmov int, ADD phase int;
UPDATE bench_inv.item SET
    nmov = greatest(4, round(CASE WHEN brand THEN 0.05 * :movements / :brand_items
                                  ELSE 0.95 * :movements / :partner_items END * (0.5 + random())))::int,
    phase = floor(random() * 1095)::int;
ALTER TABLE bench_inv.item ADD PRIMARY KEY (n);
-- the partners' items numbered densely, for pgbench
CREATE TABLE bench_inv.pitem AS
SELECT row_number() OVER (ORDER BY n)::int AS k, warehouse_id, partner_id, product_id FROM bench_inv.item WHERE NOT brand;
ALTER TABLE bench_inv.pitem ADD PRIMARY KEY (k);
VACUUM ANALYZE bench_inv.item, bench_inv.pitem;
-- the load: movement j of an item falls on day (j * 1095 + phase) / nmov of the 3 years
ALTER TABLE rebate.stock_movement DISABLE TRIGGER maintain_balance;
SQL
n_pitems=$(bpsql -At -c "SELECT count(*) FROM bench_inv.pitem")
# the batch of days [a, c): for each item the j whose day falls in it, in date order
load_batch() {	# load_batch A C
    echo "INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, partner_id, product_id, moved_on, kind, quantity, source)
          SELECT 1, i.warehouse_id, i.partner_id, i.product_id, CURRENT_DATE - 1095 + (j * 1095 + i.phase) / i.nmov,
                 CASE WHEN j % 4 = 0 THEN 'receipt' WHEN i.brand THEN 'shipment' WHEN random() < 0.03 THEN 'scrap' ELSE 'sell_out' END,
                 CASE WHEN j % 4 = 0 THEN 40 + floor(random() * 41) ELSE -(1 + floor(random() * 10)) END
                 * CASE WHEN i.brand THEN 10 ELSE 1 END,
                 CASE WHEN i.brand THEN 'entry' ELSE 'report' END
            FROM bench_inv.item i
           CROSS JOIN LATERAL generate_series(greatest(0, ceil(($1::numeric * i.nmov - i.phase) / 1095))::int,
                                              least(i.nmov, ceil(($2::numeric * i.nmov - i.phase) / 1095))::int - 1) j
           ORDER BY 5, i.n, j;"
}
for w in 0 1; do
    for ((b = w; b < BATCHES; b += 2)); do
        load_batch $((b * 1095 / BATCHES)) $(((b + 1) * 1095 / BATCHES))
    done >"$TMP/load_$w.sql"
done
bpsql -c "SELECT setseed(0.17)" -f "$TMP/load_0.sql" >/dev/null &
load_pid=$!
bpsql -c "SELECT setseed(0.71)" -f "$TMP/load_1.sql" >/dev/null || { wait "$load_pid" || true; exit 1; }
wait "$load_pid"
load_secs=$(secs_since "$t0")
t1=$(now_ns)
bpsql <<'SQL'
SET client_min_messages = warning;
ALTER TABLE rebate.stock_movement ENABLE TRIGGER maintain_balance;
SELECT rebate.rebuild_stock_balances(1) AS items \gset
VACUUM (FREEZE, ANALYZE) rebate.stock_movement, rebate.stock_balance, rebate.warehouse, rebate.partner,
                         rebate.stock_sharing, rebate.region, rebate.product;
CHECKPOINT;
SQL
build_secs=$(secs_since "$t1")
read -r n_movements n_items ledger_size balance_size <<<"$(bpsql -At -F ' ' -c "
    SELECT (SELECT count(*) FROM rebate.stock_movement), (SELECT count(*) FROM rebate.stock_balance),
           pg_size_pretty(pg_total_relation_size('rebate.stock_movement')),
           pg_size_pretty(pg_total_relation_size('rebate.stock_balance'))" | sed 's/ \([kMGT]B\)/\1/g')"
say "loaded $(thousands "$n_movements") movements of $(thousands "$n_items") items in $load_secs s (ledger $ledger_size with its indexes); balances rebuilt, vacuumed and analyzed in $build_secs s (balances $balance_size)"

# verify_stock: the items whose balance differs from the ledger's sum (none)
verify_all() {	# verify_all WHEN
    local differ
    differ=$(bpsql -At -c "SELECT count(*) FROM rebate.verify_stock(1)")
    verdict "$([ "$differ" = 0 ] && echo 0 || echo 1)" "$1: rebate.verify_stock returns no row" \
        "$1: rebate.verify_stock returns $differ rows: $(bpsql -At -c "SELECT string_agg(format('%s/%s balance %s ledger %s', warehouse_id, product_id, balance, ledger), '; ') FROM (SELECT * FROM rebate.verify_stock(1) LIMIT 5) v")"
}
verify_all "after the load"

# ---------------------------------------------------------------------------
# Roles: the brand's manager, and the own users of USERS random partners.
# The samples: 'any', PAIRS random partner items (superuser, manager); 'own',
# PER_USER random items of each of the USERS partners (their users).
bpsql -v mgr="$MGR" -v pairs="$pairs" -v users=$USERS -v per_user=$PER_USER >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT setseed(0.23);
SELECT rebate.grant_access(:'mgr', 1);
CREATE TABLE bench_inv.sample (sample_set text, k int, role name, partner_id bigint, product_id bigint, past date,
                               now_expected numeric, past_expected numeric, PRIMARY KEY (sample_set, k));
INSERT INTO bench_inv.sample (sample_set, k, partner_id, product_id, past)
SELECT 'any', row_number() OVER (), partner_id, product_id, CURRENT_DATE - 1095 + floor(random() * 1095)::int
  FROM (SELECT partner_id, product_id FROM bench_inv.pitem ORDER BY random() LIMIT :pairs) x;
CREATE TABLE bench_inv.user_partner AS
SELECT row_number() OVER () AS u, partner_id FROM (
    SELECT partner_id FROM bench_inv.pitem GROUP BY partner_id HAVING count(*) >= :per_user ORDER BY random() LIMIT :users) x;
INSERT INTO bench_inv.sample (sample_set, k, role, partner_id, product_id, past)
SELECT 'own', row_number() OVER (ORDER BY u, r), 'inv_bench_u' || u || '_' || substring(:'mgr' from '[0-9]+$'),
       partner_id, product_id, CURRENT_DATE - 1095 + floor(random() * 1095)::int
  FROM (SELECT up.u, i.partner_id, i.product_id, row_number() OVER (PARTITION BY up.u ORDER BY random()) AS r
          FROM bench_inv.user_partner up JOIN bench_inv.pitem i ON i.partner_id = up.partner_id) x
 WHERE r <= :per_user;
SELECT rebate.grant_access(role::regrole, 1, partner_id) FROM (SELECT DISTINCT role, partner_id FROM bench_inv.sample WHERE role IS NOT NULL) r;
-- what the ledger says, summed directly
CREATE FUNCTION bench_inv.ledger_stock(partner_id bigint, product_id bigint, on_date date) RETURNS numeric
    LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(m.quantity), 0) FROM rebate.stock_movement m
      JOIN rebate.warehouse w ON w.tenant_id = m.tenant_id AND w.id = m.warehouse_id
     WHERE w.partner_id = ledger_stock.partner_id AND m.product_id = ledger_stock.product_id
       AND (ledger_stock.on_date IS NULL OR m.moved_on <= ledger_stock.on_date) $$;
-- per-call server time of partner_stock: each call a statement parsed and planned like a client's
CREATE TABLE bench_inv.latency (run int, who text, at_date boolean, k int, micros float8, got numeric, expected numeric);
CREATE FUNCTION bench_inv.time_partner_stock(run int, who text, sample_set text, at_date boolean) RETURNS bigint
    LANGUAGE plpgsql AS $$
DECLARE
    s record;
    t0 timestamptz;
    t1 timestamptz;
    v numeric;
BEGIN
    -- one untimed call first: the session's caches are warm for the timed ones
    PERFORM rebate.partner_stock(x.partner_id, x.product_id) FROM bench_inv.sample x
      WHERE x.sample_set = time_partner_stock.sample_set AND (x.role IS NULL OR x.role = current_user)
      ORDER BY x.k LIMIT 1;
    FOR s IN SELECT x.* FROM bench_inv.sample x
              WHERE x.sample_set = time_partner_stock.sample_set AND (x.role IS NULL OR x.role = current_user)
              ORDER BY x.k LOOP
        t0 := clock_timestamp();
        EXECUTE 'SELECT rebate.partner_stock($1, $2, $3)' INTO v
          USING s.partner_id, s.product_id, CASE WHEN at_date THEN s.past END;
        t1 := clock_timestamp();
        INSERT INTO bench_inv.latency VALUES (run, who, at_date, s.k, extract(epoch FROM t1 - t0) * 1e6, v,
                                              CASE WHEN at_date THEN s.past_expected ELSE s.now_expected END);
    END LOOP;
    RETURN (SELECT count(*) FROM bench_inv.latency l
             WHERE l.run = time_partner_stock.run AND l.who = time_partner_stock.who
               AND l.at_date = time_partner_stock.at_date AND l.got IS DISTINCT FROM l.expected);
END
$$;
GRANT USAGE ON SCHEMA bench_inv TO PUBLIC;
GRANT SELECT ON bench_inv.sample TO PUBLIC;
GRANT SELECT, INSERT ON bench_inv.latency TO PUBLIC;
SQL
expect_samples() {
    bpsql -c "UPDATE bench_inv.sample SET now_expected = bench_inv.ledger_stock(partner_id, product_id, NULL),
                                          past_expected = bench_inv.ledger_stock(partner_id, product_id, past)"
}
expect_samples
n_own=$(bpsql -At -c "SELECT count(*) FROM bench_inv.sample WHERE sample_set = 'own'")

# one run of (a) and (b) by every caller: RUN 0 is the warm-up (also checked)
partner_stock_run() {	# partner_stock_run RUN (the results go to bench_inv.latency)
    local run=$1 at role
    for at in false true; do
        bpsql -c "SELECT bench_inv.time_partner_stock($run, 'superuser', 'any', $at)" >/dev/null
        as_role "$MGR" -c "SELECT bench_inv.time_partner_stock($run, 'manager', 'any', $at)" >/dev/null
        for role in $(bpsql -At -c "SELECT DISTINCT role FROM bench_inv.sample WHERE role IS NOT NULL ORDER BY 1"); do
            as_role "$role" -c "SELECT bench_inv.time_partner_stock($run, 'partner user', 'own', $at)" >/dev/null
        done
    done
}
check_partner_stock() {	# check_partner_stock RUN WHEN
    local got
    got=$(bpsql -At -F ' ' -c "SELECT count(*), count(*) FILTER (WHERE got IS DISTINCT FROM expected)
                                 FROM bench_inv.latency WHERE run = $1")
    read -r calls bad <<<"$got"
    verdict "$([ "$bad" = 0 ] && [ "$calls" = $((4 * pairs + 2 * n_own)) ] && echo 0 || echo 1)" \
        "$2: partner_stock now and at a past date equals the ledger's sum for all $calls sampled calls (superuser, manager, partner users)" \
        "$2: $bad of $calls partner_stock calls differ from the ledger's sum (expected $((4 * pairs + 2 * n_own)) calls; $(bpsql -At -c "SELECT string_agg(format('%s %s k=%s got %s expected %s', who, CASE WHEN at_date THEN 'past' ELSE 'now' END, k, got, expected), '; ') FROM (SELECT * FROM bench_inv.latency WHERE run = $1 AND got IS DISTINCT FROM expected LIMIT 5) x"))"
}

view_sql="SELECT count(*), sum(on_hand) FROM rebate.v_stock_by_region WHERE tenant_id = 1"
check_view() {	# check_view WHEN
    local su mg total
    su=$(bpsql -At -F ' ' -c "$view_sql")
    mg=$(as_role "$MGR" -At -F ' ' -c "$view_sql")
    total=$(bpsql -At -c "SELECT count(*) || ' ' || sum(s) FROM (
                              SELECT w.region_id, m.product_id, sum(m.quantity) AS s
                                FROM rebate.stock_movement m JOIN rebate.warehouse w ON w.tenant_id = m.tenant_id AND w.id = m.warehouse_id
                               WHERE m.tenant_id = 1 GROUP BY w.region_id, m.product_id) g")
    verdict "$([ "$su" = "$mg" ] && [ "$su" = "$total" ] && echo 0 || echo 1)" \
        "$1: v_stock_by_region as the manager == as the superuser == the ledger's region x product groups and total ($su)" \
        "$1: v_stock_by_region: superuser '$su', manager '$mg', ledger '$total'"
}

# ---------------------------------------------------------------------------
: >"$TMP/timing.tsv"	# measure variant run value
say "(a)(b) partner_stock: $pairs random pairs (superuser, manager), $n_own by the users of $USERS partners; (c) the view; warm-up, then $runs run(s)"
partner_stock_run 0
check_partner_stock 0 "after the load"
check_view "after the load"
view_time() {	# view_time WHO: planning + execution ms
    local out
    if [ "$1" = manager ]; then
        out=$(as_role "$MGR" -At -c "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) $view_sql")
    else
        out=$(bpsql -At -c "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) $view_sql")
    fi
    awk '/Planning Time:/ { p = $3 } /Execution Time:/ { e = $3 } END { printf "%.1f", p + e }' <<<"$out"
}
if ! $check_mode; then
    view_time manager >/dev/null
    view_time superuser >/dev/null
    for ((r = 1; r <= runs; r++)); do
        partner_stock_run "$r"
        if (( r % 2 )); then order=(manager superuser); else order=(superuser manager); fi
        for who in "${order[@]}"; do
            ms=$(view_time "$who")
            printf 'view\t%s\t%s\t%s\n' "$who" "$r" "$ms" >>"$TMP/timing.tsv"
        done
        printf '  run %s/%s: view as manager %s ms, as superuser %s ms\n' "$r" "$runs" \
            "$(awk -F'\t' -v r="$r" '$1 == "view" && $2 == "manager" && $3 == r { print $4 }' "$TMP/timing.tsv")" \
            "$(awk -F'\t' -v r="$r" '$1 == "view" && $2 == "superuser" && $3 == r { print $4 }' "$TMP/timing.tsv")"
    done
    for ((r = 1; r <= runs; r++)); do check_partner_stock "$r" "run $r"; done
fi

# ---------------------------------------------------------------------------
# (d) writes.  The batched load's rows: write_rows / 2 random partner items,
# each a receipt of 5-20 units and then a sell-out of at most as many, in
# the same statement (the item's stock only grows).
bpsql -v rows="$write_rows" >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT setseed(0.31);
CREATE TABLE bench_inv.write_src AS
SELECT row_number() OVER (ORDER BY x.r, leg)::int AS n, x.warehouse_id, x.partner_id, x.product_id,
       CASE leg WHEN 1 THEN 'receipt' ELSE 'sell_out' END AS kind,
       CASE leg WHEN 1 THEN x.q ELSE -(1 + floor(random() * x.q)) END AS quantity
  FROM (SELECT i.*, random() AS r, 5 + floor(random() * 16) AS q
          FROM bench_inv.pitem i ORDER BY random() LIMIT :rows / 2) x
 CROSS JOIN generate_series(1, 2) leg;
ALTER TABLE bench_inv.write_src ADD PRIMARY KEY (n);
VACUUM ANALYZE bench_inv.write_src;
SQL
n_batches=$(( (write_rows + batch - 1) / batch ))
for ((k = 0; k < n_batches; k++)); do
    echo "INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity, source)
          SELECT 1, warehouse_id, partner_id, product_id, kind, quantity, 'report'
            FROM bench_inv.write_src WHERE n > $((k * batch)) AND n <= $(((k + 1) * batch)) ORDER BY n;"
done >"$TMP/batched.sql"
# one receipt (1-5 units) or one sell-out (1 unit) of a random partner item
cat >"$TMP/pgbench.sql" <<'EOF'
\set i random(1, :nitems)
\set leg random(1, 2)
\set q random(1, 5)
INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity, source)
SELECT 1, i.warehouse_id, i.partner_id, i.product_id, CASE WHEN :leg::int = 1 THEN 'receipt' ELSE 'sell_out' END,
       CASE WHEN :leg::int = 1 THEN :q::numeric ELSE -1 END, 'report'
  FROM bench_inv.pitem i WHERE i.k = :i;
EOF

variant_sql() {
    case $1 in
        on) echo "ALTER TABLE rebate.stock_movement ENABLE TRIGGER maintain_balance" ;;
        off) echo "ALTER TABLE rebate.stock_movement DISABLE TRIGGER maintain_balance" ;;
    esac
}
reset_for() {	# reset_for VARIANT: prints the last movement id before the run
    bpsql -c "$(variant_sql "$1")" -c "VACUUM (ANALYZE) rebate.stock_movement, rebate.stock_balance" -c "CHECKPOINT"
    bpsql -At -c "SELECT coalesce(max(id), 0) FROM rebate.stock_movement"
}
# After a run: with the trigger on, the balances of the items it touched equal
# their ledger's sums; with it off, the balances are brought up to date.
after_run() {	# after_run VARIANT LOAD MARK EXPECTED_ROWS(or "")
    local written differ status=0
    written=$(bpsql -At -c "SELECT count(*) FROM rebate.stock_movement WHERE id > $3")
    if [ "$1" = on ]; then
        differ=$(bpsql -At -c "
            WITH touched AS (SELECT DISTINCT warehouse_id, product_id FROM rebate.stock_movement WHERE tenant_id = 1 AND id > $3)
            SELECT count(*) FROM touched t
              LEFT JOIN rebate.stock_balance b ON b.tenant_id = 1 AND b.warehouse_id = t.warehouse_id AND b.product_id = t.product_id
             WHERE b.quantity IS DISTINCT FROM (SELECT sum(m.quantity) FROM rebate.stock_movement m
                                                 WHERE m.tenant_id = 1 AND m.warehouse_id = t.warehouse_id
                                                   AND m.product_id = t.product_id)")
        [ "$differ" = 0 ] || status=1
    else
        differ=0
        bpsql -c "
            INSERT INTO rebate.stock_balance AS b (tenant_id, warehouse_id, product_id, partner_id, quantity, movements,
                                                   last_inbound_on, last_outbound_on, last_sale_on)
            SELECT tenant_id, warehouse_id, product_id, min(partner_id), sum(quantity), count(*),
                   max(moved_on) FILTER (WHERE quantity > 0), max(moved_on) FILTER (WHERE quantity < 0),
                   max(moved_on) FILTER (WHERE kind = ANY (rebate.stock_sale_kinds()))
              FROM rebate.stock_movement WHERE id > $3 GROUP BY tenant_id, warehouse_id, product_id
            ON CONFLICT (tenant_id, warehouse_id, product_id) DO UPDATE
               SET quantity = b.quantity + excluded.quantity, movements = b.movements + excluded.movements,
                   last_inbound_on = GREATEST(b.last_inbound_on, excluded.last_inbound_on),
                   last_outbound_on = GREATEST(b.last_outbound_on, excluded.last_outbound_on),
                   last_sale_on = GREATEST(b.last_sale_on, excluded.last_sale_on), updated_at = now()"
    fi
    [ -z "$4" ] || [ "$written" = "$4" ] || status=1
    verdict $status "$2 with the trigger $1: all $written rows in$([ "$1" = on ] && echo ", the balances of the items touched == their ledger's sums")" \
        "$2 with the trigger $1: $written rows written (expected ${4:-any}), $differ touched items whose balance differs from the ledger"
}
run_batched() {	# run_batched VARIANT ROUND
    local mark t secs
    mark=$(reset_for "$1")
    t=$(now_ns)
    bpsql -f "$TMP/batched.sql"
    secs=$(secs_since "$t")
    after_run "$1" "batched load" "$mark" "$write_rows"
    $check_mode && return 0
    printf 'batched\t%s\t%s\t%s\n' "$1" "$2" "$secs" >>"$TMP/timing.tsv"
    printf '  round %s/%s: batched, trigger %-3s %7.2f s\n' "$2" "$runs" "$1" "$secs"
}
run_pgbench() {	# run_pgbench VARIANT ROUND [pgbench duration options]
    local v=$1 r=$2 mark tps lat
    shift 2
    mark=$(reset_for "$v")
    "$PGBENCH" -n -c "$clients" -j "$threads" -M prepared --random-seed=$((42 + r)) -D nitems="$n_pitems" "$@" \
        -f "$TMP/pgbench.sql" "$DB" >"$TMP/pgbench.out" 2>&1 || { cat "$TMP/pgbench.out"; exit 1; }
    tps=$(awk '/^tps = / { print $3; exit }' "$TMP/pgbench.out")
    lat=$(awk '/^latency average = / { print $4; exit }' "$TMP/pgbench.out")
    after_run "$v" "pgbench" "$mark" "$(awk '/^number of transactions actually processed:/ { split($6, a, "/"); print a[1]; exit }' "$TMP/pgbench.out")"
    $check_mode && return 0
    printf 'pgbench\t%s\t%s\t%s\t%s\n' "$v" "$r" "$tps" "$lat" >>"$TMP/timing.tsv"
    printf '  round %s/%s: pgbench, trigger %-3s %9.1f tps, %6.3f ms a transaction\n' "$r" "$runs" "$v" "$tps" "$lat"
}

if $check_mode; then
    run_batched on 1
    run_pgbench on 1 -t 100
    verify_all "after writes with the trigger on (batched and pgbench)"
    expect_samples
    partner_stock_run 1
    check_partner_stock 1 "after the writes"
    check_view "after the writes"
    # a sell-out beyond the stock, by the partner's own user: refused (RB100), no trace
    read -r role w p before n_before <<<"$(bpsql -At -F ' ' -c "
        SELECT s.role, b.warehouse_id, b.product_id, b.quantity, (SELECT count(*) FROM rebate.stock_movement)
          FROM bench_inv.sample s JOIN rebate.stock_balance b ON b.partner_id = s.partner_id AND b.product_id = s.product_id
         WHERE s.sample_set = 'own' ORDER BY s.k LIMIT 1")"
    err=$(as_role "$role" -c "INSERT INTO rebate.stock_movement (warehouse_id, product_id, kind, quantity, source)
                              VALUES ($w, $p, 'sell_out', -($before + 1), 'report')" 2>&1 \
          -v VERBOSITY=verbose | sed -n 's/^ERROR: *\([A-Z0-9]*\): .*/\1/p' | head -1 || true)
    read -r after n_after <<<"$(bpsql -At -F ' ' -c "SELECT (SELECT quantity FROM rebate.stock_balance WHERE warehouse_id = $w AND product_id = $p),
                                                           (SELECT count(*) FROM rebate.stock_movement)")"
    verdict "$([ "$err" = RB100 ] && [ "$after" = "$before" ] && [ "$n_after" = "$n_before" ] && echo 0 || echo 1)" \
        "a partner user's sell-out of one unit more than its stock is refused with RB100, the balance and the ledger unchanged" \
        "the sell-out beyond the stock: SQLSTATE '${err:-none}', balance $before -> $after, ledger rows $n_before -> $n_after"
    checks_exit
fi

say "(d) writes: batched $(thousands "$write_rows") rows, $(thousands "$batch") per statement; pgbench $clients clients x $seconds s; trigger on and off, $runs round(s)"
for ((r = 1; r <= runs; r++)); do
    if (( r % 2 )); then order=(on off); else order=(off on); fi
    for v in "${order[@]}"; do run_batched "$v" "$r"; done
    for v in "${order[@]}"; do run_pgbench "$v" "$r" -T "$seconds"; done
done
bpsql -c "$(variant_sql on)"
verify_all "after the write rounds"

if $explain; then
    say "the trigger's statement for a 1-row and a $(thousands "$batch")-row INSERT (auto_explain, log_nested_statements)"
    PGOPTIONS="$PGOPTIONS -c client_min_messages=log" bpsql >"$TMP/explain.out" 2>&1 <<SQL || true
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_buffers = on;
INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity, source)
SELECT 1, warehouse_id, partner_id, product_id, kind, quantity, 'report' FROM bench_inv.write_src WHERE n = 1;
INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity, source)
SELECT 1, warehouse_id, partner_id, product_id, kind, quantity, 'report' FROM bench_inv.write_src WHERE n <= $batch ORDER BY n;
SQL
    # the plans of the trigger's WITH statement, and of each INSERT as a whole
    awk '/^LOG: / { keep = 0 } /Query Text: WITH delta|Query Text: INSERT INTO rebate.stock_movement/ { keep = 1; print "----" } keep' \
        "$TMP/explain.out"
fi

# ---------------------------------------------------------------------------
elapsed=$(secs_since "$started_all")
say "results: $(thousands "$n_movements") movements at the start, $(thousands "$partners") partners, 300 products; medians of $runs run(s) (timings are not judged)"
bpsql -At -F $'\t' -c "
    WITH per_run AS (
        SELECT who, at_date, run, count(*) AS calls, percentile_cont(0.5) WITHIN GROUP (ORDER BY micros) AS med,
               percentile_disc(0.99) WITHIN GROUP (ORDER BY micros) AS p99, max(micros) AS mx
          FROM bench_inv.latency WHERE run > 0 GROUP BY who, at_date, run)
    SELECT CASE WHEN at_date THEN 'past' ELSE 'now' END, who, max(calls),
           round(percentile_cont(0.5) WITHIN GROUP (ORDER BY med)::numeric, 0),
           round(percentile_cont(0.5) WITHIN GROUP (ORDER BY p99)::numeric, 0),
           round(max(mx)::numeric, 0),
           string_agg(round(med::numeric, 0) || '/' || round(p99::numeric, 0), ', ' ORDER BY run)
      FROM per_run GROUP BY at_date, who
     ORDER BY at_date, CASE who WHEN 'superuser' THEN 1 WHEN 'manager' THEN 2 ELSE 3 END" >"$TMP/latency.tsv"
{
    echo "| Measure | caller | median | p99 | goal | runs (median/p99 µs, or ms, in order) |"
    echo "|---|---|--:|--:|---|---|"
    awk -F'\t' '{
        what = ($1 == "now" ? "(a) `partner_stock(p, product)` now" : "(b) `partner_stock(p, product, day)` at a past day")
        printf "| %s, %s calls a run | %s | %.2f ms | %.2f ms | < 5 ms: %s | %s |\n", what, $3, $2, $4 / 1000, $5 / 1000,
               ($5 / 1000 < 5 ? "met" : "missed"), $7 }' "$TMP/latency.tsv"
    awk -F'\t' '
        function median(list,   a, n, t, i, j) {
            n = split(list, a, " ")
            for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        $1 == "view" { t[$2] = t[$2] " " $4; l[$2] = l[$2] (l[$2] == "" ? "" : ", ") $4 }
        END {
            split("manager superuser", who, " ")
            for (i = 1; i <= 2; i++) { m = median(t[who[i]])
                printf "| (c) `SELECT count(*), sum(on_hand) FROM rebate.v_stock_by_region` (planning + execution) | %s | %.0f ms | — | < 1 s: %s | %s |\n",
                       who[i], m, (m < 1000 ? "met" : "missed"), l[who[i]] }
        }' "$TMP/timing.tsv"
} >"$TMP/reads.md"
awk -F'\t' -v rows="$write_rows" -v batch="$batch" -v clients="$clients" -v seconds="$seconds" '
    function median(list,   a, n, t, i, j) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $1 == "batched" || $1 == "pgbench" { t[$1, $2] = t[$1, $2] " " $4; l[$1, $2] = l[$1, $2] (l[$1, $2] == "" ? "" : ", ") $4 }
    END {
        print "| (d) Write | bare insert (trigger off): median | balances kept (trigger on): median | on / off | goal ≤ 1.3× | runs off | runs on |"
        print "|---|--:|--:|--:|---|---|---|"
        off = median(t["batched", "off"]); on = median(t["batched", "on"])
        printf "| batched: %s rows, %s per INSERT and transaction | %.2f s (%.1f µs/row) | %.2f s (%.1f µs/row) | %.2f× | %s | %s s | %s s |\n",
               rows, batch, off, off * 1e6 / rows, on, on * 1e6 / rows, on / off, (on / off <= 1.3 ? "met" : "missed"),
               l["batched", "off"], l["batched", "on"]
        off = median(t["pgbench", "off"]); on = median(t["pgbench", "on"])
        printf "| pgbench: 1 row per transaction, %s clients, %s s | %.0f tps (%.3f ms) | %.0f tps (%.3f ms) | %.2f× | %s | %s tps | %s tps |\n",
               clients, seconds, off, clients * 1000 / off, on, clients * 1000 / on, off / on, (off / on <= 1.3 ? "met" : "missed"),
               l["pgbench", "off"], l["pgbench", "on"]
    }' "$TMP/timing.tsv" >"$TMP/writes.md"
cat "$TMP/reads.md"
echo
cat "$TMP/writes.md"
echo
echo "Data: $(thousands "$n_movements") movements of $(thousands "$n_items") items (ledger $ledger_size with its indexes, balances $balance_size), loaded in $load_secs s (36 batches, 2 sessions, trigger off), balances rebuilt + VACUUM (FREEZE, ANALYZE) in $build_secs s."
echo "(a)(b): per-call server time of EXECUTE 'SELECT rebate.partner_stock(...)' in a PL/pgSQL loop; median and p99 (nearest rank) of each run, then their median over the runs; the superuser and the manager call $pairs random pairs, the users of $USERS partners $PER_USER of their own items each."
echo "(d) pgbench: ms = clients / tps, the mean time a transaction takes; on / off = tps off / tps on."
cpu=$(awk -F': *' '/^model name/ && !m { m = $2 } END { print m }' /proc/cpuinfo)
echo "Machine: $cpu, $(nproc) cores, $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); $(bpsql -At -c "SELECT split_part(version(), ' on ', 1)"); server: $server_kind; session: synchronous_commit=off, jit=off; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Whole benchmark: $elapsed s."
