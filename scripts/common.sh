# shellcheck shell=bash
# Shared by scripts/demo.sh and scripts/test.sh: install what is missing,
# build and install the extension, and provide a PostgreSQL server — either
# the one the libpq variables point at, or a throwaway cluster on a free
# loopback port that is always stopped and removed on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BIN/pg_config

say() { printf '\n==> %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# What the build, the server and the tests need, all from Debian's repositories.
install_packages() {
    local wanted=(make gcc pkg-config libicu-dev python3
                  "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
                  "postgresql-$PG_MAJOR-pgtap" libtap-parser-sourcehandler-pgtap-perl)
    local missing=() p
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    say "installing ${missing[*]}"
    # Debian's postgresql package would create and start a cluster of its own; we need none.
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
        as_root mkdir -p /etc/postgresql-common/createcluster.d
        echo 'create_main_cluster = false' | as_root tee /etc/postgresql-common/createcluster.d/rebate-no-main.conf >/dev/null
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build_and_install() {
    say "building rebate (warnings are errors)"
    make -C "$REPO" -s PG_CONFIG="$PG_CONFIG" EXTRA_CFLAGS=-Werror
    as_root make -C "$REPO" -s PG_CONFIG="$PG_CONFIG" install
}

THROWAWAY_DIR=""

run_as_pg_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_throwaway_cluster() {
    if [ -n "$THROWAWAY_DIR" ] && [ -d "$THROWAWAY_DIR/data" ]; then
        run_as_pg_owner "$PG_BIN/pg_ctl" -D "$THROWAWAY_DIR/data" stop -m immediate -w >/dev/null 2>&1 || true
    fi
    if [ -n "$THROWAWAY_DIR" ]; then
        rm -rf "$THROWAWAY_DIR"
        THROWAWAY_DIR=""
    fi
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Use the server the libpq variables name, or start a throwaway one.
# Extra server settings may come in REBATE_SERVER_OPTS (e.g. for benchmarks).
provide_server() {
    if [ -n "${PGHOST:-}${PGPORT:-}${PGDATABASE:-}" ]; then
        say "using the existing server at ${PGHOST:-local socket}:${PGPORT:-5432} as ${PGUSER:-$(id -un)}"
        return 0
    fi
    THROWAWAY_DIR=$(mktemp -d /tmp/rebate-pg.XXXXXX)
    chmod 755 "$THROWAWAY_DIR"
    trap stop_throwaway_cluster EXIT
    trap 'exit 130' INT TERM
    if [ "$(id -u)" = 0 ]; then
        chown postgres:postgres "$THROWAWAY_DIR"
    fi
    run_as_pg_owner "$PG_BIN/initdb" -D "$THROWAWAY_DIR/data" -U postgres --auth=trust \
        -E UTF8 --locale=C.UTF-8 --no-sync >"$THROWAWAY_DIR/initdb.log" 2>&1 \
        || { cat "$THROWAWAY_DIR/initdb.log"; return 1; }
    local port attempt
    for attempt in 1 2 3 4 5 6 7 8; do
        port=$((20000 + RANDOM % 40000))
        port_is_free "$port" || continue
        if run_as_pg_owner "$PG_BIN/pg_ctl" -D "$THROWAWAY_DIR/data" -l "$THROWAWAY_DIR/server.log" -w -t 60 \
            -o "-p $port -k $THROWAWAY_DIR -c listen_addresses=127.0.0.1 -c fsync=off ${REBATE_SERVER_OPTS:-}" \
            start >/dev/null; then
            export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres
            say "throwaway PostgreSQL $PG_MAJOR on 127.0.0.1:$port (data in $THROWAWAY_DIR, removed on exit)"
            return 0
        fi
    done
    cat "$THROWAWAY_DIR/server.log" >&2 || true
    echo "could not start a throwaway PostgreSQL server" >&2
    return 1
}

psql_quiet() {
    PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

# A fresh database with the extension (and pgTAP when asked); dropped on exit.
fresh_database() {
    local db=$1 with_pgtap=${2:-}
    psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    psql_quiet -d "$db" -c "CREATE EXTENSION rebate CASCADE"
    if [ -n "$with_pgtap" ]; then
        psql_quiet -d "$db" -c "CREATE EXTENSION pgtap"
    fi
}

# Benchmarks: a positive count, and a number with thousands separators.
is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
thousands() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }

# replace_doc_section DOC BEGIN_MARK END_MARK SECTION_FILE: puts the section
# (which carries both marker lines) in place of the text between the markers
# in DOC, or appends it when DOC has no such markers.
replace_doc_section() {
    local doc=$1 begin=$2 end=$3 section=$4 out
    out=$(mktemp)
    if [ -f "$doc" ] && grep -qxF "$begin" "$doc" && grep -qxF "$end" "$doc"; then
        awk -v b="$begin" -v e="$end" -v section="$section" '
            $0 == b { while ((getline line < section) > 0) print line; skip = 1; next }
            $0 == e { skip = 0; next }
            !skip' "$doc" >"$out"
    else
        { if [ -f "$doc" ]; then cat "$doc"; echo; fi; cat "$section"; } >"$out"
    fi
    cat "$out" >"$doc"
    rm -f "$out"
}
