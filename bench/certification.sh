#!/usr/bin/env bash
# bench/certification.sh — what does the order-line policy's certification
# rule (src/region_policy.c, issue 17) cost on rebate.order_line?  The
# same batched load of bench/policy.sh (bench/policy_setup.sql: every line
# passes every check) with the C triggers on, in three states:
#   allow      the tenants' enforcement_setting.certification = 'allow': the
#              rule is skipped (the baseline);
#   none       'reject' (the default), no certification requirement: the
#              rule asks the per-session cache whether the product needs
#              certificates, and it does not;
#   certified  'reject', a requirement on every tenant's root category
#              (every product needs one valid certificate) and every
#              partner holding one: each line runs
#              rebate.missing_certifications for its partner, product and
#              order date, and passes.
#
#   bench/certification.sh           200,000 lines, 5 rounds (about 10 minutes)
#   bench/certification.sh --small   20,000 lines, 1 round (a quick try; the timings mean little)
#   bench/certification.sh --check   20,000 lines: the correctness checks only, "ok - ..." or
#                                    "not ok - ..." each: every state loads every line, no
#                                    violation; an uncertified partner's line is refused (RB026)
#
# Options: --lines N, --runs R, --batch N (lines per statement, 10,000),
# --partners P (the sample's partners per brand, 200), --keep.
# Each round runs every state once, the order rotating; each run starts from
# an empty rebate.order_line and rebate.audit_log after VACUUM and
# CHECKPOINT.  Medians, the ratio to allow and the added microseconds per
# line are reported; timings are never judged.  Uses the server the libpq
# variables name, or a throwaway one.
# shellcheck source=../scripts/common.sh
source "$(dirname "$0")/../scripts/common.sh"
# shellcheck source=checks.sh
source "$(dirname "$0")/checks.sh"

BENCH=$REPO/bench
DB=bench_certification
STATES=(allow none certified)

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

mode=full opt_lines="" opt_runs="" batch=10000 partners=200 keep=false
while [ $# -gt 0 ]; do
    case $1 in
        --small) mode=small ;;
        --check) mode=check; check_mode=true ;;
        --lines) opt_lines=${2:-}; shift ;;
        --runs) opt_runs=${2:-}; shift ;;
        --batch) batch=${2:-}; shift ;;
        --partners) partners=${2:-}; shift ;;
        --keep) keep=true ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
    shift
done
if [ $mode = full ]; then lines=200000 runs=5; else lines=20000 runs=1; fi
lines=${opt_lines:-$lines} runs=${opt_runs:-$runs}
$check_mode && runs=1
for n in "$lines" "$runs" "$batch" "$partners"; do
    is_count "$n" || { echo "not a positive whole number: $n" >&2; usage; }
done

provide_server
TMP=$(mktemp -d /tmp/rebate-certification-bench.XXXXXX)
cleanup() {
    $keep || psql_quiet -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    rm -rf "$TMP"
    stop_throwaway_cluster
}
trap cleanup EXIT
export PGOPTIONS="${PGOPTIONS:-} -c synchronous_commit=off -c jit=off"
bpsql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
now_ns() { date +%s%N; }

say "database $DB: sample data ($partners partners per brand), the draft orders of bench/policy_setup.sql"
fresh_database $DB
bpsql -f "$REPO/sample/sample_data.sql"
bpsql -v partners="$partners" -v lines="$lines" -v per_order=10 -f "$BENCH/policy_setup.sql"
# one certification per tenant, a certificate for every partner the lines are for
bpsql <<'SQL'
INSERT INTO rebate.certification (tenant_id, code, name)
SELECT t.id, 'BENCH', '基准认证' FROM rebate.tenant t;
INSERT INTO rebate.certificate (tenant_id, partner_id, certification_id, holder_name, issued_on)
SELECT p.tenant_id, p.partner_id, c.id, '持证人', date '2025-01-01'
  FROM bench_policy.partner p JOIN rebate.certification c ON c.tenant_id = p.tenant_id AND c.code = 'BENCH';
SQL

