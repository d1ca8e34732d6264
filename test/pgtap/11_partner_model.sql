-- The channel data model: ICU name keys and duplicate refusal, hierarchy
-- paths and cycles, the partner lifecycle and its history, territories that
-- must not overlap, the region tree as one indexed predicate, inherited settings.
BEGIN;
SET search_path = public, rebate;
SELECT plan(39);

-- ICU normalization: full width, case, spaces, CJK punctuation
SELECT is(normalize_name('上海ＡＢＣ贸易 有限公司'), normalize_name('上海abc贸易有限公司'), 'full-width letters, case and spaces');
SELECT is(normalize_name('上海abc贸易有限公司'), '上海abc贸易有限公司', 'the key itself');
SELECT is(normalize_name('（上海）ＡＢＣ　贸易'), normalize_name('(上海)abc贸易'), 'full-width parentheses and ideographic space');
SELECT is(normalize_name('【华东】ABC・贸易'), normalize_name('(华东)abc·贸易'), 'CJK brackets and middle dots');
SELECT is(normalize_name(E'  ABC\tTrading\n Co. '), 'abctradingco.', 'Latin: case folded, all white space removed');
SELECT is(normalize_name('Ⅻ ① ﬁ'), normalize_name('xii 1 fi'), 'compatibility characters (roman numeral, circled digit, ligature)');
SELECT isnt(normalize_name('上海甲贸易'), normalize_name('上海乙贸易'), 'different companies stay different');

INSERT INTO tenant (id, code, name) VALUES (801, 'T1', '测试品牌'), (802, 'T2', '另一品牌');
INSERT INTO region (id, tenant_id, code, name, level, vat_rate, currency) VALUES
    (8100, 801, 'CN', '中国', 'country', 0.13, 'CNY');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (8110, 801, 'EAST', '华东', 'area', 8100),
    (8111, 801, 'SH', '上海', 'province', 8110),
    (8112, 801, 'JS', '江苏', 'province', 8110),
    (8113, 801, 'SZ', '苏州', 'city', 8112),
    (8120, 801, 'SOUTH', '华南', 'area', 8100),
    (8121, 801, 'GD', '广东', 'province', 8120);
UPDATE region SET vat_rate = 0.09 WHERE id = 8112;
INSERT INTO region (id, tenant_id, code, name, level, currency) VALUES (8200, 802, 'HK', '香港', 'custom', 'HKD');

-- the region tree
SELECT is((SELECT path FROM region WHERE id = 8113), ARRAY[8100, 8110, 8112, 8113]::bigint[], 'path from the root');
SELECT is((SELECT array_agg(code ORDER BY code) FROM region WHERE path @> ARRAY[8110::bigint]),
          ARRAY['EAST', 'JS', 'SH', 'SZ'], 'everything under 华东 is one predicate');
SET LOCAL enable_seqscan = off;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; result text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP result := result || line || E'\n'; END LOOP;
    RETURN result;
END $$;
SELECT matches(pg_temp.plan_of('SELECT * FROM rebate.region WHERE path @> ARRAY[8110::bigint]'),
               'Bitmap Index Scan on region_path_idx', 'and it uses the GIN index on path');
RESET enable_seqscan;
SELECT is((SELECT format('%s %s', vat_rate, currency) FROM region_settings WHERE code = 'SZ' AND tenant_id = 801),
          '0.0900 CNY', '苏州 inherits 江苏''s VAT rate and 中国''s currency');
SELECT is((SELECT format('%s %s', vat_rate, currency) FROM region_settings WHERE code = 'GD'),
          '0.1300 CNY', '广东 inherits from 中国');
SELECT is((SELECT format('%s %s', coalesce(vat_rate::text, '-'), currency) FROM region_settings WHERE code = 'HK'),
          '- HKD', 'a region''s own currency; no VAT rate anywhere above');
SELECT throws_ok($$UPDATE rebate.region SET parent_id = 8113 WHERE id = 8110$$, '22023',
                 'region 8110 cannot be placed under 8113: that would make a cycle', 'a cycle is refused');
SELECT throws_ok($$UPDATE rebate.region SET parent_id = 8200 WHERE id = 8121$$, '23503', NULL,
                 'a parent in another tenant is refused');
UPDATE region SET parent_id = 8120 WHERE id = 8112;    -- 江苏 moves to 华南, 苏州 follows
SELECT is((SELECT path FROM region WHERE id = 8113), ARRAY[8100, 8120, 8112, 8113]::bigint[], 'a move carries descendants along');

-- partners: grades, hierarchy, duplicate names
INSERT INTO partner_grade (tenant_id, code, name, rank) VALUES (801, 'A', '金牌', 1), (801, 'B', '银牌', 2), (801, 'C', '普通', 3);
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id) VALUES (8001, 801, 'P1', '上海ＡＢＣ贸易 有限公司', 'distributor', 8111);
INSERT INTO partner (id, tenant_id, code, name, parent_id) VALUES (8002, 801, 'P2', '苏州二代商贸', 8001), (8003, 801, 'P3', '无锡三代', 8002);
SELECT is((SELECT name_key FROM partner WHERE id = 8001), '上海abc贸易有限公司', 'the name key is stored');
SELECT throws_ok($$INSERT INTO rebate.partner (tenant_id, code, name) VALUES (801, 'P9', '上海abc贸易有限公司')$$,
                 '23505', 'partner "上海abc贸易有限公司" is already registered as P1 "上海ＡＢＣ贸易 有限公司"',
                 'a duplicate company is refused, naming the existing partner');
