-- ---------------------------------------------------------------------------
-- Privilege rules that hold for every table and function of the extension,
-- applied once everything exists (each topic file grants its own objects;
-- these narrow the grants uniformly).  docs/security.md states them.
-- ---------------------------------------------------------------------------

-- A SECURITY DEFINER trigger function serves the extension's own tables, whose
-- triggers the install made: nobody may attach one to a table of its own
-- (EXECUTE is checked when a trigger is created, not when it fires).  Each
-- also refuses other tables before it touches the row, but a user's type in
-- the row could run the user's code (a cast) with the owner's rights.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = '@extschema@'::regnamespace AND p.prosecdef
                AND p.prorettype = 'pg_catalog.trigger'::regtype LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

-- ---- ids are the server's ----------------------------------------------------

-- Ids come from one sequence per table, shared by the tenants: a role that
-- chose its own ids could take the next ones of another tenant (whose inserts
-- would then fail) or probe which exist.  Nobody but the owner writes an id;
-- every other column keeps the privileges it had.  A partner user registers
-- an end customer as of today, never backdated (registered_on counts for the
-- new_customers metric), and protected by the rules (registrations.sql), not
-- by a status or a day of progress of its choosing.
DO $$
DECLARE
    grant_row record;
BEGIN
    FOR grant_row IN
        SELECT c.oid::regclass AS tbl, a.grantee::regrole AS grantee, a.privilege_type,
               (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(att.attname), ', ' ORDER BY att.attnum)
                  FROM pg_catalog.pg_attribute att
                 WHERE att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
                   AND att.attname <> 'id'
                   AND NOT (c.oid = '@extschema@.end_customer'::regclass
                            AND att.attname IN ('registered_on', 'status', 'last_progress_on', 'protected_until')
                            AND a.grantee = 'rebate_partner'::regrole)) AS columns
          FROM pg_catalog.pg_class c
          CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
         WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind = 'r'
           AND a.privilege_type IN ('INSERT', 'UPDATE')
           AND a.grantee IN ('rebate_admin'::regrole, 'rebate_manager'::regrole, 'rebate_partner'::regrole)
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute att
                        WHERE att.attrelid = c.oid AND att.attname = 'id' AND att.attidentity <> '')
         ORDER BY 1, 2, 3
    LOOP
        EXECUTE pg_catalog.format('REVOKE %s ON %s FROM %s', grant_row.privilege_type, grant_row.tbl, grant_row.grantee);
        EXECUTE pg_catalog.format('GRANT %s (%s) ON %s TO %s', grant_row.privilege_type, grant_row.columns,
                                  grant_row.tbl, grant_row.grantee);
    END LOOP;
END
$$;

-- ---- orders a partner user places are dated by the server ---------------------

-- The day an order counts in decides its period (and, once the period is
-- settled, whether it is paid as an adjustment): partner users do not choose
-- it, as they do not choose when they registered a customer.
REVOKE INSERT (order_date), UPDATE (order_date) ON @extschema@.sales_order FROM rebate_partner;

