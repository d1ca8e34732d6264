/*
 * channel_kpis.c — the aggregate rebate.channel_kpis: in one pass over order
 * lines and payments, everything a channel performance row needs, returned
 * as the composite rebate.kpis.
 *
 * The state is `internal` (a C struct updated in place) with combine,
 * serialize and deserialize functions, so that parallel workers compute
 * partial states.  Money is summed exactly (exact_sum.c).  Distinct orders
 * and products are kept in hash sets; an order's delivery facts are stored
 * with its id and counted only at the end, so that an order whose lines were
 * split between two workers still counts once.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "exact_sum.h"

/* ---------- a set of int64 ids with a few flag bits each ---------- */

typedef struct IdEntry
{
	int64		id;
	uint8		flags;
	char		status;			/* simplehash's slot status */
} IdEntry;

static inline uint32
id_hash(int64 id)
{
	/* splitmix64's finalizer: ids are sequential, the buckets should not be */
	uint64		x = (uint64) id;

	x ^= x >> 30;
	x *= UINT64CONST(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64CONST(0x94d049bb133111eb);
	x ^= x >> 31;
	return (uint32) x;
}

#define SH_PREFIX idset
#define SH_ELEMENT_TYPE IdEntry
#define SH_KEY_TYPE int64
#define SH_KEY id
#define SH_HASH_KEY(tb, key) id_hash(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

#define ORDER_PROMISED_DELIVERED 0x01	/* has a promised date and was delivered */
#define ORDER_ON_TIME			 0x02	/* ... on or before the promised date */

#define KPI_STATE_FORMAT 1

typedef struct KpiState
{
	MemoryContext context;
	ExactSum	gross;			/* order lines' amounts */
	ExactSum	returns;		/* returned amounts, positive */
	ExactSum	credits;		/* credit notes, positive */
	ExactSum	margin;			/* amount - cost over lines with a cost */
	ExactSum	margin_basis;	/* amount over lines with a cost */
	ExactSum	quantity;		/* signed: returns take goods back */
	ExactSum	collected;		/* payments */
	int64		lines;
	int64		margin_lines;	/* lines with a cost (or credit notes): without any, no margin */
	int64		payments;
	idset_hash *orders;
	idset_hash *products;
	int64		last_order;		/* lines of one order usually come together */
	int64		last_product;
	bool		has_last_order;
	bool		has_last_product;
} KpiState;

typedef enum FactKind
{
	FACT_ORDER,
	FACT_RETURN,
	FACT_CREDIT_NOTE,
	FACT_PAYMENT
} FactKind;

static FactKind
fact_kind(const text *kind)
{
	const char *s = VARDATA_ANY(kind);
	int			len = VARSIZE_ANY_EXHDR(kind);

	if (len == 5 && memcmp(s, "order", 5) == 0)
		return FACT_ORDER;
	if (len == 6 && memcmp(s, "return", 6) == 0)
		return FACT_RETURN;
	if (len == 11 && memcmp(s, "credit_note", 11) == 0)
		return FACT_CREDIT_NOTE;
	if (len == 7 && memcmp(s, "payment", 7) == 0)
		return FACT_PAYMENT;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown kind of channel fact: \"%s\"", text_to_cstring(kind)),
			 errdetail("channel_kpis counts order lines (kind order, return or credit_note) and payments (kind payment)."),
			 errhint("Pass sales_order.kind for lines and 'payment' for payments, as rebate.channel_fact does.")));
	pg_unreachable();
}

static KpiState *
kpi_state_new(MemoryContext context)
{
	KpiState   *state = MemoryContextAllocZero(context, sizeof(KpiState));

	state->context = context;
	state->orders = idset_create(context, 16, NULL);
	state->products = idset_create(context, 16, NULL);
	return state;
}

static IdEntry *
idset_add(idset_hash *set, int64 id, bool *found)
{
	IdEntry    *entry = idset_insert(set, id, found);

	if (!*found)
		entry->flags = 0;
	return entry;
}

#define ARG_VARLENA(n) (PG_ARGISNULL(n) ? NULL : (const struct varlena *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(n)))

