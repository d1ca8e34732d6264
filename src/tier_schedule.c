/*
 * tier_schedule.c — the rebate.tier_schedule type: text and binary I/O,
 * validation, canonical form, comparison, hashing, constructor, accessors.
 *
 * Text form (whitespace free, keywords case-insensitive):
 *
 *     schedule := mode tier { ',' tier } [ 'cap' number ]
 *     mode     := 'retroactive' | 'incremental'
 *     tier     := number ':' value
 *     value    := number '%' | number 'per' 'unit' | number
 *
 * A scale's rates are all percentages or all amounts per unit; lump sums may
 * stand alone or mix with either ("retroactive 1000:100, 5000:2%").
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"

#include "binary_io.h"
#include "compat.h"
#include "numeric_util.h"
#include "option_words.h"
#include "tier_calc.h"
#include "tier_schedule.h"

/* A generous bound that keeps a malformed or hostile value from being absurd. */
#define TIER_SCHEDULE_MAX_TIERS 10000

#define SCHEDULE_SYNTAX_HINT \
	"A schedule looks like \"retroactive 0:1%%, 100000:2%%\", \"incremental 0:10 per unit, 5:12 per unit\" or \"retroactive 100000:2000 cap 5000\"."

static const char *
tier_mode_name(TierMode mode)
{
	return mode == TIER_MODE_RETROACTIVE ? "retroactive" : "incremental";
}

static const char *
tier_kind_name(TierKind kind)
{
	/* (a mixed scale is named "mixed" by tier_schedule_kind) */
	switch (kind)
	{
		case TIER_KIND_PERCENT:
			return "percent";
		case TIER_KIND_PER_UNIT:
			return "per_unit";
		case TIER_KIND_LUMP_SUM:
			break;
	}
	return "lump_sum";
}

/* How a value of this kind is written in a message: "3.5%", "12 per unit", "2000". */
static char *
describe_value(TierKind kind, Numeric value)
{
	char	   *digits = num_to_cstring(value);

	if (kind == TIER_KIND_PERCENT)
		return psprintf("%s%%", digits);
	if (kind == TIER_KIND_PER_UNIT)
		return psprintf("%s per unit", digits);
	return digits;
}

static const char *
describe_kind(TierKind kind)
{
	switch (kind)
	{
		case TIER_KIND_PERCENT:
			return "a percentage";
		case TIER_KIND_PER_UNIT:
			return "an amount per unit";
		case TIER_KIND_LUMP_SUM:
			break;
	}
	return "a lump sum";
}

/* ---------- decoding ---------- */

static Numeric
next_number(char **cursor)
{
	Numeric		n = (Numeric) *cursor;

	*cursor += INTALIGN(VARSIZE(n));
	return n;
}

void
tier_view_init(TierView *view, TierSchedule schedule)
{
	char	   *cursor = schedule->numbers;

	if (schedule->format != TIER_SCHEDULE_FORMAT)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("tier schedule has unknown format version %d", schedule->format)));
	view->mode = (TierMode) schedule->mode;
	view->kind = (TierKind) schedule->kind;
	view->ntiers = schedule->ntiers;
	view->cap = (schedule->flags & TIER_SCHEDULE_HAS_CAP) ? next_number(&cursor) : NULL;
	view->thresholds = palloc(sizeof(Numeric) * view->ntiers);
	view->values = palloc(sizeof(Numeric) * view->ntiers);
	for (int i = 0; i < view->ntiers; i++)
	{
		view->thresholds[i] = next_number(&cursor);
		view->values[i] = next_number(&cursor);
	}
	view->lump_tiers = (schedule->flags & TIER_SCHEDULE_HAS_LUMP_TIERS) ? (const uint8 *) cursor : NULL;
}

TierKind
tier_kind(const TierView *view, int i)
{
	if (view->lump_tiers != NULL && view->lump_tiers[i])
		return TIER_KIND_LUMP_SUM;
	return view->kind;
}

Numeric
tier_rate(const TierView *view, int i)
{
	Assert(tier_kind(view, i) != TIER_KIND_LUMP_SUM);
	if (view->kind == TIER_KIND_PERCENT)
		return num_shift_point_left(view->values[i], 2);
	return view->values[i];
}

/* ---------- validation and construction ---------- */

static void
check_tier_finite(Numeric n, const char *message, int tier)
{
	if (num_is_special(n))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_internal("%s", _(message)),
				 errdetail("Tier %d has %s.", tier, num_special_name(n))));
}

