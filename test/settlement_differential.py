#!/usr/bin/env python3
"""Differential test: rebate programs and period settlement against
test/program_model.py (an independent model written from the documentation).

Each scenario is a fresh tenant: regions, categories, products, grades, a few
partners (some under a distributor), a handful of programs (tiered,
overachievement, per_unit, fixed; net sales, gross margin, collections,
quantity, new customers; monthly, quarterly, yearly, range; interim; caps;
scopes; overrides; delivery / payment date bases; grace days; stacking groups
sum / max / exclusive / cascade, with reduced_by_earlier / reduces_later on
or off per program in cascades; thresholds on one measure paying on another
(payout_metric net_sales / gross_margin / quantity); mixed scales of lump
sums beside rates; guaranteed minimums per period (guarantee, with
guarantee_carry none / shortfall / excess / both, the run of periods going on
or restarting at a second version); tier windows (tier_window to_date, or
rolling over window_periods, on monthly and quarterly tiered programs); a
second version from April) and documents
over six months of 2025: orders, returns and credit notes with and without
their original order (some larger than the sales: negative bases), payments
and allocations, end customers, targets.  Months are closed in order with
rebate.close_period, sometimes closed again after more documents arrive
(drafts recomputed), and issued with rebate.issue_statements; between the
closes late documents are entered, dated back into months already settled
(returns, orders, approvals, cancellations, deliveries, payments that fall
back by their grace days, allocations that complete an order's payment, end
customers, grade changes); such a document changes what the later periods
of a guarantee's run or of a tier window pay, settled as adjustments.  Every
statement line (kind, gross, already settled, net; guarantee and
carry_forward) and a sample of rebate.progress calls (basis, rebate, paid,
guarantee, carry_forward; next_tier_rebate of retroactive programs paying on
another measure) are compared with the model, and rebate.verify_period must find no difference right after every
close (--no-verify skips it).  The fixed scenarios (known cases, the worked
examples of the docs, among them the guaranteed minimum's and the tier
window's, and the documented refusals) always run first.

Connection settings come only from the libpq environment (PGHOST, PGPORT,
PGUSER, PGDATABASE); the extension must already exist in PGDATABASE (run as a
superuser or a role that may create tenants).

    PGDATABASE=rebate_model python3 test/settlement_differential.py [--scenarios 40] [--seed N]
    python3 test/settlement_differential.py --only 7 --dump /tmp/s7.sql   # one scenario, its SQL

Exit status 0 when everything matches, 1 on any mismatch, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import program_model as pm  # noqa: E402

D = Decimal
ZERO = D(0)
DEFAULT_SEED = 20250601
day = dt.date
VERIFY = True          # run rebate.verify_period after every close (--no-verify)


class SetupError(Exception):
    pass


# ---------------------------------------------------------------------------
# A persistent psql session
# ---------------------------------------------------------------------------

class Psql:
    SEP = "\x1f"

    def __init__(self):
        try:
            self.p = subprocess.Popen(
                ["psql", "-X", "-q", "-A", "-t", "-F", self.SEP, "-v", "ON_ERROR_STOP=0",
                 "-P", "null=\\N", "-P", "pager=off"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, bufsize=1)
        except OSError as e:
            raise SetupError("cannot start psql: %s" % e)
        self.n = 0
        self.log: List[str] = []

    def run(self, sql: str, log: bool = True) -> List[List[str]]:
        self.n += 1
        marker = "__rebate_model_end_%d__" % self.n
        sql = sql.rstrip().rstrip(";") + ";"
        if log:
            self.log.append(sql)
        self.p.stdin.write(sql + "\n\\echo " + marker + "\n")
        self.p.stdin.flush()
        out, errors = [], []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise SetupError("psql ended unexpectedly (connection settings? extension?)")
            line = line.rstrip("\n")
            if line == marker:
                break
            if "ERROR:" in line or line.startswith("psql:") or errors and (
                    line.startswith("DETAIL:") or line.startswith("HINT:")
                    or line.startswith("CONTEXT:") or line.startswith("LINE ")):
                errors.append(line)
                continue
            out.append(line.split(self.SEP))
        if errors:
            raise DbError("\n".join(errors), sql)
        return out

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except Exception:
            self.p.kill()


class DbError(Exception):
    def __init__(self, msg, sql):
        super().__init__(msg)
        self.msg = msg
        self.sql = sql


def q(x) -> str:
    if x is None:
        return "NULL"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (int, Decimal)):
        return str(x)
    if isinstance(x, dt.date):
        return "'%s'" % x.isoformat()
    if isinstance(x, (tuple, list)):
        return "'{%s}'::bigint[]" % ",".join(str(i) for i in x)
    return "'" + str(x).replace("'", "''") + "'"


def drange(lo, hi) -> str:
    return "'[%s,%s)'" % (lo.isoformat(), hi.isoformat() if hi else "")


def num(s: str) -> Optional[Decimal]:
    return None if s == "\\N" else D(s)


# ---------------------------------------------------------------------------
# A scenario: the same mutations on the model world and in the database
# ---------------------------------------------------------------------------

LIFECYCLE = ["draft", "submitted", "approved", "shipped", "delivered", "closed"]


class Scenario:
    def __init__(self, db: Psql, tenant: int, name: str, rounding: str = "half_up"):
        self.db = db
        self.t = tenant
        self.name = name
        self.w = pm.World(rounding=rounding)
        self.ledger = pm.Ledger()
        self.sql: List[str] = []
        self.next_id = tenant * 100000
        self.codes: Dict[int, str] = {}
        self.mismatches: List[str] = []
        self.checked_lines = 0
        self.checked_progress = 0
        self.checked_verify = 0
        self.n_customers = 0
        self.exec("INSERT INTO rebate.tenant (id, code, name, rounding) VALUES (%d, 'SD%d', %s, %s)"
                  % (tenant, tenant, q(name), q(rounding)))
        self.exec("UPDATE rebate.enforcement_setting SET territory = 'allow', product_region = 'allow', "
                  "credit = 'allow' WHERE tenant_id = %d" % tenant)

    def nid(self) -> int:
        self.next_id += 1
        return self.next_id

    def exec(self, sql: str):
        self.sql.append(sql.rstrip().rstrip(";") + ";")

    def flush(self):
        if not self.sql:
            return
        body = "\n".join(self.sql)
        self.sql = []
        try:
            self.db.run("BEGIN;\n" + body + "\nCOMMIT")
        except DbError:
            self.db.run("ROLLBACK", log=False)
            raise

    # -- reference data --------------------------------------------------------
    def region(self, code, parent=None, level="province") -> int:
        i = self.nid()
        self.w.region_parent[i] = parent
        self.exec("INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id) VALUES "
                  "(%d, %d, %s, %s, %s, %s)" % (i, self.t, q(code), q(code), q(level), q(parent)))
        return i

    def category(self, code, parent=None) -> int:
        i = self.nid()
        self.w.category_parent[i] = parent
        self.exec("INSERT INTO rebate.product_category (id, tenant_id, code, name, parent_id) VALUES "
                  "(%d, %d, %s, %s, %s)" % (i, self.t, q(code), q(code), q(parent)))
        return i

    def product(self, sku, cat, price, cost) -> int:
        i = self.nid()
        self.w.product_category[i] = cat
        self.w.product_cost[i] = cost
        self.exec("INSERT INTO rebate.product (id, tenant_id, sku, name, category_id, list_price, "
                  "standard_cost) VALUES (%d, %d, %s, %s, %d, %s, %s)"
                  % (i, self.t, q(sku), q(sku), cat, q(price), q(cost)))
        return i

    def grade(self, code, rank) -> int:
        i = self.nid()
        self.exec("INSERT INTO rebate.partner_grade (id, tenant_id, code, name, rank) VALUES "
                  "(%d, %d, %s, %s, %d)" % (i, self.t, q(code), q(code), rank))
        return i

    def partner(self, code, region, parent=None, grade=None, kind="dealer") -> int:
        i = self.nid()
        self.w.partners[i] = pm.Partner(i, code, parent, grade, region, "active")
        self.codes[i] = code
        self.exec("INSERT INTO rebate.partner (id, tenant_id, code, name, kind, home_region_id, "
                  "state, credit_limit, parent_id, grade_id) VALUES (%d, %d, %s, %s, %s, %d, "
                  "'active', 100000000, %s, %s)"
                  % (i, self.t, q(code), q("%s-%d" % (code, i)), q(kind), region, q(parent), q(grade)))
        return i

    def set_grade(self, pid, grade):
        self.w.partners[pid].grade = grade
        self.exec("UPDATE rebate.partner SET grade_id = %s WHERE id = %d" % (q(grade), pid))

    def set_parent(self, pid, parent):
        self.w.partners[pid].parent = parent
        self.exec("UPDATE rebate.partner SET parent_id = %s WHERE id = %d" % (q(parent), pid))

    def move_product(self, prod, cat):
        self.w.product_category[prod] = cat
        self.exec("UPDATE rebate.product SET category_id = %d WHERE id = %d" % (cat, prod))

    def group(self, code, rule) -> int:
        i = self.nid()
        self.w.groups[i] = pm.Group(i, code, rule)
        self.exec("INSERT INTO rebate.program_group (id, tenant_id, code, name, rule) VALUES "
                  "(%d, %d, %s, %s, %s)" % (i, self.t, q(code), q(code), q(rule)))
        return i

    def program(self, code, versions: List[dict]) -> int:
        """versions: dicts of pm.Version fields (without id/program/version)."""
        pid = self.nid()
        self.codes[pid] = code
        prog = pm.Program(pid, code, [])
        self.w.programs[pid] = prog
        self.exec("INSERT INTO rebate.program (id, tenant_id, code, name) VALUES (%d, %d, %s, %s)"
                  % (pid, self.t, q(code), q(code)))
        for n, spec in enumerate(versions, 1):
            vid = self.nid()
            v = pm.Version(id=vid, program=pid, version=n, **spec)
            cols = ["id", "tenant_id", "program_id", "effective", "metric", "kind"]
            vals = [str(vid), str(self.t), str(pid), drange(*v.effective), q(v.metric), q(v.kind)]
            for c in ("schedule", "unit_amount", "unit_percent", "fixed_amount", "fixed_minimum",
                      "override_schedule", "cap", "payout_metric", "guarantee", "window_periods"):
                x = getattr(v, c)
                if x is not None:
                    cols.append(c)
                    vals.append(q(x))
            if v.kind == "overachievement":
                cols.append("apply_to"); vals.append(q(v.apply_to))
            if v.kind == "per_unit" and v.unit_amount is not None:
                cols.append("unit_size"); vals.append(str(v.unit_size))
            for c in ("returns_reduce", "period_unit", "date_basis", "grace_days", "interim",
                      "priority", "currency"):
                cols.append(c); vals.append(q(getattr(v, c)))
            if v.guarantee_carry != "none" or v.guarantee is not None:
                cols.append("guarantee_carry"); vals.append(q(v.guarantee_carry))
            if v.tier_window != "period":
                cols.append("tier_window"); vals.append(q(v.tier_window))
            if v.group is not None:
                cols.append("group_id"); vals.append(str(v.group))
                if self.w.groups[v.group].rule == "cascade":
                    cols += ["reduced_by_earlier", "reduces_later"]
                    vals += [q(v.reduced_by_earlier), q(v.reduces_later)]
            for c in ("region_ids", "category_ids", "product_ids", "grade_ids", "partner_ids"):
                x = getattr(v, c)
                if x:
                    cols.append(c); vals.append(q(x))
            self.exec("INSERT INTO rebate.program_version (%s) VALUES (%s)" % (", ".join(cols), ", ".join(vals)))
            self.exec("SELECT rebate.activate_program_version(%d)" % vid)
            # activation supersedes the version it overlaps from its start
            for old in prog.versions:
                if old.effective[0] < v.effective[0] and (old.effective[1] is None or old.effective[1] > v.effective[0]):
                    old.effective = (old.effective[0], v.effective[0])
            prog.versions.append(v)
        return pid

    # -- documents ---------------------------------------------------------------
    def order(self, partner, date, lines, status="approved", kind="order", original=None,
              delivered_on=None, currency="CNY", region=None) -> int:
        i = self.nid()
        region = region or self.w.partners[partner].region
        o = pm.Order(i, "%s%d" % ({"order": "O", "return": "R", "credit_note": "C"}[kind], i),
                     partner, kind, date, "draft", region, original, currency)
        self.w.orders[i] = o
        start = "approved" if status in pm.COUNTED else "draft"
        o.status = start
        self.exec("INSERT INTO rebate.sales_order (id, tenant_id, code, partner_id, ship_to_region_id, "
                  "order_date, status, kind, original_order_id, currency) VALUES (%d, %d, %s, %d, %d, "
                  "%s, %s, %s, %s, %s)" % (i, self.t, q(o.code), partner, region, q(date), q(start),
                                           q(kind), q(original), q(currency)))
        vals = []
        for n, (prod, qty, price) in enumerate(lines, 1):
            o.lines.append(pm.Line(prod, D(qty), D(price), None))
            vals.append("(%d, %d, %d, %d, %s, %s)" % (self.t, i, n, prod, qty, price))
        self.exec("INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, "
                  "unit_price) VALUES " + ", ".join(vals))
        self.set_status(i, status, delivered_on)
        return i

    def set_status(self, oid, status, delivered_on=None):
        o = self.w.orders[oid]
        if status == o.status:
            return
        if status == "cancelled":
            path = ["cancelled"]
        else:
            a, b = LIFECYCLE.index(o.status), LIFECYCLE.index(status)
            assert b > a, (o.status, status)
            path = LIFECYCLE[a + 1:b + 1]
        for st in path:
            if st == "delivered":
                dd = delivered_on or o.order_date
                o.delivered_on = dd
                self.exec("UPDATE rebate.sales_order SET status = 'delivered', delivered_on = %s "
                          "WHERE id = %d" % (q(dd), oid))
            else:
                self.exec("UPDATE rebate.sales_order SET status = %s WHERE id = %d" % (q(st), oid))
            o.status = st

    def payment(self, partner, date, amount, allocs=(), currency="CNY") -> int:
        i = self.nid()
        self.w.payments[i] = pm.Payment(i, partner, date, D(amount), currency)
        self.exec("INSERT INTO rebate.payment (id, tenant_id, code, partner_id, received_on, amount, "
                  "currency) VALUES (%d, %d, %s, %d, %s, %s, %s)"
                  % (i, self.t, q("P%d" % i), partner, q(date), amount, q(currency)))
        for oid, amt in allocs:
            self.allocate(i, oid, amt)
        return i

    def allocate(self, payment, oid, amount):
        self.w.allocations.append(pm.Allocation(payment, oid, D(amount)))
        self.exec("INSERT INTO rebate.payment_allocation (tenant_id, payment_id, order_id, partner_id, "
                  "amount) VALUES (%d, %d, %d, %d, %s)"
                  % (self.t, payment, oid, self.w.orders[oid].partner, amount))

    def target(self, partner, metric, lo, hi, value):
        self.w.targets.append(pm.Target(partner, metric, lo, hi, D(value)))
        self.exec("INSERT INTO rebate.target (tenant_id, partner_id, metric, period, value) VALUES "
                  "(%d, %d, %s, %s, %s)" % (self.t, partner, q(metric), drange(lo, hi), value))

    def customer(self, partner, date):
        self.n_customers += 1
        self.w.customers.append(pm.EndCustomer(partner, date))
        self.exec("INSERT INTO rebate.end_customer (tenant_id, partner_id, name, registered_on) VALUES "
                  "(%d, %d, %s, %s)" % (self.t, partner, q("客户%d-%d" % (self.t, self.n_customers)), q(date)))

    # -- settlement ---------------------------------------------------------------
    def close(self, m1, m2):
        self.flush()
        self.db.run("SELECT * FROM rebate.close_period(%d, %s)" % (self.t, drange(m1, m2)))
        expected = pm.close_period(self.w, self.ledger, (m1, m2))
        got = self.fetch_lines(m1, m2)
        self.compare_lines((m1, m2), expected, got)
        if VERIFY:
            # the extension's own cross-check (docs/statements.md): right after a
            # close, its second formulation must agree with every line
            rows = self.db.run("SELECT partner_id, program_id, component, program_period, line_kind, "
                               "stored_gross, verified_gross, stored_net, verified_net, problem "
                               "FROM rebate.verify_period(%d, %s)" % (self.t, drange(m1, m2)),
                               log=False)
            self.checked_verify += 1
            for v in rows:
                self.mismatch("close %s: verify: rebate.verify_period right after the close: %s %s %s %s "
                              "%s: stored gross/net %s/%s, verified %s/%s: %s"
                              % (m1.strftime("%Y-%m"), self.codes.get(int(v[0]), v[0]),
                                 self.codes.get(int(v[1]), v[1]), v[2], v[3], v[4], v[5], v[7],
                                 v[6], v[8], v[9]))

    def issue(self, m1, m2):
        self.flush()
        self.db.run("SELECT rebate.issue_statements(%d, %s)" % (self.t, drange(m1, m2)))
        # Continue from what the database settled, so that one difference is
        # reported where it arises and does not repeat in every later close.
        got = self.fetch_lines(m1, m2)
        self.ledger.drafts[(m1, m2)] = [
            pm.StatementLine((m1, m2), g["partner"], g["program"], g["component"], g["P"], g["kind"],
                             g["gross"], g["already"], g["net"], g["currency"])
            for g in got.values()]
        self.ledger.issue((m1, m2))

    def fetch_lines(self, m1, m2):
        rows = self.db.run(
            "SELECT l.partner_id, l.program_id, l.component, lower(l.program_period), "
            "upper(l.program_period), l.line_kind, l.gross, l.already_settled, l.net, s.currency, "
            "l.basis, l.paid, coalesce(l.stacking, ''), replace(l.explanation, E'\\n', ' '), s.status, "
            "l.guarantee, l.carry_forward "
            "FROM rebate.statement_line l JOIN rebate.statement s ON s.id = l.statement_id "
            "WHERE s.tenant_id = %d AND s.period = %s ORDER BY l.id" % (self.t, drange(m1, m2)),
            log=False)
        got = {}
        for r in rows:
            if r[5] == "manual":
                continue
            P = (dt.date.fromisoformat(r[3]), dt.date.fromisoformat(r[4]))
            key = ((m1, m2), int(r[0]), int(r[1]), r[2], P, r[5])
            if key in got:
                self.mismatch("close %s: duplicate line %s" % (m1, self.key_text(key)))
            got[key] = dict(partner=int(r[0]), program=int(r[1]), component=r[2], P=P, kind=r[5],
                            gross=D(r[6]), already=D(r[7]), net=D(r[8]), currency=r[9],
                            basis=num(r[10]), paid=num(r[11]), stacking=r[12], explanation=r[13],
                            guarantee=num(r[15]), carry_forward=num(r[16]))
        return got

    def key_text(self, key):
        close, partner, program, component, P, kind = key
        return "%s %s %s %s [%s,%s)" % (kind, self.codes.get(partner, partner),
                                         self.codes.get(program, program), component, P[0], P[1])

    def mismatch(self, text):
        self.mismatches.append(text)

    def compare_lines(self, close, expected: List[pm.StatementLine], got: dict):
        exp = {l.key(): l for l in expected}
        for key in sorted(set(exp) | set(got), key=lambda k: (k[1], k[2], k[3], k[4], k[5])):
            e, g = exp.get(key), got.get(key)
            self.checked_lines += 1
            if e is not None and g is not None and e.result is not None:
                self.compare_guarantee("close %s: carry_forward %s" % (
                    close[0].strftime("%Y-%m"), self.key_text(key)), e.result,
                    g["guarantee"], g["carry_forward"], g["explanation"])
            ev = (e.gross, e.already, e.net) if e else (ZERO, ZERO, ZERO)
            gv = (g["gross"], g["already"], g["net"]) if g else (ZERO, ZERO, ZERO)
            if ev == gv and (e is None or g is None) and ev == (ZERO, ZERO, ZERO):
                continue          # a line of zeros may or may not be written
            if e is not None and g is not None and ev == gv:
                continue
            mb = ("model basis %s paid %s%s" % (pm_fmt(e.result.basis), pm_fmt(e.result.paid),
                                                 (" (" + e.result.status + ")") if e.result.status != "ok" else "")
                  if e is not None and e.result is not None else
                  ("model: no result now (settled before)" if e is not None else "model: no line"))
            gb = ("db basis %s paid %s; %s%s" % (pm_fmt(g["basis"]), pm_fmt(g["paid"]), g["explanation"],
                                                 ("; stacking: " + g["stacking"]) if g["stacking"] else "")
                  if g is not None else "db: no line")
            amb = ""
            if e is not None and e.result is not None and e.result.payout is not None \
                    and e.result.payout < 0:
                amb = " [payout measure %s < 0]" % pm_fmt(e.result.payout)
            self.mismatch("close %s: %s: expected gross/already/net %s, got %s | %s | %s%s"
                          % (close[0].strftime("%Y-%m"), self.key_text(key),
                             "/".join(map(pm_fmt, ev)), "/".join(map(pm_fmt, gv)), mb, gb, amb))

    def compare_guarantee(self, where, e: "pm.Result", g_guar, g_carry, explanation):
        """The columns guarantee and carry_forward: the minimum and what it
        carries (programs with a minimum), NULL otherwise.  READING: with
        guarantee_carry 'none' nothing is carried, shown as 0 (NULL accepted:
        "programs with a minimum" show the column, the docs do not say what
        'nothing' looks like)."""
        eg, ec = e.guarantee, e.carry_forward
        if e.component != "own" or e.status == "out_of_scope":
            return
        ok_c = ec == g_carry or (e.version.guarantee_carry == "none" and ec == ZERO and g_carry is None)
        if eg == g_guar and ok_c:
            return
        self.mismatch("%s: expected guarantee/carry_forward %s/%s (rebate %s, paid %s, carry %s), "
                      "got %s/%s | %s"
                      % (where, pm_fmt(eg), pm_fmt(ec), pm_fmt(e.rebate), pm_fmt(e.paid),
                         e.version.guarantee_carry, pm_fmt(g_guar), pm_fmt(g_carry), explanation))

    def in_cascade(self, res) -> bool:
        g = res.version.group
        return g is not None and self.w.groups[g].rule == "cascade" and res.component == "own"

    def check_progress(self, partner, as_of):
        self.flush()
        rows = self.db.run(
            "SELECT program_id, component, basis, rebate, paid, status, coalesce(stacking, ''), "
            "replace(explanation, E'\\n', ' '), next_tier_rebate, guarantee, carry_forward "
            "FROM rebate.progress(%d, %s)" % (partner, q(as_of)),
            log=False)
        got = {(int(r[0]), r[1]): r for r in rows}
        exp = {(r.program, r.component): r for r in pm.progress(self.w, partner, as_of)}
        for key in sorted(set(exp) | set(got)):
            self.checked_progress += 1
            e, g = exp.get(key), got.get(key)
            ev = (e.basis, e.rebate, e.paid) if e else (ZERO, ZERO, ZERO)
            gv = (num(g[2]) or ZERO, num(g[3]) or ZERO, num(g[4]) or ZERO) if g else (ZERO, ZERO, ZERO)
            if e is not None and g is not None:
                self.compare_guarantee("progress(%s, %s) %s %s" % (
                    self.codes[partner], as_of, self.codes.get(key[0]), key[1]), e,
                    num(g[9]), num(g[10]), g[7])
                ok, ntr = pm.next_tier_rebate(e)
                if ok and ntr != num(g[8]):
                    self.mismatch("progress(%s, %s) %s %s: next_tier_rebate expected %s, got %s | %s"
                                  % (self.codes[partner], as_of, self.codes.get(key[0]), key[1],
                                     pm_fmt(ntr), pm_fmt(num(g[8])), g[7]))
            if e is not None and g is not None and self.in_cascade(e):
                # READING: whether `rebate` shows a cascade's re-rated amount or the
                # program's own rating is not said; compare basis and paid only.
                gv = (gv[0], ev[1], gv[2])
            if (e is None or g is None) and ev == (ZERO, ZERO, ZERO) and gv == ev:
                continue
            if e is not None and g is not None and ev == gv and (
                    e.status == g[5] or ev == (ZERO, ZERO, ZERO)):
                continue
            amb = ""
            if e is not None and e.payout is not None and e.payout < 0:
                amb = " [payout measure %s < 0]" % pm_fmt(e.payout)
            self.mismatch("progress(%s, %s) %s %s: expected basis/rebate/paid %s (%s), got %s (%s) | %s%s%s"
                          % (self.codes[partner], as_of, self.codes.get(key[0]), key[1],
                             "/".join(map(pm_fmt, ev)), e.status if e else "-",
                             "/".join(map(pm_fmt, gv)), g[5] if g else "-",
                             g[7] if g else "db: no row", ("; stacking: " + g[6]) if g and g[6] else "",
                             amb))


def pm_fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, Decimal):
        s = format(x, "f")
        if "." in s:
            s = s.rstrip("0").rstrip(".")
        return s or "0"
    return str(x)


def months(start: dt.date, n: int):
    out = []
    m = start
    for _ in range(n):
        nxt = pm.add_months(m, 1)
        out.append((m, nxt))
        m = nxt
    return out


# ---------------------------------------------------------------------------
# Fixed scenarios
# ---------------------------------------------------------------------------

def basic_setup(sc: Scenario):
    cn = sc.region("CN", None, "country")
    cat = sc.category("ALL")
    x = sc.product("X", cat, 1000, 600)
    y = sc.product("Y", cat, 1000, 600)
    return cn, cat, x, y


def fixed_cascade_recheck(sc: Scenario):
    """Known bug: a partial recheck of a cascade group (expected adjustment 10.00)."""
    cn, cat, x, _ = basic_setup(sc)
    a = sc.partner("A", cn)
    g = sc.group("CAS", "cascade")
    eff = (day(2025, 1, 1), None)
    sc.program("VOL", [dict(effective=eff, metric="net_sales", kind="tiered", schedule="retroactive 0:10%",
                            period_unit="month", group=g, priority=1)])
    sc.program("CASH", [dict(effective=eff, metric="collected", kind="tiered", schedule="retroactive 0:1%",
                             period_unit="month", grace_days=10, group=g, priority=2)])
    sc.order(a, day(2025, 1, 10), [(x, 1, 1000)])
    sc.payment(a, day(2025, 1, 20), 5000)
    jan, feb = months(day(2025, 1, 1), 2)
    sc.close(*jan)
    sc.issue(*jan)
    sc.payment(a, day(2025, 2, 5), 1000)
    sc.close(*feb)
    sc.check_progress(a, day(2025, 1, 31))
    sc.issue(*feb)


def fixed_per_unit_negative(sc: Scenario):
    """Fixed bug: per_unit never pays negative, and takes nothing off a cascade."""
    cn, cat, x, y = basic_setup(sc)
    a = sc.partner("A", cn)
    g = sc.group("CAS", "cascade")
    eff = (day(2025, 1, 1), None)
    sc.program("UNIT", [dict(effective=eff, metric="quantity", kind="per_unit", unit_amount=D(10),
                             product_ids=(x,), period_unit="month", group=g, priority=1)])
    sc.program("VOL", [dict(effective=eff, metric="net_sales", kind="tiered", schedule="retroactive 0:10%",
                            period_unit="month", group=g, priority=2)])
    sc.order(a, day(2025, 1, 5), [(x, 2, 100), (y, 10, 1000)])
    sc.order(a, day(2025, 1, 15), [(x, 5, 100)], kind="return")
    jan, feb = months(day(2025, 1, 1), 2)
    sc.check_progress(a, day(2025, 1, 31))
    sc.close(*jan)
    sc.issue(*jan)


def fixed_docs_statements(sc: Scenario):
    """docs/statements.md: interim quarter, final, and a late return's adjustment."""
    cn, cat, x, _ = basic_setup(sc)
    a = sc.partner("A", cn)
    sc.program("Q-VOL", [dict(effective=(day(2024, 10, 1), None), metric="net_sales", kind="tiered",
                              schedule="retroactive 5000:2%, 20000:4%", interim=True)])
    sc.order(a, day(2024, 10, 10), [(x, 3, 1000)])
    sc.order(a, day(2024, 11, 20), [(x, 4, 1000)])
    oct_, nov, dec, jan = months(day(2024, 10, 1), 4)
    sc.close(*oct_); sc.issue(*oct_)
    sc.close(*nov); sc.close(*nov); sc.issue(*nov)
    o3 = sc.order(a, day(2024, 12, 5), [(x, 20, 1000)])
    sc.close(*dec); sc.issue(*dec)
    sc.order(a, day(2025, 1, 8), [(x, 5, 1000)], kind="return", original=o3)
    sc.close(*jan); sc.issue(*jan)


