#!/usr/bin/env bash
# The races of the rollup triggers (src/rollups.c), one check each, made
# deterministic: where a session must wait for another, the first holds its
# transaction open until the second is seen waiting for it (pg_locks,
# pg_blocking_pids), keeps it open a little longer, and only then commits.
# After every case rebate.verify_rollups returns no row for the partners the
# case wrote (the rollups equal an independent recomputation from the
# documents); a last check: no row at all, and no deadlock in the whole run
# (pg_stat_database, and on a throwaway server its log).
#   1a  a return approved, uncommitted, while a payment is allocated to its
#       original: the allocation waits, and the return counts on the paid day
#   1b  the reverse: the allocation uncommitted while the return is approved
#   1c  the original delivered, uncommitted, while its return is approved: the
#       return waits and counts on the delivery day (delivery basis)
#   2a  allocations of different payments to one order (pgbench, 4 clients,
#       committed, a tenth of them taking the client's allocation back): no
#       deadlock, the paid day and the rollups right afterwards
#   2b  lines added (and taken out again) concurrently in an approved order
#       with an allocation that covers it with up to three lines added
#       (pgbench, 4 clients, committed): likewise
#   2c  lines of three products added (and taken out again) concurrently in
#       an approved order under REPEATABLE READ, each snapshot taken before
#       the order's lock (pgbench, 4 clients): the distinct-order counts
#       move only where a product gains its first line or loses its last
#   3a  one INSERT of three lines into an approved order whose third line takes
#       the partner over its credit limit (credit 'review', the default): the
#       policy trigger holds the order in the middle of the statement; the
#       rollups right then, after the limit is raised and
#       rebate.set_order_status(order, 'approved') (which holds it again while
#       the credit violation is open), and after the violation is approved,
#       which releases the order to approved
#   3b  the same with one UPDATE of the lines' quantities (the order allocated
#       in full before, so its paid day moves too)
#   4   a partner moved under another parent while another session has an
#       uncommitted line in an approved order of the partner: the move waits,
#       and the sub-partner rows end up under the new parent only
#
#   test/rollup_races.sh [--seconds T]     (T: each pgbench run, default 4)
#
# Database rebate_races and role rebate_races_mgr_<pid> are created and
# dropped.  Uses the server the libpq variables name (with rebate installed),
# or a throwaway one (scripts/common.sh).  About 30 s in all.

# shellcheck source=../scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

seconds=4
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) seconds=${2:-}; shift ;;
        -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "not a positive whole number: $seconds" >&2; exit 2; }

DB=rebate_races
MGR=rebate_races_mgr_$$
WAIT_LIMIT_MS=15000	# how long a session may take to open, or to start waiting
HOLD=0.4		# how long the first session stays open once the second waits for it

provide_server
TMP=$(mktemp -d /tmp/rebate-races.XXXXXX)
bg_pids=()
cleanup() {
    local pid
    for pid in "${bg_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS $MGR" \
        >/dev/null 2>&1 || true
    rm -rf "$TMP"
    stop_throwaway_cluster
}
trap cleanup EXIT
trap '' PIPE	# a session that died is reported, not a reason to die

started=$SECONDS
# as the superuser running the test, and as the tenant manager (every trigger in the path)
q() { psql_quiet -d "$DB" -At "$@"; }
mq() { PGOPTIONS="${PGOPTIONS:-} -c role=$MGR" psql_quiet -d "$DB" -At "$@"; }
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }

passed=0 failed=0
report() {	# report NAME PROBLEMS INFO: ok when PROBLEMS is empty
    if [ -z "$2" ]; then
        echo "ok - $1${3:+ ($3)}"
        passed=$((passed + 1))
    else
        echo "not ok - $1: $2"
        failed=$((failed + 1))
    fi
}

