/*
 * rollups.c — keeps rebate.sales_rollup (and rebate.order_paid, the day each
 * order was paid in full) as documents are written, in the writing
 * transaction: the trigger rebate.maintain_rollups(table) and the
 * recomputation behind rebate.rebuild_rollups.
 *
 * Every change is a delta: what the changed rows contribute now, less what
 * they contributed before, computed in one grouped query per statement from
 * its transition tables (so 10,000 lines cost one write per rollup row they
 * touch) and added to the rows of this backend's writer slot.  No two running
 * transactions write the same rollup row, so writers never wait for one
 * another on a rollup and cannot deadlock there; readers sum the slots.
 *
 * What a line contributes depends on its document, on the order a return or
 * credit note refers to, on the day that order was paid in full and on the
 * partner's parent.  Each of those is read under a lock that the statements
 * changing it also take, with a snapshot taken after the lock, so that a
 * concurrent change is either seen or waits:
 *   - a line's own order: the policy trigger holds it FOR NO KEY UPDATE, so
 *     the writers of one order's lines take turns; a status or date change
 *     of the order updates the row;
 *   - the original of a return or credit note: locked FOR SHARE by the line
 *     trigger and by the move of a changed return;
 *   - an order's paid day: recomputed by allocations and payments with the
 *     order locked FOR NO KEY UPDATE (which waits for the lines being
 *     written, but not for the foreign-key checks of other allocations), and
 *     by a change of the lines of an order with allocations under the lock
 *     its writer holds;
 *   - the distinct orders and products a line statement changes: each
 *     (order, product) pair it wrote to probed through the order's lines,
 *     under that lock, on the newest snapshot (under a transaction snapshot,
 *     the lines a writer committed before the lock was granted are otherwise
 *     not seen: a query of its own; under READ COMMITTED, part of the
 *     delta's query, whose snapshot is taken after the lock);
 *   - a partner's parent: a change of it takes SHARE ROW EXCLUSIVE on the
 *     rollup table, waiting for the writers that already added to it (and,
 *     under a transaction snapshot, the writers lock the partner rows).
 * The queries run as the table's owner with search_path pinned (policy_spi.c).
 *
 * A statement on order_line can change an order in the middle (the policy
 * trigger holds it for review): the order's move then sees the lines the
 * statement wrote before, which its own trigger has not added yet.  Such a
 * nested move reads the lines as they were when the line statement began
 * (a snapshot with that command id), and the orders as the nested statement
 * left them (its transition table); the line statement's trigger then adds
 * its lines under the orders' new state.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "catalog/namespace.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#if PG_VERSION_NUM >= 170000
#include "storage/procnumber.h"
#else
#include "storage/backendid.h"
#endif

#include "order_status.h"
#include "policy.h"

PG_FUNCTION_INFO_V1(rebate_maintain_rollups);
PG_FUNCTION_INFO_V1(rebate_recompute_rollups);

/* the rollup key, less the writer slot, in the primary key's order */
#define CELL_KEY "tenant_id, partner_id, of_sub_partners, date_basis, currency, unit, period_start, kind, product_id, region_id"
#define CELL_KEY_OF(a) a ".tenant_id, " a ".partner_id, " a ".of_sub_partners, " a ".date_basis, " a ".currency, " \
	a ".unit, " a ".period_start, " a ".kind, " a ".product_id, " a ".region_id"
#define LINE_COLUMNS "tenant_id, order_id, product_id, quantity, amount, unit_cost"
/* the measures of a rollup row, in the table's order */
#define MEASURES "quantity, amount, cost, lines, costed_amount, costed_lines, orders, promised_deliveries, on_time_deliveries"
#define MEASURES_OF(a) a ".quantity, " a ".amount, " a ".cost, " a ".lines, " a ".costed_amount, " a ".costed_lines, " \
	a ".orders, " a ".promised_deliveries, " a ".on_time_deliveries"
#define PAYMENT_COLUMNS "tenant_id, partner_id, received_on, currency, amount"

/*
 * The least work_mem the rollup queries run with: a statement of 10,000
 * lines groups some 100,000 cells whose numeric sums take a few hundred
 * bytes each, which under the default 4MB spill to disk.
 */
#define ROLLUP_WORK_MEM_KB (64 * 1024)

/* How the rollup queries run: no transition tables or snapshot of their own yet, that work_mem. */
#define ROLLUP_SPI {false, NULL, NULL, ROLLUP_WORK_MEM_KB}

/* The tables the trigger serves, named by its argument. */
typedef enum RollupTable
{
	ROLLUP_ORDER_LINE,
	ROLLUP_SALES_ORDER,
	ROLLUP_PAYMENT,
	ROLLUP_PAYMENT_ALLOCATION,
	ROLLUP_PARTNER,
	ROLLUP_TABLES
} RollupTable;

static const char *const table_names[ROLLUP_TABLES] = {
	"order_line", "sales_order", "payment", "payment_allocation", "partner"
};

/* Which transition tables a statement trigger has: INSERT new, DELETE old, UPDATE both. */
typedef enum RollupEvent
{
	EVENT_INSERT,
	EVENT_UPDATE,
	EVENT_DELETE,
	ROLLUP_EVENTS
} RollupEvent;

/*
 * The writer slot of this backend: unique among the backends running now, so
 * that two transactions in progress never add to the same rollup row.  Slot 0
 * is compaction's and the recomputation's.
 */
static int32
writer_slot(void)
{
#if PG_VERSION_NUM >= 170000
	return MyProcNumber + 1;
#else
	return MyBackendId;
#endif
}

static char *
keep(char *sql)
{
	char	   *kept = MemoryContextStrdup(TopMemoryContext, sql);

	pfree(sql);
	return kept;
}

