/*
 * order_policy.c — the order's own rules, on rebate.sales_order and
 * rebate.order_line:
 *
 *   - only an active partner places orders (a new live order, or a draft
 *     submitted);
 *   - an order ships to a region inside the partner's territory (窜货);
 *   - changing the ship-to region re-judges the products' authorisation;
 *   - shipped, delivered, closed and cancelled orders are locked: their
 *     lines and their partner, region, date, kind and currency stay as they
 *     are (corrections are returns and credit notes);
 *   - submitting or approving an order, or adding to a submitted or
 *     approved one, checks the partner's credit; an order with open
 *     violations is held (on_hold) instead of submitted or approved.
 *
 * Status changes themselves are judged first by the "lifecycle" trigger
 * (rebate.enforce_transition); these triggers fire after it.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/rel.h"

#include "order_status.h"
#include "policy.h"
#include "rebate_errcodes.h"

PG_FUNCTION_INFO_V1(rebate_enforce_order_policy);
PG_FUNCTION_INFO_V1(rebate_enforce_order_line_state);

static void
refuse_locked(const char *order_code, const char *status, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_REBATE_ORDER_LOCKED),
			 errmsg("%s of order \"%s\" cannot change: the order is %s", what, order_code, status),
			 errdetail("Once an order is shipped, delivered, closed or cancelled, only its note and its status along the lifecycle change."),
			 errhint(strcmp(status, "cancelled") == 0
					 ? "Place a new order instead."
					 : "Correct a shipped order with a return or a credit note (rebate.sales_order kind return or credit_note) referring to it.")));
}

/* ---- credit ------------------------------------------------------------- */

static SavedPlan credit_plan = {
	"SELECT pg_catalog.trim_scale(e.credit_limit OPERATOR(pg_catalog.*) (1 OPERATOR(pg_catalog.+) ($4 OPERATOR(pg_catalog./) 100))),"
	"       e.exposure OPERATOR(pg_catalog.+) $3, e.receivable, e.open_orders,"
	"       e.this_order OPERATOR(pg_catalog.+) $3,"
	"       EXISTS (SELECT 1 FROM rebate.policy_violation v"
	"                WHERE v.order_id OPERATOR(pg_catalog.=) $2 AND v.kind OPERATOR(pg_catalog.=) 'credit_limit'"
	"                  AND v.status OPERATOR(pg_catalog.=) 'approved'"
	"                  AND v.amount OPERATOR(pg_catalog.>=) (e.this_order OPERATOR(pg_catalog.+) $3)),"
	"       EXISTS (SELECT 1 FROM rebate.policy_violation v"
	"                WHERE v.order_id OPERATOR(pg_catalog.=) $2 AND v.kind OPERATOR(pg_catalog.=) 'credit_limit'"
	"                  AND v.status OPERATOR(pg_catalog.=) 'open')"
	"  FROM rebate.credit_exposure($1, $2) e",
	4, {INT8OID, INT8OID, NUMERICOID, NUMERICOID}, NULL
};

typedef struct CreditOrder
{
	int64		tenant_id;
	int64		partner_id;
	int64		order_id;
	const char *order_code;
	DateADT		order_date;
	int64		region_id;
	Oid			source_table;
	int64		source_id;
} CreditOrder;

/*
 * Whether the order, grown by delta, keeps the partner within its credit
 * limit (and tolerance).  A manager's approval of an earlier credit breach
 * of this order covers it up to the order amount approved.  Over the limit:
 * reject raises; review records a violation (unless one is open already,
 * *violation stays 0 then) and returns true: the order is to be held.
 */
