-- tests: 12
\ir contracts_fixture.sql
-- guard_contract_part reads the contract under the writer's own row-level
-- security: another brand's contract is not found, told apart from none or quoted
SELECT attack.attempt('atk_mgr_a', 'rebate.partner_contract_territory',
                      $$INSERT INTO rebate.partner_contract_territory (tenant_id, contract_id, region_id) VALUES (9402, 940244, 940204)$$,
                      'a manager adds no territory to another brand''s contract, and learns nothing of it', '42501');
SELECT attack.like_missing('atk_mgr_a', 'rebate.partner_contract_territory',
                           $$INSERT INTO rebate.partner_contract_territory (contract_id, region_id) VALUES (940243, 940103)$$,
                           $$INSERT INTO rebate.partner_contract_territory (contract_id, region_id) VALUES (999999, 940103)$$,
                           'another brand''s contract id in its own brand is one that does not exist');
SELECT attack.like_missing('atk_mgr_a', 'rebate.partner_contract_program',
                           $$INSERT INTO rebate.partner_contract_program (contract_id, program_id) VALUES (940244, 940181)$$,
                           $$INSERT INTO rebate.partner_contract_program (contract_id, program_id) VALUES (999999, 940181)$$,
                           'so for a program');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.partner_contract_program',
                      $$INSERT INTO rebate.partner_contract_program (tenant_id, contract_id, program_id) VALUES (9401, 940145, 940181)$$,
                      'a role through rebate_manager adds no program to its own brand''s draft', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.partner_contract_program',
                      $$DELETE FROM rebate.partner_contract_program WHERE tenant_id = 9402$$,
                      'a manager removes no program from another brand''s contracts');
-- guard_contract: the terms of a submitted contract are fixed, the status the functions' alone
SELECT attack.attempt('atk_mgr_a', 'rebate.partner_contract',
                      $$UPDATE rebate.partner_contract SET credit_limit = 99999999 WHERE id = 940143$$,
                      'a manager raises no active contract''s credit limit by hand', 'RB005');
SELECT attack.attempt('atk_mgr_a', 'rebate.partner_contract',
                      $$UPDATE rebate.partner_contract SET status = 'approved' WHERE id = 940145$$,
                      'nor approves its draft by hand', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.partner_contract',
                      $$INSERT INTO rebate.partner_contract (partner_id, code, term, status) VALUES (940112, 'x', '[2027-01-01,2028-01-01)', 'active')$$,
                      'nor writes an active one', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.partner_contract',
                      $$UPDATE rebate.partner_contract SET credit_limit = 1 WHERE tenant_id = 9402$$,
                      'another brand''s contracts are not reached');
SELECT attack.attempt('atk_mgr_a', 'rebate.partner_contract',
                      $$INSERT INTO rebate.partner_contract (partner_id, code, term) VALUES (940212, 'x', '[2027-01-01,2028-01-01)')$$,
                      'nor its partners', '23503');
SELECT attack.attempt('atk_s1', 'rebate.partner_contract',
                      $$UPDATE rebate.partner_contract SET note = 'x' WHERE id = 940142$$,
                      'a dealer changes not even its own contract', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.partner_contract',
                      $$DELETE FROM rebate.partner_contract WHERE tenant_id = 9401$$,
                      'a role through rebate_manager deletes no draft of its own brand''s');
