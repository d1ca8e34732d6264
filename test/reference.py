"""Independent reference implementation of the rebate extension's semantics.

This module is the *independent reference* used by test/differential.py.  It
is written from the specification of the extension (tier schedule text form,
tiered_rebate, tier_index, next_tier_gap, effective_rate,
overachievement_rebate, tiered_sum, tiered_payout, tiered_rebate_on_top,
round_money; mixed scales of lump sums beside rates), as docs/reference.md states it, not from the C
sources, so that a disagreement between the two points at a bug in one of
them.  Readings chosen where the documentation leaves room are marked
READING.

Only the standard library is used.  All arithmetic is exact: results are
computed with ``decimal`` under a context whose precision is far larger than
any value the tests produce, and with the Inexact signal trapped so that a
silently rounded intermediate result raises instead of passing unnoticed.
The one genuinely inexact operation (effective_rate's division) is done in
integer arithmetic with explicit rounding.
"""

from __future__ import annotations

import decimal
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import List, Optional, Tuple

__all__ = [
    "Schedule",
    "ScheduleError",
    "parse_schedule",
    "canonical",
    "fmt",
    "tiered_rebate",
    "tier_index",
    "next_tier_gap",
    "effective_rate",
    "overachievement_rebate",
    "tiered_sum",
    "tiered_payout",
    "tiered_rebate_on_top",
    "round_money",
    "MINOR_UNITS",
    "EXACT",
]

# Exact context: huge precision, and any rounding is an error.
EXACT = decimal.Context(prec=1000, rounding=decimal.ROUND_HALF_EVEN,
                        Emin=-999999, Emax=999999,
                        traps=[decimal.Inexact, decimal.InvalidOperation,
                               decimal.DivisionByZero, decimal.Overflow])

ZERO = Decimal(0)
HUNDRED = Decimal(100)

RETROACTIVE = "retroactive"
INCREMENTAL = "incremental"
PERCENT = "percent"
PER_UNIT = "per_unit"
LUMP_SUM = "lump_sum"
MIXED = "mixed"


class ScheduleError(ValueError):
    """The schedule text is malformed or violates a schedule constraint."""


@dataclass(frozen=True)
class Schedule:
    """A schedule.  `kinds` holds each tier's kind; `kind` is the common kind,
    or 'mixed' when lump sums stand beside rates (normalized on creation, so
    Schedule(mode, 'percent', ts, vs) and Schedule(mode, 'mixed', ts, vs,
    kinds=...) compare as the same value whenever they are)."""
    mode: str                      # 'retroactive' | 'incremental'
    kind: str                      # 'percent' | 'per_unit' | 'lump_sum' | 'mixed'
    thresholds: Tuple[Decimal, ...]
    values: Tuple[Decimal, ...]    # as written: 2.5 for 2.5%, 3 for 3 per unit
    cap: Optional[Decimal] = None
    kinds: Tuple[str, ...] = ()    # each tier's kind

    def __post_init__(self):
        if not self.kinds:
            if self.kind == MIXED:
                raise ValueError("a mixed schedule needs its tiers' kinds")
            object.__setattr__(self, "kinds", (self.kind,) * len(self.thresholds))
        else:
            ks = tuple(self.kinds)
            object.__setattr__(self, "kinds", ks)
            object.__setattr__(self, "kind", ks[0] if len(set(ks)) == 1 else MIXED)

    def is_lump(self, i: int) -> bool:
        return self.kinds[i] == LUMP_SUM

    def rate(self, i: int) -> Decimal:
        """Multiplier of tier i (0-based): p% -> p/100, v per unit -> v."""
        k = self.kinds[i]
        if k == PERCENT:
            return EXACT.divide(self.values[i], HUNDRED)  # exact: /100
        if k == PER_UNIT:
            return self.values[i]
        raise ValueError("lump-sum tiers have no rate")

    def rate_kind(self) -> Optional[str]:
        """The kind of the rates (percent / per_unit), None for lump sums only."""
        return next((k for k in self.kinds if k != LUMP_SUM), None)

    def scaled(self, factor: Decimal) -> "Schedule":
        """The same schedule with every threshold multiplied by factor."""
        return Schedule(self.mode, self.kind,
                        tuple(EXACT.multiply(t, factor) for t in self.thresholds),
                        self.values, self.cap, self.kinds)


