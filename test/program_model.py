"""Independent model of rebate programs and period settlement.

Written only from docs/programs.md and docs/statements.md (tables and columns
from docs/data-model.md), never from the extension's SQL or C, so that a
disagreement with the extension points at a mistake in one of the two.
Used by test/settlement_differential.py; ``python3 test/program_model.py``
runs a self-check on the worked examples of the documentation.

Everything is exact ``decimal.Decimal`` (the schedule arithmetic comes from
test/reference.py, itself an independent reference of the C functions).
Rounding happens once, on the statement line (``round_money`` in the
program's currency and the tenant's rounding mode).

Structure, so that new program forms slot in:

* ``World``            the documents and definitions (what the tables hold);
* ``counted_items``    which lines / payments / registrations a version counts
                       for a partner and on which day (date basis, grace days,
                       returns counted where their original counted);
* ``measure``          the basis over a period, counted up to a day;
* ``window_below``     a tier window's earlier basis (``tier_window``
                       to_date / rolling): the period is rated on top of it
                       (``reference.tiered_rebate_on_top``);
* ``earned_for``       one basis (and comparison) rated by a version's kind:
                       tiered, overachievement, per_unit, fixed; with a
                       ``payout_metric`` the thresholds read the metric and
                       the rates pay on the payout measure
                       (``reference.tiered_payout``); schedules may be mixed
                       scales (lump sums beside rates);
* ``stack``            one stacking group's rule (sum, max, exclusive, cascade;
                       a cascade reduces the money measures, the thresholds'
                       and the payout's, per program ``reduced_by_earlier`` /
                       ``reduces_later``);
* ``guaranteed``       a guaranteed minimum per period (``guarantee``) and what
                       carries along the run of periods (``guarantee_carry``
                       none / shortfall / excess / both): ``paid`` and
                       ``carry_forward``;
* ``results``          a program period's results for every partner, stacked;
* ``close_period``     what one close writes (final, interim, adjustment);
* ``progress``         rebate.progress(partner, as_of).

Readings chosen where the documentation leaves room are marked READING.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

D = Decimal
ZERO = D(0)
EXACT = decimal.Context(prec=1000, rounding=decimal.ROUND_HALF_EVEN)

COUNTED = ("approved", "shipped", "delivered", "closed")
MONEY_METRICS = ("net_sales", "gross_margin", "collected", "growth")
PAYOUT_METRICS = ("net_sales", "gross_margin", "quantity")
# docs/programs.md: "a payout measure below zero (credit notes above the sales)
# earns nothing from the rates (a lump sum the thresholds reach is still
# paid)" ('rates'; see reference.tiered_payout for the other readings, kept
# for settlement_differential.py --negative-payout).
NEGATIVE_PAYOUT = "rates"
MONEY_PAYOUTS = ("net_sales", "gross_margin")
LINE_METRICS = ("net_sales", "gross_margin", "quantity", "growth")
MINOR_UNITS = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "JPY": 0, "KRW": 0, "KWD": 3}


# ---------------------------------------------------------------------------
# Dates and periods
# ---------------------------------------------------------------------------

def add_months(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 + n
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def period_start(unit: str, d: dt.date) -> dt.date:
    if unit == "month":
        return dt.date(d.year, d.month, 1)
    if unit == "quarter":
        return dt.date(d.year, (d.month - 1) // 3 * 3 + 1, 1)
    if unit == "year":
        return dt.date(d.year, 1, 1)
    raise ValueError(unit)


def period_of(unit: str, effective: Tuple[dt.date, Optional[dt.date]], d: dt.date):
    """The program period [lo, hi) containing day d."""
    if unit == "range":
        return effective
    lo = period_start(unit, d)
    hi = add_months(lo, {"month": 1, "quarter": 3, "year": 12}[unit])
    return (lo, hi)


def round_money(x: Decimal, currency: str, mode: str) -> Decimal:
    places = MINOR_UNITS[currency]
    ctx = decimal.Context(prec=1000, rounding=ref._ROUNDING[mode])
    return x.quantize(D(1).scaleb(-places), context=ctx)


# ---------------------------------------------------------------------------
# Definitions and documents
# ---------------------------------------------------------------------------

@dataclass
class Partner:
    id: int
    code: str
    parent: Optional[int] = None
    grade: Optional[int] = None
    region: Optional[int] = None
    state: str = "active"


@dataclass
class Line:
    product: int
    qty: Decimal
    price: Decimal
    cost: Optional[Decimal]   # unit cost at the time (product's standard cost by default)

    @property
    def amount(self) -> Decimal:
        return EXACT.multiply(self.qty, self.price)


@dataclass
class Order:
    id: int
    code: str
    partner: int
    kind: str                       # order | return | credit_note
    order_date: dt.date
    status: str
    region: int                     # ship-to region
    original: Optional[int] = None
    currency: str = "CNY"
    delivered_on: Optional[dt.date] = None
    lines: List[Line] = field(default_factory=list)

    def total(self) -> Decimal:
        return sum((l.amount for l in self.lines), ZERO)


@dataclass
class Payment:
    id: int
    partner: int
    received_on: dt.date
    amount: Decimal
    currency: str = "CNY"


@dataclass
class Allocation:
    payment: int
    order: int
    amount: Decimal


@dataclass
class Target:
    partner: int
    metric: str
    lo: dt.date
    hi: dt.date
    value: Decimal


@dataclass
class EndCustomer:
    partner: int
    registered_on: dt.date
    region: Optional[int] = None


@dataclass
class Version:
    id: int
    program: int
    version: int
    effective: Tuple[dt.date, Optional[dt.date]]
    metric: str
    kind: str
    schedule: Optional[str] = None
    apply_to: str = "total"
    unit_amount: Optional[Decimal] = None
    unit_size: int = 1
    unit_percent: Optional[Decimal] = None
    fixed_amount: Optional[Decimal] = None
    fixed_minimum: Optional[Decimal] = None
    returns_reduce: bool = True
    period_unit: str = "quarter"
    date_basis: str = "order"
    grace_days: int = 0
    interim: bool = False
    region_ids: Tuple[int, ...] = ()
    category_ids: Tuple[int, ...] = ()
    product_ids: Tuple[int, ...] = ()
    grade_ids: Tuple[int, ...] = ()
    partner_ids: Tuple[int, ...] = ()
    group: Optional[int] = None
    priority: int = 100
    override_schedule: Optional[str] = None
    cap: Optional[Decimal] = None
    currency: str = "CNY"
    payout_metric: Optional[str] = None     # what the rates pay on; None: the metric
    reduced_by_earlier: bool = True         # cascade: its money measures reduced by earlier pay
    reduces_later: bool = True              # cascade: what it pays reduces the later programs
    guarantee: Optional[Decimal] = None     # the least paid per partner in scope per period
    guarantee_carry: str = "none"           # none | shortfall | excess | both
    tier_window: str = "period"             # period | to_date | rolling
    window_periods: Optional[int] = None    # rolling: this period and window_periods - 1 before

    def sched(self) -> Optional[ref.Schedule]:
        return ref.parse_schedule(self.schedule) if self.schedule else None

    def osched(self) -> Optional[ref.Schedule]:
        return ref.parse_schedule(self.override_schedule) if self.override_schedule else None

    def governs(self, d: dt.date) -> bool:
        lo, hi = self.effective
        return lo <= d and (hi is None or d < hi)


@dataclass
class Program:
    id: int
    code: str
    versions: List[Version] = field(default_factory=list)   # active versions only

    def governing(self, d: dt.date) -> Optional[Version]:
        for v in self.versions:
            if v.governs(d):
                return v
        return None


@dataclass
class Group:
    id: int
    code: str
    rule: str


class World:
    """What the tables hold, for one tenant."""

    def __init__(self, rounding: str = "half_up", currency: str = "CNY"):
        self.rounding = rounding
        self.currency = currency
        self.region_parent: Dict[int, Optional[int]] = {}
        self.category_parent: Dict[int, Optional[int]] = {}
        self.product_category: Dict[int, int] = {}
        self.product_cost: Dict[int, Optional[Decimal]] = {}
        self.partners: Dict[int, Partner] = {}
        self.orders: Dict[int, Order] = {}
        self.payments: Dict[int, Payment] = {}
        self.allocations: List[Allocation] = []
        self.targets: List[Target] = []
        self.customers: List[EndCustomer] = []
        self.groups: Dict[int, Group] = {}
        self.programs: Dict[int, Program] = {}

    # -- trees ---------------------------------------------------------------
    @staticmethod
    def _within(parent: Dict[int, Optional[int]], node: Optional[int], roots) -> bool:
        seen = 0
        while node is not None and seen < 1000:
            if node in roots:
                return True
            node = parent.get(node)
            seen += 1
        return False

    def region_in(self, region: Optional[int], roots) -> bool:
        return not roots or self._within(self.region_parent, region, roots)

    def category_in(self, cat: int, roots) -> bool:
        return not roots or self._within(self.category_parent, cat, roots)

    def children(self, partner: int) -> List[int]:
        return sorted(p.id for p in self.partners.values() if p.parent == partner)

    # -- order_paid_on -------------------------------------------------------
    def order_paid_on(self, order_id: int) -> Optional[dt.date]:
        """The day payments allocated to the order first covered it."""
        o = self.orders[order_id]
        total = o.total()
        allocs = sorted(((self.payments[a.payment].received_on, a.amount)
                         for a in self.allocations if a.order == order_id),
                        key=lambda x: x[0])
        cum = ZERO
        for day, amt in allocs:
            cum += amt
            if cum >= total:
                return day
        return None

    def version_of_program(self, program_id: int, P) -> Optional[Version]:
        """The version governing program period P (effective dates lie on period
        boundaries, so one version governs a whole period)."""
        return self.programs[program_id].governing(P[0])


# ---------------------------------------------------------------------------
# What a version counts
# ---------------------------------------------------------------------------

@dataclass
class Item:
    day: dt.date          # the day that places it into a period (after grace days)
    amount: Decimal = ZERO
    qty: Decimal = ZERO
    margin: Decimal = ZERO
    count: int = 0        # payments/registrations: 1 each; lines: 1 each


def partner_in_scope(w: World, v: Version, pid: int) -> bool:
    p = w.partners[pid]
    if v.partner_ids and pid not in v.partner_ids:
        return False
    if v.grade_ids and p.grade not in v.grade_ids:
        return False
    return True


def base_day(w: World, v: Version, o: Order) -> Optional[dt.date]:
    """The date that puts a document into a period, by the version's date basis."""
    if v.date_basis == "order":
        return o.order_date
    if v.date_basis == "delivery":
        return o.delivered_on
    if v.date_basis == "payment":
        return w.order_paid_on(o.id)
    raise ValueError(v.date_basis)