# What verify_rollups finds (empty: nothing), at most 10 rows: the rows of
# the partners the case writes (scope, a comma-separated list; empty: all),
# so that a case is judged by its own documents only.
scope=""
differences() {
    mq -F ' ' -c "SELECT partner_id, of_sub_partners, date_basis, unit, period_start, kind, product_id,
                         'kept', kept_quantity, kept_amount, kept_lines, 'recomputed', quantity, amount, lines
                    FROM rebate.verify_rollups(1) WHERE '$scope' = '' OR partner_id = ANY ('{$scope}'::bigint[])
                   ORDER BY 1, 2, 3, 4, 5, 6, 7 LIMIT 10"
}
verify_problem() {	# verify_problem WHEN: a problem text, or nothing
    local rows
    if ! rows=$(differences 2>&1); then
        printf 'verify_rollups %s failed: %s; ' "$1" "$(tr '\n' ' ' <<<"$rows")"
        return 0
    fi
    [ -z "$rows" ] || printf 'verify_rollups %s: rows differ%s (%s in all): %s; ' "$1" "${scope:+ for partners $scope}" \
        "$(mq -c "SELECT count(*) FROM rebate.verify_rollups(1)")" "$(tr '\n' ';' <<<"$rows")"
}
# orders whose kept paid day is not the one their allocations give now
paid_day_problem() {
    local rows
    if ! rows=$(mq -F ' ' -c "SELECT o.code, p.paid_on, rebate.order_paid_on(o.id) FROM rebate.order_paid p
                               JOIN rebate.sales_order o ON o.id = p.order_id
                              WHERE p.paid_on IS DISTINCT FROM rebate.order_paid_on(o.id)" 2>&1); then
        printf 'the paid-day check failed: %s; ' "$(tr '\n' ' ' <<<"$rows")"
        return 0
    fi
    [ -z "$rows" ] || printf 'paid day kept/recomputed differs: %s; ' "$(tr '\n' ';' <<<"$rows")"
}
deadlocks() {
    # a backend's counters reach the statistics when it ends: wait for the others to end first
    local i
    for i in $(seq 1 100); do
        [ "$(psql_quiet -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND pid <> pg_backend_pid()")" = 0 ] && break
        sleep 0.05
    done
    psql_quiet -d postgres -At -c "SELECT deadlocks FROM pg_stat_database WHERE datname = '$DB'"
}
server_log=${THROWAWAY_DIR:+$THROWAWAY_DIR/server.log}
log_offset() { if [ -n "$server_log" ] && [ -r "$server_log" ]; then stat -c %s "$server_log"; else echo 0; fi; }
log_deadlocks() {	# log_deadlocks OFFSET: what the server logged of deadlocks since (a throwaway server only)
    if [ -n "$server_log" ] && [ -r "$server_log" ]; then
        tail -c +"$(($1 + 1))" "$server_log" \
            | awk '/deadlock detected/ { p = 1 } p && n < 40 { printf "%s | ", $0; n++ } p && /STATEMENT:/ { p = 0 }' \
            || true
    fi
}

say "rollup races: database $DB, pgbench runs of $seconds s"
fresh_database $DB
psql_quiet -d postgres -c "DROP ROLE IF EXISTS $MGR" -c "CREATE ROLE $MGR LOGIN"
deadlocks_at_start=$(deadlocks)
log_at_start=$(log_offset)

# ---------------------------------------------------------------------------
# One tenant, the shipped policy (territory reject, credit review), a region
# tree, one product under a price policy; partners, one per case:
#   1001 D1, 1002 D2 distributors; 1011, 1012, 1013 (cases 1a-1c), 1021,
#   1022, 1023 (2a-2c), 1031 (3, credit limit 5000), 1041 (4, a dealer under D1).
q >/dev/null <<SQL
INSERT INTO rebate.tenant (id, code, name) VALUES (1, 'RACES', 'rollup races');
INSERT INTO rebate.region (id, tenant_id, code, name, level) VALUES (100, 1, 'CN', 'CN', 'country');
INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id) VALUES (101, 1, 'A1', 'A1', 'area', 100);
INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id) VALUES (111, 1, 'A1P1', 'A1P1', 'province', 101);
INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id) VALUES (201, 1, 'A1P1C1', 'A1P1C1', 'city', 111);
INSERT INTO rebate.partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit)
SELECT id, 1, 'P' || id, 'P' || id, CASE WHEN id IN (1001, 1002) THEN 'distributor' ELSE 'dealer' END, 111, 'active',
       CASE WHEN id = 1031 THEN 5000 ELSE 1000000000 END
  FROM unnest(ARRAY[1001, 1002, 1011, 1012, 1013, 1021, 1022, 1023, 1031]) AS id;