static void
validate_schedule(TierMode mode, TierKind kind, int ntiers,
				  Numeric *thresholds, Numeric *values, const TierKind *kinds, Numeric cap)
{
	Numeric		hundred = num_from_int64(100);

	if (ntiers < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tier schedule must have at least one tier"),
				 errhint("Give at least one tier, such as \"0:1%%\".")));
	if (ntiers > TIER_SCHEDULE_MAX_TIERS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("tier schedule has too many tiers"),
				 errdetail("It has %d tiers; at most %d are allowed.", ntiers, TIER_SCHEDULE_MAX_TIERS)));
	if (kind == TIER_KIND_LUMP_SUM && mode == TIER_MODE_INCREMENTAL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lump-sum tiers are only allowed in retroactive schedules"),
				 errdetail("An incremental schedule pays each band a rate; a lump sum has no rate."),
				 errhint("Use \"retroactive\" mode, or give each tier a percentage or an amount per unit.")));

	for (int i = 0; i < ntiers; i++)
	{
		int			tier = i + 1;

		check_tier_finite(thresholds[i], gettext_noop("tier threshold must be a finite number"), tier);
		check_tier_finite(values[i], gettext_noop("tier value must be a finite number"), tier);
		if (num_sign(thresholds[i]) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tier threshold must not be negative"),
					 errdetail("Tier %d starts at %s.", tier, num_to_cstring(thresholds[i])),
					 errhint("Thresholds are amounts, quantities or achievement ratios from 0 up.")));
		if (i > 0 && num_cmp(thresholds[i], thresholds[i - 1]) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tier thresholds must be strictly increasing"),
					 errdetail("Tier %d starts at %s, which is not above tier %d's %s.",
							   tier, num_to_cstring(thresholds[i]),
							   tier - 1, num_to_cstring(thresholds[i - 1])),
					 errhint("List the tiers in ascending order of threshold, each threshold once.")));
		if (num_sign(values[i]) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tier value must not be negative"),
					 errdetail("Tier %d has %s.", tier, describe_value(kinds[i], values[i])),
					 errhint("A rebate scale pays; deductions are not tiers.")));
		if (kinds[i] == TIER_KIND_PERCENT && num_cmp(values[i], hundred) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tier percentage must not exceed 100%%"),
					 errdetail("Tier %d has %s.", tier, describe_value(kinds[i], values[i])),
					 errhint("Percentages are written in percent, e.g. \"2.5%%\"; for an amount per unit write \"per unit\".")));
	}
	if (cap != NULL)
	{
		check_finite_number(cap, gettext_noop("cap must be a finite number"));
		if (num_sign(cap) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cap must not be negative"),
					 errdetail("The cap is %s.", num_to_cstring(cap)),
					 errhint("Leave the cap out for an unlimited rebate.")));
	}
}

static Size
append_number(char *dest, Numeric n)
{
	Size		size = VARSIZE(n);

	if (dest != NULL)
		memcpy(dest, n, size);
	return INTALIGN(size);
}

/*
 * The schedule's kind from its tiers' kinds: the rates' kind, or lump sum
 * when every tier is one.  Rates of two kinds in one scale are refused.
 */
static TierKind
schedule_kind_of(const TierKind *kinds, int ntiers, bool *mixed)
{
	TierKind	kind = TIER_KIND_LUMP_SUM;
	int			first_rate = 0;
	bool		any_lump = false;

	for (int i = 0; i < ntiers; i++)
	{
		if (kinds[i] == TIER_KIND_LUMP_SUM)
			any_lump = true;
		else if (kind == TIER_KIND_LUMP_SUM)
		{
			kind = kinds[i];
			first_rate = i;
		}
		else if (kinds[i] != kind)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the rates of a schedule must all be percentages or all amounts per unit"),
					 errdetail("Tier %d is %s but tier %d is %s.",
							   first_rate + 1, describe_kind(kind), i + 1, describe_kind(kinds[i])),
					 errhint("Write every rate as a percentage (\"2%%\") or every rate as an amount per unit (\"3 per unit\"); lump sums (\"2000\") may stand beside either.")));
	}
	*mixed = any_lump && kind != TIER_KIND_LUMP_SUM;
	return kind;
}

