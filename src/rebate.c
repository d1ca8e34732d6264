/*
 * rebate.c — module entry: the magic block every loadable module needs.
 *
 * Each concern lives in its own file: tier_schedule.c (the type),
 * tier_calc.c (the rebate calculation), money.c (rounding), tiered_sum.c
 * (the aggregate and its state type), icu_text.c (ICU), numeric_util.c
 * (exact numeric helpers shared by all of them).
 */
#include "postgres.h"
#include "fmgr.h"

PG_MODULE_MAGIC;