PG_FUNCTION_INFO_V1(channel_kpis_trans);
Datum
channel_kpis_trans(PG_FUNCTION_ARGS)
{
	MemoryContext context = aggregate_memory_context(fcinfo, "channel_kpis_trans");
	KpiState   *state;
	const struct varlena *amount;
	const struct varlena *quantity;
	const struct varlena *cost;
	FactKind	kind;

	/* arguments: kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on */
	if (PG_ARGISNULL(1))
	{
		/* a row without a kind is skipped, as sum() skips NULLs (only such rows: NULL) */
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	kind = fact_kind(PG_GETARG_TEXT_PP(1));
	state = PG_ARGISNULL(0) ? kpi_state_new(context) : (KpiState *) PG_GETARG_POINTER(0);
	amount = ARG_VARLENA(5);

	if (kind == FACT_PAYMENT)
	{
		state->payments++;
		if (amount != NULL)
			exact_sum_add(&state->collected, amount, false, context);
		PG_RETURN_POINTER(state);
	}

	state->lines++;
	quantity = ARG_VARLENA(4);
	cost = ARG_VARLENA(6);
	if (quantity != NULL)
		exact_sum_add(&state->quantity, quantity, false, context);
	if (amount != NULL)
	{
		/* amounts come signed as in rebate.sales_fact: returns and credit notes negative */
		exact_sum_add(kind == FACT_ORDER ? &state->gross :
					  kind == FACT_RETURN ? &state->returns : &state->credits,
					  amount, kind != FACT_ORDER, context);
		if (cost != NULL || kind == FACT_CREDIT_NOTE)
		{
			exact_sum_add(&state->margin, amount, false, context);
			if (cost != NULL)
				exact_sum_add(&state->margin, cost, true, context);
			exact_sum_add(&state->margin_basis, amount, false, context);
			state->margin_lines++;
		}
	}
	if (kind != FACT_ORDER)
		PG_RETURN_POINTER(state);

	if (!PG_ARGISNULL(2) && (!state->has_last_order || state->last_order != PG_GETARG_INT64(2)))
	{
		int64		order_id = PG_GETARG_INT64(2);
		bool		found;
		IdEntry    *entry = idset_add(state->orders, order_id, &found);

		if (!found && !PG_ARGISNULL(7) && !PG_ARGISNULL(8))
		{
			entry->flags |= ORDER_PROMISED_DELIVERED;
			if (PG_GETARG_DATEADT(8) <= PG_GETARG_DATEADT(7))
				entry->flags |= ORDER_ON_TIME;
		}
		state->last_order = order_id;
		state->has_last_order = true;
	}
	if (!PG_ARGISNULL(3) && (!state->has_last_product || state->last_product != PG_GETARG_INT64(3)))
	{
		bool		found;

		idset_add(state->products, PG_GETARG_INT64(3), &found);
		state->last_product = PG_GETARG_INT64(3);
		state->has_last_product = true;
	}
	PG_RETURN_POINTER(state);
}

static void
idset_merge(idset_hash *into, idset_hash *from)
{
	idset_iterator it;
	IdEntry    *entry;

	idset_start_iterate(from, &it);
	while ((entry = idset_iterate(from, &it)) != NULL)
	{
		bool		found;
		IdEntry    *mine = idset_add(into, entry->id, &found);

		if (!found)
			mine->flags = entry->flags;
	}
}

PG_FUNCTION_INFO_V1(channel_kpis_combine);
Datum
channel_kpis_combine(PG_FUNCTION_ARGS)
{
	MemoryContext context = aggregate_memory_context(fcinfo, "channel_kpis_combine");
	KpiState   *a;
	KpiState   *b;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	b = (KpiState *) PG_GETARG_POINTER(1);
	a = PG_ARGISNULL(0) ? kpi_state_new(context) : (KpiState *) PG_GETARG_POINTER(0);

	exact_sum_merge(&a->gross, &b->gross, context);
	exact_sum_merge(&a->returns, &b->returns, context);
	exact_sum_merge(&a->credits, &b->credits, context);
	exact_sum_merge(&a->margin, &b->margin, context);
	exact_sum_merge(&a->margin_basis, &b->margin_basis, context);
	exact_sum_merge(&a->quantity, &b->quantity, context);
	exact_sum_merge(&a->collected, &b->collected, context);
	a->lines += b->lines;
	a->margin_lines += b->margin_lines;
	a->payments += b->payments;
	idset_merge(a->orders, b->orders);
	idset_merge(a->products, b->products);
	a->has_last_order = a->has_last_product = false;
	PG_RETURN_POINTER(a);
}

/* ---------- serialize / deserialize (parallel workers hand partial states over) ---------- */

#define KPI_SUMS(state) { &(state)->gross, &(state)->returns, &(state)->credits, &(state)->margin, \
						  &(state)->margin_basis, &(state)->quantity, &(state)->collected }

static void
idset_send(StringInfo buf, idset_hash *set)
{
	idset_iterator it;
	IdEntry    *entry;

	pq_sendint32(buf, set->members);
	idset_start_iterate(set, &it);
	while ((entry = idset_iterate(set, &it)) != NULL)
	{
		pq_sendint64(buf, entry->id);
		pq_sendbyte(buf, entry->flags);
	}
}

static void
idset_recv(StringInfo buf, idset_hash *set)
{
	uint32		n = pq_getmsgint(buf, 4);

	for (uint32 i = 0; i < n; i++)
	{
		bool		found;
		int64		id = pq_getmsgint64(buf);
		IdEntry    *entry = idset_add(set, id, &found);

		entry->flags = pq_getmsgbyte(buf);
	}
}

