/*
 * policy_facts.c — the facts the policy triggers judge by, read with saved
 * plans as the table's owner (or, for what the writer may see, as the writer)
 * and kept in the per-backend cache of policy_cache.c: tenant settings,
 * partners, region paths, the price policies of a product, territories,
 * product authorisations, the tenant of a product or region, whether a
 * role manages a tenant, and what the writing role sees.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/memutils.h"

#include "policy.h"
#include "policy_cache.h"

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

/* (certification through jsonb: a library newer than the installed SQL,
 * before ALTER EXTENSION ... UPDATE adds the column, reads it as allow) */
static SavedPlan settings_plan = {
	"SELECT no_price_policy, territory, product_region, credit, credit_tolerance,"
	"       pg_catalog.to_jsonb(s) OPERATOR(pg_catalog.->>) 'certification'"
	"  FROM rebate.enforcement_setting s WHERE tenant_id OPERATOR(pg_catalog.=) $1",
	1, {INT8OID}, NULL
};

void
policy_tenant_settings(PolicySpi *spi, Oid reader, int64 tenant_id, TenantSettings *out)
{
	CacheKey	key;
	CacheEntry *entry;
	TenantSettings *cached;

	policy_cache_key(&key, CACHE_SETTINGS, reader, tenant_id, 0, 0, 0, 0);
	entry = policy_cache_find(&key);
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
		found.credit_tolerance = copy_numeric(policy_spi_numeric(0, 5), policy_cache_context);
		found.certification = policy_spi_text(0, 6) ? mode_of(policy_spi_text(0, 6)) : MODE_ALLOW;
		entry = policy_cache_enter(&key);
		cached = MemoryContextAlloc(policy_cache_context, sizeof(TenantSettings));
		*cached = found;
		entry->payload = cached;
	}
	cached = (TenantSettings *) entry->payload;
	*out = *cached;
	out->credit_tolerance = copy_numeric(cached->credit_tolerance, CurrentMemoryContext);
}

/* ---- partners ------------------------------------------------------------ */

static SavedPlan partner_plan = {
	"SELECT tenant_id, state, state_changed_at::pg_catalog.date, grade_id FROM rebate.partner WHERE id OPERATOR(pg_catalog.=) $1",
	1, {INT8OID}, NULL
};

