-- The attack suite, part 2: every table whose BEFORE triggers read or guard
-- something, and every SECURITY DEFINER trigger function.  BEFORE triggers
-- run before row-level security judges the row, and the definer ones and the
-- C policy triggers read as the owner: a row naming what the writer cannot
-- see must end exactly as a row naming what does not exist (same SQLSTATE,
-- same words, no name, code, amount, price or path of it), and must change
-- nothing.  Attestation columns are the server's.  The last tests fail when
-- a table gains such a trigger, or a SECURITY DEFINER trigger function
-- appears, that this file does not attack.
BEGIN;
SELECT plan(242);
\ir ../attack/fixture.sql

-- ---- order lines: the C policy triggers and fill_order_line ------------------------
SELECT attack.like_missing('atk_s1', 'rebate.order_line',
    $$INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price) VALUES (940151, 2, 940231, 1, 0.01)$$,
    $$INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price) VALUES (940151, 2, 999999, 1, 0.01)$$,
    'a dealer''s line of another brand''s product: no product, SKU or floor of it');
SELECT attack.like_missing('atk_mgr_a', 'rebate.order_line',
    $$INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price) VALUES (940151, 2, 940232, 1, 999999)$$,
    $$INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price) VALUES (940151, 2, 999999, 1, 999999)$$,
    'a manager''s line of another brand''s product (authorised elsewhere): no region or product of it');
SELECT attack.like_missing('atk_s1', 'rebate.fill_order_line()',
    $$INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price) VALUES (940152, 2, 940131, 1, 0.01)$$,
    $$INSERT INTO rebate.order_line (order_id, line_no, product_id, quantity, unit_price) VALUES (999999, 2, 940131, 1, 0.01)$$,
    'a line on a sibling''s order is like a line on an order that does not exist');
SELECT attack.like_missing('atk_mgr_a', 'rebate.order_line',
    $$UPDATE rebate.order_line SET order_id = 940254 WHERE id = 940151$$,
    $$UPDATE rebate.order_line SET order_id = 999999 WHERE id = 940151$$,
    'moving a line to another brand''s shipped order: no order code or status of it');
SELECT attack.attempt('atk_s1', 'rebate.order_line',
    $$UPDATE rebate.order_line SET quantity = 0 WHERE order_id = 940152$$, 'a dealer changes no line of its sibling');
SELECT attack.attempt('atk_d1', 'rebate.order_line',
    $$DELETE FROM rebate.order_line WHERE order_id = 940153$$, 'a distributor deletes no line outside its partners');

-- another brand's order is neither read nor locked: a FOR SHARE lock from an
-- attempt would change the row's xmax (a second session would wait on it, and
-- so learn that the order exists and is being worked on)
INSERT INTO rebate.sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status)
VALUES (940259, 9402, 'ZQXBO59', 940212, 940203, '2026-03-20', 'approved');
CREATE TEMP TABLE locked_before AS SELECT xmax::text AS locker FROM rebate.sales_order WHERE id = 940259;
SELECT attack.like_missing(actor, 'rebate.enforce_order_line_state()',
    $$INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price) VALUES (9402, 940259, 940212, 9, 940231, 1, 1)$$,
    $$INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price) VALUES (9402, 999999, 940212, 9, 940231, 1, 1)$$,
    'a line naming another brand''s order and tenant ends like one naming an order that does not exist')
  FROM unnest(ARRAY['atk_mgr_a', 'atk_s1', 'atk_loose', 'atk_mgr_a>rebate_manager']) actor;
SELECT attack.like_missing('atk_mgr_a', 'rebate.enforce_order_line_state()',
    $$UPDATE rebate.order_line SET tenant_id = 9402, order_id = 940259 WHERE id = 940151$$,
    $$UPDATE rebate.order_line SET tenant_id = 9402, order_id = 999999 WHERE id = 940151$$,
    'so does moving a line there');
SELECT is((SELECT xmax::text FROM rebate.sales_order WHERE id = 940259), (SELECT locker FROM locked_before),
          'and none of them took a lock on that order');

-- ---- orders: territory (窜货) and the partner's state --------------------------------
SELECT attack.like_missing('atk_s1', 'rebate.sales_order',
    $$INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id, order_date, status) VALUES ('X1', 940112, 940203, '2026-03-20', 'submitted')$$,
    $$INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id, order_date, status) VALUES ('X1', 940112, 999999, '2026-03-20', 'submitted')$$,
    'a dealer shipping to another brand''s region: no region name or territory of it');
