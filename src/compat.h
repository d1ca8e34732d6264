/*
 * compat.h — differences between the PostgreSQL versions rebate builds
 * against (13 to 17 are tested targets; this keeps 18 building too).
 */
#ifndef REBATE_COMPAT_H
#define REBATE_COMPAT_H

#include "postgres.h"

/* PostgreSQL 18 replaced pg_attribute_noreturn() with the prefix pg_noreturn */
#ifndef pg_attribute_noreturn
#define pg_attribute_noreturn() __attribute__((noreturn))
#endif

#endif
