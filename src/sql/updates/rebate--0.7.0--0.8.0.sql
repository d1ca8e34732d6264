\echo Use "ALTER EXTENSION rebate UPDATE TO '0.8.0'" to load this file. \quit

-- rebate 0.7.0 -> 0.8.0

-- ---- apply_stacking reads each cascade member's version from its group's query (one lookup per
-- group, not one per member)
CREATE OR REPLACE FUNCTION @extschema@.apply_stacking(results @extschema@.program_result[])
    RETURNS SETOF @extschema@.program_result
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g           record;
    r           @extschema@.program_result;
    v           @extschema@.program_version;
    rerated     record;
    winner      integer;
    paid_before numeric;
    unknown     boolean;
    reduced     numeric;
    reduced_payout numeric;
    reduces_basis  boolean;
    reduces_payout boolean;
    i           integer;
BEGIN
    RETURN QUERY SELECT (u).* FROM pg_catalog.unnest(results) AS u WHERE u.group_id IS NULL OR u.component <> 'own';
    FOR g IN
        SELECT u.partner_id, u.period, pg.rule, pg.code,
               pg_catalog.array_agg(u ORDER BY pv.priority, u.program_id) AS members,
               -- each member's version, in the same order (the cascade reads its flags and re-rates by it)
               pg_catalog.array_agg(pv ORDER BY pv.priority, u.program_id) AS versions
          FROM pg_catalog.unnest(results) AS u
          JOIN @extschema@.program_version pv ON pv.id = u.version_id
          JOIN @extschema@.program_group pg ON pg.id = u.group_id
         WHERE u.group_id IS NOT NULL AND u.component = 'own'
         GROUP BY u.partner_id, u.period, pg.id, pg.rule, pg.code
    LOOP
        unknown := EXISTS (SELECT 1 FROM pg_catalog.unnest(g.members) m WHERE m.rebate IS NULL);
        winner := NULL;
        IF g.rule = 'max' AND NOT unknown THEN
            -- the largest rebate; on a tie, the first in priority order
            SELECT n INTO winner FROM pg_catalog.generate_subscripts(g.members, 1) AS n
             ORDER BY (g.members[n]).rebate DESC, n LIMIT 1;
        ELSIF g.rule = 'exclusive' AND NOT unknown THEN
            SELECT n INTO winner FROM pg_catalog.generate_subscripts(g.members, 1) AS n
             WHERE (g.members[n]).rebate > 0 ORDER BY n LIMIT 1;
        END IF;
        paid_before := 0;
        FOR i IN 1 .. pg_catalog.array_length(g.members, 1) LOOP
            r := g.members[i];
            IF g.rule = 'sum' THEN
                r.paid := r.rebate;
                r.stacking := pg_catalog.format('sum in group %s: adds to the others', g.code);
            ELSIF unknown THEN
                r.paid := NULL;
                r.stacking := pg_catalog.format('%s in group %s: not shown, a program of the group is not shown to you',
                                                g.rule, g.code);
            ELSIF g.rule IN ('max', 'exclusive') THEN
                r.paid := CASE WHEN i = winner THEN r.rebate ELSE 0 END;
                r.stacking := CASE
                    WHEN i = winner AND g.rule = 'max' THEN pg_catalog.format('max in group %s: pays, the largest', g.code)
                    WHEN i = winner THEN pg_catalog.format('exclusive in group %s: pays, the first that applies in priority order', g.code)
                    WHEN winner IS NULL THEN pg_catalog.format('%s in group %s: no program of the group pays', g.rule, g.code)
                    ELSE pg_catalog.format('%s in group %s: not paid, program %s pays instead', g.rule, g.code,
                                           (SELECT p.code FROM @extschema@.program p WHERE p.id = (g.members[winner]).program_id))
                END;
            ELSE
                -- cascade: money measures (the basis, and the measure paid on where it is another) are
                -- reduced by what earlier programs of the group paid, then re-rated
                v := g.versions[i];
                reduces_basis := v.reduced_by_earlier AND r.metric = ANY (@extschema@.metric_names('money_basis'));
                reduces_payout := v.reduced_by_earlier AND r.payout IS NOT NULL
                                  AND v.payout_metric = ANY (@extschema@.metric_names('money_basis'));
                IF paid_before <> 0 AND (reduces_basis OR reduces_payout) AND r.status = 'ok' THEN
                    reduced := CASE WHEN reduces_basis THEN r.basis - paid_before ELSE r.basis END;
                    reduced_payout := CASE WHEN reduces_payout THEN r.payout - paid_before ELSE r.payout END;
                    SELECT * INTO rerated
                      FROM @extschema@.rate_basis(v, reduced, r.comparison, reduced * v.unit_percent / 100, reduced_payout, NULL);
                    r.tier := rerated.tier;
                    r.rate := rerated.rate;
                    r.earned := pg_catalog.trim_scale(rerated.earned);
                    r.cap_applied := coalesce(rerated.earned > v.cap, false);
                    r.rebate := pg_catalog.trim_scale(CASE WHEN rerated.earned > v.cap THEN v.cap ELSE rerated.earned END);
                    r.next_tier_gap := pg_catalog.trim_scale(rerated.next_tier_gap);
                    r.next_tier_rebate := pg_catalog.trim_scale(rerated.next_tier_rebate);
                    r.explanation := rerated.explanation
                                     || CASE WHEN r.cap_applied THEN pg_catalog.format('; capped at %s', v.cap) ELSE '' END;
                    r.stacking := pg_catalog.format('cascade in group %s: %s', g.code, CASE
                        WHEN NOT reduces_payout
                        THEN pg_catalog.format('rated on %s, the basis %s less %s paid by earlier programs',
                                               pg_catalog.trim_scale(reduced), r.basis, pg_catalog.trim_scale(paid_before))
                        WHEN NOT reduces_basis
                        THEN pg_catalog.format('paid on %s %s, the %s less %s paid by earlier programs', v.payout_metric,
                                               pg_catalog.trim_scale(reduced_payout), r.payout, pg_catalog.trim_scale(paid_before))
                        ELSE pg_catalog.format('rated on %s and paid on %s %s, the basis %s and the %s less %s paid by earlier programs',
                                               pg_catalog.trim_scale(reduced), v.payout_metric, pg_catalog.trim_scale(reduced_payout),
                                               r.basis, r.payout, pg_catalog.trim_scale(paid_before)) END);
                ELSE
                    r.stacking := pg_catalog.format('cascade in group %s: %s', g.code,
                                                    CASE WHEN i = 1 THEN 'first in priority order, on its whole basis'
                                                         WHEN NOT v.reduced_by_earlier THEN 'not reduced by earlier programs, on its whole basis'
                                                         WHEN NOT (reduces_basis OR reduces_payout) THEN 'basis not reduced (not an amount)'
                                                         WHEN r.status <> 'ok' THEN pg_catalog.format('nothing is rated (%s)', r.status)
                                                         ELSE 'on its whole basis, the earlier programs paid nothing' END);
                END IF;
                r.paid := r.rebate;
                IF v.reduces_later THEN
                    paid_before := paid_before + r.paid;
                ELSE
                    r.stacking := r.stacking || '; excluded from later programs'' reductions';
                END IF;
            END IF;
            RETURN NEXT r;
        END LOOP;
    END LOOP;
END
$$;
