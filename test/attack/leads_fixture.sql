-- The leads module's rows in both fixture tenants (test/attack/fixture.sql
-- first): a distribution rule and a stage weight; a lead offered to S2 that
-- S1 declined before, one S2 accepted (with its opportunity), a new one, one
-- offered to O and one offered to S1; an opportunity of S1's own and one of
-- O's.  Names and reasons carry the fixture's markers.
CREATE FUNCTION attack.make_leads(t bigint, m text, sibling text, outside text) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    b bigint := t * 100;
    mgr text := 'atk_mgr_' || lower(right(m, 1));
    s1_user text := CASE t WHEN 9401 THEN 'atk_s1' ELSE 'atk_b_user' END;
BEGIN
    INSERT INTO rebate.opportunity_stage_weight (id, tenant_id, stage, probability) VALUES (b + 83, t, '方案报价', 0.45);
    INSERT INTO rebate.lead_rule (id, tenant_id, name, priority, region_id, grade_ids, capacity, response_time)
    VALUES (b + 84, t, m || '规则', 10, b + 2, ARRAY[b + 5], 5, '24 hours');
    INSERT INTO rebate.lead (id, tenant_id, name, contact_name, region_id, product_id, source, expected_amount, note) VALUES
        (b + 85, t, sibling || '线索', sibling || '联系人', b + 3, b + 31, 'website', 7000, sibling || '备注'),
        (b + 86, t, sibling || '已接线索', sibling || '联系人', b + 3, b + 31, 'hotline', 8000, sibling || '备注'),
        (b + 87, t, m || '新线索', m || '联系人', b + 3, NULL, 'exhibition', 9000, m || '备注'),
        (b + 88, t, outside || '线索', outside || '联系人', b + 4, b + 32, 'referral', 6000, outside || '备注'),
        (b + 89, t, m || '我的线索', m || '联系人', b + 3, b + 31, 'campaign', 5000, m || '备注');
    UPDATE rebate.lead SET status = 'offered', partner_id = CASE id WHEN b + 88 THEN b + 14 WHEN b + 89 THEN b + 12 ELSE b + 13 END
     WHERE id IN (b + 85, b + 86, b + 88, b + 89);
    UPDATE rebate.lead SET status = 'accepted' WHERE id = b + 86;
    INSERT INTO rebate.lead_offer (id, tenant_id, lead_id, partner_id, rule_id, offered_by, offered_at, respond_by, answer,
                                   answered_by, answered_at, reason) VALUES
        (b + 90, t, b + 85, b + 12, b + 84, mgr, now() - interval '2 days', now() - interval '1 day', 'declined',
         s1_user, now() - interval '36 hours', m || '不做'),
        (b + 85, t, b + 85, b + 13, b + 84, mgr, now() - interval '1 hour', now() + interval '1 day', NULL, NULL, NULL, NULL),
        (b + 86, t, b + 86, b + 13, b + 84, mgr, now() - interval '3 days', now() - interval '2 days', 'accepted',
         mgr, now() - interval '60 hours', NULL),
        (b + 88, t, b + 88, b + 14, NULL, mgr, now() - interval '1 hour', now() + interval '1 day', NULL, NULL, NULL,
         outside || '指派'),
        (b + 89, t, b + 89, b + 12, b + 84, mgr, now() - interval '1 hour', now() + interval '1 day', NULL, NULL, NULL, NULL);
    INSERT INTO rebate.opportunity (id, tenant_id, partner_id, lead_id, region_id, name, stage, amount, note) VALUES
        (b + 86, t, b + 13, b + 86, b + 3, sibling || '商机', '需求分析', 8000, sibling || '备注'),
        (b + 88, t, b + 14, NULL, b + 4, outside || '商机', '方案报价', 6000, outside || '备注'),
        (b + 89, t, b + 12, NULL, b + 3, m || '我的商机', '初步接触', 5000, m || '备注');
END
$$;
SELECT attack.make_leads(9401, 'ZQXA', 'ZQXS', 'ZQXO');
SELECT attack.make_leads(9402, 'ZQXB', 'ZQXB', 'ZQXB');
