-- ---------------------------------------------------------------------------
-- Metrics: one vocabulary for what programs pay on, targets measure, scoring
-- models score and views report.  The catalog is src/metrics.c; here are
-- its SQL faces.  rebate.metric_names(use) is IMMUTABLE, so a CHECK or a
-- query that says  metric = ANY (rebate.metric_names('target'))  is planned
-- with the list itself.
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.metric_names(metric_use text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'rebate_metric_names' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.metric_names(text) IS
    'The metrics with a use, in catalog order: all, program (programs pay on it), target (targets are kept), scoring, product_scope (counted from order lines), needs_cost, last_year (compared with a year earlier), money_basis (a cascade reduces it by what earlier programs paid)';

CREATE FUNCTION @extschema@.metric_name(given text) RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_metric_name' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.metric_name(text) IS
    'The catalog name of a metric given by its name or an older alias (sales_amount -> net_sales, collected_amount -> collected); NULL if it is neither';

CREATE FUNCTION @extschema@.metrics(OUT name text, OUT description text, OUT unit text, OUT basis text,
                                    OUT program boolean, OUT target boolean, OUT scoring boolean,
                                    OUT product_scope boolean, OUT needs_cost boolean, OUT last_year boolean,
                                    OUT money_basis boolean, OUT alias text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'rebate_metrics' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 16;
COMMENT ON FUNCTION @extschema@.metrics() IS 'The metric catalog, one row per metric (the view rebate.metric)';

-- How a metric's value is computed (the catalog's basis column): the branch
-- rebate.program_basis and rebate.verify_basis take for it.
CREATE FUNCTION @extschema@.metric_basis(metric text) RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_metric_basis' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.metric_basis(text) IS
    'How a metric''s value is computed: line_amount, line_margin, line_quantity, payments, customers, kpis or inventory; NULL for a name not in the catalog';

CREATE VIEW @extschema@.metric WITH (security_invoker = true) AS SELECT * FROM @extschema@.metrics();
COMMENT ON VIEW @extschema@.metric IS
    '指标 The metrics programs pay on, targets measure, scoring models score and views report';
COMMENT ON COLUMN @extschema@.metric.name IS '指标 The metric''s name, as program_version.metric, target.metric and scoring_kpi.kpi say it';
COMMENT ON COLUMN @extschema@.metric.description IS '说明 What the metric measures';
COMMENT ON COLUMN @extschema@.metric.unit IS '单位 amount (in the program''s currency), quantity, count or ratio';
COMMENT ON COLUMN @extschema@.metric.basis IS '计算口径 How its value is computed: line_amount, line_margin, line_quantity (order lines), payments, customers, kpis (a rebate.kpis field), or inventory (rebate.inventory_kpis)';
COMMENT ON COLUMN @extschema@.metric.program IS '返利指标 Whether programs pay on it (program_version.metric)';
COMMENT ON COLUMN @extschema@.metric.target IS '目标 Whether targets are kept for it (rebate.target), so overachievement can measure it';
COMMENT ON COLUMN @extschema@.metric.scoring IS '评分 Whether scoring models score it (scoring_kpi.kpi)';
COMMENT ON COLUMN @extschema@.metric.product_scope IS '按产品 Whether it is counted from order lines, so a program may scope it by product or category';
COMMENT ON COLUMN @extschema@.metric.needs_cost IS '需成本 Whether it reads the cost of the goods (order_line.unit_cost)';
COMMENT ON COLUMN @extschema@.metric.last_year IS '同比 Whether it is compared with the same period a year earlier';
COMMENT ON COLUMN @extschema@.metric.money_basis IS '金额基数 Whether its basis is money, which a cascade reduces by what earlier programs of the group paid';
COMMENT ON COLUMN @extschema@.metric.alias IS '旧名 An older name still accepted as input, or NULL';
GRANT SELECT ON @extschema@.metric TO rebate_admin, rebate_manager, rebate_partner;
