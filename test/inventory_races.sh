#!/usr/bin/env bash
# Stock == the sum of the ledger, always: the inventory module under
# concurrent shipments, transfers and sell-outs on the same few items.
#
# One tenant (negative_stock 'reject', the default), the brand's central
# warehouse and five partners (a distributor D and four dealers under it),
# each with one warehouse; three products; every partner shares its stock.
# Partner items start with 15 units, so that stock keeps touching zero
# (out-of-stock alerts raised and cleared) and sell-outs keep being refused.
# A 'stock_transfer' approval flow without steps (every transfer request
# goes to the tenant's managers, step 0), and 400 approved orders, each
# with a planned shipment of its three lines from the central warehouse to
# the partner's.  For --seconds (25) these run at once, all against the
# same 15 partner items and 3 brand items:
#   partner users (a login role bound to each partner, pgbench, 2 clients
#   each, 10 in all): sell-outs (1-8 units) and receipts; selling out all
#   that is left of an item in a transaction that goes on working for 20 ms
#   while it holds the item; a sell-out report
#   of all three products in one INSERT; transfer requests to another
#   partner (rebate.request_transfer); shipping their approved transfers
#   (rebate.ship_transfer) and receiving those sent to them
#   (rebate.receive_transfer); reading v_stock, stock_levels and
#   partner_stock;
#   the brand's manager (a bound login role, pgbench, 4 clients): deciding
#   the transfer requests (rebate.decide_approval: 90% approve, 10%
#   reject), shipping planned shipments (rebate.ship_shipment) and
#   delivering those in transit (rebate.deliver_shipment); reading
#   v_stock_by_region, stock_levels, v_stock_alerts and v_stock_transfers;
#   a reader (the manager, 1 client): the views again;
#   a checker (the superuser, 1 client): in one REPEATABLE READ snapshot,
#   rebate.verify_stock finds no item whose balance differs from its
#   ledger, and no open out_of_stock alert has stock on hand;
#   a doomed writer (a partner user, psql, one transaction after the other):
#   a receipt, then a sell-out far beyond the stock in the same transaction:
#   refused (RB100), the whole transaction rolled back.
# Refusals that the race makes expected (RB100 for want of stock, RB104 for
# a transfer another client shipped or received first, RB103 for a shipment
# another client moved first, RB070 for a task already decided) are caught
# in PL/pgSQL (each in its own subtransaction: the refused statement is
# rolled back, balance upserts included) and counted; any other error aborts
# a pgbench client and fails the test.
#
# At the end:
#   - every client ran: no pgbench client aborted, no failed transaction, no
#     deadlock failure; the doomed writer's every transaction failed with RB100;
#   - rebate.verify_stock(tenant) returns no row, and for every item the
#     balance's quantity and movement count equal the ledger's sum and count;
#   - no movement of a doomed transaction is in the ledger;
#   - the documents agree with the ledger: every shipped shipment and
#     transfer has its outgoing movements, every delivered or received one
#     its incoming movements, and the others have none;
#   - an open out_of_stock alert only where the balance is <= 0, and every
#     item at <= 0 has one; the checker never saw a difference in a snapshot;
#   - no deadlock: pg_stat_database.deadlocks unchanged, and none in the
#     server log (a throwaway server's);
#   - the run did what it is for: sell-outs done and refused, transfers
#     received, shipments delivered, alerts raised and cleared.
#
#   test/inventory_races.sh [--seconds T]
#
# Database rebate_inv_races and roles inv_races_*_<pid> are created and
# dropped.  Uses the server the libpq variables name (with rebate
# installed), or a throwaway one (scripts/common.sh).  About 45 s in all.

# shellcheck source=../scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

seconds=25
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) seconds=${2:-}; shift ;;
        -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "not a positive whole number: $seconds" >&2; exit 2; }

DB=rebate_inv_races
MGR=inv_races_mgr_$$
PARTNERS=(41 42 43 44 45)
user_of() { echo "inv_races_p$1_$$"; }
SHIPMENTS=400