SELECT attack.like_missing('atk_mgr_a', 'rebate.sales_order',
    $$INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id, order_date, status) VALUES ('X1', 940214, 940103, '2026-03-20', 'approved')$$,
    $$INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id, order_date, status) VALUES ('X1', 999999, 940103, '2026-03-20', 'approved')$$,
    'an order for another brand''s partner: no partner, state or territory of it');
SELECT attack.like_missing('atk_s1', 'rebate.sales_order',
    $$INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id, order_date, status) VALUES ('X1', 940113, 940104, '2026-03-20', 'submitted')$$,
    $$INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id, order_date, status) VALUES ('X1', 999999, 940104, '2026-03-20', 'submitted')$$,
    'an order in a sibling''s name is like one for a partner that does not exist');
SELECT attack.like_missing('atk_mgr_a', 'rebate.sales_order',
    $$UPDATE rebate.sales_order SET ship_to_region_id = 940204 WHERE id = 940151$$,
    $$UPDATE rebate.sales_order SET ship_to_region_id = 999999 WHERE id = 940151$$,
    'moving an order''s ship-to into another brand: no region of it');
SELECT attack.attempt('atk_s1', 'rebate.sales_order',
    $$UPDATE rebate.sales_order SET status = 'cancelled' WHERE id = 940152$$, 'a dealer cancels no order of its sibling');

-- ---- trees: maintain_tree_path ---------------------------------------------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.partner',
    $$INSERT INTO rebate.partner (code, name, parent_id) VALUES ('X2', '新店', 940211)$$,
    $$INSERT INTO rebate.partner (code, name, parent_id) VALUES ('X2', '新店', 999999)$$,
    'a partner under another brand''s partner: no path of it');
SELECT attack.like_missing('atk_mgr_a', 'rebate.maintain_tree_path()',
    $$UPDATE rebate.partner SET parent_id = 940212 WHERE id = 940114$$,
    $$UPDATE rebate.partner SET parent_id = 999999 WHERE id = 940114$$,
    'moving a partner under another brand''s: no path, no cycle message about it');
SELECT attack.like_missing('atk_mgr_a', 'rebate.partner',
    $$UPDATE rebate.partner SET id = 940211, parent_id = 940212 WHERE id = 940114$$,
    $$UPDATE rebate.partner SET id = 999998, parent_id = 999999 WHERE id = 940114$$,
    'taking another brand''s id to provoke a cycle: ids are the server''s');
SELECT attack.like_missing('atk_mgr_a', 'rebate.region',
    $$INSERT INTO rebate.region (code, name, level, parent_id) VALUES ('X3', '新区', 'city', 940202)$$,
    $$INSERT INTO rebate.region (code, name, level, parent_id) VALUES ('X3', '新区', 'city', 999999)$$,
    'a region under another brand''s region');
SELECT attack.like_missing('atk_mgr_a', 'rebate.product_category',
    $$INSERT INTO rebate.product_category (code, name, parent_id) VALUES ('X4', '新类', 940221)$$,
    $$INSERT INTO rebate.product_category (code, name, parent_id) VALUES ('X4', '新类', 999999)$$,
    'a category under another brand''s category');

-- ---- duplicate names: partner_name_key ---------------------------------------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.partner_name_key()',
    $$INSERT INTO rebate.partner (tenant_id, code, name) VALUES (9402, 'X5', '某公司')$$,
    $$INSERT INTO rebate.partner (tenant_id, code, name) VALUES (9499, 'X5', '某公司')$$,
    'a partner in another brand is refused as in a tenant that does not exist, before any duplicate check');
SELECT attack.like_missing('atk_mgr_a>rebate_manager', 'rebate.partner_name_key()',
    $$INSERT INTO rebate.partner (tenant_id, code, name) VALUES (9401, 'X5', '某公司')$$,
    $$INSERT INTO rebate.partner (tenant_id, code, name) VALUES (9499, 'X5', '某公司')$$,
    'acting through rebate_manager, its own brand is as closed as any');

-- ---- payments: check_payment_allocation ---------------------------------------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.check_payment_allocation()',
    $$INSERT INTO rebate.payment_allocation (payment_id, order_id, partner_id, amount) VALUES (940261, 940151, 940112, 999999)$$,
    $$INSERT INTO rebate.payment_allocation (payment_id, order_id, partner_id, amount) VALUES (999999, 940151, 940112, 999999)$$,
    'an allocation of another brand''s payment: no amount or allocation of it, and no lock on it');
SELECT attack.like_missing('atk_mgr_a', 'rebate.payment_allocation',
    $$INSERT INTO rebate.payment_allocation (payment_id, order_id, partner_id, amount) VALUES (940261, 940252, 940213, 1)$$,
    $$INSERT INTO rebate.payment_allocation (payment_id, order_id, partner_id, amount) VALUES (999999, 999999, 999999, 1)$$,
    'an allocation entirely of another brand''s documents');

