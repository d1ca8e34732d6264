-- A partner's way in and out, in both fixture brands (included by
-- onboarding_calls.sql, _triggers.sql and _reads.sql): a required licence
-- type, the sibling S2's licence and draft application (marked), an
-- applicant of brand B's.
INSERT INTO rebate.qualification_type (id, tenant_id, code, name, required_for) VALUES
    (940185, 9401, 'ZQXALIC', 'ZQXA执照', '{dealer}'), (940285, 9402, 'ZQXBLIC', 'ZQXB执照', '{dealer}');
INSERT INTO rebate.partner_qualification (id, tenant_id, partner_id, type_id, number, issuer, valid_from) VALUES
    (940186, 9401, 940113, 940185, 'ZQXS0001', 'ZQXS工商局', '2020-01-01'),
    (940286, 9402, 940213, 940285, 'ZQXB0001', 'ZQXB工商局', '2020-01-01');
INSERT INTO rebate.partner_application (id, tenant_id, partner_id, region_ids, note) VALUES
    (940187, 9401, 940113, '{940104}', 'ZQXS申请'), (940287, 9402, 940212, '{940204}', 'ZQXB申请');
