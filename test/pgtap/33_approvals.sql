-- Approvals (issue 17): one engine for every request.  Real login roles of
-- tenant 981 (managers mgr and boss, deputy; distributor D with dealers P1
-- and P2 below it, each with a user) and of tenant 982 (its manager), acting
-- by SET ROLE, submit and decide; every step, decision, delegation,
-- escalation and end is checked against what the flow says, and every
-- refusal ends like a task that does not exist.
BEGIN;
SET search_path = public, rebate;
SELECT plan(73);

INSERT INTO tenant (id, code, name) VALUES (981, 'APV', '审批'), (982, 'APW', '另一品牌');
INSERT INTO region (id, tenant_id, code, name, level) VALUES (98101, 981, 'CN', '中国', 'country'),
                                                             (98201, 982, 'CN', '中国', 'country');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (98102, 981, 'E', '华东', 'area', 98101), (98103, 981, 'SH', '上海', 'city', 98102),
    (98104, 981, 'W', '华西', 'area', 98101);
INSERT INTO partner_grade (id, tenant_id, code, name, rank) VALUES (98105, 981, 'GOLD', '金牌', 1), (98106, 981, 'STD', '普通', 2);
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, grade_id) VALUES
    (98110, 981, 'D', '华东总代', 'distributor', 98102, 98105);
INSERT INTO partner (id, tenant_id, code, name, parent_id, home_region_id, grade_id) VALUES
    (98111, 981, 'P1', '上海一店', 98110, 98103, 98106), (98112, 981, 'P2', '上海二店', 98110, 98103, 98106),
    (98113, 981, 'P3', '华西独立店', NULL, 98104, 98106);
