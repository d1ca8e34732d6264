-- tests: 17
-- The certification module's BEFORE triggers (part 2 of the attack suite):
-- prepare_exam_result, prepare_certificate and check_grade_certification
-- read with the writer's rights and only for a writer who may manage the
-- row's tenant, so a row naming what the writer cannot see ends like one
-- naming what does not exist, and a refused grade is explained only to the
-- tenant's managers.  Results and certificates are the managers' to write;
-- who issued or revoked a certificate is stamped.
\ir certification_fixture.sql

-- ---- partner grades: check_grade_certification ----------------------------------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.partner',
    $$INSERT INTO rebate.partner (tenant_id, code, name, grade_id) VALUES (9402, 'X7', '新店', 940206)$$,
    $$INSERT INTO rebate.partner (tenant_id, code, name, grade_id) VALUES (9402, 'X7', '新店', 999999)$$,
    'a partner written into another brand with its certified grade: refused by row-level security, nothing of the requirement');
SELECT attack.like_missing('atk_mgr_a', 'rebate.partner',
    $$UPDATE rebate.partner SET grade_id = 940206 WHERE id = 940112$$,
    $$UPDATE rebate.partner SET grade_id = 999999 WHERE id = 940112$$,
    'giving its own partner another brand''s grade ends like a grade that does not exist');
SELECT attack.attempt('atk_mgr_a', 'rebate.partner', $$UPDATE rebate.partner SET grade_id = 940206 WHERE id = 940212$$,
                      'a manager gives another brand''s partner no grade');
SELECT attack.attempt('atk_mgr_a', 'rebate.check_grade_certification()',
                      $$UPDATE rebate.partner SET grade_id = 940106 WHERE id = 940111$$,
                      'its own partner is refused the grade whose certificate it lacks, in its own terms', 'RB025');
SELECT attack.attempt('atk_s1', 'rebate.check_grade_certification()',
                      $$UPDATE rebate.partner SET grade_id = 940106 WHERE id = 940112$$,
                      'a dealer gives itself no grade, and is told nothing of the requirement', '42501');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.check_grade_certification()',
                      $$UPDATE rebate.partner SET grade_id = 940106 WHERE id = 940112$$,
                      'a role through rebate_manager changes no grade');

-- ---- exam results: prepare_exam_result -----------------------------------------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.exam_result',
    $$INSERT INTO rebate.exam_result (partner_id, exam_id, person_name, score) VALUES (940112, 940262, 'x', 100)$$,
    $$INSERT INTO rebate.exam_result (partner_id, exam_id, person_name, score) VALUES (940112, 999999, 'x', 100)$$,
    'a result of another brand''s exam ends like one of an exam that does not exist (no pass score, no maximum)');
SELECT attack.like_missing('atk_mgr_a', 'rebate.exam_result',
    $$INSERT INTO rebate.exam_result (tenant_id, partner_id, exam_id, person_name, score) VALUES (9402, 940212, 940262, 'x', 999)$$,
    $$INSERT INTO rebate.exam_result (tenant_id, partner_id, exam_id, person_name, score) VALUES (9402, 940212, 999999, 'x', 999)$$,
    'nor does writing one into another brand');
SELECT attack.attempt('atk_mgr_a', 'rebate.exam_result',
                      $$UPDATE rebate.exam_result SET score = 0 WHERE id IN (940265, 940266)$$,
                      'a manager changes no result of another brand (one that issued a certificate neither)');
SELECT attack.attempt('atk_s1', 'rebate.prepare_exam_result()',
                      $$INSERT INTO rebate.exam_result (partner_id, exam_id, person_name, score) VALUES (940112, 940162, 'x', 100)$$,
                      'a dealer records no result of its own', '42501');
SELECT attack.attempt('atk_s1', 'rebate.issue_certificates()',
                      $$UPDATE rebate.exam_result SET score = 100 WHERE id = 940166$$,
                      'nor passes its sibling''s failed one', '42501');

-- ---- certificates: prepare_certificate, attestation ----------------------------------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.certificate',
    $$INSERT INTO rebate.certificate (partner_id, certification_id, holder_name) VALUES (940112, 940263, 'x')$$,
    $$INSERT INTO rebate.certificate (partner_id, certification_id, holder_name) VALUES (940112, 999999, 'x')$$,
    'a certificate of another brand''s certification ends like one of a certification that does not exist');
SELECT attack.like_missing('atk_mgr_a', 'rebate.certificate',
    $$INSERT INTO rebate.certificate (partner_id, certification_id, holder_name, exam_result_id) VALUES (940112, 940163, 'x', 940265)$$,
    $$INSERT INTO rebate.certificate (partner_id, certification_id, holder_name, exam_result_id) VALUES (940112, 940163, 'x', 999999)$$,
    'nor does one claiming another brand''s exam result');
SELECT attack.like_missing('atk_mgr_a', 'rebate.certificate',
    $$INSERT INTO rebate.certificate (tenant_id, partner_id, certification_id, holder_name) VALUES (9402, 940212, 940263, 'x')$$,
    $$INSERT INTO rebate.certificate (tenant_id, partner_id, certification_id, holder_name) VALUES (9402, 940212, 999999, 'x')$$,
    'nor writing one into another brand');
SELECT attack.attempt('atk_s1', 'rebate.prepare_certificate()',
                      $$INSERT INTO rebate.certificate (partner_id, certification_id, holder_name) VALUES (940112, 940163, 'x')$$,
                      'a dealer issues itself no certificate', '42501');
SELECT attack.attempt('atk_d1', 'rebate.certificate',
                      $$UPDATE rebate.certificate SET expires_on = CURRENT_DATE + 3650 WHERE partner_id IN (940112, 940113)$$,
                      'a distributor reads its dealers'' certificates but extends none', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.certificate',
                      $$UPDATE rebate.certificate SET revoked_by = 'atk_mgr_b' WHERE id = 940165$$,
                      'nobody names who revoked a certificate', '42501');
