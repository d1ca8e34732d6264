-- tests: 26
-- Announcements, part 1 (included by test/pgtap/21_attack_functions.sql):
-- every callable SECURITY DEFINER function of the module.  A manager acts
-- only on its own tenant's announcements, and only through a binding of its
-- own; a partner user marks only what its own partner received, published;
-- anything else ends like an announcement that does not exist.
\ir announcements_fixture.sql

-- ---- publishing, withdrawing, reminding: a manager of the tenant only --------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.publish_announcement(bigint)',
                           $$SELECT rebate.publish_announcement(940223)$$, $$SELECT rebate.publish_announcement(940999999)$$,
                           'another brand''s draft is published like one that does not exist');
SELECT attack.like_missing('atk_mgr_b', 'rebate.publish_announcement(bigint)',
                           $$SELECT rebate.publish_announcement(940123)$$, $$SELECT rebate.publish_announcement(940999999)$$,
                           'and the other way round');
SELECT attack.like_missing('atk_mgr_a>rebate_manager', 'rebate.publish_announcement(bigint)',
                           $$SELECT rebate.publish_announcement(940123)$$, $$SELECT rebate.publish_announcement(940999999)$$,
                           'a manager acting through rebate_manager publishes not even its own brand''s');
SELECT attack.like_missing('atk_loose', 'rebate.publish_announcement(bigint)',
                           $$SELECT rebate.publish_announcement(940123)$$, $$SELECT rebate.publish_announcement(940999999)$$,
                           'nor a role granted rebate_manager without a binding');
SELECT attack.attempt('atk_d1', 'rebate.publish_announcement(bigint)', $$SELECT rebate.publish_announcement(940123)$$,
                      'a partner user publishes nothing', '42501');
SELECT attack.attempt('atk_unbound', 'rebate.publish_announcement(bigint)', $$SELECT rebate.publish_announcement(940123)$$,
                      'nor an unbound role', '42501');
SELECT attack.like_missing('atk_mgr_a', 'rebate.withdraw_announcement(bigint,text)',
                           $$SELECT rebate.withdraw_announcement(940221, 'x')$$,
                           $$SELECT rebate.withdraw_announcement(940999999, 'x')$$,
                           'another brand''s announcement is withdrawn like one that does not exist');
SELECT attack.like_missing('atk_mgr_a>rebate_manager', 'rebate.withdraw_announcement(bigint,text)',
                           $$SELECT rebate.withdraw_announcement(940121)$$, $$SELECT rebate.withdraw_announcement(940999999)$$,
                           'nor its own brand''s through rebate_manager');
SELECT attack.attempt('atk_s1', 'rebate.withdraw_announcement(bigint,text)', $$SELECT rebate.withdraw_announcement(940121)$$,
                      'a dealer withdraws nothing', '42501');
SELECT attack.like_missing('atk_mgr_a', 'rebate.remind_announcement(bigint)',
                           $$SELECT rebate.remind_announcement(940221)$$, $$SELECT rebate.remind_announcement(940999999)$$,
                           'another brand''s partners are not reminded, as if it did not exist');
SELECT attack.like_missing('atk_loose', 'rebate.remind_announcement(bigint)',
                           $$SELECT rebate.remind_announcement(940121)$$, $$SELECT rebate.remind_announcement(940999999)$$,
                           'nor by a role without a binding');
SELECT attack.attempt('atk_s1', 'rebate.remind_announcement(bigint)', $$SELECT rebate.remind_announcement(940121)$$,
                      'a dealer reminds nobody', '42501');

-- ---- reading and acknowledging: what one's own partner received, published ---------------
SELECT attack.like_missing('atk_s1', 'rebate.read_announcement(bigint)',
                           $$SELECT rebate.read_announcement(940122)$$, $$SELECT rebate.read_announcement(940999999)$$,
                           'a dealer reads nothing addressed to its sibling, as if it did not exist');
SELECT attack.like_missing('atk_s1', 'rebate.acknowledge_announcement(bigint)',
                           $$SELECT rebate.acknowledge_announcement(940122)$$,
                           $$SELECT rebate.acknowledge_announcement(940999999)$$,
                           'nor acknowledges it');
SELECT attack.like_missing('atk_d1', 'rebate.acknowledge_announcement(bigint)',
                           $$SELECT rebate.acknowledge_announcement(940122)$$,
                           $$SELECT rebate.acknowledge_announcement(940999999)$$,
                           'nor does the distributor above it (it marks for its own partner only)');
SELECT attack.like_missing('atk_d1', 'rebate.read_announcement(bigint)',
                           $$SELECT rebate.read_announcement(940124)$$, $$SELECT rebate.read_announcement(940999999)$$,
                           'nor one addressed to a partner outside its subtree');
SELECT attack.like_missing('atk_s1', 'rebate.read_announcement(bigint)',
                           $$SELECT rebate.read_announcement(940123)$$, $$SELECT rebate.read_announcement(940999999)$$,
                           'a draft is read like an announcement that does not exist');
SELECT attack.like_missing('atk_s1', 'rebate.acknowledge_announcement(bigint)',
                           $$SELECT rebate.acknowledge_announcement(940125)$$,
                           $$SELECT rebate.acknowledge_announcement(940999999)$$,
                           'and so is a withdrawn one, though it was addressed to it');
SELECT attack.like_missing('atk_s1', 'rebate.read_announcement(bigint)',
                           $$SELECT rebate.read_announcement(940221)$$, $$SELECT rebate.read_announcement(940999999)$$,
                           'another brand''s announcement is not read');
SELECT attack.like_missing('atk_b_user', 'rebate.acknowledge_announcement(bigint)',
                           $$SELECT rebate.acknowledge_announcement(940121)$$,
                           $$SELECT rebate.acknowledge_announcement(940999999)$$,
                           'nor acknowledged, by the other brand''s dealer');
SELECT attack.attempt('atk_mgr_a', 'rebate.read_announcement(bigint)', $$SELECT rebate.read_announcement(940121)$$,
                      'a manager marks nothing read for a partner', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.acknowledge_announcement(bigint)',
                      $$SELECT rebate.acknowledge_announcement(940121)$$, 'nor acknowledged', '42501');
SELECT attack.attempt('atk_s1>rebate_partner', 'rebate.acknowledge_announcement(bigint)',
                      $$SELECT rebate.acknowledge_announcement(940121)$$,
                      'a dealer acting through rebate_partner has no partner to mark for', '42501');
SELECT attack.attempt('atk_loose', 'rebate.read_announcement(bigint)', $$SELECT rebate.read_announcement(940121)$$,
                      'nor a role granted rebate_partner without a binding', '42501');
SELECT attack.attempt('atk_s1', 'rebate.read_announcement(bigint)', $$SELECT rebate.read_announcement(940121)$$,
                      'reading again what its partner already acknowledged changes nothing');
SELECT attack.attempt('atk_s1', 'rebate.acknowledge_announcement(bigint)',
                      $$SELECT rebate.acknowledge_announcement(940121)$$, 'nor does acknowledging it again');