/* Cells summed per key (the key in CELL_KEY order, then the measures); keys that sum to nothing left out. */
static char *
grouped_sql(const char *cells)
{
	return psprintf("SELECT " CELL_KEY_OF("c") ", sum(c.quantity) AS quantity, sum(c.amount) AS amount,"
					" sum(c.cost) AS cost, sum(c.lines) AS lines, sum(c.costed_amount) AS costed_amount,"
					" sum(c.costed_lines) AS costed_lines, sum(c.orders) AS orders,"
					" sum(c.promised_deliveries) AS promised_deliveries, sum(c.on_time_deliveries) AS on_time_deliveries"
					" FROM (%s) c"
					" GROUP BY " CELL_KEY_OF("c")
					" HAVING sum(c.lines) <> 0 OR sum(c.quantity) <> 0 OR sum(c.amount) <> 0 OR sum(c.cost) <> 0"
					" OR sum(c.costed_amount) <> 0 OR sum(c.costed_lines) <> 0 OR sum(c.orders) <> 0"
					" OR sum(c.promised_deliveries) <> 0 OR sum(c.on_time_deliveries) <> 0",
					cells);
}

#define ADD_ON_CONFLICT \
	" ON CONFLICT (" CELL_KEY ", writer_slot) DO UPDATE" \
	" SET quantity = r.quantity + excluded.quantity, amount = r.amount + excluded.amount," \
	" cost = r.cost + excluded.cost, lines = r.lines + excluded.lines," \
	" costed_amount = r.costed_amount + excluded.costed_amount, costed_lines = r.costed_lines + excluded.costed_lines," \
	" orders = r.orders + excluded.orders, promised_deliveries = r.promised_deliveries + excluded.promised_deliveries," \
	" on_time_deliveries = r.on_time_deliveries + excluded.on_time_deliveries"

/*
 * Adds grouped cells to the rollup rows of slot $1.  cells yields tenant_id
 * and the columns of rebate.line_rollup_cells; with, if given, is the
 * statement's WITH list.
 */
static char *
upsert_sql(const char *with, const char *cells)
{
	return psprintf("%s%s%s"
					"INSERT INTO rebate.sales_rollup AS r (" CELL_KEY ", writer_slot, " MEASURES ")"
					" SELECT " CELL_KEY_OF("g") ", $1, " MEASURES_OF("g") " FROM (%s) g"
					ADD_ON_CONFLICT,
					with ? "WITH " : "", with ? with : "", with ? " " : "", grouped_sql(cells));
}

/*
 * The cells as one array of rebate.sales_rollup rows (slot 0): grouped per
 * key, for add_rows; or as they come, for a query that groups them with its
 * own (ARRAY_CELLS).
 */
static char *
cells_array_sql(const char *with, const char *cells, bool grouped)
{
	return psprintf("%s%s SELECT array_agg(ROW(g.tenant_id, g.partner_id, g.of_sub_partners, g.date_basis, g.unit,"
					" g.period_start, g.currency, g.kind, g.product_id, g.region_id, 0, " MEASURES_OF("g")
					")::rebate.sales_rollup) FROM (%s) g", with ? "WITH " : "", with ? with : "",
					grouped ? grouped_sql(cells) : cells);
}

static char *
move_array_sql(const char *with, const char *cells)
{
	return cells_array_sql(with, cells, true);
}

/* $2, an array of rebate.sales_rollup rows, added to the rows of slot $1. */
static SavedPlan add_rows = {
	"INSERT INTO rebate.sales_rollup AS r (" CELL_KEY ", writer_slot, " MEASURES ")"
	" SELECT " CELL_KEY_OF("u") ", $1, " MEASURES_OF("u")
	" FROM unnest($2::rebate.sales_rollup[]) AS u" ADD_ON_CONFLICT, 2, {INT4OID, InvalidOid}, NULL};

/* The rows of an array $2 of rebate.sales_rollup as cells, to add with a statement's own. */
#define ARRAY_CELLS "SELECT u.tenant_id, u.partner_id, u.of_sub_partners, u.date_basis, u.unit, u.period_start," \
	" u.currency, u.kind, u.product_id, u.region_id, " MEASURES_OF("u") " FROM unnest($2::rebate.sales_rollup[]) AS u"

/*
 * The distinct-order counts of the counted orders whose lines (tenant_id,
 * order_id, product_id and sign) are given, as in the documents of orders:
 * for each order once per product and once as a whole.  lines must hold
 * every line of each order, under one sign per order.
 */
static char *
order_cells(const char *lines, const char *orders)
{
	return psprintf("SELECT d.tenant_id, c.*"
					" FROM (SELECT DISTINCT x.tenant_id, x.order_id, p.product_id, x.sign FROM %s x"
					"       CROSS JOIN LATERAL (VALUES (x.product_id), (0::bigint)) AS p (product_id)) d"
					" JOIN %s o ON o.id = d.order_id AND o.tenant_id = d.tenant_id"
					" CROSS JOIN LATERAL rebate.order_rollup_cells(o.partner_id, o.status, o.kind, o.order_date,"
					" o.promised_on, o.delivered_on, o.currency, o.ship_to_region_id, d.product_id, d.sign) c",
					lines, orders);
}

/*
 * The cells of order lines (LINE_COLUMNS and sign) given where their
 * documents, the originals they refer to and the paid days are read from:
 * the tables, or a statement's rows as they were.  whole: the lines are
 * every line of their documents, whose distinct-order counts come with them.
 */
