-- Certification rows of both fixture tenants (test/attack/fixture.sql
-- first; included by certification_calls.sql, _triggers.sql and
-- _reads.sql), alike, with ids b + 6x:
--   course b+61, its exam b+62, certification b+63 (INST, earned by the exam,
--   24 months) and b+64 (BASIC, by hand only); a grade b+6 above b+5 (rank 0)
--   that nobody holds;
--   exam results and certificates b+65 of S1 (INST, expiring in about 19
--   days, not announced yet: a cron run anybody managed would show), b+66
--   of S2 (text ZQXS: a failed result; a BASIC certificate by hand), b+67 of
--   O (text ZQXO: INST, expired);
--   requirements: b+68 grade b+5 requires INST from ten days on (so that
--   v_certification_gaps shows every partner of b+5 as upcoming, while
--   nothing refuses b+5 today: D, S1, S2 and O are short of it then), b+69 grade b+6 requires INST, b+70 a
--   product b+33 of its own requires two holders of INST.
-- In tenant B every text carries ZQXB.
CREATE FUNCTION attack.make_certification(t bigint, m text, sibling text, outside text) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    b bigint := t * 100;
    soon date := (CURRENT_DATE - interval '24 months')::date + 20;
BEGIN
    INSERT INTO rebate.partner_grade (id, tenant_id, code, name, rank) VALUES (b + 6, t, m || 'S', m || '钻石', 0);
    INSERT INTO rebate.product (id, tenant_id, sku, name, category_id, list_price) VALUES
        (b + 33, t, m || 'SKU3', m || '产品三', b + 21, 100);
    INSERT INTO rebate.course (id, tenant_id, code, name, hours, description) VALUES
        (b + 61, t, m || 'C1', m || '安装课程', 16, m || '课程说明');
    INSERT INTO rebate.exam (id, tenant_id, course_id, code, name, pass_score) VALUES (b + 62, t, b + 61, m || 'E1', m || '考试', 60);
    -- earned by the exam once the fixture's own certificates are in (so that their ids are the fixture's)
    INSERT INTO rebate.certification (id, tenant_id, code, name, validity_months, description) VALUES
        (b + 63, t, m || 'INST', m || '安装认证', 24, m || '认证说明'), (b + 64, t, m || 'BASIC', m || '基础认证', NULL, NULL);
    INSERT INTO rebate.exam_result (id, tenant_id, partner_id, exam_id, person_name, score, taken_on, note) VALUES
        (b + 65, t, b + 12, b + 62, m || '张三', 88, soon, m || '备注'),
        (b + 66, t, b + 13, b + 62, sibling || '李四', 41, CURRENT_DATE - 30, sibling || '备注'),
        (b + 67, t, b + 14, b + 62, outside || '王五', 75, CURRENT_DATE - 800, outside || '备注');
    INSERT INTO rebate.certificate (id, tenant_id, partner_id, certification_id, certificate_no, holder_name, issued_on,
                                    exam_result_id, note) VALUES
        (b + 65, t, b + 12, b + 63, m || '-C65', m || '张三', soon, b + 65, m || '备注'),
        (b + 66, t, b + 13, b + 64, sibling || '-C66', sibling || '李四', CURRENT_DATE - 30, NULL, sibling || '备注'),
        (b + 67, t, b + 14, b + 63, outside || '-C67', outside || '王五', CURRENT_DATE - 800, b + 67, outside || '备注');
    UPDATE rebate.certification SET exam_id = b + 62 WHERE id = b + 63;
    INSERT INTO rebate.certification_requirement (id, tenant_id, certification_id, grade_id, product_id, min_holders, valid, note)
    VALUES (b + 68, t, b + 63, b + 5, NULL, 1, daterange(CURRENT_DATE + 10, NULL), m || '金牌要求'),
           (b + 69, t, b + 63, b + 6, NULL, 1, daterange(CURRENT_DATE, NULL), m || '钻石要求'),
           (b + 70, t, b + 63, NULL, b + 33, 2, daterange(CURRENT_DATE, NULL), m || '产品要求');
END
$$;
SELECT attack.make_certification(9401, 'ZQXA', 'ZQXS', 'ZQXO');
SELECT attack.make_certification(9402, 'ZQXB', 'ZQXB', 'ZQXB');