provide_server
TMP=$(mktemp -d /tmp/rebate-inv-races.XXXXXX)
chmod 755 "$TMP"
bg_pids=()
cleanup() {
    local pid p
    for pid in "${bg_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    for p in "${PARTNERS[@]}"; do psql_quiet -d postgres -c "DROP ROLE IF EXISTS $(user_of "$p")" >/dev/null 2>&1 || true; done
    psql_quiet -d postgres -c "DROP ROLE IF EXISTS $MGR" >/dev/null 2>&1 || true
    rm -rf "$TMP"
    stop_throwaway_cluster
}
trap cleanup EXIT

started=$SECONDS
q() { psql_quiet -d "$DB" -At "$@"; }
as_role() { local role=$1; shift; PGOPTIONS="${PGOPTIONS:-} -c role=$role" psql_quiet -d "$DB" -At "$@"; }

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
deadlocks() {
    # a backend's counters reach the statistics when it ends: wait for the others to end first
    local i
    for i in $(seq 1 100); do
        [ "$(psql_quiet -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND pid <> pg_backend_pid()")" = 0 ] && break
        sleep 0.05
    done
    psql_quiet -d postgres -At -c "SELECT coalesce((SELECT deadlocks FROM pg_stat_database WHERE datname = '$DB'), 0)"
}
server_log=${THROWAWAY_DIR:+$THROWAWAY_DIR/server.log}
log_offset() { if [ -n "$server_log" ] && [ -r "$server_log" ]; then stat -c %s "$server_log"; else echo 0; fi; }

say "inventory races: database $DB, $seconds s of 17 concurrent clients"
fresh_database $DB
for r in "$MGR" $(for p in "${PARTNERS[@]}"; do user_of "$p"; done); do
    psql_quiet -d postgres -c "DROP ROLE IF EXISTS $r" -c "CREATE ROLE $r LOGIN"
done

# ---------------------------------------------------------------------------
q -v mgr="$MGR" -v suffix="$$" -v shipments=$SHIPMENTS >/dev/null <<'SQL'
SELECT setseed(0.5);
INSERT INTO rebate.tenant (id, code, name) VALUES (1, 'INVR', '库存竞态');
INSERT INTO rebate.enforcement_setting (tenant_id, territory, product_region, credit, certification)
VALUES (1, 'allow', 'allow', 'allow', 'allow')
    ON CONFLICT (tenant_id) DO UPDATE SET territory = 'allow', product_region = 'allow', credit = 'allow', certification = 'allow';
INSERT INTO rebate.inventory_setting (tenant_id, negative_stock) VALUES (1, 'reject');
INSERT INTO rebate.region (id, tenant_id, code, name, level) VALUES (10, 1, 'CN', '中国', 'country');
INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id) VALUES (11, 1, 'E', '华东', 'area', 10);
INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id) VALUES (12, 1, 'SH', '上海', 'city', 11);
INSERT INTO rebate.product_category (id, tenant_id, code, name) VALUES (20, 1, 'ALL', '全部');
INSERT INTO rebate.product (id, tenant_id, sku, name, category_id, list_price)
VALUES (31, 1, 'P31', '冰箱', 20, 100), (32, 1, 'P32', '洗衣机', 20, 200), (33, 1, 'P33', '空调', 20, 300);
INSERT INTO rebate.partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit)
VALUES (41, 1, 'D', '华东总代', 'distributor', 12, 'active', 1000000000);
INSERT INTO rebate.partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit, parent_id)
SELECT id, 1, 'S' || id, '上海二代' || id, 'dealer', 12, 'active', 1000000000, 41 FROM generate_series(42, 45) id;
INSERT INTO rebate.warehouse (id, tenant_id, code, name, kind, partner_id, region_id)
VALUES (1, 1, 'CENTRAL', '中央仓', 'central', NULL, 12);
INSERT INTO rebate.warehouse (id, tenant_id, code, name, kind, partner_id, region_id)
SELECT 100 + id, 1, 'W' || id, '仓' || id, 'partner', id, 12 FROM generate_series(41, 45) id;
INSERT INTO rebate.stock_sharing (tenant_id, partner_id, granted_by) SELECT 1, id, 'races' FROM generate_series(41, 45) id;
SELECT rebate.grant_access(:'mgr', 1);
SELECT rebate.grant_access(('inv_races_p' || id || '_' || :'suffix')::regrole, 1, id) FROM generate_series(41, 45) id;
INSERT INTO rebate.approval_flow (tenant_id, request_type, name) VALUES (1, 'stock_transfer', '调拨审批');
-- the opening stock: plenty at the brand, 15 of each product at each partner
INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, partner_id, product_id, kind, quantity, reference)
SELECT 1, w.id, w.partner_id, p.id, 'receipt', CASE WHEN w.partner_id IS NULL THEN 1000000 ELSE 15 END, 'opening'
  FROM rebate.warehouse w CROSS JOIN rebate.product p ORDER BY w.id, p.id;
