/*
 * policy_cache.c — what the policy triggers remember between rows, and when
 * they forget it.
 *
 * Policy facts (tenant settings, partners, price-policy candidates,
 * territories, product authorisations, the tenant of a product or region,
 * whether a table's owner manages a tenant) are cached per backend.  Any write to
 * a table they come from fires rebate.policy_changed(), an AFTER STATEMENT
 * trigger that queues a relcache invalidation of that table: this backend
 * processes it at the end of the statement, every other one when it commits,
 * and the relcache callback below drops the whole cache.  Each trigger call
 * also accepts pending invalidations first, so a commit elsewhere is seen
 * from the next row on.  (The Citus metadata cache works the same way.)
 *
 * The order a line belongs to changes too often for that: it is remembered
 * only while neither the transaction nor its command counter moves, that is
 * for the rows of one statement as long as nothing was written meanwhile
 * and no savepoint was rolled back.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "policy.h"

PG_FUNCTION_INFO_V1(rebate_policy_changed);

#define CACHE_MAX_ENTRIES 200000

/* Tables whose writes invalidate the cache. */
static const char *const watched_names[] = {
	"enforcement_setting", "price_policy", "product", "product_category",
	"product_region", "partner", "partner_territory", "region", "access_binding"
};
#define N_WATCHED lengthof(watched_names)
static const char *const rel_names[REL_COUNT] = {"order_line", "sales_order", "policy_violation"};

static bool callbacks_registered = false;
static bool names_resolved = false;
static Oid	watched_oids[N_WATCHED];
static Oid	rel_oids[REL_COUNT];
static Oid	rel_owners[REL_COUNT];

static MemoryContext cache_context = NULL;
static HTAB *cache = NULL;

typedef enum CacheKind
{
	CACHE_SETTINGS = 1,
	CACHE_PARTNER,
	CACHE_REGION_PATH,
	CACHE_PRODUCT_POLICIES,
	CACHE_TERRITORIES,
	CACHE_PRODUCT_REGION,
	CACHE_VISIBLE,
	CACHE_TENANT_OF,
	CACHE_MANAGES
} CacheKind;

typedef struct CacheKey
{
	int32		kind;
	Oid			reader;
	int64		a;
	int64		b;
	int64		c;
	int32		d;
	int32		flags;
} CacheKey;

typedef struct CacheEntry
{
	CacheKey	key;
	void	   *payload;
	bool		yes;
} CacheEntry;

/* the per-statement order */
static uint64 xact_generation = 0;
static bool order_cached = false;
static OrderFacts cached_order;
static Oid	cached_order_reader;
static uint64 cached_order_generation;
static CommandId cached_order_command;

static void
cache_flush(void)
{
	cache = NULL;
	if (cache_context != NULL)
		MemoryContextReset(cache_context);
	names_resolved = false;
}

static void
relcache_callback(Datum arg, Oid relid)
{
	(void) arg;
	if (cache == NULL && !names_resolved)
		return;
	if (relid == InvalidOid)
	{
		cache_flush();
		return;
	}
	for (int i = 0; i < (int) N_WATCHED; i++)
		if (watched_oids[i] == relid)
		{
			cache_flush();
			return;
		}
	for (int i = 0; i < REL_COUNT; i++)
		if (rel_oids[i] == relid)
		{
			names_resolved = false; /* the owner may have changed */
			return;
		}
}

static void
xact_callback(XactEvent event, void *arg)
{
	(void) event;
	(void) arg;
	xact_generation++;
	order_cached = false;
}

/*
 * A rolled-back savepoint (or a PL/pgSQL exception block) undoes writes
 * without moving the command counter back past the cached order, so any
 * subtransaction end forgets it.
 */
static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	(void) event;
	(void) mySubid;
	(void) parentSubid;
	(void) arg;
	xact_generation++;
	order_cached = false;
}

static Oid
relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

static void
resolve_names(void)
{
	Oid			schema = get_namespace_oid("rebate", false);

	for (int i = 0; i < (int) N_WATCHED; i++)
		watched_oids[i] = get_relname_relid(watched_names[i], schema);
	for (int i = 0; i < REL_COUNT; i++)
	{
		rel_oids[i] = get_relname_relid(rel_names[i], schema);
		if (!OidIsValid(rel_oids[i]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table rebate.%s does not exist", rel_names[i]),
					 errhint("The rebate extension is incompletely installed; reinstall it.")));
		rel_owners[i] = relation_owner(rel_oids[i]);
	}
	names_resolved = true;
}

