-- tests: 5
\ir onboarding_fixture.sql
-- what partner users may write themselves: only their own partner's qualifications and draft application
SELECT attack.attempt('atk_s1', 'rebate.partner_qualification',
                      $$INSERT INTO rebate.partner_qualification (partner_id, type_id, number, valid_from) VALUES (940113, 940185, 'x', '2020-01-01')$$,
                      'a dealer records no qualification for its sibling', '42501');
SELECT attack.attempt('atk_s1', 'rebate.partner_qualification',
                      $$UPDATE rebate.partner_qualification SET valid_until = '2020-01-02' WHERE id = 940186$$,
                      'nor changes its sibling''s');
SELECT attack.attempt('atk_s1', 'rebate.partner_application',
                      $$UPDATE rebate.partner_application SET region_ids = '{940101}' WHERE id = 940187$$,
                      'nor its sibling''s application');
SELECT attack.attempt('atk_d1', 'rebate.partner_application',
                      $$INSERT INTO rebate.partner_application (partner_id) VALUES (940112)$$,
                      'a distributor drafts no application for its dealer', '42501');
SELECT attack.attempt('atk_b_user', 'rebate.partner_application',
                      $$UPDATE rebate.partner_application SET status = 'approved' WHERE id = 940287$$,
                      'nobody approves its own application by hand', '42501');
