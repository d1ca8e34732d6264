#!/usr/bin/env bash
# Crash test: the rollups (rebate.sales_rollup, kept by the C statement
# triggers in the writing transaction) must come through a crash of the
# server exactly: after crash recovery they equal an independent
# recomputation from the documents (rebate.verify_rollups), a closed quarter
# verifies (rebate.verify_period), and every commit the clients saw
# acknowledged is there.
#
#   test/crash.sh [--clients C] [--threads J] [--crash-after S] [--seconds T] [--crashes N] [--keep]
#
# Defaults: 8 clients, 2 threads, the crash 8 s into each load (pgbench runs
# with -T 30, cut short by the crash), 2 crashes (about 45 s in all on 2
# idle cores; longer on busy ones).
#
# Needs a cluster of its own (never the suite's server, nor the one the libpq
# variables name): initdb into a temporary directory, a free port in
# 5490-5498 on 127.0.0.1, fsync on (the default) and synchronous commit, so
# that recovery is real.  As root, initdb and the server run as the postgres
# OS user.  On exit the cluster is stopped, by its data directory, and
# removed (--keep keeps the directory, stopped).
#
# Data: the sample channel (sample/sample_data.sql, rebate_sample.generate
# with 50 partners and 6000 lines a brand, audited: every trigger on, and
# rebate_sample.programs), two tenants.  The tenants' policy stays as
# shipped (credit review: an order over a partner's credit limit is held).
#
# Each round: pgbench clients (as the superuser: every trigger still runs)
# write both tenants with the scripts (weights): order 5 (an order with 1-3
# lines, either placed approved and its lines added, or a draft submitted
# and approved), return 2 (a return, or one time in five a credit note, of
# a line of a counted order, approved), status 3 (an order one step along:
# submitted or on_hold -> approved, approved -> shipped (5% cancelled) ->
# delivered -> closed), payment 2 (a payment allocated to an order, paying
# it in full or in part; one time in four a paid payment received 3 days
# earlier), draft 1 (a draft placed, and a draft of the partner deleted).
# Order dates run over 2026, so the third quarter is written too.  Beside
# pgbench one client places orders (2 lines, approved) one transaction
# after the other and notes each whose COMMIT was acknowledged.  After
# --crash-after seconds the server is killed with SIGKILL: in the first
# round the postmaster and all its processes at once, in the others the
# postmaster alone (its backends end when they notice).  Then the server is
# started again on the same data directory (crash recovery), and:
#   - the server log shows crash recovery ran;
#   - every acknowledged order is there with its 2 lines, and there are more
#     order lines than before the load;
#   - every btree index of the extension is intact (amcheck, heapallindexed);
#   - rebate.verify_rollups(tenant) returns no row, for each tenant;
#   - rebate.close_period(tenant, 2026 Q3) closes it and
#     rebate.verify_period(tenant, 2026 Q3) returns no row, for each tenant.
# The next round resumes the load on the recovered server.  At the end the
# rollups are compacted (rebate.compact_rollups) and verified once more.
#
# Prints TAP-like "ok - ..." / "not ok - ..." lines and "crash: N passed,
# M failed"; exits 1 on any failure (the differing rows go to stderr).
# shellcheck source=../scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

DB=rebate_crash
PERIOD='[2026-07-01,2026-10-01)'
clients=8 threads=2 crash_after=8 seconds=30 crashes=2 keep=false
while [ $# -gt 0 ]; do
    case $1 in
        --clients) clients=${2:-}; shift ;;
        --threads) threads=${2:-}; shift ;;
        --crash-after) crash_after=${2:-}; shift ;;
        --seconds) seconds=${2:-}; shift ;;
        --crashes) crashes=${2:-}; shift ;;
        --keep) keep=true ;;
        -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
for n in "$clients" "$threads" "$crash_after" "$seconds" "$crashes"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "not a positive whole number: $n" >&2; exit 2; }
done
[ "$threads" -le "$clients" ] || { echo "--threads must not exceed --clients" >&2; exit 2; }
[ "$crash_after" -lt "$seconds" ] || { echo "--crash-after must be less than --seconds" >&2; exit 2; }

