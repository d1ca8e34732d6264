-- Leads and opportunities: real login roles of tenant 987 (manager; 总代 D
-- with dealers P1 and P2 below it; dealers P3 (gold), P4 (west), P5
-- (suspended) and P6 (territory ended)) and of tenant 988, acting by SET
-- ROLE.  The rules offer leads by region subtree, product, grade and
-- capacity, in round robin; declines and expiries pass a lead on or return
-- it to the managers; accepting opens an opportunity whose stages, order and
-- customer are guarded; the KPI views count exactly; nobody sees or answers
-- what is not its own.
BEGIN;
SET search_path = public, rebate;
SET TimeZone = 'Asia/Shanghai';
SELECT plan(85);

INSERT INTO tenant (id, code, name) VALUES (987, 'LDS', '线索'), (988, 'LDT', '另一品牌');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow', no_price_policy = 'allow'
 WHERE tenant_id IN (987, 988);
INSERT INTO region (id, tenant_id, code, name, level) VALUES (98701, 987, 'CN', '中国', 'country'),
                                                             (98801, 988, 'CN', '中国', 'country');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (98702, 987, 'E', '华东', 'area', 98701), (98703, 987, 'SH', '上海', 'city', 98702),
    (98704, 987, 'HZ', '杭州', 'city', 98702), (98705, 987, 'W', '华西', 'area', 98701),
    (98706, 987, 'CD', '成都', 'city', 98705);
INSERT INTO partner_grade (id, tenant_id, code, name, rank) VALUES (98707, 987, 'GOLD', '金牌', 1), (98708, 987, 'STD', '普通', 2);
INSERT INTO partner (id, tenant_id, code, name, kind, grade_id, home_region_id, state) VALUES
    (98710, 987, 'D', '华东总代', 'distributor', 98707, 98702, 'active');
INSERT INTO partner (id, tenant_id, code, name, parent_id, grade_id, home_region_id, state) VALUES
    (98711, 987, 'P1', '上海一店', 98710, 98708, 98703, 'active'), (98712, 987, 'P2', '上海二店', 98710, 98708, 98703, 'active'),
    (98713, 987, 'P3', '华东金牌店', NULL, 98707, 98704, 'active'), (98714, 987, 'P4', '成都店', NULL, 98708, 98706, 'active'),
    (98715, 987, 'P5', '停业店', NULL, 98708, 98703, 'active'), (98716, 987, 'P6', '过期店', NULL, 98708, 98703, 'active');
UPDATE partner SET state = 'suspended' WHERE id = 98715;
INSERT INTO partner (id, tenant_id, code, name, home_region_id, state) VALUES (98810, 988, 'X', '别家', 98801, 'active');
INSERT INTO partner_territory (tenant_id, partner_id, region_id, valid) VALUES
    (987, 98710, 98702, '[2020-01-01,)'), (987, 98711, 98703, '[2020-01-01,)'), (987, 98712, 98703, '[2020-01-01,)'),
    (987, 98713, 98702, '[2020-01-01,)'), (987, 98714, 98705, '[2020-01-01,)'), (987, 98715, 98703, '[2020-01-01,)'),
    (987, 98716, 98703, '[2020-01-01,2021-01-01)'), (988, 98810, 98801, '[2020-01-01,)');
INSERT INTO product_category (id, tenant_id, code, name) VALUES (98720, 987, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES
    (98721, 987, 'FRIDGE', '冰箱', 98720, 3000), (98722, 987, 'AC', '空调', 98720, 4000);
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, status) VALUES
    (98730, 987, 'SO-P1-DRAFT', 98711, 98703, 'draft'), (98731, 987, 'SO-P1', 98711, 98703, 'submitted'),
    (98732, 987, 'SO-P2', 98712, 98703, 'submitted'), (98733, 987, 'SO-P1-B', 98711, 98703, 'submitted');
INSERT INTO end_customer (id, tenant_id, partner_id, name, region_id) VALUES
    (98740, 987, 98711, '浦东酒店', 98703), (98741, 987, 98712, '静安商场', 98703);

