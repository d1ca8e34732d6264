/*
 * icu_util.h — what every ICU caller in rebate shares.
 */
#ifndef REBATE_ICU_UTIL_H
#define REBATE_ICU_UTIL_H

#include "postgres.h"

#include <unicode/utypes.h>

/*
 * Raises 38000 when an ICU call failed: doing says what rebate was doing
 * ("normalizing a name"), call which ICU function returned status.
 */
extern void icu_check(UErrorCode status, const char *doing, const char *call);

#endif
