/*
 * policy.h — what the policy triggers (price_policy.c, region_policy.c,
 * order_policy.c) share: SPI with plans prepared once per backend
 * (policy_spi.c), per-backend caches dropped on invalidation
 * (policy_cache.c), the row being judged with its column mapping
 * (policy_row.c), and recording or refusing a breach (policy_violation.c).
 */
#ifndef REBATE_POLICY_H
#define REBATE_POLICY_H

#include "postgres.h"

#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/date.h"
#include "utils/numeric.h"

/* ---- SPI ---------------------------------------------------------------- */

/* A query prepared on first use and kept for the life of the backend. */
typedef struct SavedPlan
{
	const char *sql;
	int			nargs;
	Oid			argtypes[16];
	SPIPlanPtr	plan;
} SavedPlan;

/* One trigger call's SPI connection, opened only when a query must run. */
typedef struct PolicySpi
{
	bool		connected;
	TriggerData *transition;	/* a statement trigger's transition tables, made
								 * visible to its queries (NULL: none) */
	Snapshot	snapshot;		/* the snapshot read-only queries run on,
								 * exactly (NULL: a fresh one per query) */
	int			work_mem_kb;	/* the least work_mem its queries run with
								 * (0: the session's) */
} PolicySpi;

/* Runs a saved plan as the given role (row-level security not forced);
 * returns the number of rows, which are in SPI_tuptable. */
extern uint64 policy_spi_run(PolicySpi *spi, SavedPlan *plan, Oid as_role, Datum *values, const char *nulls);
extern void policy_spi_finish(PolicySpi *spi);
extern Datum policy_spi_value(int row, int column, bool *isnull);
extern char *policy_spi_text(int row, int column);	/* NULL if null */
extern int64 policy_spi_int64(int row, int column);	/* 0 if null */
extern Numeric policy_spi_numeric(int row, int column);	/* NULL if null */

/* ---- modes, settings, caches -------------------------------------------- */

typedef enum PolicyMode
{
	MODE_ALLOW = 'a',
	MODE_REVIEW = 'v',
	MODE_REJECT = 'r'
} PolicyMode;

typedef struct TenantSettings
{
	PolicyMode	no_price_policy;
	PolicyMode	territory;
	PolicyMode	product_region;
	PolicyMode	credit;
	Numeric		credit_tolerance;	/* percent */
	PolicyMode	certification;
} TenantSettings;

typedef struct PartnerFacts
{
	int64		tenant_id;
	char		state[16];
	DateADT		state_since;
	int64		grade_id;		/* 0: none */
} PartnerFacts;

typedef struct PriceCandidate
{
	int64		policy_id;
	char	   *code;
	Numeric		min_quantity;
	Numeric		floor_price;	/* NULL: none */
	Numeric		ceiling_price;	/* NULL: none */
	bool		review;
} PriceCandidate;


/* The order a line of rebate.order_line belongs to. */
typedef struct OrderFacts
{
	int64		order_id;
	int64		tenant_id;
	int64		partner_id;
	int64		region_id;
	DateADT		order_date;
	char		status[16];
	char		kind[16];
	char		code[64];
} OrderFacts;

/* The extension's tables the triggers know by name. */
typedef enum PolicyRel
{
	REL_ORDER_LINE,
	REL_SALES_ORDER,
	REL_POLICY_VIOLATION,
	REL_COUNT
} PolicyRel;

extern void policy_cache_begin(void);
extern Oid	policy_rel(PolicyRel which);
extern Oid	policy_rel_owner(PolicyRel which);

/* Lookups.  Results are copied out (into CurrentMemoryContext): a cache
 * flush during a later query cannot pull them from under the caller. */
extern void policy_tenant_settings(PolicySpi *spi, Oid reader, int64 tenant_id, TenantSettings *out);
extern bool policy_partner(PolicySpi *spi, Oid reader, int64 partner_id, PartnerFacts *out);
extern bool policy_effective_price(PolicySpi *spi, Oid reader, int64 product_id, int64 partner_id,
								   int64 region_id, bool has_region, DateADT on_date, Numeric quantity,
								   PriceCandidate *out);
extern bool policy_in_territory(PolicySpi *spi, Oid reader, int64 partner_id, int64 region_id, DateADT on_date);
extern bool policy_product_authorised(PolicySpi *spi, Oid reader, int64 product_id, int64 region_id);
/* Whether any certification requirement names the product or a category
 * above it (cached); and, when one does, the certifications the partner
 * lacks to sell it on the day ("CODE (h of n holders), ..."; NULL: none). */
extern bool policy_product_needs_certification(PolicySpi *spi, Oid reader, int64 product_id);
extern char *policy_missing_certifications(PolicySpi *spi, Oid reader, int64 partner_id, int64 product_id,
										   DateADT on_date);
extern bool policy_order(PolicySpi *spi, Oid reader, int64 tenant_id, int64 order_id, OrderFacts *out);
/* Whether the writing role (not the reader) sees a partner, a tenant. */
extern bool policy_partner_visible(PolicySpi *spi, int64 partner_id);
extern bool policy_tenant_visible(PolicySpi *spi, int64 tenant_id);
/* Whether a role is a group administrator or a manager of the tenant. */
extern bool policy_role_manages(PolicySpi *spi, Oid role, int64 tenant_id);

