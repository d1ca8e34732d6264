#!/usr/bin/env bash
# The inbox's NOTIFY (issue 17), heard by a real listener: a partner user's
# session LISTENs on its channel (rebate.inbox_channel) while another session
# changes the partner's orders.  A committed status change is heard once,
# with the notification's id as payload; a rolled-back one is never heard;
# nothing of a sibling dealer's orders reaches the channel.  Uses the libpq
# variables.
set -euo pipefail
db=rebate_notify
usr=rebate_t_notify_p1_$$ sib=rebate_t_notify_p2_$$
out=$(mktemp /tmp/rebate-notify.XXXXXX)
psql_() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
    psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS $usr" -c "DROP ROLE IF EXISTS $sib" \
        >/dev/null 2>&1 || true
    rm -f "$out"
}
trap cleanup EXIT

psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" \
      -c "CREATE ROLE $usr LOGIN" -c "CREATE ROLE $sib LOGIN"
psql_ -d "$db" >/dev/null <<SQL
CREATE EXTENSION rebate CASCADE;
INSERT INTO rebate.tenant (id, code, name) VALUES (1, 'N', '通知');
UPDATE rebate.enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow';
INSERT INTO rebate.region (id, tenant_id, code, name, level) VALUES (11, 1, 'CN', '中国', 'country');
INSERT INTO rebate.partner (id, tenant_id, code, name, home_region_id, state) VALUES
    (21, 1, 'P1', '一店', 11, 'active'), (22, 1, 'P2', '二店', 11, 'active');
INSERT INTO rebate.sales_order (id, tenant_id, code, partner_id, ship_to_region_id) VALUES
    (31, 1, 'SO-31', 21, 11), (32, 1, 'SO-32', 21, 11), (33, 1, 'SO-33', 22, 11);
SELECT rebate.grant_access('$usr', 1, 21), rebate.grant_access('$sib', 1, 22);
SQL
channel=$(psql_ -At -d "$db" -c "SET ROLE $usr" -c "SELECT rebate.inbox_channel()")

# the listener: LISTEN, then wait long enough for the writer below; psql
# prints what it heard after each command
psql -X -d "$db" -c "SET ROLE $usr" -c "LISTEN $channel" -c "SELECT pg_sleep(4)" -c "SELECT 1" >"$out" 2>&1 &
listener=$!
sleep 1.5
psql_ -d "$db" <<'SQL'
BEGIN;
UPDATE rebate.sales_order SET status = 'submitted' WHERE id = 32;   -- rolled back: never heard
ROLLBACK;
UPDATE rebate.sales_order SET status = 'submitted' WHERE id = 31;   -- committed: heard
UPDATE rebate.sales_order SET status = 'submitted' WHERE id = 33;   -- the sibling's: not on this channel
SQL
wait $listener
heard=$(grep -c 'Asynchronous notification' "$out" || true)
committed=$(psql_ -At -d "$db" -c "SELECT id FROM rebate.notification WHERE subject_id = 31")
failed=0
check() { if [ "$1" = "$2" ]; then echo "ok - $3"; else echo "not ok - $3 (got $1, want $2)"; failed=1; fi; }
check "$heard" 1 "one notification heard on the partner's channel: the committed change of its own order"
check "$(grep -c "\"id\" : $committed," "$out" || true)" 1 "its payload carries the notification's id ($committed)"
check "$(grep -c '"subject_id" : 32' "$out" || true)" 0 "the rolled-back change was never announced"
check "$(grep -c '"subject_id" : 33' "$out" || true)" 0 "the sibling dealer's order is not announced there"
check "$(grep -c 'SO-3' "$out" || true)" 0 "the payload carries ids, no codes"
[ $failed -eq 0 ] || { cat "$out"; exit 1; }