def counted_items(w: World, v: Version, pid: int) -> List[Item]:
    """Every document the version counts for partner pid, with its day.

    Lines: orders, returns and credit notes in a counted status and the
    version's currency, the partner's own, lines in the product / category /
    region scope; returns and credit notes negative (or ignored when
    returns_reduce is off).  A return or credit note that refers to its
    original order counts on the day that order counts (READING: the original
    is placed by the version's date basis whatever its own status); one
    without a reference by its own date (READING: its own date under the
    version's date basis).  Payments count by the day received, end customers
    by the day registered.  Every day is moved back by grace_days.
    """
    if not partner_in_scope(w, v, pid):
        return []
    g = dt.timedelta(days=v.grace_days)
    out: List[Item] = []
    if v.metric in LINE_METRICS:
        for o in w.orders.values():
            if o.partner != pid or o.status not in COUNTED or o.currency != v.currency:
                continue
            sign = D(1)
            if o.kind in ("return", "credit_note"):
                if not v.returns_reduce:
                    continue
                sign = D(-1)
            placed = o
            if o.kind != "order" and o.original is not None:
                placed = w.orders[o.original]
            day = base_day(w, v, placed)
            if day is None:
                continue
            day = day - g
            if not w.region_in(o.region, v.region_ids):
                continue
            for ln in o.lines:
                if v.product_ids and ln.product not in v.product_ids:
                    continue
                if not w.category_in(w.product_category[ln.product], v.category_ids):
                    continue
                if o.kind == "credit_note":
                    # READING: a credit note is a price reduction and moves no goods:
                    # it takes its amount off sales and margin, nothing off quantity.
                    out.append(Item(day, -ln.amount, ZERO, -ln.amount, 1))
                    continue
                cost = ln.cost if ln.cost is not None else w.product_cost.get(ln.product)
                margin = ln.amount - EXACT.multiply(ln.qty, cost or ZERO)
                out.append(Item(day, sign * ln.amount, sign * ln.qty, sign * margin, 1))
    elif v.metric == "collected":
        for p in w.payments.values():
            if p.partner != pid or p.currency != v.currency:
                continue
            if not w.region_in(w.partners[pid].region, v.region_ids):
                continue
            out.append(Item(p.received_on - g, amount=p.amount, count=1))
    elif v.metric == "new_customers":
        for c in w.customers:
            if c.partner != pid:
                continue
            if not w.region_in(c.region if c.region is not None else w.partners[pid].region,
                               v.region_ids):
                continue
            out.append(Item(c.registered_on - g, amount=D(1), count=1))
    else:
        raise ValueError(v.metric)
    return out


