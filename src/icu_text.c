/*
 * icu_text.c — text services built on ICU: the version in use, and
 * partner-name normalization for recognising the same company however its
 * name was typed.
 *
 * ICU objects are opened once per backend and cached; every UErrorCode is
 * checked.  Results depend on ICU's Unicode data, so the SQL functions are
 * STABLE, not IMMUTABLE.
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "icu_util.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/uversion.h>

PG_FUNCTION_INFO_V1(rebate_icu_version);
PG_FUNCTION_INFO_V1(rebate_normalize_name);

Datum
rebate_icu_version(PG_FUNCTION_ARGS)
{
	UVersionInfo version;
	char		text[U_MAX_VERSION_STRING_LENGTH];

	(void) fcinfo;				/* no arguments */
	u_getVersion(version);
	u_versionToString(version, text);
	PG_RETURN_TEXT_P(cstring_to_text(text));
}

void
icu_check(UErrorCode status, const char *doing, const char *call)
{
	if (U_FAILURE(status))
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("ICU failed while %s", doing),
				 errdetail("%s returned %s.", call, u_errorName(status))));
}

static void
check_icu(UErrorCode status, const char *call)
{
	icu_check(status, "normalizing a name", call);
}

/*
 * CJK punctuation that NFKC leaves alone but people use interchangeably with
 * ASCII in company names: brackets, quotes, the ideographic comma and full stop.
 */
static UChar32
fold_cjk_punctuation(UChar32 c)
{
	switch (c)
	{
		case 0x3010:			/* 【 */
		case 0x3014:			/* 〔 */
		case 0x3016:			/* 〖 */
			return '(';
		case 0x3011:			/* 】 */
		case 0x3015:			/* 〕 */
		case 0x3017:			/* 〗 */
			return ')';
		case 0x300C:			/* 「 */
		case 0x300D:			/* 」 */
		case 0x300E:			/* 『 */
		case 0x300F:			/* 』 */
		case 0x201C:			/* “ */
		case 0x201D:			/* ” */
			return '"';
		case 0x2018:			/* ‘ */
		case 0x2019:			/* ’ */
			return '\'';
		case 0x300A:			/* 《 */
		case 0x3008:			/* 〈 */
			return '<';
		case 0x300B:			/* 》 */
		case 0x3009:			/* 〉 */
			return '>';
		case 0x3001:			/* 、 */
			return ',';
		case 0x3002:			/* 。 */
			return '.';
		case 0x30FB:			/* ・ */
		case 0x2027:			/* ‧ */
			return 0x00B7;		/* · */
	}
	return c;
}

/*
 * NFKC with case folding (full-width letters and digits become ASCII, case
 * is folded, compatibility forms unified, default-ignorable characters
 * dropped), then CJK punctuation folded and every white space removed:
 * '上海ＡＢＣ贸易 有限公司' and '上海abc贸易有限公司' become the same key.
 */
static char *
normalize_name_utf8(const char *utf8, int32_t len)
{
	static const UNormalizer2 *nfkc_cf = NULL;
	UErrorCode	status = U_ZERO_ERROR;
	int32_t		ulen;
	int32_t		nlen;
	int32_t		klen = 0;
	UChar	   *source;
	UChar	   *normal;
	UChar	   *key;
	int32_t		outlen;
	char	   *result;

	if (nfkc_cf == NULL)
	{
		nfkc_cf = unorm2_getNFKCCasefoldInstance(&status);
		check_icu(status, "unorm2_getNFKCCasefoldInstance");
	}

	u_strFromUTF8(NULL, 0, &ulen, utf8, len, &status);
	if (status != U_BUFFER_OVERFLOW_ERROR)
		check_icu(status, "u_strFromUTF8");
	status = U_ZERO_ERROR;
	source = palloc((ulen + 1) * sizeof(UChar));
	u_strFromUTF8(source, ulen + 1, NULL, utf8, len, &status);
	check_icu(status, "u_strFromUTF8");

	nlen = unorm2_normalize(nfkc_cf, source, ulen, NULL, 0, &status);
	if (status != U_BUFFER_OVERFLOW_ERROR)
		check_icu(status, "unorm2_normalize");
	status = U_ZERO_ERROR;
	normal = palloc((nlen + 1) * sizeof(UChar));
	unorm2_normalize(nfkc_cf, source, ulen, normal, nlen + 1, &status);
	check_icu(status, "unorm2_normalize");

	/* fold punctuation, drop white space (a code point never grows here) */
	key = palloc((nlen + 1) * sizeof(UChar));
	for (int32_t i = 0; i < nlen;)
	{
		UChar32		c;
		UBool		unused = false;

		U16_NEXT(normal, i, nlen, c);
		if (u_isUWhiteSpace(c))
			continue;
		c = fold_cjk_punctuation(c);
		U16_APPEND(key, klen, nlen + 1, c, unused);
		(void) unused;
	}

	u_strToUTF8(NULL, 0, &outlen, key, klen, &status);
	if (status != U_BUFFER_OVERFLOW_ERROR)
		check_icu(status, "u_strToUTF8");
	status = U_ZERO_ERROR;
	result = palloc(outlen + 1);
	u_strToUTF8(result, outlen + 1, NULL, key, klen, &status);
	check_icu(status, "u_strToUTF8");
	return result;
}

Datum
rebate_normalize_name(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *utf8 = pg_server_to_any(name, strlen(name), PG_UTF8);
	char	   *key = normalize_name_utf8(utf8, strlen(utf8));

	PG_RETURN_TEXT_P(cstring_to_text(pg_any_to_server(key, strlen(key), PG_UTF8)));
}
