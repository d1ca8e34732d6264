-- tests: 16
-- Announcements, part 3 (included by test/pgtap/23_attack_reads.sql): what
-- each attacker reads of the announcements, their recipients, the rules and
-- the three views.  A partner user reads the published announcements its own
-- partner received (no draft, no withdrawn one, none of its sibling's, its
-- distributor's, O's or the other brand's) and its own recipient rows; a
-- manager its own brand's; a role without a binding of its own nothing.
-- (Part 3's catalog-driven read_all and write_all also read and write every
-- one of them as every attacker, with a leaky function on each column.)
\ir announcements_fixture.sql

-- What the calling role reads: the announcements, the recipient rows and the
-- portal view, as ids, and the reports' announcements.
CREATE FUNCTION attack.announcements_seen() RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT format('announcements %s; recipients %s; mine %s',
                  (SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') FROM rebate.announcement),
                  (SELECT coalesce(string_agg(announcement_id || ':' || partner_id, ',' ORDER BY announcement_id, partner_id), '-')
                     FROM rebate.announcement_recipient),
                  (SELECT coalesce(string_agg(announcement_id::text, ',' ORDER BY announcement_id), '-')
                     FROM rebate.v_my_announcements))
$$;
CREATE FUNCTION attack.reports_seen() RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT format('reach %s; pending %s',
                  (SELECT coalesce(string_agg(announcement_id || '=' || recipients, ',' ORDER BY announcement_id), '-')
                     FROM rebate.v_announcement_reach),
                  (SELECT coalesce(string_agg(announcement_id || ':' || partner_code, ',' ORDER BY announcement_id, partner_code),
                                   '-')
                     FROM rebate.v_announcement_pending))
$$;

SET SESSION AUTHORIZATION atk_s1;
SELECT is(attack.announcements_seen(), 'announcements 940121; recipients 940121:940112,940125:940112; mine 940121',
          'a dealer reads the published announcement its partner received and its own recipient rows, nothing of its sibling''s [atk_s1]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_d1;
SELECT is(attack.announcements_seen(), 'announcements 940121; recipients 940121:940111,940125:940111; mine 940121',
          'its distributor reads its own partner''s, not its dealers'' or O''s [atk_d1]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_b_user;
SELECT is(attack.announcements_seen(), 'announcements 940221; recipients 940221:940212,940225:940212; mine 940221',
          'the other brand''s dealer reads its own brand''s only [atk_b_user]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_a;
SELECT is(attack.announcements_seen(),
          'announcements 940121,940122,940123,940124,940125; recipients 940121:940111,940121:940112,940121:940113,940121:940114,940122:940113,940124:940114,940125:940111,940125:940112,940125:940113,940125:940114; mine -',
          'a manager reads every announcement and recipient of its brand, none of the other''s; its portal view is empty [atk_mgr_a]');
SELECT is(attack.reports_seen(),
          'reach 940121=4,940122=1,940123=0,940124=1,940125=4; pending 940121:ZQXAD,940121:ZQXOO,940121:ZQXSS2,940122:ZQXSS2',
          'and its brand''s reach and pending lists only [atk_mgr_a]');
SELECT is((SELECT count(*)::int FROM rebate.announcement_rule WHERE tenant_id = 9402), 0, 'and no rule of the other brand [atk_mgr_a]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_b;
SELECT is(attack.reports_seen(),
          'reach 940221=4,940222=1,940223=0,940224=1,940225=4; pending 940221:ZQXBD,940221:ZQXBO,940221:ZQXBS2,940222:ZQXBS2',
          'the victim''s manager sees its own brand''s reports [atk_mgr_b]');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_mgr_a;
SET ROLE rebate_manager;
SELECT is(attack.announcements_seen() || '; ' || attack.reports_seen(),
          'announcements -; recipients -; mine -; reach -; pending -',
          'acting through rebate_manager, a manager reads nothing [atk_mgr_a>rebate_manager]');
RESET ROLE;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_s1;
SET ROLE rebate_partner;
SELECT is(attack.announcements_seen(), 'announcements -; recipients -; mine -',
          'nor a dealer through rebate_partner [atk_s1>rebate_partner]');
RESET ROLE;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_loose;
SELECT is(attack.announcements_seen() || '; ' || attack.reports_seen(),
          'announcements -; recipients -; mine -; reach -; pending -', 'nor a role granted both group roles without a binding [atk_loose]');
RESET SESSION AUTHORIZATION;

-- a leaky function shown each row and column the attacker may read: nothing hidden from it
SELECT attack.attempt('atk_s1', 'rebate.announcement',
    $$SELECT count(*) FROM rebate.announcement a WHERE attack.spy(concat_ws('|', a.id, a.title, a.body, a.detail, a.status))$$,
    'a leaky function sees no title or text of the sibling''s, O''s, the draft or the withdrawn one [atk_s1]');
SELECT attack.attempt('atk_d1', 'rebate.v_my_announcements',
    $$SELECT count(*) FROM rebate.v_my_announcements a WHERE attack.spy(concat_ws('|', a.announcement_id, a.title, a.body))$$,
    'nor through the portal view [atk_d1]');
SELECT attack.attempt('atk_mgr_a', 'rebate.v_announcement_pending',
    $$SELECT count(*) FROM rebate.v_announcement_pending p
       WHERE attack.spy(concat_ws('|', p.tenant_id, p.title, p.partner_code, p.partner_name))$$,
    'a manager''s leaky function sees nothing of the other brand in the pending list (a security barrier) [atk_mgr_a]');
SELECT attack.attempt('atk_mgr_a', 'rebate.v_announcement_reach',
    $$SELECT count(*) FROM rebate.v_announcement_reach r WHERE attack.spy(concat_ws('|', r.tenant_id, r.title))$$,
    'nor in the reach [atk_mgr_a]');
SELECT attack.attempt('atk_s1', 'rebate.v_announcement_reach', $$SELECT count(*) FROM rebate.v_announcement_reach$$,
    'a dealer reads no reach report', '42501');
SELECT attack.attempt('atk_s1', 'rebate.announcement', $$SELECT region_ids, partner_ids FROM rebate.announcement$$,
    'nor the targets (which would name other partners)', '42501');
