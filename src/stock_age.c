/*
 * stock_age.c — the aggregate rebate.stock_age(moved_on, quantity, as_of):
 * the stock age (库龄) of one item's stock ledger under FIFO, and its state
 * type rebate.stock_age_state.
 *
 * Semantics.  The rows of a group are the stock ledger of one item (one
 * warehouse x product; callers GROUP BY): each a movement (moved_on, quantity),
 * positive when goods arrived (receipt, delivery, transfer in, customer
 * return, count surplus), negative when goods left.  Rows dated after as_of
 * are ignored.  on_hand is the exact sum of the other quantities.  Under FIFO
 * departures consume the oldest units, so the units on hand at as_of are the
 * most recent arrivals whose quantities add up to on_hand; the order of the
 * movements within a day does not matter, and neither does stock that went
 * negative on the way (a later arrival first fills the shortfall).  A unit's
 * age is as_of - its arrival day, in days.  The result (rebate.stock_age):
 * on_hand; average_age, the quantity-weighted mean age of the units on hand
 * rounded half up to 2 decimals; oldest_arrival, the arrival day of the
 * oldest unit on hand; and the on-hand quantity by age in days: 0-30, 31-60,
 * 61-90, 91-180, 181-365, over 365.  When on_hand <= 0, average_age and
 * oldest_arrival are NULL and every bucket is 0.  on_hand never exceeds the
 * arrivals (departures only subtract, and a state's departures are never
 * negative), so there is no stock of unknown age to place in a bucket.
 *
 * Rows with a NULL moved_on, quantity or as_of are skipped; no rows gives
 * NULL.  as_of must be the same in every row of a group (22023).  Dates must
 * be finite; quantities are exact, with at most 4 decimals (numeric(18,4)
 * ledgers; 22023 otherwise), counted as int128 units of 10^-4 (22003 beyond).
 * Quantities in the result have scale 4.
 *
 * The state: as_of, the sum of departures, and one entry per arrival day
 * (that day's arrivals summed), updated in place in the aggregate context.
 * New days are appended; when the array is full it is sorted and same-day
 * entries merged (and the array doubled only if still at least half full);
 * rows for a day already in the sorted part are found by binary search.  A
 * group of n rows over d distinct days costs O(n log d) and O(d) memory.
 * Like tiered_sum_state, it is a real type with lossless text and binary I/O
 * (not internal), so parallel aggregation and Citus can split it.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "compat.h"
#include "numeric_util.h"

#define STOCK_AGE_STATE_FORMAT 1
#define QUANTITY_SCALE 4		/* quantities are counted in units of 10^-4 */
#define INITIAL_CAPACITY 16
#define RESULT_COLUMNS 9
#define INT128_MAX_VALUE ((int128) (((uint128) 1 << 127) - 1))

/* The arrivals of one day. */
typedef struct ArrivalDay
{
	int128		units;			/* > 0 */
	DateADT		day;			/* <= as_of */
} ArrivalDay;

typedef struct StockAgeState
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		format;			/* STOCK_AGE_STATE_FORMAT */
	DateADT		as_of;
	int32		nentries;
	int32		nsorted;		/* entries[0, nsorted) are strictly ascending */
	int128		departed;		/* sum of departures, >= 0 */
	ArrivalDay	entries[FLEXIBLE_ARRAY_MEMBER];	/* then spare capacity, zeroed */
} StockAgeState;

#define STATE_HEADER_SIZE offsetof(StockAgeState, entries)
#define STATE_CAPACITY(s) ((int) ((VARSIZE(s) - STATE_HEADER_SIZE) / sizeof(ArrivalDay)))

PG_FUNCTION_INFO_V1(stock_age_state_in);
PG_FUNCTION_INFO_V1(stock_age_state_out);
PG_FUNCTION_INFO_V1(stock_age_state_recv);
PG_FUNCTION_INFO_V1(stock_age_state_send);
PG_FUNCTION_INFO_V1(stock_age_trans);
PG_FUNCTION_INFO_V1(stock_age_combine);
PG_FUNCTION_INFO_V1(stock_age_final);

/* ---------- dates and quantities ---------- */

#define VALID_DAY(day) (!DATE_NOT_FINITE(day) && IS_VALID_DATE(day))

