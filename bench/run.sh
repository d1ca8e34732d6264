#!/usr/bin/env bash
# bench/run.sh — how much does rebate.tiered_sum cost over a plain sum(), and
# over the same calculation in PL/pgSQL and plain SQL?
#
#   bench/run.sh                 full size: 10,000,000 rows, 10,000 partners, 5 runs
#   bench/run.sh --small         200,000 rows, 1,000 partners, 1 run (a quick try; the timings mean little)
#   bench/run.sh --check         200,000 rows, 1,000 partners: the correctness checks only, one
#                                "ok - ..." or "not ok - ..." line each, no timing (the test
#                                suite's, through test/bench_agreement.sh)
#   bench/run.sh --write-doc     also rewrite docs/performance.md with the results (not with --check)
#
# Options: --rows N --partners M --runs R (timed runs per variant and setting),
# --workers W (max_parallel_workers_per_gather of the "parallel on" runs, 2),
# --seed S (setseed, in [-1, 1]; 0.42), --jit on|off (off), --keep (keep the
# database rebate_bench afterwards).
#
# The data are generated inside the database (bench/setup.sql).  Every variant
# runs once per parallel setting to store its result, and all must agree with
# plain SQL per partner (bench/check.sql): a disagreement exits non-zero.
# --check stops there: every check is reported, and the exit status says
# whether any failed.  Then each session (parallel off, then on) does one
# warm-up run of every variant and R rounds of timed runs, the variants taking
# turns; a run's time is the Execution Time of EXPLAIN (ANALYZE, TIMING OFF,
# SUMMARY ON).  The
# report (bench/report.sql) gives medians and ratios.  Timings are reported,
# never judged: the exit status says only whether the variants agree.
#
# Needs the extension built and installed (scripts/test.sh or make install).
# Uses the server the libpq variables name, or a throwaway one started with
# REBATE_SERVER_OPTS (default below: shared_buffers large enough to hold the
# 10-million-row table).
# shellcheck source=../scripts/common.sh
source "$(dirname "$0")/../scripts/common.sh"
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"

BENCH=$REPO/bench
DOC=$REPO/docs/performance.md
DB=rebate_bench
COMMAND="bench/run.sh $*"

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}


mode=full
opt_rows="" opt_partners="" opt_runs=""
workers=2 seed=0.42 jit=off write_doc=false keep=false
while [ $# -gt 0 ]; do
    case $1 in
        --small) mode=small ;;
        --check) mode=check; check_mode=true ;;
        --rows) opt_rows=${2:-}; shift ;;
        --partners) opt_partners=${2:-}; shift ;;
        --runs) opt_runs=${2:-}; shift ;;
        --workers) workers=${2:-}; shift ;;
        --seed) seed=${2:-}; shift ;;
        --jit) jit=${2:-}; shift ;;
        --write-doc) write_doc=true ;;
        --keep) keep=true ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
    shift
done
$write_doc && $check_mode && { echo "--write-doc wants timings, not --check" >&2; usage; }
if [ $mode != full ]; then
    rows=200000 partners=1000 runs=1
else
    rows=10000000 partners=10000 runs=5
fi
rows=${opt_rows:-$rows} partners=${opt_partners:-$partners} runs=${opt_runs:-$runs}
for n in "$rows" "$partners" "$runs" "$workers"; do
    is_count "$n" || { echo "not a positive whole number: $n" >&2; usage; }
done
[[ $seed =~ ^-?(0|1)?(\.[0-9]+)?$ && $seed != "" && $seed != "-" ]] || { echo "--seed wants a number in [-1, 1]" >&2; usage; }
[[ $jit = on || $jit = off ]] || { echo "--jit wants on or off" >&2; usage; }
WORK_MEM=256MB

: "${REBATE_SERVER_OPTS=-c shared_buffers=2GB -c max_parallel_workers_per_gather=$workers -c work_mem=$WORK_MEM}"
provide_server
if [ -n "$THROWAWAY_DIR" ]; then
    server_kind="a throwaway cluster started by bench/run.sh (fsync=off; REBATE_SERVER_OPTS: ${REBATE_SERVER_OPTS:-none})"