void
policy_cache_begin(void)
{
	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(relcache_callback, (Datum) 0);
		RegisterXactCallback(xact_callback, NULL);
		RegisterSubXactCallback(subxact_callback, NULL);
		cache_context = AllocSetContextCreate(CacheMemoryContext, "rebate policy cache",
											  ALLOCSET_DEFAULT_SIZES);
		callbacks_registered = true;
	}
	AcceptInvalidationMessages();
	if (!names_resolved)
		resolve_names();
}

Oid
policy_rel(PolicyRel which)
{
	if (!names_resolved)
		resolve_names();
	return rel_oids[which];
}

Oid
policy_rel_owner(PolicyRel which)
{
	if (!names_resolved)
		resolve_names();
	return rel_owners[which];
}

static CacheEntry *
cache_find(CacheKey *key)
{
	if (cache == NULL)
		return NULL;
	return (CacheEntry *) hash_search(cache, key, HASH_FIND, NULL);
}

/* Call only after the query that computed the payload: it may have flushed. */
static CacheEntry *
cache_enter(CacheKey *key)
{
	CacheEntry *entry;
	bool		found;

	if (cache != NULL && hash_get_num_entries(cache) >= CACHE_MAX_ENTRIES)
		cache_flush();
	if (cache == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(CacheKey);
		ctl.entrysize = sizeof(CacheEntry);
		ctl.hcxt = cache_context;
		cache = hash_create("rebate policy cache", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = (CacheEntry *) hash_search(cache, key, HASH_ENTER, &found);
	entry->payload = NULL;
	entry->yes = false;
	return entry;
}

static void
make_key(CacheKey *key, CacheKind kind, Oid reader, int64 a, int64 b, int64 c, int32 d, int32 flags)
{
	memset(key, 0, sizeof(*key));
	key->kind = kind;
	key->reader = reader;
	key->a = a;
	key->b = b;
	key->c = c;
	key->d = d;
	key->flags = flags;
}

static Numeric
copy_numeric(Numeric value, MemoryContext context)
{
	MemoryContext old;
	Numeric		copy;

	if (value == NULL)
		return NULL;
	old = MemoryContextSwitchTo(context);
	copy = DatumGetNumeric(datumCopy(NumericGetDatum(value), false, -1));
	MemoryContextSwitchTo(old);
	return copy;
}

static Numeric
spi_numeric(int row, int column)
{
	bool		isnull;
	Datum		value = policy_spi_value(row, column, &isnull);

	return isnull ? NULL : DatumGetNumeric(value);
}

static int64
spi_int64(int row, int column)
{
	bool		isnull;
	Datum		value = policy_spi_value(row, column, &isnull);

	return isnull ? 0 : DatumGetInt64(value);
}

static PolicyMode
mode_of(const char *word)
{
	if (word != NULL && strcmp(word, "review") == 0)
		return MODE_REVIEW;
	if (word != NULL && strcmp(word, "allow") == 0)
		return MODE_ALLOW;
	return MODE_REJECT;
}

/* ---- tenant settings ----------------------------------------------------- */

static SavedPlan settings_plan = {
	"SELECT no_price_policy, territory, product_region, credit, credit_tolerance"
	"  FROM rebate.enforcement_setting WHERE tenant_id OPERATOR(pg_catalog.=) $1",
	1, {INT8OID}, NULL
};

void
policy_tenant_settings(PolicySpi *spi, Oid reader, int64 tenant_id, TenantSettings *out)
{
	CacheKey	key;
	CacheEntry *entry;
	TenantSettings *cached;

	make_key(&key, CACHE_SETTINGS, reader, tenant_id, 0, 0, 0, 0);
	entry = cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(tenant_id);
		TenantSettings found;

		if (policy_spi_run(spi, &settings_plan, reader, &arg, NULL) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("tenant %lld has no enforcement settings", (long long) tenant_id),
					 errhint("INSERT INTO rebate.enforcement_setting (tenant_id) VALUES (%lld) restores the defaults.",
							 (long long) tenant_id)));
		found.no_price_policy = mode_of(policy_spi_text(0, 1));
		found.territory = mode_of(policy_spi_text(0, 2));
		found.product_region = mode_of(policy_spi_text(0, 3));
		found.credit = mode_of(policy_spi_text(0, 4));
		found.credit_tolerance = copy_numeric(spi_numeric(0, 5), cache_context);
		entry = cache_enter(&key);
		cached = MemoryContextAlloc(cache_context, sizeof(TenantSettings));
		*cached = found;
		entry->payload = cached;
	}
	cached = (TenantSettings *) entry->payload;
	*out = *cached;
	out->credit_tolerance = copy_numeric(cached->credit_tolerance, CurrentMemoryContext);
}