/* ISO 8601 whatever the DateStyle, BC years as the ISO DateStyle writes them. */
static char *
date_text(DateADT day)
{
	int			y,
				m,
				d;

	j2date(day + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	return psprintf(y > 0 ? "%04d-%02d-%02d" : "%04d-%02d-%02d BC", y > 0 ? y : 1 - y, m, d);
}

/* A count of 10^-4 units as a decimal without trailing zeros: 12.5 */
static char *
units_text(int128 units)
{
	return num_to_cstring(num_trim(int128_to_numeric(units, QUANTITY_SCALE)));
}

pg_attribute_noreturn()
static void
quantity_out_of_range(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("stock quantity out of range"),
			 errdetail("stock_age counts quantities exactly up to about 1.7e34.")));
}

static void
add_units(int128 *sum, int128 units)
{
	if (unlikely(!int128_add_checked(*sum, units, sum)))
		quantity_out_of_range();
}

static void
check_finite_date(DateADT day, const char *argument)
{
	if (DATE_NOT_FINITE(day))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stock_age dates must be finite"),
				 errdetail("%s is %s.", argument, DATE_IS_NOBEGIN(day) ? "-infinity" : "infinity")));
}

static void
check_same_as_of(DateADT mine, DateADT other)
{
	if (mine != other)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stock_age cannot mix as_of dates within one group"),
				 errdetail("The group has rows as of %s and rows as of %s.",
						   date_text(mine), date_text(other)),
				 errhint("Pass one as_of for the whole query, or add it to GROUP BY.")));
}

/*
 * A ledger quantity (possibly short-header, read in place) as 10^-4 units.
 * Trailing zeros do not count as decimals: 1.50000 is 1.5.
 */
static int128
quantity_units(Datum datum)
{
	struct varlena *value = PG_DETOAST_DATUM_PACKED(datum);
	NumericParts parts;
	int128		units;

	numeric_read_parts(value, &parts);
	if (parts.special)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stock quantity must be a finite number"),
				 errdetail("It is %s.", num_special_name((Numeric) value))));
	if (parts.dscale > QUANTITY_SCALE)
	{
		Numeric		trimmed = num_trim(DatumGetNumeric(datum));

		numeric_read_parts((struct varlena *) trimmed, &parts);
		if (parts.dscale > QUANTITY_SCALE)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("stock quantity has more than %d decimal places", QUANTITY_SCALE),
					 errdetail("The quantity is %s.", num_to_cstring(trimmed)),
					 errhint("Ledger quantities are numeric(18,4); round them before aggregating.")));
	}
	if (numeric_parts_to_int128(&parts, QUANTITY_SCALE, &units) != NUMERIC_FIXED_OK)
		quantity_out_of_range();
	return units;
}

/* ---------- the state ---------- */

static StockAgeState *
state_new(DateADT as_of, int capacity)
{
	Size		size = STATE_HEADER_SIZE + (Size) capacity * sizeof(ArrivalDay);
	StockAgeState *state = palloc0(size);

	SET_VARSIZE(state, size);
	state->format = STOCK_AGE_STATE_FORMAT;
	state->as_of = as_of;
	return state;
}

/*
 * A copy with room for capacity entries.  Allocated anew, never repalloc'd:
 * the executor copies a state it did not have into the aggregate context
 * and frees the old one itself.
 */
static StockAgeState *
state_grow(StockAgeState *state, int capacity)
{
	StockAgeState *grown = state_new(state->as_of, capacity);

	grown->nentries = state->nentries;
	grown->nsorted = state->nsorted;
	grown->departed = state->departed;
	memcpy(grown->entries, state->entries, state->nentries * sizeof(ArrivalDay));
	return grown;
}

static int
arrival_cmp(const void *a, const void *b)
{
	DateADT		da = ((const ArrivalDay *) a)->day;
	DateADT		db = ((const ArrivalDay *) b)->day;

	return da < db ? -1 : (da > db ? 1 : 0);
}

/* Sorts entries[0, n) by day and merges same-day entries; returns the new count. */
static int
sort_arrivals(ArrivalDay *entries, int n)
{
	int			kept = 0;

	qsort(entries, n, sizeof(ArrivalDay), arrival_cmp);
	for (int i = 0; i < n; i++)
	{
		if (kept > 0 && entries[kept - 1].day == entries[i].day)
			add_units(&entries[kept - 1].units, entries[i].units);
		else
			entries[kept++] = entries[i];
	}
	return kept;
}