/*
 * Build a validated, canonical schedule from each tier's kind of value.
 * Shared by text input, binary receive and the SQL constructor, so no path
 * accepts what another refuses.
 */
static TierSchedule
tier_schedule_build(TierMode mode, int ntiers, Numeric *thresholds, Numeric *values,
					const TierKind *kinds, Numeric cap)
{
	Numeric    *canon_t;
	Numeric    *canon_v;
	Numeric		canon_cap = NULL;
	Size		size = offsetof(TierScheduleData, numbers);
	TierSchedule result;
	char	   *cursor;
	bool		mixed;
	TierKind	kind = schedule_kind_of(kinds, ntiers, &mixed);

	validate_schedule(mode, kind, ntiers, thresholds, values, kinds, cap);

	/* canonical numbers: trailing zeros trimmed, always a 4-byte header */
	canon_t = palloc(sizeof(Numeric) * ntiers);
	canon_v = palloc(sizeof(Numeric) * ntiers);
	if (cap != NULL)
	{
		canon_cap = num_trim(cap);
		size += append_number(NULL, canon_cap);
	}
	for (int i = 0; i < ntiers; i++)
	{
		canon_t[i] = num_trim(thresholds[i]);
		canon_v[i] = num_trim(values[i]);
		size += append_number(NULL, canon_t[i]) + append_number(NULL, canon_v[i]);
	}
	if (mixed)
		size += ntiers;

	result = palloc0(size);
	SET_VARSIZE(result, size);
	result->format = TIER_SCHEDULE_FORMAT;
	result->mode = mode;
	result->kind = kind;
	result->flags = (cap != NULL ? TIER_SCHEDULE_HAS_CAP : 0) | (mixed ? TIER_SCHEDULE_HAS_LUMP_TIERS : 0);
	result->ntiers = ntiers;
	cursor = result->numbers;
	if (canon_cap != NULL)
		cursor += append_number(cursor, canon_cap);
	for (int i = 0; i < ntiers; i++)
	{
		cursor += append_number(cursor, canon_t[i]);
		cursor += append_number(cursor, canon_v[i]);
	}
	if (mixed)
		for (int i = 0; i < ntiers; i++)
			*cursor++ = (kinds[i] == TIER_KIND_LUMP_SUM) ? 1 : 0;
	return result;
}

/* ---------- text input ---------- */

typedef struct ScheduleParser
{
	const char *input;
	const char *p;
} ScheduleParser;

static int
parser_position(ScheduleParser *ps)
{
	return pg_mbstrlen_with_len(ps->input, ps->p - ps->input) + 1;
}

static void
skip_space(ScheduleParser *ps)
{
	while (*ps->p && isspace((unsigned char) *ps->p))
		ps->p++;
}

pg_attribute_noreturn()
static void
syntax_error(ScheduleParser *ps, const char *expected)
{
	int			position = parser_position(ps);

	if (*ps->p == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type tier_schedule: \"%s\"", ps->input),
				 errdetail("Expected %s at the end of the input (character %d).", expected, position),
				 errhint(SCHEDULE_SYNTAX_HINT)));
	else
	{
		int			len = pg_mblen(ps->p);

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type tier_schedule: \"%s\"", ps->input),
				 errdetail("Expected %s at character %d, found \"%.*s\".", expected, position, len, ps->p),
				 errhint(SCHEDULE_SYNTAX_HINT)));
	}
}

/* Consume a run of letters if it equals word (case-insensitively). */
static bool
accept_word(ScheduleParser *ps, const char *word)
{
	size_t		len = strlen(word);
	const char *end = ps->p;

	while (isalpha((unsigned char) *end))
		end++;
	if ((size_t) (end - ps->p) != len || pg_strncasecmp(ps->p, word, len) != 0)
		return false;
	ps->p = end;
	return true;
}

static Numeric
parse_number(ScheduleParser *ps, const char *expected)
{
	const char *start = ps->p;
	const char *q = ps->p;
	int			ndigits = 0;

	if (*q == '+' || *q == '-')
		q++;
	while (isdigit((unsigned char) *q))
		q++, ndigits++;
	if (*q == '.')
	{
		q++;
		while (isdigit((unsigned char) *q))
			q++, ndigits++;
	}
	if (ndigits == 0)
		syntax_error(ps, expected);
	ps->p = q;
	return num_from_cstring(pnstrdup(start, q - start));
}