# ---------------------------------------------------------------------------
# Text form
# ---------------------------------------------------------------------------

_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<num>-?" + _NUMBER + r")"
    r"|(?P<word>[A-Za-z]+)"
    r"|(?P<punct>[:,%])"
    r")")


def _tokenize(text: str) -> List[Tuple[str, str]]:
    tokens: List[Tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ScheduleError("unexpected character at %d in %r" % (pos, text))
        if m.group("num") is not None:
            tokens.append(("num", m.group("num")))
        elif m.group("word") is not None:
            tokens.append(("word", m.group("word").lower()))
        else:
            tokens.append(("punct", m.group("punct")))
        pos = m.end()
    return tokens


def parse_schedule(text: str) -> Schedule:
    """Parse and validate the text form of a tier schedule.

        schedule := mode tier { ',' tier } [ 'cap' number ]
        mode     := 'retroactive' | 'incremental'
        tier     := number ':' value
        value    := number '%' | number 'per' 'unit' | number

    Whitespace between tokens is insignificant, keywords are
    case-insensitive.  Raises ScheduleError for anything invalid.
    """
    toks = _tokenize(text)
    pos = 0

    def peek(k: int = 0) -> Tuple[str, str]:
        return toks[pos + k] if pos + k < len(toks) else ("eof", "")

    def take(kind: str, value: Optional[str] = None) -> str:
        nonlocal pos
        tk = peek()
        if tk[0] != kind or (value is not None and tk[1] != value):
            raise ScheduleError("expected %s %r, found %r" % (kind, value, tk))
        pos += 1
        return tk[1]

    mode = take("word")
    if mode not in (RETROACTIVE, INCREMENTAL):
        raise ScheduleError("unknown mode %r" % mode)

    thresholds: List[Decimal] = []
    values: List[Decimal] = []
    kinds: List[str] = []
    cap: Optional[Decimal] = None

    if peek()[0] != "num":
        raise ScheduleError("a schedule needs at least one tier")
    while True:
        thresholds.append(Decimal(take("num")))
        take("punct", ":")
        values.append(Decimal(take("num")))
        if peek() == ("punct", "%"):
            pos += 1
            kinds.append(PERCENT)
        elif peek() == ("word", "per"):
            pos += 1
            take("word", "unit")
            kinds.append(PER_UNIT)
        else:
            kinds.append(LUMP_SUM)
        if peek() == ("punct", ","):
            pos += 1
            continue
        break
    if peek() == ("word", "cap"):
        pos += 1
        cap = Decimal(take("num"))
    if peek()[0] != "eof":
        raise ScheduleError("trailing input %r" % (peek(),))

    # Constraints.  The rates are all percentages or all amounts per unit;
    # lump sums may stand beside either (mixed scales); a scale of lump sums
    # only is retroactive.
    rate_kinds = set(k for k in kinds if k != LUMP_SUM)
    if len(rate_kinds) > 1:
        raise ScheduleError("the rates must be all percentages or all amounts per unit")
    if not rate_kinds and mode != RETROACTIVE:
        raise ScheduleError("a scale of lump sums only must be retroactive")
    if thresholds[0] < 0:
        raise ScheduleError("thresholds must be >= 0")
    for a, b in zip(thresholds, thresholds[1:]):
        if not b > a:
            raise ScheduleError("thresholds must be strictly increasing")
    for v in values:
        if v < 0:
            raise ScheduleError("values must be >= 0")
    for v, k in zip(values, kinds):
        if k == PERCENT and v > HUNDRED:
            raise ScheduleError("percent must be <= 100")
    if cap is not None and cap < 0:
        raise ScheduleError("cap must be >= 0")

    return Schedule(mode, kinds[0], tuple(thresholds), tuple(values), cap, tuple(kinds))


def fmt(d: Optional[Decimal]) -> Optional[str]:
    """A number in plain notation with trailing fractional zeros removed."""
    if d is None:
        return None
    if d == 0:
        return "0"
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def fmt_scaled(d: Decimal) -> str:
    """A number in plain notation keeping its scale (for round_money)."""
    if d == 0:
        d = abs(d)            # PostgreSQL has no negative zero
    return format(d, "f")


def canonical(s: Schedule) -> str:
    """Canonical text of a schedule, as the type's output function prints it."""
    parts = []
    for t, v, k in zip(s.thresholds, s.values, s.kinds):
        if k == PERCENT:
            parts.append("%s:%s%%" % (fmt(t), fmt(v)))
        elif k == PER_UNIT:
            parts.append("%s:%s per unit" % (fmt(t), fmt(v)))
        else:
            parts.append("%s:%s" % (fmt(t), fmt(v)))
    out = s.mode + " " + ", ".join(parts)
    if s.cap is not None:
        out += " cap " + fmt(s.cap)
    return out


# ---------------------------------------------------------------------------
# Rebate functions
# ---------------------------------------------------------------------------

def _apply_cap(result: Decimal, s: Schedule) -> Decimal:
    if s.cap is not None and result > s.cap:
        return s.cap
    return result


def tier_index(basis: Decimal, s: Schedule) -> int:
    """0 below the first tier, else the number of thresholds <= basis."""
    return sum(1 for t in s.thresholds if t <= basis)


def next_tier_gap(basis: Decimal, s: Schedule) -> Optional[Decimal]:
    """Threshold of the next tier minus basis; None in the top tier."""
    i = tier_index(basis, s)
    if i >= len(s.thresholds):
        return None
    return EXACT.subtract(s.thresholds[i], basis)


def _band_width(basis: Decimal, T, k: int, floor: Optional[Decimal] = None) -> Decimal:
    """The part of band k = [T_k, T_k+1) (the last one open) that basis covers,
    counting only what lies above `floor` when given."""
    n = len(T)
    lo = T[k] if floor is None else max(T[k], floor)
    hi = basis if k == n - 1 else min(basis, T[k + 1])
    width = EXACT.subtract(hi, lo)
    return width if width > 0 else ZERO


def _incremental_parts(basis: Decimal, s: Schedule, floor: Optional[Decimal] = None):
    """(lump sums reached, sum of rate_k * covered part of band k)."""
    lumps = ZERO
    rated = ZERO
    for k, t in enumerate(s.thresholds):
        if basis < t:
            break
        if s.is_lump(k):
            lumps = EXACT.add(lumps, s.values[k])   # paid once when reached; no rate
            continue
        w = _band_width(basis, s.thresholds, k, floor)
        if w > 0:
            rated = EXACT.add(rated, EXACT.multiply(s.rate(k), w))
    return lumps, rated


def _uncapped(basis: Decimal, s: Schedule) -> Decimal:
    i = tier_index(basis, s)
    if i == 0:
        return ZERO
    if s.mode == RETROACTIVE:
        # the top tier reached pays alone: its lump sum, or its rate on the whole basis
        if s.is_lump(i - 1):
            return s.values[i - 1]
        return EXACT.multiply(s.rate(i - 1), basis)
    lumps, rated = _incremental_parts(basis, s)
    return EXACT.add(lumps, rated)


def tiered_rebate(basis: Decimal, s: Schedule) -> Decimal:
    """Rebate earned on basis under schedule s (exact, capped)."""
    return _apply_cap(_uncapped(basis, s), s)


def _div_round(num: Decimal, den: Decimal, places: int, rounding: str) -> Decimal:
    """num/den rounded to `places` decimals, computed exactly with integers.

    Supports ROUND_HALF_UP (half away from zero) only, which is all
    effective_rate needs.
    """
    assert rounding == decimal.ROUND_HALF_UP
    sn, dn, en = num.as_tuple()
    sd, dd, ed = den.as_tuple()
    n = int("".join(map(str, dn)) or "0")
    d = int("".join(map(str, dd)) or "0")
    negative = (sn != sd) and n != 0
    # num/den * 10^places = n*10^en / (d*10^ed) * 10^places
    shift = en - ed + places
    if shift >= 0:
        n *= 10 ** shift
    else:
        d *= 10 ** (-shift)
    q, r = divmod(n, d)
    if 2 * r >= d:
        q += 1
    return Decimal((1 if negative else 0, tuple(map(int, str(q))), -places))


def effective_rate(basis: Decimal, s: Schedule) -> Optional[Decimal]:
    """rebate / basis, ROUND_HALF_UP to 12 decimals; None when basis is 0."""
    if basis == 0:
        return None
    return _div_round(tiered_rebate(basis, s), basis, 12, decimal.ROUND_HALF_UP)


def overachievement_rebate(actual: Decimal, target: Decimal, s: Schedule,
                           apply_to: str = "total") -> Decimal:
    """Rebate on achievement against a target.

    Thresholds are achievement ratios: tier i starts at T_i = threshold_i *
    target.  'total' pays tiered_rebate(actual) on the scaled schedule;
    'excess' pays only on the part of actual above target.  Lump sums pay the
    reached tier's amount either way.  The (unscaled) cap applies last.

    READING (mixed scales with 'excess', not spelled out): retroactive, a
    reached lump-sum tier pays its amount and a reached rate tier
    rate * max(0, actual - target); incremental, each lump sum reached is paid
    once and each rate band pays on its covered part above the target.
    """
    if not target > 0:
        raise ValueError("target must be > 0")
    apply_to = apply_to.lower()
    if apply_to not in ("total", "excess"):
        raise ValueError("apply_to must be 'total' or 'excess'")
    scaled = s.scaled(target)
    if apply_to == "total" or s.kind == LUMP_SUM:
        return tiered_rebate(actual, scaled)
    i = tier_index(actual, scaled)
    if i == 0:
        return _apply_cap(ZERO, s)
    if s.mode == RETROACTIVE:
        if s.is_lump(i - 1):
            return _apply_cap(s.values[i - 1], s)
        excess = max(ZERO, EXACT.subtract(actual, target))
        return _apply_cap(EXACT.multiply(s.rate(i - 1), excess), s)
    lumps, rated = _incremental_parts(actual, scaled, floor=target)
    return _apply_cap(EXACT.add(lumps, rated), s)


def tiered_sum(bases, s: Schedule) -> Optional[Decimal]:
    """Aggregate: tiered_rebate(sum of non-NULL bases); None if there are none."""
    vals = [b for b in bases if b is not None]
    if not vals:
        return None
    total = ZERO
    for b in vals:
        total = EXACT.add(total, b)
    return tiered_rebate(total, s)


def tiered_payout(basis: Decimal, payout: Decimal, s: Schedule,
                  target: Optional[Decimal] = None,
                  negative_payout: str = "rates") -> Decimal:
    """Thresholds reached by `basis` (times `target` when given), rates paid
    on `payout`.

    Retroactive: the top tier reached pays rate * payout, or its lump sum.
    Incremental: every lump sum reached, plus sum(rate_k * band_k) * payout /
    basis rounded half away from zero to 20 decimals; nothing from the rates
    when basis <= 0.  Never below 0; the (unscaled) cap last.

    Negative payout (reference.md: "The rates' part is never below 0: a
    negative payout measure earns nothing from the rates, while the lump
    sums the basis reaches are paid"): lumps + max(0, rate part), the
    default negative_payout='rates'.  The readings an earlier text left open,
    kept to label mismatches: 'nothing' (payout < 0 gives 0, lump sums
    included) and 'floor' (only the total floored at 0).
    READING (target): not positive is an error, "as in overachievement_rebate".
    """
    if target is not None:
        if not target > 0:
            raise ValueError("target must be > 0")
        sc = s.scaled(target)
    else:
        sc = s
    if negative_payout == "nothing" and payout < 0:
        return _apply_cap(ZERO, s)
    i = tier_index(basis, sc)
    if s.mode == RETROACTIVE:
        if i == 0:
            r = ZERO
        elif sc.is_lump(i - 1):
            r = sc.values[i - 1]
        else:
            r = EXACT.multiply(sc.rate(i - 1), payout)
    else:
        lumps, rated = _incremental_parts(basis, sc)
        share = ZERO
        if basis > 0 and rated != 0:
            share = _div_round(EXACT.multiply(rated, payout), basis, 20, decimal.ROUND_HALF_UP)
        if negative_payout == "rates" and share < 0:
            share = ZERO
        r = EXACT.add(lumps, share)
    if r < 0:
        r = ZERO
    return _apply_cap(r, s)


def tiered_rebate_on_top(below: Decimal, basis: Decimal, s: Schedule) -> Decimal:
    """The rebate of `basis` placed on top of `below` (a period's own basis
    above the earlier periods of its tier window, docs/reference.md).

    Retroactive: the tier that below + basis reaches pays its lump sum, or its
    rate on `basis` (not on the whole window).  Incremental: the rebate of
    below + basis less the rebate of below, both before the cap (the bands
    `basis` occupies; a lump sum is paid by the period whose basis reaches
    it).  Never below 0; the schedule's cap applies last.

    Retroactive lump sums (reference.md): "a lump sum is paid once, by the
    period that reaches it: what the lump sum of the tier below + basis
    reaches adds to the lump sum of the tier below had reached, if anything".
    READING (negative `below`, earlier periods with more returns than sales):
    used as it is; tiered_rebate of a negative basis is 0.
    """
    total = EXACT.add(below, basis)
    if s.mode == RETROACTIVE:
        def top_lump(x):
            k = tier_index(x, s)
            return s.values[k - 1] if k > 0 and s.is_lump(k - 1) else ZERO
        i = tier_index(total, s)
        rated = ZERO if i == 0 or s.is_lump(i - 1) else EXACT.multiply(s.rate(i - 1), basis)
        added = EXACT.subtract(top_lump(total), top_lump(below))
        r = EXACT.add(rated, added if added > 0 else ZERO)
    else:
        r = EXACT.subtract(_uncapped(total, s), _uncapped(below, s))
    if r < 0:
        r = ZERO
    return _apply_cap(r, s)


# ---------------------------------------------------------------------------
# Money rounding
# ---------------------------------------------------------------------------

MINOR_UNITS = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2,
               "JPY": 0, "KRW": 0, "KWD": 3}