CREATE ROLE lds_mgr LOGIN; CREATE ROLE lds_d LOGIN; CREATE ROLE lds_p1 LOGIN; CREATE ROLE lds_p2 LOGIN;
CREATE ROLE lds_p3 LOGIN; CREATE ROLE lds_p4 LOGIN; CREATE ROLE lds_other LOGIN; CREATE ROLE lds_x LOGIN;
SELECT grant_access('lds_mgr', 987), grant_access('lds_d', 987, 98710), grant_access('lds_p1', 987, 98711),
       grant_access('lds_p2', 987, 98712), grant_access('lds_p3', 987, 98713), grant_access('lds_p4', 987, 98714),
       grant_access('lds_other', 988), grant_access('lds_x', 988, 98810);

-- ---- the rules ------------------------------------------------------------------------------
SET ROLE lds_mgr;
-- 1: fridges in Shanghai go to standard-grade partners there, two open leads each, 24 hours to answer
INSERT INTO lead_rule (name, priority, region_id, product_id, grade_ids, capacity, response_time)
VALUES ('上海冰箱', 10, 98703, 98721, ARRAY[98708::bigint], 2, '24 hours');
-- 2: anything in 华东 goes to gold partners, in turn
INSERT INTO lead_rule (name, priority, region_id, grade_ids) VALUES ('华东金牌', 20, 98702, ARRAY[98707::bigint]);
-- 3: anything in 华西 to anyone there
INSERT INTO lead_rule (name, priority, region_id) VALUES ('华西', 30, 98705);
SELECT throws_ok($$INSERT INTO lead_rule (name, priority, grade_ids) VALUES ('x', 40, ARRAY[99999::bigint])$$,
                 '22023', 'grade 99999 is not a grade of tenant 987', 'a rule names grades of its own tenant');
SELECT throws_ok($$INSERT INTO lead_rule (name, priority) VALUES ('y', 10)$$, '23505', NULL,
                 'priorities are unique within a tenant');
RESET ROLE;
SET ROLE lds_other;
SELECT throws_ok($$INSERT INTO lead_rule (name, priority, grade_ids) VALUES ('z', 10, ARRAY[98707::bigint])$$,
                 '22023', 'grade 98707 is not a grade of tenant 988', 'another tenant''s grade is no grade of its own');
RESET ROLE;

-- ---- round robin: twenty leads in 杭州 alternate between the gold partners D and P3 ------------
SET ROLE lds_mgr;
INSERT INTO lead (name, region_id, source, expected_amount)
SELECT format('杭州客户%s', i), 98704, 'campaign', 1000 FROM generate_series(1, 20) i;
SELECT is((SELECT format('%s/%s/%s', tenant, offered, unassigned) FROM distribute_leads()), '987/20/0',
          'a manager distributes its tenant''s leads (NULL: its own tenant)');
RESET ROLE;
SELECT is((SELECT string_agg(o.partner_id::text, ',' ORDER BY l.id) FROM lead l JOIN lead_offer o ON o.lead_id = l.id
            WHERE l.tenant_id = 987 AND l.source = 'campaign'),
          (SELECT string_agg(CASE WHEN i % 2 = 1 THEN '98710' ELSE '98713' END, ',' ORDER BY i) FROM generate_series(1, 20) i),
          'round robin: the partner whose last offer is the oldest (never offered: by id) gets the next lead');
SELECT is((SELECT string_agg(format('%s:%s', partner_id, n), ' ' ORDER BY partner_id)
             FROM (SELECT partner_id, count(*) AS n FROM lead_offer WHERE tenant_id = 987 GROUP BY 1) c),
          '98710:10 98713:10', 'ten each: never a dealer of another grade, region or state');
SELECT is((SELECT count(*)::int FROM lead WHERE tenant_id = 987 AND status = 'offered' AND partner_id IS NOT NULL), 20,
          'every lead is offered, its partner named');
SELECT is((SELECT count(*)::int FROM notification WHERE tenant_id = 987 AND event = 'lead_assigned' AND subject_type = 'lead'),
          20, 'each offer is announced to its partner (lead_assigned)');
SELECT is((SELECT string_agg(DISTINCT format('%s %s', rule_id IS NOT NULL, respond_by - offered_at), ',')
             FROM lead_offer WHERE tenant_id = 987),
          't 2 days', 'the offers name their rule, with its response time (default 48 hours)');

