-- A late document that makes a close recheck only some programs of a stacking
-- group (issue 15, settlement bug 2): the rechecked program is stacked with
-- the whole group, not as if it were alone.  Worked by hand:
--   cascade group G: VOL net_sales retroactive 0:10%, month, priority 1;
--                    CASH collected retroactive 0:1%, month, grace 10 days, priority 2.
--   January: an order of 1,000 (VOL 100), a payment of 5,000 on 01-20 (CASH (5,000 - 100) x 1% = 49).
--   A payment of 1,000 on 02-05 falls into January by CASH's grace days (not VOL's: it has none),
--   so closing February rechecks January for CASH: (6,000 - 100) x 1% - 49 = 10.00, not 11.00.
--   A later close that rechecks January for the whole group writes nothing more.
BEGIN;
SET search_path = public, rebate;
SELECT plan(11);

INSERT INTO tenant (id, code, name) VALUES (962, 'PRC', '部分复核');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 962;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9620, 962, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit) VALUES
    (9621, 962, 'P1', '经销一', 'dealer', 9620, 'active', 10000000);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9622, 962, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES (9623, 962, 'X', '产品X', 9622, 100);
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status, kind) VALUES
    (9625, 962, 'O1', 9621, 9620, '2026-01-10', 'approved', 'order');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES (962, 9625, 1, 9623, 10, 100);
INSERT INTO payment (tenant_id, code, partner_id, received_on, amount, currency) VALUES (962, 'PAY1', 9621, '2026-01-20', 5000, 'CNY');
INSERT INTO program_group (id, tenant_id, code, name, rule) VALUES (9627, 962, 'G', '递减', 'cascade');
INSERT INTO program (id, tenant_id, code, name) VALUES (9628, 962, 'VOL', '销售阶梯'), (9629, 962, 'CASH', '回款');
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, kind, schedule, group_id, priority)
VALUES (962, 9628, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:10%', 9627, 1);
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, kind, schedule, grace_days, group_id, priority)
VALUES (962, 9629, '[2026-01-01,)', 'month', 'collected', 'tiered', 'retroactive 0:1%', 10, 9627, 2);
SELECT is((SELECT count(activate_program_version(id)) FROM program_version WHERE tenant_id = 962), 2::bigint,
          'the two programs activate');
SELECT is((SELECT total FROM close_period(962, '[2026-01-01,2026-02-01)')), 149.00, 'January pays VOL 100 + CASH 49');
SELECT is(issue_statements(962, '[2026-01-01,2026-02-01)'), 1, 'January is issued');

INSERT INTO payment (tenant_id, code, partner_id, received_on, amount, currency) VALUES (962, 'PAY2', 9621, '2026-02-05', 1000, 'CNY');
SELECT is((SELECT rechecked FROM close_period(962, '[2026-02-01,2026-03-01)')), 2,
          'closing February rechecks January: CASH, which the payment reaches, and VOL, stacked with it');
SELECT is((SELECT string_agg(format('%s %s %s %s', p.code, l.line_kind, l.net, l.stacking), '; ' ORDER BY l.line_no)
             FROM statement_line l
             JOIN statement s ON s.id = l.statement_id JOIN program p ON p.id = l.program_id
            WHERE s.tenant_id = 962 AND s.period = '[2026-02-01,2026-03-01)' AND l.line_kind = 'adjustment'),
          'CASH adjustment 10.00 cascade in group G: rated on 5900, the basis 6000 less 100 paid by earlier programs',
          'closing February adjusts January''s CASH by 10.00, stacked below VOL''s 100');
SELECT is((SELECT count(*) FROM verify_period(962, '[2026-02-01,2026-03-01)')), 0::bigint, 'verify_period agrees');
-- the cross-check would have caught the old answer: the line as it was written before the fix
UPDATE statement_line SET gross = 60.00, net = 11.00
 WHERE tenant_id = 962 AND line_kind = 'adjustment' AND program_period = '[2026-01-01,2026-02-01)';
SELECT is((SELECT format('%s %s %s %s', problem, stored_net, verified_gross, verified_net)
             FROM verify_period(962, '[2026-02-01,2026-03-01)')),
          'differs 11.00 59.00 10.00', 'verify_period reports a CASH adjustment stacked as if alone');
SELECT is((SELECT total FROM close_period(962, '[2026-02-01,2026-03-01)')), 10.00, 'closing February again recomputes the draft');
SELECT is(issue_statements(962, '[2026-02-01,2026-03-01)'), 1, 'February is issued');

-- a change that reaches January for every program of the group (a draft order dated in January)
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status, kind) VALUES
    (9626, 962, 'O2', 9621, 9620, '2026-01-25', 'draft', 'order');
SELECT is((SELECT rechecked FROM close_period(962, '[2026-03-01,2026-04-01)')), 4,
          'closing March rechecks January and February for both programs');
SELECT is((SELECT count(*) FROM statement_line l JOIN statement s ON s.id = l.statement_id
            WHERE s.tenant_id = 962 AND s.period = '[2026-03-01,2026-04-01)' AND l.line_kind = 'adjustment'),
          0::bigint, 'and takes nothing back: January stays settled at VOL 100, CASH 59');
SELECT * FROM finish();
ROLLBACK;