_ROUNDING = {
    "half_up": decimal.ROUND_HALF_UP,      # half away from zero
    "half_even": decimal.ROUND_HALF_EVEN,
    "down": decimal.ROUND_DOWN,            # toward zero
    "up": decimal.ROUND_UP,                # away from zero
}


def round_money(amount: Decimal, currency: str = "CNY",
                mode: str = "half_up") -> Decimal:
    """Round to the currency's minor unit; the result carries exactly that scale.

    Print the result with fmt_scaled() to get PostgreSQL's text form.
    """
    places = MINOR_UNITS[currency]
    ctx = decimal.Context(prec=1000, rounding=_ROUNDING[mode])
    return amount.quantize(Decimal(1).scaleb(-places), context=ctx)


# ---------------------------------------------------------------------------
# Self-check with the worked examples of the specification
# ---------------------------------------------------------------------------

WORKED_EXAMPLES = [
    # (schedule text, basis, expected tiered_rebate)
    ("incremental 0:10%,1000:25%", "2000", "350"),
    ("retroactive 0:10%,1000:25%", "2000", "500"),
    ("incremental 0:10 per unit,5:12 per unit,20:15 per unit,"
     "100:20 per unit,1000:30 per unit", "140", "2230"),
    ("retroactive 0:10 per unit,5:12 per unit,20:15 per unit,"
     "100:20 per unit,1000:30 per unit", "140", "2800"),
    ("incremental 0:5%,500:10%,2000:15%", "2700", "280"),
    ("incremental 0:10%,100:20%,300:30%", "3800", "1100"),
]