INSERT INTO rebate.partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit, parent_id)
VALUES (1041, 1, 'P1041', 'P1041', 'dealer', 111, 'active', 1000000000, 1001);
INSERT INTO rebate.partner_territory (tenant_id, partner_id, region_id, valid)
SELECT 1, id, 101, '[2026-01-01,2027-01-01)' FROM rebate.partner WHERE tenant_id = 1;
INSERT INTO rebate.product_category (id, tenant_id, code, name) VALUES (300, 1, 'ALL', 'ALL');
INSERT INTO rebate.product (id, tenant_id, sku, name, category_id, list_price, standard_cost)
VALUES (2001, 1, 'P1', 'P1', 300, 1000, 600), (2002, 1, 'P2', 'P2', 300, 1000, 600), (2003, 1, 'P3', 'P3', 300, 1000, 600);
INSERT INTO rebate.price_policy (tenant_id, code, name, category_id, price_percent, floor_percent, ceiling_percent, valid)
VALUES (1, 'BASE', 'base', 300, 95, 85, 100, '[2026-01-01,2027-01-01)');
SELECT rebate.grant_access('$MGR', 1);
-- line numbers for the lines case 2b adds
CREATE SEQUENCE public.races_line_no START 100;
GRANT USAGE ON SEQUENCE public.races_line_no TO $MGR;
SQL

# From here on a failure is reported by the check it belongs to, and the
# other checks still run.
set +e

# The documents, as the manager.
order_id() { echo "(SELECT id FROM rebate.sales_order WHERE code = '$1')"; }
mk() {	# mk CODE PARTNER STATUS...: an order of one line (2 x 950) moved along the statuses given
    local code=$1 partner=$2 s
    shift 2
    mq -c "INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id, order_date)
           VALUES ('$code', $partner, 201, '2026-11-02')" \
       -c "INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price)
           SELECT $(order_id "$code"), 1, 2001, 2, 950"
    for s in "$@"; do
        mq -c "UPDATE rebate.sales_order SET status = '$s' WHERE code = '$code'"
    done
}
mkret() {	# mkret CODE ORIGINAL: a submitted return of 1 unit of the original's line
    mq -c "INSERT INTO rebate.sales_order (code, partner_id, kind, original_order_id, ship_to_region_id, order_date)
           SELECT '$1', partner_id, 'return', id, 201, '2026-11-05' FROM rebate.sales_order WHERE code = '$2'" \
       -c "INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price)
           SELECT $(order_id "$1"), 1, 2001, 1, 950" \
       -c "UPDATE rebate.sales_order SET status = 'submitted' WHERE code = '$1'"
}
pay() {	# pay CODE PARTNER DAY AMOUNT
    mq -c "INSERT INTO rebate.payment (code, partner_id, received_on, amount) VALUES ('$1', $2, '$3', $4)"
}
alloc_sql() {	# alloc_sql PAYMENT ORDER AMOUNT
    echo "INSERT INTO rebate.payment_allocation (payment_id, order_id, partner_id, amount)
          SELECT p.id, o.id, o.partner_id, $3 FROM rebate.payment p, rebate.sales_order o
           WHERE p.code = '$1' AND o.code = '$2'"
}
# what one partner's own rows hold for a basis, day or month and kind: "amount/lines", or "none"
cell() {	# cell PARTNER OF_SUB_PARTNERS BASIS UNIT DAY KIND
    mq -c "SELECT coalesce(sum(amount)::numeric(20,2) || '/' || sum(lines), 'none') FROM rebate.sales_rollup
            WHERE tenant_id = 1 AND partner_id = $1 AND of_sub_partners = $2 AND date_basis = '$3'
              AND unit = '$4' AND period_start = '$5' AND kind = '$6'
           HAVING sum(lines) <> 0 OR sum(amount) <> 0" | grep . || echo none
}

