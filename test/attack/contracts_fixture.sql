-- Partner contract rows of both fixture brands (included by contracts_calls.sql,
-- _triggers.sql and _reads.sql), as the superuser: S1's contract (b+42,
-- active, ending within 30 days with nothing after it, so that an alert
-- anybody managed to send would show), the sibling S2's (b+43, active,
-- marked), O's draft (b+44, marked), S1's draft (b+45) and O's approved
-- contract whose term has started but that was not applied yet (b+46, so
-- that an apply_contracts anybody managed to run would show).  Each active
-- contract grants the grade b+5, a credit limit, the city b+3 and the
-- program b+81.
CREATE FUNCTION attack.make_contracts(t bigint, m text, sibling text, outside text) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    b bigint := t * 100;
BEGIN
    INSERT INTO rebate.partner_contract (id, tenant_id, partner_id, code, term, grade_id, credit_limit, note) VALUES
        (b + 42, t, b + 12, m || '-K1', daterange(CURRENT_DATE - 335, CURRENT_DATE + 30), b + 5, 9000000, m || '协议'),
        (b + 43, t, b + 13, sibling || '-K2', daterange(CURRENT_DATE - 30, CURRENT_DATE + 335), b + 5, 9100000, sibling || '协议'),
        (b + 44, t, b + 14, outside || '-K3', daterange(CURRENT_DATE + 30, CURRENT_DATE + 395), NULL, 9200000, outside || '草稿'),
        (b + 45, t, b + 12, m || '-K4', daterange(CURRENT_DATE + 30, CURRENT_DATE + 395), b + 5, 9300000, m || '续签草稿');
    INSERT INTO rebate.partner_contract_territory (id, tenant_id, contract_id, region_id) VALUES
        (b + 42, t, b + 42, b + 3), (b + 43, t, b + 43, b + 3), (b + 44, t, b + 44, b + 4), (b + 45, t, b + 45, b + 3);
    INSERT INTO rebate.partner_contract_program (id, tenant_id, contract_id, program_id) VALUES
        (b + 42, t, b + 42, b + 81), (b + 43, t, b + 43, b + 81), (b + 44, t, b + 44, b + 81);
    UPDATE rebate.partner_contract SET status = 'pending_approval' WHERE id IN (b + 42, b + 43);
    UPDATE rebate.partner_contract SET status = 'approved' WHERE id IN (b + 42, b + 43);
    PERFORM rebate.apply_contracts(t);
    INSERT INTO rebate.partner_contract (id, tenant_id, partner_id, code, term, credit_limit, note) VALUES
        (b + 46, t, b + 14, outside || '-K6', daterange(CURRENT_DATE, CURRENT_DATE + 365), 9400000, outside || '待生效');
    INSERT INTO rebate.partner_contract_territory (id, tenant_id, contract_id, region_id) VALUES (b + 46, t, b + 46, b + 4);
    UPDATE rebate.partner_contract SET status = 'pending_approval' WHERE id = b + 46;
    UPDATE rebate.partner_contract SET status = 'approved' WHERE id = b + 46;
END
$$;
SELECT attack.make_contracts(9401, 'ZQXA', 'ZQXS', 'ZQXO');
SELECT attack.make_contracts(9402, 'ZQXB', 'ZQXB', 'ZQXB');
