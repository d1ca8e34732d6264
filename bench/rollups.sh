#!/usr/bin/env bash
# bench/rollups.sh — what does keeping the rollups cost when order lines are
# written?  Lines go into approved orders (they count, so every line adds to
# rebate.sales_rollup) with the rollup triggers on, as shipped, and with
# them off; everything else (the policy triggers, audit, keys) runs alike.
#
#   bench/rollups.sh              200,000 lines per load; 3 runs of each variant per load
#   bench/rollups.sh --small      20,000 lines, 1 run (a quick try; the timings mean little)
#   bench/rollups.sh --check      20,000 lines, one untimed load of each: the rollups equal the
#                                 recomputation (rebate.verify_rollups) after every load with them on
#
# Options: --lines N (lines per load), --runs R, --batch N (lines per
# statement of the batched load, 10,000), --clients C and --threads J
# (pgbench: 8 and 2), --partners P (the sample's partners per brand, 200),
# --keep (keep the database bench_rollups).
#
# The data are bench/policy_setup.sql's with the orders approved (credit
# checks off: the load measures the rollups, not the credit check).  Two
# loads of the same number of lines:
#   batched  INSERT ... SELECT of --batch lines per statement, each its own
#            transaction, from one psql session; the time of the whole load;
#   pgbench  one line per transaction into a random order, --clients
#            clients, -M prepared; the time is transactions / tps.
# Each round runs both variants, the first alternating; each run starts from
# an empty rebate.order_line, rebate.audit_log and rebate.sales_rollup after
# VACUUM and CHECKPOINT.  Medians and the ratio on / off are reported, never
# judged; a load with the rollups on whose rollups differ from the
# recomputation exits non-zero.
#
# Needs the extension built and installed.  Uses the server the libpq
# variables name, or a throwaway one started with REBATE_SERVER_OPTS.
# shellcheck source=../scripts/common.sh
source "$(dirname "$0")/../scripts/common.sh"
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"

DB=bench_rollups

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

mode=full opt_lines="" opt_runs="" batch=10000 clients=8 threads=2 partners=200 keep=false
while [ $# -gt 0 ]; do
    case $1 in
        --small) mode=small ;;
        --check) mode=check; check_mode=true ;;
        --lines) opt_lines=${2:-}; shift ;;
        --runs) opt_runs=${2:-}; shift ;;
        --batch) batch=${2:-}; shift ;;
        --clients) clients=${2:-}; shift ;;
        --threads) threads=${2:-}; shift ;;
        --partners) partners=${2:-}; shift ;;
        --keep) keep=true ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
    shift
done
if [ $mode = full ]; then lines=200000 runs=3; else lines=20000 runs=1; fi
lines=${opt_lines:-$lines} runs=${opt_runs:-$runs}
for n in "$lines" "$runs" "$batch" "$clients" "$threads" "$partners"; do
    is_count "$n" || { echo "not a positive whole number: $n" >&2; usage; }
done
PER_ORDER=10
per_client=$(( (lines + clients - 1) / clients ))
pgbench_lines=$(( per_client * clients ))

provide_server
PGBENCH=$PG_BIN/pgbench
TMP=$(mktemp -d /tmp/rebate-rollups-bench.XXXXXX)
cleanup() {
    $keep || psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    rm -rf "$TMP"
    stop_throwaway_cluster
}
trap cleanup EXIT
export PGOPTIONS="${PGOPTIONS:-} -c synchronous_commit=off -c jit=off"
bpsql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
now_ns() { date +%s%N; }

say "database $DB: sample data ($partners partners per brand), $(thousands $(( (lines + PER_ORDER - 1) / PER_ORDER ))) approved orders"
fresh_database $DB
bpsql -f "$REPO/sample/sample_data.sql"
bpsql -v partners="$partners" -v lines="$lines" -v per_order=$PER_ORDER -v order_status=approved \
      -f "$REPO/bench/policy_setup.sql"
bpsql -c "UPDATE rebate.enforcement_setting SET credit = 'allow'"
n_orders=$(bpsql -At -c "SELECT count(*) FROM bench_policy.draft")
n_products=$(bpsql -At -c "SELECT count(DISTINCT n) FROM bench_policy.product")