def fixed_docs_programs(sc: Scenario):
    """docs/programs.md: override, a return counted where its order counted, max group."""
    cn, cat, x, _ = basic_setup(sc)
    d1 = sc.partner("D1", cn, kind="distributor")
    s1 = sc.partner("S1", cn, parent=d1)
    sc.program("Q-TIER", [dict(effective=(day(2025, 1, 1), None), metric="net_sales", kind="tiered",
                               schedule="retroactive 5000:2%, 20000:4%", override_schedule="retroactive 0:0.5%")])
    o1 = sc.order(s1, day(2025, 1, 10), [(x, 12, 1000)])
    sc.order(s1, day(2025, 2, 20), [(x, 10, 1000)])
    sc.check_progress(s1, day(2025, 3, 31))
    sc.check_progress(d1, day(2025, 3, 31))
    sc.order(s1, day(2025, 4, 8), [(x, 3, 1000)], kind="return", original=o1)
    sc.check_progress(s1, day(2025, 3, 31))
    g = sc.group("BEST", "max")
    sc.program("Q-UNIT", [dict(effective=(day(2025, 1, 1), None), metric="quantity", kind="per_unit",
                               unit_amount=D(30), product_ids=(x,), group=g, priority=1)])
    sc.program("Q-FIX", [dict(effective=(day(2025, 1, 1), None), metric="net_sales", kind="fixed",
                              fixed_amount=D(500), fixed_minimum=D(10000), group=g, priority=2)])
    sc.check_progress(s1, day(2025, 3, 31))
    for m in months(day(2025, 1, 1), 4):
        sc.close(*m); sc.issue(*m)