/* Index of day in the sorted part, or -1. */
static int
find_sorted(const StockAgeState *state, DateADT day)
{
	int			lo = 0;
	int			hi = state->nsorted - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;
		DateADT		d = state->entries[mid].day;

		if (d == day)
			return mid;
		if (d < day)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* Adds an arrival, in place when there is room; returns the (maybe new) state. */
static StockAgeState *
state_add_arrival(StockAgeState *state, DateADT day, int128 units)
{
	for (;;)
	{
		int			n = state->nentries;
		int			i = find_sorted(state, day);

		if (i < 0 && n > 0 && state->entries[n - 1].day == day)
			i = n - 1;
		if (i >= 0)
		{
			add_units(&state->entries[i].units, units);
			return state;
		}
		if (n < STATE_CAPACITY(state))
		{
			if (n == state->nsorted && (n == 0 || day > state->entries[n - 1].day))
				state->nsorted++;
			state->entries[n].day = day;
			state->entries[n].units = units;
			state->nentries++;
			return state;
		}
		/* full: merge the days first, grow only when that frees too little */
		state->nentries = state->nsorted = sort_arrivals(state->entries, n);
		memset(&state->entries[state->nentries], 0, (n - state->nentries) * sizeof(ArrivalDay));
		if (state->nentries * 2 >= STATE_CAPACITY(state))
			state = state_grow(state, Max(2 * STATE_CAPACITY(state), INITIAL_CAPACITY));
	}
}

/*
 * The state's arrivals sorted by day, one per day, without touching the
 * state (which may be read-only: a final or output function may be given a
 * value straight from a table).
 */
static ArrivalDay *
sorted_arrivals(const StockAgeState *state, int *n)
{
	ArrivalDay *copy;

	*n = state->nentries;
	if (state->nsorted == state->nentries)
		return (ArrivalDay *) state->entries;
	copy = palloc(state->nentries * sizeof(ArrivalDay));
	memcpy(copy, state->entries, state->nentries * sizeof(ArrivalDay));
	*n = sort_arrivals(copy, state->nentries);
	return copy;
}

/* ---------- the aggregate ---------- */

Datum
stock_age_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	StockAgeState *state;
	DateADT		moved_on;
	DateADT		as_of;
	int128		units;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "stock_age_trans called in non-aggregate context");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
	{
		/* rows without a date, a quantity or an as_of are skipped */
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	moved_on = PG_GETARG_DATEADT(1);
	as_of = PG_GETARG_DATEADT(3);
	check_finite_date(moved_on, "moved_on");
	check_finite_date(as_of, "as_of");
	units = quantity_units(PG_GETARG_DATUM(2));

	if (PG_ARGISNULL(0))
		/* made in the per-call context; the executor copies it into aggcontext */
		state = state_new(as_of, INITIAL_CAPACITY);
	else
	{
		state = (StockAgeState *) PG_GETARG_POINTER(0);
		check_same_as_of(state->as_of, as_of);
	}
	if (moved_on > as_of || units == 0)
		PG_RETURN_POINTER(state);
	if (units < 0)
	{
		add_units(&state->departed, -units);	/* in place: the state is the aggregate's */
		PG_RETURN_POINTER(state);
	}
	PG_RETURN_POINTER(state_add_arrival(state, moved_on, units));
}

Datum
stock_age_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	StockAgeState *a;
	StockAgeState *b;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "stock_age_combine called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	b = (StockAgeState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(1));
	if (PG_ARGISNULL(0))
		PG_RETURN_POINTER(b);	/* copied into aggcontext by the executor */
	a = (StockAgeState *) PG_GETARG_POINTER(0);
	check_same_as_of(a->as_of, b->as_of);
	add_units(&a->departed, b->departed);
	for (int i = 0; i < b->nentries; i++)
		a = state_add_arrival(a, b->entries[i].day, b->entries[i].units);
	PG_RETURN_POINTER(a);
}

/*
 * The average age is round(W / on_hand, 2) half up, W = sum of units taken x
 * age, computed exactly as floor((200 W + on_hand) / (2 on_hand)) hundredths:
 * in int128 when on_hand x (200 x max_age + 2) fits (for any real ledger),
 * else in numeric.
 */