started=$SECONDS
DIR=$(mktemp -d /tmp/rebate-crash.XXXXXX)
chmod 755 "$DIR"
if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$DIR"
fi
DATA=$DIR/data
LOG=$DIR/server.log
mkdir "$DIR/work"
bench_pid="" writer_pid=""

# the server of this data directory, if one runs
server_running() { run_as_pg_owner "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }
cleanup() {
    local pid
    for pid in $bench_pid $writer_pid; do
        kill "$pid" 2>/dev/null || true
    done
    if [ -f "$DATA/postmaster.pid" ]; then
        run_as_pg_owner "$PG_BIN/pg_ctl" -D "$DATA" stop -m immediate -w >/dev/null 2>&1 || true
    fi
    if $keep; then
        echo "kept: $DIR (the cluster is stopped; start it with pg_ctl -D $DATA)"
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0 failed=0
check() {	# check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        echo "ok - $1"
        passed=$((passed + 1))
    else
        echo "not ok - $1: expected $2, got $3"
        failed=$((failed + 1))
    fi
}
check_cmd() {	# check_cmd NAME COMMAND...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then
        echo "ok - $name"
        passed=$((passed + 1))
    else
        echo "not ok - $name"
        failed=$((failed + 1))
    fi
}

# ---------------------------------------------------------------------------
# The cluster: our own, fsync on.
port=""
for p in 5490 5491 5492 5493 5494 5495 5496 5497 5498; do
    if port_is_free "$p"; then port=$p; break; fi
done
[ -n "$port" ] || { echo "no free port in 5490-5498" >&2; exit 1; }
run_as_pg_owner "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
SERVER_OPTS="-p $port -k $DIR -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c full_page_writes=on"
start_server() {	# after a crash, the old processes may still hold the shared memory a moment
    local _
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        if run_as_pg_owner "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 120 -o "$SERVER_OPTS" start >/dev/null 2>&1; then
            return 0
        fi
        sleep 2
    done
    tail -n 30 "$LOG" >&2
    return 1
}
start_server || { echo "could not start the server" >&2; exit 1; }
unset PGSERVICE PGOPTIONS
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=$DB
say "crash: own cluster on 127.0.0.1:$port (data in $DATA, fsync on), $clients clients, $threads threads," \
    "$crashes crashes, each $crash_after s into a load"

q() { psql_quiet -At "$@"; }

# ---------------------------------------------------------------------------
# The sample channel and its programs, every trigger on.
psql_quiet -d postgres -c "CREATE DATABASE $DB"
q -c "CREATE EXTENSION rebate CASCADE" -c "CREATE EXTENSION amcheck" >/dev/null
psql_quiet -f "$REPO/sample/sample_data.sql" >/dev/null
q -c "SELECT * FROM rebate_sample.generate(partners => 50, lines => 6000)" >/dev/null
q -c "SELECT * FROM rebate_sample.programs()" >/dev/null
mapfile -t TENANTS < <(q -c "SELECT id FROM rebate.tenant ORDER BY id")
[ "${#TENANTS[@]}" -eq 2 ] || { echo "expected the sample's 2 tenants, got ${#TENANTS[@]}" >&2; exit 1; }
T1=${TENANTS[0]} T2=${TENANTS[1]}
echo "set up in $((SECONDS - started)) s: $(q -c "SELECT count(*) FROM rebate.order_line") order lines," \
     "$(q -c "SELECT count(*) FROM rebate.sales_rollup") rollup rows, tenants $T1 and $T2"
for t in "${TENANTS[@]}"; do
    check "before the load: tenant $t: verify_rollups returns no row" 0 \
          "$(q -c "SELECT count(*) FROM rebate.verify_rollups($t)")"
done

# ---------------------------------------------------------------------------
# The pgbench scripts (as the superuser; tenant :t is one of the two).
W=$DIR/work
cat >"$W/order.sql" <<SQL
\\set t random($T1, $T2)
\\set day random(0, 339)
\\set nlines random(1, 3)
\\set path random(1, 10)
BEGIN;
SELECT p.id AS pid, p.home_region_id AS reg FROM rebate.partner p
 WHERE p.tenant_id = :t AND p.state = 'active' ORDER BY random() LIMIT 1 \\gset
-- half are placed approved and get their lines then; the others walk from draft
\\if :path <= 5
INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date, status)
VALUES (:t, 'CR-' || txid_current(), :pid, :reg, date '2026-01-01' + :day, 'approved') RETURNING id AS oid \\gset
\\else
INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date)
VALUES (:t, 'CR-' || txid_current(), :pid, :reg, date '2026-01-01' + :day) RETURNING id AS oid \\gset
\\endif
INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
SELECT :t, :oid, n, p.id, CASE WHEN p.unit = '台' THEN 1 + floor(random() * 10) ELSE 5 + floor(random() * 50) END,
       round(p.list_price * 0.92, 2)
  FROM generate_series(1, :nlines) AS n
 CROSS JOIN LATERAL (SELECT p.id, p.unit, p.list_price FROM rebate.product p
                      WHERE p.tenant_id = :t AND n > 0 ORDER BY random() LIMIT 1) p;