def fixed_grade_leaves_scope(sc: Scenario):
    """A partner whose grade takes it out of a program's scope: what it was paid
    for a settled period is reversed (a change of scope reaches every period)."""
    cn, cat, x, _ = basic_setup(sc)
    ga, gb = sc.grade("A", 1), sc.grade("B", 2)
    p = sc.partner("P", cn, grade=ga)
    sc.program("VOL-A", [dict(effective=(day(2025, 1, 1), None), metric="net_sales", kind="tiered",
                              schedule="retroactive 0:10%", period_unit="month", grade_ids=(ga,))])
    sc.program("Q-A", [dict(effective=(day(2025, 1, 1), None), metric="net_sales", kind="tiered",
                            schedule="retroactive 0:10%", period_unit="quarter", interim=True,
                            grade_ids=(ga,))])
    sc.order(p, day(2025, 1, 10), [(x, 1, 1000)])
    jan, feb = months(day(2025, 1, 1), 2)
    sc.close(*jan)
    sc.issue(*jan)
    sc.set_grade(p, gb)       # expected: VOL-A January -100 (adjustment), Q-A interim -100
    sc.close(*feb)
    sc.issue(*feb)


def fixed_grade_enters_scope(sc: Scenario):
    """A partner whose grade brings it into a program's scope after a period
    was settled: a change of scope reaches every period, so the next close
    pays the settled period as an adjustment; and rebate.verify_period agrees
    with the closes."""
    cn, cat, x, _ = basic_setup(sc)
    ga, gb = sc.grade("A", 1), sc.grade("B", 2)
    p = sc.partner("P", cn, grade=gb)
    sc.program("VOL-A", [dict(effective=(day(2025, 1, 1), None), metric="net_sales", kind="tiered",
                              schedule="retroactive 0:10%", period_unit="month", grade_ids=(ga,))])
    sc.order(p, day(2025, 1, 10), [(x, 1, 1000)])
    jan, feb, mar = months(day(2025, 1, 1), 3)
    sc.close(*jan)
    sc.issue(*jan)
    sc.set_grade(p, ga)       # expected: VOL-A January +100 (adjustment) in February
    sc.close(*feb)
    sc.issue(*feb)
    sc.close(*mar)
    sc.issue(*mar)