INSERT INTO partner (id, tenant_id, code, name, home_region_id) VALUES (98210, 982, 'X', '别家', 98201);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (98120, 981, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES (98121, 981, 'SKU1', '冰箱', 98120, 100);

CREATE ROLE apv_mgr LOGIN; CREATE ROLE apv_boss LOGIN; CREATE ROLE apv_deputy LOGIN;
CREATE ROLE apv_d LOGIN; CREATE ROLE apv_p1 LOGIN; CREATE ROLE apv_p2 LOGIN; CREATE ROLE apv_p1b LOGIN;
CREATE ROLE apv_other LOGIN; CREATE ROLE apv_stranger LOGIN;
SELECT grant_access('apv_mgr', 981), grant_access('apv_boss', 981), grant_access('apv_deputy', 981),
       grant_access('apv_d', 981, 98110), grant_access('apv_p1', 981, 98111), grant_access('apv_p2', 981, 98112),
       grant_access('apv_p1b', 981, 98111), grant_access('apv_other', 982);

-- ---- the flow: the distributor, then (from 10,000) both managers together ----
SET ROLE apv_mgr;
INSERT INTO approval_flow (request_type, name) VALUES ('general', '一般申请') RETURNING id AS flow \gset
INSERT INTO approval_step (flow_id, step_no, name, approver_kind) VALUES (:flow, 1, '总代审核', 'parent_partner');
INSERT INTO approval_step (flow_id, step_no, name, approver_kind, approver_roles, decision_rule, min_amount,
                           time_limit, escalate_to)
VALUES (:flow, 2, '经理会签', 'role', ARRAY['apv_mgr', 'apv_boss'], 'all', 10000, '2 days', 'apv_deputy');
SELECT throws_ok($$INSERT INTO approval_step (flow_id, step_no, name, approver_kind, approver_roles)
                   VALUES ($$ || :flow || $$, 3, 'x', 'role', ARRAY['apv_stranger'])$$,
                 '22023', 'role apv_stranger is not bound to tenant 981',
                 'a step naming a role not bound to the tenant is refused when written');
SELECT throws_ok($$INSERT INTO approval_step (flow_id, step_no, name, approver_kind, approver_roles)
                   VALUES ($$ || :flow || $$, 3, 'x', 'role', ARRAY['apv_other'])$$,
                 '22023', 'role apv_other is not bound to tenant 981', 'so is another brand''s manager');
SELECT throws_ok($$INSERT INTO approval_flow (request_type, name) VALUES ('general', '第二个')$$, '23505', NULL,
                 'a request type has one active flow per tenant');
RESET ROLE;

-- ---- a request of 20,000 by P1's user goes through both steps ---------------
SET ROLE apv_p1;
SELECT id AS r1, status, current_step FROM submit_request('general', '展会补贴', amount => 20000, currency => 'CNY') \gset
SELECT is(:'status' || '/' || :'current_step', 'pending/1', 'a request waits at its first step');
SELECT is((SELECT count(*)::int FROM my_approval_tasks()), 0, 'the requester has nothing to decide');
RESET ROLE;
SELECT is((SELECT region_id::text || '/' || grade_id::text || '/' || requested_by FROM approval_request WHERE id = :r1),
          '98103/98106/apv_p1', 'the request takes the partner''s home region and grade, and records who asked');

SET ROLE apv_p2;
SELECT is((SELECT count(*)::int FROM approval_request), 0, 'a sibling dealer sees none of it');
SELECT is((SELECT count(*)::int FROM approval_task), 0, 'nor its tasks');
SELECT is((SELECT count(*)::int FROM approval_event), 0, 'nor its history');
RESET ROLE;
SELECT id AS t1 FROM approval_task WHERE request_id = :r1 \gset
SET ROLE apv_p2;
SELECT throws_ok('SELECT approve(' || :t1 || ')', 'P0002',
                 'approval task ' || :t1 || ' does not exist or is not yours to decide',
                 'a sibling dealer cannot decide it');
SELECT throws_ok('SELECT approve(999999999)', 'P0002', 'approval task 999999999 does not exist or is not yours to decide',
                 '(as for a task that does not exist)');
RESET ROLE;
SET ROLE apv_mgr;
SELECT throws_ok('SELECT approve(' || :t1 || ')', 'P0002', NULL,
                 'a manager cannot decide the distributor''s step either');
RESET ROLE;
SET ROLE apv_other;
SELECT throws_ok('SELECT approve(' || :t1 || ')', 'P0002',
                 'approval task ' || :t1 || ' does not exist or is not yours to decide', 'nor another brand''s manager');
RESET ROLE;
SET ROLE apv_d;
SELECT is((SELECT string_agg(task_id || ':' || step_name, ',') FROM my_approval_tasks()), :t1 || ':总代审核',
          'the distributor finds the task of its dealer''s request');
SELECT is((SELECT status || '/' || current_step FROM approve(:t1, '同意')), 'pending/2',
          'its approval starts the managers'' step (the amount reaches 10,000)');
SELECT throws_ok('SELECT approve(' || :t1 || ')', 'RB070', 'approval task ' || :t1 || ' is already approved',
                 'a task is decided once');
RESET ROLE;
SELECT is((SELECT string_agg(approver_role || ':' || status, ',' ORDER BY approver_role) FROM approval_task
            WHERE request_id = :r1 AND step_no = 2), 'apv_boss:waiting,apv_mgr:waiting', 'one task per named manager');
SELECT ok((SELECT bool_and(due_at BETWEEN now() + interval '2 days' - interval '1 minute'
                                     AND clock_timestamp() + interval '2 days')
             FROM approval_task WHERE request_id = :r1 AND step_no = 2), 'each due in the step''s two days');
SET ROLE apv_mgr;
SELECT is((SELECT status || '/' || current_step FROM approve((SELECT task_id FROM my_approval_tasks()))), 'pending/2',
          'with all (会签), one manager''s approval leaves the step waiting');
RESET ROLE;
SET ROLE apv_boss;
SELECT is((SELECT status || '/' || coalesce(current_step::text, '-') FROM approve((SELECT task_id FROM my_approval_tasks()))),
          'approved/-', 'the second approval ends the request approved');
RESET ROLE;
SELECT is((SELECT string_agg(event || ':' || actor || ':' || coalesce(step_no::text, '-'), ', ' ORDER BY id)
             FROM approval_event WHERE request_id = :r1),
          'submitted:apv_p1:-, step_started:apv_p1:1, approved:apv_d:1, step_started:apv_d:2, approved:apv_mgr:2, approved:apv_boss:2, ended:apv_boss:2',
          'the history has every step and decision, with who acted');
SELECT is((SELECT string_agg(coalesce(partner_id::text, '-') || ':' || coalesce(recipient, '*') || ':' || event, ', ' ORDER BY id)
             FROM notification WHERE subject_type = 'approval_request' AND subject_id = :r1),
          '98110:*:approval_waiting, -:apv_boss:approval_waiting, -:apv_mgr:approval_waiting, 98111:apv_p1:approval_decided',
          'the distributor''s users, each manager, and finally the requester were notified');
SET ROLE apv_p1b;
SELECT is((SELECT count(*)::int FROM notification WHERE subject_id = :r1), 0,
          'another user of the same partner does not get the requester''s own notice');
RESET ROLE;

-- ---- a small request skips the managers' step ---------------------------------
SET ROLE apv_p1;
SELECT id AS r2 FROM submit_request('general', '小额补贴', amount => 500) \gset
RESET ROLE;
SET ROLE apv_d;
SELECT is((SELECT status FROM approve((SELECT task_id FROM my_approval_tasks() WHERE request_id = :r2))), 'approved',
          'below 10,000 the managers'' step does not apply: approved after the distributor');
RESET ROLE;
SELECT is((SELECT string_agg(event, ',' ORDER BY id) FROM approval_event WHERE request_id = :r2),
          'submitted,step_started,approved,step_skipped,ended', 'the skipped step is in the history');
SET ROLE apv_p1;
SELECT id AS r2b FROM submit_request('general', '无金额申请') \gset
RESET ROLE;
SET ROLE apv_d;
SELECT is((SELECT status FROM approve((SELECT task_id FROM my_approval_tasks() WHERE request_id = :r2b))), 'approved',
          'a request without an amount does not meet a step with an amount bound');
RESET ROLE;

-- ---- rejection ends the request, and the other tasks with it ------------------
SET ROLE apv_p1;
SELECT id AS r3 FROM submit_request('general', '大额补贴', amount => 50000) \gset
RESET ROLE;
SET ROLE apv_d;
SELECT approve((SELECT task_id FROM my_approval_tasks() WHERE request_id = :r3)) IS NOT NULL AS approved_by_d \gset
RESET ROLE;
SET ROLE apv_boss;
SELECT is((SELECT status FROM reject((SELECT task_id FROM my_approval_tasks() WHERE request_id = :r3), '预算不足')),
          'rejected', 'one rejection rejects the request');
RESET ROLE;
SELECT is((SELECT string_agg(approver_role || ':' || status, ',' ORDER BY approver_role) FROM approval_task
            WHERE request_id = :r3 AND step_no = 2), 'apv_boss:rejected,apv_mgr:cancelled',
          'the other manager''s task is cancelled');
SELECT id AS t3 FROM approval_task WHERE request_id = :r3 AND approver_role = 'apv_mgr' \gset
SET ROLE apv_mgr;
SELECT throws_ok('SELECT approve(' || :t3 || ')', 'RB070', 'approval task ' || :t3 || ' is already cancelled',
                 'a cancelled task cannot be decided');
RESET ROLE;
SELECT is((SELECT title FROM notification WHERE subject_id = :r3 AND event = 'approval_decided'),
          'general request ' || :r3 || ' rejected: 大额补贴', 'the requester learns of the rejection');

-- ---- 或签: any one of the roles settles the step -----------------------------
SET ROLE apv_mgr;
UPDATE approval_step SET decision_rule = 'any', escalate_to = NULL, time_limit = NULL WHERE flow_id = :flow AND step_no = 2;
RESET ROLE;
SET ROLE apv_p1;
SELECT id AS r4 FROM submit_request('general', '或签申请', amount => 30000) \gset
RESET ROLE;
SET ROLE apv_d;
SELECT approve((SELECT task_id FROM my_approval_tasks() WHERE request_id = :r4)) IS NOT NULL AS approved_by_d \gset
RESET ROLE;
SET ROLE apv_mgr;
SELECT is((SELECT status FROM approve((SELECT task_id FROM my_approval_tasks() WHERE request_id = :r4))), 'approved',
          'with any (或签), one manager''s approval settles the step');
RESET ROLE;
SELECT is((SELECT string_agg(approver_role || ':' || status, ',' ORDER BY approver_role) FROM approval_task
            WHERE request_id = :r4 AND step_no = 2), 'apv_boss:cancelled,apv_mgr:approved', 'and cancels the other''s task');

-- ---- nobody decides its own request; acting through a group role decides nothing --
SET ROLE apv_mgr;
INSERT INTO approval_flow (request_type, name, active) VALUES ('general', '经理流程', false) RETURNING id AS flow2 \gset
INSERT INTO approval_step (flow_id, step_no, name, approver_kind) VALUES (:flow2, 1, '任一经理', 'manager');
UPDATE approval_flow SET active = false WHERE request_type = 'general';
UPDATE approval_flow SET active = true WHERE id = :flow2;
SELECT id AS r5 FROM submit_request('general', '经理自己的申请', partner_id => 98113, amount => 1) \gset
SELECT is((SELECT count(*)::int FROM my_approval_tasks()), 0, 'a manager does not find its own request among its tasks');
SELECT id AS t5 FROM approval_task WHERE request_id = :r5 \gset
SELECT throws_ok('SELECT approve(' || :t5 || ')', 'P0002', NULL, 'nor may it decide it');
RESET ROLE;
SET ROLE apv_boss;
SET ROLE rebate_manager;
SELECT throws_ok('SELECT approve(' || :t5 || ')', 'P0002', NULL, 'acting through rebate_manager, no manager decides anything');
SELECT throws_ok($$SELECT submit_request('general', 'x')$$, '42501', 'permission denied to submit a request',
                 'nor submits anything');
RESET ROLE;
SET ROLE apv_boss;
SELECT is((SELECT status FROM approve(:t5)), 'approved', 'another manager of the tenant decides a manager task');
RESET ROLE;
SELECT is((SELECT partner_id FROM approval_request WHERE id = :r5), 98113::bigint,
          'a manager may ask on behalf of any partner of its tenant');

-- ---- partners: their own, or below them; never a sibling ---------------------
SET ROLE apv_p1;
SELECT throws_ok($$SELECT submit_request('general', 'x', partner_id => 98112)$$, 'P0002',
                 'partner 98112 does not exist or is not visible to you', 'a dealer cannot ask for its sibling');
SELECT throws_ok($$SELECT submit_request('general', 'x', partner_id => 98210)$$, 'P0002',
                 'partner 98210 does not exist or is not visible to you', '(nor for another brand''s partner, alike)');
SELECT throws_ok($$SELECT submit_request('unknown_kind', 'x')$$, '22023', 'unknown request type "unknown_kind"',
                 'an unknown request type is refused');
RESET ROLE;
SET ROLE apv_other;
SELECT throws_ok($$SELECT submit_request('general', 'x')$$, 'RB071', 'no active approval flow for general requests',
                 'a tenant without a flow for the type cannot ask');
RESET ROLE;
SET ROLE apv_d;
SELECT is((SELECT partner_id FROM submit_request('general', '为二店申请', partner_id => 98112)), 98112::bigint,
          'a distributor may ask for a dealer below it');
RESET ROLE;

-- ---- the step's conditions: region subtree, grade, product -------------------
SET ROLE apv_mgr;
INSERT INTO approval_step (flow_id, step_no, name, approver_kind, region_id) VALUES (:flow2, 2, '华东经理', 'manager', 98102);
INSERT INTO approval_step (flow_id, step_no, name, approver_kind, grade_id) VALUES (:flow2, 3, '金牌经理', 'manager', 98105);
INSERT INTO approval_step (flow_id, step_no, name, approver_kind, product_id) VALUES (:flow2, 4, '冰箱经理', 'manager', 98121);
SELECT id AS r6 FROM submit_request('general', '上海的申请', partner_id => 98111, product_id => 98121) \gset
SELECT id AS r7 FROM submit_request('general', '华西的申请', partner_id => 98113) \gset
RESET ROLE;
SET ROLE apv_boss;
SELECT is((SELECT current_step FROM approve((SELECT task_id FROM my_approval_tasks() WHERE request_id = :r6))), 2,
          'a request from Shanghai meets the step of East China (a region below it)');
SELECT is((SELECT status || '/' || coalesce(current_step::text, '-')
             FROM approve((SELECT task_id FROM my_approval_tasks() WHERE request_id = :r6))), 'pending/4',
          'a standard-grade partner skips the gold step, and the product step applies');
SELECT is((SELECT status FROM approve((SELECT task_id FROM my_approval_tasks() WHERE request_id = :r7))), 'approved',
          'a request from West China without a product meets none of the later steps');
RESET ROLE;

-- ---- delegation ----------------------------------------------------------------
SET ROLE apv_mgr;
UPDATE approval_flow SET active = false WHERE request_type = 'general';
UPDATE approval_flow SET active = true WHERE id = :flow;
UPDATE approval_step SET decision_rule = 'all', time_limit = '2 days', escalate_to = 'apv_deputy'
 WHERE flow_id = :flow AND step_no = 2;
RESET ROLE;
SET ROLE apv_boss;
SELECT id AS deleg FROM delegate_approvals('apv_deputy', tstzrange(now() - interval '1 hour', now() + interval '7 days')) \gset
SELECT throws_ok($$SELECT delegate_approvals('apv_p1', tstzrange(now(), NULL))$$, '42501',
                 'permission denied to delegate approvals to apv_p1', 'a manager cannot hand its decisions to a partner user');
SELECT throws_ok($$SELECT delegate_approvals('apv_other', tstzrange(now(), NULL))$$, '42501',
                 'permission denied to delegate approvals to apv_other', 'nor to another brand''s manager');
RESET ROLE;
SET ROLE apv_p1;
SELECT throws_ok($$SELECT delegate_approvals('apv_p2', tstzrange(now(), NULL))$$, '42501', NULL,
                 'a dealer''s user cannot hand its decisions to a sibling''s');
SELECT id AS r8 FROM submit_request('general', '委托测试', amount => 20000) \gset
RESET ROLE;
SET ROLE apv_d;
SELECT approve((SELECT task_id FROM my_approval_tasks() WHERE request_id = :r8)) IS NOT NULL AS approved_by_d \gset
RESET ROLE;
SELECT id AS t8 FROM approval_task WHERE request_id = :r8 AND approver_role = 'apv_boss' \gset
SELECT is((SELECT count(*)::int FROM notification WHERE recipient = 'apv_deputy' AND subject_id = :r8
              AND detail ->> 'on_behalf_of' = 'apv_boss'), 1, 'the delegate is told of its delegator''s task');
SET ROLE apv_deputy;
SELECT is((SELECT on_behalf_of FROM my_approval_tasks() WHERE task_id = :t8), 'apv_boss'::name,
          'the delegate finds the delegator''s task, on its behalf');
SELECT is((SELECT status FROM approve(:t8, '代批')), 'pending', 'and decides it');
RESET ROLE;
SELECT is((SELECT decided_by || ' for ' || on_behalf_of FROM approval_task WHERE id = :t8), 'apv_deputy for apv_boss',
          'the task records who decided for whom');
SELECT is((SELECT on_behalf_of FROM approval_event WHERE task_id = :t8 AND event = 'approved'), 'apv_boss'::name,
          'so does the history');
SET ROLE apv_boss;
SELECT ok(upper((end_delegation(:deleg)).valid) <= now(), 'the delegator ends the delegation');
RESET ROLE;
SET ROLE apv_p1;
SELECT id AS r9 FROM submit_request('general', '委托结束后', amount => 20000) \gset
RESET ROLE;
SET ROLE apv_d;
SELECT approve((SELECT task_id FROM my_approval_tasks() WHERE request_id = :r9)) IS NOT NULL AS approved_by_d \gset
RESET ROLE;
SELECT id AS t9 FROM approval_task WHERE request_id = :r9 AND approver_role = 'apv_boss' \gset
SET ROLE apv_deputy;
SELECT throws_ok('SELECT approve(' || :t9 || ')', 'P0002', NULL, 'once ended, the delegate decides nothing for it');
RESET ROLE;

-- ---- escalation and reminders ----------------------------------------------------
UPDATE approval_task SET due_at = now() - interval '1 hour' WHERE request_id = :r9 AND status = 'waiting';
SET ROLE apv_p1;
SELECT throws_ok('SELECT * FROM escalate_approvals(981)', '42501', NULL, 'a partner user escalates nothing');
RESET ROLE;
SET ROLE apv_other;
SELECT throws_ok('SELECT * FROM escalate_approvals(981)', '42501', NULL, 'nor another brand''s manager');
RESET ROLE;
SET ROLE apv_mgr;
SELECT is((SELECT escalated || '/' || reminded FROM escalate_approvals(981)), '2/0',
          'both overdue tasks of the step pass to the escalation role');
SELECT is((SELECT escalated || '/' || reminded FROM escalate_approvals(981)), '0/0', 'once');
RESET ROLE;
SELECT is((SELECT string_agg(coalesce(approver_role, '-') || ':' || status, ',' ORDER BY status, approver_role) FROM approval_task
            WHERE request_id = :r9 AND step_no = 2),
          'apv_boss:escalated,apv_mgr:escalated,apv_deputy:waiting,apv_deputy:waiting',
          'the deputy takes both over');
SET ROLE apv_deputy;
SELECT is((SELECT string_agg(status, ',') FROM (SELECT (approve(task_id)).status FROM my_approval_tasks()
                                                 WHERE request_id = :r9 ORDER BY task_id) d),
          'pending,approved', 'and the step completes with its approvals');
RESET ROLE;
UPDATE approval_step SET escalate_to = NULL WHERE flow_id = :flow AND step_no = 2;
SET ROLE apv_p1;
SELECT id AS r10 FROM submit_request('general', '提醒测试') \gset
RESET ROLE;
UPDATE approval_task SET due_at = now() - interval '1 hour' WHERE request_id = :r10;
SET ROLE apv_mgr;
SELECT is((SELECT escalated || '/' || reminded FROM escalate_approvals(981)), '0/1',
          'an overdue task without an escalation role is reminded');
SELECT is((SELECT escalated || '/' || reminded FROM escalate_approvals(981)), '0/0', 'once');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM notification WHERE subject_id = :r10 AND event = 'approval_waiting' AND partner_id = 98110), 2,
          'the distributor''s users were told twice: when it started, and when it was overdue');