static bool
credit_breached(PolicySpi *spi, Oid reader, const TenantSettings *settings, const CreditOrder *order, Numeric delta,
				int64 *violation)
{
	Datum		args[4] = {Int64GetDatum(order->partner_id), Int64GetDatum(order->order_id),
	NumericGetDatum(delta), NumericGetDatum(settings->credit_tolerance)};
	bool		isnull;
	Numeric		limit;
	Numeric		exposure;
	Numeric		this_order;
	PolicyBreach b;
	char	   *partner;

	if (policy_spi_run(spi, &credit_plan, reader, args, NULL) != 1)
		return false;			/* no such partner: its foreign key reports it */
	limit = DatumGetNumeric(policy_spi_value(0, 1, &isnull));
	exposure = DatumGetNumeric(policy_spi_value(0, 2, &isnull));
	this_order = DatumGetNumeric(policy_spi_value(0, 5, &isnull));
	if (policy_numeric_cmp(exposure, limit) <= 0 || DatumGetBool(policy_spi_value(0, 6, &isnull)))
		return false;
	*violation = 0;
	if (settings->credit == MODE_REVIEW && DatumGetBool(policy_spi_value(0, 7, &isnull)))
		return true;

	memset(&b, 0, sizeof(b));
	b.kind = "credit_limit";
	b.mode = settings->credit;
	b.sqlerrcode = ERRCODE_REBATE_CREDIT_LIMIT;
	b.expected = limit;
	b.actual = exposure;
	b.amount = this_order;
	b.tenant_id = order->tenant_id;
	b.partner_id = order->partner_id;
	b.order_id = order->order_id;
	b.region_id = order->region_id;
	b.order_date = order->order_date;
	b.source_table = order->source_table;
	b.source_id = order->source_id;
	b.has_source_id = true;
	b.detail = psprintf("Receivable %s, other open orders %s, this order %s; the limit with its %s%% tolerance is %s.",
						policy_numeric_text(DatumGetNumeric(policy_spi_value(0, 3, &isnull))),
						policy_numeric_text(DatumGetNumeric(policy_spi_value(0, 4, &isnull))),
						policy_numeric_text(this_order), policy_numeric_text(settings->credit_tolerance),
						policy_numeric_text(limit));
	policy_names(spi, reader, 0, order->partner_id, 0, NULL, &partner, NULL);
	b.message = psprintf("order \"%s\" would take partner %s to an exposure of %s, over its credit limit",
						 order->order_code, partner, policy_numeric_text(exposure));
	b.hint = pstrdup("Collect payment first, or have a manager raise the partner's credit limit or approve the order.");
	*violation = policy_breach(spi, &b);
	return true;
}

/* ---- rebate.sales_order ---------------------------------------------------- */

typedef struct OrderColumns
{
	Oid			relid;
	AttrNumber	id,
				tenant_id,
				partner_id,
				kind,
				original_order_id,
				ship_to_region_id,
				order_date,
				status,
				currency,
				code;
} OrderColumns;

static OrderColumns order_columns;

static AttrNumber
column(Relation rel, const char *name)
{
	AttrNumber	attnum = SPI_fnumber(RelationGetDescr(rel), name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table \"%s\" has no column \"%s\"", RelationGetRelationName(rel), name)));
	return attnum;
}

static const OrderColumns *
order_columns_of(Relation rel)
{
	if (RelationGetRelid(rel) != policy_rel(REL_SALES_ORDER))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("rebate.enforce_order_policy() serves rebate.sales_order only")));
	if (order_columns.relid != RelationGetRelid(rel))
	{
		order_columns.id = column(rel, "id");
		order_columns.tenant_id = column(rel, "tenant_id");
		order_columns.partner_id = column(rel, "partner_id");
		order_columns.kind = column(rel, "kind");
		order_columns.original_order_id = column(rel, "original_order_id");
		order_columns.ship_to_region_id = column(rel, "ship_to_region_id");
		order_columns.order_date = column(rel, "order_date");
		order_columns.status = column(rel, "status");
		order_columns.currency = column(rel, "currency");
		order_columns.code = column(rel, "code");
		order_columns.relid = RelationGetRelid(rel);
	}
	return &order_columns;
}

static bool
column_changed(TriggerData *trigdata, AttrNumber attnum)
{
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
	bool		n1,
				n2;
	Datum		v1 = heap_getattr(trigdata->tg_trigtuple, attnum, desc, &n1);
	Datum		v2 = heap_getattr(trigdata->tg_newtuple, attnum, desc, &n2);

	return n1 != n2 || (!n1 && !datumIsEqual(v1, v2, att->attbyval, att->attlen));
}

