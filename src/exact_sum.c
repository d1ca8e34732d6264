/*
 * exact_sum.c — exact running sums for in-memory aggregate states.
 *
 * The same arithmetic as rebate.tiered_sum's state (numeric_util.c's int128
 * fixed point, read from the tuple without copying), but kept in a plain C
 * struct inside an `internal` state, so that an aggregate can hold many sums
 * per group and update them in place.  The spill numeric is allocated in
 * the aggregate's memory context, so it lives as long as the state.
 */
#include "postgres.h"

#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"

#include "exact_sum.h"

/* spill += amount; the new total is copied into context and the old one freed */
static void
spill_add(ExactSum *sum, Numeric amount, MemoryContext context)
{
	Numeric		previous = sum->spill;
	Numeric		total = previous != NULL ? num_add(previous, amount) : amount;
	MemoryContext old = MemoryContextSwitchTo(context);

	sum->spill = DatumGetNumeric(datumCopy(NumericGetDatum(total), false, -1));
	MemoryContextSwitchTo(old);
	if (previous != NULL)
		pfree(previous);
}

static void
exact_sum_add_units(ExactSum *sum, int128 units, int scale, MemoryContext context)
{
	int128		rescaled;

	if (scale > sum->scale && scale <= NUMERIC_FIXED_MAX_SCALE &&
		int128_rescale_checked(sum->fast, sum->scale, scale, &rescaled))
	{
		sum->fast = rescaled;
		sum->scale = scale;
	}
	if (scale <= sum->scale && int128_rescale_checked(units, scale, sum->scale, &rescaled) &&
		int128_add_checked(sum->fast, rescaled, &sum->fast))
		return;
	/* too precise or too large for the fast sum: exactly, through numeric */
	spill_add(sum, int128_to_numeric(units, scale), context);
}

void
exact_sum_add(ExactSum *sum, const struct varlena *value, bool negate, MemoryContext context)
{
	int128		units;
	NumericFixedResult r = fixed_sum_add(&sum->fast, &sum->scale, value, negate, &units);

	if (likely(r == NUMERIC_FIXED_OK))
		return;
	if (r == NUMERIC_FIXED_FULL)
	{
		/* the fast sum is full: move it to the spill and start again from this value */
		spill_add(sum, int128_to_numeric(sum->fast, sum->scale), context);
		sum->fast = units;
		return;
	}
	if (r == NUMERIC_FIXED_SPECIAL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amounts must be finite numbers"),
				 errdetail("The aggregate was given %s.", num_special_name((Numeric) value)),
				 errhint("Filter out NaN and infinite values before aggregating.")));
	{
		Numeric		exact = DatumGetNumeric(PointerGetDatum(PG_DETOAST_DATUM((struct varlena *) value)));

		spill_add(sum, negate ? DatumGetNumeric(DirectFunctionCall1(numeric_uminus, NumericGetDatum(exact))) : exact,
				  context);
	}
}

void
exact_sum_merge(ExactSum *sum, const ExactSum *other, MemoryContext context)
{
	exact_sum_add_units(sum, other->fast, other->scale, context);
	if (other->spill != NULL)
		spill_add(sum, other->spill, context);
}

Numeric
exact_sum_total(const ExactSum *sum)
{
	Numeric		total = int128_to_numeric(sum->fast, sum->scale);

	return sum->spill != NULL ? num_add(total, sum->spill) : total;
}

/* a x b unless it overflows (by division, not __builtin_mul_overflow: clang lowers that to a libgcc-less call) */
static bool
int128_mul_checked(int128 a, int128 b, int128 *result)
{
	const int128 max = (int128) (((uint128) 1 << 127) - 1);
	int128		abs_a = a < 0 ? -a : a;
	int128		abs_b = b < 0 ? -b : b;

	if (a == -max - 1 || b == -max - 1)
		return false;
	if (abs_a != 0 && abs_b > max / abs_a)
		return false;
	*result = a * b;
	return true;
}

