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
/* Decimal places of an incremental scale's share of another measure (far below any minor unit). */
#define PAYOUT_SCALE 20

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

/*
 * What the tiers reached pay, in two parts: the lump sums due, and the rates'
 * part on the basis.  Retroactive: the top tier reached pays alone, its lump
 * sum or its rate on the basis (on the excess over the target with
 * excess_only).  Incremental: each rate tier pays on the part of its band
 * covered, and each lump-sum tier reached is paid once (its band earns no
 * rate).
 */
static void
tier_parts(const TierView *view, const Numeric *starts, int reached, Numeric basis, Numeric target,
		   bool excess_only, Numeric *lumps, Numeric *rated)
{
	Numeric		zero = num_zero();

	*lumps = zero;
	*rated = zero;
	if (reached == 0)
		return;
	if (view->mode == TIER_MODE_RETROACTIVE)
	{
		int			top = reached - 1;

		if (tier_kind(view, top) == TIER_KIND_LUMP_SUM)
			*lumps = view->values[top];
		else
			*rated = num_mul(tier_rate(view, top),
							 excess_only ? num_max(zero, num_sub(basis, target)) : basis);
		return;
	}
	for (int j = 0; j < reached; j++)
	{
		Numeric		band_top = (j + 1 < reached) ? starts[j + 1] : basis;
		Numeric		band_bottom = excess_only ? num_max(starts[j], target) : starts[j];

		if (tier_kind(view, j) == TIER_KIND_LUMP_SUM)
			*lumps = num_add(*lumps, view->values[j]);
		else if (num_cmp(band_top, band_bottom) > 0)
			*rated = num_add(*rated, num_mul(tier_rate(view, j), num_sub(band_top, band_bottom)));
	}
}

static Numeric
capped(const TierView *view, Numeric amount)
{
	if (view->cap != NULL && num_cmp(amount, view->cap) > 0)
		return view->cap;
	return amount;
}

Numeric
tier_rebate_compute(const TierView *view, Numeric basis, Numeric target, bool excess_only)
{
	Numeric    *starts = tier_starts(view, target);
	int			reached = tiers_reached(starts, view->ntiers, basis);
	Numeric		lumps;
	Numeric		rated;

	tier_parts(view, starts, reached, basis, target, excess_only, &lumps, &rated);
	return num_trim(capped(view, num_add(lumps, rated)));
}

/*
 * numerator / denominator (> 0), rounded half away from zero to `places`
 * decimal places: a truncated integer division with one guard digit, so the
 * quotient is rounded exactly once.
 */
static Numeric
div_rounded(Numeric numerator, Numeric denominator, int places)
{
	bool		negative = num_sign(numerator) < 0;
	Numeric		magnitude = negative ? num_sub(num_zero(), numerator) : numerator;
	Numeric		scaled = num_mul(magnitude, num_pow10(places + 1));
	Numeric		quotient = DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc,
															   NumericGetDatum(scaled),
															   NumericGetDatum(denominator)));
	Numeric		rounded = DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc,
															  NumericGetDatum(num_add(quotient, num_from_int64(5))),
															  NumericGetDatum(num_from_int64(10))));
	Numeric		result = num_trim(num_shift_point_left(rounded, places));

	return negative ? num_sub(num_zero(), result) : result;
}

