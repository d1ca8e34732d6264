-- Turns a database's rebate extension into plain objects (ALTER EXTENSION
-- ... DROP of every member), so that pg_dump --schema-only prints their DDL:
-- pg_dump leaves extension members out.  test/upgrade.sh compares that DDL of
-- an updated install with a fresh one's.  Destroys the extension: run it on a
-- scratch database only.
DO $$
DECLARE
    member record;
BEGIN
    FOR member IN
        SELECT i.type, i.identity
          FROM pg_depend d
         CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) i
         WHERE d.deptype = 'e' AND d.refclassid = 'pg_extension'::regclass
           AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'rebate')
    LOOP
        EXECUTE format('ALTER EXTENSION rebate DROP %s %s', member.type, member.identity);
    END LOOP;
END
$$;