-- ---- statements: guard_statement and the attestation stamps --------------------------------
-- a draft of A to move lines into: an April order of S1, April closed
INSERT INTO rebate.sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status)
VALUES (940155, 9401, 'ZQXAO55', 940112, 940103, '2026-04-10', 'approved');
INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES (9401, 940155, 1, 940131, 4, 100);
CREATE TEMP TABLE april AS SELECT * FROM rebate.close_period(9401, '[2026-04-01,2026-05-01)');
CREATE TEMP TABLE stmt AS
SELECT (SELECT id FROM rebate.statement WHERE partner_id = 940112 AND status = 'issued') AS issued,
       (SELECT id FROM rebate.statement WHERE partner_id = 940112 AND status = 'draft') AS draft,
       (SELECT id FROM rebate.statement WHERE partner_id = 940212 AND status = 'issued') AS other;
GRANT SELECT ON stmt TO PUBLIC;
SELECT ok((SELECT issued IS NOT NULL AND draft IS NOT NULL AND other IS NOT NULL FROM stmt), 'S1 has an issued March and a draft April statement');
SELECT attack.attempt('atk_mgr_a', 'rebate.statement_line',
    format('UPDATE rebate.statement_line SET statement_id = %s, line_no = line_no + 100 WHERE statement_id = %s',
           (SELECT draft FROM stmt), (SELECT issued FROM stmt)),
    'an issued statement''s lines never move into a draft (they would be paid twice)', 'RB061');
SELECT attack.attempt('atk_mgr_a', 'rebate.statement_line',
    format('DELETE FROM rebate.statement_line WHERE statement_id = %s', (SELECT issued FROM stmt)),
    'nor are they deleted', 'RB061');
SELECT attack.like_missing('atk_mgr_a', 'rebate.guard_statement()',
    format($$INSERT INTO rebate.statement_line (statement_id, partner_id, line_no, line_kind, currency, gross, already_settled, net, status, explanation)
             VALUES (%s, 940112, 99, 'final', 'CNY', 1, 0, 1, 'x', 'x')$$, (SELECT other FROM stmt)),
    $$INSERT INTO rebate.statement_line (statement_id, partner_id, line_no, line_kind, currency, gross, already_settled, net, status, explanation)
      VALUES (999999999, 940112, 99, 'final', 'CNY', 1, 0, 1, 'x', 'x')$$,
    'a line on another brand''s statement is like a line on a statement that does not exist');
SELECT attack.attempt('atk_mgr_a', 'rebate.statement',
    format('UPDATE rebate.statement SET issued_by = %L WHERE id = %s', 'atk_admin', (SELECT issued FROM stmt)),
    'who issued a statement is the server''s to say', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.statement',
    format('UPDATE rebate.statement SET closed_xmin = 0 WHERE id = %s', (SELECT issued FROM stmt)),
    'which transactions a close saw is the server''s too', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.statement',
    format('UPDATE rebate.statement SET payment_reference = %L WHERE id = %s', 'x', (SELECT issued FROM stmt)),
    'an issued statement changes only by a status step', 'RB061');
SELECT attack.attempt('atk_mgr_a', 'rebate.stamp_attestation()',
    format('UPDATE rebate.statement SET closed_by = %L WHERE id = %s', 'atk_admin', (SELECT draft FROM stmt)),
    'not even a draft''s author can be rewritten', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.statement',
    $$INSERT INTO rebate.statement (partner_id, period, currency, total, line_count, closed_xmin)
      VALUES (940112, '[2026-05-01,2026-06-01)', 'CNY', 0, 0, 9999999999)$$,
    'a statement cannot claim a closing horizon past its snapshot (the next close would skip late documents)', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.statement',
    format('UPDATE rebate.statement SET total = 123 WHERE id = %1$s; SELECT rebate.issue_statement(%1$s)', (SELECT draft FROM stmt)),
    'a draft whose total is not its lines'' cannot be issued', 'RB061');
SELECT attack.attempt('atk_s1', 'rebate.statement',
    format('UPDATE rebate.statement SET status = %L, answered_by = %L WHERE id = %s', 'confirmed', 'atk_mgr_a',
           (SELECT issued FROM stmt)),
    'a dealer answers only in its own name', '42501');
SET SESSION AUTHORIZATION atk_s1;
SELECT lives_ok(format('SELECT rebate.confirm_statement(%s)', (SELECT issued FROM stmt)), 'the dealer confirms its statement');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT answered_by::text FROM rebate.statement WHERE id = (SELECT issued FROM stmt)), 'atk_s1',
          'and the statement says so, stamped by the server');