static TierSchedule
parse_schedule(const char *input)
{
	ScheduleParser ps = {input, input};
	TierMode	mode;
	int			capacity = 8;
	int			ntiers = 0;
	Numeric    *thresholds = palloc(sizeof(Numeric) * capacity);
	Numeric    *values = palloc(sizeof(Numeric) * capacity);
	TierKind   *kinds = palloc(sizeof(TierKind) * capacity);
	Numeric		cap = NULL;

	skip_space(&ps);
	if (accept_word(&ps, "retroactive"))
		mode = TIER_MODE_RETROACTIVE;
	else if (accept_word(&ps, "incremental"))
		mode = TIER_MODE_INCREMENTAL;
	else
		syntax_error(&ps, "\"retroactive\" or \"incremental\"");

	skip_space(&ps);
	if (*ps.p == '\0')
		validate_schedule(mode, TIER_KIND_PERCENT, 0, NULL, NULL, NULL, NULL);	/* reports the empty schedule */

	for (;;)
	{
		TierKind	this_kind;

		if (ntiers == capacity)
		{
			capacity *= 2;
			thresholds = repalloc(thresholds, sizeof(Numeric) * capacity);
			values = repalloc(values, sizeof(Numeric) * capacity);
			kinds = repalloc(kinds, sizeof(TierKind) * capacity);
		}
		skip_space(&ps);
		thresholds[ntiers] = parse_number(&ps, "a tier threshold");
		skip_space(&ps);
		if (*ps.p != ':')
			syntax_error(&ps, "\":\" after the threshold");
		ps.p++;
		skip_space(&ps);
		values[ntiers] = parse_number(&ps, "a tier value");
		skip_space(&ps);
		if (*ps.p == '%')
		{
			ps.p++;
			this_kind = TIER_KIND_PERCENT;
		}
		else if (accept_word(&ps, "per"))
		{
			skip_space(&ps);
			if (!accept_word(&ps, "unit"))
				syntax_error(&ps, "\"unit\" after \"per\"");
			this_kind = TIER_KIND_PER_UNIT;
		}
		else
			this_kind = TIER_KIND_LUMP_SUM;
		kinds[ntiers] = this_kind;
		ntiers++;

		skip_space(&ps);
		if (*ps.p != ',')
			break;
		ps.p++;
	}

	if (accept_word(&ps, "cap"))
	{
		skip_space(&ps);
		cap = parse_number(&ps, "a number after \"cap\"");
		skip_space(&ps);
	}
	if (*ps.p != '\0')
		syntax_error(&ps, "\",\", \"cap\" or the end of the schedule");

	return tier_schedule_build(mode, ntiers, thresholds, values, kinds, cap);
}

PG_FUNCTION_INFO_V1(tier_schedule_in);
Datum
tier_schedule_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIER_SCHEDULE(parse_schedule(PG_GETARG_CSTRING(0)));
}

/* ---------- text output ---------- */

char *
tier_schedule_to_cstring(TierSchedule schedule)
{
	TierView	view;
	StringInfoData out;

	tier_view_init(&view, schedule);
	initStringInfo(&out);
	appendStringInfoString(&out, tier_mode_name(view.mode));
	for (int i = 0; i < view.ntiers; i++)
		appendStringInfo(&out, "%s%s:%s", i == 0 ? " " : ", ",
						 num_to_cstring(view.thresholds[i]),
						 describe_value(tier_kind(&view, i), view.values[i]));
	if (view.cap != NULL)
		appendStringInfo(&out, " cap %s", num_to_cstring(view.cap));
	return out.data;
}

PG_FUNCTION_INFO_V1(tier_schedule_out);
Datum
tier_schedule_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(tier_schedule_to_cstring(PG_GETARG_TIER_SCHEDULE(0)));
}

/* ---------- binary I/O: format byte, mode, kind, flags, ntiers, numbers ---------- */

