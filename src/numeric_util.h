/*
 * numeric_util.h — exact arithmetic helpers on PostgreSQL numeric.
 *
 * Money and rates never pass through floating point: everything here is
 * either PostgreSQL's own numeric routines or int128 fixed point with
 * explicit overflow checks.
 */
#ifndef REBATE_NUMERIC_UTIL_H
#define REBATE_NUMERIC_UTIL_H

#include "postgres.h"
#include "fmgr.h"
#include "utils/numeric.h"

#ifndef HAVE_INT128
#error "rebate needs a compiler with a 128-bit integer type"
#endif

/* Arithmetic through numeric.c (exact; result scales follow numeric's rules). */
extern Numeric num_add(Numeric a, Numeric b);
extern Numeric num_sub(Numeric a, Numeric b);
extern Numeric num_mul(Numeric a, Numeric b);
extern int	num_cmp(Numeric a, Numeric b);
extern int	num_sign(Numeric a);
extern Numeric num_max(Numeric a, Numeric b);
extern Numeric num_trim(Numeric a);
extern Numeric num_from_int64(int64 v);
extern Numeric num_from_cstring(const char *s);
extern char *num_to_cstring(Numeric a);
extern Numeric num_zero(void);
extern Numeric num_shift_point_left(Numeric a, int places);
extern Numeric num_pow10(int n);

/* NaN and +/-Infinity (PostgreSQL 14+) are "special"; money never is. */
extern bool num_is_special(Numeric a);
extern const char *num_special_name(Numeric a);

/*
 * Fixed-point view of a numeric: value = digits / 10^scale.  Used by the
 * aggregate's hot path, which reads the on-disk numeric format directly
 * (possibly short-header, never copied) and accumulates in int128.
 */
typedef enum NumericFixedResult
{
	NUMERIC_FIXED_OK,
	NUMERIC_FIXED_SPECIAL,		/* NaN or infinity */
	NUMERIC_FIXED_TOO_BIG,		/* needs the exact numeric path */
	NUMERIC_FIXED_FULL			/* fixed_sum_add: the int128 sum would overflow */
} NumericFixedResult;

/* A numeric's header fields and digits, read in place (possibly short-header, unaligned). */
typedef struct NumericParts
{
	bool		special;		/* NaN or +/-Infinity */
	bool		negative;
	int			dscale;			/* display scale: decimal places */
	int			weight;			/* of the first base-10000 digit */
	int			ndigits;
	const char *digits;			/* int16 base-10000 digits */
} NumericParts;

extern void numeric_read_parts(const struct varlena *packed, NumericParts *parts);
extern NumericFixedResult numeric_parts_to_int128(const NumericParts *parts, int scale,
												  int128 *result);
extern Numeric int128_to_numeric(int128 value, int scale);

/* Overflow-checked int128 helpers: return false on overflow. */
extern bool int128_add_checked(int128 a, int128 b, int128 *result);
extern bool int128_rescale_checked(int128 a, int from_scale, int to_scale,
								   int128 *result);

/* Largest scale the int128 fast path keeps before falling back to numeric. */
#define NUMERIC_FIXED_MAX_SCALE 30

/*
 * The hot path of the exact sums (tiered_sum's state, exact_sum.c): adds a
 * numeric, read in place, to a running int128 count of 10^-*scale units,
 * first raising *scale to the value's display scale when the sum can be
 * rescaled.  NUMERIC_FIXED_OK: added.  Otherwise the sum is unchanged and the
 * caller goes exact: NUMERIC_FIXED_SPECIAL (NaN or infinite),
 * NUMERIC_FIXED_TOO_BIG (the value itself needs numeric), or
 * NUMERIC_FIXED_FULL (the sum would overflow; *units holds the value, signed).
 */
static inline NumericFixedResult
fixed_sum_add(int128 *sum, int *scale, const struct varlena *value, bool negate, int128 *units)
{
	NumericParts parts;
	int128		rescaled;
	NumericFixedResult r;

	numeric_read_parts(value, &parts);
	if (parts.dscale > *scale && parts.dscale <= NUMERIC_FIXED_MAX_SCALE &&
		int128_rescale_checked(*sum, *scale, parts.dscale, &rescaled))
	{
		*sum = rescaled;
		*scale = parts.dscale;
	}
	r = numeric_parts_to_int128(&parts, *scale, units);
	if (unlikely(r != NUMERIC_FIXED_OK))
		return r;
	if (negate)
		*units = -*units;
	return likely(int128_add_checked(*sum, *units, sum)) ? NUMERIC_FIXED_OK : NUMERIC_FIXED_FULL;
}

#endif
