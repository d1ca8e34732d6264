#!/usr/bin/env bash
# pg_dump / pg_restore round trip: a database with the extension, sample data
# and role bindings is dumped and restored into a fresh database; every row of
# every extension table comes back, numbering continues after the restored
# rows, and row-level security still holds.  Uses the libpq variables.
#
# The restore runs with session_replication_role = replica (as documented in
# docs/data-model.md), so that triggers do not audit, re-check or re-record
# rows that are being restored.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=rebate_dump_src dst=rebate_dump_dst dump=$(mktemp /tmp/rebate-dump.XXXXXX)
mgr=rebate_t_dump_mgr_$$ usr=rebate_t_dump_usr_$$
psql_() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
    psql_ -d postgres -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" \
          -c "DROP ROLE IF EXISTS $mgr" -c "DROP ROLE IF EXISTS $usr" >/dev/null 2>&1 || true
    rm -f "$dump" "$dump.log"
}
trap cleanup EXIT

psql_ -d postgres -c "DROP DATABASE IF EXISTS $src" -c "CREATE DATABASE $src" \
      -c "DROP DATABASE IF EXISTS $dst" -c "CREATE DATABASE $dst" \
      -c "CREATE ROLE $mgr" -c "CREATE ROLE $usr"
psql_ -d "$src" -c "CREATE EXTENSION rebate CASCADE" -f "$here/../sample/sample_data.sql" \
      -c "SELECT rebate_sample.generate(partners => 12, lines => 900)" >/dev/null
psql_ -d "$src" -c "SELECT rebate.grant_access('$mgr', (SELECT id FROM rebate.tenant WHERE code = 'HUAGUANG'))" \
      -c "SELECT rebate.grant_access('$usr', (SELECT id FROM rebate.tenant WHERE code = 'HUAGUANG'),
                                     (SELECT id FROM rebate.partner WHERE code = 'HUAGUANG-DEAST'))" >/dev/null

# (pg_dump warns about the self-referencing foreign keys of the tree tables: expected)
pg_dump -Fc -f "$dump" "$src" 2>"$dump.log" || { cat "$dump.log"; exit 1; }
PGOPTIONS="-c session_replication_role=replica" pg_restore --exit-on-error -d "$dst" "$dump"

# every row of every table the extension registered for pg_dump
tables=$(psql_ -At -d "$src" -c "SELECT c::regclass FROM pg_extension e, unnest(e.extconfig) c
                                  WHERE e.extname = 'rebate' AND c::regclass::text NOT LIKE '%seq'
                                  ORDER BY 1")
failed=0 checked=0
for t in $tables; do
    q="SELECT count(*) || ' rows ' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '-') FROM $t x"
    a=$(psql_ -At -d "$src" -c "$q")
    b=$(psql_ -At -d "$dst" -c "$q")
    checked=$((checked + 1))
    if [ "$a" = "$b" ]; then
        echo "ok - $t: $a"
    else
        echo "not ok - $t: source $a, restored $b"
        failed=$((failed + 1))
    fi
done

check() {	# check DESCRIPTION EXPECTED SQL
    local got
    got=$(psql_ -At -d "$dst" -c "$3" 2>&1 || true)
    checked=$((checked + 1))
    if [ "$got" = "$2" ]; then
        echo "ok - $1"
    else
        echo "not ok - $1: expected '$2', got '$got'"
        failed=$((failed + 1))
    fi
}
check "a restored partner user sees its 总代 subtree only" \
      "$(psql_ -At -d "$src" -c "SELECT count(*) FROM rebate.partner WHERE path @> ARRAY[(SELECT id FROM rebate.partner WHERE code = 'HUAGUANG-DEAST')]")" \
      "SET ROLE $usr; SELECT count(*) FROM rebate.partner"
check "a restored manager sees its tenant only" "HUAGUANG" \
      "SET ROLE $mgr; SELECT string_agg(DISTINCT t.code, ',') FROM rebate.partner p JOIN rebate.tenant t ON t.id = p.tenant_id"
check "numbering continues after the restored rows" "1" \
      "INSERT INTO rebate.tenant (code, name) VALUES ('NEW', '新品牌'); SELECT count(*) FROM rebate.tenant WHERE code = 'NEW'"
check "the restored audit log is still append-only" "ERROR:  permission denied for table audit_log" \
      "SET ROLE $mgr; DELETE FROM rebate.audit_log"
echo "dump_restore: $((checked - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
