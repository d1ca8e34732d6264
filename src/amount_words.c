/*
 * amount_words.c — an amount of money in words, for statements, receipts
 * and payment orders: Chinese financial capitals (大写金额) and English.
 *
 * The amount is rounded half away from zero to the fen/cent with numeric's
 * own round() and read back as decimal text, so no floating point is
 * involved.  ICU's rule-based number format spells the numbers:
 *
 *   zh  %spellout-cardinal-financial (壹贰叁…拾佰仟万), asked only for values
 *       below 10^8.  Above that ICU 72 drops the 零 after 亿 and 兆
 *       (100100000 comes out as 壹亿拾万) and counts 10^12 as 兆, where
 *       mainland financial writing says 万亿; so the yuan are split at 亿
 *       here and the two halves joined by the 零 rule.  ICU also starts a
 *       number with a bare 拾 (拾万); financial writing always puts a digit
 *       before 拾 (壹拾万), which is added here.
 *   en  %spellout-cardinal (American: "one hundred one") for en and en_US,
 *       %spellout-cardinal-verbose (British: "one hundred and one") for en_GB.
 *
 * The rules of 元角分 (人民币, 整, 零 between 元 and 分) are written here,
 * after 《正确填写票据和结算凭证的基本规定》; docs/statements.md states them.
 *
 * The formatters are opened on first use and kept for the life of the
 * backend (ICU allocates them outside PostgreSQL's memory contexts, and a
 * cached object cannot leak when an error is raised).  Every UErrorCode is
 * checked.  The words depend on ICU's data, so the SQL function is STABLE.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include <unicode/unum.h>
#include <unicode/ustring.h>

#include "icu_util.h"
#include "numeric_util.h"

PG_FUNCTION_INFO_V1(rebate_amount_in_words);

/* The largest amount written: 16 digits of yuan (below 一京, 10^16). */
#define MAX_UNIT_DIGITS		16
#define MAX_AMOUNT_TEXT		"9999999999999999.99"

#define YI					INT64CONST(100000000)	/* 亿, 10^8 */

typedef enum WordsStyle
{
	WORDS_ZH,					/* 人民币壹万贰仟叁佰肆拾伍元陆角柒分 */
	WORDS_EN_US,				/* twelve thousand three hundred forty-five */
	WORDS_EN_GB					/* twelve thousand three hundred and forty-five */
} WordsStyle;

typedef struct WordsLocale
{
	const char *name;			/* matched case-insensitively, '-' as '_' */
	WordsStyle	style;
} WordsLocale;

static const WordsLocale locales[] = {
	{"zh_CN", WORDS_ZH}, {"zh", WORDS_ZH},
	{"en_US", WORDS_EN_US}, {"en", WORDS_EN_US},
	{"en_GB", WORDS_EN_GB},
};

/* English names of the units, singular and plural; kept sorted by code. */
typedef struct EnglishCurrency
{
	const char *code;			/* ISO 4217 */
	const char *major_one;
	const char *major_many;
	const char *minor_one;
	const char *minor_many;
} EnglishCurrency;

static const EnglishCurrency english_currencies[] = {
	{"CNY", "yuan", "yuan", "fen", "fen"},
	{"EUR", "euro", "euros", "cent", "cents"},
	{"GBP", "pound", "pounds", "penny", "pence"},
	{"HKD", "Hong Kong dollar", "Hong Kong dollars", "cent", "cents"},
	{"USD", "dollar", "dollars", "cent", "cents"},
};

/* Financial digits 零壹贰叁肆伍陆柒捌玖, in UTF-8 and as UTF-16 code units. */
static const char *const zh_digits[10] = {
	"零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"
};
static const UChar zh_digit_units[10] = {
	0x96F6, 0x58F9, 0x8D30, 0x53C1, 0x8086, 0x4F0D, 0x9646, 0x67D2, 0x634C, 0x7396
};
#define ZH_TEN	((UChar) 0x62FE)	/* 拾 */

/* An amount rounded to the fen: sign, whole units (< 10^16), hundredths. */
typedef struct SplitAmount
{
	bool		negative;
	int64		units;
	int			hundredths;
} SplitAmount;

static void
check_icu(UErrorCode status, const char *call)
{
	icu_check(status, "writing an amount in words", call);
}

/*
 * A spell-out formatter for the ICU locale with the given rule set, opened
 * once per backend.  *slot caches it; on any error nothing is cached and
 * nothing is left open.
 */
static UNumberFormat *
spellout_format(UNumberFormat **slot, const char *icu_locale, const char *ruleset)
{
	UErrorCode	status = U_ZERO_ERROR;
	UNumberFormat *format;
	UChar		uruleset[64];

	if (*slot != NULL)
		return *slot;

	u_uastrncpy(uruleset, ruleset, lengthof(uruleset));
	format = unum_open(UNUM_SPELLOUT, NULL, 0, icu_locale, NULL, &status);
	if (U_SUCCESS(status))
		unum_setTextAttribute(format, UNUM_DEFAULT_RULESET, uruleset, -1, &status);
	if (U_FAILURE(status))
	{
		if (format != NULL)
			unum_close(format);
		check_icu(status, psprintf("unum_open(UNUM_SPELLOUT, \"%s\") with rule set %s",
								   icu_locale, ruleset));
	}
	*slot = format;
	return format;
}

