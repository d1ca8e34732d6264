-- Everything the rebate extension owns, with its definition, one line per
-- fact and sorted: two databases print the same text exactly when their
-- extensions are the same.  test/upgrade.sh compares a fresh install with an
-- install of the previous version updated with ALTER EXTENSION ... UPDATE.
\pset format unaligned
\pset tuples_only on
WITH ext AS (
    SELECT oid, extversion, extconfig, extcondition FROM pg_extension WHERE extname = 'rebate'
), members AS (
    SELECT d.classid, d.objid
      FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), facts AS (
    SELECT 'extension ' || extversion || ' config ' ||
           (SELECT string_agg(c::regclass::text, ',' ORDER BY c::regclass::text) FROM unnest(extconfig) AS c) AS fact
      FROM ext
    UNION ALL
    SELECT pg_describe_object(m.classid, m.objid, 0) || ' comment ' || coalesce(obj_description(m.objid), '-')
      FROM members m
    UNION ALL
    SELECT pg_describe_object(m.classid, m.objid, 0) || E'\n' ||
           CASE WHEN p.prokind = 'a' THEN
                    format('aggregate %s(%s) sfunc %s stype %s combine %s final %s parallel %s',
                           p.oid::regproc, pg_get_function_arguments(p.oid), a.aggtransfn, a.aggtranstype::regtype,
                           a.aggcombinefn, a.aggfinalfn, p.proparallel)
                ELSE pg_get_functiondef(p.oid) END || ' acl ' || coalesce(p.proacl::text, '-')
      FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
      LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
    UNION ALL
    SELECT format('column %s.%s %s %s default %s', c.oid::regclass, att.attname, format_type(att.atttypid, att.atttypmod),
                  CASE WHEN att.attnotnull THEN 'not null' ELSE 'null' END,
                  coalesce(pg_get_expr(ad.adbin, ad.adrelid), att.attidentity::text))
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
      JOIN pg_attribute att ON att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = att.attnum
    UNION ALL
    SELECT format('relation %s kind %s rls %s acl %s', c.oid::regclass, c.relkind, c.relrowsecurity, c.relacl)
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    SELECT format('constraint %s on %s: %s', con.conname, con.conrelid::regclass, pg_get_constraintdef(con.oid))
      FROM members m JOIN pg_constraint con ON m.classid = 'pg_class'::regclass AND con.conrelid = m.objid
    UNION ALL
    SELECT format('index %s', regexp_replace(pg_get_indexdef(i.indexrelid), 'INDEX \S+ ON', 'INDEX ON'))
      FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
    UNION ALL
    SELECT format('trigger %s', pg_get_triggerdef(t.oid))
      FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid AND NOT t.tgisinternal
    UNION ALL
    SELECT format('policy %s on %s %s roles %s using %s check %s', pol.polname, pol.polrelid::regclass, pol.polcmd,
                  pol.polroles::regrole[], pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid))
      FROM members m JOIN pg_policy pol ON m.classid = 'pg_class'::regclass AND pol.polrelid = m.objid
    UNION ALL
    SELECT format('view %s: %s options %s', c.oid::regclass, pg_get_viewdef(c.oid), c.reloptions)
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind = 'v'
    UNION ALL
    SELECT format('schema acl %s', n.nspacl) FROM pg_namespace n WHERE n.nspname = 'rebate'
)
SELECT fact FROM facts ORDER BY fact;