PG_FUNCTION_INFO_V1(tier_schedule_send);
Datum
tier_schedule_send(PG_FUNCTION_ARGS)
{
	TierSchedule schedule = PG_GETARG_TIER_SCHEDULE(0);
	TierView	view;
	StringInfoData buf;

	tier_view_init(&view, schedule);
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, TIER_SCHEDULE_FORMAT);
	pq_sendbyte(&buf, view.mode);
	pq_sendbyte(&buf, view.kind);
	pq_sendbyte(&buf, schedule->flags);
	pq_sendint32(&buf, view.ntiers);
	if (view.cap != NULL)
		send_embedded(&buf, numeric_send, NumericGetDatum(view.cap));
	for (int i = 0; i < view.ntiers; i++)
	{
		send_embedded(&buf, numeric_send, NumericGetDatum(view.thresholds[i]));
		send_embedded(&buf, numeric_send, NumericGetDatum(view.values[i]));
	}
	if (view.lump_tiers != NULL)
		for (int i = 0; i < view.ntiers; i++)
			pq_sendbyte(&buf, view.lump_tiers[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(tier_schedule_recv);
Datum
tier_schedule_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			format = pq_getmsgbyte(buf);
	int			mode = pq_getmsgbyte(buf);
	int			kind = pq_getmsgbyte(buf);
	int			flags = pq_getmsgbyte(buf);
	int			ntiers = pq_getmsgint(buf, 4);
	Numeric		cap = NULL;
	Numeric    *thresholds;
	Numeric    *values;
	TierKind   *kinds;

	if (format != TIER_SCHEDULE_FORMAT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported binary tier_schedule format %d", format),
				 errhint("This server reads format %d.", TIER_SCHEDULE_FORMAT)));
	if ((mode != TIER_MODE_RETROACTIVE && mode != TIER_MODE_INCREMENTAL) ||
		kind < TIER_KIND_PERCENT || kind > TIER_KIND_LUMP_SUM ||
		(flags & ~(TIER_SCHEDULE_HAS_CAP | TIER_SCHEDULE_HAS_LUMP_TIERS)) != 0 ||
		((flags & TIER_SCHEDULE_HAS_LUMP_TIERS) && kind == TIER_KIND_LUMP_SUM) ||
		ntiers < 0 || ntiers > TIER_SCHEDULE_MAX_TIERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary tier_schedule header"),
				 errdetail("Mode %d, kind %d, flags %d, %d tiers.", mode, kind, flags, ntiers)));
	if (flags & TIER_SCHEDULE_HAS_CAP)
		cap = DatumGetNumeric(recv_embedded(buf, numeric_recv, "numeric"));
	thresholds = palloc(sizeof(Numeric) * Max(ntiers, 1));
	values = palloc(sizeof(Numeric) * Max(ntiers, 1));
	kinds = palloc(sizeof(TierKind) * Max(ntiers, 1));
	for (int i = 0; i < ntiers; i++)
	{
		thresholds[i] = DatumGetNumeric(recv_embedded(buf, numeric_recv, "numeric"));
		values[i] = DatumGetNumeric(recv_embedded(buf, numeric_recv, "numeric"));
		kinds[i] = (TierKind) kind;
	}
	if (flags & TIER_SCHEDULE_HAS_LUMP_TIERS)
		for (int i = 0; i < ntiers; i++)
		{
			int			lump = pq_getmsgbyte(buf);

			if (lump != 0 && lump != 1)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
						 errmsg("invalid binary tier_schedule tier kind"),
						 errdetail("Tier %d is marked %d; a lump-sum mark is 0 or 1.", i + 1, lump)));
			if (lump)
				kinds[i] = TIER_KIND_LUMP_SUM;
		}
	PG_RETURN_TIER_SCHEDULE(tier_schedule_build((TierMode) mode, ntiers, thresholds, values, kinds, cap));
}

/* ---------- comparison and hashing (canonical form makes bytes decisive) ---------- */

static int
tier_schedule_compare(TierSchedule a, TierSchedule b)
{
	Size		la = VARSIZE(a);
	Size		lb = VARSIZE(b);
	int			c = memcmp(a, b, Min(la, lb));

	if (c != 0)
		return c < 0 ? -1 : 1;
	return la < lb ? -1 : (la > lb ? 1 : 0);
}

static bool
tier_schedule_equal(TierSchedule a, TierSchedule b)
{
	return VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
}

#define SCHEDULE_CMP_FUNCTION(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	TierSchedule a = PG_GETARG_TIER_SCHEDULE(0); \
	TierSchedule b = PG_GETARG_TIER_SCHEDULE(1); \
	return (expr); \
}

