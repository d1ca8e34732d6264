-- Certification (认证培训): real login roles of tenant 996 (its manager;
-- distributor D with dealers P1 and P2 below it, dealer P3 outside, each
-- with a user) and of tenant 997 (its manager and a dealer's user).  Exam
-- results issue certificates with an expiry; grades and products (or whole
-- categories) require valid certificates held by enough people; a grade is
-- not given without them (RB025), and the refusal speaks only to who may
-- write the partner; the cron tells each partner once that a certificate
-- expires; v_certification_gaps shows who falls short; scoring withholds an
-- upgrade the partner lacks certificates for.  Dates are relative to today.
BEGIN;
SET search_path = public, rebate;
SELECT plan(67);

INSERT INTO tenant (id, code, name) VALUES (996, 'CRT', '认证品牌'), (997, 'CRU', '另一品牌');
UPDATE enforcement_setting SET credit = 'allow' WHERE tenant_id IN (996, 997);
INSERT INTO region (id, tenant_id, code, name, level) VALUES (99601, 996, 'CN', '中国', 'country'),
                                                             (99701, 997, 'CN', '中国', 'country');
INSERT INTO partner_grade (id, tenant_id, code, name, rank) VALUES
    (99605, 996, 'A', '金牌', 1), (99606, 996, 'B', '银牌', 2), (99607, 996, 'C', '铜牌', 3), (99705, 997, 'A', '金牌', 1);
INSERT INTO partner (id, tenant_id, code, name, kind, grade_id, home_region_id, state) VALUES
    (99610, 996, 'D', '华东总代', 'distributor', 99606, 99601, 'active');
INSERT INTO partner (id, tenant_id, code, name, grade_id, parent_id, home_region_id, state) VALUES
    (99611, 996, 'P1', '上海一店', 99606, 99610, 99601, 'active'), (99612, 996, 'P2', '上海二店', 99607, 99610, 99601, 'active'),
    (99613, 996, 'P3', '独立店', NULL, NULL, 99601, 'active'), (99710, 997, 'Q1', '别家一店', 99705, NULL, 99701, 'active');
INSERT INTO partner_territory (tenant_id, partner_id, region_id, valid)
SELECT 996, p, 99601, '[2000-01-01,)' FROM unnest(ARRAY[99610, 99611, 99612, 99613]) p;
-- categories ALL > HVAC > VRF; product 99631 in VRF, 99632 in ALL
INSERT INTO product_category (id, tenant_id, code, name) VALUES (99620, 996, 'ALL', '全部');
INSERT INTO product_category (id, tenant_id, code, name, parent_id) VALUES (99621, 996, 'HVAC', '空调', 99620);
INSERT INTO product_category (id, tenant_id, code, name, parent_id) VALUES (99622, 996, 'VRF', '多联机', 99621);
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES
    (99631, 996, 'VRF-10', '多联机10匹', 99622, 100), (99632, 996, 'FAN-1', '风扇', 99620, 100);
-- last month: P1 sells 2,000 of VRF-10, P3 600 of VRF-10, P2 500 of FAN-1
CREATE FUNCTION pg_temp.sale(code text, partner bigint, product bigint, amount numeric) RETURNS void LANGUAGE sql AS $$
    INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date, status)
    VALUES (996, code, partner, 99601, (date_trunc('month', CURRENT_DATE) - interval '1 month')::date + 5, 'approved');
    INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
    SELECT 996, o.id, 1, product, amount / 100, 100 FROM rebate.sales_order o WHERE o.code = sale.code AND o.tenant_id = 996;
$$;
SELECT pg_temp.sale('O1', 99611, 99631, 2000), pg_temp.sale('O2', 99613, 99631, 600), pg_temp.sale('O3', 99612, 99632, 500);