bool
policy_partner(PolicySpi *spi, Oid reader, int64 partner_id, PartnerFacts *out)
{
	CacheKey	key;
	CacheEntry *entry;

	policy_cache_key(&key, CACHE_PARTNER, reader, partner_id, 0, 0, 0, 0);
	entry = policy_cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(partner_id);
		PartnerFacts *facts = NULL;

		if (policy_spi_run(spi, &partner_plan, reader, &arg, NULL) == 1)
		{
			bool		isnull;

			facts = MemoryContextAllocZero(policy_cache_context, sizeof(PartnerFacts));
			facts->tenant_id = policy_spi_int64(0, 1);
			strlcpy(facts->state, policy_spi_text(0, 2), sizeof(facts->state));
			facts->state_since = DatumGetDateADT(policy_spi_value(0, 3, &isnull));
			facts->grade_id = policy_spi_int64(0, 4);
		}
		entry = policy_cache_enter(&key);
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

	policy_cache_key(&key, kind, reader, id, 0, 0, 0, 0);
	entry = policy_cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(id);
		uint64		n = policy_spi_run(spi, plan, reader, &arg, NULL);
		RegionPath *ids = MemoryContextAllocZero(policy_cache_context,
												 offsetof(RegionPath, ids) + (n + 1) * sizeof(int64));

		ids->length = (int) n;
		for (uint64 i = 0; i < n; i++)
			ids->ids[i] = policy_spi_int64(i, 1);
		entry = policy_cache_enter(&key);
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

	policy_cache_key(&key, CACHE_PRODUCT_POLICIES, reader, product_id, 0, 0, 0, 0);
	entry = policy_cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(product_id);
		uint64		n = policy_spi_run(spi, &product_policies_plan, reader, &arg, NULL);
		ProductPolicies *all;
		MemoryContext old;

		all = MemoryContextAllocZero(policy_cache_context,
									 offsetof(ProductPolicies, items) + (n + 1) * sizeof(ProductPolicy));
		all->count = (int) n;
		for (uint64 i = 0; i < n; i++)
		{
			ProductPolicy *p = &all->items[i];
			bool		isnull;

			p->price.policy_id = policy_spi_int64(i, 1);
			old = MemoryContextSwitchTo(policy_cache_context);
			p->price.code = pstrdup(policy_spi_text(i, 2));
			MemoryContextSwitchTo(old);
			p->grade_id = policy_spi_int64(i, 3);
			p->region_id = policy_spi_int64(i, 4);
			read_validity(&p->valid, i, 5, 6);
			p->price.min_quantity = copy_numeric(policy_spi_numeric(i, 7), policy_cache_context);
			p->price.floor_price = copy_numeric(policy_spi_numeric(i, 8), policy_cache_context);
			p->price.ceiling_price = copy_numeric(policy_spi_numeric(i, 9), policy_cache_context);
			p->price.review = DatumGetBool(policy_spi_value(i, 10, &isnull));
		}
		entry = policy_cache_enter(&key);
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

	policy_cache_key(&key, CACHE_TERRITORIES, reader, partner_id, 0, 0, 0, 0);
	entry = policy_cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(partner_id);
		uint64		n = policy_spi_run(spi, &territories_plan, reader, &arg, NULL);
		Territories *found = MemoryContextAllocZero(policy_cache_context,
													offsetof(Territories, items) + (n + 1) * sizeof(Territory));

		found->count = (int) n;
		for (uint64 i = 0; i < n; i++)
		{
			found->items[i].region_id = policy_spi_int64(i, 1);
			read_validity(&found->items[i].valid, i, 2, 3);
		}
		entry = policy_cache_enter(&key);
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

/* ---- product certification ------------------------------------------------ */

/* A requirement that covers a product (on itself or a category above it). */
typedef struct Requirement
{
	int64		certification_id;
	char	   *code;
	int			min_holders;
	Validity	valid;
} Requirement;

typedef struct Requirements
{
	int			count;
	Requirement items[FLEXIBLE_ARRAY_MEMBER];
} Requirements;

static SavedPlan requirements_plan = {
	"SELECT r.certification_id, cf.code, r.min_holders, pg_catalog.lower(r.valid), pg_catalog.upper(r.valid)"
	"  FROM rebate.product p"
	"  JOIN rebate.product_category c ON c.tenant_id OPERATOR(pg_catalog.=) p.tenant_id"
	"   AND c.id OPERATOR(pg_catalog.=) p.category_id"
	"  JOIN rebate.certification_requirement r ON r.tenant_id OPERATOR(pg_catalog.=) p.tenant_id"
	"   AND (r.product_id OPERATOR(pg_catalog.=) p.id OR r.category_id OPERATOR(pg_catalog.=) ANY (c.path))"
	"  JOIN rebate.certification cf ON cf.tenant_id OPERATOR(pg_catalog.=) r.tenant_id"
	"   AND cf.id OPERATOR(pg_catalog.=) r.certification_id"
	" WHERE p.id OPERATOR(pg_catalog.=) $1"
	" ORDER BY cf.code, r.id",
	1, {INT8OID}, NULL
};

/* The requirements covering a product, cached; valid until the next query. */
static const Requirements *
product_requirements(PolicySpi *spi, Oid reader, int64 product_id)
{
	CacheKey	key;
	CacheEntry *entry;

	policy_cache_key(&key, CACHE_PRODUCT_CERTIFIED, reader, product_id, 0, 0, 0, 0);
	entry = policy_cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(product_id);
		uint64		n = policy_spi_run(spi, &requirements_plan, reader, &arg, NULL);
		Requirements *found = MemoryContextAllocZero(policy_cache_context,
													 offsetof(Requirements, items) + (n + 1) * sizeof(Requirement));

		found->count = (int) n;
		for (uint64 i = 0; i < n; i++)
		{
			Requirement *r = &found->items[i];

			r->certification_id = policy_spi_int64(i, 1);
			r->code = MemoryContextStrdup(policy_cache_context, policy_spi_text(i, 2));
			r->min_holders = (int) policy_spi_int64(i, 3);
			read_validity(&r->valid, i, 4, 5);
		}
		entry = policy_cache_enter(&key);
		entry->payload = found;
	}
	return (const Requirements *) entry->payload;
}

bool
policy_product_needs_certification(PolicySpi *spi, Oid reader, int64 product_id)
{
	return product_requirements(spi, reader, product_id)->count > 0;
}

/* A partner's valid certificates of one certification: who holds each, from
 * when until when (the last day; no expiry: unbounded). */
typedef struct Held
{
	char	   *holder;			/* lower(btrim(holder_name)): one person, however written */
	DateADT		issued_on;
	DateADT		expires_on;
	bool		no_expiry;
} Held;

typedef struct HeldList
{
	int			count;
	Held		items[FLEXIBLE_ARRAY_MEMBER];
} HeldList;

static SavedPlan certificates_plan = {
	"SELECT pg_catalog.lower(pg_catalog.btrim(c.holder_name)), c.issued_on, c.expires_on"
	"  FROM rebate.certificate c"
	" WHERE c.partner_id OPERATOR(pg_catalog.=) $1 AND c.certification_id OPERATOR(pg_catalog.=) $2"
	"   AND c.status OPERATOR(pg_catalog.=) 'valid'",
	2, {INT8OID, INT8OID}, NULL
};

