-- The KPI aggregates' output and refusals, exactly: rebate.kpis as text,
-- ratios at 4 places, SQLSTATE, message, detail and hint of each error.
SET search_path = public, rebate;
\x on
SELECT channel_kpis(kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on)
  FROM (VALUES ('order', 1, 10, 2.0, 100.00, 60.00, date '2026-01-05', date '2026-01-04'),
               ('return', 2, 10, -1.0, -50.00, -30.00, NULL, NULL),
               ('payment', NULL, NULL, NULL, 30.00, NULL, NULL, NULL))
       AS f (kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on);
SELECT (channel_kpis(kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on)).*
  FROM (VALUES ('order', 1, 10, 3, 99.99, NULL::numeric, NULL::date, NULL::date))
       AS f (kind, order_id, product_id, quantity, amount, cost, promised_on, delivered_on);
\x off
SELECT growth(a, c) AS growth, achievement(a, t) AS achievement, weighted_score(a, t) AS weighted_score
  FROM (VALUES (1, true, 3), (2, false, 3), (2, true, 0)) v (a, c, t);
SELECT growth(a, c) AS no_base, achievement(a, 0) AS zero_target, weighted_score(a, 0) AS zero_weight
  FROM (VALUES (1, true)) v (a, c);
\x on
SELECT * FROM error_of($$SELECT channel_kpis('sale', 1, 1, 1, 1, NULL, NULL, NULL)$$);
SELECT * FROM error_of($$SELECT channel_kpis('order', 1, 1, 1, 'Infinity', NULL, NULL, NULL)$$);
SELECT * FROM error_of($$SELECT weighted_score(80, -0.5)$$);
SELECT * FROM error_of($$SELECT weighted_score('NaN', 1)$$);
\x off
