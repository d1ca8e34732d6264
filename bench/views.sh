#!/usr/bin/env bash
# bench/views.sh — how long do the BI views take on a large channel, live and
# as snapshots, and how long does refreshing the snapshots take?
#
#   bench/views.sh              full size: 2 brands x 5,000 partners, 10,000,000 order lines, 3 runs
#   bench/views.sh --small      2 x 50 partners, about 6,000 lines, 1 run (a quick try; the timings mean little)
#   bench/views.sh --check      the same data: the correctness checks only, one "ok - ..." or
#                               "not ok - ..." line each, no timing (the test suite's, through
#                               test/bench_agreement.sh)
#   bench/views.sh --write-doc  also write the section "BI views" of docs/performance.md (not with --check)
#
# Options: --partners P (per brand), --lines N, --runs R, --keep (keep the
# database rebate_views_bench).
#
# Data: rebate_sample.generate (as bench/programs.sh), its programs, Q3
# closed and issued for the larger brand, and a quarterly scoring model with
# four KPIs (net sales against target, collection rate, growth by bands,
# orders by distribution).  Each query runs as the role a dashboard would
# use: the brand's manager, or a partner user (a dealer) for the partner
# portal's views.  Before timing, the snapshots must equal the live views
# for the manager (a difference exits non-zero).  A run's time is the
# executor's (EXPLAIN ANALYZE, TIMING OFF); medians of R runs after a
# warm-up.  Timings are reported, never judged.  --check refreshes the
# snapshots twice (the first time after the load, then concurrently),
# compares them with the live views and runs each timed query once, untimed,
# as its role; it reports every check.
# shellcheck source=../scripts/common.sh
source "$(dirname "$0")/../scripts/common.sh"
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"

DOC=$REPO/docs/performance.md
DB=rebate_views_bench
COMMAND="bench/views.sh $*"
BEGIN_MARK='<!-- views-benchmark:begin -->'
END_MARK='<!-- views-benchmark:end -->'
Q3='[2026-07-01,2026-10-01)'

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

mode=full opt_partners="" opt_lines="" opt_runs="" write_doc=false keep=false
while [ $# -gt 0 ]; do
    case $1 in
        --small) mode=small ;;
        --check) mode=check; check_mode=true ;;
        --partners) opt_partners=${2:-}; shift ;;
        --lines) opt_lines=${2:-}; shift ;;
        --runs) opt_runs=${2:-}; shift ;;
        --write-doc) write_doc=true ;;
        --keep) keep=true ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
    shift
done
$write_doc && $check_mode && { echo "--write-doc wants timings, not --check" >&2; usage; }
if [ $mode != full ]; then
    partners=50 lines=6000 runs=1
else
    partners=5000 lines=10000000 runs=3
fi
partners=${opt_partners:-$partners} lines=${opt_lines:-$lines} runs=${opt_runs:-$runs}
if $check_mode; then
    runs=1	# the first refresh and one concurrent refresh
fi
for n in "$partners" "$lines" "$runs"; do
    is_count "$n" || { echo "not a positive whole number: $n" >&2; usage; }
done
gen_lines=$(( lines * 99 / 100 ))

if [ $mode = full ]; then
    : "${REBATE_SERVER_OPTS=-c shared_buffers=4GB -c work_mem=256MB -c maintenance_work_mem=1GB -c max_wal_size=16GB -c checkpoint_timeout=30min -c jit=off}"
fi
provide_server
if [ -n "$THROWAWAY_DIR" ]; then
    server_kind="a throwaway cluster started by bench/views.sh (fsync=off; REBATE_SERVER_OPTS: ${REBATE_SERVER_OPTS:-none})"
else
    server_kind="an existing server (${PGHOST:-local socket}:${PGPORT:-5432})"
fi
TMP=$(mktemp -d /tmp/rebate-views-bench.XXXXXX)
ROLE_SUFFIX=$$
cleanup() {
    if ! $keep; then
        psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    fi
    psql_quiet -d postgres -c "DROP ROLE IF EXISTS bench_views_mgr_$ROLE_SUFFIX" \
                           -c "DROP ROLE IF EXISTS bench_views_dealer_$ROLE_SUFFIX" >/dev/null 2>&1 || true
    rm -rf "$TMP"
    stop_throwaway_cluster
}
trap cleanup EXIT
vpsql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)

say "database $DB: rebate_sample.generate(partners => $partners, lines => $gen_lines, audited => false), programs, Q3 closed"
fresh_database $DB
vpsql -f "$REPO/sample/sample_data.sql"
t0=$SECONDS
PGOPTIONS="${PGOPTIONS:-} -c synchronous_commit=off" vpsql -At \
    -c "SELECT order_lines FROM rebate_sample.generate(partners => $partners, lines => $gen_lines, audited => false)" >/dev/null
