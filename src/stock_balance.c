/*
 * stock_balance.c — rebate.maintain_stock_balance(), the AFTER INSERT
 * statement trigger of the stock ledger (rebate.stock_movement) that keeps
 * rebate.stock_balance in the writing transaction.
 *
 * Why C: most statements on the ledger write one movement (a receipt, a
 * sell-out line), and for them the PL/pgSQL trigger cost as much as the
 * insert itself: a grouped query over the transition table, a second query
 * probing the thresholds, and the interpreter around both.  Here a statement
 * pays for little more than one upsert per item it touches.
 *
 * What it does.  The statement's movements (its transition table) are
 * summed per item (tenant, warehouse, product): the exact sum of the
 * quantities, their count, the owner, and the latest day goods came in, went
 * out and were sold.  A one-row statement is its own item (no hash table);
 * more rows are summed in a hash table.  The items are then upserted into
 * rebate.stock_balance in key order (two writers lock the items they share in
 * the same order, so they never deadlock; the lock is held to commit, so a
 * later writer's check sees every committed movement), each by one saved
 * plan that returns the new quantity and whether the item's warehouse has
 * thresholds.  Only when an item went below zero on a withdrawal, crossed
 * zero, or has thresholds is rebate.stock_written (PL/pgSQL) called with all
 * the statement's items: it refuses negative stock where the tenant does
 * (RB100) and judges the alerts.  The common statement never gets there.
 *
 * The trigger is SECURITY DEFINER with search_path pinned (its declaration),
 * so its queries run as the extension's owner; it refuses to serve a table
 * outside the extension's schema, whoever attached it there.  The schema's
 * name comes from the function's own namespace, never from a constant.
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
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "numeric_util.h"

PG_FUNCTION_INFO_V1(rebate_maintain_stock_balance);

/* One item of the statement: the movements of one warehouse x product. */
typedef struct StockKey
{
	int64		tenant_id;
	int64		warehouse_id;
	int64		product_id;
} StockKey;

typedef struct StockItem
{
	StockKey	key;			/* first: the hash key */
	Numeric		quantity;		/* exact sum */
	int64		movements;
	int64		partner_id;		/* the least non-null owner, as min() */
	bool		has_partner;
	DateADT		last_in;		/* 0 in has_*: none */
	DateADT		last_out;
	DateADT		last_sale;
	bool		has_in;
	bool		has_out;
	bool		has_sale;
} StockItem;

/* The ledger's columns the trigger reads, found by name in its descriptor. */
enum
{
	COL_TENANT, COL_WAREHOUSE, COL_PARTNER, COL_PRODUCT, COL_MOVED_ON, COL_KIND, COL_QUANTITY, NUM_COLS
};
static const char *const col_names[NUM_COLS] = {
	"tenant_id", "warehouse_id", "partner_id", "product_id", "moved_on", "kind", "quantity"
};
static const Oid col_types[NUM_COLS] = {INT8OID, INT8OID, INT8OID, INT8OID, DATEOID, TEXTOID, NUMERICOID};

/* The plans, prepared once per backend for the schema they name. */
static Oid	plans_schema = InvalidOid;
static SPIPlanPtr upsert_plan = NULL;
static SPIPlanPtr written_plan = NULL;

#define UPSERT_NARGS 9
static const Oid upsert_types[UPSERT_NARGS] = {
	INT8OID, INT8OID, INT8OID, INT8OID, NUMERICOID, INT8OID, DATEOID, DATEOID, DATEOID
};

static SPIPlanPtr
keep_plan(const char *sql, int nargs, const Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

/*
 * The upsert (the same as the PL/pgSQL trigger's, one item per execution)
 * and the slow path's call, naming the schema the function lives in.
 */
static void
prepare_plans(Oid schema)
{
	const char *s;
	static const Oid written_types[4] = {INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, NUMERICARRAYOID};

	if (plans_schema == schema && upsert_plan != NULL && written_plan != NULL)
		return;
	if (upsert_plan != NULL)
		SPI_freeplan(upsert_plan);
	if (written_plan != NULL)
		SPI_freeplan(written_plan);
	upsert_plan = written_plan = NULL;
	plans_schema = InvalidOid;

	s = quote_identifier(get_namespace_name(schema));
	upsert_plan = keep_plan(psprintf("INSERT INTO %s.stock_balance AS b"
									 " (tenant_id, warehouse_id, product_id, partner_id, quantity, movements,"
									 " last_inbound_on, last_outbound_on, last_sale_on)"
									 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
									 " ON CONFLICT (tenant_id, warehouse_id, product_id) DO UPDATE"
									 " SET quantity = b.quantity + excluded.quantity,"
									 " movements = b.movements + excluded.movements,"
									 " last_inbound_on = GREATEST(b.last_inbound_on, excluded.last_inbound_on),"
									 " last_outbound_on = GREATEST(b.last_outbound_on, excluded.last_outbound_on),"
									 " last_sale_on = GREATEST(b.last_sale_on, excluded.last_sale_on),"
									 " updated_at = pg_catalog.now()"
									 " RETURNING b.quantity,"
									 " EXISTS (SELECT FROM %s.stock_threshold t WHERE t.tenant_id = b.tenant_id"
									 " AND t.warehouse_id = b.warehouse_id AND t.product_id IS NOT NULL)"
									 " OR EXISTS (SELECT FROM %s.stock_threshold t WHERE t.tenant_id = b.tenant_id"
									 " AND t.warehouse_id = b.warehouse_id AND t.category_id IS NOT NULL)",
									 s, s, s),
							UPSERT_NARGS, upsert_types);
	written_plan = keep_plan(psprintf("SELECT %s.stock_written($1, $2, $3, $4)", s), 4, written_types);
	plans_schema = schema;
}

/* The columns' numbers, checked against the types the trigger reads. */
static void
find_columns(TupleDesc desc, AttrNumber *att)
{
	for (int c = 0; c < NUM_COLS; c++)
	{
		att[c] = InvalidAttrNumber;
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute a = TupleDescAttr(desc, i);

			if (!a->attisdropped && strcmp(NameStr(a->attname), col_names[c]) == 0)
			{
				if (a->atttypid == col_types[c])
					att[c] = a->attnum;
				break;
			}
		}
		if (att[c] == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("maintain_stock_balance needs a column %s of type %s", col_names[c],
							format_type_be(col_types[c]))));
	}
}