def _self_check() -> None:
    s = parse_schedule("Retroactive 0:1.50%,100000:2.0%, 500000 : 3.5 %  CAP 20000.00")
    assert canonical(s) == "retroactive 0:1.5%, 100000:2%, 500000:3.5% cap 20000", canonical(s)
    for text, basis, expected in WORKED_EXAMPLES:
        got = tiered_rebate(Decimal(basis), parse_schedule(text))
        assert got == Decimal(expected) and fmt(got) == expected, (text, basis, got)
    assert fmt_scaled(round_money(Decimal("-2.345"), "USD", "half_even")) == "-2.34"
    assert fmt_scaled(round_money(Decimal("-0.001"), "CNY", "half_up")) == "0.00"
    assert fmt(effective_rate(Decimal(3), parse_schedule("retroactive 0:1 per unit"))) == "1"
    assert _div_round(Decimal(-2), Decimal(3), 12, decimal.ROUND_HALF_UP) == Decimal("-0.666666666667")
    # mixed scales (docs/reference.md)
    m = parse_schedule("retroactive 1000:100, 5000:2%")
    assert m.kind == MIXED and m.kinds == (LUMP_SUM, PERCENT), m
    assert canonical(m) == "retroactive 1000:100, 5000:2%"
    assert [tiered_rebate(Decimal(b), m) for b in ("999", "1000", "4999", "5000", "6000")] == [
        0, 100, 100, 100, 120]
    m = parse_schedule("incremental 0:1%, 500:30, 800:5%")
    assert tiered_rebate(Decimal(1000), m) == Decimal(5 + 30 + 10), tiered_rebate(Decimal(1000), m)
    assert tiered_rebate(Decimal(600), m) == Decimal(5 + 30)
    for bad in ("retroactive 0:1%, 10:2 per unit", "incremental 0:100, 10:200",
                "retroactive 0:5, 10:1%, 20:1 per unit"):
        try:
            parse_schedule(bad)
        except ScheduleError:
            pass
        else:
            raise AssertionError(bad)
    # tiered_payout (docs/reference.md)
    P = lambda b, p, t, tg=None: tiered_payout(Decimal(b), Decimal(p), parse_schedule(t),
                                               None if tg is None else Decimal(tg))
    assert P(1200, 135000, "retroactive 1000:3%") == 4050
    assert P(1500, 135000, "incremental 0:1%, 1000:3%") == 2250
    assert P(6000, 60000, "retroactive 1000:100, 5000:2%") == 1200
    assert P(1500, 1000, "retroactive 1.2:20 per unit", 1000) == 20000
    assert P(19, 19000, "incremental 0:1%, 15:3%") == 270          # docs/programs.md
    assert P(3, 1, "incremental 0:1 per unit") == 1
    assert P(3, 2, "incremental 0:1 per unit, 1:2 per unit") == Decimal("3.33333333333333333333")
    assert P(3, 1, "incremental 0:1 per unit, 1:2 per unit") == Decimal("1.66666666666666666667")
    # tiered_rebate_on_top (docs/reference.md, docs/programs.md "Tier windows")
    T = lambda lo, b, t: tiered_rebate_on_top(Decimal(lo), Decimal(b), parse_schedule(t))
    assert T(60000, 50000, "retroactive 0:1%, 100000:2%") == 1000
    assert T(60000, 50000, "incremental 0:1%, 100000:2%") == 600
    assert T(0, 9000, "incremental 0:1%, 15000:3%") == 90
    assert T(9000, 10000, "incremental 0:1%, 15000:3%") == 180
    assert T(9000, -1000, "retroactive 0:1%") == 0
    assert T(9000, -1000, "incremental 0:1%") == 0
    assert T(900, 200, "retroactive 0:1%, 1000:50") == 50
    assert T(900, 200, "incremental 0:1%, 1000:50 cap 40") == 40


_self_check()


if __name__ == "__main__":
    print("reference self-check passed")
