-- tests: 24
-- The leads module's callable SECURITY DEFINER functions (part 1 of the
-- attack suite): nobody answers, assigns, cancels, distributes or expires a
-- lead it may not, and a lead it may not touch ends exactly like one that
-- does not exist.
\ir leads_fixture.sql

-- ---- answering: only the users of the partner a lead is offered to ----------------------------
SELECT attack.like_missing('atk_s1', 'rebate.accept_lead(bigint)',
                           $$SELECT rebate.accept_lead(940185)$$, $$SELECT rebate.accept_lead(940999999)$$,
                           'a dealer accepting the lead offered to its sibling is refused as for a lead that does not exist');
SELECT attack.like_missing('atk_s1', 'rebate.accept_lead(bigint)',
                           $$SELECT rebate.accept_lead(940186)$$, $$SELECT rebate.accept_lead(940999999)$$,
                           'so is accepting the one its sibling accepted');
SELECT attack.like_missing('atk_d1', 'rebate.accept_lead(bigint)',
                           $$SELECT rebate.accept_lead(940189)$$, $$SELECT rebate.accept_lead(940999999)$$,
                           'and the distributor accepting its dealer''s lead');
SELECT attack.like_missing('atk_b_user', 'rebate.accept_lead(bigint)',
                           $$SELECT rebate.accept_lead(940189)$$, $$SELECT rebate.accept_lead(940999999)$$,
                           'and another brand''s dealer');
SELECT attack.like_missing('atk_s1>rebate_partner', 'rebate.accept_lead(bigint)',
                           $$SELECT rebate.accept_lead(940189)$$, $$SELECT rebate.accept_lead(940999999)$$,
                           'and the dealer''s own lead through rebate_partner (no binding, no partner)');
SELECT attack.attempt('atk_mgr_a', 'rebate.accept_lead(bigint)', $$SELECT rebate.accept_lead(940189)$$,
                      'a manager answers for no partner', '42501');
SELECT attack.attempt('atk_unbound', 'rebate.accept_lead(bigint)', $$SELECT rebate.accept_lead(940189)$$,
                      'nor does an unbound role', '42501');
SELECT attack.like_missing('atk_s1', 'rebate.decline_lead(bigint,text)',
                           $$SELECT rebate.decline_lead(940185, 'x')$$, $$SELECT rebate.decline_lead(940999999, 'x')$$,
                           'a dealer declining its sibling''s lead (which would pass it on) is refused as for none');
SELECT attack.like_missing('atk_mgr_b', 'rebate.decline_lead(bigint,text)',
                           $$SELECT rebate.decline_lead(940189, 'x')$$, $$SELECT rebate.decline_lead(940999999, 'x')$$,
                           'another brand''s manager cannot call it at all, whatever the lead');
SELECT attack.like_missing('atk_loose', 'rebate.decline_lead(bigint,text)',
                           $$SELECT rebate.decline_lead(940189, 'x')$$, $$SELECT rebate.decline_lead(940999999, 'x')$$,
                           'nor a role granted the group roles without a binding');

-- ---- assigning and cancelling: a manager of the lead's tenant, a partner of that tenant ----------
SELECT attack.like_missing('atk_mgr_b', 'rebate.assign_lead(bigint,bigint,interval,text)',
                           $$SELECT rebate.assign_lead(940187, 940212)$$, $$SELECT rebate.assign_lead(940999999, 940212)$$,
                           'another brand''s manager assigns none of A''s leads, as if they did not exist');
SELECT attack.like_missing('atk_mgr_a', 'rebate.assign_lead(bigint,bigint,interval,text)',
                           $$SELECT rebate.assign_lead(940187, 940212)$$, $$SELECT rebate.assign_lead(940187, 940999999)$$,
                           'a manager offers its lead to no partner of another brand (like one that does not exist)');
SELECT attack.like_missing('atk_mgr_a>rebate_manager', 'rebate.assign_lead(bigint,bigint,interval,text)',
                           $$SELECT rebate.assign_lead(940187, 940112)$$, $$SELECT rebate.assign_lead(940999999, 940112)$$,
                           'its own manager acting through rebate_manager assigns nothing');
SELECT attack.attempt('atk_s1', 'rebate.assign_lead(bigint,bigint,interval,text)',
                      $$SELECT rebate.assign_lead(940185, 940112)$$, 'a dealer takes no lead by assigning it', '42501');
SELECT attack.like_missing('atk_mgr_b', 'rebate.cancel_lead(bigint,text)',
                           $$SELECT rebate.cancel_lead(940185, 'x')$$, $$SELECT rebate.cancel_lead(940999999, 'x')$$,
                           'another brand''s manager cancels none of A''s leads');
SELECT attack.like_missing('atk_mgr_a>rebate_manager', 'rebate.cancel_lead(bigint,text)',
                           $$SELECT rebate.cancel_lead(940185, 'x')$$, $$SELECT rebate.cancel_lead(940999999, 'x')$$,
                           'nor its own manager through rebate_manager');
SELECT attack.attempt('atk_d1', 'rebate.cancel_lead(bigint,text)', $$SELECT rebate.cancel_lead(940185, 'x')$$,
                      'a distributor cancels no lead of its dealers', '42501');

-- ---- distributing and expiring: a tenant's managers (NULL: their own), administrators ---------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.distribute_leads(bigint)',
                           $$SELECT * FROM rebate.distribute_leads(9402)$$, $$SELECT * FROM rebate.distribute_leads(9499)$$,
                           'a manager distributes no other brand''s leads (refused as for a tenant that does not exist)');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.distribute_leads(bigint)',
                      $$SELECT * FROM rebate.distribute_leads()$$, 'acting through rebate_manager distributes nothing', '42501');
SELECT attack.attempt('atk_loose', 'rebate.distribute_leads(bigint)',
                      $$SELECT * FROM rebate.distribute_leads()$$, 'nor a role without a binding', '42501');
SELECT attack.attempt('atk_d1', 'rebate.distribute_leads(bigint)',
                      $$SELECT * FROM rebate.distribute_leads(9401)$$, 'nor a partner user', '42501');
SELECT attack.like_missing('atk_mgr_b', 'rebate.expire_lead_offers(bigint)',
                           $$SELECT * FROM rebate.expire_lead_offers(9401)$$, $$SELECT * FROM rebate.expire_lead_offers(9499)$$,
                           'a manager expires no other brand''s offers');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.expire_lead_offers(bigint)',
                      $$SELECT * FROM rebate.expire_lead_offers()$$, 'nor through rebate_manager', '42501');
SELECT attack.attempt('atk_s1', 'rebate.expire_lead_offers(bigint)',
                      $$SELECT * FROM rebate.expire_lead_offers(9401)$$, 'nor a dealer', '42501');
