#!/usr/bin/env bash
# bench/kpis.sh — the channel KPI aggregates (rebate.channel_kpis, growth,
# achievement, weighted_score) against the built-in aggregates (sum, count,
# count(DISTINCT)) that compute the same numbers separately, on the same data
# in the same session, parallel workers off and on.
#
#   bench/kpis.sh              full size: 10,000,000 facts, 10,000 partners x 12 months, 5 runs
#   bench/kpis.sh --small      100,000 facts, 500 partners, 1 run (a quick try; the timings mean little)
#   bench/kpis.sh --check      100,000 facts, 500 partners: the correctness checks only, one "ok - ..."
#                              or "not ok - ..." line each, no timing (the test suite's, through
#                              test/bench_agreement.sh)
#   bench/kpis.sh --write-doc  also write the section "Channel KPI aggregates" of docs/performance.md
#                              (not with --check)
#
# Options: --rows N, --partners P, --runs R (timed runs per query and
# setting), --workers W (max_parallel_workers_per_gather of the parallel
# runs: 2), --keep (keep the database rebate_kpis_bench).
#
# Data and queries: bench/kpis_setup.sql.  Every pair must first give the
# same result per group (as text), with workers off and with parallel plans
# made free (so that even --small takes them): a disagreement exits non-zero.
# --check stops there and reports every pair.  Then, per setting, one warm-up
# run of every query and R rounds in which the queries take turns; a run's
# time is the executor's (EXPLAIN ANALYZE, TIMING OFF).  Ratios divide medians
# measured in the same session.  Timings are reported, never judged.
#
# Needs the extension built and installed (scripts/test.sh or make install).
# Uses the server the libpq variables name, or a throwaway one started with
# REBATE_SERVER_OPTS (default below).
# shellcheck source=../scripts/common.sh
source "$(dirname "$0")/../scripts/common.sh"
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"

DOC=$REPO/docs/performance.md
DB=rebate_kpis_bench
COMMAND="bench/kpis.sh $*"
BEGIN_MARK='<!-- kpis-benchmark:begin -->'
END_MARK='<!-- kpis-benchmark:end -->'

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

mode=full opt_rows="" opt_partners="" opt_runs="" workers=2 write_doc=false keep=false
while [ $# -gt 0 ]; do
    case $1 in
        --small) mode=small ;;
        --check) mode=check; check_mode=true ;;
        --rows) opt_rows=${2:-}; shift ;;
        --partners) opt_partners=${2:-}; shift ;;
        --runs) opt_runs=${2:-}; shift ;;
        --workers) workers=${2:-}; shift ;;
        --write-doc) write_doc=true ;;
        --keep) keep=true ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
    shift
done
$write_doc && $check_mode && { echo "--write-doc wants timings, not --check" >&2; usage; }
if [ $mode != full ]; then
    rows=100000 partners=500 runs=1
else
    rows=10000000 partners=10000 runs=5
fi
rows=${opt_rows:-$rows} partners=${opt_partners:-$partners} runs=${opt_runs:-$runs}
for n in "$rows" "$partners" "$runs" "$workers"; do
    is_count "$n" || { echo "not a positive whole number: $n" >&2; usage; }
done
WORK_MEM=1GB

: "${REBATE_SERVER_OPTS=-c shared_buffers=4GB -c max_parallel_workers_per_gather=$workers -c work_mem=$WORK_MEM -c jit=off}"
provide_server
if [ -n "$THROWAWAY_DIR" ]; then
    server_kind="a throwaway cluster started by bench/kpis.sh (fsync=off; REBATE_SERVER_OPTS: ${REBATE_SERVER_OPTS:-none})"
else
    server_kind="an existing server (${PGHOST:-local socket}:${PGPORT:-5432})"
fi
TMP=$(mktemp -d /tmp/rebate-kpis.XXXXXX)
cleanup() {
    $keep || psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    rm -rf "$TMP"
    stop_throwaway_cluster
}
trap cleanup EXIT
kpsql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

