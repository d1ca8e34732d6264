-- Announcements in both fixture tenants (test/attack/fixture.sql must be
-- included first), alike, with ids b + 2x:
--   b+21  published to every partner, mandatory (read and acknowledged by S1)
--   b+22  published to S2 only, mandatory         (text ZQXS: hidden from S1)
--   b+23  a draft to everyone                     (text ZQXO: hidden from every partner user)
--   b+24  published to O only                      (text ZQXO: hidden from D and S1)
--   b+25  published to everyone, then withdrawn   (text ZQXO: hidden from every partner user)
-- and an active price_policy rule (a price change announces itself), a
-- program rule switched off.  In tenant B every text carries ZQXB.
CREATE FUNCTION attack.make_announcements(t bigint, m text, sibling text, outside text) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    b bigint := t * 100;
BEGIN
    INSERT INTO rebate.announcement_rule (id, tenant_id, source, active, mandatory, title_prefix) VALUES
        (b + 27, t, 'price_policy', true, false, m || '调价'), (b + 28, t, 'program', false, false, m || '返利');
    INSERT INTO rebate.announcement (id, tenant_id, title, body, mandatory, partner_ids) VALUES
        (b + 21, t, m || '全体公告', m || '正文', true, '{}'),
        (b + 22, t, sibling || '专属公告', sibling || '正文', true, ARRAY[b + 13]),
        (b + 23, t, outside || '草稿', outside || '正文', false, '{}'),
        (b + 24, t, outside || '外店公告', outside || '正文', false, ARRAY[b + 14]),
        (b + 25, t, outside || '撤回公告', outside || '正文', true, '{}');
    PERFORM rebate.publish_announcement(x) FROM unnest(ARRAY[b + 21, b + 22, b + 24, b + 25]) x;
    PERFORM rebate.withdraw_announcement(b + 25, outside || '撤回原因');
    -- S2 read its own (by a role of the test's choosing: S2 has no login role here)
    UPDATE rebate.announcement_recipient SET read_at = now(), read_by = 'atk_spare'
     WHERE tenant_id = t AND announcement_id = b + 22 AND partner_id = b + 13;
END
$$;
SELECT attack.make_announcements(9401, 'ZQXA', 'ZQXS', 'ZQXO');
SELECT attack.make_announcements(9402, 'ZQXB', 'ZQXB', 'ZQXB');
SET SESSION AUTHORIZATION atk_s1;
SELECT rebate.acknowledge_announcement(940121);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION atk_b_user;
SELECT rebate.acknowledge_announcement(940221);
RESET SESSION AUTHORIZATION;
