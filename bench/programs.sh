#!/usr/bin/env bash
# shellcheck disable=SC2154  # pg_<setting>_<statistic> are set with printf -v
# bench/programs.sh — rebate programs at scale: how long does closing a
# quarter take (rebate.close_period, and its cross-check
# rebate.verify_period), and how fast is one partner's real-time progress
# (rebate.progress) under concurrent clients?
#
#   bench/programs.sh              full size: 2 brands x 5,000 partners, 10,000,000 order lines,
#                                  5 programs per brand; 3 closes, 3 pgbench runs of 60 s per
#                                  setting (about 40 minutes, a quarter of it loading)
#   bench/programs.sh --small      2 x 50 partners, about 6,000 lines: the checks, 1 round of
#                                  closes, pgbench a few transactions per client (a quick try;
#                                  a few seconds; the timings mean little)
#   bench/programs.sh --check      the same data: the correctness checks only, one "ok - ..." or
#                                  "not ok - ..." line each, no timing (the test suite's,
#                                  through test/bench_agreement.sh)
#   bench/programs.sh --write-doc  also write the section "Rebate programs: close_period and
#                                  progress" of docs/performance.md (the rest is kept)
#
# Options: --partners P (per brand, 5,000), --lines N (order lines in all,
# returns included, 10,000,000), --runs R (closes, and pgbench runs per
# setting: 3), --seconds T (each pgbench run, 60), --clients C and --threads J
# (pgbench -c and -j of the concurrent runs: 16 and 2), --rate-percent Q (the
# rate-limited run's rate, in % of the saturated tps: 50), --rated-warmup S
# (the first S seconds of each rate-limited run, when every new connection
# plans and compiles the call and the calls meanwhile queue, left out of its
# percentiles: 5), --as-of D (the day
# of progress, 2026-09-15), --check-partners K (partners whose progress is
# compared with the recomputations in a full run: 200), --keep (keep the
# database bench_programs afterwards), --reuse (use the database a --keep run
# left instead of loading again; implies --keep; not with --write-doc).
#
# Data: rebate_sample.generate(partners => P, lines => N x 99/100,
# audited => false) (two brands; its lines are order lines, and about one
# order in 33 gets a return of one line, so N x 99/100 gives N lines in all),
# then rebate_sample.programs() (five active programs per brand: a tiered
# volume scale with a distributor override and interim settlement, an
# overachievement bonus against targets, a gross-margin scale, a monthly
# per-unit rebate and a monthly collections scale, in max/exclusive and
# cascade/sum stacking groups), VACUUM (FREEZE, ANALYZE) and CHECKPOINT.
#
# Measured, for the brand with more order lines in the quarter
# [2026-07-01,2026-10-01):
#   close     rebate.close_period(brand, quarter), each run from no statements
#             (the drafts of the run before deleted, untimed, then VACUUM);
#   re-close  rebate.close_period again with its drafts there (it deletes and
#             recomputes them: what a manager does after a late correction);
#   verify    rebate.verify_period(brand, quarter) after each close: must
#             report no difference, or the benchmark stops;
#   baseline  one plain pass over the quarter, SELECT partner_id, sum(amount)
#             FROM rebate.sales_fact WHERE tenant and quarter GROUP BY 1, in
#             the same rounds: the ratios divide by its median;
#   progress  pgbench -M prepared, one transaction = SELECT * FROM
#             rebate.progress(:p, as_of) for a random partner of the brand:
#             --clients clients saturated, 1 client, and --clients clients
#             at --rate-percent of the saturated rate; tps, and latency
#             percentiles from pgbench's per-transaction logs (the first
#             transaction of each connection, which plans and compiles,
#             reported apart).
# Before the timings, the progress of --check-partners partners (every
# partner in --small and --check) must equal, program by program,
# rebate.program_results for all partners at once stacked alike
# (rebate.apply_stacking), and verify_period's
# own recomputation (rebate.verify_earned: the basis, and the rebate where no
# cascade re-rates it); every close must write the same statements, one for
# each partner with documents (or active).  A disagreement exits non-zero.
# Timings are reported, never judged.  --check runs the checks alone: the
# closes and verify_period once, no baseline, and a few progress
# transactions per pgbench setting, which must not fail; it reports every
# check.
#
# Needs the extension built and installed (scripts/test.sh or make install).
# Uses the server the libpq variables name, or a throwaway one started with
# REBATE_SERVER_OPTS (default below for the full size, a bulk benchmark on 24 GiB).
# shellcheck source=../scripts/common.sh
source "$(dirname "$0")/../scripts/common.sh"
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"

DOC=$REPO/docs/performance.md
DB=bench_programs
COMMAND="bench/programs.sh $*"
QUARTER='[2026-07-01,2026-10-01)'
Q_FROM=2026-07-01 Q_TO=2026-10-01
BEGIN_MARK='<!-- programs-benchmark:begin -->'
END_MARK='<!-- programs-benchmark:end -->'

usage() {
    sed -n '3,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}


mode=full
opt_partners="" opt_lines="" opt_runs="" opt_seconds=""
clients=16 threads=2 rate_percent=50 rated_warmup=5 as_of=2026-09-15 check_partners=200 write_doc=false keep=false reuse=false
while [ $# -gt 0 ]; do
    case $1 in
        --small) mode=small ;;
        --check) mode=check; check_mode=true ;;
        --partners) opt_partners=${2:-}; shift ;;
        --lines) opt_lines=${2:-}; shift ;;
        --runs) opt_runs=${2:-}; shift ;;
        --seconds) opt_seconds=${2:-}; shift ;;
        --clients) clients=${2:-}; shift ;;
        --threads) threads=${2:-}; shift ;;
        --rate-percent) rate_percent=${2:-}; shift ;;
        --rated-warmup) rated_warmup=${2:-}; shift ;;
        --as-of) as_of=${2:-}; shift ;;
        --check-partners) check_partners=${2:-}; shift ;;
        --write-doc) write_doc=true ;;
        --keep) keep=true ;;
        --reuse) reuse=true; keep=true ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
    shift
done
if [ $mode != full ]; then
    partners=50 lines=6000 runs=1 seconds=""
else
    partners=5000 lines=10000000 runs=3 seconds=60
