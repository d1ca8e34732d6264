/*
 * numeric_util.c — exact arithmetic helpers on PostgreSQL numeric.
 *
 * Two kinds of helpers live here:
 *  - thin wrappers around numeric.c's SQL-callable routines, so that the
 *    calculation code reads as arithmetic rather than as fmgr plumbing;
 *  - an int128 fixed-point path for the aggregate's per-row work.  It reads
 *    numeric's on-disk format (stable since PostgreSQL 8.3; special values
 *    since 14) straight from the tuple, without detoasting short headers into
 *    a copy, which is what lets tiered_sum run at the speed of sum().
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "numeric_util.h"

Numeric
num_add(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
num_sub(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_sub, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
num_mul(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul, NumericGetDatum(a), NumericGetDatum(b)));
}

int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

int
num_sign(Numeric a)
{
	NumericParts parts;

	numeric_read_parts((const struct varlena *) a, &parts);
	if (parts.special)			/* NaN and infinities: let numeric.c decide */
		return num_cmp(a, num_zero());
	if (parts.ndigits == 0)
		return 0;
	return parts.negative ? -1 : 1;
}

Numeric
num_max(Numeric a, Numeric b)
{
	return num_cmp(a, b) >= 0 ? a : b;
}

/* Drop trailing fractional zeros, so equal values print (and compare bytewise) alike. */
Numeric
num_trim(Numeric a)
{
	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, NumericGetDatum(a)));
}

Numeric
num_from_int64(int64 v)
{
	return DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(v)));
}

Numeric
num_from_cstring(const char *s)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

char *
num_to_cstring(Numeric a)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(a)));
}

Numeric
num_zero(void)
{
	return num_from_int64(0);
}

/* 10^n for n >= 0, exactly. */
Numeric
num_pow10(int n)
{
	char		buf[64];

	Assert(n >= 0 && n < 62);
	buf[0] = '1';
	memset(buf + 1, '0', n);
	buf[n + 1] = '\0';
	return num_from_cstring(buf);
}

/*
 * a * 10^-places, exactly: 3.5 shifted by 2 is 0.035 (not 3.5/100 with
 * division's extra scale).  The factors 0.1, 0.01, ... are parsed once per
 * backend: percentages are shifted on every calculation.
 */
#define MAX_CACHED_SHIFT 32

Numeric
num_shift_point_left(Numeric a, int places)
{
	static Numeric factors[MAX_CACHED_SHIFT + 1];
	char		buf[MAX_CACHED_SHIFT + 3];

	Assert(places > 0 && places <= MAX_CACHED_SHIFT);
	if (factors[places] == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		buf[0] = '0';
		buf[1] = '.';
		memset(buf + 2, '0', places - 1);
		buf[places + 1] = '1';
		buf[places + 2] = '\0';
		factors[places] = num_from_cstring(buf);
		MemoryContextSwitchTo(old);
	}
	return num_mul(a, factors[places]);
}

/* ---------- numeric's on-disk format (see numeric.c) ---------- */

#define NUMERIC_SIGN_MASK	0xC000
#define NUMERIC_NEG			0x4000
#define NUMERIC_SHORT		0x8000
#define NUMERIC_SPECIAL		0xC000
#define NUMERIC_NAN			0xC000
#define NUMERIC_PINF		0xD000
#define NUMERIC_SHORT_SIGN_MASK			0x2000
#define NUMERIC_SHORT_DSCALE_MASK		0x1F80
#define NUMERIC_SHORT_DSCALE_SHIFT		7
#define NUMERIC_SHORT_WEIGHT_SIGN_MASK	0x0040
#define NUMERIC_SHORT_WEIGHT_MASK		0x003F
#define NUMERIC_DSCALE_MASK				0x3FFF
#define NBASE_DIGITS	4		/* decimal digits per base-10000 digit */

static uint16
read_uint16(const char *p)
{
	uint16		v;

	memcpy(&v, p, sizeof(v));
	return v;
}

void
numeric_read_parts(const struct varlena *packed, NumericParts *parts)
{
	const char *body = VARDATA_ANY(packed);
	int			len = VARSIZE_ANY_EXHDR(packed);
	uint16		header = read_uint16(body);

	memset(parts, 0, sizeof(*parts));
	if ((header & NUMERIC_SIGN_MASK) == NUMERIC_SPECIAL)
	{
		parts->special = true;
		return;
	}
	if (header & NUMERIC_SHORT)
	{
		parts->negative = (header & NUMERIC_SHORT_SIGN_MASK) != 0;
		parts->dscale = (header & NUMERIC_SHORT_DSCALE_MASK) >> NUMERIC_SHORT_DSCALE_SHIFT;
		parts->weight = (header & NUMERIC_SHORT_WEIGHT_SIGN_MASK ? ~NUMERIC_SHORT_WEIGHT_MASK : 0)
			| (header & NUMERIC_SHORT_WEIGHT_MASK);
		parts->digits = body + sizeof(uint16);
		parts->ndigits = (len - sizeof(uint16)) / sizeof(int16);
	}
	else
	{
		parts->negative = (header & NUMERIC_SIGN_MASK) == NUMERIC_NEG;
		parts->dscale = header & NUMERIC_DSCALE_MASK;
		parts->weight = (int16) read_uint16(body + sizeof(uint16));
		parts->digits = body + 2 * sizeof(uint16);
		parts->ndigits = (len - 2 * sizeof(uint16)) / sizeof(int16);
	}
}

