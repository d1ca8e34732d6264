#!/usr/bin/env bash
# bench/progress_versions.sh — does a release make rebate.progress slower?
# Two databases on one server with the same sample data: one with the last
# released version's SQL (CREATE EXTENSION rebate VERSION 'PREV'), one with
# the version in development; both run the installed library, so what
# differs is the SQL.  Rounds alternate between them; each round reports the
# median of N calls of progress for a dealer and for the distributor with the
# most sub-partners (plans warmed first).
#
#   bench/progress_versions.sh [--previous 0.6.0] [--partners 500] [--lines 500000] [--calls 60] [--rounds 3]
#
# Uses the server the libpq variables name, or a throwaway one; the
# extension must be installed (scripts/test.sh or make install).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

previous=$(cd "$REPO/src/sql/updates" && ls rebate--*--*.sql | sed -n 's/^rebate--\([0-9.]*\)--.*\.sql$/\1/p' | sort -V | tail -1)
partners=500 lines=500000 calls=60 rounds=3
while [ $# -gt 0 ]; do
    case $1 in
        --previous) previous=${2:-}; shift ;;
        --partners) partners=${2:-}; shift ;;
        --lines) lines=${2:-}; shift ;;
        --calls) calls=${2:-}; shift ;;
        --rounds) rounds=${2:-}; shift ;;
        *) echo "usage: $0 [--previous VERSION] [--partners P] [--lines N] [--calls C] [--rounds R]" >&2; exit 2 ;;
    esac
    shift
done
for n in "$partners" "$lines" "$calls" "$rounds"; do is_count "$n" || { echo "not a positive whole number: $n" >&2; exit 2; }; done
provide_server

current=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$REPO/rebate.control")
say "sample data ($partners partners per brand, $lines lines) under $previous and $current"
for v in "$previous" "$current"; do
    db=bench_progress_${v//./_}
    psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    psql_quiet -d "$db" -c "CREATE EXTENSION rebate VERSION '$v' CASCADE" -f "$REPO/sample/sample_data.sql" \
        -c "SELECT count(*) FROM rebate_sample.generate(partners => $partners, lines => $lines * 99 / 100, audited => false)" \
        -c "SELECT count(*) FROM rebate_sample.programs()" -c "VACUUM ANALYZE" >/dev/null
done
median_sql="
CREATE FUNCTION pg_temp.median_ms(pid bigint, n int) RETURNS numeric LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; d numeric[] := '{}';
BEGIN
    PERFORM count(*) FROM rebate.progress(pid, '2026-09-15');
    PERFORM count(*) FROM rebate.progress(pid, '2026-09-15');
    FOR i IN 1 .. n LOOP
        t0 := clock_timestamp();
        PERFORM count(*) FROM rebate.progress(pid, '2026-09-15');
        d := d || (extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric;
    END LOOP;
    RETURN (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY x)::numeric, 2) FROM unnest(d) x);
END \$\$;
SELECT string_agg(format('%s %s', p.kind, pg_temp.median_ms(p.id, $calls)), '  ' ORDER BY p.kind) FROM (
    (SELECT 'dealer' AS kind, id FROM rebate.partner WHERE kind = 'dealer' ORDER BY id LIMIT 1)
    UNION ALL
    (SELECT 'distributor', pa.id FROM rebate.partner pa WHERE pa.kind = 'distributor'
      ORDER BY (SELECT count(*) FROM rebate.partner c WHERE c.parent_id = pa.id) DESC, pa.id LIMIT 1)) p;"
say "progress as of 2026-09-15, median ms of $calls calls, rounds alternating"
for r in $(seq "$rounds"); do
    for v in "$previous" "$current"; do
        echo "round $r  $v  $(psql_quiet -At -d "bench_progress_${v//./_}" -c "$median_sql" | tail -1)"
    done
done
for v in "$previous" "$current"; do psql_quiet -d postgres -c "DROP DATABASE IF EXISTS bench_progress_${v//./_}"; done