static char *
document_cells(const char *lines, const char *orders, const char *originals, const char *paid, bool whole)
{
	char	   *cells = psprintf("SELECT l.tenant_id, c.*"
					" FROM %s l"
					" JOIN %s o ON o.id = l.order_id AND o.tenant_id = l.tenant_id"
					" LEFT JOIN %s g ON g.id = o.original_order_id AND g.tenant_id = o.tenant_id"
					" LEFT JOIN %s p ON p.order_id = coalesce(g.id, o.id) AND p.tenant_id = o.tenant_id"
					" JOIN rebate.partner pa ON pa.id = o.partner_id AND pa.tenant_id = o.tenant_id"
					" CROSS JOIN LATERAL rebate.line_rollup_cells(o.partner_id, pa.parent_id, o.status, o.kind,"
					" o.order_date, o.delivered_on, o.currency, o.ship_to_region_id, g.id, g.status, g.order_date,"
					" g.delivered_on, p.paid_on, l.product_id, l.quantity, l.amount, l.unit_cost, l.sign) c",
					lines, orders, originals, paid);

	return whole ? psprintf("%s UNION ALL %s", cells, order_cells(lines, orders)) : cells;
}

/* The cells of payments (PAYMENT_COLUMNS and sign). */
static char *
payment_cells(const char *payments)
{
	return psprintf("SELECT x.tenant_id, c.*"
					" FROM %s x"
					" JOIN rebate.partner pa ON pa.id = x.partner_id AND pa.tenant_id = x.tenant_id"
					" CROSS JOIN LATERAL rebate.payment_rollup_cells(x.partner_id, pa.parent_id, x.received_on,"
					" x.currency, x.amount, x.sign) c", payments);
}

/* A statement's changed rows, signed: new rows add, old rows take out. */
static char *
changed_rows(RollupEvent event, const char *columns)
{
	switch (event)
	{
		case EVENT_INSERT:
			return psprintf("(SELECT %s, 1 AS sign FROM new_rows)", columns);
		case EVENT_DELETE:
			return psprintf("(SELECT %s, -1 AS sign FROM old_rows)", columns);
		default:
			return psprintf("(SELECT %s, 1 AS sign FROM new_rows UNION ALL SELECT %s, -1 FROM old_rows)",
							columns, columns);
	}
}

/* The ids of a statement's rows (old and new), in a column, for IN (...). */
static const char *
statement_ids(RollupEvent event, const char *column)
{
	switch (event)
	{
		case EVENT_INSERT:
			return psprintf("SELECT %s FROM new_rows", column);
		case EVENT_DELETE:
			return psprintf("SELECT %s FROM old_rows", column);
		default:
			return psprintf("SELECT %s FROM new_rows UNION SELECT %s FROM old_rows", column, column);
	}
}

/* The current lines of the documents in the CTE "affected", signed. */
static char *
affected_lines(int sign)
{
	return psprintf("(SELECT l.tenant_id, l.order_id, l.product_id, l.quantity, l.amount, l.unit_cost, %d AS sign"
					" FROM affected a JOIN rebate.order_line l ON l.order_id = a.id AND l.tenant_id = a.tenant_id)",
					sign);
}

/* The type of an array of rebate.sales_rollup rows. */
static Oid
rollup_array_type(void)
{
	static Oid	array_type = InvalidOid;

	if (!OidIsValid(array_type))
		array_type = get_array_type(get_rel_type_id(get_relname_relid("sales_rollup",
																		   get_namespace_oid("rebate", false))));
	return array_type;
}

/* ---- the queries, built on first use and kept ----------------------------- */

/* order_line, per event: lock what the lines' contribution depends on; returns
 * the orders with allocations (whose paid day the lines change), locked */
static SavedPlan line_lock[ROLLUP_EVENTS];
/* order_line, per event: the changes of the distinct-order counts of the
 * counted orders written to, as an array of rollup rows */
static SavedPlan line_orders[ROLLUP_EVENTS];
/* order_line, per event: the lines' delta, and $2, line_orders' array */
static SavedPlan line_delta[ROLLUP_EVENTS];
/* order_line, per event, under READ COMMITTED: the lines' delta and the
 * changes of the distinct-order counts, in one query (its snapshot, taken
 * after the locks, is the newest) */
static SavedPlan line_delta_counted[ROLLUP_EVENTS];
/* sales_order UPDATE: the originals of the changed documents, locked FOR SHARE */
static SavedPlan originals_lock = {
	"SELECT 1 FROM rebate.sales_order g WHERE g.id IN (SELECT original_order_id FROM new_rows"
	" UNION SELECT original_order_id FROM old_rows) ORDER BY g.id FOR SHARE", 0, {0}, NULL};
/* sales_order UPDATE: the changed documents', and what refers to them, moved;
 * nested: inside a line statement (see above) */
static SavedPlan order_move;
static SavedPlan order_move_nested;
/* sales_order BEFORE DELETE: $1 tenant, $2 order: what its lines count, as an
 * array of rollup rows to take out (read as the statement began) */
static SavedPlan order_delete = {NULL, 2, {INT8OID, INT8OID}, NULL};
/* payment, per event: the payments' delta */
static SavedPlan payment_delta[ROLLUP_EVENTS];
/* payment UPDATE: the orders whose paid day may move (received_on changed), locked */
static SavedPlan payment_lock;
/* payment_allocation, per event: the orders allocated to, locked */
static SavedPlan allocation_lock[ROLLUP_EVENTS];
/* $2 orders (locked): paid days recomputed; lines counted on a moved day moved */
static SavedPlan paid_recheck = {NULL, 2, {INT4OID, INT8ARRAYOID}, NULL};
/* per table and event, under REPEATABLE READ and SERIALIZABLE: the changed
 * rows' partners locked FOR SHARE, so that a parent changed since the
 * transaction's snapshot fails to serialize rather than being read stale */
static SavedPlan partner_lock[ROLLUP_TABLES][ROLLUP_EVENTS];
/* partner UPDATE: whether a parent changed; then the sub-partner rows moved */
static SavedPlan parent_changed;
static SavedPlan parent_lock = {"LOCK TABLE rebate.sales_rollup IN SHARE ROW EXCLUSIVE MODE", 0, {0}, NULL};
static SavedPlan parent_move;