/* The tenant a product or region belongs to; 0 if there is none. */
typedef enum PolicyOwned
{
	OWNED_PRODUCT,
	OWNED_REGION
} PolicyOwned;
extern int64 policy_tenant_of(PolicySpi *spi, Oid reader, PolicyOwned what, int64 id);

/* ---- the row judged ----------------------------------------------------- */

typedef enum PolicyField
{
	PF_TENANT,
	PF_PARTNER,
	PF_PRODUCT,
	PF_REGION,
	PF_QUANTITY,
	PF_UNIT_PRICE,
	PF_ORDER_DATE,
	PF_STATUS,
	PF_KEY,
	PF_COUNT
} PolicyField;

#define PF_BIT(f) (1u << (f))

typedef struct PolicyRow
{
	TriggerData *trigdata;
	HeapTuple	tuple;			/* the row to return (NEW, or OLD on DELETE) */
	bool		standard;		/* rebate.order_line, read without arguments */
	bool		is_update;
	Oid			reader;			/* the owner of the table: queries run as it */
	AttrNumber	attnum[PF_COUNT];	/* 0: field not mapped */
	AttrNumber	order_attnum;	/* standard rows: order_line.order_id */
	int64		tenant_id;
	int64		partner_id;
	int64		product_id;
	int64		region_id;
	bool		has_region;
	int64		key;
	bool		has_key;
	DateADT		order_date;
	Numeric		quantity;
	Numeric		unit_price;
	OrderFacts	order;			/* standard rows: the order */
	bool		set_status_on_hold; /* review on an application's table: hold the row */
} PolicyRow;

/* Reads the row of a BEFORE INSERT/UPDATE row trigger.  'required' names the
 * fields the caller needs mapped on an application's table.  Returns false
 * when the row is not judged (a return or credit note on rebate's table). */
extern bool policy_row_load(PolicyRow *row, PolicySpi *spi, FunctionCallInfo fcinfo, const char *function,
							uint32 required);
/* The tuple to return, built after SPI has finished (in the caller's memory). */
extern HeapTuple policy_row_result(PolicyRow *row);
/* A line-policy trigger's whole body: load the row, judge it (when any of the
 * 'changed' fields changed; 0: always), return the row to write. */
typedef void (*PolicyJudge) (PolicySpi *spi, PolicyRow *row);
extern Datum policy_row_trigger(FunctionCallInfo fcinfo, const char *function, uint32 required, uint32 changed,
								PolicyJudge judge);
/* On UPDATE: whether any of these fields changed (always true on INSERT). */
extern bool policy_row_changed(PolicyRow *row, uint32 fields);
extern void policy_require_row_trigger(FunctionCallInfo fcinfo, const char *function, bool allow_delete);

/* ---- breaches ----------------------------------------------------------- */

typedef struct PolicyBreach
{
	const char *kind;			/* policy_violation.kind */
	PolicyMode	mode;
	int			sqlerrcode;
	char	   *message;
	char	   *detail;
	char	   *hint;
	Numeric		expected;
	Numeric		actual;
	Numeric		amount;
	int64		policy_id;		/* 0: none */
	int64		product_id;		/* 0: none */
	int64		source_id;
	bool		has_source_id;
	Oid			source_table;
	int64		order_id;		/* 0: none */
	int64		tenant_id;
	int64		partner_id;
	int64		region_id;		/* 0: none */
	DateADT		order_date;
	Numeric		quantity;
} PolicyBreach;

/* reject: raises the error.  review: records the violation, returns its id. */
extern int64 policy_breach(PolicySpi *spi, PolicyBreach *breach);
/* A breach filled in from a row of a line table. */
extern void policy_breach_for_row(PolicyBreach *breach, PolicyRow *row, const char *kind, PolicyMode mode);
/* After a review-mode breach on a line: hold the order (rebate's tables) or
 * set the mapped status column (an application's table). */
extern void policy_hold_row(PolicySpi *spi, PolicyRow *row, int64 violation_id);
extern void policy_hold_order(PolicySpi *spi, int64 order_id, const char *order_status, int64 violation_id);
/* "product "SKU" (name)", "partner "CODE" (name)", "region "name" (CODE)" */
extern void policy_names(PolicySpi *spi, Oid reader, int64 product_id, int64 partner_id, int64 region_id,
						 char **product, char **partner, char **region);
/* The refusals of region_policy.c, shared with the order trigger. */
extern void policy_fill_territory_breach(PolicyBreach *b, PolicySpi *spi, Oid reader, const char *partner,
										 const char *region, DateADT on_date, int64 partner_id);
extern void policy_fill_product_region_breach(PolicyBreach *b, const char *product, const char *region);
extern char *policy_numeric_text(Numeric value);
extern char *policy_date_text(DateADT date);
extern int	policy_numeric_cmp(Numeric a, Numeric b);

#endif
