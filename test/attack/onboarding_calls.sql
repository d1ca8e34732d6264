-- tests: 17
\ir onboarding_fixture.sql
-- onboarding_checks, submit_application, exit_checklist: a partner's own users and its tenant's managers only
SELECT attack.like_missing('atk_s1', 'rebate.onboarding_checks(bigint)', $$SELECT * FROM rebate.onboarding_checks(940113)$$,
                           $$SELECT * FROM rebate.onboarding_checks(999999)$$, 'a dealer checks no sibling''s admission');
SELECT attack.like_missing('atk_d1', 'rebate.onboarding_checks(bigint)', $$SELECT * FROM rebate.onboarding_checks(940112)$$,
                           $$SELECT * FROM rebate.onboarding_checks(999999)$$, 'nor a distributor its dealer''s');
SELECT attack.like_missing('atk_mgr_a', 'rebate.onboarding_checks(bigint)', $$SELECT * FROM rebate.onboarding_checks(940213)$$,
                           $$SELECT * FROM rebate.onboarding_checks(999999)$$, 'nor a manager another brand''s partner''s');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.onboarding_checks(bigint)',
                      $$SELECT * FROM rebate.onboarding_checks(940113)$$, 'nor a role through rebate_manager', 'P0002');
SELECT attack.like_missing('atk_s1', 'rebate.submit_application(bigint)', $$SELECT rebate.submit_application(940187)$$,
                           $$SELECT rebate.submit_application(999999)$$, 'a dealer submits no sibling''s application');
SELECT attack.like_missing('atk_mgr_a', 'rebate.submit_application(bigint)', $$SELECT rebate.submit_application(940287)$$,
                           $$SELECT rebate.submit_application(999999)$$, 'nor a manager another brand''s');
SELECT attack.attempt('atk_loose', 'rebate.submit_application(bigint)', $$SELECT rebate.submit_application(940187)$$,
                      'nor an unbound role', 'P0002');
SELECT attack.like_missing('atk_s1', 'rebate.exit_checklist(bigint)', $$SELECT * FROM rebate.exit_checklist(940113)$$,
                           $$SELECT * FROM rebate.exit_checklist(999999)$$, 'a dealer reads no sibling''s exit checklist');
SELECT attack.like_missing('atk_mgr_a', 'rebate.exit_checklist(bigint)', $$SELECT * FROM rebate.exit_checklist(940213)$$,
                           $$SELECT * FROM rebate.exit_checklist(999999)$$, 'nor a manager another brand''s');
-- hand_over_registrations, request_exit: a tenant's managers only
SELECT attack.like_missing('atk_mgr_a', 'rebate.hand_over_registrations(bigint,bigint)',
                           $$SELECT rebate.hand_over_registrations(940213, 940212)$$,
                           $$SELECT rebate.hand_over_registrations(999999, 940212)$$,
                           'a manager hands over nothing of another brand''s');
SELECT attack.attempt('atk_mgr_a', 'rebate.hand_over_registrations(bigint,bigint)',
                      $$SELECT rebate.hand_over_registrations(940113, 940212)$$, 'nor to another brand''s partner', 'P0002');
SELECT attack.attempt('atk_s1', 'rebate.hand_over_registrations(bigint,bigint)',
                      $$SELECT rebate.hand_over_registrations(940113, 940112)$$, 'a dealer takes over no sibling''s customers', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.hand_over_registrations(bigint,bigint)',
                      $$SELECT rebate.hand_over_registrations(940113, 940112)$$, 'nor a role through rebate_manager', 'P0002');
SELECT attack.like_missing('atk_mgr_a', 'rebate.request_exit(bigint,text)', $$SELECT rebate.request_exit(940213, 'x')$$,
                           $$SELECT rebate.request_exit(999999, 'x')$$, 'a manager asks no exit of another brand''s partner');
SELECT attack.attempt('atk_s1', 'rebate.request_exit(bigint,text)', $$SELECT rebate.request_exit(940113, 'x')$$,
                      'a dealer asks no exit of its sibling', '42501');
SELECT attack.attempt('atk_d1', 'rebate.request_exit(bigint,text)', $$SELECT rebate.request_exit(940112, 'x')$$,
                      'nor a distributor of its dealer', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.request_exit(bigint,text)', $$SELECT rebate.request_exit(940113, 'x')$$,
                      'nor a role through rebate_manager', 'P0002');