say "database $DB: $(thousands "$rows") facts over $(thousands "$partners") partners x 12 months"
fresh_database $DB
started=$SECONDS
kpsql -v rows="$rows" -v partners="$partners" -f "$REPO/bench/kpis_setup.sql"
load_seconds=$((SECONDS - started))
table_size=$(kpsql -At -c "SELECT pg_size_pretty(pg_table_size('kpi.facts'))")
echo "generated in $load_seconds s; kpi.facts: $table_size"

say "correctness: each aggregate = its built-in equivalent, group by group, workers off and parallel plans forced"
failed=0
for w in 0 "$workers"; do
    # into a file first, so that an error of the query stops the run
    kpsql -At -F ' ' >"$TMP/check-$w.txt" <<SQL
SET work_mem = '$WORK_MEM';
SET max_parallel_workers_per_gather = $w;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SELECT replace(v.aggregate, ' ', '_'), kpi.differences(v.aggregate),
       CASE WHEN v.aggregate LIKE 'channel_kpis%' THEN (SELECT count(*) FROM (SELECT DISTINCT partner, month FROM kpi.facts) d)
            ELSE (SELECT count(DISTINCT partner) FROM kpi.facts) END,
       (kpi.time_query(v.query)).launched
  FROM kpi.variant v WHERE v.side = 'rebate' ORDER BY v.ord;
SQL
    while read -r aggregate differences groups launched; do
        if $check_mode; then
            status=0
            [ "$differences" = 0 ] || status=1
            verdict $status "$aggregate, workers $w: $groups groups equal the built-in equivalent's ($differences differences$([ "$w" -gt 0 ] && echo ", $launched workers launched"))" \
                "$aggregate differs from its built-in equivalent: $differences rows of one side missing from the other"
        else
            printf '  workers %s: %-24s %s groups, %s differences%s\n' "$w" "$aggregate" "$groups" "$differences" \
                "$([ "$w" -gt 0 ] && echo ", $launched workers launched")"
        fi
        [ "$differences" = 0 ] || failed=1
    done <"$TMP/check-$w.txt"
done
if $check_mode; then
    checks_exit
fi
if [ $failed -ne 0 ]; then
    say "FAILED: an aggregate differs from its built-in equivalent; no timings taken"
    exit 1
fi

say "timing: a warm-up and $runs run(s) of every query, workers off, then $workers"
for w in 0 "$workers"; do
    kpsql <<SQL
SET work_mem = '$WORK_MEM';
SET max_parallel_workers_per_gather = $w;
DO \$\$
DECLARE
    v record;
    t record;
BEGIN
    FOR run IN 0 .. $runs LOOP
        FOR v IN SELECT * FROM kpi.variant ORDER BY ord LOOP
            t := kpi.time_query(v.query);
            IF run > 0 THEN
                INSERT INTO kpi.timing VALUES ($w, v.aggregate, v.side, run, t.ms, t.launched);
            END IF;
            RAISE NOTICE 'workers %, run %/%: % (%) % ms', $w, run, $runs, v.aggregate, v.side, round(t.ms::numeric);
        END LOOP;
    END LOOP;
END \$\$;
SQL
done 2>&1 | sed 's/^NOTICE: */  /'

kpsql -At >"$TMP/report.md" <<'SQL'
CREATE TEMP TABLE med AS
SELECT workers, aggregate, side, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms, min(launched) AS launched,
       string_agg(to_char(ms, 'FM999,990'), ', ' ORDER BY run) AS runs
  FROM kpi.timing GROUP BY 1, 2, 3;
CREATE TEMP TABLE pair AS
SELECT r.workers, r.aggregate, r.ms AS mine, b.ms AS theirs, r.ms / b.ms AS ratio, r.runs AS my_runs, b.runs AS their_runs,
       r.launched, (SELECT min(ord) FROM kpi.variant v WHERE v.aggregate = r.aggregate) AS ord
  FROM med r JOIN med b ON b.workers = r.workers AND b.aggregate = r.aggregate AND b.side = 'built-in'
 WHERE r.side = 'rebate';