SELECT attack.like_missing('atk_s1', 'rebate.statement',
    format('UPDATE rebate.statement SET status = %L WHERE id = %s RETURNING id', 'disputed',
           (SELECT id FROM rebate.statement WHERE partner_id = 940113 AND status = 'issued')),
    $$UPDATE rebate.statement SET status = 'disputed' WHERE id = 999999999 RETURNING id$$,
    'a sibling''s statement is like one that does not exist');

-- ---- adjustments, program versions, violations: their stamps ------------------------------------
SELECT attack.attempt('atk_mgr_a', 'rebate.statement_adjustment',
    format($$INSERT INTO rebate.statement_adjustment (partner_id, statement_id, amount, currency, note, created_by)
             VALUES (940112, %s, 5, 'CNY', 'x', 'atk_admin')$$, (SELECT draft FROM stmt)),
    'an adjustment cannot name someone else as its author', '42501');
SET SESSION AUTHORIZATION atk_mgr_a;
SELECT lives_ok(format($$INSERT INTO rebate.statement_adjustment (partner_id, statement_id, amount, currency, note, created_at)
                         VALUES (940112, %s, 5, 'CNY', 'x', '2020-01-01')$$, (SELECT draft FROM stmt)),
                'a manager records an adjustment (backdated)');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT format('%s %s', created_by, created_at > '2026-01-01') FROM rebate.statement_adjustment WHERE partner_id = 940112),
          'atk_mgr_a t', 'but the adjustment is stamped with who and when it really was');
SELECT attack.attempt('atk_mgr_a', 'rebate.statement_adjustment',
    $$UPDATE rebate.statement_adjustment SET created_by = 'atk_admin' WHERE partner_id = 940112$$,
    'nor rewritten later', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.program_version',
    $$INSERT INTO rebate.program_version (program_id, effective, metric, kind, schedule, period_unit, created_by)
      VALUES (940181, '[2027-01-01,)', 'net_sales', 'tiered', 'retroactive 0:3%', 'month', 'atk_admin')$$,
    'a version cannot name someone else as its author', '42501');
SET SESSION AUTHORIZATION atk_mgr_a;
SELECT lives_ok($$SELECT rebate.revise_program(940181, '{"schedule": "retroactive 0:3%"}', '2027-01-01')$$,
                'a manager revises a program');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT created_by::text FROM rebate.program_version WHERE program_id = 940181 AND version = 2), 'atk_mgr_a',
          'the revision is stamped with its real author');
SELECT attack.attempt('atk_mgr_a', 'rebate.program_version',
    $$UPDATE rebate.program_version SET activated_at = '2020-01-01' WHERE id = 940182$$,
    'when a version became active is the server''s to say', '42501');
SELECT attack.like_missing('atk_mgr_a', 'rebate.program_version',
    $$INSERT INTO rebate.program_version (program_id, version, effective, metric, kind, schedule) VALUES (940281, 1, '[2027-01-01,)', 'net_sales', 'tiered', 'retroactive 0:1%')$$,
    $$INSERT INTO rebate.program_version (program_id, version, effective, metric, kind, schedule) VALUES (999999, 1, '[2027-01-01,)', 'net_sales', 'tiered', 'retroactive 0:1%')$$,
    'a version of another brand''s program: its versions are not counted by a duplicate-key error');
INSERT INTO rebate.program (id, tenant_id, code, name) VALUES (940183, 9401, 'ZQXSPRG', 'ZQXS特供');
INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, period_unit, partner_ids, note)
VALUES (9401, 940183, '[2026-04-01,)', 'net_sales', 'tiered', 'retroactive 0:9%', 'month', '{940113}', 'ZQXS special terms');
SELECT attack.attempt('atk_s1', 'rebate.program_version',
    $$SELECT attack.spy(v.note) FROM rebate.program_version v WHERE v.program_id = 940183$$,
    'a dealer reads no special terms of its sibling', '00000');
SET SESSION AUTHORIZATION atk_s1;
SELECT is((SELECT count(*)::int FROM rebate.program_version WHERE program_id = 940183)
          + (SELECT count(*)::int FROM rebate.program WHERE id = 940183), 0, 'not a row of them, nor of the program');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_d1;
SELECT is((SELECT count(*)::int FROM rebate.program_version WHERE program_id = 940183), 1,
          'the distributor above both reads them');