PG_FUNCTION_INFO_V1(channel_kpis_serialize);
Datum
channel_kpis_serialize(PG_FUNCTION_ARGS)
{
	KpiState   *state = (KpiState *) PG_GETARG_POINTER(0);
	ExactSum   *sums[] = KPI_SUMS(state);
	StringInfoData buf;

	(void) aggregate_memory_context(fcinfo, "channel_kpis_serialize");
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, KPI_STATE_FORMAT);
	for (size_t i = 0; i < lengthof(sums); i++)
		exact_sum_send(&buf, sums[i]);
	pq_sendint64(&buf, state->lines);
	pq_sendint64(&buf, state->margin_lines);
	pq_sendint64(&buf, state->payments);
	idset_send(&buf, state->orders);
	idset_send(&buf, state->products);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(channel_kpis_deserialize);
Datum
channel_kpis_deserialize(PG_FUNCTION_ARGS)
{
	/*
	 * In the per-call context, as numeric_avg_deserialize does: the state
	 * only feeds the combine function, which copies what it needs.
	 */
	MemoryContext context = CurrentMemoryContext;
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	KpiState   *state = kpi_state_new(context);
	ExactSum   *sums[] = KPI_SUMS(state);
	StringInfoData buf;

	(void) aggregate_memory_context(fcinfo, "channel_kpis_deserialize");

	state_reader_init(&buf, bytes);
	if (pq_getmsgbyte(&buf) != KPI_STATE_FORMAT)
		elog(ERROR, "channel_kpis state of an unknown format");
	for (size_t i = 0; i < lengthof(sums); i++)
		exact_sum_recv(&buf, sums[i], context);
	state->lines = pq_getmsgint64(&buf);
	state->margin_lines = pq_getmsgint64(&buf);
	state->payments = pq_getmsgint64(&buf);
	idset_recv(&buf, state->orders);
	idset_recv(&buf, state->products);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

/* ---------- the result: rebate.kpis ---------- */

#define RATE_PLACES 4			/* rates and averages: 0.0001 = one basis point */

static Datum
numeric_or_null(Numeric value, bool *isnull)
{
	*isnull = value == NULL;
	return value == NULL ? (Datum) 0 : NumericGetDatum(value);
}

/* a / b when b > 0, else NULL (a rate of nothing, or of a negative basis, means nothing) */
static Numeric
rate_of(Numeric a, Numeric b)
{
	return num_sign(b) > 0 ? num_ratio(a, b, RATE_PLACES) : NULL;
}

static TupleDesc
kpis_tupdesc(FunctionCallInfo fcinfo)
{
	TupleDesc	desc = (TupleDesc) fcinfo->flinfo->fn_extra;

	if (desc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		desc = lookup_rowtype_tupdesc_copy(get_func_rettype(fcinfo->flinfo->fn_oid), -1);
		desc = BlessTupleDesc(desc);
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = desc;
	}
	return desc;
}

enum
{
	K_NET_SALES, K_GROSS_SALES, K_RETURNS, K_CREDIT_NOTES, K_GROSS_MARGIN, K_MARGIN_RATE, K_QUANTITY,
	K_LINES, K_ORDERS, K_AVERAGE_ORDER_VALUE, K_RETURN_RATE, K_COLLECTED, K_COLLECTION_RATE, K_PAYMENTS,
	K_PROMISED_DELIVERIES, K_ON_TIME_DELIVERIES, K_ON_TIME_RATE, K_PRODUCTS, K_FIELDS
};

/* The sums and counts a rebate.kpis is made of. */
typedef struct KpiTotals
{
	Numeric		gross;
	Numeric		returns;
	Numeric		credits;
	Numeric		margin;
	Numeric		margin_basis;
	Numeric		quantity;
	Numeric		collected;
	int64		lines;
	int64		margin_lines;
	int64		payments;
	int64		orders;
	int64		promised;
	int64		on_time;
	int64		products;
} KpiTotals;

/* rebate.kpis from totals: the derived rates, rounded once. */
static Datum
kpis_datum(FunctionCallInfo fcinfo, const KpiTotals *t)
{
	TupleDesc	desc = kpis_tupdesc(fcinfo);
	Datum		values[K_FIELDS];
	bool		nulls[K_FIELDS] = {0};
	Numeric		net = num_sub(num_sub(t->gross, t->returns), t->credits);

	if (desc->natts != K_FIELDS)
		elog(ERROR, "rebate.kpis has %d attributes, channel_kpis makes %d", desc->natts, K_FIELDS);
	values[K_NET_SALES] = NumericGetDatum(net);
	values[K_GROSS_SALES] = NumericGetDatum(t->gross);
	values[K_RETURNS] = NumericGetDatum(t->returns);
	values[K_CREDIT_NOTES] = NumericGetDatum(t->credits);
	values[K_GROSS_MARGIN] = NumericGetDatum(t->margin);
	nulls[K_GROSS_MARGIN] = t->margin_lines == 0;
	values[K_MARGIN_RATE] = numeric_or_null(rate_of(t->margin, t->margin_basis), &nulls[K_MARGIN_RATE]);
	values[K_QUANTITY] = NumericGetDatum(t->quantity);
	values[K_LINES] = Int64GetDatum(t->lines);
	values[K_ORDERS] = Int64GetDatum(t->orders);
	values[K_AVERAGE_ORDER_VALUE] = numeric_or_null(rate_of(t->gross, num_from_int64(t->orders)),
													&nulls[K_AVERAGE_ORDER_VALUE]);
	values[K_RETURN_RATE] = numeric_or_null(rate_of(t->returns, t->gross), &nulls[K_RETURN_RATE]);
	values[K_COLLECTED] = NumericGetDatum(t->collected);
	values[K_COLLECTION_RATE] = numeric_or_null(rate_of(t->collected, net), &nulls[K_COLLECTION_RATE]);
	values[K_PAYMENTS] = Int64GetDatum(t->payments);
	values[K_PROMISED_DELIVERIES] = Int64GetDatum(t->promised);
	values[K_ON_TIME_DELIVERIES] = Int64GetDatum(t->on_time);
	values[K_ON_TIME_RATE] = numeric_or_null(rate_of(num_from_int64(t->on_time), num_from_int64(t->promised)),
											 &nulls[K_ON_TIME_RATE]);
	values[K_PRODUCTS] = Int64GetDatum(t->products);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

PG_FUNCTION_INFO_V1(channel_kpis_final);
Datum
channel_kpis_final(PG_FUNCTION_ARGS)
{
	KpiState   *state;
	KpiTotals	t = {0};
	idset_iterator it;
	IdEntry    *entry;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (KpiState *) PG_GETARG_POINTER(0);

	idset_start_iterate(state->orders, &it);
	while ((entry = idset_iterate(state->orders, &it)) != NULL)
	{
		t.promised += (entry->flags & ORDER_PROMISED_DELIVERED) != 0;
		t.on_time += (entry->flags & ORDER_ON_TIME) != 0;
	}
	t.gross = exact_sum_total(&state->gross);
	t.returns = exact_sum_total(&state->returns);
	t.credits = exact_sum_total(&state->credits);
	t.margin = exact_sum_total(&state->margin);
	t.margin_basis = exact_sum_total(&state->margin_basis);
	t.quantity = exact_sum_total(&state->quantity);
	t.collected = exact_sum_total(&state->collected);
	t.lines = state->lines;
	t.margin_lines = state->margin_lines;
	t.payments = state->payments;
	t.orders = state->orders->members;
	t.products = state->products->members;
	PG_RETURN_DATUM(kpis_datum(fcinfo, &t));
}

/* A numeric argument, 0 for NULL (a sum over no rows). */
static Numeric
numeric_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? num_from_int64(0) : PG_GETARG_NUMERIC(n);
}

#define INT64_ARG(n) (PG_ARGISNULL(n) ? 0 : PG_GETARG_INT64(n))

/*
 * rebate.kpis_of(...): the same rebate.kpis from sums already made (the
 * rollups'), so that a report over rollup rows and channel_kpis over the
 * documents derive their rates by one code.  NULL sums count as 0.
 */
PG_FUNCTION_INFO_V1(kpis_of);
Datum
kpis_of(PG_FUNCTION_ARGS)
{
	KpiTotals	t;
	Numeric		cost;

	/* arguments: gross_sales, returns, credit_notes, costed_amount, cost, costed_lines, quantity, lines,
	 * orders, collected, payments, promised_deliveries, on_time_deliveries, products */
	t.gross = numeric_arg(fcinfo, 0);
	t.returns = numeric_arg(fcinfo, 1);
	t.credits = numeric_arg(fcinfo, 2);
	t.margin_basis = numeric_arg(fcinfo, 3);
	cost = numeric_arg(fcinfo, 4);
	t.margin = num_sub(t.margin_basis, cost);
	t.margin_lines = INT64_ARG(5);
	t.quantity = numeric_arg(fcinfo, 6);
	t.lines = INT64_ARG(7);
	t.orders = INT64_ARG(8);
	t.collected = numeric_arg(fcinfo, 9);
	t.payments = INT64_ARG(10);
	t.promised = INT64_ARG(11);
	t.on_time = INT64_ARG(12);
	t.products = INT64_ARG(13);
	PG_RETURN_DATUM(kpis_datum(fcinfo, &t));
}
