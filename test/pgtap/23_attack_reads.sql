-- The attack suite, part 3: everything a role can read or plainly write,
-- taken from the catalog, so that a new table or view is attacked the day it
-- appears.  Every relation a rebate role may read is read by every attacker
-- (test/attack/fixture.sql) with a leaky function on each column it may read:
-- neither the rows nor what the function is shown carry a value hidden from
-- that attacker.  Every table it may update or delete from is updated and
-- deleted from where the hidden rows are: nothing changes.  Every table is
-- inserted into for the other brand: refused, nothing quoted.  Views readable
-- by a user role are security_invoker or security_barrier; internal ones are
-- unreadable; attestation columns are stamped or unwritable.
BEGIN;
SELECT plan(10);
\ir ../attack/fixture.sql

CREATE TABLE attack.actor (name text PRIMARY KEY, hidden text);
INSERT INTO attack.actor VALUES
    ('atk_mgr_a', 'tenant_id = 9402'),
    ('atk_d1', 'tenant_id = 9402 OR partner_id = 940114'),
    ('atk_s1', 'tenant_id = 9402 OR partner_id IN (940113, 940114)'),
    ('atk_b_user', 'tenant_id = 9401 OR partner_id <> 940212'),
    ('atk_loose', 'tenant_id IN (9401, 9402)'),
    ('atk_unbound', 'tenant_id IN (9401, 9402)'),
    ('atk_mgr_a>rebate_manager', 'tenant_id IN (9401, 9402)'),
    ('atk_s1>rebate_partner', 'tenant_id IN (9401, 9402)');

-- What an actor may do with a relation, judged as the role it acts as.
CREATE FUNCTION attack.columns(actor text, rel regclass, privilege text) RETURNS name[]
    LANGUAGE sql STABLE AS $$
    SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
     WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
       AND has_column_privilege(coalesce(nullif(split_part(actor, '>', 2), ''), actor), rel, a.attnum, privilege)
$$;

-- Each attacker reads the relation, a leaky spy on every column it may read;
-- returns the attacks that went wrong, or NULL.
CREATE FUNCTION attack.read_all(rel regclass) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    a record;
    cols name[];
    o attack.outcome;
    failures text[] := '{}';
    leak text;
BEGIN
    INSERT INTO attack.covered VALUES ('read:' || rel::text);
    FOR a IN SELECT * FROM attack.actor ORDER BY name LOOP
        cols := attack.columns(a.name, rel, 'SELECT');
        CONTINUE WHEN cols IS NULL;
        o := attack.run(a.name, format(
            'SELECT attack.spy(string_agg(concat_ws(''|'', %s), '','')) FROM %s x WHERE %s',
            (SELECT string_agg(format('x.%I', c), ', ') FROM unnest(cols) c), rel,
            (SELECT string_agg(format('attack.spy(x.%I)', c), ' AND ') FROM unnest(cols) c)));
        leak := attack.leaked(a.name, concat_ws(' ', o.message, o.detail, o.hint, o.seen));
        IF o.sqlstate <> '00000' OR leak IS NOT NULL THEN
            failures := failures || format('%s: %s %s leaked %s', a.name, o.sqlstate, o.message, leak);
        END IF;
    END LOOP;
    RETURN nullif(array_to_string(failures, '; '), '');
END
$$;

-- Each attacker updates and deletes, where the rows hidden from it are, in
-- every table it may update or delete from, and inserts a row for the other
-- tenant: nothing changes, nothing hidden is quoted.
CREATE FUNCTION attack.write_all(rel regclass) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    a record;
    cols name[];
    hidden text;
    statements text[];
    s text;
    o attack.outcome;
    failures text[] := '{}';
    leak text;
BEGIN
    INSERT INTO attack.covered VALUES ('write:' || rel::text);
    FOR a IN SELECT * FROM attack.actor ORDER BY name LOOP
        hidden := CASE WHEN EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = rel AND attname = 'partner_id') THEN a.hidden
                       ELSE regexp_replace(a.hidden, ' OR partner_id.*$', '') END;
        IF rel = 'rebate.tenant'::regclass THEN
            hidden := replace(hidden, 'tenant_id', 'id');
        END IF;
        statements := '{}';
        cols := attack.columns(a.name, rel, 'UPDATE');
        IF cols IS NOT NULL THEN
            statements := statements || format('UPDATE %s SET %I = %2$I WHERE %s', rel, cols[array_upper(cols, 1)], hidden);
        END IF;
        IF has_table_privilege(coalesce(nullif(split_part(a.name, '>', 2), ''), a.name), rel, 'DELETE') THEN
            statements := statements || format('DELETE FROM %s WHERE %s', rel, hidden);
        END IF;
        IF 'tenant_id' = ANY (attack.columns(a.name, rel, 'INSERT')) THEN
            statements := statements || format('INSERT INTO %s (tenant_id) VALUES (%s)', rel,
                                               CASE WHEN a.name LIKE 'atk_b%' THEN 9401 ELSE 9402 END);
        END IF;
        FOREACH s IN ARRAY statements LOOP
            o := attack.run(a.name, s);
            leak := attack.leaked(a.name, concat_ws(' ', o.message, o.detail, o.hint));
            IF o.changed OR leak IS NOT NULL THEN
                failures := failures || format('%s: %s -> %s %s (changed %s, leaked %s)', a.name, s, o.sqlstate, o.message,
                                               o.changed, leak);
            END IF;
        END LOOP;
    END LOOP;
    RETURN nullif(array_to_string(failures, '; '), '');
