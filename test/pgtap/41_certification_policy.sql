-- The order-line policy honours product certification (issue 17): a line of
-- a product that requires certificates (on itself or a category above it,
-- rebate.certification_requirement) is judged by the partner's valid
-- certificates on the order date, in the tenant's certification mode
-- (reject: RB026; review: a violation and the order held; allow: nothing).
-- The C trigger caches which products require certificates; a new
-- requirement takes effect on the next line.
BEGIN;
SET search_path = public, rebate;
SELECT plan(15);

INSERT INTO tenant (id, code, name) VALUES (998, 'CPL', '认证政策');
UPDATE enforcement_setting SET credit = 'allow' WHERE tenant_id = 998;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (99801, 998, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, home_region_id, state) VALUES
    (99811, 998, 'P1', '认证店', 99801, 'active'), (99812, 998, 'P2', '未认证店', 99801, 'active');
INSERT INTO partner_territory (tenant_id, partner_id, region_id, valid)
SELECT 998, p, 99801, '[2000-01-01,)' FROM unnest(ARRAY[99811, 99812]) p;
INSERT INTO product_category (id, tenant_id, code, name) VALUES (99820, 998, 'ALL', '全部');
INSERT INTO product_category (id, tenant_id, code, name, parent_id) VALUES (99821, 998, 'VRF', '多联机', 99820);
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES
    (99831, 998, 'VRF-10', '多联机10匹', 99821, 100), (99832, 998, 'FAN-1', '风扇', 99820, 100);
INSERT INTO certification (id, tenant_id, code, name, validity_months) VALUES (99840, 998, 'INST', '安装认证', 12);
INSERT INTO certificate (tenant_id, partner_id, certification_id, holder_name, issued_on)
VALUES (998, 99811, 99840, '张三', CURRENT_DATE - 100);

CREATE FUNCTION pg_temp.order_of(code text, partner bigint, on_date date) RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date, status)
    VALUES (998, code, partner, 99801, on_date, 'draft') RETURNING id