fi
partners=${opt_partners:-$partners} lines=${opt_lines:-$lines} runs=${opt_runs:-$runs} seconds=${opt_seconds:-$seconds}
if $check_mode; then
    runs=1 seconds=""	# the closes once; a few pgbench transactions per setting
fi
for n in "$partners" "$lines" "$runs" "$clients" "$threads" "$rate_percent" "$check_partners" ${seconds:+"$seconds"}; do
    is_count "$n" || { echo "not a positive whole number: $n" >&2; usage; }
done
[[ $rated_warmup =~ ^[0-9]+$ ]] || { echo "--rated-warmup wants a whole number of seconds: $rated_warmup" >&2; usage; }
[ "$partners" -ge 8 ] || { echo "--partners must be at least 8" >&2; usage; }
[ "$lines" -ge 100 ] || { echo "--lines must be at least 100" >&2; usage; }
[ "$threads" -le "$clients" ] || { echo "--threads must not exceed --clients" >&2; usage; }
[ "$rate_percent" -le 100 ] || { echo "--rate-percent must be at most 100" >&2; usage; }
[[ $as_of =~ ^2026-(0[7-9])-[0-3][0-9]$ ]] || { echo "--as-of must be a day of the quarter $QUARTER" >&2; usage; }
$write_doc && [ $mode != full ] && { echo "--write-doc wants a full run, not --$mode" >&2; usage; }
$write_doc && $reuse && { echo "--write-doc reports the load: not with --reuse" >&2; usage; }
# the sample's lines are order lines; about one order in 33 adds a return line
gen_lines=$(( lines * 99 / 100 ))

if [ $mode = full ]; then
    : "${REBATE_SERVER_OPTS=-c shared_buffers=4GB -c work_mem=256MB -c maintenance_work_mem=1GB -c max_wal_size=16GB -c checkpoint_timeout=30min}"
fi
provide_server
if [ -n "$THROWAWAY_DIR" ]; then
    server_kind="a throwaway cluster started by bench/programs.sh (fsync=off; REBATE_SERVER_OPTS: ${REBATE_SERVER_OPTS:-none})"
else
    server_kind="an existing server (${PGHOST:-local socket}:${PGPORT:-5432})"
fi
PGBENCH=$PG_BIN/pgbench

TMP=$(mktemp -d /tmp/rebate-programs-bench.XXXXXX)
chmod 755 "$TMP"
cleanup() {
    if ! $keep; then
        psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
    stop_throwaway_cluster
}
trap cleanup EXIT

bpsql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
load_average() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(load_average)
# the commit whose extension is measured: the tree as it is when the database is created
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no -- src sql Makefile 2>/dev/null)" ]; then
    commit="$commit (with uncommitted changes to src/)"
fi
started_all=$SECONDS

# ---------------------------------------------------------------------------
say "database $DB: rebate_sample.generate(partners => $partners, lines => $gen_lines, audited => false), programs"
if $reuse && [ "$(psql_quiet -d postgres -At -c "SELECT count(*) FROM pg_database WHERE datname = '$DB'")" = 1 ]; then
    echo "reusing the database $DB a --keep run left (not loaded again)"
    load_generate=0 load_vacuum=0 load_total=0
else
    fresh_database $DB
    bpsql -f "$REPO/sample/sample_data.sql"
    t0=$SECONDS
    # the load alone without waiting for the WAL flush (one transaction anyway)
    PGOPTIONS="${PGOPTIONS:-} -c synchronous_commit=off" bpsql -At \
        -c "SELECT order_lines FROM rebate_sample.generate(partners => $partners, lines => $gen_lines, audited => false)" >/dev/null
    load_generate=$((SECONDS - t0))
    bpsql -At -c "SELECT count(*) FROM rebate_sample.programs()" >/dev/null
    t1=$SECONDS
    bpsql -c "VACUUM (FREEZE, ANALYZE)" -c "CHECKPOINT"
    load_vacuum=$((SECONDS - t1))
    load_total=$((SECONDS - t0))
fi

