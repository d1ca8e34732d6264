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

/* Refuse NaN and infinities with the given message (a complete sentence). */
extern void check_finite_number(Numeric n, const char *message);

#endif