def fixed_grade_enters_settled_scope(sc: Scenario):
    """As grade-enters-scope, but another partner was paid for the period:
    the adjustment is written; on the close after it a late sale of the other
    partner reaches January again, P's result does not change, so no line is
    written for P, and rebate.verify_period must agree."""
    cn, cat, x, _ = basic_setup(sc)
    ga, gb = sc.grade("A", 1), sc.grade("B", 2)
    p = sc.partner("P", cn, grade=gb)
    o = sc.partner("Q", cn, grade=ga)
    sc.program("VOL-A", [dict(effective=(day(2025, 1, 1), None), metric="net_sales", kind="tiered",
                              schedule="retroactive 0:10%", period_unit="month", grade_ids=(ga,))])
    sc.order(p, day(2025, 1, 10), [(x, 1, 1000)])
    sc.order(o, day(2025, 1, 11), [(x, 2, 1000)])
    jan, feb, mar = months(day(2025, 1, 1), 3)
    sc.close(*jan)
    sc.issue(*jan)
    sc.set_grade(p, ga)       # expected: VOL-A January +100 for P (adjustment) in February
    sc.close(*feb)
    sc.issue(*feb)
    sc.order(o, day(2025, 1, 20), [(x, 1, 1000)])    # late: January rechecked, P unchanged
    sc.close(*mar)
    sc.issue(*mar)


def fixed_parent_change_override(sc: Scenario):
    """A dealer leaves its distributor: the distributor's override of a settled
    period is reversed (a change of parent reaches every period)."""
    cn, cat, x, _ = basic_setup(sc)
    d = sc.partner("D", cn, kind="distributor")
    k = sc.partner("S", cn, parent=d)
    sc.program("VOL", [dict(effective=(day(2025, 1, 1), None), metric="net_sales", kind="tiered",
                            schedule="retroactive 0:1%", period_unit="month",
                            override_schedule="retroactive 0:10%")])
    sc.order(k, day(2025, 1, 10), [(x, 1, 1000)])
    jan, feb = months(day(2025, 1, 1), 2)
    sc.close(*jan)
    sc.issue(*jan)
    sc.set_parent(k, None)    # expected: D override January adjustment -100
    sc.close(*feb)
    sc.issue(*feb)


def docs_programs_setup(sc: Scenario):
    """The tenant of docs/programs.md (dated 2025): D1 over S1, product X at
    1,000 (cost 600); S1 sells 12 + 10 in the first quarter and returns 3 of
    the first order in April: 19 units, 19,000."""
    cn, cat, x, _ = basic_setup(sc)
    d1 = sc.partner("D1", cn, kind="distributor")
    s1 = sc.partner("S1", cn, parent=d1)
    o1 = sc.order(s1, day(2025, 1, 10), [(x, 12, 1000)])
    sc.order(s1, day(2025, 2, 20), [(x, 10, 1000)])
    sc.order(s1, day(2025, 4, 8), [(x, 3, 1000)], kind="return", original=o1)
    return cn, cat, x, d1, s1


def fixed_docs_payout_metric(sc: Scenario):
    """docs/programs.md "Thresholds in one measure, payout on another": Q-QTY,
    quantity thresholds paying on net sales, incremental: 150 + 120 = 270;
    a retroactive twin for next_tier_rebate (3% of 19,000 = 570 at 25 units)."""
    cn, cat, x, d1, s1 = docs_programs_setup(sc)
    eff = (day(2025, 1, 1), None)
    sc.program("Q-QTY", [dict(effective=eff, metric="quantity", payout_metric="net_sales", kind="tiered",
                              schedule="incremental 0:1%, 15:3%")])
    sc.program("Q-QTY-R", [dict(effective=eff, metric="quantity", payout_metric="net_sales", kind="tiered",
                                schedule="retroactive 10:1%, 25:3%")])
    sc.program("Q-NS-U", [dict(effective=eff, metric="net_sales", payout_metric="quantity", kind="tiered",
                               schedule="retroactive 0:5 per unit, 15000:20 per unit")])
    sc.program("Q-QTY-GM", [dict(effective=eff, metric="quantity", payout_metric="gross_margin",
                                 kind="tiered", schedule="incremental 0:10%, 7:2%, 20:500")])
    sc.check_progress(s1, day(2025, 3, 31))
    sc.check_progress(s1, day(2025, 2, 1))
    for m in months(day(2025, 1, 1), 4):
        sc.close(*m); sc.issue(*m)


def fixed_docs_mixed_scale(sc: Scenario):
    """docs/programs.md: "100 at 1,000 units, then 2% from 5,000 units",
    retroactive 1000:100, 5000:2%, metric quantity, payout net sales
    (6,000 units for 60,000: 1,200; 3,000 units: 100), and the mixed
    incremental scale of docs/reference.md on net sales."""
    cn, cat, _, _ = basic_setup(sc)
    small = sc.product("SMALL", cat, 10, 4)
    a = sc.partner("A", cn)
    b = sc.partner("B", cn)
    eff = (day(2025, 1, 1), None)
    sc.program("MIX-Q", [dict(effective=eff, metric="quantity", payout_metric="net_sales", kind="tiered",
                              schedule="retroactive 1000:100, 5000:2%", period_unit="month")])
    sc.program("MIX-I", [dict(effective=eff, metric="net_sales", kind="tiered",
                              schedule="incremental 0:1%, 500:30, 800:5%", period_unit="month")])
    sc.order(a, day(2025, 1, 10), [(small, 6000, 10)])
    sc.order(b, day(2025, 1, 12), [(small, 3000, 10)])
    sc.order(b, day(2025, 2, 12), [(small, 70, 10)])
    sc.check_progress(a, day(2025, 1, 31))
    sc.check_progress(b, day(2025, 2, 28))
    for m in months(day(2025, 1, 1), 2):
        sc.close(*m); sc.issue(*m)