# the brand with more order lines in the quarter
read -r tenant tenant_code q_lines q_partners < <(bpsql -At -F ' ' -c "
    SELECT f.tenant_id, t.code, count(*), count(DISTINCT f.partner_id)
      FROM rebate.sales_fact f JOIN rebate.tenant t ON t.id = f.tenant_id
     WHERE f.order_date >= '$Q_FROM' AND f.order_date < '$Q_TO'
     GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 1")
read -r n_partners n_lines n_orders n_payments _ < <(bpsql -At -F ' ' -c "
    SELECT (SELECT count(*) FROM rebate.partner), (SELECT count(*) FROM rebate.order_line),
           (SELECT count(*) FROM rebate.sales_order), (SELECT count(*) FROM rebate.payment),
           (SELECT count(*) FROM rebate.target)")
read -r t_partners t_active p_lo p_hi t_lines < <(bpsql -At -F ' ' -c "
    SELECT count(*), count(*) FILTER (WHERE state = 'active'), min(id), max(id),
           (SELECT count(*) FROM rebate.order_line l WHERE l.tenant_id = $tenant)
      FROM rebate.partner WHERE tenant_id = $tenant")
[ "$((p_hi - p_lo + 1))" = "$t_partners" ] || { echo "the partners of tenant $tenant are not numbered contiguously" >&2; exit 1; }
n_programs=$(bpsql -At -c "SELECT count(*) FROM rebate.program_version WHERE tenant_id = $tenant AND status = 'active'
                                                                        AND effective @> date '$as_of'")
data_size=$(bpsql -At -c "SELECT pg_size_pretty(pg_database_size(current_database()))")
echo "loaded in $load_total s (generate $load_generate s, VACUUM (FREEZE, ANALYZE) $load_vacuum s); $data_size"
echo "$(thousands "$n_partners") partners, $(thousands "$n_orders") orders and returns, $(thousands "$n_lines") order lines in all"
echo "brand $tenant_code (tenant $tenant): $(thousands "$t_partners") partners ($(thousands "$t_active") active, ids $p_lo-$p_hi),"
echo "  $(thousands "$t_lines") order lines, $(thousands "$q_lines") in the quarter from $(thousands "$q_partners") partners; $n_programs programs"

# ---------------------------------------------------------------------------
# progress against the recomputations: every partner (small, check) or a sample
if [ $mode != full ]; then
    check_sql="SELECT id FROM rebate.partner WHERE tenant_id = $tenant"
    check_text="every partner of the brand"
else
    check_sql="SELECT id FROM rebate.partner WHERE tenant_id = $tenant ORDER BY hashint8(id * 7919) LIMIT $check_partners"
    check_text="$check_partners partners of the brand"
fi
say "checks: progress of $check_text on $as_of equals rebate.program_results (all partners) and rebate.verify_earned"
check_progress() {
    bpsql -At -F ' ' <<EOF
CREATE TEMP TABLE checked AS $check_sql;
CREATE TEMP TABLE one AS
SELECT c.id AS partner_id, g.program_id, g.component, g.basis, g.rebate, g.paid
  FROM checked c, LATERAL rebate.progress(c.id, date '$as_of') g;
-- all partners at once (the path of a close), stacked as progress stacks
-- (each function once per version: MATERIALIZED keeps the planner from calling it per partner checked)
CREATE TEMP TABLE all_partners AS
WITH r AS MATERIALIZED (
    SELECT r FROM rebate.program_version v,
           LATERAL rebate.program_results(v, rebate.program_period(v, date '$as_of'), date '$as_of') r
     WHERE v.tenant_id = $tenant AND v.status = 'active' AND v.effective @> date '$as_of'
)
SELECT s.partner_id, s.program_id, s.component, s.basis, s.rebate, s.paid
  FROM rebate.apply_stacking(ARRAY(SELECT r.r FROM r WHERE (r.r).partner_id IN (SELECT id FROM checked))) s;
-- verify_period's own formulation, before stacking: basis, and the rebate
-- where stacking leaves it as it is (a cascade re-rates what follows)
CREATE TEMP TABLE independent AS
WITH e AS MATERIALIZED (
    SELECT e.partner_id, v.program_id, e.component, e.basis,
           CASE WHEN g.rule = 'cascade' AND e.component = 'own' THEN NULL ELSE e.earned END AS rebate
      FROM rebate.program_version v
      LEFT JOIN rebate.program_group g ON g.id = v.group_id,
           LATERAL rebate.verify_earned(v, rebate.program_period(v, date '$as_of'), date '$as_of') e
     WHERE v.tenant_id = $tenant AND v.status = 'active' AND v.effective @> date '$as_of'
)
SELECT * FROM e WHERE e.partner_id IN (SELECT id FROM checked);
CREATE TEMP TABLE one_unstacked AS
SELECT o.partner_id, o.program_id, o.component, o.basis,
       CASE WHEN g.rule = 'cascade' AND o.component = 'own' THEN NULL ELSE o.rebate END AS rebate
  FROM one o
  JOIN rebate.program_version v ON v.program_id = o.program_id AND v.status = 'active' AND v.effective @> date '$as_of'
  LEFT JOIN rebate.program_group g ON g.id = v.group_id;
SELECT (SELECT count(*) FROM one),
       (SELECT count(*) FROM ((TABLE one EXCEPT ALL TABLE all_partners) UNION ALL
                              (TABLE all_partners EXCEPT ALL TABLE one)) d),
       (SELECT count(*) FROM ((TABLE one_unstacked EXCEPT ALL TABLE independent) UNION ALL
                              (TABLE independent EXCEPT ALL TABLE one_unstacked)) d),
       (SELECT count(DISTINCT partner_id) FROM one);
EOF
}
read -r check_rows diff_results diff_independent check_with_rows < <(check_progress)
$check_mode || echo "progress rows: $check_rows (for $check_with_rows partners); differences from program_results: $diff_results, from verify_earned: $diff_independent"
progress_ok=0 independent_ok=0
if [ "$diff_results" != 0 ] || [ "$check_rows" = 0 ]; then progress_ok=1; fi
if [ "$diff_independent" != 0 ] || [ "$check_rows" = 0 ]; then independent_ok=1; fi
verdict $progress_ok "progress equals rebate.program_results for all partners at once, stacked alike ($check_rows rows for $check_with_rows partners, $diff_results differences)" \
    "progress does not equal the recomputations"
verdict $independent_ok "progress equals verify_period's own recomputation, rebate.verify_earned ($diff_independent differences)" \
    "progress does not equal the recomputations"

# ---------------------------------------------------------------------------
# one timed statement in a session of its own: "seconds<TAB>its output row"
timed() {	# timed SQL
    bpsql -At -F $'\t' <<EOF | awk -F'\t' 'NR == 1 { out = $0 } NR == 2 { print $1 "\t" out }'
SELECT pg_catalog.clock_timestamp() AS t0 \gset
$1;
SELECT extract(epoch FROM pg_catalog.clock_timestamp() - :'t0'::timestamptz);
EOF
}
reset_statements() {
    bpsql -c "DELETE FROM rebate.statement WHERE tenant_id = $tenant AND period = '$QUARTER' AND status = 'draft'" \
          -c "VACUUM (ANALYZE) rebate.statement, rebate.statement_line, rebate.audit_log" -c "CHECKPOINT"
}
CLOSE_SQL="SELECT statements, lines, total FROM rebate.close_period($tenant, '$QUARTER')"
VERIFY_SQL="SELECT count(*) FROM rebate.verify_period($tenant, '$QUARTER')"
BASELINE_SQL="SELECT count(*), sum(s) FROM (SELECT partner_id, sum(amount) AS s FROM rebate.sales_fact
               WHERE tenant_id = $tenant AND order_date >= '$Q_FROM' AND order_date < '$Q_TO' GROUP BY 1) b"

if $check_mode; then
    whats=(close verify reclose close_nojit)
    say "close_period: close (from no statements), verify, re-close (drafts there), close with jit off (from no statements)"
else
    whats=(baseline close verify reclose close_nojit)
    say "close_period: $runs round(s) of baseline, close (from no statements), verify, re-close (drafts there), close with jit off (from no statements)"
fi
: >"$TMP/close.tsv"	# what run seconds output
for ((r = 1; r <= runs; r++)); do
    reset_statements
    for what in "${whats[@]}"; do
        case $what in
            baseline) sql=$BASELINE_SQL ;;
            close|reclose) sql=$CLOSE_SQL ;;
            close_nojit) sql=$CLOSE_SQL; reset_statements ;;
            verify) sql=$VERIFY_SQL ;;
        esac
        # (a statement that fails gives no line to read: a benchmark stops; --check goes on
        # with an empty output, which the checks below report)
        if [ "$what" = close_nojit ]; then
            IFS=$'\t' read -r secs out < <(PGOPTIONS="${PGOPTIONS:-} -c jit=off" timed "$sql") || $check_mode
        else
            IFS=$'\t' read -r secs out < <(timed "$sql") || $check_mode
        fi
        printf '%s\t%s\t%s\t%s\n' "$what" "$r" "$secs" "$out" >>"$TMP/close.tsv"
        $check_mode || printf '  round %s/%s: %-11s %9.2f s   %s\n' "$r" "$runs" "$what" "$secs" "$(tr '\t' ' ' <<<"$out")"
        if [ "$what" = verify ]; then
            verify_ok=0
            if [ "$out" != 0 ]; then
                bpsql -c "SELECT * FROM rebate.verify_period($tenant, '$QUARTER') LIMIT 20" || true
                verify_ok=1
            fi
            verdict $verify_ok "verify_period finds no difference after close_period" \
                "verify_period reports ${out:-(it failed: see above)} differences after close_period"
        fi
    done
