-- The demo: load the sample channel (two brands, real regions, ~50 partners,
-- 30 products, a year of orders) and run a quarter's rebates on it.
\pset null '-'
\set ON_ERROR_STOP on
\i sample/sample_data.sql
\echo
\echo 'Sample data loaded (rebate_sample.generate, seed 0.2026):'
SELECT * FROM rebate_sample.generate();

\echo
\echo 'Q3 2026 volume rebates of 华光电器 (HUAGUANG), retroactive 1% / 2% from 1,000,000 / 3% from 1,500,000, capped at 50,000;'
\echo 'returns reduce the basis; each rebate is rounded once, to the fen:'
SELECT p.code AS partner,
       p.name,
       g.code AS grade,
       sum(f.amount)                                                       AS net_sales,
       rebate.tier_index(sum(f.amount), s.schedule)                        AS tier,
       rebate.next_tier_gap(sum(f.amount), s.schedule)                     AS to_next_tier,
       rebate.round_money(rebate.tiered_sum(f.amount, s.schedule), 'CNY')  AS rebate_cny,
       round(rebate.effective_rate(sum(f.amount), s.schedule) * 100, 2)    AS "rate_%"
  FROM rebate.sales_fact f
  JOIN rebate.partner p ON p.id = f.partner_id
  JOIN rebate.tenant t ON t.id = f.tenant_id AND t.code = 'HUAGUANG'
  LEFT JOIN rebate.partner_grade g ON g.id = p.grade_id
 CROSS JOIN (SELECT 'retroactive 0:1%, 1000000:2%, 1500000:3% cap 50000'::rebate.tier_schedule AS schedule) s
 WHERE f.order_date >= date '2026-07-01' AND f.order_date < date '2026-10-01'
 GROUP BY p.code, p.name, g.code, s.schedule
 ORDER BY net_sales DESC
 LIMIT 12;

\echo
\echo 'Q3 2026 overachievement bonus against each 总代''s quarterly target (above 100% pays 3%, above 120% pays 5%, on the excess):'
SELECT p.code AS partner,
       tg.value AS target,
       sum(f.amount) AS actual,
       round(sum(f.amount) / tg.value * 100, 1) AS "achieved_%",
       rebate.round_money(rebate.overachievement_rebate(sum(f.amount), tg.value,
                          'incremental 1.0:3%, 1.2:5%', apply_to => 'excess')) AS bonus_cny
  FROM rebate.sales_fact f
  JOIN rebate.partner p ON p.id = f.partner_id AND p.kind = 'distributor'
  JOIN rebate.target tg ON tg.partner_id = p.id AND tg.metric = 'net_sales' AND tg.period @> date '2026-07-01'
 WHERE f.order_date >= date '2026-07-01' AND f.order_date < date '2026-10-01'
 GROUP BY p.code, tg.value
 ORDER BY p.code;

\echo
\echo 'Channel policy at work (C triggers on every write). A 华光 dealer orders air conditioners for December 2026:'
SELECT p.id AS dealer, p.code AS dealer_code, p.home_region_id AS home, pr.id AS product, pr.sku, pr.list_price,
       (SELECT r.id FROM rebate.region r WHERE r.tenant_id = p.tenant_id AND r.level = 'area'
           AND NOT rebate.in_territory(p.id, r.id, date '2026-12-10') ORDER BY r.id LIMIT 1) AS elsewhere
  FROM rebate.partner p
  JOIN rebate.product pr ON pr.tenant_id = p.tenant_id AND pr.sku = 'HU-C1-02'
 WHERE p.code = 'HUAGUANG-P00001' \gset
INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date)
SELECT tenant_id, 'DEMO-1', id, home_region_id, date '2026-12-10' FROM rebate.partner WHERE id = :dealer;
\set ON_ERROR_STOP off
\echo
\echo '1. A line at 60% of the list price, below the 80% floor of the base policy: refused.'
INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
SELECT o.tenant_id, o.id, 1, :product, 5, :list_price * 0.6 FROM rebate.sales_order o WHERE o.code = 'DEMO-1';
\echo
\echo '2. An order shipped into another 大区, outside the dealer''s territory (窜货): refused.'
INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date)
SELECT tenant_id, 'DEMO-2', id, :elsewhere, date '2026-12-10' FROM rebate.partner WHERE id = :dealer;
\set ON_ERROR_STOP on
\echo
\echo '3. The brand puts its base policy under review: the same line is accepted, recorded, and the order held once submitted.'
UPDATE rebate.price_policy SET enforcement = 'review'
 WHERE code = 'BASE' AND tenant_id = (SELECT tenant_id FROM rebate.partner WHERE id = :dealer);
INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
SELECT o.tenant_id, o.id, 1, :product, 5, :list_price * 0.6 FROM rebate.sales_order o WHERE o.code = 'DEMO-1';
UPDATE rebate.sales_order SET status = 'submitted' WHERE code = 'DEMO-1';
SELECT v.order_code, o.status, v.kind, v.sku, v.unit_price, v.limit_price AS floor, v.amount_gap, v.policy_code
  FROM rebate.v_price_violations v JOIN rebate.sales_order o ON o.id = v.order_id
 WHERE v.order_code = 'DEMO-1';
\echo
\echo 'Credit exposure of the dealer (receivable = shipped − returns − payments; negative = paid in advance):'
SELECT * FROM rebate.credit_exposure(:dealer, (SELECT id FROM rebate.sales_order WHERE code = 'DEMO-1'));

\echo
\echo 'Rebate programs (rebate_sample.programs): five per brand, defined once as data, stacked by group rules:'
SELECT tenant, program, metric, kind, period_unit, coalesce(stacking, '-') AS stacking
  FROM rebate_sample.programs() WHERE tenant = 'HUAGUANG';

\echo
\echo 'Real-time progress of one 华光 dealer on 2026-09-15 (what its portal shows the moment an order commits):'
SELECT program_code AS program, component, basis, tier, rate, paid AS rebate_so_far, next_tier_gap, next_tier_rebate
  FROM rebate.progress((SELECT id FROM rebate.partner WHERE code = 'HUAGUANG-P00001'), '2026-09-15');

\echo
\echo 'Closing the third quarter of 华光 month by month, issuing each month (rebate.close_period, rebate.issue_statements):'
SELECT id AS huaguang FROM rebate.tenant WHERE code = 'HUAGUANG' \gset
SELECT 'July' AS month, * FROM rebate.close_period(:huaguang, '[2026-07-01,2026-08-01)');
SELECT rebate.issue_statements(:huaguang, '[2026-07-01,2026-08-01)') AS issued;
SELECT 'August' AS month, * FROM rebate.close_period(:huaguang, '[2026-08-01,2026-09-01)');
SELECT rebate.issue_statements(:huaguang, '[2026-08-01,2026-09-01)') AS issued;
SELECT 'September' AS month, * FROM rebate.close_period(:huaguang, '[2026-09-01,2026-10-01)');
SELECT rebate.issue_statements(:huaguang, '[2026-09-01,2026-10-01)') AS issued;

\echo
\echo 'The September statement of that dealer, line by line (gross - already settled = net; rounded once per line):'
SELECT l.line_no AS no, l.line_kind AS kind, p.code AS program, l.component, l.basis, l.gross, l.already_settled, l.net,
       left(coalesce(l.stacking, l.explanation), 60) AS why
  FROM rebate.statement s
  JOIN rebate.statement_line l ON l.statement_id = s.id
  LEFT JOIN rebate.program p ON p.id = l.program_id
 WHERE s.partner_id = (SELECT id FROM rebate.partner WHERE code = 'HUAGUANG-P00001') AND s.period = '[2026-09-01,2026-10-01)'
 ORDER BY l.line_no;
SELECT partner_name, total, total_in_words_zh AS "大写", total_in_words_en AS in_words
  FROM rebate.v_statement
 WHERE partner_id = (SELECT id FROM rebate.partner WHERE code = 'HUAGUANG-P00001') AND period = '[2026-09-01,2026-10-01)';

\echo
\echo 'Cross-check (交叉验证): the independent SQL recomputation against every statement line of the quarter:'
SELECT m.month, count(v.*) AS differences
  FROM (VALUES ('[2026-07-01,2026-08-01)'::daterange), ('[2026-08-01,2026-09-01)'), ('[2026-09-01,2026-10-01)')) AS m(month)
  LEFT JOIN LATERAL rebate.verify_period(:huaguang, m.month) v ON true
 GROUP BY m.month ORDER BY m.month;

\echo
\echo 'Channel performance, Q3 (rebate.v_partner_performance, computed by the C aggregate rebate.channel_kpis): the top five'
SELECT rank_overall AS rank, partner_name, net_sales, collection_rate AS "回款率", on_time_rate, achievement,
       previous_growth AS qoq, rebate_earned, rebate_to_sales
  FROM rebate.v_partner_performance
 WHERE tenant_id = :huaguang AND grain = 'quarter' AND period_name = '2026-Q3'
 ORDER BY rank_overall LIMIT 5;

