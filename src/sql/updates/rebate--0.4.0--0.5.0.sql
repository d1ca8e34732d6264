\echo Use "ALTER EXTENSION rebate UPDATE" to load this file. \quit
-- ---------------------------------------------------------------------------
-- Channel performance (0.5.0): KPI aggregates in C.
--
-- rebate.channel_kpis computes, in one pass over order lines and payments
-- (rebate.channel_fact), what a channel performance row needs; growth,
-- achievement and weighted_score end in one ratio each.  Their states are
-- internal C structs updated in place, with combine, serialize and
-- deserialize functions so that parallel workers aggregate in parts.
-- Money is summed exactly; rates and averages are rounded once, half away
-- from zero, to 4 decimal places.
-- ---------------------------------------------------------------------------

-- The date the manufacturer promised delivery by: on-time delivery is
-- delivered_on <= promised_on.
ALTER TABLE @extschema@.sales_order ADD COLUMN promised_on date;
ALTER TABLE @extschema@.sales_order ADD CONSTRAINT sales_order_promised_after_order
    CHECK (promised_on >= order_date);
COMMENT ON COLUMN @extschema@.sales_order.promised_on IS
    'The day delivery was promised by (set by the manufacturer); on time means delivered_on <= promised_on';

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
-- ---------------------------------------------------------------------------
-- Scoring and grading (0.5.0): a tenant's scoring model turns each partner's
-- KPIs for a period into scores (against a target, against the tenant's
-- distribution, or by fixed bands), a weighted total (rebate.weighted_score),
-- ranks, a grade band, and a suggested upgrade or downgrade when the partner
-- has been in a better or worse band for the model's number of consecutive
-- periods.  Applying a suggestion goes through rebate.set_partner_grade, so
-- it lands in partner_grade_history like any grade change.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.scoring_model (
    id            bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id     bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code          text NOT NULL CHECK (btrim(code) <> ''),
    name          text NOT NULL CHECK (btrim(name) <> ''),
    period_unit   text NOT NULL DEFAULT 'quarter' CHECK (period_unit IN ('month', 'quarter', 'year')),
    promote_after integer NOT NULL DEFAULT 2 CHECK (promote_after BETWEEN 1 AND 12),
    demote_after  integer NOT NULL DEFAULT 2 CHECK (demote_after BETWEEN 1 AND 12),
    active        boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX scoring_model_one_active ON @extschema@.scoring_model (tenant_id) WHERE active;
COMMENT ON TABLE @extschema@.scoring_model IS
    'A tenant''s partner scoring model (考核模型): the period it scores, and after how many consecutive periods in a better (worse) band a partner is suggested for an upgrade (downgrade); one active model per tenant';

CREATE TABLE @extschema@.scoring_kpi (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    model_id        bigint NOT NULL,
    kpi             text NOT NULL CHECK (kpi IN ('net_sales', 'gross_margin', 'margin_rate', 'quantity', 'orders',
                                                 'average_order_value', 'return_rate', 'collected', 'collection_rate',
                                                 'on_time_rate', 'products', 'growth', 'achievement')),
    weight          numeric(7,4) NOT NULL,
    normalisation   text NOT NULL CHECK (normalisation IN ('target', 'distribution', 'bands')),
    target          numeric,
    cap             numeric NOT NULL DEFAULT 100,
    band_thresholds numeric[],
    band_scores     numeric[],
    lower_is_better boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, model_id, kpi),
    FOREIGN KEY (tenant_id, model_id) REFERENCES @extschema@.scoring_model (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE @extschema@.scoring_kpi IS
    'The KPIs of a scoring model with their weights (adding up to 100) and how each becomes a score of 0 to cap: target (value / target x 100; net_sales, collected and quantity may use the partner''s rebate.target), distribution (cume_dist among the tenant''s partners x 100) or bands (thresholds and their scores)';
COMMENT ON COLUMN @extschema@.scoring_kpi.target IS
    'normalisation target: the value that scores 100 (e.g. 0.95 for collection_rate); NULL for net_sales, collected, quantity means the partner''s own target of the period';
COMMENT ON COLUMN @extschema@.scoring_kpi.band_thresholds IS
    'normalisation bands: ascending thresholds; a value at or above a threshold (at or below, when lower_is_better) scores its band_scores entry';

CREATE TABLE @extschema@.scoring_band (
    id         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id  bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    model_id   bigint NOT NULL,
    grade_id   bigint NOT NULL,
    min_score  numeric(7,2) NOT NULL CHECK (min_score >= 0),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, model_id, grade_id),
    UNIQUE (tenant_id, model_id, min_score),
    FOREIGN KEY (tenant_id, model_id) REFERENCES @extschema@.scoring_model (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, grade_id) REFERENCES @extschema@.partner_grade (tenant_id, id)
);
COMMENT ON TABLE @extschema@.scoring_band IS
    'Grade bands of a scoring model: a total score at or above min_score is in the band of that grade (A/B/C/D); one band starts at 0';

-- Every check a model must pass to score: run at commit for active models
-- (a deferred constraint trigger), so a model is edited in one transaction
-- and judged whole.  22023 with what is wrong and how to fix it.
CREATE FUNCTION @extschema@.check_scoring_model(model_id bigint) RETURNS void
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m       @extschema@.scoring_model;
    k       @extschema@.scoring_kpi;
    total   numeric;
    problem text;
    hint    text;
BEGIN
    SELECT * INTO m FROM @extschema@.scoring_model sm WHERE sm.id = check_scoring_model.model_id;
    IF m.id IS NULL THEN
        RETURN;
    END IF;
    SELECT sum(sk.weight) INTO total FROM @extschema@.scoring_kpi sk WHERE sk.model_id = m.id;
    IF total IS NULL THEN
        problem := 'it has no KPIs';
        hint := 'Add rows to rebate.scoring_kpi for the model.';
    ELSIF total <> 100 THEN
        problem := pg_catalog.format('its weights add up to %s, not 100', pg_catalog.trim_scale(total));
        hint := 'Give the KPIs weights in percent that add up to 100.';
    END IF;
    FOR k IN SELECT * FROM @extschema@.scoring_kpi sk WHERE sk.model_id = m.id ORDER BY sk.kpi LOOP
        EXIT WHEN problem IS NOT NULL;
        IF k.weight <= 0 THEN
            problem := pg_catalog.format('KPI %s has weight %s', k.kpi, k.weight);
            hint := 'Weights must be above 0; remove a KPI rather than weigh it 0.';
        ELSIF k.cap <= 0 THEN
            problem := pg_catalog.format('KPI %s has cap %s', k.kpi, k.cap);
            hint := 'The cap is the highest score a KPI can give, e.g. 100 or 120.';
        ELSIF k.normalisation = 'target' AND k.target IS NULL AND k.kpi NOT IN ('net_sales', 'collected', 'quantity') THEN
            problem := pg_catalog.format('KPI %s is scored against a target but has none', k.kpi);
            hint := 'Set scoring_kpi.target (the value that scores 100); only net_sales, collected and quantity can use the partners'' own targets.';
        ELSIF k.normalisation = 'target' AND k.target <= 0 THEN
            problem := pg_catalog.format('KPI %s has target %s', k.kpi, k.target);
            hint := 'A target must be above 0.';
        ELSIF k.normalisation = 'bands' AND (k.band_thresholds IS NULL OR k.band_scores IS NULL
                 OR pg_catalog.cardinality(k.band_thresholds) = 0
                 OR pg_catalog.cardinality(k.band_thresholds) <> pg_catalog.cardinality(k.band_scores)) THEN
            problem := pg_catalog.format('KPI %s is scored by bands but its thresholds and scores do not pair up', k.kpi);
            hint := 'Give band_thresholds and band_scores of the same length, e.g. {0.8,0.9,1.0} and {60,80,100}.';
        ELSIF k.normalisation = 'bands' AND EXISTS (
                 SELECT 1 FROM pg_catalog.unnest(k.band_thresholds) WITH ORDINALITY AS t (v, i)
                  WHERE t.v IS NULL OR t.v <= k.band_thresholds[t.i - 1]) THEN
            problem := pg_catalog.format('KPI %s has band thresholds %s, not strictly ascending', k.kpi, k.band_thresholds);
            hint := 'List the thresholds from the lowest to the highest.';
        ELSIF k.normalisation = 'bands' AND EXISTS (
                 SELECT 1 FROM pg_catalog.unnest(k.band_scores) AS s (v) WHERE s.v IS NULL OR s.v < 0 OR s.v > k.cap) THEN
            problem := pg_catalog.format('KPI %s has band scores %s outside 0 to its cap %s', k.kpi, k.band_scores, k.cap);
            hint := 'Band scores lie between 0 and the cap.';
        END IF;
    END LOOP;
    IF problem IS NULL AND NOT EXISTS (SELECT 1 FROM @extschema@.scoring_band b WHERE b.model_id = m.id AND b.min_score = 0) THEN
        problem := 'no grade band starts at 0';
        hint := 'Add a scoring_band with min_score 0 (the lowest grade), so that every total has a band.';
    END IF;
    IF problem IS NULL AND EXISTS (
           SELECT 1 FROM @extschema@.scoring_band b JOIN @extschema@.partner_grade g ON g.id = b.grade_id
             JOIN @extschema@.scoring_band b2 ON b2.model_id = b.model_id AND b2.min_score > b.min_score
             JOIN @extschema@.partner_grade g2 ON g2.id = b2.grade_id
            WHERE b.model_id = m.id AND g2.rank >= g.rank) THEN
        problem := 'its grade bands do not follow the grades'' ranks (a higher score must give a better grade)';
        hint := 'Give the best grade (rank 1) the highest min_score.';
    END IF;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'scoring model % cannot score: %', pg_catalog.quote_ident(m.code), problem
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_scoring_model(bigint) IS
    'Checks a scoring model: weights above 0 adding up to 100, targets and bands complete, grade bands from 0 in the grades'' order; 22023 otherwise';

CREATE FUNCTION @extschema@.check_active_scoring_model() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    changed bigint;
BEGIN
    -- separate statements: NEW of scoring_model has no model_id
    IF TG_TABLE_NAME = 'scoring_model' THEN
        changed := NEW.id;
    ELSE
        changed := coalesce(NEW.model_id, OLD.model_id);
    END IF;
    IF EXISTS (SELECT 1 FROM @extschema@.scoring_model m WHERE m.id = changed AND m.active) THEN
        PERFORM @extschema@.check_scoring_model(changed);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.check_active_scoring_model() IS
    'Deferred constraint trigger: an active scoring model (or one made active) must pass rebate.check_scoring_model at commit';
CREATE CONSTRAINT TRIGGER check_active AFTER INSERT OR UPDATE ON @extschema@.scoring_model
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION @extschema@.check_active_scoring_model();
CREATE CONSTRAINT TRIGGER check_active AFTER INSERT OR UPDATE OR DELETE ON @extschema@.scoring_kpi
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION @extschema@.check_active_scoring_model();
CREATE CONSTRAINT TRIGGER check_active AFTER INSERT OR UPDATE OR DELETE ON @extschema@.scoring_band
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION @extschema@.check_active_scoring_model();

-- The area a partner is ranked in: the second level of the region tree
-- (大区 under the country) above its home region, or the home region itself.
-- Given the home region's path (callers join the region once), so that
-- ranking many rows looks nothing up per row.
CREATE FUNCTION @extschema@.ranking_region(home_region_path bigint[]) RETURNS bigint
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN coalesce(home_region_path[2], home_region_path[1]);
END
$$;
COMMENT ON FUNCTION @extschema@.ranking_region(bigint[]) IS
    'The region a partner is ranked in (rank_in_region), from its home region''s path: the second level of the region tree (the 大区), or the home region at the top';

-- Every partner's KPIs for a period, with last year's net sales (growth) and
-- its targets (achievement), in one pass over rebate.channel_fact.
CREATE FUNCTION @extschema@.period_kpis(tenant_id bigint, period daterange)
    RETURNS TABLE (partner_id bigint, kpis @extschema@.kpis, growth numeric, achievement numeric, sales_target numeric,
                   collected_target numeric, quantity_target numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH facts AS (
        SELECT f.partner_id, f.kind, f.day, f.order_id, f.product_id, f.quantity, f.amount, f.cost, f.promised_on,
               f.delivered_on, NULL::text AS metric, NULL::numeric AS target
          FROM @extschema@.channel_fact f
         WHERE f.tenant_id = period_kpis.tenant_id
           AND ((f.day >= lower(period_kpis.period) AND f.day < upper(period_kpis.period))
                OR (f.kind <> 'payment' AND f.day >= (lower(period_kpis.period) - '1 year'::interval)::date
                    AND f.day < (upper(period_kpis.period) - '1 year'::interval)::date))
        UNION ALL
        SELECT t.partner_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, t.metric, t.value
          FROM @extschema@.target t
         WHERE t.tenant_id = period_kpis.tenant_id AND t.partner_id IS NOT NULL
           AND lower(t.period) >= lower(period_kpis.period) AND upper(t.period) <= upper(period_kpis.period)
    )
    SELECT f.partner_id,
           @extschema@.channel_kpis(f.kind, f.order_id, f.product_id, f.quantity, f.amount, f.cost, f.promised_on,
                                    f.delivered_on) FILTER (WHERE f.day >= lower(period_kpis.period)),
           @extschema@.growth(f.amount, f.day >= lower(period_kpis.period)) FILTER (WHERE f.kind <> 'payment'),
           @extschema@.achievement(CASE WHEN f.kind <> 'payment' AND f.day >= lower(period_kpis.period) THEN f.amount END,
                                   CASE WHEN f.metric = 'sales_amount' THEN f.target END),
           sum(f.target) FILTER (WHERE f.metric = 'sales_amount'),
           sum(f.target) FILTER (WHERE f.metric = 'collected_amount'),
           sum(f.target) FILTER (WHERE f.metric = 'quantity')
      FROM facts f
     GROUP BY f.partner_id
$$;
COMMENT ON FUNCTION @extschema@.period_kpis(bigint, daterange) IS
    'Each partner''s KPIs (rebate.kpis) for a period, growth over the same period a year earlier, achievement of its sales target, and its targets';

-- The length of a month, quarter or year.
CREATE FUNCTION @extschema@.period_step(unit text) RETURNS interval
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE unit WHEN 'month' THEN '1 month'::interval WHEN 'quarter' THEN '3 months'::interval
                     ELSE '1 year'::interval END;
END
$$;
COMMENT ON FUNCTION @extschema@.period_step(text) IS 'The interval of one month, quarter or year';

-- The month, quarter or year containing a day.
CREATE FUNCTION @extschema@.period_of(unit text, day date) RETURNS daterange
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    first date := @extschema@.period_start(unit, day);
BEGIN
    RETURN pg_catalog.daterange(first, (first + @extschema@.period_step(unit))::date);
END
$$;
COMMENT ON FUNCTION @extschema@.period_of(text, date) IS 'The month, quarter or year containing the day, as [first day, first day of the next)';

-- A program version's period is the same computation (0.4.0 spelled it out).
CREATE OR REPLACE FUNCTION @extschema@.program_period(v @extschema@.program_version, day date) RETURNS daterange
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF v.period_unit = 'range' THEN
        RETURN v.effective;
    END IF;
    RETURN @extschema@.period_of(v.period_unit, day);
END
$$;

-- The period n units of the model before the given one.
CREATE FUNCTION @extschema@.period_before(period daterange, unit text, n integer) RETURNS daterange
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    step interval := @extschema@.period_step(unit);
BEGIN
    RETURN pg_catalog.daterange((lower(period) - n * step)::date, (upper(period) - n * step)::date);
END
$$;
COMMENT ON FUNCTION @extschema@.period_before(daterange, text, integer) IS
    'The period n months, quarters or years before the given one';

CREATE FUNCTION @extschema@.period_label(period daterange, unit text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN pg_catalog.to_char(lower(period), CASE unit WHEN 'month' THEN 'YYYY-MM' WHEN 'quarter' THEN 'YYYY-"Q"Q' ELSE 'YYYY' END);
END
$$;
COMMENT ON FUNCTION @extschema@.period_label(daterange, text) IS 'A period''s name: 2026-07, 2026-Q3 or 2026';

-- One period scored under a model: each partner's KPI values, scores, total
-- and grade band.  Partners: the tenant's active ones and any with documents.
CREATE FUNCTION @extschema@.score_period(model @extschema@.scoring_model, period daterange)
    RETURNS TABLE (partner_id bigint, kpis @extschema@.kpis, kpi_values jsonb, scores jsonb, total numeric,
                   band_grade_id bigint)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH k AS (
        SELECT * FROM @extschema@.period_kpis(model.tenant_id, score_period.period)
    ), partners AS (
        SELECT pa.id FROM @extschema@.partner pa
         WHERE pa.tenant_id = model.tenant_id AND (pa.state = 'active' OR pa.id IN (SELECT k.partner_id FROM k))
    ), valued AS (
        SELECT p.id AS partner_id, k.kpis, sk.kpi, sk.weight, sk.normalisation, sk.cap, sk.lower_is_better,
               sk.band_thresholds, sk.band_scores,
               -- amounts and counts of a partner without documents are 0; its rates are NULL
               CASE sk.kpi WHEN 'net_sales' THEN coalesce((k.kpis).net_sales, 0)
                           WHEN 'gross_margin' THEN (k.kpis).gross_margin
                           WHEN 'margin_rate' THEN (k.kpis).margin_rate
                           WHEN 'quantity' THEN coalesce((k.kpis).quantity, 0)
                           WHEN 'orders' THEN coalesce((k.kpis).orders, 0)
                           WHEN 'average_order_value' THEN (k.kpis).average_order_value
                           WHEN 'return_rate' THEN (k.kpis).return_rate
                           WHEN 'collected' THEN coalesce((k.kpis).collected, 0)
                           WHEN 'collection_rate' THEN (k.kpis).collection_rate
                           WHEN 'on_time_rate' THEN (k.kpis).on_time_rate
                           WHEN 'products' THEN coalesce((k.kpis).products, 0)
                           WHEN 'growth' THEN k.growth
                           WHEN 'achievement' THEN k.achievement END AS value,
               coalesce(sk.target, CASE sk.kpi WHEN 'net_sales' THEN k.sales_target WHEN 'collected' THEN k.collected_target
                                               WHEN 'quantity' THEN k.quantity_target END) AS target
          FROM partners p
          LEFT JOIN k ON k.partner_id = p.id
         CROSS JOIN @extschema@.scoring_kpi sk
         WHERE sk.model_id = model.id
    ), ranked AS (
        -- the share of partners with a value as good or worse (cume_dist, exactly)
        SELECT v.*,
               count(*) OVER (PARTITION BY v.kpi, v.value IS NULL
                              ORDER BY CASE WHEN v.lower_is_better THEN -v.value ELSE v.value END) AS at_or_below,
               count(*) OVER (PARTITION BY v.kpi, v.value IS NULL) AS valued_partners
          FROM valued v
    ), scored AS (
        SELECT r.*,
               CASE WHEN r.value IS NULL THEN NULL
                    WHEN r.normalisation = 'distribution' THEN pg_catalog.round(r.at_or_below * 100.0 / r.valued_partners, 4)
                    WHEN r.normalisation = 'bands' AND NOT r.lower_is_better THEN
                         coalesce((SELECT r.band_scores[max(t.i)] FROM pg_catalog.unnest(r.band_thresholds) WITH ORDINALITY t (v, i)
                                    WHERE t.v <= r.value), 0)
                    WHEN r.normalisation = 'bands' THEN
                         coalesce((SELECT r.band_scores[min(t.i)] FROM pg_catalog.unnest(r.band_thresholds) WITH ORDINALITY t (v, i)
                                    WHERE t.v >= r.value), 0)
                    WHEN r.target IS NULL OR r.target <= 0 THEN NULL
                    WHEN r.lower_is_better THEN
                         CASE WHEN r.value <= 0 THEN r.cap ELSE least(r.cap, pg_catalog.round(r.target * 100 / r.value, 4)) END
                    ELSE greatest(0, least(r.cap, pg_catalog.round(r.value * 100 / r.target, 4)))
               END AS score
          FROM ranked r
    ), totals AS (
        SELECT s.partner_id, (pg_catalog.array_agg(s.kpis))[1] AS kpis,
               pg_catalog.jsonb_object_agg(s.kpi, s.value) AS kpi_values,
               pg_catalog.jsonb_object_agg(s.kpi, pg_catalog.trim_scale(s.score)) AS scores,
               @extschema@.weighted_score(s.score, s.weight) AS total
          FROM scored s
         GROUP BY s.partner_id
    )
    SELECT t.partner_id, t.kpis, t.kpi_values, t.scores, t.total,
           (SELECT b.grade_id FROM @extschema@.scoring_band b
             WHERE b.model_id = model.id AND b.min_score <= t.total ORDER BY b.min_score DESC LIMIT 1)
      FROM totals t
$$;
COMMENT ON FUNCTION @extschema@.score_period(@extschema@.scoring_model, daterange) IS
    'One period scored under a model: each partner''s KPI values and scores (jsonb by KPI), weighted total (KPIs without a score left out) and grade band';

-- Scores of a tenant's partners for one period of its active model, ranked,
-- graded, with the grade change the model suggests.  SECURITY DEFINER so that
-- a partner user sees its own position among all partners (ranks and the
-- distribution need everyone's numbers).  Inside it current_user is the
-- owner, so what the caller may see is decided for rebate.acting_role() (as
-- audit does): the rows the tenant_read policies would show that role, and
-- the margin KPIs only if it may read order_line.unit_cost.
CREATE FUNCTION @extschema@.partner_scores(tenant_id bigint, period daterange)
    RETURNS TABLE (period_name text, partner_id bigint, partner_code text, partner_name text, ranking_region_id bigint,
                   kpis @extschema@.kpis, kpi_values jsonb, scores jsonb, total numeric, rank_in_tenant bigint,
                   rank_in_region bigint, band_grade text, current_grade text, suggested_grade text, change text,
                   reason text)
    LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    m        @extschema@.scoring_model;
    caller   name := @extschema@.acting_role();
    bound    record := @extschema@.binding_of(caller);
    admin    boolean := @extschema@.role_is_admin(caller);
    manager  boolean := @extschema@.manages_tenant(caller, partner_scores.tenant_id);
    user_of  bigint := CASE WHEN coalesce(bound.tenant_id = partner_scores.tenant_id, false) THEN bound.partner_id END;
    costs    boolean := pg_catalog.has_column_privilege(caller, '@extschema@.order_line'::regclass, 'unit_cost', 'SELECT');
    hidden   boolean;
    history  integer;
BEGIN
    -- another tenant's model is treated exactly like none
    SELECT * INTO m FROM @extschema@.scoring_model sm
     WHERE sm.tenant_id = partner_scores.tenant_id AND sm.active AND (admin OR manager OR user_of IS NOT NULL);
    IF m.id IS NULL THEN
        RAISE EXCEPTION 'tenant % has no active scoring model', partner_scores.tenant_id
            USING ERRCODE = 'no_data_found', HINT = 'Define one in rebate.scoring_model and set active = true.';
    END IF;
    IF lower_inf(partner_scores.period)
       OR partner_scores.period <> @extschema@.period_of(m.period_unit, lower(partner_scores.period)) THEN
        RAISE EXCEPTION 'period % is not one % of scoring model %', partner_scores.period, m.period_unit, pg_catalog.quote_ident(m.code)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = pg_catalog.format('Score a whole %s, e.g. %s.', m.period_unit,
                                           @extschema@.period_of(m.period_unit, coalesce(lower(partner_scores.period), CURRENT_DATE)));
    END IF;
    PERFORM @extschema@.check_scoring_model(m.id);
    -- a model that weights margins: its total, and all that follows from it (band,
    -- ranks, suggestion, the trail of totals), would give them away to a reader
    -- who may not read costs
    hidden := NOT costs AND EXISTS (SELECT 1 FROM @extschema@.scoring_kpi k
                                     WHERE k.model_id = m.id AND k.kpi IN ('gross_margin', 'margin_rate'));
    history := greatest(m.promote_after, m.demote_after);
    RETURN QUERY
        WITH scored AS (
            SELECT h.i, s.*, g.code AS band_code, g.rank AS band_rank
              FROM pg_catalog.generate_series(0, history - 1) AS h (i)
             CROSS JOIN LATERAL @extschema@.score_period(m, @extschema@.period_before(partner_scores.period, m.period_unit, h.i)) s
              LEFT JOIN @extschema@.partner_grade g ON g.id = s.band_grade_id
        ), now AS (
            SELECT s.*, pa.code, pa.name, @extschema@.ranking_region(hr.path) AS region_id,
                   cg.code AS current_code, cg.rank AS current_rank,
                   rank() OVER (ORDER BY s.total DESC NULLS LAST) AS rank_in_tenant,
                   rank() OVER (PARTITION BY @extschema@.ranking_region(hr.path)
                                ORDER BY s.total DESC NULLS LAST) AS rank_in_region
              FROM scored s
              JOIN @extschema@.partner pa ON pa.id = s.partner_id
              LEFT JOIN @extschema@.region hr ON hr.id = pa.home_region_id
              LEFT JOIN @extschema@.partner_grade cg ON cg.id = pa.grade_id
             WHERE s.i = 0
        ), runs AS (
            -- the last promote_after (demote_after) periods' bands against the current grade
            SELECT n.partner_id,
                   count(*) FILTER (WHERE s.i < m.promote_after AND s.band_rank < n.current_rank) = m.promote_after AS up,
                   count(*) FILTER (WHERE s.i < m.demote_after AND s.band_rank > n.current_rank) = m.demote_after AS down,
                   max(s.band_rank) FILTER (WHERE s.i < m.promote_after) AS up_to,
                   min(s.band_rank) FILTER (WHERE s.i < m.demote_after) AS down_to,
                   pg_catalog.string_agg(pg_catalog.format('%s %s (%s)',
                                             @extschema@.period_label(@extschema@.period_before(partner_scores.period, m.period_unit, s.i), m.period_unit),
                                             coalesce(pg_catalog.trim_scale(s.total)::text, 'no score'), coalesce(s.band_code, '-')),
                                         ', ' ORDER BY s.i DESC) AS trail
              FROM now n JOIN scored s ON s.partner_id = n.partner_id
             GROUP BY n.partner_id
        )
        SELECT @extschema@.period_label(partner_scores.period, m.period_unit), n.partner_id, n.code, n.name, n.region_id,
               CASE WHEN costs THEN n.kpis
                    ELSE ROW((n.kpis).net_sales, (n.kpis).gross_sales, (n.kpis).returns, (n.kpis).credit_notes, NULL, NULL,
                             (n.kpis).quantity, (n.kpis).lines, (n.kpis).orders, (n.kpis).average_order_value,
                             (n.kpis).return_rate, (n.kpis).collected, (n.kpis).collection_rate, (n.kpis).payments,
                             (n.kpis).promised_deliveries, (n.kpis).on_time_deliveries, (n.kpis).on_time_rate,
                             (n.kpis).products)::@extschema@.kpis END,
               CASE WHEN costs THEN n.kpi_values ELSE n.kpi_values - ARRAY['gross_margin', 'margin_rate'] END,
               CASE WHEN costs THEN n.scores ELSE n.scores - ARRAY['gross_margin', 'margin_rate'] END,
               CASE WHEN NOT hidden THEN pg_catalog.trim_scale(n.total) END,
               CASE WHEN NOT hidden THEN n.rank_in_tenant END, CASE WHEN NOT hidden THEN n.rank_in_region END,
               CASE WHEN NOT hidden THEN n.band_code END, n.current_code,
               CASE WHEN hidden THEN NULL
                    WHEN n.current_rank IS NULL THEN n.band_code
                    WHEN r.up THEN (SELECT g.code FROM @extschema@.partner_grade g WHERE g.tenant_id = m.tenant_id AND g.rank = r.up_to)
                    WHEN r.down THEN (SELECT g.code FROM @extschema@.partner_grade g WHERE g.tenant_id = m.tenant_id AND g.rank = r.down_to)
               END,
               CASE WHEN hidden OR n.band_code IS NULL THEN NULL
                    WHEN n.current_rank IS NULL THEN 'assign' WHEN r.up THEN 'upgrade' WHEN r.down THEN 'downgrade' END,
               CASE WHEN hidden THEN 'scored with margins, which this role may not read'
                    WHEN n.band_code IS NULL THEN 'no KPI could be scored'
                    WHEN n.current_rank IS NULL THEN pg_catalog.format('no grade yet; band %s: %s', n.band_code, r.trail)
                    WHEN r.up THEN pg_catalog.format('in a better band than %s for %s consecutive %s(s): %s',
                                                     n.current_code, m.promote_after, m.period_unit, r.trail)
                    WHEN r.down THEN pg_catalog.format('in a worse band than %s for %s consecutive %s(s): %s',
                                                       n.current_code, m.demote_after, m.period_unit, r.trail)
                    ELSE pg_catalog.format('stays %s: %s', n.current_code, r.trail) END
          FROM now n JOIN runs r ON r.partner_id = n.partner_id
         WHERE admin OR manager
            OR EXISTS (SELECT 1 FROM @extschema@.partner v
                        WHERE v.id = n.partner_id AND v.tenant_id = m.tenant_id AND v.path @> ARRAY[user_of])
         ORDER BY CASE WHEN NOT hidden THEN n.rank_in_tenant END, n.code;
END
$$;
COMMENT ON FUNCTION @extschema@.partner_scores(bigint, daterange) IS
    'Each partner''s KPIs, scores, weighted total, rank in the tenant and in its region, grade band, and the upgrade or downgrade the tenant''s active scoring model suggests for the period, with the reason; rows the caller may see';

-- Applies the suggested grade changes of a period through
-- rebate.set_partner_grade (so partner_grade_history records them).
CREATE FUNCTION @extschema@.apply_grade_suggestions(tenant_id bigint, period daterange)
    RETURNS TABLE (partner_id bigint, from_grade text, to_grade text, change text, reason text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    s       record;
    -- the grade history is read by the partner's users: no totals that weight margins
    margins boolean := EXISTS (SELECT 1 FROM @extschema@.scoring_model m JOIN @extschema@.scoring_kpi k ON k.model_id = m.id
                                WHERE m.tenant_id = apply_grade_suggestions.tenant_id AND m.active
                                  AND k.kpi IN ('gross_margin', 'margin_rate'));
BEGIN
    IF NOT @extschema@.may_manage(current_user, apply_grade_suggestions.tenant_id) THEN
        RAISE EXCEPTION 'only the tenant''s managers may change partner grades'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR s IN SELECT * FROM @extschema@.partner_scores(apply_grade_suggestions.tenant_id, period) ps
              WHERE ps.suggested_grade IS NOT NULL ORDER BY ps.partner_code LOOP
        PERFORM @extschema@.set_partner_grade(s.partner_id, s.suggested_grade,
                                              CASE WHEN margins
                                                   THEN pg_catalog.format('scoring %s %s (the model weights margins: its totals are not recorded here)',
                                                                          s.period_name, s.change)
                                                   ELSE pg_catalog.format('scoring %s %s: %s', s.period_name, s.change, s.reason) END);
        partner_id := s.partner_id;
        from_grade := s.current_grade;
        to_grade := s.suggested_grade;
        change := s.change;
        reason := s.reason;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.apply_grade_suggestions(bigint, daterange) IS
    'Applies the grade changes rebate.partner_scores suggests for the period through rebate.set_partner_grade (recorded in partner_grade_history); managers only';

SELECT @extschema@.apply_standard_triggers('@extschema@.scoring_model');
SELECT @extschema@.apply_standard_triggers('@extschema@.scoring_kpi');
SELECT @extschema@.apply_standard_triggers('@extschema@.scoring_band');
SELECT @extschema@.apply_tenant_rls('@extschema@.scoring_model', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.scoring_kpi', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.scoring_band', 'tenant_id');
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.scoring_model, @extschema@.scoring_kpi, @extschema@.scoring_band
   TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.scoring_model, @extschema@.scoring_kpi, @extschema@.scoring_band TO rebate_partner;
REVOKE ALL ON FUNCTION @extschema@.partner_scores(bigint, daterange), @extschema@.apply_grade_suggestions(bigint, daterange)
   FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.partner_scores(bigint, daterange) TO rebate_admin, rebate_manager, rebate_partner;
GRANT EXECUTE ON FUNCTION @extschema@.apply_grade_suggestions(bigint, daterange) TO rebate_admin, rebate_manager;
-- ---------------------------------------------------------------------------
-- Views for BI tools (0.5.0): stable names and columns, every column
-- commented in Chinese and English.  Each view aggregates the facts as the
-- extension's owner and then shows each user what the tenant_read policies
-- would let it see: group admins everything, managers their tenant, partner
-- users their partner subtree (ranks stay the ranks among all partners);
-- margins only to roles that may read costs.  v_partner_performance has a
-- materialised form (a snapshot refreshed concurrently with writers).
-- ---------------------------------------------------------------------------

-- The tenant settings of the reporting views.
CREATE TABLE @extschema@.performance_setting (
    id                   bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id            bigint NOT NULL DEFAULT @extschema@.current_tenant_id() UNIQUE REFERENCES @extschema@.tenant,
    high_rebate_share    numeric(5,4) NOT NULL DEFAULT 0.75 CHECK (high_rebate_share > 0 AND high_rebate_share < 1),
    low_growth_share     numeric(5,4) NOT NULL DEFAULT 0.25 CHECK (low_growth_share > 0 AND low_growth_share < 1),
    leaderboard          text NOT NULL DEFAULT 'anonymous' CHECK (leaderboard IN ('named', 'anonymous', 'own_only')),
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at           timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.performance_setting IS
    'Per tenant: when v_rebate_efficiency flags 高返利低产出 (rebate rate in the top share, growth in the bottom share of partners) and what partner users see of v_leaderboard (named, anonymous, own_only); tenants without a row use the defaults';

-- ---- partner x month / quarter / year ----------------------------------------
-- Internal (owner only): every tenant, unfiltered; v_partner_performance and
-- the snapshot show it per user.
-- One query level after another (no CTE), so that a condition on tenant_id,
-- a partition column of every window, reaches the scan of the facts.  The
-- year-before and previous-period sales are the one row exactly that far
-- back in the partner's series (a RANGE frame), NULL where there is none.
CREATE VIEW @extschema@.partner_performance_all AS
SELECT w.tenant_id, w.partner_id, w.partner_code, w.partner_name, w.home_region_id, w.ranking_region_id, w.grain,
       pg_catalog.daterange(w.period_start, w.period_end) AS period,
       @extschema@.period_label(pg_catalog.daterange(w.period_start, w.period_end), w.grain) AS period_name,
       w.currency, w.k AS kpis, w.sales_target,
       (SELECT @extschema@.achievement(x.actual, x.target) FROM (VALUES (w.net_sales, w.sales_target)) AS x (actual, target))
           AS achievement,
       (SELECT @extschema@.growth(x.amount, x.is_current)
          FROM (VALUES (w.net_sales, true), (w.year_before, false)) AS x (amount, is_current)) AS yoy_growth,
       (SELECT @extschema@.growth(x.amount, x.is_current)
          FROM (VALUES (w.net_sales, true), (w.period_before, false)) AS x (amount, is_current)) AS previous_growth,
       w.rank_in_region, w.rank_overall,
       coalesce(w.rebate_earned, 0) AS rebate_earned,
       CASE WHEN w.net_sales > 0 THEN pg_catalog.round(coalesce(w.rebate_earned, 0) / w.net_sales, 4) END AS rebate_to_sales
  FROM (
    SELECT c.*,
           sum(c.net_sales) OVER (series ORDER BY c.period_start RANGE BETWEEN '1 year' PRECEDING AND '1 year' PRECEDING)
               AS year_before,
           CASE c.grain
                WHEN 'month' THEN sum(c.net_sales) OVER (series ORDER BY c.period_start
                                                         RANGE BETWEEN '1 month' PRECEDING AND '1 month' PRECEDING)
                WHEN 'quarter' THEN sum(c.net_sales) OVER (series ORDER BY c.period_start
                                                           RANGE BETWEEN '3 months' PRECEDING AND '3 months' PRECEDING)
                ELSE sum(c.net_sales) OVER (series ORDER BY c.period_start RANGE BETWEEN '1 year' PRECEDING AND '1 year' PRECEDING)
           END AS period_before,
           rank() OVER (PARTITION BY c.tenant_id, c.grain, c.period_start, c.currency, c.ranking_region_id
                        ORDER BY c.net_sales DESC) AS rank_in_region,
           rank() OVER (PARTITION BY c.tenant_id, c.grain, c.period_start, c.currency ORDER BY c.net_sales DESC) AS rank_overall
      FROM (
        SELECT b.*, pa.code AS partner_code, pa.name AS partner_name, pa.home_region_id,
               @extschema@.ranking_region(hr.path) AS ranking_region_id,
               (SELECT sum(t.value) FROM @extschema@.target t
                 WHERE t.tenant_id = b.tenant_id AND t.partner_id = b.partner_id AND t.metric = 'sales_amount'
                   AND lower(t.period) >= b.period_start AND upper(t.period) <= b.period_end) AS sales_target,
               (SELECT sum(sl.net) FROM @extschema@.statement s JOIN @extschema@.statement_line sl ON sl.statement_id = s.id
                 WHERE s.tenant_id = b.tenant_id AND s.partner_id = b.partner_id AND s.currency = b.currency
                   AND s.status <> 'draft' AND lower(s.period) >= b.period_start AND upper(s.period) <= b.period_end)
                   AS rebate_earned,
               (b.k).net_sales AS net_sales
          FROM (
            SELECT p.*, upper(@extschema@.period_of(p.grain, p.period_start)) AS period_end
              FROM (
                -- each fact once per grain (not GROUPING SETS: conditions on tenant and grain reach the scan)
                SELECT f.tenant_id, f.partner_id, f.currency, g.grain,
                       pg_catalog.date_trunc(g.grain, f.day)::date AS period_start,
                       @extschema@.channel_kpis(f.kind, f.order_id, f.product_id, f.quantity, f.amount, f.cost,
                                                f.promised_on, f.delivered_on) AS k
                  FROM @extschema@.channel_fact_all f
                 CROSS JOIN (VALUES ('month'), ('quarter'), ('year')) AS g (grain)
                 GROUP BY f.tenant_id, f.partner_id, f.currency, g.grain, pg_catalog.date_trunc(g.grain, f.day)) p) b
          JOIN @extschema@.partner pa ON pa.id = b.partner_id
          LEFT JOIN @extschema@.region hr ON hr.id = pa.home_region_id) c
    WINDOW series AS (PARTITION BY c.tenant_id, c.partner_id, c.currency, c.grain)) w;
REVOKE ALL ON @extschema@.partner_performance_all FROM PUBLIC;
COMMENT ON VIEW @extschema@.partner_performance_all IS
    'Internal (the extension owner''s): v_partner_performance for every tenant, unfiltered, and the query of its snapshot';

-- ---- region and product x month / quarter / year -----------------------------
-- One query text each, over a fact view named by %s: the live views read
-- rebate.channel_fact (each user aggregates what it may see), the snapshots
-- rebate.channel_fact_all (managers' dashboards).  Built by
-- rebate.create_report_view at install, so both stay the same query.
CREATE FUNCTION @extschema@.create_report_view(name text, query text, options text DEFAULT '') RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- snapshots are filled at once (on a new install that is instant; an update computes them from the data
    -- there): an unfilled materialized view would make its views fail until the first refresh
    EXECUTE pg_catalog.format('CREATE %s %s AS %s', CASE WHEN options = 'materialized' THEN 'MATERIALIZED VIEW'
                                                         ELSE 'VIEW' END,
                              name, query);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.create_report_view(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.create_report_view(text, text, text) IS
    'Internal (install and upgrade scripts): creates a reporting view or snapshot from a query text shared by its live and materialised forms';

CREATE TABLE @extschema@.report_query (
    report text PRIMARY KEY,
    query  text NOT NULL
);
COMMENT ON TABLE @extschema@.report_query IS
    'Internal: the query texts the live and snapshot reporting views are made of (the source in %1$s, other % doubled, for format())';
REVOKE ALL ON @extschema@.report_query FROM PUBLIC;

INSERT INTO @extschema@.report_query VALUES
('region', $q$
WITH per_period AS (
    SELECT f.tenant_id, a.region_id, f.currency, g.grain, pg_catalog.date_trunc(g.grain, f.day)::date AS period_start,
           count(DISTINCT f.partner_id) AS partners,
           @extschema@.channel_kpis(f.kind, f.order_id, f.product_id, f.quantity, f.amount, f.cost, f.promised_on,
                                    f.delivered_on) AS k
      FROM %1$s f
      JOIN @extschema@.region r ON r.id = f.region_id
     CROSS JOIN LATERAL pg_catalog.unnest(r.path) AS a (region_id)
     CROSS JOIN (VALUES ('month'), ('quarter'), ('year')) AS g (grain)
     GROUP BY f.tenant_id, a.region_id, f.currency, g.grain, pg_catalog.date_trunc(g.grain, f.day)
), c AS (
    SELECT p.*, upper(@extschema@.period_of(p.grain, p.period_start)) AS period_end
      FROM per_period p
)
SELECT c.tenant_id, c.region_id, r.code AS region_code, r.name AS region_name, r.level AS region_level,
       r.parent_id AS parent_region_id, r.path AS region_path, c.grain,
       pg_catalog.daterange(c.period_start, c.period_end) AS period,
       @extschema@.period_label(pg_catalog.daterange(c.period_start, c.period_end), c.grain) AS period_name,
       c.currency, c.partners, (c.k).net_sales, (c.k).gross_sales, (c.k).returns, (c.k).credit_notes, (c.k).gross_margin, (c.k).margin_rate,
       (c.k).quantity, (c.k).orders, (c.k).average_order_value, (c.k).return_rate, (c.k).collected, (c.k).collection_rate,
       (c.k).on_time_rate, (c.k).products,
       tg.sales_target,
       (SELECT @extschema@.achievement(x.actual, x.target)
          FROM (VALUES ((c.k).net_sales, tg.sales_target)) AS x (actual, target)) AS achievement,
       (SELECT @extschema@.growth(x.amount, x.is_current)
          FROM (VALUES ((c.k).net_sales, true), ((ly.k).net_sales, false)) AS x (amount, is_current)) AS yoy_growth,
       rank() OVER (PARTITION BY c.tenant_id, r.parent_id, c.grain, c.period_start, c.currency
                    ORDER BY (c.k).net_sales DESC) AS rank_among_siblings
  FROM c
  JOIN @extschema@.region r ON r.id = c.region_id
  -- region targets are the brand's: partner users, whom row-level security does not show them, get NULL
  LEFT JOIN LATERAL (SELECT sum(t.value) AS sales_target FROM @extschema@.target t
                      WHERE t.tenant_id = c.tenant_id AND t.region_id = c.region_id AND t.metric = 'sales_amount'
                        AND lower(t.period) >= c.period_start AND upper(t.period) <= c.period_end
                        AND ((SELECT @extschema@.is_group_admin()) OR (SELECT @extschema@.is_tenant_manager()))) tg ON true
  LEFT JOIN c ly ON ly.tenant_id = c.tenant_id AND ly.region_id = c.region_id AND ly.currency = c.currency
                AND ly.grain = c.grain AND ly.period_start = (c.period_start - '1 year'::interval)::date
$q$),
('product', $q$
WITH per_period AS (
    SELECT f.tenant_id, f.product_id, f.currency, g.grain, pg_catalog.date_trunc(g.grain, f.day)::date AS period_start,
           count(DISTINCT f.partner_id) AS partners,
           @extschema@.channel_kpis(f.kind, f.order_id, f.product_id, f.quantity, f.amount, f.cost, f.promised_on,
                                    f.delivered_on) AS k
      FROM %1$s f
     CROSS JOIN (VALUES ('month'), ('quarter'), ('year')) AS g (grain)
     WHERE f.kind <> 'payment'
     GROUP BY f.tenant_id, f.product_id, f.currency, g.grain, pg_catalog.date_trunc(g.grain, f.day)
), c AS (
    SELECT p.*, upper(@extschema@.period_of(p.grain, p.period_start)) AS period_end
      FROM per_period p
)
SELECT c.tenant_id, c.product_id, pr.sku, pr.name AS product_name, pr.category_id, pc.path AS category_path, c.grain,
       pg_catalog.daterange(c.period_start, c.period_end) AS period,
       @extschema@.period_label(pg_catalog.daterange(c.period_start, c.period_end), c.grain) AS period_name,
       c.currency, c.partners, (c.k).net_sales, (c.k).gross_sales, (c.k).returns, (c.k).credit_notes, (c.k).gross_margin,
       (c.k).margin_rate, (c.k).quantity, (c.k).orders, (c.k).average_order_value, (c.k).return_rate, (c.k).on_time_rate,
       (c.k).products,
       (SELECT @extschema@.growth(x.amount, x.is_current)
          FROM (VALUES ((c.k).net_sales, true), ((ly.k).net_sales, false)) AS x (amount, is_current)) AS yoy_growth,
       rank() OVER (PARTITION BY c.tenant_id, pr.category_id, c.grain, c.period_start, c.currency
                    ORDER BY (c.k).net_sales DESC) AS rank_in_category,
       rank() OVER (PARTITION BY c.tenant_id, c.grain, c.period_start, c.currency ORDER BY (c.k).net_sales DESC) AS rank_overall
  FROM c
  JOIN @extschema@.product pr ON pr.id = c.product_id
  LEFT JOIN @extschema@.product_category pc ON pc.id = pr.category_id
  LEFT JOIN c ly ON ly.tenant_id = c.tenant_id AND ly.product_id = c.product_id AND ly.currency = c.currency
                AND ly.grain = c.grain AND ly.period_start = (c.period_start - '1 year'::interval)::date
$q$),
-- the user-facing columns of the partner reports over a base (partner_performance_all or its snapshot)
('partner', $q$
SELECT p.tenant_id, p.partner_id, p.partner_code, p.partner_name, p.home_region_id, p.ranking_region_id, p.grain,
       p.period, p.period_name, p.currency,
       (p.kpis).net_sales, (p.kpis).gross_sales, (p.kpis).returns, (p.kpis).credit_notes,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN (p.kpis).gross_margin END AS gross_margin,
       CASE WHEN (SELECT @extschema@.sees_costs()) THEN (p.kpis).margin_rate END AS margin_rate,
       (p.kpis).quantity, (p.kpis).orders, (p.kpis).average_order_value, (p.kpis).return_rate, (p.kpis).collected,
       (p.kpis).collection_rate, (p.kpis).on_time_rate, (p.kpis).products,
       p.sales_target, p.achievement, p.yoy_growth, p.previous_growth, p.rank_in_region, p.rank_overall,
       p.rebate_earned, p.rebate_to_sales
  FROM %1$s p
 WHERE (SELECT @extschema@.is_group_admin())
    OR (p.tenant_id = (SELECT @extschema@.current_tenant_id())
        AND ((SELECT @extschema@.is_tenant_manager()) OR p.partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[])))
$q$),
-- 高返利低产出: per partner and program and quarter, over a base
('efficiency', $q$
WITH rebates AS (
    SELECT s.tenant_id, s.partner_id, s.currency, pg_catalog.date_trunc('quarter', lower(s.period))::date AS quarter_start,
           sl.program_id, sum(sl.net) AS program_rebate
      FROM @extschema@.statement s JOIN @extschema@.statement_line sl ON sl.statement_id = s.id
     WHERE s.status <> 'draft'
     GROUP BY 1, 2, 3, 4, 5
), per_partner AS (
    SELECT r.tenant_id, r.partner_id, r.currency, r.quarter_start, sum(r.program_rebate) AS partner_rebate
      FROM rebates r GROUP BY 1, 2, 3, 4
), judged AS (
    SELECT pp.*, q.partner_code, q.partner_name, q.period, q.period_name, coalesce((q.kpis).net_sales, 0) AS net_sales,
           coalesce(q.yoy_growth, q.previous_growth) AS growth,
           CASE WHEN q.yoy_growth IS NOT NULL THEN 'year' WHEN q.previous_growth IS NOT NULL THEN 'quarter' END AS growth_basis,
           CASE WHEN (q.kpis).net_sales > 0 THEN pg_catalog.round(pp.partner_rebate / (q.kpis).net_sales, 4) END AS rebate_rate
      FROM per_partner pp
      JOIN %1$s q ON q.tenant_id = pp.tenant_id AND q.partner_id = pp.partner_id AND q.currency = pp.currency
                 AND q.grain = 'quarter' AND lower(q.period) = pp.quarter_start
), shares AS (
    -- the share of the quarter's partners at or below each one (exact cume_dist); no rate or growth: no share
    SELECT j.*,
           CASE WHEN j.rebate_rate IS NOT NULL THEN
                pg_catalog.round((count(*) OVER (PARTITION BY j.tenant_id, j.currency, j.quarter_start, j.rebate_rate IS NULL
                                                 ORDER BY j.rebate_rate))::numeric
                                 / count(*) OVER (PARTITION BY j.tenant_id, j.currency, j.quarter_start, j.rebate_rate IS NULL), 4)
           END AS rebate_rate_share,
           CASE WHEN j.growth IS NOT NULL THEN
                pg_catalog.round((count(*) OVER (PARTITION BY j.tenant_id, j.currency, j.quarter_start, j.growth IS NULL
                                                 ORDER BY j.growth))::numeric
                                 / count(*) OVER (PARTITION BY j.tenant_id, j.currency, j.quarter_start, j.growth IS NULL), 4)
           END AS growth_share
      FROM judged j
)
SELECT s.tenant_id, s.partner_id, s.partner_code, s.partner_name, s.period, s.period_name, s.currency, r.program_id,
       pg.code AS program_code, r.program_rebate, s.partner_rebate, s.net_sales, s.rebate_rate, s.growth, s.growth_basis,
       s.rebate_rate_share, s.growth_share,
       coalesce(s.rebate_rate_share >= cfg.high AND s.growth_share <= cfg.low, false) AS high_rebate_low_output,
       CASE WHEN s.rebate_rate_share >= cfg.high AND s.growth_share <= cfg.low
            THEN pg_catalog.format('rebate rate %%s in the top %%s%%%% and growth %%s in the bottom %%s%%%% of the quarter''s partners',
                                   s.rebate_rate, pg_catalog.trim_scale((1 - cfg.high) * 100), s.growth,
                                   pg_catalog.trim_scale(cfg.low * 100)) END AS reason
  FROM shares s
  JOIN rebates r ON r.tenant_id = s.tenant_id AND r.partner_id = s.partner_id AND r.currency = s.currency
                AND r.quarter_start = s.quarter_start
  LEFT JOIN @extschema@.program pg ON pg.id = r.program_id
  LEFT JOIN @extschema@.performance_setting ps ON ps.tenant_id = s.tenant_id
 CROSS JOIN LATERAL (SELECT coalesce(ps.high_rebate_share, 0.75) AS high, coalesce(ps.low_growth_share, 0.25) AS low) cfg
 WHERE (SELECT @extschema@.is_group_admin())
    OR (s.tenant_id = (SELECT @extschema@.current_tenant_id()) AND (SELECT @extschema@.is_tenant_manager()))
$q$),
-- what partners may see of the ranking, over a base
('leaderboard', $q$
SELECT q.tenant_id, q.period, q.period_name, q.currency, q.rank_overall AS rank,
       CASE WHEN v.named THEN q.partner_id END AS partner_id,
       CASE WHEN v.named THEN q.partner_name ELSE pg_catalog.format('#%%s', q.rank_overall) END AS partner_label,
       v.own AS is_own,
       -- anonymous: no amounts of others (net sales and achievement together would give their hidden targets)
       CASE WHEN v.named THEN (q.kpis).net_sales END AS net_sales, q.achievement, q.yoy_growth
  FROM %1$s q
  LEFT JOIN @extschema@.performance_setting ps ON ps.tenant_id = q.tenant_id
 CROSS JOIN LATERAL (
       -- staff see every name; a partner user its own rows, and the others as the tenant set
       SELECT (SELECT @extschema@.current_partner_id()) IS NOT NULL
              AND q.partner_id = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[]) AS own,
              (SELECT @extschema@.is_group_admin()) OR (SELECT @extschema@.is_tenant_manager()) AS staff,
              coalesce(ps.leaderboard, 'anonymous') AS mode) AS v0
 CROSS JOIN LATERAL (SELECT v0.own, v0.staff OR v0.own OR v0.mode = 'named' AS named, v0.mode) AS v
 WHERE q.grain = 'quarter'
   AND ((SELECT @extschema@.is_group_admin()) OR q.tenant_id = (SELECT @extschema@.current_tenant_id()))
   AND (v.named OR v.mode = 'anonymous')
$q$);

-- the live views
SELECT @extschema@.create_report_view('@extschema@.v_partner_performance',
    pg_catalog.format(query, '@extschema@.partner_performance_all'))
  FROM @extschema@.report_query WHERE report = 'partner';
SELECT @extschema@.create_report_view('@extschema@.v_region_performance', pg_catalog.format(query, '@extschema@.channel_fact'))
  FROM @extschema@.report_query WHERE report = 'region';
SELECT @extschema@.create_report_view('@extschema@.v_product_performance', pg_catalog.format(query, '@extschema@.channel_fact'))
  FROM @extschema@.report_query WHERE report = 'product';
SELECT @extschema@.create_report_view('@extschema@.v_rebate_efficiency',
    pg_catalog.format(query, '@extschema@.partner_performance_all'))
  FROM @extschema@.report_query WHERE report = 'efficiency';
SELECT @extschema@.create_report_view('@extschema@.v_leaderboard', pg_catalog.format(query, '@extschema@.partner_performance_all'))
  FROM @extschema@.report_query WHERE report = 'leaderboard';

-- the snapshots (materialised, refreshed by rebate.refresh_report_snapshots) and their views
SELECT @extschema@.create_report_view('@extschema@.partner_performance_snapshot',
    'SELECT * FROM @extschema@.partner_performance_all', 'materialized');
SELECT @extschema@.create_report_view('@extschema@.region_performance_snapshot',
    pg_catalog.format(query, '@extschema@.channel_fact_all'), 'materialized')
  FROM @extschema@.report_query WHERE report = 'region';
SELECT @extschema@.create_report_view('@extschema@.product_performance_snapshot',
    pg_catalog.format(query, '@extschema@.channel_fact_all'), 'materialized')
  FROM @extschema@.report_query WHERE report = 'product';
CREATE UNIQUE INDEX partner_performance_snapshot_key
    ON @extschema@.partner_performance_snapshot (tenant_id, partner_id, grain, period, currency);
CREATE UNIQUE INDEX region_performance_snapshot_key
    ON @extschema@.region_performance_snapshot (tenant_id, region_id, grain, period, currency);
CREATE UNIQUE INDEX product_performance_snapshot_key
    ON @extschema@.product_performance_snapshot (tenant_id, product_id, grain, period, currency);
REVOKE ALL ON @extschema@.partner_performance_snapshot, @extschema@.region_performance_snapshot,
              @extschema@.product_performance_snapshot FROM PUBLIC;

SELECT @extschema@.create_report_view('@extschema@.v_partner_performance_snapshot',
    pg_catalog.format(query, '@extschema@.partner_performance_snapshot'))
  FROM @extschema@.report_query WHERE report = 'partner';
SELECT @extschema@.create_report_view('@extschema@.v_rebate_efficiency_snapshot',
    pg_catalog.format(query, '@extschema@.partner_performance_snapshot'))
  FROM @extschema@.report_query WHERE report = 'efficiency';
SELECT @extschema@.create_report_view('@extschema@.v_leaderboard_snapshot',
    pg_catalog.format(query, '@extschema@.partner_performance_snapshot'))
  FROM @extschema@.report_query WHERE report = 'leaderboard';
-- region and product snapshots aggregate every partner's facts: managers and admins only
CREATE VIEW @extschema@.v_region_performance_snapshot AS
SELECT s.* FROM @extschema@.region_performance_snapshot s
 WHERE (SELECT @extschema@.is_group_admin())
    OR (s.tenant_id = (SELECT @extschema@.current_tenant_id()) AND (SELECT @extschema@.is_tenant_manager()));
CREATE VIEW @extschema@.v_product_performance_snapshot AS
SELECT s.* FROM @extschema@.product_performance_snapshot s
 WHERE (SELECT @extschema@.is_group_admin())
    OR (s.tenant_id = (SELECT @extschema@.current_tenant_id()) AND (SELECT @extschema@.is_tenant_manager()));
ALTER VIEW @extschema@.v_partner_performance SET (security_barrier);
ALTER VIEW @extschema@.v_partner_performance_snapshot SET (security_barrier);
ALTER VIEW @extschema@.v_region_performance SET (security_barrier);
ALTER VIEW @extschema@.v_product_performance SET (security_barrier);
ALTER VIEW @extschema@.v_rebate_efficiency SET (security_barrier);
ALTER VIEW @extschema@.v_rebate_efficiency_snapshot SET (security_barrier);
ALTER VIEW @extschema@.v_leaderboard SET (security_barrier);
ALTER VIEW @extschema@.v_leaderboard_snapshot SET (security_barrier);
ALTER VIEW @extschema@.v_region_performance_snapshot SET (security_barrier);
ALTER VIEW @extschema@.v_product_performance_snapshot SET (security_barrier);

CREATE TABLE @extschema@.snapshot_refresh (
    snapshot     regclass PRIMARY KEY,
    refreshed_at timestamptz NOT NULL,
    seconds      numeric NOT NULL,
    concurrent   boolean NOT NULL
);
COMMENT ON TABLE @extschema@.snapshot_refresh IS
    'When each reporting snapshot was last refreshed, how long it took, and whether concurrently';
GRANT SELECT ON @extschema@.snapshot_refresh TO rebate_admin, rebate_manager, rebate_partner;

-- Refreshes the snapshots: concurrently (readers and writers go on; the
-- unique indexes allow it) once they have data, plainly the first time.
CREATE FUNCTION @extschema@.refresh_report_snapshots() RETURNS SETOF @extschema@.snapshot_refresh
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    snapshot  regclass;
    started   timestamptz;
    populated boolean;
    result    @extschema@.snapshot_refresh;
BEGIN
    -- inside SECURITY DEFINER current_user is the owner: judge the acting role
    IF NOT @extschema@.may_manage(@extschema@.acting_role(), (@extschema@.binding_of(@extschema@.acting_role())).tenant_id) THEN
        RAISE EXCEPTION 'only admins and managers refresh reporting snapshots' USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOREACH snapshot IN ARRAY ARRAY['@extschema@.partner_performance_snapshot', '@extschema@.region_performance_snapshot',
                                    '@extschema@.product_performance_snapshot']::regclass[] LOOP
        started := pg_catalog.clock_timestamp();
        populated := (SELECT c.relispopulated FROM pg_catalog.pg_class c WHERE c.oid = snapshot);
        EXECUTE pg_catalog.format('REFRESH MATERIALIZED VIEW %s %s', CASE WHEN populated THEN 'CONCURRENTLY' ELSE '' END,
                                  snapshot);
        INSERT INTO @extschema@.snapshot_refresh AS r (snapshot, refreshed_at, seconds, concurrent)
        VALUES (snapshot, pg_catalog.clock_timestamp(),
                pg_catalog.round(EXTRACT(epoch FROM pg_catalog.clock_timestamp() - started)::numeric, 3), populated)
        ON CONFLICT ON CONSTRAINT snapshot_refresh_pkey DO UPDATE
           SET refreshed_at = EXCLUDED.refreshed_at, seconds = EXCLUDED.seconds, concurrent = EXCLUDED.concurrent
        RETURNING r.* INTO result;
        RETURN NEXT result;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.refresh_report_snapshots() IS
    'Refreshes the materialised reports (partner, region, product performance): CONCURRENTLY once they have data, so readers and writers are not blocked; admins and managers';
REVOKE ALL ON FUNCTION @extschema@.refresh_report_snapshots() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.refresh_report_snapshots() TO rebate_admin, rebate_manager;

SELECT @extschema@.apply_standard_triggers('@extschema@.performance_setting');
SELECT @extschema@.apply_tenant_rls('@extschema@.performance_setting', 'tenant_id');
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.performance_setting TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.performance_setting TO rebate_partner;
GRANT SELECT ON @extschema@.v_partner_performance, @extschema@.v_partner_performance_snapshot,
                @extschema@.v_region_performance, @extschema@.v_region_performance_snapshot,
                @extschema@.v_product_performance, @extschema@.v_product_performance_snapshot,
                @extschema@.v_rebate_efficiency, @extschema@.v_rebate_efficiency_snapshot,
                @extschema@.v_leaderboard, @extschema@.v_leaderboard_snapshot
   TO rebate_admin, rebate_manager, rebate_partner;

-- The scores of the last complete period of each tenant's active scoring
-- model (rebate.partner_scores decides what each caller sees).
CREATE VIEW @extschema@.v_partner_scores WITH (security_barrier) AS
SELECT m.tenant_id, s.period_name, s.partner_id, s.partner_code, s.partner_name, s.ranking_region_id,
       (s.kpis).net_sales, s.kpi_values, s.scores, s.total, s.rank_in_tenant, s.rank_in_region, s.band_grade,
       s.current_grade, s.suggested_grade, s.change, s.reason
  FROM @extschema@.scoring_model m
 CROSS JOIN LATERAL @extschema@.partner_scores(m.tenant_id,
           @extschema@.period_before(@extschema@.period_of(m.period_unit, CURRENT_DATE), m.period_unit, 1)) s
 WHERE m.active
   -- only the reader's tenant is scored (partner_scores treats any other like one without a model)
   AND ((SELECT @extschema@.is_group_admin()) OR m.tenant_id = (SELECT @extschema@.current_tenant_id()));
COMMENT ON VIEW @extschema@.v_partner_scores IS
    '渠道商评分 Each partner''s scores under its tenant''s active scoring model for the last complete period: KPI values and scores, total, ranks, grade band and the suggested upgrade or downgrade (rebate.partner_scores)';
GRANT SELECT ON @extschema@.v_partner_scores TO rebate_admin, rebate_manager, rebate_partner;

-- Every column of every reporting view has a comment in Chinese and English
-- (BI tools show them as field descriptions); the install fails if one is
-- missing.
DO $$
DECLARE
    col       record;
    described text;
    comments  jsonb;
BEGIN
    -- (in parts: a function takes at most 100 arguments)
    comments := pg_catalog.jsonb_build_object(
        'tenant_id', '租户 Tenant: the manufacturer or brand',
        'partner_id', '渠道商 Partner id (rebate.partner)',
        'partner_code', '渠道商编码 Partner code',
        'partner_name', '渠道商名称 Partner name',
        'home_region_id', '所在区域 The partner''s home region (rebate.region)',
        'ranking_region_id', '排名大区 The region the partner is ranked in: the second level of the region tree above its home region',
        'grain', '统计粒度 Grain: month, quarter or year',
        'period', '统计期间 The period: [first day, first day of the next period)',
        'period_name', '期间名称 The period by name: 2026-07, 2026-Q3, 2026',
        'currency', '币种 Currency of the amounts',
        'net_sales', '净销售额 Net sales: gross sales - returns - credit notes',
        'gross_sales', '销售额 Gross sales: the amounts of order lines',
        'returns', '退货额 Returns, positive',
        'credit_notes', '折让额 Credit notes, positive',
        'gross_margin', '毛利 Gross margin over lines with a cost; NULL for users who may not see costs',
        'margin_rate', '毛利率 Gross margin / net sales of the lines with a cost; NULL for users who may not see costs',
        'quantity', '净数量 Net quantity: ordered - returned',
        'orders', '订单数 Distinct orders',
        'average_order_value', '客单价 Average order value: gross sales / orders',
        'return_rate', '退货率 Return rate: returns / gross sales',
        'collected', '回款额 Payments received',
        'collection_rate', '回款率 Collection rate: collected / net sales',
        'on_time_rate', '准时交付率 On-time delivery rate: orders delivered by the promised date / delivered orders with one',
        'products', '动销品种数 Distinct products sold',
        'partners', '渠道商数 Partners with documents in the period',
        'sales_target', '销售目标 Sales target: the targets lying inside the period',
        'achievement', '目标达成率 Target achievement: net sales / sales target; NULL without a target',
        'yoy_growth', '同比增长率 Growth of net sales over the same period a year earlier; NULL without a base',
        'previous_growth', '环比增长率 Growth of net sales over the previous period of the same grain (MoM, QoQ, YoY for years); NULL without a base',
        'rank_in_region', '大区内排名 Rank by net sales among the partners of the same ranking region',
        'rank_overall', '总排名 Rank by net sales among the tenant''s partners (or products) in the period',
        'rebate_earned', '已结算返利 Rebate on issued statements of periods inside this one',
        'rebate_to_sales', '返利销售比 Rebate earned / net sales',
        'region_id', '区域 Region id (rebate.region); its figures include every region below it',
        'region_code', '区域编码 Region code',
        'region_name', '区域名称 Region name',
        'region_level', '区域层级 Region level: country, area, province, city, district',
        'parent_region_id', '上级区域 Parent region: drill up',
        'region_path', '区域路径 Region ids from the top down to this one: drill down and up',
        'rank_among_siblings', '同级排名 Rank by net sales among the regions with the same parent')
        || pg_catalog.jsonb_build_object(
        'product_id', '产品 Product id (rebate.product)',
        'sku', '产品编码 SKU',
        'product_name', '产品名称 Product name',
        'category_id', '产品类别 Product category',
        'category_path', '类别路径 Category ids from the top down to the product''s category: drill down and up',
        'rank_in_category', '类别内排名 Rank by net sales among the products of the same category',
        'program_id', '返利政策 Rebate program id',
        'program_code', '政策编码 Rebate program code',
        'program_rebate', '政策返利 Rebate of this program on the partner''s issued statements in the quarter',
        'partner_rebate', '渠道商返利合计 The partner''s rebate from all programs in the quarter',
        'rebate_rate', '返利率 Partner rebate / net sales',
        'growth', '增长率 Growth of net sales: over the same quarter a year earlier, else over the previous quarter',
        'growth_basis', '增长基准 What growth compares with: year (同比) or quarter (环比)',
        'rebate_rate_share', '返利率分位 Share of the quarter''s partners with a rebate rate at or below this one',
        'growth_share', '增长分位 Share of the quarter''s partners with growth at or below this one',
        'high_rebate_low_output', '高返利低产出 Rebate rate in the top and growth in the bottom share the tenant set (rebate.performance_setting)',
        'reason', '原因 Why the partner is flagged',
        'rank', '名次 Rank by net sales in the quarter',
        'partner_label', '渠道商 The partner''s name, or #rank where the tenant shows others anonymously',
        'is_own', '本渠道商 Whether the row is the viewing partner''s own')
        || pg_catalog.jsonb_build_object(
        'kpi_values', '指标值 The scoring model''s KPI values of the partner (JSON by KPI)',
        'scores', '指标得分 Each KPI''s score, 0 to its cap (JSON by KPI; NULL: not scored, its weight left out)',
        'total', '综合得分 Weighted total score',
        'rank_in_tenant', '总排名 Rank by total score in the tenant',
        'band_grade', '得分等级 The grade band the total falls in',
        'current_grade', '当前等级 The partner''s grade now',
        'suggested_grade', '建议等级 The grade the model suggests (upgrade, downgrade or first assignment)',
        'change', '等级变动 upgrade, downgrade, assign, or NULL');
    FOR col IN
        SELECT a.attrelid::regclass AS view, a.attname
          FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
         WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind = 'v' AND c.relname LIKE 'v\_%'
           AND c.relname NOT IN ('v_price_violations', 'v_cross_territory_sales', 'v_partner_progress', 'v_statement')
           AND a.attnum > 0 AND NOT a.attisdropped
    LOOP
        described := comments ->> col.attname::text;
        IF described IS NULL THEN
            RAISE EXCEPTION 'reporting view % column % has no comment', col.view, col.attname;
        END IF;
        EXECUTE pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L', col.view, col.attname, described);
    END LOOP;
END
$$;
COMMENT ON VIEW @extschema@.v_partner_performance IS
    '渠道商绩效 Partner x month / quarter / year: KPIs, target achievement, YoY and previous-period growth, ranks in region and overall, rebate earned and rebate-to-sales (live; see v_partner_performance_snapshot)';
COMMENT ON VIEW @extschema@.v_partner_performance_snapshot IS
    '渠道商绩效（快照） v_partner_performance as of the last rebate.refresh_report_snapshots()';
COMMENT ON VIEW @extschema@.v_region_performance IS
    '区域绩效 Region x month / quarter / year over the region tree (a region includes everything below it): KPIs, partners, target achievement, YoY growth, rank among sibling regions; over the facts the user may see';
COMMENT ON VIEW @extschema@.v_region_performance_snapshot IS
    '区域绩效（快照） v_region_performance over every partner''s facts as of the last refresh; managers and admins';
COMMENT ON VIEW @extschema@.v_product_performance IS
    '产品绩效 Product x month / quarter / year with the category tree keys: KPIs, partners buying, YoY growth, ranks in category and overall; over the facts the user may see';
COMMENT ON VIEW @extschema@.v_product_performance_snapshot IS
    '产品绩效（快照） v_product_performance over every partner''s facts as of the last refresh; managers and admins';
COMMENT ON VIEW @extschema@.v_rebate_efficiency IS
    '返利效率 Partner x program x quarter: rebate cost against net sales and growth, flagging 高返利低产出 as the tenant configures; managers and admins';
COMMENT ON VIEW @extschema@.v_rebate_efficiency_snapshot IS
    '返利效率（快照） v_rebate_efficiency over the performance snapshot';
COMMENT ON VIEW @extschema@.v_leaderboard IS
    '排行榜 The quarterly ranking by net sales that partners may see: their own rows by name, others by name or anonymously (#rank) or not at all, as the tenant sets';
COMMENT ON VIEW @extschema@.v_leaderboard_snapshot IS
    '排行榜（快照） v_leaderboard over the performance snapshot';
-- ---------------------------------------------------------------------------
-- The trust boundary (issue 13).  Every authorisation check goes through
-- role_is_admin, manages_tenant and may_manage, which answer strictly true
-- or false: deny by default, never NULL (IF NOT NULL does not raise).  A role
-- has a tenant only through a binding of its own: the group roles are never
-- bound, so a role acting through one (SET ROLE rebate_manager) has none.
-- Bindings follow rules a reviewer can state in one sentence each, and every
-- change to one is kept in access_binding_history.  BEFORE triggers that read
-- as the owner judge the writer first and read only inside the row's tenant,
-- so that no error quotes a row the writer cannot see.  Attestation columns
-- (who issued, answered, paid ...) are stamped by the server.
-- ---------------------------------------------------------------------------

-- A role's binding; the rebate group roles never have one (even if a row
-- named them), so that acting through a group role gives no tenant.
CREATE OR REPLACE FUNCTION @extschema@.binding_of(role_name name, OUT tenant_id bigint, OUT partner_id bigint)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT b.tenant_id, b.partner_id INTO tenant_id, partner_id
      FROM @extschema@.access_binding b
      JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) b.role::oid
     WHERE r.rolname OPERATOR(pg_catalog.=) role_name
       AND r.rolname OPERATOR(pg_catalog.<>) ALL (ARRAY['rebate_admin', 'rebate_manager', 'rebate_partner']::name[]);
END
$$;

CREATE FUNCTION @extschema@.role_is_admin(role_name name) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.pg_has_role(role_name, 'rebate_admin', 'MEMBER'), false)
$$;
COMMENT ON FUNCTION @extschema@.role_is_admin(name) IS
    'Whether a role is a group administrator (member of rebate_admin); strictly true or false';

CREATE OR REPLACE FUNCTION @extschema@.manages_tenant(role_name name, tenant bigint) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.pg_has_role(role_name, 'rebate_manager', 'MEMBER')
                    AND b.tenant_id OPERATOR(pg_catalog.=) tenant AND b.partner_id IS NULL, false)
      FROM @extschema@.binding_of(role_name) AS b
$$;
COMMENT ON FUNCTION @extschema@.manages_tenant(name, bigint) IS
    'Whether a role is a manager (rebate_manager) bound to the tenant by a binding of its own; strictly true or false';

CREATE FUNCTION @extschema@.may_manage(role_name name, tenant bigint) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.role_is_admin(role_name) OR @extschema@.manages_tenant(role_name, tenant)
$$;
COMMENT ON FUNCTION @extschema@.may_manage(name, bigint) IS
    'Whether a role may manage a tenant: a group administrator, or a manager bound to it; strictly true or false';

CREATE FUNCTION @extschema@.sees_tenant(role_name name, tenant bigint) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.role_is_admin(role_name)
        OR coalesce((@extschema@.binding_of(role_name)).tenant_id OPERATOR(pg_catalog.=) tenant, false)
$$;
COMMENT ON FUNCTION @extschema@.sees_tenant(name, bigint) IS
    'Whether a role sees a tenant: a group administrator, or bound to it (as manager or partner user); strictly true or false';

CREATE OR REPLACE FUNCTION @extschema@.is_group_admin() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.role_is_admin(current_user)
$$;

CREATE OR REPLACE FUNCTION @extschema@.is_tenant_manager() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.manages_tenant(current_user, (@extschema@.binding_of(current_user)).tenant_id)
$$;

-- ---- bindings: rules and history -------------------------------------------

CREATE TABLE @extschema@.access_binding_history (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role            oid NOT NULL,
    role_name       name NOT NULL,
    operation       text NOT NULL CHECK (operation IN ('grant', 'rebind', 'revoke')),
    old_tenant_id   bigint,
    old_partner_id  bigint,
    new_tenant_id   bigint,
    new_partner_id  bigint,
    session_role    name NOT NULL,
    acting_role     name NOT NULL,
    changed_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX access_binding_history_role ON @extschema@.access_binding_history (role, changed_at);
CREATE INDEX access_binding_history_old_tenant ON @extschema@.access_binding_history (old_tenant_id);
CREATE INDEX access_binding_history_new_tenant ON @extschema@.access_binding_history (new_tenant_id);
COMMENT ON TABLE @extschema@.access_binding_history IS
    'Every grant, rebind and revoke of a binding (also by a cascade when a tenant or partner is deleted): the role, the old and the new binding, who and when. Append-only; kept after a revoke';
COMMENT ON COLUMN @extschema@.access_binding_history.role IS 'The bound role''s oid (the name is kept too: the role may be dropped later)';
COMMENT ON COLUMN @extschema@.access_binding_history.session_role IS 'The login role (session_user) that made the change';
COMMENT ON COLUMN @extschema@.access_binding_history.acting_role IS 'The role in effect (after SET ROLE) that made the change';
REVOKE ALL ON @extschema@.access_binding_history FROM PUBLIC;
SELECT @extschema@.register_for_dump('@extschema@.access_binding_history');
ALTER TABLE @extschema@.access_binding_history ENABLE ROW LEVEL SECURITY;
-- a manager reads the changes that stay inside its tenant (a grant into it, a
-- rebind within it, a revoke from it); a move between tenants, which only an
-- admin makes, would show each side the other's tenant and partner
CREATE POLICY binding_history_read ON @extschema@.access_binding_history FOR SELECT
    USING ((SELECT @extschema@.is_group_admin())
           OR ((SELECT @extschema@.is_tenant_manager())
               AND coalesce(old_tenant_id, new_tenant_id) = (SELECT @extschema@.current_tenant_id())
               AND coalesce(new_tenant_id, old_tenant_id) = (SELECT @extschema@.current_tenant_id())));
GRANT SELECT ON @extschema@.access_binding_history TO rebate_admin, rebate_manager;

-- SECURITY DEFINER: it writes the history, which nobody else may; it serves
-- access_binding only.
CREATE FUNCTION @extschema@.record_binding_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r regrole;
BEGIN
    IF TG_RELID <> '@extschema@.access_binding'::regclass THEN
        RAISE EXCEPTION 'record_binding_change only serves rebate.access_binding' USING ERRCODE = 'insufficient_privilege';
    END IF;
    r := CASE TG_OP WHEN 'DELETE' THEN OLD.role ELSE NEW.role END;
    IF TG_OP = 'UPDATE' AND (NEW.tenant_id, NEW.partner_id) IS NOT DISTINCT FROM (OLD.tenant_id, OLD.partner_id)
       AND NEW.role = OLD.role THEN
        RETURN NULL;
    END IF;
    INSERT INTO @extschema@.access_binding_history
        (role, role_name, operation, old_tenant_id, old_partner_id, new_tenant_id, new_partner_id, session_role, acting_role)
    VALUES (r::oid, coalesce((SELECT rr.rolname FROM pg_catalog.pg_roles rr WHERE rr.oid = r::oid), r::oid::text),
            CASE TG_OP WHEN 'INSERT' THEN 'grant' WHEN 'UPDATE' THEN 'rebind' ELSE 'revoke' END,
            CASE WHEN TG_OP <> 'INSERT' THEN OLD.tenant_id END, CASE WHEN TG_OP <> 'INSERT' THEN OLD.partner_id END,
            CASE WHEN TG_OP <> 'DELETE' THEN NEW.tenant_id END, CASE WHEN TG_OP <> 'DELETE' THEN NEW.partner_id END,
            session_user, @extschema@.acting_role());
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.record_binding_change() IS
    'AFTER trigger on access_binding: appends every grant, rebind and revoke to access_binding_history';
CREATE TRIGGER history AFTER INSERT OR UPDATE OR DELETE ON @extschema@.access_binding
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_binding_change();

-- The existing bindings enter the history as they stand.
INSERT INTO @extschema@.access_binding_history
    (role, role_name, operation, new_tenant_id, new_partner_id, session_role, acting_role, changed_at)
SELECT b.role::oid, r.rolname, 'grant', b.tenant_id, b.partner_id, b.granted_by, b.granted_by, b.granted_at
  FROM @extschema@.access_binding b JOIN pg_catalog.pg_roles r ON r.oid = b.role::oid;

COMMENT ON COLUMN @extschema@.access_binding.granted_by IS
    'The login role (session_user) that made the binding: SET ROLE does not change it';

-- Group admins bind anyone who may be bound.  A tenant's manager binds, as
-- users of its own tenant's partners, only login roles that are unbound or
-- already partner users of that tenant; never itself, a manager or an admin.
-- Every check is strict; what is not allowed is refused.
CREATE OR REPLACE FUNCTION @extschema@.grant_access(role regrole, tenant_id bigint, partner_id bigint DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting     name := @extschema@.acting_role();
    target     pg_catalog.pg_roles%ROWTYPE;
    bound      @extschema@.access_binding%ROWTYPE;
    allowed    boolean;
    group_role text := CASE WHEN partner_id IS NULL THEN 'rebate_manager' ELSE 'rebate_partner' END;
BEGIN
    SELECT * INTO target FROM pg_catalog.pg_roles r WHERE r.oid = role;
    SELECT * INTO bound FROM @extschema@.access_binding b WHERE b.role = grant_access.role;
    allowed := @extschema@.role_is_admin(acting)
               OR coalesce(grant_access.partner_id IS NOT NULL
                           AND @extschema@.manages_tenant(acting, grant_access.tenant_id)
                           AND target.rolcanlogin
                           AND NOT pg_catalog.pg_has_role(target.oid, 'rebate_manager', 'MEMBER')
                           AND (bound.role IS NULL
                                OR (bound.tenant_id = grant_access.tenant_id AND bound.partner_id IS NOT NULL)), false);
    IF NOT allowed THEN
        RAISE EXCEPTION 'permission denied to bind role % to tenant %', role, tenant_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Group administrators (rebate_admin) bind managers and partner users; a tenant''s managers bind login roles that are unbound or partner users of their own tenant, as partner users of that tenant.';
    END IF;
    IF target.oid IS NULL OR target.rolsuper OR target.rolcreaterole OR target.rolbypassrls OR target.rolreplication
       OR target.rolname IN ('rebate_admin', 'rebate_manager', 'rebate_partner') OR target.rolname LIKE 'pg\_%'
       OR target.rolname IN (acting, session_user) OR @extschema@.role_is_admin(target.rolname) THEN
        RAISE EXCEPTION 'role % cannot be bound to a tenant', role
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Superusers, roles that create roles or bypass row-level security, built-in roles, the rebate group roles, group administrators and the caller itself are never bound.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM @extschema@.tenant t WHERE t.id = grant_access.tenant_id) THEN
        RAISE EXCEPTION 'tenant % does not exist', tenant_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF partner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM @extschema@.partner p
                                               WHERE p.id = partner_id AND p.tenant_id = grant_access.tenant_id) THEN
        RAISE EXCEPTION 'partner % does not belong to tenant %', partner_id, tenant_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    INSERT INTO @extschema@.access_binding AS b (role, tenant_id, partner_id, granted_by)
    VALUES (role, tenant_id, partner_id, session_user)
    ON CONFLICT ON CONSTRAINT access_binding_pkey DO UPDATE
        SET tenant_id = excluded.tenant_id, partner_id = excluded.partner_id,
            granted_by = excluded.granted_by, granted_at = pg_catalog.now();
    PERFORM @extschema@.drop_group_memberships(target.oid);
    EXECUTE pg_catalog.format('GRANT %I TO %I', group_role, target.rolname);
END
$$;

-- Group admins revoke any binding; a tenant's manager only its own tenant's
-- partner users.  Anything else, an unbound role included, is refused the
-- same way.  The binding's end is kept in access_binding_history.
CREATE OR REPLACE FUNCTION @extschema@.revoke_access(role regrole) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting  name := @extschema@.acting_role();
    bound   @extschema@.access_binding%ROWTYPE;
    allowed boolean;
BEGIN
    SELECT * INTO bound FROM @extschema@.access_binding b WHERE b.role = revoke_access.role;
    allowed := @extschema@.role_is_admin(acting)
               OR coalesce(bound.partner_id IS NOT NULL
                           AND @extschema@.manages_tenant(acting, bound.tenant_id)
                           AND NOT pg_catalog.pg_has_role(role::oid, 'rebate_manager', 'MEMBER')
                           AND NOT @extschema@.role_is_admin((SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = role::oid)), false);
    IF NOT allowed THEN
        RAISE EXCEPTION 'permission denied to revoke access of role %', role
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Group administrators revoke any binding; a tenant''s managers revoke the partner users of their own tenant.';
    END IF;
    IF bound.role IS NULL THEN
        RETURN;
    END IF;
    DELETE FROM @extschema@.access_binding b WHERE b.role = revoke_access.role;
    PERFORM @extschema@.drop_group_memberships(role);
END
$$;

-- ---- BEFORE triggers that read as the owner: judge the writer first --------

-- The parent is read only inside the row's tenant, and only for a writer who
-- may manage that tenant: for anyone else the row is left to row-level
-- security, so the cycle error never prints another tenant's path.
CREATE OR REPLACE FUNCTION @extschema@.maintain_tree_path() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parent_path bigint[];
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'maintain_tree_path only serves tables of the rebate extension'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_WHEN = 'BEFORE' THEN
        IF NEW.parent_id IS NULL THEN
            NEW.path := ARRAY[NEW.id];
            RETURN NEW;
        END IF;
        IF NOT @extschema@.may_manage(@extschema@.acting_role(), NEW.tenant_id) THEN
            RETURN NEW;                 -- row-level security refuses the row
        END IF;
        EXECUTE format('SELECT path FROM %I.%I WHERE id = $1 AND tenant_id = $2', TG_TABLE_SCHEMA, TG_TABLE_NAME)
            INTO parent_path USING NEW.parent_id, NEW.tenant_id;
        IF parent_path IS NULL THEN
            RETURN NEW;                 -- no such parent in the tenant: the foreign key reports it
        END IF;
        IF NEW.id = ANY (parent_path) THEN
            RAISE EXCEPTION '% % cannot be placed under %: that would make a cycle', TG_TABLE_NAME, NEW.id, NEW.parent_id
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('%s %s is itself below %s %s (path %s).',
                                      TG_TABLE_NAME, NEW.parent_id, TG_TABLE_NAME, NEW.id, parent_path),
                      HINT = 'Move the descendant elsewhere first, or choose a parent outside this subtree.';
        END IF;
        NEW.path := parent_path || NEW.id;
        RETURN NEW;
    END IF;
    -- AFTER UPDATE with a changed path: the children recompute theirs (and so on down)
    IF NEW.path IS DISTINCT FROM OLD.path THEN
        EXECUTE format('UPDATE %I.%I SET parent_id = parent_id WHERE parent_id = $1 AND tenant_id = $2',
                       TG_TABLE_SCHEMA, TG_TABLE_NAME)
            USING NEW.id, NEW.tenant_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.partner_name_key() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    existing record;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'partner' THEN
        RAISE EXCEPTION 'partner_name_key only serves rebate.partner' USING ERRCODE = 'insufficient_privilege';
    END IF;
    NEW.name_key := @extschema@.normalize_name(NEW.name);
    -- name the existing partner only to those who manage the tenant; anyone
    -- else is refused by row-level security before the unique index is reached
    IF NOT @extschema@.may_manage(@extschema@.acting_role(), NEW.tenant_id) THEN
        RETURN NEW;
    END IF;
    SELECT p.code, p.name INTO existing FROM @extschema@.partner p
     WHERE p.tenant_id = NEW.tenant_id AND p.name_key = NEW.name_key AND p.id <> NEW.id;
    IF FOUND THEN
        RAISE EXCEPTION 'partner "%" is already registered as % "%"', NEW.name, existing.code, existing.name
            USING ERRCODE = 'unique_violation',
                  DETAIL = format('Both names normalize to "%s" (full-width, case, spaces and punctuation aside).', NEW.name_key),
                  HINT = 'Use the existing partner, or tell the two companies apart by their registered names.';
    END IF;
    RETURN NEW;
END
$$;

-- The order's partner and the product's cost are read only for a writer who
-- sees the row's tenant: for anyone else the row is left to row-level
-- security untouched.
CREATE OR REPLACE FUNCTION @extschema@.fill_order_line() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'order_line' THEN
        RAISE EXCEPTION 'fill_order_line only serves rebate.order_line' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT @extschema@.sees_tenant(@extschema@.acting_role(), NEW.tenant_id) THEN
        RETURN NEW;                     -- row-level security refuses the row
    END IF;
    IF NEW.partner_id IS NULL THEN
        SELECT o.partner_id INTO NEW.partner_id FROM @extschema@.sales_order o
         WHERE o.id = NEW.order_id AND o.tenant_id = NEW.tenant_id;
    END IF;
    IF NEW.unit_cost IS NULL THEN
        SELECT p.standard_cost INTO NEW.unit_cost FROM @extschema@.product p
         WHERE p.id = NEW.product_id AND p.tenant_id = NEW.tenant_id;
    END IF;
    RETURN NEW;
END
$$;

-- The payment is read only inside the row's tenant and only for a writer who
-- may manage it; another tenant's payment id is left to the foreign key,
-- exactly like an id that does not exist.
CREATE OR REPLACE FUNCTION @extschema@.check_payment_allocation() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    paid      numeric;
    allocated numeric;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'payment_allocation' THEN
        RAISE EXCEPTION 'check_payment_allocation only serves rebate.payment_allocation' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT @extschema@.may_manage(@extschema@.acting_role(), NEW.tenant_id) THEN
        RETURN NEW;                     -- row-level security refuses the row
    END IF;
    -- lock the payment so that concurrent allocations are checked one after the other
    SELECT p.amount INTO paid FROM @extschema@.payment p
     WHERE p.id = NEW.payment_id AND p.tenant_id = NEW.tenant_id AND p.partner_id = NEW.partner_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NEW;                     -- the foreign key reports it
    END IF;
    SELECT coalesce(sum(a.amount), 0) INTO allocated FROM @extschema@.payment_allocation a
     WHERE a.payment_id = NEW.payment_id AND a.id <> NEW.id;
    IF allocated + NEW.amount > paid THEN
        RAISE EXCEPTION 'allocations of payment % would exceed it', NEW.payment_id
            USING ERRCODE = 'check_violation',
                  DETAIL = format('The payment is %s; %s is allocated already and %s more was asked.', paid, allocated, NEW.amount);
    END IF;
    RETURN NEW;
END
$$;

-- ---- attestation: who issued, answered, paid ... is the server's to say ----

-- BEFORE INSERT OR UPDATE trigger.  TG_ARGV[0] names the status column ('' for
-- none); each further argument is 'when:by_column:at_column', where when is
-- 'insert' or the statuses (separated by |) whose reaching is attested, and
-- by_column may be empty.  When that happens the columns are stamped with
-- rebate.acting_role() and the time.  A write may leave a by_column as it was
-- or name the acting role in it (as the extension's functions do); naming
-- anyone else is refused, and so is any change at any other time.
CREATE FUNCTION @extschema@.stamp_attestation() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor      name := @extschema@.acting_role();
    new_row    jsonb := pg_catalog.to_jsonb(NEW);
    old_row    jsonb := CASE WHEN TG_OP = 'UPDATE' THEN pg_catalog.to_jsonb(OLD) END;
    new_status text := CASE WHEN TG_ARGV[0] <> '' THEN new_row ->> TG_ARGV[0] END;
    old_status text := CASE WHEN TG_ARGV[0] <> '' THEN old_row ->> TG_ARGV[0] END;
    stamp      jsonb := '{}';
    spec       text[];
    stamping   boolean;
    forged     text;
BEGIN
    FOR i IN 1 .. TG_NARGS - 1 LOOP
        spec := pg_catalog.string_to_array(TG_ARGV[i], ':');
        stamping := CASE WHEN spec[1] = 'insert' THEN TG_OP = 'INSERT'
                         ELSE new_status IS DISTINCT FROM old_status
                              AND new_status = ANY (pg_catalog.string_to_array(spec[1], '|')) END;
        forged := CASE
            WHEN spec[2] <> '' AND (new_row ->> spec[2]) IS DISTINCT FROM (old_row ->> spec[2])
                 AND (NOT stamping OR (new_row ->> spec[2]) IS DISTINCT FROM actor::text) THEN spec[2]
            WHEN NOT stamping AND (new_row -> spec[3]) IS DISTINCT FROM coalesce(old_row -> spec[3], 'null') THEN spec[3] END;
        IF forged IS NOT NULL THEN
            RAISE EXCEPTION 'column "%" of table "%" is set by the server', forged, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = pg_catalog.format('It records who and when %s, as the acting role and the time.',
                                                 CASE spec[1] WHEN 'insert' THEN 'the row was created'
                                                      ELSE 'the status became ' || pg_catalog.replace(spec[1], '|', ' or ') END),
                      HINT = 'Leave it out of INSERT and UPDATE.';
        END IF;
        IF stamping THEN
            IF spec[2] <> '' THEN
                stamp := stamp || pg_catalog.jsonb_build_object(spec[2], actor);
            END IF;
            stamp := stamp || pg_catalog.jsonb_build_object(spec[3], pg_catalog.clock_timestamp());
        END IF;
    END LOOP;
    IF stamp <> '{}' THEN
        NEW := pg_catalog.jsonb_populate_record(NEW, stamp);
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.stamp_attestation() IS
    'BEFORE trigger: stamps attestation columns (who and when a status was reached) with the acting role and the time, and refuses any other write to them';

CREATE TRIGGER attest BEFORE INSERT OR UPDATE ON @extschema@.statement
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_attestation(
        'status', 'insert:closed_by:closed_at', 'issued:issued_by:issued_at',
        'confirmed|disputed:answered_by:answered_at', 'resolved:resolved_by:resolved_at', 'paid:paid_by:paid_at');
CREATE TRIGGER attest BEFORE INSERT OR UPDATE ON @extschema@.statement_adjustment
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_attestation('', 'insert:created_by:created_at');
CREATE TRIGGER attest BEFORE INSERT OR UPDATE ON @extschema@.program_version
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_attestation(
        'status', 'insert:created_by:created_at', 'active::activated_at');
CREATE TRIGGER attest BEFORE INSERT OR UPDATE ON @extschema@.policy_violation
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_attestation(
        'status', 'insert:detected_by:detected_at', 'approved|rejected:resolved_by:resolved_at');

REVOKE ALL ON FUNCTION @extschema@.record_binding_change() FROM PUBLIC;

-- A SECURITY DEFINER trigger function serves the extension's own tables, whose
-- triggers the install made: nobody may attach one to a table of its own
-- (EXECUTE is checked when a trigger is created, not when it fires).  Each
-- also refuses other tables before it touches the row, but a user's type in
-- the row could run the user's code (a cast) with the owner's rights.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = '@extschema@'::regnamespace AND p.prosecdef
                AND p.prorettype = 'pg_catalog.trigger'::regtype LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

-- ---- issued statements: a document the partner holds -----------------------

-- Drafts are written (and rewritten) by close_period.  An issued statement
-- changes only by a status step, and each step writes only its own columns
-- (the attestation columns are stamped by the attest trigger); its lines
-- never change, and no line moves into or out of it.
CREATE OR REPLACE FUNCTION @extschema@.guard_statement() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    step_columns text[];
    frozen       text;
    lines        bigint;
    lines_total  numeric;
    st           @extschema@.statement;
BEGIN
    IF TG_TABLE_NAME = 'statement' THEN
        IF TG_OP = 'INSERT' THEN
            IF NEW.status <> 'draft' THEN
                RAISE EXCEPTION 'a statement starts as a draft'
                    USING ERRCODE = 'invalid_parameter_value', HINT = 'rebate.close_period writes statements.';
            END IF;
            -- the changes a later close rechecks start from here: never from a transaction to come
            IF NEW.closed_xmin > pg_catalog.txid_snapshot_xmin(pg_catalog.txid_current_snapshot()) THEN
                RAISE EXCEPTION 'column "closed_xmin" of a statement is set by rebate.close_period'
                    USING ERRCODE = 'insufficient_privilege',
                          DETAIL = 'It may not lie past the transactions the closing snapshot saw.',
                          HINT = 'Leave it out of INSERT.';
            END IF;
            RETURN NEW;
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.closed_xmin IS DISTINCT FROM OLD.closed_xmin THEN
            RAISE EXCEPTION 'column "closed_xmin" of statement % is set by rebate.close_period', OLD.id
                USING ERRCODE = 'insufficient_privilege', HINT = 'Leave it out of UPDATE.';
        END IF;
        IF OLD.status = 'draft' AND TG_OP = 'UPDATE' AND NEW.status <> 'draft' THEN
            -- what is issued is what its lines add up to
            SELECT count(*), coalesce(sum(l.net), 0) INTO lines, lines_total
              FROM @extschema@.statement_line l WHERE l.statement_id = OLD.id;
            IF (NEW.line_count, NEW.total) IS DISTINCT FROM (lines, lines_total) THEN
                RAISE EXCEPTION 'statement % does not add up to its lines', OLD.id
                    USING ERRCODE = 'RB061',
                          DETAIL = pg_catalog.format('It says %s line(s) totalling %s; its lines are %s, totalling %s.',
                                                     NEW.line_count, NEW.total, lines, lines_total),
                          HINT = 'Close the period again (rebate.close_period) to recompute the draft.';
            END IF;
        END IF;
        IF OLD.status = 'draft' THEN
            RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
        END IF;
        step_columns := ARRAY['status', 'updated_at', 'issued_at', 'issued_by', 'answered_at', 'answered_by',
                              'resolved_at', 'resolved_by', 'paid_at', 'paid_by']
                        || CASE WHEN TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN
                                CASE NEW.status WHEN 'disputed' THEN ARRAY['dispute_reason']
                                                WHEN 'resolved' THEN ARRAY['resolution_note']
                                                WHEN 'paid' THEN ARRAY['payment_reference'] END END;
        IF TG_OP = 'UPDATE' THEN
            SELECT n.key INTO frozen FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(NEW) - step_columns) n
             WHERE n.value IS DISTINCT FROM pg_catalog.to_jsonb(OLD) -> n.key
             ORDER BY n.key LIMIT 1;
        END IF;
        IF TG_OP = 'DELETE' OR frozen IS NOT NULL THEN
            RAISE EXCEPTION 'statement % is % and cannot change', OLD.id, OLD.status
                USING ERRCODE = 'RB061',
                      DETAIL = CASE WHEN frozen IS NOT NULL
                                    THEN pg_catalog.format('Column "%s" was to change; an issued statement is a document the partner holds.', frozen)
                                    ELSE 'An issued statement is a document the partner holds.' END,
                      HINT = 'Later changes are settled as adjustment lines on the next statement.';
        END IF;
        RETURN NEW;
    END IF;
    -- statement_line: the statement it leaves and the one it joins must be drafts
    FOR st IN SELECT * FROM @extschema@.statement s
               WHERE s.id IN (CASE WHEN TG_OP <> 'INSERT' THEN OLD.statement_id END,
                              CASE WHEN TG_OP <> 'DELETE' THEN NEW.statement_id END)
                 AND s.status <> 'draft'
               ORDER BY s.id LIMIT 1 LOOP
        RAISE EXCEPTION 'statement % is % and its lines cannot change', st.id, st.status
            USING ERRCODE = 'RB061',
                  HINT = 'Later changes are settled as adjustment lines on the next statement.';
    END LOOP;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- ---- uniqueness inside a tenant ----------------------------------------------

-- A unique or exclusion constraint without tenant_id answers, for another
-- tenant's ids, before the foreign key does: 23505 / 23P01 instead of 23503
-- tells that the row exists (and, bisected, its dates or counts).  With
-- tenant_id in every one, another tenant's id meets the foreign key, exactly
-- like an id that does not exist.
ALTER TABLE @extschema@.partner_territory
    DROP CONSTRAINT partner_territory_int8range_int8range1_valid_excl,
    ADD CONSTRAINT partner_territory_no_overlap EXCLUDE USING gist (
        int8range(tenant_id, tenant_id, '[]') WITH =, int8range(partner_id, partner_id, '[]') WITH =,
        int8range(region_id, region_id, '[]') WITH =, valid WITH &&);
ALTER TABLE @extschema@.program_version
    DROP CONSTRAINT program_version_program_id_version_key,
    ADD CONSTRAINT program_version_version_key UNIQUE (tenant_id, program_id, version),
    DROP CONSTRAINT program_version_no_overlap,
    ADD CONSTRAINT program_version_no_overlap EXCLUDE USING gist (
        int8range(tenant_id, tenant_id, '[]') WITH =, int8range(program_id, program_id, '[]') WITH =,
        effective WITH &&) WHERE (status = 'active');
ALTER TABLE @extschema@.statement_line
    DROP CONSTRAINT statement_line_statement_id_line_no_key,
    ADD CONSTRAINT statement_line_line_no_key UNIQUE (tenant_id, statement_id, line_no),
    DROP CONSTRAINT statement_line_adjustment_id_key,
    ADD CONSTRAINT statement_line_adjustment_key UNIQUE (tenant_id, adjustment_id);

-- ---- ids are the server's ----------------------------------------------------

-- Ids come from one sequence per table, shared by the tenants: a role that
-- chose its own ids could take the next ones of another tenant (whose inserts
-- would then fail) or probe which exist.  Nobody but the owner writes an id;
-- every other column keeps the privileges it had.  A partner user registers
-- an end customer as of today, never backdated (registered_on counts for the
-- new_customers metric).
DO $$
DECLARE
    grant_row record;
BEGIN
    FOR grant_row IN
        SELECT c.oid::regclass AS tbl, a.grantee::regrole AS grantee, a.privilege_type,
               (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(att.attname), ', ' ORDER BY att.attnum)
                  FROM pg_catalog.pg_attribute att
                 WHERE att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
                   AND att.attname <> 'id'
                   AND NOT (c.oid = '@extschema@.end_customer'::regclass AND att.attname = 'registered_on'
                            AND a.grantee = 'rebate_partner'::regrole)) AS columns
          FROM pg_catalog.pg_class c
          CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
         WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind = 'r'
           AND a.privilege_type IN ('INSERT', 'UPDATE')
           AND a.grantee IN ('rebate_admin'::regrole, 'rebate_manager'::regrole, 'rebate_partner'::regrole)
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute att
                        WHERE att.attrelid = c.oid AND att.attname = 'id' AND att.attidentity <> '')
         ORDER BY 1, 2, 3
    LOOP
        EXECUTE pg_catalog.format('REVOKE %s ON %s FROM %s', grant_row.privilege_type, grant_row.tbl, grant_row.grantee);
        EXECUTE pg_catalog.format('GRANT %s (%s) ON %s TO %s', grant_row.privilege_type, grant_row.columns,
                                  grant_row.tbl, grant_row.grantee);
    END LOOP;