-- approved orders, each with a planned shipment of its three lines
INSERT INTO rebate.sales_order (id, tenant_id, code, partner_id, ship_to_region_id, status)
SELECT 1000 + n, 1, 'O' || n, 41 + n % 5, 12, 'approved' FROM generate_series(1, :shipments) n;
INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price)
SELECT 1, 1000 + n, 41 + n % 5, p - 30, p, 1 + floor(random() * 4), 100 FROM generate_series(1, :shipments) n, generate_series(31, 33) p;
INSERT INTO rebate.shipment (id, tenant_id, code, order_id, partner_id, from_warehouse_id, to_warehouse_id)
SELECT 1000 + n, 1, 'S' || n, 1000 + n, 41 + n % 5, 1, 100 + 41 + n % 5 FROM generate_series(1, :shipments) n;
INSERT INTO rebate.shipment_line (tenant_id, shipment_id, partner_id, order_line_id, quantity)
SELECT 1, o.order_id, o.partner_id, o.id, o.quantity FROM rebate.order_line o WHERE o.tenant_id = 1;

-- The clients' operations, run with the caller's rights.  Each catches the
-- refusals the race makes expected (its statement rolled back in a
-- subtransaction) and counts every outcome in races.outcome.
CREATE SCHEMA races;
CREATE TABLE races.outcome (op text NOT NULL, result text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE races.warehouse AS SELECT id AS warehouse_id, partner_id FROM rebate.warehouse;
GRANT USAGE ON SCHEMA races TO PUBLIC;
GRANT SELECT, INSERT ON races.outcome TO PUBLIC;
GRANT SELECT ON races.warehouse TO PUBLIC;
CREATE FUNCTION races.done(op text, result text) RETURNS void LANGUAGE sql AS
    $$ INSERT INTO races.outcome (op, result) VALUES (op, result) $$;
CREATE FUNCTION races.my_warehouse() RETURNS bigint LANGUAGE sql STABLE AS
    $$ SELECT warehouse_id FROM races.warehouse WHERE partner_id = rebate.current_partner_id() $$;

-- one movement of the caller's own warehouse (a sell-out is refused below zero)
CREATE FUNCTION races.move(kind text, product bigint, qty numeric) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        INSERT INTO rebate.stock_movement (warehouse_id, product_id, kind, quantity, source, reference)
        VALUES (races.my_warehouse(), product, kind, CASE WHEN kind = 'receipt' THEN qty ELSE -qty END, 'report', 'race');
        PERFORM races.done(kind, 'ok');
    EXCEPTION WHEN SQLSTATE 'RB100' THEN
        PERFORM races.done(kind, 'RB100');
    END;
END $$;
-- a sell-out of all that is left of an item (as the caller reads it)
CREATE FUNCTION races.sell_all(product bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    left_over numeric := rebate.stock_on_hand(races.my_warehouse(), product);
BEGIN
    IF left_over > 0 THEN
        PERFORM races.move('sell_out', product, left_over);
    END IF;
END $$;
-- a sell-out report of all three products in one statement: all of it, or nothing
CREATE FUNCTION races.report(qty numeric) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        INSERT INTO rebate.stock_movement (warehouse_id, product_id, kind, quantity, source, reference)
        SELECT races.my_warehouse(), p, 'sell_out', -(qty + p - 31), 'report', 'race report'
          FROM generate_series(33, 31, -1) p;
        PERFORM races.done('report', 'ok');
    EXCEPTION WHEN SQLSTATE 'RB100' THEN
        PERFORM races.done('report', 'RB100');
    END;
END $$;
CREATE FUNCTION races.request(to_partner bigint, product bigint, qty numeric, two_lines boolean) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    IF to_partner = rebate.current_partner_id() THEN
        to_partner := 41 + (to_partner - 40) % 5;
    END IF;
    BEGIN
        PERFORM rebate.request_transfer(races.my_warehouse(), (SELECT warehouse_id FROM races.warehouse WHERE partner_id = to_partner),
                                        CASE WHEN two_lines
                                             THEN jsonb_build_array(jsonb_build_object('product_id', 31 + (product - 30) % 3, 'quantity', 1),
                                                                    jsonb_build_object('product_id', product, 'quantity', qty))
                                             ELSE jsonb_build_array(jsonb_build_object('product_id', product, 'quantity', qty)) END,
                                        'races');
        PERFORM races.done('request_transfer', 'ok');
    EXCEPTION WHEN SQLSTATE 'RB100' THEN
        PERFORM races.done('request_transfer', 'RB100');
    END;
END $$;
CREATE FUNCTION races.ship_transfer() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t bigint := (SELECT id FROM rebate.stock_transfer WHERE from_partner_id = rebate.current_partner_id() AND status = 'approved'
                  ORDER BY random() LIMIT 1);
BEGIN
    IF t IS NULL THEN
        PERFORM races.done('ship_transfer', 'none');
        RETURN;
    END IF;
    BEGIN
        PERFORM rebate.ship_transfer(t);
        PERFORM races.done('ship_transfer', 'ok');
    EXCEPTION WHEN SQLSTATE 'RB100' OR SQLSTATE 'RB104' THEN
        PERFORM races.done('ship_transfer', SQLSTATE);
    END;
END $$;
CREATE FUNCTION races.receive_transfer() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t bigint := (SELECT id FROM rebate.stock_transfer WHERE to_partner_id = rebate.current_partner_id() AND status = 'shipped'
                  ORDER BY random() LIMIT 1);
BEGIN
    IF t IS NULL THEN
        PERFORM races.done('receive_transfer', 'none');
        RETURN;
    END IF;
    BEGIN
        PERFORM rebate.receive_transfer(t);
        PERFORM races.done('receive_transfer', 'ok');
    EXCEPTION WHEN SQLSTATE 'RB104' THEN
        PERFORM races.done('receive_transfer', SQLSTATE);
    END;
END $$;
CREATE FUNCTION races.decide(approve boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t bigint := (SELECT id FROM rebate.approval_task WHERE status = 'waiting' ORDER BY random() LIMIT 1);
BEGIN
    IF t IS NULL THEN
        PERFORM races.done('decide', 'none');
        RETURN;
    END IF;
    BEGIN
        PERFORM rebate.decide_approval(t, CASE WHEN approve THEN 'approve' ELSE 'reject' END);
        PERFORM races.done('decide', CASE WHEN approve THEN 'approved' ELSE 'rejected' END);
    EXCEPTION WHEN SQLSTATE 'RB070' THEN
        PERFORM races.done('decide', SQLSTATE);
    END;
END $$;
CREATE FUNCTION races.ship_shipment() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s bigint := (SELECT id FROM rebate.shipment WHERE status = 'planned' ORDER BY random() LIMIT 1);
BEGIN
    IF s IS NULL THEN
        PERFORM races.done('ship_shipment', 'none');
        RETURN;
    END IF;
    BEGIN
        PERFORM rebate.ship_shipment(s);
        PERFORM races.done('ship_shipment', 'ok');
    EXCEPTION WHEN SQLSTATE 'RB103' THEN
        PERFORM races.done('ship_shipment', SQLSTATE);
    END;
END $$;
CREATE FUNCTION races.deliver_shipment() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s bigint := (SELECT id FROM rebate.shipment WHERE status = 'in_transit' ORDER BY random() LIMIT 1);
BEGIN
    IF s IS NULL THEN
        PERFORM races.done('deliver_shipment', 'none');
        RETURN;
    END IF;
    BEGIN
        PERFORM rebate.deliver_shipment(s);
        PERFORM races.done('deliver_shipment', 'ok');
    EXCEPTION WHEN SQLSTATE 'RB103' THEN
        PERFORM races.done('deliver_shipment', SQLSTATE);
    END;
END $$;
CREATE FUNCTION races.read_partner() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM count(*), sum(on_hand) FROM rebate.v_stock;
    PERFORM sum(on_hand) FROM rebate.stock_levels();
    PERFORM rebate.partner_stock(rebate.current_partner_id(), 31), rebate.partner_stock(rebate.current_partner_id(), 32, CURRENT_DATE);
    PERFORM races.done('read', 'ok');
END $$;
CREATE FUNCTION races.read_manager() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM count(*), sum(on_hand) FROM rebate.v_stock_by_region;
    PERFORM sum(on_hand) FROM rebate.stock_levels(region_id => 10);
    PERFORM count(*) FROM rebate.v_stock_alerts;
    PERFORM count(*) FROM rebate.v_stock_transfers;
    PERFORM races.done('read', 'ok');
END $$;
-- in the caller's snapshot (REPEATABLE READ): balances == ledger, alerts consistent
CREATE FUNCTION races.check_snapshot() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM races.done('snapshot', CASE WHEN EXISTS (SELECT 1 FROM rebate.verify_stock(1)) THEN 'verify_stock differs'
                                        WHEN EXISTS (SELECT 1 FROM rebate.stock_alert a JOIN rebate.stock_balance b USING (tenant_id, warehouse_id, product_id)
                                                      WHERE a.status = 'open' AND a.kind = 'out_of_stock' AND b.quantity > 0)
                                        THEN 'open out_of_stock alert with stock'
                                        ELSE 'ok' END);
END $$;
SQL

cat >"$TMP/partner.sql" <<'EOF'
\set op random(1, 100)
\set product random(31, 33)
\set qty random(1, 8)
\set to random(41, 45)
\if :op <= 28
SELECT races.move('sell_out', :product, :qty);
\elif :op <= 34
BEGIN;
SELECT races.sell_all(:product);
SELECT pg_sleep(0.02);
COMMIT;
\elif :op <= 58
SELECT races.move('receipt', :product, :qty);
\elif :op <= 66
SELECT races.report(:qty);
\elif :op <= 76
SELECT races.request(:to, :product, :qty, :op % 2 = 0);
\elif :op <= 86
SELECT races.ship_transfer();
\elif :op <= 95
SELECT races.receive_transfer();
\else
SELECT races.read_partner();
\endif
EOF
cat >"$TMP/manager.sql" <<'EOF'
\set op random(1, 100)
\if :op <= 36
SELECT races.decide(:op > 4);
\elif :op <= 60
SELECT races.ship_shipment();
\elif :op <= 84
SELECT races.deliver_shipment();
\else
SELECT races.read_manager();
\endif
EOF
echo 'SELECT races.read_manager();' >"$TMP/reader.sql"
printf 'BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT races.check_snapshot();\nCOMMIT;\n' >"$TMP/checker.sql"

# ---------------------------------------------------------------------------
set +e
deadlocks_at_start=$(deadlocks)
log_at_start=$(log_offset)
ledger_at_start=$(q -c "SELECT count(*) FROM rebate.stock_movement")
pgbench_run() {	# pgbench_run NAME ROLE CLIENTS SCRIPT
    local name=$1 role=$2 clients=$3 script=$4 opts="${PGOPTIONS:-}"
    [ -n "$role" ] && opts="$opts -c role=$role"
    PGOPTIONS="$opts" "$PG_BIN/pgbench" -n -c "$clients" -j 1 -T "$seconds" --failures-detailed -f "$script" "$DB" \
        >"$TMP/$name.out" 2>&1
    echo $? >"$TMP/$name.rc"
}
names=()
for p in "${PARTNERS[@]}"; do
    pgbench_run "partner$p" "$(user_of "$p")" 2 "$TMP/partner.sql" &
    bg_pids+=("$!"); names+=("partner$p")
done
pgbench_run manager "$MGR" 4 "$TMP/manager.sql" &
bg_pids+=("$!"); names+=(manager)
pgbench_run reader "$MGR" 1 "$TMP/reader.sql" &
bg_pids+=("$!"); names+=(reader)
pgbench_run checker "" 1 "$TMP/checker.sql" &
bg_pids+=("$!"); names+=(checker)
# the doomed writer: a receipt and a sell-out far beyond the stock in one
# transaction, one after the other in one session (no ON_ERROR_STOP: the
# failed transaction's COMMIT rolls it back, and the next one starts)
(
    end=$((SECONDS + seconds)) i=0
    while [ $SECONDS -lt $end ]; do
        i=$((i + 1))
        printf '%s\n' "BEGIN;" \
            "INSERT INTO rebate.stock_movement (warehouse_id, product_id, kind, quantity, source, reference) VALUES (142, 32, 'receipt', 5, 'report', 'doomed $i');" \
            "INSERT INTO rebate.stock_movement (warehouse_id, product_id, kind, quantity, source, reference) VALUES (142, 32, 'sell_out', -1000000, 'report', 'doomed $i');" \
            "COMMIT;"
        echo "$i" >"$TMP/doomed.n"
        sleep 0.02
    done | PGOPTIONS="${PGOPTIONS:-} -c role=$(user_of 42)" "$PG_BIN/psql" -X -q -d "$DB" -v VERBOSITY=verbose >"$TMP/doomed.out" 2>&1
) &
bg_pids+=("$!")
wait
bg_pids=()

# ---------------------------------------------------------------------------
# every client ran
problems="" transactions=0
for n in "${names[@]}"; do
    out=$TMP/$n.out
    processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
    failed_tx=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
    deadlock=$(sed -n 's/^number of deadlock failures: \([0-9]*\).*/\1/p' "$out")
    [ "$(cat "$TMP/$n.rc")" = 0 ] || problems+="$n: pgbench exited with $(cat "$TMP/$n.rc"): $(grep -m3 -i 'error\|abort' "$out" | tr '\n' ' '); "
    [ "${processed:-0}" -gt 0 ] || problems+="$n: no transaction processed; "
    [ "${failed_tx:-?}" = 0 ] || problems+="$n: failed transactions: ${failed_tx:-?}; "
    [ "${deadlock:-?}" = 0 ] || problems+="$n: deadlock failures: ${deadlock:-?}; "
    transactions=$((transactions + ${processed:-0}))
done
doomed_n=$(cat "$TMP/doomed.n" 2>/dev/null || echo 0)
doomed_refused=$(grep -c 'ERROR: *RB100: stock of product 32 in warehouse 142 would fall to' "$TMP/doomed.out")
doomed_other=$(grep 'ERROR' "$TMP/doomed.out" | grep -vc 'RB100\|current transaction is aborted')
[ "$doomed_n" -gt 0 ] && [ "$doomed_refused" = "$doomed_n" ] && [ "$doomed_other" = 0 ] \
    || problems+="doomed writer: $doomed_n transactions, $doomed_refused refused with RB100, $doomed_other other errors ($(grep -m2 ERROR "$TMP/doomed.out" | grep -v RB100 | tr '\n' ' ')); "
report "17 clients for $seconds s: no client aborted, no failed transaction, no deadlock failure; every doomed transaction refused (RB100)" \
    "$problems" "$transactions pgbench transactions, $doomed_n doomed transactions all refused"

# balances == ledger
problems=""
differ=$(q -c "SELECT count(*) FROM rebate.verify_stock(1)")
[ "$differ" = 0 ] || problems+="rebate.verify_stock returns $differ rows: $(q -c "SELECT string_agg(format('warehouse %s product %s balance %s ledger %s', warehouse_id, product_id, balance, ledger), '; ') FROM rebate.verify_stock(1)"); "
bad_items=$(q -c "
    SELECT string_agg(format('%s/%s: balance %s (%s movements), ledger %s (%s)', l.warehouse_id, l.product_id,
                             b.quantity, b.movements, l.quantity, l.movements), '; ')
      FROM (SELECT warehouse_id, product_id, sum(quantity) AS quantity, count(*) AS movements
              FROM rebate.stock_movement WHERE tenant_id = 1 GROUP BY 1, 2) l
      FULL JOIN (SELECT * FROM rebate.stock_balance WHERE tenant_id = 1) b USING (warehouse_id, product_id)
     WHERE b.quantity IS DISTINCT FROM l.quantity OR b.movements IS DISTINCT FROM l.movements")
[ -z "$bad_items" ] || problems+="items whose balance is not their ledger's sum and count: $bad_items; "
read -r n_items total_balance total_ledger ledger_rows <<<"$(q -F ' ' -c "
    SELECT (SELECT count(*) FROM rebate.stock_balance WHERE tenant_id = 1),
           (SELECT sum(quantity) FROM rebate.stock_balance WHERE tenant_id = 1),
           (SELECT sum(quantity) FROM rebate.stock_movement WHERE tenant_id = 1),
           (SELECT count(*) FROM rebate.stock_movement WHERE tenant_id = 1)")"
[ "$total_balance" = "$total_ledger" ] || problems+="sum of balances $total_balance, of the ledger $total_ledger; "
doomed_rows=$(q -c "SELECT count(*) FROM rebate.stock_movement WHERE reference LIKE 'doomed%'")
[ "$doomed_rows" = 0 ] || problems+="$doomed_rows movements of doomed transactions are in the ledger; "
report "stock == the sum of the ledger: rebate.verify_stock returns no row; every item's balance is its ledger's sum and count; nothing of the doomed transactions" \
    "$problems" "$n_items items, $((ledger_rows - ledger_at_start)) movements written in the run, total on hand $total_ledger"

# the documents agree with the ledger
problems=$(q -c "
    WITH shipment_moves AS (
        SELECT s.code, s.status,
               coalesce(sum(-m.quantity) FILTER (WHERE m.kind = 'shipment'), 0) AS out_qty,
               coalesce(sum(m.quantity) FILTER (WHERE m.kind = 'delivery'), 0) AS in_qty,
               (SELECT sum(l.quantity) FROM rebate.shipment_line l WHERE l.shipment_id = s.id) AS goods
          FROM rebate.shipment s LEFT JOIN rebate.stock_movement m ON m.source = 'shipment' AND m.source_id = s.id
         GROUP BY s.id, s.code, s.status
    ), transfer_moves AS (
        SELECT t.code, t.status,
               coalesce(sum(-m.quantity) FILTER (WHERE m.kind = 'transfer_out' AND m.warehouse_id = t.from_warehouse_id), 0) AS out_qty,
               coalesce(sum(m.quantity) FILTER (WHERE m.kind = 'transfer_in' AND m.warehouse_id = t.to_warehouse_id), 0) AS in_qty,
               (SELECT sum(l.quantity) FROM rebate.stock_transfer_line l WHERE l.transfer_id = t.id) AS goods
          FROM rebate.stock_transfer t LEFT JOIN rebate.stock_movement m ON m.source = 'transfer' AND m.source_id = t.id
         GROUP BY t.id, t.code, t.status
    )
    SELECT string_agg(format('%s %s: out %s in %s of %s', code, status, out_qty, in_qty, goods), '; ')
      FROM (SELECT * FROM shipment_moves
             WHERE out_qty <> CASE WHEN status IN ('in_transit', 'delivered') THEN goods ELSE 0 END
                OR in_qty <> CASE WHEN status = 'delivered' THEN goods ELSE 0 END
            UNION ALL
            SELECT * FROM transfer_moves
             WHERE out_qty <> CASE WHEN status IN ('shipped', 'received') THEN goods ELSE 0 END
                OR in_qty <> CASE WHEN status = 'received' THEN goods ELSE 0 END) x")
docs=$(q -c "SELECT (SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM (SELECT status, count(*) AS n FROM rebate.shipment GROUP BY 1) s)
                    || '; transfers ' || (SELECT coalesce(string_agg(status || ' ' || n, ', ' ORDER BY status), 'none') FROM (SELECT status, count(*) AS n FROM rebate.stock_transfer GROUP BY 1) t)")
report "the documents agree with the ledger: shipments and transfers have exactly the movements of their status" \
    "${problems:+documents whose movements do not match their status: $problems}" "shipments $docs"

# alerts
problems=""
open_with_stock=$(q -c "SELECT string_agg(format('alert %s: warehouse %s product %s, on hand %s (raised at %s)', a.id, a.warehouse_id, a.product_id, coalesce(b.quantity, 0), a.quantity), '; ')
                          FROM rebate.stock_alert a LEFT JOIN rebate.stock_balance b USING (tenant_id, warehouse_id, product_id)
                         WHERE a.status = 'open' AND a.kind = 'out_of_stock' AND coalesce(b.quantity, 0) > 0")
[ -z "$open_with_stock" ] || problems+="open out_of_stock alerts on items with stock: $open_with_stock; "
empty_without=$(q -c "SELECT string_agg(format('warehouse %s product %s: on hand %s', b.warehouse_id, b.product_id, b.quantity), '; ')
                        FROM rebate.stock_balance b
                       WHERE b.quantity <= 0 AND NOT EXISTS (SELECT 1 FROM rebate.stock_alert a
                                                              WHERE a.tenant_id = b.tenant_id AND a.warehouse_id = b.warehouse_id
                                                                AND a.product_id = b.product_id AND a.kind = 'out_of_stock' AND a.status = 'open')")
[ -z "$empty_without" ] || problems+="items at or below zero without an open out_of_stock alert: $empty_without; "
seen=$(q -c "SELECT coalesce(string_agg(result || ' ' || n, ', '), 'none') FROM (SELECT result, count(*) AS n FROM races.outcome WHERE op = 'snapshot' AND result <> 'ok' GROUP BY 1) x")
[ "$seen" = none ] || problems+="the checker saw in its snapshots: $seen; "
alerts=$(q -c "SELECT count(*) FILTER (WHERE status = 'open') || ' open, ' || count(*) FILTER (WHERE status = 'cleared') || ' cleared'
                 FROM rebate.stock_alert WHERE kind = 'out_of_stock'")
snapshots=$(q -c "SELECT count(*) FROM races.outcome WHERE op = 'snapshot'")
report "stock alerts consistent: an open out_of_stock alert only where the balance is <= 0, and one wherever it is; in every checked snapshot too" \
    "$problems" "out_of_stock alerts: $alerts; $snapshots snapshots checked, balances == ledger in each"

# no deadlock
problems=""
deadlocks_at_end=$(deadlocks)
[ "$deadlocks_at_end" = "$deadlocks_at_start" ] || problems+="the server counted $((deadlocks_at_end - deadlocks_at_start)) deadlocks in $DB; "
if [ -n "$server_log" ] && [ -r "$server_log" ]; then
    logged=$(tail -c +"$((log_at_start + 1))" "$server_log" | grep -c 'deadlock detected')
    [ "$logged" = 0 ] || problems+="the server log shows $logged 'deadlock detected': $(tail -c +"$((log_at_start + 1))" "$server_log" | grep -A3 -m2 'deadlock detected' | tr '\n' ' '); "
fi
report "no deadlock" "$problems" "pg_stat_database.deadlocks unchanged${server_log:+, no 'deadlock detected' in the server log}"

# the run did what it is for
counts=$(q -c "SELECT string_agg(op || ' ' || result || ' ' || n, ', ' ORDER BY op, result)
                 FROM (SELECT op, result, count(*) AS n FROM races.outcome WHERE op <> 'snapshot' GROUP BY 1, 2) x")
problems=""
for want in "sell_out ok" "sell_out RB100" "receipt ok" "report ok" "request_transfer ok" "decide approved" \
            "ship_transfer ok" "receive_transfer ok" "ship_shipment ok" "deliver_shipment ok"; do
    n=$(q -c "SELECT count(*) FROM races.outcome WHERE op || ' ' || result = '$want'")
    [ "$n" -gt 0 ] || problems+="no '$want'; "
done
cleared=$(q -c "SELECT count(*) FROM rebate.stock_alert WHERE kind = 'out_of_stock' AND status = 'cleared'")
[ "$cleared" -gt 0 ] || problems+="no out_of_stock alert was raised and cleared; "
expected_failures=$(q -c "SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM races.outcome WHERE result LIKE 'RB%') x")
report "the run exercised every path: sell-outs done and refused, transfers requested, approved, shipped and received, shipments shipped and delivered, alerts raised and cleared" \
    "$problems" "$counts"

echo "summary: $transactions pgbench transactions and $doomed_n doomed ones in $seconds s; $((expected_failures + doomed_n)) expected failures (refusals caught: $expected_failures, doomed transactions: $doomed_n); deadlocks $((deadlocks_at_end - deadlocks_at_start))"
echo "run time: $((SECONDS - started)) s"
echo "inventory races: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