-- ---- product, grade, subtree and capacity: five fridge leads in 上海 -----------------------------
SET ROLE lds_mgr;
INSERT INTO lead (name, region_id, product_id, source, expected_amount, contact_name)
SELECT format('上海冰箱客户%s', i), 98703, 98721, 'website', 10000 * i, '王经理' FROM generate_series(1, 5) i;
SELECT is((SELECT format('%s/%s', offered, unassigned) FROM distribute_leads(987)), '5/0', 'five more offered');
RESET ROLE;
SELECT lead_id AS w1 FROM lead_offer o JOIN lead l ON l.id = o.lead_id WHERE l.name = '上海冰箱客户1' \gset
SELECT lead_id AS w2 FROM lead_offer o JOIN lead l ON l.id = o.lead_id WHERE l.name = '上海冰箱客户2' \gset
SELECT lead_id AS w3 FROM lead_offer o JOIN lead l ON l.id = o.lead_id WHERE l.name = '上海冰箱客户3' \gset
SELECT lead_id AS w5 FROM lead_offer o JOIN lead l ON l.id = o.lead_id WHERE l.name = '上海冰箱客户5' \gset
SELECT is((SELECT string_agg(o.partner_id::text, ',' ORDER BY l.id) FROM lead l JOIN lead_offer o ON o.lead_id = l.id
            WHERE l.tenant_id = 987 AND l.source = 'website'),
          '98711,98712,98711,98712,98710',
          'the fridge rule: P1 and P2 in turn (not P5, suspended, nor P6, whose territory ended) up to two open leads each; the fifth falls through to the 华东 gold rule');
SELECT is((SELECT format('%s %s', open_lead_count(987, 98711), open_lead_count(987, 98712))), '2 2',
          'P1 and P2 each hold two open leads');
SELECT is((SELECT respond_by - offered_at FROM lead_offer WHERE lead_id = :w1), '24:00:00'::interval,
          'an offer''s deadline is its rule''s response time');

-- ---- who sees the offers -----------------------------------------------------------------------
SET ROLE lds_p1;
SELECT is((SELECT string_agg(name, ',' ORDER BY id) FROM lead), '上海冰箱客户1,上海冰箱客户3',
          'a dealer''s user sees the leads offered to its partner (with their contact)');
SELECT is((SELECT count(*)::int FROM lead_offer), 2, 'and their offers');
SELECT is((SELECT count(*)::int FROM notification WHERE event = 'lead_assigned'), 2, 'and was told of them');
RESET ROLE;
SET ROLE lds_p2;
SELECT is((SELECT count(*)::int FROM lead WHERE id IN (:w1, :w3)), 0, 'its sibling sees none of them');
SELECT throws_ok('SELECT accept_lead(' || :w1 || ')', 'P0002', 'lead ' || :w1 || ' does not exist or is not offered to you',
                 'a sibling cannot accept a lead offered to another dealer');
SELECT throws_ok('SELECT accept_lead(999999999)', 'P0002', 'lead 999999999 does not exist or is not offered to you',
                 '(as for a lead that does not exist)');
SELECT throws_ok('SELECT decline_lead(' || :w1 || ', ''no'')', 'P0002', NULL, 'nor decline it');
RESET ROLE;
SET ROLE lds_d;
SELECT is((SELECT string_agg(partner_id::text, ',' ORDER BY id) FROM lead WHERE source = 'website'),
          '98711,98712,98711,98712,98710', 'the distributor sees its dealers'' leads and its own');
SELECT throws_ok('SELECT accept_lead(' || :w1 || ')', 'P0002', NULL, 'but answers only those offered to itself');
RESET ROLE;
SET ROLE lds_x;
SELECT is((SELECT count(*)::int FROM lead), 0, 'another brand''s dealer sees no lead');
SELECT throws_ok('SELECT accept_lead(' || :w1 || ')', 'P0002', 'lead ' || :w1 || ' does not exist or is not offered to you',
                 'and accepts none');
RESET ROLE;
SET ROLE lds_other;
SELECT is((SELECT count(*)::int FROM lead) + (SELECT count(*)::int FROM lead_offer) + (SELECT count(*)::int FROM lead_rule),
          0, 'another brand''s manager sees no lead, offer or rule');
