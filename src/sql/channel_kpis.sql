-- ---------------------------------------------------------------------------
-- Channel performance: KPI aggregates in C.
--
-- rebate.channel_kpis computes, in one pass over order lines and payments
-- (rebate.channel_fact), what a channel performance row needs; growth,
-- achievement and weighted_score end in one ratio each.  Their states are
-- internal C structs updated in place, with combine, serialize and
-- deserialize functions so that parallel workers aggregate in parts.
-- Money is summed exactly; rates and averages are rounded once, half away
-- from zero, to 4 decimal places.
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.kpis AS (
    net_sales           numeric,
    gross_sales         numeric,
    returns             numeric,
    credit_notes        numeric,
    gross_margin        numeric,
    margin_rate         numeric,
    quantity            numeric,
    lines               bigint,
    orders              bigint,
    average_order_value numeric,
    return_rate         numeric,
    collected           numeric,
    collection_rate     numeric,
    payments            bigint,
    promised_deliveries bigint,
    on_time_deliveries  bigint,
    on_time_rate        numeric,
    products            bigint
);
COMMENT ON TYPE @extschema@.kpis IS
    'Channel KPIs of a group (rebate.channel_kpis): sales, returns, margin, orders, collections, on-time delivery, distinct products';
COMMENT ON COLUMN @extschema@.kpis.net_sales IS 'Net sales 净销售额: gross sales - returns - credit notes';
COMMENT ON COLUMN @extschema@.kpis.gross_sales IS 'Gross sales 销售额: the amounts of order lines';
COMMENT ON COLUMN @extschema@.kpis.returns IS 'Returns 退货额: the amounts of return lines, positive';
COMMENT ON COLUMN @extschema@.kpis.credit_notes IS 'Credit notes 折让: the amounts of credit-note lines, positive';
COMMENT ON COLUMN @extschema@.kpis.gross_margin IS 'Gross margin 毛利: amount - cost over lines with a cost (credit notes: their amount); NULL when no line has a cost';
COMMENT ON COLUMN @extschema@.kpis.margin_rate IS 'Margin rate 毛利率: gross margin / net sales of the lines with a cost; NULL when that is 0 or less';
COMMENT ON COLUMN @extschema@.kpis.quantity IS 'Net quantity 净数量: ordered less returned';
COMMENT ON COLUMN @extschema@.kpis.lines IS 'Order, return and credit-note lines counted';
COMMENT ON COLUMN @extschema@.kpis.orders IS 'Distinct orders 订单数 (kind order)';
COMMENT ON COLUMN @extschema@.kpis.average_order_value IS 'Average order value 客单价: gross sales / orders; NULL without orders';
COMMENT ON COLUMN @extschema@.kpis.return_rate IS 'Return rate 退货率: returns / gross sales; NULL without sales';
COMMENT ON COLUMN @extschema@.kpis.collected IS 'Collected 回款额: the payments received';
COMMENT ON COLUMN @extschema@.kpis.collection_rate IS 'Collection rate 回款率: collected / net sales; NULL when net sales are 0 or less';
COMMENT ON COLUMN @extschema@.kpis.payments IS 'Payments counted';
COMMENT ON COLUMN @extschema@.kpis.promised_deliveries IS 'Orders with a promised date that were delivered';
COMMENT ON COLUMN @extschema@.kpis.on_time_deliveries IS 'Of those, orders delivered on or before the promised date';
COMMENT ON COLUMN @extschema@.kpis.on_time_rate IS 'On-time delivery rate 准时交付率: on-time / promised deliveries; NULL without any';
COMMENT ON COLUMN @extschema@.kpis.products IS 'Distinct products sold 动销品种数 (on order lines)';

