#!/usr/bin/env bash
# bench/policy.sh — what do the policy-enforcement triggers cost on
# rebate.order_line?  Order lines are inserted with enforcement off, with the
# C triggers (policy_order_state, policy_price, policy_region), and with one
# PL/pgSQL trigger doing the same checks (bench/policy_plpgsql.sql).
#
#   bench/policy.sh              full size: 1,000,000 lines per load; 3 runs of
#                                off and C, 1 of PL/pgSQL (about 35 minutes)
#   bench/policy.sh --small      20,000 lines, 1 run of everything (a quick try; the timings mean little)
#   bench/policy.sh --check      20,000 lines: the correctness checks only, one "ok - ..." or
#                                "not ok - ..." line each: the probes, then one untimed load of
#                                each variant, batched and pgbench (the test suite's, through
#                                test/bench_agreement.sh)
#   bench/policy.sh --write-doc  also write the policy section of docs/performance.md (not with --check)
#
# Options: --lines N (lines per load), --runs R (timed runs of off and C
# per load), --pgbench-runs R (of off and C in the pgbench load; default
# --runs), --plpgsql-runs R (of PL/pgSQL per load, 1: each takes about nine
# minutes at full size),
# --batch N (lines per statement of the batched load, 10,000), --clients C
# and --threads J (pgbench -c and -j: 8 and 2), --partners P (the sample's
# partners per brand, 200), --sync-commit on|off (the sessions'
# synchronous_commit, off), --only batched|pgbench, --keep (keep the
# database bench_policy afterwards).
#
# Two loads of the same number of lines into the draft orders of
# bench/policy_setup.sql, every line passing every check:
#   batched  INSERT ... SELECT of --batch lines per statement, each its own
#            transaction, from one psql session; the time of the whole load;
#   pgbench  one line per transaction (INSERT ... SELECT of one line into a
#            random draft order, a random product), --clients clients,
#            -M prepared; tps and the time of the whole load.
# Each round runs every variant once, the order rotating from round to
# round; each run starts from an empty rebate.order_line and
# rebate.audit_log after VACUUM and CHECKPOINT.  Medians and ratios are
# reported; trigger-attributable time is a variant's median minus the
# median with enforcement off.  First, the C and PL/pgSQL triggers must
# judge the probes of bench/policy_probe.sql alike, and every run must load
# all its lines without a violation: otherwise the exit status is non-zero.
# Timings are reported, never judged.  --check runs those checks alone (each
# load once per variant, no timing, no diagnostics of the caches and of the
# PL/pgSQL trigger's queries) and reports every one.
#
# Needs the extension built and installed (scripts/test.sh or make install).
# Uses the server the libpq variables name, or a throwaway one started with
# REBATE_SERVER_OPTS.
# shellcheck source=../scripts/common.sh
source "$(dirname "$0")/../scripts/common.sh"
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"

BENCH=$REPO/bench
DOC=$REPO/docs/performance.md
DB=bench_policy
COMMAND="bench/policy.sh $*"
VARIANTS=(c off plpgsql)
BEGIN_MARK='<!-- policy-benchmark:begin -->'
END_MARK='<!-- policy-benchmark:end -->'

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}


mode=full
opt_lines="" opt_runs="" opt_pgbench_runs="" plpgsql_runs=1
batch=10000 clients=8 threads=2 partners=200 sync_commit=off only="" write_doc=false keep=false
while [ $# -gt 0 ]; do
    case $1 in
        --small) mode=small ;;
        --check) mode=check; check_mode=true ;;
        --lines) opt_lines=${2:-}; shift ;;
        --runs) opt_runs=${2:-}; shift ;;
        --pgbench-runs) opt_pgbench_runs=${2:-}; shift ;;
        --plpgsql-runs) plpgsql_runs=${2:-}; shift ;;
        --batch) batch=${2:-}; shift ;;
        --clients) clients=${2:-}; shift ;;
        --threads) threads=${2:-}; shift ;;
        --partners) partners=${2:-}; shift ;;
        --sync-commit) sync_commit=${2:-}; shift ;;
        --only) only=${2:-}; shift ;;
        --write-doc) write_doc=true ;;
        --keep) keep=true ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
    shift
done
$write_doc && $check_mode && { echo "--write-doc wants timings, not --check" >&2; usage; }
if [ $mode != full ]; then
    lines=20000 runs=1
else
    lines=1000000 runs=3
fi
lines=${opt_lines:-$lines} runs=${opt_runs:-$runs}
pgbench_runs=${opt_pgbench_runs:-$runs}
if $check_mode; then
    runs=1 pgbench_runs=1 plpgsql_runs=1	# one load of each variant, untimed