bool
num_is_special(Numeric a)
{
	NumericParts parts;

	numeric_read_parts((const struct varlena *) a, &parts);
	return parts.special;
}

const char *
num_special_name(Numeric a)
{
	uint16		header = read_uint16(VARDATA_ANY((const struct varlena *) a));

	if (header == NUMERIC_NAN)
		return "NaN";
	return header == NUMERIC_PINF ? "Infinity" : "-Infinity";
}

/* 10^0 .. 10^38 (every power of ten an int128 holds) and INT128_MAX / 10^i. */
#define MAX_POW10 38
#define INT128_MAX_VALUE ((int128) (((uint128) 1 << 127) - 1))

static int128 pow10_table[MAX_POW10 + 1];
static int128 mul_limit_table[MAX_POW10 + 1];

static void
init_pow10_tables(void)
{
	int128		p = 1;

	for (int i = 0; i <= MAX_POW10; i++)
	{
		pow10_table[i] = p;
		mul_limit_table[i] = INT128_MAX_VALUE / p;
		if (i < MAX_POW10)
			p *= 10;			/* 10^39 would overflow */
	}
}

static inline bool
int128_mul_pow10_checked(int128 a, int exponent, int128 *result)
{
	if (unlikely(pow10_table[0] == 0))
		init_pow10_tables();
	if (a == 0)
	{
		*result = 0;
		return true;
	}
	if (exponent > MAX_POW10 || a == -INT128_MAX_VALUE - 1)
		return false;
	if ((a > 0 ? a : -a) > mul_limit_table[exponent])
		return false;
	*result = a * pow10_table[exponent];
	return true;
}

bool
int128_add_checked(int128 a, int128 b, int128 *result)
{
	int128		sum = (int128) ((uint128) a + (uint128) b);

	/* overflow iff both operands share a sign that the sum does not */
	if ((a >= 0) == (b >= 0) && (sum >= 0) != (a >= 0))
		return false;
	*result = sum;
	return true;
}

bool
int128_rescale_checked(int128 a, int from_scale, int to_scale, int128 *result)
{
	if (to_scale < from_scale)
		return false;
	return int128_mul_pow10_checked(a, to_scale - from_scale, result);
}

/*
 * The numeric as an integer count of 10^-scale units.  The caller chooses a
 * scale at least the value's dscale, so the conversion is always exact.
 * This runs once per aggregated row: no division by a variable, 64-bit
 * arithmetic for the usual four base-10000 digits (up to 16 decimal digits).
 */
NumericFixedResult
numeric_parts_to_int128(const NumericParts *parts, int scale, int128 *result)
{
	int			n = parts->ndigits;
	int			exponent;
	int			last;
	int128		acc;
	uint64		head = 0;

	if (parts->special)
		return NUMERIC_FIXED_SPECIAL;
	if (n == 0)
	{
		*result = 0;
		return NUMERIC_FIXED_OK;
	}
	/* nine base-10000 digits (36 decimal digits) always fit before scaling */
	if (parts->dscale > scale || n > 9)
		return NUMERIC_FIXED_TOO_BIG;

	/* all digits but the last: the last may need trailing zeros dropped */
	for (int i = 0; i < Min(n - 1, 4); i++)
		head = head * 10000 + (int16) read_uint16(parts->digits + i * sizeof(int16));
	acc = (int128) head;
	for (int i = 4; i < n - 1; i++)
		acc = acc * 10000 + (int16) read_uint16(parts->digits + i * sizeof(int16));
	last = (int16) read_uint16(parts->digits + (n - 1) * sizeof(int16));

	/* the last digit has weight (weight - n + 1); express it in 10^-scale units */
	exponent = NBASE_DIGITS * (parts->weight - n + 1) + scale;
	if (exponent < -3)			/* digits below the scale: cannot happen when dscale <= scale */
		return NUMERIC_FIXED_TOO_BIG;
	switch (exponent)
	{
			/* the value has no more than scale decimals, so these divisions are exact */
		case -3:
			acc = acc * 10 + last / 1000;
			break;
		case -2:
			acc = acc * 100 + last / 100;
			break;
		case -1:
			acc = acc * 1000 + last / 10;
			break;
		default:
			Assert(exponent >= 0);
			acc = acc * 10000 + last;
			if (exponent > 0 && !int128_mul_pow10_checked(acc, exponent, &acc))
				return NUMERIC_FIXED_TOO_BIG;
			break;
	}
	*result = parts->negative ? -acc : acc;
	return NUMERIC_FIXED_OK;
}

/* value / 10^scale as a numeric whose display scale is exactly scale. */
Numeric
int128_to_numeric(int128 value, int scale)
{
	char		digits[64];
	char		text[128];
	int			ndigits = 0;
	int			pos = 0;
	uint128		magnitude = value < 0 ? (uint128) 0 - (uint128) value : (uint128) value;

	do
	{
		digits[ndigits++] = '0' + (int) (magnitude % 10);
		magnitude /= 10;
	} while (magnitude > 0);
	while (ndigits <= scale)
		digits[ndigits++] = '0';

	if (value < 0)
		text[pos++] = '-';
	for (int i = ndigits - 1; i >= 0; i--)
	{
		text[pos++] = digits[i];
		if (i == scale && scale > 0)
			text[pos++] = '.';
	}
	text[pos] = '\0';
	return num_from_cstring(text);
}
