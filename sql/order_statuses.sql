-- order_statuses: the one owner of the order-status sets (src/order_status.c);
-- order_counts and the C policy triggers read the same table.
SET search_path = public, rebate;

SELECT set_name, rebate.order_statuses(set_name) AS statuses
  FROM unnest(ARRAY['all', 'live', 'open', 'holdable', 'counted', 'locked', 'receivable', 'delivered', 'placed'])
       AS s(set_name);

-- every status of the lifecycle, and which sets it is in
SELECT status, rebate.order_counts(status) AS counts_for_rebates,
       array(SELECT s FROM unnest(ARRAY['live', 'open', 'holdable', 'counted', 'locked', 'receivable', 'delivered', 'placed']) s
              WHERE status = ANY (rebate.order_statuses(s))) AS sets
  FROM unnest(rebate.order_statuses('all')) WITH ORDINALITY AS a(status, n)
 ORDER BY n;

-- set names are matched case-insensitively; anything else is refused
SELECT rebate.order_statuses('Counted') = rebate.order_statuses('counted') AS same;
SELECT * FROM error_of($$SELECT rebate.order_statuses('shipped')$$);
SELECT rebate.order_statuses(NULL) IS NULL AS strict;

-- planned as a constant: the set is folded into the query
EXPLAIN (COSTS OFF) SELECT 1 FROM rebate.sales_order o WHERE o.status = ANY (rebate.order_statuses('counted'));