static UNumberFormat *
zh_financial_format(void)
{
	static UNumberFormat *format = NULL;

	return spellout_format(&format, "zh", "%spellout-cardinal-financial");
}

static UNumberFormat *
en_format(WordsStyle style)
{
	static UNumberFormat *american = NULL;
	static UNumberFormat *british = NULL;

	if (style == WORDS_EN_GB)
		return spellout_format(&british, "en_GB", "%spellout-cardinal-verbose");
	return spellout_format(&american, "en_US", "%spellout-cardinal");
}

/* n spelled out by format, as palloc'd UTF-16; *len receives its length. */
static UChar *
spell_utf16(UNumberFormat *format, int64 n, int32_t *len)
{
	UErrorCode	status = U_ZERO_ERROR;
	int32_t		capacity = 256;
	UChar	   *buf = palloc(capacity * sizeof(UChar));

	*len = unum_formatInt64(format, n, buf, capacity, NULL, &status);
	if (status == U_BUFFER_OVERFLOW_ERROR)
	{
		status = U_ZERO_ERROR;
		capacity = *len + 1;
		buf = repalloc(buf, capacity * sizeof(UChar));
		*len = unum_formatInt64(format, n, buf, capacity, NULL, &status);
	}
	check_icu(status, "unum_formatInt64");
	return buf;
}

static void
append_utf16(StringInfo out, const UChar *text, int32_t len)
{
	UErrorCode	status = U_ZERO_ERROR;
	int32_t		outlen;
	char	   *utf8;

	u_strToUTF8(NULL, 0, &outlen, text, len, &status);
	if (status != U_BUFFER_OVERFLOW_ERROR)
		check_icu(status, "u_strToUTF8");
	status = U_ZERO_ERROR;
	utf8 = palloc(outlen + 1);
	u_strToUTF8(utf8, outlen + 1, NULL, text, len, &status);
	check_icu(status, "u_strToUTF8");
	appendBinaryStringInfo(out, utf8, outlen);
	pfree(utf8);
}

static bool
is_zh_nonzero_digit(UChar c)
{
	for (int d = 1; d < 10; d++)
		if (c == zh_digit_units[d])
			return true;
	return false;
}

/*
 * 1 <= n < 10^8 in financial capitals, with 壹 put before every 拾 that has
 * no digit before it (拾万零壹拾 becomes 壹拾万零壹拾).
 */
static void
append_zh_below_yi(StringInfo out, int64 n)
{
	int32_t		len;
	UChar	   *icu = spell_utf16(zh_financial_format(), n, &len);
	UChar	   *fixed = palloc((2 * len + 1) * sizeof(UChar));
	int32_t		flen = 0;

	Assert(n > 0 && n < YI);
	for (int32_t i = 0; i < len; i++)
	{
		if (icu[i] == ZH_TEN && (i == 0 || !is_zh_nonzero_digit(icu[i - 1])))
			fixed[flen++] = zh_digit_units[1];
		fixed[flen++] = icu[i];
	}
	append_utf16(out, fixed, flen);
}

/*
 * The whole yuan, 1 <= n < 10^16: the count of 亿 (itself below 10^8, so
 * 10^12 is 壹万亿), 亿, then the rest; 零 between them when the rest does
 * not start at the 仟万 place (壹亿零壹拾万, 壹拾亿零壹).
 */
static void
append_zh_units(StringInfo out, int64 n)
{
	int64		yi = n / YI;
	int64		rest = n % YI;

	if (yi > 0)
	{
		append_zh_below_yi(out, yi);
		appendStringInfoString(out, "亿");
		if (rest > 0 && rest < YI / 10)
			appendStringInfoString(out, "零");
	}
	if (rest > 0)
		append_zh_below_yi(out, rest);
}

/*
 * 人民币, 负 for a negative amount, the yuan and 元 unless there are none,
 * then 角 and 分: 零 for a zero 角 between 元 and 分, 整 after the last unit
 * unless that is 分.  Zero is 人民币零元整.
 */
static char *
zh_words(const SplitAmount *a)
{
	StringInfoData out;
	int			jiao = a->hundredths / 10;
	int			fen = a->hundredths % 10;

	initStringInfo(&out);
	appendStringInfoString(&out, "人民币");
	if (a->negative)
		appendStringInfoString(&out, "负");
	if (a->units == 0 && a->hundredths == 0)
	{
		appendStringInfoString(&out, "零元整");
		return out.data;
	}
	if (a->units > 0)
	{
		append_zh_units(&out, a->units);
		appendStringInfoString(&out, "元");
	}
	if (jiao > 0)
		appendStringInfo(&out, "%s角", zh_digits[jiao]);
	else if (fen > 0 && a->units > 0)
		appendStringInfoString(&out, "零");
	if (fen > 0)
		appendStringInfo(&out, "%s分", zh_digits[fen]);
	else
		appendStringInfoString(&out, "整");
	return out.data;
}

