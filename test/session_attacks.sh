#!/usr/bin/env bash
# Attacks that need a session of their own (the pgTAP attack suite runs in one
# transaction of one backend, where the policy triggers' plans are already
# prepared): a partner user, first in a fresh backend, puts a domain named
# "date" in pg_temp whose check tries to make it a superuser, then places an
# order, so that the policy triggers prepare their plans under its
# search_path and run them as the table's owner.  The plans must resolve every
# name as the extension means it (they are prepared under a pinned path), and
# the role must come out of it as it went in.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
provide_server

db=rebate_session
dealer=rebate_t_sess_dealer_$$
cleanup() {
    psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS $dealer" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" -c "CREATE ROLE $dealer LOGIN"
q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }

q -c "CREATE EXTENSION rebate CASCADE" >/dev/null
q <<SQL >/dev/null
INSERT INTO rebate.tenant (id, code, name) VALUES (1, 'T1', '品牌');
INSERT INTO rebate.region (id, tenant_id, code, name, level) VALUES (11, 1, 'CN', '中国', 'country');
INSERT INTO rebate.partner (id, tenant_id, code, name, home_region_id, state) VALUES (21, 1, 'D1', '经销商', 11, 'active');
INSERT INTO rebate.partner_territory (tenant_id, partner_id, region_id, valid) VALUES (1, 21, 11, '[2000-01-01,)');
SELECT rebate.grant_access('$dealer', 1, 21);
SQL

failed=0
check() {	# check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        echo "ok - $1"
    else
        echo "not ok - $1: expected $2, got $3"
        failed=1
    fi
}

# a fresh backend, as the dealer (its first statements: nothing is prepared yet)
out=$(PGUSER=$dealer psql -X -q -At -d "$db" 2>&1 <<'SQL' || true
SET search_path = pg_temp, pg_catalog;
CREATE FUNCTION pg_temp.escalate(d pg_catalog.date) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    IF current_user <> session_user THEN
        EXECUTE pg_catalog.format('ALTER ROLE %I SUPERUSER', session_user);
        RAISE NOTICE 'ran as %', current_user;
    END IF;
    RETURN true;
END $f$;
CREATE DOMAIN pg_temp.date AS pg_catalog.date CHECK (pg_temp.escalate(VALUE));
CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.escalate(CURRENT_DATE));
INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id) VALUES ('S-1', 21, 11);
UPDATE rebate.sales_order SET status = 'submitted' WHERE code = 'S-1';
SELECT 'placed ' || status FROM rebate.sales_order WHERE code = 'S-1';
SQL
)
echo "$out" | sed 's/^/    /'
check "the dealer's order went through the policy triggers" "placed submitted" "$(echo "$out" | grep '^placed' || true)"
check "no code of the dealer's ran with another role's rights" "" "$(echo "$out" | grep 'ran as' || true)"
check "the dealer is no superuser" "f" "$(q -c "SELECT rolsuper FROM pg_roles WHERE rolname = '$dealer'")"

if [ $failed -ne 0 ]; then
    echo "session attacks: failed"
    exit 1
fi
echo "session attacks: all held"
