/*
 * policy_row.c — the row a policy trigger judges, read through a column
 * mapping.
 *
 * On rebate.order_line the triggers take no arguments: the line's own
 * columns, and its order's partner, ship-to region and date.  On an
 * application's own table each argument maps a field to a column:
 *
 *     EXECUTE FUNCTION rebate.enforce_price_policy(
 *         'partner_id=dealer_id', 'product_id=sku_id', 'unit_price=price',
 *         'quantity=qty', 'region_id=ship_region', 'order_date=ordered_on',
 *         'status=state', 'key=id')
 *
 * The mapping is checked when the trigger first fires in a backend, and
 * kept per trigger (dropped when the table's definition changes).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "policy.h"

typedef enum FieldType
{
	FT_ID,						/* smallint, integer, bigint */
	FT_NUMBER,					/* numeric or an integer type */
	FT_DATE,					/* date, timestamp, timestamptz */
	FT_TEXT						/* text, varchar */
} FieldType;

static const struct
{
	const char *name;
	FieldType	type;
} fields[PF_COUNT] = {
	[PF_TENANT] = {"tenant_id", FT_ID},
	[PF_PARTNER] = {"partner_id", FT_ID},
	[PF_PRODUCT] = {"product_id", FT_ID},
	[PF_REGION] = {"region_id", FT_ID},
	[PF_QUANTITY] = {"quantity", FT_NUMBER},
	[PF_UNIT_PRICE] = {"unit_price", FT_NUMBER},
	[PF_ORDER_DATE] = {"order_date", FT_DATE},
	[PF_STATUS] = {"status", FT_TEXT},
	[PF_KEY] = {"key", FT_ID},
};

typedef struct MappingEntry
{
	Oid			trigger_oid;
	Oid			relid;
	bool		standard;
	AttrNumber	attnum[PF_COUNT];
	Oid			typid[PF_COUNT];
	AttrNumber	order_attnum;	/* rebate.order_line.order_id */
} MappingEntry;

static HTAB *mappings = NULL;

static void
mapping_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	MappingEntry *entry;

	(void) arg;
	if (mappings == NULL)
		return;
	hash_seq_init(&seq, mappings);
	while ((entry = hash_seq_search(&seq)) != NULL)
		if (relid == InvalidOid || entry->relid == relid)
			hash_search(mappings, &entry->trigger_oid, HASH_REMOVE, NULL);
}

static bool
type_fits(FieldType type, Oid typid)
{
	switch (type)
	{
		case FT_ID:
			return typid == INT8OID || typid == INT4OID || typid == INT2OID;
		case FT_NUMBER:
			return typid == NUMERICOID || typid == INT8OID || typid == INT4OID || typid == INT2OID;
		case FT_DATE:
			return typid == DATEOID || typid == TIMESTAMPOID || typid == TIMESTAMPTZOID;
		case FT_TEXT:
			return typid == TEXTOID || typid == VARCHAROID;
	}
	return false;
}

static const char *
type_wanted(FieldType type)
{
	switch (type)
	{
		case FT_ID:
			return "smallint, integer or bigint";
		case FT_NUMBER:
			return "numeric or an integer type";
		case FT_DATE:
			return "date, timestamp or timestamp with time zone";
		case FT_TEXT:
			return "text or varchar";
	}
	return "?";
}

static bool
is_rebate_order_line(Relation rel)
{
	return RelationGetRelid(rel) == policy_rel(REL_ORDER_LINE);
}

static void
map_column(MappingEntry *map, Relation rel, Trigger *trigger, PolicyField field, const char *column)
{
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber	attnum = InvalidAttrNumber;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0)
		{
			attnum = att->attnum;
			break;
		}
	}
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" named by trigger \"%s\" does not exist in table \"%s\"",
						column, trigger->tgname, RelationGetRelationName(rel)),
				 errdetail("The trigger maps field \"%s\" to it.", fields[field].name),
				 errhint("Recreate the trigger with the table's column name: '%s=<column>'.", fields[field].name)));
	map->attnum[field] = attnum;
	map->typid[field] = TupleDescAttr(desc, attnum - 1)->atttypid;
	if (!type_fits(fields[field].type, map->typid[field]))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of table \"%s\" cannot serve as %s for trigger \"%s\"",
						column, RelationGetRelationName(rel), fields[field].name, trigger->tgname),
				 errdetail("It is of type %s; %s must be %s.", format_type_be(map->typid[field]),
						   fields[field].name, type_wanted(fields[field].type))));
}

