/*
 * exact_sum.h — an exact running sum of numerics for aggregate states kept
 * in memory (stype internal): int128 units of 10^-scale, with an exact
 * numeric "spill" for what int128 cannot hold.  The channel KPI and ratio
 * aggregates keep several of these per group.
 */
#ifndef REBATE_EXACT_SUM_H
#define REBATE_EXACT_SUM_H

#include "postgres.h"
#include "fmgr.h"
#include "lib/stringinfo.h"

#include "numeric_util.h"

typedef struct ExactSum
{
	int128		fast;			/* units of 10^-scale */
	int32		scale;
	Numeric		spill;			/* NULL, or the part int128 could not take (in the aggregate's context) */
} ExactSum;

/* Adds a numeric (possibly short-header, read in place); negate subtracts it. */
extern void exact_sum_add(ExactSum *sum, const struct varlena *value, bool negate, MemoryContext context);

/* Adds another sum into sum. */
extern void exact_sum_merge(ExactSum *sum, const ExactSum *other, MemoryContext context);

extern Numeric exact_sum_total(const ExactSum *sum);

/* value x weight, both read in place, added exactly. */
extern void exact_sum_add_product(ExactSum *sum, const struct varlena *value, const struct varlena *weight,
								  MemoryContext context);

/* Serialized form: scale, the int128 as two int64, the spill as text ("" if none). */
extern void exact_sum_send(StringInfo buf, const ExactSum *sum);
extern void exact_sum_recv(StringInfo buf, ExactSum *sum, MemoryContext context);

/* The aggregate's memory context; an error outside an aggregate (misuse, as PostgreSQL's own say). */
extern MemoryContext aggregate_memory_context(FunctionCallInfo fcinfo, const char *function_name);

/* A reader over a serialized state (the bytea a deserialize function gets). */
extern void state_reader_init(StringInfo buf, bytea *bytes);

/* a / b rounded half away from zero to places decimals; NULL when b is zero. */
extern Numeric num_ratio(Numeric a, Numeric b, int places);

#endif