static int64
key_column(TupleTableSlot *slot, AttrNumber att)
{
	bool		isnull;
	Datum		value = slot_getattr(slot, att, &isnull);

	if (isnull)
		elog(ERROR, "maintain_stock_balance: a movement without a key");
	return DatumGetInt64(value);
}

/* Whether a movement's kind is a sale: rebate.stock_sale_kinds() says which (sell_out, shipment). */
static bool
is_sale(Datum kind)
{
	text	   *t = DatumGetTextPP(kind);
	const char *k = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);

	return len == 8 && (memcmp(k, "sell_out", 8) == 0 || memcmp(k, "shipment", 8) == 0);
}

static void
latest(DateADT *last, bool *has, DateADT day)
{
	if (!*has || day > *last)
	{
		*last = day;
		*has = true;
	}
}

/*
 * Adds the movement in the slot to its item (first: the item's first
 * movement).  The sum lives in keep; numeric_add's garbage goes to scratch,
 * reset per row, so a long statement holds one sum per item.
 */
static void
add_movement(StockItem *item, bool first, TupleTableSlot *slot, const AttrNumber *att,
			 MemoryContext keep, MemoryContext scratch)
{
	bool		isnull;
	Datum		quantity = slot_getattr(slot, att[COL_QUANTITY], &isnull);
	Datum		value;
	MemoryContext old;
	Numeric		sum;
	int			sign;

	if (isnull)
		elog(ERROR, "maintain_stock_balance: a movement without a quantity");
	if (first)
	{
		item->quantity = NULL;
		item->movements = 0;
		item->has_partner = item->has_in = item->has_out = item->has_sale = false;
	}

	old = MemoryContextSwitchTo(scratch);
	sum = DatumGetNumeric(quantity);	/* unpacked, if short, in scratch */
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

		/* as max(moved_on) FILTER (WHERE quantity > 0), (... < 0), (kind = ANY (sale kinds)) */
		if (sign > 0)
			latest(&item->last_in, &item->has_in, day);
		else if (sign < 0)
			latest(&item->last_out, &item->has_out, day);
		value = slot_getattr(slot, att[COL_KIND], &isnull);
		if (!isnull && is_sale(value))
			latest(&item->last_sale, &item->has_sale, day);
	}
}

static int
compare_items(const void *a, const void *b)
{
	const StockKey *x = &((const StockItem *) a)->key;
	const StockKey *y = &((const StockItem *) b)->key;

	if (x->tenant_id != y->tenant_id)
		return x->tenant_id < y->tenant_id ? -1 : 1;
	if (x->warehouse_id != y->warehouse_id)
		return x->warehouse_id < y->warehouse_id ? -1 : 1;
	if (x->product_id != y->product_id)
		return x->product_id < y->product_id ? -1 : 1;
	return 0;
}

/*
 * The statement's items in key order; *count is how many.  One movement is
 * one item (no hash table); more are summed in a hash table and sorted.
 */
