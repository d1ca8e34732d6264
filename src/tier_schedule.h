/*
 * tier_schedule.h — the rebate.tier_schedule type: a rebate scale.
 *
 * On disk a schedule is a varlena holding a small fixed header followed by
 * its numbers as complete numeric varlenas (4-byte headers, int-aligned), in
 * the order [cap], threshold 1, value 1, threshold 2, value 2, ...  Storing
 * real numerics lets the calculation hand them to numeric.c without copying.
 * Every number is stored with trailing fractional zeros trimmed and padding
 * zeroed, so equal schedules are byte-identical and print identically.  A
 * scale mixing lump sums with rates adds one byte per tier after the numbers
 * (TIER_SCHEDULE_HAS_LUMP_TIERS).
 */
#ifndef REBATE_TIER_SCHEDULE_H
#define REBATE_TIER_SCHEDULE_H

#include "postgres.h"
#include "fmgr.h"
#include "utils/numeric.h"

#define TIER_SCHEDULE_FORMAT 1

typedef enum TierMode
{
	TIER_MODE_RETROACTIVE = 1,	/* 全额累进: the whole basis earns the reached rate */
	TIER_MODE_INCREMENTAL = 2	/* 超额累进: each band earns its own rate */
} TierMode;

typedef enum TierKind
{
	TIER_KIND_PERCENT = 1,		/* p% of the basis */
	TIER_KIND_PER_UNIT = 2,		/* v per unit of the basis */
	TIER_KIND_LUMP_SUM = 3		/* a fixed amount once the tier is reached */
} TierKind;

#define TIER_SCHEDULE_HAS_CAP 0x01
/*
 * A scale that mixes lump sums with rates: kind is the rates' kind (percent
 * or per unit) and one byte per tier follows the numbers, 1 for a lump sum.
 */
#define TIER_SCHEDULE_HAS_LUMP_TIERS 0x02

typedef struct TierScheduleData
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		format;			/* TIER_SCHEDULE_FORMAT */
	uint8		mode;			/* TierMode */
	uint8		kind;			/* TierKind */
	uint8		flags;			/* TIER_SCHEDULE_HAS_CAP */
	int32		ntiers;
	char		numbers[FLEXIBLE_ARRAY_MEMBER];
} TierScheduleData;

typedef TierScheduleData *TierSchedule;

#define DatumGetTierSchedule(d)		((TierSchedule) PG_DETOAST_DATUM(d))
#define PG_GETARG_TIER_SCHEDULE(n)	DatumGetTierSchedule(PG_GETARG_DATUM(n))
#define PG_RETURN_TIER_SCHEDULE(x)	PG_RETURN_POINTER(x)

/* A decoded schedule: pointers into the varlena, valid while it lives. */
typedef struct TierView
{
	TierMode	mode;
	TierKind	kind;
	int			ntiers;
	Numeric		cap;			/* NULL when there is none */
	Numeric    *thresholds;		/* ntiers entries, strictly increasing, >= 0 */
	Numeric    *values;			/* as written: 3.5 for 3.5%, 12 for 12 per unit */
	const uint8 *lump_tiers;	/* mixed scales: 1 where tier i is a lump sum; else NULL */
} TierView;

extern void tier_view_init(TierView *view, TierSchedule schedule);

/* The kind of value of tier i (0-based): the schedule's, or a lump sum in a mixed scale. */
extern TierKind tier_kind(const TierView *view, int i);

/* The multiplier of tier i (0-based, not a lump sum): p/100 for percent, v for per unit. */
extern Numeric tier_rate(const TierView *view, int i);

extern char *tier_schedule_to_cstring(TierSchedule schedule);

/* The type's I/O functions, for types that embed a schedule. */
extern Datum tier_schedule_in(PG_FUNCTION_ARGS);
extern Datum tier_schedule_send(PG_FUNCTION_ARGS);
extern Datum tier_schedule_recv(PG_FUNCTION_ARGS);

#endif