static Datum
get(HeapTuple tuple, Relation rel, AttrNumber attnum, bool *isnull)
{
	return heap_getattr(tuple, attnum, RelationGetDescr(rel), isnull);
}

static SavedPlan open_violations_plan = {
	"SELECT EXISTS (SELECT 1 FROM rebate.policy_violation v"
	"                WHERE v.order_id OPERATOR(pg_catalog.=) $1 AND v.status OPERATOR(pg_catalog.=) 'open'"
	"                  AND v.source_table OPERATOR(pg_catalog.=) ANY (ARRAY['rebate.order_line'::pg_catalog.regclass,"
	"                                                                     'rebate.sales_order'::pg_catalog.regclass]))",
	1, {INT8OID}, NULL
};

static SavedPlan unauthorised_lines_plan = {
	"SELECT l.id, l.product_id, l.quantity, l.unit_price, l.amount FROM rebate.order_line l"
	" WHERE l.order_id OPERATOR(pg_catalog.=) $1 AND NOT rebate.product_authorised(l.product_id, $2)"
	" ORDER BY l.line_no",
	2, {INT8OID, INT8OID}, NULL
};

/* The order moved to another region: its lines' products must be sold there. */
static bool
rejudge_lines(PolicySpi *spi, Oid reader, const TenantSettings *settings, PolicyBreach *order_breach)
{
	Datum		args[2] = {Int64GetDatum(order_breach->order_id), Int64GetDatum(order_breach->region_id)};
	uint64		n = policy_spi_run(spi, &unauthorised_lines_plan, reader, args, NULL);
	SPITupleTable *lines = SPI_tuptable;
	bool		hold = false;

	for (uint64 i = 0; i < n; i++)
	{
		PolicyBreach b = *order_breach;
		bool		isnull;
		HeapTuple	line = lines->vals[i];
		char	   *product;
		char	   *region;

		b.kind = "product_region";
		b.mode = settings->product_region;
		b.source_table = policy_rel(REL_ORDER_LINE);
		b.source_id = DatumGetInt64(SPI_getbinval(line, lines->tupdesc, 1, &isnull));
		b.product_id = DatumGetInt64(SPI_getbinval(line, lines->tupdesc, 2, &isnull));
		b.quantity = DatumGetNumeric(SPI_getbinval(line, lines->tupdesc, 3, &isnull));
		b.actual = DatumGetNumeric(SPI_getbinval(line, lines->tupdesc, 4, &isnull));
		b.amount = DatumGetNumeric(SPI_getbinval(line, lines->tupdesc, 5, &isnull));
		policy_names(spi, reader, b.product_id, 0, b.region_id, &product, NULL, &region);
		policy_fill_product_region_breach(&b, product, region);
		policy_breach(spi, &b);
		hold = true;
	}
	return hold;
}

/* The order's partner and ship-to region lie in its tenant.  The checks read
 * as the owner, past row-level security: another tenant's region must not
 * be judged or quoted, but left to the foreign key, like an id that does not
 * exist. */
static bool
order_in_tenant(PolicySpi *spi, Oid reader, const PolicyBreach *order)
{
	PartnerFacts partner;

	if (!policy_partner(spi, reader, order->partner_id, &partner) || partner.tenant_id != order->tenant_id)
		return false;
	return order->region_id == 0 ||
		policy_tenant_of(spi, reader, OWNED_REGION, order->region_id) == order->tenant_id;
}

/* An order row being judged, and what the rules share about it. */
typedef struct OrderJudged
{
	TriggerData *trigdata;
	Relation	rel;
	const OrderColumns *col;
	HeapTuple	tuple;			/* NEW */
	bool		is_update;
	char	   *status;
	char	   *old_status;		/* NULL on insert */
	bool		entering;		/* becoming submitted or approved */
	Oid			reader;
	TenantSettings settings;
	PolicyBreach breach;		/* filled in from the order, for every rule's breaches */
	PolicySpi  *spi;
} OrderJudged;