CREATE FUNCTION @extschema@.channel_kpis_trans(pg_catalog.internal, text, bigint, bigint, numeric, numeric, numeric,
                                               date, date)
    RETURNS pg_catalog.internal
    AS 'MODULE_PATHNAME', 'channel_kpis_trans' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION @extschema@.channel_kpis_combine(pg_catalog.internal, pg_catalog.internal) RETURNS pg_catalog.internal
    AS 'MODULE_PATHNAME', 'channel_kpis_combine' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION @extschema@.channel_kpis_serialize(pg_catalog.internal) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'channel_kpis_serialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.channel_kpis_deserialize(pg_catalog.bytea, pg_catalog.internal) RETURNS pg_catalog.internal
    AS 'MODULE_PATHNAME', 'channel_kpis_deserialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.channel_kpis_final(pg_catalog.internal) RETURNS @extschema@.kpis
    AS 'MODULE_PATHNAME', 'channel_kpis_final' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.channel_kpis_trans(pg_catalog.internal, text, bigint, bigint, numeric, numeric, numeric, date, date) IS
    'Transition function of rebate.channel_kpis';
COMMENT ON FUNCTION @extschema@.channel_kpis_combine(pg_catalog.internal, pg_catalog.internal) IS
    'Combines two partial rebate.channel_kpis states (parallel aggregation)';
COMMENT ON FUNCTION @extschema@.channel_kpis_serialize(pg_catalog.internal) IS
    'Serializes a partial rebate.channel_kpis state for a parallel worker';
COMMENT ON FUNCTION @extschema@.channel_kpis_deserialize(pg_catalog.bytea, pg_catalog.internal) IS
    'Reads a state rebate.channel_kpis_serialize wrote';
COMMENT ON FUNCTION @extschema@.channel_kpis_final(pg_catalog.internal) IS
    'Final function of rebate.channel_kpis: the rebate.kpis composite';