SCHEDULE_CMP_FUNCTION(tier_schedule_eq, BoolGetDatum(tier_schedule_equal(a, b)))
SCHEDULE_CMP_FUNCTION(tier_schedule_ne, BoolGetDatum(!tier_schedule_equal(a, b)))
SCHEDULE_CMP_FUNCTION(tier_schedule_lt, BoolGetDatum(tier_schedule_compare(a, b) < 0))
SCHEDULE_CMP_FUNCTION(tier_schedule_le, BoolGetDatum(tier_schedule_compare(a, b) <= 0))
SCHEDULE_CMP_FUNCTION(tier_schedule_gt, BoolGetDatum(tier_schedule_compare(a, b) > 0))
SCHEDULE_CMP_FUNCTION(tier_schedule_ge, BoolGetDatum(tier_schedule_compare(a, b) >= 0))
SCHEDULE_CMP_FUNCTION(tier_schedule_cmp, Int32GetDatum(tier_schedule_compare(a, b)))

PG_FUNCTION_INFO_V1(tier_schedule_hash);
Datum
tier_schedule_hash(PG_FUNCTION_ARGS)
{
	TierSchedule s = PG_GETARG_TIER_SCHEDULE(0);

	return hash_any((unsigned char *) VARDATA(s), VARSIZE(s) - VARHDRSZ);
}

PG_FUNCTION_INFO_V1(tier_schedule_hash_extended);
Datum
tier_schedule_hash_extended(PG_FUNCTION_ARGS)
{
	TierSchedule s = PG_GETARG_TIER_SCHEDULE(0);

	return hash_any_extended((unsigned char *) VARDATA(s), VARSIZE(s) - VARHDRSZ,
							 PG_GETARG_INT64(1));
}

/* ---------- constructor from arrays, and accessors ---------- */

static const OptionWord mode_words[] = {
	{"retroactive", TIER_MODE_RETROACTIVE},
	{"incremental", TIER_MODE_INCREMENTAL},
};

static const OptionWord kind_words[] = {
	{"percent", TIER_KIND_PERCENT},
	{"per_unit", TIER_KIND_PER_UNIT},
	{"lump_sum", TIER_KIND_LUMP_SUM},
};

/*
 * The elements of a constructor's array argument (one dimension, no nulls),
 * as datums of elemtype; argname names it in errors.
 */
static int
array_elements(ArrayType *array, Oid elemtype, const char *argname, Datum **datums)
{
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tier schedule arrays must be one-dimensional"),
				 errdetail("The %s array has %d dimensions.", argname, ARR_NDIM(array))));
	deconstruct_array(array, elemtype, -1, false, TYPALIGN_INT, datums, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("tier schedule arrays must not contain nulls"),
					 errdetail("Element %d of the %s array is null.", i + 1, argname)));
	return n;
}

static int
numeric_array_elements(ArrayType *array, const char *argname, Numeric **elements)
{
	Datum	   *datums;
	int			n = array_elements(array, NUMERICOID, argname, &datums);

	*elements = palloc(sizeof(Numeric) * Max(n, 1));
	for (int i = 0; i < n; i++)
		(*elements)[i] = DatumGetNumeric(datums[i]);
	return n;
}

static TierKind
kind_from_text(text *given)
{
	return (TierKind) option_word_value(text_to_cstring(given), kind_words, lengthof(kind_words),
										gettext_noop("unknown tier value kind \"%s\""),
										"Use \"percent\", \"per_unit\" or \"lump_sum\".");
}

/* The kinds array of the constructor's mixed form, one kind per tier. */
static int
kind_array_elements(ArrayType *array, TierKind **kinds)
{
	Datum	   *datums;
	int			n = array_elements(array, TEXTOID, "kinds", &datums);

	*kinds = palloc(sizeof(TierKind) * Max(n, 1));
	for (int i = 0; i < n; i++)
		(*kinds)[i] = kind_from_text(DatumGetTextPP(datums[i]));
	return n;
}

/*
 * rebate.tier_schedule(mode, thresholds, values, kind, cap): null mode, arrays
 * or kind give null (as a strict function would); a null cap means no cap.
 * kind is one kind for every tier, or (the mixed form) an array of each
 * tier's kind.
 */