static Numeric
average_age(int128 weighted, Numeric weighted_num, int128 on_hand)
{
	Numeric		h;

	if (weighted_num == NULL)
		return int128_to_numeric((200 * weighted + on_hand) / (2 * on_hand), 2);
	h = int128_to_numeric(on_hand, 0);
	return num_shift_point_left(DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc,
			NumericGetDatum(num_add(num_mul(num_from_int64(200), weighted_num), h)),
			NumericGetDatum(num_add(h, h)))), 2);
}

Datum
stock_age_final(PG_FUNCTION_ARGS)
{
	static const int bucket_upper[5] = {30, 60, 90, 180, 365};	/* then over 365 */
	StockAgeState *state = (StockAgeState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	int			n;
	ArrivalDay *days = sorted_arrivals(state, &n);
	TupleDesc	desc;
	int128		arrived = 0;
	int128		on_hand;
	int128		buckets[6] = {0};
	Datum		values[RESULT_COLUMNS] = {0};
	bool		nulls[RESULT_COLUMNS] = {false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE || desc->natts != RESULT_COLUMNS)
		elog(ERROR, "stock_age_final must return rebate.stock_age (%d columns)", RESULT_COLUMNS);
	for (int i = 0; i < n; i++)
		add_units(&arrived, days[i].units);
	on_hand = arrived - state->departed;	/* both >= 0: no overflow */

	if (on_hand > 0)
	{
		int64		max_age = (int64) state->as_of - days[0].day;
		bool		fits = on_hand <= INT128_MAX_VALUE / (200 * (int128) max_age + 2);
		int128		remaining = on_hand;
		int128		weighted = 0;
		Numeric		weighted_num = fits ? NULL : num_zero();
		int			i;

		/* newest first: what FIFO departures left; on_hand <= arrived, so i stays >= 0 */
		for (i = n - 1; remaining > 0; i--)
		{
			int128		taken = Min(remaining, days[i].units);
			int64		age = (int64) state->as_of - days[i].day;
			int			b = 0;

			while (b < 5 && age > bucket_upper[b])
				b++;
			buckets[b] += taken;
			if (fits)
				weighted += taken * age;
			else
				weighted_num = num_add(weighted_num, num_mul(int128_to_numeric(taken, 0), num_from_int64(age)));
			remaining -= taken;
		}
		values[1] = NumericGetDatum(average_age(weighted, weighted_num, on_hand));
		values[2] = DateADTGetDatum(days[i + 1].day);
	}
	else
		nulls[1] = nulls[2] = true;
	values[0] = NumericGetDatum(int128_to_numeric(on_hand, QUANTITY_SCALE));
	for (int b = 0; b < 6; b++)
		values[3 + b] = NumericGetDatum(int128_to_numeric(buckets[b], QUANTITY_SCALE));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * Checks what text or binary input built: every day valid and at most
 * as_of, strictly ascending, quantities positive, departures not negative.
 * Returns why not, or NULL.
 */
static char *
state_invalid(const StockAgeState *state)
{
	if (state->departed < 0)
		return psprintf("The departures are negative.");
	for (int i = 0; i < state->nentries; i++)
	{
		const ArrivalDay *e = &state->entries[i];

		if (!VALID_DAY(e->day) || e->day > state->as_of)
			return psprintf("Arrival %d is not a date up to as_of.", i + 1);
		if (i > 0 && e->day <= state->entries[i - 1].day)
			return psprintf("Arrival %d is not after arrival %d: days must be strictly ascending.", i + 1, i);
		if (e->units <= 0)
			return psprintf("Arrival %d is not a positive quantity.", i + 1);
	}
	return NULL;
}

/* ---------- text I/O ---------- */

/*
 * Grammar (no spaces but before BC; the output is canonical, the input must be):
 *   state    = "(" date "," quantity "," "{" [ arrival *( "," arrival ) ] "}" ")"
 *   arrival  = date ":" quantity        -- that day's arrivals; days strictly ascending
 *   date     = YYYY "-" MM "-" DD [ " BC" ]   (ISO 8601, year of 4 or more digits)
 *   quantity = digits [ "." 1*4digit ]
 * e.g. (2024-06-30,12.5,{2024-01-03:10,2024-02-01:5.25}): as_of, departures, arrivals.
 */
typedef struct StateParser
{
	const char *input;
	const char *p;
} StateParser;

pg_attribute_noreturn()
static void
state_syntax_error(StateParser *ps, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type stock_age_state: \"%s\"", ps->input),
			 errdetail("%s", detail),
			 errhint("A stock_age_state looks like (2024-06-30,12.5,{2024-01-03:10,2024-02-01:5.25}).")));
}