Numeric
tier_payout_compute(const TierView *view, Numeric basis, Numeric payout, Numeric target)
{
	Numeric    *starts = tier_starts(view, target);
	int			reached = tiers_reached(starts, view->ntiers, basis);
	Numeric		lumps;
	Numeric		rated;

	tier_parts(view, starts, reached, basis, target, false, &lumps, &rated);
	if (reached > 0 && view->mode == TIER_MODE_RETROACTIVE && tier_kind(view, reached - 1) != TIER_KIND_LUMP_SUM)
		rated = num_mul(tier_rate(view, reached - 1), payout);
	else if (view->mode == TIER_MODE_INCREMENTAL)
		rated = num_sign(basis) > 0 ? div_rounded(num_mul(rated, payout), basis, PAYOUT_SCALE) : num_zero();
	/* a payout measure below zero earns nothing from the rates; lump sums reached are paid */
	return num_trim(capped(view, num_add(lumps, num_max(num_zero(), rated))));
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

	if (num_sign(basis) == 0)
		PG_RETURN_NULL();
	rebate = tier_rebate_compute(&view, basis, NULL, false);
	/* rebate is 0 whenever basis < 0, so the quotient is never negative */
	PG_RETURN_NUMERIC(div_rounded(rebate, basis, EFFECTIVE_RATE_SCALE));
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

/* The lump sum of the top tier reached, or 0 (none reached, or a rate). */
static Numeric
top_lump(const TierView *view, int reached)
{
	if (reached > 0 && tier_kind(view, reached - 1) == TIER_KIND_LUMP_SUM)
		return view->values[reached - 1];
	return num_zero();
}

Numeric
tier_on_top_compute(const TierView *view, Numeric below, Numeric basis)
{
	Numeric		total = num_add(below, basis);
	Numeric    *starts = tier_starts(view, NULL);
	int			reached = tiers_reached(starts, view->ntiers, total);
	Numeric		lumps;
	Numeric		rated;
	Numeric		result;

	if (view->mode == TIER_MODE_RETROACTIVE)
	{
		/*
		 * A rate: the tier the whole window reaches, on the period's own basis.
		 * A lump sum: what the period adds to the lump sum the window had
		 * reached before it (paid once, in the period that reaches it).
		 */
		int			reached_below = tiers_reached(starts, view->ntiers, below);
		Numeric		lump_total = top_lump(view, reached);
		Numeric		lump_below = top_lump(view, reached_below);

		rated = (reached > 0 && tier_kind(view, reached - 1) != TIER_KIND_LUMP_SUM)
			? num_mul(tier_rate(view, reached - 1), basis) : num_zero();
		result = num_add(rated, num_max(num_zero(), num_sub(lump_total, lump_below)));
	}
	else
	{
		/* the bands the period's basis occupies above what came before it */
		Numeric		lumps_below;
		Numeric		rated_below;

		tier_parts(view, starts, reached, total, NULL, false, &lumps, &rated);
		tier_parts(view, starts, tiers_reached(starts, view->ntiers, below), below, NULL, false,
				   &lumps_below, &rated_below);
		result = num_sub(num_add(lumps, rated), num_add(lumps_below, rated_below));
	}
	return num_trim(capped(view, num_max(num_zero(), result)));
}

/*
 * rebate.tiered_rebate_on_top(below, basis, schedule): see tier_on_top_compute.
 */
PG_FUNCTION_INFO_V1(rebate_tiered_rebate_on_top);
Datum
rebate_tiered_rebate_on_top(PG_FUNCTION_ARGS)
{
	Numeric		below = PG_GETARG_NUMERIC(0);
	TierView	view;

	check_finite_number(below, gettext_noop("basis below must be a finite number"));
	check_finite_number(PG_GETARG_NUMERIC(1), gettext_noop("rebate basis must be a finite number"));
	tier_view_init(&view, PG_GETARG_TIER_SCHEDULE(2));
	PG_RETURN_NUMERIC(tier_on_top_compute(&view, below, PG_GETARG_NUMERIC(1)));
}

/*
 * rebate.tiered_payout(basis, payout, schedule, target): thresholds read the
 * basis (scaled by the target where one is given), rates pay on the payout
 * measure; see tier_payout_compute.
 */
PG_FUNCTION_INFO_V1(rebate_tiered_payout);
Datum
rebate_tiered_payout(PG_FUNCTION_ARGS)
{
	TierView	view;
	Numeric		basis;
	Numeric		payout;
	Numeric		target;

	/* strict in its first three arguments; a null target means none */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	basis = PG_GETARG_NUMERIC(0);
	payout = PG_GETARG_NUMERIC(1);
	target = PG_ARGISNULL(3) ? NULL : PG_GETARG_NUMERIC(3);
	check_finite_number(basis, gettext_noop("rebate basis must be a finite number"));
	tier_view_init(&view, PG_GETARG_TIER_SCHEDULE(2));
	check_finite_number(payout, gettext_noop("payout measure must be a finite number"));
	if (target != NULL)
		check_target(target);
	PG_RETURN_NUMERIC(tier_payout_compute(&view, basis, payout, target));
}
