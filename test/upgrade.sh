#!/usr/bin/env bash
# Upgrade test: for every released version, install it, ALTER EXTENSION ...
# UPDATE to the current one, and compare everything the extension owns with a
# fresh install (test/upgrade_signature.sql).  Uses the libpq variables.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
current=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$here/../rebate.control")
psql_() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }

signature() {	# signature DB
    psql_ -d "$1" -f "$here/upgrade_signature.sql"
}

psql_ -d postgres -c "DROP DATABASE IF EXISTS rebate_upgrade_fresh" -c "CREATE DATABASE rebate_upgrade_fresh"
psql_ -d rebate_upgrade_fresh -c "CREATE EXTENSION rebate"
signature rebate_upgrade_fresh > /tmp/rebate_upgrade_fresh.$$

failed=0 checked=0
for script in "$here"/../src/sql/versions/rebate--*.sql; do
    old=$(basename "$script" .sql)
    old=${old#rebate--}
    case $old in *--*) continue ;; esac
    psql_ -d postgres -c "DROP DATABASE IF EXISTS rebate_upgrade_old" -c "CREATE DATABASE rebate_upgrade_old"
    psql_ -d rebate_upgrade_old -c "CREATE EXTENSION rebate VERSION '$old'" -c "ALTER EXTENSION rebate UPDATE"
    signature rebate_upgrade_old > /tmp/rebate_upgrade_old.$$
    checked=$((checked + 1))
    if diff -u /tmp/rebate_upgrade_fresh.$$ /tmp/rebate_upgrade_old.$$; then
        echo "ok - $old updated to $current is identical to a fresh $current ($(wc -l < /tmp/rebate_upgrade_fresh.$$) facts)"
    else
        echo "not ok - $old updated to $current differs from a fresh install (diff above)"
        failed=$((failed + 1))
    fi
done
psql_ -d postgres -c "DROP DATABASE IF EXISTS rebate_upgrade_fresh" -c "DROP DATABASE IF EXISTS rebate_upgrade_old"
rm -f /tmp/rebate_upgrade_fresh.$$ /tmp/rebate_upgrade_old.$$
echo "upgrade: $((checked - failed)) passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$checked" -gt 0 ]