SELECT throws_ok('SELECT assign_lead(' || :w1 || ', 98810)', 'P0002', 'lead ' || :w1 || ' does not exist or is not visible to you',
                 'and assigns none');
SELECT throws_ok('SELECT * FROM distribute_leads(987)', '42501', 'permission denied to distribute the leads of tenant 987',
                 'nor distributes them');
RESET ROLE;
SET SESSION AUTHORIZATION lds_mgr;
SET ROLE rebate_manager;
SELECT throws_ok('SELECT * FROM distribute_leads()', '42501', NULL, 'a manager acting through rebate_manager distributes nothing');
SELECT throws_ok('SELECT assign_lead(' || :w1 || ', 98712)', 'P0002', NULL, 'nor assigns');
RESET ROLE;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION lds_p1;
SET ROLE rebate_partner;
SELECT throws_ok('SELECT accept_lead(' || :w1 || ')', 'P0002', NULL, 'a dealer''s user acting through rebate_partner accepts nothing');
RESET ROLE;
RESET SESSION AUTHORIZATION;
SET ROLE lds_mgr;
SELECT throws_ok('SELECT accept_lead(' || :w1 || ')', '42501', NULL, 'a manager does not answer for a partner');
SELECT throws_ok($$UPDATE lead SET status = 'accepted' WHERE id = $$ || :w1, '42501', NULL,
                 'nor writes a lead''s status');
RESET ROLE;
SET ROLE lds_p1;
SELECT throws_ok($$UPDATE lead SET name = 'x' WHERE id = $$ || :w1, '42501', NULL, 'partners write no lead');
RESET ROLE;

-- ---- a decline passes the lead on; an expiry too; nobody left: back to the managers --------------
SET ROLE lds_p1;
SELECT throws_ok('SELECT decline_lead(' || :w1 || ', '' '')', '22023', 'declining a lead needs a reason',
                 'a decline says why');
SELECT is((SELECT answer || ':' || reason || ':' || answered_by FROM decline_lead(:w1, '不做酒店')),
          'declined:不做酒店:lds_p1', 'P1 declines a lead; the answer is attributed to it');
SELECT is((SELECT count(*)::int FROM lead WHERE id = :w1), 0, 'and no longer sees the lead');
SELECT is((SELECT answer FROM lead_offer WHERE lead_id = :w1), 'declined', 'but still its own offer');
RESET ROLE;
SELECT is((SELECT string_agg(partner_id || ':' || coalesce(answer, 'open'), ',' ORDER BY id) FROM lead_offer WHERE lead_id = :w1),
          '98711:declined,98713:open',
          'the next partner: not P1 (declined), not P2 (at capacity): the gold rule''s turn, P3 (D had the last offer)');

UPDATE lead_offer SET offered_at = now() - interval '30 hours', respond_by = now() - interval '6 hours'
 WHERE lead_id = :w2 AND answer IS NULL;
SET ROLE lds_p2;
SELECT throws_ok('SELECT accept_lead(' || :w2 || ')', 'RB086', NULL, 'an offer past its deadline is not accepted');
RESET ROLE;
SET ROLE lds_mgr;
SELECT is((SELECT format('%s/%s/%s/%s', tenant, expired, reoffered, returned) FROM expire_lead_offers()), '987/1/1/0',
          'the cron expires the overdue offer and offers the lead again');
RESET ROLE;
SELECT is((SELECT string_agg(partner_id || ':' || coalesce(answer, 'open') || ':' || coalesce(answered_by, ''), ','
                             ORDER BY id) FROM lead_offer WHERE lead_id = :w2),
          '98712:expired:lds_mgr,98711:open:', 'to P1, now under its capacity again (its decline freed a place)');

SET ROLE lds_mgr;
INSERT INTO lead (name, region_id, source, expected_amount) VALUES ('成都客户', 98706, 'hotline', 5000), ('全国客户', 98701, 'exhibition', 8000);
SELECT is((SELECT format('%s/%s', offered, unassigned) FROM distribute_leads()), '1/1',
          'the 成都 lead goes to P4; no rule covers the country-wide one, which waits');
