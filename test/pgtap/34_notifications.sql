-- Notifications (issue 17): order status changes, statements issued and
-- disputed, violations recorded and approval events land in the inbox of
-- their audience; row-level security shows each role its own; marking read
-- touches only what the caller receives; each audience has its own secret
-- channel.  (That NOTIFY is heard on commit and never after a rollback is
-- test/notify.sh's: a listener needs a second session.)
BEGIN;
SET search_path = public, rebate;
SELECT plan(25);

INSERT INTO tenant (id, code, name) VALUES (983, 'NTF', '通知'), (984, 'NTG', '另一品牌');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow', no_price_policy = 'allow'
 WHERE tenant_id IN (983, 984);
INSERT INTO region (id, tenant_id, code, name, level) VALUES (98301, 983, 'CN', '中国', 'country'),
                                                             (98401, 984, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state) VALUES
    (98310, 983, 'D', '总代', 'distributor', 98301, 'active'), (98410, 984, 'X', '别家', 'dealer', 98401, 'active');
INSERT INTO partner (id, tenant_id, code, name, parent_id, home_region_id, state) VALUES
    (98311, 983, 'P1', '一店', 98310, 98301, 'active'), (98312, 983, 'P2', '二店', 98310, 98301, 'active');
CREATE ROLE ntf_mgr LOGIN; CREATE ROLE ntf_d LOGIN; CREATE ROLE ntf_p1 LOGIN; CREATE ROLE ntf_p2 LOGIN;
CREATE ROLE ntf_other LOGIN; CREATE ROLE ntf_x LOGIN; CREATE ROLE ntf_loose LOGIN IN ROLE rebate_manager;
SELECT grant_access('ntf_mgr', 983), grant_access('ntf_d', 983, 98310), grant_access('ntf_p1', 983, 98311),
       grant_access('ntf_p2', 983, 98312), grant_access('ntf_other', 984), grant_access('ntf_x', 984, 98410);

-- the events of the documents
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, status) VALUES
    (98320, 983, 'SO-1', 98311, 98301, 'draft'), (98321, 983, 'SO-2', 98312, 98301, 'draft');
UPDATE sales_order SET status = 'submitted' WHERE id IN (98320, 98321);
UPDATE sales_order SET note = 'no status change' WHERE id = 98320;
SELECT is((SELECT string_agg(partner_id || ':' || event || ':' || title || ':' || (detail ->> 'from') || '>' || (detail ->> 'to'),
                             ', ' ORDER BY subject_id)
             FROM notification WHERE tenant_id = 983 AND subject_type = 'sales_order'),
          '98311:order_status_changed:order SO-1 is now submitted:draft>submitted, 98312:order_status_changed:order SO-2 is now submitted:draft>submitted',
          'each order''s status change reaches its partner, once (other changes do not)');
INSERT INTO statement (id, tenant_id, partner_id, period, currency) VALUES (98330, 983, 98311, '[2026-01-01,2026-02-01)', 'CNY');
SET ROLE ntf_mgr;
SELECT is((issue_statement(98330)).status, 'issued', 'a manager issues a statement');
RESET ROLE;
SET ROLE ntf_p1;
SELECT is((dispute_statement(98330, '少算了一单')).status, 'disputed', 'the partner disputes it');
RESET ROLE;
SELECT is((SELECT string_agg(coalesce(partner_id::text, 'managers') || ':' || event, ', ' ORDER BY id)
             FROM notification WHERE subject_type = 'statement' AND subject_id = 98330),
          '98311:statement_issued, managers:statement_disputed', 'the partner hears of the issue, the managers of the dispute');
INSERT INTO policy_violation (id, tenant_id, kind, source_table, source_id, order_id, partner_id, message)
VALUES (98340, 983, 'territory', 'rebate.sales_order', 98321, 98321, 98312, 'shipped outside');
SELECT is((SELECT coalesce(partner_id::text, 'managers') || ':' || title FROM notification WHERE subject_type = 'policy_violation'),
          'managers:territory violation 98340 recorded for review', 'a recorded violation reaches the managers');

-- ---- who sees what ----------------------------------------------------------------
SET ROLE ntf_p1;
SELECT is((SELECT string_agg(event, ',' ORDER BY id) FROM notification), 'order_status_changed,statement_issued',
          'a dealer''s user sees its partner''s notifications only');
