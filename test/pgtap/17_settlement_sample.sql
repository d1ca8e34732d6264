-- Settlement on the sample channel: two brands, five programs each (every
-- kind, max / cascade / exclusive / sum stacking, interim and override).
-- 华光 closes month by month, 青禾 by quarter; between the closes, returns and
-- payments land in periods already settled.  After every close,
-- verify_period's independent recomputation must agree with every line, and
-- every statement must add up.
BEGIN;
SET search_path = public, rebate;
SELECT plan(19);
\ir ../../sample/sample_data.sql

SELECT lives_ok($$SELECT rebate_sample.generate(lines => 3000)$$, 'the sample channel loads');
SELECT is((SELECT count(*) FROM rebate_sample.programs()), 10::bigint, 'five programs per brand are active');

CREATE FUNCTION pg_temp.close_and_verify(tenant_code text, period daterange) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t bigint := (SELECT id FROM rebate.tenant WHERE code = tenant_code);
    problems bigint;
    unbalanced bigint;
    lines bigint;
BEGIN
    PERFORM rebate.close_period(t, period, early => true);
    SELECT count(*) INTO problems FROM rebate.verify_period(t, period);
    SELECT count(*) INTO unbalanced FROM rebate.statement s
     WHERE s.tenant_id = t AND s.period = close_and_verify.period
       AND s.total <> (SELECT sum(l.net) FROM rebate.statement_line l WHERE l.statement_id = s.id);
    SELECT count(*) INTO lines FROM rebate.statement_line l JOIN rebate.statement s ON s.id = l.statement_id
     WHERE s.tenant_id = t AND s.period = close_and_verify.period;
    PERFORM rebate.issue_statements(t, period);
    RETURN format('%s differences, %s unbalanced, lines %s', problems, unbalanced, CASE WHEN lines > 0 THEN 'written' ELSE 'none' END);
END
$$;
-- a late return of a third of the largest order line a partner placed in the period, dated after it
CREATE FUNCTION pg_temp.late_return(tenant_code text, period daterange, n integer) RETURNS void LANGUAGE sql AS $$
    WITH big AS (
        SELECT o.*, l.product_id, l.quantity, l.unit_price
          FROM rebate.sales_order o JOIN rebate.order_line l ON l.order_id = o.id
          JOIN rebate.tenant t ON t.id = o.tenant_id AND t.code = tenant_code
         WHERE o.kind = 'order' AND o.status IN ('approved', 'shipped', 'delivered', 'closed') AND o.order_date <@ period
           AND l.quantity >= 3
         ORDER BY l.amount DESC, l.id OFFSET n LIMIT 1
    ), ret AS (
        INSERT INTO rebate.sales_order (tenant_id, code, partner_id, kind, original_order_id, ship_to_region_id, order_date, status)
        SELECT tenant_id, format('LATE-%s-%s-%s', n, lower(period), code), partner_id, 'return', id, ship_to_region_id, upper(period) + 10, 'approved' FROM big
        RETURNING id, tenant_id
    )
    INSERT INTO rebate.order_line (tenant_id, order_id, line_no, product_id, quantity, unit_price)
    SELECT r.tenant_id, r.id, 1, b.product_id, floor(b.quantity / 3), b.unit_price FROM ret r, big b;
