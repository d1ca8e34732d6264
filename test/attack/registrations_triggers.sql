-- tests: 5
\ir registrations_fixture.sql
-- register_customer runs before row-level security: its refusals speak only
-- to who may write the row (names without the markers: they normalize alike)
SELECT attack.attempt('atk_mgr_a', 'rebate.end_customer',
                      $$INSERT INTO rebate.end_customer (tenant_id, partner_id, name) VALUES (9402, 940212, 'zqxb客户公司')$$,
                      'registering another brand''s customer says nothing of its registration', '42501');
SELECT attack.attempt('atk_s1', 'rebate.register_customer()',
                      $$INSERT INTO rebate.end_customer (partner_id, name) VALUES (940113, 'zqxs客户公司')$$,
                      'registering in the sibling''s name is refused by row-level security, not by the conflict', '42501');
SELECT attack.attempt('atk_s1', 'rebate.register_customer()',
                      $$INSERT INTO rebate.end_customer (partner_id, name) VALUES (940112, 'zqxs客户公司')$$,
                      'registering the sibling''s customer for oneself is refused as a conflict, whose untold', 'RB080');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.register_customer()',
                      $$INSERT INTO rebate.end_customer (tenant_id, partner_id, name) VALUES (9401, 940112, 'zqxs客户公司')$$,
                      'a role through rebate_manager registers nothing');
-- arbitrate_registration: another brand's arbitration is not reached
SELECT attack.attempt('atk_mgr_a', 'rebate.arbitrate_registration()',
                      $$INSERT INTO rebate.end_customer (tenant_id, partner_id, name) VALUES (9402, 940213, 'zqxb新客户')$$,
                      'a manager starts no arbitration in another brand', '42501');