/* ---- partners ------------------------------------------------------------ */

static SavedPlan partner_plan = {
	"SELECT tenant_id, state, state_changed_at::date, grade_id FROM rebate.partner WHERE id OPERATOR(pg_catalog.=) $1",
	1, {INT8OID}, NULL
};

bool
policy_partner(PolicySpi *spi, Oid reader, int64 partner_id, PartnerFacts *out)
{
	CacheKey	key;
	CacheEntry *entry;

	make_key(&key, CACHE_PARTNER, reader, partner_id, 0, 0, 0, 0);
	entry = cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(partner_id);
		PartnerFacts *facts = NULL;

		if (policy_spi_run(spi, &partner_plan, reader, &arg, NULL) == 1)
		{
			bool		isnull;

			facts = MemoryContextAllocZero(cache_context, sizeof(PartnerFacts));
			facts->tenant_id = spi_int64(0, 1);
			strlcpy(facts->state, policy_spi_text(0, 2), sizeof(facts->state));
			facts->state_since = DatumGetDateADT(policy_spi_value(0, 3, &isnull));
			facts->grade_id = spi_int64(0, 4);
		}
		entry = cache_enter(&key);
		entry->payload = facts;
	}
	if (entry->payload == NULL)
		return false;
	*out = *(PartnerFacts *) entry->payload;
	return true;
}

/* ---- region paths ---------------------------------------------------------- */

typedef struct RegionPath
{
	int			length;
	int64		ids[FLEXIBLE_ARRAY_MEMBER];
} RegionPath;

static SavedPlan region_path_plan = {
	"SELECT pg_catalog.unnest(path) FROM rebate.region WHERE id OPERATOR(pg_catalog.=) $1",
	1, {INT8OID}, NULL
};

/* The region ids a query gives for one id, cached; valid until the next query. */
static const RegionPath *
cached_region_ids(PolicySpi *spi, SavedPlan *plan, CacheKind kind, Oid reader, int64 id)
{
	CacheKey	key;
	CacheEntry *entry;

	make_key(&key, kind, reader, id, 0, 0, 0, 0);
	entry = cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(id);
		uint64		n = policy_spi_run(spi, plan, reader, &arg, NULL);
		RegionPath *ids = MemoryContextAllocZero(cache_context,
												 offsetof(RegionPath, ids) + (n + 1) * sizeof(int64));

		ids->length = (int) n;
		for (uint64 i = 0; i < n; i++)
			ids->ids[i] = spi_int64(i, 1);
		entry = cache_enter(&key);
		entry->payload = ids;
	}
	return (const RegionPath *) entry->payload;
}

/*
 * The ids from the root down to the region; copied out, since the next
 * query may accept an invalidation that empties the cache.
 */
static RegionPath *
region_path(PolicySpi *spi, Oid reader, int64 region_id)
{
	const RegionPath *path = cached_region_ids(spi, &region_path_plan, CACHE_REGION_PATH, reader, region_id);
	Size		size = offsetof(RegionPath, ids) + (path->length + 1) * sizeof(int64);

	return memcpy(palloc(size), path, size);
}

static bool
path_contains(const RegionPath *path, int64 region_id)
{
	for (int i = 0; i < path->length; i++)
		if (path->ids[i] == region_id)
			return true;
	return false;
}

/* A validity period [from, until); 'unbounded' ends are flagged. */
typedef struct Validity
{
	DateADT		from;
	DateADT		until;
	bool		from_unbounded;
	bool		until_unbounded;
} Validity;

static void
read_validity(Validity *v, int row, int from_column, int until_column)
{
	bool		isnull;
	Datum		value;

	value = policy_spi_value(row, from_column, &isnull);
	v->from_unbounded = isnull;
	v->from = isnull ? 0 : DatumGetDateADT(value);
	value = policy_spi_value(row, until_column, &isnull);
	v->until_unbounded = isnull;
	v->until = isnull ? 0 : DatumGetDateADT(value);
}

