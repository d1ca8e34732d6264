-- The attack suite, part 3: everything a role can read or plainly write,
-- taken from the catalog, so that a new table or view is attacked the day it
-- appears.  Every relation a rebate role may read is read by every attacker
-- (test/attack/fixture.sql) with a leaky function on each column it may read:
-- neither the rows nor what the function is shown carry a value hidden from
-- that attacker.  Every table it may update or delete from is updated and
-- deleted from where the hidden rows are: nothing changes.  Every table is
-- inserted into for the other brand: refused, nothing quoted.  Views readable
-- by a user role are security_invoker or security_barrier; internal ones are
-- unreadable; attestation columns are stamped or unwritable.  The rollups
-- read as channel facts (rebate.channel_rollup) show each attacker exactly
-- what rebate.channel_fact shows it of the documents, costs hidden alike, and
-- so do the reports and rebate.period_kpis made of them.
BEGIN;
SELECT plan(130);
\ir ../attack/fixture.sql
-- each module's rows (test/attack/MODULE_reads.sql, each with its fixture)
\ir ../attack/registrations_reads.sql
\ir ../attack/announcements_reads.sql
\ir ../attack/leads_reads.sql
\ir ../attack/onboarding_reads.sql
\ir ../attack/contracts_reads.sql
\ir ../attack/certification_reads.sql
\ir ../attack/inventory_reads.sql

-- April's documents, alike in both brands: S1 orders (one unit of the first
-- product, so that its cost is the brand's marker), is delivered on time,
-- returns and gets a credit note; its sibling S2 orders more, is delivered
-- late and gets a credit note; O orders.  Every attacker below reads them
-- (and the rollups, kept by the triggers) with the fixture's.
CREATE FUNCTION attack.add_documents(t bigint, m text, sibling text, outside text) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    b bigint := t * 100;
BEGIN
    INSERT INTO rebate.sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status, promised_on)
    VALUES
        (b + 63, t, m || 'O63', b + 12, b + 3, '2026-04-02', 'approved', '2026-04-10'),
        (b + 66, t, sibling || 'O66', b + 13, b + 3, '2026-04-03', 'approved', '2026-04-05'),
        (b + 68, t, outside || 'O68', b + 14, b + 4, '2026-04-04', 'approved', NULL);
    INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES
        (t, b + 63, 1, b + 31, 1, 100), (t, b + 63, 2, b + 32, 2, 100),
        (t, b + 66, 1, b + 31, 4, 100), (t, b + 66, 2, b + 32, 6, 100), (t, b + 68, 1, b + 31, 2, 100);
    UPDATE rebate.sales_order SET status = 'shipped' WHERE id IN (b + 63, b + 66);
    UPDATE rebate.sales_order SET status = 'delivered', delivered_on = CASE id WHEN b + 63 THEN date '2026-04-08'
                                                                              ELSE date '2026-04-09' END
     WHERE id IN (b + 63, b + 66);
    INSERT INTO rebate.sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status, kind,
                                    original_order_id) VALUES
        (b + 64, t, m || 'R64', b + 12, b + 3, '2026-04-15', 'approved', 'return', b + 63),
        (b + 65, t, m || 'C65', b + 12, b + 3, '2026-04-16', 'approved', 'credit_note', b + 63),
        (b + 67, t, sibling || 'C67', b + 13, b + 3, '2026-04-17', 'approved', 'credit_note', b + 66);
    INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES
        (t, b + 64, 1, b + 32, 1, 100), (t, b + 65, 1, b + 31, 1, 15), (t, b + 67, 1, b + 32, 1, 7);
END
$$;
SELECT attack.add_documents(9401, 'ZQXA', 'ZQXS', 'ZQXO');
SELECT attack.add_documents(9402, 'ZQXB', 'ZQXB', 'ZQXB');

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