else
    server_kind="an existing server (${PGHOST:-local socket}:${PGPORT:-5432})"
fi

TMP=$(mktemp -d /tmp/rebate-bench.XXXXXX)
cleanup() {
    if ! $keep; then
        psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
    stop_throwaway_cluster
}
trap cleanup EXIT

bpsql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

say "database $DB: generating $rows sales rows over $partners partners (seed $seed)"
fresh_database $DB
started=$SECONDS
bpsql -v rows="$rows" -v partners="$partners" -v seed="$seed" -f "$BENCH/setup.sql"
echo "generated in $((SECONDS - started)) s; table bench.sales: $(bpsql -At -c "SELECT pg_size_pretty(pg_table_size('bench.sales'))")"

names=() queries=()
while IFS=$'\t' read -r name query; do
    names+=("$name")
    queries+=("$query")
done < <(bpsql -At -F $'\t' -c "SELECT name, query FROM bench.variant ORDER BY ord")

# The settings of a session; check sessions with workers make parallel plans
# free so that even the small data set takes them (the combine functions run).
session_settings() {	# session_settings WORKERS check|time
    echo "SET max_parallel_workers_per_gather = $1;"
    echo "SET work_mem = '$WORK_MEM';"
    echo "SET jit = $jit;"
    if [ "$2" = check ] && [ "$1" -gt 0 ]; then
        echo "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;"
        echo "SET min_parallel_table_scan_size = 0;"
    fi
}

explain() { echo "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) $1;"; }

# psql -At output of a session -> "phase workers variant run ms planned launched"
# lines on stdout, progress on stderr.
# (--check: no progress, the times are not shown)
parse_session() {	# parse_session RUNS
    local progress=/dev/stderr
    if $check_mode; then progress=/dev/null; fi
    awk -v runs="$1" -v progress="$progress" '
        function flush() {
            if (phase != "" && ms != "") {
                printf "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", phase, w, variant, run, ms, planned, launched
                if (phase == "run")
                    printf "  workers %s, run %s/%s: %-22s %10.0f ms\n", w, run, runs, variant, ms > progress
                else
                    printf "  workers %s, %-6s %-22s %10.0f ms\n", w, phase ":", variant, ms > progress
                fflush()
            }
            ms = ""
        }
        /^@@ / { flush(); phase = $2; w = $3; variant = $4; run = $5; planned = 0; launched = 0; next }
        /"Workers Planned":/ { v = $NF; gsub(/[^0-9]/, "", v); planned += v }
        /"Workers Launched":/ { v = $NF; gsub(/[^0-9]/, "", v); launched += v }
        /"Execution Time":/ { v = $NF; gsub(/[^0-9.]/, "", v); ms = v; flush() }
    '
}

run_session() {	# run_session SCRIPT RUNS
    bpsql -At -f "$1" | parse_session "$2" >>"$TMP/timing.tsv"
}

load_timings() {
    bpsql -c "\\copy bench.timing (phase, workers, variant, run, ms, workers_planned, workers_launched) FROM '$TMP/timing.tsv'"
    : >"$TMP/timing.tsv"
}

: >"$TMP/timing.tsv"
say "correctness: every variant's result, parallel workers off and on"
for w in 0 "$workers"; do
    script=$TMP/check-$w.sql
    {
        session_settings "$w" check
        for i in "${!names[@]}"; do
            printf '\\echo @@ check %s %s 0\n' "$w" "${names[$i]}"
            explain "CREATE UNLOGGED TABLE bench.r_tmp AS ${queries[$i]}"
            echo "INSERT INTO bench.result SELECT $w, '${names[$i]}', partner, value FROM bench.r_tmp;"
            echo "DROP TABLE bench.r_tmp;"
        done
    } >"$script"
    run_session "$script" 0
done
load_timings
set +e
if $check_mode; then
    bpsql -v tap=on -f "$BENCH/check.sql" >"$TMP/check.out" 2>&1
else
    bpsql -f "$BENCH/check.sql"
fi
agree=$?
set -e
if $check_mode; then
    count_verdicts "$TMP/check.out"
    verdict $agree "bench/check.sql: no disagreement, every variant stored, parallel plans taken" \
        "bench/check.sql failed (psql exit status $agree; see above)"
    checks_exit