/* How many people of the partner hold a valid certificate on the day. */
static int
holders_on(PolicySpi *spi, Oid reader, int64 partner_id, int64 certification_id, DateADT on_date)
{
	CacheKey	key;
	CacheEntry *entry;
	const HeldList *held;
	int			holders = 0;

	policy_cache_key(&key, CACHE_CERTIFICATES, reader, partner_id, certification_id, 0, 0, 0);
	entry = policy_cache_find(&key);
	if (entry == NULL)
	{
		Datum		args[2] = {Int64GetDatum(partner_id), Int64GetDatum(certification_id)};
		uint64		n = policy_spi_run(spi, &certificates_plan, reader, args, NULL);
		HeldList   *found = MemoryContextAllocZero(policy_cache_context,
												   offsetof(HeldList, items) + (n + 1) * sizeof(Held));

		found->count = (int) n;
		for (uint64 i = 0; i < n; i++)
		{
			Held	   *h = &found->items[i];
			bool		isnull;
			Datum		value;

			h->holder = MemoryContextStrdup(policy_cache_context, policy_spi_text(i, 1));
			h->issued_on = DatumGetDateADT(policy_spi_value(i, 2, &isnull));
			value = policy_spi_value(i, 3, &isnull);
			h->no_expiry = isnull;
			h->expires_on = isnull ? 0 : DatumGetDateADT(value);
		}
		entry = policy_cache_enter(&key);
		entry->payload = found;
	}
	held = (const HeldList *) entry->payload;
	for (int i = 0; i < held->count; i++)
	{
		bool		counted = false;

		if (held->items[i].issued_on > on_date || (!held->items[i].no_expiry && held->items[i].expires_on < on_date))
			continue;
		for (int j = 0; j < i && !counted; j++)
			counted = strcmp(held->items[j].holder, held->items[i].holder) == 0 &&
				held->items[j].issued_on <= on_date &&
				(held->items[j].no_expiry || held->items[j].expires_on >= on_date);
		if (!counted)
			holders++;
	}
	return holders;
}

/*
 * As rebate.missing_certifications (certification.sql), from the cache: for
 * each certification a requirement in force on the day names (the most
 * holders any of them asks), whether enough people hold a valid certificate.
 */
char *
policy_missing_certifications(PolicySpi *spi, Oid reader, int64 partner_id, int64 product_id, DateADT on_date)
{
	const Requirements *cached = product_requirements(spi, reader, product_id);
	Size		size = offsetof(Requirements, items) + (cached->count + 1) * sizeof(Requirement);
	Requirements *req = memcpy(palloc(size), cached, size);	/* the next query may flush the cache */
	StringInfoData missing;

	initStringInfo(&missing);
	for (int i = 0; i < req->count; i++)
	{
		Requirement *r = &req->items[i];
		bool		judged = false;
		int			needed = r->min_holders;
		int			held;

		if (!valid_on(&r->valid, on_date))
			continue;
		for (int j = 0; j < req->count && !judged; j++)
			if (req->items[j].certification_id == r->certification_id && valid_on(&req->items[j].valid, on_date))
			{
				if (j < i)
					judged = true;	/* with the first of them */
				else
					needed = Max(needed, req->items[j].min_holders);
			}
		if (judged)
			continue;
		r->code = pstrdup(r->code);
		held = holders_on(spi, reader, partner_id, r->certification_id, on_date);
		if (held < needed)
			appendStringInfo(&missing, "%s%s (%d of %d holders)", missing.len > 0 ? ", " : "", r->code, held, needed);
	}
	return missing.len > 0 ? missing.data : NULL;
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
	policy_cache_key(&key, CACHE_MANAGES, role, tenant_id, 0, 0, 0, 0);
	if (policy_cache_find(&key) != NULL)
		return true;
	/* asked as the extension's owner, who reads every binding; only a yes is
	 * remembered (bindings are watched, group memberships are not) */
	if (policy_spi_run(spi, &manages_plan, policy_rel_owner(REL_POLICY_VIOLATION), args, NULL) != 1 ||
		!DatumGetBool(policy_spi_value(0, 1, &isnull)) || isnull)
		return false;
	policy_cache_enter(&key)->yes = true;
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

	policy_cache_key(&key, CACHE_TENANT_OF, reader, what, id, 0, 0, 0);
	entry = policy_cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(id);
		int64		tenant = 0;
		int64	   *cached;

		if (policy_spi_run(spi, &tenant_of_plans[what], reader, &arg, NULL) == 1)
			tenant = policy_spi_int64(0, 1);
		cached = MemoryContextAlloc(policy_cache_context, sizeof(int64));
		*cached = tenant;
		entry = policy_cache_enter(&key);
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
	policy_cache_key(&key, CACHE_VISIBLE, writer, id, 0, 0, 0, which);
	entry = policy_cache_find(&key);
	if (entry == NULL)
	{
		Datum		arg = Int64GetDatum(id);
		bool		isnull;

		policy_spi_run(spi, &visible_plans[which], writer, &arg, NULL);
		/* only sight is remembered: a role may come to see more (a group
		 * role granted) without any write to the tables watched */
		if (!DatumGetBool(policy_spi_value(0, 1, &isnull)))
			return false;
		entry = policy_cache_enter(&key);
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
