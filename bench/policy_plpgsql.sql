-- bench/policy_plpgsql.sql — the competitor of bench/policy.sh: the checks
-- of the three C triggers on rebate.order_line (policy_order_state,
-- policy_price, policy_region; src/order_policy.c, price_policy.c,
-- region_policy.c) in one PL/pgSQL row trigger, written the way one would
-- without C: every fact looked up per row with SQL, through the extension's
-- own SQL functions (rebate.effective_price, rebate.policy_price_limits,
-- rebate.product_authorised, rebate.credit_exposure), nothing cached between
-- rows.  Not part of the extension.  Created disabled; bench/policy.sh
-- switches it on for the "plpgsql" variant, with the C triggers off.
--
-- Per line, as the C triggers:
--   1. the order (status, kind, partner, ship-to region, date), FOR SHARE;
--      a line moved away from an order, or into, out of or within a
--      shipped, delivered, closed or cancelled order: RB040;
--   2. lines of orders (kind 'order') only, on insert, or on update when
--      product, price, quantity or order changed:
--      - the effective price policy's floor and ceiling (RB010, RB011, the
--        policy's enforcement mode); no policy: the tenant's
--        no_price_policy mode (RB012);
--      - the product authorised in the ship-to region, the tenant's
--        product_region mode (RB021; on insert, or product or order
--        changed);
--      - the partner certified for the product on the order date, the
--        tenant's certification mode (RB026; likewise);
--   3. a line added to (or grown in) a submitted or approved order: the
--      partner's credit, the tenant's credit mode and tolerance (RB030);
--      a manager's approval of an earlier credit breach of the order covers
--      it up to the amount approved.
-- Review mode records a rebate.policy_violation and holds a submitted or
-- approved order (rebate.set_order_status(..., 'on_hold')), as the C
-- triggers do.  The order of the checks is the C triggers' (state and
-- credit, then price, then product authorisation).
--
-- Security: the C triggers read as the table's owner; this function runs as
-- the writer (a SECURITY DEFINER function would need a second, invoker
-- check for the partner's visibility).  The benchmark writes as a
-- superuser, for whom both read the same rows and the C triggers skip their
-- visibility check.

\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE SCHEMA IF NOT EXISTS bench_policy;

-- "SKU" (name), "CODE" (name), "name" (CODE): for messages only.
CREATE FUNCTION bench_policy.names(product_id bigint, partner_id bigint, region_id bigint,
                                   OUT product text, OUT partner text, OUT region text)
    LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT format('"%s" (%s)', p.sku, p.name) FROM rebate.product p WHERE p.id = names.product_id),
                    names.product_id::text),
           coalesce((SELECT format('"%s" (%s)', pa.code, pa.name) FROM rebate.partner pa WHERE pa.id = names.partner_id),
                    names.partner_id::text),
           coalesce((SELECT format('"%s" (%s)', r.name, r.code) FROM rebate.region r WHERE r.id = names.region_id),
                    names.region_id::text)
$$;

-- A breach: reject raises; review records the violation and holds a
-- submitted or approved order.
CREATE FUNCTION bench_policy.breach(mode text, code text, kind text, message text, detail text, hint text,
                                    line rebate.order_line, o rebate.sales_order,
                                    expected numeric DEFAULT NULL, actual numeric DEFAULT NULL,
                                    amount numeric DEFAULT NULL, policy_id bigint DEFAULT NULL,
                                    with_product boolean DEFAULT true)
    RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    violation bigint;
BEGIN
    IF mode <> 'review' THEN
        RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message, DETAIL = coalesce(detail, ''),
                              HINT = coalesce(hint, '');
    END IF;
    INSERT INTO rebate.policy_violation (tenant_id, kind, source_table, source_id, order_id, partner_id,
                                         product_id, region_id, order_date, quantity, expected, actual, amount,
                                         policy_id, message)
    VALUES (line.tenant_id, kind, 'rebate.order_line'::regclass, line.id, o.id, o.partner_id,
            CASE WHEN with_product THEN line.product_id END, o.ship_to_region_id, o.order_date,
            CASE WHEN with_product THEN line.quantity END, expected, actual, amount, policy_id, message)
    RETURNING id INTO violation;
    IF o.status IN ('submitted', 'approved') THEN
        PERFORM rebate.set_order_status(o.id, 'on_hold', format('held for review: policy violation %s', violation));
    END IF;
END
$$;

