-- rebate_sample: a realistic, seeded channel data set for the demo, the tests
-- and benchmarks.  Not part of the extension: load this file into a database
-- that has it, as a superuser or a member of rebate_admin, then
--
--     SELECT rebate_sample.generate();                                   -- the demo's set
--     SELECT rebate_sample.generate(partners => 10000, lines => 10000000, audited => false);
--
-- Two brands; a tree of real Chinese regions (中国 > 大区 > 省 > 市); per brand
-- partners in a 总代/二代 hierarchy with grades A/B/C; products in
-- categories with list prices and costs; price policies; a year (2026) of
-- orders with some returns; payments; quarterly targets.  Deterministic for
-- a given seed.  audited => false loads orders, lines and payments with
-- triggers off (session_replication_role = replica: superuser only), for
-- millions of lines; it then fills what the triggers would have (the order
-- history, the rollups).

CREATE SCHEMA IF NOT EXISTS rebate_sample;

CREATE OR REPLACE FUNCTION rebate_sample.generate(seed double precision DEFAULT 0.2026,
                                                  partners integer DEFAULT 25,
                                                  lines bigint DEFAULT 6000,
                                                  audited boolean DEFAULT true)
    RETURNS TABLE (tenants bigint, regions bigint, partner_count bigint, products bigint,
                   price_policies bigint, orders bigint, order_lines bigint, payments bigint, targets bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
    step integer;
    n_orders bigint := greatest(1, lines / 3);
BEGIN
    IF partners < 8 THEN
        RAISE EXCEPTION 'partners must be at least 8 per brand (one 总代 per 大区 and some 二代)';
    END IF;
    PERFORM setseed(seed);

    INSERT INTO rebate.tenant (code, name) VALUES ('HUAGUANG', '华光电器'), ('QINGHE', '青禾饮品');

    FOR t IN SELECT id, code FROM rebate.tenant WHERE code IN ('HUAGUANG', 'QINGHE') ORDER BY id LOOP
        -- regions: 中国 > 大区 > 省/直辖市 > 市
        INSERT INTO rebate.region (tenant_id, code, name, level, vat_rate, currency)
        VALUES (t.id, 'CN', '中国', 'country', 0.13, 'CNY');
        INSERT INTO rebate.region (tenant_id, code, name, level, parent_id)
        SELECT t.id, a.code, a.name, 'area', (SELECT id FROM rebate.region WHERE tenant_id = t.id AND code = 'CN')
          FROM (VALUES ('EAST', '华东'), ('SOUTH', '华南'), ('NORTH', '华北'), ('CENTRAL', '华中'),
                       ('SOUTHWEST', '西南'), ('NORTHEAST', '东北'), ('NORTHWEST', '西北')) AS a(code, name);
        INSERT INTO rebate.region (tenant_id, code, name, level, parent_id)
        SELECT t.id, p.code, p.name, 'province', (SELECT id FROM rebate.region WHERE tenant_id = t.id AND code = p.area)
          FROM (VALUES ('SH', '上海', 'EAST'), ('JS', '江苏', 'EAST'), ('ZJ', '浙江', 'EAST'), ('AH', '安徽', 'EAST'),
                       ('SD', '山东', 'EAST'), ('GD', '广东', 'SOUTH'), ('FJ', '福建', 'SOUTH'), ('GX', '广西', 'SOUTH'),
                       ('BJ', '北京', 'NORTH'), ('TJ', '天津', 'NORTH'), ('HE', '河北', 'NORTH'),
                       ('HB', '湖北', 'CENTRAL'), ('HN', '湖南', 'CENTRAL'), ('HA', '河南', 'CENTRAL'),
                       ('SC', '四川', 'SOUTHWEST'), ('CQ', '重庆', 'SOUTHWEST'), ('YN', '云南', 'SOUTHWEST'),
                       ('LN', '辽宁', 'NORTHEAST'), ('JL', '吉林', 'NORTHEAST'),
                       ('SN', '陕西', 'NORTHWEST'), ('GS', '甘肃', 'NORTHWEST')) AS p(code, name, area);
        INSERT INTO rebate.region (tenant_id, code, name, level, parent_id)
        SELECT t.id, c.code, c.name, 'city', (SELECT id FROM rebate.region WHERE tenant_id = t.id AND code = c.province)
          FROM (VALUES ('NJ', '南京', 'JS'), ('SZ', '苏州', 'JS'), ('WX', '无锡', 'JS'), ('HZ', '杭州', 'ZJ'),
                       ('NB', '宁波', 'ZJ'), ('HF', '合肥', 'AH'), ('JN', '济南', 'SD'), ('QD', '青岛', 'SD'),
                       ('GZ', '广州', 'GD'), ('SZN', '深圳', 'GD'), ('FS', '佛山', 'GD'), ('XM', '厦门', 'FJ'),
                       ('FZ', '福州', 'FJ'), ('NN', '南宁', 'GX'), ('SJZ', '石家庄', 'HE'), ('WH', '武汉', 'HB'),
                       ('CS', '长沙', 'HN'), ('ZZ', '郑州', 'HA'), ('CD', '成都', 'SC'), ('KM', '昆明', 'YN'),
                       ('SY', '沈阳', 'LN'), ('DL', '大连', 'LN'), ('CC', '长春', 'JL'), ('XA', '西安', 'SN'),
                       ('LZ', '兰州', 'GS')) AS c(code, name, province);

        INSERT INTO rebate.partner_grade (tenant_id, code, name, rank)
        VALUES (t.id, 'A', '金牌', 1), (t.id, 'B', '银牌', 2), (t.id, 'C', '普通', 3);

        -- 总代: one per 大区; 二代: the rest, under the 总代 of their province's 大区
        INSERT INTO rebate.partner (tenant_id, code, name, kind, grade_id, home_region_id, credit_limit, state,
                                    contact_name, contact_phone)
        SELECT t.id, format('%s-D%s', t.code, a.code), format('%s%s总代理有限公司', a.name, CASE t.code WHEN 'HUAGUANG' THEN '华光' ELSE '青禾' END),
               'distributor', (SELECT id FROM rebate.partner_grade WHERE tenant_id = t.id AND code = 'A'),
               a.id, 5000000, 'active', '王经理', '021-5555' || lpad(a.id::text, 4, '0')
          FROM rebate.region a WHERE a.tenant_id = t.id AND a.level = 'area';
        INSERT INTO rebate.partner (tenant_id, code, name, kind, grade_id, home_region_id, parent_id, credit_limit,
                                    state, contact_name)
        SELECT t.id, format('%s-P%s', t.code, lpad(g::text, 5, '0')),
               format('%s%s%s', r.name, (ARRAY['鑫达', '恒通', '广源', '华盛', '东方', '金桥', '永泰', '远航', '汇丰', '新世纪'])[1 + g % 10],
                      CASE WHEN g > 50 THEN g::text ELSE '' END
                      || (ARRAY['商贸有限公司', '电器经销部', '贸易有限公司', '供应链有限公司'])[1 + g % 4]),
               CASE WHEN g % 7 = 0 THEN 'agent' ELSE 'dealer' END,
               (SELECT id FROM rebate.partner_grade WHERE tenant_id = t.id AND code = (ARRAY['A', 'B', 'B', 'C', 'C'])[1 + g % 5]),
               r.id,
               (SELECT d.id FROM rebate.partner d WHERE d.tenant_id = t.id AND d.kind = 'distributor'
                  AND d.home_region_id = r.path[2]),
               (ARRAY[200000, 500000, 1000000])[1 + g % 3],
               CASE WHEN g % 23 = 0 THEN 'suspended' WHEN g % 31 = 0 THEN 'applicant' ELSE 'active' END,
               (ARRAY['李', '张', '刘', '陈', '杨', '赵', '黄', '周'])[1 + g % 8] || '总'
          FROM generate_series(1, partners - 7) AS g
          JOIN LATERAL (SELECT * FROM rebate.region r WHERE r.tenant_id = t.id AND r.level IN ('province', 'city')
                         ORDER BY r.id OFFSET (g * 7919) % 46 LIMIT 1) r ON true;

        INSERT INTO rebate.partner_territory (tenant_id, partner_id, region_id, valid)
        SELECT t.id, p.id, p.home_region_id, '[2026-01-01,2027-01-01)' FROM rebate.partner p WHERE p.tenant_id = t.id;

        -- products
        INSERT INTO rebate.product_category (tenant_id, code, name)
        VALUES (t.id, 'ALL', CASE t.code WHEN 'HUAGUANG' THEN '家用电器' ELSE '饮品' END);
        INSERT INTO rebate.product_category (tenant_id, code, name, parent_id)
        SELECT t.id, c.code, c.name, (SELECT id FROM rebate.product_category WHERE tenant_id = t.id AND code = 'ALL')
          FROM (VALUES ('C1', CASE t.code WHEN 'HUAGUANG' THEN '空调' ELSE '茶饮' END),
                       ('C2', CASE t.code WHEN 'HUAGUANG' THEN '冰箱' ELSE '果汁' END),
                       ('C3', CASE t.code WHEN 'HUAGUANG' THEN '洗衣机' ELSE '咖啡' END)) AS c(code, name);
        INSERT INTO rebate.product (tenant_id, sku, name, category_id, unit, list_price, standard_cost)
        SELECT t.id, format('%s-%s-%s', left(t.code, 2), c.code, lpad(g::text, 2, '0')),
               format('%s %s%s型', c.name, CASE t.code WHEN 'HUAGUANG' THEN 'HG' ELSE 'QH' END, 100 * g),
               c.id, CASE t.code WHEN 'HUAGUANG' THEN '台' ELSE '箱' END,
               lp, round(lp * (0.55 + (g % 4) * 0.05), 2)
          FROM rebate.product_category c, generate_series(1, 5) AS g,
               LATERAL (SELECT (CASE t.code WHEN 'HUAGUANG' THEN 1500 + 700 * g ELSE 60 + 15 * g END)::numeric(18,4) AS lp) x
         WHERE c.tenant_id = t.id AND c.code <> 'ALL';

        -- price policies: the whole range at 92% of list, grade A 88%, 华南 promotion in summer,
        -- and a quantity break on each category's first product
        INSERT INTO rebate.price_policy (tenant_id, code, name, category_id, price_percent, floor_percent, valid)
        SELECT t.id, 'BASE', '全国基础价', c.id, 92, 80, '[2026-01-01,2027-01-01)'
          FROM rebate.product_category c WHERE c.tenant_id = t.id AND c.code = 'ALL';
        INSERT INTO rebate.price_policy (tenant_id, code, name, category_id, grade_id, price_percent, floor_percent, valid)
        SELECT t.id, 'GRADE-A', '金牌经销价', c.id, g.id, 88, 80, '[2026-01-01,2027-01-01)'
          FROM rebate.product_category c, rebate.partner_grade g
         WHERE c.tenant_id = t.id AND c.code = 'ALL' AND g.tenant_id = t.id AND g.code = 'A';
        INSERT INTO rebate.price_policy (tenant_id, code, name, category_id, region_id, promotion, price_percent, valid)
        SELECT t.id, 'PROMO-SOUTH-SUMMER', '华南夏季促销', c.id, r.id, true, 85, '[2026-06-01,2026-09-01)'
          FROM rebate.product_category c, rebate.region r
         WHERE c.tenant_id = t.id AND c.code = 'C1' AND r.tenant_id = t.id AND r.code = 'SOUTH';
        INSERT INTO rebate.price_policy (tenant_id, code, name, product_id, min_quantity, price, floor_percent, valid)
        SELECT t.id, 'QTY-' || p.sku, '批量价', p.id, 50, round(p.list_price * 0.86, 2), NULL, '[2026-01-01,2027-01-01)'
          FROM rebate.product p WHERE p.tenant_id = t.id AND p.sku LIKE '%-01';

    END LOOP;

    IF NOT audited THEN
        SET LOCAL session_replication_role = replica;
    END IF;

    -- a year of orders from active partners, 2-4 lines each; about 3% are returns of an earlier order
    CREATE TEMP TABLE sample_partner ON COMMIT DROP AS
    SELECT row_number() OVER (ORDER BY p.id) AS n, p.tenant_id, p.id AS partner_id, p.home_region_id
      FROM rebate.partner p
     WHERE p.state = 'active' AND p.tenant_id IN (SELECT id FROM rebate.tenant WHERE code IN ('HUAGUANG', 'QINGHE'));
    CREATE UNIQUE INDEX ON sample_partner (n);
    CREATE TEMP TABLE sample_order ON COMMIT DROP AS
    SELECT o.n, p.tenant_id, p.partner_id, p.home_region_id, o.order_date, o.u
      FROM (SELECT g AS n, 1 + floor(random() * (SELECT count(*) FROM sample_partner))::bigint AS pick,
                   date '2026-01-01' + (random() * 364)::int AS order_date, random() AS u
              FROM generate_series(1, n_orders) AS g) o
      JOIN sample_partner p ON p.n = o.pick;
    -- With the triggers on, orders go in as drafts and walk their lifecycle
    -- once their lines are in (lines of shipped orders are locked), with the
    -- credit check off: this is history, not new business.
    CREATE TEMP TABLE sample_status ON COMMIT DROP AS
    SELECT code, status AS final_status FROM (
        SELECT format('SO%s-%s', to_char(order_date, 'YYYYMMDD'), lpad(n::text, 8, '0')) AS code,
               CASE WHEN order_date < date '2026-11-01' THEN 'closed' WHEN u < 0.5 THEN 'delivered' ELSE 'approved' END AS status
          FROM sample_order) s;
    IF audited THEN
        UPDATE rebate.enforcement_setting SET credit = 'allow'
         WHERE tenant_id IN (SELECT id FROM rebate.tenant WHERE code IN ('HUAGUANG', 'QINGHE'));
    END IF;
    -- delivery is promised within five days, or two for one order in nine (goods take three: late)
    INSERT INTO rebate.sales_order (tenant_id, code, partner_id, kind, ship_to_region_id, order_date, status, promised_on)
    SELECT o.tenant_id, st.code, o.partner_id, 'order', o.home_region_id, o.order_date,
           CASE WHEN audited THEN 'draft' ELSE st.final_status END,
           o.order_date + CASE WHEN o.n % 9 = 0 THEN 2 ELSE 5 END
      FROM sample_order o
      JOIN sample_status st ON st.code = format('SO%s-%s', to_char(o.order_date, 'YYYYMMDD'), lpad(o.n::text, 8, '0'));
    CREATE TEMP TABLE sample_product ON COMMIT DROP AS
    SELECT row_number() OVER (PARTITION BY p.tenant_id ORDER BY p.id) AS n,
           count(*) OVER (PARTITION BY p.tenant_id) AS count, p.*
      FROM rebate.product p
     WHERE p.tenant_id IN (SELECT id FROM rebate.tenant WHERE code IN ('HUAGUANG', 'QINGHE'));
    INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost)
    SELECT o.tenant_id, o.id, o.partner_id, l, pr.id,
           CASE WHEN pr.unit = '台' THEN 1 + floor(random() * 20) ELSE 5 + floor(random() * 80) END,
           round(pr.list_price * CASE WHEN ga.code = 'A' THEN 0.88 ELSE 0.92 END, 2),
           pr.standard_cost
      FROM rebate.sales_order o
      JOIN rebate.partner pa ON pa.id = o.partner_id
      LEFT JOIN rebate.partner_grade ga ON ga.id = pa.grade_id
      CROSS JOIN LATERAL generate_series(1, 2 + (o.id % 3)::int) AS l
      JOIN sample_product pr ON pr.tenant_id = o.tenant_id AND pr.n = 1 + (o.id * 31 + l * 7) % pr.count
     WHERE o.code LIKE 'SO%';
    -- returns: one line of an earlier order comes back
    INSERT INTO rebate.sales_order (tenant_id, code, partner_id, kind, original_order_id, ship_to_region_id, order_date, status)
    SELECT o.tenant_id, 'RT' || substr(o.code, 3), o.partner_id, 'return', o.id, o.ship_to_region_id,
           least(o.order_date + 20, date '2026-12-31'), CASE WHEN audited THEN 'draft' ELSE 'closed' END
      FROM rebate.sales_order o
     WHERE o.kind = 'order' AND o.id % 33 = 0;
    INSERT INTO sample_status (code, final_status)
    SELECT o.code, 'closed' FROM rebate.sales_order o WHERE o.kind = 'return';
    INSERT INTO rebate.order_line (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, unit_cost)
    SELECT r.tenant_id, r.id, r.partner_id, 1, l.product_id, greatest(1, floor(l.quantity / 2)), l.unit_price, l.unit_cost
      FROM rebate.sales_order r
      JOIN rebate.order_line l ON l.order_id = r.original_order_id AND l.line_no = 1
     WHERE r.kind = 'return';
    IF audited THEN
        FOR step IN 1 .. 5 LOOP
            UPDATE rebate.sales_order o
               SET status = (ARRAY['submitted', 'approved', 'shipped', 'delivered', 'closed'])[step]
              FROM sample_status st
             WHERE st.code = o.code
               AND array_position(ARRAY['draft', 'submitted', 'approved', 'shipped', 'delivered', 'closed'], st.final_status) > step;
        END LOOP;
        UPDATE rebate.enforcement_setting SET credit = 'review'
         WHERE tenant_id IN (SELECT id FROM rebate.tenant WHERE code IN ('HUAGUANG', 'QINGHE'));
    END IF;
    -- payments: each partner pays about 90% of a month's sales in the following month
    INSERT INTO rebate.payment (tenant_id, code, partner_id, received_on, amount, method)
    SELECT f.tenant_id, format('PAY-%s-%s', f.partner_id, to_char(f.month, 'YYYYMM')), f.partner_id,
           (f.month + interval '1 month' + interval '9 days')::date, round(f.amount * 0.9, 2),
           CASE WHEN f.partner_id % 5 = 0 THEN 'acceptance_bill' ELSE 'bank_transfer' END
      FROM (SELECT s.tenant_id, s.partner_id, date_trunc('month', s.order_date)::date AS month, sum(s.amount) AS amount
              FROM rebate.sales_fact s
             WHERE s.order_date < date '2026-12-01'
             GROUP BY 1, 2, 3) f
     WHERE f.amount > 0;

    -- quarterly sales targets: around each active partner's actual average quarter (70% to 130%)
    INSERT INTO rebate.target (tenant_id, partner_id, metric, period, value)
    SELECT p.tenant_id, p.id, 'net_sales', daterange(q::date, (q + interval '3 months')::date),
           round(coalesce(y.amount, 0) / 4 * (0.7 + 0.6 * ((p.id * 7919 + extract(month FROM q)::int * 31) % 100) / 100.0), -3)
      FROM rebate.partner p
      LEFT JOIN (SELECT partner_id, sum(amount) AS amount FROM rebate.sales_fact GROUP BY partner_id) y ON y.partner_id = p.id
     CROSS JOIN generate_series(date '2026-01-01', date '2026-10-01', interval '3 months') AS q
     WHERE p.state = 'active' AND p.tenant_id IN (SELECT id FROM rebate.tenant WHERE code IN ('HUAGUANG', 'QINGHE'));

    -- goods arrive three days after the order (the delivery date basis)
    UPDATE rebate.sales_order SET delivered_on = order_date + 3
     WHERE status IN ('delivered', 'closed') AND tenant_id IN (SELECT id FROM rebate.tenant WHERE code IN ('HUAGUANG', 'QINGHE'));

    IF NOT audited THEN
        SET LOCAL session_replication_role = origin;
        INSERT INTO rebate.order_status_history (tenant_id, order_id, partner_id, from_status, to_status, reason,
                                                 session_role, acting_role)
        SELECT o.tenant_id, o.id, o.partner_id, NULL, o.status, 'sample data (bulk load)', session_user, current_user
          FROM rebate.sales_order o;
        -- and the rollups the triggers would have kept
        PERFORM rebate.rebuild_rollups(x.id) FROM rebate.tenant x WHERE x.code IN ('HUAGUANG', 'QINGHE');
    END IF;

    RETURN QUERY
    SELECT (SELECT count(*) FROM rebate.tenant), (SELECT count(*) FROM rebate.region), (SELECT count(*) FROM rebate.partner),
           (SELECT count(*) FROM rebate.product), (SELECT count(*) FROM rebate.price_policy),
           (SELECT count(*) FROM rebate.sales_order), (SELECT count(*) FROM rebate.order_line),
           (SELECT count(*) FROM rebate.payment), (SELECT count(*) FROM rebate.target);