fi
for n in "$lines" "$runs" "$pgbench_runs" "$plpgsql_runs" "$batch" "$clients" "$threads" "$partners"; do
    is_count "$n" || { echo "not a positive whole number: $n" >&2; usage; }
done
[[ $sync_commit = on || $sync_commit = off ]] || { echo "--sync-commit wants on or off" >&2; usage; }
[[ -z $only || $only = batched || $only = pgbench ]] || { echo "--only wants batched or pgbench" >&2; usage; }
[ "$partners" -ge 8 ] || { echo "--partners must be at least 8" >&2; usage; }
[ "$threads" -le "$clients" ] || { echo "--threads must not exceed --clients" >&2; usage; }
PER_ORDER=10
# pgbench: the same number of transactions for every client
per_client=$(( (lines + clients - 1) / clients ))
pgbench_lines=$(( per_client * clients ))
do_batched=true do_pgbench=true
[ "$only" = pgbench ] && do_batched=false
[ "$only" = batched ] && do_pgbench=false

provide_server
if [ -n "$THROWAWAY_DIR" ]; then
    server_kind="a throwaway cluster started by bench/policy.sh (fsync=off; REBATE_SERVER_OPTS: ${REBATE_SERVER_OPTS:-none})"
else
    server_kind="an existing server (${PGHOST:-local socket}:${PGPORT:-5432})"
fi
PGBENCH=$PG_BIN/pgbench

TMP=$(mktemp -d /tmp/rebate-policy-bench.XXXXXX)
cleanup() {
    if ! $keep; then
        psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
    stop_throwaway_cluster
}
trap cleanup EXIT

# Every session of the benchmark: the same settings.
export PGOPTIONS="${PGOPTIONS:-} -c synchronous_commit=$sync_commit -c jit=off"
bpsql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
now_ns() { date +%s%N; }

started_all=$SECONDS
say "database $DB: sample data ($partners partners per brand), $(thousands $(( (lines + PER_ORDER - 1) / PER_ORDER ))) draft orders, the PL/pgSQL trigger"
fresh_database $DB
bpsql -f "$REPO/sample/sample_data.sql"
bpsql -v partners="$partners" -v lines="$lines" -v per_order=$PER_ORDER -f "$BENCH/policy_setup.sql"
bpsql -f "$BENCH/policy_plpgsql.sql"
bpsql -f "$BENCH/policy_probe.sql"
n_orders=$(bpsql -At -c "SELECT count(*) FROM bench_policy.draft")
n_products=$(bpsql -At -c "SELECT count(DISTINCT n) FROM bench_policy.product")
n_src=$(bpsql -At -c "SELECT count(*) FROM bench_policy.line_src")
[ "$n_src" = "$lines" ] || { echo "bench_policy.line_src holds $n_src lines, not $lines" >&2; exit 1; }
echo "set up in $((SECONDS - started_all)) s: $n_orders draft orders, $n_products products per tenant"

# Switch the triggers of a variant on, the others off.
variant_sql() {
    case $1 in
        off) echo "ALTER TABLE rebate.order_line DISABLE TRIGGER policy_order_state, DISABLE TRIGGER policy_price,
                   DISABLE TRIGGER policy_region, DISABLE TRIGGER policy_plpgsql;" ;;
        c) echo "ALTER TABLE rebate.order_line ENABLE TRIGGER policy_order_state, ENABLE TRIGGER policy_price,
                 ENABLE TRIGGER policy_region, DISABLE TRIGGER policy_plpgsql;" ;;
        plpgsql) echo "ALTER TABLE rebate.order_line DISABLE TRIGGER policy_order_state, DISABLE TRIGGER policy_price,
                       DISABLE TRIGGER policy_region, ENABLE TRIGGER policy_plpgsql;" ;;
    esac
}
set_variant() { bpsql -c "$(variant_sql "$1")"; }

# ---------------------------------------------------------------------------
say "equivalence: the probes of bench/policy_probe.sql under each variant"
bpsql -At -c "SELECT ord FROM bench_policy.probe ORDER BY ord" |
    sed 's/.*/SELECT ord, name, bench_policy.try(statements) FROM bench_policy.probe WHERE ord = &;/' >"$TMP/probes.sql"
for v in "${VARIANTS[@]}"; do
    set_variant "$v"
    # each probe in a transaction of its own
    bpsql -At -F $'\t' -f "$TMP/probes.sql" >"$TMP/probe-$v.tsv"