@dataclass
class Measure:
    basis: Decimal
    unit_earned: Optional[Decimal]   # per_unit: what the units earn (before stacking/cap)
    documents: int
    payout: Optional[Decimal] = None  # the payout measure, where the version names one


def _item_value(metric: str, it: "Item") -> Decimal:
    if metric in ("net_sales", "growth", "collected", "new_customers"):
        return it.amount
    if metric == "gross_margin":
        return it.margin
    if metric == "quantity":
        return it.qty
    raise ValueError(metric)


def measure(w: World, v: Version, pid: int, P, until: dt.date) -> Measure:
    """The basis over period P = [lo, hi), documents counted up to `until`."""
    lo, hi = P
    basis = ZERO
    payout = ZERO if v.payout_metric else None
    docs = 0
    for it in counted_items(w, v, pid):
        if not (lo <= it.day < hi and it.day <= until):
            continue
        docs += it.count
        basis += _item_value(v.metric, it)
        if payout is not None:
            # the payout measure is counted from the same order lines
            payout += _item_value(v.payout_metric, it)
    unit = None
    if v.kind == "per_unit":
        unit = per_unit_earned(v, basis)
    return Measure(basis, unit, docs, payout)


def per_unit_earned(v: Version, basis: Decimal) -> Decimal:
    """unit_amount per full unit_size units (READING: of the period's basis),
    rounded down, or unit_percent of the amount; never negative."""
    if basis <= 0:
        return ZERO
    if v.unit_percent is not None:
        return EXACT.multiply(basis, v.unit_percent) / 100
    units = (basis / v.unit_size).to_integral_value(rounding=decimal.ROUND_FLOOR)
    return EXACT.multiply(units, v.unit_amount)


# ---------------------------------------------------------------------------
# Rating one basis
# ---------------------------------------------------------------------------

@dataclass
class Result:
    program: int
    version: Version
    partner: int
    component: str            # own | override
    P: Tuple[dt.date, dt.date]
    until: dt.date
    basis: Decimal
    comparison: Optional[Decimal]
    status: str
    earned: Decimal
    rebate: Decimal
    paid: Decimal
    documents: int = 0
    stacking: Optional[str] = None
    payout: Optional[Decimal] = None
    stacking_rule: Optional[str] = None     # the rule of the group it was stacked in
    guarantee: Optional[Decimal] = None     # programs with a minimum: the minimum
    carry_forward: Optional[Decimal] = None  # ... and what it carries to the next period
    below: Optional[Decimal] = None          # tier windows: the window's earlier basis


