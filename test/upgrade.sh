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

# The data reach the new release unchanged in meaning: each release from
# 0.5.0 on (today's sample generator runs there) with the sample data, its
# targets under 0.5.0's metric name, updated, gives every partner the same
# progress (basis, target, tier, earned) as before, keeps its targets under
# the catalog's metric names (neither audited nor re-dated), its region
# snapshot, current before, equals the live view after, and a privilege the
# installation granted on the snapshot's view is kept.
sample_sql=/tmp/rebate_upgrade_sample.$$
bi_role=rebate_t_upg_bi_$$
psql_ -d postgres -c "DROP ROLE IF EXISTS $bi_role" -c "CREATE ROLE $bi_role NOLOGIN"
sed "s/'net_sales', daterange(/'sales_amount', daterange(/" "$here/../sample/sample_data.sql" >"$sample_sql"
for last in $released; do
    case $last in 0.[1-4].*) continue ;; esac
    progress_sql="SELECT string_agg(format('%s %s %s %s %s %s %s', pa.id, g.program_code, g.period, g.basis, g.target, g.tier, g.earned),
                                    E'\n' ORDER BY pa.id, g.program_code, g.component)
                    FROM rebate.partner pa CROSS JOIN LATERAL rebate.progress(pa.id, '2026-09-15') g"
    psql_ -d postgres -c "DROP DATABASE IF EXISTS rebate_upgrade_old" -c "CREATE DATABASE rebate_upgrade_old"
    psql_ -d rebate_upgrade_old -c "CREATE EXTENSION rebate VERSION '$last' CASCADE" -f "$sample_sql" \
          -c "SELECT count(*) FROM rebate_sample.generate()" -c "SELECT count(*) FROM rebate_sample.programs()" \
          -c "SELECT count(*) FROM rebate.refresh_report_snapshots()" \
          -c "GRANT SELECT ON rebate.v_region_performance_snapshot TO $bi_role" >/dev/null
    targets_sql="SELECT format('%s %s', max(updated_at), (SELECT count(*) FROM rebate.audit_log WHERE table_name = 'target')) FROM rebate.target"
    targets_before=$(psql_ -At -d rebate_upgrade_old -c "$targets_sql")
    before=$(psql_ -At -d rebate_upgrade_old -c "$progress_sql")
    psql_ -d rebate_upgrade_old -c "ALTER EXTENSION rebate UPDATE"
    after=$(psql_ -At -d rebate_upgrade_old -c "$progress_sql")
    odd=$(psql_ -At -d rebate_upgrade_old -c "SELECT count(*) FROM rebate.target WHERE NOT metric = ANY (rebate.metric_names('target'))")
    targets_after=$(psql_ -At -d rebate_upgrade_old -c "$targets_sql")
    kept=$(psql_ -At -d rebate_upgrade_old -c "SELECT has_table_privilege('$bi_role', 'rebate.v_region_performance_snapshot', 'SELECT')")
    drift=$(psql_ -At -d rebate_upgrade_old -c "SELECT count(*) FROM ((SELECT * FROM rebate.v_region_performance_snapshot EXCEPT ALL SELECT * FROM rebate.v_region_performance)
                                                UNION ALL (SELECT * FROM rebate.v_region_performance EXCEPT ALL SELECT * FROM rebate.v_region_performance_snapshot)) d")
    checked=$((checked + 1))
    if [ "$(printf '%s\n' "$before" | wc -l)" -gt 100 ] && [ "$before" = "$after" ] && [ "$odd" = 0 ] && [ "$drift" = 0 ] \
       && [ "$targets_before" = "$targets_after" ] && [ "$kept" = t ]; then
        echo "ok - $last with the sample data, updated to $current: the same progress for every partner ($(printf '%s\n' "$before" | wc -l) rows), targets under the catalog's names and as they were dated and audited, the region snapshot equals its view and keeps its privileges"
    else
        diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | head -20 || true
        echo "not ok - $last with the sample data, updated to $current: progress differs (above), $odd targets under other names, $drift snapshot rows differ, targets '$targets_before' -> '$targets_after', privilege kept: $kept"
        failed=$((failed + 1))
    fi
    psql_ -d postgres -c "DROP DATABASE IF EXISTS rebate_upgrade_old"
done
rm -f "$sample_sql"
psql_ -d postgres -c "DROP ROLE IF EXISTS $bi_role"

psql_ -d postgres -c "DROP DATABASE IF EXISTS rebate_upgrade_fresh" -c "DROP DATABASE IF EXISTS rebate_upgrade_old"
rm -f /tmp/rebate_upgrade_fresh.$$ /tmp/rebate_upgrade_old.$$ /tmp/rebate_upgrade_fresh_ddl.$$ /tmp/rebate_upgrade_old_ddl.$$ /tmp/rebate_upgrade_attack.$$
echo "upgrade: $((checked - failed)) passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$checked" -gt 0 ]