def fixed_docs_cascade_flags(sc: Scenario):
    """docs/programs.md "reduction per program": four deals of 10% on 19,000 in
    the order 3, 2, 1, 4, deal 1 neither reduced nor reducing:
    1,900 / 1,710 / 1,900 / 1,539."""
    cn, cat, x, d1, s1 = docs_programs_setup(sc)
    g = sc.group("DEALS", "cascade")
    eff = (day(2025, 1, 1), None)
    for code, prio, flag in (("R-D3", 1, True), ("R-D2", 2, True), ("R-D1", 3, False), ("R-D4", 4, True)):
        sc.program(code, [dict(effective=eff, metric="net_sales", kind="tiered", schedule="retroactive 0:10%",
                               group=g, priority=prio, reduced_by_earlier=flag, reduces_later=flag)])
    sc.check_progress(s1, day(2025, 3, 31))
    for m in months(day(2025, 1, 1), 4):
        sc.close(*m); sc.issue(*m)


def fixed_cascade_payout_measures(sc: Scenario):
    """A cascade reduces the money measures: the payout measure where it is
    money (Q-NS: 5% of 19,000 - 1,900 = 855), the thresholds' measure where
    that is (NS-U: 19,000 - 2,755 = 16,245 stays below 17,000: 0), both
    (GM: quantity thresholds, 10% of the margin 7,600 - 2,755 = 484.5), a
    program that reduces nothing later (Q-NS2), and one not reduced (LAST)."""
    cn, cat, x, d1, s1 = docs_programs_setup(sc)
    g = sc.group("CAS", "cascade")
    eff = (day(2025, 1, 1), None)
    sc.program("VOL", [dict(effective=eff, metric="net_sales", kind="tiered", schedule="retroactive 0:10%",
                            group=g, priority=1)])
    sc.program("Q-NS", [dict(effective=eff, metric="quantity", payout_metric="net_sales", kind="tiered",
                             schedule="retroactive 0:5%", group=g, priority=2)])
    sc.program("Q-NS2", [dict(effective=eff, metric="quantity", payout_metric="net_sales", kind="tiered",
                              schedule="incremental 0:1%, 10:2%", group=g, priority=3, reduces_later=False)])
    sc.program("NS-U", [dict(effective=eff, metric="net_sales", payout_metric="quantity", kind="tiered",
                             schedule="retroactive 17000:20 per unit", group=g, priority=4)])
    sc.program("GM", [dict(effective=eff, metric="quantity", payout_metric="gross_margin", kind="tiered",
                           schedule="incremental 0:10%", group=g, priority=5)])
    sc.program("LAST", [dict(effective=eff, metric="net_sales", kind="tiered", schedule="retroactive 0:1%",
                             group=g, priority=6, reduced_by_earlier=False)])
    sc.check_progress(s1, day(2025, 3, 31))
    for m in months(day(2025, 1, 1), 4):
        sc.close(*m); sc.issue(*m)


def fixed_docs_guarantee(sc: Scenario):
    """docs/programs.md "A minimum guaranteed per period": S1 earns 1% a month,
    90 / 100 / 0 in the first quarter; a minimum of 95 whose shortfall is
    recovered pays 95 / 95 / 95, carrying -5 / 0 / -95; the same rebates under
    the other carries (none, excess, both).  Here January, February and March
    are settled before the April return of 3 January units arrives, so April's
    close settles what the return changed in January and, through the carry,
    in the later months, as adjustments."""
    cn, cat, x, _ = basic_setup(sc)
    d1 = sc.partner("D1", cn, kind="distributor")
    s1 = sc.partner("S1", cn, parent=d1)
    o1 = sc.order(s1, day(2025, 1, 10), [(x, 12, 1000)])
    sc.order(s1, day(2025, 2, 20), [(x, 10, 1000)])
    eff = (day(2025, 1, 1), None)
    for carry in ("shortfall", "none", "excess", "both"):
        sc.program("M-GUAR-" + carry[:2].upper(), [dict(
            effective=eff, period_unit="month", metric="net_sales", kind="tiered",
            schedule="retroactive 0:1%", partner_ids=(s1,), guarantee=D(95), guarantee_carry=carry)])
    # a quarterly minimum for every partner (D1 earns nothing: paid the minimum)
    sc.program("Q-GUAR", [dict(effective=eff, period_unit="quarter", metric="net_sales", kind="tiered",
                               schedule="retroactive 0:1%", guarantee=D("150.50"), guarantee_carry="shortfall",
                               cap=D(200))])
    jan, feb, mar, apr, may = months(day(2025, 1, 1), 5)
    for m in (jan, feb, mar):
        sc.close(*m); sc.issue(*m)
    sc.order(s1, day(2025, 4, 8), [(x, 3, 1000)], kind="return", original=o1)
    for d_ in (day(2025, 1, 31), day(2025, 2, 28), day(2025, 3, 31)):
        sc.check_progress(s1, d_)
    sc.check_progress(d1, day(2025, 2, 28))
    sc.close(*apr); sc.issue(*apr)
    sc.order(s1, day(2025, 5, 3), [(x, 1, 1000)], kind="return", original=o1)
    sc.close(*may); sc.issue(*may)


def fixed_guarantee_versions(sc: Scenario):
    """The run of periods that carry starts at the first period whose version
    carries the minimum the same way over the same unit: a new version with
    another minimum but the same carry continues the run (GV-SAME), one with
    another carry starts a new run (GV-OTHER); a late January order then
    changes what the later months of the run pay."""
    cn, cat, x, _ = basic_setup(sc)
    a = sc.partner("A", cn)
    sc.order(a, day(2025, 1, 10), [(x, 5, 1000)])
    sc.order(a, day(2025, 2, 10), [(x, 30, 1000)])
    sc.order(a, day(2025, 4, 10), [(x, 2, 1000)])
    base = dict(period_unit="month", metric="net_sales", kind="tiered", schedule="retroactive 0:1%")
    for code, carry2, g2 in (("GV-SAME", "shortfall", D(120)), ("GV-OTHER", "excess", D(100)),
                             ("GV-BOTH", "both", D(100))):
        sc.program(code, [dict(base, effective=(day(2025, 1, 1), day(2025, 4, 1)), guarantee=D(100),
                               guarantee_carry="shortfall" if code != "GV-BOTH" else "both"),
                          dict(base, effective=(day(2025, 4, 1), None), guarantee=g2, guarantee_carry=carry2)])
    months6 = months(day(2025, 1, 1), 6)
    for m in months6[:4]:
        sc.close(*m); sc.issue(*m)
    sc.order(a, day(2025, 1, 20), [(x, 40, 1000)])          # late: changes the whole run
    sc.check_progress(a, day(2025, 4, 30))
    for m in months6[4:]:
        sc.close(*m); sc.issue(*m)
    sc.check_progress(a, day(2025, 6, 30))


def fixed_docs_tier_window(sc: Scenario):
    """docs/programs.md "Tier windows": M-YTD, incremental 0:1%, 15000:3%
    year to date: January 9,000 pays 90, February 10,000 pays 180; beside it
    the retroactive twin, a rolling window of two months, a quarterly
    year-to-date program settled with interim lines, and a late return of a
    January sale that changes the later months' windows (adjustments)."""
    cn, cat, x, d1, s1 = docs_programs_setup(sc)
    eff = (day(2025, 1, 1), None)
    m = dict(effective=eff, period_unit="month", metric="net_sales", kind="tiered")
    sc.program("M-YTD", [dict(m, schedule="incremental 0:1%, 15000:3%", tier_window="to_date")])
    sc.program("M-YTD-R", [dict(m, schedule="retroactive 0:1%, 15000:3%", tier_window="to_date")])
    sc.program("M-ROLL2", [dict(m, schedule="incremental 0:1%, 12000:2%, 20000:4%", tier_window="rolling",
                                window_periods=2)])
    sc.program("M-ROLL3-L", [dict(m, schedule="retroactive 10000:100, 20000:2%", tier_window="rolling",
                                  window_periods=3)])
    sc.program("Q-YTD", [dict(effective=eff, period_unit="quarter", interim=True, metric="net_sales",
                              kind="tiered", schedule="incremental 0:1%, 25000:2%", tier_window="to_date")])
    sc.check_progress(s1, day(2025, 1, 31))
    sc.check_progress(s1, day(2025, 2, 28))
    mm = months(day(2025, 1, 1), 7)
    for mo in mm[:3]:
        sc.close(*mo); sc.issue(*mo)
    o = sc.order(s1, day(2025, 5, 5), [(x, 9, 1000)])
    sc.order(s1, day(2025, 4, 20), [(x, 8, 1000)])
    sc.close(*mm[3]); sc.issue(*mm[3])
    sc.close(*mm[4]); sc.issue(*mm[4])
    sc.order(s1, day(2025, 6, 2), [(x, 4, 1000)], kind="return", original=o)   # back into May
    sc.order(s1, day(2025, 6, 9), [(x, 15, 1000)])
    sc.check_progress(s1, day(2025, 6, 30))
    sc.close(*mm[5]); sc.issue(*mm[5])
    # late, after June is settled: a January sale (every later window of the
    # year changes) and a return of the May sale (May, and June's window)
    sc.order(s1, day(2025, 1, 15), [(x, 2, 1000)])
    sc.order(s1, day(2025, 7, 3), [(x, 2, 1000)], kind="return", original=o)
    sc.close(*mm[6]); sc.issue(*mm[6])


