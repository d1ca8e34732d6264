-- Announcements (通知公告): targeting by region subtree, grade, kind and list
-- (all together, active partners only), publication that resolves the
-- recipients once and notifies each partner once, read and acknowledgement
-- tracking by the partner's own users (idempotent, never by a manager), the
-- managers' reach and pending reports, withdrawal, and the automatic
-- announcements of price-policy changes and program activations.
BEGIN;
SET search_path = public, rebate;
SELECT plan(73);

INSERT INTO tenant (id, code, name) VALUES (986, 'ANN', '公告品牌'), (987, 'ANO', '另一品牌'), (988, 'ANB', '大网络');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (98601, 986, 'CN', '中国', 'country', NULL), (98602, 986, 'E', '华东', 'area', 98601),
    (98603, 986, 'SH', '上海', 'city', 98602), (98604, 986, 'HZ', '杭州', 'city', 98602),
    (98605, 986, 'N', '华北', 'area', 98601), (98606, 986, 'BJ', '北京', 'city', 98605),
    (98701, 987, 'CN', '中国', 'country', NULL), (98801, 988, 'CN', '中国', 'country', NULL);
INSERT INTO partner_grade (id, tenant_id, code, name, rank) VALUES
    (98611, 986, 'G', '金牌', 1), (98612, 986, 'S', '银牌', 2);
INSERT INTO partner (id, tenant_id, code, name, kind, grade_id, home_region_id, parent_id, state) VALUES
    (98620, 986, 'D1', '华东总代', 'distributor', 98611, 98602, NULL, 'active'),
    (98621, 986, 'P1', '上海二代', 'dealer', 98612, 98603, 98620, 'active'),
    (98622, 986, 'P2', '杭州二代', 'dealer', 98611, 98604, 98620, 'active'),
    (98623, 986, 'P3', '北京经销', 'dealer', 98612, 98606, NULL, 'active'),
    (98624, 986, 'R1', '上海门店', 'retailer', 98612, 98603, NULL, 'active'),
    (98625, 986, 'X1', '停用经销', 'dealer', 98611, 98603, NULL, 'suspended'),
    (98626, 986, 'A1', '代理商', 'agent', NULL, NULL, NULL, 'active'),
    (98720, 987, 'Y1', '别家经销', 'dealer', NULL, 98701, NULL, 'active');
CREATE ROLE ann_mgr LOGIN; CREATE ROLE ann_d1 LOGIN; CREATE ROLE ann_p1 LOGIN; CREATE ROLE ann_p1b LOGIN;
CREATE ROLE ann_p2 LOGIN; CREATE ROLE ann_p3 LOGIN; CREATE ROLE ann_other LOGIN; CREATE ROLE ann_y1 LOGIN;
CREATE ROLE ann_loose LOGIN IN ROLE rebate_manager, rebate_partner;
SELECT grant_access('ann_mgr', 986), grant_access('ann_d1', 986, 98620), grant_access('ann_p1', 986, 98621),
       grant_access('ann_p1b', 986, 98621), grant_access('ann_p2', 986, 98622), grant_access('ann_p3', 986, 98623),
       grant_access('ann_other', 987), grant_access('ann_y1', 987, 98720);

-- the audience a draft would reach, as its manager sees it
CREATE FUNCTION pg_temp.reach(region_ids bigint[], grade_ids bigint[], kinds text[], partner_ids bigint[]) RETURNS text
    LANGUAGE sql AS $$
    SELECT coalesce(string_agg(p.code, ',' ORDER BY p.code), 'none')
      FROM rebate.audience_of(986, region_ids, grade_ids, kinds, partner_ids) x JOIN rebate.partner p ON p.id = x
$$;

-- ---- targeting ------------------------------------------------------------------------
SET ROLE ann_mgr;
SELECT is(pg_temp.reach('{}', '{}', '{}', '{}'), 'A1,D1,P1,P2,P3,R1', 'no target: every active partner (not the suspended one)');
SELECT is(pg_temp.reach('{98602}', '{}', '{}', '{}'), 'D1,P1,P2,R1',
          'a region reaches the partners whose home region lies in its subtree (Shanghai and Hangzhou under East)');
