/*
 * tier_calc.h — the rebate calculation shared by the SQL functions and the
 * tiered_sum aggregate.
 */
#ifndef REBATE_TIER_CALC_H
#define REBATE_TIER_CALC_H

#include "tier_schedule.h"

/*
 * The rebate a basis earns under a schedule.  With a target, thresholds are
 * achievement ratios (tier i starts at threshold_i * target); with
 * excess_only, only what lies above the target is paid on.  The result is
 * exact, capped, with trailing fractional zeros dropped; it is never rounded.
 */
extern Numeric tier_rebate_compute(const TierView *view, Numeric basis,
								   Numeric target, bool excess_only);

/*
 * The rebate when the thresholds read the basis and the rates pay on another
 * measure (payout): retroactive, the top tier reached pays its lump sum or
 * its rate on the payout; incremental, the lump sums reached plus each rate
 * band's share of the payout, pro rata to the basis (rounded half away from
 * zero to 20 decimal places; nothing where the basis is not above 0).
 * The rates' part is never below 0 (lump sums reached are paid whatever the
 * payout measure); capped by the schedule.
 */
extern Numeric tier_payout_compute(const TierView *view, Numeric basis, Numeric payout, Numeric target);

/*
 * The rebate of a basis placed on top of another (below): the earlier periods
 * of a window and this period's own basis.  Retroactive, the tier that below
 * + basis reaches pays its rate on basis, or its lump sum less the lump sum
 * below had reached (a lump sum is paid once); incremental, the rebate of
 * below + basis less that of below (the bands basis occupies).  Never below
 * 0; capped by the schedule.
 */
extern Numeric tier_on_top_compute(const TierView *view, Numeric below, Numeric basis);

/* Refuse NaN and infinities with the given message (a complete sentence). */
extern void check_finite_number(Numeric n, const char *message);

#endif