\\if :path > 5
UPDATE rebate.sales_order SET status = 'submitted' WHERE id = :oid;
\\if :path <= 9
UPDATE rebate.sales_order SET status = 'approved' WHERE id = :oid AND status = 'submitted';
\\endif
\\endif
END;
SQL
cat >"$W/return.sql" <<SQL
\\set t random($T1, $T2)
\\set delay random(0, 25)
\\set credit random(1, 5)
BEGIN;
SELECT coalesce(max(o.id), 0) AS orig FROM (
  SELECT o.id FROM rebate.sales_order o
   WHERE o.tenant_id = :t AND o.kind = 'order' AND o.status IN ('approved', 'shipped', 'delivered', 'closed')
     AND o.partner_id = (SELECT p.id FROM rebate.partner p WHERE p.tenant_id = :t AND p.state = 'active'
                          ORDER BY random() LIMIT 1)
   ORDER BY random() LIMIT 1) o \\gset
\\if :orig > 0
INSERT INTO rebate.sales_order (tenant_id, code, partner_id, kind, original_order_id, ship_to_region_id, order_date)
SELECT o.tenant_id, CASE WHEN :credit = 1 THEN 'CCN-' ELSE 'CRT-' END || txid_current(), o.partner_id,
       CASE WHEN :credit = 1 THEN 'credit_note' ELSE 'return' END, o.id, o.ship_to_region_id,
       least(o.order_date + :delay, date '2026-12-06')
  FROM rebate.sales_order o WHERE o.id = :orig RETURNING id AS rid \\gset
INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
SELECT l.tenant_id, :rid, 1, l.product_id, greatest(1, floor(l.quantity / 3)),
       CASE WHEN :credit = 1 THEN round(l.unit_price / 10, 2) ELSE l.unit_price END
  FROM rebate.order_line l WHERE l.order_id = :orig ORDER BY l.line_no LIMIT 1;
UPDATE rebate.sales_order SET status = 'submitted' WHERE id = :rid;
UPDATE rebate.sales_order SET status = 'approved' WHERE id = :rid AND status = 'submitted';
\\endif
END;
SQL
cat >"$W/status.sql" <<SQL
\\set t random($T1, $T2)
\\set cancel random(1, 20)
UPDATE rebate.sales_order o
   SET status = CASE o.status WHEN 'submitted' THEN 'approved' WHEN 'on_hold' THEN 'approved'
                              WHEN 'approved' THEN CASE WHEN :cancel = 1 THEN 'cancelled' ELSE 'shipped' END
                              WHEN 'shipped' THEN 'delivered' ELSE 'closed' END
 WHERE o.id = (SELECT s.id FROM rebate.sales_order s
                WHERE s.tenant_id = :t AND s.status IN ('submitted', 'on_hold', 'approved', 'shipped', 'delivered')
                  AND s.partner_id = (SELECT p.id FROM rebate.partner p WHERE p.tenant_id = :t AND p.state = 'active'
                                       ORDER BY random() LIMIT 1)
                ORDER BY random() LIMIT 1)
   AND o.status IN ('submitted', 'on_hold', 'approved', 'shipped', 'delivered');
