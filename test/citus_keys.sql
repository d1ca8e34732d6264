-- What Citus 13 accepts of the extension's keys: run by test/citus_keys.sh on
-- a single-node Citus (the coordinator holds the shards).  Citus does not
-- distribute a table an extension owns (it recreates the table's sequences),
-- so the tables, sequences and views are first released from the extension;
-- its types and functions stay members, which Citus knows how to place.
-- tenant becomes a reference table (its code is unique across tenants) and
-- every table with tenant_id is distributed by it, colocated, in foreign-key
-- order; the foreign keys to tenant are added back once both sides are
-- placed.  Each attempt prints one TAP line.
-- Set aside, for the scale-out issue: access_binding (roles to tenants, keyed
-- by role, read on every node) with its foreign keys, the extension's own
-- bookkeeping tables, the row-level security policies, which read the
-- session's tenant once per query through a subquery, which Citus refuses in
-- policies of distributed tables, and the unique indexes on id, which keep
-- ids unique across tenants on one node and which a distributed deployment
-- trades for tenant-qualified lookups (made plain indexes here; both counts
-- are printed).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET citus.enable_unsafe_triggers = on;     -- the tables carry row triggers (audit, policy)
DO $$
DECLARE
    member record;
BEGIN
    FOR member IN
        SELECT i.type, i.identity
          FROM pg_depend d
         CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) i
         WHERE d.deptype = 'e' AND d.refclassid = 'pg_extension'::regclass AND d.classid = 'pg_class'::regclass
           AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'rebate')
    LOOP
        EXECUTE format('ALTER EXTENSION rebate DROP %s %s', member.type, member.identity);
    END LOOP;
END
$$;
ALTER TABLE rebate.access_binding DROP CONSTRAINT access_binding_tenant_id_partner_id_fkey;
CREATE TEMP TABLE unique_ids AS
SELECT c.relname AS idx, i.indrelid::regclass AS tbl
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relnamespace = 'rebate'::regnamespace AND c.relname LIKE '%\_by\_id' AND i.indisunique;
DO $$
DECLARE
    u record;
BEGIN
    FOR u IN SELECT * FROM unique_ids LOOP
        EXECUTE format('DROP INDEX rebate.%I', u.idx);
        EXECUTE format('CREATE INDEX %I ON %s (id)', u.idx, u.tbl);
    END LOOP;
END
$$;
CREATE TEMP TABLE set_aside AS
SELECT p.polrelid::regclass AS tbl, p.polname
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
 WHERE c.relnamespace = 'rebate'::regnamespace;
DO $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT * FROM set_aside LOOP
        EXECUTE format('DROP POLICY %I ON %s', p.polname, p.tbl);
    END LOOP;
END
$$;
-- the foreign keys to tenant and to the catalogs without tenant_id (request_type, notification_event)
CREATE TEMP TABLE to_tenant AS
SELECT f.conrelid::regclass AS tbl, f.conname, pg_get_constraintdef(f.oid) AS def, f.confrelid::regclass AS target
  FROM pg_constraint f
 WHERE f.contype = 'f' AND f.connamespace = 'rebate'::regnamespace
   AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = f.confrelid AND a.attname = 'tenant_id');
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT * FROM to_tenant LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', f.tbl, f.conname);
    END LOOP;
END
$$;
SELECT create_reference_table(t) FROM (SELECT DISTINCT target AS t FROM to_tenant ORDER BY 1) r \g /dev/null

CREATE TEMP TABLE placed (n serial, tbl regclass, ok boolean, what text DEFAULT 'distributed by tenant_id', error text);
DO $$
DECLARE
    t       regclass;
    pending regclass[];
    progress boolean := true;
    first    regclass;
    f        record;
BEGIN
    SELECT array_agg(c.oid::regclass ORDER BY c.relname) INTO pending
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
     WHERE c.relnamespace = 'rebate'::regnamespace AND c.relkind = 'r'
       AND c.oid NOT IN ('rebate.access_binding'::regclass, 'rebate.tenant'::regclass);
    -- foreign-key order: a table once every table it refers to is placed
    WHILE progress AND cardinality(pending) > 0 LOOP
        progress := false;
        FOREACH t IN ARRAY pending LOOP
            CONTINUE WHEN EXISTS (SELECT 1 FROM pg_constraint k
                                   WHERE k.conrelid = t AND k.contype = 'f' AND k.confrelid <> t
                                     AND k.confrelid = ANY (pending));
            BEGIN
                PERFORM create_distributed_table(t, 'tenant_id', colocate_with => coalesce(first::text, 'default'));
                first := coalesce(first, t);
                INSERT INTO placed (tbl, ok) VALUES (t, true);
            EXCEPTION WHEN OTHERS THEN
                INSERT INTO placed (tbl, ok, error) VALUES (t, false, SQLERRM);
            END;
            pending := array_remove(pending, t);
            progress := true;
        END LOOP;
    END LOOP;
    FOREACH t IN ARRAY pending LOOP
        INSERT INTO placed (tbl, ok, error) VALUES (t, false, 'a foreign-key cycle kept it from being placed');
    END LOOP;

END
$$;
-- (a transaction of its own: Citus adds a foreign key to a reference table
-- only where no parallel operation on a distributed table came before)
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT * FROM to_tenant WHERE tbl <> 'rebate.access_binding'::regclass ORDER BY 1, 2 LOOP
        BEGIN
            EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', f.tbl, f.conname, f.def);
            INSERT INTO placed (tbl, ok, what) VALUES (f.tbl, true, 'foreign key ' || f.conname || ' to the reference table ' || f.target);
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO placed (tbl, ok, what, error) VALUES (f.tbl, false, 'foreign key ' || f.conname, SQLERRM);
        END;
    END LOOP;
END
$$;
\pset format unaligned
\pset tuples_only on
SELECT format('1..%s', count(*)) FROM placed;
SELECT format('# set aside: %s row-level security policies on %s tables (subqueries, which Citus refuses in policies)',
              count(*), count(DISTINCT tbl)) FROM set_aside;
SELECT format('# set aside: %s unique indexes on id, made plain indexes (ids unique across tenants on one node)',
              count(*)) FROM unique_ids;
SELECT format('%s %s - %s %s%s', CASE WHEN ok THEN 'ok' ELSE 'not ok' END, n, tbl, what,
              CASE WHEN ok THEN '' ELSE ': ' || error END)
  FROM placed ORDER BY n;