RESET ROLE;
SET ROLE ntf_p2;
SELECT is((SELECT string_agg(event || ':' || subject_id, ',' ORDER BY id) FROM notification), 'order_status_changed:98321',
          'its sibling sees its own, not the first dealer''s, nor the managers'' violation about it');
RESET ROLE;
SET ROLE ntf_d;
SELECT is((SELECT count(*)::int FROM notification), 0, 'the distributor above them does not receive its dealers'' notices');
RESET ROLE;
SET ROLE ntf_mgr;
SELECT is((SELECT count(*)::int FROM notification), 5, 'a manager sees every notification of its tenant');
RESET ROLE;
SET ROLE ntf_other;
SELECT is((SELECT count(*)::int FROM notification), 0, 'another brand''s manager sees none');
RESET ROLE;
SET ROLE ntf_loose;
SELECT is((SELECT count(*)::int FROM notification), 0, 'a member of rebate_manager without a binding sees none');
RESET ROLE;
SET ROLE ntf_mgr;
SET ROLE rebate_manager;
SELECT is((SELECT count(*)::int FROM notification), 0, 'nor does a manager acting through rebate_manager');
RESET ROLE;

-- ---- marking read ---------------------------------------------------------------------
SET ROLE ntf_p2;
SELECT is(mark_notifications_read(ARRAY(SELECT id FROM rebate.notification WHERE tenant_id = 983)), 1,
          'a user marks read what it sees');
RESET ROLE;
SELECT id AS p1_note FROM notification WHERE partner_id = 98311 AND event = 'statement_issued' \gset
SET ROLE ntf_p2;
SELECT is(mark_notifications_read(ARRAY[:p1_note, 999999999]::bigint[]), 0,
          'a sibling''s notification (or an unknown id) is left alone, like one that does not exist');
RESET ROLE;
SET ROLE ntf_other;
SELECT is(mark_notifications_read(ARRAY[:p1_note]::bigint[]), 0, 'so is another brand''s');
RESET ROLE;
SET ROLE ntf_mgr;
SELECT is(mark_notifications_read(ARRAY[:p1_note]::bigint[]), 0,
          'a manager reads it but does not mark it read for the partner');
RESET ROLE;
SELECT is((SELECT read_at IS NULL FROM notification WHERE id = :p1_note), true, 'it is still unread');
SET ROLE ntf_p1;
SELECT is(mark_notifications_read(ARRAY[:p1_note]::bigint[]), 1, 'its own user marks it read');
SELECT is(mark_notifications_read(ARRAY[:p1_note]::bigint[]), 0, 'once');
RESET ROLE;
SELECT is((SELECT read_by FROM notification WHERE id = :p1_note), 'ntf_p1'::name, 'recording who read it');
SET ROLE ntf_p1;
SELECT throws_ok($$UPDATE rebate.notification SET read_by = 'ntf_p2'$$, '42501', NULL, 'nobody writes the inbox directly');
RESET ROLE;

-- ---- channels ------------------------------------------------------------------------------
SET ROLE ntf_p1;
SELECT inbox_channel() AS ch_p1 \gset
RESET ROLE;
SET ROLE ntf_p2;
SELECT inbox_channel() AS ch_p2 \gset
RESET ROLE;
SET ROLE ntf_mgr;
SELECT inbox_channel() AS ch_mgr \gset
RESET ROLE;
SET ROLE ntf_other;
SELECT inbox_channel() AS ch_other \gset
RESET ROLE;
SELECT is((SELECT count(DISTINCT c)::int FROM unnest(ARRAY[:'ch_p1', :'ch_p2', :'ch_mgr', :'ch_other']) c
            WHERE c ~ '^rebate_inbox_[0-9a-f]{32}$'), 4, 'each audience has its own channel, named by a secret');
SELECT is(:'ch_p1', channel_of(983, 98311), 'the partner''s users listen where its notifications are announced');
SET ROLE ntf_loose;
SELECT throws_ok('SELECT inbox_channel()', '42501', 'role ntf_loose has no inbox', 'a role without a binding has no inbox');
RESET ROLE;
SET ROLE ntf_p1;
SELECT throws_ok('SELECT secret FROM rebate.inbox_secret', '42501', NULL, 'nobody reads the secret the names come from');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
