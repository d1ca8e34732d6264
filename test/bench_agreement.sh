#!/usr/bin/env bash
# test/bench_agreement.sh — the correctness checks of the benchmarks, as
# tests: each benchmark of bench/ runs in --check mode (its small data set,
# every check it makes before timing anything, and no timing), prints one
# "ok - ..." or "not ok - ..." line per check (shown indented here), and this
# runner prints one line per benchmark and exits non-zero if any failed:
#   tiered_sum  bench/run.sh       every variant of the tiered_sum calculation (C, PL/pgSQL,
#                                  plain SQL) gives plain SQL's result per partner, workers off
#                                  and in parallel plans (bench/check.sql)
#   policy      bench/policy.sh    the C and PL/pgSQL policy triggers judge the probes of
#                                  bench/policy_probe.sql alike; every variant loads all its
#                                  lines without a violation, batched and under pgbench
#   programs    bench/programs.sh  progress equals rebate.program_results and
#                                  rebate.verify_earned; verify_period finds no difference
#                                  after close_period; every close writes the same statements;
#                                  progress under pgbench has no failed transaction
#   kpis        bench/kpis.sh      each KPI aggregate equals its built-in equivalent, group by
#                                  group, workers off and in parallel plans
#   views       bench/views.sh     each BI snapshot equals its live view; the dashboards'
#                                  queries run as their roles
#   rollups     bench/rollups.sh   lines loaded batched and under pgbench into approved orders
#                                  leave the rollups equal to the recomputation
#   certification  bench/certification.sh  the C triggers load every line with the certification
#                                  rule skipped, without requirements and with every partner
#                                  certified; a revoked certificate's line is refused (RB026)
#   inventory   bench/inventory.sh the balances equal the ledger after the load and after every
#                                  write round (batched and pgbench, the balance trigger on and
#                                  off and rebuilt); partner_stock equals the ledger's sum
#
#   test/bench_agreement.sh                   all eight, in this order
#   test/bench_agreement.sh policy kpis       only these
#
# Needs the extension installed (scripts/test.sh or make install).  Uses the
# server the libpq variables name, or one throwaway server (scripts/common.sh)
# for all eight.  Timings are never taken here: bench/*.sh without --check
# measure.
# shellcheck source=../scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

ALL=(tiered_sum policy programs kpis views rollups certification inventory)
declare -A SCRIPT=(
    [tiered_sum]=bench/run.sh
    [policy]=bench/policy.sh
    [programs]=bench/programs.sh
    [kpis]=bench/kpis.sh
    [views]=bench/views.sh
    [rollups]=bench/rollups.sh
    [certification]=bench/certification.sh
    [inventory]=bench/inventory.sh
)
declare -A ABOUT=(
    [tiered_sum]="every tiered_sum variant (C, PL/pgSQL, plain SQL) gives plain SQL's result per partner, workers off and parallel"
    [policy]="the C and PL/pgSQL policy triggers judge every probe alike; every variant loads all lines without a violation"
    [programs]="progress equals program_results and verify_earned; verify_period finds no difference after close_period; the closes agree"
    [kpis]="each KPI aggregate equals its built-in equivalent, workers off and parallel"
    [views]="each BI snapshot equals its live view; the dashboards' queries run as their roles"
    [rollups]="lines loaded batched and under pgbench leave the rollups equal to the recomputation"
    [certification]="every state of the certification rule loads all lines without a violation; an uncertified partner's line is refused"
    [inventory]="the balances equal the ledger after the load and every write round, trigger on, off and rebuilt; partner_stock equals the ledger"
)

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

selected=()
for arg in "$@"; do
    case $arg in
        -h|--help) usage ;;
        *)
            [ -n "${SCRIPT[$arg]:-}" ] || { echo "unknown benchmark: $arg (one of: ${ALL[*]})" >&2; usage; }
            selected+=("$arg")
            ;;
    esac
done
if [ ${#selected[@]} -eq 0 ]; then
    selected=("${ALL[@]}")
fi

provide_server

passed=0
failed=0
failed_names=()
started_all=$SECONDS
for name in "${selected[@]}"; do
    echo
    echo "# ${SCRIPT[$name]} --check"
    started=$SECONDS
    set +e
    # its own lines, indented (a TAP subtest)
    "$REPO/${SCRIPT[$name]}" --check 2>&1 | sed -u 's/^./    &/'
    status=${PIPESTATUS[0]}
    set -e
    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok - $name: ${ABOUT[$name]} ($((SECONDS - started)) s)"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "not ok - $name: ${ABOUT[$name]} (${SCRIPT[$name]} --check exited $status after $((SECONDS - started)) s)"
    fi
done

echo
if [ $failed -gt 0 ]; then
    echo "# failed: ${failed_names[*]}"
fi
echo "# bench agreement: $passed passed, $failed failed ($((SECONDS - started_all)) s)"
[ $failed -eq 0 ]