static char *
order_code(OrderJudged *o)
{
	bool		isnull;

	return TextDatumGetCString(get(o->tuple, o->rel, o->col->code, &isnull));
}

/* A shipped, delivered, closed or cancelled order keeps its partner, region,
 * date, kind and currency. */
static void
judge_locked(OrderJudged *o)
{
	static const char *const locked_columns[] = {
		"tenant_id", "partner_id", "kind", "original_order_id", "ship_to_region_id", "order_date", "currency"
	};
	const AttrNumber attnums[] = {
		o->col->tenant_id, o->col->partner_id, o->col->kind, o->col->original_order_id,
		o->col->ship_to_region_id, o->col->order_date, o->col->currency
	};

	if (!o->is_update || !order_status_in(o->old_status, ORDER_STATUSES_LOCKED))
		return;
	for (int i = 0; i < (int) lengthof(attnums); i++)
		if (column_changed(o->trigdata, attnums[i]))
			refuse_locked(order_code(o), o->old_status, psprintf("the %s", locked_columns[i]));
}

/* An active partner places orders: a new live order, or a draft submitted. */
static void
judge_partner_active(OrderJudged *o)
{
	PartnerFacts facts;
	char	   *partner;

	if (!((!o->is_update && order_status_in(o->status, ORDER_STATUSES_LIVE)) || (o->entering && strcmp(o->old_status, "draft") == 0)))
		return;
	if (!policy_partner(o->spi, o->reader, o->breach.partner_id, &facts) || strcmp(facts.state, "active") == 0)
		return;
	policy_names(o->spi, o->reader, 0, o->breach.partner_id, 0, NULL, &partner, NULL);
	ereport(ERROR,
			(errcode(ERRCODE_REBATE_PARTNER_NOT_ACTIVE),
			 errmsg("partner %s is %s and cannot place orders", partner, facts.state),
			 errdetail("Its state has been \"%s\" since %s.", facts.state, policy_date_text(facts.state_since)),
			 errhint("Only active partners place orders; a manager changes the state with rebate.set_partner_state.")));
}

/* The order ships into the partner's territory (窜货).  Returns whether a
 * review-mode breach holds it. */
static bool
judge_territory(OrderJudged *o)
{
	PolicyBreach b = o->breach;
	char	   *partner;
	char	   *region;

	if (o->settings.territory == MODE_ALLOW)
		return false;
	if (o->is_update && !column_changed(o->trigdata, o->col->partner_id) &&
		!column_changed(o->trigdata, o->col->ship_to_region_id) && !column_changed(o->trigdata, o->col->order_date))
		return false;
	if (policy_in_territory(o->spi, o->reader, b.partner_id, b.region_id, b.order_date))
		return false;
	b.kind = "territory";
	b.mode = o->settings.territory;
	policy_names(o->spi, o->reader, 0, b.partner_id, b.region_id, NULL, &partner, &region);
	policy_fill_territory_breach(&b, o->spi, o->reader, partner, region, b.order_date, b.partner_id);
	policy_breach(o->spi, &b);
	return true;
}

/* A new ship-to region: the products of the lines must be sold there. */
static bool
judge_ship_to_products(OrderJudged *o)
{
	return o->is_update && o->settings.product_region != MODE_ALLOW &&
		column_changed(o->trigdata, o->col->ship_to_region_id) &&
		rejudge_lines(o->spi, o->reader, &o->settings, &o->breach);
}

/* An order entering submitted or approved with violations still open is held. */
static bool
judge_open_violations(OrderJudged *o)
{
	Datum		arg = Int64GetDatum(o->breach.order_id);
	bool		isnull;

	if (!o->entering)
		return false;
	policy_spi_run(o->spi, &open_violations_plan, o->reader, &arg, NULL);
	return DatumGetBool(policy_spi_value(0, 1, &isnull));
}

