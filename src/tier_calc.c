/*
 * tier_calc.c — tiered and overachievement rebates, and the questions a
 * channel manager asks of a basis: which tier, how far to the next, what
 * rate it works out to.
 *
 * Tiers are half-open: tier i covers [threshold_i, threshold_i+1), the last
 * one open-ended, so a basis exactly on a threshold is in the higher tier and
 * no value falls between tiers.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "numeric_util.h"
#include "option_words.h"
#include "tier_calc.h"
#include "tier_schedule.h"

/* Decimal places of effective_rate: a ratio cannot be exact, so say where it stops. */
#define EFFECTIVE_RATE_SCALE 12

void
check_finite_number(Numeric n, const char *message)
{
	if (num_is_special(n))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_internal("%s", _(message)),
				 errdetail("It is %s.", num_special_name(n))));
}

static void
check_target(Numeric target)
{
	if (num_is_special(target) || num_sign(target) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("overachievement target must be positive"),
				 errdetail("The target is %s.", num_to_cstring(target)),
				 errhint("Thresholds are ratios of the target, so a zero or negative target has no tiers; leave such partners out or give them a target.")));
}

/* The thresholds in basis units: as stored, or scaled by the target. */
static Numeric *
tier_starts(const TierView *view, Numeric target)
{
	Numeric    *starts;

	if (target == NULL)
		return view->thresholds;
	starts = palloc(sizeof(Numeric) * view->ntiers);
	for (int i = 0; i < view->ntiers; i++)
		starts[i] = num_mul(view->thresholds[i], target);
	return starts;
}

/* How many tiers the basis reaches (0..ntiers): binary search on the starts. */
static int
tiers_reached(Numeric *starts, int ntiers, Numeric basis)
{
	int			lo = 0;
	int			hi = ntiers;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (num_cmp(starts[mid], basis) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

Numeric
tier_rebate_compute(const TierView *view, Numeric basis, Numeric target, bool excess_only)
{
	Numeric    *starts = tier_starts(view, target);
	int			reached = tiers_reached(starts, view->ntiers, basis);
	Numeric		zero = num_zero();
	Numeric		result = zero;

	if (reached == 0)
		return zero;

	if (view->kind == TIER_KIND_LUMP_SUM)
		result = view->values[reached - 1];
	else if (view->mode == TIER_MODE_RETROACTIVE)
	{
		Numeric		paid_on = excess_only ? num_max(zero, num_sub(basis, target)) : basis;

		result = num_mul(tier_rate(view, reached - 1), paid_on);
	}
	else
	{
		/* each band [start_j, start_j+1) pays its own rate on the part of it covered */
		for (int j = 0; j < reached; j++)
		{
			Numeric		band_top = (j + 1 < reached) ? starts[j + 1] : basis;
			Numeric		band_bottom = excess_only ? num_max(starts[j], target) : starts[j];

			if (num_cmp(band_top, band_bottom) > 0)
				result = num_add(result,
								 num_mul(tier_rate(view, j), num_sub(band_top, band_bottom)));
		}
	}

	if (view->cap != NULL && num_cmp(result, view->cap) > 0)
		result = view->cap;
	return num_trim(result);
}

/* The (basis, schedule) arguments every basis function takes, checked. */
static Numeric
basis_and_schedule(FunctionCallInfo fcinfo, TierView *view)
{
	Numeric		basis = PG_GETARG_NUMERIC(0);

	check_finite_number(basis, gettext_noop("rebate basis must be a finite number"));
	tier_view_init(view, PG_GETARG_TIER_SCHEDULE(1));
	return basis;
}

PG_FUNCTION_INFO_V1(rebate_tiered_rebate);
Datum
rebate_tiered_rebate(PG_FUNCTION_ARGS)
{
	TierView	view;
	Numeric		basis = basis_and_schedule(fcinfo, &view);

	PG_RETURN_NUMERIC(tier_rebate_compute(&view, basis, NULL, false));
}

PG_FUNCTION_INFO_V1(rebate_tier_index);
Datum
rebate_tier_index(PG_FUNCTION_ARGS)
{
	TierView	view;
	Numeric		basis = basis_and_schedule(fcinfo, &view);

	PG_RETURN_INT32(tiers_reached(view.thresholds, view.ntiers, basis));
}

PG_FUNCTION_INFO_V1(rebate_next_tier_gap);
Datum
rebate_next_tier_gap(PG_FUNCTION_ARGS)
{
	TierView	view;
	Numeric		basis = basis_and_schedule(fcinfo, &view);
	int			reached;

	reached = tiers_reached(view.thresholds, view.ntiers, basis);
	if (reached == view.ntiers)
		PG_RETURN_NULL();
	PG_RETURN_NUMERIC(num_trim(num_sub(view.thresholds[reached], basis)));
}

/*
 * rebate / basis, rounded half up to EFFECTIVE_RATE_SCALE places.  Computed as
 * a truncated integer division with one guard digit, so the rounding is exact
 * (never rounded twice, as going through numeric division's own precision would).
 */
PG_FUNCTION_INFO_V1(rebate_effective_rate);
Datum
rebate_effective_rate(PG_FUNCTION_ARGS)
{
	TierView	view;
	Numeric		basis = basis_and_schedule(fcinfo, &view);
	Numeric		rebate;
	Numeric		scaled;
	Numeric		quotient;
	Numeric		rounded;

	if (num_sign(basis) == 0)
		PG_RETURN_NULL();
	rebate = tier_rebate_compute(&view, basis, NULL, false);

	/* rebate is 0 whenever basis < 0, so the quotient is never negative */
	scaled = num_mul(rebate, num_pow10(EFFECTIVE_RATE_SCALE + 1));
	quotient = DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc,
												   NumericGetDatum(scaled),
												   NumericGetDatum(basis)));
	rounded = DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc,
												  NumericGetDatum(num_add(quotient, num_from_int64(5))),
												  NumericGetDatum(num_from_int64(10))));
	PG_RETURN_NUMERIC(num_trim(num_shift_point_left(rounded, EFFECTIVE_RATE_SCALE)));
}

PG_FUNCTION_INFO_V1(rebate_overachievement_rebate);
Datum
rebate_overachievement_rebate(PG_FUNCTION_ARGS)
{
	Numeric		actual = PG_GETARG_NUMERIC(0);
	Numeric		target = PG_GETARG_NUMERIC(1);
	static const OptionWord apply_to_words[] = {{"total", false}, {"excess", true}};
	bool		excess_only;
	TierView	view;

	excess_only = option_word_value(text_to_cstring(PG_GETARG_TEXT_PP(3)),
									apply_to_words, lengthof(apply_to_words),
									gettext_noop("unknown apply_to \"%s\""),
									"Use \"total\" to pay on the whole actual amount, or \"excess\" to pay only on what lies above the target.");
	check_finite_number(actual, gettext_noop("actual amount must be a finite number"));
	check_target(target);
	tier_view_init(&view, PG_GETARG_TIER_SCHEDULE(2));
	PG_RETURN_NUMERIC(tier_rebate_compute(&view, actual, target, excess_only));
}