done
refused=$(awk -F'\t' '$3 !~ /^ok/' "$TMP/probe-c.tsv" | wc -l)
reviewed=$(awk -F'\t' '$3 ~ /^ok .*\(/' "$TMP/probe-c.tsv" | wc -l)
n_probes=$(wc -l <"$TMP/probe-c.tsv")
probes_alike=0 probes_off_accepted=0
cmp -s "$TMP/probe-c.tsv" "$TMP/probe-plpgsql.tsv" || probes_alike=1
awk -F'\t' '$3 !~ /^ok/ { bad = 1 } END { exit bad }' "$TMP/probe-off.tsv" || probes_off_accepted=1
# the probes one by one (--check: only when a check fails)
if ! $check_mode || [ $probes_alike -ne 0 ] || [ $probes_off_accepted -ne 0 ]; then
    paste "$TMP/probe-c.tsv" "$TMP/probe-plpgsql.tsv" "$TMP/probe-off.tsv" |
        awk -F'\t' '{ printf "  %2d %-48s C: %s\n     %-48s PL/pgSQL: %s; off: %s\n", $1, $2, $3, "",
                              $6 == $3 ? "the same" : $6, $9 ~ /^ok/ ? "accepted" : $9 }'
fi
if [ $probes_alike -ne 0 ]; then
    echo "the PL/pgSQL trigger does not judge as the C triggers do (< C, > PL/pgSQL):"
    diff "$TMP/probe-c.tsv" "$TMP/probe-plpgsql.tsv" || true
fi
verdict $probes_alike "the C and PL/pgSQL triggers judge all $n_probes probes alike ($refused refused, $reviewed accepted with violations recorded)" \
    "the PL/pgSQL trigger does not judge as the C triggers do (see above)"
if [ $probes_off_accepted -ne 0 ]; then
    echo "with enforcement off a probe was refused:"
    grep -v $'\tok' "$TMP/probe-off.tsv" || true
fi
verdict $probes_off_accepted "with enforcement off, all $n_probes probes are accepted" \
    "with enforcement off a probe was refused (see above)"
$check_mode || echo "C and PL/pgSQL agree on all $n_probes probes ($refused refused, $reviewed accepted with violations recorded)"

# ---------------------------------------------------------------------------
# Each run: empty tables, the variant's triggers, vacuum and checkpoint.
reset_for() {
    bpsql -c "TRUNCATE rebate.order_line, rebate.shipment_line, rebate.audit_log" \
          -c "ALTER SEQUENCE bench_policy.line_no RESTART" \
          -c "$(variant_sql "$1")" \
          -c "VACUUM (FREEZE, ANALYZE) rebate.sales_order, rebate.order_line, rebate.audit_log" \
          -c "CHECKPOINT"
}

# After a run: every line in (and audited), no violation.
check_load() {	# check_load VARIANT LOAD EXPECTED
    local got status=0
    got=$(bpsql -At -c "SELECT count(*) || ' ' || (SELECT count(*) FROM rebate.policy_violation)
                               || ' ' || (SELECT count(*) FROM rebate.audit_log)
                          FROM rebate.order_line")
    read -r n_lines n_violations n_audit <<<"$got"
    if [ "$n_lines" != "$3" ] || [ "$n_violations" != 0 ] || [ "$n_audit" != "$3" ]; then
        status=1
    fi
    verdict $status "$2 load with $1: all $(thousands "$3") lines in and audited, no violation" \
        "$2 load with $1: $n_lines lines (expected $3), $n_violations violations, $n_audit audit rows"
}

# the variants' order in round r: rotating, so none is always first;
# PL/pgSQL only in the first --plpgsql-runs rounds
round_order() {	# round_order ROUND RUNS-OF-OFF-AND-C
    local r=$1 i v
    for i in 0 1 2; do
        v=${VARIANTS[$(( (i + r - 1) % 3 ))]}
        if { [ "$v" = plpgsql ] && [ "$r" -le "$plpgsql_runs" ]; } || { [ "$v" != plpgsql ] && [ "$r" -le "$2" ]; }; then
            echo "$v"
        fi
    done
}

: >"$TMP/timing.tsv"	# load variant run seconds tps
if $do_batched; then
    n_batches=$(( (lines + batch - 1) / batch ))
    for ((k = 0; k < n_batches; k++)); do
        echo "INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost)
              SELECT tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost
                FROM bench_policy.line_src WHERE n > $((k * batch)) AND n <= $(((k + 1) * batch)) ORDER BY n;"
    done >"$TMP/batched.sql"
    rounds=$(( runs > plpgsql_runs ? runs : plpgsql_runs ))
    if $check_mode; then
        say "batched load: $(thousands "$lines") lines, $(thousands "$batch") per statement and transaction, once with each variant"
    else
        say "batched load: $(thousands "$lines") lines, $(thousands "$batch") per statement and transaction, $rounds round(s)"
    fi
    for ((r = 1; r <= rounds; r++)); do
        for v in $(round_order "$r" "$runs"); do
            reset_for "$v"
            t0=$(now_ns)
            if $check_mode; then	# a refused line: reported by check_load, then the next variant
                bpsql -f "$TMP/batched.sql" || echo "# the batched load with $v stopped at the error above"
            else
                bpsql -f "$TMP/batched.sql"
            fi
            t1=$(now_ns)
            check_load "$v" batched "$lines"
            $check_mode && continue
            secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
            tps=$(awk -v s="$secs" -v n="$lines" 'BEGIN { printf "%.1f", n / s }')
            printf 'batched\t%s\t%s\t%s\t%s\n' "$v" "$r" "$secs" "$tps" >>"$TMP/timing.tsv"
            printf '  round %s/%s: %-8s %9.2f s  (%s lines/s)\n' "$r" "$rounds" "$v" "$secs" "$(thousands "${tps%.*}")"
        done
    done
fi

if $do_pgbench; then
    cat >"$TMP/pgbench.sql" <<'EOF'
\set o random(1, :norders)
\set p random(1, :nproducts)
\set q random(1, 60)
INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost)
SELECT d.tenant_id, d.order_id, d.partner_id, nextval('bench_policy.line_no'), pr.product_id, :q, pr.unit_price, pr.unit_cost
  FROM bench_policy.draft d JOIN bench_policy.product pr ON pr.tenant_id = d.tenant_id AND pr.n = :p
 WHERE d.n = :o;