static void
parse_arguments(MappingEntry *map, Relation rel, Trigger *trigger, const char *function, uint32 required)
{
	bool		seen[PF_COUNT] = {false};

	for (int i = 0; i < trigger->tgnargs; i++)
	{
		const char *arg = trigger->tgargs[i];
		const char *eq = strchr(arg, '=');
		int			field = -1;

		if (eq != NULL)
			for (int f = 0; f < PF_COUNT; f++)
				if (strlen(fields[f].name) == (size_t) (eq - arg) && strncmp(arg, fields[f].name, eq - arg) == 0)
					field = f;
		if (eq == NULL || field < 0 || eq[1] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid argument \"%s\" of trigger \"%s\" on table \"%s\"",
							arg, trigger->tgname, RelationGetRelationName(rel)),
					 errdetail("Each argument of %s maps a field to a column, as field=column.", function),
					 errhint("The fields are tenant_id, partner_id, product_id, region_id, quantity, unit_price, "
							 "order_date, status and key.")));
		if (seen[field])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("trigger \"%s\" on table \"%s\" maps field \"%s\" twice",
							trigger->tgname, RelationGetRelationName(rel), fields[field].name)));
		seen[field] = true;
		map_column(map, rel, trigger, field, eq + 1);
	}
	for (int f = 0; f < PF_COUNT; f++)
		if ((required & PF_BIT(f)) && !seen[f])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("trigger \"%s\" on table \"%s\" does not map the field \"%s\"",
							trigger->tgname, RelationGetRelationName(rel), fields[f].name),
					 errdetail("%s needs a column for %s.", function, fields[f].name),
					 errhint("Add the argument '%s=<column>' to the trigger.", fields[f].name)));
}

static MappingEntry *
mapping_for(TriggerData *trigdata, const char *function, uint32 required)
{
	Trigger    *trigger = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	MappingEntry *entry;
	MappingEntry built;
	bool		found;

	if (mappings == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(MappingEntry);
		ctl.hcxt = CacheMemoryContext;
		mappings = hash_create("rebate policy trigger mappings", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(mapping_relcache_callback, (Datum) 0);
	}
	entry = hash_search(mappings, &trigger->tgoid, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;

	memset(&built, 0, sizeof(built));
	built.trigger_oid = trigger->tgoid;
	built.relid = RelationGetRelid(rel);
	if (trigger->tgnargs == 0)
	{
		if (!is_rebate_order_line(rel))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("trigger \"%s\" on table \"%s\" needs arguments mapping its columns",
							trigger->tgname, RelationGetRelationName(rel)),
					 errdetail("Without arguments %s serves rebate.order_line only.", function),
					 errhint("Give arguments such as 'partner_id=dealer_id', 'product_id=sku_id', 'unit_price=price'.")));
		built.standard = true;
		map_column(&built, rel, trigger, PF_TENANT, "tenant_id");
		map_column(&built, rel, trigger, PF_PRODUCT, "product_id");
		map_column(&built, rel, trigger, PF_QUANTITY, "quantity");
		map_column(&built, rel, trigger, PF_UNIT_PRICE, "unit_price");
		map_column(&built, rel, trigger, PF_KEY, "id");
		built.order_attnum = SPI_fnumber(RelationGetDescr(rel), "order_id");
		/* partner, region and date come from the order */
		built.attnum[PF_PARTNER] = InvalidAttrNumber;
	}
	else
		parse_arguments(&built, rel, trigger, function, required);

	entry = hash_search(mappings, &trigger->tgoid, HASH_ENTER, &found);
	*entry = built;
	return entry;
}

void
policy_require_row_trigger(FunctionCallInfo fcinfo, const char *function, bool allow_delete)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		(!allow_delete && TRIGGER_FIRED_BY_DELETE(trigdata->tg_event)) ||
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be called as a BEFORE INSERT OR UPDATE%s row trigger",
						function, allow_delete ? " OR DELETE" : "")));
}

static Datum
field_value(PolicyRow *row, MappingEntry *map, PolicyField field, HeapTuple tuple, bool *isnull)
{
	return heap_getattr(tuple, map->attnum[field], RelationGetDescr(row->trigdata->tg_relation), isnull);
}

static int64
as_id(Datum value, Oid typid)
{
	if (typid == INT4OID)
		return DatumGetInt32(value);
	if (typid == INT2OID)
		return DatumGetInt16(value);
	return DatumGetInt64(value);
}

static Numeric
as_numeric(Datum value, Oid typid)
{
	if (typid == INT8OID)
		return DatumGetNumeric(DirectFunctionCall1(int8_numeric, value));
	if (typid == INT4OID)
		return DatumGetNumeric(DirectFunctionCall1(int4_numeric, value));
	if (typid == INT2OID)
		return DatumGetNumeric(DirectFunctionCall1(int2_numeric, value));
	return DatumGetNumeric(value);
}