-- ---- the rollups as channel facts: what rebate.channel_fact shows, summed --------------------
-- What the calling role sees of the channel facts, in the rollups' grain (per tenant, partner, unit,
-- kind and day, month, quarter or year: quantity, amount, lines, whole orders), from rebate.channel_rollup or
-- from rebate.channel_fact; one line of text per key.
CREATE FUNCTION attack.channel_sums(source text) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT string_agg(format('%s/%s %s %s %s: %s/%s/%s/%s', s.tenant_id, s.partner_id, s.unit, s.kind, s.day,
                             trim_scale(s.quantity), trim_scale(s.amount), s.lines, s.orders),
                      '; ' ORDER BY s.tenant_id, s.partner_id, s.unit, s.kind, s.day)
      FROM (SELECT f.tenant_id, f.partner_id, f.unit, f.kind, f.day, sum(f.quantity) AS quantity, sum(f.amount) AS amount,
                   sum(f.lines) AS lines, coalesce(sum(f.orders) FILTER (WHERE f.product_id = 0), 0) AS orders
              FROM rebate.channel_rollup f WHERE source = 'rollup'
             GROUP BY 1, 2, 3, 4, 5
            UNION ALL
            SELECT f.tenant_id, f.partner_id, u.unit, f.kind,
                   date_trunc(u.unit, f.day)::date,
                   coalesce(sum(f.quantity), 0), sum(f.amount), count(*),
                   count(DISTINCT f.order_id) FILTER (WHERE f.kind = 'order')
              FROM rebate.channel_fact f CROSS JOIN (VALUES ('day'), ('month'), ('quarter'), ('year')) AS u (unit)
             WHERE source = 'fact'
             GROUP BY 1, 2, 3, 4, 5) s
$$;
-- What the calling role sees of costs, per partner and kind (month rows): the cost, and the amount and
-- number of the lines a margin is made of (lines with a cost it may see, and credit notes).
CREATE FUNCTION attack.cost_sums(source text) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT string_agg(format('%s %s: %s/%s/%s', s.partner_id, s.kind, trim_scale(s.cost), trim_scale(s.costed_amount),
                             s.costed_lines), '; ' ORDER BY s.partner_id, s.kind)
      FROM (SELECT f.partner_id, f.kind, sum(f.cost) AS cost, sum(f.costed_amount) AS costed_amount,
                   sum(f.costed_lines) AS costed_lines
              FROM rebate.channel_rollup f WHERE source = 'rollup' AND f.unit = 'month'
             GROUP BY 1, 2
            UNION ALL
            SELECT f.partner_id, f.kind, coalesce(sum(f.cost), 0),
                   coalesce(sum(f.amount) FILTER (WHERE f.cost IS NOT NULL OR f.kind = 'credit_note'), 0),
                   count(*) FILTER (WHERE f.cost IS NOT NULL OR f.kind = 'credit_note')
              FROM rebate.channel_fact f WHERE source = 'fact'
             GROUP BY 1, 2) s
$$;

SET SESSION AUTHORIZATION atk_s1;
SELECT is((SELECT string_agg(DISTINCT format('%s/%s', tenant_id, partner_id), ', ') FROM rebate.channel_rollup),
          '9401/940112', 'a dealer reads its own rollups only: not its sibling''s, its distributor''s, O''s or the other brand''s');
SELECT is(coalesce(attack.channel_sums('rollup'), 'no rollups'), coalesce(attack.channel_sums('fact'), 'no facts'),
          'and they add up, by day and by month, to exactly the documents channel_fact shows it');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_d1;
SELECT is((SELECT string_agg(DISTINCT format('%s/%s', tenant_id, partner_id), ', ') FROM rebate.channel_rollup),
          '9401/940112, 9401/940113', 'a distributor reads the rollups of its two dealers, not O''s (outside it)');
SELECT is(coalesce(attack.channel_sums('rollup'), 'no rollups'), coalesce(attack.channel_sums('fact'), 'no facts'),
          'and they add up to the documents channel_fact shows it');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_b_user;
SELECT is(coalesce(attack.channel_sums('rollup'), 'no rollups'), coalesce(attack.channel_sums('fact'), 'no facts'),
          'so do the other brand''s dealer''s');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_b;
SELECT is((SELECT string_agg(DISTINCT tenant_id::text, ', ') FROM rebate.channel_rollup), '9402',
          'another brand''s manager reads none of brand A''s rollups, only its own');
SELECT is(coalesce(attack.channel_sums('rollup'), 'no rollups'), coalesce(attack.channel_sums('fact'), 'no facts'),
          'and its own add up to its documents');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_a;
SELECT is(coalesce(attack.channel_sums('rollup'), 'no rollups'), coalesce(attack.channel_sums('fact'), 'no facts'),
          'as brand A''s manager''s add up to every document of its brand');
RESET SESSION AUTHORIZATION;
SELECT attack.attempt(actor, 'rebate.channel_rollup',
                      $q$DO $d$ BEGIN IF EXISTS (SELECT FROM rebate.channel_rollup)
                                        OR EXISTS (SELECT FROM rebate.channel_fact) THEN RAISE 'rows show'; END IF; END $d$$q$,
                      'a role with a group role but no binding of its own reads no rollups (as no channel facts), and no error',
                      '00000')
  FROM unnest(ARRAY['atk_loose', 'atk_mgr_a>rebate_manager', 'atk_s1>rebate_partner']) actor;