END
$$;

-- A revision is a new row with an id of its own (it took the base's id
-- column from the sequence, which only the owner may call).
CREATE OR REPLACE FUNCTION @extschema@.revise_program(program_id bigint, changes jsonb, effective_from date DEFAULT NULL,
                                                      note text DEFAULT NULL)
    RETURNS @extschema@.program_version
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    base    @extschema@.program_version;
    fresh   @extschema@.program_version;
    unknown text;
    columns text;
BEGIN
    SELECT * INTO base FROM @extschema@.program_version pv
     WHERE pv.program_id = revise_program.program_id ORDER BY pv.version DESC LIMIT 1;
    IF base.id IS NULL THEN
        RAISE EXCEPTION 'program % has no version to revise', program_id USING ERRCODE = 'no_data_found',
              HINT = 'Insert its first version into rebate.program_version.';
    END IF;
    SELECT k INTO unknown FROM pg_catalog.jsonb_object_keys(coalesce(changes, '{}')) AS k
     WHERE k IN ('id', 'tenant_id', 'program_id', 'version', 'status', 'created_by', 'activated_at', 'created_at', 'updated_at')
        OR k NOT IN (SELECT a.attname FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid = '@extschema@.program_version'::regclass AND a.attnum > 0 AND NOT a.attisdropped)
     LIMIT 1;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'a revision cannot set "%"', unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Change the definition columns of rebate.program_version (metric, kind, schedule, scope, ...).';
    END IF;
    fresh := pg_catalog.jsonb_populate_record(base, coalesce(changes, '{}'));
    fresh.note := note;
    IF effective_from IS NOT NULL THEN
        fresh.effective := pg_catalog.daterange(effective_from, upper(fresh.effective));
    END IF;
    -- the definition columns; id, version, status and the stamps start afresh
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = '@extschema@.program_version'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname NOT IN ('id', 'version', 'status', 'created_by', 'activated_at', 'created_at', 'updated_at');
    EXECUTE pg_catalog.format('INSERT INTO @extschema@.program_version (%1$s) SELECT %1$s FROM pg_catalog.jsonb_populate_record(NULL::@extschema@.program_version, $1) RETURNING *', columns)
       INTO fresh USING pg_catalog.to_jsonb(fresh);
    RETURN fresh;
