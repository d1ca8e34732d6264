-- tests: 24
\ir contracts_fixture.sql
-- submit_contract: a contract one does not manage is one that does not exist
SELECT attack.like_missing('atk_mgr_a', 'rebate.submit_contract(bigint)',
                           $$SELECT rebate.submit_contract(940244)$$, $$SELECT rebate.submit_contract(999999)$$,
                           'a manager submits none of another brand''s contracts');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.submit_contract(bigint)',
                      $$SELECT rebate.submit_contract(940145)$$, 'a role through rebate_manager submits none of its own brand''s', 'P0002');
SELECT attack.attempt('atk_loose', 'rebate.submit_contract(bigint)',
                      $$SELECT rebate.submit_contract(940145)$$, 'nor does a role without a binding', 'P0002');
SELECT attack.attempt('atk_s1', 'rebate.submit_contract(bigint)',
                      $$SELECT rebate.submit_contract(940145)$$, 'a dealer submits not even its own draft', '42501');
-- terminate_contract
SELECT attack.like_missing('atk_mgr_a', 'rebate.terminate_contract(bigint,date,text)',
                           $$SELECT rebate.terminate_contract(940243, CURRENT_DATE, 'x')$$,
                           $$SELECT rebate.terminate_contract(999999, CURRENT_DATE, 'x')$$,
                           'a manager terminates none of another brand''s contracts');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.terminate_contract(bigint,date,text)',
                      $$SELECT rebate.terminate_contract(940143, CURRENT_DATE, 'x')$$,
                      'a role through rebate_manager terminates none of its own brand''s', 'P0002');
SELECT attack.attempt('atk_loose', 'rebate.terminate_contract(bigint,date,text)',
                      $$SELECT rebate.terminate_contract(940143, CURRENT_DATE, 'x')$$, 'nor does a role without a binding', 'P0002');
SELECT attack.attempt('atk_d1', 'rebate.terminate_contract(bigint,date,text)',
                      $$SELECT rebate.terminate_contract(940143, CURRENT_DATE, 'x')$$, 'a distributor terminates none of its dealers''', '42501');
-- sign_contract: only a user of the contract's own partner
SELECT attack.like_missing('atk_s1', 'rebate.sign_contract(bigint)',
                           $$SELECT rebate.sign_contract(940143)$$, $$SELECT rebate.sign_contract(999999)$$,
                           'a dealer signs none of its sibling''s contracts');
SELECT attack.like_missing('atk_d1', 'rebate.sign_contract(bigint)',
                           $$SELECT rebate.sign_contract(940142)$$, $$SELECT rebate.sign_contract(999999)$$,
                           'a distributor signs none of its dealers''');
SELECT attack.like_missing('atk_b_user', 'rebate.sign_contract(bigint)',
                           $$SELECT rebate.sign_contract(940142)$$, $$SELECT rebate.sign_contract(999999)$$,
                           'another brand''s dealer signs none');
SELECT attack.attempt('atk_s1>rebate_partner', 'rebate.sign_contract(bigint)',
                      $$SELECT rebate.sign_contract(940142)$$, 'a role through rebate_partner signs not even its own', 'P0002');
SELECT attack.attempt('atk_mgr_a', 'rebate.sign_contract(bigint)',
                      $$SELECT rebate.sign_contract(940142)$$, 'a manager signs in no partner''s name', '42501');
-- apply_contracts and contract_alerts: a tenant's managers, every tenant's administrators
SELECT attack.attempt('atk_mgr_a', 'rebate.apply_contracts(bigint)', $$SELECT rebate.apply_contracts(9402)$$,
                      'a manager applies nothing of another brand''s', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.apply_contracts(bigint)', $$SELECT rebate.apply_contracts()$$,
                      'nor of every brand', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.apply_contracts(bigint)', $$SELECT rebate.apply_contracts(9401)$$,
                      'a role through rebate_manager nothing of its own brand''s', '42501');
SELECT attack.attempt('atk_b_user', 'rebate.apply_contracts(bigint)', $$SELECT rebate.apply_contracts(9402)$$,
                      'a partner user nothing', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.contract_alerts(bigint,integer)', $$SELECT rebate.contract_alerts(9402, 60)$$,
                      'a manager sends no alert of another brand''s', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.contract_alerts(bigint,integer)', $$SELECT rebate.contract_alerts(NULL, 60)$$,
                      'nor of every brand', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.contract_alerts(bigint,integer)',
                      $$SELECT rebate.contract_alerts(9401, 60)$$, 'a role through rebate_manager none of its own brand''s', '42501');
SELECT attack.attempt('atk_b_user', 'rebate.contract_alerts(bigint,integer)', $$SELECT rebate.contract_alerts(9402, 60)$$,
                      'a partner user none', '42501');
-- renew_contract (not SECURITY DEFINER: it drafts under the caller's own rights)
SELECT attack.like_missing('atk_mgr_a', 'rebate.renew_contract(bigint,daterange,text)',
                           $$SELECT rebate.renew_contract(940242)$$, $$SELECT rebate.renew_contract(999999)$$,
                           'a manager renews none of another brand''s contracts');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.renew_contract(bigint,daterange,text)',
                      $$SELECT rebate.renew_contract(940142)$$, 'a role through rebate_manager none of its own brand''s', 'P0002');
SELECT attack.attempt('atk_s1', 'rebate.renew_contract(bigint,daterange,text)',
                      $$SELECT rebate.renew_contract(940142)$$, 'a dealer renews not even its own', '42501');
