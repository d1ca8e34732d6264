-- What CREATE EXTENSION rebate puts in the catalog, and the properties the
-- planner, Citus and DBAs rely on.
BEGIN;
SET search_path = public, rebate;
SELECT plan(17);

SELECT has_schema('rebate');
SELECT has_type('rebate', 'tier_schedule', 'type tier_schedule exists');
SELECT has_type('rebate', 'tiered_sum_state', 'aggregate state type exists');
SELECT has_function('rebate', 'tiered_rebate', ARRAY['numeric', 'rebate.tier_schedule']);
SELECT has_function('rebate', 'overachievement_rebate', ARRAY['numeric', 'numeric', 'rebate.tier_schedule', 'text']);
SELECT has_function('rebate', 'round_money', ARRAY['numeric', 'text', 'text']);

-- the calculation core (0.1.0) is IMMUTABLE STRICT PARALLEL SAFE; only these are not all three, and why:
--   tier_schedule (constructors): not strict, a NULL cap means "no cap"
--   tiered_payout:               not strict, a NULL target means "no target"
--   tiered_sum_trans/combine:    not strict, they skip NULL rows and NULL states themselves
--   icu_version:                 STABLE, it reports the ICU library loaded now
SELECT is(
    (SELECT array_agg(proname::text ORDER BY proname)
       FROM pg_proc
      WHERE pronamespace = 'rebate'::regnamespace AND prokind = 'f'
        AND proname IN ('tier_schedule', 'tier_schedule_in', 'tier_schedule_out', 'tier_schedule_recv', 'tier_schedule_send',
                        'schedule_mode', 'schedule_kind', 'schedule_cap', 'schedule_thresholds', 'schedule_values', 'tiers',
                        'schedule_to_jsonb', 'schedule_from_jsonb', 'tiered_rebate', 'tier_index', 'next_tier_gap',
                        'effective_rate', 'overachievement_rebate', 'tiered_payout', 'schedule_tier_kinds',
                        'round_money', 'currency_minor_unit',
                        'tiered_sum_trans', 'tiered_sum_combine', 'tiered_sum_final', 'tiered_sum_state_sum', 'icu_version')
        AND (provolatile <> 'i' OR NOT proisstrict OR proparallel <> 's')),
    ARRAY['icu_version', 'tier_schedule', 'tier_schedule', 'tiered_payout', 'tiered_sum_combine', 'tiered_sum_trans'],
    'every other calculation function is IMMUTABLE STRICT PARALLEL SAFE');
SELECT is(
    (SELECT count(*)::int FROM pg_proc
      WHERE pronamespace = 'rebate'::regnamespace AND prorettype <> 'trigger'::regtype AND proparallel <> 's'
        AND NOT prosecdef AND proname NOT LIKE 'apply\_%' AND proname NOT IN
            ('grant_access', 'revoke_access', 'drop_group_memberships', 'set_partner_state', 'set_partner_grade',
             'set_order_status', 'register_for_dump', 'activate_program_version', 'revise_program',
             'rollback_program', 'close_period', 'issue_statement', 'issue_statements', 'confirm_statement',
             'dispute_statement', 'resolve_statement', 'mark_statement_paid', 'set_statement_status',
             'apply_grade_suggestions', 'create_report_view', 'lock_rollups', 'recompute_rollups',
             -- the inbox and the approval engine write
             'notify', 'record_approval_event', 'announce_task', 'end_request', 'start_next_step', 'approve', 'reject',
             -- customer registration, announcements, leads, a partner's way in and out
             'lapse_due_registrations', 'registration_decided', 'deliver_announcement', 'managed_announcement',
             'mark_announcement', 'set_opportunity_stage', 'offer_lead', 'offer_by_rules', 'pass_lead_on', 'my_open_offer',
             'onboarding_decided', 'exit_decided', 'open_request', 'contract_decided', 'renew_contract',
             'grant_contract_territories', 'end_contract_territories', 'settle_contract_grants', 'record_exam_result',
             -- inventory: counts, suggestions and the orders made of them write; the internal judges of who holds a
             -- warehouse read a binding (not parallel safe: they are called where writes follow)
             'record_stock_count', 'suggest_replenishment', 'order_suggestions', 'transfer_decided', 'acts_for_partner', 'move_transfer',
             'holds_warehouse', 'shipment_goods', 'stock_on_hand_of', 'forecast_backtest', 'exit_check_stock',
             'comment_view_columns')),
    0, 'every function that only reads is PARALLEL SAFE, the aggregate too');

