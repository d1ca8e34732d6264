-- Sample data for the demo: a quarter of sales by six partners of one brand,
-- and the two rebate programmes they are on.  (The data model of a later
-- version replaces these plain tables.)
\pset null '-'
\set ON_ERROR_STOP on

CREATE TABLE program (
    code      text PRIMARY KEY,
    name      text NOT NULL,
    schedule  rebate.tier_schedule NOT NULL
);
INSERT INTO program VALUES
    ('VOL',  '季度销量返利 quarterly volume (retroactive)', 'retroactive 0:1%, 100000:2%, 500000:3.5% cap 30000'),
    ('BAND', '超额累进 incremental bands',                   'incremental 0:1%, 100000:2%, 500000:3.5%');

CREATE TABLE partner (
    code      text PRIMARY KEY,
    name      text NOT NULL,
    program   text NOT NULL REFERENCES program,
    target    numeric(14,2) NOT NULL
);
INSERT INTO partner VALUES
    ('P001', '上海华东贸易有限公司',  'VOL',  400000),
    ('P002', '杭州西湖电器经销部',    'VOL',  150000),
    ('P003', '南京金陵商贸',          'BAND', 300000),
    ('P004', '苏州姑苏渠道服务',      'BAND',  80000),
    ('P005', '合肥新站分销中心',      'VOL',   90000),
    ('P006', '宁波港城代理',          'BAND', 600000);

CREATE TABLE sale (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner   text NOT NULL REFERENCES partner,
    sold_on   date NOT NULL,
    amount    numeric(14,2) NOT NULL
);
-- 600 invoice lines, deterministic (seeded), including a few returns (negative lines)
SELECT setseed(0.2026) \gset
INSERT INTO sale (partner, sold_on, amount)
SELECT p.code,
       date '2026-07-01' + (random() * 91)::int,
       round((CASE WHEN random() < 0.03 THEN -1 ELSE 1 END) * p.target / 100 * (0.3 + random() * 1.5)::numeric, 2)
  FROM partner p, generate_series(1, 100) AS g;

\echo
\echo 'Quarterly rebate per partner (Q3 2026), rounded once to the fen at the end:'
SELECT p.code                                                   AS partner,
       p.name,
       p.program,
       sum(s.amount)                                            AS net_sales,
       rebate.tier_index(sum(s.amount), pr.schedule)            AS tier,
       rebate.next_tier_gap(sum(s.amount), pr.schedule)         AS to_next_tier,
       rebate.tiered_sum(s.amount, pr.schedule)                 AS rebate_exact,
       rebate.round_money(rebate.tiered_sum(s.amount, pr.schedule), 'CNY') AS rebate_cny,
       round(rebate.effective_rate(sum(s.amount), pr.schedule) * 100, 3) AS "effective_%"
  FROM sale s
  JOIN partner p  ON p.code = s.partner
  JOIN program pr ON pr.code = p.program
 GROUP BY p.code, p.name, p.program, pr.schedule
 ORDER BY p.code;

\echo
\echo 'Overachievement bonus against each partner''s target (excess over 100% pays 5%, over 120% pays 8%):'
SELECT p.code AS partner,
       p.target,
       sum(s.amount) AS actual,
       round(sum(s.amount) / p.target * 100, 1) AS "achieved_%",
       rebate.round_money(rebate.overachievement_rebate(sum(s.amount), p.target,
                          'incremental 1.0:5%, 1.2:8%', apply_to => 'excess')) AS bonus_cny
  FROM sale s JOIN partner p ON p.code = s.partner
 GROUP BY p.code, p.target
 ORDER BY p.code;
