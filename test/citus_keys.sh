#!/usr/bin/env bash
# Shard-readiness: does Citus 13 accept the extension's keys?  Installs the
# Citus build of ../shared/citus when it is missing (as root), starts a
# throwaway single-node Citus (never the suite's server: Citus must be
# preloaded), installs rebate, turns its members into plain objects
# (test/schema_ddl.sql) and distributes every tenant table by tenant_id
# (test/citus_keys.sql).  Skipped, and says so, when Citus cannot be had.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
here=$REPO/test

if [ ! -f "$($PG_CONFIG --sharedir)/extension/citus.control" ]; then
    if [ "$(id -u)" = 0 ] && [ -x "$REPO/../shared/citus/install.sh" ]; then
        PATH="$PG_BIN:$PATH" "$REPO/../shared/citus/install.sh" >/dev/null
    else
        echo "# skipped: Citus is not installed (and ../shared/citus/install.sh cannot run here)"
        exit 0
    fi
fi
unset PGHOST PGPORT PGUSER PGDATABASE
REBATE_SERVER_OPTS="-c shared_preload_libraries=citus -c max_connections=100" provide_server
psql_quiet -d postgres -c "CREATE DATABASE rebate_citus"
psql_quiet -d rebate_citus -c "CREATE EXTENSION citus" -c "SELECT citus_set_coordinator_host('127.0.0.1', $PGPORT)" \
           -c "SELECT citus_set_node_property('127.0.0.1', $PGPORT, 'shouldhaveshards', true)" >/dev/null
psql_quiet -d rebate_citus -c "CREATE EXTENSION rebate CASCADE"
out=$(psql_quiet -d rebate_citus -f "$here/citus_keys.sql")
printf '%s\n' "$out"
passed=$(grep -c '^ok ' <<<"$out" || true)
failed=$(grep -c '^not ok ' <<<"$out" || true)
echo "citus keys: $passed accepted, $failed refused"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