-- SECURITY DEFINER only where a role must reach what it may not read or write itself
SELECT is(
    (SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc
      WHERE pronamespace = 'rebate'::regnamespace AND prosecdef),
    ARRAY['accept_lead', 'acknowledge_announcement', 'announce_notifications', 'announce_price_changes',
          'announce_program_activation', 'apply_contracts', 'arbitrate_registration', 'assign_lead', 'audit_row',
          'cancel_lead', 'cancel_transfer', 'certificate_alerts', 'check_approval_step', 'check_payment_allocation',
          'check_registration', 'compact_rollups', 'contract_alerts', 'create_enforcement_setting',
          'create_inbox_secret', 'decide_approval', 'decline_lead', 'delegate_approvals', 'deliver_shipment',
          'distribute_leads', 'end_delegation', 'escalate_approvals', 'exit_checklist', 'expire_lead_offers',
          'fill_order_line', 'follow_up_registration', 'grant_access', 'hand_over_registrations', 'inbox_channel',
          'lapse_registrations', 'maintain_stock_balance', 'maintain_tree_path', 'mark_notifications_read',
          'my_approval_tasks', 'notify_changes', 'onboarding_checks', 'partner_name_key', 'partner_scores', 'partner_stock',
          'publish_announcement', 'read_announcement', 'rebuild_rollups', 'rebuild_stock_balances',
          'receive_transfer', 'record_binding_change', 'record_opportunity_history', 'record_order_history',
          'record_partner_history', 'record_stock_count', 'record_tracking_event', 'refresh_report_snapshots', 'register_customer',
          'remind_announcement', 'request_exit', 'request_transfer', 'resolve_violation', 'revoke_access',
          'ship_shipment', 'ship_transfer', 'sign_contract', 'stock_on_hand', 'submit_application', 'submit_contract', 'submit_request',
          'terminate_contract', 'withdraw_announcement', 'withdraw_request'],
    'SECURITY DEFINER functions are exactly the expected ones');