def earned_for(v: Version, basis: Decimal, comparison: Optional[Decimal], status: str,
               payout: Optional[Decimal] = None) -> Decimal:
    """What a basis earns under a version's kind, before the program's cap.

    With a payout_metric (tiered, overachievement on the total) the tiers are
    reached by the basis (times the target) and the rates pay on the payout
    measure: reference.tiered_payout (20-decimal share for incremental; a
    payout measure below zero pays nothing)."""
    if status != "ok":
        return ZERO
    if v.payout_metric and v.kind in ("tiered", "overachievement"):
        return ref.tiered_payout(basis, payout, v.sched(),
                                 comparison if v.kind == "overachievement" else None,
                                 negative_payout=NEGATIVE_PAYOUT)
    if v.kind == "tiered":
        return ref.tiered_rebate(basis, v.sched())
    if v.kind == "overachievement":
        return ref.overachievement_rebate(basis, comparison, v.sched(), v.apply_to)
    if v.kind == "per_unit":
        return per_unit_earned(v, basis)
    if v.kind == "fixed":
        return v.fixed_amount if basis >= v.fixed_minimum else ZERO
    raise ValueError(v.kind)


def capped(v: Version, earned: Decimal) -> Decimal:
    if v.cap is not None and earned > v.cap:
        return v.cap
    return earned


def comparison_for(w: World, v: Version, pid: int, P) -> Tuple[Optional[Decimal], str]:
    if v.kind == "overachievement":
        ts = [t.value for t in w.targets
              if t.partner == pid and t.metric == v.metric and P[0] <= t.lo and t.hi <= P[1]]
        if not ts:
            return None, "no_target"
        return sum(ts, ZERO), "ok"
    return None, "ok"


UNIT_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def window_start(v: Version, P) -> Optional[dt.date]:
    """The first day of the tier window of period P; None without a window.

    to_date: the start of the (calendar) year of P; rolling: window_periods - 1
    periods of the program's unit before P."""
    if v.tier_window == "to_date":
        return dt.date(P[0].year, 1, 1)
    if v.tier_window == "rolling":
        return add_months(P[0], -(v.window_periods - 1) * UNIT_MONTHS[v.period_unit])
    return None


def window_below(w: World, v: Version, pid: int, P) -> Optional[Decimal]:
    """The basis of the window's earlier periods: documents placed in
    [window start, start of P), counted by the version governing P.

    READING: the earlier periods are counted by the version of the period
    being paid (its scope, date basis, grace days), also where an earlier
    period had another version or none (the window is a span of days: "the
    year so far", "the last three months"); the scenarios keep the scope the
    same across versions, and start windowed programs on January 1st."""
    lo = window_start(v, P)
    if lo is None:
        return None
    if lo >= P[0]:
        return ZERO
    return measure(w, v, pid, (lo, P[0]), P[0] - dt.timedelta(days=1)).basis


def own_rebate(w: World, v: Version, pid: int, P, until: dt.date):
    """(measure, comparison, status, earned, rebate, below) of one partner in one
    period, before stacking and before a guaranteed minimum.

    A tier window rates the period's own basis on top of the window's
    earlier basis (reference.tiered_rebate_on_top: retroactive, the tier the
    whole window reaches pays its rate on the period's basis, or its lump
    sum; incremental, the bands the period's basis occupies)."""
    m = measure(w, v, pid, P, until)
    comp, status = comparison_for(w, v, pid, P)
    below = window_below(w, v, pid, P) if v.kind == "tiered" else None
    if below is not None:
        e = ref.tiered_rebate_on_top(below, m.basis, v.sched()) if status == "ok" else ZERO
    else:
        e = earned_for(v, m.basis, comp, status, m.payout)
    return m, comp, status, e, capped(v, e), below


def guarantee_run(w: World, v: Version, P) -> List[Tuple[Version, Tuple[dt.date, dt.date]]]:
    """The run of program periods that carry up to P (P last): back from P,
    every period whose governing version carries a minimum the same way
    (guarantee_carry) over the same period unit; it starts at the first
    period of the program so governed (READING: the run is broken by a
    period without such a version: a gap, no minimum, another carry or unit;
    the minimum itself may change along the run)."""
    run = [(v, P)]
    if v.guarantee_carry == "none":
        return run
    prog = w.programs[v.program]
    cur = P
    for _ in range(1000):
        prev_day = cur[0] - dt.timedelta(days=1)
        pv = prog.governing(prev_day)
        if (pv is None or pv.guarantee is None or pv.guarantee_carry != v.guarantee_carry
                or pv.period_unit != v.period_unit):
            break
        pP = period_of(pv.period_unit, pv.effective, prev_day)
        run.insert(0, (pv, pP))
        cur = pP
    return run