static void
prepare_line_plans(RollupEvent e)
{
	char	   *lines;
	char	   *counts_with;
	const char *counts_cells;
	char	   *line_cells;

	if (line_delta[e].sql != NULL)
		return;
	lines = changed_rows(e, LINE_COLUMNS);
	/* Locks the originals (FOR SHARE); returns the orders with allocations
	 * (whose paid day the lines can change) and whether any order is counted
	 * (whose distinct counts they can change). */
	line_lock[e].sql = keep(psprintf(
		"WITH docs AS (SELECT DISTINCT tenant_id, order_id FROM %s l),"
		" originals AS (SELECT g.id FROM docs d"
		"   JOIN rebate.sales_order o ON o.id = d.order_id AND o.tenant_id = d.tenant_id"
		"   JOIN rebate.sales_order g ON g.id = o.original_order_id AND g.tenant_id = o.tenant_id"
		"  ORDER BY g.id FOR SHARE OF g),"
		" watched AS (SELECT o.id, o.kind = 'order' AND rebate.order_counts(o.status) AS counted,"
		"   EXISTS (SELECT 1 FROM rebate.order_paid p WHERE p.order_id = o.id AND p.tenant_id = o.tenant_id) AS allocated"
		"   FROM docs d JOIN rebate.sales_order o ON o.id = d.order_id AND o.tenant_id = d.tenant_id)"
		" SELECT (SELECT count(*) FROM originals),"
		"        ARRAY(SELECT id FROM watched WHERE allocated ORDER BY id),"
		"        EXISTS (SELECT 1 FROM watched WHERE counted)", lines));
	line_lock[e].nargs = 0;

	/*
	 * A distinct count changes only where an (order, product) pair, or an
	 * order as a whole (product 0), the statement wrote to gains its first
	 * line or loses its last: each such pair, present now (the order's lines)
	 * and before (its lines the statement did not write, and its old rows),
	 * is probed through the order's lines, whatever the order's size.
	 */
	counts_with = psprintf(
		"affected AS (SELECT o.id, o.tenant_id FROM (SELECT DISTINCT tenant_id, order_id FROM %s l) d"
		"  JOIN rebate.sales_order o ON o.id = d.order_id AND o.tenant_id = d.tenant_id"
		"  WHERE o.kind = 'order' AND rebate.order_counts(o.status)),"
		" touched AS (SELECT DISTINCT l.tenant_id, l.order_id, p.product_id FROM %s l"
		"  JOIN affected a ON a.id = l.order_id AND a.tenant_id = l.tenant_id"
		"  CROSS JOIN LATERAL (VALUES (l.product_id), (0::bigint)) AS p (product_id)),"
		" changes AS (SELECT t.tenant_id, t.order_id, t.product_id,"
		"  n.now::integer - (n.kept%s)::integer AS sign"
		"  FROM touched t CROSS JOIN LATERAL (SELECT count(*) > 0 AS now, count(*) FILTER (WHERE %s) > 0 AS kept"
		"   FROM rebate.order_line l WHERE l.order_id = t.order_id AND l.tenant_id = t.tenant_id"
		"    AND (t.product_id = 0 OR l.product_id = t.product_id)) n)",
		lines, lines,
		e == EVENT_INSERT ? "" :
		" OR (t.tenant_id, t.order_id, t.product_id) IN (SELECT o.tenant_id, o.order_id, p.product_id FROM old_rows o"
		"   CROSS JOIN LATERAL (VALUES (o.product_id), (0::bigint)) AS p (product_id))",
		e == EVENT_DELETE ? "true" : "l.id NOT IN (SELECT id FROM new_rows)");
	counts_cells = "SELECT c.tenant_id, x.* FROM changes c"
		" JOIN rebate.sales_order o ON o.id = c.order_id AND o.tenant_id = c.tenant_id"
		" CROSS JOIN LATERAL rebate.order_rollup_cells(o.partner_id, o.status, o.kind, o.order_date,"
		" o.promised_on, o.delivered_on, o.currency, o.ship_to_region_id, c.product_id, c.sign) x"
		" WHERE c.sign <> 0";
	line_cells = document_cells(lines, "rebate.sales_order", "rebate.sales_order", "rebate.order_paid", false);

	line_orders[e].sql = keep(cells_array_sql(counts_with, counts_cells, false));
	line_orders[e].nargs = 0;
	line_delta[e].sql = keep(upsert_sql(NULL, psprintf("%s UNION ALL " ARRAY_CELLS, line_cells)));
	line_delta[e].nargs = 2;
	line_delta[e].argtypes[0] = INT4OID;
	line_delta[e].argtypes[1] = rollup_array_type();
	line_delta_counted[e].sql = keep(upsert_sql(counts_with, psprintf("%s UNION ALL %s", line_cells, counts_cells)));
	line_delta_counted[e].nargs = 1;
	line_delta_counted[e].argtypes[0] = INT4OID;
}

/* The move of the documents an UPDATE of sales_order changed, the orders as
 * they are now read from after_orders (the table, or the statement's new
 * rows and the others): as an upsert, or (as_array) as the one array of
 * rebate.sales_rollup rows the nested move computes on its own snapshot. */