-- SQL and PL/pgSQL functions pin their search_path, except those that must
-- be inlined into their callers (a SET clause prevents inlining): every name
-- in them is qualified, they are neither SECURITY DEFINER nor reached by one,
-- and their callers pin it
SELECT is(
    (SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc
      WHERE pronamespace = 'rebate'::regnamespace
        AND prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql'))
        AND NOT coalesce(proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp']),
    ARRAY['line_rollup_cells', 'order_counts', 'order_rollup_cells', 'payment_rollup_cells', 'rated_result',
          'rollup_units', 'verify_units'],
    'every other SQL and PL/pgSQL function has SET search_path = pg_catalog, pg_temp');

-- the aggregate can be split: combine function and a non-internal state type (Citus, parallel)
SELECT is(
    (SELECT format('%s/%s/%s', aggcombinefn::regproc, aggtranstype::regtype, aggfinalfn::regproc)
       FROM pg_aggregate WHERE aggfnoid = 'rebate.tiered_sum'::regproc),
    'tiered_sum_combine/tiered_sum_state/tiered_sum_final',
    'tiered_sum has a combine function and a real state type');

-- every user-facing function, type and the aggregate is documented in the catalog
SELECT is(
    (SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc p
      WHERE pronamespace = 'rebate'::regnamespace
        AND proname !~ '_(in|out|recv|send|eq|ne|lt|le|gt|ge|cmp|hash|hash_extended|trans|combine|final)$'
        AND obj_description(p.oid, 'pg_proc') IS NULL),
    NULL, 'every user-facing function has a COMMENT');

-- triggers do not depend on their table's name: on a sharded deployment the
-- table that fires is a shard, named differently (a function serving several
-- tables is told which by an argument)
SELECT is(
    (SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc
      WHERE pronamespace = 'rebate'::regnamespace AND prosrc ~* 'TG_(TABLE_)?NAME|TG_RELNAME'),
    NULL, 'no function of the extension reads TG_TABLE_NAME');

-- the keys a tenant-sharded deployment needs (Citus: every primary key, unique
-- and exclusion constraint holds the distribution column, exclusions with =,
-- and foreign keys between distributed tables include it).  access_binding
-- maps cluster-wide roles to tenants, keyed by role: every node reads it (a
-- reference table), so it is not split by tenant.
SELECT is(
    (SELECT array_agg(format('%s %s', c.conrelid::regclass, c.conname) ORDER BY 1)
       FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
      WHERE r.relnamespace = 'rebate'::regnamespace AND c.contype IN ('p', 'u', 'x')
        AND r.oid <> 'rebate.access_binding'::regclass
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = r.oid AND a.attname = 'tenant_id')
        AND NOT EXISTS (SELECT 1 FROM unnest(c.conkey) k JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = k
                         WHERE a.attname = 'tenant_id')),
    NULL, 'every primary key, unique and exclusion constraint of a tenant table holds tenant_id itself');
SELECT is(
    (SELECT array_agg(format('%s %s', c.conrelid::regclass, c.conname) ORDER BY 1)
       FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
      WHERE r.relnamespace = 'rebate'::regnamespace AND c.contype = 'x'
        AND NOT EXISTS (SELECT 1 FROM unnest(c.conkey, c.conexclop) AS e (k, op)
                          JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = e.k
                         WHERE a.attname = 'tenant_id' AND e.op = 'pg_catalog.=(bigint,bigint)'::regoperator)),
    NULL, 'every exclusion constraint names tenant_id WITH =');
SELECT is(
    (SELECT array_agg(format('%s %s', c.conrelid::regclass, c.conname) ORDER BY 1)
       FROM pg_constraint c
      WHERE c.contype = 'f' AND c.connamespace = 'rebate'::regnamespace
        -- (tenant and the catalogs without tenant_id, such as request_type, are reference tables)
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.confrelid AND a.attname = 'tenant_id')
        AND NOT EXISTS (SELECT 1 FROM unnest(c.conkey, c.confkey) AS k (own, other)
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.own
                          JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = k.other
                         WHERE a.attname = 'tenant_id' AND b.attname = 'tenant_id')),
    NULL, 'every foreign key between tenant tables matches tenant_id to tenant_id');

-- on one node ids stay unique across tenants (a lookup by id alone never
-- meets another tenant's row): a unique index on id beside the primary key
-- (the rollups and paid days have no id: they are keyed by what they sum)
SELECT is(
    (SELECT array_agg(r.oid::regclass::text ORDER BY 1) FROM pg_class r
      WHERE r.relnamespace = 'rebate'::regnamespace AND r.relkind = 'r'
        AND r.oid NOT IN ('rebate.access_binding'::regclass, 'rebate.tenant'::regclass, 'rebate.enforcement_setting'::regclass)
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = r.oid AND a.attname = 'tenant_id')
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = r.oid AND a.attname = 'id')
        AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = i.indkey[0]
                         WHERE i.indrelid = r.oid AND i.indisunique AND i.indnatts = 1 AND a.attname = 'id')),
    NULL, 'every tenant table keeps its ids unique with a unique index on id');

SELECT * FROM finish();
ROLLBACK;
