-- tests: 13
-- The certification module's callable functions (part 1 of the attack
-- suite).  certificate_alerts is its one SECURITY DEFINER function: a
-- tenant's managers run it for their tenant, administrators for every
-- tenant, nobody else, and another tenant is refused like one that does not
-- exist.  The others read with the caller's rights: they answer from what
-- the caller may see, and a partner or exam it may not see is one that does
-- not exist.
\ir certification_fixture.sql

-- ---- certificate_alerts (would stamp and announce S1's certificate, expiring soon) ----------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.certificate_alerts(bigint,integer)',
                           $$SELECT * FROM rebate.certificate_alerts(9402)$$, $$SELECT * FROM rebate.certificate_alerts(9499)$$,
                           'a manager announces nothing in another brand (refused as for a tenant that does not exist)');
SELECT attack.attempt('atk_mgr_a', 'rebate.certificate_alerts(bigint,integer)',
                      $$SELECT * FROM rebate.certificate_alerts()$$, 'nor in every brand', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.certificate_alerts(bigint,integer)',
                      $$SELECT * FROM rebate.certificate_alerts(9401)$$, 'a role through rebate_manager has no tenant', '42501');
SELECT attack.attempt('atk_loose', 'rebate.certificate_alerts(bigint,integer)',
                      $$SELECT * FROM rebate.certificate_alerts(9401)$$, 'nor a role granted the group roles without a binding', '42501');
SELECT attack.attempt('atk_s1', 'rebate.certificate_alerts(bigint,integer)',
                      $$SELECT * FROM rebate.certificate_alerts(9401)$$, 'nor a partner user of the tenant', '42501');
SELECT attack.attempt('atk_unbound', 'rebate.certificate_alerts(bigint,integer)',
                      $$SELECT * FROM rebate.certificate_alerts(9401, 3650)$$, 'nor an unbound role', '42501');

-- ---- record_exam_result: a manager's, for its own brand's partners and exams ---------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.record_exam_result(bigint,text,text,numeric,date,text)',
                           $$SELECT * FROM rebate.record_exam_result(940212, 'ZQXAE1', 'x', 100)$$,
                           $$SELECT * FROM rebate.record_exam_result(999999, 'ZQXAE1', 'x', 100)$$,
                           'a manager records no result for another brand''s partner (as for one that does not exist)');
SELECT attack.attempt('atk_s1', 'rebate.record_exam_result(bigint,text,text,numeric,date,text)',
                      $$SELECT * FROM rebate.record_exam_result(940112, 'ZQXAE1', 'x', 100)$$,
                      'a dealer records no result of its own (and so issues itself no certificate)', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.record_exam_result(bigint,text,text,numeric,date,text)',
                      $$SELECT * FROM rebate.record_exam_result(940112, 'E1', 'x', 100)$$,
                      'nor a role through rebate_manager', 'P0002');

-- ---- the readers: nothing of what the caller may not see ---------------------------------------
SELECT attack.attempt('atk_s1', 'rebate.holds_certification(bigint,bigint,date)',
                      $q$DO $d$ BEGIN IF rebate.holds_certification(940113, 940164) THEN RAISE 'sees its sibling''s'; END IF; END $d$$q$,
                      'a dealer cannot tell whether its sibling holds a certificate', '00000');
SELECT attack.attempt('atk_mgr_a', 'rebate.missing_certifications(bigint,bigint,date)',
                      $$SELECT count(*) FROM rebate.missing_certifications(940212, 940233) m WHERE attack.spy(m.*)$$,
                      'another brand''s product requirements show nothing');
SELECT attack.attempt('atk_mgr_a', 'rebate.grade_missing_certifications(bigint,bigint,date)',
                      $$SELECT count(*) FROM rebate.grade_missing_certifications(940212, 940206) m WHERE attack.spy(m.*)$$,
                      'nor do its grade requirements');
SELECT attack.attempt('atk_s1', 'rebate.certificate_holders(bigint,bigint,date)',
                      $q$DO $d$ BEGIN IF rebate.certificate_holders(940114, 940163, CURRENT_DATE - 100) <> 0 THEN
                                       RAISE 'counts O''s holders'; END IF; END $d$$q$,
                      'a dealer counts no holders outside its own partner', '00000');