done
read -r n_statements n_stmt_lines stmt_total < <(awk -F'\t' '$1 == "close" { print $4, $5, $6; exit }' "$TMP/close.tsv")
$check_mode || read -r base_rows _ < <(awk -F'\t' '$1 == "baseline" { print $4, $5; exit }' "$TMP/close.tsv")
same_ok=0
if awk -F'\t' -v s="$n_statements" -v l="$n_stmt_lines" '$1 ~ /close/ && ($4 != s || $5 != l) { bad = 1 }
                                                        END { exit !bad }' "$TMP/close.tsv"; then
    same_ok=1
fi
verdict $same_ok "every close writes the same statements (close, re-close, close with jit off: $n_statements statements, $n_stmt_lines lines, total $stmt_total)" \
    "the closes did not all write the same statements"
# a statement for every partner with a line in the quarter (or a payment in a month of it)
expected_statements=$(bpsql -At -c "
    SELECT count(*) FROM (SELECT partner_id FROM rebate.sales_fact
                           WHERE tenant_id = $tenant AND order_date >= '$Q_FROM' AND order_date < '$Q_TO'
                             AND status IN ('approved', 'shipped', 'delivered', 'closed')
                          UNION
                          SELECT partner_id FROM rebate.payment
                           WHERE tenant_id = $tenant AND received_on >= '$Q_FROM' AND received_on < '$Q_TO'
                          UNION
                          SELECT id FROM rebate.partner WHERE tenant_id = $tenant AND state = 'active') p")
lines_by_kind=$(bpsql -At -c "
    SELECT string_agg(format('%s %s', n, k), ', ' ORDER BY k)
      FROM (SELECT l.line_kind || ' lines of ' || CASE WHEN upper(l.program_period) - lower(l.program_period) > 31
                                                        THEN 'quarterly' ELSE 'monthly' END || ' program periods' AS k,
                   count(*) AS n
              FROM rebate.statement_line l JOIN rebate.statement s ON s.id = l.statement_id
             WHERE s.tenant_id = $tenant AND s.period = '$QUARTER' GROUP BY 1) x")
$check_mode || echo "statements: $n_statements (partners active or with documents in the quarter: $expected_statements); lines: $lines_by_kind"
count_ok=0
if ! is_count "$n_statements" || [ "$n_statements" -gt "$expected_statements" ] || [ "$n_statements" -lt "$q_partners" ]; then
    count_ok=1
fi
verdict $count_ok "close_period writes one statement per partner with lines in the quarter, at most one per partner active or with documents ($n_statements: between $q_partners and $expected_statements)" \
    "$n_statements statements; expected between $q_partners and $expected_statements"

# ---------------------------------------------------------------------------
# progress under pgbench
cat >"$TMP/progress.sql" <<EOF
\\set p random(:lo, :hi)
SELECT * FROM rebate.progress(:p, '$as_of');
EOF
: >"$TMP/pgbench.tsv"	# setting run tps n p50 p90 p99 max first_p50 lag_p50 lag_p99 svc_p50 svc_p99 failed
# percentiles (nearest rank) of the per-transaction logs, in ms; the first
# transaction of each client apart
# (WARMUP: the seconds from the first call's end in which calls are left out:
# in the rate-limited runs every new connection first plans and compiles the
# whole call, and the calls scheduled meanwhile queue behind it)
log_stats() {	# log_stats PREFIX [WARMUP] -> "n p50 p90 p99 max first_p50 lag_p50 lag_p99 svc_p50 svc_p99 failed"
    cat "$1".* >"$TMP/log.all"
    awk -v warmup="${2:-0}" 'NR == FNR { t = $5 + $6 / 1e6; if (start == "" || t < start) start = t; next }
         !seen[$1]++ { if ($3 ~ /^[0-9]+$/) print $3 / 1000 > "'"$TMP"'/log.first"; next }
         $3 !~ /^[0-9]+$/ { failed++; next }
         $5 + $6 / 1e6 < start + warmup { next }
         { print $3 / 1000 > "'"$TMP"'/log.lat"
           lag = (NF >= 7 ? $7 : 0); print lag / 1000 > "'"$TMP"'/log.lag"; print ($3 - lag) / 1000 > "'"$TMP"'/log.svc" }
         END { print failed + 0 > "'"$TMP"'/log.failed" }' "$TMP/log.all" "$TMP/log.all"
    : >>"$TMP/log.first"; : >>"$TMP/log.lat"; : >>"$TMP/log.lag"; : >>"$TMP/log.svc"
    pct() {	# pct FILE P...
        sort -n "$1" | awk -v ps="${*:2}" '{ v[NR] = $1 } END {
            n = split(ps, p, " "); out = ""
            for (i = 1; i <= n; i++) {
                if (NR == 0) { out = out " -"; continue }
                if (p[i] == "max") { out = out sprintf(" %.3f", v[NR]); continue }
                k = int(p[i] / 100 * NR); if (k < p[i] / 100 * NR) k++; if (k < 1) k = 1
                out = out sprintf(" %.3f", v[k])
            }
            print substr(out, 2) }'
    }
    echo "$(wc -l <"$TMP/log.lat") $(pct "$TMP/log.lat" 50 90 99 max) $(pct "$TMP/log.first" 50)" \
         "$(pct "$TMP/log.lag" 50 99) $(pct "$TMP/log.svc" 50 99) $(cat "$TMP/log.failed")"
    rm -f "$1".* "$TMP"/log.*
}
run_pgbench() {	# run_pgbench SETTING RUN CLIENTS THREADS [RATE]
    local setting=$1 run=$2 c=$3 j=$4 rate=${5:-} prefix=$TMP/pgb-$1-$2 tps stats length
    if [ -n "$seconds" ]; then
        length=(-T "$seconds")
    else
        length=(-t $(( c == 1 ? 100 : 20 )))	# --small: a few transactions per client
    fi
    local what="progress of random partners under pgbench, "
    case $setting in
        saturated) what+="$c clients saturated" ;;
        single) what+="1 client" ;;
        rated) what+="$c clients at $rate_percent% of the saturated rate" ;;
    esac
    what+=": no failed transaction"
    if ! (cd "$TMP" && "$PGBENCH" -n -M prepared -c "$c" -j "$j" "${length[@]}" ${rate:+--rate "$rate"} \
        --random-seed="$((41 + run))" -D lo="$p_lo" -D hi="$p_hi" -f "$TMP/progress.sql" "$DB" \
        -l --log-prefix="$prefix" >"$TMP/pgbench.out" 2>&1); then
        cat "$TMP/pgbench.out"
        verdict 1 "$what" "pgbench ($setting)"
        return 0
    fi
    tps=$(awk '/^tps = / { print $3; exit }' "$TMP/pgbench.out")
    stats=$(log_stats "$prefix" "$([ -n "$rate" ] && [ -n "$seconds" ] && echo "$rated_warmup")")
    read -r n p50 p90 p99 max first _ lag99 svc50 svc99 failed <<<"$stats"
    if [ -z "$tps" ] || [ "$failed" != 0 ] || [ "$n" = 0 ]; then
        cat "$TMP/pgbench.out"
        verdict 1 "$what" "pgbench ($setting): $failed failed transactions"
        return 0
    fi
    verdict 0 "$what"
    printf '%s\t%s\t%s\t%s\n' "$setting" "$run" "$tps" "$(tr ' ' '\t' <<<"$stats")" >>"$TMP/pgbench.tsv"
    $check_mode && return 0
    printf '  round %s/%s: %-10s %8.1f tps  median %7.2f ms  p90 %7.2f  p99 %7.2f  max %8.2f  first call %7.2f ms%s\n' \
        "$run" "$runs" "$setting" "$tps" "$p50" "$p90" "$p99" "$max" "$first" \
        "$([ -n "$rate" ] && printf '  (lag p99 %s ms, service median %s p99 %s ms)' "$lag99" "$svc50" "$svc99")"
}
if $check_mode; then
    say "progress: pgbench -M prepared, a few transactions each: $clients clients saturated, 1 client, $clients clients at $rate_percent% of the saturated rate"