SELECT is(pg_temp.reach('{98603,98606}', '{}', '{}', '{}'), 'P1,P3,R1', 'several regions: any of them');
SELECT is(pg_temp.reach('{98601}', '{}', '{}', '{}'), 'D1,P1,P2,P3,R1', 'the root reaches all but a partner without a home region');
SELECT is(pg_temp.reach('{}', '{98611}', '{}', '{}'), 'D1,P2', 'a grade');
SELECT is(pg_temp.reach('{}', '{}', '{dealer}', '{}'), 'P1,P2,P3', 'a kind');
SELECT is(pg_temp.reach('{}', '{}', '{}', '{98621,98623,98625}'), 'P1,P3', 'a list (its suspended partner is not reached)');
SELECT is(pg_temp.reach('{98602}', '{98612}', '{dealer}', '{}'), 'P1', 'region, grade and kind together');
SELECT is(pg_temp.reach('{98602}', '{}', '{retailer,distributor}', '{98620,98623}'), 'D1',
          'region, kinds and list together');
SELECT is(pg_temp.reach('{98701}', '{}', '{}', '{}'), 'none', 'another tenant''s region reaches nobody');

INSERT INTO announcement (title, body, mandatory, region_ids, expires_on)
VALUES ('618 活动规则', '六月促销政策说明', true, '{98602}', CURRENT_DATE + 30);
SELECT id AS a_east FROM announcement WHERE title = '618 活动规则' \gset
SELECT is((SELECT format('%s %s %s %s', tenant_id, status, source, created_by) FROM announcement WHERE id = :a_east),
          '986 draft manual ann_mgr', 'a manager writes a draft in its tenant, stamped with its name');
SELECT is((SELECT string_agg(code, ',' ORDER BY code) FROM announcement_audience(:a_east)), 'D1,P1,P2,R1',
          'announcement_audience previews whom the draft reaches');
SELECT throws_ok($$INSERT INTO announcement (title, region_ids) VALUES ('x', '{98701}')$$, '23503',
                 'an announcement names region 98701, which is not of its tenant', 'targets name the tenant''s own regions');
SELECT throws_ok($$INSERT INTO announcement (title, partner_ids) VALUES ('x', '{98720}')$$, '23503',
                 'an announcement names partner 98720, which is not of its tenant', 'and its own partners');
SELECT throws_ok($$INSERT INTO announcement (title, kinds) VALUES ('x', '{wholesaler}')$$, '23514', NULL,
                 'kinds are partner kinds');
SELECT throws_ok($$INSERT INTO announcement (title, status) VALUES ('x', 'published')$$, '42501', NULL,
                 'nobody writes a status: an announcement starts as a draft');
SELECT throws_ok($$INSERT INTO announcement (title, source) VALUES ('x', 'price_policy')$$, '42501', NULL,
                 'nor its source');

-- ---- publishing ---------------------------------------------------------------------------
SELECT is((SELECT format('%s %s %s', status, published_by, published_at IS NOT NULL) FROM publish_announcement(:a_east)),
          'published ann_mgr t', 'publishing stamps who and when');
RESET ROLE;
SELECT is((SELECT string_agg(p.code, ',' ORDER BY p.code) FROM announcement_recipient r JOIN partner p ON p.id = r.partner_id
            WHERE r.announcement_id = :a_east), 'D1,P1,P2,R1', 'its recipients are resolved once, as previewed');
SELECT is((SELECT string_agg(format('%s:%s:%s', partner_id, coalesce(recipient, '-'), event), ',' ORDER BY partner_id)
             FROM notification WHERE subject_type = 'announcement' AND subject_id = :a_east),
          '98620:-:announcement_published,98621:-:announcement_published,98622:-:announcement_published,98624:-:announcement_published',
          'each recipient partner is notified once, all its users together');