# ---------------------------------------------------------------------------
# Two sessions.  The first (A) reads its SQL from a FIFO, so that its
# transaction stays open for as long as the test wants; the second (B) is one
# psql run in the background.  Both are named by application_name.
a_pid="" a_fd="" b_pid=""
open_a() {	# open_a CASE SQL: A begins, runs SQL and stays open; fails if it could not
    local name=races_$1_a t0
    mkfifo "$TMP/$1_a.in"
    PGAPPNAME=$name PGOPTIONS="-c lock_timeout=20s" mq -f "$TMP/$1_a.in" >"$TMP/$1_a.out" 2>&1 &
    a_pid=$!
    bg_pids+=("$a_pid")
    # read-write: does not wait for psql to open it, nor ever get SIGPIPE
    exec {a_fd}<>"$TMP/$1_a.in"
    printf 'BEGIN;\n%s;\nSELECT %s;\n' "$2" "'races: A is open'" >&"$a_fd"
    t0=$(now_ms)
    until [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                       AND application_name = '$name' AND state = 'idle in transaction'
                       AND query LIKE '%races: A is open%'")" = 1 ]; do
        if ! kill -0 "$a_pid" 2>/dev/null || [ $(($(now_ms) - t0)) -gt $WAIT_LIMIT_MS ]; then
            return 1
        fi
        sleep 0.02
    done
}
close_a() {	# close_a: A commits and ends; its status
    local status=0
    printf 'COMMIT;\n' >&"$a_fd" || true
    exec {a_fd}>&-
    wait "$a_pid" || status=$?
    return $status
}
start_b() {	# start_b CASE SQL: B runs SQL in the background; its exit status and end time go to files
    (
        set +e
        PGAPPNAME=races_$1_b PGOPTIONS="-c lock_timeout=20s" mq -c "$2" >"$TMP/$1_b.out" 2>&1 </dev/null
        echo $? >"$TMP/$1_b.rc"
        now_ms >"$TMP/$1_b.end"
    ) &
    b_pid=$!
    bg_pids+=("$b_pid")
}
blocked_by_a() {	# blocked_by_a CASE: the locks B waits for while A blocks it ("" if it does not)
    q -c "SELECT string_agg(l.locktype || ' ' || l.mode || coalesce(' on ' || l.relation::regclass::text, ''), ', ')
            FROM pg_stat_activity b JOIN pg_locks l ON l.pid = b.pid AND NOT l.granted
           WHERE b.datname = current_database() AND b.application_name = 'races_$1_b'
             AND EXISTS (SELECT 1 FROM pg_stat_activity a
                          WHERE a.datname = current_database() AND a.application_name = 'races_$1_a'
                            AND a.pid = ANY (pg_blocking_pids(b.pid)))"
}

# race CASE NAME A_SQL B_SQL STATE EXPECTED: A writes and stays open; B must
# come to wait for A, and still wait HOLD s later; then A commits and B ends.
# Then verify_rollups must return nothing and the function STATE print
# EXPECTED.
race() {
    local c=$1 name=$2 problems="" lock="" still="" b_start b_end waited t0 state
    if ! open_a "$c" "$3"; then
        report "$name" "session A failed: $(tr '\n' ' ' <"$TMP/${c}_a.out")"
        close_a || true
        return 0
    fi
    b_start=$(now_ms)
    start_b "$c" "$4"
    t0=$b_start
    while :; do
        lock=$(blocked_by_a "$c")
        [ -n "$lock" ] && break
        if [ -e "$TMP/${c}_b.end" ] || ! kill -0 "$b_pid" 2>/dev/null; then
            problems+="B did not wait for A: it ended after $(($(cat "$TMP/${c}_b.end" 2>/dev/null || now_ms) - b_start)) ms while A was open; "
            break
        fi
        if [ $(($(now_ms) - t0)) -gt $WAIT_LIMIT_MS ]; then
            problems+="B was not seen waiting for A in $WAIT_LIMIT_MS ms; "
            break
        fi
        sleep 0.02
    done
    if [ -n "$lock" ]; then
        sleep "$HOLD"
        still=$(blocked_by_a "$c")
        [ -n "$still" ] || problems+="B stopped waiting before A committed; "
    fi
    close_a || problems+="session A failed: $(tr '\n' ' ' <"$TMP/${c}_a.out"); "
    wait "$b_pid" || true
    [ "$(cat "$TMP/${c}_b.rc" 2>/dev/null)" = 0 ] || problems+="session B failed: $(tr '\n' ' ' <"$TMP/${c}_b.out"); "
    b_end=$(cat "$TMP/${c}_b.end" 2>/dev/null || now_ms)
    waited=$((b_end - b_start))
    problems+=$(verify_problem "after both committed")
    state=$("$5" 2>&1 | paste -sd ';' | sed 's/;/; /g')
    [ "$state" = "$6" ] || problems+="expected '$6', got '$state'; "
    report "$name" "$problems" "B waited on ${lock:-nothing} held by A, ${waited} ms from its start to its end; $state; verify_rollups: no row for partners $scope"
}