SELECT lives_ok($$INSERT INTO rebate.partner (tenant_id, code, name) VALUES (802, 'X1', '上海abc贸易有限公司')$$,
                'the same company may register with another brand');
SELECT throws_ok($$INSERT INTO rebate.partner (tenant_id, code, name) VALUES (801, 'P1', '另一家')$$, '23505', NULL,
                 'codes are unique per tenant');
SELECT is((SELECT path FROM partner WHERE id = 8003), ARRAY[8001, 8002, 8003]::bigint[], '总代 > 二代 > 三代');
SELECT throws_ok($$UPDATE rebate.partner SET parent_id = 8003 WHERE id = 8001$$, '22023', NULL, 'partner hierarchy cycles are refused');
SELECT throws_ok($$UPDATE rebate.partner SET parent_id = 8001 WHERE id = 8001$$, '22023', NULL, 'a partner is not its own parent');
SELECT throws_ok($$INSERT INTO rebate.partner (tenant_id, code, name, credit_limit) VALUES (801, 'P8', '负信用', -1)$$,
                 '23514', NULL, 'credit limits are not negative');

-- lifecycle: applicant -> active | rejected; active -> suspended; suspended -> active | exited
SELECT is((SELECT state FROM partner WHERE id = 8001), 'applicant', 'new partners are applicants by default');
SELECT lives_ok($$INSERT INTO rebate.partner (tenant_id, code, name, state) VALUES (801, 'P7', '存量经销商', 'active')$$,
                'existing partners can be imported in their current state');
SELECT throws_ok($$UPDATE rebate.partner SET state = 'exited' WHERE id = 8001$$,
                 'RB001', 'partner cannot go from state "applicant" to "exited"', 'an applicant cannot exit');
SELECT lives_ok($$SELECT rebate.set_partner_state(8001, 'active', '资质审核通过')$$, 'applicant -> active');
SELECT lives_ok($$SELECT rebate.set_partner_state(8001, 'suspended', '窜货调查')$$, 'active -> suspended');
SELECT lives_ok($$SELECT rebate.set_partner_state(8001, 'active', '调查结束')$$, 'suspended -> active');
SELECT throws_ok($$SELECT rebate.set_partner_state(8001, 'rejected', NULL)$$, 'RB001', NULL, 'active -> rejected is refused');
SELECT is((SELECT array_agg(coalesce(from_state, '-') || '>' || to_state || ':' || coalesce(reason, '-') ORDER BY id)
             FROM partner_state_history WHERE partner_id = 8001),
          ARRAY['->applicant:-', 'applicant>active:资质审核通过', 'active>suspended:窜货调查', 'suspended>active:调查结束'],
          'every state change is in the history, with why');
SELECT is((SELECT count(*)::int FROM partner_state_history WHERE partner_id = 8001 AND session_role = session_user),
          4, 'and who');
SELECT lives_ok($$SELECT rebate.set_partner_grade(8001, 'A', '年度评级升级')$$, 'grade upgrade');
SELECT is((SELECT format('%s>%s:%s', from_grade_id, g.code, reason) FROM partner_grade_history h
             JOIN partner_grade g ON g.id = h.to_grade_id WHERE h.partner_id = 8001),
          '>A:年度评级升级', 'grade changes are in their history (from no grade to A)');

-- territories: one authorisation per partner and region at a time
INSERT INTO partner_territory (tenant_id, partner_id, region_id, valid) VALUES (801, 8001, 8111, '[2026-01-01,2027-01-01)');
SELECT throws_ok($$INSERT INTO rebate.partner_territory (tenant_id, partner_id, region_id, valid)
                   VALUES (801, 8001, 8111, '[2026-06-01,2026-07-01)')$$,
                 '23P01', NULL, 'overlapping validity for the same partner and region is refused');
SELECT lives_ok($$INSERT INTO rebate.partner_territory (tenant_id, partner_id, region_id, valid)
                  VALUES (801, 8001, 8111, '[2027-01-01,2028-01-01)')$$, 'the next period is fine');

-- the state-machine trigger can also restrict the states rows start in
CREATE TEMP TABLE ticket (id int, state text);
CREATE TRIGGER lifecycle BEFORE INSERT OR UPDATE ON ticket
    FOR EACH ROW EXECUTE FUNCTION rebate.enforce_transition('state', '>new', 'new>done');
SELECT throws_ok($$INSERT INTO ticket VALUES (1, 'done')$$, 'RB001', 'a new ticket row cannot start in state "done"',
                 'initial states, when declared, are enforced');
INSERT INTO ticket VALUES (2, 'new');
SELECT throws_ok($$UPDATE ticket SET state = 'reopened'$$, 'RB001', 'ticket cannot go from state "new" to "reopened"',
                 'and so are transitions');

SELECT * FROM finish();
ROLLBACK;