$$;
CREATE FUNCTION pg_temp.line(order_id bigint, product bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
    VALUES (998, order_id, (SELECT coalesce(max(line_no), 0) + 1 FROM rebate.order_line l WHERE l.order_id = line.order_id),
            product, 1, 100);
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
CREATE FUNCTION pg_temp.refusal_detail(order_id bigint, OUT detail text) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
    VALUES (998, order_id, 99, 99831, 1, 100);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
END
$$;
SELECT pg_temp.order_of('O1', 99812, CURRENT_DATE) AS o1 \gset
SELECT pg_temp.order_of('O2', 99811, CURRENT_DATE) AS o2 \gset

SELECT is(pg_temp.line(:o1, 99831), 'accepted', 'without a requirement, any partner sells the product');
-- the category VRF requires one installer from today on
INSERT INTO certification_requirement (tenant_id, certification_id, category_id, valid)
VALUES (998, 99840, 99821, daterange(CURRENT_DATE - 30, NULL));
SELECT is(pg_temp.line(:o1, 99831),
          format('RB026 partner "P2" (未认证店) is not certified to sell product "VRF-10" (多联机10匹) on %s', CURRENT_DATE),
          'the requirement takes effect on the next line: an uncertified partner is refused');
SELECT is((SELECT count(*)::int FROM order_line WHERE order_id = :o1), 1, 'and the line is not written');
SELECT is(pg_temp.line(:o1, 99832), 'accepted', 'a product outside the category is not concerned');
SELECT is(pg_temp.line(:o2, 99831), 'accepted', 'a partner with a valid certificate sells it');

-- the certificate's validity decides by the order date
SELECT pg_temp.order_of('O3', 99811, CURRENT_DATE + 300) AS o3 \gset
SELECT is(left(pg_temp.line(:o3, 99831), 5), 'RB026', 'after the certificate expires (12 months from its issue), it no longer authorises');
SELECT pg_temp.order_of('O4', 99811, CURRENT_DATE - 150) AS o4 \gset
SELECT is(pg_temp.line(:o4, 99831), 'accepted', 'before the requirement began, nothing was required');
SELECT pg_temp.order_of('O5', 99811, CURRENT_DATE - 20) AS o5 \gset
UPDATE certificate SET status = 'revoked', revoke_reason = '离职' WHERE partner_id = 99811;
SELECT is(left(pg_temp.line(:o5, 99831), 5), 'RB026', 'a revoked certificate authorises nothing');

-- two holders required: the detail says how many it has
UPDATE certification_requirement SET min_holders = 2 WHERE tenant_id = 998;
INSERT INTO certificate (tenant_id, partner_id, certification_id, holder_name, issued_on)
VALUES (998, 99811, 99840, '李四', CURRENT_DATE - 30);
SELECT throws_ok(format($$INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
                          VALUES (998, %s, 9, 99831, 1, 100)$$, :o5), 'RB026',
                 format('partner "P1" (认证店) is not certified to sell product "VRF-10" (多联机10匹) on %s', CURRENT_DATE - 20),
                 'two installers required, one held: refused');
SELECT is((SELECT detail FROM pg_temp.refusal_detail(:o5)), 'It lacks valid certificates: INST (1 of 2 holders).',
          'the detail says which certification and how many holders it has');

-- review: recorded, and the order held once submitted
UPDATE enforcement_setting SET certification = 'review' WHERE tenant_id = 998;
UPDATE sales_order SET status = 'submitted' WHERE id = :o5;
SELECT is(pg_temp.line(:o5, 99831), 'accepted', 'in review mode the line is written');
SELECT is((SELECT format('%s %s %s', v.kind, v.status, o.status) FROM policy_violation v JOIN sales_order o ON o.id = v.order_id
            WHERE v.order_id = :o5), 'certification open on_hold', 'as a certification violation, the order held');
SELECT is((SELECT status FROM resolve_violation((SELECT id FROM policy_violation WHERE order_id = :o5), 'reject', '无资质')),
          'rejected', 'rejecting it');
SELECT is((SELECT count(*)::int FROM order_line WHERE order_id = :o5), 0, 'deletes the line (a line-level breach)');

-- ---- differential: the C trigger's cached judgement against rebate.missing_certifications ----
-- random requirements (products and categories, holders, validity) and
-- certificates (holders written alike, issue and expiry days, revoked ones),
-- then random sales: a line is refused exactly when the SQL function names
-- what is missing, and the refusal's detail names the same
UPDATE enforcement_setting SET certification = 'reject' WHERE tenant_id = 998;
DELETE FROM certification_requirement WHERE tenant_id = 998;
SELECT setseed(0.417);
INSERT INTO certification (id, tenant_id, code, name) VALUES (99841, 998, 'SVC', '服务'), (99842, 998, 'SAFE', '安全');
INSERT INTO certification_requirement (tenant_id, certification_id, product_id, category_id, min_holders, valid)
VALUES (998, 99840, 99831, NULL, 2, daterange(CURRENT_DATE - 60, CURRENT_DATE + 60)),
       (998, 99840, NULL, 99821, 1, daterange(CURRENT_DATE - 200, NULL)),
       (998, 99841, NULL, 99820, 1, daterange(CURRENT_DATE - 30, CURRENT_DATE + 30)),
       (998, 99842, 99832, NULL, 3, daterange(NULL, CURRENT_DATE + 10));
INSERT INTO certificate (tenant_id, partner_id, certification_id, holder_name, issued_on, expires_on, status, revoke_reason)
SELECT 998, (ARRAY[99811, 99812])[1 + floor(random() * 2)::int], (ARRAY[99840, 99841, 99842])[1 + floor(random() * 3)::int],
       (ARRAY['王五', ' 王五', '赵六', 'Zhao Liu', 'zhao liu ', '钱七'])[1 + floor(random() * 6)::int],
       CURRENT_DATE - (random() * 300)::int, NULL, 'valid', NULL
  FROM generate_series(1, 40);
UPDATE certificate SET expires_on = issued_on + (random() * 200)::int WHERE tenant_id = 998 AND random() < 0.5;
UPDATE certificate SET status = 'revoked', revoke_reason = '抽查' WHERE tenant_id = 998 AND status = 'valid' AND random() < 0.15;
CREATE FUNCTION pg_temp.disagreements(n integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    partner bigint; product bigint; day date; expected text; got text; bad integer := 0; refused integer := 0; first_bad text;
BEGIN
    FOR i IN 1 .. n LOOP
        partner := (ARRAY[99811, 99812])[1 + floor(random() * 2)::int];
        product := (ARRAY[99831, 99832])[1 + floor(random() * 2)::int];
        day := CURRENT_DATE - 250 + (random() * 330)::int;
        SELECT 'It lacks valid certificates: ' || string_agg(format('%s (%s of %s holders)', m.certification_code, m.holders,
                                                                  m.min_holders), ', ' ORDER BY m.certification_code) || '.'
          INTO expected FROM rebate.missing_certifications(partner, product, day) m;
        BEGIN
            INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date, status)
            VALUES (998, 'DIFF' || i, partner, 99801, day, 'draft');
            INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
            SELECT 998, o.id, 1, product, 1, 100 FROM rebate.sales_order o WHERE o.code = 'DIFF' || i;
            got := NULL;
            RAISE SQLSTATE 'ZZ998';
        EXCEPTION WHEN SQLSTATE 'ZZ998' THEN
            NULL;
        WHEN SQLSTATE 'RB026' THEN
            GET STACKED DIAGNOSTICS got = PG_EXCEPTION_DETAIL;
            refused := refused + 1;
        END;
        IF got IS DISTINCT FROM expected THEN
            bad := bad + 1;
            first_bad := coalesce(first_bad, format('%s %s %s: C %s, SQL %s', partner, product, day, got, expected));
        END IF;
    END LOOP;
    RETURN format('%s disagreements in %s sales (%s refused)%s', bad, n, refused, coalesce(': ' || first_bad, ''));
END
$$;
SELECT matches(pg_temp.disagreements(400), '^0 disagreements in 400 sales \(([1-9][0-9]*) refused\)$',
               'on 400 random sales the C trigger refuses exactly what missing_certifications names, with its detail');

SELECT * FROM finish();
ROLLBACK;