# ---- 1: a return and its original ------------------------------------------------------
scope=1011
mk O11 1011 submitted approved; mkret R11 O11; pay P11 1011 2026-11-10 1900
state_1a() {
    mq -c "SELECT 'R11 ' || status FROM rebate.sales_order WHERE code = 'R11'"
    mq -c "SELECT 'O11 paid ' || paid_on FROM rebate.order_paid WHERE order_id = $(order_id O11)"
    echo "the return on that day (payment basis): $(cell 1011 false payment day 2026-11-10 return)"
}
race 1a "1a: a return approved (uncommitted) while a payment is allocated to its original: the allocation waits" \
    "UPDATE rebate.sales_order SET status = 'approved' WHERE code = 'R11'" \
    "$(alloc_sql P11 O11 1900)" \
    state_1a "R11 approved; O11 paid 2026-11-10; the return on that day (payment basis): -950.00/1"

scope=1012
mk O12 1012 submitted approved; mkret R12 O12; pay P12 1012 2026-11-12 1900
state_1b() {
    mq -c "SELECT 'R12 ' || status FROM rebate.sales_order WHERE code = 'R12'"
    mq -c "SELECT 'O12 paid ' || paid_on FROM rebate.order_paid WHERE order_id = $(order_id O12)"
    echo "the return on that day (payment basis): $(cell 1012 false payment day 2026-11-12 return)"
}
race 1b "1b: a payment allocated (uncommitted) to an order while its return is approved: the approval waits" \
    "$(alloc_sql P12 O12 1900)" \
    "UPDATE rebate.sales_order SET status = 'approved' WHERE code = 'R12'" \
    state_1b "R12 approved; O12 paid 2026-11-12; the return on that day (payment basis): -950.00/1"

scope=1013
mk O13 1013 submitted approved shipped; mkret R13 O13
state_1c() {
    mq -c "SELECT string_agg(code || ' ' || status, ', ' ORDER BY code) FROM rebate.sales_order WHERE code IN ('O13', 'R13')"
    echo "the return on the delivery day: $(cell 1013 false delivery day 2026-11-20 return)"
}
race 1c "1c: an order delivered (uncommitted) while its return is approved (delivery basis): the approval waits" \
    "UPDATE rebate.sales_order SET status = 'delivered', delivered_on = '2026-11-20' WHERE code = 'O13'" \
    "UPDATE rebate.sales_order SET status = 'approved' WHERE code = 'R13'" \
    state_1c "O13 delivered, R13 approved; the return on the delivery day: -950.00/1"

# ---- 2: pgbench, 4 clients, committed ---------------------------------------------------
# bench SCRIPT: sets bench_problems ("" when none) and bench_info
bench() {
    local out status=0 processed failed_tx deadlock serial d0 d1 off logged
    out=$TMP/$(basename "$1" .sql).out
    d0=$(deadlocks)
    off=$(log_offset)
    PGOPTIONS="-c role=$MGR" "$PG_BIN/pgbench" -n -c 4 -j 2 -T "$seconds" --failures-detailed -f "$1" "$DB" \
        >"$out" 2>&1 || status=$?
    d1=$(deadlocks)
    processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
    failed_tx=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
    deadlock=$(sed -n 's/^number of deadlock failures: \([0-9]*\).*/\1/p' "$out")
    serial=$(sed -n 's/^number of serialization failures: \([0-9]*\).*/\1/p' "$out")
    bench_problems=""
    [ "$status" = 0 ] || bench_problems+="pgbench exited with $status: $(grep -m3 -i 'error' "$out" | tr '\n' ' '); "
    [ "${processed:-0}" -gt 0 ] || bench_problems+="no transaction processed; "
    [ "${deadlock:-?}" = 0 ] || bench_problems+="deadlock failures: ${deadlock:-?}; "
    [ "${serial:-?}" = 0 ] || bench_problems+="serialization failures: ${serial:-?}; "
    [ "${failed_tx:-?}" = 0 ] || bench_problems+="failed transactions: ${failed_tx:-?}; "
    [ "$d1" = "$d0" ] || bench_problems+="the server counted $((d1 - d0)) deadlocks; "
    logged=$(log_deadlocks "$off")
    [ -z "$logged" ] || bench_problems+="server log: $logged; "
    bench_info="$processed transactions, 0 deadlock failures, 0 failed"
}