CREATE FUNCTION bench_policy.enforce_order_line() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    line      rebate.order_line;
    o         rebate.sales_order;
    old_o     rebate.sales_order;
    moved     boolean := false;
    s         rebate.enforcement_setting;
    pol       rebate.price_policy;
    lim       record;
    credit    record;
    delta     numeric;
    n         record;
    missing   text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        line := OLD;
    ELSE
        line := NEW;
    END IF;

    -- 1. the order's state
    IF TG_OP = 'UPDATE' AND OLD.order_id <> NEW.order_id THEN
        SELECT * INTO old_o FROM rebate.sales_order WHERE id = OLD.order_id FOR SHARE;
        IF FOUND AND old_o.status IN ('shipped', 'delivered', 'closed', 'cancelled') THEN
            RAISE EXCEPTION 'the lines of order "%" cannot change: the order is %', old_o.code, old_o.status
                USING ERRCODE = 'RB040';
        END IF;
        moved := true;
    END IF;
    SELECT * INTO o FROM rebate.sales_order WHERE id = line.order_id FOR SHARE;
    IF NOT FOUND THEN
        RETURN line;                    -- the foreign key reports it
    END IF;
    IF o.status IN ('shipped', 'delivered', 'closed', 'cancelled') THEN
        RAISE EXCEPTION 'the lines of order "%" cannot change: the order is %', o.code, o.status
            USING ERRCODE = 'RB040',
                  HINT = CASE WHEN o.status = 'cancelled' THEN 'Place a new order instead.'
                              ELSE 'Correct a shipped order with a return or a credit note (rebate.sales_order kind return or credit_note) referring to it.' END;
    END IF;
    IF TG_OP = 'DELETE' OR o.kind <> 'order' THEN
        RETURN line;                    -- returns and credit notes keep the original sale's prices
    END IF;

    SELECT * INTO s FROM rebate.enforcement_setting WHERE tenant_id = line.tenant_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant % has no enforcement settings', line.tenant_id USING ERRCODE = 'no_data_found';
    END IF;

    -- credit: a line added to a submitted or approved order
    IF o.status IN ('submitted', 'approved') AND s.credit <> 'allow' THEN
        delta := NEW.quantity * NEW.unit_price;
        IF TG_OP = 'UPDATE' AND NOT moved THEN
            delta := delta - OLD.quantity * OLD.unit_price;
        END IF;
        IF delta > 0 THEN
            SELECT e.credit_limit * (1 + s.credit_tolerance / 100) AS credit_limit,
                   e.exposure + delta AS exposure, e.receivable, e.open_orders, e.this_order + delta AS this_order,
                   EXISTS (SELECT 1 FROM rebate.policy_violation v
                            WHERE v.order_id = o.id AND v.kind = 'credit_limit' AND v.status = 'approved'
                              AND v.amount >= e.this_order + delta) AS approved,
                   EXISTS (SELECT 1 FROM rebate.policy_violation v
                            WHERE v.order_id = o.id AND v.kind = 'credit_limit' AND v.status = 'open') AS open
              INTO credit
              FROM rebate.credit_exposure(o.partner_id, o.id) e;
            IF FOUND AND credit.exposure > credit.credit_limit AND NOT credit.approved THEN
                IF s.credit = 'review' AND credit.open THEN
                    IF o.status IN ('submitted', 'approved') THEN
                        PERFORM rebate.set_order_status(o.id, 'on_hold', 'held for review: policy violation 0');
                    END IF;
                ELSE
                    n := bench_policy.names(NULL, o.partner_id, NULL);
                    PERFORM bench_policy.breach(
                        s.credit, 'RB030', 'credit_limit',
                        format('order "%s" would take partner %s to an exposure of %s, over its credit limit',
                               o.code, n.partner, trim_scale(credit.exposure)),
                        format('Receivable %s, other open orders %s, this order %s; the limit with its %s%% tolerance is %s.',
                               trim_scale(credit.receivable), trim_scale(credit.open_orders),
                               trim_scale(credit.this_order), trim_scale(s.credit_tolerance),
                               trim_scale(credit.credit_limit)),
                        'Collect payment first, or have a manager raise the partner''s credit limit or approve the order.',
                        line, o, credit.credit_limit, credit.exposure, credit.this_order, NULL, false);
                END IF;
            END IF;
        END IF;
    END IF;

    -- 2. price floor and ceiling
    IF TG_OP = 'INSERT' OR moved OR NEW.product_id <> OLD.product_id OR NEW.unit_price <> OLD.unit_price
       OR NEW.quantity <> OLD.quantity THEN
        pol := rebate.effective_price(line.product_id, o.partner_id, o.ship_to_region_id, o.order_date, line.quantity);
        IF pol.id IS NULL THEN
            IF s.no_price_policy <> 'allow' THEN
                n := bench_policy.names(line.product_id, o.partner_id, o.ship_to_region_id);
                PERFORM bench_policy.breach(
                    s.no_price_policy, 'RB012', 'no_price_policy',
                    format('no price policy applies to product %s for partner %s on %s', n.product, n.partner, o.order_date),
                    format('The ship-to region is %s; this tenant does not accept lines without a price policy.', n.region),
                    'Have a manager add a price policy for the product or its category, or set rebate.enforcement_setting.no_price_policy to allow.',
                    line, o, NULL, line.unit_price);
            END IF;
        ELSE
            lim := rebate.policy_price_limits(pol, line.product_id);
            IF line.unit_price < lim.floor_price OR line.unit_price > lim.ceiling_price THEN
                n := bench_policy.names(line.product_id, o.partner_id, o.ship_to_region_id);
                PERFORM bench_policy.breach(
                    pol.enforcement,
                    CASE WHEN line.unit_price < lim.floor_price THEN 'RB010' ELSE 'RB011' END,
                    CASE WHEN line.unit_price < lim.floor_price THEN 'price_floor' ELSE 'price_ceiling' END,
                    format('unit price %s of product %s for partner %s is %s', trim_scale(line.unit_price), n.product,
                           n.partner, CASE WHEN line.unit_price < lim.floor_price
                                           THEN 'below the floor ' || trim_scale(lim.floor_price)
                                           ELSE 'above the ceiling ' || trim_scale(lim.ceiling_price) END),
                    format('Price policy "%s" (id %s) applies on %s in region %s for quantity %s.',
                           pol.code, pol.id, o.order_date, n.region, trim_scale(line.quantity)),
                    CASE WHEN line.unit_price < lim.floor_price
                         THEN 'Invoice at or above the floor, or have a manager change the price policy or set its enforcement to review.'
                         ELSE 'Invoice at or below the ceiling, or have a manager change the price policy or set its enforcement to review.' END,
                    line, o,
                    CASE WHEN line.unit_price < lim.floor_price THEN lim.floor_price ELSE lim.ceiling_price END,
                    line.unit_price, line.unit_price * line.quantity, pol.id);
            END IF;
        END IF;
    END IF;

    -- 3. the product authorised in the ship-to region
    IF s.product_region <> 'allow' AND (TG_OP = 'INSERT' OR moved OR NEW.product_id <> OLD.product_id)
       AND NOT rebate.product_authorised(line.product_id, o.ship_to_region_id) THEN
        n := bench_policy.names(line.product_id, NULL, o.ship_to_region_id);
        PERFORM bench_policy.breach(
            s.product_region, 'RB021', 'product_region',
            format('product %s is not authorised for sale in region %s', n.product, n.region),
            'The product has rows in rebate.product_region and none covers this region.',
            'Ship the product only to its authorised regions, or have a manager authorise it here (rebate.product_region).',
            line, o);
    END IF;

    -- 4. the partner certified for the product on the order date
    IF s.certification <> 'allow' AND (TG_OP = 'INSERT' OR moved OR NEW.product_id <> OLD.product_id) THEN
        SELECT string_agg(format('%s (%s of %s holders)', m.certification_code, m.holders, m.min_holders), ', '
                          ORDER BY m.certification_code)
          INTO missing FROM rebate.missing_certifications(o.partner_id, line.product_id, o.order_date) m;
        IF missing IS NOT NULL THEN
            n := bench_policy.names(line.product_id, o.partner_id, NULL);
            PERFORM bench_policy.breach(
                s.certification, 'RB026', 'certification',
                format('partner %s is not certified to sell product %s on %s', n.partner, n.product, o.order_date),
                format('It lacks valid certificates: %s.', missing),
                'Have the partner''s staff certified (rebate.record_exam_result), or have a manager change the requirement (rebate.certification_requirement).',
                line, o);
        END IF;
    END IF;
    RETURN line;
END
$$;

-- After "fill" (which sets the line's partner), as the C triggers.
CREATE TRIGGER policy_plpgsql BEFORE INSERT OR UPDATE OR DELETE ON rebate.order_line
    FOR EACH ROW EXECUTE FUNCTION bench_policy.enforce_order_line();
ALTER TABLE rebate.order_line DISABLE TRIGGER policy_plpgsql;