static char *
order_move_sql(const char *after_orders, bool as_array)
{
	return (as_array ? move_array_sql : upsert_sql)(
		/* the documents whose contribution may have changed: a document that
		 * counts (or counted) with another partner, region, currency, kind,
		 * original, date or promised date, or that started or stopped
		 * counting; and the
		 * returns and credit notes referring to one */
		"changed AS (SELECT n.id, n.tenant_id FROM new_rows n JOIN old_rows o ON o.id = n.id"
		"  WHERE rebate.order_counts(n.status) <> rebate.order_counts(o.status)"
		"     OR (rebate.order_counts(n.status)"
		"         AND (n.tenant_id, n.partner_id, n.kind, n.original_order_id, n.ship_to_region_id, n.order_date,"
		"              n.delivered_on, n.promised_on, n.currency)"
		"             IS DISTINCT FROM (o.tenant_id, o.partner_id, o.kind, o.original_order_id, o.ship_to_region_id,"
		"                               o.order_date, o.delivered_on, o.promised_on, o.currency))),"
		" affected AS (SELECT c.id, c.tenant_id FROM changed c"
		"  UNION SELECT d.id, d.tenant_id FROM changed c"
		"   JOIN rebate.sales_order d ON d.original_order_id = c.id AND d.tenant_id = c.tenant_id),"
		/* the documents as they were: the statement's old rows, the others as they are */
		" needed AS (SELECT a.id FROM affected a"
		"  UNION SELECT d.original_order_id FROM affected a JOIN rebate.sales_order d ON d.id = a.id AND d.tenant_id = a.tenant_id"
		"  UNION SELECT o.original_order_id FROM old_rows o),"
		" before_orders AS (SELECT o.* FROM old_rows o"
		"  UNION ALL SELECT s.* FROM rebate.sales_order s"
		"   WHERE s.id IN (SELECT id FROM needed) AND s.id NOT IN (SELECT id FROM old_rows)),"
		" after_orders AS (SELECT n.* FROM new_rows n"
		"  UNION ALL SELECT s.* FROM rebate.sales_order s"
		"   WHERE s.id IN (SELECT id FROM needed) AND s.id NOT IN (SELECT id FROM new_rows))",
		psprintf("%s UNION ALL %s",
				 document_cells(affected_lines(-1), "before_orders", "before_orders", "rebate.order_paid", true),
				 document_cells(affected_lines(1), after_orders, after_orders, "rebate.order_paid", true)));
}

static void
prepare_order_plans(void)
{
	if (order_move.sql != NULL)
		return;
	order_move.sql = keep(order_move_sql("rebate.sales_order", false));
	order_move.nargs = 1;
	order_move.argtypes[0] = INT4OID;
	order_move_nested.sql = keep(order_move_sql("after_orders", true));
	order_move_nested.nargs = 0;
	order_delete.sql = keep(move_array_sql(NULL, document_cells(
		"(SELECT " LINE_COLUMNS ", -1 AS sign FROM rebate.order_line WHERE tenant_id = $1 AND order_id = $2)",
		"rebate.sales_order", "rebate.sales_order", "rebate.order_paid", true)));
}

static void
prepare_paid_plan(void)
{
	if (paid_recheck.sql != NULL)
		return;
	paid_recheck.sql = keep(upsert_sql(
		"asked AS (SELECT DISTINCT o.id, o.tenant_id, o.partner_id, o.original_order_id"
		"  FROM unnest($2::bigint[]) AS a (id) JOIN rebate.sales_order o ON o.id = a.id),"
		" computed AS (SELECT a.*, p.order_id IS NOT NULL AS known, p.paid_on AS was, rebate.order_paid_on(a.id) AS now"
		"  FROM asked a LEFT JOIN rebate.order_paid p ON p.order_id = a.id AND p.tenant_id = a.tenant_id),"
		" saved AS (INSERT INTO rebate.order_paid AS p (tenant_id, order_id, partner_id, paid_on)"
		/* written even when unchanged: under REPEATABLE READ a recheck that
		 * missed a concurrent one then fails to serialize instead of
		 * keeping a day computed without it */
		"  SELECT c.tenant_id, c.id, c.partner_id, c.now FROM computed c"
		"  ON CONFLICT (tenant_id, order_id) DO UPDATE SET paid_on = excluded.paid_on),"
		" moved AS (SELECT c.tenant_id, c.id AS order_id, c.now AS paid_on, c.original_order_id FROM computed c"
		"  WHERE c.was IS DISTINCT FROM c.now),"
		/* the documents counted on a moved order's paid day: the order itself
		 * (one that refers to no original), and what refers to it */
		" affected AS (SELECT m.order_id AS id, m.tenant_id FROM moved m WHERE m.original_order_id IS NULL"
		"  UNION SELECT d.id, d.tenant_id FROM moved m"
		"   JOIN rebate.sales_order d ON d.original_order_id = m.order_id AND d.tenant_id = m.tenant_id)",
		psprintf("%s UNION ALL %s",
				 /* the paid day moves no distinct-order count (those are on the order date) */
				 document_cells(affected_lines(-1), "rebate.sales_order", "rebate.sales_order", "rebate.order_paid",
								false),
				 document_cells(affected_lines(1), "rebate.sales_order", "rebate.sales_order", "moved", false))));
}

static void
prepare_payment_plans(RollupEvent e)
{
	if (payment_delta[e].sql != NULL)
		return;
	payment_delta[e].sql = keep(upsert_sql(NULL, payment_cells(changed_rows(e, PAYMENT_COLUMNS))));
	payment_delta[e].nargs = 1;
	payment_delta[e].argtypes[0] = INT4OID;
	if (e == EVENT_UPDATE)
		payment_lock.sql = keep(psprintf(
			"SELECT ARRAY(SELECT o.id FROM rebate.sales_order o"
			" WHERE o.id IN (SELECT a.order_id FROM new_rows n JOIN old_rows b ON b.id = n.id"
			"                  JOIN rebate.payment_allocation a ON a.payment_id = n.id AND a.tenant_id = n.tenant_id"
			"                 WHERE n.received_on <> b.received_on)"
			" ORDER BY o.id FOR NO KEY UPDATE)"));
}

static void
prepare_allocation_plans(RollupEvent e)
{
	if (allocation_lock[e].sql != NULL)
		return;
	allocation_lock[e].sql = keep(psprintf(
		"SELECT ARRAY(SELECT o.id FROM rebate.sales_order o WHERE o.id IN (%s) ORDER BY o.id FOR NO KEY UPDATE)",
		statement_ids(e, "order_id")));
}