def guaranteed(w: World, v: Version, pid: int, P, until: dt.date, rebate_now: Decimal):
    """(paid, carry_forward) of a guaranteed program in period P, rebate E
    after the cap and minimum G per period (docs/programs.md):

      none       paid max(E, G); carries nothing (carry_forward 0)
      shortfall  paid max(G, E - R), R what is still to be recovered;
                 R' = R + paid - E; carry_forward -R'
      excess     paid max(E, G - B), B what is banked; B' = B + paid - G;
                 carry_forward B'
      both       all paid so far = max(rebates so far, minimums so far);
                 carry_forward = rebates so far - minimums so far

    Earlier periods of the run are counted with every document they hold now
    (to their last day): a late document in an earlier period changes what
    the later ones pay.  READING: a period of the run in which the partner is
    outside the version's partner scope pays nothing and carries nothing."""
    R = ZERO        # shortfall: still to be recovered; excess: banked
    sum_e = sum_g = cum = ZERO
    paid = cf = ZERO
    for pv, pP in guarantee_run(w, v, P):
        if pP == P:
            E = rebate_now
        elif not partner_in_scope(w, pv, pid):
            continue
        else:
            E = own_rebate(w, pv, pid, pP, pP[1] - dt.timedelta(days=1))[4]
        G = pv.guarantee
        carry = pv.guarantee_carry
        if carry == "none":
            paid, cf = max(E, G), ZERO
        elif carry == "shortfall":
            paid = max(G, E - R)
            R = R + paid - E
            cf = -R
        elif carry == "excess":
            paid = max(E, G - R)
            R = R + paid - G
            cf = R
        elif carry == "both":
            sum_e += E
            sum_g += G
            new = max(sum_e, sum_g)
            paid = new - cum
            cum = new
            cf = sum_e - sum_g
        else:
            raise ValueError(carry)
    return paid, cf


def own_result(w: World, v: Version, pid: int, P, until: dt.date) -> Result:
    if not partner_in_scope(w, v, pid):
        # outside the program's partner / grade scope: earns nothing (not even a
        # lump sum whose first threshold is 0, nor a guaranteed minimum)
        return Result(v.program, v, pid, "own", P, until, ZERO, None, "out_of_scope", ZERO, ZERO, ZERO, 0)
    m, comp, status, e, rb, below = own_rebate(w, v, pid, P, until)
    paid, g, cf = rb, None, None
    if v.guarantee is not None:
        # READING: the minimum is paid whatever the status (the random
        # scenarios give minimums only to kinds that are always 'ok').
        paid, cf = guaranteed(w, v, pid, P, until, rb)
        g = v.guarantee
    return Result(v.program, v, pid, "own", P, until, m.basis, comp, status, e, rb, paid, m.documents,
                  payout=m.payout, guarantee=g, carry_forward=cf, below=below)


def override_result(w: World, v: Version, pid: int, P, until: dt.date) -> Optional[Result]:
    """A parent's earnings on the summed basis of its direct sub-partners."""
    if v.override_schedule is None:
        return None
    kids = w.children(pid)
    if not kids:
        return None
    basis = ZERO
    docs = 0
    for k in kids:
        m = measure(w, v, k, P, until)
        basis += m.basis
        docs += m.documents
    e = ref.tiered_rebate(basis, v.osched())
    # READING: the program's cap bounds the override too (a partner earns at
    # most `cap` from the program per period, per component).
    rb = capped(v, e)
    return Result(v.program, v, pid, "override", P, until, basis, None, "ok", e, rb, rb, docs)


# ---------------------------------------------------------------------------
# Stacking
# ---------------------------------------------------------------------------

def stack(w: World, rule: str, group_code: str, results: List[Result]) -> None:
    """Combine one partner's own results of one group and period (in place)."""
    rs = sorted(results, key=lambda r: (r.version.priority, w.programs[r.program].code))
    for r in rs:
        r.stacking_rule = rule
    code = {r.program: w.programs[r.program].code for r in rs}
    if rule == "sum":
        for r in rs:
            r.paid = r.rebate
        return
    if rule == "max":
        best = None
        for r in rs:
            if best is None or r.rebate > best.rebate:
                best = r
        for r in rs:
            r.paid = r.rebate if r is best else ZERO
            r.stacking = "max in group %s: %s" % (
                group_code, "pays" if r is best else "pays %s instead" % code[best.program])
        return
    if rule == "exclusive":
        winner = next((r for r in rs if r.rebate > 0), None)
        for r in rs:
            r.paid = r.rebate if r is winner else ZERO
        return
    if rule == "cascade":
        # In priority order; a program reduced_by_earlier is rated again on its
        # money measures less what the earlier programs that reduce_later paid:
        # the thresholds' measure where it is money, the payout measure where
        # that is money (READING: both by the same amount).
        before = ZERO
        for r in rs:
            v = r.version
            basis_money = v.metric in MONEY_METRICS
            payout_money = v.payout_metric in MONEY_PAYOUTS
            if v.reduced_by_earlier and (basis_money or payout_money) and before != 0:
                b2 = r.basis - before if basis_money else r.basis
                p2 = r.payout - before if payout_money and r.payout is not None else r.payout
                e2 = earned_for(v, b2, r.comparison, r.status, p2)
                r.paid = capped(v, e2)
            else:
                r.paid = r.rebate
            if v.reduces_later:
                before += r.paid
        return
    raise ValueError(rule)