def fixed_refusals(sc: Scenario):
    """Definitions the docs say are refused: the cascade flags off outside a
    cascade group; payout_metric on a kind or metric it is not for."""
    cn, cat, x, _ = basic_setup(sc)
    g = sc.group("SUM", "sum")
    cas = sc.group("CAS", "cascade")
    prog = sc.nid()
    sc.exec("INSERT INTO rebate.program (id, tenant_id, code, name) VALUES (%d, %d, 'REF', 'REF')"
            % (prog, sc.t))
    sc.flush()
    base = ("INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, %%s) "
            "VALUES (%d, %d, '[2025-01-01,)', %%s)" % (sc.t, prog))
    cases = [
        ("reduces_later off, no group", "schedule, reduces_later",
         "'net_sales', 'tiered', 'retroactive 0:1%', false"),
        ("reduced_by_earlier off, sum group", "schedule, group_id, reduced_by_earlier",
         "'net_sales', 'tiered', 'retroactive 0:1%', " + str(g) + ", false"),
        ("payout_metric on per_unit", "unit_amount, unit_size, payout_metric",
         "'quantity', 'per_unit', 10, 1, 'net_sales'"),
        ("payout_metric on fixed", "fixed_amount, fixed_minimum, payout_metric",
         "'net_sales', 'fixed', 10, 100, 'quantity'"),
        ("payout_metric on collected", "schedule, payout_metric",
         "'collected', 'tiered', 'retroactive 0:1%', 'net_sales'"),
        ("payout_metric on new_customers", "schedule, payout_metric",
         "'new_customers', 'tiered', 'retroactive 0:1', 'net_sales'"),
        ("payout_metric with apply_to excess", "schedule, apply_to, payout_metric",
         "'net_sales', 'overachievement', 'retroactive 1:1 per unit', 'excess', 'quantity'"),
        ("payout_metric collected", "schedule, payout_metric",
         "'net_sales', 'tiered', 'retroactive 0:1%', 'collected'"),
        # a guaranteed program stands alone, and its cap is not below the minimum
        ("guarantee in a sum group", "schedule, group_id, guarantee",
         "'net_sales', 'tiered', 'retroactive 0:1%', " + str(g) + ", 100"),
        ("guarantee, cap below it", "schedule, guarantee, cap",
         "'net_sales', 'tiered', 'retroactive 0:1%', 100, 99.99"),
        # tier windows: tiered programs on their own basis, not growth, not in cascades
        ("tier_window on per_unit", "unit_amount, unit_size, tier_window",
         "'quantity', 'per_unit', 10, 1, 'to_date'"),
        ("tier_window on fixed", "fixed_amount, fixed_minimum, tier_window",
         "'net_sales', 'fixed', 10, 100, 'to_date'"),
        ("tier_window on overachievement", "schedule, tier_window",
         "'net_sales', 'overachievement', 'retroactive 1:1%', 'to_date'"),
        ("tier_window on growth", "schedule, tier_window",
         "'growth', 'tiered', 'retroactive 0:1%', 'to_date'"),
        ("tier_window with payout_metric", "schedule, payout_metric, tier_window, period_unit",
         "'quantity', 'tiered', 'retroactive 0:1%', 'net_sales', 'to_date', 'month'"),
        ("tier_window in a cascade group", "schedule, group_id, tier_window, period_unit",
         "'net_sales', 'tiered', 'retroactive 0:1%', @CAS@, 'to_date', 'month'"),
        ("tier_window to_date on a yearly program", "schedule, tier_window, period_unit",
         "'net_sales', 'tiered', 'retroactive 0:1%', 'to_date', 'year'"),
        ("tier_window rolling without window_periods", "schedule, tier_window, period_unit",
         "'net_sales', 'tiered', 'retroactive 0:1%', 'rolling', 'month'"),
    ]
    for what, cols, vals in cases:
        vals = vals.replace("@CAS@", str(cas))
        sql = base % (cols, vals)
        try:
            sc.db.run("BEGIN; " + sql + "; ROLLBACK")
        except DbError:
            sc.db.run("ROLLBACK", log=False)
            continue
        sc.mismatch("refusal: %s: expected an error, the definition was accepted: %s" % (what, sql))


FIXED = [("cascade-partial-recheck", fixed_cascade_recheck),
         ("grade-leaves-scope", fixed_grade_leaves_scope),
         ("grade-enters-scope", fixed_grade_enters_scope),
         ("grade-enters-settled-scope", fixed_grade_enters_settled_scope),
         ("parent-change-override", fixed_parent_change_override),
         ("per-unit-never-negative", fixed_per_unit_negative),
         ("docs-statements-example", fixed_docs_statements),
         ("docs-programs-example", fixed_docs_programs),
         ("docs-payout-metric", fixed_docs_payout_metric),
         ("docs-mixed-scale", fixed_docs_mixed_scale),
         ("docs-cascade-flags", fixed_docs_cascade_flags),
         ("cascade-payout-measures", fixed_cascade_payout_measures),
         ("docs-guarantee", fixed_docs_guarantee),
         ("guarantee-versions", fixed_guarantee_versions),
         ("docs-tier-window", fixed_docs_tier_window),
         ("refusals", fixed_refusals)]


# ---------------------------------------------------------------------------
# Random scenarios
# ---------------------------------------------------------------------------

PCT = ["1%", "1.5%", "2%", "2.25%", "3%", "3.75%", "4%", "5%", "0.5%", "6.125%"]