EOF
    rounds=$(( pgbench_runs > plpgsql_runs ? pgbench_runs : plpgsql_runs ))
    if $check_mode; then
        say "pgbench load: $(thousands "$pgbench_lines") single-line transactions, $clients clients, $threads threads, -M prepared, once with each variant"
    else
        say "pgbench load: $(thousands "$pgbench_lines") single-line transactions, $clients clients, $threads threads, -M prepared, $rounds round(s)"
    fi
    for ((r = 1; r <= rounds; r++)); do
        for v in $(round_order "$r" "$pgbench_runs"); do
            reset_for "$v"
            t0=$(now_ns)
            if ! "$PGBENCH" -n -c "$clients" -j "$threads" -t "$per_client" -M prepared --random-seed=42 \
                -D norders="$n_orders" -D nproducts="$n_products" -f "$TMP/pgbench.sql" "$DB" >"$TMP/pgbench.out" 2>&1; then
                cat "$TMP/pgbench.out"
                $check_mode || exit 1
                verdict 1 "pgbench load with $v: no failed transaction" "pgbench with $v exited non-zero (see above)"
                continue
            fi
            t1=$(now_ns)
            check_load "$v" pgbench "$pgbench_lines"
            tps=$(awk '/^tps = / { print $3; exit }' "$TMP/pgbench.out")
            failed=$(awk '/^number of failed transactions:/ { print $5; exit }' "$TMP/pgbench.out")
            pgbench_ok=0
            if [ -z "$tps" ] || [ "${failed:-0}" != 0 ]; then
                cat "$TMP/pgbench.out"
                pgbench_ok=1
            fi
            verdict $pgbench_ok "pgbench load with $v: no failed transaction" "pgbench with $v"
            $check_mode && continue
            # the load's time: transactions / tps (pgbench's, without connecting)
            secs=$(awk -v t="$tps" -v n="$pgbench_lines" 'BEGIN { printf "%.3f", n / t }')
            wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
            printf 'pgbench\t%s\t%s\t%s\t%s\n' "$v" "$r" "$secs" "$tps" >>"$TMP/timing.tsv"
            printf '  round %s/%s: %-8s %9.2f s  %9s tps  (wall clock %s s)\n' "$r" "$rounds" "$v" "$secs" \
                "$(thousands "${tps%.*}")" "$wall"
        done
    done
fi

if $check_mode; then
    checks_exit	# the rest measures: the caches' misses, the PL/pgSQL trigger's queries, the report
fi

: >"$TMP/misses.md"
if $do_pgbench; then
    # What the C triggers' caches miss: one more (untimed) pgbench load of the C
    # variant, 2,500 lines per client, counting the calls of the SQL functions
    # the C triggers run on a cache miss (track_functions, this load only) and
    # the scans of rebate.product_region.
    diag_per_client=$(( per_client < 2500 ? per_client : 2500 ))
    diag_lines=$(( diag_per_client * clients ))
    say "the C triggers' cache misses: an untimed pgbench load of $(thousands "$diag_lines") lines, $clients new sessions"
    reset_for c
    bpsql -c "SELECT pg_stat_reset()" >/dev/null
    PGOPTIONS="$PGOPTIONS -c track_functions=all" "$PGBENCH" -n -c "$clients" -j "$threads" -t "$diag_per_client" \
        -M prepared --random-seed=42 -D norders="$n_orders" -D nproducts="$n_products" -f "$TMP/pgbench.sql" "$DB" \
        >"$TMP/pgbench-diag.out" 2>&1 || { cat "$TMP/pgbench-diag.out"; exit 1; }
    sleep 1	# the sessions' statistics reach the collector as they end
    bpsql -At -F $'\t' >"$TMP/misses.tsv" <<'EOF'
