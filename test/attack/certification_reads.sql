-- tests: 10
-- What the certification module shows (part 3 of the attack suite; its
-- catalog-wide reads and writes cover these tables and the view too): each
-- partner user its own results, certificates and gaps, a distributor its
-- dealers', a manager its brand's, a role through a group role or without a
-- binding nothing; the gaps view keeps a leaky function away from hidden
-- rows.
\ir certification_fixture.sql

SET SESSION AUTHORIZATION atk_s1;
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM rebate.exam_result)
          || ' ' || (SELECT string_agg(id::text, ',' ORDER BY id) FROM rebate.certificate),
          '940165 940165', 'a dealer reads its own result and certificate, not its sibling''s or O''s [atk_s1]');
SELECT is((SELECT string_agg(partner_code || ':' || gap, ',') FROM rebate.v_certification_gaps), 'ZQXAS1:upcoming',
          'and its own gaps [atk_s1]');
SELECT is((SELECT format('%s %s %s', (SELECT count(*) FROM rebate.course), (SELECT count(*) FROM rebate.certification),
                         (SELECT count(*) FROM rebate.certification_requirement))),
          '1 2 3', 'and its brand''s catalogue and requirements, not the other brand''s [atk_s1]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_d1;
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM rebate.certificate)
          || ' ' || (SELECT string_agg(partner_code, ',' ORDER BY partner_code) FROM rebate.v_certification_gaps),
          '940165,940166 ZQXAD,ZQXAS1,ZQXSS2', 'a distributor reads its dealers'' certificates and gaps, not O''s [atk_d1]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_b;
SELECT is((SELECT count(*)::int FROM rebate.certificate WHERE tenant_id = 9401) + (SELECT count(*)::int FROM rebate.exam_result WHERE tenant_id = 9401)
          + (SELECT count(*)::int FROM rebate.v_certification_gaps WHERE tenant_id = 9401), 0,
          'another brand''s manager reads none of brand A''s results, certificates or gaps [atk_mgr_b]');
SELECT is((SELECT count(*)::int FROM rebate.v_certification_gaps), 4, 'but all four of its own gaps [atk_mgr_b]');
RESET SESSION AUTHORIZATION;
SELECT attack.attempt(actor, 'rebate.v_certification_gaps',
                      $q$DO $d$ BEGIN IF EXISTS (SELECT FROM rebate.certificate) OR EXISTS (SELECT FROM rebate.exam_result)
                                        OR EXISTS (SELECT FROM rebate.course)
                                        OR EXISTS (SELECT FROM rebate.v_certification_gaps) THEN RAISE 'rows show'; END IF; END $d$$q$,
                      'a role with a group role but no binding of its own reads no certificate, result, course or gap', '00000')
  FROM unnest(ARRAY['atk_loose', 'atk_mgr_a>rebate_manager', 'atk_s1>rebate_partner']) actor;
SELECT attack.attempt('atk_s1', 'rebate.v_certification_gaps',
                      $$SELECT count(*) FROM rebate.v_certification_gaps v WHERE attack.spy(v.*)$$,
                      'a leaky function in a dealer''s condition on the gaps sees its own rows only');