RESET SESSION AUTHORIZATION;
SELECT attack.attempt('atk_mgr_a', 'rebate.policy_violation',
    $$UPDATE rebate.policy_violation SET resolved_by = 'atk_admin', resolved_at = now(), status = 'approved' WHERE id = 940195$$,
    'a violation is resolved only through resolve_violation, which stamps who', '42501');

-- ---- uniqueness inside a tenant: no existence oracle --------------------------------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.partner_territory',
    $$INSERT INTO rebate.partner_territory (partner_id, region_id, valid) VALUES (940212, 940201, '[2026-06-01,2026-06-02)')$$,
    $$INSERT INTO rebate.partner_territory (partner_id, region_id, valid) VALUES (999999, 999999, '[2026-06-01,2026-06-02)')$$,
    'another brand''s territories cannot be bisected through the overlap constraint');
SELECT attack.like_missing('atk_mgr_a', 'rebate.scoring_kpi',
    $$INSERT INTO rebate.scoring_kpi (model_id, kpi, weight, normalisation) VALUES (940297, 'net_sales', 1, 'distribution')$$,
    $$INSERT INTO rebate.scoring_kpi (model_id, kpi, weight, normalisation) VALUES (999999, 'net_sales', 1, 'distribution')$$,
    'nor its scoring KPIs through their unique key');

-- ---- the policy triggers on a table of one's own ---------------------------------------------------
SELECT attack.attempt('atk_s1', 'rebate.enforce_region_policy()',
    $q$CREATE TEMP TABLE fake (t bigint, p bigint, pr bigint, r bigint, d date, st text);
       CREATE TRIGGER x BEFORE INSERT ON fake FOR EACH ROW EXECUTE FUNCTION rebate.enforce_region_policy(
           'tenant_id=t', 'partner_id=p', 'product_id=pr', 'region_id=r', 'order_date=d', 'status=st');
       INSERT INTO fake VALUES (9401, 940113, 940131, 940104, '2026-05-01', 'x')$q$,
    'a dealer cannot have the policy triggers record a violation against its sibling', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.enforce_price_policy()',
    $q$CREATE TEMP TABLE fake (t bigint, p bigint, pr bigint, price numeric);
       CREATE TRIGGER x BEFORE INSERT ON fake FOR EACH ROW EXECUTE FUNCTION rebate.enforce_price_policy(
           'tenant_id=t', 'partner_id=p', 'product_id=pr', 'unit_price=price');
       INSERT INTO fake VALUES (9402, 940212, 940231, 0.01)$q$,
    'nor a manager against another brand''s partner (nor learn its floor)', '42501');
SELECT attack.like_missing('atk_mgr_a', 'rebate.enforce_price_policy()',
    $q$CREATE TEMP TABLE fake (t bigint, p bigint, pr bigint, price numeric);
       CREATE TRIGGER x BEFORE INSERT ON fake FOR EACH ROW EXECUTE FUNCTION rebate.enforce_price_policy(
           'tenant_id=t', 'partner_id=p', 'product_id=pr', 'unit_price=price');
       INSERT INTO fake VALUES (9401, 940112, 940231, 0.01)$q$,
    $q$CREATE TEMP TABLE fake (t bigint, p bigint, pr bigint, price numeric);
       CREATE TRIGGER x BEFORE INSERT ON fake FOR EACH ROW EXECUTE FUNCTION rebate.enforce_price_policy(
           'tenant_id=t', 'partner_id=p', 'product_id=pr', 'unit_price=price');
       INSERT INTO fake VALUES (9401, 940112, 999999, 0.01)$q$,
    'on its own table, another brand''s product is one its tenant does not have');

-- ---- the SECURITY DEFINER trigger functions on tables of one's own, and their outputs ---------------
SELECT attack.attempt(actor, 'rebate.audit_row()',
    $q$CREATE TYPE pg_temp.evil AS ENUM ('x');
       CREATE FUNCTION pg_temp.evil_json(pg_temp.evil) RETURNS json LANGUAGE plpgsql AS $f$
       BEGIN
           IF current_user <> session_user THEN RAISE EXCEPTION 'escalated to %', current_user; END IF;
           RETURN '{}';
       END $f$;
       CREATE CAST (pg_temp.evil AS json) WITH FUNCTION pg_temp.evil_json(pg_temp.evil);
       CREATE TEMP TABLE fake (id bigint, tenant_id bigint, e pg_temp.evil);
       CREATE TRIGGER x AFTER INSERT ON fake FOR EACH ROW EXECUTE FUNCTION rebate.audit_row();
       INSERT INTO fake VALUES (1, 9402, 'x')$q$,
    'audit_row on a table of one''s own: no entry, and no code of the attacker''s runs with the owner''s rights', '42501')
  FROM unnest(ARRAY['atk_mgr_a', 'atk_unbound']) actor;
