# shellcheck shell=bash
# bench/checks.sh — sourced by the benchmarks (bench/run.sh, policy.sh,
# programs.sh, kpis.sh, views.sh) after scripts/common.sh: the verdict of
# each of their correctness checks.
#
# With --check (check_mode=true) a check prints "ok - WHAT" or "not ok -
# WHAT" and "#   WHY", and the run goes on to the next check; checks_exit
# ends the run, non-zero when any check failed (test/bench_agreement.sh runs
# the five benchmarks so).  In a benchmark run a failed check prints
# "FAILED: WHY" and stops the benchmark at once, as it always did, and a
# passed one prints nothing.

check_mode=false
checks_passed=0
checks_failed=0

verdict() {	# verdict STATUS WHAT WHY: STATUS 0 is a pass
    local status=$1 what=$2 why=${3:-}
    if [ "$status" -eq 0 ]; then
        checks_passed=$((checks_passed + 1))
        if $check_mode; then
            echo "ok - $what"
        fi
        return 0
    fi
    checks_failed=$((checks_failed + 1))
    if $check_mode; then
        echo "not ok - $what"
        echo "#   $why"
        return 0
    fi
    say "FAILED: $why"
    exit 1
}

# Show the verdict lines another program printed (psql, into FILE) and count them.
count_verdicts() {	# count_verdicts FILE
    cat "$1"
    checks_passed=$((checks_passed + $(grep -c '^ok ' "$1" || true)))
    checks_failed=$((checks_failed + $(grep -c '^not ok ' "$1" || true)))
}

# The end of a --check run: a summary, and the exit status.
checks_exit() {
    echo "# $checks_passed passed, $checks_failed failed"
    [ "$checks_failed" -eq 0 ] || exit 1
    exit 0
}