static bool
valid_on(const Validity *v, DateADT date)
{
	return (v->from_unbounded || v->from <= date) && (v->until_unbounded || date < v->until);
}

/* ---- price policies of a product --------------------------------------------- */

typedef struct ProductPolicy
{
	PriceCandidate price;
	int64		grade_id;		/* 0: any grade */
	int64		region_id;		/* 0: everywhere */
	Validity	valid;
} ProductPolicy;

typedef struct ProductPolicies
{
	int			count;
	ProductPolicy items[FLEXIBLE_ARRAY_MEMBER];
} ProductPolicies;

static SavedPlan product_policies_plan = {
	"SELECT (c.policy).id, (c.policy).code, (c.policy).grade_id, (c.policy).region_id,"
	"       pg_catalog.lower((c.policy).valid), pg_catalog.upper((c.policy).valid), (c.policy).min_quantity,"
	"       l.floor_price, l.ceiling_price, (c.policy).enforcement OPERATOR(pg_catalog.=) 'review'"
	"  FROM rebate.product_price_policies($1) c"
	"  CROSS JOIN LATERAL rebate.policy_price_limits(c.policy, $1) l"
	" ORDER BY c.precedence",
	1, {INT8OID}, NULL
};

static const ProductPolicies *
product_policies(PolicySpi *spi, Oid reader, int64 product_id)
{
	CacheKey	key;
	CacheEntry *entry;

	make_key(&key, CACHE_PRODUCT_POLICIES, reader, product_id, 0, 0, 0, 0);
	entry = cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(product_id);
		uint64		n = policy_spi_run(spi, &product_policies_plan, reader, &arg, NULL);
		ProductPolicies *all;
		MemoryContext old;

		all = MemoryContextAllocZero(cache_context,
									 offsetof(ProductPolicies, items) + (n + 1) * sizeof(ProductPolicy));
		all->count = (int) n;
		for (uint64 i = 0; i < n; i++)
		{
			ProductPolicy *p = &all->items[i];
			bool		isnull;

			p->price.policy_id = spi_int64(i, 1);
			old = MemoryContextSwitchTo(cache_context);
			p->price.code = pstrdup(policy_spi_text(i, 2));
			MemoryContextSwitchTo(old);
			p->grade_id = spi_int64(i, 3);
			p->region_id = spi_int64(i, 4);
			read_validity(&p->valid, i, 5, 6);
			p->price.min_quantity = copy_numeric(spi_numeric(i, 7), cache_context);
			p->price.floor_price = copy_numeric(spi_numeric(i, 8), cache_context);
			p->price.ceiling_price = copy_numeric(spi_numeric(i, 9), cache_context);
			p->price.review = DatumGetBool(policy_spi_value(i, 10, &isnull));
		}
		entry = cache_enter(&key);
		entry->payload = all;
	}
	return (const ProductPolicies *) entry->payload;
}

/*
 * rebate.price_policy_candidates' filter, over the cached list: the first
 * policy (most specific first) for the partner's grade or any, for a region
 * on the sale region's path or everywhere, valid on the date, whose quantity
 * break the quantity reaches.
 */
bool
policy_effective_price(PolicySpi *spi, Oid reader, int64 product_id, int64 partner_id,
					   int64 region_id, bool has_region, DateADT on_date, Numeric quantity,
					   PriceCandidate *out)
{
	PartnerFacts partner;
	RegionPath *path = NULL;
	const ProductPolicies *all;

	if (!policy_partner(spi, reader, partner_id, &partner))
		return false;
	if (has_region)
		path = region_path(spi, reader, region_id);
	all = product_policies(spi, reader, product_id);	/* last lookup: nothing can flush it before use */
	for (int i = 0; i < all->count; i++)
	{
		const ProductPolicy *p = &all->items[i];

		if ((p->grade_id == 0 || p->grade_id == partner.grade_id) &&
			(p->region_id == 0 || (path != NULL && path_contains(path, p->region_id))) &&
			valid_on(&p->valid, on_date) &&
			policy_numeric_cmp(p->price.min_quantity, quantity) <= 0)
		{
			out->policy_id = p->price.policy_id;
			out->code = pstrdup(p->price.code);
			out->min_quantity = copy_numeric(p->price.min_quantity, CurrentMemoryContext);
			out->floor_price = copy_numeric(p->price.floor_price, CurrentMemoryContext);
			out->ceiling_price = copy_numeric(p->price.ceiling_price, CurrentMemoryContext);
			out->review = p->price.review;
			return true;
		}
	}
	return false;
}