SQL
cat >"$W/payment.sql" <<SQL
\\set t random($T1, $T2)
\\set pct random(40, 130)
\\set move random(1, 4)
BEGIN;
SELECT coalesce(max(o.id), 0) AS oid, coalesce(max(o.partner_id), 0) AS pid, coalesce(max(o.due), 0) AS due FROM (
  SELECT o.id, o.partner_id,
         (SELECT sum(l.amount) FROM rebate.order_line l WHERE l.order_id = o.id)
         - coalesce((SELECT sum(a.amount) FROM rebate.payment_allocation a WHERE a.order_id = o.id), 0) AS due
    FROM rebate.sales_order o
   WHERE o.tenant_id = :t AND o.kind = 'order' AND o.status IN ('approved', 'shipped', 'delivered', 'closed')
     AND o.partner_id = (SELECT p.id FROM rebate.partner p WHERE p.tenant_id = :t AND p.state = 'active'
                          ORDER BY random() LIMIT 1)
   ORDER BY random() LIMIT 1) o \\gset
\\if :oid > 0
INSERT INTO rebate.payment (tenant_id, code, partner_id, received_on, amount)
SELECT :t, 'CPAY-' || txid_current(), :pid, least(o.order_date + 20 + floor(random() * 30)::int, date '2026-12-06'),
       greatest(round(:due * :pct / 100.0, 2), 100)
  FROM rebate.sales_order o WHERE o.id = :oid RETURNING id AS payid, amount AS paid \\gset
\\if :due > 0
INSERT INTO rebate.payment_allocation (tenant_id, payment_id, order_id, partner_id, amount)
VALUES (:t, :payid, :oid, :pid, least(:paid, round(:due, 2)));
\\endif
-- a paid payment's received day moves: the paid day of the orders it pays moves with it
\\if :move = 1
UPDATE rebate.payment y SET received_on = y.received_on - 3
 WHERE y.id = (SELECT a.payment_id FROM rebate.payment_allocation a
                WHERE a.tenant_id = :t AND a.partner_id = :pid ORDER BY random() LIMIT 1);
\\endif
\\endif
END;
SQL
cat >"$W/draft.sql" <<SQL
\\set t random($T1, $T2)
\\set day random(0, 339)
BEGIN;
SELECT p.id AS pid, p.home_region_id AS reg FROM rebate.partner p
 WHERE p.tenant_id = :t AND p.state = 'active' ORDER BY random() LIMIT 1 \\gset
INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date)
VALUES (:t, 'CDR-' || txid_current(), :pid, :reg, date '2026-01-01' + :day) RETURNING id AS oid \\gset
INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
SELECT :t, :oid, 1, p.id, 3, round(p.list_price * 0.92, 2)
  FROM rebate.product p WHERE p.tenant_id = :t ORDER BY random() LIMIT 1;
DELETE FROM rebate.sales_order o
 WHERE o.id = (SELECT d.id FROM rebate.sales_order d
                WHERE d.tenant_id = :t AND d.partner_id = :pid AND d.status = 'draft' ORDER BY random() LIMIT 1)
   AND o.status = 'draft';
END;
SQL
SCRIPTS=(order return status payment draft)
WEIGHTS=(5 2 3 2 1)
bench_args=(-n -c "$clients" -j "$threads" -T "$seconds")
for i in "${!SCRIPTS[@]}"; do
    bench_args+=(-f "$W/${SCRIPTS[$i]}.sql@${WEIGHTS[$i]}")
done