SELECT f.name, coalesce(s.calls, 0)
  FROM (VALUES (1, 'product_price_policies'), (2, 'policy_price_limits')) AS f (ord, name)
  LEFT JOIN pg_stat_user_functions s ON s.schemaname = 'rebate' AND s.funcname = f.name
 ORDER BY f.ord;
SELECT 'product_region_scans', coalesce(seq_scan, 0) + coalesce(idx_scan, 0)
  FROM pg_stat_user_tables WHERE schemaname = 'rebate' AND relname = 'product_region';
SELECT 'products', count(*) FROM rebate.product;
SELECT 'product_region_pairs', count(DISTINCT (l.product_id, o.ship_to_region_id))
  FROM rebate.order_line l JOIN rebate.sales_order o ON o.id = l.order_id;
EOF
    check_load c "pgbench (cache misses)" "$diag_lines"
    sed 's/^/  /' "$TMP/misses.tsv"
    miss() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$TMP/misses.tsv"; }
    {
        echo "What the C triggers look up with SQL (each a query through SPI; the functions named are counted with"
        echo "\`track_functions\`, the product-region query by the scans of \`rebate.product_region\`) in an untimed pgbench load of the C variant, $(thousands "$diag_lines") lines from $clients new sessions:"
        echo
        echo "| Lookup | cached | queries in $(thousands "$diag_lines") lines |"
        echo "|---|---|--:|"
        echo "| the line's order, \`SELECT … FOR SHARE\` | for the rows of one statement | one per line (each line is a statement of its own) |"
        echo "| tenant settings, partner, region path | per session until a policy table changes | a few per session |"
        echo "| a product's price policies (\`rebate.product_price_policies\`, \`rebate.policy_price_limits\` per policy) | per session and product | $(thousands "$(miss product_price_policies)"), $(thousands "$(miss policy_price_limits)") ($(miss products) products) |"
        echo "| a product's authorised regions (\`rebate.product_region\`) | per session and product | $(thousands "$(miss product_region_scans)") ($(thousands "$(miss product_region_pairs)") product–region pairs in the load) |"
    } >"$TMP/misses.md"
fi

# Where the PL/pgSQL trigger's time goes: each of its queries (as it runs
# them for a line of the benchmark) 2,000 times in one transaction, warm.
say "the PL/pgSQL trigger's queries, 2,000 calls each"
bpsql -At -F $'\t' >"$TMP/parts.tsv" <<'EOF'
CREATE TEMP TABLE part_time (ord int, part text, us numeric);
DO $$
DECLARE
    o rebate.sales_order;
    s rebate.enforcement_setting;
    pol rebate.price_policy;
    lim record;
    ok boolean;
    started timestamptz;
    calls constant integer := 2000;
    orders bigint[] := ARRAY(SELECT order_id FROM bench_policy.draft ORDER BY n LIMIT 2000);
    products bigint[];
BEGIN
    SELECT * INTO o FROM rebate.sales_order WHERE id = orders[1];
    products := ARRAY(SELECT product_id FROM bench_policy.product WHERE tenant_id = o.tenant_id ORDER BY n);
    -- warm up
    FOR i IN 1 .. 50 LOOP
        pol := rebate.effective_price(products[1 + i % cardinality(products)], o.partner_id, o.ship_to_region_id,
                                      o.order_date, 1 + i % 60);
    END LOOP;

    started := clock_timestamp();
    FOR i IN 1 .. calls LOOP
        SELECT * INTO o FROM rebate.sales_order WHERE id = orders[1 + i % cardinality(orders)] FOR SHARE;
    END LOOP;
    INSERT INTO part_time VALUES (1, 'the order: `SELECT … FROM rebate.sales_order … FOR SHARE`',
                                  extract(epoch FROM clock_timestamp() - started) * 1e6 / calls);

    started := clock_timestamp();
    FOR i IN 1 .. calls LOOP
        SELECT * INTO s FROM rebate.enforcement_setting WHERE tenant_id = o.tenant_id;
    END LOOP;
    INSERT INTO part_time VALUES (2, 'the tenant''s `rebate.enforcement_setting`',
                                  extract(epoch FROM clock_timestamp() - started) * 1e6 / calls);

    SELECT * INTO o FROM rebate.sales_order WHERE id = orders[1];
    started := clock_timestamp();
    FOR i IN 1 .. calls LOOP
        pol := rebate.effective_price(products[1 + i % cardinality(products)], o.partner_id, o.ship_to_region_id,
                                      o.order_date, 1 + i % 60);
    END LOOP;
    INSERT INTO part_time VALUES (3, '`rebate.effective_price(product, partner, region, date, quantity)`',
                                  extract(epoch FROM clock_timestamp() - started) * 1e6 / calls);

    started := clock_timestamp();
    FOR i IN 1 .. calls LOOP
        lim := rebate.policy_price_limits(pol, products[1 + i % cardinality(products)]);
    END LOOP;
    INSERT INTO part_time VALUES (4, '`rebate.policy_price_limits(policy, product)`',
                                  extract(epoch FROM clock_timestamp() - started) * 1e6 / calls);

    started := clock_timestamp();
    FOR i IN 1 .. calls LOOP
        ok := rebate.product_authorised(products[1 + i % cardinality(products)], o.ship_to_region_id);
    END LOOP;
    INSERT INTO part_time VALUES (5, '`rebate.product_authorised(product, region)`',
                                  extract(epoch FROM clock_timestamp() - started) * 1e6 / calls);
