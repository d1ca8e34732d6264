/*
 * option_words.h — the small vocabularies SQL callers pass as text
 * ('retroactive', 'half_even', 'excess', ...), matched case-insensitively,
 * with one error for a word that is not in the list.
 */
#ifndef REBATE_OPTION_WORDS_H
#define REBATE_OPTION_WORDS_H

#include "postgres.h"

typedef struct OptionWord
{
	const char *word;
	int			value;
} OptionWord;

/*
 * The value of given in words[]; otherwise ERROR 22023 with unknown_message
 * (a complete message with one %s for the word, e.g. "unknown rounding mode \"%s\"")
 * and the hint.
 */
extern int	option_word_value(const char *given, const OptionWord *words, int nwords,
							  const char *unknown_message, const char *hint);

#endif