static void
prepare_partner_plans(void)
{
	if (parent_move.sql != NULL)
		return;
	parent_changed.sql = "SELECT EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id"
		" WHERE n.parent_id IS DISTINCT FROM o.parent_id)";
	/* a partner's own rows, summed over products and regions, leave its old
	 * parent's sub-partner rows for its new parent's */
	parent_move.sql = keep(upsert_sql(
		"moved AS (SELECT n.tenant_id, n.id, n.parent_id AS now, o.parent_id AS was"
		"  FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n.parent_id IS DISTINCT FROM o.parent_id)",
		"SELECT r.tenant_id, s.parent AS partner_id, true AS of_sub_partners, r.date_basis, r.unit, r.period_start,"
		" r.currency, r.kind, 0::bigint AS product_id, 0::bigint AS region_id, s.sign * r.quantity AS quantity,"
		" s.sign * r.amount AS amount, s.sign * r.cost AS cost, s.sign * r.lines AS lines,"
		" s.sign * r.costed_amount AS costed_amount, s.sign * r.costed_lines AS costed_lines, 0 AS orders,"
		" 0 AS promised_deliveries, 0 AS on_time_deliveries"
		" FROM (SELECT m.tenant_id, m.id, m.now AS parent, 1 AS sign FROM moved m WHERE m.now IS NOT NULL"
		"       UNION ALL SELECT m.tenant_id, m.id, m.was, -1 FROM moved m WHERE m.was IS NOT NULL) s"
		" JOIN rebate.sales_rollup r ON r.tenant_id = s.tenant_id AND r.partner_id = s.id AND NOT r.of_sub_partners"
		"  AND r.date_basis <> 'document'"));
	parent_move.nargs = 1;
	parent_move.argtypes[0] = INT4OID;
}

/* ---- the line statements in progress ---------------------------------------- */

/*
 * The statements on order_line of this transaction whose rollup trigger has
 * not run yet, by the command id they write with: pushed by the BEFORE
 * statement trigger, popped by the AFTER one; an aborted subtransaction
 * takes its own with it, the end of the transaction all.
 */
typedef struct OpenLineStatement
{
	CommandId	cid;
	int			nest_level;
} OpenLineStatement;

static OpenLineStatement open_lines[16];
static int	n_open_lines = 0;

static void
open_lines_xact_callback(XactEvent event pg_attribute_unused(), void *arg pg_attribute_unused())
{
	n_open_lines = 0;
}

static void
open_lines_subxact_callback(SubXactEvent event, SubTransactionId subid pg_attribute_unused(),
							SubTransactionId parent pg_attribute_unused(), void *arg pg_attribute_unused())
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		while (n_open_lines > 0 && open_lines[n_open_lines - 1].nest_level >= GetCurrentTransactionNestLevel())
			n_open_lines--;
}

static void
line_statement_begins(void)
{
	static bool callbacks = false;

	if (!callbacks)
	{
		RegisterXactCallback(open_lines_xact_callback, NULL);
		RegisterSubXactCallback(open_lines_subxact_callback, NULL);
		callbacks = true;
	}
	if (n_open_lines == (int) lengthof(open_lines))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("statements on rebate.order_line are nested more than %d deep", (int) lengthof(open_lines))));
	open_lines[n_open_lines].cid = GetCurrentCommandId(false);
	open_lines[n_open_lines].nest_level = GetCurrentTransactionNestLevel();
	n_open_lines++;
}

/* ---- running them ---------------------------------------------------------- */

/*
 * Read committed takes a snapshot per statement, after the locks above; a
 * transaction snapshot (REPEATABLE READ, SERIALIZABLE) may predate a
 * partner's new parent, which only the partner row shows: lock it.
 */
static void
lock_partners(PolicySpi *spi, RollupTable table, RollupEvent event, Oid as_role)
{
	SavedPlan  *plan = &partner_lock[table][event];

	if (!IsolationUsesXactSnapshot())
		return;
	if (plan->sql == NULL)
		plan->sql = keep(psprintf("SELECT 1 FROM rebate.partner WHERE id IN (%s) ORDER BY id FOR SHARE",
								  statement_ids(event, "partner_id")));
	policy_spi_run(spi, plan, as_role, NULL, NULL);
}

static void
run(PolicySpi *spi, SavedPlan *plan, Oid as_role, Datum *values)
{
	policy_spi_run(spi, plan, as_role, values, NULL);
}

/* The array in column 'column' of the one row a lock query returned; NULL if empty. */
static ArrayType *
locked_orders(int column)
{
	bool		isnull;
	Datum		value = policy_spi_value(0, column, &isnull);
	ArrayType  *ids;

	if (isnull)
		return NULL;
	ids = DatumGetArrayTypePCopy(value);
	return ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids)) > 0 ? ids : NULL;
}

static void
recheck_paid(PolicySpi *spi, Oid as_role, ArrayType *orders)
{
	Datum		values[2];

	if (orders == NULL)
		return;
	prepare_paid_plan();
	values[0] = Int32GetDatum(writer_slot());
	values[1] = PointerGetDatum(orders);
	run(spi, &paid_recheck, as_role, values);
}

static void
recompute_all(Oid as_role)
{
	static SavedPlan tenants = {"SELECT id FROM rebate.tenant ORDER BY id", 0, {0}, NULL};
	static SavedPlan recompute = {"SELECT rebate.recompute_rollups($1)", 1, {INT8OID}, NULL};
	PolicySpi	spi = ROLLUP_SPI;
	uint64		n = policy_spi_run(&spi, &tenants, as_role, NULL, NULL);
	int64	   *ids = palloc(sizeof(int64) * (n + 1));

	for (uint64 i = 0; i < n; i++)
		ids[i] = policy_spi_int64(i, 1);
	for (uint64 i = 0; i < n; i++)
	{
		Datum		value = Int64GetDatum(ids[i]);

		run(&spi, &recompute, as_role, &value);
	}
	policy_spi_finish(&spi);
}

