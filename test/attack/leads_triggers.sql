-- tests: 14
-- The leads module's BEFORE triggers and SECURITY DEFINER trigger function
-- (part 2 of the attack suite): the opportunity guard reads orders and end
-- customers with the writer's rights, so one the writer may not see ends
-- like one that does not exist; the rule check reads only the writer's own
-- tenant's grades; the stage history is the trigger's to write; offers and
-- their answers are nobody's to write.
\ir leads_fixture.sql

-- ---- opportunities: the guard (guard_opportunity) ------------------------------------------------
SELECT attack.like_missing('atk_s1', 'rebate.opportunity',
    $$INSERT INTO rebate.opportunity (name, end_customer_id) VALUES ('x', 940191)$$,
    $$INSERT INTO rebate.opportunity (name, end_customer_id) VALUES ('x', 999999)$$,
    'a dealer''s opportunity for its sibling''s registered customer: no name or partner of it');
SELECT attack.like_missing('atk_s1', 'rebate.opportunity',
    $$UPDATE rebate.opportunity SET stage = 'won', order_id = 940152 WHERE id = 940189$$,
    $$UPDATE rebate.opportunity SET stage = 'won', order_id = 999999 WHERE id = 940189$$,
    'winning its own opportunity with its sibling''s order is like naming an order that does not exist');
SELECT attack.like_missing('atk_mgr_a', 'rebate.opportunity',
    $$INSERT INTO rebate.opportunity (partner_id, name, end_customer_id) VALUES (940112, 'x', 940291)$$,
    $$INSERT INTO rebate.opportunity (partner_id, name, end_customer_id) VALUES (940112, 'x', 999999)$$,
    'a manager naming another brand''s customer: nothing of it');
SELECT attack.like_missing('atk_mgr_a', 'rebate.opportunity',
    $$INSERT INTO rebate.opportunity (tenant_id, partner_id, name, end_customer_id) VALUES (9402, 940212, 'x', 940291)$$,
    $$INSERT INTO rebate.opportunity (tenant_id, partner_id, name, end_customer_id) VALUES (9402, 940212, 'x', 999999)$$,
    'nor writing into another brand, naming its customer');
SELECT attack.like_missing('atk_b_user', 'rebate.opportunity',
    $$UPDATE rebate.opportunity SET stage = 'won', order_id = 940154 WHERE id = 940289$$,
    $$UPDATE rebate.opportunity SET stage = 'won', order_id = 999999 WHERE id = 940289$$,
    'another brand''s dealer winning with brand A''s order');
SELECT attack.attempt('atk_s1', 'rebate.opportunity',
    $$UPDATE rebate.opportunity SET amount = 1, stage = 'lost', lost_reason = 'x' WHERE partner_id IN (940113, 940114) OR tenant_id = 9402$$,
    'a dealer moves none of its sibling''s, O''s or the other brand''s opportunities');
SELECT attack.attempt('atk_d1', 'rebate.opportunity',
    $$UPDATE rebate.opportunity SET name = 'x' WHERE partner_id IN (940112, 940113)$$,
    'a distributor reads its dealers'' opportunities but changes none');
SELECT attack.attempt('atk_s1', 'rebate.opportunity',
    $$UPDATE rebate.opportunity SET closed_at = now(), lead_id = 940185 WHERE id = 940189$$,
    'nobody writes the stamps or claims a lead', '42501');

-- ---- rules: the grade check (check_lead_rule) ---------------------------------------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.lead_rule',
    $$INSERT INTO rebate.lead_rule (name, priority, grade_ids) VALUES ('x', 50, ARRAY[940205::bigint])$$,
    $$INSERT INTO rebate.lead_rule (name, priority, grade_ids) VALUES ('x', 50, ARRAY[999999::bigint])$$,
    'a rule naming another brand''s grade ends like one naming a grade that does not exist');
SELECT attack.attempt('atk_mgr_a', 'rebate.lead_rule',
    $$INSERT INTO rebate.lead_rule (tenant_id, name, priority, grade_ids) VALUES (9402, 'x', 50, ARRAY[940205::bigint])$$,
    'a manager writes no rule into another brand, and learns nothing of its grades', '42501');

-- ---- leads: name key (prepare_lead); offers and history are the functions' -----------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.lead',
    $$INSERT INTO rebate.lead (name, region_id) VALUES ('x', 940203)$$,
    $$INSERT INTO rebate.lead (name, region_id) VALUES ('x', 999999)$$,
    'a lead in another brand''s region ends like one in a region that does not exist');
SELECT attack.attempt('atk_mgr_a', 'rebate.lead_offer',
    $$UPDATE rebate.lead_offer SET answered_by = 'atk_mgr_a', answer = 'declined', answered_at = now() WHERE id = 940185$$,
    'nobody writes an answer or who gave it', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.record_opportunity_history()',
    $q$CREATE TEMP TABLE fake (id bigint, tenant_id bigint, partner_id bigint, stage text, amount numeric, lost_reason text);
       CREATE TRIGGER x AFTER INSERT ON fake FOR EACH ROW EXECUTE FUNCTION rebate.record_opportunity_history()$q$,
    'nobody attaches the history trigger to a table of its own (it would forge history)', '42501');
SELECT attack.attempt('atk_s1', 'rebate.record_opportunity_history()',
    $$INSERT INTO rebate.opportunity_stage_history (tenant_id, opportunity_id, partner_id, to_stage, session_role, acting_role)
      VALUES (9401, 940189, 940112, 'won', 'atk_s1', 'atk_s1')$$,
    'nor writes the history itself', '42501');
