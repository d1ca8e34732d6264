/*
 * metrics.c — the one catalog of metrics: what programs pay on, targets
 * measure, scoring models score and views report.  Each entry says how its
 * basis is computed, its unit, and what it may be used for; SQL reads it
 * through rebate.metrics() (the view rebate.metric) and rebate.metric_names(use),
 * which CHECK constraints and queries use (IMMUTABLE: folded when planned).
 * A new metric is one entry here plus, for a new basis, its branch in
 * rebate.program_basis and rebate.verify_basis.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "compat.h"
#include "option_words.h"

PG_FUNCTION_INFO_V1(rebate_metrics);
PG_FUNCTION_INFO_V1(rebate_metric_names);
PG_FUNCTION_INFO_V1(rebate_metric_name);
PG_FUNCTION_INFO_V1(rebate_metric_basis);

typedef enum MetricUse
{
	METRIC_ALL = 1 << 0,
	METRIC_PROGRAM = 1 << 1,		/* program_version.metric: a program pays on it */
	METRIC_TARGET = 1 << 2,			/* rebate.target keeps targets of it (overachievement) */
	METRIC_SCORING = 1 << 3,		/* scoring_kpi.kpi: a scoring model scores it */
	METRIC_PRODUCT_SCOPE = 1 << 4,	/* counted from order lines: a program may scope it by product */
	METRIC_NEEDS_COST = 1 << 5,		/* reads order_line.unit_cost */
	METRIC_LAST_YEAR = 1 << 6,		/* compared with the same period a year earlier */
	METRIC_MONEY_BASIS = 1 << 7		/* its basis is money: a cascade reduces it by what was paid */
} MetricUse;

#define P METRIC_PROGRAM
#define T METRIC_TARGET
#define S METRIC_SCORING
#define L METRIC_PRODUCT_SCOPE
#define C METRIC_NEEDS_COST
#define Y METRIC_LAST_YEAR
#define M METRIC_MONEY_BASIS

typedef struct Metric
{
	const char *name;
	const char *unit;			/* amount (the program's currency), quantity, count, ratio */
	const char *basis;			/* how its value is computed (program_basis dispatches on it) */
	int			uses;
	const char *alias;			/* an older name still accepted as input, or NULL */
	const char *description;
} Metric;

static const Metric metrics[] = {
	{"net_sales", "amount", "line_amount", P | T | S | L | M, "sales_amount",
	"净销售额 Net sales: order lines less returns and credit notes"},
	{"gross_margin", "amount", "line_margin", P | S | L | C | M, NULL,
	"毛利 Gross margin: net sales less the cost of the goods"},
	{"collected", "amount", "payments", P | T | S | M, "collected_amount",
	"回款额 Collected: the payments received"},
	{"quantity", "quantity", "line_quantity", P | T | S | L, NULL,
	"净数量 Net quantity: ordered less returned"},
	{"new_customers", "count", "customers", P | T, NULL,
	"新客户数 New customers: end customers registered (客户报备)"},
	{"growth", "ratio", "line_amount", P | S | L | Y | M, NULL,
	"增长率 Growth: net sales against the same period a year earlier"},
	{"margin_rate", "ratio", "kpis", S | C, NULL,
	"毛利率 Margin rate: gross margin / net sales of the lines with a cost"},
	{"orders", "count", "kpis", S, NULL,
	"订单数 Orders: distinct orders"},
	{"average_order_value", "amount", "kpis", S, NULL,
	"客单价 Average order value: gross sales / orders"},
	{"return_rate", "ratio", "kpis", S, NULL,
	"退货率 Return rate: returns / gross sales"},
	{"collection_rate", "ratio", "kpis", S, NULL,
	"回款率 Collection rate: collected / net sales"},
	{"on_time_rate", "ratio", "kpis", S, NULL,
	"准时交付率 On-time delivery rate: on-time / promised deliveries"},
	{"products", "count", "kpis", S, NULL,
	"动销品种数 Products: distinct products sold"},
	{"achievement", "ratio", "kpis", S, NULL,
	"目标达成率 Achievement: net sales / the sales target"},
	{"stock_turnover", "ratio", "inventory", S, NULL,
	"库存周转率 Stock turnover: units sold / time-weighted average stock (partners sharing their stock)"},
	{"stock_outs", "count", "inventory", S, NULL,
	"断货次数 Stock-outs: out-of-stock alerts raised (partners sharing their stock)"},
	{"sell_through", "ratio", "inventory", S, NULL,
	"售罄率 Sell-through: units sold / (opening stock + units received) (partners sharing their stock)"},
};