vpsql -At -c "SELECT count(*) FROM rebate_sample.programs()" >/dev/null
vpsql -c "VACUUM (FREEZE, ANALYZE)"
read -r tenant tenant_code < <(vpsql -At -F ' ' -c "
    SELECT f.tenant_id, t.code FROM rebate.sales_fact f JOIN rebate.tenant t ON t.id = f.tenant_id
     GROUP BY 1, 2 ORDER BY count(*) DESC, 1 LIMIT 1")
vpsql -At -c "SELECT count(*) FROM rebate.close_period($tenant, '$Q3')" -c "SELECT rebate.issue_statements($tenant, '$Q3')" >/dev/null
vpsql <<SQL
INSERT INTO rebate.scoring_model (tenant_id, code, name, period_unit, active) VALUES ($tenant, 'BENCH', '季度考核', 'quarter', false);
INSERT INTO rebate.scoring_kpi (tenant_id, model_id, kpi, weight, normalisation, target, cap, band_thresholds, band_scores)
SELECT $tenant, m.id, k.kpi, k.weight, k.normalisation, k.target, k.cap, k.thresholds, k.scores
  FROM rebate.scoring_model m,
       (VALUES ('net_sales', 40, 'target', NULL::numeric, 120, NULL::numeric[], NULL::numeric[]),
               ('collection_rate', 20, 'target', 0.9, 100, NULL, NULL),
               ('growth', 20, 'bands', NULL, 100, '{0,0.1,0.3}', '{50,80,100}'),
               ('orders', 20, 'distribution', NULL, 100, NULL, NULL)) AS k (kpi, weight, normalisation, target, cap, thresholds, scores)
 WHERE m.tenant_id = $tenant AND m.code = 'BENCH';
INSERT INTO rebate.scoring_band (tenant_id, model_id, grade_id, min_score)
SELECT $tenant, m.id, g.id, CASE g.code WHEN 'A' THEN 80 WHEN 'B' THEN 60 ELSE 0 END
  FROM rebate.scoring_model m JOIN rebate.partner_grade g ON g.tenant_id = m.tenant_id
 WHERE m.tenant_id = $tenant AND m.code = 'BENCH' AND g.code IN ('A', 'B', 'C');
UPDATE rebate.scoring_model SET active = true WHERE tenant_id = $tenant AND code = 'BENCH';
CREATE ROLE bench_views_mgr_$ROLE_SUFFIX;
CREATE ROLE bench_views_dealer_$ROLE_SUFFIX;
SELECT rebate.grant_access('bench_views_mgr_$ROLE_SUFFIX', $tenant);
SELECT rebate.grant_access('bench_views_dealer_$ROLE_SUFFIX',
                           $tenant, (SELECT min(id) FROM rebate.partner WHERE tenant_id = $tenant AND parent_id IS NOT NULL));
CREATE FUNCTION public.time_query(query text, OUT ms float8, OUT row_count bigint) LANGUAGE plpgsql AS \$\$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) ' || query INTO plan;
    ms := (plan -> 0 ->> 'Execution Time')::float8;
    row_count := (plan -> 0 -> 'Plan' ->> 'Actual Rows')::bigint;
END \$\$;
CREATE TABLE public.timing (id bigint GENERATED ALWAYS AS IDENTITY, label text, role text, run int, ms float8, row_count bigint);
GRANT INSERT ON public.timing TO PUBLIC;
SQL
load_seconds=$((SECONDS - t0))
facts=$(vpsql -At -c "SELECT count(*) FROM rebate.channel_fact_all")
t_lines=$(vpsql -At -c "SELECT count(*) FROM rebate.order_line WHERE tenant_id = $tenant")
echo "loaded in $load_seconds s: $(thousands "$facts") facts (lines and payments); brand $tenant_code (tenant $tenant): $(thousands "$t_lines") order lines"

say "snapshots: the first refresh after the load, then the following ones"
refresh() { vpsql -At -F ' ' -c "SELECT format('%s %s %s', snapshot, seconds, concurrent) FROM rebate.refresh_report_snapshots()"; }
if $check_mode; then
    refreshed=0
    { refresh >"$TMP/refresh-first.txt" && refresh >"$TMP/refresh-concurrent.txt"; } || refreshed=$?
    verdict $refreshed "rebate.refresh_report_snapshots() refreshes the snapshots after the load, then again" \
        "rebate.refresh_report_snapshots() failed (see above)"