SELECT '| Aggregate | parallel off: rebate | built-in | ratio | parallel on: rebate | built-in | ratio | goal ≤ 1.2× |';
SELECT '|---|--:|--:|--:|--:|--:|--:|---|';
SELECT format('| `%s` | %s ms | %s ms | %s× | %s ms | %s ms | %s× | %s |', o.aggregate,
              to_char(o.mine, 'FM999,990'), to_char(o.theirs, 'FM999,990'), to_char(o.ratio, 'FM990.00'),
              to_char(p.mine, 'FM999,990'), to_char(p.theirs, 'FM999,990'), to_char(p.ratio, 'FM990.00'),
              CASE WHEN o.aggregate LIKE '%sums only' THEN 'not a goal: the built-in side computes fewer numbers'
                   WHEN greatest(o.ratio, p.ratio) <= 1.2 THEN 'met' ELSE 'missed' END)
  FROM pair o JOIN pair p ON p.aggregate = o.aggregate AND p.workers > 0
 WHERE o.workers = 0 ORDER BY o.ord;
SELECT '';
SELECT format('Parallel runs launched %s worker(s) each (the fewest in any run). Every run, in order (ms):',
              (SELECT min(launched) FROM pair WHERE workers > 0));
SELECT '';
SELECT '| Aggregate | workers | rebate | built-in |';
SELECT '|---|--:|---|---|';
SELECT format('| `%s` | %s | %s | %s |', aggregate, workers, my_runs, their_runs) FROM pair ORDER BY ord, workers;
SQL
say "results ($(thousands "$rows") facts, median of $runs run(s); timings are not judged)"
cat "$TMP/report.md"

if $write_doc; then
    cpu=$(awk -F': *' '/^model name/ && !m { m = $2 } END { print m }' /proc/cpuinfo)
    commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    [ -z "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit (with uncommitted changes)"
    {
        echo "$BEGIN_MARK"
        cat <<EOF
## Channel KPI aggregates

Each KPI aggregate against the built-in aggregates computing the same
numbers separately, on the same data, in the same session (issue 6's goal:
within 1.2×). Written by

    $COMMAND

on $(date -u '+%Y-%m-%d %H:%M UTC'): $(thousands "$rows") facts in \`kpi.facts\` ($table_size,
generated in $load_seconds s) over $(thousands "$partners") partners × 12 months, shaped like
\`rebate.channel_fact\` (orders of 3 lines over 60 products; 5% returns, 5% credit
notes, 5% payments; 1 line in 11 without a cost). \`channel_kpis\` groups by
partner and month ($(thousands "$((partners * 12))") groups), the others by partner. Built-in
equivalents (bench/kpis_setup.sql): \`sum(...) FILTER (...)\`, \`count(*)\`,
\`count(DISTINCT ...)\` for distinct orders, promised and on-time orders and
products, then the same rounding; "sums only" drops the distinct counts
from both sides (\`channel_kpis\` still keeps its order and product sets).
Both sides give identical results group by group (checked first, with
workers off and with forced parallel plans). Medians of $runs runs; a run is
the executor time of \`EXPLAIN (ANALYZE, TIMING OFF)\`.

$(cat "$TMP/report.md")

Machine: $cpu, $(nproc) cores, $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo);
$(kpsql -At -c "SELECT version()"); $server_kind; work_mem = $WORK_MEM;
rebate $(kpsql -At -c "SELECT extversion FROM pg_extension WHERE extname = 'rebate'"), commit $commit.
EOF
        echo "$END_MARK"
    } >"$TMP/section.md"
    replace_doc_section "$DOC" "$BEGIN_MARK" "$END_MARK" "$TMP/section.md"
    say "wrote the section of $DOC"
fi