/* Submitting or approving checks the partner's credit. */
static bool
judge_credit(OrderJudged *o)
{
	CreditOrder order = {
		o->breach.tenant_id, o->breach.partner_id, o->breach.order_id, NULL, o->breach.order_date,
		o->breach.region_id, RelationGetRelid(o->rel), o->breach.order_id
	};
	int64		violation;

	if (!o->entering || o->settings.credit == MODE_ALLOW)
		return false;
	order.order_code = order_code(o);
	return credit_breached(o->spi, o->reader, &o->settings, &order,
						   DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(0))), &violation);
}

Datum
rebate_enforce_order_policy(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	OrderJudged o;
	PolicySpi	spi = {false};
	bool		isnull;
	char	   *kind;
	bool		hold;

	policy_require_row_trigger(fcinfo, "rebate.enforce_order_policy()", false);
	policy_cache_begin();
	memset(&o, 0, sizeof(o));
	o.trigdata = trigdata;
	o.spi = &spi;
	o.rel = trigdata->tg_relation;
	o.col = order_columns_of(o.rel);
	o.is_update = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event);
	o.tuple = o.is_update ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	o.reader = o.rel->rd_rel->relowner;
	o.status = TextDatumGetCString(get(o.tuple, o.rel, o.col->status, &isnull));
	if (o.is_update)
		o.old_status = TextDatumGetCString(get(trigdata->tg_trigtuple, o.rel, o.col->status, &isnull));
	kind = TextDatumGetCString(get(o.tuple, o.rel, o.col->kind, &isnull));
	o.breach.order_id = DatumGetInt64(get(o.tuple, o.rel, o.col->id, &isnull));
	o.breach.tenant_id = DatumGetInt64(get(o.tuple, o.rel, o.col->tenant_id, &isnull));
	o.breach.partner_id = DatumGetInt64(get(o.tuple, o.rel, o.col->partner_id, &isnull));
	o.breach.region_id = DatumGetInt64(get(o.tuple, o.rel, o.col->ship_to_region_id, &isnull));
	o.breach.order_date = DatumGetDateADT(get(o.tuple, o.rel, o.col->order_date, &isnull));
	o.breach.source_table = RelationGetRelid(o.rel);
	o.breach.source_id = o.breach.order_id;
	o.breach.has_source_id = true;

	judge_locked(&o);
	if (strcmp(kind, "order") != 0 || strcmp(o.status, "cancelled") == 0 ||
		!policy_partner_visible(&spi, o.breach.partner_id) || !order_in_tenant(&spi, o.reader, &o.breach))
	{
		policy_spi_finish(&spi);
		return PointerGetDatum(o.tuple);	/* returns and credit notes follow their original order;
											 * row-level security refuses an invisible partner, the
											 * foreign keys another tenant's partner or region */
	}
	o.entering = order_status_in(o.status, ORDER_STATUSES_HOLDABLE) &&
		(!o.is_update || strcmp(o.old_status, o.status) != 0);
	policy_tenant_settings(&spi, o.reader, o.breach.tenant_id, &o.settings);

	judge_partner_active(&o);
	hold = judge_territory(&o);
	hold |= judge_ship_to_products(&o);
	if (!hold)
		hold = judge_open_violations(&o);
	hold |= judge_credit(&o);
	policy_spi_finish(&spi);

	if (hold && order_status_in(o.status, ORDER_STATUSES_HOLDABLE))
	{
		int			attnum = o.col->status;
		Datum		value = CStringGetTextDatum("on_hold");
		bool		null = false;

		o.tuple = heap_modify_tuple_by_cols(o.tuple, RelationGetDescr(o.rel), 1, &attnum, &value, &null);
	}
	return PointerGetDatum(o.tuple);
}

/* ---- rebate.order_line ----------------------------------------------------- */

static Numeric
line_amount(HeapTuple tuple, Relation rel, AttrNumber quantity, AttrNumber unit_price)
{
	bool		n1,
				n2;
	Datum		q = get(tuple, rel, quantity, &n1);
	Datum		p = get(tuple, rel, unit_price, &n2);

	if (n1 || n2)
		return DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(0)));
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul, q, p));
}

