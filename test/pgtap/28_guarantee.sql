-- A minimum guaranteed per period with the shortfall or the excess carried
-- forward (issue 15).  Worked by hand: P1's monthly rebate is 10% of net
-- sales, E = 60, 180, 70 in January, February and March; the minimum is 100.
--   none       pays max(E, 100):                                        100, 180, 100
--   shortfall  what the minimum paid beyond E is recovered from E above later minimums:
--              100 (40 to recover), max(100, 180 - 40) = 140 (0), max(100, 70) = 100 (30)
--   excess     E above the minimum counts toward later minimums:
--              100 (0 banked), 180 (80 banked), max(70, 100 - 80) = 70 (50 banked)
--   both       in all, the larger of the rebates so far and the minimums so far:
--              100 (-40), 140 (+40), 70 (+10): 310 = max(310, 300)
-- Then a return of January's 600 arrives in April: January earns 0 (still
-- paid 100).  shortfall: February max(100, 180 - 100) = 100, not 140 (-40),
-- March max(100, 70 - 20) = 100 as before.  both: February 100 + max(-100 +
-- 180 - 100, 0) = 100 (-40), March 100 + max(-20 + 70 - 100, 0) = 100, not 70
-- (+30).  excess: January banked nothing either way, so nothing changes.
BEGIN;
SET search_path = public, rebate;
SELECT plan(14);

INSERT INTO tenant (id, code, name) VALUES (965, 'GUA', '保底');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 965;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9650, 965, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit) VALUES
    (9651, 965, 'P1', '经销一', 'dealer', 9650, 'active', 100000000);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9652, 965, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES (9653, 965, 'X', '产品X', 9652, 100);
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (9654, 965, 'O1', 9651, 9650, '2026-01-10', 'approved'),
    (9655, 965, 'O2', 9651, 9650, '2026-02-10', 'approved'),
    (9656, 965, 'O3', 9651, 9650, '2026-03-10', 'approved');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES
    (965, 9654, 1, 9653, 6, 100), (965, 9655, 1, 9653, 18, 100), (965, 9656, 1, 9653, 7, 100);
INSERT INTO program (id, tenant_id, code, name) VALUES
    (9661, 965, 'G-NONE', '保底不结转'), (9662, 965, 'G-SHORT', '保底差额追回'), (9663, 965, 'G-EXCESS', '超额结转'),
    (9664, 965, 'G-BOTH', '累计保底');
INSERT INTO program_version (tenant_id, program_id, effective, period_unit, metric, kind, schedule, guarantee, guarantee_carry) VALUES
    (965, 9661, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:10%', 100, 'none'),
    (965, 9662, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:10%', 100, 'shortfall'),
    (965, 9663, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:10%', 100, 'excess'),
    (965, 9664, '[2026-01-01,)', 'month', 'net_sales', 'tiered', 'retroactive 0:10%', 100, 'both');
SELECT is((SELECT count(activate_program_version(id)) FROM program_version WHERE tenant_id = 965), 4::bigint, 'the four programs activate');

CREATE FUNCTION pg_temp.month_of(as_of date) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(format('%s %s %s', program_code, paid, coalesce(carry_forward::text, '-')), ', ' ORDER BY program_code)
      FROM rebate.progress(9651, as_of)
$$;
SELECT is(pg_temp.month_of('2026-01-31'), 'G-BOTH 100 -40, G-EXCESS 100 0, G-NONE 100 -, G-SHORT 100 -40', 'January');
SELECT is(pg_temp.month_of('2026-02-28'), 'G-BOTH 140 40, G-EXCESS 180 80, G-NONE 180 -, G-SHORT 140 0', 'February');
SELECT is(pg_temp.month_of('2026-03-31'), 'G-BOTH 70 10, G-EXCESS 70 50, G-NONE 100 -, G-SHORT 100 -30', 'March');
SELECT is((SELECT format('%s %s %s', rebate, guarantee, explanation) FROM progress(9651, '2026-03-31') WHERE program_code = 'G-SHORT'),
          '70 100 net_sales 700: tier 1 of {0} (retroactive, percent) at 0.1: 70; guaranteed minimum 100 (shortfall carried: 0 in, -30 on): pays 100',
          'the explanation says what the minimum paid and what it carries');

SELECT is((SELECT total FROM close_period(965, '[2026-01-01,2026-02-01)')), 400.00, 'January pays 4 x 100');
SELECT is(issue_statements(965, '[2026-01-01,2026-02-01)'), 1, 'and is issued');
SELECT is((SELECT total FROM close_period(965, '[2026-02-01,2026-03-01)')), 640.00, 'February: 180 + 140 + 180 + 140');
SELECT is(issue_statements(965, '[2026-02-01,2026-03-01)'), 1, 'and is issued');
SELECT is((SELECT total FROM close_period(965, '[2026-03-01,2026-04-01)')), 340.00, 'March: 100 + 100 + 70 + 70');
SELECT is(issue_statements(965, '[2026-03-01,2026-04-01)'), 1, 'and is issued');

INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status, kind, original_order_id) VALUES
    (9657, 965, 'R1', 9651, 9650, '2026-04-08', 'approved', 'return', 9654);
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES (965, 9657, 1, 9653, 6, 100);
SELECT is((SELECT total FROM close_period(965, '[2026-04-01,2026-05-01)')), 300.00,
          'April: its own minimums 100 + 100 + 50 (excess: 100 less the 50 banked) + 100, and the adjustments -40 - 40 + 30');
SELECT is((SELECT string_agg(format('%s %s %s', p.code, lower(l.program_period), l.net), '; ' ORDER BY p.code, l.program_period)
             FROM statement_line l JOIN statement s ON s.id = l.statement_id JOIN program p ON p.id = l.program_id
            WHERE s.tenant_id = 965 AND s.period = '[2026-04-01,2026-05-01)' AND l.line_kind = 'adjustment'),
          'G-BOTH 2026-02-01 -40.00; G-BOTH 2026-03-01 30.00; G-SHORT 2026-02-01 -40.00',
          'a late return of January''s sales reaches the later periods through what the minimum carries');
SELECT is((SELECT count(*) FROM verify_period(965, '[2026-04-01,2026-05-01)')), 0::bigint, 'verify_period agrees');
SELECT * FROM finish();
ROLLBACK;
