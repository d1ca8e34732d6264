/*
 * policy_violation.c — what happens to a breach: in reject mode an error
 * with the extension's SQLSTATE, message, detail and hint; in review mode a
 * rebate.policy_violation row carrying the same message, and a hold on the
 * order.  Violations and holds are written as the owners of those tables, so
 * a partner user's breach is recorded although the partner may not write
 * there itself.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "miscadmin.h"
#include "utils/datetime.h"
#include "utils/numeric.h"

#include "order_status.h"
#include "policy.h"

int
policy_numeric_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

char *
policy_numeric_text(Numeric value)
{
	if (value == NULL)
		return pstrdup("none");
	return DatumGetCString(DirectFunctionCall1(numeric_out,
											   DirectFunctionCall1(numeric_trim_scale, NumericGetDatum(value))));
}

/* ISO 8601 whatever DateStyle says: messages read the same in every session */
char *
policy_date_text(DateADT date)
{
	struct pg_tm tm;
	char		buf[MAXDATELEN + 1];

	if (DATE_NOT_FINITE(date))
		return DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(date)));
	j2date(date + POSTGRES_EPOCH_JDATE, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	EncodeDateOnly(&tm, USE_ISO_DATES, buf);
	return pstrdup(buf);
}

static SavedPlan names_plan = {
	"SELECT (SELECT pg_catalog.format('\"%s\" (%s)', p.sku, p.name) FROM rebate.product p"
	"         WHERE p.id OPERATOR(pg_catalog.=) $1),"
	"       (SELECT pg_catalog.format('\"%s\" (%s)', pa.code, pa.name) FROM rebate.partner pa"
	"         WHERE pa.id OPERATOR(pg_catalog.=) $2),"
	"       (SELECT pg_catalog.format('\"%s\" (%s)', r.name, r.code) FROM rebate.region r"
	"         WHERE r.id OPERATOR(pg_catalog.=) $3)",
	3, {INT8OID, INT8OID, INT8OID}, NULL
};

void
policy_names(PolicySpi *spi, Oid reader, int64 product_id, int64 partner_id, int64 region_id,
			 char **product, char **partner, char **region)
{
	Datum		args[3] = {Int64GetDatum(product_id), Int64GetDatum(partner_id), Int64GetDatum(region_id)};
	char	   *text;

	policy_spi_run(spi, &names_plan, reader, args, NULL);
	if (product)
		*product = (text = policy_spi_text(0, 1)) ? text : psprintf("%lld", (long long) product_id);
	if (partner)
		*partner = (text = policy_spi_text(0, 2)) ? text : psprintf("%lld", (long long) partner_id);
	if (region)
		*region = (text = policy_spi_text(0, 3)) ? text : psprintf("%lld", (long long) region_id);
}

static SavedPlan record_plan = {
	"INSERT INTO rebate.policy_violation (tenant_id, kind, source_table, source_id, order_id, partner_id,"
	"       product_id, region_id, order_date, quantity, expected, actual, amount, policy_id, message)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
	15, {INT8OID, TEXTOID, REGCLASSOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, DATEOID,
	NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, INT8OID, TEXTOID}, NULL
};

static void
set_arg(Datum *values, char *nulls, int i, bool present, Datum value)
{
	values[i] = present ? value : (Datum) 0;
	nulls[i] = present ? ' ' : 'n';
}

int64
policy_breach(PolicySpi *spi, PolicyBreach *b)
{
	Datum		values[15];
	char		nulls[15];
	bool		isnull;

	if (b->mode != MODE_REVIEW)
		ereport(ERROR,
				(errcode(b->sqlerrcode),
				 errmsg("%s", b->message),
				 b->detail ? errdetail("%s", b->detail) : 0,
				 b->hint ? errhint("%s", b->hint) : 0));

	set_arg(values, nulls, 0, true, Int64GetDatum(b->tenant_id));
	set_arg(values, nulls, 1, true, CStringGetTextDatum(b->kind));
	set_arg(values, nulls, 2, true, ObjectIdGetDatum(b->source_table));
	set_arg(values, nulls, 3, b->has_source_id, Int64GetDatum(b->source_id));
	set_arg(values, nulls, 4, b->order_id != 0, Int64GetDatum(b->order_id));
	set_arg(values, nulls, 5, true, Int64GetDatum(b->partner_id));
	set_arg(values, nulls, 6, b->product_id != 0, Int64GetDatum(b->product_id));
	set_arg(values, nulls, 7, b->region_id != 0, Int64GetDatum(b->region_id));
	set_arg(values, nulls, 8, b->order_date != 0, DateADTGetDatum(b->order_date));
	set_arg(values, nulls, 9, b->quantity != NULL, NumericGetDatum(b->quantity));
	set_arg(values, nulls, 10, b->expected != NULL, NumericGetDatum(b->expected));
	set_arg(values, nulls, 11, b->actual != NULL, NumericGetDatum(b->actual));
	set_arg(values, nulls, 12, b->amount != NULL, NumericGetDatum(b->amount));
	set_arg(values, nulls, 13, b->policy_id != 0, Int64GetDatum(b->policy_id));
	set_arg(values, nulls, 14, true, CStringGetTextDatum(b->message));
	policy_spi_run(spi, &record_plan, policy_rel_owner(REL_POLICY_VIOLATION), values, nulls);
	return DatumGetInt64(policy_spi_value(0, 1, &isnull));
}

void
policy_breach_for_row(PolicyBreach *b, PolicyRow *row, const char *kind, PolicyMode mode)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->mode = mode;
	b->tenant_id = row->tenant_id;
	b->partner_id = row->partner_id;
	b->product_id = row->product_id;
	b->region_id = row->has_region ? row->region_id : 0;
	b->order_date = row->order_date;
	b->quantity = row->quantity;
	b->source_table = RelationGetRelid(row->trigdata->tg_relation);
	b->source_id = row->key;
	b->has_source_id = row->has_key;
	if (row->standard)
		b->order_id = row->order.order_id;
}

static SavedPlan hold_plan = {
	"SELECT rebate.set_order_status($1, 'on_hold', $2)", 2, {INT8OID, TEXTOID}, NULL
};

void
policy_hold_order(PolicySpi *spi, int64 order_id, const char *order_status, int64 violation_id)
{
	Datum		args[2];

	if (!order_status_in(order_status, ORDER_STATUSES_HOLDABLE))
		return;					/* drafts are held when submitted; held orders stay held */
	args[0] = Int64GetDatum(order_id);
	args[1] = CStringGetTextDatum(violation_id != 0
								  ? psprintf("held for review: policy violation %lld", (long long) violation_id)
								  : pstrdup("held for review: its open policy violations"));
	policy_spi_run(spi, &hold_plan, policy_rel_owner(REL_SALES_ORDER), args, NULL);
}

void
policy_hold_row(PolicySpi *spi, PolicyRow *row, int64 violation_id)
{
	if (row->standard)
		policy_hold_order(spi, row->order.order_id, row->order.status, violation_id);
	else
		row->set_status_on_hold = true;
}