END
$$;

REVOKE ALL ON FUNCTION @extschema@.verify_period(bigint, daterange) FROM PUBLIC;

-- ---- locks: never on another tenant's rows, nor on a key anyone can take ----

-- A violation is judged before it is locked.
CREATE OR REPLACE FUNCTION @extschema@.resolve_violation(violation_id bigint, decision text, note text DEFAULT NULL)
    RETURNS @extschema@.policy_violation
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting     name := @extschema@.acting_role();
    v          @extschema@.policy_violation;
    held_from  text;
    order_status text;
    line_level boolean;
BEGIN
    IF decision IS NULL OR decision NOT IN ('approve', 'reject') THEN
        RAISE EXCEPTION 'invalid decision "%"', decision
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Decide "approve" or "reject".';
    END IF;
    -- judged before it is locked: another tenant's violation is neither read nor locked
    SELECT * INTO v FROM @extschema@.policy_violation pv
     WHERE pv.id = violation_id AND @extschema@.may_manage(acting, pv.tenant_id) FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'violation % does not exist or is not yours to resolve', violation_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'Managers of the violation''s tenant (rebate_manager) and group administrators resolve violations.';
    END IF;
    IF v.status <> 'open' THEN
        RAISE EXCEPTION 'violation % was already resolved', violation_id
            USING ERRCODE = 'RB050',
                  DETAIL = pg_catalog.format('It was %s by %s at %s.', v.status, v.resolved_by, v.resolved_at);
    END IF;
    UPDATE @extschema@.policy_violation pv
       SET status = CASE decision WHEN 'approve' THEN 'approved' ELSE 'rejected' END,
           resolved_at = pg_catalog.now(), resolved_by = acting, resolution_note = note
     WHERE pv.id = violation_id
    RETURNING * INTO v;

    IF v.order_id IS NULL OR v.source_table NOT IN ('@extschema@.order_line'::regclass, '@extschema@.sales_order'::regclass) THEN
        RETURN v;                       -- an application's own table: recorded, nothing to release or cancel
    END IF;
    line_level := v.kind IN ('price_floor', 'price_ceiling', 'no_price_policy', 'product_region')
                  AND v.source_table = '@extschema@.order_line'::regclass;
    IF decision = 'reject' AND NOT line_level THEN
        UPDATE @extschema@.policy_violation pv
           SET status = 'rejected', resolved_at = pg_catalog.now(), resolved_by = acting,
               resolution_note = pg_catalog.format('order cancelled with violation %s', violation_id)
         WHERE pv.order_id = v.order_id AND pv.status = 'open';
        PERFORM @extschema@.set_order_status(v.order_id, 'cancelled',
                                             pg_catalog.format('violation %s rejected: %s', violation_id, note));
        RETURN v;
    END IF;
    IF decision = 'reject' THEN
        DELETE FROM @extschema@.order_line l WHERE l.id = v.source_id AND l.order_id = v.order_id;
    END IF;
    -- release the order once nothing else holds it
    SELECT o.status INTO order_status FROM @extschema@.sales_order o WHERE o.id = v.order_id;
    IF order_status = 'on_hold' AND NOT EXISTS (SELECT 1 FROM @extschema@.policy_violation pv
                                                 WHERE pv.order_id = v.order_id AND pv.status = 'open') THEN
        SELECT h.from_status INTO held_from FROM @extschema@.order_status_history h
         WHERE h.order_id = v.order_id AND h.to_status = 'on_hold'
         ORDER BY h.changed_at DESC, h.id DESC LIMIT 1;
        PERFORM @extschema@.set_order_status(v.order_id,
                                             CASE WHEN held_from = 'approved' THEN 'approved' ELSE 'submitted' END,
                                             pg_catalog.format('violation %s %s: %s', violation_id, v.status, note));
    END IF;
    RETURN v;
