-- Customer registration (客户报备, issue 17): real login roles of tenant 983
-- (its manager; distributor D with dealers P1 and P2 below it, dealer P3
-- outside, each with a user) and of tenant 984 (its manager and a dealer's
-- user) register end customers.  A company is one by its ICU-normalized
-- name or its tax id; a conflict is refused, or arbitrated through the
-- approval engine; the registering partner learns that a conflict exists,
-- never whose; protection lapses without progress, lazily and by cron.
BEGIN;
SET search_path = public, rebate;
SELECT plan(53);

INSERT INTO tenant (id, code, name) VALUES (983, 'REG', '报备'), (984, 'REH', '另一品牌');
INSERT INTO region (id, tenant_id, code, name, level) VALUES (98301, 983, 'CN', '中国', 'country'),
                                                             (98401, 984, 'CN', '中国', 'country');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES (98302, 983, 'SH', '上海', 'city', 98301);
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id) VALUES
    (98310, 983, 'D', '华东总代', 'distributor', 98302);
INSERT INTO partner (id, tenant_id, code, name, parent_id, home_region_id) VALUES
    (98311, 983, 'P1', '上海一店', 98310, 98302), (98312, 983, 'P2', '上海二店', 98310, 98302),
    (98313, 983, 'P3', '独立店', NULL, 98302);
