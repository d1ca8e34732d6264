/*
 * stock_balance.c — rebate.maintain_stock_balance(), the AFTER INSERT statement
 * trigger that keeps rebate.stock_balance from the stock ledger
 * (rebate.stock_movement) in the writing transaction.
 *
 * Why C: most ledger statements write one movement, and for them the PL/pgSQL
 * trigger (a grouped query over the transition table, a query probing the
 * thresholds, the interpreter around both) cost almost as much as the insert.
 * Here the common statement pays for one upsert per item and little else.
 *
 * The transition table is summed per item (tenant, warehouse, product): exact
 * sum, count, owner, latest days in, out and sold; one row is its own item,
 * more are summed in a hash table.  The items are upserted in key order, so
 * writers lock shared items in the same order and never deadlock (the lock is
 * held to commit: a later writer sees every committed movement).  The upsert
 * returns the new quantity and whether the warehouse has thresholds.  Only when
 * an item went below zero on a withdrawal, crossed zero or has thresholds is
 * rebate.stock_written (PL/pgSQL, sql/stock_balance_slow.sql) called with all
 * items: it refuses negative stock where the tenant does (RB100) and judges the
 * alerts.  SECURITY DEFINER, search_path pinned (its declaration): it serves
 * only tables of its own schema, whose name it takes from its namespace.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "numeric_util.h"

PG_FUNCTION_INFO_V1(rebate_maintain_stock_balance);

/* The latest days an item keeps: as max(moved_on) FILTER (...). */
enum
{
	LAST_IN,					/* quantity > 0 */
	LAST_OUT,					/* quantity < 0 */
	LAST_SALE,					/* kind = ANY (rebate.stock_sale_kinds()) */
	NUM_LAST
};

/* One item of the statement: its movements summed. */
typedef struct StockItem
{
	int64		key[3];			/* tenant, warehouse, product: the hash key */
	Numeric		quantity;		/* exact sum */
	int64		movements;
	int64		partner_id;		/* the least non-null owner, as min() */
	bool		has_partner;
	bool		has_last[NUM_LAST];
	DateADT		last[NUM_LAST];
} StockItem;

/* The ledger's columns the trigger reads, found by name. */
enum
{
	COL_TENANT, COL_WAREHOUSE, COL_PRODUCT, COL_PARTNER, COL_MOVED_ON, COL_KIND, COL_QUANTITY, NUM_COLS
};
static const char *const col_names[NUM_COLS] = {
	"tenant_id", "warehouse_id", "product_id", "partner_id", "moved_on", "kind", "quantity"
};
static const Oid col_types[NUM_COLS] = {INT8OID, INT8OID, INT8OID, INT8OID, DATEOID, TEXTOID, NUMERICOID};

/*
 * The plans, prepared once per backend, and the schema they name.  A
 * statement of one item (the common one) runs the upsert for one item; a
 * statement of several runs the same upsert once over arrays of them (one
 * execution per item would make a batch pay an executor start per item).
 */
static Oid	plans_schema = InvalidOid;
static SPIPlanPtr one_plan = NULL;
static SPIPlanPtr batch_plan = NULL;
static SPIPlanPtr written_plan = NULL;

/* The upsert's parameters: the item's key, owner, sum, count and latest days. */
#define NUM_PARAMS 9
static const Oid param_types[NUM_PARAMS] = {
	INT8OID, INT8OID, INT8OID, INT8OID, NUMERICOID, INT8OID, DATEOID, DATEOID, DATEOID
};
static const Oid array_types[NUM_PARAMS] = {
	INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, NUMERICARRAYOID, INT8ARRAYOID,
	DATEARRAYOID, DATEARRAYOID, DATEARRAYOID
};
#define UPSERT(source) \
	"INSERT INTO %s.stock_balance AS b (tenant_id, warehouse_id, product_id, partner_id, quantity, movements," \
	" last_inbound_on, last_outbound_on, last_sale_on) " source \
	" ON CONFLICT (tenant_id, warehouse_id, product_id) DO UPDATE" \
	" SET quantity = b.quantity + excluded.quantity, movements = b.movements + excluded.movements," \
	" last_inbound_on = GREATEST(b.last_inbound_on, excluded.last_inbound_on)," \
	" last_outbound_on = GREATEST(b.last_outbound_on, excluded.last_outbound_on)," \
	" last_sale_on = GREATEST(b.last_sale_on, excluded.last_sale_on), updated_at = pg_catalog.now()"