END
$$;

-- One close per tenant at a time, serialised on the tenant's settings row.
CREATE OR REPLACE FUNCTION @extschema@.close_period(tenant_id bigint, period daterange)
    RETURNS TABLE (currency text, statements integer, lines integer, total numeric, kept integer, rechecked integer)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    -- its queries run once over large data with pessimistic estimates: JIT compiling them costs more than it saves
    SET jit = off
AS $$
DECLARE
    t        @extschema@.tenant;
    blocking @extschema@.statement;
    results  @extschema@.program_result[] := '{}';
    kept_ids bigint[];
    -- every transaction below this has ended: all later snapshots see what it wrote
    horizon  bigint := pg_catalog.txid_snapshot_xmin(pg_catalog.txid_current_snapshot());
    changed  date;
BEGIN
    -- only READ COMMITTED sees, once the close's lock is granted, what a close of
    -- the tenant it waited for committed
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'rebate.close_period runs in READ COMMITTED transactions only'
            USING ERRCODE = 'invalid_transaction_state',
                  DETAIL = pg_catalog.format('This transaction is %s: it would settle on a snapshot taken before a concurrent close of the tenant committed, and pay again what that close settled.',
                                             pg_catalog.upper(pg_catalog.current_setting('transaction_isolation'))),
                  HINT = 'Close in a READ COMMITTED transaction (the default).';
    END IF;
    SELECT * INTO t FROM @extschema@.tenant x WHERE x.id = close_period.tenant_id;
    IF t.id IS NULL THEN
        RAISE EXCEPTION 'tenant % does not exist or is not visible to you', tenant_id USING ERRCODE = 'no_data_found';
    END IF;
    IF period IS NULL OR isempty(period) OR lower_inf(period) OR upper_inf(period) THEN
        RAISE EXCEPTION 'the period to close must have a first and a last day'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = pg_catalog.format('The period given is %s.', period),
                  HINT = 'Give a range such as ''[2026-10-01,2027-01-01)''.';
    END IF;
    -- one close per tenant at a time: on the tenant's settings row, which only its
    -- managers and the admins may lock (an advisory lock's key anyone can take,
    -- to hold a tenant's close up or to watch for it)
    PERFORM 1 FROM @extschema@.enforcement_setting es WHERE es.tenant_id = t.id FOR NO KEY UPDATE;

    -- statements are settled in order: no draft of another period pending, nothing later closed
    SELECT * INTO blocking FROM @extschema@.statement s
     WHERE s.tenant_id = t.id
       AND ((s.status = 'draft' AND s.period <> close_period.period)
            OR (s.status <> 'draft' AND upper(s.period) > upper(close_period.period)))
     ORDER BY s.status = 'draft' DESC, upper(s.period) DESC LIMIT 1;
    IF blocking.id IS NOT NULL THEN
        RAISE EXCEPTION 'period % cannot be closed while period % has % statements', period, blocking.period,
                        CASE WHEN blocking.status = 'draft' THEN 'draft' ELSE 'issued' END
            USING ERRCODE = 'RB062',
                  DETAIL = CASE WHEN blocking.status = 'draft'
                                THEN 'What a statement settles depends on what the statements before it settled.'
                                ELSE 'A later period is already settled.' END,
                  HINT = CASE WHEN blocking.status = 'draft'
                              THEN pg_catalog.format('Issue the statements of %s (rebate.issue_statements), or close %s again.',
                                                     blocking.period, blocking.period)
                              ELSE 'Changes to earlier periods are settled as adjustments when the next period is closed.' END;
    END IF;

    -- closing again recomputes drafts; issued statements stay as they are
    DELETE FROM @extschema@.statement s
     WHERE s.tenant_id = t.id AND s.period = close_period.period AND s.status = 'draft';
    SELECT coalesce(pg_catalog.array_agg(s.partner_id), '{}') INTO kept_ids FROM @extschema@.statement s
     WHERE s.tenant_id = t.id AND s.period = close_period.period;

    -- scratch tables of this close, made afresh and dropped at its end.  Tables of
    -- those names this role did not make are never used: in a session shared by
    -- several users, another user's table (with a trigger on it) would run that
    -- user's code with this manager's rights.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                WHERE c.relnamespace = pg_catalog.pg_my_temp_schema()
                  AND c.relname IN ('rebate_closing_job', 'rebate_closing_line')
                  AND c.relowner <> (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)) THEN
        RAISE EXCEPTION 'temporary tables named rebate_closing_job or rebate_closing_line belong to another role'
            USING ERRCODE = 'duplicate_table',
                  DETAIL = 'rebate.close_period works in tables of those names that it makes itself.',
                  HINT = 'Close in a session that no other user shares (connection pools reset sessions between users with DISCARD ALL).';
    END IF;
    IF pg_catalog.to_regclass('pg_temp.rebate_closing_job') IS NOT NULL THEN
        DROP TABLE rebate_closing_job;          -- left by a close of this role that failed in a subtransaction
    END IF;
    IF pg_catalog.to_regclass('pg_temp.rebate_closing_line') IS NOT NULL THEN
        DROP TABLE rebate_closing_line;
    END IF;
    CREATE TEMP TABLE rebate_closing_job (version_id bigint, program_period daterange, as_of date, job text)
        ON COMMIT DROP;
    CREATE TEMP TABLE rebate_closing_line ON COMMIT DROP AS
        SELECT * FROM @extschema@.statement_line WITH NO DATA;
    INSERT INTO rebate_closing_job SELECT * FROM @extschema@.closing_jobs(t.id, period);
    -- program periods settled before and not settled again here are recomputed for adjustments
    -- where documents changed since the last close can count in them
    changed := @extschema@.changed_since(t.id, (SELECT s.closed_xmin FROM @extschema@.statement s
                                                 WHERE s.tenant_id = t.id AND s.status <> 'draft'
                                                 ORDER BY s.closed_at DESC LIMIT 1));
    INSERT INTO rebate_closing_job
    SELECT DISTINCT ON (so.version_id, so.program_period)
           so.version_id, so.program_period,
           least(upper(so.program_period), upper(close_period.period)) - 1, 'adjustment'
      FROM @extschema@.settled_so_far(t.id) so
      JOIN @extschema@.program_version pv ON pv.id = so.version_id
     WHERE upper(so.program_period) + pv.grace_days > changed
       AND NOT EXISTS (SELECT 1 FROM rebate_closing_job j
                        WHERE j.version_id = so.version_id AND j.program_period = so.program_period);

    -- one statement: every result from one snapshot
    results := ARRAY(SELECT r FROM rebate_closing_job j
                       JOIN @extschema@.program_version pv ON pv.id = j.version_id
                      CROSS JOIN LATERAL @extschema@.program_results(pv, j.program_period, j.as_of) r
                      WHERE r.partner_id <> ALL (kept_ids));

    INSERT INTO rebate_closing_line (partner_id, line_no, line_kind, program_id, version_id, version, component,
                                     program_period, counted_until, metric, kind, basis, comparison, tier, rate,
                                     documents, earned, cap_applied, rebate, stacking, paid, gross, already_settled,
                                     net, settlement, status, explanation, tenant_id, statement_id)
    SELECT r.partner_id, 0,
           CASE WHEN j.job = 'final' AND coalesce(so.has_final, false) THEN 'adjustment' ELSE j.job END,
           r.program_id, r.version_id, r.version, r.component, r.period, r.counted_until, r.metric, r.kind,
           r.basis, r.comparison, r.tier, r.rate, r.documents, r.earned, r.cap_applied, r.rebate, r.stacking, r.paid,
           g.gross, coalesce(so.settled, g.zero), g.gross - coalesce(so.settled, 0), pv.settlement, r.status,
           r.explanation, t.id, 0
      FROM @extschema@.apply_stacking(results) r
      JOIN rebate_closing_job j ON j.version_id = r.version_id AND j.program_period = r.period
      JOIN @extschema@.program_version pv ON pv.id = r.version_id
      LEFT JOIN @extschema@.settled_so_far(t.id) so
             ON so.partner_id = r.partner_id AND so.program_id = r.program_id AND so.component = r.component
            AND so.program_period = r.period
     CROSS JOIN LATERAL (SELECT @extschema@.round_money(r.paid, pv.currency, t.rounding) AS gross,
                               @extschema@.round_money(0, pv.currency) AS zero) g
     WHERE j.job IN ('final', 'interim') AND NOT coalesce(so.has_final, false)
        OR g.gross <> coalesce(so.settled, 0);
    -- amounts agreed on resolving disputes, not yet on a statement
    INSERT INTO rebate_closing_line (partner_id, line_no, line_kind, program_period, gross, already_settled, net,
                                     status, explanation, adjustment_id, tenant_id, statement_id, settlement)
    SELECT a.partner_id, 0, 'manual', ds.period, a.amount, @extschema@.round_money(0, a.currency), a.amount, 'ok',
           pg_catalog.format('agreed on resolving the dispute of statement %s (%s): %s', ds.id, ds.period, a.note),
           a.id, t.id, 0, NULL
      FROM @extschema@.statement_adjustment a
      JOIN @extschema@.statement ds ON ds.id = a.statement_id
     WHERE a.tenant_id = t.id AND a.partner_id <> ALL (kept_ids)
       AND NOT EXISTS (SELECT 1 FROM @extschema@.statement_line l WHERE l.adjustment_id = a.id);

    INSERT INTO @extschema@.statement (tenant_id, partner_id, period, currency, total, line_count, closed_xmin)
    SELECT t.id, c.partner_id, period, coalesce(pv.currency, a.currency), sum(c.net), count(*), horizon
      FROM rebate_closing_line c
      LEFT JOIN @extschema@.program_version pv ON pv.id = c.version_id
      LEFT JOIN @extschema@.statement_adjustment a ON a.id = c.adjustment_id
     GROUP BY c.partner_id, coalesce(pv.currency, a.currency);

    INSERT INTO @extschema@.statement_line
          (tenant_id, statement_id, partner_id, line_no, line_kind, program_id, version_id, version, component,
           program_period, counted_until, metric, kind, basis, comparison, tier, rate, documents, earned, cap_applied,
           rebate, stacking, paid, gross, already_settled, net, settlement, status, explanation, adjustment_id)
    SELECT t.id, s.id, c.partner_id,
           pg_catalog.row_number() OVER (PARTITION BY s.id
                                         ORDER BY CASE c.line_kind WHEN 'final' THEN 1 WHEN 'interim' THEN 2
                                                                   WHEN 'adjustment' THEN 3 ELSE 4 END,
                                                  p.code, c.component DESC, c.program_period, c.adjustment_id),
           c.line_kind, c.program_id, c.version_id, c.version, c.component, c.program_period, c.counted_until,
           c.metric, c.kind, c.basis, c.comparison, c.tier, c.rate, c.documents, c.earned, c.cap_applied, c.rebate,
           c.stacking, c.paid, c.gross, c.already_settled, c.net, c.settlement, c.status, c.explanation,
           c.adjustment_id
      FROM rebate_closing_line c
      LEFT JOIN @extschema@.program p ON p.id = c.program_id
      LEFT JOIN @extschema@.program_version pv ON pv.id = c.version_id
      LEFT JOIN @extschema@.statement_adjustment a ON a.id = c.adjustment_id
      JOIN @extschema@.statement s ON s.tenant_id = t.id AND s.partner_id = c.partner_id AND s.period = close_period.period
                                  AND s.currency = coalesce(pv.currency, a.currency) AND s.status = 'draft';

    RETURN QUERY
    SELECT s.currency, (count(*) FILTER (WHERE s.status = 'draft'))::integer,
           (sum(s.line_count) FILTER (WHERE s.status = 'draft'))::integer,
           sum(s.total) FILTER (WHERE s.status = 'draft'),
           (count(*) FILTER (WHERE s.status <> 'draft'))::integer,
           (SELECT count(*) FROM rebate_closing_job j WHERE j.job = 'adjustment')::integer
      FROM @extschema@.statement s
     WHERE s.tenant_id = t.id AND s.period = close_period.period
     GROUP BY s.currency ORDER BY s.currency;
    DROP TABLE rebate_closing_job, rebate_closing_line;