END
$$;
SELECT part, round(us, 1) FROM part_time ORDER BY ord;
EOF
{
    echo "Where the PL/pgSQL trigger's time goes: each query it runs for a line, called 2,000 times in one"
    echo "transaction after a warm-up (in the pgbench load every line is a transaction of its own, and"
    echo "PL/pgSQL sets its expressions up anew in each):"
    echo
    echo "| Query of the PL/pgSQL trigger | per call |"
    echo "|---|--:|"
    awk -F'\t' '{ printf "| %s | %s µs |\n", $1, $2 }' "$TMP/parts.tsv"
} >"$TMP/parts.md"
sed 's/^/  /' "$TMP/parts.tsv"

elapsed=$((SECONDS - started_all))


# ---------------------------------------------------------------------------
# Medians and ratios, as markdown (stdout); the ratios also as
# "load c_over_off plpgsql_over_off attributable_ratio" lines in $TMP/ratios.
report() {
    awk -F'\t' -v lines_batched="$lines" -v lines_pgbench="$pgbench_lines" -v batch="$(thousands "$batch")" \
        -v clients="$clients" -v ratios="$TMP/ratios" '
        function median(list,   a, n, t, i, j) {
            n = split(list, a, " ")
            for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        function commas(x,   s, neg, out) {
            s = sprintf("%.0f", x); neg = s ~ /^-/; sub(/^-/, "", s); out = ""
            while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
            return (neg ? "-" : "") s out
        }
        function secs(x) { return sprintf("%.1f s", x) }
        {
            t[$1, $2] = t[$1, $2] " " $4; q[$1, $2] = q[$1, $2] " " $5
            all[$1, $2] = all[$1, $2] (all[$1, $2] == "" ? "" : ", ") sprintf("%.1f", $4)
            seen[$1] = 1
        }
        END {
            label["off"] = "enforcement off"
            label["c"] = "C triggers"
            label["plpgsql"] = "PL/pgSQL trigger"
            name["batched"] = "batched, " batch " lines per statement"
            name["pgbench"] = "pgbench, 1 line per transaction, " clients " clients"
            n_of["batched"] = lines_batched; n_of["pgbench"] = lines_pgbench
            nl = split("batched pgbench", loads, " ")
            nv = split("off c plpgsql", vs, " ")
            print "| Load | Variant | median time | lines/s | × off | trigger-attributable | per line |"
            print "|---|---|--:|--:|--:|--:|--:|"
            for (i = 1; i <= nl; i++) {
                l = loads[i]
                if (!seen[l]) continue
                for (k = 1; k <= nv; k++) { v = vs[k]; m[l, v] = median(t[l, v]) }
                for (k = 1; k <= nv; k++) {
                    v = vs[k]
                    extra = m[l, v] - m[l, "off"]
                    printf "| %s | %s | %s | %s | %.2f× | %s | %s |\n", name[l], label[v], secs(m[l, v]),
                           commas(n_of[l] / m[l, v]), m[l, v] / m[l, "off"], v == "off" ? "—" : secs(extra),
                           v == "off" ? sprintf("%.1f µs", m[l, v] / n_of[l] * 1e6) : sprintf("%+.1f µs", extra / n_of[l] * 1e6)
                }
            }
            print ""
            print "Median of the runs of each variant; lines/s: lines ÷ median time; × off: median ÷ the median with enforcement off; trigger-attributable: median − the median with enforcement off; per line: the time per line with enforcement off, and the trigger-attributable time per line."
            print ""
            print "| Goal | batched | pgbench |"
            print "|---|---|---|"
            row1 = "| enforcement costs at most 1.3× the load without it (C ÷ off) |"
            row2 = "| the C triggers at least 2× faster than PL/pgSQL in trigger-attributable time ((PL/pgSQL − off) ÷ (C − off)) |"
            row3 = "| for comparison: PL/pgSQL ÷ off |"
            for (i = 1; i <= nl; i++) {
                l = loads[i]
                if (!seen[l]) { row1 = row1 " not run |"; row2 = row2 " not run |"; row3 = row3 " not run |"; continue }
                r1 = m[l, "c"] / m[l, "off"]; r3 = m[l, "plpgsql"] / m[l, "off"]
                row1 = row1 sprintf(" %.2f× — %s |", r1, r1 <= 1.3 ? "met" : "missed")
                dc = m[l, "c"] - m[l, "off"]; dp = m[l, "plpgsql"] - m[l, "off"]
                if (dc > 0) {
                    r2 = dp / dc
                    row2 = row2 sprintf(" %.2f× — %s |", r2, r2 >= 2 ? "met" : "missed")
                } else {
                    r2 = "inf"
                    row2 = row2 sprintf(" C within noise of off (%+.1f s): not measurable |", dc)
                }
                row3 = row3 sprintf(" %.2f× |", r3)
                printf "%s %.4f %.4f %s\n", l, r1, r3, r2 == "inf" ? r2 : sprintf("%.4f", r2) > ratios
            }
            print row1; print row2; print row3
            print ""
            print "Every timed run (seconds, in the order of the rounds; the variants took turns, rotating which went first):"
            print ""
            print "| Load | Variant | runs | median |"
            print "|---|---|---|--:|"
            for (i = 1; i <= nl; i++) {
                l = loads[i]
                if (!seen[l]) continue
                for (k = 1; k <= nv; k++) { v = vs[k]; printf "| %s | %s | %s | %s |\n", l, label[v], all[l, v], secs(m[l, v]) }
            }
        }' "$TMP/timing.tsv"
}

report >"$TMP/report.md"
runs_text="median of $runs batched and $pgbench_runs pgbench run(s) of off and C, $plpgsql_runs run(s) of PL/pgSQL per load"
say "results: $(thousands "$lines") lines per load, $runs_text (timings are not judged)"
cat "$TMP/report.md"
echo
echo "whole benchmark: $elapsed s"

if $write_doc; then
    cpu=$(awk -F': *' '/^model name/ && !m { m = $2 } /^cpu family/ && !f { f = $2 } /^model\t/ && !n { n = $2 }
                       /^cpu MHz/ && !h { h = $2 } /^flags/ && / hypervisor/ { vm = 1 }
                       END { printf "%s (family %s, model %s), %.0f MHz%s", m, f, n, h, vm ? ", virtual machine" : "" }' /proc/cpuinfo)
    mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    pg_version=$(bpsql -At -c "SELECT version()")
    server_settings=$(bpsql -At -c "SELECT string_agg(name || ' = ' || current_setting(name), ', ' ORDER BY name)
                                    FROM pg_settings WHERE name IN ('shared_buffers', 'fsync', 'max_wal_size', 'wal_level')")
    ext_version=$(bpsql -At -c "SELECT extversion FROM pg_extension WHERE extname = 'rebate'")
    commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        commit="$commit (with uncommitted changes)"
    fi
    plpgsql_minutes=$(awk -F'\t' '$2 == "plpgsql" { printf "%s%s %.1f min", sep, $1, $4 / 60; sep = ", " }' "$TMP/timing.tsv")
    read_ratio() { awk -v l="$1" -v f="$2" '$1 == l { print $f }' "$TMP/ratios"; }
    reading=""
    for l in batched pgbench; do
        [ -n "$(read_ratio $l 2)" ] || continue
        c_off=$(read_ratio $l 2) p_off=$(read_ratio $l 3) attr=$(read_ratio $l 4)
        reading+=$(awk -v l="$l" -v c="$c_off" -v p="$p_off" -v a="$attr" 'BEGIN {
            printf "%s the C triggers took %.2f× the time without enforcement (goal at most 1.3×: %s) and the PL/pgSQL trigger %.2f×; ",
                   (l == "batched" ? "Batched," : "With pgbench,"), c, (c <= 1.3 ? "met" : "missed"), p
            if (a == "inf") printf "the time the C triggers added was within the noise of no enforcement, so the attributable ratio cannot be measured. "
            else printf "in trigger-attributable time the C triggers were %.2f× faster than PL/pgSQL (goal at least 2×: %s). ", a, (a >= 2 ? "met" : "missed")
        }')
    done
    {
        cat <<EOF
$BEGIN_MARK
## Policy enforcement on order lines

What do the policy-enforcement triggers cost when order lines are written?
$(thousands "$lines") lines go into draft orders with enforcement off, with
the C triggers (\`policy_order_state\`, \`policy_price\`, \`policy_region\`:
order state, price floor and ceiling, product authorisation), and with one
PL/pgSQL trigger doing the same checks with SQL per row
(\`bench/policy_plpgsql.sql\`). This section is written by

    $COMMAND

(run on $(date -u '+%Y-%m-%d %H:%M UTC'), the whole benchmark in $((elapsed / 60)) min $((elapsed % 60)) s;
\`bench/policy.sh --write-doc\` rewrites only the text between the
\`policy-benchmark\` markers, and \`bench/run.sh --write-doc\` keeps it).

### Results

$(thousands "$lines") lines per load (pgbench: $(thousands "$pgbench_lines")); $runs_text.

$(cat "$TMP/report.md")

**Reading.** $reading

$(cat "$TMP/parts.md")

$(cat "$TMP/misses.md")

**Trigger-attributable time** is a variant's median time minus the median
time of the same load with the policy triggers disabled: what the checks
themselves add. Everything else the insert does runs in all three variants
alike and is in that baseline: the \`fill\` trigger, the \`audit\` trigger
(one \`rebate.audit_log\` row per line, with the line as jsonb), the foreign
keys, the three indexes, WAL and commit. The ratio of the goal, (PL/pgSQL −
off) ÷ (C − off), compares the checks alone; C ÷ off compares whole loads.

### Machine

| | |
|---|---|
| CPU | $cpu, $(nproc) cores (\`nproc\`) |
| Memory | $mem |
| OS | $(uname -sr) |
| PostgreSQL | $pg_version |
| Server | $server_kind |
| Server settings | $server_settings |
| Session settings | synchronous_commit = $sync_commit, jit = off |
| rebate | extension $ext_version, commit $commit |

### How it is measured

- Data (\`bench/policy_setup.sql\`): \`rebate_sample.generate(partners => $partners, lines => 30000)\`
  (two tenants, 108 regions, partners with territories, 15 products per
  tenant, price policies: base 92% of list with an 80% floor, grade A 88%,
  a regional summer promotion, quantity breaks from 50), then
  $(thousands "$n_orders") draft orders of active partners, shipped to the
  partner's home region (inside its territory), dated over 2026. The
  sample's own lines are removed; no product has \`product_region\` rows.
  Every line is priced at 92% of list, quantity 1–60: it passes every
  check, so every run loads all its lines and records no violation (both
  checked after each run).
- Before the timings, the C and PL/pgSQL triggers judge $n_probes probes
  alike (\`bench/policy_probe.sql\`: floors, ceilings, no policy, product
  authorisation, locked orders, credit, in reject and review mode; each
  rolled back): $refused refused with the same SQLSTATE, $reviewed accepted with
  the same violations recorded. Otherwise the benchmark stops.
- Variants: \`ALTER TABLE rebate.order_line ENABLE/DISABLE TRIGGER\`; the
  other triggers (\`fill\`, \`audit\`) stay as shipped. The lines are
  inserted with \`partner_id\` and \`unit_cost\` given, as
  \`rebate_sample.generate\` does, so \`fill\` looks nothing up.
- Batched: one psql session runs INSERT … SELECT from a staging table,
  $(thousands "$batch") lines per statement, each statement its own transaction,
  the lines of an order together; the time is the wall clock of the whole
  load.
- pgbench: \`pgbench -c $clients -j $threads -t $(thousands "$per_client") -M prepared\`, each
  transaction one INSERT … SELECT of one line into a random draft order
  (a random product, quantity 1–60, line numbers from a sequence); the
  time is transactions ÷ tps (pgbench's tps without connection time).
- Every run starts from an empty \`rebate.order_line\` and
  \`rebate.audit_log\` (TRUNCATE), after \`VACUUM (FREEZE, ANALYZE)\` and
  \`CHECKPOINT\`, in new sessions: the C triggers' caches and the PL/pgSQL
  function start cold in every run, as in a new connection. The variants
  take turns, the first rotating from round to round.
- PL/pgSQL runs $plpgsql_runs time(s) per load, off and C $runs (batched) and
  $pgbench_runs (pgbench) times: one PL/pgSQL run of a load takes $plpgsql_minutes,
  and its trigger-attributable time is so many times the C triggers' that
  run-to-run noise of a few percent cannot move the 2× goal, while C ÷ off
  compares two times a few percent apart and needs the medians (\`--plpgsql-runs\` sets it).
- synchronous_commit is $sync_commit in the benchmark's sessions, so that
  single-line transactions measure the work of the insert rather than the
  disk's flush latency (which would be the same for every variant).
  \`--sync-commit on\` measures with it.
$END_MARK
EOF
    } >"$TMP/section.md"
    replace_doc_section "$DOC" "$BEGIN_MARK" "$END_MARK" "$TMP/section.md"
    say "wrote the policy section of $DOC"
fi
