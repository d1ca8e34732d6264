-- metrics: the one catalog of metrics (src/metrics.c) and its SQL faces.
SET search_path = public, rebate;

SELECT name, unit, basis, program, target, scoring, product_scope, needs_cost, last_year, alias
  FROM rebate.metric;
SELECT use, rebate.metric_names(use) AS metrics
  FROM unnest(ARRAY['all', 'program', 'target', 'scoring', 'product_scope', 'needs_cost', 'last_year', 'money_basis'])
       AS u(use);

-- older names are accepted as input and name the catalog's metric
SELECT given, rebate.metric_name(given) AS name
  FROM unnest(ARRAY['net_sales', 'sales_amount', 'collected_amount', 'growth', 'Net_Sales', 'revenue']) AS g(given);

SELECT * FROM error_of($$SELECT rebate.metric_names('targets')$$);
SELECT rebate.metric_names('Program') = rebate.metric_names('program') AS same;

-- every metric is described in Chinese and English
SELECT name FROM rebate.metric WHERE description !~ '[\u4e00-\u9fff]' OR description !~ '[A-Za-z]{3}';

-- the CHECK constraints are planned with the list itself
SET enable_indexscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT 1 FROM rebate.target t WHERE t.metric = ANY (rebate.metric_names('target'));
