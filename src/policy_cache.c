/*
 * policy_cache.c — what the policy triggers remember between rows, and when
 * they forget it: the cache itself (policy_facts.c fills it).
 *
 * Policy facts (tenant settings, partners, price-policy candidates,
 * territories, product authorisations, certification requirements and
 * certificates, the tenant of a product or region, whether a table's owner
 * manages a tenant) are cached per backend.  Any write to
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
#include "policy_cache.h"

PG_FUNCTION_INFO_V1(rebate_policy_changed);

#define CACHE_MAX_ENTRIES 200000

/* Tables whose writes invalidate the cache. */
static const char *const watched_names[] = {
	"enforcement_setting", "price_policy", "product", "product_category",
	"product_region", "partner", "partner_territory", "region", "access_binding", "certification_requirement",
	"certification", "certificate"
};
#define N_WATCHED lengthof(watched_names)
static const char *const rel_names[REL_COUNT] = {"order_line", "sales_order", "policy_violation"};

static bool callbacks_registered = false;
static bool names_resolved = false;
static Oid	watched_oids[N_WATCHED];
static Oid	rel_oids[REL_COUNT];
static Oid	rel_owners[REL_COUNT];

MemoryContext policy_cache_context = NULL;
static HTAB *cache = NULL;

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
	if (policy_cache_context != NULL)
		MemoryContextReset(policy_cache_context);
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
		policy_cache_context = AllocSetContextCreate(CacheMemoryContext, "rebate policy cache",
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

CacheEntry *
policy_cache_find(CacheKey *key)
{
	if (cache == NULL)
		return NULL;
	return (CacheEntry *) hash_search(cache, key, HASH_FIND, NULL);
}

/* Call only after the query that computed the payload: it may have flushed. */
CacheEntry *
policy_cache_enter(CacheKey *key)
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
		ctl.hcxt = policy_cache_context;
		cache = hash_create("rebate policy cache", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = (CacheEntry *) hash_search(cache, key, HASH_ENTER, &found);
	entry->payload = NULL;
	entry->yes = false;
	return entry;
}

void
policy_cache_key(CacheKey *key, CacheKind kind, Oid reader, int64 a, int64 b, int64 c, int32 d, int32 flags)
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

/* ---- the order of a line, for one statement -------------------------------- */

/* Locked: a status change waits for the lines being written, and a line
 * written after a committed status change sees it.  FOR NO KEY UPDATE, not
 * FOR SHARE: the writers of one order's lines take turns, so that the rollup
 * trigger counts an order's distinct products and its paid day from lines no
 * one else is writing (the foreign keys' FOR KEY SHARE does not wait). */
static SavedPlan order_plan = {
	"SELECT tenant_id, partner_id, ship_to_region_id, order_date, status, kind, code"
	"  FROM rebate.sales_order WHERE id OPERATOR(pg_catalog.=) $1 AND tenant_id OPERATOR(pg_catalog.=) $2"
	"  FOR NO KEY UPDATE",
	2, {INT8OID, INT8OID}, NULL
};

/* Only inside the line's tenant, which the callers have checked the writer
 * sees (policy_tenant_visible): another tenant's order is neither read nor
 * locked (a lock would let a writer hold up, and so detect, that tenant's
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
	out->tenant_id = policy_spi_int64(0, 1);
	out->partner_id = policy_spi_int64(0, 2);
	out->region_id = policy_spi_int64(0, 3);
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