Datum
rebate_enforce_order_line_state(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	HeapTuple	tuple;
	HeapTuple	old = NULL;
	bool		is_delete;
	bool		isnull;
	Oid			reader;
	OrderFacts	order;
	int64		tenant_id;
	PolicySpi	spi = {false};
	static Oid	relid = InvalidOid;
	static AttrNumber order_id_attnum,
				quantity_attnum,
				unit_price_attnum,
				tenant_attnum,
				id_attnum;

	policy_require_row_trigger(fcinfo, "rebate.enforce_order_line_state()", true);
	policy_cache_begin();
	rel = trigdata->tg_relation;
	if (RelationGetRelid(rel) != policy_rel(REL_ORDER_LINE))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("rebate.enforce_order_line_state() serves rebate.order_line only")));
	if (relid != RelationGetRelid(rel))
	{
		order_id_attnum = column(rel, "order_id");
		quantity_attnum = column(rel, "quantity");
		unit_price_attnum = column(rel, "unit_price");
		id_attnum = column(rel, "id");
		tenant_attnum = column(rel, "tenant_id");
		relid = RelationGetRelid(rel);
	}
	reader = rel->rd_rel->relowner;
	is_delete = TRIGGER_FIRED_BY_DELETE(trigdata->tg_event);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		tuple = trigdata->tg_newtuple;
		old = trigdata->tg_trigtuple;
	}
	else
		tuple = trigdata->tg_trigtuple;

	/* the order the line leaves (update to another order, or delete) */
	if (old != NULL)
	{
		int64		old_order = DatumGetInt64(get(old, rel, order_id_attnum, &isnull));

		if (old_order != DatumGetInt64(get(tuple, rel, order_id_attnum, &isnull)))
		{
			int64		old_tenant = DatumGetInt64(get(old, rel, tenant_attnum, &isnull));

			if (policy_tenant_visible(&spi, old_tenant) && policy_order(&spi, reader, old_tenant, old_order, &order) &&
				policy_partner_visible(&spi, order.partner_id) &&
				order_status_in(order.status, ORDER_STATUSES_LOCKED))
				refuse_locked(order.code, order.status, "the lines");
			old = NULL;			/* the new order gains the whole line */
		}
	}
	tenant_id = DatumGetInt64(get(tuple, rel, tenant_attnum, &isnull));
	/* the order is read, and locked, only for a writer who sees its tenant */
	if (!policy_tenant_visible(&spi, tenant_id) ||
		!policy_order(&spi, reader, tenant_id, DatumGetInt64(get(tuple, rel, order_id_attnum, &isnull)), &order) ||
		!policy_partner_visible(&spi, order.partner_id))
	{
		policy_spi_finish(&spi);
		return PointerGetDatum(tuple);	/* the foreign key reports it */
	}
	if (order_status_in(order.status, ORDER_STATUSES_LOCKED))
		refuse_locked(order.code, order.status, "the lines");

	if (!is_delete && strcmp(order.kind, "order") == 0 && order_status_in(order.status, ORDER_STATUSES_HOLDABLE))
	{
		Numeric		delta = line_amount(tuple, rel, quantity_attnum, unit_price_attnum);
		TenantSettings settings;

		if (old != NULL)
			delta = DatumGetNumeric(DirectFunctionCall2(numeric_sub, NumericGetDatum(delta),
														NumericGetDatum(line_amount(old, rel, quantity_attnum,
																					unit_price_attnum))));
		policy_tenant_settings(&spi, reader, order.tenant_id, &settings);
		if (settings.credit != MODE_ALLOW &&
			policy_numeric_cmp(delta, DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) > 0)
		{
			CreditOrder credit = {
				order.tenant_id, order.partner_id, order.order_id, order.code, order.order_date,
				order.region_id, RelationGetRelid(rel), DatumGetInt64(get(tuple, rel, id_attnum, &isnull))
			};

			int64		violation;

			if (credit_breached(&spi, reader, &settings, &credit, delta, &violation))
				policy_hold_order(&spi, order.order_id, order.status, violation);
		}
	}
	policy_spi_finish(&spi);
	return PointerGetDatum(tuple);
}