static SPIPlanPtr
keep_plan(const char *sql, int nargs, const Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);

	if (plan == NULL || SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	return plan;
}

/*
 * One item's upsert returns its new quantity and whether its warehouse has
 * thresholds, probed through the two partial unique indexes (product's,
 * category's; one EXISTS over the table would read all of a tenant's).  The
 * batch's, in key order like the PL/pgSQL trigger's, returns whether any item
 * needs the slow path.
 */
static void
prepare_plans(Oid schema)
{
	static const Oid written_types[4] = {INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, NUMERICARRAYOID};
	SPIPlanPtr *plans[3] = {&one_plan, &batch_plan, &written_plan};
	const char *s;

	if (plans_schema == schema)
		return;
	for (int i = 0; i < 3; i++)
	{
		if (*plans[i] != NULL)
			SPI_freeplan(*plans[i]);
		*plans[i] = NULL;
	}
	plans_schema = InvalidOid;

	s = quote_identifier(get_namespace_name(schema));
	one_plan = keep_plan(psprintf(UPSERT("VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
								  " RETURNING b.quantity, EXISTS (SELECT FROM %s.stock_threshold t"
								  " WHERE t.tenant_id = b.tenant_id AND t.warehouse_id = b.warehouse_id"
								  " AND t.product_id IS NOT NULL) OR EXISTS (SELECT FROM %s.stock_threshold t"
								  " WHERE t.tenant_id = b.tenant_id AND t.warehouse_id = b.warehouse_id"
								  " AND t.category_id IS NOT NULL)", s, s, s),
						 NUM_PARAMS, param_types);
	batch_plan = keep_plan(psprintf("WITH d AS (SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9)"
									" AS d (tenant_id, warehouse_id, product_id, partner_id, quantity, movements,"
									" last_in, last_out, last_sale)), u AS ("
									UPSERT("SELECT * FROM d ORDER BY tenant_id, warehouse_id, product_id")
									" RETURNING b.tenant_id, b.warehouse_id, b.product_id, b.quantity)"
									" SELECT EXISTS (SELECT FROM u JOIN d USING (tenant_id, warehouse_id, product_id)"
									" WHERE (u.quantity < 0 AND d.quantity < 0)"
									" OR ((u.quantity <= 0) <> (u.quantity - d.quantity <= 0)))"
									" OR EXISTS (SELECT FROM d WHERE EXISTS (SELECT FROM %s.stock_threshold t"
									" WHERE t.tenant_id = d.tenant_id AND t.warehouse_id = d.warehouse_id"
									" AND t.product_id IS NOT NULL) OR EXISTS (SELECT FROM %s.stock_threshold t"
									" WHERE t.tenant_id = d.tenant_id AND t.warehouse_id = d.warehouse_id"
									" AND t.category_id IS NOT NULL))", s, s, s),
						   NUM_PARAMS, array_types);
	written_plan = keep_plan(psprintf("SELECT %s.stock_written($1, $2, $3, $4)", s), 4, written_types);
	plans_schema = schema;
}

/* The columns' numbers, each checked against the type the trigger reads. */
static void
find_columns(TupleDesc desc, AttrNumber *att)
{
	for (int c = 0; c < NUM_COLS; c++)
	{
		att[c] = InvalidAttrNumber;
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute a = TupleDescAttr(desc, i);

			if (!a->attisdropped && a->atttypid == col_types[c] && strcmp(NameStr(a->attname), col_names[c]) == 0)
				att[c] = a->attnum;
		}
		if (att[c] == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("maintain_stock_balance needs a column %s of type %s", col_names[c],
							format_type_be(col_types[c]))));
	}
}

/* Whether a kind is a sale: rebate.stock_sale_kinds() says which (sell_out, shipment). */
static bool
is_sale(Datum kind)
{
	text	   *t = DatumGetTextPP(kind);

	return VARSIZE_ANY_EXHDR(t) == 8 &&
		(memcmp(VARDATA_ANY(t), "sell_out", 8) == 0 || memcmp(VARDATA_ANY(t), "shipment", 8) == 0);
}

static void
latest(StockItem *item, int which, DateADT day)
{
	if (!item->has_last[which] || day > item->last[which])
	{
		item->last[which] = day;
		item->has_last[which] = true;
	}
}

/*
 * Adds the movement in the slot to its item (first: the item's first).  The
 * sum lives in keep; numeric_add's garbage goes to scratch, reset per row,
 * so a long statement holds one sum per item.
 */
