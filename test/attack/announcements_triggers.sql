-- tests: 21
-- Announcements, part 2 (included by test/pgtap/22_attack_triggers.sql): the
-- table whose BEFORE triggers guard and read (rebate.announcement:
-- check_announcement, the lifecycle, the attest stamps) and the two
-- SECURITY DEFINER trigger functions that publish price and program changes.
-- Targets naming another brand's regions, grades or partners end like ids
-- that do not exist; nothing is published into, or quoted from, another
-- brand; nobody attaches the publishing triggers to a table of its own.
\ir announcements_fixture.sql

-- ---- the announcement's own triggers ---------------------------------------------------
SELECT attack.like_missing('atk_mgr_a', 'rebate.announcement',
    $$INSERT INTO rebate.announcement (title, region_ids) VALUES ('x', '{940203}')$$,
    $$INSERT INTO rebate.announcement (title, region_ids) VALUES ('x', '{999999}')$$,
    'a target naming another brand''s region: like a region that does not exist');
SELECT attack.like_missing('atk_mgr_a', 'rebate.announcement',
    $$INSERT INTO rebate.announcement (title, grade_ids) VALUES ('x', '{940205}')$$,
    $$INSERT INTO rebate.announcement (title, grade_ids) VALUES ('x', '{999999}')$$,
    'a grade');
SELECT attack.like_missing('atk_mgr_a', 'rebate.announcement',
    $$UPDATE rebate.announcement SET partner_ids = '{940213}' WHERE id = 940123$$,
    $$UPDATE rebate.announcement SET partner_ids = '{999999}' WHERE id = 940123$$,
    'or a partner, set on its own draft');
SELECT attack.attempt('atk_mgr_a', 'rebate.announcement',
    $$INSERT INTO rebate.announcement (tenant_id, title, region_ids) VALUES (9402, 'x', '{940203}')$$,
    'a manager writes no announcement into another brand', '42501');
SELECT attack.like_missing('atk_mgr_a', 'rebate.announcement',
    $$UPDATE rebate.announcement SET body = 'x', region_ids = '{940101}' WHERE id = 940221$$,
    $$UPDATE rebate.announcement SET body = 'x', region_ids = '{940101}' WHERE id = 940999999$$,
    'nor changes one of another brand (published: its guard would tell it apart)');
SELECT attack.like_missing('atk_mgr_a', 'rebate.announcement',
    $$DELETE FROM rebate.announcement WHERE id = 940221$$, $$DELETE FROM rebate.announcement WHERE id = 940999999$$,
    'nor deletes one');
SELECT attack.attempt('atk_mgr_a', 'rebate.announcement',
    $$UPDATE rebate.announcement SET body = body || '!' WHERE id = 940121$$,
    'a published announcement''s content is fixed, also for its own manager', 'RB090');
SELECT attack.attempt('atk_mgr_a', 'rebate.announcement', $$DELETE FROM rebate.announcement WHERE id = 940121$$,
    'and it is withdrawn, not deleted', 'RB094');
SELECT attack.attempt('atk_mgr_a', 'rebate.announcement',
    $$UPDATE rebate.announcement SET status = 'published' WHERE id = 940123$$,
    'a draft is published by rebate.publish_announcement only (recipients resolved, partners notified)', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.announcement',
    $$UPDATE rebate.announcement SET published_by = 'atk_spare' WHERE id = 940121$$, 'who published is the server''s', '42501');
SELECT attack.attempt('atk_admin', 'rebate.announcement',
    $$UPDATE rebate.announcement SET published_at = now() - interval '1 year' WHERE id = 940121$$,
    'not even an administrator backdates a publication', '42501');
SELECT attack.attempt('atk_s1', 'rebate.announcement',
    $$INSERT INTO rebate.announcement (title) VALUES ('x')$$, 'a dealer writes no announcement', '42501');
SELECT attack.attempt('atk_d1', 'rebate.announcement',
    $$UPDATE rebate.announcement SET title = 'x' WHERE id = 940121$$, 'nor changes one it received', '42501');
SELECT attack.attempt('atk_s1', 'rebate.announcement_recipient',
    $$UPDATE rebate.announcement_recipient SET acknowledged_at = now(), acknowledged_by = 'atk_s1'
       WHERE announcement_id = 940122$$,
    'nobody writes a recipient row directly', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.announcement_rule',
    $$INSERT INTO rebate.announcement_rule (tenant_id, source) VALUES (9402, 'program')$$,
    'a manager sets no rule of another brand', '42501');

-- ---- the publishing triggers: nothing into another brand, attached to nothing else ----------
SELECT attack.attempt('atk_mgr_a', 'rebate.announce_price_changes()',
    $q$CREATE TEMP TABLE fake (id bigint, tenant_id bigint, grade_id bigint, region_id bigint, price numeric);
       CREATE TRIGGER x AFTER INSERT ON fake REFERENCING NEW TABLE AS new_rows
           FOR EACH STATEMENT EXECUTE FUNCTION rebate.announce_price_changes()$q$,
    'nobody attaches the price announcing trigger to a table of its own (it would publish as the owner)', '42501');
SELECT attack.attempt('atk_mgr_a', 'rebate.announce_program_activation()',
    $q$CREATE TEMP TABLE fake (id bigint, tenant_id bigint, program_id bigint, status text);
       CREATE TRIGGER x AFTER UPDATE ON fake REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
           FOR EACH STATEMENT EXECUTE FUNCTION rebate.announce_program_activation()$q$,
    'nor the program announcing one', '42501');
SELECT attack.attempt('atk_mgr_b', 'rebate.announce_price_changes()',
    $$UPDATE rebate.price_policy SET price = 1 WHERE id = 940141$$,
    'another brand''s manager changing the attackers'' price publishes nothing (it changes nothing)');
SELECT attack.attempt('atk_mgr_a>rebate_manager', 'rebate.announce_price_changes()',
    $$UPDATE rebate.price_policy SET price = 1 WHERE tenant_id = 9401$$, 'nor a manager acting through rebate_manager');
SELECT attack.attempt('atk_mgr_a', 'rebate.announce_program_activation()',
    $$UPDATE rebate.program_version SET status = 'retired' WHERE id = 940282$$,
    'a manager touches no program of another brand, and so publishes nothing there');
SELECT is((attack.run('atk_mgr_a', $q$DO $d$
              DECLARE a record;
              BEGIN
                  UPDATE rebate.price_policy SET price = 99 WHERE id = 940141;
                  SELECT * INTO a FROM rebate.announcement WHERE source = 'price_policy';
                  IF a.title IS DISTINCT FROM 'ZQXA调价Price change: ZQXASKU1 ZQXA产品一'
                     OR a.body NOT LIKE 'ZQXASKU1 ZQXA产品一: price 100 -> 99, floor 50, valid %'
                     OR a.published_by IS DISTINCT FROM 'atk_mgr_a'
                     OR (SELECT count(*) FROM rebate.announcement_recipient WHERE announcement_id = a.id) <> 4
                     OR (SELECT count(*) FROM rebate.notification WHERE subject_type = 'announcement'
                                                                    AND subject_id = a.id) <> 4 THEN
                      RAISE 'published %', to_jsonb(a);
                  END IF;
              END $d$$q$)).sqlstate,
          '00000', 'its own price change publishes to its own four partners, in its own words and with its name [atk_mgr_a]');