pg_attribute_noreturn()
static void
state_expected(StateParser *ps, const char *what)
{
	int			at = (int) (ps->p - ps->input) + 1;

	if (*ps->p == '\0')
		state_syntax_error(ps, psprintf("Expected %s at character %d, found the end.", what, at));
	state_syntax_error(ps, psprintf("Expected %s at character %d, found \"%c\".", what, at, *ps->p));
}

static void
expect_char(StateParser *ps, char c, const char *what)
{
	if (*ps->p != c)
		state_expected(ps, what);
	ps->p++;
}

/* between min_len and max_len decimal digits */
static int
parse_digits(StateParser *ps, int min_len, int max_len, const char *what)
{
	int			value = 0;
	int			len = 0;

	while (len < max_len && isdigit((unsigned char) *ps->p))
	{
		value = value * 10 + (*ps->p++ - '0');
		len++;
	}
	if (len < min_len || isdigit((unsigned char) *ps->p))
		state_expected(ps, what);
	return value;
}

static DateADT
parse_date(StateParser *ps)
{
	const char *start = ps->p;
	int			text_year = parse_digits(ps, 4, 7, "a date (YYYY-MM-DD)");
	int			year = text_year;
	int			month;
	int			mday;
	int			y,
				m,
				d;
	int			julian;

	expect_char(ps, '-', "\"-\"");
	month = parse_digits(ps, 2, 2, "a two-digit month");
	expect_char(ps, '-', "\"-\"");
	mday = parse_digits(ps, 2, 2, "a two-digit day");
	if (strncmp(ps->p, " BC", 3) == 0)
	{
		year = 1 - year;
		ps->p += 3;
	}
	/* a real day (no 2023-02-30) within date's range */
	if (text_year >= 1 && IS_VALID_JULIAN(year, month, mday) && month >= 1 && month <= 12 && mday >= 1)
	{
		julian = date2j(year, month, mday);
		j2date(julian, &y, &m, &d);
		if (y == year && m == month && d == mday && IS_VALID_DATE(julian - POSTGRES_EPOCH_JDATE))
			return julian - POSTGRES_EPOCH_JDATE;
	}
	state_syntax_error(ps, psprintf("\"%.*s\" at character %d is not a valid date.",
									(int) (ps->p - start), start, (int) (start - ps->input) + 1));
}

static int128
times_ten_plus(int128 units, int digit)
{
	if (units > (INT128_MAX_VALUE - digit) / 10)
		quantity_out_of_range();
	return units * 10 + digit;
}

/* digits [ "." 1-4 digits ], as 10^-4 units */
static int128
parse_quantity(StateParser *ps)
{
	int128		units = 0;
	int			decimals = 0;

	if (!isdigit((unsigned char) *ps->p))
		state_expected(ps, "a quantity");
	while (isdigit((unsigned char) *ps->p))
		units = times_ten_plus(units, *ps->p++ - '0');
	if (*ps->p == '.')
	{
		ps->p++;
		if (!isdigit((unsigned char) *ps->p))
			state_expected(ps, "a decimal digit");
		while (isdigit((unsigned char) *ps->p))
		{
			if (++decimals > QUANTITY_SCALE)
				state_expected(ps, "at most 4 decimals");
			units = times_ten_plus(units, *ps->p++ - '0');
		}
	}
	for (; decimals < QUANTITY_SCALE; decimals++)
		units = times_ten_plus(units, 0);
	return units;
}

Datum
stock_age_state_in(PG_FUNCTION_ARGS)
{
	char	   *input = PG_GETARG_CSTRING(0);
	StateParser ps = {input, input};
	StockAgeState *state;
	int			capacity = 0;
	char	   *invalid;

	for (const char *c = input; *c; c++)
		capacity += (*c == ':');
	expect_char(&ps, '(', "\"(\"");
	state = state_new(parse_date(&ps), capacity);
	expect_char(&ps, ',', "\",\"");
	state->departed = parse_quantity(&ps);
	expect_char(&ps, ',', "\",\"");
	expect_char(&ps, '{', "\"{\"");
	while (*ps.p != '}')
	{
		ArrivalDay *e;

		if (state->nentries > 0)
			expect_char(&ps, ',', "\",\" or \"}\"");
		if (state->nentries == capacity)
			state_expected(&ps, "\"}\"");
		e = &state->entries[state->nentries++];
		e->day = parse_date(&ps);
		expect_char(&ps, ':', "\":\"");
		e->units = parse_quantity(&ps);
	}
	ps.p++;
	expect_char(&ps, ')', "\")\"");
	if (*ps.p != '\0')
		state_expected(&ps, "the end");
	state->nsorted = state->nentries;
	if ((invalid = state_invalid(state)) != NULL)
		state_syntax_error(&ps, invalid);
	PG_RETURN_POINTER(state);
}