SELECT is((SELECT title FROM notification WHERE subject_id = :a_east AND partner_id = 98621),
          format('announcement %s (acknowledge it): 618 活动规则', :a_east), 'the notice says it must be acknowledged');
SET ROLE ann_mgr;
SELECT throws_ok(format('SELECT publish_announcement(%s)', :a_east), 'RB091',
                 format('announcement %s is already published', :a_east), 'it is published once');
SELECT throws_ok(format($$UPDATE announcement SET status = 'withdrawn' WHERE id = %s$$, :a_east), '42501', NULL,
                 'a status changes only through the functions');
SELECT throws_ok(format($$UPDATE announcement SET body = '改了' WHERE id = %s$$, :a_east), 'RB090',
                 format('announcement %s is published and its content cannot change', :a_east),
                 'a published announcement''s content is fixed');
SELECT lives_ok(format($$UPDATE announcement SET expires_on = CURRENT_DATE + 60 WHERE id = %s$$, :a_east),
                'its expiry may change');
SELECT throws_ok(format($$DELETE FROM announcement WHERE id = %s$$, :a_east), 'RB094', NULL,
                 'a published announcement is not deleted');
INSERT INTO announcement (title, partner_ids) VALUES ('只给上海二代', '{98621}');
INSERT INTO announcement (title, kinds, partner_ids) VALUES ('无人可达', '{retailer}', '{98621}');
INSERT INTO announcement (title, expires_on) VALUES ('过期的', CURRENT_DATE - 1);
INSERT INTO announcement (title, body) VALUES ('草稿', '未发布');
SELECT id AS a_p1 FROM announcement WHERE title = '只给上海二代' \gset
SELECT id AS a_none FROM announcement WHERE title = '无人可达' \gset
SELECT id AS a_old FROM announcement WHERE title = '过期的' \gset
SELECT id AS a_draft FROM announcement WHERE title = '草稿' \gset
SELECT throws_ok(format('SELECT publish_announcement(%s)', :a_none), 'RB092',
                 format('announcement %s reaches no active partner', :a_none), 'an announcement that reaches nobody is refused');
SELECT throws_ok(format('SELECT publish_announcement(%s)', :a_old), 'RB093', NULL, 'so is one that has expired');
SELECT is((publish_announcement(:a_p1)).status, 'published', 'one for a single partner');
RESET ROLE;

-- ---- who sees what ------------------------------------------------------------------------
SET ROLE ann_p1;
SELECT is((SELECT string_agg(title, ',' ORDER BY id) FROM announcement), '618 活动规则,只给上海二代',
          'a dealer''s user reads the published announcements its partner received (no draft)');
SELECT is((SELECT count(*)::int FROM announcement_recipient WHERE partner_id <> 98621), 0, 'and its own recipient rows only');
SELECT throws_ok('SELECT region_ids FROM rebate.announcement', '42501', NULL, 'not the targets');
RESET ROLE;
SET ROLE ann_d1;
SELECT is((SELECT string_agg(title, ',' ORDER BY id) FROM announcement), '618 活动规则',
          'the distributor reads its own, not those of the dealers below it');
RESET ROLE;
SET ROLE ann_p3;
SELECT is((SELECT count(*)::int FROM announcement), 0, 'a dealer outside the region reads none');
SELECT throws_ok(format('SELECT read_announcement(%s)', :a_east), 'P0002',
                 format('announcement %s does not exist or is not visible to you', :a_east),
                 'and reading one not addressed to it is refused like one that does not exist');
SELECT throws_ok(format('SELECT read_announcement(%s)', :a_draft), 'P0002',
                 format('announcement %s does not exist or is not visible to you', :a_draft), 'so is reading a draft');
RESET ROLE;
SET ROLE ann_other;
SELECT is((SELECT count(*)::int FROM announcement) + (SELECT count(*)::int FROM announcement_recipient)
          + (SELECT count(*)::int FROM v_announcement_reach) + (SELECT count(*)::int FROM v_announcement_pending), 0,
          'another tenant''s manager sees no announcement, recipient or report row');