static void
add_movement(StockItem *item, bool first, TupleTableSlot *slot, const AttrNumber *att,
			 MemoryContext keep, MemoryContext scratch)
{
	bool		isnull;
	Datum		value = slot_getattr(slot, att[COL_QUANTITY], &isnull);
	MemoryContext old;
	Numeric		sum;
	int			sign;

	if (isnull)
		elog(ERROR, "maintain_stock_balance: a movement without a quantity");
	if (first)
	{
		item->quantity = NULL;
		item->movements = 0;
		item->has_partner = false;
		memset(item->has_last, 0, sizeof(item->has_last));
	}

	old = MemoryContextSwitchTo(scratch);
	sum = DatumGetNumeric(value);	/* unpacked, if short, in scratch */
	sign = num_sign(sum);
	if (item->quantity != NULL)
		sum = DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(item->quantity),
												  NumericGetDatum(sum)));
	MemoryContextSwitchTo(keep);
	if (item->quantity != NULL)
		pfree(item->quantity);
	item->quantity = (Numeric) pg_detoast_datum_copy((struct varlena *) sum);
	MemoryContextSwitchTo(old);
	MemoryContextReset(scratch);
	item->movements++;

	value = slot_getattr(slot, att[COL_PARTNER], &isnull);
	if (!isnull && (!item->has_partner || DatumGetInt64(value) < item->partner_id))
	{
		item->partner_id = DatumGetInt64(value);
		item->has_partner = true;
	}
	value = slot_getattr(slot, att[COL_MOVED_ON], &isnull);
	if (!isnull)
	{
		DateADT		day = DatumGetDateADT(value);

		if (sign != 0)
			latest(item, sign > 0 ? LAST_IN : LAST_OUT, day);
		value = slot_getattr(slot, att[COL_KIND], &isnull);
		if (!isnull && is_sale(value))
			latest(item, LAST_SALE, day);
	}
}

