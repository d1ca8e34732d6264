/*
 * option_words.c — matching the text options of SQL functions.
 */
#include "postgres.h"

#include "option_words.h"

int
option_word_value(const char *given, const OptionWord *words, int nwords,
				  const char *unknown_message, const char *hint)
{
	for (int i = 0; i < nwords; i++)
		if (pg_strcasecmp(given, words[i].word) == 0)
			return words[i].value;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg_internal(_(unknown_message), given),
			 errhint("%s", hint)));
}