else
    refresh | tee "$TMP/refresh-first.txt"
    : >"$TMP/refresh-concurrent.txt"
    for r in $(seq 1 "$runs"); do
        refresh | tee -a "$TMP/refresh-concurrent.txt"
    done
fi

say "check: each snapshot equals its live view, for the manager"
# per view: "view rows-that-differ rows-of-the-snapshot"
vpsql -At -F ' ' >"$TMP/differences.txt" <<SQL
SET ROLE bench_views_mgr_$ROLE_SUFFIX;
SELECT 'v_partner_performance',
       (SELECT count(*) FROM ((SELECT * FROM rebate.v_partner_performance EXCEPT SELECT * FROM rebate.v_partner_performance_snapshot)
                              UNION ALL (SELECT * FROM rebate.v_partner_performance_snapshot EXCEPT SELECT * FROM rebate.v_partner_performance)) d),
       (SELECT count(*) FROM rebate.v_partner_performance_snapshot);
SELECT 'v_region_performance',
       (SELECT count(*) FROM ((SELECT * FROM rebate.v_region_performance EXCEPT SELECT * FROM rebate.v_region_performance_snapshot)
                              UNION ALL (SELECT * FROM rebate.v_region_performance_snapshot EXCEPT SELECT * FROM rebate.v_region_performance)) d),
       (SELECT count(*) FROM rebate.v_region_performance_snapshot);
SELECT 'v_product_performance',
       (SELECT count(*) FROM ((SELECT * FROM rebate.v_product_performance EXCEPT SELECT * FROM rebate.v_product_performance_snapshot)
                              UNION ALL (SELECT * FROM rebate.v_product_performance_snapshot EXCEPT SELECT * FROM rebate.v_product_performance)) d),
       (SELECT count(*) FROM rebate.v_product_performance_snapshot);
SQL
differences=$(awk '{ n += $2 } END { print n + 0 }' "$TMP/differences.txt")
if $check_mode; then
    while read -r view n_differ n_rows; do
        status=0
        [ "$n_differ" = 0 ] || status=1
        verdict $status "rebate.${view}_snapshot equals rebate.$view for the manager ($n_rows rows in the snapshot, $n_differ differ)" \
            "rebate.${view}_snapshot differs from rebate.$view: $n_differ rows of one side missing from the other"
    done <"$TMP/differences.txt"
else
    echo "rows that differ: $differences"
    [ "$differences" = 0 ] || { say "FAILED: a snapshot differs from its live view"; exit 1; }
fi

time_queries() {	# time_queries ROLE LABEL<TAB>QUERY lines on stdin
    local role=$1 script=$TMP/time-$1.sql
    {
        echo "SET ROLE $role;"
        while IFS=$'\t' read -r label query; do
            for r in $(seq 0 "$runs"); do
                printf "INSERT INTO public.timing (label, role, run, ms, row_count) SELECT %s, %s, %s, t.ms, t.row_count FROM public.time_query(%s) t;\n" \
                    "\$l\$$label\$l\$" "'$role'" "$r" "\$q\$$query\$q\$"
            done
        done
    } >"$script"
    vpsql -f "$script"
}
period="tenant_id = $tenant AND grain = 'quarter' AND period_name = '2026-Q3'"
manager_queries=$(cat <<EOF
v_partner_performance, the brand's partners in Q3 (manager)	SELECT * FROM rebate.v_partner_performance WHERE $period
v_partner_performance_snapshot, the same	SELECT * FROM rebate.v_partner_performance_snapshot WHERE $period
v_region_performance, the brand's regions in Q3	SELECT * FROM rebate.v_region_performance WHERE $period
v_region_performance_snapshot, the same	SELECT * FROM rebate.v_region_performance_snapshot WHERE $period
v_product_performance, the brand's products in Q3	SELECT * FROM rebate.v_product_performance WHERE $period
v_product_performance_snapshot, the same	SELECT * FROM rebate.v_product_performance_snapshot WHERE $period
v_rebate_efficiency, the brand's Q3	SELECT * FROM rebate.v_rebate_efficiency WHERE tenant_id = $tenant AND period_name = '2026-Q3'
v_rebate_efficiency_snapshot, the same	SELECT * FROM rebate.v_rebate_efficiency_snapshot WHERE tenant_id = $tenant AND period_name = '2026-Q3'
partner_scores, the brand's Q3 (two quarters scored)	SELECT * FROM rebate.partner_scores($tenant, '$Q3')
EOF
)
dealer_queries=$(cat <<EOF
v_partner_performance, a dealer's own Q3 (partner user)	SELECT * FROM rebate.v_partner_performance WHERE grain = 'quarter' AND period_name = '2026-Q3'
v_partner_performance_snapshot, the same	SELECT * FROM rebate.v_partner_performance_snapshot WHERE grain = 'quarter' AND period_name = '2026-Q3'
v_leaderboard, Q3 (partner user)	SELECT * FROM rebate.v_leaderboard WHERE period_name = '2026-Q3'
v_leaderboard_snapshot, the same	SELECT * FROM rebate.v_leaderboard_snapshot WHERE period_name = '2026-Q3'
EOF
)
if $check_mode; then
    say "check: each query of the timings runs, once and untimed, as the role a dashboard would use"
    run_queries() {	# run_queries ROLE WHO: LABEL<TAB>QUERY lines on stdin
        local role=$1 who=$2 label query n status
        while IFS=$'\t' read -r label query; do
            status=0
            n=$(vpsql -At -c "SET ROLE $role" -c "SELECT count(*) FROM ($query) q" </dev/null) || status=$?
            verdict $status "$label: runs as the $who${n:+ ($n rows)}" "$label: fails as the $who (see above)"
        done
    }
    run_queries "bench_views_mgr_$ROLE_SUFFIX" manager <<<"$manager_queries"
    run_queries "bench_views_dealer_$ROLE_SUFFIX" "partner user" <<<"$dealer_queries"
    checks_exit