\echo
\echo 'By area (rebate.v_region_performance, each area includes the provinces and cities below it):'
SELECT region_name, partners, net_sales, collected, collection_rate AS "回款率", rank_among_siblings AS rank
  FROM rebate.v_region_performance
 WHERE tenant_id = :huaguang AND grain = 'quarter' AND period_name = '2026-Q3' AND region_level = 'area'
 ORDER BY net_sales DESC;

\echo
\echo 'Scoring (rebate.partner_scores): net sales against target 50%, 回款率 against 0.9 30%, orders against the other partners 20%;'
\echo 'grades A from 85, B from 65, C below; a grade changes after 2 quarters in another band.'
INSERT INTO rebate.scoring_model (tenant_id, code, name, period_unit) VALUES (:huaguang, 'DEMO', '季度考核', 'quarter');
INSERT INTO rebate.scoring_kpi (tenant_id, model_id, kpi, weight, normalisation, target, cap)
SELECT :huaguang, m.id, k.kpi, k.weight, k.normalisation, k.target, 120
  FROM rebate.scoring_model m,
       (VALUES ('net_sales', 50, 'target', NULL::numeric), ('collection_rate', 30, 'target', 0.9),
               ('orders', 20, 'distribution', NULL)) AS k (kpi, weight, normalisation, target)
 WHERE m.tenant_id = :huaguang AND m.code = 'DEMO';
INSERT INTO rebate.scoring_band (tenant_id, model_id, grade_id, min_score)
SELECT :huaguang, m.id, g.id, CASE g.code WHEN 'A' THEN 85 WHEN 'B' THEN 65 ELSE 0 END
  FROM rebate.scoring_model m JOIN rebate.partner_grade g ON g.tenant_id = m.tenant_id
 WHERE m.tenant_id = :huaguang AND m.code = 'DEMO' AND g.code IN ('A', 'B', 'C');
UPDATE rebate.scoring_model SET active = true WHERE tenant_id = :huaguang AND code = 'DEMO';
SELECT rank_in_tenant AS rank, partner_name, total, band_grade AS band, current_grade AS grade,
       coalesce(change || ' to ' || suggested_grade, '-') AS suggestion
  FROM rebate.partner_scores(:huaguang, '[2026-07-01,2026-10-01)')
 ORDER BY rank_in_tenant LIMIT 8;