static void
append_en_count(StringInfo out, UNumberFormat *format, int64 n,
				const char *one, const char *many)
{
	int32_t		len;
	UChar	   *words = spell_utf16(format, n, &len);

	append_utf16(out, words, len);
	appendStringInfo(out, " %s", n == 1 ? one : many);
}

/*
 * "[minus ]<units> <unit>[ and <hundredths> <minor unit>]"; no units when
 * there are only hundredths ("five cents"), "zero dollars" for zero.
 */
static char *
en_words(const SplitAmount *a, WordsStyle style, const EnglishCurrency *cur)
{
	UNumberFormat *format = en_format(style);
	StringInfoData out;

	initStringInfo(&out);
	if (a->negative)
		appendStringInfoString(&out, "minus ");
	if (a->units > 0 || a->hundredths == 0)
		append_en_count(&out, format, a->units, cur->major_one, cur->major_many);
	if (a->hundredths > 0)
	{
		if (a->units > 0)
			appendStringInfoString(&out, " and ");
		append_en_count(&out, format, a->hundredths, cur->minor_one, cur->minor_many);
	}
	return out.data;
}

static WordsStyle
words_style(const char *given)
{
	char	   *name = pstrdup(given);
	StringInfoData known;

	for (char *p = name; *p; p++)
		if (*p == '-')
			*p = '_';
	for (size_t i = 0; i < lengthof(locales); i++)
		if (pg_strcasecmp(name, locales[i].name) == 0)
			return locales[i].style;

	initStringInfo(&known);
	for (size_t i = 0; i < lengthof(locales); i++)
		appendStringInfo(&known, "%s%s", i ? ", " : "", locales[i].name);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown locale \"%s\" for amounts in words", given),
			 errhint("Supported locales are %s.", known.data)));
}

static const EnglishCurrency *
english_currency(const char *code)
{
	StringInfoData known;

	for (size_t i = 0; i < lengthof(english_currencies); i++)
		if (pg_strcasecmp(code, english_currencies[i].code) == 0)
			return &english_currencies[i];

	initStringInfo(&known);
	for (size_t i = 0; i < lengthof(english_currencies); i++)
		appendStringInfo(&known, "%s%s", i ? ", " : "", english_currencies[i].code);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot write amounts in currency \"%s\" in English words", code),
			 errhint("Currencies written in English words are %s.", known.data)));
}

/*
 * Round half away from zero to hundredths and split the decimal text of the
 * result; refuse what cannot be written.
 */
static SplitAmount
split_amount(Numeric amount)
{
	SplitAmount a = {false, 0, 0};
	Numeric		rounded;
	const char *text;
	const char *p;
	int			ndigits = 0;

	if (num_is_special(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount to write in words must be a finite number"),
				 errdetail("It is %s.", num_special_name(amount))));

	rounded = DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(amount),
												  Int32GetDatum(2)));
	text = num_to_cstring(rounded);
	p = text;
	if (*p == '-')
	{
		a.negative = true;
		p++;
	}
	for (; *p >= '0' && *p <= '9'; p++)
	{
		if (++ndigits > MAX_UNIT_DIGITS)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("amount is too large to write in words"),
					 errdetail("Rounded to two decimal places it is %s; the largest amount written in words is %s.",
							   text, MAX_AMOUNT_TEXT),
					 errhint("Show amounts of 10^16 or more in figures.")));
		a.units = a.units * 10 + (*p - '0');
	}
	if (*p == '.')
	{
		p++;
		for (int place = 0; place < 2; place++)
		{
			a.hundredths *= 10;
			if (*p >= '0' && *p <= '9')
				a.hundredths += *p++ - '0';
		}
	}
	if (a.units == 0 && a.hundredths == 0)
		a.negative = false;		/* -0.001 rounds to zero, not to minus zero */
	return a;
}

Datum
rebate_amount_in_words(PG_FUNCTION_ARGS)
{
	Numeric		amount = PG_GETARG_NUMERIC(0);
	char	   *locale = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *currency = text_to_cstring(PG_GETARG_TEXT_PP(2));
	WordsStyle	style = words_style(locale);
	const EnglishCurrency *english = NULL;
	SplitAmount a;
	char	   *utf8;

	if (style == WORDS_ZH)
	{
		if (pg_strcasecmp(currency, "CNY") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot write amounts in currency \"%s\" in Chinese words", currency),
					 errdetail("Chinese amounts in words are written for renminbi only."),
					 errhint("Use currency CNY, or an English locale such as en_US for other currencies.")));
	}
	else
		english = english_currency(currency);

	a = split_amount(amount);
	utf8 = style == WORDS_ZH ? zh_words(&a) : en_words(&a, style, english);
	PG_RETURN_TEXT_P(cstring_to_text(pg_any_to_server(utf8, strlen(utf8), PG_UTF8)));
}