class Gen:
    def __init__(self, sc: Scenario, r: random.Random):
        self.sc = sc
        self.r = r

    def money(self, lo, hi) -> Decimal:
        return D(self.r.randint(lo * 100, hi * 100)).scaleb(-2)

    def schedule(self, scale: int, unit: str = "%", lump=False, lump_unit: int = 0) -> str:
        """A schedule: thresholds on `scale`; values percentages, amounts per
        unit, or lump sums of v * 50; about a fifth of the rate scales mixed
        (some tiers lump sums of v * lump_unit, at least one rate left)."""
        r = self.r
        n = r.randint(1, 3)
        ths = sorted(r.sample([0, 1, 2, 4, 6, 10, 15, 25], n))
        ths = [t * scale // 4 for t in ths]
        if len(set(ths)) < len(ths):
            ths = sorted(set(ths))
        mode = "retroactive" if lump or r.random() < 0.6 else "incremental"
        parts = []
        vals = sorted(r.sample(range(1, 40), len(ths)))
        lumps = set()
        if not lump and len(ths) >= 2 and r.random() < 0.2:
            lumps = set(r.sample(range(len(ths)), r.randint(1, len(ths) - 1)))
            lump_unit = lump_unit or max(1, scale // 400)
        for i, (t, v) in enumerate(zip(ths, vals)):
            if lump:
                parts.append("%d:%d" % (t, v * 50))
            elif i in lumps:
                parts.append("%d:%d" % (t, v * lump_unit))
            elif unit == "%":
                parts.append("%d:%s" % (t, PCT[v % len(PCT)]))
            else:
                parts.append("%d:%s per unit" % (t, D(v) / 4))
        s = mode + " " + ", ".join(parts)
        if r.random() < 0.15:
            s += " cap %d" % (scale // 10 + r.randint(1, 500))
        return s


def random_scenario(sc: Scenario, r: random.Random, grade_changes: bool = True):
    g = Gen(sc, r)
    cn = sc.region("CN", None, "country")
    east = sc.region("EAST", cn, "area")
    sh = sc.region("SH", east, "province")
    south = sc.region("SOUTH", cn, "area")
    gd = sc.region("GD", south, "province")
    c_ac = sc.category("AC")
    c_ac1 = sc.category("AC1", c_ac)
    c_tv = sc.category("TV")
    c_svc = sc.category("SVC")
    px = sc.product("X", c_ac1, 3000, D("1875.5"))
    py = sc.product("Y", c_ac, 1200, 700)
    pz = sc.product("Z", c_tv, 4500, D("3333.33"))
    ps = sc.product("S", c_svc, 1, 0)          # credit notes (price reductions)
    goods = [px, py, pz]
    ga = sc.grade("A", 1)
    gb = sc.grade("B", 2)
    regions = [sh, east, gd]

    d1 = sc.partner("D1", sh, grade=ga, kind="distributor")
    partners = [d1, sc.partner("S1", sh, parent=d1, grade=gb)]
    if r.random() < 0.7:
        partners.append(sc.partner("S2", r.choice(regions), parent=d1, grade=r.choice([ga, gb])))
    if r.random() < 0.6:
        d2 = sc.partner("D2", gd, grade=gb, kind="distributor")
        partners.append(d2)
        if r.random() < 0.7:
            partners.append(sc.partner("S3", gd, parent=d2, grade=r.choice([ga, gb])))
    if r.random() < 0.5:
        partners.append(sc.partner("S4", r.choice(regions), grade=r.choice([ga, gb, None])))

    n_months = r.randint(4, 6)
    start = day(2025, 1, 1)
    span = months(start, n_months)
    eff = (start, None)

    # -- programs --------------------------------------------------------------
    templates = ["vol", "vol", "margin", "qty", "cash", "over", "unit", "unitpct", "fixed", "cust", "yen"]
    ambiguous_dates = False            # delivery/payment bases present
    chosen = r.sample(templates, r.randint(3, 6))
    rule = r.choice(["sum", "max", "exclusive", "cascade", None, "cascade"])
    group = sc.group("G1", rule) if rule else None
    group_unit = r.choice(["month", "quarter", "quarter-interim"])
    in_group = set(r.sample(range(len(chosen)), min(len(chosen), r.randint(2, 3)))) if group else set()
    over_metrics = set()
    yen = False
    prio = 0
    for k, t in enumerate(chosen):
        spec = dict(effective=eff)
        grouped = k in in_group
        if grouped:
            unit = group_unit
        else:
            unit = r.choice(["month", "quarter", "quarter-interim", "year-interim", "range"])
        spec["period_unit"] = unit.split("-")[0]
        spec["interim"] = unit.endswith("interim")
        if unit == "range":
            spec["effective"] = (day(2025, 2, 1), day(2025, 5, 1))
        if grouped:
            prio += r.randint(1, 5)
            spec["group"] = group
            spec["priority"] = prio
        scale = {"month": 20000, "quarter": 60000}.get(spec["period_unit"], 150000)
        line_metric = False
        if t == "vol":
            spec.update(metric="net_sales", kind="tiered", schedule=g.schedule(scale))
            if r.random() < 0.25:
                # thresholds on net sales, paying on units or on the margin
                spec["payout_metric"] = r.choice(["quantity", "gross_margin"])
                if spec["payout_metric"] == "quantity":
                    spec["schedule"] = g.schedule(scale, "unit")
            line_metric = True
        elif t == "margin":
            spec.update(metric="gross_margin", kind="tiered", schedule=g.schedule(scale // 3),
                        category_ids=(c_ac,))
            if r.random() < 0.25:
                spec["payout_metric"] = r.choice(["net_sales", "quantity"])
                if spec["payout_metric"] == "quantity":
                    spec["schedule"] = g.schedule(scale // 3, "unit")
            line_metric = True
        elif t == "qty":
            spec.update(metric="quantity", kind="tiered",
                        schedule=g.schedule(max(4, scale // 2000), "unit", lump_unit=10),
                        product_ids=tuple(r.sample(goods, 2)))
            if r.random() < 0.35:
                # "from N units, p% of net sales (or of the margin)"
                spec["payout_metric"] = r.choice(["net_sales", "net_sales", "gross_margin"])
                spec["schedule"] = g.schedule(max(4, scale // 2000), lump_unit=scale // 200)
            line_metric = True
        elif t == "cash":
            spec.update(metric="collected", kind="tiered", schedule=g.schedule(scale),
                        grace_days=r.choice([0, 5, 10]))
        elif t == "over":
            m = r.choice(["net_sales", "collected", "quantity"])
            over_metrics.add(m)
            mode = r.choice(["retroactive", "incremental"])
            if m == "quantity":
                sched = "%s 0.5:2 per unit, 1.0:3.5 per unit, 1.3:5 per unit" % mode
                spec["product_ids"] = (px, py)
            else:
                sched = "%s 0.8:1%%, 1.0:2.5%%, 1.2:4%%" % mode
            spec.update(metric=m, kind="overachievement", schedule=sched,
                        apply_to=r.choice(["total", "excess"]))
            if m != "collected" and r.random() < 0.35:
                # on the total only: the thresholds read the metric against its
                # target, the rates pay on another measure
                spec["apply_to"] = "total"
                spec["payout_metric"] = r.choice(
                    {"net_sales": ["quantity", "gross_margin"], "quantity": ["net_sales", "gross_margin"]}[m])
                if spec["payout_metric"] == "quantity":
                    spec["schedule"] = "%s 0.8:2 per unit, 1.0:3.5 per unit, 1.2:5 per unit" % mode
                else:
                    spec["schedule"] = r.choice(["%s 0.5:1%%, 1.0:2.5%%, 1.3:4%%" % mode,
                                                 "%s 0.5:1%%, 1.0:300, 1.3:4%%" % mode])
            line_metric = m != "collected"
            if m == "collected":
                spec["grace_days"] = r.choice([0, 7])
        elif t == "unit":
            spec.update(metric="quantity", kind="per_unit", unit_amount=r.choice([D(15), D("12.5"), D("7.33")]),
                        product_ids=tuple(r.sample(goods, r.randint(1, 2))))
            line_metric = True
        elif t == "unitpct":
            spec.update(metric="net_sales", kind="per_unit", unit_percent=r.choice([D("1.5"), D(2), D("0.75")]),
                        product_ids=tuple(r.sample(goods, r.randint(1, 2))))
            line_metric = True
        elif t == "fixed":
            spec.update(metric="net_sales", kind="fixed", fixed_amount=D(r.choice([300, 800, 1250])),
                        fixed_minimum=D(scale // r.choice([2, 3, 4])))
            line_metric = True
        elif t == "cust":
            spec.update(metric="new_customers", kind="tiered", schedule=g.schedule(4, lump=True))
        elif t == "yen":
            # another currency: its own documents, its own statements, rounded to whole yen
            m = r.choice(["net_sales", "collected"])
            spec.update(metric=m, kind="tiered", schedule=g.schedule(scale * 10), currency="JPY")
            line_metric = m == "net_sales"
            yen = True
        if line_metric and r.random() < 0.25:
            spec["date_basis"] = r.choice(["delivery", "payment"])
            ambiguous_dates = True
        if line_metric and r.random() < 0.2:
            spec["grace_days"] = r.choice([3, 10])
        if line_metric and r.random() < 0.15:
            spec["returns_reduce"] = False
        if grouped and rule == "cascade":
            spec["reduced_by_earlier"] = r.random() < 0.7
            spec["reduces_later"] = r.random() < 0.7
        if r.random() < 0.2:
            spec["cap"] = D(scale // r.choice([40, 80, 200]))
        if r.random() < 0.2:
            c = r.random()
            if c < 0.4:
                spec["grade_ids"] = (r.choice([ga, gb]),)
            elif c < 0.7:
                spec["partner_ids"] = tuple(r.sample(partners, r.randint(1, len(partners))))
            elif line_metric:
                spec["region_ids"] = (r.choice([east, south, sh]),)
        if (spec["kind"] == "tiered" and not spec.get("payout_metric")
                and not (grouped and rule == "cascade")
                and spec["period_unit"] in ("month", "quarter") and r.random() < 0.3):
            # tier windows: the year so far, or the last few periods (tiered
            # programs on a basis of their own, outside cascade groups)
            spec["tier_window"] = r.choice(["to_date", "rolling", "rolling"])
            if spec["tier_window"] == "rolling":
                spec["window_periods"] = r.choice([2, 3, 4] if spec["period_unit"] == "month" else [2, 3])
        if (not grouped and spec["kind"] in ("tiered", "per_unit", "fixed") and not spec["interim"]
                and not spec.get("grade_ids") and not spec.get("region_ids") and r.random() < 0.3):
            # a minimum guaranteed per period (a guaranteed program stands alone;
            # not with interim lines, not scoped by grade or region: see the model)
            gmin = D(int(scale * r.choice([0.003, 0.008, 0.02]))) * (10 if yen and spec.get("currency") == "JPY" else 1)
            if r.random() < 0.3 and spec.get("currency", "CNY") != "JPY":
                gmin += D("0.55")
            spec["guarantee"] = gmin
            if (spec["period_unit"] != "month" and not spec.get("tier_window")
                    and spec.get("date_basis") != "payment" and r.random() < 0.5):
                # monthly, mostly: a run of several periods within the scenario (not
                # by payment date: each close recomputes the run, and that is slow)
                spec["period_unit"], spec["effective"] = "month", eff
            spec["guarantee_carry"] = r.choice(["none", "shortfall", "excess", "both"])
            if spec.get("cap") is not None and spec["cap"] < gmin:
                spec["cap"] = gmin + r.choice([0, 100])
        if (line_metric and not grouped and t in ("vol", "qty", "margin") and r.random() < 0.4
                and not spec.get("grade_ids") and not spec.get("partner_ids") and "cap" not in spec
                and not spec.get("payout_metric") and not spec.get("tier_window")):
            # (not with a tier window: whether the override is rated on a window is not documented)
            # (not with a payout_metric: whether the override pays on it is not documented)
            spec["override_schedule"] = ("retroactive 0:0.5%" if spec["metric"] != "quantity"
                                         else "incremental 0:1 per unit, 50:2 per unit")
        versions = [spec]
        if (r.random() < 0.2 and spec["period_unit"] in ("month", "quarter") and not grouped
                and spec.get("schedule") and spec["kind"] == "tiered"):
            spec2 = dict(spec)
            spec["effective"] = eff
            spec2["effective"] = (day(2025, 4, 1), None)
            spec2["schedule"] = g.schedule(scale)
            if spec.get("payout_metric") == "quantity":
                spec2["schedule"] = g.schedule(scale, "unit")
            if spec["metric"] in ("quantity",):
                spec2["schedule"] = g.schedule(max(4, scale // 2000),
                                               "%" if spec.get("payout_metric") else "unit")
            if spec["metric"] == "new_customers":
                spec2["schedule"] = g.schedule(4, lump=True)
            if spec.get("guarantee") is not None and r.random() < 0.5:
                # another minimum (the run goes on) or another carry (a new run)
                if r.random() < 0.5:
                    spec2["guarantee"] = spec["guarantee"] + 50
                else:
                    spec2["guarantee_carry"] = r.choice(["none", "shortfall", "excess", "both"])
            versions.append(spec2)
        sc.program("%s%d" % (t.upper(), k + 1), versions)

    for m in sorted(over_metrics):
        for p in partners:
            if r.random() < 0.2:
                continue                  # no target: paid nothing (no_target)
            for (m1, m2) in span:
                if r.random() < 0.1:
                    continue
                base = {"net_sales": 30000, "collected": 25000, "quantity": 20}[m]
                sc.target(p, m, m1, m2, D(r.randint(base // 2, base * 2)))

    # -- documents ---------------------------------------------------------------
    orders_of: Dict[int, List[int]] = defaultdict(list)
    unpaid: Dict[int, Decimal] = {}
    returned = set()

    def rand_day(m1, m2):
        return m1 + dt.timedelta(days=r.randrange((m2 - m1).days))

    def new_order(p, d):
        cur = "JPY" if yen and r.random() < 0.25 else "CNY"
        lines = []
        for _ in range(r.randint(1, 2)):
            prod = r.choice(goods)
            price = g.money(800, 5000) if cur == "CNY" else D(r.randint(8000, 50000))
            lines.append((prod, r.randint(1, 12), price))
        st = r.choices(["approved", "shipped", "delivered", "closed", "submitted", "draft"],
                       [40, 15, 20, 10, 10, 5])[0]
        dd = d + dt.timedelta(days=r.randint(0, 20)) if st in ("delivered", "closed") else None
        oid = sc.order(p, d, lines, status=st, delivered_on=dd, currency=cur)
        orders_of[p].append(oid)
        unpaid[oid] = sc.w.orders[oid].total()
        return oid

    def complete(oid):
        """Deliver and pay an order in full (originals of returns, so that every
        date basis places them)."""
        o = sc.w.orders[oid]
        if o.status in ("draft", "submitted"):
            sc.set_status(oid, "approved")
        if o.status == "approved" or o.status == "shipped":
            sc.set_status(oid, "delivered", o.order_date + dt.timedelta(days=r.randint(0, 10)))
        rest = unpaid.get(oid, ZERO)
        if rest > 0:
            pd = (o.delivered_on or o.order_date) + dt.timedelta(days=r.randint(0, 15))
            sc.payment(o.partner, pd, rest, [(oid, rest)], currency=o.currency)
            unpaid[oid] = ZERO

    def new_return(p, d, late_month=None):
        cands = [o for o in orders_of[p] if sc.w.orders[o].status not in ("cancelled",)
                 and sc.w.orders[o].order_date <= d and o not in returned]
        if not cands:
            return
        oid = r.choice(cands)
        o = sc.w.orders[oid]
        complete(oid)
        returned.add(oid)
        ln = r.choice(o.lines)
        if r.random() < 0.7:
            sc.order(p, d, [(ln.product, r.randint(1, int(ln.qty)), ln.price)], kind="return", original=oid,
                     currency=o.currency)
        else:
            sc.order(p, d, [(r.choice([ps, ln.product]), r.randint(1, 3), g.money(100, 1000))],
                     kind="credit_note", original=oid,
                     currency=o.currency)

    def new_payment(p, d):
        cur = "JPY" if yen and r.random() < 0.25 else "CNY"
        amt = g.money(2000, 40000) if cur == "CNY" else D(r.randint(20000, 400000))
        allocs = []
        rest = amt
        for oid in orders_of[p]:
            if rest <= 0 or r.random() < 0.4 or sc.w.orders[oid].currency != cur:
                continue
            due = unpaid.get(oid, ZERO)
            if due <= 0 or sc.w.orders[oid].status in ("draft", "submitted", "cancelled"):
                continue
            a = min(due, rest)
            if r.random() < 0.3:
                a = (a / 2).quantize(D("0.01"))
            if a <= 0:
                continue
            allocs.append((oid, a))
            unpaid[oid] = due - a
            rest -= a
        sc.payment(p, d, amt, allocs, currency=cur)

    def late_event(upto: dt.date):
        """Something dated back into a month already settled."""
        p = r.choice(partners)
        m1, m2 = r.choice([m for m in span if m[1] <= upto] or [span[0]])
        d = rand_day(m1, m2)
        c = r.random()
        if c < 0.2:
            new_order(p, d)
        elif c < 0.35:
            new_return(p, d if r.random() < 0.5 else upto)
        elif c < 0.5:
            new_payment(p, d)
        elif c < 0.58:
            # a payment early next month, falling back by grace days
            new_payment(p, m2 + dt.timedelta(days=r.randint(0, 9)))
        elif c < 0.68:
            waiting = [o for o in orders_of[p] if sc.w.orders[o].status in ("draft", "submitted")]
            if waiting:
                sc.set_status(r.choice(waiting), "approved")
        elif c < 0.76:
            live = [o for o in orders_of[p] if sc.w.orders[o].status == "approved" and o not in returned
                    and not any(a.order == o for a in sc.w.allocations)]
            if live:
                sc.set_status(r.choice(live), "cancelled")
        elif c < 0.84:
            ready = [o for o in orders_of[p] if sc.w.orders[o].status in ("approved", "shipped")]
            if ready:
                oid = r.choice(ready)
                sc.set_status(oid, "delivered", sc.w.orders[oid].order_date + dt.timedelta(days=r.randint(0, 25)))
        elif c < 0.9:
            sc.customer(p, d)
        elif c < 0.93:
            # a product moves in the category tree: reaches every period
            sc.move_product(px, r.choice([c_ac1, c_ac, c_tv]))
        elif c < 0.96:
            # a dealer changes distributor: the overrides of every period follow
            dealers = [x for x in partners if sc.w.partners[x].parent is not None
                       or sc.codes[x] == "S4"]
            if dealers:
                dists = [x for x in partners if sc.codes[x] in ("D1", "D2")]
                sc.set_parent(r.choice(dealers), r.choice(dists + [None]))
        elif grade_changes:
            sc.set_grade(p, r.choice([ga, gb]))
        else:
            sc.customer(p, d)

    def early_event(m1, m2):
        """Documents of the month being closed, or early next month."""
        for p in partners:
            for _ in range(r.choices([0, 1, 2, 3], [15, 40, 30, 15])[0]):
                new_order(p, rand_day(m1, m2))
            if r.random() < 0.35:
                new_return(p, rand_day(m1, m2))
            if r.random() < 0.12 and not ambiguous_dates:
                # a return or credit note without its original: counts by its own date,
                # sometimes more than the month's sales (a negative basis)
                if r.random() < 0.6:
                    sc.order(p, rand_day(m1, m2), [(r.choice(goods), r.randint(5, 30), g.money(800, 5000))],
                             kind="return")
                else:
                    sc.order(p, rand_day(m1, m2), [(r.choice([ps] + goods), r.randint(1, 4), g.money(500, 5000))],
                             kind="credit_note")
            for _ in range(r.choices([0, 1, 2], [30, 50, 20])[0]):
                new_payment(p, rand_day(m1, m2))
            if r.random() < 0.15:
                new_payment(p, m2 + dt.timedelta(days=r.randint(0, 8)))
            for _ in range(r.choices([0, 1, 2], [50, 35, 15])[0]):
                sc.customer(p, rand_day(m1, m2))

    for i, (m1, m2) in enumerate(span):
        early_event(m1, m2)
        sc.close(m1, m2)
        if r.random() < 0.3:
            # more documents before the statements are issued: the close recomputes its drafts
            early_event(m1, m2) if r.random() < 0.3 else late_event(m2)
            sc.close(m1, m2)
        for _ in range(r.randint(1, 2)):
            p = r.choice(partners)
            sc.check_progress(p, rand_day(start, span[-1][1]))
        sc.issue(m1, m2)
        for _ in range(r.randint(0, 4)):
            late_event(m2)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", type=int, default=40, help="random scenarios (default 40)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--only", type=int, help="run only this random scenario (0-based), no fixed ones")
    ap.add_argument("--no-fixed", action="store_true", help="skip the fixed scenarios")
    ap.add_argument("--no-grade-changes", action="store_true",
                    help="no late grade changes (they take partners out of grade-scoped programs: a known bug)")
    ap.add_argument("--dump", help="write the SQL of the (last) scenario with mismatches to this file")
    ap.add_argument("--max-show", type=int, default=40, help="mismatch lines printed (default 40)")
    ap.add_argument("--negative-payout", choices=["rates", "nothing", "floor"], default=pm.NEGATIVE_PAYOUT,
                    help="reading of 'a payout measure below zero pays nothing': nothing at all "
                         "(default), or only the total floored at 0 (a lump sum reached still pays)")
    ap.add_argument("--no-verify", action="store_true",
                    help="do not run rebate.verify_period after every close")
    args = ap.parse_args()
    global VERIFY
    VERIFY = not args.no_verify
    pm.NEGATIVE_PAYOUT = args.negative_payout

    t0 = time.time()
    try:
        db = Psql()
        db.run("SET client_min_messages = warning", log=False)
        rows = db.run("SELECT coalesce(max(id), 0) FROM rebate.tenant", log=False)
        tenant = max(int(rows[0][0]) + 1, 1000)
    except (SetupError, DbError) as e:
        print("setup error: %s" % e, file=sys.stderr)
        return 2

    plan = []
    if args.only is None and not args.no_fixed:
        plan += [("fixed:" + name, fn, None) for name, fn in FIXED]
    idx = [args.only] if args.only is not None else range(args.scenarios)
    for i in idx:
        plan.append(("random:%d" % i, None, i))

    total_mm = 0
    lines = progress = 0
    failed = []
    shown = 0
    classes = Counter()
    for name, fn, i in plan:
        db.log = []
        try:
            if fn is not None:
                sc = Scenario(db, tenant, name)
                fn(sc)
            else:
                r = random.Random("%d/%d" % (args.seed, i))
                sc = Scenario(db, tenant, name,
                              rounding=r.choice(["half_up", "half_up", "half_even", "down", "up"]))
                random_scenario(sc, r, grade_changes=not args.no_grade_changes)
        except DbError as e:
            print("setup error in scenario %s (tenant %d): %s\n-- in:\n%s"
                  % (name, tenant, e.msg, e.sql[-3000:]), file=sys.stderr)
            if args.dump:
                with open(args.dump, "w") as f:
                    f.write("\n".join(db.log) + "\n")
            return 2
        tenant += 1
        lines += sc.checked_lines
        progress += sc.checked_progress
        if sc.mismatches:
            failed.append(name)
            total_mm += len(sc.mismatches)
            for m in sc.mismatches:
                classes[m.split(":")[1].strip().split(" ")[0] if m.startswith("close") else "progress"] += 1
                if shown < args.max_show:
                    print("MISMATCH [%s seed %d tenant %d] %s" % (name, args.seed, sc.t, m))
                    shown += 1
            if args.dump:
                with open(args.dump, "w") as f:
                    f.write("-- scenario %s, seed %d\n" % (name, args.seed))
                    f.write("\n".join(db.log) + "\n")
    db.close()
    took = time.time() - t0
    print("settlement differential: %d scenarios, %d statement lines and %d progress rows compared, "
          "%d mismatches in %d scenarios (%s), %.1f s, seed %d"
          % (len(plan), lines, progress, total_mm, len(failed),
             ", ".join("%s %d" % kv for kv in sorted(classes.items())) or "-", took, args.seed))
    if failed:
        print("scenarios with mismatches: %s" % ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
