-- rebate: channel-partner rebates, price/region policy and channel performance.
-- This script is assembled by the Makefile from src/sql/NN_topic.sql fragments.
\echo Use "CREATE EXTENSION rebate" to load this file. \quit

-- Every object below is schema-qualified (@extschema@ or pg_catalog), and every
-- SQL-language function pins its search_path, so a hostile search_path at
-- install or call time cannot redirect anything.
-- ---------------------------------------------------------------------------
-- The type rebate.tier_schedule: a rebate scale.
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.tier_schedule;

CREATE FUNCTION @extschema@.tier_schedule_in(pg_catalog.cstring) RETURNS @extschema@.tier_schedule
    AS 'MODULE_PATHNAME', 'tier_schedule_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_out(@extschema@.tier_schedule) RETURNS pg_catalog.cstring
    AS 'MODULE_PATHNAME', 'tier_schedule_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_recv(pg_catalog.internal) RETURNS @extschema@.tier_schedule
    AS 'MODULE_PATHNAME', 'tier_schedule_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_send(@extschema@.tier_schedule) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'tier_schedule_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.tier_schedule (
    INPUT = @extschema@.tier_schedule_in,
    OUTPUT = @extschema@.tier_schedule_out,
    RECEIVE = @extschema@.tier_schedule_recv,
    SEND = @extschema@.tier_schedule_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE @extschema@.tier_schedule IS
    'A rebate scale: retroactive or incremental tiers of percentages, amounts per unit or lump sums, with an optional cap';

-- Equality, hashing and a btree order.  The canonical form makes equal
-- schedules byte-identical, so these compare bytes; the order is arbitrary
-- but stable, and exists so schedules can be sorted, grouped, indexed and made unique.
CREATE FUNCTION @extschema@.tier_schedule_eq(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_schedule_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_ne(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_schedule_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_lt(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_schedule_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_le(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_schedule_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_gt(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_schedule_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_ge(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_schedule_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_cmp(@extschema@.tier_schedule, @extschema@.tier_schedule) RETURNS integer
    AS 'MODULE_PATHNAME', 'tier_schedule_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_hash(@extschema@.tier_schedule) RETURNS integer
    AS 'MODULE_PATHNAME', 'tier_schedule_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_schedule_hash_extended(@extschema@.tier_schedule, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tier_schedule_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR @extschema@.= (
    LEFTARG = @extschema@.tier_schedule, RIGHTARG = @extschema@.tier_schedule,
    PROCEDURE = @extschema@.tier_schedule_eq, COMMUTATOR = OPERATOR(@extschema@.=),
    NEGATOR = OPERATOR(@extschema@.<>), RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel,
    HASHES, MERGES);
CREATE OPERATOR @extschema@.<> (
    LEFTARG = @extschema@.tier_schedule, RIGHTARG = @extschema@.tier_schedule,
    PROCEDURE = @extschema@.tier_schedule_ne, COMMUTATOR = OPERATOR(@extschema@.<>),
    NEGATOR = OPERATOR(@extschema@.=), RESTRICT = pg_catalog.neqsel, JOIN = pg_catalog.neqjoinsel);
CREATE OPERATOR @extschema@.< (
    LEFTARG = @extschema@.tier_schedule, RIGHTARG = @extschema@.tier_schedule,
    PROCEDURE = @extschema@.tier_schedule_lt, COMMUTATOR = OPERATOR(@extschema@.>),
    NEGATOR = OPERATOR(@extschema@.>=), RESTRICT = pg_catalog.scalarltsel, JOIN = pg_catalog.scalarltjoinsel);
CREATE OPERATOR @extschema@.<= (
    LEFTARG = @extschema@.tier_schedule, RIGHTARG = @extschema@.tier_schedule,
    PROCEDURE = @extschema@.tier_schedule_le, COMMUTATOR = OPERATOR(@extschema@.>=),
    NEGATOR = OPERATOR(@extschema@.>), RESTRICT = pg_catalog.scalarlesel, JOIN = pg_catalog.scalarlejoinsel);
CREATE OPERATOR @extschema@.> (
    LEFTARG = @extschema@.tier_schedule, RIGHTARG = @extschema@.tier_schedule,
    PROCEDURE = @extschema@.tier_schedule_gt, COMMUTATOR = OPERATOR(@extschema@.<),
    NEGATOR = OPERATOR(@extschema@.<=), RESTRICT = pg_catalog.scalargtsel, JOIN = pg_catalog.scalargtjoinsel);
CREATE OPERATOR @extschema@.>= (
    LEFTARG = @extschema@.tier_schedule, RIGHTARG = @extschema@.tier_schedule,
    PROCEDURE = @extschema@.tier_schedule_ge, COMMUTATOR = OPERATOR(@extschema@.<=),
    NEGATOR = OPERATOR(@extschema@.<), RESTRICT = pg_catalog.scalargesel, JOIN = pg_catalog.scalargejoinsel);

CREATE OPERATOR CLASS @extschema@.tier_schedule_ops
    DEFAULT FOR TYPE @extschema@.tier_schedule USING btree AS
        OPERATOR 1 @extschema@.<,
        OPERATOR 2 @extschema@.<=,
        OPERATOR 3 @extschema@.=,
        OPERATOR 4 @extschema@.>=,
        OPERATOR 5 @extschema@.>,
        FUNCTION 1 @extschema@.tier_schedule_cmp(@extschema@.tier_schedule, @extschema@.tier_schedule);
CREATE OPERATOR CLASS @extschema@.tier_schedule_hash_ops
    DEFAULT FOR TYPE @extschema@.tier_schedule USING hash AS
        OPERATOR 1 @extschema@.=,
        FUNCTION 1 @extschema@.tier_schedule_hash(@extschema@.tier_schedule),
        FUNCTION 2 @extschema@.tier_schedule_hash_extended(@extschema@.tier_schedule, bigint);

-- Constructor and accessors, for applications that hold schedules as data.
CREATE FUNCTION @extschema@.tier_schedule(mode text, thresholds numeric[], "values" numeric[],
                                          kind text DEFAULT 'percent', cap numeric DEFAULT NULL)
    RETURNS @extschema@.tier_schedule
    AS 'MODULE_PATHNAME', 'tier_schedule_make' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_schedule(text, numeric[], numeric[], text, numeric) IS
    'Builds a schedule from parallel arrays; kind is percent (values are percentages), per_unit or lump_sum';

CREATE FUNCTION @extschema@.schedule_mode(@extschema@.tier_schedule) RETURNS text
    AS 'MODULE_PATHNAME', 'tier_schedule_mode' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.schedule_mode(@extschema@.tier_schedule) IS 'retroactive or incremental';
CREATE FUNCTION @extschema@.schedule_kind(@extschema@.tier_schedule) RETURNS text
    AS 'MODULE_PATHNAME', 'tier_schedule_kind' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.schedule_kind(@extschema@.tier_schedule) IS 'percent, per_unit or lump_sum';
CREATE FUNCTION @extschema@.schedule_cap(@extschema@.tier_schedule) RETURNS numeric
    AS 'MODULE_PATHNAME', 'tier_schedule_cap' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.schedule_cap(@extschema@.tier_schedule) IS 'The cap on the rebate, or NULL for none';
CREATE FUNCTION @extschema@.schedule_thresholds(@extschema@.tier_schedule) RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'tier_schedule_thresholds' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.schedule_thresholds(@extschema@.tier_schedule) IS 'The tier thresholds, ascending';
CREATE FUNCTION @extschema@.schedule_values(@extschema@.tier_schedule) RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'tier_schedule_values' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.schedule_values(@extschema@.tier_schedule) IS
    'The tier values as written: percentages for percent, amounts for per_unit and lump_sum';

CREATE FUNCTION @extschema@.tiers(schedule @extschema@.tier_schedule,
                                  OUT tier integer, OUT threshold numeric, OUT upper_bound numeric,
                                  OUT value numeric, OUT rate numeric)
    RETURNS SETOF record
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.n::integer,
           t.threshold,
           pg_catalog.lead(t.threshold) OVER (ORDER BY t.n),
           v.value,
           CASE @extschema@.schedule_kind(schedule)
                WHEN 'percent' THEN pg_catalog.trim_scale(v.value * 0.01)
                WHEN 'per_unit' THEN v.value
           END
      FROM pg_catalog.unnest(@extschema@.schedule_thresholds(schedule)) WITH ORDINALITY AS t(threshold, n)
      JOIN pg_catalog.unnest(@extschema@.schedule_values(schedule)) WITH ORDINALITY AS v(value, n) USING (n)
     ORDER BY t.n
$$;
COMMENT ON FUNCTION @extschema@.tiers(@extschema@.tier_schedule) IS
    'The tiers as rows: [threshold, upper_bound), the value as written, and the multiplier (NULL for lump sums)';

-- JSON, for applications: {"mode", "kind", "cap", "tiers": [{"threshold", "value"}]}.
CREATE FUNCTION @extschema@.schedule_to_jsonb(@extschema@.tier_schedule) RETURNS jsonb
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.jsonb_build_object(
               'mode', @extschema@.schedule_mode($1),
               'kind', @extschema@.schedule_kind($1),
               'cap', @extschema@.schedule_cap($1),
               'tiers', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('threshold', t.threshold, 'value', t.value)
                                                     ORDER BY t.tier)
                           FROM @extschema@.tiers($1) AS t))
$$;
COMMENT ON FUNCTION @extschema@.schedule_to_jsonb(@extschema@.tier_schedule) IS
    'The schedule as jsonb: mode, kind, cap and tiers [{threshold, value}]; also the cast tier_schedule::jsonb';

CREATE FUNCTION @extschema@.schedule_from_jsonb(jsonb) RETURNS @extschema@.tier_schedule
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.tier_schedule(
               COALESCE($1 OPERATOR(pg_catalog.->>) 'mode', ''),
               COALESCE((SELECT pg_catalog.array_agg((t OPERATOR(pg_catalog.->>) 'threshold')::numeric ORDER BY n)
                           FROM pg_catalog.jsonb_array_elements($1 OPERATOR(pg_catalog.->) 'tiers') WITH ORDINALITY AS e(t, n)),
                        '{}'),
               COALESCE((SELECT pg_catalog.array_agg((t OPERATOR(pg_catalog.->>) 'value')::numeric ORDER BY n)
                           FROM pg_catalog.jsonb_array_elements($1 OPERATOR(pg_catalog.->) 'tiers') WITH ORDINALITY AS e(t, n)),
                        '{}'),
               COALESCE($1 OPERATOR(pg_catalog.->>) 'kind', 'percent'),
               ($1 OPERATOR(pg_catalog.->>) 'cap')::numeric)
$$;
COMMENT ON FUNCTION @extschema@.schedule_from_jsonb(jsonb) IS
    'Builds a schedule from the jsonb that schedule_to_jsonb produces; also the cast jsonb::tier_schedule';

CREATE CAST (@extschema@.tier_schedule AS jsonb) WITH FUNCTION @extschema@.schedule_to_jsonb(@extschema@.tier_schedule);
CREATE CAST (jsonb AS @extschema@.tier_schedule) WITH FUNCTION @extschema@.schedule_from_jsonb(jsonb);
-- ---------------------------------------------------------------------------
-- Rebate calculation.  Exact numeric throughout; results are never rounded
-- (trailing fractional zeros are dropped) — rounding is round_money's job.
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.tiered_rebate(basis numeric, schedule @extschema@.tier_schedule) RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_tiered_rebate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tiered_rebate(numeric, @extschema@.tier_schedule) IS
    'The rebate a basis (amount, quantity, ratio) earns under a schedule, exact and capped, not rounded';

CREATE FUNCTION @extschema@.tier_index(basis numeric, schedule @extschema@.tier_schedule) RETURNS integer
    AS 'MODULE_PATHNAME', 'rebate_tier_index' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_index(numeric, @extschema@.tier_schedule) IS
    'The tier a basis reaches: 0 below the first threshold, 1..n otherwise (a basis on a threshold is in the higher tier)';

CREATE FUNCTION @extschema@.next_tier_gap(basis numeric, schedule @extschema@.tier_schedule) RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_next_tier_gap' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.next_tier_gap(numeric, @extschema@.tier_schedule) IS
    'How much more basis reaches the next tier; NULL in the top tier';

CREATE FUNCTION @extschema@.effective_rate(basis numeric, schedule @extschema@.tier_schedule) RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_effective_rate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.effective_rate(numeric, @extschema@.tier_schedule) IS
    'rebate / basis, rounded half up to 12 decimal places; NULL for a zero basis';

CREATE FUNCTION @extschema@.overachievement_rebate(actual numeric, target numeric,
                                                   schedule @extschema@.tier_schedule,
                                                   apply_to text DEFAULT 'total') RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_overachievement_rebate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.overachievement_rebate(numeric, numeric, @extschema@.tier_schedule, text) IS
    'Rebate against a target: thresholds are achievement ratios (1.0 = 100%); apply_to total pays on the whole actual amount, excess only on what lies above the target';
-- ---------------------------------------------------------------------------
-- Money: the one explicit rounding step.
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.round_money(amount numeric, currency text DEFAULT 'CNY',
                                        mode text DEFAULT 'half_up') RETURNS numeric
    AS 'MODULE_PATHNAME', 'rebate_round_money' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.round_money(numeric, text, text) IS
    'Rounds an amount to the currency''s minor unit (ISO 4217); mode half_up (away from zero), half_even, down (toward zero) or up (away from zero)';

CREATE FUNCTION @extschema@.currency_minor_unit(currency text) RETURNS integer
    AS 'MODULE_PATHNAME', 'rebate_currency_minor_unit' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.currency_minor_unit(text) IS
    'Decimal places of the currency''s minor unit: 2 for CNY, 0 for JPY, 3 for KWD';
-- ---------------------------------------------------------------------------
-- The aggregate rebate.tiered_sum(basis, schedule) = tiered_rebate(sum(basis), schedule).
-- Its state is a real type with lossless text and binary I/O (not internal),
-- so PostgreSQL's parallel aggregation and Citus's partial aggregation can
-- both split it.
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.tiered_sum_state;

CREATE FUNCTION @extschema@.tiered_sum_state_in(pg_catalog.cstring) RETURNS @extschema@.tiered_sum_state
    AS 'MODULE_PATHNAME', 'tiered_sum_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tiered_sum_state_out(@extschema@.tiered_sum_state) RETURNS pg_catalog.cstring
    AS 'MODULE_PATHNAME', 'tiered_sum_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tiered_sum_state_recv(pg_catalog.internal) RETURNS @extschema@.tiered_sum_state
    AS 'MODULE_PATHNAME', 'tiered_sum_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tiered_sum_state_send(@extschema@.tiered_sum_state) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'tiered_sum_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- plain storage and double alignment: the state holds an int128 and is read in place
CREATE TYPE @extschema@.tiered_sum_state (
    INPUT = @extschema@.tiered_sum_state_in,
    OUTPUT = @extschema@.tiered_sum_state_out,
    RECEIVE = @extschema@.tiered_sum_state_recv,
    SEND = @extschema@.tiered_sum_state_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.tiered_sum_state IS
    'Partial state of tiered_sum: the exact sum so far and the schedule; text form (sum,"schedule")';

CREATE FUNCTION @extschema@.tiered_sum_state_sum(@extschema@.tiered_sum_state) RETURNS numeric
    AS 'MODULE_PATHNAME', 'tiered_sum_state_sum' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tiered_sum_state_sum(@extschema@.tiered_sum_state) IS
    'The exact basis a tiered_sum state has accumulated';

CREATE FUNCTION @extschema@.tiered_sum_trans(@extschema@.tiered_sum_state, numeric, @extschema@.tier_schedule)
    RETURNS @extschema@.tiered_sum_state
    AS 'MODULE_PATHNAME', 'tiered_sum_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tiered_sum_combine(@extschema@.tiered_sum_state, @extschema@.tiered_sum_state)
    RETURNS @extschema@.tiered_sum_state
    AS 'MODULE_PATHNAME', 'tiered_sum_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tiered_sum_final(@extschema@.tiered_sum_state) RETURNS numeric
    AS 'MODULE_PATHNAME', 'tiered_sum_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE @extschema@.tiered_sum(basis numeric, schedule @extschema@.tier_schedule) (
    SFUNC = @extschema@.tiered_sum_trans,
    STYPE = @extschema@.tiered_sum_state,
    COMBINEFUNC = @extschema@.tiered_sum_combine,
    FINALFUNC = @extschema@.tiered_sum_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.tiered_sum(numeric, @extschema@.tier_schedule) IS
    'tiered_rebate(sum(basis), schedule) over the group; null rows skipped, NULL for no rows, an error if the schedule differs within the group';
-- ---------------------------------------------------------------------------
-- Building blocks of the data model: ICU name normalization and the
-- state-machine trigger (both C).
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.normalize_name(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_normalize_name' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.normalize_name(text) IS
    'The key under which two spellings of a company name are the same: ICU NFKC with case folding (full-width to ASCII, case folded), CJK brackets/quotes/commas folded to ASCII, all white space removed';

CREATE FUNCTION @extschema@.enforce_transition() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rebate_enforce_transition' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.enforce_transition() IS
    'BEFORE ROW trigger: arguments are a state column and its allowed transitions "from>to" (">to" for initial states); anything else is refused with SQLSTATE RB001';
-- ---------------------------------------------------------------------------
-- Who sees what.  Three group roles (created if missing; roles are cluster
-- wide and outlive the extension):
--   rebate_admin    group (集团) level: every tenant
--   rebate_manager  one tenant: full read/write of that tenant's data
--   rebate_partner  a partner's portal users: their partner and its sub-partners
-- A login role is bound to a tenant (and a partner) in rebate.access_binding,
-- written only through rebate.grant_access / rebate.revoke_access.  The
-- binding of current_user, never a setting the client controls, decides what
-- row-level security lets a session see.
-- ---------------------------------------------------------------------------

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['rebate_admin', 'rebate_manager', 'rebate_partner'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

-- A role's binding: the one lookup of rebate.access_binding that the
-- session functions, the binding functions and the name check share.  Each
-- role may read only its own binding row (see the policy on
-- rebate.access_binding), so called with the caller's rights it answers for
-- that caller only; SECURITY DEFINER callers use it for the acting role.
-- (PL/pgSQL: the table is created later in the script.)
CREATE FUNCTION @extschema@.binding_of(role_name name, OUT tenant_id bigint, OUT partner_id bigint)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT b.tenant_id, b.partner_id INTO tenant_id, partner_id
      FROM @extschema@.access_binding b
      JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) b.role::oid
     WHERE r.rolname OPERATOR(pg_catalog.=) role_name;
END
$$;
COMMENT ON FUNCTION @extschema@.binding_of(name) IS
    'The tenant and partner a role is bound to (NULLs if none); a role may look up only its own binding';

CREATE FUNCTION @extschema@.current_tenant_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (@extschema@.binding_of(current_user)).tenant_id
$$;
COMMENT ON FUNCTION @extschema@.current_tenant_id() IS
    'The tenant current_user is bound to by rebate.grant_access, or NULL';

CREATE FUNCTION @extschema@.current_partner_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (@extschema@.binding_of(current_user)).partner_id
$$;
COMMENT ON FUNCTION @extschema@.current_partner_id() IS
    'The partner current_user is bound to (partner portal users), or NULL';

CREATE FUNCTION @extschema@.current_role_oid() RETURNS regrole
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.oid::regrole FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user
$$;
COMMENT ON FUNCTION @extschema@.current_role_oid() IS 'current_user as a regrole';

-- The role a change is made by: the session's SET ROLE, else the login
-- role.  Unlike current_user it does not turn into the owner inside a
-- SECURITY DEFINER function, so audit and history record who really acted.
CREATE FUNCTION @extschema@.acting_role() RETURNS name
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE pg_catalog.current_setting('role') WHEN 'none' THEN session_user
                ELSE pg_catalog.current_setting('role')::name END
$$;
COMMENT ON FUNCTION @extschema@.acting_role() IS
    'The role acting in this session (after SET ROLE), also inside SECURITY DEFINER functions';

CREATE FUNCTION @extschema@.is_group_admin() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.pg_has_role(current_user, 'rebate_admin', 'MEMBER')
$$;
COMMENT ON FUNCTION @extschema@.is_group_admin() IS
    'Whether current_user is a group administrator (member of rebate_admin): sees every tenant';

CREATE FUNCTION @extschema@.is_tenant_manager() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.pg_has_role(current_user, 'rebate_manager', 'MEMBER')
       AND b.tenant_id IS NOT NULL AND b.partner_id IS NULL
      FROM @extschema@.binding_of(current_user) AS b
$$;
COMMENT ON FUNCTION @extschema@.is_tenant_manager() IS
    'Whether current_user manages its bound tenant (member of rebate_manager, bound without a partner)';

-- A partner user sees its partner and every partner below it (二代 under 总代):
-- exactly the partner rows row-level security shows it.
CREATE FUNCTION @extschema@.visible_partner_ids() RETURNS bigint[]
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN coalesce((SELECT pg_catalog.array_agg(p.id) FROM @extschema@.partner p), '{}');
END
$$;
COMMENT ON FUNCTION @extschema@.visible_partner_ids() IS
    'The partners current_user may see: for a partner user its partner and all partners below it';

-- Row-level security for a tenant-scoped table, the same everywhere: rows are
-- readable by group admins and by roles bound to the row's tenant (partner
-- users only for their partner subtree when the table has a partner column),
-- and writable by group admins and the tenant's managers.  The session
-- functions sit in scalar subqueries, so they run once per query.  Used by
-- the install and upgrade scripts only.
CREATE FUNCTION @extschema@.apply_tenant_rls(tbl regclass, tenant_column name, partner_column name DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    admin   text := '(SELECT @extschema@.is_group_admin())';
    bound   text := pg_catalog.format('%I = (SELECT @extschema@.current_tenant_id())', tenant_column);
    manager text := '(SELECT @extschema@.is_tenant_manager())';
    readable text;
    writable text;
BEGIN
    IF partner_column IS NULL THEN
        readable := pg_catalog.format('%s OR %s', admin, bound);
    ELSIF tbl = '@extschema@.partner'::regclass THEN
        -- the partner table itself: its own path says who is above a row
        readable := pg_catalog.format('%s OR (%s AND (%s OR path @> ARRAY[(SELECT @extschema@.current_partner_id())]))',
                                      admin, bound, manager);
    ELSE
        readable := pg_catalog.format('%s OR (%s AND (%s OR %I = ANY ((SELECT @extschema@.visible_partner_ids())::bigint[])))',
                                      admin, bound, manager, partner_column);
    END IF;
    writable := pg_catalog.format('%s OR (%s AND %s)', admin, bound, manager);
    EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE pg_catalog.format('CREATE POLICY tenant_read ON %s FOR SELECT USING (%s)', tbl, readable);
    EXECUTE pg_catalog.format('CREATE POLICY tenant_insert ON %s FOR INSERT WITH CHECK (%s)', tbl, writable);
    EXECUTE pg_catalog.format('CREATE POLICY tenant_update ON %s FOR UPDATE USING (%s) WITH CHECK (%s)', tbl, writable, writable);
    EXECUTE pg_catalog.format('CREATE POLICY tenant_delete ON %s FOR DELETE USING (%s)', tbl, writable);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.apply_tenant_rls(regclass, name, name) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.apply_tenant_rls(regclass, name, name) IS
    'Internal: creates the standard tenant (and partner) row-level security policies on a table';

-- Maintained columns shared by every business table.
CREATE FUNCTION @extschema@.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.touch_updated_at() IS 'BEFORE UPDATE trigger: sets updated_at';
-- ---------------------------------------------------------------------------
-- The audit log: every change to every business table, append-only.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     bigint,
    table_name    text NOT NULL,
    row_id        bigint,
    operation     text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    old_row       jsonb,
    new_row       jsonb,
    changed_columns text[],
    session_role  name NOT NULL,
    acting_role   name NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    transaction_id bigint NOT NULL DEFAULT pg_catalog.txid_current()
);
CREATE INDEX audit_log_tenant_table_row ON @extschema@.audit_log (tenant_id, table_name, row_id);
COMMENT ON TABLE @extschema@.audit_log IS
    'Every change to every business table: who (session and acting role), when, which row, old and new values. Append-only: no role but its owner may change it';
COMMENT ON COLUMN @extschema@.audit_log.session_role IS 'The login role (session_user)';
COMMENT ON COLUMN @extschema@.audit_log.acting_role IS 'The role in effect when the change was made (after SET ROLE)';
COMMENT ON COLUMN @extschema@.audit_log.changed_columns IS 'For updates: the columns whose values changed';

-- SECURITY DEFINER so that it can write the log while nobody else can; it
-- refuses to run for tables outside the extension's schema, so attaching it
-- to a table of one's own cannot forge entries.  The acting role is read from
-- the session's role setting, which a definer function does not change.
CREATE FUNCTION @extschema@.audit_row() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_json jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    new_json jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    row_json jsonb := coalesce(new_json, old_json);
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'audit_row can only audit tables of the rebate extension'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO @extschema@.audit_log
        (tenant_id, table_name, row_id, operation, old_row, new_row, changed_columns, session_role, acting_role)
    VALUES ((row_json ->> CASE WHEN TG_TABLE_NAME = 'tenant' THEN 'id' ELSE 'tenant_id' END)::bigint,
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
COMMENT ON FUNCTION @extschema@.audit_row() IS
    'AFTER ROW trigger on every business table: appends the change to rebate.audit_log';

-- pg_dump dumps the rows of these tables (and where their id sequences stand,
-- so that a restored database goes on numbering after the restored rows).
CREATE FUNCTION @extschema@.register_for_dump(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seq text := pg_catalog.pg_get_serial_sequence(tbl::text, 'id');
BEGIN
    PERFORM pg_catalog.pg_extension_config_dump(tbl, '');
    IF seq IS NOT NULL THEN
        PERFORM pg_catalog.pg_extension_config_dump(seq::regclass, '');
    END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.register_for_dump(regclass) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.register_for_dump(regclass) IS
    'Internal: registers a table and its id sequence with pg_extension_config_dump';

-- Attach the audit trigger and updated_at maintenance to a business table (install/upgrade scripts only).
CREATE FUNCTION @extschema@.apply_standard_triggers(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_row()', tbl);
    EXECUTE pg_catalog.format('CREATE TRIGGER touch_updated_at BEFORE UPDATE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.touch_updated_at()', tbl);
    PERFORM @extschema@.register_for_dump(tbl);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.apply_standard_triggers(regclass) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.apply_standard_triggers(regclass) IS
    'Internal: audit trigger, updated_at trigger and pg_dump registration for a business table';

ALTER TABLE @extschema@.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_read ON @extschema@.audit_log FOR SELECT
    USING ((SELECT @extschema@.is_group_admin())
           OR (tenant_id = (SELECT @extschema@.current_tenant_id()) AND (SELECT @extschema@.is_tenant_manager())));
SELECT @extschema@.register_for_dump('@extschema@.audit_log');
-- ---------------------------------------------------------------------------
-- Tenants (brands) and the region tree.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.tenant (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,32}$'),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    currency    text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.tenant IS 'Brands (品牌): each tenant''s data is isolated from the others''';
COMMENT ON COLUMN @extschema@.tenant.currency IS 'Default currency of the brand (ISO 4217), for regions that set none';

-- Trees (regions, partners, product categories) keep, in each row, the path
-- of ids from the root down to the row itself, so "everything under X" is
-- the one GIN-indexed predicate  path @> ARRAY[X].  This trigger computes the
-- path from the parent's, refuses cycles, and carries a move down to the
-- descendants.  SECURITY DEFINER: it reads the parent and rewrites
-- descendants' paths whatever the caller may see; the tables' foreign keys
-- keep parent and child in one tenant.
CREATE FUNCTION @extschema@.maintain_tree_path() RETURNS trigger
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
        EXECUTE format('SELECT path FROM %I.%I WHERE id = $1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
            INTO parent_path USING NEW.parent_id;
        IF parent_path IS NULL THEN
            RETURN NEW;                 -- no such parent: the foreign key reports it
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
        EXECUTE format('UPDATE %I.%I SET parent_id = parent_id WHERE parent_id = $1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
            USING NEW.id;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.maintain_tree_path() IS
    'Trigger for tree tables (region, partner, product_category): keeps path = ancestors'' ids down to the row, refuses cycles';

CREATE FUNCTION @extschema@.apply_tree_triggers(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format('CREATE TRIGGER tree_path BEFORE INSERT OR UPDATE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.maintain_tree_path()', tbl);
    EXECUTE pg_catalog.format('CREATE TRIGGER tree_path_descendants AFTER UPDATE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.maintain_tree_path()', tbl);
    EXECUTE pg_catalog.format('CREATE INDEX ON %s USING gin (path)', tbl);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.apply_tree_triggers(regclass) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.apply_tree_triggers(regclass) IS
    'Internal: path maintenance triggers and the GIN index for a tree table';

CREATE TABLE @extschema@.region (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code        text NOT NULL CHECK (btrim(code) <> ''),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    level       text NOT NULL CHECK (level IN ('country', 'area', 'province', 'city', 'district', 'custom')),
    parent_id   bigint,
    path        bigint[] NOT NULL DEFAULT '{}',
    vat_rate    numeric(7,4) CHECK (vat_rate >= 0 AND vat_rate < 1),
    currency    text CHECK (currency ~ '^[A-Z]{3}$'),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES @extschema@.region (tenant_id, id),
    CHECK (parent_id IS DISTINCT FROM id)
);
COMMENT ON TABLE @extschema@.region IS
    'Sales regions as a tree (country > 大区 > province > city > district, or custom groupings); everything under region X is  path @> ARRAY[X]';
COMMENT ON COLUMN @extschema@.region.path IS 'Ids from the root down to this region (maintained); GIN-indexed';
COMMENT ON COLUMN @extschema@.region.vat_rate IS 'VAT rate as a fraction (0.13 = 13%); NULL inherits from the parent';
COMMENT ON COLUMN @extschema@.region.currency IS 'Currency (ISO 4217); NULL inherits from the parent, then the tenant';
SELECT @extschema@.apply_tree_triggers('@extschema@.region');

-- Each region with the VAT rate and currency it ends up with: its own, else
-- the nearest ancestor's, else (currency) the tenant's.
CREATE VIEW @extschema@.region_settings WITH (security_invoker = true) AS
SELECT r.id AS region_id,
       r.tenant_id,
       r.code,
       r.name,
       (SELECT a.vat_rate FROM @extschema@.region a
         WHERE a.id = ANY (r.path) AND a.vat_rate IS NOT NULL
         ORDER BY pg_catalog.array_position(r.path, a.id) DESC LIMIT 1) AS vat_rate,
       coalesce((SELECT a.currency FROM @extschema@.region a
                  WHERE a.id = ANY (r.path) AND a.currency IS NOT NULL
                  ORDER BY pg_catalog.array_position(r.path, a.id) DESC LIMIT 1),
                t.currency) AS currency
  FROM @extschema@.region r
  JOIN @extschema@.tenant t ON t.id = r.tenant_id;
COMMENT ON VIEW @extschema@.region_settings IS 'Each region''s effective VAT rate and currency, inherited down the tree';
COMMENT ON COLUMN @extschema@.region_settings.vat_rate IS 'The region''s own VAT rate, else its nearest ancestor''s; NULL if none is set';
COMMENT ON COLUMN @extschema@.region_settings.currency IS 'The region''s own currency, else its nearest ancestor''s, else the tenant''s';
-- ---------------------------------------------------------------------------
-- Partners (渠道商: distributors, dealers, agents), their grades, lifecycle,
-- hierarchy (总代 > 二代 > ...), history, and authorised territories.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.partner_grade (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code        text NOT NULL CHECK (btrim(code) <> ''),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    rank        integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, rank),
    UNIQUE (tenant_id, id)
);
COMMENT ON TABLE @extschema@.partner_grade IS 'Partner grades (A/B/C, 金牌/银牌...), defined per tenant';
COMMENT ON COLUMN @extschema@.partner_grade.rank IS 'Order of the grades: 1 is the highest';

CREATE TABLE @extschema@.partner (
    id                 bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id          bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code               text NOT NULL CHECK (btrim(code) <> ''),
    name               text NOT NULL CHECK (btrim(name) <> ''),
    name_key           text NOT NULL DEFAULT '',
    kind               text NOT NULL DEFAULT 'dealer'
                       CHECK (kind IN ('distributor', 'dealer', 'agent', 'retailer')),
    grade_id           bigint,
    home_region_id     bigint,
    parent_id          bigint,
    path               bigint[] NOT NULL DEFAULT '{}',
    credit_limit       numeric(18,2) NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    contact_name       text,
    contact_phone      text CHECK (contact_phone ~ '^[0-9+() -]{5,32}$'),
    contact_email      text CHECK (contact_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
    address            text,
    tax_id             text CHECK (tax_id ~ '^[0-9A-Z]{15,20}$'),
    business_license   text,
    license_expires_on date,
    state              text NOT NULL DEFAULT 'applicant'
                       CHECK (state IN ('applicant', 'active', 'suspended', 'exited', 'rejected')),
    state_changed_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, name_key),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, grade_id) REFERENCES @extschema@.partner_grade (tenant_id, id),
    FOREIGN KEY (tenant_id, home_region_id) REFERENCES @extschema@.region (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES @extschema@.partner (tenant_id, id),
    CHECK (parent_id IS DISTINCT FROM id)
);
CREATE INDEX partner_parent ON @extschema@.partner (tenant_id, parent_id);
COMMENT ON TABLE @extschema@.partner IS
    'Channel partners: distributors (总代), dealers (二代/经销商), agents, retailers; a hierarchy through parent_id';
COMMENT ON COLUMN @extschema@.partner.name_key IS
    'rebate.normalize_name(name), maintained: two names with the same key are the same company, refused within a tenant';
COMMENT ON COLUMN @extschema@.partner.path IS 'Ids from the top partner down to this one (maintained); GIN-indexed';
COMMENT ON COLUMN @extschema@.partner.state IS
    'Lifecycle: applicant -> active | rejected; active -> suspended; suspended -> active | exited';
COMMENT ON COLUMN @extschema@.partner.tax_id IS 'Unified social credit code (统一社会信用代码) or other tax id';
SELECT @extschema@.apply_tree_triggers('@extschema@.partner');

-- The name key, and a refusal that names the partner already registered.
CREATE FUNCTION @extschema@.partner_name_key() RETURNS trigger
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
    -- name the existing partner only to those who may see the tenant; anyone
    -- else is refused by row-level security before the unique index is reached
    IF NOT pg_has_role(@extschema@.acting_role(), 'rebate_admin', 'MEMBER')
       AND NEW.tenant_id IS DISTINCT FROM (@extschema@.binding_of(@extschema@.acting_role())).tenant_id THEN
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
COMMENT ON FUNCTION @extschema@.partner_name_key() IS
    'BEFORE trigger on partner: sets name_key and refuses a second partner with the same normalized name in the tenant';
CREATE TRIGGER name_key BEFORE INSERT OR UPDATE OF name, tenant_id ON @extschema@.partner
    FOR EACH ROW EXECUTE FUNCTION @extschema@.partner_name_key();

-- New rows may start in any state (existing partners are imported as they
-- are); changes follow the lifecycle.
CREATE TRIGGER lifecycle BEFORE UPDATE OF state ON @extschema@.partner
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition(
        'state', 'applicant>active', 'applicant>rejected',
        'active>suspended', 'suspended>active', 'suspended>exited');

-- History of state and grade: who, when, why.  The why comes from
-- rebate.set_partner_state / set_partner_grade (or the transaction-local
-- setting rebate.change_reason they set).
CREATE TABLE @extschema@.partner_state_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL REFERENCES @extschema@.tenant,
    partner_id   bigint NOT NULL,
    from_state   text,
    to_state     text NOT NULL,
    reason       text,
    changed_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    session_role name NOT NULL,
    acting_role  name NOT NULL,
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX partner_state_history_partner ON @extschema@.partner_state_history (tenant_id, partner_id, changed_at);
COMMENT ON TABLE @extschema@.partner_state_history IS 'Every lifecycle change of every partner: from, to, why, who, when';

CREATE TABLE @extschema@.partner_grade_history (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      bigint NOT NULL REFERENCES @extschema@.tenant,
    partner_id     bigint NOT NULL,
    from_grade_id  bigint,
    to_grade_id    bigint,
    reason         text,
    changed_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    session_role   name NOT NULL,
    acting_role    name NOT NULL,
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX partner_grade_history_partner ON @extschema@.partner_grade_history (tenant_id, partner_id, changed_at);
COMMENT ON TABLE @extschema@.partner_grade_history IS 'Every grade change (升级/降级) of every partner: from, to, why, who, when';

CREATE FUNCTION @extschema@.record_partner_history() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    why    text := nullif(current_setting('rebate.change_reason', true), '');
    acting name := @extschema@.acting_role();
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'partner' THEN
        RAISE EXCEPTION 'record_partner_history only serves rebate.partner' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state THEN
        INSERT INTO @extschema@.partner_state_history
            (tenant_id, partner_id, from_state, to_state, reason, session_role, acting_role)
        VALUES (NEW.tenant_id, NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END, NEW.state, why, session_user, acting);
    END IF;
    IF (TG_OP = 'INSERT' AND NEW.grade_id IS NOT NULL)
       OR (TG_OP = 'UPDATE' AND NEW.grade_id IS DISTINCT FROM OLD.grade_id) THEN
        INSERT INTO @extschema@.partner_grade_history
            (tenant_id, partner_id, from_grade_id, to_grade_id, reason, session_role, acting_role)
        VALUES (NEW.tenant_id, NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.grade_id END, NEW.grade_id, why, session_user, acting);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.record_partner_history() IS
    'AFTER trigger on partner: appends state and grade changes to their history tables';
CREATE TRIGGER history AFTER INSERT OR UPDATE OF state, grade_id ON @extschema@.partner
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_partner_history();

-- state_changed_at follows the state
CREATE FUNCTION @extschema@.stamp_state_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        NEW.state_changed_at := pg_catalog.now();
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.stamp_state_change() IS 'BEFORE UPDATE trigger: sets state_changed_at when state changes';
CREATE TRIGGER stamp_state_change BEFORE UPDATE OF state ON @extschema@.partner
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_state_change();

CREATE FUNCTION @extschema@.set_partner_state(partner_id bigint, new_state text, reason text)
    RETURNS @extschema@.partner
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result @extschema@.partner;
BEGIN
    PERFORM pg_catalog.set_config('rebate.change_reason', coalesce(reason, ''), true);
    UPDATE @extschema@.partner p SET state = new_state WHERE p.id = partner_id RETURNING p.* INTO result;
    PERFORM pg_catalog.set_config('rebate.change_reason', '', true);
    IF result.id IS NULL THEN
        RAISE EXCEPTION 'partner % does not exist or is not visible to you', partner_id
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.set_partner_state(bigint, text, text) IS
    'Moves a partner along its lifecycle, recording why (the history keeps who and when)';

CREATE FUNCTION @extschema@.set_partner_grade(partner_id bigint, grade_code text, reason text)
    RETURNS @extschema@.partner
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result @extschema@.partner;
    grade  bigint;
BEGIN
    SELECT g.id INTO grade FROM @extschema@.partner_grade g JOIN @extschema@.partner p ON p.tenant_id = g.tenant_id
     WHERE p.id = partner_id AND g.code = grade_code;
    IF grade IS NULL THEN
        RAISE EXCEPTION 'grade "%" is not defined for the tenant of partner %', grade_code, partner_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.set_config('rebate.change_reason', coalesce(reason, ''), true);
    UPDATE @extschema@.partner p SET grade_id = grade WHERE p.id = partner_id RETURNING p.* INTO result;
    PERFORM pg_catalog.set_config('rebate.change_reason', '', true);
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.set_partner_grade(bigint, text, text) IS
    'Upgrades or downgrades a partner to the grade with this code, recording why';

CREATE TABLE @extschema@.partner_territory (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id  bigint NOT NULL,
    region_id   bigint NOT NULL,
    valid       daterange NOT NULL DEFAULT daterange(CURRENT_DATE, NULL) CHECK (NOT isempty(valid)),
    exclusive   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    -- one authorisation per partner and region at a time (ids as one-point ranges: no btree_gist needed)
    EXCLUDE USING gist (int8range(partner_id, partner_id, '[]') WITH =,
                        int8range(region_id, region_id, '[]') WITH =,
                        valid WITH &&)
);
COMMENT ON TABLE @extschema@.partner_territory IS
    'Regions a partner is authorised to sell into (the region and everything under it), for a validity period';
COMMENT ON COLUMN @extschema@.partner_territory.valid IS 'Validity period [from, to); periods of one partner and region never overlap';
COMMENT ON COLUMN @extschema@.partner_territory.exclusive IS 'Whether the partner is the only one authorised there (独家)';
-- ---------------------------------------------------------------------------
-- Products, their categories and sales regions, and price policies.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.product_category (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code        text NOT NULL CHECK (btrim(code) <> ''),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    parent_id   bigint,
    path        bigint[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES @extschema@.product_category (tenant_id, id),
    CHECK (parent_id IS DISTINCT FROM id)
);
COMMENT ON TABLE @extschema@.product_category IS 'Product categories as a tree; everything under category X is  path @> ARRAY[X]';
COMMENT ON COLUMN @extschema@.product_category.path IS 'Ids from the root category down to this one (maintained); GIN-indexed';
SELECT @extschema@.apply_tree_triggers('@extschema@.product_category');

CREATE TABLE @extschema@.product (
    id             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id      bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    sku            text NOT NULL CHECK (btrim(sku) <> ''),
    name           text NOT NULL CHECK (btrim(name) <> ''),
    category_id    bigint NOT NULL,
    unit           text NOT NULL DEFAULT '件' CHECK (btrim(unit) <> ''),
    list_price     numeric(18,4) NOT NULL CHECK (list_price >= 0),
    standard_cost  numeric(18,4) CHECK (standard_cost >= 0),
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, sku),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, category_id) REFERENCES @extschema@.product_category (tenant_id, id)
);
CREATE INDEX product_category_idx ON @extschema@.product (tenant_id, category_id);
COMMENT ON TABLE @extschema@.product IS 'Products (SKUs) with list price and standard cost; partner users do not see the cost';
COMMENT ON COLUMN @extschema@.product.sku IS 'The SKU: the product''s business code, unique per tenant';
COMMENT ON COLUMN @extschema@.product.list_price IS 'List price (指导价) per unit, before any price policy';
COMMENT ON COLUMN @extschema@.product.standard_cost IS 'Standard cost per unit (for margins); hidden from partner users';

CREATE TABLE @extschema@.product_region (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    product_id  bigint NOT NULL,
    region_id   bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, product_id, region_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id)
);
COMMENT ON TABLE @extschema@.product_region IS
    'Where a product may be sold: the region and everything under it. A product without rows may be sold everywhere';

-- Price policies (价格政策): what a partner pays, and the floor it may not go
-- below, for a product or a whole category, a partner grade (or any), a
-- region subtree (or everywhere), a validity period, from a quantity on.
CREATE TABLE @extschema@.price_policy (
    id             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id      bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code           text NOT NULL CHECK (btrim(code) <> ''),
    name           text,
    product_id     bigint,
    category_id    bigint,
    grade_id       bigint,
    region_id      bigint,
    promotion      boolean NOT NULL DEFAULT false,
    min_quantity   numeric(18,4) NOT NULL DEFAULT 0 CHECK (min_quantity >= 0),
    price          numeric(18,4) CHECK (price >= 0),
    price_percent  numeric(7,4) CHECK (price_percent > 0 AND price_percent <= 100),
    floor_price    numeric(18,4) CHECK (floor_price >= 0),
    floor_percent  numeric(7,4) CHECK (floor_percent > 0 AND floor_percent <= 100),
    valid          daterange NOT NULL CHECK (NOT isempty(valid)),
    kind           text GENERATED ALWAYS AS (
                       CASE WHEN promotion THEN 'promotion'
                            WHEN grade_id IS NOT NULL AND region_id IS NOT NULL THEN 'grade_regional'
                            WHEN grade_id IS NOT NULL THEN 'grade'
                            WHEN region_id IS NOT NULL THEN 'regional'
                            ELSE 'base' END) STORED,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id),
    FOREIGN KEY (tenant_id, category_id) REFERENCES @extschema@.product_category (tenant_id, id),
    FOREIGN KEY (tenant_id, grade_id) REFERENCES @extschema@.partner_grade (tenant_id, id),
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    CONSTRAINT price_policy_one_target CHECK (num_nonnulls(product_id, category_id) = 1),
    CONSTRAINT price_policy_one_price CHECK (num_nonnulls(price, price_percent) = 1),
    CONSTRAINT price_policy_at_most_one_floor CHECK (num_nonnulls(floor_price, floor_percent) <= 1),
    CONSTRAINT price_policy_floor_below_price CHECK (floor_price IS NULL OR price IS NULL OR floor_price <= price),
    -- one policy per scope at a time (ids as one-point ranges, 0 for "any": no btree_gist needed)
    CONSTRAINT price_policy_no_overlap EXCLUDE USING gist (
        int8range(tenant_id, tenant_id, '[]') WITH =,
        int8range(coalesce(product_id, 0), coalesce(product_id, 0), '[]') WITH =,
        int8range(coalesce(category_id, 0), coalesce(category_id, 0), '[]') WITH =,
        int8range(coalesce(grade_id, 0), coalesce(grade_id, 0), '[]') WITH =,
        int8range(coalesce(region_id, 0), coalesce(region_id, 0), '[]') WITH =,
        int4range(promotion::int, promotion::int, '[]') WITH =,
        numrange(min_quantity, min_quantity, '[]') WITH =,
        valid WITH &&)
);
COMMENT ON TABLE @extschema@.price_policy IS
    'Prices partners pay and floors they may not undercut, by product or category, grade, region subtree, period and quantity break; rebate.effective_price picks the one that applies';
COMMENT ON COLUMN @extschema@.price_policy.price IS 'Unit price; or else price_percent of the list price';
COMMENT ON COLUMN @extschema@.price_policy.price_percent IS 'Unit price as a percentage of the product''s list price (for category policies)';
COMMENT ON COLUMN @extschema@.price_policy.floor_price IS 'Lowest unit price a partner may sell or be invoiced at (价格底线); or floor_percent of list price';
COMMENT ON COLUMN @extschema@.price_policy.min_quantity IS 'Quantity break: applies to order lines of at least this quantity';
COMMENT ON COLUMN @extschema@.price_policy.kind IS 'base, grade, regional, grade_regional or promotion (derived)';
COMMENT ON COLUMN @extschema@.price_policy.valid IS 'Validity period [from, to); policies of one scope never overlap';

-- The policy that applies.  Candidates: the product's own policies and those
-- of its category and every category above it; for the partner's grade or
-- any grade; for a region containing the sale's region, or everywhere; valid
-- on the date; for a quantity break the quantity reaches.  The most specific
-- wins, in this order: a promotion over a regular price; a product over a
-- category, a deeper category over a shallower one; a deeper region over a
-- shallower one (everywhere is shallowest); a grade-specific policy over one
-- for any grade; the higher quantity break; then the later start, the higher id.
CREATE FUNCTION @extschema@.effective_price(product_id bigint, partner_id bigint, region_id bigint,
                                            on_date date DEFAULT CURRENT_DATE, quantity numeric DEFAULT 1)
    RETURNS @extschema@.price_policy
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pp.*
      FROM @extschema@.product p
      JOIN @extschema@.product_category c ON c.id = p.category_id
      JOIN @extschema@.partner pa ON pa.id = effective_price.partner_id AND pa.tenant_id = p.tenant_id
      LEFT JOIN @extschema@.region sale_region ON sale_region.id = effective_price.region_id
                                              AND sale_region.tenant_id = p.tenant_id
      JOIN @extschema@.price_policy pp
        ON pp.tenant_id = p.tenant_id
       AND (pp.product_id = p.id OR pp.category_id = ANY (c.path))
       AND (pp.grade_id IS NULL OR pp.grade_id = pa.grade_id)
       AND (pp.region_id IS NULL OR pp.region_id = ANY (sale_region.path))
       AND pp.valid @> effective_price.on_date
       AND pp.min_quantity <= effective_price.quantity
      LEFT JOIN @extschema@.region policy_region ON policy_region.id = pp.region_id
     WHERE p.id = effective_price.product_id
     ORDER BY pp.promotion DESC,
              (pp.product_id IS NOT NULL) DESC,
              coalesce(array_position(c.path, pp.category_id), 0) DESC,
              coalesce(cardinality(policy_region.path), 0) DESC,
              (pp.grade_id IS NOT NULL) DESC,
              pp.min_quantity DESC,
              lower(pp.valid) DESC NULLS LAST,
              pp.id DESC
     LIMIT 1
$$;
COMMENT ON FUNCTION @extschema@.effective_price(bigint, bigint, bigint, date, numeric) IS
    'The price policy that applies to a product sold to a partner in a region on a date in a quantity: promotion, then product over category (deeper first), deeper region, grade-specific, higher quantity break';

-- What a policy means for one product: its unit price and floor in money.
CREATE FUNCTION @extschema@.policy_unit_price(policy @extschema@.price_policy, product_id bigint,
                                              OUT unit_price numeric, OUT floor_price numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(policy.price, pg_catalog.round(p.list_price * policy.price_percent / 100, 4)),
           coalesce(policy.floor_price, pg_catalog.round(p.list_price * policy.floor_percent / 100, 4))
      FROM @extschema@.product p
     WHERE p.id = policy_unit_price.product_id
$$;
COMMENT ON FUNCTION @extschema@.policy_unit_price(@extschema@.price_policy, bigint) IS
    'The unit price and floor a policy gives a product: its price, or its percentage of the list price rounded to 4 places';
-- ---------------------------------------------------------------------------
-- Orders (and returns), their lines and status history; payments collected
-- (回款) and their allocation to orders; targets.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.sales_order (
    id                  bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id           bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code                text NOT NULL CHECK (btrim(code) <> ''),
    partner_id          bigint NOT NULL,
    kind                text NOT NULL DEFAULT 'order' CHECK (kind IN ('order', 'return', 'credit_note')),
    original_order_id   bigint,
    ship_to_region_id   bigint NOT NULL,
    order_date          date NOT NULL DEFAULT CURRENT_DATE,
    status              text NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'submitted', 'approved', 'shipped', 'delivered', 'closed',
                                          'cancelled', 'on_hold')),
    currency            text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    note                text,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, id, partner_id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, ship_to_region_id) REFERENCES @extschema@.region (tenant_id, id),
    FOREIGN KEY (tenant_id, original_order_id, partner_id) REFERENCES @extschema@.sales_order (tenant_id, id, partner_id),
    CONSTRAINT sales_order_only_returns_refer CHECK (kind <> 'order' OR original_order_id IS NULL)
);
CREATE INDEX sales_order_partner_date ON @extschema@.sales_order (tenant_id, partner_id, order_date);
COMMENT ON TABLE @extschema@.sales_order IS
    'Orders placed by partners; returns (kind = return: goods come back) and credit notes (kind = credit_note: a price reduction, no goods), usually referring to the original order, whose lines reduce the rebate basis';
COMMENT ON COLUMN @extschema@.sales_order.status IS
    'draft -> submitted -> approved -> shipped -> delivered -> closed; cancelled before shipping; on_hold for review from submitted or approved';
COMMENT ON COLUMN @extschema@.sales_order.original_order_id IS 'For a return or credit note: the order it corrects (same partner)';

-- New orders may start in any status (history is imported as it is; partner
-- users may only create drafts and submitted orders, see the policies).
CREATE TRIGGER lifecycle BEFORE UPDATE OF status ON @extschema@.sales_order
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition(
        'status', 'draft>submitted', 'submitted>approved', 'approved>shipped',
        'shipped>delivered', 'delivered>closed', 'draft>cancelled', 'submitted>cancelled', 'approved>cancelled',
        'submitted>on_hold', 'approved>on_hold', 'on_hold>submitted', 'on_hold>approved', 'on_hold>cancelled');

CREATE TABLE @extschema@.order_status_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL REFERENCES @extschema@.tenant,
    order_id     bigint NOT NULL,
    partner_id   bigint NOT NULL,
    from_status  text,
    to_status    text NOT NULL,
    reason       text,
    changed_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    session_role name NOT NULL,
    acting_role  name NOT NULL,
    FOREIGN KEY (tenant_id, order_id, partner_id) REFERENCES @extschema@.sales_order (tenant_id, id, partner_id) ON DELETE CASCADE
);
CREATE INDEX order_status_history_order ON @extschema@.order_status_history (tenant_id, order_id, changed_at);
COMMENT ON TABLE @extschema@.order_status_history IS 'Every status change of every order: from, to, why, who, when';

CREATE FUNCTION @extschema@.record_order_history() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'sales_order' THEN
        RAISE EXCEPTION 'record_order_history only serves rebate.sales_order' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO @extschema@.order_status_history
            (tenant_id, order_id, partner_id, from_status, to_status, reason, session_role, acting_role)
        VALUES (NEW.tenant_id, NEW.id, NEW.partner_id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status,
                nullif(current_setting('rebate.change_reason', true), ''), session_user,
                @extschema@.acting_role());
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.record_order_history() IS 'AFTER trigger on sales_order: appends status changes to order_status_history';
CREATE TRIGGER history AFTER INSERT OR UPDATE OF status ON @extschema@.sales_order
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_order_history();

CREATE FUNCTION @extschema@.set_order_status(order_id bigint, new_status text, reason text DEFAULT NULL)
    RETURNS @extschema@.sales_order
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result @extschema@.sales_order;
BEGIN
    PERFORM pg_catalog.set_config('rebate.change_reason', coalesce(reason, ''), true);
    UPDATE @extschema@.sales_order o SET status = new_status WHERE o.id = order_id RETURNING o.* INTO result;
    PERFORM pg_catalog.set_config('rebate.change_reason', '', true);
    IF result.id IS NULL THEN
        RAISE EXCEPTION 'order % does not exist or is not visible to you', order_id USING ERRCODE = 'no_data_found';
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.set_order_status(bigint, text, text) IS 'Moves an order along its lifecycle, recording why';

CREATE TABLE @extschema@.order_line (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    order_id     bigint NOT NULL,
    partner_id   bigint NOT NULL,
    line_no      integer NOT NULL CHECK (line_no > 0),
    product_id   bigint NOT NULL,
    quantity     numeric(18,4) NOT NULL CHECK (quantity > 0),
    unit_price   numeric(18,4) NOT NULL CHECK (unit_price >= 0),
    unit_cost    numeric(18,4) CHECK (unit_cost >= 0),
    amount       numeric(20,4) GENERATED ALWAYS AS (quantity * unit_price) STORED,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, order_id, line_no),
    FOREIGN KEY (tenant_id, order_id, partner_id) REFERENCES @extschema@.sales_order (tenant_id, id, partner_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id)
);
CREATE INDEX order_line_product ON @extschema@.order_line (tenant_id, product_id);
COMMENT ON TABLE @extschema@.order_line IS
    'Order lines: quantity, unit price and unit cost at the time; amount = quantity x unit price. Lines of returns are positive and count negative in rebate.sales_fact';
COMMENT ON COLUMN @extschema@.order_line.partner_id IS 'The order''s partner (filled in from the order; kept for row-level security)';
COMMENT ON COLUMN @extschema@.order_line.unit_cost IS 'Cost per unit when the order was placed (defaults to the product''s standard cost)';

-- partner_id and unit_cost come from the order and the product when not given
CREATE FUNCTION @extschema@.fill_order_line() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'order_line' THEN
        RAISE EXCEPTION 'fill_order_line only serves rebate.order_line' USING ERRCODE = 'insufficient_privilege';
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
COMMENT ON FUNCTION @extschema@.fill_order_line() IS
    'BEFORE INSERT trigger on order_line: takes partner_id from the order and unit_cost from the product when not given';
CREATE TRIGGER fill BEFORE INSERT ON @extschema@.order_line
    FOR EACH ROW EXECUTE FUNCTION @extschema@.fill_order_line();

-- Sales as facts, signed: returns count negative.  The rebate basis of later versions reads this.
CREATE VIEW @extschema@.sales_fact WITH (security_invoker = true) AS
SELECT l.tenant_id,
       o.partner_id,
       o.id AS order_id,
       l.id AS order_line_id,
       o.kind,
       o.status,
       o.order_date,
       o.ship_to_region_id AS region_id,
       l.product_id,
       CASE o.kind WHEN 'return' THEN -l.quantity WHEN 'credit_note' THEN 0 ELSE l.quantity END AS quantity,
       CASE WHEN o.kind = 'order' THEN l.amount ELSE -l.amount END AS amount,
       CASE o.kind WHEN 'return' THEN -l.quantity WHEN 'credit_note' THEN 0 ELSE l.quantity END * l.unit_cost AS cost
  FROM @extschema@.order_line l
  JOIN @extschema@.sales_order o ON o.id = l.order_id AND o.tenant_id = l.tenant_id
 WHERE o.status NOT IN ('cancelled', 'draft');
COMMENT ON VIEW @extschema@.sales_fact IS
    'One row per order line of a non-draft, non-cancelled order; returns and credit notes negative';
COMMENT ON COLUMN @extschema@.sales_fact.quantity IS 'Quantity; negative for returns, 0 for credit notes (no goods move)';
COMMENT ON COLUMN @extschema@.sales_fact.amount IS 'quantity x unit price; negative for returns and credit notes';
COMMENT ON COLUMN @extschema@.sales_fact.cost IS 'quantity x unit cost at the time; negative for returns, 0 for credit notes';

CREATE TABLE @extschema@.payment (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code         text NOT NULL CHECK (btrim(code) <> ''),
    partner_id   bigint NOT NULL,
    received_on  date NOT NULL DEFAULT CURRENT_DATE,
    amount       numeric(18,2) NOT NULL CHECK (amount > 0),
    currency     text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    method       text NOT NULL DEFAULT 'bank_transfer'
                 CHECK (method IN ('bank_transfer', 'acceptance_bill', 'cash', 'offset', 'other')),
    reference    text,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, id, partner_id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id)
);
CREATE INDEX payment_partner_date ON @extschema@.payment (tenant_id, partner_id, received_on);
COMMENT ON TABLE @extschema@.payment IS 'Money collected from partners (回款); acceptance_bill is a bank acceptance (承兑汇票), offset a rebate offset';

CREATE TABLE @extschema@.payment_allocation (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    payment_id   bigint NOT NULL,
    order_id     bigint NOT NULL,
    partner_id   bigint NOT NULL,
    amount       numeric(18,2) NOT NULL CHECK (amount > 0),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, payment_id, order_id),
    FOREIGN KEY (tenant_id, payment_id, partner_id) REFERENCES @extschema@.payment (tenant_id, id, partner_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, order_id, partner_id) REFERENCES @extschema@.sales_order (tenant_id, id, partner_id)
);
COMMENT ON TABLE @extschema@.payment_allocation IS
    'Which orders a payment pays for (same partner); allocations of a payment never exceed it';

CREATE FUNCTION @extschema@.check_payment_allocation() RETURNS trigger
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
    -- lock the payment so that concurrent allocations are checked one after the other
    SELECT p.amount INTO paid FROM @extschema@.payment p WHERE p.id = NEW.payment_id FOR UPDATE;
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
COMMENT ON FUNCTION @extschema@.check_payment_allocation() IS
    'BEFORE trigger on payment_allocation: the allocations of a payment never exceed its amount';
CREATE TRIGGER within_payment BEFORE INSERT OR UPDATE ON @extschema@.payment_allocation
    FOR EACH ROW EXECUTE FUNCTION @extschema@.check_payment_allocation();

CREATE TABLE @extschema@.target (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id   bigint,
    region_id    bigint,
    metric       text NOT NULL CHECK (metric IN ('sales_amount', 'quantity', 'collected_amount', 'new_customers')),
    period       daterange NOT NULL CHECK (NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period)),
    value        numeric(20,4) NOT NULL CHECK (value >= 0),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    CONSTRAINT target_one_subject CHECK (num_nonnulls(partner_id, region_id) = 1),
    CONSTRAINT target_no_overlap EXCLUDE USING gist (
        int8range(tenant_id, tenant_id, '[]') WITH =,
        int8range(coalesce(partner_id, 0), coalesce(partner_id, 0), '[]') WITH =,
        int8range(coalesce(region_id, 0), coalesce(region_id, 0), '[]') WITH =,
        int4range(CASE metric WHEN 'sales_amount' THEN 1 WHEN 'quantity' THEN 2
                              WHEN 'collected_amount' THEN 3 ELSE 4 END,
                  CASE metric WHEN 'sales_amount' THEN 1 WHEN 'quantity' THEN 2
                              WHEN 'collected_amount' THEN 3 ELSE 4 END, '[]') WITH =,
        period WITH &&)
);
COMMENT ON TABLE @extschema@.target IS
    'Targets per partner (or region), metric and period, which overachievement rebates and scoring measure against; periods of one subject and metric never overlap';
COMMENT ON COLUMN @extschema@.target.period IS 'The period [from, to), e.g. [2026-01-01, 2026-04-01) for Q1';
-- ---------------------------------------------------------------------------
-- Bindings of login roles to tenants and partners, and what each group role
-- may do.  Keep this file after every table it grants on.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.access_binding (
    role        regrole PRIMARY KEY,
    tenant_id   bigint NOT NULL REFERENCES @extschema@.tenant ON DELETE CASCADE,
    partner_id  bigint,
    granted_by  name NOT NULL DEFAULT session_user,
    granted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE @extschema@.access_binding IS
    'Which tenant (and partner) each login role acts for; written only by rebate.grant_access and rebate.revoke_access';
REVOKE ALL ON @extschema@.access_binding FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.access_binding', '');
-- every role reads its own binding (the session functions need it), group admins all of them
ALTER TABLE @extschema@.access_binding ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_binding ON @extschema@.access_binding FOR SELECT
    USING (role = @extschema@.current_role_oid() OR (SELECT @extschema@.is_group_admin()));

-- Revoke a role's direct memberships in rebate_manager / rebate_partner.
CREATE FUNCTION @extschema@.drop_group_memberships(member oid) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g name;
BEGIN
    FOR g IN SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
              WHERE m.member = drop_group_memberships.member
                AND r.rolname IN ('rebate_manager', 'rebate_partner') LOOP
        EXECUTE format('REVOKE %I FROM %I', g, (SELECT r.rolname FROM pg_roles r WHERE r.oid = drop_group_memberships.member));
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.drop_group_memberships(oid) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.drop_group_memberships(oid) IS
    'Internal: revokes a role''s direct memberships in rebate_manager and rebate_partner (used by grant_access and revoke_access)';

-- Whether a role is a manager bound to this tenant (for the binding functions).
CREATE FUNCTION @extschema@.manages_tenant(role_name name, tenant bigint) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.pg_has_role(role_name, 'rebate_manager', 'MEMBER')
       AND b.tenant_id OPERATOR(pg_catalog.=) tenant AND b.partner_id IS NULL
      FROM @extschema@.binding_of(role_name) AS b
$$;
COMMENT ON FUNCTION @extschema@.manages_tenant(name, bigint) IS
    'Whether a role is a manager (rebate_manager) bound to the tenant, without a partner';

-- Group admins bind anyone; a tenant's manager binds partner users of its own
-- tenant.  The role also becomes a member of the matching group role
-- (rebate_manager or rebate_partner).  SECURITY DEFINER because ordinary
-- roles cannot write the binding table or grant group roles; every argument
-- is checked so that nothing here lends more than the caller already has.
CREATE FUNCTION @extschema@.grant_access(role regrole, tenant_id bigint, partner_id bigint DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting   name := @extschema@.acting_role();
    target   pg_catalog.pg_roles%ROWTYPE;
    as_admin boolean;
    group_role text := CASE WHEN partner_id IS NULL THEN 'rebate_manager' ELSE 'rebate_partner' END;
BEGIN
    as_admin := pg_has_role(acting, 'rebate_admin', 'MEMBER');
    IF NOT as_admin THEN
        IF partner_id IS NULL
           OR NOT @extschema@.manages_tenant(acting, grant_access.tenant_id) THEN
            RAISE EXCEPTION 'permission denied to grant access to tenant %', tenant_id
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Group administrators (rebate_admin) bind managers and partner users; a tenant''s managers bind partner users of their own tenant.';
        END IF;
    END IF;
    SELECT * INTO target FROM pg_roles r WHERE r.oid = role;
    IF target.rolsuper OR target.rolcreaterole OR target.rolbypassrls OR target.rolreplication
       OR target.rolname IN ('rebate_admin', 'rebate_manager', 'rebate_partner')
       OR target.rolname = acting OR target.rolname LIKE 'pg\_%' THEN
        RAISE EXCEPTION 'role % cannot be bound to a tenant', role
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Superusers, roles that create roles or bypass row-level security, built-in roles, the rebate group roles and the caller itself are never bound.';
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
    VALUES (role, tenant_id, partner_id, acting)
    ON CONFLICT ON CONSTRAINT access_binding_pkey DO UPDATE
        SET tenant_id = excluded.tenant_id, partner_id = excluded.partner_id,
            granted_by = excluded.granted_by, granted_at = pg_catalog.now();
    PERFORM @extschema@.drop_group_memberships(target.oid);
    EXECUTE format('GRANT %I TO %I', group_role, target.rolname);
END
$$;
COMMENT ON FUNCTION @extschema@.grant_access(regrole, bigint, bigint) IS
    'Binds a login role to a tenant (as its manager) or to a partner of it (as a partner user), and grants the matching group role';
REVOKE ALL ON FUNCTION @extschema@.grant_access(regrole, bigint, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.revoke_access(role regrole) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting  name := @extschema@.acting_role();
    binding @extschema@.access_binding%ROWTYPE;
BEGIN
    SELECT * INTO binding FROM @extschema@.access_binding b WHERE b.role = revoke_access.role;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF NOT pg_has_role(acting, 'rebate_admin', 'MEMBER')
       AND NOT (binding.partner_id IS NOT NULL AND @extschema@.manages_tenant(acting, binding.tenant_id)) THEN
        RAISE EXCEPTION 'permission denied to revoke access of role %', role
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM @extschema@.access_binding b WHERE b.role = revoke_access.role;
    PERFORM @extschema@.drop_group_memberships(role);
END
$$;
COMMENT ON FUNCTION @extschema@.revoke_access(regrole) IS
    'Removes a login role''s binding and its rebate group role membership';
REVOKE ALL ON FUNCTION @extschema@.revoke_access(regrole) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION @extschema@.grant_access(regrole, bigint, bigint),
                          @extschema@.revoke_access(regrole)
    TO rebate_admin, rebate_manager;

-- Standard triggers, pg_dump registration and row-level security, table by table.
-- (one statement each: pg_extension_config_dump updates the same catalog row every time)
SELECT @extschema@.apply_standard_triggers('@extschema@.tenant');
SELECT @extschema@.apply_standard_triggers('@extschema@.region');
SELECT @extschema@.apply_standard_triggers('@extschema@.partner_grade');
SELECT @extschema@.apply_standard_triggers('@extschema@.partner');
SELECT @extschema@.apply_standard_triggers('@extschema@.partner_territory');
SELECT @extschema@.apply_standard_triggers('@extschema@.product_category');
SELECT @extschema@.apply_standard_triggers('@extschema@.product');
SELECT @extschema@.apply_standard_triggers('@extschema@.product_region');
SELECT @extschema@.apply_standard_triggers('@extschema@.price_policy');
SELECT @extschema@.apply_standard_triggers('@extschema@.sales_order');
SELECT @extschema@.apply_standard_triggers('@extschema@.order_line');
SELECT @extschema@.apply_standard_triggers('@extschema@.payment');
SELECT @extschema@.apply_standard_triggers('@extschema@.payment_allocation');
SELECT @extschema@.apply_standard_triggers('@extschema@.target');
SELECT @extschema@.register_for_dump('@extschema@.partner_state_history');
SELECT @extschema@.register_for_dump('@extschema@.partner_grade_history');
SELECT @extschema@.register_for_dump('@extschema@.order_status_history');

SELECT @extschema@.apply_tenant_rls('@extschema@.tenant', 'id');
SELECT @extschema@.apply_tenant_rls('@extschema@.region', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_grade', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner', 'tenant_id', 'id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_territory', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_state_history', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.partner_grade_history', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.product_category', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.product', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.product_region', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.price_policy', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.sales_order', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.order_line', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.order_status_history', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.payment', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.payment_allocation', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.target', 'tenant_id', 'partner_id');

-- Partner users place orders for themselves: new orders (draft or submitted)
-- and their lines, and changes to their own drafts.
CREATE POLICY partner_places_order ON @extschema@.sales_order FOR INSERT
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id())
                AND status IN ('draft', 'submitted'));
CREATE POLICY partner_edits_draft ON @extschema@.sales_order FOR UPDATE
    USING (tenant_id = (SELECT @extschema@.current_tenant_id())
           AND partner_id = (SELECT @extschema@.current_partner_id()) AND status = 'draft')
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id()) AND status IN ('draft', 'submitted'));
CREATE POLICY partner_adds_lines ON @extschema@.order_line FOR INSERT
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id())
                AND EXISTS (SELECT 1 FROM @extschema@.sales_order o
                             WHERE o.id = order_id AND o.status IN ('draft', 'submitted')));

-- Table privileges.  Row-level security then narrows them to the bound tenant/partner.
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.tenant TO rebate_admin;
GRANT SELECT ON @extschema@.tenant TO rebate_manager, rebate_partner;
GRANT SELECT, INSERT, UPDATE, DELETE
   ON @extschema@.region, @extschema@.partner_grade, @extschema@.partner, @extschema@.partner_territory
   TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.region, @extschema@.partner_grade, @extschema@.partner, @extschema@.partner_territory,
                @extschema@.partner_state_history, @extschema@.partner_grade_history, @extschema@.region_settings
   TO rebate_admin, rebate_manager, rebate_partner;
GRANT SELECT, INSERT, UPDATE, DELETE
   ON @extschema@.product_category, @extschema@.product, @extschema@.product_region, @extschema@.price_policy,
      @extschema@.sales_order, @extschema@.order_line, @extschema@.payment, @extschema@.payment_allocation,
      @extschema@.target
   TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.product_category, @extschema@.product_region, @extschema@.price_policy,
                @extschema@.sales_order, @extschema@.order_status_history,
                @extschema@.payment, @extschema@.payment_allocation, @extschema@.target
   TO rebate_admin, rebate_manager, rebate_partner;
GRANT SELECT ON @extschema@.order_line, @extschema@.sales_fact TO rebate_admin, rebate_manager;
-- partner users see their lines, but not the cost at the time (nor, so, sales_fact's cost)
GRANT SELECT (id, tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price, amount,
              created_at, updated_at)
   ON @extschema@.order_line TO rebate_partner;
-- partner users see products but not their cost
GRANT SELECT (id, tenant_id, sku, name, category_id, unit, list_price, active, created_at, updated_at)
   ON @extschema@.product TO rebate_partner;
GRANT INSERT (tenant_id, code, partner_id, kind, original_order_id, ship_to_region_id, order_date, status, currency, note),
      UPDATE (ship_to_region_id, order_date, status, currency, note)
   ON @extschema@.sales_order TO rebate_partner;
GRANT INSERT (tenant_id, order_id, partner_id, line_no, product_id, quantity, unit_price)
   ON @extschema@.order_line TO rebate_partner;
GRANT SELECT ON @extschema@.audit_log TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.access_binding TO rebate_admin, rebate_manager, rebate_partner;
-- ---------------------------------------------------------------------------
-- Policy enforcement (0.3.0): price floors and ceilings, territories and
-- product authorisation (窜货), credit limits and order state rules, held by
-- C triggers on every write; the violations they record and their review.
-- ---------------------------------------------------------------------------

-- Per-tenant choices.  Every mode is reject (the write fails), review (the
-- write is accepted, a violation is recorded and the order waits on_hold) or
-- allow (not checked).  Each tenant has exactly one row, made with the tenant.
CREATE TABLE @extschema@.enforcement_setting (
    id                bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
    tenant_id         bigint PRIMARY KEY DEFAULT @extschema@.current_tenant_id()
                      REFERENCES @extschema@.tenant ON DELETE CASCADE,
    no_price_policy   text NOT NULL DEFAULT 'allow' CHECK (no_price_policy IN ('reject', 'review', 'allow')),
    territory         text NOT NULL DEFAULT 'reject' CHECK (territory IN ('reject', 'review', 'allow')),
    product_region    text NOT NULL DEFAULT 'reject' CHECK (product_region IN ('reject', 'review', 'allow')),
    credit            text NOT NULL DEFAULT 'review' CHECK (credit IN ('reject', 'review', 'allow')),
    credit_tolerance  numeric(7,4) NOT NULL DEFAULT 0 CHECK (credit_tolerance >= 0 AND credit_tolerance <= 100),
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.enforcement_setting IS
    'How each tenant enforces its channel policy: reject, review (accept, record, hold the order) or allow, per rule';
COMMENT ON COLUMN @extschema@.enforcement_setting.no_price_policy IS
    'What happens to an order line no price policy applies to (default allow)';
COMMENT ON COLUMN @extschema@.enforcement_setting.territory IS
    'Orders shipped to a region outside every territory of the partner valid on the order date (窜货; default reject)';
COMMENT ON COLUMN @extschema@.enforcement_setting.product_region IS
    'Order lines of a product not authorised for sale in the ship-to region (default reject)';
COMMENT ON COLUMN @extschema@.enforcement_setting.credit IS
    'Orders that would take the partner''s exposure over its credit limit, checked on submit and approve (default review)';
COMMENT ON COLUMN @extschema@.enforcement_setting.credit_tolerance IS
    'Percentage over the credit limit still accepted (5 = up to 105% of the limit)';

INSERT INTO @extschema@.enforcement_setting (tenant_id) SELECT t.id FROM @extschema@.tenant t;

CREATE FUNCTION @extschema@.create_enforcement_setting() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' OR TG_TABLE_NAME <> 'tenant' THEN
        RAISE EXCEPTION 'create_enforcement_setting only serves rebate.tenant' USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO @extschema@.enforcement_setting (tenant_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.create_enforcement_setting() IS
    'AFTER INSERT trigger on tenant: gives the new tenant its enforcement_setting row with the defaults';
CREATE TRIGGER enforcement_setting AFTER INSERT ON @extschema@.tenant
    FOR EACH ROW EXECUTE FUNCTION @extschema@.create_enforcement_setting();

-- Price policies gain a ceiling and an enforcement mode.
ALTER TABLE @extschema@.price_policy
    ADD COLUMN ceiling_price   numeric(18,4) CHECK (ceiling_price >= 0),
    ADD COLUMN ceiling_percent numeric(7,4) CHECK (ceiling_percent > 0),
    ADD COLUMN enforcement     text NOT NULL DEFAULT 'reject' CHECK (enforcement IN ('reject', 'review')),
    ADD CONSTRAINT price_policy_at_most_one_ceiling CHECK (num_nonnulls(ceiling_price, ceiling_percent) <= 1),
    ADD CONSTRAINT price_policy_ceiling_above_floor
        CHECK (ceiling_price IS NULL OR floor_price IS NULL OR ceiling_price >= floor_price);
COMMENT ON COLUMN @extschema@.price_policy.ceiling_price IS
    'Highest unit price a partner may be invoiced at (限价); or ceiling_percent of list price (may exceed 100)';
COMMENT ON COLUMN @extschema@.price_policy.enforcement IS
    'A line outside floor or ceiling is refused (reject) or accepted, recorded and its order held (review)';

-- Every policy of a product (its own, its category's and the categories'
-- above), numbered most specific first in the order documented at
-- rebate.effective_price.  Which of them apply to a sale depends on the
-- partner's grade, the region, the date and the quantity; the first one that
-- applies is the effective one.  (The C triggers cache this list per product.)
CREATE FUNCTION @extschema@.product_price_policies(product_id bigint)
    RETURNS TABLE (precedence bigint, policy @extschema@.price_policy)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.row_number() OVER (
               ORDER BY pp.promotion DESC,
                        (pp.product_id IS NOT NULL) DESC,
                        coalesce(array_position(c.path, pp.category_id), 0) DESC,
                        coalesce(cardinality(policy_region.path), 0) DESC,
                        (pp.grade_id IS NOT NULL) DESC,
                        pp.min_quantity DESC,
                        lower(pp.valid) DESC NULLS LAST,
                        pp.id DESC),
           pp
      FROM @extschema@.product p
      JOIN @extschema@.product_category c ON c.id = p.category_id
      JOIN @extschema@.price_policy pp
        ON pp.tenant_id = p.tenant_id
       AND (pp.product_id = p.id OR pp.category_id = ANY (c.path))
      LEFT JOIN @extschema@.region policy_region ON policy_region.id = pp.region_id
     WHERE p.id = product_price_policies.product_id
$$;
COMMENT ON FUNCTION @extschema@.product_price_policies(bigint) IS
    'Every price policy of a product (its own and its categories''), numbered most specific first';

-- Those that could apply to a sale, quantity breaks aside: the first one
-- whose min_quantity the quantity reaches is the effective one.
CREATE FUNCTION @extschema@.price_policy_candidates(product_id bigint, partner_id bigint, region_id bigint,
                                                    on_date date)
    RETURNS TABLE (precedence bigint, policy @extschema@.price_policy)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.precedence, c.policy
      FROM @extschema@.product_price_policies(price_policy_candidates.product_id) c
      JOIN @extschema@.product p ON p.id = price_policy_candidates.product_id
      JOIN @extschema@.partner pa ON pa.id = price_policy_candidates.partner_id AND pa.tenant_id = p.tenant_id
      LEFT JOIN @extschema@.region sale_region ON sale_region.id = price_policy_candidates.region_id
                                              AND sale_region.tenant_id = p.tenant_id
     WHERE ((c.policy).grade_id IS NULL OR (c.policy).grade_id = pa.grade_id)
       AND ((c.policy).region_id IS NULL OR (c.policy).region_id = ANY (sale_region.path))
       AND (c.policy).valid @> price_policy_candidates.on_date
$$;
COMMENT ON FUNCTION @extschema@.price_policy_candidates(bigint, bigint, bigint, date) IS
    'The price policies that could apply to a product sold to a partner in a region on a date, numbered most specific first (quantity breaks aside)';

CREATE OR REPLACE FUNCTION @extschema@.effective_price(product_id bigint, partner_id bigint, region_id bigint,
                                                       on_date date DEFAULT CURRENT_DATE, quantity numeric DEFAULT 1)
    RETURNS @extschema@.price_policy
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (c.policy).*
      FROM @extschema@.price_policy_candidates(effective_price.product_id, effective_price.partner_id,
                                               effective_price.region_id, effective_price.on_date) c
     WHERE (c.policy).min_quantity <= effective_price.quantity
     ORDER BY c.precedence
     LIMIT 1
$$;

-- What a policy means for one product in money: price, floor and ceiling.
CREATE FUNCTION @extschema@.policy_price_limits(policy @extschema@.price_policy, product_id bigint,
                                                OUT unit_price numeric, OUT floor_price numeric,
                                                OUT ceiling_price numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(policy.price, pg_catalog.round(p.list_price * policy.price_percent / 100, 4)),
           coalesce(policy.floor_price, pg_catalog.round(p.list_price * policy.floor_percent / 100, 4)),
           coalesce(policy.ceiling_price, pg_catalog.round(p.list_price * policy.ceiling_percent / 100, 4))
      FROM @extschema@.product p
     WHERE p.id = policy_price_limits.product_id
$$;
COMMENT ON FUNCTION @extschema@.policy_price_limits(@extschema@.price_policy, bigint) IS
    'The unit price, floor and ceiling a policy gives a product: its amounts, or its percentages of the list price rounded to 4 places';

CREATE OR REPLACE FUNCTION @extschema@.policy_unit_price(policy @extschema@.price_policy, product_id bigint,
                                                         OUT unit_price numeric, OUT floor_price numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.unit_price, l.floor_price FROM @extschema@.policy_price_limits(policy, product_id) l
$$;

-- Territory and product authorisation, through the region tree: a territory
-- or product region covers itself and every region below it.
CREATE FUNCTION @extschema@.in_territory(partner_id bigint, region_id bigint, on_date date)
    RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1
                     FROM @extschema@.region r
                     JOIN @extschema@.partner_territory t
                       ON t.tenant_id = r.tenant_id AND t.region_id = ANY (r.path)
                    WHERE r.id = in_territory.region_id
                      AND t.partner_id = in_territory.partner_id
                      AND t.valid @> in_territory.on_date)
$$;
COMMENT ON FUNCTION @extschema@.in_territory(bigint, bigint, date) IS
    'Whether the region lies inside a territory of the partner valid on the date (a territory covers its whole subtree)';

CREATE FUNCTION @extschema@.product_authorised(product_id bigint, region_id bigint)
    RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT NOT EXISTS (SELECT 1 FROM @extschema@.product_region pr WHERE pr.product_id = product_authorised.product_id)
        OR EXISTS (SELECT 1
                     FROM @extschema@.region r
                     JOIN @extschema@.product_region pr
                       ON pr.tenant_id = r.tenant_id AND pr.region_id = ANY (r.path)
                    WHERE r.id = product_authorised.region_id
                      AND pr.product_id = product_authorised.product_id)
$$;
COMMENT ON FUNCTION @extschema@.product_authorised(bigint, bigint) IS
    'Whether the product may be sold in the region: it has no product_region rows, or one covers the region';
CREATE INDEX product_region_product ON @extschema@.product_region (product_id);
CREATE INDEX partner_territory_partner ON @extschema@.partner_territory (partner_id);

-- A partner's credit exposure.  receivable is what shipped goods (returns and
-- credit notes deducted) come to, less every payment received: negative when
-- the partner has paid in advance (先款后货).  open_orders are its submitted,
-- approved and held orders other than the one given; this_order is that one.
CREATE FUNCTION @extschema@.credit_exposure(partner_id bigint, order_id bigint DEFAULT NULL,
                                            OUT credit_limit numeric, OUT receivable numeric,
                                            OUT open_orders numeric, OUT this_order numeric,
                                            OUT exposure numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pa.credit_limit, x.receivable, x.open_orders, x.this_order,
           x.receivable + x.open_orders + x.this_order
      FROM @extschema@.partner pa
     CROSS JOIN LATERAL (
        SELECT coalesce((SELECT sum(CASE WHEN o.kind = 'order' THEN l.amount ELSE -l.amount END)
                           FROM @extschema@.sales_order o
                           JOIN @extschema@.order_line l ON l.order_id = o.id AND l.tenant_id = o.tenant_id
                          WHERE o.tenant_id = pa.tenant_id AND o.partner_id = pa.id
                            AND o.status IN ('shipped', 'delivered', 'closed')), 0)
             - coalesce((SELECT sum(p.amount) FROM @extschema@.payment p
                          WHERE p.tenant_id = pa.tenant_id AND p.partner_id = pa.id), 0) AS receivable,
               coalesce((SELECT sum(l.amount)
                           FROM @extschema@.sales_order o
                           JOIN @extschema@.order_line l ON l.order_id = o.id AND l.tenant_id = o.tenant_id
                          WHERE o.tenant_id = pa.tenant_id AND o.partner_id = pa.id AND o.kind = 'order'
                            AND o.status IN ('submitted', 'approved', 'on_hold')
                            AND o.id IS DISTINCT FROM credit_exposure.order_id), 0) AS open_orders,
               coalesce((SELECT sum(l.amount) FROM @extschema@.order_line l
                          WHERE l.order_id = credit_exposure.order_id AND l.tenant_id = pa.tenant_id), 0) AS this_order
     ) x
     WHERE pa.id = credit_exposure.partner_id
$$;
COMMENT ON FUNCTION @extschema@.credit_exposure(bigint, bigint) IS
    'A partner''s credit limit and exposure: receivable (shipped, net of returns, credit notes and payments) + open orders + the given order';

-- Violations found in review mode, and how they were resolved.
CREATE TABLE @extschema@.policy_violation (
    id               bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id        bigint NOT NULL REFERENCES @extschema@.tenant,
    kind             text NOT NULL CHECK (kind IN ('price_floor', 'price_ceiling', 'no_price_policy',
                                                   'territory', 'product_region', 'credit_limit')),
    source_table     regclass NOT NULL,
    source_id        bigint,
    order_id         bigint,
    partner_id       bigint NOT NULL,
    product_id       bigint,
    region_id        bigint,
    order_date       date,
    quantity         numeric,
    expected         numeric,
    actual           numeric,
    amount           numeric,
    policy_id        bigint,
    message          text NOT NULL,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'approved', 'rejected')),
    detected_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    detected_by      name NOT NULL DEFAULT @extschema@.acting_role(),
    resolved_at      timestamptz,
    resolved_by      name,
    resolution_note  text,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES @extschema@.product (tenant_id, id),
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id),
    CONSTRAINT policy_violation_resolution CHECK ((status = 'open') = (resolved_at IS NULL))
);
CREATE INDEX policy_violation_open_order ON @extschema@.policy_violation (order_id) WHERE status = 'open';
CREATE INDEX policy_violation_order ON @extschema@.policy_violation (order_id, kind);
CREATE INDEX policy_violation_tenant_time ON @extschema@.policy_violation (tenant_id, detected_at);
COMMENT ON TABLE @extschema@.policy_violation IS
    'Every policy breach accepted in review mode: what, where, expected against actual, and how a manager resolved it';
COMMENT ON COLUMN @extschema@.policy_violation.source_table IS
    'The table written: rebate.order_line, rebate.sales_order or an application''s own table';
COMMENT ON COLUMN @extschema@.policy_violation.source_id IS 'The id (key column) of the row written, when known';
COMMENT ON COLUMN @extschema@.policy_violation.order_id IS 'The rebate.sales_order concerned, for violations on rebate''s own tables';
COMMENT ON COLUMN @extschema@.policy_violation.expected IS
    'The limit: floor or ceiling unit price; the credit limit with its tolerance; NULL for territory and product region';
COMMENT ON COLUMN @extschema@.policy_violation.actual IS 'The value judged: the unit price; the exposure';
COMMENT ON COLUMN @extschema@.policy_violation.amount IS 'Money at stake: the line amount; for credit, the order amount';
COMMENT ON COLUMN @extschema@.policy_violation.policy_id IS 'The price policy whose floor or ceiling was crossed';
COMMENT ON COLUMN @extschema@.policy_violation.message IS 'The message a reject would have raised';

-- The C trigger functions (src/price_policy.c, region_policy.c, order_policy.c).
CREATE FUNCTION @extschema@.enforce_price_policy() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rebate_enforce_price_policy' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.enforce_price_policy() IS
    'BEFORE INSERT OR UPDATE row trigger: the unit price must lie within the floor and ceiling of the effective price policy. On rebate.order_line without arguments; on other tables with arguments field=column';
CREATE FUNCTION @extschema@.enforce_region_policy() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rebate_enforce_region_policy' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.enforce_region_policy() IS
    'BEFORE INSERT OR UPDATE row trigger: the product must be authorised in the ship-to region and (on other tables than rebate.order_line) the region inside a territory of the partner';
CREATE FUNCTION @extschema@.enforce_order_policy() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rebate_enforce_order_policy' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.enforce_order_policy() IS
    'BEFORE INSERT OR UPDATE row trigger on rebate.sales_order: active partner, territory, locked shipped orders, holds, credit limit';
CREATE FUNCTION @extschema@.enforce_order_line_state() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rebate_enforce_order_line_state' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.enforce_order_line_state() IS
    'BEFORE INSERT OR UPDATE OR DELETE row trigger on rebate.order_line: lines of shipped, delivered, closed and cancelled orders do not change; lines added to submitted orders are credit-checked';
CREATE FUNCTION @extschema@.policy_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rebate_policy_changed' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.policy_changed() IS
    'AFTER statement trigger on the policy tables: tells every session to drop what its enforcement triggers cached';

-- BEFORE triggers fire in name order: these come after "fill" (which sets the
-- line's partner) and "lifecycle" (which judges the status change).
CREATE TRIGGER policy BEFORE INSERT OR UPDATE ON @extschema@.sales_order
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_order_policy();
CREATE TRIGGER policy_order_state BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.order_line
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_order_line_state();
CREATE TRIGGER policy_price BEFORE INSERT OR UPDATE ON @extschema@.order_line
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_price_policy();
CREATE TRIGGER policy_region BEFORE INSERT OR UPDATE ON @extschema@.order_line
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_region_policy();

-- Every table the triggers' cached facts come from announces its changes.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['enforcement_setting', 'price_policy', 'product', 'product_category', 'product_region',
                             'partner', 'partner_territory', 'region', 'access_binding'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER policy_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I.%I '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_changed()', '@extschema@', t);
    END LOOP;
END
$$;

-- Resolving a violation.  approve: the breach is accepted; the order is
-- released from on_hold (back to where it was held from) once nothing else
-- holds it.  reject: a line-level breach deletes the line (then releases the
-- order likewise); an order-level one cancels the order and closes its other
-- open violations.  SECURITY DEFINER: partner users may not touch violations,
-- managers may not forge a resolution by writing the table; the caller must
-- manage the violation's tenant.
CREATE FUNCTION @extschema@.resolve_violation(violation_id bigint, decision text, note text DEFAULT NULL)
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
    SELECT * INTO v FROM @extschema@.policy_violation pv WHERE pv.id = violation_id FOR UPDATE;
    IF NOT FOUND OR NOT (pg_has_role(acting, 'rebate_admin', 'MEMBER')
                         OR @extschema@.manages_tenant(acting, v.tenant_id)) THEN
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
COMMENT ON FUNCTION @extschema@.resolve_violation(bigint, text, text) IS
    'A manager''s decision on a violation: approve (accept; release the order when nothing else holds it) or reject (delete the line, or cancel the order)';
REVOKE ALL ON FUNCTION @extschema@.resolve_violation(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.resolve_violation(bigint, text, text) TO rebate_admin, rebate_manager;

-- BI: price violations with names, and the money below the floor.
CREATE VIEW @extschema@.v_price_violations WITH (security_invoker = true) AS
SELECT v.id AS violation_id,
       v.tenant_id,
       v.kind,
       v.status,
       v.detected_at,
       v.order_id,
       o.code AS order_code,
       v.source_id AS order_line_id,
       v.order_date,
       v.partner_id,
       pa.code AS partner_code,
       pa.name AS partner_name,
       v.product_id,
       p.sku,
       p.name AS product_name,
       v.region_id,
       r.name AS region_name,
       v.quantity,
       v.actual AS unit_price,
       v.expected AS limit_price,
       v.actual - v.expected AS price_gap,
       (v.actual - v.expected) * v.quantity AS amount_gap,
       v.policy_id,
       pp.code AS policy_code,
       v.resolved_by,
       v.resolved_at,
       v.resolution_note,
       v.source_table
  FROM @extschema@.policy_violation v
  JOIN @extschema@.partner pa ON pa.id = v.partner_id
  LEFT JOIN @extschema@.product p ON p.id = v.product_id
  LEFT JOIN @extschema@.region r ON r.id = v.region_id
  LEFT JOIN @extschema@.price_policy pp ON pp.id = v.policy_id
  LEFT JOIN @extschema@.sales_order o ON o.id = v.order_id
 WHERE v.kind IN ('price_floor', 'price_ceiling', 'no_price_policy');
COMMENT ON VIEW @extschema@.v_price_violations IS
    'Price violations (below floor, above ceiling, no policy) with partner, product, region and policy names; price_gap = unit price - limit';
COMMENT ON COLUMN @extschema@.v_price_violations.price_gap IS 'Unit price minus the floor (negative) or ceiling (positive); NULL without a policy';
COMMENT ON COLUMN @extschema@.v_price_violations.amount_gap IS 'price_gap x quantity: the money below the floor or above the ceiling';

-- BI: 窜货 — sales shipped outside the partner's territories, however they
-- got in (review mode, allow mode, history loaded before enforcement, a
-- territory changed since).  intruded_partner_id: the partner holding an
-- exclusive territory there on that date, whose market was entered.
CREATE VIEW @extschema@.v_cross_territory_sales WITH (security_invoker = true) AS
SELECT o.tenant_id,
       o.id AS order_id,
       o.code AS order_code,
       o.order_date,
       o.status,
       o.partner_id,
       pa.code AS partner_code,
       pa.name AS partner_name,
       o.ship_to_region_id AS region_id,
       r.name AS region_name,
       pa.home_region_id,
       (SELECT sum(l.amount) FROM @extschema@.order_line l
         WHERE l.order_id = o.id AND l.tenant_id = o.tenant_id) AS amount,
       (SELECT t.partner_id FROM @extschema@.partner_territory t
         WHERE t.tenant_id = o.tenant_id AND t.exclusive AND t.partner_id <> o.partner_id
           AND t.region_id = ANY (r.path) AND t.valid @> o.order_date
         ORDER BY pg_catalog.array_position(r.path, t.region_id) DESC LIMIT 1) AS intruded_partner_id,
       (SELECT pv.id FROM @extschema@.policy_violation pv
         WHERE pv.order_id = o.id AND pv.kind = 'territory' ORDER BY pv.id DESC LIMIT 1) AS violation_id,
       (SELECT pv.status FROM @extschema@.policy_violation pv
         WHERE pv.order_id = o.id AND pv.kind = 'territory' ORDER BY pv.id DESC LIMIT 1) AS violation_status
  FROM @extschema@.sales_order o
  JOIN @extschema@.partner pa ON pa.id = o.partner_id
  JOIN @extschema@.region r ON r.id = o.ship_to_region_id
 WHERE o.kind = 'order'
   AND o.status NOT IN ('draft', 'cancelled')
   AND NOT @extschema@.in_territory(o.partner_id, o.ship_to_region_id, o.order_date);
COMMENT ON VIEW @extschema@.v_cross_territory_sales IS
    'Orders (not draft, not cancelled) shipped to a region outside every territory of the partner valid on the order date (窜货)';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.intruded_partner_id IS
    'The partner with an exclusive territory covering the region on that date (the deepest), if any';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.violation_id IS 'The territory violation recorded for the order, if review mode recorded one';

-- Partners may now see a submission held on the spot (on_hold) as the
-- result of their own insert or submit.
ALTER POLICY partner_places_order ON @extschema@.sales_order
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id())
                AND status IN ('draft', 'submitted', 'on_hold'));
ALTER POLICY partner_edits_draft ON @extschema@.sales_order
    USING (tenant_id = (SELECT @extschema@.current_tenant_id())
           AND partner_id = (SELECT @extschema@.current_partner_id()) AND status = 'draft')
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id()) AND status IN ('draft', 'submitted', 'on_hold'));

SELECT @extschema@.apply_standard_triggers('@extschema@.enforcement_setting');
SELECT @extschema@.apply_standard_triggers('@extschema@.policy_violation');
SELECT @extschema@.apply_tenant_rls('@extschema@.enforcement_setting', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.policy_violation', 'tenant_id', 'partner_id');

GRANT SELECT, UPDATE ON @extschema@.enforcement_setting TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.enforcement_setting TO rebate_partner;
GRANT SELECT ON @extschema@.policy_violation, @extschema@.v_price_violations, @extschema@.v_cross_territory_sales
   TO rebate_admin, rebate_manager, rebate_partner;
-- ---------------------------------------------------------------------------
-- Facts about this installation, for DBAs.
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.icu_version() RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_icu_version' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.icu_version() IS 'The ICU version the rebate module runs with';