CREATE ROLE crt_mgr LOGIN; CREATE ROLE crt_d LOGIN; CREATE ROLE crt_p1 LOGIN; CREATE ROLE crt_p2 LOGIN;
CREATE ROLE crt_mgr2 LOGIN; CREATE ROLE crt_q1 LOGIN;
SELECT grant_access('crt_mgr', 996), grant_access('crt_d', 996, 99610), grant_access('crt_p1', 996, 99611),
       grant_access('crt_p2', 996, 99612), grant_access('crt_mgr2', 997), grant_access('crt_q1', 997, 99710);

-- an error's SQLSTATE, message and detail (or 'no error')
CREATE FUNCTION pg_temp.refusal(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s text; m text; d text;
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    RETURN concat_ws(' / ', s, m, nullif(d, ''));
END
$$;

-- ---- the catalogue: courses, exams, certifications (the manager's) ----------------------
SET ROLE crt_mgr;
INSERT INTO course (code, name, hours) VALUES ('VRF-101', '多联机安装', 24) RETURNING id AS course \gset
INSERT INTO exam (course_id, code, pass_score) VALUES (:course, 'VRF-101-E', 70) RETURNING id AS exam \gset
INSERT INTO certification (code, name, exam_id, validity_months) VALUES ('INST', '多联机安装工程师', :exam, 24)
RETURNING id AS inst \gset
INSERT INTO course (code, name) VALUES ('SVC-201', '售后服务') RETURNING id AS course2 \gset
INSERT INTO exam (course_id, code, pass_score, max_score) VALUES (:course2, 'SVC-E', 40, 50) RETURNING id AS exam2 \gset
INSERT INTO certification (code, name, exam_id) VALUES ('SVC', '服务认证', :exam2) RETURNING id AS svc \gset
INSERT INTO certification (code, name) VALUES ('BASIC', '基础认证') RETURNING id AS basic \gset
SELECT is((SELECT string_agg(format('%s:%s', code, tenant_id), ',' ORDER BY code) FROM certification),
          'BASIC:996,INST:996,SVC:996', 'the manager writes its brand''s certifications, in its tenant');

-- ---- results issue certificates ----------------------------------------------------------
SELECT is((SELECT format('%s %s', passed, certificate_id IS NULL)
             FROM record_exam_result(99611, 'VRF-101-E', '张三', 65, CURRENT_DATE - 30)),
          'f t', 'a failing result issues no certificate');
SELECT id AS failed FROM exam_result WHERE person_name = '张三' \gset
SELECT is((SELECT format('%s %s %s %s', passed, certification_code, certificate_no = 'INST-' || certificate_id,
                         expires_on = (CURRENT_DATE - 20 + interval '24 months')::date - 1)
             FROM record_exam_result(99611, 'VRF-101-E', '张三', 85, CURRENT_DATE - 20)),
          't INST t t', 'a pass issues a certificate numbered by its certification, valid 24 months from the exam day');
SELECT id AS passed_result FROM exam_result WHERE person_name = '张三' AND passed \gset
SELECT is((SELECT format('%s %s %s %s %s', holder_name, issued_on = CURRENT_DATE - 20, status, issued_by,
                         exam_result_id = :passed_result)
             FROM certificate WHERE exam_result_id IS NOT NULL),
          '张三 t valid crt_mgr t', 'to the person who took the exam, from the exam day, issued by the recording manager');
SELECT is(pg_temp.refusal($$SELECT record_exam_result(99611, 'VRF-101-E', '张三', 101)$$),
          '22023 / score 101 is above the maximum 100 of exam VRF-101-E', 'a score above the maximum is refused');
SELECT is(pg_temp.refusal(format('UPDATE exam_result SET score = 99 WHERE id = %s', :passed_result)),
          format('RB027 / exam result %s issued certificates and cannot change / Its partner, exam, person, score and day are what the certificates attest.',
                 :passed_result),
          'a result that issued a certificate cannot change (RB027)');
UPDATE exam_result SET score = 75 WHERE id = :failed;
SELECT is((SELECT count(*)::int FROM certificate WHERE holder_name = '张三'), 2,
          'correcting a failing result to a pass issues its certificate');
SELECT is(certificate_holders(99611, :inst), 1, 'one person with two certificates counts once');
SELECT is(ARRAY[holds_certification(99611, :inst), holds_certification(99611, :inst, CURRENT_DATE - 31),
                holds_certification(99611, :inst, (CURRENT_DATE + interval '24 months')::date)],
          ARRAY[true, false, false], 'held today; not before the first exam day, nor after the last expiry');
SELECT is(ARRAY[holds_certification(NULL, :inst), holds_certification(99611, NULL), holds_certification(99611, :inst, NULL),
                holds_certification(-1, :inst), holds_certification(99611, -1), holds_certification(99710, :inst)],
          ARRAY[false, false, false, false, false, false],
          'holds_certification is strictly false for NULLs, unknown ids and another brand''s partner');
SELECT is((SELECT format('%s %s', certification_code, expires_on IS NULL)
             FROM record_exam_result(99611, 'SVC-E', '李四', 45)),
          'SVC t', 'a certification without a validity issues certificates that never expire');
SELECT ok(holds_certification(99611, :svc, CURRENT_DATE + 36500), 'and they hold for good');
UPDATE certificate SET status = 'revoked', revoke_reason = '离职' WHERE holder_name = '李四';
SELECT is((SELECT format('%s %s %s', holds_certification(99611, :svc), revoked_by, revoked_at IS NOT NULL)
             FROM certificate WHERE holder_name = '李四'),
          'f crt_mgr t', 'a revoked certificate does not count; who revoked it is stamped');
SELECT throws_ok($$UPDATE certificate SET status = 'valid' WHERE holder_name = '李四'$$, 'RB001', NULL,
                 'a revoked certificate stays revoked');
SELECT throws_ok($$INSERT INTO certificate (partner_id, certification_id, holder_name, issued_by)
                   VALUES (99611, $$ || :basic || $$, '某人', 'crt_p1')$$, '42501', NULL,
                 'nobody names who issued a certificate');

-- ---- requirements: grades, products, categories --------------------------------------------
INSERT INTO certification_requirement (certification_id, grade_id) VALUES (:svc, 99605);
INSERT INTO certification_requirement (certification_id, category_id, min_holders) VALUES (:inst, 99621, 2);
INSERT INTO certification_requirement (certification_id, product_id, valid)
VALUES (:basic, 99632, daterange(CURRENT_DATE + 10, NULL));
SELECT throws_ok($$INSERT INTO certification_requirement (certification_id, grade_id, product_id) VALUES ($$ || :svc || $$, 99606, 99632)$$,
                 '23514', NULL, 'a requirement is of a grade, a product or a category: exactly one');
SELECT is((SELECT string_agg(format('%s %s/%s', certification_code, holders, min_holders), ',') FROM missing_certifications(99611, 99631)),
          'INST 1/2', 'a category requirement covers the products below it, with its min_holders');
SELECT is((SELECT count(*)::int FROM missing_certifications(99611, 99632)), 0,
          'not a product above it, and a requirement not yet in force is not required');
SELECT is((SELECT string_agg(format('%s %s/%s', certification_code, holders, min_holders), ',')
             FROM missing_certifications(99611, 99632, CURRENT_DATE + 10)),
          'BASIC 0/1', 'it is from its first day');
SELECT record_exam_result(99611, 'VRF-101-E', '王五', 90, (CURRENT_DATE - interval '24 months')::date + 10);
SELECT is((SELECT string_agg(format('%s %s/%s', certification_code, holders, min_holders), ',')
             FROM missing_certifications(99611, 99631)),
          NULL, 'a second certified person meets the requirement of two holders');
SELECT is((SELECT string_agg(format('%s %s/%s', certification_code, holders, min_holders), ',') FROM missing_certifications(99612, 99631)),
          'INST 0/2', 'the sibling''s certificates are its own: P2 holds none');
SELECT is((SELECT string_agg(format('%s %s/%s', certification_code, holders, min_holders), ',')
             FROM grade_missing_certifications(99611, 99605)),
          'SVC 0/1', 'grade A requires SVC, which P1 lost with the revocation');
SELECT is((SELECT count(*)::int FROM missing_certifications(NULL, 99631)), 1, 'an unknown partner holds nothing');

-- ---- a grade requires its certificates (RB025) ---------------------------------------------
SELECT throws_ok($$SELECT set_partner_grade(99611, 'A', '升级')$$, 'RB025',
                 'partner P1 does not hold the certification grade A requires',
                 'set_partner_grade does not give a grade without its certificates');
SELECT is(pg_temp.refusal($$UPDATE partner SET grade_id = 99605 WHERE id = 99611$$),
          'RB025 / partner P1 does not hold the certification grade A requires / Missing valid certificates: SVC (0 of 1 holders).',
          'nor does an UPDATE by the manager, which is told what is missing');
SELECT throws_ok($$INSERT INTO partner (code, name, grade_id) VALUES ('P9', '新店', 99605)$$, 'RB025', NULL,
                 'nor an INSERT of a new partner with the grade');
SELECT is((SELECT string_agg(format('%s %s', p.code, g.code), ',' ORDER BY p.code) FROM partner p JOIN partner_grade g ON g.id = p.grade_id),
          'D B,P1 B,P2 C', 'the grades are as they were');
RESET ROLE;
-- only to those who may write the partner
SET ROLE crt_mgr2;
SELECT throws_ok($$INSERT INTO partner (tenant_id, code, name, grade_id) VALUES (996, 'X', 'x', 99605)$$, '42501',
                 'new row violates row-level security policy for table "partner"',
                 'another brand''s manager is refused by row-level security, told nothing of the requirement');
UPDATE partner SET grade_id = 99605 WHERE id = 99611;
RESET ROLE;
SET ROLE crt_p1;
SELECT throws_ok($$UPDATE partner SET grade_id = 99605 WHERE id = 99611$$, '42501', 'permission denied for table partner',
                 'a partner user changes no grade, and learns nothing of what it lacks');
SELECT throws_ok($$SELECT set_partner_grade(99611, 'A', '')$$, '42501', 'permission denied for table partner',
                 'not through set_partner_grade either');
RESET ROLE;
SET ROLE rebate_manager;
UPDATE partner SET grade_id = 99605 WHERE id = 99611;
SELECT throws_ok($$INSERT INTO partner (tenant_id, code, name, grade_id) VALUES (996, 'X', 'x', 99605)$$, '42501',
                 'new row violates row-level security policy for table "partner"',
                 'a role acting through rebate_manager has no tenant: refused by row-level security');
RESET ROLE;
SELECT is((SELECT grade_id FROM partner WHERE id = 99611), 99606::bigint,
          'another brand''s manager and a group-role actor changed nothing (their updates found no row)');

-- ---- partner users read their own, and forge nothing ----------------------------------------
-- P2: a certificate that expires in about 20 days; P1's 王五 expires in about 9
SET ROLE crt_mgr;
SELECT record_exam_result(99612, 'VRF-101-E', '孙七', 88, (CURRENT_DATE - interval '24 months')::date + 20);
RESET ROLE;
SET ROLE crt_p1;
SELECT is((SELECT string_agg(DISTINCT partner_id::text, ',') FROM exam_result)
          || ' ' || (SELECT string_agg(DISTINCT partner_id::text, ',') FROM certificate),
          '99611 99611', 'a dealer''s user reads its own results and certificates, not its sibling''s');
SELECT is((SELECT format('%s %s %s %s', (SELECT count(*) FROM course), (SELECT count(*) FROM exam),
                         (SELECT count(*) FROM certification), (SELECT count(*) FROM certification_requirement))),
          '2 2 3 3', 'and its brand''s courses, exams, certifications and requirements');
SELECT throws_ok($$INSERT INTO certificate (partner_id, certification_id, holder_name) VALUES (99611, $$ || :inst || $$, '我自己')$$,
                 '42501', NULL, 'it issues itself no certificate');
SELECT throws_ok($$INSERT INTO exam_result (partner_id, exam_id, person_name, score) VALUES (99611, $$ || :exam || $$, '我自己', 100)$$,
                 '42501', NULL, 'records no exam result');
SELECT throws_ok($$UPDATE certificate SET expires_on = CURRENT_DATE + 3650$$, '42501', NULL, 'extends no certificate');
SELECT throws_ok($$SELECT record_exam_result(99611, 'VRF-101-E', '我自己', 100)$$, '42501', NULL,
                 'and may not call record_exam_result');
RESET ROLE;
SET ROLE crt_p2;
SELECT is((SELECT string_agg(DISTINCT partner_id::text, ',') FROM certificate), '99612', 'the sibling reads only its own');
RESET ROLE;
SET ROLE crt_d;
SELECT is((SELECT string_agg(DISTINCT partner_id::text, ',' ORDER BY partner_id::text) FROM certificate), '99611,99612',
          'the distributor reads its dealers''');
RESET ROLE;
SET ROLE crt_q1;
SELECT is((SELECT count(*)::int FROM certificate) + (SELECT count(*)::int FROM exam_result) + (SELECT count(*)::int FROM course)
          + (SELECT count(*)::int FROM certification_requirement) + (SELECT count(*)::int FROM v_certification_gaps), 0,
          'another brand''s partner user reads nothing of it');
SELECT is(holds_certification(99611, :inst), false, 'and holds_certification answers from what it may read');
RESET ROLE;
SET ROLE crt_mgr2;
SELECT is((SELECT count(*)::int FROM certificate) + (SELECT count(*)::int FROM exam_result) + (SELECT count(*)::int FROM certification)
          + (SELECT count(*)::int FROM v_certification_gaps), 0, 'nor does its manager');
SELECT throws_ok($$INSERT INTO certificate (tenant_id, partner_id, certification_id, holder_name) VALUES (996, 99611, $$ || :inst || $$, 'x')$$,
                 '42501', NULL, 'and it issues none in brand 996');
RESET ROLE;
SET ROLE rebate_partner;
SELECT is((SELECT count(*)::int FROM certificate) + (SELECT count(*)::int FROM exam_result) + (SELECT count(*)::int FROM course)
          + (SELECT count(*)::int FROM v_certification_gaps), 0, 'a role acting through rebate_partner reads nothing');
RESET ROLE;

-- ---- expiring certificates: the cron tells each partner once -----------------------------------
SET ROLE crt_mgr;
-- P1's 赵六: BASIC by hand, expiring in 5 days but already renewed; P2's 周八: revoked; P3's 吴九: in 60 days
INSERT INTO certificate (partner_id, certification_id, holder_name, issued_on, expires_on) VALUES
    (99611, :basic, '赵六', CURRENT_DATE - 300, CURRENT_DATE + 5), (99611, :basic, '赵六', CURRENT_DATE, CURRENT_DATE + 365),
    (99612, :basic, '周八', CURRENT_DATE - 100, CURRENT_DATE + 3), (99613, :basic, '吴九', CURRENT_DATE - 100, CURRENT_DATE + 60);
UPDATE certificate SET status = 'revoked' WHERE holder_name = '周八';
RESET ROLE;
SET ROLE crt_p1;
SELECT throws_ok($$SELECT * FROM certificate_alerts(996)$$, '42501', 'permission denied for function certificate_alerts',
                 'a partner user runs no alerts');
RESET ROLE;
SET ROLE crt_mgr2;
SELECT throws_ok($$SELECT * FROM certificate_alerts(996)$$, '42501',
                 'permission denied to announce the expiring certificates of tenant 996', 'nor another brand''s manager');
RESET ROLE;
SET ROLE rebate_manager;
SELECT throws_ok($$SELECT * FROM certificate_alerts(996)$$, '42501', NULL, 'nor a role acting through rebate_manager');
RESET ROLE;
SET ROLE crt_mgr;
SELECT throws_ok($$SELECT * FROM certificate_alerts()$$, '42501',
                 'permission denied to announce the expiring certificates of every tenant', 'a manager alerts its own tenant only');
SELECT throws_ok($$SELECT * FROM certificate_alerts(996, -1)$$, '22023', 'days must lie between 0 and 3650, not -1',
                 'days are a number of days ahead');
SELECT is((SELECT format('%s:%s', tenant, alerted) FROM certificate_alerts(996, 30)), '996:2',
          'two certificates expire within 30 days and were not renewed: P1''s 王五, P2''s 孙七');
SELECT is((SELECT format('%s:%s', tenant, alerted) FROM certificate_alerts(996, 30)), '996:0', 'each is announced once');
SELECT is((SELECT string_agg(format('%s %s %s', n.partner_id, n.event, c.holder_name), ',' ORDER BY n.partner_id)
             FROM notification n JOIN certificate c ON c.id = n.subject_id AND n.subject_type = 'certificate'),
          '99611 certificate_expiring 王五,99612 certificate_expiring 孙七', 'to the partners concerned');
RESET ROLE;
SET ROLE crt_p1;
SELECT is((SELECT title || ' ' || (detail ->> 'required_by_grade') FROM notification),
          (SELECT format('certificate %s (INST) of 王五 expires on %s false', certificate_no, expires_on)
             FROM certificate WHERE holder_name = '王五'),
          'P1''s user reads its own notice (the certificate no grade of its requires), not P2''s');
RESET ROLE;
SET ROLE crt_d;
SELECT is((SELECT count(*)::int FROM notification), 0, 'the distributor''s users get their own partner''s notices only');
RESET ROLE;
SET ROLE crt_mgr;
UPDATE certificate SET expires_on = expires_on + 1 WHERE holder_name = '王五';
SELECT is((SELECT format('%s:%s', tenant, alerted) FROM certificate_alerts(996, 30)), '996:1',
          'a new expiry is announced again');
RESET ROLE;
SELECT is((SELECT string_agg(format('%s:%s', tenant, alerted), ',') FROM certificate_alerts(NULL, 30) WHERE tenant IN (996, 997)),
          '996:0,997:0', 'a group administrator (here the superuser) runs it for every tenant');

-- ---- who falls short: v_certification_gaps ---------------------------------------------------------
INSERT INTO certification_requirement (tenant_id, certification_id, grade_id) VALUES (996, :basic, 99606);
SET ROLE crt_mgr;
SELECT is((SELECT string_agg(format('%s %s %s %s %s/%s/%s %s', partner_code, gap, required_for, certification_code, holders,
                                    holders_in_30_days, min_holders, last_sold_on IS NOT NULL), ', '
                             ORDER BY partner_code, certification_code)
             FROM v_certification_gaps),
          'D missing grade BASIC 0/0/1 f, P1 expiring category INST 2/1/2 t, P2 upcoming product BASIC 0/0/1 t, P3 missing category INST 0/0/2 t',
          'the manager sees D short of its grade (a requirement added later: no downgrade), P1 about to fall short, P2 before a requirement starts, P3 selling without it');
SELECT is((SELECT format('%s %s', next_expiry = (SELECT min(expires_on) FROM certificate WHERE holder_name = '王五'), category_code)
             FROM v_certification_gaps WHERE partner_code = 'P1'),
          't HVAC', 'with the certificate that runs out first, and the category');
RESET ROLE;
SET ROLE crt_p1;
SELECT is((SELECT string_agg(partner_code || ' ' || gap, ',') FROM v_certification_gaps), 'P1 expiring',
          'a dealer''s user sees its own gaps');
RESET ROLE;
SET ROLE crt_d;
SELECT is((SELECT string_agg(partner_code, ',' ORDER BY partner_code) FROM v_certification_gaps), 'D,P1,P2',
          'the distributor its own and its dealers''');
RESET ROLE;

-- ---- scoring withholds an upgrade the partner lacks certificates for ------------------------------
-- monthly, promoting after one month: net sales from 1,000 score 100 (band A), below 0 (band C)
INSERT INTO scoring_model (id, tenant_id, code, name, period_unit, promote_after, demote_after)
VALUES (99650, 996, 'M', '月度', 'month', 1, 1);
INSERT INTO scoring_kpi (tenant_id, model_id, kpi, weight, normalisation, band_thresholds, band_scores)
VALUES (996, 99650, 'net_sales', 100, 'bands', '{0,1000}', '{0,100}');
INSERT INTO scoring_band (tenant_id, model_id, grade_id, min_score) VALUES
    (996, 99650, 99605, 90), (996, 99650, 99606, 50), (996, 99650, 99607, 0);
UPDATE scoring_model SET active = true WHERE id = 99650;
SET CONSTRAINTS ALL IMMEDIATE;
SET ROLE crt_mgr;
SELECT is((SELECT format('%s/%s/%s', suggested_grade, change, reason)
             FROM partner_scores(996, period_of('month', (date_trunc('month', CURRENT_DATE) - interval '1 month')::date))
            WHERE partner_code = 'P1'),
          format('/withheld/in a better band than B for 1 consecutive month(s): %s 100 (A); upgrade to A withheld: certification not held: SVC (0 of 1 holders)',
                 period_label(period_of('month', (date_trunc('month', CURRENT_DATE) - interval '1 month')::date), 'month')),
          'P1 scores into band A, but grade A requires SVC: the upgrade is withheld, saying what is missing');
SELECT is((SELECT string_agg(format('%s %s>%s %s', partner_id, coalesce(from_grade, '-'), to_grade, change), ',')
             FROM apply_grade_suggestions(996, period_of('month', (date_trunc('month', CURRENT_DATE) - interval '1 month')::date))),
          '99610 B>C downgrade,99613 ->C assign',
          'applying the suggestions downgrades D (no sales), gives P3 its first grade and leaves P1 alone (no RB025)');
SELECT record_exam_result(99611, 'SVC-E', '李四', 48);
SELECT is((SELECT format('%s %s', suggested_grade, change)
             FROM partner_scores(996, period_of('month', (date_trunc('month', CURRENT_DATE) - interval '1 month')::date))
            WHERE partner_code = 'P1'),
          'A upgrade', 'once P1 holds SVC again, the upgrade is suggested');

-- ---- with its certificates a partner is given the grade; downgrades are never refused -------------
SELECT is((SELECT g.code FROM set_partner_grade(99611, 'A', '服务认证通过') p JOIN partner_grade g ON g.id = p.grade_id), 'A',
          'with SVC held, set_partner_grade gives P1 grade A');
SELECT is((SELECT format('%s>%s %s', from_grade_id, to_grade_id, reason) FROM partner_grade_history
            WHERE partner_id = 99611 ORDER BY id DESC LIMIT 1),
          '99606>99605 服务认证通过', 'recorded in the grade history like any grade change');
UPDATE certificate SET status = 'revoked', revoke_reason = '离职' WHERE holder_name = '赵六';
SELECT is((SELECT g.code FROM set_partner_grade(99611, 'B', '降级') p JOIN partner_grade g ON g.id = p.grade_id), 'B',
          'a downgrade to B is not refused though P1 no longer holds the BASIC that B requires');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