variant_sql() {
    case $1 in
        on) echo "ALTER TABLE rebate.order_line ENABLE TRIGGER rollup_insert;" ;;
        off) echo "ALTER TABLE rebate.order_line DISABLE TRIGGER rollup_insert;" ;;
    esac
}
# Each run: empty tables (the rollups of the emptied lines with them), the
# variant's trigger, vacuum and checkpoint.
reset_for() {
    bpsql -c "TRUNCATE rebate.order_line, rebate.shipment_line, rebate.audit_log" \
          -c "DELETE FROM rebate.sales_rollup WHERE kind <> 'payment'" \
          -c "ALTER SEQUENCE bench_policy.line_no RESTART" \
          -c "$(variant_sql "$1")" \
          -c "VACUUM (FREEZE, ANALYZE) rebate.sales_order, rebate.order_line, rebate.audit_log, rebate.sales_rollup" \
          -c "CHECKPOINT"
}
# After a run: every line in; with the rollups on, they equal the recomputation.
check_load() {	# check_load VARIANT LOAD EXPECTED
    local n_lines differ=0 status=0
    n_lines=$(bpsql -At -c "SELECT count(*) FROM rebate.order_line")
    if [ "$1" = on ]; then
        differ=$(bpsql -At -c "SELECT count(*) FROM rebate.tenant t, rebate.verify_rollups(t.id)")
    fi
    [ "$n_lines" = "$3" ] && [ "$differ" = 0 ] || status=1
    verdict $status "$2 load with the rollups $1: all $(thousands "$3") lines in$([ "$1" = on ] && echo ", the rollups equal the recomputation")" \
        "$2 load with the rollups $1: $n_lines lines (expected $3), $differ rollup keys differ"
}

: >"$TMP/timing.tsv"	# load variant run seconds
n_batches=$(( (lines + batch - 1) / batch ))
for ((k = 0; k < n_batches; k++)); do
    echo "INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost)
          SELECT tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost
            FROM bench_policy.line_src WHERE n > $((k * batch)) AND n <= $(((k + 1) * batch)) ORDER BY n;"
done >"$TMP/batched.sql"
cat >"$TMP/pgbench.sql" <<'EOF'
\set o random(1, :norders)
\set p random(1, :nproducts)
\set q random(1, 60)
INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost)
SELECT d.tenant_id, d.order_id, d.partner_id, nextval('bench_policy.line_no'), pr.product_id, :q, pr.unit_price, pr.unit_cost
  FROM bench_policy.draft d JOIN bench_policy.product pr ON pr.tenant_id = d.tenant_id AND pr.n = :p
 WHERE d.n = :o;
EOF

say "batched: $(thousands "$lines") lines, $(thousands "$batch") per statement; pgbench: $(thousands "$pgbench_lines") single-line transactions, $clients clients; $runs round(s)"
for ((r = 1; r <= runs; r++)); do
    if (( r % 2 )); then order=(on off); else order=(off on); fi
    for v in "${order[@]}"; do
        reset_for "$v"
        t0=$(now_ns)
        bpsql -f "$TMP/batched.sql"
        t1=$(now_ns)
        check_load "$v" batched "$lines"
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        printf 'batched\t%s\t%s\t%s\n' "$v" "$r" "$secs" >>"$TMP/timing.tsv"
        $check_mode || printf '  round %s: batched, rollups %-3s %8.2f s\n' "$r" "$v" "$secs"
    done
    for v in "${order[@]}"; do
        reset_for "$v"
        "$PGBENCH" -n -c "$clients" -j "$threads" -t "$per_client" -M prepared --random-seed=42 \
            -D norders="$n_orders" -D nproducts="$n_products" -f "$TMP/pgbench.sql" "$DB" >"$TMP/pgbench.out" 2>&1 \
            || { cat "$TMP/pgbench.out"; exit 1; }
        check_load "$v" pgbench "$pgbench_lines"
        tps=$(awk '/^tps = / { print $3; exit }' "$TMP/pgbench.out")
        secs=$(awk -v t="$tps" -v n="$pgbench_lines" 'BEGIN { printf "%.3f", n / t }')
        printf 'pgbench\t%s\t%s\t%s\n' "$v" "$r" "$secs" >>"$TMP/timing.tsv"
        $check_mode || printf '  round %s: pgbench, rollups %-3s %8.2f s  (%s tps)\n' "$r" "$v" "$secs" "${tps%.*}"
    done
done
$check_mode && checks_exit

say "medians (seconds) and the ratio rollups on / off"
awk -F'\t' '
    function median(list,   a, n, t, i, j) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { t[$1, $2] = t[$1, $2] " " $4; runs[$1, $2] = runs[$1, $2] (runs[$1, $2] == "" ? "" : ", ") $4 }
    END {
        print "| load | rollups off: median | rollups on: median | on / off | runs off | runs on |"
        print "|---|--:|--:|--:|---|---|"
        split("batched pgbench", loads, " ")
        for (i = 1; i <= 2; i++) {
            l = loads[i]; off = median(t[l, "off"]); on = median(t[l, "on"])
            printf "| %s | %.2f s | %.2f s | %.2fx | %s | %s |\n", l, off, on, on / off, runs[l, "off"], runs[l, "on"]
        }
    }' "$TMP/timing.tsv"