static int
compare_items(const void *a, const void *b)
{
	const int64 *x = ((const StockItem *) a)->key;
	const int64 *y = ((const StockItem *) b)->key;

	for (int i = 0; i < 3; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/*
 * The statement's items in key order; *count is how many.  The first row is
 * its own item; only a second row builds a hash table.
 */
static StockItem *
read_items(TriggerData *trigdata, MemoryContext keep, int *count)
{
	Tuplestorestate *store = trigdata->tg_newtable;
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	MemoryContext scratch = AllocSetContextCreate(keep, "stock_balance row", ALLOCSET_SMALL_SIZES);
	StockItem  *items = palloc(sizeof(StockItem));
	HTAB	   *hash = NULL;
	AttrNumber	att[NUM_COLS];
	int			n = 0;

	find_columns(desc, att);
	/* a read pointer of our own, rewound: another trigger may read the same store */
	tuplestore_select_read_pointer(store, tuplestore_alloc_read_pointer(store, EXEC_FLAG_REWIND));
	tuplestore_rescan(store);

	while (tuplestore_gettupleslot(store, true, false, slot))
	{
		int64		key[3];
		StockItem  *item = &items[0];
		bool		found = n > 0;

		for (int i = 0; i < 3; i++)
		{
			bool		isnull;

			key[i] = DatumGetInt64(slot_getattr(slot, att[COL_TENANT + i], &isnull));
			if (isnull)
				elog(ERROR, "maintain_stock_balance: a movement without %s", col_names[COL_TENANT + i]);
		}
		if (n == 0)
			memcpy(item->key, key, sizeof(key));
		else
		{
			if (hash == NULL)
			{
				HASHCTL		ctl;

				ctl.keysize = sizeof(key);
				ctl.entrysize = sizeof(StockItem);
				ctl.hcxt = keep;
				hash = hash_create("stock_balance items", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
				*(StockItem *) hash_search(hash, items[0].key, HASH_ENTER, NULL) = items[0];
			}
			item = hash_search(hash, key, HASH_ENTER, &found);
		}
		add_movement(item, !found, slot, att, keep, scratch);
		n++;
	}
	ExecDropSingleTupleTableSlot(slot);

	if (hash != NULL)
	{
		HASH_SEQ_STATUS seq;
		StockItem  *item;

		n = 0;
		items = palloc(sizeof(StockItem) * hash_get_num_entries(hash));
		hash_seq_init(&seq, hash);
		while ((item = hash_seq_search(&seq)) != NULL)
			items[n++] = *item;
		qsort(items, n, sizeof(StockItem), compare_items);
	}
	*count = n;
	return items;
}

/* The upsert's parameter k of an item. */
static Datum
item_param(const StockItem *item, int k, bool *isnull)
{
	*isnull = false;
	if (k < 3)
		return Int64GetDatum(item->key[k]);
	if (k == 3)
	{
		*isnull = !item->has_partner;
		return Int64GetDatum(item->partner_id);
	}
	if (k == 4)
		return NumericGetDatum(item->quantity);
	if (k == 5)
		return Int64GetDatum(item->movements);
	*isnull = !item->has_last[k - 6];
	return DateADTGetDatum(item->last[k - 6]);
}

/* The upsert's parameter k of every item, as an array. */
static Datum
param_array(const StockItem *items, int n, int k)
{
	Datum	   *values = palloc(sizeof(Datum) * n);
	bool	   *nulls = palloc(sizeof(bool) * n);
	int			lbound = 1;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	for (int i = 0; i < n; i++)
		values[i] = item_param(&items[i], k, &nulls[i]);
	get_typlenbyvalalign(param_types[k], &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(values, nulls, 1, &n, &lbound, param_types[k],
											  typlen, typbyval, typalign));
}

static bool
single_row_bool(int column)
{
	bool		isnull;
	Datum		value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, column, &isnull);

	return !isnull && DatumGetBool(value);
}

/*
 * Upserts one item; whether it needs the slow path: below zero on a
 * withdrawal (after < 0 AND delta < 0), crossed zero ((after <= 0) <>
 * (after - delta <= 0)), or thresholds in its warehouse.
 */
static bool
upsert_one(const StockItem *item)
{
	Datum		values[NUM_PARAMS];
	char		nulls[NUM_PARAMS];
	Datum		after;
	bool		isnull;
	int			after_sign;
	Numeric		before;

	for (int k = 0; k < NUM_PARAMS; k++)
	{
		values[k] = item_param(item, k, &isnull);
		nulls[k] = isnull ? 'n' : ' ';
	}
	if (SPI_execute_plan(one_plan, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "maintain_stock_balance: the upsert failed");
	after = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "maintain_stock_balance: a balance without a quantity");
	after_sign = num_sign(DatumGetNumeric(after));
	if (after_sign < 0 && num_sign(item->quantity) < 0)
		return true;
	before = DatumGetNumeric(DirectFunctionCall2(numeric_sub, after, NumericGetDatum(item->quantity)));
	return (after_sign <= 0) != (num_sign(before) <= 0) || single_row_bool(2);
}

/*
 * Upserts the items (in key order: the lock order); then, if any needs it,
 * has rebate.stock_written judge all of them.
 */
static void
write_items(const StockItem *items, int n, Oid schema)
{
	Datum		arrays[NUM_PARAMS];
	bool		slow;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prepare_plans(schema);

	if (n == 1)
		slow = upsert_one(&items[0]);
	else
	{
		for (int k = 0; k < NUM_PARAMS; k++)
			arrays[k] = param_array(items, n, k);
		if (SPI_execute_plan(batch_plan, arrays, NULL, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "maintain_stock_balance: the upsert failed");
		slow = single_row_bool(1);
	}
	if (slow)
	{
		Datum		args[4];

		for (int k = 0; k < 4; k++)
			args[k] = n > 1 ? arrays[k == 3 ? 4 : k] : param_array(items, n, k == 3 ? 4 : k);
		if (SPI_execute_plan(written_plan, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "maintain_stock_balance: stock_written failed");
	}
	SPI_finish();
}

Datum
rebate_maintain_stock_balance(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			schema;
	MemoryContext call;
	MemoryContext old;
	StockItem  *items;
	int			n;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("maintain_stock_balance must be called as a trigger")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) || !TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) || trigdata->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("maintain_stock_balance must be fired AFTER INSERT FOR EACH STATEMENT"),
				 errhint("Create the trigger with REFERENCING NEW TABLE AS moved.")));
	/* like the PL/pgSQL version's TG_TABLE_SCHEMA check: the table's schema must be the function's */
	schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	if (RelationGetNamespace(trigdata->tg_relation) != schema)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("maintain_stock_balance only serves rebate.stock_movement")));

	/* everything of this call in one context, deleted at the end: nothing accumulates over a batch */
	call = AllocSetContextCreate(CurrentMemoryContext, "maintain_stock_balance", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(call);
	items = read_items(trigdata, call, &n);
	if (n > 0)
		write_items(items, n, schema);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(call);
	return PointerGetDatum(NULL);
}