SELECT is((SELECT format('%s %s', o.sqlstate, o.message)
             FROM attack.run('atk_unbound', 'SELECT count(*) FROM rebate.channel_rollup') o),
          '42501 permission denied for view channel_rollup', 'a role without a group role may not read them at all');
SELECT attack.attempt('atk_s1', 'rebate.channel_rollup',
                      $$SELECT count(*) FROM rebate.channel_rollup
                         WHERE 1 / (CASE WHEN partner_id = 940113 OR tenant_id = 9402 THEN 0 ELSE 1 END) = 1$$,
                      'a dealer''s condition that fails on its sibling''s or the other brand''s rows never meets them '
                      '(the barrier holds)', '00000');

-- ---- costs: 0 to a partner user, margin only from credit notes; the cost columns closed -------
SET SESSION AUTHORIZATION atk_s1;
SELECT is(attack.cost_sums('rollup'), '940112 credit_note: 0/-15/1; 940112 order: 0/0/0; 940112 return: 0/0/0',
          'a dealer reads cost 0, and a margin base of its credit notes only (not the costed lines of its orders and returns)');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_d1;
SELECT is(coalesce(attack.cost_sums('rollup'), 'no rollups'), coalesce(attack.cost_sums('fact'), 'no facts'),
          'a distributor''s costs are those of channel_fact: none, credit notes apart');
SELECT is((SELECT count(*)::int FROM rebate.channel_rollup
            WHERE cost <> 0 OR costed_amount <> CASE kind WHEN 'credit_note' THEN amount ELSE 0 END
               OR costed_lines <> CASE kind WHEN 'credit_note' THEN lines ELSE 0 END),
          0, 'in no row, by day or by month');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_a;
SELECT is(coalesce(attack.cost_sums('rollup'), 'no rollups'), coalesce(attack.cost_sums('fact'), 'no facts'),
          'a manager reads the costs, as in channel_fact');
SELECT cmp_ok((SELECT sum(cost) FROM rebate.channel_rollup WHERE partner_id IN (940112, 940113)), '>', 0::numeric,
              'which are there to hide (the dealers'' lines have costs)');
RESET SESSION AUTHORIZATION;
SELECT attack.attempt('atk_s1', 'rebate.sales_rollup', $$SELECT cost FROM rebate.sales_rollup$$,
                      'a dealer may not read the cost column of the rollups', '42501');
SELECT attack.attempt('atk_s1', 'rebate.sales_rollup', $$SELECT costed_amount FROM rebate.sales_rollup$$,
                      'nor costed_amount (cost = costed_amount - margin)', '42501');
SELECT attack.attempt('atk_s1', 'rebate.sales_rollup', $$SELECT costed_lines FROM rebate.sales_rollup$$,
                      'nor costed_lines', '42501');
SELECT attack.attempt('atk_d1', 'rebate.sales_rollup', $$SELECT count(*) FROM rebate.sales_rollup WHERE cost > 61$$,
                      'nor filter on the cost (which would give it away row by row)', '42501');
SELECT attack.attempt('atk_d1', 'rebate.sales_rollup', $$SELECT attack.spy(r) FROM rebate.sales_rollup r$$,
                      'nor read whole rows', '42501');
SELECT attack.attempt('atk_s1>rebate_partner', 'rebate.sales_rollup', $$SELECT sum(costed_amount) FROM rebate.sales_rollup$$,
                      'nor may rebate_partner itself', '42501');
SET SESSION AUTHORIZATION atk_s1;
SELECT is((SELECT string_agg(DISTINCT format('%s %s', partner_id, of_sub_partners), ', ') FROM rebate.sales_rollup),
          '940112 f', 'what a dealer reads of the rollups is its own rows: not its distributor''s sums of its sibling and itself');
RESET SESSION AUTHORIZATION;

-- ---- the unfiltered view is the owner's ----------------------------------------------------
SELECT attack.attempt(actor, 'rebate.channel_rollup_all', $$SELECT count(*) FROM rebate.channel_rollup_all$$,
                      'the unfiltered rollups (channel_rollup_all) are refused', '42501')
  FROM unnest(ARRAY['atk_mgr_a', 'atk_s1', 'atk_d1', 'atk_admin', 'atk_loose']) actor;