static StockItem *
read_items(TriggerData *trigdata, MemoryContext keep, int *count)
{
	Tuplestorestate *store = trigdata->tg_newtable;
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	MemoryContext scratch = AllocSetContextCreate(keep, "stock_balance row", ALLOCSET_SMALL_SIZES);
	AttrNumber	att[NUM_COLS];
	StockItem  *items = palloc(sizeof(StockItem));
	HTAB	   *hash = NULL;
	int			n = 0;
	int			readptr;

	find_columns(desc, att);

	/* a read pointer of our own, rewound: others may be reading the same store */
	readptr = tuplestore_alloc_read_pointer(store, EXEC_FLAG_REWIND);
	tuplestore_select_read_pointer(store, readptr);
	tuplestore_rescan(store);

	while (tuplestore_gettupleslot(store, true, false, slot))
	{
		StockKey	key;
		StockItem  *item;
		bool		found;

		memset(&key, 0, sizeof(key));
		key.tenant_id = key_column(slot, att[COL_TENANT]);
		key.warehouse_id = key_column(slot, att[COL_WAREHOUSE]);
		key.product_id = key_column(slot, att[COL_PRODUCT]);
		if (n == 0)
		{
			items[0].key = key;
			add_movement(&items[0], true, slot, att, keep, scratch);
			n = 1;
			continue;
		}
		if (hash == NULL)
		{
			HASHCTL		ctl;

			ctl.keysize = sizeof(StockKey);
			ctl.entrysize = sizeof(StockItem);
			ctl.hcxt = keep;
			hash = hash_create("stock_balance items", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
			item = hash_search(hash, &items[0].key, HASH_ENTER, NULL);
			*item = items[0];
		}
		item = hash_search(hash, &key, HASH_ENTER, &found);
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

static ArrayType *
int8_array(const StockItem *items, int n, size_t offset)
{
	Datum	   *values = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		values[i] = Int64GetDatum(*(const int64 *) ((const char *) &items[i] + offset));
	return construct_array(values, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/*
 * Whether the item just upserted (its new quantity and thresholds in
 * SPI_tuptable) needs the slow path: it went below zero on a withdrawal
 * (after < 0 AND delta < 0), crossed zero either way ((after <= 0) <>
 * (after - delta <= 0)), or its warehouse has thresholds.
 */
static bool
needs_slow_path(Numeric delta)
{
	HeapTuple	row = SPI_tuptable->vals[0];
	bool		isnull;
	Datum		after = SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull);
	Datum		thresholds;
	Numeric		before;
	int			after_sign;
	bool		crossed;

	if (isnull)
		elog(ERROR, "maintain_stock_balance: a balance without a quantity");
	after_sign = num_sign(DatumGetNumeric(after));
	if (after_sign < 0 && num_sign(delta) < 0)
		return true;
	before = DatumGetNumeric(DirectFunctionCall2(numeric_sub, after, NumericGetDatum(delta)));
	crossed = (after_sign <= 0) != (num_sign(before) <= 0);
	pfree(before);
	thresholds = SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull);
	return crossed || (!isnull && DatumGetBool(thresholds));
}

/*
 * Upserts the items in key order; calls rebate.stock_written with all of
 * them when one went below zero on a withdrawal, crossed zero, or has
 * thresholds.
 */
static void
write_items(const StockItem *items, int n, Oid schema)
{
	bool		slow = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prepare_plans(schema);

	for (int i = 0; i < n; i++)
	{
		const StockItem *item = &items[i];
		Datum		values[UPSERT_NARGS];
		char		nulls[UPSERT_NARGS];
		int			rc;

		memset(nulls, ' ', sizeof(nulls));
		values[0] = Int64GetDatum(item->key.tenant_id);
		values[1] = Int64GetDatum(item->key.warehouse_id);
		values[2] = Int64GetDatum(item->key.product_id);
		values[3] = Int64GetDatum(item->partner_id);
		nulls[3] = item->has_partner ? ' ' : 'n';
		values[4] = NumericGetDatum(item->quantity);
		values[5] = Int64GetDatum(item->movements);
		values[6] = DateADTGetDatum(item->last_in);
		nulls[6] = item->has_in ? ' ' : 'n';
		values[7] = DateADTGetDatum(item->last_out);
		nulls[7] = item->has_out ? ' ' : 'n';
		values[8] = DateADTGetDatum(item->last_sale);
		nulls[8] = item->has_sale ? ' ' : 'n';

		rc = SPI_execute_plan(upsert_plan, values, nulls, false, 0);
		if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
			elog(ERROR, "maintain_stock_balance: the upsert failed: %s", SPI_result_code_string(rc));

		if (!slow)
			slow = needs_slow_path(item->quantity);
		SPI_freetuptable(SPI_tuptable);
	}

	if (slow)
	{
		Datum		args[4];
		Datum	   *deltas = palloc(sizeof(Datum) * n);
		int			rc;

		for (int i = 0; i < n; i++)
			deltas[i] = NumericGetDatum(items[i].quantity);
		args[0] = PointerGetDatum(int8_array(items, n, offsetof(StockItem, key.tenant_id)));
		args[1] = PointerGetDatum(int8_array(items, n, offsetof(StockItem, key.warehouse_id)));
		args[2] = PointerGetDatum(int8_array(items, n, offsetof(StockItem, key.product_id)));
		args[3] = PointerGetDatum(construct_array(deltas, n, NUMERICOID, -1, false, TYPALIGN_INT));
		rc = SPI_execute_plan(written_plan, args, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "maintain_stock_balance: rebate.stock_written failed: %s", SPI_result_code_string(rc));
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
	schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	if (RelationGetNamespace(trigdata->tg_relation) != schema)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("maintain_stock_balance only serves rebate.stock_movement")));

	call = AllocSetContextCreate(CurrentMemoryContext, "maintain_stock_balance", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(call);
	items = read_items(trigdata, call, &n);
	if (n > 0)
		write_items(items, n, schema);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(call);
	return PointerGetDatum(NULL);
}