static Datum
make_schedule(FunctionCallInfo fcinfo, bool kind_per_tier)
{
	Numeric    *thresholds;
	Numeric    *values;
	TierKind   *kinds;
	int			nt;
	int			nv;
	int			nk;
	TierMode	mode;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	mode = (TierMode) option_word_value(text_to_cstring(PG_GETARG_TEXT_PP(0)),
										mode_words, lengthof(mode_words),
										gettext_noop("unknown tier schedule mode \"%s\""),
										"Use \"retroactive\" or \"incremental\".");
	nt = numeric_array_elements(PG_GETARG_ARRAYTYPE_P(1), "thresholds", &thresholds);
	nv = numeric_array_elements(PG_GETARG_ARRAYTYPE_P(2), "values", &values);
	if (kind_per_tier)
		nk = kind_array_elements(PG_GETARG_ARRAYTYPE_P(3), &kinds);
	else
	{
		TierKind	kind = kind_from_text(PG_GETARG_TEXT_PP(3));

		nk = nt;
		kinds = palloc(sizeof(TierKind) * Max(nt, 1));
		for (int i = 0; i < nt; i++)
			kinds[i] = kind;
	}
	if (nt != nv)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("thresholds and values must have the same number of elements"),
				 errdetail("There are %d thresholds and %d values.", nt, nv)));
	if (nt != nk)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("thresholds and kinds must have the same number of elements"),
				 errdetail("There are %d thresholds and %d kinds.", nt, nk)));
	PG_RETURN_TIER_SCHEDULE(tier_schedule_build(mode, nt, thresholds, values, kinds,
												PG_ARGISNULL(4) ? NULL : PG_GETARG_NUMERIC(4)));
}

PG_FUNCTION_INFO_V1(tier_schedule_make);
Datum
tier_schedule_make(PG_FUNCTION_ARGS)
{
	return make_schedule(fcinfo, false);
}

PG_FUNCTION_INFO_V1(tier_schedule_make_mixed);
Datum
tier_schedule_make_mixed(PG_FUNCTION_ARGS)
{
	return make_schedule(fcinfo, true);
}

PG_FUNCTION_INFO_V1(tier_schedule_mode);
Datum
tier_schedule_mode(PG_FUNCTION_ARGS)
{
	TierSchedule s = PG_GETARG_TIER_SCHEDULE(0);

	PG_RETURN_TEXT_P(cstring_to_text(tier_mode_name((TierMode) s->mode)));
}

PG_FUNCTION_INFO_V1(tier_schedule_kind);
Datum
tier_schedule_kind(PG_FUNCTION_ARGS)
{
	TierSchedule s = PG_GETARG_TIER_SCHEDULE(0);

	if (s->flags & TIER_SCHEDULE_HAS_LUMP_TIERS)
		PG_RETURN_TEXT_P(cstring_to_text("mixed"));
	PG_RETURN_TEXT_P(cstring_to_text(tier_kind_name((TierKind) s->kind)));
}

/* Each tier's kind of value: percent, per_unit or lump_sum. */
PG_FUNCTION_INFO_V1(tier_schedule_tier_kinds);
Datum
tier_schedule_tier_kinds(PG_FUNCTION_ARGS)
{
	TierView	view;
	Datum	   *kinds;

	tier_view_init(&view, PG_GETARG_TIER_SCHEDULE(0));
	kinds = palloc(sizeof(Datum) * view.ntiers);
	for (int i = 0; i < view.ntiers; i++)
		kinds[i] = PointerGetDatum(cstring_to_text(tier_kind_name(tier_kind(&view, i))));
	PG_RETURN_ARRAYTYPE_P(construct_array(kinds, view.ntiers, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(tier_schedule_cap);
Datum
tier_schedule_cap(PG_FUNCTION_ARGS)
{
	TierView	view;

	tier_view_init(&view, PG_GETARG_TIER_SCHEDULE(0));
	if (view.cap == NULL)
		PG_RETURN_NULL();
	PG_RETURN_NUMERIC(view.cap);
}

static Datum
numeric_array(Numeric *items, int n)
{
	Datum	   *datums = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		datums[i] = NumericGetDatum(items[i]);
	return PointerGetDatum(construct_array(datums, n, NUMERICOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(tier_schedule_thresholds);
Datum
tier_schedule_thresholds(PG_FUNCTION_ARGS)
{
	TierView	view;

	tier_view_init(&view, PG_GETARG_TIER_SCHEDULE(0));
	return numeric_array(view.thresholds, view.ntiers);
}

PG_FUNCTION_INFO_V1(tier_schedule_values);
Datum
tier_schedule_values(PG_FUNCTION_ARGS)
{
	TierView	view;

	tier_view_init(&view, PG_GETARG_TIER_SCHEDULE(0));
	return numeric_array(view.values, view.ntiers);
}