/* ---- territories and product authorisation ----------------------------------- */

typedef struct Territory
{
	int64		region_id;
	Validity	valid;
} Territory;

typedef struct Territories
{
	int			count;
	Territory	items[FLEXIBLE_ARRAY_MEMBER];
} Territories;

static SavedPlan territories_plan = {
	"SELECT region_id, pg_catalog.lower(valid), pg_catalog.upper(valid) FROM rebate.partner_territory"
	" WHERE partner_id OPERATOR(pg_catalog.=) $1",
	1, {INT8OID}, NULL
};

/* rebate.in_territory, over the partner's cached territories */
bool
policy_in_territory(PolicySpi *spi, Oid reader, int64 partner_id, int64 region_id, DateADT on_date)
{
	CacheKey	key;
	CacheEntry *entry;
	RegionPath *path = region_path(spi, reader, region_id);
	const Territories *all;

	make_key(&key, CACHE_TERRITORIES, reader, partner_id, 0, 0, 0, 0);
	entry = cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(partner_id);
		uint64		n = policy_spi_run(spi, &territories_plan, reader, &arg, NULL);
		Territories *found = MemoryContextAllocZero(cache_context,
													offsetof(Territories, items) + (n + 1) * sizeof(Territory));

		found->count = (int) n;
		for (uint64 i = 0; i < n; i++)
		{
			found->items[i].region_id = spi_int64(i, 1);
			read_validity(&found->items[i].valid, i, 2, 3);
		}
		entry = cache_enter(&key);
		entry->payload = found;
	}
	all = (const Territories *) entry->payload;
	for (int i = 0; i < all->count; i++)
		if (valid_on(&all->items[i].valid, on_date) && path_contains(path, all->items[i].region_id))
			return true;
	return false;
}

static SavedPlan product_region_plan = {
	"SELECT region_id FROM rebate.product_region WHERE product_id OPERATOR(pg_catalog.=) $1",
	1, {INT8OID}, NULL
};

/* rebate.product_authorised, over the product's cached regions */
bool
policy_product_authorised(PolicySpi *spi, Oid reader, int64 product_id, int64 region_id)
{
	RegionPath *path = region_path(spi, reader, region_id);
	const RegionPath *authorised = cached_region_ids(spi, &product_region_plan, CACHE_PRODUCT_REGION,
													 reader, product_id);

	if (authorised->length == 0)
		return true;
	for (int i = 0; i < authorised->length; i++)
		if (path_contains(path, authorised->ids[i]))
			return true;
	return false;
}

/* ---- whether a role manages a tenant ------------------------------------ */

static SavedPlan manages_plan = {
	"SELECT rebate.may_manage(r.rolname, $2) FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) $1",
	2, {OIDOID, INT8OID}, NULL
};

bool
policy_role_manages(PolicySpi *spi, Oid role, int64 tenant_id)
{
	CacheKey	key;
	Datum		args[2] = {ObjectIdGetDatum(role), Int64GetDatum(tenant_id)};
	bool		isnull;

	if (superuser_arg(role))
		return true;
	make_key(&key, CACHE_MANAGES, role, tenant_id, 0, 0, 0, 0);
	if (cache_find(&key) != NULL)
		return true;
	/* asked as the extension's owner, who reads every binding; only a yes is
	 * remembered (bindings are watched, group memberships are not) */
	if (policy_spi_run(spi, &manages_plan, policy_rel_owner(REL_POLICY_VIOLATION), args, NULL) != 1 ||
		!DatumGetBool(policy_spi_value(0, 1, &isnull)) || isnull)
		return false;
	cache_enter(&key)->yes = true;
	return true;
}

/* ---- which tenant a product or region belongs to ----------------------- */

static SavedPlan tenant_of_plans[] = {
	[OWNED_PRODUCT] = {"SELECT tenant_id FROM rebate.product WHERE id OPERATOR(pg_catalog.=) $1", 1, {INT8OID}, NULL},
	[OWNED_REGION] = {"SELECT tenant_id FROM rebate.region WHERE id OPERATOR(pg_catalog.=) $1", 1, {INT8OID}, NULL}
};