INSERT INTO partner (id, tenant_id, code, name, home_region_id) VALUES (98410, 984, 'Q1', '别家一店', 98401);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (98320, 983, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES (98321, 983, 'SKU1', '冰箱', 98320, 100);

CREATE ROLE reg_mgr LOGIN; CREATE ROLE reg_d LOGIN; CREATE ROLE reg_p1 LOGIN; CREATE ROLE reg_p2 LOGIN;
CREATE ROLE reg_p3 LOGIN; CREATE ROLE reg_mgr2 LOGIN; CREATE ROLE reg_q1 LOGIN;
SELECT grant_access('reg_mgr', 983), grant_access('reg_d', 983, 98310), grant_access('reg_p1', 983, 98311),
       grant_access('reg_p2', 983, 98312), grant_access('reg_p3', 983, 98313), grant_access('reg_mgr2', 984),
       grant_access('reg_q1', 984, 98410);

-- ---- a registration is protected for its partner ---------------------------------
SET ROLE reg_p1;
INSERT INTO end_customer (partner_id, name, tax_id, region_id, product_id, expected_amount, expected_close_on)
VALUES (98311, '上海明辉科技有限公司', '91310000MA1FL0XX01', 98302, 98321, 250000, CURRENT_DATE + 60)
RETURNING id AS c1 \gset
SELECT is((SELECT format('%s %s %s %s', status, registered_on = CURRENT_DATE, last_progress_on = CURRENT_DATE,
                         protected_until - CURRENT_DATE) FROM end_customer WHERE id = :c1),
          'protected t t 90', 'a registration is protected from today for the default 90 days');
SELECT throws_ok($$INSERT INTO end_customer (partner_id, name, status) VALUES (98311, '某公司', 'released')$$,
                 '42501', NULL, 'a partner user does not choose the status of its registration');
SELECT throws_ok($$INSERT INTO end_customer (partner_id, name, last_progress_on) VALUES (98311, '某公司', CURRENT_DATE + 300)$$,
                 '42501', NULL, 'nor the day its protection runs from');
SELECT throws_ok($$UPDATE end_customer SET expected_amount = 1 WHERE id = $$ || :c1, '42501', NULL,
                 'nor changes a registration by hand');
SELECT throws_ok($$INSERT INTO end_customer (partner_id, name) VALUES (98311, '上海明辉科技　有限公司')$$,
                 'RB081', 'customer "上海明辉科技　有限公司" is already registered by this partner',
                 'registering its own customer twice is refused, the name compared normalized');
SELECT is(check_registration('上海 明辉科技有限公司'), 'registered_by_you', 'check_registration: its own');
RESET ROLE;

-- ---- a conflicting registration is refused, never saying whose ---------------------
SET ROLE reg_p2;
SELECT throws_ok($$INSERT INTO end_customer (partner_id, name) VALUES (98312, '上海明辉科技 有限公司')$$,
                 'RB080', 'customer "上海明辉科技 有限公司" is already registered by another partner',
                 'a sibling''s registration of the same company (spaces aside) is refused');
SELECT throws_ok($$INSERT INTO end_customer (partner_id, name, tax_id) VALUES (98312, '明辉上海分公司', '91310000MA1FL0XX01')$$,
                 'RB080', 'customer "明辉上海分公司" is already registered by another partner',
                 'so is one under another name with the same tax id');
SELECT is((SELECT count(*)::int FROM end_customer), 0, 'the sibling sees no registration of P1''s');
SELECT is(check_registration('上海明辉科技有限公司'), 'registered_by_another_partner',
          'check_registration says a conflict exists');
SELECT is(check_registration('杭州新客户', '91330000MA1FL0XX02'), 'available', 'and that a new company is free');
-- the refusals speak only to who may write the row
SELECT throws_ok($$INSERT INTO end_customer (partner_id, name) VALUES (98311, '上海明辉科技有限公司')$$,
                 '42501', NULL, 'registering in a sibling''s name is refused by row-level security, not by the conflict');
RESET ROLE;
SET ROLE reg_mgr2;
SELECT throws_ok($$INSERT INTO end_customer (tenant_id, partner_id, name) VALUES (983, 98311, '上海明辉科技有限公司')$$,
                 '42501', NULL, 'another brand''s manager learns nothing of the conflict');
RESET ROLE;
SET ROLE reg_q1;
INSERT INTO end_customer (partner_id, name) VALUES (98410, '上海明辉科技有限公司') RETURNING id AS q1c \gset
SELECT is((SELECT status FROM end_customer WHERE id = :q1c), 'protected', 'another brand registers the same company freely');
SELECT is(check_registration('上海明辉科技有限公司'), 'registered_by_you', 'and its check sees only its own brand');
RESET ROLE;
SET ROLE reg_d;
SELECT is((SELECT array_agg(partner_id) FROM end_customer), '{98311}', 'the distributor sees its dealer''s registration');
RESET ROLE;
GRANT rebate_manager TO reg_p3;
SET ROLE reg_p3;
SET ROLE rebate_manager;
SELECT throws_ok($$SELECT check_registration('上海明辉科技有限公司')$$, '42501', 'permission denied to check registrations',
                 'a role acting through rebate_manager has no tenant to check');
RESET ROLE;
REVOKE rebate_manager FROM reg_p3;

-- ---- follow-ups renew the protection ------------------------------------------------
UPDATE end_customer SET last_progress_on = CURRENT_DATE - 30 WHERE id = :c1;
SELECT is((SELECT protected_until - CURRENT_DATE FROM end_customer WHERE id = :c1), 60,
          'the protection runs from the last progress (a manager''s correction recomputes it)');
SET ROLE reg_p1;
SELECT is((SELECT protected_until - CURRENT_DATE FROM follow_up_registration(:c1, '第二次拜访，报价中')), 90,
          'a follow-up renews it from today');
SELECT is((SELECT format('%s/%s', note, recorded_by) FROM customer_followup WHERE end_customer_id = :c1),
          '第二次拜访，报价中/reg_p1', 'and is kept with who reported it');
SELECT throws_ok(format($$SELECT follow_up_registration(%s, '  ')$$, :c1), '22023', 'a follow-up needs a note',
                 'a follow-up says what happened');
RESET ROLE;
SET ROLE reg_p2;
SELECT throws_ok(format($$SELECT follow_up_registration(%s, '抢单')$$, :c1), 'P0002',
                 format('registration %s does not exist or is not visible to you', :c1),
                 'a sibling cannot follow up P1''s registration');
SELECT throws_ok($$SELECT follow_up_registration(-5, '抢单')$$, 'P0002',
                 'registration -5 does not exist or is not visible to you', 'exactly as for one that does not exist');
SELECT is((SELECT count(*)::int FROM customer_followup), 0, 'nor read its follow-ups');
RESET ROLE;
SET ROLE reg_mgr2;
SELECT throws_ok(format($$SELECT follow_up_registration(%s, '抢单')$$, :c1), 'P0002', NULL,
                 'neither can another brand''s manager');
RESET ROLE;

-- ---- protection lapses without progress ----------------------------------------------
UPDATE end_customer SET last_progress_on = CURRENT_DATE - 91 WHERE id = :c1;
SET ROLE reg_p1;
SELECT throws_ok(format($$SELECT follow_up_registration(%s, '还在跟')$$, :c1), 'RB082',
                 format('registration %s is not protected', :c1), 'a protection past its last day cannot be renewed');
SELECT is(check_registration('上海明辉科技有限公司'), 'available', 'and no longer holds the company');
RESET ROLE;
SET ROLE reg_p2;
INSERT INTO end_customer (partner_id, name, tax_id) VALUES (98312, '上海明辉科技有限公司', '91310000MA1FL0XX01')
RETURNING id AS c2 \gset
SELECT is((SELECT status FROM end_customer WHERE id = :c2), 'protected', 'so another partner registers it');
RESET ROLE;
SELECT is((SELECT status FROM end_customer WHERE id = :c1), 'lapsed', 'lapsing the old registration first');
SELECT is((SELECT format('%s %s %s', partner_id, event, detail ->> 'reason') FROM notification
            WHERE subject_type = 'end_customer' AND subject_id = :c1),
          '98311 registration_released lapsed', 'whose partner is told it lapsed');
SELECT is((SELECT title || ' ' || detail::text FROM notification WHERE subject_type = 'end_customer' AND subject_id = :c1),
          format('registration %s of 上海明辉科技有限公司 lapsed: no progress after %s {"reason": "lapsed", "protected_until": "%s"}',
                 :c1, CURRENT_DATE - 1, CURRENT_DATE - 1),
          'not who registered it next');

-- the cron job lapses the rest
SET ROLE reg_p3;
INSERT INTO end_customer (partner_id, name) VALUES (98313, '苏州远航物流') RETURNING id AS c3 \gset
INSERT INTO end_customer (partner_id, name) VALUES (98313, '无锡新材料') RETURNING id AS c4 \gset
RESET ROLE;
UPDATE end_customer SET last_progress_on = CURRENT_DATE - 200 WHERE id = :c4;
SET ROLE reg_p3;
SELECT throws_ok($$SELECT lapse_registrations(983)$$, '42501', NULL, 'a partner user runs no lapse');
RESET ROLE;
SET ROLE reg_mgr2;
SELECT throws_ok($$SELECT lapse_registrations(983)$$, '42501', 'permission denied to lapse the registrations of tenant 983',
                 'nor another brand''s manager');
SELECT throws_ok($$SELECT lapse_registrations()$$, '42501', 'permission denied to lapse the registrations of every tenant',
                 'nor of every tenant');
RESET ROLE;
SET ROLE reg_mgr;
SELECT is((SELECT format('%s:%s', tenant, lapsed) FROM lapse_registrations(983)), '983:1',
          'the manager''s cron run lapses the one registration past its protection');
SELECT is((SELECT string_agg(status, ',' ORDER BY id) FROM end_customer WHERE id IN (:c3, :c4)), 'protected,lapsed',
          'and only it');
SELECT is((SELECT format('%s:%s', tenant, lapsed) FROM lapse_registrations(983)), '983:0', 'a second run lapses nothing');
SELECT throws_ok(format($$UPDATE end_customer SET status = 'protected' WHERE id = %s$$, :c4), 'RB001', NULL,
                 'a lapsed registration does not come back to life');
RESET ROLE;

-- ---- arbitration through the approval engine -------------------------------------------
SET ROLE reg_mgr;
INSERT INTO registration_setting (on_conflict, protection_days) VALUES ('arbitrate', 120);
RESET ROLE;
SET ROLE reg_p1;
SELECT throws_ok($$INSERT INTO end_customer (partner_id, name) VALUES (98311, '苏州远航物流')$$, 'RB071',
                 'no active approval flow for customer_registration requests',
                 'arbitration needs a customer_registration flow');
RESET ROLE;
SET ROLE reg_mgr;
INSERT INTO approval_flow (request_type, name) VALUES ('customer_registration', '撞单仲裁') RETURNING id AS flow \gset
INSERT INTO approval_step (flow_id, step_no, name, approver_kind) VALUES (:flow, 1, '渠道经理仲裁', 'manager');
RESET ROLE;
SET ROLE reg_p1;
INSERT INTO end_customer (partner_id, name, expected_amount) VALUES (98311, '苏州远航物流', 80000) RETURNING id AS c5, status \gset
SELECT is(:'status'::text, 'in_arbitration', 'with a flow, a conflicting registration waits for arbitration');
SELECT is((SELECT format('%s %s %s %s', request_type, status, amount, detail) FROM approval_request WHERE subject_id = :c5),
          'customer_registration pending 80000.00 {}', 'as a request the partner sees, its expected deal the amount');
SELECT is((SELECT count(*)::int FROM approval_request WHERE subject LIKE '%P3%' OR subject LIKE '%独立店%'
              OR subject LIKE '%' || :c3 || '%'), 0, 'which names neither the holder nor its registration');
SELECT is(check_registration('苏州远航物流'), 'registered_by_another_partner', 'the company is still held');
RESET ROLE;
SELECT is((SELECT format('%s %s %s', event, detail ->> 'holder_partner_id', (detail ->> 'holder_registration_id')::bigint = :c3)
             FROM notification WHERE partner_id IS NULL AND subject_type = 'end_customer' AND subject_id = :c5),
          'registration_conflict 98313 t', 'the managers are told of the conflict, both registrations named');
SET ROLE reg_mgr;
SELECT is((SELECT status FROM approve((SELECT task_id FROM my_approval_tasks() WHERE subject LIKE '%苏州远航物流%'), '客户确认由一店跟进')),
          'approved', 'the manager approves');
RESET ROLE;
SELECT is((SELECT format('%s %s', status, protected_until - CURRENT_DATE) FROM end_customer WHERE id = :c5), 'protected 120',
          'the registration is protected from today, for the tenant''s 120 days');
SELECT is((SELECT status FROM end_customer WHERE id = :c3), 'released', 'the holder''s registration is released');
SELECT is((SELECT format('%s %s %s', partner_id, event, detail ->> 'reason') FROM notification
            WHERE subject_type = 'end_customer' AND subject_id = :c3),
          '98313 registration_released arbitration', 'its partner is told');
SELECT is((SELECT title || ' ' || (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(detail) k) FROM notification
            WHERE subject_id = :c3 AND subject_type = 'end_customer'),
          format('registration %s of 苏州远航物流 was released by arbitration reason,request_id', :c3), 'not to whom');
SELECT is((SELECT count(*)::int FROM notification WHERE event = 'approval_decided' AND recipient = 'reg_p1'
              AND detail ->> 'status' = 'approved'), 1, 'and the registering user hears the decision');

-- a rejected arbitration rejects the registration; the holder keeps it
SET ROLE reg_p2;
INSERT INTO end_customer (partner_id, name) VALUES (98312, '苏州远航物流') RETURNING id AS c6 \gset
RESET ROLE;
SET ROLE reg_mgr;
SELECT is((SELECT status FROM reject((SELECT task_id FROM my_approval_tasks()), '一店在跟')), 'rejected', 'the manager rejects');
RESET ROLE;
SELECT is((SELECT string_agg(status, ',' ORDER BY id) FROM end_customer WHERE id IN (:c5, :c6)), 'protected,rejected',
          'the challenger''s registration is rejected, the holder''s stays protected');

-- registrations waiting or rejected are no new customers
SELECT is((SELECT count(*)::int FROM end_customer WHERE tenant_id = 983 AND status IN ('protected', 'lapsed', 'released')),
          5, 'five registrations count as new customers (rejected and waiting ones do not)');
SELECT * FROM finish();
ROLLBACK;
