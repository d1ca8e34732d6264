/*
 * order_status.h — the statuses of rebate.sales_order and the sets the rules
 * speak of.  order_status.c is their one owner: the C policy triggers ask
 * order_status_in, SQL asks rebate.order_statuses(set) (constant-folded
 * into the queries that call it), and the status column's CHECK takes the
 * 'all' set from it.
 */
#ifndef REBATE_ORDER_STATUS_H
#define REBATE_ORDER_STATUS_H

typedef enum OrderStatusSet
{
	ORDER_STATUSES_ALL = 1 << 0,		/* every status an order may have */
	ORDER_STATUSES_LIVE = 1 << 1,		/* still being placed or decided: the policy judges it */
	ORDER_STATUSES_OPEN = 1 << 2,		/* placed, not yet shipped: open orders of the credit check */
	ORDER_STATUSES_HOLDABLE = 1 << 3,	/* a review may hold it (on_hold) from here */
	ORDER_STATUSES_COUNTED = 1 << 4,	/* counts for rebates and targets */
	ORDER_STATUSES_LOCKED = 1 << 5,		/* lines, partner, region, date, kind and currency frozen */
	ORDER_STATUSES_RECEIVABLE = 1 << 6, /* shipped: the partner owes it */
	ORDER_STATUSES_DELIVERED = 1 << 7,	/* the goods arrived: delivered_on is set */
	ORDER_STATUSES_PLACED = 1 << 8		/* neither a draft nor cancelled: a sale for KPIs and territory */
} OrderStatusSet;

extern bool order_status_in(const char *status, OrderStatusSet set);

#endif