SELECT throws_ok(format('SELECT publish_announcement(%s)', :a_draft), 'P0002',
                 format('announcement %s does not exist or is not visible to you', :a_draft), 'and publishes none');
RESET ROLE;
SET ROLE ann_mgr;
SET ROLE rebate_manager;
SELECT throws_ok(format('SELECT publish_announcement(%s)', :a_draft), 'P0002', NULL,
                 'nor does a manager acting through rebate_manager');
RESET ROLE;

-- ---- reading and acknowledging ----------------------------------------------------------------
SET ROLE ann_p1;
SELECT is((SELECT format('%s %s %s', read_by, acknowledged_at IS NULL, partner_id) FROM read_announcement(:a_east)),
          'ann_p1 t 98621', 'a dealer''s user reads it: recorded for its partner, with its name');
RESET ROLE;
SELECT read_at AS first_read FROM announcement_recipient WHERE announcement_id = :a_east AND partner_id = 98621 \gset
SET ROLE ann_p1b;
SELECT is((SELECT format('%s %s', read_by, read_at = :'first_read') FROM read_announcement(:a_east)), 'ann_p1 t',
          'reading again (another user of the partner) changes nothing');
SELECT is((SELECT format('%s %s', read_by, acknowledged_by) FROM acknowledge_announcement(:a_east)), 'ann_p1 ann_p1b',
          'acknowledging records who acknowledged');
SELECT is((SELECT acknowledged_by FROM acknowledge_announcement(:a_east)), 'ann_p1b'::name, 'once');
RESET ROLE;
SET ROLE ann_p2;
SELECT is((SELECT format('%s %s', read_by, acknowledged_by) FROM acknowledge_announcement(:a_east)), 'ann_p2 ann_p2',
          'acknowledging reads it too');
SELECT throws_ok(format('SELECT acknowledge_announcement(%s)', :a_p1), 'P0002',
                 format('announcement %s does not exist or is not visible to you', :a_p1),
                 'a sibling dealer cannot acknowledge what was addressed to another partner');
RESET ROLE;
SELECT is((SELECT string_agg(partner_id || ':' || read_by, ',' ORDER BY partner_id) FROM notification
            WHERE subject_id = :a_east AND subject_type = 'announcement' AND read_at IS NOT NULL),
          '98621:ann_p1,98622:ann_p2', 'the partners'' notifications of it are marked read by the reading');
SET ROLE ann_mgr;
SELECT throws_ok(format('SELECT read_announcement(%s)', :a_east), '42501', NULL, 'a manager does not mark for a partner');
SELECT throws_ok(format('SELECT acknowledge_announcement(%s)', :a_east), '42501', NULL, 'nor acknowledge');
SELECT is((SELECT format('%s/%s/%s/%s/%s/%s', recipients, read, acknowledged, unread, unacknowledged, read_percent)
             FROM v_announcement_reach WHERE announcement_id = :a_east),
          '4/2/2/2/2/50.0', 'the reach: four partners, two read and acknowledged');
SELECT is((SELECT string_agg(format('%s %s %s %s', partner_code, partner_name, read, days_since_published), ', '
                             ORDER BY partner_code)
             FROM v_announcement_pending WHERE announcement_id = :a_east),
          'D1 华东总代 f 0, R1 上海门店 f 0', 'who has not acknowledged the mandatory one');
SELECT is(remind_announcement(:a_east), 2, 'reminding notifies those two again');
SELECT is((SELECT count(*)::int FROM v_announcement_pending WHERE announcement_id = :a_p1), 0,
          'an announcement that is not mandatory is not pending');
RESET ROLE;
SET ROLE ann_loose;
SELECT throws_ok(format('SELECT read_announcement(%s)', :a_east), '42501',
                 'only a partner''s users read and acknowledge announcements', 'a role without a binding marks nothing');
RESET ROLE;

-- ---- withdrawing -----------------------------------------------------------------------------
SET ROLE ann_mgr;
SELECT is((SELECT format('%s %s %s', status, withdrawn_by, withdraw_reason) FROM withdraw_announcement(:a_east, '规则有误')),
          'withdrawn ann_mgr 规则有误', 'a manager withdraws it, with a reason');