else
    say "progress: pgbench -M prepared, ${seconds:+$seconds s per run, }$runs round(s): $clients clients saturated, 1 client, $clients clients at $rate_percent% of the saturated rate"
fi
rate=""
for ((r = 1; r <= runs; r++)); do
    run_pgbench saturated "$r" "$clients" "$threads"
    if [ -z "$rate" ]; then
        rate=$(awk -F'\t' -v q="$rate_percent" '$1 == "saturated" { printf "%d", $3 * q / 100 < 1 ? 1 : $3 * q / 100; exit }' "$TMP/pgbench.tsv")
    fi
    run_pgbench single "$r" 1 1
    run_pgbench rated "$r" "$clients" "$threads" "$rate"
done
if $check_mode; then
    checks_exit	# the rest measures: where a progress call's time goes, the report
fi

# Where a progress call's time goes: in one session, after a warm-up, each
# program's rebate.program_results for one partner (what progress runs per
# program) and progress itself, for a sample of partners without
# sub-partners, and progress for every partner with sub-partners (its
# override reads the rows that sum them).
if [ $mode = small ]; then sample_n=10; else sample_n=100; fi
say "where a progress call's time goes: $sample_n partners without sub-partners, every partner with them"
bpsql -At -F $'\t' >"$TMP/parts.tsv" <<EOF
CREATE TEMP TABLE part_time (ord int, part text, who text, ms float8);
DO \$\$
DECLARE
    v rebate.program_version;
    p bigint;
    started timestamptz;
    plain bigint[] := ARRAY(SELECT pa.id FROM rebate.partner pa
                             WHERE pa.tenant_id = $tenant
                               AND NOT EXISTS (SELECT 1 FROM rebate.partner c WHERE c.parent_id = pa.id)
                             ORDER BY hashint8(pa.id * 104729) LIMIT $sample_n);
    parents bigint[] := ARRAY(SELECT pa.id FROM rebate.partner pa
                               WHERE pa.tenant_id = $tenant
                                 AND EXISTS (SELECT 1 FROM rebate.partner c WHERE c.parent_id = pa.id) ORDER BY pa.id);
BEGIN
    PERFORM count(*) FROM rebate.progress(plain[1], date '$as_of');	-- warm-up: plans, compiled functions
    FOREACH p IN ARRAY plain LOOP
        FOR v IN SELECT pv.* FROM rebate.program_version pv
                  WHERE pv.tenant_id = $tenant AND pv.status = 'active' AND pv.effective @> date '$as_of' ORDER BY pv.id LOOP
            started := clock_timestamp();
            PERFORM count(*) FROM rebate.program_results(v, rebate.program_period(v, date '$as_of'), date '$as_of', p);
            INSERT INTO part_time SELECT v.id, pg.code, 'plain', extract(epoch FROM clock_timestamp() - started) * 1000
              FROM rebate.program pg WHERE pg.id = v.program_id;
        END LOOP;
        started := clock_timestamp();
        PERFORM count(*) FROM rebate.progress(p, date '$as_of');
        INSERT INTO part_time VALUES (1000000, 'progress', 'plain', extract(epoch FROM clock_timestamp() - started) * 1000);
    END LOOP;
    FOREACH p IN ARRAY parents LOOP
        started := clock_timestamp();
        PERFORM count(*) FROM rebate.progress(p, date '$as_of');
        INSERT INTO part_time VALUES (1000001, 'progress', 'parent', extract(epoch FROM clock_timestamp() - started) * 1000);
    END LOOP;
