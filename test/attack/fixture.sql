-- The attack suite's world, included by test/pgtap/2N_attack_*.sql (inside
-- their transaction, so everything here is rolled back with the test).
--
-- Two tenants built alike: A (9401), the attackers' own, and B (9402), the
-- victim.  Each has a region tree, a 总代 D with two 二代 S1 and S2 below it,
-- a dealer O outside D, products, a price policy, orders, a payment and its
-- allocation, targets, a program with an active version, an end customer,
-- closed and issued statements, an open violation and an active scoring
-- model.  Every value a role must not see carries a marker that no attack
-- statement contains, so that finding one in an error, a NOTICE or a result
-- proves a leak:
--   ZQXB ...       tenant B's names and codes;      43.2109 71.2345 5432.1098 1234567  B's floor, cost, payment, region target
--   ZQXA ...       tenant A's names and codes (seen by A's roles only)
--   ZQXS ...       S2, the sibling of S1 (hidden from S1's user)
--   ZQXO ...       O, outside D (hidden from D's, S1's users)
--   61.2345 8765432  A's cost and region target (hidden from A's partner users)
--
-- Attackers (real login roles; attack.attempt runs a statement as one, by
-- SET SESSION AUTHORIZATION, and 'role>group' then SET ROLE group):
--   atk_admin        member of rebate_admin
--   atk_mgr_a        manager of A              atk_mgr_b   manager of B (a victim)
--   atk_d1           user of A's D             atk_s1      user of A's S1 (sibling of S2)
--   atk_b_user       user of B's S1 (a victim)
--   atk_loose        granted rebate_manager and rebate_partner, never bound
--   atk_unbound      no binding, no group      atk_spare   unbound login role, to be bound
--   atk_nologin      a NOLOGIN role
-- and through a group role: 'atk_mgr_a>rebate_manager', 'atk_s1>rebate_partner'.

CREATE SCHEMA attack;
GRANT USAGE ON SCHEMA attack TO PUBLIC;

CREATE ROLE atk_admin LOGIN IN ROLE rebate_admin;
CREATE ROLE atk_mgr_a LOGIN;
CREATE ROLE atk_mgr_b LOGIN;
CREATE ROLE atk_d1 LOGIN;
CREATE ROLE atk_s1 LOGIN;
CREATE ROLE atk_b_user LOGIN;
CREATE ROLE atk_loose LOGIN IN ROLE rebate_manager, rebate_partner;
CREATE ROLE atk_unbound LOGIN;
CREATE ROLE atk_spare LOGIN;
CREATE ROLE atk_nologin NOLOGIN;

CREATE FUNCTION attack.make_tenant(t bigint, m text, sibling text, outside text, floor numeric, cost numeric,
                                   paid numeric, region_target numeric) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    b bigint := t * 100;