def results(w: World, program_id: int, P, until: dt.date, pids: List[int]) -> List[Result]:
    """The program period's results (own and override) for the partners,
    stacked with the other programs of its group."""
    v = w.version_of_program(program_id, P)
    if v is None:
        return []
    out = []
    for pid in pids:
        r = own_result(w, v, pid, P, until)
        if v.group is not None:
            g = w.groups[v.group]
            peers = [r]
            for q in w.programs.values():
                if q.id == program_id:
                    continue
                qv = q.governing(P[0])
                if qv is None or qv.group != v.group:
                    continue
                qP = period_of(qv.period_unit, qv.effective, P[0])
                peers.append(own_result(w, qv, pid, qP, until))
            stack(w, g.rule, g.code, peers)
        out.append(r)
        o = override_result(w, v, pid, P, until)
        if o is not None:
            out.append(o)
    return out


# ---------------------------------------------------------------------------
# Settlement
# ---------------------------------------------------------------------------

@dataclass
class StatementLine:
    close: Tuple[dt.date, dt.date]     # the statement's period
    partner: int
    program: int
    component: str
    P: Tuple[dt.date, dt.date]
    kind: str                          # final | interim | adjustment
    gross: Decimal
    already: Decimal
    net: Decimal
    currency: str
    result: Optional[Result] = None

    def key(self):
        return (self.close, self.partner, self.program, self.component, self.P, self.kind)


class Ledger:
    """Issued statement lines: what has been settled so far."""

    def __init__(self):
        self.issued: List[StatementLine] = []
        self.closes: list = []                # (close, its (program, P) jobs, whether it wrote lines)
        self.drafts: Dict[Tuple[dt.date, dt.date], List[StatementLine]] = {}
        self.draft_jobs: Dict[Tuple[dt.date, dt.date], set] = {}

    @property
    def settled_periods(self) -> set:
        """(program, P) settled so far (docs/statements.md: the settled span runs
        from the first period whose statements were issued to the last; a close
        that wrote no statement before the first one leaves nothing settled)."""
        with_lines = [c for c, _, wrote in self.closes if wrote]
        if not with_lines:
            return set()
        first, last = min(c[0] for c in with_lines), max(c[1] for c in with_lines)
        out = set()
        for c, jobs, _ in self.closes:
            if c[0] >= first and c[1] <= last:
                out |= jobs
        return out

    def already(self, partner, program, component, P) -> Decimal:
        return sum((l.net for l in self.issued
                    if (l.partner, l.program, l.component, l.P) == (partner, program, component, P)),
                   ZERO)

    def issue(self, close):
        lines = self.drafts.pop(close, [])
        self.issued.extend(lines)
        self.closes.append((close, self.draft_jobs.pop(close, set()), bool(lines)))


def closing_jobs(w: World, close) -> List[Tuple[int, Tuple[dt.date, dt.date], str, dt.date]]:
    """(program, P, kind, counted_until) for the program periods a close settles."""
    m1, m2 = close
    last = m2 - dt.timedelta(days=1)
    jobs = []
    for prog in sorted(w.programs.values(), key=lambda p: p.id):
        seen = set()
        for v in prog.versions:
            # final: every program period of the version ending inside the close
            d = m1
            while d < m2:
                if v.governs(d):
                    P = period_of(v.period_unit, v.effective, d)
                    if P[1] is not None and m1 < P[1] <= m2 and (prog.id, P) not in seen:
                        seen.add((prog.id, P))
                        jobs.append((prog.id, P, "final", P[1] - dt.timedelta(days=1)))
                d += dt.timedelta(days=1)
            # interim: the period still running on the last day closed
            if v.interim and v.period_unit in ("quarter", "year") and v.governs(last):
                P = period_of(v.period_unit, v.effective, last)
                if P[1] > m2 and (prog.id, P) not in seen:
                    seen.add((prog.id, P))
                    jobs.append((prog.id, P, "interim", last))
    return jobs


def listed_partners(w: World) -> List[int]:
    # Every partner; lines that would be all zero are treated as optional by the
    # comparison (which partners are "listed" only decides whether a zero line exists).
    return sorted(w.partners)


def settle(w: World, ledger: Ledger, close, prog_id: int, P, kind: str, until: dt.date,
           pids: List[int]) -> List[StatementLine]:
    """Lines settling program period P: every partner's result, and every
    (partner, component) that earlier statements settled for P even if it has
    no result now (a parent that lost its sub-partners: gross 0)."""
    v = w.version_of_program(prog_id, P)
    res = {(r.partner, r.component): r for r in results(w, prog_id, P, until, pids)}
    for l in ledger.issued:
        if l.program == prog_id and l.P == P and (l.partner, l.component) not in res:
            res[(l.partner, l.component)] = None
    out = []
    for (partner, component), r in sorted(res.items()):
        gross = round_money(r.paid, v.currency, w.rounding) if r is not None else ZERO
        already = ledger.already(partner, prog_id, component, P)
        if kind == "adjustment" and gross == already:
            continue          # written only when the result changed
        out.append(StatementLine(close, partner, prog_id, component, P, kind,
                                 gross, already, gross - already, v.currency, r))
    return out


def close_period(w: World, ledger: Ledger, close) -> List[StatementLine]:
    """The draft lines a close writes (replacing earlier drafts of the period)."""
    jobs = closing_jobs(w, close)
    pids = listed_partners(w)
    lines: List[StatementLine] = []
    job_keys = set()
    for prog_id, P, kind, until in jobs:
        job_keys.add((prog_id, P))
        lines.extend(settle(w, ledger, close, prog_id, P, kind, until, pids))
    # adjustments: every program period settled before and not settled now
    for prog_id, P in sorted(ledger.settled_periods, key=lambda x: (x[0], x[1])):
        if (prog_id, P) in job_keys:
            continue
        lines.extend(settle(w, ledger, close, prog_id, P, "adjustment",
                            P[1] - dt.timedelta(days=1), pids))
    ledger.drafts[close] = lines
    ledger.draft_jobs[close] = job_keys
    return lines