static DateADT
as_date(Datum value, Oid typid)
{
	if (typid == TIMESTAMPOID)
		return DatumGetDateADT(DirectFunctionCall1(timestamp_date, value));
	if (typid == TIMESTAMPTZOID)
		return DatumGetDateADT(DirectFunctionCall1(timestamptz_date, value));
	return DatumGetDateADT(value);
}

static void
null_field(PolicyRow *row, MappingEntry *map, PolicyField field)
{
	Relation	rel = row->trigdata->tg_relation;

	ereport(ERROR,
			(errcode(ERRCODE_NOT_NULL_VIOLATION),
			 errmsg("%s of a row of table \"%s\" is null: trigger \"%s\" cannot judge it",
					fields[field].name, RelationGetRelationName(rel), row->trigdata->tg_trigger->tgname),
			 errdetail("Column \"%s\" holds the %s.",
					   NameStr(TupleDescAttr(RelationGetDescr(rel), map->attnum[field] - 1)->attname),
					   fields[field].name)));
}

/*
 * Judging reads as the owner of the table, past row-level security, so a row
 * naming another tenant's product or region would have the triggers judge by,
 * and quote, that tenant's prices, names and territories.  Everything a row
 * names must lie in the row's own tenant: this returns what does not
 * ("product" or "region", its id in *id), or NULL.
 */
static const char *
foreign_reference(PolicySpi *spi, PolicyRow *row, int64 *id)
{
	if (row->product_id != 0 &&
		policy_tenant_of(spi, row->reader, OWNED_PRODUCT, row->product_id) != row->tenant_id)
	{
		if (id)
			*id = row->product_id;
		return "product";
	}
	if (row->has_region && row->region_id != 0 &&
		policy_tenant_of(spi, row->reader, OWNED_REGION, row->region_id) != row->tenant_id)
	{
		if (id)
			*id = row->region_id;
		return "region";
	}
	return NULL;
}

/* An application's row naming what its tenant does not have: refused the same
 * whether the id exists in another tenant or nowhere, quoting only the row. */
static void
refuse_foreign(PolicyRow *row, const char *what, int64 id)
{
	ereport(ERROR,
			(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
			 errmsg("tenant %lld has no %s %lld", (long long) row->tenant_id, what, (long long) id),
			 errdetail("A row of table \"%s\" names it.", RelationGetRelationName(row->trigdata->tg_relation)),
			 errhint("A row's partner, product and region belong to the row's tenant.")));
}

bool
policy_row_load(PolicyRow *row, PolicySpi *spi, FunctionCallInfo fcinfo, const char *function, uint32 required)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	MappingEntry *map;
	HeapTuple	tuple;
	Datum		value;
	bool		isnull;

	policy_require_row_trigger(fcinfo, function, false);
	memset(row, 0, sizeof(*row));
	row->trigdata = trigdata;
	row->is_update = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event);
	row->tuple = tuple = row->is_update ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	row->reader = trigdata->tg_relation->rd_rel->relowner;

	map = mapping_for(trigdata, function, required);
	row->standard = map->standard;
	row->order_attnum = map->order_attnum;
	memcpy(row->attnum, map->attnum, sizeof(row->attnum));

	for (int f = 0; f < PF_COUNT; f++)
	{
		if (map->attnum[f] == InvalidAttrNumber)
			continue;
		value = field_value(row, map, f, tuple, &isnull);
		if (isnull)
		{
			if (required & PF_BIT(f))
				null_field(row, map, f);
			continue;
		}
		switch ((PolicyField) f)
		{
			case PF_TENANT:
				row->tenant_id = as_id(value, map->typid[f]);
				break;
			case PF_PARTNER:
				row->partner_id = as_id(value, map->typid[f]);
				break;
			case PF_PRODUCT:
				row->product_id = as_id(value, map->typid[f]);
				break;
			case PF_REGION:
				row->region_id = as_id(value, map->typid[f]);
				row->has_region = true;
				break;
			case PF_QUANTITY:
				row->quantity = as_numeric(value, map->typid[f]);
				break;
			case PF_UNIT_PRICE:
				row->unit_price = as_numeric(value, map->typid[f]);
				break;
			case PF_ORDER_DATE:
				row->order_date = as_date(value, map->typid[f]);
				break;
			case PF_KEY:
				row->key = as_id(value, map->typid[f]);
				row->has_key = true;
				break;
			case PF_STATUS:
			case PF_COUNT:
				break;
		}
	}
	if (row->quantity == NULL)
		row->quantity = DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(1)));

	if (row->standard)
	{
		bool		isnull_order;
		int64		order_id = DatumGetInt64(heap_getattr(tuple, row->order_attnum,
														  RelationGetDescr(trigdata->tg_relation), &isnull_order));

		if (isnull_order || !policy_tenant_visible(spi, row->tenant_id) ||
			!policy_order(spi, row->reader, row->tenant_id, order_id, &row->order))
			return false;		/* the NOT NULL or foreign key constraint reports it */
		if (strcmp(row->order.kind, "order") != 0)
			return false;		/* returns and credit notes keep the original sale's prices */
		row->partner_id = row->order.partner_id;
		if (!policy_partner_visible(spi, row->partner_id))
			return false;		/* row-level security refuses the row */
		row->region_id = row->order.region_id;
		row->has_region = true;
		row->order_date = row->order.order_date;
		if (foreign_reference(spi, row, NULL) != NULL)
			return false;		/* the foreign keys refuse it, as an id that does not exist */
	}
	else
	{
		if (map->attnum[PF_ORDER_DATE] == InvalidAttrNumber || row->order_date == 0)
			row->order_date = GetSQLCurrentDate();
		if (map->attnum[PF_TENANT] == InvalidAttrNumber)
		{
			PartnerFacts partner;

			if (!policy_partner(spi, row->reader, row->partner_id, &partner))
				ereport(ERROR,
						(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
						 errmsg("partner %lld does not exist or is not visible to the owner of table \"%s\"",
								(long long) row->partner_id, RelationGetRelationName(trigdata->tg_relation)),
						 errhint("Map partner_id to a column holding ids of rebate.partner.")));
			row->tenant_id = partner.tenant_id;
		}
		else
		{
			PartnerFacts partner;

			if (policy_partner(spi, row->reader, row->partner_id, &partner) && partner.tenant_id != row->tenant_id)
				refuse_foreign(row, "partner", row->partner_id);
		}
		/* judging writes violations as the owner of rebate.policy_violation:
		 * only a table of a role that manages the tenant may have it do so */
		if (!policy_role_manages(spi, row->reader, row->tenant_id))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("%s on table \"%s\" may not judge rows of tenant %lld", function,
							RelationGetRelationName(row->trigdata->tg_relation), (long long) row->tenant_id),
					 errdetail("The owner of the table does not manage that tenant."),
					 errhint("Policy triggers serve the tables of group administrators and of the tenant's managers.")));
		{
			int64		id;
			const char *what = foreign_reference(spi, row, &id);

			if (what != NULL)
				refuse_foreign(row, what, id);
		}
	}
	return true;
}