SELECT throws_ok(format('SELECT withdraw_announcement(%s)', :a_east), 'RB091', NULL, 'once');
RESET ROLE;
SET ROLE ann_p2;
SELECT is((SELECT count(*)::int FROM announcement WHERE id = :a_east) + (SELECT count(*)::int FROM v_my_announcements
                                                                          WHERE announcement_id = :a_east),
          0, 'withdrawn, it is hidden from its recipients');
SELECT throws_ok(format('SELECT read_announcement(%s)', :a_east), 'P0002', NULL, 'and reading it is refused as if it did not exist');
RESET ROLE;
SELECT is((SELECT string_agg(partner_id::text, ',' ORDER BY partner_id) FROM notification
            WHERE subject_id = :a_east AND subject_type = 'announcement'),
          '98621,98622', 'its unread notifications left the inboxes, the read ones stay');
SET ROLE ann_mgr;
SELECT is((SELECT format('%s/%s', recipients, acknowledged) FROM v_announcement_reach WHERE announcement_id = :a_east),
          '4/2', 'its managers still see whom it reached');
RESET ROLE;

-- ---- automatic announcements ------------------------------------------------------------------
SET ROLE ann_mgr;
INSERT INTO product_category (code, name) VALUES ('ALL', '全部');
INSERT INTO product (sku, name, category_id, list_price)
SELECT s, n, (SELECT id FROM product_category WHERE code = 'ALL' AND tenant_id = 986), 100
  FROM (VALUES ('K1', '空调一号'), ('K2', '空调二号'), ('K3', '空调三号')) v (s, n);
INSERT INTO price_policy (code, product_id, price, floor_price, valid)
SELECT 'PP-' || sku, id, 100, 80, daterange(CURRENT_DATE, NULL) FROM product WHERE tenant_id = 986;
SELECT is((SELECT count(*)::int FROM announcement WHERE source <> 'manual'), 0, 'without a rule, prices announce nothing');
INSERT INTO announcement_rule (source, mandatory, title_prefix, valid_days) VALUES ('price_policy', true, '【调价】', 30);
UPDATE price_policy SET price = 95 WHERE code = 'PP-K1';
SELECT is((SELECT format('%s|%s|%s|%s|%s', title, body, mandatory, status, expires_on - CURRENT_DATE)
             FROM announcement WHERE source = 'price_policy'),
          format('【调价】Price change: K1 空调一号|K1 空调一号: price 100 -> 95, floor 80, valid [%s,)|t|published|30',
                 CURRENT_DATE),
          'with it, a price change publishes an announcement naming the product, the new price and the floor');
SELECT is((SELECT count(*)::int FROM announcement_recipient r JOIN announcement a ON a.id = r.announcement_id
            WHERE a.source = 'price_policy'), 6, 'to every active partner, for a base price');
UPDATE price_policy SET price = 90, floor_price = 75 WHERE tenant_id = 986;
SELECT is((SELECT format('%s: %s', title, replace(body, E'\n', '; ')) FROM announcement WHERE source = 'price_policy'
            ORDER BY id DESC LIMIT 1),
          format('【调价】Price changes: 3 policies: K1 空调一号: price 95 -> 90, floor 75, valid [%1$s,); K2 空调二号: price 100 -> 90, floor 75, valid [%1$s,); K3 空调三号: price 100 -> 90, floor 75, valid [%1$s,)',
                 CURRENT_DATE),
          'a bulk update publishes one announcement for all the policies it changed');
SELECT is((SELECT count(*)::int FROM notification n JOIN announcement a ON a.id = n.subject_id
            WHERE n.subject_type = 'announcement' AND a.source = 'price_policy'), 12,
          'each partner is notified once per announcement');