BEGIN
    INSERT INTO rebate.tenant (id, code, name) VALUES (t, m || 'T', m || '品牌');
    INSERT INTO rebate.region (id, tenant_id, code, name, level, parent_id) VALUES
        (b + 1, t, m || 'CN', m || '中国', 'country', NULL), (b + 2, t, m || 'E', m || '华东', 'area', b + 1),
        (b + 3, t, m || 'SH', m || '上海', 'city', b + 2), (b + 4, t, m || 'HZ', m || '杭州', 'city', b + 2);
    INSERT INTO rebate.partner_grade (id, tenant_id, code, name, rank) VALUES (b + 5, t, m || 'A', m || '金牌', 1);
    INSERT INTO rebate.partner (id, tenant_id, code, name, kind, grade_id, home_region_id, parent_id, state, credit_limit) VALUES
        (b + 11, t, m || 'D', m || '总代', 'distributor', b + 5, b + 2, NULL, 'active', 10000000),
        (b + 12, t, m || 'S1', m || '一店', 'dealer', b + 5, b + 3, b + 11, 'active', 10000000),
        (b + 13, t, sibling || 'S2', sibling || '二店', 'dealer', b + 5, b + 3, b + 11, 'active', 10000000),
        (b + 14, t, outside || 'O', outside || '外店', 'dealer', b + 5, b + 4, NULL, 'active', 10000000);
    INSERT INTO rebate.partner_territory (tenant_id, partner_id, region_id, valid)
    SELECT t, p, b + 1, '[2026-01-01,)' FROM unnest(ARRAY[b + 11, b + 12, b + 13, b + 14]) p;
    INSERT INTO rebate.product_category (id, tenant_id, code, name) VALUES (b + 21, t, m || 'ALL', m || '全部');
    INSERT INTO rebate.product (id, tenant_id, sku, name, category_id, list_price, standard_cost) VALUES
        (b + 31, t, m || 'SKU1', m || '产品一', b + 21, 100, cost), (b + 32, t, m || 'SKU2', m || '产品二', b + 21, 100, cost);
    INSERT INTO rebate.product_region (tenant_id, product_id, region_id) VALUES (t, b + 32, b + 3);
    INSERT INTO rebate.price_policy (id, tenant_id, code, product_id, price, floor_price, valid) VALUES
        (b + 41, t, m || 'PP', b + 31, 100, floor, '[2026-01-01,2027-01-01)');
    INSERT INTO rebate.sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
        (b + 51, t, m || 'O51', b + 12, b + 3, '2026-03-10', 'submitted'),
        (b + 52, t, sibling || 'O52', b + 13, b + 3, '2026-03-11', 'approved'),
        (b + 53, t, outside || 'O53', b + 14, b + 4, '2026-03-12', 'approved'),
        (b + 54, t, m || 'O54', b + 12, b + 3, '2026-03-13', 'approved');
    INSERT INTO rebate.order_line (id, tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES
        (b + 51, t, b + 51, 1, b + 31, 10, 100), (b + 52, t, b + 52, 1, b + 31, 5, 100),
        (b + 53, t, b + 53, 1, b + 31, 7, 100), (b + 54, t, b + 54, 1, b + 31, 3, 100);
    UPDATE rebate.sales_order SET status = 'shipped' WHERE id = b + 54;
    INSERT INTO rebate.payment (id, tenant_id, code, partner_id, received_on, amount) VALUES
        (b + 61, t, sibling || 'PAY', b + 13, '2026-03-15', paid);
    INSERT INTO rebate.payment_allocation (id, tenant_id, payment_id, order_id, partner_id, amount) VALUES
        (b + 62, t, b + 61, b + 52, b + 13, 100);
    INSERT INTO rebate.target (id, tenant_id, partner_id, metric, period, value) VALUES
        (b + 71, t, b + 13, 'sales_amount', '[2026-01-01,2026-04-01)', 1000);
    INSERT INTO rebate.target (id, tenant_id, region_id, metric, period, value) VALUES
        (b + 72, t, b + 2, 'sales_amount', '[2026-01-01,2026-04-01)', region_target);
    INSERT INTO rebate.program (id, tenant_id, code, name) VALUES (b + 81, t, m || 'PRG', m || '阶梯');
    INSERT INTO rebate.program_version (id, tenant_id, program_id, effective, metric, kind, schedule, period_unit)
    VALUES (b + 82, t, b + 81, '[2026-03-01,)', 'net_sales', 'tiered', 'retroactive 0:2%', 'month');
    PERFORM rebate.activate_program_version(b + 82);
    INSERT INTO rebate.end_customer (id, tenant_id, partner_id, name) VALUES (b + 91, t, b + 13, sibling || '客户公司');
    PERFORM rebate.close_period(t, '[2026-03-01,2026-04-01)');
    PERFORM rebate.issue_statements(t, '[2026-03-01,2026-04-01)');
    INSERT INTO rebate.policy_violation (id, tenant_id, kind, source_table, source_id, order_id, partner_id, product_id,
                                         message)
    VALUES (b + 95, t, 'price_floor', 'rebate.order_line', b + 52, b + 52, b + 13, b + 31, sibling || ' below the floor');
    INSERT INTO rebate.scoring_model (id, tenant_id, code, name, period_unit) VALUES (b + 97, t, m || 'MDL', m || '考核', 'quarter');
    INSERT INTO rebate.scoring_kpi (tenant_id, model_id, kpi, weight, normalisation, target, cap) VALUES
        (t, b + 97, 'net_sales', 50, 'target', NULL, 100), (t, b + 97, 'gross_margin', 50, 'distribution', NULL, 100);
    INSERT INTO rebate.scoring_band (tenant_id, model_id, grade_id, min_score) VALUES (t, b + 97, b + 5, 0);
    UPDATE rebate.scoring_model SET active = true WHERE id = b + 97;
    -- an approval flow, a pending request of S2 with its task and history, a delegation,
    -- a notice to S2 and one to the managers carrying the cost (hidden from partner users)
    INSERT INTO rebate.approval_flow (id, tenant_id, request_type, name) VALUES (b + 73, t, 'general', m || '流程');
    INSERT INTO rebate.approval_step (tenant_id, flow_id, step_no, name, approver_kind) VALUES (t, b + 73, 1, m || '经理', 'manager');
    INSERT INTO rebate.approval_request (id, tenant_id, request_type, flow_id, subject, partner_id, amount, current_step,
                                         requested_by)
    VALUES (b + 74, t, 'general', b + 73, sibling || '补贴申请', b + 13, paid, 1, 'atk_mgr_' || lower(right(m, 1)));
    INSERT INTO rebate.approval_task (id, tenant_id, request_id, step_no, partner_id, approver_kind)
    VALUES (b + 75, t, b + 74, 1, b + 13, 'manager');
    INSERT INTO rebate.approval_event (id, tenant_id, request_id, partner_id, event, actor, comment)
    VALUES (b + 76, t, b + 74, b + 13, 'submitted', 'atk_mgr_' || lower(right(m, 1)), sibling || '补贴申请');
    INSERT INTO rebate.approval_delegation (id, tenant_id, delegator, delegate, valid)
    VALUES (b + 77, t, 'atk_mgr_' || lower(right(m, 1)), 'atk_spare', tstzrange(now(), NULL));
    INSERT INTO rebate.notification (id, tenant_id, partner_id, event, subject_type, subject_id, title) VALUES
        (b + 78, t, b + 13, 'approval_decided', 'approval_request', b + 74, sibling || '的通知'),
        (b + 79, t, NULL, 'violation_recorded', 'policy_violation', b + 95, format('cost %s', cost));
END
$$;

SELECT attack.make_tenant(9401, 'ZQXA', 'ZQXS', 'ZQXO', 50, 61.2345, 500, 8765432);
SELECT attack.make_tenant(9402, 'ZQXB', 'ZQXB', 'ZQXB', 43.2109, 71.2345, 5432.1098, 1234567);

SELECT rebate.grant_access('atk_mgr_a', 9401);
SELECT rebate.grant_access('atk_mgr_b', 9402);
SELECT rebate.grant_access('atk_d1', 9401, 940111);
SELECT rebate.grant_access('atk_s1', 9401, 940112);
SELECT rebate.grant_access('atk_b_user', 9402, 940212);

-- What each attacker must never read: the markers of everything hidden from it.
CREATE FUNCTION attack.hidden_markers(actor text) RETURNS text[]
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE actor
           WHEN 'atk_admin' THEN '{}'
           WHEN 'atk_mgr_a' THEN b
           WHEN 'atk_d1' THEN b || ARRAY['ZQXO', '61.2345', '8765432']
           WHEN 'atk_s1' THEN b || ARRAY['ZQXO', 'ZQXS', '61.2345', '8765432']
           WHEN 'atk_b_user' THEN ARRAY['ZQXA', 'ZQXO', 'ZQXS', '61.2345', '8765432', '71.2345', '1234567']
           WHEN 'atk_mgr_b' THEN ARRAY['ZQXA', 'ZQXO', 'ZQXS', '61.2345', '8765432']
           ELSE b || ARRAY['ZQXA', 'ZQXO', 'ZQXS', '61.2345', '8765432'] END   -- no tenant: everything is hidden
      FROM (SELECT ARRAY['ZQXB', '43.2109', '71.2345', '5432.1098', '1234567'] AS b) x
$$;

-- (times of day are left out: a timestamp's seconds, 12:34:43.210987, can
-- spell a numeric marker by chance)
CREATE FUNCTION attack.leaked(actor text, seen text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(m, ', ') FROM unnest(attack.hidden_markers(actor)) m
     WHERE strpos(regexp_replace(seen, '[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+', '', 'g'), m) > 0
$$;

-- Every row of the two tenants (and every binding and group membership of
-- the fixture's roles), as one digest: an attack has no effect when it is
-- the same after as before.  SECURITY DEFINER: it reads as the test's owner.
CREATE FUNCTION attack.fingerprint() RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tbl record;
    part text;
    acc text := '';
BEGIN
    FOR tbl IN SELECT c.oid::regclass AS rel,
                      CASE WHEN c.relname = 'tenant' THEN 'id' ELSE 'tenant_id' END AS tenant_column
                 FROM pg_class c
                WHERE c.relnamespace = 'rebate'::regnamespace AND c.relkind = 'r'
                  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                                 AND a.attname = CASE WHEN c.relname = 'tenant' THEN 'id' ELSE 'tenant_id' END)
                ORDER BY c.relname LOOP
        EXECUTE format('SELECT md5(coalesce(string_agg(to_jsonb(x)::text, '','' ORDER BY to_jsonb(x)::text), '''')) '
                       'FROM %s x WHERE %I IN (9401, 9402)', tbl.rel, tbl.tenant_column) INTO part;
        acc := acc || part;
    END LOOP;
    SELECT acc || coalesce(string_agg(format('%s/%s', m.member::regrole, m.roleid::regrole), ',' ORDER BY 1), '')
      INTO acc FROM pg_auth_members m WHERE m.member::regrole::text LIKE 'atk\_%';
    SELECT acc || coalesce(string_agg(to_jsonb(b)::text, ',' ORDER BY b.role::text), '')
      INTO acc FROM rebate.access_binding b WHERE b.role::text LIKE 'atk\_%';
    RETURN md5(acc);
END
$$;

-- What happened when an actor ran a statement: its SQLSTATE (00000 when it
-- succeeded), message, detail and hint, whether it changed anything, and
-- what the spy saw.  Nothing it did is kept: its subtransaction is always
-- rolled back.
CREATE TYPE attack.outcome AS (sqlstate text, message text, detail text, hint text, changed boolean, seen text);

CREATE FUNCTION attack.run(actor text, statement text) RETURNS attack.outcome
    LANGUAGE plpgsql AS $$
DECLARE
    o attack.outcome;
    before text := attack.fingerprint();
BEGIN
    PERFORM set_config('attack.seen', '', false);
    BEGIN
        EXECUTE format('SET SESSION AUTHORIZATION %I', split_part(actor, '>', 1));
        IF actor LIKE '%>%' THEN
            EXECUTE format('SET ROLE %I', split_part(actor, '>', 2));
        END IF;
        EXECUTE statement;
        o.sqlstate := '00000';
        o.changed := attack.fingerprint() IS DISTINCT FROM before;
        o.seen := current_setting('attack.seen');
        RAISE SQLSTATE 'ZZ999';                      -- roll the attempt back
    EXCEPTION WHEN SQLSTATE 'ZZ999' THEN
        NULL;
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS o.sqlstate = RETURNED_SQLSTATE, o.message = MESSAGE_TEXT,
                                o.detail = PG_EXCEPTION_DETAIL, o.hint = PG_EXCEPTION_HINT;
        o.changed := false;
        o.seen := current_setting('attack.seen');
    END;
    RETURN o;
END
$$;

-- Objects the suite has attacked (the catalog tests compare them with what exists).
CREATE TABLE attack.covered (object text);

-- An attack fails when it changes anything, or when its error or what the
-- spy saw carries a marker hidden from the actor.  expect_error: the
-- SQLSTATE it must end with (NULL: any outcome, even success, that has no effect).
CREATE FUNCTION attack.attempt(actor text, object text, statement text, description text, expect_error text DEFAULT NULL)
    RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    o attack.outcome := attack.run(actor, statement);
    leak text := attack.leaked(actor, concat_ws(' ', o.message, o.detail, o.hint, o.seen));
BEGIN
    INSERT INTO attack.covered VALUES (object);
    RETURN ok(NOT o.changed AND leak IS NULL AND (expect_error IS NULL OR o.sqlstate = expect_error),
              format('%s [%s]', description, actor))
        || CASE WHEN NOT o.changed AND leak IS NULL AND (expect_error IS NULL OR o.sqlstate = expect_error) THEN ''
                ELSE E'\n' || diag(format('sqlstate %s, changed %s, leaked %s: %s / %s / %s',
                                          o.sqlstate, o.changed, leak, o.message, o.detail, o.hint)) END;
END
$$;

-- An error text with the ids and role names the attack itself chose masked.
CREATE FUNCTION attack.masked(text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(regexp_replace($1, 'atk_[a-z0-9_]+', '#', 'g'), '[0-9]+', '#', 'g')
$$;

-- A row the actor cannot see is treated exactly like a row that does not
-- exist: the statement naming the hidden id and the one naming a missing id
-- end the same way (SQLSTATE, and message, detail and hint with ids masked).
CREATE FUNCTION attack.like_missing(actor text, object text, hidden_statement text, missing_statement text,
                                    description text) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    h attack.outcome := attack.run(actor, hidden_statement);
    m attack.outcome := attack.run(actor, missing_statement);
    leak text := attack.leaked(actor, concat_ws(' ', h.message, h.detail, h.hint, h.seen));
    same boolean;
BEGIN
    INSERT INTO attack.covered VALUES (object);
    same := h.sqlstate = m.sqlstate
            AND attack.masked(concat_ws(' / ', h.message, h.detail, h.hint))
              = attack.masked(concat_ws(' / ', m.message, m.detail, m.hint));
    RETURN ok(NOT h.changed AND leak IS NULL AND same, format('%s [%s]', description, actor))
        || CASE WHEN NOT h.changed AND leak IS NULL AND same THEN ''
                ELSE E'\n' || diag(format('hidden: %s %s / %s / %s (changed %s, leaked %s)', h.sqlstate, h.message,
                                          h.detail, h.hint, h.changed, leak))
                     || E'\n' || diag(format('missing: %s %s / %s / %s', m.sqlstate, m.message, m.detail, m.hint)) END;
END
$$;

-- A leaky function: it records every value it is shown.  Cheap, so that a
-- planner that may evaluate it early does; not leakproof, so that security
-- barriers and row-level security must keep it from rows they hide.
CREATE FUNCTION attack.spy(v anyelement) RETURNS boolean
    LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
    PERFORM set_config('attack.seen', current_setting('attack.seen') || coalesce(v::text, '') || '|', false);
    RETURN true;
END
$$;

GRANT ALL ON ALL TABLES IN SCHEMA attack TO PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA attack TO PUBLIC;