void
exact_sum_add_product(ExactSum *sum, const struct varlena *value, const struct varlena *weight,
					  MemoryContext context)
{
	NumericParts vp;
	NumericParts wp;
	int128		v;
	int128		w;
	int128		product;

	numeric_read_parts(value, &vp);
	numeric_read_parts(weight, &wp);
	if (!vp.special && !wp.special && vp.dscale + wp.dscale <= NUMERIC_FIXED_MAX_SCALE &&
		numeric_parts_to_int128(&vp, vp.dscale, &v) == NUMERIC_FIXED_OK &&
		numeric_parts_to_int128(&wp, wp.dscale, &w) == NUMERIC_FIXED_OK &&
		int128_mul_checked(v, w, &product))
	{
		exact_sum_add_units(sum, product, vp.dscale + wp.dscale, context);
		return;
	}
	if (vp.special || wp.special)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("values and weights must be finite numbers"),
				 errdetail("The aggregate was given %s.", num_special_name((Numeric) (vp.special ? value : weight))),
				 errhint("Filter out NaN and infinite values before aggregating.")));
	spill_add(sum, num_mul(DatumGetNumeric(PointerGetDatum(PG_DETOAST_DATUM((struct varlena *) value))),
						   DatumGetNumeric(PointerGetDatum(PG_DETOAST_DATUM((struct varlena *) weight)))),
			  context);
}

void
exact_sum_send(StringInfo buf, const ExactSum *sum)
{
	pq_sendint32(buf, sum->scale);
	pq_sendint64(buf, (int64) ((uint128) sum->fast >> 64));
	pq_sendint64(buf, (int64) (uint64) sum->fast);
	pq_sendstring(buf, sum->spill != NULL ? num_to_cstring(sum->spill) : "");
}

void
exact_sum_recv(StringInfo buf, ExactSum *sum, MemoryContext context)
{
	uint64		high;
	uint64		low;
	const char *spill;

	sum->scale = pq_getmsgint(buf, 4);
	high = (uint64) pq_getmsgint64(buf);
	low = (uint64) pq_getmsgint64(buf);
	sum->fast = (int128) (((uint128) high << 64) | low);
	spill = pq_getmsgstring(buf);
	sum->spill = NULL;
	if (spill[0] != '\0')
		spill_add(sum, num_from_cstring(spill), context);
}

MemoryContext
aggregate_memory_context(FunctionCallInfo fcinfo, const char *function_name)
{
	MemoryContext context;

	if (!AggCheckCallContext(fcinfo, &context))
		elog(ERROR, "%s called in non-aggregate context", function_name);
	return context;
}

void
state_reader_init(StringInfo buf, bytea *bytes)
{
	buf->data = VARDATA_ANY(bytes);
	buf->len = VARSIZE_ANY_EXHDR(bytes);
	buf->maxlen = buf->len;
	buf->cursor = 0;
}

/*
 * a / b rounded half away from zero to places decimals, exactly: the integer
 * quotient of a x 10^places by b and its remainder decide the last digit
 * (numeric_div would round once at its own scale first, and a second rounding
 * can then go the wrong way).
 */
Numeric
num_ratio(Numeric a, Numeric b, int places)
{
	Numeric		scaled;
	Numeric		quotient;
	Numeric		remainder;
	Numeric		twice_remainder;
	Datum		abs_b;

	Assert(places > 0);
	if (num_sign(b) == 0)
		return NULL;
	scaled = num_mul(a, num_pow10(places));
	quotient = DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc, NumericGetDatum(scaled), NumericGetDatum(b)));
	remainder = num_sub(scaled, num_mul(quotient, b));
	twice_remainder = num_add(remainder, remainder);
	abs_b = DirectFunctionCall1(numeric_abs, NumericGetDatum(b));
	if (num_cmp(DatumGetNumeric(DirectFunctionCall1(numeric_abs, NumericGetDatum(twice_remainder))),
				DatumGetNumeric(abs_b)) >= 0)
		quotient = num_add(quotient, num_from_int64(num_sign(a) * num_sign(b)));
	return DatumGetNumeric(DirectFunctionCall2(numeric_round,
											   NumericGetDatum(num_shift_point_left(quotient, places)),
											   Int32GetDatum(places)));
}