UPDATE price_policy SET name = '改名' WHERE tenant_id = 986;
SELECT is((SELECT count(*)::int FROM announcement WHERE source = 'price_policy'), 2, 'a change that is not a price announces nothing');
INSERT INTO price_policy (code, product_id, grade_id, price, floor_price, valid)
SELECT 'PP-G-' || sku, id, 98611, 85, 70, daterange(CURRENT_DATE, NULL) FROM product WHERE sku = 'K2' AND tenant_id = 986;
SELECT is((SELECT string_agg(p.code, ',' ORDER BY p.code) FROM announcement a
             JOIN announcement_recipient r ON r.announcement_id = a.id JOIN partner p ON p.id = r.partner_id
            WHERE a.id = (SELECT max(id) FROM announcement WHERE source = 'price_policy')),
          'D1,P2', 'a grade''s price reaches the partners of that grade');
UPDATE announcement_rule SET active = false WHERE source = 'price_policy';
UPDATE price_policy SET price = 88 WHERE tenant_id = 986;
SELECT is((SELECT count(*)::int FROM announcement WHERE source = 'price_policy'), 3, 'a rule switched off announces nothing');

INSERT INTO program (code, name) VALUES ('PRG-Q', '季度返利');
INSERT INTO program_version (program_id, effective, metric, kind, schedule, period_unit, partner_ids)
SELECT id, daterange(date_trunc('quarter', CURRENT_DATE)::date, NULL), 'net_sales', 'tiered', 'retroactive 0:2%', 'quarter',
       '{98621,98622}'
  FROM program WHERE code = 'PRG-Q';
SELECT activate_program_version((SELECT max(id) FROM program_version WHERE tenant_id = 986));
SELECT is((SELECT count(*)::int FROM announcement WHERE source = 'program'), 0, 'without a rule, an activation announces nothing');
INSERT INTO announcement_rule (source, title_prefix) VALUES ('program', '【返利政策】');
SELECT revise_program((SELECT id FROM program WHERE code = 'PRG-Q'), '{"schedule": "retroactive 0:3%"}',
                      (date_trunc('quarter', CURRENT_DATE) + interval '3 months')::date);
SELECT activate_program_version((SELECT max(id) FROM program_version WHERE tenant_id = 986));
SELECT is((SELECT format('%s|%s|%s|%s', title, split_part(body, E'\n', 1), partner_ids, mandatory)
             FROM announcement WHERE source = 'program'),
          format('【返利政策】Rebate program PRG-Q version 2 in force from %1$s|PRG-Q (季度返利), version 2, governs [%1$s,).|{98621,98622}|f',
                 (date_trunc('quarter', CURRENT_DATE) + interval '3 months')::date),
          'with one, a version becoming active publishes an announcement of the program, version and period');
SELECT is((SELECT string_agg(r.partner_id::text, ',' ORDER BY r.partner_id) FROM announcement_recipient r
             JOIN announcement a ON a.id = r.announcement_id WHERE a.source = 'program'),
          '98621,98622', 'to the partners of the version''s scope');
RESET ROLE;
SET ROLE ann_p1;
SELECT is((SELECT string_agg(source || ':' || needs_action, ',' ORDER BY announcement_id) FROM v_my_announcements),
          'manual:true,price_policy:true,price_policy:true,program:true', 'a dealer''s portal lists what it received, and what still needs it');
RESET ROLE;

-- ---- a network of a few thousand partners ------------------------------------------------------
INSERT INTO partner (tenant_id, code, name, kind, home_region_id, state)
SELECT 988, 'N' || i, '经销商' || i, 'dealer', 98801, 'active' FROM generate_series(1, 3000) i;
INSERT INTO announcement (id, tenant_id, title, mandatory) VALUES (98890, 988, '全网通知', true);
SELECT is((publish_announcement(98890)).status, 'published', 'an announcement to 3000 partners is published');
SELECT is((SELECT format('%s %s', (SELECT count(*) FROM announcement_recipient WHERE announcement_id = 98890),
                         (SELECT count(*) FROM notification WHERE subject_type = 'announcement' AND subject_id = 98890))),
          '3000 3000', 'with a recipient row and a notification for each of them');

SELECT * FROM finish();
ROLLBACK;