int64
policy_tenant_of(PolicySpi *spi, Oid reader, PolicyOwned what, int64 id)
{
	CacheKey	key;
	CacheEntry *entry;

	make_key(&key, CACHE_TENANT_OF, reader, what, id, 0, 0, 0);
	entry = cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(id);
		int64		tenant = 0;
		int64	   *cached;

		if (policy_spi_run(spi, &tenant_of_plans[what], reader, &arg, NULL) == 1)
			tenant = spi_int64(0, 1);
		cached = MemoryContextAlloc(cache_context, sizeof(int64));
		*cached = tenant;
		entry = cache_enter(&key);
		entry->payload = cached;
	}
	return *(int64 *) entry->payload;
}

/* ---- what the writing role may see ---------------------------------------------- */

/* Whether the writing role sees a partner or a tenant: asked under its own
 * row-level security, before anything is read as the owner. */
static SavedPlan visible_plans[] = {
	{"SELECT EXISTS (SELECT 1 FROM rebate.partner WHERE id OPERATOR(pg_catalog.=) $1)", 1, {INT8OID}, NULL},
	{"SELECT EXISTS (SELECT 1 FROM rebate.tenant WHERE id OPERATOR(pg_catalog.=) $1)", 1, {INT8OID}, NULL}
};

static bool
writer_sees(PolicySpi *spi, int which, int64 id)
{
	Oid			writer = GetUserId();
	CacheKey	key;
	CacheEntry *entry;

	if (superuser_arg(writer))
		return true;
	make_key(&key, CACHE_VISIBLE, writer, id, 0, 0, 0, which);
	entry = cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(id);
		bool		isnull;

		policy_spi_run(spi, &visible_plans[which], writer, &arg, NULL);
		/* only sight is remembered: a role may come to see more (a group
		 * role granted) without any write to the tables watched */
		if (!DatumGetBool(policy_spi_value(0, 1, &isnull)))
			return false;
		entry = cache_enter(&key);
		entry->yes = true;
	}
	return entry->yes;
}

bool
policy_partner_visible(PolicySpi *spi, int64 partner_id)
{
	return writer_sees(spi, 0, partner_id);
}

bool
policy_tenant_visible(PolicySpi *spi, int64 tenant_id)
{
	return writer_sees(spi, 1, tenant_id);
}

/* ---- the order of a line, for one statement -------------------------------- */

/* FOR SHARE: a status change waits for the lines being written, and a line
 * written after a committed status change sees it. */
static SavedPlan order_plan = {
	"SELECT tenant_id, partner_id, ship_to_region_id, order_date, status, kind, code"
	"  FROM rebate.sales_order WHERE id OPERATOR(pg_catalog.=) $1 AND tenant_id OPERATOR(pg_catalog.=) $2 FOR SHARE",
	2, {INT8OID, INT8OID}, NULL
};

/* Only inside the line's tenant, which the callers have checked the writer
 * sees (policy_tenant_visible): another tenant's order is neither read nor
 * locked (FOR SHARE would let a writer hold up, and so detect, that tenant's
 * updates of it). */
bool
policy_order(PolicySpi *spi, Oid reader, int64 tenant_id, int64 order_id, OrderFacts *out)
{
	Datum		args[2];
	bool		isnull;

	if (order_cached && cached_order.order_id == order_id && cached_order.tenant_id == tenant_id &&
		cached_order_reader == reader &&
		cached_order_generation == xact_generation && cached_order_command == GetCurrentCommandId(false))
	{
		*out = cached_order;
		return true;
	}
	args[0] = Int64GetDatum(order_id);
	args[1] = Int64GetDatum(tenant_id);
	if (policy_spi_run(spi, &order_plan, reader, args, NULL) != 1)
		return false;
	memset(out, 0, sizeof(*out));
	out->order_id = order_id;
	out->tenant_id = spi_int64(0, 1);
	out->partner_id = spi_int64(0, 2);
	out->region_id = spi_int64(0, 3);
	out->order_date = DatumGetDateADT(policy_spi_value(0, 4, &isnull));
	strlcpy(out->status, policy_spi_text(0, 5), sizeof(out->status));
	strlcpy(out->kind, policy_spi_text(0, 6), sizeof(out->kind));
	strlcpy(out->code, policy_spi_text(0, 7), sizeof(out->code));
	cached_order = *out;
	cached_order_reader = reader;
	cached_order_generation = xact_generation;
	cached_order_command = GetCurrentCommandId(false);
	order_cached = true;
	return true;
}

/* ---- the invalidation trigger --------------------------------------------- */

Datum
rebate_policy_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("policy_changed must be called as an AFTER STATEMENT trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