-- ---- withdrawal ---------------------------------------------------------------------
SET ROLE apv_p2;
SELECT throws_ok('SELECT withdraw_request(' || :r10 || ')', 'P0002',
                 'approval request ' || :r10 || ' does not exist or is not yours to withdraw',
                 'a sibling cannot withdraw another dealer''s request');
RESET ROLE;
SET ROLE apv_p1;
SELECT is((SELECT status FROM withdraw_request(:r10, '不需要了')), 'withdrawn', 'the requester withdraws it');
SELECT throws_ok('SELECT withdraw_request(' || :r10 || ')', 'RB070', 'approval request ' || :r10 || ' is already withdrawn',
                 'once');
RESET ROLE;
SELECT is((SELECT string_agg(status, ',') FROM approval_task WHERE request_id = :r10), 'cancelled', 'its task is cancelled');

-- ---- a module's on_decided runs with the request as it ended -----------------------
CREATE TABLE pg_temp.decided (request_id bigint, status text);
CREATE FUNCTION pg_temp.on_test_decided(r approval_request) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO pg_temp.decided VALUES (r.id, r.status) $$;
INSERT INTO request_type (request_type, description, on_decided)
VALUES ('test_module', 'test', 'pg_temp.on_test_decided(rebate.approval_request)');
INSERT INTO approval_flow (tenant_id, request_type, name) VALUES (981, 'test_module', 't') RETURNING id AS flow3 \gset
INSERT INTO approval_step (tenant_id, flow_id, step_no, name, approver_kind, min_amount)
VALUES (981, :flow3, 1, 'm', 'manager', 1000);
-- the module opens its requests itself (here a definer function standing for it)
CREATE FUNCTION pg_temp.module_asks(amount numeric) RETURNS approval_request LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT rebate.open_request('test_module', 'm', amount => amount) $$;
GRANT EXECUTE ON FUNCTION pg_temp.module_asks(numeric) TO PUBLIC;
SET ROLE apv_p1;
SELECT throws_ok($$SELECT submit_request('test_module', 'm', subject_id => 1)$$, '22023',
                 'requests of type test_module are made through their module',
                 'a module''s request type is not opened through submit_request (it could point at any row)');
SELECT id AS r11 FROM pg_temp.module_asks(5000) \gset
SELECT is((SELECT format('%s %s', status, current_step) FROM pg_temp.module_asks(NULL)), 'pending 0',
          'a module''s request no step applies to is not approved unseen: it waits at step 0');
RESET ROLE;
SELECT is((SELECT string_agg(format('%s:%s', step_no, approver_kind), ',') FROM approval_task
            WHERE request_id = (SELECT max(id) FROM approval_request WHERE request_type = 'test_module')),
          '0:manager', 'for the tenant''s managers');
SET ROLE apv_mgr;
SELECT status AS s11 FROM reject((SELECT task_id FROM my_approval_tasks() WHERE request_id = :r11)) \gset
RESET ROLE;
SELECT is((SELECT string_agg(request_id || ':' || status, ',') FROM pg_temp.decided), :r11 || ':rejected',
          'the module''s function ran once, with the request rejected');

SELECT * FROM finish();
ROLLBACK;