RESET ROLE;
SELECT id AS cd FROM lead WHERE name = '成都客户' \gset
SELECT id AS cn FROM lead WHERE name = '全国客户' \gset
SET ROLE lds_p4;
SELECT lives_ok('SELECT decline_lead(' || :cd || ', ''太远'')', 'P4 declines it');
RESET ROLE;
SELECT is((SELECT status || ':' || coalesce(partner_id::text, '-') FROM lead WHERE id = :cd), 'returned:-',
          'nobody else can take it: it is returned');
SELECT is((SELECT format('%s %s %s', coalesce(partner_id::text, 'managers'), detail ->> 'answer', detail ->> 'partner_id')
             FROM notification WHERE event = 'lead_returned' AND subject_id = :cd),
          'managers declined 98714', 'and the managers are told (lead_returned)');
SET ROLE lds_mgr;
SELECT is((SELECT count(*)::int FROM notification WHERE event = 'lead_returned'), 1, 'their inbox has it');
SELECT is((SELECT format('%s/%s', offered, unassigned) FROM distribute_leads()), '0/2',
          'distributing again finds nobody for either (P4 declined the one)');
SELECT is((SELECT format('%s %s %s', partner_id, rule_id IS NULL, respond_by - offered_at) FROM assign_lead(:cd, 98713, '3 days', '总部指派')),
          '98713 t 3 days', 'a manager assigns it by hand (no rule: the manager decides), with its own deadline');
SELECT throws_ok('SELECT assign_lead(' || :cn || ', 98715)', 'RB089', 'partner 98715 is suspended, not active',
                 'but only to an active partner');
SELECT is((SELECT partner_id FROM assign_lead(:cn, 98714)), 98714::bigint, 'the country-wide lead goes to P4 by hand');
SELECT is((SELECT partner_id FROM assign_lead(:cn, 98713)), 98713::bigint, 'and is reassigned to P3');
RESET ROLE;
SELECT is((SELECT string_agg(partner_id || ':' || coalesce(answer, 'open'), ',' ORDER BY id) FROM lead_offer WHERE lead_id = :cn),
          '98714:withdrawn,98713:open', 'the first offer is withdrawn');

-- ---- accepting opens an opportunity ---------------------------------------------------------------
SET ROLE lds_p1;
SELECT id AS opp, partner_id AS opp_partner, stage AS opp_stage, amount AS opp_amount FROM accept_lead(:w3) \gset
SELECT is(format('%s %s %s', :opp_partner, :'opp_stage', :opp_amount), '98711 初步接触 30000',
          'P1 accepts a lead: the opportunity starts at first contact with the lead''s amount');
SELECT throws_ok('SELECT accept_lead(' || :w3 || ')', 'P0002', NULL, 'a lead is accepted once');
RESET ROLE;
SELECT is((SELECT status FROM lead WHERE id = :w3) || '/' || (SELECT answer FROM lead_offer WHERE lead_id = :w3 AND partner_id = 98711),
          'accepted/accepted', 'the lead and its offer are accepted');
SET ROLE lds_mgr;
SELECT throws_ok('SELECT assign_lead(' || :w3 || ', 98712)', 'RB085', 'lead ' || :w3 || ' is already accepted',
                 'an accepted lead is not assigned again');
RESET ROLE;

-- ---- stages ---------------------------------------------------------------------------------------
SET ROLE lds_p1;
SELECT is((set_opportunity_stage(:opp, '方案报价')).stage, '方案报价', 'forward two stages at once');
SELECT is((set_opportunity_stage(:opp, '需求分析', reason => '客户改需求')).stage, '需求分析', 'back one stage');
SELECT throws_ok('SELECT set_opportunity_stage(' || :opp || ', ''商务谈判''); SELECT set_opportunity_stage(' || :opp || ', ''初步接触'')',
                 'RB001', NULL, 'never back more than one');
SELECT throws_ok('SELECT set_opportunity_stage(' || :opp || ', ''won'')', 'RB087',
                 'a won opportunity needs the order it was won by', 'won needs the order');
SELECT throws_ok('SELECT set_opportunity_stage(' || :opp || ', ''won'', 98732)', 'P0002',
                 'order 98732 does not exist or is not visible to you', 'not the sibling''s order (as if it did not exist)');
SELECT throws_ok('SELECT set_opportunity_stage(' || :opp || ', ''won'', 98730)', 'RB087',
                 'order 98730 is not a placed order (kind order, status draft)', 'nor a draft');