END
\$\$;
SELECT part, who, count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY ms), percentile_disc(0.9) WITHIN GROUP (ORDER BY ms),
       max(ms), (SELECT pv.metric || ', ' || pv.kind || ', ' || pv.period_unit FROM rebate.program_version pv WHERE pv.id = ord)
  FROM part_time GROUP BY ord, part, who ORDER BY ord;
EOF
awk -F'\t' '{ printf "  %-10s %-7s %4d calls: median %8.2f ms, p90 %8.2f ms, max %8.2f ms\n", $1, $2, $3, $4, $5, $6 }' "$TMP/parts.tsv"
n_parents=$(awk -F'\t' '$2 == "parent" { print $3 }' "$TMP/parts.tsv")
n_plain=$(awk -F'\t' '$1 == "progress" && $2 == "plain" { print $3 }' "$TMP/parts.tsv")
{
    echo "| Call, for one partner | partners | median | p90 | max |"
    echo "|---|--:|--:|--:|--:|"
    awk -F'\t' '$1 != "progress" { printf "| `program_results` of %s (%s) | %d | %.2f ms | %.2f ms | %.2f ms |\n", $1, $7, $3, $4, $5, $6 }
                $1 == "progress" && $2 == "plain" { printf "| **`progress`**, partners without sub-partners: the calls above, stacking | %d | %.2f ms | %.2f ms | %.2f ms |\n", $3, $4, $5, $6 }
                $1 == "progress" && $2 == "parent" { printf "| **`progress`**, partners with sub-partners (distributors; the override reads the rows that sum them) | %d | %.2f ms | %.2f ms | %.2f ms |\n", $3, $4, $5, $6 }' "$TMP/parts.tsv"
} >"$TMP/parts.md"

elapsed=$((SECONDS - started_all))
load_after=$(load_average)

# ---------------------------------------------------------------------------
# medians, as markdown
median_of() {	# median_of FILE FIELD-OF-SETTING SETTING FIELD
    awk -F'\t' -v s="$2" -v f="$3" '$1 == s && $f != "-" { print $f }' "$1" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
runs_of() { awk -F'\t' -v s="$2" -v f="$3" -v fmt="$4" '$1 == s { printf "%s" fmt, sep, $f; sep = ", " }' "$1"; }
m_close=$(median_of "$TMP/close.tsv" close 3)
m_reclose=$(median_of "$TMP/close.tsv" reclose 3)
m_close_nojit=$(median_of "$TMP/close.tsv" close_nojit 3)
m_verify=$(median_of "$TMP/close.tsv" verify 3)
m_base=$(median_of "$TMP/close.tsv" baseline 3)
for s in saturated single rated; do
    for k in tps:3 n:4 p50:5 p90:6 p99:7 max:8 first:9 lag50:10 lag99:11 svc50:12 svc99:13; do
        printf -v "pg_${s}_${k%%:*}" '%s' "$(median_of "$TMP/pgbench.tsv" "$s" "${k##*:}")"
    done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f×", a / b }'; }
met() { awk -v v="$1" -v goal="$2" 'BEGIN { print (v < goal ? "met" : "missed") }'; }
# the goals of issue 16 (0.8.0: the rollups)
goal_close=$(met "$m_close" 10)
goal_p99_rated=$(met "$pg_rated_p99" 15)
goal_p99_single=$(met "$pg_single_p99" 5)
f2() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.2f", v }'; }
f1() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.1f", v }'; }
{
    echo "| Operation | median | runs (s) | × baseline |"
    echo "|---|--:|---|--:|"
    echo "| baseline: \`SELECT partner_id, sum(amount) FROM rebate.sales_fact\` over the quarter, \`GROUP BY 1\` | $(f2 "$m_base") s | $(runs_of "$TMP/close.tsv" baseline 3 "%.2f") | 1.0× |"
    echo "| \`rebate.close_period\` (no statements before) | $(f2 "$m_close") s | $(runs_of "$TMP/close.tsv" close 3 "%.2f") | $(ratio "$m_close" "$m_base") |"
    echo "| \`rebate.close_period\` again (deletes and recomputes its drafts) | $(f2 "$m_reclose") s | $(runs_of "$TMP/close.tsv" reclose 3 "%.2f") | $(ratio "$m_reclose" "$m_base") |"
    echo "| \`rebate.close_period\` in a session with \`jit = off\` (no statements before) | $(f2 "$m_close_nojit") s | $(runs_of "$TMP/close.tsv" close_nojit 3 "%.2f") | $(ratio "$m_close_nojit" "$m_base") |"
    echo "| \`rebate.verify_period\` (0 differences in every run) | $(f2 "$m_verify") s | $(runs_of "$TMP/close.tsv" verify 3 "%.2f") | $(ratio "$m_verify" "$m_base") |"
} >"$TMP/close.md"
{
    echo "| pgbench | tps | median | p90 | p99 | max | transactions | first call in a session (median) |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|"
    for s in single saturated rated; do
        case $s in
            single) label="1 client (\`-c 1 -j 1\`)" ;;
            saturated) label="$clients clients (\`-c $clients -j $threads\`), saturated" ;;
            rated) label="$clients clients, \`--rate $rate\` ($rate_percent% of the first saturated run's tps)" ;;
        esac
        v() { local n="pg_${s}_$1"; echo "${!n}"; }
        echo "| $label | $(f1 "$(v tps)") | $(f2 "$(v p50)") ms | $(f2 "$(v p90)") ms | $(f2 "$(v p99)") ms | $(f2 "$(v max)") ms | $(thousands "$(printf '%.0f' "$(v n)")") | $(f2 "$(v first)") ms |"
    done
} >"$TMP/progress.md"
{
    echo "| pgbench run | tps | median | p99 | max | lag p99 |"
    echo "|---|--:|--:|--:|--:|--:|"
    awk -F'\t' '{ printf "| %s, round %s | %.1f | %.2f ms | %.2f ms | %.2f ms | %s |\n", $1, $2, $3, $5, $7, $8,
                  $1 == "rated" ? sprintf("%.2f ms", $11) : "—" }' "$TMP/pgbench.tsv"
} >"$TMP/pgbench-runs.md"

say "results (timings are not judged)"
cat "$TMP/close.md"
echo
cat "$TMP/progress.md"
echo
cat "$TMP/pgbench-runs.md"
echo
echo "rated runs: latency from the scheduled start; schedule lag median $(f2 "$pg_rated_lag50") ms, p99 $(f2 "$pg_rated_lag99") ms;" \
     "service time (latency less lag) median $(f2 "$pg_rated_svc50") ms, p99 $(f2 "$pg_rated_svc99") ms"