END
$$;
COMMENT ON FUNCTION rebate_sample.generate(double precision, integer, bigint, boolean) IS
    'Loads a seeded sample channel data set: two brands, real regions, partners (per brand), products, policies, a year of orders, payments, targets';

-- Five rebate programs per brand, active for 2026, that exercise every kind
-- and the stacking rules: 华光 combines its target and margin programs by max
-- and its per-unit and collection programs by cascade; 青禾 uses exclusive and
-- sum.  Run after generate().
CREATE OR REPLACE FUNCTION rebate_sample.programs()
    RETURNS TABLE (tenant text, program text, version_id bigint, metric text, kind text, period_unit text,
                   stacking text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
    best bigint;
    casc bigint;
    v bigint;
BEGIN
    FOR t IN SELECT id, code FROM rebate.tenant WHERE code IN ('HUAGUANG', 'QINGHE') ORDER BY id LOOP
        INSERT INTO rebate.program_group (tenant_id, code, name, rule)
        VALUES (t.id, 'BEST', '目标与毛利取其优', CASE t.code WHEN 'HUAGUANG' THEN 'max' ELSE 'exclusive' END)
        RETURNING id INTO best;
        INSERT INTO rebate.program_group (tenant_id, code, name, rule)
        VALUES (t.id, 'UNIT-CASH', '单品与回款', CASE t.code WHEN 'HUAGUANG' THEN 'cascade' ELSE 'sum' END)
        RETURNING id INTO casc;
        INSERT INTO rebate.program (tenant_id, code, name) VALUES
            (t.id, 'Q-VOLUME', '季度销量阶梯返利'), (t.id, 'Q-TARGET', '季度超额返利'), (t.id, 'Q-MARGIN', '季度毛利返利'),
            (t.id, 'M-UNIT', '月度单品返利'), (t.id, 'M-CASH', '月度回款返利');
        -- retroactive volume scale, settled monthly on the cumulative basis, 总代 earn 0.5% on their 二代
        INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, interim,
                                            override_schedule)
        SELECT t.id, p.id, '[2026-01-01,2027-01-01)', 'net_sales', 'tiered',
               CASE t.code WHEN 'HUAGUANG' THEN 'retroactive 0:1%, 300000:2%, 600000:3% cap 30000'
                           ELSE 'retroactive 0:1%, 20000:2%, 50000:3%' END::rebate.tier_schedule,
               true, 'retroactive 0:0.5%'
          FROM rebate.program p WHERE p.tenant_id = t.id AND p.code = 'Q-VOLUME';
        INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, apply_to,
                                            group_id, priority)
        SELECT t.id, p.id, '[2026-01-01,2027-01-01)', 'net_sales', 'overachievement',
               'incremental 1.0:3%, 1.2:5%', 'excess', best, 1
          FROM rebate.program p WHERE p.tenant_id = t.id AND p.code = 'Q-TARGET';
        INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, group_id, priority,
                                            cap)
        SELECT t.id, p.id, '[2026-01-01,2027-01-01)', 'gross_margin', 'tiered', 'incremental 0:0.5%, 100000:1%',
               best, 2, 8000
          FROM rebate.program p WHERE p.tenant_id = t.id AND p.code = 'Q-MARGIN';
        -- ¥3 (¥0.5 for drinks) per full 10 units of the first category, returns not counted (不计退)
        INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, unit_amount, unit_size,
                                            category_ids, returns_reduce, period_unit, group_id, priority)
        SELECT t.id, p.id, '[2026-01-01,2027-01-01)', 'quantity', 'per_unit',
               CASE t.code WHEN 'HUAGUANG' THEN 3 ELSE 0.5 END, 10,
               ARRAY[(SELECT c.id FROM rebate.product_category c WHERE c.tenant_id = t.id AND c.code = 'C1')],
               false, 'month', casc, 1
          FROM rebate.program p WHERE p.tenant_id = t.id AND p.code = 'M-UNIT';
        INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, period_unit,
                                            group_id, priority)
        SELECT t.id, p.id, '[2026-01-01,2027-01-01)', 'collected', 'tiered',
               CASE t.code WHEN 'HUAGUANG' THEN 'retroactive 50000:0.5%, 200000:1%' ELSE 'retroactive 5000:0.5%, 20000:1%' END::rebate.tier_schedule,
               'month', casc, 2
          FROM rebate.program p WHERE p.tenant_id = t.id AND p.code = 'M-CASH';
        FOR v IN SELECT pv.id FROM rebate.program_version pv WHERE pv.tenant_id = t.id AND pv.status = 'draft' ORDER BY pv.id LOOP
            PERFORM rebate.activate_program_version(v);
        END LOOP;
    END LOOP;
    RETURN QUERY
    SELECT tn.code, p.code, pv.id, pv.metric, pv.kind, pv.period_unit, g.rule
      FROM rebate.program_version pv JOIN rebate.program p ON p.id = pv.program_id
      JOIN rebate.tenant tn ON tn.id = pv.tenant_id LEFT JOIN rebate.program_group g ON g.id = pv.group_id
     WHERE tn.code IN ('HUAGUANG', 'QINGHE')
     ORDER BY tn.code, pv.id;
