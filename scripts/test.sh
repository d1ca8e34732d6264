#!/usr/bin/env bash
# The whole test suite: install what is missing, build (warnings are errors)
# and install rebate, start a throwaway PostgreSQL (or use the one the libpq
# variables name), then run every runner and exit non-zero if any failed:
#   pg_regress    exact output: type I/O, error texts          (sql/, expected/)
#   pgTAP         behaviour, boundaries, aggregates, plans, roles (test/pgtap/)
#   upgrade       each released version + ALTER EXTENSION UPDATE = a fresh install
#   dump_restore  pg_dump + pg_restore gives back every row, and RLS still holds
#   notify        a partner user LISTENs on its inbox channel: a committed change is heard once,
#                 a rolled-back one never, a sibling's never (test/notify.sh)
#   differential  100,000+ random cases against a Python decimal reference
#   settlement differential  random tenants of programs, documents and late documents, closed month
#                 by month, against test/program_model.py (written from docs/programs.md and
#                 docs/statements.md): every statement line and a sample of progress
#   docs          every SQL example in README.md and docs/ with its shown result
#   bench agreement  test/bench_agreement.sh: the correctness checks of the eight benchmarks,
#                 each bench/*.sh --check on its small data set, no timing: the tiered_sum
#                 variants agree with plain SQL (bench/run.sh); the C and PL/pgSQL policy
#                 triggers judge alike (bench/policy.sh); close_period, verify_period and
#                 progress agree with the recomputations (bench/programs.sh); each KPI
#                 aggregate = its built-in equivalent, workers off and parallel (bench/kpis.sh);
#                 the snapshots equal the live BI views (bench/views.sh); loads leave the rollups
#                 equal to the recomputation (bench/rollups.sh); the certification rule's states
#                 load every line and refuse an uncertified partner's (bench/certification.sh); the
#                 stock balances equal the ledger after every load (bench/inventory.sh)
#   dashboard     scripts/dashboard.py draws the picture of docs/bi.md from the sample data
#   concurrency   pgbench clients write orders, returns, payments while others read progress;
#                 progress equals a plain-SQL recomputation, during the load and after; no deadlock
#   crash         on a cluster of its own (fsync on, port 5490-5498), pgbench writes documents and the
#                 server is killed with SIGKILL, twice; after crash recovery every acknowledged commit
#                 is there, the indexes check (amcheck), verify_rollups returns nothing, and a closed
#                 quarter passes verify_period
#   rollup races  test/rollup_races.sh: the races of the rollup triggers, one check each, made
#                 deterministic (the second session is seen waiting for the first, which holds its
#                 transaction open): a return and its original's allocation or delivery, either
#                 order; concurrent allocations to one order and lines of an allocated order
#                 (pgbench, no deadlock); an order held for credit in the middle of a statement on
#                 its lines; a partner's new parent; verify_rollups returns nothing after each
#   inventory races  test/inventory_races.sh: 16+ clients at once on the same few items (sell-outs,
#                 receipts, shipments shipped and delivered, transfers requested, decided, shipped and
#                 received, refused oversells rolled back, readers): the balances equal the ledger in
#                 every snapshot and at the end, no deadlock, no open out-of-stock alert with stock
#   settlement window  across real transactions, a close rechecks exactly the settled periods
#                 that changed documents can reach, and verify_period agrees
#   session attacks  attacks that need a fresh backend of their own (a partner user's temporary
#                 types against the policy triggers' plans)
#   citus keys    on a throwaway single-node Citus (installed from ../shared/citus when missing),
#                 every tenant table distributes by tenant_id with its keys and foreign keys
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_packages
build_and_install
provide_server

passed=0
failed=0
failed_names=()
record() {	# record NAME STATUS
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names+=("$1")
    fi
}

say "pg_regress"
set +e
make -C "$REPO" -s PG_CONFIG="$PG_CONFIG" installcheck
status=$?
set -e
if [ $status -ne 0 ] && [ -f "$REPO/regression.diffs" ]; then
    cat "$REPO/regression.diffs"
fi
record pg_regress $status