# 2a: each client allocates from a payment of its own (received on a day of
# its own) to the one order O21, adding to its allocation, and one time in ten
# takes its allocation back: the order is paid in full and not, on one day and
# another, over and over
scope=1021
mk O21 1021 submitted approved
for i in 1 2 3 4; do pay "Q$i" 1021 "2026-11-1$((4 + i))" 100000000; done
cat >"$TMP/allocations.sql" <<'SQL'
\set back random(1, 10)
\set amount random(1, 400)
\if :back = 1
DELETE FROM rebate.payment_allocation a USING rebate.payment p
 WHERE p.id = a.payment_id AND p.code = 'Q' || (:client_id + 1)
   AND a.order_id = (SELECT id FROM rebate.sales_order WHERE code = 'O21');
\else
INSERT INTO rebate.payment_allocation AS a (payment_id, order_id, partner_id, amount)
SELECT p.id, o.id, 1021, :amount FROM rebate.payment p, rebate.sales_order o
 WHERE p.code = 'Q' || (:client_id + 1) AND o.code = 'O21'
    ON CONFLICT (tenant_id, payment_id, order_id) DO UPDATE SET amount = a.amount + excluded.amount;
\endif
SQL
bench "$TMP/allocations.sql"
problems=$bench_problems$(verify_problem "after the run")$(paid_day_problem)
report "2a: allocations of different payments to one order, 4 clients, committed: no deadlock" "$problems" \
    "$bench_info; O21 paid $(mq -c "SELECT coalesce(paid_on::text, 'not in full') FROM rebate.order_paid WHERE order_id = $(order_id O21)"); verify_rollups: no row for partners $scope"

# 2b: the clients add lines of 950 to the approved order O22, allocated 4750
# (its 1900 and three more lines), or take the last added line (one no other
# client is taking) out again, the more often the more lines were added: the
# added lines stay around three to five, the order is paid in full and not,
# over and over
scope=1022
mk O22 1022 submitted approved
pay PB 1022 2026-11-16 4750
mq -c "$(alloc_sql PB O22 4750)"
cat >"$TMP/lines.sql" <<'SQL'
\set coin random(0, 4)
SELECT count(*) AS added FROM rebate.order_line
 WHERE order_id = (SELECT id FROM rebate.sales_order WHERE code = 'O22') AND line_no >= 100 \gset
\if :added + :coin > 5
DELETE FROM rebate.order_line
 WHERE id = (SELECT l.id FROM rebate.order_line l
              WHERE l.order_id = (SELECT id FROM rebate.sales_order WHERE code = 'O22') AND l.line_no >= 100
              ORDER BY l.line_no DESC LIMIT 1 FOR UPDATE SKIP LOCKED);
\else
INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price)
SELECT o.id, nextval('public.races_line_no'), 2001, 1, 950 FROM rebate.sales_order o WHERE o.code = 'O22';
\endif
SQL
bench "$TMP/lines.sql"
problems=$bench_problems$(verify_problem "after the run")$(paid_day_problem)
report "2b: lines added to (and taken out of) an approved order with an allocation, 4 clients, committed: no deadlock" \
    "$problems" \
    "$bench_info; O22 has $(mq -c "SELECT count(*) FROM rebate.order_line WHERE order_id = $(order_id O22)") lines, paid $(mq -c "SELECT coalesce(paid_on::text, 'not in full') FROM rebate.order_paid WHERE order_id = $(order_id O22)"); verify_rollups: no row for partners $scope"

# 2c: under REPEATABLE READ, each client adds lines of one of three products
# to the approved order O23, or takes its own last line out again: its
# snapshot is taken before it waits for the order, so the lines the others
# committed meanwhile are not in it, and the distinct-order counts (an order
# per product, and the order as a whole) must still move only where a
# product gains its first line or loses its last
scope=1023
mk O23 1023 submitted approved
cat >"$TMP/lines_rr.sql" <<'SQL'
\set coin random(0, 4)
\set product random(2001, 2003)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) AS own FROM rebate.order_line
 WHERE order_id = (SELECT id FROM rebate.sales_order WHERE code = 'O23') AND line_no / 100000 = :client_id + 1 \gset