END
$$;

CREATE TEMP TABLE user_readable AS
SELECT c.oid::regclass AS rel, c.relkind
  FROM pg_class c
 WHERE c.relnamespace = 'rebate'::regnamespace AND c.relkind IN ('r', 'v', 'm')
   AND EXISTS (SELECT 1 FROM pg_roles r, pg_attribute a
                WHERE r.rolname IN ('rebate_admin', 'rebate_manager', 'rebate_partner')
                  AND a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                  AND has_column_privilege(r.oid, c.oid, a.attnum, 'SELECT'));

SELECT is((SELECT string_agg(rel::text || ': ' || attack.read_all(rel), E'\n' ORDER BY rel::text) FROM user_readable),
          NULL, 'no attacker reads, or shows a leaky function, a row hidden from it, in any table or view it may read');
SELECT is((SELECT string_agg(c.oid::regclass::text || ': ' || attack.write_all(c.oid), E'\n' ORDER BY c.oid::regclass::text)
             FROM pg_class c
            WHERE c.relnamespace = 'rebate'::regnamespace AND c.relkind = 'r'
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname IN ('tenant_id'))),
          NULL, 'no attacker updates, deletes or inserts a row hidden from it in any tenant table, nor learns one from the refusal');
SELECT is((SELECT count(*)::int FROM attack.covered WHERE object LIKE 'read:%'), (SELECT count(*)::int FROM user_readable),
          'every relation a rebate role may read was read by every attacker');
SELECT cmp_ok((SELECT count(*)::int FROM user_readable WHERE relkind = 'v'), '>=', 18, 'the views are among them');

-- ---- views: a barrier or the reader's own rights, and internal ones closed -------------------
SELECT is((SELECT array_agg(rel::text ORDER BY rel::text) FROM user_readable u JOIN pg_class c ON c.oid = u.rel
            WHERE u.relkind = 'v'
              AND NOT coalesce(c.reloptions && ARRAY['security_invoker=true', 'security_barrier=true'], false)),
          NULL, 'every view a rebate role may read is security_invoker or security_barrier');
SELECT is((SELECT array_agg(rel::text ORDER BY rel::text) FROM user_readable WHERE relkind = 'm'),
          NULL, 'no rebate role reads a materialized snapshot directly (only through its barrier view)');
SELECT is((SELECT array_agg(c.oid::regclass::text ORDER BY 1) FROM pg_class c
            WHERE c.relnamespace = 'rebate'::regnamespace AND c.relkind IN ('v', 'm')
              AND has_table_privilege('public', c.oid, 'SELECT')),
          NULL, 'PUBLIC reads no view');

-- ---- attestation columns: stamped by the server, or written by nobody --------------------------
SELECT is((SELECT array_agg(format('%s.%s', a.attrelid::regclass, a.attname) ORDER BY 1)
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = 'rebate'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
              AND (a.attname LIKE '%\_by' OR a.attname IN ('session_role', 'acting_role'))
              AND EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname IN ('rebate_admin', 'rebate_manager', 'rebate_partner')
                             AND (has_column_privilege(r.oid, c.oid, a.attnum, 'INSERT')
                                  OR has_column_privilege(r.oid, c.oid, a.attnum, 'UPDATE')))
              AND NOT EXISTS (SELECT 1 FROM pg_trigger t
                               WHERE t.tgrelid = c.oid AND t.tgname = 'attest'
                                 AND strpos(encode(t.tgargs, 'escape'), ':' || a.attname || ':') > 0)),
          NULL, 'every column that says who did something is stamped by the attest trigger or writable by no user role');
SELECT is((SELECT array_agg(format('%s.%s', a.attrelid::regclass, a.attname) ORDER BY 1)
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = 'rebate'::regnamespace AND c.relkind = 'r' AND a.attname = 'id'
              AND EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname IN ('rebate_admin', 'rebate_manager', 'rebate_partner')
                             AND (has_column_privilege(r.oid, c.oid, a.attnum, 'INSERT')
                                  OR has_column_privilege(r.oid, c.oid, a.attnum, 'UPDATE')))),
          NULL, 'no user role chooses an id (ids come from sequences the tenants share)');

SELECT is((SELECT array_agg(DISTINCT format('%s %s', c.oid::regclass, a.privilege_type))
             FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
            WHERE c.relnamespace = 'rebate'::regnamespace
              AND a.privilege_type IN ('REFERENCES', 'TRIGGER', 'TRUNCATE') AND a.grantee <> c.relowner),
          NULL, 'nobody but the owner may reference, trigger on or truncate an extension table (a foreign key onto one runs its checks as the owner)');

SELECT * FROM finish();
ROLLBACK;
