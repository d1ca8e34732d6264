-- tests: 18
-- What the leads module shows (part 3 of the attack suite; its catalog-wide
-- reads and writes cover these tables and views too): each partner user its
-- own leads, offers and opportunities and KPI rows made of them only, a
-- distributor its dealers', a manager its brand's, a role through a group
-- role or without a binding nothing; the views keep a leaky function away
-- from hidden rows; their internal facts are the owner's.
\ir leads_fixture.sql

SET SESSION AUTHORIZATION atk_s1;
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM rebate.lead), '940189',
          'a dealer reads the lead offered to it, not its sibling''s (even one it declined), O''s or the new one [atk_s1]');
SELECT is((SELECT string_agg(id || ':' || coalesce(answer, 'open'), ',' ORDER BY id) FROM rebate.lead_offer), '940189:open,940190:declined',
          'its own offers, the declined one included, none of its sibling''s [atk_s1]');
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM rebate.opportunity), '940189',
          'its own opportunity only [atk_s1]');
SELECT is((SELECT string_agg(DISTINCT partner_id::text, ',') FROM rebate.opportunity_stage_history), '940112',
          'and its history [atk_s1]');
SELECT is((SELECT format('%s %s %s', sum(leads), sum(offers), coalesce(max(leads_waiting)::text, 'hidden'))
             FROM rebate.v_lead_conversion_by_source),
          '2 2 hidden', 'its KPIs count the two leads offered to it, not what waits for the managers [atk_s1]');
SELECT is((SELECT string_agg(DISTINCT partner_id::text, ',') FROM rebate.v_lead_conversion_by_partner)
          || ' ' || (SELECT string_agg(DISTINCT partner_id::text, ',') FROM rebate.v_opportunity_pipeline),
          '940112 940112', 'its own partner rows only, in conversion and pipeline [atk_s1]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_d1;
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM rebate.lead), '940185,940186,940189',
          'a distributor reads its dealers'' leads, not O''s [atk_d1]');
SELECT is((SELECT string_agg(DISTINCT partner_id::text, ',' ORDER BY partner_id::text) FROM rebate.v_opportunity_pipeline),
          '940112,940113', 'and their pipeline [atk_d1]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_b;
SELECT is((SELECT count(*)::int FROM rebate.lead WHERE tenant_id = 9401) + (SELECT count(*)::int FROM rebate.lead_rule WHERE tenant_id = 9401)
          + (SELECT count(*)::int FROM rebate.v_lead_conversion_by_region WHERE tenant_id = 9401), 0,
          'another brand''s manager reads none of brand A''s leads, rules or KPIs [atk_mgr_b]');
SELECT is((SELECT sum(leads)::int FROM rebate.v_lead_conversion_by_source), 5, 'but all five of its own [atk_mgr_b]');
RESET SESSION AUTHORIZATION;
SELECT attack.attempt(actor, 'rebate.v_lead_conversion_by_source',
                      $q$DO $d$ BEGIN IF EXISTS (SELECT FROM rebate.lead) OR EXISTS (SELECT FROM rebate.opportunity)
                                        OR EXISTS (SELECT FROM rebate.v_lead_conversion_by_source)
                                        OR EXISTS (SELECT FROM rebate.v_opportunity_pipeline) THEN RAISE 'rows show'; END IF; END $d$$q$,
                      'a role with a group role but no binding of its own reads no lead, opportunity or KPI row', '00000')
  FROM unnest(ARRAY['atk_loose', 'atk_mgr_a>rebate_manager', 'atk_s1>rebate_partner']) actor;
SELECT attack.attempt('atk_s1', 'rebate.v_opportunity_pipeline',
                      $$SELECT count(*) FROM rebate.v_opportunity_pipeline v WHERE attack.spy(v.*)$$,
                      'a leaky function in a dealer''s condition on the pipeline sees its own rows only (the barrier holds)');
SELECT attack.attempt('atk_s1', 'rebate.v_lead_conversion_by_partner',
                      $$SELECT count(*) FROM rebate.v_lead_conversion_by_partner v WHERE attack.spy(v.*)$$,
                      'so does one on the conversion by partner');
SELECT attack.attempt('atk_b_user', 'rebate.v_lead_conversion_by_region',
                      $$SELECT count(*) FROM rebate.v_lead_conversion_by_region v WHERE attack.spy(v.*)$$,
                      'and another brand''s dealer''s on the conversion by region');
SELECT attack.attempt(actor, 'rebate.lead_facts_all', $$SELECT count(*) FROM rebate.lead_facts_all$$,
                      'the unfiltered lead facts are the owner''s', '42501')
  FROM unnest(ARRAY['atk_mgr_a', 'atk_s1']) actor;
