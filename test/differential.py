#!/usr/bin/env python3
"""Differential test: the rebate extension against test/reference.py.

Generates seeded random cases (schedules in messy-but-valid text form, among
them mixed scales of lump sums beside rates; bases, overachievement inputs,
tiered_payout inputs with and without a target, tiered_rebate_on_top inputs
(a period's basis on top of its tier window's earlier basis: retroactive and
incremental, mixed scales, caps, negative bases and windows), tiered_sum
groups, round_money inputs and a few invalid schedules), ships them to PostgreSQL in one psql session (\\copy into
TEMP tables, one SELECT per function family, \\copy the results out), and
compares every result with the independent Python reference.

Connection settings come only from the libpq environment (PGHOST, PGPORT,
PGUSER, PGDATABASE); the extension must already exist in PGDATABASE.

    PGDATABASE=rebate_diff python3 test/differential.py --cases 100000 [--seed N]

Exit status 0 when everything matches, 1 on any mismatch, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import csv
import decimal
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

decimal.getcontext().prec = 1000
decimal.getcontext().traps[decimal.Inexact] = True

DEFAULT_SEED = 20261123
CURRENCIES = sorted(ref.MINOR_UNITS)
MODES = ["half_up", "half_even", "down", "up"]
D = Decimal


# ---------------------------------------------------------------------------
# Random generation
# ---------------------------------------------------------------------------

class Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    # -- numbers ----------------------------------------------------------
    def dec(self, max_int: int, places: int) -> Decimal:
        """Uniform non-negative decimal in [0, max_int] with `places` decimals."""
        q = self.r.randint(0, max_int * 10 ** places)
        return D(q).scaleb(-places)

    def magnitude(self) -> int:
        """A power of ten for a scale's size: mostly 1..1e12, sometimes 20+ digits."""
        x = self.r.random()
        if x < 0.08:
            return self.r.randint(20, 26)
        return self.r.randint(0, 12)

    def messy_num(self, d: Decimal) -> str:
        """Plain text for d, sometimes with trailing fractional zeros."""
        s = ref.fmt(d)
        if self.r.random() < 0.35:
            k = self.r.randint(1, 3)
            s = s + ("0" * k if "." in s else "." + "0" * k)
        return s

    def sp(self, required: bool = False) -> str:
        x = self.r.random()
        if x < (0.0 if required else 0.45):
            return ""
        if x < 0.85:
            return " "
        if x < 0.95:
            return " " * self.r.randint(2, 4)
        return self.r.choice(["\t", "\n", " \t ", "\r\n"])

    def word(self, w: str) -> str:
        c = self.r.random()
        if c < 0.4:
            return w
        if c < 0.55:
            return w.upper()
        if c < 0.7:
            return w.capitalize()
        return "".join(ch.upper() if self.r.random() < 0.5 else ch for ch in w)

    # -- schedules ----------------------------------------------------------
    def values(self, kind: str, n: int) -> list:
        r = self.r
        out = []
        for _ in range(n):
            if kind == ref.PERCENT:
                c = r.random()
                if c < 0.05:
                    v = D(0)
                elif c < 0.08:
                    v = D(100)
                else:
                    v = self.dec(100, r.randint(0, 3))
                    if v > 100:
                        v = D(100)
            elif kind == ref.PER_UNIT:
                if r.random() < 0.05:   # tiny rates: effective_rate rounding ties
                    v = self.dec(1, r.randint(10, 14))
                else:
                    v = self.dec(10 ** r.randint(0, 4), r.randint(0, 4))
            else:
                v = self.dec(10 ** r.randint(0, 8), r.randint(0, 2))
            out.append(v)
        return out

    def thresholds(self, n: int, mag: int, places: int, first_zero: float) -> list:
        r = self.r
        unit = D(1).scaleb(-places)
        t = D(0) if r.random() < first_zero else self.dec(10 ** mag, places)
        out = [t]
        span = max(1, 10 ** mag // max(1, n))
        for _ in range(n - 1):
            gap = self.dec(span, places)
            if gap <= 0 or r.random() < 0.03:
                gap = unit  # adjacent thresholds one minor unit apart
            t = t + gap
            out.append(t)
        return out

    def n_tiers(self) -> int:
        return self.r.randint(13, 60) if self.r.random() < 0.04 else self.r.randint(1, 12)

    def kind_and_mode(self):
        r = self.r
        mode = r.choice([ref.RETROACTIVE, ref.INCREMENTAL])
        c = r.random()
        if c < 0.45:
            kind = ref.PERCENT
        elif c < 0.75 or mode == ref.INCREMENTAL:
            kind = ref.PER_UNIT
        else:
            kind = ref.LUMP_SUM
        return mode, kind

    def tier_kinds(self, mode: str, n: int) -> list:
        """Each tier's kind: mostly one kind, about a quarter mixed scales
        (lump sums beside rates of one kind, in either mode)."""
        r = self.r
        if n >= 2 and r.random() < 0.25:
            rate = r.choice([ref.PERCENT, ref.PER_UNIT])
            p_lump = r.choice([0.2, 0.4, 0.6])
            kinds = [ref.LUMP_SUM if r.random() < p_lump else rate for _ in range(n)]
            if all(k == ref.LUMP_SUM for k in kinds):
                kinds[r.randrange(n)] = rate
            if all(k != ref.LUMP_SUM for k in kinds):
                kinds[r.randrange(n)] = ref.LUMP_SUM
            return kinds
        _, kind = self.kind_and_mode()
        if kind == ref.LUMP_SUM and mode == ref.INCREMENTAL:
            kind = ref.PER_UNIT
        return [kind] * n

    def tier_values(self, kinds) -> list:
        return [self.values(k, 1)[0] for k in kinds]

    def cap_for(self, s_nocap: ref.Schedule, probe_bases) -> Decimal | None:
        r = self.r
        if r.random() >= 0.30:
            return None
        c = r.random()
        if c < 0.12:
            return D(0)
        typical = max([ref.tiered_rebate(b, s_nocap) for b in probe_bases] + [D(1)])
        factor = D(r.randint(5, 200)) / 100
        cap = (typical * factor).quantize(D(1).scaleb(-r.randint(0, 2)),
                                          rounding=decimal.ROUND_DOWN,
                                          context=decimal.Context(prec=1000))
        return max(cap, D(0))

    def schedule(self, ratio: bool = False) -> ref.Schedule:
        r = self.r
        mode = r.choice([ref.RETROACTIVE, ref.INCREMENTAL])
        n = self.n_tiers() if not ratio else r.randint(1, 8)
        kinds = self.tier_kinds(mode, n)
        if ratio:
            places = r.randint(0, 4)
            # achievement ratios such as 0.8, 1.0, 1.15
            start = D(0) if r.random() < 0.3 else self.dec(12, 1) / 10
            ts = [start]
            for _ in range(n - 1):
                gap = self.dec(1, places)
                if gap == 0:
                    gap = D(1).scaleb(-places)
                ts.append(ts[-1] + gap)
        else:
            ts = self.thresholds(n, self.magnitude(), r.randint(0, 4), 0.6)
        vs = self.tier_values(kinds)
        s = ref.Schedule(mode, kinds[0], tuple(ts), tuple(vs), None, tuple(kinds))
        probe = [ts[-1] * 2 + 1, ts[len(ts) // 2] + 1]
        cap = self.cap_for(s, probe)
        return ref.Schedule(mode, kinds[0], tuple(ts), tuple(vs), cap, tuple(kinds))

    def schedule_text(self, s: ref.Schedule) -> str:
        parts = [self.sp(), self.word(s.mode), self.sp()]
        for i, (t, v, k) in enumerate(zip(s.thresholds, s.values, s.kinds)):
            if i:
                parts += [self.sp(), ",", self.sp()]
            parts += [self.messy_num(t), self.sp(), ":", self.sp(), self.messy_num(v)]
            if k == ref.PERCENT:
                parts += [self.sp(), "%"]
            elif k == ref.PER_UNIT:
                parts += [self.sp(), self.word("per"), self.sp(True), self.word("unit")]
        if s.cap is not None:
            # "5cap 1" and "2%cap 1" need no space, but "unit" and "cap" are words
            parts += [self.sp(s.kinds[-1] == ref.PER_UNIT), self.word("cap"), self.sp(),
                      self.messy_num(s.cap)]
        parts.append(self.sp())
        return "".join(parts)

    # -- bases ---------------------------------------------------------------
    def basis_near(self, points) -> Decimal:
        r = self.r
        c = r.random()
        p = r.choice(points)
        if c < 0.25:
            return p
        if c < 0.40:
            return p - D("0.01")
        if c < 0.55:
            return p + D("0.01")
        if c < 0.60:
            return p + r.choice([D(1), D(-1)]) * D(1).scaleb(-r.randint(1, 6))
        if c < 0.65:
            return D(0)
        if c < 0.72:
            return -self.dec(10 ** r.randint(0, 12), r.randint(0, 6))
        if c < 0.77:
            return self.dec(10 ** r.randint(20, 28), r.randint(0, 6))
        hi = max(points) * 2 + 10
        hi_int = int(hi)
        return self.dec(max(hi_int, 1), r.randint(0, 6))

    def basis_text(self, b: Decimal) -> str:
        s = ref.fmt(b)
        if self.r.random() < 0.2:
            k = self.r.randint(1, 4)
            s = s + ("0" * k if "." in s else "." + "0" * k)
        return s

    # -- invalid schedules ------------------------------------------------------
    def invalid_schedule_text(self) -> str:
        r = self.r
        c = r.randrange(11)
        if c == 0:
            return "retroactive 10:1%, 10:2%"
        if c == 1:
            return "incremental 0:1%%, %s:2%%, %s:3%%" % (r.randint(50, 100), r.randint(1, 49))
        if c == 2:
            return "retroactive 0:%s%%" % ref.fmt(D(100) + D(r.randint(1, 999)).scaleb(-3))
        if c == 3:
            return "incremental 0:-%s per unit" % r.randint(1, 9)
        if c == 4:
            return "retroactive 0:1%% cap -%s" % r.randint(1, 100)
        if c == 5:
            # rates of two kinds (also beside lump sums): 22023
            return r.choice(["retroactive 0:1%, 10:2 per unit",
                             "incremental 0:1 per unit, 10:2%",
                             "retroactive 0:100, 10:2%, 20:3 per unit",
                             "incremental 0:5 per unit, 10:300, 20:2%",
                             "incremental 0:1%%, %s:%s, %s:%s per unit" % (
                                 r.randint(1, 9), r.randint(0, 99), r.randint(10, 99), r.randint(0, 9))])
        if c == 6:
            # a scale of lump sums only, incremental
            return r.choice(["incremental 0:%s, 100:%s" % (r.randint(0, 99), r.randint(100, 999)),
                             "incremental %s:%s" % (r.randint(0, 99), r.randint(0, 999))])
        if c == 7:
            return r.choice(["retroactive", "incremental cap 5", "   ", "retroactive ,"])
        if c == 8:
            return r.choice(["progressive 0:1%", "retro 0:1%", "0:1%"])
        if c == 9:
            return "retroactive -%s:1%%" % r.randint(1, 100)
        return r.choice(["retroactive 0:1% 5", "retroactive 0:1%,", "retroactive 0:1%:2",
                         "retroactive 0 1%", "incremental 0:1 per", "retroactive 0:1% cap",
                         "retroactive 0:1% cap 5 cap 6", "retroactive 0:1.2.3%"])


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# Calls outside the functions' domains: each must raise an error.
ERROR_EXPRESSIONS = [
    "rebate.overachievement_rebate(100, 0, 'retroactive 0:1%')",
    "rebate.overachievement_rebate(100, -5, 'incremental 0:1%, 1:2%')",
    "rebate.overachievement_rebate(100, 50, 'retroactive 0:1%', 'bogus')",
    "rebate.overachievement_rebate(100, 50, 'retroactive 0:1%', '')",
    "rebate.round_money(1.005, 'XYZ')",
    "rebate.round_money(1.005, 'USD', 'bankers')",
    "rebate.round_money(1.005, 'USD', '')",
    # READING: tiered_payout's target is "as in overachievement_rebate": not positive is an error
    "rebate.tiered_payout(100, 100, 'retroactive 0:1%', 0)",
    "rebate.tiered_payout(100, 100, 'incremental 0:1%, 1:2', -1)",
    # docs/reference.md, Calculation: "a basis that is NaN or infinite is an error"
    "rebate.tiered_rebate_on_top(100, 'NaN', 'retroactive 0:1%')",
    "rebate.tiered_rebate_on_top('NaN', 100, 'incremental 0:1%')",
    "rebate.tiered_rebate_on_top('Infinity', 100, 'retroactive 0:1%')",
    "rebate.tiered_rebate_on_top(100, '-Infinity', 'incremental 0:1%, 10:2%')",
]

# Invalid schedule texts whose documented SQLSTATE the test checks too:
# rates of two kinds are a well-formed value that is not allowed (22023).
KIND_MIX_STATE = "22023"

# Fixed cases beyond the worked examples: (schedule, basis).  The first two
# make effective_rate meet an exact tie at the 13th decimal (5e-13, 2.5e-12).
FIXED_MAIN = [
    ("incremental 0:0 per unit, 1999999999999:1 per unit", "2000000000000"),
    ("retroactive 0:0.0000000000025 per unit", "1"),
    ("retroactive 0:0.0000000000025 per unit", "-1"),
    ("incremental 0:10%, 1000:25%", "1000"),
    ("incremental 0:10%, 1000:25%", "999.99"),
    ("incremental 5:10%, 1000:25% cap 0", "1000"),
    ("retroactive 5:100 cap 50", "5"),
    ("retroactive 5:100 cap 50", "4.999999"),
    ("incremental 0:100%", "123456789012345678901234.123456"),
    # mixed scales, the examples of docs/reference.md and their edges
    ("retroactive 1000:100, 5000:2%", "999.99"),
    ("retroactive 1000:100, 5000:2%", "4999.99"),
    ("retroactive 1000:100, 5000:2%", "5000"),
    ("incremental 0:1%, 500:30, 800:5%", "499.99"),
    ("incremental 0:1%, 500:30, 800:5%", "500"),
    ("incremental 0:1%, 500:30, 800:5%", "1000"),
    ("incremental 0:30, 500:1 per unit cap 100", "700"),
    ("retroactive 0:5, 10:1 per unit, 20:7", "-1"),
]

# Fixed tiered_payout cases: (schedule, basis, payout, target or None or 'NULL').
# The docs' examples, exact ties at the 21st decimal (half away from zero),
# payouts of 0 and below, basis 0, lump sums at threshold 0.
FIXED_PAYOUT = [
    ("retroactive 1000:3%", "1200", "135000", None),
    ("incremental 0:1%, 1000:3%", "1500", "135000", None),
    ("retroactive 1000:100, 5000:2%", "6000", "60000", None),
    ("retroactive 1.2:20 per unit", "1500", "1000", "1000"),
    ("incremental 0:1%, 15:3%", "19", "19000", None),
    ("incremental 0:1 per unit", "2", "0.000000000000000000015", None),
    ("incremental 0:1 per unit", "2", "0.000000000000000000025", None),
    ("incremental 0:1 per unit, 1:2 per unit", "2", "0.00000000000000000001", None),
    ("incremental 0:1 per unit, 1:2 per unit", "3", "1", None),
    ("incremental 0:1 per unit, 1:2 per unit", "3", "2", None),
    ("retroactive 0:1%", "0", "100", None),
    ("incremental 0:1%, 0.5:7", "0", "100", None),
    ("incremental 0:7, 10:1%", "0", "100", None),
    ("incremental 0:7, 10:1%", "-5", "100", None),
    ("retroactive 0:1%", "100", "0", None),
    ("retroactive 0:1%", "100", "-50", None),
    ("retroactive 1000:100", "2000", "-5", None),
    ("incremental 0:1%, 1000:50", "2000", "-5", None),
    ("incremental 0:1%, 1000:50", "2000", "-50000", None),
    ("incremental 0:1%, 1000:50 cap 30", "2000", "1000", None),
    ("retroactive 0:1%", "100", "100", "NULL"),
    ("retroactive 0.8:1%, 1:2% cap 5", "100", "1000", "100"),
]


# Fixed tiered_rebate_on_top cases: (schedule, below, basis); None is NULL.
# The docs' examples (docs/reference.md, the year-to-date example of
# docs/programs.md), thresholds crossed exactly by the window, lump sums
# reached by the window or by the period, negative bases and windows, caps.
FIXED_TOP = [
    ("retroactive 0:1%, 100000:2%", "60000", "50000"),
    ("incremental 0:1%, 100000:2%", "60000", "50000"),
    ("incremental 0:1%, 15000:3%", "0", "9000"),
    ("incremental 0:1%, 15000:3%", "9000", "10000"),
    ("retroactive 0:1%, 15000:3%", "9000", "6000"),
    ("retroactive 0:1%, 15000:3%", "9000", "5999.99"),
    ("retroactive 5000:2%, 20000:4%", "-3000", "7000"),
    ("incremental 5000:2%, 20000:4%", "-3000", "30000"),
    ("retroactive 0:1%", "500", "-200"),
    ("incremental 0:1%, 100:2%", "500", "-200"),
    ("retroactive 1000:100, 5000:2%", "900", "100"),
    ("retroactive 1000:100, 5000:2%", "4000", "-10"),
    ("retroactive 1000:100, 5000:2%", "4000", "2000"),
    ("incremental 0:1%, 500:30, 800:5%", "400", "200"),
    ("incremental 0:1%, 500:30, 800:5%", "600", "400"),
    ("incremental 0:1%, 500:30, 800:5%", "600", "-100"),
    ("incremental 0:1%, 100000:2% cap 500", "60000", "50000"),
    ("retroactive 0:1%, 100000:2% cap 0", "60000", "50000"),
    ("incremental 0:10 per unit, 5:12 per unit", "3", "4"),
    ("retroactive 0:10 per unit, 5:12 per unit", "3", "0"),
    ("retroactive 0:10 per unit, 5:12 per unit", "0", "0"),
    ("retroactive 0:1%", None, "100"),
    ("retroactive 0:1%", "100", None),
]


# ---------------------------------------------------------------------------
# Case construction
# ---------------------------------------------------------------------------

def build_cases(seed: int, n_cases: int):
    g = Gen(seed)
    r = g.r
    sched_rows = []          # (sid, text, Schedule)
    main_rows = []           # (id, sid, basis_text, basis)
    over_rows = []           # (id, sid, actual_t, target_t, apply_to|None, actual, target)
    agg_rows = []            # (gid, sid, basis_text|None)
    agg_groups = {}          # gid -> (sid, [basis|None])
    money_rows = []          # (id, amount_t, currency|None, mode|None, amount)
    invalid_rows = []        # (iid, text)
    invalid_state = {}       # iid -> SQLSTATE the docs name, where checked
    pay_rows = []            # (id, sid, basis_t, payout_t, target_t|None|'NULL', basis, payout, target|None)
    top_rows = []            # (id, sid, below_t|None, basis_t|None, below|None, basis|None)

    def add_schedule(s: ref.Schedule, text: str | None = None) -> int:
        sid = len(sched_rows) + 1
        if text is None:
            text = g.schedule_text(s)
        parsed = ref.parse_schedule(text)     # the reference must accept it
        assert parsed == s, (text, parsed, s)
        sched_rows.append((sid, text, s))
        return sid

    # Fixed cases: the worked examples of the specification.
    for text, basis, _expected in ref.WORKED_EXAMPLES:
        sid = add_schedule(ref.parse_schedule(text), text)
        main_rows.append((len(main_rows) + 1, sid, basis, D(basis)))
    sid = add_schedule(ref.parse_schedule(
        "Retroactive 0:1.50%,100000:2.0%, 500000 : 3.5 %  CAP 20000.00"),
        "Retroactive 0:1.50%,100000:2.0%, 500000 : 3.5 %  CAP 20000.00")
    for b in ["0", "99999.99", "100000", "600000", "2000000", "-5"]:
        main_rows.append((len(main_rows) + 1, sid, b, D(b)))
    for text, b in FIXED_MAIN:
        sid = add_schedule(ref.parse_schedule(text), text)
        main_rows.append((len(main_rows) + 1, sid, b, D(b)))
    for text, b, p, t in FIXED_PAYOUT:
        sid = add_schedule(ref.parse_schedule(text), text)
        pay_rows.append((len(pay_rows) + 1, sid, b, p, t, D(b), D(p),
                         None if t in (None, "NULL") else D(t)))

    for text, lo, b in FIXED_TOP:
        sid = add_schedule(ref.parse_schedule(text), text)
        top_rows.append((len(top_rows) + 1, sid, lo, b, None if lo is None else D(lo),
                         None if b is None else D(b)))

    n_money = n_cases * 15 // 100
    n_top = n_cases * 10 // 100
    n_over = n_cases * 20 // 100
    n_groups = max(50, n_cases // 40)
    n_invalid = max(20, n_cases // 500)
    n_pay = n_cases * 12 // 100
    n_main_cases = max(0, n_cases - n_money - n_over - n_groups - n_invalid - n_pay - n_top)

    # tiered_rebate / tier_index / next_tier_gap / effective_rate
    main_cases = len(sched_rows) + 4 * len(main_rows)
    while main_cases < n_main_cases:
        s = g.schedule()
        sid = add_schedule(s)
        main_cases += 1
        points = list(s.thresholds)
        for _ in range(r.randint(2, 8)):
            b = g.basis_near(points)
            main_rows.append((len(main_rows) + 1, sid, g.basis_text(b), b))
            main_cases += 4

    # overachievement_rebate
    while len(over_rows) < n_over:
        s = g.schedule(ratio=True)
        sid = add_schedule(s)
        for _ in range(r.randint(3, 12)):
            if r.random() < 0.1:
                target = D(r.randint(1, 99)).scaleb(-2)
            else:
                target = g.dec(10 ** r.randint(0, 9), r.randint(0, 2))
                if target <= 0:
                    target = D("0.01")
            pts = [t * target for t in s.thresholds] + [target]
            actual = g.basis_near(pts)
            apply_to = r.choice(["total", "excess", "total", "excess", None])
            over_rows.append((len(over_rows) + 1, sid, g.basis_text(actual),
                              g.basis_text(target), apply_to, actual, target))

    # tiered_payout: thresholds on one measure, paying on another
    def payout_for(b: Decimal) -> Decimal:
        c = r.random()
        if c < 0.40:           # a price: units -> amount, or amount -> units
            price = g.dec(10 ** r.randint(0, 4), r.randint(0, 3))
            if r.random() < 0.3:
                price = g.dec(1, r.randint(1, 6))
            p = b * price
        elif c < 0.55:
            p = g.dec(10 ** r.randint(0, 12), r.randint(0, 6))
        elif c < 0.67:
            p = -g.dec(10 ** r.randint(0, 9), r.randint(0, 4))
        elif c < 0.73:
            p = D(0)
        elif c < 0.80:          # far below the 20th decimal: rounding ties and zeros
            p = (D(r.randint(1, 999)) * r.choice([1, 5])).scaleb(-r.randint(18, 24))
        elif c < 0.85:
            p = g.dec(10 ** r.randint(20, 26), r.randint(0, 4))
        else:
            p = b
        if p.as_tuple().exponent < -40:
            p = p.quantize(D(1).scaleb(-40), rounding=decimal.ROUND_DOWN,
                           context=decimal.Context(prec=1000))
        return p

    while len(pay_rows) < n_pay:
        ratio = r.random() < 0.3
        s = g.schedule(ratio=ratio)
        sid = add_schedule(s)
        for _ in range(r.randint(2, 8)):
            if ratio and r.random() < 0.9:
                if r.random() < 0.1:
                    target = D(r.randint(1, 99)).scaleb(-2)
                else:
                    target = g.dec(10 ** r.randint(0, 9), r.randint(0, 2))
                    if target <= 0:
                        target = D("0.01")
                pts = [t * target for t in s.thresholds] + [target]
                tt = g.basis_text(target)
            else:
                target = None
                pts = list(s.thresholds)
                tt = "NULL" if r.random() < 0.1 else None
            b = g.basis_near(pts)
            if r.random() < 0.05:
                b = D(0)
            p = payout_for(b)
            pay_rows.append((len(pay_rows) + 1, sid, g.basis_text(b), g.basis_text(p), tt, b, p, target))

    # tiered_rebate_on_top: a period's basis on top of its window's earlier basis
    while len(top_rows) < n_top:
        s = g.schedule()
        sid = add_schedule(s)
        points = list(s.thresholds)
        for _ in range(r.randint(2, 8)):
            c = r.random()
            below = g.basis_near(points)
            if c < 0.1:
                below = D(0)
            c = r.random()
            if c < 0.45:
                # the window's total lands near a threshold
                basis = g.basis_near(points) - below
            elif c < 0.55:
                basis = D(0)
            elif c < 0.70:
                basis = -g.dec(10 ** r.randint(0, 9), r.randint(0, 4))
            else:
                basis = g.basis_near(points)
            top_rows.append((len(top_rows) + 1, sid, g.basis_text(below), g.basis_text(basis),
                             below, basis))

    # tiered_sum
    main_sids = [row[0] for row in sched_rows]
    for gid in range(1, n_groups + 1):
        if r.random() < 0.3:
            sid = r.choice(main_sids)
            s = sched_rows[sid - 1][2]
        else:
            s = g.schedule()
            sid = add_schedule(s)
        k = r.randint(1, 50)
        all_null = r.random() < 0.03
        bases = []
        mag = r.randint(0, 9)
        for _ in range(k):
            if all_null or r.random() < 0.1:
                bases.append(None)
            elif r.random() < 0.15:
                bases.append(-g.dec(10 ** mag, r.randint(0, 6)))
            elif r.random() < 0.02:
                bases.append(g.dec(10 ** 22, r.randint(0, 6)))
            else:
                bases.append(g.dec(10 ** mag, r.randint(0, 6)))
        agg_groups[gid] = (sid, bases)
        for b in bases:
            agg_rows.append((gid, sid, None if b is None else g.basis_text(b)))
    r.shuffle(agg_rows)

    # round_money
    for i in range(1, n_money + 1):
        cur = r.choice(CURRENCIES)
        mode = r.choice(MODES)
        places = ref.MINOR_UNITS[cur]
        c = r.random()
        intpart = r.randint(0, 10 ** r.randint(0, 12))
        if c < 0.35:           # exact half of the minor unit: x.xx5
            amt = D(intpart) + (D(r.randint(0, 10 ** places - 1)) * 10 + 5).scaleb(-(places + 1))
        elif c < 0.45:         # already at the minor unit (or coarser)
            amt = D(intpart) + D(r.randint(0, 10 ** places)).scaleb(-places)
        else:
            amt = g.dec(10 ** r.randint(0, 12), r.randint(0, 6))
        if r.random() < 0.4:
            amt = -amt
        if r.random() < 0.03:
            cur_arg, mode_arg = None, None          # round_money(amount)
        elif r.random() < 0.03:
            cur_arg, mode_arg = cur, None           # round_money(amount, currency)
        else:
            cur_arg, mode_arg = cur, mode
        money_rows.append((i, g.basis_text(amt), cur_arg, mode_arg, amt))

    # invalid input: SQL expressions that must raise an error
    for i in range(1, n_invalid + 1):
        if r.random() < 0.8:
            text = g.invalid_schedule_text()
            try:
                ref.parse_schedule(text)
            except ref.ScheduleError:
                pass
            else:
                raise AssertionError("reference accepts invalid schedule %r" % text)
            expr = "%s::rebate.tier_schedule" % sql_literal(text)
            if _rate_kinds_mixed(text):
                invalid_state[i] = KIND_MIX_STATE
        else:
            expr = r.choice(ERROR_EXPRESSIONS)
        invalid_rows.append((i, expr))

    return dict(sched=sched_rows, main=main_rows, over=over_rows, agg=agg_rows,
                agg_groups=agg_groups, money=money_rows, invalid=invalid_rows,
                invalid_state=invalid_state, pay=pay_rows, top=top_rows)


def _rate_kinds_mixed(text: str) -> bool:
    """Whether an (invalid) schedule text is well-formed but has rates of both kinds."""
    t = text.lower()
    return "%" in t and "per unit" in t and not any(
        x in t for x in ("-", "%%", ",,", "cap 5 cap"))


# ---------------------------------------------------------------------------
# Running the extension
# ---------------------------------------------------------------------------

def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        for row in rows:
            w.writerow(["" if v is None else v for v in row])


def read_csv(path):
    with open(path, newline="") as f:
        return [[None if v == "" else v for v in row] for row in csv.reader(f)]


SETUP_SQL = r"""
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE TEMP TABLE d_sched (sid int, txt text);
CREATE TEMP TABLE d_main (id int, sid int, basis numeric);
CREATE TEMP TABLE d_over (id int, sid int, actual numeric, target numeric, apply_to text);
CREATE TEMP TABLE d_agg (gid int, sid int, basis numeric);
CREATE TEMP TABLE d_money (id int, amount numeric, currency text, mode text);
CREATE TEMP TABLE d_invalid (id int, txt text);
CREATE TEMP TABLE d_pay (id int, sid int, basis numeric, payout numeric, target text);
CREATE TEMP TABLE d_top (id int, sid int, below numeric, basis numeric);
\copy d_sched FROM '{dir}/sched.csv' WITH (FORMAT csv)
\copy d_main FROM '{dir}/main.csv' WITH (FORMAT csv)
\copy d_over FROM '{dir}/over.csv' WITH (FORMAT csv)
\copy d_agg FROM '{dir}/agg.csv' WITH (FORMAT csv)
\copy d_money FROM '{dir}/money.csv' WITH (FORMAT csv)
\copy d_invalid FROM '{dir}/invalid.csv' WITH (FORMAT csv)
\copy d_pay FROM '{dir}/pay.csv' WITH (FORMAT csv)
\copy d_top FROM '{dir}/top.csv' WITH (FORMAT csv)
CREATE FUNCTION pg_temp.try_cast(t text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN RETURN t::rebate.tier_schedule::text;
EXCEPTION WHEN others THEN RETURN 'ERROR: ' || SQLERRM; END $$;
CREATE FUNCTION pg_temp.try_expr(e text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN EXECUTE 'SELECT (' || e || ')::text' INTO r; RETURN r;
EXCEPTION WHEN others THEN RETURN 'ERROR: ' || SQLERRM || ' [' || SQLSTATE || ']'; END $$;
\copy (SELECT id, pg_temp.try_expr(txt) FROM d_invalid ORDER BY id) TO '{dir}/out_invalid.csv' WITH (FORMAT csv)
\copy (SELECT 1, rebate.tiered_sum(basis, 'retroactive 0:1%') FROM d_agg WHERE false) TO '{dir}/out_empty.csv' WITH (FORMAT csv)
"""

FAST_SQL = r"""
CREATE TEMP TABLE d_ps AS SELECT sid, txt::rebate.tier_schedule AS ts FROM d_sched;
ANALYZE d_ps; ANALYZE d_main; ANALYZE d_over; ANALYZE d_agg; ANALYZE d_pay; ANALYZE d_top;
\copy (SELECT sid, ts::text FROM d_ps ORDER BY sid) TO '{dir}/out_sched.csv' WITH (FORMAT csv)
\copy (SELECT m.id, rebate.tiered_rebate(m.basis, p.ts), rebate.tier_index(m.basis, p.ts), rebate.next_tier_gap(m.basis, p.ts), rebate.effective_rate(m.basis, p.ts) FROM d_main m JOIN d_ps p USING (sid) ORDER BY m.id) TO '{dir}/out_main.csv' WITH (FORMAT csv)
\copy (SELECT o.id, CASE WHEN o.apply_to IS NULL THEN rebate.overachievement_rebate(o.actual, o.target, p.ts) ELSE rebate.overachievement_rebate(o.actual, o.target, p.ts, o.apply_to) END FROM d_over o JOIN d_ps p USING (sid) ORDER BY o.id) TO '{dir}/out_over.csv' WITH (FORMAT csv)
\copy (SELECT a.gid, rebate.tiered_sum(a.basis, p.ts) FROM d_agg a JOIN d_ps p USING (sid) GROUP BY a.gid ORDER BY a.gid) TO '{dir}/out_agg.csv' WITH (FORMAT csv)
\copy (SELECT y.id, CASE WHEN y.target IS NULL THEN rebate.tiered_payout(y.basis, y.payout, p.ts) ELSE rebate.tiered_payout(y.basis, y.payout, p.ts, nullif(y.target, 'NULL')::numeric) END FROM d_pay y JOIN d_ps p USING (sid) ORDER BY y.id) TO '{dir}/out_pay.csv' WITH (FORMAT csv)
\copy (SELECT id, CASE WHEN currency IS NULL THEN rebate.round_money(amount) WHEN mode IS NULL THEN rebate.round_money(amount, currency) ELSE rebate.round_money(amount, currency, mode) END FROM d_money ORDER BY id) TO '{dir}/out_money.csv' WITH (FORMAT csv)
\copy (SELECT t.id, rebate.tiered_rebate_on_top(t.below, t.basis, p.ts) FROM d_top t JOIN d_ps p USING (sid) ORDER BY t.id) TO '{dir}/out_top.csv' WITH (FORMAT csv)
"""

# Parallel pass for tiered_sum: exercises the combine function and the
# transfer of partial states between processes.  Temp tables cannot be
# scanned by parallel workers, so this uses a short-lived regular table.
PARALLEL_SQL = r"""
DROP TABLE IF EXISTS {ptab};
CREATE UNLOGGED TABLE {ptab} AS SELECT a.gid, a.basis, p.ts FROM d_agg a JOIN d_ps p USING (sid);
ANALYZE {ptab};
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
SET enable_hashagg = off; SET parallel_leader_participation = off;
\copy (SELECT gid, rebate.tiered_sum(basis, ts) FROM {ptab} GROUP BY gid ORDER BY gid) TO '{dir}/out_agg_par.csv' WITH (FORMAT csv)
\o {dir}/plan_par.txt
EXPLAIN (COSTS OFF) SELECT gid, rebate.tiered_sum(basis, ts) FROM {ptab} GROUP BY gid ORDER BY gid;
\o
DROP TABLE {ptab};
"""

# Safe mode: the same queries, but each call catches its own error so that a
# failing case is reported as a mismatch instead of aborting the whole batch.
SAFE_SQL = r"""
CREATE FUNCTION pg_temp.try_ts(t text) RETURNS rebate.tier_schedule LANGUAGE plpgsql AS $$
BEGIN RETURN t::rebate.tier_schedule; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE TEMP TABLE d_ps AS SELECT sid, pg_temp.try_ts(txt) AS ts FROM d_sched;
CREATE FUNCTION pg_temp.s_main(b numeric, s rebate.tier_schedule, OUT r text, OUT i text, OUT g text, OUT e text) LANGUAGE plpgsql AS $$
BEGIN
  BEGIN r := rebate.tiered_rebate(b, s)::text; EXCEPTION WHEN others THEN r := 'ERROR: ' || SQLERRM; END;
  BEGIN i := rebate.tier_index(b, s)::text; EXCEPTION WHEN others THEN i := 'ERROR: ' || SQLERRM; END;
  BEGIN g := rebate.next_tier_gap(b, s)::text; EXCEPTION WHEN others THEN g := 'ERROR: ' || SQLERRM; END;
  BEGIN e := rebate.effective_rate(b, s)::text; EXCEPTION WHEN others THEN e := 'ERROR: ' || SQLERRM; END;
END $$;
CREATE FUNCTION pg_temp.s_over(a numeric, t numeric, s rebate.tier_schedule, ap text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF ap IS NULL THEN RETURN rebate.overachievement_rebate(a, t, s)::text; END IF;
  RETURN rebate.overachievement_rebate(a, t, s, ap)::text;
EXCEPTION WHEN others THEN RETURN 'ERROR: ' || SQLERRM; END $$;
CREATE FUNCTION pg_temp.s_pay(b numeric, y numeric, s rebate.tier_schedule, t text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF t IS NULL THEN RETURN rebate.tiered_payout(b, y, s)::text; END IF;
  RETURN rebate.tiered_payout(b, y, s, nullif(t, 'NULL')::numeric)::text;
EXCEPTION WHEN others THEN RETURN 'ERROR: ' || SQLERRM; END $$;
CREATE FUNCTION pg_temp.s_top(lo numeric, b numeric, s rebate.tier_schedule) RETURNS text LANGUAGE plpgsql AS $$
BEGIN RETURN rebate.tiered_rebate_on_top(lo, b, s)::text;
EXCEPTION WHEN others THEN RETURN 'ERROR: ' || SQLERRM; END $$;
CREATE FUNCTION pg_temp.s_agg(g int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN RETURN (SELECT rebate.tiered_sum(a.basis, p.ts) FROM d_agg a JOIN d_ps p USING (sid) WHERE a.gid = g)::text;
EXCEPTION WHEN others THEN RETURN 'ERROR: ' || SQLERRM; END $$;
CREATE FUNCTION pg_temp.s_money(a numeric, c text, m text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF c IS NULL THEN RETURN rebate.round_money(a)::text; END IF;
  IF m IS NULL THEN RETURN rebate.round_money(a, c)::text; END IF;
  RETURN rebate.round_money(a, c, m)::text;
EXCEPTION WHEN others THEN RETURN 'ERROR: ' || SQLERRM; END $$;
\copy (SELECT sid, pg_temp.try_cast(txt) FROM d_sched ORDER BY sid) TO '{dir}/out_sched.csv' WITH (FORMAT csv)
\copy (SELECT m.id, (x).r, (x).i, (x).g, (x).e FROM (SELECT m.id, pg_temp.s_main(m.basis, p.ts) AS x FROM d_main m JOIN d_ps p USING (sid)) m ORDER BY m.id) TO '{dir}/out_main.csv' WITH (FORMAT csv)
\copy (SELECT o.id, pg_temp.s_over(o.actual, o.target, p.ts, o.apply_to) FROM d_over o JOIN d_ps p USING (sid) ORDER BY o.id) TO '{dir}/out_over.csv' WITH (FORMAT csv)
\copy (SELECT gid, pg_temp.s_agg(gid) FROM (SELECT DISTINCT gid FROM d_agg) q ORDER BY gid) TO '{dir}/out_agg.csv' WITH (FORMAT csv)
\copy (SELECT y.id, pg_temp.s_pay(y.basis, y.payout, p.ts, y.target) FROM d_pay y JOIN d_ps p USING (sid) ORDER BY y.id) TO '{dir}/out_pay.csv' WITH (FORMAT csv)
\copy (SELECT id, pg_temp.s_money(amount, currency, mode) FROM d_money ORDER BY id) TO '{dir}/out_money.csv' WITH (FORMAT csv)
\copy (SELECT t.id, pg_temp.s_top(t.below, t.basis, p.ts) FROM d_top t JOIN d_ps p USING (sid) ORDER BY t.id) TO '{dir}/out_top.csv' WITH (FORMAT csv)
"""


def run_psql(script: str, workdir: str) -> subprocess.CompletedProcess:
    path = os.path.join(workdir, "script.sql")
    with open(path, "w") as f:
        f.write(script)
    env = {k: v for k, v in os.environ.items()}
    env.setdefault("PGAPPNAME", "rebate-differential")
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", path],
                          env=env, capture_output=True, text=True)


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.compared = Counter()
        self.bad = Counter()
        self.examples = []

    def check(self, func: str, inputs: str, expected: str | None, got: str | None,
              numeric: bool = True):
        self.compared[func] += 1
        ok = expected == got
        if ok and numeric and expected is not None:
            ok = D(expected) == D(got)
        elif not ok and numeric and expected is not None and got is not None:
            try:
                if D(expected) == D(got):
                    got = got + "   (numerically equal, text differs)"
            except decimal.InvalidOperation:
                pass
        if not ok:
            self.bad[func] += 1
            if len(self.examples) < 20:
                self.examples.append((func, inputs, expected, got))


def show(v):
    return "NULL" if v is None else v


def compare(cases, outdir: str, rep: Report, parallel: bool):
    sched = {row[0]: row for row in cases["sched"]}

    for sid, got in read_csv(os.path.join(outdir, "out_sched.csv")):
        _, text, s = sched[int(sid)]
        rep.check("schedule::text", repr(text), ref.canonical(s), got, numeric=False)
    if len(read_csv(os.path.join(outdir, "out_sched.csv"))) != len(sched):
        rep.check("schedule::text", "row count", str(len(sched)), "different", numeric=False)

    main = {row[0]: row for row in cases["main"]}
    out = read_csv(os.path.join(outdir, "out_main.csv"))
    if len(out) != len(main):
        rep.check("tiered_rebate", "row count", str(len(main)), str(len(out)), numeric=False)
    for mid, g_reb, g_idx, g_gap, g_eff in out:
        _, sid, btext, b = main[int(mid)]
        s = sched[sid][2]
        inp = "basis=%s schedule='%s'" % (btext, ref.canonical(s))
        rep.check("tiered_rebate", inp, ref.fmt(ref.tiered_rebate(b, s)), g_reb)
        rep.check("tier_index", inp, str(ref.tier_index(b, s)), g_idx)
        rep.check("next_tier_gap", inp, ref.fmt(ref.next_tier_gap(b, s)), g_gap)
        rep.check("effective_rate", inp, ref.fmt(ref.effective_rate(b, s)), g_eff)

    over = {row[0]: row for row in cases["over"]}
    out = read_csv(os.path.join(outdir, "out_over.csv"))
    if len(out) != len(over):
        rep.check("overachievement_rebate", "row count", str(len(over)), str(len(out)), numeric=False)
    for oid, got in out:
        _, sid, at, tt, ap, a, t = over[int(oid)]
        s = sched[sid][2]
        inp = "actual=%s target=%s schedule='%s' apply_to=%s" % (
            at, tt, ref.canonical(s), "(default)" if ap is None else ap)
        exp = ref.overachievement_rebate(a, t, s, "total" if ap is None else ap)
        rep.check("overachievement_rebate", inp, ref.fmt(exp), got)

    pay = {row[0]: row for row in cases["pay"]}
    out = read_csv(os.path.join(outdir, "out_pay.csv"))
    if len(out) != len(pay):
        rep.check("tiered_payout", "row count", str(len(pay)), str(len(out)), numeric=False)
    for yid, got in out:
        _, sid, bt, pt, tt, b, p, t = pay[int(yid)]
        s = sched[sid][2]
        inp = "tiered_payout(%s, %s, '%s'%s)" % (bt, pt, ref.canonical(s),
                                                 "" if tt is None else ", " + tt)
        exp = ref.fmt(ref.tiered_payout(b, p, s, t))
        label = "tiered_payout"
        if got != exp and p < 0:
            # which other reading of a negative payout measure the code followed, if any
            floor = ref.fmt(ref.tiered_payout(b, p, s, t, negative_payout="floor"))
            nothing = ref.fmt(ref.tiered_payout(b, p, s, t, negative_payout="nothing"))
            if got == floor:
                label = "tiered_payout [payout < 0: the negative rate share taken off lump sums]"
            elif got == nothing:
                label = "tiered_payout [payout < 0: nothing paid, lump sums reached included]"
        rep.check(label, inp, exp, got)

    top = {row[0]: row for row in cases["top"]}
    out = read_csv(os.path.join(outdir, "out_top.csv"))
    if len(out) != len(top):
        rep.check("tiered_rebate_on_top", "row count", str(len(top)), str(len(out)), numeric=False)
    for tid, got in out:
        _, sid, lt, bt, lo, b = top[int(tid)]
        s = sched[sid][2]
        inp = "tiered_rebate_on_top(%s, %s, '%s')" % (show(lt), show(bt), ref.canonical(s))
        exp = None if lo is None or b is None else ref.fmt(ref.tiered_rebate_on_top(lo, b, s))
        rep.check("tiered_rebate_on_top", inp, exp, got)

    groups = cases["agg_groups"]
    for fname, label in [("out_agg.csv", "tiered_sum")] + (
            [("out_agg_par.csv", "tiered_sum (parallel)")] if parallel else []):
        out = read_csv(os.path.join(outdir, fname))
        if len(out) != len(groups):
            rep.check(label, "group count", str(len(groups)), str(len(out)), numeric=False)
        for gid, got in out:
            sid, bases = groups[int(gid)]
            s = sched[sid][2]
            inp = "group %s: %d rows (%d NULL), sum=%s schedule='%s'" % (
                gid, len(bases), sum(b is None for b in bases),
                show(ref.fmt(sum(b for b in bases if b is not None))
                     if any(b is not None for b in bases) else None),
                ref.canonical(s))
            rep.check(label, inp, ref.fmt(ref.tiered_sum(bases, s)), got)

    money = {row[0]: row for row in cases["money"]}
    out = read_csv(os.path.join(outdir, "out_money.csv"))
    if len(out) != len(money):
        rep.check("round_money", "row count", str(len(money)), str(len(out)), numeric=False)
    for mid, got in out:
        _, at, cur, mode, a = money[int(mid)]
        args = [at] + ([repr(cur)] if cur else []) + ([repr(mode)] if mode else [])
        exp = ref.round_money(a, cur or "CNY", mode or "half_up")
        rep.check("round_money", "round_money(%s)" % ", ".join(args),
                  ref.fmt_scaled(exp), got, numeric=False)

    inval = dict(cases["invalid"])
    states = cases["invalid_state"]
    for iid, got in read_csv(os.path.join(outdir, "out_invalid.csv")):
        ok = got is not None and got.startswith("ERROR: ")
        rep.check("invalid input rejected", inval[int(iid)],
                  "ERROR", "ERROR" if ok else "accepted as %r" % got, numeric=False)
        if ok and int(iid) in states:
            st = got.rsplit("[", 1)[-1].rstrip("]")
            rep.check("invalid input SQLSTATE", inval[int(iid)], states[int(iid)], st,
                      numeric=False)
    for _, got in read_csv(os.path.join(outdir, "out_empty.csv")):
        rep.check("tiered_sum", "no rows at all", None, got)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=100000,
                    help="minimum number of compared results (default 100000)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED,
                    help="random seed (default %d)" % DEFAULT_SEED)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--no-parallel", action="store_true",
                    help="skip the forced-parallel tiered_sum pass (needs CREATE on the database)")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    cases = build_cases(args.seed, args.cases)
    t_gen = time.monotonic() - t0

    workdir = tempfile.mkdtemp(prefix="rebate-diff-")
    try:
        write_csv(os.path.join(workdir, "sched.csv"), [(sid, t) for sid, t, _ in cases["sched"]])
        write_csv(os.path.join(workdir, "main.csv"), [(i, sid, bt) for i, sid, bt, _ in cases["main"]])
        write_csv(os.path.join(workdir, "over.csv"),
                  [(i, sid, at, tt, apl) for i, sid, at, tt, apl, _, _ in cases["over"]])
        write_csv(os.path.join(workdir, "agg.csv"), cases["agg"])
        write_csv(os.path.join(workdir, "money.csv"),
                  [(i, at, c, m) for i, at, c, m, _ in cases["money"]])
        write_csv(os.path.join(workdir, "invalid.csv"), cases["invalid"])
        write_csv(os.path.join(workdir, "pay.csv"),
                  [(i, sid, bt, pt, tt) for i, sid, bt, pt, tt, _, _, _ in cases["pay"]])
        write_csv(os.path.join(workdir, "top.csv"),
                  [(i, sid, lt, bt) for i, sid, lt, bt, _, _ in cases["top"]])

        fill = dict(dir=workdir, ptab="rebate_diff_agg_%d" % os.getpid())
        parallel = not args.no_parallel
        t1 = time.monotonic()
        script = SETUP_SQL.format(**fill) + FAST_SQL.format(**fill)
        if parallel:
            script += PARALLEL_SQL.format(**fill)
        res = run_psql(script, workdir)
        mode = "batch"
        if res.returncode != 0:
            sys.stdout.write("batch run failed, retrying case by case:\n%s\n" % res.stderr.strip())
            if parallel:
                run_psql("DROP TABLE IF EXISTS %s;" % fill["ptab"], workdir)
            parallel = False
            res = run_psql(SETUP_SQL.format(**fill) + SAFE_SQL.format(**fill), workdir)
            mode = "case-by-case"
            if res.returncode != 0:
                sys.stderr.write("differential: psql failed:\n%s\n" % res.stderr)
                return 2
        t_db = time.monotonic() - t1
        if parallel:
            with open(os.path.join(workdir, "plan_par.txt")) as f:
                plan = f.read()
            if "Partial" not in plan:
                print("note: the parallel tiered_sum pass did not get a partial-aggregate plan")

        t2 = time.monotonic()
        rep = Report()
        compare(cases, workdir, rep, parallel)
        t_cmp = time.monotonic() - t2
    finally:
        if args.keep:
            print("kept", workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print("differential: seed %d, %s run; generate %.1fs, database %.1fs, compare %.1fs"
          % (args.seed, mode, t_gen, t_db, t_cmp))
    for func in sorted(rep.compared):
        print("  %-28s %7d compared, %d mismatches" % (func, rep.compared[func], rep.bad[func]))
    if rep.examples:
        print("mismatches (up to 20):")
        for func, inp, exp, got in rep.examples:
            print("  %s: %s\n      expected %s\n      got      %s" % (func, inp, show(exp), show(got)))
    total = sum(rep.compared.values())
    nbad = sum(rep.bad.values())
    print("differential: compared %d cases, %d mismatches" % (total, nbad))
    return 1 if nbad else 0


if __name__ == "__main__":
    sys.exit(main())