-- ---- period_kpis: a caller's KPIs of what it sees ----------------------------------------------
-- Each partner's rebate.kpis from the channel facts the caller sees (rebate.channel_kpis), or from
-- rebate.period_kpis.
CREATE FUNCTION attack.kpis_by_partner(source text, tenant bigint, period daterange) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT string_agg(format('%s %s', k.partner_id, k.kpis), '; ' ORDER BY k.partner_id)
      FROM (SELECT p.partner_id, p.kpis FROM rebate.period_kpis(tenant, period) p WHERE source = 'period_kpis'
            UNION ALL
            SELECT f.partner_id, rebate.channel_kpis(f.kind, f.order_id, f.product_id, f.quantity, f.amount, f.cost,
                                                     f.promised_on, f.delivered_on)
              FROM rebate.channel_fact f
             WHERE source = 'fact' AND f.tenant_id = tenant AND f.day <@ period
             GROUP BY f.partner_id) k
$$;
SET SESSION AUTHORIZATION atk_s1;
SELECT is(coalesce(attack.kpis_by_partner('period_kpis', 9401, '[2026-01-01,2026-07-01)'), 'no KPIs'),
          coalesce(attack.kpis_by_partner('fact', 9401, '[2026-01-01,2026-07-01)'), 'no facts'),
          'period_kpis gives a dealer its own KPIs only, those of the documents it sees (margin: its credit notes)');
SELECT is((SELECT string_agg(format('%s %s %s', partner_id, (kpis).orders, sales_target), ', ')
             FROM rebate.period_kpis(9401, '[2026-01-01,2026-07-01)')), '940112 2 ',
          'its two orders and no target: not its sibling''s orders or target');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_d1;
SELECT is(coalesce(attack.kpis_by_partner('period_kpis', 9401, '[2026-01-01,2026-07-01)'), 'no KPIs'),
          coalesce(attack.kpis_by_partner('fact', 9401, '[2026-01-01,2026-07-01)'), 'no facts'),
          'a distributor''s are those of its two dealers, as it sees them');
RESET SESSION AUTHORIZATION;
SELECT attack.attempt(a.actor, 'rebate.period_kpis(bigint,daterange)',
                      format($q$DO $d$ BEGIN IF EXISTS (SELECT FROM rebate.period_kpis(%s, '[2026-01-01,2026-07-01)')) THEN
                                                RAISE 'KPIs show'; END IF; END $d$$q$, a.tenant),
                      format('period_kpis of brand %s gives nothing to a role outside it', a.tenant), '00000')
  FROM (VALUES ('atk_mgr_b', 9401), ('atk_s1', 9402), ('atk_mgr_a>rebate_manager', 9401), ('atk_loose', 9401)) a (actor, tenant);

-- ---- the reports made of the rollups: a dealer's numbers are those of its own documents --------
-- rebate.v_region_performance (by region and its ancestors) and v_product_performance, by grain and
-- period, live or computed by rebate.channel_kpis from the channel facts the caller sees.
CREATE FUNCTION attack.region_report(source text) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT string_agg(format('%s %s %s: %s partners, net %s, gross %s, returns %s, credits %s, margin %s, qty %s, '
                             'orders %s, collected %s, on time %s, products %s',
                             x.region_id, x.grain, x.period_start, x.partners, trim_scale(x.net_sales),
                             trim_scale(x.gross_sales), trim_scale(x.returns), trim_scale(x.credit_notes),
                             trim_scale(x.gross_margin), trim_scale(x.quantity), x.orders, trim_scale(x.collected),
                             trim_scale(x.on_time_rate), x.products),
                      '; ' ORDER BY x.region_id, x.grain, x.period_start)
      FROM (SELECT v.region_id, v.grain, lower(v.period) AS period_start, v.partners, v.net_sales, v.gross_sales, v.returns,
                   v.credit_notes, v.gross_margin, v.quantity, v.orders, v.collected, v.on_time_rate, v.products
              FROM rebate.v_region_performance v WHERE source = 'view'
            UNION ALL
            SELECT k.region_id, k.grain, k.period_start, k.partners, (k.k).net_sales, (k.k).gross_sales, (k.k).returns,
                   (k.k).credit_notes,
                   -- the reports show margins only to roles that may read costs
                   CASE WHEN rebate.sees_costs() THEN (k.k).gross_margin END, (k.k).quantity, (k.k).orders, (k.k).collected,
                   (k.k).on_time_rate, (k.k).products
              FROM (SELECT a.region_id, g.grain, date_trunc(g.grain, f.day)::date AS period_start,
                           count(DISTINCT f.partner_id) AS partners,
                           rebate.channel_kpis(f.kind, f.order_id, f.product_id, f.quantity, f.amount, f.cost,
                                               f.promised_on, f.delivered_on) AS k
                      FROM rebate.channel_fact f
                      JOIN rebate.region r ON r.id = f.region_id
                     CROSS JOIN LATERAL unnest(r.path) AS a (region_id)
                     CROSS JOIN (VALUES ('month'), ('quarter'), ('year')) AS g (grain)
                     WHERE source = 'fact'
                     GROUP BY 1, 2, 3) k) x
