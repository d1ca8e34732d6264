-- Every refusal of the policy triggers, with SQLSTATE, message, detail and hint.
SET search_path = public, rebate;
\x on
BEGIN;
INSERT INTO tenant (id, code, name) VALUES (901, 'ER', '错误测试');
INSERT INTO region (id, tenant_id, code, name, level) VALUES (9100, 901, 'CN', '中国', 'country');
INSERT INTO region (id, tenant_id, code, name, level, parent_id) VALUES
    (9110, 901, 'EAST', '华东', 'area', 9100), (9120, 901, 'SOUTH', '华南', 'area', 9100);
INSERT INTO partner (id, tenant_id, code, name, home_region_id, state, credit_limit, state_changed_at) VALUES
    (9201, 901, 'PA', '华东经销', 9110, 'active', 1000, '2025-06-01'),
    (9202, 901, 'PX', '退出经销', 9110, 'exited', 0, '2026-01-15 10:00+08');
INSERT INTO partner_territory (tenant_id, partner_id, region_id, valid) VALUES
    (901, 9201, 9110, '[2026-01-01,2026-07-01)'), (901, 9201, 9120, '[2025-01-01,2026-01-01)');
INSERT INTO product_category (id, tenant_id, code, name) VALUES (9300, 901, 'C', '品类');
INSERT INTO product (id, tenant_id, sku, name, category_id, list_price) VALUES
    (9401, 901, 'SKU-1', '产品一', 9300, 100), (9402, 901, 'SKU-2', '产品二', 9300, 100);
INSERT INTO product_region (tenant_id, product_id, region_id) VALUES (901, 9402, 9120);
INSERT INTO price_policy (id, tenant_id, code, product_id, price, floor_price, ceiling_price, valid) VALUES
    (9501, 901, 'P1', 9401, 90, 80, 120, '[2026-01-01,2027-01-01)');
INSERT INTO sales_order (id, tenant_id, code, partner_id, ship_to_region_id, order_date)
VALUES (9601, 901, 'SO-E1', 9201, 9110, '2026-02-01');
UPDATE enforcement_setting SET no_price_policy = 'reject', credit = 'reject' WHERE tenant_id = 901;

SELECT * FROM error_of($$INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
                         VALUES (901, 9601, 1, 9401, 2, 79.5)$$);
SELECT * FROM error_of($$INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
                         VALUES (901, 9601, 1, 9401, 2, 120.01)$$);
SELECT * FROM error_of($$INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
                         VALUES (901, 9601, 1, 9402, 2, 50)$$);
UPDATE enforcement_setting SET no_price_policy = 'allow' WHERE tenant_id = 901;
SELECT * FROM error_of($$INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
                         VALUES (901, 9601, 1, 9402, 2, 50)$$);
SELECT * FROM error_of($$INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date)
                         VALUES (901, 'SO-E2', 9201, 9120, '2026-02-01')$$);
SELECT * FROM error_of($$INSERT INTO rebate.sales_order (tenant_id, code, partner_id, ship_to_region_id, order_date)
                         VALUES (901, 'SO-E3', 9202, 9110, '2026-02-01')$$);
INSERT INTO order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price) VALUES (901, 9601, 1, 9401, 20, 90);
SELECT * FROM error_of($$UPDATE rebate.sales_order SET status = 'submitted' WHERE id = 9601$$);
UPDATE enforcement_setting SET credit = 'allow' WHERE tenant_id = 901;
UPDATE sales_order SET status = 'submitted' WHERE id = 9601;
UPDATE sales_order SET status = 'approved' WHERE id = 9601;
UPDATE sales_order SET status = 'shipped' WHERE id = 9601;
SELECT * FROM error_of($$DELETE FROM rebate.order_line WHERE order_id = 9601$$);
SELECT * FROM error_of($$UPDATE rebate.sales_order SET ship_to_region_id = 9120 WHERE id = 9601$$);
SELECT * FROM error_of($$SELECT rebate.resolve_violation(-1, 'approve')$$);

CREATE TABLE public.app_orders (id bigint, dealer bigint, item bigint, price text);
CREATE TRIGGER judge BEFORE INSERT ON public.app_orders FOR EACH ROW
    EXECUTE FUNCTION rebate.enforce_price_policy('partner_id=dealer', 'product_id=item', 'unit_price=price');
SELECT * FROM error_of($$INSERT INTO public.app_orders VALUES (1, 9201, 9401, '90')$$);
DROP TRIGGER judge ON public.app_orders;
CREATE TRIGGER judge BEFORE INSERT ON public.app_orders FOR EACH ROW
    EXECUTE FUNCTION rebate.enforce_price_policy('partner=dealer');
SELECT * FROM error_of($$INSERT INTO public.app_orders VALUES (1, 9201, 9401, '90')$$);
DROP TRIGGER judge ON public.app_orders;
CREATE TRIGGER judge BEFORE INSERT ON public.app_orders FOR EACH ROW
    EXECUTE FUNCTION rebate.enforce_region_policy('partner_id=dealer', 'product_id=item');
SELECT * FROM error_of($$INSERT INTO public.app_orders VALUES (1, 9201, 9401, '90')$$);
DROP TRIGGER judge ON public.app_orders;
CREATE TRIGGER judge AFTER INSERT ON public.app_orders FOR EACH ROW
    EXECUTE FUNCTION rebate.enforce_region_policy('partner_id=dealer', 'product_id=item');
SELECT * FROM error_of($$INSERT INTO public.app_orders VALUES (1, 9201, 9401, '90')$$);
ROLLBACK;
