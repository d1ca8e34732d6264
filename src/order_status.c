/*
 * order_status.c — the one table of order statuses and the sets each belongs
 * to, for C (order_status_in) and SQL (rebate.order_statuses).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "option_words.h"
#include "order_status.h"

PG_FUNCTION_INFO_V1(rebate_order_statuses);

#define ALL ORDER_STATUSES_ALL

/* in lifecycle order: draft -> submitted -> approved -> shipped -> delivered -> closed */
static const struct
{
	const char *status;
	int			sets;
}			order_statuses[] = {
	{"draft", ALL | ORDER_STATUSES_LIVE},
	{"submitted", ALL | ORDER_STATUSES_PLACED | ORDER_STATUSES_LIVE | ORDER_STATUSES_OPEN | ORDER_STATUSES_HOLDABLE},
	{"approved", ALL | ORDER_STATUSES_PLACED | ORDER_STATUSES_LIVE | ORDER_STATUSES_OPEN | ORDER_STATUSES_HOLDABLE | ORDER_STATUSES_COUNTED},
	{"shipped", ALL | ORDER_STATUSES_PLACED | ORDER_STATUSES_COUNTED | ORDER_STATUSES_LOCKED | ORDER_STATUSES_RECEIVABLE},
	{"delivered", ALL | ORDER_STATUSES_PLACED | ORDER_STATUSES_COUNTED | ORDER_STATUSES_LOCKED | ORDER_STATUSES_RECEIVABLE
	 | ORDER_STATUSES_DELIVERED},
	{"closed", ALL | ORDER_STATUSES_PLACED | ORDER_STATUSES_COUNTED | ORDER_STATUSES_LOCKED | ORDER_STATUSES_RECEIVABLE
	 | ORDER_STATUSES_DELIVERED},
	{"cancelled", ALL | ORDER_STATUSES_LOCKED},
	{"on_hold", ALL | ORDER_STATUSES_PLACED | ORDER_STATUSES_LIVE | ORDER_STATUSES_OPEN},
};

static const OptionWord set_names[] = {
	{"all", ORDER_STATUSES_ALL},
	{"live", ORDER_STATUSES_LIVE},
	{"open", ORDER_STATUSES_OPEN},
	{"holdable", ORDER_STATUSES_HOLDABLE},
	{"counted", ORDER_STATUSES_COUNTED},
	{"locked", ORDER_STATUSES_LOCKED},
	{"receivable", ORDER_STATUSES_RECEIVABLE},
	{"delivered", ORDER_STATUSES_DELIVERED},
	{"placed", ORDER_STATUSES_PLACED},
};

bool
order_status_in(const char *status, OrderStatusSet set)
{
	for (int i = 0; i < (int) lengthof(order_statuses); i++)
		if (strcmp(status, order_statuses[i].status) == 0)
			return (order_statuses[i].sets & set) != 0;
	return false;
}

/*
 * rebate.order_statuses(set text) RETURNS text[]: the statuses of a set, in
 * lifecycle order.  IMMUTABLE, so that a query's
 * status = ANY (rebate.order_statuses('counted')) is planned with the array.
 */
Datum
rebate_order_statuses(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			set = option_word_value(name, set_names, lengthof(set_names),
										"unknown order status set \"%s\"",
										"The sets are all, live, open, holdable, counted, locked, receivable, delivered and placed.");
	Datum		members[lengthof(order_statuses)];
	int			n = 0;

	for (int i = 0; i < (int) lengthof(order_statuses); i++)
		if (order_statuses[i].sets & set)
			members[n++] = CStringGetTextDatum(order_statuses[i].status);
	PG_RETURN_ARRAYTYPE_P(construct_array(members, n, TEXTOID, -1, false, TYPALIGN_INT));
}