Datum
stock_age_state_out(PG_FUNCTION_ARGS)
{
	StockAgeState *state = (StockAgeState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	int			n;
	ArrivalDay *days = sorted_arrivals(state, &n);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '(');
	appendStringInfoString(&buf, date_text(state->as_of));
	appendStringInfoChar(&buf, ',');
	appendStringInfoString(&buf, units_text(state->departed));
	appendStringInfoString(&buf, ",{");
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfoString(&buf, date_text(days[i].day));
		appendStringInfoChar(&buf, ':');
		appendStringInfoString(&buf, units_text(days[i].units));
	}
	appendStringInfoString(&buf, "})");
	PG_RETURN_CSTRING(buf.data);
}

/*
 * ---------- binary I/O ----------
 * byte format (1), int32 as_of (days from 2000-01-01), int128 departures,
 * int32 arrival count, then per arrival int32 day and int128 quantity;
 * int128 as two int64 (high, low), quantities in units of 10^-4.
 */
#define ENTRY_WIRE_SIZE 20
#define HEADER_WIRE_SIZE 25

static void
send_int128(StringInfo buf, int128 v)
{
	pq_sendint64(buf, (int64) (v >> 64));
	pq_sendint64(buf, (int64) (uint64) v);
}

static int128
recv_int128(StringInfo buf)
{
	uint64		high = (uint64) pq_getmsgint64(buf);
	uint64		low = (uint64) pq_getmsgint64(buf);

	return (int128) (((uint128) high << 64) | low);
}

Datum
stock_age_state_send(PG_FUNCTION_ARGS)
{
	StockAgeState *state = (StockAgeState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	int			n;
	ArrivalDay *days = sorted_arrivals(state, &n);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, STOCK_AGE_STATE_FORMAT);
	pq_sendint32(&buf, state->as_of);
	send_int128(&buf, state->departed);
	pq_sendint32(&buf, n);
	for (int i = 0; i < n; i++)
	{
		pq_sendint32(&buf, days[i].day);
		send_int128(&buf, days[i].units);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

pg_attribute_noreturn()
static void
binary_error(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary stock_age_state"),
			 errdetail("%s", detail)));
}

Datum
stock_age_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			format;
	DateADT		as_of;
	int128		departed;
	int			n;
	StockAgeState *state;
	char	   *invalid;

	if (buf->len - buf->cursor < HEADER_WIRE_SIZE)
		binary_error(psprintf("It has %d bytes; the header alone has %d.",
							  buf->len - buf->cursor, HEADER_WIRE_SIZE));
	format = pq_getmsgbyte(buf);
	if (format != STOCK_AGE_STATE_FORMAT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported binary stock_age_state format %d", format),
				 errhint("This server reads format %d.", STOCK_AGE_STATE_FORMAT)));
	as_of = (DateADT) pq_getmsgint(buf, 4);
	departed = recv_int128(buf);
	n = (int) pq_getmsgint(buf, 4);
	if (!VALID_DAY(as_of))
		binary_error("as_of is not a finite date.");
	if (n < 0 || (int64) n * ENTRY_WIRE_SIZE != buf->len - buf->cursor)
		binary_error(psprintf("%d arrivals were announced, and %d bytes follow.",
							  n, buf->len - buf->cursor));
	state = state_new(as_of, n);
	state->departed = departed;
	for (int i = 0; i < n; i++)
	{
		state->entries[i].day = (DateADT) pq_getmsgint(buf, 4);
		state->entries[i].units = recv_int128(buf);
	}
	state->nentries = state->nsorted = n;
	if ((invalid = state_invalid(state)) != NULL)
		binary_error(invalid);
	PG_RETURN_POINTER(state);
}