SELECT attack.attempt('atk_mgr_a', 'rebate.audit_row()',
    $$INSERT INTO rebate.audit_log (tenant_id, table_name, operation, session_role, acting_role) VALUES (9402, 'x', 'INSERT', 'x', 'x')$$,
    'nor can the audit log be written directly', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.maintain_tree_path()',
    $q$CREATE TEMP TABLE fake (id bigint, tenant_id bigint, parent_id bigint, path bigint[]);
       CREATE TRIGGER x BEFORE INSERT ON fake FOR EACH ROW EXECUTE FUNCTION rebate.maintain_tree_path();
       INSERT INTO fake VALUES (1, 9402, 940212, '{}')$q$,
    'maintain_tree_path reads no path for a table of one''s own', '42501');
SELECT attack.attempt('atk_s1', 'rebate.record_order_history()',
    $$INSERT INTO rebate.order_status_history (tenant_id, order_id, partner_id, to_status, session_role, acting_role)
      VALUES (9401, 940151, 940112, 'approved', 'atk_mgr_a', 'atk_mgr_a')$$,
    'an order''s history is written by its trigger only', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.record_partner_history()',
    $$INSERT INTO rebate.partner_state_history (tenant_id, partner_id, to_state, session_role, acting_role)
      VALUES (9401, 940112, 'active', 'atk_admin', 'atk_admin')$$,
    'a partner''s history likewise', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.create_enforcement_setting()',
    $$INSERT INTO rebate.tenant (code, name) VALUES ('X6', '新品牌')$$, 'a manager creates no tenant', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.record_binding_change()',
    $$INSERT INTO rebate.access_binding (role, tenant_id) VALUES ('atk_spare', 9401)$$,
    'a binding is written through grant_access only, which the history records', '42501');
SELECT attack.attempt('atk_s1', 'rebate.sales_order',
    $$INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id, order_date) VALUES ('X7', 940112, 940103, '2026-03-01')$$,
    'a dealer cannot date its order into a period of its choosing (a settled one, say)', '42501');
-- a draft opened before a period closed and submitted after is dated when submitted
SET SESSION AUTHORIZATION atk_s1;
SELECT lives_ok($$INSERT INTO rebate.sales_order (code, partner_id, ship_to_region_id) VALUES ('X8', 940112, 940103)$$,
                'a dealer opens a draft');
RESET SESSION AUTHORIZATION;
UPDATE rebate.sales_order SET order_date = '2026-03-31' WHERE code = 'X8';   -- as if opened on the period's last day
SET SESSION AUTHORIZATION atk_s1;
SELECT lives_ok($$UPDATE rebate.sales_order SET status = 'submitted' WHERE code = 'X8'$$, 'and submits it after the close');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT order_date FROM rebate.sales_order WHERE code = 'X8'), CURRENT_DATE,
          'it counts from the day it was submitted, not in the settled period');
-- an admin moves a row from A to B: B's manager reads no value it had in A
INSERT INTO rebate.region (id, tenant_id, code, name, level) VALUES (940109, 9401, 'ZQXAMV', 'ZQXA搬迁', 'custom');
UPDATE rebate.region SET tenant_id = 9402, code = 'MOVED', name = '迁入' WHERE id = 940109;
SELECT attack.attempt('atk_mgr_b', 'rebate.audit_row()',
    $$SELECT attack.spy(a) FROM rebate.audit_log a WHERE a.row_id = 940109$$,
    'the audit log shows the manager of the brand a row moved into none of its values in the other brand', '00000');
SELECT is((SELECT string_agg(format('%s %s', tenant_id, operation), ', ' ORDER BY id) FROM rebate.audit_log
            WHERE table_name = 'region' AND row_id = 940109),
          '9401 INSERT, 9401 DELETE, 9402 INSERT', 'each brand''s log has its side of the move');
SELECT attack.attempt('atk_s1', 'rebate.end_customer',
    $$INSERT INTO rebate.end_customer (partner_id, name, registered_on) VALUES (940112, '新客户', '2025-01-01')$$,
    'a dealer cannot backdate a customer registration (it counts for new_customers)', '42501');
SET SESSION AUTHORIZATION atk_s1;
SELECT is((SELECT count(*)::int FROM rebate.sales_order), 4, 'a dealer sees its own four orders and nothing of its sibling''s or another brand''s');
RESET SESSION AUTHORIZATION;

