/*
 * policy_cache.h — the per-backend cache of policy facts, for the files that
 * fill it (policy_facts.c) and the one that keeps it (policy_cache.c).
 * Entries are dropped together when a watched table changes; see
 * policy_cache.c.
 */
#ifndef REBATE_POLICY_CACHE_H
#define REBATE_POLICY_CACHE_H

#include "postgres.h"

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
	CACHE_MANAGES,
	CACHE_PRODUCT_CERTIFIED,
	CACHE_CERTIFICATES
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

/* Where payloads live; reset with the cache. */
extern MemoryContext policy_cache_context;

extern void policy_cache_key(CacheKey *key, CacheKind kind, Oid reader, int64 a, int64 b, int64 c, int32 d,
							 int32 flags);
extern CacheEntry *policy_cache_find(CacheKey *key);
/* Call only after the query that computed the payload: it may have flushed. */
extern CacheEntry *policy_cache_enter(CacheKey *key);

#endif