SELECT is((SELECT stage || ' ' || order_id || ' ' || (closed_at IS NOT NULL) FROM set_opportunity_stage(:opp, 'won', 98731)),
          'won 98731 true', 'won with its partner''s placed order');
SELECT throws_ok('UPDATE opportunity SET amount = 1 WHERE id = ' || :opp, 'RB088', 'opportunity ' || :opp || ' is already won',
                 'a won opportunity is final');
SELECT is((SELECT string_agg(coalesce(from_stage, '-') || '>' || to_stage || ':' || acting_role || ':' || coalesce(reason, ''), ' '
                             ORDER BY id) FROM opportunity_stage_history WHERE opportunity_id = :opp),
          '->初步接触:lds_p1: 初步接触>方案报价:lds_p1: 方案报价>需求分析:lds_p1:客户改需求 需求分析>won:lds_p1:',
          'every stage is kept with who moved it and why');
-- an opportunity of its own, lost
INSERT INTO opportunity (name, amount, end_customer_id) VALUES ('自拓项目', 20000, 98740) RETURNING id AS own \gset
SELECT throws_ok('SELECT set_opportunity_stage(' || :own || ', ''lost'')', '22023', 'a lost opportunity needs a reason',
                 'lost needs a reason');
SELECT is((set_opportunity_stage(:own, 'lost', reason => '价格太高')).lost_reason, '价格太高', 'lost, with the reason');
SELECT throws_ok($$INSERT INTO opportunity (name, end_customer_id) VALUES ('x', 98741)$$, 'P0002',
                 'end customer 98741 does not exist or is not visible to you', 'not for the sibling''s customer');
SELECT throws_ok($$INSERT INTO opportunity (name, partner_id) VALUES ('x', 98712)$$, '42501', NULL,
                 'nor for the sibling partner');
SELECT throws_ok($$INSERT INTO opportunity (name, stage, order_id) VALUES ('x', 'won', 98733)$$, 'RB001', NULL,
                 'an opportunity starts open');
RESET ROLE;
SET ROLE lds_mgr;
SELECT throws_ok($$INSERT INTO opportunity (partner_id, name, end_customer_id) VALUES (98711, 'x', 98741)$$, 'RB089',
                 'end customer 98741 is registered to another partner', 'a manager''s too: the customer is the partner''s own');
RESET ROLE;
SET ROLE lds_p2;
SELECT is((SELECT count(*)::int FROM opportunity) + (SELECT count(*)::int FROM opportunity_stage_history), 0,
          'the sibling sees none of P1''s opportunities or their history');
SELECT throws_ok('SELECT set_opportunity_stage(' || :own || ', ''需求分析'')', 'P0002',
                 'opportunity ' || :own || ' does not exist or is not visible to you', 'and moves none');
RESET ROLE;
SET ROLE lds_d;
SELECT is((SELECT count(*)::int FROM opportunity WHERE partner_id = 98711), 2, 'the distributor sees its dealer''s');
SELECT throws_ok('SELECT set_opportunity_stage(' || :own || ', ''需求分析'')', 'P0002', NULL, 'but works only its own');
RESET ROLE;
SET ROLE lds_x;
SELECT is((SELECT count(*)::int FROM opportunity) + (SELECT count(*)::int FROM v_opportunity_pipeline)
          + (SELECT count(*)::int FROM v_lead_conversion_by_partner), 0, 'another brand sees no opportunity nor KPI row');
RESET ROLE;

-- ---- the KPI views, exactly --------------------------------------------------------------------------
-- times fixed for the averages (superuser, triggers off): the won lead received on 1 June 00:00, offered
-- at 06:00 and accepted at 18:00; its opportunity opened at 18:00 and won ten days later
SET session_replication_role = replica;
UPDATE lead SET received_at = '2026-06-01 00:00+08' WHERE id IN (:w1, :w2, :w3, :w5)
   OR name = '上海冰箱客户4';
UPDATE lead_offer SET offered_at = '2026-06-01 06:00+08', respond_by = '2026-06-02 06:00+08', answered_at = '2026-06-01 18:00+08'
 WHERE lead_id = :w3;