# One order after the other, each in a transaction of its own (2 lines,
# placed approved); the code of each whose COMMIT came back goes to the file.
acknowledged_writer() {	# acknowledged_writer ROUND
    local round=$1 n=0 code t
    while [ ! -e "$W/stop.$round" ]; do
        n=$((n + 1))
        code=ACK-$round-$n
        t=$(( n % 2 == 0 ? T1 : T2 ))
        if "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<SQL; then
BEGIN;
INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date, status)
SELECT p.tenant_id, '$code', p.id, p.home_region_id, date '2026-07-01' + $n % 92, 'approved'
  FROM rebate.partner p WHERE p.tenant_id = $t AND p.state = 'active' ORDER BY p.id OFFSET $n % 40 LIMIT 1;
INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
SELECT o.tenant_id, o.id, l.n, p.id, l.n + 1, round(p.list_price * 0.92, 2)
  FROM rebate.sales_order o CROSS JOIN generate_series(1, 2) AS l (n)
  JOIN LATERAL (SELECT p.id, p.list_price FROM rebate.product p WHERE p.tenant_id = o.tenant_id
                 ORDER BY p.id OFFSET ($n + l.n) % 15 LIMIT 1) p ON true
 WHERE o.tenant_id = $t AND o.code = '$code';
COMMIT;
SQL
            echo "$code" >>"$W/acknowledged"
        else
            sleep 0.05
        fi
    done
}
: >"$W/acknowledged"