END
$$;

-- ---- names resolved under the caller's search_path ------------------------------

-- These two are inlined into their callers (a SET clause would prevent it), so
-- they are planned under the caller's search_path, where a user's temporary
-- type could stand in for an unqualified type name: every type is qualified.
CREATE OR REPLACE FUNCTION @extschema@.order_counts(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT status OPERATOR(pg_catalog.=) ANY ('{approved,shipped,delivered,closed}'::pg_catalog.text[])
$$;

CREATE OR REPLACE FUNCTION @extschema@.program_scope_lines(v @extschema@.program_version, from_day date, to_day date)
    RETURNS TABLE (partner_id bigint, line_id bigint, product_id bigint, quantity numeric, amount numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT o.partner_id, l.id, l.product_id,
           counted.goods * l.quantity,
           CASE o.kind WHEN 'order' THEN l.amount ELSE -l.amount END
      FROM @extschema@.sales_order o
      JOIN @extschema@.order_line l ON l.order_id = o.id AND l.tenant_id = o.tenant_id
      LEFT JOIN @extschema@.sales_order orig ON orig.id = o.original_order_id AND orig.tenant_id = o.tenant_id
      -- the day the document counts on (less the grace days), and which way goods move
     CROSS JOIN LATERAL (
        SELECT CASE WHEN o.kind <> 'order' AND orig.id IS NULL THEN o.order_date
                    WHEN v.date_basis = 'order' THEN coalesce(orig.order_date, o.order_date)
                    WHEN v.date_basis = 'delivery' THEN coalesce(orig.delivered_on, o.delivered_on)
                    ELSE @extschema@.order_paid_on(coalesce(orig.id, o.id))
               END - v.grace_days AS day,
               CASE o.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END AS goods) counted
     WHERE v.metric NOT IN ('collected', 'new_customers')
       AND o.tenant_id = v.tenant_id
       -- by order date no document counts before its own date (the index skips earlier orders), and
       -- an order counts on its own date (returns and credit notes may come later than the window)
       AND o.order_date >= CASE WHEN v.date_basis = 'order' THEN from_day + v.grace_days ELSE '-infinity'::pg_catalog.date END
       AND (o.kind <> 'order' OR o.order_date < CASE WHEN v.date_basis = 'order' THEN to_day + v.grace_days
                                                     ELSE 'infinity'::pg_catalog.date END)
       AND (v.partner_ids = '{}' OR o.partner_id = ANY (v.partner_ids))
       -- the scope is looked up only where the version has one (OR stops at an empty list)
       AND (v.grade_ids = '{}' OR EXISTS (SELECT 1 FROM @extschema@.partner pa
                                           WHERE pa.id = o.partner_id AND pa.grade_id = ANY (v.grade_ids)))
       AND o.currency = v.currency
       AND @extschema@.order_counts(o.status)
       AND (o.kind = 'order' OR v.returns_reduce)
       AND (orig.id IS NULL OR @extschema@.order_counts(orig.status))
       AND (v.region_ids = '{}' OR EXISTS (SELECT 1 FROM @extschema@.region r
                                            WHERE r.id = o.ship_to_region_id AND r.path && v.region_ids))
       AND (v.product_ids = '{}' OR l.product_id = ANY (v.product_ids))
       AND (v.category_ids = '{}' OR EXISTS (SELECT 1 FROM @extschema@.product pr
                                               JOIN @extschema@.product_category pc ON pc.id = pr.category_id
                                              WHERE pr.id = l.product_id AND pc.path && v.category_ids))
       AND counted.day >= from_day AND counted.day < to_day
$$;

-- ---- the audit log: each tenant sees its own values only ---------------------
CREATE OR REPLACE FUNCTION @extschema@.audit_row() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_json jsonb;
    new_json jsonb;
    row_json jsonb;
    tenant_key text := CASE WHEN TG_TABLE_NAME = 'tenant' THEN 'id' ELSE 'tenant_id' END;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'audit_row can only audit tables of the rebate extension'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- the row is touched only now: on a table of its own a user's type could run
    -- its code (a cast to json) with this function's rights
    old_json := CASE WHEN TG_OP <> 'INSERT' THEN pg_catalog.to_jsonb(OLD) END;
    new_json := CASE WHEN TG_OP <> 'DELETE' THEN pg_catalog.to_jsonb(NEW) END;
    row_json := coalesce(new_json, old_json);
    -- a row an admin moves to another tenant leaves the one (a delete there) and
    -- arrives in the other (an insert): each tenant's log shows only its own
    -- values, and settlement sees the change on both sides
    IF TG_OP = 'UPDATE' AND (old_json ->> tenant_key) IS DISTINCT FROM (new_json ->> tenant_key) THEN
        INSERT INTO @extschema@.audit_log
            (tenant_id, table_name, row_id, operation, old_row, new_row, changed_columns, session_role, acting_role)
        VALUES ((old_json ->> tenant_key)::bigint, TG_TABLE_NAME, (old_json ->> 'id')::bigint, 'DELETE', old_json, NULL,
                NULL, session_user, @extschema@.acting_role()),
               ((new_json ->> tenant_key)::bigint, TG_TABLE_NAME, (new_json ->> 'id')::bigint, 'INSERT', NULL, new_json,
                NULL, session_user, @extschema@.acting_role());
        RETURN NULL;
    END IF;
    INSERT INTO @extschema@.audit_log
        (tenant_id, table_name, row_id, operation, old_row, new_row, changed_columns, session_role, acting_role)
    VALUES ((row_json ->> tenant_key)::bigint,
            TG_TABLE_NAME,
            (row_json ->> 'id')::bigint,
            TG_OP,
            old_json,
            new_json,
            CASE WHEN TG_OP = 'UPDATE' THEN
                (SELECT array_agg(n.key ORDER BY n.key) FROM jsonb_each(new_json) n
                  WHERE n.value IS DISTINCT FROM old_json -> n.key)
            END,
            session_user,
            @extschema@.acting_role());
    RETURN NULL;
END
$$;

-- ---- programs: a partner user reads the terms that are its own -------------------

-- A version scoped to named partners is their terms: a sibling dealer does
-- not read which partners get special terms, nor what (a distributor reads
-- those of the partners below it).
CREATE POLICY partner_reads_own_terms ON @extschema@.program_version AS RESTRICTIVE FOR SELECT
    USING ((SELECT @extschema@.current_partner_id()) IS NULL OR partner_ids = '{}'
           OR partner_ids && (SELECT @extschema@.visible_partner_ids()));

-- A partner user sees a program only when it sees one of its versions.
CREATE POLICY partner_reads_own_programs ON @extschema@.program AS RESTRICTIVE FOR SELECT
    USING ((SELECT @extschema@.current_partner_id()) IS NULL
           OR EXISTS (SELECT 1 FROM @extschema@.program_version v WHERE v.program_id = program.id));

-- ---- orders a partner user places are dated by the server ---------------------

-- The day an order counts in decides its period (and, once the period is
-- settled, whether it is paid as an adjustment): partner users do not choose
-- it, as they do not choose when they registered a customer.
REVOKE INSERT (order_date), UPDATE (order_date) ON @extschema@.sales_order FROM rebate_partner;

-- A draft a partner user submits is dated the day it is submitted: an empty
-- draft opened before a period closed and filled after would otherwise date a
-- sale into the settled period.
CREATE FUNCTION @extschema@.date_partner_submission() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.status = 'draft' AND NEW.status <> 'draft' AND @extschema@.current_partner_id() IS NOT NULL THEN
        NEW.order_date := CURRENT_DATE;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.date_partner_submission() IS
    'BEFORE UPDATE trigger on sales_order: a draft a partner user submits is dated the day it is submitted';
-- (before the policy trigger, which judges the territory on the order's date)
CREATE TRIGGER date_submission BEFORE UPDATE OF status ON @extschema@.sales_order
    FOR EACH ROW EXECUTE FUNCTION @extschema@.date_partner_submission();