\if :own + :coin > 3
DELETE FROM rebate.order_line
 WHERE id = (SELECT l.id FROM rebate.order_line l
              WHERE l.order_id = (SELECT id FROM rebate.sales_order WHERE code = 'O23')
                AND l.line_no / 100000 = :client_id + 1
              ORDER BY l.line_no DESC LIMIT 1);
\else
INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price)
SELECT o.id, (:client_id + 1) * 100000 + nextval('public.races_line_no'), :product, 1, 950
  FROM rebate.sales_order o WHERE o.code = 'O23';
\endif
END;
SQL
bench "$TMP/lines_rr.sql"
problems=$bench_problems$(verify_problem "after the run")
# the run wrote: lines of O23 went in and out (the sequence moved), and some are there now
[ "$(q -c "SELECT count(*) > 0 AND (SELECT last_value > 100 FROM public.races_line_no) FROM rebate.order_line
             WHERE order_id = $(order_id O23)")" = t ] || problems+="no line of O23 was written; "
report "2c: lines of three products added to (and taken out of) an approved order under REPEATABLE READ, 4 clients: the distinct-order counts right" \
    "$problems" \
    "$bench_info; O23 has $(mq -c "SELECT count(*) || ' lines of ' || count(DISTINCT product_id) || ' products' FROM rebate.order_line WHERE order_id = $(order_id O23)"); verify_rollups: no row for partners $scope"

# ---- 3: an order held for credit in the middle of a statement on its lines ----------------
o31_status() { mq -c "SELECT status FROM rebate.sales_order WHERE code = 'O31'"; }
check_status() {	# check_status WANT WHEN: a problem text if O31 is not in status WANT
    local got
    got=$(o31_status)
    [ "$got" = "$1" ] || printf 'O31 %s: expected %s, got %s; ' "$2" "$1" "$got"
}
# the open credit violations of O31: the line_no of their lines
open_violations() {
    mq -c "SELECT string_agg(l.line_no::text, ',' ORDER BY l.line_no) FROM rebate.policy_violation v
             JOIN rebate.order_line l ON l.id = v.source_id
            WHERE v.order_id = $(order_id O31) AND v.kind = 'credit_limit' AND v.status = 'open'"
}
# Approves O31 again: the limit raised, set_order_status(O31, 'approved') (an
# open violation holds the order again: docs/policy.md), then the open
# violations approved, which releases it; the rollups checked after each.
reapprove() {	# reapprove WHEN: problems; what set_order_status gave goes to $TMP/reapproved_via
    local via
    mq -c "UPDATE rebate.partner SET credit_limit = 1000000000 WHERE id = 1031" >/dev/null
    via=$(mq -c "SELECT status FROM rebate.set_order_status($(order_id O31), 'approved')")
    verify_problem "$1, after set_order_status(O31, 'approved') ($via)"
    mq -c "SELECT count(rebate.resolve_violation(id, 'approve', 'limit raised')) FROM rebate.policy_violation
            WHERE order_id = $(order_id O31) AND status = 'open'" >/dev/null
    check_status approved "$1, after its violation was approved"
    verify_problem "$1, approved again"
    echo "set_order_status gave $via" >"$TMP/reapproved_via"
}

# 3a: O31 approved and empty; one INSERT of three lines of 1900: the third takes
# the partner (limit 5000, nothing else open) over its limit
scope=1031
mq -c "INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id, order_date, status)
       VALUES ('O31', 1031, 201, '2026-11-03', 'approved')"
problems=""
mq -c "INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price)
       SELECT $(order_id O31), n, 2001, 2, 950 FROM generate_series(1, 3) n" >/dev/null 2>"$TMP/3a.err" \
    || problems+="the INSERT failed: $(tr '\n' ' ' <"$TMP/3a.err"); "
