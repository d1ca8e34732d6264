-- Errors a new user meets defining, trying and settling programs: each names
-- what is wrong and what is allowed, without quoting whole rows.
SET search_path = public, rebate;
SET datestyle = ISO;
INSERT INTO tenant (id, code, name) VALUES (31, 'ERR', '错误示例');
UPDATE enforcement_setting SET territory = 'allow', product_region = 'allow', credit = 'allow' WHERE tenant_id = 31;
INSERT INTO region (id, tenant_id, code, name, level) VALUES (3100, 31, 'CN', '中国', 'country');
INSERT INTO partner (id, tenant_id, code, name, kind, home_region_id, state, credit_limit) VALUES
    (3101, 31, 'P1', '经销一', 'dealer', 3100, 'active', 1000000);
INSERT INTO product_category (id, tenant_id, code, name) VALUES (3102, 31, 'ALL', '全部');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES (3103, 31, 'X', '产品X', 3102, 100);
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date, status) VALUES
    (3104, 31, 'O1', 3101, 3100, '2026-02-10', 'approved');
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES (31, 3104, 1, 3103, 10, 100);
INSERT INTO program (id, tenant_id, code, name) VALUES (3105, 31, 'VOL', '阶梯');

-- a value outside a column's vocabulary: the values it takes, in DETAIL
SELECT * FROM error_of($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule)
                         VALUES (31, 3105, '[2026-01-01,)', 'net_sales', 'tierd', 'retroactive 0:1%')$$);
SELECT * FROM error_of($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule)
                         VALUES (31, 3105, '[2026-01-01,)', 'net_sale', 'tiered', 'retroactive 0:1%')$$);
SELECT * FROM error_of($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, period_unit)
                         VALUES (31, 3105, '[2026-01-01,)', 'net_sales', 'tiered', 'retroactive 0:1%', 'week')$$);

-- the new forms, refused where they cannot apply
INSERT INTO program_group (id, tenant_id, code, name, rule) VALUES (3107, 31, 'MAXG', '取其优', 'max');
SELECT * FROM error_of($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, guarantee_carry)
                         VALUES (31, 3105, '[2026-01-01,)', 'net_sales', 'tiered', 'retroactive 0:1%', 'shortfall')$$);
SELECT * FROM error_of($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, guarantee, group_id)
                         VALUES (31, 3105, '[2026-01-01,)', 'net_sales', 'tiered', 'retroactive 0:1%', 100, 3107)$$);
SELECT * FROM error_of($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, guarantee, cap)
                         VALUES (31, 3105, '[2026-01-01,)', 'net_sales', 'tiered', 'retroactive 0:1%', 100, 50)$$);
SELECT * FROM error_of($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, group_id, reduces_later)
                         VALUES (31, 3105, '[2026-01-01,)', 'net_sales', 'tiered', 'retroactive 0:1%', 3107, false)$$);
SELECT * FROM error_of($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, payout_metric, kind, schedule)
                         VALUES (31, 3105, '[2026-01-01,)', 'collected', 'net_sales', 'tiered', 'retroactive 0:1%')$$);
SELECT * FROM error_of($$INSERT INTO rebate.program_version (tenant_id, program_id, effective, metric, kind, schedule, guarantee_carry)
                         VALUES (31, 3105, '[2026-01-01,)', 'net_sales', 'tiered', 'retroactive 0:1%', 'rolling')$$);

INSERT INTO program_version (id, tenant_id, program_id, effective, metric, kind, schedule, period_unit)
VALUES (3106, 31, 3105, '[2026-01-01,)', 'net_sales', 'tiered', 'retroactive 0:1%', 'month');
SELECT status FROM activate_program_version(3106);

-- a trial run and a revision name definition columns only: a misspelt key is an error
SELECT * FROM error_of($$SELECT * FROM rebate.simulate(3105, '[2026-02-01,2026-03-01)', NULL, '{"schedul": "retroactive 0:3%"}')$$);
SELECT * FROM error_of($$SELECT * FROM rebate.simulate(3105, '[2026-02-01,2026-03-01)', NULL, '{"tenant_id": 1}')$$);
SELECT * FROM error_of($$SELECT * FROM rebate.simulate(3105, '[2026-02-01,2026-03-01)', NULL, '["schedule"]')$$);
SELECT * FROM error_of($$SELECT rebate.revise_program(3105, '{"shedule": "retroactive 0:3%"}')$$);
SELECT partner_id, basis, rebate
  FROM simulate(3105, '[2026-02-01,2026-03-01)', NULL, '{"schedule": "retroactive 0:3%"}');

-- progress of a partner that does not exist (or that the caller may not see)
SELECT * FROM error_of($$SELECT * FROM rebate.progress(999, '2026-02-28')$$);

-- closing: whole months, once they have ended, in order
SELECT * FROM error_of($$SELECT * FROM rebate.close_period(31, '[2026-01-15,2026-02-15)')$$);
SELECT * FROM error_of($$SELECT * FROM rebate.close_period(31, '[2099-01-01,2099-02-01)', early => true)$$);
SELECT statements, lines, total FROM close_period(31, '[2026-01-01,2026-04-01)');
SELECT issue_statements(31, '[2026-01-01,2026-04-01)');
SELECT * FROM error_of($$SELECT * FROM rebate.close_period(31, '[2026-02-01,2026-03-01)')$$);
SELECT * FROM error_of($$SELECT * FROM rebate.close_period(31, '[2025-12-01,2026-01-01)')$$);