fi
if [ $agree -ne 0 ]; then
    say "FAILED: the variants do not agree (see above); no timings taken"
    exit 1
fi

say "timing: $runs run(s) of every variant after a warm-up, parallel workers off, then $workers"
for w in 0 "$workers"; do
    script=$TMP/time-$w.sql
    {
        session_settings "$w" time
        for i in "${!names[@]}"; do
            printf '\\echo @@ warmup %s %s 0\n' "$w" "${names[$i]}"
            explain "${queries[$i]}"
        done
        for r in $(seq 1 "$runs"); do
            for i in "${!names[@]}"; do
                printf '\\echo @@ run %s %s %s\n' "$w" "${names[$i]}" "$r"
                explain "${queries[$i]}"
            done
        done
    } >"$script"
    run_session "$script" "$runs"
done
load_timings

bpsql -At -v rows="$rows" -f "$BENCH/report.sql" >"$TMP/report.md"
say "results ($rows rows, $partners partners, median of $runs run(s); timings are not judged)"
cat "$TMP/report.md"

if $write_doc; then
    cpu=$(awk -F': *' '/^model name/ && !m { m = $2 } /^cpu family/ && !f { f = $2 } /^model\t/ && !n { n = $2 }
                       /^cpu MHz/ && !h { h = $2 } /^flags/ && / hypervisor/ { vm = 1 }
                       END { printf "%s (family %s, model %s), %.0f MHz%s", m, f, n, h, vm ? ", virtual machine" : "" }' /proc/cpuinfo)
    mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    pg_version=$(bpsql -At -c "SELECT version()")
    server_settings=$(bpsql -At -c "SELECT string_agg(name || ' = ' || current_setting(name), ', ' ORDER BY name)
                                    FROM pg_settings WHERE name IN ('shared_buffers', 'max_parallel_workers', 'max_worker_processes', 'fsync')")
    ext_version=$(bpsql -At -c "SELECT extversion FROM pg_extension WHERE extname = 'rebate'")
    commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        commit="$commit (with uncommitted changes)"
    fi
    table_size=$(bpsql -At -c "SELECT pg_size_pretty(pg_table_size('bench.sales'))")
    # the sections of the other benchmarks (between their markers) are kept as they are
    policy_section=""
    programs_section=""
    kpis_section=""
    views_section=""
    if [ -f "$DOC" ]; then
        policy_section=$(sed -n '/^<!-- policy-benchmark:begin -->$/,/^<!-- policy-benchmark:end -->$/p' "$DOC")
        programs_section=$(sed -n '/^<!-- programs-benchmark:begin -->$/,/^<!-- programs-benchmark:end -->$/p' "$DOC")
        kpis_section=$(sed -n '/^<!-- kpis-benchmark:begin -->$/,/^<!-- kpis-benchmark:end -->$/p' "$DOC")
        views_section=$(sed -n '/^<!-- views-benchmark:begin -->$/,/^<!-- views-benchmark:end -->$/p' "$DOC")
    fi
    tiers=$(bpsql -At -c "SELECT string_agg(format('%s in the %s tier', count, rate), ', ' ORDER BY tier) FROM (
                              SELECT rebate.tier_index(value, 'retroactive 0:1%, 100000:2%, 500000:3.5%') AS tier, count(*)
                              FROM bench.result WHERE workers = 0 AND variant = 'sum' GROUP BY 1) t
                          JOIN (VALUES (1, '1%'), (2, '2%'), (3, '3.5%')) AS r (tier, rate) USING (tier)")
    {
        cat <<EOF
# Performance

How much does \`rebate.tiered_sum\` cost over reading the data with a plain
\`sum()\`, and over the same calculation written in PL/pgSQL and in plain SQL?
This page is written by the benchmark itself:

    $COMMAND

(run on $(date -u '+%Y-%m-%d %H:%M UTC'); \`bench/run.sh --write-doc\` rewrites it).

## Results

$(thousands "$rows") sales rows over $(thousands "$partners") partners; median of $runs timed run(s) per
variant and setting. Times are the executor's (see *How it is measured*).

$(cat "$TMP/report.md")

## Machine

| | |
|---|---|
| CPU | $cpu, $(nproc) cores (\`nproc\`) |
| Memory | $mem |
| OS | $(uname -sr) |
| PostgreSQL | $pg_version |
| Server | $server_kind |
| Server settings | $server_settings |
| Session settings | max_parallel_workers_per_gather = 0 (off) or $workers (on), work_mem = $WORK_MEM, jit = $jit |
| rebate | extension $ext_version, commit $commit |
| Data | table \`bench.sales\` $table_size (cached in shared buffers); partners: $tiers |

## What is compared

All queries are \`SELECT partner, … FROM bench.sales GROUP BY partner\` over
\`bench.sales(partner int, amount numeric(12,2))\`, with the schedule
\`retroactive 0:1%, 100000:2%, 500000:3.5%\` written as a constant (as
arrays \`{0,100000,500000}\` and \`{0.01,0.02,0.035}\` for PL/pgSQL, as a
hand-written \`CASE\` for plain SQL). The queries and the PL/pgSQL code are in
\`bench/setup.sql\`.

- \`sum(amount)\` is the floor: reading $(thousands "$rows") rows and adding numerics.
- \`rebate.tiered_sum(amount, s)\` is the C aggregate: it reads each amount's
  digits in place and adds them into a 128-bit integer
  (\`src/tiered_sum.c\`), then applies the schedule once per partner.
- \`rebate.tiered_rebate(sum(amount), s)\`, the \`CASE\` over \`sum(amount)\`
  and the PL/pgSQL function over \`sum(amount)\` all let the built-in \`sum\`
  do the per-row work and apply the tiers once per partner ($(thousands "$partners") calls).
- The PL/pgSQL aggregate is the port of \`tiered_sum\`: a state holding the
  running total and the tiers (a composite type), transition, combine and
  final functions in PL/pgSQL. The PL/pgSQL sum aggregate is the leanest
  per-row PL/pgSQL (a plain \`numeric\` state, one addition per call), with
  the tiers applied by the PL/pgSQL function afterwards.

Every run first checks that all variants give the same rebate for every
partner, with parallel workers off and on (numeric equality against the plain
SQL \`CASE\`); the benchmark exits non-zero otherwise. The test suite runs
that check alone, \`bench/run.sh --check\` (200,000 rows, 1,000 partners, no
timed runs), through \`test/bench_agreement.sh\`; no timing is ever asserted.

## How it is measured

- The data are generated inside the database, seeded (\`setseed($seed)\`, then
  \`random()\`): each partner has a target volume between 10,000 and
  1,000,000 and each row an amount uniform on \[0, 2 × target ÷ rows per
  partner\], so partners land in all three tiers. Then \`VACUUM (FREEZE,
  ANALYZE)\`, so no timed run sets hint bits.
- A run's time is the *Execution Time* of \`EXPLAIN (ANALYZE, TIMING OFF,
  SUMMARY ON)\`: the executor reading all rows, aggregating and computing the
  $(thousands "$partners") results, without planning, per-node clock calls, or sending the
  results to the client.
- One session per setting (\`max_parallel_workers_per_gather\` 0, then
  $workers). Each session first runs every variant once untimed (warm-up:
  the table is then in shared buffers, the PL/pgSQL functions compiled), then
  the variants take turns for $runs round(s), so a slow stretch of the machine
  hits them all alike. Ratios compare medians from the same session.
- JIT is $jit: JIT compilation adds a fixed cost per query, and PostgreSQL
  JIT-compiles (and optimizes) the PL/pgSQL variants, whose estimated cost is
  high, but not the others — with it on, the variants would not get the same
  treatment. \`--jit on\` measures with it.
EOF
        if [ -n "$policy_section" ]; then
            printf '\n%s\n' "$policy_section"
        fi
        if [ -n "$programs_section" ]; then
            printf '\n%s\n' "$programs_section"
        fi
        if [ -n "$kpis_section" ]; then
            printf '\n%s\n' "$kpis_section"
        fi
        if [ -n "$views_section" ]; then
            printf '\n%s\n' "$views_section"
        fi
    } >"$DOC"
    say "wrote $DOC"
fi
