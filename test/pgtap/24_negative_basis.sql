-- A period whose returns outweigh its sales (issue 15, settlement bug 1): a
-- per-unit program pays nothing rather than a negative rebate, and a cascade
-- does not raise the basis of the programs after it.  Worked by hand:
--   January: 10 units of X for 1,000; an unreferenced return of 20 units of Y for 2,000.
--   PCT  per_unit 2% on Y, cascade group G, priority 1: basis -2,000 -> 0 (not -40)
--   UNIT per_unit 3 per unit of Y (no group):              basis -20 units -> 0 (not -60)
--   VOL  tiered retroactive 0:10% on X, group G, priority 2: 1,000 less 0 paid -> 100 (not 104)
BEGIN;
SET search_path = public, rebate;
SELECT plan(6);

INSERT INTO tenant (id, code, name) VALUES (961, 'NEG', '负基数');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 961;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9610, 961, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit) VALUES
    (9611, 961, 'P1', '经销一', 'dealer', 9610, 'active', 10000000);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9612, 961, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES
    (9613, 961, 'X', '产品X', 9612, 100), (9614, 961, 'Y', '产品Y', 9612, 100);
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status, kind) VALUES
    (9615, 961, 'O1', 9611, 9610, '2026-01-10', 'approved', 'order'),
    (9616, 961, 'R1', 9611, 9610, '2026-01-20', 'approved', 'return');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES
    (961, 9615, 1, 9613, 10, 100), (961, 9616, 1, 9614, 20, 100);

INSERT INTO program_group (id, tenant_id, code, name, rule) VALUES (9617, 961, 'G', '递减', 'cascade');
INSERT INTO program (id, tenant_id, code, name) VALUES
    (9618, 961, 'PCT', '单品比例'), (9619, 961, 'UNIT', '单品按件'), (9620, 961, 'VOL', '阶梯');
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, kind, unit_percent, product_ids, group_id, priority)
VALUES (961, 9618, '[2026-01-01,)', 'month', 'net_sales', 'per_unit', 2, '{9614}', 9617, 1);
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, kind, unit_amount, unit_size, product_ids)
VALUES (961, 9619, '[2026-01-01,)', 'month', 'quantity', 'per_unit', 3, 1, '{9614}');
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, kind, schedule, product_ids, group_id, priority)
VALUES (961, 9620, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:10%', '{9613}', 9617, 2);
SELECT is((SELECT count(activate_program_version(id)) FROM program_version WHERE tenant_id = 961), 3::bigint,
          'the three programs activate');

SELECT is((SELECT string_agg(format('%s %s', program_code, rebate), ', ' ORDER BY program_code)
             FROM progress(9611, '2026-01-31')),
          'PCT 0, UNIT 0, VOL 100', 'progress: per-unit programs pay nothing on a negative basis; the cascade is not raised');
SELECT ok((SELECT explanation FROM progress(9611, '2026-01-31') WHERE program_code = 'UNIT') LIKE '%returns outweigh sales: nothing is paid%',
          'the explanation says why nothing is paid');

SELECT is((SELECT count(*) FROM close_period(961, '[2026-01-01,2026-02-01)')), 1::bigint, 'January closes: one statement');
SELECT is((SELECT string_agg(format('%s %s', p.code, l.net), ', ' ORDER BY p.code)
             FROM statement_line l JOIN program p ON p.id = l.program_id WHERE l.tenant_id = 961),
          'PCT 0.00, UNIT 0.00, VOL 100.00', 'the statement pays the same');
SELECT is((SELECT count(*) FROM verify_period(961, '[2026-01-01,2026-02-01)')), 0::bigint,
          'verify_period agrees with the close');
SELECT * FROM finish();
ROLLBACK;