$$;
CREATE FUNCTION attack.product_report(source text) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT string_agg(format('%s %s %s: %s partners, net %s, gross %s, returns %s, credits %s, margin %s, qty %s, '
                             'orders %s, on time %s',
                             x.product_id, x.grain, x.period_start, x.partners, trim_scale(x.net_sales),
                             trim_scale(x.gross_sales), trim_scale(x.returns), trim_scale(x.credit_notes),
                             trim_scale(x.gross_margin), trim_scale(x.quantity), x.orders, trim_scale(x.on_time_rate)),
                      '; ' ORDER BY x.product_id, x.grain, x.period_start)
      FROM (SELECT v.product_id, v.grain, lower(v.period) AS period_start, v.partners, v.net_sales, v.gross_sales,
                   v.returns, v.credit_notes, v.gross_margin, v.quantity, v.orders, v.on_time_rate
              FROM rebate.v_product_performance v WHERE source = 'view'
            UNION ALL
            SELECT k.product_id, k.grain, k.period_start, k.partners, (k.k).net_sales, (k.k).gross_sales, (k.k).returns,
                   (k.k).credit_notes,
                   -- the reports show margins only to roles that may read costs
                   CASE WHEN rebate.sees_costs() THEN (k.k).gross_margin END, (k.k).quantity, (k.k).orders, (k.k).on_time_rate
              FROM (SELECT f.product_id, g.grain, date_trunc(g.grain, f.day)::date AS period_start,
                           count(DISTINCT f.partner_id) AS partners,
                           rebate.channel_kpis(f.kind, f.order_id, f.product_id, f.quantity, f.amount, f.cost,
                                               f.promised_on, f.delivered_on) AS k
                      FROM rebate.channel_fact f
                     CROSS JOIN (VALUES ('month'), ('quarter'), ('year')) AS g (grain)
                     WHERE source = 'fact' AND f.kind <> 'payment'
                     GROUP BY 1, 2, 3) k) x
$$;
SET SESSION AUTHORIZATION atk_s1;
SELECT is(coalesce(attack.region_report('view'), 'no rows'), coalesce(attack.region_report('fact'), 'no facts'),
          'a dealer''s v_region_performance is what its own documents make: no order, delivery or amount of its sibling');
SELECT is(coalesce(attack.product_report('view'), 'no rows'), coalesce(attack.product_report('fact'), 'no facts'),
          'so is its v_product_performance');
SELECT is((SELECT format('%s %s', r.orders, p.orders) FROM rebate.v_region_performance r, rebate.v_product_performance p
            WHERE r.region_id = 940103 AND r.grain = 'month' AND r.period_name = '2026-04'
              AND p.product_id = 940132 AND p.grain = 'month' AND p.period_name = '2026-04'),
          '1 1', 'in April it counts one order in Shanghai and one of the second product: its own');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_a;
SELECT is((SELECT format('%s %s', r.orders, p.orders) FROM rebate.v_region_performance r, rebate.v_product_performance p
            WHERE r.region_id = 940103 AND r.grain = 'month' AND r.period_name = '2026-04'
              AND p.product_id = 940132 AND p.grain = 'month' AND p.period_name = '2026-04'),
          '2 2', 'where its manager counts the sibling''s order too');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_d1;
SELECT is(coalesce(attack.region_report('view'), 'no rows'), coalesce(attack.region_report('fact'), 'no facts'),
          'a distributor''s v_region_performance is what its dealers'' documents make: nothing of O''s');
SELECT is(coalesce(attack.product_report('view'), 'no rows'), coalesce(attack.product_report('fact'), 'no facts'),
          'so is its v_product_performance');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_b_user;
SELECT is(coalesce(attack.region_report('view'), 'no rows') || E'\n' || coalesce(attack.product_report('view'), 'no rows'),
          coalesce(attack.region_report('fact'), 'no facts') || E'\n' || coalesce(attack.product_report('fact'), 'no facts'),
          'and the other brand''s dealer''s reports are those of its own documents (costs hidden)');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_b;
SELECT is(coalesce(attack.region_report('view'), 'no rows') || E'\n' || coalesce(attack.product_report('view'), 'no rows'),
          coalesce(attack.region_report('fact'), 'no facts') || E'\n' || coalesce(attack.product_report('fact'), 'no facts'),
          'as its manager''s are those of its brand''s documents (with costs), nothing of brand A');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