fi
say "timing: a warm-up and $runs run(s) of each query, as the role a dashboard would use"
time_queries "bench_views_mgr_$ROLE_SUFFIX" <<<"$manager_queries"
time_queries "bench_views_dealer_$ROLE_SUFFIX" <<<"$dealer_queries"

vpsql -At >"$TMP/report.md" <<'SQL'
SELECT '| Query | role | rows | median | runs (ms) |';
SELECT '|---|---|--:|--:|---|';
SELECT format('| %s | %s | %s | %s ms | %s |', label, CASE WHEN role LIKE '%mgr%' THEN 'manager' ELSE 'partner user' END,
              max(row_count), to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), 'FM999,999,990'),
              string_agg(to_char(ms, 'FM999,999,990'), ', ' ORDER BY run))
  FROM public.timing WHERE run > 0 GROUP BY label, role ORDER BY min(id);
SQL
say "results"
cat "$TMP/report.md"
echo
echo "first refresh after the load (s):"; cat "$TMP/refresh-first.txt"
echo "concurrent refreshes (s):"; cat "$TMP/refresh-concurrent.txt"

if $write_doc; then
    refresh_table() {	# median seconds per snapshot
        awk '{ v[$1] = v[$1] " " $2 } END { for (k in v) print k v[k] }' "$1" | sort | while read -r name values; do
            median=$(tr ' ' '\n' <<<"$values" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
            printf '| `%s` | %s s | %s |\n' "$name" "$median" "$(tr ' ' ',' <<<"$values" | sed 's/,/, /g')"
        done
    }
    {
        echo "$BEGIN_MARK"
        cat <<EOF
## BI views

The reporting views of [BI](bi.md) on a large channel, live and as
snapshots. Written by

    $COMMAND

on $(date -u '+%Y-%m-%d %H:%M UTC'): rebate_sample.generate with $(thousands "$partners") partners per brand and
$(thousands "$lines") order lines ($(thousands "$facts") facts with payments; the brand measured, $tenant_code,
has $(thousands "$t_lines") lines), its five programs, Q3 closed and issued, a four-KPI scoring model;
loaded in $load_seconds s. Queries run as the role a dashboard uses (the brand's manager, or a dealer's
portal user); a run is the executor time of \`EXPLAIN (ANALYZE, TIMING OFF)\`; median of $runs runs after a
warm-up. Machine: $(awk -F': *' '/^model name/ && !m { m = $2 } END { print m }' /proc/cpuinfo), $(nproc) cores;
$(vpsql -At -c "SELECT version()"); $server_kind; commit $commit.

$(cat "$TMP/report.md")

Refreshing the snapshots (\`rebate.refresh_report_snapshots()\`): the first refresh after the load
(plain if the snapshot had never been filled, concurrent otherwise; the last column says which)

| snapshot | seconds | concurrently |
|---|--:|---|
$(awk '{ printf "| `%s` | %s s | %s |\n", $1, $2, ($3 == "t" ? "yes" : "no") }' "$TMP/refresh-first.txt")

and the following ones, \`CONCURRENTLY\` (readers and writers go on meanwhile; median of $runs):

| snapshot | median | runs (s) |
|---|--:|---|
$(refresh_table "$TMP/refresh-concurrent.txt")
EOF
        echo "$END_MARK"
    } >"$TMP/section.md"
    replace_doc_section "$DOC" "$BEGIN_MARK" "$END_MARK" "$TMP/section.md"
    say "wrote the section of $DOC"
fi