\echo
\echo 'Working together. Login roles of 华光: its channel manager, its sales director, the users of two dealers and of an applicant;'
\echo 'every step below runs as one of them (SET ROLE), row-level security and the approval engine deciding who may do what.'
-- (the applicant: a company the brand's recruitment portal has just entered)
INSERT INTO rebate.partner (tenant_id, code, name, home_region_id, state, tax_id)
SELECT p.tenant_id, 'HUAGUANG-NEW01', '苏州新锐电器有限公司', p.home_region_id, 'applicant', '91320500MA1XD31A0K'
  FROM rebate.partner p WHERE p.code = 'HUAGUANG-P00002';
SELECT d1.id AS dealer1, d2.id AS dealer2, applicant.id AS applicant, applicant.home_region_id AS applicant_region
  FROM rebate.partner d1
  JOIN rebate.partner d2 ON d2.tenant_id = d1.tenant_id AND d2.code = 'HUAGUANG-P00002'
  JOIN rebate.partner applicant ON applicant.tenant_id = d1.tenant_id AND applicant.code = 'HUAGUANG-NEW01'
 WHERE d1.code = 'HUAGUANG-P00001' \gset
CREATE ROLE rebate_demo_manager LOGIN;  CREATE ROLE rebate_demo_director LOGIN;
CREATE ROLE rebate_demo_dealer1 LOGIN;  CREATE ROLE rebate_demo_dealer2 LOGIN;  CREATE ROLE rebate_demo_applicant LOGIN;
SELECT rebate.grant_access('rebate_demo_manager', :huaguang), rebate.grant_access('rebate_demo_director', :huaguang),
       rebate.grant_access('rebate_demo_dealer1', :huaguang, :dealer1),
       rebate.grant_access('rebate_demo_dealer2', :huaguang, :dealer2),
       rebate.grant_access('rebate_demo_applicant', :huaguang, :applicant) \gset
SET ROLE rebate_demo_manager;
INSERT INTO rebate.approval_flow (request_type, name) VALUES ('partner_onboarding', '经销商准入'), ('customer_registration', '撞单仲裁');
INSERT INTO rebate.approval_step (flow_id, step_no, name, approver_kind, approver_roles)
SELECT f.id, 1, '销售总监', 'role', ARRAY['rebate_demo_director'] FROM rebate.approval_flow f;
INSERT INTO rebate.qualification_type (code, name, required_for) VALUES ('LICENCE', '营业执照', '{dealer,agent}');
INSERT INTO rebate.registration_setting (on_conflict) VALUES ('arbitrate');
RESET ROLE;

\echo
\echo '1. A partner''s way in (准入): the applicant records its licence and applies for grade B in its home city;'
\echo '   the automatic checks pass, and the director approves:'
SET ROLE rebate_demo_applicant;
INSERT INTO rebate.partner_qualification (partner_id, type_id, number, issuer, valid_from, file_ref, file_sha256)
SELECT :applicant, t.id, '91320500MA1XD31A0K', '市场监督管理局', date '2020-05-01', 'kyc/licence.pdf', md5('licence') || md5('pdf')
  FROM rebate.qualification_type t WHERE t.code = 'LICENCE';
INSERT INTO rebate.partner_application (partner_id, requested_grade_id, region_ids)
SELECT :applicant, g.id, ARRAY[:applicant_region]::bigint[] FROM rebate.partner_grade g WHERE g.code = 'B';
SELECT * FROM rebate.onboarding_checks(:applicant);
SELECT status AS application FROM rebate.submit_application((SELECT id FROM rebate.partner_application));
RESET ROLE;
SET ROLE rebate_demo_director;
SELECT r.subject, r.status AS request FROM rebate.approve((SELECT task_id FROM rebate.my_approval_tasks()), '资质齐全') r;
RESET ROLE;
SELECT p.code, p.name, p.state, g.code AS grade FROM rebate.partner p JOIN rebate.partner_grade g ON g.id = p.grade_id
 WHERE p.id = :applicant;

\echo
\echo '2. Customer registration (客户报备): dealer 1 registers a hotel group; dealer 2 registers the same company'
\echo '   (written with full-width parentheses) and learns only that it is taken; arbitration gives it to dealer 2:'
SET ROLE rebate_demo_dealer1;
INSERT INTO rebate.end_customer (partner_id, name, tax_id, expected_amount)
VALUES (:dealer1, '锦江之星酒店管理(华东)有限公司', '91310000MA1K7ABC9X', 600000);
RESET ROLE;
SET ROLE rebate_demo_dealer2;
SELECT rebate.check_registration('锦江之星酒店管理（华东）有限公司') AS check_before_registering;
INSERT INTO rebate.end_customer (partner_id, name, expected_amount) VALUES (:dealer2, '锦江之星酒店管理（华东）有限公司', 900000);
SELECT name, status FROM rebate.end_customer WHERE expected_amount = 900000;
RESET ROLE;
SET ROLE rebate_demo_director;
SELECT r.status AS arbitration FROM rebate.approve((SELECT task_id FROM rebate.my_approval_tasks()), '二店已报价，客户指定') r;
RESET ROLE;
SELECT p.code, c.status, c.protected_until - CURRENT_DATE AS days_protected
  FROM rebate.end_customer c JOIN rebate.partner p ON p.id = c.partner_id
 WHERE c.name_key = rebate.normalize_name('锦江之星酒店管理(华东)有限公司') ORDER BY c.id;
SET ROLE rebate_demo_dealer1;
\echo 'Dealer 1''s inbox, its registrations (it is told, not to whom):'
SELECT event, title FROM rebate.notification WHERE event LIKE 'registration%' ORDER BY id;
RESET ROLE;

\echo
\echo '3. A lead converted into an order: the brand hands a website lead to dealer 2 (48 hours to answer), which accepts it,'
\echo '   works the opportunity and wins it with an order:'
SET ROLE rebate_demo_manager;
INSERT INTO rebate.lead (name, contact_name, region_id, product_id, source, expected_amount)
SELECT '新城万达广场物业', '刘经理', p.home_region_id, pr.id, 'website', 120000
  FROM rebate.partner p, rebate.product pr WHERE p.id = :dealer2 AND pr.sku = 'HU-C1-02';
SELECT pa.code AS offered_to, o.respond_by - o.offered_at AS time_to_answer
  FROM rebate.assign_lead((SELECT id FROM rebate.lead WHERE name = '新城万达广场物业'), :dealer2, '48 hours', '总部指派') o
  JOIN rebate.partner pa ON pa.id = o.partner_id;
RESET ROLE;
SET ROLE rebate_demo_dealer2;
SELECT name, stage, amount FROM rebate.accept_lead((SELECT id FROM rebate.lead WHERE name = '新城万达广场物业'));
SELECT stage FROM rebate.set_opportunity_stage((SELECT id FROM rebate.opportunity), '方案报价');
RESET ROLE;
INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date)
SELECT tenant_id, 'DEMO-LEAD', id, home_region_id, date '2026-12-10' FROM rebate.partner WHERE id = :dealer2;
INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
SELECT o.tenant_id, o.id, 1, pr.id, 40, pr.list_price * 0.92
  FROM rebate.sales_order o, rebate.product pr WHERE o.code = 'DEMO-LEAD' AND pr.tenant_id = o.tenant_id AND pr.sku = 'HU-C1-02';