problems+=$(check_status on_hold "after the INSERT")
held_on=$(open_violations)
[ "$held_on" = 3 ] || problems+="expected an open credit violation on line 3, got '${held_on}'; "
held_cell=$(cell 1031 false order month 2026-11-01 order)
[ "$held_cell" = none ] || problems+="held: expected nothing of O31 in the rollups, got $held_cell; "
problems+=$(verify_problem "held")
problems+=$(reapprove "after the INSERT")
approved_cell=$(cell 1031 false order month 2026-11-01 order)
[ "$approved_cell" = 5700.00/3 ] || problems+="approved: expected 5700.00/3 of O31 in the rollups, got $approved_cell; "
report "3a: an INSERT of three lines into an approved order, held for credit at the third line (review)" "$problems" \
    "held on line ${held_on:-?}; raised limit, $(cat "$TMP/reapproved_via" 2>/dev/null), violation approved: approved, $approved_cell; verify_rollups: no row for partners $scope at each step"

# 3b: O31 paid in full (5700 on 2026-11-10), the limit lowered to 1000: one
# UPDATE adds a unit to each line (950 each); the first line updated stays
# within the limit, the second does not
problems=""
pay P31 1031 2026-11-10 5700
mq -c "$(alloc_sql P31 O31 5700)"
mq -c "UPDATE rebate.partner SET credit_limit = 1000 WHERE id = 1031"
paid_before=$(mq -c "SELECT paid_on FROM rebate.order_paid WHERE order_id = $(order_id O31)")
[ "$paid_before" = 2026-11-10 ] || problems+="O31 not paid in full before the UPDATE ($paid_before); "
mq -c "UPDATE rebate.order_line SET quantity = quantity + 1 WHERE order_id = $(order_id O31)" >/dev/null 2>"$TMP/3b.err" \
    || problems+="the UPDATE failed: $(tr '\n' ' ' <"$TMP/3b.err"); "
problems+=$(check_status on_hold "after the UPDATE")
held_on=$(open_violations)
[ -n "$held_on" ] || problems+="no open credit violation after the UPDATE; "
problems+=$(verify_problem "held")$(paid_day_problem)
problems+=$(reapprove "after the UPDATE")$(paid_day_problem)
approved_cell=$(cell 1031 false order month 2026-11-01 order)
[ "$approved_cell" = 8550.00/3 ] || problems+="approved: expected 8550.00/3 of O31 in the rollups, got $approved_cell; "
report "3b: an UPDATE of the quantities of an approved, paid order's lines, held for credit at a later line (review)" \
    "$problems" \
    "held on line ${held_on:-?}; raised limit, $(cat "$TMP/reapproved_via" 2>/dev/null), violation approved: approved, $approved_cell, paid $(mq -c "SELECT coalesce(paid_on::text, 'not in full') FROM rebate.order_paid WHERE order_id = $(order_id O31)"); verify_rollups: no row for partners $scope at each step"

# ---- 4: a partner moved under another parent while a line of it is being written ----------
# 1041 under D1 (1001) with an approved order of one line; a second approved
# order, empty, gets a line in A while B moves 1041 under D2 (1002)
scope=1041,1001,1002
mk O40 1041 submitted approved
mq -c "INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id, order_date, status)
       VALUES ('O41', 1041, 201, '2026-11-02', 'approved')"
state_4() {
    mq -c "SELECT 'parent ' || parent_id FROM rebate.partner WHERE id = 1041"
    echo "D1's sub-partners: $(cell 1001 true order month 2026-11-01 order), D2's: $(cell 1002 true order month 2026-11-01 order)"
}
race 4 "4: a partner moved under another parent while a line of its approved order is uncommitted: the move waits" \
    "INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price) SELECT $(order_id O41), 1, 2001, 2, 950" \
    "UPDATE rebate.partner SET parent_id = 1002 WHERE id = 1041" \
    state_4 "parent 1002; D1's sub-partners: none, D2's: 3800.00/2"

# ---- the whole run -----------------------------------------------------------------------
problems=""
deadlocks_at_end=$(deadlocks)
[ "$deadlocks_at_end" = "$deadlocks_at_start" ] \
    || problems+="the server counted $((deadlocks_at_end - deadlocks_at_start)) deadlocks in $DB; "
logged=$(log_deadlocks "$log_at_start")
[ -z "$logged" ] || problems+="server log: $logged; "
scope=""
problems+=$(verify_problem "at the end")
report "no deadlock in the whole run, and verify_rollups returns no row at the end" "$problems" \
    "pg_stat_database.deadlocks unchanged${server_log:+, none in the server log}"

echo "run time: $((SECONDS - started)) s"
echo "rollup races: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
