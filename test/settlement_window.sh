#!/usr/bin/env bash
# Which settled periods a close rechecks, across real transactions (the pgTAP
# files run in one transaction, where every change is "since the last close"):
# on the sample channel, close July and August; a close with nothing changed
# rechecks nothing, a new order in September rechecks only the periods it can
# reach, a late payment into July rechecks July and writes adjustment lines,
# and verify_period agrees throughout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
provide_server

db=rebate_window
psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql_quiet -d postgres -c "DROP DATABASE IF EXISTS '"$db"'" >/dev/null 2>&1 || true' EXIT
q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$db" -c "$1"; }

q "CREATE EXTENSION rebate CASCADE" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$REPO/sample/sample_data.sql" >/dev/null
q "SELECT rebate_sample.generate(lines => 3000)" >/dev/null
q "SELECT count(*) FROM rebate_sample.programs()" >/dev/null
t=$(q "SELECT id FROM rebate.tenant WHERE code = 'HUAGUANG'")

failed=0
check() {	# check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        echo "ok - $1"
    else
        echo "not ok - $1: expected $2, got $3"
        failed=1
    fi
}
close() {	# close PERIOD -> rechecked count
    q "SELECT rechecked FROM rebate.close_period($t, '$1')"
}
issue() { q "SELECT rebate.issue_statements($t, '$1')" >/dev/null; }
verify() { q "SELECT count(*) FROM rebate.verify_period($t, '$1')"; }

close '[2026-07-01,2026-08-01)' >/dev/null; issue '[2026-07-01,2026-08-01)'
close '[2026-08-01,2026-09-01)' >/dev/null; issue '[2026-08-01,2026-09-01)'
check "nothing changed since August closed" "" "$(q "SELECT rebate.changed_since($t, (SELECT max(closed_xmin) FROM rebate.statement WHERE tenant_id = $t))")"
check "September, nothing changed: no settled period is rechecked" 0 "$(close '[2026-09-01,2026-10-01)')"

# a new September order: it can count in September (being closed) and the third quarter (interim, being
# closed too), not in July or August
q "INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date, status)
   SELECT tenant_id, 'WIN-1', id, home_region_id, '2026-09-20', 'approved' FROM rebate.partner
    WHERE tenant_id = $t AND code = 'HUAGUANG-P00001'" >/dev/null
q "INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
   SELECT o.tenant_id, o.id, 1, p.id, 12, p.list_price * 0.92 FROM rebate.sales_order o, rebate.product p
    WHERE o.code = 'WIN-1' AND p.tenant_id = o.tenant_id AND p.sku = 'HU-C1-02'" >/dev/null
check "a September order changes nothing settled: none rechecked" 0 "$(close '[2026-09-01,2026-10-01)')"
check "September verifies" 0 "$(verify '[2026-09-01,2026-10-01)')"

# a late payment into July: July's and August's monthly programs are rechecked (the quarter is closed finally anyway)
q "INSERT INTO rebate.payment (tenant_id, code, partner_id, received_on, amount)
   SELECT tenant_id, 'WIN-PAY', id, '2026-07-20', 250000 FROM rebate.partner WHERE tenant_id = $t AND code = 'HUAGUANG-P00001'" >/dev/null
rechecked=$(close '[2026-09-01,2026-10-01)')
check "a payment into July rechecks July's and August's settled program periods (2 monthly programs)" 4 "$rechecked"
check "and writes adjustment lines for July" yes \
      "$(q "SELECT CASE WHEN count(*) > 0 THEN 'yes' ELSE 'no' END FROM rebate.statement_line l JOIN rebate.statement s ON s.id = l.statement_id
             WHERE s.tenant_id = $t AND s.period = '[2026-09-01,2026-10-01)' AND l.line_kind = 'adjustment'
               AND l.program_period = '[2026-07-01,2026-08-01)'")"
check "September verifies, adjustments included" 0 "$(verify '[2026-09-01,2026-10-01)')"
issue '[2026-09-01,2026-10-01)'
check "issued: nothing changed since" "" "$(q "SELECT rebate.changed_since($t, (SELECT max(closed_xmin) FROM rebate.statement WHERE tenant_id = $t AND status <> 'draft'))")"

[ $failed -eq 0 ] && echo "settlement window: passed" || { echo "settlement window: FAILED"; exit 1; }