CREATE AGGREGATE @extschema@.channel_kpis(kind text, order_id bigint, product_id bigint, quantity numeric,
                                          amount numeric, cost numeric, promised_on date, delivered_on date) (
    SFUNC = @extschema@.channel_kpis_trans,
    STYPE = pg_catalog.internal,
    FINALFUNC = @extschema@.channel_kpis_final,
    COMBINEFUNC = @extschema@.channel_kpis_combine,
    SERIALFUNC = @extschema@.channel_kpis_serialize,
    DESERIALFUNC = @extschema@.channel_kpis_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.channel_kpis(text, bigint, bigint, numeric, numeric, numeric, date, date) IS
    'Channel KPIs in one pass over rebate.channel_fact rows (kind order/return/credit_note/payment, order, product, signed quantity, amount and cost, promised and delivery dates): a rebate.kpis; NULL for no rows';

-- growth, achievement, weighted_score: one state (two exact sums), three meanings
CREATE FUNCTION @extschema@.ratio_combine(pg_catalog.internal, pg_catalog.internal) RETURNS pg_catalog.internal
    AS 'MODULE_PATHNAME', 'ratio_combine' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION @extschema@.ratio_serialize(pg_catalog.internal) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'ratio_serialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ratio_deserialize(pg_catalog.bytea, pg_catalog.internal) RETURNS pg_catalog.internal
    AS 'MODULE_PATHNAME', 'ratio_deserialize' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.ratio_combine(pg_catalog.internal, pg_catalog.internal) IS
    'Combines two partial states of rebate.growth, achievement or weighted_score';
COMMENT ON FUNCTION @extschema@.ratio_serialize(pg_catalog.internal) IS
    'Serializes a partial state of rebate.growth, achievement or weighted_score';
COMMENT ON FUNCTION @extschema@.ratio_deserialize(pg_catalog.bytea, pg_catalog.internal) IS
    'Reads a state rebate.ratio_serialize wrote';

CREATE FUNCTION @extschema@.growth_trans(pg_catalog.internal, numeric, boolean) RETURNS pg_catalog.internal
    AS 'MODULE_PATHNAME', 'growth_trans' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION @extschema@.growth_final(pg_catalog.internal) RETURNS numeric
    AS 'MODULE_PATHNAME', 'growth_final' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.growth_trans(pg_catalog.internal, numeric, boolean) IS 'Transition function of rebate.growth';
COMMENT ON FUNCTION @extschema@.growth_final(pg_catalog.internal) IS 'Final function of rebate.growth';
CREATE AGGREGATE @extschema@.growth(amount numeric, is_current boolean) (
    SFUNC = @extschema@.growth_trans,
    STYPE = pg_catalog.internal,
    FINALFUNC = @extschema@.growth_final,
    COMBINEFUNC = @extschema@.ratio_combine,
    SERIALFUNC = @extschema@.ratio_serialize,
    DESERIALFUNC = @extschema@.ratio_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.growth(numeric, boolean) IS
    'Growth of the current over the comparison period in one pass: (current - comparison) / |comparison|, 4 places; NULL when the comparison sum is 0 or has no rows; rows with a NULL amount or flag skipped';

CREATE FUNCTION @extschema@.achievement_trans(pg_catalog.internal, numeric, numeric) RETURNS pg_catalog.internal
    AS 'MODULE_PATHNAME', 'achievement_trans' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION @extschema@.achievement_final(pg_catalog.internal) RETURNS numeric
    AS 'MODULE_PATHNAME', 'achievement_final' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.achievement_trans(pg_catalog.internal, numeric, numeric) IS 'Transition function of rebate.achievement';
COMMENT ON FUNCTION @extschema@.achievement_final(pg_catalog.internal) IS 'Final function of rebate.achievement';
CREATE AGGREGATE @extschema@.achievement(actual numeric, target numeric) (
    SFUNC = @extschema@.achievement_trans,
    STYPE = pg_catalog.internal,
    FINALFUNC = @extschema@.achievement_final,
    COMBINEFUNC = @extschema@.ratio_combine,
    SERIALFUNC = @extschema@.ratio_serialize,
    DESERIALFUNC = @extschema@.ratio_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.achievement(numeric, numeric) IS
    'Target achievement of a group: sum(actual) / sum(target), 4 places; NULL when the targets add up to 0 or less (no target); NULLs skipped per argument';

CREATE FUNCTION @extschema@.weighted_score_trans(pg_catalog.internal, numeric, numeric) RETURNS pg_catalog.internal
    AS 'MODULE_PATHNAME', 'weighted_score_trans' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION @extschema@.weighted_score_final(pg_catalog.internal) RETURNS numeric
    AS 'MODULE_PATHNAME', 'weighted_score_final' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.weighted_score_trans(pg_catalog.internal, numeric, numeric) IS 'Transition function of rebate.weighted_score';
COMMENT ON FUNCTION @extschema@.weighted_score_final(pg_catalog.internal) IS 'Final function of rebate.weighted_score';
CREATE AGGREGATE @extschema@.weighted_score(value numeric, weight numeric) (
    SFUNC = @extschema@.weighted_score_trans,
    STYPE = pg_catalog.internal,
    FINALFUNC = @extschema@.weighted_score_final,
    COMBINEFUNC = @extschema@.ratio_combine,
    SERIALFUNC = @extschema@.ratio_serialize,
    DESERIALFUNC = @extschema@.ratio_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.weighted_score(numeric, numeric) IS
    'Weighted mean: sum(value x weight) / sum(weight) over rows with both, 4 places; NULL when the weights add up to 0; a negative weight is an error (22023)';

-- The facts channel KPIs are computed from: order, return and credit-note
-- lines of documents that count (rebate.order_counts: approved and later,
-- as for rebates), signed as in rebate.sales_fact, and payments.  Lines are
-- in the ship-to region; payments in the partner's home region.
-- channel_fact_all is every tenant's, readable by the extension's owner only:
-- the reporting views aggregate over it and then show each user what it may
-- see (ranks need everyone's numbers).
CREATE VIEW @extschema@.channel_fact_all AS
SELECT l.tenant_id, o.partner_id, o.kind, o.order_date AS day, o.ship_to_region_id AS region_id, o.currency,
       o.id AS order_id, l.id AS order_line_id, NULL::bigint AS payment_id, l.product_id,
       CASE o.kind WHEN 'return' THEN -l.quantity WHEN 'credit_note' THEN 0 ELSE l.quantity END AS quantity,
       CASE WHEN o.kind = 'order' THEN l.amount ELSE -l.amount END AS amount,
       CASE o.kind WHEN 'return' THEN -l.quantity WHEN 'credit_note' THEN 0 ELSE l.quantity END * l.unit_cost AS cost,
       o.promised_on, o.delivered_on
  FROM @extschema@.order_line l
  JOIN @extschema@.sales_order o ON o.id = l.order_id AND o.tenant_id = l.tenant_id
 WHERE @extschema@.order_counts(o.status)
UNION ALL
SELECT p.tenant_id, p.partner_id, 'payment', p.received_on, pa.home_region_id, p.currency,
       NULL, NULL, p.id, NULL, NULL, p.amount, NULL, NULL, NULL
  FROM @extschema@.payment p
  JOIN @extschema@.partner pa ON pa.id = p.partner_id AND pa.tenant_id = p.tenant_id;
REVOKE ALL ON @extschema@.channel_fact_all FROM PUBLIC;
COMMENT ON VIEW @extschema@.channel_fact_all IS
    'Internal (the extension owner''s): rebate.channel_fact for every tenant, unfiltered, that the reporting views aggregate';

-- What each user may see of it: the rows the tenant_read policies would
-- show (group admins all, managers their tenant, partner users their partner
-- subtree), and costs only to roles that may read order_line.unit_cost.
-- The session functions sit in scalar subqueries, so they run once per query.
CREATE VIEW @extschema@.channel_fact WITH (security_barrier) AS
SELECT f.tenant_id, f.partner_id, f.kind, f.day, f.region_id, f.currency, f.order_id, f.order_line_id, f.payment_id,
       f.product_id, f.quantity, f.amount,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN f.cost END AS cost,
       f.promised_on, f.delivered_on
  FROM @extschema@.channel_fact_all f
 WHERE (SELECT @extschema@.is_group_admin())
    OR (f.tenant_id = (SELECT @extschema@.current_tenant_id())
        AND ((SELECT @extschema@.is_tenant_manager()) OR f.partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[])));
COMMENT ON VIEW @extschema@.channel_fact IS
    'What channel KPIs are computed from: lines of counted orders, returns and credit notes (signed), and payments, as far as the user may see them (costs only to roles that may read them); feed it to rebate.channel_kpis';
COMMENT ON COLUMN @extschema@.channel_fact.kind IS 'order, return, credit_note (lines) or payment';
COMMENT ON COLUMN @extschema@.channel_fact.day IS 'The order date of lines, the day received of payments';
COMMENT ON COLUMN @extschema@.channel_fact.region_id IS 'The ship-to region of lines; the partner''s home region for payments';
COMMENT ON COLUMN @extschema@.channel_fact.quantity IS 'Quantity; negative for returns, 0 for credit notes; NULL for payments';
COMMENT ON COLUMN @extschema@.channel_fact.amount IS 'Line amount (negative for returns and credit notes) or payment amount';
COMMENT ON COLUMN @extschema@.channel_fact.cost IS 'Cost of the goods on the line, signed like quantity; NULL where the line has no cost or the user may not see costs';
GRANT SELECT ON @extschema@.channel_fact TO rebate_admin, rebate_manager, rebate_partner;

-- The same KPIs from sums already made: the rollups' (reports, scoring).
CREATE FUNCTION @extschema@.kpis_of(gross_sales numeric, returns numeric, credit_notes numeric, costed_amount numeric,
                                    cost numeric, costed_lines bigint, quantity numeric, lines bigint, orders bigint,
                                    collected numeric, payments bigint, promised_deliveries bigint,
                                    on_time_deliveries bigint, products bigint)
    RETURNS @extschema@.kpis
    AS 'MODULE_PATHNAME', 'kpis_of' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.kpis_of(numeric, numeric, numeric, numeric, numeric, bigint, numeric, bigint, bigint,
                                        numeric, bigint, bigint, bigint, bigint) IS
    'rebate.kpis from sums (gross sales, returns and credit notes positive, the amount and cost of lines with a cost, their count, net quantity, lines, distinct orders, collected, payments, promised and on-time deliveries, distinct products), with the rates of rebate.channel_kpis; NULL sums count as 0';

-- The rollups as channel facts: the rows of rebate.sales_rollup that hold what
-- rebate.channel_fact_all holds (orders on their date, returns and credit
-- notes on their own date, payments in the partner's home region), by day
-- and by month.  A key has a row per writer slot: sum before counting (a
-- product whose lines net to nothing has no line).  No aggregation here, so
-- that a reader's conditions, and its joins, reach the index.  Internal (the
-- extension owner's): the reports and rebate.period_kpis read it and show each
-- user its part.
CREATE VIEW @extschema@.channel_rollup_all AS
SELECT r.tenant_id, r.partner_id, r.unit, r.period_start AS day, r.currency, r.kind, r.product_id,
       -- (looked up only for payments, and only by readers of the region)
       CASE WHEN r.kind = 'payment'
            THEN (SELECT pa.home_region_id FROM @extschema@.partner pa WHERE pa.id = r.partner_id AND pa.tenant_id = r.tenant_id)
            ELSE r.region_id END AS region_id,
       r.quantity, r.amount, r.cost, r.lines, r.costed_amount, r.costed_lines, r.orders, r.promised_deliveries,
       r.on_time_deliveries
  FROM @extschema@.sales_rollup r
 WHERE NOT r.of_sub_partners AND r.date_basis IN ('order', 'document', 'payment')
   -- orders on their date, returns and credit notes on theirs, payments (not the lines by paid day)
   AND CASE r.date_basis WHEN 'order' THEN r.kind = 'order' WHEN 'payment' THEN r.kind = 'payment' ELSE true END;
REVOKE ALL ON @extschema@.channel_rollup_all FROM PUBLIC;
COMMENT ON VIEW @extschema@.channel_rollup_all IS
    'Internal (the extension owner''s): the rollups as channel facts, per partner, day, month, quarter or year, currency, kind, product (0: the distinct-order counts of whole orders), region and writer slot, for every tenant';

-- What each user may see of it, as rebate.channel_fact shows the documents:
-- group admins all, managers their tenant, partner users their partner
-- subtree; costs only to roles that may read them (for the others only credit
-- notes carry margin, as in channel_fact).
CREATE VIEW @extschema@.channel_rollup WITH (security_barrier) AS
SELECT f.tenant_id, f.partner_id, f.unit, f.day, f.currency, f.kind, f.product_id, f.region_id, f.quantity, f.amount,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN f.cost ELSE 0 END AS cost, f.lines,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN f.costed_amount
            WHEN f.kind = 'credit_note' THEN f.amount ELSE 0 END AS costed_amount,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN f.costed_lines
            WHEN f.kind = 'credit_note' THEN f.lines ELSE 0 END AS costed_lines,
       f.orders, f.promised_deliveries, f.on_time_deliveries
  FROM @extschema@.channel_rollup_all f
 WHERE (SELECT @extschema@.is_group_admin())
    OR (f.tenant_id = (SELECT @extschema@.current_tenant_id())
        AND ((SELECT @extschema@.is_tenant_manager()) OR f.partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[])));
COMMENT ON VIEW @extschema@.channel_rollup IS
    'rebate.channel_fact summed (the rollups): per partner, day, month, quarter or year, currency, kind, product and region (a row per writer slot: sum them), as far as the user may see; rebate.kpis_of makes rebate.kpis of its sums (a report of a quarter reads its quarter rows: far fewer than the documents)';
GRANT SELECT ON @extschema@.channel_rollup TO rebate_admin, rebate_manager, rebate_partner;