echo "goals: close under 10 s: $goal_close ($(f2 "$m_close") s); progress p99 under 5 ms with 1 client: $goal_p99_single" \
     "($(f2 "$pg_single_p99") ms), under 15 ms with $clients clients at $rate_percent% rate: $goal_p99_rated ($(f2 "$pg_rated_p99") ms)"
echo "whole benchmark: $elapsed s (load $load_total s); load average before: $load_before, after: $load_after"

if $write_doc; then
    cpu=$(awk -F': *' '/^model name/ && !m { m = $2 } /^cpu family/ && !f { f = $2 } /^model\t/ && !n { n = $2 }
                       /^cpu MHz/ && !h { h = $2 } /^flags/ && / hypervisor/ { vm = 1 }
                       END { printf "%s (family %s, model %s), %.0f MHz%s", m, f, n, h, vm ? ", virtual machine" : "" }' /proc/cpuinfo)
    mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    pg_version=$(bpsql -At -c "SELECT version()")
    server_settings=$(bpsql -At -c "SELECT string_agg(name || ' = ' || current_setting(name), ', ' ORDER BY name)
                                    FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'maintenance_work_mem',
                                        'max_wal_size', 'checkpoint_timeout', 'fsync', 'synchronous_commit', 'jit',
                                        'max_parallel_workers_per_gather')")
    ext_version=$(bpsql -At -c "SELECT extversion FROM pg_extension WHERE extname = 'rebate'")
    shared=$(awk -v a="${load_before%% *}" -v b="${load_after%% *}" 'BEGIN {
        print (a > 0.5 || b > 0.5) ? "the machine was shared: other work was running (the load average is the benchmark'"'"'s own plus the others'"'"')" : "the machine was otherwise idle" }')
    if [ -n "$THROWAWAY_DIR" ]; then
        shown_command=$COMMAND
    else
        shown_command="PGHOST=${PGHOST:-} PGPORT=${PGPORT:-} $COMMAND"
    fi
    reading_close=$(awk -v c="$m_close" -v j="$m_close_nojit" -v vf="$m_verify" 'BEGIN {
        if (j < c) printf "In a session with `jit = off` the close took %.1f s less (%.0f%%): PostgreSQL JIT-compiles each of its large queries, planned once for any values with high row estimates, and at this size compiling costs more than it saves. ", c - j, (c - j) * 100 / c
        else printf "In a session with `jit = off` the close took no less time (%.2f s). ", j
        printf "The cross-check took %.1f× the time of the close.", vf / c }')
    parent_median=$(awk -F'\t' '$1 == "progress" && $2 == "parent" { print $4 }' "$TMP/parts.tsv")
    reading_p99=$(awk -v np="${n_parents:-0}" -v dp="${parent_median:-0}" -v s="$pg_saturated_p99" -v r="$pg_rated_p99" -v one="$pg_single_p99" -v sv="$pg_rated_svc99" \
                      -v c="$clients" -v q="$rate_percent" -v n="$(nproc)" 'BEGIN {
        printf "With %d clients in a closed loop on %d cores, each client sends its next call as soon as the last returns, so the server always has %d calls for %d cores: a saturated run measures mostly the wait for a core (queueing), and its latency is about %d ÷ %d times the time of one call however fast that is. ", c, n, c, n, c, n
        printf "At %d%% of that rate the calls arrive as independent clients would send them (pgbench --rate, Poisson arrivals; the latency counts from the scheduled start, so waiting is included): p99 %.2f ms (%s). A single client, never waiting, gives the time of one call alone: p99 %.2f ms", q, r, (r < 15 ? "goal met" : "goal missed"), one
        if (one >= 5) printf " (goal missed)"
        else printf "."
        printf " The longest calls (the max column) are the distributors'"'"' (%d of the brand'"'"'s partners; %.0f ms median alone), which hold a core for as long while the other clients wait.", np, dp
    }')
    {
        cat <<EOF
$BEGIN_MARK
## Rebate programs: close_period and progress

How long does closing a quarter take for a brand with thousands of partners,
and how fast is one partner's real-time progress while many clients ask at
once? The goals (issue 16): on the 2-core machine, \`rebate.close_period\`
for a quarter in under 10 seconds, and \`rebate.progress\` for any partner
with a p99 latency under 5 ms for one client and under 15 ms for $clients
clients at $rate_percent% of the saturated rate. This section is written by

    $shown_command

(run on $(date -u '+%Y-%m-%d %H:%M UTC'), the whole benchmark in $((elapsed / 60)) min $((elapsed % 60)) s, of which loading
$((load_total / 60)) min $((load_total % 60)) s; \`bench/programs.sh --write-doc\` rewrites only the text between the
\`programs-benchmark\` markers).

### Results

$(thousands "$n_partners") partners (two brands of $(thousands "$partners")), $(thousands "$n_lines") order lines and $(thousands "$n_payments") payments over 2026; five
programs per brand. Measured on brand $tenant_code: $(thousands "$t_partners") partners ($(thousands "$t_active")
active), $(thousands "$t_lines") order lines, $(thousands "$q_lines") of them in the quarter $QUARTER.

| Goal | measured | |
|---|--:|---|
| \`rebate.close_period\` for the quarter under 10 s | $(f2 "$m_close") s (median of $runs) | **$goal_close** |
| \`rebate.progress\` p99 under 5 ms, 1 client | $(f2 "$pg_single_p99") ms | **$goal_p99_single** |
| \`rebate.progress\` p99 under 15 ms, $clients clients at $rate_percent% of the saturated rate | $(f2 "$pg_rated_p99") ms | **$goal_p99_rated** |
| for comparison: \`rebate.progress\` p99, $clients clients saturated (closed loop: queueing) | $(f2 "$pg_saturated_p99") ms | — |

**Closing the quarter** wrote $(thousands "$n_statements") draft statements with $(thousands "$n_stmt_lines") lines ($lines_by_kind),
totalling $stmt_total; every run wrote the same. Times are wall clock, one
session per statement, the commit included; medians of $runs rounds, each
round running the five in the order shown; the closes marked "no statements
before" start with the previous drafts deleted and the tables vacuumed
(untimed):

$(cat "$TMP/close.md")

The baseline is the least any close must do: read the quarter's
$(thousands "$q_lines") lines once and add them up per partner ($(thousands "$base_rows") partners). The close
computes $n_programs programs (three quarterly, two monthly: the month of each as
its own program period, so three final periods each), each from the rollups
(\`rebate.sales_rollup\`: the quarter rows of the quarterly programs and the month rows of the monthly ones, per partner and
product), rates them with the C core, stacks them, rounds each line and
writes statements; \`verify_period\` recomputes all of it from the documents in
plain SQL, and the rollups of the quarter too (\`rebate.verify_rollups\`), and
compares. $reading_close

**Progress of one partner** (\`SELECT * FROM rebate.progress(:p, '$as_of')\`,
\`:p\` uniform over the brand's $(thousands "$t_partners") partners, $n_programs rows per call):
medians of $runs runs of ${seconds} s per setting; latencies are percentiles of every
transaction in pgbench's per-transaction log (\`-l\`), the first
transaction of each connection left out (it plans and compiles everything
for the session; its median is the last column), and in the rate-limited
runs every call that ended in the first $rated_warmup s (the calls that queued
behind those first ones).

$(cat "$TMP/progress.md")

Where a call's time goes: in one session after a warm-up, the
\`rebate.program_results\` call that \`progress\` makes for each program, and
\`progress\` itself, timed for $n_plain partners without sub-partners (the
brand's dealers and agents), and \`progress\` for each of the $n_parents partners with
sub-partners (the distributors, whose override on their sub-partners'
sales reads the rollup rows that sum them):

$(cat "$TMP/parts.md")

\`progress\` reads, for each program, the partner's rollup rows of the
period (quarter and month rows for the whole quarters and months, day rows for the rest; see
[Rollups](#rollups)), so its time grows with the programs and periods, not
with the partner's documents or, for a distributor, its sub-partners'.

In the rate-limited runs the schedule lag (time from a call's scheduled
start to the moment a client could send it) had a median of $(f2 "$pg_rated_lag50") ms and a p99
of $(f2 "$pg_rated_lag99") ms; the time of the calls themselves (latency less lag) had a
median of $(f2 "$pg_rated_svc50") ms and a p99 of $(f2 "$pg_rated_svc99") ms. With $clients connections open, the wait for a core
shows inside the server rather than as schedule lag: a call that arrives
while others run shares the $(nproc) cores with them, and its own time stretches
(against a single client's median of $(f2 "$pg_single_p50") ms).

**Reading.** $reading_p99

Every pgbench run:

$(cat "$TMP/pgbench-runs.md")

Before the timings, the progress of $check_text ($(thousands "$check_rows") rows) equalled, program
by program, both \`rebate.program_results\` for all partners at once,
stacked alike, and \`verify_period\`'s own recomputation
(\`rebate.verify_earned\`: the basis, and the rebate where no cascade
re-rates it); and
\`verify_period\` reported no difference after every close. Otherwise the
benchmark stops. The test suite runs these checks alone,
\`bench/programs.sh --check\` (2 × 50 partners, about 6,000 lines, no
timing), through \`test/bench_agreement.sh\`; no timing is asserted.

### Machine

| | |
|---|---|
| CPU | $cpu, $(nproc) cores (\`nproc\`) |
| Memory | $mem |
| OS | $(uname -sr) (\`uname -r\`: $(uname -r)) |
| PostgreSQL | $pg_version |
| Server | $server_kind |
| Server settings | $server_settings |
| Load session | synchronous_commit = off (the load only; the timed sessions use the server's setting) |
| Load average (1, 5, 15 min) | before: $load_before; after: $load_after — $shared |
| rebate | extension $ext_version as installed when the run began; the tree then: commit $commit |
| Data | database $data_size after \`VACUUM (FREEZE, ANALYZE)\` |

### How it is measured

- Data: \`rebate_sample.generate(partners => $partners, lines => $gen_lines, audited => false)\`
  ($(thousands "$partners") partners per brand, in a 总代/二代 hierarchy with grades; the
  lines are order lines of orders spread evenly over 2026, and about one
  order in 33 has a return of one line, which brings the lines to
  $(thousands "$n_lines")), loaded with the triggers off (what they would have filled
  is filled by the function), then \`rebate_sample.programs()\`:
  Q-VOLUME (retroactive net-sales scale, capped, with a 0.5% override for
  distributors on their dealers and interim settlement), Q-TARGET
  (overachievement against quarterly targets), Q-MARGIN (gross-margin
  scale, capped), M-UNIT (per unit of a category, monthly) and M-CASH
  (collections, monthly), in stacking groups (max and cascade for one brand,
  exclusive and sum for the other). Then \`VACUUM (FREEZE, ANALYZE)\` and
  \`CHECKPOINT\`. Loading took $((load_total / 60)) min $((load_total % 60)) s ($load_generate s generating,
  $load_vacuum s vacuuming).
- Throwaway server settings for a bulk benchmark: shared buffers large
  enough to keep the whole database cached, \`work_mem\` and
  \`maintenance_work_mem\` for sorts and hashes over millions of rows,
  \`max_wal_size\` and \`checkpoint_timeout\` so that the load does not
  checkpoint every few seconds, \`fsync\` off (the cluster is thrown away), and
  \`synchronous_commit\` off in the loading session only.
- close_period, verify_period and the baseline: each statement in a new
  \`psql\` session; its time is \`clock_timestamp()\` after the statement
  (committed) less before it. Rounds: baseline, close, verify, re-close,
  close with \`jit = off\` set for its session (\`PGOPTIONS\`).
- progress: \`pgbench -n -M prepared\` with the script
  \`\\set p random($p_lo, $p_hi)\` / \`SELECT * FROM rebate.progress(:p, '$as_of');\`,
  for ${seconds} s per run; the settings take turns in each round (saturated, 1
  client, rate-limited), the rate fixed at $rate_percent% of the first saturated
  run's tps. Percentiles are nearest-rank over all transactions of a run
  (pgbench's \`time\` column, which with \`--rate\` counts from the scheduled
  start), then the median over the runs.
$END_MARK
EOF
    } >"$TMP/section.md"
    replace_doc_section "$DOC" "$BEGIN_MARK" "$END_MARK" "$TMP/section.md"
    say "wrote the programs section of $DOC"
fi