static const OptionWord uses[] = {
	{"all", METRIC_ALL},
	{"program", METRIC_PROGRAM},
	{"target", METRIC_TARGET},
	{"scoring", METRIC_SCORING},
	{"product_scope", METRIC_PRODUCT_SCOPE},
	{"needs_cost", METRIC_NEEDS_COST},
	{"last_year", METRIC_LAST_YEAR},
	{"money_basis", METRIC_MONEY_BASIS},
};

static bool
metric_has(const Metric *m, int use)
{
	return use == METRIC_ALL || (m->uses & use) != 0;
}

/*
 * rebate.metric_names(use text) RETURNS text[]: the metrics with a use, in
 * catalog order.
 */
Datum
rebate_metric_names(PG_FUNCTION_ARGS)
{
	char	   *given = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			use = option_word_value(given, uses, lengthof(uses), "unknown metric use \"%s\"",
										"The uses are all, program, target, scoring, product_scope, needs_cost, last_year and money_basis.");
	Datum		names[lengthof(metrics)];
	int			n = 0;

	for (int i = 0; i < (int) lengthof(metrics); i++)
		if (metric_has(&metrics[i], use))
			names[n++] = CStringGetTextDatum(metrics[i].name);
	PG_RETURN_ARRAYTYPE_P(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * rebate.metric_name(given text) RETURNS text: the catalog name of a metric
 * given by its name or an older alias; NULL when it is neither.
 */
Datum
rebate_metric_name(PG_FUNCTION_ARGS)
{
	char	   *given = text_to_cstring(PG_GETARG_TEXT_PP(0));

	for (int i = 0; i < (int) lengthof(metrics); i++)
		if (strcmp(given, metrics[i].name) == 0
			|| (metrics[i].alias != NULL && strcmp(given, metrics[i].alias) == 0))
			PG_RETURN_TEXT_P(cstring_to_text(metrics[i].name));
	PG_RETURN_NULL();
}

/*
 * rebate.metric_basis(metric text) RETURNS text: how a metric's value is
 * computed (the catalog's basis); NULL for a name not in the catalog.  In C:
 * the basis of every program is dispatched on it, several times per call of
 * rebate.progress.
 */
Datum
rebate_metric_basis(PG_FUNCTION_ARGS)
{
	char	   *given = text_to_cstring(PG_GETARG_TEXT_PP(0));

	for (int i = 0; i < (int) lengthof(metrics); i++)
		if (strcmp(given, metrics[i].name) == 0)
			PG_RETURN_TEXT_P(cstring_to_text(metrics[i].basis));
	PG_RETURN_NULL();
}

/* rebate.metrics(): the catalog, one row per metric. */
#define METRIC_COLUMNS 12

Datum
rebate_metrics(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	/* the SQL declaration must be the one this library was built with */
	if (rsinfo->setDesc->natts != METRIC_COLUMNS)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("rebate.metrics() is declared with %d columns, the library returns %d",
						rsinfo->setDesc->natts, METRIC_COLUMNS),
				 errhint("Update the extension: ALTER EXTENSION rebate UPDATE.")));
	for (int i = 0; i < (int) lengthof(metrics); i++)
	{
		const Metric *m = &metrics[i];
		Datum		values[METRIC_COLUMNS];
		bool		nulls[METRIC_COLUMNS] = {false};

		values[0] = CStringGetTextDatum(m->name);
		values[1] = CStringGetTextDatum(m->description);
		values[2] = CStringGetTextDatum(m->unit);
		values[3] = CStringGetTextDatum(m->basis);
		values[4] = BoolGetDatum((m->uses & METRIC_PROGRAM) != 0);
		values[5] = BoolGetDatum((m->uses & METRIC_TARGET) != 0);
		values[6] = BoolGetDatum((m->uses & METRIC_SCORING) != 0);
		values[7] = BoolGetDatum((m->uses & METRIC_PRODUCT_SCOPE) != 0);
		values[8] = BoolGetDatum((m->uses & METRIC_NEEDS_COST) != 0);
		values[9] = BoolGetDatum((m->uses & METRIC_LAST_YEAR) != 0);
		values[10] = BoolGetDatum((m->uses & METRIC_MONEY_BASIS) != 0);
		if (m->alias != NULL)
			values[11] = CStringGetTextDatum(m->alias);
		else
			nulls[11] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
