/*
 * ratio_aggregates.c — aggregates that end in one ratio of two exact sums:
 *
 *   rebate.growth(amount, is_current)   (current - comparison) / |comparison|
 *   rebate.achievement(actual, target)  sum(actual) / sum(target)
 *   rebate.weighted_score(value, weight) sum(value x weight) / sum(weight)
 *
 * They share one `internal` state (two exact sums and their row counts) and
 * its combine, serialize and deserialize functions; only the transition and
 * final functions differ.  Ratios are rounded once, half away from zero, to
 * four decimal places; a ratio over nothing (a zero or missing denominator)
 * is NULL, never an error.
 */
#include "postgres.h"

#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "exact_sum.h"

#define RATIO_STATE_FORMAT 1
#define RATIO_PLACES 4

typedef struct RatioState
{
	ExactSum	numerator;
	ExactSum	denominator;
	int64		numerator_rows;
	int64		denominator_rows;
} RatioState;

static RatioState *
ratio_state(FunctionCallInfo fcinfo, MemoryContext context)
{
	if (PG_ARGISNULL(0))
		return MemoryContextAllocZero(context, sizeof(RatioState));
	return (RatioState *) PG_GETARG_POINTER(0);
}

#define ARG_VARLENA(n) ((const struct varlena *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(n)))

/* growth(amount, is_current): is_current true adds to the current period, false to the comparison */
PG_FUNCTION_INFO_V1(growth_trans);
Datum
growth_trans(PG_FUNCTION_ARGS)
{
	MemoryContext context = aggregate_memory_context(fcinfo, "growth_trans");
	RatioState *state = ratio_state(fcinfo, context);

	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2))
	{
		if (PG_GETARG_BOOL(2))
		{
			exact_sum_add(&state->numerator, ARG_VARLENA(1), false, context);
			state->numerator_rows++;
		}
		else
		{
			exact_sum_add(&state->denominator, ARG_VARLENA(1), false, context);
			state->denominator_rows++;
		}
	}
	PG_RETURN_POINTER(state);
}

/* achievement(actual, target): each argument is summed where it is not NULL */
PG_FUNCTION_INFO_V1(achievement_trans);
Datum
achievement_trans(PG_FUNCTION_ARGS)
{
	MemoryContext context = aggregate_memory_context(fcinfo, "achievement_trans");
	RatioState *state = ratio_state(fcinfo, context);

	if (!PG_ARGISNULL(1))
	{
		exact_sum_add(&state->numerator, ARG_VARLENA(1), false, context);
		state->numerator_rows++;
	}
	if (!PG_ARGISNULL(2))
	{
		exact_sum_add(&state->denominator, ARG_VARLENA(2), false, context);
		state->denominator_rows++;
	}
	PG_RETURN_POINTER(state);
}

/* weighted_score(value, weight): rows with both; a negative weight is refused */
PG_FUNCTION_INFO_V1(weighted_score_trans);
Datum
weighted_score_trans(PG_FUNCTION_ARGS)
{
	MemoryContext context = aggregate_memory_context(fcinfo, "weighted_score_trans");
	RatioState *state = ratio_state(fcinfo, context);
	const struct varlena *weight;
	NumericParts parts;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(state);
	weight = ARG_VARLENA(2);
	numeric_read_parts(weight, &parts);
	if (parts.negative && parts.ndigits > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weights of weighted_score must not be negative"),
				 errdetail("A row has weight %s.", num_to_cstring((Numeric) PG_DETOAST_DATUM((struct varlena *) weight))),
				 errhint("Give each value a weight of 0 or more; weights need not add up to 1.")));
	exact_sum_add_product(&state->numerator, ARG_VARLENA(1), weight, context);
	exact_sum_add(&state->denominator, weight, false, context);
	state->numerator_rows++;
	state->denominator_rows++;
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(ratio_combine);
Datum
ratio_combine(PG_FUNCTION_ARGS)
{
	MemoryContext context = aggregate_memory_context(fcinfo, "ratio_combine");
	RatioState *a;
	RatioState *b;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	b = (RatioState *) PG_GETARG_POINTER(1);
	a = ratio_state(fcinfo, context);
	exact_sum_merge(&a->numerator, &b->numerator, context);
	exact_sum_merge(&a->denominator, &b->denominator, context);
	a->numerator_rows += b->numerator_rows;
	a->denominator_rows += b->denominator_rows;
	PG_RETURN_POINTER(a);
}

PG_FUNCTION_INFO_V1(ratio_serialize);
Datum
ratio_serialize(PG_FUNCTION_ARGS)
{
	RatioState *state = (RatioState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	(void) aggregate_memory_context(fcinfo, "ratio_serialize");
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, RATIO_STATE_FORMAT);
	exact_sum_send(&buf, &state->numerator);
	exact_sum_send(&buf, &state->denominator);
	pq_sendint64(&buf, state->numerator_rows);
	pq_sendint64(&buf, state->denominator_rows);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(ratio_deserialize);
Datum
ratio_deserialize(PG_FUNCTION_ARGS)
{
	/* in the per-call context: the state only feeds ratio_combine, which copies it */
	MemoryContext context = CurrentMemoryContext;
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	RatioState *state = MemoryContextAllocZero(context, sizeof(RatioState));
	StringInfoData buf;

	(void) aggregate_memory_context(fcinfo, "ratio_deserialize");

	state_reader_init(&buf, bytes);
	if (pq_getmsgbyte(&buf) != RATIO_STATE_FORMAT)
		elog(ERROR, "ratio aggregate state of an unknown format");
	exact_sum_recv(&buf, &state->numerator, context);
	exact_sum_recv(&buf, &state->denominator, context);
	state->numerator_rows = pq_getmsgint64(&buf);
	state->denominator_rows = pq_getmsgint64(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

static Datum
ratio_result(FunctionCallInfo fcinfo, Numeric numerator, Numeric denominator)
{
	Numeric		ratio = num_ratio(numerator, denominator, RATIO_PLACES);

	if (ratio == NULL)
		PG_RETURN_NULL();
	PG_RETURN_NUMERIC(ratio);
}

/* NULL without a comparison base (no rows or a zero sum); a negative base divides by its size */
PG_FUNCTION_INFO_V1(growth_final);
Datum
growth_final(PG_FUNCTION_ARGS)
{
	RatioState *state;
	Numeric		current;
	Numeric		base;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (RatioState *) PG_GETARG_POINTER(0);
	current = exact_sum_total(&state->numerator);
	base = exact_sum_total(&state->denominator);
	return ratio_result(fcinfo, num_sub(current, base),
						DatumGetNumeric(DirectFunctionCall1(numeric_abs, NumericGetDatum(base))));
}

/* NULL when the targets add up to zero or less (no target: nothing to achieve) */
PG_FUNCTION_INFO_V1(achievement_final);
Datum
achievement_final(PG_FUNCTION_ARGS)
{
	RatioState *state;
	Numeric		target;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (RatioState *) PG_GETARG_POINTER(0);
	target = exact_sum_total(&state->denominator);
	if (num_sign(target) <= 0)
		PG_RETURN_NULL();
	return ratio_result(fcinfo, exact_sum_total(&state->numerator), target);
}

/* NULL when no row has both a value and a weight above zero */
PG_FUNCTION_INFO_V1(weighted_score_final);
Datum
weighted_score_final(PG_FUNCTION_ARGS)
{
	RatioState *state;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (RatioState *) PG_GETARG_POINTER(0);
	return ratio_result(fcinfo, exact_sum_total(&state->numerator), exact_sum_total(&state->denominator));
}