UPDATE opportunity SET created_at = '2026-06-01 18:00+08', closed_at = '2026-06-11 18:00+08' WHERE id = :opp;
SET session_replication_role = origin;
SET ROLE lds_mgr;
SELECT is((SELECT format('%s leads, %s offered, %s accepted, %s waiting, %s offers, %s declined, %s expired, %s won, %s lost, rate %s, amount %s, accept %s d, win %s d',
                         leads, leads_offered, leads_accepted, leads_waiting, offers, declined, expired, won, lost,
                         win_rate, won_amount, avg_days_to_accept, avg_days_to_win)
             FROM v_lead_conversion_by_source WHERE source = 'website'),
          '5 leads, 5 offered, 1 accepted, 0 waiting, 7 offers, 1 declined, 1 expired, 1 won, 0 lost, rate 1.0000, amount 30000, accept 0.75 d, win 10.00 d',
          'by source: the fridge leads, their seven offers and answers, the won deal and its times');
SELECT is((SELECT format('%s offered, %s accepted, %s declined, %s expired, %s open, acceptance %s, won %s, amount %s, accept %s d',
                         leads_offered, accepted, declined, expired, open_offers, acceptance_rate, won, won_amount,
                         avg_days_to_accept)
             FROM v_lead_conversion_by_partner WHERE partner_id = 98711 AND month = '2026-06-01'),
          '3 offered, 1 accepted, 1 declined, 0 expired, 1 open, acceptance 0.5000, won 1, amount 30000, accept 0.50 d',
          'by partner: P1 was offered three fridge leads, accepted one (in half a day), declined one, holds one');
SELECT is((SELECT string_agg(format('%s:%s/%s/%s', region_code, leads, leads_waiting, won), ' ' ORDER BY region_code)
             FROM v_lead_conversion_by_region WHERE month = '2026-06-01'),
          'CN:5/0/1 E:5/0/1 SH:5/0/1', 'by region: 上海''s leads count in 华东 and 中国 too');
SELECT is((SELECT sum(leads)::int FROM v_lead_conversion_by_region WHERE region_code = 'CN'), 27,
          'every lead of the tenant counts in the root region');
RESET ROLE;
SET ROLE lds_p2;
SELECT is((SELECT format('%s leads, %s offered, %s waiting, %s offers, %s expired, %s won',
                         leads, leads_offered, coalesce(leads_waiting::text, 'hidden'), offers, expired, won)
             FROM v_lead_conversion_by_source WHERE source = 'website'),
          '2 leads, 2 offered, hidden waiting, 2 offers, 1 expired, 0 won',
          'a dealer''s KPIs count only the leads offered to it: not the sibling''s won deal, not what waits for the managers');
SELECT is((SELECT string_agg(DISTINCT partner_id::text, ',') FROM v_lead_conversion_by_partner), '98712',
          'and its own partner row only');
RESET ROLE;
SET ROLE lds_mgr;
INSERT INTO opportunity_stage_weight (stage, probability) VALUES ('初步接触', 0.2);
RESET ROLE;
SET ROLE lds_p1;
INSERT INTO opportunity (name, amount, expected_close_on) VALUES ('新项目', 50000, CURRENT_DATE - 1);
INSERT INTO opportunity (name, amount, stage, end_customer_id) VALUES ('大项目', 100000, '方案报价', 98740);
SELECT is((SELECT string_agg(format('%s %s %s %s %s %s %s', partner_id, region_code, stage, opportunities, amount, probability,
                                    weighted_amount), '; ' ORDER BY stage_position)
             FROM v_opportunity_pipeline),
          '98711 SH 初步接触 1 50000 0.2000 10000.00; 98711 SH 方案报价 1 100000 0.5000 50000.00',
          'the pipeline: open opportunities by partner, region (the customer''s, else the partner''s home) and stage, weighted by the tenant''s or the default probability');
SELECT is((SELECT overdue FROM v_opportunity_pipeline WHERE stage = '初步接触'), 1::bigint,
          'with those past their expected close date');
RESET ROLE;
SET ROLE lds_d;
SELECT is((SELECT string_agg(DISTINCT partner_id::text, ',') FROM v_opportunity_pipeline), '98711',
          'the distributor''s pipeline shows its dealer''s open opportunities');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