def next_tier_rebate(r: Result) -> Tuple[bool, Optional[Decimal]]:
    """(comparable, value) of progress's next_tier_rebate for a tiered program
    paying on another measure: "what that tier would pay on the payout measure
    counted so far".  READING: only for retroactive schedules without a cap
    (schedule's or program's) and a payout measure not below zero, where it is
    unambiguous: the next tier's rate times the payout measure, or its lump
    sum; NULL in the top tier."""
    v = r.version
    if not (v.kind == "tiered" and v.payout_metric and r.component == "own" and r.status == "ok"):
        return False, None
    if r.stacking_rule == "cascade":
        # READING: in a cascade the next tier is that of the reduced measures
        # (not documented); not compared.
        return False, None
    s = v.sched()
    if s.mode != ref.RETROACTIVE or s.cap is not None or v.cap is not None or r.payout < 0:
        return False, None
    i = ref.tier_index(r.basis, s)
    if i >= len(s.thresholds):
        return True, None
    if s.is_lump(i):
        return True, s.values[i]
    return True, EXACT.multiply(s.rate(i), r.payout)


def progress(w: World, pid: int, as_of: dt.date) -> List[Result]:
    """rebate.progress(partner, as_of): every program governing as_of, the
    period containing as_of, documents counted up to as_of, stacked."""
    out = []
    for prog in sorted(w.programs.values(), key=lambda p: p.code):
        v = prog.governing(as_of)
        if v is None:
            continue
        P = period_of(v.period_unit, v.effective, as_of)
        out.extend(results(w, prog.id, P, as_of, [pid]))
    return out


# ---------------------------------------------------------------------------
# Self-check: the worked examples of docs/programs.md and docs/statements.md
# ---------------------------------------------------------------------------