-- a session shared by several users: a dealer leaves scratch tables of close_period's names, with a trigger
SET SESSION AUTHORIZATION atk_s1;
CREATE TEMP TABLE rebate_closing_job (version_id bigint, program_period daterange, as_of date, job text);
CREATE FUNCTION pg_temp.hijack() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE rebate.partner SET credit_limit = 1 WHERE tenant_id = 9402; RETURN NEW; END $$;
CREATE TRIGGER hijack BEFORE INSERT ON rebate_closing_job FOR EACH ROW EXECUTE FUNCTION pg_temp.hijack();
GRANT ALL ON rebate_closing_job TO PUBLIC;
RESET SESSION AUTHORIZATION;
SELECT attack.attempt('atk_mgr_b', 'rebate.close_period(bigint,daterange)',
    $$SELECT count(*) FROM rebate.close_period(9402, '[2026-04-01,2026-05-01)')$$,
    'a manager''s close never works in another user''s tables (whose trigger would run with its rights)', '42P07');
SET SESSION AUTHORIZATION atk_s1;
DROP TABLE rebate_closing_job;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_b;
SELECT lives_ok($$SELECT count(*) FROM rebate.close_period(9402, '[2026-04-01,2026-05-01)')$$,
                'a manager closes in a transaction where another role closed before (the scratch tables are the session''s)');
RESET SESSION AUTHORIZATION;

-- ---- targets: an older metric name is stored as the catalog's (name_target_metric) --------
SELECT attack.like_missing('atk_mgr_a', 'rebate.target',
    $$INSERT INTO rebate.target (partner_id, metric, period, value) VALUES (940213, 'sales_amount', '[2026-01-01,2026-04-01)', 1)$$,
    $$INSERT INTO rebate.target (partner_id, metric, period, value) VALUES (999999, 'sales_amount', '[2026-01-01,2026-04-01)', 1)$$,
    'a target for another brand''s partner, over the period of its own target: like a partner that does not exist');
SELECT attack.attempt('atk_s1', 'rebate.name_target_metric()',
    $$INSERT INTO rebate.target (partner_id, metric, period, value) VALUES (940112, 'collected_amount', '[2027-01-01,2027-04-01)', 1)$$,
    'a dealer sets no target of its own', '42501');

-- ---- the rollups: written by their triggers only, each writer's changes only ------------------
SELECT attack.attempt('atk_s1', 'rebate.sales_rollup',
    $$INSERT INTO rebate.sales_rollup VALUES (9401, 940112, false, 'order', 'day', '2026-03-10', 'CNY', 'order', 940131, 940103, 99, 1, 1000000, 0, 1)$$,
    'a dealer writes no rollup row of its own', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.sales_rollup',
    $$UPDATE rebate.sales_rollup SET amount = amount * 2 WHERE tenant_id = 9401$$,
    'a manager edits no rollup of its own brand', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.order_paid',
    $$UPDATE rebate.order_paid SET paid_on = '2026-01-01' WHERE tenant_id = 9401$$,
    'nor a paid day', '42501');
SELECT attack.like_missing('atk_mgr_a', 'rebate.maintain_rollups()',
    $$INSERT INTO rebate.sales_order (tenant_id, code, partner_id, kind, original_order_id, ship_to_region_id, order_date, status)
      VALUES (9401, 'ATK-RT', 940112, 'return', 940252, 940103, '2026-03-20', 'approved')$$,
    $$INSERT INTO rebate.sales_order (tenant_id, code, partner_id, kind, original_order_id, ship_to_region_id, order_date, status)
      VALUES (9401, 'ATK-RT', 940112, 'return', 999999, 940103, '2026-03-20', 'approved')$$,
    'a return referring to another brand''s order, to count on its day: like an order that does not exist');
SELECT attack.attempt('atk_s1', 'rebate.maintain_rollups()',
    $$UPDATE rebate.sales_order SET status = 'approved' WHERE id = 940151$$,
    'a dealer approves nothing of its own to make it count (its submitted order is not its to change)');
SELECT is((attack.run('atk_mgr_a', $q$DO $d$ BEGIN
              IF (SELECT count(*) FROM rebate.verify_rollups(9402)) <> 0
                 OR EXISTS (SELECT 1 FROM rebate.sales_rollup WHERE tenant_id = 9402)
                 OR EXISTS (SELECT 1 FROM rebate.order_paid WHERE tenant_id = 9402) THEN
                  RAISE 'sees the other brand''s rollups';
              END IF; END $d$$q$)).sqlstate,
          '00000', 'another brand''s rollups and paid days: nothing seen, and verify_rollups of it finds nothing [atk_mgr_a]');