# ---------------------------------------------------------------------------
total_acknowledged=0
for round in $(seq 1 "$crashes"); do
    lines_before=$(q -c "SELECT count(*) FROM rebate.order_line")
    if [ "$round" -eq 1 ]; then
        how="the postmaster and all its processes at once"
    else
        how="the postmaster alone"
    fi
    say "round $round: pgbench ${bench_args[*]:0:7} (the crash after $crash_after s: SIGKILL to $how)"
    "$PG_BIN/pgbench" "${bench_args[@]}" "$DB" >"$W/pgbench.$round.out" 2>"$W/pgbench.$round.err" &
    bench_pid=$!
    acknowledged_writer "$round" &
    writer_pid=$!
    sleep "$crash_after"

    # the crash
    postmaster=$(head -n 1 "$DATA/postmaster.pid")
    mapfile -t children < <(pgrep -P "$postmaster" || true)
    log_offset=$(stat -c %s "$LOG")
    crashed_at=$SECONDS
    if [ "$round" -eq 1 ]; then
        kill -9 "$postmaster" "${children[@]}"
    else
        kill -9 "$postmaster"
    fi
    bench_status=0
    wait "$bench_pid" || bench_status=$?
    bench_pid=""
    touch "$W/stop.$round"
    wait "$writer_pid" || true
    writer_pid=""
    # the old processes end (at once, or when they notice the postmaster is gone)
    for i in $(seq 1 300); do
        alive=0
        for pid in "$postmaster" "${children[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then alive=$((alive + 1)); fi
        done
        [ "$alive" -eq 0 ] && break
        sleep 0.2
    done
    check "round $round: every process of the crashed server ended" 0 "$alive"
    if server_running; then
        echo "a server still runs on $DATA after the crash" >&2
        exit 1
    fi

    processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$W/pgbench.$round.out")
    acked=$(grep -c "^ACK-$round-" "$W/acknowledged" || true)
    total_acknowledged=$((total_acknowledged + acked))
    check_cmd "round $round: pgbench wrote before the crash (${processed:-no} transactions; pgbench exit $bench_status)" \
              is_count "${processed:-0}"
    sql_errors=$(grep -c 'ERROR:' "$W/pgbench.$round.err" || true)
    if [ "$sql_errors" -ne 0 ]; then
        grep 'ERROR:' "$W/pgbench.$round.err" | head -n 5 | sed 's/^/  pgbench: /' >&2
    fi
    check "round $round: no SQL error in the load before the crash" 0 "$sql_errors"

    # recovery
    start_server || { echo "the server did not come back after crash $round" >&2; exit 1; }
    back_at=$SECONDS
    recovery_log=$(tail -c +"$((log_offset + 1))" "$LOG")
    redo=$(grep -o 'redo done at [0-9A-F/]*' <<<"$recovery_log" | head -n 1 || true)
    check_cmd "round $round: the server came back through crash recovery (${redo:-no redo})" \
              grep -q 'not properly shut down; automatic recovery in progress' <<<"$recovery_log"
    check_cmd "round $round: recovery replayed the WAL to its end" test -n "$redo"

    # what was acknowledged is there
    missing=$(q 2>&1 <<SQL
CREATE TEMP TABLE acknowledged (code text);
\\copy acknowledged FROM '$W/acknowledged'
SELECT count(*) FROM acknowledged a
 WHERE (SELECT count(*) FROM rebate.sales_order o JOIN rebate.order_line l ON l.order_id = o.id
         WHERE o.code = a.code) <> 2;
SQL
) || true
    check_cmd "round $round: orders were acknowledged during the load ($acked)" is_count "$acked"
    check "round $round: every acknowledged order so far ($total_acknowledged) is there with its 2 lines" 0 "$missing"
    lines_after=$(q -c "SELECT count(*) FROM rebate.order_line")
    check_cmd "round $round: order lines grew through the load and the crash ($lines_before -> $lines_after)" \
              test "$lines_after" -gt "$lines_before"
    echo "# round $round: $processed pgbench transactions and $acked acknowledged orders before the crash;" \
         "order lines $lines_before -> $lines_after"

    # every btree index of the extension against its table (an error if one does not match)
    indexes=$(q 2>&1 <<'SQL'
CREATE TEMP VIEW rebate_btree AS
SELECT c.oid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'rebate' AND a.amname = 'btree' AND c.relpersistence = 'p' AND i.indisvalid;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT oid FROM rebate_btree LOOP
        PERFORM bt_index_check(r.oid, true);
    END LOOP;
END
$$;
SELECT count(*) FROM rebate_btree;
SQL
) || true
    check_cmd "round $round: every btree index of the extension checks out (amcheck, heapallindexed: ${indexes//$'\n'/ } indexes)" \
              is_count "$indexes"

    for t in "${TENANTS[@]}"; do
        diffs=$(q -c "SELECT count(*) FROM rebate.verify_rollups($t)" 2>&1) || true
        if [ "$diffs" != 0 ]; then
            echo "# round $round, tenant $t: keys whose rollups differ from the recomputation (first 20):" >&2
            psql_quiet -c "SELECT * FROM rebate.verify_rollups($t) ORDER BY 1, 2, 3, 4, 5 LIMIT 20" >&2
        fi
        check "round $round: tenant $t: verify_rollups returns no row" 0 "$diffs"
        statements=$(q -c "SELECT coalesce(sum(statements), 0) FROM rebate.close_period($t, '$PERIOD')" 2>&1) || true
        check_cmd "round $round: tenant $t: close_period $PERIOD writes statements ($statements)" is_count "$statements"
        vdiffs=$(q -c "SELECT count(*) FROM rebate.verify_period($t, '$PERIOD')" 2>&1) || true
        if [ "$vdiffs" != 0 ]; then
            echo "# round $round, tenant $t: verify_period $PERIOD (first 20):" >&2
            psql_quiet -c "SELECT * FROM rebate.verify_period($t, '$PERIOD') LIMIT 20" >&2
        fi
        check "round $round: tenant $t: verify_period $PERIOD returns no row" 0 "$vdiffs"
    done
    echo "# round $round: the server back $((back_at - crashed_at)) s after the crash; checks took $((SECONDS - back_at)) s"
done

say "after the last crash: the rollups compacted, and verified again"
q -c "SELECT count(*) FROM rebate.compact_rollups()" >/dev/null
for t in "${TENANTS[@]}"; do
    check "compacted: tenant $t: verify_rollups returns no row" 0 "$(q -c "SELECT count(*) FROM rebate.verify_rollups($t)")"
done

say "summary"
echo "time: $((SECONDS - started)) s"
echo "crash: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