bool
policy_row_changed(PolicyRow *row, uint32 which)
{
	TriggerData *trigdata = row->trigdata;
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);

	if (!row->is_update)
		return true;
	if (row->standard && (which & (PF_BIT(PF_PARTNER) | PF_BIT(PF_REGION) | PF_BIT(PF_ORDER_DATE))))
	{
		/* the order's fields: a line moved to another order */
		AttrNumber	order_attnum = row->order_attnum;
		bool		n1,
					n2;
		Datum		v1 = heap_getattr(trigdata->tg_trigtuple, order_attnum, desc, &n1);
		Datum		v2 = heap_getattr(trigdata->tg_newtuple, order_attnum, desc, &n2);

		if (n1 != n2 || (!n1 && DatumGetInt64(v1) != DatumGetInt64(v2)))
			return true;
	}
	for (int f = 0; f < PF_COUNT; f++)
	{
		AttrNumber	attnum = row->attnum[f];
		Form_pg_attribute att;
		bool		n1,
					n2;
		Datum		v1,
					v2;

		if (!(which & PF_BIT(f)) || attnum == InvalidAttrNumber)
			continue;
		att = TupleDescAttr(desc, attnum - 1);
		v1 = heap_getattr(trigdata->tg_trigtuple, attnum, desc, &n1);
		v2 = heap_getattr(trigdata->tg_newtuple, attnum, desc, &n2);
		if (n1 != n2 || (!n1 && !datumIsEqual(v1, v2, att->attbyval, att->attlen)))
			return true;
	}
	return false;
}

HeapTuple
policy_row_result(PolicyRow *row)
{
	int			column;
	Datum		value;
	bool		isnull = false;

	if (!row->set_status_on_hold || row->attnum[PF_STATUS] == InvalidAttrNumber)
		return row->tuple;
	column = row->attnum[PF_STATUS];
	value = CStringGetTextDatum("on_hold");
	return heap_modify_tuple_by_cols(row->tuple, RelationGetDescr(row->trigdata->tg_relation), 1,
									 &column, &value, &isnull);
}

Datum
policy_row_trigger(FunctionCallInfo fcinfo, const char *function, uint32 required, uint32 changed, PolicyJudge judge)
{
	PolicySpi	spi = {false};
	PolicyRow	row;

	policy_cache_begin();
	if (policy_row_load(&row, &spi, fcinfo, function, required) &&
		(changed == 0 || policy_row_changed(&row, changed)))
		judge(&spi, &row);
	policy_spi_finish(&spi);
	return PointerGetDatum(policy_row_result(&row));
}
