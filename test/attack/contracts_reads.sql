-- tests: 9
-- What the contracts module shows (part 3's catalog-wide reads and writes
-- cover its tables and view too): a partner user its own partner's
-- contracts, parts and grants (a distributor also its dealers'), a manager
-- its brand's, a role through a group role or without a binding nothing;
-- the grants view keeps a leaky function away from hidden rows.
\ir contracts_fixture.sql

CREATE FUNCTION attack.contracts_seen() RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT format('contracts %s; territories %s; programs %s; grants %s',
                  (SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') FROM rebate.partner_contract),
                  (SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') FROM rebate.partner_contract_territory),
                  (SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') FROM rebate.partner_contract_program),
                  (SELECT coalesce(string_agg(contract_id || ':' || granted, ',' ORDER BY contract_id, granted), '-')
                     FROM rebate.v_contract_grants))
$$;

SET SESSION AUTHORIZATION atk_s1;
SELECT is(attack.contracts_seen(),
          'contracts 940142,940145; territories 940142,940145; programs 940142; grants 940142:credit_limit,940142:grade,940142:program,940142:territory',
          'a dealer reads its own contracts, their parts and grants, nothing of its sibling''s or O''s [atk_s1]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_d1;
SELECT is(attack.contracts_seen(),
          'contracts 940142,940143,940145; territories 940142,940143,940145; programs 940142,940143; grants 940142:credit_limit,940142:grade,940142:program,940142:territory,940143:credit_limit,940143:grade,940143:program,940143:territory',
          'a distributor reads its dealers'', not O''s [atk_d1]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_b_user;
SELECT is(attack.contracts_seen(),
          'contracts 940242,940245; territories 940242,940245; programs 940242; grants 940242:credit_limit,940242:grade,940242:program,940242:territory',
          'the other brand''s dealer reads its own only [atk_b_user]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_a;
SELECT is((SELECT count(*)::int FROM rebate.partner_contract WHERE tenant_id = 9402)
          + (SELECT count(*)::int FROM rebate.v_contract_grants WHERE tenant_id = 9402), 0,
          'a manager reads none of another brand''s contracts or grants [atk_mgr_a]');
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM rebate.partner_contract), '940142,940143,940144,940145,940146',
          'but all of its own [atk_mgr_a]');
RESET SESSION AUTHORIZATION;
SELECT attack.attempt(actor, 'rebate.v_contract_grants',
                      $q$DO $d$ BEGIN IF attack.contracts_seen() <> 'contracts -; territories -; programs -; grants -' THEN
                                        RAISE 'rows show'; END IF; END $d$$q$,
                      'a role with a group role but no binding of its own reads no contract, part or grant', '00000')
  FROM unnest(ARRAY['atk_loose', 'atk_mgr_a>rebate_manager', 'atk_s1>rebate_partner']) actor;
SELECT attack.attempt('atk_s1', 'rebate.v_contract_grants',
                      $$SELECT count(*) FROM rebate.v_contract_grants v WHERE attack.spy(v.*)$$,
                      'a leaky function in a dealer''s condition on the grants sees its own rows only');