def _self_check() -> None:
    d = dt.date
    # docs/programs.md
    w = World()
    w.region_parent[7100] = None
    w.category_parent[7300] = None
    w.product_category[7401] = 7300
    w.product_cost[7401] = D(600)
    w.partners[7201] = Partner(7201, "D1", region=7100)
    w.partners[7202] = Partner(7202, "S1", parent=7201, region=7100)
    w.orders[7601] = Order(7601, "O1", 7202, "order", d(2026, 1, 10), "approved", 7100,
                           lines=[Line(7401, D(12), D(1000), None)])
    w.orders[7602] = Order(7602, "O2", 7202, "order", d(2026, 2, 20), "approved", 7100,
                           lines=[Line(7401, D(10), D(1000), None)])
    w.programs[7501] = Program(7501, "Q-TIER", [Version(
        1, 7501, 1, (d(2026, 1, 1), None), "net_sales", "tiered",
        schedule="retroactive 5000:2%, 20000:4%", override_schedule="retroactive 0:0.5%")])
    rs = progress(w, 7202, d(2026, 3, 31))
    assert [(r.basis, r.rebate) for r in rs] == [(D(22000), D(880))], rs
    rs = progress(w, 7201, d(2026, 3, 31))
    assert [(r.component, r.basis, r.rebate) for r in rs] == [
        ("own", 0, 0), ("override", 22000, 110)], rs
    w.orders[7603] = Order(7603, "R1", 7202, "return", d(2026, 4, 8), "approved", 7100,
                           original=7601, lines=[Line(7401, D(3), D(1000), None)])
    assert progress(w, 7202, d(2026, 3, 31))[0].rebate == 380
    w.groups[7701] = Group(7701, "BEST", "max")
    w.programs[7502] = Program(7502, "Q-UNIT", [Version(
        2, 7502, 1, (d(2026, 1, 1), None), "quantity", "per_unit", unit_amount=D(30),
        unit_size=1, group=7701, priority=1)])
    w.programs[7503] = Program(7503, "Q-FIX", [Version(
        3, 7503, 1, (d(2026, 1, 1), None), "net_sales", "fixed", fixed_amount=D(500),
        fixed_minimum=D(10000), group=7701, priority=2)])
    got = {w.programs[r.program].code: (r.rebate, r.paid)
           for r in progress(w, 7202, d(2026, 3, 31))}
    assert got == {"Q-FIX": (500, 0), "Q-TIER": (380, 380), "Q-UNIT": (570, 570)}, got
    # thresholds in one measure, payout on another: 19 units, 19,000 -> 270
    w.programs[7504] = Program(7504, "Q-QTY", [Version(
        4, 7504, 1, (d(2026, 1, 1), None), "quantity", "tiered",
        schedule="incremental 0:1%, 15:3%", payout_metric="net_sales")])
    got = [(r.basis, r.payout, r.rebate) for r in progress(w, 7202, d(2026, 3, 31))
           if r.program == 7504]
    assert got == [(19, 19000, 270)], got
    # cascade with reduced_by_earlier / reduces_later: 1900, 1710, 1900, 1539
    w.groups[7702] = Group(7702, "DEALS", "cascade")
    for pid, code, prio, flag in ((7513, "R-D3", 1, True), (7512, "R-D2", 2, True),
                                  (7511, "R-D1", 3, False), (7514, "R-D4", 4, True)):
        w.programs[pid] = Program(pid, code, [Version(
            pid, pid, 1, (d(2026, 1, 1), None), "net_sales", "tiered", schedule="retroactive 0:10%",
            group=7702, priority=prio, reduced_by_earlier=flag, reduces_later=flag)])
    got = {w.programs[r.program].code: r.paid for r in progress(w, 7202, d(2026, 3, 31))
           if w.programs[r.program].code.startswith("R-")}
    assert got == {"R-D1": 1900, "R-D2": 1710, "R-D3": 1900, "R-D4": 1539}, got
    # a minimum guaranteed per period, shortfall carried: 90 / 100 / 0 earned,
    # 95 / 95 / 95 paid, carrying -5 / 0 / -95
    w.programs[7521] = Program(7521, "M-GUAR", [Version(
        21, 7521, 1, (d(2026, 1, 1), None), "net_sales", "tiered", schedule="retroactive 0:1%",
        period_unit="month", partner_ids=(7202,), guarantee=D(95), guarantee_carry="shortfall")])
    got = [(r.rebate, r.guarantee, r.paid, r.carry_forward)
           for day_ in (d(2026, 1, 31), d(2026, 2, 28), d(2026, 3, 31))
           for r in progress(w, 7202, day_) if r.program == 7521]
    assert got == [(90, 95, 95, -5), (100, 95, 95, 0), (0, 95, 95, -95)], got
    # the other carries on the same rebates (90, 100, 0; minimum 95)
    for carry, want in (("none", [(95, 0), (100, 0), (95, 0)]),
                        ("excess", [(95, 0), (100, 5), (90, 0)]),
                        ("both", [(95, -5), (95, 0), (95, -95)])):
        w.programs[7521].versions[0].guarantee_carry = carry
        got = [(r.paid, r.carry_forward)
               for day_ in (d(2026, 1, 31), d(2026, 2, 28), d(2026, 3, 31))
               for r in progress(w, 7202, day_) if r.program == 7521]
        assert got == want, (carry, got)
    del w.programs[7521]
    # tier windows: year to date, incremental: January 90, February 180
    w.programs[7531] = Program(7531, "M-YTD", [Version(
        31, 7531, 1, (d(2026, 1, 1), None), "net_sales", "tiered",
        schedule="incremental 0:1%, 15000:3%", period_unit="month", tier_window="to_date")])
    got = [(r.basis, r.below, r.rebate) for day_ in (d(2026, 1, 31), d(2026, 2, 28))
           for r in progress(w, 7202, day_) if r.program == 7531]
    assert got == [(9000, 0, 90), (10000, 9000, 180)], got
    del w.programs[7531]

    # docs/statements.md
    w = World()
    w.region_parent[7210] = None
    w.category_parent[7230] = None
    w.product_category[7241] = 7230
    w.partners[7221] = Partner(7221, "A", region=7210)
    w.programs[7251] = Program(7251, "Q-VOL", [Version(
        7261, 7251, 1, (d(2026, 10, 1), None), "net_sales", "tiered",
        schedule="retroactive 5000:2%, 20000:4%", interim=True)])
    w.orders[7271] = Order(7271, "O1", 7221, "order", d(2026, 10, 10), "approved", 7210,
                           lines=[Line(7241, D(3), D(1000), None)])
    w.orders[7272] = Order(7272, "O2", 7221, "order", d(2026, 11, 20), "approved", 7210,
                           lines=[Line(7241, D(4), D(1000), None)])
    L = Ledger()
    oct_, nov, dec, jan = ((d(2026, 10, 1), d(2026, 11, 1)), (d(2026, 11, 1), d(2026, 12, 1)),
                           (d(2026, 12, 1), d(2027, 1, 1)), (d(2027, 1, 1), d(2027, 2, 1)))
    ls = close_period(w, L, oct_)
    assert [(l.kind, l.gross, l.net) for l in ls] == [("interim", 0, 0)], ls
    L.issue(oct_)
    ls = close_period(w, L, nov)
    assert [(l.kind, l.gross, l.already, l.net) for l in ls] == [("interim", 140, 0, 140)], ls
    L.issue(nov)
    w.orders[7273] = Order(7273, "O3", 7221, "order", d(2026, 12, 5), "approved", 7210,
                           lines=[Line(7241, D(20), D(1000), None)])
    ls = close_period(w, L, dec)
    assert [(l.kind, l.gross, l.already, l.net) for l in ls] == [("final", 1080, 140, 940)], ls
    L.issue(dec)
    w.orders[7274] = Order(7274, "R1", 7221, "return", d(2027, 1, 8), "approved", 7210,
                           original=7273, lines=[Line(7241, D(5), D(1000), None)])
    ls = close_period(w, L, jan)
    assert [(l.kind, l.P, l.gross, l.already, l.net) for l in ls] == [
        ("interim", (d(2027, 1, 1), d(2027, 4, 1)), 0, 0, 0),
        ("adjustment", (d(2026, 10, 1), d(2027, 1, 1)), 880, 1080, -200)], ls


_self_check()

if __name__ == "__main__":
    print("program model self-check passed")