static RollupTable
table_of(TriggerData *trigdata)
{
	const char *name;

	if (trigdata->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("rebate.maintain_rollups() needs one argument, the table it serves")));
	name = trigdata->tg_trigger->tgargs[0];
	for (int t = 0; t < ROLLUP_TABLES; t++)
		if (strcmp(name, table_names[t]) == 0)
			return (RollupTable) t;
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("rebate.maintain_rollups() does not serve \"%s\"", name),
			 errhint("It serves order_line, sales_order, payment, payment_allocation and partner.")));
	return ROLLUP_TABLES;		/* not reached */
}

/*
 * The one array of rebate.sales_rollup rows a read-only plan returns, run on
 * the given snapshot: a copy, or (Datum) 0 when there is none.
 */
static Datum
rows_on_snapshot(PolicySpi *spi, SavedPlan *plan, Oid as_role, Datum *values, Snapshot snapshot)
{
	bool		isnull;
	Datum		rows;

	spi->snapshot = snapshot;
	policy_spi_run(spi, plan, as_role, values, NULL);
	spi->snapshot = NULL;
	rows = policy_spi_value(0, 1, &isnull);
	return isnull ? (Datum) 0 : PointerGetDatum(DatumGetArrayTypePCopy(rows));
}

/* Adds an array of rebate.sales_rollup rows (if any) to the rows of slot. */
static void
add_rollup_rows(PolicySpi *spi, Oid as_role, Datum slot, Datum rows)
{
	Datum		values[2] = {slot, rows};

	if (rows == (Datum) 0)
		return;
	add_rows.argtypes[1] = rollup_array_type();
	run(spi, &add_rows, as_role, values);
}

/* The BEFORE DELETE trigger on sales_order: the order's lines leave the rollups. */
static Datum
order_deleted(TriggerData *trigdata, Oid as_role)
{
	Relation	rel = trigdata->tg_relation;
	HeapTuple	tuple = trigdata->tg_trigtuple;
	TupleDesc	desc = RelationGetDescr(rel);
	bool		isnull;
	Datum		status = heap_getattr(tuple, SPI_fnumber(desc, "status"), desc, &isnull);
	PolicySpi	spi = ROLLUP_SPI;
	Datum		values[2];
	Datum		rows;

	/* a document that does not count contributes nothing */
	if (isnull || !order_status_in(TextDatumGetCString(status), ORDER_STATUSES_COUNTED))
		return PointerGetDatum(tuple);
	prepare_order_plans();
	values[0] = heap_getattr(tuple, SPI_fnumber(desc, "tenant_id"), desc, &isnull);
	values[1] = heap_getattr(tuple, SPI_fnumber(desc, "id"), desc, &isnull);
	/* read on the statement's snapshot: a return deleted after its original by
	 * the same statement is taken out from the original's day, where it counts */
	rows = rows_on_snapshot(&spi, &order_delete, as_role, values, GetActiveSnapshot());
	add_rollup_rows(&spi, as_role, Int32GetDatum(writer_slot()), rows);
	policy_spi_finish(&spi);
	return PointerGetDatum(tuple);
}

/*
 * The move of an UPDATE of sales_order made inside a statement on order_line:
 * computed on the lines as they were when that statement began (the ones
 * rollups hold), then added.
 */
static void
move_nested(PolicySpi *spi, Oid as_role, Datum slot)
{
	Snapshot	before;
	Datum		rows;

	/* a copy of this statement's snapshot that does not see what this
	 * transaction did since the line statement began */
	PushCopiedSnapshot(GetActiveSnapshot());
	before = GetActiveSnapshot();
	before->curcid = open_lines[0].cid;
	rows = rows_on_snapshot(spi, &order_move_nested, as_role, NULL, before);
	PopActiveSnapshot();
	add_rollup_rows(spi, as_role, slot, rows);
}

/*
 * How a line statement changes the distinct-order counts of the counted
 * orders it wrote to (their lock is held), under a transaction snapshot: from
 * the orders' lines as they are and as they were, read on the newest
 * snapshot so that lines a concurrent transaction committed, which its own
 * trigger counted, are seen.  (Under READ COMMITTED each query's snapshot
 * is taken after the locks: line_delta_counted does it in one.)  An array of
 * rollup rows, or NULL (*null 'n') when no count changes.
 */
static Datum
order_counts_delta(PolicySpi *spi, RollupEvent event, Oid as_role, char *null)
{
	Snapshot	latest;
	Datum		rows;

	CommandCounterIncrement();
	latest = RegisterSnapshot(GetLatestSnapshot());
	rows = rows_on_snapshot(spi, &line_orders[event], as_role, NULL, latest);
	UnregisterSnapshot(latest);
	*null = rows == (Datum) 0 ? 'n' : ' ';
	return rows;
}

