-- tests: 13
\ir registrations_fixture.sql
-- follow_up_registration: a registration not one's own is one that does not exist
SELECT attack.like_missing('atk_s1', 'rebate.follow_up_registration(bigint,text)',
                           $$SELECT rebate.follow_up_registration(940191, 'x')$$, $$SELECT rebate.follow_up_registration(999999, 'x')$$,
                           'a dealer follows up no sibling''s registration');
SELECT attack.like_missing('atk_d1', 'rebate.follow_up_registration(bigint,text)',
                           $$SELECT rebate.follow_up_registration(940191, 'x')$$, $$SELECT rebate.follow_up_registration(999999, 'x')$$,
                           'nor a distributor its dealer''s (the dealer''s users report progress)');
SELECT attack.like_missing('atk_mgr_a', 'rebate.follow_up_registration(bigint,text)',
                           $$SELECT rebate.follow_up_registration(940291, 'x')$$, $$SELECT rebate.follow_up_registration(999999, 'x')$$,
                           'a manager none of another brand''s');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.follow_up_registration(bigint,text)',
                      $$SELECT rebate.follow_up_registration(940191, 'x')$$, 'a role through rebate_manager none', 'P0002');
SELECT attack.attempt('atk_loose', 'rebate.follow_up_registration(bigint,text)',
                      $$SELECT rebate.follow_up_registration(940191, 'x')$$, 'an unbound role none', 'P0002');
-- check_registration: whether a conflict exists, in one's own brand only
SELECT is((attack.run('atk_mgr_a', $q$DO $d$ BEGIN IF rebate.check_registration('zqxb客户公司') <> 'available' THEN
                                       RAISE 'sees brand B'; END IF; END $d$$q$)).sqlstate, '00000',
          'check_registration never looks into another brand');
SELECT attack.attempt('atk_s1', 'rebate.check_registration(text,text)',
                      $$SELECT rebate.check_registration('zqxs客户公司')$$, 'a dealer learns a conflict exists, nothing more');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.check_registration(text,text)',
                      $$SELECT rebate.check_registration('zqxs客户公司')$$, 'a role through rebate_manager checks nothing', '42501');
SELECT attack.attempt('atk_loose', 'rebate.check_registration(text,text)',
                      $$SELECT rebate.check_registration('zqxs客户公司')$$, 'nor an unbound one', '42501');
-- lapse_registrations: a tenant's managers, every tenant's administrators
SELECT attack.attempt('atk_mgr_a', 'rebate.lapse_registrations(bigint)', $$SELECT rebate.lapse_registrations(9402)$$,
                      'a manager lapses nothing of another brand''s', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.lapse_registrations(bigint)', $$SELECT rebate.lapse_registrations()$$,
                      'nor of every brand', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.lapse_registrations(bigint)',
                      $$SELECT rebate.lapse_registrations(9401)$$, 'a role through rebate_manager nothing', '42501');
SELECT attack.attempt('atk_b_user', 'rebate.lapse_registrations(bigint)', $$SELECT rebate.lapse_registrations(9402)$$,
                      'a partner user nothing of its own brand''s', '42501');