UPDATE rebate.sales_order SET status = 'submitted' WHERE code = 'DEMO-LEAD';
SET ROLE rebate_demo_dealer2;
SELECT stage, closed_at IS NOT NULL AS closed
  FROM rebate.set_opportunity_stage((SELECT id FROM rebate.opportunity), 'won',
                                    (SELECT id FROM rebate.sales_order WHERE code = 'DEMO-LEAD'));
RESET ROLE;
SET ROLE rebate_demo_manager;
SELECT source, leads, leads_offered AS offered, leads_accepted AS accepted, won, win_rate, won_amount
  FROM rebate.v_lead_conversion_by_source;
RESET ROLE;

\echo
\echo '4. An announcement (通知公告) to the grade B dealers, to be acknowledged; dealer 1 reads and acknowledges it:'
SET ROLE rebate_demo_manager;
INSERT INTO rebate.announcement (title, body, mandatory, grade_ids)
SELECT '2027年度返利政策说明', '2027年起季度返利阶梯调整，请各经销商确认。', true, ARRAY[g.id]
  FROM rebate.partner_grade g WHERE g.code = 'B';
SELECT status, published_by FROM rebate.publish_announcement((SELECT id FROM rebate.announcement));
RESET ROLE;
SET ROLE rebate_demo_dealer1;
SELECT acknowledged_at IS NOT NULL AS acknowledged FROM rebate.acknowledge_announcement((SELECT id FROM rebate.announcement));
RESET ROLE;
SET ROLE rebate_demo_manager;
SELECT title, recipients, read, acknowledged, unacknowledged FROM rebate.v_announcement_reach;
RESET ROLE;

\echo
\echo '5. Inventory across the channel (rebate_sample.inventory: three years of receipts and sell-out per dealer warehouse).'
\echo '   Dealer 1 looks at its own stock (the brand sees it only if the dealer shares it):'
SELECT * FROM rebate_sample.inventory();
SELECT w.id AS dealer1_warehouse FROM rebate.warehouse w WHERE w.partner_id = :dealer1 \gset
SET ROLE rebate_demo_dealer1;
SELECT s.product_sku, s.on_hand, s.last_sale_on, a.average_age, a.age_0_30, a.age_31_60
  FROM rebate.v_stock s
  JOIN LATERAL (SELECT (x).* FROM (SELECT rebate.stock_age(m.moved_on, m.quantity, date '2026-12-01') AS x
                                      FROM rebate.stock_movement m
                                     WHERE m.warehouse_id = s.warehouse_id AND m.product_id = s.product_id) y) a ON true
 ORDER BY s.product_sku;
\echo 'Its system reports a large sale of the first product: the stock falls below the safety stock, an alert lands in its inbox:'
INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, product_id, moved_on, kind, quantity, source, reference)
SELECT b.tenant_id, b.warehouse_id, b.product_id, date '2026-12-01', 'sell_out', -(b.quantity - 20), 'report', 'SO-DEMO'
  FROM rebate.stock_balance b WHERE b.warehouse_id = :dealer1_warehouse
 ORDER BY b.product_id LIMIT 1;
SELECT alert_kind, quantity_at_alert, threshold FROM rebate.v_stock_alerts WHERE quantity_at_alert = 20 ORDER BY alert_kind;
\echo 'Replenishment suggestions for December (Holt-Winters on 36 months of sell-out, lead 10 + cycle 30 days):'
SELECT p.sku, r.on_hand, r.forecast_demand, r.safety_stock, r.quantity AS suggested, r.method
  FROM rebate.suggest_replenishment(:dealer1_warehouse, date '2026-12-01') r JOIN rebate.product p ON p.id = r.product_id
 ORDER BY p.sku;
RESET ROLE;
\echo 'Forecast accuracy over the brand''s dealer items: the last 12 months forecast from the 24 before (sMAPE, lower is better):'
SELECT count(*) AS items, round(avg(holt_winters_smape), 2) AS holt_winters, round(avg(naive_smape), 2) AS naive_last_year,
       count(*) FILTER (WHERE holt_winters_smape < naive_smape) AS holt_winters_better
  FROM rebate.forecast_backtest(NULL, date '2026-12-01') b JOIN rebate.warehouse w ON w.id = b.warehouse_id
 WHERE w.tenant_id = :huaguang;