SELECT is((attack.run('atk_s1', $q$DO $d$ BEGIN
              IF EXISTS (SELECT 1 FROM rebate.sales_rollup WHERE partner_id <> 940112) THEN
                  RAISE 'sees a sibling''s rollups';
              END IF; END $d$$q$)).sqlstate,
          '00000', 'a dealer sees its own rollup rows only, not its sibling''s [atk_s1]');

-- ---- approval steps name roles bound to their tenant; the inbox's trigger functions attach to nothing else --
SELECT attack.attempt('atk_mgr_a', 'rebate.approval_step',
    $$INSERT INTO rebate.approval_step (tenant_id, flow_id, step_no, name, approver_kind, approver_roles)
      VALUES (9402, 940273, 5, 'x', 'role', ARRAY['atk_mgr_b'])$$,
    'a manager adds no step to another brand''s flow, and learns nothing of its bindings', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.check_approval_step()',
    $$INSERT INTO rebate.approval_step (flow_id, step_no, name, approver_kind, approver_roles)
      VALUES (940173, 5, 'x', 'role', ARRAY['atk_mgr_b'])$$,
    'a step of its own naming another brand''s manager is refused', '22023');
SELECT attack.attempt('atk_s1', 'rebate.approval_step',
    $$UPDATE rebate.approval_step SET approver_kind = 'parent_partner' WHERE tenant_id = 9401$$,
    'a dealer changes no step');
SELECT attack.attempt('atk_mgr_a', 'rebate.announce_notifications()',
    $q$CREATE TEMP TABLE fake (id bigint, tenant_id bigint, partner_id bigint, recipient name, event text,
                               subject_type text, subject_id bigint);
       CREATE TRIGGER x AFTER INSERT ON fake REFERENCING NEW TABLE AS new_rows
           FOR EACH STATEMENT EXECUTE FUNCTION rebate.announce_notifications()$q$,
    'nobody attaches the announcing trigger to a table of its own (it would learn channels)', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.notify_changes()',
    $q$CREATE TEMP TABLE fake (id bigint, tenant_id bigint, partner_id bigint, status text);
       CREATE TRIGGER x AFTER INSERT ON fake REFERENCING NEW TABLE AS new_rows
           FOR EACH STATEMENT EXECUTE FUNCTION rebate.notify_changes('policy_violation')$q$,
    'nor the one that files notifications (it would forge them)', '42501');
SELECT attack.attempt('atk_s1', 'rebate.notify_changes()',
    $$INSERT INTO rebate.notification (tenant_id, partner_id, event, subject_type, subject_id, title)
      VALUES (9401, 940113, 'statement_issued', 'statement', 1, 'x')$$,
    'a dealer files no notification for its sibling', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.create_inbox_secret()',
    $$INSERT INTO rebate.inbox_secret (tenant_id) VALUES (9402) ON CONFLICT (tenant_id) DO UPDATE SET secret = gen_random_uuid()$$,
    'nobody replaces a channel secret', '42501');

-- ---- each module's triggers (test/attack/MODULE_triggers.sql, each with its fixture) ----
\ir ../attack/registrations_triggers.sql
\ir ../attack/announcements_triggers.sql
\ir ../attack/leads_triggers.sql
\ir ../attack/onboarding_triggers.sql
\ir ../attack/contracts_triggers.sql
\ir ../attack/certification_triggers.sql
\ir ../attack/inventory_triggers.sql

-- ---- every table with a reading or guarding BEFORE trigger, every SECURITY DEFINER trigger function ----
SELECT is((SELECT array_agg(DISTINCT t.tgrelid::regclass::text ORDER BY t.tgrelid::regclass::text) FROM pg_trigger t
            WHERE t.tgrelid::regclass::text LIKE 'rebate.%' AND NOT t.tgisinternal AND (t.tgtype & 2) = 2
              AND t.tgfoid::regproc::text NOT IN ('rebate.touch_updated_at', 'rebate.stamp_state_change',
                                                  'rebate.stamp_delivery', 'rebate.end_customer_name_key',
                                                  'rebate.enforce_transition')
              AND t.tgrelid::regclass::text NOT IN (SELECT object FROM attack.covered)),
          NULL, 'every table whose BEFORE triggers read or guard is attacked by this file');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'rebate'::regnamespace AND p.prosecdef AND p.prorettype = 'trigger'::regtype
              AND p.oid::regprocedure::text NOT IN (SELECT object FROM attack.covered)),
          NULL, 'every SECURITY DEFINER trigger function is attacked by this file');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'rebate'::regnamespace AND p.prosecdef AND p.prorettype = 'trigger'::regtype
              AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                           WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner)),
          NULL, 'no SECURITY DEFINER trigger function can be attached by anyone but the owner (EXECUTE for nobody else)');

SELECT * FROM finish();
ROLLBACK;