$$;
CREATE FUNCTION pg_temp.late_payment(tenant_code text, day date, n integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO rebate.payment (tenant_id, code, partner_id, received_on, amount)
    SELECT p.tenant_id, format('LATE-%s-%s', n, day), p.id, day, 123456.78
      FROM rebate.partner p JOIN rebate.tenant t ON t.id = p.tenant_id AND t.code = tenant_code
     WHERE p.state = 'active' ORDER BY p.id OFFSET n LIMIT 1;
$$;

-- 华光, month by month through the second half year
SELECT is(pg_temp.close_and_verify('HUAGUANG', '[2026-07-01,2026-08-01)'), '0 differences, 0 unbalanced, lines written', '华光 July');
SELECT is(pg_temp.close_and_verify('HUAGUANG', '[2026-08-01,2026-09-01)'), '0 differences, 0 unbalanced, lines written', '华光 August');
SELECT pg_temp.late_return('HUAGUANG', '[2026-07-01,2026-08-01)', 0);
SELECT pg_temp.late_payment('HUAGUANG', '2026-08-20', 3);
SELECT is(pg_temp.close_and_verify('HUAGUANG', '[2026-09-01,2026-10-01)'), '0 differences, 0 unbalanced, lines written',
          '华光 September, with a late return into July and a late payment into August');
SELECT cmp_ok((SELECT count(*) FROM rebate.statement_line l JOIN rebate.statement s ON s.id = l.statement_id
                JOIN rebate.tenant t ON t.id = s.tenant_id AND t.code = 'HUAGUANG'
               WHERE s.period = '[2026-09-01,2026-10-01)' AND l.line_kind = 'adjustment'), '>', 0::bigint,
              'the late documents are settled as adjustment lines in September');
SELECT is(pg_temp.close_and_verify('HUAGUANG', '[2026-10-01,2026-11-01)'), '0 differences, 0 unbalanced, lines written', '华光 October');
SELECT pg_temp.late_return('HUAGUANG', '[2026-10-01,2026-11-01)', 1);
SELECT pg_temp.late_return('HUAGUANG', '[2026-07-01,2026-10-01)', 2);
SELECT is(pg_temp.close_and_verify('HUAGUANG', '[2026-11-01,2026-12-01)'), '0 differences, 0 unbalanced, lines written',
          '华光 November, with late returns into October and the third quarter');
SELECT is(pg_temp.close_and_verify('HUAGUANG', '[2026-12-01,2027-01-01)'), '0 differences, 0 unbalanced, lines written', '华光 December');
SELECT is((SELECT count(*) FROM rebate.statement s JOIN rebate.tenant t ON t.id = s.tenant_id AND t.code = 'HUAGUANG'
            WHERE s.status = 'issued'), (SELECT count(DISTINCT (s.partner_id, s.period)) FROM rebate.statement s
                                          JOIN rebate.tenant t ON t.id = s.tenant_id AND t.code = 'HUAGUANG'),
          'one statement per partner and period');
-- the quarter's programs settled: 3 interim and 1 final line per partner in Q4 for Q-VOLUME...
SELECT is((SELECT string_agg(DISTINCT l.line_kind, ',') FROM rebate.statement_line l JOIN rebate.program p ON p.id = l.program_id
             JOIN rebate.tenant t ON t.id = l.tenant_id AND t.code = 'HUAGUANG'
            WHERE p.code = 'Q-VOLUME' AND l.program_period = '[2026-10-01,2027-01-01)'),
          'final,interim', 'Q-VOLUME: interim in October and November, final in December');
-- ...and the final line pays exactly the quarter's result less the interim nets
SELECT is((SELECT count(*) FROM rebate.statement_line l JOIN rebate.program p ON p.id = l.program_id
             JOIN rebate.tenant t ON t.id = l.tenant_id AND t.code = 'HUAGUANG'
            WHERE p.code = 'Q-VOLUME' AND l.line_kind = 'final' AND l.program_period = '[2026-10-01,2027-01-01)'
              AND l.already_settled <> (SELECT coalesce(sum(e.net), 0) FROM rebate.statement_line e
                                         WHERE e.partner_id = l.partner_id AND e.program_id = l.program_id
                                           AND e.component = l.component AND e.program_period = l.program_period
                                           AND e.line_kind = 'interim')), 0::bigint,
          'each final line''s already settled is the sum of its interim lines');
SELECT is((SELECT count(*) FROM rebate.statement_line l JOIN rebate.tenant t ON t.id = l.tenant_id AND t.code = 'HUAGUANG'
            WHERE l.stacking LIKE 'cascade%rated on%' AND l.line_kind = 'final'), (SELECT count(*) FROM rebate.statement_line l
            JOIN rebate.tenant t ON t.id = l.tenant_id AND t.code = 'HUAGUANG' JOIN rebate.program p ON p.id = l.program_id
            WHERE p.code = 'M-CASH' AND l.line_kind = 'final'
              AND EXISTS (SELECT 1 FROM rebate.statement_line u JOIN rebate.program up ON up.id = u.program_id
                           WHERE up.code = 'M-UNIT' AND u.partner_id = l.partner_id AND u.program_period = l.program_period
                             AND u.paid <> 0)),
          'M-CASH is re-rated by cascade exactly where M-UNIT paid something in the same month');

-- 青禾, by quarter
SELECT is(pg_temp.close_and_verify('QINGHE', '[2026-07-01,2026-10-01)'), '0 differences, 0 unbalanced, lines written', '青禾 Q3');
SELECT pg_temp.late_return('QINGHE', '[2026-07-01,2026-10-01)', 0);
SELECT pg_temp.late_return('QINGHE', '[2026-08-01,2026-09-01)', 5);
SELECT pg_temp.late_payment('QINGHE', '2026-09-30', 1);
SELECT is(pg_temp.close_and_verify('QINGHE', '[2026-10-01,2027-01-01)'), '0 differences, 0 unbalanced, lines written',
          '青禾 Q4, with late returns and a late payment into Q3');
SELECT cmp_ok((SELECT count(*) FROM rebate.statement_line l JOIN rebate.tenant t ON t.id = l.tenant_id AND t.code = 'QINGHE'
               WHERE l.line_kind = 'adjustment' AND upper(l.program_period) <= '2026-10-01'), '>', 0::bigint,
              'the Q4 statements correct Q3 with adjustment lines');
SELECT is((SELECT count(*) FROM rebate.statement_line l JOIN rebate.tenant t ON t.id = l.tenant_id AND t.code = 'QINGHE'
            JOIN rebate.program p ON p.id = l.program_id
            WHERE p.code IN ('Q-TARGET', 'Q-MARGIN') AND l.line_kind = 'final'
            GROUP BY l.partner_id, l.program_period HAVING count(*) FILTER (WHERE l.paid > 0) > 1 LIMIT 1), NULL,
          'exclusive: never more than one of Q-TARGET and Q-MARGIN is paid to a partner for a quarter');
SELECT is((SELECT count(*) FROM rebate.statement_line l JOIN rebate.tenant t ON t.id = l.tenant_id AND t.code = 'QINGHE'
             JOIN rebate.program p ON p.id = l.program_id
            WHERE p.code IN ('M-UNIT', 'M-CASH') AND l.paid <> l.rebate), 0::bigint,
          'sum: M-UNIT and M-CASH are both paid what they earn');
SELECT is((SELECT count(*) FROM rebate.statement_line l
            WHERE l.line_kind <> 'manual' AND l.gross <> rebate.round_money(l.paid, 'CNY')), 0::bigint,
          'every line''s gross is its exact amount rounded once, to the fen');

SELECT * FROM finish();
ROLLBACK;