END
$$;
COMMENT ON FUNCTION rebate_sample.programs() IS
    'Five active rebate programs per sample brand (tiered with override and interim, overachievement, gross margin, per unit, collected) in max, cascade, exclusive and sum stacking groups';

-- Inventory of the sample brands: a central warehouse per brand and one per
-- active partner, three years of monthly receipts and sell-out (December
-- 2023 to November 2026) for six products per partner, with a trend and a
-- season (air conditioners peak in summer, drinks too), noise, safety-stock
-- thresholds per category, and every third partner sharing its stock.
-- Sell-out never exceeds the stock: each month's receipt covers its sales.
-- Run after generate().
CREATE OR REPLACE FUNCTION rebate_sample.inventory(seed double precision DEFAULT 0.18)
    RETURNS TABLE (tenant text, warehouses bigint, movements bigint, items bigint, sharing_partners bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
BEGIN
    PERFORM setseed(seed);
    FOR t IN SELECT id, code FROM rebate.tenant WHERE code IN ('HUAGUANG', 'QINGHE') ORDER BY id LOOP
        INSERT INTO rebate.warehouse (tenant_id, code, name, kind, partner_id, region_id)
        SELECT t.id, t.code || '-CW', '中央仓', 'central', NULL, r.id
          FROM rebate.region r WHERE r.tenant_id = t.id AND r.parent_id IS NULL;
        INSERT INTO rebate.warehouse (tenant_id, code, name, kind, partner_id, region_id)
        SELECT t.id, p.code || '-W', p.name || '仓库', 'partner', p.id, p.home_region_id
          FROM rebate.partner p WHERE p.tenant_id = t.id AND p.state = 'active' ORDER BY p.id;
        -- the items: six products per partner warehouse, each with its own level, growth and noise
        CREATE TEMP TABLE sample_item ON COMMIT DROP AS
        SELECT w.id AS warehouse_id, w.partner_id, pr.id AS product_id,
               (20 + random() * 80)::numeric AS base, (random() * 0.03 - 0.005)::numeric AS growth,
               (0.2 + random() * 0.3)::numeric AS swing
          FROM rebate.warehouse w
         CROSS JOIN LATERAL (SELECT x.id FROM rebate.product x WHERE x.tenant_id = t.id
                              ORDER BY (x.id * 7 + w.id * 13) % 17, x.id LIMIT 6) pr
         WHERE w.tenant_id = t.id AND w.partner_id IS NOT NULL;
        CREATE TEMP TABLE sample_month ON COMMIT DROP AS
        SELECT i.*, m.n, (DATE '2023-12-01' + make_interval(months => m.n))::date AS month,
               -- trend x season (peak in July) x noise, whole units
               greatest(0, round(i.base * (1 + i.growth * m.n)
                                 * (1 + i.swing * cos(2 * pi() * (extract(month FROM DATE '2023-12-01' + make_interval(months => m.n)) - 7) / 12))::numeric
                                 * (0.9 + random() * 0.2)::numeric)) AS sold
          FROM sample_item i CROSS JOIN generate_series(0, 35) AS m (n);
        -- receipts on the 1st cover the month's sales and keep some stock; sell-out reported on the 25th
        INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, partner_id, product_id, moved_on, kind, quantity, source, reference)
        SELECT t.id, s.warehouse_id, s.partner_id, s.product_id, s.month, 'receipt',
               s.sold + CASE WHEN s.n = 0 THEN round(s.base) ELSE 0 END + 1, 'entry', 'GRN-' || to_char(s.month, 'YYYYMM')
          FROM sample_month s ORDER BY s.month, s.warehouse_id, s.product_id;
        INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, partner_id, product_id, moved_on, kind, quantity, source, reference)
        SELECT t.id, s.warehouse_id, s.partner_id, s.product_id, s.month + 24, 'sell_out', -s.sold, 'report',
               'SO-' || to_char(s.month, 'YYYYMM')
          FROM sample_month s WHERE s.sold > 0 ORDER BY s.month, s.warehouse_id, s.product_id;
        -- the brand's central stock
        INSERT INTO rebate.stock_movement (tenant_id, warehouse_id, product_id, moved_on, kind, quantity, source, reference)
        SELECT t.id, w.id, p.id, DATE '2026-11-02', 'receipt', 2000, 'entry', 'GRN-CENTRAL'
          FROM rebate.warehouse w JOIN rebate.product p ON p.tenant_id = w.tenant_id
         WHERE w.tenant_id = t.id AND w.partner_id IS NULL;
        -- safety stock for every partner warehouse, by category
        INSERT INTO rebate.stock_threshold (tenant_id, warehouse_id, partner_id, category_id, minimum, reorder_point, maximum,
                                            lead_days, cycle_days)
        SELECT t.id, w.id, w.partner_id, c.id, 30, 60, 400, 10, 30
          FROM rebate.warehouse w JOIN rebate.product_category c ON c.tenant_id = w.tenant_id AND c.parent_id IS NULL
         WHERE w.tenant_id = t.id AND w.partner_id IS NOT NULL;
        INSERT INTO rebate.stock_sharing (tenant_id, partner_id, granted_by, note)
        SELECT t.id, w.partner_id, 'rebate_sample', 'sample: shares its stock'
          FROM rebate.warehouse w WHERE w.tenant_id = t.id AND w.partner_id IS NOT NULL AND w.id % 3 = 0;
        DROP TABLE sample_item, sample_month;
    END LOOP;
    RETURN QUERY
    SELECT tn.code,
           (SELECT count(*) FROM rebate.warehouse w WHERE w.tenant_id = tn.id),
           (SELECT count(*) FROM rebate.stock_movement m WHERE m.tenant_id = tn.id),
           (SELECT count(*) FROM rebate.stock_balance b WHERE b.tenant_id = tn.id),
           (SELECT count(*) FROM rebate.stock_sharing s WHERE s.tenant_id = tn.id)
      FROM rebate.tenant tn WHERE tn.code IN ('HUAGUANG', 'QINGHE') ORDER BY tn.id;
END
$$;
COMMENT ON FUNCTION rebate_sample.inventory(double precision) IS
    'Warehouses, three years of monthly receipts and sell-out with trend and season, thresholds and sharing for the sample brands';
