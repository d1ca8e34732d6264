#!/usr/bin/env bash
# Upgrade test: for every released version, install it, ALTER EXTENSION ...
# UPDATE to the current one, and compare it with a fresh install twice: the
# catalog facts of everything the extension owns (test/upgrade_signature.sql),
# and the DDL pg_dump --schema-only prints for them (test/schema_ddl.sql).
# Released versions are installed the way PostgreSQL installs them: the first
# release's script, then the upgrade scripts of src/sql/updates/ in a chain.
# Then, from 0.2.0 on, update an installation with bindings and run the
# attack suite on it.  Uses the libpq variables.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
current=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$here/../rebate.control")
psql_() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }

signature() {	# signature DB
    psql_ -d "$1" -f "$here/upgrade_signature.sql"
}
ddl() {	# ddl DB: the extension's objects as pg_dump prints them (destroys the extension)
    psql_ -d "$1" -f "$here/schema_ddl.sql"
    pg_dump --schema-only -d "$1" | grep -v '^\\\(un\)\?restrict '
}
# the released versions: the first release's script and the target of every upgrade script
released=$(cd "$here/../src/sql/updates" && ls rebate--*.sql | sed -n 's/^rebate--\(.*--\)\?\([0-9.]*\)\.sql$/\2/p' \
           | grep -vxF "$current" | sort -V)

psql_ -d postgres -c "DROP DATABASE IF EXISTS rebate_upgrade_fresh" -c "CREATE DATABASE rebate_upgrade_fresh"
psql_ -d rebate_upgrade_fresh -c "CREATE EXTENSION rebate CASCADE"
signature rebate_upgrade_fresh > /tmp/rebate_upgrade_fresh.$$
ddl rebate_upgrade_fresh > /tmp/rebate_upgrade_fresh_ddl.$$

failed=0 checked=0
for old in $released; do
    psql_ -d postgres -c "DROP DATABASE IF EXISTS rebate_upgrade_old" -c "CREATE DATABASE rebate_upgrade_old"
    psql_ -d rebate_upgrade_old -c "CREATE EXTENSION rebate VERSION '$old' CASCADE" -c "ALTER EXTENSION rebate UPDATE"
    signature rebate_upgrade_old > /tmp/rebate_upgrade_old.$$
    checked=$((checked + 1))
    if diff -u /tmp/rebate_upgrade_fresh.$$ /tmp/rebate_upgrade_old.$$; then
        echo "ok - $old updated to $current is identical to a fresh $current ($(wc -l < /tmp/rebate_upgrade_fresh.$$) facts)"
    else
        echo "not ok - $old updated to $current differs from a fresh install (diff above)"
        failed=$((failed + 1))
    fi
    ddl rebate_upgrade_old > /tmp/rebate_upgrade_old_ddl.$$
    checked=$((checked + 1))
    if diff -u /tmp/rebate_upgrade_fresh_ddl.$$ /tmp/rebate_upgrade_old_ddl.$$; then
        echo "ok - $old updated to $current has the DDL of a fresh $current (pg_dump --schema-only, $(wc -l < /tmp/rebate_upgrade_fresh_ddl.$$) lines)"
    else
        echo "not ok - $old updated to $current: pg_dump --schema-only differs from a fresh install (diff above)"
        failed=$((failed + 1))
    fi
done
# The fixes reach existing installations: each release with bindings (from
# 0.2.0 on), with a tenant, a partner, a manager and a partner user bound,
# updated, keeps its bindings (entered in access_binding_history) and passes
# the attack suite (test/pgtap/2[1-3]_attack_*.sql).
roles="rebate_t_upg_mgr_$$ rebate_t_upg_usr_$$"
for old in $released; do
    [ "$old" = 0.1.0 ] && continue
    psql_ -d postgres -c "DROP DATABASE IF EXISTS rebate_upgrade_old" -c "CREATE DATABASE rebate_upgrade_old"
    for r in $roles; do psql_ -d postgres -c "DROP ROLE IF EXISTS $r" -c "CREATE ROLE $r LOGIN"; done
    set -- $roles
    psql_ -d rebate_upgrade_old -c "CREATE EXTENSION rebate VERSION '$old' CASCADE" \
          -c "INSERT INTO rebate.tenant (id, code, name) VALUES (1, 'T1', '品牌一')" \
          -c "INSERT INTO rebate.partner (id, tenant_id, code, name) VALUES (11, 1, 'P1', '一店')" \
          -c "SELECT rebate.grant_access('$1', 1)" -c "SELECT rebate.grant_access('$2', 1, 11)" >/dev/null
    psql_ -d rebate_upgrade_old -c "ALTER EXTENSION rebate UPDATE" -c "CREATE EXTENSION pgtap"
    checked=$((checked + 1))
    kept=$(psql_ -At -d rebate_upgrade_old -c "SELECT string_agg(format('%s %s/%s', operation, new_tenant_id, new_partner_id), ', ' ORDER BY id)
                                               FROM rebate.access_binding_history WHERE role_name IN ('$1', '$2')")
    if [ "$kept" = "grant 1/, grant 1/11" ] \
       && pg_prove -d rebate_upgrade_old "$here"/pgtap/2[1-3]_attack_*.sql >/tmp/rebate_upgrade_attack.$$ 2>&1; then
        echo "ok - $old with bindings, updated to $current: bindings kept in the history, the attack suite passes"
    else
        cat /tmp/rebate_upgrade_attack.$$ 2>/dev/null || true
        echo "not ok - $old with bindings, updated to $current: history '$kept', or the attack suite failed (above)"
        failed=$((failed + 1))
    fi
done
for r in $roles; do psql_ -d postgres -c "DROP DATABASE IF EXISTS rebate_upgrade_old" -c "DROP ROLE IF EXISTS $r"; done

psql_ -d postgres -c "DROP DATABASE IF EXISTS rebate_upgrade_fresh" -c "DROP DATABASE IF EXISTS rebate_upgrade_old"
rm -f /tmp/rebate_upgrade_fresh.$$ /tmp/rebate_upgrade_old.$$ /tmp/rebate_upgrade_fresh_ddl.$$ /tmp/rebate_upgrade_old_ddl.$$ /tmp/rebate_upgrade_attack.$$
echo "upgrade: $((checked - failed)) passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$checked" -gt 0 ]