Datum
rebate_maintain_rollups(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	RollupTable table;
	RollupEvent event;
	Oid			as_role;
	PolicySpi	spi = ROLLUP_SPI;
	Datum		slot = Int32GetDatum(writer_slot());

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("rebate.maintain_rollups() must be called as a trigger")));
	table = table_of(trigdata);
	as_role = trigdata->tg_relation->rd_rel->relowner;

	if (TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
	{
		if (table != ROLLUP_SALES_ORDER || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
			!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("rebate.maintain_rollups() runs per row only BEFORE DELETE on sales_order")));
		return order_deleted(trigdata, as_role);
	}
	if (TRIGGER_FIRED_BEFORE(trigdata->tg_event) && table == ROLLUP_ORDER_LINE)
	{
		line_statement_begins();
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("rebate.maintain_rollups() runs before a statement only on order_line")));
	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
	{
		recompute_all(as_role);
		return PointerGetDatum(NULL);
	}
	event = TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ? EVENT_INSERT
		: TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? EVENT_DELETE : EVENT_UPDATE;
	if ((event != EVENT_DELETE && trigdata->tg_newtable == NULL) ||
		(event != EVENT_INSERT && trigdata->tg_oldtable == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("rebate.maintain_rollups() needs the statement's transition tables"),
				 errhint("Create the trigger with REFERENCING NEW TABLE AS new_rows and/or OLD TABLE AS old_rows.")));
	spi.transition = trigdata;

	switch (table)
	{
		case ROLLUP_ORDER_LINE:
			{
				ArrayType  *allocated;
				Datum		values[2] = {slot, (Datum) 0};
				char		nulls[2] = {' ', 'n'};
				bool		isnull;

				if (n_open_lines > 0)
					n_open_lines--;	/* its lines are added now */

				prepare_line_plans(event);
				lock_partners(&spi, table, event, as_role);
				policy_spi_run(&spi, &line_lock[event], as_role, NULL, NULL);
				allocated = locked_orders(2);
				if (!DatumGetBool(policy_spi_value(0, 3, &isnull)))
					policy_spi_run(&spi, &line_delta[event], as_role, values, nulls);
				else if (IsolationUsesXactSnapshot())
				{
					values[1] = order_counts_delta(&spi, event, as_role, &nulls[1]);
					policy_spi_run(&spi, &line_delta[event], as_role, values, nulls);
				}
				else
					run(&spi, &line_delta_counted[event], as_role, values);
				recheck_paid(&spi, as_role, allocated);
				break;
			}
		case ROLLUP_SALES_ORDER:
			if (event != EVENT_UPDATE)
				ereport(ERROR,
						(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						 errmsg("rebate.maintain_rollups() serves sales_order on UPDATE, BEFORE DELETE and TRUNCATE")));
			prepare_order_plans();
			lock_partners(&spi, table, event, as_role);
			policy_spi_run(&spi, &originals_lock, as_role, NULL, NULL);
			if (n_open_lines > 0)
				move_nested(&spi, as_role, slot);
			else
				run(&spi, &order_move, as_role, &slot);
			break;
		case ROLLUP_PAYMENT:
			prepare_payment_plans(event);
			lock_partners(&spi, table, event, as_role);
			run(&spi, &payment_delta[event], as_role, &slot);
			if (event == EVENT_UPDATE)
			{
				policy_spi_run(&spi, &payment_lock, as_role, NULL, NULL);
				recheck_paid(&spi, as_role, locked_orders(1));
			}
			break;
		case ROLLUP_PAYMENT_ALLOCATION:
			prepare_allocation_plans(event);
			policy_spi_run(&spi, &allocation_lock[event], as_role, NULL, NULL);
			recheck_paid(&spi, as_role, locked_orders(1));
			break;
		case ROLLUP_PARTNER:
			if (event != EVENT_UPDATE)
				ereport(ERROR,
						(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						 errmsg("rebate.maintain_rollups() serves partner on UPDATE")));
			prepare_partner_plans();
			policy_spi_run(&spi, &parent_changed, as_role, NULL, NULL);
			{
				bool		isnull;

				if (DatumGetBool(policy_spi_value(0, 1, &isnull)))
				{
					run(&spi, &parent_lock, as_role, NULL);
					run(&spi, &parent_move, as_role, &slot);
				}
			}
			break;
		default:
			break;
	}
	policy_spi_finish(&spi);
	return PointerGetDatum(NULL);
}

/*
 * rebate.recompute_rollups(tenant_id): the tenant's rollups and paid days
 * replaced by a recomputation from its documents, in slot 0.  The caller
 * (rebate.rebuild_rollups) has judged the role and locked the documents.
 */
Datum
rebate_recompute_rollups(PG_FUNCTION_ARGS)
{
	static SavedPlan clear_rollups = {"DELETE FROM rebate.sales_rollup WHERE tenant_id = $1", 1, {INT8OID}, NULL};
	static SavedPlan clear_paid = {"DELETE FROM rebate.order_paid WHERE tenant_id = $1", 1, {INT8OID}, NULL};
	static SavedPlan fill_paid = {
		"INSERT INTO rebate.order_paid (tenant_id, order_id, partner_id, paid_on)"
		" SELECT o.tenant_id, o.id, o.partner_id, rebate.order_paid_on(o.id)"
		"   FROM (SELECT DISTINCT order_id FROM rebate.payment_allocation WHERE tenant_id = $1) a"
		"   JOIN rebate.sales_order o ON o.id = a.order_id AND o.tenant_id = $1", 1, {INT8OID}, NULL};
	static SavedPlan fill_lines = {NULL, 2, {INT4OID, INT8OID}, NULL};
	static SavedPlan fill_payments = {NULL, 2, {INT4OID, INT8OID}, NULL};
	Datum		tenant = PG_GETARG_DATUM(0);
	Datum		values[2] = {Int32GetDatum(0), tenant};
	PolicySpi	spi = ROLLUP_SPI;
	Oid			as_role = GetUserId();

	if (fill_lines.sql == NULL)
	{
		fill_lines.sql = keep(upsert_sql(NULL, document_cells(
			"(SELECT " LINE_COLUMNS ", 1 AS sign FROM rebate.order_line WHERE tenant_id = $2)",
			"rebate.sales_order", "rebate.sales_order", "rebate.order_paid", true)));
		fill_payments.sql = keep(upsert_sql(NULL, payment_cells(
			"(SELECT " PAYMENT_COLUMNS ", 1 AS sign FROM rebate.payment WHERE tenant_id = $2)")));
	}
	run(&spi, &clear_rollups, as_role, &tenant);
	run(&spi, &clear_paid, as_role, &tenant);
	run(&spi, &fill_paid, as_role, &tenant);
	run(&spi, &fill_lines, as_role, values);
	run(&spi, &fill_payments, as_role, values);
	policy_spi_finish(&spi);
	PG_RETURN_VOID();
}
