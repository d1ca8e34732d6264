/*
 * icu_text.c — ICU, the library rebate uses for text: partner-name
 * normalization and amounts in words build on it.  For now it answers which
 * ICU the module was built and runs with, so a DBA can check the link.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include <unicode/uversion.h>

PG_FUNCTION_INFO_V1(rebate_icu_version);
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