say "pgTAP (pg_prove)"
fresh_database rebate_tap with_pgtap
set +e
pg_prove -d rebate_tap --failures "$REPO"/test/pgtap/*.sql
status=$?
set -e
record pgtap $status

say "upgrade: every released version, updated, equals a fresh install"
set +e
"$REPO/test/upgrade.sh"
status=$?
set -e
record upgrade $status

say "pg_dump / pg_restore round trip"
set +e
"$REPO/test/dump_restore.sh"
status=$?
set -e
record dump_restore $status

say "inbox NOTIFY: heard on commit by the partner's listener, never after a rollback"
set +e
"$REPO/test/notify.sh"
status=$?
set -e
record notify $status

say "differential test against the Python decimal reference"
fresh_database rebate_diff
set +e
PGDATABASE=rebate_diff python3 "$REPO/test/differential.py" --cases "${REBATE_DIFF_CASES:-100000}"
status=$?
set -e
record differential $status

say "settlement differential: programs and closes against the independent Python model"
fresh_database rebate_settle_diff
set +e
PGDATABASE=rebate_settle_diff python3 "$REPO/test/settlement_differential.py" --scenarios "${REBATE_SETTLEMENT_SCENARIOS:-40}"
status=$?
set -e
record settlement_differential $status

say "documentation examples"
fresh_database rebate_docs
set +e
PGDATABASE=rebate_docs python3 "$REPO/test/doc_examples.py" "$REPO/README.md" "$REPO"/docs/*.md
status=$?
set -e
record docs $status

say "bench agreement: the benchmarks' correctness checks (bench/*.sh --check, small data sets; nothing timed)"
set +e
"$REPO/test/bench_agreement.sh"
status=$?
set -e
record bench_agreement $status

say "dashboard: scripts/dashboard.py draws docs/bi.md's picture from the sample data (a well-formed SVG)"
set +e
(
    set -e
    fresh_database rebate_dash
    psql_quiet -d rebate_dash -f "$REPO/sample/sample_data.sql"
    psql_quiet -d rebate_dash -c "SELECT count(*) FROM rebate_sample.generate()" -c "SELECT count(*) FROM rebate_sample.programs()" >/dev/null
    PGDATABASE=rebate_dash python3 "$REPO/scripts/dashboard.py" /tmp/rebate-dashboard.$$.svg
    python3 -c "import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); assert d.documentElement.tagName == 'svg'; print('dashboard: a well-formed SVG of', len(d.getElementsByTagName('text')), 'labels')" /tmp/rebate-dashboard.$$.svg
)
status=$?
rm -f /tmp/rebate-dashboard.$$.svg
set -e
record dashboard $status

say "concurrency: orders, returns and payments under load; progress equals the recomputation"
set +e
"$REPO/test/concurrency.sh"
status=$?
set -e
record concurrency $status

say "crash: SIGKILL of the server under a write load; after recovery the rollups equal the recomputation"
set +e
"$REPO/test/crash.sh"
status=$?
set -e
record crash $status

say "rollup races: two sessions on the same documents, each race forced; the rollups equal the recomputation"
set +e
"$REPO/test/rollup_races.sh"
status=$?
set -e
record rollup_races $status

say "inventory races: shipments, transfers and sell-out on the same items at once; stock equals the ledger"
set +e
"$REPO/test/inventory_races.sh"
status=$?
set -e
record inventory_races $status

say "settlement window: which settled periods a close rechecks, across transactions"
set +e
"$REPO/test/settlement_window.sh"
status=$?
set -e
record settlement_window $status

say "session attacks: a partner user's own session against the policy triggers"
set +e
"$REPO/test/session_attacks.sh"
status=$?
set -e
record session_attacks $status

say "citus keys: Citus 13 distributes every tenant table by tenant_id with its keys (single node)"
set +e
"$REPO/test/citus_keys.sh"
status=$?
set -e
record citus_keys $status

for db in rebate_tap rebate_diff rebate_docs rebate_dash; do
    psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $db" || true
done

say "summary"
if [ $failed -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
