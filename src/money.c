/*
 * money.c — rounding an exact amount to a currency's minor unit.
 *
 * The calculation never rounds; this is the one explicit step that does, at
 * the place the caller chooses (a statement line, a payment).
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "numeric_util.h"
#include "option_words.h"

typedef struct CurrencyMinorUnit
{
	const char *code;			/* ISO 4217 */
	int			minor_unit;		/* decimal places of the smallest coin */
} CurrencyMinorUnit;

/* ISO 4217 minor units, kept sorted by code so the hint lists them in order. */
static const CurrencyMinorUnit currencies[] = {
	{"AED", 2}, {"AUD", 2}, {"BHD", 3}, {"BRL", 2}, {"CAD", 2}, {"CHF", 2},
	{"CLP", 0}, {"CNY", 2}, {"CZK", 2}, {"DKK", 2}, {"EUR", 2}, {"GBP", 2},
	{"HKD", 2}, {"IDR", 2}, {"INR", 2}, {"ISK", 0}, {"JOD", 3}, {"JPY", 0},
	{"KRW", 0}, {"KWD", 3}, {"MOP", 2}, {"MXN", 2}, {"MYR", 2}, {"NOK", 2},
	{"NZD", 2}, {"OMR", 3}, {"PHP", 2}, {"PLN", 2}, {"RUB", 2}, {"SAR", 2},
	{"SEK", 2}, {"SGD", 2}, {"THB", 2}, {"TND", 3}, {"TRY", 2}, {"TWD", 2},
	{"USD", 2}, {"VND", 0}, {"ZAR", 2},
};

typedef enum RoundingMode
{
	ROUND_HALF_UP,				/* half away from zero: 0.125 -> 0.13, -0.125 -> -0.13 */
	ROUND_HALF_EVEN,			/* banker's: 0.125 -> 0.12, 0.135 -> 0.14 */
	ROUND_DOWN,					/* toward zero: what "per full unit" means */
	ROUND_UP					/* away from zero */
} RoundingMode;

static int
currency_minor_unit(const char *code)
{
	StringInfoData known;

	for (size_t i = 0; i < lengthof(currencies); i++)
		if (pg_strcasecmp(code, currencies[i].code) == 0)
			return currencies[i].minor_unit;

	initStringInfo(&known);
	for (size_t i = 0; i < lengthof(currencies); i++)
		appendStringInfo(&known, "%s%s", i ? ", " : "", currencies[i].code);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown currency code \"%s\"", code),
			 errhint("Known currency codes are %s.", known.data)));
}

static const OptionWord rounding_words[] = {
	{"half_up", ROUND_HALF_UP},
	{"half_even", ROUND_HALF_EVEN},
	{"down", ROUND_DOWN},
	{"up", ROUND_UP},
};

static Numeric
round_to(Numeric x, int scale)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(x), Int32GetDatum(scale)));
}

static Numeric
trunc_to(Numeric x, int scale)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_trunc, NumericGetDatum(x), Int32GetDatum(scale)));
}

/* One minor unit with the sign of x: 0.01 or -0.01 for a two-place currency. */
static Numeric
signed_unit(Numeric x, int scale)
{
	Numeric		unit = scale > 0 ? num_shift_point_left(num_from_int64(1), scale) : num_from_int64(1);

	return num_sign(x) < 0 ? num_sub(num_zero(), unit) : unit;
}

static Numeric
round_money(Numeric x, int scale, RoundingMode mode)
{
	Numeric		truncated = trunc_to(x, scale);
	Numeric		rest;
	Numeric		half;
	int			c;

	switch (mode)
	{
		case ROUND_HALF_UP:
			return round_to(x, scale);	/* numeric's round() is half away from zero */
		case ROUND_DOWN:
			return truncated;
		case ROUND_UP:
			return num_cmp(truncated, x) == 0 ? truncated : num_add(truncated, signed_unit(x, scale));
		case ROUND_HALF_EVEN:
			break;
	}

	/* compare what truncation dropped with half a minor unit */
	rest = DatumGetNumeric(DirectFunctionCall1(numeric_abs, NumericGetDatum(num_sub(x, truncated))));
	half = num_shift_point_left(num_from_int64(5), scale + 1);
	c = num_cmp(rest, half);
	if (c < 0)
		return truncated;
	if (c > 0)
		return num_add(truncated, signed_unit(x, scale));

	/* exactly half: go to the even neighbour */
	{
		Numeric		units = num_mul(truncated, num_pow10(scale));
		Numeric		parity = DatumGetNumeric(DirectFunctionCall2(numeric_mod, NumericGetDatum(units),
																 NumericGetDatum(num_from_int64(2))));

		return num_sign(parity) == 0 ? truncated : num_add(truncated, signed_unit(x, scale));
	}
}

PG_FUNCTION_INFO_V1(rebate_round_money);
Datum
rebate_round_money(PG_FUNCTION_ARGS)
{
	Numeric		amount = PG_GETARG_NUMERIC(0);
	int			scale = currency_minor_unit(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	RoundingMode mode = (RoundingMode) option_word_value(text_to_cstring(PG_GETARG_TEXT_PP(2)),
														 rounding_words, lengthof(rounding_words),
														 gettext_noop("unknown rounding mode \"%s\""),
														 "Use \"half_up\", \"half_even\", \"down\" or \"up\".");

	if (num_is_special(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount to round must be a finite number"),
				 errdetail("It is %s.", num_special_name(amount))));
	PG_RETURN_NUMERIC(round_money(amount, scale, mode));
}

PG_FUNCTION_INFO_V1(rebate_currency_minor_unit);
Datum
rebate_currency_minor_unit(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(currency_minor_unit(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}