state_sql() {
    case $1 in
        allow) echo "UPDATE rebate.enforcement_setting SET certification = 'allow';
                     DELETE FROM rebate.certification_requirement;" ;;
        none) echo "UPDATE rebate.enforcement_setting SET certification = 'reject';
                    DELETE FROM rebate.certification_requirement;" ;;
        certified) echo "UPDATE rebate.enforcement_setting SET certification = 'reject';
                         DELETE FROM rebate.certification_requirement;
                         INSERT INTO rebate.certification_requirement (tenant_id, certification_id, category_id, valid)
                         SELECT c.tenant_id, c.id, pc.id, '[2025-01-01,)'
                           FROM rebate.certification c
                           JOIN rebate.product_category pc ON pc.tenant_id = c.tenant_id AND pc.parent_id IS NULL;" ;;
    esac
}
reset_for() {
    bpsql -c "TRUNCATE rebate.order_line, rebate.shipment_line, rebate.audit_log, rebate.policy_violation" \
          -c "ALTER SEQUENCE bench_policy.line_no RESTART" -c "$(state_sql "$1")" \
          -c "VACUUM (FREEZE, ANALYZE) rebate.sales_order, rebate.order_line, rebate.audit_log" -c "CHECKPOINT"
}
n_batches=$(( (lines + batch - 1) / batch ))
for ((k = 0; k < n_batches; k++)); do
    echo "INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost)
          SELECT tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost
            FROM bench_policy.line_src WHERE n > $((k * batch)) AND n <= $(((k + 1) * batch)) ORDER BY n;"
done >"$TMP/batched.sql"

: >"$TMP/timing.tsv"
say "batched load: $(thousands "$lines") lines, $(thousands "$batch") per statement and transaction, $runs round(s)"
for ((r = 1; r <= runs; r++)); do
    for i in 0 1 2; do
        s=${STATES[$(( (i + r - 1) % 3 ))]}
        reset_for "$s"
        t0=$(now_ns)
        bpsql -f "$TMP/batched.sql" || { $check_mode && echo "# the load with $s stopped at the error above"; $check_mode || exit 1; }
        t1=$(now_ns)
        got=$(bpsql -At -c "SELECT count(*) || ' ' || (SELECT count(*) FROM rebate.policy_violation) FROM rebate.order_line")
        read -r n_lines n_violations <<<"$got"
        status=0
        [ "$n_lines" = "$lines" ] && [ "$n_violations" = 0 ] || status=1
        verdict $status "$s: all $(thousands "$lines") lines in, no violation" "$s: $n_lines lines of $lines, $n_violations violations"
        $check_mode && continue
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        printf '%s\t%s\t%s\n' "$s" "$r" "$secs" >>"$TMP/timing.tsv"
        printf '  round %s/%s: %-10s %8.2f s\n' "$r" "$runs" "$s" "$secs"
    done
done

# the rule refuses: the line of a partner whose certificate is revoked
reset_for certified
bpsql -c "UPDATE rebate.certificate SET status = 'revoked', revoke_reason = 'bench'
           WHERE partner_id = (SELECT partner_id FROM bench_policy.line_src ORDER BY n LIMIT 1)" >/dev/null
refusal=$("$PG_BIN/psql" -X -q -d "$DB" -At -c "INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no,
                                                  product_id, quantity, unit_price, unit_cost)
          SELECT tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost
            FROM bench_policy.line_src ORDER BY n LIMIT 1" 2>&1 | sed -n 's/^.*ERROR: *//p' | head -1 || true)
status=0
[[ $refusal == "partner "*" is not certified to sell product "* ]] || status=1
verdict $status "the line of a partner whose certificate is revoked is refused (RB026)" \
    "the line of a partner without a valid certificate: ${refusal:-accepted}"

if $check_mode; then
    checks_exit
fi

say "medians of $runs round(s), $(thousands "$lines") lines each"
awk -F'\t' -v lines="$lines" '
    { t[$1] = t[$1] " " $3 }
    function median(list,    a, n, i, j, x) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
        base = median(t["allow"])
        printf "| state | median s | ratio to allow | added per line |\n|---|---|---|---|\n"
        split("allow none certified", order, " ")
        for (k = 1; k <= 3; k++) {
            s = order[k]; m = median(t[s])
            printf "| %s | %.2f | %.3f | %+.1f µs |\n", s, m, m / base, (m - base) * 1e6 / lines
        }
    }' "$TMP/timing.tsv"
